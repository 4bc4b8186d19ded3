//! The integration tests: one binary, real services (PostgreSQL, Azurite, the ClickHouse
//! engine), the handler started as a process and driven as the Functions host drives it.
//! The services are started by `scripts/test`, which exports their addresses; each test makes
//! its own database and container.

mod daily_report;
mod daily_report_timer;
mod failure_analysis;
mod helpers;
mod host_protocol;
mod package;
mod pages;
mod reports_http;
mod storage;
