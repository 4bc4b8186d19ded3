//! The two HTML pages in a real browser, made from real data: the failure-analysis report (a
//! PostgreSQL fixture through `POST /api/failure_analysis`, the artifact opened from its
//! `/api/artifacts` link) and the dashboard (ClickHouse calls, a backfill, a revision after
//! late calls, `GET /api/dashboard` over HTTP). Every page is served over HTTP, so it runs under its Content-Security-Policy.
//!
//! `tests/browser/check_page.mjs` (playwright-core driving Debian's `/usr/bin/chromium`;
//! `scripts/test` runs `npm ci` there) loads each page, works its hover/focus interaction and
//! fails on a console error, a failed or outside request, a missing Content-Security-Policy, a
//! CSP violation, an injected inline script that runs, or an interaction that does not show
//! what it should: the hovered or focused histogram bar's user list, the hovered chart day's
//! tooltip and highlight. Each run leaves a full-page screenshot in `target/test-screenshots/`.

use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use serde_json::json;

use crate::helpers::{Call, Spawn, TestApp, connect, fresh_database, insert};
use crate::helpers::{PAUL_NODE, PAUL_ORG, clickhouse_url};
use crate::helpers::{database_with_calls, days_ago, yesterday};

/// Runs the page driver with `args`; fails the test with its output unless every check passed.
async fn check_page(args: &[String]) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let driver = root.join("tests/browser");
    assert!(
        driver
            .join("node_modules/playwright-core/package.json")
            .exists(),
        "tests/browser/node_modules is missing: run scripts/test, which runs npm ci there"
    );
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        Path::new(&chromium).exists(),
        "{chromium} is missing: install Debian's chromium package"
    );
    let out = tokio::process::Command::new("node")
        .arg(driver.join("check_page.mjs"))
        .args(args)
        .env("CHROMIUM", &chromium)
        .output()
        .await
        .expect("run node (install Debian's nodejs package)");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "the page check failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("check_page: all "), "{stdout}");
    stdout
}

/// `target/test-screenshots/NAME`, its folder made and any older file removed.
fn screenshot(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/test-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    let _ = std::fs::remove_file(&path);
    path
}

/// [`check_page`] at 1280 px and at a phone's 390 px, each leaving a screenshot
/// (`NAME.png`, `NAME_phone.png`).
pub(crate) async fn check_on_laptop_and_phone(name: &str, args: Vec<String>) {
    for (width, file) in [
        ("1280", format!("{name}.png")),
        ("390", format!("{name}_phone.png")),
    ] {
        let shot = screenshot(&file);
        let mut run = args.clone();
        run.extend(["--width".into(), width.into()]);
        run.extend(["--screenshot".into(), shot.display().to_string()]);
        check_page(&run).await;
        assert_screenshot(&shot);
    }
}

/// Asserts a real screenshot was written.
fn assert_screenshot(path: &Path) {
    let png = std::fs::read(path).expect("screenshot written");
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 20_000,
        "a real screenshot: {} bytes",
        png.len()
    );
}

/// The failure report: hovering the 50–60% bar lists Anushka, focusing the 100% bar lists the
/// user whose name is markup (as text), ArrowLeft moves to the 90–100%'s neighbour; the
/// top users' order switch (click, Enter, Space) puts the markup name (3 of 3, 100 %) first by
/// failure rate and Volkan (20 of 24, lower bound 64 %) first by lower bound.
#[tokio::test]
async fn failure_report_lists_a_buckets_users_on_hover_and_focus_in_chromium() {
    const HOSTILE: &str = "<b>Tanvi</b> & 'Co' </script>";
    let users = [
        ("11111111-bbbb-4bbb-8bbb-000000000001", "Anushka", 4, 2),
        ("11111111-bbbb-4bbb-8bbb-000000000002", "Ayush", 4, 1),
        ("11111111-bbbb-4bbb-8bbb-000000000003", HOSTILE, 3, 3),
        ("11111111-bbbb-4bbb-8bbb-000000000004", "Rahul", 5, 0),
        ("11111111-bbbb-4bbb-8bbb-000000000005", "Volkan", 24, 20),
    ];
    let url = fresh_database().await;
    let db = connect(&url).await;
    let mut calls = Vec::new();
    for (id, _, sessions, failed) in users {
        for i in 0..sessions {
            calls.push(Call {
                session_id: Some("s"),
                user_id: Some(id),
                // A session without a provider call id failed.
                exotel_call_sid: (i >= failed).then_some("c0ffee00c0ffee00c0ffee00c0ffee00"),
                created_on: "2025-05-21 06:00:00",
            });
        }
    }
    let names: Vec<(&str, Option<&str>)> = users.iter().map(|u| (u.0, Some(u.1))).collect();
    insert(&db, &names, &calls).await;

    let out = tempfile::tempdir().unwrap();
    let app = TestApp::spawn(Spawn {
        db_url: Some(url),
        output_dir: Some(out.path().to_path_buf()),
        ..Default::default()
    })
    .await;
    let r = app
        .analyse(
            "",
            // With the previous window: the widest top-users table.
            json!({"from_date": "2025-05-21", "to_date": "2025-05-21", "timezone": "Asia/Kolkata",
                   "compare_previous": true}),
        )
        .await;
    let status = r.status();
    let body: serde_json::Value = r.json().await.unwrap();
    assert!(status.is_success(), "{body}");
    // The stored page as a reader opens it: its link, served with the pages' headers.
    let link = body["artifacts"]["html"]
        .as_str()
        .expect("the HTML artifact");

    check_on_laptop_and_phone(
        "failure_report",
        vec![
            "--page".into(),
            "report".into(),
            "--url".into(),
            format!("{}{link}", app.address),
            "--hover".into(),
            "5=Anushka".into(),
            "--focus".into(),
            format!("9={HOSTILE}"),
            "--order".into(),
            "lower_bound=Volkan".into(),
            "--order".into(),
            format!("failure_rate={HOSTILE}"),
        ],
    )
    .await;
}

