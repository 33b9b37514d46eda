//! `explain`: what stood out before an incident, ranked.
//!
//! Two windows of event time are compared. The *foreground* runs from
//! `lookback` before the incident's `first_seen` to `after` past it; the
//! *baseline* is the `baseline` before the foreground, cut to the first
//! event the index holds (a story that starts at 09:00 has no baseline
//! before 09:00, and counting empty time would make everything look new).
//!
//! Five kinds of hint are gathered, each with its evidence:
//!
//! - templates new or surged in the foreground (counts by template id);
//! - words of the message over-represented in the foreground (the words
//!   of a sample of foreground events, counted exactly in both windows);
//! - field values over-represented: host, service, level, source, and
//!   structured fields with few distinct values in the foreground;
//! - the first error-level (or worse) event of each host and service in
//!   the foreground: who failed first;
//! - other incidents that opened in the foreground or shortly after.
//!
//! Counts are scored with the G statistic ([`crate::score`]). A count
//! hint is *strong* when it has at least `min_count` foreground events, a
//! score of at least `min_score`, a smoothed rate ratio of at least
//! `min_ratio`, and its onset is not after the incident opened. Its *onset*
//! is the first `bucket` (one minute by default) of the foreground whose
//! count exceeds what the baseline rate explains ([`crate::score::surge_threshold`]):
//! for something new that is its first occurrence; for something that was
//! always there at a low rate, the minute it took off. Another incident is
//! a strong hint when it opened before this one.
//!
//! The ranked list merges hints that point at the same event (a new
//! template, its rare words and the incident that fired on it are one
//! finding). A finding is strong when one of its hints is strong and its
//! event's own template is over-represented too (a positive score and at
//! least `min_ratio`): a routine line that merely shares a word with what
//! came later is no lead. Strong findings come first, earliest onset first: a
//! cause precedes its effects, and among the things that significantly
//! changed before an incident, the one that changed first is the best lead.
//! Findings that are not strong follow, highest score first.

use std::collections::{BTreeMap, HashMap, HashSet};

use firewatch_event::{
    Event, EventId, Incident, IncidentId, Level, TemplateId, Timestamp, short_time,
};
use firewatch_index::{IndexReader, SearchRequest, Timeline, message_words};
use jiff::SignedDuration;
use serde::Serialize;

use crate::PostmortemError;
use crate::score::{log_likelihood_ratio, rate_ratio, surge_threshold};

/// How [`explain`] chooses its windows and what it calls significant.
#[derive(Clone, Debug)]
pub struct ExplainOptions {
    /// How far before the incident's first event the foreground starts.
    pub lookback: SignedDuration,
    /// How long the baseline before the foreground is.
    pub baseline: SignedDuration,
    /// How far past the incident's first event the foreground goes.
    pub after: SignedDuration,
    /// Width of the buckets in which an onset is looked for.
    pub bucket: SignedDuration,
    /// Fewest foreground events for a strong hint.
    pub min_count: u64,
    /// Smallest G statistic for a strong hint (10.83 is p = 0.001).
    pub min_score: f64,
    /// Smallest smoothed rate ratio (foreground over baseline) for a strong hint.
    pub min_ratio: f64,
    /// Most foreground events read to find words, fields and first errors.
    pub max_sampled_events: usize,
    /// Most distinct words counted in both windows.
    pub max_words: usize,
    /// Structured fields with more distinct foreground values than this
    /// (ids, latencies) are not compared.
    pub max_field_values: u64,
    /// Most hints per section located in time (onset and example).
    pub max_candidates: usize,
    /// Most hints shown per section and in the ranked list.
    pub max_hints: usize,
    /// Template texts by id, to name templates (events only store ids).
    pub template_texts: HashMap<TemplateId, String>,
}

impl Default for ExplainOptions {
    fn default() -> Self {
        ExplainOptions {
            lookback: SignedDuration::from_mins(15),
            baseline: SignedDuration::from_hours(2),
            after: SignedDuration::from_mins(1),
            bucket: SignedDuration::from_mins(1),
            min_count: 3,
            min_score: 10.83,
            min_ratio: 2.0,
            max_sampled_events: 10_000,
            max_words: 300,
            max_field_values: 20,
            max_candidates: 30,
            max_hints: 10,
            template_texts: HashMap::new(),
        }
    }
}

