//! The HTML report artifact, `user_failure_rates_YYYYMMDD_HHMMSS.html`
//! (`spec/failure-analysis.md`, "Outputs"; seed 001, "Visualization").
//!
//! The page is built from `report.html` (inline CSS, a small inline script) by filling
//! `{{name}}` placeholders in one pass, so text that looks like a placeholder inside user data
//! is never expanded. Everything that is not static is escaped here: HTML text and attributes
//! with [`escape`], the embedded JSON with [`json_for_script`].

use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::model::{Analysis, Bucket, RankedUser, Window, percent};

const TEMPLATE: &str = include_str!("report.html");

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
/// embedded as JSON in `<script type="application/json" id="data">`, with `<`, `>` and `&`
/// written as `\u003c`, `\u003e`, `\u0026` so no user data can close the element; all other
/// user data is HTML-escaped. With zero users the page shows "No sessions in this window"
/// instead of the statistics, the chart and the table.
pub fn to_html(a: &Analysis) -> String {
    let empty = a.summary.total_users == 0;
    let content = if empty {
        empty_state(&a.window)
    } else {
        let mut c = summary_section(a);
        c.push_str("<div class=\"layout\">\n");
        c.push_str(&histogram_section(&a.histogram));
        c.push_str(&top_users_section(a));
        c.push_str("</div>\n");
        c
    };
    let asked = window_asked(&a.window);
    fill(
        TEMPLATE,
        &[
            (
                "page_title",
                escape(&format!("User failure rates · {asked}")),
            ),
            ("window_asked", escape(&asked)),
            ("window_utc", escape(&window_utc(&a.window))),
            ("generated_at", escape(&utc(&a.generated_at))),
            ("content", content),
            ("data_json", json_for_script(&page_data(a))),
        ],
    )
}

/// Escapes text for HTML element content and quoted attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Serializes `value` as JSON that is safe inside a `<script>` element: `<`, `>` and `&`
/// (which JSON only has inside strings) become `\u003c`, `\u003e`, `\u0026`.
pub fn json_for_script<T: Serialize>(value: &T) -> String {
    // Serializing plain structs of strings and numbers cannot fail.
    serde_json::to_string(value)
        .expect("serialize report data")
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
}

/// Replaces every `{{name}}` of `template` with its value, in one pass over the template only.
/// Unknown names are left as they are (a test checks that the template has none).
pub(crate) fn fill(template: &str, vars: &[(&str, String)]) -> String {
    let mut out =
        String::with_capacity(template.len() + vars.iter().map(|v| v.1.len()).sum::<usize>());
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            out.push_str(&rest[start..]);
            return out;
        };
        let name = &after[..end];
        match vars.iter().find(|(k, _)| *k == name) {
            Some((_, v)) => out.push_str(v),
            None => out.push_str(&rest[start..start + 2 + end + 2]),
        }
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    out
}

// ---------------------------------------------------------------------------------------------
// Header

fn utc(t: &DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

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
        utc(&w.start_utc),
        utc(&w.end_utc)
    )
}

fn empty_state(w: &Window) -> String {
    format!(
        "<section class=\"card empty\">\n<h2>No sessions in this window</h2>\n\
         <p class=\"muted\">No call sessions were created between {} and {}, so there are no \
         failure rates to show.</p>\n</section>\n",
        escape(&utc(&w.start_utc)),
        escape(&utc(&w.end_utc))
    )
}

// ---------------------------------------------------------------------------------------------
// Summary

