//! The reports API as the tests call it: the handler with the default org ([`start`]),
//! ClickHouse calls on days relative to today ([`database_with_calls`]), and [`Api::call`],
//! which checks every reply against the generated OpenAPI document: the status must be
//! documented for the operation, the JSON body must validate against its schema (JSON Schema
//! 2020-12, formats asserted), documented `ETag`s must be there, and a 405 must carry `Allow`.

use std::collections::BTreeSet;
use std::sync::Mutex;
use std::time::Duration;

use call_analytics::clickhouse::ClickHouse;
use call_analytics::server::routes::{ROUTES, match_path};
use chrono::{NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use reqwest::Method;
use serde_json::{Value, json};

use super::{
    Fixture, PAUL_NODE, PAUL_ORG, Spawn, TestApp, booked, clickhouse_database, clickhouse_settings,
    clickhouse_url, closed_port, outcome,
};

pub const TZ: Tz = chrono_tz::America::Chicago;
pub const PAUL_NAME: &str = "Paul Logistics";

pub fn today() -> NaiveDate {
    Utc::now().with_timezone(&TZ).date_naive()
}

/// `n` days before today in the default org's zone (1 = yesterday).
pub fn days_ago(n: i64) -> NaiveDate {
    today() - chrono::Duration::days(n)
}

pub fn yesterday() -> NaiveDate {
    days_ago(1)
}

/// `(date, n)`: `n` classified calls of the default org at local noon of `date`, 2 minutes
/// each; even ones `success` (transferred for booking), odd ones `non_convertible`.
pub async fn load_calls(database: &str, days: &[(NaiveDate, usize)]) {
    load_calls_at(database, days, 12, "r").await;
}

/// [`load_calls`] at local `hour` of each date, run ids `<prefix>-<date>-<i>` (a second load
/// on the same day, as late rows, needs another prefix).
pub async fn load_calls_at(database: &str, days: &[(NaiveDate, usize)], hour: u32, prefix: &str) {
    let ch = ClickHouse::new(&clickhouse_settings(&clickhouse_url(), database)).expect("client");
    let mut f = Fixture::default();
    for (date, n) in days {
        for i in 0..*n {
            let local = date.and_hms_opt(hour, i as u32, 0).unwrap();
            let ts = TZ
                .from_local_datetime(&local)
                .unwrap()
                .with_timezone(&Utc)
                .format("%Y-%m-%d %H:%M:%S%.3f")
                .to_string();
            let run = format!("{prefix}-{date}-{i}");
            f.paul_call(&run, &ts, "+13125550100", 120.0);
            let data = if i % 2 == 0 {
                booked(Some("AGREEMENT_REACHED_CARRIER_CONFIRMED"))
            } else {
                outcome(
                    Some("non_convertible"),
                    "RATE_NEGOTIATION",
                    None,
                    None,
                    Some("ACTIVE"),
                    Some("NOT_QUALIFIED"),
                    Some("rate_rejected"),
                    Some("NO_AGREEMENT_RATE_TOO_HIGH"),
                )
            };
            f.paul_output(&run, &ts, data);
        }
    }
    f.load(&ch).await;
}

/// The usual fixture: 4 calls yesterday (2 successes), 2 calls three days ago (1 success).
pub async fn database_with_calls() -> String {
    let db = clickhouse_database().await;
    load_calls(&db, &[(yesterday(), 4), (days_ago(3), 2)]).await;
    db
}

/// Where the handler's ClickHouse is.
pub enum Ch {
    Database(String),
    /// `CLICKHOUSE_URL` at a port nothing listens on.
    ClosedPort,
    /// `CLICKHOUSE_URL` at a server that accepts connections and never answers.
    Silent(u16),
    Unset,
}

/// The handler with the default org (Paul Logistics, America/Chicago) and `ch`.
pub async fn start(ch: Ch, db_url: Option<String>, extra: &[(&str, &str)]) -> Api {
    start_in(ch, db_url, None, extra).await
}

/// [`start`] with its storage in the local folder `output_dir` (several handlers can share it).
pub async fn start_in(
    ch: Ch,
    db_url: Option<String>,
    output_dir: Option<std::path::PathBuf>,
    extra: &[(&str, &str)],
) -> Api {
    let mut env: Vec<(String, String)> = [
        ("ORG_ID", PAUL_ORG),
        ("BROKER_NODE_PERSISTENT_ID", PAUL_NODE),
        ("CLIENT_NAME", PAUL_NAME),
        ("DEFAULT_TIMEZONE", "America/Chicago"),
    ]
    .iter()
    .chain(extra)
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    match ch {
        Ch::Database(name) => {
            env.push(("CLICKHOUSE_URL".into(), clickhouse_url()));
            env.push(("CLICKHOUSE_DATABASE".into(), name));
        }
        Ch::ClosedPort => env.push((
            "CLICKHOUSE_URL".into(),
            format!("http://127.0.0.1:{}", closed_port()),
        )),
        Ch::Silent(port) => env.push(("CLICKHOUSE_URL".into(), format!("http://127.0.0.1:{port}"))),
        Ch::Unset => {}
    }
    let app = TestApp::spawn(Spawn {
        db_url,
        output_dir,
        env,
    })
    .await;
    Api {
        app,
        doc: document(),
        seen: Mutex::new(BTreeSet::new()),
    }
}

/// The OpenAPI document the handler serves, as JSON.
pub fn document() -> Value {
    serde_json::to_value(call_analytics::server::openapi::document())
        .expect("the document serializes")
}

/// A reply, checked against the document.
pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub text: String,
    /// The body parsed as JSON (`Null` when it is not JSON).
    pub json: Value,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts a status and returns the body.
    pub fn expect(&self, status: u16) -> &Value {
        assert_eq!(
            self.status, status,
            "unexpected status; body: {}",
            self.text
        );
        &self.json
    }

    /// Asserts an error reply: status, `error.code`, and `error.field` when given.
    pub fn expect_error(&self, status: u16, code: &str, field: Option<&str>) {
        let body = self.expect(status);
        assert_eq!(body["error"]["code"], code, "body: {}", self.text);
        assert_eq!(
            body["error"]["field"].as_str(),
            field,
            "error.field; body: {}",
            self.text
        );
        assert!(
            !body["error"]["message"].as_str().unwrap_or("").is_empty(),
            "an error has a message"
        );
    }
}

