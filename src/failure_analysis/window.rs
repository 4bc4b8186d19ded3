//! The analysed window (`docs/failure-analysis.md`, "Window"): local dates in an IANA zone
//! become UTC instants `[from 00:00, to+1 00:00)`, DST-correct (days start at
//! [`crate::time::local_midnight`]; dates and zones are parsed by [`crate::time`]).

use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, Utc};
use chrono_tz::Tz;

use super::model::Window;
use crate::error::Invalid;
use crate::time::{local_midnight, parse_date};

/// The request's `from_date` and `to_date`: both, or neither (`None`). A value that is wrong is
/// reported before one that is missing (`docs/failure-analysis.md`, "Window"): `from_date`
/// `2025-13-01` alone names `from_date` as not a date, not `to_date` as required.
///
/// Errors: a value that is not a date `YYYY-MM-DD` (its field); then one date without the
/// other (the missing one's field).
pub fn requested_dates(
    from: Option<&str>,
    to: Option<&str>,
) -> Result<Option<(NaiveDate, NaiveDate)>, Invalid> {
    let from = from.map(|v| parse_date(v, "from_date")).transpose()?;
    let to = to.map(|v| parse_date(v, "to_date")).transpose()?;
    match (from, to) {
        (Some(from), Some(to)) => Ok(Some((from, to))),
        (Some(_), None) => Err(Invalid::new(
            "to_date",
            "to_date is required with from_date",
        )),
        (None, Some(_)) => Err(Invalid::new(
            "from_date",
            "from_date is required with to_date",
        )),
        (None, None) => Ok(None),
    }
}

/// The window of whole local days `from ..= to` in `tz`.
///
/// Errors: `from_date` after `to_date` (field `from_date`); more than `max_days` days (field
/// `to_date`; `FAILURE_ANALYSIS_MAX_DAYS`, `docs/access-and-safety.md`, "Bounded for every
/// caller").
pub fn days_window(
    from: NaiveDate,
    to: NaiveDate,
    tz: Tz,
    max_days: i64,
) -> Result<Window, Invalid> {
    if from > to {
        return Err(Invalid::new(
            "from_date",
            format!("from_date {from} is after to_date {to}"),
        ));
    }
    let days = (to - from).num_days() + 1;
    if days > max_days {
        return Err(Invalid::new(
            "to_date",
            format!(
                "the window is {days} days; at most {max_days} are allowed \
                 (FAILURE_ANALYSIS_MAX_DAYS)"
            ),
        ));
    }
    Ok(Window {
        from_date: Some(from),
        to_date: Some(to),
        timezone: tz.name().to_string(),
        start_utc: local_midnight(from, tz),
        end_utc: local_midnight(to + Duration::days(1), tz),
    })
}

/// The window of the `START_DATE` / `END_DATE` settings: UTC timestamps, end inclusive to the
/// second, so the exclusive end is `END_DATE + 1 s`.
pub fn settings_window(
    start: NaiveDateTime,
    end: NaiveDateTime,
    max_days: i64,
) -> Result<Window, Invalid> {
    let (start_utc, end_utc) = (start.and_utc(), end.and_utc() + Duration::seconds(1));
    if start_utc >= end_utc {
        return Err(Invalid::new("START_DATE", "START_DATE is after END_DATE"));
    }
    if end_utc - start_utc > Duration::days(max_days) {
        return Err(Invalid::new(
            "END_DATE",
            format!("the window is longer than {max_days} days (FAILURE_ANALYSIS_MAX_DAYS)"),
        ));
    }
    Ok(Window {
        from_date: None,
        to_date: None,
        timezone: "UTC".into(),
        start_utc,
        end_utc,
    })
}

/// The local days of `w` in its time zone, in order: each day's date and the UTC instant it
/// starts at within the window (the first day starts at `start_utc`, which for a `START_DATE`
/// window may be after midnight). Day `i` lasts until the start of day `i + 1`, the last until
/// `end_utc` (`docs/insights.md`, "Failure analysis", `daily`).
pub fn days_of(w: &Window) -> Vec<(NaiveDate, DateTime<Utc>)> {
    // `timezone` is always a name `Tz::name` produced (see `days_window`, `settings_window`).
    let tz: Tz = w.timezone.parse().unwrap_or(Tz::UTC);
    let mut date = w.start_utc.with_timezone(&tz).date_naive();
    let mut days = vec![(date, w.start_utc)];
    loop {
        date += Duration::days(1);
        let start = local_midnight(date, tz);
        if start >= w.end_utc {
            return days;
        }
        days.push((date, start));
    }
}

