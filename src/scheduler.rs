//! The timer's firings (`docs/daily-report.md`, "Schedule"; `docs/delivery-and-access.md`,
//! "The morning digest"): a firing ([`fire`]) makes every active org's due reports
//! (`daily_report::schedule`), then sends the morning digest of each org's newest one
//! (`delivery`), and records its [`RunResult`] at [`LAST_RUN`] for `GET /api/scheduler/status`;
//! [`next_firings`] reads the timer's NCRONTAB schedule.
//!
//! This module sits above both domains: `daily_report` and `delivery` do not depend on it,
//! and `daily_report` does not depend on `delivery`. The timer trigger's invocation protocol
//! is not here: it is `functions::daily_report_timer`.

use std::time::Instant;

use bytes::Bytes;
use chrono::{DateTime, Duration, NaiveTime, Utc};
use serde::{Deserialize, Serialize};

use crate::app::App;
use crate::daily_report::restate;
use crate::daily_report::schedule::{
    Failure, FailureCause, GenerateOptions, OrgRun, Plan, due_window, generate_range, latest_due,
    plan_range,
};
use crate::delivery::{self, DeliveryOutcome};
use crate::orgs::{self, OrgId, Organization};
use crate::queue::{ReportMessage, WorkQueue};
use crate::storage::{Put, Storage, StorageError};

/// Where the last firing's [`RunResult`] is kept.
pub const LAST_RUN: &str = "scheduler/last_run.json";

/// A firing stops starting new reports after this long (the Functions timeout, `host.json`'s
/// `functionTimeout`, is 10 min); a report started runs at most `schedule::GRACE` longer.
pub const RUN_BUDGET: std::time::Duration = std::time::Duration::from_secs(8 * 60);

/// A firing's digests are sent by this long after it started (`delivery::after_run`): later
/// ones are deferred to the next firing, so the run is recorded at [`LAST_RUN`] before the
/// host's timeout ends the invocation. (An HTTP request's is
/// `functions::reports_http::generate::HTTP_DIGESTS_UNTIL`.)
pub const TIMER_DIGESTS_UNTIL: std::time::Duration = std::time::Duration::from_secs(9 * 60 + 30);

/// How a firing ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
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
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RunResult {
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub is_past_due: bool,
    pub status: RunStatus,
    pub orgs: Vec<OrgRun>,
    /// Why the whole run failed, when it did before reaching the orgs.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    #[schema(nullable = false)]
    pub error: Option<String>,
    /// The morning digests this run sent or failed to send ([`delivery`]).
    #[serde(default)]
    pub deliveries: Vec<DeliveryOutcome>,
    /// With a work queue (`REPORT_QUEUE`, `docs/scale-out.md`): the (org, dates) this run
    /// enqueued instead of generating them; present only when not empty. A date that could
    /// not be enqueued is in its org's `failed`.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    #[schema(min_items = 1)]
    pub enqueued: Vec<Enqueued>,
}

/// The dates of one org a firing put on the work queue.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct Enqueued {
    pub org_id: OrgId,
    /// Ascending; the newest due one carries `notify` (its digest is sent by the worker).
    pub dates: Vec<chrono::NaiveDate>,
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
        enqueued: vec![],
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
            let window = |org: &Organization| due_window(org, now, at, settings.catchup_days);
            if let Some(queue) = &app.queue {
                // The same decision of what is due, then the host's workers generate it.
                let plan = plan_range(app, &active, window, false, now).await;
                let (runs, enqueued) = enqueue(queue, plan, |org| latest_due(org, now, at)).await;
                result.orgs = runs;
                result.enqueued = enqueued;
            } else {
                let opts = GenerateOptions {
                    deadline: Some(started + RUN_BUDGET),
                    ..GenerateOptions::new(now)
                };
                result.orgs = generate_range(app, &active, window, &opts, |_, _| {}).await;
            }
            // Stored days whose data changed since: new revisions, and one correction to each
            // channel that was sent the old numbers (before the digests, so that a digest
            // sent now already shows the revision and needs no correction).
            let revised = restate::recheck(
                app,
                &active,
                settings.restate_days,
                now,
                started + RUN_BUDGET,
                &mut result.orgs,
            )
            .await;
            result.deliveries =
                delivery::corrections(app, &revised, started + TIMER_DIGESTS_UNTIL).await;
            // The morning digest of each org's newest due report (only that day).
            let digests = delivery::after_run(
                app,
                &active,
                &result.orgs,
                |org| latest_due(org, now, at),
                started + TIMER_DIGESTS_UNTIL,
            )
            .await;
            result.deliveries.extend(digests);
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

