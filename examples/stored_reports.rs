//! `stored_reports`: counts the report snapshots in one blob container, for
//! `scripts/bench/queue`'s storage check (test equipment, not part of the product). It lists
//! `reports/` through the crate's own storage client and counts `reports/<org>/<date>.json`
//! (one per stored report) apart from kept revisions (`reports/<org>/<date>/rev-<n>.json`).
//!
//! ```text
//! AZURE_STORAGE_CONNECTION_STRING='<connection string>' \
//!   cargo run --release --example stored_reports -- --container NAME
//! ```
//!
//! Prints one JSON line: `{"reports", "orgs", "revisions"}`; exits non-zero when the
//! container cannot be listed.

use std::collections::BTreeSet;

use call_analytics::configuration::{Secret, StorageSettings};
use call_analytics::daily_report::snapshots::date_of;
use call_analytics::storage::Storage;
use clap::Parser;

#[derive(Parser)]
#[command(about = "Counts the report snapshots in a blob container (scripts/bench/queue)")]
struct Args {
    /// The blob container.
    #[arg(long)]
    container: String,
    /// The account, as a connection string (Azurite).
    #[arg(long, env = "AZURE_STORAGE_CONNECTION_STRING", hide_env_values = true)]
    connection_string: String,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let storage = Storage::connect(&StorageSettings::ConnectionString {
        connection_string: Secret::new(args.connection_string),
        container: args.container,
    })
    .await?;
    let (mut reports, mut revisions, mut orgs) = (0u64, 0u64, BTreeSet::new());
    let mut continuation = None;
    loop {
        let page = storage.list("reports/", continuation, 5000).await?;
        for entry in &page.entries {
            let Some((org, _)) = entry.name["reports/".len()..].split_once('/') else {
                continue;
            };
            let prefix = format!("reports/{org}/");
            if date_of(&prefix, &entry.name).is_some() {
                reports += 1;
                orgs.insert(org.to_string());
            } else if entry.name.contains("/rev-") {
                revisions += 1;
            }
        }
        match page.next {
            Some(next) => continuation = Some(next),
            None => break,
        }
    }
    let summary =
        serde_json::json!({"reports": reports, "orgs": orgs.len(), "revisions": revisions});
    println!("{summary}");
    Ok(())
}
