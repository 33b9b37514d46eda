//! What can go wrong.

/// The errors of this crate. Mining itself cannot fail: every message gets a
/// template.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A template id that is not 16 hex digits.
    #[error("invalid template id {0:?}: expected 16 hex digits")]
    InvalidTemplateId(String),
}
