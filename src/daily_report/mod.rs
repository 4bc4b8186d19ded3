//! Daily KPI reports per organization from ClickHouse (`../spec/daily-report.md`; seed 003).
//!
//! * [`query`]: the one SQL query of a report (R, O, C, KPI counts, breakdowns) and its
//!   execution through [`crate::clickhouse::ClickHouse`].
//! * [`report`]: the report document (seed 003's field names), the day window in the org's
//!   zone, rounding, breakdown order, the funnel, and the summary kept as blob metadata.

pub mod query;
pub mod report;
