//! The PostgreSQL source: a `deadpool-postgres` pool built from `DB_URL`.
//!
//! `sslmode` is honoured as libpq reads it (`docs/access-and-safety.md`, "Dependencies reached
//! safely"; [`SslMode`]): `disable` is plain text; `prefer` (the default when absent) and
//! `allow` try TLS first and fall back to plain text when the server does not offer it;
//! `require`, `verify-ca` and `verify-full` are TLS or no connection. TLS is rustls with the
//! Mozilla root store plus, as libpq's `sslrootcert=/path/ca.pem` names it, a CA file of the
//! user's. Where a certificate is verified: `require`, `verify-ca` and `verify-full` always (the
//! chain and the host name, which is stricter than libpq's `require` and `verify-ca`), `prefer`
//! and `allow` when `sslrootcert` is given (as libpq does). `prefer` without `sslrootcert`
//! encrypts without verifying, as libpq's does: a server with a private CA still gets an
//! encrypted connection rather than a plain one.
//!
//! In App Service (`WEBSITE_SITE_NAME` set) a connection without TLS is refused unless the URL
//! says `sslmode=disable`: `allow`, `prefer` and an absent `sslmode` are read as `require`.
//!
//! Every wait is bounded by `DB_CONNECT_TIMEOUT`: the TCP connect (tokio-postgres'
//! `connect_timeout`), the whole connection setup including TLS and authentication (the pool's
//! `create` timeout: a server that accepts and never answers is caught here), the wait for a
//! free pooled connection (`wait`) and the check of a pooled one (`recycle`). A timeout is a
//! [`deadpool_postgres::PoolError::Timeout`], which the routes answer with 503.

use std::sync::Arc;

use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Timeouts};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use tokio_postgres::config::SslMode as WireMode;

use crate::configuration::Secret;

/// A pool that could not be built; names the setting, never its value.
#[derive(Debug, thiserror::Error)]
pub enum PoolError {
    #[error("DB_URL is not a valid PostgreSQL URL")]
    BadUrl,
    #[error("DB_URL: {0}")]
    Build(String),
}

/// libpq's `sslmode` values (`docs/access-and-safety.md`, "Dependencies reached safely").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    /// `disable`: plain text.
    Disable,
    /// `allow`: read as `prefer` (libpq tries plain text first; TLS first is the safer order).
    Allow,
    /// `prefer`, the default: TLS when the server offers it, else plain text. The certificate
    /// is verified only with `sslrootcert`.
    Prefer,
    /// `require`: TLS or no connection; the certificate is verified.
    Require,
    /// `verify-ca`: as `require` (the host name is checked too).
    VerifyCa,
    /// `verify-full`: as `require`.
    VerifyFull,
}

impl SslMode {
    /// The mode named by libpq's `value`; `None` for anything else.
    pub fn parse(value: &str) -> Option<Self> {
        Some(match value {
            "disable" => Self::Disable,
            "allow" => Self::Allow,
            "prefer" => Self::Prefer,
            "require" => Self::Require,
            "verify-ca" => Self::VerifyCa,
            "verify-full" => Self::VerifyFull,
            _ => return None,
        })
    }

    /// libpq's name of the mode.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Disable => "disable",
            Self::Allow => "allow",
            Self::Prefer => "prefer",
            Self::Require => "require",
            Self::VerifyCa => "verify-ca",
            Self::VerifyFull => "verify-full",
        }
    }

    /// The mode the handler connects with: in App Service, a mode that would accept a
    /// connection without TLS (`allow`, `prefer`, which an absent `sslmode` means) is read
    /// as `require`; only an explicit `disable` goes without TLS there.
    pub fn effective(self, in_app_service: bool) -> Self {
        match self {
            Self::Allow | Self::Prefer if in_app_service => Self::Require,
            mode => mode,
        }
    }
}

