//! The digest's routes (`docs/delivery-and-access.md`):
//! `GET /api/deliveries?org_id=&from=&to=&limit=&cursor=` lists the delivery records in pages,
//! `POST /api/orgs/{org_id}/notifications/{id}/test` sends a test digest of the latest stored
//! report to one channel (not recorded as that day's delivery).

use chrono::NaiveDate;
use serde::Serialize;
use utoipa::ToSchema;
use warp::http::StatusCode;
use warp::reply::Response;

use super::openapi::{BadRequest, NotFound, OrgIdPath, OrgIdQuery, Unavailable};
use super::stored::listed;
use super::{date_param, resolve_org};
use crate::app::App;
use crate::daily_report::snapshots;
use crate::delivery::{self, Digest, claims};
use crate::http::error::{ApiError, ErrorCode};
use crate::http::request::Request;
use crate::http::response::json_response;
use crate::orgs::{ChannelKind, OrgId};

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
#[utoipa::path(
    get,
    path = "/api/deliveries",
    operation_id = "listDeliveries",
    tag = "deliveries",
    summary = "Digest delivery records of an org",
    params(
        OrgIdQuery,
        ("from" = Option<NaiveDate>, Query, description = "First date, inclusive."),
        ("to" = Option<NaiveDate>, Query, description = "Last date, inclusive; not before `from`."),
        ("limit" = Option<usize>, Query, minimum = 1, maximum = 1000,
            description = "Records per page (default 100)."),
        ("cursor" = Option<String>, Query, description = "The `next_cursor` of the previous page."),
    ),
    responses(
        (status = 200, description = "OK", body = DeliveryPage),
        (status = 400, response = BadRequest),
        (status = 404, response = NotFound),
        (status = 503, response = Unavailable),
    )
)]
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
    let reply = DeliveryPage {
        org_id: org.org_id,
        deliveries: page.records,
        next_cursor: page.next.map(|n| n.to_string()),
    };
    Ok(json_response(StatusCode::OK, &reply))
}

/// `GET /api/deliveries`: one page of delivery records.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryPage {
    pub org_id: OrgId,
    /// By date, then channel id, then revision (a channel's digest, then its corrections);
    /// at most `limit`.
    pub deliveries: Vec<claims::Entry>,
    /// Pass as `cursor` for the next page (`<date>/<channel_id>`, or
    /// `<date>/<channel_id>.rev-<n>` after a correction); null on the last page.
    #[schema(required)]
    pub next_cursor: Option<String>,
}

/// `POST /api/orgs/{org_id}/notifications/{id}/test`: how the test send went.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = TestSendResult)]
pub struct TestSend {
    pub org_id: OrgId,
    /// The date of the report sent (the latest stored).
    pub date: NaiveDate,
    pub channel_id: String,
    pub kind: ChannelKind,
    pub status: TestSendStatus,
    pub attempts: u32,
    /// Why it failed.
    #[schema(required)]
    pub error: Option<String>,
}

/// Whether a test send reached the channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TestSendStatus {
    Sent,
    Failed,
}

/// `POST /api/orgs/{org_id}/notifications/{id}/test` (admin).
#[utoipa::path(
    post,
    path = "/api/orgs/{org_id}/notifications/{id}/test",
    operation_id = "testNotification",
    tag = "deliveries",
    summary = "Send a test digest of the latest report to one channel (admin; not recorded as \
        a delivery)",
    params(
        OrgIdPath,
        ("id" = String, Path, description = "The notification's id."),
    ),
    responses(
        (status = 200, description = "How the send went", body = TestSend),
        (status = 400, response = BadRequest),
        (status = 404, response = NotFound),
        (status = 503, response = Unavailable),
    )
)]
pub async fn test_send(app: &App, req: &Request) -> Result<Response, ApiError> {
    let deadline = std::time::Instant::now() + super::generate::HTTP_DIGESTS_UNTIL;
    let org = resolve_org(app, req, Some(&req.params[0])).await?;
    let id = &req.params[1];
    let Some(channel) = org.notifications.iter().find(|n| &n.id == id) else {
        return Err(ApiError::new(
            ErrorCode::NotificationNotFound,
            format!("organization {} has no notification {id:?}", org.org_id),
        ));
    };
    let Some(latest) = listed(app, &org, None, None).await?.into_iter().next() else {
        return Err(ApiError::new(
            ErrorCode::ReportNotFound,
            format!("no stored report for {} to send", org.org_id),
        ));
    };
    let stored = snapshots::read(&app.storage, &org.org_id, latest.date)
        .await?
        .ok_or_else(|| ApiError::org_not_found(org.org_id.as_str()))?;
    let mut digest = Digest::new(app, &org, latest.date, &stored, Vec::new());
    digest.test = true;
    let sent =
        delivery::send_digest(&digest, channel, app.clock.now(), deadline, &app.settings).await;
    let (status, error) = match &sent.outcome {
        Ok(_) => (TestSendStatus::Sent, None),
        Err(e) => (TestSendStatus::Failed, Some(e.clone())),
    };
    let reply = TestSend {
        org_id: org.org_id,
        date: latest.date,
        channel_id: channel.id.clone(),
        kind: channel.kind,
        status,
        attempts: sent.attempts,
        error,
    };
    Ok(json_response(StatusCode::OK, &reply))
}
