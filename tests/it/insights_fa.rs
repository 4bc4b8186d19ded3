//! The failure analysis's insights (`docs/insights.md`, "Failure analysis: how sure a rate
//! is") through the handler process against a fresh PostgreSQL database: Wilson intervals,
//! `rank_by`, the `daily` series across a DST change, and `compare_previous`.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Call, OK_SID, TestApp, connect, fresh_database, insert, sessions};

const A: &str = "aaaaaaaa-0000-4000-8000-000000000001";
const B: &str = "bbbbbbbb-0000-4000-8000-000000000002";
const C: &str = "cccccccc-0000-4000-8000-000000000003";
const D: &str = "dddddddd-0000-4000-8000-000000000004";

/// A database with the four users A–D (names "A" … "D") and no calls.
async fn users_db() -> (String, tokio_postgres::Client) {
    let url = fresh_database().await;
    let db = connect(&url).await;
    insert(
        &db,
        &[
            (A, Some("A")),
            (B, Some("B")),
            (C, Some("C")),
            (D, Some("D")),
        ],
        &[],
    )
    .await;
    (url, db)
}

fn utc_day(date: &str) -> Value {
    json!({"from_date": date, "to_date": date, "timezone": "UTC"})
}

async fn ok_json(r: reqwest::Response) -> Value {
    let status = r.status();
    let body: Value = r.json().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

/// The analysis of `from_date` ..= `to_date` in `timezone` by a handler over `db_url`.
async fn analysed(db_url: String, from_date: &str, to_date: &str, timezone: &str) -> Value {
    let app = TestApp::with_db(db_url).await;
    let req = json!({"from_date": from_date, "to_date": to_date, "timezone": timezone});
    ok_json(app.analyse("", req).await).await
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

fn user<'a>(list: &'a Value, name: &str) -> &'a Value {
    list.as_array()
        .unwrap()
        .iter()
        .find(|u| u["user_name"] == name)
        .unwrap_or_else(|| panic!("{name} not in {list}"))
}

/// |a − b| < 1e-9.
fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

#[tokio::test]
async fn users_and_the_overall_rate_carry_hand_computed_wilson_intervals() {
    let (url, db) = users_db().await;
    sessions(&db, A, "2025-05-21 10:00:00", 10, 3).await;
    sessions(&db, B, "2025-05-21 11:00:00", 5, 0).await;
    let app = TestApp::with_db(url).await;
    let body = ok_json(
        app.analyse("?include_details=true", utc_day("2025-05-21"))
            .await,
    )
    .await;
    // Roots of (n + z²)p² − (2k + z²)p + k²/n = 0, z = 1.959964 (worked out separately).
    let a = user(&body["top_users"], "A");
    assert!(close(f(&a["failure_rate_lower"]), 0.107_791_266_556), "{a}");
    assert!(close(f(&a["failure_rate_upper"]), 0.603_221_854_654), "{a}");
    let b = user(&body["users"], "B");
    assert_eq!(f(&b["failure_rate_lower"]), 0.0);
    assert!(close(f(&b["failure_rate_upper"]), 0.434_482_468_659), "{b}");
    // Overall 3/15.
    let s = &body["summary"];
    assert!(close(f(&s["failure_rate_lower"]), 0.070_475_492_917), "{s}");
    assert!(close(f(&s["failure_rate_upper"]), 0.451_854_489_241), "{s}");
    assert!(s.get("previous").is_none() && a.get("previous").is_none());
    assert!(a.get("change_significant").is_none());
    assert_eq!(body["options"]["rank_by"], "failure_rate");
    assert_eq!(body["options"]["compare_previous"], false);
}

