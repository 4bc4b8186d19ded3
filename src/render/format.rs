//! Number, percent and date formats of the pages: one function per way a value is shown.

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;

use crate::stats::round2;

/// An integer with thousands separators: `1234567` → `1,234,567`, `-1000` → `-1,000`.
pub fn thousands(n: impl ToString) -> String {
    let s = n.to_string();
    let (sign, digits) = s.strip_prefix('-').map_or(("", s.as_str()), |d| ("-", d));
    let mut out = String::with_capacity(s.len() + digits.len() / 3);
    out.push_str(sign);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `n` and the word for it: `1 day`, `3 days`, `1,200 days`.
pub fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{} {}", thousands(n), if n == 1 { one } else { many })
}

/// What a number counts, which decides how it is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Count,
    Hours,
    Minutes,
    /// Already in percent (`15.17` is 15.17%).
    Percent,
}

impl Unit {
    /// The number without its unit: `1,234` for counts, 2 decimals otherwise (`10.23`).
    pub fn number(self, v: f64) -> String {
        match self {
            Unit::Count => thousands(v.max(0.0).round() as u64),
            _ => format!("{:.2}", round2(v)),
        }
    }

    /// What follows the number in text: `""`, `" h"`, `" min"`, `"%"`.
    pub fn suffix(self) -> &'static str {
        match self {
            Unit::Count => "",
            Unit::Hours => " h",
            Unit::Minutes => " min",
            Unit::Percent => "%",
        }
    }

    /// The number with its unit, as plain text: `15.17%`, `2.26 min`, `304`.
    pub fn with_unit(self, v: f64) -> String {
        format!("{}{}", self.number(v), self.suffix())
    }

    /// Decimals of a number in a sentence (the digests, `docs/delivery-and-access.md`, "How a
    /// digest reads"): none for a count, one otherwise.
    pub fn text_decimals(self) -> usize {
        match self {
            Unit::Count => 0,
            Unit::Hours | Unit::Minutes | Unit::Percent => 1,
        }
    }

    /// `v` rounded to [`Unit::text_decimals`], so that numbers written in a sentence add up.
    pub fn text_round(self, v: f64) -> f64 {
        round_to(v, self.text_decimals())
    }

    /// The number with its unit as a sentence writes it: a count whole with thousands
    /// separators, anything else with [`Unit::text_decimals`] and a space before its unit:
    /// `1,234`, `40.0 %`, `12.5 min`, `3.4 h`.
    pub fn in_text(self, v: f64) -> String {
        self.in_text_to(v, self.text_decimals())
    }

    /// [`Unit::in_text`] with `decimals` decimals (a count stays whole): `0.13 h`.
    pub fn in_text_to(self, v: f64, decimals: usize) -> String {
        format!(
            "{}{}",
            self.text_number(v, decimals),
            self.text_suffix(" %")
        )
    }

    /// The size of a difference of two of its numbers (no sign), written like
    /// [`Unit::in_text`] but in percentage points for a percent: `15.0 pp`, `14`, `1.1 min`.
    pub fn difference_in_text(self, d: f64) -> String {
        format!(
            "{}{}",
            self.text_number(d.abs(), self.text_decimals()),
            self.text_suffix(" pp")
        )
    }

    fn text_number(self, v: f64, decimals: usize) -> String {
        match self {
            Unit::Count => thousands(v.round() as i64),
            _ => format!("{:.decimals$}", round_to(v, decimals)),
        }
    }

    fn text_suffix(self, percent: &'static str) -> &'static str {
        match self {
            Unit::Percent => percent,
            other => other.suffix(),
        }
    }

    /// An axis label for `v` on an axis of `step`: as many decimals as the step needs
    /// (`2.5%`, `10`, `1,200`).
    pub fn tick_label(self, v: f64, step: f64) -> String {
        let text = if self == Unit::Count {
            thousands(v.round() as u64)
        } else if step.fract() == 0.0 {
            format!("{v:.0}")
        } else if (step * 10.0).fract().abs() < 1e-9 {
            format!("{v:.1}")
        } else {
            format!("{v:.2}")
        };
        if self == Unit::Percent {
            format!("{text}%")
        } else {
            text
        }
    }
}

/// `v` rounded half away from zero to `decimals` decimals (`{:.1}` alone rounds a tie to
/// even: 4.25 would read 4.2).
fn round_to(v: f64, decimals: usize) -> f64 {
    let scale = 10f64.powi(decimals as i32);
    (v * scale).round() / scale
}

