//! Settings, read once at start from the environment (Azure Functions app settings) and,
//! locally, from a `.env` file in the working directory. Every setting the handler reads is
//! read here, in one line with its default ([`Settings::from_map`]; what it means is on its
//! field), and listed in `local.settings.json.example` (a test holds the two together).
//!
//! Secrets (`DB_URL`, `AZURE_STORAGE_CONNECTION_STRING`, `CLICKHOUSE_PASSWORD`, `SMTP_PASSWORD`)
//! are held in
//! [`Secret`], whose `Debug` prints `***`, so they never reach a log.

use std::cell::RefCell;
use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use std::str::FromStr;
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

/// The work queue of `docs/scale-out.md` ("The work queue"): a Storage queue in the account of
/// `AzureWebJobsStorage`, the Functions host's own, which its queue trigger reaches with the
/// same connection.
#[derive(Debug, Clone)]
pub struct QueueSettings {
    /// `REPORT_QUEUE`: the queue's name (3-63 of `[a-z0-9-]`); its poison queue is
    /// `<name>-poison`.
    pub name: String,
    /// How the queue's account is reached.
    pub account: QueueAccount,
}

/// The account of the work queue, as the Functions host names its identity-based
/// connections (`AzureWebJobsStorage__*`).
#[derive(Debug, Clone)]
pub enum QueueAccount {
    /// `AzureWebJobsStorage`: a connection string with an account key (its `QueueEndpoint`,
    /// else `<account>.queue.<suffix>`), or Azurite's `UseDevelopmentStorage=true`.
    ConnectionString(Secret),
    /// `AzureWebJobsStorage__queueServiceUri`, else `https://<AzureWebJobsStorage__accountName>.queue.core.windows.net`,
    /// reached with the managed identity (`AzureWebJobsStorage__clientId`: a user-assigned
    /// one); outside Azure, the developer's login.
    ServiceUri {
        uri: String,
        client_id: Option<String>,
        /// `IDENTITY_ENDPOINT` is set: a managed identity is reachable.
        in_azure: bool,
    },
}

