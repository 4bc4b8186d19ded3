//! The page rendered from synthetic reports: every part, escaping, gaps, comparisons, links.

use super::kpis::basis_label;
use super::*;
use crate::clickhouse::CallStats;
use crate::daily_report::kpi::Share;
use crate::daily_report::query::{Counts, DayCounts};
use crate::daily_report::report::{BreakdownRow, build};
use crate::render::assert_self_contained;

const EVIL: &str = "</script><img src=x onerror=alert(1)>";

fn org(name: &str) -> Organization {
    let t: DateTime<Utc> = "2025-10-01T00:00:00Z".parse().unwrap();
    Organization {
        org_id: crate::orgs::OrgId::parse("01951f56-8c6e-7a93-a971-3d06a81a1ab0", "org_id")
            .unwrap(),
        name: name.into(),
        node_persistent_id: "019b099d-77fd-7e09-9d2b-cd4c476a0a19".into(),
        timezone: chrono_tz::America::Chicago,
        is_active: true,
        excluded_numbers: vec!["+19259898099".into()],
        notifications: vec![],
        created_at: t,
        updated_at: t,
    }
}

fn d(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

fn now() -> DateTime<Utc> {
    "2025-12-16T12:00:00Z".parse().unwrap()
}

/// A deterministic pseudo-random stream (tests only).
struct Lcg(u64);

impl Lcg {
    /// Uniform in [0, 1).
    fn next(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }

    /// `x` ± `spread` (relative).
    fn jitter(&mut self, x: f64, spread: f64) -> f64 {
        x * (1.0 + spread * (2.0 * self.next() - 1.0))
    }
}

/// Splits `total` by weights (jittered), the last value taking the remainder.
fn split(total: u64, weights: &[(&str, f64)], rng: &mut Lcg) -> Counts {
    let jittered: Vec<f64> = weights.iter().map(|w| rng.jitter(w.1, 0.2)).collect();
    let sum: f64 = jittered.iter().sum();
    let mut left = total;
    let mut counts = Vec::new();
    for (i, w) in jittered.iter().enumerate() {
        let n = if i + 1 == weights.len() {
            left
        } else {
            ((total as f64 * w / sum).round() as u64).min(left)
        };
        left -= n;
        counts.push(n);
    }
    (weights.iter().map(|w| w.0.to_string()).collect(), counts)
}

fn count_of(c: &Counts, value: &str) -> u64 {
    c.0.iter()
        .zip(&c.1)
        .find(|(v, _)| v.as_str() == value)
        .map_or(0, |(_, n)| *n)
}

/// A realistic report for `date`: weekday volume ~260 calls (weekends less), ~78%
/// classified, the proportions of the old tool's sample report.
fn synthetic(date: NaiveDate, rng: &mut Lcg) -> DailyReport {
    use chrono::Datelike;
    let weekend = date.weekday().number_from_monday() >= 6;
    let total = rng
        .jitter(if weekend { 110.0 } else { 265.0 }, 0.18)
        .round() as u64;
    let classified = (total as f64 * rng.jitter(0.78, 0.06)).round() as u64;
    let by_class = split(
        classified,
        &[
            ("non_convertible", 47.0),
            ("rate_not_agreed", 18.0),
            ("success", 15.0),
            ("carrier_dropped", 13.0),
            ("other", 7.0),
        ],
        rng,
    );
    let success = count_of(&by_class, "success");
    let non_convertible = count_of(&by_class, "non_convertible");
    let not_qualified = (classified as f64 * rng.jitter(0.27, 0.15)).round() as u64;
    let minutes = rng.jitter(2.3, 0.12);
    let counts = DayCounts {
        total_calls: total,
        total_duration_seconds: total as f64 * minutes * 60.0,
        median_minutes: minutes * 0.78,
        p90_minutes: minutes * 2.1,
        runs_with_output: classified + total / 20,
        classified_calls: classified,
        success_count: success,
        non_convertible_count: non_convertible,
        not_qualified_count: not_qualified,
        non_convertible_or_not_qualified_count: (non_convertible + not_qualified / 3)
            .min(classified),
        carrier_asked_count: (classified as f64 * rng.jitter(0.13, 0.25)).round() as u64,
        transferred_for_booking_count: (success as f64 * rng.jitter(0.85, 0.1)).round() as u64,
        by_call_stage: split(
            classified,
            &[
                ("RATE_NEGOTIATION", 29.0),
                ("CARRIER_VERIFICATION", 22.0),
                ("TRANSFER_SUCCEEDED", 14.0),
                ("LOAD_LOOKUP", 10.0),
                ("GREETING", 8.0),
                ("TRANSFER_FAILED", 7.0),
                ("TRANSFER_ATTEMPTED", 5.0),
                ("UNKNOWN", 5.0),
            ],
            rng,
        ),
        by_call_classification: by_class,
        by_load_status: split(
            classified,
            &[
                ("ACTIVE", 62.0),
                ("COVERED", 18.0),
                ("NOT_FOUND", 12.0),
                ("CANCELLED", 5.0),
                ("UNKNOWN", 3.0),
            ],
            rng,
        ),
        by_pricing_notes: split(
            classified,
            &[
                ("NOT_DISCUSSED", 45.0),
                ("NO_AGREEMENT_RATE_TOO_HIGH", 28.0),
                ("AGREEMENT_REACHED_CARRIER_CONFIRMED", 15.0),
                ("AGREEMENT_REACHED_PENDING_CONFIRMATION", 12.0),
            ],
            rng,
        ),
        by_carrier_end_state: split(
            classified,
            &[
                ("not_qualified", 27.0),
                ("hung_up", 22.0),
                ("rate_rejected", 20.0),
                ("load_unavailable", 14.0),
                ("booking_started", 12.0),
                ("callback_requested", 5.0),
            ],
            rng,
        ),
        ..DayCounts::default()
    };
    let generated = date
        .succ_opt()
        .unwrap()
        .and_hms_opt(12, 0, 0)
        .unwrap()
        .and_utc();
    build(
        &org("Paul Logistics"),
        date,
        &counts,
        CallStats::default(),
        420,
        generated,
    )
}

/// `n` days ending 2025-12-15; the 0-based indices in `missing` have no report.
fn period(n: u64, missing: &[u64]) -> Vec<(NaiveDate, Option<DailyReport>)> {
    let mut rng = Lcg(20_251_215);
    let end = d("2025-12-15");
    (0..n)
        .map(|i| {
            let date = end - chrono::Days::new(n - 1 - i);
            let report = synthetic(date, &mut rng);
            (date, (!missing.contains(&i)).then_some(report))
        })
        .collect()
}

fn sample() -> Vec<(NaiveDate, Option<DailyReport>)> {
    period(30, &[4, 15, 16])
}

/// The `<svg>` element of one trend chart.
fn chart<'h>(html: &'h str, field: &str) -> &'h str {
    let start = html
        .find(&format!("<svg class=\"chart\" id=\"trend-{field}\""))
        .expect("chart");
    let end = start + html[start..].find("</svg>").unwrap();
    &html[start..end]
}

