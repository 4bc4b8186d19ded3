//! Report snapshots in storage (`docs/daily-report.md`, "Storage": Blob Storage replaces the old
//! daily-report backend's SQLite table `daily_reports`):
//! one document per (org, local date) at `reports/{org_id}/{YYYY-MM-DD}.json`, with the
//! headline KPIs in its metadata ([`super::summary::ReportSummary`]) so listings read no report.
//!
//! Writes are create-only (`If-None-Match: *`); a report is replaced only by a new revision
//! (`docs/revisions.md`): forced, or because its data changed ([`revise`]), and then only over
//! the version just read (`If-Match`), after the replaced revision was kept, create-only, at
//! `reports/{org_id}/{YYYY-MM-DD}/rev-{n}.json` ([`revision_name`]). Two concurrent writers of
//! one (org, date) therefore leave exactly one whole report, and no revision is ever lost or
//! overwritten. The current revision's number and fingerprint are in its blob metadata
//! ([`REVISION`], [`FINGERPRINT`]), so a listing tells what to re-check.

use std::collections::BTreeMap;
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable as _};
use bytes::Bytes;
use chrono::{DateTime, FixedOffset, NaiveDate};
use serde::Serialize;

use super::provenance::{Fingerprint, Supersedes};
use super::report::DailyReport;
use crate::orgs::OrgId;
use crate::storage::{Condition, Object, Put, Storage, StorageError, Stored};

/// The prefix of an org's reports.
pub fn org_prefix(org_id: &OrgId) -> String {
    format!("reports/{org_id}/")
}

/// The name of one report (its current revision).
pub fn name(org_id: &OrgId, date: NaiveDate) -> String {
    format!("{}{date}.json", org_prefix(org_id))
}

/// Where revision `revision` of a date is kept once a newer one replaced it.
pub fn revision_name(org_id: &OrgId, date: NaiveDate, revision: u32) -> String {
    format!("{}{date}/rev-{revision}.json", org_prefix(org_id))
}

/// The metadata key of a stored report's revision number (absent: 1).
pub const REVISION: &str = "revision";

/// The metadata key of a stored report's fingerprint ([`Fingerprint::to_key`]; absent for a
/// report stored before provenance).
pub const FINGERPRINT: &str = "fingerprint";

/// The blob metadata of `report`: its headline KPIs, revision and fingerprint.
fn metadata_of(report: &DailyReport) -> BTreeMap<String, String> {
    let mut metadata = super::summary::ReportSummary::of(report).to_metadata();
    metadata.insert(REVISION.into(), report.metadata.revision.to_string());
    if let Some(p) = &report.metadata.provenance {
        metadata.insert(FINGERPRINT.into(), p.fingerprint.to_key());
    }
    metadata
}

/// What a stored report's metadata says of it (a listing entry's or an object's).
#[derive(Debug, Clone, PartialEq)]
pub struct Listed {
    /// `generated_at` (`None` when missing or unreadable).
    pub generated_at: Option<DateTime<FixedOffset>>,
    /// Its revision (1 when not recorded).
    pub revision: u32,
    /// Its fingerprint (`None`: stored before provenance, unknown).
    pub fingerprint: Option<Fingerprint>,
}

