//! The storage contract (`call_analytics::storage::Storage`), written once and run against both
//! backends: a fresh local folder and a fresh Azurite container (`AZURITE_CONNECTION_STRING`,
//! exported by the test scripts). Then what only the Blob Storage backend does: creating its
//! container, refusing a wrong key, account URLs, an unreachable endpoint.

use std::collections::BTreeMap;

use bytes::Bytes;
use call_analytics::configuration::StorageSettings;
use call_analytics::storage::{Condition, Put, Storage, StorageError};

use crate::helpers::{azurite, container_settings, fresh_container_name, fresh_store};

fn put(condition: Condition) -> Put {
    Put {
        condition,
        ..Put::new("text/csv")
    }
}

fn with_metadata(pairs: &[(&str, &str)]) -> Put {
    let metadata: BTreeMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Put {
        metadata,
        ..Put::new("text/csv")
    }
}

// ---------------------------------------------------------------- the contract, both backends

/// Where a contract runs.
#[derive(Clone, Copy)]
enum Backend {
    /// `StorageSettings::Local` on a fresh temporary folder.
    LocalFolder,
    /// A fresh Azurite container.
    Azurite,
}

/// A fresh, empty store; the folder guard (local backend) lives as long as the test needs it.
async fn fresh(backend: Backend) -> (Storage, Option<tempfile::TempDir>) {
    match backend {
        Backend::LocalFolder => {
            let dir = tempfile::tempdir().expect("tempdir");
            let settings = StorageSettings::Local {
                dir: dir.path().to_path_buf(),
            };
            let store = Storage::connect(&settings).await.expect("local folder");
            (store, Some(dir))
        }
        Backend::Azurite => (fresh_store().await.0, None),
    }
}

/// Each contract below becomes two tests, `<contract>::local_folder` and `<contract>::azurite`.
macro_rules! on_both_backends {
    ($($contract:ident),* $(,)?) => {$(
        mod $contract {
            #[tokio::test]
            async fn local_folder() {
                super::$contract(super::Backend::LocalFolder).await
            }
            #[tokio::test]
            async fn azurite() {
                super::$contract(super::Backend::Azurite).await
            }
        }
    )*};
}

on_both_backends!(
    round_trips_body_content_type_and_metadata,
    create_only_twice_keeps_the_first_body,
    if_match_replaces_only_the_version_read,
    concurrent_create_only_writers_have_one_winner,
    lists_a_prefix_in_pages_with_metadata,
    keeps_names_with_reserved_and_non_ascii_characters,
);

async fn round_trips_body_content_type_and_metadata(backend: Backend) {
    let (store, _dir) = fresh(backend).await;
    // Keys whose Shared Key header order differs between byte order and the service's order.
    let put = with_metadata(&[("row_count", "42"), ("a_1", "x"), ("a1", "y"), ("ab", "z")]);
    let body = Bytes::from("user_id,failures\nu1,3\n");
    let stored = store
        .put("reports/2024-05-01/stats.csv", body.clone(), &put)
        .await
        .expect("put");
    assert!(
        stored.location.ends_with("/reports/2024-05-01/stats.csv"),
        "{}",
        stored.location
    );
    assert!(!stored.etag.is_empty());

    let got = store
        .get("reports/2024-05-01/stats.csv")
        .await
        .expect("get")
        .expect("present");
    assert_eq!(got.body, body);
    assert_eq!(got.etag, stored.etag);
    assert_eq!(got.content_type.as_deref(), Some("text/csv"));

    let page = store.list("reports/", None, 10).await.expect("list");
    assert_eq!(page.entries.len(), 1);
    let entry = &page.entries[0];
    assert_eq!(entry.name, "reports/2024-05-01/stats.csv");
    assert_eq!(entry.etag, stored.etag);
    assert_eq!(entry.size, body.len() as u64);
    assert_eq!(entry.metadata, put.metadata);

    assert!(
        store
            .get("reports/missing.csv")
            .await
            .expect("get missing")
            .is_none()
    );
}

async fn create_only_twice_keeps_the_first_body(backend: Backend) {
    let (store, _dir) = fresh(backend).await;
    let first = store
        .put(
            "once.csv",
            Bytes::from("first"),
            &put(Condition::IfNotExists),
        )
        .await
        .expect("first");
    let second = store
        .put(
            "once.csv",
            Bytes::from("second"),
            &put(Condition::IfNotExists),
        )
        .await;
    assert!(
        matches!(second, Err(StorageError::AlreadyExists(ref n)) if n == "once.csv"),
        "{second:?}"
    );
    let got = store.get("once.csv").await.expect("get").expect("present");
    assert_eq!(got.body, Bytes::from("first"));
    assert_eq!(got.etag, first.etag);
}