/// `1234567` → `1,234,567`.
fn group(n: impl ToString) -> String {
    let s = n.to_string();
    let (sign, digits) = s.strip_prefix('-').map_or(("", s.as_str()), |d| ("-", d));
    let mut out = String::from(sign);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn summary_section(a: &Analysis) -> String {
    let s = &a.summary;
    let mut h = String::from(
        "<section aria-labelledby=\"summary-title\">\n\
         <h2 id=\"summary-title\" class=\"visually-hidden\">Summary statistics</h2>\n\
         <div class=\"totals\">\n",
    );
    for (label, value) in [
        ("Users", group(s.total_users)),
        ("Sessions", group(s.total_sessions)),
        ("Failures", group(s.total_failures)),
        ("Overall failure rate", percent(s.overall_failure_rate)),
    ] {
        let _ = writeln!(
            h,
            "<div class=\"card stat\"><div class=\"label\">{}</div><div class=\"value\">{}</div></div>",
            escape(label),
            escape(&value)
        );
    }
    h.push_str(
        "</div>\n<div class=\"card\">\n<h2>Per-user failure rates</h2>\n\
         <p class=\"hint\">Unweighted: every user counts once. The overall rate above is \
         weighted by sessions.</p>\n<dl class=\"rates\">\n",
    );
    for (label, rate) in [
        ("Average", s.average),
        ("Median", s.median),
        ("Maximum", s.maximum),
        ("Minimum", s.minimum),
        ("Std deviation", s.std_deviation),
    ] {
        let _ = writeln!(h, "<div><dt>{label}</dt><dd>{}</dd></div>", percent(rate));
    }
    h.push_str("</dl>\n</div>\n</section>\n");
    h
}

// ---------------------------------------------------------------------------------------------
// Histogram

/// SVG geometry, in viewBox units.
const W: f64 = 520.0;
const H: f64 = 340.0;
const LEFT: f64 = 52.0;
const RIGHT: f64 = 26.0;
const TOP: f64 = 30.0;
const BOTTOM: f64 = 56.0;

/// A round tick step (1, 2, 5 × 10^k) giving at most five steps up to `max`.
fn tick_step(max: usize) -> usize {
    let mut magnitude = 1;
    loop {
        for m in [1, 2, 5] {
            let step = m * magnitude;
            if max.div_ceil(step) <= 5 {
                return step;
            }
        }
        magnitude *= 10;
    }
}

fn users_word(n: usize) -> &'static str {
    if n == 1 { "user" } else { "users" }
}

fn histogram_svg(buckets: &[Bucket]) -> String {
    let n = buckets.len().max(1);
    let max = buckets.iter().map(|b| b.count).max().unwrap_or(0).max(1);
    let step = tick_step(max);
    let y_max = max.div_ceil(step) * step;
    let plot_w = W - LEFT - RIGHT;
    let plot_h = H - TOP - BOTTOM;
    let base = TOP + plot_h;
    let slot = plot_w / n as f64;
    let y = |v: usize| base - plot_h * v as f64 / y_max as f64;

    let total: usize = buckets.iter().map(|b| b.count).sum();
    let mut s = format!(
        "<svg class=\"chart\" viewBox=\"0 0 {W} {H}\" aria-labelledby=\"chart-title chart-desc\">\n\
         <title id=\"chart-title\">Failure-rate distribution</title>\n\
         <desc id=\"chart-desc\">Bar chart of {total} {} by failure-rate range: {}.</desc>\n",
        users_word(total),
        escape(
            &buckets
                .iter()
                .map(|b| format!("{} {}", b.label, b.count))
                .collect::<Vec<_>>()
                .join(", ")
        )
    );
    // Grid and y axis.
    for v in (0..=y_max).step_by(step) {
        let yy = y(v);
        let class = if v == 0 { "baseline" } else { "gridline" };
        let _ = writeln!(
            s,
            "<line class=\"{class}\" x1=\"{LEFT}\" x2=\"{}\" y1=\"{yy:.1}\" y2=\"{yy:.1}\"/>\
             <text x=\"{}\" y=\"{yy:.1}\" text-anchor=\"end\" dominant-baseline=\"middle\">{v}</text>",
            W - RIGHT,
            LEFT - 8.0
        );
    }
    // Bars: a full-height transparent hit area (so short bars are easy to hover and tap),
    // the visible bar and its count.
    for (i, b) in buckets.iter().enumerate() {
        let x = LEFT + slot * i as f64;
        let top = y(b.count);
        let label = escape(&format!("{}: {} {}", b.label, b.count, users_word(b.count)));
        let _ = writeln!(
            s,
            "<g class=\"bar\" data-i=\"{i}\" tabindex=\"0\" role=\"button\" aria-pressed=\"false\" \
             aria-label=\"{label}\"><title>{label}</title>\
             <rect class=\"hit\" x=\"{x:.1}\" y=\"{TOP}\" width=\"{slot:.1}\" height=\"{plot_h}\" rx=\"4\"/>\
             <rect class=\"fill\" x=\"{:.1}\" y=\"{top:.1}\" width=\"{:.1}\" height=\"{:.1}\" rx=\"3\"/>\
             <text class=\"count\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text></g>",
            x + slot * 0.12,
            slot * 0.76,
            base - top,
            x + slot / 2.0,
            top - 6.0,
            b.count
        );
    }
    // X axis: the bucket boundaries 0%, 10%, … 100%.
    for i in 0..=n {
        let _ = writeln!(
            s,
            "<text{} x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}%</text>",
            // Every other boundary is hidden on narrow screens.
            if i % 2 == 1 { " class=\"odd\"" } else { "" },
            LEFT + slot * i as f64,
            base + 20.0,
            i * 100 / n
        );
    }
    let _ = writeln!(
        s,
        "<text class=\"axis-title\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">Failure rate</text>\
         <text class=\"axis-title\" transform=\"translate(14 {:.1}) rotate(-90)\" text-anchor=\"middle\">Users</text>\n</svg>",
        LEFT + plot_w / 2.0,
        H - 8.0,
        TOP + plot_h / 2.0
    );
    s
}

