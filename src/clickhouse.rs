//! The ClickHouse source of the daily report (`docs/daily-report.md`, "Source"): a thin wrapper
//! over the official `clickhouse` crate that adds what the old daily-report backend's `db.py` did
//! around `clickhouse-connect`: per-query limits, retries of transient failures, and errors that
//! can be logged and shown to an operator.
//!
//! * Connection: `CLICKHOUSE_URL`, `CLICKHOUSE_USERNAME`, `CLICKHOUSE_PASSWORD`,
//!   `CLICKHOUSE_DATABASE` ([`ClickHouseSettings`]). Credentials travel in the
//!   `X-ClickHouse-User` / `X-ClickHouse-Key` headers, never in the URL.
//! * Limits (the old backend's, `docs/daily-report.md`, "Origins"): every query carries
//!   `max_execution_time` = `CLICKHOUSE_QUERY_TIMEOUT_SECS` (180 s) and `max_memory_usage` =
//!   `CLICKHOUSE_MAX_MEMORY_USAGE` (10 GB). The account must be allowed to set them (a SELECT-only
//!   grant or `readonly = 2`; a `readonly = 1` profile refuses any setting, code 164). The client
//!   also gives up on an attempt [`CLIENT_MARGIN`] after that server-side limit, which bounds a
//!   hung connection.
//! * Connect bound: each attempt starts with `SELECT 1`, answered within
//!   `CLICKHOUSE_CONNECT_TIMEOUT` (default 10 s) or the call fails as unavailable (503).
//! * Retries ([`RetryPolicy`], default 3 attempts, 200 ms then 800 ms, by `backon`): only failures that
//!   say nothing about the query: the connection (refused, reset, TLS, DNS), a proxy's
//!   502/503/504, and the server codes [`TRANSIENT_CODES`]. A query that ran and failed
//!   (syntax, a limit, 159 `TIMEOUT_EXCEEDED`, 241 `MEMORY_LIMIT_EXCEEDED`, rights) is not
//!   retried: it would fail the same way, only later. The report's queries are SELECTs, so
//!   repeating one is always safe.
//! * Errors ([`ClickHouseError`]): their `Display` never holds SQL text, parameter values or
//!   the password: server messages are cut before the parts where ClickHouse quotes the
//!   query (`In scope ...`, `Syntax error: failed at position ...`, stack traces).

use std::future::Future;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use backon::{ExponentialBuilder, Retryable as _};

use crate::configuration::ClickHouseSettings;

/// The extra time the client waits beyond the server's `max_execution_time` before it gives up
/// on an attempt ([`ClickHouseError::Timeout`]).
pub const CLIENT_MARGIN: Duration = Duration::from_secs(10);

/// The default of `CLICKHOUSE_CONNECT_TIMEOUT`.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The deadline of [`ClickHouse::probe`].
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(10);

/// Server error codes worth a retry: 202 `TOO_MANY_SIMULTANEOUS_QUERIES`,
/// 203 `NO_FREE_CONNECTION`, 209 `SOCKET_TIMEOUT`, 210 `NETWORK_ERROR`.
pub const TRANSIENT_CODES: [u32; 4] = [202, 203, 209, 210];

/// Server error codes that mean the account cannot run the query: 164 `READONLY`,
/// 192 `UNKNOWN_USER`, 193 `WRONG_PASSWORD`, 194 `REQUIRED_PASSWORD`, 497 `ACCESS_DENIED`,
/// 516 `AUTHENTICATION_FAILED`.
pub const DENIED_CODES: [u32; 6] = [164, 192, 193, 194, 497, 516];

/// Why a ClickHouse call failed. `Display` is safe to log and to show an operator: no SQL, no
/// parameter values, no credentials.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ClickHouseError {
    /// The settings cannot make a client (a URL that does not parse, credentials in the URL).
    #[error("ClickHouse is misconfigured: {0}")]
    Config(String),
    /// The server could not be reached or answered as unavailable, after every retry
    /// (connection refused/reset, DNS, TLS, HTTP 502/503/504, codes [`TRANSIENT_CODES`]).
    #[error("ClickHouse is unavailable: {0}")]
    Unavailable(String),
    /// The query hit `max_execution_time` (code 159) or the client's deadline.
    #[error("ClickHouse query timed out")]
    Timeout,
    /// The server refused the account or its rights ([`DENIED_CODES`]).
    #[error("ClickHouse refused the account (code {code}{}): {message}", name_suffix(.name))]
    Denied {
        code: u32,
        name: Option<String>,
        message: String,
    },
    /// The query ran and failed (syntax, unknown table, memory limit, ...). `code` is
    /// ClickHouse's error code when the server gave one; `message` is the server's text with
    /// any quoted SQL cut off.
    #[error("ClickHouse query failed ({}{}): {message}", code_text(.code), name_suffix(.name))]
    Query {
        code: Option<u32>,
        name: Option<String>,
        message: String,
    },
    /// The answer did not have the expected shape (columns, types, row count).
    #[error("ClickHouse answer could not be read: {0}")]
    Protocol(String),
}