/// A stretch of event time, `[since, until)`, and the events in it.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Window {
    /// Start, inclusive.
    pub since: Timestamp,
    /// End, exclusive.
    pub until: Timestamp,
    /// Events indexed in it.
    pub events: u64,
}

impl Window {
    /// Its length in minutes.
    pub fn minutes(&self) -> f64 {
        self.until.duration_since(self.since).as_secs_f64() / 60.0
    }

    fn request(&self) -> SearchRequest {
        SearchRequest {
            since: Some(self.since),
            until: Some(self.until),
            limit: 0,
            ..SearchRequest::default()
        }
    }
}

/// One event shown as evidence.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Example {
    /// Its id, for `firewatch context`.
    pub event_id: EventId,
    /// Event time.
    pub time: Timestamp,
    /// Its source.
    pub source: String,
    /// Its host, if known.
    pub host: Option<String>,
    /// Its service, if known.
    pub service: Option<String>,
    /// Its level.
    pub level: Level,
    /// Its message.
    pub message: String,
    /// Its template id.
    pub template: Option<TemplateId>,
}

impl Example {
    /// The example of an indexed event.
    pub fn of(event: &Event) -> Self {
        Example {
            event_id: event.id,
            time: event.time(),
            source: event.source.to_string(),
            host: event.host.clone(),
            service: event.service.clone(),
            level: event.level,
            message: event.message.clone(),
            template: event.template,
        }
    }
}

/// One line, as excerpts show it: time, host, service (or source), level,
/// message.
impl std::fmt::Display for Example {
    fn fmt(&self, out: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            out,
            "{}  {}  {}  {}  {}",
            short_time(self.time),
            self.host.as_deref().unwrap_or("-"),
            self.service.as_deref().unwrap_or(&self.source),
            self.level,
            self.message
        )
    }
}

/// What a hint is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HintKind {
    /// A log template, new or surged.
    Template,
    /// A word of the message.
    Word,
    /// A value of host, service, level, source or a structured field.
    Field,
    /// The first error of a host and service.
    FirstError,
    /// Another incident.
    Incident,
}

/// Counts of one thing in both windows.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Counts {
    /// Events in the foreground.
    pub foreground: u64,
    /// Events in the baseline.
    pub baseline: u64,
    /// Foreground events per minute.
    pub foreground_per_minute: f64,
    /// Baseline events per minute.
    pub baseline_per_minute: f64,
    /// Smoothed rate ratio ([`crate::score::rate_ratio`]).
    pub rate_ratio: f64,
    /// Not seen at all in the baseline.
    pub new: bool,
}

/// One thing that stood out, with its evidence.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Hint {
    /// What kind of thing it is.
    pub kind: HintKind,
    /// What it is, in words: `word "nvme"`, `host = db-01`, ...
    pub subject: String,
    /// The template, word or incident id it stands for, when it has one.
    pub id: Option<String>,
    /// Counts in both windows (not for incidents).
    pub counts: Option<Counts>,
    /// G statistic of the counts; 0 for incidents.
    pub score: f64,
    /// Passes every bar of a strong hint (module header).
    pub strong: bool,
    /// Its first event in the foreground (for an incident, when it opened).
    pub first_seen: Option<Timestamp>,
    /// When it took off (module header).
    pub onset: Option<Timestamp>,
    /// Its first event in the foreground.
    pub first_event: Option<Example>,
    /// Its first event at the onset.
    pub example: Option<Example>,
}

impl Hint {
    /// The evidence in one line: counts, rates, ratio and score, or for an
    /// incident when it opened.
    pub fn evidence(&self) -> String {
        let Some(counts) = &self.counts else {
            return match self.onset {
                Some(time) => format!("first event {}", short_time(time)),
                None => String::new(),
            };
        };
        format!(
            "{} in foreground ({:.2}/min), {} in baseline ({:.2}/min){}, ratio {:.1}, G {:.1}",
            counts.foreground,
            counts.foreground_per_minute,
            counts.baseline,
            counts.baseline_per_minute,
            if counts.new { ", new" } else { "" },
            counts.rate_ratio,
            self.score
        )
    }
}

/// One finding of the ranked list: the hints that point at one event.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RankedHint {
    /// 1 for the best lead.
    pub rank: usize,
    /// The earliest onset among its hints (strong ones, if any).
    pub onset: Timestamp,
    /// At least one of its hints is strong.
    pub strong: bool,
    /// The highest score among its hints.
    pub score: f64,
    /// The event they point at.
    pub example: Example,
    /// The hints, strongest first.
    pub evidence: Vec<Hint>,
}