async fn if_match_replaces_only_the_version_read(backend: Backend) {
    let (store, _dir) = fresh(backend).await;
    let v1 = store
        .put("doc.json", Bytes::from("1"), &put(Condition::Always))
        .await
        .expect("v1");
    let v2 = store
        .put(
            "doc.json",
            Bytes::from("2"),
            &put(Condition::IfMatch(v1.etag.clone())),
        )
        .await
        .expect("v2");
    assert_ne!(v1.etag, v2.etag);
    let stale = store
        .put(
            "doc.json",
            Bytes::from("3"),
            &put(Condition::IfMatch(v1.etag.clone())),
        )
        .await;
    assert!(
        matches!(stale, Err(StorageError::ConditionFailed(_))),
        "{stale:?}"
    );
    let absent = store
        .put(
            "nope.json",
            Bytes::from("3"),
            &put(Condition::IfMatch(v1.etag)),
        )
        .await;
    assert!(
        matches!(absent, Err(StorageError::NotFound(_))),
        "{absent:?}"
    );
    assert_eq!(
        store
            .get("doc.json")
            .await
            .expect("get")
            .expect("present")
            .body,
        Bytes::from("2")
    );
}

async fn concurrent_create_only_writers_have_one_winner(backend: Backend) {
    let (store, _dir) = fresh(backend).await;
    let writers: Vec<_> = (0..6)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .put(
                        "race.csv",
                        Bytes::from(format!("writer {i}")),
                        &put(Condition::IfNotExists),
                    )
                    .await
            })
        })
        .collect();
    let mut winners = Vec::new();
    for (i, writer) in writers.into_iter().enumerate() {
        match writer.await.expect("writer task") {
            Ok(stored) => winners.push((i, stored)),
            Err(StorageError::AlreadyExists(_)) => {}
            Err(e) => panic!("writer {i}: {e}"),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one create-only writer wins");
    let (i, stored) = &winners[0];
    let got = store.get("race.csv").await.expect("get").expect("present");
    assert_eq!(got.body, Bytes::from(format!("writer {i}")));
    assert_eq!(&got.etag, &stored.etag);
}

async fn lists_a_prefix_in_pages_with_metadata(backend: Backend) {
    let (store, _dir) = fresh(backend).await;
    for i in 0..5 {
        let put = with_metadata(&[
            ("kpi_total_calls", &(i * 10).to_string()),
            ("report_date", "2024-05-01"),
        ]);
        store
            .put(
                &format!("daily/org1/2024-05-0{i}.json"),
                Bytes::from(vec![b'x'; i]),
                &put,
            )
            .await
            .expect("put");
    }
    store
        .put(
            "daily/org10/2024-05-01.json",
            Bytes::new(),
            &Put::new("application/json"),
        )
        .await
        .expect("put");
    store
        .put("other/x.json", Bytes::new(), &Put::new("application/json"))
        .await
        .expect("put");

    let (mut entries, mut next, mut pages) = (Vec::new(), None, 0);
    loop {
        let page = store.list("daily/org1/", next, 2).await.expect("list");
        pages += 1;
        assert!(
            page.entries.len() <= 2,
            "page {pages} has {} entries",
            page.entries.len()
        );
        entries.extend(page.entries);
        next = page.next;
        if next.is_none() {
            break;
        }
        assert!(pages < 10, "pagination does not end");
    }
    assert_eq!(pages, 3);
    let names: Vec<_> = entries.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "daily/org1/2024-05-00.json",
            "daily/org1/2024-05-01.json",
            "daily/org1/2024-05-02.json",
            "daily/org1/2024-05-03.json",
            "daily/org1/2024-05-04.json"
        ]
    );
    for (i, entry) in entries.iter().enumerate() {
        assert_eq!(entry.size, i as u64);
        assert_eq!(
            entry.metadata.get("kpi_total_calls"),
            Some(&(i * 10).to_string()),
            "{}",
            entry.name
        );
        assert_eq!(
            entry.metadata.get("report_date").map(String::as_str),
            Some("2024-05-01")
        );
        assert!(!entry.etag.is_empty());
    }
    let everything = store.list("", None, 5000).await.expect("list all");
    assert_eq!(everything.entries.len(), 7);
    assert!(everything.next.is_none());
    assert!(
        store
            .list("nothing/", None, 10)
            .await
            .expect("list empty")
            .entries
            .is_empty()
    );
}

