//! Stored reports (`docs/http-api.md`, "Routes"): `GET /api/reports`, `/api/reports/latest`,
//! `/api/reports/{date}` (or one of its revisions, `?revision=N`), `/api/reports/trend`.
//! Listings and the trend read blob metadata only ([`ReportSummary`], and the current
//! revision's number, `docs/revisions.md`); one report is one blob read.

use chrono::{Duration, NaiveDate};
use serde::Serialize;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{
    AdditionalProperties, KnownFormat, ObjectBuilder, Schema, SchemaFormat, SchemaType, Type,
};
use warp::http::StatusCode;
use warp::reply::Response;

use super::{date_param, resolve_org};
use crate::app::App;
use crate::daily_report::kpi::Kpi;
use crate::daily_report::summary::ReportSummary;
use crate::daily_report::{schedule, snapshots};
use crate::http::error::ApiError;
use crate::http::request::Request;
use crate::http::response::{json_response, with_etag};
use crate::orgs::{OrgId, Organization};

/// A listing row: the date, its current revision's number and headline KPIs, from blob
/// metadata.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ListedReport {
    pub date: NaiveDate,
    /// The current revision (`docs/revisions.md`): 1 for a date's first report and for one
    /// stored before revisions; its others are listed by `GET /api/reports/{date}/revisions`.
    #[schema(minimum = 1)]
    pub revision: u32,
    pub summary: ReportSummary,
}

/// `GET /api/reports`: newest first; `next_before` continues (`null` at the end).
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = ReportListing)]
pub struct ReportList {
    pub org_id: OrgId,
    pub org_name: String,
    /// Newest first, at most `limit`.
    #[schema(inline)]
    pub reports: Vec<ListedReport>,
    /// Pass as `before` for the next (older) page; null on the last page.
    #[schema(required)]
    pub next_before: Option<NaiveDate>,
}

/// One day of `GET /api/reports/trend`: `{"date", "revision", …}` with the current revision's
/// number and the number of every KPI a summary keeps, by its number key
/// ([`ReportSummary::numbers`]), each `null` without a report.
#[derive(Debug)]
pub struct TrendPoint {
    pub date: NaiveDate,
    /// That day's current revision (`docs/revisions.md`); `None` without a report.
    pub revision: Option<u32>,
    /// That day's summary; empty without a report.
    pub summary: ReportSummary,
}

/// Its schema: `date`, `revision` (at least 1, or `null`), then every kept KPI's number or
/// `null` ([`Kpi::number_schema`]).
impl utoipa::PartialSchema for TrendPoint {
    fn schema() -> RefOr<Schema> {
        let date = ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Date)));
        let revision = ObjectBuilder::new()
            .schema_type(SchemaType::from_iter([Type::Integer, Type::Null]))
            .minimum(Some(1))
            .description(Some(
                "The day's current revision (1 for a first report); null without a report.",
            ));
        let object = ObjectBuilder::new()
            .description(Some(
                "One day; `revision` and every KPI are null when the day has no stored report.",
            ))
            .property("date", date)
            .required("date")
            .property("revision", revision)
            .required("revision");
        Kpi::kept()
            .fold(object, |object, (kpi, key)| {
                object.property(key, kpi.number_schema(true)).required(key)
            })
            .additional_properties(Some(AdditionalProperties::FreeForm(false)))
            .into()
    }
}

impl utoipa::ToSchema for TrendPoint {}

impl Serialize for TrendPoint {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(None)?;
        map.serialize_entry("date", &self.date)?;
        map.serialize_entry("revision", &self.revision)?;
        for (key, number) in self.summary.numbers() {
            map.serialize_entry(key, &number)?;
        }
        map.end()
    }
}

/// `GET /api/reports/trend`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Trend {
    pub org_id: OrgId,
    /// `7d`, `30d` or `90d`.
    #[schema(pattern = "^(7d|30d|90d)$")]
    pub period: String,
    /// First day (period - 1 days before `to`).
    pub from: NaiveDate,
    /// Yesterday in the org's zone.
    pub to: NaiveDate,
    pub days_with_report: usize,
    /// Every day of `[from, to]`, in order.
    pub series: Vec<TrendPoint>,
}