/// Why an incident happened, as far as the logs tell.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Explanation {
    /// The incident explained.
    pub incident: IncidentId,
    /// Its key.
    pub key: String,
    /// Its title.
    pub title: String,
    /// When its first event happened.
    pub first_seen: Timestamp,
    /// The window looked at.
    pub foreground: Window,
    /// The window compared with.
    pub baseline: Window,
    /// Findings, best lead first (module header).
    pub ranked: Vec<RankedHint>,
    /// Templates new or surged, highest score first.
    pub templates: Vec<Hint>,
    /// Over-represented words, highest score first.
    pub words: Vec<Hint>,
    /// Over-represented field values, highest score first.
    pub fields: Vec<Hint>,
    /// The first error of each host and service, earliest first.
    pub first_errors: Vec<Hint>,
    /// Incidents that opened nearby, earliest first.
    pub nearby_incidents: Vec<Hint>,
}

/// Explains `incident` from the events in `reader` (module header).
pub fn explain(
    reader: &IndexReader,
    incident: &Incident,
    options: &ExplainOptions,
) -> Result<Explanation, PostmortemError> {
    let (foreground, baseline) = windows(reader, incident, options)?;
    let study = Study {
        reader,
        incident,
        options,
        foreground,
        baseline,
    };
    let sample = reader
        .search(&SearchRequest {
            limit: options.max_sampled_events,
            ..foreground.request()
        })?
        .hits;
    let sample: Vec<Event> = sample.into_iter().map(|hit| hit.event).collect();
    let sample_is_complete = sample.len() as u64 >= foreground.events;

    let (templates, unusual_templates) = study.templates()?;
    let words = study.words(&sample, sample_is_complete)?;
    let fields = study.fields(&sample)?;
    let first_errors = study.first_errors()?;
    let nearby_incidents = study.nearby_incidents()?;

    let mut all: Vec<Hint> = Vec::new();
    for section in [
        &templates,
        &words,
        &fields,
        &first_errors,
        &nearby_incidents,
    ] {
        all.extend(section.iter().cloned());
    }
    let ranked = rank(all, options.max_hints, |example| {
        example
            .template
            .is_none_or(|id| unusual_templates.contains(&id.to_string()))
    });
    let shown = |mut hints: Vec<Hint>| {
        hints.truncate(options.max_hints);
        hints
    };
    Ok(Explanation {
        incident: incident.id,
        key: incident.key.clone(),
        title: incident.title.clone(),
        first_seen: incident.first_seen,
        foreground,
        baseline,
        ranked,
        templates: shown(templates),
        words: shown(words),
        fields: shown(fields),
        first_errors: shown(first_errors),
        nearby_incidents,
    })
}

/// The foreground and baseline of `incident` (module header).
fn windows(
    reader: &IndexReader,
    incident: &Incident,
    options: &ExplainOptions,
) -> Result<(Window, Window), PostmortemError> {
    let positive = |name: &str, duration: SignedDuration| {
        if duration.is_positive() {
            Ok(duration)
        } else {
            Err(PostmortemError::InvalidWindow(format!(
                "{name} must be positive, not {duration:#}"
            )))
        }
    };
    let lookback = positive("look-back", options.lookback)?;
    let baseline_length = positive("baseline", options.baseline)?;
    positive("bucket", options.bucket)?;
    let out_of_range =
        |_| PostmortemError::InvalidWindow("window reaches past the end of time".to_owned());
    let since = incident
        .first_seen
        .checked_sub(lookback)
        .map_err(out_of_range)?;
    // The incident's first event is always inside, even with `after` = 0.
    let until = incident
        .first_seen
        .checked_add(options.after.max(SignedDuration::ZERO))
        .and_then(|end| end.checked_add(SignedDuration::from_micros(1)))
        .map_err(out_of_range)?;
    let count = |since, until| -> Result<u64, PostmortemError> {
        Ok(reader
            .search(&SearchRequest {
                since: Some(since),
                until: Some(until),
                limit: 0,
                ..SearchRequest::default()
            })?
            .total_matches)
    };
    let foreground = Window {
        since,
        until,
        events: count(since, until)?,
    };

    let earliest = reader
        .search(&SearchRequest {
            until: Some(since),
            limit: 1,
            ..SearchRequest::default()
        })?
        .hits
        .first()
        .map(|hit| hit.event.time());
    let wanted = since.checked_sub(baseline_length).map_err(out_of_range)?;
    let baseline_since = earliest.map_or(since, |earliest| earliest.max(wanted));
    let baseline = Window {
        since: baseline_since,
        until: since,
        events: count(baseline_since, since)?,
    };
    Ok((foreground, baseline))
}

