//! The `daily_report_timer` function driven as the Functions host drives it: the handler runs
//! as a process on a fresh Azurite container, reads a fresh ClickHouse database on the chdb
//! front (`CLICKHOUSE_TEST_URL`), and receives `POST /daily_report_timer` with the timer
//! trigger's invocation body. Fixture calls are placed on dates relative to today in each
//! org's zone, and `SCHEDULER_HOUR=0` makes yesterday due whatever the hour.
//!
//! Also the storage layer under it, against Azurite: organization documents
//! (`call_analytics::orgs`) and report snapshots (`call_analytics::daily_report::snapshots`).

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use call_analytics::clickhouse::{CallStats, ClickHouse};
use call_analytics::configuration::StorageSettings;
use call_analytics::daily_report::provenance::Supersedes;
use call_analytics::daily_report::query::DayCounts;
use call_analytics::daily_report::report::{self, DailyReport};
use call_analytics::daily_report::schedule::OrgRun;
use call_analytics::daily_report::snapshots::{self, Written};
use call_analytics::orgs::{self, OrgError, Organization};
use call_analytics::scheduler::{LAST_RUN, RunResult, RunStatus};
use call_analytics::storage::{Entry, Storage};
use chrono::{DateTime, NaiveDate, TimeZone, Timelike, Utc};
use chrono_tz::Tz;
use serde_json::{Value, json};

use crate::helpers::id_of;
use crate::helpers::{
    ClickHouseDb, Faults, Proxy, Spawn, TestApp, free_port, fresh_store, insert_rows, put_json,
};

// ---------------------------------------------------------------------------------------
// Rig
// ---------------------------------------------------------------------------------------

/// An organization of a fixture (ids are lower-case UUIDs, as stored).
#[derive(Clone)]
struct OrgDef {
    id: String,
    node: String,
    name: &'static str,
    tz: Tz,
}

impl OrgDef {
    fn new(name: &'static str, tz: Tz) -> OrgDef {
        OrgDef {
            id: uuid::Uuid::new_v4().to_string(),
            node: uuid::Uuid::new_v4().to_string(),
            name,
            tz,
        }
    }

    /// The org as a document, for `orgs::create`.
    fn doc(&self, is_active: bool) -> Organization {
        let now = Utc::now();
        Organization {
            org_id: id_of(&self.id),
            name: self.name.into(),
            node_persistent_id: self.node.clone(),
            timezone: self.tz,
            is_active,
            excluded_numbers: vec![],
            notifications: vec![],
            created_at: now,
            updated_at: now,
        }
    }

    /// The local date `days` days before today in the org's zone.
    fn days_ago(&self, days: i64) -> NaiveDate {
        firing_now().with_timezone(&self.tz).date_naive() - chrono::Duration::days(days)
    }

    /// `date` at local noon, in UTC: inside the date's window whatever the DST rules.
    fn noon(&self, date: NaiveDate) -> DateTime<Utc> {
        self.tz
            .from_local_datetime(&date.and_hms_opt(12, 0, 0).unwrap())
            .single()
            .expect("noon exists once")
            .with_timezone(&Utc)
    }
}

/// Rows of a fixture: each call is a run, its session, and (optionally) one output.
#[derive(Default)]
struct Calls {
    runs: Vec<Value>,
    sessions: Vec<Value>,
    outputs: Vec<Value>,
}

fn ch_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S%.3f").to_string()
}

impl Calls {
    /// A call of `org_id` at `at` lasting `seconds`; with `output = Some((node, class))` the
    /// node wrote `result.call.call_classification = class` ten minutes later.
    fn call(
        &mut self,
        org_id: &str,
        at: DateTime<Utc>,
        seconds: f64,
        output: Option<(&str, &str)>,
    ) -> &mut Self {
        let run = uuid::Uuid::new_v4().to_string();
        self.runs.push(json!({"id": run, "timestamp": ch_time(at)}));
        let n = self.sessions.len();
        self.sessions.push(
            json!({"id": format!("s-{run}"), "run_id": run, "org_id": org_id,
            "user_number": format!("+1312555{n:04}"), "duration": seconds}),
        );
        if let Some((node, class)) = output {
            let data = json!({"result.call.call_classification": class,
                "result.call.call_stage": "GREETING"});
            self.outputs
                .push(json!({"id": format!("o-{run}"), "run_id": run,
                "node_persistent_id": node, "flat_data": data.to_string(),
                "timestamp": ch_time(at + chrono::Duration::minutes(10))}));
        }
        self
    }

    /// Inserts the rows into `ch`'s database.
    async fn load(&self, ch: &ClickHouse) {
        insert_rows(
            ch,
            &[
                ("public_runs", &self.runs),
                ("public_sessions", &self.sessions),
                ("public_node_outputs", &self.outputs),
            ],
        )
        .await;
    }
}

/// The handler's settings for a default org `org` reading `src`.
fn handler_env(src: &ClickHouseDb, org: &OrgDef, catchup_days: u32) -> Vec<(String, String)> {
    handler_env_with_url(&src.url, &src.database, org, catchup_days)
}