/// Every stored report date of `org` in `[from, to]` with its current revision's number and
/// summary, newest first (one listing call per 5,000 reports; the prefix narrows to the year
/// when both ends share it). Kept revisions (`<date>/rev-<n>.json`) are not dates.
/// A report of a day that has not ended, or made before its day ended (by an earlier
/// version), is left out: it is neither the newest report nor a digest's
/// (`docs/access-and-safety.md`, "No report for a day that has not ended").
pub async fn listed(
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
    let now = app.clock.now();
    let mut rows = Vec::new();
    let mut continuation = None;
    loop {
        let page = app.storage.list(&prefix, continuation, 5000).await?;
        for e in page.entries {
            let Some(date) = snapshots::date_of(&base, &e.name) else {
                continue;
            };
            if from.is_some_and(|f| date < f) || to.is_some_and(|t| date > t) {
                continue;
            }
            let summary = ReportSummary::from_metadata(&e.metadata);
            let listed = snapshots::Listed::of(&e.metadata);
            if !schedule::has_ended(org, date, now)
                || schedule::premature(org, date, listed.generated_at)
            {
                continue;
            }
            rows.push(ListedReport {
                date,
                revision: listed.revision,
                summary,
            });
        }
        match page.next {
            Some(n) => continuation = Some(n),
            None => break,
        }
    }
    rows.sort_by_key(|r| std::cmp::Reverse(r.date));
    Ok(rows)
}

/// `GET /api/reports?org_id=&from=&to=&limit=&before=`.
#[utoipa::path(
    get,
    path = "/api/reports",
    operation_id = "listReports",
    tag = "reports",
    summary = "Stored reports with their summary KPIs, newest first",
    params(
        super::openapi::OrgIdQuery,
        ("from" = Option<NaiveDate>, Query, description = "First date, inclusive."),
        ("to" = Option<NaiveDate>, Query, description = "Last date, inclusive; not before `from`."),
        ("before" = Option<NaiveDate>, Query,
            description = "Only dates before this one: the previous page's `next_before`."),
        ("limit" = Option<usize>, Query, minimum = 1, maximum = 366,
            description = "Reports per page (default 30)."),
    ),
    responses(
        (status = 200, description = "OK", body = ReportList),
        (status = 400, response = super::openapi::BadRequest),
        (status = 404, response = super::openapi::NotFound),
        (status = 503, response = super::openapi::Unavailable),
    )
)]
pub async fn list(app: &App, req: &Request) -> Result<Response, ApiError> {
    let org = resolve_org(app, req, req.query_param("org_id")).await?;
    let from = date_param(req.query_param("from"), "from")?;
    let to = date_param(req.query_param("to"), "to")?;
    let before = date_param(req.query_param("before"), "before")?;
    if let (Some(f), Some(t)) = (from, to)
        && f > t
    {
        return Err(ApiError::invalid("from", "from is after to"));
    }
    let limit: usize = super::int_param(req, "limit", 1..=366, 30)?;
    let to = match (to, before) {
        (Some(t), Some(b)) => Some(t.min(b - Duration::days(1))),
        (t, b) => t.or(b.map(|b| b - Duration::days(1))),
    };
    let mut reports = listed(app, &org, from, to).await?;
    let next_before = (reports.len() > limit).then(|| reports[limit - 1].date);
    reports.truncate(limit);
    let reply = ReportList {
        org_id: org.org_id,
        org_name: org.name,
        reports,
        next_before,
    };
    Ok(json_response(StatusCode::OK, &reply))
}

/// `GET /api/reports/latest?org_id=`.
#[utoipa::path(
    get,
    path = "/api/reports/latest",
    operation_id = "latestReport",
    tag = "reports",
    summary = "The newest stored report",
    params(super::openapi::OrgIdQuery),
    responses(
        (status = 200, description = "OK", body = crate::daily_report::report::DailyReport,
            headers(("ETag" = String, description = "The version, for `If-Match`."))),
        (status = 400, response = super::openapi::BadRequest),
        (status = 404, response = super::openapi::NotFound),
        (status = 500, response = super::openapi::Internal),
        (status = 503, response = super::openapi::Unavailable),
    )
)]
pub async fn latest(app: &App, req: &Request) -> Result<Response, ApiError> {
    let org = resolve_org(app, req, req.query_param("org_id")).await?;
    let newest = listed(app, &org, None, None).await?.into_iter().next();
    let Some(row) = newest else {
        return Err(ApiError::report_not_found(org.org_id.as_str(), None));
    };
    stored_report(app, &org, row.date).await
}