impl Listed {
    /// Reads the metadata of a stored report.
    pub fn of(metadata: &BTreeMap<String, String>) -> Self {
        Listed {
            generated_at: metadata
                .get("generated_at")
                .and_then(|v| DateTime::parse_from_rfc3339(v).ok()),
            revision: metadata
                .get(REVISION)
                .and_then(|v| v.parse().ok())
                .unwrap_or(1),
            fingerprint: metadata
                .get(FINGERPRINT)
                .and_then(|v| Fingerprint::from_key(v)),
        }
    }
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
    org_id: &OrgId,
    date: NaiveDate,
    report: &DailyReport,
    force: bool,
) -> Result<(Written, Stored), StorageError> {
    let name = name(org_id, date);
    let body = Bytes::from(serde_json::to_vec_pretty(report).expect("report serializes"));
    let write_id = uuid::Uuid::new_v4().to_string();
    let mut put = Put::new("application/json");
    put.metadata = metadata_of(report);
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
        let (_, stored) =
            replace_revision(storage, org_id, date, report, current, &write_id).await?;
        Ok((Written::Overwritten, stored))
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

/// Replaces `current` (the object now at [`name`]) by `report` as the next revision: keeps
/// `current` at its [`revision_name`] (create-only: a copy already there is the same revision),
/// then writes `report` with `revision` one more and `supersedes` naming `current`, only if
/// the stored version is still `current`'s ([`StorageError::ConditionFailed`] otherwise).
/// Returns the document as stored.
async fn replace_revision(
    storage: &Storage,
    org_id: &OrgId,
    date: NaiveDate,
    report: &DailyReport,
    current: Object,
    write_id: &str,
) -> Result<(DailyReport, Stored), StorageError> {
    let before = Listed::of(&current.metadata);
    let mut keep = Put::new("application/json");
    keep.metadata = current.metadata.clone();
    keep.metadata.remove(WRITE_ID);
    keep.condition = Condition::IfNotExists;
    let kept = revision_name(org_id, date, before.revision);
    match storage.put(&kept, current.body.clone(), &keep).await {
        Ok(_) | Err(StorageError::AlreadyExists(_)) => {}
        Err(e) => return Err(e),
    }
    let mut next = report.clone();
    next.metadata.revision = before.revision + 1;
    next.metadata.supersedes = Some(Supersedes {
        revision: before.revision,
        generated_at: before.generated_at.unwrap_or(report.metadata.generated_at),
        fingerprint: before.fingerprint,
    });
    let body = Bytes::from(serde_json::to_vec_pretty(&next).expect("report serializes"));
    let mut put = Put::new("application/json");
    put.metadata = metadata_of(&next);
    put.metadata.insert(WRITE_ID.into(), write_id.to_string());
    put.condition = Condition::IfMatch(current.etag);
    let name = name(org_id, date);
    match storage.put(&name, body, &put).await {
        Ok(stored) => Ok((next, stored)),
        Err(StorageError::NotFound(_)) => Err(StorageError::ConditionFailed(name)),
        Err(e) => Err(e),
    }
}

/// Stores `report` as the next revision of `(org_id, date)` when the stored report is still
/// `current` (what the caller read and compared; `docs/revisions.md`, "Re-checking recent
/// days"). `Ok(Some(stored))`: the revision as stored (its number, `supersedes`);
/// `Ok(None)`: the stored report changed since `current` was read (another firing revised
/// it; two firings make one revision), and nothing was written over it.
pub async fn revise(
    storage: &Storage,
    org_id: &OrgId,
    date: NaiveDate,
    report: &DailyReport,
    current: &StoredReport,
) -> Result<Option<DailyReport>, StorageError> {
    let object = Object {
        body: current.body.clone(),
        etag: current.etag.clone(),
        content_type: current.content_type.clone(),
        metadata: current.metadata.clone(),
    };
    let write_id = uuid::Uuid::new_v4().to_string();
    match replace_revision(storage, org_id, date, report, object, &write_id).await {
        Ok((stored, _)) => Ok(Some(stored)),
        Err(StorageError::ConditionFailed(_)) => Ok(None),
        Err(e) => Err(e),
    }
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
    /// Its blob metadata (headline KPIs, [`REVISION`], [`FINGERPRINT`]).
    pub metadata: BTreeMap<String, String>,
}

impl StoredReport {
    /// SHA-256 (hex) of the document as stored: a digest's `report_sha256`.
    pub fn sha256(&self) -> String {
        super::provenance::sha256_hex(&self.body)
    }
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
    org_id: &OrgId,
    date: NaiveDate,
) -> Result<Option<StoredReport>, SnapshotError> {
    read_named(storage, name(org_id, date)).await
}

/// Reads revision `revision` of `(org_id, date)`: the current report when that is its
/// revision, else the kept one ([`revision_name`]). `Ok(None)` when there is no such revision.
pub async fn read_revision(
    storage: &Storage,
    org_id: &OrgId,
    date: NaiveDate,
    revision: u32,
) -> Result<Option<StoredReport>, SnapshotError> {
    if let Some(kept) = read_named(storage, revision_name(org_id, date, revision)).await? {
        return Ok(Some(kept));
    }
    Ok(read(storage, org_id, date)
        .await?
        .filter(|current| current.report.metadata.revision == revision))
}

async fn read_named(
    storage: &Storage,
    name: String,
) -> Result<Option<StoredReport>, SnapshotError> {
    let Some(object) = storage.get(&name).await? else {
        return Ok(None);
    };
    match serde_json::from_slice(&object.body) {
        Ok(report) => Ok(Some(StoredReport {
            report,
            etag: object.etag,
            content_type: object.content_type,
            body: object.body,
            metadata: object.metadata,
        })),
        Err(cause) => {
            tracing::error!(%name, error = %cause, "stored report unreadable");
            Err(SnapshotError::Unreadable { name, cause })
        }
    }
}

/// One revision of a date, as `snapshots::revisions` lists it.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct RevisionEntry {
    #[schema(minimum = 1)]
    pub revision: u32,
    /// When it was generated, RFC 3339 in the org's zone; null when its blob does not say.
    #[schema(value_type = Option<String>, format = DateTime)]
    #[serde(serialize_with = "serialize_time")]
    pub generated_at: Option<DateTime<FixedOffset>>,
    /// What it counted; null for a report stored before provenance.
    pub fingerprint: Option<Fingerprint>,
    /// Its headline KPIs.
    pub summary: super::summary::ReportSummary,
    /// Whether it is the current revision (the one `GET /api/reports/{date}` serves).
    pub current: bool,
}

