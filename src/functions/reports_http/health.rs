//! `GET /api/health` (`docs/http-api.md`, "Routes"): each configured dependency — PostgreSQL,
//! ClickHouse, storage — probed at once with a short timeout, its latency reported. 200 when
//! every configured one answers, 503 otherwise; never slower than [`PROBE_TIMEOUT`].

use std::time::{Duration, Instant};

use serde::Serialize;
use warp::http::StatusCode;
use warp::reply::Response;

use crate::app::App;
use crate::http::response::json_response;

/// How long one probe may take.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(3);

/// One dependency's state.
#[derive(Debug, Serialize)]
pub struct Check {
    /// `ok`, `down` or `not_configured`.
    pub status: &'static str,
    pub latency_ms: Option<u64>,
    /// Why it is down (no secrets, no addresses).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

async fn probe<F, E>(configured: bool, f: F) -> Check
where
    F: std::future::Future<Output = Result<(), E>>,
    E: std::fmt::Display,
{
    if !configured {
        return Check {
            status: "not_configured",
            latency_ms: None,
            error: None,
        };
    }
    let started = Instant::now();
    let outcome = tokio::time::timeout(PROBE_TIMEOUT, f).await;
    let latency_ms = Some(started.elapsed().as_millis() as u64);
    match outcome {
        Ok(Ok(())) => Check {
            status: "ok",
            latency_ms,
            error: None,
        },
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "health probe failed");
            Check {
                status: "down",
                latency_ms,
                error: Some("the probe failed".into()),
            }
        }
        Err(_) => Check {
            status: "down",
            latency_ms,
            error: Some(format!("no answer in {} s", PROBE_TIMEOUT.as_secs())),
        },
    }
}

/// Probes everything concurrently and answers.
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
        .all(|c| c.status != "down");
    let status = if healthy {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    json_response(
        status,
        &serde_json::json!({
            "status": if healthy { "healthy" } else { "unhealthy" },
            "version": env!("CARGO_PKG_VERSION"),
            "checks": {"postgres": postgres, "clickhouse": clickhouse, "storage": storage},
        }),
    )
}
