//! The morning digest (`docs/delivery-and-access.md`, "The morning digest"): after the timer
//! stores an org's newest due report, each enabled channel of its `notifications` gets one
//! digest — exactly once per (org, date, channel) through a create-only claim ([`claims`]),
//! sent with bounded retries ([`send`]) as a Teams card ([`teams`]), a Slack message
//! ([`slack`]), signed JSON ([`webhook`]) or an email ([`email`]). A failed delivery never
//! fails the report or the other channels; it is recorded, and shows in the scheduler status.
//!
//! Flagged changes come in as [`ChangeLine`]s, taken from `daily_report::changes` (the same
//! weekday of the previous 4 weeks) by [`after_timer`]; every channel words them, and the
//! KPIs' numbers, alike ([`wording`]: `Success rate 40.0 % — down 15.0 pp from the usual
//! 55.0 % (median of the 4 previous Wednesdays)`). Every digest carries `report_sha256`,
//! the SHA-256 of the stored report document it was made from (`docs/revisions.md`,
//! "Provenance").
//!
//! When a revision of a date changes a headline KPI, each channel that was sent the date's
//! digest gets one correction ([`mod@corrections`], `docs/revisions.md`, "Corrections reach the
//! people who were told"), claimed, retried and recorded like a digest.

pub mod claims;
pub mod corrections;
pub mod email;
pub mod send;
pub mod slack;
pub mod teams;
pub mod webhook;
pub mod wording;

pub use corrections::corrections;

use std::time::Instant;

use chrono::{NaiveDate, Utc};
use futures::StreamExt;
use serde::{Deserialize, Serialize};

use crate::app::App;
use crate::daily_report::changes::{Changes, Flag};
use crate::daily_report::kpi::Kpi;
use crate::daily_report::report::DailyReport;
use crate::daily_report::snapshots::{self, SnapshotError, StoredReport};
use crate::orgs::{ChannelKind, Notification, OrgId, Organization};

/// One flagged change of a KPI against its baseline, as a digest lists it
/// ([`ChangeLine::flagged`] takes them from `daily_report::changes`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChangeLine {
    /// The KPI; in JSON its report field, e.g. `success_rate_percent`.
    pub kpi: Kpi,
    pub value: Option<f64>,
    pub baseline: Option<f64>,
    /// `value - baseline`.
    pub delta: Option<f64>,
    /// `up` or `down`.
    pub flag: Flag,
    /// Whether the change is good news (`None`: neutral).
    pub good: Option<bool>,
    /// The baseline dates whose numbers made `baseline`, nearest first: the report's stored
    /// baseline dates (`Changes::baseline_dates`), less, for a percentage, those without
    /// classified calls (which have no rate). The sentence names them ([`wording::change`]).
    #[serde(skip)]
    pub baseline_dates: Vec<NaiveDate>,
}

impl ChangeLine {
    /// The flagged KPIs of `changes`, in the order of the report's headline KPIs;
    /// `baseline`: the reports of `changes.baseline_dates`, as `changes::compare` was given
    /// them.
    pub fn flagged(changes: &Changes, baseline: &[(NaiveDate, DailyReport)]) -> Vec<ChangeLine> {
        changes
            .kpis
            .iter()
            .filter(|(_, c)| c.flag != Flag::None)
            .map(|(kpi, c)| ChangeLine {
                kpi: *kpi,
                value: Some(c.value),
                baseline: c.baseline,
                delta: c.delta,
                flag: c.flag,
                good: c.good,
                // As `changes::change_of` takes them: a rate only from dates that have one.
                baseline_dates: baseline
                    .iter()
                    .filter(|(_, r)| kpi.read(r).counts().is_none_or(|(_, of)| of > 0))
                    .map(|(d, _)| *d)
                    .collect(),
            })
            .collect()
    }
}

/// Everything a digest says, whatever the channel.
#[derive(Debug, Clone, Serialize)]
pub struct Digest {
    pub org_id: OrgId,
    pub org_name: String,
    /// The report's local date.
    pub date: NaiveDate,
    pub timezone: String,
    /// The headline KPIs of the digests (`Definition::in_digest`): (label, metadata key, shown
    /// value, [`wording::value`]), e.g. `("Success rate", "success_rate_percent", "62.5 %")`.
    #[serde(skip)]
    pub kpis: Vec<(&'static str, &'static str, String)>,
    /// The same KPIs as JSON numbers.
    pub kpi_values: serde_json::Map<String, serde_json::Value>,
    pub changes: Vec<ChangeLine>,
    /// Link to the stored report (`/api/artifacts/reports/...`).
    pub report_url: String,
    /// The dashboard, when `PUBLIC_BASE_URL` is set.
    pub dashboard_url: Option<String>,
    /// A test send (`POST .../notifications/{id}/test`).
    pub test: bool,
    /// The stored report's revision (`metadata.revision`; 1 for a date's first report).
    pub revision: u32,
    /// SHA-256 (64 lower-case hex digits) of the stored report document's bytes
    /// ([`StoredReport::sha256`]; `docs/revisions.md`, "Provenance"): what a reader compares
    /// with the document behind `report_url`.
    pub report_sha256: String,
}