/// The running handler and the document its replies are checked against.
pub struct Api {
    pub app: TestApp,
    pub doc: Value,
    /// (path template, method, status) of every reply checked.
    pub seen: Mutex<BTreeSet<(String, String, u16)>>,
}

impl Api {
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<String>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let mut req = self
            .app
            .forwarded(method.clone(), path, &uuid::Uuid::new_v4().to_string());
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if let Some(b) = body {
            req = req.header("Content-Type", "application/json").body(b);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp.text().await.expect("body");
        let json = serde_json::from_str(&text).unwrap_or(Value::Null);
        let reply = Reply {
            status,
            headers,
            text,
            json,
        };
        self.conform(&method, path, &reply);
        reply
    }

    /// A request declaring a `Content-Length` over the 256 KiB limit, sent as its head only:
    /// the handler must refuse it from the header alone. (Sending the body too would race the
    /// handler's early answer: a client still writing may see a reset instead of the 413.)
    pub async fn oversized(&self, method: Method, path: &str) -> Reply {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let addr = self.app.address.trim_start_matches("http://").to_string();
        let mut stream = tokio::net::TcpStream::connect(&addr)
            .await
            .expect("connect");
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\n\r\n",
            300 * 1024
        );
        stream.write_all(head.as_bytes()).await.expect("write");
        let mut buf = Vec::new();
        let read = async {
            let mut chunk = [0u8; 8192];
            loop {
                let n = stream.read(&mut chunk).await.expect("read");
                buf.extend_from_slice(&chunk[..n]);
                if n == 0 || parse_http(&buf).is_some() {
                    break;
                }
            }
        };
        tokio::time::timeout(Duration::from_secs(10), read)
            .await
            .expect("the handler answers without waiting for the body");
        let (status, headers, text) = parse_http(&buf).unwrap_or_else(|| {
            panic!(
                "not a whole HTTP response: {}",
                String::from_utf8_lossy(&buf)
            )
        });
        let reply = Reply {
            status,
            headers,
            json: serde_json::from_str(&text).unwrap_or(Value::Null),
            text,
        };
        self.conform(&method, path, &reply);
        reply
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.call(Method::GET, path, None, &[]).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Reply {
        self.call(Method::POST, path, Some(body.to_string()), &[])
            .await
    }