/// The tile of one KPI.
fn tile_of<'h>(html: &'h str, field: &str) -> &'h str {
    // The tile, not its entry in "What changed" (which has no title).
    let start = html
        .find(&format!("data-kpi=\"{field}\" title="))
        .expect("tile");
    let end = start + html[start..].find("</div>\n").unwrap();
    &html[start..end]
}

#[test]
fn a_full_page_has_every_part() {
    let html = render(&org("Paul Logistics"), &sample(), now());
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(
        !html.contains("{{") && !html.contains("}}"),
        "unfilled placeholder"
    );
    assert!(html.contains("<h1>Paul Logistics</h1>"));
    assert!(html.contains("America/Chicago"));
    assert!(html.contains("2025-11-16 to 2025-12-15 (30 days)"));
    assert!(html.contains("2025-12-16 12:00 UTC (2025-12-16 06:00 local)"));
    assert!(html.contains("27 of 30 days have a report"));
    assert!(html.contains("Missing: 2025-11-20, 2025-12-01 to 2025-12-02."));
    // A tile per headline KPI; flagged tiles have a `flagged` class too.
    assert_eq!(html.matches("class=\"card tile").count(), Kpi::ALL.len());
    assert_eq!(html.matches("<svg class=\"chart\"").count(), 6);
    assert_eq!(html.matches("data-breakdown=").count(), 5);
    assert_eq!(html.matches("<td class=\"stage\">").count(), 7);
    assert!(html.contains("Latest report · Mon 2025-12-15"));
    assert!(!html.contains("<script"));
    assert!(!html.contains("No reports for this period yet"));
}