/// How a connection is encrypted (see the module doc).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Tls {
    Plain,
    /// TLS when offered, any certificate accepted (`prefer` without `sslrootcert`).
    Opportunistic,
    /// TLS with the certificate verified against the Mozilla roots and this CA file, when
    /// offered (`prefer` with `sslrootcert`) or required.
    Verified(Option<String>),
}

/// What `DB_URL` asks for, read once: the tokio-postgres configuration (its TLS mode set)
/// and the connector that goes with it.
#[derive(Debug)]
struct Plan {
    config: tokio_postgres::Config,
    /// The mode `DB_URL` names (`prefer` when it names none).
    asked: SslMode,
    /// The mode connected with ([`SslMode::effective`]).
    mode: SslMode,
    tls: Tls,
}

fn plan(db_url: &str, in_app_service: bool) -> Result<Plan, PoolError> {
    let (url, sslmode, root_cert) = take_tls_params(db_url)?;
    let mut config: tokio_postgres::Config = url.parse().map_err(|_| PoolError::BadUrl)?;
    let asked = match sslmode {
        Some(v) => SslMode::parse(&v).ok_or_else(|| {
            PoolError::Build(
                "sslmode must be disable, allow, prefer, require, verify-ca or verify-full".into(),
            )
        })?,
        // A key=value string keeps its sslmode, which tokio-postgres has read (default prefer).
        None => match config.get_ssl_mode() {
            WireMode::Disable => SslMode::Disable,
            WireMode::Require => SslMode::Require,
            _ => SslMode::Prefer,
        },
    };
    let mode = asked.effective(in_app_service);
    let (wire, tls) = match mode {
        SslMode::Disable => (WireMode::Disable, Tls::Plain),
        SslMode::Allow | SslMode::Prefer => (
            WireMode::Prefer,
            match root_cert {
                Some(path) => Tls::Verified(Some(path)),
                None => Tls::Opportunistic,
            },
        ),
        SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => {
            (WireMode::Require, Tls::Verified(root_cert))
        }
    };
    config.ssl_mode(wire);
    Ok(Plan {
        config,
        asked,
        mode,
        tls,
    })
}