/// Something counted in both windows, before it is located in time.
struct Candidate {
    kind: HintKind,
    subject: String,
    id: Option<String>,
    /// Query text and filters that find its events.
    query: String,
    filters: Vec<(String, String)>,
    foreground: u64,
    baseline: u64,
}

/// One explanation in the making.
struct Study<'a> {
    reader: &'a IndexReader,
    incident: &'a Incident,
    options: &'a ExplainOptions,
    foreground: Window,
    baseline: Window,
}

impl Study<'_> {
    fn counts(&self, foreground: u64, baseline: u64) -> Counts {
        let (foreground_minutes, baseline_minutes) =
            (self.foreground.minutes(), self.baseline.minutes());
        let per_minute = |count: u64, minutes: f64| {
            if minutes > 0.0 {
                count as f64 / minutes
            } else {
                0.0
            }
        };
        Counts {
            foreground,
            baseline,
            foreground_per_minute: per_minute(foreground, foreground_minutes),
            baseline_per_minute: per_minute(baseline, baseline_minutes),
            rate_ratio: rate_ratio(foreground, foreground_minutes, baseline, baseline_minutes),
            new: baseline == 0,
        }
    }

    fn score(&self, foreground: u64, baseline: u64) -> f64 {
        log_likelihood_ratio(
            foreground,
            self.foreground.events,
            baseline,
            self.baseline.events,
        )
    }

    /// The candidates that are over-represented, best first, located in
    /// time, as hints.
    fn hints(&self, candidates: Vec<Candidate>) -> Result<Vec<Hint>, PostmortemError> {
        let mut scored: Vec<(f64, Candidate)> = candidates
            .into_iter()
            .map(|candidate| {
                (
                    self.score(candidate.foreground, candidate.baseline),
                    candidate,
                )
            })
            .filter(|(score, _)| *score > 0.0)
            .collect();
        scored.sort_by(|left, right| {
            right
                .0
                .total_cmp(&left.0)
                .then_with(|| left.1.subject.cmp(&right.1.subject))
        });
        scored.truncate(self.options.max_candidates);
        self.located(scored)
    }

    /// Scored candidates as hints, with their first event, onset and
    /// example, in order.
    fn located(&self, scored: Vec<(f64, Candidate)>) -> Result<Vec<Hint>, PostmortemError> {
        let requests: Vec<SearchRequest> = scored
            .iter()
            .map(|(_, candidate)| SearchRequest {
                query: candidate.query.clone(),
                filters: candidate.filters.clone(),
                ..SearchRequest::default()
            })
            .collect();
        let timelines = self.reader.timelines(
            self.baseline.since..self.foreground.until,
            self.foreground.since,
            self.options.bucket,
            &requests,
        )?;
        scored
            .into_iter()
            .zip(timelines)
            .map(|((score, candidate), timeline)| self.hint(score, candidate, &timeline))
            .collect()
    }

    /// A scored candidate located on its timeline.
    fn hint(
        &self,
        score: f64,
        candidate: Candidate,
        timeline: &Timeline,
    ) -> Result<Hint, PostmortemError> {
        let counts = self.counts(candidate.foreground, candidate.baseline);
        // A surge: more in one bucket than in any bucket of the baseline.
        let busiest = timeline.before.iter().map(|(_, count)| *count).max();
        let threshold = surge_threshold(busiest.unwrap_or(0));
        let first_bucket = timeline.after.first();
        let onset_bucket = timeline
            .after
            .iter()
            .enumerate()
            .find(|(_, bucket)| bucket.count >= threshold);
        let first = first_bucket
            .map(|bucket| self.reader.first_in(timeline, bucket))
            .transpose()?
            .map(|hit| hit.event);
        let example = match onset_bucket {
            None => None,
            Some((0, _)) => first.clone(),
            Some((_, bucket)) => Some(self.reader.first_in(timeline, bucket)?.event),
        };
        let onset = example.as_ref().map(Event::time);
        let strong = counts.foreground >= self.options.min_count
            && score >= self.options.min_score
            && counts.rate_ratio >= self.options.min_ratio
            && onset.is_some_and(|onset| onset <= self.incident.first_seen);
        Ok(Hint {
            kind: candidate.kind,
            subject: candidate.subject,
            id: candidate.id,
            counts: Some(counts),
            score,
            strong,
            first_seen: first.as_ref().map(Event::time),
            onset,
            first_event: first.as_ref().map(Example::of),
            example: example.as_ref().map(Example::of),
        })
    }

    /// Baseline counts of each filter set.
    fn baseline_counts(
        &self,
        variants: &[Vec<(String, String)>],
    ) -> Result<Vec<u64>, PostmortemError> {
        if self.baseline.events == 0 {
            return Ok(vec![0; variants.len()]);
        }
        Ok(self.reader.count_each(&self.baseline.request(), variants)?)
    }

    /// Template hints, and the ids of every foreground template that is
    /// over-represented at all (a positive score and at least `min_ratio`).
    fn templates(&self) -> Result<(Vec<Hint>, HashSet<String>), PostmortemError> {
        let in_foreground =
            self.reader
                .count_by(&self.foreground.request(), "template", usize::MAX)?;
        let variants: Vec<Vec<(String, String)>> = in_foreground
            .values
            .iter()
            .map(|(id, _)| vec![("template".to_owned(), id.clone())])
            .collect();
        let baseline = self.baseline_counts(&variants)?;
        let candidates = in_foreground
            .values
            .into_iter()
            .zip(variants)
            .zip(baseline)
            .map(|(((id, foreground), filters), baseline)| {
                let text = id
                    .parse::<TemplateId>()
                    .ok()
                    .and_then(|parsed| self.options.template_texts.get(&parsed));
                Candidate {
                    kind: HintKind::Template,
                    subject: match text {
                        Some(text) => format!("template {id} \"{text}\""),
                        None => format!("template {id}"),
                    },
                    id: Some(id),
                    query: String::new(),
                    filters,
                    foreground,
                    baseline,
                }
            })
            .collect::<Vec<_>>();
        let unusual = candidates
            .iter()
            .filter(|candidate| {
                let counts = self.counts(candidate.foreground, candidate.baseline);
                self.score(candidate.foreground, candidate.baseline) > 0.0
                    && counts.rate_ratio >= self.options.min_ratio
            })
            .filter_map(|candidate| candidate.id.clone())
            .collect();
        Ok((self.hints(candidates)?, unusual))
    }

    fn words(
        &self,
        sample: &[Event],
        sample_is_complete: bool,
    ) -> Result<Vec<Hint>, PostmortemError> {
        let mut documents: HashMap<String, u64> = HashMap::new();
        for event in sample {
            let unique: HashSet<String> = message_words(&event.message).into_iter().collect();
            for word in unique {
                *documents.entry(word).or_insert(0) += 1;
            }
        }
        let mut frequent: Vec<(String, u64)> = documents
            .into_iter()
            .filter(|(_, count)| *count >= self.options.min_count)
            .collect();
        frequent.sort_by(|left, right| right.1.cmp(&left.1).then_with(|| left.0.cmp(&right.0)));
        frequent.truncate(self.options.max_words);
        let variants: Vec<Vec<(String, String)>> = frequent
            .iter()
            .map(|(word, _)| vec![("word".to_owned(), word.clone())])
            .collect();
        let foreground = if sample_is_complete {
            frequent.iter().map(|(_, count)| *count).collect()
        } else {
            self.reader
                .count_each(&self.foreground.request(), &variants)?
        };
        let baseline = self.baseline_counts(&variants)?;
        let candidates = frequent
            .into_iter()
            .zip(variants)
            .zip(foreground.into_iter().zip(baseline))
            .map(|(((word, _), filters), (foreground, baseline))| Candidate {
                kind: HintKind::Word,
                subject: format!("word \"{word}\""),
                id: Some(word),
                query: String::new(),
                filters,
                foreground,
                baseline,
            })
            .collect();
        self.hints(candidates)
    }

    fn fields(&self, sample: &[Event]) -> Result<Vec<Hint>, PostmortemError> {
        let mut names: Vec<String> = ["host", "service", "level", "source"]
            .into_iter()
            .map(str::to_owned)
            .collect();
        let structured: BTreeMap<&str, ()> = sample
            .iter()
            .flat_map(|event| event.fields.iter())
            .filter(|(name, value)| queryable_name(name) && is_scalar(value))
            .map(|(name, _)| (name.as_str(), ()))
            .collect();
        names.extend(structured.keys().map(|name| format!("fields.{name}")));

        let mut candidates = Vec::new();
        for name in names {
            let limit = usize::try_from(self.options.max_field_values).unwrap_or(usize::MAX);
            let in_foreground = self
                .reader
                .count_by(&self.foreground.request(), &name, limit)?;
            let structured_name = name.strip_prefix("fields.");
            if structured_name.is_some() && in_foreground.distinct > self.options.max_field_values {
                continue;
            }
            let in_baseline = if self.baseline.events == 0 {
                HashMap::new()
            } else {
                self.reader
                    .count_by(&self.baseline.request(), &name, usize::MAX)?
                    .values
                    .into_iter()
                    .collect()
            };
            for (value, foreground) in in_foreground.values {
                let (query, filters) = match structured_name {
                    Some(field) => (
                        format!("fields.{field}:{}", query_value(&value)),
                        Vec::new(),
                    ),
                    None => (String::new(), vec![(name.clone(), value.clone())]),
                };
                candidates.push(Candidate {
                    kind: HintKind::Field,
                    subject: format!("{name} = {value}"),
                    id: None,
                    baseline: in_baseline.get(&value).copied().unwrap_or(0),
                    query,
                    filters,
                    foreground,
                });
            }
        }
        self.hints(candidates)
    }

    fn first_errors(&self) -> Result<Vec<Hint>, PostmortemError> {
        let errors = SearchRequest {
            filters: vec![("min_level".to_owned(), "error".to_owned())],
            limit: self.options.max_sampled_events,
            ..self.foreground.request()
        };
        let found = self.reader.search(&errors)?;
        // Host and service of each first error, in order of first error.
        let mut pairs: Vec<(Option<String>, Option<String>)> = Vec::new();
        for hit in &found.hits {
            let pair = (hit.event.host.clone(), hit.event.service.clone());
            if !pairs.contains(&pair) {
                pairs.push(pair);
            }
        }
        let variants: Vec<Vec<(String, String)>> = pairs
            .iter()
            .map(|(host, service)| {
                let mut filters = Vec::new();
                if let Some(host) = host {
                    filters.push(("host".to_owned(), host.clone()));
                }
                if let Some(service) = service {
                    filters.push(("service".to_owned(), service.clone()));
                }
                filters
            })
            .collect();
        let foreground = self.reader.count_each(&errors, &variants)?;
        let baseline = if self.baseline.events == 0 {
            vec![0; variants.len()]
        } else {
            self.reader.count_each(
                &SearchRequest {
                    filters: errors.filters.clone(),
                    ..self.baseline.request()
                },
                &variants,
            )?
        };
        let mut scored = Vec::new();
        for (((host, service), mut filters), (foreground, baseline)) in pairs
            .into_iter()
            .zip(variants)
            .zip(foreground.into_iter().zip(baseline))
        {
            filters.extend(errors.filters.iter().cloned());
            let candidate = Candidate {
                kind: HintKind::FirstError,
                subject: format!(
                    "first error of {} on {}",
                    service.as_deref().unwrap_or("-"),
                    host.as_deref().unwrap_or("-")
                ),
                id: None,
                query: String::new(),
                filters,
                foreground,
                baseline,
            };
            scored.push((self.score(foreground, baseline), candidate));
        }
        let mut hints = self.located(scored)?;
        hints.sort_by_key(|hint| hint.first_seen);
        Ok(hints)
    }

    fn nearby_incidents(&self) -> Result<Vec<Hint>, PostmortemError> {
        let end = self
            .incident
            .first_seen
            .checked_add(self.options.lookback)
            .unwrap_or(self.incident.first_seen);
        let mut nearby: Vec<Incident> = self
            .reader
            .incidents()?
            .into_iter()
            .filter(|other| other.id != self.incident.id)
            .filter(|other| other.first_seen >= self.foreground.since && other.first_seen < end)
            .collect();
        nearby.sort_by_key(|other| (other.first_seen, other.id));
        let mut hints = Vec::new();
        for other in nearby {
            let example = first_event_of(self.reader, &other)?.map(|event| Example::of(&event));
            let opened = example.as_ref().map_or(other.first_seen, |example| {
                example.time.min(other.first_seen)
            });
            let offset = other.first_seen.duration_since(self.incident.first_seen);
            let relation = if offset.is_negative() {
                format!(
                    "{:#} before",
                    offset
                        .abs()
                        .round(jiff::Unit::Second)
                        .unwrap_or(offset.abs())
                )
            } else {
                format!(
                    "{:#} after",
                    offset.round(jiff::Unit::Second).unwrap_or(offset)
                )
            };
            hints.push(Hint {
                kind: HintKind::Incident,
                subject: format!(
                    "incident {} ({}) opened {relation}: {}",
                    other.key, other.severity, other.title
                ),
                id: Some(other.id.to_string()),
                counts: None,
                score: 0.0,
                strong: opened <= self.incident.first_seen,
                first_seen: Some(other.first_seen),
                onset: Some(opened),
                first_event: example.clone(),
                example,
            });
        }
        Ok(hints)
    }
}