#[test]
fn hostile_data_is_escaped() {
    let mut days = period(5, &[]);
    let r = days[4].1.as_mut().unwrap();
    r.breakdowns.call_classification[0].value = EVIL.into();
    r.breakdowns.funnel[2].stage = "<marquee>stage</marquee>".into();
    r.metadata.org_name = EVIL.into();
    let html = render(
        &org(&format!("{EVIL} {{{{content}}}} & \"Co\"")),
        &days,
        now(),
    );
    assert!(!html.contains("<img"));
    assert!(!html.contains("<script"));
    assert!(!html.contains("<marquee"));
    assert!(html.contains("&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;"));
    assert!(html.contains("&lt;marquee&gt;stage&lt;/marquee&gt;"));
    assert!(html.contains("{{content}} &amp; &quot;Co&quot;</h1>"));
    // The placeholder-looking name was not expanded.
    assert_eq!(html.matches("class=\"tiles\"").count(), 1);
    assert_self_contained(&html);
}

#[test]
fn missing_days_are_gaps_not_interpolated() {
    // Five days, the third without a report.
    let days = period(5, &[2]);
    let html = render(&org("Acme"), &days, now());
    assert!(html.contains("4 of 5 days have a report"));
    assert!(html.contains("Missing: 2025-12-13."));
    for trend in &trends::ALL {
        let svg = chart(&html, trend.kpi.key());
        // One hatched column, at the missing date, in every chart.
        assert_eq!(
            svg.matches("class=\"missing\"").count(),
            1,
            "{}",
            trend.kpi.key()
        );
        assert!(svg.contains("data-date=\"2025-12-13\""));
        assert!(svg.contains("<title>Sat 2025-12-13: no report</title>"));
    }
    // Lines are broken in two at the gap: two subpaths, two points each.
    let svg = chart(&html, "success_rate_percent");
    let start = svg.find("class=\"line\" d=\"").unwrap() + "class=\"line\" d=\"".len();
    let path = &svg[start..start + svg[start..].find('"').unwrap()];
    assert_eq!(path.matches('M').count(), 2, "{path}");
    assert_eq!(path.matches('L').count(), 2, "{path}");
    assert_eq!(svg.matches("<circle").count(), 4);
    // Bars: four days with calls, none at the gap.
    let svg = chart(&html, "total_calls");
    assert_eq!(svg.matches("class=\"bar\"").count(), 4);
    assert_eq!(svg.matches("class=\"bar inner\"").count(), 4);
}

#[test]
fn a_day_without_classified_calls_is_a_gap_in_rates() {
    let mut days = period(3, &[]);
    let r = days[1].1.as_mut().unwrap();
    r.kpis.classified_calls = 0;
    let html = render(&org("Acme"), &days, now());
    let svg = chart(&html, "success_rate_percent");
    assert_eq!(svg.matches("class=\"missing\"").count(), 0);
    assert!(svg.contains(": no classified calls</title>"));
    assert!(svg.contains("class=\"line\" d=\"M") && svg.matches('M').count() >= 2);
    // Calls are still drawn that day.
    assert_eq!(
        chart(&html, "total_calls").matches("class=\"bar\"").count(),
        3
    );
}

#[test]
fn no_reports_gives_the_empty_state() {
    let days: Vec<(NaiveDate, Option<DailyReport>)> = period(30, &[])
        .into_iter()
        .map(|(date, _)| (date, None))
        .collect();
    let html = render(&org("Acme"), &days, now());
    assert!(html.contains("No reports for this period yet"));
    assert!(html.contains("0 of 30 days have a report"));
    assert!(html.contains("after the report timer runs"));
    assert!(html.contains("POST /api/reports/backfill"));
    assert!(html.contains("&quot;from&quot;: &quot;2025-11-16&quot;,\n"));
    assert!(html.contains("&quot;to&quot;: &quot;2025-12-15&quot;\n}</pre>"));
    assert!(!html.contains("<svg"));
    assert!(!html.contains("class=\"card tile\""));
    assert!(!html.contains("{{"));
    assert_self_contained(&html);

    // No dates at all.
    let html = render(&org("Acme"), &[], now());
    assert!(html.contains("No reports for this period yet"));
    assert!(html.contains("0 of 0 days have a report"));
    assert!(html.contains("no dates"));
}