/// A rate interval (0.0–1.0 each end) as percents with at most one decimal: `82.1–100 %`.
pub fn percent_interval(lower: f64, upper: f64) -> String {
    fn one(r: f64) -> String {
        let t = format!("{:.1}", (r * 100.0).clamp(0.0, 100.0));
        t.strip_suffix(".0").map(str::to_owned).unwrap_or(t)
    }
    format!("{}\u{2013}{} %", one(lower), one(upper))
}

/// `Mon 2025-12-15`.
pub fn long_date(d: NaiveDate) -> String {
    d.format("%a %Y-%m-%d").to_string()
}

/// `Dec 15`.
pub fn short_date(d: NaiveDate) -> String {
    d.format("%b %-d").to_string()
}

/// `2025-05-23 04:00:12 UTC`.
pub fn utc_seconds(t: &DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// `2025-12-16 12:00 UTC (2025-12-16 06:00 local)`: an instant in UTC and in `tz`.
pub fn utc_and_local(t: DateTime<Utc>, tz: Tz) -> String {
    format!(
        "{} UTC ({} local)",
        t.format("%Y-%m-%d %H:%M"),
        t.with_timezone(&tz).format("%Y-%m-%d %H:%M")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_intervals() {
        assert_eq!(percent_interval(0.821_4, 1.0), "82.1\u{2013}100 %");
        assert_eq!(percent_interval(0.0, 0.209_6), "0\u{2013}21 %");
        assert_eq!(percent_interval(0.123_45, 0.5), "12.3\u{2013}50 %");
    }

    #[test]
    fn thousands_are_grouped() {
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(thousands(-1000), "-1,000");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(0u64), "0");
        assert_eq!(thousands(-12), "-12");
    }

    #[test]
    fn numbers_carry_their_unit() {
        assert_eq!(Unit::Percent.with_unit(15.166_666), "15.17%");
        assert_eq!(Unit::Minutes.with_unit(2.255), "2.26 min");
        assert_eq!(Unit::Hours.with_unit(-0.001), "0.00 h");
        assert_eq!(Unit::Count.with_unit(1234.4), "1,234");
        assert_eq!(Unit::Count.number(-3.0), "0");
        assert_eq!(plural(1, "day", "days"), "1 day");
        assert_eq!(plural(1200, "day", "days"), "1,200 days");
    }

    #[test]
    fn numbers_in_a_sentence() {
        assert_eq!(Unit::Percent.in_text(40.0), "40.0 %");
        assert_eq!(Unit::Percent.in_text(62.5), "62.5 %");
        assert_eq!(Unit::Count.in_text(1234.0), "1,234");
        assert_eq!(Unit::Minutes.in_text(2.26), "2.3 min");
        assert_eq!(Unit::Hours.in_text(1.67), "1.7 h");
        assert_eq!(Unit::Percent.difference_in_text(-15.0), "15.0 pp");
        assert_eq!(Unit::Count.difference_in_text(-14.0), "14");
        assert_eq!(Unit::Minutes.difference_in_text(1.06), "1.1 min");
        assert_eq!(Unit::Percent.text_round(40.04), 40.0);
        assert_eq!(Unit::Hours.in_text_to(0.13, 2), "0.13 h");
        assert_eq!(Unit::Count.in_text_to(-3.0, 2), "-3");
        assert_eq!(Unit::Minutes.in_text(4.25), "4.3 min");
    }

    #[test]
    fn tick_labels_have_the_decimals_the_step_needs() {
        assert_eq!(Unit::Percent.tick_label(2.5, 2.5), "2.5%");
        assert_eq!(Unit::Count.tick_label(1200.0, 400.0), "1,200");
        assert_eq!(Unit::Minutes.tick_label(0.75, 0.25), "0.75");
        assert_eq!(Unit::Percent.tick_label(20.0, 5.0), "20%");
    }

    #[test]
    fn dates_and_instants() {
        let d: NaiveDate = "2025-12-15".parse().unwrap();
        assert_eq!(long_date(d), "Mon 2025-12-15");
        assert_eq!(short_date(d), "Dec 15");
        let t: DateTime<Utc> = "2025-12-16T12:00:00Z".parse().unwrap();
        assert_eq!(utc_seconds(&t), "2025-12-16 12:00:00 UTC");
        assert_eq!(
            utc_and_local(t, chrono_tz::America::Chicago),
            "2025-12-16 12:00 UTC (2025-12-16 06:00 local)"
        );
    }
}
