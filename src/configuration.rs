//! Settings, read once at start from the environment (Azure Functions app settings) and,
//! locally, from a `.env` file in the working directory. Every setting the handler reads is
//! listed here and in `local.settings.json.example`, with its default.
//!
//! Secrets (`DB_URL`, `AZURE_STORAGE_CONNECTION_STRING`, `CLICKHOUSE_PASSWORD`) are held in
//! [`Secret`], whose `Debug` prints `***`, so they never reach a log.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use chrono::NaiveDateTime;
use chrono_tz::Tz;

/// A value that must never be logged or returned.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

/// A setting that is present but cannot be used; names the setting, never its value.
#[derive(Debug, thiserror::Error)]
#[error("setting {name}: {reason}")]
pub struct SettingError {
    pub name: &'static str,
    pub reason: String,
}

/// Where artifacts and documents are stored (see [`crate::storage`]).
#[derive(Debug, Clone)]
pub enum StorageSettings {
    /// `OUTPUT_DIR` (default `./output`): used when no storage account is configured.
    Local { dir: PathBuf },
    /// `AZURE_STORAGE_CONNECTION_STRING`: key-based account or Azurite.
    ConnectionString {
        connection_string: Secret,
        container: String,
    },
    /// `AZURE_STORAGE_ACCOUNT_URL` + managed identity (`AZURE_CLIENT_ID` for a user-assigned one).
    ///
    /// Outside Azure (no `IDENTITY_ENDPOINT`, which App Service and Functions set) the
    /// developer-tools credential is used instead (Azure CLI / Azure Developer CLI login).
    AccountUrl {
        account_url: String,
        client_id: Option<String>,
        container: String,
        /// `IDENTITY_ENDPOINT` is set: a managed identity is reachable.
        in_azure: bool,
    },
}

/// ClickHouse connection (the old daily-report backend's setting names).
#[derive(Debug, Clone)]
pub struct ClickHouseSettings {
    /// `CLICKHOUSE_URL`, e.g. `https://xxx.clickhouse.cloud:8443`.
    pub url: String,
    /// `CLICKHOUSE_USERNAME` (default `default`).
    pub username: String,
    /// `CLICKHOUSE_PASSWORD` (default empty).
    pub password: Secret,
    /// `CLICKHOUSE_DATABASE` (default `default`).
    pub database: String,
    /// `CLICKHOUSE_QUERY_TIMEOUT_SECS` (default 180, as the old daily-report backend).
    pub query_timeout_secs: u64,
    /// `CLICKHOUSE_MAX_MEMORY_USAGE` in bytes (default 10 GB, as the old daily-report backend).
    pub max_memory_usage: u64,
}

/// The default organization (`docs/daily-report.md`, "Organizations": `ORG_ID`,
/// `BROKER_NODE_PERSISTENT_ID`, `CLIENT_NAME`, `DEFAULT_TIMEZONE`), created in storage on start
/// when missing.
#[derive(Debug, Clone)]
pub struct DefaultOrgSettings {
    pub org_id: String,
    pub node_persistent_id: String,
    pub name: String,
    pub timezone: Tz,
}

