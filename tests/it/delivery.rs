//! Delivery and access (`docs/delivery-and-access.md`) through the handler process: sign-in
//! (`REQUIRE_PRINCIPAL`, the startup refusal), artifact links that open with a plain GET, and
//! the morning digest to webhook receivers these tests own (loopback).

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::{
    Answer, Receiver, Spawn, TestApp, URL_TOKEN, column, principal, put_json, store_yesterday,
    two_calls_database,
};
use crate::helpers::{id_of, patch_notifications, render_card};

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
    let pg = two_calls_database().await;
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
    let pg = two_calls_database().await;
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
    let report = format!("reports/{org}/2025-05-21.json");
    put_json(&app.storage().await, &report, &b"{\"ok\":true}"[..]).await;
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
    // The report opened by a reader of `role`'s org: the status.
    let open_as = |role: &str| {
        let sent = app
            .client
            .get(&url)
            .header("X-MS-CLIENT-PRINCIPAL", principal(&[role]))
            .send();
        async move { sent.await.unwrap().status() }
    };
    assert_eq!(open_as(&format!("org:{org}")).await, StatusCode::OK);
    assert_eq!(
        open_as("org:01953c2a-41d7-7b8e-b0c4-52e9a7f3d610").await,
        StatusCode::NOT_FOUND
    );
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

// ---------------------------------------------------------------------------------------
// The morning digest
// ---------------------------------------------------------------------------------------

const ORG: &str = "01951f56-8c6e-7a93-a971-3d06a81a1ab0";
const NODE: &str = "019b099d-77fd-7e09-9d2b-cd4c476a0a19";
const SECRET: &str = "s3cret-signing-key-0123456789";