    /// Asserts the error reply of `GET path` for each (path, status, code, field) (see
    /// [`Reply::expect_error`]).
    pub async fn expect_get_errors(&self, cases: &[(&str, u16, &str, Option<&str>)]) {
        for &(path, status, code, field) in cases {
            self.get(path).await.expect_error(status, code, field);
        }
    }

    /// `PATCH path` with a JSON body, under `If-Match: if_match` when given.
    pub async fn patch(&self, path: &str, body: Value, if_match: Option<&str>) -> Reply {
        let headers: Vec<(&str, &str)> = if_match
            .map(|etag| ("If-Match", etag))
            .into_iter()
            .collect();
        self.call(Method::PATCH, path, Some(body.to_string()), &headers)
            .await
    }

    /// `GET path` as the caller App Service Authentication forwards as `principal` (see
    /// [`super::principal`]).
    pub async fn get_as(&self, path: &str, principal: &str) -> Reply {
        self.call(
            Method::GET,
            path,
            None,
            &[("X-MS-CLIENT-PRINCIPAL", principal)],
        )
        .await
    }

    /// Checks `reply` against the document (see the module doc).
    pub fn conform(&self, method: &Method, path_and_query: &str, reply: &Reply) {
        let path = path_and_query.split('?').next().unwrap();
        let context = format!(
            "{method} {path_and_query} → {}: {}",
            reply.status, reply.text
        );
        let mut routes: Vec<_> = ROUTES
            .iter()
            .filter(|r| match_path(r.path, path).is_some())
            .collect();
        // A literal path is never taken by a `{parameter}` route.
        if routes.iter().any(|r| !r.path.contains('{')) {
            routes.retain(|r| !r.path.contains('{'));
        }
        let Some(route) = routes.iter().find(|r| {
            r.methods.contains(method)
                || (method == Method::HEAD && r.methods.contains(&Method::GET))
        }) else {
            if routes.is_empty() {
                assert_eq!(reply.status, 404, "{context}");
            } else {
                assert_eq!(reply.status, 405, "{context}");
                let allowed: Vec<&str> = routes
                    .iter()
                    .flat_map(|r| r.methods.iter().map(Method::as_str))
                    .collect();
                assert_eq!(
                    reply.header("allow"),
                    Some(allowed.join(", ").as_str()),
                    "{context}"
                );
            }
            assert_json(&reply.headers, &context);
            validate(
                &self.doc,
                &json!({"$ref": "#/components/schemas/Error"}),
                &reply.json,
                &context,
            );
            return;
        };
        let op = &self.doc["paths"][route.path][method.as_str().to_lowercase()];
        if matches!(
            route.function,
            None | Some("daily_report_timer" | "daily_report_worker")
        ) {
            return; // the host's own: its readiness probe, the invocation protocol
        }
        assert!(
            op.is_object(),
            "{} {} is not in the document",
            method,
            route.path
        );
        let response = op["responses"]
            .get(reply.status.to_string())
            .unwrap_or_else(|| panic!("status {} is not documented: {context}", reply.status));
        let response = resolve(&self.doc, response);
        let content_type = reply.header("content-type").unwrap_or("");
        let media = content_type.split(';').next().unwrap().trim();
        let content = &response["content"][media];
        assert!(
            content.is_object(),
            "content type {content_type:?} is not documented for this reply: {context}"
        );
        if media == "application/json" {
            validate(&self.doc, &content["schema"], &reply.json, &context);
        }
        // The headers of a success (`ETag`s) are promised; an error's are conditional
        // (`Retry-After` comes with a 503 `busy` only, as its description says).
        if let Some(documented) = response["headers"]
            .as_object()
            .filter(|_| (200..300).contains(&reply.status))
        {
            for name in documented.keys() {
                assert!(
                    reply.header(name).is_some_and(|v| !v.is_empty()),
                    "header {name} is documented but missing: {context}"
                );
            }
        }
        self.seen.lock().unwrap().insert((
            route.path.to_string(),
            method.as_str().to_lowercase(),
            reply.status,
        ));
    }
}

/// A whole HTTP/1.1 response with a `Content-Length` body: (status, headers, body).
pub fn parse_http(buf: &[u8]) -> Option<(u16, reqwest::header::HeaderMap, String)> {
    let end = buf.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&buf[..end]).ok()?;
    let mut lines = head.split("\r\n");
    let status = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let mut headers = reqwest::header::HeaderMap::new();
    for line in lines {
        let (k, v) = line.split_once(':')?;
        headers.append(
            reqwest::header::HeaderName::from_bytes(k.trim().as_bytes()).ok()?,
            v.trim().parse().ok()?,
        );
    }
    let length: usize = headers.get("content-length")?.to_str().ok()?.parse().ok()?;
    let body = buf.get(end + 4..end + 4 + length)?;
    Some((status, headers, String::from_utf8_lossy(body).into_owned()))
}

