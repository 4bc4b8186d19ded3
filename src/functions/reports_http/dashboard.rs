//! The `GET /api/dashboard?org_id=` page (`docs/http-api.md`; seed 003's frontend, seed 004's
//! dashboard): one org's stored daily reports over a period as one self-contained HTML page.
//!
//! Built like [`crate::failure_analysis::html`]: `dashboard.html` (inline CSS) with `{{name}}`
//! placeholders filled in one pass, so text that looks like a placeholder inside data is never
//! expanded, and every piece of data HTML-escaped with [`escape`]. The charts are inline SVG
//! whose hover text is SVG `<title>`, so the page has no script and loads nothing: it works
//! offline and from a file.
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

use std::fmt::Write as _;

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;

use warp::reply::Response;

use crate::app::App;
use crate::daily_report::report::{self, BreakdownRow, DailyReport, FunnelStep};
use crate::daily_report::snapshots;
use crate::failure_analysis::html::{escape, fill};
use crate::http::error::ApiError;
use crate::http::request::Request;
use crate::http::response::html_response;
use crate::orgs::Organization;
use crate::storage::StorageError;

const TEMPLATE: &str = include_str!("dashboard.html");

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

    let content = match reported.last() {
        None => empty_state(org, &series),
        Some(&(date, latest)) => {
            let previous = reported.len().checked_sub(2).map(|i| reported[i]);
            let mut c = latest_section(&series, date, latest, previous);
            c.push_str(&trends_section(&series));
            c.push_str(&breakdowns_section(date, latest));
            c
        }
    };
    fill(
        TEMPLATE,
        &[
            (
                "page_title",
                escape(&format!("{} · Daily call report", org.name)),
            ),
            ("org_name", escape(&org.name)),
            ("period", escape(&period_text(&series))),
            ("timezone", escape(org.timezone.name())),
            (
                "generated_at",
                escape(&generated_text(generated_at, org.timezone)),
            ),
            ("coverage", coverage(&series, reported.len())),
            ("content", content),
        ],
    )
}

/// One date of the period.
#[derive(Debug, Clone, Copy)]
struct Day<'a> {
    date: NaiveDate,
    report: Option<&'a DailyReport>,
}

// ---------------------------------------------------------------------------------------------
// Formatting

