//! The page's navigation (`docs/http-api.md`, "The dashboard"): the previous and next day,
//! the 7/30/90-day periods, the org switcher and the CSV of the period, all plain relative
//! links to this route (no script, no form: the pages' CSP allows no form submission).

use chrono::NaiveDate;

use super::breakdowns::QUERY_VALUE;
use super::{DayLink, NavLinks, OrgLink, PeriodLink};
use crate::orgs::Organization;
use crate::render::format::long_date;

/// The periods the page links to, in days (the trend route's `7d`, `30d`, `90d`).
pub(super) const PERIODS: [i64; 3] = [7, 30, 90];

/// Where the page is, as its request and the org's stored reports say.
#[derive(Debug, Clone, Copy)]
pub struct Nav<'a> {
    /// `days=`: the period's length, 1-90.
    pub days: i64,
    /// `date=` as asked; `None`: the period ends yesterday and the page shows its latest report.
    pub date: Option<NaiveDate>,
    /// The org's oldest and newest stored report dates (any period); `None` without reports.
    pub stored: Option<(NaiveDate, NaiveDate)>,
    /// The orgs the caller may see, the page's among them, for the switcher (shown when there
    /// are several).
    pub orgs: &'a [Organization],
}

/// A relative link (from `/api/dashboard`) to the dashboard of `org_id` over `days` days,
/// ending at `date` (`None`: yesterday), as `format` (`None`: the page); values
/// percent-encoded.
pub(super) fn href(
    org_id: &str,
    days: i64,
    date: Option<NaiveDate>,
    format: Option<&str>,
) -> String {
    let mut out = format!(
        "dashboard?org_id={}&days={days}",
        percent_encoding::utf8_percent_encode(org_id, QUERY_VALUE)
    );
    if let Some(date) = date {
        out.push_str(&format!("&date={date}"));
    }
    if let Some(format) = format {
        out.push_str(&format!("&format={format}"));
    }
    out
}

/// The links of a page of `org` over the period ending `to`, whose shown day is `day`
/// (`date=`, or the period's latest report, or its last day when it has none).
pub(super) fn links(org: &Organization, nav: &Nav<'_>, day: NaiveDate, to: NaiveDate) -> NavLinks {
    let id = org.org_id.as_str();
    let day_link = |date: NaiveDate| DayLink {
        href: href(id, nav.days, Some(date), None),
        date: long_date(date),
    };
    // A neighbour is linked only when some stored report lies that way.
    let previous = day
        .pred_opt()
        .filter(|_| nav.stored.is_some_and(|(oldest, _)| oldest < day))
        .map(day_link);
    let next = day
        .succ_opt()
        .filter(|_| nav.stored.is_some_and(|(_, newest)| newest > day))
        .map(day_link);
    let mut orgs: Vec<OrgLink> = nav
        .orgs
        .iter()
        .map(|o| OrgLink {
            name: o.name.clone(),
            href: href(o.org_id.as_str(), nav.days, nav.date, None),
            current: o.org_id == org.org_id,
        })
        .collect();
    orgs.sort_by_cached_key(|o| (o.name.to_lowercase(), o.href.clone()));
    if orgs.len() < 2 {
        orgs.clear();
    }
    NavLinks {
        day: long_date(day),
        previous,
        next,
        latest: nav.date.map(|_| href(id, nav.days, None, None)),
        periods: PERIODS
            .iter()
            .map(|&days| PeriodLink {
                days,
                href: href(id, days, nav.date, None),
                current: days == nav.days,
            })
            .collect(),
        orgs,
        csv_href: href(id, nav.days, Some(to), Some("csv")),
    }
}