/// Sets a report's counts: calls, classified calls, successes, carriers not qualified.
fn set(r: &mut DailyReport, total: u64, classified: u64, success: u64, not_qualified: u64) {
    let k = &mut r.kpis;
    k.total_calls = total;
    k.classified_calls = classified;
    k.success_rate_percent = 100.0 * success as f64 / classified as f64;
    k.carrier_not_qualified = Share {
        count: not_qualified,
        total_calls: classified,
        percentage: 100.0 * not_qualified as f64 / classified as f64,
    };
    r.breakdowns.call_classification = vec![
        BreakdownRow {
            value: "success".into(),
            count: success,
            percentage: 100.0 * success as f64 / classified as f64,
        },
        BreakdownRow {
            value: "non_convertible".into(),
            count: classified - success,
            percentage: 100.0 * (classified - success) as f64 / classified as f64,
        },
    ];
}

/// 29 days ending Monday 2025-12-15: the latest day and its 4 baseline Mondays are the same
/// report but for the counts `set` gives; the days between have none.
fn mondays() -> Vec<(NaiveDate, Option<DailyReport>)> {
    let mut days = period(29, &[]);
    let base = days[28].1.clone().unwrap();
    for (i, day) in days.iter_mut().enumerate() {
        day.1 = (i % 7 == 0).then(|| {
            let mut r = base.clone();
            if i == 28 {
                // More calls (good), a higher success rate (good), fewer carriers not
                // qualified (good).
                set(&mut r, 250, 100, 60, 10);
            } else {
                set(&mut r, 100, 100, 30, 30);
            }
            r
        });
    }
    days
}

// Changed by design: the tiles compare with the median of the same weekday of the previous
// 4 weeks (`changes::compare`), not with the previous date that has a report.
#[test]
fn tiles_compare_with_the_same_weekday_of_previous_weeks() {
    let days = mondays();
    let html = render(&org("Acme"), &days, now());
    let latest = days[28].0;
    assert!(html.contains(&format!("Latest report · {}", long_date(latest))));
    assert!(html.contains("Changes are against the median of 4 previous Mondays."));
    assert!(html.contains("5 of 29 days have a report"));

    let t = tile_of(&html, "total_calls");
    assert!(t.contains("<div class=\"value\">250<span"), "{t}");
    assert!(t.contains("▲ 150"), "{t}");
    assert!(t.contains("vs median of 4 previous Mondays"), "{t}");
    assert!(
        t.contains("2025-12-08, 2025-12-01, 2025-11-24, 2025-11-17"),
        "{t}"
    );
    let t = tile_of(&html, "success_rate_percent");
    assert!(t.contains("60.00<span class=\"unit\">%</span>"), "{t}");
    assert!(
        t.contains("class=\"delta good\"") && t.contains("▲ 30.00 pp"),
        "{t}"
    );
    // Lower is better for carriers not qualified.
    let t = tile_of(&html, "carrier_not_qualified");
    assert!(
        t.contains("class=\"delta good\"") && t.contains("▼ 20.00 pp"),
        "{t}"
    );
    // Unflagged: no colour.
    let t = tile_of(&html, "classified_calls");
    assert!(
        t.contains("class=\"delta\"") && t.contains("no change"),
        "{t}"
    );
    // The breakdowns are the latest report's too.
    assert!(html.contains(&format!("Breakdown · {}", long_date(latest))));
    assert!(html.contains("Share of 100 classified calls"));
}