#[tokio::test]
async fn rank_by_lower_bound_puts_volume_first_and_a_bad_value_names_the_field() {
    let (url, db) = users_db().await;
    // Lower bounds: A 2/2 → .342380, B 20/20 → .838875, C 30/60 → .377350
    sessions(&db, A, "2025-05-21 10:00:00", 2, 2).await;
    sessions(&db, B, "2025-05-21 10:00:00", 20, 20).await;
    sessions(&db, C, "2025-05-21 10:00:00", 60, 30).await;
    let app = TestApp::with_db(url).await;
    let names = |body: &Value| -> Vec<String> {
        body["top_users"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["user_name"].as_str().unwrap().to_string())
            .collect()
    };
    let by_rate = ok_json(app.analyse("", utc_day("2025-05-21")).await).await;
    assert_eq!(names(&by_rate), ["B", "A", "C"]);
    let mut req = utc_day("2025-05-21");
    req["rank_by"] = json!("lower_bound");
    let by_lower = ok_json(app.analyse("", req.clone()).await).await;
    assert_eq!(names(&by_lower), ["B", "C", "A"]);
    assert_eq!(by_lower["options"]["rank_by"], "lower_bound");
    assert_eq!(by_lower["top_users"][1]["rank"], 2);
    // A cached result is per order, not shared between them.
    let again = ok_json(app.analyse("", req).await).await;
    assert_eq!(
        (again["cached"].as_bool(), names(&again)),
        (Some(true), names(&by_lower))
    );

    for bad in [json!("rate"), json!(3)] {
        let mut req = utc_day("2025-05-21");
        req["rank_by"] = bad.clone();
        let r = app.analyse("", req).await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{bad}");
        let e: Value = r.json().await.unwrap();
        assert_eq!(e["error"]["field"], "rank_by", "{bad}: {e}");
    }
}

#[tokio::test]
async fn daily_has_one_entry_per_local_day_across_spring_forward() {
    // America/Chicago: CST (UTC−6) until 2025-03-09 02:00 local, CDT (UTC−5) after.
    let url = fresh_database().await;
    let db = connect(&url).await;
    let call = |sid: Option<&'static str>, t: &'static str| Call {
        session_id: Some("s"),
        user_id: Some(A),
        exotel_call_sid: sid,
        created_on: t,
    };
    let ok = Some(OK_SID);
    insert(
        &db,
        &[(A, Some("A"))],
        &[
            call(None, "2025-03-08 05:59:59"), // 03-07 23:59:59 CST: before the window
            call(ok, "2025-03-08 06:00:00"),   // 03-08 00:00 CST: the first instant
            call(None, "2025-03-09 05:30:00"), // 03-08 23:30 CST
            call(ok, "2025-03-09 06:30:00"),   // 03-09 00:30 CST
            call(None, "2025-03-10 04:30:00"), // 03-09 23:30 CDT
            call(None, "2025-03-10 05:30:00"), // 03-10 00:30 CDT (23:30 on 03-09 at CST)
            call(ok, "2025-03-11 04:59:59"),   // 03-10 23:59:59 CDT
            // 03-11 has no sessions.
            call(None, "2025-03-12 05:00:00"), // 03-12 00:00 CDT: after the window
        ],
    )
    .await;
    let body = analysed(url, "2025-03-08", "2025-03-11", "America/Chicago").await;
    assert_eq!(
        daily_totals(&body),
        [
            ("2025-03-08", 2, 1),
            ("2025-03-09", 2, 1),
            ("2025-03-10", 2, 1),
            ("2025-03-11", 0, 0),
        ]
    );
    assert_eq!(f(&body["daily"][0]["failure_rate"]), 0.5);
    assert_eq!(f(&body["daily"][3]["failure_rate"]), 0.0);
    assert_eq!(body["summary"]["total_sessions"], 6);
}

/// (date, total sessions, failed sessions) of each day of an analysis' `daily`.
fn daily_totals(body: &Value) -> Vec<(&str, i64, i64)> {
    body["daily"]
        .as_array()
        .unwrap_or_else(|| panic!("no daily in {body}"))
        .iter()
        .map(|d| {
            (
                d["date"].as_str().unwrap(),
                d["total_sessions"].as_i64().unwrap(),
                d["failed_sessions"].as_i64().unwrap(),
            )
        })
        .collect()
}

