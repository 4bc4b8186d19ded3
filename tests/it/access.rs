//! Who may call what (`docs/access-and-safety.md`): every route of the route table called as
//! every kind of caller, each answered with the status its [`Rule`] gives; cross-site bodies
//! refused; no report for a day that has not ended.

use call_analytics::server::routes::{ROUTES, RouteId, Rule};
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::PAUL_ORG;
use crate::helpers::id_of;
use crate::helpers::{Api, Ch, column, database_with_calls, start, yesterday};
use crate::helpers::{Spawn, TestApp, principal, two_calls_database};

const OTHER_ORG: &str = "0195a7d2-5b1e-7c44-9f3a-6d2e8b0c1f47";

/// The kinds of caller of `docs/access-and-safety.md`, "Who may do what".
#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Admin,
    /// `org:<id>` of another org than the one a request names.
    ReaderOfOther,
    /// `org:<id>` of the org a request names.
    Reader,
    FailureReader,
    NoRoles,
    /// No principal where none is required (outside App Service): the local operator.
    Local,
}

impl Kind {
    const ALL: [Kind; 6] = [
        Kind::Admin,
        Kind::ReaderOfOther,
        Kind::Reader,
        Kind::FailureReader,
        Kind::NoRoles,
        Kind::Local,
    ];

    fn principal(self) -> Option<String> {
        match self {
            Kind::Admin => Some(principal(&["analytics.admin"])),
            Kind::ReaderOfOther => Some(principal(&[&format!("org:{OTHER_ORG}")])),
            Kind::Reader => Some(principal(&[&format!("org:{PAUL_ORG}")])),
            Kind::FailureReader => Some(principal(&["analytics.failures"])),
            Kind::NoRoles => Some(principal(&[])),
            Kind::Local => None,
        }
    }
}

/// One request per route: method, path, body, whether it names Paul's org (so that a reader
/// of another org gets a 404), and the status an admitted caller gets.
struct Sample {
    method: Method,
    path: String,
    body: Option<Value>,
    names_org: bool,
    ok: u16,
}

fn sample(id: RouteId, failure_artifact: &str) -> Sample {
    let y = yesterday();
    let s = |method: Method, path: String, body: Option<Value>, names_org: bool, ok: u16| Sample {
        method,
        path,
        body,
        names_org,
        ok,
    };
    let get = |path: String, names_org: bool| s(Method::GET, path, None, names_org, 200);
    // Exhaustive: a new route does not compile until it has a sample here.
    match id {
        RouteId::Ready => get("/".into(), false),
        RouteId::DailyReportTimer => s(
            Method::POST,
            "/daily_report_timer".into(),
            Some(crate::helpers::timer_payload(false)),
            false,
            200,
        ),
        RouteId::DailyReportWorker => s(
            Method::POST,
            "/daily_report_worker".into(),
            Some(json!({
                "Data": {"message": {"org_id": PAUL_ORG, "date": y.to_string()}},
                "Metadata": {"DequeueCount": 1, "Id": "m1"}
            })),
            false,
            200,
        ),
        RouteId::FailureAnalysis => s(
            Method::POST,
            "/api/failure_analysis".into(),
            Some(json!({"from_date": "2025-05-21", "to_date": "2025-05-21", "timezone": "UTC"})),
            false,
            200,
        ),
        RouteId::Health => get("/api/health".into(), false),
        RouteId::OpenApi => get("/api/openapi.json".into(), false),
        RouteId::ReportList => get(format!("/api/reports?org_id={PAUL_ORG}"), true),
        RouteId::ReportLatest => get(format!("/api/reports/latest?org_id={PAUL_ORG}"), true),
        RouteId::ReportGenerate => s(
            Method::POST,
            "/api/reports/generate".into(),
            Some(json!({"org_id": PAUL_ORG, "date": y.to_string()})),
            true,
            200,
        ),
        RouteId::ReportBackfill => s(
            Method::POST,
            "/api/reports/backfill".into(),
            Some(json!({"org_id": PAUL_ORG, "from": y.to_string(), "to": y.to_string()})),
            true,
            200,
        ),
        // No job is stored in the rig (it has no queue): an admitted caller gets the 404.
        RouteId::JobStatus => s(
            Method::GET,
            "/api/jobs/00000000-0000-4000-8000-000000000000".into(),
            None,
            false,
            404,
        ),
        RouteId::ReportLive => get(
            format!("/api/reports/live?org_id={PAUL_ORG}&date={y}"),
            true,
        ),
        RouteId::ReportTrend => get(format!("/api/reports/trend?org_id={PAUL_ORG}"), true),
        RouteId::ReportCalls => get(
            format!("/api/reports/calls?org_id={PAUL_ORG}&date={y}"),
            true,
        ),
        RouteId::ReportByDate => get(format!("/api/reports/{y}?org_id={PAUL_ORG}"), true),
        RouteId::ReportChanges => get(format!("/api/reports/{y}/changes?org_id={PAUL_ORG}"), true),
        RouteId::ReportRevisions => get(
            format!("/api/reports/{y}/revisions?org_id={PAUL_ORG}"),
            true,
        ),
        RouteId::OrgList => get("/api/orgs".into(), false),
        RouteId::OrgCreate => s(
            Method::POST,
            "/api/orgs".into(),
            Some(
                json!({"org_id": uuid::Uuid::new_v4().to_string(), "name": "New",
                        "node_persistent_id": uuid::Uuid::new_v4().to_string()}),
            ),
            false,
            201,
        ),
        RouteId::OrgGet => get(format!("/api/orgs/{PAUL_ORG}"), true),
        RouteId::OrgPatch => s(
            Method::PATCH,
            format!("/api/orgs/{PAUL_ORG}"),
            Some(json!({"name": "Paul Logistics"})),
            true,
            200,
        ),
        RouteId::SchedulerStatus => get("/api/scheduler/status".into(), false),
        RouteId::Dashboard => get(format!("/api/dashboard?org_id={PAUL_ORG}"), true),
        RouteId::Artifact => get(format!("/api/artifacts/reports/{PAUL_ORG}/{y}.json"), true),
        RouteId::FailureArtifact => get(format!("/api/artifacts/{failure_artifact}"), false),
        RouteId::Deliveries => get(format!("/api/deliveries?org_id={PAUL_ORG}"), true),
        RouteId::NotificationTest => s(
            Method::POST,
            format!("/api/orgs/{PAUL_ORG}/notifications/hook/test"),
            None,
            true,
            200,
        ),
    }
}

