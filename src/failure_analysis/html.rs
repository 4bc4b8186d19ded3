//! The HTML report artifact, `user_failure_rates_YYYYMMDD_HHMMSS.html`
//! (`docs/failure-analysis.md`, "Outputs").
//!
//! The page is the askama template `templates/failure_report.html` (on the shared
//! `templates/base.html`); this module turns an [`Analysis`] into its view-model: formatted
//! numbers, the histogram's geometry from [`crate::render::chart`], and the bucket lists the
//! page's script shows, embedded as JSON. The template escapes everything it prints.

use askama::Template;
use serde::Serialize;

use super::model::{Analysis, Bucket, DailyPoint, RankBy, RankedUser, Window, percent};
use crate::render::chart::{
    self, Dot, EdgeLabel, Frame, Gridline, HistogramBar, Px, Scale, Slots, Ticks,
};
use crate::render::format::{
    Unit, long_date, percent_interval, short_date, thousands, utc_seconds,
};
use crate::render::page;

/// Users listed per bucket in the hover panel (and embedded in the page); the panel ends with
/// "and N more" for the rest.
pub const BUCKET_LIST_LIMIT: usize = 50;

/// Renders `a` as one self-contained HTML page that works offline (no external URL of any kind:
/// inline CSS, inline vanilla JS, inline SVG).
///
/// Content: the title "User failure rates"; the window as asked (dates and time zone) and as
/// UTC instants; the generation time (UTC); the summary statistics (users, sessions, failures,
/// overall rate, and average/median/maximum/minimum/std deviation of the per-user rates as
/// percents with two decimals); the failure-rate histogram (one bar per `a.histogram` bucket,
/// height = users) where hovering, focusing or tapping a bar lists that bucket's users (name,
/// rate, failed/total; at most [`BUCKET_LIST_LIMIT`], then "and N more") in a scrollable panel;
/// and the top users table (`a.top_users`: rank, user, failure rate, failed/total).
/// Opening the page with `#bucket=K` (0-based) shows bucket K's panel straight away.
///
/// The page works without the script too, except the bucket panel. The bucket lists are
/// embedded as JSON in `<script type="application/json" id="data">`, with `<`, `>`, `&` and
/// `'` written as `\u003c`, `\u003e`, `\u0026`, `\u0027` so no user data can close the
/// element; all other user data is HTML-escaped. With zero users the page shows "No sessions
/// in this window" instead of the statistics, the chart and the table.
pub fn to_html(a: &Analysis) -> String {
    page(&ReportPage {
        window_asked: window_asked(&a.window),
        window_utc: window_utc(&a.window),
        generated_at: utc_seconds(&a.generated_at),
        window_start: utc_seconds(&a.window.start_utc),
        window_end: utc_seconds(&a.window.end_utc),
        report: (a.summary.total_users > 0).then(|| report(a)),
        data: page_data(a),
    })
}

/// `templates/failure_report.html`.
#[derive(Template)]
#[template(path = "failure_report.html")]
struct ReportPage<'a> {
    window_asked: String,
    window_utc: String,
    generated_at: String,
    window_start: String,
    window_end: String,
    /// `None`: no user in the window, the page shows its empty state.
    report: Option<Report<'a>>,
    data: PageData<'a>,
}

struct Report<'a> {
    totals: [Stat; 4],
    rates: [Stat; 5],
    histogram: HistogramView,
    top: TopUsers<'a>,
    daily: Option<DailyView>,
}

/// A labelled, formatted value, with an optional line under it (the overall rate's interval
/// and previous window).
struct Stat {
    label: &'static str,
    value: String,
    notes: Vec<String>,
}

struct HistogramView {
    description: String,
    geometry: chart::Histogram,
    bars: Vec<BarView>,
}

struct BarView {
    /// `20-30%: 5 users`, the bar's accessible name and hover text.
    label: String,
    count: usize,
    geometry: HistogramBar,
}

