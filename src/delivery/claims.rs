//! Exactly once per (org, date, channel): before sending, a create-only write claims
//! `deliveries/<org_id>/<date>/<channel_id>.json` as `pending`; the sender then records `sent`
//! (status, attempts, at) or `failed` (last error, attempts) over its own version (ETag). Two
//! timer runs, or two instances, race on the create and only one sends. A claim still
//! `pending` after [`STALE_AFTER`] (a crash mid-send) is taken over by the next firing, again
//! conditionally: at-least-once in that one case. A delivery `failed` for a reason that may
//! pass ([`SendResult::retry_later`]) is taken over the same way by the next firings, until
//! [`MAX_FIRINGS`] have tried it (`docs/delivery-and-access.md`, "The morning digest").
//!
//! A correction (`docs/revisions.md`, "Corrections reach the people who were told") is claimed
//! the same way, once per (org, date, revision, channel), at
//! `deliveries/<org_id>/<date>/<channel_id>.rev-<revision>.json` ([`correction_name`]), beside
//! the digest's record; its record says `"event": "correction"` and the `revision`
//! ([`Entry`]). Channel ids are letters, digits, `-` and `_`, so the two names never meet.

use bytes::Bytes;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::Digest;
use super::send::SendResult;
use crate::orgs::{ChannelKind, Notification, OrgId};
use crate::storage::{Condition, Put, Storage, StorageError};

/// Storage prefix of the delivery records.
pub const PREFIX: &str = "deliveries/";

/// A pending claim older than this is retried.
pub const STALE_AFTER: chrono::Duration = chrono::Duration::minutes(10);

/// Firings that try one delivery at most: the first, and two more after transient failures
/// (with the hourly timer, the digest is given up about two hours after its first try).
pub const MAX_FIRINGS: u32 = 3;

/// How one delivery went (no URL, no secret): the fields every delivery record has, digest
/// or correction; stored and listed at the top level of its `DeliveryRecord` (`Entry`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = DeliverySend)]
pub struct Record {
    pub org_id: OrgId,
    pub date: NaiveDate,
    pub channel_id: String,
    pub kind: ChannelKind,
    pub state: State,
    pub claimed_at: DateTime<Utc>,
    /// HTTP attempts over every firing that tried it.
    #[serde(default)]
    #[schema(required)]
    pub attempts: u32,
    /// Firings that tried it (1 for the first; records written before this field: 0).
    #[serde(default)]
    #[schema(required)]
    pub firings: u32,
    /// A `failed` delivery that the next firing will try again.
    #[serde(default)]
    #[schema(required)]
    pub retry_later: bool,
    /// The endpoint's 2xx status, when sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub status: Option<u16>,
    /// When it was sent or given up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub last_error: Option<String>,
    /// Claims taken over from a stale `pending` one.
    #[serde(default)]
    #[schema(required)]
    pub takeovers: u32,
}

/// Where a delivery stands; stored and listed as `pending`, `sent` or `failed` (the strings
/// older records hold).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = DeliveryState)]
pub enum State {
    /// Claimed, being sent (or the sender crashed: taken over after [`STALE_AFTER`]).
    Pending,
    /// The endpoint answered 2xx.
    Sent,
    /// Given up; tried again by the next firing when `retry_later`.
    Failed,
}

/// What a delivery delivered; stored and listed as `digest` or `correction`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = DeliveryEvent)]
pub enum Event {
    /// The morning digest of a date (and every record stored before corrections existed).
    #[default]
    Digest,
    /// The correction of a date's digest after a revision changed a headline KPI
    /// (`docs/revisions.md`, "Corrections reach the people who were told").
    Correction,
}

