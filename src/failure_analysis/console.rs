//! The CLI's console summary, in the layout of the old failure-analysis script's
//! (`docs/failure-analysis.md`, "Console summary").

use std::fmt::Write as _;

use super::model::{Analysis, RankBy, RankedUser, percent};

/// Width of the `=` rules.
const RULE_WIDTH: usize = 80;
/// Column widths of the top-users table (the old script's `{:<6}{:<21}{:<16}{:<15}`).
const RANK_WIDTH: usize = 6;
const USER_WIDTH: usize = 21;
const RATE_WIDTH: usize = 16;
const TOTAL_WIDTH: usize = 15;
/// Length of the dash line under the table header.
const DASH_WIDTH: usize = 55;

/// Renders `a` as the console summary (`docs/failure-analysis.md`, "Console summary"): an
/// 80-`=` banner, `OVERALL STATISTICS:` (totals
/// and the weighted overall rate, then its 95 % interval and, with `compare_previous`, the
/// previous window's figures), `USER FAILURE RATE STATISTICS:` (average, median, maximum,
/// minimum, std deviation of the per-user rates) and `TOP N USERS BY FAILURE RATE:` with
/// N = min(`top_n`, `a.top_users.len()`), a line naming the order used (`Ranked by: failure
/// rate` or `Ranked by: 95% lower bound`), the header
/// `Rank  User                 Failure Rate    Failed/Total   95% Interval`, 55 dashes and one
/// row per ranked user in `a.top_users` order, its Wilson interval last
/// (`21.52–78.48%`, `docs/insights.md`). Ends with a newline.
///
/// Values are taken from `a` as they are (nothing is recomputed): rates are printed as
/// percents with two decimals, a user's rate is its `failure_rate_percent`.
///
/// Columns are padded by characters like the sample (rank 6, user 21, rate 16). A name longer
/// than 20 characters is cut to 19 and ends in `…`, so one space always separates the
/// columns; control characters in names (line breaks, tabs, terminal escapes) print as spaces.
///
/// With zero users the banner and the totals are followed by `No sessions in this window.`
/// instead of the statistics and the table. With users but an empty ranking (everyone under
/// `min_sessions`) the table is replaced by a line saying so; `top_n == 0` leaves the
/// top-users section out.
pub fn summary(a: &Analysis, top_n: usize) -> String {
    let s = &a.summary;
    let rule = "=".repeat(RULE_WIDTH);
    let mut out = String::new();
    // `write!` into a String cannot fail.
    let _ = writeln!(out, "{rule}\nUSER FAILURE RATE ANALYSIS SUMMARY\n{rule}\n");
    let _ = writeln!(out, "OVERALL STATISTICS:");
    let _ = writeln!(out, "  Total Users: {}", s.total_users);
    let _ = writeln!(out, "  Total Sessions: {}", s.total_sessions);
    let _ = writeln!(out, "  Total Failures: {}", s.total_failures);
    let _ = writeln!(
        out,
        "  Overall Failure Rate: {}",
        percent(s.overall_failure_rate)
    );
    if s.total_sessions > 0 {
        let _ = writeln!(
            out,
            "  95% Interval: {}",
            interval(s.failure_rate_lower, s.failure_rate_upper)
        );
    }
    if let Some(p) = &s.previous {
        let _ = writeln!(
            out,
            "  Previous Window: {} sessions, {} failures, {}",
            p.total_sessions,
            p.total_failures,
            percent(p.overall_failure_rate)
        );
    }
    out.push('\n');

    if s.total_users == 0 {
        out.push_str("No sessions in this window.\n");
        return out;
    }

    let _ = writeln!(out, "USER FAILURE RATE STATISTICS:");
    let _ = writeln!(out, "  Average: {}", percent(s.average));
    let _ = writeln!(out, "  Median: {}", percent(s.median));
    let _ = writeln!(out, "  Maximum: {}", percent(s.maximum));
    let _ = writeln!(out, "  Minimum: {}", percent(s.minimum));
    let _ = writeln!(out, "  Std Deviation: {}", percent(s.std_deviation));

    if top_n == 0 {
        return out;
    }
    out.push('\n');
    if a.top_users.is_empty() {
        let _ = writeln!(out, "TOP USERS BY FAILURE RATE:");
        let _ = writeln!(
            out,
            "  No user has at least {} sessions.",
            a.options.min_sessions
        );
        return out;
    }
    let shown = &a.top_users[..top_n.min(a.top_users.len())];
    let _ = writeln!(out, "TOP {} USERS BY FAILURE RATE:", shown.len());
    let order = match a.options.rank_by {
        RankBy::FailureRate => "failure rate",
        RankBy::LowerBound => "95% lower bound",
    };
    let _ = writeln!(out, "Ranked by: {order}");
    let _ = writeln!(
        out,
        "{:<RANK_WIDTH$}{:<USER_WIDTH$}{:<RATE_WIDTH$}{:<TOTAL_WIDTH$}95% Interval",
        "Rank", "User", "Failure Rate", "Failed/Total"
    );
    let _ = writeln!(out, "{}", "-".repeat(DASH_WIDTH));
    for r in shown {
        out.push_str(&row(r));
    }
    out
}

