//! The Azure Functions of the bundle, one adapter each: request → domain call → reply.
//! Each maps its domains' errors to statuses in one `From<…> for ApiError` per domain.
//!
//! * [`failure_analysis`]: `POST /api/failure_analysis` (HTTP trigger, forwarded).
//! * [`daily_report_timer`]: the timer trigger's invocation protocol.
//! * [`reports_http`]: every other `/api/...` route (HTTP trigger, catch-all).

pub mod daily_report_timer;
pub mod failure_analysis;
pub mod reports_http;
