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
    /// A RabbitMQ source cannot consume in a way that retrying does not fix
    /// (the broker refused the credentials). The URL is shown without its
    /// password.
    #[error("cannot consume from {url}: {reason}")]
    Amqp {
        /// The source's configured name.
        source_name: String,
        /// The broker URL, password redacted.
        url: String,
        /// What went wrong, password redacted.
        reason: String,
    },
    /// A syslog `listen` address that cannot be used.
    #[error("invalid listen address {address:?}: {reason}")]
    InvalidListenAddress {
        /// The address as configured.
        address: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A listener's socket could not be bound.
    #[error("source {source_name:?} cannot listen on {address}: {error}")]
    Bind {
        /// The source's configured name.
        source_name: String,
        /// The address, with its scheme.
        address: String,
        /// What the operating system said.
        #[source]
        error: io::Error,
    },
    /// A TLS certificate or key file could not be read.
    #[error("cannot read TLS file {}: {reason}", path.display())]
    TlsFile {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The TLS certificate and key were read but cannot be used together.
    #[error("cannot use TLS certificate {} with key {}: {reason}", cert.display(), key.display())]
    TlsConfig {
        /// The certificate file.
        cert: PathBuf,
        /// The key file.
        key: PathBuf,
        /// What TLS said.
        reason: String,
    },
    /// The receiving end of the source's output channel was dropped while
    /// the source was still running.
    #[error("the pipeline stopped taking batches from source {source_name:?}")]
    OutputClosed {
        /// The source's configured name.
        source_name: String,
    },
}
