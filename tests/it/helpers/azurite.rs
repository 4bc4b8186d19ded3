//! Azurite: the blob service the test scripts started (`AZURITE_CONNECTION_STRING`), one
//! fresh container per test.

use call_analytics::configuration::{Secret, StorageSettings};
use call_analytics::storage::{Put, Storage};

use super::{required_env, unique};

/// The Azurite connection string exported by the test scripts.
pub fn azurite() -> String {
    required_env("AZURITE_CONNECTION_STRING")
}

/// Storage settings for `container` with `connection_string`.
pub fn container_settings(connection_string: String, container: &str) -> StorageSettings {
    StorageSettings::ConnectionString {
        connection_string: Secret::new(connection_string),
        container: container.to_string(),
    }
}

/// A new, unique container name, `t-<uuid>` (the container does not exist yet).
pub fn fresh_container_name() -> String {
    unique("t-")
}

/// Storage settings for a new, unique Azurite container.
pub fn fresh_container() -> StorageSettings {
    container_settings(azurite(), &fresh_container_name())
}

/// A store on a new, unique Azurite container, and the container's name.
pub async fn fresh_store() -> (Storage, String) {
    let container = fresh_container_name();
    let store = Storage::connect(&container_settings(azurite(), &container))
        .await
        .expect("connect to Azurite");
    (store, container)
}

/// Writes `body` to the blob `name` as `application/json`, whatever is there.
pub async fn put_json(storage: &Storage, name: &str, body: impl Into<bytes::Bytes>) {
    storage
        .put(name, body.into(), &Put::new("application/json"))
        .await
        .unwrap_or_else(|e| panic!("put {name}: {e}"));
}
