//! `POST /api/reports/generate` and `POST /api/reports/backfill` (`docs/http-api.md`,
//! "Routes"; admin only): the timer's code path ([`schedule::generate_range`]), create-only
//! unless `force`, and never for a local day that has not ended (400 naming `date`, `from` or
//! `to`; `docs/access-and-safety.md`). Both stop starting reports after `BACKFILL_BUDGET_SECONDS` (150 s by default,
//! inside the Functions front end's 230 s HTTP limit) and say what was left (`complete`,
//! `not_attempted`; a backfill also where to resume).

use std::time::{Duration as StdDuration, Instant};

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use warp::http::StatusCode;
use warp::reply::Response;

use super::{date_param, require_clickhouse, target_orgs};
use crate::app::App;
use crate::daily_report::schedule::{self, GenerateOptions, OrgRun};
use crate::delivery::{self, DeliveryOutcome};
use crate::http::error::ApiError;
use crate::http::request::{Request, parse_json_body};
use crate::http::response::json_response;
use crate::orgs::Organization;

/// Digests asked for with `notify: true` are sent by this long after the request arrived
/// (later ones are deferred): the Functions front end ends an HTTP request at 230 s.
pub const DIGESTS_UNTIL: StdDuration = StdDuration::from_secs(220);

/// When a generate or backfill request that arrived at `received` starts no more reports
/// (`BACKFILL_BUDGET_SECONDS` later).
fn reports_deadline(app: &App, received: Instant) -> Instant {
    received + StdDuration::from_secs(app.settings.backfill_budget_seconds)
}

/// Longest range one backfill request may name.
pub const MAX_BACKFILL_DAYS: i64 = 366;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct GenerateBody {
    org_id: Option<String>,
    date: Option<String>,
    #[serde(default)]
    force: bool,
    #[serde(default)]
    notify: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BackfillBody {
    org_id: Option<String>,
    from: String,
    to: String,
    #[serde(default)]
    force: bool,
    #[serde(default)]
    notify: bool,
}

/// The `error` member a 503 reply carries (every error reply has one).
#[derive(Debug, Serialize)]
pub struct RunsError {
    pub code: &'static str,
    pub message: &'static str,
}

/// `POST /api/reports/generate`: what was done per org.
#[derive(Debug, Serialize)]
pub struct GenerateReply {
    /// False when the time budget ran out: the orgs' `not_attempted` dates (call again).
    pub complete: bool,
    pub orgs: Vec<OrgRun>,
    /// With `notify: true`: each digest's outcome.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub deliveries: Vec<DeliveryOutcome>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<RunsError>,
}

/// `POST /api/reports/backfill`: `complete: false` with `resume_from` when the range did not
/// fit the budget (call again: done dates are skipped).
#[derive(Debug, Serialize)]
pub struct BackfillReply {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub complete: bool,
    pub resume_from: Option<NaiveDate>,
    pub orgs: Vec<OrgRun>,
    /// With `notify: true`: each digest's outcome.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub deliveries: Vec<DeliveryOutcome>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<RunsError>,
}

/// 200 unless every org failed with nothing generated or found; then the failures' own
/// status when they agree (504 a ClickHouse timeout, 409 a lost overwrite race), else 503,
/// with the `error` member every error reply has (`docs/http-api.md`, "Errors").
fn runs_status(runs: &[OrgRun]) -> (StatusCode, Option<RunsError>) {
    let all_failed = !runs.is_empty()
        && runs
            .iter()
            .all(|r| !r.failed.is_empty() && r.generated.is_empty() && r.skipped.is_empty());
    if !all_failed {
        return (StatusCode::OK, None);
    }
    let mut statuses = runs.iter().flat_map(|r| r.failed.iter().map(|f| f.status));
    let first = statuses.next().unwrap_or(503);
    let (status, code, message) = match first {
        504 if statuses.all(|s| s == 504) => (
            StatusCode::GATEWAY_TIMEOUT,
            "query_timeout",
            "the ClickHouse query timed out; try again later",
        ),
        409 if statuses.all(|s| s == 409) => (
            StatusCode::CONFLICT,
            "conflict",
            "the report was being overwritten by other requests; try again",
        ),
        _ => (
            StatusCode::SERVICE_UNAVAILABLE,
            "dependency_unavailable",
            "every report failed; see orgs[].failed",
        ),
    };
    (status, Some(RunsError { code, message }))
}

/// `POST /api/reports/generate {org_id?, date?, force?}` (default: yesterday, every active org).
pub async fn generate(app: &App, req: &Request) -> Result<Response, ApiError> {
    let received = Instant::now();
    let body: GenerateBody = parse_json_body(&req.body)?;
    let date = date_param(body.date.as_deref(), "date")?;
    require_clickhouse(app)?;
    let orgs = target_orgs(app, req, body.org_id.as_deref()).await?;
    let now = app.clock.now();
    if let Some(date) = date {
        schedule::check_ended(&orgs, date, now, "date")?;
    }
    let opts = GenerateOptions {
        force: body.force,
        deadline: Some(reports_deadline(app, received)),
        ..GenerateOptions::new(now)
    };
    let range = |org: &Organization| {
        let d = date.unwrap_or_else(|| org.yesterday(now));
        (d, d)
    };
    let runs = schedule::generate_range(app, &orgs, range, &opts, |_, _| {}).await;
    let deliveries = if body.notify {
        delivery::after_run(
            app,
            &orgs,
            &runs,
            |org| range(org).1,
            received + DIGESTS_UNTIL,
        )
        .await
    } else {
        vec![]
    };
    let (status, error) = runs_status(&runs);
    let reply = GenerateReply {
        complete: runs.iter().all(|r| r.not_attempted.is_empty()),
        orgs: runs,
        deliveries,
        error,
    };
    Ok(json_response(status, &reply))
}

/// `POST /api/reports/backfill {org_id?, from, to, force?}`.
pub async fn backfill(app: &App, req: &Request) -> Result<Response, ApiError> {
    let received = Instant::now();
    let body: BackfillBody = parse_json_body(&req.body)?;
    let from = crate::failure_analysis::window::parse_date(&body.from, "from")?;
    let to = crate::failure_analysis::window::parse_date(&body.to, "to")?;
    if from > to {
        return Err(ApiError::invalid(
            "from",
            format!("from {from} is after to {to}"),
        ));
    }
    if (to - from).num_days() + 1 > MAX_BACKFILL_DAYS {
        return Err(ApiError::invalid(
            "to",
            format!("a backfill covers at most {MAX_BACKFILL_DAYS} days"),
        ));
    }
    require_clickhouse(app)?;
    let orgs = target_orgs(app, req, body.org_id.as_deref()).await?;
    let now = app.clock.now();
    schedule::check_ended(&orgs, from, now, "from")?;
    schedule::check_ended(&orgs, to, now, "to")?;
    let opts = GenerateOptions {
        force: body.force,
        deadline: Some(reports_deadline(app, received)),
        ..GenerateOptions::new(now)
    };
    let runs = schedule::generate_range(app, &orgs, |_| (from, to), &opts, |_, _| {}).await;
    let deliveries = if body.notify {
        delivery::after_run(app, &orgs, &runs, |_| to, received + DIGESTS_UNTIL).await
    } else {
        vec![]
    };
    let resume_from = runs
        .iter()
        .flat_map(|r| r.not_attempted.iter())
        .min()
        .copied();
    let (status, error) = runs_status(&runs);
    let reply = BackfillReply {
        from,
        to,
        complete: resume_from.is_none(),
        resume_from,
        orgs: runs,
        deliveries,
        error,
    };
    Ok(json_response(status, &reply))
}
