//! The error body every route answers with (`docs/http-api.md`, "Errors"):
//! `{"error": {"code": "...", "message": "...", "field": "..."}}`.
//!
//! Each code is an [`ErrorCode`], written once with its status; an [`ApiError`] is made by a
//! constructor from a code ([`ApiError::new`], or a named one such as
//! [`ApiError::report_not_found`]), never from a status and a string. Each domain has its own
//! error enum (`failure_analysis::AnalysisError`, `orgs::OrgError`, …); each function adapter
//! under [`crate::functions`] maps its domains' errors to an [`ApiError`] in one `From` impl
//! per domain. A client error is never a 500, and a 500 never carries internals: the cause is
//! logged (without secrets) and the client gets a generic message.

use std::time::Duration;

use chrono::NaiveDate;
use serde::Serialize;
use utoipa::ToSchema;
use warp::http::StatusCode;

/// Every `error.code` a route answers, each with its one HTTP status ([`ErrorCode::status`]).
/// Serialized as [`ErrorCode::as_str`] (snake case); the OpenAPI document's `code` enum is
/// derived from this type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// 400: a request field is malformed; `error.field` names it.
    InvalidField,
    /// 401: no valid principal where one is required.
    Unauthenticated,
    /// 403: the caller's roles do not admit the route.
    Forbidden,
    /// 404: no route has this path.
    NotFound,
    /// 404: an unknown organization (or one the caller does not read).
    OrgNotFound,
    /// 404: no stored report.
    ReportNotFound,
    /// 404: no stored artifact.
    ArtifactNotFound,
    /// 404: the organization has no such notification channel.
    NotificationNotFound,
    /// 405: the path exists, the method does not (`Allow` lists those that do).
    MethodNotAllowed,
    /// 409: the organization exists.
    OrgExists,
    /// 409: a report kept being overwritten by other requests.
    Conflict,
    /// 412: `If-Match` names an older version.
    StaleEtag,
    /// 413: the body is too large.
    BodyTooLarge,
    /// 414: the request target is too long.
    UriTooLong,
    /// 415: a body that is not `application/json`.
    UnsupportedMediaType,
    /// 428: a change that needs `If-Match` came without it.
    PreconditionRequired,
    /// 431: the request headers are too large.
    HeadersTooLarge,
    /// 500: an internal error (the cause is in the log only).
    Internal,
    /// 503: a dependency is not configured.
    NotConfigured,
    /// 503: a dependency did not answer.
    DependencyUnavailable,
    /// 503: the instance runs its limit of this work already (with `Retry-After`).
    Busy,
    /// 504: a query did not finish in time.
    QueryTimeout,
}

impl ErrorCode {
    /// Every code, in declaration order (a test checks it against the derived schema).
    pub const ALL: [ErrorCode; 22] = [
        ErrorCode::InvalidField,
        ErrorCode::Unauthenticated,
        ErrorCode::Forbidden,
        ErrorCode::NotFound,
        ErrorCode::OrgNotFound,
        ErrorCode::ReportNotFound,
        ErrorCode::ArtifactNotFound,
        ErrorCode::NotificationNotFound,
        ErrorCode::MethodNotAllowed,
        ErrorCode::OrgExists,
        ErrorCode::Conflict,
        ErrorCode::StaleEtag,
        ErrorCode::BodyTooLarge,
        ErrorCode::UriTooLong,
        ErrorCode::UnsupportedMediaType,
        ErrorCode::PreconditionRequired,
        ErrorCode::HeadersTooLarge,
        ErrorCode::Internal,
        ErrorCode::NotConfigured,
        ErrorCode::DependencyUnavailable,
        ErrorCode::Busy,
        ErrorCode::QueryTimeout,
    ];