fn code_text(code: &Option<u32>) -> String {
    code.map_or_else(|| "no code".to_string(), |c| format!("code {c}"))
}

fn name_suffix(name: &Option<String>) -> String {
    name.as_ref().map(|n| format!(" {n}")).unwrap_or_default()
}

impl ClickHouseError {
    /// Whether another attempt may succeed (see the module doc).
    pub fn is_transient(&self) -> bool {
        matches!(self, ClickHouseError::Unavailable(_))
    }
}

/// How often and how patiently transient failures are retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, at least 1.
    pub attempts: u32,
    /// Pause after the first failed attempt; each later pause is `factor` times longer.
    pub first_delay: Duration,
    pub factor: u32,
}

impl Default for RetryPolicy {
    /// 3 attempts, pauses of 200 ms and 800 ms (about 1 s in all when the server is down).
    fn default() -> Self {
        Self {
            attempts: 3,
            first_delay: Duration::from_millis(200),
            factor: 4,
        }
    }
}

/// What one call cost: attempts made (HTTP round trips, retries included) and, for the last
/// one, the server's `X-ClickHouse-Summary`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CallStats {
    pub round_trips: u32,
    pub rows_read: u64,
    pub bytes_read: u64,
}

/// A ClickHouse connection pool (the crate's HTTP client) with the settings of
/// [`ClickHouseSettings`]. Cheap to clone.
#[derive(Clone)]
pub struct ClickHouse {
    client: clickhouse::Client,
    database: String,
    retry: RetryPolicy,
    attempt_timeout: Duration,
    connect_timeout: Duration,
}

impl std::fmt::Debug for ClickHouse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClickHouse")
            .field("database", &self.database)
            .field("retry", &self.retry)
            .field("attempt_timeout", &self.attempt_timeout)
            .field("connect_timeout", &self.connect_timeout)
            .finish_non_exhaustive()
    }
}

