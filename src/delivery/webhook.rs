//! The `webhook` channel: JSON `{"event": "daily_report.ready", ...}` signed with
//! `X-CallAnalytics-Signature: sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>` and
//! `X-CallAnalytics-Timestamp` (Unix seconds). A receiver recomputes the HMAC over the exact
//! body bytes and rejects old timestamps. A correction is `{"event": "daily_report.corrected",
//! ...}` ([`correction_payload`]), signed the same way.

use hmac::{Hmac, Mac};
use serde_json::{Map, Value, json};
use sha2::Sha256;

use super::Digest;
use super::corrections::Correction;
use super::wording;

/// The digest's `event`.
pub const DIGEST_EVENT: &str = "daily_report.ready";
/// A correction's `event`.
pub const CORRECTION_EVENT: &str = "daily_report.corrected";

/// The timestamp header.
pub const TIMESTAMP_HEADER: &str = "X-CallAnalytics-Timestamp";
/// The signature header.
pub const SIGNATURE_HEADER: &str = "X-CallAnalytics-Signature";

/// The body of a digest: `{"event": "daily_report.ready", "org_id", "org_name", "date",
/// "timezone", "kpis", "kpi_labels", "kpi_text", "changes", "report_url", "dashboard_url",
/// "test", "revision", "report_sha256"}` (`docs/delivery-and-access.md`, "Payloads"): the
/// machine keys and numbers, and beside them what the chat messages say — `kpi_labels`
/// (`{"success_rate_percent": "Success rate"}`), `kpi_text` (`{"success_rate_percent":
/// "62.5 %"}`), and each change's `label` and `text` (its sentence, `super::wording`).
pub fn payload(d: &Digest) -> Value {
    let labels: Map<String, Value> = d
        .kpis
        .iter()
        .map(|(label, key, _)| (key.to_string(), json!(label)))
        .collect();
    let texts: Map<String, Value> = d
        .kpis
        .iter()
        .map(|(_, key, text)| (key.to_string(), json!(text)))
        .collect();
    let changes: Vec<Value> = d
        .changes
        .iter()
        .map(|c| {
            let mut v = json!(c);
            v["label"] = json!(c.kpi.label());
            v["text"] = json!(wording::change(c, d.date).text);
            v
        })
        .collect();
    json!({
        "event": DIGEST_EVENT,
        "org_id": d.org_id,
        "org_name": d.org_name,
        "date": d.date,
        "timezone": d.timezone,
        "kpis": d.kpi_values,
        "kpi_labels": labels,
        "kpi_text": texts,
        "changes": changes,
        "report_url": d.report_url,
        "dashboard_url": d.dashboard_url,
        "test": d.test,
        "revision": d.revision,
        "report_sha256": d.report_sha256,
    })
}

/// The body of a correction (`docs/revisions.md`, "Corrections reach the people who were
/// told"): `{"event": "daily_report.corrected", "org_id", "org_name", "date", "revision",
/// "previous": {<kpi>: value}, "current": {<kpi>: value}, "report_url", "report_sha256"}`;
/// `previous` and `current` hold every headline KPI of the digest, by the keys of its `kpis`,
/// before and after the revision.
pub fn correction_payload(c: &Correction) -> Value {
    json!({
        "event": CORRECTION_EVENT,
        "org_id": c.org_id,
        "org_name": c.org_name,
        "date": c.date,
        "revision": c.revision,
        "previous": c.values(|k| k.previous),
        "current": c.values(|k| k.current),
        "report_url": c.report_url,
        "report_sha256": c.report_sha256,
    })
}

/// `sha256=<hex>` of `timestamp + "." + body` under `secret`.
pub fn signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("sha256={hex}")
}

/// The two headers of a signed body.
pub fn signature_headers(secret: &str, timestamp: i64, body: &[u8]) -> Vec<(&'static str, String)> {
    vec![
        (TIMESTAMP_HEADER, timestamp.to_string()),
        (SIGNATURE_HEADER, signature(secret, timestamp, body)),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `docs/revisions.md`, "Provenance": a digest names the stored document it was made
    /// from, and its revision.
    #[test]
    fn a_digest_carries_the_stored_documents_sha256_and_revision() {
        let d = super::super::test_digest("Paul Logistics");
        let body = payload(&d);
        assert_eq!(body["event"], "daily_report.ready");
        assert_eq!(body["report_sha256"], d.report_sha256);
        assert_eq!(body["report_sha256"].as_str().unwrap().len(), 64);
        assert_eq!(body["revision"], 1);
    }

    /// The machine keys stay; beside them, the labels and words the chat messages show.
    #[test]
    fn a_digest_keeps_its_machine_keys_and_adds_the_words() {
        let body = payload(&super::super::test_digest("Paul Logistics"));
        let change = &body["changes"][0];
        assert_eq!(change["kpi"], "success_rate_percent");
        assert_eq!(
            (&change["value"], &change["baseline"], &change["delta"]),
            (&json!(40.0), &json!(55.0), &json!(-15.0))
        );
        assert_eq!(
            (&change["flag"], &change["good"]),
            (&json!("down"), &json!(false))
        );
        assert_eq!(change["label"], "Success rate");
        assert_eq!(
            change["text"],
            "Success rate 40.0 % — down 15.0 pp from the usual 55.0 % (median of the 4 previous Wednesdays)"
        );
        assert_eq!(body["kpi_labels"]["success_rate_percent"], "Success rate");
        assert_eq!(body["kpi_text"]["success_rate_percent"], "62.5 %");
        assert_eq!(body["kpi_text"]["total_calls"], "42");
    }

    #[test]
    fn the_signature_is_hmac_sha256_over_timestamp_dot_body() {
        // Computed independently (Python hmac): HMAC-SHA256("key", "1.{}").
        let s = signature("key", 1, b"{}");
        assert_eq!(
            s,
            "sha256=1ba6b8171186efc613e8bcc0cbdab2748f24984d7c5a84faa2637afa0e40d224"
        );
        assert_ne!(s, signature("key", 2, b"{}"));
        assert_ne!(s, signature("other", 1, b"{}"));
    }
}
