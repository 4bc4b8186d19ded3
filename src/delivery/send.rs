//! Sending one digest: an HTTP POST of JSON with a time bound per attempt, up to
//! [`MAX_ATTEMPTS`] attempts with backoff (`backon`, as every retry of an outside call) on
//! connection errors, timeouts, 5xx and 429 (`Retry-After` honoured, capped at
//! [`MAX_RETRY_AFTER`]); any other 4xx fails at once. The attempts, waits and deadline are
//! [`with_attempts`], which an email's SMTP send shares (`super::email`). A failure of the first kind is worth
//! another try later ([`SendResult::retry_later`]; the next firing makes it, `claims`), a
//! refusal is not. Nothing runs past the caller's deadline: the last attempt is cut short, and
//! an attempt or a wait that would end after it is left to a later run. Error texts never
//! carry the URL (it is a secret).
//!
//! A digest goes only to a public address (`docs/access-and-safety.md`, "Webhook targets
//! inside the network"), checked on the address actually connected to, whatever was checked
//! when the org was written: an IP-literal host before connecting, a host name by the
//! client's resolver ([`PublicOnly`]), which drops internal addresses. Loopback is allowed
//! only with `ALLOW_INSECURE_WEBHOOKS=true`. Redirects are not followed, and no proxy is used
//! (it would connect on our behalf). A refused target is a final failure (not retried).
//!
//! The HTTP client is built once per process for each loopback setting ([`client`]), so
//! sends share its TLS set-up and connections.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant};

use backon::{ExponentialBuilder, Retryable as _};
use bytes::Bytes;

use crate::orgs;

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

/// The client of every send with this loopback setting (`ALLOW_INSECURE_WEBHOOKS`), built
/// on first use and then shared: [`ATTEMPT_TIMEOUT`] to connect, no redirects, no proxy,
/// [`PublicOnly`] as its resolver. Errors: the client could not be built (its TLS set-up;
/// the text has no URL).
pub fn client(allow_loopback: bool) -> Result<&'static reqwest::Client, String> {
    fn build(allow_loopback: bool) -> Result<reqwest::Client, String> {
        reqwest::Client::builder()
            .timeout(ATTEMPT_TIMEOUT)
            .connect_timeout(ATTEMPT_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .dns_resolver(Arc::new(PublicOnly { allow_loopback }))
            .build()
            .map_err(|e| format!("HTTP client: {}", e.without_url()))
    }
    static PUBLIC: LazyLock<Result<reqwest::Client, String>> = LazyLock::new(|| build(false));
    static WITH_LOOPBACK: LazyLock<Result<reqwest::Client, String>> = LazyLock::new(|| build(true));
    let built = if allow_loopback {
        &*WITH_LOOPBACK
    } else {
        &*PUBLIC
    };
    built.as_ref().map_err(Clone::clone)
}

/// Why one attempt failed, and what may follow it.
pub struct Failed {
    /// The error as the result shows it (no URL).
    error: String,
    /// Worth another attempt in this run (no connection, no answer in time, 5xx, 429).
    again: bool,
    /// Worth a later firing ([`SendResult::retry_later`]).
    retry_later: bool,
    /// The endpoint's `Retry-After`, capped at [`MAX_RETRY_AFTER`].
    retry_after: Option<Duration>,
}

impl Failed {
    /// A failure that may pass: tried again in this run, else by a later firing.
    pub fn transient(error: String, retry_after: Option<Duration>) -> Self {
        Failed {
            error,
            again: true,
            retry_later: true,
            retry_after,
        }
    }

    /// A failure no attempt will change: a refusal, a 4xx other than 429, an SMTP 5xx.
    pub fn fatal(error: String) -> Self {
        Failed {
            error,
            again: false,
            retry_later: false,
            retry_after: None,
        }
    }
}

