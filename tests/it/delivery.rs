//! Delivery and access (`docs/delivery-and-access.md`) through the handler process: sign-in
//! (`REQUIRE_PRINCIPAL`, the startup refusal), artifact links that open with a plain GET, and
//! the morning digest to webhook receivers these tests own (loopback).

use std::time::Duration;

use base64::Engine as _;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::{Call, Spawn, TestApp, connect, fresh_database, insert};

const USER: &str = "11111111-aaaa-4aaa-8aaa-000000000001";

/// A database with one user's two calls on 2025-05-21 (UTC).
async fn calls_db() -> String {
    let url = fresh_database().await;
    let db = connect(&url).await;
    let call = |sid: Option<&'static str>, t: &'static str| Call {
        session_id: Some("s"),
        user_id: Some(USER),
        exotel_call_sid: sid,
        created_on: t,
    };
    insert(
        &db,
        &[(USER, Some("Anushka"))],
        &[
            call(Some("c0ffee"), "2025-05-21 03:00:00"),
            call(None, "2025-05-21 04:00:00"),
        ],
    )
    .await;
    url
}

fn principal(roles: &[&str]) -> String {
    let claims: Vec<Value> = roles
        .iter()
        .map(|r| json!({"typ": "roles", "val": r}))
        .collect();
    base64::engine::general_purpose::STANDARD
        .encode(json!({"auth_typ": "aad", "claims": claims, "role_typ": "roles"}).to_string())
}

/// A raw `GET path` (no client-side URL normalization, so `..` and `%2e%2e` reach the
/// handler as sent): the status code.
async fn raw_get(app: &TestApp, path: &str) -> u16 {
    let addr = app.address.trim_start_matches("http://").to_string();
    let mut stream = tokio::net::TcpStream::connect(&addr)
        .await
        .expect("connect");
    let head = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(head.as_bytes()).await.expect("write");
    let mut buf = Vec::new();
    tokio::time::timeout(Duration::from_secs(20), stream.read_to_end(&mut buf))
        .await
        .expect("answer in time")
        .expect("read");
    let text = String::from_utf8_lossy(&buf);
    text.split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("{text}"))
}

// ---------------------------------------------------------------------------------------
// Links that open
// ---------------------------------------------------------------------------------------

/// Every link of a failure-analysis response opens with a plain HTTP client, with its content
/// type, from both storage backends; `locations` keeps where the objects are stored.
#[tokio::test]
async fn every_failure_analysis_link_opens_with_its_content_type() {
    let pg = calls_db().await;
    let dir = tempfile::tempdir().unwrap();
    for local in [false, true] {
        let app = TestApp::spawn(Spawn {
            db_url: Some(pg.clone()),
            output_dir: local.then(|| dir.path().to_path_buf()),
            env: vec![],
        })
        .await;
        let body: Value = app
            .analyse(
                "",
                json!({"from_date": "2025-05-21", "to_date": "2025-05-21", "timezone": "UTC"}),
            )
            .await
            .json()
            .await
            .unwrap();
        let artifacts = &body["artifacts"];
        let plain = reqwest::Client::new();
        for (kind, want) in [
            ("csv", "text/csv"),
            ("html", "text/html"),
            ("json", "application/json"),
        ] {
            let link = artifacts[kind].as_str().unwrap_or_else(|| panic!("{body}"));
            assert!(
                link.starts_with("/api/artifacts/failure_analysis/"),
                "{link}"
            );
            let location = artifacts["locations"][kind].as_str().unwrap();
            assert!(
                location.ends_with(link.trim_start_matches("/api/artifacts/")),
                "{location} vs {link}"
            );
            let r = plain
                .get(format!("{}{link}", app.address))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::OK, "{link}");
            let ct = r.headers()["content-type"].to_str().unwrap().to_string();
            assert!(ct.starts_with(want), "{kind}: {ct}");
            let text = r.text().await.unwrap();
            assert!(
                text.contains("Anushka"),
                "{kind} (local {local}): {text:.200}"
            );
        }
    }
}

