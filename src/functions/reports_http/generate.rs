//! `POST /api/reports/generate` and `POST /api/reports/backfill` (`docs/http-api.md`,
//! "Routes"; admin only): the timer's code path ([`schedule::generate_range`]), create-only
//! unless `force`, and never for a local day that has not ended (400 naming `date`, `from` or
//! `to`; `docs/access-and-safety.md`). Both stop starting reports after `BACKFILL_BUDGET_SECONDS` (150 s by default,
//! inside the Functions front end's 230 s HTTP limit) and say what was left (`complete`,
//! `not_attempted`; a backfill also where to resume). With a work queue a backfill starts a
//! job instead ([`super::jobs`]).

use std::time::{Duration as StdDuration, Instant};

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use warp::http::StatusCode;
use warp::reply::Response;

use super::{date_param, require_clickhouse, target_orgs};
use crate::app::App;
use crate::daily_report::schedule::{self, GenerateOptions, OrgRun};
use crate::delivery::{self, DeliveryOutcome};
use crate::http::error::{ApiError, ErrorDetail};
use crate::http::request::{Request, parse_json_body};
use crate::http::response::json_response;
use crate::orgs::Organization;

/// Digests asked for with `notify: true` (and a test send) are sent by this long after the
/// request arrived (later ones are deferred): the Functions front end ends an HTTP request at
/// 230 s. The timer's is `scheduler::TIMER_DIGESTS_UNTIL`.
pub const HTTP_DIGESTS_UNTIL: StdDuration = StdDuration::from_secs(220);

/// When a generate or backfill request that arrived at `received` starts no more reports
/// (`BACKFILL_BUDGET_SECONDS` later).
fn reports_deadline(app: &App, received: Instant) -> Instant {
    received + StdDuration::from_secs(app.settings.backfill_budget_seconds)
}

/// What a generate or backfill request asked for, besides its orgs and dates.
struct Asked {
    received: Instant,
    force: bool,
    notify: bool,
}

/// Makes `range(org)` of each org through the timer's path, starting none after the
/// request's budget, then (with `notify`) sends each org's digest of the range's last date by
/// [`HTTP_DIGESTS_UNTIL`].
async fn run(
    app: &App,
    orgs: &[Organization],
    range: impl Fn(&Organization) -> (NaiveDate, NaiveDate) + Sync,
    asked: Asked,
    now: chrono::DateTime<chrono::Utc>,
) -> (Vec<OrgRun>, Vec<DeliveryOutcome>) {
    let opts = GenerateOptions {
        force: asked.force,
        deadline: Some(reports_deadline(app, asked.received)),
        ..GenerateOptions::new(now)
    };
    let runs = schedule::generate_range(app, orgs, &range, &opts, |_, _| {}).await;
    let deliveries = if asked.notify {
        let until = asked.received + HTTP_DIGESTS_UNTIL;
        delivery::after_run(app, orgs, &runs, |org| range(org).1, until).await
    } else {
        vec![]
    };
    (runs, deliveries)
}

/// Longest range one backfill request may name.
pub const MAX_BACKFILL_DAYS: i64 = 366;

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = GenerateRequest)]
struct GenerateBody {
    /// Default: every active org.
    #[schema(format = "uuid")]
    org_id: Option<String>,
    /// Default: yesterday in each org's zone.
    #[schema(format = Date)]
    date: Option<String>,
    /// Replace an existing report.
    #[serde(default)]
    #[schema(default = false)]
    force: bool,
    /// Also send each org's morning digest of the newest date of the range to its enabled
    /// channels (once per org, date and channel, as the timer does).
    #[serde(default)]
    #[schema(default = false)]
    notify: bool,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = BackfillRequest)]
struct BackfillBody {
    /// Default: every active org.
    #[schema(format = "uuid")]
    org_id: Option<String>,
    #[schema(format = Date, examples("2025-12-15"))]
    from: String,
    /// Inclusive; at most 366 days after `from`.
    #[schema(format = Date, examples("2025-12-15"))]
    to: String,
    /// Replace existing reports.
    #[serde(default)]
    #[schema(default = false)]
    force: bool,
    /// Also send each org's morning digest of the newest date of the range to its enabled
    /// channels (once per org, date and channel, as the timer does).
    #[serde(default)]
    #[schema(default = false)]
    notify: bool,
}

