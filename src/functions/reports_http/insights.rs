//! The insight routes of `reports_http` (`docs/insights.md`, "Daily report: what changed" and
//! "the calls behind a number"; `docs/http-api.md`, "Routes"):
//!
//! * `GET /api/reports/{date}/changes?org_id=&min_calls=` — [`changes()`]: the day's stored
//!   report against the same weekday of the previous 4 weeks ([`crate::daily_report::changes`]).
//! * `GET /api/reports/calls?org_id=&date=&<dimension>=<value>&hour=&limit=&cursor=` —
//!   [`calls()`]: the calls behind a breakdown value or an hour, live from ClickHouse
//!   ([`crate::daily_report::calls`]). JSON by default; an HTML page (`templates/calls.html`) for
//!   `format=html` or `Accept: text/html`, with a "Next page" link.
//!
//! Every malformed parameter is a 400 whose `error.field` names it.

use warp::http::StatusCode;
use warp::reply::Response;

use super::openapi::{BadRequest, GatewayTimeout, Internal, NotFound, OrgIdQuery, Unavailable};
use super::{date_param, require_clickhouse, resolve_org};
use crate::app::App;
use crate::daily_report::calls::{self, Cursor, DEFAULT_LIMIT, Dimension, Filter, MAX_LIMIT};
use crate::daily_report::changes::{self, DEFAULT_MIN_CALLS};
use crate::http::error::ApiError;
use crate::http::request::Request;
use crate::http::response::{html_response, json_response};
use crate::orgs::Organization;
use crate::time::parse_date;

/// The largest `min_calls`.
pub const MAX_MIN_CALLS: u64 = 1_000_000;

/// The longest breakdown value a filter may name, in bytes.
pub const MAX_VALUE_LEN: usize = 256;

/// `GET /api/reports/{date}/changes?org_id=&min_calls=`: 200 with
/// [`changes::Changes`]; 404 when the org or the day's report is absent; 400 for a bad `date`
/// or `min_calls` (1..=[`MAX_MIN_CALLS`], default [`DEFAULT_MIN_CALLS`]). Reads the day's blob
/// and its baseline dates' (at most 5 reads, no listing).
#[utoipa::path(
    get,
    path = "/api/reports/{date}/changes",
    operation_id = "reportChanges",
    tag = "reports",
    summary = "What changed: the day's stored report against the same weekday of the previous \
        4 weeks",
    description = "Computed at read time from stored reports only (never ClickHouse): the \
        baseline is the median over the stored reports of date − 7, −14, −21 and −28 days. A \
        count or duration KPI is flagged when outside [min, max] of the baseline and at least \
        20 % from its median; a percentage KPI only with at least `min_calls` classified calls \
        on the day and a two-sided pooled two-proportion z-test at 95 % against the baseline \
        dates' summed counts. Reads at most 5 report blobs, no listing.",
    params(
        ("date" = chrono::NaiveDate, Path, example = "2025-12-15"),
        OrgIdQuery,
        ("min_calls" = Option<u64>, Query, minimum = 1, maximum = 1000000,
            description = "Classified calls the day needs before a percentage KPI can be \
            flagged (default 30)."),
    ),
    responses(
        (status = 200, description = "OK", body = changes::Changes),
        (status = 400, response = BadRequest),
        (status = 404, response = NotFound),
        (status = 500, response = Internal),
        (status = 503, response = Unavailable),
    )
)]
pub async fn changes(app: &App, req: &Request) -> Result<Response, ApiError> {
    let date = parse_date(&req.params[0], "date")?;
    let min_calls = super::int_param(req, "min_calls", 1..=MAX_MIN_CALLS, DEFAULT_MIN_CALLS)?;
    let org = resolve_org(app, req, req.query_param("org_id")).await?;
    let Some((day, baseline)) = changes::load(&app.storage, &org.org_id, date).await? else {
        return Err(ApiError::report_not_found(org.org_id.as_str(), Some(date)));
    };
    Ok(json_response(
        StatusCode::OK,
        &changes::compare(date, &org.org_id, &day, &baseline, min_calls),
    ))
}

/// The query parameters of [`calls`] (`code` is the Functions key; `format` is the page's).
const CALLS_PARAMS: [&str; 12] = [
    "org_id",
    "date",
    "limit",
    "cursor",
    "hour",
    "call_stage",
    "call_classification",
    "load_status",
    "pricing_notes",
    "carrier_end_state",
    "code",
    "format",
];

