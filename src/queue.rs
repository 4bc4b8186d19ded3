//! The work queue (`docs/scale-out.md`, "The work queue"): a Storage queue (`REPORT_QUEUE`) in
//! the account of `AzureWebJobsStorage`, through the official `azure_storage_queue` 1.x SDK,
//! with the credential handling of Blob Storage (Shared Key for a connection string and
//! Azurite, the managed identity in Azure: `storage::azure_blob::client_parts`).
//!
//! One message per (org, date), [`ReportMessage`], its text the base64 of its JSON (the host's
//! queue trigger decodes base64 by default). The timer enqueues ([`WorkQueue::enqueue`]);
//! the host's queue trigger delivers each message to `daily_report_worker`; messages past
//! `maxDequeueCount` land in `<queue>-poison`, counted by [`WorkQueue::poison_count`] for
//! `GET /api/scheduler/status`. The listener's side ([`WorkQueue::receive`],
//! [`WorkQueue::delete`], [`WorkQueue::send_text`]) is what the host does; the integration
//! tests play the host with it.
//!
//! Every call is bounded by [`OPERATION_TIMEOUT`] (retries included) and each try by the
//! storage connect timeout; no error or log line carries a key.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use azure_core::http::StatusCode;
use azure_storage_queue::models::{
    QueueClientGetPropertiesResultHeaders as _, QueueClientReceiveMessagesOptions, QueueMessage,
};
use azure_storage_queue::{QueueClient, QueueClientOptions};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::NaiveDate;
use futures::StreamExt as _;
use serde::{Deserialize, Serialize};

use crate::configuration::{QueueAccount, QueueSettings};
use crate::orgs::OrgId;
use crate::storage::StorageError;
use crate::storage::azure_blob::{
    Service, account_url_auth, client_parts, parse_service_connection_string,
};

/// Upper bound on one queue call, retries included (the SDK's transport has no timeout).
pub const OPERATION_TIMEOUT: Duration = Duration::from_secs(30);

/// Messages sent at once by [`WorkQueue::enqueue`] (one request per message: the queue
/// service has no batch send).
pub const ENQUEUE_CONCURRENCY: usize = 32;

/// One unit of work: generate and store `org_id`'s report for `date` (create-only unless
/// `force`), then send its digest when `notify`. Serialized as
/// `{"org_id", "date": "YYYY-MM-DD", "force", "notify", "job_id"?}`
/// (`docs/scale-out.md`, "The work queue").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportMessage {
    pub org_id: OrgId,
    pub date: NaiveDate,
    #[serde(default)]
    pub force: bool,
    #[serde(default)]
    pub notify: bool,
    /// The backfill job this message belongs to, if any (a UUID, checked where the message
    /// is read: it names the job's storage).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_id: Option<uuid::Uuid>,
}

impl ReportMessage {
    /// The message text: base64 of the JSON, as the host's queue trigger expects by default.
    pub fn encode(&self) -> String {
        BASE64.encode(serde_json::to_vec(self).expect("a message serializes"))
    }
}

/// Why a queue call failed. The text names the queue and the cause, never a key.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    /// The settings cannot make a client (bad URL, bad key, no credential).
    #[error("queue configuration: {0}")]
    Config(String),
    /// The queue service refused the credential (401/403).
    #[error("queue {0}: access refused (check the key or the identity's role)")]
    Unauthorized(String),
    /// The service did not answer in time, or answered an error.
    #[error("queue {queue} unavailable: {reason}")]
    Unavailable { queue: String, reason: String },
}

impl From<StorageError> for QueueError {
    fn from(e: StorageError) -> Self {
        QueueError::Config(e.to_string())
    }
}

/// Which of the two queues a listener call is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Which {
    /// `REPORT_QUEUE`.
    Work,
    /// `<REPORT_QUEUE>-poison`, where the host moves messages past `maxDequeueCount`.
    Poison,
}

/// A message as dequeued: what the host passes in the invocation's `Metadata`.
#[derive(Debug, Clone)]
pub struct Received {
    pub id: String,
    pub pop_receipt: String,
    /// Deliveries so far, this one included (1 on the first).
    pub dequeue_count: u32,
    /// The message text as stored (for [`ReportMessage`]s, base64).
    pub text: String,
    /// RFC 3339, when the service said.
    pub insertion_time: Option<String>,
    /// RFC 3339, when the service said.
    pub next_visible_time: Option<String>,
}

/// The work queue and its poison queue. Cheap to clone; makes no request until used.
#[derive(Clone)]
pub struct WorkQueue {
    inner: Arc<Inner>,
}

struct Inner {
    name: String,
    poison_name: String,
    work: QueueClient,
    poison: QueueClient,
    /// The work queue was found or created (once per process).
    created: tokio::sync::OnceCell<()>,
}

impl std::fmt::Debug for WorkQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("WorkQueue").field(&self.inner.name).finish()
    }
}

