//! The headline KPIs of a stored report, kept in its blob metadata so that listings
//! (`GET /api/reports`, trend, dashboard) read no report blob (`docs/daily-report.md`,
//! "Storage"). One type, written by [`ReportSummary::to_metadata`] and read back by
//! [`ReportSummary::from_metadata`]; which KPIs it keeps, and under which keys, their
//! definitions say ([`Kpi::kept`], `Definition::metadata_key`).

use std::collections::BTreeMap;

use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, Schema, SchemaFormat, Type};

use super::kpi::Kpi;
use super::report::{DailyReport, rfc3339_secs};

/// A report's headline KPIs as its blob metadata keeps them. Metadata values are ASCII
/// strings (keys `[a-z0-9_]`).
///
/// As JSON (a listing's `summary`): `{"total_calls": 120, …, "generated_at": "…",
/// "schema_version": 2}`, each KPI it has by its number key, in [`Kpi::ALL`] order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReportSummary {
    /// The number of each kept KPI ([`Kpi::kept`]) the metadata holds; one whose key is
    /// missing or unreadable (a snapshot written by an older version) is absent.
    pub kpis: BTreeMap<Kpi, f64>,
    /// RFC 3339 in the org's offset.
    pub generated_at: Option<String>,
    pub schema_version: Option<u32>,
}

/// A KPI's number as listings have always written it: a whole number as an integer (`50`, not
/// `50.0`), `None` as `null`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct KpiNumber(
    #[serde(serialize_with = "crate::stats::option_whole_as_integer")] pub Option<f64>,
);

impl ReportSummary {
    /// The summary of `report`.
    pub fn of(report: &DailyReport) -> Self {
        Self {
            kpis: Kpi::kept()
                .map(|(k, _)| (k, k.read(report).stored()))
                .collect(),
            generated_at: Some(rfc3339_secs::format(&report.metadata.generated_at)),
            schema_version: Some(report.schema_version),
        }
    }

    /// Every kept KPI ([`Kpi::kept`]) by its metadata key, with its number (`None`: the summary
    /// has none), in [`Kpi::ALL`] order.
    pub fn numbers(&self) -> impl Iterator<Item = (&'static str, KpiNumber)> + '_ {
        Kpi::kept().map(|(k, key)| (key, KpiNumber(self.kpis.get(&k).copied())))
    }

    /// As blob metadata: one key per KPI it has and per other field that is set; numbers as
    /// Rust prints them (`12.8`, `50`, `0`), the format stored since the first version.
    pub fn to_metadata(&self) -> BTreeMap<String, String> {
        let kpis = Kpi::kept()
            .filter_map(|(k, key)| Some((key.to_string(), self.kpis.get(&k)?.to_string())));
        let others = [
            ("generated_at", self.generated_at.clone()),
            ("schema_version", self.schema_version.map(|v| v.to_string())),
        ];
        kpis.chain(
            others
                .into_iter()
                .filter_map(|(k, v)| Some((k.to_string(), v?))),
        )
        .collect()
    }

    /// Back from blob metadata; unknown keys are ignored, and so is a number that does not
    /// parse.
    pub fn from_metadata(metadata: &BTreeMap<String, String>) -> Self {
        let number = |(k, key): (Kpi, &str)| {
            let v: f64 = metadata.get(key)?.parse().ok()?;
            v.is_finite().then_some((k, v))
        };
        Self {
            kpis: Kpi::kept().filter_map(number).collect(),
            generated_at: metadata.get("generated_at").cloned(),
            schema_version: metadata.get("schema_version").and_then(|v| v.parse().ok()),
        }
    }
}

/// Its schema: every kept KPI's number by its metadata key ([`Kpi::number_schema`]), then
/// `generated_at` and `schema_version`.
impl utoipa::PartialSchema for ReportSummary {
    fn schema() -> RefOr<Schema> {
        let kpis = Kpi::kept().fold(ObjectBuilder::new(), |object, (kpi, key)| {
            object.property(key, kpi.number_schema(false)).required(key)
        });
        let date_time = ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime)));
        let version = ObjectBuilder::new()
            .schema_type(Type::Integer)
            .minimum(Some(1));
        kpis.description(Some(
            "The headline KPIs kept in the stored report's metadata.",
        ))
        .property("generated_at", date_time)
        .required("generated_at")
        .property("schema_version", version)
        .required("schema_version")
        .into()
    }
}

impl utoipa::ToSchema for ReportSummary {}

impl Serialize for ReportSummary {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        for (key, number) in self.numbers().filter(|(_, n)| n.0.is_some()) {
            map.serialize_entry(key, &number)?;
        }
        if let Some(t) = &self.generated_at {
            map.serialize_entry("generated_at", t)?;
        }
        if let Some(v) = self.schema_version {
            map.serialize_entry("schema_version", &v)?;
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_round_trips_and_missing_keys_read_as_none() {
        let s = ReportSummary {
            kpis: [
                (Kpi::TotalCalls, 120.0),
                (Kpi::ClassifiedCalls, 100.0),
                (Kpi::SuccessRate, 12.8),
                (Kpi::AvgMinutesPerCall, 0.0),
            ]
            .into(),
            generated_at: Some("2025-12-16T06:00:00-06:00".into()),
            schema_version: Some(2),
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
        // As a listing answers it: whole numbers as integers, what is missing left out.
        assert_eq!(
            serde_json::to_string(&s).unwrap(),
            r#"{"total_calls":120,"classified_calls":100,"success_rate_percent":12.8,"avg_minutes_per_call":0,"generated_at":"2025-12-16T06:00:00-06:00","schema_version":2}"#
        );
        // A value that does not parse reads as missing.
        let mut m = m;
        m.insert("total_calls".into(), "many".into());
        assert_eq!(
            ReportSummary::from_metadata(&m).kpis.get(&Kpi::TotalCalls),
            None
        );
    }
}
