//! Corrections (`docs/revisions.md`, "Corrections reach the people who were told";
//! `docs/delivery-and-access.md`, "Corrections"): when a revision of a date changes a headline
//! KPI of the digest, each enabled channel that was **sent** the date's digest gets one
//! correction — exactly once per (org, date, revision, channel).
//!
//! * **What changed**: the digest's KPIs ([`headline`]: kept in metadata and `in_digest`, as
//!   `Digest::new` takes them), the previous revision's stored number against the new one's.
//!   A revision that changes none of them (only a breakdown, say) sends nothing.
//! * **Who was told**: a channel whose digest record for the date (`claims::name`) is `sent`,
//!   showing an older revision than the correction's (a digest sent after the revision already
//!   showed it). A date whose digest was never sent gets nothing.
//! * **Once**: claimed like a digest (`claims::claim_as`, create-only) at
//!   `deliveries/<org_id>/<date>/<channel_id>.rev-<revision>.json`, sent with the digest's
//!   attempts (`send::with_attempts`; an email by `super::email`) and recorded (`sent`/`failed`, `"event": "correction"`,
//!   `revision`), so it is listed by `GET /api/deliveries`.
//! * **Owed until settled**: before sending, the correction is noted as owed at
//!   `corrections/<org_id>/<date>/rev-<revision>.json` (create-only); the note is deleted once
//!   every channel is settled (sent, given up, or nothing to send). A later firing — which may
//!   revise nothing — lists the notes (one listing) and tries the rest: a correction deferred at
//!   the deadline (`until`: not begun by then, so not claimed), one `failed` with
//!   `retry_later` (the claim's own rules: at most `claims::MAX_FIRINGS` firings), a claim
//!   left `pending` by a crash (taken over after `claims::STALE_AFTER`). A note older than
//!   [`OWED_FOR`] is dropped (logged).
//!
//! Corrections of several orgs and dates go [`super::CONCURRENCY`] at a time, the channels of
//! one at once; the revisions of one date in order. A failed correction never fails the run:
//! it is an outcome, a record and a log line.

use std::time::Instant;

use bytes::Bytes;
use chrono::{DateTime, NaiveDate, Utc};
use futures::StreamExt;
use serde_json::Value;

use super::claims::{self, Claimed, Event, State};
use super::send::SendResult;
use super::{DeliveryOutcome, DeliveryStatus, slack, teams, webhook};
use crate::app::App;
use crate::configuration::Settings;
use crate::daily_report::kpi::Kpi;
use crate::daily_report::report::DailyReport;
use crate::daily_report::restate::Revised;
use crate::daily_report::snapshots::{self, StoredReport};
use crate::orgs::{self, ChannelKind, Notification, OrgId, Organization};
use crate::storage::{Condition, Put, StorageError};

/// Storage prefix of the notes of corrections still owed.
pub const OWED_PREFIX: &str = "corrections/";

/// How long a correction is owed: a note older than this is dropped.
pub const OWED_FOR: chrono::Duration = chrono::Duration::hours(24);

/// The blob metadata key of a note's time (RFC 3339, UTC).
const OWED_SINCE: &str = "owed_since";

/// One headline KPI of a correction: its number in the previous revision and in the new one,
/// as the reports store them (rates in percent, durations in hours or minutes, counts).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KpiRevision {
    pub kpi: Kpi,
    /// Its key in the digest's `kpis` (`Definition::metadata_key`), e.g.
    /// `success_rate_percent`.
    pub key: &'static str,
    pub previous: f64,
    pub current: f64,
}

impl KpiRevision {
    /// Whether the revision changed it.
    pub fn changed(&self) -> bool {
        self.previous != self.current
    }

    /// `before → after` in the digest's number formats (`super::wording::before_after`):
    /// `50.0 % → 62.5 %`, `4 → 6`.
    pub fn change(&self) -> String {
        super::wording::before_after(self.kpi, self.previous, self.current)
    }

    /// `Label: before → after`: `Success rate: 50.0 % → 62.5 %`.
    pub fn line(&self) -> String {
        format!("{}: {}", self.kpi.label(), self.change())
    }
}

