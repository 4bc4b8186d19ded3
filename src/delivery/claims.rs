//! Exactly once per (org, date, channel): before sending, a create-only write claims
//! `deliveries/<org_id>/<date>/<channel_id>.json` as `pending`; the sender then records `sent`
//! (status, attempts, at) or `failed` (last error, attempts) over its own version (ETag). Two
//! timer runs, or two instances, race on the create and only one sends. A claim still
//! `pending` after [`STALE_AFTER`] (a crash mid-send) is taken over by the next firing, again
//! conditionally: at-least-once in that one case. A delivery `failed` for a reason that may
//! pass ([`SendResult::retry_later`]) is taken over the same way by the next firings, until
//! [`MAX_FIRINGS`] have tried it (`docs/delivery-and-access.md`, "The morning digest").

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

/// The record of one delivery (no URL, no secret).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = DeliveryRecord)]
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

/// A claim held: the record and its version.
#[derive(Debug)]
pub struct Claim {
    pub name: String,
    pub record: Record,
    pub etag: String,
}

/// `deliveries/<org_id>/<date>/<channel_id>.json`.
pub fn name(org_id: &OrgId, date: NaiveDate, channel_id: &str) -> String {
    format!("{PREFIX}{org_id}/{date}/{channel_id}.json")
}

fn body(r: &Record) -> Bytes {
    Bytes::from(serde_json::to_vec_pretty(r).expect("record serializes"))
}

fn put(condition: Condition) -> Put {
    let mut p = Put::new("application/json");
    p.condition = condition;
    p
}

/// Claims the delivery of `digest` to `channel`; `Ok(None)` when another run holds or held it.
pub async fn claim(
    storage: &Storage,
    digest: &Digest,
    channel: &Notification,
    now: DateTime<Utc>,
) -> Result<Option<Claim>, StorageError> {
    let name = name(&digest.org_id, digest.date, &channel.id);
    let mut record = Record {
        org_id: digest.org_id.clone(),
        date: digest.date,
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
    };
    match storage
        .put(&name, body(&record), &put(Condition::IfNotExists))
        .await
    {
        Ok(stored) => {
            return Ok(Some(Claim {
                name,
                record,
                etag: stored.etag,
            }));
        }
        Err(StorageError::AlreadyExists(_)) => {}
        Err(e) => return Err(e),
    }
    let Some(existing) = storage.get(&name).await? else {
        return Ok(None);
    };
    let Ok(previous) = serde_json::from_slice::<Record>(&existing.body) else {
        return Ok(None);
    };
    let stale = previous.state == State::Pending && now - previous.claimed_at > STALE_AFTER;
    let retry = previous.state == State::Failed && previous.retry_later;
    if !stale && !retry {
        return Ok(None);
    }
    record.attempts = previous.attempts;
    record.firings = previous.firings.max(1) + 1;
    record.takeovers = previous.takeovers + u32::from(stale);
    match storage
        .put(
            &name,
            body(&record),
            &put(Condition::IfMatch(existing.etag)),
        )
        .await
    {
        Ok(stored) => Ok(Some(Claim {
            name,
            record,
            etag: stored.etag,
        })),
        Err(StorageError::ConditionFailed(_) | StorageError::NotFound(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Records how the send went, over the claim's own version.
pub async fn finish(
    storage: &Storage,
    claim: Claim,
    result: &SendResult,
    now: DateTime<Utc>,
) -> Result<Record, StorageError> {
    let mut record = claim.record;
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
            body(&record),
            &put(Condition::IfMatch(claim.etag)),
        )
        .await?;
    Ok(record)
}

/// Where a page of [`list`] starts: after the record of this date and channel. Written
/// `<date>/<channel_id>` (`2025-12-01/ops`) as the `next_cursor` of `GET /api/deliveries`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct After {
    pub date: NaiveDate,
    pub channel_id: String,
}

impl After {
    /// Reads `<date>/<channel_id>`; `None` when it is not that.
    pub fn parse(value: &str) -> Option<Self> {
        let (date, channel_id) = value.split_once('/')?;
        let date = crate::time::parse_date(date, "cursor").ok()?;
        (!channel_id.is_empty() && !channel_id.contains('/')).then(|| Self {
            date,
            channel_id: channel_id.to_string(),
        })
    }
}

impl std::fmt::Display for After {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.date, self.channel_id)
    }
}

/// One page of [`list`].
#[derive(Debug)]
pub struct Listing {
    pub records: Vec<Record>,
    /// Where the next page starts; `None` on the last.
    pub next: Option<After>,
}

/// The records of `org_id` for dates in `[from, to]` after `after`, by date then channel id:
/// at most `limit`, with where to go on when more follow (`docs/access-and-safety.md`,
/// "Bounded for every caller"). The names under the org's prefix are listed (1000 per call,
/// no blob read); at most `limit` records are read. A record that vanished or cannot be read
/// is left out of its page (the page is then shorter), never out of the order.
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
                .and_then(|(date, channel_id)| {
                    Some(After {
                        date: date.parse().ok()?,
                        channel_id: channel_id.to_string(),
                    })
                });
            let Some(key) = key else { continue };
            if key.channel_id.contains('/')
                || from.is_some_and(|f| key.date < f)
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
            && let Ok(r) = serde_json::from_slice::<Record>(&o.body)
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
        ] {
            assert_eq!(After::parse(bad), None, "{bad}");
        }
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
            let r: Record = serde_json::from_value(stored).unwrap();
            assert_eq!((r.state, r.firings, r.retry_later), (state, 0, false));
            assert_eq!(serde_json::to_value(&r).unwrap()["state"], text);
        }
        let unknown = serde_json::json!({"org_id": "01951f56-8c6e-7a93-a971-3d06a81a1ab0", "date": "2025-12-01", "channel_id": "c",
            "kind": "webhook", "state": "lost", "claimed_at": "2025-12-02T06:00:00Z"});
        assert!(serde_json::from_value::<Record>(unknown).is_err());
    }
}
