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

impl Organization {
    /// The local date before `now`'s, in the org's zone (the default report date, seed 003).
    pub fn yesterday(&self, now: DateTime<Utc>) -> chrono::NaiveDate {
        now.with_timezone(&self.timezone).date_naive() - chrono::Duration::days(1)
    }
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

use bytes::Bytes;

use crate::configuration::DefaultOrgSettings;
use crate::error::Invalid;
use crate::storage::{Condition, Put, Storage, StorageError};

/// Storage prefix of the org documents.
pub const PREFIX: &str = "orgs/";

/// The document name of an org: `orgs/{org_id}.json`.
pub fn doc_name(org_id: &str) -> String {
    format!("{PREFIX}{org_id}.json")
}

/// What can go wrong with an org, by cause.
#[derive(Debug, thiserror::Error)]
pub enum OrgError {
    #[error(transparent)]
    Invalid(#[from] Invalid),
    #[error("organization {0} already exists")]
    Exists(String),
    #[error("organization {0} not found")]
    NotFound(String),
    #[error("organization {0} changed since it was read")]
    Stale(String),
    #[error("organization document {0} is unreadable: {1}")]
    Corrupt(String, String),
    #[error(transparent)]
    Storage(StorageError),
}

/// The fields of `POST /api/orgs` (seed 003's create body) and of the default org.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewOrganization {
    pub org_id: String,
    pub name: String,
    pub node_persistent_id: String,
    pub timezone: Option<String>,
    pub is_active: Option<bool>,
    pub excluded_numbers: Option<Vec<String>>,
}

/// The fields `PATCH /api/orgs/{org_id}` may change (`org_id` may not).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrgPatch {
    pub name: Option<String>,
    pub node_persistent_id: Option<String>,
    pub timezone: Option<String>,
    pub is_active: Option<bool>,
    pub excluded_numbers: Option<Vec<String>>,
}

/// A UUID in canonical lower-case form; [`Invalid`] naming `field` otherwise.
pub fn parse_uuid(value: &str, field: &str) -> Result<String, Invalid> {
    uuid::Uuid::parse_str(value.trim())
        .map(|u| u.hyphenated().to_string())
        .map_err(|_| Invalid::new(field, format!("{value:?} is not a UUID")))
}

fn parse_tz(value: &str, field: &str) -> Result<Tz, Invalid> {
    value
        .parse()
        .map_err(|_| Invalid::new(field, format!("unknown time zone {value:?}")))
}

fn check_name(name: &str) -> Result<String, Invalid> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(Invalid::new("name", "name must be 1-200 characters"));
    }
    Ok(name.to_string())
}

/// E.164: `+` then 2-15 digits, the first not 0.
fn check_numbers(numbers: &[String]) -> Result<Vec<String>, Invalid> {
    numbers
        .iter()
        .map(|n| {
            let digits = n.strip_prefix('+').unwrap_or("");
            let ok = (2..=15).contains(&digits.len())
                && digits.bytes().all(|b| b.is_ascii_digit())
                && !digits.starts_with('0');
            ok.then(|| n.clone()).ok_or_else(|| {
                Invalid::new(
                    "excluded_numbers",
                    format!("{n:?} is not an E.164 number such as +19259898099"),
                )
            })
        })
        .collect()
}

impl NewOrganization {
    /// Validates into an org created at `now`. Errors name the field.
    pub fn validate(self, now: DateTime<Utc>) -> Result<Organization, Invalid> {
        Ok(Organization {
            org_id: parse_uuid(&self.org_id, "org_id")?,
            name: check_name(&self.name)?,
            node_persistent_id: parse_uuid(&self.node_persistent_id, "node_persistent_id")?,
            timezone: match &self.timezone {
                Some(tz) => parse_tz(tz, "timezone")?,
                None => Tz::UTC,
            },
            is_active: self.is_active.unwrap_or(true),
            excluded_numbers: check_numbers(&self.excluded_numbers.unwrap_or_default())?,
            created_at: now,
            updated_at: now,
        })
    }
}

impl OrgPatch {
    /// Applies the patch to `org` (validated; errors name the field).
    pub fn apply(self, mut org: Organization, now: DateTime<Utc>) -> Result<Organization, Invalid> {
        if let Some(name) = self.name {
            org.name = check_name(&name)?;
        }
        if let Some(node) = self.node_persistent_id {
            org.node_persistent_id = parse_uuid(&node, "node_persistent_id")?;
        }
        if let Some(tz) = self.timezone {
            org.timezone = parse_tz(&tz, "timezone")?;
        }
        if let Some(active) = self.is_active {
            org.is_active = active;
        }
        if let Some(numbers) = self.excluded_numbers {
            org.excluded_numbers = check_numbers(&numbers)?;
        }
        org.updated_at = now;
        Ok(org)
    }
}

/// Reads one org with its ETag; `Ok(None)` when absent.
pub async fn get(
    storage: &Storage,
    org_id: &str,
) -> Result<Option<(Organization, String)>, OrgError> {
    let name = doc_name(org_id);
    match storage.get(&name).await.map_err(OrgError::Storage)? {
        None => Ok(None),
        Some(o) => {
            let org = serde_json::from_slice(&o.body)
                .map_err(|e| OrgError::Corrupt(name, e.to_string()))?;
            Ok(Some((org, o.etag)))
        }
    }
}

