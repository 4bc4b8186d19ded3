//! `GET /api/reports/live?org_id=&date=`: a report computed from ClickHouse now, not stored
//! (`docs/http-api.md`, "Routes"). A query over its time limit is 504, an unreachable
//! ClickHouse 503, and 503 `busy` with `Retry-After` when the instance runs its
//! `CLICKHOUSE_LIVE_CONCURRENCY` live queries already (`docs/access-and-safety.md`, "Bounded
//! for every caller").

use warp::http::StatusCode;
use warp::reply::Response;

use super::openapi::{BadRequest, GatewayTimeout, NotFound, OrgIdQuery, Unavailable};
use super::{date_param, require_clickhouse, resolve_org};
use crate::app::App;
use crate::daily_report::report;
use crate::http::error::ApiError;
use crate::http::request::Request;
use crate::http::response::json_response;

/// Handles the route; `date` defaults to the org's yesterday.
#[utoipa::path(
    get,
    path = "/api/reports/live",
    operation_id = "liveReport",
    tag = "reports",
    summary = "A report computed from ClickHouse now, not stored",
    params(
        OrgIdQuery,
        ("date" = Option<chrono::NaiveDate>, Query,
            description = "Local date; default yesterday in the org's zone."),
    ),
    responses(
        (status = 200, description = "OK", body = report::DailyReport),
        (status = 400, response = BadRequest),
        (status = 404, response = NotFound),
        (status = 503, response = Unavailable),
        (status = 504, response = GatewayTimeout),
    )
)]
pub async fn handle(app: &App, req: &Request) -> Result<Response, ApiError> {
    let org = resolve_org(app, req, req.query_param("org_id")).await?;
    let now = app.clock.now();
    let date = date_param(req.query_param("date"), "date")?.unwrap_or_else(|| org.yesterday(now));
    let ch = require_clickhouse(app)?;
    let _turn = turn(app).await?;
    let r = report::generate(ch, &org, date, now).await?;
    Ok(json_response(StatusCode::OK, &r))
}

/// One of the instance's `CLICKHOUSE_LIVE_CONCURRENCY` turns for a live ClickHouse query, held
/// until the permit is dropped; after `BUSY_WAIT_SECONDS` without one, 503 `busy` with
/// `Retry-After` (`docs/access-and-safety.md`, "Bounded for every caller").
pub(super) async fn turn(app: &App) -> Result<tokio::sync::OwnedSemaphorePermit, ApiError> {
    app.live_queries.enter().await.map_err(|busy| {
        tracing::warn!(error = %busy, "live query refused: too many running");
        ApiError::busy("live ClickHouse queries", busy.retry_after)
    })
}