/// POSTs `body` (JSON) to `url` with `headers`, returning by `deadline` (plus scheduling):
/// an attempt is bounded by [`ATTEMPT_TIMEOUT`] or the time left, whichever is shorter, and
/// the attempts are `backon`'s: [`BACKOFF`] then twice that, or the endpoint's
/// `Retry-After`, while the wait ends before `deadline`. `allow_loopback` is
/// `ALLOW_INSECURE_WEBHOOKS`: without it, a loopback target is refused like any other
/// internal one, without connecting ([`REFUSED`], not retried later).
pub async fn post(
    url: &str,
    headers: Vec<(&'static str, String)>,
    body: Vec<u8>,
    deadline: Instant,
    allow_loopback: bool,
) -> SendResult {
    match url::Url::parse(url) {
        Ok(u) if orgs::literal_host(&u, allow_loopback).is_ok() => {}
        _ => {
            return SendResult {
                attempts: 0,
                outcome: Err(REFUSED.into()),
                retry_later: false,
            };
        }
    }
    let client = match client(allow_loopback) {
        Ok(c) => c,
        Err(error) => {
            return SendResult {
                attempts: 0,
                outcome: Err(error),
                retry_later: true,
            };
        }
    };
    let body = Bytes::from(body);
    with_attempts(deadline, |bound| {
        let (headers, body) = (&headers, body.clone());
        async move {
            let mut req = client
                .post(url)
                .timeout(bound)
                .header("Content-Type", "application/json")
                .body(body);
            for (k, v) in headers {
                req = req.header(*k, v);
            }
            match req.send().await {
                Ok(r) if r.status().is_success() => Ok(r.status().as_u16()),
                Ok(r) => {
                    let status = r.status();
                    let error = format!("the endpoint answered {}", status.as_u16());
                    if status.as_u16() != 429 && !status.is_server_error() {
                        return Err(Failed::fatal(error));
                    }
                    let retry_after = r
                        .headers()
                        .get("retry-after")
                        .and_then(|v| v.to_str().ok()?.trim().parse::<u64>().ok())
                        .map(|s| Duration::from_secs(s).min(MAX_RETRY_AFTER));
                    Err(Failed::transient(error, retry_after))
                }
                Err(e) if refused_by_resolver(&e) => Err(Failed::fatal(REFUSED.into())),
                Err(e) => {
                    let what = if e.is_timeout() {
                        "no answer in time"
                    } else if e.is_connect() {
                        "connection failed"
                    } else {
                        "request failed"
                    };
                    Err(Failed::transient(
                        format!("{what}: {}", e.without_url()),
                        None,
                    ))
                }
            }
        }
    })
    .await
}

/// Makes `attempt` (one try, given its time bound: [`ATTEMPT_TIMEOUT`] or the time left,
/// whichever is shorter; `Ok` with the 2xx status or reply code) up to [`MAX_ATTEMPTS`] times
/// while it fails with a [`Failed::transient`] error, returning by `deadline` (plus scheduling): the waits
/// are `backon`'s, [`BACKOFF`] then twice that, or the failure's `retry_after`, while the wait
/// ends before `deadline`; no attempt starts after it. The result's error is the last one,
/// saying when the deadline left no time for another attempt.
pub async fn with_attempts<F, Fut>(deadline: Instant, attempt: F) -> SendResult
where
    F: Fn(Duration) -> Fut,
    Fut: Future<Output = Result<u16, Failed>>,
{
    let attempts = AtomicU32::new(0);
    let once = || {
        let (attempts, attempt) = (&attempts, &attempt);
        async move {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(Failed {
                    again: false,
                    ..Failed::transient("not sent: the run's time ran out".into(), None)
                });
            }
            attempts.fetch_add(1, Ordering::Relaxed);
            attempt(left.min(ATTEMPT_TIMEOUT)).await
        }
    };
    let backoff = ExponentialBuilder::default()
        .with_min_delay(BACKOFF)
        .with_factor(2.0)
        .with_max_times(MAX_ATTEMPTS as usize - 1);
    let sent = once
        .retry(backoff)
        .sleep(tokio::time::sleep)
        .when(|f| f.again)
        // The endpoint's Retry-After replaces the backoff's wait; a wait that would end
        // after the deadline ends the attempts instead.
        .adjust(|f, wait| {
            wait.map(|w| f.retry_after.unwrap_or(w))
                .filter(|w| Instant::now() + *w < deadline)
        })
        .await;
    let attempts = attempts.into_inner();
    match sent {
        Ok(status) => SendResult {
            attempts,
            outcome: Ok(status),
            retry_later: false,
        },
        Err(f) => {
            let error = if f.again && attempts < MAX_ATTEMPTS {
                format!(
                    "{}; no time left in this run for attempt {}",
                    f.error,
                    attempts + 1
                )
            } else {
                f.error
            };
            SendResult {
                attempts,
                outcome: Err(error),
                retry_later: f.retry_later,
            }
        }
    }
}

