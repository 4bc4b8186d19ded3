//! The integration tests: one binary, real services (PostgreSQL, Azurite, the ClickHouse
//! engine), the handler started as a process and driven as the Functions host drives it.
//! The services are started by `scripts/test`, which exports their addresses; each test makes
//! its own database and container.

mod access;
mod bounds;
mod cli;
mod daily_report;
mod daily_report_timer;
mod dashboard_nav;
mod delivery;
mod deployment;
mod email;
mod failure_analysis;
mod hardening;
mod helpers;
mod host_protocol;
mod insights_dr;
mod insights_fa;
mod output_safety;
mod package;
mod pages;
mod queue;
mod reports_http;
mod revisions;
mod revisions_http;
mod settled_days;
mod storage;
mod webhook_safety;
