//! The command line as a person meets it (issue 20, item 8): `handler` run as a process with
//! only the settings a test gives (no `.env`), its stdout, stderr and exit code checked.

use std::path::Path;
use std::process::Output;

use serde_json::json;

use crate::helpers::clickhouse::clickhouse_url;
use crate::helpers::{Spawn, TestApp, unique};

/// `handler <args>` in an empty folder (storage: its `output`), with `env` and `PATH` only.
fn handler(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_handler"))
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("OUTPUT_DIR", dir.join("output"))
        .envs(env.iter().copied())
        .current_dir(dir)
        .output()
        .expect("run handler")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A loopback port with nothing listening on it.
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

#[test]
fn a_wrong_db_url_names_the_setting_and_the_server_never_the_password() {
    let dir = tempfile::tempdir().unwrap();
    let port = closed_port();
    let url = format!("postgres://analyst:hunter2@127.0.0.1:{port}/calls?sslmode=disable");
    let out = handler(
        dir.path(),
        &[
            "failure-analysis",
            "--from-date",
            "2025-05-21",
            "--to-date",
            "2025-05-21",
        ],
        &[("DB_URL", &url)],
    );
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.starts_with(&format!(
            "error: database unavailable: 127.0.0.1:{port} (DB_URL): error connecting to server: "
        )),
        "{err}"
    );
    assert!(
        !err.contains("hunter2") && !err.contains("analyst"),
        "{err}"
    );
    assert!(!err.contains("creating a new object"), "{err}");
    // Said once, to the person: not also logged.
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[test]
fn a_wrong_value_is_named_before_a_missing_one_and_as_its_flag() {
    let dir = tempfile::tempdir().unwrap();
    // No DB_URL, no to_date: the wrong from_date is what is said.
    let out = handler(
        dir.path(),
        &["failure-analysis", "--from-date", "2025-13-01"],
        &[],
    );
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        text(&out.stderr),
        "error: --from-date: \"2025-13-01\" is not a date YYYY-MM-DD\n"
    );
    let out = handler(
        dir.path(),
        &["failure-analysis", "--from-date", "2025-12-01"],
        &[],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).starts_with("error: --to-date: "));
    // Then the missing setting, with what to set it to.
    let out = handler(dir.path(), &["failure-analysis"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).starts_with("error: DB_URL is not set: "),
        "{}",
        text(&out.stderr)
    );
    // Reports: a wrong --org before the unset CLICKHOUSE_URL.
    let out = handler(dir.path(), &["report", "generate", "--org", "nope"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(text(&out.stderr), "error: --org: \"nope\" is not a UUID\n");
    let out = handler(dir.path(), &["report", "generate"], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).starts_with("error: CLICKHOUSE_URL is not set: "),
        "{}",
        text(&out.stderr)
    );
}

/// The HTTP route keeps its contract (`docs/failure-analysis.md`, "Window"): the same order,
/// a 400 naming the field.
#[tokio::test]
async fn the_route_names_a_wrong_date_before_a_missing_one() {
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::spawn(Spawn {
        output_dir: Some(dir.path().to_path_buf()),
        ..Spawn::default()
    })
    .await;
    for (body, field) in [
        (json!({"from_date": "2025-13-01"}), "from_date"),
        (json!({"to_date": "2025-02-30"}), "to_date"),
        (json!({"from_date": "2025-05-21"}), "to_date"),
    ] {
        let r = app.analyse_as("cli-order", "", body.clone()).await;
        assert_eq!(r.status().as_u16(), 400, "{body}");
        let reply: serde_json::Value = r.json().await.unwrap();
        assert_eq!(reply["error"]["field"], field, "{body}: {reply}");
    }
}

#[test]
fn an_empty_org_list_says_so_and_how_to_add_one() {
    let dir = tempfile::tempdir().unwrap();
    let out = handler(dir.path(), &["org", "list"], &[]);
    assert!(out.status.success());
    assert_eq!(text(&out.stdout), "", "stdout stays JSON lines only");
    let err = text(&out.stderr);
    assert!(
        err.starts_with("No organizations in local folder "),
        "{err}"
    );
    assert!(err.contains("handler org create --org-id <uuid>"), "{err}");
    // With one, the list is its JSON line and nothing else.
    let org = [
        ("ORG_ID", "01951f56-8c6e-7a93-a971-3d06a81a1ab0"),
        (
            "BROKER_NODE_PERSISTENT_ID",
            "019b099d-77fd-7e09-9d2b-cd4c476a0a19",
        ),
    ];
    let out = handler(dir.path(), &["org", "list"], &org);
    assert!(out.status.success());
    assert_eq!(text(&out.stderr), "");
    assert!(text(&out.stdout).contains("01951f56-8c6e-7a93-a971-3d06a81a1ab0"));
}

#[test]
fn commands_log_warnings_only_unless_asked() {
    let dir = tempfile::tempdir().unwrap();
    let info = |out: &Output| text(&out.stderr).contains("clients ready");
    assert!(!info(&handler(dir.path(), &["org", "list"], &[])));
    assert!(info(&handler(dir.path(), &["-v", "org", "list"], &[])));
    assert!(info(&handler(dir.path(), &["org", "list", "-v"], &[])));
    assert!(info(&handler(
        dir.path(),
        &["org", "list"],
        &[("LOG_LEVEL", "info")]
    )));
}

/// `scripts/demo` loads `scripts/ch-demo-load`'s default span: at least 35 local days of each
/// org, so the 30-day dashboard is full and "what changed" has 4 same-weekday baseline days.
#[tokio::test]
async fn the_demo_loads_at_least_35_days_of_calls() {
    let url = clickhouse_url();
    let db = unique("t_");
    let out =
        std::process::Command::new(concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/ch-demo-load"))
            .args(["--db", &db, "--end-date", "2025-12-15", &url])
            .output()
            .expect("run ch-demo-load");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let client = reqwest::Client::new();
    let query = |sql: String| {
        let (client, url, db) = (client.clone(), url.clone(), db.clone());
        async move {
            let r = client
                .post(format!("{}/?database={db}", url.trim_end_matches('/')))
                .body(sql)
                .send()
                .await
                .unwrap();
            assert!(r.status().is_success());
            r.text().await.unwrap()
        }
    };
    // Paul Logistics' local (America/Chicago) days that have calls.
    let days = query(
        "SELECT uniqExact(toDate(r.timestamp, 'America/Chicago')) FROM public_runs AS r \
         INNER JOIN public_sessions AS s ON s.run_id = r.id \
         WHERE s.org_id = '01951f56-8c6e-7a93-a971-3d06a81a1ab0'"
            .into(),
    )
    .await;
    query(format!("DROP DATABASE {db}")).await;
    let days: u32 = days.trim().parse().unwrap();
    assert!(days >= 35, "{days} days");
}
