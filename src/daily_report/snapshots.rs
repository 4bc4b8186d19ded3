//! Report snapshots in storage (`docs/daily-report.md`, "Storage": Blob Storage replaces the old
//! daily-report backend's SQLite table `daily_reports`):
//! one document per (org, local date) at `reports/{org_id}/{YYYY-MM-DD}.json`, with the
//! headline KPIs in its metadata ([`super::summary::ReportSummary`]) so listings read no report.
//!
//! Writes are create-only (`If-None-Match: *`); an overwrite happens only when forced, and then
//! only over the version just read (`If-Match`). Two concurrent writers of one (org, date)
//! therefore leave exactly one whole report.

use std::collections::BTreeMap;
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable as _};
use bytes::Bytes;
use chrono::{DateTime, NaiveDate, Utc};

use super::report::DailyReport;
use crate::storage::{Condition, Object, Put, Storage, StorageError, Stored};

/// The prefix of an org's reports.
pub fn org_prefix(org_id: &str) -> String {
    format!("reports/{org_id}/")
}

/// The name of one report.
pub fn name(org_id: &str, date: NaiveDate) -> String {
    format!("{}{date}.json", org_prefix(org_id))
}

/// What a write did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Written {
    /// A new snapshot.
    Created,
    /// `force`: the previous snapshot was replaced.
    Overwritten,
    /// One already existed and `force` was not set; it was left intact.
    Exists,
}

/// How many times a forced write tries to replace the current version before it gives up
/// ([`StorageError::ConditionFailed`]; the route answers 409).
pub const FORCED_ATTEMPTS: usize = 5;

/// The metadata key of the write id: a uuid per [`write()`] call, so that a write whose reply
/// was lost can recognize its own object when its retry finds one.
pub const WRITE_ID: &str = "write_id";

/// Stores `report` for `(org_id, date)`: create-only, or replacing the current version when
/// `force`. A forced write that loses the ETag race to another writer re-reads and retries
/// over the newer version (up to [`FORCED_ATTEMPTS`], with jittered backoff; the last forced
/// writer wins, nobody sees a mix), then fails with [`StorageError::ConditionFailed`].
///
/// Each call tags its object with a fresh write id ([`WRITE_ID`]). When a create-only PUT was
/// stored but its reply lost, the SDK's retry meets the object (409/412); it is reported as
/// this call's write ([`Written::Created`]) when the stored write id is this call's.
pub async fn write(
    storage: &Storage,
    org_id: &str,
    date: NaiveDate,
    report: &DailyReport,
    force: bool,
) -> Result<(Written, Stored), StorageError> {
    let name = name(org_id, date);
    let body = Bytes::from(serde_json::to_vec_pretty(report).expect("report serializes"));
    let write_id = uuid::Uuid::new_v4().to_string();
    let mut put = Put::new("application/json");
    put.metadata = super::summary::ReportSummary::of(report).to_metadata();
    put.metadata.insert(WRITE_ID.into(), write_id.clone());
    put.condition = Condition::IfNotExists;
    match storage.put(&name, body.clone(), &put).await {
        Ok(stored) => return Ok((Written::Created, stored)),
        Err(StorageError::AlreadyExists(_)) => {
            if let Some(current) = storage.get(&name).await?
                && is_ours(&current, &write_id)
            {
                return Ok((Written::Created, stored_as(storage, &name, current)));
            }
            if !force {
                return Ok((
                    Written::Exists,
                    Stored {
                        location: name,
                        etag: String::new(),
                    },
                ));
            }
        }
        Err(e) => return Err(e),
    }
    let overwrite = || async {
        let Some(current) = storage.get(&name).await? else {
            let mut create = put.clone();
            create.condition = Condition::IfNotExists;
            return match storage.put(&name, body.clone(), &create).await {
                Ok(stored) => Ok((Written::Overwritten, stored)),
                Err(StorageError::AlreadyExists(_)) => {
                    Err(StorageError::ConditionFailed(name.clone()))
                }
                Err(e) => Err(e),
            };
        };
        if is_ours(&current, &write_id) {
            // An earlier try of this call was stored; its reply was lost.
            return Ok((Written::Overwritten, stored_as(storage, &name, current)));
        }
        let mut replace = put.clone();
        replace.condition = Condition::IfMatch(current.etag);
        match storage.put(&name, body.clone(), &replace).await {
            Ok(stored) => Ok((Written::Overwritten, stored)),
            Err(StorageError::NotFound(_)) => Err(StorageError::ConditionFailed(name.clone())),
            Err(e) => Err(e),
        }
    };
    let backoff = ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(50))
        .with_max_delay(Duration::from_secs(1))
        .with_jitter()
        .with_max_times(FORCED_ATTEMPTS - 1);
    overwrite
        .retry(backoff)
        .sleep(tokio::time::sleep)
        .when(|e| matches!(e, StorageError::ConditionFailed(_)))
        .notify(|_, pause| {
            tracing::debug!(name = %name, pause_ms = pause.as_millis() as u64,
                "forced report write lost the race; retrying over the newer version");
        })
        .await
}

