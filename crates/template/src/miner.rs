//! The streaming miner: a fixed-depth prefix tree over masked tokens, with
//! templates at its leaves.
//!
//! # Shape
//!
//! A message is tokenised and masked (`token`), then looked up by its token
//! count and then by its first [`MinerConfig::prefix_tokens`] tokens, a
//! masked token taking the `<*>` branch. The leaf holds the templates of that
//! length and prefix; the message joins the most similar one if it is similar
//! enough, else it starts a new template. Joining turns every position where
//! the two differ into `<*>`, so a template only ever generalises.
//!
//! # Invariants
//!
//! * A template's token count never changes, and neither do the words that
//!   led to its leaf: a template stays in the leaf it was created in.
//! * A template's id is fixed when it is created (see [`TemplateId`]).
//! * The last-use stamps of the templates are distinct (one tick per
//!   message), so eviction is deterministic and never removes the template
//!   the current message just used.
//!
//! # Bounded memory
//!
//! Templates are capped per leaf ([`MinerConfig::max_templates_per_leaf`])
//! and in total ([`MinerConfig::max_templates`]), the least recently used
//! going first. Tree nodes are capped by [`MinerConfig::max_children`] per
//! node and the fixed depth; the token-count level has one entry per
//! message length seen, which the source's line length cap bounds. A leaf
//! drops its references to templates the total cap evicted the next time a
//! template is added to it. Each template holds its tokens and text once.

use std::collections::HashMap;

use firewatch_event::TemplateId;
use serde::{Deserialize, Serialize};

use crate::config::MinerConfig;
use crate::template::{Template, TemplateMatch, TemplateToken, WILDCARD, render};
use crate::token::{Token, tokenize};