/// `POST /api/reports/generate`: what was done per org.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = GenerateResult)]
pub struct GenerateReply {
    /// False when the time budget ran out: the orgs' `not_attempted` dates (call again).
    pub complete: bool,
    pub orgs: Vec<OrgRun>,
    /// With `notify: true`: each digest's outcome.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub deliveries: Vec<DeliveryOutcome>,
    /// Present only when every report failed (status 409, 503 or 504).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<crate::http::error::ErrorDetail>, nullable = false)]
    pub error: Option<ErrorDetail>,
}

/// `POST /api/reports/backfill`: `complete: false` with `resume_from` when the range did not
/// fit the budget (call again: done dates are skipped).
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = BackfillResult)]
pub struct BackfillReply {
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// False when the time budget ran out; call again (from `resume_from`).
    pub complete: bool,
    /// The first date not attempted; null when complete.
    #[schema(required)]
    pub resume_from: Option<NaiveDate>,
    pub orgs: Vec<OrgRun>,
    /// With `notify: true`: each digest's outcome.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub deliveries: Vec<DeliveryOutcome>,
    /// Present only when every report failed (status 409, 503 or 504).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<crate::http::error::ErrorDetail>, nullable = false)]
    pub error: Option<ErrorDetail>,
}

/// 200 unless every org failed with nothing generated or found; then the status of the
/// failures' one cause ([`super::errors::every_report_failed`]: 504 a ClickHouse timeout, 409
/// a lost overwrite race), else 503, with the `error` member every error reply has
/// (`docs/http-api.md`, "Errors").
fn runs_status(runs: &[OrgRun]) -> (StatusCode, Option<ErrorDetail>) {
    let all_failed = !runs.is_empty()
        && runs
            .iter()
            .all(|r| !r.failed.is_empty() && r.generated.is_empty() && r.skipped.is_empty());
    if !all_failed {
        return (StatusCode::OK, None);
    }
    let mut causes = runs.iter().flat_map(|r| r.failed.iter().map(|f| f.cause));
    let first = causes.next();
    let shared = first.filter(|first| causes.all(|c| c == *first));
    let (code, message) = super::errors::every_report_failed(shared);
    let error = ErrorDetail {
        code,
        message: message.into(),
        field: None,
    };
    (code.status(), Some(error))
}

