//! The daily report against the ClickHouse test engine (the chdb front, `CLICKHOUSE_TEST_URL`,
//! exported by the test scripts). Each test makes its own database `t_<uuid>` with the schema
//! of `demo/clickhouse/schema.sql`, loads a small fixture and calls `generate`.
//!
//! Requests to the engine go through a [`Proxy`], which counts the HTTP requests, so
//! that `metadata.source.round_trips` is checked against what really went over the wire.

use std::time::{Duration, Instant};

use call_analytics::clickhouse::{ClickHouse, ClickHouseError, RetryPolicy};
use call_analytics::daily_report::kpi::Kpis;
use call_analytics::daily_report::query::fetch_day;
use call_analytics::daily_report::report::{
    BreakdownRow, DailyReport, FunnelStep, day_window, generate,
};
use call_analytics::daily_report::summary::ReportSummary;
use call_analytics::orgs::{OrgId, Organization};
use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use serde_json::{Value, json};

use crate::helpers::{ClickHouseDb, Faults, Proxy};
use crate::helpers::{
    Fixture, PAUL_NODE, PAUL_ORG, booked, clickhouse_settings as settings, clickhouse_url,
    closed_port, flat, outcome,
};

const OTHER_NODE: &str = "019b099d-7802-7a31-8c5e-40f2b9d7e118";
const OTHER_ORG: &str = "01953c2a-41d7-7b8e-b0c4-52e9a7f3d610";
const OTHER_ORG_NODE: &str = "019b2f61-8a0e-7c3d-a5f2-3e7d9b1c4a82";
const TEST_LINE: &str = "+19259898099";

// ---------------------------------------------------------------------------------------
// Rig
// ---------------------------------------------------------------------------------------

/// A fresh database with the four source tables, reached through a request-counting proxy.
struct TestDb {
    ch: ClickHouse,
    proxy: Proxy,
}

impl TestDb {
    async fn new() -> TestDb {
        let db = ClickHouseDb::fresh().await;
        let proxy = Proxy::start(&db.url).await;
        let ch = db.client_via(&proxy.url);
        TestDb { ch, proxy }
    }

    /// Generates `org`'s report for `date` and checks that `round_trips` is what went over
    /// the wire.
    async fn report(&self, org: &Organization, date: &str) -> DailyReport {
        let before = self.proxy.requests();
        let report = generate(&self.ch, org, d(date), now())
            .await
            .expect("generate");
        let sent = self.proxy.requests() - before;
        assert_eq!(
            report.metadata.source.round_trips as usize, sent,
            "round_trips must count the HTTP requests made"
        );
        // Each query is preceded by its connection check (`SELECT 1`).
        assert!(
            sent <= 4,
            "at most two queries per report, got {sent} round trips"
        );
        report
    }
}

fn org(org_id: &str, node: &str, tz: Tz, excluded: &[&str]) -> Organization {
    Organization {
        org_id: OrgId::parse(org_id, "org_id").unwrap(),
        name: "Paul Logistics".into(),
        node_persistent_id: node.into(),
        timezone: tz,
        is_active: true,
        excluded_numbers: excluded.iter().map(|s| s.to_string()).collect(),
        notifications: vec![],
        created_at: now(),
        updated_at: now(),
    }
}

fn paul() -> Organization {
    org(
        PAUL_ORG,
        PAUL_NODE,
        chrono_tz::America::Chicago,
        &[TEST_LINE],
    )
}