/// Groups messages into templates as they stream by.
///
/// The whole state serialises with serde, so that a process can save it and
/// a later one go on with the same ids.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TemplateMiner {
    config: MinerConfig,
    /// The first tree level: token count to subtree.
    by_length: HashMap<usize, Node>,
    /// Templates by their serial number (never reused, unlike ids, which a
    /// template evicted and seen again gets back).
    templates: HashMap<u64, Cluster>,
    next_serial: u64,
    /// Ticks once per message; stamps the template the message used.
    clock: u64,
    /// The tokens of the current message, kept to reuse the allocation.
    #[serde(skip)]
    tokens: Vec<Token>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct Node {
    children: HashMap<Box<str>, Node>,
    /// Serial numbers of this leaf's templates (empty above the leaves).
    templates: Vec<u64>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Cluster {
    id: TemplateId,
    tokens: Vec<TemplateToken>,
    text: String,
    count: u64,
    last_used: u64,
}

impl TemplateMiner {
    /// An empty miner.
    pub fn new(config: MinerConfig) -> Self {
        Self {
            config,
            by_length: HashMap::new(),
            templates: HashMap::new(),
            next_serial: 0,
            clock: 0,
            tokens: Vec::new(),
        }
    }

    /// The settings this miner runs with.
    pub fn config(&self) -> &MinerConfig {
        &self.config
    }

    /// Finds or creates the template of `message` and returns it.
    pub fn add(&mut self, message: &str) -> TemplateMatch<'_> {
        let mut tokens = std::mem::take(&mut self.tokens);
        tokenize(message, &mut tokens);
        self.clock += 1;
        let (serial, is_new) = match self.best_match(message, &tokens) {
            Some(serial) => {
                self.join(serial, message, &tokens);
                (serial, false)
            }
            None => (self.create(message, &tokens), true),
        };
        self.tokens = tokens;
        // Present: it was just joined or created, and eviction spares the
        // template with the newest stamp.
        let cluster = &self.templates[&serial];
        TemplateMatch {
            id: cluster.id,
            template: &cluster.text,
            is_new,
        }
    }

    /// The templates it holds now, in no particular order.
    pub fn templates(&self) -> impl Iterator<Item = Template<'_>> {
        self.templates.values().map(|cluster| Template {
            id: cluster.id,
            text: &cluster.text,
            count: cluster.count,
        })
    }

    /// How many templates it holds now.
    pub fn len(&self) -> usize {
        self.templates.len()
    }

    /// Whether it holds no template.
    pub fn is_empty(&self) -> bool {
        self.templates.is_empty()
    }

    /// The tree key of the token at `index`: its word, or `<*>` if masked.
    fn key<'m>(message: &'m str, tokens: &[Token], index: usize) -> &'m str {
        let token = tokens[index];
        if token.masked {
            WILDCARD
        } else {
            token.text(message)
        }
    }

    /// The serial of the leaf template `message` should join, if any.
    fn best_match(&self, message: &str, tokens: &[Token]) -> Option<u64> {
        let mut node = self.by_length.get(&tokens.len())?;
        for index in 0..self.config.prefix_tokens.min(tokens.len()) {
            let key = Self::key(message, tokens, index);
            node = node
                .children
                .get(key)
                .or_else(|| node.children.get(WILDCARD))?;
        }
        let mut best: Option<(u64, f64, usize)> = None;
        for serial in &node.templates {
            let Some(cluster) = self.templates.get(serial) else {
                continue;
            };
            let (similarity, wildcards) = similarity(&cluster.tokens, message, tokens);
            let better = best.is_none_or(|(_, best_similarity, best_wildcards)| {
                similarity > best_similarity
                    || (similarity == best_similarity && wildcards > best_wildcards)
            });
            if better {
                best = Some((*serial, similarity, wildcards));
            }
        }
        best.filter(|(_, similarity, _)| *similarity >= self.config.similarity_threshold)
            .map(|(serial, _, _)| serial)
    }

    /// Adds `message` to the template `serial`, generalising it where they
    /// differ.
    fn join(&mut self, serial: u64, message: &str, tokens: &[Token]) {
        let Some(cluster) = self.templates.get_mut(&serial) else {
            return;
        };
        let mut changed = false;
        for (template_token, token) in cluster.tokens.iter_mut().zip(tokens) {
            let differs = match &template_token.literal {
                Some(word) => token.masked || **word != *token.text(message),
                None => false,
            };
            if differs {
                template_token.literal = None;
                changed = true;
            }
        }
        if changed {
            render(&cluster.tokens, &mut cluster.text);
        }
        cluster.count += 1;
        cluster.last_used = self.clock;
    }

    /// Starts a template for `message`, evicting what the caps demand.
    fn create(&mut self, message: &str, tokens: &[Token]) -> u64 {
        let template_tokens: Vec<TemplateToken> = tokens
            .iter()
            .map(|token| TemplateToken {
                literal: (!token.masked).then(|| token.text(message).into()),
                glued: token.glued,
            })
            .collect();
        let mut text = String::new();
        render(&template_tokens, &mut text);
        let serial = self.next_serial;
        self.next_serial += 1;

        let max_children = self.config.max_children;
        let mut node = self.by_length.entry(tokens.len()).or_default();
        for index in 0..self.config.prefix_tokens.min(tokens.len()) {
            let mut key = Self::key(message, tokens, index);
            if !node.children.contains_key(key) && node.children.len() >= max_children {
                key = WILDCARD;
            }
            node = node.children.entry(key.into()).or_default();
        }
        let live = &self.templates;
        node.templates.retain(|serial| live.contains_key(serial));
        if node.templates.len() >= self.config.max_templates_per_leaf.max(1) {
            let oldest = node
                .templates
                .iter()
                .enumerate()
                .min_by_key(|(_, serial)| live.get(serial).map_or(0, |c| c.last_used))
                .map(|(position, _)| position);
            if let Some(position) = oldest {
                let evicted = node.templates.swap_remove(position);
                self.templates.remove(&evicted);
            }
        }
        node.templates.push(serial);

        self.templates.insert(
            serial,
            Cluster {
                id: TemplateId::of_text(&text),
                tokens: template_tokens,
                text,
                count: 1,
                last_used: self.clock,
            },
        );
        self.evict_if_full();
        serial
    }

    /// Past [`MinerConfig::max_templates`], evicts the least recently used
    /// tenth of the capacity.
    fn evict_if_full(&mut self) {
        let capacity = self.config.max_templates.max(1);
        if self.templates.len() <= capacity {
            return;
        }
        let evict = self.templates.len() - capacity + capacity / 10;
        let mut stamps: Vec<u64> = self.templates.values().map(|c| c.last_used).collect();
        let (_, &mut newest_evicted, _) = stamps.select_nth_unstable(evict - 1);
        self.templates
            .retain(|_, cluster| cluster.last_used > newest_evicted);
    }
}

