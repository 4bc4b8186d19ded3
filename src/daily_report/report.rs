//! The daily report document (`docs/daily-report.md`, "Report document"; field names are
//! the old daily-report tool's, unchanged) and its computation from one query ([`super::query`]).
//!
//! Rules, all from `docs/daily-report.md` unless said otherwise:
//! * Window: `[date 00:00, date+1 00:00)` local in the org's zone ([`day_window`]), 23 or 25
//!   hours on DST days; a day whose midnight does not exist starts after the gap.
//! * Numbers with decimals are rounded to 2 decimals, half away from zero; a zero denominator
//!   gives 0, never NaN.
//! * Breakdowns are over C (runs with a non-empty classification), `{value, count, percentage}`
//!   sorted by count descending then value ascending; a missing or empty value is `UNKNOWN`,
//!   unknown values are kept as they are.
//! * Funnel (`docs/daily-report.md`, "Breakdowns"; the details are a decision of this crate): over
//!   C, the calls whose `call_stage` is one of the seven funnel stages; a call with another stage
//!   (`UNKNOWN`, an unrecognized value) is visible in the `call_stage` breakdown only. A call at
//!   stage s reached s and every stage before it; a call at `TRANSFER_SUCCEEDED` or
//!   `TRANSFER_FAILED` reached `TRANSFER_ATTEMPTED`. The two terminal stages are siblings: each
//!   one's `drop_off` is `reached(TRANSFER_ATTEMPTED) - reached(itself)` and its `drop_off_percent`
//!   is relative to `reached(TRANSFER_ATTEMPTED)`. Every other stage's drop-off is relative to the
//!   stage before it; `GREETING` has none (0).
//! * `by_hour` (`docs/insights.md`, "Daily report: the hours of the day"): one row per local
//!   clock hour of the day in time order ([`day_hours`]): 23 on a spring-forward day, 25 on a
//!   fall-back day (the repeated hour twice, told apart by the offset of `start`), zeros
//!   included. A run's hour is that of its `public_runs.timestamp`. Snapshots written before
//!   it existed (schema version 1) read back with an empty `by_hour`.

use chrono::{DateTime, FixedOffset, NaiveDate, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use super::kpi::Kpis;
use super::provenance::{Fingerprint, Provenance, QUERY_SHA256, Supersedes};
use super::query::{Counts, DayCounts, Quarters, fetch_day};
use crate::clickhouse::{CallStats, ClickHouse, ClickHouseError};
use crate::orgs::{OrgId, Organization};
use crate::stats::round2;
use crate::time::local_midnight;

/// The version of the document's shape; bump it when a field changes meaning.
/// 2: `breakdowns.by_hour` added (absent in version 1 snapshots, read as empty).
pub const SCHEMA_VERSION: u32 = 2;

/// The call stages in funnel order (`docs/daily-report.md`, "Source", `result.call.call_stage`);
/// the last two are the siblings that follow `TRANSFER_ATTEMPTED`.
pub const FUNNEL_STAGES: [&str; 7] = [
    "GREETING",
    "LOAD_LOOKUP",
    "CARRIER_VERIFICATION",
    "RATE_NEGOTIATION",
    "TRANSFER_ATTEMPTED",
    "TRANSFER_SUCCEEDED",
    "TRANSFER_FAILED",
];

/// The value a breakdown gives a missing key or an empty string.
pub const UNKNOWN: &str = "UNKNOWN";

/// One org's report for one local date.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(
    description = "One org's report for one local date (field names of the old \
    daily-report tool, unchanged)."
)]
pub struct DailyReport {
    #[schema(inline)]
    pub date_range: DateRange,
    #[schema(inline)]
    pub kpis: Kpis,
    #[schema(inline)]
    pub breakdowns: Breakdowns,
    #[schema(inline)]
    pub metadata: Metadata,
    /// [`SCHEMA_VERSION`]: 2 since `breakdowns.by_hour`; stored version-1 reports are served
    /// as they were written.
    #[schema(minimum = 1)]
    pub schema_version: u32,
}