fn d(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

fn now() -> DateTime<Utc> {
    "2025-12-16T12:00:00Z".parse().unwrap()
}

/// (value, count, percentage) of a breakdown.
fn rows(b: &[BreakdownRow]) -> Vec<(&str, u64, f64)> {
    b.iter()
        .map(|r| (r.value.as_str(), r.count, r.percentage))
        .collect()
}

/// (stage, reached, drop-off, drop-off percentage) of each funnel step.
fn funnel(steps: &[FunnelStep]) -> Vec<(&str, u64, u64, f64)> {
    steps
        .iter()
        .map(|s| (s.stage.as_str(), s.reached, s.drop_off, s.drop_off_percent))
        .collect()
}

/// The duration KPIs: total hours, then average, median and p90 minutes per call.
fn durations(k: &Kpis) -> [f64; 4] {
    [
        k.total_duration_hours,
        k.avg_minutes_per_call,
        k.median_minutes_per_call,
        k.p90_minutes_per_call,
    ]
}

// ---------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------

/// Every KPI, breakdown and funnel step of a small day, worked out by hand.
#[tokio::test]
async fn kpis_of_a_small_day_match_the_hand_computed_values() {
    let db = TestDb::new().await;
    let mut f = Fixture::default();
    // Paul Logistics, 2025-12-15 in America/Chicago (CST, -06:00):
    // window [2025-12-15 06:00:00Z, 2025-12-16 06:00:00Z).
    //
    // R = r01..r12: 12 runs, durations 60·k s for r_k, i.e. 1..12 minutes.
    //   Σ = 60·78 = 4680 s → total_duration_hours = 1.3, avg_minutes = 78/12 = 6.5.
    //   Minutes sorted 1..12: median (linear, h = 11·0.5 = 5.5) = 6 + 0.5·(7-6) = 6.5;
    //   p90 (h = 11·0.9 = 9.9) = 10 + 0.9·(11-10) = 10.9.
    // O = R minus r10 (no output of the node): 11 runs.
    // C = O minus r09 (empty classification) and r11 (no classification key): 9 runs
    //   r01 r02 r03 r04 r05 r06 r07 r08 r12.
    let s = Some;
    let no = || Some(json!(false));
    let at = |m: u32| format!("2025-12-15 {:02}:{:02}:00.000", 6 + m / 60, m % 60);
    let calls: Vec<(&str, Value)> = vec![
        // r01: success, transferred for booking (READY_TO_BOOK + true).
        ("r01", booked(s("AGREEMENT_REACHED_CARRIER_CONFIRMED"))),
        // r02: same, pending confirmation.
        ("r02", booked(s("AGREEMENT_REACHED_PENDING_CONFIRMATION"))),
        // r03: non_convertible AND not qualified.
        (
            "r03",
            outcome(
                s("non_convertible"),
                "CARRIER_VERIFICATION",
                None,
                no(),
                s("ACTIVE"),
                s("NOT_QUALIFIED"),
                s("not_qualified"),
                s("NOT_DISCUSSED"),
            ),
        ),
        // r04: non_convertible, load covered.
        (
            "r04",
            outcome(
                s("non_convertible"),
                "LOAD_LOOKUP",
                None,
                no(),
                s("COVERED"),
                s("UNKNOWN"),
                s("load_unavailable"),
                s("NOT_DISCUSSED"),
            ),
        ),
        // r05: not qualified (but rate_not_agreed), carrier asked for a transfer.
        (
            "r05",
            outcome(
                s("rate_not_agreed"),
                "RATE_NEGOTIATION",
                s("CARRIER_ASKED_FOR_TRANSFER"),
                no(),
                s("ACTIVE"),
                s("NOT_QUALIFIED"),
                s("rate_rejected"),
                s("NO_AGREEMENT_RATE_TOO_HIGH"),
            ),
        ),
        // r06: READY_TO_BOOK but the transfer failed: not transferred for booking.
        (
            "r06",
            outcome(
                s("other"),
                "TRANSFER_FAILED",
                s("READY_TO_BOOK"),
                no(),
                s("ACTIVE"),
                s("QUALIFIED"),
                s("hung_up"),
                s("AGREEMENT_REACHED_PENDING_CONFIRMATION"),
            ),
        ),
        // r07: only classification and stage: UNKNOWN load, pricing, end state.
        (
            "r07",
            flat(&[
                ("result.call.call_classification", json!("carrier_dropped")),
                ("result.call.call_stage", json!("GREETING")),
            ]),
        ),
        // r08: unknown load value kept as is; empty pricing → UNKNOWN; no transfer_success.
        (
            "r08",
            outcome(
                s("other"),
                "TRANSFER_ATTEMPTED",
                s("NEGOTIATION_ESCALATION"),
                None,
                s("PENDING_REVIEW"),
                s("QUALIFIED"),
                s("callback_requested"),
                s(""),
            ),
        ),
        // r09: empty classification: in O, not in C.
        (
            "r09",
            outcome(
                s(""),
                "RATE_NEGOTIATION",
                None,
                no(),
                s("ACTIVE"),
                s("NOT_QUALIFIED"),
                s("rate_rejected"),
                s("NO_AGREEMENT_RATE_TOO_HIGH"),
            ),
        ),
        // r10: no output (added below without one).
        ("r10", Value::Null),
        // r11: no classification key: in O, not in C.
        (
            "r11",
            outcome(
                None,
                "GREETING",
                None,
                None,
                None,
                s("UNKNOWN"),
                s("hung_up"),
                None,
            ),
        ),
        // r12: success; transfer_success written as the string "true" still counts.
        ("r12", {
            let mut data = booked(s("AGREEMENT_REACHED_CARRIER_CONFIRMED"));
            data["result.transfer.transfer_success"] = json!("true");
            data
        }),
    ];
    for (k, (run, data)) in calls.into_iter().enumerate() {
        let minutes = k as u32 + 1;
        // r01 starts exactly at the window's start (inclusive).
        let ts = if k == 0 {
            "2025-12-15 06:00:00.000".to_string()
        } else {
            at(minutes * 50)
        };
        f.paul_call(
            run,
            &ts,
            &format!("+1312555{:04}", k),
            60.0 * minutes as f64,
        );
        if !data.is_null() {
            f.paul_output(run, &at(minutes * 50 + 20), data);
        }
    }
    let win = booked(s("AGREEMENT_REACHED_CARRIER_CONFIRMED"));
    // None of these may count:
    // x1: the org's test line (excluded).
    f.paul_call("x1", "2025-12-15 15:00:00.000", TEST_LINE, 999.0)
        .paul_output("x1", "2025-12-15 15:10:00.000", win.clone());
    // x2: another org's run and node.
    f.call(
        "x2",
        "2025-12-15 15:00:00.000",
        OTHER_ORG,
        "+14155550100",
        999.0,
    )
    .output("x2", OTHER_ORG_NODE, "2025-12-15 15:10:00.000", win.clone());
    // x3: 1 ms before the window (the day before, 23:59:59.999 local).
    f.paul_call("x3", "2025-12-15 05:59:59.999", "+13125559999", 999.0)
        .paul_output("x3", "2025-12-15 06:10:00.000", win.clone());
    // x4: exactly at the window's end (the next day).
    f.paul_call("x4", "2025-12-16 06:00:00.000", "+13125559999", 999.0)
        .paul_output("x4", "2025-12-16 06:10:00.000", win.clone());
    // x5: another node's output for r10, which has none of the org's node.
    f.output("r10", OTHER_NODE, "2025-12-15 20:00:00.000", win.clone());
    // x6: a run with the node's output but no session.
    f.run("x6", "2025-12-15 16:00:00.000")
        .paul_output("x6", "2025-12-15 16:10:00.000", win);
    f.load(&db.ch).await;

    let r = db.report(&paul(), "2025-12-15").await;
    let k = &r.kpis;
    assert_eq!(k.total_calls, 12);
    assert_eq!(k.classified_calls, 9);
    assert_eq!(durations(k), [1.3, 6.5, 6.5, 10.9]);
    // success: r01 r02 r12 = 3/9.
    assert_eq!(k.success_rate_percent, 33.33);
    // non_convertible OR NOT_QUALIFIED: r03 r04 r05 = 3/9.
    let nc = &k.non_convertible_calls_with_carrier_not_qualified;
    assert_eq!((nc.count, nc.total_calls, nc.percentage), (3, 9, 33.33));
    // NOT_QUALIFIED: r03 r05 = 2/9 (r09's is not in C).
    let nq = &k.carrier_not_qualified;
    assert_eq!((nq.count, nq.total_calls, nq.percentage), (2, 9, 22.22));
    // CARRIER_ASKED_FOR_TRANSFER: r05 = 1/9.
    let ca = &k.carrier_transfer_over_total_call_attempts;
    assert_eq!(
        (
            ca.carrier_asked_count,
            ca.total_call_attempts,
            ca.carrier_asked_percentage
        ),
        (1, 9, 11.11)
    );
    // READY_TO_BOOK and transfer_success: r01 r02 r12 = 3/9 (r06 failed).
    let tb = &k.successfully_transferred_for_booking;
    assert_eq!(
        (
            tb.successfully_transferred_for_booking_count,
            tb.total_calls,
            tb.successfully_transferred_for_booking_percentage
        ),
        (3, 9, 33.33)
    );
    // non_convertible alone: r03 r04 = 2/9.
    let n = &k.non_convertible_calls;
    assert_eq!((n.count, n.total_calls, n.percentage), (2, 9, 22.22));

    let b = &r.breakdowns;
    let breakdowns = [
        // Stages of C: TRANSFER_SUCCEEDED r01 r02 r12; one each of the six others.
        (
            "call_stage",
            &b.call_stage,
            vec![
                ("TRANSFER_SUCCEEDED", 3, 33.33),
                ("CARRIER_VERIFICATION", 1, 11.11),
                ("GREETING", 1, 11.11),
                ("LOAD_LOOKUP", 1, 11.11),
                ("RATE_NEGOTIATION", 1, 11.11),
                ("TRANSFER_ATTEMPTED", 1, 11.11),
                ("TRANSFER_FAILED", 1, 11.11),
            ],
        ),
        // success 3; non_convertible r03 r04; other r06 r08; carrier_dropped r07;
        // rate_not_agreed r05.
        (
            "call_classification",
            &b.call_classification,
            vec![
                ("success", 3, 33.33),
                ("non_convertible", 2, 22.22),
                ("other", 2, 22.22),
                ("carrier_dropped", 1, 11.11),
                ("rate_not_agreed", 1, 11.11),
            ],
        ),
        // ACTIVE r01 r02 r03 r05 r06 r12; COVERED r04; PENDING_REVIEW r08; missing r07.
        (
            "load_status",
            &b.load_status,
            vec![
                ("ACTIVE", 6, 66.67),
                ("COVERED", 1, 11.11),
                ("PENDING_REVIEW", 1, 11.11),
                ("UNKNOWN", 1, 11.11),
            ],
        ),
        // CONFIRMED r01 r12; PENDING r02 r06; NOT_DISCUSSED r03 r04; UNKNOWN r07 (missing),
        // r08 (empty); NO_AGREEMENT r05.
        (
            "pricing_notes",
            &b.pricing_notes,
            vec![
                ("AGREEMENT_REACHED_CARRIER_CONFIRMED", 2, 22.22),
                ("AGREEMENT_REACHED_PENDING_CONFIRMATION", 2, 22.22),
                ("NOT_DISCUSSED", 2, 22.22),
                ("UNKNOWN", 2, 22.22),
                ("NO_AGREEMENT_RATE_TOO_HIGH", 1, 11.11),
            ],
        ),
        // booking_started r01 r02 r12; one each of the others ("UNKNOWN" sorts before lower
        // case).
        (
            "carrier_end_state",
            &b.carrier_end_state,
            vec![
                ("booking_started", 3, 33.33),
                ("UNKNOWN", 1, 11.11),
                ("callback_requested", 1, 11.11),
                ("hung_up", 1, 11.11),
                ("load_unavailable", 1, 11.11),
                ("not_qualified", 1, 11.11),
                ("rate_rejected", 1, 11.11),
            ],
        ),
    ];
    for (name, got, want) in breakdowns {
        assert_eq!(rows(got), want, "{name}");
    }
    // Funnel over C: at G 1, LL 1, CV 1, RN 1, TA 1, TS 3, TF 1.
    // reached: TS 3, TF 1, TA 1+3+1 = 5, RN 6, CV 7, LL 8, G 9.
    // drop-off: LL 1/9 = 11.11, CV 1/8 = 12.5, RN 1/7 = 14.29, TA 1/6 = 16.67,
    // TS (5-3)/5 = 40, TF (5-1)/5 = 80.
    assert_eq!(
        funnel(&b.funnel),
        vec![
            ("GREETING", 9, 0, 0.0),
            ("LOAD_LOOKUP", 8, 1, 11.11),
            ("CARRIER_VERIFICATION", 7, 1, 12.5),
            ("RATE_NEGOTIATION", 6, 1, 14.29),
            ("TRANSFER_ATTEMPTED", 5, 1, 16.67),
            ("TRANSFER_SUCCEEDED", 3, 2, 40.0),
            ("TRANSFER_FAILED", 1, 4, 80.0),
        ]
    );

    // The document: the old tool's shape (`docs/daily-report.md`, "Report document").
    let json = serde_json::to_value(&r).unwrap();
    assert_eq!(json["date_range"]["tz"], "America/Chicago");
    assert_eq!(
        json["date_range"]["start_date"],
        "2025-12-15T00:00:00-06:00"
    );
    assert_eq!(json["date_range"]["end_date"], "2025-12-16T00:00:00-06:00");
    assert_eq!(json["metadata"]["org_id"], PAUL_ORG);
    assert_eq!(json["metadata"]["org_name"], "Paul Logistics");
    assert_eq!(
        json["metadata"]["generated_at"],
        "2025-12-16T06:00:00-06:00"
    );
    // The connection check and the query.
    assert_eq!(json["metadata"]["source"]["round_trips"], 2);
    assert_eq!(json["schema_version"], 2);
    assert_eq!(
        json["kpis"]["carrier_transfer_over_total_call_attempts"]["carrier_asked_count"],
        1
    );
    let s = ReportSummary::of(&r).to_metadata();
    assert_eq!(s["total_calls"], "12");
    assert_eq!(s["success_rate_percent"], "33.33");
    assert_eq!(s["carrier_not_qualified_percent"], "22.22");
    assert_eq!(s["successfully_transferred_percent"], "33.33");
    assert_eq!(s["total_duration_hours"], "1.3");
}

/// Spring forward (2025-03-09, 23 h) and fall back (2025-11-02, 25 h) in America/Chicago:
/// runs on either side of each local midnight land on the right local day.
#[tokio::test]
async fn dst_days_have_23_and_25_hours_and_edges_land_on_the_right_day() {
    let db = TestDb::new().await;
    let mut f = Fixture::default();
    let data = booked(None);
    // (run, UTC instant, local day it belongs to)
    let runs = [
        ("a", "2025-03-09 05:59:59.999", "2025-03-08"), // 03-08 23:59:59.999 CST
        ("b", "2025-03-09 06:00:00.000", "2025-03-09"), // 03-09 00:00 CST
        ("c", "2025-03-10 04:59:59.999", "2025-03-09"), // 03-09 23:59:59.999 CDT
        ("d", "2025-03-10 05:00:00.000", "2025-03-10"), // 03-10 00:00 CDT
        ("e", "2025-11-02 04:59:59.999", "2025-11-01"), // 11-01 23:59:59.999 CDT
        ("f", "2025-11-02 05:00:00.000", "2025-11-02"), // 11-02 00:00 CDT
        ("g", "2025-11-02 06:30:00.000", "2025-11-02"), // the first 01:30 (CDT)
        ("h", "2025-11-02 07:30:00.000", "2025-11-02"), // the second 01:30 (CST)
        ("i", "2025-11-03 05:59:59.999", "2025-11-02"), // 11-02 23:59:59.999 CST
        ("j", "2025-11-03 06:00:00.000", "2025-11-03"), // 11-03 00:00 CST
    ];
    for (run, ts, _) in runs {
        f.paul_call(run, ts, "+13125550000", 120.0)
            .paul_output(run, ts, data.clone());
    }
    f.load(&db.ch).await;

    let chicago = chrono_tz::America::Chicago;
    for (date, hours, start, end) in [
        (
            "2025-03-09",
            23,
            "2025-03-09T00:00:00-06:00",
            "2025-03-10T00:00:00-05:00",
        ),
        (
            "2025-11-02",
            25,
            "2025-11-02T00:00:00-05:00",
            "2025-11-03T00:00:00-06:00",
        ),
    ] {
        let (s, e) = day_window(d(date), chicago);
        assert_eq!((e - s).num_hours(), hours, "{date}");
        let r = db.report(&paul(), date).await;
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["date_range"]["start_date"], start);
        assert_eq!(json["date_range"]["end_date"], end);
    }
    for date in [
        "2025-03-08",
        "2025-03-09",
        "2025-03-10",
        "2025-11-01",
        "2025-11-02",
        "2025-11-03",
    ] {
        let expected = runs.iter().filter(|(_, _, day)| *day == date).count() as u64;
        let r = db.report(&paul(), date).await;
        assert_eq!(r.kpis.total_calls, expected, "{date}");
        assert_eq!(r.kpis.classified_calls, expected, "{date}");
        assert_eq!(r.kpis.success_rate_percent, 100.0, "{date}");
    }
}