struct TopUsers<'a> {
    /// Follows the hint: ` Users with at least N sessions.`, or empty.
    qualifier: String,
    min_sessions: String,
    /// Whether the rows carry the previous window's rate (`compare_previous`).
    compare: bool,
    /// The initial order (`options.rank_by`) first, then the other one; both are in the
    /// page, the switch shows one.
    orders: [Order<'a>; 2],
}

impl TopUsers<'_> {
    fn is_empty(&self) -> bool {
        self.orders.iter().all(|o| o.rows.is_empty())
    }
}

/// One order of the top users.
struct Order<'a> {
    /// `failure_rate` or `lower_bound`.
    key: &'static str,
    /// The switch's button text.
    label: &'static str,
    hint: &'static str,
    rows: Vec<TopRow<'a>>,
}

struct TopRow<'a> {
    rank: usize,
    name: &'a str,
    /// The meter's width, a whole percent.
    meter_percent: f64,
    /// The 95 % interval's whisker on the meter: left edge and width, in percent of the meter.
    ci_left: String,
    ci_width: String,
    /// `82.1–100 %`.
    interval: String,
    rate: &'a str,
    failed: String,
    total: String,
    /// With `compare_previous`: the previous window's rate (`—` without sessions there) and
    /// its failed / total.
    previous: Option<(String, String)>,
    /// `▲`/`▼` when the change is significant, else empty.
    change: &'static str,
}

/// The `daily` series as a line over the days.
struct DailyView {
    view_box: String,
    description: String,
    gridlines: Vec<Gridline>,
    path: Option<String>,
    /// One per day with sessions, with its hover text.
    dots: Vec<(Dot, String)>,
    x_labels: Vec<(EdgeLabel, String)>,
    x_label_y: Px,
    /// The text fallback: date, rate, failed / total.
    rows: Vec<(String, String, String)>,
}

// ---------------------------------------------------------------------------------------------
// Header

fn window_asked(w: &Window) -> String {
    match (w.from_date, w.to_date) {
        (Some(f), Some(t)) if f == t => format!("{f} ({})", w.timezone),
        (Some(f), Some(t)) => format!("{f} to {t} ({})", w.timezone),
        (Some(f), None) => format!("from {f} ({})", w.timezone),
        (None, Some(t)) => format!("until {t} ({})", w.timezone),
        (None, None) => "configured period (START_DATE to END_DATE)".to_owned(),
    }
}

fn window_utc(w: &Window) -> String {
    format!(
        "{} to {} (end exclusive)",
        utc_seconds(&w.start_utc),
        utc_seconds(&w.end_utc)
    )
}

// ---------------------------------------------------------------------------------------------
// Content

fn report(a: &Analysis) -> Report<'_> {
    let s = &a.summary;
    let stat = |label, value| Stat {
        label,
        value,
        notes: vec![],
    };
    let mut overall = stat("Overall failure rate", percent(s.overall_failure_rate));
    overall.notes.push(format!(
        "95 % interval {}",
        percent_interval(s.failure_rate_lower, s.failure_rate_upper)
    ));
    if let Some(p) = &s.previous {
        overall.notes.push(format!(
            "Previous window {}: {} of {} sessions failed, {}",
            window_asked(&p.window),
            thousands(p.total_failures),
            thousands(p.total_sessions),
            percent(p.overall_failure_rate)
        ));
    }
    Report {
        totals: [
            stat("Users", thousands(s.total_users)),
            stat("Sessions", thousands(s.total_sessions)),
            stat("Failures", thousands(s.total_failures)),
            overall,
        ],
        rates: [
            stat("Average", percent(s.average)),
            stat("Median", percent(s.median)),
            stat("Maximum", percent(s.maximum)),
            stat("Minimum", percent(s.minimum)),
            stat("Std deviation", percent(s.std_deviation)),
        ],
        histogram: histogram(&a.histogram),
        top: top_users(a),
        daily: daily(&a.daily),
    }
}

/// The histogram's viewBox and margins.
const FRAME: Frame = Frame {
    width: 520.0,
    height: 340.0,
    left: 52.0,
    right: 26.0,
    top: 30.0,
    bottom: 56.0,
};

