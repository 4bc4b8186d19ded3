//! From per-user counts (what Postgres returns) to the analysis: display names, summary
//! statistics, ranking and histogram (`docs/failure-analysis.md`, "Definitions" and
//! "Results"), with the 95 % intervals, the daily series and the comparison with the previous
//! window (`docs/insights.md`, "Failure analysis: how sure a rate is"), built on
//! [`crate::stats`]. Pure functions, unit-tested against hand-computed values.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};

use super::model::{
    Analysis, Bucket, BucketUser, Comparison, DailyPoint, Options, PeriodCounts, PreviousSummary,
    RankBy, RankedUser, Rankings, Summary, UserStats, Window, percent,
};
use crate::stats::{median, rates_differ, wilson_interval};

/// One row of the aggregate query: a `calllog.user_id` (as text; `None` for calls without a
/// user) with its `user.name` (`None` when NULL or when the user row is missing).
#[derive(Debug, Clone, PartialEq)]
pub struct UserCounts {
    pub user_id: Option<String>,
    pub name: Option<String>,
    pub total_sessions: i64,
    pub failed_sessions: i64,
}

/// One local day's sessions and failures over all users.
#[derive(Debug, Clone, PartialEq)]
pub struct DayCounts {
    pub date: NaiveDate,
    pub total_sessions: i64,
    pub failed_sessions: i64,
}

/// The previous window (`compare_previous`) and its per-user rows.
#[derive(Debug, Clone, PartialEq)]
pub struct PreviousCounts {
    pub window: Window,
    pub users: Vec<UserCounts>,
}

/// Everything the aggregate query returns: the window's users (any order), its days (in
/// order, zeros included) and, with `compare_previous`, the previous window's users.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Counts {
    pub users: Vec<UserCounts>,
    pub daily: Vec<DayCounts>,
    pub previous: Option<PreviousCounts>,
}

/// Builds the analysis from the aggregate rows.
pub fn analyse(
    counts: Counts,
    window: Window,
    options: Options,
    generated_at: DateTime<Utc>,
) -> Analysis {
    let mut users = display_users(counts.users);
    if let Some(previous) = &counts.previous {
        compare(&mut users, &previous.users, options.min_sessions);
    }
    users.sort_by(failure_rate_order);
    let mut summary = summarize(&users);
    summary.previous = counts.previous.map(|p| {
        let total_sessions = p.users.iter().map(|u| u.total_sessions).sum();
        let total_failures = p.users.iter().map(|u| u.failed_sessions).sum();
        PreviousSummary {
            window: p.window,
            total_sessions,
            total_failures,
            overall_failure_rate: rate(total_failures, total_sessions),
        }
    });
    let histogram = histogram(&users);
    let by_failure_rate = ranking(&users, &options);
    users.sort_by(lower_bound_order);
    let by_lower_bound = ranking(&users, &options);
    if options.rank_by == RankBy::FailureRate {
        users.sort_by(failure_rate_order);
    }
    let top_users = match options.rank_by {
        RankBy::FailureRate => by_failure_rate.clone(),
        RankBy::LowerBound => by_lower_bound.clone(),
    };
    let daily = counts
        .daily
        .into_iter()
        .map(|d| DailyPoint {
            date: d.date,
            total_sessions: d.total_sessions,
            failed_sessions: d.failed_sessions,
            failure_rate: rate(d.failed_sessions, d.total_sessions),
        })
        .collect();
    Analysis {
        window,
        options,
        summary,
        top_users,
        rankings: Rankings {
            failure_rate: by_failure_rate,
            lower_bound: by_lower_bound,
        },
        histogram,
        users,
        daily,
        generated_at,
    }
}

/// The first `max_users` of `users` (in their order) with at least `min_sessions` sessions.
pub(super) fn ranking(users: &[UserStats], options: &Options) -> Vec<RankedUser> {
    users
        .iter()
        .filter(|u| u.total_sessions >= options.min_sessions)
        .take(options.max_users)
        .enumerate()
        .map(|(i, u)| RankedUser {
            rank: i + 1,
            user: u.clone(),
        })
        .collect()
}

