//! The `reports_http` function (`../spec/http-api.md`; seed 003's API tables, seed 002's
//! trends, seed 004's health and dashboard): stored reports, live reports, generation and
//! backfill, organizations, scheduler status, health and the dashboard page.
//!
//! Stored reports come from storage: listings read blob metadata only ([`snapshots`]); one
//! report is one blob read. `generate` and `backfill` run the timer's code path
//! ([`schedule::generate_range`]), create-only unless `force`.

pub mod access;
pub mod dashboard;
pub mod health;
pub mod insights;

use std::time::{Duration as StdDuration, Instant};

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use warp::http::{HeaderValue, StatusCode, header};
use warp::reply::Response;

use crate::app::App;
use crate::daily_report::schedule::{self, OrgRun};
use crate::daily_report::{report, snapshots, timer};
use crate::error::{ApiError, parse_json_body};
use crate::orgs::{self, NewOrganization, OrgError, OrgPatch, Organization};
use crate::server::{Request, html_response, json_response};
use crate::storage::StorageError;

/// Longest range one backfill request may name.
pub const MAX_BACKFILL_DAYS: i64 = 366;

/// A backfill request stops starting reports after this long, well inside the Functions
/// front end's 230 s HTTP limit; the response says where to resume.
pub const BACKFILL_BUDGET: StdDuration = StdDuration::from_secs(150);

impl From<OrgError> for ApiError {
    fn from(e: OrgError) -> Self {
        match e {
            OrgError::Invalid(api) => api,
            OrgError::Exists(id) => ApiError::new(
                StatusCode::CONFLICT,
                "org_exists",
                format!("organization {id} already exists"),
            ),
            OrgError::NotFound(id) => not_found_org(&id),
            OrgError::Stale(id) => ApiError::new(
                StatusCode::PRECONDITION_FAILED,
                "stale_etag",
                format!("organization {id} changed since it was read; GET it again"),
            ),
            other => storage_error(&other),
        }
    }
}

fn not_found_org(id: &str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "org_not_found",
        format!("no organization {id}"),
    )
}

fn storage_error(e: &dyn std::fmt::Display) -> ApiError {
    tracing::error!(error = %e, "storage failed");
    ApiError::unavailable("storage")
}

fn from_storage(e: StorageError) -> ApiError {
    storage_error(&e)
}

