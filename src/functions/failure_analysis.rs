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

/// Validates, runs and answers: 400 naming the field, 503/504 for the database, a bare 500
/// otherwise, with the cause only in the log.
pub async fn handle(app: &App, req: &Request) -> Result<Response, ApiError> {
    let flags = Flags::from_query(&req.query)?;
    let body: AnalysisRequest = parse_json_body(&req.body)?;
    match failure_analysis::run(app, &body, flags, app.clock.now()).await {
        Ok((response, _)) => Ok(json_response(StatusCode::OK, &response)),
        Err(AnalysisError::Invalid(e)) => Err(e.into()),
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
            AnalysisError::DatabaseUnavailable(_) => ApiError::unavailable("PostgreSQL"),
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
