//! The failure analysis: per-user call-failure rates from PostgreSQL, written as
//! CSV + HTML + JSON to storage (`docs/failure-analysis.md`).
//!
//! Flow of one invocation: validate the request → resolve the window → reuse a cached result
//! when allowed → read the settled days kept in storage ([`settled`]) → one scan of the other
//! days, and the users' names ([`query`]) → keep the newly settled days → roll up per user and
//! day → [`stats::analyse`] → artifacts (CSV, HTML, JSON summary) → cache entry, written last
//! so a half-finished run is never served as cached.

pub mod console;
pub mod csv_export;
#[cfg(test)]
mod fixtures;
pub mod html;
pub mod model;
pub mod query;
pub mod settled;
pub mod stats;
pub mod window;

use std::time::{Duration, Instant};

use bytes::Bytes;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use sha2::Digest;

use crate::app::App;
use crate::error::Invalid;
use crate::storage::{Put, StorageError};
use model::{Analysis, DailyPoint, Options, RankBy, RankedUser, Summary, UserStats, Window};

/// The JSON body of `POST /api/failure_analysis`; every field optional, unknown fields refused.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = FailureAnalysisRequest)]
pub struct AnalysisRequest {
    /// First local day, `YYYY-MM-DD`; requires `to_date`. Without dates: yesterday in
    /// `timezone` (or the `START_DATE`/`END_DATE` settings).
    #[schema(format = Date)]
    pub from_date: Option<String>,
    /// Last local day (inclusive), `YYYY-MM-DD`; requires `from_date`. The window is at most
    /// `FAILURE_ANALYSIS_MAX_DAYS` (default 93) days, else a 400 naming `to_date`.
    #[schema(format = Date)]
    pub to_date: Option<String>,
    /// IANA zone of the dates (default `UTC`).
    pub timezone: Option<String>,
    /// Ranking length, 1–1000 (default 15).
    #[schema(minimum = 1, maximum = 1000)]
    pub max_users: Option<i64>,
    /// Minimum sessions to be ranked, ≥ 1 (default 1).
    #[schema(minimum = 1)]
    pub min_sessions: Option<i64>,
    /// Recompute even when a cached result exists.
    pub force_refresh: Option<bool>,
    /// Order of `top_users`: `failure_rate` (default) or `lower_bound` (`docs/insights.md`,
    /// "Failure analysis: how sure a rate is"); anything else is a 400 naming `rank_by`.
    #[schema(value_type = Option<RankBy>)]
    pub rank_by: Option<String>,
    /// Also analyse the window of equal length just before (default false). The
    /// `FAILURE_ANALYSIS_MAX_DAYS` bound is on the asked window, so at most twice that many
    /// days are scanned.
    pub compare_previous: Option<bool>,
}

/// Query-string flags (`docs/failure-analysis.md`, "Request").
#[derive(Debug, Clone, Copy)]
pub struct Flags {
    /// `export_csv` (default true): write the CSV artifact.
    pub export_csv: bool,
    /// `include_details` (default false): list every user in the response.
    pub include_details: bool,
}

impl Default for Flags {
    fn default() -> Self {
        Self {
            export_csv: true,
            include_details: false,
        }
    }
}

impl Flags {
    /// Reads `export_csv` / `include_details` (`true|false|1|0`); other parameters (such as the
    /// function key `code`) are ignored.
    pub fn from_query(query: &[(String, String)]) -> Result<Self, Invalid> {
        let mut flags = Self::default();
        for (name, value) in query {
            let slot = match name.as_str() {
                "export_csv" => &mut flags.export_csv,
                "include_details" => &mut flags.include_details,
                _ => continue,
            };
            *slot = match value.to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" => true,
                "false" | "0" | "no" => false,
                _ => {
                    return Err(Invalid::new(name, format!("{name} must be true or false")));
                }
            };
        }
        Ok(flags)
    }
}