#[test]
fn flagged_changes_come_first() {
    let html = render(&org("Acme"), &mondays(), now());
    // The "What changed" strip: the flagged KPIs, in tile order, with value, baseline and
    // change, before the tiles.
    let strip = &html
        [html.find("id=\"changed-title\"").unwrap()..html.find("id=\"latest-title\"").unwrap()];
    let items: Vec<&str> = strip.split("<li class=\"card change").skip(1).collect();
    assert_eq!(items.len(), 3, "{strip}");
    assert!(
        items[0].starts_with(" good\" data-kpi=\"total_calls\""),
        "{}",
        items[0]
    );
    assert!(
        items[0].contains("<span class=\"value\">250</span>"),
        "{}",
        items[0]
    );
    assert!(
        items[0].contains("<span class=\"chg\">▲ 150</span>"),
        "{}",
        items[0]
    );
    assert!(items[0].contains("baseline 100"), "{}", items[0]);
    assert!(items[1].contains("data-kpi=\"success_rate_percent\""));
    assert!(items[1].contains("baseline 30.00%"), "{}", items[1]);
    assert!(items[2].contains("data-kpi=\"carrier_not_qualified\""));
    assert!(items[2].starts_with(" good"), "{}", items[2]);
    // The tiles: the flagged first, then the others in page order.
    let order: Vec<&str> = html
        .split("<div class=\"card tile")
        .skip(1)
        .map(|t| {
            let t = &t[t.find("data-kpi=\"").unwrap() + 10..];
            &t[..t.find('"').unwrap()]
        })
        .collect();
    let flagged = [
        "total_calls",
        "success_rate_percent",
        "carrier_not_qualified",
    ];
    let others = Kpi::ALL
        .iter()
        .map(|k| k.key())
        .filter(|k| !flagged.contains(k));
    assert_eq!(order, flagged.into_iter().chain(others).collect::<Vec<_>>());
    assert_eq!(html.matches("class=\"card tile flagged\"").count(), 3);
}

#[test]
fn the_baseline_is_named() {
    let monday = d("2025-12-15");
    assert_eq!(basis_label(monday, &[]), "no baseline");
    assert_eq!(
        basis_label(monday, &[d("2025-12-08")]),
        "median of 1 previous Monday"
    );
    assert_eq!(
        basis_label(monday, &changes::baseline_candidates(monday)),
        "median of 4 previous Mondays"
    );
    assert_eq!(
        basis_label(d("2025-12-16"), &[d("2025-12-09"), d("2025-12-02")]),
        "median of 2 previous Tuesdays"
    );
    // A baseline from reports before the period (`extra`).
    let days = mondays();
    let acme = [org("Acme")];
    let html = render_with(
        &acme[0],
        &days[21..],
        &[(days[14].0, days[14].1.clone().unwrap())],
        &nav_of(8, None, ("2025-11-17", "2025-12-15"), &acme),
        now(),
    );
    assert!(html.contains("vs median of 2 previous Mondays"), "{html}");
}

#[test]
fn rows_and_hours_link_to_their_calls() {
    let links = Links {
        org_id: "org 1&2",
        date: d("2025-12-15"),
    };
    assert_eq!(
        links.calls("pricing_notes", "A&B é/x=y?"),
        "reports/calls?org_id=org%201%262&date=2025-12-15&pricing_notes=A%26B%20%C3%A9%2Fx%3Dy%3F&format=html"
    );
    let mut days = mondays();
    let r = days[28].1.as_mut().unwrap();
    r.breakdowns.load_status = vec![BreakdownRow {
        value: EVIL.into(),
        count: 3,
        percentage: 3.0,
    }];
    let html = render(&org("Acme"), &days, now());
    let org_id = "01951f56-8c6e-7a93-a971-3d06a81a1ab0";
    assert!(html.contains(&format!(
        "href=\"reports/calls?org_id={org_id}&amp;date=2025-12-15&amp;call_classification=success&amp;format=html\""
    )));
    assert!(html.contains(&format!(
        "href=\"reports/calls?org_id={org_id}&amp;date=2025-12-15&amp;load_status=%3C%2Fscript%3E%3Cimg%20src%3Dx%20onerror%3Dalert%281%29%3E&amp;format=html\""
    )), "{html}");
    assert!(html.contains(&format!(
        "href=\"reports/calls?org_id={org_id}&amp;date=2025-12-15&amp;format=html\""
    )));
    let hours = days[28].1.as_ref().unwrap().breakdowns.by_hour.len();
    assert!(hours >= 23, "{hours}");
    assert_eq!(html.matches("<td class=\"hour\"><a href=").count(), hours);
    assert!(html.contains(&format!(
        "href=\"reports/calls?org_id={org_id}&amp;date=2025-12-15&amp;hour=09&amp;format=html\""
    )));
}

// Changed by design: without a baseline week the tiles say "no baseline" (was: "No earlier
// report to compare").
#[test]
fn a_single_report_has_nothing_to_compare() {
    let days = period(3, &[0, 1]);
    let html = render(&org("Acme"), &days, now());
    assert!(html.contains("1 of 3 days have a report"));
    assert!(html.contains("Missing: 2025-12-13 to 2025-12-14."));
    assert!(
        html.contains("No baseline: no stored report on the same weekday of the previous 4 weeks.")
    );
    assert_eq!(
        html.matches("\">no baseline</span>").count(),
        Kpi::ALL.len()
    );
    assert!(!html.contains("<li class=\"card change"));
    assert!(
        html.contains("weeks\">No baseline.</p>"),
        "the What changed heading"
    );
    assert!(!html.contains("Against the no baseline"));
}

