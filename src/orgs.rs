//! Organizations (`docs/daily-report.md`, "Organizations"; they replace the old daily-report
//! backend's SQLite table `organizations`), one JSON document per org in storage at
//! `orgs/{org_id}.json`, updated under ETags.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

/// One organization: whose calls (`org_id`, `node_persistent_id`) and in which zone its days
/// are counted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Organization {
    /// UUID, lower-case hyphenated.
    #[schema(format = "uuid")]
    pub org_id: String,
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

/// The kind of a digest channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
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
///
/// Deserialized from the stored document and from requests; a request may carry the shape GET
/// shows (`has_secret` is accepted and ignored, a masked `url` is put back by
/// [`restore_masked`]; `docs/access-and-safety.md`, "Masked values sent back").
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(from = "NotificationInput")]
pub struct Notification {
    pub id: String,
    pub kind: ChannelKind,
    pub url: Secret,
    pub secret: Option<Secret>,
    pub enabled: bool,
}

/// A channel as written: the stored form, or a request's (which may echo GET's `has_secret`).
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(
    description = "A digest channel as written: `url` https (http to loopback only with \
    `ALLOW_INSECURE_WEBHOOKS=true`), whose host is not, and does not resolve to, an address \
    inside the network (loopback, private, link-local, shared, multicast, reserved; loopback \
    allowed with `ALLOW_INSECURE_WEBHOOKS=true`); `secret` (16+ characters) required for \
    `webhook`. As GET shows it, too: a `url` exactly as GET masks it (`https://host/…`) keeps \
    the stored url of the channel with the same `id` (400 for an unknown `id`), and its secret \
    unless a new `secret` is given; a full `url` equal to the stored one keeps the stored secret \
    when no `secret` is given. `has_secret` is accepted and ignored."
)]
struct NotificationInput {
    #[schema(pattern = "^[A-Za-z0-9_-]{1,64}$")]
    id: String,
    kind: ChannelKind,
    /// The full url, or the masked one GET shows for this `id`.
    url: String,
    #[serde(default)]
    secret: Option<String>,
    #[serde(default = "yes")]
    #[schema(default = true)]
    enabled: bool,
    /// What GET shows instead of `secret`; ignored.
    #[serde(default, rename = "has_secret")]
    _has_secret: Option<bool>,
}

impl From<NotificationInput> for Notification {
    fn from(n: NotificationInput) -> Self {
        Notification {
            id: n.id,
            kind: n.kind,
            url: Secret::new(n.url),
            secret: n.secret.map(Secret::new),
            enabled: n.enabled,
        }
    }
}

/// A digest channel as replies show it (how a [`Notification`] serializes): `url` as scheme
/// and host only, never the secret.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = Notification)]
struct ShownNotification {
    id: String,
    kind: ChannelKind,
    /// `https://host/…`
    url: String,
    has_secret: bool,
    enabled: bool,
}