/// `GET /api/reports/calls?org_id=&date=&<dimension>=<value>&hour=&limit=&cursor=`: 200 with
/// [`calls::Page`]. `date` defaults to the org's yesterday; at most one of the dimensions
/// (`call_stage`, `call_classification`, `load_status`, `pricing_notes`, `carrier_end_state`;
/// `UNKNOWN` = missing or empty) and `hour` (`HH`, 00-23) selects; `limit` 1..=500 (default
/// 50); `cursor` is a previous page's `next_cursor`. `user_number` is whole only for a caller
/// that may change organizations (the admin role, or no principal), masked otherwise.
///
/// Errors: 400 naming the parameter (unknown or repeated ones too), 404 unknown org, 503
/// ClickHouse unavailable or not configured, 503 `busy` with `Retry-After` when the instance
/// runs its `CLICKHOUSE_LIVE_CONCURRENCY` live queries already, 504 query timeout.
#[utoipa::path(
    get,
    path = "/api/reports/calls",
    operation_id = "reportCalls",
    tag = "reports",
    summary = "The calls behind a number of a daily report, newest first, paginated",
    description = "Live from ClickHouse for one org's local date with the report's scoping \
        (excluded numbers left out, the latest output of the org's node per run). \
        `user_number` is masked to its last 4 digits unless the caller has the admin role (or \
        no principal). Unknown or repeated parameters are a 400 naming them.",
    params(
        OrgIdQuery,
        ("date" = Option<chrono::NaiveDate>, Query,
            description = "Local date; default yesterday in the org's zone."),
        ("call_stage" = Option<String>, Query, min_length = 1, max_length = 256,
            description = "Only the classified calls whose `call_stage` is this value of the \
            report's breakdown (`UNKNOWN`: missing or empty). At most one dimension or `hour`."),
        ("call_classification" = Option<String>, Query, min_length = 1, max_length = 256,
            description = "Only the classified calls whose `call_classification` is this value of the \
            report's breakdown (`UNKNOWN`: missing or empty). At most one dimension or `hour`."),
        ("load_status" = Option<String>, Query, min_length = 1, max_length = 256,
            description = "Only the classified calls whose `load_status` is this value of the \
            report's breakdown (`UNKNOWN`: missing or empty). At most one dimension or `hour`."),
        ("pricing_notes" = Option<String>, Query, min_length = 1, max_length = 256,
            description = "Only the classified calls whose `pricing_notes` is this value of the \
            report's breakdown (`UNKNOWN`: missing or empty). At most one dimension or `hour`."),
        ("carrier_end_state" = Option<String>, Query, min_length = 1, max_length = 256,
            description = "Only the classified calls whose `carrier_end_state` is this value of the \
            report's breakdown (`UNKNOWN`: missing or empty). At most one dimension or `hour`."),
        ("hour" = Option<String>, Query, pattern = "^([01][0-9]|2[0-3])$", example = "01",
            description = "Only the calls of this local clock hour (every call, as \
            `total_calls` counts them); on a fall-back day `01` covers both 01:00 hours."),
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 500,
            description = "Calls per page (default 50)."),
        ("cursor" = Option<String>, Query, description = "The `next_cursor` of the previous page."),
        ("format" = Option<String>, Query, pattern = "^(json|html)$",
            description = "`json` (the default) or `html`: the calls as an HTML page with a \
            next-page link (also for `Accept: text/html` without `format`)."),
    ),
    responses(
        (status = 200, description = "OK",
            content(
                (calls::Page = "application/json"),
                (String = "text/html"),
            )),
        (status = 400, response = BadRequest),
        (status = 404, response = NotFound),
        (status = 503, response = Unavailable),
        (status = 504, response = GatewayTimeout),
    )
)]
pub async fn calls(app: &App, req: &Request) -> Result<Response, ApiError> {
    for (i, (k, _)) in req.query.iter().enumerate() {
        if k.is_empty() || !CALLS_PARAMS.contains(&k.as_str()) {
            return Err(ApiError::invalid(
                k.as_str(),
                format!("unknown parameter {k:?}"),
            ));
        }
        if req.query[..i].iter().any(|(p, _)| p == k) {
            return Err(ApiError::invalid(
                k.as_str(),
                format!("{k} is given more than once"),
            ));
        }
    }
    let html = wants_html(req)?;
    let filter = calls_filter(req)?;
    let limit = super::int_param(req, "limit", 1..=MAX_LIMIT, DEFAULT_LIMIT)?;
    let cursor = req
        .query_param("cursor")
        .map(|v| {
            Cursor::decode(v).ok_or_else(|| {
                ApiError::invalid("cursor", "cursor is not a next_cursor of this route")
            })
        })
        .transpose()?;
    let date = date_param(req.query_param("date"), "date")?;
    let org = resolve_org(app, req, req.query_param("org_id")).await?;
    let date = date.unwrap_or_else(|| org.yesterday(app.clock.now()));
    let reveal_numbers = req.caller.is_admin();
    let ch = require_clickhouse(app)?;
    let _turn = super::live::turn(app).await?;
    let query = calls::Query {
        filter,
        limit,
        cursor,
        reveal_numbers,
    };
    match calls::fetch(ch, &org, date, &query).await {
        Ok(page) if html => Ok(html_response(calls_page(req, &org, &query.filter, &page))),
        Ok(page) => Ok(json_response(StatusCode::OK, &page)),
        Err(e) => {
            tracing::error!(org_id = %org.org_id, %date, error = %e, "calls query failed");
            Err(e.into())
        }
    }
}

