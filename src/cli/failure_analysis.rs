//! `handler failure-analysis …`: runs one analysis like `POST /api/failure_analysis` and
//! prints the console summary (`docs/failure-analysis.md`, "Console").

use std::process::ExitCode;

use super::FailureAnalysisArgs;
use crate::app::App;
use crate::failure_analysis::{self, AnalysisRequest, Flags};

/// `handler failure-analysis …`: one analysis, its artifacts, and the console summary.
pub async fn run(app: &App, args: FailureAnalysisArgs) -> anyhow::Result<ExitCode> {
    let req = AnalysisRequest {
        from_date: args.from_date,
        to_date: args.to_date,
        timezone: args.timezone,
        max_users: Some(args.max_users),
        min_sessions: Some(args.min_sessions),
        force_refresh: Some(args.force_refresh),
        rank_by: args.rank_by,
        compare_previous: Some(args.compare_previous),
    };
    let flags = Flags {
        export_csv: !args.no_csv,
        include_details: false,
    };
    match failure_analysis::run(app, &req, flags, app.clock.now()).await {
        Ok((response, analysis)) => {
            println!(
                "{}",
                failure_analysis::console::summary(&analysis, args.top)
            );
            println!(
                "Artifacts{}:",
                if response.cached {
                    " (cached result)"
                } else {
                    ""
                }
            );
            let stored = &response.artifacts.locations;
            for (kind, location) in [
                ("CSV", stored.csv.as_deref()),
                ("HTML", Some(&stored.html)),
                ("JSON", Some(&stored.json)),
            ] {
                if let Some(location) = location {
                    println!("  {kind:<5} {location}");
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(failure_analysis::AnalysisError::Invalid(e)) => Ok(super::usage_error(&e, &[])),
        Err(failure_analysis::AnalysisError::NoDatabase) => {
            eprintln!(
                "error: DB_URL is not set: the failure analysis reads PostgreSQL at DB_URL \
                 (postgres://user:password@host:5432/dbname), from the environment or a .env file"
            );
            Ok(ExitCode::from(2))
        }
        Err(e) => Err(e.into()),
    }
}
