//! The test rig: [`TestApp`] (the `handler` binary started on a free port with a fresh blob
//! container and settings pointing at the test services), and one module per service:
//! [`pg`] (PostgreSQL), [`clickhouse`] (the ClickHouse front), [`azurite`] (Blob Storage) and
//! [`proxy`] (a counting, fault-injecting TCP proxy), [`smtp`] (an SMTP server, aiosmtpd) and
//! [`listener`] (the Functions host's queue listener, also run by `scripts/bench/queue`). Everything is re-exported here, so tests
//! write `helpers::fresh_database`, `helpers::Proxy`, ….

pub mod api;
pub mod azurite;
pub mod cards;
pub mod clickhouse;
pub mod fixtures;
pub mod listener;
pub mod pg;
pub mod proxy;
pub mod receiver;
pub mod smtp;

pub use api::*;
pub use azurite::*;
pub use cards::*;
pub use clickhouse::*;
pub use fixtures::*;
pub use listener::*;
pub use pg::*;
pub use proxy::*;
pub use receiver::*;
pub use smtp::*;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use call_analytics::configuration::StorageSettings;
use call_analytics::storage::Storage;

/// An environment variable the test scripts export; a missing one fails the test.
pub fn required_env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: run the tests with scripts/test, which starts the services they need")
    })
}

/// A unique, lower-case name for a database or container.
pub fn unique(prefix: &str) -> String {
    format!("{prefix}{}", uuid::Uuid::new_v4().simple())
}

/// How to start the handler.
#[derive(Default, Clone)]
pub struct Spawn {
    /// `DB_URL`; `None` leaves it unset.
    pub db_url: Option<String>,
    /// Use a local folder instead of Azurite.
    pub output_dir: Option<PathBuf>,
    /// More settings.
    pub env: Vec<(String, String)>,
}

