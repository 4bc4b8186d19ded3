//! `handler`: the binary the Functions host starts (see `host.json`). Thin: settings,
//! logging, then the command.

use std::net::{Ipv4Addr, SocketAddr};
use std::process::ExitCode;

use clap::Parser;

use call_analytics::app::App;
use call_analytics::cli::{self, Cli, Command};
use call_analytics::configuration::Settings;
use call_analytics::server;
use call_analytics::telemetry;

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
    let command = cli.command.unwrap_or(Command::Serve);
    let serving = matches!(command, Command::Serve);
    telemetry::init(telemetry::level(
        cli.verbose,
        settings.log_level.as_deref(),
        serving,
    ));
    match run(command, settings).await {
        Ok(code) => code,
        Err(e) => {
            // The host keeps the log; a person at a terminal reads the one line below.
            if serving {
                tracing::error!(error = %format!("{e:#}"), "handler failed");
            }
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command, settings: Settings) -> anyhow::Result<ExitCode> {
    let port = settings.port;
    let app = App::build(settings).await?;
    match command {
        Command::Serve => {
            server::serve(app, SocketAddr::from((Ipv4Addr::LOCALHOST, port))).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::FailureAnalysis(args) => cli::failure_analysis::run(&app, args).await,
        Command::Org { command } => cli::org::run(&app, command).await,
        Command::Report { command } => cli::report::run(&app, command).await,
    }
}
