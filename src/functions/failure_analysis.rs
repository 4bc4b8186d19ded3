//! `POST /api/failure_analysis` (`docs/failure-analysis.md`, "Request"): JSON body +
//! `export_csv` / `include_details` query flags → the analysis as JSON.

use warp::http::StatusCode;
use warp::reply::Response;

use crate::app::App;
use crate::failure_analysis::{self, AnalysisError, AnalysisRequest, Flags};
use crate::http::error::ApiError;
use crate::http::request::{Request, parse_json_body};
use crate::http::response::json_response;
use crate::storage::StorageError;

/// Validates, runs and answers: 400 naming the field, 503/504 for the database, 503 `busy`
/// with `Retry-After` when the instance runs its `FAILURE_ANALYSIS_CONCURRENCY` analyses
/// already, a bare 500 otherwise, with the cause only in the log.
pub async fn handle(app: &App, req: &Request) -> Result<Response, ApiError> {
    let flags = Flags::from_query(&req.query)?;
    let body: AnalysisRequest = parse_json_body(&req.body)?;
    match failure_analysis::run(app, &body, flags, app.clock.now()).await {
        Ok((response, _)) => Ok(json_response(StatusCode::OK, &response)),
        Err(AnalysisError::Invalid(e)) => Err(e.into()),
        Err(AnalysisError::Busy(busy)) => {
            tracing::warn!(error = %busy, "failure analysis refused: too many running");
            Err(AnalysisError::Busy(busy).into())
        }
        Err(other) => {
            tracing::error!(error = %other, "failure analysis failed");
            Err(other.into())
        }
    }
}

/// The statuses of a failure analysis (`docs/http-api.md`, "Errors").
impl From<AnalysisError> for ApiError {
    fn from(e: AnalysisError) -> Self {
        match e {
            AnalysisError::Invalid(e) => e.into(),
            AnalysisError::NoDatabase => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "not_configured",
                "the PostgreSQL source is not configured (DB_URL)",
            ),
            AnalysisError::Busy(busy) => ApiError::busy("failure analyses", busy.retry_after),
            AnalysisError::DatabaseUnavailable(_) | AnalysisError::NoAnswer(_) => {
                ApiError::unavailable("PostgreSQL")
            }
            AnalysisError::Timeout(d) => ApiError::new(
                StatusCode::GATEWAY_TIMEOUT,
                "query_timeout",
                format!(
                    "the analysis query did not finish in {} s; try a shorter window",
                    d.as_secs()
                ),
            ),
            AnalysisError::Storage(
                StorageError::Unavailable(_) | StorageError::Unauthorized(_),
            ) => ApiError::unavailable("storage"),
            AnalysisError::Database(_) | AnalysisError::Storage(_) => ApiError::internal(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_server_side_statement_timeout_suggests_a_shorter_window() {
        let timeout = ApiError::from(AnalysisError::Timeout(failure_analysis::QUERY_TIMEOUT));
        assert_eq!(timeout.status, StatusCode::GATEWAY_TIMEOUT);
        assert!(timeout.message.contains("shorter window"));
        for unreachable in [
            AnalysisError::NoAnswer(
                failure_analysis::QUERY_TIMEOUT + failure_analysis::NO_ANSWER_MARGIN,
            ),
            AnalysisError::DatabaseUnavailable("connection reset".into()),
        ] {
            let api = ApiError::from(unreachable);
            assert_eq!(api.status, StatusCode::SERVICE_UNAVAILABLE);
            assert!(!api.message.contains("shorter window"), "{}", api.message);
            assert!(!api.message.contains("reset"), "{}", api.message);
        }
    }

    #[test]
    fn busy_is_a_503_busy_with_retry_after() {
        let busy = crate::app::Busy {
            retry_after: std::time::Duration::from_secs(10),
        };
        let api = ApiError::from(AnalysisError::Busy(busy));
        assert_eq!(
            (api.status, api.code, api.retry_after),
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "busy",
                Some(busy.retry_after)
            )
        );
    }
}
