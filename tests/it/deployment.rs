//! `scripts/verify-deployment`, the deployment's smoke test, against a local handler for the
//! steps that do not need Azure: a call without credentials must be refused (App Service
//! Authentication on), and a signed-in call must find `/api/health` 200 and healthy. The old
//! check (`curl -fsS …/api/health?code=…`) passed on each of the broken cases below.

use std::process::Output;

use crate::helpers::{Spawn, TestApp, closed_port, principal};

/// The handler as App Service runs it (a principal required), with `env` added.
async fn in_app_service(env: &[(&str, String)]) -> TestApp {
    let mut settings = vec![
        ("WEBSITE_SITE_NAME".to_string(), "func-test".to_string()),
        ("WEBSITE_AUTH_ENABLED".to_string(), "True".to_string()),
    ];
    settings.extend(env.iter().map(|(k, v)| (k.to_string(), v.clone())));
    TestApp::spawn(Spawn {
        env: settings,
        ..Spawn::default()
    })
    .await
}

/// Runs the script against `app`, authenticating with the principal the front end would set.
async fn verify(app: &TestApp) -> Output {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let header = format!("X-MS-CLIENT-PRINCIPAL: {}", principal(&[]));
    tokio::process::Command::new(root.join("scripts/verify-deployment"))
        .args([
            "--base-url",
            &app.address,
            "--header",
            &header,
            "--timeout",
            "20",
        ])
        .output()
        .await
        .expect("run scripts/verify-deployment")
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[tokio::test]
async fn a_deployment_that_refuses_strangers_and_is_healthy_passes() {
    let app = in_app_service(&[]).await;
    let out = verify(&app).await;
    let log = text(&out);
    assert!(out.status.success(), "{log}");
    assert!(
        log.contains("step 1: a call without credentials is refused (401)"),
        "{log}"
    );
    assert!(
        log.contains("step 2: signed in, GET /api/health is 200 healthy"),
        "{log}"
    );
}

#[tokio::test]
async fn a_deployment_without_authentication_fails_step_1() {
    // Outside App Service no principal is required: every route answers anyone.
    let app = TestApp::spawn(Spawn::default()).await;
    let out = verify(&app).await;
    let log = text(&out);
    assert_eq!(out.status.code(), Some(1), "{log}");
    assert!(
        log.contains("step 1") && log.contains("App Service Authentication is off"),
        "{log}"
    );
}

#[tokio::test]
async fn a_deployment_whose_clickhouse_is_down_fails_step_2_and_says_why() {
    let url = format!("http://127.0.0.1:{}", closed_port());
    let app = in_app_service(&[
        ("CLICKHOUSE_URL", url),
        ("ALLOW_INSECURE_CLICKHOUSE", "true".to_string()),
        ("CLICKHOUSE_CONNECT_TIMEOUT", "1".to_string()),
    ])
    .await;
    let out = verify(&app).await;
    let log = text(&out);
    assert_eq!(out.status.code(), Some(1), "{log}");
    assert!(
        log.contains("step 2") && log.contains("503") && log.contains("clickhouse"),
        "{log}"
    );
}