/// Sets each user's `previous` (by `user_id`) and `change_significant` (only when both
/// windows have at least `min_sessions` sessions).
fn compare(users: &mut [UserStats], previous: &[UserCounts], min_sessions: i64) {
    let before: HashMap<&Option<String>, &UserCounts> =
        previous.iter().map(|p| (&p.user_id, p)).collect();
    for u in users {
        let prev = before.get(&u.user_id).map(|p| PeriodCounts {
            total_sessions: p.total_sessions,
            failed_sessions: p.failed_sessions,
            failure_rate: rate(p.failed_sessions, p.total_sessions),
        });
        let change_significant = prev.as_ref().is_some_and(|p| {
            u.total_sessions >= min_sessions
                && p.total_sessions >= min_sessions
                && rates_differ(
                    count(u.failed_sessions),
                    count(u.total_sessions),
                    count(p.failed_sessions),
                    count(p.total_sessions),
                )
        });
        u.comparison = Some(Comparison {
            previous: prev,
            change_significant,
        });
    }
}

/// Names users: `Unknown` when there is no name; `name (first 8 chars of user_id)` when two
/// users of this result share a display name.
pub(super) fn display_users(rows: Vec<UserCounts>) -> Vec<UserStats> {
    let base = |r: &UserCounts| r.name.clone().unwrap_or_else(|| "Unknown".to_string());
    let mut seen: HashMap<String, usize> = HashMap::new();
    for r in &rows {
        *seen.entry(base(r)).or_default() += 1;
    }
    rows.into_iter()
        .map(|r| {
            let mut user_name = base(&r);
            if seen[&user_name] > 1 {
                let id = r.user_id.as_deref().unwrap_or("none");
                let short: String = id.chars().take(8).collect();
                user_name = format!("{user_name} ({short})");
            }
            let failure_rate = rate(r.failed_sessions, r.total_sessions);
            let (failure_rate_lower, failure_rate_upper) =
                wilson_interval(count(r.failed_sessions), count(r.total_sessions));
            UserStats {
                user_name,
                total_sessions: r.total_sessions,
                failed_sessions: r.failed_sessions,
                success_sessions: r.total_sessions - r.failed_sessions,
                failure_rate,
                failure_rate_percent: percent(failure_rate),
                user_id: r.user_id,
                failure_rate_lower,
                failure_rate_upper,
                comparison: None,
            }
        })
        .collect()
}

/// failure_rate desc, then failed_sessions desc, then name asc (then user_id, for stability).
pub(super) fn failure_rate_order(a: &UserStats, b: &UserStats) -> std::cmp::Ordering {
    b.failure_rate
        .total_cmp(&a.failure_rate)
        .then(b.failed_sessions.cmp(&a.failed_sessions))
        .then_with(|| a.user_name.cmp(&b.user_name))
        .then_with(|| a.user_id.cmp(&b.user_id))
}

/// failure_rate_lower desc, then failed_sessions desc, then name asc (then user_id).
fn lower_bound_order(a: &UserStats, b: &UserStats) -> std::cmp::Ordering {
    b.failure_rate_lower
        .total_cmp(&a.failure_rate_lower)
        .then(b.failed_sessions.cmp(&a.failed_sessions))
        .then_with(|| a.user_name.cmp(&b.user_name))
        .then_with(|| a.user_id.cmp(&b.user_id))
}

/// A count from PostgreSQL (`bigint`, never negative) as the statistics take it.
fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

fn rate(failed: i64, total: i64) -> f64 {
    if total == 0 {
        0.0
    } else {
        failed as f64 / total as f64
    }
}

