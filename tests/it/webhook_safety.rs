//! Webhook targets and the channel list through the handler process
//! (`docs/access-and-safety.md`, "Webhook targets inside the network", "Masked values sent
//! back", "Bounded for every caller"): internal targets are refused when an org is written and
//! again when a digest is sent; GET's masked channels PATCHed back keep their url and secret;
//! `notifications` change only under `If-Match`; at most 10 channels.
//!
//! Every request goes through [`Api::call`], so every reply is also checked against the
//! OpenAPI document.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use call_analytics::configuration::Secret;
use call_analytics::orgs::{self, ChannelKind, Notification};
use serde_json::{Value, json};

use crate::helpers::PAUL_ORG;
use crate::helpers::id_of;
use crate::helpers::{Answer, Receiver};
use crate::helpers::{Api, Ch, Reply, column, start, store_yesterday, timer_payload};

/// Stands in for the secret part of a webhook URL; must never be shown.
const TOKEN: &str = "T0KEN-webhook-safety-91c2";
const SECRET: &str = "s3cret-signing-key-0123456789";

/// A loopback listener that counts the connections it accepts (and answers 200).
struct Listener {
    port: u16,
    connections: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Listener {
    async fn start() -> Listener {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = l.local_addr().unwrap().port();
        let connections = Arc::new(AtomicUsize::new(0));
        let seen = connections.clone();
        let task = tokio::spawn(async move {
            while let Ok((mut s, _)) = l.accept().await {
                seen.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(async move {
                    let mut buf = [0u8; 4096];
                    let _ = s.read(&mut buf).await;
                    let ok = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
                    let _ = s.write_all(ok.as_bytes()).await;
                });
            }
        });
        Listener {
            port,
            connections,
            task,
        }
    }

    fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

/// The handler with the default org, no ClickHouse, yesterday's digest due at the next
/// firing; `insecure` sets `ALLOW_INSECURE_WEBHOOKS=true` (else it is unset).
async fn handler(insecure: bool) -> Api {
    let mut env = vec![("CATCHUP_DAYS", "1"), ("SCHEDULER_HOUR", "0")];
    if insecure {
        env.push(("ALLOW_INSECURE_WEBHOOKS", "true"));
    }
    start(Ch::Unset, None, &env).await
}

/// The default org's ETag, from a GET.
async fn etag(api: &Api) -> String {
    let r = api.get(&format!("/api/orgs/{PAUL_ORG}")).await;
    r.expect(200);
    r.header("etag").expect("ETag").to_string()
}

/// `PATCH /api/orgs/{PAUL_ORG}` with `body`, and `If-Match` when given.
async fn patch(api: &Api, body: Value, if_match: Option<&str>) -> Reply {
    api.patch(&format!("/api/orgs/{PAUL_ORG}"), body, if_match)
        .await
}

/// A 400 naming `field` that shows neither `url` nor any part of its host.
fn assert_refused(r: &Reply, field: &str, url: &str) {
    r.expect_error(400, "invalid_field", Some(field));
    let host = url.split("//").nth(1).unwrap().split('/').next().unwrap();
    assert!(!r.text.contains(host), "{url}: {}", r.text);
}

/// An internal url, in any spelling, is a 400 naming the field, on create and on PATCH; a host
/// name is resolved (one resolving to loopback is refused, one that does not resolve too);
/// `ALLOW_INSECURE_WEBHOOKS=true` allows loopback and nothing else internal.
#[tokio::test]
async fn internal_targets_are_refused_when_an_org_is_written() {
    let api = handler(false).await;
    let internal = [
        "https://0x7f000001/h",
        "https://2130706433/h",
        "https://0177.0.0.1/h",
        "https://127.1/h",
        "https://[::1]/h",
        "https://[::ffff:127.0.0.1]/h",
        "https://[::ffff:7f00:1]/h",
        "https://10.0.0.8/h",
        "https://169.254.169.254/metadata/identity/oauth2/token",
        "https://100.64.1.1/h",
        "https://[fd12::1]/h",
        "https://[fe80::1]/h",
        "https://0.0.0.0/h",
        "https://224.0.0.1/h",
        "https://255.255.255.255/h",
        "https://[64:ff9b::a9fe:a9fe]/h",
        "https://localhost/h",
        "https://no-such-host.invalid/h",
    ];
    for url in internal {
        let channel = json!([{"id": "ops", "kind": "teams", "url": url}]);
        let e = etag(&api).await;
        let r = patch(&api, json!({"notifications": channel}), Some(&e)).await;
        assert_refused(&r, "notifications[0].url", url);
        let new = json!({"org_id": "0195a7d2-5b1e-7c44-9f3a-6d2e8b0c1f47", "name": "Second",
                         "node_persistent_id": "019b3a70-1c2d-7e4f-8a5b-6c7d8e9f0a1b",
                         "notifications": channel});
        let r = api.post("/api/orgs", new).await;
        assert_refused(&r, "notifications[0].url", url);
    }
    let stored = api.get(&format!("/api/orgs/{PAUL_ORG}")).await;
    assert_eq!(stored.expect(200)["notifications"], json!([]));

    let insecure = handler(true).await;
    for url in [
        "http://127.0.0.1:9/h",
        "https://0x7f000001:9/h",
        "http://[::1]:9/h",
        "http://localhost:9/h",
    ] {
        let e = etag(&insecure).await;
        let body = json!({"notifications": [{"id": "ops", "kind": "teams", "url": url}]});
        patch(&insecure, body, Some(&e)).await.expect(200);
    }
    for url in [
        "https://10.0.0.8/h",
        "https://169.254.169.254/h",
        "http://[fd12::1]/h",
    ] {
        let e = etag(&insecure).await;
        let body = json!({"notifications": [{"id": "ops", "kind": "teams", "url": url}]});
        assert_refused(
            &patch(&insecure, body, Some(&e)).await,
            "notifications[0].url",
            url,
        );
    }
}

/// An org document written straight to storage (as an older version might have stored it)
/// with internal urls: the test send and the timer's digest are refused without connecting
/// (`ALLOW_INSECURE_WEBHOOKS` unset), a host name resolving to loopback (`localhost`)
/// included, and neither replies, records nor logs show the url.
#[tokio::test]
async fn an_internal_url_stored_earlier_is_refused_at_send_without_connecting() {
    let listener = Listener::start().await;
    let api = handler(false).await;
    store_yesterday(&api.app, PAUL_ORG).await;
    let storage = api.app.storage().await;
    let (mut org, etag) = orgs::get(&storage, &id_of(PAUL_ORG))
        .await
        .unwrap()
        .unwrap();
    let port = listener.port;
    org.notifications = [
        ("ip", format!("http://127.0.0.1:{port}/hook/{TOKEN}")),
        ("hex", format!("https://0x7f000001:{port}/hook/{TOKEN}")),
        ("name", format!("http://localhost:{port}/hook/{TOKEN}")),
        (
            "mapped",
            format!("https://[::ffff:127.0.0.1]:{port}/hook/{TOKEN}"),
        ),
    ]
    .into_iter()
    .map(|(id, url)| Notification {
        id: id.into(),
        kind: ChannelKind::Slack,
        url: Some(Secret::new(url)),
        secret: None,
        to: Vec::new(),
        enabled: true,
    })
    .collect();
    orgs::replace(&storage, &org, &etag).await.unwrap();

    for id in ["ip", "hex", "name", "mapped"] {
        let r = api
            .post(
                &format!("/api/orgs/{PAUL_ORG}/notifications/{id}/test"),
                json!({}),
            )
            .await;
        let body = r.expect(200);
        assert_eq!(body["status"], "failed", "{id}: {}", r.text);
        assert!(
            body["error"].as_str().unwrap().contains("refused"),
            "{id}: {}",
            r.text
        );
    }
    let fired = api.post("/daily_report_timer", timer_payload(false)).await;
    let deliveries = fired.json["ReturnValue"]["deliveries"].clone();
    let failed: Vec<&str> = deliveries
        .as_array()
        .unwrap_or_else(|| panic!("{}", fired.text))
        .iter()
        .filter(|d| d["status"] == "failed")
        .map(|d| d["channel_id"].as_str().unwrap())
        .collect();
    assert_eq!(failed.len(), 4, "{}", fired.text);
    assert_eq!(
        listener.connections(),
        0,
        "nothing connected to the listener"
    );

    // Replies and records show no part of the url; the log not its secret part (the client's
    // debug lines name scheme, host and port, as masked urls do).
    let records = api.get(&format!("/api/deliveries?org_id={PAUL_ORG}")).await;
    let log = api.app.log();
    let port = format!(":{port}");
    let url_parts = [TOKEN, "localhost", "0x7f000001", &port];
    for (text, hidden) in [
        (&fired.text, &url_parts[..]),
        (&records.text, &url_parts[..]),
        (&log, &[TOKEN][..]),
    ] {
        for shown in hidden {
            let line = text.lines().find(|l| l.contains(shown));
            assert!(line.is_none(), "{shown} shown in: {line:?}");
        }
    }
}

/// What GET shows (masked `url`, `has_secret`), PATCHed back with the ETag, keeps every
/// channel's url and secret: the stored document is unchanged and the webhook still signs.
/// A masked url for an unknown id is a 400 naming it.
#[tokio::test]
async fn patching_back_what_get_shows_keeps_urls_and_secrets() {
    let hook = Receiver::start(vec![Answer::Status(200)]).await;
    let slack = Receiver::start(vec![Answer::Status(200)]).await;
    let api = handler(true).await;
    store_yesterday(&api.app, PAUL_ORG).await;
    let e = etag(&api).await;
    patch(
        &api,
        json!({"notifications": [
            {"id": "erp", "kind": "webhook", "url": hook.url, "secret": SECRET},
            {"id": "chat", "kind": "slack", "url": slack.url, "enabled": false}]}),
        Some(&e),
    )
    .await
    .expect(200);
    let storage = api.app.storage().await;
    let (before, _) = orgs::get(&storage, &id_of(PAUL_ORG))
        .await
        .unwrap()
        .unwrap();

    let got = api.get(&format!("/api/orgs/{PAUL_ORG}")).await;
    let shown = got.expect(200)["notifications"].clone();
    assert_eq!(shown[0]["has_secret"], true, "{shown}");
    assert!(!got.text.contains(SECRET) && !got.text.contains("/hook/"));
    let e = got.header("etag").unwrap().to_string();
    let r = patch(&api, json!({"notifications": shown}), Some(&e)).await;
    r.expect(200);
    let (after, _) = orgs::get(&storage, &id_of(PAUL_ORG))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(after.notifications, before.notifications);
    let sent = api
        .post(
            &format!("/api/orgs/{PAUL_ORG}/notifications/erp/test"),
            json!({}),
        )
        .await;
    assert_eq!(sent.expect(200)["status"], "sent", "{}", sent.text);
    assert_eq!(hook.got().len(), 1);

    let mut unknown = shown.clone();
    unknown[1]["id"] = json!("someone-else");
    let e = r.header("etag").unwrap().to_string();
    let r = patch(&api, json!({"notifications": unknown}), Some(&e)).await;
    r.expect_error(400, "invalid_field", Some("notifications[1].url"));
}

/// `notifications` change only under `If-Match` with a GET's ETag (428 naming it without,
/// or with `*`); other fields do not need it. Two admins PATCHing from the same ETag: the
/// second is a 412, and after a GET both channels are kept.
#[tokio::test]
async fn notifications_change_only_under_if_match_and_no_channel_is_lost() {
    let api = handler(true).await;
    let channel =
        |id: &str| json!({"id": id, "kind": "teams", "url": format!("http://127.0.0.1:9/{id}")});
    for if_match in [None, Some("*")] {
        let r = patch(&api, json!({"notifications": [channel("a")]}), if_match).await;
        r.expect_error(428, "precondition_required", Some("If-Match"));
        assert!(r.text.contains("If-Match"), "{}", r.text);
    }
    patch(&api, json!({"name": "Paul Logistics LLC"}), None)
        .await
        .expect(200);

    let read = etag(&api).await;
    let first = patch(&api, json!({"notifications": [channel("a")]}), Some(&read)).await;
    first.expect(200);
    let second = patch(&api, json!({"notifications": [channel("b")]}), Some(&read)).await;
    second.expect_error(412, "stale_etag", None);
    let got = api.get(&format!("/api/orgs/{PAUL_ORG}")).await;
    let mut list = got.expect(200)["notifications"].as_array().unwrap().clone();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["id"], "a", "the first admin's channel is kept");
    list.push(channel("b"));
    let e = got.header("etag").unwrap().to_string();
    let both = patch(&api, json!({"notifications": list}), Some(&e)).await;
    assert_eq!(column(&both.expect(200)["notifications"], "id"), ["a", "b"]);
    let storage = api.app.storage().await;
    let (org, _) = orgs::get(&storage, &id_of(PAUL_ORG))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        org.notifications[0].url.as_ref().unwrap().expose(),
        "http://127.0.0.1:9/a"
    );
}

/// At most 10 channels per org: an 11th is a 400 naming `notifications`.
#[tokio::test]
async fn at_most_ten_channels_per_org() {
    let api = handler(true).await;
    let list = |n: usize| -> Vec<Value> {
        (0..n)
            .map(|i| json!({"id": format!("c{i}"), "kind": "teams", "url": "http://127.0.0.1:9/h"}))
            .collect()
    };
    let e = etag(&api).await;
    patch(&api, json!({"notifications": list(11)}), Some(&e))
        .await
        .expect_error(400, "invalid_field", Some("notifications"));
    patch(&api, json!({"notifications": list(10)}), Some(&e))
        .await
        .expect(200);
}
