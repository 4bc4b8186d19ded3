//! The scheduler (`docs/daily-report.md`, "Schedule"): which reports are due, generating a
//! set of them, and the state of the timer's firings.
//!
//! Each org gets yesterday's report (its own local date) once its local time is past
//! `SCHEDULER_HOUR:SCHEDULER_MINUTE`, and missing days up to `CATCHUP_DAYS` back are caught
//! up. One org's failure does not stop the others. A firing ([`fire`]) records its
//! [`RunResult`] at [`LAST_RUN`] for `GET /api/scheduler/status`. The timer trigger's
//! invocation protocol is not here: it is `functions::daily_report_timer`.

use std::collections::BTreeMap;
use std::time::Instant;

use bytes::Bytes;
use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Utc};
use futures::StreamExt;
use serde::{Deserialize, Serialize};

use super::snapshots::{self, Written};
use crate::app::App;
use crate::orgs::{self, Organization};
use crate::storage::{Put, Storage, StorageError};

/// Where the last firing's [`RunResult`] is kept.
pub const LAST_RUN: &str = "scheduler/last_run.json";

/// A firing stops starting new reports after this long (the Functions timeout is 10 min).
pub const RUN_BUDGET: std::time::Duration = std::time::Duration::from_secs(8 * 60);

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

/// One failed date.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq)]
pub struct Failure {
    pub date: NaiveDate,
    /// Safe to show a caller ([`super::GenerateError::public_message`]).
    pub error: String,
    /// The HTTP status this failure stands for ([`super::GenerateError::status`]).
    #[serde(skip)]
    pub status: u16,
}

/// What a run did for one org.
#[derive(Debug, Clone, Default, Serialize, serde::Deserialize, PartialEq)]
pub struct OrgRun {
    pub org_id: String,
    pub org_name: String,
    /// Newly stored (or, with `force`, replaced) reports.
    pub generated: Vec<NaiveDate>,
    /// Dates that already had a report.
    pub skipped: Vec<NaiveDate>,
    pub failed: Vec<Failure>,
    /// Dates not attempted because the run's deadline came first (resume from here).
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub not_attempted: Vec<NaiveDate>,
}

/// How a firing ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Every org has its due reports.
    Succeeded,
    /// Some org failed; the others have theirs.
    Partial,
    /// The orgs could not be read, or every org failed.
    Failed,
}

impl RunStatus {
    /// `succeeded`, `partial` or `failed`, as serialized.
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Succeeded => "succeeded",
            RunStatus::Partial => "partial",
            RunStatus::Failed => "failed",
        }
    }
}

/// The result of one firing (the timer's `ReturnValue`, and the document at [`LAST_RUN`]).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunResult {
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub is_past_due: bool,
    pub status: RunStatus,
    pub orgs: Vec<OrgRun>,
    /// Why the whole run failed, when it did before reaching the orgs.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub error: Option<String>,
    /// The morning digests this run sent or failed to send ([`crate::delivery`]).
    #[serde(default)]
    pub deliveries: Vec<crate::delivery::DeliveryOutcome>,
}

