//! Re-checking recent days (`docs/revisions.md`, "Re-checking recent days"): a stored report
//! whose data changed since it was made is regenerated as a new revision.
//!
//! For each active org, [`recheck`] lists the stored reports of its last `days` ended local
//! days (one listing; each carries its fingerprint in metadata), asks ClickHouse for the
//! current fingerprints of those days in **one** query (`provenance::fetch_fingerprints`), and
//! regenerates only the days whose fingerprint differs (or is unknown: a report stored before
//! provenance). The new report replaces the current one through [`snapshots::revise`]: only
//! over the version read, after keeping it, so two firings at once make one revision. Older
//! days are settled: only a forced backfill changes them.

use std::time::Instant;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use futures::StreamExt;

use super::GenerateError;
use super::provenance::{Fingerprint, fetch_fingerprints};
use super::report::{self, DailyReport};
use super::schedule::{CONCURRENCY, OrgRun};
use super::snapshots::{self, SnapshotError};
use crate::app::App;
use crate::orgs::Organization;

/// A stored report replaced by a new revision because its data changed.
#[derive(Debug, Clone)]
pub struct Revised {
    pub org: Organization,
    pub date: NaiveDate,
    /// The revision it replaced, as it was stored.
    pub previous: DailyReport,
    /// The new revision, as stored (`metadata.revision`, `metadata.supersedes`).
    pub current: DailyReport,
}

/// The days [`recheck`] looks at for `org` at `now`: its last `days` local days that have
/// ended, oldest first (`None` when `days` is 0).
pub fn recheck_window(
    org: &Organization,
    now: DateTime<Utc>,
    days: u32,
) -> Option<(NaiveDate, NaiveDate)> {
    let to = org.yesterday(now);
    (days > 0).then(|| (to - Duration::days(i64::from(days) - 1), to))
}

/// Re-checks each org's last `days` stored days, `CONCURRENCY` orgs at a time, starting no
/// regeneration after `deadline`. Adds each revised date to its org's run in `runs`
/// (`OrgRun::revised`; an org without a run gets one) and returns the revisions made, for
/// the corrections. A failure (ClickHouse, storage) is logged and leaves the day for the next
/// firing; it never fails the run.
pub async fn recheck(
    app: &App,
    orgs: &[Organization],
    days: u32,
    now: DateTime<Utc>,
    deadline: Instant,
    runs: &mut Vec<OrgRun>,
) -> Vec<Revised> {
    // Owned values in each task: the handler's server future must stay `Send`.
    let results: Vec<(Organization, Result<Vec<Revised>, GenerateError>)> =
        futures::stream::iter(orgs.iter().cloned())
            .map(|org| {
                let app = app.clone();
                async move {
                    let result = recheck_org(&app, &org, days, now, deadline).await;
                    (org, result)
                }
            })
            .buffer_unordered(CONCURRENCY)
            .collect()
            .await;
    let mut revised = Vec::new();
    for (org, result) in results {
        match result {
            Ok(list) => {
                if list.is_empty() {
                    continue;
                }
                let run = match runs.iter_mut().position(|r| r.org_id == org.org_id) {
                    Some(i) => &mut runs[i],
                    None => {
                        runs.push(OrgRun::new(&org));
                        runs.last_mut().expect("just pushed")
                    }
                };
                run.revised.extend(list.iter().map(|r| r.date));
                revised.extend(list);
            }
            Err(e) => {
                tracing::warn!(org_id = %org.org_id, error = %e,
                    "re-checking recent reports failed; the next firing tries again");
            }
        }
    }
    revised
}

/// One org's re-check: one listing, at most one fingerprint query, a regeneration per
/// changed day.
async fn recheck_org(
    app: &App,
    org: &Organization,
    days: u32,
    now: DateTime<Utc>,
    deadline: Instant,
) -> Result<Vec<Revised>, GenerateError> {
    let Some((from, to)) = recheck_window(org, now, days) else {
        return Ok(Vec::new());
    };
    let ch = app.clickhouse.as_ref().ok_or(GenerateError::NoClickHouse)?;
    let stored = snapshots::existing_dates(&app.storage, &org.org_id, from, to).await?;
    if stored.is_empty() {
        return Ok(Vec::new());
    }
    let (now_counted, _) = fetch_fingerprints(ch, org, from, to).await?;
    let none = Fingerprint::from_columns(0, 0, 0);
    let mut revised = Vec::new();
    for (date, listed) in stored {
        let counted = now_counted.get(&date).copied().unwrap_or(none);
        if listed.fingerprint == Some(counted) {
            continue;
        }
        if Instant::now() >= deadline {
            tracing::warn!(org_id = %org.org_id, %date,
                "re-check deferred: the run's time ran out");
            break;
        }
        let current = match snapshots::read(&app.storage, &org.org_id, date).await {
            Ok(Some(current)) => current,
            Ok(None) | Err(SnapshotError::Unreadable { .. }) => continue,
            Err(SnapshotError::Storage(e)) => return Err(e.into()),
        };
        let report = report::generate(ch, org, date, now).await?;
        let unchanged = current
            .report
            .metadata
            .provenance
            .as_ref()
            .map(|p| p.fingerprint)
            == report.metadata.provenance.as_ref().map(|p| p.fingerprint);
        if unchanged {
            // Revised meanwhile by another firing, which read what this one reads now.
            continue;
        }
        if let Some(stored) =
            snapshots::revise(&app.storage, &org.org_id, date, &report, &current).await?
        {
            tracing::info!(org_id = %org.org_id, %date, revision = stored.metadata.revision,
                "report revised: its data changed");
            revised.push(Revised {
                org: org.clone(),
                date,
                previous: current.report,
                current: stored,
            });
        }
    }
    Ok(revised)
}
