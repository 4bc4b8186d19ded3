//! The `email` channel (`docs/delivery-and-access.md`, "Email"): a digest or a correction as
//! one `multipart/alternative` message (a plain-text part and an HTML part, both askama
//! templates of one view-model, [`View`]) to the channel's `to`, sent through the SMTP relay
//! of the `SMTP_*` settings (`configuration::SmtpSettings`) with `lettre`.
//!
//! * **The message**: subject `Daily report — <org> — <local date>` (`[TEST] ` first for a
//!   test send; a correction's is `Correction::title`); a `Message-ID` made of (org, date,
//!   channel) ([`message_id`]), so that a digest sent twice (a claim taken over after a crash)
//!   is one message to a mail client; a correction refers to it (`In-Reply-To`,
//!   `References`) and has its own, per revision; a test send has a new one each time. The
//!   HTML is what mail clients keep: inline CSS only (no `<style>`, no script), tables for
//!   layout, absolute `http(s)` links only, every text escaped by the templates' escaper.
//! * **The send**: TLS required — implicit TLS on port 465, STARTTLS on any other port —
//!   except a loopback relay with `ALLOW_INSECURE_WEBHOOKS=true` (tests); the attempts,
//!   waits and deadline are the other channels' (`send::with_attempts`): a 5xx reply is final,
//!   as is a relay that offers no STARTTLS (nothing is sent to it); a 4xx reply, a connection
//!   or TLS error or no answer in time is tried again (and by a later firing). Each attempt is bounded by `send::ATTEMPT_TIMEOUT` or the time left.
//! * **Addresses are not logged in full**: an SMTP reply quoted in an error has the
//!   channel's addresses masked (`orgs::masked_address`).

use std::time::{Duration, Instant};

use askama::Template;
use chrono::{DateTime, NaiveDate, Utc};
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use super::corrections::Correction;
use super::send::{self, Failed, SendResult};
use super::{Digest, wording};
use crate::configuration::{Settings, SmtpSettings};
use crate::orgs::{Notification, OrgId, masked_address};

/// The error of an email channel when `SMTP_HOST` is not set (final: not tried again).
pub const NOT_CONFIGURED: &str = "email is not configured: SMTP_HOST is not set";

/// The longest SMTP reply text kept in an error.
const MAX_REPLY: usize = 300;

/// One fact of the message: a KPI's label and its number as written.
#[derive(Debug, Clone, PartialEq)]
pub struct Fact {
    pub label: String,
    pub value: String,
}

/// One flagged change as a sentence (`super::wording::change`), with its tone's word
/// (`Better`, `Worse`, or empty) and colour, so that good and bad news differ in words, not
/// colour alone.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub text: String,
    pub word: &'static str,
    /// A CSS colour, `#rrggbb`.
    pub colour: &'static str,
}

/// A link of the message; only absolute `http(s)` ones are kept ([`View::links`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Link {
    pub label: &'static str,
    pub href: String,
}

/// What both parts of a message show (`templates/email.html`, `templates/email.txt`): the
/// view-model of the Teams card's content — headline KPIs, flagged changes, the dashboard and
/// report links — as plain strings, escaped by the templates.
#[derive(Debug, Clone, PartialEq)]
pub struct View {
    /// The subject, also the HTML part's `<title>`.
    pub subject: String,
    /// `Daily report`, `Correction: revision 2`, `[TEST] Daily report`.
    pub kicker: String,
    pub org_name: String,
    /// `Wednesday 21 May 2025 (America/Port_of_Spain)`.
    pub date_line: String,
    /// A sentence before the facts (a correction's `Correction::INTRO`).
    pub note: Option<String>,
    pub facts: Vec<Fact>,
    /// The digest's flagged changes (empty: "No flagged changes."); `None` for a correction,
    /// which has no such section.
    pub changes: Option<Vec<Change>>,
    pub links: Vec<Link>,
    /// The report line (`super::report_line`).
    pub footer: String,
}

