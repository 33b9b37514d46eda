//! Silences: matchers and a time range during which matching incidents
//! are still detected and indexed, but nobody is notified.
//!
//! On disk: `DATA_DIR/silences.json`, a JSON object `{"silences": [...]}`.
//! Every change is written to a temporary file in the same directory and
//! renamed over it, so a reader (a running pipeline) sees the old file or
//! the new one, never half of one. Changes take an exclusive lock on
//! `silences.json.lock` for their read-modify-write, so two `silence add`
//! at once both land. A running pipeline re-reads the file when its
//! inode, modification time or size changes ([`SilenceCache`]).

use std::fs::File;
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::NotifyError;
use crate::matcher::{Matcher, all_match};

/// The silences file, relative to the data directory.
pub const SILENCES_FILE: &str = "silences.json";

/// One silence.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Silence {
    /// 16 hex digits.
    pub id: String,
    /// Every one must match an incident's labels.
    pub matchers: Vec<Matcher>,
    /// When it starts to hold.
    pub starts_at: Timestamp,
    /// When it stops holding (set to the time of `silence expire`).
    pub ends_at: Timestamp,
    /// Who made it.
    #[serde(default)]
    pub created_by: String,
    /// Why.
    #[serde(default)]
    pub comment: String,
    /// When it was made.
    pub created_at: Timestamp,
}

/// Where a silence is in its life at a given time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SilenceState {
    /// Starts later.
    Pending,
    /// Holds now.
    Active,
    /// Over.
    Expired,
}

impl SilenceState {
    /// The lower-case name used in output.
    pub fn as_str(self) -> &'static str {
        match self {
            SilenceState::Pending => "pending",
            SilenceState::Active => "active",
            SilenceState::Expired => "expired",
        }
    }
}

impl Silence {
    /// Its state at `now`.
    pub fn state(&self, now: Timestamp) -> SilenceState {
        if now < self.starts_at {
            SilenceState::Pending
        } else if now < self.ends_at {
            SilenceState::Active
        } else {
            SilenceState::Expired
        }
    }

    /// Whether it holds at `now` for these labels.
    pub fn silences(
        &self,
        labels: &std::collections::BTreeMap<String, String>,
        now: Timestamp,
    ) -> bool {
        self.state(now) == SilenceState::Active && all_match(&self.matchers, labels)
    }
}

/// What a new silence says; [`SilenceStore::add`] gives it an id.
#[derive(Clone, Debug)]
pub struct NewSilence {
    /// At least one.
    pub matchers: Vec<Matcher>,
    /// Start (usually now).
    pub starts_at: Timestamp,
    /// End, after the start.
    pub ends_at: Timestamp,
    /// Who makes it.
    pub created_by: String,
    /// Why.
    pub comment: String,
}

#[derive(Default, Serialize, Deserialize)]
struct SilencesFile {
    silences: Vec<Silence>,
}

/// The silences file of one data directory.
#[derive(Clone, Debug)]
pub struct SilenceStore {
    path: PathBuf,
}

impl SilenceStore {
    /// The store of `data_dir` (nothing is read or created yet).
    pub fn new(data_dir: &Path) -> Self {
        Self {
            path: data_dir.join(SILENCES_FILE),
        }
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Every silence, expired ones included; none when the file does not
    /// exist.
    pub fn load(&self) -> Result<Vec<Silence>, NotifyError> {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => {
                return Err(NotifyError::Io {
                    path: self.path.clone(),
                    source,
                });
            }
        };
        let file: SilencesFile =
            serde_json::from_str(&text).map_err(|error| NotifyError::Silences {
                path: self.path.clone(),
                message: error.to_string(),
            })?;
        Ok(file.silences)
    }

