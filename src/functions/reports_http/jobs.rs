//! Backfill jobs (`docs/scale-out.md`, "The timer and backfills enqueue"): with a work queue,
//! `POST /api/reports/backfill` (and `handler report backfill --enqueue`) writes the job
//! document `jobs/<job_id>.json` (create-only) and enqueues one message per (org, date);
//! `GET /api/jobs/{job_id}` says how far it got from what is stored (one listing per org), not
//! from counters that workers race to update. The worker records each (org, date) of a job
//! it gives up on, create-only, at `jobs/<job_id>/failed/<org>/<date>.json` ([`record_failure`]),
//! and the status counts them as `failed` (one more listing for the job).

use std::collections::HashSet;

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
use crate::storage::{Condition, Put, Storage, StorageError};

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

/// Where the failures of the job `job_id` are recorded: `jobs/<job_id>/failed/`, then
/// `<org>/<date>.json`.
fn failed_prefix(job_id: &str) -> String {
    format!("jobs/{job_id}/failed/")
}

/// Blob metadata key of a failure record: when it was given up on (RFC 3339), read by the
/// status from the listing.
const FAILED_AT: &str = "failed_at";

/// Why the worker gave up on one (org, date) of a job (`docs/scale-out.md`, "The timer and
/// backfills enqueue").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    /// Permanent: the org is absent, unreadable or inactive, or the date has not ended.
    Rejected,
    /// Transient, but on the host's last delivery (`maxDequeueCount`): the host moves the
    /// message to the poison queue.
    Poisoned,
}

/// The record of one (org, date) of a job given up on,
/// `jobs/<job_id>/failed/<org>/<date>.json` (create-only: the first one stays).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Failure {
    pub org_id: OrgId,
    pub date: NaiveDate,
    pub kind: FailureKind,
    /// The worker's reason (safe to show: no host, path or key).
    pub error: String,
    pub failed_at: DateTime<Utc>,
}

/// Records `failure` for the job `job_id` (create-only; one already there is kept, so a
/// repeated delivery records nothing new).
///
/// Errors: the storage's, other than [`StorageError::AlreadyExists`]; the worker then
/// answers a transient failure, so that the host delivers the message again.
pub async fn record_failure(
    storage: &Storage,
    job_id: &uuid::Uuid,
    failure: &Failure,
) -> Result<(), StorageError> {
    let name = format!(
        "{}{}/{}.json",
        failed_prefix(&job_id.hyphenated().to_string()),
        failure.org_id,
        failure.date
    );
    let mut put = Put::new("application/json");
    put.condition = Condition::IfNotExists;
    put.metadata.insert(
        FAILED_AT.into(),
        failure
            .failed_at
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    );
    let body = Bytes::from(serde_json::to_vec_pretty(failure).expect("a failure serializes"));
    match storage.put(&name, body, &put).await {
        Ok(_) | Err(StorageError::AlreadyExists(_)) => Ok(()),
        Err(e) => Err(e),
    }
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
    let id = uuid::Uuid::new_v4();
    let job = Job {
        job_id: id.to_string(),
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
                    job_id: Some(id),
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

/// Where a job stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = JobState)]
pub enum State {
    /// Some planned (org, date) is neither stored nor failed.
    Running,
    /// Every planned report is stored.
    Done,
    /// Nothing is pending, and at least one (org, date) failed.
    DoneWithFailures,
}

/// `GET /api/jobs/{job_id}`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = JobStatus)]
pub struct Status {
    #[schema(format = "uuid")]
    pub job_id: String,
    pub status: State,
    /// (org, date) pairs planned.
    pub total: u64,
    /// Planned pairs whose report is stored (with `force`: generated since the job started).
    pub stored: u64,
    /// Planned pairs not stored that the worker gave up on: rejected (org deleted or
    /// inactive) or failing on the host's last delivery (poisoned).
    pub failed: u64,
    /// `total - stored - failed`: not done yet, being retried, or poisoned without a record.
    pub pending: u64,
    /// When the job was created.
    pub started_at: DateTime<Utc>,
    /// Once nothing is pending: the newest stored report's `generated_at` or failure's time.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub finished_at: Option<DateTime<FixedOffset>>,
}

/// How far `job` got: one listing per org, and one of the job's failures.
pub async fn status(storage: &Storage, job: &Job) -> Result<Status, StorageError> {
    let mut stored = HashSet::new();
    let mut newest: Option<DateTime<FixedOffset>> = None;
    for org in &job.orgs {
        let listed = snapshots::existing_dates(storage, org, job.from, job.to).await?;
        for (date, entry) in &listed {
            let counts = !job.force || entry.generated_at.is_some_and(|g| g >= job.created_at);
            if counts {
                stored.insert((org.clone(), *date));
                newest = newest.max(entry.generated_at);
            }
        }
    }
    let planned: HashSet<&OrgId> = job.orgs.iter().collect();
    let mut failed = 0u64;
    for (org, date, at) in failures(storage, &job.job_id).await? {
        let counts = planned.contains(&org)
            && (job.from..=job.to).contains(&date)
            && !stored.contains(&(org, date));
        if counts {
            failed += 1;
            newest = newest.max(at.map(|t| t.fixed_offset()));
        }
    }
    let total = job.total();
    let stored = stored.len() as u64;
    let pending = total.saturating_sub(stored + failed);
    let state = match (pending, failed) {
        (0, 0) => State::Done,
        (0, _) => State::DoneWithFailures,
        _ => State::Running,
    };
    Ok(Status {
        job_id: job.job_id.clone(),
        status: state,
        total,
        stored,
        failed,
        pending,
        started_at: job.created_at,
        finished_at: newest.filter(|_| pending == 0),
    })
}

/// The (org, date, failed_at) recorded under `jobs/<job_id>/failed/`, from its listing.
async fn failures(
    storage: &Storage,
    job_id: &str,
) -> Result<Vec<(OrgId, NaiveDate, Option<DateTime<Utc>>)>, StorageError> {
    let prefix = failed_prefix(job_id);
    let mut out = Vec::new();
    let mut continuation = None;
    loop {
        let page = storage.list(&prefix, continuation, 5000).await?;
        out.extend(page.entries.iter().filter_map(|e| {
            let (org, rest) = e.name.strip_prefix(&prefix)?.split_once('/')?;
            let org = OrgId::parse(org, "org_id").ok()?;
            let date = rest.strip_suffix(".json")?.parse().ok()?;
            let at = e
                .metadata
                .get(FAILED_AT)
                .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                .map(|t| t.to_utc());
            Some((org, date, at))
        }));
        match page.next {
            Some(next) => continuation = Some(next),
            None => return Ok(out),
        }
    }
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
        is `stored` when its report exists (with `force`: generated since the job started), \
        `failed` when it is not stored and the worker gave up on it (rejected, or failing on \
        the host's last delivery); `pending = total - stored - failed`; `status` is `running` \
        while anything is pending, then `done` or `done_with_failures`, with `finished_at`.",
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