/// The orgs the caller may see ([`access::Access`]).
async fn visible_orgs(app: &App, req: &Request) -> Result<Vec<Organization>, ApiError> {
    let access = access::Access::of(req)?;
    let all = orgs::list(&app.storage).await?;
    Ok(all.into_iter().filter(|o| access.sees(&o.org_id)).collect())
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
            let id = orgs::parse_uuid(id, "org_id")?;
            if !access::Access::of(req)?.sees(&id) {
                return Err(not_found_org(&id));
            }
            orgs::get(&app.storage, &id)
                .await?
                .map(|(o, _)| o)
                .ok_or_else(|| not_found_org(&id))
        }
        None => {
            let mut all = visible_orgs(app, req).await?;
            match all.len() {
                1 => Ok(all.remove(0)),
                0 => Err(ApiError::new(
                    StatusCode::NOT_FOUND,
                    "org_not_found",
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

fn date_param(value: Option<&str>, field: &str) -> Result<Option<NaiveDate>, ApiError> {
    value
        .map(|v| crate::failure_analysis::window::parse_date(v, field))
        .transpose()
}

// ---------------------------------------------------------------- stored reports

/// A listing row: the date and the summary KPIs from blob metadata.
#[derive(Debug, Serialize)]
struct ListedReport {
    date: NaiveDate,
    summary: std::collections::BTreeMap<String, Value>,
}

/// Every stored report date of `org` in `[from, to]` with its metadata, newest first (one
/// listing call per 5,000 reports; the prefix narrows to the years asked).
async fn listed(
    app: &App,
    org: &Organization,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
) -> Result<Vec<ListedReport>, ApiError> {
    let base = snapshots::org_prefix(&org.org_id);
    let prefix = match (from, to) {
        (Some(f), Some(t)) if f.format("%Y").to_string() == t.format("%Y").to_string() => {
            format!("{base}{}", f.format("%Y-"))
        }
        _ => base.clone(),
    };
    let mut rows = Vec::new();
    let mut continuation = None;
    loop {
        let page = app
            .storage
            .list(&prefix, continuation, 5000)
            .await
            .map_err(from_storage)?;
        for e in page.entries {
            let Some(date) = snapshots::date_of(&base, &e.name) else {
                continue;
            };
            if from.is_some_and(|f| date < f) || to.is_some_and(|t| date > t) {
                continue;
            }
            let summary = e
                .metadata
                .into_iter()
                .map(|(k, v)| (k, metadata_value(&v)))
                .collect();
            rows.push(ListedReport { date, summary });
        }
        match page.next {
            Some(n) => continuation = Some(n),
            None => break,
        }
    }
    rows.sort_by_key(|r| std::cmp::Reverse(r.date));
    Ok(rows)
}

/// Metadata strings back to JSON numbers where they are numbers.
fn metadata_value(v: &str) -> Value {
    v.parse::<i64>()
        .map(Value::from)
        .or_else(|_| v.parse::<f64>().map(Value::from))
        .unwrap_or_else(|_| Value::from(v))
}

/// `GET /api/reports?org_id=&from=&to=&limit=&before=`: newest first; `next_before` continues.
async fn list_reports(app: &App, req: &Request) -> Result<Response, ApiError> {
    let org = resolve_org(app, req, req.query_param("org_id")).await?;
    let from = date_param(req.query_param("from"), "from")?;
    let to = date_param(req.query_param("to"), "to")?;
    let before = date_param(req.query_param("before"), "before")?;
    if let (Some(f), Some(t)) = (from, to)
        && f > t
    {
        return Err(ApiError::invalid("from", "from is after to"));
    }
    let limit = match req.query_param("limit") {
        None => 30,
        Some(l) => l
            .parse::<usize>()
            .ok()
            .filter(|l| (1..=366).contains(l))
            .ok_or_else(|| ApiError::invalid("limit", "limit must be 1-366"))?,
    };
    let to = match (to, before) {
        (Some(t), Some(b)) => Some(t.min(b - Duration::days(1))),
        (t, b) => t.or(b.map(|b| b - Duration::days(1))),
    };
    let mut rows = listed(app, &org, from, to).await?;
    let next_before = (rows.len() > limit).then(|| rows[limit - 1].date);
    rows.truncate(limit);
    Ok(json_response(
        StatusCode::OK,
        &json!({"org_id": org.org_id, "org_name": org.name, "reports": rows, "next_before": next_before}),
    ))
}

fn report_response(
    org: &Organization,
    date: NaiveDate,
    object: crate::storage::Object,
) -> Result<Response, ApiError> {
    let report: Value = serde_json::from_slice(&object.body).map_err(|e| {
        tracing::error!(org_id = %org.org_id, %date, error = %e, "stored report unreadable");
        ApiError::internal()
    })?;
    let mut r = json_response(StatusCode::OK, &report);
    if let Ok(etag) = HeaderValue::from_str(&object.etag) {
        r.headers_mut().insert(header::ETAG, etag);
    }
    Ok(r)
}

/// `GET /api/reports/latest?org_id=`.
async fn latest_report(app: &App, req: &Request) -> Result<Response, ApiError> {
    let org = resolve_org(app, req, req.query_param("org_id")).await?;
    let newest = listed(app, &org, None, None).await?.into_iter().next();
    let Some(row) = newest else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "report_not_found",
            format!("no stored report for {}", org.org_id),
        ));
    };
    stored_report(app, &org, row.date).await
}

async fn stored_report(
    app: &App,
    org: &Organization,
    date: NaiveDate,
) -> Result<Response, ApiError> {
    match snapshots::read(&app.storage, &org.org_id, date)
        .await
        .map_err(from_storage)?
    {
        Some(object) => report_response(org, date, object),
        None => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "report_not_found",
            format!("no stored report for {} on {date}", org.org_id),
        )),
    }
}

