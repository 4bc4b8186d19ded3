//! The command line: `handler` (or `handler serve`) serves the host; `handler
//! failure-analysis …` runs one analysis and prints its console summary
//! (`docs/failure-analysis.md`, "Console summary").

pub mod failure_analysis;
pub mod org;
pub mod report;

use clap::{Parser, Subcommand};

/// call-analytics: the Azure Functions custom handler and its command-line tools.
#[derive(Debug, Parser)]
#[command(name = "handler", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the Functions host on 127.0.0.1:$FUNCTIONS_CUSTOMHANDLER_PORT (the default).
    Serve,
    /// Run the failure analysis once, write its artifacts and print the summary.
    FailureAnalysis(FailureAnalysisArgs),
    /// Organizations (stored documents).
    Org {
        #[command(subcommand)]
        command: OrgCommand,
    },
    /// Daily KPI reports from ClickHouse, stored as snapshots.
    Report {
        #[command(subcommand)]
        command: ReportCommand,
    },
}

/// `handler org …`.
#[derive(Debug, Subcommand)]
pub enum OrgCommand {
    /// List every organization as JSON lines.
    List,
    /// Create an organization (fails when the id exists).
    Create {
        #[arg(long)]
        org_id: String,
        #[arg(long)]
        name: String,
        #[arg(long)]
        node_persistent_id: String,
        /// IANA zone of its report days (default UTC).
        #[arg(long)]
        timezone: Option<String>,
        /// A caller number (E.164) to leave out of its reports; repeatable.
        #[arg(long = "exclude")]
        excluded_numbers: Vec<String>,
    },
}

/// `handler report …`.
#[derive(Debug, Subcommand)]
pub enum ReportCommand {
    /// Generate one date's report for one org or every active org.
    Generate {
        /// Org id (default: every active org).
        #[arg(long)]
        org: Option<String>,
        /// Local date YYYY-MM-DD (default: yesterday in each org's zone).
        #[arg(long)]
        date: Option<chrono::NaiveDate>,
        /// Replace a stored report.
        #[arg(long)]
        force: bool,
    },
    /// Generate every missing report of a date range (resumable: run it again).
    Backfill {
        /// First local date, YYYY-MM-DD.
        #[arg(long)]
        from: chrono::NaiveDate,
        /// Last local date, inclusive.
        #[arg(long)]
        to: chrono::NaiveDate,
        /// Org id (default: every active org).
        #[arg(long)]
        org: Option<String>,
        /// Replace stored reports.
        #[arg(long)]
        force: bool,
        /// Reports generated at once.
        #[arg(long, default_value_t = 4)]
        concurrency: usize,
        /// Start a job on the work queue (needs `REPORT_QUEUE`) instead of generating here:
        /// prints the job id and the total; `GET /api/jobs/<job_id>` shows its progress.
        #[arg(long)]
        enqueue: bool,
    },
}

/// Arguments of `handler failure-analysis` (the request fields of `POST /api/failure_analysis`).
#[derive(Debug, clap::Args)]
pub struct FailureAnalysisArgs {
    /// First local day, YYYY-MM-DD (default: START_DATE/END_DATE, else yesterday).
    #[arg(long)]
    pub from_date: Option<String>,
    /// Last local day, inclusive, YYYY-MM-DD.
    #[arg(long)]
    pub to_date: Option<String>,
    /// IANA time zone of the dates (default UTC).
    #[arg(long)]
    pub timezone: Option<String>,
    /// Users in the ranking (1-1000).
    #[arg(long, default_value_t = 15)]
    pub max_users: i64,
    /// Minimum sessions for a user to be ranked.
    #[arg(long, default_value_t = 1)]
    pub min_sessions: i64,
    /// Recompute even when a cached result exists.
    #[arg(long)]
    pub force_refresh: bool,
    /// Order of the ranking: failure_rate (default) or lower_bound (95 % Wilson lower bound).
    #[arg(long)]
    pub rank_by: Option<String>,
    /// Also analyse the window of equal length just before, and flag significant changes.
    #[arg(long)]
    pub compare_previous: bool,
    /// Skip the CSV artifact.
    #[arg(long)]
    pub no_csv: bool,
    /// Users shown in the console ranking.
    #[arg(long, default_value_t = 10)]
    pub top: usize,
}
