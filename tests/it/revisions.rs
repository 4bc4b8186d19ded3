//! Corrections (`docs/revisions.md`, "Corrections reach the people who were told", and the
//! `report_sha256` of "Provenance") through the handler process, with ClickHouse, storage and
//! webhook receivers of these tests: the timer stores yesterday and sends its digest; rows of
//! yesterday arrive late (new runs, a newer output of an existing run); the next firing revises
//! the day once and each channel that was sent the digest gets one correction.
//!
//! Every request goes through [`Api::call`], so every reply (the delivery records included) is
//! also checked against the OpenAPI document.

use std::time::Instant;

use call_analytics::clickhouse::ClickHouse;
use call_analytics::daily_report::provenance::sha256_hex;
use call_analytics::daily_report::snapshots;
use call_analytics::delivery::webhook;
use call_analytics::storage::Storage;
use chrono::{NaiveDate, TimeZone, Utc};
use serde_json::{Value, json};

use crate::helpers::{
    Answer, Api, Ch, Fixture, PAUL_NAME, PAUL_ORG, Receiver, TZ, booked, clickhouse_database,
    clickhouse_settings, clickhouse_url, column, days_ago, id_of, load_calls, outcome, render_card,
    start, start_in, timer_payload, yesterday,
};

const SECRET: &str = "s3cret-signing-key-0123456789";

/// The settings of every handler here: loopback receivers, yesterday and the day before due
/// (so that an older stored day is re-checked too), links absolute.
const ENV: &[(&str, &str)] = &[
    ("ALLOW_INSECURE_WEBHOOKS", "true"),
    ("CATCHUP_DAYS", "2"),
    ("SCHEDULER_HOUR", "0"),
    ("PUBLIC_BASE_URL", "https://func-x.azurewebsites.net"),
];

/// A ClickHouse database with 4 calls yesterday (2 successes, 2 `non_convertible` with a
/// carrier not qualified, 2 minutes each) and 2 the day before, and the handler on it.
async fn handler() -> (Api, String) {
    let db = clickhouse_database().await;
    load_calls(&db, &[(yesterday(), 4), (days_ago(2), 2)]).await;
    (start(Ch::Database(db.clone()), None, ENV).await, db)
}

/// `PATCH /api/orgs/{PAUL_ORG}` with `notifications`, under the ETag of a GET just before.
async fn set_channels(api: &Api, channels: Value) {
    let r = api.get(&format!("/api/orgs/{PAUL_ORG}")).await;
    r.expect(200);
    let etag = r.header("etag").expect("ETag").to_string();
    api.patch(
        &format!("/api/orgs/{PAUL_ORG}"),
        json!({"notifications": channels}),
        Some(&etag),
    )
    .await
    .expect(200);
}

/// One timer firing: its `ReturnValue` (the run).
async fn fire(api: &Api) -> Value {
    let r = api.post("/daily_report_timer", timer_payload(false)).await;
    r.expect(200)["ReturnValue"].clone()
}

/// A firing's deliveries as `"<event> <channel_id> <status>"`, in the run's order.
fn outcomes(run: &Value) -> Vec<String> {
    run["deliveries"]
        .as_array()
        .unwrap_or_else(|| panic!("{run}"))
        .iter()
        .map(|d| {
            format!(
                "{} {} {}",
                d["event"].as_str().unwrap(),
                d["channel_id"].as_str().unwrap(),
                d["status"].as_str().unwrap()
            )
        })
        .collect()
}

/// The dates a firing revised.
fn revised(run: &Value) -> Vec<String> {
    run["orgs"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|o| o["revised"].as_array().cloned().unwrap_or_default())
        .map(|d| d.as_str().unwrap().to_string())
        .collect()
}

/// `YYYY-MM-DD hh:mm:ss.sss` (UTC) of local `hh:mm` on `date` in the default org's zone.
fn local(date: NaiveDate, hour: u32, minute: u32) -> String {
    TZ.from_local_datetime(&date.and_hms_opt(hour, minute, 0).unwrap())
        .unwrap()
        .with_timezone(&Utc)
        .format("%Y-%m-%d %H:%M:%S%.3f")
        .to_string()
}

fn client(db: &str) -> ClickHouse {
    ClickHouse::new(&clickhouse_settings(&clickhouse_url(), db)).expect("client")
}