/// The org's excluded numbers are left out of R (and so of O and C); exact matches only.
#[tokio::test]
async fn excluded_numbers_are_left_out() {
    let db = TestDb::new().await;
    let mut f = Fixture::default();
    let ok = booked(None);
    let nc = outcome(
        Some("non_convertible"),
        "CARRIER_VERIFICATION",
        None,
        Some(json!(false)),
        Some("ACTIVE"),
        Some("NOT_QUALIFIED"),
        Some("not_qualified"),
        None,
    );
    // Two test lines and a real caller whose number starts like a test line.
    f.paul_call("t1", "2025-12-15 15:00:00.000", TEST_LINE, 600.0)
        .paul_output("t1", "2025-12-15 15:10:00.000", ok.clone());
    f.paul_call("t2", "2025-12-15 16:00:00.000", "+15555550123", 600.0)
        .paul_output("t2", "2025-12-15 16:10:00.000", ok);
    f.paul_call("c1", "2025-12-15 17:00:00.000", "+192598980990", 60.0)
        .paul_output("c1", "2025-12-15 17:10:00.000", nc);
    f.load(&db.ch).await;

    let none = org(PAUL_ORG, PAUL_NODE, chrono_tz::America::Chicago, &[]);
    let r = db.report(&none, "2025-12-15").await;
    assert_eq!(r.kpis.total_calls, 3);
    assert_eq!(r.kpis.success_rate_percent, 66.67);

    let both = org(
        PAUL_ORG,
        PAUL_NODE,
        chrono_tz::America::Chicago,
        &[TEST_LINE, "+15555550123"],
    );
    let r = db.report(&both, "2025-12-15").await;
    // Only c1 is left: 1 call, 1 minute, non_convertible.
    assert_eq!(r.kpis.total_calls, 1);
    assert_eq!(r.kpis.classified_calls, 1);
    assert_eq!(r.kpis.avg_minutes_per_call, 1.0);
    assert_eq!(r.kpis.success_rate_percent, 0.0);
    assert_eq!(r.kpis.non_convertible_calls.count, 1);
    assert_eq!(
        rows(&r.breakdowns.call_classification),
        vec![("non_convertible", 1, 100.0)]
    );
}

