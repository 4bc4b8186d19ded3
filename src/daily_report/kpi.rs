//! The report's KPIs (`docs/daily-report.md`, "KPIs"), each defined once: the `kpis` block of
//! the document ([`Kpis`], made from the query's counts by [`Kpis::of`]) and the headline KPIs
//! ([`Kpi`]). A headline KPI's [`Definition`] says everything the rest of the crate asks of
//! it: its keys, its label and unit, how to read it from a report, whether up is good, and
//! where it appears. The summary metadata (`summary`), the changes (`changes`), the trend
//! (`reports_http::stored`), the dashboard's tiles and charts and the digests (`delivery`)
//! iterate [`Kpi::ALL`] and name no KPI. Adding one: ARCHITECTURE.md, "Adding a KPI".

use serde::{Deserialize, Serialize, Serializer};
use utoipa::openapi::schema::{ObjectBuilder, SchemaType, Type};

use super::query::DayCounts;
use super::report::{DailyReport, percent};
use crate::render::format::{Unit, thousands};
use crate::stats::round2;

/// The old daily-report tool's KPIs plus the additions of `docs/daily-report.md`, "KPIs" (median,
/// p90, `non_convertible_calls`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Kpis {
    /// |R|: runs in the window with an org session from a number not excluded.
    pub total_calls: u64,
    /// |C|: runs of R whose latest output has a non-empty classification.
    pub classified_calls: u64,
    /// Σ duration over R, hours.
    #[schema(minimum = 0)]
    pub total_duration_hours: f64,
    /// Σ duration over R / |R|, minutes.
    #[schema(minimum = 0)]
    pub avg_minutes_per_call: f64,
    /// 100 · #(C: `success`) / |C|.
    #[schema(minimum = 0, maximum = 100)]
    pub success_rate_percent: f64,
    /// #(C: `non_convertible` OR `NOT_QUALIFIED`) over |C|.
    #[schema(inline)]
    pub non_convertible_calls_with_carrier_not_qualified: Share,
    /// #(C: carrier_qualification = `NOT_QUALIFIED`) over |C|.
    #[schema(inline)]
    pub carrier_not_qualified: Share,
    /// #(C: transfer_reason = `CARRIER_ASKED_FOR_TRANSFER`) over |C|.
    #[schema(inline)]
    pub carrier_transfer_over_total_call_attempts: CarrierAsked,
    /// #(C: transfer_reason = `READY_TO_BOOK` AND transfer_success) over |C|.
    #[schema(inline)]
    pub successfully_transferred_for_booking: TransferredForBooking,
    /// Median minutes per call over R (linear interpolation between ranks).
    #[schema(minimum = 0)]
    pub median_minutes_per_call: f64,
    /// 90th percentile of minutes per call over R.
    #[schema(minimum = 0)]
    pub p90_minutes_per_call: f64,
    /// #(C: `non_convertible`) over |C|.
    #[schema(inline)]
    pub non_convertible_calls: Share,
}

/// A count over the classified calls.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Share {
    pub count: u64,
    /// |C|.
    pub total_calls: u64,
    #[schema(minimum = 0, maximum = 100)]
    pub percentage: f64,
}

/// The old tool's `carrier_transfer_over_total_call_attempts` (`docs/daily-report.md`, "KPIs").
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CarrierAsked {
    pub carrier_asked_count: u64,
    /// |C|.
    pub total_call_attempts: u64,
    #[schema(minimum = 0, maximum = 100)]
    pub carrier_asked_percentage: f64,
}

/// The old tool's `successfully_transferred_for_booking` (`docs/daily-report.md`, "KPIs").
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TransferredForBooking {
    pub successfully_transferred_for_booking_count: u64,
    /// |C|.
    pub total_calls: u64,
    #[schema(minimum = 0, maximum = 100)]
    pub successfully_transferred_for_booking_percentage: f64,
}

