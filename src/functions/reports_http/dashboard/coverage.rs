//! The page's header and empty state: the period, which of its days have a report, and the
//! backfill request for the ones that do not.

use chrono::NaiveDate;

use super::{Coverage, Day};
use crate::orgs::Organization;
use crate::render::format::{long_date, plural, thousands};

/// Missing dates (or ranges of them) listed by name in the header; the rest are counted.
const MISSING_LISTED: usize = 8;

pub(super) fn period_text(series: &[Day<'_>]) -> String {
    match (series.first(), series.last()) {
        (Some(first), Some(last)) if first.date == last.date => long_date(first.date),
        (Some(first), Some(last)) => format!(
            "{} to {} ({})",
            first.date,
            last.date,
            plural(series.len(), "day", "days")
        ),
        _ => "no dates".to_string(),
    }
}

/// Runs of consecutive dates without a report, as `(first, last)`.
fn missing_ranges(series: &[Day<'_>]) -> Vec<(NaiveDate, NaiveDate)> {
    let mut ranges: Vec<(NaiveDate, NaiveDate)> = Vec::new();
    for d in series.iter().filter(|d| d.report.is_none()) {
        match ranges.last_mut() {
            Some((_, last)) if last.succ_opt() == Some(d.date) => *last = d.date,
            _ => ranges.push((d.date, d.date)),
        }
    }
    ranges
}

/// `27 of 30 days have a report`, and which are missing.
pub(super) fn summary(series: &[Day<'_>], reported: usize) -> Coverage {
    let total = series.len();
    let headline = format!(
        "{} of {} {} a report",
        thousands(reported),
        plural(total, "day", "days"),
        if total == 1 { "has" } else { "have" }
    );
    let partial = reported != total;
    if !partial || reported == 0 {
        return Coverage {
            partial,
            headline,
            missing: None,
        };
    }
    let ranges = missing_ranges(series);
    let mut listed: Vec<String> = ranges
        .iter()
        .take(MISSING_LISTED)
        .map(|&(a, b)| {
            if a == b {
                a.to_string()
            } else {
                format!("{a} to {b}")
            }
        })
        .collect();
    if ranges.len() > MISSING_LISTED {
        let rest: usize = ranges[MISSING_LISTED..]
            .iter()
            .map(|(a, b)| (*b - *a).num_days() as usize + 1)
            .sum();
        listed.push(format!("and {} more", plural(rest, "day", "days")));
    }
    Coverage {
        partial,
        headline,
        missing: Some(listed.join(", ")),
    }
}

/// The request body that backfills the period (placeholders without dates).
pub(super) fn backfill_body(org: &Organization, series: &[Day<'_>]) -> String {
    let (from, to) = match (series.first(), series.last()) {
        (Some(first), Some(last)) => (first.date.to_string(), last.date.to_string()),
        _ => ("YYYY-MM-DD".to_string(), "YYYY-MM-DD".to_string()),
    };
    format!(
        "{{\n  \"org_id\": {},\n  \"from\": \"{from}\",\n  \"to\": \"{to}\"\n}}",
        serde_json::Value::from(org.org_id.as_str())
    )
}
