//! Organizations (`docs/daily-report.md`, "Organizations"; they replace the old daily-report
//! backend's SQLite table `organizations`), one JSON document per org in storage at
//! `orgs/{org_id}.json`, updated under ETags.

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
    /// Where the morning digest goes (`docs/delivery-and-access.md`). Serialized masked (see
    /// [`Notification`]); only the stored document carries the full values.
    #[serde(default)]
    pub notifications: Vec<Notification>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

fn yes() -> bool {
    true
}

/// The kind of a digest channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChannelKind {
    /// A Teams Workflows webhook (Adaptive Card message).
    Teams,
    /// A Slack incoming webhook (Block Kit).
    Slack,
    /// Any HTTPS endpoint: signed JSON.
    Webhook,
}

/// One digest channel. `url` and `secret` are secrets: serializing a `Notification` (every
/// reply, any log) shows `url` as scheme and host only (`https://hooks.slack.com/…`) and never
/// `secret`; `Notification::stored` is the one full form, written to storage only.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Notification {
    pub id: String,
    pub kind: ChannelKind,
    #[serde(deserialize_with = "secret_string")]
    pub url: Secret,
    #[serde(default, deserialize_with = "optional_secret")]
    pub secret: Option<Secret>,
    #[serde(default = "yes")]
    pub enabled: bool,
}

fn secret_string<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Secret, D::Error> {
    String::deserialize(d).map(Secret::new)
}

fn optional_secret<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Secret>, D::Error> {
    Ok(Option::<String>::deserialize(d)?.map(Secret::new))
}

impl Serialize for Notification {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        serde_json::json!({
            "id": self.id,
            "kind": self.kind,
            "url": masked_url(self.url.expose()),
            "has_secret": self.secret.is_some(),
            "enabled": self.enabled,
        })
        .serialize(s)
    }
}

impl Notification {
    /// The full form, for the stored org document only.
    fn stored(&self) -> serde_json::Value {
        serde_json::json!({
            "id": self.id,
            "kind": self.kind,
            "url": self.url.expose(),
            "secret": self.secret.as_ref().map(Secret::expose),
            "enabled": self.enabled,
        })
    }
}

/// `https://hooks.slack.com/…`: scheme and host only.
pub fn masked_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(u) => format!("{}://{}/…", u.scheme(), u.host_str().unwrap_or("")),
        Err(_) => "…".into(),
    }
}

/// Validates a notification list: ids unique `[A-Za-z0-9_-]{1,64}`, `url` https (or http to a
/// loopback host with `allow_insecure`), a `secret` for `webhook`. Errors name the field
/// (`notifications[0].url`) and never echo a URL or secret.
pub fn check_notifications(
    list: Vec<Notification>,
    allow_insecure: bool,
) -> Result<Vec<Notification>, Invalid> {
    let mut seen = std::collections::BTreeSet::new();
    for (i, n) in list.iter().enumerate() {
        let field = |f: &str| format!("notifications[{i}].{f}");
        let id_ok = (1..=64).contains(&n.id.len())
            && n.id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !id_ok {
            return Err(Invalid::new(
                field("id"),
                "id must be 1-64 of A-Z a-z 0-9 - _",
            ));
        }
        if !seen.insert(n.id.clone()) {
            return Err(Invalid::new(
                field("id"),
                format!("duplicate id {:?}", n.id),
            ));
        }
        let url = url::Url::parse(n.url.expose())
            .ok()
            .filter(|u| u.host_str().is_some())
            .ok_or_else(|| Invalid::new(field("url"), "url is not an absolute URL"))?;
        let loopback = match url.host() {
            Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
            Some(url::Host::Ipv4(a)) => a.is_loopback(),
            Some(url::Host::Ipv6(a)) => a.is_loopback(),
            None => false,
        };
        let allowed =
            url.scheme() == "https" || (allow_insecure && url.scheme() == "http" && loopback);
        if !allowed {
            return Err(Invalid::new(
                field("url"),
                "url must be https (http only to a loopback host with ALLOW_INSECURE_WEBHOOKS=true)",
            ));
        }
        if n.kind == ChannelKind::Webhook && n.secret.as_ref().is_none_or(|s| s.expose().len() < 16)
        {
            return Err(Invalid::new(
                field("secret"),
                "a webhook needs a secret of at least 16 characters (it signs every digest)",
            ));
        }
    }
    Ok(list)
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
        name.parse()
            .map_err(|_| serde::de::Error::custom(format!("unknown time zone {name:?}")))
    }
}

