//! The revisions of a report over HTTP (`docs/revisions.md`, "Re-checking recent days", the
//! last three bullets): `GET /api/reports/{date}/revisions` lists them newest first,
//! `GET /api/reports/{date}?revision=N` returns one, the listing and the trend show the
//! current revision's number, and the dashboard says when the report it shows was revised and
//! what changed in what was counted, with a link to the revisions.
//!
//! The reports are stored straight through the library (`snapshots::write`: a create-only
//! write, then a forced one, which keeps revision 1 and stores revision 2), so no ClickHouse is
//! needed. Every request goes through [`Api::call`], so every reply is also checked against
//! the OpenAPI document.

use call_analytics::clickhouse::CallStats;
use call_analytics::daily_report::query::DayCounts;
use call_analytics::daily_report::report::{self, DailyReport};
use call_analytics::daily_report::snapshots;
use call_analytics::daily_report::summary::ReportSummary;
use call_analytics::orgs::Organization;
use call_analytics::storage::{Put, Storage};
use chrono::{NaiveDate, Utc};
use serde_json::{Value, json};

use crate::helpers::{Api, Ch, PAUL_ORG, TZ, days_ago, id_of, principal, start, yesterday};

const OTHER_ORG: &str = "0195a7d2-5b1e-7c44-9f3a-6d2e8b0c1f47";

/// Paul's report of `date` counting `calls` runs with one node output each, as one query
/// would have made it.
fn report_of(org: &Organization, date: NaiveDate, calls: u64) -> DailyReport {
    let counts = DayCounts {
        total_calls: calls,
        total_duration_seconds: 120.0 * calls as f64,
        output_rows: calls,
        engine: "25.8.1.1".into(),
        ..DayCounts::default()
    };
    let stats = CallStats {
        round_trips: 1,
        ..CallStats::default()
    };
    report::build(org, date, &counts, stats, 3, Utc::now())
}

/// The handler with Paul's org and, yesterday, revision 1 (100 calls) replaced by revision 2
/// (125 calls: 25 arrived late); returns the two documents as written.
async fn two_revisions() -> (Api, Storage, Organization, DailyReport, DailyReport) {
    let api = start(Ch::Unset, None, &[]).await;
    let storage = api.app.storage().await;
    let (org, _) = call_analytics::orgs::get(&storage, &id_of(PAUL_ORG))
        .await
        .unwrap()
        .expect("the default org");
    let y = yesterday();
    let first = report_of(&org, y, 100);
    let second = report_of(&org, y, 125);
    let (written, _) = snapshots::write(&storage, &org.org_id, y, &first, false)
        .await
        .unwrap();
    assert_eq!(written, snapshots::Written::Created);
    let (written, _) = snapshots::write(&storage, &org.org_id, y, &second, true)
        .await
        .unwrap();
    assert_eq!(written, snapshots::Written::Overwritten);
    (api, storage, org, first, second)
}

/// Stores `report` at `date` as a version before revisions and provenance stored it: no
/// `revision`, `supersedes` or `provenance` in the document, no `revision` or `fingerprint`
/// in its metadata.
async fn store_old_snapshot(storage: &Storage, org: &Organization, date: NaiveDate) {
    let r = report_of(org, date, 7);
    let mut doc = serde_json::to_value(&r).unwrap();
    let metadata = doc["metadata"].as_object_mut().unwrap();
    for key in ["revision", "supersedes", "provenance"] {
        metadata.remove(key);
    }
    let mut put = Put::new("application/json");
    put.metadata = ReportSummary::of(&r).to_metadata();
    storage
        .put(
            &snapshots::name(&org.org_id, date),
            serde_json::to_vec_pretty(&doc).unwrap().into(),
            &put,
        )
        .await
        .unwrap();
}

fn revisions_of(body: &Value) -> Vec<(u64, bool)> {
    body["revisions"]
        .as_array()
        .unwrap_or_else(|| panic!("no revisions in {body}"))
        .iter()
        .map(|r| {
            (
                r["revision"].as_u64().unwrap(),
                r["current"].as_bool().unwrap(),
            )
        })
        .collect()
}

