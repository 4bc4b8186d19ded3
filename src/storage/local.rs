//! A local folder as object storage (used when no storage account is configured).
//!
//! `<dir>/<name>` holds an object's bytes, so the folder contains just the artifacts a person
//! wants; `<dir>/.meta/<name>.json` holds its content type, metadata and ETag. Writes stage the
//! body and the sidecar in temporary files next to their destinations and fsync them, then
//! rename the sidecar and rename (or hard-link, for create-only) the body into place and fsync
//! the folder, so a reader never sees a torn object (a [`Put::recomputable`] copy skips the
//! fsyncs: after a crash it may be missing or empty, which its reader detects). Conditions are checked and the renames done under a
//! process-wide lock and an exclusive file lock on `<dir>/.meta/.write.lock`, so handler
//! processes sharing one folder cannot both pass the same `If-Match`; the staging (the slow,
//! fsynced part) happens before the lock, so concurrent writes overlap it.

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{
    Condition, Entry, Object, Page, Put, StorageError, Stored, check_metadata, check_name,
};

/// The sidecar folder under the root.
const META_DIR: &str = ".meta";
/// Prefix of staged files; names starting with `.` are never objects (see `check_name`).
const TMP_PREFIX: &str = ".tmp-";

/// Serializes the check-and-commit step of writes within this process.
static WRITE_LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Objects as files under one folder (see the module docs for the layout).
#[derive(Debug, Clone)]
pub struct LocalStore {
    /// Absolute path of the root folder.
    dir: PathBuf,
}

/// What `.meta/<name>.json` holds.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Sidecar {
    etag: String,
    content_type: Option<String>,
    #[serde(default)]
    metadata: BTreeMap<String, String>,
}

impl LocalStore {
    /// Creates `dir` (and its parents) if missing and opens it.
    ///
    /// Errors: [`StorageError::Config`] when the folder cannot be created or resolved.
    pub async fn open(dir: &Path) -> Result<Self, StorageError> {
        let wanted = dir.to_path_buf();
        let dir = blocking(move || {
            fs::create_dir_all(&wanted)
                .and_then(|()| fs::canonicalize(&wanted))
                .map_err(|e| {
                    StorageError::Config(format!("cannot create folder {}: {e}", wanted.display()))
                })
        })
        .await?;
        Ok(Self { dir })
    }

    /// `local folder <absolute path>`.
    pub fn describe(&self) -> String {
        format!("local folder {}", self.dir.display())
    }

    /// Writes `body` as `name` (see [`Put`] for conditions).
    ///
    /// Errors: `Config` for a bad name or metadata; `AlreadyExists`, `ConditionFailed` and
    /// `NotFound` for unmet conditions; `Unavailable` for I/O errors.
    pub async fn put(&self, name: &str, body: Bytes, put: &Put) -> Result<Stored, StorageError> {
        check_name(name)?;
        check_metadata(&put.metadata)?;
        let dest = self.dir.join(name);
        let meta = self.meta_path(name);
        let sidecar = Sidecar {
            etag: etag_of(&body),
            content_type: Some(put.content_type.to_string()),
            metadata: put.metadata.clone(),
        };
        let etag = sidecar.etag.clone();
        let sidecar = serde_json::to_vec(&sidecar)
            .map_err(|e| StorageError::Unavailable(format!("cannot encode metadata: {e}")))?;
        // Both files are written and fsynced before the lock is taken, so concurrent puts
        // overlap their slow part; under the lock only the checks and renames happen.
        let (staged_dest, staged_meta, sync) = (dest.clone(), meta.clone(), !put.recomputable);
        let (tmp, meta_tmp) = blocking(move || {
            let tmp = stage(&staged_dest, &body, sync)?;
            match stage(&staged_meta, &sidecar, sync) {
                Ok(meta_tmp) => Ok((tmp, meta_tmp)),
                Err(e) => {
                    let _ = fs::remove_file(&tmp);
                    Err(e)
                }
            }
        })
        .await?;
        let (condition, name_owned, commit_dest) =
            (put.condition.clone(), name.to_string(), dest.clone());
        let _guard = WRITE_LOCK.lock().await;
        let lock = self.dir.join(META_DIR).join(".write.lock");
        blocking(move || {
            let _folder = folder_lock(&lock)?;
            let result = commit(
                &tmp,
                &meta_tmp,
                &commit_dest,
                &meta,
                &condition,
                &name_owned,
            )
            .and_then(|()| {
                if sync {
                    sync_parent(&commit_dest)
                } else {
                    Ok(())
                }
            });
            // Already gone after their renames.
            let _ = fs::remove_file(&tmp);
            let _ = fs::remove_file(&meta_tmp);
            result
        })
        .await?;
        Ok(Stored {
            location: dest.display().to_string(),
            etag,
        })
    }

