//! What can go wrong while explaining an incident or writing its report.

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
}
