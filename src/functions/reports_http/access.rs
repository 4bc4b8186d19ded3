//! Org isolation by App Service Authentication (`docs/http-api.md`, "Access";
//! `docs/delivery-and-access.md`, "Sign-in"). In Azure, App Service Authentication (Entra ID) signs
//! every caller in and injects a principal (`X-MS-CLIENT-PRINCIPAL`: base64 JSON with `claims`
//! `[{"typ", "val"}]`); the caller sees only the orgs its roles name:
//!
//! * role `org:<org_id>` — that org;
//! * role `analytics.admin` — every org, and may create and change orgs.
//!
//! Without the header every org is visible, unless `REQUIRE_PRINCIPAL=true`: then a request
//! without a valid principal is a 401 ([`require_principal`]). The header is trusted only
//! because the platform sets it: with `REQUIRE_PRINCIPAL=true` in App Service the handler
//! refuses to start unless App Service Authentication is on
//! ([`crate::configuration::Settings::require_principal`]).

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

/// With `REQUIRE_PRINCIPAL=true`: a 401 unless the request carries a principal that decodes.
pub fn require_principal(headers: &warp::http::HeaderMap) -> Result<(), ApiError> {
    let valid = headers
        .get(HEADER)
        .and_then(|v| {
            base64::engine::general_purpose::STANDARD
                .decode(v.as_bytes())
                .ok()
        })
        .is_some_and(|bytes| serde_json::from_slice::<Principal>(&bytes).is_ok());
    if valid {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "sign in first: this request carries no valid X-MS-CLIENT-PRINCIPAL \
             (App Service Authentication)",
        ))
    }
}

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
                format!("changing organizations or notifications needs the {ADMIN_ROLE} role"),
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
    fn a_required_principal_must_be_present_and_decode() {
        assert_eq!(
            require_principal(&req(None).headers).unwrap_err().status,
            StatusCode::UNAUTHORIZED
        );
        let mut r = req(None);
        r.headers
            .insert(HEADER, HeaderValue::from_static("bm90IGpzb24="));
        assert_eq!(
            require_principal(&r.headers).unwrap_err().status,
            StatusCode::UNAUTHORIZED
        );
        require_principal(&req(Some(r#"{"claims":[]}"#)).headers).unwrap();
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