/// Whether `object` carries `write_id`.
fn is_ours(object: &Object, write_id: &str) -> bool {
    object.metadata.get(WRITE_ID).map(String::as_str) == Some(write_id)
}

/// The [`Stored`] of an object read back (its location as the backend names it).
fn stored_as(storage: &Storage, name: &str, object: Object) -> Stored {
    Stored {
        location: storage.location(name),
        etag: object.etag,
    }
}

/// A stored report, read back and parsed ([`read`]).
#[derive(Debug, Clone)]
pub struct StoredReport {
    /// The document.
    pub report: DailyReport,
    /// Its version: the reply's `ETag`, a forced write's `If-Match`.
    pub etag: String,
    /// As stored: `application/json`.
    pub content_type: Option<String>,
    /// The document as stored (pretty-printed JSON), which `report` was parsed from.
    pub body: Bytes,
}

/// Why a stored report could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// Storage failed (the routes answer 503).
    #[error("storage: {0}")]
    Storage(#[from] StorageError),
    /// The blob is there but is not a report document (the routes answer 500; [`read`] has
    /// logged it).
    #[error("the stored report {name} is unreadable: {cause}")]
    Unreadable {
        /// The blob's name.
        name: String,
        /// What the JSON parser said.
        cause: serde_json::Error,
    },
}

impl SnapshotError {
    /// For readers that show an unreadable report as absent (a dashboard day, a baseline date
    /// of the changes): `Ok(None)` for [`SnapshotError::Unreadable`] (already logged), the
    /// storage error otherwise. Use as `read(..).await.or_else(SnapshotError::as_absent)`.
    pub fn as_absent(self) -> Result<Option<StoredReport>, StorageError> {
        match self {
            Self::Storage(e) => Err(e),
            Self::Unreadable { .. } => Ok(None),
        }
    }
}

/// Reads and parses the report of `(org_id, date)`: the one way a stored report is read.
/// `Ok(None)` when absent; [`SnapshotError::Unreadable`] (logged here, once) when the blob does
/// not parse as a [`DailyReport`].
pub async fn read(
    storage: &Storage,
    org_id: &str,
    date: NaiveDate,
) -> Result<Option<StoredReport>, SnapshotError> {
    let name = name(org_id, date);
    let Some(object) = storage.get(&name).await? else {
        return Ok(None);
    };
    match serde_json::from_slice(&object.body) {
        Ok(report) => Ok(Some(StoredReport {
            report,
            etag: object.etag,
            content_type: object.content_type,
            body: object.body,
        })),
        Err(cause) => {
            tracing::error!(%org_id, %date, error = %cause, "stored report unreadable");
            Err(SnapshotError::Unreadable { name, cause })
        }
    }
}

/// The dates of `org_id` that have a snapshot within `[from, to]`, each with the instant it
/// was generated (its `generated_at` metadata; `None` when missing or unreadable). Listing
/// only.
pub async fn existing_dates(
    storage: &Storage,
    org_id: &str,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<BTreeMap<NaiveDate, Option<DateTime<Utc>>>, StorageError> {
    let prefix = org_prefix(org_id);
    let mut dates = BTreeMap::new();
    let mut continuation = None;
    loop {
        let page = storage.list(&prefix, continuation, 5000).await?;
        dates.extend(page.entries.iter().filter_map(|e| {
            let date = date_of(&prefix, &e.name).filter(|d| (from..=to).contains(d))?;
            let generated_at = e
                .metadata
                .get("generated_at")
                .and_then(|v| DateTime::parse_from_rfc3339(v).ok())
                .map(|t| t.with_timezone(&Utc));
            Some((date, generated_at))
        }));
        match page.next {
            Some(next) => continuation = Some(next),
            None => return Ok(dates),
        }
    }
}

/// The date in a snapshot name under `prefix`, if it is one.
pub fn date_of(prefix: &str, name: &str) -> Option<NaiveDate> {
    name.strip_prefix(prefix)?
        .strip_suffix(".json")?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_dates_round_trip() {
        let d: NaiveDate = "2025-12-15".parse().unwrap();
        let n = name("01951f56-8c6e-7a93-a971-3d06a81a1ab0", d);
        assert_eq!(
            n,
            "reports/01951f56-8c6e-7a93-a971-3d06a81a1ab0/2025-12-15.json"
        );
        assert_eq!(
            date_of(&org_prefix("01951f56-8c6e-7a93-a971-3d06a81a1ab0"), &n),
            Some(d)
        );
        assert_eq!(date_of("reports/x/", "reports/x/latest.json"), None);
    }
}