/// The digest's headline KPIs (kept in metadata and `in_digest`, in `Kpi::ALL` order) of
/// `previous` against `current`.
pub fn headline(previous: &DailyReport, current: &DailyReport) -> Vec<KpiRevision> {
    Kpi::kept()
        .filter(|(k, _)| k.def().in_digest)
        .map(|(kpi, key)| KpiRevision {
            kpi,
            key,
            previous: kpi.read(previous).stored(),
            current: kpi.read(current).stored(),
        })
        .collect()
}

/// Everything a correction says, whatever the channel.
#[derive(Debug, Clone)]
pub struct Correction {
    pub org_id: OrgId,
    pub org_name: String,
    /// The revised report's local date.
    pub date: NaiveDate,
    pub timezone: String,
    /// The revision it announces (2 for a date's first revision).
    pub revision: u32,
    /// Every headline KPI of the digest, before and after ([`headline`]); at least one changed.
    pub kpis: Vec<KpiRevision>,
    /// Link to the stored report (`/api/artifacts/reports/...`), as a digest's.
    pub report_url: String,
    /// SHA-256 (hex) of the new revision's document as stored ([`StoredReport::sha256`]).
    pub report_sha256: String,
}

impl Correction {
    /// The sentence before the changed KPIs.
    pub const INTRO: &'static str =
        "This day's report was revised after its digest was sent: late data changed these numbers.";

    /// The correction of `org`'s report of `date` from `previous` to `current` (the new
    /// revision as stored); `None` when no headline KPI changed.
    pub fn new(
        settings: &Settings,
        org: &Organization,
        date: NaiveDate,
        previous: &DailyReport,
        current: &StoredReport,
    ) -> Option<Self> {
        let kpis = headline(previous, &current.report);
        kpis.iter().any(KpiRevision::changed).then(|| Correction {
            org_id: org.org_id.clone(),
            org_name: org.name.clone(),
            date,
            timezone: org.timezone.name().to_string(),
            revision: current.report.metadata.revision,
            kpis,
            report_url: crate::links::artifact(settings, &snapshots::name(&org.org_id, date)),
            report_sha256: current.sha256(),
        })
    }

    /// The headline KPIs the revision changed.
    pub fn changed(&self) -> impl Iterator<Item = &KpiRevision> {
        self.kpis.iter().filter(|k| k.changed())
    }

    /// `Correction — <org> — <date>: revision N`.
    pub fn title(&self) -> String {
        format!(
            "Correction — {} — {}: revision {}",
            self.org_name, self.date, self.revision
        )
    }

    /// The report line of the chat messages (`super::report_line`).
    pub fn report_line(&self) -> String {
        super::report_line(self.revision, &self.report_sha256)
    }

    /// `{<kpi key>: number}` of every headline KPI, the number `pick`ed (previous or current).
    pub fn values(&self, pick: fn(&KpiRevision) -> f64) -> serde_json::Map<String, Value> {
        self.kpis
            .iter()
            .map(|k| (k.key.to_string(), Value::from(pick(k))))
            .collect()
    }

    /// Sends the correction to `channel` by `deadline`: an email through the SMTP relay of
    /// `settings` ([`super::email::send_correction`]), any other as its JSON message
    /// (`super::send_payload`; `now` is a webhook signature's timestamp).
    pub async fn send(
        &self,
        channel: &Notification,
        now: DateTime<Utc>,
        deadline: Instant,
        settings: &Settings,
    ) -> SendResult {
        let body = match channel.kind {
            ChannelKind::Teams => teams::correction_payload(self),
            ChannelKind::Slack => slack::correction_payload(self),
            ChannelKind::Webhook => webhook::correction_payload(self),
            ChannelKind::Email => {
                return super::email::send_correction(self, channel, deadline, settings).await;
            }
        };
        let insecure = settings.allow_insecure_webhooks;
        super::send_payload(&body, channel, now, deadline, insecure).await
    }
}

/// A revision to correct: the org, the date, the revision replaced and the new one.
struct Job {
    org: Organization,
    date: NaiveDate,
    revision: u32,
    previous: DailyReport,
    current: DailyReport,
    /// The new revision as stored, when already read.
    stored: Option<StoredReport>,
    /// Read from a note of an earlier firing (so the note exists).
    noted: bool,
}

