//! The handler's shared state: settings and the clients of the outside systems, built once
//! at start and shared by every invocation.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::clickhouse::ClickHouse;
use crate::configuration::Settings;
use crate::storage::Storage;
use crate::time::{Clock, SystemClock};

/// Everything a route needs. Cheap to clone (`Arc` inside).
#[derive(Clone)]
pub struct App(Arc<Inner>);

/// See [`App`].
pub struct Inner {
    pub settings: Settings,
    /// PostgreSQL pool; `None` when `DB_URL` is unset (failure analysis then answers 503).
    pub pg: Option<deadpool_postgres::Pool>,
    pub storage: Storage,
    /// ClickHouse client; `None` when `CLICKHOUSE_URL` is unset (reports then answer 503).
    pub clickhouse: Option<ClickHouse>,
    /// Every "now" of a request or a firing.
    pub clock: Arc<dyn Clock>,
    /// Failure analyses that query at once (`FAILURE_ANALYSIS_CONCURRENCY`).
    pub analyses: Gate,
    /// Live ClickHouse queries at once (`CLICKHOUSE_LIVE_CONCURRENCY`).
    pub live_queries: Gate,
    /// The work queue (`REPORT_QUEUE`, `docs/scale-out.md`); `None` without one: the timer
    /// then generates inline.
    pub queue: Option<crate::queue::WorkQueue>,
}

/// At most N of one kind of work at once in this instance, and a bounded wait for a turn
/// (`docs/access-and-safety.md`, "Bounded for every caller"): a `tokio` semaphore with
/// `BUSY_WAIT_SECONDS` of patience.
pub struct Gate {
    permits: Arc<Semaphore>,
    wait: Duration,
}

/// No turn came within the wait; the route answers 503 `busy` with `Retry-After`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("busy: no turn within {:?}", .retry_after)]
pub struct Busy {
    /// What to tell the caller to wait before trying again (the wait, in whole seconds).
    pub retry_after: Duration,
}

impl Gate {
    /// `permits` at once (at least 1); a caller waits at most `wait` for one.
    pub fn new(permits: usize, wait: Duration) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(permits.max(1))),
            wait,
        }
    }

    /// A turn, held until the permit is dropped; [`Busy`] when none frees up within the
    /// wait.
    pub async fn enter(&self) -> Result<OwnedSemaphorePermit, Busy> {
        match tokio::time::timeout(self.wait, self.permits.clone().acquire_owned()).await {
            Ok(Ok(permit)) => Ok(permit),
            // Timed out (the semaphore is never closed).
            _ => Err(Busy {
                retry_after: Duration::from_secs(self.wait.as_secs().max(1)),
            }),
        }
    }
}

impl std::ops::Deref for App {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl App {
    /// Builds the clients on the system clock. Opens no database connection; creates the
    /// blob container if missing (a wrong storage key fails here, at start, not on the first
    /// request).
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let pg = match &settings.db_url {
            Some(url) => Some(crate::postgres::pool(
                url,
                settings.db_pool_max_size,
                settings.db_connect_timeout,
                settings.in_app_service,
            )?),
            None => None,
        };
        let storage =
            Storage::connect_with_timeout(&settings.storage, settings.storage_connect_timeout)
                .await?;
        let clickhouse = settings
            .clickhouse
            .as_ref()
            .map(ClickHouse::new)
            .transpose()?
            .map(|ch| ch.with_connect_timeout(settings.clickhouse_connect_timeout));
        if let Some(default_org) = &settings.default_org {
            match crate::orgs::ensure_default(&storage, default_org, clock.now()).await {
                Ok(true) => {
                    tracing::info!(org_id = %default_org.org_id, "default organization created")
                }
                Ok(false) => {}
                Err(e) => {
                    // The default org's fields come from these settings.
                    let setting = match &e {
                        crate::orgs::OrgError::Invalid(invalid) => match invalid.field.as_str() {
                            "node_persistent_id" => "BROKER_NODE_PERSISTENT_ID",
                            "timezone" => "DEFAULT_TIMEZONE",
                            "name" => "CLIENT_NAME",
                            _ => "ORG_ID",
                        },
                        _ => "ORG_ID",
                    };
                    tracing::warn!(setting, error = %e, "default organization not ensured")
                }
            }
        }
        tracing::info!(
            storage = %storage.describe(),
            postgres = pg.is_some(),
            clickhouse = clickhouse.is_some(),
            queue = settings.queue.as_ref().map_or("-", |q| q.name.as_str()),
            "clients ready"
        );
        let queue = settings
            .queue
            .as_ref()
            .map(|q| crate::queue::WorkQueue::new(q, settings.storage_connect_timeout))
            .transpose()?;
        let analyses = Gate::new(settings.failure_analysis_concurrency, settings.busy_wait);
        let live_queries = Gate::new(settings.clickhouse_live_concurrency, settings.busy_wait);
        Ok(App(Arc::new(Inner {
            settings,
            pg,
            storage,
            clickhouse,
            clock,
            analyses,
            live_queries,
            queue,
        })))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_gate_lets_n_in_and_tells_the_next_to_come_back_after_the_wait() {
        let gate = Gate::new(1, Duration::from_millis(50));
        let held = gate.enter().await.unwrap();
        let started = std::time::Instant::now();
        let busy = gate.enter().await.unwrap_err();
        assert!(started.elapsed() >= Duration::from_millis(50));
        // Retry-After is whole seconds, at least 1.
        assert_eq!(busy.retry_after, Duration::from_secs(1));
        drop(held);
        assert!(gate.enter().await.is_ok(), "the permit came back");
    }
}
