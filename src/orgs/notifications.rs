//! Where an org's morning digest goes (`docs/delivery-and-access.md`): its channels, how a
//! channel's secrets are masked in every reply and put back when a client sends the masked
//! shape, the checks that keep a digest from reaching inside the network
//! (`docs/access-and-safety.md`, "Webhook targets inside the network"), and an email
//! channel's addresses (`docs/delivery-and-access.md`, "Email").

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use serde::{Deserialize, Serialize};

use crate::configuration::Secret;
use crate::error::Invalid;

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
    /// Email over the SMTP relay of the `SMTP_*` settings to the channel's `to`.
    Email,
}

/// One digest channel. `url` and `secret` are secrets: serializing a `Notification` (every
/// reply) shows `url` as scheme and host only (`https://hooks.slack.com/…`) and never
/// `secret`; `Notification::stored` is the one full form, written to storage only. An email
/// channel's `to` is shown in full (addresses are not secrets), but never logged in full:
/// `Debug` masks it ([`masked_address`]).
///
/// Deserialized from the stored document and from requests; a request may carry the shape GET
/// shows (`has_secret` is accepted and ignored, a masked `url` is put back by
/// [`restore_masked`]; `docs/access-and-safety.md`, "Masked values sent back").
#[derive(Clone, PartialEq, Deserialize)]
#[serde(from = "NotificationInput")]
pub struct Notification {
    pub id: String,
    pub kind: ChannelKind,
    /// The endpoint of a `teams`, `slack` or `webhook` channel (`None` for `email`).
    pub url: Option<Secret>,
    pub secret: Option<Secret>,
    /// The addresses of an `email` channel, 1 to [`MAX_RECIPIENTS`] (empty for the others).
    pub to: Vec<String>,
    pub enabled: bool,
}

impl std::fmt::Debug for Notification {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let to: Vec<String> = self.to.iter().map(|a| masked_address(a)).collect();
        f.debug_struct("Notification")
            .field("id", &self.id)
            .field("kind", &self.kind)
            .field("url", &self.url)
            .field("secret", &self.secret)
            .field("to", &to)
            .field("enabled", &self.enabled)
            .finish()
    }
}

/// A channel as written: the stored form, or a request's (which may echo GET's `has_secret`).
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(
    description = "A digest channel as written: for `teams`, `slack` and `webhook`, `url` https \
    (http to loopback only with \
    `ALLOW_INSECURE_WEBHOOKS=true`), whose host is not, and does not resolve to, an address \
    inside the network (loopback, private, link-local, shared, multicast, reserved; loopback \
    allowed with `ALLOW_INSECURE_WEBHOOKS=true`); `secret` (16+ characters) required for \
    `webhook`; for `email`, `to` (1-20 distinct email addresses) and no `url` or `secret`. \
    As GET shows it, too: a `url` exactly as GET masks it (`https://host/…`) keeps \
    the stored url of the channel with the same `id` (400 for an unknown `id`), and its secret \
    unless a new `secret` is given; a full `url` equal to the stored one keeps the stored secret \
    when no `secret` is given. `has_secret` is accepted and ignored."
)]
pub(crate) struct NotificationInput {
    #[schema(pattern = "^[A-Za-z0-9_-]{1,64}$")]
    id: String,
    kind: ChannelKind,
    /// The full url, or the masked one GET shows for this `id` (not for `email`).
    #[serde(default)]
    #[schema(nullable = false)]
    url: Option<String>,
    #[serde(default)]
    secret: Option<String>,
    /// The recipients of an `email` channel: 1-20 addresses (`ops@example.com`).
    #[serde(default)]
    #[schema(max_items = 20)]
    to: Vec<String>,
    #[serde(default = "super::yes")]
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
            url: n.url.map(Secret::new),
            secret: n.secret.map(Secret::new),
            to: n.to,
            enabled: n.enabled,
        }
    }
}