fn handler_env_with_url(
    url: &str,
    database: &str,
    org: &OrgDef,
    catchup_days: u32,
) -> Vec<(String, String)> {
    [
        ("CLICKHOUSE_URL", url.to_string()),
        ("CLICKHOUSE_DATABASE", database.to_string()),
        ("ORG_ID", org.id.clone()),
        ("BROKER_NODE_PERSISTENT_ID", org.node.clone()),
        ("CLIENT_NAME", org.name.to_string()),
        ("DEFAULT_TIMEZONE", org.tz.name().to_string()),
        ("SCHEDULER_HOUR", "0".into()),
        ("SCHEDULER_MINUTE", "0".into()),
        ("CATCHUP_DAYS", catchup_days.to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

async fn spawn(env: Vec<(String, String)>) -> TestApp {
    TestApp::spawn(Spawn {
        env,
        ..Spawn::default()
    })
    .await
}

/// A handler on the same blob container as `other` (the later `AZURE_STORAGE_CONTAINER` wins).
async fn spawn_sharing(other: &StorageSettings, mut env: Vec<(String, String)>) -> TestApp {
    let StorageSettings::ConnectionString { container, .. } = other else {
        panic!("an Azurite container")
    };
    env.push(("AZURE_STORAGE_CONTAINER".into(), container.clone()));
    let mut app = spawn(env).await;
    app.storage_settings = other.clone();
    app
}

/// The timer trigger's invocation body, as the host sends it.
/// The instant every firing of this run says it is (`Metadata.sys.UtcNow`, the host's clock,
/// which the handler takes as the firing's time): today 12:00 UTC, when no zone of these
/// tests is near its midnight, so no test waits for the clock.
fn firing_now() -> DateTime<Utc> {
    static NOW: std::sync::OnceLock<DateTime<Utc>> = std::sync::OnceLock::new();
    *NOW.get_or_init(|| {
        Utc::now()
            .date_naive()
            .and_hms_opt(12, 0, 0)
            .expect("noon exists")
            .and_utc()
    })
}

fn invocation(is_past_due: bool) -> Value {
    let now = firing_now();
    let hour = now.with_minute(0).unwrap().with_second(0).unwrap();
    json!({
        "Data": {"timer": {
            "Schedule": {"AdjustForDST": true},
            "ScheduleStatus": {
                "Last": (hour - chrono::Duration::hours(1)).to_rfc3339(),
                "Next": (hour + chrono::Duration::hours(1)).to_rfc3339(),
                "LastUpdated": (hour - chrono::Duration::hours(1)).to_rfc3339(),
            },
            "IsPastDue": is_past_due,
        }},
        "Metadata": {"sys": {
            "MethodName": "daily_report_timer",
            "UtcNow": now.to_rfc3339(),
            "RandGuid": uuid::Uuid::new_v4().to_string(),
        }},
    })
}

/// One firing's reply.
struct Fired {
    status: u16,
    content_type: String,
    body: Value,
}

impl Fired {
    fn result(&self) -> RunResult {
        serde_json::from_value(self.body["ReturnValue"].clone())
            .unwrap_or_else(|e| panic!("ReturnValue is a run result ({e}): {}", self.body))
    }
}

async fn fire(app: &TestApp, is_past_due: bool) -> Fired {
    let resp = app
        .forwarded(
            reqwest::Method::POST,
            "/daily_report_timer",
            &uuid::Uuid::new_v4().to_string(),
        )
        .json(&invocation(is_past_due))
        .send()
        .await
        .expect("timer request");
    let status = resp.status().as_u16();
    let content_type = resp
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let text = resp.text().await.unwrap();
    let body = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("reply is JSON ({e}): {text}\nlog:\n{}", app.log()));
    Fired {
        status,
        content_type,
        body,
    }
}

/// Checks the custom-handler reply shape: exactly `Outputs` (an empty object), `Logs` (strings)
/// and `ReturnValue`, as `application/json`.
fn assert_invocation_reply(f: &Fired) {
    assert_eq!(f.content_type, "application/json");
    let keys: BTreeSet<&str> = f
        .body
        .as_object()
        .expect("reply is an object")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        BTreeSet::from(["Logs", "Outputs", "ReturnValue"]),
        "{}",
        f.body
    );
    assert_eq!(f.body["Outputs"], json!({}));
    let logs = f.body["Logs"].as_array().expect("Logs is an array");
    assert!(!logs.is_empty());
    assert!(logs.iter().all(Value::is_string), "{logs:?}");
}

fn logs(f: &Fired) -> Vec<String> {
    f.body["Logs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap().to_string())
        .collect()
}

fn org_run<'a>(r: &'a RunResult, org: &OrgDef) -> &'a OrgRun {
    r.orgs
        .iter()
        .find(|o| o.org_id == *org.id)
        .unwrap_or_else(|| panic!("no run for org {}: {r:?}", org.id))
}

/// The report blobs of an org, by date (listing only).
async fn report_blobs(storage: &Storage, org_id: &str) -> BTreeMap<NaiveDate, Entry> {
    let prefix = snapshots::org_prefix(&id_of(org_id));
    let page = storage.list(&prefix, None, 1000).await.expect("list");
    assert!(page.next.is_none());
    page.entries
        .into_iter()
        .filter(|e| !e.name.contains("/rev-"))
        .map(|e| {
            let date = snapshots::date_of(&prefix, &e.name)
                .unwrap_or_else(|| panic!("unexpected blob {}", e.name));
            (date, e)
        })
        .collect()
}

/// Every blob under `reports/`.
async fn all_report_names(storage: &Storage) -> Vec<String> {
    let page = storage.list("reports/", None, 1000).await.expect("list");
    page.entries.into_iter().map(|e| e.name).collect()
}

/// One report document, parsed whole.
async fn report_doc(storage: &Storage, org_id: &str, date: NaiveDate) -> DailyReport {
    let o = snapshots::read(storage, &id_of(org_id), date)
        .await
        .expect("read")
        .unwrap_or_else(|| panic!("no report for {org_id} {date}"));
    assert_eq!(o.content_type.as_deref(), Some("application/json"));
    serde_json::from_slice(&o.body).expect("a whole report document")
}

fn meta<'a>(e: &'a Entry, key: &str) -> &'a str {
    e.metadata
        .get(key)
        .unwrap_or_else(|| panic!("{} has no metadata {key}: {:?}", e.name, e.metadata))
}

/// The dates `n` days ending with yesterday, oldest first.
fn due(org: &OrgDef, n: i64) -> Vec<NaiveDate> {
    (1..=n).rev().map(|k| org.days_ago(k)).collect()
}

// ---------------------------------------------------------------------------------------
// The timer through the handler
// ---------------------------------------------------------------------------------------