/// `POST /api/reports/generate {org_id?, date?, force?}` (default: yesterday, every active org).
#[utoipa::path(
    post,
    path = "/api/reports/generate",
    operation_id = "generateReports",
    tag = "reports",
    summary = "Generate reports now (the timer's path)",
    description = "Create-only: a date that has a report is `skipped` unless `force`. Default: \
        yesterday, every active org; a `date` whose local day has not ended is a 400. Stops \
        starting reports after `BACKFILL_BUDGET_SECONDS` (150 s by default) and answers \
        `complete: false`, the orgs' `not_attempted` dates left: call again.",
    request_body(content = Option<GenerateBody>, description = "An empty body is `{}`."),
    responses(
        (status = 200, description = "Done; per-org dates generated, skipped and failed.",
            body = GenerateReply),
        (status = 400, response = super::openapi::BadRequest),
        (status = 404, response = super::openapi::NotFound),
        (status = 409, description = "Every report was a forced overwrite that kept losing \
            the race to concurrent writers: the result, with `error` (`conflict`).",
            body = inline(super::openapi::GenerateFailed)),
        (status = 503, description = "ClickHouse or storage is not configured or down: an \
            error, or every report failed (the result, with `error`).",
            body = inline(super::openapi::GenerateFailed)),
        (status = 504, description = "Every report failed because its ClickHouse query timed \
            out: the result, with `error` (`query_timeout`).",
            body = inline(super::openapi::GenerateFailed)),
    )
)]
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
    let range = |org: &Organization| {
        let d = date.unwrap_or_else(|| org.yesterday(now));
        (d, d)
    };
    let asked = Asked {
        received,
        force: body.force,
        notify: body.notify,
    };
    let (runs, deliveries) = run(app, &orgs, range, asked, now).await;
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
#[utoipa::path(
    post,
    path = "/api/reports/backfill",
    operation_id = "backfillReports",
    tag = "reports",
    summary = "Generate a date range, resumable",
    description = "Skips dates that have a report unless `force`; `from` or `to` whose local \
        day has not ended is a 400. Stops starting reports after `BACKFILL_BUDGET_SECONDS` \
        (150 s by default) and answers `complete: false` with `resume_from`: call again. With \
        a work queue (`REPORT_QUEUE`) it starts a job instead: 202 with `job_id`, `status_url` \
        (`GET /api/jobs/{job_id}`) and `total` (orgs × days), one message per (org, date); a \
        failure to enqueue after the job was written is a 503 (the job shows them pending).",
    request_body = BackfillBody,
    responses(
        (status = 200, description = "OK (no work queue: generated inline)",
            body = BackfillReply),
        (status = 202, description = "With a work queue (`REPORT_QUEUE`): the job was \
            written and its (org, date) messages enqueued; follow `status_url`.",
            body = super::jobs::Started),
        (status = 400, response = super::openapi::BadRequest),
        (status = 404, response = super::openapi::NotFound),
        (status = 409, description = "Every report was a forced overwrite that kept losing \
            the race to concurrent writers: the result, with `error` (`conflict`).",
            body = inline(super::openapi::BackfillFailed)),
        (status = 503, description = "ClickHouse or storage is not configured or down: an \
            error, or every report failed (the result, with `error`).",
            body = inline(super::openapi::BackfillFailed)),
        (status = 504, description = "Every report failed because its ClickHouse query timed \
            out: the result, with `error` (`query_timeout`).",
            body = inline(super::openapi::BackfillFailed)),
    )
)]
pub async fn backfill(app: &App, req: &Request) -> Result<Response, ApiError> {
    let received = Instant::now();
    let body: BackfillBody = parse_json_body(&req.body)?;
    let from = crate::time::parse_date(&body.from, "from")?;
    let to = crate::time::parse_date(&body.to, "to")?;
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
    if let Some(queue) = &app.queue {
        return super::jobs::start_reply(app, queue, &orgs, (from, to), body.force, body.notify)
            .await;
    }
    let asked = Asked {
        received,
        force: body.force,
        notify: body.notify,
    };
    let (runs, deliveries) = run(app, &orgs, |_| (from, to), asked, now).await;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::daily_report::schedule::{Failure, FailureCause};

    /// One org's run where every date failed for `cause`.
    fn failed(cause: FailureCause) -> OrgRun {
        OrgRun {
            org_id: crate::orgs::OrgId::parse("00000000-0000-0000-0000-000000000001", "org_id")
                .unwrap(),
            org_name: format!("{cause:?}"),
            generated: Vec::new(),
            skipped: Vec::new(),
            not_attempted: Vec::new(),
            revised: Vec::new(),
            failed: vec![Failure {
                date: NaiveDate::from_ymd_opt(2025, 12, 1).unwrap(),
                error: "shown to the caller".into(),
                cause,
            }],
        }
    }

    /// The causes of the failed dates decide the status once, here: the one cause every
    /// report failed for, else 503; 200 as soon as one org has its report.
    #[test]
    fn a_run_whose_every_report_failed_answers_the_status_of_their_cause() {
        use FailureCause::*;
        for (causes, status, code) in [
            (vec![Timeout, Timeout], 504, "query_timeout"),
            (vec![Contended], 409, "conflict"),
            (vec![Unavailable], 503, "dependency_unavailable"),
            (vec![Timeout, Contended], 503, "dependency_unavailable"),
            (vec![NotEnded], 503, "dependency_unavailable"),
        ] {
            let runs: Vec<OrgRun> = causes.iter().map(|c| failed(*c)).collect();
            let (got, error) = runs_status(&runs);
            let error = serde_json::to_value(error.unwrap()).unwrap();
            assert_eq!((got.as_u16(), error["code"].as_str()), (status, Some(code)));
        }
        let mut stored = failed(Timeout);
        stored
            .skipped
            .push(NaiveDate::from_ymd_opt(2025, 11, 30).unwrap());
        let (got, error) = runs_status(&[failed(Timeout), stored]);
        assert_eq!((got, error.is_none()), (StatusCode::OK, true));
    }
}