/// `templates/email.html`: the HTML part.
#[derive(Template)]
#[template(path = "email.html")]
struct HtmlPart<'a> {
    v: &'a View,
}

/// `templates/email.txt`: the plain-text part (not escaped: text/plain).
#[derive(Template)]
#[template(path = "email.txt")]
struct TextPart<'a> {
    v: &'a View,
}

impl View {
    /// The view of `d`.
    pub fn digest(d: &Digest) -> View {
        let changes = d
            .changes
            .iter()
            .map(|c| {
                let s = wording::change(c, d.date);
                let colour = match s.tone {
                    wording::Tone::Good => GOOD,
                    wording::Tone::Bad => BAD,
                    wording::Tone::Neutral => NEUTRAL,
                };
                Change {
                    text: s.text,
                    word: s.tone.word(),
                    colour,
                }
            })
            .collect();
        let test = if d.test { "[TEST] " } else { "" };
        View {
            subject: format!("{test}Daily report — {} — {}", d.org_name, d.date),
            kicker: format!("{test}Daily report"),
            org_name: d.org_name.clone(),
            date_line: date_line(d.date, &d.timezone),
            note: d
                .test
                .then(|| "A test of this channel: the latest report, sent on request.".into()),
            facts: d
                .kpis
                .iter()
                .map(|(label, _, value)| Fact {
                    label: label.to_string(),
                    value: value.clone(),
                })
                .collect(),
            changes: Some(changes),
            links: links(&[
                ("Open the dashboard", d.dashboard_url.as_deref()),
                ("Open the report", Some(&d.report_url)),
            ]),
            footer: d.report_line(),
        }
    }

    /// The view of the correction `c`: its changed KPIs as `before → after`.
    pub fn correction(c: &Correction) -> View {
        View {
            subject: c.title(),
            kicker: format!("Correction: revision {}", c.revision),
            org_name: c.org_name.clone(),
            date_line: date_line(c.date, &c.timezone),
            note: Some(Correction::INTRO.into()),
            facts: c
                .changed()
                .map(|k| Fact {
                    label: k.kpi.label().to_string(),
                    value: k.change(),
                })
                .collect(),
            changes: None,
            links: links(&[("Open the report", Some(&c.report_url))]),
            footer: c.report_line(),
        }
    }

    /// The HTML part.
    pub fn html(&self) -> String {
        crate::render::page(&HtmlPart { v: self })
    }

    /// The plain-text part.
    pub fn text(&self) -> String {
        crate::render::page(&TextPart { v: self })
    }
}

/// The colours of good, bad and neutral news (with their words, never alone).
const GOOD: &str = "#1a7f37";
const BAD: &str = "#c62828";
const NEUTRAL: &str = "#57606a";

/// `Wednesday 21 May 2025 (America/Port_of_Spain)`.
fn date_line(date: NaiveDate, timezone: &str) -> String {
    format!("{} ({timezone})", date.format("%A %-d %B %Y"))
}

