//! How a digest reads (`docs/delivery-and-access.md`, "How a digest reads"): the words every
//! channel (Teams, Slack, email; the webhook as `text` beside its machine keys) uses for a KPI's
//! number and a flagged change, so that they say the same thing the same way:
//!
//! * A number with its unit, a count whole and anything else with one decimal ([`value`]):
//!   `41`, `40.0 %`, `12.5 min`, `3.4 h`; the label, unit and precision are the KPI's one
//!   definition (`daily_report::kpi`, `render::format::Unit::in_text`).
//! * A change as a sentence ([`change`]): `Success rate 40.0 % — down 15.0 pp from the usual
//!   55.0 % (median of the 4 previous Wednesdays)`; a percentage moves in percentage points;
//!   the difference is that of the two numbers as written, so the sentence adds up.
//! * Whether it is good news ([`Tone`]), which a channel shows in words as well as colour.

use chrono::{Duration, NaiveDate};

use super::ChangeLine;
use crate::daily_report::changes::BASELINE_WEEKS;
use crate::daily_report::kpi::Kpi;

/// How a change reads to a person: the words, and whether it is good news.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sentence {
    /// `Success rate 40.0 % — down 15.0 pp from the usual 55.0 % (median of the 4 previous
    /// Wednesdays)`: plain text, our words and numbers only (a channel still escapes it for
    /// where it goes).
    pub text: String,
    pub tone: Tone,
}

/// Whether a flagged change is good news for the business, by its KPI's `up_is_good`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tone {
    Good,
    Bad,
    /// Neither (a KPI like `avg_minutes_per_call`), or not known.
    Neutral,
}

impl Tone {
    /// The tone of a change whose `good` is as `ChangeLine::good` (`None`: neutral).
    pub fn of(good: Option<bool>) -> Tone {
        match good {
            Some(true) => Tone::Good,
            Some(false) => Tone::Bad,
            None => Tone::Neutral,
        }
    }

    /// The word that tells good news from bad without colour: `Better`, `Worse`, or `""`
    /// for a neutral change (nothing to say).
    pub fn word(self) -> &'static str {
        match self {
            Tone::Good => "Better",
            Tone::Bad => "Worse",
            Tone::Neutral => "",
        }
    }
}

/// A KPI's number as a person reads it, in its unit and precision
/// (`render::format::Unit::in_text`): `41`, `1,234`, `40.0 %`, `12.5 min`, `3.4 h`.
pub fn value(kpi: Kpi, v: f64) -> String {
    kpi.unit().in_text(v)
}

/// A KPI's number before and after a revision, as a correction shows it: `50.0 % → 66.7 %`,
/// `4 → 6`; with 2 decimals (as the report stores it) when its own precision would write the
/// two the same: `0.13 h → 0.14 h`, not `0.1 h → 0.1 h`.
pub fn before_after(kpi: Kpi, before: f64, after: f64) -> String {
    let unit = kpi.unit();
    let decimals = if unit.text_round(before) == unit.text_round(after) {
        2
    } else {
        unit.text_decimals()
    };
    format!(
        "{} → {}",
        unit.in_text_to(before, decimals),
        unit.in_text_to(after, decimals)
    )
}

/// The sentence of the flagged change `c` of the report of `date`:
///
/// * `Success rate 40.0 % — down 15.0 pp from the usual 55.0 % (median of the 4 previous
///   Wednesdays)`, `Total calls 41 — down 14 from the usual 55 (median of the 4 previous
///   Wednesdays)`;
/// * with fewer baseline days, what they are: `(median of the 3 previous Wednesdays)`,
///   `(average of 2 of the 4 previous Wednesdays)`, `from 55.0 % the previous Wednesday`,
///   `from 55.0 % on Wednesday 2025-04-30`;
/// * without one, `Success rate 40.0 % — no earlier Wednesday to compare with`.
pub fn change(c: &ChangeLine, date: NaiveDate) -> Sentence {
    let kpi = c.kpi;
    let unit = kpi.unit();
    let label = kpi.label();
    let tone = Tone::of(c.good);
    let weekday = date.format("%A").to_string();
    let Some(v) = c.value else {
        return Sentence {
            text: format!("{label}: no number this day"),
            tone,
        };
    };
    let now = value(kpi, v);
    let Some(b) = c.baseline.filter(|_| !c.baseline_dates.is_empty()) else {
        return Sentence {
            text: format!("{label} {now} — no earlier {weekday} to compare with"),
            tone,
        };
    };
    let d = unit.text_round(v) - unit.text_round(b);
    let moved = if d > 0.0 {
        format!("up {} from", unit.difference_in_text(d))
    } else if d < 0.0 {
        format!("down {} from", unit.difference_in_text(d))
    } else {
        "the same as".to_string()
    };
    let usual = value(kpi, b);
    let text = match c.baseline_dates.as_slice() {
        [one] if *one == date - Duration::days(7) => {
            format!("{label} {now} — {moved} {usual} the previous {weekday}")
        }
        [one] => format!("{label} {now} — {moved} {usual} on {weekday} {one}"),
        dates => format!(
            "{label} {now} — {moved} the usual {usual} ({})",
            basis(date, dates, &weekday)
        ),
    };
    Sentence { text, tone }
}

