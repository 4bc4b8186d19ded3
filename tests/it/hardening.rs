//! Failure handling under faults (`docs/http-api.md`, "Input and failure rules"): every
//! dependency call is bounded, statuses are consistent, writes are reported truthfully and a
//! failure analysis leaves complete artifact sets or none.
//!
//! The fault equipment is here: [`silent_listener`] (accepts connections, never answers) and
//! [`FaultProxy`], an HTTP/1.1 proxy in front of Azurite that decides per request whether to
//! forward it (after a delay), answer 503, hold it forever, or forward it and drop the reply.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use call_analytics::configuration::{Secret, StorageSettings};
use call_analytics::storage::Storage;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::helpers::{
    Call, Spawn, TestApp, azurite, clickhouse_database, connect, fresh_database, insert, unique,
};
use crate::helpers::{PAUL_NODE, PAUL_ORG, clickhouse_url};

// ---------------------------------------------------------------------------------------
// Fault equipment
// ---------------------------------------------------------------------------------------

/// A loopback port whose listener accepts connections (the kernel completes the handshake)
/// and never reads or answers. Keep the listener alive while it is used.
fn silent_listener() -> (std::net::TcpListener, u16) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    (listener, port)
}

/// What [`FaultProxy`] does with one request.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Action {
    /// Forward it after this delay.
    Forward(Duration),
    /// Answer 503 without forwarding.
    Fail,
    /// Read it and never answer.
    Hang,
    /// Forward it, read the reply and close the connection without passing the reply on.
    DropReply,
    /// Answer with these raw HTTP bytes without forwarding.
    Reply(&'static str),
}

/// One request seen by the proxy.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    path: String,
    /// The body, lossily decoded.
    body: String,
}

impl Seen {
    /// A blob written under `folder` (`reports/`, `failure_analysis/`).
    fn is_put_under(&self, folder: &str) -> bool {
        self.method == "PUT" && self.path.contains(&format!("/{folder}"))
    }
}

type Rule = Box<dyn FnMut(&Seen, usize) -> Action + Send>;

/// An HTTP/1.1 proxy to `upstream` (one request per connection, `Connection: close` on both
/// sides), whose [`Rule`] picks an [`Action`] for each request from the request and how many
/// requests with the same method came before it.
struct FaultProxy {
    port: u16,
    rule: Arc<Mutex<Rule>>,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl FaultProxy {
    async fn start(upstream: String) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let rule: Arc<Mutex<Rule>> =
            Arc::new(Mutex::new(Box::new(|_, _| Action::Forward(Duration::ZERO))));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (r, s) = (rule.clone(), seen.clone());
        tokio::spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    return;
                };
                let (rule, seen, upstream) = (r.clone(), s.clone(), upstream.clone());
                tokio::spawn(async move {
                    let _ = proxy_one(client, &upstream, &rule, &seen).await;
                });
            }
        });
        FaultProxy { port, rule, seen }
    }

    fn set_rule(&self, rule: impl FnMut(&Seen, usize) -> Action + Send + 'static) {
        *self.rule.lock().unwrap() = Box::new(rule);
    }

    /// The requests seen so far with this method.
    fn seen(&self, method: &str) -> Vec<Seen> {
        let seen = self.seen.lock().unwrap();
        seen.iter()
            .filter(|s| s.method == method)
            .cloned()
            .collect()
    }

    /// Azurite's connection string with the blob endpoint moved to this proxy.
    fn connection_string(&self) -> String {
        let cs = azurite();
        let endpoint = cs
            .split(';')
            .find_map(|p| p.strip_prefix("BlobEndpoint="))
            .expect("the Azurite connection string names its BlobEndpoint");
        let url = url::Url::parse(endpoint).unwrap();
        let proxied = format!("http://127.0.0.1:{}{}", self.port, url.path());
        cs.replace(endpoint, &proxied)
    }
}

