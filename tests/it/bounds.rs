//! Dependencies reached safely and bounds for every caller (`docs/access-and-safety.md`,
//! "Dependencies reached safely", "Bounded for every caller"): PostgreSQL's `sslmode` as libpq
//! reads it (and the App Service rule), the failure analysis' longest window, the per-instance
//! limits on concurrent analyses and live ClickHouse queries (503 `busy` with `Retry-After`),
//! and `/api/deliveries` in pages.

use std::time::{Duration, Instant};

use call_analytics::delivery::claims::{self, Record, State};
use call_analytics::orgs::ChannelKind;
use chrono::{NaiveDate, TimeZone, Utc};
use reqwest::Method;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::helpers::PAUL_ORG;
use crate::helpers::id_of;
use crate::helpers::{Api, Ch, database_with_calls, start};
use crate::helpers::{
    Faults, Proxy, Spawn, TestApp, clickhouse_url, connect, fresh_database, put_json, required_env,
    two_calls_database,
};

/// The database name of a PostgreSQL URL.
fn db_name(url: &str) -> String {
    url::Url::parse(url)
        .unwrap()
        .path()
        .trim_start_matches('/')
        .to_string()
}

/// `url` with `params` appended to its query.
fn with_params(url: &str, params: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}{params}")
}

/// (connections over TLS, connections) of the handler's backends named `application` in
/// `database`.
async fn tls_connections(database: &str, application: &str) -> (i64, i64) {
    let admin = connect(&required_env("PG_ADMIN_URL")).await;
    let row = admin
        .query_one(
            "SELECT count(*) FILTER (WHERE s.ssl), count(*) FROM pg_stat_ssl s \
             JOIN pg_stat_activity a USING (pid) \
             WHERE a.datname = $1 AND a.application_name = $2",
            &[&database, &application],
        )
        .await
        .unwrap();
    (row.get(0), row.get(1))
}

fn one_day() -> Value {
    json!({"from_date": "2025-05-21", "to_date": "2025-05-21", "timezone": "UTC"})
}

/// A PostgreSQL server without TLS, cheaply: a front to the test cluster that answers the
/// client's `SSLRequest` with `N` (what a server with `ssl = off` says) and relays everything
/// else. Returns `url` pointed at the front.
async fn without_tls(url: &str) -> String {
    // The 8 bytes of an SSLRequest: length 8, code 80877103.
    const SSL_REQUEST: [u8; 8] = [0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f];
    let mut parsed = url::Url::parse(url).unwrap();
    let upstream = format!(
        "{}:{}",
        parsed.host_str().unwrap(),
        parsed.port().unwrap_or(5432)
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    parsed
        .set_port(Some(listener.local_addr().unwrap().port()))
        .unwrap();
    tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            let upstream = upstream.clone();
            tokio::spawn(async move {
                let mut head = [0u8; 8];
                client.read_exact(&mut head).await?;
                let mut server = TcpStream::connect(&upstream).await?;
                if head == SSL_REQUEST {
                    client.write_all(b"N").await?;
                } else {
                    server.write_all(&head).await?;
                }
                tokio::io::copy_bidirectional(&mut client, &mut server)
                    .await
                    .map(|_| ())
            });
        }
    });
    parsed.to_string()
}

// ---------------------------------------------------------------------------------------
// PostgreSQL sslmode
// ---------------------------------------------------------------------------------------

/// libpq's default (`sslmode` absent) and `sslmode=prefer` try TLS first: against the test
/// cluster, which offers TLS, every connection of the handler is encrypted (before, `prefer`
/// connected in plain text). The cluster's certificate is from a private CA the handler is not
/// told about: `prefer` encrypts without verifying, as libpq's does.
#[tokio::test]
async fn sslmode_prefer_and_absent_negotiate_tls_when_the_server_offers_it() {
    let db = two_calls_database().await;
    let name = db_name(&db);
    for (params, application) in [
        ("application_name=ca_absent", "ca_absent"),
        ("sslmode=prefer&application_name=ca_prefer", "ca_prefer"),
    ] {
        let app = TestApp::with_db(with_params(&db, params)).await;
        let r = app.analyse("", one_day()).await;
        assert_eq!(r.status(), 200, "{params}: {}", app.log());
        let (encrypted, all) = tls_connections(&name, application).await;
        assert!(
            all >= 1 && encrypted == all,
            "{params}: {encrypted} of {all} handler connections use TLS"
        );
    }
}

