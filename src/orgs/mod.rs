//! Organizations (`docs/daily-report.md`, "Organizations"; they replace the old daily-report
//! backend's SQLite table `organizations`), one JSON document per org in storage at
//! `orgs/{org_id}.json`, updated under ETags.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

mod notifications;

pub use notifications::{
    ChannelKind, HostToResolve, MAX_CHANNELS, MAX_RECIPIENTS, Notification, RESOLVE_TIMEOUT,
    allowed_address, check_notification_list, check_notifications, is_internal, literal_host,
    masked_address, masked_url, resolve, restore_masked,
};
use notifications::{NotificationInput, ShownNotification};

/// An organization's id: a UUID, always in canonical lower-case hyphenated form
/// (`docs/daily-report.md`, "Organizations"). Made only by [`OrgId::parse`] (a request's
/// path, query or body, a CLI argument) or by deserializing, which parses the same way, so a
/// value of this type never needs checking again. Displays and serializes as the UUID text.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct OrgId(String);

impl OrgId {
    /// Parses `value` (surrounding spaces and upper case allowed); [`Invalid`] naming `field`
    /// when it is not a UUID.
    pub fn parse(value: &str, field: &str) -> Result<Self, Invalid> {
        parse_uuid(value, field).map(Self)
    }

    /// The canonical text, e.g. `01951f56-8c6e-7a93-a971-3d06a81a1ab0`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for OrgId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for OrgId {
    type Error = String;
    fn try_from(value: String) -> Result<Self, String> {
        Self::parse(&value, "org_id").map_err(|e| e.message)
    }
}

impl From<OrgId> for String {
    fn from(id: OrgId) -> String {
        id.0
    }
}

impl PartialEq<str> for OrgId {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for OrgId {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl utoipa::PartialSchema for OrgId {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .format(Some(utoipa::openapi::SchemaFormat::Custom("uuid".into())))
            .description(Some(
                "An organization's id: a UUID, lower-case hyphenated (any spelling is accepted \
                 where a caller sends one).",
            ))
            .examples([serde_json::json!("01951f56-8c6e-7a93-a971-3d06a81a1ab0")])
            .into()
    }
}

impl utoipa::ToSchema for OrgId {}

/// One organization: whose calls (`org_id`, `node_persistent_id`) and in which zone its days
/// are counted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Organization {
    pub org_id: OrgId,
    #[schema(min_length = 1, max_length = 200)]
    pub name: String,
    /// The org's workflow node in ClickHouse (`public_node_outputs.node_persistent_id`), UUID.
    #[schema(format = "uuid")]
    pub node_persistent_id: String,
    /// IANA zone its report days are counted in (default `UTC`).
    #[serde(with = "tz_name")]
    #[schema(value_type = String, examples("America/Chicago"))]
    pub timezone: Tz,
    #[serde(default = "yes")]
    #[schema(required)]
    pub is_active: bool,
    /// Caller numbers (E.164) left out of its reports, e.g. test lines.
    #[serde(default)]
    #[schema(required, pattern = r"^\+[1-9][0-9]{1,14}$", examples("+19259898099"))]
    pub excluded_numbers: Vec<String>,
    /// Where the morning digest goes (`docs/delivery-and-access.md`). Serialized masked (see
    /// [`Notification`]); only the stored document carries the full values.
    #[serde(default)]
    #[schema(required, value_type = Vec<ShownNotification>)]
    pub notifications: Vec<Notification>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

fn yes() -> bool {
    true
}

impl Organization {
    /// The local date before `now`'s, in the org's zone (the default report date,
    /// `docs/daily-report.md`, "Schedule").
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
        crate::time::parse_zone(&name, "timezone").map_err(|e| serde::de::Error::custom(e.message))
    }
}

use bytes::Bytes;

use crate::configuration::DefaultOrgSettings;
use crate::error::Invalid;
use crate::storage::{Condition, Put, Storage, StorageError};

/// Storage prefix of the org documents.
pub const PREFIX: &str = "orgs/";

/// The document name of an org: `orgs/{org_id}.json`.
pub fn doc_name(org_id: &OrgId) -> String {
    format!("{PREFIX}{org_id}.json")
}

/// What can go wrong with an org, by cause.
#[derive(Debug, thiserror::Error)]
pub enum OrgError {
    #[error(transparent)]
    Invalid(#[from] Invalid),
    #[error("organization {0} already exists")]
    Exists(OrgId),
    #[error("organization {0} not found")]
    NotFound(OrgId),
    #[error("organization {0} changed since it was read")]
    Stale(OrgId),
    #[error("organization document {0} is unreadable: {1}")]
    Corrupt(String, String),
    #[error(transparent)]
    Storage(StorageError),
}

/// The fields of `POST /api/orgs` (`docs/daily-report.md`, "Organizations") and of the default org.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewOrganization {
    /// Any UUID spelling; stored lower-case hyphenated.
    #[schema(format = "uuid")]
    pub org_id: String,
    /// 1-200 characters after trimming.
    #[schema(min_length = 1, max_length = 200)]
    pub name: String,
    #[schema(format = "uuid")]
    pub node_persistent_id: String,
    /// IANA zone; default `UTC`.
    pub timezone: Option<String>,
    /// Default true.
    pub is_active: Option<bool>,
    #[schema(pattern = r"^\+[1-9][0-9]{1,14}$", examples("+19259898099"))]
    pub excluded_numbers: Option<Vec<String>>,
    /// Replaces the whole list; at most 10 channels.
    #[serde(default)]
    #[schema(value_type = Option<Vec<NotificationInput>>, max_items = 10)]
    pub notifications: Option<Vec<Notification>>,
}