    /// Stores a new silence and returns it with its id.
    pub fn add(&self, new: NewSilence) -> Result<Silence, NotifyError> {
        if new.matchers.is_empty() {
            return Err(self.invalid("a silence needs at least one matcher"));
        }
        if new.ends_at <= new.starts_at {
            return Err(self.invalid("a silence must end after it starts"));
        }
        let created_at = Timestamp::now();
        let mut seed = created_at.as_nanosecond().to_le_bytes().to_vec();
        seed.extend(std::process::id().to_le_bytes());
        for matcher in &new.matchers {
            seed.extend(matcher.to_string().bytes());
        }
        let silence = Silence {
            id: format!("{:016x}", xxhash_rust::xxh3::xxh3_64(&seed)),
            matchers: new.matchers,
            starts_at: new.starts_at,
            ends_at: new.ends_at,
            created_by: new.created_by,
            comment: new.comment,
            created_at,
        };
        self.modify(|silences| {
            silences.push(silence.clone());
            Ok(())
        })?;
        Ok(silence)
    }

    /// Ends a silence now; returns it. An expired silence stays expired.
    pub fn expire(&self, id: &str, now: Timestamp) -> Result<Silence, NotifyError> {
        let mut expired = None;
        self.modify(|silences| {
            let silence = silences
                .iter_mut()
                .find(|silence| silence.id == id)
                .ok_or_else(|| self.invalid(&format!("no silence {id}")))?;
            if silence.ends_at > now {
                silence.ends_at = now;
            }
            if silence.starts_at > now {
                silence.starts_at = now;
            }
            expired = Some(silence.clone());
            Ok(())
        })?;
        expired.ok_or_else(|| self.invalid(&format!("no silence {id}")))
    }

    fn invalid(&self, message: &str) -> NotifyError {
        NotifyError::Silences {
            path: self.path.clone(),
            message: message.to_owned(),
        }
    }

    /// Read, change, write atomically, under the lock.
    fn modify(
        &self,
        change: impl FnOnce(&mut Vec<Silence>) -> Result<(), NotifyError>,
    ) -> Result<(), NotifyError> {
        let io = |path: &Path| {
            let path = path.to_owned();
            move |source| NotifyError::Io { path, source }
        };
        let dir = self.path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let lock_path = self.path.with_extension("json.lock");
        let lock = File::create(&lock_path).map_err(io(&lock_path))?;
        lock.lock().map_err(io(&lock_path))?;
        let mut silences = self.load()?;
        change(&mut silences)?;
        let mut text = serde_json::to_vec_pretty(&SilencesFile { silences })
            .map_err(|error| self.invalid(&format!("cannot serialise the silences: {error}")))?;
        text.push(b'\n');
        let temporary = self.path.with_extension("json.tmp");
        let mut file = File::create(&temporary).map_err(io(&temporary))?;
        file.write_all(&text).map_err(io(&temporary))?;
        file.sync_all().map_err(io(&temporary))?;
        std::fs::rename(&temporary, &self.path).map_err(io(&self.path))?;
        // The lock is released when `lock` closes.
        Ok(())
    }
}

/// The silences of a store as last read, read again when the file's
/// inode, modification time or size changes: another process (`firewatch
/// silence add`) may change them while a pipeline runs. The store renames
/// a new file into place, so the inode tells a change that keeps the size
/// within the timestamp's precision.
pub struct SilenceCache {
    store: SilenceStore,
    seen: Option<(u64, SystemTime, u64)>,
    silences: Vec<Silence>,
}

impl SilenceCache {
    /// A cache that reads the store on first use.
    pub fn new(store: SilenceStore) -> Self {
        Self {
            store,
            seen: None,
            silences: Vec::new(),
        }
    }

