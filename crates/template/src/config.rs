//! How the miner groups messages and how much it may remember.

use serde::{Deserialize, Serialize};

/// The settings of a [`TemplateMiner`](crate::TemplateMiner).
///
/// The defaults are one general configuration, measured on LogHub's samples
/// of seven different systems (see the crate's `loghub_accuracy` test); they
/// need no tuning per log format.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MinerConfig {
    /// How many leading tokens pick the branch of the prefix tree below the
    /// token count. More tokens make leaves smaller (faster, fewer wrong
    /// merges) but split templates whose first words vary without digits:
    /// with 2, `disk sda is full` and `disk sdb is full` stay apart.
    pub prefix_tokens: usize,
    /// The share of a template's positions a message must match to join it,
    /// from 0 to 1. A position matches when both hold the same word or both
    /// hold a variable. The default, 0.6, sits inside the range (0.55 to
    /// 0.75) over which accuracy on the LogHub samples stays flat, rather
    /// than at its edge: lower merges distinct events, higher splits one
    /// event whose words vary.
    pub similarity_threshold: f64,
    /// How many distinct words a tree node keeps as children; past that,
    /// new words share the node's `<*>` child, so a variable first word
    /// cannot grow the tree without bound.
    pub max_children: usize,
    /// How many templates one leaf keeps; a new one past that evicts the
    /// leaf's least recently used template.
    pub max_templates_per_leaf: usize,
    /// How many templates the miner keeps in all; past that, the least
    /// recently used tenth is evicted at once (so eviction costs a sweep per
    /// tenth of the capacity, not per message).
    pub max_templates: usize,
}

impl Default for MinerConfig {
    fn default() -> Self {
        Self {
            prefix_tokens: 2,
            similarity_threshold: 0.6,
            max_children: 100,
            max_templates_per_leaf: 256,
            max_templates: 50_000,
        }
    }
}
