//! What changed in a day's report (`docs/insights.md`, "Daily report: what changed"): the
//! headline KPIs of one stored report against the same weekday of the previous 4 weeks, from
//! stored snapshots only (so a backfilled day compares as well as any other; ClickHouse is
//! never asked).
//!
//! Rules:
//! * **Baseline dates**: `date − 7, −14, −21, −28` days whose report is stored (and readable);
//!   [`Changes::baseline_dates`] lists the ones used, nearest first. With none, every `flag` is
//!   `none` and every `baseline` and `delta` is `null`.
//! * **KPIs**: the headline KPIs whose definition says `compared` ([`Kpi`]), keyed by their
//!   report field; [`change_of`] compares any of them (the dashboard compares every tile).
//! * **Counts, sums and means** (a [`Reading::Total`] or [`Reading::Mean`]: `total_calls`,
//!   `classified_calls`, `avg_minutes_per_call`, …): `baseline` = the median of the baseline
//!   dates' values (the mean of the middle two for an even number). Flagged `up` / `down` when
//!   the day's value lies above the baseline's maximum / below its minimum **and** differs from
//!   the median by at least 20 % of it.
//! * **Percentages** (a [`Reading::Rate`]: `success_rate_percent`, `carrier_not_qualified`, …,
//!   a percentage over the classified calls): `baseline` = the median of the baseline
//!   dates' percentages (dates without classified calls have no rate and are left out of it);
//!   `delta` in percentage points. Flagged only when the day has at least `min_calls`
//!   classified calls and a two-sided pooled two-proportion z-test at 95 % of the day's counts
//!   against the summed counts of the baseline dates rejects equality (|z| > 1.959964); the
//!   direction is the test's, and a change whose `delta` (against the median) points the other
//!   way is not flagged.
//! * `good`: whether the flagged move is good for the business, by the KPI's `up_is_good`
//!   (`null` when not flagged, and always for a KPI that is neither, like
//!   `avg_minutes_per_call`): more calls and a higher success rate are good; more carriers not
//!   qualified is bad.
//!
//! Cost: at most 5 blob reads (the day and its 4 baseline dates, concurrently) and no listing.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{Duration, NaiveDate};
use serde::Serialize;
use utoipa::PartialSchema;
use utoipa::openapi::schema::{AdditionalProperties, ObjectBuilder};

use super::kpi::{Kpi, Reading};
use super::report::{DailyReport, percent};
use super::snapshots::{self, SnapshotError};
use crate::orgs::OrgId;
use crate::stats::{Z_95, median, round2, two_proportion_z};
use crate::storage::Storage;

/// `min_calls` when the request names none.
pub const DEFAULT_MIN_CALLS: u64 = 30;

/// How many weeks back the baseline looks.
pub const BASELINE_WEEKS: i64 = 4;

/// The least relative difference from the baseline median that flags a count or duration.
pub const MIN_RELATIVE_CHANGE: f64 = 0.20;

/// The reply of `GET /api/reports/{date}/changes`.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Changes {
    pub date: NaiveDate,
    pub org_id: OrgId,
    /// The stored baseline dates used, nearest first (a subset of `date − 7, −14, −21, −28`).
    #[schema(max_items = 4)]
    pub baseline_dates: Vec<NaiveDate>,
    /// Classified calls the day needs before a percentage KPI can be flagged.
    #[schema(minimum = 1)]
    pub min_calls: u64,
    /// One change per compared headline KPI, in [`Kpi::ALL`] order; in JSON an object keyed by
    /// the KPI's report field (`total_calls`, `carrier_not_qualified`, …).
    #[schema(schema_with = kpi_changes_schema)]
    pub kpis: BTreeMap<Kpi, KpiChange>,
}

/// The schema of [`Changes::kpis`]: a [`KpiChange`] for each compared KPI, by its key.
fn kpi_changes_schema() -> ObjectBuilder {
    Kpi::ALL
        .into_iter()
        .filter(|k| k.def().compared)
        .fold(ObjectBuilder::new(), |object, kpi| {
            object
                .property(kpi.key(), KpiChange::schema())
                .required(kpi.key())
        })
        .additional_properties(Some(AdditionalProperties::FreeForm(false)))
}

