//! Output that cannot be turned against its reader (`docs/access-and-safety.md`): every HTML
//! reply — the dashboard, the calls page, a stored failure-analysis report served by
//! `/api/artifacts` — carries a `Content-Security-Policy` that lets no script run but the
//! report's own (by its hash), `X-Content-Type-Options: nosniff` and `Referrer-Policy:
//! no-referrer`; other replies carry the last two. (The CSV and the chat messages are checked by
//! the unit tests of `failure_analysis::csv_export`, `delivery::slack` and `delivery::teams`;
//! the pages run under the policy in Chromium in `pages.rs`.)

use base64::Engine as _;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

use crate::helpers::{Ch, start, two_calls_database};
use crate::helpers::{database_with_calls, yesterday};

/// `name`'s value; the test fails when it is missing.
fn header<'a>(h: &'a HeaderMap, name: &str, what: &str) -> &'a str {
    h.get(name)
        .unwrap_or_else(|| panic!("{what}: no {name} header in {h:?}"))
        .to_str()
        .unwrap()
}

/// The page headers of `docs/access-and-safety.md`; returns the policy.
fn assert_page_headers(h: &HeaderMap, what: &str) -> String {
    let csp = header(h, "content-security-policy", what).to_string();
    let directives: Vec<&str> = csp.split(';').map(str::trim).collect();
    for want in [
        "default-src 'none'",
        "base-uri 'none'",
        "object-src 'none'",
        "frame-ancestors 'none'",
    ] {
        assert!(directives.contains(&want), "{what}: {want} in {csp}");
    }
    let script_src = directives
        .iter()
        .find(|d| d.starts_with("script-src "))
        .unwrap_or_else(|| panic!("{what}: no script-src in {csp}"));
    // Only hashed scripts: no 'unsafe-inline', 'unsafe-eval', host or scheme source.
    for source in script_src.split_whitespace().skip(1) {
        assert!(source.starts_with("'sha256-"), "{what}: {source} in {csp}");
    }
    assert_safe_headers(h, what);
    csp
}

fn assert_safe_headers(h: &HeaderMap, what: &str) {
    assert_eq!(
        header(h, "x-content-type-options", what),
        "nosniff",
        "{what}"
    );
    assert_eq!(header(h, "referrer-policy", what), "no-referrer", "{what}");
}

/// The dashboard, the calls page and a served failure-analysis report carry the page headers;
/// the report's one inline script is allowed by its SHA-256 (so it runs under the policy), it
/// is the page's only script that runs, and the page has no inline event handler (which no
/// hash would allow). JSON replies and the CSV artifact carry nosniff and no-referrer.
#[tokio::test]
async fn every_html_reply_carries_the_content_security_policy() {
    let api = start(
        Ch::Database(database_with_calls().await),
        Some(two_calls_database().await),
        &[],
    )
    .await;
    let app = &api.app;
    let get = |path: String| {
        let url = format!("{}{path}", app.address);
        async move {
            let r = reqwest::get(&url).await.unwrap();
            let status = r.status();
            let headers = r.headers().clone();
            let body = r.text().await.unwrap();
            assert_eq!(status, 200, "{url}: {body:.300}");
            (headers, body)
        }
    };

    let (h, _) = get("/api/dashboard?days=7".into()).await;
    assert!(header(&h, "content-type", "dashboard").starts_with("text/html"));
    let policy = assert_page_headers(&h, "the dashboard");
    let (h, body) = get(format!(
        "/api/reports/calls?date={}&format=html",
        yesterday()
    ))
    .await;
    assert!(
        body.contains("<table"),
        "the calls page lists calls: {body:.300}"
    );
    assert_eq!(assert_page_headers(&h, "the calls page"), policy);

    let r = app
        .analyse(
            "",
            json!({"from_date": "2025-05-21", "to_date": "2025-05-21", "timezone": "UTC"}),
        )
        .await;
    assert_safe_headers(r.headers(), "the failure analysis' JSON reply");
    let analysis: Value = r.json().await.unwrap();
    let link = |kind: &str| {
        analysis["artifacts"][kind]
            .as_str()
            .unwrap_or_else(|| panic!("{analysis}"))
            .to_string()
    };
    let (h, page) = get(link("html")).await;
    assert!(header(&h, "content-type", "report").starts_with("text/html"));
    assert_eq!(assert_page_headers(&h, "the stored report"), policy);
    let (h, _) = get(link("csv")).await;
    assert_safe_headers(&h, "the CSV artifact");
    assert!(h.get("content-security-policy").is_none());

    // The report's scripts: a JSON data block (never run, so not subject to script-src) and
    // one inline script, whose SHA-256 the policy names.
    let scripts: Vec<(&str, &str)> = page
        .split("<script")
        .skip(1)
        .map(|s| {
            let (attrs, rest) = s.split_once('>').unwrap();
            (attrs, rest.split_once("</script>").unwrap().0)
        })
        .collect();
    assert_eq!(scripts.len(), 2, "{scripts:?}");
    assert_eq!(scripts[0].0, r#" type="application/json" id="data""#);
    assert_eq!(scripts[1].0, "", "the report's own script is inline");
    let hash = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(scripts[1].1));
    assert!(
        policy.contains(&format!("script-src 'sha256-{hash}'")),
        "the policy allows the report's script ({hash}): {policy}"
    );
    // No inline event handler (`onclick=`…) in any tag: a hash policy would block it.
    assert!(
        !has_event_handler(&page),
        "an inline event handler in the report"
    );
}

/// Whether a tag of `html` has an `on…=` attribute.
fn has_event_handler(html: &str) -> bool {
    html.split('<')
        .skip(1)
        .filter_map(|t| t.split_once('>').map(|(tag, _)| tag))
        .any(|tag| {
            tag.split_whitespace().skip(1).any(|attr| {
                let attr = attr.to_ascii_lowercase();
                attr.split_once('=').is_some_and(|(name, _)| {
                    name.len() > 2
                        && name.starts_with("on")
                        && name.chars().all(|c| c.is_ascii_lowercase())
                })
            })
        })
}
