//! The `reports_http` function through the handler process: stored and live reports,
//! generation and backfill, trends, organizations, the scheduler's status, health, and the
//! OpenAPI document (generated from the code: `functions::reports_http::openapi`).
//!
//! Each test has its own Azurite container and, where reports are computed, its own ClickHouse
//! database on the chdb front with calls of the default org (`ORG_ID` & co.) on days relative
//! to today in America/Chicago, so that "yesterday" has data.
//!
//! Every request goes through [`Api::call`], which checks the reply against the OpenAPI
//! document: the status must be documented for the operation, the JSON body must validate
//! against its schema (JSON Schema 2020-12, formats asserted), the headers documented for a
//! success (`ETag`s) must be there, and a 405 must carry `Allow`. So every test below is also a
//! conformance test.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use call_analytics::server::routes::{ROUTES, Rule};
use chrono::{DateTime, Datelike, NaiveDate, Timelike, Utc};
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{
    Api, Ch, PAUL_NAME, PAUL_NODE, PAUL_ORG, TZ, clickhouse_database, column, database_with_calls,
    days_ago, document, fresh_database, load_calls, principal, resolve, start, start_in,
    timer_payload, validator, yesterday,
};

const SECOND_ORG: &str = "0195a7d2-5b1e-7c44-9f3a-6d2e8b0c1f47";
const SECOND_NODE: &str = "019b3a70-1c2d-7e4f-8a5b-6c7d8e9f0a1b";
const UNKNOWN_ORG: &str = "0195ffff-0000-7000-8000-000000000000";

// ---------------------------------------------------------------------------------------
// Rig
// ---------------------------------------------------------------------------------------

fn dates(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("{v} is not an array"))
        .iter()
        .map(|d| d.as_str().unwrap().to_string())
        .collect()
}

fn s(d: NaiveDate) -> String {
    d.to_string()
}

/// The run of `org_id` in a generation result.
fn run_of<'a>(result: &'a Value, org_id: &str) -> &'a Value {
    result["orgs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["org_id"] == org_id)
        .unwrap_or_else(|| panic!("no run for {org_id} in {result}"))
}

fn second_org() -> Value {
    json!({"org_id": SECOND_ORG.to_uppercase(), "name": " Second Freight ",
           "node_persistent_id": SECOND_NODE, "timezone": "Europe/Berlin",
           "excluded_numbers": ["+4930123456"]})
}

// ---------------------------------------------------------------------------------------
// The document
// ---------------------------------------------------------------------------------------

/// Every route of the route table but the host's own is in `paths` with exactly its methods,
/// path parameters are declared, nothing else is there, and each operation documents what the
/// server answers before its handler: 401, and 403 unless any signed-in caller may call it.
#[test]
fn openapi_document_lists_every_route_with_its_methods() {
    let doc = document();
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(doc["info"]["version"], env!("CARGO_PKG_VERSION"));
    let paths = doc["paths"].as_object().expect("paths");
    let mut expected = BTreeSet::new();
    for route in ROUTES {
        if route.rule == Rule::Host {
            continue;
        }
        assert!(
            matches!(route.function, Some("reports_http" | "failure_analysis")),
            "{} belongs to {:?}",
            route.path,
            route.function
        );
        expected.insert(route.path.to_string());
        let item = paths
            .get(route.path)
            .unwrap_or_else(|| panic!("{} is not in the document", route.path));
        let mut methods: Vec<String> = item
            .as_object()
            .unwrap()
            .keys()
            .filter(|k| *k != "parameters" && *k != "summary" && *k != "description")
            .cloned()
            .collect();
        methods.sort();
        // A path served by several handlers has an entry per handler.
        let mut want: Vec<String> = ROUTES
            .iter()
            .filter(|r| r.path == route.path)
            .flat_map(|r| r.methods.iter().map(|m| m.as_str().to_lowercase()))
            .collect();
        want.sort();
        assert_eq!(methods, want, "methods of {}", route.path);
        for (method, op) in item.as_object().unwrap() {
            let declared: BTreeSet<String> = op["parameters"]
                .as_array()
                .map(|ps| {
                    ps.iter()
                        .map(|p| resolve(&doc, p))
                        .filter(|p| p["in"] == "path")
                        .map(|p| p["name"].as_str().unwrap().to_string())
                        .collect()
                })
                .unwrap_or_default();
            let in_path: BTreeSet<String> = route
                .path
                .split('/')
                .filter_map(|seg| seg.strip_prefix('{')?.strip_suffix('}'))
                .map(str::to_string)
                .collect();
            assert_eq!(
                declared, in_path,
                "path parameters of {method} {}",
                route.path
            );
            assert!(
                op["operationId"].is_string(),
                "{method} {} has an operationId",
                route.path
            );
        }
        for method in route.methods {
            let responses = &item[method.as_str().to_lowercase()]["responses"];
            let statuses: BTreeSet<&str> = responses
                .as_object()
                .unwrap()
                .keys()
                .map(String::as_str)
                .collect();
            assert!(statuses.contains("401"), "{method} {}: 401", route.path);
            assert_eq!(
                statuses.contains("403"),
                route.rule != Rule::SignedIn,
                "{method} {}: 403 as its rule {:?} says",
                route.path,
                route.rule
            );
            if *method != Method::GET {
                for status in ["413", "415"] {
                    assert!(
                        statuses.contains(status),
                        "{method} {}: {status}",
                        route.path
                    );
                }
            }
        }
    }
    let documented: BTreeSet<String> = paths.keys().cloned().collect();
    assert_eq!(documented, expected, "the document's paths are the routes");

    // App Service Authentication in front (the routes are `authLevel: anonymous`): an Entra
    // ID bearer token for services, the sign-in session cookie for people.
    let schemes = &doc["components"]["securitySchemes"];
    let kinds: BTreeSet<(String, String)> = schemes
        .as_object()
        .unwrap()
        .values()
        .map(|s| {
            let kind = s["type"].as_str().unwrap().to_string();
            let detail = match kind.as_str() {
                "http" => s["scheme"].as_str().unwrap().to_string(),
                _ => format!(
                    "{}:{}",
                    s["in"].as_str().unwrap(),
                    s["name"].as_str().unwrap()
                ),
            };
            (kind, detail)
        })
        .collect();
    assert_eq!(
        kinds,
        BTreeSet::from([
            ("http".to_string(), "bearer".to_string()),
            (
                "apiKey".to_string(),
                "cookie:AppServiceAuthSession".to_string()
            )
        ])
    );
    let required: BTreeSet<String> = doc["security"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|alt| alt.as_object().unwrap().keys().cloned())
        .collect();
    let defined: BTreeSet<String> = schemes.as_object().unwrap().keys().cloned().collect();
    assert_eq!(
        required, defined,
        "every scheme is an alternative at the top level"
    );
}