impl ClickHouse {
    /// A client for `settings`. No connection is made until the first query.
    ///
    /// Errors: [`ClickHouseError::Config`] when the URL is not an http(s) URL or carries
    /// credentials (they belong in `CLICKHOUSE_USERNAME` / `CLICKHOUSE_PASSWORD`); the message
    /// never repeats the URL.
    pub fn new(settings: &ClickHouseSettings) -> Result<Self, ClickHouseError> {
        let url = url::Url::parse(&settings.url)
            .map_err(|e| ClickHouseError::Config(format!("CLICKHOUSE_URL is not a URL ({e})")))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(ClickHouseError::Config(
                "CLICKHOUSE_URL must start with http:// or https://".into(),
            ));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(ClickHouseError::Config(
                "CLICKHOUSE_URL must not hold credentials; set CLICKHOUSE_USERNAME and \
                 CLICKHOUSE_PASSWORD"
                    .into(),
            ));
        }
        let client = clickhouse::Client::default()
            .with_url(settings.url.trim_end_matches('/'))
            .with_user(&settings.username)
            .with_password(settings.password.expose())
            .with_database(&settings.database)
            .with_product_info("call-analytics", env!("CARGO_PKG_VERSION"))
            .with_setting(
                "max_execution_time",
                settings.query_timeout_secs.to_string(),
            )
            .with_setting("max_memory_usage", settings.max_memory_usage.to_string());
        Ok(Self {
            client,
            database: settings.database.clone(),
            retry: RetryPolicy::default(),
            attempt_timeout: Duration::from_secs(settings.query_timeout_secs) + CLIENT_MARGIN,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
        })
    }

    /// The same client with another connect timeout (`CLICKHOUSE_CONNECT_TIMEOUT`; see
    /// [`ClickHouse::run`]).
    pub fn with_connect_timeout(mut self, connect_timeout: Duration) -> Self {
        self.connect_timeout = connect_timeout;
        self
    }

    /// The database queries run in (`CLICKHOUSE_DATABASE`).
    pub fn database(&self) -> &str {
        &self.database
    }

    /// The retry policy in force.
    pub fn retry_policy(&self) -> RetryPolicy {
        self.retry
    }

    /// `SELECT 1`: how long one round trip took. One attempt, at most [`PROBE_TIMEOUT`], for
    /// health checks.
    pub async fn probe(&self) -> Result<Duration, ClickHouseError> {
        let started = Instant::now();
        let one = tokio::time::timeout(
            PROBE_TIMEOUT,
            self.client.query("SELECT toUInt8(1)").fetch_one::<u8>(),
        )
        .await
        .map_err(|_| ClickHouseError::Timeout)?
        .map_err(classify)?;
        if one != 1 {
            return Err(ClickHouseError::Protocol(
                "SELECT 1 did not return 1".into(),
            ));
        }
        Ok(started.elapsed())
    }

    /// Runs `call` with the crate's client, retrying transient failures per the policy
    /// (`backon`). Each attempt first sends `SELECT 1`, which must be answered within the
    /// connect timeout (`CLICKHOUSE_CONNECT_TIMEOUT`): a query may legitimately run for
    /// minutes before its first byte, so this is how a server that accepts connections and
    /// never answers is told apart; it fails the call at once as
    /// [`ClickHouseError::Unavailable`], without a retry. Then the query runs with its own
    /// deadline (`max_execution_time` + [`CLIENT_MARGIN`]). `call` returns its value and the
    /// server's summary of the attempt; [`CallStats::round_trips`] counts both requests of
    /// every attempt.
    ///
    /// Errors: the last attempt's error, classified ([`ClickHouseError`]).
    pub async fn run<T, F, Fut>(&self, mut call: F) -> Result<(T, CallStats), ClickHouseError>
    where
        F: FnMut(clickhouse::Client) -> Fut,
        Fut: Future<Output = Result<(T, Summary), clickhouse::error::Error>>,
    {
        let round_trips = AtomicU32::new(0);
        let attempt = || {
            let query = call(self.client.clone());
            let round_trips = &round_trips;
            async move {
                round_trips.fetch_add(1, Ordering::Relaxed);
                self.check_connection().await?;
                round_trips.fetch_add(1, Ordering::Relaxed);
                tokio::time::timeout(self.attempt_timeout, query)
                    .await
                    .map_err(|_| ClickHouseError::Timeout)
                    .and_then(|r| r.map_err(classify))
                    .map_err(|e| {
                        let retry = e.is_transient();
                        (e, retry)
                    })
            }
        };
        let backoff = ExponentialBuilder::default()
            .with_min_delay(self.retry.first_delay)
            .with_factor(self.retry.factor as f32)
            .with_max_delay(Duration::from_secs(60))
            .with_max_times(self.retry.attempts.saturating_sub(1) as usize);
        let (value, summary) = attempt
            .retry(backoff)
            .sleep(tokio::time::sleep)
            .when(|(_, retry)| *retry)
            .notify(|(e, _), pause| {
                tracing::warn!(error = %e, pause_ms = pause.as_millis() as u64,
                    "ClickHouse call failed; retrying");
            })
            .await
            .map_err(|(e, _)| e)?;
        Ok((
            value,
            CallStats {
                round_trips: round_trips.into_inner(),
                rows_read: summary.rows_read,
                bytes_read: summary.bytes_read,
            },
        ))
    }

    /// `SELECT 1` within the connect timeout. `Err((error, retry))`: no answer in time is
    /// final; a refused or reset connection is retried like any transient failure.
    async fn check_connection(&self) -> Result<(), (ClickHouseError, bool)> {
        let one = self.client.query("SELECT toUInt8(1)").fetch_one::<u8>();
        match tokio::time::timeout(self.connect_timeout, one).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => {
                let e = classify(e);
                let retry = e.is_transient();
                Err((e, retry))
            }
            Err(_) => Err((
                ClickHouseError::Unavailable(format!(
                    "no answer within {} s (CLICKHOUSE_CONNECT_TIMEOUT)",
                    self.connect_timeout.as_secs()
                )),
                false,
            )),
        }
    }

    /// Runs a statement that returns no rows (DDL, INSERT ... SELECT), with the same retries.
    /// For tests and tools: the handler itself only reads.
    pub async fn execute(&self, sql: &str) -> Result<(), ClickHouseError> {
        self.run(|client| {
            let sql = sql.to_string();
            async move {
                client.query_raw(&sql).execute().await?;
                Ok(((), Summary::default()))
            }
        })
        .await
        .map(|_| ())
    }
}

/// The two numbers of `X-ClickHouse-Summary` the report keeps (0 when absent).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Summary {
    pub rows_read: u64,
    pub bytes_read: u64,
}

