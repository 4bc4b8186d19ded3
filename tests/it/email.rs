//! The `email` channel (`docs/delivery-and-access.md`, "Email") through the handler process
//! and a real SMTP server (`helpers::SmtpSink`, aiosmtpd): each message parsed by a standard
//! MIME parser (`mailparse`), exactly one per (org, date, channel) under concurrent firings,
//! refusals final, deferrals retried, a hanging server bounded, bad addresses refused.

use std::time::{Duration, Instant};

use mailparse::{MailHeaderMap as _, ParsedMail};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{
    Mail, SmtpSink, Spawn, TestApp, column, id_of, patch_notifications, store_yesterday,
};

const ORG: &str = "01951f56-8c6e-7a93-a971-3d06a81a1ab0";
const NODE: &str = "019b099d-77fd-7e09-9d2b-cd4c476a0a19";
/// An org name with markup: the HTML part must show it as text.
const NAME: &str = "Paul <b>& Sons</b>";
const BASE: &str = "https://func-x.azurewebsites.net";

/// A handler with the default org named [`NAME`], yesterday's report due, email through
/// `sink` (in plain text: `ALLOW_INSECURE_WEBHOOKS=true`); sharing `share`'s container when
/// given (a second process).
async fn email_app(sink: &SmtpSink, share: Option<&TestApp>) -> TestApp {
    spawn_with(sink, share, true).await
}