impl Digest {
    /// The digest of the stored report `stored` (of `date`) for `org`.
    pub fn new(
        app: &App,
        org: &Organization,
        date: NaiveDate,
        stored: &StoredReport,
        changes: Vec<ChangeLine>,
    ) -> Self {
        let report = &stored.report;
        // (KPI, metadata key, number): the digest's lines, for the text and as numbers.
        let headline: Vec<(Kpi, &str, f64)> = Kpi::kept()
            .filter(|(k, _)| k.def().in_digest)
            .map(|(k, key)| (k, key, k.read(report).stored()))
            .collect();
        let kpi_values = headline
            .iter()
            .map(|&(_, key, v)| (key.to_string(), serde_json::Value::from(v)))
            .collect();
        let kpis = headline
            .into_iter()
            .map(|(k, key, v)| (k.label(), key, wording::value(k, v)))
            .collect();
        let settings = &app.settings;
        Digest {
            org_id: org.org_id.clone(),
            org_name: org.name.clone(),
            date,
            timezone: org.timezone.name().to_string(),
            kpis,
            kpi_values,
            changes,
            report_url: crate::links::artifact(settings, &snapshots::name(&org.org_id, date)),
            dashboard_url: settings
                .public_base_url
                .as_ref()
                .map(|b| format!("{b}/api/dashboard?org_id={}", org.org_id)),
            test: false,
            revision: report.metadata.revision,
            report_sha256: stored.sha256(),
        }
    }

    /// The report line of the chat messages ([`report_line`]).
    pub fn report_line(&self) -> String {
        report_line(self.revision, &self.report_sha256)
    }
}

/// The line of a Teams or Slack message that names the stored report it was made from:
/// `Report SHA-256: 3f2a9c01b7de…` (the first 12 of the 64 hex digits; the webhook payload has
/// them all), `Report revision 2 · SHA-256: 3f2a9c01b7de…` after a revision.
pub fn report_line(revision: u32, sha256: &str) -> String {
    let short: String = sha256.chars().take(12).collect();
    let ellipsis = if sha256.chars().count() > 12 {
        "…"
    } else {
        ""
    };
    if revision > 1 {
        format!("Report revision {revision} · SHA-256: {short}{ellipsis}")
    } else {
        format!("Report SHA-256: {short}{ellipsis}")
    }
}

/// What happened to one channel's digest or correction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DeliveryOutcome {
    pub org_id: OrgId,
    pub date: NaiveDate,
    pub channel_id: String,
    pub kind: ChannelKind,
    pub status: DeliveryStatus,
    pub attempts: u32,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub error: Option<String>,
    /// `digest` or `correction` (outcomes recorded before corrections: `digest`).
    #[serde(default)]
    #[schema(required)]
    pub event: claims::Event,
    /// The report revision delivered, when known: a correction's, or the revision a digest
    /// showed.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    #[schema(nullable = false, minimum = 1)]
    pub revision: Option<u32>,
}

/// What happened to one channel's digest in one run; serialized `sent`, `failed`,
/// `already_claimed` or `deferred` (as `LAST_RUN` documents stored earlier hold them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// The endpoint answered 2xx.
    Sent,
    /// The claim could not be written, or the send failed (recorded in the claim).
    Failed,
    /// Another run has it, or had it.
    AlreadyClaimed,
    /// The run's time ran out before it; not claimed, so a later run sends it.
    Deferred,
}

impl DeliveryOutcome {
    /// The outcome of a digest to `channel` not begun because the run's deadline passed.
    fn deferred(org_id: &OrgId, date: NaiveDate, channel: &Notification) -> Self {
        tracing::warn!(%org_id, %date, channel = %channel.id, "digest deferred: the run's time ran out");
        DeliveryOutcome {
            org_id: org_id.clone(),
            date,
            channel_id: channel.id.clone(),
            kind: channel.kind,
            status: DeliveryStatus::Deferred,
            attempts: 0,
            error: Some("not sent: the run's time ran out before it; a later run sends it".into()),
            event: claims::Event::Digest,
            revision: None,
        }
    }
}