/// A digest channel as replies show it (how a [`Notification`] serializes): `url` as scheme
/// and host only, never the secret; an email channel's `to` in full.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = Notification)]
pub(crate) struct ShownNotification {
    id: String,
    kind: ChannelKind,
    /// `https://host/…` (absent for `email`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    url: Option<String>,
    has_secret: bool,
    /// The addresses of an `email` channel (absent for the others).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    to: Vec<String>,
    enabled: bool,
}

impl Serialize for Notification {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        ShownNotification {
            id: self.id.clone(),
            kind: self.kind,
            url: self.url.as_ref().map(|u| masked_url(u.expose())),
            has_secret: self.secret.is_some(),
            to: self.to.clone(),
            enabled: self.enabled,
        }
        .serialize(s)
    }
}

impl Notification {
    /// The full form, for the stored org document only.
    pub(crate) fn stored(&self) -> serde_json::Value {
        let mut doc = serde_json::json!({
            "id": self.id,
            "kind": self.kind,
            "secret": self.secret.as_ref().map(Secret::expose),
            "enabled": self.enabled,
        });
        if let Some(url) = &self.url {
            doc["url"] = url.expose().into();
        }
        if !self.to.is_empty() {
            doc["to"] = self.to.clone().into();
        }
        doc
    }
}

/// At most this many addresses in an email channel's `to`.
pub const MAX_RECIPIENTS: usize = 20;