async fn proxy_one(
    mut client: TcpStream,
    upstream: &str,
    rule: &Mutex<Rule>,
    seen: &Mutex<Vec<Seen>>,
) -> std::io::Result<()> {
    // The request: headers, then a Content-Length body.
    let mut buf = Vec::new();
    let header_end = loop {
        let mut chunk = [0u8; 8192];
        let n = client.read(&mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..header_end]).to_string();
    let mut lines = head.split("\r\n");
    let request_line = lines.next().unwrap_or_default().to_string();
    let mut parts = request_line.split(' ');
    let method = parts.next().unwrap_or_default().to_string();
    let path = parts.next().unwrap_or_default().to_string();
    let mut length = 0usize;
    let mut headers = Vec::new();
    for line in lines.filter(|l| !l.is_empty()) {
        let lower = line.to_ascii_lowercase();
        if let Some(v) = lower.strip_prefix("content-length:") {
            length = v.trim().parse().unwrap_or(0);
        }
        if !lower.starts_with("connection:") {
            headers.push(line.to_string());
        }
    }
    while buf.len() < header_end + length {
        let mut chunk = [0u8; 65536];
        let n = client.read(&mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let request = Seen {
        method,
        path,
        body: String::from_utf8_lossy(&buf[header_end..]).to_string(),
    };
    let action = {
        let mut seen = seen.lock().unwrap();
        let before = seen.iter().filter(|s| s.method == request.method).count();
        seen.push(request.clone());
        (rule.lock().unwrap())(&request, before)
    };
    let delay = match action {
        Action::Hang => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            return Ok(());
        }
        Action::Fail => {
            client
                .write_all(
                    b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                )
                .await?;
            return client.shutdown().await;
        }
        Action::Reply(raw) => {
            client.write_all(raw.as_bytes()).await?;
            return client.shutdown().await;
        }
        Action::Forward(d) => d,
        Action::DropReply => Duration::ZERO,
    };
    tokio::time::sleep(delay).await;
    let mut out = format!(
        "{request_line}\r\n{}\r\nConnection: close\r\n\r\n",
        headers.join("\r\n")
    )
    .into_bytes();
    out.extend_from_slice(&buf[header_end..]);
    let mut up = TcpStream::connect(upstream).await?;
    up.write_all(&out).await?;
    let mut reply = Vec::new();
    up.read_to_end(&mut reply).await?;
    if action == Action::DropReply {
        return Ok(()); // the client's connection closes with no reply
    }
    client.write_all(&reply).await?;
    client.shutdown().await
}

/// `host:port` of the ClickHouse engine.
fn clickhouse_address() -> String {
    let url = url::Url::parse(&clickhouse_url()).unwrap();
    format!("{}:{}", url.host_str().unwrap(), url.port().unwrap())
}

/// ClickHouse's answer to a query over `max_execution_time`.
const CLICKHOUSE_TIMEOUT: &str = "HTTP/1.1 500 Internal Server Error\r\n\
    X-ClickHouse-Exception-Code: 159\r\nContent-Length: 99\r\nConnection: close\r\n\r\n\
    Code: 159. DB::Exception: Timeout exceeded: elapsed 180.2 seconds, maximum: 180. (TIMEOUT_EXCEEDED)";

/// A delay of 150-300 ms.
fn storage_latency() -> Duration {
    Duration::from_millis(150 + u64::from(uuid::Uuid::new_v4().as_bytes()[0]) * 150 / 255)
}

/// `host:port` of Azurite's blob endpoint.
fn azurite_address() -> String {
    let cs = azurite();
    let endpoint = cs
        .split(';')
        .find_map(|p| p.strip_prefix("BlobEndpoint="))
        .unwrap()
        .to_string();
    let url = url::Url::parse(&endpoint).unwrap();
    format!("{}:{}", url.host_str().unwrap(), url.port().unwrap())
}

// ---------------------------------------------------------------------------------------
// The handler under test
// ---------------------------------------------------------------------------------------

/// The bound the tests configure for every dependency.
const BOUND: Duration = Duration::from_secs(2);

/// What a 503 or 504 body must never carry.
fn assert_no_internals(text: &str) {
    for leak in [
        "127.0.0.1",
        "os error",
        "Connection reset",
        "devstoreaccount1",
        "reports/",
        "failure_analysis/",
        "http://",
    ] {
        assert!(!text.contains(leak), "{leak:?} in an error body: {text}");
    }
}

/// A handler with the default org (for the report routes), 2 s connect timeouts and `env`.
async fn handler(db_url: Option<String>, env: &[(&str, String)]) -> TestApp {
    let mut all: Vec<(String, String)> = [
        ("ORG_ID", PAUL_ORG.to_string()),
        ("BROKER_NODE_PERSISTENT_ID", PAUL_NODE.to_string()),
        ("DEFAULT_TIMEZONE", "America/Chicago".to_string()),
        ("DB_CONNECT_TIMEOUT", "2".to_string()),
        ("CLICKHOUSE_CONNECT_TIMEOUT", "2".to_string()),
        ("AZURE_STORAGE_CONNECT_TIMEOUT", "2".to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    all.extend(env.iter().map(|(k, v)| (k.to_string(), v.clone())));
    TestApp::spawn(Spawn {
        db_url,
        output_dir: None,
        env: all,
    })
    .await
}

/// Sends a request (30 s client timeout) and returns status, body text, JSON and the time it took.
async fn send(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (u16, String, Value, Duration) {
    let started = Instant::now();
    let mut req = app
        .forwarded(method, path, &uuid::Uuid::new_v4().to_string())
        .timeout(Duration::from_secs(30));
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.unwrap_or_else(|e| {
        panic!(
            "{path}: no answer after {:?}: {e}; log:\n{}",
            started.elapsed(),
            app.log()
        )
    });
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    let json = serde_json::from_str(&text).unwrap_or(Value::Null);
    (status, text, json, started.elapsed())
}

/// `GET path` (see [`send`]).
async fn get(app: &TestApp, path: &str) -> (u16, String, Value, Duration) {
    send(app, reqwest::Method::GET, path, None).await
}

/// `POST path` with a JSON body (see [`send`]).
async fn post(app: &TestApp, path: &str, body: Value) -> (u16, String, Value, Duration) {
    send(app, reqwest::Method::POST, path, Some(body)).await
}

/// `POST /api/reports/generate` of the default org's 2025-01-01 (see [`send`]).
async fn generate(app: &TestApp) -> (u16, String, Value, Duration) {
    post(app, "/api/reports/generate", json!({"date": "2025-01-01"})).await
}

/// `POST /api/failure_analysis` of `from_date` ..= `to_date` (see [`send`]).
async fn analyse(app: &TestApp, from_date: &str, to_date: &str) -> (u16, String, Value, Duration) {
    let body = json!({"from_date": from_date, "to_date": to_date});
    post(app, "/api/failure_analysis", body).await
}

/// Asserts that a reply (`status`, `json`, `text` as [`send`] returns them) is the error
/// `want` with the code `code`.
fn assert_error(status: u16, json: &Value, text: &str, want: u16, code: &str) {
    assert_eq!(status, want, "{text}");
    assert_eq!(json["error"]["code"], code, "{text}");
}

/// `/api/health` answers within its 3 s budget (plus scheduling slack) and names `down`.
async fn health_within_budget(app: &TestApp, down: &str) {
    let (status, text, json, took) = get(app, "/api/health").await;
    assert!(took < Duration::from_millis(4500), "health took {took:?}");
    assert_eq!(status, 503, "{text}");
    assert_eq!(json["checks"][down]["status"], "down", "{text}");
}

// ---------------------------------------------------------------------------------------
// 1. Bounded waits
// ---------------------------------------------------------------------------------------

/// PostgreSQL accepting connections and never answering: the analysis answers 503 naming
/// PostgreSQL within `DB_CONNECT_TIMEOUT` (2 s), not never; health stays within its budget.
#[tokio::test]
async fn a_silent_postgres_is_a_503_within_the_connect_timeout() {
    let (_silent, port) = silent_listener();
    let app = handler(Some(format!("postgres://u:p@127.0.0.1:{port}/db")), &[]).await;
    let (status, text, json, took) = analyse(&app, "2025-01-01", "2025-01-02").await;
    assert_error(status, &json, &text, 503, "dependency_unavailable");
    assert!(took >= BOUND && took < BOUND * 2, "answered in {took:?}");
    let message = json["error"]["message"].as_str().unwrap().to_lowercase();
    assert!(message.contains("postgres"), "{text}");
    assert!(!message.contains("shorter window"), "{text}");
    assert_no_internals(&text);
    health_within_budget(&app, "postgres").await;
}

/// ClickHouse accepting connections and never answering: a live report is a 503 within
/// `CLICKHOUSE_CONNECT_TIMEOUT` (2 s), not after the 190 s query deadline.
#[tokio::test]
async fn a_silent_clickhouse_is_a_503_within_the_connect_timeout() {
    let (_silent, port) = silent_listener();
    let app = handler(
        None,
        &[("CLICKHOUSE_URL", format!("http://127.0.0.1:{port}"))],
    )
    .await;
    let (status, text, json, took) = get(&app, "/api/reports/live?date=2025-01-01").await;
    assert_error(status, &json, &text, 503, "dependency_unavailable");
    assert!(took >= BOUND && took < BOUND * 2, "answered in {took:?}");
    assert!(
        json["error"]["message"]
            .as_str()
            .unwrap()
            .contains("ClickHouse")
    );
    assert_no_internals(&text);
    health_within_budget(&app, "clickhouse").await;
}

/// Blob Storage that stops answering after the handler started: a listing is a 503 within
/// `AZURE_STORAGE_CONNECT_TIMEOUT` (2 s), not after the 90 s operation bound.
#[tokio::test]
async fn a_silent_storage_is_a_503_within_the_connect_timeout() {
    let proxy = FaultProxy::start(azurite_address()).await;
    let app = handler(
        None,
        &[
            ("AZURE_STORAGE_CONNECTION_STRING", proxy.connection_string()),
            ("AZURE_STORAGE_CONTAINER", unique("t-")),
        ],
    )
    .await;
    let (status, text, ..) = get(&app, "/api/reports").await;
    assert_eq!(status, 200, "{text}");
    proxy.set_rule(|_, _| Action::Hang);
    let (status, text, json, took) = get(&app, "/api/reports").await;
    assert_error(status, &json, &text, 503, "dependency_unavailable");
    assert!(took >= BOUND && took < BOUND * 2, "answered in {took:?}");
    assert_no_internals(&text);
    health_within_budget(&app, "storage").await;
}

// ---------------------------------------------------------------------------------------
// 2. Forced overwrite race, 3. writes reported truthfully
// ---------------------------------------------------------------------------------------

/// A handler whose storage is reached through `proxy` and whose ClickHouse has the report's
/// tables (no calls: every report is a zero day).
async fn report_handler(proxy: &FaultProxy) -> TestApp {
    handler(
        None,
        &[
            ("AZURE_STORAGE_CONNECTION_STRING", proxy.connection_string()),
            ("AZURE_STORAGE_CONTAINER", unique("t-")),
            ("CLICKHOUSE_URL", clickhouse_url()),
            ("CLICKHOUSE_DATABASE", clickhouse_database().await),
        ],
    )
    .await
}

/// 10 concurrent forced generations of one (org, date) with 150-300 ms of storage latency:
/// a lost ETag race is retried over the newer version; no reply is a 503.
#[tokio::test]
async fn concurrent_forced_overwrites_are_never_an_outage() {
    let proxy = FaultProxy::start(azurite_address()).await;
    let app = report_handler(&proxy).await;
    let body = json!({"date": "2025-01-01", "force": true});
    let (status, text, ..) = post(&app, "/api/reports/generate", body.clone()).await;
    assert_eq!(status, 200, "{text}");
    proxy.set_rule(|_, _| Action::Forward(storage_latency()));
    let replies = futures::future::join_all(
        (0..10).map(|_| post(&app, "/api/reports/generate", body.clone())),
    )
    .await;
    let statuses: Vec<u16> = replies.iter().map(|r| r.0).collect();
    for (status, text, ..) in &replies {
        assert!(
            *status == 200 || *status == 409,
            "statuses {statuses:?}; {status}: {text}"
        );
        assert!(!text.contains("ETag"), "{text}");
    }
    assert!(statuses.contains(&200), "{statuses:?}");
}

/// A create-only PUT stored by Azurite whose reply is lost: the SDK's retry meets the blob
/// (409), and the write id in its metadata shows it is this call's: `generated`, not
/// `skipped`.
#[tokio::test]
async fn a_write_whose_reply_was_lost_is_reported_as_the_callers() {
    let proxy = FaultProxy::start(azurite_address()).await;
    let app = report_handler(&proxy).await;
    let mut dropped = false;
    proxy.set_rule(move |seen, _| {
        if seen.is_put_under("reports/") && !dropped {
            dropped = true;
            Action::DropReply
        } else {
            Action::Forward(Duration::ZERO)
        }
    });
    let (status, text, json, _) = generate(&app).await;
    assert_eq!(status, 200, "{text}");
    let puts = proxy.seen("PUT");
    let report_puts = puts.iter().filter(|s| s.path.contains("/reports/")).count();
    assert_eq!(report_puts, 2, "the lost reply was retried: {puts:?}");
    assert_eq!(
        json["orgs"][0]["generated"],
        json!(["2025-01-01"]),
        "{text}"
    );
    assert_eq!(json["orgs"][0]["skipped"], json!([]), "{text}");
}

// ---------------------------------------------------------------------------------------
// 5. Status consistency
// ---------------------------------------------------------------------------------------

/// A ClickHouse query over its time limit is 504 `query_timeout` on `live` and on
/// `generate` alike.
#[tokio::test]
async fn a_clickhouse_query_timeout_is_a_504_on_every_route() {
    let proxy = FaultProxy::start(clickhouse_address()).await;
    proxy.set_rule(|seen, _| {
        if seen.body.trim_start().starts_with("SELECT toUInt8(1)") {
            Action::Forward(Duration::ZERO)
        } else {
            Action::Reply(CLICKHOUSE_TIMEOUT)
        }
    });
    let app = handler(
        None,
        &[
            ("CLICKHOUSE_URL", format!("http://127.0.0.1:{}", proxy.port)),
            ("CLICKHOUSE_DATABASE", clickhouse_database().await),
        ],
    )
    .await;
    let (status, text, json, _) = get(&app, "/api/reports/live?date=2025-01-01").await;
    assert_error(status, &json, &text, 504, "query_timeout");
    let (status, text, json, _) = generate(&app).await;
    assert_error(status, &json, &text, 504, "query_timeout");
    assert_no_internals(&text);
}

/// Storage failing every report write: the 503 names storage and carries no blob path,
/// host or transport text (the log has them).
#[tokio::test]
async fn a_503_body_carries_no_blob_path_or_transport_text() {
    let proxy = FaultProxy::start(azurite_address()).await;
    let app = report_handler(&proxy).await;
    proxy.set_rule(|seen, _| {
        if seen.is_put_under("reports/") {
            Action::Fail
        } else {
            Action::Forward(Duration::ZERO)
        }
    });
    let (status, text, json, _) = generate(&app).await;
    assert_error(status, &json, &text, 503, "dependency_unavailable");
    assert!(text.contains("storage"), "{text}");
    assert_no_internals(&text);
    assert!(
        app.log().contains("reports/"),
        "the log keeps the blob name"
    );
}

// ---------------------------------------------------------------------------------------
// 4. Complete or absent artifact sets
// ---------------------------------------------------------------------------------------

/// Storage failing every failure-analysis artifact write after the first: the client gets
/// 503 and the container holds no artifact of the run (the one already written is removed).
/// The day's settled counts, a cache written on their own (`docs/failure-analysis.md`,
/// "Settled days"), may stay: they are whole and true whatever became of the artifacts.
#[tokio::test]
async fn a_run_failing_part_way_leaves_no_artifact_behind() {
    let db_url = fresh_database().await;
    let db = connect(&db_url).await;
    let user = "0195a0b1-0000-7000-8000-000000000001";
    insert(
        &db,
        &[(user, Some("Asha"))],
        &[Call {
            session_id: Some("s1"),
            user_id: Some(user),
            exotel_call_sid: None,
            created_on: "2025-05-21 10:00:00",
        }],
    )
    .await;
    let proxy = FaultProxy::start(azurite_address()).await;
    let container = unique("t-");
    let app = handler(
        Some(db_url),
        &[
            ("AZURE_STORAGE_CONNECTION_STRING", proxy.connection_string()),
            ("AZURE_STORAGE_CONTAINER", container.clone()),
        ],
    )
    .await;
    let mut artifact_puts = 0;
    proxy.set_rule(move |seen, _| {
        if seen.is_put_under("failure_analysis/") && !seen.is_put_under("failure_analysis/settled/")
        {
            artifact_puts += 1;
            if artifact_puts > 1 {
                return Action::Fail;
            }
        }
        Action::Forward(Duration::ZERO)
    });
    let (status, text, json, _) = analyse(&app, "2025-05-21", "2025-05-21").await;
    assert_error(status, &json, &text, 503, "dependency_unavailable");
    assert_no_internals(&text);
    let direct = Storage::connect(&StorageSettings::ConnectionString {
        connection_string: Secret::new(azurite()),
        container,
    })
    .await
    .unwrap();
    let left = direct.list("failure_analysis/", None, 100).await.unwrap();
    let names: Vec<&str> = left
        .entries
        .iter()
        .map(|e| e.name.as_str())
        .filter(|name| !name.starts_with("failure_analysis/settled/"))
        .collect();
    assert!(names.is_empty(), "left behind: {names:?}");
    assert!(
        !proxy.seen("DELETE").is_empty(),
        "the artifact written was removed"
    );
}
