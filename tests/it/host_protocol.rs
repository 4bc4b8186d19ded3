//! The bundle's declarations agree with what the handler serves: `host.json`, every
//! `function.json`, `local.settings.json.example`, and the route table.

use std::path::Path;

use call_analytics::server::routes::{ROUTES, match_path};
use serde_json::Value;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(
        &std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
    )
    .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The function folders at the repository root (those with a `function.json`).
fn functions() -> Vec<(String, Value)> {
    let mut out: Vec<(String, Value)> = std::fs::read_dir(root())
        .unwrap()
        .filter_map(|e| {
            let dir = e.unwrap().path();
            let fj = dir.join("function.json");
            fj.exists().then(|| {
                (
                    dir.file_name().unwrap().to_string_lossy().into_owned(),
                    read_json(&fj),
                )
            })
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

#[test]
fn host_json_starts_the_handler_and_forwards_http_under_api() {
    let host = read_json(&root().join("host.json"));
    assert_eq!(host["version"], "2.0");
    assert_eq!(
        host["customHandler"]["description"]["defaultExecutablePath"],
        "handler"
    );
    assert_eq!(host["customHandler"]["enableForwardingHttpRequest"], true);
    assert_eq!(host["extensions"]["http"]["routePrefix"], "api");
    assert!(
        host["extensionBundle"]["version"]
            .as_str()
            .unwrap()
            .starts_with("[4.")
    );
}

#[test]
fn every_function_folder_is_served_and_every_served_route_is_declared() {
    let functions = functions();
    assert!(functions.iter().any(|(n, _)| n == "failure_analysis"));
    for (name, fj) in &functions {
        let bindings = fj["bindings"].as_array().unwrap();
        let trigger = bindings.iter().find(|b| b["direction"] == "in").unwrap();
        let routes: Vec<_> = ROUTES
            .iter()
            .filter(|r| r.function == Some(name.as_str()))
            .collect();
        assert!(
            !routes.is_empty(),
            "{name} has a function.json but no route"
        );
        if trigger["type"] == "httpTrigger" {
            // Forwarded: exactly one httpTrigger in and one http out.
            assert_eq!(bindings.len(), 2, "{name}");
            assert!(
                bindings
                    .iter()
                    .any(|b| b["type"] == "http" && b["direction"] == "out"),
                "{name}"
            );
            // App Service Authentication signs callers in (README, "Deploy", "Sign-in").
            assert_eq!(trigger["authLevel"], "anonymous", "{name}");
            let template = format!("/api/{}", trigger["route"].as_str().unwrap_or(name));
            let methods: Vec<String> = trigger["methods"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m.as_str().unwrap().to_uppercase())
                .collect();
            for route in routes {
                let example = route
                    .path
                    .replace("{org_id}", "org")
                    .replace("{date}", "2025-01-01");
                assert!(
                    host_route_matches(&template, &example),
                    "{name}: {template} does not reach {}",
                    route.path
                );
                for m in route.methods {
                    assert!(
                        methods.contains(&m.to_string()),
                        "{name}: {m} {} not in {methods:?}",
                        route.path
                    );
                }
            }
        } else {
            // Non-HTTP triggers arrive as POST /{function name}.
            assert!(
                routes.iter().any(|r| r.path == format!("/{name}")),
                "{name}"
            );
        }
    }
    for route in ROUTES.iter().filter(|r| r.function.is_some()) {
        assert!(
            functions
                .iter()
                .any(|(n, _)| Some(n.as_str()) == route.function),
            "{} has no function.json",
            route.path
        );
    }
}

/// Whether a host route template (`{x}` segments, `{*rest}` catch-all) matches a path.
fn host_route_matches(template: &str, path: &str) -> bool {
    if let Some(prefix) = template
        .split("/{*")
        .next()
        .filter(|_| template.contains("{*"))
    {
        return path.starts_with(prefix);
    }
    match_path(template, path).is_some()
}

#[test]
fn local_settings_example_lists_every_setting_the_handler_reads() {
    let example = std::fs::read_to_string(root().join("local.settings.json.example")).unwrap();
    let source = std::fs::read_to_string(root().join("src/configuration.rs")).unwrap();
    let mut names: Vec<&str> = source
        .split("get(\"")
        .skip(1)
        .chain(source.split("parse(get, \"").skip(1))
        .chain(source.split("parse_opt_timestamp(get, \"").skip(1))
        .filter_map(|s| s.split('"').next())
        .collect();
    names.sort();
    names.dedup();
    assert!(names.len() > 10, "{names:?}");
    for name in names {
        assert!(
            example.contains(&format!("\"{name}\"")),
            "{name} missing from local.settings.json.example"
        );
    }
    // It is JSON once its comment lines are dropped.
    let json: String = example
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n");
    let v: Value =
        serde_json::from_str(&json).expect("local.settings.json.example is JSON without comments");
    assert_eq!(v["Values"]["FUNCTIONS_WORKER_RUNTIME"], "Custom");
}