/// `GET /api/reports/{date}?org_id=`.
async fn report_by_date(app: &App, req: &Request) -> Result<Response, ApiError> {
    let date = crate::failure_analysis::window::parse_date(&req.params[0], "date")?;
    let org = resolve_org(app, req, req.query_param("org_id")).await?;
    stored_report(app, &org, date).await
}

/// `GET /api/reports/live?org_id=&date=`: computed from ClickHouse now, not stored.
async fn live_report(app: &App, req: &Request) -> Result<Response, ApiError> {
    let org = resolve_org(app, req, req.query_param("org_id")).await?;
    let date =
        date_param(req.query_param("date"), "date")?.unwrap_or_else(|| org.yesterday(Utc::now()));
    let ch = require_clickhouse(app)?;
    match report::generate(ch, &org, date, Utc::now()).await {
        Ok(r) => Ok(json_response(StatusCode::OK, &r)),
        Err(e) => {
            tracing::error!(org_id = %org.org_id, %date, error = %e, "live report failed");
            Err(match e {
                crate::clickhouse::ClickHouseError::Timeout => ApiError::new(
                    StatusCode::GATEWAY_TIMEOUT,
                    "query_timeout",
                    "the ClickHouse query timed out",
                ),
                _ => ApiError::unavailable("ClickHouse"),
            })
        }
    }
}

/// `GET /api/reports/trend?org_id=&period=7d|30d|90d`: the daily series of the main KPIs
/// from stored reports' metadata, every day present (null where no report).
async fn trend(app: &App, req: &Request) -> Result<Response, ApiError> {
    let org = resolve_org(app, req, req.query_param("org_id")).await?;
    let days: i64 = match req.query_param("period").unwrap_or("30d") {
        "7d" => 7,
        "30d" => 30,
        "90d" => 90,
        other => {
            return Err(ApiError::invalid(
                "period",
                format!("period {other:?} must be 7d, 30d or 90d"),
            ));
        }
    };
    let to = org.yesterday(Utc::now());
    let from = to - Duration::days(days - 1);
    let rows = listed(app, &org, Some(from), Some(to)).await?;
    let by_date: std::collections::HashMap<NaiveDate, &ListedReport> =
        rows.iter().map(|r| (r.date, r)).collect();
    const KPIS: [&str; 7] = [
        "total_calls",
        "classified_calls",
        "success_rate_percent",
        "avg_minutes_per_call",
        "total_duration_hours",
        "carrier_not_qualified_percent",
        "successfully_transferred_percent",
    ];
    let series: Vec<Value> = from
        .iter_days()
        .take_while(|d| *d <= to)
        .map(|d| {
            let mut point = serde_json::Map::new();
            point.insert("date".into(), json!(d));
            for k in KPIS {
                let v = by_date
                    .get(&d)
                    .and_then(|r| r.summary.get(k))
                    .cloned()
                    .unwrap_or(Value::Null);
                point.insert(k.into(), v);
            }
            Value::Object(point)
        })
        .collect();
    Ok(json_response(
        StatusCode::OK,
        &json!({"org_id": org.org_id, "period": format!("{days}d"), "from": from, "to": to,
                "days_with_report": rows.len(), "series": series}),
    ))
}

// ---------------------------------------------------------------- generate, backfill

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct GenerateBody {
    org_id: Option<String>,
    date: Option<String>,
    #[serde(default)]
    force: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BackfillBody {
    org_id: Option<String>,
    from: String,
    to: String,
    #[serde(default)]
    force: bool,
}

/// The orgs a generation is for: the named one, or every active org.
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

/// The ClickHouse client, or 503 `not_configured` without `CLICKHOUSE_URL`.
fn require_clickhouse(app: &App) -> Result<&crate::clickhouse::ClickHouse, ApiError> {
    app.clickhouse.as_ref().ok_or_else(|| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "not_configured",
            "ClickHouse is not configured (CLICKHOUSE_URL)",
        )
    })
}

