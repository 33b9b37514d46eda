//! Log templates: messages that differ only in their variables, grouped as
//! they stream by.
//!
//! `connection to 10.0.0.7:5432 timed out after 300 ms` and `connection to
//! db-02:5432 timed out after 12 ms` are one template,
//! `connection to <*> timed out after <*> ms`. A [`TemplateMiner`] sees each
//! message once, in order, and gives it the [`TemplateId`] of its template,
//! so that events can be counted and searched by what they say rather than
//! by their exact words.
//!
//! The miner works like Drain (He et al., ICWS 2017): a message is split
//! into tokens, tokens that look like variables are masked, and a
//! fixed-depth prefix tree keyed on the token count and the first tokens
//! leads to a handful of candidate templates; the message joins the most
//! similar one or starts its own. What firewatch adds is one general
//! configuration instead of a log format and masking regexes per system
//! (read `token` for the tokenising and masking), ids that stay put as
//! templates generalise, and caps on what the miner remembers (read
//! `miner`). [`MinerConfig`] holds the knobs; its defaults are measured on
//! LogHub's samples of seven systems by the `loghub_accuracy` test, which
//! prints the grouping accuracy beside Drain's.
//!
//! The miner sees messages, not raw lines: headers (time, level, host) vary
//! on every line and would only add noise, so run a parser first.
//!
//! ```
//! use firewatch_template::{MinerConfig, TemplateMiner};
//!
//! let mut miner = TemplateMiner::new(MinerConfig::default());
//! let first = miner.add("worker 3 finished job 7714 in 12ms");
//! assert_eq!(first.template, "worker <*> finished job <*> in <*>");
//! let id = first.id;
//!
//! let second = miner.add("worker 5 finished job 7716 in 9ms");
//! assert!(!second.is_new);
//! assert_eq!(second.id, id);
//! ```
//!
//! The whole miner serialises with serde, so its templates and ids can be
//! saved and carried over a restart.

mod config;
mod miner;
mod template;
mod token;

pub use config::MinerConfig;
pub use firewatch_event::TemplateId;
pub use miner::TemplateMiner;
pub use template::{Template, TemplateMatch, WILDCARD};