/// A running handler; killed on drop.
pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub storage_settings: StorageSettings,
    child: Child,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl TestApp {
    /// Starts the handler and waits for its readiness probe (`GET /`) to answer.
    pub async fn spawn(opts: Spawn) -> TestApp {
        let dir = tempfile::tempdir().expect("tempdir");
        let port = free_port();
        let storage_settings = match &opts.output_dir {
            Some(d) => StorageSettings::Local { dir: d.clone() },
            None => fresh_container(),
        };
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_handler"));
        cmd.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("FUNCTIONS_CUSTOMHANDLER_PORT", port.to_string())
            .env("LOG_LEVEL", "debug")
            .current_dir(dir.path());
        match &storage_settings {
            StorageSettings::Local { dir } => {
                cmd.env("OUTPUT_DIR", dir);
            }
            StorageSettings::ConnectionString {
                connection_string,
                container,
            } => {
                cmd.env(
                    "AZURE_STORAGE_CONNECTION_STRING",
                    connection_string.expose(),
                )
                .env("AZURE_STORAGE_CONTAINER", container);
            }
            StorageSettings::AccountUrl { .. } => unreachable!(),
        }
        if let Some(db) = &opts.db_url {
            cmd.env("DB_URL", db);
        }
        for (k, v) in &opts.env {
            cmd.env(k, v);
        }
        let log = dir.path().join("handler.log");
        let child = cmd
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log file"))
            .spawn()
            .expect("start handler");
        let mut app = TestApp {
            address: format!("http://127.0.0.1:{port}"),
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(120))
                .build()
                .unwrap(),
            storage_settings,
            child,
            log,
            _dir: dir,
        };
        app.wait_ready().await;
        app
    }

    /// The handler with `DB_URL` = `db_url` and no other setting.
    pub async fn with_db(db_url: String) -> TestApp {
        TestApp::spawn(Spawn {
            db_url: Some(db_url),
            ..Spawn::default()
        })
        .await
    }

    async fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "handler exited ({status}) before it was ready; log:\n{}",
                    self.log()
                );
            }
            if self.client.get(&self.address).send().await.is_ok() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "handler not ready in 20 s; log:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Everything the handler logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// A request as the host forwards it: original path, `X-Azure-Functions-InvocationId`.
    pub fn forwarded(
        &self,
        method: reqwest::Method,
        path: &str,
        invocation_id: &str,
    ) -> reqwest::RequestBuilder {
        self.client
            .request(method, format!("{}{path}", self.address))
            .header("X-Azure-Functions-InvocationId", invocation_id)
            .header("X-Azure-Functions-HostVersion", "4.1041.200")
            .header("User-Agent", "Azure-Functions-Host/4.1041.200")
    }

    /// `POST /api/failure_analysis` with a JSON body and query string.
    pub async fn analyse(&self, query: &str, body: serde_json::Value) -> reqwest::Response {
        self.analyse_as(&uuid::Uuid::new_v4().to_string(), query, body)
            .await
    }

    /// [`TestApp::analyse`] as the host's invocation `invocation_id`.
    pub async fn analyse_as(
        &self,
        invocation_id: &str,
        query: &str,
        body: serde_json::Value,
    ) -> reqwest::Response {
        self.forwarded(
            reqwest::Method::POST,
            &format!("/api/failure_analysis{query}"),
            invocation_id,
        )
        .json(&body)
        .send()
        .await
        .expect("request")
    }

    /// The storage the handler writes to, for reading artifacts back.
    pub async fn storage(&self) -> Storage {
        Storage::connect(&self.storage_settings)
            .await
            .expect("storage")
    }

    /// Kills the process with SIGKILL (`kill -9`: no graceful shutdown, requests in flight
    /// cut) and waits for it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Sends SIGTERM and waits for the exit status.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill");
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "handler did not stop within 10 s of SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port nobody listens on right now, never handed out before in this test process.
///
/// Taken from below the kernel's ephemeral range (`/proc/sys/net/ipv4/ip_local_port_range`,
/// 32768-60999 by default), so no `bind(…:0)` or outgoing connection of a proxy, receiver or
/// service can be given it between this call and the handler binding it. A port from `bind(0)`
/// could: the handler then failed to bind and the test talked to another test's handler.
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    const FIRST: u32 = 20_000;
    const COUNT: u32 = 12_000;
    // A start that differs between processes, so two test runs on one machine rarely meet.
    static NEXT: AtomicU32 = AtomicU32::new(u32::MAX);
    let _ = NEXT.compare_exchange(
        u32::MAX,
        std::process::id() % COUNT,
        Ordering::SeqCst,
        Ordering::SeqCst,
    );
    for _ in 0..COUNT {
        let port = (FIRST + NEXT.fetch_add(1, Ordering::SeqCst) % COUNT) as u16;
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port in {FIRST}-{}", FIRST + COUNT - 1)
}

/// A port nothing listens on (bound once, then released).
pub fn closed_port() -> u16 {
    free_port()
}

/// The `X-MS-CLIENT-PRINCIPAL` header App Service Authentication forwards for a caller with
/// `roles` (base64 of `{"auth_typ": "aad", "claims": [{"typ": "roles", "val": …}], …}`).
pub fn principal(roles: &[&str]) -> String {
    use base64::Engine as _;
    let claims: Vec<serde_json::Value> = roles
        .iter()
        .map(|r| serde_json::json!({"typ": "roles", "val": r}))
        .collect();
    base64::engine::general_purpose::STANDARD.encode(
        serde_json::json!({"auth_typ": "aad", "claims": claims, "role_typ": "roles"}).to_string(),
    )
}

/// The CI failure this guards against: `free_port` took a port from `bind(0)`, a proxy in
/// another test was given the same one, the handler could not bind it and the test read
/// another handler's settings.
#[test]
fn free_ports_are_never_repeated_and_never_ephemeral() {
    let range = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .unwrap_or_else(|_| "32768 60999".into());
    let low: u16 = range.split_whitespace().next().unwrap().parse().unwrap();
    let ports: Vec<u16> = (0..500).map(|_| free_port()).collect();
    let distinct: std::collections::HashSet<_> = ports.iter().collect();
    assert_eq!(distinct.len(), ports.len(), "a port handed out twice");
    assert!(
        ports.iter().all(|&p| p < low),
        "{ports:?} meets the ephemeral range from {low}"
    );
}