/// `prefer` still connects to a server that does not offer TLS, in plain text.
#[tokio::test]
async fn sslmode_prefer_falls_back_to_plain_text_when_the_server_has_no_tls() {
    let db = two_calls_database().await;
    let name = db_name(&db);
    let app = TestApp::with_db(with_params(
        &without_tls(&db).await,
        "application_name=ca_no_tls",
    ))
    .await;
    let r = app.analyse("", one_day()).await;
    assert_eq!(r.status(), 200, "{}", app.log());
    let (encrypted, all) = tls_connections(&name, "ca_no_tls").await;
    assert!(all >= 1 && encrypted == 0, "{encrypted} of {all} use TLS");
}

/// In App Service (`WEBSITE_SITE_NAME` set), `sslmode` absent, `prefer` or `allow` behaves as
/// `require`: a server without TLS is refused (503, the cause in the log only); an explicit
/// `sslmode=disable` is the one way to go without TLS there.
#[tokio::test]
async fn in_app_service_a_server_without_tls_is_refused_unless_sslmode_disable() {
    let db = two_calls_database().await;
    let plain = without_tls(&db).await;
    let in_app_service = vec![
        ("WEBSITE_SITE_NAME".to_string(), "func-test".to_string()),
        ("REQUIRE_PRINCIPAL".to_string(), "false".to_string()),
    ];
    for params in ["application_name=x", "sslmode=prefer", "sslmode=allow"] {
        let app = TestApp::spawn(Spawn {
            db_url: Some(with_params(&plain, params)),
            env: in_app_service.clone(),
            ..Default::default()
        })
        .await;
        let r = app.analyse("", one_day()).await;
        assert_eq!(r.status(), 503, "{params}: {}", app.log());
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["error"]["code"], "dependency_unavailable", "{body}");
        assert!(
            app.log().contains("does not support TLS"),
            "{params}: {}",
            app.log()
        );
    }
    let disabled = TestApp::spawn(Spawn {
        db_url: Some(with_params(&plain, "sslmode=disable")),
        env: in_app_service,
        ..Default::default()
    })
    .await;
    let r = disabled.analyse("", one_day()).await;
    assert_eq!(r.status(), 200, "{}", disabled.log());
}

// ---------------------------------------------------------------------------------------
// The failure analysis' longest window
// ---------------------------------------------------------------------------------------

/// A window over `FAILURE_ANALYSIS_MAX_DAYS` (default 93) is a 400 naming `to_date`; 93 days
/// run, with `compare_previous` too (the limit is on the asked window: at most 2 × 93 days
/// are scanned). The setting moves the limit.
#[tokio::test]
async fn a_failure_analysis_over_failure_analysis_max_days_is_a_400_naming_to_date() {
    // The 400 naming `to_date` of a window from 2025-01-01 to `to_date`: its body.
    async fn too_long(app: &TestApp, to_date: &str) -> Value {
        let r = app
            .analyse("", json!({"from_date": "2025-01-01", "to_date": to_date}))
            .await;
        assert_eq!(r.status(), 400);
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["error"]["field"], "to_date", "{body}");
        body
    }
    let db = fresh_database().await;
    let app = TestApp::with_db(db.clone()).await;
    // 2025-01-01 ..= 2025-04-04 is 94 days; ..= 2025-04-03 is 93.
    let body = too_long(&app, "2025-04-04").await;
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("93"), "{message}");
    for compare in [false, true] {
        let r = app
            .analyse(
                "",
                json!({"from_date": "2025-01-01", "to_date": "2025-04-03",
                       "compare_previous": compare}),
            )
            .await;
        assert_eq!(r.status(), 200, "compare_previous {compare}: {}", app.log());
    }

    let short = TestApp::spawn(Spawn {
        db_url: Some(db),
        env: vec![("FAILURE_ANALYSIS_MAX_DAYS".into(), "7".into())],
        ..Default::default()
    })
    .await;
    too_long(&short, "2025-01-08").await;
}

// ---------------------------------------------------------------------------------------
// Concurrency per instance
// ---------------------------------------------------------------------------------------

