//! `GET /api/scheduler/status` (`docs/http-api.md`, "Routes"): the timer's schedule, its
//! next firings (UTC), the local report time, catch-up, the last run's result, and the work
//! queue with its poison count when one is configured — for an
//! org reader only its own orgs' part of it (`docs/access-and-safety.md`, "Who may do what").

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use warp::http::StatusCode;
use warp::reply::Response;

use super::openapi::Unavailable;
use crate::app::App;
use crate::http::caller::Caller;
use crate::http::error::ApiError;
use crate::http::request::Request;
use crate::http::response::json_response;
use crate::scheduler::{self, RunResult};

/// The reply.
#[derive(Debug, Serialize, ToSchema)]
pub struct SchedulerStatus {
    /// Always `daily_report_timer`.
    #[schema(pattern = "^daily_report_timer$", examples("daily_report_timer"))]
    pub function: &'static str,
    /// The timer's NCRONTAB expression (`DAILY_REPORT_SCHEDULE`; 6 fields, seconds first).
    #[schema(examples("0 0 * * * *"))]
    pub schedule: String,
    /// The next 5 firings, UTC, ascending (empty if the expression does not parse).
    #[schema(max_items = 5)]
    pub next_firings: Vec<DateTime<Utc>>,
    /// `HH:MM`: when an org's yesterday becomes due, in its own zone
    /// (`SCHEDULER_HOUR:SCHEDULER_MINUTE`).
    #[schema(pattern = "^[0-2][0-9]:[0-5][0-9]$")]
    pub report_time_local: String,
    pub catchup_days: u32,
    /// The last firing's result (for an org reader, its own orgs' part); null before the
    /// first firing.
    #[schema(required)]
    pub last_run: Option<RunResult>,
    /// The work queue (`REPORT_QUEUE`, `docs/scale-out.md`); absent without one (the timer
    /// then generates inline).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub queue: Option<QueueStatus>,
}

/// The work queue as the status shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct QueueStatus {
    /// `REPORT_QUEUE`.
    pub name: String,
    /// `<name>-poison`: messages the host gave up on after `maxDequeueCount` deliveries.
    pub poison_queue: String,
    /// Messages in the poison queue (approximate, as the service counts them); null when the
    /// queue service did not answer.
    #[schema(required)]
    pub poison_count: Option<u64>,
}

/// Handles the route.
#[utoipa::path(
    get,
    path = "/api/scheduler/status",
    operation_id = "schedulerStatus",
    tag = "scheduler",
    summary = "The timer's schedule, next firings and last run",
    responses(
        (status = 200, description = "OK", body = SchedulerStatus),
        (status = 503, response = Unavailable),
    )
)]
pub async fn status(app: &App, req: &Request) -> Result<Response, ApiError> {
    let settings = &app.settings;
    let expression = settings.daily_report_schedule.clone();
    let now = app.clock.now();
    let next_firings = scheduler::next_firings(&expression, now, 5).unwrap_or_default();
    let reply = SchedulerStatus {
        function: "daily_report_timer",
        schedule: expression,
        next_firings,
        report_time_local: format!(
            "{:02}:{:02}",
            settings.scheduler_hour, settings.scheduler_minute
        ),
        catchup_days: settings.catchup_days,
        last_run: scheduler::last_run(&app.storage)
            .await?
            .map(|run| visible_part(run, &req.caller)),
        queue: match &app.queue {
            None => None,
            Some(queue) => Some(QueueStatus {
                name: queue.name().to_string(),
                poison_queue: queue.poison_name().to_string(),
                poison_count: queue
                    .poison_count()
                    .await
                    .inspect_err(|e| tracing::warn!(error = %e, "poison queue not counted"))
                    .ok(),
            }),
        },
    };
    Ok(json_response(StatusCode::OK, &reply))
}

/// `run` as `caller` may see it: the orgs' results and digests of the orgs it sees. A run-wide
/// `error` names no org and stays.
fn visible_part(mut run: RunResult, caller: &Caller) -> RunResult {
    run.orgs.retain(|o| caller.sees(o.org_id.as_str()));
    run.deliveries.retain(|d| caller.sees(d.org_id.as_str()));
    run.enqueued.retain(|e| caller.sees(e.org_id.as_str()));
    run
}
