//! The `teams` channel: the message a Teams Workflows webhook ("Post to a channel when a
//! webhook request is received") takes — `{"type": "message", "attachments": [{"contentType":
//! "application/vnd.microsoft.card.adaptive", "content": <Adaptive Card 1.4>}]}`.
//!
//! Output that cannot be turned against its reader (`docs/access-and-safety.md`): a
//! `TextBlock`'s text, and a fact's title and value, are read as markdown (bold, italic, lists,
//! `[links](url)`), and backslash escapes are not honoured alike by every Teams client. So
//! stored text — the org name, and the time zone with it — goes only into a `RichTextBlock`'s
//! `TextRun`, which Adaptive Cards never read as markdown; `TextBlock`s and facts carry only
//! this module's own words and numbers.

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
/// The title and the date line are `RichTextBlock`s of one `TextRun` each, shown as is: an
/// org named `[click](https://evil.example)` is that text, not a link (`docs/access-and-safety.md`,
/// "Output that cannot be turned against its reader").
pub fn card(d: &Digest) -> Value {
    let facts: Vec<Value> = d
        .kpis
        .iter()
        .map(|(label, _, value)| json!({"title": label, "value": value}))
        .collect();
    let mut body = vec![
        json!({"type": "RichTextBlock", "inlines": [{"type": "TextRun", "text": title(d), "weight": "Bolder", "size": "Medium"}]}),
        json!({"type": "RichTextBlock", "spacing": "None", "inlines": [{"type": "TextRun", "text": format!("{} ({})", d.date, d.timezone), "isSubtle": true}]}),
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

#[cfg(test)]
mod tests {
    use super::*;

    /// (element type, text) of every text of the card: TextBlocks, facts, TextRuns.
    fn texts(v: &Value, out: &mut Vec<(&'static str, String)>) {
        match v {
            Value::Object(o) => {
                let s = |k: &str| o.get(k).and_then(Value::as_str).map(str::to_string);
                match o.get("type").and_then(Value::as_str) {
                    Some("TextBlock") => out.push(("TextBlock", s("text").unwrap())),
                    Some("TextRun") => out.push(("TextRun", s("text").unwrap())),
                    _ => {}
                }
                if let (Some(title), Some(value)) = (s("title"), s("value")) {
                    out.push(("Fact", title));
                    out.push(("Fact", value));
                }
                o.values().for_each(|x| texts(x, out));
            }
            Value::Array(a) => a.iter().for_each(|x| texts(x, out)),
            _ => {}
        }
    }

    /// `docs/access-and-safety.md`, "Output that cannot be turned against its reader": an org
    /// name with a markdown link and emphasis reaches the card only as a TextRun (shown as is,
    /// never markdown); no TextBlock or fact, which Teams reads as markdown, carries stored text.
    #[test]
    fn an_org_name_makes_no_link_or_formatting() {
        let name = "<!channel> & <@U123> [click](https://evil.example) *bold*";
        let found = {
            let mut out = Vec::new();
            texts(&card(&super::super::test_digest(name)), &mut out);
            out
        };
        assert!(
            found
                .iter()
                .any(|(kind, t)| *kind == "TextRun" && *t == format!("Daily report — {name}")),
            "{found:?}"
        );
        for (kind, t) in &found {
            if *kind == "TextRun" {
                continue;
            }
            for stored in [name, "](", "*bold*", "<!channel>", "Port_of_Spain"] {
                assert!(!t.contains(stored), "{kind} {t:?} carries {stored:?}");
            }
        }
        // The time zone (stored with the org) is a TextRun too.
        assert!(
            found
                .iter()
                .any(|(kind, t)| *kind == "TextRun" && t.contains("Port_of_Spain"))
        );
    }
}