    /// The code as the body carries it, e.g. `report_not_found`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidField => "invalid_field",
            ErrorCode::Unauthenticated => "unauthenticated",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::NotFound => "not_found",
            ErrorCode::OrgNotFound => "org_not_found",
            ErrorCode::ReportNotFound => "report_not_found",
            ErrorCode::ArtifactNotFound => "artifact_not_found",
            ErrorCode::NotificationNotFound => "notification_not_found",
            ErrorCode::MethodNotAllowed => "method_not_allowed",
            ErrorCode::OrgExists => "org_exists",
            ErrorCode::Conflict => "conflict",
            ErrorCode::StaleEtag => "stale_etag",
            ErrorCode::BodyTooLarge => "body_too_large",
            ErrorCode::UriTooLong => "uri_too_long",
            ErrorCode::UnsupportedMediaType => "unsupported_media_type",
            ErrorCode::PreconditionRequired => "precondition_required",
            ErrorCode::HeadersTooLarge => "headers_too_large",
            ErrorCode::Internal => "internal",
            ErrorCode::NotConfigured => "not_configured",
            ErrorCode::DependencyUnavailable => "dependency_unavailable",
            ErrorCode::Busy => "busy",
            ErrorCode::QueryTimeout => "query_timeout",
        }
    }

    /// The HTTP status of every error with this code.
    pub fn status(self) -> StatusCode {
        match self {
            ErrorCode::InvalidField => StatusCode::BAD_REQUEST,
            ErrorCode::Unauthenticated => StatusCode::UNAUTHORIZED,
            ErrorCode::Forbidden => StatusCode::FORBIDDEN,
            ErrorCode::NotFound
            | ErrorCode::OrgNotFound
            | ErrorCode::ReportNotFound
            | ErrorCode::ArtifactNotFound
            | ErrorCode::NotificationNotFound => StatusCode::NOT_FOUND,
            ErrorCode::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ErrorCode::OrgExists | ErrorCode::Conflict => StatusCode::CONFLICT,
            ErrorCode::StaleEtag => StatusCode::PRECONDITION_FAILED,
            ErrorCode::BodyTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::UriTooLong => StatusCode::URI_TOO_LONG,
            ErrorCode::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorCode::PreconditionRequired => StatusCode::PRECONDITION_REQUIRED,
            ErrorCode::HeadersTooLarge => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::NotConfigured | ErrorCode::DependencyUnavailable | ErrorCode::Busy => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            ErrorCode::QueryTimeout => StatusCode::GATEWAY_TIMEOUT,
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error as the client sees it: an HTTP status and the JSON body.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// What went wrong, and so the status ([`ApiError::status`]).
    pub code: ErrorCode,
    pub message: String,
    /// The request field (or header) at fault, for 400s and 428s.
    pub field: Option<String>,
    /// The `Allow` header of a 405.
    pub allow: Option<String>,
    /// The `Retry-After` header (whole seconds, at least 1) of a 503 `busy`.
    pub retry_after: Option<Duration>,
}

/// The JSON body of every error reply: `{"error": {"code", "message", "field"?}}`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)] // no other member: `additionalProperties: false` in the schema
#[schema(as = Error)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

/// The `error` member of [`ErrorBody`].
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    pub code: ErrorCode,
    /// For a person; never internals (SQL, hosts, connection strings).
    pub message: String,
    /// The request field at fault (400), or `If-Match` (428).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub field: Option<String>,
}

