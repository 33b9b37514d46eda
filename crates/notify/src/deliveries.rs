//! The deliveries file: one [`Delivery`] per line, appended as attempts
//! end, read by `incidents show` and postmortem reports.
//!
//! It is rotated by size: past [`ROTATE_BYTES`], the file becomes
//! `deliveries.1.jsonl` (replacing the one before) and a new one starts,
//! so the records take at most about twice that on disk, however long
//! firewatch runs. Readers read the previous generation, then the current.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use firewatch_event::{DELIVERIES_FILE, Delivery, IncidentId};

use crate::NotifyError;

/// Size at which the deliveries file is rotated (about 300,000 records).
pub const ROTATE_BYTES: u64 = 64 << 20;

/// Appends deliveries to `DATA_DIR/notifications/deliveries.jsonl`.
pub struct DeliveryLog {
    path: PathBuf,
    rotate_at: u64,
    file: Mutex<OpenLog>,
}

/// The file being appended to and its size.
struct OpenLog {
    file: File,
    bytes: u64,
}

impl DeliveryLog {
    /// Opens (creating) the deliveries file of `data_dir` for appending.
    pub fn open(data_dir: &Path) -> Result<Self, NotifyError> {
        Self::open_rotating_at(data_dir, ROTATE_BYTES)
    }

    fn open_rotating_at(data_dir: &Path, rotate_at: u64) -> Result<Self, NotifyError> {
        let path = data_dir.join(DELIVERIES_FILE);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|source| NotifyError::Io {
                path: dir.to_owned(),
                source,
            })?;
        }
        let file = open_for_append(&path)?;
        Ok(Self {
            path,
            rotate_at,
            file: Mutex::new(file),
        })
    }

    /// Appends one delivery as one line, written whole, rotating the file
    /// first when it is full. A failed write is logged, not returned: a
    /// full disk must not stop notifications.
    pub fn append(&self, delivery: &Delivery) {
        let mut line = match serde_json::to_vec(delivery) {
            Ok(line) => line,
            Err(error) => {
                tracing::error!(%error, "cannot serialise a delivery record");
                return;
            }
        };
        line.push(b'\n');
        let mut open = self
            .file
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if open.bytes > 0 && open.bytes + line.len() as u64 > self.rotate_at {
            match self.rotate() {
                Ok(fresh) => *open = fresh,
                Err(error) => {
                    tracing::error!(%error, "cannot rotate the deliveries file; appending on");
                }
            }
        }
        match open.file.write_all(&line) {
            Ok(()) => open.bytes += line.len() as u64,
            Err(error) => {
                tracing::error!(path = %self.path.display(), %error, "cannot record a delivery");
            }
        }
    }

    /// Moves the current file to the previous generation's name and opens
    /// a new one.
    fn rotate(&self) -> Result<OpenLog, NotifyError> {
        let previous = previous_generation(&self.path);
        std::fs::rename(&self.path, &previous).map_err(|source| NotifyError::Io {
            path: previous.clone(),
            source,
        })?;
        open_for_append(&self.path)
    }
}

fn open_for_append(path: &Path) -> Result<OpenLog, NotifyError> {
    let io = |source| NotifyError::Io {
        path: path.to_owned(),
        source,
    };
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(io)?;
    let bytes = file.metadata().map_err(io)?.len();
    Ok(OpenLog { file, bytes })
}

/// `deliveries.1.jsonl` beside `deliveries.jsonl`.
fn previous_generation(path: &Path) -> PathBuf {
    path.with_extension("1.jsonl")
}