/// How alike a template and a message are: the share of positions where
/// both hold the same word or both a variable, and the number of the
/// template's wildcards (which breaks ties towards the more general one).
fn similarity(template: &[TemplateToken], message: &str, tokens: &[Token]) -> (f64, usize) {
    if template.is_empty() {
        return (1.0, 0);
    }
    let mut same = 0;
    let mut wildcards = 0;
    for (template_token, token) in template.iter().zip(tokens) {
        match &template_token.literal {
            None => {
                wildcards += 1;
                if token.masked {
                    same += 1;
                }
            }
            Some(word) => {
                if !token.masked && **word == *token.text(message) {
                    same += 1;
                }
            }
        }
    }
    (same as f64 / template.len() as f64, wildcards)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn miner() -> TemplateMiner {
        TemplateMiner::new(MinerConfig::default())
    }

    #[test]
    fn variables_are_masked_and_differences_generalise() {
        let mut miner = miner();
        let first = miner.add("connection to db-01:5432 timed out after 300 ms");
        assert!(first.is_new);
        assert_eq!(first.template, "connection to <*> timed out after <*> ms");
        let first_id = first.id;

        let second = miner.add("connection to cache timed out after 12 ms");
        assert!(!second.is_new);
        assert_eq!(
            second.id, first_id,
            "the id stays as the template generalises"
        );
        assert_eq!(second.template, "connection to <*> timed out after <*> ms");

        let other = miner.add("disk sda is full");
        assert!(other.is_new);
        assert_ne!(other.id, first_id);
        assert_eq!(miner.len(), 2);
    }

    #[test]
    fn dissimilar_messages_of_one_length_stay_apart() {
        let mut miner = miner();
        let a = miner.add("job 1 of user alice finished").id;
        let b = miner.add("job 2 of user bob finished").id;
        let c = miner.add("job 3 failed with no output").id;
        assert_eq!(a, b);
        assert_ne!(a, c);
        let counts: Vec<u64> = {
            let mut counts: Vec<u64> = miner.templates().map(|t| t.count).collect();
            counts.sort_unstable();
            counts
        };
        assert_eq!(counts, [1, 2]);
    }

    #[test]
    fn ids_depend_only_on_the_first_text() {
        let mut one = miner();
        let mut two = miner();
        two.add("something else entirely");
        let id = one.add("worker 3 started").id;
        assert_eq!(two.add("worker 7 started").id, id);
        assert_eq!(id, TemplateId::of_text("worker <*> started"));
    }

    #[test]
    fn empty_and_blank_messages_share_one_template() {
        let mut miner = miner();
        let id = miner.add("").id;
        let blank = miner.add("   ");
        assert_eq!((blank.id, blank.template, blank.is_new), (id, "", false));
    }

    #[test]
    fn the_total_cap_evicts_the_least_recently_used() {
        let mut miner = TemplateMiner::new(MinerConfig {
            max_templates: 10,
            ..MinerConfig::default()
        });
        let kept = miner.add("keep me around").id;
        for word in ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l"] {
            miner.add(&format!("{word} {word} {word} {word} {word}"));
            assert!(!miner.add("keep me around").is_new);
        }
        assert!(miner.len() <= 10);
        assert!(miner.templates().any(|template| template.id == kept));
        // The first of the others went long ago; seen again, it is new but
        // has the id it had.
        let again = miner.add("a a a a a");
        assert!(again.is_new);
        assert_eq!(again.id, TemplateId::of_text("a a a a a"));
    }

    #[test]
    fn unique_messages_stay_within_the_caps() {
        let mut miner = TemplateMiner::new(MinerConfig {
            max_templates: 500,
            ..MinerConfig::default()
        });
        // Digit-free words that never repeat: every message is new.
        let word = |mut n: usize| {
            let mut word = String::new();
            loop {
                word.push(char::from(b'a' + (n % 26) as u8));
                n /= 26;
                if n == 0 {
                    return word;
                }
            }
        };
        for n in 0..3_000 {
            let message = format!("{} {} {}", word(n), word(n + 7), word(n + 13));
            assert!(miner.add(&message).is_new);
            assert!(miner.len() <= 500);
        }
        assert!(
            miner.len() > 400,
            "the total cap, not the leaf cap, bounds it"
        );
    }

    #[test]
    fn the_leaf_cap_evicts_within_the_leaf() {
        let mut miner = TemplateMiner::new(MinerConfig {
            max_templates_per_leaf: 2,
            ..MinerConfig::default()
        });
        miner.add("job started alpha beta gamma");
        miner.add("job started one two three");
        miner.add("job started red green blue");
        assert_eq!(miner.len(), 2);
        assert!(miner.add("job started alpha beta gamma").is_new);
        assert!(!miner.add("job started red green blue").is_new);
    }

    #[test]
    fn a_full_node_sends_new_words_to_the_wildcard_branch() {
        let mut miner = TemplateMiner::new(MinerConfig {
            max_children: 2,
            ..MinerConfig::default()
        });
        miner.add("alpha said hello");
        miner.add("beta said hello");
        let gamma = miner.add("gamma said hello");
        assert!(gamma.is_new);
        let delta = miner.add("delta said hello");
        assert!(!delta.is_new, "delta shares gamma's wildcard branch");
        assert_eq!(delta.template, "<*> said hello");
    }

    #[test]
    fn odd_messages_find_their_own_template_again() {
        let long = "word 1 ".repeat(10_000);
        let odd = [
            "",
            "=",
            "a=",
            "=b",
            "((((",
            "\"\"\"",
            "[]",
            "<*>",
            "<*> <*>",
            "ü=ö (ß) «é»",
            "\u{feff}\u{a0}x",
            "key==value a=b=c",
            long.as_str(),
        ];
        let mut miner = miner();
        for message in odd {
            let first = miner.add(message).id;
            let again = miner.add(message);
            assert_eq!((again.id, again.is_new), (first, false), "{message:?}");
        }
    }

    #[test]
    fn state_survives_serialisation() {
        let mut miner = miner();
        let id = miner.add("request 1 took 5 ms").id;
        let json = serde_json::to_string(&miner).unwrap();
        let mut restored: TemplateMiner = serde_json::from_str(&json).unwrap();
        let again = restored.add("request 2 took 9 ms");
        assert_eq!((again.id, again.is_new), (id, false));
        assert_eq!(restored.len(), 1);
    }
}