/// Asserts a 503 `busy` with `Retry-After` (whole seconds, here `BUSY_WAIT_SECONDS` = 1) that
/// came after the wait and well within its bound.
fn assert_busy(reply: &crate::helpers::Reply, waited: Duration) {
    reply.expect_error(503, "busy", None);
    assert_eq!(reply.header("retry-after"), Some("1"), "{}", reply.text);
    assert!(
        waited >= Duration::from_millis(900) && waited < Duration::from_secs(5),
        "answered after {waited:?}"
    );
}

/// With `FAILURE_ANALYSIS_CONCURRENCY=1` and `BUSY_WAIT_SECONDS=1`, an analysis held by a lock
/// on `calllog` keeps the one permit: a second analysis waits 1 s and gets 503 `busy` with
/// `Retry-After: 1`; the first finishes once the lock goes, and the permit is free again.
#[tokio::test]
async fn a_failure_analysis_beyond_the_concurrency_waits_then_gets_503_busy() {
    let db = two_calls_database().await;
    let name = db_name(&db);
    let api = start(
        Ch::Unset,
        Some(db.clone()),
        &[
            ("FAILURE_ANALYSIS_CONCURRENCY", "1"),
            ("BUSY_WAIT_SECONDS", "1"),
        ],
    )
    .await;
    let locker = connect(&db).await;
    locker
        .batch_execute("BEGIN; LOCK TABLE public.calllog IN ACCESS EXCLUSIVE MODE")
        .await
        .unwrap();
    let analyse = |from: &str| {
        api.call(
            Method::POST,
            "/api/failure_analysis",
            Some(json!({"from_date": from, "to_date": "2025-05-21"}).to_string()),
            &[],
        )
    };
    let held = analyse("2025-05-21");
    let second = async {
        // The first analysis waits on the lock, holding its permit.
        let admin = connect(&required_env("PG_ADMIN_URL")).await;
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let waiting: i64 = admin
                .query_one(
                    "SELECT count(*) FROM pg_stat_activity \
                     WHERE datname = $1 AND application_name = 'call-analytics' \
                     AND wait_event_type = 'Lock'",
                    &[&name],
                )
                .await
                .unwrap()
                .get(0);
            if waiting > 0 {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the first analysis never blocked"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let started = Instant::now();
        let reply = analyse("2025-05-20").await;
        let waited = started.elapsed();
        locker.batch_execute("ROLLBACK").await.unwrap();
        (reply, waited)
    };
    let (held, (busy, waited)) = tokio::join!(held, second);
    assert_busy(&busy, waited);
    held.expect(200);
    // The permit was given back.
    analyse("2025-05-19").await.expect(200);
}

/// With `CLICKHOUSE_LIVE_CONCURRENCY=1` and `BUSY_WAIT_SECONDS=1`, a live report whose
/// ClickHouse answers are held keeps the permit: a live report and a calls page asked meanwhile
/// each wait 1 s and get 503 `busy` with `Retry-After: 1`; the held one then answers 200.
#[tokio::test]
async fn live_clickhouse_queries_beyond_the_concurrency_wait_then_get_503_busy() {
    let database = database_with_calls().await;
    // Every ClickHouse answer is held until 8 s after the proxy starts (the handler's start
    // included, so a slow machine still has the live report waiting when the others come).
    let proxy = Proxy::with_faults(
        &clickhouse_url(),
        Faults {
            hold_until: Some((usize::MAX, Duration::from_secs(8))),
            ..Default::default()
        },
    )
    .await;
    let api = start(
        Ch::Unset,
        None,
        &[
            ("CLICKHOUSE_URL", &proxy.url),
            ("CLICKHOUSE_DATABASE", &database),
            ("CLICKHOUSE_LIVE_CONCURRENCY", "1"),
            ("BUSY_WAIT_SECONDS", "1"),
            // The held answers are slow, not missing.
            ("CLICKHOUSE_CONNECT_TIMEOUT", "30"),
        ],
    )
    .await;
    let held = api.get("/api/reports/live");
    let others = async {
        let deadline = Instant::now() + Duration::from_secs(5);
        while proxy.requests() == 0 {
            assert!(Instant::now() < deadline, "the live report sent no query");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let mut replies = vec![];
        for path in ["/api/reports/live", "/api/reports/calls"] {
            let started = Instant::now();
            let reply = api.get(path).await;
            replies.push((reply, started.elapsed()));
        }
        replies
    };
    let (held, others) = tokio::join!(held, others);
    for (reply, waited) in &others {
        assert_busy(reply, *waited);
    }
    held.expect(200);
    api.get("/api/reports/live").await.expect(200);
}

// ---------------------------------------------------------------------------------------
// /api/deliveries in pages
// ---------------------------------------------------------------------------------------

fn record(date: NaiveDate, channel: &str) -> Record {
    Record {
        org_id: id_of(PAUL_ORG),
        date,
        channel_id: channel.into(),
        kind: ChannelKind::Webhook,
        state: State::Sent,
        claimed_at: Utc.with_ymd_and_hms(2025, 12, 1, 6, 0, 0).unwrap(),
        attempts: 1,
        firings: 1,
        retry_later: false,
        status: Some(200),
        at: None,
        last_error: None,
        takeovers: 0,
    }
}

/// Every page of `/api/deliveries?<query>` with `limit`, followed through `next_cursor`:
/// `"<date> <channel_id>"` of each record, page by page.
async fn pages(api: &Api, query: &str, limit: usize) -> Vec<Vec<String>> {
    let mut cursor: Option<String> = None;
    let mut pages = vec![];
    loop {
        let mut path = format!("/api/deliveries?org_id={PAUL_ORG}&limit={limit}{query}");
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={}", urlencode(c)));
        }
        let reply = api.get(&path).await;
        let body = reply.expect(200);
        let page: Vec<String> = body["deliveries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                format!(
                    "{} {}",
                    r["date"].as_str().unwrap(),
                    r["channel_id"].as_str().unwrap()
                )
            })
            .collect();
        assert!(page.len() <= limit, "{}", reply.text);
        pages.push(page);
        match body["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => {
                assert!(body["next_cursor"].is_null(), "{}", reply.text);
                return pages;
            }
        }
        assert!(pages.len() < 20, "no end of pages");
    }
}