#[test]
fn no_external_urls() {
    assert_self_contained(&render(&org("Acme"), &sample(), now()));
    assert_self_contained(&render(&org("Acme"), &period(30, &[0, 1, 2]), now()));
    assert_self_contained(&render(&org("Acme"), &[], now()));
}

/// The latest report as revision 2 (`docs/revisions.md`): the page says when it was revised,
/// in the org's zone, and what changed in what was counted, and links the revisions; a first
/// report, or an older day's revision, says nothing.
#[test]
fn a_revised_latest_report_says_when_and_what_changed() {
    use crate::daily_report::provenance::{Fingerprint, Provenance, Supersedes};
    let mut days = period(7, &[]);
    let plain = render(&org("Acme"), &days, now());
    assert!(!plain.contains("class=\"revised\""));
    assert!(!plain.contains("/revisions?"));
    let fingerprint = |runs, outputs| Fingerprint::from_columns(runs, outputs, 1_765_800_000_000);
    // An older day's revision is not the report the page shows.
    days[3].1.as_mut().unwrap().metadata.revision = 2;
    assert!(!render(&org("Acme"), &days, now()).contains("class=\"revised\""));
    let r = days[6].1.as_mut().unwrap();
    let m = &mut r.metadata;
    m.revision = 2;
    // Revised at 14:05 Chicago on the page's day, after 25 calls and 3 rewritten outputs.
    m.generated_at = "2025-12-16T14:05:00-06:00".parse().unwrap();
    m.provenance = Some(Provenance {
        query_sha256: "0".repeat(64),
        engine: "25.8".into(),
        fingerprint: fingerprint(125, 128),
    });
    m.supersedes = Some(Supersedes {
        revision: 1,
        generated_at: "2025-12-16T06:00:00-06:00".parse().unwrap(),
        fingerprint: Some(fingerprint(100, 100)),
    });
    let now: DateTime<Utc> = "2025-12-16T21:00:00Z".parse().unwrap();
    let html = render(&org("Acme"), &days, now);
    let note = html
        .split("<p class=\"revised\"")
        .nth(1)
        .and_then(|rest| rest.split("</p>").next())
        .unwrap_or_else(|| panic!("no revised note in {html}"));
    assert!(note.starts_with(" data-revision=\"2\""), "{note}");
    assert!(
        note.contains(
            "<strong>Revised 14:05: 25 more calls arrived, 3 call outcomes updated.</strong>"
        ),
        "{note}"
    );
    assert!(note.contains("revision 2"), "{note}");
    assert!(
        note.contains(
            "<a href=\"reports/2025-12-15/revisions?org_id=01951f56-8c6e-7a93-a971-3d06a81a1ab0\">"
        ),
        "{note}"
    );
    assert!(
        note.contains("title=\"Revision 2 of Mon 2025-12-15, generated 2025-12-16 14:05"),
        "{note}"
    );
    // Above the comparison: the first thing the page says of its report.
    assert!(html.find("class=\"revised\"") < html.find("id=\"changed-title\""));
    assert_self_contained(&html);
}

/// `nav` for a period of `n` days ending `date` (`None`: yesterday), the org's reports stored
/// from `stored.0` to `stored.1`, `orgs` the caller's.
fn nav_of<'a>(
    days: i64,
    date: Option<NaiveDate>,
    stored: (&str, &str),
    orgs: &'a [Organization],
) -> Nav<'a> {
    Nav {
        days,
        date,
        stored: Some((d(stored.0), d(stored.1))),
        orgs,
    }
}

/// The `href` of the `<a>` whose text is `text`, as the page writes it (escaped).
fn href_of<'h>(html: &'h str, text: &str) -> Option<&'h str> {
    let end = html.find(&format!(">{text}</a>"))?;
    let tag = &html[html[..end].rfind("<a ")?..end];
    let start = tag.find("href=\"")? + "href=\"".len();
    Some(&tag[start..start + tag[start..].find('"')?])
}