/// Every `$ref` resolves, every component schema compiles as JSON Schema 2020-12, the named
/// components exist, every 4xx/5xx answers the error body, and the schemas say what they mean
/// (spot checks of required members and nullability).
#[test]
fn openapi_document_schemas_compile_and_refs_resolve() {
    let doc = document();
    fn walk(v: &Value, refs: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                if let Some(Value::String(r)) = m.get("$ref") {
                    refs.push(r.clone());
                }
                m.values().for_each(|v| walk(v, refs));
            }
            Value::Array(a) => a.iter().for_each(|v| walk(v, refs)),
            _ => {}
        }
    }
    let mut refs = vec![];
    walk(&doc, &mut refs);
    assert!(refs.len() > 50, "the document uses components");
    for r in &refs {
        assert!(r.starts_with("#/components/"), "{r} is local");
        assert!(doc.pointer(&r[1..]).is_some(), "{r} does not resolve");
    }
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    for name in [
        "DailyReport",
        "ReportListing",
        "ReportRevisions",
        "Trend",
        "Organization",
        "NewOrganization",
        "OrgPatch",
        "OrgRun",
        "GenerateResult",
        "BackfillResult",
        "SchedulerStatus",
        "Health",
        "FailureAnalysisResponse",
        "Error",
    ] {
        assert!(schemas.contains_key(name), "components/schemas/{name}");
    }
    for name in schemas.keys() {
        validator(
            &doc,
            &json!({"$ref": format!("#/components/schemas/{name}")}),
        );
    }
    // Every error status answers `{"error": {...}}`, except the health report's 503 (a
    // status report whose body says which dependency is down).
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            for (status, response) in op["responses"].as_object().unwrap() {
                if status.as_str() < "400" || path == "/api/health" {
                    continue;
                }
                let schema = &resolve(&doc, response)["content"]["application/json"]["schema"];
                let error_ref = json!({"$ref": "#/components/schemas/Error"});
                let ok = *schema == error_ref
                    || ["anyOf", "oneOf"].iter().any(|k| {
                        schema[k]
                            .as_array()
                            .is_some_and(|alts| alts.contains(&error_ref))
                    });
                assert!(
                    ok,
                    "{method} {path} {status} does not answer the error body"
                );
            }
        }
    }
    // Spot checks: an error body; the null where null occurs; what a wrong shape is.
    let check = |name: &str, instance: Value, valid: bool| {
        let v = validator(
            &doc,
            &json!({"$ref": format!("#/components/schemas/{name}")}),
        );
        assert_eq!(v.is_valid(&instance), valid, "{name}: {instance}");
    };
    check(
        "Error",
        json!({"error": {"code": "invalid_field", "message": "m", "field": "from"}}),
        true,
    );
    check("Error", json!({"error": {"code": "invalid_field"}}), false);
    check("Error", json!({"message": "m"}), false);
    let listing = json!({"org_id": PAUL_ORG, "org_name": "P", "reports": [], "next_before": null});
    check("ReportListing", listing.clone(), true);
    let mut no_next = listing.clone();
    no_next.as_object_mut().unwrap().remove("next_before");
    check("ReportListing", no_next, false);
    check(
        "ReportListing",
        json!({"org_id": PAUL_ORG, "org_name": "P", "reports": [], "next_before": "2025-13-01"}),
        false,
    );
    let point = |v: Value| {
        json!({"date": "2025-12-15", "revision": null, "total_calls": v, "classified_calls": null,
               "success_rate_percent": null, "avg_minutes_per_call": null,
               "total_duration_hours": null, "carrier_not_qualified_percent": null,
               "successfully_transferred_percent": null})
    };
    check("TrendPoint", point(Value::Null), true);
    check("TrendPoint", point(json!(4)), true);
    check("TrendPoint", point(json!("4")), false);
    // The day's current revision (`docs/revisions.md`): at least 1, null without a report.
    let revised = |r: Value| {
        let mut p = point(json!(4));
        p["revision"] = r;
        p
    };
    check("TrendPoint", revised(json!(2)), true);
    check("TrendPoint", revised(json!(0)), false);
    let mut no_revision = point(Value::Null);
    no_revision.as_object_mut().unwrap().remove("revision");
    check("TrendPoint", no_revision, false);
    check(
        "BackfillResult",
        json!({"from": "2025-12-01", "to": "2025-12-02", "complete": true, "resume_from": null, "orgs": []}),
        true,
    );
    check(
        "BackfillResult",
        json!({"from": "2025-12-01", "to": "2025-12-02", "complete": true, "orgs": []}),
        false,
    );
    check("OrgPatch", json!({"org_id": PAUL_ORG}), false);
    check("OrgPatch", json!({"name": null, "is_active": false}), true);
    check(
        "NewOrganization",
        json!({"org_id": PAUL_ORG, "name": "P"}),
        false,
    );
}

// ---------------------------------------------------------------------------------------
// Conformance: every route's success, through the handler
// ---------------------------------------------------------------------------------------