/// The reply is the invocation shape; each due date of the org gets a report whose metadata
/// KPIs are the fixture's; the run is kept at `scheduler/last_run.json`.
#[tokio::test]
async fn timer_round_trip_as_the_host_sends_it_writes_every_due_report() {
    let org = OrgDef::new("Paul Logistics", chrono_tz::America::Chicago);
    let src = ClickHouseDb::fresh().await;
    let [d3, d2, d1] = <[NaiveDate; 3]>::try_from(due(&org, 3)).unwrap();
    let mut calls = Calls::default();
    // Yesterday: 3 calls of 1, 2, 3 minutes; 2 of the 3 classified calls are successes.
    calls
        .call(&org.id, org.noon(d1), 60.0, Some((&org.node, "success")))
        .call(
            &org.id,
            org.noon(d1) + chrono::Duration::hours(1),
            120.0,
            Some((&org.node, "success")),
        )
        .call(
            &org.id,
            org.noon(d1) + chrono::Duration::hours(2),
            180.0,
            Some((&org.node, "non_convertible")),
        )
        // Three days ago: one unclassified 30 s call. Two days ago: nothing.
        .call(&org.id, org.noon(d3), 30.0, None)
        // Today: not due, must not appear anywhere.
        .call(
            &org.id,
            org.noon(org.days_ago(0)),
            60.0,
            Some((&org.node, "success")),
        );
    calls.load(&src.ch).await;
    let app = spawn(handler_env(&src, &org, 3)).await;

    let started = Instant::now();
    let fired = fire(&app, false).await;
    let took = started.elapsed();

    assert_eq!(fired.status, 200, "{}\nlog:\n{}", fired.body, app.log());
    assert_invocation_reply(&fired);
    let r = fired.result();
    assert_eq!(r.status, RunStatus::Succeeded);
    assert!(!r.is_past_due);
    assert!(r.error.is_none());
    assert!(r.started_at <= r.finished_at);
    assert_eq!(r.orgs.len(), 1);
    let run = org_run(&r, &org);
    assert_eq!(run.org_name, "Paul Logistics");
    assert_eq!(run.generated, vec![d3, d2, d1]);
    assert!(run.skipped.is_empty() && run.failed.is_empty() && run.not_attempted.is_empty());
    let logs = logs(&fired);
    assert_eq!(logs[0], "daily_report_timer: succeeded (IsPastDue false)");
    assert!(
        logs.iter()
            .any(|l| l.contains(&org.id) && l.contains("generated 3, skipped 0, failed 0")),
        "{logs:?}"
    );

    let storage = app.storage().await;
    let blobs = report_blobs(&storage, &org.id).await;
    assert_eq!(blobs.keys().copied().collect::<Vec<_>>(), vec![d3, d2, d1]);
    let kpis = |d: NaiveDate| {
        let e = &blobs[&d];
        (
            meta(e, "total_calls"),
            meta(e, "classified_calls"),
            meta(e, "success_rate_percent"),
            meta(e, "total_duration_hours"),
        )
    };
    assert_eq!(kpis(d1), ("3", "3", "66.67", "0.1"));
    assert_eq!(kpis(d2), ("0", "0", "0", "0"));
    assert_eq!(kpis(d3), ("1", "0", "0", "0.01"));
    for (date, entry) in &blobs {
        assert_eq!(meta(entry, "schema_version"), "2");
        let doc = report_doc(&storage, &org.id, *date).await;
        assert_eq!(doc.kpis.total_calls.to_string(), meta(entry, "total_calls"));
        assert_eq!(doc.metadata.org_id.as_str(), org.id);
        assert_eq!(doc.metadata.org_name, "Paul Logistics");
        assert_eq!(doc.date_range.tz, "America/Chicago");
        assert_eq!(doc.date_range.start_date.date_naive(), *date);
        assert_eq!(doc.date_range.start_date.time(), chrono::NaiveTime::MIN);
    }
    assert_eq!(
        report_doc(&storage, &org.id, d1)
            .await
            .kpis
            .avg_minutes_per_call,
        2.0
    );

    let last = storage.get(LAST_RUN).await.unwrap().expect("last_run.json");
    assert_eq!(last.content_type.as_deref(), Some("application/json"));
    let last: Value = serde_json::from_slice(&last.body).unwrap();
    assert_eq!(last, fired.body["ReturnValue"]);
    println!("timer round trip: 3 reports in {took:?}");
}

/// A second firing finds every due report and leaves it untouched.
#[tokio::test]
async fn rerun_generates_nothing_and_leaves_the_reports_untouched() {
    let org = OrgDef::new("Paul Logistics", chrono_tz::America::Chicago);
    let src = ClickHouseDb::fresh().await;
    let dates = due(&org, 3);
    let mut calls = Calls::default();
    calls.call(
        &org.id,
        org.noon(dates[2]),
        60.0,
        Some((&org.node, "success")),
    );
    calls.load(&src.ch).await;
    let app = spawn(handler_env(&src, &org, 3)).await;
    let storage = app.storage().await;

    let first = fire(&app, false).await;
    assert_eq!(first.status, 200, "{}", first.body);
    assert_eq!(org_run(&first.result(), &org).generated, dates);
    let etags = |b: BTreeMap<NaiveDate, Entry>| -> BTreeMap<NaiveDate, String> {
        b.into_iter().map(|(d, e)| (d, e.etag)).collect()
    };
    let before = etags(report_blobs(&storage, &org.id).await);
    assert_eq!(before.len(), 3);

    let second = fire(&app, false).await;
    assert_eq!(second.status, 200, "{}", second.body);
    assert_invocation_reply(&second);
    let r = second.result();
    assert_eq!(r.status, RunStatus::Succeeded);
    let run = org_run(&r, &org);
    assert!(run.generated.is_empty(), "{run:?}");
    assert_eq!(run.skipped, dates);
    assert!(run.failed.is_empty());
    assert!(
        logs(&second)
            .iter()
            .any(|l| l.contains("generated 0, skipped 3, failed 0"))
    );
    assert_eq!(etags(report_blobs(&storage, &org.id).await), before);

    // last_run.json is now the second run.
    let last: RunResult =
        serde_json::from_slice(&storage.get(LAST_RUN).await.unwrap().unwrap().body).unwrap();
    assert_eq!(last.started_at, r.started_at);
    assert_eq!(org_run(&last, &org).skipped, dates);
}

/// `IsPastDue: true` is accepted and recorded, and a larger catch-up window after a missed
/// period fills the older days while keeping the ones already there.
#[tokio::test]
async fn past_due_firing_is_recorded_and_catches_up_the_missing_days() {
    let org = OrgDef::new("Paul Logistics", chrono_tz::America::New_York);
    let src = ClickHouseDb::fresh().await;
    let dates = due(&org, 5);
    let mut calls = Calls::default();
    calls
        .call(
            &org.id,
            org.noon(dates[4]),
            60.0,
            Some((&org.node, "success")),
        )
        .call(
            &org.id,
            org.noon(dates[1]),
            60.0,
            Some((&org.node, "other")),
        )
        .call(&org.id, org.noon(dates[1]), 60.0, None);
    calls.load(&src.ch).await;

    let mut first = spawn(handler_env(&src, &org, 2)).await;
    let f = fire(&first, false).await;
    assert_eq!(f.status, 200, "{}", f.body);
    assert_eq!(org_run(&f.result(), &org).generated, dates[3..].to_vec());
    let container = first.storage_settings.clone();
    let storage = first.storage().await;
    let kept = report_blobs(&storage, &org.id).await;
    first.terminate();

    let second = spawn_sharing(&container, handler_env(&src, &org, 5)).await;
    let fired = fire(&second, true).await;
    assert_eq!(fired.status, 200, "{}\nlog:\n{}", fired.body, second.log());
    assert_invocation_reply(&fired);
    assert_eq!(
        logs(&fired)[0],
        "daily_report_timer: succeeded (IsPastDue true)"
    );
    let r = fired.result();
    assert!(r.is_past_due);
    let run = org_run(&r, &org);
    assert_eq!(run.generated, dates[..3].to_vec());
    assert_eq!(run.skipped, dates[3..].to_vec());
    assert!(run.failed.is_empty());

    let blobs = report_blobs(&storage, &org.id).await;
    assert_eq!(blobs.keys().copied().collect::<Vec<_>>(), dates);
    assert_eq!(meta(&blobs[&dates[1]], "total_calls"), "2");
    assert_eq!(meta(&blobs[&dates[1]], "classified_calls"), "1");
    assert_eq!(meta(&blobs[&dates[0]], "total_calls"), "0");
    for d in &dates[3..] {
        assert_eq!(blobs[d].etag, kept[d].etag, "{d} was rewritten");
    }
    let last: RunResult =
        serde_json::from_slice(&storage.get(LAST_RUN).await.unwrap().unwrap().body).unwrap();
    assert!(last.is_past_due);
}