/// The deliveries recorded about `incident` (all of them for `None`), in
/// the order they were recorded, over both generations. No file: none. A
/// line that cannot be read (cut short by a crash) is skipped.
pub fn read_deliveries(
    data_dir: &Path,
    incident: Option<IncidentId>,
) -> Result<Vec<Delivery>, NotifyError> {
    let current = data_dir.join(DELIVERIES_FILE);
    let mut deliveries = Vec::new();
    for path in [previous_generation(&current), current] {
        let file = match File::open(&path) {
            Ok(file) => file,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => continue,
            Err(source) => return Err(NotifyError::Io { path, source }),
        };
        for line in BufReader::new(file).lines() {
            let line = line.map_err(|source| NotifyError::Io {
                path: path.clone(),
                source,
            })?;
            let Ok(delivery) = serde_json::from_str::<Delivery>(&line) else {
                continue;
            };
            if incident.is_none_or(|id| delivery.incident == id) {
                deliveries.push(delivery);
            }
        }
    }
    Ok(deliveries)
}

#[cfg(test)]
mod tests {
    use firewatch_event::{DeliveryOutcome, NotifyReason, Timestamp};

    use super::*;

    #[test]
    fn deliveries_are_appended_and_read_back_by_incident() {
        let dir = tempfile::tempdir().unwrap();
        let log = DeliveryLog::open(dir.path()).unwrap();
        let delivery = |incident, attempt, outcome| Delivery {
            at: Timestamp::now(),
            incident: IncidentId(incident),
            rule: "r".into(),
            receiver: "hook".into(),
            reason: NotifyReason::Fired,
            attempt,
            outcome,
        };
        let failed = delivery(
            1,
            1,
            DeliveryOutcome::Failed {
                error: "HTTP 500".into(),
            },
        );
        let delivered = delivery(1, 2, DeliveryOutcome::Delivered);
        let other = delivery(2, 1, DeliveryOutcome::Delivered);
        for record in [&failed, &other, &delivered] {
            log.append(record);
        }
        // A torn last line is skipped.
        std::fs::OpenOptions::new()
            .append(true)
            .open(dir.path().join(DELIVERIES_FILE))
            .unwrap()
            .write_all(b"{\"at\":")
            .unwrap();
        assert_eq!(
            read_deliveries(dir.path(), Some(IncidentId(1))).unwrap(),
            [failed, delivered]
        );
        assert_eq!(read_deliveries(dir.path(), None).unwrap().len(), 3);
        let empty = tempfile::tempdir().unwrap();
        assert!(read_deliveries(empty.path(), None).unwrap().is_empty());
    }

    #[test]
    fn a_full_file_rotates_into_one_previous_generation() {
        let dir = tempfile::tempdir().unwrap();
        let record = |attempt| Delivery {
            at: "2026-11-26T10:00:00Z".parse().unwrap(),
            incident: IncidentId(1),
            rule: "r".into(),
            receiver: "hook".into(),
            reason: NotifyReason::Fired,
            attempt,
            outcome: DeliveryOutcome::Delivered,
        };
        let line_bytes = serde_json::to_vec(&record(10)).unwrap().len() as u64 + 1;
        // Room for four records per file; reopening finds the size again.
        let limit = 4 * line_bytes;
        for attempts in [10..13, 13..20] {
            let log = DeliveryLog::open_rotating_at(dir.path(), limit).unwrap();
            for attempt in attempts {
                log.append(&record(attempt));
            }
        }
        let current = dir.path().join(DELIVERIES_FILE);
        let previous = previous_generation(&current);
        let attempts_in = |path: &Path| -> Vec<u32> {
            std::fs::read_to_string(path)
                .unwrap()
                .lines()
                .map(|line| serde_json::from_str::<Delivery>(line).unwrap().attempt)
                .collect()
        };
        // 10-13 filled the first file, 14-17 the second, which replaced it.
        assert_eq!(attempts_in(&previous), [14, 15, 16, 17]);
        assert_eq!(attempts_in(&current), [18, 19]);
        let read: Vec<u32> = read_deliveries(dir.path(), None)
            .unwrap()
            .iter()
            .map(|delivery| delivery.attempt)
            .collect();
        assert_eq!(read, [14, 15, 16, 17, 18, 19]);
    }
}
