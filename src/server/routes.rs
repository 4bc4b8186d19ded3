//! The route table: every path the handler serves, its methods, the Azure Function it
//! belongs to and **who may call it** ([`Rule`]), in one place. The host forwards
//! HTTP-triggered requests at their original `/api/...` path; non-HTTP triggers arrive as
//! `POST /{function name}` (custom-handler invocation protocol). Tests check every
//! `function.json` against this table, call every route as every kind of caller, and check
//! that `docs/http-api.md` shows the rules as [`access_table`] renders them.

use warp::http::Method;

use crate::http::caller::{ADMIN_ROLE, Caller, FAILURES_ROLE};
use crate::http::error::{ApiError, ErrorCode};

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
    /// `POST /daily_report_worker`: the work queue's trigger (invocation protocol,
    /// `docs/scale-out.md`).
    DailyReportWorker,
    Health,
    OpenApi,
    ReportList,
    ReportLatest,
    ReportGenerate,
    ReportBackfill,
    /// `GET /api/jobs/{job_id}`: a backfill job's progress.
    JobStatus,
    ReportLive,
    ReportTrend,
    ReportByDate,
    OrgList,
    OrgCreate,
    OrgGet,
    OrgPatch,
    /// `GET /api/reports/{date}/changes`.
    ReportChanges,
    /// `GET /api/reports/{date}/revisions`: every kept revision of a date's report.
    ReportRevisions,
    /// `GET /api/reports/calls`.
    ReportCalls,
    SchedulerStatus,
    Dashboard,
    /// `GET /api/artifacts/{*path}`: a stored report artifact (`reports/<org_id>/…`).
    Artifact,
    /// `GET /api/artifacts/failure_analysis/{*path}`: a failure-analysis artifact.
    FailureArtifact,
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
    /// Who may call it.
    pub rule: Rule,
}

/// Who may call a route (`docs/access-and-safety.md`, "Who may do what"): one rule per route,
/// checked by the server before the handler runs, so no handler decides access on its own.
/// Rules that are about orgs only admit the caller; the handler then shows an org reader
/// nothing but its own orgs (`Caller::sees`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// Sent by the Functions host itself, never forwarded from the front end (the readiness
    /// probe, timer invocations): no principal.
    Host,
    /// Any signed-in caller, whatever its roles (health, the API document).
    SignedIn,
    /// An admin or an org reader (`org:<org_id>`); an org the caller does not read is a 404,
    /// as if it did not exist, and listings show only the caller's orgs.
    OrgReader,
    /// An admin or a failure-analysis reader (`analytics.failures`).
    FailureReader,
    /// An admin (`analytics.admin`): every write.
    Admin,
}

impl Rule {
    /// Admits `caller` or says why not: 403 `forbidden` naming the role that is needed.
    /// (A missing principal was already a 401 when building the `Caller`.)
    pub fn admit(self, caller: &Caller) -> Result<(), ApiError> {
        let admitted = match self {
            Rule::Host | Rule::SignedIn => true,
            Rule::OrgReader => caller.reads_orgs(),
            Rule::FailureReader => caller.reads_failures(),
            Rule::Admin => caller.is_admin(),
        };
        if admitted {
            return Ok(());
        }
        Err(ApiError::new(
            ErrorCode::Forbidden,
            format!("this route needs {}", self.who()),
        ))
    }

    /// Who the rule admits, as the docs say it.
    pub fn who(self) -> String {
        match self {
            Rule::Host => "the Functions host (not reachable from outside)".into(),
            Rule::SignedIn => "any signed-in caller".into(),
            Rule::OrgReader => format!("`{ADMIN_ROLE}`, or `org:<org_id>` for that org"),
            Rule::FailureReader => format!("`{ADMIN_ROLE}` or `{FAILURES_ROLE}`"),
            Rule::Admin => format!("`{ADMIN_ROLE}`"),
        }
    }
}

