//! The error body every route answers with (`../spec/http-api.md`, "Errors"):
//! `{"error": {"code": "...", "message": "...", "field": "..."}}`.
//!
//! Each route has its own error enum (see `failure_analysis::AnalysisError`); they all turn
//! into [`ApiError`] at the edge. A client error is never a 500, and a 500 never carries
//! internals: the cause is logged (without secrets) and the client gets a generic message.

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

/// Parses a JSON request body into `T` (which should `deny_unknown_fields`), mapping serde's
/// errors to a 400 that names the field. An empty body is read as `{}`.
pub fn parse_json_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let body: &[u8] = if body.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        body
    };
    if body.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(
            match serde_json::from_slice::<serde::de::IgnoredAny>(body) {
                Ok(_) => ApiError::invalid("body", "the body must be a JSON object"),
                Err(e) => ApiError::invalid("body", format!("body is not valid JSON: {e}")),
            },
        );
    }
    let de = &mut serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let inner = e.inner();
        let msg = inner.to_string();
        // serde reports an unknown field at its parent's path; the name is in the message.
        // So is a missing one (the path is then `.`).
        let field = match msg.split('`').nth(1) {
            Some(name) if msg.starts_with("unknown field") || msg.starts_with("missing field") => {
                name.to_string()
            }
            _ => e.path().to_string(),
        };
        if inner.is_syntax() || inner.is_eof() {
            ApiError::invalid("body", format!("body is not valid JSON: {inner}"))
        } else {
            ApiError::invalid(field, msg)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Req {
        from_date: Option<String>,
        max_users: Option<u32>,
    }

    #[test]
    fn unknown_field_is_named() {
        let e = parse_json_body::<Req>(br#"{"from_date":"2025-01-01","colour":1}"#).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("colour"));
        assert_eq!(e.status, StatusCode::BAD_REQUEST);
    }

    #[test]
    fn missing_field_is_named() {
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code)]
        struct Needs {
            from: String,
        }
        let e = parse_json_body::<Needs>(b"{}").unwrap_err();
        assert_eq!(e.field.as_deref(), Some("from"));
    }

    #[test]
    fn wrong_type_names_the_field() {
        let e = parse_json_body::<Req>(br#"{"max_users":"ten"}"#).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("max_users"));
    }

    #[test]
    fn not_json_names_the_body() {
        let e = parse_json_body::<Req>(b"from_date=2025").unwrap_err();
        assert_eq!(e.field.as_deref(), Some("body"));
    }

    #[test]
    fn empty_body_is_an_empty_object() {
        let r = parse_json_body::<Req>(b"").unwrap();
        assert!(r.from_date.is_none());
    }
}