/// The local day, as RFC 3339 instants with the zone's offset at each end (they differ on DST
/// days), e.g. `2025-12-15T00:00:00-06:00` .. `2025-12-16T00:00:00-06:00`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DateRange {
    /// IANA zone name, e.g. `America/Chicago`.
    #[schema(examples("America/Chicago"))]
    pub tz: String,
    /// Inclusive start.
    #[serde(with = "rfc3339_secs")]
    pub start_date: DateTime<FixedOffset>,
    /// Exclusive end.
    #[serde(with = "rfc3339_secs")]
    pub end_date: DateTime<FixedOffset>,
}

/// Distributions over C, and the funnel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Breakdowns {
    pub call_stage: Vec<BreakdownRow>,
    pub call_classification: Vec<BreakdownRow>,
    pub load_status: Vec<BreakdownRow>,
    pub pricing_notes: Vec<BreakdownRow>,
    pub carrier_end_state: Vec<BreakdownRow>,
    /// One step per [`FUNNEL_STAGES`] entry, in that order (zeros on an empty day).
    #[schema(min_items = 7, max_items = 7)]
    pub funnel: Vec<FunnelStep>,
    /// One row per local clock hour of the day, in time order (23, 24 or 25 rows). Empty in
    /// snapshots of schema version 1, which did not have it.
    #[serde(default)]
    #[schema(max_items = 25)]
    pub by_hour: Vec<HourRow>,
}

/// The calls of one local clock hour (over R; `classified_calls` and `success_count` over C).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct HourRow {
    /// The local clock hour, `HH:00` (`01:00` twice on a fall-back day).
    #[schema(pattern = "^([01][0-9]|2[0-3]):00$", examples("01:00"))]
    pub hour: String,
    /// Its first instant, RFC 3339 with the offset in force then (`2025-11-02T01:00:00-05:00`
    /// and `2025-11-02T01:00:00-06:00` on the fall-back day in America/Chicago).
    #[serde(with = "rfc3339_secs")]
    #[schema(examples("2025-11-02T01:00:00-05:00"))]
    pub start: DateTime<FixedOffset>,
    pub total_calls: u64,
    pub classified_calls: u64,
    pub success_count: u64,
}

/// One value of a breakdown.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct BreakdownRow {
    /// `UNKNOWN` for a missing or empty value.
    pub value: String,
    pub count: u64,
    /// 100 · count / |C|.
    #[schema(minimum = 0, maximum = 100)]
    pub percentage: f64,
}

/// One funnel stage (see the module doc for the counting rules).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FunnelStep {
    /// One of [`FUNNEL_STAGES`].
    #[schema(schema_with = funnel_stage_schema)]
    pub stage: String,
    /// Calls that reached at least this stage.
    pub reached: u64,
    /// Calls that reached the previous stage but not this one.
    pub drop_off: u64,
    /// 100 · drop_off / reached(previous stage).
    #[schema(minimum = 0, maximum = 100)]
    pub drop_off_percent: f64,
}

/// Who the report is for, when it was made, and what it cost.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Metadata {
    pub org_id: OrgId,
    pub org_name: String,
    /// RFC 3339 in the org's zone, to the second.
    #[serde(with = "rfc3339_secs")]
    pub generated_at: DateTime<FixedOffset>,
    #[schema(inline)]
    pub source: Source,
    /// Where the numbers came from (`docs/revisions.md`, "Provenance"); absent in reports
    /// stored before it existed, which read as an unknown fingerprint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub provenance: Option<Provenance>,
    /// 1 for a date's first report, one more for each revision (`docs/revisions.md`); a
    /// report stored before revisions reads as 1.
    #[serde(default = "first_revision")]
    #[schema(minimum = 1, required)]
    pub revision: u32,
    /// For a revision after the first: the one it replaced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub supersedes: Option<Supersedes>,
}

fn first_revision() -> u32 {
    1
}

/// The ClickHouse work behind the report.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Source {
    /// Wall time of the query, retries included, milliseconds.
    pub query_ms: u64,
    /// From `X-ClickHouse-Summary` (0 when the server sends none).
    pub rows_read: u64,
    pub bytes_read: u64,
    /// HTTP requests made, retries included (1 when nothing failed).
    #[schema(minimum = 1)]
    pub round_trips: u32,
}

/// The schema of a funnel step's `stage`: one of [`FUNNEL_STAGES`].
fn funnel_stage_schema() -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::Type::String)
        .enum_values(Some(FUNNEL_STAGES))
        .build()
}

