//! The HTTP server the Functions host talks to: binds `127.0.0.1:port`, turns each request
//! into a [`Request`], routes it through [`crate::routes`] and answers JSON (errors as
//! [`ApiError`]). Shuts down gracefully on SIGTERM/SIGINT, finishing requests in flight.

use std::net::SocketAddr;
use std::time::Instant;

use bytes::{Buf, Bytes, BytesMut};
use futures::StreamExt;
use tracing::Instrument;
use warp::Filter;
use warp::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use warp::reply::{Reply, Response};

use crate::app::App;
use crate::error::ApiError;
use crate::routes::{self, NoRoute, RouteId};

/// Largest request body accepted (413 above it).
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// One request as the handler sees it.
#[derive(Debug)]
pub struct Request {
    pub method: Method,
    pub path: String,
    /// Path parameters of the matched route, in order.
    pub params: Vec<String>,
    /// Decoded query pairs, in order.
    pub query: Vec<(String, String)>,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Request {
    /// The first value of a query parameter.
    pub fn query_param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A JSON response with `status`.
pub fn json_response<T: serde::Serialize>(status: StatusCode, value: &T) -> Response {
    let body = serde_json::to_string(value).expect("response serializes");
    with_type(body.into_response(), status, "application/json")
}

/// An HTML response (200).
pub fn html_response(body: String) -> Response {
    with_type(
        body.into_response(),
        StatusCode::OK,
        "text/html; charset=utf-8",
    )
}

fn with_type(mut r: Response, status: StatusCode, content_type: &'static str) -> Response {
    *r.status_mut() = status;
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

/// The error as a response.
pub fn error_response(e: &ApiError) -> Response {
    let mut r = with_type(e.body().into_response(), e.status, "application/json");
    if let Some(allow) = e
        .allow
        .as_deref()
        .and_then(|a| HeaderValue::from_str(a).ok())
    {
        r.headers_mut().insert(header::ALLOW, allow);
    }
    if e.status == StatusCode::PAYLOAD_TOO_LARGE {
        // The rest of the body is not read: close rather than leave it in the connection.
        r.headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    r
}

/// Serves until SIGTERM/SIGINT. `addr` is normally `127.0.0.1:FUNCTIONS_CUSTOMHANDLER_PORT`.
pub async fn serve(app: App, addr: SocketAddr) -> anyhow::Result<()> {
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
    let (id, params) = routes::resolve(&method, path).map_err(|no| match no {
        NoRoute::NotFound => ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no route {path}"),
        ),
        NoRoute::MethodNotAllowed(allowed) => method_not_allowed(&method, path, &allowed),
    })?;
    // The timer and the readiness probe come from the host itself, not through sign-in.
    if app.settings.require_principal && !matches!(id, RouteId::Ready | RouteId::DailyReportTimer) {
        crate::reports_http::access::require_principal(&headers)?;
    }
    let body = read_body(&headers, body).await?;
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
    };
    match id {
        RouteId::Ready => Ok(json_response(
            StatusCode::OK,
            &serde_json::json!({"status": "ready"}),
        )),
        RouteId::FailureAnalysis => crate::failure_analysis::http::handle(app, &req).await,
        RouteId::DailyReportTimer => crate::daily_report::timer::handle(app, &req).await,
        reports => crate::reports_http::handle(app, reports, &req).await,
    }
}

fn method_not_allowed(method: &Method, path: &str, allowed: &[Method]) -> ApiError {
    let mut e = ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
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

/// Reads the body, refusing more than [`MAX_BODY_BYTES`] (by `Content-Length` or as it streams).
async fn read_body<S, B>(headers: &HeaderMap, mut body: S) -> Result<Bytes, ApiError>
where
    S: futures::Stream<Item = Result<B, warp::Error>> + Unpin,
    B: Buf,
{
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
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
