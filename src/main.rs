//! `handler`: the binary the Functions host starts (see `host.json`). Thin: settings,
//! logging, then the command.

use std::net::{Ipv4Addr, SocketAddr};
use std::process::ExitCode;

use clap::Parser;

use call_analytics::app::App;
use call_analytics::cli::{Cli, Command, FailureAnalysisArgs, OrgCommand};
use call_analytics::configuration::Settings;
use call_analytics::failure_analysis::{self, AnalysisRequest, Flags};
use call_analytics::orgs;
use call_analytics::{server, telemetry};

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let settings = match Settings::load() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    telemetry::init(&settings.log_level);
    match run(cli, settings).await {
        Ok(code) => code,
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), "handler failed");
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli, settings: Settings) -> anyhow::Result<ExitCode> {
    let port = settings.port;
    let app = App::build(settings).await?;
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => {
            server::serve(app, SocketAddr::from((Ipv4Addr::LOCALHOST, port))).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::FailureAnalysis(args) => failure_analysis_once(&app, args).await,
        Command::Org { command } => org_command(&app, command).await,
        Command::Report { command } => call_analytics::daily_report::cli::run(&app, command).await,
    }
}

async fn failure_analysis_once(app: &App, args: FailureAnalysisArgs) -> anyhow::Result<ExitCode> {
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
    match failure_analysis::run(app, &req, flags, chrono::Utc::now()).await {
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
            for (kind, location) in [
                ("CSV", response.artifacts.csv.as_deref()),
                ("HTML", Some(&response.artifacts.html)),
                ("JSON", Some(&response.artifacts.json)),
            ] {
                if let Some(location) = location {
                    println!("  {kind:<5} {location}");
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(failure_analysis::AnalysisError::Invalid(e)) => {
            eprintln!(
                "error: {}{}",
                e.field.map(|f| format!("{f}: ")).unwrap_or_default(),
                e.message
            );
            Ok(ExitCode::from(2))
        }
        Err(e) => Err(e.into()),
    }
}

async fn org_command(app: &App, command: OrgCommand) -> anyhow::Result<ExitCode> {
    match command {
        OrgCommand::List => {
            for org in orgs::list(&app.storage).await? {
                println!("{}", serde_json::to_string(&org)?);
            }
        }
        OrgCommand::Create {
            org_id,
            name,
            node_persistent_id,
            timezone,
            excluded_numbers,
        } => {
            let new = orgs::NewOrganization {
                org_id,
                name,
                node_persistent_id,
                timezone,
                is_active: Some(true),
                excluded_numbers: Some(excluded_numbers),
            };
            let org = match new.validate(chrono::Utc::now()) {
                Ok(org) => org,
                Err(e) => {
                    eprintln!("error: {}: {}", e.field.unwrap_or_default(), e.message);
                    return Ok(ExitCode::from(2));
                }
            };
            match orgs::create(&app.storage, &org).await {
                Ok(_) => println!("created {} ({})", org.name, org.org_id),
                Err(orgs::OrgError::Exists(id)) => println!("{id} already exists; left as it is"),
                Err(e) => return Err(e.into()),
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