impl Summary {
    /// From the crate's parsed header, if the server sent one.
    pub fn from_header(summary: Option<&clickhouse::QuerySummary>) -> Self {
        summary.map_or_else(Self::default, |s| Self {
            rows_read: s.read_rows().unwrap_or(0),
            bytes_read: s.read_bytes().unwrap_or(0),
        })
    }
}

/// Sorts a crate error into [`ClickHouseError`] (see the module doc for the rules).
pub fn classify(e: clickhouse::error::Error) -> ClickHouseError {
    use clickhouse::error::Error as E;
    match e {
        E::Network(_) => ClickHouseError::Unavailable(chain(&e)),
        E::TimedOut => ClickHouseError::Timeout,
        E::BadResponse(text) => classify_response(&text),
        E::InvalidParams(_) | E::Unsupported(_) => ClickHouseError::Config(chain(&e)),
        other => ClickHouseError::Protocol(cut(&chain(&other), 300)),
    }
}

/// Sorts the text of a failed HTTP answer: the server's `Code: N. DB::Exception: ...`, or a
/// proxy's status line / page.
pub fn classify_response(text: &str) -> ClickHouseError {
    match parse_exception(text) {
        Some((code, name, message)) => {
            if code == 159 {
                ClickHouseError::Timeout
            } else if TRANSIENT_CODES.contains(&code) {
                ClickHouseError::Unavailable(format!(
                    "code {code}{}: {message}",
                    name_suffix(&name)
                ))
            } else if DENIED_CODES.contains(&code) {
                ClickHouseError::Denied {
                    code,
                    name,
                    message,
                }
            } else {
                ClickHouseError::Query {
                    code: Some(code),
                    name,
                    message,
                }
            }
        }
        None => {
            let status = proxy_status(text);
            match status {
                Some(s @ (502..=504)) => ClickHouseError::Unavailable(format!("HTTP {s}")),
                Some(s @ (401 | 403)) => ClickHouseError::Denied {
                    code: s,
                    name: Some("HTTP".into()),
                    message: format!("HTTP {s}"),
                },
                _ => ClickHouseError::Query {
                    code: None,
                    name: None,
                    message: cut(&sanitize(text), 200),
                },
            }
        }
    }
}

/// `Code: 47. DB::Exception: Unknown ... (UNKNOWN_IDENTIFIER) (version 25.8.1.1)` → (47,
/// Some("UNKNOWN_IDENTIFIER"), "Unknown ...").
fn parse_exception(text: &str) -> Option<(u32, Option<String>, String)> {
    let at = text.find("Code: ")?;
    let rest = &text[at + 6..];
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    let code: u32 = digits.parse().ok()?;
    let body = rest
        .split_once("DB::Exception: ")
        .map_or(&rest[digits.len()..], |(_, b)| b);
    let name = exception_name(body);
    Some((code, name, cut(&sanitize(body), 300)))
}

/// The upper-case error name ClickHouse appends in parentheses, e.g. `(UNKNOWN_TABLE)`.
fn exception_name(body: &str) -> Option<String> {
    let mut rest = body;
    while let Some(open) = rest.find('(') {
        let after = &rest[open + 1..];
        if let Some(close) = after.find(')') {
            let inner = &after[..close];
            if inner.len() >= 3
                && inner
                    .chars()
                    .all(|c| c.is_ascii_uppercase() || c == '_' || c.is_ascii_digit())
                && inner.starts_with(|c: char| c.is_ascii_uppercase())
            {
                return Some(inner.to_string());
            }
        }
        rest = after;
    }
    None
}

/// A status a proxy put in its answer: the crate's `"503 Service Unavailable"` for empty
/// bodies, or an HTML page's `502 Bad Gateway` title.
fn proxy_status(text: &str) -> Option<u32> {
    let t = text.trim_start();
    if let Some(code) = t.get(..3).and_then(|s| s.parse::<u32>().ok())
        && (100..600).contains(&code)
        && t[3..].starts_with(' ')
    {
        return Some(code);
    }
    for (needle, code) in [
        ("Bad Gateway", 502),
        ("Service Unavailable", 503),
        ("Service Temporarily Unavailable", 503),
        ("Gateway Time-out", 504),
        ("Gateway Timeout", 504),
    ] {
        if text.contains(needle) {
            return Some(code);
        }
    }
    None
}