fn runs_status(runs: &[OrgRun]) -> StatusCode {
    let failed = runs.iter().filter(|r| !r.failed.is_empty()).count();
    if !runs.is_empty()
        && failed == runs.len()
        && runs
            .iter()
            .all(|r| r.generated.is_empty() && r.skipped.is_empty())
    {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    }
}

/// The result of a generation; a 503 (every org failed) also carries the `error` member every
/// error response has (`../spec/http-api.md`, "Errors").
fn runs_response(mut body: Value, runs: &[OrgRun]) -> Response {
    let status = runs_status(runs);
    if status == StatusCode::SERVICE_UNAVAILABLE {
        body["error"] = json!({
            "code": "dependency_unavailable",
            "message": "every report failed; see orgs[].failed",
        });
    }
    json_response(status, &body)
}

/// `POST /api/reports/generate {org_id?, date?, force?}` (default: yesterday, every active org).
async fn generate(app: &App, req: &Request) -> Result<Response, ApiError> {
    let body: GenerateBody = parse_json_body(&req.body)?;
    let date = date_param(body.date.as_deref(), "date")?;
    require_clickhouse(app)?;
    let orgs = target_orgs(app, req, body.org_id.as_deref()).await?;
    let runs = schedule::generate_range(
        app,
        &orgs,
        |org| {
            let d = date.unwrap_or_else(|| org.yesterday(Utc::now()));
            (d, d)
        },
        body.force,
        timer::CONCURRENCY,
        None,
        |_, _| {},
    )
    .await;
    Ok(runs_response(json!({"orgs": runs}), &runs))
}

/// `POST /api/reports/backfill {org_id?, from, to, force?}`: bounded by [`BACKFILL_BUDGET`];
/// `complete: false` with `resume_from` when the range did not fit: call again (done dates
/// are skipped).
async fn backfill(app: &App, req: &Request) -> Result<Response, ApiError> {
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
    let deadline = Instant::now() + backfill_budget(req);
    let runs = schedule::generate_range(
        app,
        &orgs,
        |_| (from, to),
        body.force,
        timer::CONCURRENCY,
        Some(deadline),
        |_, _| {},
    )
    .await;
    let resume_from = runs
        .iter()
        .flat_map(|r| r.not_attempted.iter())
        .min()
        .copied();
    Ok(runs_response(
        json!({"from": from, "to": to, "complete": resume_from.is_none(), "resume_from": resume_from, "orgs": runs}),
        &runs,
    ))
}

/// The time budget of one backfill call; tests may shorten it with `X-Backfill-Budget-Ms`
/// (never lengthen it).
fn backfill_budget(req: &Request) -> StdDuration {
    req.headers
        .get("x-backfill-budget-ms")
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
        .map(StdDuration::from_millis)
        .map_or(BACKFILL_BUDGET, |d| d.min(BACKFILL_BUDGET))
}

// ---------------------------------------------------------------- organizations

fn org_response(status: StatusCode, org: &Organization, etag: &str) -> Response {
    let mut r = json_response(status, org);
    if let Ok(v) = HeaderValue::from_str(etag) {
        r.headers_mut().insert(header::ETAG, v);
    }
    r
}

async fn list_orgs(app: &App, req: &Request) -> Result<Response, ApiError> {
    Ok(json_response(
        StatusCode::OK,
        &json!({"orgs": visible_orgs(app, req).await?}),
    ))
}

async fn get_org(app: &App, req: &Request) -> Result<Response, ApiError> {
    let id = orgs::parse_uuid(&req.params[0], "org_id")?;
    if !access::Access::of(req)?.sees(&id) {
        return Err(not_found_org(&id));
    }
    let (org, etag) = orgs::get(&app.storage, &id)
        .await?
        .ok_or_else(|| not_found_org(&id))?;
    Ok(org_response(StatusCode::OK, &org, &etag))
}