/// Each active org gets its own local yesterday; an inactive org gets nothing. The zones are
/// 25 hours apart, so their yesterdays are always different dates.
#[tokio::test]
async fn orgs_in_different_zones_get_their_own_yesterday_and_inactive_orgs_none() {
    let west = OrgDef::new("Pago Pago Freight", chrono_tz::Pacific::Pago_Pago);
    let east = OrgDef::new("Line Islands Haulage", chrono_tz::Pacific::Kiritimati);
    let idle = OrgDef::new("Dormant Carriers", chrono_tz::UTC);
    let (yw, ye, yi) = (west.days_ago(1), east.days_ago(1), idle.days_ago(1));
    assert_ne!(yw, ye);
    let src = ClickHouseDb::fresh().await;
    let mut calls = Calls::default();
    calls
        .call(&west.id, west.noon(yw), 60.0, Some((&west.node, "success")))
        .call(&west.id, west.noon(yw), 60.0, Some((&west.node, "success")))
        // West's call on east's yesterday (west's today or the day before yesterday): not in
        // any west report.
        .call(&west.id, west.noon(ye), 60.0, Some((&west.node, "success")))
        .call(&east.id, east.noon(ye), 60.0, Some((&east.node, "other")))
        .call(&idle.id, idle.noon(yi), 60.0, Some((&idle.node, "success")));
    calls.load(&src.ch).await;
    let app = spawn(handler_env(&src, &west, 1)).await;
    let storage = app.storage().await;
    orgs::create(&storage, &east.doc(true))
        .await
        .expect("create east");
    orgs::create(&storage, &idle.doc(false))
        .await
        .expect("create idle");

    let fired = fire(&app, false).await;
    assert_eq!(fired.status, 200, "{}\nlog:\n{}", fired.body, app.log());
    let r = fired.result();
    assert_eq!(r.status, RunStatus::Succeeded);
    let ids: BTreeSet<&str> = r.orgs.iter().map(|o| o.org_id.as_str()).collect();
    assert_eq!(ids, BTreeSet::from([west.id.as_str(), east.id.as_str()]));
    assert_eq!(org_run(&r, &west).generated, vec![yw]);
    assert_eq!(org_run(&r, &east).generated, vec![ye]);
    assert_eq!(org_run(&r, &east).org_name, "Line Islands Haulage");

    let w = report_blobs(&storage, &west.id).await;
    assert_eq!(w.keys().copied().collect::<Vec<_>>(), vec![yw]);
    assert_eq!(meta(&w[&yw], "total_calls"), "2");
    let e = report_blobs(&storage, &east.id).await;
    assert_eq!(e.keys().copied().collect::<Vec<_>>(), vec![ye]);
    assert_eq!(meta(&e[&ye], "total_calls"), "1");
    assert_eq!(meta(&e[&ye], "success_rate_percent"), "0");
    assert!(report_blobs(&storage, &idle.id).await.is_empty());

    let doc = report_doc(&storage, &east.id, ye).await;
    assert_eq!(doc.date_range.tz, "Pacific/Kiritimati");
    assert_eq!(
        doc.date_range.start_date.offset().local_minus_utc(),
        14 * 3600
    );
    assert_eq!(doc.date_range.start_date.date_naive(), ye);
    let doc = report_doc(&storage, &west.id, yw).await;
    assert_eq!(
        doc.date_range.start_date.offset().local_minus_utc(),
        -11 * 3600
    );
}

/// An org whose node wrote nothing still gets its reports: counted calls, zero classified,
/// all `generated`, none `failed`.
#[tokio::test]
async fn org_whose_node_has_no_data_gets_zero_reports_not_failures() {
    let org = OrgDef::new("Quiet Node Inc", chrono_tz::Europe::Berlin);
    let src = ClickHouseDb::fresh().await;
    let other_node = uuid::Uuid::new_v4().to_string();
    let [d2, d1] = <[NaiveDate; 2]>::try_from(due(&org, 2)).unwrap();
    let mut calls = Calls::default();
    // The org's calls, but the outputs belong to another node.
    calls
        .call(&org.id, org.noon(d1), 60.0, Some((&other_node, "success")))
        .call(&org.id, org.noon(d1), 120.0, Some((&other_node, "success")));
    calls.load(&src.ch).await;
    let app = spawn(handler_env(&src, &org, 2)).await;

    let fired = fire(&app, false).await;
    assert_eq!(fired.status, 200, "{}\nlog:\n{}", fired.body, app.log());
    let r = fired.result();
    assert_eq!(r.status, RunStatus::Succeeded);
    let run = org_run(&r, &org);
    assert_eq!(run.generated, vec![d2, d1]);
    assert!(run.failed.is_empty(), "{run:?}");

    let storage = app.storage().await;
    let blobs = report_blobs(&storage, &org.id).await;
    assert_eq!(blobs.keys().copied().collect::<Vec<_>>(), vec![d2, d1]);
    assert_eq!(meta(&blobs[&d1], "total_calls"), "2");
    assert_eq!(meta(&blobs[&d1], "classified_calls"), "0");
    assert_eq!(meta(&blobs[&d1], "success_rate_percent"), "0");
    assert_eq!(meta(&blobs[&d2], "total_calls"), "0");
    let doc = report_doc(&storage, &org.id, d1).await;
    assert!(doc.breakdowns.call_classification.is_empty());
    assert!(doc.breakdowns.funnel.iter().all(|s| s.reached == 0));
}