impl ApiError {
    /// An error with `code` (and its status) and `message`.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            field: None,
            allow: None,
            retry_after: None,
        }
    }

    /// 400 `invalid_field`, naming the field.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: Some(field.into()),
            ..Self::new(ErrorCode::InvalidField, message)
        }
    }

    /// 404 `org_not_found`: no organization `id` (or none the caller reads).
    pub fn org_not_found(id: &str) -> Self {
        Self::new(ErrorCode::OrgNotFound, format!("no organization {id}"))
    }

    /// 404 `report_not_found`: no stored report of `org_id` (on `date`, when given).
    pub fn report_not_found(org_id: &str, date: Option<NaiveDate>) -> Self {
        let message = match date {
            Some(date) => format!("no stored report for {org_id} on {date}"),
            None => format!("no stored report for {org_id}"),
        };
        Self::new(ErrorCode::ReportNotFound, message)
    }

    /// 504 `query_timeout`: a query over its time limit; `message` says which and what to do.
    pub fn query_timeout(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::QueryTimeout, message)
    }

    /// 503 `not_configured`: `what` (e.g. "ClickHouse") needs `setting`.
    pub fn not_configured(what: &str, setting: &str) -> Self {
        Self::new(
            ErrorCode::NotConfigured,
            format!("{what} is not configured ({setting})"),
        )
    }

    /// 500 with a generic message; the cause must already be logged by the caller.
    pub fn internal() -> Self {
        Self::new(
            ErrorCode::Internal,
            "internal error; see the handler's log for this invocation",
        )
    }

    /// 503 `dependency_unavailable`: a dependency did not answer.
    pub fn unavailable(what: &str) -> Self {
        Self::new(
            ErrorCode::DependencyUnavailable,
            format!("{what} is unavailable; try again later"),
        )
    }

    /// 503 `busy` with `Retry-After`: `what` (e.g. "failure analyses") already run at the
    /// instance's limit and none ended within the wait (`docs/access-and-safety.md`,
    /// "Bounded for every caller").
    pub fn busy(what: &str, retry_after: Duration) -> Self {
        Self {
            retry_after: Some(retry_after),
            ..Self::new(
                ErrorCode::Busy,
                format!(
                    "too many {what} are running; try again in {} s",
                    retry_after.as_secs().max(1)
                ),
            )
        }
    }

    /// The HTTP status: the code's ([`ErrorCode::status`]).
    pub fn status(&self) -> StatusCode {
        self.code.status()
    }

    /// The JSON body, as text.
    pub fn body(&self) -> String {
        serde_json::to_string(&ErrorBody {
            error: ErrorDetail {
                code: self.code,
                message: self.message.clone(),
                field: self.field.clone(),
            },
        })
        .expect("error body serializes")
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.status().as_u16(),
            self.code,
            self.message
        )
    }
}

impl std::error::Error for ApiError {}

impl From<crate::error::Invalid> for ApiError {
    /// 400 `invalid_field` naming the field.
    fn from(e: crate::error::Invalid) -> Self {
        Self::invalid(e.field, e.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::response::error_response;

    #[test]
    fn busy_is_a_503_with_retry_after_in_whole_seconds() {
        let r = error_response(&ApiError::busy("failure analyses", Duration::from_secs(10)));
        assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(r.headers()["retry-after"], "10");
        let e = ApiError::busy("live queries", Duration::from_millis(300));
        assert!(e.body().contains(r#""code":"busy""#), "{}", e.body());
        assert_eq!(error_response(&e).headers()["retry-after"], "1");
        let other = error_response(&ApiError::unavailable("ClickHouse"));
        assert!(other.headers().get("retry-after").is_none());
    }

    /// `ALL` holds every code once, and each serializes as its `as_str` in the body and in
    /// the derived schema's enum (which lists every variant: so `ALL` misses none).
    #[test]
    fn every_code_is_listed_once_and_serializes_as_its_str() {
        let strs: Vec<&str> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
        let distinct: std::collections::BTreeSet<_> = strs.iter().collect();
        assert_eq!(distinct.len(), strs.len(), "{strs:?}");
        for code in ErrorCode::ALL {
            assert_eq!(serde_json::to_value(code).unwrap(), code.as_str());
        }
        let schema = serde_json::to_value(<ErrorCode as utoipa::PartialSchema>::schema()).unwrap();
        assert_eq!(schema["enum"], serde_json::json!(strs), "{schema}");
        let e = ApiError::invalid("date", "bad");
        assert_eq!(
            e.body(),
            r#"{"error":{"code":"invalid_field","message":"bad","field":"date"}}"#
        );
        assert_eq!(e.status(), StatusCode::BAD_REQUEST);
    }
}
