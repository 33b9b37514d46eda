//! Parse and detect: the CPU work between sources and the index.
//!
//! A [`Processor`] owns one parser per source, the [`Detector`] and the
//! pipeline's [`TemplateMiner`]. It turns a [`Batch`] of raw records into
//! events, gives each event its message's template id, runs every rule on
//! each event in batch order, and returns what the index needs: the events
//! with the ids of the incidents they contributed to, the incidents that
//! changed, and the position the batch ends at. `firewatch run` and
//! `firewatch detect` share it, so a drill sees exactly what a live run
//! would.
//!
//! # Saved state
//!
//! What the processor learnt travels in the index's commits as one JSON
//! object, `{"detector": ..., "templates": ...}` ([`Processor::rule_state`]):
//! the rule windows and open incidents, and the miner with every template
//! and id, both as of exactly the committed events. A restart restores both,
//! so the same message keeps its template id across restarts. A state
//! written before templates were saved is the detector's state alone: it is
//! still restored, and the miner starts empty (ids of templates whose first
//! message comes again are the same: they hash that first text).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use firewatch_event::{Batch, Event, Incident, IncidentId, Position, Timestamp};
use firewatch_parse::{Parser, ParserConfig};
use firewatch_rules::{Detector, DetectorState, Match, RuleSet};
use firewatch_template::{MinerConfig, TemplateMiner};
use serde::Deserialize;

/// Keys of the saved state (see the module header).
const DETECTOR_KEY: &str = "detector";
const TEMPLATES_KEY: &str = "templates";

/// What one batch became.
#[derive(Debug)]
pub struct Processed {
    /// The source the batch came from.
    pub source: Arc<str>,
    /// The events, in batch order, each with the incidents it contributed to.
    pub events: Vec<TaggedEvent>,
    /// Incidents that opened, changed or resolved while processing the batch.
    pub incident_changes: Vec<Incident>,
    /// Where the source stands once this batch is durable.
    pub position: Option<Position>,
    /// The batch may repeat indexed records (see [`Batch::redelivered`]).
    pub redelivered: bool,
}

/// An event and the incidents it counts towards.
#[derive(Debug)]
pub struct TaggedEvent {
    /// The parsed event.
    pub event: Event,
    /// Ids of open incidents this event matched.
    pub incidents: Vec<IncidentId>,
}

/// Counts of what the processor saw from one source.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct ParseCounts {
    /// Events produced.
    pub events: u64,
    /// Events marked unparsed (kept as raw text).
    pub parse_errors: u64,
    /// Events whose bytes were not valid UTF-8.
    pub invalid_utf8: u64,
    /// Events cut at the line size limit.
    pub truncated: u64,
}

/// A followed source that sent nothing for this long is idle: its event
/// time moves on with the wall clock, so that incidents can resolve.
const IDLE_AFTER: Duration = Duration::from_secs(1);

/// What the processor knows of one source.
struct SourceState {
    parser: Parser,
    counts: ParseCounts,
    /// Keeps running after its input is exhausted (a followed file).
    follows: bool,
    /// The latest event time it sent, and when (wall clock) its last batch came.
    latest: Option<Timestamp>,
    last_batch: Instant,
}

/// One source as the processor needs it: its name, how to parse it, and
/// whether it is followed (then idle periods move its event time on).
pub struct ProcessorSource<'a> {
    /// The source's name.
    pub name: &'a Arc<str>,
    /// How to parse its records.
    pub parser: &'a ParserConfig,
    /// True for followed sources.
    pub follows: bool,
}

/// Parses and runs rules over batches, in order.
pub struct Processor {
    sources: HashMap<Arc<str>, SourceState>,
    detector: Detector,
    matches: Vec<Match>,
    templates: TemplateMiner,
}

