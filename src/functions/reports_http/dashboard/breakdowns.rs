//! The latest report's breakdowns, hours and funnel as bar lists, each breakdown row and hour
//! linked to the HTML page of its calls (`GET /api/reports/calls`).

use chrono::NaiveDate;

use super::{BreakdownCard, BreakdownLine, FunnelDrop, FunnelRow, HourLine};
use crate::daily_report::report::{BreakdownRow, DailyReport, FunnelStep, HourRow};
use crate::render::format::{Unit, thousands};

/// Where the calls page and the revisions of the latest report's date are.
pub(super) struct Links<'a> {
    pub(super) org_id: &'a str,
    pub(super) date: NaiveDate,
}

/// Percent-encodes a query value (everything but ASCII letters, digits and `-._~`).
pub(super) const QUERY_VALUE: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

impl Links<'_> {
    /// The relative link (from `/api/dashboard`) to the HTML page of the calls behind
    /// `dimension=value` (`GET /api/reports/calls`), values percent-encoded.
    pub(super) fn calls(&self, dimension: &str, value: &str) -> String {
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

impl Links<'_> {
    /// The relative link (from `/api/dashboard`) to the revisions of the date's report
    /// (`GET /api/reports/{date}/revisions`), the org percent-encoded.
    pub(super) fn revisions(&self) -> String {
        format!(
            "reports/{}/revisions?org_id={}",
            self.date,
            percent_encoding::utf8_percent_encode(self.org_id, QUERY_VALUE)
        )
    }
}

/// The report's `by_hour`, one line per local hour, each linked to its calls.
pub(super) fn hour_lines(rows: &[HourRow], links: &Links<'_>) -> Vec<HourLine> {
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

/// The five breakdowns of `r`, in page order.
pub(super) fn cards(r: &DailyReport, links: &Links<'_>) -> Vec<BreakdownCard> {
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
pub(super) fn funnel(steps: &[FunnelStep]) -> Vec<FunnelRow> {
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