/// Orgs whose digests are read and sent at once by [`after_run`]: 1,000 digests one after
/// another took 118 s against an endpoint answering in 100 ms (`scripts/bench/timer-1000
/// --digests`), past the timer's budget with a slower one.
pub const CONCURRENCY: usize = 16;

/// After a run's reports (the timer's firing, or `generate`/`backfill` with `notify: true`):
/// for every org of `orgs` with an enabled channel, [`after_timer`] on its `newest` date,
/// [`CONCURRENCY`] orgs at a time; the outcomes in the order of `orgs`. A failed delivery
/// fails neither the report nor the run. Returns by `deadline` (plus the records' writes): a
/// digest not begun by then is `deferred`, unclaimed, for a later run.
pub async fn after_run(
    app: &App,
    orgs: &[Organization],
    runs: &[crate::daily_report::schedule::OrgRun],
    newest: impl Fn(&Organization) -> NaiveDate,
    deadline: Instant,
) -> Vec<DeliveryOutcome> {
    // The futures are made first (an async fn does nothing until polled), so that the stream
    // holds no closure over borrowed orgs (which would not be `Send` for every lifetime).
    let digests: Vec<_> = orgs
        .iter()
        .filter(|o| o.notifications.iter().any(|n| n.enabled))
        .map(|org| after_timer(app, org, newest(org), runs, deadline))
        .collect();
    let per_org: Vec<Vec<DeliveryOutcome>> = futures::stream::iter(digests)
        .buffered(CONCURRENCY)
        .collect()
        .await;
    per_org.into_iter().flatten().collect()
}

/// The timer's call after a firing's reports: when `org`'s report for `date` (its newest due
/// date) was stored by this run or already existed, reads it with its baseline reports
/// (`daily_report::changes`, the same weekday of the previous 4 weeks) and delivers its
/// digests with the flagged changes, by `deadline` ([`deliver_digests`]). Claims keep a
/// report already delivered from being sent again.
pub async fn after_timer(
    app: &App,
    org: &Organization,
    date: NaiveDate,
    runs: &[crate::daily_report::schedule::OrgRun],
    deadline: Instant,
) -> Vec<DeliveryOutcome> {
    use crate::daily_report::changes;
    let stored = runs
        .iter()
        .find(|r| r.org_id == org.org_id)
        .is_some_and(|r| r.generated.contains(&date) || r.skipped.contains(&date));
    if !stored {
        return Vec::new();
    }
    if Instant::now() >= deadline {
        // Not even the report is read: past the deadline nothing more is asked of storage.
        return org
            .notifications
            .iter()
            .filter(|n| n.enabled)
            .map(|channel| DeliveryOutcome::deferred(&org.org_id, date, channel))
            .collect();
    }
    match load(&app.storage, &org.org_id, date).await {
        Ok(Some((stored, baseline))) => {
            let found = changes::compare(
                date,
                &org.org_id,
                &stored.report,
                &baseline,
                changes::DEFAULT_MIN_CALLS,
            );
            let lines = ChangeLine::flagged(&found, &baseline);
            eprintln!("{found:#?}");
            deliver_digests(app, org, date, &stored, lines, deadline).await
        }
        Ok(None) => {
            tracing::error!(org_id = %org.org_id, %date, "report for the digest is missing");
            Vec::new()
        }
        Err(e) => {
            tracing::error!(org_id = %org.org_id, %date, error = %e, "report for the digest unreadable");
            Vec::new()
        }
    }
}

/// The stored report of `(org_id, date)` as stored (its bytes make the digest's
/// `report_sha256`), with the reports of its baseline dates that exist, as
/// `daily_report::changes::load` reads them: one blob read each, concurrently, no listing;
/// `Ok(None)` when the day has no report; a baseline report that does not parse is left out,
/// the day's is an error ([`SnapshotError::Unreadable`]).
async fn load(
    storage: &crate::storage::Storage,
    org_id: &OrgId,
    date: NaiveDate,
) -> Result<Option<(StoredReport, Vec<(NaiveDate, DailyReport)>)>, SnapshotError> {
    use crate::daily_report::changes::baseline_candidates;
    let baseline = baseline_candidates(date)
        .into_iter()
        .map(|d| async move { (d, snapshots::read(storage, org_id, d).await) });
    let (day, baseline) = futures::join!(
        snapshots::read(storage, org_id, date),
        futures::future::join_all(baseline)
    );
    let Some(day) = day? else {
        return Ok(None);
    };
    let mut reports = Vec::new();
    for (d, read) in baseline {
        if let Some(stored) = read.or_else(SnapshotError::as_absent)? {
            reports.push((d, stored.report));
        }
    }
    Ok(Some((day, reports)))
}