#[tokio::test]
async fn the_revisions_of_a_date_are_listed_newest_first() {
    let (api, storage, org, first, second) = two_revisions().await;
    let y = yesterday();
    let r = api
        .get(&format!("/api/reports/{y}/revisions?org_id={PAUL_ORG}"))
        .await;
    let body = r.expect(200);
    assert_eq!(body["org_id"], PAUL_ORG);
    assert_eq!(body["date"], y.to_string());
    assert_eq!(revisions_of(body), [(2, true), (1, false)]);
    let [newest, oldest] = [&body["revisions"][0], &body["revisions"][1]];
    assert_eq!(newest["summary"]["total_calls"], 125);
    assert_eq!(oldest["summary"]["total_calls"], 100);
    assert_eq!(newest["fingerprint"]["runs"], 125);
    assert_eq!(oldest["fingerprint"]["runs"], 100);
    let at = |r: &DailyReport| report::rfc3339_secs::format(&r.metadata.generated_at);
    assert_eq!(newest["generated_at"], at(&second));
    assert_eq!(oldest["generated_at"], at(&first));
    // `org_id` may be left out with one org.
    let again = api.get(&format!("/api/reports/{y}/revisions")).await;
    assert_eq!(again.expect(200), body);

    // A report stored before revisions is revision 1, of unknown fingerprint.
    store_old_snapshot(&storage, &org, days_ago(2)).await;
    let old = api
        .get(&format!("/api/reports/{}/revisions", days_ago(2)))
        .await;
    let old = old.expect(200);
    assert_eq!(revisions_of(old), [(1, true)]);
    assert_eq!(old["revisions"][0]["fingerprint"], Value::Null);

    api.expect_get_errors(&[
        // No report that day.
        (
            &format!("/api/reports/{}/revisions", days_ago(3)),
            404,
            "report_not_found",
            None,
        ),
        (
            &format!("/api/reports/{y}/revisions?org_id={OTHER_ORG}"),
            404,
            "org_not_found",
            None,
        ),
        (
            "/api/reports/2025-13-01/revisions",
            400,
            "invalid_field",
            Some("date"),
        ),
        (
            "/api/reports/calls/revisions",
            400,
            "invalid_field",
            Some("date"),
        ),
        (
            &format!("/api/reports/{y}/revisions?org_id=nope"),
            400,
            "invalid_field",
            Some("org_id"),
        ),
    ])
    .await;

    // A reader of another org does not see Paul's revisions (as if the org did not exist);
    // Paul's reader does.
    let path = format!("/api/reports/{y}/revisions?org_id={PAUL_ORG}");
    api.get_as(&path, &principal(&[&format!("org:{OTHER_ORG}")]))
        .await
        .expect_error(404, "org_not_found", None);
    let own = api
        .get_as(&path, &principal(&[&format!("org:{PAUL_ORG}")]))
        .await;
    assert_eq!(revisions_of(own.expect(200)), [(2, true), (1, false)]);
    api.get_as(&path, &principal(&["analytics.failures"]))
        .await
        .expect_error(403, "forbidden", None);
}

#[tokio::test]
async fn a_revision_is_read_by_its_number() {
    let (api, storage, org, first, second) = two_revisions().await;
    let y = yesterday();
    let path = |q: &str| format!("/api/reports/{y}?org_id={PAUL_ORG}{q}");

    let kept = api.get(&path("&revision=1")).await;
    let kept_body = kept.expect(200);
    assert_eq!(kept_body["metadata"]["revision"], 1);
    assert_eq!(kept_body["metadata"]["supersedes"], Value::Null);
    assert_eq!(kept_body["kpis"]["total_calls"], 100);
    // The kept document is the one first stored.
    assert_eq!(*kept_body, serde_json::to_value(&first).unwrap());

    let current = api.get(&path("")).await;
    let current_body = current.expect(200).clone();
    assert_eq!(current_body["metadata"]["revision"], 2);
    assert_eq!(current_body["kpis"]["total_calls"], 125);
    assert_eq!(current_body["metadata"]["supersedes"]["revision"], 1);
    assert_eq!(
        current_body["metadata"]["supersedes"]["fingerprint"]["runs"],
        100
    );
    assert_eq!(
        current_body["metadata"]["generated_at"],
        report::rfc3339_secs::format(&second.metadata.generated_at)
    );
    let by_number = api.get(&path("&revision=2")).await;
    assert_eq!(*by_number.expect(200), current_body);
    assert_eq!(by_number.header("etag"), current.header("etag"));

    // A report stored before revisions is its revision 1.
    store_old_snapshot(&storage, &org, days_ago(2)).await;
    let old = api
        .get(&format!("/api/reports/{}?revision=1", days_ago(2)))
        .await;
    assert_eq!(old.expect(200)["kpis"]["total_calls"], 7);

    api.expect_get_errors(&[
        (&path("&revision=3"), 404, "report_not_found", None),
        (
            &format!("/api/reports/{}?revision=2", days_ago(2)),
            404,
            "report_not_found",
            None,
        ),
        (
            &format!("/api/reports/{}?revision=1", days_ago(3)),
            404,
            "report_not_found",
            None,
        ),
        (&path("&revision=x"), 400, "invalid_field", Some("revision")),
        (&path("&revision=0"), 400, "invalid_field", Some("revision")),
        (
            &path("&revision=-1"),
            400,
            "invalid_field",
            Some("revision"),
        ),
        (
            &path("&revision=1.5"),
            400,
            "invalid_field",
            Some("revision"),
        ),
        (&path("&revision="), 400, "invalid_field", Some("revision")),
        (
            &format!("/api/reports/{y}?org_id={OTHER_ORG}&revision=1"),
            404,
            "org_not_found",
            None,
        ),
    ])
    .await;
    api.get_as(
        &path("&revision=1"),
        &principal(&[&format!("org:{OTHER_ORG}")]),
    )
    .await
    .expect_error(404, "org_not_found", None);
}

