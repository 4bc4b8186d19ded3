//! The command line: `handler` (or `handler serve`) serves the host; `handler
//! failure-analysis …` runs one analysis and prints seed 001's console summary.

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
    /// Skip the CSV artifact.
    #[arg(long)]
    pub no_csv: bool,
    /// Users shown in the console ranking.
    #[arg(long, default_value_t = 10)]
    pub top: usize,
}