fn urlencode(v: &str) -> String {
    percent_encoding::utf8_percent_encode(v, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// `GET /api/deliveries` answers at most `limit` records (default 100, at most 1000) by date
/// then channel, with `next_cursor` for the rest: following it gives every record once, in
/// the same order as one page, `from`/`to` included. A bad `limit` or `cursor` is a 400
/// naming it.
#[tokio::test]
async fn deliveries_are_listed_in_pages_in_a_stable_order() {
    let api = start(Ch::Unset, None, &[]).await;
    let storage = api.app.storage().await;
    let d = |s: &str| s.parse::<NaiveDate>().unwrap();
    let mut all = vec![];
    for date in ["2025-12-01", "2025-12-02", "2025-12-03"] {
        for channel in ["ops", "a", "sales-eu"] {
            let r = record(d(date), channel);
            let name = claims::name(&id_of(PAUL_ORG), r.date, &r.channel_id);
            put_json(&storage, &name, serde_json::to_vec(&r).unwrap()).await;
            all.push(format!("{date} {channel}"));
        }
    }
    all.sort();
    let one: Vec<String> = pages(&api, "", 100).await.concat();
    assert_eq!(one, all, "one page has every record by date, then channel");
    let paged = pages(&api, "", 2).await;
    assert_eq!(
        paged.iter().map(Vec::len).collect::<Vec<_>>(),
        [2, 2, 2, 2, 1]
    );
    assert_eq!(paged.concat(), all, "the pages are the one page cut");
    let window = pages(&api, "&from=2025-12-02&to=2025-12-03", 4).await;
    assert_eq!(
        window.iter().map(Vec::len).collect::<Vec<_>>(),
        [4, 2],
        "{window:?}"
    );
    assert_eq!(window.concat(), all[3..]);
    // The default page is 100 records; the largest 1000.
    let first = api.get(&format!("/api/deliveries?org_id={PAUL_ORG}")).await;
    assert_eq!(first.expect(200)["next_cursor"], Value::Null);
    for bad in ["0", "1001", "x", "-1"] {
        api.get(&format!("/api/deliveries?org_id={PAUL_ORG}&limit={bad}"))
            .await
            .expect_error(400, "invalid_field", Some("limit"));
    }
    for bad in ["x", "2025-13-01/ops", "2025-12-01", "2025-12-01/"] {
        api.get(&format!(
            "/api/deliveries?org_id={PAUL_ORG}&cursor={}",
            urlencode(bad)
        ))
        .await
        .expect_error(400, "invalid_field", Some("cursor"));
    }
}
