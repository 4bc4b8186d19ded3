//! The result of one failure analysis, as rendered into the HTTP response, the CSV, the HTML
//! report, the JSON summary and the console summary (`docs/failure-analysis.md`, "Results").

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

/// The analysed window: `[start_utc, end_utc)` compared with `calllog.created_on` (UTC).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Window {
    /// As asked: the first local day, or `None` when the window came from `START_DATE`.
    #[schema(required)]
    pub from_date: Option<NaiveDate>,
    /// As asked: the last local day (inclusive).
    #[schema(required)]
    pub to_date: Option<NaiveDate>,
    /// IANA zone the dates are read in.
    pub timezone: String,
    /// Inclusive start, UTC.
    pub start_utc: DateTime<Utc>,
    /// Exclusive end, UTC.
    pub end_utc: DateTime<Utc>,
}

/// One user's figures. Grouped by `user_id`, never by name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct UserStats {
    /// Display name: `name`, `Unknown` for a NULL name or a missing `user` row, and
    /// `name (first 8 chars of user_id)` when two users in one result share a name.
    pub user_name: String,
    #[schema(minimum = 0)]
    pub total_sessions: i64,
    #[schema(minimum = 0)]
    pub failed_sessions: i64,
    #[schema(minimum = 0)]
    pub success_sessions: i64,
    /// failed / total, 0.0–1.0.
    #[schema(minimum = 0, maximum = 1)]
    pub failure_rate: f64,
    /// `"26.19%"`: the rate in percent, two decimals.
    #[schema(pattern = r"^[0-9]+\.[0-9]{2}%$", examples("26.19%"))]
    pub failure_rate_percent: String,
    /// `calllog.user_id` as text; `None` for calls without a user.
    #[schema(required)]
    pub user_id: Option<String>,
    /// Lower end of the 95 % Wilson score interval of `failure_rate`, 0.0–1.0
    /// (`docs/insights.md`, "Failure analysis: how sure a rate is").
    #[schema(minimum = 0, maximum = 1)]
    pub failure_rate_lower: f64,
    /// Upper end of the same interval, 0.0–1.0.
    #[schema(minimum = 0, maximum = 1)]
    pub failure_rate_upper: f64,
    /// With `compare_previous`: `previous` and `change_significant`; absent otherwise.
    #[serde(flatten, default)]
    pub comparison: Option<Comparison>,
}

/// A user's figures in the previous window, and whether the rate moved (with
/// `compare_previous` only: in the schema, every member is optional).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Comparison {
    /// The user's sessions in the previous window; `None` (JSON `null`) when there were none.
    pub previous: Option<PeriodCounts>,
    /// A two-sided pooled two-proportion z-test at 95 % rejects equal rates; `false` unless
    /// both windows have at least `min_sessions` sessions.
    #[schema(required = false)]
    pub change_significant: bool,
}

/// Sessions and failures of one user in one window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PeriodCounts {
    #[schema(minimum = 0)]
    pub total_sessions: i64,
    #[schema(minimum = 0)]
    pub failed_sessions: i64,
    /// failed / total, 0.0–1.0.
    #[schema(minimum = 0, maximum = 1)]
    pub failure_rate: f64,
}

/// Totals and statistics over the per-user rates (unweighted; `overall_failure_rate` is
/// weighted). Rates are fractions 0.0–1.0.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Summary {
    pub total_users: usize,
    #[schema(minimum = 0)]
    pub total_sessions: i64,
    #[schema(minimum = 0)]
    pub total_failures: i64,
    /// total_failures / total_sessions (0 when there are no sessions).
    #[schema(minimum = 0, maximum = 1)]
    pub overall_failure_rate: f64,
    #[schema(minimum = 0, maximum = 1)]
    pub average: f64,
    #[schema(minimum = 0, maximum = 1)]
    pub median: f64,
    #[schema(minimum = 0, maximum = 1)]
    pub maximum: f64,
    #[schema(minimum = 0, maximum = 1)]
    pub minimum: f64,
    /// Sample standard deviation (n−1); 0 for fewer than two users.
    #[schema(minimum = 0)]
    pub std_deviation: f64,
    /// 95 % Wilson score interval of `overall_failure_rate` (0.0–1.0; `[0, 1]` without
    /// sessions).
    #[schema(minimum = 0, maximum = 1)]
    pub failure_rate_lower: f64,
    #[schema(minimum = 0, maximum = 1)]
    pub failure_rate_upper: f64,
    /// With `compare_previous`: the totals of the previous window.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    #[schema(inline, nullable = false)]
    pub previous: Option<PreviousSummary>,
}