async fn create_org(app: &App, req: &Request) -> Result<Response, ApiError> {
    access::Access::of(req)?.require_admin()?;
    let new: NewOrganization = parse_json_body(&req.body)?;
    let org = new.validate(Utc::now())?;
    let etag = orgs::create(&app.storage, &org).await?;
    Ok(org_response(StatusCode::CREATED, &org, &etag))
}

/// `PATCH /api/orgs/{org_id}`: with `If-Match`, only over that version (412 otherwise);
/// without, over the version just read.
async fn patch_org(app: &App, req: &Request) -> Result<Response, ApiError> {
    access::Access::of(req)?.require_admin()?;
    let id = orgs::parse_uuid(&req.params[0], "org_id")?;
    let patch: OrgPatch = parse_json_body(&req.body)?;
    let (org, current) = orgs::get(&app.storage, &id)
        .await?
        .ok_or_else(|| not_found_org(&id))?;
    let etag = match req
        .headers
        .get(header::IF_MATCH)
        .map(|v| v.to_str().unwrap_or_default().to_string())
    {
        Some(asked) if asked != current && asked != "*" => {
            return Err(OrgError::Stale(id).into());
        }
        _ => current,
    };
    let org = patch.apply(org, Utc::now())?;
    let etag = orgs::replace(&app.storage, &org, &etag).await?;
    Ok(org_response(StatusCode::OK, &org, &etag))
}

// ---------------------------------------------------------------- scheduler

/// `GET /api/scheduler/status`: the schedule, its next firings (UTC), each active org's next
/// due date, and the last run's result.
async fn scheduler_status(app: &App) -> Result<Response, ApiError> {
    let expression = app.settings.daily_report_schedule.clone();
    let next: Vec<DateTime<Utc>> = match cron_expression(&expression).parse::<cron::Schedule>() {
        Ok(s) => s.upcoming(Utc).take(5).collect(),
        Err(_) => vec![],
    };
    let last_run: Option<Value> = match app
        .storage
        .get(timer::LAST_RUN)
        .await
        .map_err(from_storage)?
    {
        Some(o) => serde_json::from_slice(&o.body).ok(),
        None => None,
    };
    let settings = &app.settings;
    Ok(json_response(
        StatusCode::OK,
        &json!({
            "function": "daily_report_timer",
            "schedule": expression,
            "next_firings": next,
            "report_time_local": format!("{:02}:{:02}", settings.scheduler_hour, settings.scheduler_minute),
            "catchup_days": settings.catchup_days,
            "last_run": last_run,
        }),
    ))
}

/// An NCRONTAB expression (the Functions timer's: 6 fields, day of week 0-6 from Sunday) in the
/// `cron` crate's syntax (day of week 1-7 from Sunday): numeric days of week are shifted by
/// one (the base of a step only: `*/2` keeps its step); names, `*` and `?` are left alone.
fn cron_expression(ncrontab: &str) -> String {
    let mut fields: Vec<String> = ncrontab.split_whitespace().map(str::to_string).collect();
    if fields.len() == 6 {
        let shift = |base: &str| -> String {
            base.split('-')
                .map(|t| match t.parse::<u8>() {
                    Ok(n @ 0..=6) => (n + 1).to_string(),
                    Ok(7) => "1".to_string(),
                    _ => t.to_string(),
                })
                .collect::<Vec<_>>()
                .join("-")
        };
        fields[5] = fields[5]
            .split(',')
            .map(|item| match item.split_once('/') {
                Some((base, step)) => format!("{}/{step}", shift(base)),
                None => shift(item),
            })
            .collect::<Vec<_>>()
            .join(",");
    }
    fields.join(" ")
}

// ---------------------------------------------------------------- dashboard, openapi