/// The earliest event that counted towards `incident`, of its first
/// trigger event, its first sample and the first event tagged with it in
/// the index. The events that made it fire are not tagged (they were
/// processed before it existed), and sources read side by side can hand the
/// detector a later event first, so any of the three can be the earliest,
/// and all can be earlier than `first_seen`.
pub(crate) fn first_event_of(
    reader: &IndexReader,
    incident: &Incident,
) -> Result<Option<Event>, PostmortemError> {
    let tagged = reader.search(&SearchRequest {
        filters: vec![("incident".to_owned(), incident.id.to_string())],
        limit: 1,
        ..SearchRequest::default()
    })?;
    let mut earliest = tagged.hits.into_iter().next().map(|hit| hit.event);
    let named = [
        incident.trigger_events.first().copied(),
        incident.samples.first().map(|sample| sample.event_id),
    ];
    for id in named.into_iter().flatten() {
        if earliest.as_ref().is_some_and(|event| event.id == id) {
            continue;
        }
        if let Some(hit) = reader.event(id)?
            && earliest
                .as_ref()
                .is_none_or(|event| (hit.event.time(), hit.event.line) < (event.time(), event.line))
        {
            earliest = Some(hit.event);
        }
    }
    Ok(earliest)
}

/// A structured field name the query syntax can name as `fields.NAME`.
fn queryable_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || byte == b'_')
}

