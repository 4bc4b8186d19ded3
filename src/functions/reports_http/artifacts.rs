//! `GET /api/artifacts/{*path}` (`docs/delivery-and-access.md`, "Links that open"): a stored
//! artifact — failure-analysis CSV/HTML/JSON, a report's JSON — served with its content type
//! from whichever storage backend is configured, so every link the product hands out opens
//! with a plain GET.
//!
//! Two routes, two rules (`docs/access-and-safety.md`, "Who may do what"):
//! `/api/artifacts/failure_analysis/…` ([`failure_analysis`], failure-analysis readers) and
//! `/api/artifacts/reports/<org_id>/…` ([`report`], readers of that org). Nothing else is
//! served: organization documents, delivery records and the scheduler state are not artifacts
//! (they may carry notification secrets) and answer 404 like any unknown path, and so does a
//! failure-analysis path reached through the reports' route (`failure%5Fanalysis/…`).

use warp::http::{HeaderValue, header};
use warp::reply::{Reply, Response};

use super::openapi::{BadRequest, NotFound, Unavailable};
use crate::app::App;
use crate::http::error::{ApiError, ErrorCode};
use crate::http::request::Request;
use crate::http::response::{page_headers, safe_headers};

/// Where failure-analysis artifacts live: the first segment of their name.
const FAILURE_AREA: &str = "failure_analysis";
/// Where report artifacts live: `reports/<org_id>/…`.
const REPORTS_AREA: &str = "reports";

/// Checks a requested path (already percent-decoded segment by segment): relative, no empty,
/// `.`-leading (so no `.`/`..`), backslash or control-character segments. A 400 naming `path`.
pub fn check_path(path: &str) -> Result<(), ApiError> {
    let bad = |why: &str| {
        Err(ApiError::invalid(
            "path",
            format!("invalid artifact path: {why}"),
        ))
    };
    if path.len() > 1024 {
        return bad("longer than 1024 bytes");
    }
    if path.starts_with('/') {
        return bad("absolute paths are not allowed");
    }
    if path.chars().any(|c| c == '\\' || c.is_control()) {
        return bad("backslash and control characters are not allowed");
    }
    for segment in path.split('/') {
        if segment.is_empty() {
            return bad("empty path segment");
        }
        if segment.starts_with('.') {
            return bad("a segment starts with `.` (no `.` or `..`)");
        }
    }
    Ok(())
}

fn not_found(path: &str) -> ApiError {
    ApiError::new(ErrorCode::ArtifactNotFound, format!("no artifact {path}"))
}

/// The content type an artifact is served with: the stored one, else by extension.
fn content_type(stored: Option<&str>, path: &str) -> String {
    if let Some(t) = stored.filter(|t| !t.is_empty() && *t != "application/octet-stream") {
        return t.to_string();
    }
    match path.rsplit('.').next() {
        Some("csv") => "text/csv; charset=utf-8",
        Some("html") => "text/html; charset=utf-8",
        Some("json") => "application/json",
        _ => "application/octet-stream",
    }
    .to_string()
}

/// `GET /api/artifacts/failure_analysis/{*path}` (the route admits failure-analysis readers).
#[utoipa::path(
    get,
    path = "/api/artifacts/failure_analysis/{*path}",
    operation_id = "getFailureAnalysisArtifact",
    tag = "artifacts",
    summary = "A stored failure-analysis artifact (CSV/HTML/JSON) with its content type; for \
        `analytics.failures` or `analytics.admin`",
    params(
        ("*path" = String, Path, description = "The object's name under `failure_analysis/`, \
            several `/`-separated segments (`<window>/user_failure_stats_….csv`). No empty, \
            `.`/`..`, absolute or backslash segments (400)."),
    ),
    responses(
        (status = 200, description = "The artifact",
            content(
                (String = "text/csv"),
                (String = "text/html"),
                (serde_json::Value = "application/json"),
            ),
            headers(("ETag" = String, description = "The stored version."))),
        (status = 400, response = BadRequest),
        (status = 404, response = NotFound),
        (status = 503, response = Unavailable),
    )
)]
pub async fn failure_analysis(app: &App, req: &Request) -> Result<Response, ApiError> {
    let path = format!("{FAILURE_AREA}/{}", req.params[0]);
    check_path(&path)?;
    serve(app, &path).await
}