/// The `(label, url)` links that are absolute `http(s)` (a relative one cannot be opened from
/// a mail client; `PUBLIC_BASE_URL` is required with `SMTP_HOST`, so none is).
fn links(all: &[(&'static str, Option<&str>)]) -> Vec<Link> {
    all.iter()
        .filter_map(|(label, url)| {
            let href = url.filter(|u| u.starts_with("https://") || u.starts_with("http://"))?;
            Some(Link {
                label,
                href: href.to_string(),
            })
        })
        .collect()
}

/// `<digest.<date>.<channel id>.<org id>@<domain>>`: the digest's `Message-ID`, the same for
/// every send of one (org, date, channel). `what` names a correction instead
/// (`correction-rev-2`) or a test (`test-<ms>`); `domain` is the sender's. Every part is
/// letters, digits, `-`, `_` and `.`, as a Message-ID allows.
pub fn message_id(
    what: &str,
    org_id: &OrgId,
    date: NaiveDate,
    channel_id: &str,
    domain: &str,
) -> String {
    format!("<{what}.{date}.{channel_id}.{org_id}@{domain}>")
}

/// A message ready to send: its envelope (the sender, the channel's addresses) and bytes.
pub struct Email {
    pub envelope: lettre::address::Envelope,
    pub bytes: Vec<u8>,
}

/// The message of `view` from `smtp.from` to `channel.to`, with `id` as its `Message-ID` and
/// `refers_to` as its `In-Reply-To` and `References`. Errors: an address of `to` that does
/// not parse (the org's check refuses it first) or a message lettre will not build; the text
/// names no address.
pub fn build(
    view: &View,
    smtp: &SmtpSettings,
    channel: &Notification,
    id: String,
    refers_to: Option<String>,
) -> Result<Email, String> {
    let mut builder = lettre::Message::builder()
        .from(smtp.from.clone())
        .subject(view.subject.clone())
        .message_id(Some(id));
    for (i, address) in channel.to.iter().enumerate() {
        let address = address
            .parse()
            .map_err(|_| format!("to[{i}] is not an email address"))?;
        builder = builder.to(Mailbox::new(None, address));
    }
    if let Some(parent) = refers_to {
        builder = builder.in_reply_to(parent.clone()).references(parent);
    }
    let message = builder
        .multipart(MultiPart::alternative_plain_html(view.text(), view.html()))
        .map_err(|e| format!("the message could not be built: {e}"))?;
    Ok(Email {
        envelope: message.envelope().clone(),
        bytes: message.formatted(),
    })
}

/// The sender's domain, for Message-IDs.
fn domain(smtp: &SmtpSettings) -> &str {
    smtp.from.email.domain()
}

/// Sends the digest `d` to `channel` through the relay of `settings.smtp` by `deadline`, with
/// the digests' attempts (the module's "The send"); a test send (`Digest::test`) gets a new
/// Message-ID made from `now`. Without `SMTP_HOST`: failed, [`NOT_CONFIGURED`], not retried.
pub async fn send_digest(
    d: &Digest,
    channel: &Notification,
    now: DateTime<Utc>,
    deadline: Instant,
    settings: &Settings,
) -> SendResult {
    let Some(smtp) = &settings.smtp else {
        return not_sent(NOT_CONFIGURED.into());
    };
    let what = if d.test {
        format!("test-{}", now.timestamp_millis())
    } else {
        "digest".into()
    };
    let id = message_id(&what, &d.org_id, d.date, &channel.id, domain(smtp));
    let message = build(&View::digest(d), smtp, channel, id, None);
    send_built(message, channel, smtp, settings, deadline).await
}

/// Sends the correction `c` to `channel` as [`send_digest`] sends a digest, in reply to the
/// date's digest (`In-Reply-To`, `References`).
pub async fn send_correction(
    c: &Correction,
    channel: &Notification,
    deadline: Instant,
    settings: &Settings,
) -> SendResult {
    let Some(smtp) = &settings.smtp else {
        return not_sent(NOT_CONFIGURED.into());
    };
    let what = format!("correction-rev-{}", c.revision);
    let id = message_id(&what, &c.org_id, c.date, &channel.id, domain(smtp));
    let digest = message_id("digest", &c.org_id, c.date, &channel.id, domain(smtp));
    let message = build(&View::correction(c), smtp, channel, id, Some(digest));
    send_built(message, channel, smtp, settings, deadline).await
}

/// Sends a message [`build`] made, or records why none could be made (final: not tried again).
async fn send_built(
    message: Result<Email, String>,
    channel: &Notification,
    smtp: &SmtpSettings,
    settings: &Settings,
    deadline: Instant,
) -> SendResult {
    match message {
        Ok(email) => {
            send_email(
                &email,
                channel,
                smtp,
                settings.allow_insecure_webhooks,
                deadline,
            )
            .await
        }
        Err(e) => not_sent(e),
    }
}

/// A failure before any attempt, which no later firing changes.
fn not_sent(error: String) -> SendResult {
    SendResult {
        attempts: 0,
        outcome: Err(error),
        retry_later: false,
    }
}

/// Whether `host` is loopback: `localhost` or a loopback IP literal.
fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.to_canonical().is_loopback())
}