const ACME: &str = "01951f56-8c6e-7a93-a971-3d06a81a1ab0";

#[test]
fn the_page_links_the_days_around_the_shown_one_and_the_periods() {
    let days = period(7, &[]);
    let acme = [org("Acme")];
    // `date=` the period's last day, reports stored before and after it.
    let nav = nav_of(
        7,
        Some(d("2025-12-15")),
        ("2025-11-01", "2025-12-20"),
        &acme,
    );
    let html = render_with(&acme[0], &days, &[], &nav, now());
    assert!(html.contains(">Report · Mon 2025-12-15</h2>"));
    assert_eq!(
        href_of(&html, "← Previous day"),
        Some(format!("dashboard?org_id={ACME}&amp;days=7&amp;date=2025-12-14").as_str())
    );
    assert_eq!(
        href_of(&html, "Next day →"),
        Some(format!("dashboard?org_id={ACME}&amp;days=7&amp;date=2025-12-16").as_str())
    );
    assert_eq!(
        href_of(&html, "Latest"),
        Some(format!("dashboard?org_id={ACME}&amp;days=7").as_str())
    );
    // Each period keeps the date; the page's own is the current one.
    for p in [7, 30, 90] {
        let href = format!("dashboard?org_id={ACME}&amp;days={p}&amp;date=2025-12-15");
        let current = if p == 7 { " aria-current=\"page\"" } else { "" };
        assert!(
            html.contains(&format!("<a href=\"{href}\"{current}>{p} days</a>")),
            "{p} days: {html}"
        );
    }
    assert_eq!(html.matches("aria-current=\"page\"").count(), 1);
    assert!(html.contains(&format!(
        "<a class=\"csv\" href=\"dashboard?org_id={ACME}&amp;days=7&amp;date=2025-12-15&amp;format=csv\" download>Download CSV</a>"
    )));
    // One org: no switcher.
    assert!(!html.contains("<details class=\"orgs\""));

    // The newest stored day: no next day; the oldest: no previous day; no `date=`: no
    // "Latest".
    let nav = nav_of(7, None, ("2025-12-15", "2025-12-15"), &acme);
    let html = render_with(&acme[0], &days, &[], &nav, now());
    assert_eq!(href_of(&html, "← Previous day"), None);
    assert_eq!(href_of(&html, "Next day →"), None);
    assert!(html.contains("<span class=\"step disabled\">Next day →</span>"));
    assert!(html.contains("<span class=\"step disabled\">← Previous day</span>"));
    assert_eq!(href_of(&html, "Latest"), None);
    assert!(html.contains(&format!(
        "href=\"dashboard?org_id={ACME}&amp;days=7&amp;date=2025-12-15&amp;format=csv\""
    )));
    // A period that is not one of the links marks none.
    let nav = nav_of(14, None, ("2025-12-01", "2025-12-15"), &acme);
    let html = render_with(&acme[0], &period(14, &[]), &[], &nav, now());
    assert!(!html.contains("aria-current=\"page\""));
    assert_self_contained(&html);
}

#[test]
fn a_date_without_a_report_is_a_page_that_says_so() {
    // The last day (2025-12-15) is missing; earlier days have reports.
    let days = period(7, &[6]);
    let acme = [org("Acme")];
    let nav = nav_of(
        7,
        Some(d("2025-12-15")),
        ("2025-11-01", "2025-12-20"),
        &acme,
    );
    let html = render_with(&acme[0], &days, &[], &nav, now());
    assert!(
        html.contains("<h2>No report for Mon 2025-12-15</h2>"),
        "{html}"
    );
    // Not the day before's tiles in its place.
    assert!(!html.contains("class=\"card tile"));
    assert!(!html.contains("Report ·"));
    // The backfill is for that day; the navigation is there.
    assert!(html.contains("&quot;from&quot;: &quot;2025-12-15&quot;,\n"));
    assert!(html.contains("&quot;to&quot;: &quot;2025-12-15&quot;\n}</pre>"));
    assert!(href_of(&html, "← Previous day").is_some_and(|h| h.ends_with("date=2025-12-14")));
    assert!(html.contains("6 of 7 days have a report"));
    // Without `date=`, the same period shows its latest report, 2025-12-14.
    let html = render(&acme[0], &days, now());
    assert!(html.contains("Latest report · Sun 2025-12-14"));
    assert!(!html.contains("No report for"));
}

