//! The deliveries file: one [`Delivery`] per line, appended as attempts
//! end, read by `incidents show` and postmortem reports.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use firewatch_event::{DELIVERIES_FILE, Delivery, IncidentId};

use crate::NotifyError;

/// Appends deliveries to `DATA_DIR/notifications/deliveries.jsonl`.
pub struct DeliveryLog {
    path: PathBuf,
    file: Mutex<File>,
}

impl DeliveryLog {
    /// Opens (creating) the deliveries file of `data_dir` for appending.
    pub fn open(data_dir: &Path) -> Result<Self, NotifyError> {
        let path = data_dir.join(DELIVERIES_FILE);
        let io = |source| NotifyError::Io {
            path: path.clone(),
            source,
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(io)?;
        Ok(Self {
            path,
            file: Mutex::new(file),
        })
    }

    /// Appends one delivery as one line, written whole. A failed write is
    /// logged, not returned: a full disk must not stop notifications.
    pub fn append(&self, delivery: &Delivery) {
        let mut line = match serde_json::to_vec(delivery) {
            Ok(line) => line,
            Err(error) => {
                tracing::error!(%error, "cannot serialise a delivery record");
                return;
            }
        };
        line.push(b'\n');
        let written = match self.file.lock() {
            Ok(mut file) => file.write_all(&line),
            Err(poisoned) => poisoned.into_inner().write_all(&line),
        };
        if let Err(error) = written {
            tracing::error!(path = %self.path.display(), %error, "cannot record a delivery");
        }
    }
}

/// The deliveries recorded about `incident` (all of them for `None`), in
/// the order they were recorded. No file: none. A line that cannot be read
/// (cut short by a crash) is skipped.
pub fn read_deliveries(
    data_dir: &Path,
    incident: Option<IncidentId>,
) -> Result<Vec<Delivery>, NotifyError> {
    let path = data_dir.join(DELIVERIES_FILE);
    let file = match File::open(&path) {
        Ok(file) => file,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => return Err(NotifyError::Io { path, source }),
    };
    let mut deliveries = Vec::new();
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
}