fn row(r: &RankedUser) -> String {
    let u = &r.user;
    let counts = format!("{}/{}", u.failed_sessions, u.total_sessions);
    format!(
        "{:<RANK_WIDTH$}{:<USER_WIDTH$}{:<RATE_WIDTH$}{:<TOTAL_WIDTH$}{}\n",
        r.rank,
        fit(&u.user_name, USER_WIDTH - 1),
        u.failure_rate_percent,
        counts,
        interval(u.failure_rate_lower, u.failure_rate_upper)
    )
}

/// `21.52–78.48%`: an interval of fractions in percent, two decimals.
fn interval(lower: f64, upper: f64) -> String {
    format!("{:.2}–{:.2}%", lower * 100.0, upper * 100.0)
}

/// `name` with control characters as spaces, cut to at most `max` characters (ending in `…`
/// when cut).
fn fit(name: &str, max: usize) -> String {
    let clean = name.chars().map(|c| if c.is_control() { ' ' } else { c });
    if name.chars().count() <= max {
        clean.collect()
    } else {
        clean.take(max - 1).chain(['…']).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::{analysis, user};
    use super::super::model::{PreviousSummary, Summary};
    use super::super::stats::summarize;
    use super::*;
    use crate::stats::wilson_interval;
    use chrono::{TimeZone, Utc};

    fn ranked(rank: usize, name: &str, failed: i64, total: i64) -> RankedUser {
        RankedUser {
            rank,
            user: user(name, None, failed, total),
        }
    }

    /// The old script's sample figures, as they are (not self-consistent:
    /// `docs/failure-analysis.md`, "Console summary").
    fn old_script_sample() -> Analysis {
        let top_users = vec![
            ranked(1, "Anushka", 4, 8),
            ranked(2, "Jahanvi", 1, 3),
            ranked(3, "Akhilesh", 11, 42),
            ranked(4, "Adit Lal", 4, 16),
            ranked(5, "Ayush", 28, 148),
            ranked(6, "Vishnu Vardhan", 34, 124),
        ];
        let mut a = analysis(top_users.iter().map(|r| r.user.clone()).collect());
        a.window.end_utc = Utc.with_ymd_and_hms(2025, 5, 22, 18, 30, 0).unwrap();
        a.summary = Summary {
            failure_rate_lower: wilson_interval(81, 341).0,
            failure_rate_upper: wilson_interval(81, 341).1,
            previous: None,
            total_users: 6,
            total_sessions: 341,
            total_failures: 81,
            overall_failure_rate: 81.0 / 341.0,
            average: 0.2375,
            median: 1.0 / 6.0,
            maximum: 0.5,
            minimum: 0.0,
            std_deviation: 0.1969,
        };
        a.rankings.failure_rate = top_users.clone();
        a.top_users = top_users;
        a
    }

    const OLD_SCRIPT_HEAD: &str = "\
================================================================================
USER FAILURE RATE ANALYSIS SUMMARY
================================================================================

OVERALL STATISTICS:
  Total Users: 6
  Total Sessions: 341
  Total Failures: 81
  Overall Failure Rate: 23.75%
  95% Interval: 19.54–28.55%

USER FAILURE RATE STATISTICS:
  Average: 23.75%
  Median: 16.67%
  Maximum: 50.00%
  Minimum: 0.00%
  Std Deviation: 19.69%

";

    #[test]
    fn matches_the_old_scripts_layout() {
        // The old script printed "TOP 10" over six rows; here N = min(top_n, ranked users).
        let expected = format!(
            "{OLD_SCRIPT_HEAD}\
TOP 6 USERS BY FAILURE RATE:
Ranked by: failure rate
Rank  User                 Failure Rate    Failed/Total   95% Interval
-------------------------------------------------------
1     Anushka              50.00%          4/8            21.52–78.48%
2     Jahanvi              33.33%          1/3            6.15–79.23%
3     Akhilesh             26.19%          11/42          15.30–41.07%
4     Adit Lal             25.00%          4/16           10.18–49.50%
5     Ayush                18.92%          28/148         13.43–25.98%
6     Vishnu Vardhan       27.42%          34/124         20.34–35.86%
"
        );
        assert_eq!(summary(&old_script_sample(), 10), expected);
    }

    #[test]
    fn top_n_limits_the_table() {
        let out = summary(&old_script_sample(), 2);
        assert!(out.contains("TOP 2 USERS BY FAILURE RATE:\n"));
        assert!(
            out.ends_with(
                "2     Jahanvi              33.33%          1/3            6.15–79.23%\n"
            )
        );
        assert!(!out.contains("Akhilesh"));
        assert!(!summary(&old_script_sample(), 0).contains("TOP"));
    }

    #[test]
    fn long_and_hostile_names_keep_the_columns() {
        let mut a = old_script_sample();
        a.top_users[0].user.user_name = "Abcdefghijklmnopqrstuvwxyz Long".into();
        a.top_users[1].user.user_name = "Exactly twenty chars".into();
        a.top_users[2].user.user_name = "two\nlines\x1b[31m".into();
        let out = summary(&a, 3);
        let rows: Vec<&str> = out.lines().rev().take(3).collect();
        assert_eq!(
            rows[2],
            "1     Abcdefghijklmnopqrs… 50.00%          4/8            21.52–78.48%"
        );
        assert_eq!(
            rows[1],
            "2     Exactly twenty chars 33.33%          1/3            6.15–79.23%"
        );
        assert_eq!(
            rows[0],
            "3     two lines [31m       26.19%          11/42          15.30–41.07%"
        );
        for row in rows {
            assert_eq!(row.chars().nth(RANK_WIDTH + USER_WIDTH - 1), Some(' '));
            assert_eq!(
                row.chars()
                    .skip(RANK_WIDTH + USER_WIDTH)
                    .take(6)
                    .collect::<String>(),
                row.split_whitespace().rev().nth(2).unwrap()
            );
        }
    }

    #[test]
    fn zero_users_says_so() {
        let mut a = old_script_sample();
        a.summary = summarize(&[]);
        a.top_users.clear();
        a.users.clear();
        let out = summary(&a, 10);
        assert!(out.contains("  Total Users: 0\n  Total Sessions: 0\n"));
        assert!(out.ends_with("  Overall Failure Rate: 0.00%\n\nNo sessions in this window.\n"));
        assert!(!out.contains("Rank"));
    }

    #[test]
    fn the_order_used_and_the_previous_window_are_printed() {
        let mut a = old_script_sample();
        a.options.rank_by = RankBy::LowerBound;
        a.summary.previous = Some(PreviousSummary {
            window: a.window.clone(),
            total_sessions: 300,
            total_failures: 60,
            overall_failure_rate: 0.2,
        });
        let out = summary(&a, 10);
        assert!(out.contains("TOP 6 USERS BY FAILURE RATE:\nRanked by: 95% lower bound\nRank "));
        assert!(out.contains(
            "  95% Interval: 19.54–28.55%\n  Previous Window: 300 sessions, 60 failures, 20.00%\n\n"
        ));
    }

    #[test]
    fn empty_ranking_is_explained() {
        let mut a = old_script_sample();
        a.options.min_sessions = 500;
        a.top_users.clear();
        let out = summary(&a, 10);
        assert!(
            out.ends_with("TOP USERS BY FAILURE RATE:\n  No user has at least 500 sessions.\n")
        );
    }
}
