//! Where a report's numbers came from, and how to tell cheaply that they have changed
//! (`docs/revisions.md`, "Provenance" and "Re-checking recent days").
//!
//! Every report carries a [`Provenance`]: the SHA-256 of its query's text, the ClickHouse
//! version that ran it and the [`Fingerprint`] of what it counted, all from the report's own
//! query (`day.sql` returns the fingerprint and `version()` beside the KPIs: no extra round
//! trip). [`fetch_fingerprints`] recomputes the fingerprints of several days of one org in one
//! query (`fingerprint.sql`) that reads only ids, numbers and timestamps, never `flat_data`; a
//! stored day whose fingerprint differs is regenerated as a new revision.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use chrono::{DateTime, FixedOffset, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use super::query::{DAY_SQL, datetime_param};
use super::report::{day_window, rfc3339_secs};
use crate::clickhouse::{CallStats, ClickHouse, ClickHouseError, Summary};
use crate::orgs::Organization;

/// The fingerprints of consecutive local days of one org, one row per day that has calls.
pub const FINGERPRINT_SQL: &str = include_str!("fingerprint.sql");

/// SHA-256 (lower-case hex) of the report query's text as sent (`day.sql`).
pub static QUERY_SHA256: LazyLock<String> = LazyLock::new(|| sha256_hex(DAY_SQL.as_bytes()));

/// SHA-256 of `bytes`, lower-case hex: the report query's, a stored document's
/// (`report_sha256` of a digest).
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// What a report counted, cheap to recompute: the org's runs of the day (as the report scopes
/// them: its sessions, excluded numbers left out), the node outputs of those runs (every row,
/// so a rewritten output counts) and the newest output's time. Two reports of a day with the
/// same fingerprint counted the same rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Fingerprint {
    /// Runs counted (the report's `total_calls`).
    pub runs: u64,
    /// Rows of `public_node_outputs` of the org's node for those runs, before deduplication.
    pub outputs: u64,
    /// The newest of those rows' `timestamp`, UTC; absent when there is none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub latest_output_at: Option<DateTime<Utc>>,
}

impl Fingerprint {
    /// From the query's columns: `latest_output_ms` is 0 when no output was counted.
    pub fn from_columns(runs: u64, outputs: u64, latest_output_ms: i64) -> Self {
        Fingerprint {
            runs,
            outputs,
            latest_output_at: (latest_output_ms > 0)
                .then(|| DateTime::from_timestamp_millis(latest_output_ms))
                .flatten(),
        }
    }

    /// The compact form kept in blob metadata: `<runs>.<outputs>.<latest output, unix ms>`.
    pub fn to_key(&self) -> String {
        let ms = self.latest_output_at.map_or(0, |t| t.timestamp_millis());
        format!("{}.{}.{ms}", self.runs, self.outputs)
    }

    /// Reads [`Self::to_key`]'s form; `None` for anything else.
    pub fn from_key(key: &str) -> Option<Self> {
        let mut parts = key.split('.');
        let runs = parts.next()?.parse().ok()?;
        let outputs = parts.next()?.parse().ok()?;
        let ms = parts.next()?.parse().ok()?;
        parts
            .next()
            .is_none()
            .then(|| Self::from_columns(runs, outputs, ms))
    }
}

/// Where a report's numbers came from (`metadata.provenance`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Provenance {
    /// SHA-256 (hex) of the report query's text.
    #[schema(pattern = "^[0-9a-f]{64}$")]
    pub query_sha256: String,
    /// The ClickHouse server's `version()`.
    #[schema(examples("25.8.1.1"))]
    pub engine: String,
    pub fingerprint: Fingerprint,
}

/// The revision a newer one replaced (`metadata.supersedes`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Supersedes {
    /// Its revision number.
    #[schema(minimum = 1)]
    pub revision: u32,
    /// When it was generated (RFC 3339 in the org's zone).
    #[serde(with = "rfc3339_secs")]
    #[schema(value_type = String, format = DateTime)]
    pub generated_at: DateTime<FixedOffset>,
    /// What it counted; null for a report stored before provenance.
    pub fingerprint: Option<Fingerprint>,
}

#[derive(Debug, clickhouse::Row, Deserialize)]
struct Row {
    day: u16,
    runs: u64,
    outputs: u64,
    latest_output_ms: i64,
}

/// The fingerprints of `org`'s local days `[from, to]` in one ClickHouse query: a day without
/// calls is absent from the map (its fingerprint is all zeros). The scope is the report's
/// (`day.sql`): runs whose `public_runs` rows fall in the day, through the org's sessions
/// without the excluded numbers, and its node's outputs of those runs.
///
/// Also returns what the query cost ([`CallStats`]: rows and bytes read, round trips).
///
/// Errors: [`ClickHouseError`] after the client's retries.
pub async fn fetch_fingerprints(
    ch: &ClickHouse,
    org: &Organization,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<(BTreeMap<NaiveDate, Fingerprint>, CallStats), ClickHouseError> {
    let start = datetime_param(day_window(from, org.timezone).0);
    let end = datetime_param(day_window(to, org.timezone).1);
    let (rows, stats) = ch
        .run(|client| {
            let query = client
                .query_raw(FINGERPRINT_SQL)
                .with_setting("wait_end_of_query", "1")
                .param("org_id", org.org_id.as_str())
                .param("node_id", org.node_persistent_id.as_str())
                .param("excluded", &org.excluded_numbers)
                .param("tz", org.timezone.name())
                .param("start", start.as_str())
                .param("end", end.as_str());
            async move {
                let mut cursor = query.fetch::<Row>()?;
                let mut rows = Vec::new();
                while let Some(row) = cursor.next().await? {
                    rows.push(row);
                }
                Ok((rows, Summary::from_header(cursor.summary())))
            }
        })
        .await?;
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).expect("a date");
    let days = rows
        .into_iter()
        .map(|r| {
            let day = epoch + chrono::Duration::days(i64::from(r.day));
            let fingerprint = Fingerprint::from_columns(r.runs, r.outputs, r.latest_output_ms);
            (day, fingerprint)
        })
        .collect();
    Ok((days, stats))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_metadata_key_round_trips_and_refuses_anything_else() {
        let f = Fingerprint::from_columns(42, 40, 1_765_800_000_123);
        assert_eq!(f.to_key(), "42.40.1765800000123");
        assert_eq!(Fingerprint::from_key(&f.to_key()), Some(f));
        let none = Fingerprint::from_columns(0, 0, 0);
        assert_eq!(none.latest_output_at, None);
        assert_eq!(Fingerprint::from_key("0.0.0"), Some(none));
        for bad in ["", "1.2", "1.2.3.4", "a.b.c", "-1.2.3"] {
            assert_eq!(Fingerprint::from_key(bad), None, "{bad}");
        }
        assert_eq!(QUERY_SHA256.len(), 64);
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
