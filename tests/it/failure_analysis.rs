//! `POST /api/failure_analysis` through the handler process, against a fresh database and a
//! fresh Azurite container per test.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Call, Spawn, TestApp, column, connect, fresh_database, insert};

const ANUSHKA: &str = "11111111-aaaa-4aaa-8aaa-000000000001";
const AYUSH_A: &str = "22222222-aaaa-4aaa-8aaa-000000000002";
const AYUSH_B: &str = "33333333-aaaa-4aaa-8aaa-000000000003";
const NO_NAME: &str = "44444444-aaaa-4aaa-8aaa-000000000004";
const ORPHAN: &str = "55555555-aaaa-4aaa-8aaa-000000000005";

/// The Asia/Kolkata day 2025-05-21 is [2025-05-20 18:30, 2025-05-21 18:30) UTC.
/// Hand count (sessions/failures): Anushka 8/4, Ayush(2222) 4/1, Ayush(3333) 2/2,
/// no name 3/0, orphan 1/1 → 5 users, 18 sessions, 8 failures.
async fn fixture_db() -> String {
    let url = fresh_database().await;
    let db = connect(&url).await;
    let call = |s: Option<&'static str>,
                u: &'static str,
                sid: Option<&'static str>,
                t: &'static str| Call {
        session_id: s,
        user_id: Some(u),
        exotel_call_sid: sid,
        created_on: t,
    };
    let ok = Some("c0ffee00c0ffee00c0ffee00c0ffee00");
    let mut calls = vec![];
    // Anushka: 4 successes, 2 NULL sids, 2 blank sids; plus rows that are not sessions.
    for _ in 0..4 {
        calls.push(call(Some("s"), ANUSHKA, ok, "2025-05-21 03:00:00"));
    }
    calls.push(call(Some("s"), ANUSHKA, None, "2025-05-21 04:00:00"));
    calls.push(call(Some("s"), ANUSHKA, None, "2025-05-21 05:00:00"));
    calls.push(call(Some("s"), ANUSHKA, Some("   "), "2025-05-21 06:00:00"));
    calls.push(call(Some("s"), ANUSHKA, Some(""), "2025-05-21 07:00:00"));
    calls.push(call(None, ANUSHKA, None, "2025-05-21 07:00:00"));
    calls.push(call(Some("  "), ANUSHKA, None, "2025-05-21 07:00:00"));
    // Ayush (2222): the window's first instant is in, its end and the second before are out.
    calls.push(call(Some("s"), AYUSH_A, None, "2025-05-20 18:30:00"));
    calls.push(call(Some("s"), AYUSH_A, ok, "2025-05-21 10:00:00"));
    calls.push(call(Some("s"), AYUSH_A, ok, "2025-05-21 11:00:00"));
    calls.push(call(Some("s"), AYUSH_A, ok, "2025-05-21 18:29:59"));
    calls.push(call(Some("s"), AYUSH_A, None, "2025-05-20 18:29:59"));
    calls.push(call(Some("s"), AYUSH_A, None, "2025-05-21 18:30:00"));
    // Ayush (3333): every session failed.
    calls.push(call(Some("s"), AYUSH_B, None, "2025-05-21 12:00:00"));
    calls.push(call(Some("s"), AYUSH_B, None, "2025-05-21 12:30:00"));
    // A user with a NULL name, and a user_id with no user row.
    for _ in 0..3 {
        calls.push(call(Some("s"), NO_NAME, ok, "2025-05-21 13:00:00"));
    }
    calls.push(call(Some("s"), ORPHAN, None, "2025-05-21 14:00:00"));
    insert(
        &db,
        &[
            (ANUSHKA, Some("Anushka")),
            (AYUSH_A, Some("Ayush")),
            (AYUSH_B, Some("Ayush")),
            (NO_NAME, None),
        ],
        &calls,
    )
    .await;
    url
}

async fn app_with_fixture() -> TestApp {
    TestApp::with_db(fixture_db().await).await
}

fn day() -> Value {
    json!({"from_date": "2025-05-21", "to_date": "2025-05-21", "timezone": "Asia/Kolkata"})
}

fn close(v: &Value, expected: f64) -> bool {
    (v.as_f64().unwrap() - expected).abs() < 1e-9
}