    /// Reads `name`; `Ok(None)` when absent.
    pub async fn get(&self, name: &str) -> Result<Option<Object>, StorageError> {
        check_name(name)?;
        let path = self.dir.join(name);
        let meta = self.meta_path(name);
        blocking(move || {
            let bytes = match fs::read(&path) {
                Ok(bytes) => bytes,
                Err(e) if absent(&e) => return Ok(None),
                Err(e) => return Err(io_error(&path, e)),
            };
            let sidecar = read_sidecar(&meta).unwrap_or_default();
            Ok(Some(Object {
                etag: etag_of(&bytes),
                body: Bytes::from(bytes),
                content_type: sidecar.content_type,
                metadata: sidecar.metadata,
            }))
        })
        .await
    }

    /// Lists names starting with `prefix`, in byte order, `max` (at least 1) per page; the
    /// continuation token is the last name of the previous page. Reads sidecars, not bodies.
    pub async fn list(
        &self,
        prefix: &str,
        continuation: Option<String>,
        max: u32,
    ) -> Result<Page, StorageError> {
        // Only the folder holding the prefix needs walking.
        let base = prefix.rfind('/').map_or("", |i| &prefix[..i]);
        if !base.is_empty() {
            check_name(base)?;
        }
        let root = self.dir.clone();
        let (base, prefix) = (base.to_string(), prefix.to_string());
        let meta_root = self.dir.join(META_DIR);
        blocking(move || {
            let mut names = Vec::new();
            walk(&root.join(&base), &base, &mut names)?;
            names.retain(|n| n.starts_with(&prefix) && continuation.as_ref().is_none_or(|c| n > c));
            names.sort();
            let max = max.max(1) as usize;
            let more = names.len() > max;
            names.truncate(max);
            let next = if more { names.last().cloned() } else { None };
            let entries = names
                .into_iter()
                .map(|name| entry(&root, &meta_root, name))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Page { entries, next })
        })
        .await
    }

    /// Checks that the folder is still there.
    pub async fn probe(&self) -> Result<(), StorageError> {
        match tokio::fs::metadata(&self.dir).await {
            Ok(m) if m.is_dir() => Ok(()),
            Ok(_) => Err(StorageError::Unavailable(format!(
                "{} is not a folder",
                self.dir.display()
            ))),
            Err(e) => Err(io_error(&self.dir, e)),
        }
    }

    /// The file path of `name`.
    pub fn location(&self, name: &str) -> String {
        self.dir.join(name).display().to_string()
    }

    /// Deletes `name` and its sidecar; an absent one is not an error.
    pub async fn delete(&self, name: &str) -> Result<(), StorageError> {
        check_name(name)?;
        let path = self.dir.join(name);
        let meta = self.meta_path(name);
        let _guard = WRITE_LOCK.lock().await;
        let lock = self.dir.join(META_DIR).join(".write.lock");
        blocking(move || {
            let _folder = folder_lock(&lock)?;
            for file in [&path, &meta] {
                match fs::remove_file(file) {
                    Ok(()) => {}
                    Err(e) if absent(&e) => {}
                    Err(e) => return Err(io_error(file, e)),
                }
            }
            Ok(())
        })
        .await
    }

    fn meta_path(&self, name: &str) -> PathBuf {
        self.dir.join(META_DIR).join(format!("{name}.json"))
    }
}

/// Quoted hex of the first 16 bytes of the body's SHA-256: stable and comparable.
fn etag_of(body: &[u8]) -> String {
    let digest = Sha256::digest(body);
    let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!("\"{hex}\"")
}

/// The folder's write lock, held until the returned file is dropped: an exclusive advisory
/// lock (`flock`) that other processes on the same folder wait for.
fn folder_lock(path: &Path) -> Result<fs::File, StorageError> {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).map_err(|e| io_error(parent, e))?;
    }
    let file = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(|e| io_error(path, e))?;
    file.lock().map_err(|e| io_error(path, e))?;
    Ok(file)
}

