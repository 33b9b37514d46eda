//! Retention: whole day indexes removed once all of their day is older than
//! a cutoff.
//!
//! Because the logs are split by UTC day, forgetting old events is a
//! directory delete: no document deletes, no merges, no space held by
//! tombstones. Two things must not happen, and how they are avoided:
//!
//! - **Removing a day a writer holds open.** Every day index that a writer
//!   has open holds tantivy's writer lock (an exclusive `flock` on
//!   `.tantivy-writer.lock` in its directory). Retention takes that same
//!   lock before touching a day and skips the day when it is busy, so a
//!   day being written survives, whatever its date. The lock is held until
//!   the day is gone. A writer that opens that very day in the same instant
//!   finds the lock busy and fails its round; to leave no such window, the
//!   writer of a running pipeline applies retention itself, after a commit
//!   (it never opens a day while pruning).
//! - **A half-deleted day that readers trip over.** The day directory is
//!   first renamed to a hidden name that is not a day (an atomic step, after
//!   which no reader lists it), then deleted. A crash in between leaves a
//!   hidden directory that the next prune deletes.
//!
//! Readers that already opened a day keep reading it: on Unix its files
//! stay readable until they close them.

use std::path::Path;

use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::Offset;
use tantivy::directory::error::LockError;
use tantivy::directory::{Directory, INDEX_WRITER_LOCK, MmapDirectory};

use crate::IndexError;
use crate::day::{day_name, list_days};
use crate::writer::LOGS_DIR;

/// Prefix of a day directory on its way out.
const REMOVING_PREFIX: &str = ".removing-";

/// Removes the day indexes under `data_dir` whose whole UTC day lies before
/// `cutoff`, except those a writer holds open; returns the days removed,
/// oldest first.
pub fn remove_days_older_than(data_dir: &Path, cutoff: Timestamp) -> Result<Vec<Date>, IndexError> {
    let logs_dir = data_dir.join(LOGS_DIR);
    remove_leftovers(&logs_dir)?;
    let mut removed = Vec::new();
    for day in list_days(&logs_dir)? {
        if !day_ends_by(day, cutoff) {
            break;
        }
        let path = logs_dir.join(day_name(day));
        if !path.join("meta.json").is_file() {
            // Being created by a writer right now, or abandoned before it
            // held anything: nothing to reclaim either way.
            continue;
        }
        let directory = MmapDirectory::open(&path)
            .map_err(|error| IndexError::io(&path, std::io::Error::other(error)))?;
        let _lock = match directory.acquire_lock(&INDEX_WRITER_LOCK) {
            Ok(lock) => lock,
            Err(LockError::LockBusy) => {
                tracing::info!(day = %day, "retention skips a day that a writer holds open");
                continue;
            }
            Err(LockError::IoError(error)) => {
                return Err(IndexError::io(&path, std::io::Error::other(error)));
            }
        };
        let hidden = logs_dir.join(format!("{REMOVING_PREFIX}{}", day_name(day)));
        std::fs::rename(&path, &hidden).map_err(|error| IndexError::io(&path, error))?;
        std::fs::remove_dir_all(&hidden).map_err(|error| IndexError::io(&hidden, error))?;
        removed.push(day);
    }
    Ok(removed)
}

/// True when the whole of `day` (UTC) is before `cutoff`.
fn day_ends_by(day: Date, cutoff: Timestamp) -> bool {
    let Ok(next) = day.tomorrow() else {
        return false;
    };
    Offset::UTC
        .to_timestamp(next.to_datetime(jiff::civil::Time::midnight()))
        .is_ok_and(|end| end <= cutoff)
}

/// Deletes the hidden directories of removals a crash interrupted.
fn remove_leftovers(logs_dir: &Path) -> Result<(), IndexError> {
    let entries = match std::fs::read_dir(logs_dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(error) => return Err(IndexError::io(logs_dir, error)),
    };
    for entry in entries {
        let entry = entry.map_err(|error| IndexError::io(logs_dir, error))?;
        if entry
            .file_name()
            .to_str()
            .is_some_and(|name| name.starts_with(REMOVING_PREFIX))
        {
            let path = entry.path();
            std::fs::remove_dir_all(&path).map_err(|error| IndexError::io(&path, error))?;
        }
    }
    Ok(())
}
