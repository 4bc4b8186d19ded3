//! The calls behind a number of a daily report (`docs/insights.md`, "Daily report: the calls
//! behind a number"): live from ClickHouse, one org's local date with the report's scoping
//! (runs in the day's window with a session of the org from a number not excluded, each with
//! the latest output of the org's node), newest first, a page at a time.
//!
//! # Selection ([`Filter`])
//! * [`Filter::Dimension`]: the classified calls (non-empty classification, as the breakdowns
//!   count) whose value of one breakdown equals the given one, `UNKNOWN` selecting a missing or
//!   empty value, exactly as the report maps them. Over every page, the calls of one breakdown
//!   value are the report's count for it (when the data has not changed since).
//! * [`Filter::Hour`]: every call (as `total_calls` counts them) of one local clock hour `HH`;
//!   on a fall-back day `01` covers both 01:00 hours, on a spring-forward day the skipped hour
//!   has no calls. The hour becomes the query's window: its UTC span from
//!   [`super::report::day_hours`], the hours of `by_hour`.
//! * [`Filter::All`]: every call of the day.
//!
//! # Paging
//! Keyset pagination on `(started_at, run_id)` descending: a page's [`Page::next_cursor`] is
//! the opaque text of its last call's key (URL-safe base64 of `"<unix ms>:<run_id>"`); the next
//! page takes the calls strictly before it, so no call is returned twice or skipped while the
//! data stays as it is. `null` after the last page. `limit` is 1..=[`MAX_LIMIT`].
//!
//! # Cost
//! One query per page (`calls.sql`, all values bound parameters), each `flat_data` parsed once;
//! the window ends just after the cursor, so later pages read less of the day.
//!
//! # Phone numbers
//! `user_number` is masked to its last 4 digits (`+19259898099` → `+•••••••8099`) unless the
//! caller may see it ([`Query::reveal_numbers`]: the admin, see the HTTP layer).

use base64::Engine as _;
use chrono::{DateTime, FixedOffset, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::query::datetime_param;
use super::report::{day_hours, day_window, rfc3339_secs};
use crate::clickhouse::{ClickHouse, ClickHouseError, Summary};
use crate::orgs::{OrgId, Organization};

/// The query of one page. Parameters: `org_id`, `node_id`, `excluded`, `start`, `end`,
/// `dimension` (`''` for every call), `value`, `before_ms`, `before_run`, `limit`.
pub const CALLS_SQL: &str = include_str!("calls.sql");

/// `limit` when the request names none.
pub const DEFAULT_LIMIT: u32 = 50;

/// The largest `limit`.
pub const MAX_LIMIT: u32 = 500;

/// A breakdown of the report whose values select calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dimension {
    CallStage,
    CallClassification,
    LoadStatus,
    PricingNotes,
    CarrierEndState,
}

impl Dimension {
    /// Every dimension, in the report's breakdown order.
    pub const ALL: [Dimension; 5] = [
        Dimension::CallStage,
        Dimension::CallClassification,
        Dimension::LoadStatus,
        Dimension::PricingNotes,
        Dimension::CarrierEndState,
    ];

    /// Its name: the breakdown's and the query parameter's (`call_stage`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Dimension::CallStage => "call_stage",
            Dimension::CallClassification => "call_classification",
            Dimension::LoadStatus => "load_status",
            Dimension::PricingNotes => "pricing_notes",
            Dimension::CarrierEndState => "carrier_end_state",
        }
    }

    /// The dimension called `name`, if one is.
    pub fn from_name(name: &str) -> Option<Dimension> {
        Dimension::ALL.into_iter().find(|d| d.name() == name)
    }
}

/// Which calls of the day (see the module doc).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Filter {
    All,
    /// A breakdown value as the report shows it (`UNKNOWN` = missing or empty).
    Dimension(Dimension, String),
    /// A local clock hour, 0-23.
    Hour(u32),
}

/// Where a page starts: just before this call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    /// The call's `public_runs.timestamp`, unix milliseconds.
    pub started_ms: i64,
    pub run_id: String,
}

impl Cursor {
    /// The opaque text form: URL-safe base64 (no padding) of `"<started_ms>:<run_id>"`.
    pub fn encode(&self) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(format!("{}:{}", self.started_ms, self.run_id))
    }

    /// Reads [`Cursor::encode`]'s text; `None` when it is not one.
    pub fn decode(text: &str) -> Option<Cursor> {
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(text)
            .ok()?;
        let text = String::from_utf8(bytes).ok()?;
        let (ms, run_id) = text.split_once(':')?;
        let started_ms = ms.parse().ok()?;
        DateTime::from_timestamp_millis(started_ms)?;
        Some(Cursor {
            started_ms,
            run_id: run_id.to_string(),
        })
    }
}

