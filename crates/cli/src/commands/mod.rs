//! One module per subcommand.

pub mod detect;
pub mod incidents;
pub mod parse;
pub mod rules;
pub mod run;
pub mod search;