/// One KPI of the day against its baseline. Numbers with 2 decimals; percentages in percent,
/// `delta` of a percentage in percentage points.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct KpiChange {
    #[serde(serialize_with = "crate::stats::whole_as_integer")]
    pub value: f64,
    /// `null` without baseline dates (for a percentage: without one that has classified calls).
    #[serde(serialize_with = "crate::stats::option_whole_as_integer")]
    #[schema(required)]
    pub baseline: Option<f64>,
    /// `value − baseline`; `null` when `baseline` is.
    #[serde(serialize_with = "crate::stats::option_whole_as_integer")]
    #[schema(required)]
    pub delta: Option<f64>,
    // Inline: `Changes::kpis` inlines this schema, which so refers to no other (a doc comment
    // here would wrap it in an `allOf` with an object).
    #[schema(inline)]
    pub flag: Flag,
    /// Whether the flagged move is good for the business; `null` when not flagged or neutral.
    #[schema(required)]
    pub good: Option<bool>,
}

/// The direction of a flagged change: `up`, `down` or `none`, in JSON and in text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Flag {
    Up,
    Down,
    None,
}

impl fmt::Display for Flag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Flag::Up => "up",
            Flag::Down => "down",
            Flag::None => "none",
        })
    }
}

/// The dates whose reports make the baseline of `date`: `date − 7, −14, −21, −28`.
pub fn baseline_candidates(date: NaiveDate) -> Vec<NaiveDate> {
    (1..=BASELINE_WEEKS)
        .map(|w| date - Duration::days(7 * w))
        .collect()
}

/// Reads the report of `(org_id, date)` and those of its baseline dates that exist, with one
/// blob read each (concurrently; no listing). `Ok(None)` when the day has no report. A
/// baseline report that does not parse is left out; the day's is an error
/// ([`SnapshotError::Unreadable`]; [`snapshots::read`] logs both).
pub async fn load(
    storage: &Storage,
    org_id: &OrgId,
    date: NaiveDate,
) -> Result<Option<(DailyReport, Vec<(NaiveDate, DailyReport)>)>, SnapshotError> {
    let reads = std::iter::once(date)
        .chain(baseline_candidates(date))
        .map(|d| async move { (d, snapshots::read(storage, org_id, d).await) });
    let mut reads = futures::future::join_all(reads).await.into_iter();
    let Some((_, day)) = reads.next() else {
        return Ok(None);
    };
    let Some(day) = day? else {
        return Ok(None);
    };
    let mut baseline = Vec::new();
    for (d, read) in reads {
        if let Some(stored) = read.or_else(SnapshotError::as_absent)? {
            baseline.push((d, stored.report));
        }
    }
    Ok(Some((day.report, baseline)))
}

/// The changes of `day` (the report of `date`) against `baseline` (the reports of its
/// baseline dates, nearest first), by the rules of the module doc. Pure.
pub fn compare(
    date: NaiveDate,
    org_id: &OrgId,
    day: &DailyReport,
    baseline: &[(NaiveDate, DailyReport)],
    min_calls: u64,
) -> Changes {
    let reports: Vec<&DailyReport> = baseline.iter().map(|(_, r)| r).collect();
    Changes {
        date,
        org_id: org_id.clone(),
        baseline_dates: baseline.iter().map(|(d, _)| *d).collect(),
        min_calls,
        kpis: Kpi::ALL
            .into_iter()
            .filter(|k| k.def().compared)
            .map(|k| (k, change_of(k, day, &reports, min_calls)))
            .collect(),
    }
}

/// The change of `kpi` in `day` against `baseline` (the reports of its baseline dates), by
/// the rules of the module doc: a rate by its counts, anything else by its stored number. Pure.
pub fn change_of(
    kpi: Kpi,
    day: &DailyReport,
    baseline: &[&DailyReport],
    min_calls: u64,
) -> KpiChange {
    let up_is_good = kpi.def().up_is_good;
    let reading = kpi.read(day);
    match reading {
        Reading::Rate { count, of, .. } => {
            let counts: Vec<(u64, u64)> = baseline
                .iter()
                .filter_map(|r| kpi.read(r).counts())
                .collect();
            rate_change((count, of), &counts, min_calls, up_is_good)
        }
        Reading::Total(_) | Reading::Mean { .. } => {
            let values: Vec<f64> = baseline.iter().map(|r| kpi.read(r).stored()).collect();
            level_change(reading.stored(), &values, up_is_good)
        }
    }
}

