//! The error body every route answers with (`docs/http-api.md`, "Errors"):
//! `{"error": {"code": "...", "message": "...", "field": "..."}}`.
//!
//! Each domain has its own error enum (`failure_analysis::AnalysisError`, `orgs::OrgError`,
//! …); each function adapter under [`crate::functions`] maps its domains' errors to an
//! [`ApiError`] in one `From` impl per domain. A client error is never a 500, and a 500 never
//! carries internals: the cause is logged (without secrets) and the client gets a generic
//! message.

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
        }
    }

    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            field: None,
            allow: None,
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
