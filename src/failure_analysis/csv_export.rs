//! The per-user CSV artifact, `user_failure_stats_YYYYMMDD_HHMMSS.csv`
//! (`docs/failure-analysis.md`, "Results" and "Artifacts").

use super::model::{Analysis, UserStats};

/// Column order: the six columns of `docs/failure-analysis.md`, "Results", then `user_id`, then the
/// 95 % interval.
const HEADER: [&str; 9] = [
    "user_name",
    "total_sessions",
    "failed_sessions",
    "success_sessions",
    "failure_rate",
    "failure_rate_percent",
    "user_id",
    "failure_rate_lower",
    "failure_rate_upper",
];

/// Renders every user of `a` (`a.users`, in the order of `rank_by`, without the
/// `min_sessions` cut) as UTF-8 CSV with a header row and `\n` line ends.
///
/// Columns: `user_name,total_sessions,failed_sessions,success_sessions,failure_rate,failure_rate_percent,user_id,failure_rate_lower,failure_rate_upper`
/// — the six columns of `docs/failure-analysis.md`, "Results", in that order, then `user_id`
/// (empty for calls without a user), then the 95 % Wilson interval (`docs/insights.md`,
/// "Failure analysis: how sure a rate is").
/// `failure_rate` and the bounds are fractions with four decimals (`0.2619`);
/// `failure_rate_percent` is the model's string as-is (`26.19%`).
///
/// Output that cannot be turned against its reader (`docs/access-and-safety.md`, "Output that
/// cannot be turned against its reader"):
/// * Every text field (the header, `user_name`, `failure_rate_percent`, `user_id`, even empty)
///   is quoted, so a reader that splits on `;` or tab, as spreadsheets in many locales do, still
///   sees one cell; numbers stay unquoted numbers (`csv::QuoteStyle::NonNumeric`, which also
///   leaves a text that itself reads as a number, a user named `2024`, unquoted: it holds
///   neither a separator nor a formula). Quotes inside a field are doubled, so every name
///   round-trips through a CSV reader.
/// * Formula injection: spreadsheet apps run a cell that starts with `=`, `+`, `-` or `@` (and
///   some treat a leading tab or CR the same way) as a formula. A text field starting with one
///   of those characters is therefore written with a leading `'` (`=1+1` → `'=1+1`), which
///   makes the cell plain text (OWASP, "CSV Injection"). Such names do not round-trip byte for
///   byte; all others do.
///
/// An analysis without users yields just the header row.
pub fn to_csv(a: &Analysis) -> Vec<u8> {
    let mut w = csv::WriterBuilder::new()
        .quote_style(csv::QuoteStyle::NonNumeric)
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(Vec::new());
    // Writing to a Vec<u8> cannot fail: the only errors are I/O errors of the sink.
    w.write_record(HEADER).expect("write to Vec");
    for u in &a.users {
        w.write_record(row(u)).expect("write to Vec");
    }
    w.into_inner().expect("flush to Vec")
}

fn row(u: &UserStats) -> [String; 9] {
    [
        defuse_formula(&u.user_name),
        u.total_sessions.to_string(),
        u.failed_sessions.to_string(),
        u.success_sessions.to_string(),
        format!("{:.4}", u.failure_rate),
        defuse_formula(&u.failure_rate_percent),
        defuse_formula(u.user_id.as_deref().unwrap_or_default()),
        format!("{:.4}", u.failure_rate_lower),
        format!("{:.4}", u.failure_rate_upper),
    ]
}

