//! The `daily_report_timer` function: the host's timer trigger arrives as
//! `POST /daily_report_timer` with `{"Data": {"timer": {"Schedule", "ScheduleStatus",
//! "IsPastDue"}}, "Metadata": {...}}` (custom-handler invocation protocol) and is answered
//! `{"Outputs": {}, "Logs": [...], "ReturnValue": <run result>}`.
//!
//! Each firing is [`scheduler::fire`] (every active org's due reports, the result recorded for
//! `GET /api/scheduler/status`); this module only speaks the protocol. The firing's time is
//! the host's: `Metadata.sys.UtcNow` of the invocation, else the app's clock. The reply is non-2xx only when the invocation as a whole failed: the orgs
//! could not be read, or every org failed. A manual run from the portal arrives the same way
//! (`IsPastDue` false).

use serde::{Deserialize, Serialize};
use serde_json::Value;
use warp::http::StatusCode;
use warp::reply::Response;

use crate::app::App;
use crate::http::error::ApiError;
use crate::http::request::Request;
use crate::http::response::json_response;
use crate::scheduler::{self, RunResult, RunStatus};

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

/// The reply the host expects from a custom handler.
#[derive(Debug, Serialize)]
pub struct InvocationReply {
    #[serde(rename = "Outputs")]
    pub outputs: serde_json::Map<String, Value>,
    #[serde(rename = "Logs")]
    pub logs: Vec<String>,
    #[serde(rename = "ReturnValue")]
    pub return_value: RunResult,
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
    let now = match invocation.metadata.pointer("/sys/UtcNow") {
        None | Some(Value::Null) => app.clock.now(),
        Some(v) => v
            .as_str()
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.with_timezone(&chrono::Utc))
            .ok_or_else(|| {
                ApiError::invalid("Metadata.sys.UtcNow", "UtcNow must be an RFC 3339 instant")
            })?,
    };
    let result = scheduler::fire(app, now, timer.is_past_due).await;
    let status = match result.status {
        RunStatus::Failed => StatusCode::INTERNAL_SERVER_ERROR,
        RunStatus::Succeeded | RunStatus::Partial => StatusCode::OK,
    };
    let reply = InvocationReply {
        outputs: Default::default(),
        logs: log_lines(&result),
        return_value: result,
    };
    Ok(json_response(status, &reply))
}

/// One line per org for the host's invocation log.
fn log_lines(r: &RunResult) -> Vec<String> {
    let mut lines = vec![format!(
        "daily_report_timer: {} (IsPastDue {})",
        r.status.as_str(),
        r.is_past_due
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
