//! Who is calling (`docs/access-and-safety.md`, "Who may do what"). In Azure, App Service
//! Authentication (Entra ID) signs every caller in and forwards the principal in
//! `X-MS-CLIENT-PRINCIPAL`: base64 of JSON `{"claims": [{"typ", "val"}], "role_typ"}`. Its
//! app roles say what the caller may do:
//!
//! | role | kind of caller |
//! |---|---|
//! | [`ADMIN_ROLE`] (`analytics.admin`) | admin: everything, every org |
//! | `org:<org_id>` (one or more) | org reader: those orgs' reports, nothing else |
//! | [`FAILURES_ROLE`] (`analytics.failures`) | failure-analysis reader |
//!
//! The header is trusted only because the platform sets it (and strips it from what clients
//! send): `crate::configuration::Settings::require_principal` makes sure that App Service
//! Authentication is on wherever a principal is required. Which [`Caller`] may call which
//! route is the route table's business (`crate::server::routes`), not a handler's.

use std::collections::BTreeSet;

use base64::Engine as _;
use serde::Deserialize;
use warp::http::HeaderMap;

use super::error::{ApiError, ErrorCode};

/// The admin role: every route, every org.
pub const ADMIN_ROLE: &str = "analytics.admin";

/// The failure-analysis reader's role: `POST /api/failure_analysis` and its artifacts.
pub const FAILURES_ROLE: &str = "analytics.failures";

/// The prefix of an org reader's role: `org:<org_id>`.
pub const ORG_ROLE_PREFIX: &str = "org:";

/// The header App Service Authentication forwards.
pub const PRINCIPAL_HEADER: &str = "x-ms-client-principal";

/// The caller of one request, decided once by the server before any handler runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// The Functions host itself (readiness probe, timer invocations): these routes are not
    /// reachable through the front end, so no principal is asked for.
    Host,
    /// No principal where none is required (outside App Service: the demo, a developer's
    /// machine, tests): the local operator, who acts as admin.
    LocalOperator,
    /// A signed-in principal and its roles.
    Principal(Roles),
}

/// What a principal's app roles grant.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Roles {
    /// [`ADMIN_ROLE`].
    pub admin: bool,
    /// [`FAILURES_ROLE`].
    pub failures: bool,
    /// The org ids of its `org:<org_id>` roles, lower-case.
    pub orgs: BTreeSet<String>,
}

#[derive(Deserialize)]
struct Principal {
    #[serde(default)]
    claims: Vec<Claim>,
    #[serde(default)]
    role_typ: Option<String>,
}

#[derive(Deserialize)]
struct Claim {
    typ: String,
    val: String,
}

/// 401 `unauthenticated`.
fn unauthenticated(why: &str) -> ApiError {
    ApiError::new(
        ErrorCode::Unauthenticated,
        format!("sign in first: {why} (App Service Authentication)"),
    )
}

impl Caller {
    /// The caller of a request with `headers`: its principal when the header is present;
    /// without one, [`Caller::LocalOperator`] unless `require_principal`.
    ///
    /// Errors: 401 `unauthenticated` when the header is missing and required, or present but
    /// not base64 JSON (never a principal the platform would send).
    pub fn from_headers(headers: &HeaderMap, require_principal: bool) -> Result<Self, ApiError> {
        let Some(value) = headers.get(PRINCIPAL_HEADER) else {
            return if require_principal {
                Err(unauthenticated(
                    "this request carries no X-MS-CLIENT-PRINCIPAL",
                ))
            } else {
                Ok(Caller::LocalOperator)
            };
        };
        let principal: Principal = base64::engine::general_purpose::STANDARD
            .decode(value.as_bytes())
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .ok_or_else(|| unauthenticated("X-MS-CLIENT-PRINCIPAL is not base64 JSON"))?;
        let role_typ = principal.role_typ.unwrap_or_else(|| "roles".into());
        let mut roles = Roles::default();
        for claim in principal.claims {
            if claim.typ != role_typ && claim.typ != "roles" {
                continue;
            }
            let role = claim.val.trim();
            if role == ADMIN_ROLE {
                roles.admin = true;
            } else if role == FAILURES_ROLE {
                roles.failures = true;
            } else if let Some(id) = role.strip_prefix(ORG_ROLE_PREFIX) {
                roles.orgs.insert(id.trim().to_ascii_lowercase());
            }
        }
        Ok(Caller::Principal(roles))
    }