/// What "the usual" is for 2 or more baseline `dates` of `date`: `median of the 4 previous
/// Wednesdays`, `median of the 3 previous Wednesdays` (the nearest 3), `median of 3 of the 4
/// previous Wednesdays`, `average of the 2 previous Wednesdays` (a median of two).
fn basis(date: NaiveDate, dates: &[NaiveDate], weekday: &str) -> String {
    let n = dates.len();
    let how = if n == 2 { "average" } else { "median" };
    let nearest = dates
        .iter()
        .zip(1..)
        .all(|(d, w)| *d == date - Duration::days(7 * w));
    if nearest {
        format!("{how} of the {n} previous {weekday}s")
    } else {
        format!("{how} of {n} of the {BASELINE_WEEKS} previous {weekday}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::daily_report::changes::{Flag, baseline_candidates};

    fn wednesday() -> NaiveDate {
        NaiveDate::from_ymd_opt(2025, 5, 21).unwrap()
    }

    fn line(kpi: Kpi, value: f64, baseline: f64, dates: Vec<NaiveDate>) -> ChangeLine {
        ChangeLine {
            kpi,
            value: Some(value),
            baseline: Some(baseline),
            delta: Some(value - baseline),
            flag: if value > baseline {
                Flag::Up
            } else {
                Flag::Down
            },
            good: kpi.def().up_is_good.map(|up| up == (value > baseline)),
            baseline_dates: dates,
        }
    }

    /// The two sentences of issue 20: a percentage moves in points with one decimal, a count
    /// is whole.
    #[test]
    fn the_issues_two_sentences() {
        let all = baseline_candidates(wednesday());
        let rate = change(
            &line(Kpi::SuccessRate, 40.0, 55.0, all.clone()),
            wednesday(),
        );
        assert_eq!(
            rate.text,
            "Success rate 40.0 % — down 15.0 pp from the usual 55.0 % (median of the 4 previous Wednesdays)"
        );
        assert_eq!(rate.tone, Tone::Bad);
        let calls = change(&line(Kpi::TotalCalls, 41.0, 55.0, all), wednesday());
        assert_eq!(
            calls.text,
            "Total calls 41 — down 14 from the usual 55 (median of the 4 previous Wednesdays)"
        );
        assert_eq!(calls.tone, Tone::Bad);
        assert_eq!(calls.tone.word(), "Worse");
    }

    /// Fewer baseline days are named as they are: the nearest ones, some of the four, one.
    #[test]
    fn fewer_baseline_days_are_worded_as_they_are() {
        let [w1, w2, w3, w4] = baseline_candidates(wednesday()).try_into().unwrap();
        let said = |dates: Vec<NaiveDate>| {
            change(&line(Kpi::TotalCalls, 80.0, 55.0, dates), wednesday()).text
        };
        assert_eq!(
            said(vec![w1, w2, w3]),
            "Total calls 80 — up 25 from the usual 55 (median of the 3 previous Wednesdays)"
        );
        assert_eq!(
            said(vec![w1, w3, w4]),
            "Total calls 80 — up 25 from the usual 55 (median of 3 of the 4 previous Wednesdays)"
        );
        assert_eq!(
            said(vec![w1, w2]),
            "Total calls 80 — up 25 from the usual 55 (average of the 2 previous Wednesdays)"
        );
        assert_eq!(
            said(vec![w1]),
            "Total calls 80 — up 25 from 55 the previous Wednesday"
        );
        assert_eq!(
            said(vec![w3]),
            "Total calls 80 — up 25 from 55 on Wednesday 2025-04-30"
        );
        assert_eq!(
            said(vec![]),
            "Total calls 80 — no earlier Wednesday to compare with"
        );
    }

    /// The difference is that of the numbers as written (40.04 − 55.06 reads 40.0 and 55.1,
    /// so 15.1 pp); a move that rounds away reads "the same as"; good news is told in words.
    #[test]
    fn the_sentence_adds_up_and_tells_good_from_bad() {
        let all = baseline_candidates(wednesday());
        let s = change(
            &line(Kpi::SuccessRate, 40.04, 55.06, all.clone()),
            wednesday(),
        );
        assert!(
            s.text
                .contains("40.0 % — down 15.1 pp from the usual 55.1 %"),
            "{}",
            s.text
        );
        let s = change(
            &line(Kpi::SuccessRate, 55.02, 55.0, all.clone()),
            wednesday(),
        );
        assert!(
            s.text.contains("55.0 % — the same as the usual 55.0 %"),
            "{}",
            s.text
        );
        let up = change(
            &line(Kpi::SuccessRate, 70.0, 55.0, all.clone()),
            wednesday(),
        );
        assert_eq!((up.tone, up.tone.word()), (Tone::Good, "Better"));
        let longer = change(&line(Kpi::AvgMinutesPerCall, 4.25, 3.0, all), wednesday());
        assert_eq!(
            longer.text,
            "Avg minutes per call 4.3 min — up 1.3 min from the usual 3.0 min (median of the 4 previous Wednesdays)"
        );
        assert_eq!((longer.tone, longer.tone.word()), (Tone::Neutral, ""));
    }

    #[test]
    fn values_in_their_units() {
        assert_eq!(value(Kpi::TotalCalls, 1234.0), "1,234");
        assert_eq!(value(Kpi::SuccessRate, 62.5), "62.5 %");
        assert_eq!(value(Kpi::AvgMinutesPerCall, 12.46), "12.5 min");
        assert_eq!(value(Kpi::TotalDurationHours, 3.44), "3.4 h");
    }

    /// A correction's numbers differ as written, even when its precision would hide it.
    #[test]
    fn before_and_after_differ_as_written() {
        assert_eq!(
            before_after(Kpi::SuccessRate, 50.0, 66.67),
            "50.0 % → 66.7 %"
        );
        assert_eq!(before_after(Kpi::TotalCalls, 4.0, 6.0), "4 → 6");
        assert_eq!(
            before_after(Kpi::TotalDurationHours, 0.13, 0.14),
            "0.13 h → 0.14 h"
        );
        assert_eq!(
            before_after(Kpi::TotalDurationHours, 0.13, 0.2),
            "0.1 h → 0.2 h"
        );
    }
}
