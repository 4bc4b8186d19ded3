//! The HTML report artifact, `user_failure_rates_YYYYMMDD_HHMMSS.html`
//! (`spec/failure-analysis.md`, "Outputs"; seed 001, "Visualization").
//!
//! The page is the askama template `templates/failure_report.html` (on the shared
//! `templates/base.html`); this module turns an [`Analysis`] into its view-model: formatted
//! numbers, the histogram's geometry from [`crate::render::chart`], and the bucket lists the
//! page's script shows, embedded as JSON. The template escapes everything it prints.

use askama::Template;
use serde::Serialize;

use super::model::{Analysis, Bucket, RankedUser, Window, percent};
use crate::render::chart::{self, Frame, HistogramBar};
use crate::render::format::{thousands, utc_seconds};
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
}

/// A labelled, formatted value.
struct Stat {
    label: &'static str,
    value: String,
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
    rows: Vec<TopRow<'a>>,
}

struct TopRow<'a> {
    rank: usize,
    name: &'a str,
    /// The meter's width, a whole percent.
    meter_percent: f64,
    rate: &'a str,
    failed: String,
    total: String,
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
    let stat = |label, value| Stat { label, value };
    Report {
        totals: [
            stat("Users", thousands(s.total_users)),
            stat("Sessions", thousands(s.total_sessions)),
            stat("Failures", thousands(s.total_failures)),
            stat("Overall failure rate", percent(s.overall_failure_rate)),
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
        rows: a.top_users.iter().map(top_row).collect(),
    }
}

fn top_row(r: &RankedUser) -> TopRow<'_> {
    let u = &r.user;
    TopRow {
        rank: r.rank,
        name: &u.user_name,
        meter_percent: (u.failure_rate.clamp(0.0, 1.0) * 100.0).round(),
        rate: &u.failure_rate_percent,
        failed: thousands(u.failed_sessions),
        total: thousands(u.total_sessions),
    }
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
    use super::super::model::{BucketUser, Options, Summary, UserStats};
    use super::*;
    use crate::render::assert_self_contained;
    use chrono::{NaiveDate, TimeZone, Utc};

    /// A consistent Analysis from `(name, user_id, failed, total)` rows (test-only stand-in for
    /// the real computation).
    fn build(rows: &[(&str, Option<&str>, i64, i64)], max_users: usize) -> Analysis {
        let mut users: Vec<UserStats> = rows
            .iter()
            .map(|&(name, id, failed, total)| {
                let rate = failed as f64 / total as f64;
                UserStats {
                    user_name: name.to_owned(),
                    total_sessions: total,
                    failed_sessions: failed,
                    success_sessions: total - failed,
                    failure_rate: rate,
                    failure_rate_percent: percent(rate),
                    user_id: id.map(str::to_owned),
                    failure_rate_lower: 0.0,
                    failure_rate_upper: 1.0,
                    comparison: None,
                }
            })
            .collect();
        users.sort_by(|a, b| {
            b.failure_rate
                .total_cmp(&a.failure_rate)
                .then(b.failed_sessions.cmp(&a.failed_sessions))
                .then(a.user_name.cmp(&b.user_name))
        });
        let rates: Vec<f64> = users.iter().map(|u| u.failure_rate).collect();
        let n = rates.len();
        let total_sessions: i64 = users.iter().map(|u| u.total_sessions).sum();
        let total_failures: i64 = users.iter().map(|u| u.failed_sessions).sum();
        let average = if n == 0 {
            0.0
        } else {
            rates.iter().sum::<f64>() / n as f64
        };
        let mut sorted = rates.clone();
        sorted.sort_by(f64::total_cmp);
        let median = match n {
            0 => 0.0,
            _ if n % 2 == 1 => sorted[n / 2],
            _ => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
        };
        let std_deviation = if n < 2 {
            0.0
        } else {
            (rates.iter().map(|r| (r - average).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt()
        };
        let mut histogram: Vec<Bucket> = (0..10)
            .map(|i| Bucket {
                label: format!("{}-{}%", i * 10, i * 10 + 10),
                count: 0,
                users: vec![],
            })
            .collect();
        for u in &users {
            let i = ((u.failure_rate * 10.0).floor() as usize).min(9);
            histogram[i].count += 1;
            histogram[i].users.push(BucketUser {
                user_name: u.user_name.clone(),
                failure_rate: u.failure_rate,
                failed_sessions: u.failed_sessions,
                total_sessions: u.total_sessions,
            });
        }
        let top_users = users
            .iter()
            .take(max_users)
            .enumerate()
            .map(|(i, u)| RankedUser {
                rank: i + 1,
                user: u.clone(),
            })
            .collect();
        Analysis {
            window: Window {
                from_date: NaiveDate::from_ymd_opt(2025, 5, 21),
                to_date: NaiveDate::from_ymd_opt(2025, 5, 22),
                timezone: "Asia/Kolkata".into(),
                start_utc: Utc.with_ymd_and_hms(2025, 5, 20, 18, 30, 0).unwrap(),
                end_utc: Utc.with_ymd_and_hms(2025, 5, 22, 18, 30, 0).unwrap(),
            },
            options: Options {
                max_users,
                min_sessions: 1,
                rank_by: Default::default(),
                compare_previous: false,
            },
            summary: Summary {
                total_users: n,
                total_sessions,
                total_failures,
                overall_failure_rate: if total_sessions == 0 {
                    0.0
                } else {
                    total_failures as f64 / total_sessions as f64
                },
                average,
                median,
                maximum: sorted.last().copied().unwrap_or(0.0),
                minimum: sorted.first().copied().unwrap_or(0.0),
                std_deviation,
                failure_rate_lower: 0.0,
                failure_rate_upper: 1.0,
                previous: None,
            },
            rankings: super::super::model::Rankings {
                failure_rate: vec![],
                lower_bound: vec![],
            },
            top_users,
            histogram,
            users,
            daily: vec![],
            generated_at: Utc.with_ymd_and_hms(2025, 5, 23, 4, 0, 12).unwrap(),
        }
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

    /// Writes sample pages to `target/` for a visual check:
    /// `cargo test sample_report -- --ignored`, then open `target/sample_report.html`
    /// (`#bucket=2` opens a bucket panel), `sample_report_large.html`, `sample_report_empty.html`.
    #[test]
    #[ignore]
    fn write_sample_report() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("sample_report.html"), to_html(&sample())).unwrap();
        let rows: Vec<(String, i64, i64)> = (0..700)
            .map(|i| {
                (
                    format!("Agent {i:03}"),
                    (i * 7 % 23) as i64,
                    20 + (i % 17) as i64,
                )
            })
            .collect();
        let refs: Vec<(&str, Option<&str>, i64, i64)> = rows
            .iter()
            .map(|(n, f, t)| (n.as_str(), None, (*f).min(*t), *t))
            .collect();
        std::fs::write(
            dir.join("sample_report_large.html"),
            to_html(&build(&refs, 100)),
        )
        .unwrap();
        std::fs::write(
            dir.join("sample_report_empty.html"),
            to_html(&build(&[], 15)),
        )
        .unwrap();
    }
}
