//! Settled days (`docs/failure-analysis.md`, "Settled days") through the handler process: a
//! day kept in storage is read instead of scanned, results equal a forced full scan, names are
//! current, `force_refresh` rescans and rewrites, unsettled and unusable days are scanned, and
//! `REUSE_SETTLED_DAYS=false` keeps nothing.

use bytes::Bytes;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Spawn, TestApp, connect, fresh_database, insert, sessions};

const A: &str = "aaaaaaaa-0000-4000-8000-00000000000a";
const B: &str = "bbbbbbbb-0000-4000-8000-00000000000b";

/// Where the handler keeps the settled days of Asia/Kolkata.
const KEPT: &str = "failure_analysis/settled/Asia/Kolkata/";

/// Users A and B; every Asia/Kolkata day of 2025-03-01 ..= 2025-03-10 (at 06:00 UTC, 11:30
/// local) has sessions of both, counts that differ per day.
async fn month_db() -> (String, tokio_postgres::Client) {
    let url = fresh_database().await;
    let db = connect(&url).await;
    insert(&db, &[(A, Some("Anushka")), (B, Some("Bala"))], &[]).await;
    for day in 1..=10 {
        let at = format!("2025-03-{day:02} 06:00:00");
        sessions(&db, A, &at, 10 + day, day % 4).await;
        sessions(&db, B, &at, 3 + day % 3, 1).await;
    }
    (url, db)
}

/// An analysis of the Asia/Kolkata days `from` ..= `to` with every user, answered 200.
async fn analysed(app: &TestApp, from: &str, to: &str, extra: Value) -> Value {
    let mut req = json!({"from_date": from, "to_date": to, "timezone": "Asia/Kolkata"});
    req.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    let r = app.analyse("?include_details=true", req).await;
    let status = r.status();
    let body: Value = r.json().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

/// The result without what differs between two runs of it: times, artifact names, `cached`.
fn result(mut body: Value) -> Value {
    let o = body.as_object_mut().unwrap();
    for key in ["generated_at", "artifacts", "cached"] {
        o.remove(key);
    }
    body
}

/// `(total_sessions, total_failures)` of a response.
fn totals(body: &Value) -> (i64, i64) {
    let s = &body["summary"];
    (
        s["total_sessions"].as_i64().unwrap(),
        s["total_failures"].as_i64().unwrap(),
    )
}

/// The names of the settled days kept under [`KEPT`].
async fn kept_days(app: &TestApp) -> Vec<String> {
    let page = app.storage().await.list(KEPT, None, 1000).await.unwrap();
    page.entries.into_iter().map(|e| e.name).collect()
}

#[tokio::test]
async fn a_shifted_window_reads_kept_days_and_equals_a_forced_full_scan() {
    let (url, _db) = month_db().await;
    let app = TestApp::with_db(url).await;
    let prev = json!({"compare_previous": true});
    analysed(&app, "2025-03-06", "2025-03-10", prev.clone()).await;
    // The window and the previous one: ten days kept.
    assert_eq!(kept_days(&app).await.len(), 10);
    let shifted = analysed(&app, "2025-03-05", "2025-03-09", prev.clone()).await;
    let log = app.log();
    assert!(
        log.contains("\"days_reused\":9") || log.contains("days_reused=9"),
        "the shifted window reads 9 of its 10 days: {log}"
    );
    let mut forced = prev;
    forced["force_refresh"] = json!(true);
    let full = analysed(&app, "2025-03-05", "2025-03-09", forced).await;
    assert_eq!(full["cached"], false);
    assert_eq!(result(shifted), result(full));
}

#[tokio::test]
async fn a_kept_day_is_read_not_scanned_until_force_refresh() {
    let (url, db) = month_db().await;
    let app = TestApp::with_db(url).await;
    let first = analysed(&app, "2025-03-01", "2025-03-03", json!({})).await;
    // Rows deleted from, and added late to, settled days: a kept day does not see either.
    db.execute(
        "DELETE FROM public.calllog WHERE created_on::date = '2025-03-02'",
        &[],
    )
    .await
    .unwrap();
    sessions(&db, A, "2025-03-03 07:00:00", 5, 5).await;
    let again = analysed(&app, "2025-03-01", "2025-03-03", json!({"max_users": 14})).await;
    assert_eq!(again["cached"], false);
    assert_eq!(totals(&again), totals(&first));
    // force_refresh rescans the days and rewrites them.
    let forced = analysed(
        &app,
        "2025-03-01",
        "2025-03-03",
        json!({"max_users": 13, "force_refresh": true}),
    )
    .await;
    // 2025-03-02 had A 12/2 and B 5/1 (sessions/failures); A's late rows are 5/5.
    let (sessions, failures) = totals(&first);
    assert_eq!(totals(&forced), (sessions - 17 + 5, failures - 3 + 5));
    let after = analysed(&app, "2025-03-01", "2025-03-03", json!({"max_users": 12})).await;
    assert_eq!(totals(&after), totals(&forced));
}

#[tokio::test]
async fn a_renamed_user_shows_the_current_name_on_a_kept_day() {
    let (url, db) = month_db().await;
    let app = TestApp::with_db(url).await;
    analysed(&app, "2025-03-01", "2025-03-02", json!({})).await;
    db.execute(
        "UPDATE public.\"user\" SET name = 'Anushka R' WHERE user_id = $1::text::uuid",
        &[&A],
    )
    .await
    .unwrap();
    let body = analysed(&app, "2025-03-01", "2025-03-02", json!({"max_users": 14})).await;
    let names: Vec<&str> = body["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["user_name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"Anushka R"), "{names:?}");
    assert!(!names.contains(&"Anushka"), "{names:?}");
}

