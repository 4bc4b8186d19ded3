//! The `GET /api/dashboard?org_id=` page (`docs/http-api.md`, "Routes"; the old tools'
//! frontend and dashboard): one org's stored daily reports over a period as one
//! self-contained HTML page.
//!
//! The page is the askama template `templates/dashboard.html` (on the shared
//! `templates/base.html`); this module turns the period's reports into its view-model:
//! formatted numbers ([`crate::render::format`]) and chart geometry
//! ([`crate::render::chart`]). The template escapes everything it prints. The charts are
//! inline SVG whose hover text is SVG `<title>`, so the page has no script and loads nothing:
//! it works offline and from a file.
//!
//! Decisions of this crate:
//! * The tiles, breakdowns and funnel show the latest date of the period that has a report;
//!   changes compare it with the median of the same weekday of the previous 4 weeks
//!   ([`changes::compare`], `docs/insights.md`, "Daily report: what changed"), named on the
//!   page (`median of 4 previous Mondays`, `no baseline`); the flagged ones come first, in a
//!   "What changed" strip and as the first tiles.
//! * Every breakdown row and every hour of `by_hour` links to the HTML page of its calls
//!   (`GET /api/reports/calls?…&format=html`, relative, values percent-encoded).
//! * A rate over classified calls on a day with no classified calls is undefined: its tile
//!   shows `—`, its chart a gap (the stored report says 0, which would read as a real 0%).
//!   The same holds for the average call length on a day with no calls.
//! * A day without a report is a hatched column in every chart; lines are broken there, never
//!   interpolated, and the header lists the missing dates.

use askama::Template;
use chrono::{DateTime, NaiveDate, Utc};

use warp::reply::Response;

use crate::app::App;
use crate::daily_report::changes::{self, Changes, Flag, KpiChange};
use crate::daily_report::report::{self, BreakdownRow, DailyReport, FunnelStep, HourRow};
use crate::daily_report::snapshots;
use crate::http::error::ApiError;
use crate::http::request::Request;
use crate::http::response::html_response;
use crate::orgs::Organization;
use crate::render::chart::{EdgeLabel, Frame, Gridline, Line, Px, Rect, Scale, Slots, Ticks};
use crate::render::format::{
    Unit, long_date, plural, round2, short_date, thousands, utc_and_local,
};
use crate::render::page as render_page;
use crate::storage::StorageError;

/// Missing dates (or ranges of them) listed by name in the header; the rest are counted.
const MISSING_LISTED: usize = 8;

/// Renders `org`'s dashboard over `days` (the period, in date order, e.g. the last 30 days;
/// `None` where no report is stored) as one HTML page that needs no network and no script.
///
/// Content: the org's name and time zone, the period, `generated_at` (UTC and local), and how
/// many days have a report (the missing dates listed, with the backfill route); then, for the
/// latest date that has a report: KPI tiles (total and classified calls, success rate, average
/// minutes per call with median and p90, total hours, carrier not qualified, transferred for
/// booking, carrier asked for transfer), each with its change from the median of the same
/// weekday of the previous 4 weeks (▲/▼; the flagged ones first, coloured good or bad, and
/// listed with value, baseline and change in a "What changed" strip above the tiles); one small trend chart per headline
/// KPI over the whole period (calls as bars, rates and minutes as lines; missing days as
/// hatched gaps; each day's value as hover text); the funnel (reached, drop-off, drop-off %)
/// and the five breakdowns (value, count, percentage) as bar lists, and the calls by hour; each
/// breakdown row and hour links to its calls. Without any report the
/// page explains that reports appear after the daily timer runs or after
/// `POST /api/reports/backfill`, with a request body for the period.
///
/// All data (org name, breakdown values, …) is escaped.
pub fn render(
    org: &Organization,
    days: &[(NaiveDate, Option<DailyReport>)],
    generated_at: DateTime<Utc>,
) -> String {
    render_with(org, days, &[], generated_at)
}

