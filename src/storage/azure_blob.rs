//! An Azure Blob Storage container as object storage, through the official `azure_storage_blob`
//! 1.x SDK.
//!
//! Two ways in: a connection string with an account key (or Azurite's
//! `UseDevelopmentStorage=true`), signed here with Shared Key since the 1.x SDK only speaks
//! Entra ID tokens; or an account URL with the Function App's managed identity.
//!
//! Blob names keep their `/` literal in URLs (each segment percent-encoded on its own), as the
//! other Azure SDKs send them; the SDK's own `blob_client(name)` would send `%2F`.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use azure_core::credentials::TokenCredential;
use azure_core::error::ErrorKind;
use azure_core::http::policies::{Policy, PolicyResult};
use azure_core::http::{
    ClientOptions, Context, Etag, ExponentialRetryOptions, HttpClientOptions, Request,
    RequestContent, RetryOptions, StatusCode, Transport, Url, new_http_client,
};
use azure_identity::{
    DeveloperToolsCredential, ManagedIdentityCredential, ManagedIdentityCredentialOptions,
    UserAssignedId,
};
use azure_storage_blob::models::{
    BlobClientUploadOptions, BlobContainerClientListBlobsOptions, ListBlobsIncludeItem,
};
use azure_storage_blob::{
    BlobClient, BlobClientOptions, BlobContainerClient, BlobContainerClientOptions,
};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::Bytes;
use futures::TryStreamExt as _;

use super::shared_key::SharedKeyPolicy;
use super::{
    Condition, Entry, Object, Page, Put, StorageError, Stored, check_metadata, check_name,
};
use crate::configuration::{Secret, StorageSettings};

/// Azurite's well-known development account (published in Microsoft's Azurite docs).
const DEV_ACCOUNT: &str = "devstoreaccount1";
const DEV_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
const DEV_ENDPOINT: &str = "http://127.0.0.1:10000/devstoreaccount1";
const DEV_QUEUE_ENDPOINT: &str = "http://127.0.0.1:10001/devstoreaccount1";

/// Upper bound on one operation, retries included (the SDK's transport has no timeout).
const OPERATION_TIMEOUT: Duration = Duration::from_secs(90);

/// How the handler authenticates to Blob Storage, as chosen by [`choose_auth`].
#[derive(Debug, Clone)]
pub enum Auth {
    /// Account key from a connection string (or Azurite's development account); requests are
    /// signed with Shared Key. `endpoint` is the blob service URL (its path has no trailing `/`).
    SharedKey {
        account: String,
        key: Secret,
        endpoint: Url,
    },
    /// The Function App's managed identity (`client_id`: a user-assigned identity), over https.
    ManagedIdentity {
        account_url: Url,
        client_id: Option<String>,
    },
    /// Outside Azure with an account URL: the developer's `az login` / `azd auth login`.
    DeveloperTools { account_url: Url },
}

/// Picks the credential the settings describe, without any I/O.
///
/// Errors ([`StorageError::Config`]) name the setting and what is missing or malformed, never a
/// key: a connection string without `AccountKey`/`AccountName`, a key that is not base64, an
/// unparsable account URL, an `http` account URL that is not Azurite (managed-identity tokens
/// need https), a URL carrying a query (SAS), or a local-folder setting.
pub fn choose_auth(settings: &StorageSettings) -> Result<Auth, StorageError> {
    match settings {
        StorageSettings::ConnectionString {
            connection_string, ..
        } => parse_connection_string(connection_string.expose()),
        StorageSettings::AccountUrl {
            account_url,
            client_id,
            in_azure,
            ..
        } => account_url_auth(
            account_url,
            "AZURE_STORAGE_ACCOUNT_URL",
            client_id.clone(),
            *in_azure,
        ),
        StorageSettings::Local { .. } => Err(StorageError::Config(
            "no storage account configured (local folder settings)".into(),
        )),
    }
}

/// A storage service of an account: which endpoint a connection string or account name
/// gives (`BlobEndpoint`/`QueueEndpoint`, `<account>.blob|queue.<suffix>`, Azurite's port).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Service {
    Blob,
    Queue,
}

