//! Time, for both domains: the clock every "now" comes from, and local dates in IANA zones.
//!
//! * Every "now" comes from [`App`](crate::app::App)'s `clock`, the system clock
//!   ([`SystemClock`]).
//! * A request's dates and zones are parsed here ([`parse_date`], [`parse_zone`]), and a local
//!   day starts at [`local_midnight`]: the failure analysis' window
//!   (`docs/failure-analysis.md`, "Window") and the daily report's day (`docs/daily-report.md`)
//!   are both made of such days, 23 or 25 hours long on DST days.

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;

use crate::error::Invalid;

/// Parses an IANA zone name (`Asia/Kolkata`, `UTC`); [`Invalid`] naming `field` otherwise.
pub fn parse_zone(name: &str, field: &str) -> Result<Tz, Invalid> {
    name.parse::<Tz>().map_err(|_| {
        Invalid::new(
            field,
            format!("unknown time zone {name:?} (expected an IANA name such as Asia/Kolkata)"),
        )
    })
}

/// Parses a date `YYYY-MM-DD` (zero-padded); [`Invalid`] naming `field` otherwise.
pub fn parse_date(value: &str, field: &str) -> Result<NaiveDate, Invalid> {
    let padded = value.len() == 10 && value.as_bytes()[4] == b'-' && value.as_bytes()[7] == b'-';
    NaiveDate::parse_from_str(value, "%Y-%m-%d")
        .ok()
        .filter(|_| padded)
        .ok_or(())
        .map_err(|_| Invalid::new(field, format!("{value:?} is not a date YYYY-MM-DD")))
}

/// The first instant of `date` in `tz`, as UTC. When midnight does not exist (a DST gap at
/// 00:00, as in America/Santiago), the day starts at the first local instant after the gap.
pub fn local_midnight(date: NaiveDate, tz: Tz) -> DateTime<Utc> {
    let mut t = date.and_hms_opt(0, 0, 0).expect("midnight exists");
    loop {
        if let Some(dt) = tz.from_local_datetime(&t).earliest() {
            return dt.with_timezone(&Utc);
        }
        t += Duration::minutes(15);
    }
}

/// A source of the current instant.
pub trait Clock: Send + Sync {
    /// The current instant, UTC.
    fn now(&self) -> DateTime<Utc>;
}

/// The system clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn a_day_without_midnight_starts_after_the_gap() {
        // Chile skipped 00:00 → 01:00 on 2024-09-08.
        let t = local_midnight(d("2024-09-08"), chrono_tz::America::Santiago);
        assert_eq!(t.to_rfc3339(), "2024-09-08T04:00:00+00:00");
        let kolkata = local_midnight(d("2025-05-21"), chrono_tz::Asia::Kolkata);
        assert_eq!(kolkata.to_rfc3339(), "2025-05-20T18:30:00+00:00");
    }

    #[test]
    fn bad_dates_and_zones_name_their_field() {
        assert_eq!(
            parse_zone("Asia/Kolkata", "tz"),
            Ok(chrono_tz::Asia::Kolkata)
        );
        assert_eq!(
            parse_zone("Mars/Olympus", "timezone").unwrap_err().field,
            "timezone"
        );
        assert_eq!(parse_date("2025-02-28", "date"), Ok(d("2025-02-28")));
        for bad in ["2025-02-30", "2025-2-28", "20250228", "x"] {
            assert_eq!(
                parse_date(bad, "to_date").unwrap_err().field,
                "to_date",
                "{bad}"
            );
        }
    }
}