/// One local day of an analysis: its date and its span `[start_utc, end_utc)` within the
/// window (the first and last days of a `START_DATE` window may be cut short).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Day {
    pub date: NaiveDate,
    pub start_utc: DateTime<Utc>,
    pub end_utc: DateTime<Utc>,
}

impl Day {
    /// Whether the span is the whole local day `date` in `tz` (midnight to midnight).
    pub fn is_whole(&self, tz: Tz) -> bool {
        self.start_utc == local_midnight(self.date, tz)
            && self.end_utc == local_midnight(self.date + Duration::days(1), tz)
    }
}

/// The days of `w` ([`days_of`]) with their ends: each ends where the next starts, the last at
/// `end_utc`.
pub fn spans_of(w: &Window) -> Vec<Day> {
    let days = days_of(w);
    let ends = days
        .iter()
        .skip(1)
        .map(|&(_, start)| start)
        .chain([w.end_utc]);
    days.iter()
        .zip(ends)
        .map(|(&(date, start_utc), end_utc)| Day {
            date,
            start_utc,
            end_utc,
        })
        .collect()
}

/// The window of equal length just before `w` (`compare_previous`): the same number of local
/// days ending the day before `from_date`, or for a `START_DATE` window the same span of time
/// ending at its start.
pub fn previous_window(w: &Window) -> Window {
    let tz: Tz = w.timezone.parse().unwrap_or(Tz::UTC);
    match (w.from_date, w.to_date) {
        (Some(from), Some(to)) => {
            let days = (to - from).num_days() + 1;
            let prev_from = from - Duration::days(days);
            Window {
                from_date: Some(prev_from),
                to_date: Some(from - Duration::days(1)),
                timezone: w.timezone.clone(),
                start_utc: local_midnight(prev_from, tz),
                end_utc: w.start_utc,
            }
        }
        _ => Window {
            from_date: None,
            to_date: None,
            timezone: w.timezone.clone(),
            start_utc: w.start_utc - (w.end_utc - w.start_utc),
            end_utc: w.start_utc,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    /// A `START_DATE`/`END_DATE` value, `YYYY-MM-DD HH:MM:SS`.
    fn t(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap()
    }

    /// [`days_of`] `w`, each day as its date and its start formatted with `format`.
    fn local_days(w: &Window, format: &str) -> Vec<String> {
        days_of(w)
            .iter()
            .map(|(date, start)| format!("{date} {}", start.format(format)))
            .collect()
    }

    #[test]
    fn a_kolkata_day_starts_at_18_30_utc_the_day_before() {
        let w = days_window(
            d("2025-05-21"),
            d("2025-05-22"),
            chrono_tz::Asia::Kolkata,
            366,
        )
        .unwrap();
        assert_eq!(w.start_utc.to_rfc3339(), "2025-05-20T18:30:00+00:00");
        assert_eq!(w.end_utc.to_rfc3339(), "2025-05-22T18:30:00+00:00");
    }

    #[test]
    fn dst_days_have_23_and_25_hours() {
        let chicago = chrono_tz::America::Chicago;
        let spring = days_window(d("2025-03-09"), d("2025-03-09"), chicago, 366).unwrap();
        assert_eq!((spring.end_utc - spring.start_utc).num_hours(), 23);
        let fall = days_window(d("2025-11-02"), d("2025-11-02"), chicago, 366).unwrap();
        assert_eq!((fall.end_utc - fall.start_utc).num_hours(), 25);
    }

    #[test]
    fn a_wrong_date_is_named_before_a_missing_one() {
        let field = |from, to| requested_dates(from, to).unwrap_err().field;
        assert_eq!(field(Some("2025-13-01"), None), "from_date");
        assert_eq!(field(None, Some("2025-13-01")), "to_date");
        assert_eq!(field(Some("2025-01-01"), Some("01/02/2025")), "to_date");
        assert_eq!(field(Some("2025-01-01"), None), "to_date");
        assert_eq!(field(None, Some("2025-01-01")), "from_date");
        assert_eq!(
            requested_dates(Some("2025-01-01"), Some("2025-01-02")).unwrap(),
            Some((d("2025-01-01"), d("2025-01-02")))
        );
        assert_eq!(requested_dates(None, None).unwrap(), None);
    }

    #[test]
    fn bad_windows_name_their_field() {
        let utc = chrono_tz::UTC;
        assert_eq!(
            days_window(d("2025-02-02"), d("2025-02-01"), utc, 366)
                .unwrap_err()
                .field,
            "from_date"
        );
        assert_eq!(
            days_window(d("2024-01-01"), d("2025-01-01"), utc, 366)
                .unwrap_err()
                .field,
            "to_date"
        );
        assert!(days_window(d("2024-01-01"), d("2024-12-31"), utc, 366).is_ok());
        // The default bound: 93 days pass, 94 name to_date and the setting.
        assert!(days_window(d("2025-01-01"), d("2025-04-03"), utc, 93).is_ok());
        let long = days_window(d("2025-01-01"), d("2025-04-04"), utc, 93).unwrap_err();
        assert_eq!(long.field, "to_date");
        assert!(
            long.message.contains("94 days") && long.message.contains("FAILURE_ANALYSIS_MAX_DAYS"),
            "{}",
            long.message
        );
    }

    #[test]
    fn days_of_a_window_across_spring_forward_are_local_days() {
        let chicago = chrono_tz::America::Chicago;
        let w = days_window(d("2025-03-08"), d("2025-03-10"), chicago, 366).unwrap();
        // CST is UTC-6 until 2025-03-09 02:00 local, CDT (UTC-5) after.
        assert_eq!(
            local_days(&w, "%H:%M"),
            ["2025-03-08 06:00", "2025-03-09 06:00", "2025-03-10 05:00"]
        );
    }

    #[test]
    fn days_of_a_settings_window_start_at_its_first_instant() {
        let w = settings_window(t("2025-05-20 18:30:00"), t("2025-05-22 18:29:59"), 366).unwrap();
        assert_eq!(
            local_days(&w, "%d %H:%M"),
            [
                "2025-05-20 20 18:30",
                "2025-05-21 21 00:00",
                "2025-05-22 22 00:00"
            ]
        );
    }

    #[test]
    fn the_previous_window_has_as_many_days_and_ends_where_the_window_starts() {
        let berlin = chrono_tz::Europe::Berlin;
        // 2025-10-26 has 25 hours in Berlin; the previous window 10-23..10-25 has 72.
        let w = days_window(d("2025-10-26"), d("2025-10-28"), berlin, 366).unwrap();
        let p = previous_window(&w);
        assert_eq!(
            (p.from_date, p.to_date),
            (Some(d("2025-10-23")), Some(d("2025-10-25")))
        );
        assert_eq!(p.end_utc, w.start_utc);
        assert_eq!(p.start_utc.to_rfc3339(), "2025-10-22T22:00:00+00:00");
        assert_eq!((w.end_utc - w.start_utc).num_hours(), 73);
        let s = settings_window(t("2025-05-20 18:30:00"), t("2025-05-22 18:29:59"), 366).unwrap();
        let sp = previous_window(&s);
        assert_eq!(sp.start_utc.to_rfc3339(), "2025-05-18T18:30:00+00:00");
        assert_eq!(sp.end_utc, s.start_utc);
    }

    #[test]
    fn spans_end_where_the_next_day_starts_and_only_whole_days_are_whole() {
        let chicago = chrono_tz::America::Chicago;
        let w = days_window(d("2025-03-08"), d("2025-03-09"), chicago, 366).unwrap();
        let spans = spans_of(&w);
        assert_eq!(spans.len(), 2);
        assert_eq!(spans[0].end_utc, spans[1].start_utc);
        assert_eq!(spans[1].end_utc, w.end_utc);
        assert_eq!((spans[1].end_utc - spans[1].start_utc).num_hours(), 23);
        assert!(spans.iter().all(|s| s.is_whole(chicago)));
        // A START_DATE window's first and last days are cut at its bounds.
        let s = settings_window(t("2025-05-20 18:30:00"), t("2025-05-22 18:29:59"), 366).unwrap();
        let whole: Vec<bool> = spans_of(&s).iter().map(|s| s.is_whole(Tz::UTC)).collect();
        assert_eq!(whole, [false, true, false]);
    }

    #[test]
    fn settings_window_is_end_inclusive_to_the_second() {
        let w = settings_window(t("2025-05-20 18:30:00"), t("2025-05-22 18:29:59"), 366).unwrap();
        assert_eq!((w.end_utc - w.start_utc).num_hours(), 48);
    }
}
