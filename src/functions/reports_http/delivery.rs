//! The digest's routes (`docs/delivery-and-access.md`): `GET /api/deliveries?org_id=&from=&to=`
//! lists the delivery records, `POST /api/orgs/{org_id}/notifications/{id}/test` sends a test
//! digest of the latest stored report to one channel (not recorded as that day's delivery).

use serde_json::json;
use warp::http::StatusCode;
use warp::reply::Response;

use super::errors::org_not_found as not_found_org;
use super::stored::listed;
use super::{access, date_param, resolve_org};
use crate::app::App;
use crate::daily_report::{report::DailyReport, snapshots};
use crate::delivery::{self, Digest, claims};
use crate::http::error::ApiError;
use crate::http::request::Request;
use crate::http::response::json_response;

/// `GET /api/deliveries?org_id=&from=&to=`.
pub async fn list(app: &App, req: &Request) -> Result<Response, ApiError> {
    let org = resolve_org(app, req, req.query_param("org_id")).await?;
    let from = date_param(req.query_param("from"), "from")?;
    let to = date_param(req.query_param("to"), "to")?;
    if let (Some(f), Some(t)) = (from, to)
        && f > t
    {
        return Err(ApiError::invalid("from", "from is after to"));
    }
    let records = claims::list(&app.storage, &org.org_id, from, to).await?;
    Ok(json_response(
        StatusCode::OK,
        &json!({"org_id": org.org_id, "deliveries": records}),
    ))
}

/// `POST /api/orgs/{org_id}/notifications/{id}/test` (admin).
pub async fn test_send(app: &App, req: &Request) -> Result<Response, ApiError> {
    let deadline = std::time::Instant::now() + super::generate::DIGESTS_UNTIL;
    access::Access::of(req)?.require_admin()?;
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
    let sent = delivery::send_digest(&digest, channel, app.clock.now(), deadline).await;
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