/// The artifacts of a run: links that open them (`GET /api/artifacts/...`, absolute under
/// `PUBLIC_BASE_URL`), and where each is stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Artifacts {
    /// Link to the CSV; `None` when `export_csv=false`.
    #[schema(required)]
    pub csv: Option<String>,
    /// Link to the HTML report.
    pub html: String,
    /// Link to the JSON summary.
    pub json: String,
    /// Where each object is stored (blob URLs or file paths).
    #[serde(default)]
    #[schema(inline, required)]
    pub locations: ArtifactLocations,
}

/// Where the artifacts of a run were written (blob URLs or file paths).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ArtifactLocations {
    /// `None` when `export_csv=false`.
    #[schema(required)]
    pub csv: Option<String>,
    pub html: String,
    pub json: String,
}

/// A histogram bucket as the response gives it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct BucketCount {
    #[schema(examples("0-10%"))]
    pub label: String,
    pub count: usize,
}

/// The response body, and (with every user and `cached: false`) the JSON summary artifact.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = FailureAnalysisResponse)]
pub struct AnalysisResponse {
    #[schema(inline)]
    pub window: Window,
    #[schema(inline)]
    pub options: Options,
    #[schema(inline)]
    pub summary: Summary,
    pub top_users: Vec<RankedUser>,
    /// Always ten buckets.
    #[schema(inline, min_items = 10, max_items = 10)]
    pub histogram: Vec<BucketCount>,
    /// One entry per local day of the window in `window.timezone`, in order; days without
    /// sessions are zeros.
    #[schema(inline)]
    pub daily: Vec<DailyPoint>,
    /// Links that open the artifacts (`GET /api/artifacts/...`, absolute under
    /// `PUBLIC_BASE_URL`, else relative), and where each is stored.
    #[schema(inline)]
    pub artifacts: Artifacts,
    pub cached: bool,
    pub generated_at: DateTime<Utc>,
    /// Every user, with `include_details=true`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    #[schema(nullable = false)]
    pub users: Option<Vec<UserStats>>,
}

