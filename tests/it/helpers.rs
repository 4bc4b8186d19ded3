//! `spawn_app`: a fresh PostgreSQL database and blob container per test, and the `handler`
//! binary started on a free port with settings pointing at them.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use call_analytics::configuration::{Secret, StorageSettings};
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

/// A fresh, empty database with the calllog schema; returns its URL.
pub async fn fresh_database() -> String {
    let admin = required_env("PG_ADMIN_URL");
    let (client, conn) = tokio_postgres::connect(&admin, tokio_postgres::NoTls)
        .await
        .expect("connect to PG_ADMIN_URL");
    tokio::spawn(conn);
    let name = unique("t_");
    client
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .expect("create database");
    let url = replace_db(&admin, &name);
    let (db, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .expect("connect to test db");
    tokio::spawn(conn);
    db.batch_execute(include_str!("../../demo/postgres/schema.sql"))
        .await
        .expect("schema");
    url
}

fn replace_db(url: &str, db: &str) -> String {
    let mut u = url::Url::parse(url).expect("PG_ADMIN_URL is a URL");
    u.set_path(&format!("/{db}"));
    u.to_string()
}

/// A connection to `url`.
pub async fn connect(url: &str) -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .expect("connect");
    tokio::spawn(conn);
    client
}

/// One `calllog` row of a fixture.
pub struct Call<'a> {
    pub session_id: Option<&'a str>,
    pub user_id: Option<&'a str>,
    pub exotel_call_sid: Option<&'a str>,
    /// UTC, `YYYY-MM-DD HH:MM:SS`.
    pub created_on: &'a str,
}

/// Inserts users `(uuid, name)` and calls.
pub async fn insert(
    db: &tokio_postgres::Client,
    users: &[(&str, Option<&str>)],
    calls: &[Call<'_>],
) {
    for (id, name) in users {
        db.execute(
            "INSERT INTO public.\"user\" (user_id, name) VALUES ($1::text::uuid, $2)",
            &[id, name],
        )
        .await
        .expect("insert user");
    }
    // Rows whose user has no `user` row exist in real databases (no FK, or loaded around it);
    // the fixture loads them as a replica would, without firing the foreign-key trigger.
    db.batch_execute("SET session_replication_role = replica")
        .await
        .expect("replica role");
    for c in calls {
        db.execute(
            "INSERT INTO public.calllog (session_id, user_id, exotel_call_sid, created_on) \
             VALUES ($1, $2::text::uuid, $3, $4::text::timestamp)",
            &[&c.session_id, &c.user_id, &c.exotel_call_sid, &c.created_on],
        )
        .await
        .expect("insert call");
    }
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

/// The Azurite connection string exported by the test scripts.
pub fn azurite() -> String {
    required_env("AZURITE_CONNECTION_STRING")
}

/// Storage settings for a new, unique Azurite container.
pub fn fresh_container() -> StorageSettings {
    StorageSettings::ConnectionString {
        connection_string: Secret::new(azurite()),
        container: unique("t-"),
    }
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
        let app = TestApp {
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

    async fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
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
        self.forwarded(
            reqwest::Method::POST,
            &format!("/api/failure_analysis{query}"),
            &uuid::Uuid::new_v4().to_string(),
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

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