/// The fields `PATCH /api/orgs/{org_id}` may change (`org_id` may not).
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(
    description = "The members to change; absent or null ones are kept. `org_id` cannot \
    change."
)]
pub struct OrgPatch {
    #[schema(min_length = 1, max_length = 200)]
    pub name: Option<String>,
    #[schema(format = "uuid")]
    pub node_persistent_id: Option<String>,
    pub timezone: Option<String>,
    pub is_active: Option<bool>,
    #[schema(pattern = r"^\+[1-9][0-9]{1,14}$", examples("+19259898099"))]
    pub excluded_numbers: Option<Vec<String>>,
    /// Replaces the whole list: each channel in full, or as GET shows it (masked `url`,
    /// `has_secret`; see [`restore_masked`]). Needs `If-Match` over HTTP
    /// (`docs/access-and-safety.md`, "Masked values sent back").
    #[schema(value_type = Option<Vec<NotificationInput>>, max_items = 10)]
    pub notifications: Option<Vec<Notification>>,
}

/// A UUID in canonical lower-case form; [`Invalid`] naming `field` otherwise.
fn parse_uuid(value: &str, field: &str) -> Result<String, Invalid> {
    uuid::Uuid::parse_str(value.trim())
        .map(|u| u.hyphenated().to_string())
        .map_err(|_| Invalid::new(field, format!("{value:?} is not a UUID")))
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
    /// Validates into an org created at `now` (notification URLs https only, host names
    /// resolved: [`check_notifications`]). Errors name the field.
    pub async fn validate(self, now: DateTime<Utc>) -> Result<Organization, Invalid> {
        self.validate_with(now, false).await
    }

    /// [`Self::validate`], with `ALLOW_INSECURE_WEBHOOKS`. A masked notification `url` is
    /// refused (there is no stored channel to keep it from: [`restore_masked`]).
    pub async fn validate_with(
        self,
        now: DateTime<Utc>,
        allow_insecure_webhooks: bool,
    ) -> Result<Organization, Invalid> {
        let mut org = Organization {
            org_id: OrgId::parse(&self.org_id, "org_id")?,
            name: check_name(&self.name)?,
            node_persistent_id: parse_uuid(&self.node_persistent_id, "node_persistent_id")?,
            timezone: match &self.timezone {
                Some(tz) => crate::time::parse_zone(tz, "timezone")?,
                None => Tz::UTC,
            },
            is_active: self.is_active.unwrap_or(true),
            excluded_numbers: check_numbers(&self.excluded_numbers.unwrap_or_default())?,
            notifications: Vec::new(),
            created_at: now,
            updated_at: now,
        };
        let list = restore_masked(self.notifications.unwrap_or_default(), &[])?;
        org.notifications = check_notifications(list, allow_insecure_webhooks).await?;
        Ok(org)
    }
}

impl OrgPatch {
    /// Applies the patch to `org` (validated; errors name the field).
    pub async fn apply(
        self,
        org: Organization,
        now: DateTime<Utc>,
    ) -> Result<Organization, Invalid> {
        self.apply_with(org, now, false).await
    }

    /// [`Self::apply`], with `ALLOW_INSECURE_WEBHOOKS`. `notifications` replaces the whole
    /// list, masked values put back from `org`'s ([`restore_masked`]), then checked
    /// ([`check_notifications`]); the other fields are checked first, so a wrong one costs no
    /// DNS lookup.
    pub async fn apply_with(
        self,
        mut org: Organization,
        now: DateTime<Utc>,
        allow_insecure_webhooks: bool,
    ) -> Result<Organization, Invalid> {
        if let Some(name) = self.name {
            org.name = check_name(&name)?;
        }
        if let Some(node) = self.node_persistent_id {
            org.node_persistent_id = parse_uuid(&node, "node_persistent_id")?;
        }
        if let Some(tz) = self.timezone {
            org.timezone = crate::time::parse_zone(&tz, "timezone")?;
        }
        if let Some(active) = self.is_active {
            org.is_active = active;
        }
        if let Some(numbers) = self.excluded_numbers {
            org.excluded_numbers = check_numbers(&numbers)?;
        }
        if let Some(list) = self.notifications {
            let list = restore_masked(list, &org.notifications)?;
            org.notifications = check_notifications(list, allow_insecure_webhooks).await?;
        }
        org.updated_at = now;
        Ok(org)
    }
}

