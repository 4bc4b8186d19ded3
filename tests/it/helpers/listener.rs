//! The Functions host's queue listener, played for the queue tests (`tests/it/queue.rs`) and
//! the queue benchmark (`examples/queue_listener.rs`, which includes this file: one copy of
//! the host's behaviour). As Microsoft documents it: dequeue with a visibility timeout, POST
//! `/daily_report_worker` with `{"Data": {"message": …}, "Metadata": {"DequeueCount", "Id",
//! …}}`, delete the message on 2xx, leave it to reappear after the visibility timeout
//! otherwise, and move it to `<queue>-poison` once a failed delivery reaches
//! `maxDequeueCount` ([`MAX_DEQUEUE_COUNT`], as `host.json` sets it).
//!
//! A queue call that fails is tried again ([`TRIES`] in all, as the host's SDK retries), so
//! that a busy emulator does not end a long drain. Standalone: it uses the crate and its
//! dependencies only, no other helper.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use base64::Engine as _;
use call_analytics::functions::daily_report_worker::MAX_DEQUEUE_COUNT;
use call_analytics::queue::{QueueError, Received, Which, WorkQueue};
use chrono::Utc;
use serde_json::{Value, json};

/// Tries of one queue call before the listener panics.
pub const TRIES: u32 = 5;

/// `call`'s value, tried up to [`TRIES`] times, 0.5 s × the try number apart. Panics naming
/// `what` when the last try fails.
async fn tried<T, F, Fut>(what: &str, mut call: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, QueueError>>,
{
    let mut attempt = 1;
    loop {
        match call().await {
            Ok(v) => return v,
            Err(e) if attempt < TRIES => {
                eprintln!("listener: {what} failed (try {attempt} of {TRIES}): {e}");
                tokio::time::sleep(Duration::from_millis(500 * u64::from(attempt))).await;
                attempt += 1;
            }
            Err(e) => panic!("{what}: {e}"),
        }
    }
}

/// What one delivery came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivered {
    /// 2xx: deleted.
    Done,
    /// Non-2xx or no answer: left to reappear.
    Left,
    /// Non-2xx at `maxDequeueCount`: moved to the poison queue.
    Poisoned,
}

/// The host's queue listener for one handler.
pub struct Listener {
    pub queue: WorkQueue,
    /// How long a dequeued message stays invisible (a failed one reappears after it).
    pub visibility: Duration,
    client: reqwest::Client,
}

impl Listener {
    /// A listener on `queue`; each POST to the handler may take 60 s.
    pub fn new(queue: WorkQueue, visibility: Duration) -> Listener {
        Listener {
            queue,
            visibility,
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(60))
                .build()
                .expect("an HTTP client"),
        }
    }

    /// Delivers one dequeued message to the handler at `address` as the host does: the
    /// message's JSON as an object, or as a string when `as_string` (the host passes either).
    /// Returns what became of the message and the reply's JSON (`Null` when there was none).
    ///
    /// Panics when the queue keeps refusing the delete or the move to the poison queue.
    pub async fn deliver(
        &self,
        address: &str,
        m: &Received,
        as_string: bool,
    ) -> (Delivered, Value) {
        let text = base64::engine::general_purpose::STANDARD
            .decode(&m.text)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .unwrap_or_else(|| m.text.clone());
        let message = match serde_json::from_str::<Value>(&text) {
            Ok(v) if !as_string => v,
            _ => Value::String(text),
        };
        let body = json!({
            "Data": {"message": message},
            "Metadata": {
                "DequeueCount": m.dequeue_count,
                "Id": m.id,
                "PopReceipt": m.pop_receipt,
                "InsertionTime": m.insertion_time,
                "NextVisibleTime": m.next_visible_time,
                "sys": {"MethodName": "daily_report_worker", "UtcNow": Utc::now().to_rfc3339(),
                        "RandGuid": uuid::Uuid::new_v4().to_string()}
            }
        });
        let reply = self
            .client
            .post(format!("{address}/daily_report_worker"))
            .header(
                "X-Azure-Functions-InvocationId",
                uuid::Uuid::new_v4().to_string(),
            )
            .json(&body)
            .send()
            .await;
        let (ok, value) = match reply {
            Ok(r) => {
                let ok = r.status().is_success();
                (ok, r.json::<Value>().await.unwrap_or(Value::Null))
            }
            Err(_) => (false, Value::Null),
        };
        if ok {
            tried("delete", || self.queue.delete(Which::Work, m)).await;
            (Delivered::Done, value)
        } else if u64::from(m.dequeue_count) >= MAX_DEQUEUE_COUNT {
            tried("create the poison queue", || {
                self.queue.create_if_missing(Which::Poison)
            })
            .await;
            tried("move to the poison queue", || {
                self.queue.send_text(Which::Poison, m.text.clone())
            })
            .await;
            tried("delete", || self.queue.delete(Which::Work, m)).await;
            (Delivered::Poisoned, value)
        } else {
            (Delivered::Left, value)
        }
    }

    /// Dequeues 16 at a time and delivers one after another until the queue is empty
    /// (visible and invisible). Panics at `deadline` (a hang guard).
    pub async fn drain(&self, address: &str, deadline: Instant) -> Vec<(Delivered, Value)> {
        let mut out = Vec::new();
        let never = AtomicBool::new(false);
        self.run(address, 16, 1, &never, deadline, |d, v| {
            out.push((d, v.clone()))
        })
        .await;
        out
    }

    /// One instance of the host as `host.json` sets it (`batchSize` = `batch_size`,
    /// `newBatchThreshold` 0): dequeues `batch_size` messages, delivers them all at once, and
    /// dequeues the next batch when all are answered, until the queue is empty (visible and
    /// invisible) or `stop` is set; `each` sees every delivery. Panics at `deadline` (a hang
    /// guard) or when the queue keeps failing.
    pub async fn instance(
        &self,
        address: &str,
        batch_size: u8,
        stop: &AtomicBool,
        deadline: Instant,
        each: impl FnMut(Delivered, &Value),
    ) {
        self.run(address, batch_size, batch_size, stop, deadline, each)
            .await
    }

    /// Dequeues `batch` at a time and delivers `at_once` of them concurrently.
    async fn run(
        &self,
        address: &str,
        batch: u8,
        at_once: u8,
        stop: &AtomicBool,
        deadline: Instant,
        mut each: impl FnMut(Delivered, &Value),
    ) {
        use futures::StreamExt as _;
        while !stop.load(Ordering::SeqCst) {
            let received = tried("receive", || {
                self.queue.receive(Which::Work, batch, self.visibility)
            })
            .await;
            if received.is_empty() {
                if tried("count", || self.queue.approximate_count(Which::Work)).await == 0 {
                    return;
                }
                assert!(Instant::now() < deadline, "queue not drained in time");
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
            // The futures are made first, so that the stream holds no closure over borrows
            // (which would not be `Send` for every lifetime).
            let deliveries: Vec<_> = received
                .iter()
                .enumerate()
                .map(|(i, m)| self.deliver(address, m, i % 2 == 0))
                .collect();
            let mut results =
                futures::stream::iter(deliveries).buffered(usize::from(at_once.max(1)));
            while let Some((d, v)) = results.next().await {
                each(d, &v);
            }
        }
    }
}
