//! ClickHouse: a fresh database with the demo schema on the chdb front (`CLICKHOUSE_TEST_URL`,
//! exported by `scripts/test`), and loading fixture rows into it.

use call_analytics::clickhouse::ClickHouse;
use call_analytics::configuration::{ClickHouseSettings, Secret};
use serde_json::Value;

use super::{required_env, unique};

/// The ClickHouse front the test scripts started.
pub fn clickhouse_url() -> String {
    required_env("CLICKHOUSE_TEST_URL")
}

/// Client settings for `database` at `url` (the front's `default` user, no password).
pub fn clickhouse_settings(url: &str, database: &str) -> ClickHouseSettings {
    ClickHouseSettings {
        url: url.to_string(),
        username: "default".into(),
        password: Secret::new(""),
        database: database.to_string(),
        query_timeout_secs: 180,
        max_memory_usage: 10_000_000_000,
    }
}

/// A fresh ClickHouse database with the four source tables (no rows); returns its name.
pub async fn clickhouse_database() -> String {
    ClickHouseDb::fresh().await.database
}

/// A fresh database `t_<uuid>` with the four source tables of `demo/clickhouse/schema.sql`.
pub struct ClickHouseDb {
    /// The front's URL (`CLICKHOUSE_TEST_URL`).
    pub url: String,
    /// The database's name.
    pub database: String,
    /// A client on the database, straight to the front.
    pub ch: ClickHouse,
}

impl ClickHouseDb {
    /// Creates the database and its tables.
    pub async fn fresh() -> ClickHouseDb {
        let url = clickhouse_url();
        let database = unique("t_");
        ClickHouse::new(&clickhouse_settings(&url, "default"))
            .expect("client")
            .execute(&format!("CREATE DATABASE {database}"))
            .await
            .expect("create database");
        let ch = ClickHouse::new(&clickhouse_settings(&url, &database)).expect("client");
        for statement in include_str!("../../../demo/clickhouse/schema.sql").split(';') {
            let sql: String = statement
                .lines()
                .filter(|l| !l.trim_start().starts_with("--"))
                .collect::<Vec<_>>()
                .join("\n");
            if !sql.trim().is_empty() {
                ch.execute(&sql).await.expect("schema");
            }
        }
        ClickHouseDb { url, database, ch }
    }

    /// A client on this database through `url` (a proxy in front of the front).
    pub fn client_via(&self, url: &str) -> ClickHouse {
        ClickHouse::new(&clickhouse_settings(url, &self.database)).expect("client")
    }
}

/// Inserts `(table, rows)` as JSONEachRow, one statement per table; empty tables are skipped.
pub async fn insert_rows(ch: &ClickHouse, tables: &[(&str, &[Value])]) {
    for (table, rows) in tables {
        if rows.is_empty() {
            continue;
        }
        let body: Vec<String> = rows.iter().map(Value::to_string).collect();
        ch.execute(&format!(
            "INSERT INTO {table} FORMAT JSONEachRow\n{}",
            body.join("\n")
        ))
        .await
        .unwrap_or_else(|e| panic!("insert into {table}: {e}"));
    }
}