/// A run with three outputs counts once, with its latest values; another node's outputs are
/// ignored even when they are later.
#[tokio::test]
async fn duplicate_outputs_count_once_with_the_latest_values() {
    let db = TestDb::new().await;
    let mut f = Fixture::default();
    let cls = |c: &str, stage: &str| {
        flat(&[
            ("result.call.call_classification", json!(c)),
            ("result.call.call_stage", json!(stage)),
        ])
    };
    f.paul_call("r1", "2025-12-15 15:00:00.000", "+13125550001", 300.0)
        // Inserted out of order: the latest (15:09) says non_convertible.
        .paul_output(
            "r1",
            "2025-12-15 15:08:00.000",
            cls("success", "TRANSFER_SUCCEEDED"),
        )
        .paul_output(
            "r1",
            "2025-12-15 15:09:00.000",
            cls("non_convertible", "CARRIER_VERIFICATION"),
        )
        .paul_output("r1", "2025-12-15 15:07:00.000", cls("other", "GREETING"))
        // A later output of another node, ignored.
        .output(
            "r1",
            OTHER_NODE,
            "2025-12-15 15:30:00.000",
            cls("success", "TRANSFER_SUCCEEDED"),
        );
    // r2: only another node's output: in R, not in O.
    f.paul_call("r2", "2025-12-15 16:00:00.000", "+13125550002", 300.0)
        .output(
            "r2",
            OTHER_NODE,
            "2025-12-15 16:05:00.000",
            cls("success", "TRANSFER_SUCCEEDED"),
        );
    f.load(&db.ch).await;

    let r = db.report(&paul(), "2025-12-15").await;
    assert_eq!(r.kpis.total_calls, 2);
    assert_eq!(r.kpis.classified_calls, 1);
    assert_eq!(r.kpis.total_duration_hours, round2(600.0 / 3600.0));
    assert_eq!(r.kpis.success_rate_percent, 0.0);
    assert_eq!(r.kpis.non_convertible_calls.count, 1);
    assert_eq!(
        rows(&r.breakdowns.call_classification),
        vec![("non_convertible", 1, 100.0)]
    );
    assert_eq!(
        rows(&r.breakdowns.call_stage),
        vec![("CARRIER_VERIFICATION", 1, 100.0)]
    );

    // The raw counts agree: one run with output.
    let (start, end) = day_window(d("2025-12-15"), chrono_tz::America::Chicago);
    let (counts, stats) = fetch_day(&db.ch, &paul(), start, end).await.unwrap();
    assert_eq!(counts.runs_with_output, 1);
    assert_eq!(stats.round_trips, 2);
}