/// ClickHouse connection (the old daily-report backend's setting names).
#[derive(Debug, Clone)]
pub struct ClickHouseSettings {
    /// `CLICKHOUSE_URL`, e.g. `https://xxx.clickhouse.cloud:8443`. In App Service
    /// (`WEBSITE_SITE_NAME` set) it must be `https://`, else the handler refuses to start,
    /// unless `ALLOW_INSECURE_CLICKHOUSE=true` (default false) allows `http://`
    /// (`docs/access-and-safety.md`, "Dependencies reached safely").
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

/// The SMTP relay of `email` channels (`docs/delivery-and-access.md`, "Email"): Azure
/// Communication Services' (`smtp.azurecomm.net`, port 587, its Entra app's username form)
/// or any other. TLS is required: implicit TLS on port 465, STARTTLS on any other port; only a
/// loopback host with `ALLOW_INSECURE_WEBHOOKS=true` (tests) is reached without it.
#[derive(Debug, Clone)]
pub struct SmtpSettings {
    /// `SMTP_HOST`, e.g. `smtp.azurecomm.net`.
    pub host: String,
    /// `SMTP_PORT` (default 587).
    pub port: u16,
    /// `SMTP_USERNAME` and `SMTP_PASSWORD` (a secret): both or neither (no authentication).
    pub credentials: Option<(String, Secret)>,
    /// `SMTP_FROM`: the sender, an address or `Name <address>` (for Azure Communication
    /// Services, a `MailFrom` address of its connected domain).
    pub from: lettre::message::Mailbox,
}

impl SmtpSettings {
    /// `None` when `SMTP_HOST` is unset; then `SMTP_FROM` is required.
    fn read(env: &Env) -> Result<Option<Self>, SettingError> {
        let port = env.get("SMTP_PORT").or(587)?;
        let username = env.get("SMTP_USERNAME");
        let password = env.get("SMTP_PASSWORD");
        let from = env.get("SMTP_FROM");
        let Some(host) = env.get("SMTP_HOST").text() else {
            return Ok(None);
        };
        let credentials = match (username.text(), password.secret()) {
            (Some(u), Some(p)) => Some((u, p)),
            (None, None) => None,
            (Some(_), None) => return Err(password.error("required with SMTP_USERNAME")),
            (None, Some(_)) => return Err(username.error("required with SMTP_PASSWORD")),
        };
        let from = from
            .value
            .ok_or_else(|| from.error("required when SMTP_HOST is set"))?
            .parse()
            .map_err(|_| {
                from.error("not an email address (`a@b.example` or `Name <a@b.example>`)")
            })?;
        Ok(Some(Self {
            host,
            port,
            credentials,
            from,
        }))
    }
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
    /// `LOG_LEVEL`: a `tracing` filter such as `debug` or `call_analytics=debug`. Unset: `info`
    /// when serving, `warn` for a command-line command (`crate::telemetry::level`).
    pub log_level: Option<String>,
    /// `DB_URL`: PostgreSQL URL. `sslmode` as libpq reads it (`prefer` when absent: TLS when
    /// the server offers it); in App Service only an explicit `sslmode=disable` connects
    /// without TLS (see `crate::postgres`; `docs/access-and-safety.md`, "Dependencies
    /// reached safely").
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
    /// `FAILURE_ANALYSIS_MAX_DAYS` (default 93, at least 1): the longest failure-analysis
    /// window a request may ask for, in local days (a longer one is a 400 naming `to_date`;
    /// for `START_DATE`/`END_DATE`, `END_DATE`). With `compare_previous` the window before is
    /// scanned too, so at most twice this many days are read (`docs/access-and-safety.md`,
    /// "Bounded for every caller"). Formerly `MAX_WINDOW_DAYS`, which is no longer read.
    pub failure_analysis_max_days: i64,
    /// `FAILURE_ANALYSIS_CONCURRENCY` (default 2, at least 1): failure analyses that query
    /// PostgreSQL at once in one instance; another waits up to [`Settings::busy_wait`], then
    /// gets 503 `busy` (`docs/access-and-safety.md`, "Bounded for every caller"). Keep it at
    /// most `DB_POOL_MAX_SIZE`.
    pub failure_analysis_concurrency: usize,
    /// `SETTLE_HOURS` (default 48): a local day whose end is more than this many hours ago is
    /// settled: its per-user failure-analysis counts are kept in storage and reused instead of
    /// scanned again (`docs/failure-analysis.md`, "Settled days"). Raise it when `calllog` rows
    /// still change later than that.
    pub settle_hours: u32,
    /// `REUSE_SETTLED_DAYS` (default true): `false` scans every day of every failure analysis
    /// and keeps none (`docs/failure-analysis.md`, "Settled days").
    pub reuse_settled_days: bool,
    /// `CLICKHOUSE_LIVE_CONCURRENCY` (default 4, at least 1): live ClickHouse queries
    /// (`/api/reports/live`, `/api/reports/calls`) at once in one instance; another waits up
    /// to [`Settings::busy_wait`], then gets 503 `busy` (`docs/access-and-safety.md`,
    /// "Bounded for every caller").
    pub clickhouse_live_concurrency: usize,
    /// `BUSY_WAIT_SECONDS` (default 10, 1-3600): how long a failure analysis or live query
    /// waits for one of the permits above before the 503 `busy`, whose `Retry-After` is this
    /// many seconds.
    pub busy_wait: Duration,
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
    /// `RESTATE_DAYS` (default 3; 0 turns it off): each firing re-checks the stored reports of
    /// each org's last this many ended days and revises those whose data changed
    /// (`docs/revisions.md`).
    pub restate_days: u32,
    /// `BACKFILL_BUDGET_SECONDS` (default 150): a backfill or generate call starts no report
    /// after this long, so that it answers inside the Functions front end's 230 s HTTP limit.
    pub backfill_budget_seconds: u64,
    /// `DAILY_REPORT_SCHEDULE`: the timer's NCRONTAB (default hourly, `0 0 * * * *`).
    pub daily_report_schedule: String,
    /// `WEBSITE_SITE_NAME` is set: the handler runs in App Service (Azure Functions), where
    /// the stricter defaults of `docs/access-and-safety.md` apply.
    pub in_app_service: bool,
    /// `REQUIRE_PRINCIPAL`: a request without a valid `X-MS-CLIENT-PRINCIPAL` is a 401
    /// (`docs/access-and-safety.md`, "No principal"). Default: true in App Service, false
    /// elsewhere (the local operator acts as admin). In App Service it fails closed: `false`
    /// must be set explicitly (the handler then warns at start), and without App Service
    /// Authentication (`WEBSITE_AUTH_ENABLED` not `True`) the handler refuses to start unless
    /// it is, since only the platform's authentication makes the header trustworthy.
    pub require_principal: bool,
    /// `PUBLIC_BASE_URL` (e.g. `https://<app>.azurewebsites.net`, no trailing `/`): links in
    /// responses and digests are absolute under it; unset, they are relative (`/api/...`).
    pub public_base_url: Option<String>,
    /// `ALLOW_INSECURE_WEBHOOKS` (default false): notification URLs may be `http` on a loopback
    /// host (tests, local runs); otherwise they must be `https`. It also lets an SMTP relay
    /// on a loopback host be reached without TLS ([`SmtpSettings`]).
    pub allow_insecure_webhooks: bool,
    /// `SMTP_*` ([`SmtpSettings`]): where `email` channels are sent; `None` when `SMTP_HOST`
    /// is unset (an email digest then fails, recorded, and is not retried).
    pub smtp: Option<SmtpSettings>,
    /// `REPORT_QUEUE` & co ([`QueueSettings`]); `None` when `REPORT_QUEUE` is unset or empty:
    /// no queue, the timer generates inline (`docs/scale-out.md`). Set without any
    /// `AzureWebJobsStorage` account, the handler refuses to start.
    pub queue: Option<QueueSettings>,
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
    /// One line per setting: its name and default here, what it means on its field.
    ///
    /// Errors: the first setting that is present but cannot be used ([`SettingError`]).
    pub fn from_map(env: &HashMap<String, String>) -> Result<Self, SettingError> {
        Self::read(&Env::new(env))
    }

