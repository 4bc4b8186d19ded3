//! The Azure Functions of the bundle, one adapter each: request → domain call → reply.
//! Each maps its domains' errors to statuses in one `From<…> for ApiError` per domain; the
//! storage's, which every function meets, is here: the same storage failure is the same
//! status on every route.
//!
//! * [`failure_analysis`]: `POST /api/failure_analysis` (HTTP trigger, forwarded).
//! * [`daily_report_timer`]: the timer trigger's invocation protocol.
//! * [`daily_report_worker`]: the work queue's trigger (`docs/scale-out.md`), one report per
//!   message.
//! * [`reports_http`]: every other `/api/...` route (HTTP trigger, catch-all).

pub mod daily_report_timer;
pub mod daily_report_worker;
pub mod failure_analysis;
pub mod reports_http;

use crate::http::error::ApiError;
use crate::storage::StorageError;

impl From<StorageError> for ApiError {
    /// 503 `dependency_unavailable` on every route, whatever went wrong (the cause goes to the
    /// log): storage is a dependency. Conflicts a route expects (`AlreadyExists`,
    /// `ConditionFailed`, `NotFound`) are matched by the domain before they get here.
    fn from(e: StorageError) -> Self {
        tracing::error!(error = %e, "storage failed");
        ApiError::unavailable("storage")
    }
}