#[test]
fn the_org_switcher_lists_the_callers_orgs_by_name_escaped() {
    let mut orgs = vec![org("Zeta"), org(EVIL), org("acme")];
    orgs[0].org_id =
        crate::orgs::OrgId::parse("0195aaaa-0000-7000-8000-000000000001", "org_id").unwrap();
    orgs[1].org_id =
        crate::orgs::OrgId::parse("0195aaaa-0000-7000-8000-000000000002", "org_id").unwrap();
    let nav = nav_of(
        30,
        Some(d("2025-12-15")),
        ("2025-11-01", "2025-12-15"),
        &orgs,
    );
    let html = render_with(&orgs[2], &period(30, &[]), &[], &nav, now());
    let start = html.find("<details class=\"orgs\">").expect("the switcher");
    let list = &html[start..start + html[start..].find("</details>").unwrap()];
    assert!(list.contains("Organization <span class=\"muted\">(3)</span>"));
    // Every org once, by name (case-insensitive), each keeping `days` and `date`; the page's
    // own is current.
    let names: Vec<&str> = list
        .split("\">")
        .skip(1)
        .filter_map(|s| s.split("</a>").next().filter(|_| s.contains("</a>")))
        .collect();
    assert_eq!(
        names,
        [
            "&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;",
            "acme",
            "Zeta"
        ],
        "{list}"
    );
    assert!(list.contains(&format!(
        "<a href=\"dashboard?org_id={ACME}&amp;days=30&amp;date=2025-12-15\" aria-current=\"page\">acme</a>"
    )));
    assert!(list.contains(
        "<a href=\"dashboard?org_id=0195aaaa-0000-7000-8000-000000000001&amp;days=30&amp;date=2025-12-15\">Zeta</a>"
    ));
    assert!(!html.contains("<img"));
    assert_self_contained(&html);
}

#[test]
fn nav_links_are_relative_and_encoded() {
    assert_eq!(
        nav::href("a b&c", 7, Some(d("2025-12-15")), Some("csv")),
        "dashboard?org_id=a%20b%26c&days=7&date=2025-12-15&format=csv"
    );
    assert_eq!(
        nav::href(ACME, 30, None, None),
        format!("dashboard?org_id={ACME}&days=30")
    );
}

#[test]
fn the_period_as_csv_has_the_kpi_labels_and_a_row_per_day() {
    let mut days = period(5, &[2]);
    // A day without classified calls: its rates are undefined, not 0.
    days[3].1.as_mut().unwrap().kpis.classified_calls = 0;
    let bytes = to_csv(&days);
    let text = String::from_utf8(bytes.clone()).unwrap();
    assert!(text.starts_with(
        "date,Total calls,Classified calls,Success rate,Avg minutes per call,Total call time,\
         Carrier not qualified,Transferred for booking,Carrier asked for transfer\r\n"
    ));
    assert_eq!(
        text.matches("\r\n").count(),
        6,
        "RFC 4180 line ends: {text}"
    );
    let mut r = csv::Reader::from_reader(bytes.as_slice());
    let labels: Vec<&str> = Kpi::ALL.iter().map(|k| k.label()).collect();
    assert_eq!(
        r.headers().unwrap().iter().skip(1).collect::<Vec<_>>(),
        labels
    );
    let rows: Vec<csv::StringRecord> = r.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 5);
    for (row, (date, report)) in rows.iter().zip(&days) {
        assert_eq!(&row[0], date.to_string());
        for (i, k) in Kpi::ALL.iter().enumerate() {
            let want = report.as_ref().and_then(|r| k.value(r));
            let got: Option<f64> = Some(&row[i + 1])
                .filter(|c| !c.is_empty())
                .map(|c| c.parse().unwrap());
            assert_eq!(got, want, "{date} {}", k.label());
        }
    }
    // The missing day: every KPI cell empty; the day without classified calls: its rates.
    assert_eq!(&rows[2].iter().skip(1).collect::<String>(), "");
    assert_eq!(&rows[3][3], "");
    assert!(!rows[3][1].is_empty());
    let total = days[0].1.as_ref().unwrap().kpis.total_calls;
    assert_eq!(&rows[0][1], total.to_string());
    // No period: the header alone.
    assert_eq!(
        String::from_utf8(to_csv(&[]))
            .unwrap()
            .matches("\r\n")
            .count(),
        1
    );
}
