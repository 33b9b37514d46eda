//! One module per subcommand.

pub mod context;
pub mod detect;
pub mod incidents;
pub mod index;
pub mod parse;
pub mod rules;
pub mod run;
pub mod search;
pub mod silence;