impl WorkQueue {
    /// Clients for `settings`' queue and its poison queue, without I/O; each try of each
    /// request must get its response headers within `connect_timeout`.
    ///
    /// Errors: [`QueueError::Config`] naming the setting (a connection string without
    /// `AccountKey`, an `http` service URL that is not Azurite, …), never its value.
    pub fn new(settings: &QueueSettings, connect_timeout: Duration) -> Result<Self, QueueError> {
        let auth = match &settings.account {
            QueueAccount::ConnectionString(cs) => {
                parse_service_connection_string(cs.expose(), "AzureWebJobsStorage", Service::Queue)?
            }
            QueueAccount::ServiceUri {
                uri,
                client_id,
                in_azure,
            } => account_url_auth(
                uri,
                "AzureWebJobsStorage__queueServiceUri",
                client_id.clone(),
                *in_azure,
            )?,
        };
        let (client_options, credential, endpoint) = client_parts(auth, connect_timeout)?;
        let client = |name: &str| {
            let mut url = endpoint.clone();
            url.path_segments_mut()
                .map_err(|()| QueueError::Config(format!("{endpoint} cannot hold a path")))?
                .pop_if_empty()
                .push(name);
            QueueClient::new(
                url,
                credential.clone(),
                Some(QueueClientOptions {
                    client_options: client_options.clone(),
                    ..Default::default()
                }),
            )
            .map_err(|e| QueueError::Config(format!("queue client for {name}: {e}")))
        };
        let poison_name = format!("{}-poison", settings.name);
        Ok(Self {
            inner: Arc::new(Inner {
                work: client(&settings.name)?,
                poison: client(&poison_name)?,
                name: settings.name.clone(),
                poison_name,
                created: tokio::sync::OnceCell::new(),
            }),
        })
    }

    /// The work queue's name (`REPORT_QUEUE`).
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The poison queue's name (`<REPORT_QUEUE>-poison`).
    pub fn poison_name(&self) -> &str {
        &self.inner.poison_name
    }

    fn client(&self, which: Which) -> (&QueueClient, &str) {
        match which {
            Which::Work => (&self.inner.work, &self.inner.name),
            Which::Poison => (&self.inner.poison, &self.inner.poison_name),
        }
    }

    /// Creates the queue `which` when it does not exist (an existing one is fine).
    pub async fn create_if_missing(&self, which: Which) -> Result<(), QueueError> {
        let (client, name) = self.client(which);
        match timed(client.create(None)).await {
            Ok(_) => Ok(()),
            Err(e) if e.http_status() == Some(StatusCode::Conflict) => Ok(()),
            Err(e) => Err(map_error(e, name)),
        }
    }

    /// Sends every message of `messages`, [`ENQUEUE_CONCURRENCY`] at a time, creating the
    /// work queue first if missing; one result per message, in order (a failed send does not
    /// stop the others).
    pub async fn enqueue(&self, messages: &[ReportMessage]) -> Vec<Result<(), QueueError>> {
        if let Err(e) = self
            .inner
            .created
            .get_or_try_init(|| self.create_if_missing(Which::Work))
            .await
        {
            let reason = e.to_string();
            return messages
                .iter()
                .map(|_| {
                    Err(QueueError::Unavailable {
                        queue: self.inner.name.clone(),
                        reason: reason.clone(),
                    })
                })
                .collect();
        }
        // The futures are made first, so that the stream holds no closure over borrows
        // (which would not be `Send` for every lifetime).
        let sends: Vec<_> = messages
            .iter()
            .map(|m| self.send_text(Which::Work, m.encode()))
            .collect();
        futures::stream::iter(sends)
            .buffered(ENQUEUE_CONCURRENCY)
            .collect()
            .await
    }

    /// Sends one message with `text` as it is (no encoding) to `which`.
    pub async fn send_text(&self, which: Which, text: String) -> Result<(), QueueError> {
        let (client, name) = self.client(which);
        let message = QueueMessage {
            message_text: Some(text),
        };
        let content = message
            .try_into()
            .map_err(|e: azure_core::Error| QueueError::Config(e.to_string()))?;
        timed(client.send_message(content, None))
            .await
            .map(|_| ())
            .map_err(|e| map_error(e, name))
    }

    /// The approximate number of messages of `which` (`x-ms-approximate-messages-count`);
    /// 0 when the queue does not exist.
    pub async fn approximate_count(&self, which: Which) -> Result<u64, QueueError> {
        let (client, name) = self.client(which);
        match timed(client.get_properties(None)).await {
            Ok(response) => Ok(response
                .approximate_messages_count()
                .map_err(|e| map_error(e, name))?
                .unwrap_or(0)
                .max(0) as u64),
            Err(e) if e.http_status() == Some(StatusCode::NotFound) => Ok(0),
            Err(e) => Err(map_error(e, name)),
        }
    }

    /// The approximate number of messages in the poison queue (0 when it does not exist).
    pub async fn poison_count(&self) -> Result<u64, QueueError> {
        self.approximate_count(Which::Poison).await
    }

