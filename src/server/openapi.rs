//! The OpenAPI document as served at `GET /api/openapi.json`: the functions' operations
//! (`functions::reports_http::openapi::operations`, each handler's own statuses) and, from
//! the route table, what the server answers before a handler runs: 401 and 403 from the
//! route's [`Rule`], 413 and 415 for a route that takes a body. A status the server adds is
//! written once here, not in every handler.

use std::sync::LazyLock;

use utoipa::openapi::path::Operation;
use utoipa::openapi::{OpenApi, Ref};
use warp::http::Method;

use super::routes::{ROUTES, Rule};
use crate::functions::reports_http::openapi::operations;

/// The document, built once.
pub fn document() -> &'static OpenApi {
    static DOCUMENT: LazyLock<OpenApi> = LazyLock::new(|| {
        let mut doc = operations();
        add_server_statuses(&mut doc);
        doc
    });
    &DOCUMENT
}

/// The responses the server may answer on `method` of a route under `rule`, by status and
/// the name of the shared response (`functions::reports_http::openapi`).
fn server_statuses(rule: Rule, method: &Method) -> Vec<(&'static str, &'static str)> {
    let mut statuses = Vec::new();
    if rule != Rule::Host {
        statuses.push(("401", "Unauthorized"));
    }
    if matches!(rule, Rule::OrgReader | Rule::FailureReader | Rule::Admin) {
        statuses.push(("403", "Forbidden"));
    }
    if method == Method::POST || method == Method::PATCH {
        statuses.push(("413", "PayloadTooLarge"));
        statuses.push(("415", "UnsupportedMediaType"));
    }
    statuses
}

/// Adds [`server_statuses`] to the operation of every route a client can reach. A route the
/// document does not describe is left to the test that compares the two.
fn add_server_statuses(doc: &mut OpenApi) {
    for route in ROUTES.iter().filter(|r| r.rule != Rule::Host) {
        let Some(item) = doc.paths.paths.get_mut(route.path) else {
            continue;
        };
        for method in route.methods {
            let Some(operation) = operation_mut(item, method) else {
                continue;
            };
            for (status, name) in server_statuses(route.rule, method) {
                operation
                    .responses
                    .responses
                    .insert(status.into(), Ref::from_response_name(name).into());
            }
        }
    }
}

fn operation_mut<'a>(
    item: &'a mut utoipa::openapi::PathItem,
    method: &Method,
) -> Option<&'a mut Operation> {
    match *method {
        Method::GET => item.get.as_mut(),
        Method::POST => item.post.as_mut(),
        Method::PATCH => item.patch.as_mut(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every route a client reaches answers 401 without a principal, and 403 when its rule
    /// needs a role; a body route also 413 and 415 (before: each handler listed these itself,
    /// and a new one could forget them).
    #[test]
    fn every_operation_carries_the_statuses_of_its_rule() {
        let doc = document();
        let openapi_json = &doc.paths.paths["/api/openapi.json"];
        let statuses = |op: &Operation| op.responses.responses.keys().cloned().collect::<Vec<_>>();
        assert_eq!(statuses(openapi_json.get.as_ref().unwrap()), ["200", "401"]);
        let patch = doc.paths.paths["/api/orgs/{org_id}"]
            .patch
            .as_ref()
            .unwrap();
        for s in ["401", "403", "413", "415"] {
            assert!(statuses(patch).iter().any(|k| k == s), "{s}");
        }
        let artifact = &doc.paths.paths["/api/artifacts/{*path}"];
        assert!(
            statuses(artifact.get.as_ref().unwrap())
                .iter()
                .any(|k| k == "403")
        );
    }
}