/// [`render`] with `extra`: stored reports before the period (the latest day's baseline dates
/// that the period does not cover), used only for the comparison.
pub fn render_with(
    org: &Organization,
    days: &[(NaiveDate, Option<DailyReport>)],
    extra: &[(NaiveDate, DailyReport)],
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
    let reports = reported.last().map(|&(date, latest)| {
        // The same weekday of the previous 4 weeks, from the period or `extra`, nearest first.
        let baseline: Vec<(NaiveDate, DailyReport)> = changes::baseline_candidates(date)
            .into_iter()
            .filter_map(|b| {
                reported
                    .iter()
                    .find(|(d, _)| *d == b)
                    .map(|(_, r)| *r)
                    .or_else(|| extra.iter().find(|(d, _)| *d == b).map(|(_, r)| r))
                    .map(|r| (b, r.clone()))
            })
            .collect();
        let compared = changes::compare(
            date,
            &org.org_id,
            latest,
            &baseline,
            changes::DEFAULT_MIN_CALLS,
        );
        let hours = compare_hours(latest, &baseline);
        let links = Links {
            org_id: &org.org_id,
            date,
        };
        reports(&series, date, latest, &compared, hours, &links)
    });
    render_page(&DashboardPage {
        org_name: &org.name,
        period: period_text(&series),
        timezone: org.timezone.name(),
        generated_at: utc_and_local(generated_at, org.timezone),
        coverage: coverage(&series, reported.len()),
        reports,
        backfill_body: backfill_body(org, &series),
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
    /// `None`: no report in the period, the page shows its empty state.
    reports: Option<Reports>,
    /// The empty state's example request body.
    backfill_body: String,
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
    /// The latest date with a report, `Mon 2025-12-15`.
    date: String,
    note: String,
    /// `median of 4 previous Mondays`, `no baseline`.
    basis: String,
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

// ---------------------------------------------------------------------------------------------
// Header

fn period_text(series: &[Day<'_>]) -> String {
    match (series.first(), series.last()) {
        (Some(first), Some(last)) if first.date == last.date => long_date(first.date),
        (Some(first), Some(last)) => format!(
            "{} to {} ({})",
            first.date,
            last.date,
            plural(series.len(), "day", "days")
        ),
        _ => "no dates".to_string(),
    }
}

/// Runs of consecutive dates without a report, as `(first, last)`.
fn missing_ranges(series: &[Day<'_>]) -> Vec<(NaiveDate, NaiveDate)> {
    let mut ranges: Vec<(NaiveDate, NaiveDate)> = Vec::new();
    for d in series.iter().filter(|d| d.report.is_none()) {
        match ranges.last_mut() {
            Some((_, last)) if last.succ_opt() == Some(d.date) => *last = d.date,
            _ => ranges.push((d.date, d.date)),
        }
    }
    ranges
}

fn coverage(series: &[Day<'_>], reported: usize) -> Coverage {
    let total = series.len();
    let headline = format!(
        "{} of {} {} a report",
        thousands(reported),
        plural(total, "day", "days"),
        if total == 1 { "has" } else { "have" }
    );
    let partial = reported != total;
    if !partial || reported == 0 {
        return Coverage {
            partial,
            headline,
            missing: None,
        };
    }
    let ranges = missing_ranges(series);
    let mut listed: Vec<String> = ranges
        .iter()
        .take(MISSING_LISTED)
        .map(|&(a, b)| {
            if a == b {
                a.to_string()
            } else {
                format!("{a} to {b}")
            }
        })
        .collect();
    if ranges.len() > MISSING_LISTED {
        let rest: usize = ranges[MISSING_LISTED..]
            .iter()
            .map(|(a, b)| (*b - *a).num_days() as usize + 1)
            .sum();
        listed.push(format!("and {} more", plural(rest, "day", "days")));
    }
    Coverage {
        partial,
        headline,
        missing: Some(listed.join(", ")),
    }
}

// ---------------------------------------------------------------------------------------------
// KPIs

/// One headline KPI (whether a move is good news is the changes' `good`): its report field, how it reads, and its value in a report (`None` when
/// undefined that day).
struct Kpi {
    field: &'static str,
    label: &'static str,
    unit: Unit,
    value: fn(&DailyReport) -> Option<f64>,
}

/// A rate over classified calls, undefined without any.
fn over_classified(r: &DailyReport, value: f64) -> Option<f64> {
    (r.kpis.classified_calls > 0).then_some(value)
}

const TOTAL_CALLS: Kpi = Kpi {
    field: "total_calls",
    label: "Total calls",
    unit: Unit::Count,
    value: |r| Some(r.kpis.total_calls as f64),
};
const CLASSIFIED_CALLS: Kpi = Kpi {
    field: "classified_calls",
    label: "Classified calls",
    unit: Unit::Count,
    value: |r| Some(r.kpis.classified_calls as f64),
};
const SUCCESS_RATE: Kpi = Kpi {
    field: "success_rate_percent",
    label: "Success rate",
    unit: Unit::Percent,
    value: |r| over_classified(r, r.kpis.success_rate_percent),
};
const AVG_MINUTES: Kpi = Kpi {
    field: "avg_minutes_per_call",
    label: "Avg minutes per call",
    unit: Unit::Minutes,
    value: |r| (r.kpis.total_calls > 0).then_some(r.kpis.avg_minutes_per_call),
};
const TOTAL_HOURS: Kpi = Kpi {
    field: "total_duration_hours",
    label: "Total call time",
    unit: Unit::Hours,
    value: |r| Some(r.kpis.total_duration_hours),
};
const NOT_QUALIFIED: Kpi = Kpi {
    field: "carrier_not_qualified",
    label: "Carrier not qualified",
    unit: Unit::Percent,
    value: |r| over_classified(r, r.kpis.carrier_not_qualified.percentage),
};
const TRANSFERRED: Kpi = Kpi {
    field: "successfully_transferred_for_booking",
    label: "Transferred for booking",
    unit: Unit::Percent,
    value: |r| {
        over_classified(
            r,
            r.kpis
                .successfully_transferred_for_booking
                .successfully_transferred_for_booking_percentage,
        )
    },
};
const CARRIER_ASKED: Kpi = Kpi {
    field: "carrier_transfer_over_total_call_attempts",
    label: "Carrier asked for transfer",
    unit: Unit::Percent,
    value: |r| {
        over_classified(
            r,
            r.kpis
                .carrier_transfer_over_total_call_attempts
                .carrier_asked_percentage,
        )
    },
};

/// The tiles, in page order.
const TILES: [&Kpi; 8] = [
    &TOTAL_CALLS,
    &CLASSIFIED_CALLS,
    &SUCCESS_RATE,
    &AVG_MINUTES,
    &TOTAL_HOURS,
    &NOT_QUALIFIED,
    &TRANSFERRED,
    &CARRIER_ASKED,
];

/// The count behind a rate tile, e.g. `58 of 211 classified`.
fn of_classified(count: u64, total: u64) -> String {
    format!("{} of {} classified", thousands(count), thousands(total))
}

/// The small line under a tile's value.
fn tile_sub(kpi: &Kpi, r: &DailyReport) -> String {
    let k = &r.kpis;
    let c = k.classified_calls;
    if kpi.unit == Unit::Percent && c == 0 {
        return "no classified calls".to_string();
    }
    match kpi.field {
        "total_calls" => "all calls that day".to_string(),
        "classified_calls" => format!(
            "{} of all calls",
            Unit::Percent.with_unit(if k.total_calls == 0 {
                0.0
            } else {
                100.0 * c as f64 / k.total_calls as f64
            })
        ),
        "success_rate_percent" => {
            // The count is the `success` row of the classification breakdown.
            let n = r
                .breakdowns
                .call_classification
                .iter()
                .find(|row| row.value == "success")
                .map_or(0, |row| row.count);
            of_classified(n, c)
        }
        "avg_minutes_per_call" if k.total_calls == 0 => "no calls".to_string(),
        "avg_minutes_per_call" => format!(
            "median {} · p90 {} min",
            Unit::Minutes.number(k.median_minutes_per_call),
            Unit::Minutes.number(k.p90_minutes_per_call)
        ),
        "total_duration_hours" => "sum of call durations".to_string(),
        "carrier_not_qualified" => of_classified(k.carrier_not_qualified.count, c),
        "successfully_transferred_for_booking" => of_classified(
            k.successfully_transferred_for_booking
                .successfully_transferred_for_booking_count,
            c,
        ),
        "carrier_transfer_over_total_call_attempts" => of_classified(
            k.carrier_transfer_over_total_call_attempts
                .carrier_asked_count,
            c,
        ),
        _ => String::new(),
    }
}

/// The change of `kpi` from the comparison: the KPI's own, or (total call time, which the
/// changes do not cover) `hours`.
fn kpi_change<'c>(kpi: &Kpi, c: &'c Changes, hours: &'c KpiChange) -> &'c KpiChange {
    let k = &c.kpis;
    match kpi.field {
        "total_calls" => &k.total_calls,
        "classified_calls" => &k.classified_calls,
        "success_rate_percent" => &k.success_rate_percent,
        "avg_minutes_per_call" => &k.avg_minutes_per_call,
        "carrier_not_qualified" => &k.carrier_not_qualified,
        "successfully_transferred_for_booking" => &k.successfully_transferred_for_booking,
        "carrier_transfer_over_total_call_attempts" => &k.carrier_transfer_over_total_call_attempts,
        _ => hours,
    }
}

/// Total call time against the baseline, by the count and duration rule of the changes.
fn compare_hours(day: &DailyReport, baseline: &[(NaiveDate, DailyReport)]) -> KpiChange {
    let values: Vec<f64> = baseline
        .iter()
        .map(|(_, r)| r.kpis.total_duration_hours)
        .collect();
    changes::level_change(day.kpis.total_duration_hours, &values, None)
}

/// What the comparison is against: `median of 4 previous Mondays`, or `no baseline`.
fn basis_label(date: NaiveDate, baseline_dates: &[NaiveDate]) -> String {
    if baseline_dates.is_empty() {
        return "no baseline".to_string();
    }
    let weekday = date.format("%A").to_string();
    format!(
        "median of {}",
        plural(
            baseline_dates.len(),
            &format!("previous {weekday}"),
            &format!("previous {weekday}s")
        )
    )
}

/// `▲ 7.00 pp`, `▼ 70`, `no change`.
fn change_text(kpi: &Kpi, diff: f64) -> String {
    let diff = round2(diff);
    if diff == 0.0 {
        return "no change".to_string();
    }
    let arrow = if diff > 0.0 { "▲" } else { "▼" };
    let amount = match kpi.unit {
        Unit::Percent => format!("{:.2} pp", diff.abs()),
        unit => unit.with_unit(diff.abs()),
    };
    format!("{arrow} {amount}")
}

/// `good` or `bad` for a flagged change whose direction matters; `None` otherwise.
fn tone(change: &KpiChange) -> Option<&'static str> {
    match (change.flag, change.good) {
        (Flag::None, _) | (_, None) => None,
        (_, Some(true)) => Some("good"),
        (_, Some(false)) => Some("bad"),
    }
}

/// The change of a tile against the baseline (`None`: no baseline).
fn delta(kpi: &Kpi, current: Option<f64>, change: &KpiChange, basis: &Basis) -> Option<Delta> {
    if basis.dates.is_empty() {
        return None;
    }
    let text = match (current, change.delta) {
        (Some(_), Some(diff)) => change_text(kpi, diff),
        _ => "n/a".to_string(),
    };
    let flagged = change.flag != Flag::None;
    Some(Delta {
        tone: tone(change).or(flagged.then_some("flagged")),
        change: text,
        in_points: kpi.unit == Unit::Percent,
        vs_title: basis.title.clone(),
        vs: basis.label.clone(),
    })
}

/// The comparison's basis, as the page names it.
struct Basis {
    dates: Vec<NaiveDate>,
    /// `median of 4 previous Mondays`, `no baseline`.
    label: String,
    /// The dates behind it.
    title: String,
}

fn basis(c: &Changes) -> Basis {
    let dates: Vec<String> = c.baseline_dates.iter().map(|d| d.to_string()).collect();
    Basis {
        dates: c.baseline_dates.clone(),
        label: basis_label(c.date, &c.baseline_dates),
        title: if dates.is_empty() {
            format!(
                "No stored report on the same weekday of the previous {} weeks",
                changes::BASELINE_WEEKS
            )
        } else {
            format!(
                "Median of the stored reports of {} (the same weekday of the previous {} weeks)",
                dates.join(", "),
                changes::BASELINE_WEEKS
            )
        },
    }
}

fn tile(kpi: &'static Kpi, r: &DailyReport, change: &KpiChange, basis: &Basis) -> Tile {
    let current = (kpi.value)(r);
    Tile {
        field: kpi.field,
        label: kpi.label,
        value: current.map(|v| (kpi.unit.number(v), kpi.unit.suffix().trim())),
        sub: tile_sub(kpi, r),
        flagged: change.flag != Flag::None,
        delta: delta(kpi, current, change, basis),
    }
}

/// One flagged change of the "What changed" strip.
fn flagged_change(kpi: &'static Kpi, change: &KpiChange) -> Option<ChangeItem> {
    if change.flag == Flag::None {
        return None;
    }
    Some(ChangeItem {
        field: kpi.field,
        label: kpi.label,
        tone: tone(change),
        value: kpi.unit.with_unit(change.value),
        baseline: change.baseline.map(|b| kpi.unit.with_unit(b)),
        change: change
            .delta
            .map_or_else(|| "n/a".to_string(), |d| change_text(kpi, d)),
        in_points: kpi.unit == Unit::Percent,
    })
}

/// Where the calls page of the latest report's date is.
struct Links<'a> {
    org_id: &'a str,
    date: NaiveDate,
}

/// Percent-encodes a query value (everything but ASCII letters, digits and `-._~`).
const QUERY_VALUE: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

impl Links<'_> {
    /// The relative link (from `/api/dashboard`) to the HTML page of the calls behind
    /// `dimension=value` (`GET /api/reports/calls`), values percent-encoded.
    fn calls(&self, dimension: &str, value: &str) -> String {
        let enc = |v: &str| percent_encoding::utf8_percent_encode(v, QUERY_VALUE).to_string();
        format!(
            "reports/calls?org_id={}&date={}&{}={}&format=html",
            enc(self.org_id),
            self.date,
            enc(dimension),
            enc(value)
        )
    }
}

fn reports(
    series: &[Day<'_>],
    date: NaiveDate,
    latest: &DailyReport,
    compared: &Changes,
    hours: KpiChange,
    links: &Links<'_>,
) -> Reports {
    let basis = basis(compared);
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
    let mut tiles: Vec<Tile> = TILES
        .iter()
        .map(|kpi| tile(kpi, latest, kpi_change(kpi, compared, &hours), &basis))
        .collect();
    // Flagged tiles first (a stable sort keeps the page order otherwise).
    tiles.sort_by_key(|t| !t.flagged);
    let flagged = TILES
        .iter()
        .filter_map(|kpi| flagged_change(kpi, kpi_change(kpi, compared, &hours)))
        .collect();
    Reports {
        date: long_date(date),
        note,
        basis: basis.label.clone(),
        basis_title: basis.title.clone(),
        flagged,
        tiles,
        trends: TRENDS.iter().map(|t| trend_card(t, series)).collect(),
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
        funnel: funnel(&latest.breakdowns.funnel),
        breakdowns: breakdowns(latest, links),
        hours: hour_lines(&latest.breakdowns.by_hour, links),
    }
}

/// The report's `by_hour`, one line per local hour, each linked to its calls.
fn hour_lines(rows: &[HourRow], links: &Links<'_>) -> Vec<HourLine> {
    let max = rows.iter().map(|h| h.total_calls).max().unwrap_or(0);
    rows.iter()
        .map(|h| {
            let hh = h.hour.get(..2).unwrap_or(&h.hour);
            HourLine {
                hour: h.hour.clone(),
                start: h.start.to_rfc3339(),
                total: thousands(h.total_calls),
                classified: thousands(h.classified_calls),
                success: thousands(h.success_count),
                width: width(if max == 0 {
                    0.0
                } else {
                    100.0 * h.total_calls as f64 / max as f64
                }),
                href: links.calls("hour", hh),
            }
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Trend charts

/// One chart: a KPI over the period, as bars (with `inner` drawn inside, e.g. classified
/// within total calls) or as a line.
struct Trend {
    kpi: &'static Kpi,
    title: &'static str,
    bars: bool,
    inner: Option<&'static Kpi>,
}

const TRENDS: [Trend; 6] = [
    Trend {
        kpi: &TOTAL_CALLS,
        title: "Calls per day",
        bars: true,
        inner: Some(&CLASSIFIED_CALLS),
    },
    Trend {
        kpi: &SUCCESS_RATE,
        title: "Success rate",
        bars: false,
        inner: None,
    },
    Trend {
        kpi: &TRANSFERRED,
        title: "Transferred for booking",
        bars: false,
        inner: None,
    },
    Trend {
        kpi: &CARRIER_ASKED,
        title: "Carrier asked for transfer",
        bars: false,
        inner: None,
    },
    Trend {
        kpi: &NOT_QUALIFIED,
        title: "Carrier not qualified",
        bars: false,
        inner: None,
    },
    Trend {
        kpi: &AVG_MINUTES,
        title: "Avg minutes per call",
        bars: false,
        inner: None,
    },
];

/// A trend chart's viewBox and margins (the charts scale to their card).
const FRAME: Frame = Frame {
    width: 360.0,
    height: 150.0,
    left: 42.0,
    right: 8.0,
    top: 8.0,
    bottom: 22.0,
};

/// What one date contributes to a chart.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Point {
    /// No report stored: a hatched gap.
    NoReport,
    /// A report whose value is undefined (e.g. a rate without classified calls): a plain gap.
    Undefined,
    Value(f64),
}

impl Point {
    fn value(self) -> Option<f64> {
        match self {
            Point::Value(v) => Some(v),
            _ => None,
        }
    }
}

fn point(kpi: &Kpi, day: &Day<'_>) -> Point {
    match day.report {
        None => Point::NoReport,
        Some(r) => (kpi.value)(r).map_or(Point::Undefined, Point::Value),
    }
}

/// The hover text of one date in a chart.
fn hover(trend: &Trend, day: &Day<'_>) -> String {
    let date = long_date(day.date);
    let Some(r) = day.report else {
        return format!("{date}: no report");
    };
    match (trend.kpi.value)(r) {
        None if trend.kpi.unit == Unit::Percent => format!("{date}: no classified calls"),
        None => format!("{date}: no calls"),
        Some(v) => match trend.inner {
            Some(inner) => format!(
                "{date}: {} {}, {} {}",
                trend.kpi.unit.with_unit(v),
                trend.kpi.label.to_lowercase(),
                inner.unit.with_unit((inner.value)(r).unwrap_or(0.0)),
                inner.label.to_lowercase()
            ),
            None => format!("{date}: {}", trend.kpi.unit.with_unit(v)),
        },
    }
}

fn trend_chart(trend: &Trend, series: &[Day<'_>]) -> TrendChart {
    let unit = trend.kpi.unit;
    let points: Vec<Point> = series.iter().map(|d| point(trend.kpi, d)).collect();
    let inner: Vec<Option<f64>> = series
        .iter()
        .map(|d| {
            trend
                .inner
                .and_then(|k| d.report.and_then(|r| (k.value)(r)))
        })
        .collect();
    let max = points
        .iter()
        .filter_map(|p| p.value())
        .chain(inner.iter().flatten().copied())
        .fold(0.0, f64::max);
    let scale = Scale::nice(max, unit == Unit::Count, Ticks::FOUR);
    let slots = Slots::new(FRAME, series.len(), scale);

    let missing: Vec<(NaiveDate, Rect)> = points
        .iter()
        .enumerate()
        .filter(|(_, p)| **p == Point::NoReport)
        .map(|(i, _)| (series[i].date, slots.column(i, 0.08)))
        .collect();
    let mut bars = Vec::new();
    let mut line = Line::default();
    if trend.bars {
        for (i, p) in points.iter().enumerate() {
            let Point::Value(v) = *p else { continue };
            if v > 0.0 {
                bars.push(("bar", slots.bar(i, v, 0.14)));
            }
            if let Some(iv) = inner[i].filter(|iv| *iv > 0.0) {
                bars.push(("bar inner", slots.bar(i, iv, 0.14)));
            }
        }
    } else {
        let values: Vec<Option<f64>> = points.iter().map(|p| p.value()).collect();
        line = slots.line(&values);
    }
    let x_labels = slots
        .edge_labels()
        .into_iter()
        .map(|EdgeLabel { index, x, anchor }| XLabel {
            x,
            anchor,
            text: short_date(series.get(index).map_or(NaiveDate::MIN, |d| d.date)),
        })
        .collect();
    TrendChart {
        id: trend.kpi.field,
        view_box: FRAME.view_box(),
        description: format!(
            "Daily {} over {}; {} without a report.",
            trend.kpi.label.to_lowercase(),
            plural(series.len(), "day", "days"),
            plural(missing.len(), "day", "days")
        ),
        gridlines: slots.gridlines(6.0, |v| unit.tick_label(v, scale.step)),
        missing,
        bars,
        line,
        x_labels,
        x_label_y: Px(FRAME.height - 5.0),
        hits: series
            .iter()
            .enumerate()
            .map(|(i, day)| (hover(trend, day), slots.column(i, 0.0)))
            .collect(),
    }
}

fn trend_card(trend: &Trend, series: &[Day<'_>]) -> TrendCard {
    let now = series
        .iter()
        .rev()
        .find_map(|d| d.report.map(|r| (d.date, (trend.kpi.value)(r))))
        .map(|(date, value)| Now {
            value: value.map(|v| trend.kpi.unit.with_unit(v)),
            date: short_date(date),
        });
    TrendCard {
        title: trend.title,
        now,
        chart: trend_chart(trend, series),
        legend: trend.inner.map(|inner| (trend.kpi.label, inner.label)),
    }
}

// ---------------------------------------------------------------------------------------------
// Breakdowns and funnel

/// A bar's width in percent, 2 decimals (0 for a value that is not a number).
fn width(percent: f64) -> String {
    let w = if percent.is_finite() {
        percent.clamp(0.0, 100.0)
    } else {
        0.0
    };
    format!("{w:.2}")
}

fn breakdown_card(
    title: &'static str,
    field: &'static str,
    rows: &[BreakdownRow],
    links: &Links<'_>,
) -> BreakdownCard {
    BreakdownCard {
        title,
        field,
        rows: rows
            .iter()
            .map(|row| BreakdownLine {
                value: row.value.clone(),
                count: thousands(row.count),
                percent: Unit::Percent.with_unit(row.percentage),
                width: width(row.percentage),
                href: links.calls(field, &row.value),
            })
            .collect(),
    }
}

fn breakdowns(r: &DailyReport, links: &Links<'_>) -> Vec<BreakdownCard> {
    let b = &r.breakdowns;
    vec![
        breakdown_card(
            "Call classification",
            "call_classification",
            &b.call_classification,
            links,
        ),
        breakdown_card(
            "Carrier end state",
            "carrier_end_state",
            &b.carrier_end_state,
            links,
        ),
        breakdown_card("Call stage", "call_stage", &b.call_stage, links),
        breakdown_card("Load status", "load_status", &b.load_status, links),
        breakdown_card("Pricing notes", "pricing_notes", &b.pricing_notes, links),
    ]
}

/// Stages that branch from the one before the previous (terminal siblings in the `call_stage`
/// order of `docs/daily-report.md`, "Source").
fn is_branch(stage: &str) -> bool {
    matches!(stage, "TRANSFER_SUCCEEDED" | "TRANSFER_FAILED")
}

/// The funnel's rows; none when no call reached its first stage.
fn funnel(steps: &[FunnelStep]) -> Vec<FunnelRow> {
    let first = steps.first().map_or(0, |s| s.reached);
    if first == 0 {
        return Vec::new();
    }
    steps
        .iter()
        .enumerate()
        .map(|(i, step)| FunnelRow {
            branch: is_branch(&step.stage),
            stage: step.stage.clone(),
            width: width(100.0 * step.reached as f64 / first as f64),
            reached: thousands(step.reached),
            drop: (i > 0).then(|| FunnelDrop {
                count: thousands(step.drop_off),
                percent: Unit::Percent.with_unit(step.drop_off_percent),
                none: step.drop_off == 0,
            }),
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Empty state

/// The request body that backfills the period (placeholders without dates).
fn backfill_body(org: &Organization, series: &[Day<'_>]) -> String {
    let (from, to) = match (series.first(), series.last()) {
        (Some(first), Some(last)) => (first.date.to_string(), last.date.to_string()),
        _ => ("YYYY-MM-DD".to_string(), "YYYY-MM-DD".to_string()),
    };
    format!(
        "{{\n  \"org_id\": {},\n  \"from\": \"{from}\",\n  \"to\": \"{to}\"\n}}",
        serde_json::Value::from(org.org_id.as_str())
    )
}

// ---------------------------------------------------------------- the route

/// `GET /api/dashboard?org_id=&days=`: the HTML page over the last `days` (default 30) days.
/// One listing (the period and the 4 weeks before its last day) and one blob read per stored
/// day of the period and per baseline date of the latest day before the period.
pub async fn page(app: &App, req: &Request) -> Result<Response, ApiError> {
    let org = super::resolve_org(app, req, req.query_param("org_id")).await?;
    let days: i64 = super::int_param(req, "days", 1..=90, 30)?;
    let now = app.clock.now();
    let to = org.yesterday(now);
    let from = to - chrono::Duration::days(days - 1);
    let present: std::collections::BTreeSet<NaiveDate> =
        // One listing, reaching back to the baseline dates of the period's last day.
        super::stored::listed(app, &org, Some(from.min(to - chrono::Duration::days(7 * changes::BASELINE_WEEKS))), Some(to))
            .await?
            .into_iter()
            .map(|r| r.date)
            .collect();
    // The latest reported day of the period, and its baseline dates before the period.
    let latest = present.range(from..=to).next_back().copied();
    let before: Vec<NaiveDate> = latest
        .map(changes::baseline_candidates)
        .unwrap_or_default()
        .into_iter()
        .filter(|b| *b < from && present.contains(b))
        .collect();
    let reads = from.iter_days().take_while(|d| *d <= to).chain(before.iter().copied()).map(|d| {
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
    let mut days: Vec<(NaiveDate, Option<report::DailyReport>)> =
        futures::future::try_join_all(reads).await?;
    let extra: Vec<(NaiveDate, DailyReport)> = days
        .split_off(days.len() - before.len())
        .into_iter()
        .filter_map(|(d, r)| r.map(|r| (d, r)))
        .collect();
    Ok(html_response(render_with(&org, &days, &extra, now)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clickhouse::CallStats;
    use crate::daily_report::query::{Counts, DayCounts};
    use crate::daily_report::report::build;
    use crate::render::assert_self_contained;

    const EVIL: &str = "</script><img src=x onerror=alert(1)>";

    fn org(name: &str) -> Organization {
        let t: DateTime<Utc> = "2025-10-01T00:00:00Z".parse().unwrap();
        Organization {
            org_id: "01951f56-8c6e-7a93-a971-3d06a81a1ab0".into(),
            name: name.into(),
            node_persistent_id: "019b099d-77fd-7e09-9d2b-cd4c476a0a19".into(),
            timezone: chrono_tz::America::Chicago,
            is_active: true,
            excluded_numbers: vec!["+19259898099".into()],
            notifications: vec![],
            created_at: t,
            updated_at: t,
        }
    }

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn now() -> DateTime<Utc> {
        "2025-12-16T12:00:00Z".parse().unwrap()
    }

    /// A deterministic pseudo-random stream (tests only).
    struct Lcg(u64);

    impl Lcg {
        /// Uniform in [0, 1).
        fn next(&mut self) -> f64 {
            self.0 = self
                .0
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (self.0 >> 11) as f64 / (1u64 << 53) as f64
        }

        /// `x` ± `spread` (relative).
        fn jitter(&mut self, x: f64, spread: f64) -> f64 {
            x * (1.0 + spread * (2.0 * self.next() - 1.0))
        }
    }

    /// Splits `total` by weights (jittered), the last value taking the remainder.
    fn split(total: u64, weights: &[(&str, f64)], rng: &mut Lcg) -> Counts {
        let jittered: Vec<f64> = weights.iter().map(|w| rng.jitter(w.1, 0.2)).collect();
        let sum: f64 = jittered.iter().sum();
        let mut left = total;
        let mut counts = Vec::new();
        for (i, w) in jittered.iter().enumerate() {
            let n = if i + 1 == weights.len() {
                left
            } else {
                ((total as f64 * w / sum).round() as u64).min(left)
            };
            left -= n;
            counts.push(n);
        }
        (weights.iter().map(|w| w.0.to_string()).collect(), counts)
    }

    fn count_of(c: &Counts, value: &str) -> u64 {
        c.0.iter()
            .zip(&c.1)
            .find(|(v, _)| v.as_str() == value)
            .map_or(0, |(_, n)| *n)
    }

    /// A realistic report for `date`: weekday volume ~260 calls (weekends less), ~78%
    /// classified, the proportions of the old tool's sample report.
    fn synthetic(date: NaiveDate, rng: &mut Lcg) -> DailyReport {
        use chrono::Datelike;
        let weekend = date.weekday().number_from_monday() >= 6;
        let total = rng
            .jitter(if weekend { 110.0 } else { 265.0 }, 0.18)
            .round() as u64;
        let classified = (total as f64 * rng.jitter(0.78, 0.06)).round() as u64;
        let by_class = split(
            classified,
            &[
                ("non_convertible", 47.0),
                ("rate_not_agreed", 18.0),
                ("success", 15.0),
                ("carrier_dropped", 13.0),
                ("other", 7.0),
            ],
            rng,
        );
        let success = count_of(&by_class, "success");
        let non_convertible = count_of(&by_class, "non_convertible");
        let not_qualified = (classified as f64 * rng.jitter(0.27, 0.15)).round() as u64;
        let minutes = rng.jitter(2.3, 0.12);
        let counts = DayCounts {
            total_calls: total,
            total_duration_seconds: total as f64 * minutes * 60.0,
            median_minutes: minutes * 0.78,
            p90_minutes: minutes * 2.1,
            runs_with_output: classified + total / 20,
            classified_calls: classified,
            success_count: success,
            non_convertible_count: non_convertible,
            not_qualified_count: not_qualified,
            non_convertible_or_not_qualified_count: (non_convertible + not_qualified / 3)
                .min(classified),
            carrier_asked_count: (classified as f64 * rng.jitter(0.13, 0.25)).round() as u64,
            transferred_for_booking_count: (success as f64 * rng.jitter(0.85, 0.1)).round() as u64,
            by_call_stage: split(
                classified,
                &[
                    ("RATE_NEGOTIATION", 29.0),
                    ("CARRIER_VERIFICATION", 22.0),
                    ("TRANSFER_SUCCEEDED", 14.0),
                    ("LOAD_LOOKUP", 10.0),
                    ("GREETING", 8.0),
                    ("TRANSFER_FAILED", 7.0),
                    ("TRANSFER_ATTEMPTED", 5.0),
                    ("UNKNOWN", 5.0),
                ],
                rng,
            ),
            by_call_classification: by_class,
            by_load_status: split(
                classified,
                &[
                    ("ACTIVE", 62.0),
                    ("COVERED", 18.0),
                    ("NOT_FOUND", 12.0),
                    ("CANCELLED", 5.0),
                    ("UNKNOWN", 3.0),
                ],
                rng,
            ),
            by_pricing_notes: split(
                classified,
                &[
                    ("NOT_DISCUSSED", 45.0),
                    ("NO_AGREEMENT_RATE_TOO_HIGH", 28.0),
                    ("AGREEMENT_REACHED_CARRIER_CONFIRMED", 15.0),
                    ("AGREEMENT_REACHED_PENDING_CONFIRMATION", 12.0),
                ],
                rng,
            ),
            by_carrier_end_state: split(
                classified,
                &[
                    ("not_qualified", 27.0),
                    ("hung_up", 22.0),
                    ("rate_rejected", 20.0),
                    ("load_unavailable", 14.0),
                    ("booking_started", 12.0),
                    ("callback_requested", 5.0),
                ],
                rng,
            ),
            by_quarter: Default::default(),
        };
        let generated = date
            .succ_opt()
            .unwrap()
            .and_hms_opt(12, 0, 0)
            .unwrap()
            .and_utc();
        build(
            &org("Paul Logistics"),
            date,
            &counts,
            CallStats::default(),
            420,
            generated,
        )
    }

    /// `n` days ending 2025-12-15; the 0-based indices in `missing` have no report.
    fn period(n: u64, missing: &[u64]) -> Vec<(NaiveDate, Option<DailyReport>)> {
        let mut rng = Lcg(20_251_215);
        let end = d("2025-12-15");
        (0..n)
            .map(|i| {
                let date = end - chrono::Days::new(n - 1 - i);
                let report = synthetic(date, &mut rng);
                (date, (!missing.contains(&i)).then_some(report))
            })
            .collect()
    }

    fn sample() -> Vec<(NaiveDate, Option<DailyReport>)> {
        period(30, &[4, 15, 16])
    }

    /// The `<svg>` element of one trend chart.
    fn chart<'h>(html: &'h str, field: &str) -> &'h str {
        let start = html
            .find(&format!("<svg class=\"chart\" id=\"trend-{field}\""))
            .expect("chart");
        let end = start + html[start..].find("</svg>").unwrap();
        &html[start..end]
    }

    /// The tile of one KPI.
    fn tile_of<'h>(html: &'h str, field: &str) -> &'h str {
        // The tile, not its entry in "What changed" (which has no title).
        let start = html
            .find(&format!("data-kpi=\"{field}\" title="))
            .expect("tile");
        let end = start + html[start..].find("</div>\n").unwrap();
        &html[start..end]
    }

    #[test]
    fn a_full_page_has_every_part() {
        let html = render(&org("Paul Logistics"), &sample(), now());
        assert!(html.starts_with("<!DOCTYPE html>"));
        assert!(
            !html.contains("{{") && !html.contains("}}"),
            "unfilled placeholder"
        );
        assert!(html.contains("<h1>Paul Logistics</h1>"));
        assert!(html.contains("America/Chicago"));
        assert!(html.contains("2025-11-16 to 2025-12-15 (30 days)"));
        assert!(html.contains("2025-12-16 12:00 UTC (2025-12-16 06:00 local)"));
        assert!(html.contains("27 of 30 days have a report"));
        assert!(html.contains("Missing: 2025-11-20, 2025-12-01 to 2025-12-02."));
        // Flagged tiles have a `flagged` class too.
        assert_eq!(html.matches("class=\"card tile").count(), 8);
        assert_eq!(html.matches("<svg class=\"chart\"").count(), 6);
        assert_eq!(html.matches("data-breakdown=").count(), 5);
        assert_eq!(html.matches("<td class=\"stage\">").count(), 7);
        assert!(html.contains("Latest report · Mon 2025-12-15"));
        assert!(!html.contains("<script"));
        assert!(!html.contains("No reports for this period yet"));
    }

    #[test]
    fn hostile_data_is_escaped() {
        let mut days = period(5, &[]);
        let r = days[4].1.as_mut().unwrap();
        r.breakdowns.call_classification[0].value = EVIL.into();
        r.breakdowns.funnel[2].stage = "<marquee>stage</marquee>".into();
        r.metadata.org_name = EVIL.into();
        let html = render(
            &org(&format!("{EVIL} {{{{content}}}} & \"Co\"")),
            &days,
            now(),
        );
        assert!(!html.contains("<img"));
        assert!(!html.contains("<script"));
        assert!(!html.contains("<marquee"));
        assert!(html.contains("&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;"));
        assert!(html.contains("&lt;marquee&gt;stage&lt;/marquee&gt;"));
        assert!(html.contains("{{content}} &amp; &quot;Co&quot;</h1>"));
        // The placeholder-looking name was not expanded.
        assert_eq!(html.matches("class=\"tiles\"").count(), 1);
        assert_self_contained(&html);
    }

    #[test]
    fn missing_days_are_gaps_not_interpolated() {
        // Five days, the third without a report.
        let days = period(5, &[2]);
        let html = render(&org("Acme"), &days, now());
        assert!(html.contains("4 of 5 days have a report"));
        assert!(html.contains("Missing: 2025-12-13."));
        for trend in &TRENDS {
            let svg = chart(&html, trend.kpi.field);
            // One hatched column, at the missing date, in every chart.
            assert_eq!(
                svg.matches("class=\"missing\"").count(),
                1,
                "{}",
                trend.kpi.field
            );
            assert!(svg.contains("data-date=\"2025-12-13\""));
            assert!(svg.contains("<title>Sat 2025-12-13: no report</title>"));
        }
        // Lines are broken in two at the gap: two subpaths, two points each.
        let svg = chart(&html, "success_rate_percent");
        let start = svg.find("class=\"line\" d=\"").unwrap() + "class=\"line\" d=\"".len();
        let path = &svg[start..start + svg[start..].find('"').unwrap()];
        assert_eq!(path.matches('M').count(), 2, "{path}");
        assert_eq!(path.matches('L').count(), 2, "{path}");
        assert_eq!(svg.matches("<circle").count(), 4);
        // Bars: four days with calls, none at the gap.
        let svg = chart(&html, "total_calls");
        assert_eq!(svg.matches("class=\"bar\"").count(), 4);
        assert_eq!(svg.matches("class=\"bar inner\"").count(), 4);
    }

    #[test]
    fn a_day_without_classified_calls_is_a_gap_in_rates() {
        let mut days = period(3, &[]);
        let r = days[1].1.as_mut().unwrap();
        r.kpis.classified_calls = 0;
        let html = render(&org("Acme"), &days, now());
        let svg = chart(&html, "success_rate_percent");
        assert_eq!(svg.matches("class=\"missing\"").count(), 0);
        assert!(svg.contains(": no classified calls</title>"));
        assert!(svg.contains("class=\"line\" d=\"M") && svg.matches('M').count() >= 2);
        // Calls are still drawn that day.
        assert_eq!(
            chart(&html, "total_calls").matches("class=\"bar\"").count(),
            3
        );
    }

    #[test]
    fn no_reports_gives_the_empty_state() {
        let days: Vec<(NaiveDate, Option<DailyReport>)> = period(30, &[])
            .into_iter()
            .map(|(date, _)| (date, None))
            .collect();
        let html = render(&org("Acme"), &days, now());
        assert!(html.contains("No reports for this period yet"));
        assert!(html.contains("0 of 30 days have a report"));
        assert!(html.contains("after the report timer runs"));
        assert!(html.contains("POST /api/reports/backfill"));
        assert!(html.contains("&quot;from&quot;: &quot;2025-11-16&quot;,\n"));
        assert!(html.contains("&quot;to&quot;: &quot;2025-12-15&quot;\n}</pre>"));
        assert!(!html.contains("<svg"));
        assert!(!html.contains("class=\"card tile\""));
        assert!(!html.contains("{{"));
        assert_self_contained(&html);

        // No dates at all.
        let html = render(&org("Acme"), &[], now());
        assert!(html.contains("No reports for this period yet"));
        assert!(html.contains("0 of 0 days have a report"));
        assert!(html.contains("no dates"));
    }

    /// Sets a report's counts: calls, classified calls, successes, carriers not qualified.
    fn set(r: &mut DailyReport, total: u64, classified: u64, success: u64, not_qualified: u64) {
        let k = &mut r.kpis;
        k.total_calls = total;
        k.classified_calls = classified;
        k.success_rate_percent = 100.0 * success as f64 / classified as f64;
        k.carrier_not_qualified = report::Share {
            count: not_qualified,
            total_calls: classified,
            percentage: 100.0 * not_qualified as f64 / classified as f64,
        };
        r.breakdowns.call_classification = vec![
            BreakdownRow {
                value: "success".into(),
                count: success,
                percentage: 100.0 * success as f64 / classified as f64,
            },
            BreakdownRow {
                value: "non_convertible".into(),
                count: classified - success,
                percentage: 100.0 * (classified - success) as f64 / classified as f64,
            },
        ];
    }

    /// 29 days ending Monday 2025-12-15: the latest day and its 4 baseline Mondays are the same
    /// report but for the counts `set` gives; the days between have none.
    fn mondays() -> Vec<(NaiveDate, Option<DailyReport>)> {
        let mut days = period(29, &[]);
        let base = days[28].1.clone().unwrap();
        for (i, day) in days.iter_mut().enumerate() {
            day.1 = (i % 7 == 0).then(|| {
                let mut r = base.clone();
                if i == 28 {
                    // More calls (good), a higher success rate (good), fewer carriers not
                    // qualified (good).
                    set(&mut r, 250, 100, 60, 10);
                } else {
                    set(&mut r, 100, 100, 30, 30);
                }
                r
            });
        }
        days
    }

    // Changed by design: the tiles compare with the median of the same weekday of the previous
    // 4 weeks (`changes::compare`), not with the previous date that has a report.
    #[test]
    fn tiles_compare_with_the_same_weekday_of_previous_weeks() {
        let days = mondays();
        let html = render(&org("Acme"), &days, now());
        let latest = days[28].0;
        assert!(html.contains(&format!("Latest report · {}", long_date(latest))));
        assert!(html.contains("Changes are against the median of 4 previous Mondays."));
        assert!(html.contains("5 of 29 days have a report"));

        let t = tile_of(&html, "total_calls");
        assert!(t.contains("<div class=\"value\">250<span"), "{t}");
        assert!(t.contains("▲ 150"), "{t}");
        assert!(t.contains("vs median of 4 previous Mondays"), "{t}");
        assert!(
            t.contains("2025-12-08, 2025-12-01, 2025-11-24, 2025-11-17"),
            "{t}"
        );
        let t = tile_of(&html, "success_rate_percent");
        assert!(t.contains("60.00<span class=\"unit\">%</span>"), "{t}");
        assert!(
            t.contains("class=\"delta good\"") && t.contains("▲ 30.00 pp"),
            "{t}"
        );
        // Lower is better for carriers not qualified.
        let t = tile_of(&html, "carrier_not_qualified");
        assert!(
            t.contains("class=\"delta good\"") && t.contains("▼ 20.00 pp"),
            "{t}"
        );
        // Unflagged: no colour.
        let t = tile_of(&html, "classified_calls");
        assert!(
            t.contains("class=\"delta\"") && t.contains("no change"),
            "{t}"
        );
        // The breakdowns are the latest report's too.
        assert!(html.contains(&format!("Breakdown · {}", long_date(latest))));
        assert!(html.contains("Share of 100 classified calls"));
    }

    #[test]
    fn flagged_changes_come_first() {
        let html = render(&org("Acme"), &mondays(), now());
        // The "What changed" strip: the flagged KPIs, in tile order, with value, baseline and
        // change, before the tiles.
        let strip = &html
            [html.find("id=\"changed-title\"").unwrap()..html.find("id=\"latest-title\"").unwrap()];
        let items: Vec<&str> = strip.split("<li class=\"card change").skip(1).collect();
        assert_eq!(items.len(), 3, "{strip}");
        assert!(
            items[0].starts_with(" good\" data-kpi=\"total_calls\""),
            "{}",
            items[0]
        );
        assert!(
            items[0].contains("<span class=\"value\">250</span>"),
            "{}",
            items[0]
        );
        assert!(
            items[0].contains("<span class=\"chg\">▲ 150</span>"),
            "{}",
            items[0]
        );
        assert!(items[0].contains("baseline 100"), "{}", items[0]);
        assert!(items[1].contains("data-kpi=\"success_rate_percent\""));
        assert!(items[1].contains("baseline 30.00%"), "{}", items[1]);
        assert!(items[2].contains("data-kpi=\"carrier_not_qualified\""));
        assert!(items[2].starts_with(" good"), "{}", items[2]);
        // The tiles: the flagged first, then the others in page order.
        let order: Vec<&str> = html
            .split("<div class=\"card tile")
            .skip(1)
            .map(|t| {
                let t = &t[t.find("data-kpi=\"").unwrap() + 10..];
                &t[..t.find('"').unwrap()]
            })
            .collect();
        assert_eq!(
            order,
            [
                "total_calls",
                "success_rate_percent",
                "carrier_not_qualified",
                "classified_calls",
                "avg_minutes_per_call",
                "total_duration_hours",
                "successfully_transferred_for_booking",
                "carrier_transfer_over_total_call_attempts",
            ]
        );
        assert_eq!(html.matches("class=\"card tile flagged\"").count(), 3);
    }

    #[test]
    fn the_baseline_is_named() {
        let monday = d("2025-12-15");
        assert_eq!(basis_label(monday, &[]), "no baseline");
        assert_eq!(
            basis_label(monday, &[d("2025-12-08")]),
            "median of 1 previous Monday"
        );
        assert_eq!(
            basis_label(monday, &changes::baseline_candidates(monday)),
            "median of 4 previous Mondays"
        );
        assert_eq!(
            basis_label(d("2025-12-16"), &[d("2025-12-09"), d("2025-12-02")]),
            "median of 2 previous Tuesdays"
        );
        // A baseline from reports before the period (`extra`).
        let days = mondays();
        let html = render_with(
            &org("Acme"),
            &days[21..],
            &[(days[14].0, days[14].1.clone().unwrap())],
            now(),
        );
        assert!(html.contains("vs median of 2 previous Mondays"), "{html}");
    }

    #[test]
    fn rows_and_hours_link_to_their_calls() {
        let links = Links {
            org_id: "org 1&2",
            date: d("2025-12-15"),
        };
        assert_eq!(
            links.calls("pricing_notes", "A&B é/x=y?"),
            "reports/calls?org_id=org%201%262&date=2025-12-15&pricing_notes=A%26B%20%C3%A9%2Fx%3Dy%3F&format=html"
        );
        let mut days = mondays();
        let r = days[28].1.as_mut().unwrap();
        r.breakdowns.load_status = vec![BreakdownRow {
            value: EVIL.into(),
            count: 3,
            percentage: 3.0,
        }];
        let html = render(&org("Acme"), &days, now());
        let org_id = "01951f56-8c6e-7a93-a971-3d06a81a1ab0";
        assert!(html.contains(&format!(
            "href=\"reports/calls?org_id={org_id}&amp;date=2025-12-15&amp;call_classification=success&amp;format=html\""
        )));
        assert!(html.contains(&format!(
            "href=\"reports/calls?org_id={org_id}&amp;date=2025-12-15&amp;load_status=%3C%2Fscript%3E%3Cimg%20src%3Dx%20onerror%3Dalert%281%29%3E&amp;format=html\""
        )), "{html}");
        assert!(html.contains(&format!(
            "href=\"reports/calls?org_id={org_id}&amp;date=2025-12-15&amp;format=html\""
        )));
        let hours = days[28].1.as_ref().unwrap().breakdowns.by_hour.len();
        assert!(hours >= 23, "{hours}");
        assert_eq!(html.matches("<td class=\"hour\"><a href=").count(), hours);
        assert!(html.contains(&format!(
            "href=\"reports/calls?org_id={org_id}&amp;date=2025-12-15&amp;hour=09&amp;format=html\""
        )));
    }

    // Changed by design: without a baseline week the tiles say "no baseline" (was: "No earlier
    // report to compare").
    #[test]
    fn a_single_report_has_nothing_to_compare() {
        let days = period(3, &[0, 1]);
        let html = render(&org("Acme"), &days, now());
        assert!(html.contains("1 of 3 days have a report"));
        assert!(html.contains("Missing: 2025-12-13 to 2025-12-14."));
        assert!(html.contains(
            "No baseline: no stored report on the same weekday of the previous 4 weeks."
        ));
        assert_eq!(html.matches("\">no baseline</span>").count(), 8);
        assert!(!html.contains("<li class=\"card change"));
    }

    #[test]
    fn no_external_urls() {
        assert_self_contained(&render(&org("Acme"), &sample(), now()));
        assert_self_contained(&render(&org("Acme"), &period(30, &[0, 1, 2]), now()));
        assert_self_contained(&render(&org("Acme"), &[], now()));
    }
}
