//! Which reports are due and generating a set of them (`docs/daily-report.md`, "Schedule").
//!
//! Each org gets yesterday's report (its own local date) once its local time is past
//! `SCHEDULER_HOUR:SCHEDULER_MINUTE`, and missing days up to `CATCHUP_DAYS` back are caught
//! up ([`due_window`]). [`generate_range`] is the one path of the timer's firing
//! (`crate::scheduler::fire`), `generate`, `backfill` and the CLI: existing dates skipped,
//! bounded concurrency, a deadline. One org's failure does not stop the others.

use std::collections::BTreeMap;
use std::time::Instant;

use chrono::{DateTime, Duration, FixedOffset, NaiveDate, NaiveTime, Utc};
use futures::StreamExt;
use serde::{Deserialize, Serialize};

use super::snapshots::{self, Written};
use crate::app::App;
use crate::error::Invalid;
use crate::orgs::{OrgId, Organization};

/// Reports generated at once, by default (timer, `generate`, `backfill`).
pub const CONCURRENCY: usize = 4;

/// Report listings (one per org) made at once before generating: a firing over 1,000 orgs
/// spent 18 s listing them one after another, 1.9 s 16 at a time (`scripts/bench/timer-1000`,
/// its README's figures).
pub const LISTING_CONCURRENCY: usize = 16;

/// How a set of reports is generated ([`generate_range`]).
#[derive(Debug, Clone)]
pub struct GenerateOptions {
    /// Replace reports that exist (else they are skipped).
    pub force: bool,
    /// Reports generated at once (at least 1).
    pub concurrency: usize,
    /// No report starts after this instant, and none runs past it by more than [`GRACE`].
    pub deadline: Option<Instant>,
    /// The generation time written into each report's metadata.
    pub now: DateTime<Utc>,
}

impl GenerateOptions {
    /// Create-only, [`CONCURRENCY`] at a time, no deadline.
    pub fn new(now: DateTime<Utc>) -> Self {
        Self {
            force: false,
            concurrency: CONCURRENCY,
            deadline: None,
            now,
        }
    }
}

/// The latest local date of `org` whose report is due at `now`: yesterday once local time is
/// past `at`, else the day before.
pub fn latest_due(org: &Organization, now: DateTime<Utc>, at: NaiveTime) -> NaiveDate {
    let yesterday = org.yesterday(now);
    if now.with_timezone(&org.timezone).time() >= at {
        yesterday
    } else {
        yesterday - Duration::days(1)
    }
}

/// The dates a firing at `now` must make sure exist: the `catchup_days` dates ending with
/// [`latest_due`] (at least one).
pub fn due_window(
    org: &Organization,
    now: DateTime<Utc>,
    at: NaiveTime,
    catchup_days: u32,
) -> (NaiveDate, NaiveDate) {
    let last = latest_due(org, now, at);
    (
        last - Duration::days(i64::from(catchup_days.max(1)) - 1),
        last,
    )
}

/// Whether `date`, a local date in `org`'s zone, had ended at `now`: a report is the record of
/// a finished local day (`docs/access-and-safety.md`, "No report for a day that has not
/// ended").
pub fn has_ended(org: &Organization, date: NaiveDate, now: DateTime<Utc>) -> bool {
    date < now.with_timezone(&org.timezone).date_naive()
}

/// [`Invalid`] naming `field` unless `date` had ended at `now` in the zone of every org of
/// `orgs` (the check of `generate`, `backfill` and the CLI before anything is generated).
pub fn check_ended(
    orgs: &[Organization],
    date: NaiveDate,
    now: DateTime<Utc>,
    field: &str,
) -> Result<(), Invalid> {
    match orgs.iter().find(|org| !has_ended(org, date, now)) {
        None => Ok(()),
        Some(org) => Err(Invalid::new(
            field,
            format!(
                "{field} {date} has not ended in {} (organization {}): a report is made only \
                 for a finished local day",
                org.timezone.name(),
                org.org_id
            ),
        )),
    }
}

/// Whether a stored report generated at `generated_at` was made before its day ended (by an
/// earlier version that allowed it): such a report is replaced when its day is due. A report
/// without a readable `generated_at` is taken as complete.
pub fn premature(
    org: &Organization,
    date: NaiveDate,
    generated_at: Option<DateTime<FixedOffset>>,
) -> bool {
    let day_end = crate::time::local_midnight(date + Duration::days(1), org.timezone);
    generated_at.is_some_and(|t| t < day_end)
}

/// One failed date.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct Failure {
    pub date: NaiveDate,
    /// Safe to show a caller ([`super::GenerateError::public_message`]).
    pub error: String,
    /// Why it failed, for the adapter's status (`functions/reports_http/errors.rs`); not
    /// serialized (a run read back from storage has the default).
    #[serde(skip)]
    pub cause: FailureCause,
}