/// Every readable org, by `org_id` (one listing, then one read per org: orgs are few). An
/// unreadable document is logged and skipped.
pub async fn list(storage: &Storage) -> Result<Vec<Organization>, OrgError> {
    let mut orgs = Vec::new();
    let mut continuation = None;
    loop {
        let page = storage
            .list(PREFIX, continuation, 1000)
            .await
            .map_err(OrgError::Storage)?;
        for entry in &page.entries {
            let Some(org_id) = entry
                .name
                .strip_prefix(PREFIX)
                .and_then(|n| n.strip_suffix(".json"))
            else {
                continue;
            };
            match get(storage, org_id).await {
                Ok(Some((org, _))) => orgs.push(org),
                Ok(None) => {}
                // One unreadable document must not hide every other org (nor stop the timer).
                Err(OrgError::Corrupt(name, why)) => {
                    tracing::error!(document = %name, error = %why, "organization document unreadable; skipped")
                }
                Err(e) => return Err(e),
            }
        }
        match page.next {
            Some(next) => continuation = Some(next),
            None => break,
        }
    }
    orgs.sort_by(|a, b| a.org_id.cmp(&b.org_id));
    Ok(orgs)
}

fn put_org(org: &Organization, condition: Condition) -> (Bytes, Put) {
    let body = Bytes::from(serde_json::to_vec_pretty(org).expect("org serializes"));
    let mut put = Put::new("application/json");
    put.condition = condition;
    (body, put)
}

/// Creates `org`; [`OrgError::Exists`] when its id is taken. Returns the new ETag.
pub async fn create(storage: &Storage, org: &Organization) -> Result<String, OrgError> {
    let (body, put) = put_org(org, Condition::IfNotExists);
    match storage.put(&doc_name(&org.org_id), body, &put).await {
        Ok(stored) => Ok(stored.etag),
        Err(StorageError::AlreadyExists(_)) => Err(OrgError::Exists(org.org_id.clone())),
        Err(e) => Err(OrgError::Storage(e)),
    }
}

/// Replaces `org` if it is still the version `etag`; [`OrgError::Stale`] otherwise.
pub async fn replace(
    storage: &Storage,
    org: &Organization,
    etag: &str,
) -> Result<String, OrgError> {
    let (body, put) = put_org(org, Condition::IfMatch(etag.to_string()));
    match storage.put(&doc_name(&org.org_id), body, &put).await {
        Ok(stored) => Ok(stored.etag),
        Err(StorageError::ConditionFailed(_)) => Err(OrgError::Stale(org.org_id.clone())),
        Err(StorageError::NotFound(_)) => Err(OrgError::NotFound(org.org_id.clone())),
        Err(e) => Err(OrgError::Storage(e)),
    }
}

/// Creates seed 003's default org from the settings when it does not exist yet (an existing
/// one is left as it is: it may have been edited through the API). Returns whether it was
/// created.
pub async fn ensure_default(
    storage: &Storage,
    d: &DefaultOrgSettings,
    now: DateTime<Utc>,
) -> Result<bool, OrgError> {
    let org = NewOrganization {
        org_id: d.org_id.clone(),
        name: d.name.clone(),
        node_persistent_id: d.node_persistent_id.clone(),
        timezone: Some(d.timezone.name().to_string()),
        is_active: Some(true),
        excluded_numbers: None,
    }
    .validate(now)?;
    match create(storage, &org).await {
        Ok(_) => Ok(true),
        Err(OrgError::Exists(_)) => Ok(false),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new_org() -> NewOrganization {
        NewOrganization {
            org_id: "01951F56-8C6E-7A93-A971-3D06A81A1AB0".into(),
            name: " Paul Logistics ".into(),
            node_persistent_id: "019b099d-77fd-7e09-9d2b-cd4c476a0a19".into(),
            timezone: Some("America/Chicago".into()),
            is_active: None,
            excluded_numbers: Some(vec!["+19259898099".into()]),
        }
    }

    #[test]
    fn a_valid_org_is_normalized() {
        let org = new_org().validate(Utc::now()).unwrap();
        assert_eq!(org.org_id, "01951f56-8c6e-7a93-a971-3d06a81a1ab0");
        assert_eq!(org.name, "Paul Logistics");
        assert!(org.is_active);
        assert_eq!(org.timezone, chrono_tz::America::Chicago);
    }

    #[test]
    fn invalid_ids_zones_and_numbers_name_their_field() {
        let field = |f: fn(&mut NewOrganization)| {
            let mut o = new_org();
            f(&mut o);
            o.validate(Utc::now()).unwrap_err().field
        };
        assert_eq!(field(|o| o.org_id = "paul".into()), "org_id");
        assert_eq!(
            field(|o| o.node_persistent_id = "".into()),
            "node_persistent_id"
        );
        assert_eq!(field(|o| o.timezone = Some("Central".into())), "timezone");
        assert_eq!(
            field(|o| o.excluded_numbers = Some(vec!["9259898099".into()])),
            "excluded_numbers"
        );
        assert_eq!(field(|o| o.name = "  ".into()), "name");
    }

    #[test]
    fn a_patch_changes_only_what_it_names() {
        let org = new_org().validate(Utc::now()).unwrap();
        let patched = OrgPatch {
            is_active: Some(false),
            ..Default::default()
        }
        .apply(org.clone(), Utc::now())
        .unwrap();
        assert!(!patched.is_active);
        assert_eq!(
            (patched.name, patched.timezone),
            (org.name.clone(), org.timezone)
        );
        let bad = OrgPatch {
            timezone: Some("Nowhere/Land".into()),
            ..Default::default()
        }
        .apply(org, Utc::now());
        assert_eq!(bad.unwrap_err().field, "timezone");
    }
}