#[tokio::test]
async fn the_listing_and_the_trend_show_the_current_revision() {
    let (api, storage, org, _, _) = two_revisions().await;
    store_old_snapshot(&storage, &org, days_ago(2)).await;
    let listing = api.get(&format!("/api/reports?org_id={PAUL_ORG}")).await;
    let rows: Vec<(String, u64, u64)> = listing.expect(200)["reports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["date"].as_str().unwrap().to_string(),
                r["revision"].as_u64().unwrap(),
                r["summary"]["total_calls"].as_u64().unwrap(),
            )
        })
        .collect();
    // The kept revision is not a date of its own.
    assert_eq!(
        rows,
        [
            (yesterday().to_string(), 2, 125),
            (days_ago(2).to_string(), 1, 7)
        ]
    );

    let trend = api.get("/api/reports/trend?period=7d").await;
    let series = trend.expect(200)["series"].as_array().unwrap().clone();
    assert_eq!(series.len(), 7);
    assert_eq!(trend.json["days_with_report"], 2);
    let point = |d: NaiveDate| {
        series
            .iter()
            .find(|p| p["date"] == d.to_string())
            .unwrap_or_else(|| panic!("{d} in {series:?}"))
    };
    assert_eq!(point(yesterday())["revision"], 2);
    assert_eq!(point(yesterday())["total_calls"], 125);
    assert_eq!(point(days_ago(2))["revision"], 1);
    assert_eq!(point(days_ago(3))["revision"], Value::Null);
    assert_eq!(point(days_ago(3))["total_calls"], Value::Null);
}

#[tokio::test]
async fn the_dashboard_says_when_its_report_was_revised_and_links_the_revisions() {
    let (api, _, _, _, second) = two_revisions().await;
    let page = api.get(&format!("/api/dashboard?org_id={PAUL_ORG}")).await;
    let html = &page.text;
    assert_eq!(page.status, 200, "{html}");
    let at = second.metadata.generated_at.with_timezone(&TZ);
    let when = if at.date_naive() == Utc::now().with_timezone(&TZ).date_naive() {
        at.format("%H:%M").to_string()
    } else {
        at.format("%a %Y-%m-%d %H:%M").to_string()
    };
    let note = format!("Revised {when}: 25 more calls arrived.");
    assert!(html.contains(&note), "{note} in {html}");
    assert!(html.contains("data-revision=\"2\""), "{html}");
    let link = format!(
        "href=\"reports/{}/revisions?org_id={PAUL_ORG}\"",
        yesterday()
    );
    assert!(html.contains(&link), "{link} in {html}");
    // The link, resolved against the page (`/api/dashboard`), is the revisions route.
    let resolved = format!("/api/reports/{}/revisions?org_id={PAUL_ORG}", yesterday());
    let revisions = api.get(&resolved).await;
    assert_eq!(revisions_of(revisions.expect(200))[0], (2, true));
}

#[tokio::test]
async fn a_first_report_has_no_revised_note() {
    let api = start(Ch::Unset, None, &[]).await;
    let date = crate::helpers::store_yesterday(&api.app, PAUL_ORG).await;
    let page = api.get(&format!("/api/dashboard?org_id={PAUL_ORG}")).await;
    assert_eq!(page.status, 200, "{}", page.text);
    assert!(!page.text.contains("class=\"revised\""), "{}", page.text);
    assert!(!page.text.contains("/revisions?"), "{}", page.text);
    let revisions = api.get(&format!("/api/reports/{date}/revisions")).await;
    assert_eq!(revisions_of(revisions.expect(200)), [(1, true)]);
    // JSON says the same as the listing.
    let listing = api.get("/api/reports").await;
    assert_eq!(listing.expect(200)["reports"][0]["revision"], json!(1));
}
