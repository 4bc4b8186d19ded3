//! Daily KPI reports per organization from ClickHouse (`../spec/daily-report.md`; seed 003).
//!
//! * [`query`]: the one SQL query of a report (R, O, C, KPI counts, breakdowns) and its
//!   execution through [`crate::clickhouse::ClickHouse`].
//! * [`changes`]: what changed in a stored report against the same weekday of the previous
//!   4 weeks (stored snapshots only).
//! * [`calls`]: the calls behind a number of a report, live from ClickHouse, paginated.
//! * [`report`]: the report document (seed 003's field names), the day window in the org's
//!   zone, rounding, breakdown order, the funnel, and the summary kept as blob metadata.
//! * [`snapshots`]: one stored report per (org, date), create-only unless forced.
//! * [`schedule`]: which (org, date) are due, and generating many of them (the timer's firing,
//!   backfill) with bounded concurrency and one org's failure isolated from the others.
//! * [`timer`]: the `daily_report_timer` function (custom-handler invocation protocol).

pub mod calls;
pub mod changes;
pub mod cli;
pub mod query;
pub mod report;
pub mod schedule;
pub mod snapshots;
pub mod timer;

use chrono::{DateTime, NaiveDate, Utc};

use crate::app::App;
use crate::clickhouse::ClickHouseError;
use crate::orgs::Organization;
use crate::storage::StorageError;
use snapshots::Written;

/// Why one (org, date) could not be generated.
#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    #[error("ClickHouse is not configured (CLICKHOUSE_URL)")]
    NoClickHouse,
    #[error("ClickHouse: {0}")]
    ClickHouse(#[from] ClickHouseError),
    #[error("storage: {0}")]
    Storage(#[from] StorageError),
}

/// Computes `org`'s report for `date` and stores it: create-only unless `force`, so a
/// snapshot written meanwhile is left intact ([`Written::Exists`]). Callers skip dates they
/// know exist from one listing ([`schedule::generate_range`]); no read is repeated here.
pub async fn generate_and_store(
    app: &App,
    org: &Organization,
    date: NaiveDate,
    force: bool,
    now: DateTime<Utc>,
) -> Result<Written, GenerateError> {
    let ch = app.clickhouse.as_ref().ok_or(GenerateError::NoClickHouse)?;
    let report = report::generate(ch, org, date, now).await?;
    let (written, _) = snapshots::write(&app.storage, &org.org_id, date, &report, force).await?;
    Ok(written)
}