/// The TLS of a relay: none only for a loopback host with `allow_insecure`
/// (`ALLOW_INSECURE_WEBHOOKS`), else implicit TLS on port 465 and STARTTLS required on any
/// other (the server's certificate checked against the Mozilla roots for `host`).
fn tls(smtp: &SmtpSettings, allow_insecure: bool) -> Result<Tls, String> {
    if allow_insecure && is_loopback(&smtp.host) {
        return Ok(Tls::None);
    }
    let parameters =
        TlsParameters::new(smtp.host.clone()).map_err(|e| format!("TLS set-up: {e}"))?;
    Ok(if smtp.port == 465 {
        Tls::Wrapper(parameters)
    } else {
        Tls::Required(parameters)
    })
}

/// The transport of one send: the relay, its TLS ([`tls`]), its credentials, each SMTP
/// command bounded by `send::ATTEMPT_TIMEOUT`; a connection per message (no pool).
fn transport(
    smtp: &SmtpSettings,
    allow_insecure: bool,
) -> Result<AsyncSmtpTransport<Tokio1Executor>, String> {
    let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&smtp.host)
        .port(smtp.port)
        .tls(tls(smtp, allow_insecure)?)
        .timeout(Some(send::ATTEMPT_TIMEOUT));
    if let Some((username, password)) = &smtp.credentials {
        builder = builder.credentials(Credentials::new(
            username.clone(),
            password.expose().to_string(),
        ));
    }
    Ok(builder.build())
}

/// Sends `email` through the relay `smtp` by `deadline` with the digests' attempts
/// (`send::with_attempts`): `Ok` with the relay's reply code (250); a 5xx reply is final, a
/// 4xx reply, a connection or TLS error and no answer within the attempt's bound are tried
/// again. Errors name no address of `channel` in full.
async fn send_email(
    email: &Email,
    channel: &Notification,
    smtp: &SmtpSettings,
    allow_insecure: bool,
    deadline: Instant,
) -> SendResult {
    let transport = match transport(smtp, allow_insecure) {
        Ok(t) => t,
        Err(e) => return not_sent(e),
    };
    send::with_attempts(deadline, |bound: Duration| {
        let transport = &transport;
        async move {
            let sent = transport.send_raw(&email.envelope, &email.bytes);
            match tokio::time::timeout(bound, sent).await {
                Err(_) => Err(Failed::transient("no answer in time".into(), None)),
                Ok(Ok(reply)) => Ok(u16::from(reply.code())),
                Ok(Err(e)) => Err(failed(&e, &channel.to)),
            }
        }
    })
    .await
}