/// A count or duration against the baseline values (see the module doc).
pub fn level_change(value: f64, baseline: &[f64], up_is_good: Option<bool>) -> KpiChange {
    let Some(median) = median(baseline) else {
        return unflagged(value, None);
    };
    let min = baseline.iter().copied().fold(f64::INFINITY, f64::min);
    let max = baseline.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let far = (value - median).abs() >= MIN_RELATIVE_CHANGE * median.abs();
    let flag = if value > max && far {
        Flag::Up
    } else if value < min && far {
        Flag::Down
    } else {
        Flag::None
    };
    change(value, median, flag, up_is_good)
}

/// A percentage: the day's `(x, n)` against the baseline dates' counts (see the module doc).
pub fn rate_change(
    (x, n): (u64, u64),
    baseline: &[(u64, u64)],
    min_calls: u64,
    up_is_good: Option<bool>,
) -> KpiChange {
    let value = percent(x, n);
    let rates: Vec<f64> = baseline
        .iter()
        .filter(|(_, n)| *n > 0)
        .map(|(x, n)| percent(*x, *n))
        .collect();
    let Some(median) = median(&rates) else {
        return unflagged(value, None);
    };
    let (px, pn) = baseline
        .iter()
        .fold((0, 0), |(sx, sn), (x, n)| (sx + x, sn + n));
    let delta = value - median;
    let flag = match two_proportion_z(x, n, px, pn) {
        Some(z) if n >= min_calls.max(1) && z.abs() > Z_95 => {
            if z > 0.0 && delta > 0.0 {
                Flag::Up
            } else if z < 0.0 && delta < 0.0 {
                Flag::Down
            } else {
                Flag::None
            }
        }
        _ => Flag::None,
    };
    change(value, median, flag, up_is_good)
}

fn unflagged(value: f64, baseline: Option<f64>) -> KpiChange {
    KpiChange {
        value: round2(value),
        baseline: baseline.map(round2),
        delta: baseline.map(|b| round2(value - b)),
        flag: Flag::None,
        good: None,
    }
}

