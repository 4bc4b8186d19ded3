//! The `teams` channel: the message a Teams Workflows webhook ("Post to a channel when a
//! webhook request is received") takes — `{"type": "message", "attachments": [{"contentType":
//! "application/vnd.microsoft.card.adaptive", "content": <Adaptive Card 1.4>}]}`.

use serde_json::{Value, json};

use super::Digest;

/// The message.
pub fn payload(d: &Digest) -> Value {
    json!({
        "type": "message",
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "contentUrl": null,
            "content": card(d),
        }],
    })
}

/// The Adaptive Card (schema 1.4): title, date, KPI facts, flagged changes, dashboard button.
pub fn card(d: &Digest) -> Value {
    let facts: Vec<Value> = d
        .kpis
        .iter()
        .map(|(label, _, value)| json!({"title": label, "value": value}))
        .collect();
    let mut body = vec![
        json!({"type": "TextBlock", "text": title(d), "weight": "Bolder", "size": "Medium", "wrap": true}),
        json!({"type": "TextBlock", "text": format!("{} ({})", d.date, d.timezone), "isSubtle": true, "spacing": "None", "wrap": true}),
        json!({"type": "FactSet", "facts": facts}),
        json!({"type": "TextBlock", "text": "Flagged changes", "weight": "Bolder", "wrap": true, "separator": true}),
    ];
    if d.changes.is_empty() {
        body.push(json!({"type": "TextBlock", "text": "No flagged changes.", "isSubtle": true, "wrap": true}));
    }
    for c in &d.changes {
        let color = match c.good {
            Some(true) => "Good",
            Some(false) => "Attention",
            None => "Default",
        };
        body.push(json!({"type": "TextBlock", "text": Digest::change_text(c), "color": color, "wrap": true, "spacing": "Small"}));
    }
    let mut actions =
        vec![json!({"type": "Action.OpenUrl", "title": "Open the report", "url": d.report_url})];
    if let Some(url) = &d.dashboard_url {
        actions.insert(
            0,
            json!({"type": "Action.OpenUrl", "title": "Open the dashboard", "url": url}),
        );
    }
    // A relative link cannot be opened from Teams: keep only absolute ones.
    actions.retain(|a| a["url"].as_str().is_some_and(|u| u.starts_with("http")));
    json!({
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": body,
        "actions": actions,
    })
}

/// `Daily report — <org>` (`[TEST]` first for a test send).
pub fn title(d: &Digest) -> String {
    format!(
        "{}Daily report — {}",
        if d.test { "[TEST] " } else { "" },
        d.org_name
    )
}
