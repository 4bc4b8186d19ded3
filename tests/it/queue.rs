//! The work queue (`docs/scale-out.md`) against Azurite's queue service: the tests play the
//! Functions host's queue listener as Microsoft documents it (`helpers::Listener`, the same
//! code `scripts/bench/queue` runs) — dequeue with a visibility timeout, POST
//! `/daily_report_worker` with `{"Data": {"message": …}, "Metadata": {"DequeueCount", "Id",
//! …}}`, delete the message on 2xx, let it reappear after the visibility timeout otherwise,
//! and move it to `<queue>-poison` once a failed delivery reaches `maxDequeueCount` (5, as
//! `host.json` sets). Each test has its own queue and container.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use base64::Engine as _;
use call_analytics::configuration::{QueueAccount, QueueSettings, Secret, StorageSettings};
use call_analytics::orgs::{self, ChannelKind, Notification, Organization};
use call_analytics::queue::{Received, ReportMessage, Which, WorkQueue};
use call_analytics::storage::Storage;
use chrono::{NaiveDate, Utc};
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;

use crate::helpers::{
    Answer, ClickHouseDb, Delivered, Listener, Receiver, Spawn, TestApp, azurite, closed_port,
    document, id_of, timer_payload, unique, validate,
};

/// The report message a received queue message carries (base64 of its JSON, as the product
/// sends it).
fn report_message(m: &Received) -> ReportMessage {
    let json = base64::engine::general_purpose::STANDARD
        .decode(&m.text)
        .unwrap();
    serde_json::from_slice(&json).unwrap()
}

/// A fresh queue name (the queue does not exist yet).
fn fresh_queue() -> String {
    unique("q-")
}

fn work_queue(name: &str) -> WorkQueue {
    WorkQueue::new(
        &QueueSettings {
            name: name.into(),
            account: QueueAccount::ConnectionString(Secret::new(azurite())),
        },
        Duration::from_secs(10),
    )
    .expect("queue client")
}

/// The handler's settings: the queue, ClickHouse at `ch_url`, `SCHEDULER_HOUR=0`.
fn env(
    queue: &str,
    ch_url: &str,
    database: &str,
    extra: &[(&str, String)],
) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = [
        ("REPORT_QUEUE", queue.to_string()),
        ("AzureWebJobsStorage", azurite()),
        ("CLICKHOUSE_URL", ch_url.to_string()),
        ("CLICKHOUSE_DATABASE", database.to_string()),
        ("SCHEDULER_HOUR", "0".into()),
        ("SCHEDULER_MINUTE", "0".into()),
        ("LOG_LEVEL", "info".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.clone())));
    env
}

async fn spawn(env: Vec<(String, String)>, share: Option<&StorageSettings>) -> TestApp {
    let mut env = env;
    if let Some(StorageSettings::ConnectionString { container, .. }) = share {
        env.push(("AZURE_STORAGE_CONTAINER".into(), container.clone()));
    }
    let mut app = TestApp::spawn(Spawn {
        env,
        ..Spawn::default()
    })
    .await;
    if let Some(s) = share {
        app.storage_settings = s.clone();
    }
    app
}

/// An active org in UTC, written to `storage`.
async fn create_org(storage: &Storage) -> Organization {
    let now = Utc::now();
    let org = Organization {
        org_id: id_of(&uuid::Uuid::new_v4().to_string()),
        name: "Queue org".into(),
        node_persistent_id: uuid::Uuid::new_v4().to_string(),
        timezone: chrono_tz::UTC,
        is_active: true,
        excluded_numbers: vec![],
        notifications: vec![],
        created_at: now,
        updated_at: now,
    };
    orgs::create(storage, &org).await.expect("create org");
    org
}

fn days_ago(n: i64) -> NaiveDate {
    Utc::now().date_naive() - chrono::Duration::days(n)
}