fn is_scalar(value: &serde_json::Value) -> bool {
    matches!(
        value,
        serde_json::Value::String(_) | serde_json::Value::Number(_) | serde_json::Value::Bool(_)
    )
}

/// A field value as query text: numbers and booleans bare, text quoted.
fn query_value(value: &str) -> String {
    if value.parse::<f64>().is_ok() || value == "true" || value == "false" {
        value.to_owned()
    } else {
        let escaped = value.replace('\\', "\\\\").replace('"', "\\\"");
        format!("\"{escaped}\"")
    }
}

/// The ranked list of `hints` (module header), at most `limit` findings.
/// A finding is strong when one of its hints is, and its event is of an
/// `unusual` kind: words and values point at a line, but the lead must be
/// a line that is itself out of the ordinary, not a routine line that
/// happens to share a word with the storm that followed.
pub(crate) fn rank(
    hints: Vec<Hint>,
    limit: usize,
    unusual: impl Fn(&Example) -> bool,
) -> Vec<RankedHint> {
    let mut findings: Vec<RankedHint> = Vec::new();
    for hint in hints {
        let Some(example) = hint.example.clone() else {
            continue;
        };
        let Some(onset) = hint.onset else {
            continue;
        };
        match findings
            .iter_mut()
            .find(|finding| finding.example.event_id == example.event_id)
        {
            Some(finding) => {
                if hint.strong && (!finding.strong || onset < finding.onset) {
                    finding.onset = onset;
                } else if !finding.strong && !hint.strong {
                    finding.onset = finding.onset.min(onset);
                }
                finding.strong |= hint.strong;
                finding.score = finding.score.max(hint.score);
                finding.evidence.push(hint);
            }
            None => findings.push(RankedHint {
                rank: 0,
                onset,
                strong: hint.strong,
                score: hint.score,
                example,
                evidence: vec![hint],
            }),
        }
    }
    for finding in &mut findings {
        finding.strong &= unusual(&finding.example);
        finding.evidence.sort_by(|left, right| {
            right
                .strong
                .cmp(&left.strong)
                .then_with(|| {
                    (left.kind == HintKind::Incident)
                        .cmp(&(right.kind == HintKind::Incident))
                        .reverse()
                })
                .then_with(|| right.score.total_cmp(&left.score))
        });
    }
    findings.sort_by(|left, right| {
        right.strong.cmp(&left.strong).then_with(|| {
            if left.strong {
                left.onset
                    .cmp(&right.onset)
                    .then_with(|| right.score.total_cmp(&left.score))
            } else {
                right
                    .score
                    .total_cmp(&left.score)
                    .then_with(|| left.onset.cmp(&right.onset))
            }
        })
    });
    findings.truncate(limit);
    for (index, finding) in findings.iter_mut().enumerate() {
        finding.rank = index + 1;
    }
    findings
}

