//! Org isolation by App Service Authentication (`../spec/http-api.md`, "Access"; seed 004's
//! tenant isolation). Function keys guard every route; on top of that, where the platform's
//! authentication injects a principal (`X-MS-CLIENT-PRINCIPAL`: base64 JSON with `claims`
//! `[{"typ", "val"}]`), the caller sees only the orgs its roles name:
//!
//! * role `org:<org_id>` — that org;
//! * role `analytics.admin` — every org, and may create and change orgs.
//!
//! Without the header every org is visible (the function key is the only guard). A forged
//! header can only narrow what a key holder sees, never widen it: without it, all is visible.

use std::collections::BTreeSet;

use base64::Engine as _;
use serde::Deserialize;
use warp::http::StatusCode;

use crate::http::error::ApiError;
use crate::http::request::Request;

/// The admin role.
pub const ADMIN_ROLE: &str = "analytics.admin";

/// What a caller may see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Access {
    /// No principal, or an admin.
    All,
    /// Only these org ids (lower-case).
    Orgs(BTreeSet<String>),
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

const HEADER: &str = "x-ms-client-principal";

impl Access {
    /// Reads the principal header; a malformed one is a 400 naming the header.
    pub fn of(req: &Request) -> Result<Self, ApiError> {
        let Some(value) = req.headers.get(HEADER) else {
            return Ok(Access::All);
        };
        let bad = || {
            ApiError::invalid(
                "X-MS-CLIENT-PRINCIPAL",
                "the client principal header is not base64 JSON",
            )
        };
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(value.as_bytes())
            .map_err(|_| bad())?;
        let principal: Principal = serde_json::from_slice(&bytes).map_err(|_| bad())?;
        let role_typ = principal.role_typ.unwrap_or_else(|| "roles".into());
        let roles = principal
            .claims
            .into_iter()
            .filter(|c| c.typ == role_typ || c.typ == "roles")
            .map(|c| c.val);
        let mut orgs = BTreeSet::new();
        for role in roles {
            if role == ADMIN_ROLE {
                return Ok(Access::All);
            }
            if let Some(id) = role.strip_prefix("org:") {
                orgs.insert(id.trim().to_ascii_lowercase());
            }
        }
        Ok(Access::Orgs(orgs))
    }

    /// Whether `org_id` is visible.
    pub fn sees(&self, org_id: &str) -> bool {
        match self {
            Access::All => true,
            Access::Orgs(ids) => ids.contains(org_id),
        }
    }

    /// 403 unless the caller may create and change orgs.
    pub fn require_admin(&self) -> Result<(), ApiError> {
        match self {
            Access::All => Ok(()),
            Access::Orgs(_) => Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                format!("changing organizations needs the {ADMIN_ROLE} role"),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use warp::http::{HeaderMap, HeaderValue, Method};

    fn req(principal: Option<&str>) -> Request {
        let mut headers = HeaderMap::new();
        if let Some(p) = principal {
            let encoded = base64::engine::general_purpose::STANDARD.encode(p);
            headers.insert(HEADER, HeaderValue::from_str(&encoded).unwrap());
        }
        Request {
            method: Method::GET,
            path: "/api/orgs".into(),
            params: vec![],
            query: vec![],
            headers,
            body: Default::default(),
        }
    }

    #[test]
    fn roles_name_the_visible_orgs() {
        assert_eq!(Access::of(&req(None)).unwrap(), Access::All);
        let p = r#"{"auth_typ":"aad","claims":[{"typ":"roles","val":"org:01951F56-8C6E-7A93-A971-3D06A81A1AB0"},{"typ":"name","val":"x"}],"role_typ":"roles"}"#;
        let a = Access::of(&req(Some(p))).unwrap();
        assert!(a.sees("01951f56-8c6e-7a93-a971-3d06a81a1ab0"));
        assert!(!a.sees("01953c2a-41d7-7b8e-b0c4-52e9a7f3d610"));
        assert_eq!(a.require_admin().unwrap_err().status, StatusCode::FORBIDDEN);
        let admin = r#"{"claims":[{"typ":"roles","val":"analytics.admin"}]}"#;
        assert_eq!(Access::of(&req(Some(admin))).unwrap(), Access::All);
        let nobody = r#"{"claims":[]}"#;
        assert!(!Access::of(&req(Some(nobody))).unwrap().sees("anything"));
    }

    #[test]
    fn a_malformed_principal_is_a_400_naming_the_header() {
        let mut r = req(None);
        r.headers.insert(HEADER, HeaderValue::from_static("%%%"));
        assert_eq!(
            Access::of(&r).unwrap_err().field.as_deref(),
            Some("X-MS-CLIENT-PRINCIPAL")
        );
    }
}