/// One request for a page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    pub filter: Filter,
    /// 1..=[`MAX_LIMIT`].
    pub limit: u32,
    /// `None` for the first page.
    pub cursor: Option<Cursor>,
    /// Show `user_number` whole (else masked to its last 4 digits).
    pub reveal_numbers: bool,
}

/// One page of calls, newest first.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[schema(as = CallsPage)]
pub struct Page {
    pub org_id: OrgId,
    pub date: NaiveDate,
    /// Newest first.
    #[schema(max_items = 500)]
    pub calls: Vec<Call>,
    /// The cursor of the next page (pass it as `cursor`); `null` after the last one.
    #[schema(required)]
    pub next_cursor: Option<String>,
}

/// One call: a run of the org in the day's window with its latest output. Text fields of the
/// output are `null` when missing or empty.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Call {
    pub run_id: String,
    /// `public_runs.timestamp` in the org's zone, RFC 3339 to the second.
    #[serde(with = "rfc3339_secs")]
    pub started_at: DateTime<FixedOffset>,
    /// Σ session durations of the run, seconds.
    #[schema(minimum = 0)]
    pub duration_seconds: f64,
    #[schema(required)]
    pub call_classification: Option<String>,
    #[schema(required)]
    pub call_stage: Option<String>,
    #[schema(required)]
    pub load_status: Option<String>,
    #[schema(required)]
    pub pricing_notes: Option<String>,
    #[schema(required)]
    pub carrier_end_state: Option<String>,
    #[schema(required)]
    pub carrier_name: Option<String>,
    #[schema(required)]
    pub reference_number: Option<String>,
    /// `result.pricing.agreed_upon_rate` (a JSON number, or a string holding one).
    #[schema(required)]
    pub agreed_upon_rate: Option<f64>,
    /// E.164; masked to its last 4 digits (`+•••••••8099`) unless the caller is an admin.
    #[schema(examples("+•••••••8099"))]
    pub user_number: String,
}

/// A row of [`CALLS_SQL`].
#[derive(Debug, Clone, clickhouse::Row, Deserialize)]
struct CallRow {
    run_id: String,
    started_ms: i64,
    duration_seconds: f64,
    user_number: String,
    call_classification: String,
    call_stage: String,
    load_status: String,
    pricing_notes: String,
    carrier_end_state: String,
    carrier_name: String,
    reference_number: String,
    agreed_upon_rate: Option<f64>,
}

/// `number` masked to its last 4 characters: every character but a leading `+` and the last
/// 4 becomes `•` (`+19259898099` → `+•••••••8099`); a number of 4 characters or fewer is masked
/// whole.
pub fn mask(number: &str) -> String {
    let (plus, digits) = match number.strip_prefix('+') {
        Some(rest) => ("+", rest),
        None => ("", number),
    };
    let n = digits.chars().count();
    let keep = if n > 4 { 4 } else { 0 };
    let mut masked = String::from(plus);
    masked.extend(std::iter::repeat_n('•', n - keep));
    masked.extend(digits.chars().skip(n - keep));
    masked
}

/// The UTC window `[start, end)` a filter reads on `date`: the day, or the span of the local
/// hour (`None` when the day has no such hour: the hour skipped by a spring-forward).
pub fn window(
    date: NaiveDate,
    tz: chrono_tz::Tz,
    filter: &Filter,
) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    match filter {
        Filter::Hour(h) => {
            let hours: Vec<_> = day_hours(date, tz)
                .into_iter()
                .filter(|x| x.hour == *h)
                .collect();
            // The repeated hour of a fall-back day is two adjacent spans.
            Some((hours.first()?.start, hours.last()?.end))
        }
        _ => Some(day_window(date, tz)),
    }
}