#[tokio::test]
async fn counts_sessions_and_failures_per_user_as_worked_out_by_hand() {
    let app = app_with_fixture().await;
    let r = app.analyse("?include_details=true", day()).await;
    assert_eq!(r.status(), StatusCode::OK);
    let body: Value = r.json().await.unwrap();
    let s = &body["summary"];
    assert_eq!(
        (
            s["total_users"].as_i64(),
            s["total_sessions"].as_i64(),
            s["total_failures"].as_i64()
        ),
        (Some(5), Some(18), Some(8))
    );
    assert!(close(&s["overall_failure_rate"], 8.0 / 18.0));
    assert!(close(&s["average"], 0.55));
    assert!(close(&s["median"], 0.5));
    assert!(close(&s["maximum"], 1.0) && close(&s["minimum"], 0.0));
    assert!(close(&s["std_deviation"], 0.2f64.sqrt()));
    let ranked: Vec<(&str, i64)> = body["top_users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| {
            (
                u["user_name"].as_str().unwrap(),
                u["rank"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        ranked,
        [
            ("Ayush (33333333)", 1),
            ("Unknown (55555555)", 2),
            ("Anushka", 3),
            ("Ayush (22222222)", 4),
            ("Unknown (44444444)", 5)
        ]
    );
    let anushka = &body["top_users"][2];
    assert_eq!(anushka["failure_rate_percent"], "50.00%");
    assert_eq!(
        (
            anushka["failed_sessions"].as_i64(),
            anushka["success_sessions"].as_i64()
        ),
        (Some(4), Some(4))
    );
    let counts: Vec<i64> = body["histogram"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["count"].as_i64().unwrap())
        .collect();
    assert_eq!(counts, [1, 0, 1, 0, 0, 1, 0, 0, 0, 2]);
    assert_eq!(body["window"]["start_utc"], "2025-05-20T18:30:00Z");
    assert_eq!(body["window"]["end_utc"], "2025-05-21T18:30:00Z");
    assert_eq!(body["users"].as_array().unwrap().len(), 5);
    assert_eq!(body["cached"], false);
}

/// Blank is empty or only ' ', \t, \r, \n (docs/failure-analysis.md, "Definitions"), and a value
/// that merely starts with one of them is not blank: the query tests the first character
/// before it trims (src/failure_analysis/query.sql), so both sides of that test are here.
#[tokio::test]
async fn blank_means_empty_or_only_spaces_tabs_and_line_breaks() {
    let url = fresh_database().await;
    let db = connect(&url).await;
    let at = "2025-05-21 06:00:00";
    let call = |s: &'static str, sid: Option<&'static str>| Call {
        session_id: Some(s),
        user_id: Some(ANUSHKA),
        exotel_call_sid: sid,
        created_on: at,
    };
    let calls = vec![
        // Not sessions: blank session_id of every kind.
        call("", Some("c0ffee")),
        call(" ", Some("c0ffee")),
        call("\t\r\n", Some("c0ffee")),
        call("\n", None),
        // Sessions that succeeded: the session_id or the sid starts with whitespace, or with a
        // character that only looks like it (NO-BREAK SPACE, vertical tab).
        call("\ts", Some(" c0ffee")),
        call(" s", Some("\nc0ffee\r")),
        call("\u{a0}", Some("\u{b}")),
        call("s", Some("c0ffee")),
        // Sessions that failed: NULL, empty or blank sid of every kind.
        call("s", None),
        call("\r\ns", Some("")),
        call("s", Some("\t")),
        call("s", Some(" \r\n\t ")),
    ];
    insert(&db, &[(ANUSHKA, Some("Anushka"))], &calls).await;
    let app = TestApp::with_db(url).await;

    let r = app.analyse("", day()).await;
    assert_eq!(r.status(), StatusCode::OK);
    let body: Value = r.json().await.unwrap();
    let s = &body["summary"];
    assert_eq!(
        (s["total_sessions"].as_i64(), s["total_failures"].as_i64()),
        (Some(8), Some(4)),
        "{s}"
    );
    let day = &body["daily"][0];
    assert_eq!(
        (
            day["total_sessions"].as_i64(),
            day["failed_sessions"].as_i64()
        ),
        (Some(8), Some(4)),
        "{day}"
    );
}

#[tokio::test]
async fn ranking_honours_max_users_and_min_sessions_but_totals_keep_everyone() {
    let app = app_with_fixture().await;
    let mut req = day();
    req["max_users"] = json!(2);
    req["min_sessions"] = json!(2);
    let body: Value = app.analyse("", req).await.json().await.unwrap();
    assert_eq!(
        column(&body["top_users"], "user_name"),
        ["Ayush (33333333)", "Anushka"]
    );
    assert_eq!(body["summary"]["total_users"], 5);
    assert!(
        body.get("users").is_none(),
        "users only with include_details"
    );
}

#[tokio::test]
async fn writes_csv_html_and_json_artifacts_to_blob_storage() {
    let app = app_with_fixture().await;
    let body: Value = app.analyse("", day()).await.json().await.unwrap();
    let storage = app.storage().await;
    let page = storage
        .list(
            "failure_analysis/20250520T183000Z_20250521T183000Z/",
            None,
            100,
        )
        .await
        .unwrap();
    let names: Vec<&str> = page
        .entries
        .iter()
        .map(|e| e.name.rsplit('/').next().unwrap())
        .collect();
    for (prefix, suffix) in [
        ("user_failure_stats_", ".csv"),
        ("user_failure_rates_", ".html"),
        ("user_failure_summary_", ".json"),
    ] {
        assert!(
            names
                .iter()
                .any(|n| n.starts_with(prefix) && n.ends_with(suffix)),
            "{prefix}…{suffix} in {names:?}"
        );
    }
    let csv_location = body["artifacts"]["csv"].as_str().unwrap();
    let csv_name = page
        .entries
        .iter()
        .find(|e| csv_location.ends_with(&e.name))
        .expect("csv location names a listed blob")
        .name
        .clone();
    let csv = storage.get(&csv_name).await.unwrap().unwrap();
    assert!(
        csv.content_type
            .as_deref()
            .unwrap_or_default()
            .starts_with("text/csv")
    );
    let mut reader = csv::Reader::from_reader(&csv.body[..]);
    let headers: Vec<String> = reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_string)
        .collect();
    assert_eq!(
        &headers[..6],
        [
            "user_name",
            "total_sessions",
            "failed_sessions",
            "success_sessions",
            "failure_rate",
            "failure_rate_percent"
        ]
    );
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 5);
    assert_eq!(&rows[2][0], "Anushka");
    assert_eq!(&rows[2][5], "50.00%");
    let html_name = page
        .entries
        .iter()
        .find(|e| e.name.ends_with(".html"))
        .unwrap()
        .name
        .clone();
    let html = storage.get(&html_name).await.unwrap().unwrap();
    let html = String::from_utf8(html.body.to_vec()).unwrap();
    assert!(
        html.contains("Anushka") && !html.contains("src=\"http") && !html.contains("href=\"http")
    );
    let json_name = page
        .entries
        .iter()
        .find(|e| e.name.ends_with(".json") && e.name.contains("summary"))
        .unwrap()
        .name
        .clone();
    let summary: Value =
        serde_json::from_slice(&storage.get(&json_name).await.unwrap().unwrap().body).unwrap();
    assert_eq!(summary["summary"], body["summary"]);
    assert_eq!(summary["users"].as_array().unwrap().len(), 5);
}