impl Service {
    /// The connection string key of this service's explicit endpoint.
    fn endpoint_key(self) -> &'static str {
        match self {
            Service::Blob => "BlobEndpoint",
            Service::Queue => "QueueEndpoint",
        }
    }

    /// The host label of this service (`<account>.<label>.core.windows.net`).
    pub(crate) fn label(self) -> &'static str {
        match self {
            Service::Blob => "blob",
            Service::Queue => "queue",
        }
    }

    /// Azurite's default endpoint of this service (`UseDevelopmentStorage=true`).
    fn dev_endpoint(self) -> &'static str {
        match self {
            Service::Blob => DEV_ENDPOINT,
            Service::Queue => DEV_QUEUE_ENDPOINT,
        }
    }
}

/// The credential of an account URL (`setting` names it in errors): the managed identity
/// over https in Azure (`client_id`: a user-assigned one), the developer's login over https
/// elsewhere, Azurite's development key over http on a loopback host; anything else (a query
/// string, http to a real host, not a URL) is [`StorageError::Config`].
pub(crate) fn account_url_auth(
    account_url: &str,
    setting: &str,
    client_id: Option<String>,
    in_azure: bool,
) -> Result<Auth, StorageError> {
    let bad = |why: &str| StorageError::Config(format!("{setting} {why}"));
    let url = Url::parse(account_url.trim()).map_err(|e| bad(&format!("is not a URL ({e})")))?;
    if url.query().is_some() {
        return Err(bad(
            "must not carry a query string (SAS tokens are not supported)",
        ));
    }
    if url.cannot_be_a_base() || url.host_str().is_none() {
        return Err(bad(
            "must look like https://<account>.blob.core.windows.net",
        ));
    }
    let url = trim_trailing_slash(url);
    match url.scheme() {
        "https" if in_azure => Ok(Auth::ManagedIdentity {
            account_url: url,
            client_id,
        }),
        "https" => Ok(Auth::DeveloperTools { account_url: url }),
        "http" if is_azurite(&url) => Ok(Auth::SharedKey {
            account: DEV_ACCOUNT.into(),
            key: Secret::new(DEV_KEY),
            endpoint: url,
        }),
        _ => Err(bad(&format!(
            "must use https: the managed identity's token is only sent over TLS (got {url})"
        ))),
    }
}

/// Parses `Key=Value;…` (keys case-insensitive) of the Blob Storage setting into Shared Key
/// credentials.
fn parse_connection_string(cs: &str) -> Result<Auth, StorageError> {
    parse_service_connection_string(cs, "AZURE_STORAGE_CONNECTION_STRING", Service::Blob)
}