impl Serialize for Notification {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        ShownNotification {
            id: self.id.clone(),
            kind: self.kind,
            url: masked_url(self.url.expose()),
            has_secret: self.secret.is_some(),
            enabled: self.enabled,
        }
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

/// Whether `url` is a masked one, as [`masked_url`] makes them (ends in `/…`, or is `…`).
fn is_masked(url: &str) -> bool {
    url == "…" || url.ends_with("/…")
}

/// At most this many digest channels per org (`docs/access-and-safety.md`, "Bounded for every
/// caller"); more is a 400 naming `notifications`.
pub const MAX_CHANNELS: usize = 10;

/// The bound of resolving one notification host name, when an org is written and when a
/// digest is sent.
pub const RESOLVE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Puts back what GET masks, for a client that GETs an org and PATCHes its `notifications`
/// back (`docs/access-and-safety.md`, "Masked values sent back"). `stored` is the org's list
/// before the change (empty for a new org); channels are matched by `id`:
/// - a masked `url` (exactly what GET shows for that channel, `https://hooks.slack.com/…`)
///   keeps the stored `url`, and the stored `secret` unless a new `secret` is given (so a
///   secret can be rotated without sending the url again);
/// - a full `url` equal to the stored one keeps the stored `secret` when none is given (a
///   changed `url` keeps nothing: a `webhook` then needs its `secret` again).
///
/// A masked `url` with no stored channel of that `id`, or not the mask of its stored `url`,
/// is [`Invalid`] naming `notifications[i].url`.
pub fn restore_masked(
    list: Vec<Notification>,
    stored: &[Notification],
) -> Result<Vec<Notification>, Invalid> {
    list.into_iter()
        .enumerate()
        .map(|(i, mut n)| {
            let old = stored.iter().find(|s| s.id == n.id);
            if is_masked(n.url.expose()) {
                let old = old
                    .filter(|old| masked_url(old.url.expose()) == n.url.expose())
                    .ok_or_else(|| {
                        Invalid::new(
                            format!("notifications[{i}].url"),
                            "a masked url (as GET shows it) only keeps the stored url of a \
                             channel with the same id; give the full url",
                        )
                    })?;
                n.url = old.url.clone();
                if n.secret.is_none() {
                    n.secret = old.secret.clone();
                }
            } else if let Some(old) = old
                && n.secret.is_none()
                && old.url.expose() == n.url.expose()
            {
                n.secret = old.secret.clone();
            }
            Ok(n)
        })
        .collect()
}

/// Whether a digest may go to `ip` (`docs/access-and-safety.md`, "Webhook targets inside the
/// network"): an address that is not [`is_internal`], or a loopback one when `allow_loopback`
/// (`ALLOW_INSECURE_WEBHOOKS=true`). Checked when an org is written and, on the address
/// actually connected to, when a digest is sent.
pub fn allowed_address(ip: IpAddr, allow_loopback: bool) -> bool {
    !is_internal(ip) || (allow_loopback && ip.to_canonical().is_loopback())
}

/// Whether `ip` is inside the network or otherwise no place for a digest: loopback, private
/// (RFC 1918, fc00::/7), link-local (169.254.0.0/16, fe80::/10), shared (CGNAT,
/// 100.64.0.0/10), unspecified, multicast, broadcast, documentation, benchmarking or reserved;
/// for IPv6 anything outside global unicast 2000::/3, and the IPv4 address inside an
/// IPv4-mapped (`::ffff:a.b.c.d`), NAT64 (`64:ff9b::/96`) or 6to4 (`2002::/16`) one.
pub fn is_internal(ip: IpAddr) -> bool {
    match ip.to_canonical() {
        IpAddr::V4(v4) => internal_v4(v4),
        IpAddr::V6(v6) => internal_v6(v6),
    }
}

/// IPv4 blocks [`is_internal`] refuses (IANA special-purpose registry, RFC 6890).
const INTERNAL_V4: [(Ipv4Addr, u32); 15] = [
    (Ipv4Addr::new(0, 0, 0, 0), 8),       // "this network", unspecified
    (Ipv4Addr::new(10, 0, 0, 0), 8),      // private
    (Ipv4Addr::new(100, 64, 0, 0), 10),   // shared address space (CGNAT)
    (Ipv4Addr::new(127, 0, 0, 0), 8),     // loopback
    (Ipv4Addr::new(169, 254, 0, 0), 16),  // link-local (instance metadata, identity)
    (Ipv4Addr::new(172, 16, 0, 0), 12),   // private
    (Ipv4Addr::new(192, 0, 0, 0), 24),    // IETF protocol assignments
    (Ipv4Addr::new(192, 0, 2, 0), 24),    // documentation
    (Ipv4Addr::new(192, 88, 99, 0), 24),  // 6to4 relay anycast
    (Ipv4Addr::new(192, 168, 0, 0), 16),  // private
    (Ipv4Addr::new(198, 18, 0, 0), 15),   // benchmarking
    (Ipv4Addr::new(198, 51, 100, 0), 24), // documentation
    (Ipv4Addr::new(203, 0, 113, 0), 24),  // documentation
    (Ipv4Addr::new(224, 0, 0, 0), 4),     // multicast
    (Ipv4Addr::new(240, 0, 0, 0), 4),     // reserved, broadcast
];

fn internal_v4(ip: Ipv4Addr) -> bool {
    let ip = u32::from(ip);
    INTERNAL_V4
        .iter()
        .any(|(net, bits)| ip >> (32 - bits) == u32::from(*net) >> (32 - bits))
}

fn internal_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    let v4 = |hi: u16, lo: u16| Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo));
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return internal_v4(v4(s[6], s[7])); // NAT64
    }
    if s[0] == 0x2002 {
        return internal_v4(v4(s[1], s[2])); // 6to4
    }
    let global_unicast = s[0] & 0xe000 == 0x2000;
    !global_unicast
        || (s[0] == 0x2001 && s[1] < 0x0200) // IETF protocol assignments, Teredo
        || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
        || (s[0] == 0x3fff && s[1] < 0x1000) // documentation
}

/// A host name of a notification url, to resolve before the url is accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostToResolve {
    /// The channel's index in the list.
    pub index: usize,
    pub host: String,
    pub port: u16,
}

