//! The `GET /api/dashboard?org_id=` page (`docs/http-api.md`, "Routes"; the old tools'
//! frontend and dashboard): one org's stored daily reports over a period as one
//! self-contained HTML page.
//!
//! The page is the askama template `templates/dashboard.html` (on the shared
//! `templates/base.html`); this module turns the period's reports into its view-model:
//! formatted numbers (`crate::render::format`) and chart geometry
//! (`crate::render::chart`). The template escapes everything it prints. The charts are
//! inline SVG whose hover text is SVG `<title>`, so the page has no script and loads nothing:
//! it works offline and from a file.
//!
//! Here: the view-model, its assembly ([`render`]) and the route ([`page`]). The parts of
//! the page are built by `coverage` (the period, missing days, the empty state), `kpis`
//! (tiles and their changes), `trends` (a chart per KPI), `breakdowns` (breakdowns, hours
//! and funnel, linked to their calls), `nav` (the links to other days, periods and orgs) and
//! `series` (the period as CSV, `format=csv`).
//!
//! Decisions of this crate:
//! * The tiles, breakdowns and funnel show the day of `date=`, or else the latest date of the
//!   period that has a report; a `date=` without a stored report is a page that says so
//!   (with the backfill for it), not an error. Changes compare that day with the median of
//!   the same weekday of the previous 4 weeks ([`changes::change_of`], `docs/insights.md`,
//!   "Daily report: what changed"), named on the page (`median of 4 previous Mondays`,
//!   `no baseline`); the flagged ones come first, in a "What changed" strip and as the first
//!   tiles.
//! * Every breakdown row and every hour of `by_hour` links to the HTML page of its calls
//!   (`GET /api/reports/calls?…&format=html`, relative, values percent-encoded).
//! * A rate over classified calls on a day with no classified calls is undefined: its tile
//!   shows `—`, its chart a gap (the stored report says 0, which would read as a real 0%).
//!   The same holds for the average call length on a day with no calls.
//! * A day without a report is a hatched column in every chart; lines are broken there, never
//!   interpolated, and the header lists the missing dates.
//! * When the latest report is a revision after the first (`docs/revisions.md`), a note above
//!   the comparison says when it was revised, in the org's zone, and what changed in what was
//!   counted (`Revised 14:05: 25 more calls arrived`; `revised`), and links its revisions
//!   (`GET /api/reports/{date}/revisions`, relative).

mod breakdowns;
mod coverage;
mod kpis;
mod nav;
mod revised;
mod series;
#[cfg(test)]
mod tests;
mod trends;

pub use self::nav::Nav;
pub use self::series::to_csv;

use askama::Template;
use chrono::{DateTime, NaiveDate, Utc};
use warp::reply::Response;

use self::breakdowns::{Links, QUERY_VALUE};
use crate::app::App;
use crate::daily_report::changes::{self, KpiChange};
use crate::daily_report::kpi::Kpi;
use crate::daily_report::report::DailyReport;
use crate::daily_report::schedule;
use crate::daily_report::snapshots::{self, SnapshotError};
use crate::http::error::ApiError;
use crate::http::request::Request;
use crate::http::response::{html_response, safe_headers};
use crate::orgs::Organization;
use crate::render::chart::{Gridline, Line, Px, Rect};
use crate::render::format::{long_date, plural, thousands, utc_and_local};
use crate::render::page as render_page;
use crate::storage::StorageError;

