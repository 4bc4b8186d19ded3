//! The route table: every path the handler serves, its methods and the Azure Function it
//! belongs to, in one place. The host forwards HTTP-triggered requests at their original
//! `/api/...` path; non-HTTP triggers arrive as `POST /{function name}` (custom-handler
//! invocation protocol). Tests check every `function.json` against this table.

use warp::http::Method;

/// What a request is for, once routed: one variant per handler, so [`crate::server`]
/// dispatches with one exhaustive `match`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteId {
    /// `GET /`: the host's readiness probe.
    Ready,
    /// `POST /api/failure_analysis`.
    FailureAnalysis,
    /// `POST /daily_report_timer`: the timer trigger (invocation protocol).
    DailyReportTimer,
    Health,
    OpenApi,
    ReportList,
    ReportLatest,
    ReportGenerate,
    ReportBackfill,
    ReportLive,
    ReportTrend,
    ReportByDate,
    OrgList,
    OrgCreate,
    OrgGet,
    OrgPatch,
    /// `GET /api/reports/{date}/changes`.
    ReportChanges,
    /// `GET /api/reports/calls`.
    ReportCalls,
    SchedulerStatus,
    Dashboard,
    /// `GET /api/artifacts/{*path}`: a stored artifact.
    Artifact,
    /// `GET /api/deliveries`: digest delivery records.
    Deliveries,
    /// `POST /api/orgs/{org_id}/notifications/{id}/test`: a test digest.
    NotificationTest,
}

/// One entry of the table: the methods one handler takes on one path (a path served by
/// several handlers has an entry per handler).
#[derive(Debug)]
pub struct Route {
    /// Literal segments, `{name}` for a path parameter (one segment), or, last, `{*name}` for
    /// the rest of the path (one or more segments).
    pub path: &'static str,
    pub methods: &'static [Method],
    /// The function folder whose `function.json` makes the host send this path; `None` for
    /// the host's own probe.
    pub function: Option<&'static str>,
    pub id: RouteId,
}

/// Every route. Literal paths win over parameterised ones (`/api/reports/latest` is never
/// taken for `{date}`), as the Functions host orders them.
pub const ROUTES: &[Route] = &[
    Route {
        path: "/",
        methods: &[Method::GET],
        function: None,
        id: RouteId::Ready,
    },
    Route {
        path: "/api/failure_analysis",
        methods: &[Method::POST],
        function: Some("failure_analysis"),
        id: RouteId::FailureAnalysis,
    },
    Route {
        path: "/daily_report_timer",
        methods: &[Method::POST],
        function: Some("daily_report_timer"),
        id: RouteId::DailyReportTimer,
    },
    reports("/api/health", &[Method::GET], RouteId::Health),
    reports("/api/openapi.json", &[Method::GET], RouteId::OpenApi),
    reports("/api/reports", &[Method::GET], RouteId::ReportList),
    reports("/api/reports/latest", &[Method::GET], RouteId::ReportLatest),
    reports(
        "/api/reports/generate",
        &[Method::POST],
        RouteId::ReportGenerate,
    ),
    reports(
        "/api/reports/backfill",
        &[Method::POST],
        RouteId::ReportBackfill,
    ),
    reports("/api/reports/live", &[Method::GET], RouteId::ReportLive),
    reports("/api/reports/trend", &[Method::GET], RouteId::ReportTrend),
    reports("/api/reports/calls", &[Method::GET], RouteId::ReportCalls),
    reports("/api/reports/{date}", &[Method::GET], RouteId::ReportByDate),
    reports(
        "/api/reports/{date}/changes",
        &[Method::GET],
        RouteId::ReportChanges,
    ),
    reports("/api/orgs", &[Method::GET], RouteId::OrgList),
    reports("/api/orgs", &[Method::POST], RouteId::OrgCreate),
    reports("/api/orgs/{org_id}", &[Method::GET], RouteId::OrgGet),
    reports("/api/orgs/{org_id}", &[Method::PATCH], RouteId::OrgPatch),
    reports(
        "/api/scheduler/status",
        &[Method::GET],
        RouteId::SchedulerStatus,
    ),
    reports("/api/dashboard", &[Method::GET], RouteId::Dashboard),
    reports("/api/artifacts/{*path}", &[Method::GET], RouteId::Artifact),
    reports("/api/deliveries", &[Method::GET], RouteId::Deliveries),
    reports(
        "/api/orgs/{org_id}/notifications/{id}/test",
        &[Method::POST],
        RouteId::NotificationTest,
    ),
];

const fn reports(path: &'static str, methods: &'static [Method], id: RouteId) -> Route {
    Route {
        path,
        methods,
        function: Some("reports_http"),
        id,
    }
}

/// Why a request matched no route.
#[derive(Debug, PartialEq, Eq)]
pub enum NoRoute {
    NotFound,
    /// The path exists with these methods.
    MethodNotAllowed(Vec<Method>),
}

