//! Microsoft's Adaptive Cards renderer for the Teams messages' tests (`tests/cards/render.mjs`:
//! npm `adaptivecards` in headless Chromium).

use std::time::Duration;

use serde_json::Value;

/// Renders an Adaptive Card with Microsoft's own renderer: `tests/cards/render.mjs` parses it
/// for Adaptive Cards 1.4 (what the Teams Workflows webhook takes), validates it, renders it,
/// checks that every `expect` text (and every TextBlock and fact of the card) shows, and
/// screenshots it. The card goes to `target/cards/<name>.json`, the screenshot to
/// `target/cards/<name>.png`. Returns (success, stdout + stderr); panics when the script could
/// not run at all (not a verdict on the card).
pub async fn render_card(card: &Value, name: &str, expect: &[&str]) -> (bool, String) {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let script = root.join("tests/cards/render.mjs");
    assert!(
        root.join("tests/cards/node_modules/adaptivecards").is_dir(),
        "tests/cards/node_modules is missing: scripts/test installs it (npm ci in tests/cards)"
    );
    let dir = root.join("target/cards");
    std::fs::create_dir_all(&dir).unwrap();
    let json = dir.join(format!("{name}.json"));
    let png = dir.join(format!("{name}.png"));
    std::fs::write(&json, serde_json::to_vec_pretty(card).unwrap()).unwrap();
    let _ = std::fs::remove_file(&png);
    let mut cmd = tokio::process::Command::new(std::env::var("NODE").unwrap_or("node".into()));
    cmd.arg(&script).arg(&json).arg(&png);
    for e in expect {
        cmd.arg("--expect").arg(e);
    }
    let out = tokio::time::timeout(Duration::from_secs(120), cmd.output())
        .await
        .expect("render.mjs finishes within 2 minutes")
        .expect("run node tests/cards/render.mjs");
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    match out.status.code() {
        Some(0) => {
            let shot = std::fs::read(&png).expect("a screenshot");
            assert!(
                shot.starts_with(b"\x89PNG") && shot.len() > 5_000,
                "a real screenshot: {} bytes",
                shot.len()
            );
            (true, log)
        }
        Some(1) => (false, log),
        _ => panic!("render.mjs could not run (not a card verdict): {log}"),
    }
}