fn serialize_time<S: serde::Serializer>(
    t: &Option<DateTime<FixedOffset>>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => s.serialize_str(&super::report::rfc3339_secs::format(t)),
        None => s.serialize_none(),
    }
}

/// Every revision of `(org_id, date)`, newest first, from one listing (the current report and
/// the kept ones share the prefix `reports/{org_id}/{date}`). Empty when there is no report.
pub async fn revisions(
    storage: &Storage,
    org_id: &OrgId,
    date: NaiveDate,
) -> Result<Vec<RevisionEntry>, StorageError> {
    let current = name(org_id, date);
    let kept = format!("{}{date}/rev-", org_prefix(org_id));
    let prefix = format!("{}{date}", org_prefix(org_id));
    let mut out = Vec::new();
    let mut continuation = None;
    loop {
        let page = storage.list(&prefix, continuation, 5000).await?;
        for e in &page.entries {
            let is_current = e.name == current;
            if !is_current && !e.name.starts_with(&kept) {
                continue;
            }
            let listed = Listed::of(&e.metadata);
            out.push(RevisionEntry {
                revision: listed.revision,
                generated_at: listed.generated_at,
                fingerprint: listed.fingerprint,
                summary: super::summary::ReportSummary::from_metadata(&e.metadata),
                current: is_current,
            });
        }
        match page.next {
            Some(next) => continuation = Some(next),
            None => break,
        }
    }
    out.sort_by(|a, b| b.revision.cmp(&a.revision).then(b.current.cmp(&a.current)));
    out.dedup_by_key(|e| e.revision);
    Ok(out)
}

/// The dates of `org_id` that have a snapshot within `[from, to]`, each with what its
/// metadata says ([`Listed`]: when it was generated, its revision and fingerprint). Listing
/// only; kept revisions are not dates.
pub async fn existing_dates(
    storage: &Storage,
    org_id: &OrgId,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<BTreeMap<NaiveDate, Listed>, StorageError> {
    let prefix = org_prefix(org_id);
    let mut dates = BTreeMap::new();
    let mut continuation = None;
    loop {
        let page = storage.list(&prefix, continuation, 5000).await?;
        dates.extend(page.entries.iter().filter_map(|e| {
            let date = date_of(&prefix, &e.name).filter(|d| (from..=to).contains(d))?;
            Some((date, Listed::of(&e.metadata)))
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
        let id = OrgId::parse("01951f56-8c6e-7a93-a971-3d06a81a1ab0", "org_id").unwrap();
        let n = name(&id, d);
        assert_eq!(
            n,
            "reports/01951f56-8c6e-7a93-a971-3d06a81a1ab0/2025-12-15.json"
        );
        assert_eq!(date_of(&org_prefix(&id), &n), Some(d));
        assert_eq!(date_of("reports/x/", "reports/x/latest.json"), None);
    }
}