/// Writes `body` to a fresh temporary file in `dest`'s folder, and fsyncs it when `sync`.
fn stage(dest: &Path, body: &[u8], sync: bool) -> Result<PathBuf, StorageError> {
    let tmp = temp_next_to(dest)?;
    let write = || -> io::Result<()> {
        let mut file = fs::File::create_new(&tmp)?;
        file.write_all(body)?;
        if sync { file.sync_all() } else { Ok(()) }
    };
    write().map_err(|e| {
        let _ = fs::remove_file(&tmp);
        io_error(&tmp, e)
    })?;
    Ok(tmp)
}

/// Checks the condition, moves the staged sidecar `meta_tmp` to `meta`, then `tmp` to `dest`
/// (the caller fsyncs the folder).
fn commit(
    tmp: &Path,
    meta_tmp: &Path,
    dest: &Path,
    meta: &Path,
    condition: &Condition,
    name: &str,
) -> Result<(), StorageError> {
    match condition {
        Condition::Always => {}
        Condition::IfNotExists => {
            if dest.exists() {
                return Err(StorageError::AlreadyExists(name.to_string()));
            }
        }
        Condition::IfMatch(expected) => match fs::read(dest) {
            Ok(current) if etag_of(&current) == *expected => {}
            Ok(_) => return Err(StorageError::ConditionFailed(name.to_string())),
            Err(e) if absent(&e) => return Err(StorageError::NotFound(name.to_string())),
            Err(e) => return Err(io_error(dest, e)),
        },
    }
    fs::rename(meta_tmp, meta).map_err(|e| io_error(meta, e))?;
    let placed = match condition {
        // Fails atomically if another process created `dest` meanwhile.
        Condition::IfNotExists => fs::hard_link(tmp, dest),
        _ => fs::rename(tmp, dest),
    };
    match placed {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            return Err(StorageError::AlreadyExists(name.to_string()));
        }
        Err(e) => return Err(io_error(dest, e)),
    }
    Ok(())
}

fn read_sidecar(meta: &Path) -> Option<Sidecar> {
    serde_json::from_slice(&fs::read(meta).ok()?).ok()
}

/// A listing entry: size from the file system, ETag and metadata from the sidecar (hashing
/// the file only when the sidecar is missing, e.g. for a file copied in by hand).
fn entry(root: &Path, meta_root: &Path, name: String) -> Result<Entry, StorageError> {
    let path = root.join(&name);
    let size = fs::metadata(&path).map_err(|e| io_error(&path, e))?.len();
    let (etag, metadata) = match read_sidecar(&meta_root.join(format!("{name}.json"))) {
        Some(s) => (s.etag, s.metadata),
        None => (
            etag_of(&fs::read(&path).map_err(|e| io_error(&path, e))?),
            BTreeMap::new(),
        ),
    };
    Ok(Entry {
        name,
        etag,
        size,
        metadata,
    })
}

/// Collects the `/`-joined names of files under `dir` (whose name is `rel`), skipping
/// dot-entries (`.meta`, staged files). A missing folder holds nothing.
fn walk(dir: &Path, rel: &str, out: &mut Vec<String>) -> Result<(), StorageError> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if absent(&e) => return Ok(()),
        Err(e) => return Err(io_error(dir, e)),
    };
    for entry in entries {
        let entry = entry.map_err(|e| io_error(dir, e))?;
        let Some(file_name) = entry.file_name().to_str().map(str::to_string) else {
            continue;
        };
        if file_name.starts_with('.') {
            continue;
        }
        let name = if rel.is_empty() {
            file_name
        } else {
            format!("{rel}/{file_name}")
        };
        let path = entry.path();
        let kind = entry.file_type().map_err(|e| io_error(&path, e))?;
        if kind.is_dir() {
            walk(&path, &name, out)?;
        } else if fs::metadata(&path).is_ok_and(|m| m.is_file()) {
            out.push(name);
        }
    }
    Ok(())
}

/// A fresh temporary path in `dest`'s folder (created if missing).
fn temp_next_to(dest: &Path) -> Result<PathBuf, StorageError> {
    let parent = dest
        .parent()
        .ok_or_else(|| StorageError::Config(format!("{} has no folder", dest.display())))?;
    fs::create_dir_all(parent).map_err(|e| io_error(parent, e))?;
    Ok(parent.join(format!("{TMP_PREFIX}{}", uuid::Uuid::new_v4().simple())))
}

