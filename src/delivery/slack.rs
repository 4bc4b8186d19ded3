//! The `slack` channel: an incoming-webhook message, `{"text": <fallback>, "blocks": [...]}`
//! in Block Kit — a `header`, a `context` line, a `section` of KPI `fields` (at most 10), a
//! `section` of flagged changes, and an `actions` block with link buttons. Texts are cut to
//! Block Kit's limits (header 150, section text 3000, field 2000, button text 75).

use serde_json::{Value, json};

use super::Digest;

fn cut(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        s.chars().take(max - 1).collect::<String>() + "…"
    }
}

/// Escapes `&`, `<`, `>` for mrkdwn.
fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The message.
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
            .map(|c| format!("• {}", escape(&Digest::change_text(c))))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let mut blocks = vec![
        json!({"type": "header", "text": {"type": "plain_text", "text": cut(&title, 150), "emoji": true}}),
        json!({"type": "context", "elements": [{"type": "mrkdwn", "text": escape(&format!("{} ({})", d.date, d.timezone))}]}),
        json!({"type": "section", "fields": fields}),
        json!({"type": "section", "text": {"type": "mrkdwn", "text": cut(&format!("*Flagged changes*\n{changes}"), 3000)}}),
    ];
    let mut buttons = Vec::new();
    for (text, url) in [
        ("Open the dashboard", d.dashboard_url.as_deref()),
        ("Open the report", Some(d.report_url.as_str())),
    ] {
        if let Some(url) = url.filter(|u| u.starts_with("http")) {
            buttons.push(
                json!({"type": "button", "text": {"type": "plain_text", "text": text}, "url": url}),
            );
        }
    }
    if !buttons.is_empty() {
        blocks.push(json!({"type": "actions", "elements": buttons}));
    }
    let kpis: Vec<String> = d
        .kpis
        .iter()
        .map(|(label, _, value)| format!("{label} {value}"))
        .collect();
    json!({
        "text": format!("{title}, {}: {}", d.date, kpis.join(", ")),
        "blocks": blocks,
    })
}
