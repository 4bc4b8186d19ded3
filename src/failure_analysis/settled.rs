//! Settled days (`docs/failure-analysis.md`, "Settled days"): the per-user counts of a local
//! day that ended more than `SETTLE_HOURS` ago, kept in storage the first time they are
//! computed, so that a later analysis over that day reads them instead of scanning it again.
//!
//! One object per (time zone, day): `failure_analysis/settled/<timezone>/<YYYY-MM-DD>.json`,
//! written whole (complete or absent), create-only unless the run was forced. A kept day that
//! cannot be read, cannot be parsed or has other bounds is scanned again, never an error.

use bytes::Bytes;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use chrono_tz::Tz;
use futures::StreamExt;
use serde::{Deserialize, Serialize};

use super::query::UserDay;
use super::window::Day;
use crate::storage::{Condition, Put, Storage, StorageError};

/// A day with more users than this is not kept (an object stays under ~12 MB).
pub const MAX_USERS_PER_DAY: usize = 200_000;

/// Kept days read or written at once.
const CONCURRENCY: usize = 8;

/// The stored form of one settled day.
#[derive(Debug, Serialize, Deserialize)]
struct KeptDay {
    timezone: String,
    date: NaiveDate,
    /// The day's UTC bounds `[start_utc, end_utc)`; a kept day is used only for a day with the
    /// same bounds (time zone rules can change).
    start_utc: DateTime<Utc>,
    end_utc: DateTime<Utc>,
    /// When the counts were scanned.
    computed_at: DateTime<Utc>,
    /// `[user_id, sessions, failures]` per user with sessions that day.
    users: Vec<UserDay>,
}

/// The object name of `date` in `timezone` (an IANA name, whose `/` become folders).
pub fn name(timezone: &str, date: NaiveDate) -> String {
    format!("failure_analysis/settled/{timezone}/{date}.json")
}

/// Whether `day` may be kept and reused: a whole local day of `tz` that ended more than
/// `settle_hours` before `now`.
pub fn is_settled(day: &Day, tz: Tz, settle_hours: u32, now: DateTime<Utc>) -> bool {
    day.is_whole(tz)
        && day
            .end_utc
            .checked_add_signed(Duration::hours(settle_hours.into()))
            .is_some_and(|settled_at| settled_at < now)
}

/// Reads the kept copy of each day with `settled[i]` set, at most [`CONCURRENCY`] at once.
/// `None` for a day not settled, not kept, or whose copy cannot be used (logged).
pub async fn read(
    storage: &Storage,
    timezone: &str,
    days: &[Day],
    settled: &[bool],
) -> Vec<Option<Vec<UserDay>>> {
    let wanted: Vec<Option<Day>> = days
        .iter()
        .zip(settled)
        .map(|(&day, &settled)| settled.then_some(day))
        .collect();
    futures::stream::iter(wanted)
        .map(|day| async move {
            match day {
                Some(day) => read_one(storage, timezone, &day).await,
                None => None,
            }
        })
        .buffered(CONCURRENCY)
        .collect()
        .await
}

async fn read_one(storage: &Storage, timezone: &str, day: &Day) -> Option<Vec<UserDay>> {
    let name = name(timezone, day.date);
    let why = match storage.get(&name).await {
        Ok(None) => return None,
        Ok(Some(object)) => match serde_json::from_slice::<KeptDay>(&object.body) {
            Ok(kept)
                if kept.timezone == timezone
                    && kept.date == day.date
                    && (kept.start_utc, kept.end_utc) == (day.start_utc, day.end_utc) =>
            {
                return Some(kept.users);
            }
            Ok(_) => "its day or bounds differ".to_string(),
            Err(e) => e.to_string(),
        },
        Err(e) => e.to_string(),
    };
    tracing::warn!(name = %name, error = %why, "settled day unusable; scanning it");
    None
}

/// Writes each of `days` (a day and its per-user counts), at most [`CONCURRENCY`] at once:
/// create-only, or replacing what is there when `overwrite` (`force_refresh`). A day over
/// [`MAX_USERS_PER_DAY`] users is skipped; a failed write is logged and skipped (the day is
/// scanned again next time). Returns the days and bytes written.
pub async fn write(
    storage: &Storage,
    timezone: &str,
    days: Vec<(Day, Vec<UserDay>)>,
    overwrite: bool,
    computed_at: DateTime<Utc>,
) -> (usize, u64) {
    let put = &Put {
        condition: if overwrite {
            Condition::Always
        } else {
            Condition::IfNotExists
        },
        // A kept day lost or damaged in a crash is scanned again ([`read`]).
        recomputable: true,
        ..Put::new("application/json")
    };
    let written: Vec<Option<u64>> = futures::stream::iter(days)
        .filter(|(_, users)| std::future::ready(users.len() <= MAX_USERS_PER_DAY))
        .map(|(day, users)| async move {
            let name = name(timezone, day.date);
            let kept = KeptDay {
                timezone: timezone.to_string(),
                date: day.date,
                start_utc: day.start_utc,
                end_utc: day.end_utc,
                computed_at,
                users,
            };
            let body = Bytes::from(serde_json::to_vec(&kept).expect("a kept day serializes"));
            let bytes = body.len() as u64;
            match storage.put(&name, body, put).await {
                Ok(_) => Some(bytes),
                Err(StorageError::AlreadyExists(_)) => None,
                Err(e) => {
                    tracing::warn!(name = %name, error = %e, "settled day not kept");
                    None
                }
            }
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    let written: Vec<u64> = written.into_iter().flatten().collect();
    (written.len(), written.iter().sum())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::failure_analysis::window::{days_window, spans_of};

    #[test]
    fn a_day_is_settled_when_whole_and_ended_settle_hours_ago() {
        let tz = chrono_tz::Asia::Kolkata;
        let w = days_window(
            "2025-05-21".parse().unwrap(),
            "2025-05-21".parse().unwrap(),
            tz,
            93,
        )
        .unwrap();
        let day = spans_of(&w)[0];
        // The day ends 2025-05-21T18:30Z.
        let at = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        assert!(!is_settled(&day, tz, 48, at("2025-05-23T18:30:00Z")));
        assert!(is_settled(&day, tz, 48, at("2025-05-23T18:30:01Z")));
        assert!(is_settled(&day, tz, 0, at("2025-05-21T18:30:01Z")));
        let cut = Day {
            start_utc: day.start_utc + Duration::hours(1),
            ..day
        };
        assert!(!is_settled(&cut, tz, 0, at("2026-01-01T00:00:00Z")));
        assert_eq!(
            name(tz.name(), day.date),
            "failure_analysis/settled/Asia/Kolkata/2025-05-21.json"
        );
    }
}