/// `GET /api/reports/{date}?org_id=&revision=`: the current report, or revision `revision`
/// (`docs/revisions.md`; 404 when absent, 400 naming `revision` unless a whole number ≥ 1).
#[utoipa::path(
    get,
    path = "/api/reports/{date}",
    operation_id = "reportByDate",
    tag = "reports",
    summary = "One stored report, or one of its revisions",
    params(
        ("date" = NaiveDate, Path, example = "2025-12-15"),
        super::openapi::OrgIdQuery,
        ("revision" = Option<u32>, Query, minimum = 1,
            description = "A revision of the report (`GET /api/reports/{date}/revisions` lists \
            them); without it, the current one. 404 `report_not_found` when there is no such \
            revision."),
    ),
    responses(
        (status = 200, description = "OK", body = crate::daily_report::report::DailyReport,
            headers(("ETag" = String, description = "The stored version; of the current \
            revision, for `If-Match`."))),
        (status = 400, response = super::openapi::BadRequest),
        (status = 404, response = super::openapi::NotFound),
        (status = 500, response = super::openapi::Internal),
        (status = 503, response = super::openapi::Unavailable),
    )
)]
pub async fn by_date(app: &App, req: &Request) -> Result<Response, ApiError> {
    let date = crate::time::parse_date(&req.params[0], "date")?;
    let revision = super::revisions::revision_param(req)?;
    let org = resolve_org(app, req, req.query_param("org_id")).await?;
    match revision {
        None => stored_report(app, &org, date).await,
        Some(n) => super::revisions::stored_revision(app, &org, date, n).await,
    }
}

/// The stored report as it is (with its `ETag`), or 404.
async fn stored_report(
    app: &App,
    org: &Organization,
    date: NaiveDate,
) -> Result<Response, ApiError> {
    let Some(stored) = snapshots::read(&app.storage, &org.org_id, date).await? else {
        return Err(ApiError::report_not_found(org.org_id.as_str(), Some(date)));
    };
    Ok(with_etag(
        json_response(StatusCode::OK, &stored.report),
        &stored.etag,
    ))
}

/// `GET /api/reports/trend?org_id=&period=7d|30d|90d`: the daily series of the headline KPIs
/// from stored reports' metadata, every day present (null where no report).
#[utoipa::path(
    get,
    path = "/api/reports/trend",
    operation_id = "reportTrend",
    tag = "reports",
    summary = "Daily KPI series from stored reports",
    params(
        super::openapi::OrgIdQuery,
        ("period" = Option<String>, Query, pattern = "^(7d|30d|90d)$",
            description = "`7d`, `30d` (the default) or `90d`."),
    ),
    responses(
        (status = 200, description = "OK", body = Trend),
        (status = 400, response = super::openapi::BadRequest),
        (status = 404, response = super::openapi::NotFound),
        (status = 503, response = super::openapi::Unavailable),
    )
)]
pub async fn trend(app: &App, req: &Request) -> Result<Response, ApiError> {
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
    let to = org.yesterday(app.clock.now());
    let from = to - Duration::days(days - 1);
    let rows = listed(app, &org, Some(from), Some(to)).await?;
    let by_date: std::collections::HashMap<NaiveDate, &ListedReport> =
        rows.iter().map(|r| (r.date, r)).collect();
    let series = from
        .iter_days()
        .take_while(|d| *d <= to)
        .map(|date| {
            let row = by_date.get(&date);
            TrendPoint {
                date,
                revision: row.map(|r| r.revision),
                summary: row.map(|r| r.summary.clone()).unwrap_or_default(),
            }
        })
        .collect();
    let reply = Trend {
        org_id: org.org_id,
        period: format!("{days}d"),
        from,
        to,
        days_with_report: rows.len(),
        series,
    };
    Ok(json_response(StatusCode::OK, &reply))
}
