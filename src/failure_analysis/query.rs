//! The queries of a failure analysis (`docs/insights.md`, "Failure analysis: how sure a rate
//! is"; `docs/failure-analysis.md`, "Settled days"): one scan of the days that are not read
//! from storage, returning per-user counts per local day (the SQL and its parameters are
//! documented in `query.sql`), the users' current names, and the roll-up of the (user, day)
//! counts per user, per window and per day.

use std::collections::HashMap;

use chrono::NaiveDateTime;
use futures::TryStreamExt;
use tokio_postgres::types::ToSql;

use super::model::Window;
use super::stats::{Counts, DayCounts, PreviousCounts, UserCounts};
use super::window::Day;

/// The SQL of one day's branch (`query.sql`); [`scan_sql`] repeats it. Also run by
/// `scripts/bench/failure-analysis`.
pub const ANALYSIS_SQL: &str = include_str!("query.sql");

/// One user's counts of one day: `calllog.user_id` as text (`None` for calls without a user),
/// sessions, failures.
pub type UserDay = (Option<String>, i64, i64);

/// The scan of `days` days (at least one): `query.sql` once per day, joined by `UNION ALL`,
/// day `k` (0-based) reading `[$(2k+1), $(2k+2))`. Only placeholders vary.
pub fn scan_sql(days: usize) -> String {
    let (comment, branch) = ANALYSIS_SQL
        .split_once("\nSELECT ")
        .expect("query.sql is comments, then one SELECT");
    let branches: Vec<String> = (0..days)
        .map(|k| {
            let (start, end) = (format!("${}", 2 * k + 1), format!("${}", 2 * k + 2));
            format!("SELECT {branch}")
                .split("$1")
                .map(|piece| piece.replace("$2", &end))
                .collect::<Vec<_>>()
                .join(&start)
        })
        .collect();
    format!("{comment}\n{}", branches.join("UNION ALL\n"))
}

/// Scans the days of `days` with `scan[i]` set in one query ([`scan_sql`]) and returns every
/// day's per-user counts, in the order of `days` (empty for a day not scanned, and for a
/// scanned day without sessions).
pub async fn scan(
    client: &deadpool_postgres::Client,
    days: &[Day],
    scan: &[bool],
) -> Result<Vec<Vec<UserDay>>, tokio_postgres::Error> {
    let mut per_day: Vec<Vec<UserDay>> = vec![Vec::new(); days.len()];
    // The scanned days' indexes, by their UTC start (each branch returns its start).
    let scanned: HashMap<NaiveDateTime, usize> = days
        .iter()
        .enumerate()
        .filter(|&(i, _)| scan[i])
        .map(|(i, day)| (day.start_utc.naive_utc(), i))
        .collect();
    if scanned.is_empty() {
        return Ok(per_day);
    }
    let bounds: Vec<NaiveDateTime> = days
        .iter()
        .zip(scan)
        .filter(|&(_, &s)| s)
        .flat_map(|(day, _)| [day.start_utc.naive_utc(), day.end_utc.naive_utc()])
        .collect();
    let params = bounds.iter().map(|b| b as &(dyn ToSql + Sync));
    // An unnamed statement, planned anew for each window: a cached prepared statement switches
    // to a generic plan after five runs, which cannot see the window's size and loses the
    // parallel scan (1.8x slower on 3.3M rows; see scripts/bench/failure-analysis).
    // Rows are taken as they arrive, not collected first (52,052 for 30 days of 2,000 users).
    let rows = client
        .query_raw(scan_sql(scanned.len()).as_str(), params)
        .await?;
    futures::pin_mut!(rows);
    while let Some(r) = rows.try_next().await? {
        let day_start: NaiveDateTime = r.get(0);
        if let Some(&i) = scanned.get(&day_start) {
            per_day[i].push((r.get(1), r.get(2), r.get(3)));
        }
    }
    Ok(per_day)
}

/// The current `user.name` of each of `ids` (`calllog.user_id` as text) that has a `user` row
/// (`None` for a NULL name); one query.
pub async fn names(
    client: &deadpool_postgres::Client,
    ids: &[&str],
) -> Result<HashMap<String, Option<String>>, tokio_postgres::Error> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let rows = client
        .query(
            "SELECT u.user_id::text, u.name FROM public.\"user\" u \
              WHERE u.user_id::text = ANY($1::text[])",
            &[&ids],
        )
        .await?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