/// An address as logs show it: `o…@example.com` (the first character of the local part and
/// the domain); `…` for anything without an `@`.
pub fn masked_address(address: &str) -> String {
    match address.rsplit_once('@') {
        Some((local, domain)) => {
            let first: String = local.chars().take(1).collect();
            format!("{first}…@{domain}")
        }
        None => "…".into(),
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
/// is [`Invalid`] naming `notifications[i].url`. A channel without a `url` (email) is kept as
/// sent.
pub fn restore_masked(
    list: Vec<Notification>,
    stored: &[Notification],
) -> Result<Vec<Notification>, Invalid> {
    let url = |n: &Notification| n.url.as_ref().map(|u| u.expose().to_string());
    list.into_iter()
        .enumerate()
        .map(|(i, mut n)| {
            let old = stored.iter().find(|s| s.id == n.id);
            let Some(sent) = url(&n) else {
                return Ok(n);
            };
            if is_masked(&sent) {
                let old = old
                    .filter(|old| url(old).is_some_and(|u| masked_url(&u) == sent))
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
                && url(old).as_ref() == Some(&sent)
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
/// `[A-Za-z0-9_-]{1,64}`; for `teams`, `slack` and `webhook`, `url` https (or http to a
/// loopback host with `allow_insecure`) whose host is not an internal address literal
/// (loopback allowed with `allow_insecure`), a `secret` of 16+ characters for `webhook`, no
/// `to`; for `email`, no `url` or `secret` and 1 to [`MAX_RECIPIENTS`] distinct addresses in
/// `to`. Returns the host names left to resolve. Errors name the field (`notifications`,
/// `notifications[0].url`, `notifications[0].to[2]`) and never echo a URL, secret or address.
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
        if n.kind == ChannelKind::Email {
            check_email(n, &field)?;
            continue;
        }
        if !n.to.is_empty() {
            return Err(Invalid::new(field("to"), "only an email channel has `to`"));
        }
        let url = n
            .url
            .as_ref()
            .and_then(|u| url::Url::parse(u.expose()).ok())
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

/// An email channel (`docs/delivery-and-access.md`, "Email"): no `url` or `secret`, `to` of 1
/// to [`MAX_RECIPIENTS`] distinct addresses, each a bare address as SMTP takes it
/// (`lettre::Address`: `local@domain`, no display name), at most 254 characters. `field`
/// makes the field's name (`notifications[0].to`); an error never echoes an address.
fn check_email(n: &Notification, field: &dyn Fn(&str) -> String) -> Result<(), Invalid> {
    if n.url.is_some() {
        return Err(Invalid::new(
            field("url"),
            "an email channel has no url; give its addresses in `to`",
        ));
    }
    if n.secret.is_some() {
        return Err(Invalid::new(
            field("secret"),
            "an email channel has no secret",
        ));
    }
    if !(1..=MAX_RECIPIENTS).contains(&n.to.len()) {
        return Err(Invalid::new(
            field("to"),
            format!("an email channel needs 1 to {MAX_RECIPIENTS} addresses"),
        ));
    }
    for (j, address) in n.to.iter().enumerate() {
        let to = field(&format!("to[{j}]"));
        if address.len() > 254 || address.parse::<lettre::Address>().is_err() {
            return Err(Invalid::new(to, "not an email address (local@domain)"));
        }
        if n.to[..j].iter().any(|a| a.eq_ignore_ascii_case(address)) {
            return Err(Invalid::new(to, "duplicate address"));
        }
    }
    Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::orgs::OrgPatch;
    use crate::orgs::tests::{channel, list_error, new_org};
    use chrono::Utc;

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

    /// `docs/delivery-and-access.md`, "Email": 1-20 distinct bare addresses, each named when
    /// wrong; no url or secret; shown in full, masked in `Debug` (logs); stored and read back.
    #[test]
    fn email_channels_take_checked_addresses_shown_in_full_and_masked_in_logs() {
        let email = |to: &[&str]| Notification {
            kind: ChannelKind::Email,
            url: None,
            to: to.iter().map(|a| a.to_string()).collect(),
            ..channel(ChannelKind::Email, "https://8.8.8.8/", None)
        };
        let ok = email(&["ops@example.com", "night.shift+calls@sub.example.org"]);
        assert_eq!(
            check_notification_list(std::slice::from_ref(&ok), false),
            Ok(Vec::new())
        );
        let shown = serde_json::to_value(&ok).unwrap();
        assert_eq!(
            shown,
            serde_json::json!({"id": "ops", "kind": "email", "has_secret": false, "enabled": true,
                               "to": ["ops@example.com", "night.shift+calls@sub.example.org"]})
        );
        let logged = format!("{ok:?}");
        assert!(
            logged.contains("o…@example.com") && !logged.contains("ops@example.com"),
            "{logged}"
        );
        let back: Notification = serde_json::from_value(ok.stored()).unwrap();
        assert_eq!(back, ok);
        let many: Vec<String> = (0..21).map(|i| format!("a{i}@example.com")).collect();
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        let long = format!("{}@example.com", "a".repeat(250));
        for (n, field) in [
            (
                email(&["ops@example.com", "nope"]),
                "notifications[0].to[1]",
            ),
            (email(&["Ops <ops@example.com>"]), "notifications[0].to[0]"),
            (
                email(&["ops@example.com", "OPS@example.com"]),
                "notifications[0].to[1]",
            ),
            (email(&[&long]), "notifications[0].to[0]"),
            (email(&[]), "notifications[0].to"),
            (email(&many), "notifications[0].to"),
            (
                Notification {
                    url: Some(Secret::new("https://8.8.8.8/")),
                    ..email(&["ops@example.com"])
                },
                "notifications[0].url",
            ),
            (
                Notification {
                    secret: Some(Secret::new("0123456789abcdefgh")),
                    ..email(&["ops@example.com"])
                },
                "notifications[0].secret",
            ),
            (
                Notification {
                    kind: ChannelKind::Slack,
                    url: Some(Secret::new("https://8.8.8.8/")),
                    ..email(&["ops@example.com"])
                },
                "notifications[0].to",
            ),
        ] {
            let e = check_notification_list(&[n], false).unwrap_err();
            assert_eq!(e.field, field);
            assert!(!e.message.contains("example.com"), "{}", e.message);
        }
        assert_eq!(masked_address("ops@example.com"), "o…@example.com");
        assert_eq!(masked_address("nope"), "…");
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
}