/// One firing at `now`: every active org's due reports (create-only, within [`RUN_BUDGET`]),
/// then the result recorded at [`LAST_RUN`] (a failure to record it is logged, not fatal).
pub async fn fire(app: &App, now: DateTime<Utc>, is_past_due: bool) -> RunResult {
    let started = Instant::now();
    let settings = &app.settings;
    let at = NaiveTime::from_hms_opt(settings.scheduler_hour, settings.scheduler_minute, 0)
        .expect("validated");
    let mut result = RunResult {
        started_at: now,
        finished_at: now,
        is_past_due,
        status: RunStatus::Failed,
        orgs: vec![],
        error: None,
        deliveries: vec![],
    };
    match orgs::list(&app.storage).await {
        Err(e) => {
            tracing::error!(error = %e, "cannot read organizations");
            result.error = Some("cannot read organizations (see the handler's log)".into());
        }
        Ok(all) => {
            let active: Vec<_> = all.into_iter().filter(|o| o.is_active).collect();
            if active.is_empty() {
                tracing::warn!(
                    "no active organization: nothing to generate (set ORG_ID & co or POST /api/orgs)"
                );
            }
            let opts = GenerateOptions {
                deadline: Some(started + RUN_BUDGET),
                ..GenerateOptions::new(now)
            };
            result.orgs = generate_range(
                app,
                &active,
                |org| due_window(org, now, at, settings.catchup_days),
                &opts,
                |_, _| {},
            )
            .await;
            // The morning digest of each org's newest due report (only that day).
            result.deliveries = crate::delivery::after_run(app, &active, &result.orgs, |org| {
                latest_due(org, now, at)
            })
            .await;
            let failed = result.orgs.iter().filter(|o| !o.failed.is_empty()).count();
            result.status = match failed {
                0 => RunStatus::Succeeded,
                n if n == result.orgs.len() => RunStatus::Failed,
                _ => RunStatus::Partial,
            };
        }
    }
    result.finished_at = now + Duration::from_std(started.elapsed()).unwrap_or_default();
    tracing::info!(
        status = result.status.as_str(),
        orgs = result.orgs.len(),
        is_past_due,
        "daily_report_timer run done"
    );
    let body = Bytes::from(serde_json::to_vec_pretty(&result).expect("run result serializes"));
    if let Err(e) = app
        .storage
        .put(LAST_RUN, body, &Put::new("application/json"))
        .await
    {
        tracing::warn!(error = %e, "could not record the scheduler run");
    }
    result
}

/// The last firing's result, if one was recorded and is readable.
pub async fn last_run(storage: &Storage) -> Result<Option<RunResult>, StorageError> {
    Ok(storage
        .get(LAST_RUN)
        .await?
        .and_then(|o| serde_json::from_slice(&o.body).ok()))
}

/// After the deadline, how long reports already running may still finish before they are
/// abandoned (reported `not_attempted`).
pub const GRACE: std::time::Duration = std::time::Duration::from_secs(50);

