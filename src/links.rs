//! The links the product hands out (`docs/delivery-and-access.md`, "Links that open"): every
//! stored artifact opens with a plain GET on `GET /api/artifacts/{*path}`.

use crate::configuration::Settings;

/// The path prefix of the artifacts route.
pub const ARTIFACTS_ROUTE: &str = "/api/artifacts/";

/// The link to the stored object `name`: absolute under `PUBLIC_BASE_URL` when it is set,
/// else relative (`/api/artifacts/…`). Segments are percent-encoded (a space as `%20`).
pub fn artifact(settings: &Settings, name: &str) -> String {
    let encoded: Vec<String> = name
        .split('/')
        .map(|s| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>())
        .map(|s| s.replace('+', "%20"))
        .collect();
    format!(
        "{}{ARTIFACTS_ROUTE}{}",
        settings.public_base_url.as_deref().unwrap_or(""),
        encoded.join("/")
    )
}