/// Parses `Key=Value;…` (keys case-insensitive) into Shared Key credentials for `service`;
/// errors name `SETTING` and the missing or malformed part, never the key.
pub(crate) fn parse_service_connection_string(
    cs: &str,
    setting: &str,
    service: Service,
) -> Result<Auth, StorageError> {
    let mut parts: HashMap<String, &str> = HashMap::new();
    for part in cs.split(';').map(str::trim).filter(|p| !p.is_empty()) {
        let (key, value) = part.split_once('=').ok_or_else(|| {
            StorageError::Config(format!(
                "{setting} has a part without `=` (expected Key=Value;...)"
            ))
        })?;
        parts.insert(key.trim().to_ascii_lowercase(), value.trim());
    }
    let get = |key: &str| {
        parts
            .get(&key.to_ascii_lowercase())
            .copied()
            .filter(|v| !v.is_empty())
    };
    let missing = |key: &str| StorageError::Config(format!("{setting} has no {key}"));

    if get("UseDevelopmentStorage").is_some_and(|v| v.eq_ignore_ascii_case("true")) {
        return Ok(Auth::SharedKey {
            account: DEV_ACCOUNT.into(),
            key: Secret::new(DEV_KEY),
            endpoint: Url::parse(service.dev_endpoint())
                .map_err(|e| StorageError::Config(e.to_string()))?,
        });
    }
    let account = get("AccountName").ok_or_else(|| missing("AccountName"))?;
    let key = match get("AccountKey") {
        Some(key) => key,
        None if get("SharedAccessSignature").is_some() => {
            return Err(StorageError::Config(format!(
                "{setting} has a SharedAccessSignature but no AccountKey; SAS connection strings \
                 are not supported (use an AccountKey, or AZURE_STORAGE_ACCOUNT_URL with a managed identity)"
            )));
        }
        None => return Err(missing("AccountKey")),
    };
    if BASE64.decode(key).is_err() {
        return Err(StorageError::Config(format!(
            "{setting}: AccountKey is not valid base64"
        )));
    }
    let endpoint = match get(service.endpoint_key()) {
        Some(endpoint) => endpoint.to_string(),
        None => {
            let protocol = get("DefaultEndpointsProtocol").unwrap_or("https");
            let suffix = get("EndpointSuffix").unwrap_or("core.windows.net");
            format!("{protocol}://{account}.{}.{suffix}", service.label())
        }
    };
    let endpoint = Url::parse(&endpoint)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https") && !u.cannot_be_a_base())
        .ok_or_else(|| {
            StorageError::Config(format!(
                "{setting}: the {} endpoint {endpoint:?} is not an http(s) URL",
                service.label()
            ))
        })?;
    Ok(Auth::SharedKey {
        account: account.to_string(),
        key: Secret::new(key),
        endpoint: trim_trailing_slash(endpoint),
    })
}

fn trim_trailing_slash(mut url: Url) -> Url {
    let path = url.path().trim_end_matches('/').to_string();
    url.set_path(&path);
    url
}

/// `http://127.0.0.1:<port>/devstoreaccount1` or `localhost`: Azurite's path-style URL.
fn is_azurite(url: &Url) -> bool {
    matches!(url.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"))
        && url.path_segments().and_then(|mut s| s.next()) == Some(DEV_ACCOUNT)
}

/// Checks Blob Storage's container naming rule (3–63 of `[a-z0-9-]`, starting and ending with
/// a letter or digit, no `--`).
fn check_container(name: &str) -> Result<(), StorageError> {
    if crate::configuration::is_storage_name(name) {
        Ok(())
    } else {
        Err(StorageError::Config(format!(
            "AZURE_STORAGE_CONTAINER {name:?} is not a valid container name (3-63 of a-z, 0-9, \
             single `-`, starting and ending with a letter or digit)"
        )))
    }
}

/// Client options, token credential (none with Shared Key) and service endpoint: what
/// [`client_parts`] returns.
pub(crate) type ClientParts = (ClientOptions, Option<Arc<dyn TokenCredential>>, Url);

/// What a client of any storage service needs for `auth`: its client options (Shared Key
/// signing per try when `auth` is a key, [`TryTimeoutPolicy`] of `connect_timeout`, 3 retries
/// within 30 s, one shared HTTP client), the token credential (managed identity or developer
/// login) when it is not, and the service endpoint. Errors: [`StorageError::Config`] when the
/// key is not base64 or no credential can be built.
pub(crate) fn client_parts(
    auth: Auth,
    connect_timeout: Duration,
) -> Result<ClientParts, StorageError> {
    // Shared Key signs each try; a managed identity goes to the SDK as a token credential.
    let mut per_try_policies: Vec<Arc<dyn Policy>> =
        vec![Arc::new(TryTimeoutPolicy(connect_timeout))];
    let mut credential: Option<Arc<dyn TokenCredential>> = None;
    let endpoint = match auth {
        Auth::SharedKey {
            account,
            key,
            endpoint,
        } => {
            per_try_policies.push(Arc::new(SharedKeyPolicy::new(account, &key)?));
            endpoint
        }
        Auth::ManagedIdentity {
            account_url,
            client_id,
        } => {
            let options = ManagedIdentityCredentialOptions {
                user_assigned_id: client_id.map(UserAssignedId::ClientId),
                ..Default::default()
            };
            let identity = ManagedIdentityCredential::new(Some(options))
                .map_err(|e| StorageError::Config(format!("managed identity unavailable: {e}")))?;
            credential = Some(identity);
            account_url
        }
        Auth::DeveloperTools { account_url } => {
            let developer = DeveloperToolsCredential::new(None).map_err(|e| {
                StorageError::Config(format!("developer-tools credential unavailable: {e}"))
            })?;
            credential = Some(developer);
            account_url
        }
    };
    let client_options = ClientOptions {
        // Per try: the signature covers x-ms-date, which must be fresh on each retry.
        per_try_policies,
        retry: RetryOptions::exponential(ExponentialRetryOptions {
            max_retries: 3,
            max_total_elapsed: azure_core::time::Duration::seconds(30),
            ..Default::default()
        }),
        // The SDK would otherwise build one HTTP client per blob client.
        transport: Some(Transport::new(new_http_client(Some(HttpClientOptions {
            automatic_decompression: false,
        })))),
        ..Default::default()
    };
    Ok((client_options, credential, endpoint))
}

/// One container of one storage account. Cheap to clone (shares the HTTP client).
#[derive(Clone)]
pub struct BlobStore {
    inner: Arc<Inner>,
}

struct Inner {
    container: BlobContainerClient,
    container_url: Url,
    container_name: String,
    /// The account endpoint, for [`BlobStore::describe`] (never holds a key or SAS).
    endpoint: Url,
    /// Shared by every per-blob client: one HTTP client, the retry policy and the signer.
    options: BlobClientOptions,
    credential: Option<Arc<dyn TokenCredential>>,
}

impl fmt::Debug for BlobStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("BlobStore").field(&self.describe()).finish()
    }
}

