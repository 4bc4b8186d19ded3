//! The `webhook` channel: JSON `{"event": "daily_report.ready", ...}` signed with
//! `X-CallAnalytics-Signature: sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>` and
//! `X-CallAnalytics-Timestamp` (Unix seconds). A receiver recomputes the HMAC over the exact
//! body bytes and rejects old timestamps.

use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use super::Digest;

/// The timestamp header.
pub const TIMESTAMP_HEADER: &str = "X-CallAnalytics-Timestamp";
/// The signature header.
pub const SIGNATURE_HEADER: &str = "X-CallAnalytics-Signature";

/// The body.
pub fn payload(d: &Digest) -> Value {
    json!({
        "event": "daily_report.ready",
        "org_id": d.org_id,
        "org_name": d.org_name,
        "date": d.date,
        "timezone": d.timezone,
        "kpis": d.kpi_values,
        "changes": d.changes,
        "report_url": d.report_url,
        "dashboard_url": d.dashboard_url,
        "test": d.test,
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