/// Generates `[from, to]` for each org: dates with a snapshot are skipped (one listing per
/// org) unless `force`; the rest run `concurrency` at a time. No task starts after
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
    let mut runs: BTreeMap<String, OrgRun> = BTreeMap::new();
    let mut tasks: Vec<(Organization, NaiveDate)> = Vec::new();
    for (org, from, to, existing) in listings {
        let run = runs.entry(org.org_id.clone()).or_insert_with(|| OrgRun {
            org_id: org.org_id.clone(),
            org_name: org.name.clone(),
            ..OrgRun::default()
        });
        let existing = match existing {
            Ok(d) => d,
            Err(e) => {
                tracing::error!(org_id = %org.org_id, error = %e, "listing reports failed");
                run.failed.push(Failure {
                    date: from,
                    error: "listing reports: storage is unavailable; try again later".into(),
                    status: 503,
                });
                continue;
            }
        };
        for date in from.iter_days().take_while(|d| *d <= to) {
            if existing.contains(&date) {
                run.skipped.push(date);
            } else {
                tasks.push((org.clone(), date));
            }
        }
    }
    let total = tasks.len();
    let tasks_keys: Vec<(String, NaiveDate)> =
        tasks.iter().map(|(o, d)| (o.org_id.clone(), *d)).collect();
    let mut done = 0;
    progress(0, total);
    let mut results = futures::stream::iter(tasks)
        .map(|(org, date)| {
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
    let mut pending: std::collections::BTreeSet<(String, NaiveDate)> =
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
                    status: e.status(),
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
            org_id: "o".into(),
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

// ---------------------------------------------------------------- NCRONTAB

/// An NCRONTAB expression (`DAILY_REPORT_SCHEDULE`) that does not parse.
#[derive(Debug, thiserror::Error)]
#[error("invalid NCRONTAB expression {expression:?}: {reason}")]
pub struct InvalidSchedule {
    /// The expression as given.
    pub expression: String,
    /// Why the parser refused it.
    pub reason: String,
}

/// The next `n` firings strictly after `after` of an NCRONTAB expression, the Functions timer's
/// syntax: six fields (`second minute hour day month day-of-week`), day of week 0-6 from Sunday
/// (7 is Sunday too) or names (`Mon-Fri`). A day must match both the day-of-month and the
/// day-of-week field, as in NCRONTAB. Times are UTC, as the timer's are by default.
pub fn next_firings(
    ncrontab: &str,
    after: DateTime<Utc>,
    n: usize,
) -> Result<Vec<DateTime<Utc>>, InvalidSchedule> {
    let invalid = |reason: String| InvalidSchedule {
        expression: ncrontab.to_string(),
        reason,
    };
    // croner would also take five fields or a seventh (year): NCRONTAB has exactly six.
    let fields = ncrontab.split_whitespace().count();
    if fields != 6 {
        return Err(invalid(format!("{fields} fields, NCRONTAB has 6")));
    }
    let cron = croner::parser::CronParser::builder()
        .seconds(croner::parser::Seconds::Required)
        .dom_and_dow(true)
        .build()
        .parse(ncrontab)
        .map_err(|e| invalid(e.to_string()))?;
    Ok(cron.iter_after(after).take(n).collect())
}

#[cfg(test)]
mod ncrontab_tests {
    use super::next_firings;
    use chrono::{DateTime, Utc};

    /// The weekdays (`Mon`…) of the first `n` firings after Monday 2025-12-15 00:00 UTC.
    fn days(expression: &str, n: usize) -> Vec<String> {
        let monday: DateTime<Utc> = "2025-12-15T00:00:00Z".parse().unwrap();
        next_firings(expression, monday, n)
            .unwrap()
            .iter()
            .map(|t| t.format("%a").to_string())
            .collect()
    }

    #[test]
    fn hourly_fires_on_the_hour_strictly_after_the_start() {
        let start: DateTime<Utc> = "2025-12-15T10:00:00Z".parse().unwrap();
        let next = next_firings("0 0 * * * *", start, 3).unwrap();
        let shown: Vec<String> = next.iter().map(|t| t.to_rfc3339()).collect();
        assert_eq!(
            shown,
            [
                "2025-12-15T11:00:00+00:00",
                "2025-12-15T12:00:00+00:00",
                "2025-12-15T13:00:00+00:00"
            ]
        );
    }

    #[test]
    fn days_of_week_count_from_sunday_zero() {
        // 1-5 is Monday-Friday.
        assert_eq!(
            days("0 30 6 * * 1-5", 6),
            ["Mon", "Tue", "Wed", "Thu", "Fri", "Mon"]
        );
        assert_eq!(days("0 0 6 * * 0,6", 4), ["Sat", "Sun", "Sat", "Sun"]);
        // */2 steps from Sunday: Sunday, Tuesday, Thursday, Saturday.
        assert_eq!(
            days("0 0 6 * * */2", 5),
            ["Tue", "Thu", "Sat", "Sun", "Tue"]
        );
        assert_eq!(days("0 0 6 * * 7", 2), ["Sun", "Sun"]);
    }

    #[test]
    fn day_names_are_read() {
        assert_eq!(
            days("0 0 6 * * Mon-Fri", 6),
            ["Mon", "Tue", "Wed", "Thu", "Fri", "Mon"]
        );
        assert_eq!(days("0 0 6 * * SAT,sun", 3), ["Sat", "Sun", "Sat"]);
    }

    #[test]
    fn day_of_month_and_day_of_week_must_both_match() {
        // The 1st of a month that is a Monday: 2025-12-01, then 2026-06-01.
        let start: DateTime<Utc> = "2025-11-15T00:00:00Z".parse().unwrap();
        let next = next_firings("0 0 0 1 * 1", start, 2).unwrap();
        let shown: Vec<String> = next.iter().map(|t| t.date_naive().to_string()).collect();
        assert_eq!(shown, ["2025-12-01", "2026-06-01"]);
    }

    #[test]
    fn malformed_expressions_are_refused() {
        let now = Utc::now();
        for bad in [
            "",
            "0 * * * *",
            "0 0 * * * * 2030",
            "0 0 25 * * *",
            "x 0 * * * *",
        ] {
            let err = next_firings(bad, now, 1).expect_err(bad);
            assert_eq!(err.expression, bad);
        }
    }
}