/// [`email_app`], with `ALLOW_INSECURE_WEBHOOKS` = `insecure`.
async fn spawn_with(sink: &SmtpSink, share: Option<&TestApp>, insecure: bool) -> TestApp {
    let mut env: Vec<(String, String)> = [
        ("ORG_ID", ORG),
        ("BROKER_NODE_PERSISTENT_ID", NODE),
        ("CLIENT_NAME", NAME),
        (
            "ALLOW_INSECURE_WEBHOOKS",
            if insecure { "true" } else { "false" },
        ),
        ("CATCHUP_DAYS", "1"),
        ("SCHEDULER_HOUR", "0"),
        ("PUBLIC_BASE_URL", BASE),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    env.extend(sink.env());
    if let Some(first) = share {
        let call_analytics::configuration::StorageSettings::ConnectionString { container, .. } =
            &first.storage_settings
        else {
            unreachable!()
        };
        env.push(("AZURE_STORAGE_CONTAINER".into(), container.clone()));
    }
    TestApp::spawn(Spawn {
        env,
        ..Spawn::default()
    })
    .await
}

/// `method path` with a JSON body when given: (status, JSON reply).
async fn call(
    app: &TestApp,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut req = app.client.request(method, format!("{}{path}", app.address));
    if let Some(body) = body {
        req = req.json(&body);
    }
    let r = req.send().await.unwrap();
    (r.status(), r.json().await.unwrap_or(Value::Null))
}

async fn set_channels(app: &TestApp, list: Value) -> Value {
    let (status, body) = patch_notifications(app, ORG, list).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

/// One timer firing: its `ReturnValue`.
async fn fire(app: &TestApp) -> Value {
    let body = json!({"Data": {"timer": {"Schedule": {}, "ScheduleStatus": null, "IsPastDue": false}},
                      "Metadata": {}});
    call(app, Method::POST, "/daily_report_timer", Some(body))
        .await
        .1["ReturnValue"]
        .clone()
}

/// The default org's delivery records.
async fn deliveries(app: &TestApp) -> Value {
    call(
        app,
        Method::GET,
        &format!("/api/deliveries?org_id={ORG}"),
        None,
    )
    .await
    .1["deliveries"]
        .clone()
}

/// The text of the part of `mail` with `mime` type.
fn part(mail: &ParsedMail<'_>, mime: &str) -> String {
    let found: Vec<&ParsedMail<'_>> = mail
        .subparts
        .iter()
        .filter(|p| p.ctype.mimetype == mime)
        .collect();
    assert_eq!(found.len(), 1, "one {mime} part");
    found[0].get_body().unwrap()
}

/// Every `href="…"` of `html`.
fn hrefs(html: &str) -> Vec<&str> {
    html.split("href=\"")
        .skip(1)
        .map(|rest| &rest[..rest.find('"').unwrap()])
        .collect()
}

/// The digest's `Message-ID` for `channel`.
fn digest_id(date: chrono::NaiveDate, channel: &str) -> String {
    format!("<digest.{date}.{channel}.{ORG}@contoso.example>")
}

/// One email per (org, date, channel) under 8 concurrent firings from two handler processes;
/// the message parses as `multipart/alternative` with a text and an HTML part, the exact
/// subject, the digest's Message-ID, absolute links, no script, the org name escaped in the
/// HTML; replies show the addresses, logs never do.
#[tokio::test]
async fn one_email_per_channel_under_concurrent_firings_parsed_as_mime() {
    let sink = SmtpSink::start().await;
    let a = email_app(&sink, None).await;
    let b = email_app(&sink, Some(&a)).await;
    let org = set_channels(
        &a,
        json!([{"id": "ops-mail", "kind": "email",
                "to": ["ops.lead@example.com", "night-shift@example.org"]}]),
    )
    .await;
    assert_eq!(
        org["notifications"][0],
        json!({"id": "ops-mail", "kind": "email", "has_secret": false, "enabled": true,
               "to": ["ops.lead@example.com", "night-shift@example.org"]})
    );
    let date = store_yesterday(&a, ORG).await;

    let runs =
        futures::future::join_all((0..8).map(|i| fire(if i % 2 == 0 { &a } else { &b }))).await;
    let sent: Vec<&Value> = runs
        .iter()
        .flat_map(|r| r["deliveries"].as_array().unwrap().iter())
        .filter(|d| d["status"] == "sent")
        .collect();
    assert_eq!(sent.len(), 1, "{runs:?}");
    assert_eq!(
        (sent[0]["kind"].as_str(), sent[0]["attempts"].as_u64()),
        (Some("email"), Some(1))
    );
    let got = sink.got();
    assert_eq!(got.len(), 1, "one message: {got:?}");
    let mail = &got[0];
    assert_eq!(mail.reply, "250");
    assert_eq!(mail.mail_from, "reports@contoso.example");
    assert_eq!(
        mail.rcpt_tos,
        ["ops.lead@example.com", "night-shift@example.org"]
    );

    let parsed = mail.parsed();
    assert_eq!(parsed.ctype.mimetype, "multipart/alternative");
    assert_eq!(
        parsed.headers.get_first_value("Subject").unwrap(),
        format!("Daily report — {NAME} — {date}")
    );
    assert_eq!(
        mail.header("Message-ID").unwrap(),
        digest_id(date, "ops-mail")
    );
    assert_eq!(
        mail.header("From").unwrap(),
        "\"Call analytics\" <reports@contoso.example>"
    );
    let text = part(&parsed, "text/plain");
    let html = part(&parsed, "text/html");
    assert!(
        text.contains(NAME) && text.contains("Total calls"),
        "{text}"
    );
    assert!(
        html.contains("Paul &lt;b&gt;&amp; Sons&lt;/b&gt;"),
        "{html}"
    );
    assert!(!html.contains(NAME), "the org name is escaped: {html}");
    for banned in ["<script", "<style", "javascript:", "src="] {
        assert!(!html.to_lowercase().contains(banned), "{banned}");
    }
    let links = hrefs(&html);
    assert_eq!(links.len(), 2, "{links:?}");
    for link in &links {
        assert!(link.starts_with(&format!("{BASE}/api/")), "{link}");
    }
    assert!(
        links
            .iter()
            .any(|l| l.contains(&format!("/api/dashboard?org_id={ORG}")))
    );
    assert!(links.iter().any(|l| l.ends_with(&format!("{date}.json"))));
    // The HTML part, for a look in a browser (target/email/digest.html).
    let out = concat!(env!("CARGO_MANIFEST_DIR"), "/target/email");
    std::fs::create_dir_all(out).unwrap();
    std::fs::write(format!("{out}/digest.html"), &html).unwrap();

    // The next firing sends nothing; the record names no address, no log has one in full.
    fire(&b).await;
    assert_eq!(sink.got().len(), 1);
    let records = deliveries(&a).await;
    assert_eq!(column(&records, "state"), ["sent"], "{records}");
    assert_eq!(records[0]["status"], 250);
    for log in [a.log(), b.log(), records.to_string()] {
        assert!(
            !log.contains("ops.lead@example.com") && !log.contains("night-shift@example.org"),
            "an address was logged in full"
        );
    }
}

/// A 550 is final (one attempt, not retried later), a 451 is retried and the message sent
/// again is the same (its Message-ID), a server that never answers is given up within the
/// attempts' bounds and tried again by a later firing; each is recorded, the refused address
/// masked in the error.
#[tokio::test]
async fn refusals_are_final_deferrals_retried_and_a_hanging_server_bounded() {
    let sink = SmtpSink::start().await;
    let app = email_app(&sink, None).await;
    set_channels(
        &app,
        json!([
            {"id": "refused", "kind": "email", "to": ["refuse@example.com"]},
            {"id": "deferred", "kind": "email", "to": ["defer2@example.com"]},
            {"id": "hanging", "kind": "email", "to": ["hang@example.com"]},
        ]),
    )
    .await;
    let date = store_yesterday(&app, ORG).await;
    let started = Instant::now();
    let run = fire(&app).await;
    let took = started.elapsed();
    let outcome = |id: &str| {
        run["deliveries"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["channel_id"] == id)
            .cloned()
            .unwrap_or_else(|| panic!("{run}"))
    };
    // Three attempts of at most 10 s each with 0.5 s and 1 s between: bounded.
    assert!(took < Duration::from_secs(45), "{took:?}");

    let refused = outcome("refused");
    assert_eq!(
        (refused["status"].as_str(), refused["attempts"].as_u64()),
        (Some("failed"), Some(1))
    );
    let error = refused["error"].as_str().unwrap();
    assert!(error.contains("550"), "{error}");
    assert!(
        !error.contains("refuse@example.com") && error.contains("r…@example.com"),
        "{error}"
    );

    let deferred = outcome("deferred");
    assert_eq!(
        (deferred["status"].as_str(), deferred["attempts"].as_u64()),
        (Some("sent"), Some(3))
    );
    let tries: Vec<Mail> = sink
        .got()
        .into_iter()
        .filter(|m| m.rcpt_tos == ["defer2@example.com"])
        .collect();
    let replies: Vec<&str> = tries.iter().map(|m| m.reply.as_str()).collect();
    assert_eq!(replies, ["451", "451", "250"]);
    for m in &tries {
        assert_eq!(m.header("Message-ID").unwrap(), digest_id(date, "deferred"));
    }

    let hanging = outcome("hanging");
    assert_eq!(
        (hanging["status"].as_str(), hanging["attempts"].as_u64()),
        (Some("failed"), Some(3))
    );
    assert!(
        hanging["error"]
            .as_str()
            .unwrap()
            .contains("no answer in time"),
        "{hanging}"
    );

    let records = deliveries(&app).await;
    let summary: Vec<String> = records
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            format!(
                "{} {} retry_later {}",
                r["channel_id"].as_str().unwrap(),
                r["state"].as_str().unwrap(),
                r["retry_later"]
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            "deferred sent retry_later false",
            "hanging failed retry_later true",
            "refused failed retry_later false",
        ]
    );
    assert!(
        !records.to_string().contains("refuse@example.com"),
        "{records}"
    );
}

/// Bad channels are a 400 naming the field, never echoing the address.
#[tokio::test]
async fn bad_email_channels_are_refused_naming_the_field() {
    let sink = SmtpSink::start().await;
    let app = email_app(&sink, None).await;
    let many: Vec<String> = (0..21).map(|i| format!("a{i}@example.com")).collect();
    for (channel, field) in [
        (
            json!({"id": "m", "kind": "email", "to": ["ok@example.com", "not-an-address"]}),
            "notifications[0].to[1]",
        ),
        (
            json!({"id": "m", "kind": "email", "to": ["Ops <ops@example.com>"]}),
            "notifications[0].to[0]",
        ),
        (
            json!({"id": "m", "kind": "email", "to": ["a@example.com", "A@example.com"]}),
            "notifications[0].to[1]",
        ),
        (
            json!({"id": "m", "kind": "email", "to": []}),
            "notifications[0].to",
        ),
        (json!({"id": "m", "kind": "email"}), "notifications[0].to"),
        (
            json!({"id": "m", "kind": "email", "to": many}),
            "notifications[0].to",
        ),
        (
            json!({"id": "m", "kind": "email", "to": ["a@example.com"], "url": "https://8.8.8.8/x"}),
            "notifications[0].url",
        ),
        (
            json!({"id": "m", "kind": "email", "to": ["a@example.com"], "secret": "0123456789abcdefgh"}),
            "notifications[0].secret",
        ),
        (
            json!({"id": "m", "kind": "slack", "url": "https://8.8.8.8/x", "to": ["a@example.com"]}),
            "notifications[0].to",
        ),
        (json!({"id": "m", "kind": "slack"}), "notifications[0].url"),
    ] {
        let (status, body) = patch_notifications(&app, ORG, json!([channel])).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{channel}: {body}");
        assert_eq!(body["error"]["field"], field, "{channel}: {body}");
        assert!(!body.to_string().contains("not-an-address"), "{body}");
    }
}

/// The test route sends a test email (its own subject and Message-ID, not recorded); a
/// revision that changes a headline KPI sends one correction email, in reply to the digest.
#[tokio::test]
async fn the_test_send_and_a_correction_go_by_email() {
    use call_analytics::daily_report::{query::DayCounts, report, restate::Revised, snapshots};
    let sink = SmtpSink::start().await;
    let app = email_app(&sink, None).await;
    set_channels(
        &app,
        json!([{"id": "ops-mail", "kind": "email", "to": ["ops@example.com"]}]),
    )
    .await;
    let date = store_yesterday(&app, ORG).await;

    let (status, test) = call(
        &app,
        Method::POST,
        &format!("/api/orgs/{ORG}/notifications/ops-mail/test"),
        None,
    )
    .await;
    assert_eq!(
        (status, test["status"].as_str()),
        (StatusCode::OK, Some("sent")),
        "{test}"
    );
    let got = sink.wait_for(1).await;
    assert_eq!(
        got[0].header("Subject").unwrap(),
        format!("[TEST] Daily report — {NAME} — {date}")
    );
    // Its own Message-ID, new for each test send (a mail client would hide a repeated one).
    let id = got[0].header("Message-ID").unwrap();
    let tail = format!(".{date}.ops-mail.{ORG}@contoso.example>");
    assert!(id.starts_with("<test-") && id.ends_with(&tail), "{id}");
    assert_eq!(
        deliveries(&app).await,
        json!([]),
        "a test send is not recorded"
    );

    fire(&app).await;
    let got = sink.wait_for(2).await;
    assert_eq!(
        got[1].header("Message-ID").unwrap(),
        digest_id(date, "ops-mail")
    );

    // A revision with more calls, made and corrected in this process (the handler's settings).
    let storage = app.storage().await;
    let (org, _) = call_analytics::orgs::get(&storage, &id_of(ORG))
        .await
        .unwrap()
        .unwrap();
    let current = snapshots::read(&storage, &org.org_id, date)
        .await
        .unwrap()
        .unwrap();
    let counts = DayCounts {
        total_calls: 50,
        total_duration_seconds: 4200.0,
        ..DayCounts::default()
    };
    let next = report::build(
        &org,
        date,
        &counts,
        Default::default(),
        0,
        chrono::Utc::now(),
    );
    let revised = snapshots::revise(&storage, &org.org_id, date, &next, &current)
        .await
        .unwrap()
        .expect("revised");
    let lib = in_process(&app, &sink).await;
    let made = Revised {
        org,
        date,
        previous: current.report,
        current: revised,
    };
    let outcomes = call_analytics::delivery::corrections(
        &lib,
        &[made],
        Instant::now() + Duration::from_secs(60),
    )
    .await;
    let shown = serde_json::to_value(&outcomes).unwrap();
    assert_eq!(column(&shown, "status"), ["sent"], "{shown}");
    let got = sink.wait_for(3).await;
    assert_eq!(got.len(), 3);
    let correction = &got[2];
    assert_eq!(
        correction.header("Subject").unwrap(),
        format!("Correction — {NAME} — {date}: revision 2")
    );
    assert_eq!(
        correction.header("In-Reply-To").unwrap(),
        digest_id(date, "ops-mail")
    );
    assert_eq!(
        correction.header("Message-ID").unwrap(),
        format!("<correction-rev-2.{date}.ops-mail.{ORG}@contoso.example>")
    );
    let text = part(&correction.parsed(), "text/plain");
    assert!(text.contains("Total calls: 42 → 50"), "{text}");
}

/// The handler's `App` in this process, over `app`'s storage, sending email through `sink`.
async fn in_process(app: &TestApp, sink: &SmtpSink) -> call_analytics::app::App {
    use call_analytics::configuration::{Settings, StorageSettings};
    let StorageSettings::ConnectionString {
        connection_string,
        container,
    } = &app.storage_settings
    else {
        unreachable!()
    };
    let mut env: std::collections::HashMap<String, String> = [
        (
            "AZURE_STORAGE_CONNECTION_STRING",
            connection_string.expose(),
        ),
        ("AZURE_STORAGE_CONTAINER", container.as_str()),
        ("ALLOW_INSECURE_WEBHOOKS", "true"),
        ("PUBLIC_BASE_URL", BASE),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    env.extend(sink.env());
    call_analytics::app::App::build(Settings::from_map(&env).unwrap())
        .await
        .unwrap()
}

/// Without `ALLOW_INSECURE_WEBHOOKS=true` even a loopback relay must offer STARTTLS: the sink
/// offers none, so nothing is sent, and the delivery is recorded failed.
#[tokio::test]
async fn a_relay_without_tls_gets_nothing() {
    let sink = SmtpSink::start().await;
    let app = spawn_with(&sink, None, false).await;
    set_channels(
        &app,
        json!([{"id": "ops-mail", "kind": "email", "to": ["ops@example.com"]}]),
    )
    .await;
    store_yesterday(&app, ORG).await;
    let run = fire(&app).await;
    let d = &run["deliveries"][0];
    assert_eq!(d["status"], "failed", "{run}");
    assert!(d["error"].as_str().unwrap().contains("STARTTLS"), "{d}");
    assert_eq!(d["attempts"], 1, "final: {d}");
    assert!(sink.got().is_empty(), "nothing reached the relay");
}
