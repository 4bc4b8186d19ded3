//! The deployable zip (`scripts/package`): exactly the bundle's files, `handler` executable, and
//! the glibc the binary needs within what the README's "Deploy" section documents.

use std::io::Read;
use std::path::Path;

/// The newest `GLIBC_2.N` symbol version the README documents as required.
const MAX_GLIBC_MINOR: u32 = 34;

fn package(out: &Path) {
    let status =
        std::process::Command::new(concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/package"))
            .args(["--binary", env!("CARGO_BIN_EXE_handler"), "--out"])
            .arg(out)
            .status()
            .expect("run scripts/package");
    assert!(status.success());
}

#[test]
fn the_zip_holds_host_json_the_four_functions_and_an_executable_handler() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("app.zip");
    package(&out);
    let mut zip = zip::ZipArchive::new(std::fs::File::open(&out).unwrap()).unwrap();
    let mut names: Vec<String> = zip.file_names().map(str::to_string).collect();
    names.sort();
    assert_eq!(
        names,
        [
            "daily_report_timer/function.json",
            "daily_report_worker/function.json",
            "failure_analysis/function.json",
            "handler",
            "host.json",
            "reports_http/function.json"
        ]
    );
    let handler = zip.by_name("handler").unwrap();
    assert_eq!(handler.unix_mode().map(|m| m & 0o777), Some(0o755));
    drop(handler);
    let mut host = String::new();
    zip.by_name("host.json")
        .unwrap()
        .read_to_string(&mut host)
        .unwrap();
    let host: serde_json::Value = serde_json::from_str(&host).unwrap();
    assert_eq!(
        host["customHandler"]["description"]["defaultExecutablePath"],
        "handler"
    );
}

#[test]
fn the_handler_needs_no_glibc_newer_than_documented() {
    let binary = std::fs::read(env!("CARGO_BIN_EXE_handler")).unwrap();
    let text = String::from_utf8_lossy(&binary);
    let newest = text
        .match_indices("GLIBC_2.")
        .filter_map(|(i, m)| {
            let digits: String = text[i + m.len()..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            digits.parse::<u32>().ok()
        })
        .max()
        .expect("a glibc-linked binary names GLIBC_2.x versions");
    assert!(
        newest <= MAX_GLIBC_MINOR,
        "handler needs GLIBC_2.{newest}; README's Deploy section says 2.{MAX_GLIBC_MINOR}: update both"
    );
}