/// Sends `org`'s digest of the stored report `stored`, with its flagged `changes`, to every
/// enabled channel, once per (org, date, channel), by `deadline`: a channel reached after it
/// is `deferred` and left unclaimed, and a send is cut at it (`send::post`; `failed`, tried
/// again by a later firing).
pub async fn deliver_digests(
    app: &App,
    org: &Organization,
    date: NaiveDate,
    stored: &StoredReport,
    changes: Vec<ChangeLine>,
    deadline: Instant,
) -> Vec<DeliveryOutcome> {
    let digest = Digest::new(app, org, date, stored, changes);
    let sends = org
        .notifications
        .iter()
        .filter(|n| n.enabled)
        .map(|channel| {
            let digest = &digest;
            async move { deliver_one(app, digest, channel, deadline).await }
        });
    futures::future::join_all(sends).await
}

async fn deliver_one(
    app: &App,
    digest: &Digest,
    channel: &Notification,
    deadline: Instant,
) -> DeliveryOutcome {
    if Instant::now() >= deadline {
        return DeliveryOutcome::deferred(&digest.org_id, digest.date, channel);
    }
    let mut outcome = DeliveryOutcome {
        org_id: digest.org_id.clone(),
        date: digest.date,
        channel_id: channel.id.clone(),
        kind: channel.kind,
        status: DeliveryStatus::AlreadyClaimed,
        attempts: 0,
        error: None,
        event: claims::Event::Digest,
        revision: Some(digest.revision),
    };
    let claim = match claims::claim(&app.storage, digest, channel, app.clock.now()).await {
        Ok(Some(c)) => c,
        Ok(None) => return outcome,
        Err(e) => {
            tracing::error!(org_id = %digest.org_id, channel = %channel.id, error = %e, "delivery claim failed");
            outcome.status = DeliveryStatus::Failed;
            outcome.error = Some("could not claim the delivery (storage)".into());
            return outcome;
        }
    };
    let result = send_digest(digest, channel, app.clock.now(), deadline, &app.settings).await;
    outcome.attempts = result.attempts;
    match &result.outcome {
        Ok(status) => {
            outcome.status = DeliveryStatus::Sent;
            tracing::info!(org_id = %digest.org_id, date = %digest.date, channel = %channel.id, status, attempts = result.attempts, "digest sent");
        }
        Err(e) => {
            outcome.status = DeliveryStatus::Failed;
            outcome.error = Some(e.clone());
            tracing::warn!(org_id = %digest.org_id, date = %digest.date, channel = %channel.id, error = %e, attempts = result.attempts, "digest failed");
        }
    }
    if let Err(e) = claims::finish(&app.storage, claim, &result, app.clock.now()).await {
        tracing::error!(org_id = %digest.org_id, channel = %channel.id, error = %e, "delivery record not written");
    }
    outcome
}

/// Builds the channel's message and sends it by `deadline` (no claim: test sends use this
/// directly): an email through the SMTP relay of `settings` ([`email::send_digest`]), any
/// other as JSON ([`send_payload`]). `now` is the webhook signature's timestamp (the
/// receiver's replay check compares it with its clock) and a test email's Message-ID.
/// `settings.allow_insecure_webhooks` lets it go to a loopback address (and a loopback SMTP
/// relay without TLS); any other internal one is refused (`send::post`).
pub async fn send_digest(
    digest: &Digest,
    channel: &Notification,
    now: chrono::DateTime<Utc>,
    deadline: Instant,
    settings: &crate::configuration::Settings,
) -> send::SendResult {
    let body = match channel.kind {
        ChannelKind::Teams => teams::payload(digest),
        ChannelKind::Slack => slack::payload(digest),
        ChannelKind::Webhook => webhook::payload(digest),
        ChannelKind::Email => {
            return email::send_digest(digest, channel, now, deadline, settings).await;
        }
    };
    let insecure = settings.allow_insecure_webhooks;
    send_payload(&body, channel, now, deadline, insecure).await
}

/// Sends the message `body` (a digest's or a correction's, made for `channel.kind`) to
/// `channel` by `deadline`: signed for a `webhook` channel with a secret
/// ([`webhook::signature_headers`] at `now`), with `send::post`'s attempts and address checks.
pub async fn send_payload(
    body: &serde_json::Value,
    channel: &Notification,
    now: chrono::DateTime<Utc>,
    deadline: Instant,
    allow_insecure_webhooks: bool,
) -> send::SendResult {
    let body = serde_json::to_vec(body).expect("payload serializes");
    let headers = match (&channel.kind, &channel.secret) {
        (ChannelKind::Webhook, Some(secret)) => {
            webhook::signature_headers(secret.expose(), now.timestamp(), &body)
        }
        _ => Vec::new(),
    };
    send::post(
        channel
            .url
            .as_ref()
            .map_or("", crate::configuration::Secret::expose),
        headers,
        body,
        deadline,
        allow_insecure_webhooks,
    )
    .await
}