/// ClickHouse unreachable: every org fails, the reply is a 500 that is still an invocation
/// reply with status `failed`, nothing is written under `reports/`, and the handler keeps
/// answering.
#[tokio::test]
async fn clickhouse_down_fails_the_invocation_with_a_shaped_500_and_writes_no_report() {
    let org = OrgDef::new("Paul Logistics", chrono_tz::America::Chicago);
    let second = OrgDef::new("Second Org", chrono_tz::Asia::Kolkata);
    let closed = format!("http://127.0.0.1:{}", free_port());
    let app = spawn(handler_env_with_url(&closed, "default", &org, 2)).await;
    let storage = app.storage().await;
    orgs::create(&storage, &second.doc(true)).await.unwrap();

    let started = Instant::now();
    let fired = fire(&app, false).await;
    let took = started.elapsed();
    assert_eq!(fired.status, 500, "{}", fired.body);
    assert_invocation_reply(&fired);
    let r = fired.result();
    assert_eq!(r.status, RunStatus::Failed);
    assert_eq!(r.orgs.len(), 2);
    for (o, def) in [(org_run(&r, &org), &org), (org_run(&r, &second), &second)] {
        assert!(o.generated.is_empty() && o.skipped.is_empty(), "{o:?}");
        let failed: Vec<NaiveDate> = o.failed.iter().map(|f| f.date).collect();
        assert_eq!(failed, due(def, 2));
        assert!(
            o.failed.iter().all(|f| f.error.starts_with("ClickHouse")),
            "{:?}",
            o.failed
        );
    }
    assert_eq!(
        logs(&fired)[0],
        "daily_report_timer: failed (IsPastDue false)"
    );
    assert!(all_report_names(&storage).await.is_empty());
    let last: RunResult =
        serde_json::from_slice(&storage.get(LAST_RUN).await.unwrap().unwrap().body).unwrap();
    assert_eq!(last.status, RunStatus::Failed);

    // Still up: the readiness probe and a next firing answer.
    let ready = app.client.get(&app.address).send().await.unwrap();
    assert_eq!(ready.status(), 200);
    let again = fire(&app, false).await;
    assert_eq!(again.status, 500);
    assert_eq!(again.result().status, RunStatus::Failed);
    println!("ClickHouse down: failed invocation in {took:?}");
}

/// Two handlers on one container and one ClickHouse database, fired at once and made to
/// race (both compute every date before either writes, see [`Faults::hold_until`]): one report
/// per date, each whole, and each date claimed as generated by exactly one of them while the
/// other reports it skipped.
#[tokio::test]
async fn concurrent_firings_leave_one_whole_report_per_date() {
    let org = OrgDef::new("Paul Logistics", chrono_tz::America::Chicago);
    let src = ClickHouseDb::fresh().await;
    let dates = due(&org, 4);
    let mut calls = Calls::default();
    for (k, d) in dates.iter().enumerate() {
        for _ in 0..=k {
            calls.call(&org.id, org.noon(*d), 60.0, Some((&org.node, "success")));
        }
    }
    calls.load(&src.ch).await;
    // One query per (handler, date): 2 × 4.
    // Every response is held until all of them are asked for: each handler has read "does it
    // exist?" before any of them writes, so the create-only write alone decides who stores it.
    let proxy = Proxy::with_faults(
        &src.url,
        Faults {
            hold_until: Some((2 * dates.len(), Duration::from_secs(20))),
            ..Faults::default()
        },
    )
    .await;
    let env = handler_env_with_url(&proxy.url, &src.database, &org, 4);
    let a = spawn(env.clone()).await;
    let b = spawn_sharing(&a.storage_settings, env).await;

    let (fa, fb) = tokio::join!(fire(&a, false), fire(&b, false));
    assert_eq!(
        (fa.status, fb.status),
        (200, 200),
        "{}\n{}",
        fa.body,
        fb.body
    );
    let computed = |app: &TestApp| app.log().matches("daily report computed").count();
    assert_eq!(
        (computed(&a), computed(&b), proxy.requests()),
        // Each query is two requests: the reachability check (`SELECT 1`) and the query;
        // each handler then re-checks the stored days with one fingerprint query
        // (`docs/revisions.md`), finds them unchanged and regenerates none.
        (dates.len(), dates.len(), 2 * 2 * dates.len() + 2 * 2),
        "both handlers computed every date (the race happened)"
    );
    let (ra, rb) = (fa.result(), fb.result());
    let (oa, ob) = (org_run(&ra, &org), org_run(&rb, &org));
    assert!(
        oa.failed.is_empty() && ob.failed.is_empty(),
        "{oa:?} {ob:?}"
    );
    for d in &dates {
        let claims = [oa.generated.contains(d), ob.generated.contains(d)];
        assert_eq!(
            claims.iter().filter(|c| **c).count(),
            1,
            "{d}: exactly one generated it: {oa:?} {ob:?}"
        );
        let (winner, loser) = if claims[0] { (oa, ob) } else { (ob, oa) };
        assert!(!winner.skipped.contains(d));
        assert!(loser.skipped.contains(d), "{d}: the other skipped it");
    }

    let storage = a.storage().await;
    assert_eq!(all_report_names(&storage).await.len(), dates.len());
    let blobs = report_blobs(&storage, &org.id).await;
    assert_eq!(blobs.keys().copied().collect::<Vec<_>>(), dates);
    for (k, d) in dates.iter().enumerate() {
        let doc = report_doc(&storage, &org.id, *d).await;
        assert_eq!(doc.kpis.total_calls, k as u64 + 1);
        assert_eq!(meta(&blobs[d], "total_calls"), (k + 1).to_string());
        assert_eq!(
            meta(&blobs[d], "generated_at"),
            call_analytics::daily_report::summary::ReportSummary::of(&doc).to_metadata()["generated_at"],
            "{d}: metadata and body are the same version"
        );
    }
    println!(
        "concurrent: a generated {:?}, b generated {:?}",
        oa.generated, ob.generated
    );
}

/// The default org is created at start from the settings (id normalized), and a later start
/// with other settings leaves it as it is.
#[tokio::test]
async fn default_org_is_created_at_start_from_the_settings() {
    let org = OrgDef::new("Sahyadri Freight", chrono_tz::Asia::Kolkata);
    let mut env = handler_env_with_url("http://127.0.0.1:9", "default", &org, 1);
    // Upper-case ids in the settings are stored in canonical lower-case form.
    for (k, v) in &mut env {
        if k == "ORG_ID" || k == "BROKER_NODE_PERSISTENT_ID" {
            *v = format!(" {} ", v.to_uppercase());
        }
    }
    let before = Utc::now() - chrono::Duration::seconds(1);
    let app = spawn(env.clone()).await;
    let storage = app.storage().await;
    let (stored, etag) = orgs::get(&storage, &id_of(&org.id))
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("default org {} missing; log:\n{}", org.id, app.log()));
    assert_eq!(stored.org_id.as_str(), org.id);
    assert_eq!(stored.node_persistent_id, org.node);
    assert_eq!(stored.name, "Sahyadri Freight");
    assert_eq!(stored.timezone, chrono_tz::Asia::Kolkata);
    assert!(stored.is_active);
    assert!(stored.excluded_numbers.is_empty());
    assert!(stored.created_at >= before && stored.created_at <= Utc::now());
    assert_eq!(orgs::list(&storage).await.unwrap(), vec![stored.clone()]);

    for (k, v) in &mut env {
        match k.as_str() {
            "CLIENT_NAME" => *v = "Renamed".into(),
            "DEFAULT_TIMEZONE" => *v = "UTC".into(),
            _ => {}
        }
    }
    let _again = spawn_sharing(&app.storage_settings, env).await;
    let (after, etag_after) = orgs::get(&storage, &id_of(&org.id)).await.unwrap().unwrap();
    assert_eq!(after, stored);
    assert_eq!(etag_after, etag);
}

