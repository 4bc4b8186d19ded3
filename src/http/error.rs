//! The error body every route answers with (`docs/http-api.md`, "Errors"):
//! `{"error": {"code": "...", "message": "...", "field": "..."}}`.
//!
//! Each domain has its own error enum (`failure_analysis::AnalysisError`, `orgs::OrgError`,
//! …); each function adapter under [`crate::functions`] maps its domains' errors to an
//! [`ApiError`] in one `From` impl per domain. A client error is never a 500, and a 500 never
//! carries internals: the cause is logged (without secrets) and the client gets a generic
//! message.

use std::time::Duration;

use serde::Serialize;
use warp::http::StatusCode;

/// An error as the client sees it: an HTTP status and the JSON body.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// The request field at fault, for 400s.
    pub field: Option<String>,
    /// The `Allow` header of a 405.
    pub allow: Option<String>,
    /// The `Retry-After` header (whole seconds, at least 1) of a 503 `busy`.
    pub retry_after: Option<Duration>,
}

#[derive(Serialize)]
struct Body<'a> {
    error: Inner<'a>,
}

#[derive(Serialize)]
struct Inner<'a> {
    code: &'a str,
    message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'a str>,
}

impl ApiError {
    /// 400 `invalid_field`, naming the field.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            code: "invalid_field",
            message: message.into(),
            field: Some(field.into()),
            allow: None,
            retry_after: None,
        }
    }

    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            field: None,
            allow: None,
            retry_after: None,
        }
    }

    /// 500 with a generic message; the cause must already be logged by the caller.
    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error; see the handler's log for this invocation",
        )
    }

    /// 503: a dependency did not answer.
    pub fn unavailable(what: &str) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "dependency_unavailable",
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
                StatusCode::SERVICE_UNAVAILABLE,
                "busy",
                format!(
                    "too many {what} are running; try again in {} s",
                    retry_after.as_secs().max(1)
                ),
            )
        }
    }

    /// The JSON body, as bytes.
    pub fn body(&self) -> String {
        serde_json::to_string(&Body {
            error: Inner {
                code: self.code,
                message: &self.message,
                field: self.field.as_deref(),
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
            self.status.as_u16(),
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
}
