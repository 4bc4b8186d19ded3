//! The result of one failure analysis, as rendered into the HTTP response, the CSV, the HTML
//! report, the JSON summary and the console summary (`../spec/failure-analysis.md`, "Results").

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

/// The analysed window: `[start_utc, end_utc)` compared with `calllog.created_on` (UTC).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Window {
    /// As asked: the first local day, or `None` when the window came from `START_DATE`.
    pub from_date: Option<NaiveDate>,
    /// As asked: the last local day (inclusive).
    pub to_date: Option<NaiveDate>,
    /// IANA zone the dates are read in.
    pub timezone: String,
    /// Inclusive start, UTC.
    pub start_utc: DateTime<Utc>,
    /// Exclusive end, UTC.
    pub end_utc: DateTime<Utc>,
}

/// One user's figures. Grouped by `user_id`, never by name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserStats {
    /// Display name: `name`, `Unknown` for a NULL name or a missing `user` row, and
    /// `name (first 8 chars of user_id)` when two users in one result share a name.
    pub user_name: String,
    pub total_sessions: i64,
    pub failed_sessions: i64,
    pub success_sessions: i64,
    /// failed / total, 0.0–1.0.
    pub failure_rate: f64,
    /// `"26.19%"`: the rate in percent, two decimals.
    pub failure_rate_percent: String,
    /// `calllog.user_id` as text; `None` for calls without a user.
    pub user_id: Option<String>,
}

/// Totals and statistics over the per-user rates (unweighted; `overall_failure_rate` is
/// weighted). Rates are fractions 0.0–1.0.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub total_users: usize,
    pub total_sessions: i64,
    pub total_failures: i64,
    /// total_failures / total_sessions (0 when there are no sessions).
    pub overall_failure_rate: f64,
    pub average: f64,
    pub median: f64,
    pub maximum: f64,
    pub minimum: f64,
    /// Sample standard deviation (n−1); 0 for fewer than two users.
    pub std_deviation: f64,
}

/// A ranked user ("top users").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RankedUser {
    /// 1-based.
    pub rank: usize,
    #[serde(flatten)]
    pub user: UserStats,
}

/// One histogram bucket: `0-10%` … `90-100%`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Bucket {
    pub label: String,
    pub count: usize,
    /// The bucket's users, highest rate first (for the report's hover).
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub users: Vec<BucketUser>,
}

/// A user as listed in a bucket.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BucketUser {
    pub user_name: String,
    pub failure_rate: f64,
    pub failed_sessions: i64,
    pub total_sessions: i64,
}

/// Options that shape the result (part of the cache key).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Options {
    /// Ranking length, 1–1000 (default 15).
    pub max_users: usize,
    /// Users with fewer sessions are left out of the ranking (not the totals); default 1.
    pub min_sessions: i64,
}

/// The whole analysis.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Analysis {
    pub window: Window,
    pub options: Options,
    pub summary: Summary,
    pub top_users: Vec<RankedUser>,
    /// Always ten buckets.
    pub histogram: Vec<Bucket>,
    /// Every user, failure rate desc (the ranking order), without the `min_sessions` cut.
    pub users: Vec<UserStats>,
    pub generated_at: DateTime<Utc>,
}

/// `"26.19%"` for 0.2619.
pub fn percent(rate: f64) -> String {
    format!("{:.2}%", rate * 100.0)
}