fn users_word(n: usize) -> &'static str {
    if n == 1 { "user" } else { "users" }
}

fn histogram(buckets: &[Bucket]) -> HistogramView {
    let counts: Vec<usize> = buckets.iter().map(|b| b.count).collect();
    let geometry = chart::histogram(FRAME, &counts);
    let total: usize = counts.iter().sum();
    let description = format!(
        "Bar chart of {total} {} by failure-rate range: {}.",
        users_word(total),
        buckets
            .iter()
            .map(|b| format!("{} {}", b.label, b.count))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let bars = buckets
        .iter()
        .zip(&geometry.bars)
        .map(|(b, g)| BarView {
            label: format!("{}: {} {}", b.label, b.count, users_word(b.count)),
            count: b.count,
            geometry: *g,
        })
        .collect();
    HistogramView {
        description,
        geometry,
        bars,
    }
}

fn top_users(a: &Analysis) -> TopUsers<'_> {
    let min = a.options.min_sessions;
    TopUsers {
        qualifier: if min > 1 {
            format!(" Users with at least {} sessions.", thousands(min))
        } else {
            String::new()
        },
        min_sessions: thousands(min),
        compare: a.options.compare_previous,
        orders: {
            let order = |by: RankBy| {
                // `top_users` is the list of `rank_by`; the other comes from `rankings`.
                let list = match by {
                    _ if by == a.options.rank_by => &a.top_users,
                    RankBy::FailureRate => &a.rankings.failure_rate,
                    RankBy::LowerBound => &a.rankings.lower_bound,
                };
                let (label, hint) = match by {
                    RankBy::FailureRate => (
                        "By failure rate",
                        "Highest failure rate first, then most failures.",
                    ),
                    RankBy::LowerBound => (
                        "By lower bound (surest first)",
                        "Highest lower end of the 95 % interval first: a high rate on many \
                         sessions before the same rate on a few.",
                    ),
                };
                Order {
                    key: by.as_str(),
                    label,
                    hint,
                    rows: list.iter().map(top_row).collect(),
                }
            };
            let other = match a.options.rank_by {
                RankBy::FailureRate => RankBy::LowerBound,
                RankBy::LowerBound => RankBy::FailureRate,
            };
            [order(a.options.rank_by), order(other)]
        },
    }
}

/// A percent of the meter with one decimal.
fn meter(rate: f64) -> String {
    format!("{:.1}", rate.clamp(0.0, 1.0) * 100.0)
}

fn top_row(r: &RankedUser) -> TopRow<'_> {
    let u = &r.user;
    let (lo, hi) = (
        u.failure_rate_lower,
        u.failure_rate_upper.max(u.failure_rate_lower),
    );
    let c = u.comparison.as_ref();
    let previous = c.map(|c| match &c.previous {
        Some(p) => (
            percent(p.failure_rate),
            format!(
                "{} / {}",
                thousands(p.failed_sessions),
                thousands(p.total_sessions)
            ),
        ),
        None => ("\u{2014}".to_owned(), "no sessions".to_owned()),
    });
    let change = match c {
        Some(c) if c.change_significant => match &c.previous {
            Some(p) if p.failure_rate > u.failure_rate => "\u{25bc}",
            _ => "\u{25b2}",
        },
        _ => "",
    };
    TopRow {
        rank: r.rank,
        name: &u.user_name,
        meter_percent: (u.failure_rate.clamp(0.0, 1.0) * 100.0).round(),
        ci_left: meter(lo),
        ci_width: format!("{:.1}", (hi.clamp(0.0, 1.0) - lo.clamp(0.0, 1.0)) * 100.0),
        interval: percent_interval(lo, hi),
        rate: &u.failure_rate_percent,
        failed: thousands(u.failed_sessions),
        total: thousands(u.total_sessions),
        previous,
        change,
    }
}