/// Several session rows of one run: the run counts once; distinct sessions add up, a repeated
/// session id counts once (its greatest duration), an excluded number's leg is left out.
#[tokio::test]
async fn several_sessions_of_one_run_count_once() {
    let db = TestDb::new().await;
    let mut f = Fixture::default();
    // r1: session s-r1 twice (60 s and 90 s: counts 90) and leg s-r1b 120 s → 210 s = 3.5 min.
    f.paul_call("r1", "2025-12-15 15:00:00.000", "+13125550001", 60.0)
        .session("s-r1", "r1", "+13125550001", 90.0)
        .session("s-r1b", "r1", "+13125550009", 120.0);
    // r2: a leg from the test line (left out) and one of 30 s → 0.5 min.
    f.paul_call("r2", "2025-12-15 16:00:00.000", TEST_LINE, 600.0)
        .session("s-r2b", "r2", "+13125550003", 30.0);
    // r3: only the test line → not in R.
    f.paul_call("r3", "2025-12-15 17:00:00.000", TEST_LINE, 500.0);
    f.load(&db.ch).await;

    let r = db.report(&paul(), "2025-12-15").await;
    let k = &r.kpis;
    assert_eq!(k.total_calls, 2);
    // Σ = 240 s: 0.0667 h → 0.07; avg 4 / 2 = 2.0 min.
    // Minutes [0.5, 3.5]: median 2.0, p90 = 0.5 + 0.9 · 3 = 3.2.
    assert_eq!(durations(k), [0.07, 2.0, 2.0, 3.2]);
}