/// With `PUBLIC_BASE_URL` the links are absolute under it.
#[tokio::test]
async fn links_are_absolute_under_the_public_base_url() {
    let pg = calls_db().await;
    let app = TestApp::spawn(Spawn {
        db_url: Some(pg),
        output_dir: None,
        env: vec![(
            "PUBLIC_BASE_URL".into(),
            "https://func-x.azurewebsites.net/".into(),
        )],
    })
    .await;
    let body: Value = app
        .analyse(
            "?export_csv=false",
            json!({"from_date": "2025-05-21", "to_date": "2025-05-21"}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert!(body["artifacts"]["csv"].is_null());
    let html = body["artifacts"]["html"].as_str().unwrap();
    assert!(
        html.starts_with("https://func-x.azurewebsites.net/api/artifacts/failure_analysis/"),
        "{html}"
    );
    let relative = html.trim_start_matches("https://func-x.azurewebsites.net");
    let r = reqwest::get(format!("{}{relative}", app.address))
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
}

/// Traversal and odd paths are 400, unknown and non-artifact paths 404, and a report is
/// served only to a caller who sees its org.
#[tokio::test]
async fn artifact_paths_are_validated_and_reports_isolated_by_org() {
    let org = "01951f56-8c6e-7a93-a971-3d06a81a1ab0";
    let app = TestApp::spawn(Spawn {
        env: vec![
            ("ORG_ID".into(), org.into()),
            (
                "BROKER_NODE_PERSISTENT_ID".into(),
                "019b099d-77fd-7e09-9d2b-cd4c476a0a19".into(),
            ),
        ],
        ..Default::default()
    })
    .await;
    let storage = app.storage().await;
    let report = format!("reports/{org}/2025-05-21.json");
    storage
        .put(
            &report,
            bytes::Bytes::from_static(b"{\"ok\":true}"),
            &call_analytics::storage::Put::new("application/json"),
        )
        .await
        .unwrap();
    for bad in [
        "/api/artifacts/../orgs/x.json",
        "/api/artifacts/reports/../orgs/x.json",
        "/api/artifacts/reports/%2e%2e/orgs/x.json",
        "/api/artifacts/reports/%2E%2E%2Forgs%2Fx.json",
        "/api/artifacts/reports//x.json",
        "/api/artifacts/%2Fetc%2Fpasswd",
        "/api/artifacts/reports%5C..%5Corgs",
        "/api/artifacts/reports/.meta",
    ] {
        assert_eq!(raw_get(&app, bad).await, 400, "{bad}");
    }
    for unknown in [
        "/api/artifacts/reports/{org}/1999-01-01.json".replace("{org}", org),
        format!("/api/artifacts/orgs/{org}.json"),
        "/api/artifacts/scheduler/last_run.json".into(),
        "/api/artifacts/nothing".into(),
    ] {
        assert_eq!(raw_get(&app, &unknown).await, 404, "{unknown}");
    }
    let url = format!("{}/api/artifacts/{report}", app.address);
    let open = app.client.get(&url).send().await.unwrap();
    assert_eq!(open.status(), StatusCode::OK);
    assert_eq!(open.headers()["content-type"], "application/json");
    let mine = app
        .client
        .get(&url)
        .header("X-MS-CLIENT-PRINCIPAL", principal(&[&format!("org:{org}")]))
        .send()
        .await
        .unwrap();
    assert_eq!(mine.status(), StatusCode::OK);
    let other = app
        .client
        .get(&url)
        .header(
            "X-MS-CLIENT-PRINCIPAL",
            principal(&["org:01953c2a-41d7-7b8e-b0c4-52e9a7f3d610"]),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), StatusCode::NOT_FOUND);
}

// ---------------------------------------------------------------------------------------
// Sign-in
// ---------------------------------------------------------------------------------------

/// With `REQUIRE_PRINCIPAL=true` a request without a valid principal is a 401 JSON error; the
/// readiness probe and the timer (the host's own calls) are not affected; without a role a
/// principal changes nothing.
#[tokio::test]
async fn require_principal_answers_401_without_a_principal() {
    let app = TestApp::spawn(Spawn {
        env: vec![("REQUIRE_PRINCIPAL".into(), "true".into())],
        ..Default::default()
    })
    .await;
    for (path, p) in [
        ("/api/orgs", None),
        ("/api/orgs", Some("bm90IGpzb24=".to_string())),
        ("/api/dashboard", None),
        ("/api/artifacts/reports/x/2025-01-01.json", None),
    ] {
        let mut req = app.client.get(format!("{}{path}", app.address));
        if let Some(p) = p {
            req = req.header("X-MS-CLIENT-PRINCIPAL", p);
        }
        let r = req.send().await.unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{path}");
        assert_eq!(r.headers()["content-type"], "application/json");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["error"]["code"], "unauthenticated");
    }
    let signed_in = app
        .client
        .get(format!("{}/api/orgs", app.address))
        .header("X-MS-CLIENT-PRINCIPAL", principal(&["analytics.admin"]))
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status(), StatusCode::OK);
    let ready = app.client.get(&app.address).send().await.unwrap();
    assert_eq!(ready.status(), StatusCode::OK);
    let reader = app
        .client
        .post(format!("{}/api/orgs", app.address))
        .header(
            "X-MS-CLIENT-PRINCIPAL",
            principal(&["org:01951f56-8c6e-7a93-a971-3d06a81a1ab0"]),
        )
        .json(
            &json!({"org_id": "01951f56-8c6e-7a93-a971-3d06a81a1ab0", "name": "x",
                      "node_persistent_id": "019b099d-77fd-7e09-9d2b-cd4c476a0a19"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(reader.status(), StatusCode::FORBIDDEN);
}

/// In App Service (`WEBSITE_SITE_NAME`), `REQUIRE_PRINCIPAL=true` without
/// `WEBSITE_AUTH_ENABLED=True` refuses to start, naming both settings.
#[test]
fn require_principal_without_app_service_authentication_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_handler"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("OUTPUT_DIR", dir.path())
        .env(
            "FUNCTIONS_CUSTOMHANDLER_PORT",
            crate::helpers::free_port().to_string(),
        )
        .env("WEBSITE_SITE_NAME", "func-callan-abc123")
        .env("REQUIRE_PRINCIPAL", "true")
        .current_dir(dir.path())
        .output()
        .expect("run handler");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("REQUIRE_PRINCIPAL") && stderr.contains("WEBSITE_AUTH_ENABLED"),
        "{stderr}"
    );
}