impl Processor {
    /// A processor for these sources and rules. Every source holds event
    /// time back until it sends its first events or is finished (see
    /// [`Detector::expect_source`]).
    pub fn new<'a>(
        sources: impl IntoIterator<Item = ProcessorSource<'a>>,
        rules: Arc<RuleSet>,
    ) -> Self {
        let mut detector = Detector::new(rules);
        let now = Instant::now();
        let sources = sources
            .into_iter()
            .map(|source| {
                detector.expect_source(source.name);
                let state = SourceState {
                    parser: Parser::new(source.parser.clone()),
                    counts: ParseCounts::default(),
                    follows: source.follows,
                    latest: None,
                    last_batch: now,
                };
                (Arc::clone(source.name), state)
            })
            .collect();
        Self {
            sources,
            detector,
            matches: Vec::new(),
            templates: TemplateMiner::new(MinerConfig::default()),
        }
    }

    /// Parses a batch and runs the rules on each of its events.
    /// `on_match` sees every rule match with its event, in order.
    pub fn process(&mut self, batch: Batch, mut on_match: impl FnMut(&Event, &Match)) -> Processed {
        let source = self
            .sources
            .entry(batch.source.clone())
            .or_insert_with(|| SourceState {
                parser: Parser::new(ParserConfig::default()),
                counts: ParseCounts::default(),
                follows: false,
                latest: None,
                last_batch: Instant::now(),
            });
        source.last_batch = Instant::now();
        let (parser, counts) = (&source.parser, &mut source.counts);
        let mut events = Vec::with_capacity(batch.records.len());
        for record in &batch.records {
            let mut event = parser.parse(record, &batch.source, batch.received);
            event.template = Some(self.templates.add(&event.message).id);
            source.latest = Some(
                source
                    .latest
                    .map_or(event.time(), |latest| latest.max(event.time())),
            );
            counts.events += 1;
            counts.parse_errors += u64::from(event.problem.unparsed);
            counts.invalid_utf8 += u64::from(event.problem.invalid_utf8);
            counts.truncated += u64::from(event.problem.truncated);

            self.matches.clear();
            self.detector.observe(&event, &mut self.matches);
            let mut incidents = Vec::new();
            for found in &self.matches {
                on_match(&event, found);
                if let Some(id) = found.incident
                    && !incidents.contains(&id)
                {
                    incidents.push(id);
                }
            }
            events.push(TaggedEvent { event, incidents });
        }
        Processed {
            source: batch.source,
            events,
            incident_changes: self.detector.take_changes(),
            position: batch.position,
            redelivered: batch.redelivered,
        }
    }

    /// Moves event time on to `now` for every source, as if all had shown
    /// events up to it: quiet periods that end by then resolve. For replays
    /// and rule tests, where time is given rather than read off a clock.
    /// Returns the incidents that changed.
    pub fn advance_to(&mut self, now: Timestamp) -> Vec<Incident> {
        self.detector.advance_to(now);
        self.detector.take_changes()
    }

    /// `source` sent its last batch: it no longer holds event time back.
    /// Returns the incidents that changed (resolved) as a result.
    pub fn finish_source(&mut self, source: &str) -> Vec<Incident> {
        self.detector.finish_source(source);
        self.detector.take_changes()
    }

    /// Lets event time pass for followed sources that have been idle: each
    /// moves on from its latest event time by the wall-clock time it has
    /// been quiet (one that never sent anything stops holding time back).
    /// Returns the incidents that resolved as a result.
    pub fn idle_tick(&mut self, now: Instant) -> Vec<Incident> {
        let latest_of_all = self
            .sources
            .values()
            .filter_map(|source| source.latest)
            .max();
        for (name, source) in &self.sources {
            let idle = now.saturating_duration_since(source.last_batch);
            if !source.follows || idle < IDLE_AFTER {
                continue;
            }
            let moved_on = match source.latest {
                Some(latest) => jiff::SignedDuration::try_from(idle)
                    .ok()
                    .and_then(|idle| latest.checked_add(idle).ok()),
                None => latest_of_all,
            };
            if let Some(time) = moved_on {
                self.detector.advance_source_to(name, time);
            }
        }
        self.detector.take_changes()
    }

    /// Runs `rules` from the next batch on, keeping what the detector
    /// learnt for the rules whose definition did not change (see
    /// [`Detector::replace_rules`]). Returns the incidents that changed:
    /// those of rules removed or changed, resolved.
    pub fn replace_rules(&mut self, rules: Arc<RuleSet>) -> Vec<Incident> {
        self.detector.replace_rules(rules);
        self.detector.take_changes()
    }

    /// The rules in force.
    pub fn rules(&self) -> &RuleSet {
        self.detector.rules()
    }

    /// Goes on from a state saved by an earlier run
    /// ([`Processor::rule_state`]): the detector's windows and open
    /// incidents, so that a restart neither forgets a half-filled window nor
    /// reopens an open incident, and the templates with their ids. Call
    /// before the first batch. A part that does not read (another version,
    /// damaged) is reported and starts empty. Returns the incidents open
    /// after the restore.
    pub fn restore_rule_state(&mut self, state: &serde_json::Value) -> Vec<Incident> {
        let detector = match state.get(DETECTOR_KEY) {
            Some(detector) => {
                self.restore_templates(state.get(TEMPLATES_KEY));
                detector
            }
            // Written before templates were saved: the detector's alone.
            None => {
                tracing::info!("the stored state holds no templates: template mining starts empty");
                state
            }
        };
        let state = match DetectorState::deserialize(detector) {
            Ok(state) => state,
            Err(error) => {
                tracing::warn!(
                    %error,
                    "the stored rule state cannot be read: rule windows and open incidents \
                     start empty"
                );
                return Vec::new();
            }
        };
        let groups = state.group_count();
        let mut detector = Detector::restore(Arc::clone(self.detector.rules()), state);
        for name in self.sources.keys() {
            detector.expect_source(name);
        }
        self.detector = detector;
        let open = self.detector.incidents();
        tracing::info!(
            groups,
            open_incidents = open.len(),
            "rule windows and open incidents restored"
        );
        open
    }

    fn restore_templates(&mut self, state: Option<&serde_json::Value>) {
        match state.map(TemplateMiner::deserialize) {
            Some(Ok(miner)) => {
                tracing::info!(templates = miner.len(), "log templates restored");
                self.templates = miner;
            }
            Some(Err(error)) => tracing::warn!(
                %error,
                "the stored templates cannot be read: template mining starts empty"
            ),
            None => {
                tracing::warn!("the stored state holds no templates: template mining starts empty")
            }
        }
    }

    /// The detector's state and the templates as JSON, to store with the
    /// positions of the events processed so far (see the module header and
    /// [`Processor::restore_rule_state`]).
    pub fn rule_state(&self) -> Result<serde_json::Value, serde_json::Error> {
        let mut state = serde_json::Map::new();
        state.insert(
            DETECTOR_KEY.into(),
            serde_json::to_value(self.detector.snapshot())?,
        );
        state.insert(TEMPLATES_KEY.into(), serde_json::to_value(&self.templates)?);
        Ok(serde_json::Value::Object(state))
    }

    /// The templates mined so far.
    pub fn templates(&self) -> &TemplateMiner {
        &self.templates
    }

    /// The latest event time seen.
    pub fn watermark(&self) -> Option<Timestamp> {
        self.detector.watermark()
    }

    /// Every incident the detector knows, oldest first.
    pub fn incidents(&self) -> Vec<Incident> {
        self.detector.incidents()
    }

    /// What parsing made of one source's records so far.
    pub fn counts(&self, source: &str) -> ParseCounts {
        self.sources
            .get(source)
            .map(|source| source.counts)
            .unwrap_or_default()
    }
}