/// Renders `org`'s dashboard over `days` (the period, in date order, e.g. the last 30 days;
/// `None` where no report is stored) as one HTML page that needs no network and no script.
///
/// Content: the org's name and time zone, the period, `generated_at` (UTC and local), and how
/// many days have a report (the missing dates listed, with the backfill route); then, for the
/// latest date that has a report: KPI tiles (total and classified calls, success rate, average
/// minutes per call with median and p90, total hours, carrier not qualified, transferred for
/// booking, carrier asked for transfer), each with its change from the median of the same
/// weekday of the previous 4 weeks (▲/▼; the flagged ones first, coloured good or bad, and
/// listed with value, baseline and change in a "What changed" strip above the tiles), and,
/// when that report is a revision after the first, when it was revised and what changed in
/// what was counted, with a link to its revisions; one
/// small trend chart per headline KPI over the whole period (calls as bars, rates and minutes
/// as lines; missing days as hatched gaps; each day's value as hover text); the funnel
/// (reached, drop-off, drop-off %) and the five breakdowns (value, count, percentage) as bar
/// lists, and the calls by hour; each breakdown row and hour links to its calls. Without any
/// report the page explains that reports appear after the daily timer runs or after
/// `POST /api/reports/backfill`, with a request body for the period.
///
/// All data (org name, breakdown values, …) is escaped.
///
/// Navigation as for a period of `days.len()` days ending yesterday with `org` the only org
/// ([`render_with`] says more).
pub fn render(
    org: &Organization,
    days: &[(NaiveDate, Option<DailyReport>)],
    generated_at: DateTime<Utc>,
) -> String {
    let stored: Vec<NaiveDate> = days
        .iter()
        .filter(|(_, r)| r.is_some())
        .map(|(d, _)| *d)
        .collect();
    let nav = Nav {
        days: days.len() as i64,
        date: None,
        stored: stored.first().zip(stored.last()).map(|(a, b)| (*a, *b)),
        orgs: std::slice::from_ref(org),
    };
    render_with(org, days, &[], &nav, generated_at)
}

/// [`render`] with `extra`: stored reports before the period (the latest day's baseline dates
/// that the period does not cover), used only for the comparison; and `nav`, where the page
/// is: with `nav.date`, the period ends that day (the last of `days`) and the page shows that
/// day's report, or says it has none. Above the content, plain links: the previous and next
/// day (each only when a stored report lies that way), the latest report (with `date`), the
/// 7/30/90-day periods (the current one `aria-current`), the CSV of the period, and, when the
/// caller sees several orgs, the others (by name), each keeping `days` and `date`.
pub fn render_with(
    org: &Organization,
    days: &[(NaiveDate, Option<DailyReport>)],
    extra: &[(NaiveDate, DailyReport)],
    nav: &Nav<'_>,
    generated_at: DateTime<Utc>,
) -> String {
    let mut series: Vec<Day<'_>> = days
        .iter()
        .map(|(date, report)| Day {
            date: *date,
            report: report.as_ref(),
        })
        .collect();
    // The caller gives date order; a stable sort keeps that promise cheap to rely on.
    series.sort_by_key(|d| d.date);
    let reported: Vec<(NaiveDate, &DailyReport)> = series
        .iter()
        .filter_map(|d| d.report.map(|r| (d.date, r)))
        .collect();
    // The shown day: `date=` (when stored), or the period's latest report.
    let shown = reported
        .last()
        .filter(|(date, _)| nav.date.is_none_or(|d| d == *date));
    let reports = shown.map(|&(date, latest)| {
        // The same weekday of the previous 4 weeks, from the period or `extra`, nearest first.
        let (dates, baseline): (Vec<NaiveDate>, Vec<&DailyReport>) =
            changes::baseline_candidates(date)
                .into_iter()
                .filter_map(|b| {
                    reported
                        .iter()
                        .find(|(d, _)| *d == b)
                        .map(|(_, r)| *r)
                        .or_else(|| extra.iter().find(|(d, _)| *d == b).map(|(_, r)| r))
                        .map(|r| (b, r))
                })
                .unzip();
        // Every tile against it, by the rules of the changes.
        let compared: Vec<(Kpi, KpiChange)> = Kpi::ALL
            .into_iter()
            .map(|k| {
                let change = changes::change_of(k, latest, &baseline, changes::DEFAULT_MIN_CALLS);
                (k, change)
            })
            .collect();
        let links = Links {
            org_id: org.org_id.as_str(),
            date,
        };
        let basis = kpis::basis(date, &dates);
        let revised = revised::note(latest, org.timezone, generated_at, &links);
        let mut r = reports(&series, date, latest, &compared, &basis, &links, revised);
        if nav.date.is_some() {
            r.heading = "Report";
        }
        r
    });
    let to = series.last().map_or(NaiveDate::MIN, |d| d.date);
    let day = nav.date.or(reported.last().map(|(d, _)| *d)).unwrap_or(to);
    // `date=` without a report: the page says so, and the backfill is for that day.
    let missing_day = nav.date.filter(|_| reports.is_none());
    let backfill_body = match missing_day {
        Some(d) => coverage::backfill_body(
            org,
            &[Day {
                date: d,
                report: None,
            }],
        ),
        None => coverage::backfill_body(org, &series),
    };
    render_page(&DashboardPage {
        org_name: &org.name,
        period: coverage::period_text(&series),
        timezone: org.timezone.name(),
        generated_at: utc_and_local(generated_at, org.timezone),
        coverage: coverage::summary(&series, reported.len()),
        nav: nav::links(org, nav, day, to),
        reports,
        missing_day: missing_day.map(long_date),
        backfill_body,
    })
}

