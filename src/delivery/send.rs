//! Sending one digest: an HTTP POST of JSON with a time bound per attempt, up to
//! [`MAX_ATTEMPTS`] attempts with backoff on connection errors, timeouts, 5xx and 429
//! (`Retry-After` honoured, capped at [`MAX_RETRY_AFTER`]); any other 4xx fails at once. A
//! failure of the first kind is worth another try later ([`SendResult::retry_later`]; the next
//! firing makes it, `claims`), a refusal is not. Nothing runs past the caller's deadline: the
//! last attempt is cut short, and an attempt or a wait that would end after it is left to a
//! later run. Error texts never carry the URL (it is a secret).

use std::time::{Duration, Instant};

/// Attempts per digest.
pub const MAX_ATTEMPTS: u32 = 3;
/// The bound of one attempt (connect + answer).
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest `Retry-After` waited for.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);
/// The wait before attempt 2 (doubled before attempt 3) when no `Retry-After` is given.
pub const BACKOFF: Duration = Duration::from_millis(500);

/// How a send went.
#[derive(Debug, Clone)]
pub struct SendResult {
    pub attempts: u32,
    /// The 2xx status, or the last error (no URL in it).
    pub outcome: Result<u16, String>,
    /// Failed for a reason that may pass (no connection, no answer in time, 5xx, 429), so a
    /// later firing may send it; `false` when sent, or refused (another 4xx).
    pub retry_later: bool,
}

/// POSTs `body` (JSON) to `url` with `headers`, returning by `deadline` (plus scheduling):
/// an attempt is bounded by [`ATTEMPT_TIMEOUT`] or the time left, whichever is shorter.
pub async fn post(
    url: &str,
    headers: Vec<(&'static str, String)>,
    body: Vec<u8>,
    deadline: Instant,
) -> SendResult {
    let client = match reqwest::Client::builder()
        .timeout(ATTEMPT_TIMEOUT)
        .connect_timeout(ATTEMPT_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            return SendResult {
                attempts: 0,
                outcome: Err(format!("HTTP client: {}", e.without_url())),
                retry_later: true,
            };
        }
    };
    let mut attempts = 0;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return SendResult {
                attempts,
                outcome: Err("not sent: the run's time ran out".into()),
                retry_later: true,
            };
        }
        attempts += 1;
        let mut req = client
            .post(url)
            .timeout(left.min(ATTEMPT_TIMEOUT))
            .header("Content-Type", "application/json")
            .body(body.clone());
        for (k, v) in &headers {
            req = req.header(*k, v);
        }
        let (error, wait) = match req.send().await {
            Ok(r) if r.status().is_success() => {
                return SendResult {
                    attempts,
                    outcome: Ok(r.status().as_u16()),
                    retry_later: false,
                };
            }
            Ok(r) => {
                let status = r.status();
                let retry_after = r
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok()?.trim().parse::<u64>().ok())
                    .map(|s| Duration::from_secs(s).min(MAX_RETRY_AFTER));
                let error = format!("the endpoint answered {}", status.as_u16());
                if status.as_u16() != 429 && !status.is_server_error() {
                    return SendResult {
                        attempts,
                        outcome: Err(error),
                        retry_later: false,
                    };
                }
                (error, retry_after)
            }
            Err(e) => {
                let what = if e.is_timeout() {
                    "no answer in time"
                } else if e.is_connect() {
                    "connection failed"
                } else {
                    "request failed"
                };
                (format!("{what}: {}", e.without_url()), None)
            }
        };
        let wait = wait.unwrap_or(BACKOFF * 2u32.pow(attempts - 1));
        if attempts >= MAX_ATTEMPTS {
            return SendResult {
                attempts,
                outcome: Err(error),
                retry_later: true,
            };
        }
        if Instant::now() + wait >= deadline {
            return SendResult {
                attempts,
                outcome: Err(format!(
                    "{error}; no time left in this run for attempt {}",
                    attempts + 1
                )),
                retry_later: true,
            };
        }
        tokio::time::sleep(wait).await;
    }
}