impl Kpis {
    /// The KPIs of the query's `counts` (pure): numbers with decimals rounded to 2, a zero
    /// denominator giving 0, never NaN (`docs/daily-report.md`, "KPIs").
    pub fn of(counts: &DayCounts) -> Kpis {
        let n = counts.total_calls;
        let c = counts.classified_calls;
        let seconds = finite(counts.total_duration_seconds);
        let per_call = |minutes: f64| if n == 0 { 0.0 } else { round2(minutes) };
        let share = |count| Share {
            count,
            total_calls: c,
            percentage: percent(count, c),
        };
        Kpis {
            total_calls: n,
            classified_calls: c,
            total_duration_hours: round2(seconds / 3600.0),
            avg_minutes_per_call: per_call(seconds / 60.0 / n.max(1) as f64),
            success_rate_percent: percent(counts.success_count, c),
            non_convertible_calls_with_carrier_not_qualified: share(
                counts.non_convertible_or_not_qualified_count,
            ),
            carrier_not_qualified: share(counts.not_qualified_count),
            carrier_transfer_over_total_call_attempts: CarrierAsked {
                carrier_asked_count: counts.carrier_asked_count,
                total_call_attempts: c,
                carrier_asked_percentage: percent(counts.carrier_asked_count, c),
            },
            successfully_transferred_for_booking: TransferredForBooking {
                successfully_transferred_for_booking_count: counts.transferred_for_booking_count,
                total_calls: c,
                successfully_transferred_for_booking_percentage: percent(
                    counts.transferred_for_booking_count,
                    c,
                ),
            },
            median_minutes_per_call: per_call(finite(counts.median_minutes)),
            p90_minutes_per_call: per_call(finite(counts.p90_minutes)),
            non_convertible_calls: share(counts.non_convertible_count),
        }
    }
}

fn finite(x: f64) -> f64 {
    if x.is_finite() { x } else { 0.0 }
}

/// A headline KPI of the daily report (`docs/daily-report.md`, "Headline KPIs"): a tile of
/// the dashboard and, as its [`Definition`] says, a number of the summary metadata, a compared
/// KPI of the changes, a line of the digests. Serialized as its [`Definition::key`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kpi {
    TotalCalls,
    ClassifiedCalls,
    SuccessRate,
    AvgMinutesPerCall,
    TotalDurationHours,
    CarrierNotQualified,
    TransferredForBooking,
    CarrierAsked,
}

/// A headline KPI's number in one report, with what it is made of.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Reading {
    /// A count or a sum over the day's calls.
    Total(f64),
    /// A mean over `of` calls; undefined (and stored as 0) when `of` is 0.
    Mean { value: f64, of: u64 },
    /// A percentage of the classified calls: `count` of `of` (|C|), stored as `percent`;
    /// undefined (and stored as 0) when `of` is 0.
    Rate { percent: f64, count: u64, of: u64 },
}

impl Reading {
    /// The number as the report stores it (0 where undefined).
    pub fn stored(self) -> f64 {
        match self {
            Reading::Total(v) | Reading::Mean { value: v, .. } => v,
            Reading::Rate { percent, .. } => percent,
        }
    }

    /// The number; `None` where undefined (a rate without classified calls, a mean without
    /// calls), which a page shows as a gap rather than a real 0.
    pub fn value(self) -> Option<f64> {
        match self {
            Reading::Total(v) => Some(v),
            Reading::Mean { value, of } => (of > 0).then_some(value),
            Reading::Rate { percent, of, .. } => (of > 0).then_some(percent),
        }
    }

    /// A rate's `(count, of)`, which the changes test; `None` for a total or a mean.
    pub fn counts(self) -> Option<(u64, u64)> {
        match self {
            Reading::Rate { count, of, .. } => Some((count, of)),
            Reading::Total(_) | Reading::Mean { .. } => None,
        }
    }
}

/// Everything about one headline KPI ([`Kpi::def`]).
#[derive(Debug, Clone, Copy)]
pub struct Definition {
    /// Its field under the report's `kpis`; its key in the changes reply, in a digest's
    /// changes and on the dashboard (`data-kpi`). E.g. `carrier_not_qualified`.
    pub key: &'static str,
    /// The key of its number (a rate's percentage) in blob metadata, listings, the trend and a
    /// digest's `kpis`, e.g. `carrier_not_qualified_percent`; `None`: not kept in metadata, so
    /// in no listing, trend or digest line. Never renamed: stored metadata is read by it.
    pub metadata_key: Option<&'static str>,
    /// Its name on every page and digest, e.g. `Carrier not qualified`.
    pub label: &'static str,
    /// How its number is written.
    pub unit: Unit,
    /// Its number in a report.
    pub read: fn(&DailyReport) -> Reading,
    /// The line under its number on the dashboard (`58 of 211 classified`); for an undefined
    /// number, why (`no classified calls`).
    pub note: fn(&DailyReport, Reading) -> String,
    /// Whether a rise is good for the business; `None`: neither (longer calls).
    pub up_is_good: Option<bool>,
    /// Compared in the changes reply and a digest's flagged changes (the dashboard compares
    /// every headline KPI).
    pub compared: bool,
    /// A line of the digests; only a kept KPI can be one (its metadata key names it in a
    /// webhook's `kpis`).
    pub in_digest: bool,
}

