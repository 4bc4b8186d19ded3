//! The statuses of the domain errors `reports_http` meets, one `From` per domain
//! (`docs/http-api.md`, "Errors"): the cause goes to the log, the client gets the status and
//! a message without transport text, hosts or paths.

use warp::http::StatusCode;

use crate::clickhouse::ClickHouseError;
use crate::http::error::ApiError;
use crate::orgs::OrgError;
use crate::storage::StorageError;

/// 404 `org_not_found`.
pub fn org_not_found(id: &str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "org_not_found",
        format!("no organization {id}"),
    )
}

impl From<OrgError> for ApiError {
    fn from(e: OrgError) -> Self {
        match e {
            OrgError::Invalid(invalid) => invalid.into(),
            OrgError::Exists(id) => ApiError::new(
                StatusCode::CONFLICT,
                "org_exists",
                format!("organization {id} already exists"),
            ),
            OrgError::NotFound(id) => org_not_found(&id),
            OrgError::Stale(id) => ApiError::new(
                StatusCode::PRECONDITION_FAILED,
                "stale_etag",
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

impl From<StorageError> for ApiError {
    /// 503: storage is a dependency; what went wrong is in the log.
    fn from(e: StorageError) -> Self {
        tracing::error!(error = %e, "storage failed");
        ApiError::unavailable("storage")
    }
}

impl From<ClickHouseError> for ApiError {
    /// 504 for a query over its time limit, 503 otherwise.
    fn from(e: ClickHouseError) -> Self {
        tracing::error!(error = %e, "ClickHouse failed");
        match e {
            ClickHouseError::Timeout => ApiError::new(
                StatusCode::GATEWAY_TIMEOUT,
                "query_timeout",
                "the ClickHouse query timed out",
            ),
            _ => ApiError::unavailable("ClickHouse"),
        }
    }
}
