//! `GET /api/reports/live?org_id=&date=`: a report computed from ClickHouse now, not stored
//! (`docs/http-api.md`, "Routes"). A query over its time limit is 504, an unreachable
//! ClickHouse 503.

use warp::http::StatusCode;
use warp::reply::Response;

use super::{date_param, require_clickhouse, resolve_org};
use crate::app::App;
use crate::daily_report::report;
use crate::http::error::ApiError;
use crate::http::request::Request;
use crate::http::response::json_response;

/// Handles the route; `date` defaults to the org's yesterday.
pub async fn handle(app: &App, req: &Request) -> Result<Response, ApiError> {
    let org = resolve_org(app, req, req.query_param("org_id")).await?;
    let now = app.clock.now();
    let date = date_param(req.query_param("date"), "date")?.unwrap_or_else(|| org.yesterday(now));
    let ch = require_clickhouse(app)?;
    let r = report::generate(ch, &org, date, now).await?;
    Ok(json_response(StatusCode::OK, &r))
}