/// A delivery record as stored and as `GET /api/deliveries` lists it: how the send went (the
/// fields of `DeliverySend`, `Record`, at the top level) and what it delivered. A record
/// stored before corrections existed reads as a digest without a revision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = DeliveryRecord)]
pub struct Entry {
    #[serde(flatten)]
    pub record: Record,
    /// `digest` or `correction`.
    #[serde(default)]
    #[schema(required)]
    pub event: Event,
    /// The report's revision: for a correction, the one it announces; for a digest, the one
    /// it showed (absent in records stored before revisions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false, minimum = 1)]
    pub revision: Option<u32>,
}

/// A claim held: the record and its version.
#[derive(Debug)]
pub struct Claim {
    /// The record's name ([`name`] or [`correction_name`]).
    pub name: String,
    pub entry: Entry,
    pub etag: String,
}

/// The outcome of [`claim_as`].
#[derive(Debug)]
pub enum Claimed {
    /// This run holds the claim and sends.
    Held(Claim),
    /// Another run holds or held it: its record as read (`None` when it vanished or does not
    /// parse).
    Taken(Option<Entry>),
}

impl Claimed {
    /// The claim, when held.
    pub fn held(self) -> Option<Claim> {
        match self {
            Claimed::Held(c) => Some(c),
            Claimed::Taken(_) => None,
        }
    }
}

/// `deliveries/<org_id>/<date>/<channel_id>.json`: the digest's record.
pub fn name(org_id: &OrgId, date: NaiveDate, channel_id: &str) -> String {
    format!("{PREFIX}{org_id}/{date}/{channel_id}.json")
}

/// `deliveries/<org_id>/<date>/<channel_id>.rev-<revision>.json`: the record of the correction
/// announcing `revision` (`docs/delivery-and-access.md`, "Corrections").
pub fn correction_name(org_id: &OrgId, date: NaiveDate, channel_id: &str, revision: u32) -> String {
    format!("{PREFIX}{org_id}/{date}/{channel_id}.rev-{revision}.json")
}

fn body(r: &Entry) -> Bytes {
    Bytes::from(serde_json::to_vec_pretty(r).expect("record serializes"))
}

fn put(condition: Condition) -> Put {
    let mut p = Put::new("application/json");
    p.condition = condition;
    p
}

/// A new `pending` record of a delivery to `channel` of `(org_id, date)`, claimed at `now`.
pub fn pending(
    org_id: &OrgId,
    date: NaiveDate,
    channel: &Notification,
    event: Event,
    revision: Option<u32>,
    now: DateTime<Utc>,
) -> Entry {
    Entry {
        record: Record {
            org_id: org_id.clone(),
            date,
            channel_id: channel.id.clone(),
            kind: channel.kind,
            state: State::Pending,
            claimed_at: now,
            attempts: 0,
            firings: 1,
            retry_later: false,
            status: None,
            at: None,
            last_error: None,
            takeovers: 0,
        },
        event,
        revision,
    }
}

/// Claims the delivery of `digest` to `channel`; `Ok(None)` when another run holds or held it.
pub async fn claim(
    storage: &Storage,
    digest: &Digest,
    channel: &Notification,
    now: DateTime<Utc>,
) -> Result<Option<Claim>, StorageError> {
    let name = name(&digest.org_id, digest.date, &channel.id);
    let entry = pending(
        &digest.org_id,
        digest.date,
        channel,
        Event::Digest,
        Some(digest.revision),
        now,
    );
    Ok(claim_as(storage, name, entry, now).await?.held())
}