/// The report dates stored for `org_id` (`reports/<org>/<date>.json`), and how many report
/// blobs there are in all (revisions included).
async fn stored(storage: &Storage, org_id: &str) -> (BTreeSet<NaiveDate>, usize) {
    let prefix = format!("reports/{org_id}/");
    let mut dates = BTreeSet::new();
    let mut blobs = 0;
    let mut next = None;
    loop {
        let page = storage.list(&prefix, next, 5000).await.expect("list");
        for e in &page.entries {
            let rest = &e.name[prefix.len()..];
            if let Some(d) = rest.strip_suffix(".json").and_then(|d| d.parse().ok()) {
                assert!(dates.insert(d), "{} twice", e.name);
                blobs += 1;
            } else if rest.contains("/rev-") {
                blobs += 1;
            }
        }
        match page.next {
            Some(n) => next = Some(n),
            None => break,
        }
    }
    (dates, blobs)
}

/// (a) With a queue the timer enqueues the due (org, date) pairs and generates nothing inline;
/// draining the queue stores each report once, `notify` only on the newest date, and the
/// org's webhook gets that date's digest exactly once, a repeated delivery included.
#[tokio::test]
async fn the_timer_enqueues_and_the_worker_stores_each_report_once() {
    let hook = Receiver::start(vec![Answer::Status(200)]).await;
    let src = ClickHouseDb::fresh().await;
    let queue = fresh_queue();
    let org_id = uuid::Uuid::new_v4().to_string();
    let app = spawn(
        env(
            &queue,
            &src.url,
            &src.database,
            &[
                ("ORG_ID", org_id.clone()),
                (
                    "BROKER_NODE_PERSISTENT_ID",
                    uuid::Uuid::new_v4().to_string(),
                ),
                ("CATCHUP_DAYS", "3".into()),
                ("RESTATE_DAYS", "0".into()),
                ("ALLOW_INSECURE_WEBHOOKS", "true".into()),
            ],
        ),
        None,
    )
    .await;
    let storage = app.storage().await;
    let (mut org, etag) = orgs::get(&storage, &id_of(&org_id))
        .await
        .unwrap()
        .expect("the default org");
    org.notifications = vec![Notification {
        id: "erp".into(),
        kind: ChannelKind::Webhook,
        url: Some(Secret::new(hook.url.clone())),
        secret: Some(Secret::new("queue-test-signing-key-0123456789".to_string())),
        to: vec![],
        enabled: true,
    }];
    orgs::replace(&storage, &org, &etag).await.unwrap();
    let reply = app
        .client
        .post(format!("{}/daily_report_timer", app.address))
        .json(&timer_payload(false))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 200, "{}", app.log());
    let body: Value = reply.json().await.unwrap();
    let run = &body["ReturnValue"];
    let newest = days_ago(1);
    let due: Vec<String> = (1..=3).rev().map(|n| days_ago(n).to_string()).collect();
    assert_eq!(run["enqueued"][0]["org_id"], org_id.as_str(), "{run}");
    assert_eq!(run["enqueued"][0]["dates"], json!(due), "{run}");
    assert_eq!(run["orgs"][0]["generated"], json!([]), "{run}");
    assert!(
        stored(&storage, &org_id).await.0.is_empty(),
        "nothing inline"
    );

    // The messages: notify only on the newest date.
    let q = work_queue(&queue);
    let peeked = q
        .receive(Which::Work, 32, Duration::from_secs(1))
        .await
        .unwrap();
    let mut notify = Vec::new();
    for m in &peeked {
        let msg = report_message(m);
        if msg.notify {
            notify.push(msg.date);
        }
    }
    assert_eq!(peeked.len(), 3);
    assert_eq!(notify, [newest]);
    tokio::time::sleep(Duration::from_millis(1100)).await;

    let listener = Listener::new(q.clone(), Duration::from_secs(5));
    let results = listener
        .drain(&app.address, Instant::now() + Duration::from_secs(60))
        .await;
    assert_eq!(results.len(), 3, "{results:?}");
    assert!(
        results
            .iter()
            .all(|(d, v)| *d == Delivered::Done && v["ReturnValue"]["status"] == "stored")
    );
    let (dates, blobs) = stored(&storage, &org_id).await;
    assert_eq!((dates.len(), blobs), (3, 3));
    let digests: Vec<Value> = hook.got().iter().map(|g| g.json()).collect();
    assert_eq!(digests.len(), 1, "{digests:?}");
    assert_eq!(digests[0]["event"], "daily_report.ready", "{digests:?}");
    assert_eq!(digests[0]["org_id"], org_id.as_str(), "{digests:?}");
    assert_eq!(digests[0]["date"], newest.to_string(), "{digests:?}");

    // A repeated delivery makes no second report.
    q.enqueue(&[ReportMessage {
        org_id: id_of(&org_id),
        date: newest,
        force: false,
        notify: true,
        job_id: None,
    }])
    .await
    .into_iter()
    .for_each(|r| r.unwrap());
    let again = listener
        .drain(&app.address, Instant::now() + Duration::from_secs(30))
        .await;
    assert_eq!(again[0].1["ReturnValue"]["status"], "exists");
    assert_eq!(stored(&storage, &org_id).await.1, 3);
    assert_eq!(hook.got().len(), 1, "the digest is claimed once");

    // The status route shows the queue.
    let status: Value = app
        .client
        .get(format!("{}/api/scheduler/status", app.address))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(status["queue"]["name"], queue.as_str(), "{status}");
    assert_eq!(status["queue"]["poison_count"], 0, "{status}");
}