/// Totals (weighted) and statistics over the per-user rates (unweighted).
pub fn summarize(users: &[UserStats]) -> Summary {
    let total_sessions: i64 = users.iter().map(|u| u.total_sessions).sum();
    let total_failures: i64 = users.iter().map(|u| u.failed_sessions).sum();
    let mut rates: Vec<f64> = users.iter().map(|u| u.failure_rate).collect();
    rates.sort_by(f64::total_cmp);
    let n = rates.len();
    let average = if n == 0 {
        0.0
    } else {
        rates.iter().sum::<f64>() / n as f64
    };
    let median = median(&rates).unwrap_or(0.0);
    let std_deviation = if n < 2 {
        0.0
    } else {
        (rates.iter().map(|r| (r - average).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt()
    };
    let (failure_rate_lower, failure_rate_upper) =
        wilson_interval(count(total_failures), count(total_sessions));
    Summary {
        total_users: n,
        total_sessions,
        total_failures,
        overall_failure_rate: rate(total_failures, total_sessions),
        failure_rate_lower,
        failure_rate_upper,
        previous: None,
        average,
        median,
        maximum: rates.last().copied().unwrap_or(0.0),
        minimum: rates.first().copied().unwrap_or(0.0),
        std_deviation,
    }
}

/// The bucket of a rate: floor(r·10), with exactly 1.0 in the last bucket.
pub fn bucket_of(rate: f64) -> usize {
    ((rate * 10.0).floor() as usize).min(9)
}

/// Ten buckets `0-10%` … `90-100%`, each listing its users in the given (ranking) order.
pub(super) fn histogram(users: &[UserStats]) -> Vec<Bucket> {
    let mut buckets: Vec<Bucket> = (0..10)
        .map(|i| Bucket {
            label: format!("{}-{}%", i * 10, i * 10 + 10),
            count: 0,
            users: vec![],
        })
        .collect();
    for u in users {
        let b = &mut buckets[bucket_of(u.failure_rate)];
        b.count += 1;
        b.users.push(BucketUser {
            user_name: u.user_name.clone(),
            failure_rate: u.failure_rate,
            failed_sessions: u.failed_sessions,
            total_sessions: u.total_sessions,
        });
    }
    buckets
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn row(id: &str, name: Option<&str>, total: i64, failed: i64) -> UserCounts {
        UserCounts {
            user_id: Some(id.to_string()),
            name: name.map(str::to_string),
            total_sessions: total,
            failed_sessions: failed,
        }
    }

    fn window() -> Window {
        let t = Utc.with_ymd_and_hms(2025, 5, 20, 0, 0, 0).unwrap();
        Window {
            from_date: None,
            to_date: None,
            timezone: "UTC".into(),
            start_utc: t,
            end_utc: t + chrono::Duration::days(1),
        }
    }

    fn options(max_users: usize, min_sessions: i64) -> Options {
        Options {
            max_users,
            min_sessions,
            rank_by: RankBy::FailureRate,
            compare_previous: false,
        }
    }

    fn run(rows: Vec<UserCounts>, max_users: usize, min_sessions: i64) -> Analysis {
        let counts = Counts {
            users: rows,
            ..Counts::default()
        };
        analyse(
            counts,
            window(),
            options(max_users, min_sessions),
            window().end_utc,
        )
    }

    /// |a − b| < 1e-9.
    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn users_and_the_overall_rate_carry_their_interval() {
        let a = run(
            vec![row("a", Some("A"), 10, 3), row("b", Some("B"), 8, 0)],
            15,
            1,
        );
        let by_id = |id: &str| a.users.iter().find(|u| u.user_id.as_deref() == Some(id));
        let ua = by_id("a").unwrap();
        assert!(close(ua.failure_rate_lower, 0.107_791_266_556));
        assert!(close(ua.failure_rate_upper, 0.603_221_854_654));
        assert_eq!(by_id("b").unwrap().failure_rate_lower, 0.0);
        // Overall 3/18: the quadratic's roots for k = 3, n = 18.
        assert!(close(a.summary.failure_rate_lower, 0.058_365_767_602));
        assert!(close(a.summary.failure_rate_upper, 0.392_220_383_020));
        assert!(close(
            a.top_users[0].user.failure_rate_lower,
            ua.failure_rate_lower
        ));
    }

    #[test]
    fn lower_bound_ranking_puts_volume_ahead_of_small_certainties() {
        let rows = vec![
            row("1", Some("Few"), 3, 3),      // lower 0.438503…
            row("2", Some("Many"), 288, 288), // lower 0.986837…
            row("3", Some("Half"), 400, 200), // lower 0.451…
            row("4", Some("Tie B"), 5, 5),    // lower 0.565517…, 5 failures
            row("5", Some("Tie A"), 5, 5),
        ];
        let mut o = options(15, 1);
        o.rank_by = RankBy::LowerBound;
        let a = analyse(
            Counts {
                users: rows,
                ..Counts::default()
            },
            window(),
            o,
            window().end_utc,
        );
        let names = |list: &[RankedUser]| -> Vec<String> {
            list.iter().map(|r| r.user.user_name.clone()).collect()
        };
        assert_eq!(
            names(&a.top_users),
            ["Many", "Tie A", "Tie B", "Half", "Few"]
        );
        assert_eq!(a.top_users, a.rankings.lower_bound);
        assert_eq!(
            names(&a.rankings.failure_rate),
            ["Many", "Tie A", "Tie B", "Few", "Half"]
        );
        // `users` (and so the CSV) follow the chosen order.
        assert_eq!(a.users[3].user_name, "Half");
        assert_eq!(a.options.rank_by, RankBy::LowerBound);
    }

    #[test]
    fn compare_previous_sets_previous_and_significance_per_user() {
        let prev_window = Window {
            start_utc: window().start_utc - chrono::Duration::days(1),
            end_utc: window().start_utc,
            ..window()
        };
        let mut o = options(15, 50);
        o.compare_previous = true;
        let counts = Counts {
            users: vec![
                row("up", Some("Up"), 100, 20),
                row("same", Some("Same"), 100, 19),
                row("new", Some("New"), 100, 50),
                row("few", Some("Few"), 100, 90),
            ],
            daily: vec![],
            previous: Some(PreviousCounts {
                window: prev_window.clone(),
                users: vec![
                    row("up", Some("Up"), 100, 10),
                    row("same", Some("Same"), 100, 10),
                    row("few", Some("Few"), 49, 0), // under min_sessions = 50
                    row("gone", Some("Gone"), 10, 10),
                ],
            }),
        };
        let a = analyse(counts, window(), o, window().end_utc);
        let get = |id: &str| {
            a.users
                .iter()
                .find(|u| u.user_id.as_deref() == Some(id))
                .and_then(|u| u.comparison.clone())
                .unwrap()
        };
        assert!(get("up").change_significant);
        assert_eq!(
            get("up").previous,
            Some(PeriodCounts {
                total_sessions: 100,
                failed_sessions: 10,
                failure_rate: 0.1
            })
        );
        assert!(!get("same").change_significant);
        assert_eq!(get("new").previous, None);
        assert!(!get("new").change_significant);
        assert!(!get("few").change_significant);
        let p = a.summary.previous.as_ref().unwrap();
        assert_eq!((p.total_sessions, p.total_failures), (259, 30));
        assert!(close(p.overall_failure_rate, 30.0 / 259.0));
        assert_eq!(p.window, prev_window);
        // Without compare_previous nothing is set.
        let plain = run(vec![row("up", Some("Up"), 100, 20)], 15, 1);
        assert!(plain.summary.previous.is_none() && plain.users[0].comparison.is_none());
    }

    #[test]
    fn daily_points_get_their_rate() {
        let d = |s: &str| s.parse::<NaiveDate>().unwrap();
        let counts = Counts {
            users: vec![],
            daily: vec![
                DayCounts {
                    date: d("2025-03-08"),
                    total_sessions: 4,
                    failed_sessions: 1,
                },
                DayCounts {
                    date: d("2025-03-09"),
                    total_sessions: 0,
                    failed_sessions: 0,
                },
            ],
            previous: None,
        };
        let a = analyse(counts, window(), options(15, 1), window().end_utc);
        assert_eq!(a.daily.len(), 2);
        assert_eq!(
            (a.daily[0].date, a.daily[0].failure_rate),
            (d("2025-03-08"), 0.25)
        );
        assert_eq!(a.daily[1].failure_rate, 0.0);
    }

    #[test]
    fn summary_matches_hand_computed_values() {
        // rates: 4/8 = .5, 1/3 = .3333…, 11/42 = .261904…, 0/10 = 0
        let a = run(
            vec![
                row("a", Some("Anushka"), 8, 4),
                row("b", Some("Jahanvi"), 3, 1),
                row("c", Some("Akhilesh"), 42, 11),
                row("d", Some("Adit Lal"), 10, 0),
            ],
            15,
            1,
        );
        let s = &a.summary;
        assert_eq!(
            (s.total_users, s.total_sessions, s.total_failures),
            (4, 63, 16)
        );
        assert!((s.overall_failure_rate - 16.0 / 63.0).abs() < 1e-12);
        let rates = [0.5, 1.0 / 3.0, 11.0 / 42.0, 0.0];
        let mean = rates.iter().sum::<f64>() / 4.0; // 0.273809…
        assert!((s.average - mean).abs() < 1e-12);
        assert!((s.median - (1.0 / 3.0 + 11.0 / 42.0) / 2.0).abs() < 1e-12);
        assert_eq!((s.maximum, s.minimum), (0.5, 0.0));
        let var = rates.iter().map(|r| (r - mean).powi(2)).sum::<f64>() / 3.0;
        assert!((s.std_deviation - var.sqrt()).abs() < 1e-12);
        assert!(
            (s.std_deviation - 0.208_022).abs() < 1e-5,
            "{}",
            s.std_deviation
        );
        assert_eq!(a.top_users[2].user.failure_rate_percent, "26.19%");
    }

    #[test]
    fn one_user_has_zero_deviation_and_no_users_are_all_zeros() {
        let a = run(vec![row("a", Some("A"), 4, 1)], 15, 1);
        assert_eq!(a.summary.std_deviation, 0.0);
        assert_eq!(a.summary.median, 0.25);
        let e = run(vec![], 15, 1);
        assert_eq!(e.summary.total_users, 0);
        assert_eq!(e.summary.overall_failure_rate, 0.0);
        assert_eq!(e.histogram.len(), 10);
        assert!(e.histogram.iter().all(|b| b.count == 0));
        assert!(e.top_users.is_empty());
    }

    #[test]
    fn ranking_breaks_ties_by_failures_then_name_and_honours_limits() {
        let a = run(
            vec![
                row("1", Some("Zed"), 10, 5),
                row("2", Some("Amy"), 10, 5),
                row("3", Some("Bob"), 20, 10),
                row("4", Some("Cat"), 2, 2),
                row("5", Some("Dan"), 100, 1),
            ],
            3,
            3,
        );
        let names: Vec<_> = a
            .top_users
            .iter()
            .map(|r| r.user.user_name.as_str())
            .collect();
        // Cat (100 %) has 2 < min_sessions sessions: out of the ranking, still in the totals.
        assert_eq!(names, ["Bob", "Amy", "Zed"]);
        assert_eq!(
            a.top_users.iter().map(|r| r.rank).collect::<Vec<_>>(),
            [1, 2, 3]
        );
        assert_eq!(a.summary.total_users, 5);
        assert_eq!(a.summary.total_sessions, 142);
    }

    #[test]
    fn shared_and_missing_names_are_told_apart() {
        let a = run(
            vec![
                row("0f3a9c11-aaaa", Some("Ayush"), 10, 1),
                row("77b2e401-bbbb", Some("Ayush"), 10, 2),
                row("c0ffee00-cccc", None, 10, 3),
                UserCounts {
                    user_id: None,
                    name: None,
                    total_sessions: 1,
                    failed_sessions: 0,
                },
                row("d00d0000-dddd", Some("Vishnu"), 10, 4),
            ],
            15,
            1,
        );
        let mut names: Vec<_> = a.users.iter().map(|u| u.user_name.clone()).collect();
        names.sort();
        assert_eq!(
            names,
            [
                "Ayush (0f3a9c11)",
                "Ayush (77b2e401)",
                "Unknown (c0ffee00)",
                "Unknown (none)",
                "Vishnu"
            ]
        );
    }

    #[test]
    fn histogram_buckets_by_floor_with_one_in_the_last() {
        assert_eq!(bucket_of(0.0), 0);
        assert_eq!(bucket_of(0.0999), 0);
        assert_eq!(bucket_of(0.1), 1);
        assert_eq!(bucket_of(0.95), 9);
        assert_eq!(bucket_of(1.0), 9);
        let a = run(
            vec![
                row("a", Some("A"), 1, 1),
                row("b", Some("B"), 10, 9),
                row("c", Some("C"), 10, 1),
            ],
            15,
            1,
        );
        let counts: Vec<_> = a.histogram.iter().map(|b| b.count).collect();
        assert_eq!(counts, [0, 1, 0, 0, 0, 0, 0, 0, 0, 2]);
        assert_eq!(a.histogram[9].label, "90-100%");
        assert_eq!(a.histogram[9].users[0].user_name, "A");
    }
}
