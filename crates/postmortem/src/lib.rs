//! Why did it happen? Root-cause hints and postmortem drafts, answered
//! from the index.
//!
//! During a postmortem people ask what changed just before an incident,
//! who failed first, and what the timeline was. This crate answers from
//! what `firewatch-index` holds, through [`IndexReader`](firewatch_index::IndexReader)'s
//! public queries only (searches, counts by value, histograms, counts of
//! many filters at once); it never opens tantivy itself.
//!
//! - [`explain`] compares a foreground window before the incident with a
//!   baseline before that, and returns an [`Explanation`]: templates, words
//!   and field values that stood out (scored with a log-likelihood ratio,
//!   [`score`]), the first error of each host and service, incidents that
//!   opened nearby, and one ranked list of findings. The `explain` module
//!   header documents the windows and the ranking.
//! - [`report`] builds a postmortem draft ([`Report`]): summary, severity,
//!   duration, affected services and hosts, a timeline with log excerpts
//!   (first anomaly, detection, escalations, notifications from
//!   the deliveries file, as `firewatch-notify` reads it, resolution), the hints, and empty sections for
//!   the people to write. [`Report::to_markdown`] renders it for a wiki;
//!   it serialises to JSON with serde.
//!
//! ```no_run
//! use firewatch_index::IndexReader;
//! use firewatch_postmortem::{ExplainOptions, explain};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let reader = IndexReader::open("firewatch-data".as_ref())?;
//! let incident = reader.incidents()?.remove(0);
//! let explanation = explain(&reader, &incident, &ExplainOptions::default())?;
//! for finding in &explanation.ranked {
//!     println!("{} {}", finding.rank, finding.example.message);
//! }
//! # Ok(())
//! # }
//! ```
//!
//! Everything here is synchronous. The `firewatch` binary's
//! `incidents explain` and `incidents report` commands print these.

mod error;
mod explain;
mod report;
pub mod score;

pub use error::PostmortemError;
pub use explain::{
    Counts, Example, ExplainOptions, Explanation, Hint, HintKind, RankedHint, Window, explain,
};
pub use report::{Report, TimelineEntry, TimelineKind, report};