/// Rows of `date` that arrive late: two new runs with sessions (booked successes), and a newer
/// output of run 1 (`non_convertible`, carrier not qualified) that classifies it a success.
/// Yesterday's 4 calls (2 successes) become 6 (5 successes).
async fn late_rows(db: &str, date: NaiveDate) {
    let mut f = Fixture::default();
    for i in 0..2 {
        let run = format!("late-{date}-{i}");
        let at = local(date, 13, i);
        f.paul_call(&run, &at, "+13125550177", 120.0).paul_output(
            &run,
            &at,
            booked(Some("AGREEMENT_REACHED_CARRIER_CONFIRMED")),
        );
    }
    f.paul_output(
        &format!("r-{date}-1"),
        &local(date, 14, 0),
        booked(Some("AGREEMENT_REACHED_CARRIER_CONFIRMED")),
    );
    f.load(&client(db)).await;
}

/// A newer output of run 0 (a booked success) that changes only its pricing notes: a
/// breakdown, no headline KPI.
async fn late_pricing_note(db: &str, date: NaiveDate) {
    let mut f = Fixture::default();
    f.paul_output(
        &format!("r-{date}-0"),
        &local(date, 15, 0),
        booked(Some("AGREEMENT_REACHED_BROKER_CONFIRMED")),
    );
    f.load(&client(db)).await;
}

/// Revision `n` of the default org's `date`, as stored: (its `kpis.total_calls`, the SHA-256
/// of its bytes); `None` when there is no such revision.
async fn revision(storage: &Storage, date: NaiveDate, n: u32) -> Option<(u64, String)> {
    snapshots::read_revision(storage, &id_of(PAUL_ORG), date, n)
        .await
        .unwrap()
        .map(|s| (s.report.kpis.total_calls, sha256_hex(&s.body)))
}

/// The names stored under `prefix`.
async fn names(storage: &Storage, prefix: &str) -> Vec<String> {
    storage
        .list(prefix, None, 1000)
        .await
        .unwrap()
        .entries
        .into_iter()
        .map(|e| e.name)
        .collect()
}

/// The signature of a webhook request verifies over timestamp + "." + body.
fn assert_signed(got: &crate::helpers::Got) {
    let ts: i64 = got
        .header("X-CallAnalytics-Timestamp")
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(
        got.header("X-CallAnalytics-Signature"),
        Some(webhook::signature(SECRET, ts, &got.body).as_str())
    );
}

/// The `event`s a receiver got, in order.
fn events(r: &Receiver) -> Vec<String> {
    r.got()
        .iter()
        .map(|g| {
            g.json()["event"]
                .as_str()
                .unwrap_or("(not a webhook)")
                .to_string()
        })
        .collect()
}

