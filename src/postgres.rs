//! The PostgreSQL source: a `deadpool-postgres` pool built from `DB_URL`.
//!
//! TLS is used when the URL says `sslmode=require` (Azure Database for PostgreSQL does), with
//! rustls and the Mozilla root store plus, as libpq's `sslrootcert=/path/ca.pem` names, a CA
//! file of the user's: the server certificate is verified, which is stricter than libpq's
//! `require`. Otherwise the connection is plain (`prefer` falls back to plain).
//!
//! Every wait is bounded by `DB_CONNECT_TIMEOUT`: the TCP connect (tokio-postgres'
//! `connect_timeout`), the whole connection setup including TLS and authentication (the pool's
//! `create` timeout: a server that accepts and never answers is caught here), the wait for a
//! free pooled connection (`wait`) and the check of a pooled one (`recycle`). A timeout is a
//! [`deadpool_postgres::PoolError::Timeout`], which the routes answer with 503.

use std::sync::Arc;

use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Timeouts};
use tokio_postgres::config::SslMode;

use crate::configuration::Secret;

/// A pool that could not be built; names the setting, never its value.
#[derive(Debug, thiserror::Error)]
pub enum PoolError {
    #[error("DB_URL is not a valid PostgreSQL URL")]
    BadUrl,
    #[error("DB_URL: {0}")]
    Build(String),
}

/// Builds the pool (no connection is opened until first use); `connect_timeout` bounds every
/// wait (see the module doc).
pub fn pool(
    db_url: &Secret,
    max_size: usize,
    connect_timeout: Duration,
) -> Result<Pool, PoolError> {
    let (url, root_cert) = take_sslrootcert(db_url.expose())?;
    let mut config: tokio_postgres::Config = url.parse().map_err(|_| PoolError::BadUrl)?;
    if config.get_application_name().is_none() {
        config.application_name("call-analytics");
    }
    config.connect_timeout(connect_timeout);
    let manager_config = ManagerConfig {
        recycling_method: RecyclingMethod::Fast,
    };
    let manager = if config.get_ssl_mode() == SslMode::Require {
        Manager::from_config(config, tls(root_cert.as_deref())?, manager_config)
    } else {
        Manager::from_config(config, tokio_postgres::NoTls, manager_config)
    };
    Pool::builder(manager)
        .max_size(max_size.max(1))
        .timeouts(Timeouts {
            wait: Some(connect_timeout),
            create: Some(connect_timeout),
            recycle: Some(connect_timeout),
        })
        .runtime(deadpool_postgres::Runtime::Tokio1)
        .build()
        .map_err(|e| PoolError::Build(e.to_string()))
}

/// Splits libpq's `sslrootcert` off the URL (tokio-postgres does not know it).
fn take_sslrootcert(url: &str) -> Result<(String, Option<String>), PoolError> {
    if !url.contains("sslrootcert=") {
        return Ok((url.to_string(), None));
    }
    let mut parsed = url::Url::parse(url).map_err(|_| PoolError::BadUrl)?;
    let mut root = None;
    let kept: Vec<(String, String)> = parsed
        .query_pairs()
        .filter_map(|(k, v)| {
            if k == "sslrootcert" {
                root = Some(v.into_owned());
                None
            } else {
                Some((k.into_owned(), v.into_owned()))
            }
        })
        .collect();
    parsed.query_pairs_mut().clear().extend_pairs(kept);
    let mut url = parsed.to_string();
    if url.ends_with('?') {
        url.pop();
    }
    Ok((url, root))
}

fn tls(root_cert: Option<&str>) -> Result<tokio_postgres_rustls::MakeRustlsConnect, PoolError> {
    use rustls::pki_types::{CertificateDer, pem::PemObject};
    let mut roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    if let Some(path) = root_cert {
        let bad = |why: String| PoolError::Build(format!("sslrootcert {path}: {why}"));
        for cert in CertificateDer::pem_file_iter(path).map_err(|e| bad(e.to_string()))? {
            roots
                .add(cert.map_err(|e| bad(e.to_string()))?)
                .map_err(|e| bad(e.to_string()))?;
        }
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| PoolError::Build(e.to_string()))?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(tokio_postgres_rustls::MakeRustlsConnect::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Duration = Duration::from_secs(10);

    #[test]
    fn builds_plain_and_tls_pools_without_connecting() {
        assert!(pool(&Secret::new("postgres://u:p@127.0.0.1:1/db"), 2, T).is_ok());
        assert!(
            pool(
                &Secret::new("postgresql://u:p@db.example.com/db?sslmode=require"),
                2,
                T
            )
            .is_ok()
        );
        assert!(matches!(
            pool(&Secret::new("not a url ://"), 2, T),
            Err(PoolError::BadUrl)
        ));
        let missing = pool(
            &Secret::new("postgres://h/db?sslmode=require&sslrootcert=/nonexistent.pem"),
            2,
            T,
        );
        assert!(
            matches!(missing, Err(PoolError::Build(m)) if m.contains("sslrootcert /nonexistent.pem"))
        );
    }

    #[test]
    fn sslrootcert_is_taken_off_the_url() {
        let (url, root) =
            take_sslrootcert("postgres://u@h:5432/db?sslmode=require&sslrootcert=%2Fetc%2Fca.pem")
                .unwrap();
        assert_eq!(url, "postgres://u@h:5432/db?sslmode=require");
        assert_eq!(root.as_deref(), Some("/etc/ca.pem"));
        let (url, root) = take_sslrootcert("postgres://u@h/db").unwrap();
        assert_eq!((url.as_str(), root), ("postgres://u@h/db", None));
    }
}
