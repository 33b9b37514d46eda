//! Every limit in one place: what rule files may ask for, and how much a
//! detector remembers. Rule files come from people and may be wrong or
//! hostile; hitting a limit is a diagnostic, found before anything big is
//! compiled. Detector caps keep memory flat however long the input runs.

use jiff::SignedDuration;

/// Deepest nesting of mappings and lists in a rule file or a rules test
/// file: deeper input is refused while it is read, before it can exhaust
/// the stack.
pub const MAX_YAML_DEPTH: usize = 64;

/// How rule files and rules test files are read: serde-saphyr's defaults,
/// with the nesting depth at [`MAX_YAML_DEPTH`].
pub fn yaml_options() -> serde_saphyr::Options {
    serde_saphyr::options! {
        budget: serde_saphyr::budget! { max_depth: MAX_YAML_DEPTH },
    }
}

/// Largest rule file read, in bytes.
pub const MAX_RULE_FILE_BYTES: u64 = 16 << 20;
/// Longest regex source, in bytes.
pub const MAX_REGEX_BYTES: usize = 4 << 10;
/// Compiled size limit of one regex (`RegexBuilder::size_limit`).
pub const REGEX_SIZE_LIMIT: usize = 1 << 20;
/// Compiled size limit of the regex set of all rules together.
pub const REGEX_SET_SIZE_LIMIT: usize = 64 << 20;
/// Most regexes in all rules together (`match: regex` and `op: regex`).
/// Each may compile to [`REGEX_SIZE_LIMIT`], so this bounds their memory.
pub const MAX_REGEXES: usize = 1_000;
/// Longest glob (`filter:` values with wildcards, `op: glob`), in bytes.
pub const MAX_GLOB_BYTES: usize = 1 << 10;
/// Most globs in all rules together. Each compiles to a regex, so this
/// and [`MAX_GLOB_BYTES`] bound their memory.
pub const MAX_GLOBS: usize = 10_000;
/// Longest keyword, in bytes.
pub const MAX_KEYWORD_BYTES: usize = 1 << 10;
/// Most values in one list (`lists:` or a list in a condition).
pub const MAX_LIST_ITEMS: usize = 100_000;
/// Most keywords in one rule: `match:` (`any` + `all` + `none`) and
/// `keywords:` in its conditions.
pub const MAX_KEYWORDS_PER_RULE: usize = 10_000;
/// Most keywords in all rules together, conditions included.
pub const MAX_KEYWORDS: usize = 100_000;
/// Largest `threshold.count`. A filling window holds matches (with their
/// messages, for samples) until it fires, so this bounds it.
pub const MAX_THRESHOLD_COUNT: u64 = 10_000;

/// Groups that a rule of type `absence` or `new_value` remembers: these
/// groups outlive their events (a silent host must still be missed), so
/// they are capped instead of expiring. Groups beyond the cap are not
/// tracked.
pub const MAX_REMEMBERED_GROUPS: usize = 10_000;
/// Values a `new_value` rule remembers per group. Once full, further new
/// values still fire but are not remembered.
pub const MAX_KNOWN_VALUES: usize = 10_000;
/// Step events a `sequence` rule keeps per group (the latest ones).
pub const MAX_SEQUENCE_STEPS: usize = 1_000;
/// Conditions a `together` rule may list.
pub const MAX_TOGETHER_STEPS: usize = 32;
/// Time buckets per window for `spike` and `ratio` counts: a window's
/// count is exact to one bucket (1/30 of the window) at its edges.
pub const BUCKETS_PER_WINDOW: i64 = 30;
/// Largest `spike.min_count`, `ratio.min_count` and `cardinality.count`.
pub const MAX_COUNT: u64 = 1_000_000;

/// Resolved incidents a detector remembers; the oldest resolution is
/// forgotten first (a change not yet taken is still reported).
pub const MAX_RESOLVED_INCIDENTS: usize = 10_000;
/// Sample events kept per incident.
pub const MAX_SAMPLES: usize = 5;
/// Trigger event ids kept per incident.
pub const MAX_TRIGGER_EVENTS: usize = 100;
/// How far behind the watermark, beyond the rule's window, a late match is
/// still counted with the matches around its own time. A filling window
/// keeps matches this long (plus its window) after the watermark passes.
pub const LATE_EVENT_ALLOWANCE: SignedDuration = SignedDuration::from_mins(5);