/// A malformed `ORG_ID` is logged, not fatal: the handler answers its probe and the timer,
/// and no org document is written.
#[tokio::test]
async fn malformed_org_id_is_logged_and_the_handler_still_serves() {
    let org = OrgDef {
        id: "paul-logistics".into(),
        ..OrgDef::new("Paul Logistics", chrono_tz::UTC)
    };
    let app = spawn(handler_env_with_url(
        "http://127.0.0.1:9",
        "default",
        &org,
        1,
    ))
    .await;
    let ready = app.client.get(&app.address).send().await.unwrap();
    assert_eq!(ready.status(), 200);
    assert_eq!(
        ready.json::<Value>().await.unwrap(),
        json!({"status": "ready"})
    );
    let log = app.log();
    assert!(
        log.contains("WARN") && log.contains("default organization not ensured"),
        "{log}"
    );
    assert!(log.contains("\"paul-logistics\" is not a UUID"), "{log}");
    let storage = app.storage().await;
    assert!(orgs::list(&storage).await.unwrap().is_empty());

    // With no org, a firing has nothing to do and succeeds.
    let fired = fire(&app, false).await;
    assert_eq!(fired.status, 200, "{}", fired.body);
    let r = fired.result();
    assert_eq!(r.status, RunStatus::Succeeded);
    assert!(r.orgs.is_empty());
}