impl Kpi {
    /// Every headline KPI, in declaration order, which is the dashboard's tile order and the
    /// order of every list of them.
    pub const ALL: [Kpi; 8] = [
        Kpi::TotalCalls,
        Kpi::ClassifiedCalls,
        Kpi::SuccessRate,
        Kpi::AvgMinutesPerCall,
        Kpi::TotalDurationHours,
        Kpi::CarrierNotQualified,
        Kpi::TransferredForBooking,
        Kpi::CarrierAsked,
    ];

    /// The definition of each headline KPI (`docs/daily-report.md`, "KPIs").
    pub fn def(self) -> Definition {
        match self {
            Kpi::TotalCalls => Definition {
                key: "total_calls",
                metadata_key: Some("total_calls"),
                label: "Total calls",
                unit: Unit::Count,
                read: |r| Reading::Total(r.kpis.total_calls as f64),
                note: |_, _| "all calls that day".to_string(),
                up_is_good: Some(true),
                compared: true,
                in_digest: true,
            },
            Kpi::ClassifiedCalls => Definition {
                key: "classified_calls",
                metadata_key: Some("classified_calls"),
                label: "Classified calls",
                unit: Unit::Count,
                read: |r| Reading::Total(r.kpis.classified_calls as f64),
                note: |r, _| {
                    let share = percent(r.kpis.classified_calls, r.kpis.total_calls);
                    format!("{} of all calls", Unit::Percent.with_unit(share))
                },
                up_is_good: Some(true),
                compared: true,
                in_digest: true,
            },
            Kpi::SuccessRate => Definition {
                key: "success_rate_percent",
                metadata_key: Some("success_rate_percent"),
                label: "Success rate",
                unit: Unit::Percent,
                read: |r| Reading::Rate {
                    percent: r.kpis.success_rate_percent,
                    count: successes(r),
                    of: r.kpis.classified_calls,
                },
                note: of_classified,
                up_is_good: Some(true),
                compared: true,
                in_digest: true,
            },
            Kpi::AvgMinutesPerCall => Definition {
                key: "avg_minutes_per_call",
                metadata_key: Some("avg_minutes_per_call"),
                label: "Avg minutes per call",
                unit: Unit::Minutes,
                read: |r| Reading::Mean {
                    value: r.kpis.avg_minutes_per_call,
                    of: r.kpis.total_calls,
                },
                note: |r, reading| match reading.value() {
                    None => "no calls".to_string(),
                    Some(_) => format!(
                        "median {} · p90 {} min",
                        Unit::Minutes.number(r.kpis.median_minutes_per_call),
                        Unit::Minutes.number(r.kpis.p90_minutes_per_call)
                    ),
                },
                up_is_good: None,
                compared: true,
                in_digest: true,
            },
            Kpi::TotalDurationHours => Definition {
                key: "total_duration_hours",
                metadata_key: Some("total_duration_hours"),
                label: "Total call time",
                unit: Unit::Hours,
                read: |r| Reading::Total(r.kpis.total_duration_hours),
                note: |_, _| "sum of call durations".to_string(),
                up_is_good: None,
                compared: false,
                in_digest: true,
            },
            Kpi::CarrierNotQualified => Definition {
                key: "carrier_not_qualified",
                metadata_key: Some("carrier_not_qualified_percent"),
                label: "Carrier not qualified",
                unit: Unit::Percent,
                read: |r| {
                    let s = &r.kpis.carrier_not_qualified;
                    Reading::Rate {
                        percent: s.percentage,
                        count: s.count,
                        of: s.total_calls,
                    }
                },
                note: of_classified,
                up_is_good: Some(false),
                compared: true,
                in_digest: true,
            },
            Kpi::TransferredForBooking => Definition {
                key: "successfully_transferred_for_booking",
                metadata_key: Some("successfully_transferred_percent"),
                label: "Transferred for booking",
                unit: Unit::Percent,
                read: |r| {
                    let s = &r.kpis.successfully_transferred_for_booking;
                    Reading::Rate {
                        percent: s.successfully_transferred_for_booking_percentage,
                        count: s.successfully_transferred_for_booking_count,
                        of: s.total_calls,
                    }
                },
                note: of_classified,
                up_is_good: Some(true),
                compared: true,
                in_digest: false,
            },
            Kpi::CarrierAsked => Definition {
                key: "carrier_transfer_over_total_call_attempts",
                metadata_key: None,
                label: "Carrier asked for transfer",
                unit: Unit::Percent,
                read: |r| {
                    let s = &r.kpis.carrier_transfer_over_total_call_attempts;
                    Reading::Rate {
                        percent: s.carrier_asked_percentage,
                        count: s.carrier_asked_count,
                        of: s.total_call_attempts,
                    }
                },
                note: of_classified,
                // A carrier asking for a transfer means the agent did not finish the call.
                up_is_good: Some(false),
                compared: true,
                in_digest: false,
            },
        }
    }