impl BlobStore {
    /// Connects with `ConnectionString` or `AccountUrl` settings (see `choose_auth`) and
    /// creates the container when it does not exist.
    ///
    /// Errors: `Config` for bad settings, `Unauthorized` when the key or identity is refused,
    /// `Unavailable` when the service does not answer.
    ///
    /// Each try of each request must get its response headers within `connect_timeout`
    /// (`TryTimeoutPolicy`); a try that does not is not retried, so a service that accepts
    /// connections and never answers fails a call in about `connect_timeout`.
    pub async fn connect(
        settings: &StorageSettings,
        connect_timeout: Duration,
    ) -> Result<Self, StorageError> {
        let container_name = match settings {
            StorageSettings::ConnectionString { container, .. }
            | StorageSettings::AccountUrl { container, .. } => container.clone(),
            StorageSettings::Local { .. } => {
                return Err(StorageError::Config("no storage account configured".into()));
            }
        };
        check_container(&container_name)?;
        let (client_options, credential, endpoint) =
            client_parts(choose_auth(settings)?, connect_timeout)?;
        let mut container_url = endpoint.clone();
        container_url
            .path_segments_mut()
            .map_err(|()| StorageError::Config(format!("{endpoint} cannot hold a path")))?
            .pop_if_empty()
            .push(&container_name);
        let container = BlobContainerClient::new(
            container_url.clone(),
            credential.clone(),
            Some(BlobContainerClientOptions {
                client_options: client_options.clone(),
                ..Default::default()
            }),
        )
        .map_err(|e| StorageError::Config(format!("container client for {container_url}: {e}")))?;
        let store = Self {
            inner: Arc::new(Inner {
                container,
                container_url,
                container_name,
                endpoint,
                options: BlobClientOptions {
                    client_options,
                    ..Default::default()
                },
                credential,
            }),
        };
        store.create_container_if_missing().await?;
        Ok(store)
    }

    /// `blob container <name> at <account endpoint>`.
    pub fn describe(&self) -> String {
        format!(
            "blob container {} at {}",
            self.inner.container_name,
            self.inner.endpoint.as_str().trim_end_matches('/')
        )
    }

    async fn create_container_if_missing(&self) -> Result<(), StorageError> {
        let what = format!("container {}", self.inner.container_name);
        let container = &self.inner.container;
        if timed(container.exists())
            .await
            .map_err(|e| map_error(e, &what))?
        {
            return Ok(());
        }
        match timed(container.create(None)).await {
            Ok(_) => {
                tracing::info!("created {}", self.describe());
                Ok(())
            }
            Err(e) if e.http_status() == Some(StatusCode::Conflict) => Ok(()), // created meanwhile
            Err(e) => Err(map_error(e, &what)),
        }
    }