/// (b) Exactly once: 4 handler processes drain 2,000 (org, date) messages plus duplicates, one
/// of them killed (`kill -9`) with messages in flight: every report is stored exactly once.
#[tokio::test]
async fn four_workers_store_two_thousand_reports_exactly_once_despite_a_kill() {
    const ORGS: usize = 20;
    const DATES: i64 = 100;
    let started = Instant::now();
    let src = ClickHouseDb::fresh().await;
    let queue = fresh_queue();
    let first = spawn(env(&queue, &src.url, &src.database, &[]), None).await;
    let shared = first.storage_settings.clone();
    let mut handlers = vec![first];
    for _ in 1..4 {
        handlers.push(spawn(env(&queue, &src.url, &src.database, &[]), Some(&shared)).await);
    }
    let storage = handlers[0].storage().await;
    let mut orgs = Vec::new();
    for _ in 0..ORGS {
        orgs.push(create_org(&storage).await);
    }
    let mut messages = Vec::new();
    for org in &orgs {
        for n in 2..2 + DATES {
            messages.push(ReportMessage {
                org_id: org.org_id.clone(),
                date: days_ago(n),
                force: false,
                notify: false,
                job_id: None,
            });
        }
    }
    // Duplicates: every tenth message twice.
    let duplicates: Vec<_> = messages.iter().step_by(10).cloned().collect();
    messages.extend(duplicates);
    let q = work_queue(&queue);
    for r in q.enqueue(&messages).await {
        r.expect("enqueue");
    }
    eprintln!(
        "queue: {} messages enqueued after {:?}",
        messages.len(),
        started.elapsed()
    );

    let drain_started = Instant::now();
    let done = Arc::new(AtomicUsize::new(0));
    let addresses: Vec<String> = handlers.iter().map(|h| h.address.clone()).collect();
    let stops: Vec<Arc<AtomicBool>> = (0..4).map(|_| Arc::new(AtomicBool::new(false))).collect();
    let mut workers = Vec::new();
    for (h, address) in addresses.iter().enumerate() {
        // One instance per handler, as `host.json` sets it: 4 messages at once.
        let listener = Listener::new(q.clone(), Duration::from_secs(8));
        let address = address.clone();
        let done = done.clone();
        let stop = stops[h].clone();
        workers.push(tokio::spawn(async move {
            // A hang guard, not a timing assertion: the drain takes 1.5-2.5 min on 2 busy
            // cores (the chdb front answers one query at a time).
            let deadline = Instant::now() + Duration::from_secs(900);
            listener
                .instance(&address, 4, &stop, deadline, |d, v| {
                    if d == Delivered::Done {
                        assert!(
                            matches!(
                                v["ReturnValue"]["status"].as_str(),
                                Some("stored" | "exists")
                            ),
                            "{v}"
                        );
                        done.fetch_add(1, Ordering::SeqCst);
                    }
                })
                .await;
        }));
    }
    // Kill handler 0 mid-drain, its workers with messages in flight.
    while done.load(Ordering::SeqCst) < 400 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    handlers[0].kill();
    eprintln!(
        "queue: handler 0 killed after {} deliveries",
        done.load(Ordering::SeqCst)
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    stops[0].store(true, Ordering::SeqCst);
    for w in workers {
        w.await.expect("worker");
    }
    let drained = drain_started.elapsed();
    let mut total = 0;
    for org in &orgs {
        let (dates, blobs) = stored(&storage, org.org_id.as_str()).await;
        assert_eq!(dates.len(), DATES as usize, "{}", org.org_id);
        assert_eq!(
            blobs, DATES as usize,
            "{}: a report stored twice",
            org.org_id
        );
        let want: BTreeSet<NaiveDate> = (2..2 + DATES).map(days_ago).collect();
        assert_eq!(dates, want);
        total += blobs;
    }
    assert_eq!(total, 2000);
    assert_eq!(q.poison_count().await.unwrap(), 0);
    eprintln!(
        "queue: 2,000 reports ({} messages) drained by 4 handlers in {drained:?}; test {:?}",
        messages.len(),
        started.elapsed()
    );
}

/// (c) A message for an absent org is answered 2xx, recorded, and not retried.
#[tokio::test]
async fn a_message_for_a_deleted_org_is_recorded_not_retried() {
    let src = ClickHouseDb::fresh().await;
    let queue = fresh_queue();
    let app = spawn(env(&queue, &src.url, &src.database, &[]), None).await;
    let q = work_queue(&queue);
    let ghost = uuid::Uuid::new_v4().to_string();
    for r in q
        .enqueue(&[ReportMessage {
            org_id: id_of(&ghost),
            date: days_ago(2),
            force: false,
            notify: true,
            job_id: None,
        }])
        .await
    {
        r.unwrap();
    }
    // And a malformed one.
    q.send_text(
        Which::Work,
        base64::engine::general_purpose::STANDARD.encode(r#"{"org_id": 7}"#),
    )
    .await
    .unwrap();
    let listener = Listener::new(q.clone(), Duration::from_secs(2));
    let results = listener
        .drain(&app.address, Instant::now() + Duration::from_secs(30))
        .await;
    assert_eq!(results.len(), 2, "delivered once each: {results:?}");
    let mut errors = Vec::new();
    for (d, v) in &results {
        assert_eq!(*d, Delivered::Done);
        assert_eq!(v["ReturnValue"]["status"], "rejected", "{v}");
        assert_eq!(v["ReturnValue"]["dequeue_count"], 1, "{v}");
        assert!(v["Logs"][0].as_str().unwrap().contains("rejected"), "{v}");
        errors.push(v["ReturnValue"]["error"].as_str().unwrap().to_string());
    }
    errors.sort();
    assert!(errors[0].starts_with("Data.message: org_id"), "{errors:?}");
    assert_eq!(errors[1], format!("organization {ghost} not found"));
    assert_eq!(q.poison_count().await.unwrap(), 0);
    assert!(app.log().contains("not found"));
}

/// A TCP front to the ClickHouse front that can be switched off (connections closed at once).
async fn switchable(upstream: &str, up: Arc<AtomicBool>) -> String {
    let upstream = url::Url::parse(upstream).unwrap();
    let target = format!(
        "{}:{}",
        upstream.host_str().unwrap(),
        upstream.port_or_known_default().unwrap()
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            if !up.load(Ordering::SeqCst) {
                let _ = client.shutdown().await;
                continue;
            }
            let target = target.clone();
            tokio::spawn(async move {
                if let Ok(mut server) = tokio::net::TcpStream::connect(target).await {
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                }
            });
        }
    });
    url
}