/// The daily line's viewBox and margins.
const DAILY_FRAME: Frame = Frame {
    width: 520.0,
    height: 200.0,
    left: 46.0,
    right: 14.0,
    top: 14.0,
    bottom: 28.0,
};

/// The `daily` series as a line of failure rates (percent) over the days; days without
/// sessions are gaps. `None` without any day.
fn daily(days: &[DailyPoint]) -> Option<DailyView> {
    if days.is_empty() {
        return None;
    }
    let value = |d: &DailyPoint| (d.total_sessions > 0).then_some(d.failure_rate * 100.0);
    let values: Vec<Option<f64>> = days.iter().map(value).collect();
    let max = values.iter().flatten().copied().fold(0.0, f64::max);
    let scale = Scale::nice(max, false, Ticks::FOUR);
    let slots = Slots::new(DAILY_FRAME, days.len(), scale);
    let line = slots.line(&values);
    let hover = |d: &DailyPoint| {
        format!(
            "{}: {} ({} of {} sessions failed)",
            long_date(d.date),
            percent(d.failure_rate),
            thousands(d.failed_sessions),
            thousands(d.total_sessions)
        )
    };
    // `line.dots` has one dot per day with a value, in order.
    let dots = days
        .iter()
        .filter(|d| value(d).is_some())
        .zip(line.dots)
        .map(|(d, dot)| (dot, hover(d)))
        .collect();
    let without = values.iter().filter(|v| v.is_none()).count();
    Some(DailyView {
        view_box: DAILY_FRAME.view_box(),
        description: format!(
            "Line of the daily failure rate over {} {}, from {} to {}{}.",
            days.len(),
            if days.len() == 1 { "day" } else { "days" },
            days[0].date,
            days[days.len() - 1].date,
            if without > 0 {
                format!("; {without} without sessions (gaps)")
            } else {
                String::new()
            }
        ),
        gridlines: slots.gridlines(6.0, |v| Unit::Percent.tick_label(v, scale.step)),
        path: line.path,
        dots,
        x_labels: slots
            .edge_labels()
            .into_iter()
            .map(|l| (l, short_date(days[l.index].date)))
            .collect(),
        x_label_y: Px(DAILY_FRAME.height - 8.0),
        rows: days
            .iter()
            .map(|d| {
                (
                    long_date(d.date),
                    if d.total_sessions > 0 {
                        percent(d.failure_rate)
                    } else {
                        "no sessions".to_owned()
                    },
                    format!(
                        "{} / {}",
                        thousands(d.failed_sessions),
                        thousands(d.total_sessions)
                    ),
                )
            })
            .collect(),
    })
}

// ---------------------------------------------------------------------------------------------
// Embedded data for the bucket panel

#[derive(Serialize)]
struct PageData<'a> {
    buckets: Vec<PageBucket<'a>>,
}

#[derive(Serialize)]
struct PageBucket<'a> {
    label: &'a str,
    count: usize,
    /// At most `BUCKET_LIST_LIMIT`; the panel shows `count - users.len()` as "and N more".
    users: Vec<PageUser<'a>>,
}

#[derive(Serialize)]
struct PageUser<'a> {
    name: &'a str,
    rate: String,
    failed: i64,
    total: i64,
}