    /// Dequeues up to `max` (1-32) messages of `which`, each invisible to other receivers for
    /// `visibility` (whole seconds, at least 1); empty when the queue is empty or absent.
    pub async fn receive(
        &self,
        which: Which,
        max: u8,
        visibility: Duration,
    ) -> Result<Vec<Received>, QueueError> {
        let (client, name) = self.client(which);
        let options = QueueClientReceiveMessagesOptions {
            number_of_messages: Some(i32::from(max.clamp(1, 32))),
            visibility_timeout: Some(visibility.as_secs().max(1) as i32),
            ..Default::default()
        };
        let received = async {
            let response = client.receive_messages(Some(options)).await?;
            response.into_model()
        };
        let messages = match timed(received).await {
            Ok(m) => m.items.unwrap_or_default(),
            Err(e) if e.http_status() == Some(StatusCode::NotFound) => return Ok(Vec::new()),
            Err(e) => return Err(map_error(e, name)),
        };
        let rfc3339 = |t: Option<azure_core::time::OffsetDateTime>| {
            t.map(|t| azure_core::time::to_rfc3339(&t))
        };
        Ok(messages
            .into_iter()
            .filter_map(|m| {
                Some(Received {
                    id: m.message_id?,
                    pop_receipt: m.pop_receipt?,
                    dequeue_count: m.dequeue_count.unwrap_or(1).max(0) as u32,
                    text: m.message_text.unwrap_or_default(),
                    insertion_time: rfc3339(m.insertion_time),
                    next_visible_time: rfc3339(m.time_next_visible),
                })
            })
            .collect())
    }

    /// Deletes a dequeued message (its pop receipt must be the latest). A message already
    /// gone (404) is not an error.
    pub async fn delete(&self, which: Which, message: &Received) -> Result<(), QueueError> {
        let (client, name) = self.client(which);
        match timed(client.delete_message(&message.id, &message.pop_receipt, None)).await {
            Ok(_) => Ok(()),
            Err(e) if e.http_status() == Some(StatusCode::NotFound) => Ok(()),
            Err(e) => Err(map_error(e, name)),
        }
    }
}

/// `call` within [`OPERATION_TIMEOUT`].
async fn timed<T>(call: impl Future<Output = azure_core::Result<T>>) -> azure_core::Result<T> {
    match tokio::time::timeout(OPERATION_TIMEOUT, call).await {
        Ok(result) => result,
        Err(_) => Err(azure_core::Error::with_message(
            azure_core::error::ErrorKind::Other,
            format!("no answer within {} s", OPERATION_TIMEOUT.as_secs()),
        )),
    }
}

/// The SDK's error as a [`QueueError`]: its status and kind, which carry no key.
fn map_error(e: azure_core::Error, queue: &str) -> QueueError {
    match e.http_status() {
        Some(StatusCode::Unauthorized | StatusCode::Forbidden) => {
            QueueError::Unauthorized(queue.to_string())
        }
        Some(status) => QueueError::Unavailable {
            queue: queue.to_string(),
            reason: format!("HTTP {}", u16::from(status)),
        },
        None => QueueError::Unavailable {
            queue: queue.to_string(),
            reason: e.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::configuration::Secret;

    #[test]
    fn a_message_is_base64_of_its_json_and_reads_back() {
        let m = ReportMessage {
            org_id: OrgId::parse("00000000-0000-0000-0000-000000000001", "org_id").unwrap(),
            date: "2025-12-15".parse().unwrap(),
            force: false,
            notify: true,
            job_id: None,
        };
        let json = BASE64.decode(m.encode()).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&json).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"org_id": "00000000-0000-0000-0000-000000000001",
                "date": "2025-12-15", "force": false, "notify": true})
        );
        assert_eq!(serde_json::from_slice::<ReportMessage>(&json).unwrap(), m);
    }

    #[test]
    fn the_queue_reaches_the_queue_endpoint_of_the_hosts_account() {
        let settings = QueueSettings {
            name: "daily-reports".into(),
            account: QueueAccount::ConnectionString(Secret::new(
                "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=a2V5;\
                 BlobEndpoint=http://127.0.0.1:1/devstoreaccount1;\
                 QueueEndpoint=http://127.0.0.1:2/devstoreaccount1",
            )),
        };
        let q = WorkQueue::new(&settings, Duration::from_secs(1)).unwrap();
        assert_eq!(
            q.inner.work.url().as_str(),
            "http://127.0.0.1:2/devstoreaccount1/daily-reports"
        );
        assert_eq!(q.poison_name(), "daily-reports-poison");
        let bad = QueueSettings {
            name: "q".into(),
            account: QueueAccount::ConnectionString(Secret::new("AccountName=a;AccountKey=!!")),
        };
        let e = WorkQueue::new(&bad, Duration::from_secs(1)).unwrap_err();
        assert!(e.to_string().contains("AzureWebJobsStorage"), "{e}");
        assert!(!e.to_string().contains("!!"), "{e}");
        let http = QueueSettings {
            name: "q".into(),
            account: QueueAccount::ServiceUri {
                uri: "http://st.queue.core.windows.net".into(),
                client_id: None,
                in_azure: true,
            },
        };
        let e = WorkQueue::new(&http, Duration::from_secs(1)).unwrap_err();
        assert!(e.to_string().contains("https"), "{e}");
    }
}