/// Builds the pool (no connection is opened until first use). `in_app_service` applies the
/// App Service rule of [`SslMode::effective`]; `connect_timeout` bounds every wait (see the
/// module doc).
///
/// Errors: [`PoolError::BadUrl`] for a URL tokio-postgres cannot read; [`PoolError::Build`]
/// for an unknown `sslmode` or an unreadable `sslrootcert` file.
pub fn pool(
    db_url: &Secret,
    max_size: usize,
    connect_timeout: Duration,
    in_app_service: bool,
) -> Result<Pool, PoolError> {
    let Plan {
        mut config,
        asked,
        mode,
        tls,
    } = plan(db_url.expose(), in_app_service)?;
    if mode != asked {
        tracing::info!(
            sslmode = asked.as_str(),
            "DB_URL: in App Service sslmode {} is read as {}",
            asked.as_str(),
            mode.as_str()
        );
    }
    if config.get_application_name().is_none() {
        config.application_name("call-analytics");
    }
    config.connect_timeout(connect_timeout);
    let manager_config = ManagerConfig {
        recycling_method: RecyclingMethod::Fast,
    };
    let manager = match tls {
        Tls::Plain => Manager::from_config(config, tokio_postgres::NoTls, manager_config),
        Tls::Opportunistic => Manager::from_config(config, opportunistic()?, manager_config),
        Tls::Verified(root) => {
            Manager::from_config(config, verified(root.as_deref())?, manager_config)
        }
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

/// Why no connection came from a pool built from `db_url`, for a log line or the command line:
/// the server as `DB_URL` names it (`host:port`, several comma-separated), the setting, and the
/// driver's error with its causes; never the user name or the password. For example
/// `127.0.0.1:5999 (DB_URL): error connecting to server: Connection refused (os error 111)`, or
/// for a pool timeout `db.example.com:5432 (DB_URL): no connection within DB_CONNECT_TIMEOUT`.
pub fn connect_error(db_url: &Secret, e: &deadpool_postgres::PoolError) -> String {
    let setting = match server_of(db_url.expose()) {
        Some(server) => format!("{server} (DB_URL)"),
        None => "DB_URL".to_string(),
    };
    match e {
        deadpool_postgres::PoolError::Timeout(_) => {
            format!("{setting}: no connection within DB_CONNECT_TIMEOUT")
        }
        // The pool's own words ("Error occurred while creating a new object") add nothing.
        deadpool_postgres::PoolError::Backend(e) => format!("{setting}: {}", with_causes(e)),
        other => format!("{setting}: {}", with_causes(other)),
    }
}

/// `e` and the causes its text leaves out (`error performing TLS handshake: server does not
/// support TLS`): what an operator needs to fix a connection. Driver errors hold no password.
fn with_causes(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let part = c.to_string();
        if !text.contains(&part) {
            text = format!("{text}: {part}");
        }
        cause = c.source();
    }
    text
}

/// The servers `db_url` names, as `host:port` (`[v6]:port`, a socket directory as is), joined
/// by commas; `None` when it names none or cannot be read.
fn server_of(db_url: &str) -> Option<String> {
    let Plan { config, .. } = plan(db_url, false).ok()?;
    let ports = config.get_ports();
    let servers: Vec<String> = config
        .get_hosts()
        .iter()
        .enumerate()
        .map(|(i, host)| {
            let port = ports.get(i).or(ports.first()).copied().unwrap_or(5432);
            match host {
                tokio_postgres::config::Host::Tcp(h) if h.contains(':') => format!("[{h}]:{port}"),
                tokio_postgres::config::Host::Tcp(h) => format!("{h}:{port}"),
                tokio_postgres::config::Host::Unix(dir) => format!("{}:{port}", dir.display()),
            }
        })
        .collect();
    (!servers.is_empty()).then(|| servers.join(","))
}

/// Splits libpq's `sslmode` and `sslrootcert` off a `postgres://` URL (tokio-postgres knows
/// neither `allow`, `verify-ca`, `verify-full` nor `sslrootcert`); the other parameters are
/// kept as written. A string that is not such a URL (libpq's `key=value` form) is returned as
/// it is.
fn take_tls_params(url: &str) -> Result<(String, Option<String>, Option<String>), PoolError> {
    let is_url = url.starts_with("postgres://") || url.starts_with("postgresql://");
    let Some((base, query)) = url.split_once('?').filter(|_| is_url) else {
        return Ok((url.to_string(), None, None));
    };
    let (mut mode, mut root, mut kept) = (None, None, Vec::new());
    for pair in query.split('&') {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let decoded = || {
            percent_encoding::percent_decode_str(value)
                .decode_utf8()
                .map(|v| v.into_owned())
                .map_err(|_| PoolError::BadUrl)
        };
        match key {
            "sslmode" => mode = Some(decoded()?),
            "sslrootcert" => root = Some(decoded()?),
            _ => kept.push(pair),
        }
    }
    let url = if kept.is_empty() {
        base.to_string()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    Ok((url, mode, root))
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// TLS that verifies the server: the Mozilla roots plus the CA file `root_cert`.
fn verified(
    root_cert: Option<&str>,
) -> Result<tokio_postgres_rustls::MakeRustlsConnect, PoolError> {
    use rustls::pki_types::pem::PemObject;
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
    let config = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| PoolError::Build(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(tokio_postgres_rustls::MakeRustlsConnect::new(config))
}

/// TLS that accepts any server certificate (`prefer` without `sslrootcert`, as libpq's).
fn opportunistic() -> Result<tokio_postgres_rustls::MakeRustlsConnect, PoolError> {
    let provider = provider();
    let config = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| PoolError::Build(e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)))
        .with_no_client_auth();
    Ok(tokio_postgres_rustls::MakeRustlsConnect::new(config))
}

/// The verifier of [`opportunistic`]: any certificate is taken (as libpq's `prefer` takes
/// it), while the handshake's signatures are still checked with the provider's algorithms.
/// Against a passive listener this is encryption; against an active attacker `prefer` never
/// protected anything (the attacker can answer that the server has no TLS), which is why App
/// Service reads `prefer` as `require`.
#[derive(Debug)]
struct AnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Duration = Duration::from_secs(10);

    #[test]
    fn builds_plain_and_tls_pools_without_connecting() {
        for url in [
            "postgres://u:p@127.0.0.1:1/db",
            "postgres://u:p@127.0.0.1:1/db?sslmode=disable",
            "postgresql://u:p@db.example.com/db?sslmode=require",
            "postgresql://u:p@db.example.com/db?sslmode=verify-full",
            "host=db.example.com user=u sslmode=require",
        ] {
            for in_app_service in [false, true] {
                assert!(
                    pool(&Secret::new(url), 2, T, in_app_service).is_ok(),
                    "{url}"
                );
            }
        }
        assert!(matches!(
            pool(&Secret::new("not a url ://"), 2, T, false),
            Err(PoolError::BadUrl)
        ));
        let missing = pool(
            &Secret::new("postgres://h/db?sslmode=require&sslrootcert=/nonexistent.pem"),
            2,
            T,
            false,
        );
        assert!(
            matches!(missing, Err(PoolError::Build(m)) if m.contains("sslrootcert /nonexistent.pem"))
        );
        let unknown = pool(
            &Secret::new("postgres://u:hunter2@h/db?sslmode=sometimes"),
            2,
            T,
            false,
        );
        assert!(
            matches!(&unknown, Err(PoolError::Build(m)) if m.contains("sslmode") && !m.contains("hunter2")),
            "{unknown:?}"
        );
    }

    #[test]
    fn a_connect_error_names_the_setting_and_server_never_the_password() {
        // A refused connection (the driver's error and its cause) is checked against a closed
        // port in tests/it/cli.rs; tokio-postgres' errors cannot be built here.
        let timeout = deadpool_postgres::PoolError::Timeout(deadpool_postgres::TimeoutType::Create);
        for (url, named) in [
            (
                "postgres://u:hunter2@127.0.0.1:5999/db",
                "127.0.0.1:5999 (DB_URL)",
            ),
            (
                "postgresql://u:hunter2@db.example.com/db?sslmode=require",
                "db.example.com:5432 (DB_URL)",
            ),
            ("postgres://u:hunter2@[::1]:6000/db", "[::1]:6000 (DB_URL)"),
            (
                "host=a,b port=1,2 user=u password=hunter2",
                "a:1,b:2 (DB_URL)",
            ),
            ("postgres://u:hunter2@/db", "DB_URL"),
            ("not a url ://", "DB_URL"),
        ] {
            assert_eq!(
                connect_error(&Secret::new(url), &timeout),
                format!("{named}: no connection within DB_CONNECT_TIMEOUT"),
                "{url}"
            );
        }
    }

    #[test]
    fn tls_params_are_taken_off_the_url() {
        let (url, mode, root) = take_tls_params(
            "postgres://u@h:5432/db?sslmode=verify-full&application_name=a&sslrootcert=%2Fetc%2Fca.pem",
        )
        .unwrap();
        assert_eq!(url, "postgres://u@h:5432/db?application_name=a");
        assert_eq!(mode.as_deref(), Some("verify-full"));
        assert_eq!(root.as_deref(), Some("/etc/ca.pem"));
        let (url, mode, root) = take_tls_params("postgres://u@h/db?sslmode=require").unwrap();
        assert_eq!(
            (url.as_str(), mode.as_deref(), root),
            ("postgres://u@h/db", Some("require"), None)
        );
        let (url, mode, root) = take_tls_params("postgres://u@h/db").unwrap();
        assert_eq!(
            (url.as_str(), mode, root),
            ("postgres://u@h/db", None, None)
        );
        // The other parameters stay as written (a space stays `%20`, not `+`).
        let (url, _, _) =
            take_tls_params("postgres://u:p%3Fw@h/db?options=-c%20search_path%3Dx&sslmode=require")
                .unwrap();
        assert_eq!(url, "postgres://u:p%3Fw@h/db?options=-c%20search_path%3Dx");
        let kv = "host=h sslmode=require sslrootcert=/ca.pem";
        assert_eq!(take_tls_params(kv).unwrap(), (kv.to_string(), None, None));
    }

    /// `docs/access-and-safety.md`, "Dependencies reached safely": libpq's modes, and in App
    /// Service no connection without TLS unless `sslmode=disable` is written out.
    #[test]
    fn sslmode_is_read_as_libpq_does_and_app_service_requires_tls() {
        let base = "postgres://u@db.example.com/db";
        let case = |query: &str, in_app_service: bool| {
            let p = plan(&format!("{base}{query}"), in_app_service).unwrap();
            (p.mode, p.config.get_ssl_mode(), p.tls)
        };
        let verified = Tls::Verified(None);
        // Outside App Service: as libpq.
        for (query, mode, wire, tls) in [
            ("", SslMode::Prefer, WireMode::Prefer, Tls::Opportunistic),
            (
                "?sslmode=prefer",
                SslMode::Prefer,
                WireMode::Prefer,
                Tls::Opportunistic,
            ),
            (
                "?sslmode=allow",
                SslMode::Allow,
                WireMode::Prefer,
                Tls::Opportunistic,
            ),
            (
                "?sslmode=disable",
                SslMode::Disable,
                WireMode::Disable,
                Tls::Plain,
            ),
            (
                "?sslmode=require",
                SslMode::Require,
                WireMode::Require,
                verified.clone(),
            ),
            (
                "?sslmode=verify-ca",
                SslMode::VerifyCa,
                WireMode::Require,
                verified.clone(),
            ),
            (
                "?sslmode=verify-full",
                SslMode::VerifyFull,
                WireMode::Require,
                verified.clone(),
            ),
            (
                "?sslmode=prefer&sslrootcert=/ca.pem",
                SslMode::Prefer,
                WireMode::Prefer,
                Tls::Verified(Some("/ca.pem".into())),
            ),
        ] {
            assert_eq!(case(query, false), (mode, wire, tls), "{query:?}");
        }
        // In App Service: anything that would accept plain text requires TLS...
        for query in [
            "",
            "?sslmode=prefer",
            "?sslmode=allow",
            "?application_name=x",
        ] {
            assert_eq!(
                case(query, true),
                (SslMode::Require, WireMode::Require, verified.clone()),
                "{query:?}"
            );
        }
        // ...unless sslmode=disable says so.
        assert_eq!(
            case("?sslmode=disable", true),
            (SslMode::Disable, WireMode::Disable, Tls::Plain)
        );
        assert_eq!(case("?sslmode=verify-full", true).0, SslMode::VerifyFull);
        // libpq's key=value form keeps what tokio-postgres reads in it.
        let kv = |s: &str, app: bool| plan(s, app).unwrap().mode;
        assert_eq!(kv("host=h sslmode=disable", true), SslMode::Disable);
        assert_eq!(kv("host=h", false), SslMode::Prefer);
        assert_eq!(kv("host=h", true), SslMode::Require);
        for name in [
            "disable",
            "allow",
            "prefer",
            "require",
            "verify-ca",
            "verify-full",
        ] {
            assert_eq!(SslMode::parse(name).unwrap().as_str(), name);
        }
        assert_eq!(SslMode::parse("Require"), None);
    }
}