    /// Uploads `body` as one block blob with the content type, metadata and condition
    /// (`If-None-Match: *` / `If-Match: <etag>`).
    ///
    /// Errors: `Config` for a bad name or metadata; `AlreadyExists`, `ConditionFailed`,
    /// `NotFound` for unmet conditions; `Unauthorized`; `Unavailable` after retries.
    pub async fn put(&self, name: &str, body: Bytes, put: &Put) -> Result<Stored, StorageError> {
        check_name(name)?;
        check_metadata(&put.metadata)?;
        let blob = self.blob_client(name)?;
        let (if_match, if_none_match) = match &put.condition {
            Condition::Always => (None, None),
            Condition::IfNotExists => (None, Some(Etag::from("*"))),
            Condition::IfMatch(etag) => (Some(Etag::from(etag.as_str())), None),
        };
        let options = BlobClientUploadOptions {
            blob_content_type: Some(put.content_type.to_string()),
            metadata: Some(
                put.metadata
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
            ),
            if_match,
            if_none_match,
            ..Default::default()
        };
        let content: RequestContent<Bytes, _> = body.into();
        match timed(blob.upload(content, Some(options))).await {
            Ok(uploaded) => Ok(Stored {
                location: blob.url().to_string(),
                etag: quoted(uploaded.etag),
            }),
            Err(e) => Err(self.put_error(e, name, &put.condition, &blob).await),
        }
    }

    /// Maps a failed upload, honouring the condition: create-only meets an existing blob as
    /// 409 `BlobAlreadyExists` (or 412); If-Match meets 412 both for a changed and for a
    /// missing blob, told apart with one properties call.
    async fn put_error(
        &self,
        e: azure_core::Error,
        name: &str,
        condition: &Condition,
        blob: &BlobClient,
    ) -> StorageError {
        let status = e.http_status();
        match condition {
            Condition::IfNotExists
                if matches!(
                    status,
                    Some(StatusCode::Conflict | StatusCode::PreconditionFailed)
                ) =>
            {
                StorageError::AlreadyExists(name.to_string())
            }
            Condition::IfMatch(_) if status == Some(StatusCode::PreconditionFailed) => {
                match timed(blob.exists()).await {
                    Ok(false) => StorageError::NotFound(name.to_string()),
                    _ => StorageError::ConditionFailed(name.to_string()),
                }
            }
            _ => map_error(e, name),
        }
    }

    /// The blob URL of `name` (no key, no SAS); the name itself when it is not valid.
    pub fn location(&self, name: &str) -> String {
        self.blob_client(name)
            .map_or_else(|_| name.to_string(), |b| b.url().to_string())
    }

    /// Deletes `name`; an absent blob is not an error.
    pub async fn delete(&self, name: &str) -> Result<(), StorageError> {
        check_name(name)?;
        let blob = self.blob_client(name)?;
        match timed(blob.delete(None)).await {
            Ok(_) => Ok(()),
            Err(e) if e.http_status() == Some(StatusCode::NotFound) => Ok(()),
            Err(e) => Err(map_error(e, name)),
        }
    }

    /// Downloads `name`; `Ok(None)` when it (or the container) does not exist.
    pub async fn get(&self, name: &str) -> Result<Option<Object>, StorageError> {
        check_name(name)?;
        let blob = self.blob_client(name)?;
        let download = async {
            let result = blob.download(None).await?;
            let body = result.body.collect().await?;
            Ok((body, result.properties))
        };
        match timed(download).await {
            Ok((body, properties)) => Ok(Some(Object {
                body,
                etag: quoted(properties.etag),
                content_type: properties.content_type,
                metadata: properties.metadata.into_iter().collect(),
            })),
            Err(e) if e.http_status() == Some(StatusCode::NotFound) => Ok(None),
            Err(e) => Err(map_error(e, name)),
        }
    }