#[tokio::test]
async fn daily_days_of_a_fall_back_window_are_berlin_days() {
    // Europe/Berlin: CEST (UTC+2) until 2025-10-26 03:00 local, CET (UTC+1) after; 10-26 has
    // 25 hours, [2025-10-25 22:00, 2025-10-26 23:00) UTC.
    let (url, db) = users_db().await;
    sessions(&db, A, "2025-10-25 21:59:59", 1, 0).await; // 10-25 23:59:59 CEST
    sessions(&db, A, "2025-10-25 22:00:00", 2, 1).await; // 10-26 00:00 CEST
    sessions(&db, A, "2025-10-26 22:30:00", 3, 3).await; // 10-26 23:30 CET
    sessions(&db, A, "2025-10-26 23:00:00", 4, 0).await; // 10-27 00:00 CET
    let body = analysed(url, "2025-10-25", "2025-10-27", "Europe/Berlin").await;
    assert_eq!(
        daily_totals(&body),
        [
            ("2025-10-25", 1, 0),
            ("2025-10-26", 5, 4),
            ("2025-10-27", 4, 0)
        ]
    );
}

#[tokio::test]
async fn compare_previous_gives_previous_counts_and_significance() {
    let (url, db) = users_db().await;
    // Window 2025-05-21 (UTC); the previous window is 2025-05-20.
    // A: 20/100 now, 10/100 before: z = 1.9803 > 1.959964 → significant.
    // B: 19/100 now, 10/100 before: z = 1.8074 → not.
    // C: 1/1 now, nothing before → previous null, not significant.
    // D: only before (5/5): counted in summary.previous, not a user of the window.
    sessions(&db, A, "2025-05-21 08:00:00", 100, 20).await;
    sessions(&db, A, "2025-05-20 08:00:00", 100, 10).await;
    sessions(&db, B, "2025-05-21 09:00:00", 100, 19).await;
    sessions(&db, B, "2025-05-20 23:59:59", 100, 10).await;
    sessions(&db, C, "2025-05-21 00:00:00", 1, 1).await;
    sessions(&db, D, "2025-05-20 00:00:00", 5, 5).await;
    sessions(&db, D, "2025-05-19 23:59:59", 7, 7).await; // before the previous window
    let app = TestApp::with_db(url).await;
    let mut req = utc_day("2025-05-21");
    req["compare_previous"] = json!(true);
    let body = ok_json(app.analyse("?include_details=true", req).await).await;
    assert_eq!(body["options"]["compare_previous"], true);
    let a = user(&body["users"], "A");
    assert_eq!(
        a["previous"],
        json!({"total_sessions": 100, "failed_sessions": 10, "failure_rate": 0.1})
    );
    assert_eq!(a["change_significant"], true);
    let b = user(&body["users"], "B");
    assert_eq!(b["previous"]["failed_sessions"], 10);
    assert_eq!(b["change_significant"], false);
    let c = user(&body["top_users"], "C");
    assert!(
        c["previous"].is_null() && c.get("previous").is_some(),
        "{c}"
    );
    assert_eq!(c["change_significant"], false);
    assert_eq!(body["summary"]["total_users"], 3);
    let p = &body["summary"]["previous"];
    assert_eq!(
        (p["total_sessions"].as_i64(), p["total_failures"].as_i64()),
        (Some(205), Some(25))
    );
    assert!(close(f(&p["overall_failure_rate"]), 25.0 / 205.0), "{p}");
    assert_eq!(p["window"]["from_date"], "2025-05-20");
    assert_eq!(p["window"]["end_utc"], body["window"]["start_utc"]);
    // The window's own figures are unchanged by the comparison.
    assert_eq!(body["summary"]["total_sessions"], 201);
    assert_eq!(
        body["daily"],
        json!([{"date": "2025-05-21", "total_sessions": 201,
        "failed_sessions": 40, "failure_rate": 40.0 / 201.0}])
    );

    // With min_sessions above B's count nothing is significant, even A.
    let mut req = utc_day("2025-05-21");
    req["compare_previous"] = json!(true);
    req["min_sessions"] = json!(101);
    let body = ok_json(app.analyse("?include_details=true", req).await).await;
    assert_eq!(user(&body["users"], "A")["change_significant"], false);
}