/// (d) A ClickHouse outage makes the worker answer non-2xx; the message reappears and succeeds
/// once ClickHouse is back.
#[tokio::test]
async fn a_clickhouse_outage_leaves_the_message_to_reappear_and_succeed_later() {
    let src = ClickHouseDb::fresh().await;
    let up = Arc::new(AtomicBool::new(false));
    let front = switchable(&src.url, up.clone()).await;
    let queue = fresh_queue();
    let app = spawn(env(&queue, &front, &src.database, &[]), None).await;
    let storage = app.storage().await;
    let org = create_org(&storage).await;
    let q = work_queue(&queue);
    let date = days_ago(2);
    for r in q
        .enqueue(&[ReportMessage {
            org_id: org.org_id.clone(),
            date,
            force: false,
            notify: false,
            job_id: None,
        }])
        .await
    {
        r.unwrap();
    }
    let listener = Listener::new(q.clone(), Duration::from_secs(1));
    let m = q
        .receive(Which::Work, 1, Duration::from_secs(1))
        .await
        .unwrap();
    let (d, v) = listener.deliver(&app.address, &m[0], false).await;
    assert_eq!(d, Delivered::Left, "{v}");
    assert_eq!(v["ReturnValue"]["status"], "failed", "{v}");
    assert!(stored(&storage, org.org_id.as_str()).await.0.is_empty());
    up.store(true, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let results = listener
        .drain(&app.address, Instant::now() + Duration::from_secs(30))
        .await;
    assert_eq!(results.len(), 1, "{results:?}");
    assert_eq!(results[0].0, Delivered::Done);
    assert_eq!(results[0].1["ReturnValue"]["dequeue_count"], 2);
    assert_eq!(
        stored(&storage, org.org_id.as_str()).await.0,
        BTreeSet::from([date])
    );
}

/// (e) A message that keeps failing goes to the poison queue after `maxDequeueCount`
/// deliveries, and the status route counts it; its job counts it as failed (`poisoned`).
#[tokio::test]
async fn a_message_past_max_dequeue_count_is_poisoned_and_counted() {
    let src = ClickHouseDb::fresh().await;
    let queue = fresh_queue();
    let dead = format!("http://127.0.0.1:{}", closed_port());
    let app = spawn(
        env(
            &queue,
            &dead,
            &src.database,
            &[("CLICKHOUSE_CONNECT_TIMEOUT", "1".into())],
        ),
        None,
    )
    .await;
    let storage = app.storage().await;
    let org = create_org(&storage).await;
    let date = days_ago(2);
    let job_id = start_job(&app, date, date, 1).await;
    let q = work_queue(&queue);
    let listener = Listener::new(q.clone(), Duration::from_secs(1));
    let results = listener
        .drain(&app.address, Instant::now() + Duration::from_secs(60))
        .await;
    let kinds: Vec<Delivered> = results.iter().map(|(d, _)| *d).collect();
    assert_eq!(
        kinds,
        [
            Delivered::Left,
            Delivered::Left,
            Delivered::Left,
            Delivered::Left,
            Delivered::Poisoned
        ]
    );
    assert_eq!(q.poison_count().await.unwrap(), 1);
    let status: Value = app
        .client
        .get(format!("{}/api/scheduler/status", app.address))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(status["queue"]["poison_queue"], format!("{queue}-poison"));
    assert_eq!(status["queue"]["poison_count"], 1, "{status}");

    let (code, job) = job_status(&app, &job_id).await;
    assert_eq!(code, 200, "{job}");
    assert_eq!(
        (
            &job["status"],
            &job["stored"],
            &job["failed"],
            &job["pending"]
        ),
        (
            &json!("done_with_failures"),
            &json!(0),
            &json!(1),
            &json!(0)
        ),
        "{job}"
    );
    let record = failure_record(&storage, &job_id, &org, date).await;
    assert_eq!(record["kind"], "poisoned", "{record}");
}

/// Starts a backfill job over every active org for `[from, to]` (202): its id; `total` must
/// be `want_total`.
async fn start_job(app: &TestApp, from: NaiveDate, to: NaiveDate, want_total: u64) -> String {
    let reply = app
        .client
        .post(format!("{}/api/reports/backfill", app.address))
        .json(&json!({"from": from.to_string(), "to": to.to_string()}))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 202, "{}", app.log());
    let started: Value = reply.json().await.unwrap();
    assert_eq!(started["total"], want_total, "{started}");
    started["job_id"].as_str().unwrap().to_string()
}

