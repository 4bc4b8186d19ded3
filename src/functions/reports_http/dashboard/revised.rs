//! The note over a revised report (`docs/revisions.md`, "Re-checking recent days": the
//! dashboard says when the report it shows was revised and what changed in what was counted,
//! and links the revisions): `Revised 14:05: 25 more calls arrived, 3 call outcomes updated`,
//! from the fingerprint the revision replaced (`metadata.supersedes.fingerprint`) against its
//! own (`metadata.provenance.fingerprint`), the time in the org's zone.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use super::Revised;
use super::breakdowns::Links;
use crate::daily_report::provenance::Fingerprint;
use crate::daily_report::report::DailyReport;
use crate::render::format::{long_date, plural};

/// The note of `report` (the day the page shows) when it is a revision after the first;
/// `None` for a first report. `now` is the page's time: a revision made on the same local day
/// shows its time only (`Revised 14:05`), an older one its day too (`Revised Tue 2025-12-16
/// 14:05`).
pub(super) fn note(
    report: &DailyReport,
    tz: Tz,
    now: DateTime<Utc>,
    links: &Links<'_>,
) -> Option<Revised> {
    let m = &report.metadata;
    if m.revision <= 1 {
        return None;
    }
    let at = m.generated_at.with_timezone(&tz);
    let when = if at.date_naive() == now.with_timezone(&tz).date_naive() {
        at.format("%H:%M").to_string()
    } else {
        format!("{} {}", long_date(at.date_naive()), at.format("%H:%M"))
    };
    let previous = m.supersedes.as_ref();
    let changed = what_changed(
        previous.and_then(|s| s.fingerprint.as_ref()),
        m.provenance.as_ref().map(|p| &p.fingerprint),
    );
    let text = match changed {
        Some(changed) => format!("Revised {when}: {changed}"),
        None => format!("Revised {when}"),
    };
    let mut title = format!(
        "Revision {} of {}, generated {} ({})",
        m.revision,
        long_date(links.date),
        at.format("%Y-%m-%d %H:%M"),
        tz.name()
    );
    if let Some(s) = previous {
        title.push_str(&format!(
            "; it replaced revision {}, generated {}",
            s.revision,
            s.generated_at.with_timezone(&tz).format("%Y-%m-%d %H:%M")
        ));
    }
    Some(Revised {
        revision: m.revision,
        text,
        title,
        href: links.revisions(),
    })
}