/// `1234567` → `1,234,567`.
fn group(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `Mon 2025-12-15`.
fn long_date(d: NaiveDate) -> String {
    d.format("%a %Y-%m-%d").to_string()
}

/// `Dec 15`.
fn short_date(d: NaiveDate) -> String {
    d.format("%b %-d").to_string()
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{} {}", group(n as u64), if n == 1 { one } else { many })
}

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

fn generated_text(t: DateTime<Utc>, tz: Tz) -> String {
    format!(
        "{} UTC ({} local)",
        t.format("%Y-%m-%d %H:%M"),
        t.with_timezone(&tz).format("%Y-%m-%d %H:%M")
    )
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

fn coverage(series: &[Day<'_>], reported: usize) -> String {
    let total = series.len();
    let headline = format!(
        "<strong>{} of {} {} a report</strong>",
        group(reported as u64),
        plural(total, "day", "days"),
        if total == 1 { "has" } else { "have" }
    );
    if reported == total || reported == 0 {
        let class = if reported == total {
            "coverage"
        } else {
            "coverage partial"
        };
        return format!("<p class=\"{class}\">{headline}.</p>\n");
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
    format!(
        "<p class=\"coverage partial\">{headline}. <span class=\"muted\">Missing: {}. \
         Generate them with <code>POST /api/reports/backfill</code>.</span></p>\n",
        escape(&listed.join(", "))
    )
}

// ---------------------------------------------------------------------------------------------
// KPIs

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unit {
    Count,
    Hours,
    Minutes,
    Percent,
}

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

/// Rounds to 2 decimals (values are stored with 2; this only removes float noise).
fn round2(x: f64) -> f64 {
    let r = (x * 100.0).round() / 100.0;
    if r == 0.0 { 0.0 } else { r }
}

/// The number without its unit: `1,234`, `10.23`, `15.17`.
fn number(unit: Unit, v: f64) -> String {
    match unit {
        Unit::Count => group(v.max(0.0).round() as u64),
        _ => format!("{:.2}", round2(v)),
    }
}

fn unit_suffix(unit: Unit) -> &'static str {
    match unit {
        Unit::Count => "",
        Unit::Hours => " h",
        Unit::Minutes => " min",
        Unit::Percent => "%",
    }
}

/// The number with its unit, as plain text: `15.17%`, `2.26 min`.
fn with_unit(unit: Unit, v: f64) -> String {
    format!("{}{}", number(unit, v), unit_suffix(unit))
}

/// The count behind a rate tile, e.g. `58 of 211 classified`.
fn of_classified(count: u64, total: u64) -> String {
    format!("{} of {} classified", group(count), group(total))
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
            with_unit(
                Unit::Percent,
                if k.total_calls == 0 {
                    0.0
                } else {
                    100.0 * c as f64 / k.total_calls as f64
                }
            )
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
            number(Unit::Minutes, k.median_minutes_per_call),
            number(Unit::Minutes, k.p90_minutes_per_call)
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

/// The change line of a tile: against `previous` (the previous date with a report).
fn delta(kpi: &Kpi, current: Option<f64>, previous: Option<(NaiveDate, &DailyReport)>) -> String {
    let Some((date, prev)) = previous else {
        return "<div class=\"delta\"><span class=\"vs\">No earlier report to compare</span></div>"
            .to_string();
    };
    let vs = format!(
        "<span class=\"vs\" title=\"{}\">vs {}</span>",
        escape(&format!(
            "Change since {date}, the previous day with a report"
        )),
        escape(&short_date(date))
    );
    let (Some(now), Some(before)) = (current, (kpi.value)(prev)) else {
        return format!("<div class=\"delta\"><span class=\"chg\">n/a</span> {vs}</div>");
    };
    let diff = round2(now - before);
    let change = if diff == 0.0 {
        "no change".to_string()
    } else {
        let arrow = if diff > 0.0 { "▲" } else { "▼" };
        let amount = match kpi.unit {
            Unit::Percent => format!("{:.2} pp", diff.abs()),
            unit => with_unit(unit, diff.abs()),
        };
        format!("{arrow} {amount}")
    };
    let tone = match (kpi.better, diff.partial_cmp(&0.0)) {
        (Better::Up, Some(std::cmp::Ordering::Greater))
        | (Better::Down, Some(std::cmp::Ordering::Less)) => " good",
        (Better::Up, Some(std::cmp::Ordering::Less))
        | (Better::Down, Some(std::cmp::Ordering::Greater)) => " bad",
        _ => "",
    };
    let title = if kpi.unit == Unit::Percent {
        " title=\"percentage points\""
    } else {
        ""
    };
    format!(
        "<div class=\"delta{tone}\"><span class=\"chg\"{title}>{}</span> {vs}</div>",
        escape(&change)
    )
}

fn tile(kpi: &Kpi, r: &DailyReport, previous: Option<(NaiveDate, &DailyReport)>) -> String {
    let current = (kpi.value)(r);
    let value = match current {
        Some(v) => format!(
            "{}<span class=\"unit\">{}</span>",
            escape(&number(kpi.unit, v)),
            escape(unit_suffix(kpi.unit).trim())
        ),
        None => "—".to_string(),
    };
    format!(
        "<div class=\"card tile\" data-kpi=\"{field}\" title=\"{field}\">\
         <div class=\"label\">{label}</div><div class=\"value\">{value}</div>\
         <div class=\"sub\">{sub}</div>{delta}</div>\n",
        field = kpi.field,
        label = escape(kpi.label),
        sub = escape(&tile_sub(kpi, r)),
        delta = delta(kpi, current, previous),
    )
}

fn latest_section(
    series: &[Day<'_>],
    date: NaiveDate,
    latest: &DailyReport,
    previous: Option<(NaiveDate, &DailyReport)>,
) -> String {
    let mut note = match previous {
        Some((p, _)) => format!("Changes are against {}.", long_date(p)),
        None => "This is the only report in the period.".to_string(),
    };
    if let Some(last) = series.last().filter(|d| d.date != date) {
        let _ = write!(
            note,
            " The period ends {}; later days have no report.",
            last.date
        );
    }
    let mut h = format!(
        "<section aria-labelledby=\"latest-title\">\n<div class=\"section-head\">\
         <h2 id=\"latest-title\">Latest report · {}</h2><p>{}</p></div>\n<div class=\"tiles\">\n",
        escape(&long_date(date)),
        escape(&note)
    );
    for kpi in TILES {
        h.push_str(&tile(kpi, latest, previous));
    }
    h.push_str("</div>\n</section>\n");
    h
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

/// SVG geometry, in viewBox units (the charts scale to their card).
const CW: f64 = 360.0;
const CH: f64 = 150.0;
const CL: f64 = 42.0;
const CR: f64 = 8.0;
const CT: f64 = 8.0;
const CB: f64 = 22.0;

/// What one date contributes to a chart.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Point {
    /// No report stored: a hatched gap.
    NoReport,
    /// A report whose value is undefined (e.g. a rate without classified calls): a plain gap.
    Undefined,
    Value(f64),
}

fn point(kpi: &Kpi, day: &Day<'_>) -> Point {
    match day.report {
        None => Point::NoReport,
        Some(r) => (kpi.value)(r).map_or(Point::Undefined, Point::Value),
    }
}

/// A round axis maximum and its step (1, 2, 2.5, 5 × 10^k; whole steps for counts) giving at
/// most four steps up to `max`.
fn nice_scale(max: f64, whole: bool) -> (f64, f64) {
    let max = if max.is_finite() && max > 0.0 {
        max
    } else {
        1.0
    };
    let mut magnitude = 10f64.powf((max / 4.0).log10().floor());
    loop {
        for m in [1.0, 2.0, 2.5, 5.0] {
            let step = m * magnitude;
            if whole && step.fract() != 0.0 {
                continue;
            }
            let steps = (max / step - 1e-9).ceil().max(1.0);
            if steps <= 4.0 {
                return (steps * step, step);
            }
        }
        magnitude *= 10.0;
    }
}

/// An axis label: as many decimals as the step needs.
fn tick_label(v: f64, step: f64, unit: Unit) -> String {
    let text = if unit == Unit::Count {
        group(v.round() as u64)
    } else if step.fract() == 0.0 {
        format!("{v:.0}")
    } else if (step * 10.0).fract().abs() < 1e-9 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    };
    if unit == Unit::Percent {
        format!("{text}%")
    } else {
        text
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
                with_unit(trend.kpi.unit, v),
                trend.kpi.label.to_lowercase(),
                with_unit(inner.unit, (inner.value)(r).unwrap_or(0.0)),
                inner.label.to_lowercase()
            ),
            None => format!("{date}: {}", with_unit(trend.kpi.unit, v)),
        },
    }
}

fn chart_svg(trend: &Trend, series: &[Day<'_>]) -> String {
    let id = trend.kpi.field;
    let n = series.len().max(1);
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
        .filter_map(|p| match p {
            Point::Value(v) => Some(*v),
            _ => None,
        })
        .chain(inner.iter().flatten().copied())
        .fold(0.0, f64::max);
    let (top, step) = nice_scale(max, trend.kpi.unit == Unit::Count);
    let plot_w = CW - CL - CR;
    let plot_h = CH - CT - CB;
    let base = CT + plot_h;
    let slot = plot_w / n as f64;
    let y = |v: f64| base - plot_h * (v.clamp(0.0, top) / top);
    let x = |i: usize| CL + slot * i as f64;

    let missing = points.iter().filter(|p| **p == Point::NoReport).count();
    let mut s = format!(
        "<svg class=\"chart\" id=\"trend-{id}\" viewBox=\"0 0 {CW} {CH}\" role=\"img\" \
         aria-labelledby=\"trend-{id}-t trend-{id}-d\">\n<title id=\"trend-{id}-t\">{}</title>\
         <desc id=\"trend-{id}-d\">{}</desc>\n\
         <defs><pattern id=\"hatch-{id}\" width=\"5\" height=\"5\" patternUnits=\"userSpaceOnUse\" \
         patternTransform=\"rotate(45)\"><line class=\"hatch-line\" x1=\"0\" y1=\"0\" x2=\"0\" y2=\"5\"/>\
         </pattern></defs>\n",
        escape(trend.title),
        escape(&format!(
            "Daily {} over {}; {} without a report.",
            trend.kpi.label.to_lowercase(),
            plural(series.len(), "day", "days"),
            plural(missing, "day", "days")
        ))
    );
    // Grid and y axis.
    let mut v = 0.0;
    while v <= top + step * 1e-6 {
        let yy = y(v);
        let class = if v == 0.0 { "baseline" } else { "gridline" };
        let _ = writeln!(
            s,
            "<line class=\"{class}\" x1=\"{CL}\" x2=\"{:.1}\" y1=\"{yy:.1}\" y2=\"{yy:.1}\"/>\
             <text x=\"{:.1}\" y=\"{yy:.1}\" text-anchor=\"end\" dominant-baseline=\"middle\">{}</text>",
            CW - CR,
            CL - 6.0,
            escape(&tick_label(v, step, trend.kpi.unit))
        );
        v += step;
    }
    // Days without a report: hatched columns.
    for (i, p) in points.iter().enumerate() {
        if *p == Point::NoReport {
            let _ = writeln!(
                s,
                "<rect class=\"missing-bg\" x=\"{mx:.1}\" y=\"{CT}\" width=\"{mw:.1}\" height=\"{plot_h:.1}\"/>\
                 <rect class=\"missing\" data-date=\"{}\" fill=\"url(#hatch-{id})\" x=\"{mx:.1}\" y=\"{CT}\" \
                 width=\"{mw:.1}\" height=\"{plot_h:.1}\"/>",
                series[i].date,
                mx = x(i) + slot * 0.08,
                mw = slot * 0.84
            );
        }
    }
    if trend.bars {
        for (i, p) in points.iter().enumerate() {
            let Point::Value(v) = *p else { continue };
            let bx = x(i) + slot * 0.14;
            let bw = slot * 0.72;
            if v > 0.0 {
                let _ = writeln!(
                    s,
                    "<rect class=\"bar\" x=\"{bx:.1}\" y=\"{:.1}\" width=\"{bw:.1}\" height=\"{:.1}\"/>",
                    y(v),
                    base - y(v)
                );
            }
            if let Some(iv) = inner[i].filter(|iv| *iv > 0.0) {
                let _ = writeln!(
                    s,
                    "<rect class=\"bar inner\" x=\"{bx:.1}\" y=\"{:.1}\" width=\"{bw:.1}\" height=\"{:.1}\"/>",
                    y(iv),
                    base - y(iv)
                );
            }
        }
    } else {
        // The line restarts (`M`) after every gap: nothing is drawn across a missing day.
        let mut d = String::new();
        let mut drawing = false;
        for (i, p) in points.iter().enumerate() {
            match *p {
                Point::Value(v) => {
                    let cmd = if drawing { 'L' } else { 'M' };
                    let _ = write!(d, "{cmd}{:.1} {:.1} ", x(i) + slot / 2.0, y(v));
                    drawing = true;
                }
                _ => drawing = false,
            }
        }
        if !d.is_empty() {
            let _ = writeln!(s, "<path class=\"line\" d=\"{}\"/>", d.trim_end());
        }
        let latest = points.iter().rposition(|p| matches!(p, Point::Value(_)));
        let r = (slot * 0.28).clamp(1.2, 2.6);
        for (i, p) in points.iter().enumerate() {
            if let Point::Value(v) = *p {
                let (class, r) = if Some(i) == latest {
                    ("dot latest", r.max(3.0))
                } else {
                    ("dot", r)
                };
                let _ = writeln!(
                    s,
                    "<circle class=\"{class}\" cx=\"{:.1}\" cy=\"{:.1}\" r=\"{r:.1}\"/>",
                    x(i) + slot / 2.0,
                    y(v)
                );
            }
        }
    }
    // X axis: first, middle and last dates.
    let mut labels = vec![(0, "start")];
    if n >= 5 {
        labels.push(((n - 1) / 2, "middle"));
    }
    if n > 1 {
        labels.push((n - 1, "end"));
    }
    for (i, anchor) in labels {
        let lx = match anchor {
            "start" if n > 1 => x(i),
            "end" => x(i) + slot,
            _ => x(i) + slot / 2.0,
        };
        let anchor = if n == 1 { "middle" } else { anchor };
        let _ = writeln!(
            s,
            "<text x=\"{lx:.1}\" y=\"{:.1}\" text-anchor=\"{anchor}\">{}</text>",
            CH - 5.0,
            escape(&short_date(
                series.get(i).map_or(NaiveDate::MIN, |d| d.date)
            ))
        );
    }
    // Hover areas last, so they are on top: one full-height column per date.
    for (i, day) in series.iter().enumerate() {
        let _ = writeln!(
            s,
            "<rect class=\"hit\" x=\"{:.1}\" y=\"{CT}\" width=\"{slot:.1}\" height=\"{plot_h:.1}\">\
             <title>{}</title></rect>",
            x(i),
            escape(&hover(trend, day))
        );
    }
    s.push_str("</svg>\n");
    s
}

fn trend_card(trend: &Trend, series: &[Day<'_>]) -> String {
    let latest = series
        .iter()
        .rev()
        .find_map(|d| d.report.map(|r| (d.date, (trend.kpi.value)(r))));
    let now = match latest {
        Some((date, Some(v))) => format!(
            "<b>{}</b> on {}",
            escape(&with_unit(trend.kpi.unit, v)),
            escape(&short_date(date))
        ),
        Some((date, None)) => format!("— on {}", escape(&short_date(date))),
        None => String::new(),
    };
    let legend = match trend.inner {
        Some(inner) => format!(
            "<ul class=\"legend\"><li><span class=\"swatch soft\"></span>{}</li>\
             <li><span class=\"swatch\"></span>{}</li>\
             <li><span class=\"swatch hatch\"></span>No report</li></ul>\n",
            escape(trend.kpi.label),
            escape(inner.label)
        ),
        None => String::new(),
    };
    format!(
        "<div class=\"card trend\">\n<div class=\"chart-head\"><h3>{}</h3><span class=\"now\">{now}</span></div>\n{}{legend}</div>\n",
        escape(trend.title),
        chart_svg(trend, series)
    )
}

fn trends_section(series: &[Day<'_>]) -> String {
    let mut h = String::from(
        "<section aria-labelledby=\"trends-title\">\n<div class=\"section-head\">\
         <h2 id=\"trends-title\">Trends</h2><p>One point per day; hover for values. \
         Hatched columns are days without a report: lines are not drawn across them. \
         Rates are over classified calls.</p></div>\n<div class=\"charts\">\n",
    );
    for trend in &TRENDS {
        h.push_str(&trend_card(trend, series));
    }
    h.push_str("</div>\n</section>\n");
    h
}

// ---------------------------------------------------------------------------------------------
// Breakdowns and funnel

fn breakdown_card(title: &str, field: &str, rows: &[BreakdownRow], classified: u64) -> String {
    let mut h = format!(
        "<div class=\"card breakdown\" data-breakdown=\"{field}\">\n<h3>{}</h3>\n\
         <p class=\"hint\">Share of {} classified calls</p>\n",
        escape(title),
        group(classified)
    );
    if rows.is_empty() {
        h.push_str("<p class=\"empty-note\">No classified calls on this day.</p>\n</div>\n");
        return h;
    }
    h.push_str("<ul class=\"hbars\">\n");
    for row in rows {
        let width = if row.percentage.is_finite() {
            row.percentage.clamp(0.0, 100.0)
        } else {
            0.0
        };
        let _ = writeln!(
            h,
            "<li><span class=\"v\">{}</span><span class=\"n\">{}</span><span class=\"p\">{}</span>\
             <span class=\"track\" aria-hidden=\"true\"><span style=\"width:{width:.2}%\"></span></span></li>",
            code_html(&row.value),
            group(row.count),
            escape(&with_unit(Unit::Percent, row.percentage))
        );
    }
    h.push_str("</ul>\n</div>\n");
    h
}

/// A value code such as `AGREEMENT_REACHED_PENDING_CONFIRMATION`, escaped, with a line-break
/// opportunity after each `_` so long codes wrap on a phone.
fn code_html(value: &str) -> String {
    escape(value).replace('_', "_<wbr>")
}

/// Stages that branch from the one before the previous (the spec's terminal siblings).
fn is_branch(stage: &str) -> bool {
    matches!(stage, "TRANSFER_SUCCEEDED" | "TRANSFER_FAILED")
}

fn funnel_card(steps: &[FunnelStep]) -> String {
    let mut h = String::from(
        "<div class=\"card funnel\">\n<h3>Funnel</h3>\n<p class=\"hint\">Classified calls that \
         reached at least each stage, and the drop-off from the stage before. \
         TRANSFER_<wbr>SUCCEEDED and TRANSFER_<wbr>FAILED both follow TRANSFER_<wbr>ATTEMPTED.</p>\n",
    );
    let first = steps.first().map_or(0, |s| s.reached);
    if first == 0 {
        h.push_str(
            "<p class=\"empty-note\">No calls reached the funnel on this day.</p>\n</div>\n",
        );
        return h;
    }
    h.push_str(
        "<table>\n<thead><tr><th scope=\"col\">Stage</th>\
         <th scope=\"col\" class=\"meter-cell\"><span class=\"visually-hidden\">Share of the first stage</span></th>\
         <th scope=\"col\" class=\"num\">Reached</th><th scope=\"col\" class=\"num\">Drop-off</th>\
         <th scope=\"col\" class=\"num\">Drop-off %</th></tr></thead>\n<tbody>\n",
    );
    for (i, step) in steps.iter().enumerate() {
        let width = (100.0 * step.reached as f64 / first as f64).clamp(0.0, 100.0);
        let (drop, pct) = if i == 0 {
            (
                "<td class=\"num drop none\">—</td>".to_string(),
                "<td class=\"num drop none\">—</td>".to_string(),
            )
        } else {
            let class = if step.drop_off == 0 {
                "num drop none"
            } else {
                "num drop"
            };
            (
                format!("<td class=\"{class}\">{}</td>", group(step.drop_off)),
                format!(
                    "<td class=\"{class}\">{}</td>",
                    escape(&with_unit(Unit::Percent, step.drop_off_percent))
                ),
            )
        };
        let _ = writeln!(
            h,
            "<tr{}><td class=\"stage\">{}</td><td class=\"meter-cell\"><div class=\"meter\" aria-hidden=\"true\">\
             <span style=\"width:{width:.2}%\"></span></div></td><td class=\"num\">{}</td>{drop}{pct}</tr>",
            if is_branch(&step.stage) {
                " class=\"branch\""
            } else {
                ""
            },
            code_html(&step.stage),
            group(step.reached)
        );
    }
    h.push_str("</tbody></table>\n</div>\n");
    h
}

fn breakdowns_section(date: NaiveDate, r: &DailyReport) -> String {
    let b = &r.breakdowns;
    let c = r.kpis.classified_calls;
    let mut h = format!(
        "<section aria-labelledby=\"breakdowns-title\">\n<div class=\"section-head\">\
         <h2 id=\"breakdowns-title\">Breakdown · {}</h2><p>{} of {}.</p></div>\n\
         <div class=\"breakdowns\">\n",
        escape(&long_date(date)),
        plural(c as usize, "classified call", "classified calls"),
        plural(r.kpis.total_calls as usize, "call", "calls"),
    );
    h.push_str(&funnel_card(&b.funnel));
    for (title, field, rows) in [
        (
            "Call classification",
            "call_classification",
            &b.call_classification,
        ),
        (
            "Carrier end state",
            "carrier_end_state",
            &b.carrier_end_state,
        ),
        ("Call stage", "call_stage", &b.call_stage),
        ("Load status", "load_status", &b.load_status),
        ("Pricing notes", "pricing_notes", &b.pricing_notes),
    ] {
        h.push_str(&breakdown_card(title, field, rows, c));
    }
    h.push_str("</div>\n</section>\n");
    h
}

// ---------------------------------------------------------------------------------------------
// Empty state

fn empty_state(org: &Organization, series: &[Day<'_>]) -> String {
    let (from, to) = match (series.first(), series.last()) {
        (Some(first), Some(last)) => (first.date.to_string(), last.date.to_string()),
        _ => ("YYYY-MM-DD".to_string(), "YYYY-MM-DD".to_string()),
    };
    let body = format!(
        "{{\n  \"org_id\": {},\n  \"from\": \"{from}\",\n  \"to\": \"{to}\"\n}}",
        serde_json::Value::from(org.org_id.as_str())
    );
    format!(
        "<section class=\"card empty\">\n<h2>No reports for this period yet</h2>\n\
         <p>Daily reports appear here after the report timer runs: each morning, shortly after the \
         scheduled hour (06:00 by default) in the organization's time zone ({}), it stores the \
         previous day's report.</p>\n\
         <p>To create reports for past days now, run a backfill:</p>\n\
         <pre>POST /api/reports/backfill\n{}</pre>\n</section>\n",
        escape(org.timezone.name()),
        escape(&body)
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

    fn assert_offline(html: &str) {
        for needle in [
            "src=\"http",
            "href=\"http",
            "url(http",
            "@import",
            "src='http",
            "href='http",
            "url('http",
            "url(\"http",
            "<link rel=\"stylesheet",
            "<img",
        ] {
            assert!(!html.contains(needle), "external reference {needle:?}");
        }
        // The one link is the inline favicon, which keeps browsers from fetching /favicon.ico.
        assert_eq!(
            html.matches("<link").count(),
            html.matches("<link rel=\"icon\" href=\"data:,\">").count()
        );
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
        assert_offline(&html);
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
        assert_offline(&html);

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
        assert!(html.contains(&format!("Share of {} classified calls", group(classified))));
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
        assert_offline(&render(&org("Acme"), &sample(), now()));
        assert_offline(&render(&org("Acme"), &period(30, &[0, 1, 2]), now()));
        assert_offline(&render(&org("Acme"), &[], now()));
    }

    #[test]
    fn scales_are_round() {
        assert_eq!(nice_scale(0.0, true), (1.0, 1.0));
        assert_eq!(nice_scale(3.0, true), (3.0, 1.0));
        assert_eq!(nice_scale(271.0, true), (300.0, 100.0));
        assert_eq!(nice_scale(17.3, false), (20.0, 5.0));
        assert_eq!(nice_scale(2.41, false), (3.0, 1.0));
        assert_eq!(nice_scale(98.0, false), (100.0, 25.0));
        assert_eq!(tick_label(2.5, 2.5, Unit::Percent), "2.5%");
        assert_eq!(tick_label(1200.0, 400.0, Unit::Count), "1,200");
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
