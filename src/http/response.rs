//! Replies: JSON, HTML, and [`ApiError`] as its JSON body with the right headers.
//!
//! Every reply built here (JSON, HTML, errors) carries `X-Content-Type-Options: nosniff` and
//! `Referrer-Policy: no-referrer`; every HTML reply also [`CONTENT_SECURITY_POLICY`] ([`page_headers`];
//! `docs/access-and-safety.md`, "Output that cannot be turned against its reader").

use std::sync::LazyLock;

use base64::Engine as _;
use sha2::{Digest as _, Sha256};
use warp::http::{HeaderMap, HeaderValue, StatusCode, header};
use warp::reply::{Reply, Response};

use super::error::{ApiError, ErrorCode};

/// A JSON response with `status`.
pub fn json_response<T: serde::Serialize>(status: StatusCode, value: &T) -> Response {
    let body = serde_json::to_string(value).expect("response serializes");
    with_type(body.into_response(), status, "application/json")
}

/// An HTML response (200), with [`page_headers`].
pub fn html_response(body: String) -> Response {
    let mut r = with_type(
        body.into_response(),
        StatusCode::OK,
        "text/html; charset=utf-8",
    );
    page_headers(r.headers_mut());
    r
}

/// `templates/failure_report.js`, the one inline script of the pages (the dashboard and the
/// calls page have none). `templates/failure_report.html` carries it between `<script>` and
/// `</script>` as a line break, the file without its last line break (askama drops an included
/// file's last line break), a line break: the text [`CONTENT_SECURITY_POLICY`] hashes.
const REPORT_SCRIPT: &str = include_str!("../../templates/failure_report.js");

/// The `Content-Security-Policy` of every HTML reply, the dashboard, the calls page and a stored
/// failure-analysis report (`docs/access-and-safety.md`, "Output that cannot be turned against
/// its reader"): nothing loads from anywhere (`default-src 'none'`: the pages are
/// self-contained); the only script that runs is the report's own inline script, by its
/// SHA-256 (`script-src 'sha256-…'`), so markup that slipped into a page runs nothing;
/// `style-src 'unsafe-inline'` because the pages carry their stylesheet in a `<style>` element
/// and draw meters and bars with `style="width:…"` attributes (an injected style can run no
/// script, and with nothing allowed to load it cannot send anything anywhere either);
/// `img-src data:` for the empty `data:,` favicon; no `<base>`, no plugins, no form posts, and no
/// framing (`frame-ancestors 'none'`, against clickjacking).
pub static CONTENT_SECURITY_POLICY: LazyLock<String> = LazyLock::new(|| {
    let script = REPORT_SCRIPT.strip_suffix('\n').unwrap_or(REPORT_SCRIPT);
    let hash = base64::engine::general_purpose::STANDARD
        .encode(Sha256::digest(format!("\n{script}\n").as_bytes()));
    format!(
        "default-src 'none'; script-src 'sha256-{hash}'; style-src 'unsafe-inline'; \
         img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'; \
         object-src 'none'"
    )
});

/// Sets the headers of a page (any HTML reply, served or stored): [`CONTENT_SECURITY_POLICY`],
/// `X-Content-Type-Options: nosniff` (the declared type is the type) and `Referrer-Policy:
/// no-referrer` (a link followed from a page does not tell the other site the page's URL, which
/// names an org and a date). `docs/access-and-safety.md`, "Output that cannot be turned against
/// its reader".
pub fn page_headers(headers: &mut HeaderMap) {
    let csp = HeaderValue::from_str(&CONTENT_SECURITY_POLICY).expect("the policy is ASCII");
    headers.insert(header::CONTENT_SECURITY_POLICY, csp);
    safe_headers(headers);
}

/// `X-Content-Type-Options: nosniff` and `Referrer-Policy: no-referrer`, on every reply.
pub fn safe_headers(headers: &mut HeaderMap) {
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
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
    safe_headers(r.headers_mut());
    r
}

/// The error as a response: its JSON body, `Allow` on a 405, `Connection: close` on a 413
/// (the rest of the body is not read), `Retry-After` (whole seconds) on a 503 `busy`.
pub fn error_response(e: &ApiError) -> Response {
    let mut r = with_type(e.body().into_response(), e.status(), "application/json");
    if let Some(allow) = e
        .allow
        .as_deref()
        .and_then(|a| HeaderValue::from_str(a).ok())
    {
        r.headers_mut().insert(header::ALLOW, allow);
    }
    if e.code == ErrorCode::BodyTooLarge {
        r.headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    if let Some(after) = e.retry_after {
        r.headers_mut()
            .insert(header::RETRY_AFTER, after.as_secs().max(1).into());
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `docs/access-and-safety.md`, "Output that cannot be turned against its reader": an HTML
    /// reply carries the policy and the two headers; a JSON reply the two headers.
    #[test]
    fn html_replies_carry_the_page_headers_and_json_replies_the_safe_ones() {
        let r = html_response("<p>hi</p>".into());
        let h = r.headers();
        let csp = h[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
        for directive in [
            "default-src 'none'",
            "script-src 'sha256-",
            "base-uri 'none'",
            "object-src 'none'",
            "frame-ancestors 'none'",
        ] {
            assert!(csp.contains(directive), "{directive} in {csp}");
        }
        // No inline script but by hash, no eval.
        let script_src = csp
            .split(';')
            .find(|d| d.trim().starts_with("script-src"))
            .unwrap();
        assert!(!script_src.contains("unsafe"), "{csp}");
        assert_eq!(h[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        assert_eq!(h[header::REFERRER_POLICY], "no-referrer");

        let r = json_response(StatusCode::OK, &serde_json::json!({"ok": true}));
        let h = r.headers();
        assert!(h.get(header::CONTENT_SECURITY_POLICY).is_none());
        assert_eq!(h[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        assert_eq!(h[header::REFERRER_POLICY], "no-referrer");
    }
}