    /// An admin, or the local operator.
    pub fn is_admin(&self) -> bool {
        match self {
            Caller::LocalOperator => true,
            Caller::Principal(r) => r.admin,
            Caller::Host => false,
        }
    }

    /// May run the failure analysis and open its artifacts: an admin or [`FAILURES_ROLE`].
    pub fn reads_failures(&self) -> bool {
        self.is_admin() || matches!(self, Caller::Principal(r) if r.failures)
    }

    /// Reads some org's reports: an admin or a holder of at least one `org:<id>` role.
    pub fn reads_orgs(&self) -> bool {
        self.is_admin() || matches!(self, Caller::Principal(r) if !r.orgs.is_empty())
    }

    /// Whether `org_id` (lower-case) is visible to the caller.
    pub fn sees(&self, org_id: &str) -> bool {
        self.is_admin() || matches!(self, Caller::Principal(r) if r.orgs.contains(org_id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use warp::http::{HeaderValue, StatusCode};

    fn headers(principal: Option<&str>) -> HeaderMap {
        let mut headers = HeaderMap::new();
        if let Some(p) = principal {
            let encoded = base64::engine::general_purpose::STANDARD.encode(p);
            headers.insert(PRINCIPAL_HEADER, HeaderValue::from_str(&encoded).unwrap());
        }
        headers
    }

    fn caller(principal: &str) -> Caller {
        Caller::from_headers(&headers(Some(principal)), true).unwrap()
    }

    #[test]
    fn roles_name_what_a_principal_may_do() {
        let reader = caller(
            r#"{"auth_typ":"aad","claims":[{"typ":"roles","val":"org:01951F56-8C6E-7A93-A971-3D06A81A1AB0"},{"typ":"name","val":"analytics.admin"}],"role_typ":"roles"}"#,
        );
        assert!(reader.sees("01951f56-8c6e-7a93-a971-3d06a81a1ab0"));
        assert!(!reader.sees("01953c2a-41d7-7b8e-b0c4-52e9a7f3d610"));
        // A claim that is not a role (here `name`) grants nothing.
        assert!(!reader.is_admin() && !reader.reads_failures() && reader.reads_orgs());
        let admin = caller(r#"{"claims":[{"typ":"roles","val":"analytics.admin"}]}"#);
        assert!(admin.is_admin() && admin.reads_failures() && admin.sees("anything"));
        let failures = caller(r#"{"claims":[{"typ":"roles","val":"analytics.failures"}]}"#);
        assert!(failures.reads_failures() && !failures.reads_orgs() && !failures.is_admin());
        let nobody = caller(r#"{"claims":[]}"#);
        assert!(!nobody.reads_orgs() && !nobody.reads_failures() && !nobody.sees("x"));
        // A custom role claim type (`role_typ`) is honoured.
        let custom = caller(
            r#"{"claims":[{"typ":"http://schemas.microsoft.com/ws/2008/06/identity/claims/role","val":"analytics.admin"}],"role_typ":"http://schemas.microsoft.com/ws/2008/06/identity/claims/role"}"#,
        );
        assert!(custom.is_admin());
    }

    #[test]
    fn without_a_principal_the_setting_decides() {
        assert_eq!(
            Caller::from_headers(&headers(None), false).unwrap(),
            Caller::LocalOperator
        );
        assert!(Caller::LocalOperator.is_admin());
        let e = Caller::from_headers(&headers(None), true).unwrap_err();
        assert_eq!(e.status(), StatusCode::UNAUTHORIZED);
    }

    #[test]
    fn a_malformed_principal_is_never_trusted() {
        for require in [true, false] {
            let mut h = HeaderMap::new();
            h.insert(PRINCIPAL_HEADER, HeaderValue::from_static("%%%"));
            let e = Caller::from_headers(&h, require).unwrap_err();
            assert_eq!(e.status(), StatusCode::UNAUTHORIZED);
            let e = Caller::from_headers(&headers(Some("not json")), require).unwrap_err();
            assert_eq!(e.status(), StatusCode::UNAUTHORIZED);
        }
    }
}