    /// [`Definition::key`].
    pub fn key(self) -> &'static str {
        self.def().key
    }

    /// [`Definition::label`].
    pub fn label(self) -> &'static str {
        self.def().label
    }

    /// [`Definition::unit`].
    pub fn unit(self) -> Unit {
        self.def().unit
    }

    /// Its number in `report`.
    pub fn read(self, report: &DailyReport) -> Reading {
        (self.def().read)(report)
    }

    /// Its number in `report`, `None` where undefined ([`Reading::value`]).
    pub fn value(self, report: &DailyReport) -> Option<f64> {
        self.read(report).value()
    }

    /// The line under its number on the dashboard ([`Definition::note`]).
    pub fn note(self, report: &DailyReport) -> String {
        (self.def().note)(report, self.read(report))
    }

    /// The headline KPIs kept in blob metadata, with their [`Definition::metadata_key`], in
    /// [`Kpi::ALL`] order.
    pub fn kept() -> impl Iterator<Item = (Kpi, &'static str)> {
        Kpi::ALL
            .into_iter()
            .filter_map(|k| Some((k, k.def().metadata_key?)))
    }
}

impl Kpi {
    /// The OpenAPI schema of its number in a reply: an integer of at least 0 for a count, a
    /// number otherwise, 0–100 for a percentage; `null` allowed too when `nullable`.
    pub fn number_schema(self, nullable: bool) -> ObjectBuilder {
        let (schema_type, minimum, maximum) = match self.unit() {
            Unit::Count => (Type::Integer, Some(0), None),
            Unit::Percent => (Type::Number, Some(0), Some(100)),
            Unit::Hours | Unit::Minutes => (Type::Number, None, None),
        };
        let schema_type = match nullable {
            true => SchemaType::from_iter([schema_type, Type::Null]),
            false => SchemaType::new(schema_type),
        };
        ObjectBuilder::new()
            .schema_type(schema_type)
            .minimum(minimum)
            .maximum(maximum)
    }
}

impl Serialize for Kpi {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.key())
    }
}

/// The successes of a report: the `success` row of the classification breakdown (the report
/// keeps only their percentage).
fn successes(r: &DailyReport) -> u64 {
    r.breakdowns
        .call_classification
        .iter()
        .filter(|b| b.value == "success")
        .map(|b| b.count)
        .sum()
}