/// `date`'s window in `tz` as UTC instants `[start, end)`: 24 hours, or 23 / 25 on DST days.
pub fn day_window(date: NaiveDate, tz: Tz) -> (DateTime<Utc>, DateTime<Utc>) {
    let next = date.succ_opt().expect("a date before 262143-12-31");
    (local_midnight(date, tz), local_midnight(next, tz))
}

/// One local clock hour of a day: its label (`HH:00`) and UTC span `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalHour {
    /// The local hour, 0-23.
    pub hour: u32,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

/// The local clock hours of `date` in `tz`, in time order, covering [`day_window`] exactly:
/// 24 hours, 23 on a spring-forward day, 25 on a fall-back day (the repeated hour twice).
///
/// The day is cut at UTC quarter hours (every offset in use is a multiple of 15 minutes): a
/// new hour starts where the local clock shows another hour than the quarter before, or went
/// back (the repeated hour of a fall-back day).
pub fn day_hours(date: NaiveDate, tz: Tz) -> Vec<LocalHour> {
    use chrono::Timelike;
    let (start, end) = day_window(date, tz);
    let mut hours: Vec<LocalHour> = Vec::new();
    let mut t = start;
    let mut previous: Option<chrono::NaiveDateTime> = None;
    while t < end {
        let local = t.with_timezone(&tz).naive_local();
        let new_hour = match previous {
            None => true,
            Some(p) => local < p || (local.date(), local.hour()) != (p.date(), p.hour()),
        };
        if new_hour {
            if let Some(last) = hours.last_mut() {
                last.end = t;
            }
            hours.push(LocalHour {
                hour: local.hour(),
                start: t,
                end,
            });
        }
        previous = Some(local);
        // The next UTC quarter hour after t (t itself may be unaligned at the day's start).
        let secs = t.timestamp();
        let next = secs - secs.rem_euclid(900) + 900;
        t = DateTime::from_timestamp(next, 0).unwrap_or(end);
    }
    hours
}

/// `by_hour` from the query's quarter-hour counts: each quarter goes to the local hour that
/// contains it; hours without calls are zeros.
fn by_hour(
    date: NaiveDate,
    tz: Tz,
    (quarters, total, classified, success): &Quarters,
) -> Vec<HourRow> {
    let hours = day_hours(date, tz);
    let mut rows: Vec<HourRow> = hours
        .iter()
        .map(|h| HourRow {
            hour: format!("{:02}:00", h.hour),
            start: h.start.with_timezone(&tz).fixed_offset(),
            total_calls: 0,
            classified_calls: 0,
            success_count: 0,
        })
        .collect();
    for (i, q) in quarters.iter().enumerate() {
        let Some(at) = DateTime::from_timestamp(q.saturating_mul(900), 0) else {
            continue;
        };
        // The last hour starting at or before the quarter (a quarter before the day's first
        // instant, possible only for an unaligned start, belongs to the first hour).
        let k = hours.partition_point(|h| h.start <= at).saturating_sub(1);
        if let Some(row) = rows.get_mut(k) {
            row.total_calls += total.get(i).copied().unwrap_or(0);
            row.classified_calls += classified.get(i).copied().unwrap_or(0);
            row.success_count += success.get(i).copied().unwrap_or(0);
        }
    }
    rows
}

/// Computes `org`'s report for its local `date` with one ClickHouse query; `now` becomes
/// `metadata.generated_at`.
///
/// Errors: [`ClickHouseError`] (after retries of transient failures). An org whose node or
/// org id has no data gets a report of zeros, not an error.
pub async fn generate(
    ch: &ClickHouse,
    org: &Organization,
    date: NaiveDate,
    now: DateTime<Utc>,
) -> Result<DailyReport, ClickHouseError> {
    let (start, end) = day_window(date, org.timezone);
    let started = std::time::Instant::now();
    let (counts, stats) = fetch_day(ch, org, start, end).await?;
    let query_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    tracing::debug!(org_id = %org.org_id, %date, query_ms, round_trips = stats.round_trips,
        total_calls = counts.total_calls, "daily report computed");
    Ok(build(org, date, &counts, stats, query_ms, now))
}