/// Claims `name` for the pending record `entry` (made by [`pending`]): a create-only write, or,
/// when a record is there, a write over its version when it is `pending` for over
/// [`STALE_AFTER`] or `failed` with `retry_later` (counting its attempts and firings).
/// [`Claimed::Taken`] with the record found otherwise.
pub async fn claim_as(
    storage: &Storage,
    name: String,
    mut entry: Entry,
    now: DateTime<Utc>,
) -> Result<Claimed, StorageError> {
    match storage
        .put(&name, body(&entry), &put(Condition::IfNotExists))
        .await
    {
        Ok(stored) => {
            return Ok(Claimed::Held(Claim {
                name,
                entry,
                etag: stored.etag,
            }));
        }
        Err(StorageError::AlreadyExists(_)) => {}
        Err(e) => return Err(e),
    }
    let Some(existing) = storage.get(&name).await? else {
        return Ok(Claimed::Taken(None));
    };
    let Ok(found) = serde_json::from_slice::<Entry>(&existing.body) else {
        return Ok(Claimed::Taken(None));
    };
    let previous = &found.record;
    let stale = previous.state == State::Pending && now - previous.claimed_at > STALE_AFTER;
    let retry = previous.state == State::Failed && previous.retry_later;
    if !stale && !retry {
        return Ok(Claimed::Taken(Some(found)));
    }
    let record = &mut entry.record;
    record.attempts = previous.attempts;
    record.firings = previous.firings.max(1) + 1;
    record.takeovers = previous.takeovers + u32::from(stale);
    match storage
        .put(&name, body(&entry), &put(Condition::IfMatch(existing.etag)))
        .await
    {
        Ok(stored) => Ok(Claimed::Held(Claim {
            name,
            entry,
            etag: stored.etag,
        })),
        Err(StorageError::ConditionFailed(_) | StorageError::NotFound(_)) => {
            Ok(Claimed::Taken(None))
        }
        Err(e) => Err(e),
    }
}

/// The record stored at `name` ([`name`], [`correction_name`]); `Ok(None)` when there is none
/// or it does not parse (logged).
pub async fn read(storage: &Storage, name: &str) -> Result<Option<Entry>, StorageError> {
    let Some(object) = storage.get(name).await? else {
        return Ok(None);
    };
    match serde_json::from_slice(&object.body) {
        Ok(entry) => Ok(Some(entry)),
        Err(e) => {
            tracing::error!(%name, error = %e, "delivery record unreadable");
            Ok(None)
        }
    }
}

/// Records how the send went, over the claim's own version.
pub async fn finish(
    storage: &Storage,
    claim: Claim,
    result: &SendResult,
    now: DateTime<Utc>,
) -> Result<Entry, StorageError> {
    let mut entry = claim.entry;
    let record = &mut entry.record;
    record.attempts += result.attempts;
    record.retry_later = result.retry_later && record.firings < MAX_FIRINGS;
    record.at = Some(now);
    match &result.outcome {
        Ok(status) => {
            record.state = State::Sent;
            record.status = Some(*status);
        }
        Err(e) => {
            record.state = State::Failed;
            record.last_error = Some(e.clone());
        }
    }
    storage
        .put(
            &claim.name,
            body(&entry),
            &put(Condition::IfMatch(claim.etag)),
        )
        .await?;
    Ok(entry)
}

/// Where a page of [`list`] starts: after the record of this date, channel and revision.
/// Written `<date>/<channel_id>` (`2025-12-01/ops`, a digest's) or
/// `<date>/<channel_id>.rev-<revision>` (`2025-12-01/ops.rev-2`, a correction's) as the
/// `next_cursor` of `GET /api/deliveries`. Ordered by date, then channel id, then revision
/// (a channel's digest before its corrections).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct After {
    pub date: NaiveDate,
    pub channel_id: String,
    /// The correction's revision; `None` for the digest.
    pub revision: Option<u32>,
}

impl After {
    /// Reads `<date>/<channel_id>` or `<date>/<channel_id>.rev-<n>`; `None` when it is not that.
    pub fn parse(value: &str) -> Option<Self> {
        let (date, rest) = value.split_once('/')?;
        let date = crate::time::parse_date(date, "cursor").ok()?;
        Self::of(date, rest)
    }

