//! From per-user counts (what Postgres returns) to the analysis: display names, summary
//! statistics, ranking and histogram (`../spec/failure-analysis.md`, "Definitions" and
//! "Results"). Pure functions, unit-tested against hand-computed values.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::model::{
    Analysis, Bucket, BucketUser, Options, RankedUser, Summary, UserStats, Window, percent,
};

/// One row of the aggregate query: a `calllog.user_id` (as text; `None` for calls without a
/// user) with its `user.name` (`None` when NULL or when the user row is missing).
#[derive(Debug, Clone, PartialEq)]
pub struct UserCounts {
    pub user_id: Option<String>,
    pub name: Option<String>,
    pub total_sessions: i64,
    pub failed_sessions: i64,
}

/// Builds the analysis from the aggregate rows (any order).
pub fn analyse(
    rows: Vec<UserCounts>,
    window: Window,
    options: Options,
    generated_at: DateTime<Utc>,
) -> Analysis {
    let mut users = display_users(rows);
    users.sort_by(ranking_order);
    let summary = summarize(&users);
    let top_users = users
        .iter()
        .filter(|u| u.total_sessions >= options.min_sessions)
        .take(options.max_users)
        .enumerate()
        .map(|(i, u)| RankedUser {
            rank: i + 1,
            user: u.clone(),
        })
        .collect();
    let histogram = histogram(&users);
    Analysis {
        window,
        options,
        summary,
        top_users,
        histogram,
        users,
        generated_at,
    }
}

/// Names users: `Unknown` when there is no name; `name (first 8 chars of user_id)` when two
/// users of this result share a display name.
fn display_users(rows: Vec<UserCounts>) -> Vec<UserStats> {
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
            UserStats {
                user_name,
                total_sessions: r.total_sessions,
                failed_sessions: r.failed_sessions,
                success_sessions: r.total_sessions - r.failed_sessions,
                failure_rate,
                failure_rate_percent: percent(failure_rate),
                user_id: r.user_id,
            }
        })
        .collect()
}

/// failure_rate desc, then failed_sessions desc, then name asc (then user_id, for stability).
fn ranking_order(a: &UserStats, b: &UserStats) -> std::cmp::Ordering {
    b.failure_rate
        .total_cmp(&a.failure_rate)
        .then(b.failed_sessions.cmp(&a.failed_sessions))
        .then_with(|| a.user_name.cmp(&b.user_name))
        .then_with(|| a.user_id.cmp(&b.user_id))
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
    let median = match n {
        0 => 0.0,
        _ if n % 2 == 1 => rates[n / 2],
        _ => (rates[n / 2 - 1] + rates[n / 2]) / 2.0,
    };
    let std_deviation = if n < 2 {
        0.0
    } else {
        (rates.iter().map(|r| (r - average).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt()
    };
    Summary {
        total_users: n,
        total_sessions,
        total_failures,
        overall_failure_rate: rate(total_failures, total_sessions),
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
fn histogram(users: &[UserStats]) -> Vec<Bucket> {
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

    fn run(rows: Vec<UserCounts>, max_users: usize, min_sessions: i64) -> Analysis {
        analyse(
            rows,
            window(),
            Options {
                max_users,
                min_sessions,
            },
            window().end_utc,
        )
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