/// One date of the period.
#[derive(Debug, Clone, Copy)]
struct Day<'a> {
    date: NaiveDate,
    report: Option<&'a DailyReport>,
}

// ---------------------------------------------------------------------------------------------
// The view-model of `templates/dashboard.html`

#[derive(Template)]
#[template(path = "dashboard.html")]
struct DashboardPage<'a> {
    org_name: &'a str,
    period: String,
    timezone: &'a str,
    generated_at: String,
    coverage: Coverage,
    nav: NavLinks,
    /// `None`: no report in the period (or on `date=`), the page shows its empty state.
    reports: Option<Reports>,
    /// `date=` has no report: the empty state names it (`Tue 2025-12-09`).
    missing_day: Option<String>,
    /// The empty state's example request body.
    backfill_body: String,
}

/// The links above the content (`nav`), all relative to the page.
struct NavLinks {
    /// The shown day, `Tue 2025-12-09`.
    day: String,
    /// `None` when no stored report lies that way.
    previous: Option<DayLink>,
    next: Option<DayLink>,
    /// The page without `date` (latest report), when it has one.
    latest: Option<String>,
    periods: Vec<PeriodLink>,
    /// The orgs the caller may see, by name; empty unless there are several.
    orgs: Vec<OrgLink>,
    /// The period's daily series as CSV (`format=csv`, the period's last day pinned).
    csv_href: String,
}

struct DayLink {
    href: String,
    /// `Mon 2025-12-08`.
    date: String,
}

struct PeriodLink {
    days: i64,
    href: String,
    /// The page's period (`aria-current`).
    current: bool,
}

struct OrgLink {
    name: String,
    href: String,
    /// The page's org (`aria-current`).
    current: bool,
}

struct Coverage {
    /// Some day has no report.
    partial: bool,
    /// `27 of 30 days have a report`.
    headline: String,
    /// The missing dates, listed when some (not all) days have a report.
    missing: Option<String>,
}

/// Everything shown when the period has a report.
struct Reports {
    /// `Latest report`, or `Report` for the day of `date=`.
    heading: &'static str,
    /// The shown day, `Mon 2025-12-15`.
    date: String,
    /// `None` unless the latest report is a revision after the first.
    revised: Option<Revised>,
    note: String,
    /// `median of 4 previous Mondays`, `no baseline`.
    basis: String,
    /// Some report of the same weekday of the previous 4 weeks is stored.
    has_baseline: bool,
    /// The baseline dates, for the basis's hover text.
    basis_title: String,
    /// The flagged changes, in tile order ("What changed").
    flagged: Vec<ChangeItem>,
    /// Flagged tiles first.
    tiles: Vec<Tile>,
    trends: Vec<TrendCard>,
    /// `240 classified calls of 304 calls`.
    breakdown_note: String,
    /// The latest report's classified calls, grouped.
    classified: String,
    /// Empty when no call reached the funnel.
    funnel: Vec<FunnelRow>,
    breakdowns: Vec<BreakdownCard>,
    /// The report's `by_hour` (empty in reports written before it existed).
    hours: Vec<HourLine>,
    /// The calls page of every call of the day.
    all_calls_href: String,
}

