//! call-analytics: one Azure Functions custom handler serving the call platform's analytics.
//! See `ARCHITECTURE.md` for the map; [`routes::ROUTES`] is the route table.

pub mod app;
pub mod cli;
pub mod clickhouse;
pub mod configuration;
pub mod daily_report;
pub mod error;
pub mod failure_analysis;
pub mod orgs;
pub mod postgres;
pub mod render;
pub mod reports_http;
pub mod routes;
pub mod server;
pub mod storage;
pub mod telemetry;
