//! `handler report generate|backfill`: the timer's code path, run by hand, with a progress bar;
//! `backfill --enqueue` starts a job on the work queue instead ([`jobs::start`]).

use std::process::ExitCode;

use chrono::NaiveDate;
use indicatif::{ProgressBar, ProgressStyle};

use super::ReportCommand;
use crate::app::App;
use crate::daily_report::schedule::{self, GenerateOptions, OrgRun};
use crate::functions::reports_http::generate::MAX_BACKFILL_DAYS;
use crate::functions::reports_http::jobs;
use crate::orgs::{self, OrgId, Organization};

/// Runs a `report` subcommand; prints what it did. Exit code 1 when any report failed.
pub async fn run(app: &App, command: ReportCommand) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(
        app.clickhouse.is_some(),
        "ClickHouse is not configured: set CLICKHOUSE_URL"
    );
    let (orgs, from, to, force, concurrency) = match command {
        ReportCommand::Generate { org, date, force } => (
            select(app, org).await?,
            date,
            date,
            force,
            schedule::CONCURRENCY,
        ),
        ReportCommand::Backfill {
            from,
            to,
            org,
            force,
            concurrency,
            enqueue,
        } => {
            anyhow::ensure!(from <= to, "--from {from} is after --to {to}");
            if enqueue {
                return start_job(app, org, (from, to), force).await;
            }
            (
                select(app, org).await?,
                Some(from),
                Some(to),
                force,
                concurrency,
            )
        }
    };
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
    org: Option<String>,
    (from, to): (NaiveDate, NaiveDate),
    force: bool,
) -> anyhow::Result<ExitCode> {
    let queue = app
        .queue
        .as_ref()
        .ok_or_else(|| anyhow::anyhow!("--enqueue needs a work queue: set REPORT_QUEUE"))?;
    let days = (to - from).num_days() + 1;
    anyhow::ensure!(
        days <= MAX_BACKFILL_DAYS,
        "a backfill covers at most {MAX_BACKFILL_DAYS} days"
    );
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
async fn select(app: &App, org_id: Option<String>) -> anyhow::Result<Vec<Organization>> {
    match org_id {
        Some(id) => {
            let id = OrgId::parse(&id, "--org").map_err(|e| anyhow::anyhow!(e.message))?;
            let (org, _) = orgs::get(&app.storage, &id)
                .await?
                .ok_or_else(|| anyhow::anyhow!("no organization {id}"))?;
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
                "no active organization: set ORG_ID & co, or create one with POST /api/orgs"
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
}
