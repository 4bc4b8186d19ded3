//! The `GET /api/dashboard?org_id=` page (`docs/http-api.md`; seed 003's frontend, seed 004's
//! dashboard): one org's stored daily reports over a period as one self-contained HTML page.
//!
//! The page is the askama template `templates/dashboard.html` (on the shared
//! `templates/base.html`); this module turns the period's reports into its view-model:
//! formatted numbers ([`crate::render::format`]) and chart geometry
//! ([`crate::render::chart`]). The template escapes everything it prints. The charts are
//! inline SVG whose hover text is SVG `<title>`, so the page has no script and loads nothing:
//! it works offline and from a file.
//!
//! Decisions (the spec leaves them open):
//! * The tiles, breakdowns and funnel show the latest date of the period that has a report;
//!   changes compare it with the previous date that has one (named on the page), not with the
//!   calendar day before.
//! * A rate over classified calls on a day with no classified calls is undefined: its tile
//!   shows `—`, its chart a gap (the stored report says 0, which would read as a real 0%).
//!   The same holds for the average call length on a day with no calls.
//! * A day without a report is a hatched column in every chart; lines are broken there, never
//!   interpolated, and the header lists the missing dates.

use askama::Template;
use chrono::{DateTime, NaiveDate, Utc};

use warp::reply::Response;

use crate::app::App;
use crate::daily_report::report::{self, BreakdownRow, DailyReport, FunnelStep};
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
/// booking, carrier asked for transfer), each with its change from the previous date that has
/// a report (▲/▼, coloured when a direction is better); one small trend chart per headline
/// KPI over the whole period (calls as bars, rates and minutes as lines; missing days as
/// hatched gaps; each day's value as hover text); the funnel (reached, drop-off, drop-off %)
/// and the five breakdowns (value, count, percentage) as bar lists. Without any report the
/// page explains that reports appear after the daily timer runs or after
/// `POST /api/reports/backfill`, with a request body for the period.
///
/// All data (org name, breakdown values, …) is escaped.
pub fn render(
    org: &Organization,
    days: &[(NaiveDate, Option<DailyReport>)],
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
        let previous = reported.len().checked_sub(2).map(|i| reported[i]);
        reports(&series, date, latest, previous)
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
    tiles: Vec<Tile>,
    trends: Vec<TrendCard>,
    /// `240 classified calls of 304 calls`.
    breakdown_note: String,
    /// The latest report's classified calls, grouped.
    classified: String,
    /// Empty when no call reached the funnel.
    funnel: Vec<FunnelRow>,
    breakdowns: Vec<BreakdownCard>,
}

