//! The `reports_http` function (`docs/http-api.md`): every `/api/...` route but the failure
//! analysis, one file per concern.
//!
//! * [`stored`]: stored reports — listing, latest, by date (or one of its revisions), trend
//!   (listings read blob metadata only; one report is one blob read).
//! * [`revisions`]: the revisions of a date's report (`docs/revisions.md`), one listing.
//! * [`live`]: a report computed from ClickHouse now, not stored.
//! * [`insights`]: what changed against the same weekday of the previous 4 weeks, and the
//!   calls behind a number.
//! * [`generate`]: generate and backfill, through the timer's code path
//!   ([`schedule::generate_range`](crate::daily_report::schedule::generate_range)),
//!   create-only unless `force`.
//! * [`jobs`]: backfill jobs on the work queue and their progress.
//! * [`orgs`]: organizations (ETags, 409/412).
//! * [`scheduler`]: the timer's schedule, next firings and last run.
//! * [`artifacts`]: stored artifacts for a plain GET (the links the product hands out).
//! * [`delivery`]: the morning digest's delivery records and test sends.
//! * [`health`], [`dashboard`] (the HTML page), [`openapi`] (the OpenAPI document).
//! * [`errors`]: the statuses of this function's domain errors.
//!
//! Who may call each route is the route table's rule (`crate::server::routes::Rule`), checked
//! before any handler here runs; handlers only narrow an org reader to its own orgs
//! (`crate::http::caller::Caller::sees`) through `visible_orgs` and
//! `resolve_org`.
//!
//! Replies are typed `Serialize` structs deriving `ToSchema`, and each handler describes its
//! operation with `#[utoipa::path]`: [`openapi`] generates the OpenAPI document from them.

pub mod artifacts;
pub mod dashboard;
pub mod delivery;
pub mod errors;
pub mod generate;
pub mod health;
pub mod insights;
pub mod jobs;
pub mod live;
pub mod openapi;
pub mod orgs;
pub mod revisions;
pub mod scheduler;
pub mod stored;

use chrono::NaiveDate;

use crate::app::App;
use crate::clickhouse::ClickHouse;
use crate::http::error::{ApiError, ErrorCode};
use crate::http::request::Request;
use crate::orgs::{OrgId, Organization};

/// The orgs the caller may see ([`Caller::sees`](crate::http::caller::Caller::sees)).
async fn visible_orgs(app: &App, req: &Request) -> Result<Vec<Organization>, ApiError> {
    let all = crate::orgs::list(&app.storage).await?;
    Ok(all
        .into_iter()
        .filter(|o| req.caller.sees(o.org_id.as_str()))
        .collect())
}

/// The org a request is about: `org_id` (query or body), or the only visible org when there
/// is one. An org the caller may not see is a 404, as if it did not exist.
async fn resolve_org(
    app: &App,
    req: &Request,
    org_id: Option<&str>,
) -> Result<Organization, ApiError> {
    match org_id {
        Some(id) => {
            let id = OrgId::parse(id, "org_id")?;
            if !req.caller.sees(id.as_str()) {
                return Err(ApiError::org_not_found(id.as_str()));
            }
            crate::orgs::get(&app.storage, &id)
                .await?
                .map(|(o, _)| o)
                .ok_or_else(|| ApiError::org_not_found(id.as_str()))
        }
        None => {
            let mut all = visible_orgs(app, req).await?;
            match all.len() {
                1 => Ok(all.remove(0)),
                0 => Err(ApiError::new(
                    ErrorCode::OrgNotFound,
                    "no organization is configured",
                )),
                _ => Err(ApiError::invalid(
                    "org_id",
                    "org_id is required when several organizations exist",
                )),
            }
        }
    }
}

/// The orgs a generation is for: the named one, or every active org the caller sees.
async fn target_orgs(
    app: &App,
    req: &Request,
    org_id: Option<&str>,
) -> Result<Vec<Organization>, ApiError> {
    match org_id {
        Some(_) => Ok(vec![resolve_org(app, req, org_id).await?]),
        None => Ok(visible_orgs(app, req)
            .await?
            .into_iter()
            .filter(|o| o.is_active)
            .collect()),
    }
}

/// An optional `YYYY-MM-DD` parameter; 400 naming `field`.
fn date_param(value: Option<&str>, field: &str) -> Result<Option<NaiveDate>, ApiError> {
    Ok(value
        .map(|v| crate::time::parse_date(v, field))
        .transpose()?)
}

/// An optional integer query parameter `name` in `range` (`default` when absent); anything
/// else is a 400 naming `name`.
fn int_param<T>(
    req: &Request,
    name: &str,
    range: std::ops::RangeInclusive<T>,
    default: T,
) -> Result<T, ApiError>
where
    T: std::str::FromStr + PartialOrd + std::fmt::Display,
{
    let Some(v) = req.query_param(name) else {
        return Ok(default);
    };
    v.parse::<T>()
        .ok()
        .filter(|n| range.contains(n))
        .ok_or_else(|| {
            ApiError::invalid(
                name,
                format!(
                    "{name} {v:?} must be an integer {}-{}",
                    range.start(),
                    range.end()
                ),
            )
        })
}

/// The ClickHouse client, or 503 `not_configured` without `CLICKHOUSE_URL`.
fn require_clickhouse(app: &App) -> Result<&ClickHouse, ApiError> {
    app.clickhouse
        .as_ref()
        .ok_or_else(|| ApiError::not_configured("ClickHouse", "CLICKHOUSE_URL"))
}
