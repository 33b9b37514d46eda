//! The format mark of a data directory.
//!
//! Some changes to how firewatch writes its indexes leave the schema as it
//! was but make older indexes unreadable (or newer ones unreadable to an
//! older firewatch): the kind of term dictionary, for one. The data
//! directory therefore holds a `format` file with the number of the format
//! its indexes are written in. A writer marks a new data directory before
//! it creates any index there; readers and writers refuse a directory whose
//! mark differs, or that holds indexes but no mark (written before marks
//! existed), with [`IndexError::IncompatibleDataDir`] rather than a
//! tantivy error halfway through a search.
//!
//! | format | what changed |
//! |---|---|
//! | 1 (no mark) | FST term dictionaries |
//! | 2 | SSTable term dictionaries and dictionary columns with uncompressed blocks: cheaper to build, and a lookup decompresses nothing |

use std::path::Path;

use crate::IndexError;
use crate::writer::{INCIDENTS_DIR, LOGS_DIR};

/// The format this version writes and reads.
pub(crate) const CURRENT_FORMAT: u32 = 2;

/// Name of the mark in the data directory.
const FORMAT_FILE: &str = "format";

/// Checks that the indexes in `data_dir` are in the current format; marks
/// the directory (creating it) when it holds no index yet.
pub(crate) fn mark_or_check(data_dir: &Path) -> Result<(), IndexError> {
    let mark = read_mark(data_dir)?;
    if mark.is_none() && !holds_indexes(data_dir) {
        std::fs::create_dir_all(data_dir).map_err(|error| IndexError::io(data_dir, error))?;
        let path = data_dir.join(FORMAT_FILE);
        let partial = data_dir.join(format!("{FORMAT_FILE}.partial"));
        std::fs::write(&partial, format!("{CURRENT_FORMAT}\n"))
            .and_then(|()| std::fs::rename(&partial, &path))
            .map_err(|error| IndexError::io(&path, error))?;
        return Ok(());
    }
    accept(data_dir, mark)
}

/// Checks that the indexes in `data_dir` are in the current format.
pub(crate) fn check(data_dir: &Path) -> Result<(), IndexError> {
    accept(data_dir, read_mark(data_dir)?)
}

/// Accepts the mark `mark` of `data_dir` if it names the current format.
fn accept(data_dir: &Path, mark: Option<u32>) -> Result<(), IndexError> {
    match mark {
        Some(CURRENT_FORMAT) => Ok(()),
        found => Err(IndexError::IncompatibleDataDir {
            path: data_dir.to_owned(),
            found: found.unwrap_or(1),
            current: CURRENT_FORMAT,
        }),
    }
}

/// The format number in the mark, `None` when there is no mark.
fn read_mark(data_dir: &Path) -> Result<Option<u32>, IndexError> {
    let path = data_dir.join(FORMAT_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(IndexError::io(&path, error)),
    };
    text.trim()
        .parse()
        .map(Some)
        .map_err(|_| IndexError::BadFormatMark {
            path,
            text: text.trim().chars().take(40).collect(),
        })
}

/// Whether `data_dir` holds an index: the incidents index or a day
/// directory of logs.
fn holds_indexes(data_dir: &Path) -> bool {
    data_dir.join(INCIDENTS_DIR).join("meta.json").is_file()
        || std::fs::read_dir(data_dir.join(LOGS_DIR))
            .is_ok_and(|mut days| days.any(|day| day.is_ok_and(|day| day.path().is_dir())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_directory_is_marked_and_then_accepted() {
        let dir = tempfile::TempDir::new().unwrap();
        let data_dir = dir.path().join("data");
        mark_or_check(&data_dir).unwrap();
        assert_eq!(
            std::fs::read_to_string(data_dir.join(FORMAT_FILE)).unwrap(),
            format!("{CURRENT_FORMAT}\n")
        );
        mark_or_check(&data_dir).unwrap();
        check(&data_dir).unwrap();
    }

    #[test]
    fn indexes_without_a_mark_are_format_one() {
        let dir = tempfile::TempDir::new().unwrap();
        std::fs::create_dir_all(dir.path().join(LOGS_DIR).join("2026.11.26")).unwrap();
        let refused = mark_or_check(dir.path()).unwrap_err();
        assert!(
            matches!(
                refused,
                IndexError::IncompatibleDataDir {
                    found: 1,
                    current: CURRENT_FORMAT,
                    ..
                }
            ),
            "{refused}"
        );
        assert!(!dir.path().join(FORMAT_FILE).exists());
    }

    #[test]
    fn another_format_or_a_damaged_mark_is_refused() {
        let dir = tempfile::TempDir::new().unwrap();
        std::fs::write(dir.path().join(FORMAT_FILE), "3\n").unwrap();
        let refused = mark_or_check(dir.path()).unwrap_err();
        assert!(
            refused
                .to_string()
                .contains("index format 3, and this version reads format 2"),
            "{refused}"
        );
        std::fs::write(dir.path().join(FORMAT_FILE), "two").unwrap();
        assert!(matches!(
            check(dir.path()),
            Err(IndexError::BadFormatMark { .. })
        ));
    }
}
