//! The digest's routes (`docs/delivery-and-access.md`):
//! `GET /api/deliveries?org_id=&from=&to=&limit=&cursor=` lists the delivery records in pages,
//! `POST /api/orgs/{org_id}/notifications/{id}/test` sends a test digest of the latest stored
//! report to one channel (not recorded as that day's delivery).

use serde_json::json;
use warp::http::StatusCode;
use warp::reply::Response;

use super::errors::org_not_found as not_found_org;
use super::stored::listed;
use super::{date_param, resolve_org};
use crate::app::App;
use crate::daily_report::{report::DailyReport, snapshots};
use crate::delivery::{self, Digest, claims};
use crate::http::error::ApiError;
use crate::http::request::Request;
use crate::http::response::json_response;

/// The default `limit` of `GET /api/deliveries`.
pub const DEFAULT_LIMIT: usize = 100;

/// The largest `limit` of `GET /api/deliveries`.
pub const MAX_LIMIT: usize = 1000;

/// `GET /api/deliveries?org_id=&from=&to=&limit=&cursor=`: 200 with `{org_id, deliveries,
/// next_cursor}`, the records by date then channel id, at most `limit` (1..=[`MAX_LIMIT`],
/// default [`DEFAULT_LIMIT`]); `next_cursor` (`<date>/<channel_id>`, `null` on the last page)
/// passed back as `cursor` gives the next page (`docs/access-and-safety.md`, "Bounded for
/// every caller").
///
/// Errors: 400 naming `from`, `to`, `limit` or `cursor`; 404 unknown org; 503 storage.
pub async fn list(app: &App, req: &Request) -> Result<Response, ApiError> {
    let org = resolve_org(app, req, req.query_param("org_id")).await?;
    let from = date_param(req.query_param("from"), "from")?;
    let to = date_param(req.query_param("to"), "to")?;
    if let (Some(f), Some(t)) = (from, to)
        && f > t
    {
        return Err(ApiError::invalid("from", "from is after to"));
    }
    let limit = super::int_param(req, "limit", 1..=MAX_LIMIT, DEFAULT_LIMIT)?;
    let after = req
        .query_param("cursor")
        .map(|c| {
            claims::After::parse(c).ok_or_else(|| {
                ApiError::invalid("cursor", "cursor is not a next_cursor of this route")
            })
        })
        .transpose()?;
    let page = claims::list(&app.storage, &org.org_id, from, to, after.as_ref(), limit).await?;
    Ok(json_response(
        StatusCode::OK,
        &json!({"org_id": org.org_id, "deliveries": page.records,
                "next_cursor": page.next.map(|n| n.to_string())}),
    ))
}

/// `POST /api/orgs/{org_id}/notifications/{id}/test` (admin).
pub async fn test_send(app: &App, req: &Request) -> Result<Response, ApiError> {
    let deadline = std::time::Instant::now() + super::generate::DIGESTS_UNTIL;
    let org = resolve_org(app, req, Some(&req.params[0])).await?;
    let id = &req.params[1];
    let Some(channel) = org.notifications.iter().find(|n| &n.id == id) else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "notification_not_found",
            format!("organization {} has no notification {id:?}", org.org_id),
        ));
    };
    let Some(latest) = listed(app, &org, None, None).await?.into_iter().next() else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "report_not_found",
            format!("no stored report for {} to send", org.org_id),
        ));
    };
    let object = snapshots::read(&app.storage, &org.org_id, latest.date)
        .await?
        .ok_or_else(|| not_found_org(&org.org_id))?;
    let report: DailyReport = serde_json::from_slice(&object.body).map_err(|e| {
        tracing::error!(org_id = %org.org_id, error = %e, "stored report unreadable");
        ApiError::internal()
    })?;
    let mut digest = Digest::new(app, &org, latest.date, &report, Vec::new());
    digest.test = true;
    let sent = delivery::send_digest(
        &digest,
        channel,
        app.clock.now(),
        deadline,
        app.settings.allow_insecure_webhooks,
    )
    .await;
    let (status, error) = match &sent.outcome {
        Ok(_) => ("sent", None),
        Err(e) => ("failed", Some(e.clone())),
    };
    Ok(json_response(
        StatusCode::OK,
        &json!({"org_id": org.org_id, "date": latest.date, "channel_id": channel.id,
                "kind": channel.kind, "status": status, "attempts": sent.attempts, "error": error}),
    ))
}