/// Each operation of the document answers its documented success with a body its schema
/// accepts; the served document is the file.
#[tokio::test]
async fn every_route_answers_as_the_openapi_document_says() {
    let pg = crate::helpers::two_calls_database().await;
    let api = start(
        Ch::Database(database_with_calls().await),
        Some(pg),
        &[("ALLOW_INSECURE_WEBHOOKS", "true")],
    )
    .await;

    let health = api.get("/api/health").await;
    let body = health.expect(200);
    for dep in ["postgres", "clickhouse", "storage"] {
        assert_eq!(
            body["checks"][dep]["status"], "ok",
            "{dep}: {}",
            health.text
        );
    }

    let served = api.get("/api/openapi.json").await;
    assert_eq!(*served.expect(200), document());
    assert_eq!(served.header("cache-control"), Some("max-age=300"));

    let generated = api.post("/api/reports/generate", json!({})).await;
    assert_eq!(
        dates(&run_of(generated.expect(200), PAUL_ORG)["generated"]),
        [s(yesterday())]
    );
    let backfill = api
        .post(
            "/api/reports/backfill",
            json!({"from": s(days_ago(4)), "to": s(days_ago(2))}),
        )
        .await;
    assert_eq!(backfill.expect(200)["complete"], true);

    let listing = api.get("/api/reports").await;
    assert_eq!(listing.expect(200)["reports"].as_array().unwrap().len(), 4);
    api.get("/api/reports/latest").await.expect(200);
    api.get(&format!("/api/reports/{}", yesterday()))
        .await
        .expect(200);
    api.get("/api/reports/live").await.expect(200);
    api.get("/api/reports/trend?period=7d").await.expect(200);
    api.get(&format!(
        "/api/artifacts/reports/{PAUL_ORG}/{}.json",
        yesterday()
    ))
    .await
    .expect(200);
    api.get(&format!("/api/reports/{}/changes", yesterday()))
        .await
        .expect(200);
    let revisions = api
        .get(&format!("/api/reports/{}/revisions", yesterday()))
        .await;
    assert_eq!(revisions.expect(200)["revisions"][0]["revision"], 1);
    api.get(&format!("/api/reports/{}?revision=1", yesterday()))
        .await
        .expect(200);
    api.get(&format!("/api/reports/calls?date={}", yesterday()))
        .await
        .expect(200);

    api.get("/api/orgs").await.expect(200);
    api.post("/api/orgs", second_org()).await.expect(201);
    api.get(&format!("/api/orgs/{SECOND_ORG}"))
        .await
        .expect(200);
    api.patch(
        &format!("/api/orgs/{SECOND_ORG}"),
        json!({"is_active": false}),
        None,
    )
    .await
    .expect(200);

    api.get("/api/scheduler/status").await.expect(200);
    let hook = crate::helpers::Receiver::start(vec![crate::helpers::Answer::Status(200)]).await;
    let paul = api.get(&format!("/api/orgs/{PAUL_ORG}")).await;
    let etag = paul.header("etag").expect("ETag").to_string();
    api.patch(
        &format!("/api/orgs/{PAUL_ORG}"),
        json!({"notifications": [{"id": "ops", "kind": "teams", "url": hook.url}]}),
        Some(&etag),
    )
    .await
    .expect(200);
    let test = api
        .post(
            &format!("/api/orgs/{PAUL_ORG}/notifications/ops/test"),
            json!({}),
        )
        .await;
    assert_eq!(test.expect(200)["status"], "sent");
    assert_eq!(hook.got().len(), 1);
    api.get(&format!("/api/deliveries?org_id={PAUL_ORG}"))
        .await
        .expect(200);
    let page = api.get(&format!("/api/dashboard?org_id={PAUL_ORG}")).await;
    page.expect(200);
    assert!(
        page.header("content-type")
            .is_some_and(|c| c.starts_with("text/html")),
        "the dashboard is HTML"
    );

    let analysis = api
        .post(
            "/api/failure_analysis?include_details=true",
            json!({"from_date": "2025-05-21", "to_date": "2025-05-21"}),
        )
        .await;
    for kind in ["csv", "html", "json"] {
        let link = analysis.expect(200)["artifacts"][kind].as_str().unwrap();
        api.get(link).await.expect(200);
    }
    // Errors of the same routes are checked against the error schema too.
    api.post("/api/failure_analysis", json!({"colour": 1}))
        .await
        .expect_error(400, "invalid_field", Some("colour"));
    api.get(&format!("/api/reports/trend?period=1y&org_id={PAUL_ORG}"))
        .await
        .expect_error(400, "invalid_field", Some("period"));

    // A backfill job's progress (this handler has no queue: the job document is planted).
    let job_id = uuid::Uuid::new_v4().to_string();
    let job = json!({"job_id": job_id, "created_at": "2025-05-22T00:00:00Z",
        "from": "2025-05-21", "to": "2025-05-21", "force": false, "notify": false,
        "orgs": [PAUL_ORG]});
    api.app
        .storage()
        .await
        .put(
            &format!("jobs/{job_id}.json"),
            job.to_string().into_bytes().into(),
            &call_analytics::storage::Put::new("application/json"),
        )
        .await
        .unwrap();
    assert_eq!(
        api.get(&format!("/api/jobs/{job_id}")).await.expect(200)["total"],
        1
    );

    // Every operation of the document was seen answering a 2xx.
    let seen = api.seen.lock().unwrap().clone();
    let doc = document();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            assert!(
                seen.iter()
                    .any(|(p, m, st)| p == path && m == method && (200..300).contains(st)),
                "{method} {path} was not exercised; seen: {seen:?}"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------
// Stored reports
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn stored_reports_are_read_by_date_latest_and_listed() {
    let api = start(Ch::Database(database_with_calls().await), None, &[]).await;

    // Nothing stored yet.
    api.get("/api/reports/latest")
        .await
        .expect_error(404, "report_not_found", None);
    let empty = api.get("/api/reports").await;
    assert_eq!(
        *empty.expect(200),
        json!({"org_id": PAUL_ORG, "org_name": PAUL_NAME, "reports": [], "next_before": null})
    );

    for d in [days_ago(3), yesterday()] {
        let r = api
            .post("/api/reports/generate", json!({"date": s(d)}))
            .await;
        assert_eq!(dates(&run_of(r.expect(200), PAUL_ORG)["generated"]), [s(d)]);
    }

    let report = api.get(&format!("/api/reports/{}", yesterday())).await;
    let body = report.expect(200);
    assert!(report.header("etag").is_some());
    assert_eq!(body["kpis"]["total_calls"], 4);
    assert_eq!(body["kpis"]["classified_calls"], 4);
    assert_eq!(body["kpis"]["success_rate_percent"], 50.0);
    assert_eq!(body["kpis"]["avg_minutes_per_call"], 2.0);
    assert_eq!(body["metadata"]["org_id"], PAUL_ORG);
    assert_eq!(body["metadata"]["org_name"], PAUL_NAME);
    assert_eq!(body["date_range"]["tz"], "America/Chicago");
    assert!(
        body["date_range"]["start_date"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{}T00:00:00-0", yesterday())),
        "{}",
        body["date_range"]
    );
    let older = api.get(&format!("/api/reports/{}", days_ago(3))).await;
    assert_eq!(older.expect(200)["kpis"]["total_calls"], 2);

    let latest = api.get("/api/reports/latest").await;
    assert_eq!(*latest.expect(200), *body, "latest is yesterday's report");

    let listing = api.get("/api/reports").await;
    let l = listing.expect(200);
    let listed: Vec<(String, Value, Value)> = l["reports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["date"].as_str().unwrap().to_string(),
                r["summary"]["total_calls"].clone(),
                r["summary"]["success_rate_percent"].clone(),
            )
        })
        .collect();
    assert_eq!(
        listed,
        [
            (s(yesterday()), json!(4), json!(50)),
            (s(days_ago(3)), json!(2), json!(50)),
        ]
    );
    assert_eq!(l["next_before"], Value::Null);
    let from = api.get(&format!("/api/reports?from={}", days_ago(2))).await;
    assert_eq!(from.expect(200)["reports"].as_array().unwrap().len(), 1);
    let to = api
        .get(&format!(
            "/api/reports?to={}&org_id={PAUL_ORG}",
            days_ago(2)
        ))
        .await;
    assert_eq!(to.expect(200)["reports"][0]["date"], s(days_ago(3)));

    // Absent dates, unknown orgs, malformed input.
    api.expect_get_errors(&[
        (
            &format!("/api/reports/{}", days_ago(2)),
            404,
            "report_not_found",
            None,
        ),
        (
            &format!("/api/reports/{}?org_id={UNKNOWN_ORG}", yesterday()),
            404,
            "org_not_found",
            None,
        ),
        (
            &format!("/api/reports/latest?org_id={UNKNOWN_ORG}"),
            404,
            "org_not_found",
            None,
        ),
        (
            &format!("/api/reports?org_id={UNKNOWN_ORG}"),
            404,
            "org_not_found",
            None,
        ),
        (
            "/api/reports/2025-02-30",
            400,
            "invalid_field",
            Some("date"),
        ),
        (
            "/api/reports?org_id=paul",
            400,
            "invalid_field",
            Some("org_id"),
        ),
        (
            &format!("/api/reports?from={}&to={}", yesterday(), days_ago(3)),
            400,
            "invalid_field",
            Some("from"),
        ),
        (
            "/api/reports?to=yesterday",
            400,
            "invalid_field",
            Some("to"),
        ),
        (
            "/api/reports?before=2025-01-32",
            400,
            "invalid_field",
            Some("before"),
        ),
    ])
    .await;
    for limit in ["0", "367", "ten", "-1"] {
        api.get(&format!("/api/reports?limit={limit}"))
            .await
            .expect_error(400, "invalid_field", Some("limit"));
    }
}

/// `limit` + `next_before` walk every stored report newest first, each once, no gaps; `from`
/// and `to` bound the walk.
#[tokio::test]
async fn report_listing_pages_walk_every_report_newest_first() {
    let api = start(Ch::Database(clickhouse_database().await), None, &[]).await;
    let r = api
        .post(
            "/api/reports/backfill",
            json!({"from": s(days_ago(11)), "to": s(days_ago(1))}),
        )
        .await;
    assert_eq!(
        dates(&run_of(r.expect(200), PAUL_ORG)["generated"]).len(),
        11
    );

    async fn walk(api: &Api, query: &str, limit: usize) -> (Vec<String>, Vec<usize>) {
        let mut all = vec![];
        let mut sizes = vec![];
        let mut before: Option<String> = None;
        loop {
            let url = format!(
                "/api/reports?limit={limit}{query}{}",
                before
                    .as_ref()
                    .map(|b| format!("&before={b}"))
                    .unwrap_or_default()
            );
            let page = api.get(&url).await;
            let body = page.expect(200);
            let got: Vec<String> = body["reports"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["date"].as_str().unwrap().to_string())
                .collect();
            assert!(got.len() <= limit);
            sizes.push(got.len());
            all.extend(got.iter().cloned());
            match body["next_before"].as_str() {
                Some(next) => {
                    assert_eq!(
                        Some(next),
                        got.last().map(String::as_str),
                        "next_before is the page's oldest date"
                    );
                    before = Some(next.to_string());
                }
                None => return (all, sizes),
            }
            assert!(sizes.len() < 20, "the walk does not end");
        }
    }

    let every: Vec<String> = (1..=11).map(|n| s(days_ago(n))).collect();
    let (all, sizes) = walk(&api, "", 4).await;
    assert_eq!(sizes, [4, 4, 3]);
    assert_eq!(all, every, "newest first, no duplicates, no gaps");
    let (all, sizes) = walk(&api, "", 11).await;
    assert_eq!((all.len(), sizes), (11, vec![11]));
    let (all, sizes) = walk(&api, "", 1).await;
    assert_eq!((all, sizes.len()), (every.clone(), 11));
    let bounded = format!("&from={}&to={}", days_ago(8), days_ago(3));
    let (all, sizes) = walk(&api, &bounded, 4).await;
    assert_eq!(sizes, [4, 2]);
    assert_eq!(all, every[2..8]);
}

// ---------------------------------------------------------------------------------------
// Generate, backfill, live
// ---------------------------------------------------------------------------------------

/// `generate` runs the timer's path: create-only (a second call skips), `force` replaces.
#[tokio::test]
async fn generate_is_create_only_unless_forced() {
    let api = start(Ch::Database(database_with_calls().await), None, &[]).await;
    let y = s(yesterday());

    let first = api.post("/api/reports/generate", json!({})).await;
    assert_eq!(first.expect(200)["complete"], true);
    let run = run_of(first.expect(200), PAUL_ORG);
    assert_eq!(dates(&run["generated"]), [y.as_str()]);
    assert_eq!(dates(&run["skipped"]), Vec::<String>::new());
    assert_eq!(run["failed"], json!([]));
    let stored = api.get(&format!("/api/reports/{y}")).await;
    let etag = stored.header("etag").unwrap().to_string();
    assert_eq!(stored.expect(200)["kpis"]["total_calls"], 4);

    // The timer's summary metadata is there: the listing reads it.
    let listing = api.get("/api/reports").await;
    assert_eq!(
        listing.expect(200)["reports"][0]["summary"]["total_calls"],
        4
    );

    let second = api
        .post("/api/reports/generate", json!({"force": false}))
        .await;
    let run = run_of(second.expect(200), PAUL_ORG);
    assert_eq!(dates(&run["generated"]), Vec::<String>::new());
    assert_eq!(dates(&run["skipped"]), [y.as_str()]);
    let again = api.get(&format!("/api/reports/{y}")).await;
    assert_eq!(
        again.header("etag"),
        Some(etag.as_str()),
        "a skipped report is untouched"
    );

    let forced = api
        .post("/api/reports/generate", json!({"force": true}))
        .await;
    let run = run_of(forced.expect(200), PAUL_ORG);
    assert_eq!(dates(&run["generated"]), [y.as_str()]);
    let replaced = api.get(&format!("/api/reports/{y}")).await;
    assert_ne!(
        replaced.header("etag"),
        Some(etag.as_str()),
        "force replaced it"
    );
    assert_eq!(replaced.expect(200)["kpis"]["total_calls"], 4);

    // One org and one date.
    let one = api
        .post(
            "/api/reports/generate",
            json!({"org_id": PAUL_ORG, "date": s(days_ago(3))}),
        )
        .await;
    let body = one.expect(200);
    assert_eq!(body["orgs"].as_array().unwrap().len(), 1);
    assert_eq!(
        dates(&run_of(body, PAUL_ORG)["generated"]),
        [s(days_ago(3))]
    );
    // The stored report is what the live one computes.
    let live = api
        .get(&format!("/api/reports/live?date={}", days_ago(3)))
        .await;
    let stored = api.get(&format!("/api/reports/{}", days_ago(3))).await;
    assert_eq!(live.expect(200)["kpis"], stored.expect(200)["kpis"]);

    // Malformed bodies name the field; an unknown org is a 404.
    for (body, field) in [
        (json!({"date": "yesterday"}), "date"),
        (json!({"colour": "red"}), "colour"),
        (json!({"force": "yes"}), "force"),
        (json!({"org_id": "paul"}), "org_id"),
        (json!([]), "body"),
    ] {
        api.post("/api/reports/generate", body).await.expect_error(
            400,
            "invalid_field",
            Some(field),
        );
    }
    api.call(
        Method::POST,
        "/api/reports/generate",
        Some("{\"force\":".into()),
        &[],
    )
    .await
    .expect_error(400, "invalid_field", Some("body"));
    api.post("/api/reports/generate", json!({"org_id": UNKNOWN_ORG}))
        .await
        .expect_error(404, "org_not_found", None);
}

/// Two handlers over ClickHouse database `db` and one local storage folder (kept while the
/// returned `TempDir` lives): the first with its budget spent (`BACKFILL_BUDGET_SECONDS=0`),
/// the second with the default.
async fn spent_and_unspent(db: String) -> (tempfile::TempDir, Api, Api) {
    let storage = tempfile::tempdir().expect("temp dir");
    let dir = || Some(storage.path().to_path_buf());
    let spent = start_in(
        Ch::Database(db.clone()),
        None,
        dir(),
        &[("BACKFILL_BUDGET_SECONDS", "0")],
    )
    .await;
    let unspent = start_in(Ch::Database(db), None, dir(), &[]).await;
    (storage, spent, unspent)
}

/// `generate` has the backfill's budget: spent, it starts no report and says so (200,
/// `complete: false`, the date `not_attempted`, nothing stored); a call with time generates it.
#[tokio::test]
async fn generate_past_its_budget_says_what_it_left() {
    let (_storage, spent, api) = spent_and_unspent(database_with_calls().await).await;
    let y = s(yesterday());
    let left = spent.post("/api/reports/generate", json!({})).await;
    let reply = left.expect(200).clone();
    assert_eq!(reply["complete"], false, "{}", left.text);
    let run = run_of(&reply, PAUL_ORG);
    assert_eq!(dates(&run["not_attempted"]), [y.as_str()]);
    assert_eq!(dates(&run["generated"]), Vec::<String>::new());
    spent.get(&format!("/api/reports/{y}")).await.expect(404);

    let done = api.post("/api/reports/generate", json!({})).await;
    assert_eq!(done.expect(200)["complete"], true);
    assert_eq!(
        dates(&run_of(done.expect(200), PAUL_ORG)["generated"]),
        [y.as_str()]
    );
}

/// A backfill whose budget is spent answers `complete: false` and where to resume; calling
/// again (here: on a handler with the default budget, over the same storage) finishes the
/// range, and every date has exactly one report.
#[tokio::test]
async fn backfill_resumes_where_its_budget_ran_out() {
    let db = clickhouse_database().await;
    load_calls(&db, &[(days_ago(5), 3), (days_ago(20), 1)]).await;
    let (_storage, spent, api) = spent_and_unspent(db).await;
    let (from, to) = (days_ago(30), days_ago(1));
    let range: BTreeSet<String> = from.iter_days().take_while(|d| *d <= to).map(s).collect();
    assert_eq!(range.len(), 30);
    let body = json!({"from": s(from), "to": s(to)});

    let first = spent.post("/api/reports/backfill", body.clone()).await;
    let r1 = first.expect(200).clone();
    assert_eq!(r1["complete"], false, "{}", first.text);
    assert_eq!(
        (r1["from"].as_str(), r1["to"].as_str()),
        (Some(&*s(from)), Some(&*s(to)))
    );
    let run = run_of(&r1, PAUL_ORG);
    let generated: BTreeSet<String> = dates(&run["generated"]).into_iter().collect();
    let not_attempted: BTreeSet<String> = dates(&run["not_attempted"]).into_iter().collect();
    assert!(!not_attempted.is_empty());
    assert_eq!(run["failed"], json!([]));
    assert_eq!(dates(&run["skipped"]), Vec::<String>::new());
    assert!(generated.is_disjoint(&not_attempted));
    assert_eq!(
        generated
            .union(&not_attempted)
            .cloned()
            .collect::<BTreeSet<_>>(),
        range,
        "every date is generated or left for later"
    );
    assert_eq!(
        r1["resume_from"].as_str(),
        not_attempted.first().map(String::as_str)
    );

    let second = api.post("/api/reports/backfill", body.clone()).await;
    let r2 = second.expect(200);
    assert_eq!(
        (r2["complete"].clone(), r2["resume_from"].clone()),
        (json!(true), Value::Null)
    );
    let run = run_of(r2, PAUL_ORG);
    assert!(run.get("not_attempted").is_none(), "nothing left: {run}");
    assert_eq!(
        dates(&run["skipped"]).into_iter().collect::<BTreeSet<_>>(),
        generated
    );
    assert_eq!(
        dates(&run["generated"])
            .into_iter()
            .collect::<BTreeSet<_>>(),
        not_attempted
    );

    // Exactly one report per date, in storage and through the API.
    let storage = api.app.storage().await;
    let prefix = format!("reports/{PAUL_ORG}/");
    let page = storage.list(&prefix, None, 5000).await.expect("list");
    let mut names: Vec<String> = page.entries.iter().map(|e| e.name.clone()).collect();
    names.sort();
    let want: Vec<String> = range.iter().map(|d| format!("{prefix}{d}.json")).collect();
    assert_eq!(names, want);
    let listing = api.get("/api/reports?limit=366").await;
    let listed = dates(
        &listing.expect(200)["reports"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["date"].clone())
            .collect::<Value>(),
    );
    assert_eq!(listed.iter().cloned().collect::<BTreeSet<_>>(), range);
    assert_eq!(listed.len(), 30);
    let five = api.get(&format!("/api/reports/{}", days_ago(5))).await;
    assert_eq!(five.expect(200)["kpis"]["total_calls"], 3);

    // A third call skips everything.
    let third = api.post("/api/reports/backfill", body).await;
    assert_eq!(
        dates(&run_of(third.expect(200), PAUL_ORG)["skipped"]).len(),
        30
    );

    // Malformed ranges name the field.
    let bad = |b: Value, field: &'static str| {
        let api = &api;
        async move {
            api.post("/api/reports/backfill", b).await.expect_error(
                400,
                "invalid_field",
                Some(field),
            );
        }
    };
    bad(json!({"from": s(to), "to": s(from)}), "from").await;
    bad(json!({"from": "2024-01-01", "to": "2025-01-01"}), "to").await; // 367 days
    bad(json!({"from": s(from)}), "to").await;
    bad(json!({"to": s(to)}), "from").await;
    bad(json!({"from": "30 days ago", "to": s(to)}), "from").await;
    bad(
        json!({"from": s(from), "to": s(to), "until": s(to)}),
        "until",
    )
    .await;
    bad(json!({"from": s(from), "to": s(to), "force": 1}), "force").await;
    api.post(
        "/api/reports/backfill",
        json!({"from": s(from), "to": s(to), "org_id": UNKNOWN_ORG}),
    )
    .await
    .expect_error(404, "org_not_found", None);
}