    /// One `List Blobs` call (`include=metadata`): up to `max` (1–5000) names under `prefix`
    /// after the `continuation` marker, with ETags, sizes and metadata. Never reads a blob.
    pub async fn list(
        &self,
        prefix: &str,
        continuation: Option<String>,
        max: u32,
    ) -> Result<Page, StorageError> {
        let options = BlobContainerClientListBlobsOptions {
            include: Some(vec![ListBlobsIncludeItem::Metadata]),
            marker: continuation,
            maxresults: Some(max.clamp(1, 5000) as i32),
            prefix: (!prefix.is_empty()).then(|| prefix.to_string()),
            ..Default::default()
        };
        let what = format!("listing {prefix:?}");
        let container = &self.inner.container;
        let first_page = async {
            let mut pages = container.list_blobs(Some(options))?.into_pages();
            match pages.try_next().await? {
                Some(page) => page.into_model().map(Some),
                None => Ok(None),
            }
        };
        let Some(listing) = timed(first_page).await.map_err(|e| map_error(e, &what))? else {
            return Ok(Page::default());
        };
        let entries = listing
            .blob_items
            .into_iter()
            .filter_map(|item| {
                let properties = item.properties.unwrap_or_default();
                Some(Entry {
                    name: item.name?,
                    etag: quoted(properties.etag),
                    size: properties.content_length.unwrap_or(0),
                    metadata: item
                        .metadata
                        .and_then(|m| m.values)
                        .map(|values| values.into_iter().collect())
                        .unwrap_or_default(),
                })
            })
            .collect();
        Ok(Page {
            entries,
            next: listing.next_marker.filter(|m| !m.is_empty()),
        })
    }

    /// Reads the container's properties: proves the endpoint answers and the credential works.
    pub async fn probe(&self) -> Result<(), StorageError> {
        let what = format!("container {}", self.inner.container_name);
        timed(self.inner.container.get_properties(None))
            .await
            .map_err(|e| map_error(e, &what))?;
        Ok(())
    }

    /// A client for `name`, whose `/`-separated segments are percent-encoded one by one.
    fn blob_client(&self, name: &str) -> Result<BlobClient, StorageError> {
        let mut url = self.inner.container_url.clone();
        url.path_segments_mut()
            .map_err(|()| {
                StorageError::Config(format!("{} cannot hold a path", self.inner.container_url))
            })?
            .extend(name.split('/'));
        BlobClient::new(
            url,
            self.inner.credential.clone(),
            Some(self.inner.options.clone()),
        )
        .map_err(|e| StorageError::Config(format!("blob client for {name:?}: {e}")))
    }
}

/// An ETag in its header form, `"0x8D…"`: response headers carry the quotes, List Blobs'
/// XML does not, and callers compare the two.
fn quoted(etag: Option<Etag>) -> String {
    match etag.map(|e| e.to_string()) {
        Some(e) if !e.starts_with('"') && !e.starts_with("W/") => format!("\"{e}\""),
        Some(e) => e,
        None => String::new(),
    }
}

/// Bounds an SDK call in time; a timeout counts as an I/O error (→ `Unavailable`).
async fn timed<T>(call: impl Future<Output = azure_core::Result<T>>) -> azure_core::Result<T> {
    tokio::time::timeout(OPERATION_TIMEOUT, call)
        .await
        .unwrap_or_else(|_| {
            Err(azure_core::Error::with_message(
                ErrorKind::Io,
                format!("no answer within {} s", OPERATION_TIMEOUT.as_secs()),
            ))
        })
}