/// `GET /api/jobs/{job_id}` as the local operator: status and JSON body, a 200's checked
/// against the OpenAPI document's `JobStatus`.
async fn job_status(app: &TestApp, job_id: &str) -> (u16, Value) {
    let r = app
        .client
        .get(format!("{}/api/jobs/{job_id}", app.address))
        .send()
        .await
        .unwrap();
    let code = r.status().as_u16();
    let body = r.json::<Value>().await.unwrap_or(Value::Null);
    if code == 200 {
        let doc = document();
        let schema = &doc["components"]["schemas"]["JobStatus"];
        validate(&doc, schema, &body, "GET /api/jobs/{job_id}");
    }
    (code, body)
}

/// The worker's record of `org`'s `date` given up on in the job `job_id`.
async fn failure_record(
    storage: &Storage,
    job_id: &str,
    org: &Organization,
    date: NaiveDate,
) -> Value {
    let name = format!("jobs/{job_id}/failed/{}/{date}.json", org.org_id);
    let object = storage.get(&name).await.unwrap().expect("a failure record");
    serde_json::from_slice(&object.body).unwrap()
}

/// (e) With a queue a backfill is a job: 202 with its id and total, one message per (org,
/// date) carrying the job id; its status counts what is stored, admin only.
#[tokio::test]
async fn a_backfill_with_a_queue_is_a_job_whose_status_counts_what_is_stored() {
    let src = ClickHouseDb::fresh().await;
    let queue = fresh_queue();
    let app = spawn(env(&queue, &src.url, &src.database, &[]), None).await;
    let storage = app.storage().await;
    let orgs = [create_org(&storage).await, create_org(&storage).await];
    let (from, to) = (days_ago(4), days_ago(2));
    let reply = app
        .client
        .post(format!("{}/api/reports/backfill", app.address))
        .json(&json!({"from": from.to_string(), "to": to.to_string()}))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 202, "{}", app.log());
    let started: Value = reply.json().await.unwrap();
    let job_id = started["job_id"].as_str().unwrap().to_string();
    assert_eq!(started["total"], 6, "{started}");
    assert_eq!(started["status_url"], format!("/api/jobs/{job_id}"));
    assert!(
        storage
            .get(&format!("jobs/{job_id}.json"))
            .await
            .unwrap()
            .is_some()
    );

    // The messages: one per (org, date), each with the job id, notify only on `to`.
    let q = work_queue(&queue);
    let peeked = q
        .receive(Which::Work, 32, Duration::from_secs(1))
        .await
        .unwrap();
    let mut pairs = BTreeSet::new();
    for m in &peeked {
        let msg = report_message(m);
        assert_eq!(msg.job_id.map(|id| id.to_string()), Some(job_id.clone()));
        assert!(!msg.notify);
        pairs.insert((msg.org_id.to_string(), msg.date));
    }
    assert_eq!((peeked.len(), pairs.len()), (6, 6));
    for org in &orgs {
        assert!(pairs.contains(&(org.org_id.to_string(), from)));
    }
    tokio::time::sleep(Duration::from_millis(1100)).await;

    let status = |principal: Option<String>, id: String| {
        let mut r = app.client.get(format!("{}/api/jobs/{id}", app.address));
        if let Some(p) = principal {
            r = r.header("X-MS-CLIENT-PRINCIPAL", p);
        }
        async move {
            let r = r.send().await.unwrap();
            (
                r.status().as_u16(),
                r.json::<Value>().await.unwrap_or(Value::Null),
            )
        }
    };
    let (code, before) = job_status(&app, &job_id).await;
    assert_eq!(code, 200, "{before}");
    assert_eq!(
        (
            &before["status"],
            &before["total"],
            &before["stored"],
            &before["failed"],
            &before["pending"]
        ),
        (
            &json!("running"),
            &json!(6),
            &json!(0),
            &json!(0),
            &json!(6)
        ),
        "{before}"
    );
    assert!(before["started_at"].is_string(), "{before}");
    assert!(before.get("finished_at").is_none(), "{before}");

    let listener = Listener::new(q.clone(), Duration::from_secs(5));
    let results = listener
        .drain(&app.address, Instant::now() + Duration::from_secs(60))
        .await;
    assert_eq!(results.len(), 6, "{results:?}");
    assert!(
        results.iter().all(|(d, _)| *d == Delivered::Done),
        "{results:?}"
    );
    let (code, after) = job_status(&app, &job_id).await;
    assert_eq!(code, 200, "{after}");
    assert_eq!(
        (
            &after["status"],
            &after["stored"],
            &after["failed"],
            &after["pending"]
        ),
        (&json!("done"), &json!(6), &json!(0), &json!(0)),
        "{after}"
    );
    assert!(after["finished_at"].is_string(), "{after}");

    // Admin only; the job id is a UUID; an unknown job is a 404.
    let reader = crate::helpers::principal(&[&format!("org:{}", orgs[0].org_id)]);
    assert_eq!(status(Some(reader.clone()), job_id.clone()).await.0, 403);
    let denied = app
        .client
        .post(format!("{}/api/reports/backfill", app.address))
        .header("X-MS-CLIENT-PRINCIPAL", reader)
        .json(&json!({"from": from.to_string(), "to": to.to_string()}))
        .send()
        .await
        .unwrap();
    assert_eq!(denied.status(), 403);
    let (code, bad) = status(None, "not-a-uuid".into()).await;
    assert_eq!(
        (code, &bad["error"]["field"]),
        (400, &json!("job_id")),
        "{bad}"
    );
    let (code, _) = status(None, uuid::Uuid::new_v4().to_string()).await;
    assert_eq!(code, 404);
}