#[tokio::test]
async fn export_csv_false_skips_the_csv() {
    let app = app_with_fixture().await;
    let body: Value = app
        .analyse("?export_csv=false", day())
        .await
        .json()
        .await
        .unwrap();
    assert!(body["artifacts"]["csv"].is_null());
    let page = app
        .storage()
        .await
        .list("failure_analysis/", None, 100)
        .await
        .unwrap();
    assert!(page.entries.iter().all(|e| !e.name.ends_with(".csv")));
}

#[tokio::test]
async fn a_repeated_request_is_served_from_cache_unless_forced() {
    let app = app_with_fixture().await;
    let first: Value = app.analyse("", day()).await.json().await.unwrap();
    let second: Value = app.analyse("", day()).await.json().await.unwrap();
    assert_eq!(second["cached"], true);
    assert_eq!(second["artifacts"], first["artifacts"]);
    assert_eq!(second["summary"], first["summary"]);
    let mut forced = day();
    forced["force_refresh"] = json!(true);
    let third: Value = app.analyse("", forced).await.json().await.unwrap();
    assert_eq!(third["cached"], false);
    // Other options are another result.
    let mut other = day();
    other["max_users"] = json!(3);
    let fourth: Value = app.analyse("", other).await.json().await.unwrap();
    assert_eq!(fourth["cached"], false);
    assert_eq!(fourth["top_users"].as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn a_window_ending_in_the_future_is_never_reused() {
    let app = TestApp::with_db(fresh_database().await).await;
    let today = chrono::Utc::now().date_naive().to_string();
    let req = json!({"from_date": today, "to_date": today});
    let first: Value = app.analyse("", req.clone()).await.json().await.unwrap();
    let second: Value = app.analyse("", req).await.json().await.unwrap();
    assert_eq!(
        (first["cached"].as_bool(), second["cached"].as_bool()),
        (Some(false), Some(false))
    );
}

#[tokio::test]
async fn an_empty_window_is_a_valid_result_with_zeros() {
    let app = app_with_fixture().await;
    let r = app
        .analyse(
            "",
            json!({"from_date": "2024-01-01", "to_date": "2024-01-31"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["summary"]["total_users"], 0);
    assert_eq!(body["summary"]["total_sessions"], 0);
    assert_eq!(body["summary"]["overall_failure_rate"], 0.0);
    assert_eq!(body["top_users"], json!([]));
    assert_eq!(body["histogram"].as_array().unwrap().len(), 10);
}

#[tokio::test]
async fn bad_input_is_a_400_that_names_the_field() {
    let app = TestApp::with_db(fresh_database().await).await;
    let cases = [
        (
            json!({"from_date": "2025-13-01", "to_date": "2025-12-01"}),
            "from_date",
        ),
        (
            json!({"from_date": "2025-01-01", "to_date": "01/02/2025"}),
            "to_date",
        ),
        (
            json!({"from_date": "2025-02-01", "to_date": "2025-01-01"}),
            "from_date",
        ),
        (
            json!({"from_date": "2025-01-01", "to_date": "2025-01-02", "timezone": "Mars/Base"}),
            "timezone",
        ),
        (
            json!({"from_date": "2023-01-01", "to_date": "2025-01-01"}),
            "to_date",
        ),
        (json!({"from_date": "2025-01-01"}), "to_date"),
        (json!({"max_users": 0}), "max_users"),
        (json!({"max_users": 1001}), "max_users"),
        (json!({"max_users": "ten"}), "max_users"),
        (json!({"min_sessions": 0}), "min_sessions"),
        (json!({"force_refresh": "yes"}), "force_refresh"),
        (json!({"from": "2025-01-01"}), "from"),
        (json!([1, 2]), "body"),
    ];
    for (body, field) in cases {
        let r = app.analyse("", body.clone()).await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{body}");
        let e: Value = r.json().await.unwrap();
        assert_eq!(e["error"]["field"], field, "{body}: {e}");
        assert_eq!(e["error"]["code"], "invalid_field");
    }
    let r = app
        .forwarded(reqwest::Method::POST, "/api/failure_analysis", "inv-1")
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(r.json::<Value>().await.unwrap()["error"]["field"], "body");
    let r = app.analyse("?include_details=perhaps", json!({})).await;
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"]["field"],
        "include_details"
    );
}

#[tokio::test]
async fn wrong_method_is_405_with_allow_and_unknown_path_is_404() {
    let app = TestApp::spawn(Spawn::default()).await;
    let get = |path: &str, invocation_id: &str| {
        app.forwarded(reqwest::Method::GET, path, invocation_id)
            .send()
    };
    let r = get("/api/failure_analysis", "inv-2").await.unwrap();
    assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(r.headers()["allow"], "POST");
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"]["code"],
        "method_not_allowed"
    );
    let r = get("/api/nope", "inv-3").await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(r.headers()["content-type"], "application/json");
}

#[tokio::test]
async fn a_body_over_the_limit_is_413() {
    let app = TestApp::spawn(Spawn::default()).await;
    let big = format!("{{\"from_date\": \"{}\"}}", "x".repeat(300 * 1024));
    let r = app
        .forwarded(reqwest::Method::POST, "/api/failure_analysis", "inv-4")
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn an_unreachable_database_is_503_and_the_password_never_reaches_the_log() {
    let port = crate::helpers::free_port();
    let app = TestApp::with_db(format!(
        "postgres://analyst:s3cret-pw@127.0.0.1:{port}/calls"
    ))
    .await;
    let r = app.analyse("", day()).await;
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    let text = r.text().await.unwrap();
    assert!(
        !text.contains("s3cret-pw") && !text.contains("127.0.0.1"),
        "{text}"
    );
    let log = app.log();
    assert!(log.contains("failure analysis failed"), "{log}");
    assert!(!log.contains("s3cret-pw"), "{log}");
}

#[tokio::test]
async fn every_log_line_of_a_request_carries_its_invocation_id() {
    let app = app_with_fixture().await;
    let r = app.analyse_as("7d3c0b9e-inv-test", "", day()).await;
    assert_eq!(r.status(), StatusCode::OK);
    let log = app.log();
    let lines: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("aggregate query done") || l.contains("status=200"))
        .collect();
    assert!(lines.len() >= 2, "{log}");
    assert!(
        lines.iter().all(|l| l.contains("7d3c0b9e-inv-test")),
        "{log}"
    );
}

#[tokio::test]
async fn sigterm_stops_the_handler_cleanly() {
    let mut app = TestApp::spawn(Spawn::default()).await;
    let status = app.terminate();
    assert!(status.success(), "{status:?}\n{}", app.log());
}

#[tokio::test]
async fn the_cli_writes_three_artifacts_to_the_output_folder_and_prints_the_summary() {
    let db = fixture_db().await;
    let out = tempfile::tempdir().unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_handler"))
        .args([
            "failure-analysis",
            "--from-date",
            "2025-05-21",
            "--to-date",
            "2025-05-21",
            "--timezone",
            "Asia/Kolkata",
        ])
        .env_clear()
        .env("DB_URL", &db)
        .env("OUTPUT_DIR", out.path())
        .current_dir(out.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("USER FAILURE RATE ANALYSIS SUMMARY"),
        "{stdout}"
    );
    assert!(stdout.contains("Total Sessions: 18"), "{stdout}");
    let dir = out
        .path()
        .join("failure_analysis/20250520T183000Z_20250521T183000Z");
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    files.retain(|f| f.starts_with("user_failure_"));
    files.sort();
    assert_eq!(files.len(), 3, "{files:?}");
    assert!(files[0].starts_with("user_failure_rates_") && files[0].ends_with(".html"));
    assert!(files[1].starts_with("user_failure_stats_") && files[1].ends_with(".csv"));
    assert!(files[2].starts_with("user_failure_summary_") && files[2].ends_with(".json"));
}

#[tokio::test]
async fn with_log_format_json_every_line_is_json_and_request_lines_carry_the_invocation_id() {
    let app = TestApp::spawn(Spawn {
        db_url: Some(fixture_db().await),
        env: vec![
            ("LOG_FORMAT".into(), "json".into()),
            ("LOG_LEVEL".into(), "info".into()),
        ],
        ..Default::default()
    })
    .await;
    let r = app.analyse_as("json-inv-42", "", day()).await;
    assert_eq!(r.status(), StatusCode::OK);
    let log = app.log();
    let lines: Vec<Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let of_request: Vec<&Value> = lines
        .iter()
        .filter(|l| l["message"] == "aggregate query done" || l["message"] == "request")
        .collect();
    assert!(of_request.len() >= 2, "{log}");
    assert!(
        of_request
            .iter()
            .all(|l| l["span"]["invocation_id"] == "json-inv-42"),
        "{log}"
    );
}

/// `sslmode=require` (as Azure Database for PostgreSQL asks) gives an encrypted connection whose
/// server certificate is verified: with the test cluster's CA (`sslrootcert`) the analysis
/// runs over TLS; without it the unknown issuer is refused (503), never silently accepted.
#[tokio::test]
async fn sslmode_require_connects_over_verified_tls() {
    let db = fixture_db().await;
    let ca = crate::helpers::required_env("PG_CA_CERT");
    let app = TestApp::with_db(format!("{db}?sslmode=require&sslrootcert={ca}")).await;
    let r = app.analyse("", day()).await;
    assert_eq!(r.status(), StatusCode::OK, "{}", app.log());
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["summary"]["total_sessions"], 18);
    let name = url::Url::parse(&db)
        .unwrap()
        .path()
        .trim_start_matches('/')
        .to_string();
    let admin = connect(&crate::helpers::required_env("PG_ADMIN_URL")).await;
    let row = admin
        .query_one(
            "SELECT count(*) FILTER (WHERE s.ssl), count(*) FROM pg_stat_ssl s \
             JOIN pg_stat_activity a USING (pid) \
             WHERE a.datname = $1 AND a.application_name = 'call-analytics'",
            &[&name],
        )
        .await
        .unwrap();
    let (encrypted, all): (i64, i64) = (row.get(0), row.get(1));
    assert!(
        all >= 1 && encrypted == all,
        "{encrypted} of {all} handler connections use TLS"
    );

    let untrusted = TestApp::with_db(format!("{db}?sslmode=require")).await;
    let r = untrusted.analyse("", day()).await;
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        untrusted.log().to_lowercase().contains("certificate"),
        "{}",
        untrusted.log()
    );
}