/// The status the table says `kind` gets for a route with `rule` (and `sample`).
fn expected(rule: Rule, kind: Kind, sample: &Sample) -> u16 {
    let admitted = match rule {
        Rule::Host | Rule::SignedIn => true,
        Rule::OrgReader => !matches!(kind, Kind::FailureReader | Kind::NoRoles),
        Rule::FailureReader => matches!(kind, Kind::Admin | Kind::Local | Kind::FailureReader),
        Rule::Admin => matches!(kind, Kind::Admin | Kind::Local),
    };
    match () {
        _ if !admitted => 403,
        _ if rule == Rule::OrgReader && kind == Kind::ReaderOfOther && sample.names_org => 404,
        _ => sample.ok,
    }
}

async fn send(api: &Api, s: &Sample, principal: Option<&str>) -> (u16, String) {
    let h: Vec<(&str, &str)> = principal
        .map(|p| vec![("X-MS-CLIENT-PRINCIPAL", p)])
        .unwrap_or_default();
    let r = api
        .call(
            s.method.clone(),
            &s.path,
            s.body.as_ref().map(Value::to_string),
            &h,
        )
        .await;
    (r.status, r.text)
}

/// The handler with Paul's org (a stored report of yesterday, a webhook channel, a second
/// org) and a failure analysis stored; returns the analysis' HTML artifact path.
async fn rig(extra: &[(&str, &str)]) -> (Api, String) {
    let db = database_with_calls().await;
    let mut env = vec![("ALLOW_INSECURE_WEBHOOKS", "true")];
    env.extend_from_slice(extra);
    let api = start(Ch::Database(db), Some(two_calls_database().await), &env).await;
    let r = api
        .post("/api/reports/generate", json!({"org_id": PAUL_ORG}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let other = json!({"org_id": OTHER_ORG, "name": "Other",
                       "node_persistent_id": "019b3a70-1c2d-7e4f-8a5b-6c7d8e9f0a1b"});
    let r = api.post("/api/orgs", other).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let r = api.get(&format!("/api/orgs/{PAUL_ORG}")).await;
    let etag = r.header("etag").expect("ETag").to_string();
    let channel = json!({"notifications": [{"id": "hook", "kind": "webhook",
        "url": format!("http://127.0.0.1:{}/hook", crate::helpers::closed_port()),
        "secret": "0123456789abcdef0123"}]});
    let r = api
        .patch(&format!("/api/orgs/{PAUL_ORG}"), channel, Some(&etag))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = api
        .post(
            "/api/failure_analysis",
            json!({"from_date": "2025-05-21", "to_date": "2025-05-21", "timezone": "UTC"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let html = r.json["artifacts"]["html"]
        .as_str()
        .unwrap_or_else(|| panic!("no html artifact in {}", r.text));
    let path = html
        .split("/api/artifacts/")
        .nth(1)
        .unwrap_or_else(|| panic!("artifact link {html}"))
        .to_string();
    (api, path)
}

#[tokio::test]
async fn every_route_answers_every_kind_of_caller_as_its_rule_says() {
    let (api, artifact) = rig(&[]).await;
    let mut failures = Vec::new();
    for route in ROUTES {
        for kind in Kind::ALL {
            let s = sample(route.id, &artifact);
            let want = expected(route.rule, kind, &s);
            let (got, text) = send(&api, &s, kind.principal().as_deref()).await;
            if got != want {
                failures.push(format!(
                    "{:?} {} as {kind:?}: {got}, the table says {want}: {text:.200}",
                    s.method, s.path
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[tokio::test]
async fn in_app_service_no_principal_is_a_401_on_every_route_but_the_hosts() {
    let app = TestApp::spawn(Spawn {
        env: vec![
            ("WEBSITE_SITE_NAME".into(), "func-test".into()),
            ("WEBSITE_AUTH_ENABLED".into(), "True".into()),
        ],
        ..Spawn::default()
    })
    .await;
    for route in ROUTES {
        let s = sample(route.id, "failure_analysis/x/y.html");
        let mut req = app.forwarded(s.method.clone(), &s.path, "inv");
        if let Some(b) = &s.body {
            req = req.json(b);
        }
        let status = req.send().await.expect("request").status().as_u16();
        if route.rule == Rule::Host {
            assert_ne!(status, 401, "{} is the host's own route", s.path);
        } else {
            assert_eq!(status, 401, "{:?} {} without a principal", s.method, s.path);
        }
    }
    // With a principal it is served.
    let r = app
        .forwarded(Method::GET, "/api/health", "inv")
        .header("X-MS-CLIENT-PRINCIPAL", principal(&[]))
        .send()
        .await
        .unwrap();
    assert_ne!(r.status().as_u16(), 401);
}

#[tokio::test]
async fn without_app_service_authentication_the_handler_does_not_start() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_handler"))
        .args(["org", "list"])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("WEBSITE_SITE_NAME", "func-test")
        .env("OUTPUT_DIR", tempfile::tempdir().unwrap().path())
        .output()
        .expect("run handler");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("REQUIRE_PRINCIPAL") && err.contains("WEBSITE_AUTH_ENABLED"),
        "{err}"
    );
}

#[tokio::test]
async fn replies_that_list_orgs_show_a_reader_only_its_own() {
    let (api, _) = rig(&[]).await;
    // A timer run records every org's result.
    let r = api
        .post("/daily_report_timer", crate::helpers::timer_payload(false))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let other = principal(&[&format!("org:{OTHER_ORG}")]);
    let r = api.get_as("/api/scheduler/status", &other).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(!r.text.contains(PAUL_ORG), "{}", r.text);
    assert!(r.text.contains(OTHER_ORG), "{}", r.text);
    let r = api.get("/api/scheduler/status").await;
    assert!(r.text.contains(PAUL_ORG), "{}", r.text);
    let r = api.get_as("/api/orgs", &other).await;
    assert_eq!(column(&r.json["orgs"], "org_id"), [OTHER_ORG]);
    // A failure-analysis path spelled so that the reports' route takes it is not served.
    let reader = principal(&[&format!("org:{PAUL_ORG}")]);
    let r = api
        .get_as("/api/artifacts/failure%5Fanalysis/x/y.html", &reader)
        .await;
    assert_eq!(r.status, 404, "{}", r.text);
}

#[tokio::test]
async fn a_body_that_is_not_json_typed_is_a_415_and_writes_nothing() {
    let api = start(Ch::Unset, None, &[]).await;
    let org = json!({"org_id": OTHER_ORG, "name": "Cross-site",
                     "node_persistent_id": "019b3a70-1c2d-7e4f-8a5b-6c7d8e9f0a1b"});
    // `POST /api/orgs` of `org` with this `Content-Type`: the status.
    let create = |content_type: Option<&'static str>| {
        let mut req = api.app.forwarded(Method::POST, "/api/orgs", "inv");
        if let Some(t) = content_type {
            req = req.header("Content-Type", t);
        }
        let sent = req.body(org.to_string()).send();
        async move { sent.await.unwrap().status().as_u16() }
    };
    for content_type in [
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        Some("multipart/form-data; boundary=x"),
        None,
    ] {
        assert_eq!(create(content_type).await, 415, "{content_type:?}");
    }
    let r = api.get(&format!("/api/orgs/{OTHER_ORG}")).await;
    assert_eq!(r.status, 404, "nothing was created: {}", r.text);
    // JSON with a charset parameter is JSON.
    assert_eq!(create(Some("application/json; charset=utf-8")).await, 201);
}

#[tokio::test]
async fn no_report_is_made_for_a_day_that_has_not_ended() {
    let api = start(Ch::Database(database_with_calls().await), None, &[]).await;
    let today = crate::helpers::days_ago(0);
    for (path, body, field) in [
        (
            "/api/reports/generate",
            json!({"date": today.to_string()}),
            "date",
        ),
        (
            "/api/reports/generate",
            json!({"date": "2099-01-01"}),
            "date",
        ),
        (
            "/api/reports/backfill",
            json!({"from": yesterday().to_string(), "to": today.to_string()}),
            "to",
        ),
        (
            "/api/reports/backfill",
            json!({"from": "2099-01-01", "to": "2099-01-02"}),
            "from",
        ),
    ] {
        api.post(path, body)
            .await
            .expect_error(400, "invalid_field", Some(field));
    }
    let r = api.get(&format!("/api/reports?org_id={PAUL_ORG}")).await;
    assert_eq!(
        r.json["reports"],
        json!([]),
        "nothing was stored: {}",
        r.text
    );
}

/// Reports an earlier version stored for a day that had not ended are neither the newest
/// report nor a digest's, and are replaced when their day is due.
#[tokio::test]
async fn a_report_stored_before_its_day_ended_is_hidden_and_replaced() {
    use call_analytics::daily_report::{report::DailyReport, snapshots};
    let api = start(Ch::Database(database_with_calls().await), None, &[]).await;
    let (y, before) = (yesterday(), crate::helpers::days_ago(3));
    let today = crate::helpers::days_ago(0);
    let body = json!({"from": before.to_string(), "to": y.to_string()});
    let r = api.post("/api/reports/backfill", body).await;
    assert_eq!(r.status, 200, "{}", r.text);
    // Plant what an earlier version could store: yesterday's report made at its noon, and a
    // "report" of today.
    let storage = api.app.storage().await;
    let stored = snapshots::read(&storage, &id_of(PAUL_ORG), y)
        .await
        .unwrap()
        .unwrap();
    let mut early: DailyReport = serde_json::from_slice(&stored.body).unwrap();
    let noon = |d: chrono::NaiveDate| {
        use chrono::TimeZone;
        chrono_tz::America::Chicago
            .from_local_datetime(&d.and_hms_opt(12, 0, 0).unwrap())
            .unwrap()
            .fixed_offset()
    };
    early.metadata.generated_at = noon(y);
    snapshots::write(&storage, &id_of(PAUL_ORG), y, &early, true)
        .await
        .unwrap();
    early.metadata.generated_at = noon(today);
    snapshots::write(&storage, &id_of(PAUL_ORG), today, &early, true)
        .await
        .unwrap();
    let latest = api
        .get(&format!("/api/reports/latest?org_id={PAUL_ORG}"))
        .await;
    assert_eq!(latest.status, 200, "{}", latest.text);
    assert_eq!(
        latest.json["date_range"]["start_date"]
            .as_str()
            .map(|d| &d[..10]),
        Some(crate::helpers::days_ago(2).to_string().as_str()),
        "neither today's nor the early one is the newest: {}",
        latest.text
    );
    let listed = api.get(&format!("/api/reports?org_id={PAUL_ORG}")).await;
    let dates = column(&listed.json["reports"], "date");
    assert!(!dates.contains(&today.to_string().as_str()), "{dates:?}");
    assert!(!dates.contains(&y.to_string().as_str()), "{dates:?}");
    // Yesterday is due: the early report is replaced by the real one without `force`.
    let r = api
        .post("/api/reports/generate", json!({"org_id": PAUL_ORG}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.json["orgs"][0]["generated"],
        json!([y.to_string()]),
        "{}",
        r.text
    );
    let latest = api
        .get(&format!("/api/reports/latest?org_id={PAUL_ORG}"))
        .await;
    let generated_at = latest.json["metadata"]["generated_at"].as_str().unwrap();
    let generated_at = chrono::DateTime::parse_from_rfc3339(generated_at).unwrap();
    assert!(generated_at > noon(y), "replaced: {generated_at}");
    assert_eq!(
        latest.json["date_range"]["start_date"]
            .as_str()
            .map(|d| &d[..10]),
        Some(y.to_string().as_str()),
        "{}",
        latest.text
    );
}
