//! Values shared by the unit tests of the failure analysis, made by the module's own functions.

use chrono::{TimeZone, Utc};

use super::model::{Analysis, Options, RankBy, Rankings, UserStats, Window};
use super::stats::{UserCounts, display_users, summarize};

/// User `name` (`user_id` as given) with `failed` of `total` sessions failed: its rate, percent
/// and 95 % interval as the analysis computes them; no comparison.
pub(super) fn user(name: &str, user_id: Option<&str>, failed: i64, total: i64) -> UserStats {
    let row = UserCounts {
        user_id: user_id.map(str::to_owned),
        name: Some(name.to_owned()),
        total_sessions: total,
        failed_sessions: failed,
    };
    display_users(vec![row]).remove(0)
}

/// An analysis of `users`, in the order given, over the empty UTC window at 2025-05-20 18:30
/// (also its generation time): the default options (15 users, 1 session, by failure rate),
/// the users' summary, and no ranking, histogram or days.
pub(super) fn analysis(users: Vec<UserStats>) -> Analysis {
    let t = Utc.with_ymd_and_hms(2025, 5, 20, 18, 30, 0).unwrap();
    Analysis {
        window: Window {
            from_date: None,
            to_date: None,
            timezone: "UTC".into(),
            start_utc: t,
            end_utc: t,
        },
        options: Options {
            max_users: 15,
            min_sessions: 1,
            rank_by: RankBy::FailureRate,
            compare_previous: false,
        },
        summary: summarize(&users),
        top_users: vec![],
        rankings: Rankings {
            failure_rate: vec![],
            lower_bound: vec![],
        },
        histogram: vec![],
        users,
        daily: vec![],
        generated_at: t,
    }
}