/// The totals of the window of equal length just before the analysed one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PreviousSummary {
    /// The previous window (`from_date`/`to_date` are its local days for a days window).
    #[schema(inline)]
    pub window: Window,
    #[schema(minimum = 0)]
    pub total_sessions: i64,
    #[schema(minimum = 0)]
    pub total_failures: i64,
    /// total_failures / total_sessions (0 when there are no sessions).
    #[schema(minimum = 0, maximum = 1)]
    pub overall_failure_rate: f64,
}

/// One local day of the window (in the request's time zone).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DailyPoint {
    pub date: NaiveDate,
    #[schema(minimum = 0)]
    pub total_sessions: i64,
    #[schema(minimum = 0)]
    pub failed_sessions: i64,
    /// failed / total, 0.0–1.0 (0 on a day without sessions).
    #[schema(minimum = 0, maximum = 1)]
    pub failure_rate: f64,
}

/// A ranked user ("top users").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RankedUser {
    /// 1-based.
    #[schema(minimum = 1)]
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Options {
    /// Ranking length, 1–1000 (default 15).
    #[schema(minimum = 1, maximum = 1000)]
    pub max_users: usize,
    /// Users with fewer sessions are left out of the ranking (not the totals); default 1.
    #[schema(minimum = 1)]
    pub min_sessions: i64,
    /// The order of `top_users` (default `failure_rate`).
    #[serde(default)]
    #[schema(required)]
    pub rank_by: RankBy,
    /// Whether the window just before was analysed too (default false).
    #[serde(default)]
    #[schema(required)]
    pub compare_previous: bool,
}

/// The order of the ranking (request field `rank_by`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RankBy {
    /// failure_rate desc, then failed_sessions desc, then name asc.
    #[default]
    FailureRate,
    /// failure_rate_lower desc, then failed_sessions desc, then name asc.
    LowerBound,
}

impl RankBy {
    /// The request/JSON spelling: `failure_rate` or `lower_bound`.
    pub fn as_str(self) -> &'static str {
        match self {
            RankBy::FailureRate => "failure_rate",
            RankBy::LowerBound => "lower_bound",
        }
    }

    /// Parses the request spelling; `None` for anything else.
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "failure_rate" => Some(RankBy::FailureRate),
            "lower_bound" => Some(RankBy::LowerBound),
            _ => None,
        }
    }
}

/// The whole analysis.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Analysis {
    pub window: Window,
    pub options: Options,
    pub summary: Summary,
    /// The ranking in the order of `options.rank_by` (the same list as one of `rankings`).
    pub top_users: Vec<RankedUser>,
    /// Both rankings, so a report can switch between them.
    pub rankings: Rankings,
    /// Always ten buckets.
    pub histogram: Vec<Bucket>,
    /// Every user in the order of `options.rank_by`, without the `min_sessions` cut.
    pub users: Vec<UserStats>,
    /// One entry per local day of the window, in order (days without sessions: zeros).
    pub daily: Vec<DailyPoint>,
    pub generated_at: DateTime<Utc>,
}

/// The top users in each order (`max_users` rows each, `min_sessions` applied).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rankings {
    pub failure_rate: Vec<RankedUser>,
    pub lower_bound: Vec<RankedUser>,
}

/// `"26.19%"` for 0.2619.
pub fn percent(rate: f64) -> String {
    format!("{:.2}%", rate * 100.0)
}

#[cfg(test)]
mod tests {
    use super::super::fixtures;
    use super::*;

    fn user(comparison: Option<Comparison>) -> UserStats {
        UserStats {
            failure_rate_lower: 0.1,
            failure_rate_upper: 0.9,
            comparison,
            ..fixtures::user("A", None, 1, 2)
        }
    }

    /// The cache stores users as JSON: `previous: null` and an absent comparison both survive.
    #[test]
    fn a_comparison_round_trips_as_flat_fields() {
        let without = user(None);
        let json = serde_json::to_value(&without).unwrap();
        assert!(json.get("previous").is_none() && json.get("change_significant").is_none());
        assert_eq!(serde_json::from_value::<UserStats>(json).unwrap(), without);

        let no_previous = user(Some(Comparison {
            previous: None,
            change_significant: false,
        }));
        let json = serde_json::to_value(&no_previous).unwrap();
        assert!(json["previous"].is_null() && json["change_significant"] == false);
        assert_eq!(
            serde_json::from_value::<UserStats>(json).unwrap(),
            no_previous
        );

        let with = user(Some(Comparison {
            previous: Some(PeriodCounts {
                total_sessions: 4,
                failed_sessions: 0,
                failure_rate: 0.0,
            }),
            change_significant: true,
        }));
        let json = serde_json::to_value(&with).unwrap();
        assert_eq!(serde_json::from_value::<UserStats>(json).unwrap(), with);
    }
}