/// What changed in what was counted, from the replaced revision's fingerprint to the
/// revision's: `25 more calls arrived`, `2 fewer calls counted`, and the node outputs not
/// explained by one per added call as `3 call outcomes updated` (an output rewritten after
/// the call adds a row; `call outcomes updated` without a number when the rows changed
/// otherwise, say merged, or only the newest output's time did). `the same calls were
/// counted` when nothing differs (a forced regeneration); `None` when either fingerprint is
/// unknown (a report stored before provenance).
pub(super) fn what_changed(
    before: Option<&Fingerprint>,
    after: Option<&Fingerprint>,
) -> Option<String> {
    let (before, after) = (before?, after?);
    let runs = i128::from(after.runs) - i128::from(before.runs);
    let outputs = i128::from(after.outputs) - i128::from(before.outputs);
    let count = |n: i128| usize::try_from(n.unsigned_abs()).unwrap_or(usize::MAX);
    let mut parts = Vec::new();
    if runs > 0 {
        parts.push(plural(
            count(runs),
            "more call arrived",
            "more calls arrived",
        ));
    } else if runs < 0 {
        parts.push(plural(
            count(runs),
            "fewer call counted",
            "fewer calls counted",
        ));
    }
    // Outputs beyond one per added call.
    let updated = outputs - runs.max(0);
    if updated > 0 {
        parts.push(plural(
            count(updated),
            "call outcome updated",
            "call outcomes updated",
        ));
    } else if runs == 0 && (outputs != 0 || after.latest_output_at != before.latest_output_at) {
        parts.push("call outcomes updated".to_string());
    }
    if parts.is_empty() {
        parts.push("the same calls were counted".to_string());
    }
    Some(parts.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(runs: u64, outputs: u64, latest_ms: i64) -> Fingerprint {
        Fingerprint::from_columns(runs, outputs, latest_ms)
    }

    #[test]
    fn what_changed_says_what_was_counted() {
        let t = 1_765_800_000_000;
        let said = |before: Fingerprint, after: Fingerprint| {
            what_changed(Some(&before), Some(&after)).unwrap()
        };
        assert_eq!(
            said(f(100, 100, t), f(125, 125, t + 1)),
            "25 more calls arrived"
        );
        assert_eq!(said(f(1, 1, t), f(2, 2, t + 1)), "1 more call arrived");
        assert_eq!(
            said(f(100, 100, t), f(100, 103, t + 1)),
            "3 call outcomes updated"
        );
        assert_eq!(
            said(f(100, 100, t), f(100, 101, t + 1)),
            "1 call outcome updated"
        );
        assert_eq!(
            said(f(100, 100, t), f(125, 128, t + 1)),
            "25 more calls arrived, 3 call outcomes updated"
        );
        // New calls whose outputs have not arrived yet update nothing.
        assert_eq!(
            said(f(100, 100, t), f(125, 110, t + 1)),
            "25 more calls arrived"
        );
        assert_eq!(said(f(100, 100, t), f(98, 98, t)), "2 fewer calls counted");
        assert_eq!(said(f(1, 1, t), f(0, 0, 0)), "1 fewer call counted");
        // Rows merged away, or only a newer output time: updated, without a number.
        assert_eq!(
            said(f(100, 104, t), f(100, 100, t + 1)),
            "call outcomes updated"
        );
        assert_eq!(
            said(f(100, 100, t), f(100, 100, t + 1)),
            "call outcomes updated"
        );
        assert_eq!(
            said(f(100, 100, t), f(100, 100, t)),
            "the same calls were counted"
        );
        assert_eq!(what_changed(None, Some(&f(1, 1, t))), None);
        assert_eq!(what_changed(Some(&f(1, 1, t)), None), None);
    }

    #[test]
    fn the_note_is_in_the_orgs_zone_and_links_the_revisions() {
        use crate::daily_report::provenance::Supersedes;
        use crate::daily_report::query::DayCounts;
        use crate::daily_report::report::build;
        use crate::orgs::Organization;
        let org = Organization {
            org_id: crate::orgs::OrgId::parse("01951f56-8c6e-7a93-a971-3d06a81a1ab0", "org_id")
                .unwrap(),
            name: "Acme".into(),
            node_persistent_id: "019b099d-77fd-7e09-9d2b-cd4c476a0a19".into(),
            timezone: chrono_tz::America::Chicago,
            is_active: true,
            excluded_numbers: vec![],
            notifications: vec![],
            created_at: Utc::now(),
            updated_at: Utc::now(),
        };
        let date = "2025-12-15".parse().unwrap();
        let first: DateTime<Utc> = "2025-12-16T12:00:00Z".parse().unwrap();
        let revised: DateTime<Utc> = "2025-12-16T20:05:00Z".parse().unwrap();
        let counts = DayCounts {
            total_calls: 125,
            output_rows: 125,
            ..DayCounts::default()
        };
        let mut r = build(&org, date, &counts, Default::default(), 0, revised);
        let links = Links {
            org_id: org.org_id.as_str(),
            date,
        };
        let tz = org.timezone;
        assert!(note(&r, tz, revised, &links).is_none(), "a first report");
        r.metadata.revision = 2;
        r.metadata.supersedes = Some(Supersedes {
            revision: 1,
            generated_at: first.with_timezone(&tz).fixed_offset(),
            fingerprint: Some(f(100, 100, 0)),
        });
        let n = note(&r, tz, revised, &links).unwrap();
        // 20:05 UTC is 14:05 in Chicago.
        assert_eq!(n.text, "Revised 14:05: 25 more calls arrived");
        assert_eq!(n.revision, 2);
        assert_eq!(
            n.href,
            "reports/2025-12-15/revisions?org_id=01951f56-8c6e-7a93-a971-3d06a81a1ab0"
        );
        assert_eq!(
            n.title,
            "Revision 2 of Mon 2025-12-15, generated 2025-12-16 14:05 (America/Chicago); it \
             replaced revision 1, generated 2025-12-16 06:00"
        );
        // Seen the next day, the note names the day of the revision.
        let later = revised + chrono::Duration::days(1);
        assert_eq!(
            note(&r, tz, later, &links).unwrap().text,
            "Revised Tue 2025-12-16 14:05: 25 more calls arrived"
        );
        // A replaced report stored before provenance: when only.
        r.metadata.supersedes.as_mut().unwrap().fingerprint = None;
        assert_eq!(note(&r, tz, revised, &links).unwrap().text, "Revised 14:05");
    }
}