/// The one dimension or `hour` a request names, or none.
fn calls_filter(req: &Request) -> Result<Filter, ApiError> {
    let mut filter = Filter::All;
    let mut named: Option<&str> = None;
    for (key, value) in &req.query {
        let next = if key == "hour" {
            let hour = Some(value.as_str())
                .filter(|v| v.len() == 2 && v.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|v| v.parse::<u32>().ok())
                .filter(|h| *h < 24)
                .ok_or_else(|| {
                    ApiError::invalid("hour", format!("hour {value:?} must be HH, 00-23"))
                })?;
            Filter::Hour(hour)
        } else if let Some(d) = Dimension::from_name(key) {
            if value.is_empty()
                || value.len() > MAX_VALUE_LEN
                || value.chars().any(char::is_control)
            {
                return Err(ApiError::invalid(
                    key.as_str(),
                    format!(
                        "{key} must be a breakdown value (1-{MAX_VALUE_LEN} bytes, UNKNOWN for missing)"
                    ),
                ));
            }
            Filter::Dimension(d, value.clone())
        } else {
            continue;
        };
        if let Some(first) = named {
            return Err(ApiError::invalid(
                key.as_str(),
                format!("{key} and {first} given: select by one dimension or hour"),
            ));
        }
        named = Some(key);
        filter = next;
    }
    Ok(filter)
}

/// Whether the reply is the HTML page: `format=html`, or no `format` and an `Accept` that
/// names `text/html`. `format` is `json` or `html` (400 otherwise).
fn wants_html(req: &Request) -> Result<bool, ApiError> {
    match req.query_param("format") {
        Some("html") => Ok(true),
        Some("json") => Ok(false),
        Some(v) => Err(ApiError::invalid(
            "format",
            format!("format {v:?} must be json or html"),
        )),
        None => Ok(req
            .header("accept")
            .is_some_and(|a| a.to_ascii_lowercase().contains("text/html"))),
    }
}

/// The view-model of `templates/calls.html`.
#[derive(askama::Template)]
#[template(path = "calls.html")]
struct CallsPage<'a> {
    org_name: &'a str,
    org_id: &'a str,
    /// The org's IANA zone, which the started times are in.
    timezone: &'a str,
    date: String,
    /// `call_stage = TRANSFER_FAILED`, `hour 09`, `every call of the day`.
    filter: String,
    calls: Vec<CallLine>,
    /// The page had a `cursor`.
    cursor_given: bool,
    /// The relative link to the next page; `None` on the last.
    next_href: Option<String>,
}

/// One call, formatted.
struct CallLine {
    run_id: String,
    /// Local time of day, `12:03:00`; the date is the page's.
    started: String,
    /// Its UTC offset, `-06:00` (two on a fall-back day).
    offset: String,
    duration: String,
    classification: String,
    stage: String,
    load_status: String,
    pricing_notes: String,
    carrier_end_state: String,
    carrier: String,
    reference: String,
    rate: String,
    number: String,
}

/// A query value, percent-encoded (all but ASCII letters, digits and `-._~`).
const QUERY_VALUE: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// The request's query with `cursor` set to `next` (and the Functions `code` kept), as a
/// relative link to this route.
fn next_href(req: &Request, next: &str) -> String {
    let enc = |v: &str| percent_encoding::utf8_percent_encode(v, QUERY_VALUE).to_string();
    let mut parts: Vec<String> = req
        .query
        .iter()
        .filter(|(k, _)| k != "cursor")
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect();
    parts.push(format!("cursor={}", enc(next)));
    format!("calls?{}", parts.join("&"))
}

fn calls_page(req: &Request, org: &Organization, filter: &Filter, page: &calls::Page) -> String {
    let text = |v: &Option<String>| v.clone().unwrap_or_else(|| "—".to_string());
    let minutes = |s: f64| {
        let s = s.max(0.0).round() as u64;
        format!("{}:{:02}", s / 60, s % 60)
    };
    crate::render::page(&CallsPage {
        org_name: &org.name,
        org_id: page.org_id.as_str(),
        timezone: org.timezone.name(),
        date: page.date.to_string(),
        filter: match filter {
            Filter::All => "every call of the day".to_string(),
            Filter::Dimension(d, v) => format!("{} = {v}", d.name()),
            Filter::Hour(h) => format!("hour {h:02} (local)"),
        },
        calls: page
            .calls
            .iter()
            .map(|c| CallLine {
                run_id: c.run_id.clone(),
                started: c.started_at.format("%H:%M:%S").to_string(),
                offset: c.started_at.format("%:z").to_string(),
                duration: minutes(c.duration_seconds),
                classification: text(&c.call_classification),
                stage: text(&c.call_stage),
                load_status: text(&c.load_status),
                pricing_notes: text(&c.pricing_notes),
                carrier_end_state: text(&c.carrier_end_state),
                carrier: text(&c.carrier_name),
                reference: text(&c.reference_number),
                rate: c
                    .agreed_upon_rate
                    .map_or_else(|| "—".to_string(), |r| format!("{r:.2}")),
                number: c.user_number.clone(),
            })
            .collect(),
        cursor_given: req.query_param("cursor").is_some(),
        next_href: page.next_cursor.as_deref().map(|n| next_href(req, n)),
    })
}
