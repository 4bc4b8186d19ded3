//! `POST /api/failure_analysis` (`docs/failure-analysis.md`, "Request"): JSON body +
//! `export_csv` / `include_details` query flags → the analysis as JSON.

use warp::http::StatusCode;
use warp::reply::Response;

use super::reports_http::openapi::{BadRequest, GatewayTimeout, Internal, Unavailable};
use crate::app::App;
use crate::failure_analysis::{self, AnalysisError, AnalysisRequest, Flags};
use crate::http::error::ApiError;
use crate::http::request::{Request, parse_json_body};
use crate::http::response::json_response;

/// Validates, runs and answers: 400 naming the field, 503/504 for the database, 503 `busy`
/// with `Retry-After` when the instance runs its `FAILURE_ANALYSIS_CONCURRENCY` analyses
/// already, a bare 500 otherwise, with the cause only in the log.
#[utoipa::path(
    post,
    path = "/api/failure_analysis",
    operation_id = "failureAnalysis",
    tag = "failure_analysis",
    summary = "Per-user call-failure rates from PostgreSQL, with CSV/HTML/JSON artifacts",
    params(
        ("export_csv" = Option<bool>, Query,
            description = "Write the CSV artifact (`true|false`, also `1|0|yes|no`; default true)."),
        ("include_details" = Option<bool>, Query,
            description = "List every user in `users` (default false)."),
    ),
    request_body(content = Option<AnalysisRequest>, description = "An empty body is `{}`."),
    responses(
        (status = 200, description = "OK", body = failure_analysis::AnalysisResponse),
        (status = 400, response = BadRequest),
        (status = 500, response = Internal),
        (status = 503, response = Unavailable),
        (status = 504, response = GatewayTimeout),
    )
)]
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
    /// 400 naming the field; 503 `not_configured` without `DB_URL`, `busy`, or
    /// `dependency_unavailable` for PostgreSQL or storage (any storage error, as on every
    /// route); 504 `query_timeout`; 500 for a database error that is none of these.
    fn from(e: AnalysisError) -> Self {
        match e {
            AnalysisError::Invalid(e) => e.into(),
            AnalysisError::NoDatabase => {
                ApiError::not_configured("the PostgreSQL source", "DB_URL")
            }
            AnalysisError::Busy(busy) => ApiError::busy("failure analyses", busy.retry_after),
            AnalysisError::DatabaseUnavailable(_) | AnalysisError::NoAnswer(_) => {
                ApiError::unavailable("PostgreSQL")
            }
            AnalysisError::Timeout(d) => ApiError::query_timeout(format!(
                "the analysis query did not finish in {} s; try a shorter window",
                d.as_secs()
            )),
            AnalysisError::Storage(e) => e.into(),
            AnalysisError::Database(_) => ApiError::internal(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::error::ErrorCode;
    use crate::storage::StorageError;

    #[test]
    fn only_a_server_side_statement_timeout_suggests_a_shorter_window() {
        let timeout = ApiError::from(AnalysisError::Timeout(failure_analysis::QUERY_TIMEOUT));
        assert_eq!(timeout.status(), StatusCode::GATEWAY_TIMEOUT);
        assert!(timeout.message.contains("shorter window"));
        for unreachable in [
            AnalysisError::NoAnswer(
                failure_analysis::QUERY_TIMEOUT + failure_analysis::NO_ANSWER_MARGIN,
            ),
            AnalysisError::DatabaseUnavailable("connection reset".into()),
        ] {
            let api = ApiError::from(unreachable);
            assert_eq!(api.status(), StatusCode::SERVICE_UNAVAILABLE);
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
            (api.status(), api.code, api.retry_after),
            (
                StatusCode::SERVICE_UNAVAILABLE,
                ErrorCode::Busy,
                Some(busy.retry_after)
            )
        );
    }

    /// Every storage error is the same 503 here as on the report routes (it was a 500 here
    /// for anything but `Unavailable` and `Unauthorized`).
    #[test]
    fn a_storage_failure_is_the_same_503_as_on_every_route() {
        let all = |name: &str| {
            [
                StorageError::AlreadyExists(name.into()),
                StorageError::ConditionFailed(name.into()),
                StorageError::NotFound(name.into()),
                StorageError::Unauthorized(name.into()),
                StorageError::Unavailable(name.into()),
                StorageError::Config(name.into()),
            ]
        };
        for (here, elsewhere) in all("a/b.csv").into_iter().zip(all("a/b.csv")) {
            let what = here.to_string();
            let api = ApiError::from(AnalysisError::Storage(here));
            let reports = ApiError::from(elsewhere);
            assert_eq!(
                (api.status(), api.code, api.body()),
                (reports.status(), reports.code, reports.body()),
                "{what}"
            );
            assert_eq!(api.code, ErrorCode::DependencyUnavailable, "{what}");
            assert!(!api.body().contains("a/b.csv"), "{}", api.body());
        }
    }
}
