//! The `slack` channel: an incoming-webhook message, `{"text": <fallback>, "blocks": [...]}`
//! in Block Kit — a `header`, a `context` line (the date, the zone, the report's SHA-256), a
//! `section` of KPI `fields` (at most 10; `*Success rate*` over `62.5 %`), a `section` of
//! flagged changes (each a sentence with its tone in an emoji and a word), and an `actions`
//! block with link buttons. Texts are cut to Block Kit's limits (header 150, section text
//! 3000, field 2000, button text 75).
//!
//! Output that cannot be turned against its reader (`docs/access-and-safety.md`): every text
//! Slack reads as mrkdwn — the top-level `text` (the notification's fallback), the context line,
//! the fields and the changes — has `&`, `<` and `>` escaped, so an org named `<!channel>`
//! cannot ping a room and no stored text can make a `<url|link>`; the header and the buttons
//! are `plain_text`, which Slack shows as is. A correction's message ([`correction_payload`])
//! is escaped the same way, by the same function.

use serde_json::{Value, json};

use super::Digest;
use super::corrections::Correction;
use super::wording::{self, Sentence, Tone};

fn cut(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        s.chars().take(max - 1).collect::<String>() + "…"
    }
}

/// Escapes `&`, `<`, `>` for mrkdwn (Slack, "Escaping text"): `<!channel>` → `&lt;!channel&gt;`.
fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The message: `{"text", "blocks"}` as above; every stored text (the org name) is escaped
/// wherever Slack reads mrkdwn (`docs/access-and-safety.md`, "Output that cannot be turned
/// against its reader").
pub fn payload(d: &Digest) -> Value {
    let title = super::teams::title(d);
    let fields: Vec<Value> = d
        .kpis
        .iter()
        .take(10)
        .map(|(label, _, value)| {
            json!({"type": "mrkdwn", "text": cut(&format!("*{}*\n{}", escape(label), escape(value)), 2000)})
        })
        .collect();
    let changes = if d.changes.is_empty() {
        "No flagged changes.".to_string()
    } else {
        d.changes
            .iter()
            .map(|c| change_line(&wording::change(c, d.date)))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let mut blocks = vec![
        json!({"type": "header", "text": {"type": "plain_text", "text": cut(&title, 150), "emoji": true}}),
        context(d.date, &d.timezone, &d.report_line()),
        json!({"type": "section", "fields": fields}),
        json!({"type": "section", "text": {"type": "mrkdwn", "text": cut(&format!("*Flagged changes*\n{changes}"), 3000)}}),
    ];
    blocks.extend(buttons(&[
        ("Open the dashboard", d.dashboard_url.as_deref()),
        ("Open the report", Some(d.report_url.as_str())),
    ]));
    let kpis: Vec<String> = d
        .kpis
        .iter()
        .map(|(label, _, value)| format!("{label} {value}"))
        .collect();
    json!({
        "text": escape(&format!("{title}, {}: {}", d.date, kpis.join(", "))),
        "blocks": blocks,
    })
}

/// A flagged change as a line of mrkdwn: an emoji and its tone's word in bold, then the
/// sentence, escaped — `• :red_circle: *Worse:* Success rate 40.0 % — down 15.0 pp from the
/// usual 55.0 % (median of the 4 previous Wednesdays)`, `• :large_green_circle: *Better:* …`;
/// a neutral change is `• :white_circle: <sentence>`. Good and bad news differ in words, not
/// colour alone.
fn change_line(s: &Sentence) -> String {
    let lead = match s.tone {
        Tone::Good => ":large_green_circle:",
        Tone::Bad => ":red_circle:",
        Tone::Neutral => ":white_circle:",
    };
    let word = match s.tone {
        Tone::Neutral => String::new(),
        tone => format!("*{}:* ", tone.word()),
    };
    format!("• {lead} {word}{}", escape(&s.text))
}

/// The `context` line under the header: the date, the org's time zone and the line naming
/// the stored report (`super::report_line`), escaped (the zone is stored text).
fn context(date: chrono::NaiveDate, timezone: &str, report_line: &str) -> Value {
    let text = format!("{date} ({timezone}) · {report_line}");
    json!({"type": "context", "elements": [{"type": "mrkdwn", "text": cut(&escape(&text), 3000)}]})
}

/// An `actions` block of link buttons for the `(text, url)` links that are absolute; none when
/// no link is.
fn buttons(links: &[(&str, Option<&str>)]) -> Option<Value> {
    let buttons: Vec<Value> = links
        .iter()
        .filter_map(|(text, url)| {
            let url = url.filter(|u| u.starts_with("http"))?;
            Some(json!({"type": "button", "text": {"type": "plain_text", "text": cut(text, 75)}, "url": url}))
        })
        .collect();
    (!buttons.is_empty()).then(|| json!({"type": "actions", "elements": buttons}))
}

/// The message of a correction (`docs/revisions.md`, "Corrections reach the people who were
/// told"): a `header` (`Correction — <org> — <date>: revision N`, plain text), the `context`
/// line (date, zone, report line), a `section` listing each changed headline KPI as `*Label*: before → after` (the digest's
/// number formats), the report line and a button to the report; the fallback `text` lists the
/// changes too. Every mrkdwn text is escaped as a digest's.
pub fn correction_payload(c: &Correction) -> Value {
    let title = c.title();
    let lines: Vec<String> = c
        .changed()
        .map(|k| format!("• *{}*: {}", escape(k.kpi.label()), escape(&k.change())))
        .collect();
    let text = format!("{}\n{}", escape(Correction::INTRO), lines.join("\n"));
    let mut blocks = vec![
        json!({"type": "header", "text": {"type": "plain_text", "text": cut(&title, 150), "emoji": true}}),
        context(c.date, &c.timezone, &c.report_line()),
        json!({"type": "section", "text": {"type": "mrkdwn", "text": cut(&text, 3000)}}),
    ];
    blocks.extend(buttons(&[("Open the report", Some(c.report_url.as_str()))]));
    let changes: Vec<String> = c.changed().map(|k| k.line()).collect();
    json!({
        "text": escape(&format!("{title}: {}", changes.join(", "))),
        "blocks": blocks,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every text Slack reads as mrkdwn: the top-level `text` and each `mrkdwn` text object.
    fn mrkdwn_texts(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(o) => {
                if o.get("type").and_then(Value::as_str) == Some("mrkdwn") {
                    out.push(o["text"].as_str().unwrap().to_string());
                }
                o.values().for_each(|x| mrkdwn_texts(x, out));
            }
            Value::Array(a) => a.iter().for_each(|x| mrkdwn_texts(x, out)),
            _ => {}
        }
    }

    /// `docs/access-and-safety.md`, "Output that cannot be turned against its reader": an org
    /// named to ping a room and to make links cannot, in the fallback `text` (what a
    /// notification shows) or any mrkdwn text; the header shows it as plain text.
    #[test]
    fn an_org_name_cannot_ping_a_room_or_make_a_link() {
        let name = "<!channel> & <@U123> [click](https://evil.example) *bold*";
        let p = payload(&super::super::test_digest(name));
        let mut texts = vec![p["text"].as_str().unwrap().to_string()];
        mrkdwn_texts(&p["blocks"], &mut texts);
        for t in &texts {
            assert!(!t.contains('<') && !t.contains('>'), "raw < or > in {t:?}");
        }
        assert!(
            p["text"].as_str().unwrap().starts_with(
                "Daily report — &lt;!channel&gt; &amp; &lt;@U123&gt; [click](https://evil.example) *bold*, 2025-05-21: "
            ),
            "{p}"
        );
        // The context line: the date, the zone and the report line.
        assert_eq!(
            p["blocks"][1]["elements"][0]["text"],
            "2025-05-21 (America/Port_of_Spain) · Report SHA-256: 3f2a9c01b7de…"
        );
        // The header is plain_text: Slack shows it as is and parses no mention in it.
        assert_eq!(p["blocks"][0]["text"]["type"], "plain_text");
        assert_eq!(
            p["blocks"][0]["text"]["text"],
            format!("Daily report — {name}")
        );
    }
}
