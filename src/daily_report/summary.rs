//! The headline KPIs of a stored report, kept in its blob metadata so that listings
//! (`GET /api/reports`, trend, dashboard) read no report blob (`docs/daily-report.md`,
//! "Storage"). One type, written by [`ReportSummary::to_metadata`] and read back by
//! [`ReportSummary::from_metadata`].

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::report::{DailyReport, rfc3339_secs};

/// A report's headline KPIs. Metadata values are ASCII strings (keys `[a-z0-9_]`); a key that
/// is missing or unreadable (a snapshot written by an older version) reads as `None`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ReportSummary {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total_calls: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub classified_calls: Option<u64>,
    /// 0–100.
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "ReportSummary::serialize_number"
    )]
    pub success_rate_percent: Option<f64>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "ReportSummary::serialize_number"
    )]
    pub avg_minutes_per_call: Option<f64>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "ReportSummary::serialize_number"
    )]
    pub total_duration_hours: Option<f64>,
    /// 0–100.
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "ReportSummary::serialize_number"
    )]
    pub carrier_not_qualified_percent: Option<f64>,
    /// 0–100.
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "ReportSummary::serialize_number"
    )]
    pub successfully_transferred_percent: Option<f64>,
    /// RFC 3339 in the org's offset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub generated_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schema_version: Option<u32>,
}

impl ReportSummary {
    /// A KPI as metadata holds it: `50`, not `50.0` (what listings have always answered).
    pub fn serialize_number<S: serde::Serializer>(
        v: &Option<f64>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match v {
            Some(x) if x.fract() == 0.0 && x.abs() < 1e15 => s.serialize_i64(*x as i64),
            Some(x) => s.serialize_f64(*x),
            None => s.serialize_none(),
        }
    }

    /// The summary of `report`.
    pub fn of(report: &DailyReport) -> Self {
        let k = &report.kpis;
        Self {
            total_calls: Some(k.total_calls),
            classified_calls: Some(k.classified_calls),
            success_rate_percent: Some(k.success_rate_percent),
            avg_minutes_per_call: Some(k.avg_minutes_per_call),
            total_duration_hours: Some(k.total_duration_hours),
            carrier_not_qualified_percent: Some(k.carrier_not_qualified.percentage),
            successfully_transferred_percent: Some(
                k.successfully_transferred_for_booking
                    .successfully_transferred_for_booking_percentage,
            ),
            generated_at: Some(rfc3339_secs::format(&report.metadata.generated_at)),
            schema_version: Some(report.schema_version),
        }
    }

    /// As blob metadata: one key per field that is set; numbers as Rust prints them
    /// (`12.8`, `50`, `0`), the format stored since the first version.
    pub fn to_metadata(&self) -> BTreeMap<String, String> {
        let fields: [(&str, Option<String>); 9] = [
            ("total_calls", self.total_calls.map(|v| v.to_string())),
            (
                "classified_calls",
                self.classified_calls.map(|v| v.to_string()),
            ),
            (
                "success_rate_percent",
                self.success_rate_percent.map(|v| v.to_string()),
            ),
            (
                "avg_minutes_per_call",
                self.avg_minutes_per_call.map(|v| v.to_string()),
            ),
            (
                "total_duration_hours",
                self.total_duration_hours.map(|v| v.to_string()),
            ),
            (
                "carrier_not_qualified_percent",
                self.carrier_not_qualified_percent.map(|v| v.to_string()),
            ),
            (
                "successfully_transferred_percent",
                self.successfully_transferred_percent.map(|v| v.to_string()),
            ),
            ("generated_at", self.generated_at.clone()),
            ("schema_version", self.schema_version.map(|v| v.to_string())),
        ];
        fields
            .into_iter()
            .filter_map(|(k, v)| Some((k.to_string(), v?)))
            .collect()
    }

    /// Back from blob metadata; unknown keys are ignored.
    pub fn from_metadata(metadata: &BTreeMap<String, String>) -> Self {
        fn get<T: std::str::FromStr>(m: &BTreeMap<String, String>, k: &str) -> Option<T> {
            m.get(k).and_then(|v| v.parse().ok())
        }
        Self {
            total_calls: get(metadata, "total_calls"),
            classified_calls: get(metadata, "classified_calls"),
            success_rate_percent: get(metadata, "success_rate_percent"),
            avg_minutes_per_call: get(metadata, "avg_minutes_per_call"),
            total_duration_hours: get(metadata, "total_duration_hours"),
            carrier_not_qualified_percent: get(metadata, "carrier_not_qualified_percent"),
            successfully_transferred_percent: get(metadata, "successfully_transferred_percent"),
            generated_at: metadata.get("generated_at").cloned(),
            schema_version: get(metadata, "schema_version"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_round_trips_and_missing_keys_read_as_none() {
        let s = ReportSummary {
            total_calls: Some(120),
            classified_calls: Some(100),
            success_rate_percent: Some(12.8),
            avg_minutes_per_call: Some(0.0),
            generated_at: Some("2025-12-16T06:00:00-06:00".into()),
            schema_version: Some(2),
            ..Default::default()
        };
        let m = s.to_metadata();
        assert_eq!(m["total_calls"], "120");
        assert_eq!(m["success_rate_percent"], "12.8");
        assert!(!m.contains_key("total_duration_hours"));
        assert!(
            m.keys()
                .all(|k| k.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'))
        );
        assert_eq!(ReportSummary::from_metadata(&m), s);
    }
}