/// Why a date failed, as a cause a caller can act on; the HTTP adapter maps it to a status
/// once (`functions/reports_http/errors.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FailureCause {
    /// The org's local day had not ended.
    NotEnded,
    /// The ClickHouse query ran over its time limit.
    Timeout,
    /// A forced overwrite kept losing the race for the report to other writers.
    Contended,
    /// ClickHouse or storage is unavailable or not configured.
    #[default]
    Unavailable,
}

/// What a run did for one org.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct OrgRun {
    pub org_id: OrgId,
    pub org_name: String,
    /// Newly stored (or, with `force`, replaced) reports.
    pub generated: Vec<NaiveDate>,
    /// Dates that already had a report.
    pub skipped: Vec<NaiveDate>,
    #[schema(inline)]
    pub failed: Vec<Failure>,
    /// Dates not attempted because the run's deadline came first (resume from here); present
    /// only when not empty.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    #[schema(min_items = 1)]
    pub not_attempted: Vec<NaiveDate>,
    /// Stored dates whose data changed, regenerated as a new revision by the re-check
    /// (`docs/revisions.md`); present only when not empty.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    #[schema(min_items = 1)]
    pub revised: Vec<NaiveDate>,
}

impl OrgRun {
    /// `org`'s run before anything was done.
    pub fn new(org: &Organization) -> Self {
        OrgRun {
            org_id: org.org_id.clone(),
            org_name: org.name.clone(),
            generated: Vec::new(),
            skipped: Vec::new(),
            failed: Vec::new(),
            not_attempted: Vec::new(),
            revised: Vec::new(),
        }
    }
}

/// After the deadline, how long reports already running may still finish before they are
/// abandoned (reported `not_attempted`).
pub const GRACE: std::time::Duration = std::time::Duration::from_secs(50);

/// What is due of `[from, to]` for each org (`range`), decided once for every caller
/// ([`generate_range`], and the timer's firing with a work queue, `crate::scheduler::fire`):
/// one listing per org (unless `force`), dates stored and complete skipped, dates whose local
/// day had not ended failed ([`FailureCause::NotEnded`]), a listing that fails recorded as the
/// org's failure.
pub async fn plan_range(
    app: &App,
    orgs: &[Organization],
    range: impl Fn(&Organization) -> (NaiveDate, NaiveDate),
    force: bool,
    now: DateTime<Utc>,
) -> Plan {
    // One listing per org (unless `force`), LISTING_CONCURRENCY at a time: the existing
    // dates decide what is skipped.
    let listings: Vec<_> = futures::stream::iter(orgs.iter().cloned())
        .map(|org| {
            let (from, to) = range(&org);
            let storage = app.storage.clone();
            async move {
                let existing = if force {
                    Ok(Default::default())
                } else {
                    snapshots::existing_dates(&storage, &org.org_id, from, to).await
                };
                (org, from, to, existing)
            }
        })
        .buffered(LISTING_CONCURRENCY)
        .collect()
        .await;
    let mut runs: BTreeMap<OrgId, OrgRun> = BTreeMap::new();
    // (org, date, whether to replace a stored report).
    let mut tasks: Vec<(Organization, NaiveDate, bool)> = Vec::new();
    for (org, from, to, existing) in listings {
        let run = runs
            .entry(org.org_id.clone())
            .or_insert_with(|| OrgRun::new(&org));
        let existing = match existing {
            Ok(d) => d,
            Err(e) => {
                tracing::error!(org_id = %org.org_id, error = %e, "listing reports failed");
                run.failed.push(Failure {
                    date: from,
                    error: "listing reports: storage is unavailable; try again later".into(),
                    cause: FailureCause::Unavailable,
                });
                continue;
            }
        };
        for date in from.iter_days().take_while(|d| *d <= to) {
            if !has_ended(&org, date, now) {
                run.failed.push(Failure {
                    date,
                    error: "the local day has not ended".into(),
                    cause: FailureCause::NotEnded,
                });
                continue;
            }
            match existing.get(&date) {
                Some(listed) if !premature(&org, date, listed.generated_at) => {
                    run.skipped.push(date)
                }
                Some(_) => tasks.push((org.clone(), date, true)),
                None => tasks.push((org.clone(), date, force)),
            }
        }
    }
    Plan { runs, tasks }
}

/// The due work of [`plan_range`].
#[derive(Debug)]
pub struct Plan {
    /// Each org's run so far (skipped and failed dates), by org id.
    pub runs: BTreeMap<OrgId, OrgRun>,
    /// (org, date, whether to replace a stored report): what remains to generate.
    pub tasks: Vec<(Organization, NaiveDate, bool)>,
}

