//! The revisions of a date's report (`docs/revisions.md`, "Re-checking recent days"): a report
//! is replaced by a newer revision when the data it counted changed (or by a forced
//! generation), and every replaced revision is kept.
//!
//! * `GET /api/reports/{date}/revisions?org_id=` ([`list`]): every revision, newest first, from
//!   one listing (`snapshots::revisions`; the current report and the kept ones share a prefix),
//!   each with its headline KPIs from blob metadata: no report blob is read.
//! * `GET /api/reports/{date}?org_id=&revision=N` (`stored::by_date`): revision `N`
//!   ([`revision_param`], [`stored_revision`]), one blob read.

use chrono::NaiveDate;
use serde::Serialize;
use warp::http::StatusCode;
use warp::reply::Response;

use super::openapi::{BadRequest, NotFound, OrgIdQuery, Unavailable};
use super::resolve_org;
use crate::app::App;
use crate::daily_report::snapshots::{self, RevisionEntry};
use crate::http::error::{ApiError, ErrorCode};
use crate::http::request::Request;
use crate::http::response::{json_response, with_etag};
use crate::orgs::{OrgId, Organization};
use crate::time::parse_date;

/// The reply of `GET /api/reports/{date}/revisions`: `{"org_id", "date", "revisions": [{"revision",
/// "generated_at", "fingerprint", "summary", "current"}, …]}`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = ReportRevisions)]
pub struct RevisionList {
    pub org_id: OrgId,
    /// The report's local date.
    pub date: NaiveDate,
    /// Newest first (by `revision`); exactly one is `current`: the one
    /// `GET /api/reports/{date}` serves. `summary` is each revision's headline KPIs;
    /// `fingerprint` what it counted (null for a report stored before provenance).
    #[schema(min_items = 1)]
    pub revisions: Vec<RevisionEntry>,
}

/// `GET /api/reports/{date}/revisions?org_id=`: 200 with [`RevisionList`]; 404 when the org
/// is unknown (or not the caller's) or the date has no report; 400 naming `date` (or
/// `org_id`). One listing, no report blob read.
#[utoipa::path(
    get,
    path = "/api/reports/{date}/revisions",
    operation_id = "reportRevisions",
    tag = "reports",
    summary = "Every revision of a date's report, newest first",
    description = "A report is replaced by a new revision when the data it counted changed \
        (re-checked for the last `RESTATE_DAYS` days) or by a forced generation; the replaced \
        revision is kept and stays readable with `GET /api/reports/{date}?revision=N`. Read \
        from one listing: each revision's headline KPIs come from its blob metadata.",
    params(
        ("date" = NaiveDate, Path, example = "2025-12-15"),
        OrgIdQuery,
    ),
    responses(
        (status = 200, description = "OK", body = RevisionList),
        (status = 400, response = BadRequest),
        (status = 404, response = NotFound),
        (status = 503, response = Unavailable),
    )
)]
pub async fn list(app: &App, req: &Request) -> Result<Response, ApiError> {
    let date = parse_date(&req.params[0], "date")?;
    let org = resolve_org(app, req, req.query_param("org_id")).await?;
    let revisions = snapshots::revisions(&app.storage, &org.org_id, date).await?;
    if !revisions.iter().any(|r| r.current) {
        return Err(ApiError::report_not_found(org.org_id.as_str(), Some(date)));
    }
    let reply = RevisionList {
        org_id: org.org_id,
        date,
        revisions,
    };
    Ok(json_response(StatusCode::OK, &reply))
}

/// The optional `revision` query parameter of `GET /api/reports/{date}`: a whole number, 1 or
/// more; anything else is a 400 naming `revision`.
pub fn revision_param(req: &Request) -> Result<Option<u32>, ApiError> {
    req.query_param("revision")
        .map(|v| {
            v.parse::<u32>().ok().filter(|n| *n >= 1).ok_or_else(|| {
                ApiError::invalid(
                    "revision",
                    format!("revision {v:?} must be a whole number, 1 or more"),
                )
            })
        })
        .transpose()
}

/// Revision `revision` of `org`'s report of `date` as stored (with its blob's `ETag`): the
/// current report when that is its revision, else the kept one. 404 `report_not_found` when
/// there is no such revision (or no report); 500 for a stored document that does not parse.
pub async fn stored_revision(
    app: &App,
    org: &Organization,
    date: NaiveDate,
    revision: u32,
) -> Result<Response, ApiError> {
    let Some(stored) = snapshots::read_revision(&app.storage, &org.org_id, date, revision).await?
    else {
        return Err(ApiError::new(
            ErrorCode::ReportNotFound,
            format!(
                "no revision {revision} of the report for {} on {date}",
                org.org_id
            ),
        ));
    };
    Ok(with_etag(
        json_response(StatusCode::OK, &stored.report),
        &stored.etag,
    ))
}
