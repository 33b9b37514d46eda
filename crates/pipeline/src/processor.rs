//! Parse and detect: the CPU work between sources and the index.
//!
//! A [`Processor`] owns one parser per source and the [`Detector`]. It turns
//! a [`Batch`] of raw records into events, runs every rule on each event in
//! batch order, and returns what the index needs: the events with the ids of
//! the incidents they contributed to, the incidents that changed, and the
//! position the batch ends at. `firewatch run` and `firewatch detect` share it,
//! so a drill sees exactly what a live run would.

use std::collections::HashMap;
use std::sync::Arc;

use firewatch_event::{Batch, Event, Incident, IncidentId, Position, Timestamp};
use firewatch_parse::{Parser, ParserConfig};
use firewatch_rules::{Detector, Match, RuleSet};

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

/// Parses and runs rules over batches, in order.
pub struct Processor {
    parsers: HashMap<Arc<str>, Parser>,
    detector: Detector,
    counts: HashMap<Arc<str>, ParseCounts>,
    matches: Vec<Match>,
}

impl Processor {
    /// A processor for these sources (name and parser settings) and rules.
    pub fn new<'a>(
        sources: impl IntoIterator<Item = (&'a Arc<str>, &'a ParserConfig)>,
        rules: Arc<RuleSet>,
    ) -> Self {
        let parsers = sources
            .into_iter()
            .map(|(name, config)| (name.clone(), Parser::new(config.clone())))
            .collect();
        Self {
            parsers,
            detector: Detector::new(rules),
            counts: HashMap::new(),
            matches: Vec::new(),
        }
    }

    /// Parses a batch and runs the rules on each of its events.
    /// `on_match` sees every rule match with its event, in order.
    pub fn process(
        &mut self,
        batch: Batch,
        mut on_match: impl FnMut(&Event, &Match),
    ) -> Processed {
        let parser = self
            .parsers
            .entry(batch.source.clone())
            .or_insert_with(|| Parser::new(ParserConfig::default()));
        let counts = self.counts.entry(batch.source.clone()).or_default();
        let mut events = Vec::with_capacity(batch.records.len());
        for record in &batch.records {
            let event = parser.parse(record, &batch.source, batch.received);
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
        }
    }

    /// Moves event time forward without new events (an idle followed
    /// source), resolving incidents whose quiet period has passed.
    pub fn advance_to(&mut self, now: Timestamp) -> Vec<Incident> {
        self.detector.advance_to(now);
        self.detector.take_changes()
    }

    /// The latest event time seen.
    pub fn watermark(&self) -> Option<Timestamp> {
        self.detector.watermark()
    }

    /// Every incident the detector knows, oldest first.
    pub fn incidents(&self) -> Vec<Incident> {
        self.detector.incidents()
    }

    /// Counts per source so far.
    pub fn counts(&self) -> &HashMap<Arc<str>, ParseCounts> {
        &self.counts
    }
}