/// The story of `docs/revisions.md`: the digest goes out with the stored document's SHA-256;
/// late rows of that day revise it once at the next firing, keep revision 1 readable, and each
/// channel that was sent the digest — Teams, Slack, a signed webhook — gets exactly one
/// correction listing what changed, recorded beside the digest in `GET /api/deliveries`; the
/// day before (unchanged) and a day older than `RESTATE_DAYS` (changed) stay as they were; a
/// third firing does nothing.
#[tokio::test]
async fn late_rows_revise_a_sent_day_once_and_each_channel_gets_one_correction() {
    let teams = Receiver::start(vec![Answer::Status(202)]).await;
    let slack = Receiver::start(vec![Answer::Status(200)]).await;
    let hook = Receiver::start(vec![Answer::Status(204)]).await;
    let (api, db) = handler().await;
    let storage = api.app.storage().await;
    let (day, before, settled) = (yesterday(), days_ago(2), days_ago(5));
    load_calls(&db, &[(settled, 2)]).await;
    api.post(
        "/api/reports/generate",
        json!({"date": settled.to_string()}),
    )
    .await
    .expect(200);
    set_channels(
        &api,
        json!([
            {"id": "erp", "kind": "webhook", "url": hook.url, "secret": SECRET},
            {"id": "slack-ops", "kind": "slack", "url": slack.url},
            {"id": "teams-ops", "kind": "teams", "url": teams.url},
            {"id": "off", "kind": "slack", "url": slack.url, "enabled": false},
        ]),
    )
    .await;

    // 1. The day is stored and its digest goes out, naming the stored document.
    let first = fire(&api).await;
    assert_eq!(
        outcomes(&first),
        [
            "digest erp sent",
            "digest slack-ops sent",
            "digest teams-ops sent"
        ],
        "{first}"
    );
    let (calls, sha1) = revision(&storage, day, 1).await.unwrap();
    assert_eq!(calls, 4);
    let digest = hook.got()[0].json();
    assert_eq!(digest["event"], "daily_report.ready");
    assert_eq!(digest["report_sha256"], sha1, "{digest}");
    assert_eq!(digest["revision"], 1);
    assert!(
        teams.got()[0]
            .json()
            .to_string()
            .contains(&format!("Report SHA-256: {}…", &sha1[..12])),
        "the Teams digest shows the report's SHA-256"
    );
    assert!(
        slack.got()[0]
            .json()
            .to_string()
            .contains(&format!("Report SHA-256: {}…", &sha1[..12])),
        "the Slack digest shows the report's SHA-256"
    );

    // 2. Rows of the day arrive late (and of a settled day); the next firing revises the day
    // once and corrects it, before the digests (which are already claimed).
    late_rows(&db, day).await;
    let mut late = Fixture::default();
    late.paul_call("late-settled", &local(settled, 9, 0), "+13125550178", 60.0);
    late.load(&client(&db)).await;
    let second = fire(&api).await;
    assert_eq!(revised(&second), [day.to_string()], "{second}");
    assert_eq!(
        outcomes(&second),
        [
            "correction erp sent",
            "correction slack-ops sent",
            "correction teams-ops sent",
            "digest erp already_claimed",
            "digest slack-ops already_claimed",
            "digest teams-ops already_claimed",
        ],
        "{second}"
    );
    assert_eq!(second["deliveries"][0]["revision"], 2);
    let (calls, sha2) = revision(&storage, day, 2).await.unwrap();
    assert_eq!(calls, 6);
    assert_eq!(
        revision(&storage, day, 1).await,
        Some((4, sha1.clone())),
        "revision 1 is kept as it was"
    );

    // The webhook: one signed `daily_report.corrected` with every headline KPI before and after.
    assert_eq!(
        events(&hook),
        ["daily_report.ready", "daily_report.corrected"]
    );
    let got = &hook.got()[1];
    assert_signed(got);
    let c = got.json();
    assert_eq!(
        (&c["org_id"], &c["org_name"], &c["date"], &c["revision"]),
        (
            &json!(PAUL_ORG),
            &json!(PAUL_NAME),
            &json!(day.to_string()),
            &json!(2)
        )
    );
    assert_eq!(
        (&c["previous"]["total_calls"], &c["current"]["total_calls"]),
        (&json!(4.0), &json!(6.0))
    );
    assert_eq!(
        (
            &c["previous"]["success_rate_percent"],
            &c["current"]["success_rate_percent"]
        ),
        (&json!(50.0), &json!(83.33))
    );
    assert_eq!(
        (
            &c["previous"]["carrier_not_qualified_percent"],
            &c["current"]["carrier_not_qualified_percent"]
        ),
        (&json!(50.0), &json!(16.67))
    );
    assert_eq!(
        c["current"]["avg_minutes_per_call"], 2.0,
        "unchanged, still listed"
    );
    assert_eq!(c["report_sha256"], sha2, "the stored revision's bytes");
    assert_eq!(
        c["report_url"],
        format!("https://func-x.azurewebsites.net/api/artifacts/reports/{PAUL_ORG}/{day}.json")
    );

    // Teams: a card titled "Correction" with each changed KPI before → after, valid for
    // Microsoft's renderer.
    assert_eq!(teams.got().len(), 2);
    let card = teams.got()[1].json()["attachments"][0]["content"].clone();
    let title = format!("Correction — {PAUL_NAME} — {day}: revision 2");
    let (ok, log) = render_card(
        &card,
        "teams-correction",
        &[
            &title,
            "Success rate",
            "50.0 % → 83.3 %",
            "Total calls",
            "4 → 6",
        ],
    )
    .await;
    assert!(
        ok,
        "the Teams correction failed Microsoft's renderer: {log}"
    );
    assert!(!card.to_string().contains("Avg minutes per call"), "{card}");

    // Slack: the same, as Block Kit.
    assert_eq!(slack.got().len(), 2, "the disabled channel got nothing");
    let msg = slack.got()[1].json();
    assert_eq!(msg["blocks"][0]["text"]["text"], title);
    let shown = msg["blocks"].to_string();
    assert!(
        shown.contains("*Success rate*: 50.0 % → 83.3 %")
            && shown.contains("*Carrier not qualified*: 50.0 % → 16.7 %")
            && shown.contains(&format!("Report revision 2 · SHA-256: {}…", &sha2[..12])),
        "{shown}"
    );

    // The records: each channel's digest, then its correction.
    let records = api.get(&format!("/api/deliveries?org_id={PAUL_ORG}")).await;
    let list = &records.expect(200)["deliveries"];
    let rows: Vec<String> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            format!(
                "{} {} {} {} rev {}",
                r["date"].as_str().unwrap(),
                r["channel_id"].as_str().unwrap(),
                r["event"].as_str().unwrap(),
                r["state"].as_str().unwrap(),
                r["revision"]
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            format!("{day} erp digest sent rev 1"),
            format!("{day} erp correction sent rev 2"),
            format!("{day} slack-ops digest sent rev 1"),
            format!("{day} slack-ops correction sent rev 2"),
            format!("{day} teams-ops digest sent rev 1"),
            format!("{day} teams-ops correction sent rev 2"),
        ]
    );
    // A page cut at a correction goes on after it.
    let page = api
        .get(&format!("/api/deliveries?org_id={PAUL_ORG}&limit=2"))
        .await;
    let next = page.expect(200)["next_cursor"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(next, format!("{day}/erp.rev-2"));
    let rest = api
        .get(&format!(
            "/api/deliveries?org_id={PAUL_ORG}&cursor={}",
            next.replace('/', "%2F")
        ))
        .await;
    assert_eq!(
        column(&rest.expect(200)["deliveries"], "channel_id"),
        ["slack-ops", "slack-ops", "teams-ops", "teams-ops"]
    );

    // Older days untouched: the day before (same rows) and a settled day (late rows, but
    // older than RESTATE_DAYS) are still revision 1, with no kept revision.
    for d in [before, settled] {
        assert!(revision(&storage, d, 1).await.is_some(), "{d}");
        assert_eq!(revision(&storage, d, 2).await, None, "{d}");
    }
    assert_eq!(revision(&storage, settled, 1).await.unwrap().0, 2);
    assert_eq!(names(&storage, "corrections/").await, Vec::<String>::new());

    // 3. A third firing does nothing: no revision, no correction, nothing sent.
    let third = fire(&api).await;
    assert_eq!(revised(&third), Vec::<String>::new(), "{third}");
    assert!(
        outcomes(&third).iter().all(|o| o.starts_with("digest ")),
        "{third}"
    );
    assert_eq!(revision(&storage, day, 3).await, None);
    assert_eq!(
        (teams.got().len(), slack.got().len(), hook.got().len()),
        (2, 2, 2)
    );
    for log in [api.app.log(), records.text.clone()] {
        assert!(!log.contains(SECRET), "the signing secret leaked");
    }
}