/// A digest for the channel tests: `org_name`, one flagged change, both links.
#[cfg(test)]
pub(crate) fn test_digest(org_name: &str) -> Digest {
    Digest {
        org_id: OrgId::parse("00000000-0000-0000-0000-000000000001", "org_id").unwrap(),
        org_name: org_name.into(),
        date: NaiveDate::from_ymd_opt(2025, 5, 21).unwrap(),
        timezone: "America/Port_of_Spain".into(),
        kpis: vec![
            ("Total calls", "total_calls", "42".into()),
            ("Success rate", "success_rate_percent", "62.5 %".into()),
        ],
        kpi_values: Default::default(),
        changes: vec![ChangeLine {
            kpi: Kpi::SuccessRate,
            value: Some(40.0),
            baseline: Some(55.0),
            delta: Some(-15.0),
            flag: Flag::Down,
            good: Some(false),
            baseline_dates: crate::daily_report::changes::baseline_candidates(
                NaiveDate::from_ymd_opt(2025, 5, 21).unwrap(),
            ),
        }],
        report_url: "https://func-x.example/api/artifacts/reports/org-1/2025-05-21.json".into(),
        dashboard_url: Some("https://func-x.example/api/dashboard?org_id=org-1".into()),
        test: false,
        revision: 1,
        report_sha256: "3f2a9c01b7de".repeat(5) + "0123",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A change names the baseline dates its baseline was made of: every stored one for a
    /// count, only those with classified calls for a rate (`daily_report::changes`).
    #[test]
    fn a_rates_baseline_leaves_out_the_dates_without_classified_calls() {
        use crate::daily_report::changes::{self, baseline_candidates};
        use crate::daily_report::query::DayCounts;
        use crate::daily_report::report;
        let org: Organization = serde_json::from_value(serde_json::json!({
            "org_id": "00000000-0000-0000-0000-000000000001", "name": "Paul Logistics",
            "node_persistent_id": "019b099d-77fd-7e09-9d2b-cd4c476a0a19", "timezone": "UTC",
            "created_at": "2025-12-01T00:00:00Z", "updated_at": "2025-12-01T00:00:00Z",
        }))
        .unwrap();
        let date: NaiveDate = "2025-12-15".parse().unwrap();
        let build = |d, calls, classified, successes| {
            let counts = DayCounts {
                total_calls: calls,
                classified_calls: classified,
                success_count: successes,
                by_call_classification: (
                    vec!["success".into(), "other".into()],
                    vec![successes, classified - successes],
                ),
                ..DayCounts::default()
            };
            let now = "2025-12-16T12:00:00Z".parse().unwrap();
            report::build(&org, d, &counts, Default::default(), 5, now)
        };
        let [w1, w2, w3, w4] = baseline_candidates(date).try_into().unwrap();
        // The second Monday had calls but none classified: no success rate.
        let baseline: Vec<(NaiveDate, DailyReport)> = [(w1, 100), (w2, 0), (w3, 100), (w4, 100)]
            .into_iter()
            .map(|(d, classified)| (d, build(d, 100, classified, classified / 2)))
            .collect();
        let day = build(date, 300, 300, 60);
        let found = changes::compare(date, &org.org_id, &day, &baseline, 30);
        let lines = ChangeLine::flagged(&found, &baseline);
        let of = |kpi| lines.iter().find(|l| l.kpi == kpi).unwrap();
        assert_eq!(of(Kpi::TotalCalls).baseline_dates, [w1, w2, w3, w4]);
        assert_eq!(of(Kpi::SuccessRate).baseline_dates, [w1, w3, w4]);
        assert_eq!(
            wording::change(of(Kpi::SuccessRate), date).text,
            "Success rate 20.0 % — down 30.0 pp from the usual 50.0 % (median of 3 of the 4 previous Mondays)"
        );
    }

    /// The report line shows the first 12 hex digits, and the revision after the first.
    #[test]
    fn the_report_line_names_the_stored_document() {
        let sha = "3f2a9c01b7de".repeat(5) + "0123";
        assert_eq!(report_line(1, &sha), "Report SHA-256: 3f2a9c01b7de…");
        assert_eq!(
            report_line(2, &sha),
            "Report revision 2 · SHA-256: 3f2a9c01b7de…"
        );
    }
}