/// What can fail in an analysis, by cause.
#[derive(Debug, thiserror::Error)]
pub enum AnalysisError {
    #[error(transparent)]
    Invalid(#[from] Invalid),
    #[error("DB_URL is not set")]
    NoDatabase,
    /// `FAILURE_ANALYSIS_CONCURRENCY` analyses were running and none ended within
    /// `BUSY_WAIT_SECONDS` (`docs/access-and-safety.md`, "Bounded for every caller").
    #[error(transparent)]
    Busy(#[from] crate::app::Busy),
    #[error("database unavailable: {0}")]
    DatabaseUnavailable(String),
    /// The server cancelled the query at its `statement_timeout`.
    #[error("the query did not finish in {0:?}")]
    Timeout(Duration),
    /// The server did not answer at all within the statement timeout plus a margin (a hung
    /// or unreachable server, not a slow query).
    #[error("PostgreSQL did not answer within {0:?}")]
    NoAnswer(Duration),
    #[error("database error: {0}")]
    Database(String),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// How long the aggregate query may run: under the Functions front end's 230 s HTTP limit.
/// The server enforces it (`statement_timeout`, → 504 "try a shorter window").
pub const QUERY_TIMEOUT: Duration = Duration::from_secs(200);

/// How much longer than [`QUERY_TIMEOUT`] the client waits for any answer before it calls the
/// server unreachable (→ 503).
pub const NO_ANSWER_MARGIN: Duration = Duration::from_secs(10);

/// Turns the request into a window and options (all validation happens here).
pub fn resolve(
    req: &AnalysisRequest,
    app: &App,
    now: DateTime<Utc>,
) -> Result<(Window, Options), Invalid> {
    let settings = &app.settings;
    let tz: Tz = match &req.timezone {
        Some(name) => crate::time::parse_zone(name, "timezone")?,
        None => Tz::UTC,
    };
    let asked = window::requested_dates(req.from_date.as_deref(), req.to_date.as_deref())?;
    let window = match (asked, settings.start_date, settings.end_date) {
        (Some((from, to)), ..) => {
            window::days_window(from, to, tz, settings.failure_analysis_max_days)?
        }
        (None, Some(start), Some(end)) => {
            window::settings_window(start, end, settings.failure_analysis_max_days)?
        }
        (None, ..) => {
            let yesterday = now.with_timezone(&tz).date_naive() - chrono::Duration::days(1);
            window::days_window(yesterday, yesterday, tz, settings.failure_analysis_max_days)?
        }
    };
    let max_users = req.max_users.unwrap_or(15);
    if !(1..=1000).contains(&max_users) {
        return Err(Invalid::new(
            "max_users",
            "max_users must be between 1 and 1000",
        ));
    }
    let min_sessions = req.min_sessions.unwrap_or(1);
    if min_sessions < 1 {
        return Err(Invalid::new(
            "min_sessions",
            "min_sessions must be at least 1",
        ));
    }
    let rank_by = match req.rank_by.as_deref() {
        None => RankBy::default(),
        Some(value) => RankBy::parse(value).ok_or_else(|| {
            Invalid::new(
                "rank_by",
                format!("rank_by {value:?} is neither failure_rate nor lower_bound"),
            )
        })?,
    };
    Ok((
        window,
        Options {
            max_users: max_users as usize,
            min_sessions,
            rank_by,
            compare_previous: req.compare_previous.unwrap_or(false),
        },
    ))
}

/// Runs one analysis: cached when allowed, else query + artifacts. `now` is the run's time
/// (artifact names carry it). A run that is not served from the cache takes one of the
/// instance's `FAILURE_ANALYSIS_CONCURRENCY` turns
/// ([`Inner::analyses`](crate::app::Inner::analyses)) for its query and artifacts, waiting at
/// most `BUSY_WAIT_SECONDS` for it ([`AnalysisError::Busy`]).
pub async fn run(
    app: &App,
    req: &AnalysisRequest,
    flags: Flags,
    now: DateTime<Utc>,
) -> Result<(AnalysisResponse, Analysis), AnalysisError> {
    let (window, options) = resolve(req, app, now)?;
    let prefix = prefix_of(&window);
    let cache_name = format!("{prefix}cache/{}.json", cache_key(&window, &options, flags));
    let reusable = window.end_utc <= now && !req.force_refresh.unwrap_or(false);

    if reusable && let Some(hit) = read_cache(app, &cache_name).await {
        tracing::info!(cache = %cache_name, "failure analysis served from cache");
        return Ok(hit);
    }

    let (Some(pool), Some(db_url)) = (&app.pg, &app.settings.db_url) else {
        return Err(AnalysisError::NoDatabase);
    };
    // Held until the run ends: the query and the artifacts.
    let _turn = app.analyses.enter().await?;
    let started = Instant::now();
    let client = pool.get().await.map_err(|e| {
        AnalysisError::DatabaseUnavailable(crate::postgres::connect_error(db_url, &e))
    })?;
    let previous = options
        .compare_previous
        .then(|| window::previous_window(&window));
    // Every day of the analysis, the previous window's first; the window's from `first` on.
    let previous_days = previous.as_ref().map(window::spans_of).unwrap_or_default();
    let first = previous_days.len();
    let days = [previous_days, window::spans_of(&window)].concat();
    let settings = &app.settings;
    let tz: Tz = window.timezone.parse().unwrap_or(Tz::UTC);
    let settled: Vec<bool> = days
        .iter()
        .map(|d| {
            settings.reuse_settled_days && settled::is_settled(d, tz, settings.settle_hours, now)
        })
        .collect();
    let force = req.force_refresh.unwrap_or(false);
    let mut per_day = if force {
        vec![None; days.len()]
    } else {
        settled::read(&app.storage, &window.timezone, &days, &settled).await
    };
    let scan: Vec<bool> = per_day.iter().map(Option::is_none).collect();
    let read_ms = started.elapsed().as_millis() as u64;
    let limited = async {
        // JIT off: it would compile each of the scan's per-day branches separately, which
        // costs more than the scan (query.sql). Both settings stay with the pooled session,
        // whose only other queries are the failure analyses' own and the health probe.
        client
            .batch_execute(&format!(
                "SET statement_timeout = {}; SET jit = off",
                QUERY_TIMEOUT.as_millis()
            ))
            .await?;
        let scanned = query::scan(&client, &days, &scan).await?;
        for ((slot, rows), &scanned_day) in per_day.iter_mut().zip(scanned).zip(&scan) {
            if scanned_day {
                *slot = Some(rows);
            }
        }
        // Every day is now either read or scanned.
        let per_day: Vec<Vec<query::UserDay>> =
            per_day.into_iter().map(Option::unwrap_or_default).collect();
        let names = query::names(&client, &query::user_ids(&per_day)).await?;
        Ok::<_, tokio_postgres::Error>((per_day, names))
    };
    let (per_day, names) =
        match tokio::time::timeout(QUERY_TIMEOUT + NO_ANSWER_MARGIN, limited).await {
            Ok(rows) => rows.map_err(classify_pg_error)?,
            Err(_) => {
                // Do not hand a connection with a running query back to the pool.
                let _ = deadpool_postgres::Object::take(client);
                return Err(AnalysisError::NoAnswer(QUERY_TIMEOUT + NO_ANSWER_MARGIN));
            }
        };
    drop(client);
    let counts = query::roll_up(&days, first, &per_day, &names, previous.as_ref());
    let scanned = scan.iter().filter(|&&s| s).count();
    tracing::info!(
        users = counts.users.len(),
        days = counts.daily.len(),
        days_reused = days.len() - scanned,
        days_scanned = scanned,
        read_ms,
        query_ms = started.elapsed().as_millis() as u64,
        "aggregate query done"
    );
    // The newly settled days are written on a task of their own, while this one computes the
    // statistics and writes the artifacts: each is one whole object, and a day not written is
    // scanned again next time. The reply waits for them, so the next request finds them.
    let keep: Vec<(window::Day, Vec<query::UserDay>)> = days
        .into_iter()
        .zip(per_day)
        .zip(settled.iter().zip(&scan))
        .filter(|(_, (settled, scanned))| **settled && **scanned)
        .map(|(day, _)| day)
        .collect();
    let kept = (!keep.is_empty()).then(|| {
        let (storage, timezone) = (app.storage.clone(), window.timezone.clone());
        tokio::spawn(async move {
            let (stored, bytes) = settled::write(&storage, &timezone, keep, force, now).await;
            tracing::info!(days_stored = stored, bytes, "settled days kept");
        })
    });

    let analysis = stats::analyse(counts, window, options, now);
    let response = write_artifacts(app, &analysis, flags, &prefix, &cache_name, reusable).await;
    if let Some(kept) = kept {
        // A panic there loses only cached days; it is the runtime's to report.
        let _ = kept.await;
    }
    let response = response?;
    Ok((response.view(flags), analysis))
}

impl AnalysisResponse {
    /// The response as a client asked for it: every user only with `include_details`.
    fn view(mut self, flags: Flags) -> Self {
        if !flags.include_details {
            self.users = None;
        }
        self
    }
}

async fn read_cache(app: &App, name: &str) -> Option<(AnalysisResponse, Analysis)> {
    let object = match app.storage.get(name).await {
        Ok(Some(o)) => o,
        Ok(None) => return None,
        Err(e) => {
            tracing::warn!(error = %e, "cache read failed; recomputing");
            return None;
        }
    };
    let cached: CacheEntry = match serde_json::from_slice(&object.body) {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(error = %e, "cache entry unreadable; recomputing");
            return None;
        }
    };
    let mut response = cached.response;
    response.cached = true;
    Some((response, cached.analysis))
}

/// What the cache keeps: the response with every user, and the analysis (for the CLI).
#[derive(Serialize, Deserialize)]
struct CacheEntry {
    response: AnalysisResponse,
    analysis: Analysis,
}

/// Writes CSV (when asked), HTML, the JSON summary, then the cache entry (only for windows
/// in the past). Returns the full response (every user).
///
/// The set is complete or absent: when a write fails, the objects this run wrote (or may have
/// written: a PUT whose reply was lost) are deleted before the error is returned, and when the
/// request is dropped mid-run they are deleted in the background ([`RunWrites`]). The cache
/// entry comes last, so a run is never served as cached before its artifacts exist.
async fn write_artifacts(
    app: &App,
    analysis: &Analysis,
    flags: Flags,
    prefix: &str,
    cache_name: &str,
    cacheable: bool,
) -> Result<AnalysisResponse, StorageError> {
    let mut writes = RunWrites::new(&app.storage);
    let written = async {
        let stamp = analysis.generated_at.format("%Y%m%d_%H%M%S");
        let link = |name: &str| crate::links::artifact(&app.settings, name);
        let csv_name = flags
            .export_csv
            .then(|| format!("{prefix}user_failure_stats_{stamp}.csv"));
        let html_name = format!("{prefix}user_failure_rates_{stamp}.html");
        let json_name = format!("{prefix}user_failure_summary_{stamp}.json");
        let response = AnalysisResponse {
            window: analysis.window.clone(),
            options: analysis.options.clone(),
            summary: analysis.summary.clone(),
            top_users: analysis.top_users.clone(),
            histogram: analysis
                .histogram
                .iter()
                .map(|b| BucketCount {
                    label: b.label.clone(),
                    count: b.count,
                })
                .collect(),
            daily: analysis.daily.clone(),
            artifacts: Artifacts {
                csv: csv_name.as_deref().map(link),
                html: link(&html_name),
                json: link(&json_name),
                locations: ArtifactLocations {
                    csv: csv_name.as_deref().map(|n| app.storage.location(n)),
                    html: app.storage.location(&html_name),
                    json: app.storage.location(&json_name),
                },
            },
            cached: false,
            generated_at: analysis.generated_at,
            users: Some(analysis.users.clone()),
        };
        let json = Bytes::from(serde_json::to_vec_pretty(&response).expect("response serializes"));
        let mut objects = vec![
            (
                html_name,
                Bytes::from(html::to_html(analysis)),
                Put::new("text/html; charset=utf-8"),
            ),
            (json_name, json, Put::new("application/json")),
        ];
        if let Some(name) = csv_name {
            let csv = Bytes::from(csv_export::to_csv(analysis));
            objects.push((name, csv, Put::new("text/csv; charset=utf-8")));
        }
        // The artifacts at once (their writes overlap), then the cache entry.
        writes.put_all(objects).await?;
        if cacheable {
            let entry = CacheEntry {
                response: response.clone(),
                analysis: analysis.clone(),
            };
            let body = Bytes::from(serde_json::to_vec(&entry).expect("cache entry serializes"));
            writes
                .put_all(vec![(
                    cache_name.to_string(),
                    body,
                    Put::new("application/json"),
                )])
                .await?;
        }
        Ok::<_, StorageError>(response)
    }
    .await;
    match written {
        Ok(response) => {
            writes.complete();
            Ok(response)
        }
        Err(e) => {
            writes.clean_up().await;
            Err(e)
        }
    }
}

/// The objects one run has written so far; deleted unless [`RunWrites::complete`] is called.
struct RunWrites {
    storage: crate::storage::Storage,
    names: Vec<String>,
}

impl RunWrites {
    fn new(storage: &crate::storage::Storage) -> Self {
        Self {
            storage: storage.clone(),
            names: Vec::new(),
        }
    }

    /// Writes `objects` (name, body, write) at once, each remembered before its write (a
    /// write may land even when its reply is lost); the first error is returned.
    async fn put_all(&mut self, objects: Vec<(String, Bytes, Put)>) -> Result<(), StorageError> {
        self.names
            .extend(objects.iter().map(|(name, ..)| name.clone()));
        let storage = &self.storage;
        futures::future::try_join_all(
            objects
                .iter()
                .map(|(name, body, put)| storage.put(name, body.clone(), put)),
        )
        .await?;
        Ok(())
    }

    /// Keeps everything written.
    fn complete(mut self) {
        self.names.clear();
    }

    /// Deletes everything written, now.
    async fn clean_up(mut self) {
        let names = std::mem::take(&mut self.names);
        delete_all(&self.storage, names).await;
    }
}

impl Drop for RunWrites {
    /// The request was dropped mid-run (its future cancelled): delete in the background.
    fn drop(&mut self) {
        let names = std::mem::take(&mut self.names);
        if names.is_empty() {
            return;
        }
        let storage = self.storage.clone();
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move { delete_all(&storage, names).await });
        }
    }
}