/// Firings at once — two handler processes on one storage, two firings each — make one
/// revision and send one correction per channel.
#[tokio::test]
async fn firings_at_once_make_one_revision_and_one_correction_per_channel() {
    let slack = Receiver::start(vec![Answer::Status(200)]).await;
    let hook = Receiver::start(vec![Answer::Status(200)]).await;
    let db = clickhouse_database().await;
    load_calls(&db, &[(yesterday(), 4), (days_ago(2), 2)]).await;
    let dir = tempfile::tempdir().unwrap();
    let folder = || Some(dir.path().to_path_buf());
    let a = start_in(Ch::Database(db.clone()), None, folder(), ENV).await;
    let b = start_in(Ch::Database(db.clone()), None, folder(), ENV).await;
    set_channels(
        &a,
        json!([
            {"id": "erp", "kind": "webhook", "url": hook.url, "secret": SECRET},
            {"id": "slack-ops", "kind": "slack", "url": slack.url},
        ]),
    )
    .await;
    let day = yesterday();
    fire(&a).await;
    assert_eq!((slack.got().len(), hook.got().len()), (1, 1));

    late_rows(&db, day).await;
    let runs = futures::future::join_all([fire(&a), fire(&b), fire(&a), fire(&b)]).await;
    let revisions: usize = runs.iter().map(|r| revised(r).len()).sum();
    assert_eq!(revisions, 1, "{runs:?}");
    let sent: Vec<String> = runs
        .iter()
        .flat_map(outcomes)
        .filter(|o| o.starts_with("correction ") && o.ends_with(" sent"))
        .collect();
    assert_eq!(sent.len(), 2, "{runs:?}");
    assert_eq!(
        events(&hook),
        ["daily_report.ready", "daily_report.corrected"]
    );
    assert_eq!(slack.got().len(), 2);
    assert_signed(&hook.got()[1]);
    let storage = a.app.storage().await;
    assert_eq!(revision(&storage, day, 2).await.unwrap().0, 6);
    assert_eq!(revision(&storage, day, 3).await, None);
    assert_eq!(
        snapshots::revisions(&storage, &id_of(PAUL_ORG), day)
            .await
            .unwrap()
            .len(),
        2
    );
    // Nothing more on either.
    fire(&b).await;
    fire(&a).await;
    assert_eq!((slack.got().len(), hook.got().len()), (2, 2));
}

