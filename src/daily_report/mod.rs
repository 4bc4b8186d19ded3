//! Daily KPI reports per organization from ClickHouse (`docs/daily-report.md`).
//!
//! * [`query`]: the one SQL query of a report (R, O, C, KPI counts, breakdowns) and its
//!   execution through [`crate::clickhouse::ClickHouse`].
//! * [`changes`]: what changed in a stored report against the same weekday of the previous
//!   4 weeks (stored snapshots only).
//! * [`calls`]: the calls behind a number of a report, live from ClickHouse, paginated.
//! * [`kpi`]: the report's KPIs, each defined once: the document's `kpis` block and the
//!   headline KPIs ([`kpi::Kpi`]) that summaries, changes, pages and digests derive from.
//! * [`report`]: the report document (the old daily-report tool's field names), the day window in
//!   the org's zone, rounding, breakdown order, the funnel.
//! * [`snapshots`]: one stored report per (org, date), create-only unless forced.
//! * [`schedule`]: which (org, date) are due, generating many of them (the timer's firing,
//!   backfill) with bounded concurrency and one org's failure isolated from the others, and
//!   the scheduler's state (last run, run status).
//! * [`summary`]: the headline KPIs kept in a snapshot's blob metadata.

pub mod calls;
pub mod changes;
pub mod kpi;
pub mod provenance;
pub mod query;
pub mod report;
pub mod restate;
pub mod schedule;
pub mod snapshots;
pub mod summary;

use chrono::{DateTime, NaiveDate, Utc};

use crate::app::App;
use crate::clickhouse::ClickHouseError;
use crate::orgs::Organization;
use crate::storage::StorageError;
use schedule::FailureCause;
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
    /// A forced overwrite kept losing the race for the snapshot to other writers
    /// ([`snapshots::FORCED_ATTEMPTS`] tries).
    #[error("the report was being overwritten concurrently; retries exhausted")]
    Contended,
}

impl GenerateError {
    /// The cause a failed date records ([`schedule::Failure`]).
    pub fn cause(&self) -> FailureCause {
        match self {
            GenerateError::ClickHouse(ClickHouseError::Timeout) => FailureCause::Timeout,
            GenerateError::Contended => FailureCause::Contended,
            GenerateError::NoClickHouse
            | GenerateError::ClickHouse(_)
            | GenerateError::Storage(_) => FailureCause::Unavailable,
        }
    }

    /// What a caller may be shown: the dependency and what to do, never a transport error's
    /// text, a host or a blob path (the full error goes to the log).
    pub fn public_message(&self) -> String {
        match self {
            GenerateError::NoClickHouse => "ClickHouse is not configured (CLICKHOUSE_URL)".into(),
            GenerateError::ClickHouse(ClickHouseError::Timeout) => {
                "the ClickHouse query timed out; try again later".into()
            }
            GenerateError::ClickHouse(_) => "ClickHouse is unavailable; try again later".into(),
            GenerateError::Storage(_) => "storage is unavailable; try again later".into(),
            GenerateError::Contended => {
                "the report was being overwritten by other requests; try again".into()
            }
        }
    }
}

/// Computes `org`'s report for `date` and stores it: create-only unless `force`, so a
/// snapshot written meanwhile is left intact ([`Written::Exists`]). A forced write that keeps
/// losing the ETag race is [`GenerateError::Contended`], never a storage outage. Callers skip dates they
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
    match snapshots::write(&app.storage, &org.org_id, date, &report, force).await {
        Ok((written, _)) => Ok(written),
        Err(StorageError::ConditionFailed(_)) => Err(GenerateError::Contended),
        Err(e) => Err(e.into()),
    }
}