fn histogram_section(buckets: &[Bucket]) -> String {
    format!(
        "<section class=\"card\" aria-labelledby=\"hist-title\">\n\
         <h2 id=\"hist-title\">Failure-rate distribution</h2>\n\
         <p class=\"hint\">Number of users in each failure-rate range.</p>\n\
         {}<div id=\"bucket\" aria-live=\"polite\"><p class=\"muted\">Hover, focus or tap a bar to list the users in that range.</p></div>\n\
         </section>\n",
        histogram_svg(buckets)
    )
}

// ---------------------------------------------------------------------------------------------
// Top users

fn top_users_section(a: &Analysis) -> String {
    let min = a.options.min_sessions;
    let qualifier = if min > 1 {
        format!(" Users with at least {} sessions.", group(min))
    } else {
        String::new()
    };
    let mut h = format!(
        "<section class=\"card\" aria-labelledby=\"top-title\">\n\
         <h2 id=\"top-title\">Top users by failure rate</h2>\n\
         <p class=\"hint\">Highest failure rate first, then most failures.{}</p>\n",
        escape(&qualifier)
    );
    if a.top_users.is_empty() {
        let _ = writeln!(
            h,
            "<p class=\"muted\">No user has at least {} sessions.</p>",
            group(min)
        );
    } else {
        h.push_str(
            "<div class=\"scroll tall\"><table>\n<thead><tr><th scope=\"col\" class=\"num\">#</th>\
             <th scope=\"col\" class=\"name\">User</th><th scope=\"col\" class=\"num\">Failure rate</th>\
             <th scope=\"col\" class=\"num\">Failed / total</th></tr></thead>\n<tbody>\n",
        );
        for r in &a.top_users {
            h.push_str(&top_user_row(r));
        }
        h.push_str("</tbody></table></div>\n");
    }
    h.push_str("</section>\n");
    h
}

fn top_user_row(r: &RankedUser) -> String {
    let u = &r.user;
    let width = (u.failure_rate.clamp(0.0, 1.0) * 100.0).round();
    format!(
        "<tr><td class=\"num\">{}</td><td class=\"name\">{}</td><td class=\"num\"><div class=\"rate\">\
         <span class=\"meter\" aria-hidden=\"true\"><span style=\"width:{width}%\"></span></span>{}</div></td>\
         <td class=\"num\">{} / {}</td></tr>\n",
        r.rank,
        escape(&u.user_name),
        escape(&u.failure_rate_percent),
        group(u.failed_sessions),
        group(u.total_sessions)
    )
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
    use chrono::{NaiveDate, TimeZone};

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

    fn assert_offline(html: &str) {
        for needle in [
            "src=\"http",
            "href=\"http",
            "url(http",
            "@import",
            "src='http",
        ] {
            assert!(!html.contains(needle), "external reference {needle:?}");
        }
    }

    #[test]
    fn template_has_only_known_placeholders() {
        let html = to_html(&sample());
        assert!(!html.contains("{{"), "unfilled placeholder");
        assert!(!html.contains("}}"), "unfilled placeholder");
    }

    #[test]
    fn self_contained_and_complete() {
        let html = to_html(&sample());
        assert_offline(&html);
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
        assert_eq!(group(-1000), "-1,000");
        assert_eq!(group(999), "999");
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
        assert_offline(&html);
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
    fn ticks_are_round() {
        assert_eq!(tick_step(1), 1);
        assert_eq!(tick_step(5), 1);
        assert_eq!(tick_step(6), 2);
        assert_eq!(tick_step(11), 5);
        assert_eq!(tick_step(26), 10);
        assert_eq!(tick_step(480), 100);
    }

    #[test]
    fn fill_is_single_pass() {
        let out = fill(
            "a {{x}} b {{y}} {{unknown}} {{open",
            &[("x", "{{y}}".into()), ("y", "Y".into())],
        );
        assert_eq!(out, "a {{y}} b Y {{unknown}} {{open");
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