/// A handler with the default org, no ClickHouse, yesterday's report due, sharing `storage`
/// when given (a second instance).
async fn digest_app(share: Option<&TestApp>) -> TestApp {
    let mut env: Vec<(String, String)> = [
        ("ORG_ID", ORG),
        ("BROKER_NODE_PERSISTENT_ID", NODE),
        ("CLIENT_NAME", "Paul Logistics"),
        ("ALLOW_INSECURE_WEBHOOKS", "true"),
        ("CATCHUP_DAYS", "1"),
        ("SCHEDULER_HOUR", "0"),
        ("PUBLIC_BASE_URL", "https://func-x.azurewebsites.net"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    // A second instance shares the first one's container (set after the helper's own).
    if let Some(first) = share {
        let call_analytics::configuration::StorageSettings::ConnectionString { container, .. } =
            &first.storage_settings
        else {
            unreachable!()
        };
        env.push(("AZURE_STORAGE_CONTAINER".into(), container.clone()));
    }
    TestApp::spawn(Spawn {
        db_url: None,
        output_dir: None,
        env,
    })
    .await
}

/// PATCHes the default org's `notifications` ([`patch_notifications`]); asserts a 200.
async fn set_notifications(app: &TestApp, list: Value) -> Value {
    let (status, body) = patch_notifications(app, ORG, list).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

/// `method path` of `app`, with `body` as JSON when given: the reply's JSON body.
async fn json_reply(app: &TestApp, method: Method, path: &str, body: Option<Value>) -> Value {
    let mut req = app.client.request(method, format!("{}{path}", app.address));
    if let Some(body) = body {
        req = req.json(&body);
    }
    req.send().await.unwrap().json().await.unwrap()
}

/// A [`digest_app`] whose default org has the notification `channels` and yesterday's report,
/// so that its digest is due: the app and the report's date.
async fn due_digest_app(channels: Value) -> (TestApp, chrono::NaiveDate) {
    let app = digest_app(None).await;
    set_notifications(&app, channels).await;
    let date = store_yesterday(&app, ORG).await;
    (app, date)
}

fn timer_body() -> Value {
    json!({"Data": {"timer": {"Schedule": {}, "ScheduleStatus": null, "IsPastDue": false}},
           "Metadata": {}})
}

/// `GET /api/deliveries?org_id=` of the default org: the delivery records.
async fn deliveries(app: &TestApp) -> Value {
    json_reply(
        app,
        Method::GET,
        &format!("/api/deliveries?org_id={ORG}"),
        None,
    )
    .await
}

async fn fire(app: &TestApp) -> Value {
    json_reply(app, Method::POST, "/daily_report_timer", Some(timer_body())).await
}

/// Each channel gets one digest of the right shape — a Teams Workflows message with an
/// Adaptive Card 1.4, a Slack Block Kit message, signed webhook JSON — under 10 concurrent
/// firings across two handler processes; the next firing sends nothing; replies and logs
/// never show the URL's secret part or the signing secret.
#[tokio::test]
async fn one_digest_per_channel_under_concurrent_firings_with_each_payload_shape() {
    let teams = Receiver::start(vec![Answer::Status(202)]).await;
    let slack = Receiver::start(vec![Answer::Status(200)]).await;
    let hook = Receiver::start(vec![Answer::Status(204)]).await;
    let a = digest_app(None).await;
    let b = digest_app(Some(&a)).await;
    let org = set_notifications(
        &a,
        json!([
            {"id": "teams-ops", "kind": "teams", "url": teams.url, "enabled": true},
            {"id": "slack-ops", "kind": "slack", "url": slack.url},
            {"id": "erp", "kind": "webhook", "url": hook.url, "secret": SECRET},
            {"id": "off", "kind": "slack", "url": slack.url, "enabled": false},
        ]),
    )
    .await;
    let shown = org.to_string();
    assert!(
        !shown.contains(URL_TOKEN) && !shown.contains(SECRET),
        "{shown}"
    );
    assert_eq!(
        org["notifications"][0]["url"],
        format!("http://{}/…", "127.0.0.1")
    );
    let date = store_yesterday(&a, ORG).await;

    let firings = (0..10).map(|i| {
        let app = if i % 2 == 0 { &a } else { &b };
        fire(app)
    });
    let results = futures::future::join_all(firings).await;
    let sent: usize = results
        .iter()
        .flat_map(|r| {
            r["ReturnValue"]["deliveries"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .filter(|d| d["status"] == "sent")
        .count();
    assert_eq!(sent, 3, "{results:?}");
    assert_eq!(
        (teams.got().len(), slack.got().len(), hook.got().len()),
        (1, 1, 1)
    );

    // Teams: the Workflows message around an Adaptive Card 1.4.
    let msg = teams.got()[0].json();
    assert_eq!(msg["type"], "message");
    let att = &msg["attachments"][0];
    assert_eq!(
        att["contentType"],
        "application/vnd.microsoft.card.adaptive"
    );
    let card = &att["content"];
    assert_eq!(
        (card["type"].as_str(), card["version"].as_str()),
        (Some("AdaptiveCard"), Some("1.4"))
    );
    let text = card.to_string();
    assert!(
        text.contains("Paul Logistics") && text.contains(&date.to_string()) && text.contains("42"),
        "{text}"
    );
    assert!(
        text.contains("https://func-x.azurewebsites.net/api/dashboard?org_id="),
        "{text}"
    );
    // Microsoft's renderer parses, validates and renders it; the screenshot stays at
    // target/cards/teams-card.png.
    let (ok, log) = render_card(
        card,
        "teams-card",
        &["Paul Logistics", &date.to_string(), "Total calls", "42"],
    )
    .await;
    assert!(ok, "the Teams card failed Microsoft's renderer: {log}");

    // Slack: text fallback and blocks with their documented fields and limits.
    let msg = slack.got()[0].json();
    assert!(
        msg["text"]
            .as_str()
            .is_some_and(|t| t.contains("Paul Logistics"))
    );
    assert_eq!(block_kit_problems(&msg), Vec::<String>::new(), "{msg:#}");
    let shown = msg["blocks"].to_string();
    assert!(
        shown.contains("Paul Logistics") && shown.contains("Total calls") && shown.contains("42"),
        "{shown}"
    );

    // Webhook: the signature verifies over timestamp + "." + body (`webhook::signature`, whose
    // unit test pins it to an independently computed HMAC-SHA256).
    let got = &hook.got()[0];
    let ts: i64 = got
        .header("X-CallAnalytics-Timestamp")
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(
        got.header("X-CallAnalytics-Signature"),
        Some(call_analytics::delivery::webhook::signature(SECRET, ts, &got.body).as_str())
    );
    let body = got.json();
    assert_eq!(body["event"], "daily_report.ready");
    assert_eq!(body["org_id"], ORG);
    assert_eq!(body["date"], date.to_string());
    assert_eq!(body["kpis"]["total_calls"], 42.0);
    assert!(body["changes"].is_array());

    // The next firing sends nothing new.
    fire(&b).await;
    assert_eq!(
        (teams.got().len(), slack.got().len(), hook.got().len()),
        (1, 1, 1)
    );
    let records = deliveries(&a).await;
    let states = column(&records["deliveries"], "state");
    assert_eq!(states, ["sent", "sent", "sent"], "{records}");
    for log in [a.log(), b.log(), records.to_string()] {
        assert!(
            !log.contains(URL_TOKEN) && !log.contains(SECRET),
            "a secret leaked"
        );
    }
}

/// 500 then 429 (Retry-After 1) then 200: sent on attempt 3; a 400 fails at once; a closed
/// connection is retried up to 3 attempts; failures show in the scheduler status.
#[tokio::test]
async fn retries_count_and_failures_show_in_the_scheduler_status() {
    let flaky = Receiver::start(vec![
        Answer::Status(500),
        Answer::TooMany(1),
        Answer::Status(200),
    ])
    .await;
    let refusing = Receiver::start(vec![Answer::Status(400)]).await;
    let closing = Receiver::start(vec![Answer::Close]).await;
    let hanging = Receiver::start(vec![Answer::Hang]).await;
    let (app, _) = due_digest_app(json!([
        {"id": "flaky", "kind": "slack", "url": flaky.url},
        {"id": "refusing", "kind": "teams", "url": refusing.url},
        {"id": "closing", "kind": "teams", "url": closing.url},
        {"id": "hanging", "kind": "teams", "url": hanging.url},
    ]))
    .await;
    let started = std::time::Instant::now();
    let run = fire(&app).await;
    let by_id = |id: &str| {
        run["ReturnValue"]["deliveries"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["channel_id"] == id)
            .cloned()
            .unwrap_or_else(|| panic!("{run}"))
    };
    assert_eq!(
        (
            by_id("flaky")["status"].clone(),
            by_id("flaky")["attempts"].clone()
        ),
        (json!("sent"), json!(3))
    );
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After was honoured"
    );
    assert_eq!(
        (
            by_id("refusing")["status"].clone(),
            by_id("refusing")["attempts"].clone()
        ),
        (json!("failed"), json!(1))
    );
    assert_eq!(by_id("closing")["attempts"], 3);
    // An endpoint that never answers is bounded per attempt, then given up.
    assert_eq!(
        (
            by_id("hanging")["status"].clone(),
            by_id("hanging")["attempts"].clone()
        ),
        (json!("failed"), json!(3))
    );
    assert_eq!(
        (flaky.got().len(), refusing.got().len(), closing.got().len()),
        (3, 1, 3)
    );
    let status = json_reply(&app, Method::GET, "/api/scheduler/status", None).await;
    let failed: Vec<&str> = status["last_run"]["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["status"] == "failed")
        .map(|d| d["channel_id"].as_str().unwrap())
        .collect();
    assert_eq!(failed.len(), 3, "{status}");
    assert!(!status.to_string().contains(URL_TOKEN));
}

/// A firing's deliveries as `"<channel_id> <status>"`, in the run's order.
fn statuses(run: &Value) -> Vec<String> {
    let deliveries = &run["ReturnValue"]["deliveries"];
    let channels = column(deliveries, "channel_id");
    let statuses = column(deliveries, "status");
    channels
        .iter()
        .zip(statuses)
        .map(|(channel, status)| format!("{channel} {status}"))
        .collect()
}

/// The handler's `App` in this process, over `app`'s storage (to call `delivery::after_run`
/// with a deadline of the test's choosing).
async fn in_process(app: &TestApp) -> call_analytics::app::App {
    use call_analytics::configuration::{Settings, StorageSettings};
    let StorageSettings::ConnectionString {
        connection_string,
        container,
    } = &app.storage_settings
    else {
        unreachable!()
    };
    let env = [
        (
            "AZURE_STORAGE_CONNECTION_STRING",
            connection_string.expose(),
        ),
        ("AZURE_STORAGE_CONTAINER", container.as_str()),
        ("ALLOW_INSECURE_WEBHOOKS", "true"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    call_analytics::app::App::build(Settings::from_map(&env).unwrap())
        .await
        .unwrap()
}

/// Digests end at the run's deadline: one not begun by then is `deferred` and left unclaimed
/// (the next firing sends it); a send under way is cut at it (one attempt, not three of 10 s
/// each) and `failed` with `retry_later` (the next firing sends it too).
#[tokio::test]
async fn digests_stop_at_the_runs_deadline_and_the_next_firing_sends_them() {
    use call_analytics::daily_report::schedule::OrgRun;
    use call_analytics::delivery;
    use std::time::Instant;
    let hanging = Receiver::start(vec![Answer::Hang]).await;
    let ok = Receiver::start(vec![Answer::Status(200)]).await;
    let app = digest_app(None).await;
    let date = store_yesterday(&app, ORG).await;
    let lib = in_process(&app).await;
    let after_run = |deadline: Instant| {
        let lib = &lib;
        async move {
            let (org, _) = call_analytics::orgs::get(&lib.storage, &id_of(ORG))
                .await
                .unwrap()
                .unwrap();
            let run = OrgRun {
                skipped: vec![date],
                ..OrgRun::new(&org)
            };
            let outcomes = delivery::after_run(lib, &[org], &[run], |_| date, deadline).await;
            serde_json::to_value(outcomes).unwrap()
        }
    };
    let record = |records: &Value, id: &str| {
        records["deliveries"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["channel_id"] == id)
            .cloned()
    };

    // Past the deadline before it begins: deferred, nothing sent, nothing claimed.
    set_notifications(
        &app,
        json!([{"id": "a", "kind": "slack", "url": hanging.url}]),
    )
    .await;
    let outcomes = after_run(Instant::now()).await;
    assert_eq!(outcomes[0]["status"], "deferred", "{outcomes}");
    assert_eq!(outcomes[0]["attempts"], 0);
    assert_eq!(hanging.got().len(), 0);
    assert_eq!(record(&deliveries(&app).await, "a"), None, "not claimed");
    set_notifications(&app, json!([{"id": "a", "kind": "slack", "url": ok.url}])).await;
    let run = fire(&app).await;
    assert_eq!(
        run["ReturnValue"]["deliveries"][0]["status"], "sent",
        "{run}"
    );
    assert_eq!(ok.got().len(), 1);

    // Under way at the deadline: cut there, failed, tried again by the next firing.
    set_notifications(
        &app,
        json!([{"id": "a", "kind": "slack", "url": ok.url},
               {"id": "b", "kind": "slack", "url": hanging.url}]),
    )
    .await;
    let started = Instant::now();
    let outcomes = after_run(started + Duration::from_secs(2)).await;
    let took = started.elapsed();
    assert_eq!(outcomes[0]["status"], "already_claimed", "{outcomes}");
    let b = &outcomes[1];
    assert_eq!(
        (b["status"].clone(), b["attempts"].clone()),
        (json!("failed"), json!(1)),
        "{b}"
    );
    let error = b["error"].as_str().unwrap();
    assert!(
        error.contains("no answer in time") && error.contains("no time left"),
        "{error}"
    );
    assert!(
        took < Duration::from_secs(9),
        "cut at the 2 s deadline, not after an attempt's 10 s: {took:?}"
    );
    let b = record(&deliveries(&app).await, "b").expect("claimed");
    assert_eq!(
        (b["state"].clone(), b["retry_later"].clone()),
        (json!("failed"), json!(true))
    );
    set_notifications(
        &app,
        json!([{"id": "a", "kind": "slack", "url": ok.url},
               {"id": "b", "kind": "slack", "url": ok.url}]),
    )
    .await;
    let run = fire(&app).await;
    assert_eq!(statuses(&run), ["a already_claimed", "b sent"], "{run}");
    assert_eq!(ok.got().len(), 2);
}

/// A claim left pending (a crash between claim and send) is resent once when older than
/// 10 minutes, and not while fresh.
#[tokio::test]
async fn a_stale_pending_claim_is_resent_once() {
    use call_analytics::delivery::claims;
    let hook = Receiver::start(vec![Answer::Status(200)]).await;
    let (app, date) =
        due_digest_app(json!([{"id": "ops", "kind": "teams", "url": hook.url}])).await;
    let storage = app.storage().await;
    let name = claims::name(&id_of(ORG), date, "ops");
    let pending = |age: i64| {
        json!({"org_id": ORG, "date": date, "channel_id": "ops", "kind": "teams", "state": "pending",
               "claimed_at": chrono::Utc::now() - chrono::Duration::minutes(age), "attempts": 0, "takeovers": 0})
    };
    put_json(&storage, &name, pending(2).to_string()).await;
    fire(&app).await;
    assert_eq!(hook.got().len(), 0, "a fresh claim is another sender's");
    put_json(&storage, &name, pending(11).to_string()).await;
    fire(&app).await;
    fire(&app).await;
    assert_eq!(hook.got().len(), 1);
    let record: Value =
        serde_json::from_slice(&storage.get(&name).await.unwrap().unwrap().body).unwrap();
    assert_eq!(
        (record["state"].as_str(), record["takeovers"].as_u64()),
        (Some("sent"), Some(1))
    );
}

/// A delivery that failed for a reason that may pass (5xx) is tried again by the next
/// firings, 3 firings at most; a refusal (400) is final; a success ends the retries.
#[tokio::test]
async fn a_transient_failure_is_tried_again_by_the_next_firings_and_a_refusal_is_not() {
    // Three attempts per firing: down for two firings, up in the third.
    let recovering =
        Receiver::start([vec![Answer::Status(503); 6], vec![Answer::Status(200)]].concat()).await;
    let down = Receiver::start(vec![Answer::Status(503)]).await;
    let refusing = Receiver::start(vec![Answer::Status(400)]).await;
    let (app, _) = due_digest_app(json!([
        {"id": "down", "kind": "slack", "url": down.url},
        {"id": "recovering", "kind": "webhook", "url": recovering.url,
         "secret": "a-signing-secret-of-32-characters"},
        {"id": "refusing", "kind": "teams", "url": refusing.url},
    ]))
    .await;
    let mut firings = Vec::new();
    for _ in 0..4 {
        let run = fire(&app).await;
        let mut statuses = statuses(&run);
        statuses.sort();
        firings.push(statuses.join(", "));
    }
    assert_eq!(
        firings,
        [
            "down failed, recovering failed, refusing failed",
            "down failed, recovering failed, refusing already_claimed",
            "down failed, recovering sent, refusing already_claimed",
            "down already_claimed, recovering already_claimed, refusing already_claimed",
        ]
    );
    assert_eq!(
        (
            down.got().len(),
            recovering.got().len(),
            refusing.got().len()
        ),
        (9, 7, 1)
    );
    let records = deliveries(&app).await;
    let summary: Vec<String> = records["deliveries"]
        .as_array()
        .unwrap_or_else(|| panic!("{records}"))
        .iter()
        .map(|r| {
            format!(
                "{} {} attempts {} firings {} retry_later {}",
                r["channel_id"].as_str().unwrap(),
                r["state"].as_str().unwrap(),
                r["attempts"],
                r["firings"],
                r["retry_later"]
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            "down failed attempts 9 firings 3 retry_later false",
            "recovering sent attempts 7 firings 3 retry_later false",
            "refusing failed attempts 1 firings 1 retry_later false",
        ]
    );
}

/// The test route sends a test digest and records no delivery.
#[tokio::test]
async fn a_test_send_is_not_recorded() {
    let hook = Receiver::start(vec![Answer::Status(200)]).await;
    let (app, _) = due_digest_app(
        json!([{"id": "erp", "kind": "webhook", "url": hook.url, "secret": SECRET}]),
    )
    .await;
    let test = format!("/api/orgs/{ORG}/notifications/erp/test");
    let r = json_reply(&app, Method::POST, &test, None).await;
    assert_eq!(r["status"], "sent", "{r}");
    assert_eq!(hook.got()[0].json()["test"], true);
    let records = deliveries(&app).await;
    assert_eq!(records["deliveries"], json!([]));
}

// ---------------------------------------------------------------- payload checks

/// A digest as the timer builds it, with flagged changes of each kind (bad, good, neutral)
/// and every link; the KPIs as `Digest::new` writes them (`wording::value`).
fn sample_digest(org_name: &str, changes: usize) -> call_analytics::delivery::Digest {
    use call_analytics::daily_report::changes::{Flag, baseline_candidates};
    use call_analytics::daily_report::kpi::Kpi;
    use call_analytics::delivery::{ChangeLine, Digest, wording};
    let date = chrono::NaiveDate::from_ymd_opt(2025, 5, 21).unwrap();
    let change = |i: usize| {
        let (kpi, value, baseline, flag, good) = [
            (Kpi::SuccessRate, 40.0, 55.0, Flag::Down, Some(false)),
            (Kpi::TotalCalls, 80.0, 55.0, Flag::Up, Some(true)),
            (Kpi::AvgMinutesPerCall, 4.25, 3.0, Flag::Up, None),
        ][i % 3];
        ChangeLine {
            kpi,
            value: Some(value),
            baseline: Some(baseline),
            delta: Some(value - baseline),
            flag,
            good,
            baseline_dates: baseline_candidates(date),
        }
    };
    let kpis = [
        (Kpi::TotalCalls, "total_calls", 42.0),
        (Kpi::ClassifiedCalls, "classified_calls", 40.0),
        (Kpi::SuccessRate, "success_rate_percent", 62.5),
        (Kpi::AvgMinutesPerCall, "avg_minutes_per_call", 1.67),
        (Kpi::TotalDurationHours, "total_duration_hours", 1.17),
        (
            Kpi::CarrierNotQualified,
            "carrier_not_qualified_percent",
            5.0,
        ),
    ];
    Digest {
        org_id: id_of(ORG),
        org_name: org_name.into(),
        date,
        timezone: "Europe/Berlin".into(),
        kpis: kpis
            .iter()
            .map(|&(kpi, key, v)| (kpi.label(), key, wording::value(kpi, v)))
            .collect(),
        kpi_values: Default::default(),
        changes: (0..changes).map(change).collect(),
        report_url: format!(
            "https://func-x.azurewebsites.net/api/artifacts/reports/{ORG}/2025-05-21.json"
        ),
        dashboard_url: Some(format!(
            "https://func-x.azurewebsites.net/api/dashboard?org_id={ORG}"
        )),
        test: false,
        revision: 1,
        report_sha256: "3f2a9c01b7de".repeat(5) + "0123",
    }
}

/// The Teams card with flagged changes (Good, Attention and Default colours, each good or bad
/// one led by its word) and both links passes Microsoft's renderer, which shows each change's
/// sentence and each KPI in its unit; so does a test send's.
#[tokio::test]
async fn the_teams_card_with_changes_renders_in_microsofts_renderer() {
    use call_analytics::delivery::teams;
    let d = sample_digest("Paul Logistics & Söhne", 3);
    let (ok, log) = render_card(
        &teams::card(&d),
        "teams-card-changes",
        &[
            "Daily report — Paul Logistics & Söhne",
            "Total calls",
            "42",
            "62.5 %",
            "1.7 min",
            "Worse: Success rate 40.0 % — down 15.0 pp from the usual 55.0 % (median of the 4 previous Wednesdays)",
            "Better: Total calls 80 — up 25 from the usual 55 (median of the 4 previous Wednesdays)",
            "Avg minutes per call 4.3 min — up 1.3 min from the usual 3.0 min (median of the 4 previous Wednesdays)",
        ],
    )
    .await;
    assert!(ok, "{log}");
    let mut d = sample_digest("Paul Logistics", 0);
    d.test = true;
    d.dashboard_url = None;
    let (ok, log) = render_card(&teams::card(&d), "teams-card-test-send", &["[TEST]"]).await;
    assert!(ok, "{log}");
    // An org name made of markup (`docs/access-and-safety.md`, "Output that cannot be turned
    // against its reader") is a RichTextBlock's TextRun, valid in 1.4, and shows as written.
    let hostile = "<!channel> & <@U123> [click](https://evil.example) *bold*";
    let (ok, log) = render_card(
        &teams::card(&sample_digest(hostile, 1)),
        "teams-card-markup-name",
        &[&format!("Daily report — {hostile}"), "Total calls"],
    )
    .await;
    assert!(ok, "{log}");
}

/// The renderer check can fail: broken cards (an unknown element, a version beyond 1.4, an
/// element of 1.5, a link without its url, no version) and a KPI the card does not show are
/// each reported, with the SDK's own reason.
#[tokio::test]
async fn broken_teams_cards_fail_the_renderer_check() {
    use call_analytics::delivery::teams;
    let good = teams::card(&sample_digest("Paul Logistics", 1));
    let mutate = |f: &dyn Fn(&mut Value)| {
        let mut c = good.clone();
        f(&mut c);
        c
    };
    let cases: Vec<(&str, Value, &[&str], &str)> = vec![
        (
            "unknown-element",
            mutate(&|c| c["body"][0]["type"] = json!("FancyBlock")),
            &[],
            "UnknownElementType",
        ),
        (
            "version-9.9",
            mutate(&|c| c["version"] = json!("9.9")),
            &[],
            "UnsupportedCardVersion",
        ),
        (
            "table-is-1.5",
            mutate(&|c| {
                c["body"]
                    .as_array_mut()
                    .unwrap()
                    .push(json!({"type": "Table", "columns": [{"width": 1}], "rows": []}))
            }),
            &[],
            "Unknown element type \"Table\"",
        ),
        (
            "openurl-without-url",
            mutate(&|c| {
                c["actions"][0].as_object_mut().unwrap().remove("url");
            }),
            &[],
            "Property \"url\" must be set",
        ),
        (
            "bad-colour",
            mutate(&|c| {
                let blocks = c["body"].as_array_mut().unwrap();
                let text = blocks
                    .iter_mut()
                    .find(|b| b["type"] == "TextBlock")
                    .unwrap();
                text["color"] = json!("Purple");
            }),
            &[],
            "InvalidPropertyValue",
        ),
        (
            "no-version",
            mutate(&|c| {
                c.as_object_mut().unwrap().remove("version");
            }),
            &[],
            "no \"version\"",
        ),
        (
            "kpi-not-shown",
            good.clone(),
            &["Answered calls"],
            "not shown in the rendered card: \"Answered calls\"",
        ),
    ];
    // Three browsers at a time.
    use futures::StreamExt as _;
    let verdicts: Vec<_> = futures::stream::iter(cases)
        .map(|(name, card, expect, reason)| async move {
            let (ok, log) = render_card(&card, &format!("broken-{name}"), expect).await;
            (name, reason, ok, log)
        })
        .buffer_unordered(3)
        .collect()
        .await;
    assert_eq!(verdicts.len(), 7);
    for (name, reason, ok, log) in verdicts {
        assert!(
            !ok,
            "{name}: the renderer check passed a broken card: {log}"
        );
        assert!(log.contains(reason), "{name}: want {reason:?} in: {log}");
    }
}

/// Every problem of a Slack incoming-webhook message against Block Kit's documented fields:
/// field names (unknown ones are problems), JSON types, required fields, length and count
/// limits, and which text object types each place allows. Only the blocks and elements the
/// digest may use are known (header, section, context, divider, actions, button, image in a
/// context); anything else is a problem too.
///
/// Documentation (Slack developer docs):
/// - blocks, at most 50 per message: https://api.slack.com/reference/block-kit/blocks
/// - header: https://docs.slack.dev/reference/block-kit/blocks/header-block
/// - section: https://docs.slack.dev/reference/block-kit/blocks/section-block
/// - context: https://docs.slack.dev/reference/block-kit/blocks/context-block
/// - divider: https://docs.slack.dev/reference/block-kit/blocks/divider-block
/// - actions: https://docs.slack.dev/reference/block-kit/blocks/actions-block
/// - button: https://docs.slack.dev/reference/block-kit/block-elements/button-element
/// - text object: https://docs.slack.dev/reference/block-kit/composition-objects/text-object
fn block_kit_problems(msg: &Value) -> Vec<String> {
    let mut p = Vec::new();
    let chars = |v: &Value| v.as_str().map(|s| s.chars().count());

    // An object with only these fields, the required ones present.
    fn fields(
        p: &mut Vec<String>,
        v: &Value,
        at: &str,
        allowed: &[&str],
        required: &[&str],
    ) -> bool {
        let Some(o) = v.as_object() else {
            p.push(format!("{at}: not an object"));
            return false;
        };
        for k in o.keys() {
            if !allowed.contains(&k.as_str()) {
                p.push(format!("{at}: undocumented field {k:?}"));
            }
        }
        for k in required {
            if !o.contains_key(*k) {
                p.push(format!("{at}: required field {k:?} missing"));
            }
        }
        true
    }
    // An optional string of at most `max` characters.
    let opt_str = |p: &mut Vec<String>, v: &Value, at: &str, max: usize| match v {
        Value::Null => {}
        Value::String(s) if s.chars().count() <= max => {}
        Value::String(s) => p.push(format!(
            "{at}: {} characters, at most {max}",
            s.chars().count()
        )),
        _ => p.push(format!("{at}: not a string")),
    };
    // A text object of one of `types`, its text 1..=`max` characters (3000 at most anywhere).
    let text = |p: &mut Vec<String>, v: &Value, at: &str, types: &[&str], max: usize| {
        if !fields(
            p,
            v,
            at,
            &["type", "text", "emoji", "verbatim"],
            &["type", "text"],
        ) {
            return;
        }
        let kind = v["type"].as_str().unwrap_or("");
        if !types.contains(&kind) {
            p.push(format!(
                "{at}: text type {:?}, allowed here: {types:?}",
                v["type"]
            ));
        }
        match chars(&v["text"]) {
            None => p.push(format!("{at}.text: not a string")),
            Some(0) => p.push(format!("{at}.text: empty (at least 1 character)")),
            Some(n) if n > max.min(3000) => p.push(format!(
                "{at}.text: {n} characters, at most {}",
                max.min(3000)
            )),
            Some(_) => {}
        }
        if !v["emoji"].is_null() && (kind != "plain_text" || !v["emoji"].is_boolean()) {
            p.push(format!("{at}.emoji: a boolean, only on plain_text"));
        }
        if !v["verbatim"].is_null() && (kind != "mrkdwn" || !v["verbatim"].is_boolean()) {
            p.push(format!("{at}.verbatim: a boolean, only on mrkdwn"));
        }
    };
    // An array of `min..=max` items: each item with where it is (`at[i]`).
    let array = |p: &mut Vec<String>,
                 v: &Value,
                 at: &str,
                 min: usize,
                 max: usize|
     -> Vec<(String, Value)> {
        let items = match v.as_array() {
            None => {
                p.push(format!("{at}: not an array"));
                Vec::new()
            }
            Some(a) if a.len() < min || a.len() > max => {
                p.push(format!("{at}: {} items, want {min}..={max}", a.len()));
                a.clone()
            }
            Some(a) => a.clone(),
        };
        items
            .into_iter()
            .enumerate()
            .map(|(i, item)| (format!("{at}[{i}]"), item))
            .collect()
    };
    let button = |p: &mut Vec<String>, v: &Value, at: &str| {
        let allowed = [
            "type",
            "text",
            "action_id",
            "url",
            "value",
            "style",
            "confirm",
            "accessibility_label",
        ];
        if !fields(p, v, at, &allowed, &["type", "text"]) {
            return;
        }
        text(p, &v["text"], &format!("{at}.text"), &["plain_text"], 75);
        opt_str(p, &v["action_id"], &format!("{at}.action_id"), 255);
        opt_str(p, &v["url"], &format!("{at}.url"), 3000);
        opt_str(p, &v["value"], &format!("{at}.value"), 2000);
        opt_str(
            p,
            &v["accessibility_label"],
            &format!("{at}.accessibility_label"),
            75,
        );
        if !v["style"].is_null() && !matches!(v["style"].as_str(), Some("primary" | "danger")) {
            p.push(format!(
                "{at}.style: {:?}, want primary or danger",
                v["style"]
            ));
        }
        if !v["confirm"].is_null() && !v["confirm"].is_object() {
            p.push(format!("{at}.confirm: not an object"));
        }
    };

    fields(&mut p, msg, "message", &["text", "blocks"], &["blocks"]);
    // The top-level text is the notification's fallback when blocks are sent.
    if chars(&msg["text"]).is_none_or(|n| n == 0) {
        p.push("message.text: the fallback text is missing or empty".into());
    }
    // The fields every block may have, and `extra`.
    let common = |extra: &[&'static str]| {
        let mut f = vec!["type", "block_id"];
        f.extend_from_slice(extra);
        f
    };
    // A block of 1..=`max` `elements`: each element with where it is.
    let elements = |p: &mut Vec<String>, b: &Value, at: &str, max: usize| {
        fields(p, b, at, &common(&["elements"]), &["type", "elements"]);
        array(p, &b["elements"], &format!("{at}.elements"), 1, max)
    };
    for (at, b) in array(&mut p, &msg["blocks"], "blocks", 1, 50) {
        let b = &b;
        let kind = b["type"].as_str().unwrap_or("");
        match kind {
            "header" => {
                fields(&mut p, b, &at, &common(&["text"]), &["type", "text"]);
                text(
                    &mut p,
                    &b["text"],
                    &format!("{at}.text"),
                    &["plain_text"],
                    150,
                );
            }
            "section" => {
                fields(
                    &mut p,
                    b,
                    &at,
                    &common(&["text", "fields", "accessory", "expand"]),
                    &["type"],
                );
                if b["text"].is_null() && b["fields"].is_null() {
                    p.push(format!("{at}: needs text or fields"));
                }
                if !b["text"].is_null() {
                    text(
                        &mut p,
                        &b["text"],
                        &format!("{at}.text"),
                        &["plain_text", "mrkdwn"],
                        3000,
                    );
                }
                if !b["fields"].is_null() {
                    for (fat, f) in array(&mut p, &b["fields"], &format!("{at}.fields"), 1, 10) {
                        text(&mut p, &f, &fat, &["plain_text", "mrkdwn"], 2000);
                    }
                }
                if !b["accessory"].is_null() {
                    if b["accessory"]["type"] == "button" {
                        button(&mut p, &b["accessory"], &format!("{at}.accessory"));
                    } else {
                        p.push(format!("{at}.accessory: only a button is checked here"));
                    }
                }
                if !b["expand"].is_null() && !b["expand"].is_boolean() {
                    p.push(format!("{at}.expand: not a boolean"));
                }
            }
            "context" => {
                for (eat, e) in elements(&mut p, b, &at, 10) {
                    if e["type"] == "image" {
                        fields(
                            &mut p,
                            &e,
                            &eat,
                            &["type", "image_url", "slack_file", "alt_text"],
                            &["type", "alt_text"],
                        );
                        if e["image_url"].is_null() == e["slack_file"].is_null() {
                            p.push(format!("{eat}: exactly one of image_url and slack_file"));
                        }
                    } else {
                        text(&mut p, &e, &eat, &["plain_text", "mrkdwn"], 3000);
                    }
                }
            }
            "divider" => {
                fields(&mut p, b, &at, &common(&[]), &["type"]);
            }
            "actions" => {
                for (eat, e) in elements(&mut p, b, &at, 25) {
                    if e["type"] == "button" {
                        button(&mut p, &e, &eat);
                    } else {
                        p.push(format!(
                            "{eat}: element type {:?} is not checked here",
                            e["type"]
                        ));
                    }
                }
            }
            _ => p.push(format!("{at}: unknown block type {:?}", b["type"])),
        }
        opt_str(&mut p, &b["block_id"], &format!("{at}.block_id"), 255);
    }
    p
}

/// The Slack message passes the Block Kit check, also with many changes and a long name (the
/// texts are cut to the limits); and the check can fail: each documented rule broken once.
#[test]
fn slack_blocks_have_their_documented_fields_and_broken_ones_are_caught() {
    use call_analytics::delivery::slack;
    let good = slack::payload(&sample_digest("Paul Logistics & <Söhne>", 3));
    assert_eq!(block_kit_problems(&good), Vec::<String>::new(), "{good:#}");
    assert_eq!(
        column(&good["blocks"], "type"),
        ["header", "context", "section", "section", "actions"]
    );
    // For a person to look at (a Block Kit preview takes the `blocks`), beside the cards.
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/cards");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("slack-digest.json"),
        serde_json::to_vec_pretty(&good).unwrap(),
    )
    .unwrap();
    // Each KPI in its unit; each change a sentence led by its tone in an emoji and a word.
    assert_eq!(
        good["blocks"][2]["fields"][2]["text"],
        "*Success rate*\n62.5 %"
    );
    assert_eq!(
        good["blocks"][3]["text"]["text"],
        "*Flagged changes*\n\
         • :red_circle: *Worse:* Success rate 40.0 % — down 15.0 pp from the usual 55.0 % (median of the 4 previous Wednesdays)\n\
         • :large_green_circle: *Better:* Total calls 80 — up 25 from the usual 55 (median of the 4 previous Wednesdays)\n\
         • :white_circle: Avg minutes per call 4.3 min — up 1.3 min from the usual 3.0 min (median of the 4 previous Wednesdays)"
    );
    let long = slack::payload(&sample_digest(&"Ünïcode Logistics ".repeat(20), 200));
    assert_eq!(block_kit_problems(&long), Vec::<String>::new());
    assert!(block_kit_problems(&slack::payload(&sample_digest("X", 0))).is_empty());

    let mutate = |f: &dyn Fn(&mut Value)| {
        let mut m = good.clone();
        f(&mut m);
        m
    };
    let cases: Vec<(&str, Value, &str)> = vec![
        (
            "header mrkdwn",
            mutate(&|m| m["blocks"][0]["text"]["type"] = json!("mrkdwn")),
            "allowed here: [\"plain_text\"]",
        ),
        (
            "header 151",
            mutate(&|m| m["blocks"][0]["text"]["text"] = json!("h".repeat(151))),
            "151 characters, at most 150",
        ),
        (
            "empty text",
            mutate(&|m| m["blocks"][1]["elements"][0]["text"] = json!("")),
            "empty",
        ),
        (
            "11 fields",
            mutate(&|m| {
                let f = m["blocks"][2]["fields"][0].clone();
                m["blocks"][2]["fields"] = json!(vec![f; 11]);
            }),
            "11 items, want 1..=10",
        ),
        (
            "field 2001",
            mutate(&|m| m["blocks"][2]["fields"][0]["text"] = json!("f".repeat(2001))),
            "2001 characters, at most 2000",
        ),
        (
            "section 3001",
            mutate(&|m| m["blocks"][3]["text"]["text"] = json!("s".repeat(3001))),
            "3001 characters, at most 3000",
        ),
        (
            "section empty",
            mutate(&|m| m["blocks"][3] = json!({"type": "section"})),
            "needs text or fields",
        ),
        (
            "section title",
            mutate(&|m| m["blocks"][3]["title"] = json!("x")),
            "undocumented field \"title\"",
        ),
        (
            "context 11",
            mutate(&|m| {
                let e = m["blocks"][1]["elements"][0].clone();
                m["blocks"][1]["elements"] = json!(vec![e; 11]);
            }),
            "11 items, want 1..=10",
        ),
        (
            "emoji on mrkdwn",
            mutate(&|m| m["blocks"][3]["text"]["emoji"] = json!(true)),
            "only on plain_text",
        ),
        (
            "button mrkdwn",
            mutate(&|m| m["blocks"][4]["elements"][0]["text"]["type"] = json!("mrkdwn")),
            "allowed here: [\"plain_text\"]",
        ),
        (
            "button 76",
            mutate(&|m| m["blocks"][4]["elements"][0]["text"]["text"] = json!("b".repeat(76))),
            "76 characters, at most 75",
        ),
        (
            "button style",
            mutate(&|m| m["blocks"][4]["elements"][0]["style"] = json!("secondary")),
            "want primary or danger",
        ),
        (
            "button url",
            mutate(&|m| m["blocks"][4]["elements"][0]["url"] = json!(42)),
            "url: not a string",
        ),
        (
            "block_id 256",
            mutate(&|m| m["blocks"][0]["block_id"] = json!("i".repeat(256))),
            "256 characters, at most 255",
        ),
        (
            "divider text",
            mutate(&|m| m["blocks"][1] = json!({"type": "divider", "text": "x"})),
            "undocumented field \"text\"",
        ),
        (
            "unknown block",
            mutate(&|m| m["blocks"][1]["type"] = json!("table")),
            "unknown block type",
        ),
        (
            "51 blocks",
            mutate(&|m| m["blocks"] = json!(vec![json!({"type": "divider"}); 51])),
            "51 items, want 1..=50",
        ),
        (
            "no fallback",
            mutate(&|m| {
                m.as_object_mut().unwrap().remove("text");
            }),
            "fallback text",
        ),
    ];
    for (name, msg, want) in cases {
        let problems = block_kit_problems(&msg);
        assert!(
            problems.iter().any(|p| p.contains(want)),
            "{name}: want {want:?} among {problems:#?}"
        );
    }
    // A divider as documented is fine.
    let with_divider = mutate(&|m| m["blocks"][1] = json!({"type": "divider"}));
    assert_eq!(block_kit_problems(&with_divider), Vec::<String>::new());
}

/// `POST /api/reports/generate` sends no digest unless `notify: true`; with it, the digest of
/// the date goes out once per channel (a second call finds the claim), as the timer sends it.
#[tokio::test]
async fn generate_sends_the_digest_only_when_asked_and_once() {
    let hook = Receiver::start(vec![Answer::Status(200)]).await;
    let ch = crate::helpers::ClickHouseDb::fresh().await;
    let app = TestApp::spawn(Spawn {
        db_url: None,
        output_dir: None,
        env: [
            ("ORG_ID", ORG),
            ("BROKER_NODE_PERSISTENT_ID", NODE),
            ("CLIENT_NAME", "Paul Logistics"),
            ("ALLOW_INSECURE_WEBHOOKS", "true"),
            ("CLICKHOUSE_URL", &ch.url),
            ("CLICKHOUSE_DATABASE", &ch.database),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect(),
    })
    .await;
    set_notifications(
        &app,
        json!([{"id": "erp", "kind": "webhook", "url": hook.url, "secret": SECRET}]),
    )
    .await;
    let date = store_yesterday(&app, ORG).await;
    let generate = |notify: bool| {
        let body = json!({"date": date.to_string(), "notify": notify});
        json_reply(&app, Method::POST, "/api/reports/generate", Some(body))
    };
    let quiet = generate(false).await;
    assert_eq!(
        quiet["orgs"][0]["skipped"],
        json!([date.to_string()]),
        "{quiet}"
    );
    assert!(quiet.get("deliveries").is_none(), "{quiet}");
    assert!(hook.got().is_empty());

    let told = generate(true).await;
    assert_eq!(told["deliveries"][0]["status"], "sent", "{told}");
    assert_eq!(hook.got().len(), 1);
    assert_eq!(hook.got()[0].json()["date"], date.to_string());

    let again = generate(true).await;
    assert_eq!(
        again["deliveries"][0]["status"], "already_claimed",
        "{again}"
    );
    assert_eq!(
        hook.got().len(),
        1,
        "no second digest for the same date and channel"
    );
}