/// All settings.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `FUNCTIONS_CUSTOMHANDLER_PORT` (the host sets it), else `FUNCTIONS_HTTPWORKER_PORT`,
    /// else [`DEFAULT_PORT`].
    pub port: u16,
    /// `LOG_LEVEL` (default `info`): a `tracing` filter such as `debug` or `call_analytics=debug`.
    pub log_level: String,
    /// `DB_URL`: PostgreSQL URL; `sslmode=require` turns TLS on.
    pub db_url: Option<Secret>,
    /// `DB_POOL_MAX_SIZE` (default 4).
    pub db_pool_max_size: usize,
    /// `DB_CONNECT_TIMEOUT` in seconds (default 10): opening a PostgreSQL connection (TCP,
    /// TLS, authentication) and waiting for a pooled one each give up after this long (503).
    pub db_connect_timeout: Duration,
    /// `CLICKHOUSE_CONNECT_TIMEOUT` in seconds (default 10): how long ClickHouse may take to
    /// answer the `SELECT 1` that precedes each query attempt (503 when it does not).
    pub clickhouse_connect_timeout: Duration,
    /// `AZURE_STORAGE_CONNECT_TIMEOUT` in seconds (default 10): how long Blob Storage may take
    /// to connect and start answering one request (503 when it does not).
    pub storage_connect_timeout: Duration,
    /// `START_DATE` (UTC, `YYYY-MM-DD HH:MM:SS`): default window start
    /// (`docs/failure-analysis.md`, "Window").
    pub start_date: Option<NaiveDateTime>,
    /// `END_DATE` (UTC, inclusive to the second): default window end
    /// (`docs/failure-analysis.md`, "Window").
    pub end_date: Option<NaiveDateTime>,
    /// `MAX_WINDOW_DAYS` (default 366).
    pub max_window_days: i64,
    /// `AZURE_STORAGE_*` / `OUTPUT_DIR`.
    pub storage: StorageSettings,
    /// `CLICKHOUSE_*`; `None` when `CLICKHOUSE_URL` is unset.
    pub clickhouse: Option<ClickHouseSettings>,
    /// `ORG_ID` & co; `None` when `ORG_ID` is unset.
    pub default_org: Option<DefaultOrgSettings>,
    /// `SCHEDULER_HOUR` (default 6).
    pub scheduler_hour: u32,
    /// `SCHEDULER_MINUTE` (default 0).
    pub scheduler_minute: u32,
    /// `CATCHUP_DAYS` (default 7).
    pub catchup_days: u32,
    /// `BACKFILL_BUDGET_SECONDS` (default 150): a backfill or generate call starts no report
    /// after this long, so that it answers inside the Functions front end's 230 s HTTP limit.
    pub backfill_budget_seconds: u64,
    /// `DAILY_REPORT_SCHEDULE`: the timer's NCRONTAB (default hourly, `0 0 * * * *`).
    pub daily_report_schedule: String,
    /// `REQUIRE_PRINCIPAL` (default false): a request without a valid `X-MS-CLIENT-PRINCIPAL`
    /// is a 401. Where `WEBSITE_SITE_NAME` is set (App Service), it needs
    /// `WEBSITE_AUTH_ENABLED=True` (App Service Authentication on), else the handler refuses
    /// to start: only the platform's authentication makes the header trustworthy.
    pub require_principal: bool,
    /// `PUBLIC_BASE_URL` (e.g. `https://<app>.azurewebsites.net`, no trailing `/`): links in
    /// responses and digests are absolute under it; unset, they are relative (`/api/...`).
    pub public_base_url: Option<String>,
    /// `ALLOW_INSECURE_WEBHOOKS` (default false): notification URLs may be `http` on a loopback
    /// host (tests, local runs); otherwise they must be `https`.
    pub allow_insecure_webhooks: bool,
}

/// The port served when the host gives none.
pub const DEFAULT_PORT: u16 = 3000;

impl Settings {
    /// Reads `.env` (if present; existing environment variables win) and then the environment.
    pub fn load() -> Result<Self, SettingError> {
        let _ = dotenvy::dotenv();
        Self::from_map(&std::env::vars().collect())
    }

