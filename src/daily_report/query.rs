//! The SQL of one daily report and its execution: ONE round trip per (org, day), each source
//! table scanned once, `public_runs` once more for the window's run-id set
//! (`docs/daily-report.md`, "Scope of one report", "KPIs" and "Round trips"; the old
//! daily-report tool sent about 12 queries per report).
//!
//! # Shape of the query ([`DAY_SQL`], the file `day.sql`)
//! 1. `window_runs`: the ids of `public_runs` in the window `[start, end)` (its sort key
//!    starts with `timestamp`, so only the day's granules are read); it feeds the
//!    `IN (SELECT ...)` filters below, which ClickHouse builds once per query.
//! 2. `per_run`: ONE `GROUP BY run_id` over the union of three kinds of rows, told apart by
//!    `part`, instead of joining three grouped tables (two hash joins cost more than the
//!    rest of the query: on the benchmark's 78,511 runs and 45,663 calls, 0.20 s instead of
//!    0.29 s for the joined form, same KPIs; `scripts/bench/README.md`):
//!    * `part = 0`, the runs: `public_runs` rows in the window. A replica's repeated row
//!      counts once; the run's quarter hour comes from its earliest timestamp
//!      (`intDiv(unix ms, 900000)`, UTC).
//!    * `part = 1`, the runs R: `public_sessions` rows of the org (sort key
//!      `(org_id, run_id)`) whose run is in the window and whose `user_number` is not
//!      excluded, one row per (run, session `id`) with its greatest `duration`. The platform
//!      has one session per run, whose duration is the call's. Should a run have several: it
//!      still counts once; distinct sessions (by `id`) are legs of the call and their
//!      durations add up; repeated rows of one session id (a replica not yet merged) count
//!      once, with their greatest duration; a leg from an excluded number is left out while
//!      the run counts through its other legs.
//!    * `part = 2`, the outputs O: `public_node_outputs` rows of the org's node (sort key
//!      `(node_persistent_id, run_id)`) for runs in the window, reduced per run to the row
//!      with the greatest `timestamp` (`argMaxIf(flat_data, at, part = 2)`); retries count
//!      once, with their latest values. Outputs of other nodes never enter. Outputs are not
//!      limited in time: a run's output is its output whenever it was written. With the
//!      platform's time-ordered (UUIDv7) run ids the run-id set also prunes granules.
//!
//!    A run is a call when it has a row of part 1 (`HAVING`; those are of window runs only,
//!    so it has rows of part 0 too); one without output has an empty `flat_data` and
//!    `output_rows = 0`.
//! 3. `calls`: each `flat_data` is parsed once: one `JSONExtract` into a named `Tuple` whose
//!    element names are the flat dotted keys (`result.call.call_stage`, not paths). A missing
//!    key, `null` or text that is not JSON gives `''`; a number or bool comes out as its JSON
//!    text (ClickHouse ≥ 21.11), so `transfer_success` is `true` for the JSON bool `true` and
//!    for the string `"true"` some producers write. Against one `JSONExtractString` per key
//!    (eight parses per run), one parse was 1.42× faster (`scripts/bench/README.md`).
//! 4. One aggregate row: `countIf` for every KPI count over C (the runs of O with a non-empty
//!    classification), `sum` of durations and exact quantiles of minutes over R, and each
//!    breakdown as `sumMapIf([value], [1], classified)` = (values, counts), with `''` mapped
//!    to `UNKNOWN`. `by_quarter` is `sumMap` of (total, classified, success) per UTC quarter
//!    hour; [`super::report`] folds the quarters into the local clock hours of the day in
//!    Rust (every zone offset in use is a multiple of 15 minutes, so a quarter never straddles
//!    two local hours, and DST days get their 23 or 25 hours from the zone database the rest
//!    of the report uses). The funnel is derived from the call-stage breakdown in Rust.
//!
//! Every value is a bound query parameter (`{org_id:String}`, `{node_id:String}`,
//! `{excluded:Array(String)}`, `{start:DateTime64(3, 'UTC')}`, `{end:...}`), sent by the
//! crate as `param_*` fields; nothing is pasted into the SQL text.
//!
//! Quantiles use `quantileExactInclusive` (linear interpolation between the two nearest
//! ranks, as numpy's and pandas' default): the median of 4 calls is the mean of the middle two.
//! ClickHouse's plain `quantileExact` would return the upper one.
//!
//! The query also sets `wait_end_of_query=1` (an HTTP option, allowed to read-only users) so
//! that `X-ClickHouse-Summary` (rows and bytes read) is complete: the result is one row, so
//! buffering it costs nothing.

