//! The dashboard's navigation followed as a person would (`docs/http-api.md`, "The
//! dashboard"): the links of a served page, resolved against it, lead to the previous day's
//! tiles, to a 7-day period, to the period's CSV; the org switcher lists exactly the caller's
//! orgs; and the page with its links passes the Chromium checks at laptop and phone widths.

use call_analytics::daily_report::kpi::Kpi;
use chrono::NaiveDate;
use serde_json::json;

use crate::helpers::{
    Api, Ch, PAUL_ORG, database_with_calls, days_ago, principal, start, yesterday,
};
use crate::pages::{check_on_laptop_and_phone, long};

const SECOND_ORG: &str = "0195a7d2-5b1e-7c44-9f3a-6d2e8b0c1f47";
const THIRD_ORG: &str = "0195a7d2-5b1e-7c44-9f3a-6d2e8b0c1f48";
/// A name that is markup: the switcher must show it as text.
const THIRD_NAME: &str = "Third <b>& Co</b>";

/// Paul Logistics with reports for the 10 days up to yesterday (4 calls yesterday, 2 three days
/// ago, none on the others), and two more orgs without reports.
async fn rig() -> Api {
    let api = start(Ch::Database(database_with_calls().await), None, &[]).await;
    let r = api
        .post(
            "/api/reports/backfill",
            json!({"org_id": PAUL_ORG, "from": days_ago(10).to_string(),
                   "to": yesterday().to_string()}),
        )
        .await;
    assert_eq!(r.expect(200)["complete"], true, "{}", r.text);
    for (id, name, node) in [
        (
            SECOND_ORG,
            "Second Freight",
            "019b3a70-1c2d-7e4f-8a5b-6c7d8e9f0a1b",
        ),
        (
            THIRD_ORG,
            THIRD_NAME,
            "019b3a70-1c2d-7e4f-8a5b-6c7d8e9f0a1c",
        ),
    ] {
        let org = json!({"org_id": id, "name": name, "node_persistent_id": node,
                         "timezone": "Europe/Berlin"});
        api.post("/api/orgs", org).await.expect(201);
    }
    api
}

/// The `href` of the page's `<a>` whose text is `text`, resolved against the page
/// (`/api/dashboard`) as a browser does: a path and query to request.
fn follow(page: &str, text: &str) -> String {
    let end = page
        .find(&format!(">{text}</a>"))
        .unwrap_or_else(|| panic!("no link {text:?} in {page}"));
    let tag = &page[page[..end].rfind("<a ").unwrap()..end];
    let href = tag
        .split("href=\"")
        .nth(1)
        .and_then(|h| h.split('"').next())
        .unwrap_or_else(|| panic!("no href in {tag}"))
        .replace("&amp;", "&");
    let url = reqwest::Url::parse("http://page/api/dashboard?org_id=x")
        .unwrap()
        .join(&href)
        .unwrap();
    assert_eq!(url.host_str(), Some("page"), "a relative link: {href}");
    format!("{}?{}", url.path(), url.query().unwrap_or_default())
}

/// The shown day's total-calls tile, as the page writes it.
fn total_calls_tile(n: u64) -> String {
    format!(
        "data-kpi=\"total_calls\" title=\"total_calls\"><div class=\"label\">Total calls</div><div class=\"value\">{n}<span"
    )
}

/// The hover columns (one per day) of the total-calls chart.
fn days_in_chart(page: &str) -> usize {
    let start = page
        .find("id=\"trend-total_calls\"")
        .expect("the calls chart");
    let svg = &page[start..start + page[start..].find("</svg>").unwrap()];
    svg.matches("<rect class=\"hit\"").count()
}

