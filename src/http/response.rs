//! Replies: JSON, HTML, and [`ApiError`] as its JSON body with the right headers.

use warp::http::{HeaderValue, StatusCode, header};
use warp::reply::{Reply, Response};

use super::error::ApiError;

/// A JSON response with `status`.
pub fn json_response<T: serde::Serialize>(status: StatusCode, value: &T) -> Response {
    let body = serde_json::to_string(value).expect("response serializes");
    with_type(body.into_response(), status, "application/json")
}

/// An HTML response (200).
pub fn html_response(body: String) -> Response {
    with_type(
        body.into_response(),
        StatusCode::OK,
        "text/html; charset=utf-8",
    )
}

/// `r` with an `ETag` header (left out when `etag` is not a valid header value).
pub fn with_etag(mut r: Response, etag: &str) -> Response {
    if let Ok(v) = HeaderValue::from_str(etag) {
        r.headers_mut().insert(header::ETAG, v);
    }
    r
}

fn with_type(mut r: Response, status: StatusCode, content_type: &'static str) -> Response {
    *r.status_mut() = status;
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

/// The error as a response: its JSON body, `Allow` on a 405, `Connection: close` on a 413
/// (the rest of the body is not read).
pub fn error_response(e: &ApiError) -> Response {
    let mut r = with_type(e.body().into_response(), e.status, "application/json");
    if let Some(allow) = e
        .allow
        .as_deref()
        .and_then(|a| HeaderValue::from_str(a).ok())
    {
        r.headers_mut().insert(header::ALLOW, allow);
    }
    if e.status == StatusCode::PAYLOAD_TOO_LARGE {
        r.headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    r
}