#[tokio::test]
async fn an_unsettled_day_is_always_scanned_and_never_kept() {
    let (url, db) = month_db().await;
    // Days of 2025 end less than SETTLE_HOURS (a million hours) ago.
    let app = TestApp::spawn(Spawn {
        db_url: Some(url),
        env: vec![("SETTLE_HOURS".into(), "1000000".into())],
        ..Spawn::default()
    })
    .await;
    let first = analysed(&app, "2025-03-01", "2025-03-02", json!({})).await;
    assert!(kept_days(&app).await.is_empty());
    sessions(&db, B, "2025-03-01 08:00:00", 4, 0).await;
    let again = analysed(&app, "2025-03-01", "2025-03-02", json!({"max_users": 14})).await;
    assert_eq!(totals(&again).0, totals(&first).0 + 4);
}

#[tokio::test]
async fn a_kept_day_that_cannot_be_parsed_is_scanned() {
    let (url, db) = month_db().await;
    let app = TestApp::with_db(url).await;
    let first = analysed(&app, "2025-03-01", "2025-03-02", json!({})).await;
    let name = format!("{KEPT}2025-03-02.json");
    assert!(kept_days(&app).await.contains(&name));
    app.storage()
        .await
        .put(
            &name,
            Bytes::from_static(b"{\"torn"),
            &call_analytics::storage::Put::new("application/json"),
        )
        .await
        .unwrap();
    sessions(&db, B, "2025-03-02 08:00:00", 4, 0).await;
    let again = analysed(&app, "2025-03-01", "2025-03-02", json!({"max_users": 14})).await;
    assert_eq!(totals(&again).0, totals(&first).0 + 4);
    assert!(app.log().contains("settled day unusable"));
}

#[tokio::test]
async fn with_reuse_off_every_day_is_scanned_and_none_kept() {
    let (url, db) = month_db().await;
    let app = TestApp::spawn(Spawn {
        db_url: Some(url),
        env: vec![("REUSE_SETTLED_DAYS".into(), "false".into())],
        ..Spawn::default()
    })
    .await;
    let first = analysed(&app, "2025-03-01", "2025-03-02", json!({})).await;
    assert!(kept_days(&app).await.is_empty());
    sessions(&db, A, "2025-03-01 08:00:00", 4, 0).await;
    let again = analysed(&app, "2025-03-01", "2025-03-02", json!({"max_users": 14})).await;
    assert_eq!(totals(&again).0, totals(&first).0 + 4);
}
