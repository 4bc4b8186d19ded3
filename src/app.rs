//! The handler's shared state: settings and the clients of the outside systems, built once
//! at start and shared by every invocation.

use std::sync::Arc;

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
        Self::build_with_clock(settings, Arc::new(SystemClock)).await
    }

    /// [`App::build`] with another clock (tests).
    pub async fn build_with_clock(
        settings: Settings,
        clock: Arc<dyn Clock>,
    ) -> anyhow::Result<Self> {
        let pg = match &settings.db_url {
            Some(url) => Some(crate::postgres::pool(
                url,
                settings.db_pool_max_size,
                settings.db_connect_timeout,
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
            "clients ready"
        );
        Ok(App(Arc::new(Inner {
            settings,
            pg,
            storage,
            clickhouse,
            clock,
        })))
    }
}
