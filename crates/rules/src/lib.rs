//! Detection rules: YAML rule files in, matches and incidents out.
//!
//! A rule says what to look for in events (a `filter:` on level and fields,
//! a `match:` on the message with keywords and regexes, `when:` conditions
//! on fields joined by all / any / not) and how matches become an incident:
//! its type, `any` (every match), `threshold`, `spike`, `absence`,
//! `sequence`, `together`, `new_value`, `cardinality` or `ratio`, all in event time,
//! split by `group_by` fields. This crate has three parts:
//!
//! - **Loading** ([`RuleSet::load`], [`RuleSet::from_yaml`], [`lint`]):
//!   rule files are read faithfully with the position of every value, then
//!   checked in full, so that a bad file yields every problem at once as
//!   [`Diagnostic`]s with `file:line:column`. Limits ([`limits`]) keep a
//!   hostile file from costing much memory or time.
//! - **Matching**: a [`RuleSet`] compiles the keywords of all rules into
//!   one aho-corasick automaton and the regexes into one `RegexSet`. Per
//!   event, the message is scanned once for all rules and only the rules
//!   whose keywords occur are evaluated further; rules without keywords
//!   are found by the service, host, source or level they require. So
//!   matching cost does not grow with the number of rules.
//! - **Detecting**: a [`Detector`] runs a rule set over events in event
//!   time, so that replaying a file gives the same incidents as watching it
//!   live, late events included. It reports each [`Match`] and keeps the
//!   [`Incident`](firewatch_event::Incident)s: opened, updated, resolved,
//!   with their history. A rule may hold an incident pending until its
//!   condition has held `for` a while, reopen the same incident when it
//!   flaps, and raise its severity as matches add up (`escalate`). Its
//!   windows and open incidents can be saved and restored across a
//!   restart ([`Detector::snapshot`], [`Detector::restore`]), or carried
//!   over to rules loaded again while running ([`Detector::replace_rules`];
//!   [`RuleFilesStamp`] tells when the files changed).
//!
//! The rule file format (v1; the README's "Rule format" has every key,
//! conditions and rule types included):
//!
//! ```yaml
//! rules:
//!   - id: ssh-brute-force
//!     title: "SSH brute force on {host} from {fields.rhost}"
//!     severity: high                     # critical | high | medium | low | info
//!     filter: { service: "sshd*" }       # min_level, service, host, source, fields
//!     match: { any: ["Failed password"], none: ["[preauth]"] }   # any, all, none, regex
//!     threshold: { count: 5, window: 1m }
//!     group_by: [host, fields.rhost]
//!     resolve_after: 10m                 # default 5m
//!     for: 2m                            # pending until the condition held this long
//!     flap: { count: 3, within: 30m }    # a refire soon after resolving reopens it
//!     escalate: [{ count: 50, severity: critical }]
//! ```
//!
//! ```
//! use std::sync::Arc;
//!
//! use firewatch_event::{Event, EventId, Level, Timestamp};
//! use firewatch_rules::{Detector, RuleSet};
//!
//! let rules = RuleSet::from_yaml(
//!     "id: db-down\ntitle: database down on {host}\nseverity: critical\n\
//!      filter: { min_level: error }\nmatch: { any: [connection refused] }\n\
//!      group_by: [host]\n",
//!     "<inline>",
//! )?;
//! let mut detector = Detector::new(Arc::new(rules));
//!
//! let mut event = Event::new(EventId(1), "app".into(), Timestamp::UNIX_EPOCH);
//! event.level = Level::Error;
//! event.host = Some("web-03".into());
//! event.message = "upstream: Connection refused".into();
//!
//! let mut matches = Vec::new();
//! detector.observe(&event, &mut matches);
//! assert_eq!(matches[0].incident_key, "db-down/web-03");
//! let incidents = detector.take_changes();
//! assert_eq!(incidents[0].title, "database down on web-03");
//! # Ok::<(), firewatch_rules::RulesError>(())
//! ```
//!
//! Next, read `firewatch-index` for how events and incidents are stored,
//! or `firewatch-pipeline` for where the detector runs.

mod clock;
mod compile;
mod condition;
mod conditions;
mod detector;
mod diagnostic;
mod files;
mod filter;
mod incidents;
mod lifecycle;
pub mod limits;
mod prefilter;
mod routing;
mod rule;
mod rule_types;
mod ruleset;
mod sigma;
mod snapshot;
mod state;
mod syntax;
mod template;
#[cfg(test)]
mod testing;
mod window;

pub use detector::{Detector, Match};
pub use diagnostic::{Diagnostic, RulesError};
pub use files::RuleFilesStamp;
pub use lifecycle::{Escalation, Flap};
pub use rule::{DEFAULT_RESOLVE_AFTER, Rule, Threshold};
pub use ruleset::{RuleSet, lint};
pub use snapshot::{DETECTOR_STATE_VERSION, DetectorState};