fn page_data(a: &Analysis) -> PageData<'_> {
    PageData {
        buckets: a
            .histogram
            .iter()
            .map(|b| PageBucket {
                label: &b.label,
                count: b.count.max(b.users.len()),
                users: b
                    .users
                    .iter()
                    .take(BUCKET_LIST_LIMIT)
                    .map(|u| PageUser {
                        name: &u.user_name,
                        rate: percent(u.failure_rate),
                        failed: u.failed_sessions,
                        total: u.total_sessions,
                    })
                    .collect(),
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::{analysis, user};
    use super::super::model::{BucketUser, UserStats};
    use super::super::stats::{self, failure_rate_order, ranking};
    use super::*;
    use crate::render::assert_self_contained;
    use chrono::{NaiveDate, TimeZone, Utc};

    /// An Analysis from `(name, user_id, failed, total)` rows, made as the analysis makes one
    /// (users in failure-rate order, their summary, histogram and ranking), except that every
    /// interval is `[0, 1]` and the lower-bound ranking is left empty; over the Asia/Kolkata
    /// days 2025-05-21 to 2025-05-22.
    fn build(rows: &[(&str, Option<&str>, i64, i64)], max_users: usize) -> Analysis {
        let mut users: Vec<UserStats> = rows
            .iter()
            .map(|&(name, id, failed, total)| UserStats {
                failure_rate_lower: 0.0,
                failure_rate_upper: 1.0,
                ..user(name, id, failed, total)
            })
            .collect();
        users.sort_by(failure_rate_order);
        let mut a = analysis(users);
        a.window = Window {
            from_date: NaiveDate::from_ymd_opt(2025, 5, 21),
            to_date: NaiveDate::from_ymd_opt(2025, 5, 22),
            timezone: "Asia/Kolkata".into(),
            start_utc: Utc.with_ymd_and_hms(2025, 5, 20, 18, 30, 0).unwrap(),
            end_utc: Utc.with_ymd_and_hms(2025, 5, 22, 18, 30, 0).unwrap(),
        };
        a.options.max_users = max_users;
        (a.summary.failure_rate_lower, a.summary.failure_rate_upper) = (0.0, 1.0);
        a.top_users = ranking(&a.users, &a.options);
        a.histogram = stats::histogram(&a.users);
        a.generated_at = Utc.with_ymd_and_hms(2025, 5, 23, 4, 0, 12).unwrap();
        a
    }

    /// 30 users across the buckets, with a shared name, `Unknown`, a long name and markup.
    fn sample() -> Analysis {
        build(
            &[
                ("Anushka", Some("a1"), 4, 8),
                ("Jahanvi", Some("a2"), 1, 3),
                ("Akhilesh", Some("a3"), 11, 42),
                ("Adit Lal", Some("a4"), 4, 16),
                ("Ayush", Some("a5"), 28, 148),
                ("Vishnu Vardhan", Some("a6"), 34, 124),
                ("Priya Sharma (1f0c9a2e)", Some("1f0c9a2e-x"), 3, 40),
                ("Priya Sharma (8b7d3c51)", Some("8b7d3c51-x"), 9, 25),
                ("Unknown", None, 12, 30),
                ("Rahul Mehta", Some("b1"), 0, 55),
                ("Sneha Iyer", Some("b2"), 1, 61),
                ("Karthik Subramanian Venkataraman", Some("b3"), 2, 47),
                ("Meera Nair", Some("b4"), 5, 52),
                ("Arjun Reddy", Some("b5"), 6, 38),
                ("Divya Menon", Some("b6"), 7, 33),
                ("Rohan Gupta", Some("b7"), 15, 41),
                ("Ananya Das", Some("b8"), 14, 35),
                ("Farhan Sheikh", Some("b9"), 22, 49),
                ("Ishita Bose", Some("c1"), 8, 19),
                ("Nikhil Joshi", Some("c2"), 0, 12),
                ("Pooja Kulkarni", Some("c3"), 2, 29),
                ("Siddharth Rao", Some("c4"), 1, 22),
                ("Tanvi <b>&amp; \"Co\"</b>", Some("c5"), 3, 27),
                ("Varun Malhotra", Some("c6"), 17, 28),
                ("Zoya Khan", Some("c7"), 13, 18),
                ("Gaurav Singh", Some("c8"), 9, 11),
                ("Lakshmi Prasad", Some("c9"), 5, 5),
                ("Harsh Vora", Some("d1"), 4, 7),
                ("Neha Agarwal", Some("d2"), 2, 44),
                ("Omkar Patil", Some("d3"), 3, 14),
            ],
            15,
        )
    }

    const EVIL: &str = "</script><img src=x onerror=alert(1)>";

    #[test]
    fn template_has_only_known_placeholders() {
        let html = to_html(&sample());
        assert!(!html.contains("{{"), "unfilled placeholder");
        assert!(!html.contains("}}"), "unfilled placeholder");
    }

    #[test]
    fn self_contained_and_complete() {
        let html = to_html(&sample());
        assert_self_contained(&html);
        assert!(html.starts_with("<!DOCTYPE html>"));
        assert!(html.contains("<h1>User failure rates</h1>"));
        assert!(html.contains("2025-05-21 to 2025-05-22 (Asia/Kolkata)"));
        assert!(html.contains("2025-05-20 18:30:00 UTC to 2025-05-22 18:30:00 UTC"));
        assert!(html.contains("2025-05-23 04:00:12 UTC"));
        assert!(html.contains("<title id=\"chart-title\">"));
        assert!(html.contains("<th scope=\"col\" class=\"name\">User</th>"));
        assert_eq!(html.matches("class=\"bar\"").count(), 10);
        assert_eq!(html.matches("<td class=\"name\">").count(), 15);
        for stat in ["Average", "Median", "Maximum", "Minimum", "Std deviation"] {
            assert!(html.contains(&format!("<dt>{stat}</dt>")));
        }
        assert!(html.contains("Priya Sharma (1f0c9a2e)"));
        assert!(!html.contains("No sessions in this window"));
    }

    #[test]
    fn summary_values_come_from_the_analysis() {
        let mut a = sample();
        a.summary.total_sessions = 1_234_567;
        a.summary.median = 0.123_45;
        let html = to_html(&a);
        assert!(html.contains("<div class=\"value\">1,234,567</div>"));
        assert!(html.contains("<dt>Median</dt><dd>12.35%</dd>"));
        assert_eq!(thousands(-1000), "-1,000");
        assert_eq!(thousands(999), "999");
    }

    #[test]
    fn hostile_names_are_neutralized() {
        let mut a = sample();
        a.top_users[0].user.user_name = EVIL.into();
        a.histogram[5].users[0].user_name = EVIL.into();
        a.histogram[6].users.push(BucketUser {
            user_name: "{{content}} </SCRIPT> <!-- ' \" & \u{2028}".into(),
            failure_rate: 0.6,
            failed_sessions: 3,
            total_sessions: 5,
        });
        a.window.timezone = "<b>tz</b>".into();
        let html = to_html(&a);
        // Exactly the template's own script elements exist.
        assert_eq!(html.to_ascii_lowercase().matches("</script>").count(), 2);
        assert_eq!(html.matches("<script").count(), 2);
        assert!(!html.contains("<img"));
        assert!(!html.contains("<b>"));
        assert!(html.contains("&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;"));
        assert!(html.contains("&lt;b&gt;tz&lt;/b&gt;"));
        // The placeholder-looking name is not expanded.
        assert_eq!(html.matches("<div class=\"layout\">").count(), 1);

        // The embedded JSON still parses back to the original names.
        let start = html.find("id=\"data\">").unwrap() + "id=\"data\">".len();
        let end = start + html[start..].find("</script>").unwrap();
        let json = &html[start..end];
        assert!(!json.contains('<') && !json.contains('>') && !json.contains('&'));
        let v: serde_json::Value = serde_json::from_str(json).unwrap();
        assert_eq!(v["buckets"][5]["users"][0]["name"], EVIL);
        let last = v["buckets"][6]["users"]
            .as_array()
            .unwrap()
            .last()
            .unwrap()
            .clone();
        assert_eq!(last["name"], "{{content}} </SCRIPT> <!-- ' \" & \u{2028}");
    }

    #[test]
    fn bucket_lists_are_capped() {
        let rows: Vec<(String, i64)> = (0..230)
            .map(|i| (format!("User {i:03}"), 100 + i))
            .collect();
        let refs: Vec<(&str, Option<&str>, i64, i64)> = rows
            .iter()
            .map(|(n, t)| (n.as_str(), None, 25, *t))
            .collect();
        let a = build(&refs, 15);
        let html = to_html(&a);
        let start = html.find("id=\"data\">").unwrap() + "id=\"data\">".len();
        let end = start + html[start..].find("</script>").unwrap();
        let v: serde_json::Value = serde_json::from_str(&html[start..end]).unwrap();
        let busy = v["buckets"]
            .as_array()
            .unwrap()
            .iter()
            .find(|b| b["count"].as_u64().unwrap() > BUCKET_LIST_LIMIT as u64)
            .expect("a bucket over the limit");
        assert_eq!(busy["users"].as_array().unwrap().len(), BUCKET_LIST_LIMIT);
        assert!(html.contains("' more (all users are in the CSV export)'"));
    }

    #[test]
    fn empty_analysis_has_a_clear_state() {
        let a = build(&[], 15);
        let html = to_html(&a);
        assert_self_contained(&html);
        assert!(html.contains("<h2>No sessions in this window</h2>"));
        assert!(!html.contains("<svg"));
        assert!(!html.contains("<table"));
        assert!(!html.contains("{{"));
    }

    #[test]
    fn empty_ranking_is_explained() {
        let mut a = sample();
        a.options.min_sessions = 1000;
        a.top_users.clear();
        let html = to_html(&a);
        assert!(html.contains("No user has at least 1,000 sessions."));
        assert!(html.contains("<svg"));
    }

    #[test]
    fn whiskers_show_each_users_interval() {
        let mut a = sample();
        a.top_users[0].user.failure_rate_lower = 0.821_4;
        a.top_users[0].user.failure_rate_upper = 1.0;
        a.summary.failure_rate_lower = 0.201_2;
        a.summary.failure_rate_upper = 0.254_9;
        let html = to_html(&a);
        let name = &a.top_users[0].user.user_name;
        let row = html
            .lines()
            .find(|l| l.contains(&format!("<td class=\"name\">{name}</td>")))
            .unwrap();
        assert!(row.contains("<span class=\"ci\" style=\"left:82.1%;width:17.9%\"></span>"));
        assert!(row.contains("<td class=\"num ci-text\">82.1\u{2013}100 %</td>"));
        assert!(html.contains("<div class=\"note\">95 % interval 20.1\u{2013}25.5 %</div>"));
        assert_eq!(html.matches("class=\"ci\"").count(), 15);
    }

    /// `a`'s top users reversed, as the lower-bound order.
    fn with_lower_bound(a: &mut Analysis) {
        a.rankings.failure_rate = a.top_users.clone();
        a.rankings.lower_bound = a
            .top_users
            .iter()
            .rev()
            .enumerate()
            .map(|(i, r)| RankedUser {
                rank: i + 1,
                user: r.user.clone(),
            })
            .collect();
    }

    /// The first row's name of the `tbody` of `key`, and whether that tbody is hidden.
    fn first_of(html: &str, key: &str) -> (String, bool) {
        let open = format!("<tbody data-order=\"{key}\"");
        let start = html.find(&open).expect("the order's tbody");
        let rest = &html[start + open.len()..];
        let hidden = rest.starts_with(" hidden>");
        let name = rest.split("<td class=\"name\">").nth(1).unwrap();
        (name[..name.find("</td>").unwrap()].to_owned(), hidden)
    }

    #[test]
    fn both_orders_are_in_the_page() {
        let mut a = sample();
        with_lower_bound(&mut a);
        let html = to_html(&a);
        assert_eq!(html.matches("<td class=\"name\">").count(), 30);
        let top = a.top_users[0].user.user_name.clone();
        let last = a.top_users[14].user.user_name.clone();
        assert_eq!(first_of(&html, "failure_rate"), (top.clone(), false));
        assert_eq!(first_of(&html, "lower_bound"), (last.clone(), true));
        assert!(html.contains(
            "<button type=\"button\" data-order=\"failure_rate\" aria-pressed=\"true\">By failure rate</button>"
        ));
        assert!(html.contains(
            "<button type=\"button\" data-order=\"lower_bound\" aria-pressed=\"false\">By lower bound (surest first)</button>"
        ));

        // rank_by lower_bound: that order first and shown.
        a.options.rank_by = RankBy::LowerBound;
        a.top_users = a.rankings.lower_bound.clone();
        let html = to_html(&a);
        assert_eq!(first_of(&html, "lower_bound"), (last, false));
        assert_eq!(first_of(&html, "failure_rate"), (top, true));
        assert!(
            html.find("data-order=\"lower_bound\" aria-pressed=\"true\"")
                .unwrap()
                < html
                    .find("data-order=\"failure_rate\" aria-pressed=\"false\"")
                    .unwrap()
        );
    }

    #[test]
    fn the_daily_line_has_a_point_per_day() {
        let mut a = sample();
        let day = |d: u32, failed: i64, total: i64| DailyPoint {
            date: NaiveDate::from_ymd_opt(2025, 5, d).unwrap(),
            total_sessions: total,
            failed_sessions: failed,
            failure_rate: if total == 0 {
                0.0
            } else {
                failed as f64 / total as f64
            },
        };
        a.daily = vec![day(19, 1, 4), day(20, 11, 42), day(21, 0, 9), day(22, 3, 3)];
        let html = to_html(&a);
        assert_eq!(html.matches("<circle class=\"dot").count(), 4);
        assert_eq!(html.matches("<path class=\"line\" d=\"M").count(), 1);
        assert!(html.contains("<title>Tue 2025-05-20: 26.19% (11 of 42 sessions failed)</title>"));
        assert!(html.contains("<tr><td>Thu 2025-05-22</td><td class=\"num\">100.00%</td><td class=\"num\">3 / 3</td></tr>"));
        let path = html.split("<path class=\"line\" d=\"").nth(1).unwrap();
        let path = &path[..path.find('"').unwrap()];
        assert_eq!(path.matches('L').count(), 3, "{path}");

        // A day without sessions is a gap, not a point at 0 %.
        a.daily[2] = day(21, 0, 0);
        let html = to_html(&a);
        assert_eq!(html.matches("<circle class=\"dot").count(), 3);
        assert!(html.contains("<td>Wed 2025-05-21</td><td class=\"num\">no sessions</td>"));
        assert!(html.contains("1 without sessions (gaps)"));
    }

    #[test]
    fn previous_window_and_significant_changes() {
        use super::super::model::{Comparison, PeriodCounts, PreviousSummary};
        let mut a = sample();
        let html = to_html(&a);
        assert!(!html.contains("Previous"));
        a.options.compare_previous = true;
        let mut prev_window = a.window.clone();
        prev_window.from_date = NaiveDate::from_ymd_opt(2025, 5, 19);
        prev_window.to_date = NaiveDate::from_ymd_opt(2025, 5, 20);
        a.summary.previous = Some(PreviousSummary {
            window: prev_window,
            total_sessions: 1200,
            total_failures: 150,
            overall_failure_rate: 0.125,
        });
        a.top_users[0].user.comparison = Some(Comparison {
            previous: Some(PeriodCounts {
                total_sessions: 40,
                failed_sessions: 4,
                failure_rate: 0.1,
            }),
            change_significant: true,
        });
        a.top_users[1].user.comparison = Some(Comparison {
            previous: None,
            change_significant: false,
        });
        let html = to_html(&a);
        assert!(html.contains(
            "Previous window 2025-05-19 to 2025-05-20 (Asia/Kolkata): 150 of 1,200 sessions failed, 12.50%"
        ));
        assert!(html.contains("<th scope=\"col\" class=\"num\">Previous</th>"));
        assert!(html.contains("<td class=\"num prev\">10.00% <span class=\"sig\" title=\"Significant change (95 %)\">\u{25b2}"));
        assert!(html.contains("<div class=\"sub\">4 / 40</div>"));
        assert!(
            html.contains("<td class=\"num prev\">\u{2014}<div class=\"sub\">no sessions</div>")
        );
        assert_eq!(html.matches("class=\"sig\"").count(), 1);
    }
}