/// Deletes `names`, each within the storage's own bounds; failures are logged.
async fn delete_all(storage: &crate::storage::Storage, names: Vec<String>) {
    for name in names {
        match storage.delete(&name).await {
            Ok(()) => tracing::info!(name = %name, "incomplete failure-analysis artifact removed"),
            Err(e) => tracing::warn!(name = %name, error = %e, "incomplete artifact not removed"),
        }
    }
}

/// `failure_analysis/20250520T183000Z_20250522T183000Z/`: the prefix names the UTC window.
fn prefix_of(w: &Window) -> String {
    format!(
        "failure_analysis/{}_{}/",
        w.start_utc.format("%Y%m%dT%H%M%SZ"),
        w.end_utc.format("%Y%m%dT%H%M%SZ")
    )
}

/// A short digest of everything that shapes the stored result.
fn cache_key(w: &Window, o: &Options, flags: Flags) -> String {
    let text = format!(
        "{}|{}|{}|{}|{}|{}|{}|{}",
        w.start_utc.to_rfc3339(),
        w.end_utc.to_rfc3339(),
        w.timezone,
        o.max_users,
        o.min_sessions,
        flags.export_csv,
        o.rank_by.as_str(),
        o.compare_previous
    );
    let digest = sha2::Sha256::digest(text.as_bytes());
    digest.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

/// Connection problems are 503s; a server-side statement timeout is a 504; the rest are bugs
/// or schema problems (500, logged).
fn classify_pg_error(e: tokio_postgres::Error) -> AnalysisError {
    use tokio_postgres::error::SqlState;
    match e.code() {
        Some(c) if *c == SqlState::QUERY_CANCELED => AnalysisError::Timeout(QUERY_TIMEOUT),
        Some(c)
            if c.code().starts_with("08")
                || *c == SqlState::ADMIN_SHUTDOWN
                || *c == SqlState::CANNOT_CONNECT_NOW =>
        {
            AnalysisError::DatabaseUnavailable(e.to_string())
        }
        Some(_) => AnalysisError::Database(e.to_string()),
        None if e.is_closed() || e.to_string().contains("connect") => {
            AnalysisError::DatabaseUnavailable(e.to_string())
        }
        None => AnalysisError::Database(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_default_and_parse_and_name_the_bad_one() {
        let f = Flags::from_query(&[]).unwrap();
        assert!(f.export_csv && !f.include_details);
        let q = |k: &str, v: &str| {
            vec![
                (k.to_string(), v.to_string()),
                ("code".into(), "secret".into()),
            ]
        };
        assert!(
            !Flags::from_query(&q("export_csv", "false"))
                .unwrap()
                .export_csv
        );
        assert!(
            Flags::from_query(&q("include_details", "1"))
                .unwrap()
                .include_details
        );
        let e = Flags::from_query(&q("include_details", "maybe")).unwrap_err();
        assert_eq!(e.field, "include_details");
    }

    #[test]
    fn the_prefix_names_the_utc_window() {
        let w = window::days_window(
            "2025-05-21".parse().unwrap(),
            "2025-05-22".parse().unwrap(),
            chrono_tz::Asia::Kolkata,
            366,
        )
        .unwrap();
        assert_eq!(
            prefix_of(&w),
            "failure_analysis/20250520T183000Z_20250522T183000Z/"
        );
    }
}