#[cfg(test)]
mod tests {
    use super::*;

    fn example(id: u64, time: &str) -> Example {
        Example {
            event_id: EventId(id),
            time: time.parse().unwrap(),
            source: "syslog".into(),
            host: Some("db-01".into()),
            service: Some("kernel".into()),
            level: Level::Unknown,
            message: format!("event {id}"),
            template: Some(TemplateId(id)),
        }
    }

    fn hint(kind: HintKind, event: u64, time: &str, score: f64, strong: bool) -> Hint {
        let example = example(event, time);
        Hint {
            kind,
            subject: format!("{kind:?} of {event}"),
            id: None,
            counts: None,
            score,
            strong,
            first_seen: Some(example.time),
            onset: Some(example.time),
            first_event: Some(example.clone()),
            example: Some(example),
        }
    }

    #[test]
    fn strong_findings_come_first_earliest_onset_first_then_the_rest_by_score() {
        let hints = vec![
            hint(HintKind::Word, 3, "2026-11-20T09:41:19Z", 500.0, true),
            hint(HintKind::Field, 9, "2026-11-20T09:30:00Z", 900.0, false),
            hint(HintKind::Template, 1, "2026-11-20T09:40:12Z", 4.0, true),
            hint(HintKind::Word, 1, "2026-11-20T09:40:12Z", 139.0, true),
            hint(HintKind::Incident, 1, "2026-11-20T09:40:12Z", 0.0, true),
            hint(HintKind::Word, 8, "2026-11-20T09:35:00Z", 50.0, false),
        ];
        let ranked = rank(hints, 10, |_| true);
        let order: Vec<(usize, u64, bool)> = ranked
            .iter()
            .map(|finding| (finding.rank, finding.example.event_id.0, finding.strong))
            .collect();
        assert_eq!(
            order,
            [(1, 1, true), (2, 3, true), (3, 9, false), (4, 8, false)]
        );
        // The three hints on event 1 are one finding, the incident first.
        assert_eq!(ranked[0].evidence.len(), 3);
        assert_eq!(ranked[0].evidence[0].kind, HintKind::Incident);
        assert_eq!(ranked[0].score, 139.0);
        assert_eq!(rank(ranked_hints_again(), 1, |_| true).len(), 1);
    }

    fn ranked_hints_again() -> Vec<Hint> {
        vec![
            hint(HintKind::Word, 1, "2026-11-20T09:40:12Z", 1.0, true),
            hint(HintKind::Word, 2, "2026-11-20T09:40:13Z", 1.0, true),
        ]
    }

    #[test]
    fn a_routine_line_is_no_strong_lead_however_strong_its_words() {
        let hints = vec![
            hint(HintKind::Word, 5, "2026-11-20T09:27:47Z", 300.0, true),
            hint(HintKind::Template, 6, "2026-11-20T09:40:12Z", 20.0, true),
        ];
        let routine = TemplateId(5);
        let ranked = rank(hints, 10, |example| example.template != Some(routine));
        assert_eq!(ranked[0].example.event_id, EventId(6));
        assert!(ranked[0].strong);
        assert!(!ranked[1].strong);
    }

    #[test]
    fn field_values_become_query_text() {
        assert_eq!(query_value("503"), "503");
        assert_eq!(query_value("db-01"), "\"db-01\"");
        assert_eq!(query_value(r#"say "hi"\"#), r#""say \"hi\"\\""#);
        assert!(queryable_name("status") && !queryable_name("a b") && !queryable_name(""));
    }
}