/// Sends the corrections of `revised` (this firing's revisions) and those still owed by
/// earlier firings, by `until` (`docs/revisions.md`, "Corrections reach the people who were
/// told"): for each revision that changed a headline KPI, one correction to each enabled
/// channel of its org that was sent the date's digest, once per (org, date, revision,
/// channel). Returns the outcomes — `sent`, `failed`, `already_claimed` or `deferred` (not
/// begun by `until`, not claimed, owed to a later firing) — in the order of `revised`, then of
/// the notes. Never fails: storage errors are logged and leave the correction owed.
pub async fn corrections(app: &App, revised: &[Revised], until: Instant) -> Vec<DeliveryOutcome> {
    let mut jobs: Vec<Job> = revised
        .iter()
        .map(|r| Job {
            org: r.org.clone(),
            date: r.date,
            revision: r.current.metadata.revision,
            previous: r.previous.clone(),
            current: r.current.clone(),
            stored: None,
            noted: false,
        })
        .collect();
    if Instant::now() < until {
        let known: Vec<(OrgId, NaiveDate, u32)> = jobs
            .iter()
            .map(|j| (j.org.org_id.clone(), j.date, j.revision))
            .collect();
        jobs.extend(owed(app, &known).await);
    }
    // One task per (org, date), its revisions in order; the tasks `CONCURRENCY` at a time.
    let mut groups: Vec<Vec<Job>> = Vec::new();
    for job in jobs {
        match groups
            .iter_mut()
            .find(|g| g[0].org.org_id == job.org.org_id && g[0].date == job.date)
        {
            Some(g) => g.push(job),
            None => groups.push(vec![job]),
        }
    }
    let tasks: Vec<_> = groups
        .into_iter()
        .map(|mut group| {
            group.sort_by_key(|j| j.revision);
            async move {
                let mut outcomes = Vec::new();
                for job in group {
                    outcomes.extend(correct(app, job, until).await);
                }
                outcomes
            }
        })
        .collect();
    let per_group: Vec<Vec<DeliveryOutcome>> = futures::stream::iter(tasks)
        .buffered(super::CONCURRENCY)
        .collect()
        .await;
    per_group.into_iter().flatten().collect()
}

/// `corrections/<org_id>/<date>/rev-<revision>.json`: the note of a correction owed.
pub fn owed_name(org_id: &OrgId, date: NaiveDate, revision: u32) -> String {
    format!("{OWED_PREFIX}{org_id}/{date}/rev-{revision}.json")
}

/// Reads `corrections/<org_id>/<date>/rev-<n>.json` back: (org id, date, revision).
fn parse_owed(name: &str) -> Option<(OrgId, NaiveDate, u32)> {
    let rest = name.strip_prefix(OWED_PREFIX)?.strip_suffix(".json")?;
    let mut parts = rest.split('/');
    let org_id = OrgId::parse(parts.next()?, "org_id").ok()?;
    let date = parts.next()?.parse().ok()?;
    let revision = parts.next()?.strip_prefix("rev-")?.parse().ok()?;
    parts.next().is_none().then_some((org_id, date, revision))
}

/// Notes the correction of `job` as owed (create-only; one already there is kept, with its
/// time). A failure is logged: the correction is still tried now.
async fn note(app: &App, job: &Job, now: DateTime<Utc>) {
    let name = owed_name(&job.org.org_id, job.date, job.revision);
    let body = serde_json::json!({
        "org_id": job.org.org_id, "date": job.date, "revision": job.revision, "owed_since": now,
    });
    let mut put = Put::new("application/json");
    put.condition = Condition::IfNotExists;
    put.metadata.insert(OWED_SINCE.into(), now.to_rfc3339());
    match app
        .storage
        .put(&name, Bytes::from(body.to_string()), &put)
        .await
    {
        Ok(_) | Err(StorageError::AlreadyExists(_)) => {}
        Err(e) => {
            tracing::warn!(org_id = %job.org.org_id, date = %job.date, revision = job.revision,
                error = %e, "could not note the correction as owed; it is tried now only");
        }
    }
}

/// Deletes the note of a settled correction (logged when it fails: a later firing finds
/// nothing more to send).
async fn settle(app: &App, org_id: &OrgId, date: NaiveDate, revision: u32) {
    if let Err(e) = app.storage.delete(&owed_name(org_id, date, revision)).await {
        tracing::warn!(%org_id, %date, revision, error = %e, "could not delete the note of a settled correction");
    }
}