/// One page of `org`'s calls on its local `date` (see the module doc): one ClickHouse query.
///
/// Errors: [`ClickHouseError`] (after retries of transient failures).
pub async fn fetch(
    ch: &ClickHouse,
    org: &Organization,
    date: NaiveDate,
    query: &Query,
) -> Result<Page, ClickHouseError> {
    let tz = org.timezone;
    let empty = Page {
        org_id: org.org_id.clone(),
        date,
        calls: vec![],
        next_cursor: None,
    };
    let Some((start, mut end)) = window(date, tz, &query.filter) else {
        return Ok(empty);
    };
    let (before_ms, before_run) = match &query.cursor {
        Some(c) => (c.started_ms, c.run_id.clone()),
        None => (end.timestamp_millis(), String::new()),
    };
    // Calls at the cursor's millisecond may still follow it (smaller run id): end 1 ms later.
    if let Some(after) = DateTime::from_timestamp_millis(before_ms.saturating_add(1)) {
        end = end.min(after);
    }
    if start >= end {
        return Ok(empty);
    }
    let (dimension, value) = match &query.filter {
        Filter::Dimension(d, v) => (d.name(), v.as_str()),
        _ => ("", ""),
    };
    let (start, end) = (datetime_param(start), datetime_param(end));
    let limit = query.limit.clamp(1, MAX_LIMIT);
    let (rows, _) = ch
        .run(|client| {
            let q = client
                .query_raw(CALLS_SQL)
                .param("org_id", org.org_id.as_str())
                .param("node_id", org.node_persistent_id.as_str())
                .param("excluded", &org.excluded_numbers)
                .param("start", start.as_str())
                .param("end", end.as_str())
                .param("dimension", dimension)
                .param("value", value)
                .param("before_ms", before_ms)
                .param("before_run", before_run.as_str())
                .param("limit", limit + 1);
            async move {
                let mut cursor = q.fetch::<CallRow>()?;
                let mut rows = Vec::new();
                while let Some(row) = cursor.next().await? {
                    rows.push(row);
                }
                Ok((rows, Summary::from_header(cursor.summary())))
            }
        })
        .await?;
    Ok(page(org, date, rows, limit, query.reveal_numbers))
}

/// The page of up to `limit` of `rows` (which hold up to `limit + 1`: one more means there is
/// a next page).
fn page(
    org: &Organization,
    date: NaiveDate,
    mut rows: Vec<CallRow>,
    limit: u32,
    reveal: bool,
) -> Page {
    let more = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    let next_cursor = rows.last().filter(|_| more).map(|r| {
        Cursor {
            started_ms: r.started_ms,
            run_id: r.run_id.clone(),
        }
        .encode()
    });
    let text = |s: String| (!s.is_empty()).then_some(s);
    let calls = rows
        .into_iter()
        .map(|r| Call {
            started_at: DateTime::from_timestamp_millis(r.started_ms)
                .unwrap_or_default()
                .with_timezone(&org.timezone)
                .fixed_offset(),
            run_id: r.run_id,
            duration_seconds: r.duration_seconds,
            call_classification: text(r.call_classification),
            call_stage: text(r.call_stage),
            load_status: text(r.load_status),
            pricing_notes: text(r.pricing_notes),
            carrier_end_state: text(r.carrier_end_state),
            carrier_name: text(r.carrier_name),
            reference_number: text(r.reference_number),
            agreed_upon_rate: r.agreed_upon_rate.filter(|x| x.is_finite()),
            user_number: if reveal {
                r.user_number
            } else {
                mask(&r.user_number)
            },
        })
        .collect();
    Page {
        org_id: org.org_id.clone(),
        date,
        calls,
        next_cursor,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_masked_to_their_last_four_digits() {
        assert_eq!(mask("+19259898099"), "+•••••••8099");
        assert_eq!(mask("02071234567"), "•••••••4567");
        assert_eq!(mask("+1234"), "+••••");
        assert_eq!(mask(""), "");
    }

    #[test]
    fn cursors_round_trip_and_garbage_is_rejected() {
        let c = Cursor {
            started_ms: 1_762_068_600_000,
            run_id: "r:1/ü".into(),
        };
        let text = c.encode();
        assert!(
            text.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        assert_eq!(Cursor::decode(&text), Some(c));
        for bad in ["", "!!", "bm90IGEgY3Vyc29y", "eDox"] {
            // "", not base64, "not a cursor", "x:1"
            assert_eq!(Cursor::decode(bad), None, "{bad}");
        }
    }

    #[test]
    fn an_hour_is_its_span_and_the_repeated_hour_both_spans() {
        let chicago = chrono_tz::America::Chicago;
        let day = |s: &str| s.parse::<NaiveDate>().unwrap();
        let span = |date: &str, h| {
            window(day(date), chicago, &Filter::Hour(h))
                .map(|(s, e)| (s.to_rfc3339(), e.to_rfc3339()))
        };
        assert_eq!(
            span("2025-11-02", 1),
            Some((
                "2025-11-02T06:00:00+00:00".into(),
                "2025-11-02T08:00:00+00:00".into()
            ))
        );
        assert_eq!(span("2025-03-09", 2), None);
        assert_eq!(
            span("2025-03-09", 3),
            Some((
                "2025-03-09T08:00:00+00:00".into(),
                "2025-03-09T09:00:00+00:00".into()
            ))
        );
        assert_eq!(
            window(day("2025-12-15"), chicago, &Filter::All),
            Some(day_window(day("2025-12-15"), chicago))
        );
    }
}
