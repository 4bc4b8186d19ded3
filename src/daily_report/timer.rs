//! The `daily_report_timer` function: the host's timer trigger arrives as
//! `POST /daily_report_timer` with `{"Data": {"timer": {"Schedule", "ScheduleStatus",
//! "IsPastDue"}}, "Metadata": {...}}` (custom-handler invocation protocol) and is answered
//! `{"Outputs": {}, "Logs": [...], "ReturnValue": <run result>}`.
//!
//! Each firing makes sure every active org has its due reports (see [`super::schedule`]); the
//! run's result is kept in storage at [`LAST_RUN`] for `GET /api/scheduler/status`. The reply
//! is non-2xx only when the invocation as a whole failed: the orgs could not be read, or every
//! org failed. A manual run from the portal arrives the same way (`IsPastDue` false).

use std::time::{Duration, Instant};

use bytes::Bytes;
use chrono::{DateTime, NaiveTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use warp::http::StatusCode;
use warp::reply::Response;

use super::schedule::{self, OrgRun};
use crate::app::App;
use crate::error::ApiError;
use crate::orgs;
use crate::server::{Request, json_response};
use crate::storage::Put;

/// Where the last run's result is kept.
pub const LAST_RUN: &str = "scheduler/last_run.json";

/// A firing stops starting new reports after this long (the Functions timeout is 10 min).
pub const RUN_BUDGET: Duration = Duration::from_secs(8 * 60);

/// Reports generated at once within a firing.
pub const CONCURRENCY: usize = 4;

/// The invocation request body.
#[derive(Debug, Deserialize)]
pub struct Invocation {
    #[serde(rename = "Data", default)]
    pub data: serde_json::Map<String, Value>,
    #[serde(rename = "Metadata", default)]
    pub metadata: Value,
}

/// The timer binding's value (`Data.timer`).
#[derive(Debug, Default, Deserialize, Serialize, Clone)]
#[serde(rename_all = "PascalCase")]
pub struct TimerInfo {
    #[serde(default)]
    pub schedule: Value,
    #[serde(default)]
    pub schedule_status: Option<Value>,
    #[serde(default)]
    pub is_past_due: bool,
}

/// The result of one firing (the `ReturnValue`, and the document at [`LAST_RUN`]).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunResult {
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub is_past_due: bool,
    /// `succeeded`, `partial` (some org failed) or `failed`.
    pub status: String,
    pub orgs: Vec<OrgRun>,
    /// Why the whole run failed, when it did before reaching the orgs.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub error: Option<String>,
    /// The morning digests this run sent or failed to send ([`crate::delivery`]).
    #[serde(default)]
    pub deliveries: Vec<crate::delivery::DeliveryOutcome>,
}

/// Handles `POST /daily_report_timer`.
pub async fn handle(app: &App, req: &Request) -> Result<Response, ApiError> {
    // Only an object is an invocation: serde would also read a struct from a JSON array, and
    // `[]` (both fields default) would then run the timer.
    let not_invocation =
        |why: String| ApiError::invalid("body", format!("not a custom-handler invocation: {why}"));
    let invocation: Invocation = match serde_json::from_slice::<Value>(&req.body) {
        Ok(v @ Value::Object(_)) => {
            serde_json::from_value(v).map_err(|e| not_invocation(e.to_string()))?
        }
        Ok(_) => return Err(not_invocation("the body must be a JSON object".into())),
        Err(e) => return Err(not_invocation(e.to_string())),
    };
    let timer: TimerInfo = invocation
        .data
        .get("timer")
        .or_else(|| invocation.data.values().next())
        .map(|v| serde_json::from_value(v.clone()))
        .transpose()
        .map_err(|e| ApiError::invalid("Data.timer", e.to_string()))?
        .unwrap_or_default();
    let result = run(app, Utc::now(), timer.is_past_due).await;
    let status = if result.status == "failed" {
        StatusCode::INTERNAL_SERVER_ERROR
    } else {
        StatusCode::OK
    };
    Ok(json_response(
        status,
        &serde_json::json!({"Outputs": {}, "Logs": log_lines(&result), "ReturnValue": result}),
    ))
}

/// One firing at `now`.
pub async fn run(app: &App, now: DateTime<Utc>, is_past_due: bool) -> RunResult {
    let started = Instant::now();
    let settings = &app.settings;
    let at = NaiveTime::from_hms_opt(settings.scheduler_hour, settings.scheduler_minute, 0)
        .expect("validated");
    let mut result = RunResult {
        started_at: now,
        finished_at: now,
        is_past_due,
        status: "failed".into(),
        orgs: vec![],
        error: None,
        deliveries: vec![],
    };
    match orgs::list(&app.storage).await {
        Err(e) => {
            tracing::error!(error = %e, "cannot read organizations");
            result.error = Some(format!("cannot read organizations: {e}"));
        }
        Ok(all) => {
            let active: Vec<_> = all.into_iter().filter(|o| o.is_active).collect();
            if active.is_empty() {
                tracing::warn!(
                    "no active organization: nothing to generate (set ORG_ID & co or POST /api/orgs)"
                );
            }
            result.orgs = schedule::generate_range(
                app,
                &active,
                |org| schedule::due_window(org, now, at, settings.catchup_days),
                false,
                CONCURRENCY,
                Some(started + RUN_BUDGET),
                |_, _| {},
            )
            .await;
            // ---- delivery hook: digests of each org's newest due report (only that day).
            for org in active
                .iter()
                .filter(|o| o.notifications.iter().any(|n| n.enabled))
            {
                let date = schedule::latest_due(org, now, at);
                result
                    .deliveries
                    .extend(crate::delivery::after_timer(app, org, date, &result.orgs).await);
            }
            // ---- end of the delivery hook.
            let failed = result.orgs.iter().filter(|o| !o.failed.is_empty()).count();
            result.status = match failed {
                0 => "succeeded",
                n if n == result.orgs.len() => "failed",
                _ => "partial",
            }
            .into();
        }
    }
    result.finished_at = Utc::now();
    tracing::info!(status = %result.status, orgs = result.orgs.len(), is_past_due, "daily_report_timer run done");
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

/// One line per org for the host's invocation log.
fn log_lines(r: &RunResult) -> Vec<String> {
    let mut lines = vec![format!(
        "daily_report_timer: {} (IsPastDue {})",
        r.status, r.is_past_due
    )];
    lines.extend(r.error.iter().cloned());
    lines.extend(r.orgs.iter().map(|o| {
        format!(
            "{} ({}): generated {}, skipped {}, failed {}{}",
            o.org_name,
            o.org_id,
            o.generated.len(),
            o.skipped.len(),
            o.failed.len(),
            if o.not_attempted.is_empty() {
                String::new()
            } else {
                format!(", deferred {}", o.not_attempted.len())
            }
        )
    }));
    lines
}