/// A body that is not an invocation is a 400 naming `body` (and runs nothing); the function's
/// path answers only POST.
#[tokio::test]
async fn a_body_that_is_not_an_invocation_is_a_400_and_get_is_a_405() {
    let org = OrgDef::new("Paul Logistics", chrono_tz::UTC);
    let app = spawn(handler_env_with_url(
        "http://127.0.0.1:9",
        "default",
        &org,
        1,
    ))
    .await;
    for body in ["not json", "[]", "null", "\"timer\"", "42", ""] {
        let resp = app
            .forwarded(reqwest::Method::POST, "/daily_report_timer", "inv-1")
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        let ct = resp.headers()["content-type"].to_str().unwrap().to_string();
        let json: Value = resp.json().await.unwrap();
        assert_eq!(status, 400, "body {body:?}: {json}");
        assert_eq!(ct, "application/json");
        assert_eq!(json["error"]["code"], "invalid_field", "{body:?}: {json}");
        assert_eq!(json["error"]["field"], "body", "{body:?}: {json}");
    }
    // A timer binding of the wrong shape names it.
    let resp = app
        .forwarded(reqwest::Method::POST, "/daily_report_timer", "inv-2")
        .json(&json!({"Data": {"timer": {"IsPastDue": "yes"}}, "Metadata": {}}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let json: Value = resp.json().await.unwrap();
    assert_eq!(json["error"]["field"], "Data.timer", "{json}");

    let storage = app.storage().await;
    assert!(
        storage.get(LAST_RUN).await.unwrap().is_none(),
        "nothing ran"
    );

    let resp = app
        .client
        .get(format!("{}/daily_report_timer", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 405);
    assert_eq!(resp.headers()["allow"], "POST");
    let json: Value = resp.json().await.unwrap();
    assert_eq!(json["error"]["code"], "method_not_allowed");
}

// ---------------------------------------------------------------------------------------
// Storage of orgs and snapshots, against Azurite
// ---------------------------------------------------------------------------------------

async fn fresh_storage() -> Storage {
    fresh_store().await.0
}

#[tokio::test]
async fn orgs_create_is_create_only_and_replace_needs_the_current_etag() {
    let storage = fresh_storage().await;
    let def = OrgDef::new("Paul Logistics", chrono_tz::America::Chicago);
    let org = def.doc(true);
    let etag1 = orgs::create(&storage, &org).await.expect("create");
    assert!(!etag1.is_empty());

    let mut other = org.clone();
    other.name = "Impostor".into();
    match orgs::create(&storage, &other).await {
        Err(OrgError::Exists(id)) => assert_eq!(id.as_str(), def.id),
        r => panic!("second create: {r:?}"),
    }
    let (read, etag) = orgs::get(&storage, &id_of(&def.id)).await.unwrap().unwrap();
    assert_eq!(
        (read.name.as_str(), etag.as_str()),
        ("Paul Logistics", etag1.as_str())
    );

    let mut renamed = org.clone();
    renamed.name = "Paul Logistics LLC".into();
    let etag2 = orgs::replace(&storage, &renamed, &etag1)
        .await
        .expect("replace");
    assert_ne!(etag2, etag1);
    let mut stale = org.clone();
    stale.is_active = false;
    match orgs::replace(&storage, &stale, &etag1).await {
        Err(OrgError::Stale(id)) => assert_eq!(id.as_str(), def.id),
        r => panic!("stale replace: {r:?}"),
    }
    let (read, etag) = orgs::get(&storage, &id_of(&def.id)).await.unwrap().unwrap();
    assert_eq!(read, renamed);
    assert_eq!(etag, etag2);

    let ghost = OrgDef::new("Ghost", chrono_tz::UTC).doc(true);
    assert!(matches!(
        orgs::replace(&storage, &ghost, &etag2).await,
        Err(OrgError::NotFound(_))
    ));
    assert!(orgs::get(&storage, &ghost.org_id).await.unwrap().is_none());
    assert_eq!(orgs::list(&storage).await.unwrap(), vec![renamed]);
}

/// A report for tests: `total_calls` calls, none classified.
fn report_with(org: &Organization, date: NaiveDate, total_calls: u64) -> DailyReport {
    let counts = DayCounts {
        total_calls,
        total_duration_seconds: 60.0 * total_calls as f64,
        ..DayCounts::default()
    };
    // Whole seconds: `generated_at` is stored to the second.
    let now = Utc.with_ymd_and_hms(2025, 12, 16, 12, 0, 0).unwrap();
    report::build(org, date, &counts, CallStats::default(), 0, now)
}

#[tokio::test]
async fn snapshots_are_create_only_unless_forced() {
    let storage = fresh_storage().await;
    let org = OrgDef::new("Paul Logistics", chrono_tz::America::Chicago).doc(true);
    let date: NaiveDate = "2025-12-15".parse().unwrap();
    let first = report_with(&org, date, 5);

    let (w, stored) = snapshots::write(&storage, &org.org_id, date, &first, false)
        .await
        .unwrap();
    assert_eq!(w, Written::Created);
    assert!(!stored.etag.is_empty());

    let second = report_with(&org, date, 9);
    let (w, _) = snapshots::write(&storage, &org.org_id, date, &second, false)
        .await
        .unwrap();
    assert_eq!(w, Written::Exists);
    let o = snapshots::read(&storage, &org.org_id, date)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(o.etag, stored.etag);
    assert_eq!(
        serde_json::from_slice::<DailyReport>(&o.body).unwrap(),
        first
    );

    let (w, forced) = snapshots::write(&storage, &org.org_id, date, &second, true)
        .await
        .unwrap();
    assert_eq!(w, Written::Overwritten);
    assert_ne!(forced.etag, stored.etag);
    let o = snapshots::read(&storage, &org.org_id, date)
        .await
        .unwrap()
        .unwrap();
    // A forced write is a new revision (`docs/revisions.md`): the second report, numbered 2,
    // superseding the first, which is kept as it was.
    let mut revised = second.clone();
    revised.metadata.revision = 2;
    revised.metadata.supersedes = Some(Supersedes {
        revision: 1,
        generated_at: first.metadata.generated_at,
        fingerprint: first.metadata.provenance.as_ref().map(|p| p.fingerprint),
    });
    assert_eq!(
        serde_json::from_slice::<DailyReport>(&o.body).unwrap(),
        revised
    );
    let kept = snapshots::read_revision(&storage, &org.org_id, date, 1)
        .await
        .unwrap()
        .expect("revision 1 is kept");
    assert_eq!(kept.report, first);
    let revisions = snapshots::revisions(&storage, &org.org_id, date)
        .await
        .unwrap();
    assert_eq!(
        revisions
            .iter()
            .map(|r| (r.revision, r.current))
            .collect::<Vec<_>>(),
        [(2, true), (1, false)]
    );
    let blobs = report_blobs(&storage, org.org_id.as_str()).await;
    assert_eq!(meta(&blobs[&date], "total_calls"), "9");
    assert_eq!(blobs[&date].etag, forced.etag);

    // force on an absent date creates it.
    let next = date.succ_opt().unwrap();
    let (w, _) = snapshots::write(&storage, &org.org_id, next, &first, true)
        .await
        .unwrap();
    assert_eq!(w, Written::Created);
    let existing = snapshots::existing_dates(&storage, &org.org_id, date, next)
        .await
        .unwrap();
    assert_eq!(
        existing.keys().copied().collect::<BTreeSet<_>>(),
        BTreeSet::from([date, next])
    );
    let only_first = snapshots::existing_dates(&storage, &org.org_id, date, date)
        .await
        .unwrap();
    assert_eq!(
        only_first.keys().copied().collect::<BTreeSet<_>>(),
        BTreeSet::from([date])
    );
}

/// Eight writers of one (org, date) at once: one creates, seven find it, and the stored
/// document is the creator's, whole.
#[tokio::test]
async fn concurrent_snapshot_writers_have_one_winner() {
    let storage = fresh_storage().await;
    let org = OrgDef::new("Paul Logistics", chrono_tz::UTC).doc(true);
    let date: NaiveDate = "2025-12-15".parse().unwrap();
    let reports: Vec<DailyReport> = (1..=8).map(|n| report_with(&org, date, n)).collect();
    let outcomes = futures::future::join_all(
        reports
            .iter()
            .map(|r| snapshots::write(&storage, &org.org_id, date, r, false)),
    )
    .await;
    let written: Vec<Written> = outcomes.into_iter().map(|r| r.unwrap().0).collect();
    let winners: Vec<usize> = (0..8).filter(|i| written[*i] == Written::Created).collect();
    assert_eq!(winners.len(), 1, "{written:?}");
    assert_eq!(written.iter().filter(|w| **w == Written::Exists).count(), 7);
    let o = snapshots::read(&storage, &org.org_id, date)
        .await
        .unwrap()
        .unwrap();
    let stored: DailyReport = serde_json::from_slice(&o.body).unwrap();
    assert_eq!(stored, reports[winners[0]]);
    let blobs = report_blobs(&storage, org.org_id.as_str()).await;
    assert_eq!(
        meta(&blobs[&date], "total_calls"),
        stored.kpis.total_calls.to_string()
    );
}

/// One org's failing query (a ClickHouse error for its requests only) fails that org alone:
/// the other org's reports are generated, the run is `partial`, and the invocation succeeds.
#[tokio::test]
async fn one_orgs_query_error_does_not_stop_the_others() {
    let good = OrgDef::new("Working Freight", chrono_tz::UTC);
    let bad = OrgDef::new("Broken Haulage", chrono_tz::UTC);
    let y = good.days_ago(1);
    let src = ClickHouseDb::fresh().await;
    let mut calls = Calls::default();
    calls
        .call(&good.id, good.noon(y), 60.0, Some((&good.node, "success")))
        .call(&bad.id, bad.noon(y), 60.0, Some((&bad.node, "success")));
    calls.load(&src.ch).await;
    let proxy = Proxy::with_faults(
        &src.url,
        Faults {
            poison: Some(bad.id.clone()),
            ..Faults::default()
        },
    )
    .await;
    let app = spawn(handler_env_with_url(&proxy.url, &src.database, &good, 2)).await;
    let storage = app.storage().await;
    orgs::create(&storage, &bad.doc(true))
        .await
        .expect("create the failing org");

    let fired = fire(&app, false).await;
    assert_eq!(fired.status, 200, "{}\nlog:\n{}", fired.body, app.log());
    let r = fired.result();
    assert_eq!(r.status, RunStatus::Partial);
    assert_eq!(org_run(&r, &good).generated, due(&good, 2));
    assert!(org_run(&r, &good).failed.is_empty());
    let failed = &org_run(&r, &bad).failed;
    assert_eq!(
        failed.iter().map(|f| f.date).collect::<Vec<_>>(),
        due(&bad, 2)
    );
    assert!(
        failed.iter().all(|f| f.error.contains("ClickHouse")),
        "{failed:?}"
    );
    assert!(
        failed.iter().all(|f| !f.error.contains("SELECT")),
        "no SQL in errors: {failed:?}"
    );
    assert_eq!(
        meta(&report_blobs(&storage, &good.id).await[&y], "total_calls"),
        "1"
    );
    assert!(report_blobs(&storage, &bad.id).await.is_empty());
    assert!(
        logs(&fired)
            .iter()
            .any(|l| l.contains("Broken Haulage") && l.contains("failed 2")),
        "{:?}",
        logs(&fired)
    );
}

/// An unreadable organization document is skipped (and logged); the other orgs still get
/// their reports.
#[tokio::test]
async fn an_unreadable_org_document_does_not_stop_the_others() {
    let good = OrgDef::new("Working Freight", chrono_tz::UTC);
    let y = good.days_ago(1);
    let src = ClickHouseDb::fresh().await;
    let mut calls = Calls::default();
    calls.call(&good.id, good.noon(y), 60.0, Some((&good.node, "success")));
    calls.load(&src.ch).await;
    let app = spawn(handler_env(&src, &good, 1)).await;
    let storage = app.storage().await;
    let broken = orgs::doc_name(&id_of(&uuid::Uuid::new_v4().to_string()));
    put_json(&storage, &broken, &b"{not json"[..]).await;
    let fired = fire(&app, false).await;
    assert_eq!(fired.status, 200, "{}\nlog:\n{}", fired.body, app.log());
    let r = fired.result();
    assert_eq!(r.status, RunStatus::Succeeded);
    assert_eq!(org_run(&r, &good).generated, vec![y]);
    assert!(
        app.log()
            .contains("organization document unreadable; skipped"),
        "{}",
        app.log()
    );
}

/// The firing's time is the host's `Metadata.sys.UtcNow`: a firing that says it is
/// 2025-12-16 12:00 UTC makes Chicago's 2025-12-15 (and only that) due, whatever the real
/// clock says; an unreadable UtcNow is a 400 naming it.
#[tokio::test]
async fn the_firing_time_is_the_invocations_utc_now() {
    let org = OrgDef::new("Paul Logistics", chrono_tz::America::Chicago);
    let src = ClickHouseDb::fresh().await;
    let app = spawn(handler_env(&src, &org, 1)).await;
    let send = |utc_now: Value| {
        let mut body = invocation(false);
        body["Metadata"]["sys"]["UtcNow"] = utc_now;
        app.forwarded(
            reqwest::Method::POST,
            "/daily_report_timer",
            &uuid::Uuid::new_v4().to_string(),
        )
        .json(&body)
        .send()
    };
    let r = send(json!("2025-12-16T12:00:00Z"))
        .await
        .expect("timer request");
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    let run: RunResult = serde_json::from_value(body["ReturnValue"].clone()).unwrap();
    assert_eq!(run.started_at.to_rfc3339(), "2025-12-16T12:00:00+00:00");
    assert_eq!(
        org_run(&run, &org).generated,
        vec!["2025-12-15".parse::<NaiveDate>().unwrap()]
    );

    let r = send(json!("yesterday")).await.expect("timer request");
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["field"], "Metadata.sys.UtcNow");
}

/// `docs/revisions.md`: a report stored before provenance and revisions (no
/// `metadata.provenance`, no `revision`, no fingerprint in its blob metadata) still reads, as
/// revision 1; the next firing re-checks it once — its fingerprint is unknown — and stores
/// revision 2 with provenance, keeping the old document as revision 1; the firing after that
/// changes nothing. A day older than `RESTATE_DAYS` is settled: left as it was.
#[tokio::test]
async fn a_report_stored_before_provenance_is_rechecked_once_and_settled_days_are_left() {
    let org = OrgDef::new("Paul Logistics", chrono_tz::America::Chicago);
    let src = ClickHouseDb::fresh().await;
    let [old, d1] = [org.days_ago(5), org.days_ago(1)];
    let mut calls = Calls::default();
    calls
        .call(&org.id, org.noon(d1), 60.0, Some((&org.node, "success")))
        .call(&org.id, org.noon(old), 60.0, Some((&org.node, "success")));
    calls.load(&src.ch).await;
    let app = spawn(handler_env(&src, &org, 5)).await;
    let fired = fire(&app, false).await;
    assert_eq!(org_run(&fired.result(), &org).generated.len(), 5);

    // Rewrite both as an older version stored them.
    let storage = app.storage().await;
    let id = id_of(&org.id);
    let mut old_docs = BTreeMap::new();
    for date in [old, d1] {
        let stored = snapshots::read(&storage, &id, date).await.unwrap().unwrap();
        let mut doc: Value = serde_json::from_slice(&stored.body).unwrap();
        let metadata = doc["metadata"].as_object_mut().unwrap();
        metadata.remove("provenance");
        metadata.remove("revision");
        let body = serde_json::to_vec_pretty(&doc).unwrap();
        let mut put = call_analytics::storage::Put::new("application/json");
        put.metadata = stored.metadata.clone();
        put.metadata.remove("revision");
        put.metadata.remove("fingerprint");
        storage
            .put(&snapshots::name(&id, date), body.into(), &put)
            .await
            .unwrap();
        let read = snapshots::read(&storage, &id, date).await.unwrap().unwrap();
        assert_eq!(read.report.metadata.revision, 1);
        assert_eq!(read.report.metadata.provenance, None);
        old_docs.insert(date, read.report);
    }

    let result = fire(&app, false).await.result();
    let run = org_run(&result, &org);
    assert_eq!(run.revised, vec![d1], "only the re-checked days: {run:?}");
    assert!(run.generated.is_empty());
    let current = snapshots::read(&storage, &id, d1).await.unwrap().unwrap();
    assert_eq!(current.report.metadata.revision, 2);
    assert!(current.report.metadata.provenance.is_some());
    let supersedes = current.report.metadata.supersedes.clone().unwrap();
    assert_eq!((supersedes.revision, supersedes.fingerprint), (1, None));
    assert_eq!(
        current.report.kpis, old_docs[&d1].kpis,
        "the same data, the same numbers"
    );
    let kept = snapshots::read_revision(&storage, &id, d1, 1)
        .await
        .unwrap()
        .expect("revision 1 kept");
    assert_eq!(kept.report, old_docs[&d1]);
    let settled = snapshots::read(&storage, &id, old).await.unwrap().unwrap();
    assert_eq!(
        settled.report, old_docs[&old],
        "a settled day is left as it was"
    );

    let result = fire(&app, false).await.result();
    let run = org_run(&result, &org);
    assert!(run.revised.is_empty(), "{run:?}");
    let again = snapshots::read(&storage, &id, d1).await.unwrap().unwrap();
    assert_eq!(again.etag, current.etag);
}
