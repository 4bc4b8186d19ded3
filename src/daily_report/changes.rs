//! What changed in a day's report (`docs/insights.md`, "Daily report: what changed"): the
//! headline KPIs of one stored report against the same weekday of the previous 4 weeks, from
//! stored snapshots only (so a backfilled day compares as well as any other; ClickHouse is
//! never asked).
//!
//! Rules:
//! * **Baseline dates**: `date − 7, −14, −21, −28` days whose report is stored (and readable);
//!   [`Changes::baseline_dates`] lists the ones used, nearest first. With none, every `flag` is
//!   `none` and every `baseline` and `delta` is `null`.
//! * **Count and duration KPIs** (`total_calls`, `classified_calls`, `avg_minutes_per_call`):
//!   `baseline` = the median of the baseline dates' values (the mean of the middle two for an
//!   even number). Flagged `up` / `down` when the day's value lies above the baseline's
//!   maximum / below its minimum **and** differs from the median by at least 20 % of it.
//! * **Percentage KPIs** (`success_rate_percent`, `carrier_not_qualified`,
//!   `successfully_transferred_for_booking`, `carrier_transfer_over_total_call_attempts`:
//!   their percentage over the classified calls): `baseline` = the median of the baseline
//!   dates' percentages (dates without classified calls have no rate and are left out of it);
//!   `delta` in percentage points. Flagged only when the day has at least `min_calls`
//!   classified calls and a two-sided pooled two-proportion z-test at 95 % of the day's counts
//!   against the summed counts of the baseline dates rejects equality (|z| > 1.959964); the
//!   direction is the test's, and a change whose `delta` (against the median) points the other
//!   way is not flagged.
//! * `good`: whether the flagged move is good for the business (`null` when not flagged, and
//!   always for `avg_minutes_per_call`, where longer calls are neither): more calls, more
//!   classified calls, a higher success rate and more transfers for booking are good; more
//!   carriers not qualified and more carriers asking for a transfer (the agent did not finish
//!   the call) are bad.
//!
//! Cost: at most 5 blob reads (the day and its 4 baseline dates, concurrently) and no listing.

use chrono::{Duration, NaiveDate};
use serde::{Serialize, Serializer};

use super::report::{DailyReport, percent, round2};
use super::snapshots;
use crate::storage::{Storage, StorageError};

/// `min_calls` when the request names none.
pub const DEFAULT_MIN_CALLS: u64 = 30;

/// How many weeks back the baseline looks.
pub const BASELINE_WEEKS: i64 = 4;

/// The two-sided 95 % critical value of the standard normal distribution.
pub const Z_95: f64 = 1.959964;

/// The least relative difference from the baseline median that flags a count or duration.
pub const MIN_RELATIVE_CHANGE: f64 = 0.20;

/// The reply of `GET /api/reports/{date}/changes`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Changes {
    pub date: NaiveDate,
    pub org_id: String,
    /// The stored baseline dates used, nearest first (a subset of `date − 7, −14, −21, −28`).
    pub baseline_dates: Vec<NaiveDate>,
    /// Classified calls the day needs before a percentage KPI can be flagged.
    pub min_calls: u64,
    pub kpis: KpiChanges,
}

/// One [`KpiChange`] per headline KPI, named as in the report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KpiChanges {
    pub total_calls: KpiChange,
    pub classified_calls: KpiChange,
    pub success_rate_percent: KpiChange,
    pub avg_minutes_per_call: KpiChange,
    pub carrier_not_qualified: KpiChange,
    pub successfully_transferred_for_booking: KpiChange,
    pub carrier_transfer_over_total_call_attempts: KpiChange,
}

/// One KPI of the day against its baseline. Numbers with 2 decimals; percentages in percent,
/// `delta` of a percentage in percentage points.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KpiChange {
    #[serde(serialize_with = "number")]
    pub value: f64,
    /// `null` without baseline dates (for a percentage: without one that has classified calls).
    #[serde(serialize_with = "optional_number")]
    pub baseline: Option<f64>,
    /// `value − baseline`; `null` when `baseline` is.
    #[serde(serialize_with = "optional_number")]
    pub delta: Option<f64>,
    pub flag: Flag,
    /// Whether the flagged move is good for the business; `null` when not flagged or neutral.
    pub good: Option<bool>,
}

/// The direction of a flagged change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Flag {
    Up,
    Down,
    None,
}

/// The dates whose reports make the baseline of `date`: `date − 7, −14, −21, −28`.
pub fn baseline_candidates(date: NaiveDate) -> Vec<NaiveDate> {
    (1..=BASELINE_WEEKS)
        .map(|w| date - Duration::days(7 * w))
        .collect()
}

