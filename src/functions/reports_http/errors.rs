//! The statuses of the domain errors `reports_http` meets, one `From` per domain
//! (`docs/http-api.md`, "Errors"), and of a run whose every report failed
//! ([`every_report_failed`]): the cause goes to the log, the client gets the status and a
//! message without transport text, hosts or paths. Storage's is shared by every function
//! (`functions/mod.rs`).

use crate::clickhouse::ClickHouseError;
use crate::daily_report::schedule::FailureCause;
use crate::daily_report::snapshots::SnapshotError;
use crate::http::error::{ApiError, ErrorCode};
use crate::orgs::OrgError;

impl From<OrgError> for ApiError {
    /// 400 naming the field, 409 `org_exists`, 404 `org_not_found`, 412 `stale_etag`, 503
    /// for storage or an org document that does not read.
    fn from(e: OrgError) -> Self {
        match e {
            OrgError::Invalid(invalid) => invalid.into(),
            OrgError::Exists(id) => ApiError::new(
                ErrorCode::OrgExists,
                format!("organization {id} already exists"),
            ),
            OrgError::NotFound(id) => ApiError::org_not_found(id.as_str()),
            OrgError::Stale(id) => ApiError::new(
                ErrorCode::StaleEtag,
                format!("organization {id} changed since it was read; GET it again"),
            ),
            OrgError::Storage(e) => e.into(),
            other @ OrgError::Corrupt(..) => {
                tracing::error!(error = %other, "organization unreadable");
                ApiError::unavailable("storage")
            }
        }
    }
}

impl From<SnapshotError> for ApiError {
    /// 503 for storage, as every storage error; 500 for a stored report that does not parse
    /// (its cause was logged by `snapshots::read`).
    fn from(e: SnapshotError) -> Self {
        match e {
            SnapshotError::Storage(e) => e.into(),
            SnapshotError::Unreadable { .. } => ApiError::internal(),
        }
    }
}

impl From<ClickHouseError> for ApiError {
    /// 504 `query_timeout` for a query over its time limit, 503 otherwise.
    fn from(e: ClickHouseError) -> Self {
        tracing::error!(error = %e, "ClickHouse failed");
        match e {
            ClickHouseError::Timeout => ApiError::query_timeout("the ClickHouse query timed out"),
            _ => ApiError::unavailable("ClickHouse"),
        }
    }
}

/// The `error` code and message of a generate or backfill whose every report failed, by the
/// failures' one cause (`None` when they differ): 504 `query_timeout` for ClickHouse
/// timeouts (as `live` answers), 409 `conflict` for lost overwrite races, 503
/// `dependency_unavailable` otherwise.
pub fn every_report_failed(cause: Option<FailureCause>) -> (ErrorCode, &'static str) {
    match cause {
        Some(FailureCause::Timeout) => (
            ErrorCode::QueryTimeout,
            "the ClickHouse query timed out; try again later",
        ),
        Some(FailureCause::Contended) => (
            ErrorCode::Conflict,
            "the report was being overwritten by other requests; try again",
        ),
        Some(FailureCause::NotEnded | FailureCause::Unavailable) | None => (
            ErrorCode::DependencyUnavailable,
            "every report failed; see orgs[].failed",
        ),
    }
}
