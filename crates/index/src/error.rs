//! What can go wrong when writing or reading the indexes.

use std::path::{Path, PathBuf};

use tantivy::TantivyError;
use tantivy::directory::error::LockError;

/// An error of the index crate. Messages name the path or the input at fault.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    /// The data directory (or its incidents index) does not exist.
    #[error(
        "no firewatch data at {}: run `firewatch run` first or pass --data-dir",
        path.display()
    )]
    NoData {
        /// The data directory that was looked for.
        path: PathBuf,
    },
    /// Another writer holds the lock of an index under the data directory.
    #[error("data dir {} is in use by another firewatch process", path.display())]
    InUse {
        /// The data directory.
        path: PathBuf,
    },
    /// The query text is not valid tantivy query syntax, or names an unknown field.
    #[error("invalid query `{query}`: {reason}")]
    InvalidQuery {
        /// The query as given.
        query: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A search filter names an unknown field or holds a malformed value.
    #[error("invalid filter {field}={value:?}: {reason}")]
    InvalidFilter {
        /// The field of the filter.
        field: String,
        /// The value of the filter.
        value: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A count or histogram was asked of a field or bucket width it cannot use.
    #[error("{0}")]
    InvalidAggregation(String),
    /// The index configuration cannot work.
    #[error("invalid index configuration: {0}")]
    InvalidConfig(String),
    /// An index on disk has a schema this version of firewatch does not write.
    #[error(
        "the index at {} has a different schema than this version of firewatch writes: move it away or use another --data-dir",
        path.display()
    )]
    IncompatibleIndex {
        /// The index directory.
        path: PathBuf,
    },
    /// A data directory holds indexes in a format this version of firewatch
    /// does not read (see the `format` module).
    #[error(
        "the data directory {} holds indexes in index format {found}, and this version reads format {current}: move it away or use another --data-dir",
        path.display()
    )]
    IncompatibleDataDir {
        /// The data directory.
        path: PathBuf,
        /// The format of its indexes (1 when it has no format mark).
        found: u32,
        /// The format this version reads and writes.
        current: u32,
    },
    /// The format mark of a data directory is not a number.
    #[error("unreadable format mark {}: {text:?} is not a format number", path.display())]
    BadFormatMark {
        /// The mark's file.
        path: PathBuf,
        /// The start of what it holds.
        text: String,
    },
    /// A commit payload could not be read: the index was not written by firewatch or is damaged.
    #[error("unreadable commit payload in {}: {reason}", path.display())]
    BadPayload {
        /// The index directory.
        path: PathBuf,
        /// Why it could not be read.
        reason: String,
    },
    /// A stored document lacks a field or holds a value firewatch cannot rebuild.
    #[error("unreadable stored document in {}: {reason}", path.display())]
    BadDocument {
        /// The index directory.
        path: PathBuf,
        /// What is missing or wrong.
        reason: String,
    },
    /// A commit round failed earlier; the writer must be reopened, which
    /// recovers from what is on disk.
    #[error("the index writer stopped after a failed commit: reopen the data dir to recover")]
    WriterFailed,
    /// A file-system operation failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The path operated on.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// tantivy reported an error.
    #[error("index {}: {source}", path.display())]
    Tantivy {
        /// The index directory.
        path: PathBuf,
        /// The underlying error.
        source: TantivyError,
    },
}

impl IndexError {
    /// Wraps a tantivy error on the index at `path`, turning a busy lock into
    /// [`IndexError::InUse`] of `data_dir`.
    pub(crate) fn tantivy(data_dir: &Path, path: &Path, source: TantivyError) -> Self {
        match source {
            TantivyError::LockFailure(LockError::LockBusy, _) => IndexError::InUse {
                path: data_dir.to_owned(),
            },
            source => IndexError::Tantivy {
                path: path.to_owned(),
                source,
            },
        }
    }

    /// Wraps an i/o error on `path`.
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        IndexError::Io {
            path: path.to_owned(),
            source,
        }
    }

    /// A stored document that cannot be rebuilt.
    pub(crate) fn bad_document(path: &Path, reason: impl Into<String>) -> Self {
        IndexError::BadDocument {
            path: path.to_owned(),
            reason: reason.into(),
        }
    }
}