/// The string `key` of every item of the JSON array `items`, in order.
pub fn column<'a>(items: &'a Value, key: &str) -> Vec<&'a str> {
    items
        .as_array()
        .unwrap_or_else(|| panic!("{items} is not an array"))
        .iter()
        .map(|item| {
            item[key]
                .as_str()
                .unwrap_or_else(|| panic!("{key} of {item} is not a string"))
        })
        .collect()
}

pub fn assert_json(headers: &reqwest::header::HeaderMap, context: &str) {
    assert_eq!(
        headers.get("content-type").and_then(|v| v.to_str().ok()),
        Some("application/json"),
        "{context}"
    );
}

/// Follows a `$ref` into the document (one level, as the document uses them).
pub fn resolve<'a>(doc: &'a Value, v: &'a Value) -> &'a Value {
    match v.get("$ref").and_then(Value::as_str) {
        Some(r) => doc
            .pointer(r.trim_start_matches('#'))
            .unwrap_or_else(|| panic!("{r} does not resolve")),
        None => v,
    }
}

/// A validator for `schema` with the document's components beside it, so that
/// `#/components/schemas/...` resolve.
pub fn validator(doc: &Value, schema: &Value) -> jsonschema::Validator {
    let mut root = schema.clone();
    root.as_object_mut()
        .expect("a schema is an object")
        .insert("components".into(), doc["components"].clone());
    jsonschema::draft202012::options()
        .should_validate_formats(true)
        .build(&root)
        .unwrap_or_else(|e| panic!("schema {schema} does not compile: {e}"))
}

pub fn validate(doc: &Value, schema: &Value, instance: &Value, context: &str) {
    let v = validator(doc, schema);
    let errors: Vec<String> = v
        .iter_errors(instance)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "the reply does not match {schema}:\n{}\n{context}",
        errors.join("\n")
    );
}

/// The timer's invocation as the host sends it.
pub fn timer_payload(is_past_due: bool) -> Value {
    let now = Utc::now().to_rfc3339();
    json!({
        "Data": {"timer": {"Schedule": {"AdjustForDST": true}, "ScheduleStatus": null,
                           "IsPastDue": is_past_due}},
        "Metadata": {"sys": {"MethodName": "daily_report_timer", "UtcNow": now,
                             "RandGuid": uuid::Uuid::new_v4().to_string()}}
    })
}

/// PATCHes `org_id`'s `notifications` to `list` under `If-Match` (required for them) with
/// the ETag of a GET just before; returns the reply's status and JSON body.
pub async fn patch_notifications(
    app: &TestApp,
    org_id: &str,
    list: Value,
) -> (reqwest::StatusCode, Value) {
    let url = format!("{}/api/orgs/{org_id}", app.address);
    let got = app.client.get(&url).send().await.unwrap();
    let etag = got.headers()["etag"].to_str().unwrap().to_string();
    let r = app
        .client
        .patch(&url)
        .header("If-Match", etag)
        .json(&json!({"notifications": list}))
        .send()
        .await
        .unwrap();
    (r.status(), r.json().await.unwrap())
}

/// Stores `org_id`'s report of yesterday (in the org's zone) directly, as a finished run would
/// have: 42 calls, 4,200 s; returns its date.
pub async fn store_yesterday(app: &TestApp, org_id: &str) -> NaiveDate {
    use call_analytics::daily_report::{query::DayCounts, report, snapshots};
    let storage = app.storage().await;
    let (org, _) = call_analytics::orgs::get(&storage, &super::id_of(org_id))
        .await
        .unwrap()
        .unwrap();
    let date = org.yesterday(chrono::Utc::now());
    let counts = DayCounts {
        total_calls: 42,
        total_duration_seconds: 4200.0,
        ..DayCounts::default()
    };
    let r = report::build(
        &org,
        date,
        &counts,
        Default::default(),
        0,
        chrono::Utc::now(),
    );
    snapshots::write(&storage, &org.org_id, date, &r, true)
        .await
        .unwrap();
    date
}