/// Whether a digest may go to `url`'s host as far as can be told without DNS: `Ok(None)` for
/// an allowed IP literal, `Ok(Some(name))` for a host name (`localhost` included) to resolve
/// and check, `Err(why)` otherwise (`why` never carries the url). The WHATWG parser (`url`)
/// has already turned every IPv4 spelling (`0x7f000001`, `2130706433`, `0177.0.0.1`, `127.1`)
/// into an address.
pub fn literal_host(url: &url::Url, allow_loopback: bool) -> Result<Option<String>, &'static str> {
    let ip = match url.host() {
        None => return Err("url has no host"),
        Some(url::Host::Ipv4(a)) => IpAddr::V4(a),
        Some(url::Host::Ipv6(a)) => IpAddr::V6(a),
        Some(url::Host::Domain(d)) => return Ok(Some(d.to_string())),
    };
    if allowed_address(ip, allow_loopback) {
        Ok(None)
    } else {
        Err(INSIDE)
    }
}

const INSIDE: &str = "url points inside the network (loopback, private, link-local, shared, \
                      multicast or reserved address); a digest goes to a public address";

/// The pure part of [`check_notifications`]: at most [`MAX_CHANNELS`], ids unique
/// `[A-Za-z0-9_-]{1,64}`, `url` https (or http to a loopback host with `allow_insecure`)
/// whose host is not an internal address literal (loopback allowed with `allow_insecure`), a
/// `secret` of 16+ characters for `webhook`. Returns the host names left
/// to resolve. Errors name the field (`notifications`, `notifications[0].url`) and never echo a
/// URL or secret.
pub fn check_notification_list(
    list: &[Notification],
    allow_insecure: bool,
) -> Result<Vec<HostToResolve>, Invalid> {
    if list.len() > MAX_CHANNELS {
        return Err(Invalid::new(
            "notifications",
            format!("at most {MAX_CHANNELS} channels per organization"),
        ));
    }
    let mut seen = std::collections::BTreeSet::new();
    let mut names = Vec::new();
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
        let name =
            literal_host(&url, allow_insecure).map_err(|why| Invalid::new(field("url"), why))?;
        let loopback = match url.host() {
            Some(url::Host::Domain(d)) => d == "localhost",
            Some(url::Host::Ipv4(a)) => a.is_loopback(),
            Some(url::Host::Ipv6(a)) => a.to_canonical().is_loopback(),
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
        if let Some(host) = name {
            let port = url.port_or_known_default().unwrap_or(443);
            names.push(HostToResolve {
                index: i,
                host,
                port,
            });
        }
    }
    Ok(names)
}

/// The addresses of `host`, resolved by the system resolver within [`RESOLVE_TIMEOUT`];
/// `None` when it does not resolve in time (or at all).
pub async fn resolve(host: &str, port: u16) -> Option<Vec<std::net::SocketAddr>> {
    match tokio::time::timeout(RESOLVE_TIMEOUT, tokio::net::lookup_host((host, port))).await {
        Ok(Ok(addrs)) => Some(addrs.collect::<Vec<_>>()).filter(|a| !a.is_empty()),
        _ => None,
    }
}

