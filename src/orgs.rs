//! Organizations (`../spec/daily-report.md`, "Organizations"; seed 003's `organizations`
//! table), one JSON document per org in storage at `orgs/{org_id}.json`, updated under ETags.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

/// One organization: whose calls (`org_id`, `node_persistent_id`) and in which zone its days
/// are counted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Organization {
    /// UUID, lower-case hyphenated.
    pub org_id: String,
    pub name: String,
    /// The org's workflow node in ClickHouse (`public_node_outputs.node_persistent_id`), UUID.
    pub node_persistent_id: String,
    /// IANA zone its report days are counted in (default `UTC`).
    #[serde(with = "tz_name")]
    pub timezone: Tz,
    #[serde(default = "yes")]
    pub is_active: bool,
    /// Caller numbers (E.164) left out of its reports, e.g. test lines.
    #[serde(default)]
    pub excluded_numbers: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

fn yes() -> bool {
    true
}

/// Serializes a zone as its IANA name.
pub mod tz_name {
    use chrono_tz::Tz;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(tz: &Tz, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(tz.name())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Tz, D::Error> {
        let name = String::deserialize(d)?;
        name.parse()
            .map_err(|_| serde::de::Error::custom(format!("unknown time zone {name:?}")))
    }
}