fn change(value: f64, baseline: f64, flag: Flag, up_is_good: Option<bool>) -> KpiChange {
    let good = match flag {
        Flag::None => None,
        Flag::Up => up_is_good,
        Flag::Down => up_is_good.map(|g| !g),
    };
    KpiChange {
        flag,
        good,
        ..unflagged(value, Some(baseline))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn the_baseline_is_the_same_weekday_of_the_four_weeks_before() {
        assert_eq!(
            baseline_candidates(d("2025-12-15")),
            [
                d("2025-12-08"),
                d("2025-12-01"),
                d("2025-11-24"),
                d("2025-11-17")
            ]
        );
    }

    #[test]
    fn a_rate_is_flagged_just_above_significance_and_not_just_below() {
        // Baseline: 4 dates of 30 classified calls, 15 successes each (50 %; pooled 60/120).
        let baseline = [(15, 30); 4];
        // 20/30 (66.67 %): p = 80/150, se = 0.101835, z = 1.6366: not significant.
        let below = rate_change((20, 30), &baseline, 30, Some(true));
        assert_eq!(below.flag, Flag::None);
        assert_eq!(below.good, None);
        assert_eq!(
            (below.value, below.baseline, below.delta),
            (66.67, Some(50.0), Some(16.67))
        );
        // 21/30 (70 %): p = 81/150, se = 0.101735, z = 1.9659 > 1.959964: flagged up, good.
        let above = rate_change((21, 30), &baseline, 30, Some(true));
        assert_eq!(above.flag, Flag::Up);
        assert_eq!(above.good, Some(true));
        assert_eq!(above.delta, Some(20.0));
        // The same counts for a KPI where up is bad.
        assert_eq!(
            rate_change((21, 30), &baseline, 30, Some(false)).good,
            Some(false)
        );
        // Down: 9/30 (30 %): p = 69/150, se = 0.101735, z = −1.9659: flagged down.
        let down = rate_change((9, 30), &baseline, 30, Some(true));
        assert_eq!((down.flag, down.good), (Flag::Down, Some(false)));
        // 10/30 (33.33 %): z = −1.6366: not flagged.
        assert_eq!(
            rate_change((10, 30), &baseline, 30, Some(true)).flag,
            Flag::None
        );
    }

    #[test]
    fn a_rate_needs_min_calls_classified_calls_on_the_day() {
        let baseline = [(50, 100); 4];
        // 29/29 against 200/400 is overwhelming, but 29 < 30 calls.
        let few = rate_change((29, 29), &baseline, 30, Some(true));
        assert_eq!(few.flag, Flag::None);
        assert_eq!(few.baseline, Some(50.0));
        assert_eq!(
            rate_change((29, 29), &baseline, 29, Some(true)).flag,
            Flag::Up
        );
    }

    #[test]
    fn a_rate_baseline_leaves_out_dates_without_classified_calls() {
        // Rates 40 %, 60 % and a date with none: median 50; pooled 10/20.
        let baseline = [(4, 10), (0, 0), (6, 10)];
        let c = rate_change((5, 10), &baseline, 1, Some(true));
        assert_eq!(
            (c.baseline, c.delta, c.flag),
            (Some(50.0), Some(0.0), Flag::None)
        );
        let none = rate_change((5, 10), &[(0, 0)], 1, Some(true));
        assert_eq!(
            (none.baseline, none.delta, none.flag),
            (None, None, Flag::None)
        );
        assert_eq!(none.value, 50.0);
    }

    #[test]
    fn a_count_is_flagged_outside_the_range_and_20_percent_from_the_median() {
        // Baseline 90, 100, 110, 120: median 105, range [90, 120].
        let b = [100.0, 120.0, 90.0, 110.0];
        let c = level_change(126.0, &b, Some(true));
        assert_eq!(
            (c.baseline, c.delta, c.flag, c.good),
            (Some(105.0), Some(21.0), Flag::Up, Some(true))
        );
        // Outside the range but only 19.05 % above the median.
        assert_eq!(level_change(125.0, &b, Some(true)).flag, Flag::None);
        // 20 % below the median (84) and below the minimum.
        let c = level_change(84.0, &b, Some(true));
        assert_eq!((c.flag, c.good), (Flag::Down, Some(false)));
        // 25 % above the median but inside the range.
        let wide = [50.0, 100.0, 200.0];
        assert_eq!(level_change(125.0, &wide, Some(true)).flag, Flag::None);
        // A neutral KPI is flagged with good = null.
        let c = level_change(3.0, &[2.0, 2.0], None);
        assert_eq!((c.flag, c.good), (Flag::Up, None));
        // From nothing to something.
        assert_eq!(level_change(5.0, &[0.0, 0.0], Some(true)).flag, Flag::Up);
        assert_eq!(level_change(0.0, &[0.0], Some(true)).flag, Flag::None);
    }

    #[test]
    fn fewer_than_four_weeks_and_none() {
        // One week: min = max = median.
        let c = level_change(130.0, &[100.0], Some(true));
        assert_eq!((c.baseline, c.flag), (Some(100.0), Flag::Up));
        assert_eq!(level_change(119.0, &[100.0], Some(true)).flag, Flag::None);
        // Two weeks: the median is their mean.
        assert_eq!(
            level_change(100.0, &[80.0, 90.0], Some(true)).baseline,
            Some(85.0)
        );
        // None.
        let c = level_change(100.0, &[], Some(true));
        assert_eq!(
            (c.baseline, c.delta, c.flag, c.good),
            (None, None, Flag::None, None)
        );
    }

    #[test]
    fn a_flag_reads_as_it_serializes() {
        for flag in [Flag::Up, Flag::Down, Flag::None] {
            assert_eq!(serde_json::to_value(flag).unwrap(), flag.to_string());
        }
    }

    #[test]
    fn whole_numbers_serialize_as_integers() {
        let c = level_change(7.0, &[4.0, 5.0], Some(true));
        assert_eq!(
            serde_json::to_value(&c).unwrap(),
            serde_json::json!({"value": 7, "baseline": 4.5, "delta": 2.5, "flag": "up", "good": true})
        );
    }
}