#[tokio::test]
async fn live_reports_are_computed_from_clickhouse_and_not_stored() {
    let api = start(Ch::Database(database_with_calls().await), None, &[]).await;
    let live = api.get("/api/reports/live").await;
    let body = live.expect(200);
    assert_eq!(body["kpis"]["total_calls"], 4);
    assert_eq!(body["kpis"]["success_rate_percent"], 50.0);
    assert_eq!(
        body["kpis"]["successfully_transferred_for_booking"]["successfully_transferred_for_booking_count"],
        2
    );
    assert_eq!(body["kpis"]["carrier_not_qualified"]["count"], 2);
    assert!(
        body["date_range"]["start_date"]
            .as_str()
            .unwrap()
            .starts_with(&s(yesterday())),
        "the default date is yesterday in the org's zone"
    );
    let older = api
        .get(&format!(
            "/api/reports/live?date={}&org_id={PAUL_ORG}",
            days_ago(3)
        ))
        .await;
    assert_eq!(older.expect(200)["kpis"]["total_calls"], 2);
    let quiet = api
        .get(&format!("/api/reports/live?date={}", days_ago(2)))
        .await;
    assert_eq!(quiet.expect(200)["kpis"]["total_calls"], 0);

    api.get(&format!("/api/reports/{}", yesterday()))
        .await
        .expect_error(404, "report_not_found", None);
    let listing = api.get("/api/reports").await;
    assert_eq!(
        listing.expect(200)["reports"],
        json!([]),
        "live stores nothing"
    );

    api.expect_get_errors(&[
        (
            "/api/reports/live?date=2025-13-01",
            400,
            "invalid_field",
            Some("date"),
        ),
        (
            &format!("/api/reports/live?org_id={UNKNOWN_ORG}"),
            404,
            "org_not_found",
            None,
        ),
    ])
    .await;
}