/// An output with only a classification.
fn classified_as(classification: &str) -> Value {
    flat(&[("result.call.call_classification", json!(classification))])
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// A day without calls: zeros everywhere, no NaN or null, empty breakdowns, a zero funnel.
#[tokio::test]
async fn an_empty_day_gives_zeros() {
    let db = TestDb::new().await;
    let mut f = Fixture::default();
    // Data on another day only.
    f.paul_call("r1", "2025-12-10 15:00:00.000", "+13125550001", 300.0)
        .paul_output("r1", "2025-12-10 15:08:00.000", classified_as("success"));
    f.load(&db.ch).await;

    let r = db.report(&paul(), "2025-12-15").await;
    let k = &r.kpis;
    assert_eq!((k.total_calls, k.classified_calls), (0, 0));
    for v in [
        k.total_duration_hours,
        k.avg_minutes_per_call,
        k.success_rate_percent,
        k.median_minutes_per_call,
        k.p90_minutes_per_call,
        k.carrier_not_qualified.percentage,
        k.non_convertible_calls.percentage,
        k.non_convertible_calls_with_carrier_not_qualified
            .percentage,
        k.carrier_transfer_over_total_call_attempts
            .carrier_asked_percentage,
        k.successfully_transferred_for_booking
            .successfully_transferred_for_booking_percentage,
    ] {
        assert_eq!(v, 0.0);
    }
    let b = &r.breakdowns;
    assert!(b.call_stage.is_empty() && b.call_classification.is_empty());
    assert!(b.load_status.is_empty() && b.pricing_notes.is_empty());
    assert!(b.carrier_end_state.is_empty());
    assert_eq!(b.funnel.len(), 7);
    assert!(
        b.funnel
            .iter()
            .all(|s| s.reached == 0 && s.drop_off == 0 && s.drop_off_percent == 0.0)
    );
    let text = serde_json::to_string(&r).unwrap();
    assert!(
        !text.contains("NaN") && !text.contains("null") && !text.contains("inf"),
        "{text}"
    );
}

/// An org whose node id has no outputs (a wrong id, a new org) gets zeros, not an error; so
/// does an org id without sessions.
#[tokio::test]
async fn an_org_whose_node_has_no_data_gets_zeros() {
    let db = TestDb::new().await;
    let mut f = Fixture::default();
    f.paul_call("r1", "2025-12-15 15:00:00.000", "+13125550001", 90.0)
        .paul_output("r1", "2025-12-15 15:08:00.000", classified_as("success"));
    f.paul_call("r2", "2025-12-15 16:00:00.000", "+13125550002", 30.0);
    f.load(&db.ch).await;

    let wrong_node = org(
        PAUL_ORG,
        "00000000-0000-7000-8000-000000000000",
        chrono_tz::America::Chicago,
        &[],
    );
    let r = db.report(&wrong_node, "2025-12-15").await;
    assert_eq!(r.kpis.total_calls, 2);
    assert_eq!(r.kpis.avg_minutes_per_call, 1.0);
    assert_eq!(r.kpis.classified_calls, 0);
    assert_eq!(r.kpis.success_rate_percent, 0.0);
    assert!(r.breakdowns.call_classification.is_empty());

    let unknown_org = org(
        "00000000-0000-7000-8000-00000000000a",
        "00000000-0000-7000-8000-00000000000b",
        chrono_tz::Asia::Kolkata,
        &[],
    );
    let r = db.report(&unknown_org, "2025-12-15").await;
    assert_eq!((r.kpis.total_calls, r.kpis.classified_calls), (0, 0));
    assert_eq!(
        serde_json::to_value(&r).unwrap()["date_range"]["start_date"],
        "2025-12-15T00:00:00+05:30"
    );
}

/// ClickHouse down (nothing listens): `Unavailable` after the retries, in about a second.
#[tokio::test]
async fn clickhouse_down_is_unavailable_after_bounded_retries() {
    let url = format!("http://127.0.0.1:{}", closed_port());
    let ch = ClickHouse::new(&settings(&url, "default")).unwrap();
    assert_eq!(ch.retry_policy(), RetryPolicy::default());
    let started = Instant::now();
    let e = generate(&ch, &paul(), d("2025-12-15"), now())
        .await
        .unwrap_err();
    let elapsed = started.elapsed();
    assert!(matches!(e, ClickHouseError::Unavailable(_)), "{e:?}");
    // Pauses of 200 ms and 800 ms between three attempts.
    assert!(elapsed >= Duration::from_millis(1000), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
    let text = e.to_string();
    assert!(
        !text.contains("SELECT") && !text.contains(PAUL_ORG),
        "{text}"
    );

    let e = ch.probe().await.unwrap_err();
    assert!(matches!(e, ClickHouseError::Unavailable(_)), "{e:?}");
}

/// A load balancer's 503 is retried; the report then counts both round trips.
#[tokio::test]
async fn a_503_is_retried_and_counted() {
    let url = clickhouse_url();
    let db = TestDb::new().await;
    let mut f = Fixture::default();
    f.paul_call("r1", "2025-12-15 15:00:00.000", "+13125550001", 90.0);
    f.load(&db.ch).await;
    let proxy = Proxy::with_faults(
        &url,
        Faults {
            fail_first: 1,
            ..Faults::default()
        },
    )
    .await;
    let name = db.ch.database().to_string();
    let ch = ClickHouse::new(&settings(&proxy.url, &name)).unwrap();
    let r = generate(&ch, &paul(), d("2025-12-15"), now())
        .await
        .unwrap();
    assert_eq!(r.kpis.total_calls, 1);
    // The failed connection check, then the check and the query.
    assert_eq!(r.metadata.source.round_trips, 3);
    assert_eq!(proxy.requests(), 3);
}

/// The probe answers through the engine; a query error is a `Query` error without SQL text
/// and is not retried.
#[tokio::test]
async fn probe_and_query_errors() {
    let db = TestDb::new().await;
    let took = db.ch.probe().await.expect("probe");
    assert!(took < Duration::from_secs(10));
    let before = db.proxy.requests();
    let e = db
        .ch
        .execute("SELECT no_such_column FROM public_runs WHERE id = 'secret-value'")
        .await
        .unwrap_err();
    assert_eq!(
        db.proxy.requests() - before,
        2,
        "the connection check and the query, not retried"
    );
    match &e {
        ClickHouseError::Query { code: Some(47), .. } => {}
        other => panic!("{other:?}"),
    }
    let text = e.to_string();
    assert!(
        !text.contains("secret-value") && !text.contains("FROM"),
        "{text}"
    );
}

/// `docs/revisions.md`, "Provenance" and "Re-checking recent days": the fingerprint the
/// re-check query computes for each day is the one the day's report recorded (same scope:
/// the org's sessions, excluded numbers left out, its node's outputs), in one query for
/// several days; late rows (a new run, a newer output of an existing run) change it, and a
/// day without calls has none.
#[tokio::test]
async fn the_recheck_fingerprint_is_the_reports_and_moves_with_late_rows() {
    use call_analytics::daily_report::provenance::fetch_fingerprints;
    let db = TestDb::new().await;
    let paul = org(
        PAUL_ORG,
        PAUL_NODE,
        chrono_tz::America::Chicago,
        &[TEST_LINE],
    );
    let mut f = Fixture::default();
    // 2025-12-15 (Chicago, UTC-6): two calls with outputs, one from the excluded test line,
    // one of another org; 2025-12-16: one call without output; 2025-12-17: nothing.
    f.paul_call("a1", "2025-12-15 15:00:00.000", "+13125550001", 60.0)
        .paul_output("a1", "2025-12-15 15:01:00.000", classified_as("success"))
        .paul_output("a1", "2025-12-15 15:02:00.000", classified_as("success"))
        .paul_call("a2", "2025-12-15 23:30:00.000", "+13125550002", 60.0)
        .paul_output("a2", "2025-12-15 23:31:00.000", classified_as("other"))
        .paul_call("t1", "2025-12-15 16:00:00.000", TEST_LINE, 60.0)
        .paul_output("t1", "2025-12-15 16:01:00.000", classified_as("success"))
        .call(
            "x1",
            "2025-12-15 17:00:00.000",
            OTHER_ORG,
            "+13125550003",
            60.0,
        )
        .paul_call("b1", "2025-12-16 18:00:00.000", "+13125550004", 60.0);
    f.load(&db.ch).await;

    let fingerprint = |r: &DailyReport| r.metadata.provenance.as_ref().unwrap().fingerprint;
    let day1 = db.report(&paul, "2025-12-15").await;
    let day2 = db.report(&paul, "2025-12-16").await;
    let provenance = day1.metadata.provenance.as_ref().unwrap();
    assert_eq!(provenance.query_sha256.len(), 64);
    assert!(!provenance.engine.is_empty());
    assert_eq!(
        (fingerprint(&day1).runs, fingerprint(&day1).outputs),
        (2, 3)
    );
    assert_eq!(
        fingerprint(&day1).latest_output_at.unwrap().to_rfc3339(),
        "2025-12-15T23:31:00+00:00"
    );
    assert_eq!(
        (fingerprint(&day2).runs, fingerprint(&day2).outputs),
        (1, 0)
    );
    assert_eq!(fingerprint(&day2).latest_output_at, None);

    let (days, stats) = fetch_fingerprints(&db.ch, &paul, d("2025-12-15"), d("2025-12-17"))
        .await
        .unwrap();
    assert_eq!(stats.round_trips, 2, "one query (and its connection check)");
    assert_eq!(days.get(&d("2025-12-15")), Some(&fingerprint(&day1)));
    assert_eq!(days.get(&d("2025-12-16")), Some(&fingerprint(&day2)));
    assert_eq!(days.get(&d("2025-12-17")), None, "{days:?}");

    // Late rows: a newer output of a1, a new run on the 16th.
    let mut late = Fixture::default();
    late.paul_output(
        "a1",
        "2025-12-16 09:00:00.000",
        classified_as("non_convertible"),
    )
    .paul_call("b2", "2025-12-16 19:00:00.000", "+13125550005", 60.0);
    late.load(&db.ch).await;
    let (after, _) = fetch_fingerprints(&db.ch, &paul, d("2025-12-15"), d("2025-12-17"))
        .await
        .unwrap();
    let (d1, d2) = (after[&d("2025-12-15")], after[&d("2025-12-16")]);
    assert_eq!((d1.runs, d1.outputs), (2, 4));
    assert_eq!(
        d1.latest_output_at.unwrap().to_rfc3339(),
        "2025-12-16T09:00:00+00:00"
    );
    assert_eq!((d2.runs, d2.outputs), (2, 0));
    assert_eq!(d1, fingerprint(&db.report(&paul, "2025-12-15").await));
    assert_eq!(d2, fingerprint(&db.report(&paul, "2025-12-16").await));
}
