//! `GET /api/openapi.json`: the OpenAPI 3.1 document of every route. The tests validate every
//! reply they get against it.

use warp::http::{HeaderValue, StatusCode, header};
use warp::reply::Response;

use crate::http::response::json_response;

/// The document, as served.
pub const OPENAPI: &str = include_str!("openapi.json");

/// Handles the route (cacheable for 5 minutes).
pub fn handle() -> Response {
    let doc: serde_json::Value = serde_json::from_str(OPENAPI).expect("openapi.json is JSON");
    let mut r = json_response(StatusCode::OK, &doc);
    r.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("max-age=300"),
    );
    r
}