/// What an SMTP error means for the attempts: a 5xx reply or a client error is final,
/// anything else may pass. The text is lettre's, at most [`MAX_REPLY`] characters, with the
/// addresses of `to` masked.
fn failed(e: &lettre::transport::smtp::Error, to: &[String]) -> Failed {
    let mut text: String = e.to_string().chars().take(MAX_REPLY).collect();
    for address in to {
        text = text.replace(address.as_str(), &masked_address(address));
    }
    if e.is_permanent() {
        Failed::fatal(format!("the SMTP server refused: {text}"))
    } else if e.is_client() {
        Failed::fatal(format!("the message could not be sent: {text}"))
    } else if e.is_transient() {
        Failed::transient(format!("the SMTP server deferred: {text}"), None)
    } else if e.is_timeout() {
        Failed::transient(format!("no answer in time: {text}"), None)
    } else {
        Failed::transient(format!("connection failed: {text}"), None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn smtp() -> SmtpSettings {
        SmtpSettings {
            host: "smtp.example.com".into(),
            port: 587,
            credentials: None,
            from: "Reports <reports@contoso.example>".parse().unwrap(),
        }
    }

    fn channel() -> Notification {
        Notification {
            id: "ops-mail".into(),
            kind: crate::orgs::ChannelKind::Email,
            url: None,
            secret: None,
            to: vec!["ops@example.com".into(), "lead@example.com".into()],
            enabled: true,
        }
    }

    /// Both parts show the digest; the HTML escapes the org name and keeps absolute links
    /// only, and has no script or `<style>`.
    #[test]
    fn both_parts_show_the_digest_and_the_html_escapes_stored_text() {
        let name = "Paul <b>& Sons</b> \"Logistics\"";
        let view = View::digest(&super::super::test_digest(name));
        assert_eq!(view.subject, format!("Daily report — {name} — 2025-05-21"));
        let html = view.html();
        assert!(
            html.contains("Paul &lt;b&gt;&amp; Sons&lt;/b&gt; &quot;Logistics&quot;"),
            "{html}"
        );
        assert!(!html.contains("<b>&"), "{html}");
        for banned in ["<script", "<style", "href=\"/", "src="] {
            assert!(!html.contains(banned), "{banned}: {html}");
        }
        assert!(html.contains("href=\"https://func-x.example/api/dashboard?org_id=org-1\""));
        let text = view.text();
        assert!(text.contains(name), "{text}");
        for part in [&html, &text] {
            assert!(part.contains("Wednesday 21 May 2025 (America/Port_of_Spain)"));
            assert!(part.contains("Report SHA-256: 3f2a9c01b7de…"), "{part}");
            assert!(part.contains("Worse"), "{part}");
        }
    }

    /// A relative link (no `PUBLIC_BASE_URL`) is left out rather than sent broken.
    #[test]
    fn relative_links_are_left_out() {
        let mut d = super::super::test_digest("Org");
        d.report_url = "/api/artifacts/reports/x.json".into();
        d.dashboard_url = None;
        let view = View::digest(&d);
        assert!(view.links.is_empty());
        assert!(!view.html().contains("href="));
    }

    /// The message: multipart/alternative with both parts, the subject, a Message-ID of (org,
    /// date, channel) that is the same for every build of one digest, the recipients.
    #[test]
    fn the_message_id_is_the_same_for_every_send_of_a_digest() {
        let d = super::super::test_digest("Org");
        let id = || message_id("digest", &d.org_id, d.date, "ops-mail", "contoso.example");
        assert_eq!(
            id(),
            "<digest.2025-05-21.ops-mail.00000000-0000-0000-0000-000000000001@contoso.example>"
        );
        let email = build(&View::digest(&d), &smtp(), &channel(), id(), None).unwrap();
        let raw = String::from_utf8(email.bytes).unwrap();
        assert!(raw.contains(&format!("Message-ID: {}", id())), "{raw}");
        assert!(raw.contains("multipart/alternative"), "{raw}");
        assert!(
            raw.contains("\r\nDate: ") && raw.contains("MIME-Version: 1.0"),
            "{raw}"
        );
        assert!(
            raw.contains("text/plain") && raw.contains("text/html"),
            "{raw}"
        );
        assert_eq!(email.envelope.to().len(), 2);
        assert_eq!(
            email.envelope.from().map(ToString::to_string).as_deref(),
            Some("reports@contoso.example")
        );
    }

    /// TLS is required but for a loopback relay in tests; port 465 is implicit TLS.
    #[test]
    fn tls_is_required_except_for_a_loopback_relay_in_tests() {
        let mut s = smtp();
        assert!(matches!(tls(&s, true).unwrap(), Tls::Required(_)));
        s.port = 465;
        assert!(matches!(tls(&s, false).unwrap(), Tls::Wrapper(_)));
        for host in ["127.0.0.1", "localhost", "[::1]"] {
            s.host = host.into();
            assert!(matches!(tls(&s, true).unwrap(), Tls::None), "{host}");
            assert!(!matches!(tls(&s, false).unwrap(), Tls::None), "{host}");
        }
    }
}