/// A revision of a day whose digest was not sent — refused by its endpoint, or a channel
/// added after the digest went out — sends no correction; the digest a channel is sent in
/// the revising firing already shows the revision (and names its document).
#[tokio::test]
async fn a_revision_of_a_day_whose_digest_was_not_sent_sends_nothing() {
    let refusing = Receiver::start(vec![Answer::Status(400)]).await;
    let later = Receiver::start(vec![Answer::Status(200)]).await;
    let (api, db) = handler().await;
    let storage = api.app.storage().await;
    let day = yesterday();
    set_channels(
        &api,
        json!([{"id": "refusing", "kind": "webhook", "url": refusing.url, "secret": SECRET}]),
    )
    .await;
    let first = fire(&api).await;
    assert_eq!(outcomes(&first), ["digest refusing failed"], "{first}");
    set_channels(
        &api,
        json!([
            {"id": "refusing", "kind": "webhook", "url": refusing.url, "secret": SECRET},
            {"id": "later", "kind": "webhook", "url": later.url, "secret": SECRET},
        ]),
    )
    .await;

    late_rows(&db, day).await;
    let second = fire(&api).await;
    assert_eq!(revised(&second), [day.to_string()], "{second}");
    assert_eq!(
        outcomes(&second),
        ["digest refusing already_claimed", "digest later sent"],
        "no correction: {second}"
    );
    assert_eq!(events(&refusing), ["daily_report.ready"]);
    assert_eq!(events(&later), ["daily_report.ready"]);
    let digest = later.got()[0].json();
    let (calls, sha2) = revision(&storage, day, 2).await.unwrap();
    assert_eq!(
        (digest["kpis"]["total_calls"].clone(), calls),
        (json!(6.0), 6)
    );
    assert_eq!(
        (digest["revision"].clone(), digest["report_sha256"].clone()),
        (json!(2), json!(sha2))
    );
    assert_eq!(names(&storage, "corrections/").await, Vec::<String>::new());
}

/// A revision that changes only a breakdown (a newer output with other pricing notes) sends
/// nothing; a later one that changes a headline KPI sends one correction per channel, from
/// the numbers of the revision before it.
#[tokio::test]
async fn a_revision_of_a_breakdown_only_sends_nothing() {
    let hook = Receiver::start(vec![Answer::Status(200)]).await;
    let (api, db) = handler().await;
    let storage = api.app.storage().await;
    let day = yesterday();
    set_channels(
        &api,
        json!([{"id": "erp", "kind": "webhook", "url": hook.url, "secret": SECRET}]),
    )
    .await;
    fire(&api).await;
    assert_eq!(events(&hook), ["daily_report.ready"]);

    late_pricing_note(&db, day).await;
    let second = fire(&api).await;
    assert_eq!(
        revised(&second),
        [day.to_string()],
        "a revision was made: {second}"
    );
    assert_eq!(
        outcomes(&second),
        ["digest erp already_claimed"],
        "{second}"
    );
    assert_eq!(events(&hook), ["daily_report.ready"], "nothing sent");
    let r2 = snapshots::read_revision(&storage, &id_of(PAUL_ORG), day, 2)
        .await
        .unwrap()
        .unwrap();
    let notes: Vec<&str> = r2
        .report
        .breakdowns
        .pricing_notes
        .iter()
        .map(|r| r.value.as_str())
        .collect();
    assert!(
        notes.contains(&"AGREEMENT_REACHED_BROKER_CONFIRMED"),
        "{notes:?}"
    );

    // Then a headline KPI moves: revision 3, corrected from revision 2's numbers.
    let mut f = Fixture::default();
    f.paul_call("late-x", &local(day, 16, 0), "+13125550179", 120.0)
        .paul_output(
            "late-x",
            &local(day, 16, 0),
            outcome(
                Some("other"),
                "GREETING",
                None,
                None,
                None,
                None,
                None,
                None,
            ),
        );
    f.load(&client(&db)).await;
    let third = fire(&api).await;
    assert_eq!(
        outcomes(&third),
        ["correction erp sent", "digest erp already_claimed"],
        "{third}"
    );
    assert_eq!(
        events(&hook),
        ["daily_report.ready", "daily_report.corrected"]
    );
    let c = hook.got()[1].json();
    assert_eq!(c["revision"], 3);
    assert_eq!(
        (&c["previous"]["total_calls"], &c["current"]["total_calls"]),
        (&json!(4.0), &json!(5.0))
    );
}