/// Why the reports could not be read.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("storage: {0}")]
    Storage(#[from] StorageError),
    #[error("the stored report of {0} is unreadable: {1}")]
    Unreadable(NaiveDate, serde_json::Error),
}

/// Reads the report of `(org_id, date)` and those of its baseline dates that exist, with one
/// blob read each (concurrently; no listing). `Ok(None)` when the day has no report. A
/// baseline report that does not parse is left out (logged); the day's is an error.
pub async fn load(
    storage: &Storage,
    org_id: &str,
    date: NaiveDate,
) -> Result<Option<(DailyReport, Vec<(NaiveDate, DailyReport)>)>, LoadError> {
    let dates: Vec<NaiveDate> = std::iter::once(date)
        .chain(baseline_candidates(date))
        .collect();
    let objects =
        futures::future::try_join_all(dates.iter().map(|d| snapshots::read(storage, org_id, *d)))
            .await?;
    let mut reports = dates.into_iter().zip(objects);
    let Some((_, day)) = reports.next() else {
        return Ok(None);
    };
    let Some(day) = day else {
        return Ok(None);
    };
    let day: DailyReport =
        serde_json::from_slice(&day.body).map_err(|e| LoadError::Unreadable(date, e))?;
    let baseline = reports
        .filter_map(|(d, object)| {
            let object = object?;
            match serde_json::from_slice::<DailyReport>(&object.body) {
                Ok(r) => Some((d, r)),
                Err(e) => {
                    tracing::error!(%org_id, date = %d, error = %e,
                        "stored report unreadable; left out of the baseline");
                    None
                }
            }
        })
        .collect();
    Ok(Some((day, baseline)))
}

/// The changes of `day` (the report of `date`) against `baseline` (the reports of its
/// baseline dates, nearest first), by the rules of the module doc. Pure.
pub fn compare(
    date: NaiveDate,
    org_id: &str,
    day: &DailyReport,
    baseline: &[(NaiveDate, DailyReport)],
    min_calls: u64,
) -> Changes {
    let reports: Vec<&DailyReport> = baseline.iter().map(|(_, r)| r).collect();
    let level = |f: fn(&DailyReport) -> f64, up_is_good: Option<bool>| {
        let values: Vec<f64> = reports.iter().map(|r| f(r)).collect();
        level_change(f(day), &values, up_is_good)
    };
    let rate = |f: fn(&DailyReport) -> (u64, u64), up_is_good: bool| {
        let counts: Vec<(u64, u64)> = reports.iter().map(|r| f(r)).collect();
        rate_change(f(day), &counts, min_calls, up_is_good)
    };
    Changes {
        date,
        org_id: org_id.to_string(),
        baseline_dates: baseline.iter().map(|(d, _)| *d).collect(),
        min_calls,
        kpis: KpiChanges {
            total_calls: level(|r| r.kpis.total_calls as f64, Some(true)),
            classified_calls: level(|r| r.kpis.classified_calls as f64, Some(true)),
            success_rate_percent: rate(successes, true),
            avg_minutes_per_call: level(|r| r.kpis.avg_minutes_per_call, None),
            carrier_not_qualified: rate(
                |r| {
                    let s = &r.kpis.carrier_not_qualified;
                    (s.count, s.total_calls)
                },
                false,
            ),
            successfully_transferred_for_booking: rate(
                |r| {
                    let s = &r.kpis.successfully_transferred_for_booking;
                    (s.successfully_transferred_for_booking_count, s.total_calls)
                },
                true,
            ),
            carrier_transfer_over_total_call_attempts: rate(
                |r| {
                    let s = &r.kpis.carrier_transfer_over_total_call_attempts;
                    (s.carrier_asked_count, s.total_call_attempts)
                },
                false,
            ),
        },
    }
}

/// (successes, classified calls) of a report: the `success` row of the classification
/// breakdown, over |C|.
fn successes(r: &DailyReport) -> (u64, u64) {
    let x = r
        .breakdowns
        .call_classification
        .iter()
        .filter(|b| b.value == "success")
        .map(|b| b.count)
        .sum();
    (x, r.kpis.classified_calls)
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
    up_is_good: bool,
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
    change(value, median, flag, Some(up_is_good))
}

/// The pooled two-proportion z statistic of `x1/n1` against `x2/n2`: `(p1 − p2) / √(p(1−p)
/// (1/n1 + 1/n2))` with `p = (x1 + x2) / (n1 + n2)`. `None` when either `n` is 0 or the pooled
/// rate is 0 or 1 (no variance: the rates are equal).
pub fn two_proportion_z(x1: u64, n1: u64, x2: u64, n2: u64) -> Option<f64> {
    if n1 == 0 || n2 == 0 {
        return None;
    }
    let (x1, n1, x2, n2) = (x1 as f64, n1 as f64, x2 as f64, n2 as f64);
    let p = (x1 + x2) / (n1 + n2);
    let se = (p * (1.0 - p) * (1.0 / n1 + 1.0 / n2)).sqrt();
    (se > 0.0).then(|| (x1 / n1 - x2 / n2) / se)
}