/// The templates in a state saved by [`Processor::rule_state`] (as the index
/// returns it with its last commit), to show the text of stored template
/// ids. `None` when the state holds no templates or they do not read.
pub fn stored_templates(state: &serde_json::Value) -> Option<TemplateMiner> {
    TemplateMiner::deserialize(state.get(TEMPLATES_KEY)?).ok()
}

#[cfg(test)]
mod tests {
    use firewatch_event::{EventId, RawRecord, TemplateId};

    use super::*;

    fn processor() -> Processor {
        let source: Arc<str> = "app".into();
        let parser = ParserConfig::default();
        let rules = RuleSet::load(&[] as &[&std::path::Path]).unwrap();
        Processor::new(
            [ProcessorSource {
                name: &source,
                parser: &parser,
                follows: false,
            }],
            Arc::new(rules),
        )
    }

    /// The template ids `processor` gives `lines` (line numbers from `first`).
    fn ids(processor: &mut Processor, first: u64, lines: &[&str]) -> Vec<TemplateId> {
        let records = (first..)
            .zip(lines)
            .map(|(line, text)| RawRecord::new(EventId(line), line, text.as_bytes().to_vec()))
            .collect();
        let batch = Batch {
            source: "app".into(),
            received: Timestamp::UNIX_EPOCH,
            records,
            position: None,
            redelivered: false,
        };
        processor
            .process(batch, |_, _| {})
            .events
            .into_iter()
            .map(|tagged| tagged.event.template.unwrap())
            .collect()
    }

