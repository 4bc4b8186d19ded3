//! The route table: every path the handler serves, its methods and the Azure Function it
//! belongs to, in one place. The host forwards HTTP-triggered requests at their original
//! `/api/...` path; non-HTTP triggers arrive as `POST /{function name}` (custom-handler
//! invocation protocol). Tests check every `function.json` against this table.

use warp::http::Method;

/// What a request is for, once routed.
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
    Reports,
    ReportsLatest,
    ReportsGenerate,
    ReportsBackfill,
    ReportsLive,
    ReportsTrend,
    ReportByDate,
    /// `GET /api/reports/{date}/changes`.
    ReportChanges,
    /// `GET /api/reports/calls`.
    ReportsCalls,
    Orgs,
    Org,
    SchedulerStatus,
    Dashboard,
}

/// One entry of the table.
#[derive(Debug)]
pub struct Route {
    /// Literal segments, or `{name}` for a path parameter.
    pub path: &'static str,
    pub methods: &'static [Method],
    /// The function folder whose `function.json` makes the host send this path; `None` for
    /// the host's own probe.
    pub function: Option<&'static str>,
    pub id: RouteId,
}

/// Literal routes come before parameterised ones, as the Functions host orders them.
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
    // reports_http: literal paths before `{date}`.
    reports("/api/health", &[Method::GET], RouteId::Health),
    reports("/api/openapi.json", &[Method::GET], RouteId::OpenApi),
    reports("/api/reports", &[Method::GET], RouteId::Reports),
    reports(
        "/api/reports/latest",
        &[Method::GET],
        RouteId::ReportsLatest,
    ),
    reports(
        "/api/reports/generate",
        &[Method::POST],
        RouteId::ReportsGenerate,
    ),
    reports(
        "/api/reports/backfill",
        &[Method::POST],
        RouteId::ReportsBackfill,
    ),
    reports("/api/reports/live", &[Method::GET], RouteId::ReportsLive),
    reports("/api/reports/trend", &[Method::GET], RouteId::ReportsTrend),
    reports("/api/reports/calls", &[Method::GET], RouteId::ReportsCalls),
    reports("/api/reports/{date}", &[Method::GET], RouteId::ReportByDate),
    reports(
        "/api/reports/{date}/changes",
        &[Method::GET],
        RouteId::ReportChanges,
    ),
    reports("/api/orgs", &[Method::GET, Method::POST], RouteId::Orgs),
    reports(
        "/api/orgs/{org_id}",
        &[Method::GET, Method::PATCH],
        RouteId::Org,
    ),
    reports(
        "/api/scheduler/status",
        &[Method::GET],
        RouteId::SchedulerStatus,
    ),
    reports("/api/dashboard", &[Method::GET], RouteId::Dashboard),
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

/// Matches `/a/{x}/c` against `/a/7/c` (a trailing slash is ignored); returns `["7"]`.
pub fn match_path(pattern: &str, path: &str) -> Option<Vec<String>> {
    let mut want = pattern.trim_end_matches('/').split('/');
    let mut got = path.trim_end_matches('/').split('/');
    let mut params = Vec::new();
    loop {
        match (want.next(), got.next()) {
            (None, None) => return Some(params),
            (Some(w), Some(g)) if w.starts_with('{') && !g.is_empty() => {
                params.push(percent_decode(g))
            }
            (Some(w), Some(g)) if w == g => {}
            _ => return None,
        }
    }
}

fn percent_decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("x={}", s.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
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
    }

    #[test]
    fn parameters_are_captured_and_decoded() {
        assert_eq!(
            match_path("/api/orgs/{org_id}", "/api/orgs/a%20b"),
            Some(vec!["a b".to_string()])
        );
        assert_eq!(match_path("/api/orgs/{org_id}", "/api/orgs/"), None);
        assert_eq!(match_path("/api/orgs/{org_id}", "/api/orgs/a/b"), None);
    }
}