/// `GET /api/artifacts/{*path}`: `reports/<org_id>/…` of an org the caller sees, else 404.
#[utoipa::path(
    get,
    path = "/api/artifacts/{*path}",
    operation_id = "getArtifact",
    tag = "artifacts",
    summary = "A stored report artifact (`reports/<org_id>/<date>.json`) of an org the caller \
        reads, with its content type",
    params(
        ("*path" = String, Path, description = "The object's name, several `/`-separated \
            segments (`reports/<org_id>/<date>.json`); the route is the host's catch-all \
            `{*path}`. Failure-analysis artifacts have their own route. No empty, `.`/`..`, \
            absolute or backslash segments (400); anything else is a 404."),
    ),
    responses(
        (status = 200, description = "The artifact",
            content(
                (String = "text/csv"),
                (String = "text/html"),
                (serde_json::Value = "application/json"),
            ),
            headers(("ETag" = String, description = "The stored version."))),
        (status = 400, response = BadRequest),
        (status = 404, response = NotFound),
        (status = 503, response = Unavailable),
    )
)]
pub async fn report(app: &App, req: &Request) -> Result<Response, ApiError> {
    let path = req.params[0].as_str();
    check_path(path)?;
    let mut segments = path.split('/');
    let visible = segments.next() == Some(REPORTS_AREA)
        && segments
            .next()
            .is_some_and(|org_id| req.caller.sees(org_id));
    if !visible {
        return Err(not_found(path));
    }
    serve(app, path).await
}

/// Whether a browser renders `content_type` as a page that could run script.
fn is_html(content_type: &str) -> bool {
    let essence = content_type.split(';').next().unwrap_or_default().trim();
    ["text/html", "application/xhtml+xml", "image/svg+xml"]
        .iter()
        .any(|t| essence.eq_ignore_ascii_case(t))
}

/// The stored object at `path`, with its content type: every artifact with
/// `X-Content-Type-Options: nosniff` and `Referrer-Policy: no-referrer`, a stored page (the
/// failure-analysis report) with the pages' `Content-Security-Policy` too
/// ([`page_headers`]; `docs/access-and-safety.md`, "Output that cannot be turned against its
/// reader").
async fn serve(app: &App, path: &str) -> Result<Response, ApiError> {
    let object = app.storage.get(path).await.map_err(|e| {
        tracing::error!(error = %e, "artifact read failed");
        match e {
            crate::storage::StorageError::Config(_) => not_found(path),
            _ => ApiError::unavailable("storage"),
        }
    })?;
    let Some(object) = object else {
        return Err(not_found(path));
    };
    let content_type = content_type(object.content_type.as_deref(), path);
    let mut r = object.body.to_vec().into_response();
    let headers = r.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&content_type) {
        headers.insert(header::CONTENT_TYPE, v);
    }
    if is_html(&content_type) {
        page_headers(headers);
    } else {
        safe_headers(headers);
    }
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=300"),
    );
    if let Ok(v) = HeaderValue::from_str(&object.etag) {
        headers.insert(header::ETAG, v);
    }
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traversal_and_odd_segments_are_refused() {
        for bad in [
            "../orgs/x.json",
            "reports/../orgs/x.json",
            "reports/./x",
            "/etc/passwd",
            "a//b",
            "a/",
            "a\\b",
            "reports/.meta",
            "a/\u{0}b",
        ] {
            assert_eq!(
                check_path(bad).unwrap_err().field.as_deref(),
                Some("path"),
                "{bad:?}"
            );
        }
        check_path("failure_analysis/20250520T183000Z_20250521T183000Z/x.csv").unwrap();
    }

    #[test]
    fn links_are_relative_or_under_the_public_base_url() {
        let mut s = crate::configuration::Settings::from_map(&Default::default()).unwrap();
        assert_eq!(
            crate::links::artifact(&s, "reports/a b/c.json"),
            "/api/artifacts/reports/a%20b/c.json"
        );
        s.public_base_url = Some("https://app.example".into());
        assert_eq!(
            crate::links::artifact(&s, "failure_analysis/x/y.csv"),
            "https://app.example/api/artifacts/failure_analysis/x/y.csv"
        );
    }

    #[test]
    fn the_content_type_falls_back_to_the_extension() {
        assert_eq!(
            content_type(Some("text/csv; charset=utf-8"), "a.json"),
            "text/csv; charset=utf-8"
        );
        assert_eq!(content_type(None, "a.html"), "text/html; charset=utf-8");
        assert_eq!(content_type(None, "a.json"), "application/json");
    }

    #[test]
    fn pages_are_told_from_data() {
        assert!(is_html("text/html; charset=utf-8"));
        assert!(is_html("Text/HTML"));
        assert!(is_html("image/svg+xml"));
        assert!(!is_html("text/csv; charset=utf-8"));
        assert!(!is_html("application/json"));
    }
}