/// The median (the mean of the middle two for an even count); `None` for no values.
pub fn median(values: &[f64]) -> Option<f64> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    Some(if v.len() % 2 == 1 {
        v[mid]
    } else {
        (v[mid - 1] + v[mid]) / 2.0
    })
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

/// A whole number as a JSON integer (`12`, not `12.0`), anything else as it is.
fn number<S: Serializer>(x: &f64, s: S) -> Result<S::Ok, S::Error> {
    if x.fract() == 0.0 && x.abs() < 9.0e15 {
        s.serialize_i64(*x as i64)
    } else {
        s.serialize_f64(*x)
    }
}

fn optional_number<S: Serializer>(x: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
    match x {
        Some(x) => number(x, s),
        None => s.serialize_none(),
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
    fn z_of_hand_computed_proportions() {
        // 12/30 against 60/120: p = 72/150 = 0.48; se = √(0.48·0.52·(1/30 + 1/120)) = 0.101980;
        // z = (0.4 − 0.5) / 0.101980 = −0.98058.
        let z = two_proportion_z(12, 30, 60, 120).unwrap();
        assert!((z - -0.980_58).abs() < 1e-5, "{z}");
        assert_eq!(two_proportion_z(0, 30, 0, 120), None);
        assert_eq!(two_proportion_z(30, 30, 120, 120), None);
        assert_eq!(two_proportion_z(1, 0, 1, 2), None);
    }

    #[test]
    fn a_rate_is_flagged_just_above_significance_and_not_just_below() {
        // Baseline: 4 dates of 30 classified calls, 15 successes each (50 %; pooled 60/120).
        let baseline = [(15, 30); 4];
        // 20/30 (66.67 %): p = 80/150, se = 0.101835, z = 1.6366: not significant.
        let below = rate_change((20, 30), &baseline, 30, true);
        assert_eq!(below.flag, Flag::None);
        assert_eq!(below.good, None);
        assert_eq!(
            (below.value, below.baseline, below.delta),
            (66.67, Some(50.0), Some(16.67))
        );
        // 21/30 (70 %): p = 81/150, se = 0.101735, z = 1.9659 > 1.959964: flagged up, good.
        let above = rate_change((21, 30), &baseline, 30, true);
        assert_eq!(above.flag, Flag::Up);
        assert_eq!(above.good, Some(true));
        assert_eq!(above.delta, Some(20.0));
        // The same counts for a KPI where up is bad.
        assert_eq!(
            rate_change((21, 30), &baseline, 30, false).good,
            Some(false)
        );
        // Down: 9/30 (30 %): p = 69/150, se = 0.101735, z = −1.9659: flagged down.
        let down = rate_change((9, 30), &baseline, 30, true);
        assert_eq!((down.flag, down.good), (Flag::Down, Some(false)));
        // 10/30 (33.33 %): z = −1.6366: not flagged.
        assert_eq!(rate_change((10, 30), &baseline, 30, true).flag, Flag::None);
    }

    #[test]
    fn a_rate_needs_min_calls_classified_calls_on_the_day() {
        let baseline = [(50, 100); 4];
        // 29/29 against 200/400 is overwhelming, but 29 < 30 calls.
        let few = rate_change((29, 29), &baseline, 30, true);
        assert_eq!(few.flag, Flag::None);
        assert_eq!(few.baseline, Some(50.0));
        assert_eq!(rate_change((29, 29), &baseline, 29, true).flag, Flag::Up);
    }

    #[test]
    fn a_rate_baseline_leaves_out_dates_without_classified_calls() {
        // Rates 40 %, 60 % and a date with none: median 50; pooled 10/20.
        let baseline = [(4, 10), (0, 0), (6, 10)];
        let c = rate_change((5, 10), &baseline, 1, true);
        assert_eq!(
            (c.baseline, c.delta, c.flag),
            (Some(50.0), Some(0.0), Flag::None)
        );
        let none = rate_change((5, 10), &[(0, 0)], 1, true);
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
    fn whole_numbers_serialize_as_integers() {
        let c = level_change(7.0, &[4.0, 5.0], Some(true));
        assert_eq!(
            serde_json::to_value(&c).unwrap(),
            serde_json::json!({"value": 7, "baseline": 4.5, "delta": 2.5, "flag": "up", "good": true})
        );
    }
}
