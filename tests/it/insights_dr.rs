//! The daily report's insights through the handler (`docs/insights.md`): `by_hour` on DST days,
//! `GET /api/reports/{date}/changes` over stored reports, and `GET /api/reports/calls` over the
//! ClickHouse test engine. Every reply is checked against the OpenAPI document
//! ([`crate::reports_http`]'s rig).

use std::collections::BTreeSet;

use call_analytics::clickhouse::{CallStats, ClickHouse};
use call_analytics::daily_report::query::DayCounts;
use call_analytics::daily_report::report::{DailyReport, build};
use call_analytics::daily_report::snapshots;
use call_analytics::orgs::Organization;
use call_analytics::server::routes::{RouteId, resolve};
use call_analytics::storage::Storage;
use chrono::{DateTime, NaiveDate, Utc};
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::id_of;
use crate::helpers::{Api, Ch, start};
use crate::helpers::{
    Fixture, PAUL_NODE, PAUL_ORG, clickhouse_settings as settings, clickhouse_url, outcome,
};
use crate::helpers::{clickhouse_database, principal};

const OTHER_NODE: &str = "019b099d-7802-7a31-8c5e-40f2b9d7e118";
const TEST_LINE: &str = "+19259898099";

fn d(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

/// An outcome with every breakdown key; `None` leaves a key out.
fn data(classification: Option<&str>, load: Option<&str>) -> Value {
    outcome(
        classification,
        "RATE_NEGOTIATION",
        None,
        None,
        load,
        Some("QUALIFIED"),
        Some("rate_rejected"),
        Some("NOT_DISCUSSED"),
    )
}

async fn load(db: &str, f: &mut Fixture) {
    let ch = ClickHouse::new(&settings(&clickhouse_url(), db)).expect("client");
    f.load(&ch).await;
}

/// Every page of `query` (a `/api/reports/calls` query string), `limit` at a time: the calls in
/// order and the number of pages.
async fn all_pages(api: &Api, query: &str, limit: usize) -> (Vec<Value>, usize) {
    let mut calls = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut path = format!("/api/reports/calls?{query}&limit={limit}");
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let reply = api.get(&path).await;
        let body = reply.expect(200);
        let page = body["calls"].as_array().unwrap();
        assert!(page.len() <= limit, "{path}: {}", reply.text);
        calls.extend(page.iter().cloned());
        pages += 1;
        assert!(pages < 100, "pagination does not end");
        match body["next_cursor"].as_str() {
            Some(c) => {
                assert!(!page.is_empty(), "a page with a next_cursor has calls");
                cursor = Some(c.to_string())
            }
            None => return (calls, pages),
        }
    }
}

/// Asserts rows of a report's `by_hour`, each given as (index, `hour`, `start`, `total_calls`,
/// `classified_calls`, `success_count`).
fn assert_hours(hours: &[Value], want: &[(usize, &str, &str, u64, u64, u64)]) {
    for &(i, hour, start, total, classified, success) in want {
        let h = &hours[i];
        assert_eq!(
            (
                h["hour"].as_str(),
                h["start"].as_str(),
                h["total_calls"].as_u64(),
                h["classified_calls"].as_u64(),
                h["success_count"].as_u64(),
            ),
            (
                Some(hour),
                Some(start),
                Some(total),
                Some(classified),
                Some(success)
            ),
            "by_hour[{i}]"
        );
    }
}

fn run_ids(calls: &[Value]) -> Vec<String> {
    calls
        .iter()
        .map(|c| c["run_id"].as_str().unwrap().to_string())
        .collect()
}

// ---------------------------------------------------------------------------------------
// by_hour
// ---------------------------------------------------------------------------------------

