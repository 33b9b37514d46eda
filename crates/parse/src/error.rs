//! What can go wrong when configuring a parser. Parsing itself never fails:
//! a line that cannot be read becomes a marked event (see `ParseProblem`).

/// An error of this crate.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A format name that is not one of the known formats.
    #[error("unknown log format {0:?}: expected auto, json, syslog, logfmt or plain")]
    UnknownFormat(String),
}
