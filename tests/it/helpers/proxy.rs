//! A TCP proxy in front of a service (the ClickHouse front): it counts the HTTP requests that
//! go through and injects the faults a test asks for ([`Faults`]).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Mutex, watch};
use tokio::time::Instant;

/// What the proxy does besides relaying. The default relays everything unchanged.
#[derive(Default, Clone)]
pub struct Faults {
    /// The first `fail_first` connections are answered `503 Service Unavailable` (as an
    /// overloaded load balancer would) and closed, without reaching the service.
    pub fail_first: usize,
    /// `(quorum, max_wait)`: every response is held until `quorum` requests have come in, or
    /// `max_wait` has passed since the proxy started. Clients reading through it all have their
    /// requests in flight before any of them gets an answer.
    pub hold_until: Option<(usize, Duration)>,
    /// A request whose bytes contain this string (an org id sent as a query parameter) is
    /// answered with ClickHouse's own error reply (HTTP 500, `X-ClickHouse-Exception-Code: 60`)
    /// and its connection closed; every other request is relayed unchanged.
    pub poison: Option<String>,
}

/// A running proxy; it serves until the test ends.
pub struct Proxy {
    /// `http://127.0.0.1:<port>`: point the client here instead of at the service.
    pub url: String,
    state: Arc<State>,
}

struct State {
    upstream: String,
    requests: watch::Sender<usize>,
    failures_left: AtomicUsize,
    hold: Option<(usize, Instant)>,
    poison: Option<String>,
}

impl Proxy {
    /// A proxy to `upstream_url` that relays everything and counts the requests.
    pub async fn start(upstream_url: &str) -> Proxy {
        Proxy::with_faults(upstream_url, Faults::default()).await
    }

    /// A proxy to `upstream_url` with `faults`.
    pub async fn with_faults(upstream_url: &str, faults: Faults) -> Proxy {
        let upstream = url::Url::parse(upstream_url).expect("the upstream is a URL");
        let upstream = format!(
            "{}:{}",
            upstream.host_str().expect("the upstream URL has a host"),
            upstream.port_or_known_default().expect("a port")
        );
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(State {
            upstream,
            requests: watch::channel(0).0,
            failures_left: AtomicUsize::new(faults.fail_first),
            hold: faults
                .hold_until
                .map(|(quorum, max_wait)| (quorum, Instant::now() + max_wait)),
            poison: faults.poison,
        });
        let shared = state.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let state = shared.clone();
                tokio::spawn(async move {
                    let _ = relay(client, state).await;
                });
            }
        });
        Proxy { url, state }
    }

    /// The HTTP requests (request lines `POST /` and `GET /`) that came in so far.
    pub fn requests(&self) -> usize {
        *self.state.requests.borrow()
    }
}

/// ClickHouse's reply to a query on a missing table.
fn clickhouse_error_reply() -> String {
    let body = "Code: 60. DB::Exception: Unknown table expression identifier 'public_runs'. (UNKNOWN_TABLE)\n";
    format!(
        "HTTP/1.1 500 Internal Server Error\r\nX-ClickHouse-Exception-Code: 60\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

async fn relay(mut client: TcpStream, state: Arc<State>) -> std::io::Result<()> {
    let count = |chunk: &[u8], tail: &mut Vec<u8>| {
        let k = count_requests(chunk, tail);
        if k > 0 {
            state.requests.send_modify(|c| *c += k);
        }
    };
    if state
        .failures_left
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok()
    {
        // Read the request head, count it, answer like an overloaded load balancer.
        let mut buf = vec![0u8; 65536];
        let n = client.read(&mut buf).await?;
        count(&buf[..n], &mut Vec::new());
        client
            .write_all(
                b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            )
            .await?;
        return client.shutdown().await;
    }
    let server = TcpStream::connect(&state.upstream).await?;
    let (mut cr, cw) = client.into_split();
    let (sr, mut sw) = server.into_split();
    // The client's write half is shared: replies go through it, and so does a poisoned answer.
    let cw = Arc::new(Mutex::new(cw));
    let down = tokio::spawn(relay_replies(sr, cw.clone(), state.clone()));
    let mut buf = vec![0u8; 65536];
    let mut tail = Vec::new();
    loop {
        let n = cr.read(&mut buf).await?;
        if n == 0 {
            sw.shutdown().await?;
            break;
        }
        let chunk = &buf[..n];
        count(chunk, &mut tail);
        let poisoned = match &state.poison {
            Some(p) => chunk.windows(p.len()).any(|w| w == p.as_bytes()),
            None => false,
        };
        if poisoned {
            // HTTP/1.1 without pipelining: no earlier reply is pending on this connection.
            down.abort();
            let mut w = cw.lock().await;
            w.write_all(clickhouse_error_reply().as_bytes()).await?;
            return w.shutdown().await;
        }
        sw.write_all(chunk).await?;
    }
    let _ = down.await;
    Ok(())
}

/// Service to client: held first when the faults say so, then copied as it comes.
async fn relay_replies(
    mut server: tokio::net::tcp::OwnedReadHalf,
    client: Arc<Mutex<OwnedWriteHalf>>,
    state: Arc<State>,
) -> std::io::Result<()> {
    if let Some((quorum, deadline)) = state.hold {
        let mut requests = state.requests.subscribe();
        let _ = tokio::time::timeout_at(deadline, requests.wait_for(|c| *c >= quorum)).await;
    }
    let mut buf = vec![0u8; 65536];
    loop {
        let n = server.read(&mut buf).await?;
        if n == 0 {
            return client.lock().await.shutdown().await;
        }
        client.lock().await.write_all(&buf[..n]).await?;
    }
}

/// Request lines in `chunk`, with the last bytes of the previous chunk in `tail` (a line may
/// straddle two reads).
fn count_requests(chunk: &[u8], tail: &mut Vec<u8>) -> usize {
    let mut data = std::mem::take(tail);
    data.extend_from_slice(chunk);
    let n = data
        .windows(6)
        .filter(|w| *w == b"POST /" || w.starts_with(b"GET /"))
        .count();
    *tail = data[data.len().saturating_sub(5)..].to_vec();
    n
}