/// A rate's note: `58 of 211 classified`, or `no classified calls`.
fn of_classified(_: &DailyReport, reading: Reading) -> String {
    match reading {
        Reading::Rate { of: 0, .. } => "no classified calls".to_string(),
        Reading::Rate { count, of, .. } => {
            format!("{} of {} classified", thousands(count), thousands(of))
        }
        Reading::Total(_) | Reading::Mean { .. } => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clickhouse::CallStats;
    use crate::daily_report::report::build;

    /// A report of the old tool's sample day (`docs/daily-report.md`, "Origins").
    fn sample() -> DailyReport {
        let counts = DayCounts {
            total_calls: 271,
            total_duration_seconds: 10.23 * 3600.0,
            median_minutes: 1.5,
            p90_minutes: 4.25,
            classified_calls: 211,
            success_count: 32,
            not_qualified_count: 58,
            carrier_asked_count: 28,
            transferred_for_booking_count: 27,
            by_call_classification: (vec!["other".into(), "success".into()], vec![179, 32]),
            ..DayCounts::default()
        };
        let org: crate::orgs::Organization = serde_json::from_value(serde_json::json!({
            "org_id": "01951f56-8c6e-7a93-a971-3d06a81a1ab0", "name": "Org",
            "node_persistent_id": "019b099d-77fd-7e09-9d2b-cd4c476a0a19", "timezone": "UTC",
            "created_at": "2025-10-01T00:00:00Z", "updated_at": "2025-10-01T00:00:00Z"}))
        .unwrap();
        let now = "2025-12-16T12:00:00Z".parse().unwrap();
        build(
            &org,
            "2025-12-15".parse().unwrap(),
            &counts,
            CallStats::default(),
            0,
            now,
        )
    }

    #[test]
    fn all_is_every_kpi_once_in_declaration_order() {
        for (i, kpi) in Kpi::ALL.into_iter().enumerate() {
            assert_eq!(kpi as usize, i, "{kpi:?}");
        }
    }

    /// The keys are the report's fields and stored metadata's keys: they never change.
    #[test]
    fn keys_and_labels() {
        let table: Vec<(&str, Option<&str>, &str)> = Kpi::ALL
            .iter()
            .map(|k| (k.key(), k.def().metadata_key, k.label()))
            .collect();
        assert_eq!(
            table,
            [
                ("total_calls", Some("total_calls"), "Total calls"),
                (
                    "classified_calls",
                    Some("classified_calls"),
                    "Classified calls"
                ),
                (
                    "success_rate_percent",
                    Some("success_rate_percent"),
                    "Success rate"
                ),
                (
                    "avg_minutes_per_call",
                    Some("avg_minutes_per_call"),
                    "Avg minutes per call"
                ),
                (
                    "total_duration_hours",
                    Some("total_duration_hours"),
                    "Total call time"
                ),
                (
                    "carrier_not_qualified",
                    Some("carrier_not_qualified_percent"),
                    "Carrier not qualified"
                ),
                (
                    "successfully_transferred_for_booking",
                    Some("successfully_transferred_percent"),
                    "Transferred for booking"
                ),
                (
                    "carrier_transfer_over_total_call_attempts",
                    None,
                    "Carrier asked for transfer"
                ),
            ]
        );
    }

    /// Each key is a field of the report's `kpis`, whose number (a rate's percentage) the
    /// reading returns; a digest line is kept (its metadata key names it); each KPI has its doc
    /// lines in `docs/daily-report.md`: its definition ("KPIs") and its row, with its label,
    /// in "Headline KPIs".
    #[test]
    fn every_kpi_reads_its_report_field_and_has_its_doc_lines() {
        let r = sample();
        let json = serde_json::to_value(&r.kpis).unwrap();
        let doc = include_str!("../../docs/daily-report.md");
        for kpi in Kpi::ALL {
            let field = &json[kpi.key()];
            let stored = field.as_f64().or_else(|| {
                let object = field.as_object()?;
                object
                    .iter()
                    .find(|(k, _)| k.contains("percent"))?
                    .1
                    .as_f64()
            });
            assert_eq!(stored, Some(kpi.read(&r).stored()), "{kpi:?}");
            let def = kpi.def();
            assert!(!def.in_digest || def.metadata_key.is_some(), "{kpi:?}");
            let row = format!("\n| `{}` |", def.key);
            assert_eq!(doc.matches(&row).count(), 2, "{kpi:?}");
            assert!(doc.contains(&format!("{row} {} |", def.label)), "{kpi:?}");
        }
    }

    #[test]
    fn readings_of_the_sample_day() {
        let r = sample();
        let read: Vec<Reading> = Kpi::ALL.iter().map(|k| k.read(&r)).collect();
        assert_eq!(
            read,
            [
                Reading::Total(271.0),
                Reading::Total(211.0),
                Reading::Rate {
                    percent: 15.17,
                    count: 32,
                    of: 211
                },
                Reading::Mean {
                    value: 2.26,
                    of: 271
                },
                Reading::Total(10.23),
                Reading::Rate {
                    percent: 27.49,
                    count: 58,
                    of: 211
                },
                Reading::Rate {
                    percent: 12.8,
                    count: 27,
                    of: 211
                },
                Reading::Rate {
                    percent: 13.27,
                    count: 28,
                    of: 211
                },
            ]
        );
        let notes: Vec<String> = Kpi::ALL.iter().map(|k| k.note(&r)).collect();
        assert_eq!(
            notes,
            [
                "all calls that day",
                "77.86% of all calls",
                "32 of 211 classified",
                "median 1.50 · p90 4.25 min",
                "sum of call durations",
                "58 of 211 classified",
                "27 of 211 classified",
                "28 of 211 classified",
            ]
        );
    }

    /// An empty day: rates and the mean are undefined, and their notes say why.
    #[test]
    fn an_empty_day_has_undefined_rates_and_mean() {
        let mut r = sample();
        r.kpis = Kpis::of(&DayCounts::default());
        r.breakdowns.call_classification.clear();
        for kpi in Kpi::ALL {
            let reading = kpi.read(&r);
            assert_eq!(reading.stored(), 0.0, "{kpi:?}");
            match reading {
                Reading::Total(_) => assert_eq!(reading.value(), Some(0.0)),
                Reading::Mean { .. } => assert_eq!(kpi.note(&r), "no calls"),
                Reading::Rate { .. } => assert_eq!(kpi.note(&r), "no classified calls"),
            }
        }
    }
}