/// Prefixes `'` to a text cell a spreadsheet would evaluate as a formula (OWASP's list: `=`,
/// `+`, `-`, `@`, tab, carriage return). Only for text: a number (`-2`) is written as is.
fn defuse_formula(cell: &str) -> String {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{cell}")
    } else {
        cell.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::{analysis, user};
    use super::*;

    /// The `user_name` cells of the CSV of one user per name in `names` (each with 1 failure
    /// in `total` sessions), as a CSV reader reads them back; the header is checked on the way.
    fn names_read_back(names: &[&str], total: i64) -> Vec<String> {
        let users = names.iter().map(|n| user(n, None, 1, total)).collect();
        let bytes = to_csv(&analysis(users));
        let mut r = csv::Reader::from_reader(bytes.as_slice());
        assert_eq!(r.headers().unwrap(), HEADER.as_slice());
        r.records().map(|rec| rec.unwrap()[0].to_owned()).collect()
    }

    #[test]
    fn header_and_rows_in_ranking_order() {
        let a = analysis(vec![
            user(
                "Anushka",
                Some("0b5c7a3e-0000-4000-8000-000000000001"),
                4,
                8,
            ),
            user(
                "Akhilesh",
                Some("0b5c7a3e-0000-4000-8000-000000000002"),
                11,
                42,
            ),
            user("Unknown", None, 0, 5),
        ]);
        let text = String::from_utf8(to_csv(&a)).unwrap();
        assert_eq!(
            text,
            "\"user_name\",\"total_sessions\",\"failed_sessions\",\"success_sessions\",\"failure_rate\",\"failure_rate_percent\",\"user_id\",\"failure_rate_lower\",\"failure_rate_upper\"\n\
             \"Anushka\",8,4,4,0.5000,\"50.00%\",\"0b5c7a3e-0000-4000-8000-000000000001\",0.2152,0.7848\n\
             \"Akhilesh\",42,11,31,0.2619,\"26.19%\",\"0b5c7a3e-0000-4000-8000-000000000002\",0.1530,0.4107\n\
             \"Unknown\",5,0,5,0.0000,\"0.00%\",\"\",0.0000,0.4345\n"
        );
    }

    #[test]
    fn empty_analysis_is_header_only() {
        let text = String::from_utf8(to_csv(&analysis(vec![]))).unwrap();
        assert_eq!(text.lines().count(), 1);
        assert!(text.starts_with("\"user_name\",\"total_sessions\","));
    }

    #[test]
    fn awkward_names_round_trip() {
        let names = [
            "Lal, Adit",
            "Say \"hi\"",
            "line\nbreak",
            "</script>&<b>",
            "  padded  ",
            "Ünïcødé 名前",
        ];
        assert_eq!(names_read_back(&names, 3), names);
    }

    #[test]
    fn formula_like_names_are_defused() {
        let names = [
            "=HYPERLINK(\"http://x\")",
            "+1",
            "-2",
            "@SUM(A1)",
            "\tx",
            "\rx",
        ];
        let expected: Vec<String> = names.iter().map(|n| format!("'{n}")).collect();
        assert_eq!(names_read_back(&names, 2), expected);
        // Only a leading character triggers it; numbers in other columns are untouched.
        assert_eq!(defuse_formula("a=b"), "a=b");
        assert_eq!(defuse_formula("O'Brien"), "O'Brien");
    }

    /// `docs/access-and-safety.md`, "Output that cannot be turned against its reader": a name
    /// made to break out of its cell for a reader that splits on `;` or tab, or to run as a
    /// formula there, stays one quoted text cell; the numbers beside it stay bare numbers.
    #[test]
    fn text_is_quoted_so_semicolon_and_tab_readers_see_one_harmless_cell() {
        let users = ["x;=1+1;", "\t=1+2", "2024"]
            .iter()
            .map(|n| user(n, Some("=cmd|' /C calc'!A0"), 1, 3))
            .collect();
        let text = String::from_utf8(to_csv(&analysis(users))).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[1],
            "\"x;=1+1;\",3,1,2,0.3333,\"33.33%\",\"'=cmd|' /C calc'!A0\",0.0615,0.7923"
        );
        assert_eq!(
            lines[2],
            "\"'\t=1+2\",3,1,2,0.3333,\"33.33%\",\"'=cmd|' /C calc'!A0\",0.0615,0.7923"
        );
        // A name that is itself a number is written like one: no separator, no formula.
        assert!(lines[3].starts_with("2024,3,1,2,0.3333,"), "{}", lines[3]);
        // A reader that splits on `;` or tab (and honours quotes, as spreadsheets do) sees no
        // cell that starts a formula.
        for sep in [b';', b'\t'] {
            let mut r = csv::ReaderBuilder::new()
                .delimiter(sep)
                .has_headers(false)
                .flexible(true)
                .from_reader(text.as_bytes());
            for record in r.records() {
                let record = record.unwrap();
                for cell in &record {
                    assert!(
                        !cell.starts_with(['=', '+', '-', '@', '\t', '\r']),
                        "split on {sep:?}: {record:?}"
                    );
                }
            }
        }
    }
}
