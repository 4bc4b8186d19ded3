//! The command line: `handler` (or `handler serve`) serves the host; `handler
//! failure-analysis …` runs one analysis and prints its console summary
//! (`docs/failure-analysis.md`, "Console summary").

pub mod failure_analysis;
pub mod org;
pub mod report;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::error::Invalid;

/// call-analytics: the Azure Functions custom handler and its command-line tools.
#[derive(Debug, Parser)]
#[command(name = "handler", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Log more: -v info, -vv debug (default: LOG_LEVEL, else warn; info when serving).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
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

/// Prints a wrong value the way the command line names it, and gives the exit code of a usage
/// error (2): the field as the flag that carries it (`from_date` → `--from-date: "2025-13-01"
/// is not a date YYYY-MM-DD`; `renamed` lists the flags named otherwise, such as
/// `("excluded_numbers", "--exclude")`), a setting (`START_DATE`) as it is.
pub fn usage_error(e: &Invalid, renamed: &[(&str, &str)]) -> ExitCode {
    eprintln!("error: {}: {}", flag_of(&e.field, renamed), e.message);
    ExitCode::from(2)
}

/// The flag of a request field (see [`usage_error`]).
fn flag_of(field: &str, renamed: &[(&str, &str)]) -> String {
    if let Some((_, flag)) = renamed.iter().find(|(f, _)| *f == field) {
        return (*flag).to_string();
    }
    if field.starts_with(|c: char| c.is_ascii_lowercase()) {
        format!("--{}", field.replace('_', "-"))
    } else {
        field.to_string()
    }
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

#[cfg(test)]
mod tests {
    use super::flag_of;

    #[test]
    fn a_field_is_named_as_its_flag_and_a_setting_as_it_is() {
        let renamed = [("excluded_numbers", "--exclude")];
        assert_eq!(flag_of("from_date", &renamed), "--from-date");
        assert_eq!(flag_of("timezone", &renamed), "--timezone");
        assert_eq!(flag_of("excluded_numbers", &renamed), "--exclude");
        assert_eq!(flag_of("START_DATE", &renamed), "START_DATE");
    }
}
