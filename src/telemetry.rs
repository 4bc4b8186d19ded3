//! Logging with `tracing`: one line per event on stderr, which the Functions host forwards to
//! Application Insights. The level comes from `-v` or `LOG_LEVEL` ([`level`]); `LOG_FORMAT=json`
//! gives JSON lines. Every line logged while serving a request carries its `invocation_id`
//! (span field).

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

/// The filter to log with: `-v` (`info`) or `-vv` and more (`debug`) first, then the
/// `LOG_LEVEL` setting, then `info` when serving (the host's logs) and `warn` for a command-line
/// command, whose output is for a person (its own errors are printed, not logged).
pub fn level(verbose: u8, setting: Option<&str>, serving: bool) -> &str {
    match (verbose, setting) {
        (1, _) => "info",
        (2.., _) => "debug",
        (0, Some(level)) => level,
        (0, None) if serving => "info",
        (0, None) => "warn",
    }
}

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

#[cfg(test)]
mod tests {
    use super::level;

    #[test]
    fn commands_log_warnings_unless_asked_and_serving_logs_info() {
        assert_eq!(level(0, None, false), "warn");
        assert_eq!(level(0, None, true), "info");
        assert_eq!(level(0, Some("debug"), false), "debug");
        assert_eq!(level(0, Some("warn"), true), "warn");
        assert_eq!(level(1, Some("warn"), false), "info");
        assert_eq!(level(3, None, true), "debug");
    }
}