/// Maps an SDK error on `what` to a [`StorageError`] (the SDK's `Debug` is very long; the
/// `Display` is logged at debug level).
fn map_error(e: azure_core::Error, what: &str) -> StorageError {
    tracing::debug!("blob storage: {what}: {e}");
    match e.kind() {
        ErrorKind::HttpResponse {
            status, error_code, ..
        } => {
            let detail = format!(
                "{what}: HTTP {} {}",
                u16::from(*status),
                error_code.as_deref().unwrap_or("")
            );
            match status {
                StatusCode::NotFound => StorageError::NotFound(what.to_string()),
                StatusCode::Conflict if error_code.as_deref() == Some("BlobAlreadyExists") => {
                    StorageError::AlreadyExists(what.to_string())
                }
                StatusCode::PreconditionFailed => StorageError::ConditionFailed(what.to_string()),
                StatusCode::Unauthorized | StatusCode::Forbidden => {
                    StorageError::Unauthorized(detail)
                }
                StatusCode::RequestTimeout | StatusCode::TooManyRequests => {
                    StorageError::Unavailable(detail)
                }
                s if s.is_server_error() => StorageError::Unavailable(detail),
                _ => StorageError::Config(detail),
            }
        }
        ErrorKind::Credential => {
            StorageError::Unauthorized(format!("{what}: managed identity: {e}"))
        }
        _ => StorageError::Unavailable(format!("{what}: {e}")),
    }
}

/// Bounds one try (connect, send, response headers) in time. The error it returns is of kind
/// `Other`, which the SDK's retry policy does not retry: a service that does not answer within
/// the connect timeout will not answer the next try either, and the caller must get its 503
/// within the bound.
#[derive(Debug)]
pub(crate) struct TryTimeoutPolicy(Duration);