/// Finds the route of `method path`; returns its path parameters in order.
pub fn resolve(method: &Method, path: &str) -> Result<(RouteId, Vec<String>), NoRoute> {
    // A literal path (`/api/reports/generate`) is never taken by a parameter (`{date}`).
    let literal = |r: &&Route| !r.path.contains('{');
    let matching: Vec<(&Route, Vec<String>)> = ROUTES
        .iter()
        .filter_map(|r| match_path(r.path, path).map(|p| (r, p)))
        .collect();
    let candidates: Vec<_> = if matching.iter().any(|(r, _)| literal(r)) {
        matching.into_iter().filter(|(r, _)| literal(r)).collect()
    } else {
        matching
    };
    let mut allowed = Vec::new();
    for (route, params) in candidates {
        let get_as_head = method == Method::HEAD && route.methods.contains(&Method::GET);
        if route.methods.contains(method) || get_as_head {
            return Ok((route.id, params));
        }
        allowed.extend(route.methods.iter().cloned());
    }
    if allowed.is_empty() {
        Err(NoRoute::NotFound)
    } else {
        Err(NoRoute::MethodNotAllowed(allowed))
    }
}

/// Matches `/a/{x}/c` against `/a/7/c` (a trailing slash is ignored); returns `["7"]`. A last
/// `{*rest}` takes the remaining segments, each percent-decoded, joined by `/` (`/a/{*p}`
/// against `/a/b/c.csv` gives `["b/c.csv"]`); empty segments are kept (`b//c`) for the route
/// to refuse.
pub fn match_path(pattern: &str, path: &str) -> Option<Vec<String>> {
    let mut want = pattern.trim_end_matches('/').split('/');
    let mut got = path.trim_end_matches('/').split('/');
    let mut params = Vec::new();
    loop {
        match (want.next(), got.next()) {
            (None, None) => return Some(params),
            (Some(w), Some(g)) if w.starts_with("{*") => {
                let rest: Vec<String> = std::iter::once(g).chain(got).map(percent_decode).collect();
                if rest.concat().is_empty() {
                    return None;
                }
                params.push(rest.join("/"));
                return Some(params);
            }
            (Some(w), Some(g)) if w.starts_with('{') && !g.is_empty() => {
                params.push(percent_decode(g))
            }
            (Some(w), Some(g)) if w == g => {}
            _ => return None,
        }
    }
}

/// Percent-decodes a path segment (invalid UTF-8 becomes U+FFFD). A `+` stays a `+`: only
/// query strings (form encoding) read it as a space.
fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_resolve_and_wrong_methods_list_the_allowed_ones() {
        assert_eq!(resolve(&Method::GET, "/"), Ok((RouteId::Ready, vec![])));
        assert_eq!(
            resolve(&Method::POST, "/api/failure_analysis/"),
            Ok((RouteId::FailureAnalysis, vec![]))
        );
        assert_eq!(
            resolve(&Method::GET, "/api/failure_analysis"),
            Err(NoRoute::MethodNotAllowed(vec![Method::POST]))
        );
        assert_eq!(
            resolve(&Method::GET, "/api/nothing"),
            Err(NoRoute::NotFound)
        );
        assert_eq!(
            resolve(&Method::DELETE, "/api/orgs/x"),
            Err(NoRoute::MethodNotAllowed(vec![Method::GET, Method::PATCH]))
        );
        assert_eq!(
            resolve(&Method::POST, "/api/orgs"),
            Ok((RouteId::OrgCreate, vec![]))
        );
    }

    #[test]
    fn parameters_are_captured_and_decoded() {
        assert_eq!(
            match_path("/api/orgs/{org_id}", "/api/orgs/a%20b"),
            Some(vec!["a b".to_string()])
        );
        // `+` is literal in a path; `%2B` is a `+` too; `&` and `=` are plain characters.
        assert_eq!(
            match_path("/api/orgs/{org_id}", "/api/orgs/a+b%2Bc&d=e"),
            Some(vec!["a+b+c&d=e".to_string()])
        );
        assert_eq!(
            match_path("/api/reports/{date}", "/api/reports/caf%C3%A9%FF"),
            Some(vec!["caf\u{e9}\u{fffd}".to_string()])
        );
        assert_eq!(match_path("/api/orgs/{org_id}", "/api/orgs/"), None);
        assert_eq!(match_path("/api/orgs/{org_id}", "/api/orgs/a/b"), None);
    }

    #[test]
    fn a_catch_all_takes_the_rest_of_the_path() {
        let p = "/api/artifacts/{*path}";
        assert_eq!(
            match_path(p, "/api/artifacts/a/b%20c/d.csv"),
            Some(vec!["a/b c/d.csv".to_string()])
        );
        assert_eq!(match_path(p, "/api/artifacts/x"), Some(vec!["x".into()]));
        // Segments are decoded one by one, so an encoded traversal is visible to the route.
        assert_eq!(
            match_path(p, "/api/artifacts/a/%2e%2e/b"),
            Some(vec!["a/../b".into()])
        );
        assert_eq!(
            match_path(p, "/api/artifacts/a//b"),
            Some(vec!["a//b".into()])
        );
        assert_eq!(match_path(p, "/api/artifacts/"), None);
        assert_eq!(match_path(p, "/api/artifacts"), None);
        assert_eq!(
            resolve(&Method::GET, "/api/artifacts/reports/x/2025-01-01.json"),
            Ok((RouteId::Artifact, vec!["reports/x/2025-01-01.json".into()]))
        );
        assert_eq!(
            resolve(&Method::POST, "/api/orgs/o/notifications/n/test"),
            Ok((RouteId::NotificationTest, vec!["o".into(), "n".into()]))
        );
    }
}
