//! Logging with `tracing`: one line per event on stderr, which the Functions host forwards to
//! Application Insights. The level comes from `LOG_LEVEL`; `LOG_FORMAT=json` gives JSON lines.
//! Every line logged while serving a request carries its `invocation_id` (span field).

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber. `level` is a `tracing` filter (`info`, `debug`,
/// `call_analytics=debug,warn`); an unparseable one falls back to `info`.
pub fn init(level: &str) {
    let filter = EnvFilter::try_new(level).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(std::io::stderr().is_terminal());
    let json = std::env::var("LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    let _ = if json {
        builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .try_init()
    } else {
        builder.compact().try_init()
    };
}