    fn read(env: &Env) -> Result<Self, SettingError> {
        let in_app_service = env.get("WEBSITE_SITE_NAME").is_set();
        let port = match env.get("FUNCTIONS_CUSTOMHANDLER_PORT") {
            host if host.is_set() => host.or(DEFAULT_PORT)?,
            _ => env.get("FUNCTIONS_HTTPWORKER_PORT").or(DEFAULT_PORT)?,
        };
        let settings = Self {
            port,
            log_level: env.get("LOG_LEVEL").text().map(|l| l.to_lowercase()),
            db_url: env.get("DB_URL").secret(),
            db_pool_max_size: env.get("DB_POOL_MAX_SIZE").or(4)?,
            db_connect_timeout: env.get("DB_CONNECT_TIMEOUT").seconds_or(10)?,
            clickhouse_connect_timeout: env.get("CLICKHOUSE_CONNECT_TIMEOUT").seconds_or(10)?,
            storage_connect_timeout: env.get("AZURE_STORAGE_CONNECT_TIMEOUT").seconds_or(10)?,
            start_date: env.get("START_DATE").timestamp()?,
            end_date: env.get("END_DATE").timestamp()?,
            failure_analysis_max_days: env.get("FAILURE_ANALYSIS_MAX_DAYS").at_least_one_or(93)?,
            failure_analysis_concurrency: env
                .get("FAILURE_ANALYSIS_CONCURRENCY")
                .at_least_one_or(2)?,
            settle_hours: env.get("SETTLE_HOURS").or(48)?,
            reuse_settled_days: env.get("REUSE_SETTLED_DAYS").or(true)?,
            clickhouse_live_concurrency: env
                .get("CLICKHOUSE_LIVE_CONCURRENCY")
                .at_least_one_or(4)?,
            busy_wait: env.get("BUSY_WAIT_SECONDS").seconds_or(10)?,
            storage: StorageSettings::read(env),
            clickhouse: ClickHouseSettings::read(env)?,
            default_org: DefaultOrgSettings::read(env)?,
            scheduler_hour: env.get("SCHEDULER_HOUR").or(6)?,
            scheduler_minute: env.get("SCHEDULER_MINUTE").or(0)?,
            catchup_days: env.get("CATCHUP_DAYS").or(7)?,
            restate_days: env.get("RESTATE_DAYS").or(3)?,
            backfill_budget_seconds: env.get("BACKFILL_BUDGET_SECONDS").or(150)?,
            daily_report_schedule: env.get("DAILY_REPORT_SCHEDULE").text_or("0 0 * * * *"),
            in_app_service,
            require_principal: env.get("REQUIRE_PRINCIPAL").or(in_app_service)?,
            public_base_url: env.get("PUBLIC_BASE_URL").base_url()?,
            allow_insecure_webhooks: env.get("ALLOW_INSECURE_WEBHOOKS").or(false)?,
            queue: QueueSettings::read(env)?,
            smtp: SmtpSettings::read(env)?,
        };
        let auth_enabled = env
            .get("WEBSITE_AUTH_ENABLED")
            .value
            .is_some_and(|v| v.eq_ignore_ascii_case("true"));
        if in_app_service && !auth_enabled && settings.require_principal {
            return Err(SettingError {
                name: "REQUIRE_PRINCIPAL",
                reason: "in App Service (WEBSITE_SITE_NAME is set) the handler needs App Service \
                         Authentication (WEBSITE_AUTH_ENABLED=True): without it anyone could send \
                         an X-MS-CLIENT-PRINCIPAL header. Turn it on, or set \
                         REQUIRE_PRINCIPAL=false to serve every caller as admin"
                    .into(),
            });
        }
        if settings.scheduler_hour > 23 || settings.scheduler_minute > 59 {
            return Err(SettingError {
                name: "SCHEDULER_HOUR",
                reason: "SCHEDULER_HOUR must be 0-23 and SCHEDULER_MINUTE 0-59".into(),
            });
        }
        if let Some(ch) = &settings.clickhouse
            && in_app_service
            && !env.get("ALLOW_INSECURE_CLICKHOUSE").or(false)?
            && !url::Url::parse(&ch.url).is_ok_and(|u| u.scheme() == "https")
        {
            return Err(SettingError {
                name: "CLICKHOUSE_URL",
                reason: "in App Service (WEBSITE_SITE_NAME is set) ClickHouse is reached over \
                         https:// only; set ALLOW_INSECURE_CLICKHOUSE=true to allow http://"
                    .into(),
            });
        }
        if settings.smtp.is_some() && settings.public_base_url.is_none() {
            return Err(SettingError {
                name: "PUBLIC_BASE_URL",
                reason: "required when SMTP_HOST is set: an email's links must be absolute".into(),
            });
        }
        Ok(settings)
    }
}

impl StorageSettings {
    /// A connection string, else an account URL, else a local folder.
    fn read(env: &Env) -> Self {
        let container = env
            .get("AZURE_STORAGE_CONTAINER")
            .text_or("user-failure-reports");
        if let Some(connection_string) = env.get("AZURE_STORAGE_CONNECTION_STRING").secret() {
            Self::ConnectionString {
                connection_string,
                container,
            }
        } else if let Some(account_url) = env.get("AZURE_STORAGE_ACCOUNT_URL").text() {
            Self::AccountUrl {
                account_url,
                client_id: env.get("AZURE_CLIENT_ID").text(),
                container,
                in_azure: env.get("IDENTITY_ENDPOINT").is_set(),
            }
        } else {
            Self::Local {
                dir: env.get("OUTPUT_DIR").text_or("./output").into(),
            }
        }
    }
}

/// Azure Storage's naming rule for containers and queues alike: 3–63 of `[a-z0-9-]`, starting
/// and ending with a letter or digit, no `--`.
pub fn is_storage_name(name: &str) -> bool {
    (3..=63).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.starts_with('-')
        && !name.ends_with('-')
        && !name.contains("--")
}

impl QueueSettings {
    /// `None` when `REPORT_QUEUE` is unset; then the account is required (fails closed).
    fn read(env: &Env) -> Result<Option<Self>, SettingError> {
        let queue = env.get("REPORT_QUEUE");
        let Some(name) = queue.text() else {
            return Ok(None);
        };
        if !is_storage_name(&name) {
            return Err(queue.error(
                "not a queue name (3-63 of a-z, 0-9, single `-`, starting and ending with a \
                 letter or digit)",
            ));
        }
        // All read, so that the example's test sees every one.
        let connection_string = env.get("AzureWebJobsStorage").secret();
        let service_uri = env.get("AzureWebJobsStorage__queueServiceUri").text();
        let account_name = env.get("AzureWebJobsStorage__accountName").text();
        let client_id = env.get("AzureWebJobsStorage__clientId").text();
        let in_azure = env.get("IDENTITY_ENDPOINT").is_set();
        // The identity first: in Azure the host's key-based `AzureWebJobsStorage` is set as
        // well (infra/), and the handler enqueues with the managed identity's queue roles.
        let account = match (service_uri, account_name, connection_string) {
            (Some(uri), _, _) => QueueAccount::ServiceUri {
                uri,
                client_id,
                in_azure,
            },
            (None, Some(account), _) => QueueAccount::ServiceUri {
                uri: format!("https://{account}.queue.core.windows.net"),
                client_id,
                in_azure,
            },
            (None, None, Some(cs)) => QueueAccount::ConnectionString(cs),
            (None, None, None) => {
                return Err(queue.error(
                    "REPORT_QUEUE is set but the queue's account is not: set \
                     AzureWebJobsStorage (a connection string) or \
                     AzureWebJobsStorage__queueServiceUri / AzureWebJobsStorage__accountName",
                ));
            }
        };
        Ok(Some(Self { name, account }))
    }
}

impl ClickHouseSettings {
    /// `None` when `CLICKHOUSE_URL` is unset.
    fn read(env: &Env) -> Result<Option<Self>, SettingError> {
        let Some(url) = env.get("CLICKHOUSE_URL").text() else {
            return Ok(None);
        };
        Ok(Some(Self {
            url,
            username: env.get("CLICKHOUSE_USERNAME").text_or("default"),
            password: Secret::new(env.get("CLICKHOUSE_PASSWORD").text_or("")),
            database: env.get("CLICKHOUSE_DATABASE").text_or("default"),
            query_timeout_secs: env.get("CLICKHOUSE_QUERY_TIMEOUT_SECS").or(180)?,
            max_memory_usage: env.get("CLICKHOUSE_MAX_MEMORY_USAGE").or(10_000_000_000)?,
        }))
    }
}

impl DefaultOrgSettings {
    /// `None` when `ORG_ID` is unset; then `BROKER_NODE_PERSISTENT_ID` is required.
    fn read(env: &Env) -> Result<Option<Self>, SettingError> {
        let Some(org_id) = env.get("ORG_ID").text() else {
            return Ok(None);
        };
        let node = env.get("BROKER_NODE_PERSISTENT_ID");
        Ok(Some(Self {
            org_id,
            node_persistent_id: node
                .text()
                .ok_or_else(|| node.error("required when ORG_ID is set"))?,
            name: env.get("CLIENT_NAME").text_or("Default organization"),
            timezone: env.get("DEFAULT_TIMEZONE").or(Tz::UTC)?,
        }))
    }
}

/// The environment as settings read it. Every name asked for is noted, so that a test holds
/// `local.settings.json.example` to the settings read.
struct Env<'a> {
    map: &'a HashMap<String, String>,
    asked: RefCell<BTreeSet<&'static str>>,
}