    /// Builds settings from a name → value map (the environment); blank values count as unset.
    pub fn from_map(env: &HashMap<String, String>) -> Result<Self, SettingError> {
        let get = |name: &str| env.get(name).map(|v| v.trim()).filter(|v| !v.is_empty());
        let container = get("AZURE_STORAGE_CONTAINER")
            .unwrap_or("user-failure-reports")
            .to_string();
        let storage = if let Some(cs) = get("AZURE_STORAGE_CONNECTION_STRING") {
            StorageSettings::ConnectionString {
                connection_string: Secret::new(cs),
                container,
            }
        } else if let Some(url) = get("AZURE_STORAGE_ACCOUNT_URL") {
            StorageSettings::AccountUrl {
                account_url: url.to_string(),
                client_id: get("AZURE_CLIENT_ID").map(str::to_string),
                container,
                in_azure: get("IDENTITY_ENDPOINT").is_some(),
            }
        } else {
            StorageSettings::Local {
                dir: get("OUTPUT_DIR").unwrap_or("./output").into(),
            }
        };
        let clickhouse = match get("CLICKHOUSE_URL") {
            None => None,
            Some(url) => Some(ClickHouseSettings {
                url: url.to_string(),
                username: get("CLICKHOUSE_USERNAME").unwrap_or("default").to_string(),
                password: Secret::new(get("CLICKHOUSE_PASSWORD").unwrap_or("")),
                database: get("CLICKHOUSE_DATABASE").unwrap_or("default").to_string(),
                query_timeout_secs: parse(get, "CLICKHOUSE_QUERY_TIMEOUT_SECS", 180)?,
                max_memory_usage: parse(get, "CLICKHOUSE_MAX_MEMORY_USAGE", 10_000_000_000)?,
            }),
        };
        let default_org = match get("ORG_ID") {
            None => None,
            Some(org_id) => Some(DefaultOrgSettings {
                org_id: org_id.to_string(),
                node_persistent_id: get("BROKER_NODE_PERSISTENT_ID")
                    .ok_or_else(|| SettingError {
                        name: "BROKER_NODE_PERSISTENT_ID",
                        reason: "required when ORG_ID is set".into(),
                    })?
                    .to_string(),
                name: get("CLIENT_NAME")
                    .unwrap_or("Default organization")
                    .to_string(),
                timezone: parse(get, "DEFAULT_TIMEZONE", Tz::UTC)?,
            }),
        };
        let port = match get("FUNCTIONS_CUSTOMHANDLER_PORT") {
            Some(_) => parse(get, "FUNCTIONS_CUSTOMHANDLER_PORT", DEFAULT_PORT)?,
            None => parse(get, "FUNCTIONS_HTTPWORKER_PORT", DEFAULT_PORT)?,
        };
        let settings = Self {
            port,
            log_level: get("LOG_LEVEL").unwrap_or("info").to_lowercase(),
            db_url: get("DB_URL").map(Secret::new),
            db_pool_max_size: parse(get, "DB_POOL_MAX_SIZE", 4)?,
            db_connect_timeout: seconds(
                parse(get, "DB_CONNECT_TIMEOUT", 10)?,
                "DB_CONNECT_TIMEOUT",
            )?,
            clickhouse_connect_timeout: seconds(
                parse(get, "CLICKHOUSE_CONNECT_TIMEOUT", 10)?,
                "CLICKHOUSE_CONNECT_TIMEOUT",
            )?,
            storage_connect_timeout: seconds(
                parse(get, "AZURE_STORAGE_CONNECT_TIMEOUT", 10)?,
                "AZURE_STORAGE_CONNECT_TIMEOUT",
            )?,
            start_date: parse_opt_timestamp(get, "START_DATE")?,
            end_date: parse_opt_timestamp(get, "END_DATE")?,
            max_window_days: parse(get, "MAX_WINDOW_DAYS", 366)?,
            storage,
            clickhouse,
            default_org,
            scheduler_hour: parse(get, "SCHEDULER_HOUR", 6)?,
            scheduler_minute: parse(get, "SCHEDULER_MINUTE", 0)?,
            catchup_days: parse(get, "CATCHUP_DAYS", 7)?,
            backfill_budget_seconds: parse(get, "BACKFILL_BUDGET_SECONDS", 150)?,
            daily_report_schedule: get("DAILY_REPORT_SCHEDULE")
                .unwrap_or("0 0 * * * *")
                .to_string(),
            require_principal: parse(get, "REQUIRE_PRINCIPAL", false)?,
            public_base_url: get("PUBLIC_BASE_URL")
                .map(|u| check_base_url(u, "PUBLIC_BASE_URL"))
                .transpose()?,
            allow_insecure_webhooks: parse(get, "ALLOW_INSECURE_WEBHOOKS", false)?,
        };
        if settings.require_principal
            && get("WEBSITE_SITE_NAME").is_some()
            && !get("WEBSITE_AUTH_ENABLED").is_some_and(|v| v.eq_ignore_ascii_case("true"))
        {
            return Err(SettingError {
                name: "REQUIRE_PRINCIPAL",
                reason: "REQUIRE_PRINCIPAL=true in App Service needs App Service Authentication \
                         (WEBSITE_AUTH_ENABLED=True): without it anyone could send an \
                         X-MS-CLIENT-PRINCIPAL header"
                    .into(),
            });
        }
        if settings.scheduler_hour > 23 || settings.scheduler_minute > 59 {
            return Err(SettingError {
                name: "SCHEDULER_HOUR",
                reason: "SCHEDULER_HOUR must be 0-23 and SCHEDULER_MINUTE 0-59".into(),
            });
        }
        if settings.max_window_days < 1 {
            return Err(SettingError {
                name: "MAX_WINDOW_DAYS",
                reason: "must be at least 1".into(),
            });
        }
        Ok(settings)
    }
}

fn parse<'a, T: std::str::FromStr>(
    get: impl Fn(&str) -> Option<&'a str>,
    name: &'static str,
    default: T,
) -> Result<T, SettingError> {
    match get(name) {
        None => Ok(default),
        Some(v) => v.parse().map_err(|_| SettingError {
            name,
            reason: format!("cannot parse {v:?}"),
        }),
    }
}

