//! call-analytics: one Azure Functions custom handler serving the call platform's analytics.
//! See `ARCHITECTURE.md` for the map; [`server::routes::ROUTES`] is the route table.

pub mod app;
pub mod cli;
pub mod clickhouse;
pub mod configuration;
pub mod daily_report;
pub mod delivery;
pub mod error;
pub mod failure_analysis;
pub mod functions;
pub mod http;
pub mod links;
pub mod orgs;
pub mod postgres;
pub mod render;
pub mod scheduler;
pub mod server;
pub mod storage;
pub mod telemetry;
pub mod time;