/// (e) A job whose org is deleted before the worker gets to it: the worker rejects those
/// messages and records them, and the job ends `done_with_failures` instead of staying
/// pending.
#[tokio::test]
async fn a_job_counts_the_dates_of_a_deleted_org_as_failed() {
    let src = ClickHouseDb::fresh().await;
    let queue = fresh_queue();
    let app = spawn(env(&queue, &src.url, &src.database, &[]), None).await;
    let storage = app.storage().await;
    let kept = create_org(&storage).await;
    let gone = create_org(&storage).await;
    let date = days_ago(2);
    let job_id = start_job(&app, date, date, 2).await;
    storage.delete(&orgs::doc_name(&gone.org_id)).await.unwrap();

    let listener = Listener::new(work_queue(&queue), Duration::from_secs(5));
    let results = listener
        .drain(&app.address, Instant::now() + Duration::from_secs(60))
        .await;
    let mut statuses: Vec<&str> = results
        .iter()
        .map(|(d, v)| {
            assert_eq!(*d, Delivered::Done, "{v}");
            v["ReturnValue"]["status"].as_str().unwrap()
        })
        .collect();
    statuses.sort();
    assert_eq!(statuses, ["rejected", "stored"]);

    let (code, job) = job_status(&app, &job_id).await;
    assert_eq!(code, 200, "{job}");
    assert_eq!(
        (
            &job["status"],
            &job["total"],
            &job["stored"],
            &job["failed"],
            &job["pending"]
        ),
        (
            &json!("done_with_failures"),
            &json!(2),
            &json!(1),
            &json!(1),
            &json!(0)
        ),
        "{job}"
    );
    assert!(job["finished_at"].is_string(), "{job}");
    let record = failure_record(&storage, &job_id, &gone, date).await;
    assert_eq!(record["kind"], "rejected", "{record}");
    assert_eq!(
        record["error"],
        format!("organization {} not found", gone.org_id),
        "{record}"
    );
    assert_eq!(
        stored(&storage, kept.org_id.as_str()).await.0,
        BTreeSet::from([date])
    );
}
