//! The HTTP server the Functions host talks to: binds `127.0.0.1:port`, turns each request
//! into a `Request`, routes it through [`routes`] and dispatches it to its function
//! adapter in one exhaustive `match` (`dispatch`). Limits (URI, headers, body) answer the
//! JSON error body. Shuts down gracefully on SIGTERM/SIGINT, finishing requests in flight.

use std::net::SocketAddr;
use std::time::Instant;

use bytes::{Buf, Bytes, BytesMut};
use futures::StreamExt;
use tracing::Instrument;
use warp::Filter;
use warp::http::{HeaderMap, Method, StatusCode};
use warp::reply::Response;

pub mod openapi;
pub mod routes;

use crate::app::App;
use crate::functions::{
    daily_report_timer, daily_report_worker, failure_analysis, reports_http as reports,
};
use crate::http::caller::Caller;
use crate::http::error::{ApiError, ErrorCode};
use crate::http::request::Request;
use crate::http::response::{error_response, json_response};
use routes::{NoRoute, RouteId, Rule};

/// Largest request body accepted (413 above it).
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// Longest request target (path and query) accepted: 414 above it, as the Functions host's
/// Kestrel front (8 KiB request line) would answer.
pub const MAX_URI_BYTES: usize = 8 * 1024;

/// Largest total of header names and values accepted: 431 above it (Kestrel's 32 KiB).
pub const MAX_HEADER_BYTES: usize = 32 * 1024;

/// Serves until SIGTERM/SIGINT. `addr` is normally `127.0.0.1:FUNCTIONS_CUSTOMHANDLER_PORT`.
pub async fn serve(app: App, addr: SocketAddr) -> anyhow::Result<()> {
    if app.settings.in_app_service && !app.settings.require_principal {
        tracing::warn!(
            "REQUIRE_PRINCIPAL=false in App Service: requests without a signed-in principal \
             are served as admin"
        );
    }
    let listener = tokio::net::TcpListener::bind(addr).await?;
    tracing::info!(addr = %listener.local_addr()?, "handler listening");
    warp::serve(filter(app))
        .incoming(listener)
        .graceful(shutdown_signal())
        .run()
        .await;
    tracing::info!("handler stopped");
    Ok(())
}