/// Every route. Literal paths win over parameterised ones (`/api/reports/latest` is never
/// taken for `{date}`), as the Functions host orders them.
pub const ROUTES: &[Route] = &[
    Route {
        path: "/",
        methods: &[Method::GET],
        function: None,
        id: RouteId::Ready,
        rule: Rule::Host,
    },
    Route {
        path: "/api/failure_analysis",
        methods: &[Method::POST],
        function: Some("failure_analysis"),
        id: RouteId::FailureAnalysis,
        rule: Rule::FailureReader,
    },
    Route {
        path: "/daily_report_timer",
        methods: &[Method::POST],
        function: Some("daily_report_timer"),
        id: RouteId::DailyReportTimer,
        rule: Rule::Host,
    },
    Route {
        path: "/daily_report_worker",
        methods: &[Method::POST],
        function: Some("daily_report_worker"),
        id: RouteId::DailyReportWorker,
        rule: Rule::Host,
    },
    reports(
        "/api/health",
        &[Method::GET],
        RouteId::Health,
        Rule::SignedIn,
    ),
    reports(
        "/api/openapi.json",
        &[Method::GET],
        RouteId::OpenApi,
        Rule::SignedIn,
    ),
    reports(
        "/api/reports",
        &[Method::GET],
        RouteId::ReportList,
        Rule::OrgReader,
    ),
    reports(
        "/api/reports/latest",
        &[Method::GET],
        RouteId::ReportLatest,
        Rule::OrgReader,
    ),
    reports(
        "/api/reports/generate",
        &[Method::POST],
        RouteId::ReportGenerate,
        Rule::Admin,
    ),
    reports(
        "/api/reports/backfill",
        &[Method::POST],
        RouteId::ReportBackfill,
        Rule::Admin,
    ),
    reports(
        "/api/jobs/{job_id}",
        &[Method::GET],
        RouteId::JobStatus,
        Rule::Admin,
    ),
    reports(
        "/api/reports/live",
        &[Method::GET],
        RouteId::ReportLive,
        Rule::OrgReader,
    ),
    reports(
        "/api/reports/trend",
        &[Method::GET],
        RouteId::ReportTrend,
        Rule::OrgReader,
    ),
    reports(
        "/api/reports/calls",
        &[Method::GET],
        RouteId::ReportCalls,
        Rule::OrgReader,
    ),
    reports(
        "/api/reports/{date}",
        &[Method::GET],
        RouteId::ReportByDate,
        Rule::OrgReader,
    ),
    reports(
        "/api/reports/{date}/changes",
        &[Method::GET],
        RouteId::ReportChanges,
        Rule::OrgReader,
    ),
    reports(
        "/api/reports/{date}/revisions",
        &[Method::GET],
        RouteId::ReportRevisions,
        Rule::OrgReader,
    ),
    reports(
        "/api/orgs",
        &[Method::GET],
        RouteId::OrgList,
        Rule::OrgReader,
    ),
    reports(
        "/api/orgs",
        &[Method::POST],
        RouteId::OrgCreate,
        Rule::Admin,
    ),
    reports(
        "/api/orgs/{org_id}",
        &[Method::GET],
        RouteId::OrgGet,
        Rule::OrgReader,
    ),
    reports(
        "/api/orgs/{org_id}",
        &[Method::PATCH],
        RouteId::OrgPatch,
        Rule::Admin,
    ),
    reports(
        "/api/scheduler/status",
        &[Method::GET],
        RouteId::SchedulerStatus,
        Rule::OrgReader,
    ),
    reports(
        "/api/dashboard",
        &[Method::GET],
        RouteId::Dashboard,
        Rule::OrgReader,
    ),
    reports(
        "/api/artifacts/failure_analysis/{*path}",
        &[Method::GET],
        RouteId::FailureArtifact,
        Rule::FailureReader,
    ),
    reports(
        "/api/artifacts/{*path}",
        &[Method::GET],
        RouteId::Artifact,
        Rule::OrgReader,
    ),
    reports(
        "/api/deliveries",
        &[Method::GET],
        RouteId::Deliveries,
        Rule::OrgReader,
    ),
    reports(
        "/api/orgs/{org_id}/notifications/{id}/test",
        &[Method::POST],
        RouteId::NotificationTest,
        Rule::Admin,
    ),
];

const fn reports(path: &'static str, methods: &'static [Method], id: RouteId, rule: Rule) -> Route {
    Route {
        path,
        methods,
        function: Some("reports_http"),
        id,
        rule,
    }
}

/// The route of `id` (every [`RouteId`] has one).
pub fn route_of(id: RouteId) -> &'static Route {
    ROUTES
        .iter()
        .find(|r| r.id == id)
        .expect("every RouteId is in ROUTES")
}

/// The access rules as the Markdown table `docs/http-api.md` shows ("Who may call what"):
/// one row per method and path a client can reach (the host's own routes left out).
pub fn access_table() -> String {
    let mut out = String::from("| method | path | who may call it |\n|---|---|---|\n");
    for r in ROUTES.iter().filter(|r| r.rule != Rule::Host) {
        for m in r.methods {
            out.push_str(&format!("| {m} | `{}` | {} |\n", r.path, r.rule.who()));
        }
    }
    out
}

/// Why a request matched no route.
#[derive(Debug, PartialEq, Eq)]
pub enum NoRoute {
    NotFound,
    /// The path exists with these methods.
    MethodNotAllowed(Vec<Method>),
}