/// An absolute `http(s)` URL without query or fragment, returned without its trailing `/`.
fn check_base_url(value: &str, name: &'static str) -> Result<String, SettingError> {
    let bad = |reason: &str| SettingError {
        name,
        reason: reason.into(),
    };
    let url = url::Url::parse(value).map_err(|_| bad("not an absolute URL"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(bad("must be an http(s) URL with a host"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(bad("must not have a query or fragment"));
    }
    Ok(value.trim_end_matches('/').to_string())
}

/// A whole number of seconds, 1 to 3600.
fn seconds(value: u64, name: &'static str) -> Result<Duration, SettingError> {
    if (1..=3600).contains(&value) {
        Ok(Duration::from_secs(value))
    } else {
        Err(SettingError {
            name,
            reason: "must be 1-3600 seconds".into(),
        })
    }
}

fn parse_opt_timestamp<'a>(
    get: impl Fn(&str) -> Option<&'a str>,
    name: &'static str,
) -> Result<Option<NaiveDateTime>, SettingError> {
    get(name)
        .map(|v| {
            NaiveDateTime::parse_from_str(v, "%Y-%m-%d %H:%M:%S").map_err(|_| SettingError {
                name,
                reason: format!("{v:?} is not a UTC timestamp `YYYY-MM-DD HH:MM:SS`"),
            })
        })
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_use_a_local_folder_and_the_default_port() {
        let s = Settings::from_map(&env(&[])).unwrap();
        assert_eq!(s.port, DEFAULT_PORT);
        assert!(
            matches!(s.storage, StorageSettings::Local { ref dir } if dir == &PathBuf::from("./output"))
        );
        assert_eq!(s.max_window_days, 366);
        assert_eq!(s.db_connect_timeout, Duration::from_secs(10));
        assert_eq!(s.clickhouse_connect_timeout, Duration::from_secs(10));
        assert_eq!(s.storage_connect_timeout, Duration::from_secs(10));
    }

    #[test]
    fn connect_timeouts_are_whole_seconds_within_an_hour() {
        let s = Settings::from_map(&env(&[("DB_CONNECT_TIMEOUT", "2")])).unwrap();
        assert_eq!(s.db_connect_timeout, Duration::from_secs(2));
        for bad in ["0", "3601", "1.5", "-1"] {
            let e =
                Settings::from_map(&env(&[("AZURE_STORAGE_CONNECT_TIMEOUT", bad)])).unwrap_err();
            assert_eq!(e.name, "AZURE_STORAGE_CONNECT_TIMEOUT");
        }
    }

    #[test]
    fn require_principal_in_app_service_needs_its_authentication() {
        let on = [
            ("REQUIRE_PRINCIPAL", "true"),
            ("WEBSITE_SITE_NAME", "func-x"),
        ];
        let e = Settings::from_map(&env(&on)).unwrap_err();
        assert_eq!(e.name, "REQUIRE_PRINCIPAL");
        assert!(e.to_string().contains("WEBSITE_AUTH_ENABLED"), "{e}");
        let mut with_auth = on.to_vec();
        with_auth.push(("WEBSITE_AUTH_ENABLED", "True"));
        assert!(
            Settings::from_map(&env(&with_auth))
                .unwrap()
                .require_principal
        );
        // Outside App Service (tests, local) the setting alone is enough.
        assert!(
            Settings::from_map(&env(&[("REQUIRE_PRINCIPAL", "true")]))
                .unwrap()
                .require_principal
        );
    }

    #[test]
    fn the_public_base_url_is_an_absolute_url_kept_without_its_slash() {
        let s = Settings::from_map(&env(&[("PUBLIC_BASE_URL", "https://a.example/")])).unwrap();
        assert_eq!(s.public_base_url.as_deref(), Some("https://a.example"));
        for bad in ["a.example", "ftp://a.example", "https://a.example/?x=1"] {
            let e = Settings::from_map(&env(&[("PUBLIC_BASE_URL", bad)])).unwrap_err();
            assert_eq!(e.name, "PUBLIC_BASE_URL", "{bad}");
        }
    }

    #[test]
    fn the_hosts_port_wins() {
        let s = Settings::from_map(&env(&[
            ("FUNCTIONS_CUSTOMHANDLER_PORT", "41234"),
            ("FUNCTIONS_HTTPWORKER_PORT", "1"),
        ]))
        .unwrap();
        assert_eq!(s.port, 41234);
    }

    #[test]
    fn a_bad_value_names_the_setting_not_the_value_of_secrets() {
        let e = Settings::from_map(&env(&[("START_DATE", "yesterday")])).unwrap_err();
        assert_eq!(e.name, "START_DATE");
        let s = Settings::from_map(&env(&[("DB_URL", "postgres://u:hunter2@h/db")])).unwrap();
        assert!(!format!("{s:?}").contains("hunter2"));
    }
}
