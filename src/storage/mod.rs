//! Where artifacts, reports and organization documents are kept: a local folder or an Azure
//! Blob Storage container, behind one small interface.
//!
//! Names are `/`-separated paths (`failure_analysis/…/user_failure_stats_….csv`). Writes are
//! all-or-nothing (a reader never sees a torn object) and may be conditional, which is how
//! "create once" and "overwrite only what I read" (ETags) are expressed for both backends.

pub(crate) mod azure_blob;
mod local;
mod shared_key;

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::Bytes;

pub use azure_blob::BlobStore;
pub use local::LocalStore;

use crate::configuration::StorageSettings;

/// The default of `AZURE_STORAGE_CONNECT_TIMEOUT`.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Precondition of a write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition {
    /// Write unconditionally (create or replace).
    Always,
    /// Create only: fails with [`StorageError::AlreadyExists`] when the name exists
    /// (`If-None-Match: *`).
    IfNotExists,
    /// Replace only the version with this ETag: fails with [`StorageError::ConditionFailed`]
    /// otherwise, and with [`StorageError::NotFound`] when the name is absent (`If-Match`).
    IfMatch(String),
}

/// One write.
#[derive(Debug, Clone)]
pub struct Put {
    pub content_type: &'static str,
    /// Small string metadata kept with the object (blob metadata); keys are lower-case
    /// ASCII identifiers (`[a-z0-9_]`), values ASCII.
    pub metadata: BTreeMap<String, String>,
    pub condition: Condition,
    /// A copy the product can recompute (a cache), whose loss or damage in a crash is
    /// detected and repaired by its reader: the local folder then skips `fsync` (it still
    /// renames into place, so a reader never sees a torn object). Blob writes ignore it.
    pub recomputable: bool,
}

impl Put {
    /// An unconditional, durable write of `content_type` with no metadata.
    pub fn new(content_type: &'static str) -> Self {
        Self {
            content_type,
            metadata: BTreeMap::new(),
            condition: Condition::Always,
            recomputable: false,
        }
    }
}

/// A written object.
#[derive(Debug, Clone)]
pub struct Stored {
    /// Where a person finds it: the blob URL (no SAS, no key) or the file path.
    pub location: String,
    pub etag: String,
}

/// An object read back.
#[derive(Debug, Clone)]
pub struct Object {
    pub body: Bytes,
    pub etag: String,
    pub content_type: Option<String>,
    /// The metadata written with it ([`Put::metadata`]).
    pub metadata: BTreeMap<String, String>,
}

/// One listing entry (no body read).
#[derive(Debug, Clone)]
pub struct Entry {
    pub name: String,
    pub etag: String,
    pub size: u64,
    pub metadata: BTreeMap<String, String>,
}

/// One page of a listing, names in lexicographic order.
#[derive(Debug, Clone, Default)]
pub struct Page {
    pub entries: Vec<Entry>,
    /// Pass back as `continuation` to get the next page; `None` on the last page.
    pub next: Option<String>,
}

/// What can go wrong, in terms a caller can act on. Messages never carry keys or SAS tokens.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("{0} already exists")]
    AlreadyExists(String),
    #[error("{0} changed since it was read (ETag mismatch)")]
    ConditionFailed(String),
    #[error("{0} not found")]
    NotFound(String),
    #[error("storage refused the credentials: {0}")]
    Unauthorized(String),
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    #[error("storage misconfigured: {0}")]
    Config(String),
}

/// The configured backend.
#[derive(Debug, Clone)]
pub enum Storage {
    Local(LocalStore),
    Blob(BlobStore),
}

impl Storage {
    /// Opens the backend the settings name; for Blob Storage, creates the container if missing.
    /// Blob requests get [`DEFAULT_CONNECT_TIMEOUT`] to start answering.
    pub async fn connect(settings: &StorageSettings) -> Result<Self, StorageError> {
        Self::connect_with_timeout(settings, DEFAULT_CONNECT_TIMEOUT).await
    }