/// ClickHouse down: live, generate and backfill answer 503 with the error body, after the
/// client's bounded retries; nothing is stored.
#[tokio::test]
async fn clickhouse_down_is_503_for_live_generate_and_backfill() {
    let api = start(Ch::ClosedPort, None, &[]).await;
    let started = Instant::now();
    api.get("/api/reports/live")
        .await
        .expect_error(503, "dependency_unavailable", None);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "bounded retries"
    );

    let generate = api.post("/api/reports/generate", json!({})).await;
    generate.expect_error(503, "dependency_unavailable", None);
    let run = run_of(&generate.json, PAUL_ORG);
    assert_eq!(run["failed"][0]["date"], s(yesterday()));
    assert_eq!(dates(&run["generated"]), Vec::<String>::new());

    let backfill = api
        .post(
            "/api/reports/backfill",
            json!({"from": s(days_ago(2)), "to": s(days_ago(1))}),
        )
        .await;
    backfill.expect_error(503, "dependency_unavailable", None);
    assert_eq!(
        run_of(&backfill.json, PAUL_ORG)["failed"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(backfill.json["complete"], true);

    let listing = api.get("/api/reports").await;
    assert_eq!(listing.expect(200)["reports"], json!([]));
    // Stored reports do not need ClickHouse.
    api.get("/api/reports/trend?period=7d").await.expect(200);
}

// ---------------------------------------------------------------------------------------
// Trend
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn trend_has_a_point_per_day_and_nulls_where_no_report() {
    let api = start(Ch::Database(database_with_calls().await), None, &[]).await;
    for d in [yesterday(), days_ago(3)] {
        api.post("/api/reports/generate", json!({"date": s(d)}))
            .await
            .expect(200);
    }
    let trend = api.get("/api/reports/trend?period=7d").await;
    let t = trend.expect(200);
    assert_eq!(t["org_id"], PAUL_ORG);
    assert_eq!(t["period"], "7d");
    assert_eq!(t["from"], s(days_ago(7)));
    assert_eq!(t["to"], s(yesterday()));
    assert_eq!(t["days_with_report"], 2);
    let series = t["series"].as_array().unwrap();
    assert_eq!(series.len(), 7);
    let want_dates: Vec<String> = (1..=7).rev().map(|n| s(days_ago(n))).collect();
    assert_eq!(
        dates(&series.iter().map(|p| p["date"].clone()).collect()),
        want_dates
    );
    const KPIS: [&str; 7] = [
        "total_calls",
        "classified_calls",
        "success_rate_percent",
        "avg_minutes_per_call",
        "total_duration_hours",
        "carrier_not_qualified_percent",
        "successfully_transferred_percent",
    ];
    for point in series {
        let date = point["date"].as_str().unwrap();
        let expected_calls = if date == s(yesterday()) {
            json!(4)
        } else if date == s(days_ago(3)) {
            json!(2)
        } else {
            Value::Null
        };
        assert_eq!(point["total_calls"], expected_calls, "{point}");
        for k in KPIS {
            assert!(
                point.get(k).is_some(),
                "{k} is present (explicitly null) in {point}"
            );
            assert_eq!(
                point[k].is_null(),
                expected_calls.is_null(),
                "{k} in {point}"
            );
        }
    }
    let y = &series[6];
    assert_eq!(y["success_rate_percent"], 50);
    assert_eq!(y["carrier_not_qualified_percent"], 50);
    assert_eq!(y["successfully_transferred_percent"], 50);

    for (period, n) in [("", 30), ("?period=30d", 30), ("?period=90d", 90)] {
        let t = api.get(&format!("/api/reports/trend{period}")).await;
        let t = t.expect(200);
        assert_eq!(t["series"].as_array().unwrap().len(), n, "{period}");
        assert_eq!(t["period"], format!("{n}d"));
        assert_eq!(t["days_with_report"], 2);
    }
    for bad in ["14d", "7", "", "7D"] {
        api.get(&format!("/api/reports/trend?period={bad}"))
            .await
            .expect_error(400, "invalid_field", Some("period"));
    }
    api.get(&format!("/api/reports/trend?org_id={UNKNOWN_ORG}"))
        .await
        .expect_error(404, "org_not_found", None);
}

// ---------------------------------------------------------------------------------------
// Organizations
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn orgs_are_created_read_listed_and_patched_under_etags() {
    let api = start(Ch::Unset, None, &[]).await;
    let list = api.get("/api/orgs").await;
    let orgs = list.expect(200)["orgs"].as_array().unwrap().clone();
    assert_eq!(orgs.len(), 1, "the default org from the settings");
    assert_eq!(orgs[0]["org_id"], PAUL_ORG);
    assert_eq!(orgs[0]["name"], PAUL_NAME);
    assert_eq!(orgs[0]["node_persistent_id"], PAUL_NODE);
    assert_eq!(orgs[0]["timezone"], "America/Chicago");
    assert_eq!(orgs[0]["is_active"], true);

    let created = api.post("/api/orgs", second_org()).await;
    let org = created.expect(201).clone();
    let etag1 = created.header("etag").expect("ETag").to_string();
    assert_eq!(org["org_id"], SECOND_ORG, "stored lower-case");
    assert_eq!(org["name"], "Second Freight", "trimmed");
    assert_eq!(org["timezone"], "Europe/Berlin");
    assert_eq!(org["is_active"], true);
    assert_eq!(org["excluded_numbers"], json!(["+4930123456"]));
    assert_eq!(org["created_at"], org["updated_at"]);

    api.post("/api/orgs", second_org())
        .await
        .expect_error(409, "org_exists", None);
    let read = api.get(&format!("/api/orgs/{SECOND_ORG}")).await;
    assert_eq!(*read.expect(200), org);
    assert_eq!(read.header("etag"), Some(etag1.as_str()));
    let all = api.get("/api/orgs").await;
    let ids: Vec<Value> = all.expect(200)["orgs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["org_id"].clone())
        .collect();
    assert_eq!(ids, [json!(PAUL_ORG), json!(SECOND_ORG)], "by org_id");

    // Create: malformed input names the field.
    let with = |k: &str, v: Value| {
        let mut o = json!({"org_id": UNKNOWN_ORG, "name": "X", "node_persistent_id": SECOND_NODE});
        if v.is_null() {
            o.as_object_mut().unwrap().remove(k);
        } else {
            o[k] = v;
        }
        o
    };
    for (body, field) in [
        (with("org_id", json!("acme")), "org_id"),
        (
            with("node_persistent_id", json!("n-1")),
            "node_persistent_id",
        ),
        (with("name", json!("   ")), "name"),
        (with("name", Value::Null), "name"),
        (with("timezone", json!("Central")), "timezone"),
        (
            with("excluded_numbers", json!(["9259898099"])),
            "excluded_numbers",
        ),
        (with("is_active", json!("yes")), "is_active"),
        (with("colour", json!("red")), "colour"),
    ] {
        api.post("/api/orgs", body)
            .await
            .expect_error(400, "invalid_field", Some(field));
    }
    api.get(&format!("/api/orgs/{UNKNOWN_ORG}"))
        .await
        .expect_error(404, "org_not_found", None);
    api.get("/api/orgs/acme")
        .await
        .expect_error(400, "invalid_field", Some("org_id"));

    // Patch under If-Match; a stale one is 412 and changes nothing.
    let path = format!("/api/orgs/{SECOND_ORG}");
    let p1 = api
        .patch(
            &path,
            json!({"name": "Second Freight GmbH", "is_active": false}),
            Some(&etag1),
        )
        .await;
    let patched = p1.expect(200).clone();
    let etag2 = p1.header("etag").unwrap().to_string();
    assert_ne!(etag2, etag1);
    assert_eq!(patched["name"], "Second Freight GmbH");
    assert_eq!(patched["is_active"], false);
    assert_eq!(patched["timezone"], "Europe/Berlin", "unchanged");
    assert_eq!(patched["created_at"], org["created_at"]);
    let (created_at, updated_at): (DateTime<Utc>, DateTime<Utc>) = (
        patched["created_at"].as_str().unwrap().parse().unwrap(),
        patched["updated_at"].as_str().unwrap().parse().unwrap(),
    );
    assert!(updated_at > created_at);

    api.patch(&path, json!({"name": "Lost update"}), Some(&etag1))
        .await
        .expect_error(412, "stale_etag", None);
    let now = api.get(&path).await;
    assert_eq!(now.expect(200)["name"], "Second Freight GmbH");
    assert_eq!(now.header("etag"), Some(etag2.as_str()));

    let p2 = api
        .patch(&path, json!({"excluded_numbers": []}), None)
        .await;
    assert_eq!(p2.expect(200)["excluded_numbers"], json!([]));
    let p3 = api
        .patch(&path, json!({"timezone": "Asia/Kolkata"}), Some("*"))
        .await;
    assert_eq!(p3.expect(200)["timezone"], "Asia/Kolkata");

    for (body, field) in [
        (json!({"org_id": UNKNOWN_ORG}), "org_id"),
        (json!({"timezone": "Mars/Olympus"}), "timezone"),
        (json!({"name": ""}), "name"),
        (json!({"excluded_numbers": ["+0123"]}), "excluded_numbers"),
        (json!({"is_active": 0}), "is_active"),
    ] {
        api.patch(&path, body, None)
            .await
            .expect_error(400, "invalid_field", Some(field));
    }
    api.patch(&format!("/api/orgs/{UNKNOWN_ORG}"), json!({}), None)
        .await
        .expect_error(404, "org_not_found", None);
}

/// `org_id` may be left out where one org exists; with two, it is a 400 naming it.
#[tokio::test]
async fn org_id_is_optional_with_one_org_and_required_with_two() {
    let api = start(Ch::Unset, None, &[]).await;
    for path in ["/api/reports/trend?period=7d", "/api/reports"] {
        let r = api.get(path).await;
        assert_eq!(r.expect(200)["org_id"], PAUL_ORG, "{path}");
    }
    api.get("/api/dashboard").await.expect(200);
    api.post("/api/orgs", second_org()).await.expect(201);
    for path in [
        "/api/reports/trend?period=7d",
        "/api/reports",
        "/api/reports/latest",
        "/api/reports/live",
        "/api/dashboard",
    ] {
        api.get(path)
            .await
            .expect_error(400, "invalid_field", Some("org_id"));
    }
    api.get(&format!("/api/reports/{}", yesterday()))
        .await
        .expect_error(400, "invalid_field", Some("org_id"));
    for org in [PAUL_ORG, SECOND_ORG] {
        let r = api
            .get(&format!("/api/reports/trend?period=7d&org_id={org}"))
            .await;
        assert_eq!(r.expect(200)["org_id"], org);
    }
    api.get(&format!("/api/dashboard?org_id={SECOND_ORG}&days=0"))
        .await
        .expect_error(400, "invalid_field", Some("days"));
}

/// A wrong method is 405 with `Allow`, an unknown path 404, a body over 256 KiB 413, each
/// with the error body.
#[tokio::test]
async fn wrong_methods_unknown_paths_and_big_bodies() {
    let api = start(Ch::Unset, None, &[]).await;
    let r = api.call(Method::DELETE, "/api/orgs", None, &[]).await;
    r.expect_error(405, "method_not_allowed", None);
    assert_eq!(r.header("allow"), Some("GET, POST"));
    let r = api
        .call(Method::DELETE, &format!("/api/orgs/{PAUL_ORG}"), None, &[])
        .await;
    r.expect_error(405, "method_not_allowed", None);
    assert_eq!(r.header("allow"), Some("GET, PATCH"));
    let r = api
        .call(Method::PUT, "/api/reports/backfill", Some("{}".into()), &[])
        .await;
    r.expect_error(405, "method_not_allowed", None);
    // The literal path only: `backfill` is not a `{date}`.
    assert_eq!(r.header("allow"), Some("POST"));
    let r = api.get("/api/reports/generate").await;
    r.expect_error(405, "method_not_allowed", None);
    let r = api.call(Method::POST, "/api/health", None, &[]).await;
    r.expect_error(405, "method_not_allowed", None);
    assert_eq!(r.header("allow"), Some("GET"));
    api.get("/api/reportz")
        .await
        .expect_error(404, "not_found", None);

    for (method, path) in [
        (Method::POST, "/api/orgs".to_string()),
        (Method::PATCH, format!("/api/orgs/{PAUL_ORG}")),
        (Method::POST, "/api/reports/generate".to_string()),
        (Method::POST, "/api/reports/backfill".to_string()),
    ] {
        api.oversized(method, &path)
            .await
            .expect_error(413, "body_too_large", None);
    }
    // Nothing changed.
    let org = api.get(&format!("/api/orgs/{PAUL_ORG}")).await;
    assert_eq!(org.expect(200)["name"], PAUL_NAME);
}

// ---------------------------------------------------------------------------------------
// Scheduler status
// ---------------------------------------------------------------------------------------

/// The schedule and its next firings (NCRONTAB, day of week 1-5 = Monday-Friday); `last_run`
/// is null until the timer fires, then that run's result.
#[tokio::test]
async fn scheduler_status_shows_the_schedule_and_the_last_timer_run() {
    let api = start(
        Ch::Database(database_with_calls().await),
        None,
        &[
            ("DAILY_REPORT_SCHEDULE", "0 30 6 * * 1-5"),
            ("SCHEDULER_HOUR", "5"),
            ("SCHEDULER_MINUTE", "30"),
            ("CATCHUP_DAYS", "3"),
        ],
    )
    .await;
    let before = api.get("/api/scheduler/status").await;
    let b = before.expect(200).clone();
    assert_eq!(b["function"], "daily_report_timer");
    assert_eq!(b["schedule"], "0 30 6 * * 1-5");
    assert_eq!(b["report_time_local"], "05:30");
    assert_eq!(b["catchup_days"], 3);
    assert_eq!(b["last_run"], Value::Null, "no run yet");
    let firings: Vec<DateTime<Utc>> = b["next_firings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap().parse().unwrap())
        .collect();
    assert_eq!(firings.len(), 5);
    assert!(firings[0] > Utc::now() - chrono::Duration::seconds(5));
    assert!(
        firings.windows(2).all(|w| w[0] < w[1]),
        "increasing: {firings:?}"
    );
    for f in &firings {
        assert_eq!((f.hour(), f.minute(), f.second()), (6, 30, 0), "{f}");
        assert!(
            f.weekday().number_from_monday() <= 5,
            "NCRONTAB 1-5 is Monday-Friday: {f} is a {}",
            f.weekday()
        );
    }

    let fired = api.post("/daily_report_timer", timer_payload(true)).await;
    let ret = fired.expect(200)["ReturnValue"].clone();
    assert_eq!(ret["status"], "succeeded", "{}", fired.text);

    let after = api.get("/api/scheduler/status").await;
    let last = after.expect(200)["last_run"].clone();
    assert_eq!(last, ret, "last_run is the run's result");
    assert_eq!(last["is_past_due"], true);
    let run = run_of(&last, PAUL_ORG);
    let generated = dates(&run["generated"]);
    assert_eq!(generated.len(), 3, "CATCHUP_DAYS dates: {run}");
    let local = Utc::now().with_timezone(&TZ);
    let due = if (local.hour(), local.minute()) >= (5, 30) {
        yesterday()
    } else {
        days_ago(2)
    };
    let want: Vec<String> = (0..3)
        .rev()
        .map(|n| s(due - chrono::Duration::days(n)))
        .collect();
    assert_eq!(generated, want);
    let started: DateTime<Utc> = last["started_at"].as_str().unwrap().parse().unwrap();
    let finished: DateTime<Utc> = last["finished_at"].as_str().unwrap().parse().unwrap();
    assert!(started <= finished);
    let listing = api.get("/api/reports").await;
    assert_eq!(listing.expect(200)["reports"].as_array().unwrap().len(), 3);
}

// ---------------------------------------------------------------------------------------
// Health
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn health_is_200_when_every_configured_dependency_answers() {
    let api = start(
        Ch::Database(clickhouse_database().await),
        Some(fresh_database().await),
        &[],
    )
    .await;
    let r = api.get("/api/health").await;
    let h = r.expect(200);
    assert_eq!(h["status"], "healthy");
    assert_eq!(h["version"], env!("CARGO_PKG_VERSION"));
    for dep in ["postgres", "clickhouse", "storage"] {
        assert_eq!(h["checks"][dep]["status"], "ok", "{dep}");
        assert!(h["checks"][dep]["latency_ms"].is_u64(), "{dep}");
    }

    // Unconfigured dependencies are shown, and do not make the service unhealthy; the routes
    // that need them answer 503 `not_configured`.
    let bare = start(Ch::Unset, None, &[]).await;
    let r = bare.get("/api/health").await;
    let h = r.expect(200);
    assert_eq!(h["status"], "healthy");
    for dep in ["postgres", "clickhouse"] {
        assert_eq!(
            h["checks"][dep],
            json!({"status": "not_configured", "latency_ms": null}),
            "{dep}"
        );
    }
    assert_eq!(h["checks"]["storage"]["status"], "ok");
    bare.get("/api/reports/live")
        .await
        .expect_error(503, "not_configured", None);
    for (path, body) in [
        ("/api/reports/generate", json!({})),
        (
            "/api/reports/backfill",
            json!({"from": s(days_ago(2)), "to": s(days_ago(1))}),
        ),
        ("/api/failure_analysis", json!({})),
    ] {
        bare.post(path, body)
            .await
            .expect_error(503, "not_configured", None);
    }
}

/// ClickHouse at a closed port, or at a server that never answers: 503 `unhealthy` in < 5 s,
/// the other dependencies still reported.
#[tokio::test]
async fn health_is_503_within_5_s_when_clickhouse_is_down() {
    let api = start(Ch::ClosedPort, None, &[]).await;
    let started = Instant::now();
    let r = api.get("/api/health").await;
    let elapsed = started.elapsed();
    let h = r.expect(503);
    assert!(elapsed < Duration::from_secs(5), "answered in {elapsed:?}");
    assert_eq!(h["status"], "unhealthy");
    assert_eq!(h["checks"]["clickhouse"]["status"], "down");
    assert!(h["checks"]["clickhouse"]["error"].is_string());
    assert!(!r.text.contains("127.0.0.1"), "no addresses: {}", r.text);
    assert_eq!(h["checks"]["storage"]["status"], "ok");
    assert_eq!(h["checks"]["postgres"]["status"], "not_configured");

    // A server that accepts the connection and never answers: the probe's own timeout.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let api = start(Ch::Silent(port), None, &[]).await;
    let started = Instant::now();
    let r = api.get("/api/health").await;
    let elapsed = started.elapsed();
    let h = r.expect(503);
    assert!(elapsed < Duration::from_secs(5), "answered in {elapsed:?}");
    assert_eq!(h["checks"]["clickhouse"]["status"], "down");
    assert_eq!(h["checks"]["storage"]["status"], "ok");
    drop(silent);
}

/// The dashboard in a real browser: Debian's Chromium, headless, loads `GET /api/dashboard`
/// over reports made by a backfill; the page makes no failed request and logs no console
/// error, and the run leaves a screenshot at `target/test-screenshots/dashboard.png`.
#[tokio::test]
async fn dashboard_loads_in_headless_chromium_without_errors_and_is_screenshotted() {
    let api = start(Ch::Database(database_with_calls().await), None, &[]).await;
    let backfill = json!({"from": s(days_ago(6)), "to": s(yesterday())});
    let r = api.post("/api/reports/backfill", backfill).await;
    assert_eq!(r.status, 200, "{}", r.text);

    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        std::path::Path::new(&chromium).exists(),
        "{chromium} is missing: install Debian's chromium package (.ci/run does)"
    );
    let shots = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/test-screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let shot = shots.join("dashboard.png");
    let _ = std::fs::remove_file(&shot);
    let profile = tempfile::tempdir().unwrap();
    let url = format!("{}/api/dashboard?days=7", api.app.address);
    let out = tokio::process::Command::new(&chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--enable-logging=stderr",
            "--v=0",
            "--window-size=1280,2000",
            "--virtual-time-budget=3000",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("--screenshot={}", shot.display()))
        .arg(&url)
        .output()
        .await
        .expect("run chromium");
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "chromium failed: {log}");
    let png = std::fs::read(&shot).expect("screenshot written");
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 20_000,
        "a real screenshot: {} bytes",
        png.len()
    );
    // Console messages and failed loads are logged as `CONSOLE(...)` / `net::ERR_...` lines.
    let problems: Vec<&str> = log
        .lines()
        .filter(|l| {
            l.contains(":CONSOLE")
                || l.contains("net::ERR_")
                || l.contains("Failed to load resource")
        })
        .collect();
    assert!(problems.is_empty(), "the page logged errors: {problems:#?}");
    // The browser asked the handler for the page and nothing else that failed.
    let handler_log = api.app.log();
    let requests: Vec<&str> = handler_log
        .lines()
        .filter(|l| l.contains(" path="))
        .collect();
    assert!(
        requests
            .iter()
            .any(|l| l.contains("path=/api/dashboard") && l.contains("status=200")),
        "{handler_log}"
    );
    assert!(
        requests.iter().all(|l| l.contains("status=200")),
        "a request failed: {requests:#?}"
    );
}

