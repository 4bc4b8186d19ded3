//! `handler report generate|backfill`: the timer's code path, run by hand, with a progress bar;
//! `backfill --enqueue` starts a job on the work queue instead ([`jobs::start`]).

use std::process::ExitCode;

use chrono::NaiveDate;
use indicatif::{ProgressBar, ProgressStyle};

use super::ReportCommand;
use crate::app::App;
use crate::daily_report::schedule::{self, FailureCause, GenerateOptions, OrgRun};
use crate::error::Invalid;
use crate::functions::reports_http::generate::MAX_BACKFILL_DAYS;
use crate::functions::reports_http::jobs;
use crate::orgs::{self, OrgId, Organization};

/// Runs a `report` subcommand; prints what it did. Exit code 1 when any report failed, 2 for
/// a wrong value (checked before any setting is missing).
pub async fn run(app: &App, command: ReportCommand) -> anyhow::Result<ExitCode> {
    let (org, from, to, force, concurrency, enqueue) = match command {
        ReportCommand::Generate { org, date, force } => {
            (org, date, date, force, schedule::CONCURRENCY, false)
        }
        ReportCommand::Backfill {
            from,
            to,
            org,
            force,
            concurrency,
            enqueue,
        } => (org, Some(from), Some(to), force, concurrency, enqueue),
    };
    let org = match org.map(|id| OrgId::parse(&id, "org")).transpose() {
        Ok(org) => org,
        Err(e) => return Ok(super::usage_error(&e, &[])),
    };
    if let (Some(from), Some(to)) = (from, to)
        && from > to
    {
        return Ok(super::usage_error(
            &Invalid::new("from", format!("{from} is after --to {to}")),
            &[],
        ));
    }
    if enqueue && let (Some(from), Some(to)) = (from, to) {
        return start_job(app, org, (from, to), force).await;
    }
    anyhow::ensure!(
        app.clickhouse.is_some(),
        "CLICKHOUSE_URL is not set: the daily reports read ClickHouse at CLICKHOUSE_URL \
         (http://host:8123 or https://host:8443), from the environment or a .env file"
    );
    let orgs = select(app, org).await?;
    let now = app.clock.now();
    if let Some(from) = from {
        schedule::check_ended(&orgs, from, now, "--from/--date")?;
    }
    if let Some(to) = to {
        schedule::check_ended(&orgs, to, now, "--to/--date")?;
    }
    let range = |org: &Organization| -> (NaiveDate, NaiveDate) {
        (
            from.unwrap_or_else(|| org.yesterday(now)),
            to.unwrap_or_else(|| org.yesterday(now)),
        )
    };
    let bar = ProgressBar::new(0).with_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {bar:40} {pos}/{len} reports {msg}",
        )
        .expect("valid template"),
    );
    let opts = GenerateOptions {
        force,
        concurrency,
        ..GenerateOptions::new(now)
    };
    let runs = schedule::generate_range(app, &orgs, range, &opts, |done, total| {
        bar.set_length(total as u64);
        bar.set_position(done as u64);
    })
    .await;
    bar.finish_and_clear();
    print_runs(app, &runs);
    let failed = runs.iter().any(|r| !r.failed.is_empty());
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// `report backfill --enqueue`: what `POST /api/reports/backfill` does with a work queue —
/// writes the job and enqueues one message per (org, date); prints the job id and the total.
async fn start_job(
    app: &App,
    org: Option<OrgId>,
    (from, to): (NaiveDate, NaiveDate),
    force: bool,
) -> anyhow::Result<ExitCode> {
    let days = (to - from).num_days() + 1;
    if days > MAX_BACKFILL_DAYS {
        let e = Invalid::new(
            "to",
            format!("a backfill covers at most {MAX_BACKFILL_DAYS} days, not {days}"),
        );
        return Ok(super::usage_error(&e, &[]));
    }
    let queue = app
        .queue
        .as_ref()
        .ok_or_else(|| anyhow::anyhow!("--enqueue needs a work queue: set REPORT_QUEUE"))?;
    let orgs = select(app, org).await?;
    let now = app.clock.now();
    schedule::check_ended(&orgs, from, now, "--from")?;
    schedule::check_ended(&orgs, to, now, "--to")?;
    let started = jobs::start(&app.storage, queue, &orgs, (from, to), force, false, now).await?;
    println!("job {}: {} reports enqueued", started.job_id, started.total);
    println!("progress: GET {}", started.status_url);
    Ok(ExitCode::SUCCESS)
}

/// The named org (which must exist), or every active org.
async fn select(app: &App, org_id: Option<OrgId>) -> anyhow::Result<Vec<Organization>> {
    match org_id {
        Some(id) => {
            let (org, _) = orgs::get(&app.storage, &id).await?.ok_or_else(|| {
                anyhow::anyhow!("--org: no organization {id} (`handler org list` lists them)")
            })?;
            Ok(vec![org])
        }
        None => {
            let all: Vec<_> = orgs::list(&app.storage)
                .await?
                .into_iter()
                .filter(|o| o.is_active)
                .collect();
            anyhow::ensure!(
                !all.is_empty(),
                "no active organization in {}: create one with `handler org create …`, or set \
                 ORG_ID and BROKER_NODE_PERSISTENT_ID",
                app.storage.describe()
            );
            Ok(all)
        }
    }
}

fn print_runs(app: &App, runs: &[OrgRun]) {
    for r in runs {
        println!(
            "{} ({}): {} generated, {} already stored, {} failed",
            r.org_name,
            r.org_id,
            r.generated.len(),
            r.skipped.len(),
            r.failed.len()
        );
        if let (Some(first), Some(last)) = (r.generated.first(), r.generated.last()) {
            println!("  generated {first} .. {last}");
        }
        for f in r.failed.iter().take(5) {
            println!("  FAILED {}: {}", f.date, f.error);
        }
        if r.failed.len() > 5 {
            println!("  … and {} more failures", r.failed.len() - 5);
        }
    }
    println!(
        "Reports are in {} under reports/<org_id>/<date>.json",
        app.storage.describe()
    );
    let unavailable = runs
        .iter()
        .flat_map(|r| &r.failed)
        .any(|f| f.cause == FailureCause::Unavailable);
    if let (true, Some(ch)) = (unavailable, &app.settings.clickhouse) {
        // The causes are logged above (at warn); this says where to look.
        println!(
            "ClickHouse is {} (CLICKHOUSE_URL), database {} (CLICKHOUSE_DATABASE)",
            host_of(&ch.url),
            ch.database
        );
    }
}

/// `host:port` of a URL (the URL holds no credentials: `crate::clickhouse` refuses them); the
/// text as it is when it is no URL.
fn host_of(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(u) => match (u.host_str(), u.port_or_known_default()) {
            (Some(host), Some(port)) => format!("{host}:{port}"),
            (Some(host), None) => host.to_string(),
            _ => url.to_string(),
        },
        Err(_) => url.to_string(),
    }
}