    /// [`Storage::connect`] with the time one Blob Storage request may take to connect and
    /// start answering (`AZURE_STORAGE_CONNECT_TIMEOUT`); past it the call fails as
    /// [`StorageError::Unavailable`], without a retry.
    pub async fn connect_with_timeout(
        settings: &StorageSettings,
        connect_timeout: Duration,
    ) -> Result<Self, StorageError> {
        Ok(match settings {
            StorageSettings::Local { dir } => Storage::Local(LocalStore::open(dir).await?),
            other => Storage::Blob(BlobStore::connect(other, connect_timeout).await?),
        })
    }

    /// A one-line description for logs (no secrets): `local folder ./output` or
    /// `blob container X at https://acct.blob.core.windows.net`.
    pub fn describe(&self) -> String {
        match self {
            Storage::Local(s) => s.describe(),
            Storage::Blob(s) => s.describe(),
        }
    }

    pub async fn put(&self, name: &str, body: Bytes, put: &Put) -> Result<Stored, StorageError> {
        match self {
            Storage::Local(s) => s.put(name, body, put).await,
            Storage::Blob(s) => s.put(name, body, put).await,
        }
    }

    /// Where `name` is (or would be) found: as [`Stored::location`] names it.
    pub fn location(&self, name: &str) -> String {
        match self {
            Storage::Local(s) => s.location(name),
            Storage::Blob(s) => s.location(name),
        }
    }

    /// Deletes an object; deleting an absent one is not an error.
    pub async fn delete(&self, name: &str) -> Result<(), StorageError> {
        match self {
            Storage::Local(s) => s.delete(name).await,
            Storage::Blob(s) => s.delete(name).await,
        }
    }

    /// Reads an object; `Ok(None)` when absent.
    pub async fn get(&self, name: &str) -> Result<Option<Object>, StorageError> {
        match self {
            Storage::Local(s) => s.get(name).await,
            Storage::Blob(s) => s.get(name).await,
        }
    }

    /// Lists names under `prefix` with their metadata, up to `max` per page.
    pub async fn list(
        &self,
        prefix: &str,
        continuation: Option<String>,
        max: u32,
    ) -> Result<Page, StorageError> {
        match self {
            Storage::Local(s) => s.list(prefix, continuation, max).await,
            Storage::Blob(s) => s.list(prefix, continuation, max).await,
        }
    }

    /// A cheap round trip proving the backend answers (for `/api/health`).
    pub async fn probe(&self) -> Result<(), StorageError> {
        match self {
            Storage::Local(s) => s.probe().await,
            Storage::Blob(s) => s.probe().await,
        }
    }
}

/// Checks an object name: 1–1024 bytes of `/`-separated segments, none empty, none starting
/// with `.` (so no `.`/`..`, and the local store's `.meta`/temp files stay out of the
/// namespace), no backslash or control characters. Both backends apply the same rule.
fn check_name(name: &str) -> Result<(), StorageError> {
    let bad = |why: &str| {
        Err(StorageError::Config(format!(
            "invalid object name {name:?}: {why}"
        )))
    };
    if name.is_empty() || name.len() > 1024 {
        return bad("must be 1-1024 bytes");
    }
    if name.chars().any(|c| c == '\\' || c.is_control()) {
        return bad("backslash and control characters are not allowed");
    }
    for segment in name.split('/') {
        if segment.is_empty() {
            return bad("empty path segment (leading, trailing or doubled `/`)");
        }
        if segment.starts_with('.') {
            return bad("a path segment starts with `.`");
        }
    }
    Ok(())
}

/// Checks metadata: keys `[a-z_][a-z0-9_]*`, values printable ASCII without leading or trailing
/// spaces (they travel as HTTP headers), at most 8 KiB in all (the Blob Storage limit).
fn check_metadata(metadata: &BTreeMap<String, String>) -> Result<(), StorageError> {
    let mut total = 0;
    for (key, value) in metadata {
        let key_ok = key.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
            && key
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !key_ok {
            return Err(StorageError::Config(format!(
                "invalid metadata key {key:?}"
            )));
        }
        if !value.chars().all(|c| c == ' ' || c.is_ascii_graphic())
            || value.starts_with(' ')
            || value.ends_with(' ')
        {
            return Err(StorageError::Config(format!(
                "metadata {key:?}: value must be printable ASCII without surrounding spaces"
            )));
        }
        total += key.len() + value.len();
    }
    if total > 8 * 1024 {
        return Err(StorageError::Config("metadata exceeds 8 KiB".into()));
    }
    Ok(())
}