struct Tile {
    field: &'static str,
    label: &'static str,
    /// The number and its unit; `None` when undefined that day (shown as `—`).
    value: Option<(String, &'static str)>,
    sub: String,
    /// `None`: no earlier report to compare with.
    delta: Option<Delta>,
}

struct Delta {
    /// `good` or `bad` when a direction of change is better.
    tone: Option<&'static str>,
    /// `▲ 7.00 pp`, `no change`, `n/a`.
    change: String,
    /// The change is in percentage points.
    in_points: bool,
    vs_title: String,
    /// The previous date with a report, `Dec 13`.
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

/// Which direction of change is good news.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Better {
    Up,
    Down,
    Neither,
}

/// One headline KPI: its report field, how it reads, and its value in a report (`None` when
/// undefined that day).
struct Kpi {
    field: &'static str,
    label: &'static str,
    unit: Unit,
    better: Better,
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
    better: Better::Neither,
    value: |r| Some(r.kpis.total_calls as f64),
};
const CLASSIFIED_CALLS: Kpi = Kpi {
    field: "classified_calls",
    label: "Classified calls",
    unit: Unit::Count,
    better: Better::Neither,
    value: |r| Some(r.kpis.classified_calls as f64),
};
const SUCCESS_RATE: Kpi = Kpi {
    field: "success_rate_percent",
    label: "Success rate",
    unit: Unit::Percent,
    better: Better::Up,
    value: |r| over_classified(r, r.kpis.success_rate_percent),
};
const AVG_MINUTES: Kpi = Kpi {
    field: "avg_minutes_per_call",
    label: "Avg minutes per call",
    unit: Unit::Minutes,
    better: Better::Neither,
    value: |r| (r.kpis.total_calls > 0).then_some(r.kpis.avg_minutes_per_call),
};
const TOTAL_HOURS: Kpi = Kpi {
    field: "total_duration_hours",
    label: "Total call time",
    unit: Unit::Hours,
    better: Better::Neither,
    value: |r| Some(r.kpis.total_duration_hours),
};
const NOT_QUALIFIED: Kpi = Kpi {
    field: "carrier_not_qualified",
    label: "Carrier not qualified",
    unit: Unit::Percent,
    better: Better::Down,
    value: |r| over_classified(r, r.kpis.carrier_not_qualified.percentage),
};
const TRANSFERRED: Kpi = Kpi {
    field: "successfully_transferred_for_booking",
    label: "Transferred for booking",
    unit: Unit::Percent,
    better: Better::Up,
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
    better: Better::Neither,
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

/// The change of a tile against `previous` (the previous date with a report).
fn delta(
    kpi: &Kpi,
    current: Option<f64>,
    previous: Option<(NaiveDate, &DailyReport)>,
) -> Option<Delta> {
    let (date, prev) = previous?;
    let against = |tone, change, in_points| Delta {
        tone,
        change,
        in_points,
        vs_title: format!("Change since {date}, the previous day with a report"),
        vs: short_date(date),
    };
    let (Some(now), Some(before)) = (current, (kpi.value)(prev)) else {
        return Some(against(None, "n/a".to_string(), false));
    };
    let diff = round2(now - before);
    let change = if diff == 0.0 {
        "no change".to_string()
    } else {
        let arrow = if diff > 0.0 { "▲" } else { "▼" };
        let amount = match kpi.unit {
            Unit::Percent => format!("{:.2} pp", diff.abs()),
            unit => unit.with_unit(diff.abs()),
        };
        format!("{arrow} {amount}")
    };
    let tone = match (kpi.better, diff.partial_cmp(&0.0)) {
        (Better::Up, Some(std::cmp::Ordering::Greater))
        | (Better::Down, Some(std::cmp::Ordering::Less)) => Some("good"),
        (Better::Up, Some(std::cmp::Ordering::Less))
        | (Better::Down, Some(std::cmp::Ordering::Greater)) => Some("bad"),
        _ => None,
    };
    Some(against(tone, change, kpi.unit == Unit::Percent))
}

fn tile(kpi: &'static Kpi, r: &DailyReport, previous: Option<(NaiveDate, &DailyReport)>) -> Tile {
    let current = (kpi.value)(r);
    Tile {
        field: kpi.field,
        label: kpi.label,
        value: current.map(|v| (kpi.unit.number(v), kpi.unit.suffix().trim())),
        sub: tile_sub(kpi, r),
        delta: delta(kpi, current, previous),
    }
}

fn reports(
    series: &[Day<'_>],
    date: NaiveDate,
    latest: &DailyReport,
    previous: Option<(NaiveDate, &DailyReport)>,
) -> Reports {
    let mut note = match previous {
        Some((p, _)) => format!("Changes are against {}.", long_date(p)),
        None => "This is the only report in the period.".to_string(),
    };
    if let Some(last) = series.last().filter(|d| d.date != date) {
        note.push_str(&format!(
            " The period ends {}; later days have no report.",
            last.date
        ));
    }
    let k = &latest.kpis;
    Reports {
        date: long_date(date),
        note,
        tiles: TILES
            .iter()
            .map(|kpi| tile(kpi, latest, previous))
            .collect(),
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
        funnel: funnel(&latest.breakdowns.funnel),
        breakdowns: breakdowns(latest),
    }
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
            })
            .collect(),
    }
}

fn breakdowns(r: &DailyReport) -> Vec<BreakdownCard> {
    let b = &r.breakdowns;
    vec![
        breakdown_card(
            "Call classification",
            "call_classification",
            &b.call_classification,
        ),
        breakdown_card(
            "Carrier end state",
            "carrier_end_state",
            &b.carrier_end_state,
        ),
        breakdown_card("Call stage", "call_stage", &b.call_stage),
        breakdown_card("Load status", "load_status", &b.load_status),
        breakdown_card("Pricing notes", "pricing_notes", &b.pricing_notes),
    ]
}