/// Validates a notification list (`docs/access-and-safety.md`, "Input the product refuses"):
/// [`check_notification_list`], then every host name is resolved (at once, each within
/// [`RESOLVE_TIMEOUT`]) and refused when it does not resolve or when any of its addresses is
/// not [`allowed_address`]. Errors name the field (`notifications[0].url`) and never echo a
/// URL or secret.
pub async fn check_notifications(
    list: Vec<Notification>,
    allow_insecure: bool,
) -> Result<Vec<Notification>, Invalid> {
    let names = check_notification_list(&list, allow_insecure)?;
    let lookups = names.iter().map(|n| resolve(&n.host, n.port));
    let found = futures::future::join_all(lookups).await;
    for (name, addrs) in names.iter().zip(found) {
        let field = format!("notifications[{}].url", name.index);
        let addrs = addrs.ok_or_else(|| {
            Invalid::new(
                &field,
                format!(
                    "url's host does not resolve (within {} s)",
                    RESOLVE_TIMEOUT.as_secs()
                ),
            )
        })?;
        if !addrs
            .iter()
            .all(|a| allowed_address(a.ip(), allow_insecure))
        {
            return Err(Invalid::new(field, INSIDE));
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
        crate::time::parse_zone(&name, "timezone").map_err(|e| serde::de::Error::custom(e.message))
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
pub fn parse_uuid(value: &str, field: &str) -> Result<String, Invalid> {
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
            org_id: parse_uuid(&self.org_id, "org_id")?,
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
    .validate(now)
    .await?;
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

    /// The field [`check_notification_list`] names for one channel, or `None` when it passes.
    fn list_error(n: Notification, insecure: bool) -> Option<String> {
        check_notification_list(&[n], insecure)
            .err()
            .map(|e| e.field)
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
        let url_field = Some("notifications[0].url".to_string());
        assert_eq!(
            list_error(
                channel(ChannelKind::Teams, "http://example.com/x", None),
                true
            ),
            url_field
        );
        assert_eq!(
            list_error(
                channel(ChannelKind::Teams, "http://127.0.0.1:9/x", None),
                false
            ),
            url_field
        );
        assert_eq!(
            list_error(
                channel(ChannelKind::Teams, "http://127.0.0.1:9/x", None),
                true
            ),
            None
        );
        assert_eq!(
            list_error(
                channel(ChannelKind::Webhook, "https://a.example/h", None),
                false
            ),
            Some("notifications[0].secret".to_string())
        );
        let two = vec![slack.clone(), slack];
        assert_eq!(
            check_notification_list(&two, false).unwrap_err().field,
            "notifications[1].id"
        );
    }

    /// `docs/access-and-safety.md`, "Webhook targets inside the network": every spelling of an
    /// internal address is refused, naming the field and without echoing the url; the `url`
    /// crate's WHATWG parser reads the odd IPv4 spellings as addresses.
    #[test]
    fn internal_addresses_are_refused_in_every_spelling() {
        for (url, insecure) in [
            ("https://0x7f000001/", false),
            ("https://2130706433/", false),
            ("https://0177.0.0.1/", false),
            ("https://127.1/", false),
            ("https://127.0.0.1./", false),
            ("https://[::1]/", false),
            ("https://[::ffff:127.0.0.1]/", false),
            ("https://[::ffff:7f00:1]/", false),
            ("https://10.1.2.3/", true),
            ("https://0xa9fea9fe/latest/meta-data", true), // 169.254.169.254
            ("https://169.254.169.254/metadata/identity", true),
            ("https://[fe80::1]/", true),
            ("https://[fd00::1]/", true),
            ("https://100.64.0.1/", true),
            ("https://172.16.0.1/", true),
            ("https://192.168.1.1/", true),
            ("https://0.0.0.0/", true),
            ("https://0/", true),
            ("https://[::]/", true),
            ("https://224.0.0.1/", true),
            ("https://255.255.255.255/", true),
            ("https://[ff02::1]/", true),
            ("https://[::127.0.0.1]/", true),    // IPv4-compatible
            ("https://[64:ff9b::a00:1]/", true), // NAT64 of 10.0.0.1
            ("https://[2002:a9fe:a9fe::1]/", true), // 6to4 of 169.254.169.254
            ("https://[::ffff:10.0.0.1]/", true),
            ("https://192.0.2.1/", true),
            ("https://[2001:db8::1]/", true),
        ] {
            let err = check_notification_list(&[channel(ChannelKind::Teams, url, None)], insecure)
                .expect_err(url);
            assert_eq!(err.field, "notifications[0].url", "{url}");
            assert!(
                !err.message
                    .contains(url.trim_start_matches("https://").trim_end_matches('/')),
                "{url}: {}",
                err.message
            );
        }
        for url in [
            "https://8.8.8.8/hook",
            "https://[2606:4700:4700::1111]/hook",
            "https://[64:ff9b::808:808]/hook",
            "https://[2002:808:808::1]/hook",
            "https://[::ffff:8.8.8.8]/hook",
        ] {
            assert_eq!(
                list_error(channel(ChannelKind::Teams, url, None), false),
                None,
                "{url}"
            );
        }
    }

    /// `ALLOW_INSECURE_WEBHOOKS=true` allows loopback, in any spelling and over http or https,
    /// and nothing else internal; without it, loopback is refused like the rest.
    #[test]
    fn insecure_webhooks_allow_loopback_only() {
        for url in [
            "http://127.0.0.1:9/x",
            "https://127.1:9/x",
            "http://[::1]:9/x",
            "http://[::ffff:127.0.0.1]:9/x",
            "https://0x7f000001/",
        ] {
            assert_eq!(
                list_error(channel(ChannelKind::Teams, url, None), true),
                None,
                "{url}"
            );
            assert!(
                list_error(channel(ChannelKind::Teams, url, None), false).is_some(),
                "{url}"
            );
        }
        for ip in ["10.0.0.1", "169.254.169.254", "100.100.100.200", "fd00::1"] {
            let ip: IpAddr = ip.parse().unwrap();
            assert!(!allowed_address(ip, true), "{ip}");
        }
        assert!(allowed_address("127.0.0.2".parse().unwrap(), true));
        assert!(!allowed_address("127.0.0.2".parse().unwrap(), false));
    }

    /// Host names are resolved: a name resolving to loopback is refused unless insecure
    /// webhooks are allowed, and a name that does not resolve is a 400 naming the field.
    #[tokio::test]
    async fn host_names_are_resolved_and_checked() {
        let local = || vec![channel(ChannelKind::Teams, "https://localhost:9/x", None)];
        let err = check_notifications(local(), false).await.unwrap_err();
        assert_eq!(err.field, "notifications[0].url");
        assert!(!err.message.contains("localhost"), "{}", err.message);
        check_notifications(local(), true).await.unwrap();
        let nowhere = vec![
            channel(ChannelKind::Teams, "https://8.8.8.8/", None),
            Notification {
                id: "second".into(),
                ..channel(ChannelKind::Teams, "https://no-such-host.invalid/x", None)
            },
        ];
        let err = check_notifications(nowhere, true).await.unwrap_err();
        assert_eq!(err.field, "notifications[1].url");
        assert!(!err.message.contains("no-such-host"), "{}", err.message);
    }

    /// `docs/access-and-safety.md`, "Bounded for every caller": at most 10 channels.
    #[test]
    fn at_most_ten_channels() {
        let list = |n: usize| -> Vec<Notification> {
            (0..n)
                .map(|i| Notification {
                    id: format!("c{i}"),
                    ..channel(ChannelKind::Teams, "https://8.8.8.8/", None)
                })
                .collect()
        };
        check_notification_list(&list(10), false).unwrap();
        assert_eq!(
            check_notification_list(&list(11), false).unwrap_err().field,
            "notifications"
        );
    }

    /// `docs/access-and-safety.md`, "Masked values sent back": the shape GET shows, sent back,
    /// keeps the stored url and secret; a masked url for an unknown id is refused.
    #[tokio::test]
    async fn the_masked_shape_of_get_patched_back_keeps_url_and_secret() {
        let mut org = new_org().validate(Utc::now()).await.unwrap();
        let hook = Notification {
            id: "erp".into(),
            ..channel(
                ChannelKind::Webhook,
                "https://8.8.8.8/hook/T0KEN",
                Some("s3cret-signing-key-0123"),
            )
        };
        org.notifications = vec![hook.clone()];
        let shown = serde_json::to_value(&org).unwrap()["notifications"].clone();
        assert_eq!(shown[0]["url"], "https://8.8.8.8/…");
        assert_eq!(shown[0]["has_secret"], true);
        let back: OrgPatch =
            serde_json::from_value(serde_json::json!({ "notifications": shown })).unwrap();
        let patched = back.apply(org.clone(), Utc::now()).await.unwrap();
        assert_eq!(patched.notifications, vec![hook.clone()]);

        // The full url, unchanged, without a secret: the stored secret is kept.
        let full: OrgPatch = serde_json::from_value(serde_json::json!({"notifications": [
            {"id": "erp", "kind": "webhook", "url": "https://8.8.8.8/hook/T0KEN"}]}))
        .unwrap();
        let patched = full.apply(org.clone(), Utc::now()).await.unwrap();
        assert_eq!(patched.notifications, vec![hook.clone()]);
        // Masked, with a new secret: the url is kept, the secret replaced.
        let rotated: OrgPatch = serde_json::from_value(serde_json::json!({"notifications": [
            {"id": "erp", "kind": "webhook", "url": "https://8.8.8.8/…",
             "secret": "a-new-secret-of-16+", "has_secret": true}]}))
        .unwrap();
        let patched = rotated.apply(org.clone(), Utc::now()).await.unwrap();
        assert_eq!(patched.notifications[0].url, hook.url);
        assert_eq!(
            patched.notifications[0].secret,
            Some(Secret::new("a-new-secret-of-16+"))
        );

        for (id, url) in [("other", "https://8.8.8.8/…"), ("erp", "https://8.8.4.4/…")] {
            let unknown: OrgPatch = serde_json::from_value(serde_json::json!({"notifications": [
                {"id": "erp", "kind": "teams", "url": "https://8.8.8.8/…"},
                {"id": id, "kind": "teams", "url": url}]}))
            .unwrap();
            let err = unknown.apply(org.clone(), Utc::now()).await.unwrap_err();
            assert_eq!(err.field, "notifications[1].url", "{id} {url}");
        }
        let mut new = new_org();
        new.notifications = Some(vec![channel(ChannelKind::Teams, "https://8.8.8.8/…", None)]);
        assert_eq!(
            new.validate(Utc::now()).await.unwrap_err().field,
            "notifications[0].url"
        );
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