/// The corrections owed by earlier firings, other than `known` (this firing's revisions): one
/// listing of [`OWED_PREFIX`], then for each note its org and the two revisions. A note that
/// is too old, of an org gone or inactive, or of a revision no longer stored is dropped; one
/// that cannot be read now is left for the next firing.
async fn owed(app: &App, known: &[(OrgId, NaiveDate, u32)]) -> Vec<Job> {
    let now = app.clock.now();
    let mut notes = Vec::new();
    let mut continuation = None;
    loop {
        match app.storage.list(OWED_PREFIX, continuation, 1000).await {
            Ok(page) => {
                for entry in page.entries {
                    let Some(key) = parse_owed(&entry.name) else {
                        continue;
                    };
                    if known.contains(&key) {
                        continue;
                    }
                    let since = entry
                        .metadata
                        .get(OWED_SINCE)
                        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                        .map(|t| t.with_timezone(&Utc));
                    notes.push((key, since));
                }
                match page.next {
                    Some(n) => continuation = Some(n),
                    None => break,
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "could not list the corrections owed; the next firing tries again");
                return Vec::new();
            }
        }
    }
    let mut jobs = Vec::new();
    for ((org_id, date, revision), since) in notes {
        if since.is_some_and(|t| now - t > OWED_FOR) {
            tracing::warn!(%org_id, %date, revision, "correction owed for too long: given up");
            settle(app, &org_id, date, revision).await;
            continue;
        }
        match owed_job(app, &org_id, date, revision).await {
            Ok(Some(job)) => jobs.push(job),
            Ok(None) => settle(app, &org_id, date, revision).await,
            Err(e) => {
                tracing::warn!(%org_id, %date, revision, error = %e,
                    "could not read an owed correction; the next firing tries again");
            }
        }
    }
    jobs
}

/// The job of a note: `Ok(None)` when there is nothing to correct any more (the org is gone or
/// inactive, a revision is not stored).
async fn owed_job(
    app: &App,
    org_id: &OrgId,
    date: NaiveDate,
    revision: u32,
) -> Result<Option<Job>, String> {
    let org = match orgs::get(&app.storage, org_id).await {
        Ok(Some((org, _))) if org.is_active => org,
        Ok(_) => return Ok(None),
        Err(e) => return Err(e.to_string()),
    };
    let read = |n: u32| snapshots::read_revision(&app.storage, org_id, date, n);
    let stored = match read(revision).await {
        Ok(Some(s)) => s,
        Ok(None) => return Ok(None),
        Err(e) => return Err(e.to_string()),
    };
    let replaced = stored
        .report
        .metadata
        .supersedes
        .as_ref()
        .map_or(revision.saturating_sub(1), |s| s.revision);
    let previous = match read(replaced).await {
        Ok(Some(s)) => s.report,
        Ok(None) => return Ok(None),
        Err(e) => return Err(e.to_string()),
    };
    Ok(Some(Job {
        org,
        date,
        revision,
        previous,
        current: stored.report.clone(),
        stored: Some(stored),
        noted: true,
    }))
}

/// One revision's corrections: nothing when no headline KPI changed or the org has no enabled
/// channel; else noted as owed, then one correction per channel, and the note deleted when
/// every channel is settled.
async fn correct(app: &App, job: Job, until: Instant) -> Vec<DeliveryOutcome> {
    let (org_id, date, revision) = (job.org.org_id.clone(), job.date, job.revision);
    let channels: Vec<&Notification> = job.org.notifications.iter().filter(|n| n.enabled).collect();
    let changed = headline(&job.previous, &job.current)
        .iter()
        .any(KpiRevision::changed);
    if !changed || channels.is_empty() {
        if !changed {
            tracing::info!(%org_id, %date, revision, "revision changed no headline KPI: no correction");
        }
        if job.noted {
            settle(app, &org_id, date, revision).await;
        }
        return Vec::new();
    }
    if !job.noted {
        note(app, &job, app.clock.now()).await;
    }
    if Instant::now() >= until {
        // Past the deadline nothing more is asked of storage: owed to the next firing.
        return channels
            .iter()
            .map(|c| deferred(&org_id, date, revision, c))
            .collect();
    }
    let stored = match job.stored {
        Some(s) => s,
        None => match snapshots::read_revision(&app.storage, &org_id, date, revision).await {
            Ok(Some(s)) => s,
            Ok(None) => {
                tracing::warn!(%org_id, %date, revision, "the revision to correct is not stored: no correction");
                settle(app, &org_id, date, revision).await;
                return Vec::new();
            }
            Err(e) => {
                tracing::error!(%org_id, %date, revision, error = %e,
                    "the revision to correct is unreadable; the next firing tries again");
                return Vec::new();
            }
        },
    };
    let Some(correction) = Correction::new(&app.settings, &job.org, date, &job.previous, &stored)
    else {
        settle(app, &org_id, date, revision).await;
        return Vec::new();
    };
    let sends = channels
        .iter()
        .map(|channel| correct_one(app, &correction, channel, until));
    let results = futures::future::join_all(sends).await;
    if results.iter().all(|(_, settled)| *settled) {
        settle(app, &org_id, date, revision).await;
    }
    results.into_iter().filter_map(|(o, _)| o).collect()
}