/// Generates `[from, to]` for each org: dates with a snapshot are skipped (one listing per
/// org) unless `force`; the rest run `concurrency` at a time. A date whose local day had not
/// ended at `now` is never generated ([`FailureCause::NotEnded`]; the routes refuse it first),
/// and a snapshot generated before its day ended is replaced ([`premature`]). No task starts after
/// `deadline`, and none runs past `deadline + GRACE` (so a backfill with a 150 s budget answers
/// within 200 s, inside the Functions front end's 230 s). `progress(done, total)` is called as
/// tasks finish.
pub async fn generate_range(
    app: &App,
    orgs: &[Organization],
    range: impl Fn(&Organization) -> (NaiveDate, NaiveDate),
    opts: &GenerateOptions,
    progress: impl Fn(usize, usize),
) -> Vec<OrgRun> {
    let GenerateOptions {
        force,
        concurrency,
        deadline,
        now,
    } = *opts;
    let Plan { mut runs, tasks } = plan_range(app, orgs, range, force, now).await;
    let total = tasks.len();
    let tasks_keys: Vec<(OrgId, NaiveDate)> = tasks
        .iter()
        .map(|(o, d, _)| (o.org_id.clone(), *d))
        .collect();
    let mut done = 0;
    progress(0, total);
    let mut results = futures::stream::iter(tasks)
        .map(|(org, date, force)| {
            let app = app.clone();
            async move {
                if deadline.is_some_and(|d| Instant::now() >= d) {
                    return (org, date, None);
                }
                let outcome = super::generate_and_store(&app, &org, date, force, now).await;
                (org, date, Some(outcome))
            }
        })
        .buffer_unordered(concurrency.max(1));
    let mut pending: std::collections::BTreeSet<(OrgId, NaiveDate)> =
        tasks_keys.into_iter().collect();
    loop {
        let next = match deadline {
            None => results.next().await,
            Some(d) => match tokio::time::timeout_at((d + GRACE).into(), results.next()).await {
                Ok(next) => next,
                Err(_) => {
                    // Abandon what is still running: a report is written whole or not at all,
                    // and the next run (or call) picks these dates up again.
                    tracing::warn!(
                        abandoned = pending.len(),
                        "deadline passed; reports in flight abandoned"
                    );
                    for (org_id, date) in &pending {
                        runs.get_mut(org_id)
                            .expect("every org has a run")
                            .not_attempted
                            .push(*date);
                    }
                    break;
                }
            },
        };
        let Some((org, date, outcome)) = next else {
            break;
        };
        pending.remove(&(org.org_id.clone(), date));
        let run = runs.get_mut(&org.org_id).expect("every org has a run");
        match outcome {
            None => run.not_attempted.push(date),
            Some(Ok(Written::Exists)) => run.skipped.push(date),
            Some(Ok(_)) => run.generated.push(date),
            Some(Err(e)) => {
                tracing::error!(org_id = %org.org_id, %date, error = %e, "report generation failed");
                run.failed.push(Failure {
                    date,
                    error: e.public_message(),
                    cause: e.cause(),
                });
            }
        }
        done += 1;
        progress(done, total);
    }
    let mut runs: Vec<OrgRun> = runs.into_values().collect();
    for run in &mut runs {
        run.generated.sort();
        run.skipped.sort();
        run.failed.sort_by_key(|f| f.date);
        run.not_attempted.sort();
    }
    runs
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn org(tz: chrono_tz::Tz) -> Organization {
        let t = Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).unwrap();
        Organization {
            org_id: OrgId::parse("00000000-0000-0000-0000-000000000001", "org_id").unwrap(),
            name: "o".into(),
            node_persistent_id: "n".into(),
            timezone: tz,
            is_active: true,
            excluded_numbers: vec![],
            notifications: vec![],
            created_at: t,
            updated_at: t,
        }
    }

    #[test]
    fn yesterday_is_due_only_after_the_local_hour() {
        let six = NaiveTime::from_hms_opt(6, 0, 0).unwrap();
        let chicago = org(chrono_tz::America::Chicago);
        // 11:59 UTC = 05:59 CST on Dec 16: Dec 15 not yet due.
        let before = Utc.with_ymd_and_hms(2025, 12, 16, 11, 59, 0).unwrap();
        assert_eq!(latest_due(&chicago, before, six).to_string(), "2025-12-14");
        let after = Utc.with_ymd_and_hms(2025, 12, 16, 12, 0, 0).unwrap();
        assert_eq!(latest_due(&chicago, after, six).to_string(), "2025-12-15");
        // The same instant is already Dec 16 evening in Kolkata.
        let kolkata = org(chrono_tz::Asia::Kolkata);
        assert_eq!(latest_due(&kolkata, before, six).to_string(), "2025-12-15");
    }

    #[test]
    fn the_catch_up_window_ends_with_the_latest_due_date() {
        let six = NaiveTime::from_hms_opt(6, 0, 0).unwrap();
        let now = Utc.with_ymd_and_hms(2025, 12, 16, 12, 0, 0).unwrap();
        let (from, to) = due_window(&org(chrono_tz::UTC), now, six, 7);
        assert_eq!(
            (from.to_string(), to.to_string()),
            ("2025-12-09".into(), "2025-12-15".into())
        );
        let (from, to) = due_window(&org(chrono_tz::UTC), now, six, 0);
        assert_eq!(from, to);
    }
}
