//! The one query of a failure analysis: per-user and per-local-day session and failure counts
//! over the window (and the previous window with `compare_previous`), aggregated in PostgreSQL
//! in a single scan (`docs/insights.md`, "Failure analysis: how sure a rate is"; the SQL and
//! its parameters are documented in `query.sql`).

use chrono::NaiveDateTime;

use super::model::Window;
use super::stats::{Counts, DayCounts, PreviousCounts, UserCounts};
use super::window::days_of;

/// The SQL of [`counts`], also run as-is by `scripts/bench/failure-analysis`.
pub const ANALYSIS_SQL: &str = include_str!("query.sql");

/// Runs [`ANALYSIS_SQL`] for `window`, and for `previous` too when given (it must end where
/// `window` starts). `daily` has one entry per local day of `window` ([`days_of`]), zeros
/// included; `previous` in the result is `Some` exactly when `previous` was given.
pub async fn counts(
    client: &deadpool_postgres::Client,
    window: &Window,
    previous: Option<&Window>,
) -> Result<Counts, tokio_postgres::Error> {
    let days = days_of(window);
    let previous_days = previous.map(days_of).unwrap_or_default();
    let scan_start = previous.map_or(window.start_utc, |p| p.start_utc);
    let starts: Vec<NaiveDateTime> = previous_days
        .iter()
        .chain(&days)
        .map(|(_, t)| t.naive_utc())
        .collect();
    // 1-based number of the window's first day in `starts`.
    let first_day = previous_days.len() as i32 + 1;
    // An unnamed statement, planned anew for each window: a cached prepared statement switches
    // to a generic plan after five runs, which cannot see the window's size and loses the
    // parallel scan (1.8x slower on 3.3M rows; see scripts/bench/failure-analysis).
    let rows = client
        .query(
            ANALYSIS_SQL,
            &[
                &scan_start.naive_utc(),
                &window.end_utc.naive_utc(),
                &starts,
                &first_day,
            ],
        )
        .await?;

    let mut per_day = vec![(0i64, 0i64); days.len()];
    let mut users = Vec::new();
    let mut previous_users = Vec::new();
    for r in &rows {
        let (total, failed): (i64, i64) = (r.get(5), r.get(6));
        if r.get::<_, bool>(0) {
            // Day numbers are 1..=starts.len(); those before `first_day` are the previous
            // window's days, which the result does not list.
            let day: i32 = r.get(4);
            if let Some(slot) = usize::try_from(day - first_day)
                .ok()
                .and_then(|i| per_day.get_mut(i))
            {
                *slot = (total, failed);
            }
        } else {
            let user = UserCounts {
                user_id: r.get(1),
                name: r.get(2),
                total_sessions: total,
                failed_sessions: failed,
            };
            if r.get::<_, bool>(3) {
                users.push(user);
            } else {
                previous_users.push(user);
            }
        }
    }
    Ok(Counts {
        users,
        daily: days
            .iter()
            .zip(per_day)
            .map(
                |(&(date, _), (total_sessions, failed_sessions))| DayCounts {
                    date,
                    total_sessions,
                    failed_sessions,
                },
            )
            .collect(),
        previous: previous.map(|w| PreviousCounts {
            window: w.clone(),
            users: previous_users,
        }),
    })
}