/// The outcome of a correction to `channel` not begun because the run's deadline passed.
fn deferred(
    org_id: &OrgId,
    date: NaiveDate,
    revision: u32,
    channel: &Notification,
) -> DeliveryOutcome {
    tracing::warn!(%org_id, %date, revision, channel = %channel.id,
        "correction deferred: the run's time ran out");
    DeliveryOutcome {
        org_id: org_id.clone(),
        date,
        channel_id: channel.id.clone(),
        kind: channel.kind,
        status: DeliveryStatus::Deferred,
        attempts: 0,
        error: Some("not sent: the run's time ran out before it; a later run sends it".into()),
        event: Event::Correction,
        revision: Some(revision),
    }
}

/// The correction to one channel: its outcome (`None` when there is nothing to send: the
/// digest was not sent, or already showed this revision) and whether the channel is settled
/// (nothing more any firing will send it).
async fn correct_one(
    app: &App,
    c: &Correction,
    channel: &Notification,
    until: Instant,
) -> (Option<DeliveryOutcome>, bool) {
    if Instant::now() >= until {
        return (
            Some(deferred(&c.org_id, c.date, c.revision, channel)),
            false,
        );
    }
    let mut outcome = DeliveryOutcome {
        org_id: c.org_id.clone(),
        date: c.date,
        channel_id: channel.id.clone(),
        kind: channel.kind,
        status: DeliveryStatus::AlreadyClaimed,
        attempts: 0,
        error: None,
        event: Event::Correction,
        revision: Some(c.revision),
    };
    let digest = claims::name(&c.org_id, c.date, &channel.id);
    match claims::read(&app.storage, &digest).await {
        Ok(Some(d)) if d.record.state == State::Sent => {
            if d.revision.is_some_and(|shown| shown >= c.revision) {
                return (None, true); // the digest already showed this revision
            }
        }
        // Being sent by another firing, perhaps with the older numbers: decided later.
        Ok(Some(d)) if d.record.state == State::Pending => return (None, false),
        // Never sent, or failed: a digest sent later shows the current revision.
        Ok(_) => return (None, true),
        Err(e) => {
            tracing::error!(org_id = %c.org_id, date = %c.date, channel = %channel.id, error = %e,
                "could not read the digest's delivery record; the correction waits");
            outcome.status = DeliveryStatus::Failed;
            outcome.error = Some("could not read the digest's delivery record (storage)".into());
            return (Some(outcome), false);
        }
    }
    let now = app.clock.now();
    let entry = claims::pending(
        &c.org_id,
        c.date,
        channel,
        Event::Correction,
        Some(c.revision),
        now,
    );
    let name = claims::correction_name(&c.org_id, c.date, &channel.id, c.revision);
    let claim = match claims::claim_as(&app.storage, name, entry, now).await {
        Ok(Claimed::Held(claim)) => claim,
        Ok(Claimed::Taken(found)) => {
            let settled = found.is_some_and(|e| {
                e.record.state == State::Sent
                    || (e.record.state == State::Failed && !e.record.retry_later)
            });
            return (Some(outcome), settled);
        }
        Err(e) => {
            tracing::error!(org_id = %c.org_id, channel = %channel.id, error = %e, "correction claim failed");
            outcome.status = DeliveryStatus::Failed;
            outcome.error = Some("could not claim the correction (storage)".into());
            return (Some(outcome), false);
        }
    };
    let result = c.send(channel, app.clock.now(), until, &app.settings).await;
    outcome.attempts = result.attempts;
    match &result.outcome {
        Ok(status) => {
            outcome.status = DeliveryStatus::Sent;
            tracing::info!(org_id = %c.org_id, date = %c.date, revision = c.revision, channel = %channel.id, status, attempts = result.attempts, "correction sent");
        }
        Err(e) => {
            outcome.status = DeliveryStatus::Failed;
            outcome.error = Some(e.clone());
            tracing::warn!(org_id = %c.org_id, date = %c.date, revision = c.revision, channel = %channel.id, error = %e, attempts = result.attempts, "correction failed");
        }
    }
    let settled = match claims::finish(&app.storage, claim, &result, app.clock.now()).await {
        Ok(entry) => !(entry.record.state == State::Failed && entry.record.retry_later),
        Err(e) => {
            tracing::error!(org_id = %c.org_id, channel = %channel.id, error = %e, "correction record not written");
            // A pending record is taken over after `STALE_AFTER`: keep the note for it.
            false
        }
    };
    (Some(outcome), settled)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::daily_report::query::DayCounts;
    use crate::daily_report::report;

    const ORG: &str = "01951f56-8c6e-7a93-a971-3d06a81a1ab0";

    fn org(name: &str) -> Organization {
        Organization {
            org_id: OrgId::parse(ORG, "org_id").unwrap(),
            name: name.into(),
            node_persistent_id: "019b099d-77fd-7e09-9d2b-cd4c476a0a19".into(),
            timezone: chrono_tz::America::Chicago,
            is_active: true,
            excluded_numbers: vec![],
            notifications: vec![],
            created_at: Utc::now(),
            updated_at: Utc::now(),
        }
    }

    fn date() -> NaiveDate {
        "2025-12-15".parse().unwrap()
    }

    /// A report of `date()`: `calls` calls of 2 minutes, all classified, `successes` of them
    /// successes, `pricing` as the breakdown of pricing notes.
    fn report(org: &Organization, calls: u64, successes: u64, pricing: &str) -> DailyReport {
        let counts = DayCounts {
            total_calls: calls,
            total_duration_seconds: calls as f64 * 120.0,
            classified_calls: calls,
            success_count: successes,
            by_pricing_notes: (vec![pricing.to_string()], vec![calls]),
            ..DayCounts::default()
        };
        let now: DateTime<Utc> = "2025-12-16T12:00:00Z".parse().unwrap();
        report::build(org, date(), &counts, Default::default(), 5, now)
    }

    /// `report` as stored, as revision `revision`.
    fn stored(mut report: DailyReport, revision: u32) -> StoredReport {
        report.metadata.revision = revision;
        StoredReport {
            body: Bytes::from(serde_json::to_vec_pretty(&report).unwrap()),
            report,
            etag: "\"1\"".into(),
            content_type: Some("application/json".into()),
            metadata: Default::default(),
        }
    }

    fn settings() -> Settings {
        let env: HashMap<String, String> = [("PUBLIC_BASE_URL", "https://func-x.example")]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::from_map(&env).unwrap()
    }

    /// The correction of 4 calls (2 successes) revised to 6 calls (4 successes), for `name`.
    fn sample(name: &str) -> Correction {
        let o = org(name);
        let previous = report(&o, 4, 2, "A");
        let current = stored(report(&o, 6, 4, "A"), 2);
        Correction::new(&settings(), &o, date(), &previous, &current).unwrap()
    }

    /// The headline KPIs compared are the digest's, in its order; the changed ones are those
    /// whose stored number moved.
    #[test]
    fn the_changed_headline_kpis_are_the_digests_that_moved() {
        let c = sample("Paul Logistics");
        let keys: Vec<&str> = c.kpis.iter().map(|k| k.key).collect();
        let digest: Vec<&str> = Kpi::kept()
            .filter(|(k, _)| k.def().in_digest)
            .map(|(_, key)| key)
            .collect();
        assert_eq!(keys, digest);
        let changed: Vec<(&str, f64, f64)> = c
            .changed()
            .map(|k| (k.key, k.previous, k.current))
            .collect();
        assert_eq!(
            changed,
            [
                ("total_calls", 4.0, 6.0),
                ("classified_calls", 4.0, 6.0),
                ("success_rate_percent", 50.0, 66.67),
                ("total_duration_hours", 0.13, 0.2),
            ]
        );
        // Same mean call length: unchanged, not listed.
        assert!(
            c.kpis
                .iter()
                .any(|k| k.key == "avg_minutes_per_call" && !k.changed())
        );
        assert_eq!(c.revision, 2);
        assert_eq!(c.report_sha256.len(), 64);
        assert_eq!(
            c.report_url,
            format!("https://func-x.example/api/artifacts/reports/{ORG}/2025-12-15.json")
        );
    }

    /// A revision that changes only a breakdown (the pricing notes) is no correction.
    #[test]
    fn a_revision_of_a_breakdown_only_is_no_correction() {
        let o = org("Paul Logistics");
        let previous = report(&o, 4, 2, "A");
        let current = stored(report(&o, 4, 2, "B"), 2);
        assert_ne!(previous.breakdowns, current.report.breakdowns);
        assert!(
            headline(&previous, &current.report)
                .iter()
                .all(|k| !k.changed())
        );
        assert!(Correction::new(&settings(), &o, date(), &previous, &current).is_none());
    }

    /// Each changed KPI reads `Label: before → after` in the digest's number formats.
    #[test]
    fn a_changed_kpi_reads_before_arrow_after() {
        let lines: Vec<String> = sample("Paul Logistics")
            .changed()
            .map(|k| k.line())
            .collect();
        assert_eq!(
            lines,
            [
                "Total calls: 4 → 6",
                "Classified calls: 4 → 6",
                "Success rate: 50.0 % → 66.7 %",
                "Total call time: 0.1 h → 0.2 h",
            ]
        );
        assert_eq!(
            sample("Paul Logistics").title(),
            "Correction — Paul Logistics — 2025-12-15: revision 2"
        );
    }

    /// The webhook body: exactly the documented fields, every headline KPI before and after
    /// by the digest's keys, the revision and the stored document's SHA-256.
    #[test]
    fn the_webhook_correction_has_the_documented_shape() {
        let c = sample("Paul Logistics");
        let body = webhook::correction_payload(&c);
        let mut keys: Vec<&str> = body
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort();
        assert_eq!(
            keys,
            [
                "current",
                "date",
                "event",
                "org_id",
                "org_name",
                "previous",
                "report_sha256",
                "report_url",
                "revision"
            ]
        );
        assert_eq!(body["event"], "daily_report.corrected");
        assert_eq!(body["org_id"], ORG);
        assert_eq!(body["date"], "2025-12-15");
        assert_eq!(body["revision"], 2);
        assert_eq!(body["previous"]["total_calls"], 4.0);
        assert_eq!(body["current"]["total_calls"], 6.0);
        assert_eq!(body["current"]["success_rate_percent"], 66.67);
        assert_eq!(body["previous"]["avg_minutes_per_call"], 2.0);
        let mut digest_keys: Vec<&str> = c.kpis.iter().map(|k| k.key).collect();
        digest_keys.sort();
        for side in ["previous", "current"] {
            let mut shown: Vec<&str> = body[side]
                .as_object()
                .unwrap()
                .keys()
                .map(String::as_str)
                .collect();
            shown.sort();
            assert_eq!(shown, digest_keys, "{side}");
        }
        assert_eq!(body["report_sha256"], c.report_sha256);
    }

    /// Every text of a value (strings anywhere in it).
    fn strings(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::String(s) => out.push(s.clone()),
            Value::Array(a) => a.iter().for_each(|x| strings(x, out)),
            Value::Object(o) => o.values().for_each(|x| strings(x, out)),
            _ => {}
        }
    }

    /// Teams: the title and date are `TextRun`s (never markdown), the changed KPIs facts of
    /// our own words and numbers, the report line and the report's link; an org name made of
    /// markup reaches the card only inside a `TextRun`.
    #[test]
    fn the_teams_correction_is_a_card_of_the_changed_kpis() {
        let name = "<!channel> & <@U123> [click](https://evil.example) *bold*";
        let c = sample(name);
        let message = teams::correction_payload(&c);
        assert_eq!(message["type"], "message");
        let card = &message["attachments"][0]["content"];
        assert_eq!(card["version"], "1.4");
        assert_eq!(card["body"][0]["type"], "RichTextBlock");
        assert_eq!(
            card["body"][0]["inlines"][0]["text"],
            format!("Correction — {name} — 2025-12-15: revision 2")
        );
        let facts = card["body"]
            .as_array()
            .unwrap()
            .iter()
            .find(|b| b["type"] == "FactSet")
            .unwrap();
        assert_eq!(facts["facts"][2]["title"], "Success rate");
        assert_eq!(facts["facts"][2]["value"], "50.0 % → 66.7 %");
        assert_eq!(facts["facts"].as_array().unwrap().len(), 4);
        assert!(card.to_string().contains(&format!(
            "Report revision 2 · SHA-256: {}…",
            &c.report_sha256[..12]
        )));
        assert_eq!(card["actions"][0]["url"], c.report_url);
        // The org name only inside TextRuns.
        for block in card["body"].as_array().unwrap() {
            let mut texts = Vec::new();
            strings(block, &mut texts);
            if block["type"] != "RichTextBlock" {
                for t in texts {
                    for stored in [name, "](", "*bold*", "<!channel>", "Chicago"] {
                        assert!(!t.contains(stored), "{t:?} carries {stored:?}");
                    }
                }
            }
        }
    }

    /// Slack: a plain-text header, each changed KPI as `*Label*: before → after`, every mrkdwn
    /// text and the fallback escaped (an org named `<!channel>` pings no room).
    #[test]
    fn the_slack_correction_lists_the_changes_escaped() {
        let name = "<!channel> & <@U123> [click](https://evil.example) *bold*";
        let c = sample(name);
        let p = slack::correction_payload(&c);
        assert_eq!(p["blocks"][0]["type"], "header");
        assert_eq!(p["blocks"][0]["text"]["type"], "plain_text");
        assert_eq!(
            p["blocks"][0]["text"]["text"],
            format!("Correction — {name} — 2025-12-15: revision 2")
        );
        let section = p["blocks"][2]["text"]["text"].as_str().unwrap();
        assert!(
            section.contains("• *Success rate*: 50.0 % → 66.7 %"),
            "{section}"
        );
        assert!(section.contains("• *Total calls*: 4 → 6"), "{section}");
        assert!(!section.contains("Avg minutes"), "{section}");
        let fallback = p["text"].as_str().unwrap();
        assert!(
            fallback.starts_with(
                "Correction — &lt;!channel&gt; &amp; &lt;@U123&gt; [click](https://evil.example) *bold* — 2025-12-15: revision 2: Total calls: 4 → 6"
            ),
            "{fallback}"
        );
        let mut mrkdwn = vec![fallback.to_string()];
        fn collect(v: &Value, out: &mut Vec<String>) {
            match v {
                Value::Object(o) => {
                    if o.get("type").and_then(Value::as_str) == Some("mrkdwn") {
                        out.push(o["text"].as_str().unwrap().to_string());
                    }
                    o.values().for_each(|x| collect(x, out));
                }
                Value::Array(a) => a.iter().for_each(|x| collect(x, out)),
                _ => {}
            }
        }
        collect(&p["blocks"], &mut mrkdwn);
        for t in &mrkdwn {
            assert!(!t.contains('<') && !t.contains('>'), "raw < or > in {t:?}");
        }
        assert!(p.to_string().contains(&c.report_url));
    }

    #[test]
    fn an_owed_note_is_named_by_org_date_and_revision() {
        let org_id = OrgId::parse(ORG, "org_id").unwrap();
        let name = owed_name(&org_id, date(), 3);
        assert_eq!(name, format!("corrections/{ORG}/2025-12-15/rev-3.json"));
        assert_eq!(parse_owed(&name), Some((org_id, date(), 3)));
        for bad in [
            "corrections/x/2025-12-15/rev-3.json".to_string(),
            format!("corrections/{ORG}/2025-12-15/rev-x.json"),
            format!("corrections/{ORG}/2025-12-15/3.json"),
            format!("corrections/{ORG}/2025-12-15/rev-3.json/x"),
        ] {
            assert_eq!(parse_owed(&bad), None, "{bad}");
        }
    }
}