/// The document for `counts` (pure: no I/O). `stats` and `query_ms` fill `metadata.source`.
pub fn build(
    org: &Organization,
    date: NaiveDate,
    counts: &DayCounts,
    stats: CallStats,
    query_ms: u64,
    now: DateTime<Utc>,
) -> DailyReport {
    let tz = org.timezone;
    let (start, end) = day_window(date, tz);
    let c = counts.classified_calls;
    DailyReport {
        date_range: DateRange {
            tz: tz.name().to_string(),
            start_date: start.with_timezone(&tz).fixed_offset(),
            end_date: end.with_timezone(&tz).fixed_offset(),
        },
        kpis: Kpis::of(counts),
        breakdowns: Breakdowns {
            call_stage: breakdown(&counts.by_call_stage, c),
            call_classification: breakdown(&counts.by_call_classification, c),
            load_status: breakdown(&counts.by_load_status, c),
            pricing_notes: breakdown(&counts.by_pricing_notes, c),
            carrier_end_state: breakdown(&counts.by_carrier_end_state, c),
            funnel: funnel(&counts.by_call_stage),
            by_hour: by_hour(date, tz, &counts.by_quarter),
        },
        metadata: Metadata {
            org_id: org.org_id.clone(),
            org_name: org.name.clone(),
            generated_at: now.with_timezone(&tz).fixed_offset(),
            source: Source {
                query_ms,
                rows_read: stats.rows_read,
                bytes_read: stats.bytes_read,
                round_trips: stats.round_trips,
            },
            provenance: Some(Provenance {
                query_sha256: QUERY_SHA256.clone(),
                engine: counts.engine.clone(),
                fingerprint: Fingerprint::from_columns(
                    counts.total_calls,
                    counts.output_rows,
                    counts.latest_output_ms,
                ),
            }),
            revision: 1,
            supersedes: None,
        },
        schema_version: SCHEMA_VERSION,
    }
}

/// 100 · part / whole, 2 decimals; 0 when `whole` is 0.
pub fn percent(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        round2(100.0 * part as f64 / whole as f64)
    }
}

fn breakdown((values, counts): &Counts, classified: u64) -> Vec<BreakdownRow> {
    let mut rows: Vec<BreakdownRow> = values
        .iter()
        .zip(counts)
        .filter(|(_, n)| **n > 0)
        .map(|(v, n)| BreakdownRow {
            value: if v.is_empty() {
                UNKNOWN.to_string()
            } else {
                v.clone()
            },
            count: *n,
            percentage: percent(*n, classified),
        })
        .collect();
    rows.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.value.cmp(&b.value)));
    rows
}

fn funnel((values, counts): &Counts) -> Vec<FunnelStep> {
    let at = |stage: &str| -> u64 {
        values
            .iter()
            .zip(counts)
            .filter(|(v, _)| v.as_str() == stage)
            .map(|(_, n)| *n)
            .sum()
    };
    let at_stage: Vec<u64> = FUNNEL_STAGES.iter().map(|s| at(s)).collect();
    // reached(i) for the linear part 0..=4 counts every call at i or later, the two
    // terminal siblings (5, 6) included.
    let mut reached = [0u64; 7];
    reached[5] = at_stage[5];
    reached[6] = at_stage[6];
    let mut later = at_stage[5] + at_stage[6];
    for i in (0..5).rev() {
        later += at_stage[i];
        reached[i] = later;
    }
    FUNNEL_STAGES
        .iter()
        .enumerate()
        .map(|(i, stage)| {
            let previous = match i {
                0 => None,
                5 | 6 => Some(reached[4]),
                _ => Some(reached[i - 1]),
            };
            let drop_off = previous.map_or(0, |p| p.saturating_sub(reached[i]));
            FunnelStep {
                stage: stage.to_string(),
                reached: reached[i],
                drop_off,
                drop_off_percent: previous.map_or(0.0, |p| percent(drop_off, p)),
            }
        })
        .collect()
}

/// RFC 3339 to the second with the instant's own offset (`-06:00`, `+05:30`, `+00:00`).
pub mod rfc3339_secs {
    use chrono::{DateTime, FixedOffset, SecondsFormat};
    use serde::{Deserialize, Deserializer, Serializer};

    /// The text form, e.g. `2025-12-16T06:00:00-06:00`.
    pub fn format(t: &DateTime<FixedOffset>) -> String {
        t.to_rfc3339_opts(SecondsFormat::Secs, false)
    }