/// The user ids of `per_day`, each once.
pub fn user_ids(per_day: &[Vec<UserDay>]) -> Vec<&str> {
    let mut ids: Vec<&str> = per_day
        .iter()
        .flatten()
        .filter_map(|(id, _, _)| id.as_deref())
        .collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// Rolls the per-day counts up: the window's users (days `first..`), its `daily` series (zeros
/// included) and, with `previous`, the previous window's users (days `..first`). `per_day` is
/// in the order of `days`, the previous window's days first.
pub fn roll_up(
    days: &[Day],
    first: usize,
    per_day: &[Vec<UserDay>],
    names: &HashMap<String, Option<String>>,
    previous: Option<&Window>,
) -> Counts {
    let users_of = |days: &[Vec<UserDay>]| -> Vec<UserCounts> {
        let mut sums: HashMap<&Option<String>, (i64, i64)> = HashMap::new();
        for (id, total, failed) in days.iter().flatten() {
            let sum = sums.entry(id).or_default();
            *sum = (sum.0 + total, sum.1 + failed);
        }
        sums.into_iter()
            .map(|(id, (total_sessions, failed_sessions))| UserCounts {
                user_id: id.clone(),
                name: id.as_ref().and_then(|i| names.get(i).cloned().flatten()),
                total_sessions,
                failed_sessions,
            })
            .collect()
    };
    let daily = days[first..]
        .iter()
        .zip(&per_day[first..])
        .map(|(day, users)| DayCounts {
            date: day.date,
            total_sessions: users.iter().map(|u| u.1).sum(),
            failed_sessions: users.iter().map(|u| u.2).sum(),
        })
        .collect();
    Counts {
        users: users_of(&per_day[first..]),
        daily,
        previous: previous.map(|w| PreviousCounts {
            window: w.clone(),
            users: users_of(&per_day[..first]),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Datelike, NaiveDate, TimeZone, Utc};

    fn days(n: u32) -> Vec<Day> {
        (0..n)
            .map(|i| Day {
                date: NaiveDate::from_ymd_opt(2025, 5, 1 + i).unwrap(),
                start_utc: Utc.with_ymd_and_hms(2025, 5, 1 + i, 0, 0, 0).unwrap(),
                end_utc: Utc.with_ymd_and_hms(2025, 5, 2 + i, 0, 0, 0).unwrap(),
            })
            .collect()
    }

    #[test]
    fn the_scan_repeats_the_day_with_renumbered_placeholders_only() {
        assert_eq!(scan_sql(1), ANALYSIS_SQL);
        let sql = scan_sql(12);
        assert_eq!(sql.matches("\nUNION ALL\nSELECT $").count(), 11);
        assert!(sql.contains("c.created_on >= $23 AND c.created_on < $24"));
        assert!(sql.contains("SELECT $23::timestamp AS day_start"));
        assert!(!sql.contains("$25"));
        assert_eq!(sql.matches("GROUP BY c.user_id").count(), 12);
    }

    #[test]
    fn roll_up_sums_per_user_per_window_and_per_day_with_current_names() {
        let d = days(3);
        let a = || Some("a".to_string());
        let per_day = vec![
            vec![(a(), 5, 5)],
            vec![(a(), 4, 1), (None, 1, 0)],
            vec![(a(), 2, 2)],
        ];
        let names = HashMap::from([("a".to_string(), Some("Anushka".to_string()))]);
        let prev = Window {
            from_date: None,
            to_date: None,
            timezone: "UTC".into(),
            start_utc: d[0].start_utc,
            end_utc: d[0].end_utc,
        };
        let mut c = roll_up(&d, 1, &per_day, &names, Some(&prev));
        c.users.sort_by(|x, y| x.user_id.cmp(&y.user_id));
        let row = |u: &UserCounts| {
            (
                u.user_id.clone(),
                u.name.clone(),
                u.total_sessions,
                u.failed_sessions,
            )
        };
        assert_eq!(
            c.users.iter().map(row).collect::<Vec<_>>(),
            [(None, None, 1, 0), (a(), Some("Anushka".into()), 6, 3)]
        );
        let daily: Vec<_> = c
            .daily
            .iter()
            .map(|x| (x.date.day0(), x.total_sessions, x.failed_sessions))
            .collect();
        assert_eq!(daily, [(1, 5, 1), (2, 2, 2)]);
        let p = c.previous.unwrap();
        assert_eq!(p.window, prev);
        assert_eq!(
            p.users.iter().map(row).collect::<Vec<_>>(),
            [(a(), Some("Anushka".into()), 5, 5)]
        );
        assert_eq!(user_ids(&per_day), ["a"]);
    }
}