/// Makes a rename durable.
fn sync_parent(dest: &Path) -> Result<(), StorageError> {
    match dest.parent() {
        Some(parent) => fs::File::open(parent)
            .and_then(|d| d.sync_all())
            .map_err(|e| io_error(parent, e)),
        None => Ok(()),
    }
}

/// The object is not there (or a folder/file stands where a file/folder would be).
fn absent(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::NotFound | io::ErrorKind::NotADirectory | io::ErrorKind::IsADirectory
    )
}

fn io_error(path: &Path, e: io::Error) -> StorageError {
    StorageError::Unavailable(format!("{}: {e}", path.display()))
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StorageError> + Send + 'static,
) -> Result<T, StorageError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| StorageError::Unavailable(format!("file task failed: {e}")))?
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Writes `body` as `name` (`text/csv`) under `condition`.
    async fn put_if(
        s: &LocalStore,
        name: &str,
        body: impl Into<Bytes>,
        condition: Condition,
    ) -> Result<Stored, StorageError> {
        let put = Put {
            condition,
            ..Put::new("text/csv")
        };
        s.put(name, body.into(), &put).await
    }

    async fn store() -> (LocalStore, PathBuf) {
        let dir =
            std::env::temp_dir().join(format!("local-store-{}", uuid::Uuid::new_v4().simple()));
        (LocalStore::open(&dir).await.unwrap(), dir)
    }

    #[tokio::test]
    async fn create_only_twice_keeps_the_first_body() {
        let (s, dir) = store().await;
        let first = put_if(&s, "a/b.csv", "one", Condition::IfNotExists)
            .await
            .unwrap();
        let again = put_if(&s, "a/b.csv", "two", Condition::IfNotExists).await;
        assert!(
            matches!(again, Err(StorageError::AlreadyExists(ref n)) if n == "a/b.csv"),
            "{again:?}"
        );
        let got = s.get("a/b.csv").await.unwrap().unwrap();
        assert_eq!(got.body, Bytes::from("one"));
        assert_eq!(got.etag, first.etag);
        assert_eq!(got.content_type.as_deref(), Some("text/csv"));
        assert_eq!(
            first.location,
            dir.canonicalize()
                .unwrap()
                .join("a/b.csv")
                .display()
                .to_string()
        );
        // Only the artifact and the sidecar folder: no staged files left behind.
        let mut left: Vec<_> = fs::read_dir(dir.join("a"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        left.sort();
        assert_eq!(left, vec!["b.csv"]);
        fs::remove_dir_all(dir).unwrap();
    }

    #[tokio::test]
    async fn a_recomputable_write_keeps_conditions_and_leaves_no_staged_files() {
        let (s, dir) = store().await;
        let cache = |condition| Put {
            condition,
            recomputable: true,
            ..Put::new("application/json")
        };
        let first = s
            .put("c/d.json", Bytes::from("1"), &cache(Condition::IfNotExists))
            .await
            .unwrap();
        let again = s
            .put("c/d.json", Bytes::from("2"), &cache(Condition::IfNotExists))
            .await;
        assert!(
            matches!(again, Err(StorageError::AlreadyExists(_))),
            "{again:?}"
        );
        let got = s.get("c/d.json").await.unwrap().unwrap();
        assert_eq!((got.body, got.etag), (Bytes::from("1"), first.etag));
        assert_eq!(got.content_type.as_deref(), Some("application/json"));
        s.put("c/d.json", Bytes::from("3"), &cache(Condition::Always))
            .await
            .unwrap();
        assert_eq!(
            s.get("c/d.json").await.unwrap().unwrap().body,
            Bytes::from("3")
        );
        let left: Vec<_> = fs::read_dir(dir.join("c"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(left, vec!["d.json"]);
        fs::remove_dir_all(dir).unwrap();
    }

    #[tokio::test]
    async fn if_match_replaces_only_the_version_read() {
        let (s, dir) = store().await;
        let v1 = s
            .put("x.json", Bytes::from("1"), &Put::new("application/json"))
            .await
            .unwrap();
        let v2 = put_if(&s, "x.json", "2", Condition::IfMatch(v1.etag.clone()))
            .await
            .unwrap();
        assert_ne!(v1.etag, v2.etag);
        let stale = put_if(&s, "x.json", "3", Condition::IfMatch(v1.etag)).await;
        assert!(
            matches!(stale, Err(StorageError::ConditionFailed(_))),
            "{stale:?}"
        );
        let missing = put_if(&s, "y.json", "3", Condition::IfMatch(v2.etag)).await;
        assert!(
            matches!(missing, Err(StorageError::NotFound(_))),
            "{missing:?}"
        );
        assert_eq!(
            s.get("x.json").await.unwrap().unwrap().body,
            Bytes::from("2")
        );
        assert!(s.get("y.json").await.unwrap().is_none());
        fs::remove_dir_all(dir).unwrap();
    }

    #[tokio::test]
    async fn lists_by_prefix_in_pages_with_metadata() {
        let (s, dir) = store().await;
        for i in 0..5 {
            let mut put = Put::new("text/csv");
            put.metadata.insert("row_count".into(), i.to_string());
            s.put(
                &format!("r/2024/d{i}.csv"),
                Bytes::from(vec![b'x'; i]),
                &put,
            )
            .await
            .unwrap();
        }
        s.put("r/other.csv", Bytes::new(), &Put::new("text/csv"))
            .await
            .unwrap();
        s.put("rz.csv", Bytes::new(), &Put::new("text/csv"))
            .await
            .unwrap();
        let (mut seen, mut next) = (Vec::new(), None);
        loop {
            let page = s.list("r/2024/d", next, 2).await.unwrap();
            assert!(page.entries.len() <= 2);
            seen.extend(page.entries);
            next = page.next;
            if next.is_none() {
                break;
            }
        }
        let names: Vec<_> = seen.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "r/2024/d0.csv",
                "r/2024/d1.csv",
                "r/2024/d2.csv",
                "r/2024/d3.csv",
                "r/2024/d4.csv"
            ]
        );
        assert_eq!(seen[3].size, 3);
        assert_eq!(
            seen[3].metadata.get("row_count").map(String::as_str),
            Some("3")
        );
        assert_eq!(seen[3].etag, etag_of(b"xxx"));
        let all = s.list("", None, 100).await.unwrap();
        assert_eq!(all.entries.len(), 7);
        assert!(all.next.is_none());
        assert!(
            s.list("nothing/here", None, 10)
                .await
                .unwrap()
                .entries
                .is_empty()
        );
        fs::remove_dir_all(dir).unwrap();
    }

    #[tokio::test]
    async fn rejects_names_that_escape_or_collide_with_the_layout() {
        let (s, dir) = store().await;
        for bad in [
            "../x",
            "a/../../x",
            "/etc/passwd",
            "a//b",
            "a/",
            "",
            ".meta/x.json",
            "a/./b",
        ] {
            let r = s.put(bad, Bytes::from("x"), &Put::new("text/plain")).await;
            assert!(matches!(r, Err(StorageError::Config(_))), "{bad:?}: {r:?}");
            assert!(
                matches!(s.get(bad).await, Err(StorageError::Config(_))),
                "{bad:?}"
            );
        }
        assert!(matches!(
            s.list("../", None, 10).await,
            Err(StorageError::Config(_))
        ));
        let mut put = Put::new("text/plain");
        put.metadata.insert("Bad-Key".into(), "v".into());
        assert!(matches!(
            s.put("ok", Bytes::new(), &put).await,
            Err(StorageError::Config(_))
        ));
        s.probe().await.unwrap();
        assert!(s.describe().starts_with("local folder /"));
        fs::remove_dir_all(dir).unwrap();
    }

    #[tokio::test]
    async fn concurrent_create_only_writers_have_one_winner() {
        let (s, dir) = store().await;
        let tasks: Vec<_> = (0..8)
            .map(|i| {
                let s = s.clone();
                tokio::spawn(async move {
                    put_if(&s, "once.txt", format!("{i}"), Condition::IfNotExists).await
                })
            })
            .collect();
        let mut ok = 0;
        for t in tasks {
            match t.await.unwrap() {
                Ok(_) => ok += 1,
                Err(StorageError::AlreadyExists(_)) => {}
                Err(e) => panic!("{e}"),
            }
        }
        assert_eq!(ok, 1);
        fs::remove_dir_all(dir).unwrap();
    }
}
