//! `GET /api/health` (`docs/http-api.md`, "Routes"): each configured dependency — PostgreSQL,
//! ClickHouse, storage — probed at once with a short timeout, its latency reported. 200 when
//! every configured one answers, 503 otherwise; never slower than [`PROBE_TIMEOUT`].

use std::time::{Duration, Instant};

use serde::Serialize;
use utoipa::ToSchema;
use warp::http::StatusCode;
use warp::reply::Response;

use crate::app::App;
use crate::http::response::json_response;

/// How long one probe may take.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(3);

/// The reply: `healthy` (200) when no configured dependency is down; `unhealthy` (503)
/// otherwise.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    pub status: HealthStatus,
    /// The handler's version.
    pub version: &'static str,
    #[schema(inline)]
    pub checks: Checks,
}

/// Whether every configured dependency answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum HealthStatus {
    Healthy,
    Unhealthy,
}

/// Each dependency's state.
#[derive(Debug, Serialize, ToSchema)]
pub struct Checks {
    pub postgres: Check,
    pub clickhouse: Check,
    pub storage: Check,
}

/// One dependency's state.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = HealthCheck)]
pub struct Check {
    pub status: CheckStatus,
    /// Probe time; null when not configured.
    #[schema(required)]
    pub latency_ms: Option<u64>,
    /// Why it is down (no secrets, no addresses).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub error: Option<String>,
}

/// A dependency's state: `ok`, `down`, or `not_configured` (which does not make the service
/// unhealthy).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CheckStatus {
    Ok,
    Down,
    NotConfigured,
}

async fn probe<F, E>(configured: bool, f: F) -> Check
where
    F: std::future::Future<Output = Result<(), E>>,
    E: std::fmt::Display,
{
    if !configured {
        return Check {
            status: CheckStatus::NotConfigured,
            latency_ms: None,
            error: None,
        };
    }
    let started = Instant::now();
    let outcome = tokio::time::timeout(PROBE_TIMEOUT, f).await;
    let latency_ms = Some(started.elapsed().as_millis() as u64);
    match outcome {
        Ok(Ok(())) => Check {
            status: CheckStatus::Ok,
            latency_ms,
            error: None,
        },
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "health probe failed");
            Check {
                status: CheckStatus::Down,
                latency_ms,
                error: Some("the probe failed".into()),
            }
        }
        Err(_) => Check {
            status: CheckStatus::Down,
            latency_ms,
            error: Some(format!("no answer in {} s", PROBE_TIMEOUT.as_secs())),
        },
    }
}

/// Probes everything concurrently and answers.
#[utoipa::path(
    get,
    path = "/api/health",
    operation_id = "health",
    tag = "reports_http",
    summary = "Each dependency's state and probe latency",
    description = "Probes PostgreSQL, ClickHouse and storage at once, each for at most 3 s; an \
                   unconfigured one is `not_configured` and does not make the service unhealthy.",
    responses(
        (status = 200, description = "Every configured dependency answered.", body = Health),
        (status = 503, description = "A configured dependency is down.", body = Health),
    )
)]
pub async fn handle(app: &App) -> Response {
    let postgres = probe(app.pg.is_some(), async {
        let pool = app.pg.as_ref().expect("configured");
        let client = pool.get().await.map_err(|e| e.to_string())?;
        client
            .simple_query("SELECT 1")
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    });
    let clickhouse = probe(app.clickhouse.is_some(), async {
        app.clickhouse
            .as_ref()
            .expect("configured")
            .probe()
            .await
            .map(|_| ())
    });
    let storage = probe(true, app.storage.probe());
    let (postgres, clickhouse, storage) = tokio::join!(postgres, clickhouse, storage);
    let healthy = [&postgres, &clickhouse, &storage]
        .iter()
        .all(|c| c.status != CheckStatus::Down);
    let (status, health) = if healthy {
        (StatusCode::OK, HealthStatus::Healthy)
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, HealthStatus::Unhealthy)
    };
    let reply = Health {
        status: health,
        version: env!("CARGO_PKG_VERSION"),
        checks: Checks {
            postgres,
            clickhouse,
            storage,
        },
    };
    json_response(status, &reply)
}
