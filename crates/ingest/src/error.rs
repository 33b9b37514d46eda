//! What can stop a source.

use std::io;
use std::path::PathBuf;

/// Why a source stopped before the end of its input.
///
/// Bad data is never an error here: an overlong line is cut and marked, and
/// invalid UTF-8 passes through to the parser. A glob that matches nothing is
/// not an error either (a warning is logged): it simply yields no records.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// A path pattern in the configuration is not a valid glob.
    #[error("invalid path pattern {pattern:?} in source {source_name:?}: {reason}")]
    InvalidGlob {
        /// The source's configured name.
        source_name: String,
        /// The pattern as configured.
        pattern: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A matched file could not be opened or examined.
    #[error("cannot open {}: {error}", path.display())]
    Open {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        error: io::Error,
    },
    /// Reading an open file failed.
    #[error("cannot read {} at byte {offset}: {error}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Where the read started.
        offset: u64,
        /// What the operating system said.
        #[source]
        error: io::Error,
    },
    /// Reading standard input failed.
    #[error("cannot read standard input: {0}")]
    Stdin(#[source] io::Error),
    /// The receiving end of the source's output channel was dropped while
    /// the source was still running.
    #[error("the pipeline stopped taking batches from source {source_name:?}")]
    OutputClosed {
        /// The source's configured name.
        source_name: String,
    },
}