use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::clickhouse::{CallStats, ClickHouse, ClickHouseError, Summary};
use crate::orgs::Organization;

/// The one query of a report (the text of `day.sql`). Parameters: `org_id`, `node_id`,
/// `excluded`, `start`, `end` (UTC, `[start, end)`). Result: one [`DayCounts`] row.
pub const DAY_SQL: &str = include_str!("day.sql");

/// One breakdown as ClickHouse's `sumMap` returns it: (values, counts), values sorted
/// ascending, counts ≥ 1.
pub type Counts = (Vec<String>, Vec<u64>);

/// The answer of [`DAY_SQL`]: raw counts and sums, before rounding (R, O, C as in
/// `docs/daily-report.md`, "Scope of one report").
#[derive(Debug, Clone, Default, PartialEq, clickhouse::Row, Deserialize)]
pub struct DayCounts {
    /// |R|.
    pub total_calls: u64,
    /// Σ session `duration` over R, seconds.
    pub total_duration_seconds: f64,
    /// Median of per-run minutes over R (0 when R is empty).
    pub median_minutes: f64,
    /// 90th percentile of per-run minutes over R (0 when R is empty).
    pub p90_minutes: f64,
    /// |O|: runs of R with at least one output of the org's node.
    pub runs_with_output: u64,
    /// |C|.
    pub classified_calls: u64,
    /// #(C: classification = `success`).
    pub success_count: u64,
    /// #(C: classification = `non_convertible`).
    pub non_convertible_count: u64,
    /// #(C: carrier_qualification = `NOT_QUALIFIED`).
    pub not_qualified_count: u64,
    /// #(C: classification = `non_convertible` OR carrier_qualification = `NOT_QUALIFIED`).
    pub non_convertible_or_not_qualified_count: u64,
    /// #(C: transfer_reason = `CARRIER_ASKED_FOR_TRANSFER`).
    pub carrier_asked_count: u64,
    /// #(C: transfer_reason = `READY_TO_BOOK` AND transfer_success = true).
    pub transferred_for_booking_count: u64,
    /// Breakdowns over C (missing/empty → `UNKNOWN`).
    pub by_call_stage: Counts,
    pub by_call_classification: Counts,
    pub by_load_status: Counts,
    pub by_pricing_notes: Counts,
    pub by_carrier_end_state: Counts,
    /// Per UTC quarter hour of the runs' `public_runs.timestamp` (`unix seconds / 900`,
    /// ascending): (quarters, runs of R, of C, of C with classification `success`).
    pub by_quarter: Quarters,
    /// The fingerprint's output rows ([`super::provenance::Fingerprint`]; its runs are
    /// `total_calls`).
    pub output_rows: u64,
    /// The fingerprint's newest output, unix milliseconds (0: none).
    pub latest_output_ms: i64,
    /// The server's `version()`.
    pub engine: String,
}

/// [`DayCounts::by_quarter`] as `sumMap` returns it: (quarter numbers, total, classified,
/// success), the four arrays of equal length.
pub type Quarters = (Vec<i64>, Vec<u64>, Vec<u64>, Vec<u64>);

/// A UTC instant as a `DateTime64(3, 'UTC')` query parameter: `YYYY-MM-DD hh:mm:ss.sss`.
pub fn datetime_param(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S%.3f").to_string()
}

/// Runs [`DAY_SQL`] for `org` over `[start, end)` (UTC): one round trip, retried only on
/// transient failures (see [`crate::clickhouse`]). Returns the counts and what the call cost.
///
/// Errors: [`ClickHouseError`]; a node id or org id without data is not an error (all zeros).
pub async fn fetch_day(
    ch: &ClickHouse,
    org: &Organization,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Result<(DayCounts, CallStats), ClickHouseError> {
    let (start, end) = (datetime_param(start), datetime_param(end));
    ch.run(|client| {
        let query = client
            .query_raw(DAY_SQL)
            .with_setting("wait_end_of_query", "1")
            .param("org_id", org.org_id.as_str())
            .param("node_id", org.node_persistent_id.as_str())
            .param("excluded", &org.excluded_numbers)
            .param("start", start.as_str())
            .param("end", end.as_str());
        async move {
            let mut cursor = query.fetch::<DayCounts>()?;
            let row = cursor
                .next()
                .await?
                .ok_or(clickhouse::error::Error::RowNotFound)?;
            if cursor.next().await?.is_some() {
                return Err(clickhouse::error::Error::Custom(
                    "the report query returned more than one row".into(),
                ));
            }
            Ok((row, Summary::from_header(cursor.summary())))
        }
    })
    .await
}
