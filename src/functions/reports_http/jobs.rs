//! Backfill jobs (`docs/scale-out.md`, "The timer and backfills enqueue"): with a work queue,
//! `POST /api/reports/backfill` (and `handler report backfill --enqueue`) writes the job
//! document `jobs/<job_id>.json` (create-only) and enqueues one message per (org, date);
//! `GET /api/jobs/{job_id}` says how far it got from what is stored (one listing per org), not
//! from counters that workers race to update. Failed and poisoned messages are not counted
//! apart: they stay `pending`.

use bytes::Bytes;
use chrono::{DateTime, FixedOffset, NaiveDate, SubsecRound, Utc};
use serde::{Deserialize, Serialize};
use warp::http::StatusCode;
use warp::reply::Response;

use crate::app::App;
use crate::daily_report::snapshots;
use crate::http::error::{ApiError, ErrorCode};
use crate::http::request::Request;
use crate::http::response::json_response;
use crate::orgs::{OrgId, Organization};
use crate::queue::{ReportMessage, WorkQueue};
use crate::storage::{Condition, Put, Storage};

/// The job document, `jobs/<job_id>.json`: the plan (orgs × dates), written once.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Job {
    pub job_id: String,
    pub created_at: DateTime<Utc>,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub force: bool,
    pub notify: bool,
    pub orgs: Vec<OrgId>,
}

impl Job {
    /// (org, date) pairs planned.
    pub fn total(&self) -> u64 {
        self.orgs.len() as u64 * ((self.to - self.from).num_days() + 1).max(0) as u64
    }
}

/// The storage name of the job `job_id`.
pub fn name(job_id: &str) -> String {
    format!("jobs/{job_id}.json")
}

/// `POST /api/reports/backfill` with a queue: the job started.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = BackfillJob)]
pub struct Started {
    #[schema(format = "uuid")]
    pub job_id: String,
    /// `/api/jobs/<job_id>`.
    pub status_url: String,
    /// Messages enqueued: orgs × days.
    pub total: u64,
}

/// Why starting a job failed.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("writing the job document: {0}")]
    Storage(#[from] crate::storage::StorageError),
    /// The document was written; `failed` of the messages could not be enqueued.
    #[error("job {job_id}: {failed} of {total} messages could not be enqueued: {reason}")]
    Enqueue {
        job_id: String,
        failed: usize,
        total: u64,
        reason: String,
    },
}

/// Writes the job document of `orgs` × `[from, to]`, then enqueues one message per (org,
/// date) with its `job_id` (`notify` only on `to`, as an inline backfill's digest).
pub async fn start(
    storage: &Storage,
    queue: &WorkQueue,
    orgs: &[Organization],
    (from, to): (NaiveDate, NaiveDate),
    force: bool,
    notify: bool,
    now: DateTime<Utc>,
) -> Result<Started, StartError> {
    let job = Job {
        job_id: uuid::Uuid::new_v4().to_string(),
        // Whole seconds: a report generated in the same second counts as after it.
        created_at: now.trunc_subsecs(0),
        from,
        to,
        force,
        notify,
        orgs: orgs.iter().map(|o| o.org_id.clone()).collect(),
    };
    let mut put = Put::new("application/json");
    put.condition = Condition::IfNotExists;
    let body = Bytes::from(serde_json::to_vec_pretty(&job).expect("a job serializes"));
    storage.put(&name(&job.job_id), body, &put).await?;
    let job_id = &job.job_id;
    let messages: Vec<ReportMessage> = job
        .orgs
        .iter()
        .flat_map(|org| {
            from.iter_days()
                .take_while(move |d| *d <= to)
                .map(move |date| ReportMessage {
                    org_id: org.clone(),
                    date,
                    force,
                    notify: notify && date == to,
                    job_id: Some(job_id.clone()),
                })
        })
        .collect();
    let errors: Vec<_> = queue
        .enqueue(&messages)
        .await
        .into_iter()
        .filter_map(Result::err)
        .collect();
    if let Some(first) = errors.first() {
        tracing::error!(job_id = %job.job_id, failed = errors.len(), error = %first, "enqueueing a job failed");
        return Err(StartError::Enqueue {
            job_id: job.job_id.clone(),
            failed: errors.len(),
            total: job.total(),
            reason: first.to_string(),
        });
    }
    Ok(Started {
        status_url: format!("/api/jobs/{}", job.job_id),
        total: job.total(),
        job_id: job.job_id,
    })
}