/// Reads one org with its ETag; `Ok(None)` when absent.
pub async fn get(
    storage: &Storage,
    org_id: &OrgId,
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
    use futures::StreamExt;
    let mut ids = Vec::new();
    let mut continuation = None;
    loop {
        let page = storage
            .list(PREFIX, continuation, 1000)
            .await
            .map_err(OrgError::Storage)?;
        ids.extend(page.entries.iter().filter_map(|entry| {
            let id = entry.name.strip_prefix(PREFIX)?.strip_suffix(".json")?;
            // Only the handler writes here, always under a parsed id.
            OrgId::parse(id, "org_id").ok()
        }));
        match page.next {
            Some(next) => continuation = Some(next),
            None => break,
        }
    }
    // One read per document, READ_CONCURRENCY at a time (a timer over 1,000 orgs spent 7 s
    // reading them one after another).
    let mut reads = futures::stream::iter(ids)
        .map(|id| {
            let storage = storage.clone();
            async move { get(&storage, &id).await }
        })
        .buffer_unordered(READ_CONCURRENCY);
    let mut orgs = Vec::new();
    while let Some(read) = reads.next().await {
        match read {
            Ok(Some((org, _))) => orgs.push(org),
            Ok(None) => {}
            // One unreadable document must not hide every other org (nor stop the timer).
            Err(OrgError::Corrupt(name, why)) => {
                tracing::error!(document = %name, error = %why, "organization document unreadable; skipped")
            }
            Err(e) => return Err(e),
        }
    }
    orgs.sort_by(|a, b| a.org_id.cmp(&b.org_id));
    Ok(orgs)
}

/// Organization documents read at once by [`list`].
pub const READ_CONCURRENCY: usize = 16;

fn put_org(org: &Organization, condition: Condition) -> (Bytes, Put) {
    // The stored document is the one place notifications are kept in full.
    let mut doc = serde_json::to_value(org).expect("org serializes");
    doc["notifications"] = org.notifications.iter().map(Notification::stored).collect();
    let body = Bytes::from(serde_json::to_vec_pretty(&doc).expect("org serializes"));
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

/// Creates the default org of the settings (`docs/daily-report.md`, "Organizations") when it does
/// not exist yet (an existing one is left as it is: it may have been edited through the API).
/// Returns whether it was created.
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
        notifications: None,
    }
    .validate(now)
    .await?;
    match create(storage, &org).await {
        Ok(_) => Ok(true),
        Err(OrgError::Exists(_)) => Ok(false),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::configuration::Secret;

    pub(crate) fn new_org() -> NewOrganization {
        NewOrganization {
            org_id: "01951F56-8C6E-7A93-A971-3D06A81A1AB0".into(),
            name: " Paul Logistics ".into(),
            node_persistent_id: "019b099d-77fd-7e09-9d2b-cd4c476a0a19".into(),
            timezone: Some("America/Chicago".into()),
            is_active: None,
            excluded_numbers: Some(vec!["+19259898099".into()]),
            notifications: None,
        }
    }

    pub(crate) fn channel(kind: ChannelKind, url: &str, secret: Option<&str>) -> Notification {
        Notification {
            id: "ops".into(),
            kind,
            url: Some(Secret::new(url)),
            secret: secret.map(Secret::new),
            to: Vec::new(),
            enabled: true,
        }
    }

    /// The field [`check_notification_list`] names for one channel, or `None` when it passes.
    pub(crate) fn list_error(n: Notification, insecure: bool) -> Option<String> {
        check_notification_list(&[n], insecure)
            .err()
            .map(|e| e.field)
    }

    #[tokio::test]
    async fn a_valid_org_is_normalized() {
        let org = new_org().validate(Utc::now()).await.unwrap();
        assert_eq!(org.org_id, "01951f56-8c6e-7a93-a971-3d06a81a1ab0");
        assert_eq!(org.name, "Paul Logistics");
        assert!(org.is_active);
        assert_eq!(org.timezone, chrono_tz::America::Chicago);
    }

    #[tokio::test]
    async fn invalid_ids_zones_and_numbers_name_their_field() {
        async fn field(f: fn(&mut NewOrganization)) -> String {
            let mut o = new_org();
            f(&mut o);
            o.validate(Utc::now()).await.unwrap_err().field
        }
        assert_eq!(field(|o| o.org_id = "paul".into()).await, "org_id");
        assert_eq!(
            field(|o| o.node_persistent_id = "".into()).await,
            "node_persistent_id"
        );
        assert_eq!(
            field(|o| o.timezone = Some("Central".into())).await,
            "timezone"
        );
        assert_eq!(
            field(|o| o.excluded_numbers = Some(vec!["9259898099".into()])).await,
            "excluded_numbers"
        );
        assert_eq!(field(|o| o.name = "  ".into()).await, "name");
    }

    #[tokio::test]
    async fn a_patch_changes_only_what_it_names() {
        let org = new_org().validate(Utc::now()).await.unwrap();
        let patched = OrgPatch {
            is_active: Some(false),
            ..Default::default()
        }
        .apply(org.clone(), Utc::now())
        .await
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
        .apply(org, Utc::now())
        .await;
        assert_eq!(bad.unwrap_err().field, "timezone");
    }
}