/// `Mon 2025-12-15`, as the dashboard names days.
pub(crate) fn long(d: NaiveDate) -> String {
    d.format("%a %Y-%m-%d").to_string()
}

/// `n` more calls of the default org at local 13:00 of `date` (2 minutes each, even ones
/// booked, odd ones not), with runs of their own: calls that arrived after the day's report.
async fn late_calls(database: &str, date: NaiveDate, n: usize) {
    crate::helpers::load_calls_at(database, &[(date, n)], 13, "late").await;
}

/// The dashboard over a week of backfilled reports, yesterday's revised after 2 calls arrived
/// late: hovering a day of a chart shows that day's value (or why there is none) as its
/// tooltip and highlights it, and the note of the revision (`docs/revisions.md`) keeps the
/// layout whole on a laptop and a phone.
#[tokio::test]
async fn dashboard_shows_a_days_values_on_hover_in_chromium() {
    let database = database_with_calls().await;
    let app = TestApp::spawn(Spawn {
        env: [
            ("ORG_ID", PAUL_ORG.to_string()),
            ("BROKER_NODE_PERSISTENT_ID", PAUL_NODE.to_string()),
            ("CLIENT_NAME", "Paul Logistics".to_string()),
            ("DEFAULT_TIMEZONE", "America/Chicago".to_string()),
            ("CLICKHOUSE_URL", clickhouse_url()),
            ("CLICKHOUSE_DATABASE", database.clone()),
        ]
        .map(|(k, v)| (k.to_string(), v))
        .to_vec(),
        ..Default::default()
    })
    .await;
    // 4 calls yesterday (2 successes), none two days ago, 2 calls of 2 minutes three days ago.
    let r = app
        .forwarded(
            reqwest::Method::POST,
            "/api/reports/backfill",
            "pages-backfill",
        )
        .json(&json!({"from": days_ago(6).to_string(), "to": yesterday().to_string()}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    // 2 more calls yesterday (1 success): a forced generation makes revision 2.
    late_calls(&database, yesterday(), 2).await;
    let r = app
        .forwarded(
            reqwest::Method::POST,
            "/api/reports/generate",
            "pages-revise",
        )
        .json(&json!({"date": yesterday().to_string(), "force": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let page = app
        .forwarded(
            reqwest::Method::GET,
            "/api/dashboard?days=7",
            "pages-dashboard",
        )
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains(": 2 more calls arrived.</strong>"), "{page}");

    let hovers = [
        format!(
            "total_calls:-1={}: 6 total calls, 6 classified calls",
            long(yesterday())
        ),
        format!("success_rate_percent:-1={}: 50.00%", long(yesterday())),
        format!(
            "success_rate_percent:-2={}: no classified calls",
            long(days_ago(2))
        ),
        format!("avg_minutes_per_call:-3={}: 2.00 min", long(days_ago(3))),
    ];
    let mut args: Vec<String> = vec![
        "--page".into(),
        "dashboard".into(),
        "--url".into(),
        format!("{}/api/dashboard?days=7", app.address),
    ];
    for h in hovers {
        args.push("--hover".into());
        args.push(h);
    }
    check_on_laptop_and_phone("dashboard_hover", args).await;

    // The page its "All calls of the day" link opens: yesterday's 6 calls.
    let calls = vec![
        "--page".into(),
        "calls".into(),
        "--url".into(),
        format!(
            "{}/api/reports/calls?date={}&format=html",
            app.address,
            yesterday()
        ),
        "--rows".into(),
        "6".into(),
    ];
    check_on_laptop_and_phone("calls", calls).await;
}