/// `GET /api/dashboard?org_id=&days=`: the HTML page over the last `days` (default 30) days.
async fn dashboard_page(app: &App, req: &Request) -> Result<Response, ApiError> {
    let org = resolve_org(app, req, req.query_param("org_id")).await?;
    let days: i64 = match req.query_param("days") {
        None => 30,
        Some(d) => d
            .parse()
            .ok()
            .filter(|d| (1..=90).contains(d))
            .ok_or_else(|| ApiError::invalid("days", "days must be 1-90"))?,
    };
    let to = org.yesterday(Utc::now());
    let from = to - Duration::days(days - 1);
    let present: std::collections::BTreeSet<NaiveDate> = listed(app, &org, Some(from), Some(to))
        .await?
        .into_iter()
        .map(|r| r.date)
        .collect();
    let reads = from.iter_days().take_while(|d| *d <= to).map(|d| {
        let app = app.clone();
        let org_id = org.org_id.clone();
        let has = present.contains(&d);
        async move {
            if !has {
                return Ok((d, None));
            }
            let object = snapshots::read(&app.storage, &org_id, d).await?;
            Ok::<_, StorageError>((
                d,
                object.and_then(|o| match serde_json::from_slice::<report::DailyReport>(&o.body) {
                    Ok(r) => Some(r),
                    Err(e) => {
                        tracing::error!(%org_id, date = %d, error = %e, "stored report unreadable; shown as missing");
                        None
                    }
                }),
            ))
        }
    });
    let days: Vec<(NaiveDate, Option<report::DailyReport>)> = futures::future::try_join_all(reads)
        .await
        .map_err(from_storage)?;
    Ok(html_response(dashboard::render(&org, &days, Utc::now())))
}

/// The OpenAPI 3 document of every route.
pub const OPENAPI: &str = include_str!("openapi.json");

/// Dispatches the `reports_http` routes.
pub async fn handle(
    app: &App,
    id: crate::routes::RouteId,
    req: &Request,
) -> Result<Response, ApiError> {
    use crate::routes::RouteId as R;
    match id {
        R::Health => Ok(health::handle(app).await),
        R::OpenApi => {
            let mut r = json_response(
                StatusCode::OK,
                &serde_json::from_str::<Value>(OPENAPI).expect("openapi.json is JSON"),
            );
            r.headers_mut().insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static("max-age=300"),
            );
            Ok(r)
        }
        R::Reports => list_reports(app, req).await,
        R::ReportsLatest => latest_report(app, req).await,
        R::ReportsGenerate => generate(app, req).await,
        R::ReportsBackfill => backfill(app, req).await,
        R::ReportsLive => live_report(app, req).await,
        R::ReportsTrend => trend(app, req).await,
        R::ReportByDate => report_by_date(app, req).await,
        R::ReportChanges => insights::changes(app, req).await,
        R::ReportsCalls => insights::calls(app, req).await,
        R::Orgs if req.method == warp::http::Method::POST => create_org(app, req).await,
        R::Orgs => list_orgs(app, req).await,
        R::Org if req.method == warp::http::Method::PATCH => patch_org(app, req).await,
        R::Org => get_org(app, req).await,
        R::SchedulerStatus => scheduler_status(app).await,
        R::Dashboard => dashboard_page(app, req).await,
        _ => unreachable!("not a reports_http route"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ncrontab_days_of_week_become_the_cron_crates() {
        assert_eq!(cron_expression("0 0 * * * *"), "0 0 * * * *");
        // NCRONTAB 1-5 is Monday-Friday; the cron crate counts Sunday as 1.
        assert_eq!(cron_expression("0 30 6 * * 1-5"), "0 30 6 * * 2-6");
        assert_eq!(cron_expression("0 0 6 * * 0,6"), "0 0 6 * * 1,7");
        assert_eq!(cron_expression("0 0 6 * * */2"), "0 0 6 * * */2");
        assert_eq!(cron_expression("0 0 6 * * Mon-Fri"), "0 0 6 * * Mon-Fri");
        let monday: DateTime<Utc> = "2025-12-15T00:00:00Z".parse().unwrap();
        let weekdays: Vec<String> = cron_expression("0 0 6 * * 1-5")
            .parse::<cron::Schedule>()
            .unwrap()
            .after(&monday)
            .take(6)
            .map(|t| t.format("%a").to_string())
            .collect();
        assert_eq!(weekdays, ["Mon", "Tue", "Wed", "Thu", "Fri", "Mon"]);
    }
}