/// Cuts a server message before any part that may quote the query.
fn sanitize(message: &str) -> String {
    const CUTS: [&str; 9] = [
        " In scope ",
        " in scope ",
        ": In scope",
        "Syntax error",
        ": While processing",
        ": while executing",
        "Stack trace",
        " (version ",
        "\n",
    ];
    let mut end = message.len();
    for marker in CUTS {
        if let Some(i) = message.find(marker) {
            // Keep the words "Syntax error" themselves: they are the useful part.
            let i = if marker == "Syntax error" {
                i + marker.len()
            } else {
                i
            };
            end = end.min(i);
        }
    }
    message[..end]
        .trim()
        .trim_end_matches(['.', ':', ','])
        .to_string()
}

fn cut(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

/// An error and its sources, `a: b: c`.
fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::configuration::Secret;

    fn settings(url: &str) -> ClickHouseSettings {
        ClickHouseSettings {
            url: url.into(),
            username: "reader".into(),
            password: Secret::new("hunter2"),
            database: "default".into(),
            query_timeout_secs: 180,
            max_memory_usage: 10_000_000_000,
        }
    }

    #[test]
    fn server_codes_are_sorted() {
        let e = classify_response(
            "Code: 159. DB::Exception: Timeout exceeded: elapsed 180.2 seconds, maximum: 180. \
             (TIMEOUT_EXCEEDED) (version 25.8.1.1)",
        );
        assert_eq!(e, ClickHouseError::Timeout);
        assert!(!e.is_transient());

        let e = classify_response(
            "Code: 241. DB::Exception: Memory limit (for query) exceeded: would use 9.40 GiB. \
             (MEMORY_LIMIT_EXCEEDED) (version 25.8.1.1)",
        );
        assert!(
            matches!(&e, ClickHouseError::Query { code: Some(241), name: Some(n), .. } if n == "MEMORY_LIMIT_EXCEEDED")
        );
        assert!(!e.is_transient());

        let e = classify_response(
            "Code: 209. DB::Exception: Timeout exceeded while reading from socket. (SOCKET_TIMEOUT)",
        );
        assert!(e.is_transient());
        let e = classify_response(
            "Code: 210. DB::Exception: Connection reset by peer. (NETWORK_ERROR)",
        );
        assert!(e.is_transient());

        let e = classify_response(
            "Code: 516. DB::Exception: reader: Authentication failed: password is incorrect, or \
             there is no user with such name. (AUTHENTICATION_FAILED) (version 25.8.1.1)",
        );
        assert!(matches!(e, ClickHouseError::Denied { code: 516, .. }));
    }

    #[test]
    fn proxies_answering_unavailable_are_transient() {
        assert!(classify_response("503 Service Unavailable").is_transient());
        assert!(classify_response("502 Bad Gateway").is_transient());
        assert!(
            classify_response("<html><head><title>504 Gateway Time-out</title></head></html>")
                .is_transient()
        );
        assert!(!classify_response("404 Not Found").is_transient());
    }

    #[test]
    fn messages_never_quote_the_query() {
        let e = classify_response(
            "Code: 47. DB::Exception: Unknown expression identifier `flat_datum` in scope \
             SELECT JSONExtractString(flat_datum, 'result.call.call_classification') FROM \
             public_node_outputs WHERE org_id = '01951f56'. (UNKNOWN_IDENTIFIER) (version 25.8.1.1)",
        );
        let text = e.to_string();
        assert!(text.contains("code 47 UNKNOWN_IDENTIFIER"), "{text}");
        assert!(
            text.contains("Unknown expression identifier `flat_datum`"),
            "{text}"
        );
        assert!(!text.contains("SELECT"), "{text}");
        assert!(!text.contains("01951f56"), "{text}");

        let e = classify_response(
            "Code: 62. DB::Exception: Syntax error: failed at position 8 (FROMM) (line 1, col 8): \
             FROMM public_runs WHERE id = 'x'. Expected one of: ... (SYNTAX_ERROR) (version 25.8.1.1)",
        );
        let text = e.to_string();
        assert!(text.contains("Syntax error"), "{text}");
        assert!(!text.contains("public_runs"), "{text}");
    }

    #[test]
    fn credentials_in_the_url_are_refused_without_echoing_them() {
        let e = ClickHouse::new(&settings("https://reader:hunter2@x.clickhouse.cloud:8443"))
            .unwrap_err();
        assert!(matches!(e, ClickHouseError::Config(_)));
        assert!(!e.to_string().contains("hunter2"));
        assert!(ClickHouse::new(&settings("ftp://x")).is_err());
        let ch = ClickHouse::new(&settings("https://x.clickhouse.cloud:8443")).unwrap();
        assert!(!format!("{ch:?}").contains("hunter2"));
    }
}