async fn keeps_names_with_reserved_and_non_ascii_characters(backend: Backend) {
    let (store, _dir) = fresh(backend).await;
    let names = [
        "dir with space/file name.csv",
        "plus+and=equals.csv",
        "ümlaut/grüße.txt",
        "100%/50%25.txt",
    ];
    for (i, name) in names.iter().enumerate() {
        let meta = with_metadata(&[("index", &i.to_string())]);
        let stored = store
            .put(name, Bytes::from(name.to_string()), &meta)
            .await
            .unwrap_or_else(|e| panic!("put {name:?}: {e}"));
        let got = store
            .get(name)
            .await
            .unwrap_or_else(|e| panic!("get {name:?}: {e}"))
            .expect("present");
        assert_eq!(got.body, Bytes::from(name.to_string()), "{name:?}");
        assert_eq!(got.etag, stored.etag, "{name:?}");
        let again = store
            .put(name, Bytes::new(), &put(Condition::IfNotExists))
            .await;
        assert!(
            matches!(again, Err(StorageError::AlreadyExists(_))),
            "{name:?}: {again:?}"
        );
    }
    let page = store.list("", None, 100).await.expect("list");
    let mut listed: Vec<_> = page.entries.iter().map(|e| e.name.as_str()).collect();
    let mut expected = names.to_vec();
    listed.sort();
    expected.sort();
    assert_eq!(listed, expected);
    let by_prefix = store
        .list("ümlaut/", None, 10)
        .await
        .expect("list by prefix");
    assert_eq!(by_prefix.entries.len(), 1);
    assert_eq!(by_prefix.entries[0].name, "ümlaut/grüße.txt");
}

// ---------------------------------------------------------------- Blob Storage only

#[tokio::test]
async fn blob_store_creates_its_container_when_missing() {
    let (store, container) = fresh_store().await;
    assert!(matches!(store, Storage::Blob(_)));
    store.probe().await.expect("probe");
    let description = store.describe();
    assert!(
        description.starts_with(&format!("blob container {container} at http")),
        "{description}"
    );
    assert!(
        !description.contains("AccountKey") && !description.contains("=="),
        "{description}"
    );
    // Connecting again to the now existing container is fine.
    let again = Storage::connect(&container_settings(azurite(), &container))
        .await
        .expect("reconnect");
    again.probe().await.expect("probe");
    // A blob's location names the container.
    let stored = again
        .put(
            "reports/2024-05-01/stats.csv",
            Bytes::from("x"),
            &put(Condition::Always),
        )
        .await
        .expect("put");
    assert!(
        stored
            .location
            .ends_with(&format!("/{container}/reports/2024-05-01/stats.csv")),
        "{}",
        stored.location
    );
}

#[tokio::test]
async fn blob_store_refuses_a_wrong_account_key() {
    let good = azurite();
    let wrong_key = "d3Jvbmcga2V5IGZvciB0aGUgdGVzdCBhY2NvdW50IG9ubHk=";
    let wrong: String = good
        .split(';')
        .map(|part| {
            if part.to_ascii_lowercase().starts_with("accountkey=") {
                format!("AccountKey={wrong_key}")
            } else {
                part.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(";");
    assert!(
        wrong.contains(wrong_key),
        "AZURITE_CONNECTION_STRING has no AccountKey to replace: use the explicit form"
    );
    let refused = Storage::connect(&container_settings(wrong, &fresh_container_name())).await;
    match refused {
        Err(StorageError::Unauthorized(message)) => {
            assert!(!message.contains(wrong_key), "{message}")
        }
        other => panic!("a wrong key must be refused as Unauthorized, got {other:?}"),
    }
}

#[tokio::test]
async fn blob_store_reaches_azurite_through_an_account_url_with_the_development_key() {
    let endpoint = azurite()
        .split(';')
        .find_map(|part| part.strip_prefix("BlobEndpoint="))
        .expect("AZURITE_CONNECTION_STRING has a BlobEndpoint")
        .to_string();
    let settings = StorageSettings::AccountUrl {
        account_url: endpoint,
        client_id: None,
        in_azure: false,
        container: fresh_container_name(),
    };
    let store = Storage::connect(&settings)
        .await
        .expect("connect by account URL");
    store
        .put("a.txt", Bytes::from("a"), &Put::new("text/plain"))
        .await
        .expect("put");
    assert_eq!(
        store
            .get("a.txt")
            .await
            .expect("get")
            .expect("present")
            .body,
        Bytes::from("a")
    );
}

#[tokio::test]
async fn blob_store_reports_an_unreachable_endpoint_as_unavailable() {
    let key =
        "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
    let closed = format!(
        "AccountName=devstoreaccount1;AccountKey={key};BlobEndpoint=http://127.0.0.1:9/devstoreaccount1"
    );
    match Storage::connect(&container_settings(closed, &fresh_container_name())).await {
        Err(StorageError::Unavailable(message)) => assert!(!message.contains(key), "{message}"),
        other => panic!("expected Unavailable, got {other:?}"),
    }
}