#[tokio::test]
async fn the_dashboards_links_lead_to_other_days_periods_orgs_and_the_csv() {
    let api = rig().await;
    let page = api.get(&format!("/api/dashboard?org_id={PAUL_ORG}")).await;
    page.expect(200);
    let html = &page.text;
    assert!(html.contains(&format!("Latest report · {}", long(yesterday()))));
    assert!(html.contains(&total_calls_tile(4)));
    assert_eq!(days_in_chart(html), 30);
    // Yesterday is the newest report: no next day.
    assert!(html.contains("<span class=\"step disabled\">Next day →</span>"));
    assert!(html.contains("aria-current=\"page\">30 days</a>"));

    // Previous day, twice: three days ago, its 2 calls in the tile, its date the period's end.
    let to_2 = follow(html, "← Previous day");
    assert!(to_2.ends_with(&format!("&date={}", days_ago(2))), "{to_2}");
    let page = api.get(&to_2).await;
    let page = api.get(&follow(&page.text, "← Previous day")).await;
    page.expect(200);
    let html = &page.text;
    assert!(html.contains(&format!("What changed · {}", long(days_ago(3)))));
    assert!(html.contains(&total_calls_tile(2)), "{html}");
    assert!(html.contains(&format!("to {} (30 days)", days_ago(3))));
    // The next day is back towards yesterday; "Latest" drops the date.
    assert!(follow(html, "Next day →").ends_with(&format!("&date={}", days_ago(2))));
    assert_eq!(
        follow(html, "Latest"),
        format!("/api/dashboard?org_id={PAUL_ORG}&days=30")
    );

    // The 7-day period, keeping the date: 7 days in every chart, the link marked current.
    let page = api.get(&follow(html, "7 days")).await;
    page.expect(200);
    let html = &page.text;
    assert_eq!(days_in_chart(html), 7);
    assert!(html.contains("aria-current=\"page\">7 days</a>"));
    assert!(html.contains(&total_calls_tile(2)));

    // Its CSV: the 7 days ending three days ago, the KPIs' labels as headers.
    let csv_path = follow(html, "Download CSV");
    let reply = api.get(&csv_path).await;
    reply.expect(200);
    assert_eq!(
        reply.header("content-type"),
        Some("text/csv; charset=utf-8")
    );
    let (from, to) = (days_ago(9), days_ago(3));
    assert_eq!(
        reply.header("content-disposition"),
        Some(format!("attachment; filename=\"{PAUL_ORG}-{from}-{to}.csv\"").as_str())
    );
    assert_eq!(reply.header("x-content-type-options"), Some("nosniff"));
    let mut r = csv::Reader::from_reader(reply.text.as_bytes());
    let headers: Vec<String> = r.headers().unwrap().iter().map(str::to_string).collect();
    let labels: Vec<&str> = Kpi::ALL.iter().map(|k| k.label()).collect();
    assert_eq!(headers[0], "date");
    assert_eq!(headers[1..], labels);
    let rows: Vec<csv::StringRecord> = r.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 7);
    let dates: Vec<NaiveDate> = rows.iter().map(|r| r[0].parse().unwrap()).collect();
    assert_eq!(dates, from.iter_days().take(7).collect::<Vec<_>>());
    // Three days ago: 2 calls, 1 success of 2 classified.
    assert_eq!(&rows[6][1], "2");
    assert_eq!(&rows[6][3], "50");
    // A day without calls has a report: 0 calls, its rates undefined (empty).
    assert_eq!(&rows[5][1], "0");
    assert_eq!(&rows[5][3], "");

    // A date without a report is a page that says so; a bad one a 400 naming it.
    let before = days_ago(20);
    let page = api
        .get(&format!("/api/dashboard?org_id={PAUL_ORG}&date={before}"))
        .await;
    page.expect(200);
    assert!(
        page.text
            .contains(&format!("<h2>No report for {}</h2>", long(before))),
        "{}",
        page.text
    );
    // Reports lie after it, none before.
    assert!(follow(&page.text, "Next day →").ends_with(&format!("&date={}", days_ago(19))));
    assert!(
        page.text
            .contains("<span class=\"step disabled\">← Previous day</span>")
    );
    let today = days_ago(0);
    api.expect_get_errors(&[
        (
            &format!("/api/dashboard?org_id={PAUL_ORG}&date={today}"),
            400,
            "invalid_field",
            Some("date"),
        ),
        (
            &format!("/api/dashboard?org_id={PAUL_ORG}&date=2025-02-30"),
            400,
            "invalid_field",
            Some("date"),
        ),
        (
            &format!("/api/dashboard?org_id={PAUL_ORG}&format=xml"),
            400,
            "invalid_field",
            Some("format"),
        ),
    ])
    .await;

    // The org switcher: an admin sees the three orgs, a reader of two orgs those two.
    let switcher = |html: &str| -> String {
        let start = html.find("<details class=\"orgs\">").expect("the switcher");
        html[start..start + html[start..].find("</details>").unwrap()].to_string()
    };
    let page = api
        .get(&format!("/api/dashboard?org_id={PAUL_ORG}&days=7"))
        .await;
    let orgs = switcher(&page.text);
    assert!(orgs.contains("(3)"), "{orgs}");
    assert!(
        orgs.contains(">Third &lt;b&gt;&amp; Co&lt;/b&gt;</a>"),
        "{orgs}"
    );
    let reader = principal(&[&format!("org:{PAUL_ORG}"), &format!("org:{SECOND_ORG}")]);
    let page = api
        .get_as(&format!("/api/dashboard?org_id={PAUL_ORG}&days=7"), &reader)
        .await;
    page.expect(200);
    let orgs = switcher(&page.text);
    assert!(orgs.contains("(2)"), "{orgs}");
    assert!(orgs.contains(">Paul Logistics</a>") && orgs.contains(">Second Freight</a>"));
    assert!(
        !orgs.contains(THIRD_ORG) && !orgs.contains("Third"),
        "{orgs}"
    );
    // Its link opens the other org's page, keeping the period.
    let second = follow(&orgs, "Second Freight");
    assert_eq!(second, format!("/api/dashboard?org_id={SECOND_ORG}&days=7"));
    let page = api.get_as(&second, &reader).await;
    page.expect(200);
    assert!(page.text.contains("<h1>Second Freight</h1>"));
    // A reader of one org has no switcher, and the CSV keeps the page's rule.
    let one = principal(&[&format!("org:{PAUL_ORG}")]);
    let page = api
        .get_as(&format!("/api/dashboard?org_id={PAUL_ORG}"), &one)
        .await;
    assert!(!page.text.contains("<details class=\"orgs\""));
    api.get_as(&csv_path.replace(PAUL_ORG, THIRD_ORG), &one)
        .await
        .expect_error(404, "org_not_found", None);

    // In Chromium at 1280 and 390 px: a pinned day with the switcher open to three orgs
    // (nothing scrolls sideways, no CSP violation), its chart's last day on hover.
    let url = format!(
        "{}/api/dashboard?org_id={PAUL_ORG}&days=7&date={}",
        api.app.address,
        days_ago(3)
    );
    let args = vec![
        "--page".into(),
        "dashboard".into(),
        "--url".into(),
        url,
        "--hover".into(),
        format!(
            "total_calls:-1={}: 2 total calls, 2 classified calls",
            long(days_ago(3))
        ),
    ];
    check_on_laptop_and_phone("dashboard_nav", args).await;
}
