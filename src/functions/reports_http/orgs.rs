//! Organizations (`docs/http-api.md`, "Routes"): `GET|POST /api/orgs`,
//! `GET|PATCH /api/orgs/{org_id}`. Documents are replaced under their `ETag` (412 when it
//! changed; `If-Match` is required to change `notifications`); creating or changing one needs
//! `analytics.admin` when a principal is present.

use serde::Serialize;
use utoipa::ToSchema;
use warp::http::{StatusCode, header};
use warp::reply::Response;

use super::openapi::{
    BadRequest, Conflict, NotFound, OrgIdPath, PreconditionFailed, PreconditionRequired,
    Unavailable,
};
use super::visible_orgs;
use crate::app::App;
use crate::http::error::{ApiError, ErrorCode};
use crate::http::request::{Request, parse_json_body};
use crate::http::response::{json_response, with_etag};
use crate::orgs::{self, NewOrganization, OrgError, OrgId, OrgPatch, Organization};

/// `GET /api/orgs`.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrgList {
    /// By `org_id`.
    pub orgs: Vec<Organization>,
}

/// `GET /api/orgs`: the orgs the caller may see.
#[utoipa::path(
    get,
    path = "/api/orgs",
    operation_id = "listOrgs",
    tag = "orgs",
    summary = "Every organization the caller reads",
    responses(
        (status = 200, description = "OK", body = OrgList),
        (status = 400, response = BadRequest),
        (status = 503, response = Unavailable),
    )
)]
pub async fn list(app: &App, req: &Request) -> Result<Response, ApiError> {
    let orgs = visible_orgs(app, req).await?;
    Ok(json_response(StatusCode::OK, &OrgList { orgs }))
}

/// `GET /api/orgs/{org_id}`, with its `ETag`.
#[utoipa::path(
    get,
    path = "/api/orgs/{org_id}",
    operation_id = "getOrg",
    tag = "orgs",
    summary = "One organization",
    params(OrgIdPath),
    responses(
        (status = 200, description = "OK", body = Organization,
            headers(("ETag" = String, description = "The version, for `If-Match`."))),
        (status = 400, response = BadRequest),
        (status = 404, response = NotFound),
        (status = 503, response = Unavailable),
    )
)]
pub async fn get(app: &App, req: &Request) -> Result<Response, ApiError> {
    let id = OrgId::parse(&req.params[0], "org_id")?;
    if !req.caller.sees(id.as_str()) {
        return Err(ApiError::org_not_found(id.as_str()));
    }
    let (org, etag) = orgs::get(&app.storage, &id)
        .await?
        .ok_or_else(|| ApiError::org_not_found(id.as_str()))?;
    Ok(with_etag(json_response(StatusCode::OK, &org), &etag))
}

/// `POST /api/orgs`: 201 with the new org, 409 when its id is taken.
#[utoipa::path(
    post,
    path = "/api/orgs",
    operation_id = "createOrg",
    tag = "orgs",
    summary = "Create an organization",
    request_body = NewOrganization,
    responses(
        (status = 201, description = "Created.", body = Organization,
            headers(("ETag" = String, description = "The version, for `If-Match`."))),
        (status = 400, response = BadRequest),
        (status = 409, response = Conflict),
        (status = 503, response = Unavailable),
    )
)]
pub async fn create(app: &App, req: &Request) -> Result<Response, ApiError> {
    let new: NewOrganization = parse_json_body(&req.body)?;
    let org = new
        .validate_with(app.clock.now(), app.settings.allow_insecure_webhooks)
        .await?;
    let etag = orgs::create(&app.storage, &org).await?;
    Ok(with_etag(json_response(StatusCode::CREATED, &org), &etag))
}

/// `PATCH /api/orgs/{org_id}`: with `If-Match`, only over that version (412 otherwise);
/// without, over the version just read. A patch of `notifications` needs `If-Match` with the
/// `ETag` of a GET (not `*`): 428 `precondition_required` otherwise, so that two admins
/// cannot silently overwrite each other's channels (`docs/access-and-safety.md`, "Masked
/// values sent back").
#[utoipa::path(
    patch,
    path = "/api/orgs/{org_id}",
    operation_id = "patchOrg",
    tag = "orgs",
    summary = "Change an organization",
    description = "With `If-Match`, only over that version (412 otherwise); without, over the \
        current one. Changing `notifications` needs `If-Match` with the `ETag` of a GET (not \
        `*`): 428 otherwise, so that two admins cannot silently overwrite each other's \
        channels. The channels GET shows (masked `url`, `has_secret`) may be sent back as they \
        are: each keeps its stored url and secret (matched by `id`).",
    params(
        OrgIdPath,
        ("If-Match" = Option<String>, Header, nullable = false, description = "The `ETag` of the version read, \
            or `*` (any version; not enough to change `notifications`). Required to change \
            `notifications`."),
    ),
    request_body = OrgPatch,
    responses(
        (status = 200, description = "OK", body = Organization,
            headers(("ETag" = String, description = "The version, for `If-Match`."))),
        (status = 400, response = BadRequest),
        (status = 404, response = NotFound),
        (status = 412, response = PreconditionFailed),
        (status = 428, response = PreconditionRequired),
        (status = 503, response = Unavailable),
    )
)]
pub async fn patch(app: &App, req: &Request) -> Result<Response, ApiError> {
    let id = OrgId::parse(&req.params[0], "org_id")?;
    let patch: OrgPatch = parse_json_body(&req.body)?;
    let asked = req
        .headers
        .get(header::IF_MATCH)
        .map(|v| v.to_str().unwrap_or_default());
    if patch.notifications.is_some() && asked.is_none_or(|a| a.trim() == "*") {
        return Err(ApiError {
            field: Some("If-Match".into()),
            ..ApiError::new(
                ErrorCode::PreconditionRequired,
                "changing notifications needs If-Match with the ETag of GET /api/orgs/{org_id}, \
                 so that a channel changed meanwhile is not lost",
            )
        });
    }
    let (org, current) = orgs::get(&app.storage, &id)
        .await?
        .ok_or_else(|| ApiError::org_not_found(id.as_str()))?;
    let etag = match asked {
        Some(asked) if asked != current && asked != "*" => {
            return Err(OrgError::Stale(id).into());
        }
        _ => current,
    };
    let org = patch
        .apply_with(org, app.clock.now(), app.settings.allow_insecure_webhooks)
        .await?;
    let etag = orgs::replace(&app.storage, &org, &etag).await?;
    Ok(with_etag(json_response(StatusCode::OK, &org), &etag))
}