use bytes::Bytes;

use crate::configuration::{DefaultOrgSettings, Secret};
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

/// The fields of `POST /api/orgs` (`docs/daily-report.md`, "Organizations") and of the default org.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewOrganization {
    pub org_id: String,
    pub name: String,
    pub node_persistent_id: String,
    pub timezone: Option<String>,
    pub is_active: Option<bool>,
    pub excluded_numbers: Option<Vec<String>>,
    #[serde(default)]
    pub notifications: Option<Vec<Notification>>,
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
    /// Replaces the whole list; `url` and `secret` are given in full.
    pub notifications: Option<Vec<Notification>>,
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
    /// Validates into an org created at `now` (notification URLs https only). Errors name the
    /// field.
    pub fn validate(self, now: DateTime<Utc>) -> Result<Organization, Invalid> {
        self.validate_with(now, false)
    }

    /// [`Self::validate`], with `ALLOW_INSECURE_WEBHOOKS`.
    pub fn validate_with(
        self,
        now: DateTime<Utc>,
        allow_insecure_webhooks: bool,
    ) -> Result<Organization, Invalid> {
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
            notifications: check_notifications(
                self.notifications.unwrap_or_default(),
                allow_insecure_webhooks,
            )?,
            created_at: now,
            updated_at: now,
        })
    }
}

impl OrgPatch {
    /// Applies the patch to `org` (validated; errors name the field).
    pub fn apply(self, org: Organization, now: DateTime<Utc>) -> Result<Organization, Invalid> {
        self.apply_with(org, now, false)
    }

    /// [`Self::apply`], with `ALLOW_INSECURE_WEBHOOKS`.
    pub fn apply_with(
        self,
        mut org: Organization,
        now: DateTime<Utc>,
        allow_insecure_webhooks: bool,
    ) -> Result<Organization, Invalid> {
        if let Some(list) = self.notifications {
            org.notifications = check_notifications(list, allow_insecure_webhooks)?;
        }
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
            Some(id.to_string())
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
            notifications: None,
        }
    }

    fn channel(kind: ChannelKind, url: &str, secret: Option<&str>) -> Notification {
        Notification {
            id: "ops".into(),
            kind,
            url: Secret::new(url),
            secret: secret.map(Secret::new),
            enabled: true,
        }
    }

    #[test]
    fn notifications_are_checked_and_never_shown_in_full() {
        let slack = channel(
            ChannelKind::Slack,
            "https://hooks.slack.com/services/T/B/XYZ",
            None,
        );
        let shown = serde_json::to_string(&slack).unwrap();
        assert!(
            shown.contains("https://hooks.slack.com/…") && !shown.contains("XYZ"),
            "{shown}"
        );
        assert!(!format!("{slack:?}").contains("XYZ"));
        let field = |n: Notification, insecure: bool| {
            check_notifications(vec![n], insecure).unwrap_err().field
        };
        assert_eq!(
            field(
                channel(ChannelKind::Teams, "http://example.com/x", None),
                true
            ),
            "notifications[0].url"
        );
        assert_eq!(
            field(
                channel(ChannelKind::Teams, "http://127.0.0.1:9/x", None),
                false
            ),
            "notifications[0].url"
        );
        check_notifications(
            vec![channel(ChannelKind::Teams, "http://127.0.0.1:9/x", None)],
            true,
        )
        .unwrap();
        assert_eq!(
            field(
                channel(ChannelKind::Webhook, "https://a.example/h", None),
                false
            ),
            "notifications[0].secret"
        );
        let two = vec![slack.clone(), slack];
        assert_eq!(
            check_notifications(two, false).unwrap_err().field,
            "notifications[1].id"
        );
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