    /// The current silences. A file that cannot be read keeps the last
    /// silences read (with a warning): a bad edit must not unsilence.
    pub fn current(&mut self) -> &[Silence] {
        let stamp = std::fs::metadata(self.store.path())
            .ok()
            .and_then(|meta| Some((meta.ino(), meta.modified().ok()?, meta.len())));
        if stamp != self.seen {
            match self.store.load() {
                Ok(silences) => {
                    self.silences = silences;
                    self.seen = stamp;
                }
                Err(error) => {
                    tracing::warn!(%error, "cannot read the silences: keeping those read before");
                }
            }
        }
        &self.silences
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matcher::incident_labels;

    fn new_silence(matchers: &[&str], hours: i64) -> NewSilence {
        let now = Timestamp::now();
        NewSilence {
            matchers: matchers.iter().map(|text| text.parse().unwrap()).collect(),
            starts_at: now,
            ends_at: now + jiff::SignedDuration::from_hours(hours),
            created_by: "ops".into(),
            comment: "maintenance".into(),
        }
    }

    #[test]
    fn silences_round_trip_through_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let store = SilenceStore::new(dir.path());
        assert!(store.load().unwrap().is_empty());
        let first = store
            .add(new_silence(&["service=api", "host=~web-.*"], 2))
            .unwrap();
        let second = store.add(new_silence(&["rule=disk-full"], 1)).unwrap();
        assert_ne!(first.id, second.id);
        let loaded = SilenceStore::new(dir.path()).load().unwrap();
        assert_eq!(loaded, vec![first.clone(), second.clone()]);
        let text = std::fs::read_to_string(dir.path().join(SILENCES_FILE)).unwrap();
        assert!(text.contains(r#""host=~web-.*""#), "{text}");

        let now = Timestamp::now();
        let expired = store.expire(&first.id, now).unwrap();
        assert_eq!(expired.state(now), SilenceState::Expired);
        let loaded = store.load().unwrap();
        assert_eq!(loaded[0].state(now), SilenceState::Expired);
        assert_eq!(loaded[1].state(now), SilenceState::Active);
        assert!(store.expire("0000000000000000", now).is_err());
    }

    #[test]
    fn bad_silences_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let store = SilenceStore::new(dir.path());
        assert!(store.add(new_silence(&[], 1)).is_err());
        assert!(store.add(new_silence(&["a=b"], 0)).is_err());
        std::fs::write(store.path(), "{").unwrap();
        assert!(store.load().is_err());
    }

    #[test]
    fn the_cache_sees_changes_made_by_another_writer() {
        let dir = tempfile::tempdir().unwrap();
        let mut cache = SilenceCache::new(SilenceStore::new(dir.path()));
        assert!(cache.current().is_empty());
        let added = SilenceStore::new(dir.path())
            .add(new_silence(&["service=api"], 1))
            .unwrap();
        assert_eq!(cache.current(), std::slice::from_ref(&added));
        // A broken file keeps what was read before.
        std::fs::write(dir.path().join(SILENCES_FILE), "not json at all").unwrap();
        assert_eq!(cache.current(), [added]);
    }

    #[test]
    fn the_cache_sees_a_file_replaced_with_the_same_size_and_time() {
        let dir = tempfile::tempdir().unwrap();
        let store = SilenceStore::new(dir.path());
        let added = store.add(new_silence(&["service=api"], 1)).unwrap();
        let mut cache = SilenceCache::new(SilenceStore::new(dir.path()));
        assert_eq!(cache.current(), std::slice::from_ref(&added));
        // As `expire` does, within the same second: a file of the same
        // size renamed into place, here with the very same mtime.
        let path = store.path().to_owned();
        let text = std::fs::read_to_string(&path).unwrap();
        let changed = text.replace("maintenance", "maintenanc_");
        assert_eq!(changed.len(), text.len());
        let modified = std::fs::metadata(&path).unwrap().modified().unwrap();
        let temporary = dir.path().join("replacement");
        std::fs::write(&temporary, changed).unwrap();
        File::options()
            .write(true)
            .open(&temporary)
            .unwrap()
            .set_modified(modified)
            .unwrap();
        std::fs::rename(&temporary, &path).unwrap();
        assert_eq!(cache.current()[0].comment, "maintenanc_");
    }

    #[test]
    fn a_silence_holds_only_while_active_and_matching() {
        let dir = tempfile::tempdir().unwrap();
        let silence = SilenceStore::new(dir.path())
            .add(new_silence(&["service=api"], 1))
            .unwrap();
        let incident = crate::tests::incident("r", &[("service", "api")]);
        let labels = incident_labels(&incident);
        let now = Timestamp::now();
        assert!(silence.silences(&labels, now));
        assert!(!silence.silences(&labels, silence.ends_at));
        let other = crate::tests::incident("r", &[("service", "web")]);
        assert!(!silence.silences(&incident_labels(&other), now));
    }
}