/// Finds the route of `method path`; returns its path parameters in order.
///
/// Precedence as ASP.NET routing (and so the Functions host) orders templates: segment by
/// segment, a literal wins over a `{parameter}`, which wins over a `{*catch_all}`. So
/// `/api/reports/latest` is never taken for `{date}`, and `/api/artifacts/failure_analysis/…`
/// never for `/api/artifacts/{*path}`.
pub fn resolve(method: &Method, path: &str) -> Result<(RouteId, Vec<String>), NoRoute> {
    let matching: Vec<(&Route, Vec<String>)> = ROUTES
        .iter()
        .filter_map(|r| match_path(r.path, path).map(|p| (r, p)))
        .collect();
    let best = matching.iter().map(|(r, _)| precedence(r.path)).min();
    let candidates: Vec<_> = matching
        .into_iter()
        .filter(|(r, _)| Some(precedence(r.path)) == best)
        .collect();
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

/// A pattern's rank, segment by segment: 0 literal, 1 parameter, 2 catch-all (lower wins).
fn precedence(pattern: &str) -> Vec<u8> {
    pattern
        .split('/')
        .map(|seg| match seg {
            s if s.starts_with("{*") => 2,
            s if s.starts_with('{') => 1,
            _ => 0,
        })
        .collect()
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
    fn every_write_is_admin_only_and_the_host_routes_are_the_hosts() {
        for r in ROUTES {
            let writes = r.methods.iter().any(|m| m != Method::GET);
            match r.id {
                // The host's own POSTs are not client writes.
                RouteId::DailyReportTimer | RouteId::DailyReportWorker => {
                    assert_eq!(r.rule, Rule::Host)
                }
                // Runs a read-only analysis (stores its artifacts).
                RouteId::FailureAnalysis => assert_eq!(r.rule, Rule::FailureReader),
                // A backfill job's progress: the admin's own jobs, across orgs.
                RouteId::JobStatus => assert_eq!(r.rule, Rule::Admin),
                _ if writes => assert_eq!(r.rule, Rule::Admin, "{}", r.path),
                _ => assert_ne!(r.rule, Rule::Admin, "{}", r.path),
            }
            assert_eq!(
                r.function.is_none()
                    || matches!(r.id, RouteId::DailyReportTimer | RouteId::DailyReportWorker),
                r.rule == Rule::Host,
                "{}",
                r.path
            );
        }
    }

    #[test]
    fn the_docs_show_the_access_table_as_the_route_table_has_it() {
        let docs = include_str!("../../docs/http-api.md");
        let start =
            "<!-- access table: generated from src/server/routes.rs (routes::access_table) -->\n";
        let shown = docs
            .split_once(start)
            .and_then(|(_, rest)| rest.split_once("<!-- end of access table -->"))
            .map(|(table, _)| table)
            .expect("docs/http-api.md has the access table between its markers");
        assert_eq!(
            shown,
            access_table(),
            "docs/http-api.md's access table differs from the route table; paste this:\n{}",
            access_table()
        );
    }

    #[test]
    fn rules_admit_callers_by_role() {
        use crate::http::caller::Roles;
        let reader = Caller::Principal(Roles {
            orgs: ["o".to_string()].into(),
            ..Roles::default()
        });
        let failures = Caller::Principal(Roles {
            failures: true,
            ..Roles::default()
        });
        let nobody = Caller::Principal(Roles::default());
        let admin = Caller::Principal(Roles {
            admin: true,
            ..Roles::default()
        });
        let status = |rule: Rule, c: &Caller| rule.admit(c).err().map(|e| e.status().as_u16());
        for c in [&admin, &Caller::LocalOperator] {
            for rule in [
                Rule::SignedIn,
                Rule::OrgReader,
                Rule::FailureReader,
                Rule::Admin,
            ] {
                assert_eq!(status(rule, c), None);
            }
        }
        assert_eq!(status(Rule::OrgReader, &reader), None);
        assert_eq!(status(Rule::Admin, &reader), Some(403));
        assert_eq!(status(Rule::FailureReader, &reader), Some(403));
        assert_eq!(status(Rule::FailureReader, &failures), None);
        assert_eq!(status(Rule::OrgReader, &failures), Some(403));
        assert_eq!(status(Rule::SignedIn, &nobody), None);
        assert_eq!(status(Rule::OrgReader, &nobody), Some(403));
    }

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
        assert_eq!(
            resolve(&Method::GET, "/api/reports/2025-12-15/revisions"),
            Ok((RouteId::ReportRevisions, vec!["2025-12-15".into()]))
        );
        // `/api/reports/calls` has no deeper path: `calls/revisions` is a (bad) date's
        // revisions, for the handler to refuse naming `date`.
        assert_eq!(
            resolve(&Method::GET, "/api/reports/calls/revisions"),
            Ok((RouteId::ReportRevisions, vec!["calls".into()]))
        );
        assert_eq!(
            resolve(&Method::POST, "/api/reports/2025-12-15/revisions"),
            Err(NoRoute::MethodNotAllowed(vec![Method::GET]))
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
            resolve(&Method::GET, "/api/artifacts/failure_analysis/w/a.html"),
            Ok((RouteId::FailureArtifact, vec!["w/a.html".into()]))
        );
        assert_eq!(
            resolve(&Method::POST, "/api/artifacts/failure_analysis/w/a.html"),
            Err(NoRoute::MethodNotAllowed(vec![Method::GET]))
        );
        assert_eq!(
            resolve(&Method::POST, "/api/orgs/o/notifications/n/test"),
            Ok((RouteId::NotificationTest, vec!["o".into(), "n".into()]))
        );
    }
}