    const LINES: [&str; 6] = [
        "worker 3 finished job 7714 in 12ms",
        "disk sda1 is full",
        "worker 5 finished job 7716 in 9ms",
        "disk sdb2 is full",
        "worker 12 finished job 2 in 130ms",
        "connection refused by db-02",
    ];

    #[test]
    fn lines_that_differ_only_in_variables_share_a_template_id() {
        let ids = ids(&mut processor(), 1, &LINES);
        assert_eq!(ids[0], ids[2]);
        assert_eq!(ids[0], ids[4]);
        assert_eq!(ids[1], ids[3]);
        assert_ne!(ids[0], ids[1]);
        assert_ne!(ids[0], ids[5]);
        assert_ne!(ids[1], ids[5]);
    }

    #[test]
    fn template_ids_survive_a_restart_through_the_saved_state() {
        let whole = ids(&mut processor(), 1, &LINES);

        let mut first = processor();
        let mut restarted = ids(&mut first, 1, &LINES[..2]);
        let state = first.rule_state().unwrap();
        let mut second = processor();
        second.restore_rule_state(&state);
        assert_eq!(second.templates().len(), 2);
        restarted.extend(ids(&mut second, 3, &LINES[2..]));
        assert_eq!(restarted, whole);
    }

    #[test]
    fn a_state_without_templates_still_restores_and_mining_starts_empty() {
        let mut first = processor();
        ids(&mut first, 1, &LINES);
        let state = first.rule_state().unwrap();
        let detector_only = state.get(DETECTOR_KEY).unwrap();
        let mut second = processor();
        second.restore_rule_state(detector_only);
        assert!(second.templates().is_empty());
        assert_eq!(second.watermark(), first.watermark());

        let mut third = processor();
        third.restore_rule_state(&serde_json::json!({"detector": detector_only, "templates": 7}));
        assert!(third.templates().is_empty());
        assert_eq!(third.watermark(), first.watermark());
    }

    #[test]
    fn stored_templates_reads_the_text_of_saved_ids() {
        let mut first = processor();
        let ids = ids(&mut first, 1, &LINES[..3]);
        let miner = stored_templates(&first.rule_state().unwrap()).unwrap();
        let text = miner
            .templates()
            .find(|template| template.id == ids[0])
            .unwrap()
            .text;
        assert_eq!(text, "worker <*> finished job <*> in <*>");
        assert!(stored_templates(&serde_json::json!({"version": 1})).is_none());
    }
}