/// America/Chicago 2025-03-09 (23 hours: 02:00 is skipped) and 2025-11-02 (25 hours: 01:00
/// twice, CDT then CST): one row per local hour, zeros where no call, each run in the hour of
/// its `public_runs.timestamp`; `hour=01` of the fall-back day lists both 01:00 hours' calls.
#[tokio::test]
async fn by_hour_has_23_and_25_local_hours_on_dst_days() {
    let db = clickhouse_database().await;
    let mut f = Fixture::default();
    let ok = data(Some("success"), Some("ACTIVE"));
    // (run, UTC instant, classified)
    let runs = [
        ("s1", "2025-03-09 06:30:00.000", true),  // 00:30 CST
        ("s2", "2025-03-09 07:59:59.999", true),  // 01:59:59.999 CST
        ("s3", "2025-03-09 08:00:00.000", true),  // 03:00 CDT (02:00 does not exist)
        ("s4", "2025-03-10 04:30:00.000", true),  // 23:30 CDT
        ("f1", "2025-11-02 05:10:00.000", true),  // 00:10 CDT
        ("f2", "2025-11-02 06:20:00.000", true),  // the first 01:20 (CDT)
        ("f3", "2025-11-02 06:40:00.000", false), // the first 01:40, no output
        ("f4", "2025-11-02 07:30:00.000", true),  // the second 01:30 (CST)
        ("f5", "2025-11-02 08:05:00.000", true),  // 02:05 CST
        ("f6", "2025-11-03 05:59:59.000", true),  // 23:59:59 CST
    ];
    for (run, ts, classified) in runs {
        f.call(run, ts, PAUL_ORG, "+13125550100", 60.0);
        if classified {
            f.output(run, PAUL_NODE, ts, ok.clone());
        }
    }
    load(&db, &mut f).await;
    let api = start(Ch::Database(db), None, &[]).await;

    let spring = api.get("/api/reports/live?date=2025-03-09").await;
    let hours = spring.expect(200)["breakdowns"]["by_hour"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(hours.len(), 23, "{}", spring.text);
    assert_hours(
        &hours,
        &[
            (0, "00:00", "2025-03-09T00:00:00-06:00", 1, 1, 1),
            (1, "01:00", "2025-03-09T01:00:00-06:00", 1, 1, 1),
            (2, "03:00", "2025-03-09T03:00:00-05:00", 1, 1, 1),
            (3, "04:00", "2025-03-09T04:00:00-05:00", 0, 0, 0),
            (22, "23:00", "2025-03-09T23:00:00-05:00", 1, 1, 1),
        ],
    );
    let total: u64 = hours
        .iter()
        .map(|h| h["total_calls"].as_u64().unwrap())
        .sum();
    assert_eq!(total, 4);

    let fall = api.get("/api/reports/live?date=2025-11-02").await;
    let body = fall.expect(200);
    assert_eq!(body["schema_version"], 2);
    let hours = body["breakdowns"]["by_hour"].as_array().unwrap();
    assert_eq!(hours.len(), 25, "{}", fall.text);
    assert_hours(
        hours,
        &[
            (0, "00:00", "2025-11-02T00:00:00-05:00", 1, 1, 1),
            (1, "01:00", "2025-11-02T01:00:00-05:00", 2, 1, 1),
            (2, "01:00", "2025-11-02T01:00:00-06:00", 1, 1, 1),
            (3, "02:00", "2025-11-02T02:00:00-06:00", 1, 1, 1),
            (4, "03:00", "2025-11-02T03:00:00-06:00", 0, 0, 0),
            (24, "23:00", "2025-11-02T23:00:00-06:00", 1, 1, 1),
        ],
    );
    let labels: BTreeSet<&str> = hours.iter().map(|h| h["hour"].as_str().unwrap()).collect();
    assert_eq!(labels.len(), 24, "every clock hour, 01:00 twice");
    assert_eq!(body["kpis"]["total_calls"], 6);

    // The calls of those hours.
    let (calls, _) = all_pages(&api, "date=2025-11-02&hour=01", 50).await;
    assert_eq!(run_ids(&calls), ["f4", "f3", "f2"]);
    let started: Vec<&str> = calls
        .iter()
        .map(|c| c["started_at"].as_str().unwrap())
        .collect();
    assert_eq!(
        started,
        [
            "2025-11-02T01:30:00-06:00",
            "2025-11-02T01:40:00-05:00",
            "2025-11-02T01:20:00-05:00"
        ]
    );
    assert_eq!(
        calls[1]["call_classification"],
        Value::Null,
        "f3 has no output"
    );
    let (calls, _) = all_pages(&api, "date=2025-03-09&hour=02", 50).await;
    assert!(calls.is_empty(), "02:00 does not exist on 2025-03-09");
    let (calls, _) = all_pages(&api, "date=2025-03-09&hour=03", 50).await;
    assert_eq!(run_ids(&calls), ["s3"]);
}

// ---------------------------------------------------------------------------------------
// What changed
// ---------------------------------------------------------------------------------------

fn paul(tz: chrono_tz::Tz) -> Organization {
    let now = Utc::now();
    Organization {
        org_id: id_of(PAUL_ORG),
        name: "Paul Logistics".into(),
        node_persistent_id: PAUL_NODE.into(),
        timezone: tz,
        is_active: true,
        excluded_numbers: vec![],
        notifications: vec![],
        created_at: now,
        updated_at: now,
    }
}

/// A report of `total` calls, `classified` of them classified and `success` successful, 2
/// minutes each.
fn report(date: &str, total: u64, classified: u64, success: u64) -> DailyReport {
    let counts = DayCounts {
        total_calls: total,
        total_duration_seconds: total as f64 * 120.0,
        classified_calls: classified,
        success_count: success,
        by_call_classification: (
            vec!["non_convertible".into(), "success".into()],
            vec![classified - success, success],
        ),
        ..DayCounts::default()
    };
    // Made the morning after its day, as the timer makes it: a report generated before its
    // day ended is not served (`docs/access-and-safety.md`).
    let now: DateTime<Utc> = (d(date) + chrono::Duration::days(1))
        .and_hms_opt(12, 0, 0)
        .unwrap()
        .and_utc();
    build(
        &paul(chrono_tz::America::Chicago),
        d(date),
        &counts,
        CallStats::default(),
        0,
        now,
    )
}

/// Two stored baseline weeks (15 of 30 classified calls successful each: pooled 30/60) against
/// a day at 22/30 (z = 2.113: flagged) and one at 21/30 (z = 1.805: not flagged); counts are
/// flagged when outside the baseline's range and ≥ 20 % from its median; a day without stored
/// weeks before has no baseline.
#[tokio::test]
async fn changes_compare_with_the_stored_weeks_that_exist() {
    let api = start(Ch::Unset, None, &[]).await;
    let storage = Storage::connect(&api.app.storage_settings)
        .await
        .expect("storage");
    let reports = [
        // Monday 2025-12-15 and its baseline 12-08, 12-01 (11-24 and 11-17 not stored).
        report("2025-12-15", 40, 30, 22),
        report("2025-12-08", 30, 30, 15),
        report("2025-12-01", 30, 30, 15),
        // Tuesday 2025-12-16 and its baseline 12-09, 12-02.
        report("2025-12-16", 35, 30, 21),
        report("2025-12-09", 30, 30, 15),
        report("2025-12-02", 30, 30, 15),
        // A day with no stored weeks before it; and a date 6 days before (not a baseline).
        report("2025-10-01", 30, 30, 15),
        report("2025-12-10", 99, 30, 1),
    ];
    for r in &reports {
        let date = r.date_range.start_date.date_naive();
        snapshots::write(&storage, &id_of(PAUL_ORG), date, r, false)
            .await
            .expect("write");
    }

    let reply = api.get("/api/reports/2025-12-15/changes").await;
    let body = reply.expect(200);
    assert_eq!(body["date"], "2025-12-15");
    assert_eq!(body["org_id"], PAUL_ORG);
    assert_eq!(body["baseline_dates"], json!(["2025-12-08", "2025-12-01"]));
    assert_eq!(body["min_calls"], 30);
    let k = &body["kpis"];
    assert_eq!(
        k["success_rate_percent"],
        json!({"value": 73.33, "baseline": 50, "delta": 23.33, "flag": "up", "good": true}),
        "{}",
        reply.text
    );
    assert_eq!(
        k["total_calls"],
        json!({"value": 40, "baseline": 30, "delta": 10, "flag": "up", "good": true})
    );
    assert_eq!(
        k["classified_calls"],
        json!({"value": 30, "baseline": 30, "delta": 0, "flag": "none", "good": null})
    );
    assert_eq!(k["avg_minutes_per_call"]["flag"], "none");
    assert_eq!(k["carrier_not_qualified"]["value"], 0);
    for name in [
        "carrier_not_qualified",
        "successfully_transferred_for_booking",
        "carrier_transfer_over_total_call_attempts",
    ] {
        assert_eq!(k[name]["flag"], "none", "{name}: {}", reply.text);
    }
    // 30 classified calls are fewer than min_calls = 31: nothing percentage-wise is flagged.
    let reply = api
        .get(&format!(
            "/api/reports/2025-12-15/changes?org_id={PAUL_ORG}&min_calls=31"
        ))
        .await;
    let body = reply.expect(200);
    assert_eq!(body["min_calls"], 31);
    assert_eq!(body["kpis"]["success_rate_percent"]["flag"], "none");
    assert_eq!(body["kpis"]["total_calls"]["flag"], "up");

    // Just below significance; 35 calls are 16.7 % above the median: not flagged either.
    let reply = api.get("/api/reports/2025-12-16/changes").await;
    let k = &reply.expect(200)["kpis"];
    assert_eq!(
        k["success_rate_percent"],
        json!({"value": 70, "baseline": 50, "delta": 20, "flag": "none", "good": null}),
        "{}",
        reply.text
    );
    assert_eq!(k["total_calls"]["flag"], "none");

    // No stored week before: no baseline.
    let reply = api.get("/api/reports/2025-10-01/changes").await;
    let body = reply.expect(200);
    assert_eq!(body["baseline_dates"], json!([]));
    for (name, kpi) in body["kpis"].as_object().unwrap() {
        assert_eq!(kpi["baseline"], Value::Null, "{name}");
        assert_eq!(kpi["delta"], Value::Null, "{name}");
        assert_eq!(kpi["flag"], "none", "{name}");
        assert_eq!(kpi["good"], Value::Null, "{name}");
    }
    assert_eq!(body["kpis"]["total_calls"]["value"], 30);

    // No stored report that day.
    api.get("/api/reports/2025-12-17/changes")
        .await
        .expect_error(404, "report_not_found", None);
}

// ---------------------------------------------------------------------------------------
// The calls behind a number
// ---------------------------------------------------------------------------------------

/// 2025-12-15 in America/Chicago: 26 calls of the org (some at the same millisecond, one
/// retried with a later output, one without output), one from the excluded test line, one
/// whose output is another node's only. Every breakdown value's calls, paged 4 at a time, are
/// each listed once and add up to the report's count; all calls add up to `total_calls`.
#[tokio::test]
async fn calls_pages_list_each_call_once_and_add_up_to_the_report() {
    let db = clickhouse_database().await;
    let mut f = Fixture::default();
    let loads = [
        Some("ACTIVE"),
        Some("COVERED"),
        None,
        Some(""),
        Some("ACTIVE"),
    ];
    for i in 0..24u32 {
        // Pairs of runs share a timestamp, to page across ties.
        let ts = format!("2025-12-15 {:02}:{:02}:00.000", 6 + i / 4, (i / 2) * 2);
        let run = format!("c{i:02}");
        f.call(&run, &ts, PAUL_ORG, "+13125550100", 30.0 + f64::from(i));
        let mut out = data(Some("non_convertible"), loads[i as usize % 5]);
        out["result.load.reference_number"] = json!(format!("REF-{i}"));
        out["result.pricing.agreed_upon_rate"] = json!(1500 + i);
        f.output(&run, PAUL_NODE, &ts, out);
    }
    // A retry: the later output (ACTIVE) is the one that counts.
    f.call(
        "retry",
        "2025-12-15 20:00:00.000",
        PAUL_ORG,
        "+13125550111",
        60.0,
    )
    .output(
        "retry",
        PAUL_NODE,
        "2025-12-15 20:00:01.000",
        data(Some("success"), Some("CANCELLED")),
    )
    .output(
        "retry",
        PAUL_NODE,
        "2025-12-15 20:05:00.000",
        data(Some("success"), Some("ACTIVE")),
    );
    f.call(
        "silent",
        "2025-12-15 21:00:00.000",
        PAUL_ORG,
        "+13125550112",
        5.0,
    );
    f.call(
        "test-line",
        "2025-12-15 21:10:00.000",
        PAUL_ORG,
        TEST_LINE,
        60.0,
    )
    .output(
        "test-line",
        PAUL_NODE,
        "2025-12-15 21:10:00.000",
        data(Some("success"), Some("ACTIVE")),
    );
    f.call(
        "other-node",
        "2025-12-15 21:20:00.000",
        PAUL_ORG,
        "+13125550113",
        60.0,
    )
    .output(
        "other-node",
        OTHER_NODE,
        "2025-12-15 21:20:00.000",
        data(Some("success"), Some("ACTIVE")),
    );
    // The day before and after (local): not listed.
    f.call(
        "before",
        "2025-12-15 05:59:59.999",
        PAUL_ORG,
        "+13125550100",
        60.0,
    );
    f.call(
        "after",
        "2025-12-16 06:00:00.000",
        PAUL_ORG,
        "+13125550100",
        60.0,
    );
    load(&db, &mut f).await;
    let api = start(Ch::Database(db), None, &[]).await;
    api.call(
        Method::PATCH,
        &format!("/api/orgs/{PAUL_ORG}"),
        Some(json!({"excluded_numbers": [TEST_LINE]}).to_string()),
        &[],
    )
    .await
    .expect(200);

    let report = api.get("/api/reports/live?date=2025-12-15").await;
    let report = report.expect(200).clone();
    assert_eq!(
        report["kpis"]["total_calls"], 27,
        "24 + retry + silent + other-node"
    );
    assert_eq!(report["kpis"]["classified_calls"], 25);

    // Every call of the day, 4 a page: each once, newest first.
    let (calls, pages) = all_pages(&api, "date=2025-12-15", 4).await;
    let ids = run_ids(&calls);
    assert_eq!(ids.len(), 27);
    assert_eq!(pages, 7);
    assert_eq!(ids.iter().collect::<BTreeSet<_>>().len(), 27, "{ids:?}");
    for gone in ["test-line", "before", "after"] {
        assert!(!ids.iter().any(|i| i == gone), "{gone} is not the day's");
    }
    let keys: Vec<(String, String)> = calls
        .iter()
        .map(|c| {
            let t = DateTime::parse_from_rfc3339(c["started_at"].as_str().unwrap()).unwrap();
            (
                t.to_utc().to_rfc3339(),
                c["run_id"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let mut sorted = keys.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(keys, sorted, "newest first, then run id descending");
    // One call in full (no principal: the number whole).
    let c21 = calls.iter().find(|c| c["run_id"] == "c21").unwrap();
    assert_eq!(
        *c21,
        json!({
            "run_id": "c21", "started_at": "2025-12-15T05:20:00-06:00", "duration_seconds": 51.0,
            "call_classification": "non_convertible", "call_stage": "RATE_NEGOTIATION",
            "load_status": "COVERED", "pricing_notes": "NOT_DISCUSSED",
            "carrier_end_state": "rate_rejected", "carrier_name": "Swift Haul LLC",
            "reference_number": "REF-21", "agreed_upon_rate": 1521.0,
            "user_number": "+13125550100"
        })
    );
    let retry = calls.iter().find(|c| c["run_id"] == "retry").unwrap();
    assert_eq!(retry["load_status"], "ACTIVE", "the latest output counts");

    // Each breakdown value: its calls over all pages are the report's count.
    for dimension in [
        "load_status",
        "call_classification",
        "call_stage",
        "pricing_notes",
        "carrier_end_state",
    ] {
        let rows = report["breakdowns"][dimension].as_array().unwrap();
        assert!(!rows.is_empty());
        for row in rows {
            let value = row["value"].as_str().unwrap();
            let (calls, _) =
                all_pages(&api, &format!("date=2025-12-15&{dimension}={value}"), 4).await;
            let ids = run_ids(&calls);
            assert_eq!(
                ids.len() as u64,
                row["count"].as_u64().unwrap(),
                "{dimension}={value}: {ids:?}"
            );
            assert_eq!(ids.iter().collect::<BTreeSet<_>>().len(), ids.len());
            for c in &calls {
                let got = c[dimension].as_str().unwrap_or("UNKNOWN");
                assert_eq!(got, value, "{dimension}");
            }
        }
    }
    let unknown = report["breakdowns"]["load_status"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["value"] == "UNKNOWN")
        .expect("missing and empty load_status are UNKNOWN");
    assert_eq!(unknown["count"], 10);
    // A value no call has.
    let (calls, pages) = all_pages(&api, "date=2025-12-15&load_status=NOT_FOUND", 4).await;
    assert_eq!((calls.len(), pages), (0, 1));

    // The number of a non-admin is masked; an admin's and a caller without principal's is not.
    let path = "/api/reports/calls?date=2025-12-15&limit=1";
    for (roles, number) in [
        (vec![format!("org:{PAUL_ORG}")], "+•••••••0113"),
        (vec!["analytics.admin".to_string()], "+13125550113"),
    ] {
        let roles: Vec<&str> = roles.iter().map(String::as_str).collect();
        let p = principal(&roles);
        let reply = api
            .call(
                Method::GET,
                path,
                None,
                &[("X-MS-CLIENT-PRINCIPAL", p.as_str())],
            )
            .await;
        let body = reply.expect(200);
        assert_eq!(body["calls"][0]["run_id"], "other-node");
        assert_eq!(body["calls"][0]["user_number"], number, "{roles:?}");
    }
    // A caller who may not see the org.
    let p = principal(&["org:0195ffff-0000-7000-8000-000000000000"]);
    api.call(
        Method::GET,
        path,
        None,
        &[("X-MS-CLIENT-PRINCIPAL", p.as_str())],
    )
    .await
    .expect_error(404, "org_not_found", None);
}

/// Bad values of every new parameter are a 400 naming it; `calls` is its own route, not a
/// `{date}`.
#[tokio::test]
async fn bad_parameters_are_400_naming_them() {
    assert_eq!(
        resolve(&Method::GET, "/api/reports/calls").map(|(id, _)| id),
        Ok(RouteId::ReportCalls)
    );
    assert_eq!(
        resolve(&Method::GET, "/api/reports/2025-12-15/changes"),
        Ok((RouteId::ReportChanges, vec!["2025-12-15".to_string()]))
    );
    let api = start(Ch::Database(clickhouse_database().await), None, &[]).await;
    for (path, field) in [
        ("/api/reports/2025-13-01/changes", "date"),
        ("/api/reports/yesterday/changes", "date"),
        ("/api/reports/2025-12-15/changes?min_calls=0", "min_calls"),
        ("/api/reports/2025-12-15/changes?min_calls=-1", "min_calls"),
        ("/api/reports/2025-12-15/changes?min_calls=x", "min_calls"),
        ("/api/reports/2025-12-15/changes?org_id=nope", "org_id"),
        ("/api/reports/calls?date=2025-02-30", "date"),
        ("/api/reports/calls?limit=0", "limit"),
        ("/api/reports/calls?limit=501", "limit"),
        ("/api/reports/calls?limit=ten", "limit"),
        ("/api/reports/calls?cursor=%21%21", "cursor"),
        ("/api/reports/calls?cursor=bm90IGEgY3Vyc29y", "cursor"),
        ("/api/reports/calls?hour=24", "hour"),
        ("/api/reports/calls?hour=1", "hour"),
        ("/api/reports/calls?hour=ab", "hour"),
        ("/api/reports/calls?call_stage=", "call_stage"),
        (
            "/api/reports/calls?call_classification=",
            "call_classification",
        ),
        ("/api/reports/calls?load_status=%01", "load_status"),
        ("/api/reports/calls?pricing_notes=", "pricing_notes"),
        ("/api/reports/calls?carrier_end_state=", "carrier_end_state"),
        ("/api/reports/calls?call_stage=GREETING&hour=01", "hour"),
        (
            "/api/reports/calls?load_status=ACTIVE&call_stage=GREETING",
            "call_stage",
        ),
        ("/api/reports/calls?limit=5&limit=6", "limit"),
        ("/api/reports/calls?load_satus=ACTIVE", "load_satus"),
        ("/api/reports/calls?org_id=nope", "org_id"),
    ] {
        let reply = api.get(path).await;
        assert_eq!(reply.status, 400, "{path}: {}", reply.text);
        reply.expect_error(400, "invalid_field", Some(field));
    }
    let long = "A".repeat(257);
    api.get(&format!("/api/reports/calls?call_stage={long}"))
        .await
        .expect_error(400, "invalid_field", Some("call_stage"));
    // The limits themselves are fine.
    for ok in [
        "limit=1",
        "limit=500",
        "hour=00",
        "hour=23",
        "call_stage=UNKNOWN",
    ] {
        let reply = api
            .get(&format!("/api/reports/calls?date=2025-12-15&{ok}"))
            .await;
        assert_eq!(reply.expect(200)["calls"], json!([]), "{ok}");
    }
}

// ---------------------------------------------------------------------------------------
// The dashboard's comparison and its links to the calls
// ---------------------------------------------------------------------------------------

/// Yesterday's stored report against its 4 baseline weeks (success 22/30 against 15/30 each:
/// flagged): the dashboard lists the flagged change first and links rows and hours to the
/// calls, whose HTML page (`format=html`, `Accept: text/html`) lists them.
#[tokio::test]
async fn the_dashboard_flags_changes_and_links_to_the_calls_page() {
    let y = crate::helpers::yesterday();
    let db = clickhouse_database().await;
    let mut f = Fixture::default();
    for i in 0..3u32 {
        let ts = format!("{y} 18:{:02}:00.000", i * 5);
        let run = format!("h{i}");
        f.call(&run, &ts, PAUL_ORG, "+13125550100", 60.0);
        f.output(&run, PAUL_NODE, &ts, data(Some("success"), Some("ACTIVE")));
    }
    load(&db, &mut f).await;
    let api = start(Ch::Database(db), None, &[]).await;
    let storage = Storage::connect(&api.app.storage_settings)
        .await
        .expect("storage");
    let day = report(&y.to_string(), 40, 30, 22);
    snapshots::write(&storage, &id_of(PAUL_ORG), y, &day, false)
        .await
        .expect("write");
    for w in 1..=4 {
        let b = y - chrono::Duration::days(7 * w);
        snapshots::write(
            &storage,
            &id_of(PAUL_ORG),
            b,
            &report(&b.to_string(), 30, 30, 15),
            false,
        )
        .await
        .expect("write");
    }
    let page = api.get("/api/dashboard?days=7").await;
    assert_eq!(page.status, 200, "{}", page.text);
    let html = &page.text;
    let weekday = y.format("%A").to_string();
    assert!(
        html.contains(&format!("median of 4 previous {weekday}s")),
        "{html}"
    );
    let strip = &html
        [html.find("id=\"changed-title\"").unwrap()..html.find("id=\"latest-title\"").unwrap()];
    assert!(
        strip.contains("data-kpi=\"success_rate_percent\""),
        "{strip}"
    );
    assert!(strip.contains("<li class=\"card change good\""), "{strip}");
    let link = format!(
        "reports/calls?org_id={PAUL_ORG}&amp;date={y}&amp;call_classification=success&amp;format=html"
    );
    assert!(html.contains(&format!("href=\"{link}\"")), "{html}");

    let path = format!("/api/{}", link.replace("&amp;", "&"));
    let calls = api.get(&path).await;
    assert_eq!(calls.status, 200, "{}", calls.text);
    assert!(
        calls
            .header("content-type")
            .unwrap()
            .starts_with("text/html")
    );
    assert!(calls.text.starts_with("<!DOCTYPE html>"));
    assert!(calls.text.contains("call_classification = success"));
    for run in ["h0", "h1", "h2"] {
        assert!(
            calls.text.contains(&format!("data-run=\"{run}\"")),
            "{}",
            calls.text
        );
    }
    let by_accept = api
        .call(
            Method::GET,
            &format!("/api/reports/calls?date={y}"),
            None,
            &[("Accept", "text/html")],
        )
        .await;
    assert_eq!(by_accept.status, 200);
    assert!(
        by_accept
            .header("content-type")
            .unwrap()
            .starts_with("text/html")
    );
    assert_eq!(by_accept.text.matches("<tr data-run=").count(), 3);
    // JSON stays the default; a bad format is a 400 naming it.
    api.get(&format!("/api/reports/calls?date={y}"))
        .await
        .expect(200);
    api.get(&format!("/api/reports/calls?date={y}&format=xml"))
        .await
        .expect_error(400, "invalid_field", Some("format"));
}
