//! What can go wrong while explaining an incident or writing its report.

use std::path::PathBuf;

use firewatch_index::IndexError;

/// An error of the postmortem crate.
#[derive(Debug, thiserror::Error)]
pub enum PostmortemError {
    /// The index could not be read.
    #[error(transparent)]
    Index(#[from] IndexError),
    /// A window option cannot work (a look-back of zero, a time out of range).
    #[error("invalid window: {0}")]
    InvalidWindow(String),
    /// The deliveries file could not be read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A line of the deliveries file is not a delivery record.
    #[error("{}:{line}: not a delivery record: {reason}", path.display())]
    BadDelivery {
        /// The file.
        path: PathBuf,
        /// Its line, from 1.
        line: usize,
        /// What is wrong with it.
        reason: String,
    },
}
