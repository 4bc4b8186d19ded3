//! The `daily_report_worker` function (`docs/scale-out.md`, "The work queue"): the host's
//! queue trigger arrives as `POST /daily_report_worker` with
//! `{"Data": {"message": <the message>}, "Metadata": {"DequeueCount", "Id", …}}`
//! (custom-handler invocation protocol), the message being the decoded JSON object of a
//! [`ReportMessage`] or a JSON string of it (base64 of it is read too). It is answered
//! `{"Outputs": {}, "Logs": [...], "ReturnValue": <outcome>}`.
//!
//! The one (org, date) is generated and stored through the create-only path
//! (`daily_report::generate_and_store`: a message delivered twice makes one report), then,
//! when `notify`, the org's digest of that date is sent (`delivery::after_timer`; claims make
//! it once). A transient failure (ClickHouse or storage unavailable, a timeout) answers 503,
//! so the host leaves the message to reappear after its visibility timeout; a permanent one
//! (malformed message, org absent or inactive, a date not ended) answers 200 with
//! `ReturnValue.status = "rejected"` and its reason, recorded in the invocation's log (the
//! host's Application Insights) and the handler's, so that it is not retried.
//!
//! A message of a backfill job (`job_id`) that is rejected, or that fails on the host's last
//! delivery ([`MAX_DEQUEUE_COUNT`]: the host then moves it to the poison queue), is recorded
//! for the job (`jobs::record_failure`), so that the job's status counts it as `failed`
//! instead of leaving it pending (`docs/scale-out.md`, "The timer and backfills enqueue").

use base64::Engine as _;
use serde::Serialize;
use serde_json::Value;
use warp::http::StatusCode;
use warp::reply::Response;

use crate::app::App;
use crate::daily_report::schedule::{OrgRun, has_ended};
use crate::daily_report::snapshots::Written;
use crate::delivery::{self, DeliveryOutcome};
use crate::functions::reports_http::jobs::{self, Failure, FailureKind};
use crate::http::error::ApiError;
use crate::http::request::Request;
use crate::http::response::json_response;
use crate::orgs::{self, OrgError};
use crate::queue::ReportMessage;

/// How long the digest of a message may take to send (within the host's function timeout).
pub const DIGEST_BUDGET: std::time::Duration = std::time::Duration::from_secs(60);

/// `host.json`'s `extensions.queues.maxDequeueCount`: the delivery after which the host moves
/// a failed message to the poison queue (a test checks that the two agree).
pub const MAX_DEQUEUE_COUNT: u64 = 5;

/// What one message came to (the invocation's `ReturnValue`).
#[derive(Debug, Serialize)]
pub struct WorkerOutcome {
    /// `stored` (newly written or, with `force`, replaced), `exists` (already stored: a
    /// repeated delivery), `rejected` (permanent: not retried) or `failed` (transient:
    /// the host retries).
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub org_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub date: Option<String>,
    /// Why it was rejected or failed (safe to show: no host, path or key).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The host's `Metadata.DequeueCount` (1 on the first delivery).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dequeue_count: Option<u64>,
    /// The digests sent (or not) for this date when the message said `notify`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub deliveries: Vec<DeliveryOutcome>,
}

#[derive(Serialize)]
struct Reply {
    #[serde(rename = "Outputs")]
    outputs: serde_json::Map<String, Value>,
    #[serde(rename = "Logs")]
    logs: Vec<String>,
    #[serde(rename = "ReturnValue")]
    return_value: WorkerOutcome,
}

/// Handles `POST /daily_report_worker`: 200 for a stored, existing or rejected message, 503
/// for a transient failure; 400 (naming the field) when the body is not an invocation at
/// all.
pub async fn handle(app: &App, req: &Request) -> Result<Response, ApiError> {
    let body: Value = match serde_json::from_slice(&req.body) {
        Ok(v @ Value::Object(_)) => v,
        _ => {
            return Err(ApiError::invalid(
                "body",
                "not a custom-handler invocation: the body must be a JSON object",
            ));
        }
    };
    let dequeue_count = body.pointer("/Metadata/DequeueCount").and_then(|v| {
        v.as_u64()
            .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
    });
    let message_id = body
        .pointer("/Metadata/Id")
        .and_then(Value::as_str)
        .unwrap_or("-")
        .to_string();
    let data = body.get("Data").and_then(Value::as_object);
    let raw = data.and_then(|d| d.get("message").or_else(|| d.values().next()));
    let mut outcome = WorkerOutcome {
        status: "rejected",
        org_id: None,
        date: None,
        error: None,
        dequeue_count,
        deliveries: Vec::new(),
    };
    let status = match raw.map(parse_message) {
        None => reject(&mut outcome, "Data.message: missing".into()),
        Some(Err(why)) => reject(&mut outcome, format!("Data.message: {why}")),
        Some(Ok(message)) => {
            outcome.org_id = Some(message.org_id.to_string());
            outcome.date = Some(message.date.to_string());
            let status = work(app, &message, &mut outcome).await;
            record_for_job(app, &message, dequeue_count, &mut outcome, status).await
        }
    };
    let line = format!(
        "daily_report_worker: message {message_id} (dequeue {}) {} org {} date {}{}",
        dequeue_count.map_or("?".into(), |n| n.to_string()),
        outcome.status,
        outcome.org_id.as_deref().unwrap_or("-"),
        outcome.date.as_deref().unwrap_or("-"),
        outcome
            .error
            .as_deref()
            .map_or(String::new(), |e| format!(": {e}")),
    );
    match outcome.status {
        "rejected" => tracing::warn!(message_id, "{line}"),
        "failed" => tracing::error!(message_id, "{line}"),
        _ => tracing::info!(message_id, "{line}"),
    }
    let reply = Reply {
        outputs: Default::default(),
        logs: vec![line],
        return_value: outcome,
    };
    Ok(json_response(status, &reply))
}