/// The whole service as one warp filter (usable with `warp::test` too).
pub fn filter(app: App) -> impl Filter<Extract = (Response,), Error = warp::Rejection> + Clone {
    warp::method()
        .and(warp::path::full())
        .and(warp::query::raw().or(warp::any().map(String::new)).unify())
        .and(warp::header::headers_cloned())
        .and(warp::body::stream())
        .then(
            move |method, path: warp::path::FullPath, query: String, headers, body| {
                let app = app.clone();
                async move {
                    let invocation_id = header_str(&headers, "x-azure-functions-invocationid")
                        .unwrap_or("-")
                        .to_string();
                    let span = tracing::info_span!("request", invocation_id = %invocation_id);
                    handle(app, method, path.as_str().to_string(), query, headers, body)
                        .instrument(span)
                        .await
                }
            },
        )
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

async fn handle<S, B>(
    app: App,
    method: Method,
    path: String,
    query: String,
    headers: HeaderMap,
    body: S,
) -> Response
where
    S: futures::Stream<Item = Result<B, warp::Error>> + Unpin,
    B: Buf,
{
    let started = Instant::now();
    let response = match route(&app, method.clone(), &path, &query, headers, body).await {
        Ok(r) => r,
        Err(e) => error_response(&e),
    };
    if path != "/" {
        tracing::info!(%method, %path, status = response.status().as_u16(), ms = started.elapsed().as_millis() as u64, "request");
    }
    response
}

async fn route<S, B>(
    app: &App,
    method: Method,
    path: &str,
    query: &str,
    headers: HeaderMap,
    body: S,
) -> Result<Response, ApiError>
where
    S: futures::Stream<Item = Result<B, warp::Error>> + Unpin,
    B: Buf,
{
    check_limits(path, query, &headers)?;
    let (id, params) = routes::resolve(&method, path).map_err(|no| match no {
        NoRoute::NotFound => ApiError::new(ErrorCode::NotFound, format!("no route {path}")),
        NoRoute::MethodNotAllowed(allowed) => method_not_allowed(&method, path, &allowed),
    })?;
    // Who is calling, then the route's one rule: 401 without a required principal, 403
    // without the role (`docs/access-and-safety.md`, "Who may do what").
    let rule = routes::route_of(id).rule;
    let caller = if rule == Rule::Host {
        Caller::Host
    } else {
        Caller::from_headers(&headers, app.settings.require_principal)?
    };
    rule.admit(&caller)?;
    let body = read_body(&headers, body).await?;
    check_content_type(&headers, &body)?;
    let query = url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    let req = Request {
        method,
        path: path.to_string(),
        params,
        query,
        headers,
        body,
        caller,
    };
    dispatch(app, id, &req).await
}

/// Every route to its handler: one arm per [`RouteId`], no fallback.
async fn dispatch(app: &App, id: RouteId, req: &Request) -> Result<Response, ApiError> {
    match id {
        RouteId::Ready => Ok(json_response(
            StatusCode::OK,
            &serde_json::json!({"status": "ready"}),
        )),
        RouteId::FailureAnalysis => failure_analysis::handle(app, req).await,
        RouteId::DailyReportTimer => daily_report_timer::handle(app, req).await,
        RouteId::DailyReportWorker => daily_report_worker::handle(app, req).await,
        RouteId::Health => Ok(reports::health::handle(app).await),
        RouteId::OpenApi => Ok(reports::openapi::handle(openapi::document())),
        RouteId::ReportList => reports::stored::list(app, req).await,
        RouteId::ReportLatest => reports::stored::latest(app, req).await,
        RouteId::ReportByDate => reports::stored::by_date(app, req).await,
        RouteId::ReportTrend => reports::stored::trend(app, req).await,
        RouteId::ReportLive => reports::live::handle(app, req).await,
        RouteId::ReportChanges => reports::insights::changes(app, req).await,
        RouteId::ReportRevisions => reports::revisions::list(app, req).await,
        RouteId::ReportCalls => reports::insights::calls(app, req).await,
        RouteId::ReportGenerate => reports::generate::generate(app, req).await,
        RouteId::ReportBackfill => reports::generate::backfill(app, req).await,
        RouteId::JobStatus => reports::jobs::get(app, req).await,
        RouteId::OrgList => reports::orgs::list(app, req).await,
        RouteId::OrgCreate => reports::orgs::create(app, req).await,
        RouteId::OrgGet => reports::orgs::get(app, req).await,
        RouteId::OrgPatch => reports::orgs::patch(app, req).await,
        RouteId::SchedulerStatus => reports::scheduler::status(app, req).await,
        RouteId::Dashboard => reports::dashboard::page(app, req).await,
        RouteId::Artifact => reports::artifacts::report(app, req).await,
        RouteId::FailureArtifact => reports::artifacts::failure_analysis(app, req).await,
        RouteId::Deliveries => reports::delivery::list(app, req).await,
        RouteId::NotificationTest => reports::delivery::test_send(app, req).await,
    }
}

fn method_not_allowed(method: &Method, path: &str, allowed: &[Method]) -> ApiError {
    let mut e = ApiError::new(
        ErrorCode::MethodNotAllowed,
        format!("{method} is not allowed on {path}"),
    );
    e.allow = Some(
        allowed
            .iter()
            .map(Method::as_str)
            .collect::<Vec<_>>()
            .join(", "),
    );
    e
}

/// 415 for a body that is not `application/json` (parameters such as `; charset=utf-8`
/// allowed), before anything is parsed or written: a browser form can post `text/plain` JSON
/// cross-site with the sign-in cookie (`docs/access-and-safety.md`, "Input the product
/// refuses"). An empty body needs no type.
fn check_content_type(headers: &HeaderMap, body: &[u8]) -> Result<(), ApiError> {
    if body.is_empty() {
        return Ok(());
    }
    let essence = header_str(headers, "content-type")
        .and_then(|v| v.split(';').next())
        .map(|t| t.trim().to_ascii_lowercase());
    if essence.as_deref() == Some("application/json") {
        return Ok(());
    }
    Err(ApiError::new(
        ErrorCode::UnsupportedMediaType,
        "a request body must be sent with Content-Type: application/json",
    ))
}

/// 414 for a request target over [`MAX_URI_BYTES`], 431 for headers over
/// [`MAX_HEADER_BYTES`], each with the JSON error body.
fn check_limits(path: &str, query: &str, headers: &HeaderMap) -> Result<(), ApiError> {
    if path.len() + query.len() + 1 > MAX_URI_BYTES {
        return Err(ApiError::new(
            ErrorCode::UriTooLong,
            format!("the request target is longer than {MAX_URI_BYTES} bytes"),
        ));
    }
    let header_bytes: usize = headers
        .iter()
        .map(|(k, v)| k.as_str().len() + v.len() + 4)
        .sum();
    if header_bytes > MAX_HEADER_BYTES {
        return Err(ApiError::new(
            ErrorCode::HeadersTooLarge,
            format!("the request headers are larger than {MAX_HEADER_BYTES} bytes"),
        ));
    }
    Ok(())
}

/// Reads the body, refusing more than [`MAX_BODY_BYTES`] (by `Content-Length` or as it streams).
async fn read_body<S, B>(headers: &HeaderMap, mut body: S) -> Result<Bytes, ApiError>
where
    S: futures::Stream<Item = Result<B, warp::Error>> + Unpin,
    B: Buf,
{
    let too_large = || {
        ApiError::new(
            ErrorCode::BodyTooLarge,
            format!("the body is larger than {MAX_BODY_BYTES} bytes"),
        )
    };
    let declared = header_str(headers, "content-length").and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > MAX_BODY_BYTES) {
        return Err(too_large());
    }
    let mut buf = BytesMut::with_capacity(declared.unwrap_or(0));
    while let Some(chunk) = body.next().await {
        let mut chunk =
            chunk.map_err(|_| ApiError::invalid("body", "the body could not be read"))?;
        if buf.len() + chunk.remaining() > MAX_BODY_BYTES {
            return Err(too_large());
        }
        while chunk.has_remaining() {
            let part = chunk.chunk();
            buf.extend_from_slice(part);
            let n = part.len();
            chunk.advance(n);
        }
    }
    Ok(buf.freeze())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutdown signal received; finishing requests in flight");
}