/// The error of a refused target: the url is not valid, or its host is, or resolves only to,
/// an address inside the network. Never names the url or host.
pub const REFUSED: &str = "refused: the url points inside the network (or is not a valid url); \
                           a digest goes to a public address only";

/// The client's resolver: the system's (within [`orgs::RESOLVE_TIMEOUT`]), keeping only the
/// addresses [`orgs::allowed_address`] allows; an error ([`Internal`], a final refusal) when
/// none is left, and an I/O error (a connection failure, tried again) when the name does not
/// resolve.
///
/// Since the client connects only to what this returns, a name that resolves differently
/// after the org was checked (DNS rebinding) is still refused.
pub struct PublicOnly {
    /// `ALLOW_INSECURE_WEBHOOKS`: loopback addresses are kept.
    pub allow_loopback: bool,
}

/// A host name that resolves only to addresses inside the network.
#[derive(Debug, thiserror::Error)]
#[error("the host resolves only to addresses inside the network")]
pub struct Internal;

impl reqwest::dns::Resolve for PublicOnly {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let allow_loopback = self.allow_loopback;
        Box::pin(async move {
            type BoxError = Box<dyn std::error::Error + Send + Sync>;
            let Some(found) = orgs::resolve(name.as_str(), 0).await else {
                return Err(Box::new(std::io::Error::other("the host did not resolve")) as BoxError);
            };
            let kept: Vec<SocketAddr> = found
                .into_iter()
                .filter(|a| orgs::allowed_address(a.ip(), allow_loopback))
                .collect();
            if kept.is_empty() {
                return Err(Box::new(Internal) as BoxError);
            }
            Ok(Box::new(kept.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// Whether `e` is [`PublicOnly`]'s refusal (somewhere in its causes).
fn refused_by_resolver(e: &reqwest::Error) -> bool {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(c) = cause {
        if c.is::<Internal>() {
            return true;
        }
        cause = c.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    /// A loopback listener answering every connection with `answer`: its port and how many
    /// connections it accepted.
    async fn listener(answer: String) -> (u16, Arc<AtomicUsize>) {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = l.local_addr().unwrap().port();
        let count = Arc::new(AtomicUsize::new(0));
        let seen = count.clone();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = l.accept().await {
                seen.fetch_add(1, Ordering::SeqCst);
                let answer = answer.clone();
                tokio::spawn(async move {
                    let mut buf = [0u8; 4096];
                    let _ = s.read(&mut buf).await;
                    let _ = s.write_all(answer.as_bytes()).await;
                });
            }
        });
        (port, count)
    }

    const OK: &str = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";

    async fn send(url: &str, allow_loopback: bool) -> SendResult {
        let deadline = Instant::now() + Duration::from_secs(20);
        post(url, Vec::new(), b"{}".to_vec(), deadline, allow_loopback).await
    }

    fn assert_refused(r: &SendResult, url: &str) {
        assert_eq!(r.outcome, Err(REFUSED.to_string()), "{url}");
        assert!(!r.retry_later, "{url}: a refusal is final");
    }

    /// An internal IP literal, in any spelling, is refused before connecting unless loopback
    /// is allowed (`ALLOW_INSECURE_WEBHOOKS`), and then only loopback.
    #[tokio::test]
    async fn an_internal_address_is_refused_without_connecting() {
        let (port, connections) = listener(OK.into()).await;
        for url in [
            format!("http://127.0.0.1:{port}/hook"),
            format!("http://0x7f000001:{port}/hook"),
            format!("http://127.1:{port}/hook"),
            format!("http://[::ffff:127.0.0.1]:{port}/hook"),
        ] {
            assert_refused(&send(&url, false).await, &url);
        }
        assert_eq!(connections.load(Ordering::SeqCst), 0);
        for url in [
            "http://10.0.0.1:9/",
            "https://169.254.169.254/",
            "https://[fd00::1]/",
        ] {
            assert_refused(&send(url, true).await, url);
        }
        let ok = send(&format!("http://0x7f000001:{port}/hook"), true).await;
        assert_eq!(ok.outcome, Ok(200));
        assert_eq!(connections.load(Ordering::SeqCst), 1);
    }

    /// A host name is checked on what it resolves to, by the client's own resolver: `localhost`
    /// is refused without connecting unless loopback is allowed.
    #[tokio::test]
    async fn a_name_resolving_to_loopback_is_refused_at_send() {
        let (port, connections) = listener(OK.into()).await;
        let url = format!("http://localhost:{port}/hook");
        let refused = send(&url, false).await;
        assert_refused(&refused, &url);
        assert_eq!(connections.load(Ordering::SeqCst), 0);
        assert_eq!(send(&url, true).await.outcome, Ok(200));
        assert_eq!(connections.load(Ordering::SeqCst), 1);
    }

    /// `backon`'s attempts: a 503 is tried [`MAX_ATTEMPTS`] times (waits of [`BACKOFF`] and
    /// twice that), then left to a later firing; a `Retry-After` is waited instead of the
    /// backoff; one that would end past the deadline ends the attempts at once; a 404 is final.
    #[tokio::test]
    async fn attempts_back_off_honour_retry_after_and_stop_at_the_deadline() {
        let answer = |status: &str, retry_after: &str| {
            format!(
                "HTTP/1.1 {status}\r\n{retry_after}Content-Length: 0\r\nConnection: close\r\n\r\n"
            )
        };
        let (port, seen) = listener(answer("503 Service Unavailable", "")).await;
        let started = Instant::now();
        let r = send(&format!("http://127.0.0.1:{port}/hook"), true).await;
        assert_eq!(r.outcome, Err("the endpoint answered 503".to_string()));
        assert_eq!((r.attempts, r.retry_later), (3, true));
        assert_eq!(seen.load(Ordering::SeqCst), 3);
        assert!(started.elapsed() >= BACKOFF * 3, "{:?}", started.elapsed());

        let (port, _) = listener(answer("429 Too Many Requests", "Retry-After: 2\r\n")).await;
        let started = Instant::now();
        let r = send(&format!("http://127.0.0.1:{port}/hook"), true).await;
        assert_eq!((r.attempts, r.retry_later), (3, true));
        assert!(
            started.elapsed() >= Duration::from_secs(4),
            "{:?}",
            started.elapsed()
        );

        let (port, seen) = listener(answer("429 Too Many Requests", "Retry-After: 30\r\n")).await;
        let started = Instant::now();
        let r = send(&format!("http://127.0.0.1:{port}/hook"), true).await;
        assert_eq!(
            r.outcome,
            Err("the endpoint answered 429; no time left in this run for attempt 2".to_string())
        );
        assert_eq!((r.attempts, r.retry_later), (1, true));
        assert_eq!(seen.load(Ordering::SeqCst), 1);
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );

        let (port, _) = listener(answer("404 Not Found", "")).await;
        let r = send(&format!("http://127.0.0.1:{port}/hook"), true).await;
        assert_eq!(r.outcome, Err("the endpoint answered 404".to_string()));
        assert_eq!((r.attempts, r.retry_later), (1, false));
    }

    /// Sends share one client per loopback setting, built once.
    #[tokio::test]
    async fn one_client_per_loopback_setting() {
        let with_loopback = client(true).unwrap();
        assert!(std::ptr::eq(with_loopback, client(true).unwrap()));
        assert!(std::ptr::eq(client(false).unwrap(), client(false).unwrap()));
        assert!(!std::ptr::eq(with_loopback, client(false).unwrap()));
    }

    /// A redirect is an answer, not followed: the digest does not reach its target.
    #[tokio::test]
    async fn a_redirect_is_not_followed() {
        let (target, reached) = listener(OK.into()).await;
        let (port, _) = listener(format!(
            "HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:{target}/x\r\n\
             Content-Length: 0\r\nConnection: close\r\n\r\n"
        ))
        .await;
        let r = send(&format!("http://127.0.0.1:{port}/hook"), true).await;
        assert_eq!(r.outcome, Err("the endpoint answered 302".to_string()));
        assert_eq!(reached.load(Ordering::SeqCst), 0);
    }
}