/// The handler's `App` in this process, on `api`'s storage and ClickHouse database `db`.
async fn in_process(api: &Api, db: &str) -> call_analytics::app::App {
    use call_analytics::configuration::{Settings, StorageSettings};
    let StorageSettings::ConnectionString {
        connection_string,
        container,
    } = &api.app.storage_settings
    else {
        unreachable!()
    };
    let env = [
        (
            "AZURE_STORAGE_CONNECTION_STRING",
            connection_string.expose(),
        ),
        ("AZURE_STORAGE_CONTAINER", container.as_str()),
        ("ALLOW_INSECURE_WEBHOOKS", "true"),
        ("CLICKHOUSE_URL", &clickhouse_url()),
        ("CLICKHOUSE_DATABASE", db),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    call_analytics::app::App::build(Settings::from_map(&env).unwrap())
        .await
        .unwrap()
}

/// A correction not begun by the run's deadline is `deferred`: not claimed, nothing sent, but
/// owed — the next firing, which revises nothing, sends it; the one after sends nothing.
#[tokio::test]
async fn a_deferred_correction_is_sent_by_the_next_firing() {
    use call_analytics::daily_report::restate;
    use call_analytics::daily_report::schedule::OrgRun;
    let hook = Receiver::start(vec![Answer::Status(200)]).await;
    let (api, db) = handler().await;
    let storage = api.app.storage().await;
    let day = yesterday();
    set_channels(
        &api,
        json!([{"id": "erp", "kind": "webhook", "url": hook.url, "secret": SECRET}]),
    )
    .await;
    fire(&api).await;
    late_rows(&db, day).await;

    // The revision made in this process, its corrections past their deadline.
    let lib = in_process(&api, &db).await;
    let (org, _) = call_analytics::orgs::get(&lib.storage, &id_of(PAUL_ORG))
        .await
        .unwrap()
        .unwrap();
    let far = Instant::now() + std::time::Duration::from_secs(120);
    let mut runs: Vec<OrgRun> = Vec::new();
    let made = restate::recheck(&lib, &[org], 3, Utc::now(), far, &mut runs).await;
    assert_eq!(made.len(), 1);
    let outcomes_now = call_analytics::delivery::corrections(&lib, &made, Instant::now()).await;
    let shown = serde_json::to_value(&outcomes_now).unwrap();
    assert_eq!(column(&shown, "status"), ["deferred"], "{shown}");
    assert_eq!(shown[0]["event"], "correction");
    assert_eq!(events(&hook), ["daily_report.ready"], "nothing sent");
    let records = api.get(&format!("/api/deliveries?org_id={PAUL_ORG}")).await;
    assert_eq!(
        column(&records.expect(200)["deliveries"], "event"),
        ["digest"],
        "not claimed"
    );
    assert_eq!(
        names(&storage, "corrections/").await,
        [format!("corrections/{PAUL_ORG}/{day}/rev-2.json")],
        "owed"
    );

    // The next firing revises nothing and sends the correction owed.
    let next = fire(&api).await;
    assert_eq!(revised(&next), Vec::<String>::new(), "{next}");
    assert_eq!(
        outcomes(&next),
        ["correction erp sent", "digest erp already_claimed"],
        "{next}"
    );
    assert_eq!(
        events(&hook),
        ["daily_report.ready", "daily_report.corrected"]
    );
    assert_eq!(hook.got()[1].json()["revision"], 2);
    assert_eq!(names(&storage, "corrections/").await, Vec::<String>::new());
    let last = fire(&api).await;
    assert_eq!(outcomes(&last), ["digest erp already_claimed"], "{last}");
    assert_eq!(hook.got().len(), 2);
}
