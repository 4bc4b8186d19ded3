//! The `teams` channel: the message a Teams Workflows webhook ("Post to a channel when a
//! webhook request is received") takes — `{"type": "message", "attachments": [{"contentType":
//! "application/vnd.microsoft.card.adaptive", "content": <Adaptive Card 1.4>}]}`.
//!
//! Output that cannot be turned against its reader (`docs/access-and-safety.md`): a
//! `TextBlock`'s text, and a fact's title and value, are read as markdown (bold, italic, lists,
//! `[links](url)`), and backslash escapes are not honoured alike by every Teams client. So
//! stored text — the org name, and the time zone with it — goes only into a `RichTextBlock`'s
//! `TextRun`, which Adaptive Cards never read as markdown; `TextBlock`s and facts carry only
//! this module's own words and numbers. A correction's card ([`correction_card`]) follows the
//! same rule through the same helpers.

use serde_json::{Value, json};

use super::Digest;
use super::corrections::Correction;
use super::wording::{self, Sentence, Tone};

/// The message.
pub fn payload(d: &Digest) -> Value {
    message(card(d))
}

/// The message of a correction (`docs/revisions.md`, "Corrections reach the people who were
/// told"): [`correction_card`] in the same Workflows envelope as a digest's.
pub fn correction_payload(c: &Correction) -> Value {
    message(correction_card(c))
}

/// The Workflows webhook's message around one card.
fn message(card: Value) -> Value {
    json!({
        "type": "message",
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "contentUrl": null,
            "content": card,
        }],
    })
}

/// A `RichTextBlock` of one `TextRun` of `text`, shown as is (never markdown): the only place
/// stored text (an org name, a time zone) goes. `title`: bold and medium, else subtle and
/// close to the block above.
fn text_run(text: String, title: bool) -> Value {
    if title {
        json!({"type": "RichTextBlock", "inlines": [{"type": "TextRun", "text": text, "weight": "Bolder", "size": "Medium"}]})
    } else {
        json!({"type": "RichTextBlock", "spacing": "None", "inlines": [{"type": "TextRun", "text": text, "isSubtle": true}]})
    }
}

/// The small line naming the stored report (`super::report_line`): hex digits and our words.
fn report_block(line: String) -> Value {
    json!({"type": "TextBlock", "text": line, "isSubtle": true, "size": "Small", "wrap": true, "separator": true})
}

/// `Action.OpenUrl`s of the `(title, url)` links that are absolute (a relative link cannot be
/// opened from Teams).
fn open_actions(links: &[(&str, Option<&str>)]) -> Vec<Value> {
    links
        .iter()
        .filter_map(|(title, url)| {
            let url = url.filter(|u| u.starts_with("http"))?;
            Some(json!({"type": "Action.OpenUrl", "title": title, "url": url}))
        })
        .collect()
}

/// The Adaptive Card (schema 1.4) of a correction: the title (`Correction — <org> — <date>:
/// revision N`) and the date line as `TextRun`s, a `FactSet` of the changed headline KPIs
/// (`Label` · `before → after`, in the digest's number formats), the report line and a link
/// to the report.
pub fn correction_card(c: &Correction) -> Value {
    let facts: Vec<Value> = c
        .changed()
        .map(|k| json!({"title": k.kpi.label(), "value": k.change()}))
        .collect();
    let body = vec![
        text_run(c.title(), true),
        text_run(format!("{} ({})", c.date, c.timezone), false),
        json!({"type": "TextBlock", "text": Correction::INTRO, "wrap": true}),
        json!({"type": "FactSet", "facts": facts}),
        report_block(c.report_line()),
    ];
    json!({
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": body,
        "actions": open_actions(&[("Open the report", Some(&c.report_url))]),
    })
}

/// The Adaptive Card (schema 1.4): title, date, KPI facts (`40.0 %`, `super::wording::value`),
/// flagged changes (each a sentence led by its tone's word, `Worse:` or `Better:`), the report
/// line (`Report SHA-256: <first 12 hex digits>…`), dashboard and report buttons.
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
        text_run(title(d), true),
        text_run(format!("{} ({})", d.date, d.timezone), false),
        json!({"type": "FactSet", "facts": facts}),
        json!({"type": "TextBlock", "text": "Flagged changes", "weight": "Bolder", "wrap": true, "separator": true}),
    ];
    if d.changes.is_empty() {
        body.push(json!({"type": "TextBlock", "text": "No flagged changes.", "isSubtle": true, "wrap": true}));
    }
    body.extend(
        d.changes
            .iter()
            .map(|c| change_block(&wording::change(c, d.date))),
    );
    body.push(report_block(d.report_line()));
    let actions = open_actions(&[
        ("Open the dashboard", d.dashboard_url.as_deref()),
        ("Open the report", Some(&d.report_url)),
    ]);
    json!({
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": body,
        "actions": actions,
    })
}

/// A flagged change: its tone's word (`Better:`, `Worse:`), bold and coloured `Good` or
/// `Attention`, then the sentence in the default colour, so good and bad news differ in
/// words, not colour alone; a neutral change is the sentence only. Our words and numbers
/// only (`super::wording`), in one `RichTextBlock` (never markdown).
fn change_block(s: &Sentence) -> Value {
    let color = match s.tone {
        Tone::Good => Some("Good"),
        Tone::Bad => Some("Attention"),
        Tone::Neutral => None,
    };
    let word = color.map(|color| {
        json!({"type": "TextRun", "text": format!("{}: ", s.tone.word()), "weight": "Bolder", "color": color})
    });
    let sentence = json!({"type": "TextRun", "text": s.text});
    let inlines: Vec<Value> = word.into_iter().chain([sentence]).collect();
    json!({"type": "RichTextBlock", "inlines": inlines, "spacing": "Small"})
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

    /// Good and bad news differ in words and colour; a neutral change has neither.
    #[test]
    fn a_change_says_better_or_worse_in_words_and_colour() {
        let said = |tone| {
            change_block(&Sentence {
                text: "Success rate 40.0 % — down 15.0 pp".into(),
                tone,
            })
        };
        let runs = |b: &Value| b["inlines"].as_array().unwrap().clone();
        let bad = runs(&said(Tone::Bad));
        assert_eq!(
            (&bad[0]["text"], &bad[0]["color"], &bad[0]["weight"]),
            (&json!("Worse: "), &json!("Attention"), &json!("Bolder"))
        );
        assert_eq!(bad[1]["text"], "Success rate 40.0 % — down 15.0 pp");
        let good = runs(&said(Tone::Good));
        assert_eq!(
            (&good[0]["text"], &good[0]["color"]),
            (&json!("Better: "), &json!("Good"))
        );
        let neutral = runs(&said(Tone::Neutral));
        assert_eq!(neutral.len(), 1);
        assert_eq!(neutral[0]["text"], "Success rate 40.0 % — down 15.0 pp");
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
        // The report line: our words and hex digits, in a TextBlock.
        assert!(
            found
                .iter()
                .any(|(kind, t)| *kind == "TextBlock" && t == "Report SHA-256: 3f2a9c01b7de…"),
            "{found:?}"
        );
        // The time zone (stored with the org) is a TextRun too.
        assert!(
            found
                .iter()
                .any(|(kind, t)| *kind == "TextRun" && t.contains("Port_of_Spain"))
        );
    }
}
