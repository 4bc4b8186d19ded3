//! call-analytics: one Azure Functions custom handler serving the call platform's analytics.
//! See `ARCHITECTURE.md` for the map; [`server::routes::ROUTES`] is the route table.
//!
//! Public are the modules the binary (`src/main.rs`) and the integration tests (`tests/it`)
//! use, and `error`, whose `Invalid` their errors carry; the rest is `pub(crate)`, so that the
//! compiler reports what nothing uses.

pub mod app;
pub mod cli;
pub mod clickhouse;
pub mod configuration;
pub mod daily_report;
pub mod delivery;
pub mod error;
pub(crate) mod failure_analysis;
pub mod functions;
pub(crate) mod http;
pub(crate) mod links;
pub mod orgs;
pub(crate) mod postgres;
pub mod queue;
pub(crate) mod render;
pub mod scheduler;
pub mod server;
pub(crate) mod stats;
pub mod storage;
pub mod telemetry;
pub(crate) mod time;
