//! PostgreSQL: a fresh database with the `calllog` schema per test (`PG_ADMIN_URL`, exported
//! by `scripts/test`), and loading users and calls into it.

use super::{required_env, unique};

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
    db.batch_execute(include_str!("../../../demo/postgres/schema.sql"))
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

/// The call sid of a connected session that [`sessions`] writes.
pub const OK_SID: &str = "c0ffee00c0ffee00";

/// Adds `count` sessions of `user` at `at` (UTC, `YYYY-MM-DD HH:MM:SS`), the first `failed`
/// of them without a call sid, the others with [`OK_SID`]; one statement.
pub async fn sessions(db: &tokio_postgres::Client, user: &str, at: &str, count: i32, failed: i32) {
    db.execute(
        "INSERT INTO public.calllog (session_id, user_id, exotel_call_sid, created_on) \
         SELECT 's' || i, $1::text::uuid, CASE WHEN i <= $4 THEN NULL ELSE $5 END, \
                $2::text::timestamp \
           FROM generate_series(1, $3) i",
        &[&user, &at, &count, &failed, &OK_SID],
    )
    .await
    .expect("insert sessions");
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

/// A fresh database with one user (`11111111-aaaa-4aaa-8aaa-000000000001`, "Anushka") and two
/// sessions on 2025-05-21 (UTC), one of them failed; returns its URL.
pub async fn two_calls_database() -> String {
    let url = fresh_database().await;
    let db = connect(&url).await;
    let user = "11111111-aaaa-4aaa-8aaa-000000000001";
    let call = |sid: Option<&'static str>, t: &'static str| Call {
        session_id: Some("s"),
        user_id: Some(user),
        exotel_call_sid: sid,
        created_on: t,
    };
    insert(
        &db,
        &[(user, Some("Anushka"))],
        &[
            call(Some("c0ffee"), "2025-05-21 03:00:00"),
            call(None, "2025-05-21 04:00:00"),
        ],
    )
    .await;
    url
}
