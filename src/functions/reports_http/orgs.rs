//! Organizations (`docs/http-api.md`, "Routes"): `GET|POST /api/orgs`,
//! `GET|PATCH /api/orgs/{org_id}`. Documents are replaced under their `ETag` (412 when it
//! changed; `If-Match` is required to change `notifications`); creating or changing one needs
//! `analytics.admin` when a principal is present.

use serde::Serialize;
use warp::http::{StatusCode, header};
use warp::reply::Response;

use super::errors::org_not_found;
use super::visible_orgs;
use crate::app::App;
use crate::http::error::ApiError;
use crate::http::request::{Request, parse_json_body};
use crate::http::response::{json_response, with_etag};
use crate::orgs::{self, NewOrganization, OrgError, OrgPatch, Organization};

/// `GET /api/orgs`.
#[derive(Debug, Serialize)]
pub struct OrgList {
    pub orgs: Vec<Organization>,
}

/// `GET /api/orgs`: the orgs the caller may see.
pub async fn list(app: &App, req: &Request) -> Result<Response, ApiError> {
    let orgs = visible_orgs(app, req).await?;
    Ok(json_response(StatusCode::OK, &OrgList { orgs }))
}

/// `GET /api/orgs/{org_id}`, with its `ETag`.
pub async fn get(app: &App, req: &Request) -> Result<Response, ApiError> {
    let id = orgs::parse_uuid(&req.params[0], "org_id")?;
    if !req.caller.sees(&id) {
        return Err(org_not_found(&id));
    }
    let (org, etag) = orgs::get(&app.storage, &id)
        .await?
        .ok_or_else(|| org_not_found(&id))?;
    Ok(with_etag(json_response(StatusCode::OK, &org), &etag))
}

/// `POST /api/orgs`: 201 with the new org, 409 when its id is taken.
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
pub async fn patch(app: &App, req: &Request) -> Result<Response, ApiError> {
    let id = orgs::parse_uuid(&req.params[0], "org_id")?;
    let patch: OrgPatch = parse_json_body(&req.body)?;
    let asked = req
        .headers
        .get(header::IF_MATCH)
        .map(|v| v.to_str().unwrap_or_default());
    if patch.notifications.is_some() && asked.is_none_or(|a| a.trim() == "*") {
        return Err(ApiError {
            field: Some("If-Match".into()),
            ..ApiError::new(
                StatusCode::PRECONDITION_REQUIRED,
                "precondition_required",
                "changing notifications needs If-Match with the ETag of GET /api/orgs/{org_id}, \
                 so that a channel changed meanwhile is not lost",
            )
        });
    }
    let (org, current) = orgs::get(&app.storage, &id)
        .await?
        .ok_or_else(|| org_not_found(&id))?;
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