/// With App Service Authentication's principal, a caller sees only the orgs its roles name.
#[tokio::test]
async fn a_principal_sees_only_the_orgs_its_roles_name() {
    let api = start(Ch::Unset, None, &[]).await;
    assert_eq!(api.post("/api/orgs", second_org()).await.status, 201);
    let paul_only = principal(&[&format!("org:{PAUL_ORG}")]);
    let r = api.get_as("/api/orgs", &paul_only).await;
    assert_eq!(column(&r.json["orgs"], "org_id"), [PAUL_ORG]);
    api.get_as(&format!("/api/orgs/{SECOND_ORG}"), &paul_only)
        .await
        .expect_error(404, "org_not_found", None);
    // With one visible org, org_id may be left out even though two exist.
    let r = api.get_as("/api/reports", &paul_only).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["org_id"], PAUL_ORG);
    api.get_as(&format!("/api/reports?org_id={SECOND_ORG}"), &paul_only)
        .await
        .expect_error(404, "org_not_found", None);
    let h = [("X-MS-CLIENT-PRINCIPAL", paul_only.as_str())];
    let r = api
        .call(
            Method::POST,
            "/api/orgs",
            Some(second_org().to_string()),
            &h,
        )
        .await;
    r.expect_error(403, "forbidden", None);
    // The admin role sees everything; no header, too.
    let admin = principal(&["analytics.admin"]);
    let r = api.get_as("/api/orgs", &admin).await;
    assert_eq!(r.json["orgs"].as_array().unwrap().len(), 2);
    let r = api.get("/api/orgs").await;
    assert_eq!(r.json["orgs"].as_array().unwrap().len(), 2);
    // A principal that does not decode is never trusted.
    api.get_as("/api/orgs", "%%")
        .await
        .expect_error(401, "unauthenticated", None);
}