#[async_trait]
impl Policy for TryTimeoutPolicy {
    async fn send(
        &self,
        ctx: &Context,
        request: &mut Request,
        next: &[Arc<dyn Policy>],
    ) -> PolicyResult {
        match tokio::time::timeout(self.0, next[0].send(ctx, request, &next[1..])).await {
            Ok(result) => result,
            Err(_) => Err(azure_core::Error::with_message(
                ErrorKind::Other,
                format!("no answer within {} s", self.0.as_secs()),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cs(s: &str) -> StorageSettings {
        StorageSettings::ConnectionString {
            connection_string: Secret::new(s),
            container: "c".into(),
        }
    }

    fn url_settings(url: &str) -> StorageSettings {
        StorageSettings::AccountUrl {
            account_url: url.into(),
            client_id: Some("cid".into()),
            container: "c".into(),
            in_azure: true,
        }
    }

    #[test]
    fn outside_azure_an_account_url_uses_the_developer_tools_login() {
        let local = StorageSettings::AccountUrl {
            account_url: "https://acct.blob.core.windows.net".into(),
            client_id: None,
            container: "c".into(),
            in_azure: false,
        };
        assert!(matches!(
            choose_auth(&local),
            Ok(Auth::DeveloperTools { .. })
        ));
    }

    /// The account, key and endpoint of Shared Key credentials; panics on any other `auth`.
    fn shared_key(auth: Auth) -> (String, Secret, Url) {
        match auth {
            Auth::SharedKey {
                account,
                key,
                endpoint,
            } => (account, key, endpoint),
            other => panic!("shared key expected, got {other:?}"),
        }
    }

    fn config_message(r: Result<Auth, StorageError>) -> String {
        match r {
            Err(StorageError::Config(m)) => m,
            other => panic!("expected a Config error, got {other:?}"),
        }
    }

    #[test]
    fn parses_the_azurite_connection_string() {
        let (account, key, endpoint) = shared_key(
            choose_auth(&cs(&format!(
                "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={DEV_KEY};\
                 BlobEndpoint=http://127.0.0.1:10010/devstoreaccount1;"
            )))
            .unwrap(),
        );
        assert_eq!(account, "devstoreaccount1");
        assert_eq!(key.expose(), DEV_KEY);
        assert_eq!(endpoint.as_str(), "http://127.0.0.1:10010/devstoreaccount1");
    }

    #[test]
    fn use_development_storage_means_azurite_defaults() {
        let (account, key, endpoint) =
            shared_key(choose_auth(&cs("UseDevelopmentStorage=true")).unwrap());
        assert_eq!(account, "devstoreaccount1");
        assert_eq!(key.expose(), DEV_KEY);
        assert_eq!(endpoint.as_str(), "http://127.0.0.1:10000/devstoreaccount1");
    }

    #[test]
    fn builds_the_cloud_endpoint_from_the_suffix() {
        let key = BASE64.encode(b"not really a key");
        let (account, _, endpoint) = shared_key(
            choose_auth(&cs(&format!(
                "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey={key};EndpointSuffix=core.chinacloudapi.cn"
            )))
            .unwrap(),
        );
        assert_eq!(account, "acct");
        assert_eq!(
            endpoint.as_str(),
            "https://acct.blob.core.chinacloudapi.cn/"
        );
        let (_, _, endpoint) =
            shared_key(choose_auth(&cs(&format!("accountname=acct;accountkey={key}"))).unwrap());
        assert_eq!(endpoint.as_str(), "https://acct.blob.core.windows.net/");
    }

    #[test]
    fn connection_string_errors_name_the_missing_part_but_never_the_key() {
        let m = config_message(choose_auth(&cs(
            "DefaultEndpointsProtocol=https;AccountName=acct",
        )));
        assert_eq!(m, "AZURE_STORAGE_CONNECTION_STRING has no AccountKey");
        let m = config_message(choose_auth(&cs("AccountKey=c2VjcmV0")));
        assert_eq!(m, "AZURE_STORAGE_CONNECTION_STRING has no AccountName");
        let m = config_message(choose_auth(&cs(
            "AccountName=a;AccountKey=s3cr3t!!not-base64",
        )));
        assert!(
            m.contains("not valid base64") && !m.contains("s3cr3t"),
            "{m}"
        );
        let m = config_message(choose_auth(&cs(
            "AccountName=a;SharedAccessSignature=sv=1&sig=x",
        )));
        assert!(
            m.contains("SAS connection strings are not supported") && !m.contains("sig=x"),
            "{m}"
        );
        let m = config_message(choose_auth(&cs("garbage")));
        assert!(m.contains("without `=`"), "{m}");
    }

    #[test]
    fn account_urls_choose_the_managed_identity_over_https_only() {
        let auth = choose_auth(&url_settings("https://acct.blob.core.windows.net/")).unwrap();
        let Auth::ManagedIdentity {
            account_url,
            client_id,
        } = auth
        else {
            panic!("identity expected")
        };
        assert_eq!(account_url.as_str(), "https://acct.blob.core.windows.net/");
        assert_eq!(client_id.as_deref(), Some("cid"));
        let m = config_message(choose_auth(&url_settings(
            "http://acct.blob.core.windows.net",
        )));
        assert!(
            m.starts_with("AZURE_STORAGE_ACCOUNT_URL must use https"),
            "{m}"
        );
        let m = config_message(choose_auth(&url_settings("acct.blob.core.windows.net")));
        assert!(
            m.starts_with("AZURE_STORAGE_ACCOUNT_URL is not a URL"),
            "{m}"
        );
        let m = config_message(choose_auth(&url_settings(
            "https://acct.blob.core.windows.net/?sv=1&sig=x",
        )));
        assert!(m.contains("SAS") && !m.contains("sig=x"), "{m}");
        // Azurite over http: its well-known development key.
        let auth = choose_auth(&url_settings("http://127.0.0.1:10000/devstoreaccount1")).unwrap();
        assert!(matches!(auth, Auth::SharedKey { ref account, .. } if account == DEV_ACCOUNT));
        let m = config_message(choose_auth(&StorageSettings::Local { dir: "x".into() }));
        assert!(m.contains("no storage account"), "{m}");
    }

    #[test]
    fn container_names_follow_the_service_rule() {
        for ok in [
            "abc",
            "user-failure-reports",
            "t-0123456789abcdef0123456789abcdef",
        ] {
            check_container(ok).unwrap();
        }
        for bad in ["ab", "Upper", "a--b", "-ab", "ab-", "a_b", &"a".repeat(64)] {
            assert!(check_container(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn etags_take_the_header_form() {
        assert_eq!(quoted(Some(Etag::from("0x8D1"))), "\"0x8D1\"");
        assert_eq!(quoted(Some(Etag::from("\"0x8D1\""))), "\"0x8D1\"");
        assert_eq!(quoted(None), "");
    }
}