/// The note over a revised report (`revised::note`).
struct Revised {
    revision: u32,
    /// `Revised 14:05: 25 more calls arrived`.
    text: String,
    /// Its hover text: the revision's and the replaced one's times, in full.
    title: String,
    /// The revisions of the date (relative).
    href: String,
}

/// A flagged change: the day's value, the baseline and the difference.
struct ChangeItem {
    field: &'static str,
    label: &'static str,
    /// `good` or `bad` when the direction matters.
    tone: Option<&'static str>,
    value: String,
    baseline: Option<String>,
    change: String,
    in_points: bool,
}

/// One local hour of the day.
struct HourLine {
    /// `HH:00`.
    hour: String,
    /// Its first instant (RFC 3339), which tells the two `01:00` of a fall-back day apart.
    start: String,
    total: String,
    classified: String,
    success: String,
    /// The bar's width, a percent of the busiest hour.
    width: String,
    href: String,
}

struct Tile {
    field: &'static str,
    label: &'static str,
    /// The number and its unit; `None` when undefined that day (shown as `—`).
    value: Option<(String, &'static str)>,
    sub: String,
    /// The comparison flags the change.
    flagged: bool,
    /// `None`: no baseline to compare with.
    delta: Option<Delta>,
}

struct Delta {
    /// `good` or `bad` for a flagged change whose direction matters, `flagged` for another
    /// flagged one.
    tone: Option<&'static str>,
    /// `▲ 7.00 pp`, `no change`, `n/a`.
    change: String,
    /// The change is in percentage points.
    in_points: bool,
    vs_title: String,
    /// The basis, `median of 4 previous Mondays`.
    vs: String,
}

struct TrendCard {
    title: &'static str,
    /// The latest report's value (`None`: undefined) and date.
    now: Option<Now>,
    chart: TrendChart,
    /// The bars' labels (outer, inner) when the chart draws one KPI inside another.
    legend: Option<(&'static str, &'static str)>,
}

struct Now {
    value: Option<String>,
    date: String,
}

struct TrendChart {
    id: &'static str,
    view_box: String,
    description: String,
    gridlines: Vec<Gridline>,
    /// Hatched columns, with their date.
    missing: Vec<(NaiveDate, Rect)>,
    /// Bars with their class (`bar`, `bar inner`), in drawing order.
    bars: Vec<(&'static str, Rect)>,
    line: Line,
    x_labels: Vec<XLabel>,
    x_label_y: Px,
    /// One full-height hover column per date, with its hover text.
    hits: Vec<(String, Rect)>,
}

struct XLabel {
    x: Px,
    anchor: &'static str,
    text: String,
}

struct FunnelRow {
    /// Branches from the stage before the previous one (drawn indented).
    branch: bool,
    stage: String,
    /// The bar's width, a percent of the first stage, 2 decimals.
    width: String,
    reached: String,
    /// `None` for the first stage.
    drop: Option<FunnelDrop>,
}

struct FunnelDrop {
    count: String,
    percent: String,
    /// Nothing dropped off.
    none: bool,
}

struct BreakdownCard {
    title: &'static str,
    field: &'static str,
    rows: Vec<BreakdownLine>,
}

struct BreakdownLine {
    value: String,
    count: String,
    percent: String,
    /// The bar's width, a percent, 2 decimals.
    width: String,
    /// The calls behind the row.
    href: String,
}

fn reports(
    series: &[Day<'_>],
    date: NaiveDate,
    latest: &DailyReport,
    compared: &[(Kpi, KpiChange)],
    basis: &kpis::Basis,
    links: &Links<'_>,
    revised: Option<Revised>,
) -> Reports {
    let mut note = if basis.dates.is_empty() {
        format!(
            "No baseline: no stored report on the same weekday of the previous {} weeks.",
            changes::BASELINE_WEEKS
        )
    } else {
        format!("Changes are against the {}.", basis.label)
    };
    if let Some(last) = series.last().filter(|d| d.date != date) {
        note.push_str(&format!(
            " The period ends {}; later days have no report.",
            last.date
        ));
    }
    let k = &latest.kpis;
    let mut tiles: Vec<Tile> = compared
        .iter()
        .map(|(kpi, change)| kpis::tile(*kpi, latest, change, basis))
        .collect();
    // Flagged tiles first (a stable sort keeps the page order otherwise).
    tiles.sort_by_key(|t| !t.flagged);
    let flagged = compared
        .iter()
        .filter_map(|(kpi, change)| kpis::flagged_change(*kpi, change))
        .collect();
    Reports {
        heading: "Latest report",
        date: long_date(date),
        revised,
        note,
        basis: basis.label.clone(),
        has_baseline: !basis.dates.is_empty(),
        basis_title: basis.title.clone(),
        flagged,
        tiles,
        trends: trends::ALL
            .iter()
            .map(|t| trends::card(t, series))
            .collect(),
        breakdown_note: format!(
            "{} of {}",
            plural(
                k.classified_calls as usize,
                "classified call",
                "classified calls"
            ),
            plural(k.total_calls as usize, "call", "calls"),
        ),
        classified: thousands(k.classified_calls),
        all_calls_href: format!(
            "reports/calls?org_id={}&date={date}&format=html",
            percent_encoding::utf8_percent_encode(links.org_id, QUERY_VALUE)
        ),
        funnel: breakdowns::funnel(&latest.breakdowns.funnel),
        breakdowns: breakdowns::cards(latest, links),
        hours: breakdowns::hour_lines(&latest.breakdowns.by_hour, links),
    }
}

// ---------------------------------------------------------------- the route

/// `GET /api/dashboard?org_id=&days=&date=&format=`: the HTML page over the `days` days
/// (1-90, default 30) ending `date` (default: the org's yesterday; 400 naming `date` unless
/// `YYYY-MM-DD` of a local day that has ended), or with `format=csv` the period's daily
/// series ([`to_csv`]) as an attachment `<org_id>-<from>-<to>.csv`; `format` is `html` (the
/// default) or `csv` (400 naming `format` otherwise). Same rule as the page (org reader).
///
/// Cost: one listing of the org's reports (the nearest stored days either way, and the period),
/// one blob read per stored day of the period and, for the page, per baseline date of the
/// shown day before the period, and the orgs the caller sees (the switcher).
#[utoipa::path(
    get,
    path = "/api/dashboard",
    operation_id = "dashboard",
    tag = "reports",
    summary = "An HTML dashboard over stored reports, or its period as CSV",
    params(
        super::openapi::OrgIdQuery,
        ("days" = Option<u32>, Query, minimum = 1, maximum = 90,
            description = "The period's length in days (default 30); the page links 7, 30 \
            and 90."),
        ("date" = Option<chrono::NaiveDate>, Query, example = "2025-12-15",
            description = "The period's last day and the day of the tiles, breakdowns and \
            \"what changed\" (default: the latest report of the period ending yesterday in \
            the org's zone). A day whose local day has not ended is a 400; a day without a \
            stored report is a page that says so."),
        ("format" = Option<String>, Query, pattern = "^(html|csv)$",
            description = "`html` (the default) or `csv`: the period's daily series, RFC \
            4180, a header row `date` and each headline KPI's label, one row per day (empty \
            cells where the day has no report or the KPI is undefined)."),
    ),
    responses(
        (status = 200, description = "The page; with `format=csv`, the period as CSV, \
            `Content-Disposition: attachment; filename=\"<org_id>-<from>-<to>.csv\"`.",
            content(
                (String = "text/html"),
                (String = "text/csv"),
            )),
        (status = 400, response = super::openapi::BadRequest),
        (status = 404, response = super::openapi::NotFound),
        (status = 503, response = super::openapi::Unavailable),
    )
)]
pub async fn page(app: &App, req: &Request) -> Result<Response, ApiError> {
    let org = super::resolve_org(app, req, req.query_param("org_id")).await?;
    let days: i64 = super::int_param(req, "days", 1..=90, 30)?;
    let date = super::date_param(req.query_param("date"), "date")?;
    let csv = match req.query_param("format") {
        None | Some("html") => false,
        Some("csv") => true,
        Some(v) => {
            return Err(ApiError::invalid(
                "format",
                format!("format {v:?} must be html or csv"),
            ));
        }
    };
    let now = app.clock.now();
    if let Some(d) = date {
        schedule::check_ended(std::slice::from_ref(&org), d, now, "date")?;
    }
    let to = date.unwrap_or_else(|| org.yesterday(now));
    let from = to - chrono::Duration::days(days - 1);
    // One listing of every stored date (one call per 5,000 reports): the period, the
    // baseline dates of its last day, and the nearest stored days either way.
    let present: std::collections::BTreeSet<NaiveDate> =
        super::stored::listed(app, &org, None, None)
            .await?
            .into_iter()
            .map(|r| r.date)
            .collect();
    // The shown day, and its baseline dates before the period (not for the CSV).
    let shown = match date {
        Some(d) => present.contains(&d).then_some(d),
        None => present.range(from..=to).next_back().copied(),
    };
    let before: Vec<NaiveDate> = shown
        .filter(|_| !csv)
        .map(changes::baseline_candidates)
        .unwrap_or_default()
        .into_iter()
        .filter(|b| *b < from && present.contains(b))
        .collect();
    let period = from.iter_days().take_while(|d| *d <= to);
    let reads = period.chain(before.iter().copied()).map(|d| {
        let (app, org_id) = (app.clone(), org.org_id.clone());
        let stored = present.contains(&d);
        async move {
            if !stored {
                return Ok((d, None));
            }
            // An unreadable report is shown as missing.
            let stored = snapshots::read(&app.storage, &org_id, d)
                .await
                .or_else(SnapshotError::as_absent)?;
            Ok::<_, StorageError>((d, stored.map(|s| s.report)))
        }
    });
    let mut days_read: Vec<(NaiveDate, Option<DailyReport>)> =
        futures::future::try_join_all(reads).await?;
    let extra: Vec<(NaiveDate, DailyReport)> = days_read
        .split_off(days_read.len() - before.len())
        .into_iter()
        .filter_map(|(d, r)| r.map(|r| (d, r)))
        .collect();
    if csv {
        let name = format!("{}-{from}-{to}.csv", org.org_id);
        return Ok(csv_response(to_csv(&days_read), &name));
    }
    let orgs = super::visible_orgs(app, req).await?;
    let nav = Nav {
        days,
        date,
        stored: present.first().zip(present.last()).map(|(a, b)| (*a, *b)),
        orgs: &orgs,
    };
    Ok(html_response(render_with(
        &org, &days_read, &extra, &nav, now,
    )))
}

/// `body` as `text/csv; charset=utf-8`, an attachment named `filename` (an org id and dates:
/// plain ASCII, nothing to quote), with the headers of every reply.
fn csv_response(body: Vec<u8>, filename: &str) -> Response {
    use warp::http::{HeaderValue, header};
    use warp::reply::Reply as _;
    let mut r = body.into_response();
    let headers = r.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    let disposition = format!("attachment; filename=\"{filename}\"");
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    safe_headers(headers);
    r
}