impl<'a> Env<'a> {
    fn new(map: &'a HashMap<String, String>) -> Self {
        Self {
            map,
            asked: RefCell::default(),
        }
    }

    /// The setting `name`, trimmed; a blank value counts as unset.
    fn get(&self, name: &'static str) -> Var<'a> {
        self.asked.borrow_mut().insert(name);
        let value = self
            .map
            .get(name)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty());
        Var { name, value }
    }
}

/// One setting as found: its name and its value (`None` when unset). Secrets are only read
/// as text, which cannot fail, so no [`SettingError`] quotes one.
#[derive(Clone, Copy)]
struct Var<'a> {
    name: &'static str,
    value: Option<&'a str>,
}

impl Var<'_> {
    fn error(self, reason: impl Into<String>) -> SettingError {
        SettingError {
            name: self.name,
            reason: reason.into(),
        }
    }

    fn is_set(self) -> bool {
        self.value.is_some()
    }

    fn text(self) -> Option<String> {
        self.value.map(str::to_string)
    }

    fn text_or(self, default: &str) -> String {
        self.value.unwrap_or(default).to_string()
    }

    fn secret(self) -> Option<Secret> {
        self.value.map(Secret::new)
    }

    /// The value parsed (`FromStr`), `default` when unset.
    fn or<T: FromStr>(self, default: T) -> Result<T, SettingError> {
        match self.value {
            None => Ok(default),
            Some(v) => v
                .parse()
                .map_err(|_| self.error(format!("cannot parse {v:?}"))),
        }
    }

    /// A count that must be at least 1.
    fn at_least_one_or<T: FromStr + PartialOrd + From<u8>>(
        self,
        default: T,
    ) -> Result<T, SettingError> {
        let n = self.or(default)?;
        if n < T::from(1) {
            return Err(self.error("must be at least 1"));
        }
        Ok(n)
    }

    /// A whole number of seconds, 1 to 3600.
    fn seconds_or(self, default: u64) -> Result<Duration, SettingError> {
        match self.or(default)? {
            s @ 1..=3600 => Ok(Duration::from_secs(s)),
            _ => Err(self.error("must be 1-3600 seconds")),
        }
    }

    /// A UTC timestamp `YYYY-MM-DD HH:MM:SS`.
    fn timestamp(self) -> Result<Option<NaiveDateTime>, SettingError> {
        self.value
            .map(|v| {
                NaiveDateTime::parse_from_str(v, "%Y-%m-%d %H:%M:%S").map_err(|_| {
                    self.error(format!(
                        "{v:?} is not a UTC timestamp `YYYY-MM-DD HH:MM:SS`"
                    ))
                })
            })
            .transpose()
    }

    /// An absolute `http(s)` URL without query or fragment, returned without its trailing `/`.
    fn base_url(self) -> Result<Option<String>, SettingError> {
        let Some(value) = self.value else {
            return Ok(None);
        };
        let url = url::Url::parse(value).map_err(|_| self.error("not an absolute URL"))?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            return Err(self.error("must be an http(s) URL with a host"));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(self.error("must not have a query or fragment"));
        }
        Ok(Some(value.trim_end_matches('/').to_string()))
    }
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
        assert_eq!(s.failure_analysis_max_days, 93);
        assert_eq!(s.failure_analysis_concurrency, 2);
        assert_eq!((s.settle_hours, s.reuse_settled_days), (48, true));
        assert_eq!(s.clickhouse_live_concurrency, 4);
        assert_eq!(s.busy_wait, Duration::from_secs(10));
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
    fn in_app_service_a_principal_is_required_unless_turned_off_explicitly() {
        // App Service with its authentication on: required by default.
        let with_auth = [
            ("WEBSITE_SITE_NAME", "func-x"),
            ("WEBSITE_AUTH_ENABLED", "True"),
        ];
        let s = Settings::from_map(&env(&with_auth)).unwrap();
        assert!(s.in_app_service && s.require_principal);
        // Without its authentication the handler does not start, naming both settings...
        for given in [&[][..], &[("REQUIRE_PRINCIPAL", "true")][..]] {
            let mut vars = vec![("WEBSITE_SITE_NAME", "func-x")];
            vars.extend_from_slice(given);
            let e = Settings::from_map(&env(&vars)).unwrap_err();
            assert_eq!(e.name, "REQUIRE_PRINCIPAL");
            assert!(e.to_string().contains("WEBSITE_AUTH_ENABLED"), "{e}");
        }
        // ...unless REQUIRE_PRINCIPAL=false says so.
        let open = [
            ("WEBSITE_SITE_NAME", "func-x"),
            ("REQUIRE_PRINCIPAL", "false"),
        ];
        assert!(!Settings::from_map(&env(&open)).unwrap().require_principal);
        // Outside App Service (tests, local): not required unless set.
        let local = Settings::from_map(&env(&[])).unwrap();
        assert!(!local.in_app_service && !local.require_principal);
        assert!(
            Settings::from_map(&env(&[("REQUIRE_PRINCIPAL", "true")]))
                .unwrap()
                .require_principal
        );
    }

    /// `docs/access-and-safety.md`, "Dependencies reached safely".
    #[test]
    fn in_app_service_clickhouse_over_http_is_refused_unless_allowed() {
        fn app_service(url: &str, extra: &[(&str, &str)]) -> Result<Settings, SettingError> {
            let mut vars = vec![
                ("WEBSITE_SITE_NAME", "func-x"),
                ("WEBSITE_AUTH_ENABLED", "True"),
                ("CLICKHOUSE_URL", url),
            ];
            vars.extend_from_slice(extra);
            Settings::from_map(&env(&vars))
        }
        for url in [
            "http://ch.internal:8123",
            "HTTP://ch.internal",
            "ch.internal:8443",
        ] {
            let e = app_service(url, &[]).unwrap_err();
            assert_eq!(e.name, "CLICKHOUSE_URL", "{url}");
            assert!(e.to_string().contains("ALLOW_INSECURE_CLICKHOUSE"), "{e}");
            assert!(!e.to_string().contains("ch.internal"), "{e}");
        }
        assert!(app_service("https://x.clickhouse.cloud:8443", &[]).is_ok());
        assert!(app_service("HTTPS://x.clickhouse.cloud", &[]).is_ok());
        assert!(
            app_service(
                "http://ch.internal:8123",
                &[("ALLOW_INSECURE_CLICKHOUSE", "true")]
            )
            .is_ok()
        );
        // Outside App Service (local runs, tests) http:// is fine.
        let local = Settings::from_map(&env(&[("CLICKHOUSE_URL", "http://127.0.0.1:8123")]));
        assert!(local.unwrap().clickhouse.is_some());
    }

    /// `docs/access-and-safety.md`, "Bounded for every caller".
    #[test]
    fn bounds_are_read_and_must_be_at_least_one() {
        let s = Settings::from_map(&env(&[
            ("FAILURE_ANALYSIS_MAX_DAYS", "7"),
            ("FAILURE_ANALYSIS_CONCURRENCY", "1"),
            ("CLICKHOUSE_LIVE_CONCURRENCY", "9"),
            ("BUSY_WAIT_SECONDS", "1"),
        ]))
        .unwrap();
        assert_eq!(s.failure_analysis_max_days, 7);
        assert_eq!(s.failure_analysis_concurrency, 1);
        assert_eq!(s.clickhouse_live_concurrency, 9);
        assert_eq!(s.busy_wait, Duration::from_secs(1));
        for name in [
            "FAILURE_ANALYSIS_MAX_DAYS",
            "FAILURE_ANALYSIS_CONCURRENCY",
            "CLICKHOUSE_LIVE_CONCURRENCY",
            "BUSY_WAIT_SECONDS",
        ] {
            for bad in ["0", "-1", "x"] {
                let e = Settings::from_map(&env(&[(name, bad)])).unwrap_err();
                assert_eq!(e.name, name, "{name}={bad}");
            }
        }
        // The old name of the window bound is no longer read.
        let old = Settings::from_map(&env(&[("MAX_WINDOW_DAYS", "366")])).unwrap();
        assert_eq!(old.failure_analysis_max_days, 93);
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

    /// Every setting read is listed in `local.settings.json.example`, and every one listed is
    /// read (but the host's own and `LOG_FORMAT`, which `telemetry` reads).
    #[test]
    fn local_settings_example_lists_exactly_the_settings_read() {
        let example = include_str!("../local.settings.json.example");
        let json: String = example
            .lines()
            .filter(|l| !l.trim_start().starts_with("//"))
            .collect::<Vec<_>>()
            .join("\n");
        let doc: serde_json::Value = serde_json::from_str(&json).expect("JSON without comments");
        let listed: BTreeSet<&str> = doc["Values"]
            .as_object()
            .expect("Values")
            .keys()
            .map(String::as_str)
            .collect();
        // Settings read only when others are set: a storage account URL, ClickHouse in App
        // Service, the default org.
        let everything = [
            (
                "AZURE_STORAGE_ACCOUNT_URL",
                "https://a.blob.core.windows.net",
            ),
            ("CLICKHOUSE_URL", "https://x.clickhouse.cloud:8443"),
            ("WEBSITE_SITE_NAME", "func-x"),
            ("WEBSITE_AUTH_ENABLED", "True"),
            ("ORG_ID", "01951f56-8c6e-7a93-a971-3d06a81a1ab0"),
            (
                "BROKER_NODE_PERSISTENT_ID",
                "0195200a-5b7e-7c1d-8f30-2a4f6c9d1e01",
            ),
            ("REPORT_QUEUE", "daily-reports"),
            ("AzureWebJobsStorage__accountName", "st"),
        ];
        let mut read = BTreeSet::new();
        for vars in [&[][..], &everything[..]] {
            let map = env(vars);
            let e = Env::new(&map);
            Settings::read(&e).unwrap();
            read.extend(e.asked.into_inner());
        }
        let unlisted: Vec<_> = read.iter().filter(|n| !listed.contains(*n)).collect();
        assert!(unlisted.is_empty(), "read but not listed: {unlisted:?}");
        let elsewhere = ["FUNCTIONS_WORKER_RUNTIME", "LOG_FORMAT"];
        let unread: Vec<_> = listed
            .iter()
            .filter(|n| !read.contains(*n) && !elsewhere.contains(n))
            .collect();
        assert!(unread.is_empty(), "listed but never read: {unread:?}");
    }

    /// `docs/scale-out.md`, "The work queue".
    #[test]
    fn the_queue_needs_its_account_and_a_valid_name() {
        assert!(Settings::from_map(&env(&[])).unwrap().queue.is_none());
        assert!(
            Settings::from_map(&env(&[("REPORT_QUEUE", " ")]))
                .unwrap()
                .queue
                .is_none()
        );
        let e = Settings::from_map(&env(&[("REPORT_QUEUE", "daily-reports")])).unwrap_err();
        assert_eq!(e.name, "REPORT_QUEUE");
        assert!(e.to_string().contains("AzureWebJobsStorage"), "{e}");
        let e = Settings::from_map(&env(&[
            ("REPORT_QUEUE", "Daily_Reports"),
            ("AzureWebJobsStorage", "UseDevelopmentStorage=true"),
        ]))
        .unwrap_err();
        assert_eq!(e.name, "REPORT_QUEUE");
        let s = Settings::from_map(&env(&[
            ("REPORT_QUEUE", "daily-reports"),
            ("AzureWebJobsStorage__accountName", "st1"),
            ("AzureWebJobsStorage__clientId", "c1"),
        ]))
        .unwrap();
        let q = s.queue.unwrap();
        assert_eq!(q.name, "daily-reports");
        assert!(matches!(
            q.account,
            QueueAccount::ServiceUri { ref uri, ref client_id, in_azure: false }
                if uri == "https://st1.queue.core.windows.net" && client_id.as_deref() == Some("c1")
        ));
        let s = Settings::from_map(&env(&[
            ("REPORT_QUEUE", "q-1"),
            ("AzureWebJobsStorage", "AccountName=a;AccountKey=c2VjcmV0"),
        ]))
        .unwrap();
        assert!(!format!("{s:?}").contains("c2VjcmV0"));
        assert!(matches!(
            s.queue.unwrap().account,
            QueueAccount::ConnectionString(_)
        ));
        // As infra/ sets it in Azure: the host's key-based connection string and the
        // identity's service URI; the handler uses the identity.
        let s = Settings::from_map(&env(&[
            ("REPORT_QUEUE", "daily-reports"),
            ("AzureWebJobsStorage", "AccountName=a;AccountKey=c2VjcmV0"),
            (
                "AzureWebJobsStorage__queueServiceUri",
                "https://st1.queue.core.windows.net",
            ),
        ]))
        .unwrap();
        assert!(matches!(
            s.queue.unwrap().account,
            QueueAccount::ServiceUri { ref uri, .. } if uri == "https://st1.queue.core.windows.net"
        ));
    }

    /// `docs/delivery-and-access.md`, "Email": `SMTP_FROM` and the absolute links an email
    /// needs are required with `SMTP_HOST`, the credentials come in pairs, the password is
    /// never printed.
    #[test]
    fn smtp_needs_a_sender_absolute_links_and_both_credentials() {
        let base = [
            ("SMTP_HOST", "smtp.azurecomm.net"),
            ("SMTP_FROM", "Reports <reports@contoso.example>"),
            ("PUBLIC_BASE_URL", "https://func-x.example"),
        ];
        let with = |extra: &[(&'static str, &'static str)]| {
            let mut vars = base.to_vec();
            vars.extend_from_slice(extra);
            Settings::from_map(&env(&vars))
        };
        let s = with(&[]).unwrap().smtp.unwrap();
        assert_eq!((s.host.as_str(), s.port), ("smtp.azurecomm.net", 587));
        assert_eq!(s.from.email.to_string(), "reports@contoso.example");
        assert!(s.credentials.is_none());
        let s = with(&[
            ("SMTP_PORT", "465"),
            ("SMTP_USERNAME", "acs-res.0000-app.1111-tenant"),
            ("SMTP_PASSWORD", "hunter2-client-secret"),
        ])
        .unwrap();
        assert!(!format!("{s:?}").contains("hunter2"));
        let smtp = s.smtp.unwrap();
        assert_eq!(smtp.port, 465);
        assert_eq!(
            smtp.credentials.unwrap().1.expose(),
            "hunter2-client-secret"
        );
        for (extra, name) in [
            (&[("SMTP_USERNAME", "u")][..], "SMTP_PASSWORD"),
            (&[("SMTP_PASSWORD", "hunter2")][..], "SMTP_USERNAME"),
            (&[("SMTP_FROM", "not an address")][..], "SMTP_FROM"),
            (&[("SMTP_FROM", " ")][..], "SMTP_FROM"),
            (&[("PUBLIC_BASE_URL", "")][..], "PUBLIC_BASE_URL"),
            (&[("SMTP_PORT", "x")][..], "SMTP_PORT"),
        ] {
            let e = with(extra).unwrap_err();
            assert_eq!(e.name, name, "{extra:?}");
            assert!(!e.to_string().contains("hunter2"), "{e}");
        }
        assert!(Settings::from_map(&env(&[])).unwrap().smtp.is_none());
    }

    #[test]
    fn a_bad_value_names_the_setting_not_the_value_of_secrets() {
        let e = Settings::from_map(&env(&[("START_DATE", "yesterday")])).unwrap_err();
        assert_eq!(e.name, "START_DATE");
        let s = Settings::from_map(&env(&[("DB_URL", "postgres://u:hunter2@h/db")])).unwrap();
        assert!(!format!("{s:?}").contains("hunter2"));
    }
}