/// Puts `plan`'s tasks on `queue`, one [`ReportMessage`] each (`notify` only on each org's
/// `newest` date, as the timer's digests go); returns the org runs (a date that could not be
/// enqueued is failed, [`FailureCause::Unavailable`]) and what was enqueued per org.
async fn enqueue(
    queue: &WorkQueue,
    plan: Plan,
    newest: impl Fn(&Organization) -> chrono::NaiveDate,
) -> (Vec<OrgRun>, Vec<Enqueued>) {
    let Plan { mut runs, tasks } = plan;
    let messages: Vec<ReportMessage> = tasks
        .iter()
        .map(|(org, date, force)| ReportMessage {
            org_id: org.org_id.clone(),
            date: *date,
            force: *force,
            notify: *date == newest(org),
            job_id: None,
        })
        .collect();
    let sent = queue.enqueue(&messages).await;
    let mut enqueued: std::collections::BTreeMap<OrgId, Vec<chrono::NaiveDate>> =
        Default::default();
    for (message, outcome) in messages.into_iter().zip(sent) {
        match outcome {
            Ok(()) => enqueued
                .entry(message.org_id)
                .or_default()
                .push(message.date),
            Err(e) => {
                tracing::error!(org_id = %message.org_id, date = %message.date, error = %e, "enqueueing failed");
                if let Some(run) = runs.get_mut(&message.org_id) {
                    run.failed.push(Failure {
                        date: message.date,
                        error: "the work queue is unavailable; the next firing tries again".into(),
                        cause: FailureCause::Unavailable,
                    });
                }
            }
        }
    }
    let enqueued = enqueued
        .into_iter()
        .map(|(org_id, mut dates)| {
            dates.sort();
            Enqueued { org_id, dates }
        })
        .collect();
    let mut runs: Vec<OrgRun> = runs.into_values().collect();
    for run in &mut runs {
        run.skipped.sort();
        run.failed.sort_by_key(|f| f.date);
    }
    (runs, enqueued)
}

/// The last firing's result, if one was recorded and is readable.
pub async fn last_run(storage: &Storage) -> Result<Option<RunResult>, StorageError> {
    Ok(storage
        .get(LAST_RUN)
        .await?
        .and_then(|o| serde_json::from_slice(&o.body).ok()))
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
mod budget_tests {
    use super::{RUN_BUDGET, TIMER_DIGESTS_UNTIL};
    use crate::daily_report::schedule::GRACE;

    /// The shipped `host.json`'s `functionTimeout` (`hh:mm:ss`).
    fn function_timeout() -> std::time::Duration {
        let host: serde_json::Value = serde_json::from_str(include_str!("../host.json")).unwrap();
        let t = host["functionTimeout"]
            .as_str()
            .expect("functionTimeout is set");
        let s: Vec<u64> = t.split(':').map(|p| p.parse().unwrap()).collect();
        std::time::Duration::from_secs(s[0] * 3600 + s[1] * 60 + s[2])
    }

    /// Reports (budget + grace), then digests, then the run's record, inside the timeout.
    #[test]
    fn a_firing_ends_inside_the_hosts_function_timeout() {
        assert!(RUN_BUDGET + GRACE < TIMER_DIGESTS_UNTIL);
        assert!(
            TIMER_DIGESTS_UNTIL + std::time::Duration::from_secs(20) <= function_timeout(),
            "{TIMER_DIGESTS_UNTIL:?} leaves no time to record the run within {:?}",
            function_timeout()
        );
    }
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
