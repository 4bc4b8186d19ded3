//! The headline KPIs' tiles and their changes against the baseline (the median of the same
//! weekday of the previous 4 weeks, `daily_report::changes`). What each KPI is — its label,
//! unit, value and note — its definition says (`daily_report::kpi`); this module lays it out.

use chrono::NaiveDate;

use super::{ChangeItem, Delta, Tile};
use crate::daily_report::changes::{self, Flag, KpiChange};
use crate::daily_report::kpi::Kpi;
use crate::daily_report::report::DailyReport;
use crate::render::format::{Unit, plural};
use crate::stats::round2;

/// What the comparison is against: `median of 4 previous Mondays`, or `no baseline`.
pub(super) fn basis_label(date: NaiveDate, baseline_dates: &[NaiveDate]) -> String {
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
fn change_text(kpi: Kpi, diff: f64) -> String {
    let diff = round2(diff);
    if diff == 0.0 {
        return "no change".to_string();
    }
    let arrow = if diff > 0.0 { "▲" } else { "▼" };
    let amount = match kpi.unit() {
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
fn delta(kpi: Kpi, current: Option<f64>, change: &KpiChange, basis: &Basis) -> Option<Delta> {
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
        in_points: kpi.unit() == Unit::Percent,
        vs_title: basis.title.clone(),
        vs: basis.label.clone(),
    })
}

/// The comparison's basis, as the page names it.
pub(super) struct Basis {
    pub(super) dates: Vec<NaiveDate>,
    /// `median of 4 previous Mondays`, `no baseline`.
    pub(super) label: String,
    /// The dates behind it.
    pub(super) title: String,
}

/// The basis of comparing `date` with the reports of `baseline_dates`.
pub(super) fn basis(date: NaiveDate, baseline_dates: &[NaiveDate]) -> Basis {
    let dates: Vec<String> = baseline_dates.iter().map(|d| d.to_string()).collect();
    Basis {
        dates: baseline_dates.to_vec(),
        label: basis_label(date, baseline_dates),
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

/// The tile of `kpi` in `r`, with its change against the baseline.
pub(super) fn tile(kpi: Kpi, r: &DailyReport, change: &KpiChange, basis: &Basis) -> Tile {
    let current = kpi.value(r);
    let unit = kpi.unit();
    Tile {
        field: kpi.key(),
        label: kpi.label(),
        value: current.map(|v| (unit.number(v), unit.suffix().trim())),
        sub: kpi.note(r),
        flagged: change.flag != Flag::None,
        delta: delta(kpi, current, change, basis),
    }
}

/// One flagged change of the "What changed" strip.
pub(super) fn flagged_change(kpi: Kpi, change: &KpiChange) -> Option<ChangeItem> {
    if change.flag == Flag::None {
        return None;
    }
    let unit = kpi.unit();
    Some(ChangeItem {
        field: kpi.key(),
        label: kpi.label(),
        tone: tone(change),
        value: unit.with_unit(change.value),
        baseline: change.baseline.map(|b| unit.with_unit(b)),
        change: change
            .delta
            .map_or_else(|| "n/a".to_string(), |d| change_text(kpi, d)),
        in_points: unit == Unit::Percent,
    })
}
