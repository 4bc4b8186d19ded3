//! `queue_listener`: one instance of the Functions host's queue listener in front of one
//! running handler, for `scripts/bench/queue` (test equipment, not part of the product). The
//! host's behaviour is the integration tests' (`tests/it/helpers/listener.rs`, included
//! below): dequeue `--batch-size` messages (`host.json`'s `batchSize`; `newBatchThreshold` 0),
//! POST each to `<handler>/daily_report_worker` as the host does, all of a batch at once,
//! delete on 2xx, leave a failed one to reappear after `--visibility-secs`, move it to
//! `<queue>-poison` at `maxDequeueCount`; the next batch once the whole batch is answered.
//! It stops when the queue is empty (visible and invisible messages).
//!
//! ```text
//! AzureWebJobsStorage='<connection string>' \
//!   cargo run --release --example queue_listener -- --queue NAME --handler http://127.0.0.1:PORT
//! ```
//!
//! Prints one JSON line when done: `{"deliveries", "done", "left", "poisoned", "statuses":
//! {"<ReturnValue.status>": n, …}, "first_delivery_at", "last_delivery_at" (Unix seconds),
//! "seconds"}`. Exits non-zero on a queue error or after `--timeout-secs` (a hang guard).

#[path = "../tests/it/helpers/listener.rs"]
#[allow(dead_code)] // `drain`, the tests' sequential listener, is not used here
mod listener;

use std::collections::BTreeMap;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use call_analytics::configuration::{QueueAccount, QueueSettings, Secret};
use call_analytics::queue::WorkQueue;
use clap::Parser;
use listener::{Delivered, Listener};

#[derive(Parser)]
#[command(about = "One instance of the Functions host's queue listener (scripts/bench/queue)")]
struct Args {
    /// The work queue (`REPORT_QUEUE`).
    #[arg(long)]
    queue: String,
    /// The handler's base URL, `http://127.0.0.1:PORT`.
    #[arg(long)]
    handler: String,
    /// Messages fetched and run at once (`host.json` `batchSize`).
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u8).range(1..=32))]
    batch_size: u8,
    /// How long a dequeued message stays invisible, in seconds.
    #[arg(long, default_value_t = 600)]
    visibility_secs: u64,
    /// Give up (exit 1) after this many seconds.
    #[arg(long, default_value_t = 3600)]
    timeout_secs: u64,
    /// The queue's account as a connection string (Azurite).
    #[arg(long, env = "AzureWebJobsStorage", hide_env_values = true)]
    connection_string: String,
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let settings = QueueSettings {
        name: args.queue.clone(),
        account: QueueAccount::ConnectionString(Secret::new(args.connection_string)),
    };
    let queue = match WorkQueue::new(&settings, Duration::from_secs(30)) {
        Ok(q) => q,
        Err(e) => {
            eprintln!("queue_listener: {e}");
            std::process::exit(1);
        }
    };
    let listener = Listener::new(queue, Duration::from_secs(args.visibility_secs));
    let started = Instant::now();
    let mut count: BTreeMap<&str, u64> = BTreeMap::new();
    let mut statuses: BTreeMap<String, u64> = BTreeMap::new();
    let (mut first, mut last) = (None, None);
    let never = AtomicBool::new(false);
    let deadline = started + Duration::from_secs(args.timeout_secs);
    listener
        .instance(&args.handler, args.batch_size, &never, deadline, |d, v| {
            let now = unix_now();
            first.get_or_insert(now);
            last = Some(now);
            let kind = match d {
                Delivered::Done => "done",
                Delivered::Left => "left",
                Delivered::Poisoned => "poisoned",
            };
            *count.entry(kind).or_default() += 1;
            let status = v["ReturnValue"]["status"].as_str().unwrap_or("no reply");
            *statuses.entry(status.to_string()).or_default() += 1;
        })
        .await;
    let summary = serde_json::json!({
        "deliveries": count.values().sum::<u64>(),
        "done": count.get("done").copied().unwrap_or(0),
        "left": count.get("left").copied().unwrap_or(0),
        "poisoned": count.get("poisoned").copied().unwrap_or(0),
        "statuses": statuses,
        "first_delivery_at": first,
        "last_delivery_at": last,
        "seconds": started.elapsed().as_secs_f64(),
    });
    println!("{summary}");
}