    pub fn serialize<S: Serializer>(t: &DateTime<FixedOffset>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format(t))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<FixedOffset>, D::Error> {
        let text = String::deserialize(d)?;
        DateTime::parse_from_rfc3339(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn org(tz: Tz) -> Organization {
        Organization {
            org_id: crate::orgs::OrgId::parse("01951f56-8c6e-7a93-a971-3d06a81a1ab0", "org_id")
                .unwrap(),
            name: "Paul Logistics".into(),
            node_persistent_id: "019b099d-77fd-7e09-9d2b-cd4c476a0a19".into(),
            timezone: tz,
            is_active: true,
            excluded_numbers: vec!["+19259898099".into()],
            notifications: vec![],
            created_at: Utc::now(),
            updated_at: Utc::now(),
        }
    }

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn counts(pairs: &[(&str, u64)]) -> Counts {
        (
            pairs.iter().map(|(v, _)| v.to_string()).collect(),
            pairs.iter().map(|(_, n)| *n).collect(),
        )
    }

    #[test]
    fn windows_follow_dst() {
        let chicago = chrono_tz::America::Chicago;
        let (s, e) = day_window(d("2025-03-09"), chicago);
        assert_eq!(s.to_rfc3339(), "2025-03-09T06:00:00+00:00");
        assert_eq!((e - s).num_hours(), 23);
        let (s, e) = day_window(d("2025-11-02"), chicago);
        assert_eq!(s.to_rfc3339(), "2025-11-02T05:00:00+00:00");
        assert_eq!((e - s).num_hours(), 25);
        let (s, _) = day_window(d("2025-05-21"), chrono_tz::Asia::Kolkata);
        assert_eq!(s.to_rfc3339(), "2025-05-20T18:30:00+00:00");
    }

    #[test]
    fn the_old_tools_sample_numbers_come_out_as_in_its_report() {
        // The old tool's sample report (`docs/daily-report.md`, "Origins"): 211 classified calls;
        // 136 / 58 / 28 / 27 of them.
        let c = DayCounts {
            total_calls: 271,
            total_duration_seconds: 10.23 * 3600.0,
            classified_calls: 211,
            success_count: 32,
            non_convertible_or_not_qualified_count: 136,
            not_qualified_count: 58,
            carrier_asked_count: 28,
            transferred_for_booking_count: 27,
            ..DayCounts::default()
        };
        let now: DateTime<Utc> = "2025-12-16T12:00:00Z".parse().unwrap();
        let r = build(
            &org(chrono_tz::America::Chicago),
            d("2025-12-15"),
            &c,
            CallStats::default(),
            5,
            now,
        );
        let k = &r.kpis;
        assert_eq!(k.total_duration_hours, 10.23);
        assert_eq!(k.avg_minutes_per_call, 2.26);
        assert_eq!(k.success_rate_percent, 15.17);
        assert_eq!(
            k.non_convertible_calls_with_carrier_not_qualified
                .percentage,
            64.45
        );
        assert_eq!(k.carrier_not_qualified.percentage, 27.49);
        assert_eq!(
            k.carrier_transfer_over_total_call_attempts
                .carrier_asked_percentage,
            13.27
        );
        assert_eq!(
            k.successfully_transferred_for_booking
                .successfully_transferred_for_booking_percentage,
            12.8
        );
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(
            json["date_range"]["start_date"],
            "2025-12-15T00:00:00-06:00"
        );
        assert_eq!(json["date_range"]["end_date"], "2025-12-16T00:00:00-06:00");
        assert_eq!(
            json["metadata"]["generated_at"],
            "2025-12-16T06:00:00-06:00"
        );
        assert_eq!(
            json["kpis"]["successfully_transferred_for_booking"]["successfully_transferred_for_booking_percentage"],
            12.8
        );
        assert_eq!(json["schema_version"], 2);
        let back: DailyReport = serde_json::from_value(json).unwrap();
        assert_eq!(back, r);
    }

    #[test]
    fn hours_of_dst_days_are_23_and_25_with_the_repeated_hour_twice() {
        let chicago = chrono_tz::America::Chicago;
        let labels = |date: &str| -> Vec<String> {
            day_hours(d(date), chicago)
                .iter()
                .map(|h| {
                    format!(
                        "{:02} {}",
                        h.hour,
                        h.start.with_timezone(&chicago).format("%:z")
                    )
                })
                .collect()
        };
        let spring = labels("2025-03-09");
        assert_eq!(spring.len(), 23);
        assert_eq!(spring[..3], ["00 -06:00", "01 -06:00", "03 -05:00"]);
        let fall = labels("2025-11-02");
        assert_eq!(fall.len(), 25);
        assert_eq!(
            fall[..4],
            ["00 -05:00", "01 -05:00", "01 -06:00", "02 -06:00"]
        );
        assert_eq!(fall[24], "23 -06:00");
        assert_eq!(labels("2025-12-15").len(), 24);
        // Each hour ends where the next starts; the last ends with the day.
        for date in ["2025-03-09", "2025-11-02", "2025-12-15"] {
            let hours = day_hours(d(date), chicago);
            let (start, end) = day_window(d(date), chicago);
            assert_eq!(hours[0].start, start);
            assert_eq!(hours.last().unwrap().end, end);
            for w in hours.windows(2) {
                assert_eq!(w[0].end, w[1].start);
                assert_eq!((w[0].end - w[0].start).num_minutes(), 60);
            }
        }
        // A half-hour zone: hours start at :30 UTC.
        let kolkata = day_hours(d("2025-05-21"), chrono_tz::Asia::Kolkata);
        assert_eq!(kolkata.len(), 24);
        assert_eq!(kolkata[1].start.to_rfc3339(), "2025-05-20T19:30:00+00:00");
    }

    #[test]
    fn quarters_fold_into_local_hours_and_empty_hours_are_zeros() {
        let chicago = chrono_tz::America::Chicago;
        let q = |utc: &str| utc.parse::<DateTime<Utc>>().unwrap().timestamp() / 900;
        // Fall-back day: 06:30Z is the first 01:30 (CDT), 07:15Z and 07:45Z the second (CST).
        let quarters: Quarters = (
            vec![
                q("2025-11-02T05:00:00Z"),
                q("2025-11-02T06:30:00Z"),
                q("2025-11-02T07:15:00Z"),
                q("2025-11-02T07:45:00Z"),
            ],
            vec![1, 2, 3, 4],
            vec![1, 1, 2, 4],
            vec![0, 1, 1, 2],
        );
        let rows = by_hour(d("2025-11-02"), chicago, &quarters);
        assert_eq!(rows.len(), 25);
        let got: Vec<(String, String, u64, u64, u64)> = rows[..4]
            .iter()
            .map(|r| {
                (
                    r.hour.clone(),
                    rfc3339_secs::format(&r.start),
                    r.total_calls,
                    r.classified_calls,
                    r.success_count,
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                ("00:00".into(), "2025-11-02T00:00:00-05:00".into(), 1, 1, 0),
                ("01:00".into(), "2025-11-02T01:00:00-05:00".into(), 2, 1, 1),
                ("01:00".into(), "2025-11-02T01:00:00-06:00".into(), 7, 6, 3),
                ("02:00".into(), "2025-11-02T02:00:00-06:00".into(), 0, 0, 0),
            ]
        );
        assert!(rows[3..].iter().all(|r| r.total_calls == 0));
    }

    #[test]
    fn a_version_1_snapshot_without_by_hour_reads_back() {
        let now: DateTime<Utc> = "2025-12-16T12:00:00Z".parse().unwrap();
        let r = build(
            &org(chrono_tz::UTC),
            d("2025-12-15"),
            &DayCounts::default(),
            CallStats::default(),
            0,
            now,
        );
        assert_eq!(r.breakdowns.by_hour.len(), 24);
        let mut json = serde_json::to_value(&r).unwrap();
        json["breakdowns"]
            .as_object_mut()
            .unwrap()
            .remove("by_hour");
        json["schema_version"] = 1.into();
        let back: DailyReport = serde_json::from_value(json).unwrap();
        assert!(back.breakdowns.by_hour.is_empty());
        assert_eq!(back.schema_version, 1);
    }

    #[test]
    fn zeros_never_give_nan() {
        let now = Utc::now();
        let r = build(
            &org(chrono_tz::UTC),
            d("2025-01-01"),
            &DayCounts {
                median_minutes: f64::NAN,
                p90_minutes: f64::NAN,
                ..DayCounts::default()
            },
            CallStats::default(),
            0,
            now,
        );
        let text = serde_json::to_string(&r).unwrap();
        assert!(!text.contains("NaN") && !text.contains("null"), "{text}");
        assert_eq!(r.kpis.avg_minutes_per_call, 0.0);
        assert_eq!(r.kpis.median_minutes_per_call, 0.0);
        assert!(r.breakdowns.call_stage.is_empty());
        assert_eq!(r.breakdowns.funnel.len(), 7);
        assert!(
            r.breakdowns
                .funnel
                .iter()
                .all(|s| s.reached == 0 && s.drop_off == 0)
        );
        assert_eq!(
            r.date_range.start_date.to_rfc3339(),
            "2025-01-01T00:00:00+00:00"
        );
    }

    #[test]
    fn breakdowns_sort_by_count_then_value() {
        let rows = breakdown(&counts(&[("b", 2), ("a", 2), ("", 1), ("c", 5)]), 10);
        let got: Vec<(&str, u64, f64)> = rows
            .iter()
            .map(|r| (r.value.as_str(), r.count, r.percentage))
            .collect();
        assert_eq!(
            got,
            vec![
                ("c", 5, 50.0),
                ("a", 2, 20.0),
                ("b", 2, 20.0),
                ("UNKNOWN", 1, 10.0)
            ]
        );
    }

    #[test]
    fn funnel_counts_siblings_against_transfer_attempted() {
        // 10 calls: 1 GREETING, 2 RATE_NEGOTIATION, 1 TRANSFER_ATTEMPTED, 4 SUCCEEDED,
        // 2 FAILED, plus 3 UNKNOWN stages (not in the funnel).
        let f = funnel(&counts(&[
            ("GREETING", 1),
            ("RATE_NEGOTIATION", 2),
            ("TRANSFER_ATTEMPTED", 1),
            ("TRANSFER_FAILED", 2),
            ("TRANSFER_SUCCEEDED", 4),
            ("UNKNOWN", 3),
        ]));
        let got: Vec<(&str, u64, u64, f64)> = f
            .iter()
            .map(|s| (s.stage.as_str(), s.reached, s.drop_off, s.drop_off_percent))
            .collect();
        assert_eq!(
            got,
            vec![
                ("GREETING", 10, 0, 0.0),
                ("LOAD_LOOKUP", 9, 1, 10.0),
                ("CARRIER_VERIFICATION", 9, 0, 0.0),
                ("RATE_NEGOTIATION", 9, 0, 0.0),
                ("TRANSFER_ATTEMPTED", 7, 2, 22.22),
                ("TRANSFER_SUCCEEDED", 4, 3, 42.86),
                ("TRANSFER_FAILED", 2, 5, 71.43),
            ]
        );
    }

    #[test]
    fn rounding_is_half_away_from_zero_and_never_negative_zero() {
        assert_eq!(round2(1.005_000_1), 1.01);
        assert_eq!(round2(-0.001), 0.0);
        assert!(round2(-0.001).is_sign_positive());
        assert_eq!(percent(1, 3), 33.33);
        assert_eq!(percent(2, 3), 66.67);
        assert_eq!(percent(5, 0), 0.0);
    }

    #[test]
    fn summary_keys_are_metadata_safe() {
        let now: DateTime<Utc> = "2025-12-16T12:00:00Z".parse().unwrap();
        let r = build(
            &org(chrono_tz::Asia::Kolkata),
            d("2025-12-15"),
            &DayCounts {
                total_calls: 3,
                classified_calls: 2,
                success_count: 1,
                ..DayCounts::default()
            },
            CallStats::default(),
            0,
            now,
        );
        let s = crate::daily_report::summary::ReportSummary::of(&r).to_metadata();
        let keys: Vec<&str> = s.keys().map(String::as_str).collect();
        let mut expected: Vec<&str> = crate::daily_report::kpi::Kpi::kept()
            .map(|(_, key)| key)
            .chain(["generated_at", "schema_version"])
            .collect();
        expected.sort();
        assert_eq!(keys, expected);
        for (k, v) in &s {
            assert!(
                k.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
            );
            assert!(v.is_ascii() && !v.is_empty(), "{k}={v}");
        }
        assert_eq!(s["success_rate_percent"], "50");
        assert_eq!(s["generated_at"], "2025-12-16T17:30:00+05:30");
    }
}