    /// The key of `rest` (`<channel_id>` or `<channel_id>.rev-<n>`, `n` ≥ 1) on `date`.
    fn of(date: NaiveDate, rest: &str) -> Option<Self> {
        if rest.is_empty() || rest.contains('/') {
            return None;
        }
        let (channel_id, revision) = match rest.split_once(".rev-") {
            None => (rest, None),
            Some((channel_id, digits)) => {
                let n: u32 = digits.parse().ok()?;
                // Only the digits `Display` writes (`parse` would take `+2` and `02`).
                (n >= 1 && n.to_string() == digits).then_some((channel_id, Some(n)))?
            }
        };
        (!channel_id.is_empty() && !channel_id.contains('.')).then(|| Self {
            date,
            channel_id: channel_id.to_string(),
            revision,
        })
    }
}

impl std::fmt::Display for After {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.date, self.channel_id)?;
        match self.revision {
            Some(n) => write!(f, ".rev-{n}"),
            None => Ok(()),
        }
    }
}

/// One page of [`list`].
#[derive(Debug)]
pub struct Listing {
    pub records: Vec<Entry>,
    /// Where the next page starts; `None` on the last.
    pub next: Option<After>,
}

/// The records of `org_id` — digests and corrections — for dates in `[from, to]` after
/// `after`, by date, then channel id, then revision ([`After`]): at most `limit`, with where to
/// go on when more follow (`docs/access-and-safety.md`, "Bounded for every caller"). The names
/// under the org's prefix are listed (1000 per call, no blob read); at most `limit` records are
/// read. A record that vanished or cannot be read is left out of its page (the page is then
/// shorter), never out of the order.
pub async fn list(
    storage: &Storage,
    org_id: &OrgId,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
    after: Option<&After>,
    limit: usize,
) -> Result<Listing, StorageError> {
    let prefix = format!("{PREFIX}{org_id}/");
    let mut keys = Vec::new();
    let mut continuation = None;
    loop {
        let page = storage.list(&prefix, continuation, 1000).await?;
        for e in &page.entries {
            let key = e
                .name
                .strip_prefix(&prefix)
                .and_then(|rest| rest.strip_suffix(".json"))
                .and_then(|rest| rest.split_once('/'))
                .and_then(|(date, rest)| After::of(date.parse().ok()?, rest));
            let Some(key) = key else { continue };
            if from.is_some_and(|f| key.date < f)
                || to.is_some_and(|t| key.date > t)
                || after.is_some_and(|a| key <= *a)
            {
                continue;
            }
            keys.push((key, e.name.clone()));
        }
        match page.next {
            Some(n) => continuation = Some(n),
            None => break,
        }
    }
    keys.sort();
    let more = keys.len() > limit;
    keys.truncate(limit);
    let next = if more {
        keys.last().map(|(key, _)| key.clone())
    } else {
        None
    };
    let mut records = Vec::with_capacity(keys.len());
    for (_, name) in &keys {
        if let Some(o) = storage.get(name).await?
            && let Ok(r) = serde_json::from_slice::<Entry>(&o.body)
        {
            records.push(r);
        }
    }
    Ok(Listing { records, next })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_is_a_date_and_a_channel_id() {
        let a = After::parse("2025-12-01/sales-eu").unwrap();
        assert_eq!(a.to_string(), "2025-12-01/sales-eu");
        assert!(a < After::parse("2025-12-01/sales-us").unwrap());
        assert!(a < After::parse("2025-12-02/a").unwrap());
        for bad in [
            "",
            "x",
            "2025-12-01",
            "2025-12-01/",
            "2025-13-01/a",
            "2025-12-01/a/b",
            "2025-12-01/a.rev-0",
            "2025-12-01/a.rev-x",
            "2025-12-01/a.rev-+2",
            "2025-12-01/a.rev-",
            "2025-12-01/.rev-2",
            "2025-12-01/a.b",
        ] {
            assert_eq!(After::parse(bad), None, "{bad}");
        }
    }

    /// A correction's key is its channel's with the revision: it follows the channel's digest
    /// (and the corrections before it, by number, not by text) and precedes the next channel,
    /// whatever that channel's name sorts like as text (`ops-eu`: `-` sorts before `.`).
    #[test]
    fn a_channels_corrections_follow_its_digest_by_revision() {
        let name = correction_name(
            &OrgId::parse("01951f56-8c6e-7a93-a971-3d06a81a1ab0", "org_id").unwrap(),
            "2025-12-01".parse().unwrap(),
            "ops",
            2,
        );
        assert_eq!(
            name,
            "deliveries/01951f56-8c6e-7a93-a971-3d06a81a1ab0/2025-12-01/ops.rev-2.json"
        );
        let mut keys: Vec<After> = [
            "2025-12-01/ops-eu",
            "2025-12-01/ops.rev-10",
            "2025-12-01/ops.rev-2",
            "2025-12-01/ops",
            "2025-12-02/a",
        ]
        .iter()
        .map(|k| After::parse(k).unwrap())
        .collect();
        keys.sort();
        let shown: Vec<String> = keys.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            [
                "2025-12-01/ops",
                "2025-12-01/ops.rev-2",
                "2025-12-01/ops.rev-10",
                "2025-12-01/ops-eu",
                "2025-12-02/a"
            ]
        );
    }

    /// Records stored before the state was a type (strings, some fields missing) still read,
    /// and a record writes its state as the same string.
    #[test]
    fn a_record_stored_by_an_older_version_reads_and_keeps_its_state_string() {
        for (text, state) in [
            ("pending", State::Pending),
            ("sent", State::Sent),
            ("failed", State::Failed),
        ] {
            let stored = serde_json::json!({
                "org_id": "01951f56-8c6e-7a93-a971-3d06a81a1ab0", "date": "2025-12-01", "channel_id": "ops",
                "kind": "webhook", "state": text, "claimed_at": "2025-12-02T06:00:00Z",
                "attempts": 2, "takeovers": 0
            });
            let r: Entry = serde_json::from_value(stored).unwrap();
            assert_eq!(
                (r.record.state, r.record.firings, r.record.retry_later),
                (state, 0, false)
            );
            // Stored before corrections: a digest, of no known revision.
            assert_eq!((r.event, r.revision), (Event::Digest, None));
            let written = serde_json::to_value(&r).unwrap();
            assert_eq!(written["state"], text);
            assert_eq!(written["event"], "digest");
            assert!(written.get("revision").is_none(), "{written}");
        }
        let unknown = serde_json::json!({"org_id": "01951f56-8c6e-7a93-a971-3d06a81a1ab0", "date": "2025-12-01", "channel_id": "c",
            "kind": "webhook", "state": "lost", "claimed_at": "2025-12-02T06:00:00Z"});
        assert!(serde_json::from_value::<Entry>(unknown).is_err());
    }

    /// A correction's record: the record's fields at the top level, `event` and `revision`
    /// beside them; it reads back as written.
    #[test]
    fn a_correction_record_says_so_and_names_its_revision() {
        let org_id = OrgId::parse("01951f56-8c6e-7a93-a971-3d06a81a1ab0", "org_id").unwrap();
        let channel = Notification {
            id: "ops".into(),
            kind: ChannelKind::Slack,
            url: Some(crate::configuration::Secret::new(
                "https://hooks.slack.com/x",
            )),
            secret: None,
            to: Vec::new(),
            enabled: true,
        };
        let now: DateTime<Utc> = "2025-12-02T06:00:00Z".parse().unwrap();
        let date = "2025-12-01".parse().unwrap();
        let entry = pending(&org_id, date, &channel, Event::Correction, Some(2), now);
        let json = serde_json::to_value(&entry).unwrap();
        assert_eq!(json["event"], "correction");
        assert_eq!(json["revision"], 2);
        assert_eq!(json["channel_id"], "ops");
        assert_eq!(json["state"], "pending");
        assert!(json.get("record").is_none(), "{json}");
        assert!(!json.to_string().contains("hooks.slack.com"), "{json}");
        assert_eq!(serde_json::from_value::<Entry>(json).unwrap(), entry);
    }
}
