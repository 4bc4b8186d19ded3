//! The period's daily series as CSV (`GET /api/dashboard?…&format=csv`; `docs/http-api.md`,
//! "The dashboard").

use chrono::NaiveDate;

use crate::daily_report::kpi::Kpi;
use crate::daily_report::report::DailyReport;

/// `days` (the period, in date order; `None` where no report is stored) as RFC 4180 CSV,
/// UTF-8, CRLF line ends: a header row `date` then each headline KPI's label in [`Kpi::ALL`]
/// order, then one row per date, `YYYY-MM-DD` then each KPI's number as the report stores it
/// (`271`, `15.17`; percentages in percent, minutes and hours as decimals). A cell is empty
/// where the day has no report or the KPI is undefined that day (a rate without classified
/// calls, the average length without calls), as the page shows a gap there, never a 0.
///
/// Every cell is a date, a number or a label of this crate: none can start a spreadsheet
/// formula (`docs/access-and-safety.md`, "Output that cannot be turned against its reader").
pub fn to_csv(days: &[(NaiveDate, Option<DailyReport>)]) -> Vec<u8> {
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    // Writing to a Vec<u8> cannot fail: the only errors are I/O errors of the sink.
    w.write_record(std::iter::once("date").chain(Kpi::ALL.iter().map(|k| k.label())))
        .expect("write to Vec");
    for (date, report) in days {
        let cells = Kpi::ALL.iter().map(|k| {
            report
                .as_ref()
                .and_then(|r| k.value(r))
                .map_or_else(String::new, |v| v.to_string())
        });
        w.write_record(std::iter::once(date.to_string()).chain(cells))
            .expect("write to Vec");
    }
    w.into_inner().expect("flush to Vec")
}