/// Stages that branch from the one before the previous (the spec's terminal siblings).
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
pub async fn page(app: &App, req: &Request) -> Result<Response, ApiError> {
    let org = super::resolve_org(app, req, req.query_param("org_id")).await?;
    let days: i64 = match req.query_param("days") {
        None => 30,
        Some(d) => d
            .parse()
            .ok()
            .filter(|d| (1..=90).contains(d))
            .ok_or_else(|| ApiError::invalid("days", "days must be 1-90"))?,
    };
    let now = app.clock.now();
    let to = org.yesterday(now);
    let from = to - chrono::Duration::days(days - 1);
    let present: std::collections::BTreeSet<NaiveDate> =
        super::stored::listed(app, &org, Some(from), Some(to))
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
    let days: Vec<(NaiveDate, Option<report::DailyReport>)> =
        futures::future::try_join_all(reads).await?;
    Ok(html_response(render(&org, &days, now)))
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
    /// classified, seed 003's proportions.
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
        let start = html.find(&format!("data-kpi=\"{field}\"")).expect("tile");
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
        assert_eq!(html.matches("class=\"card tile\"").count(), 8);
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

    #[test]
    fn tiles_show_the_latest_report_present() {
        // Reports on days 0, 2 and 3 of five; day 4 (the period's last) has none.
        let mut days = period(5, &[1, 4]);
        for (i, calls) in [(0, 100), (2, 180), (3, 250)] {
            let r = days[i].1.as_mut().unwrap();
            r.kpis.total_calls = calls;
            r.kpis.success_rate_percent = calls as f64 / 10.0;
            r.kpis.carrier_not_qualified.percentage = 30.0;
        }
        days[3]
            .1
            .as_mut()
            .unwrap()
            .kpis
            .carrier_not_qualified
            .percentage = 27.5;
        let html = render(&org("Acme"), &days, now());
        let latest = days[3].0;
        assert!(html.contains(&format!("Latest report · {}", long_date(latest))));
        assert!(html.contains("The period ends 2025-12-15; later days have no report."));
        assert!(html.contains(&format!("Changes are against {}.", long_date(days[2].0))));

        let t = tile_of(&html, "total_calls");
        assert!(t.contains("<div class=\"value\">250<span"), "{t}");
        assert!(t.contains("▲ 70"), "{t}");
        assert!(t.contains("vs Dec 13"), "{t}");
        let t = tile_of(&html, "success_rate_percent");
        assert!(t.contains("25.00<span class=\"unit\">%</span>"), "{t}");
        assert!(
            t.contains("class=\"delta good\"") && t.contains("▲ 7.00 pp"),
            "{t}"
        );
        // Lower is better for carriers not qualified.
        let t = tile_of(&html, "carrier_not_qualified");
        assert!(
            t.contains("class=\"delta good\"") && t.contains("▼ 2.50 pp"),
            "{t}"
        );
        // The breakdowns are the latest report's too.
        assert!(html.contains(&format!("Breakdown · {}", long_date(latest))));
        let classified = days[3].1.as_ref().unwrap().kpis.classified_calls;
        assert!(html.contains(&format!(
            "Share of {} classified calls",
            thousands(classified)
        )));
    }

    #[test]
    fn a_single_report_has_nothing_to_compare() {
        let days = period(3, &[0, 1]);
        let html = render(&org("Acme"), &days, now());
        assert!(html.contains("1 of 3 days have a report"));
        assert!(html.contains("Missing: 2025-12-13 to 2025-12-14."));
        assert!(html.contains("This is the only report in the period."));
        assert_eq!(html.matches("No earlier report to compare").count(), 8);
    }

    #[test]
    fn no_external_urls() {
        assert_self_contained(&render(&org("Acme"), &sample(), now()));
        assert_self_contained(&render(&org("Acme"), &period(30, &[0, 1, 2]), now()));
        assert_self_contained(&render(&org("Acme"), &[], now()));
    }

    /// Writes sample pages to `target/` for a visual check:
    /// `cargo test dashboard_sample -- --ignored`, then open `target/dashboard_sample.html`
    /// (30 days, 3 without a report), `dashboard_sample_90.html` (90 days, the latest missing)
    /// and `dashboard_sample_empty.html`.
    #[test]
    #[ignore]
    fn write_dashboard_sample() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("dashboard_sample.html"),
            render(&org("Paul Logistics"), &sample(), now()),
        )
        .unwrap();
        std::fs::write(
            dir.join("dashboard_sample_90.html"),
            render(
                &org("Paul Logistics"),
                &period(90, &[3, 40, 41, 42, 43, 44, 45, 46, 60, 89]),
                now(),
            ),
        )
        .unwrap();
        let empty: Vec<(NaiveDate, Option<DailyReport>)> =
            sample().into_iter().map(|(date, _)| (date, None)).collect();
        std::fs::write(
            dir.join("dashboard_sample_empty.html"),
            render(&org("Paul Logistics"), &empty, now()),
        )
        .unwrap();
    }
}
