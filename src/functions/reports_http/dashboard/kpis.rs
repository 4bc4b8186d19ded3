//! The headline KPIs: how each reads, its tile, and its change against the baseline (the
//! median of the same weekday of the previous 4 weeks, `daily_report::changes`).

use chrono::NaiveDate;

use super::{ChangeItem, Delta, Tile};
use crate::daily_report::changes::{self, Changes, Flag, KpiChange};
use crate::daily_report::report::DailyReport;
use crate::render::format::{Unit, plural, round2, thousands};

/// One headline KPI: its report field, how it reads, and its value in a report (`None` when
/// undefined that day). Whether a move is good news is the changes' `good`.
pub(super) struct Kpi {
    pub(super) field: &'static str,
    pub(super) label: &'static str,
    pub(super) unit: Unit,
    pub(super) value: fn(&DailyReport) -> Option<f64>,
}

/// A rate over classified calls, undefined without any.
fn over_classified(r: &DailyReport, value: f64) -> Option<f64> {
    (r.kpis.classified_calls > 0).then_some(value)
}

pub(super) const TOTAL_CALLS: Kpi = Kpi {
    field: "total_calls",
    label: "Total calls",
    unit: Unit::Count,
    value: |r| Some(r.kpis.total_calls as f64),
};
pub(super) const CLASSIFIED_CALLS: Kpi = Kpi {
    field: "classified_calls",
    label: "Classified calls",
    unit: Unit::Count,
    value: |r| Some(r.kpis.classified_calls as f64),
};
pub(super) const SUCCESS_RATE: Kpi = Kpi {
    field: "success_rate_percent",
    label: "Success rate",
    unit: Unit::Percent,
    value: |r| over_classified(r, r.kpis.success_rate_percent),
};
pub(super) const AVG_MINUTES: Kpi = Kpi {
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
pub(super) const NOT_QUALIFIED: Kpi = Kpi {
    field: "carrier_not_qualified",
    label: "Carrier not qualified",
    unit: Unit::Percent,
    value: |r| over_classified(r, r.kpis.carrier_not_qualified.percentage),
};
pub(super) const TRANSFERRED: Kpi = Kpi {
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
pub(super) const CARRIER_ASKED: Kpi = Kpi {
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
pub(super) const TILES: [&Kpi; 8] = [
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
pub(super) fn kpi_change<'c>(kpi: &Kpi, c: &'c Changes, hours: &'c KpiChange) -> &'c KpiChange {
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
pub(super) fn compare_hours(day: &DailyReport, baseline: &[(NaiveDate, DailyReport)]) -> KpiChange {
    let values: Vec<f64> = baseline
        .iter()
        .map(|(_, r)| r.kpis.total_duration_hours)
        .collect();
    changes::level_change(day.kpis.total_duration_hours, &values, None)
}

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
pub(super) struct Basis {
    pub(super) dates: Vec<NaiveDate>,
    /// `median of 4 previous Mondays`, `no baseline`.
    pub(super) label: String,
    /// The dates behind it.
    pub(super) title: String,
}

pub(super) fn basis(c: &Changes) -> Basis {
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

pub(super) fn tile(kpi: &'static Kpi, r: &DailyReport, change: &KpiChange, basis: &Basis) -> Tile {
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
pub(super) fn flagged_change(kpi: &'static Kpi, change: &KpiChange) -> Option<ChangeItem> {
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