/// The 202 reply of a started job, or 503 (the job document stays; its status shows the
/// messages that were not enqueued as pending).
pub async fn start_reply(
    app: &App,
    queue: &WorkQueue,
    orgs: &[Organization],
    range: (NaiveDate, NaiveDate),
    force: bool,
    notify: bool,
) -> Result<Response, ApiError> {
    match start(
        &app.storage,
        queue,
        orgs,
        range,
        force,
        notify,
        app.clock.now(),
    )
    .await
    {
        Ok(started) => Ok(json_response(StatusCode::ACCEPTED, &started)),
        Err(StartError::Storage(e)) => Err(e.into()),
        Err(e @ StartError::Enqueue { .. }) => Err(ApiError::new(
            ErrorCode::DependencyUnavailable,
            e.to_string(),
        )),
    }
}

/// `GET /api/jobs/{job_id}`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = JobStatus)]
pub struct Status {
    #[schema(format = "uuid")]
    pub job_id: String,
    /// (org, date) pairs planned.
    pub total: u64,
    /// Planned pairs whose report is stored (with `force`: generated since the job started).
    pub stored: u64,
    /// `total - stored`: not stored yet, failing, or poisoned.
    pub pending: u64,
    /// When the job was created.
    pub started_at: DateTime<Utc>,
    /// The newest stored report's `generated_at`; only when nothing is pending.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub finished_at: Option<DateTime<FixedOffset>>,
}

/// How far `job` got: one listing per org.
pub async fn status(storage: &Storage, job: &Job) -> Result<Status, crate::storage::StorageError> {
    let mut stored = 0u64;
    let mut newest: Option<DateTime<FixedOffset>> = None;
    for org in &job.orgs {
        let listed = snapshots::existing_dates(storage, org, job.from, job.to).await?;
        for entry in listed.values() {
            let counts = !job.force || entry.generated_at.is_some_and(|g| g >= job.created_at);
            if counts {
                stored += 1;
                newest = newest.max(entry.generated_at);
            }
        }
    }
    let total = job.total();
    let pending = total.saturating_sub(stored);
    Ok(Status {
        job_id: job.job_id.clone(),
        total,
        stored,
        pending,
        started_at: job.created_at,
        finished_at: newest.filter(|_| pending == 0),
    })
}

/// `job_id` in the path.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
pub struct JobIdPath {
    /// The job, as `POST /api/reports/backfill` answered it.
    #[param(format = "uuid")]
    pub job_id: String,
}

/// `GET /api/jobs/{job_id}`: a backfill job's progress.
#[utoipa::path(
    get,
    path = "/api/jobs/{job_id}",
    operation_id = "getJob",
    tag = "reports",
    summary = "A backfill job's progress",
    description = "Computed from what is stored (one listing per org): a planned (org, date) \
        is `stored` when its report exists (with `force`: generated since the job started); \
        `pending = total - stored` (failed and poisoned messages are not counted apart); \
        `finished_at` once nothing is pending.",
    params(JobIdPath),
    responses(
        (status = 200, description = "OK", body = Status),
        (status = 400, response = super::openapi::BadRequest),
        (status = 404, response = super::openapi::NotFound),
        (status = 503, response = super::openapi::Unavailable),
    )
)]
pub async fn get(app: &App, req: &Request) -> Result<Response, ApiError> {
    let raw = &req.params[0];
    let job_id = uuid::Uuid::parse_str(raw)
        .map_err(|_| ApiError::invalid("job_id", "job_id must be a UUID"))?
        .hyphenated()
        .to_string();
    let Some(object) = app.storage.get(&name(&job_id)).await? else {
        return Err(ApiError::new(
            ErrorCode::NotFound,
            format!("no job {job_id}"),
        ));
    };
    let job: Job = serde_json::from_slice(&object.body).map_err(|e| {
        tracing::error!(job_id, error = %e, "unreadable job document");
        ApiError::new(ErrorCode::Internal, "the job document is unreadable")
    })?;
    let status = status(&app.storage, &job).await?;
    Ok(json_response(StatusCode::OK, &status))
}
