//! `POST /api/failure_analysis` (seed 001's Azure Function; `../spec/failure-analysis.md`,
//! "Request"): JSON body + `export_csv` / `include_details` query flags → JSON response.

use warp::http::StatusCode;
use warp::reply::Response;

use super::{AnalysisRequest, Flags};
use crate::app::App;
use crate::error::{ApiError, parse_json_body};
use crate::server::{Request, json_response};

/// Validates, runs and answers; errors come back as [`ApiError`]s (4xx naming the field,
/// 503/504 for the database, a bare 500 otherwise, with the cause only in the log).
pub async fn handle(app: &App, req: &Request) -> Result<Response, ApiError> {
    let flags = Flags::from_query(&req.query)?;
    let body: AnalysisRequest = parse_json_body(&req.body)?;
    match super::run(app, &body, flags, chrono::Utc::now()).await {
        Ok((response, _)) => Ok(json_response(StatusCode::OK, &response)),
        Err(e) => {
            let api = ApiError::from(match e {
                super::AnalysisError::Invalid(api) => return Err(api),
                other => {
                    tracing::error!(error = %other, "failure analysis failed");
                    other
                }
            });
            Err(api)
        }
    }
}