fn reject(outcome: &mut WorkerOutcome, why: String) -> StatusCode {
    outcome.status = "rejected";
    outcome.error = Some(why);
    StatusCode::OK
}

fn fail(outcome: &mut WorkerOutcome, why: String) -> StatusCode {
    outcome.status = "failed";
    outcome.error = Some(why);
    StatusCode::SERVICE_UNAVAILABLE
}

/// Records, for the message's job, an (org, date) the worker gives up on: a rejection, or a
/// failure on the host's last delivery. Returns `status`, or 503 when a rejection could not
/// be recorded (the host then delivers the message again, and the record is tried again).
async fn record_for_job(
    app: &App,
    m: &ReportMessage,
    dequeue_count: Option<u64>,
    outcome: &mut WorkerOutcome,
    status: StatusCode,
) -> StatusCode {
    let Some(job_id) = &m.job_id else {
        return status;
    };
    let kind = match outcome.status {
        "rejected" => FailureKind::Rejected,
        "failed" if dequeue_count.is_some_and(|n| n >= MAX_DEQUEUE_COUNT) => FailureKind::Poisoned,
        _ => return status,
    };
    let failure = Failure {
        org_id: m.org_id.clone(),
        date: m.date,
        kind,
        error: outcome.error.clone().unwrap_or_default(),
        failed_at: app.clock.now(),
    };
    match jobs::record_failure(&app.storage, job_id, &failure).await {
        Ok(()) => status,
        Err(e) => {
            tracing::error!(%job_id, error = %e, "recording a job's failure failed");
            match kind {
                FailureKind::Rejected => {
                    fail(outcome, "storage is unavailable; try again later".into())
                }
                FailureKind::Poisoned => status,
            }
        }
    }
}

/// The message: its JSON object, a JSON string of it, or base64 of that JSON.
fn parse_message(v: &Value) -> Result<ReportMessage, String> {
    let object = match v {
        Value::Object(_) => v.clone(),
        Value::String(s) => match serde_json::from_str::<Value>(s) {
            Ok(o @ Value::Object(_)) => o,
            _ => base64::engine::general_purpose::STANDARD
                .decode(s.trim())
                .ok()
                .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
                .filter(Value::is_object)
                .ok_or("not a JSON object (nor base64 of one)")?,
        },
        _ => return Err("must be a JSON object".into()),
    };
    serde_path_to_error::deserialize::<_, ReportMessage>(object).map_err(|e| {
        let path = e.path().to_string();
        if path == "." {
            e.inner().to_string()
        } else {
            format!("{path}: {}", e.inner())
        }
    })
}

/// The message's work; the status of the reply.
async fn work(app: &App, m: &ReportMessage, outcome: &mut WorkerOutcome) -> StatusCode {
    let now = app.clock.now();
    let org = match orgs::get(&app.storage, &m.org_id).await {
        Ok(Some((org, _))) => org,
        Ok(None) => return reject(outcome, format!("organization {} not found", m.org_id)),
        Err(OrgError::Corrupt(..)) => {
            return reject(outcome, format!("organization {} is unreadable", m.org_id));
        }
        Err(e) => {
            tracing::error!(error = %e, "reading the organization failed");
            return fail(outcome, "storage is unavailable; try again later".into());
        }
    };
    if !org.is_active {
        return reject(outcome, format!("organization {} is inactive", m.org_id));
    }
    if !has_ended(&org, m.date, now) {
        return reject(
            outcome,
            format!(
                "date {} has not ended in {}: a report is made only for a finished local day",
                m.date,
                org.timezone.name()
            ),
        );
    }
    let mut run = OrgRun::new(&org);
    match crate::daily_report::generate_and_store(app, &org, m.date, m.force, now).await {
        Ok(Written::Exists) => {
            outcome.status = "exists";
            run.skipped.push(m.date);
        }
        Ok(_) => {
            outcome.status = "stored";
            run.generated.push(m.date);
        }
        Err(e) => {
            tracing::error!(org_id = %m.org_id, date = %m.date, error = %e, "report generation failed");
            return fail(outcome, e.public_message());
        }
    }
    if m.notify && org.notifications.iter().any(|n| n.enabled) {
        let deadline = std::time::Instant::now() + DIGEST_BUDGET;
        outcome.deliveries = delivery::after_timer(app, &org, m.date, &[run], deadline).await;
    }
    StatusCode::OK
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_dequeue_count_is_host_jsons() {
        let host: Value = serde_json::from_str(include_str!("../../host.json")).unwrap();
        assert_eq!(
            host["extensions"]["queues"]["maxDequeueCount"].as_u64(),
            Some(MAX_DEQUEUE_COUNT)
        );
    }
}
