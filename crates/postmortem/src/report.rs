//! `report`: a postmortem draft of one incident, for a wiki.
//!
//! The draft holds what the index and the delivery record know (summary,
//! severity, duration, affected services and hosts, a timeline with log
//! excerpts, the ranked root-cause hints) and leaves empty the sections
//! only people can write: impact, action items, lessons learned. The
//! timeline runs from the first anomaly (the best lead of [`explain`])
//! through the first matching event, detection (the incident fired),
//! escalations, each notification attempt, to resolution.

use std::fmt::Write as _;

use firewatch_event::{
    Change, Delivery, Incident, IncidentId, IncidentState, Severity, Timestamp, short_time,
};
use firewatch_index::{IndexReader, SearchRequest};
use serde::Serialize;

use crate::PostmortemError;
use crate::explain::{Example, ExplainOptions, RankedHint, explain, first_event_of};

/// What a timeline entry records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TimelineKind {
    /// The earliest lead of the root-cause hints.
    FirstAnomaly,
    /// The first event that counted towards the incident.
    FirstMatch,
    /// The rule's condition fired, waiting for its `for`.
    Pending,
    /// The incident opened: detection.
    Fired,
    /// Its severity rose.
    Escalated,
    /// It opened again after resolving.
    Reopened,
    /// It was marked flapping.
    Flapping,
    /// A notification attempt.
    Notification,
    /// It resolved.
    Resolved,
}

impl TimelineKind {
    fn label(self) -> &'static str {
        match self {
            TimelineKind::FirstAnomaly => "first anomaly",
            TimelineKind::FirstMatch => "first matching event",
            TimelineKind::Pending => "pending",
            TimelineKind::Fired => "detected (fired)",
            TimelineKind::Escalated => "escalated",
            TimelineKind::Reopened => "reopened",
            TimelineKind::Flapping => "flapping",
            TimelineKind::Notification => "notification",
            TimelineKind::Resolved => "resolved",
        }
    }
}

/// One row of the timeline.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TimelineEntry {
    /// When (event time; wall-clock time for notifications).
    pub at: Timestamp,
    /// What happened.
    pub kind: TimelineKind,
    /// In words.
    pub detail: String,
    /// The log line that shows it, when there is one.
    pub excerpt: Option<Example>,
}

/// A postmortem draft.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Report {
    /// The incident.
    pub incident: IncidentId,
    /// Its title.
    pub title: String,
    /// Its key.
    pub key: String,
    /// The rule that opened it.
    pub rule: String,
    /// The rule's description.
    pub description: Option<String>,
    /// What happened, in two sentences.
    pub summary: String,
    /// Its severity (after escalations).
    pub severity: Severity,
    /// Its state now.
    pub state: IncidentState,
    /// The first anomaly, or the first matching event when nothing stood out earlier.
    pub started: Timestamp,
    /// When it fired.
    pub detected: Timestamp,
    /// When it resolved; `None` while open.
    pub resolved: Option<Timestamp>,
    /// From `started` to `resolved` (or to the last matching event while open), in seconds.
    pub duration_seconds: i64,
    /// Services of the incident and of its events.
    pub affected_services: Vec<String>,
    /// Hosts of the incident and of its events.
    pub affected_hosts: Vec<String>,
    /// Oldest first.
    pub timeline: Vec<TimelineEntry>,
    /// The ranked root-cause hints.
    pub hints: Vec<RankedHint>,
    /// Left for people to write.
    pub impact: String,
    /// Left for people to write.
    pub action_items: Vec<String>,
    /// Left for people to write.
    pub lessons_learned: String,
}

/// The postmortem draft of `incident`; `deliveries` are the notification
/// attempts about it, oldest first (`firewatch_notify::read_deliveries`).
pub fn report(
    reader: &IndexReader,
    incident: &Incident,
    deliveries: &[Delivery],
    options: &ExplainOptions,
) -> Result<Report, PostmortemError> {
    let explanation = explain(reader, incident, options)?;
    let mut timeline = Vec::new();
    if let Some(lead) = explanation.ranked.first() {
        let what = lead
            .evidence
            .first()
            .map_or_else(String::new, |hint| hint.subject.clone());
        timeline.push(TimelineEntry {
            at: lead.onset,
            kind: TimelineKind::FirstAnomaly,
            detail: format!("{what} ({})", place(&lead.example)),
            excerpt: Some(lead.example.clone()),
        });
    }
    let first_match = first_event_of(reader, incident)?.map(|event| Example::of(&event));
    timeline.push(TimelineEntry {
        at: first_match.as_ref().map_or(incident.first_seen, |first| {
            first.time.min(incident.first_seen)
        }),
        kind: TimelineKind::FirstMatch,
        detail: format!("first event counted by rule {}", incident.rule),
        excerpt: first_match,
    });
    let mut detected = None;
    for change in &incident.history {
        let (kind, detail) = match change.change {
            Change::Pending => (TimelineKind::Pending, "condition met, waiting".to_owned()),
            Change::Fired => (TimelineKind::Fired, format!("{} opened", incident.key)),
            Change::Escalated { from, to } => {
                (TimelineKind::Escalated, format!("severity {from} -> {to}"))
            }
            Change::Reopened => (TimelineKind::Reopened, "fired again".to_owned()),
            Change::Flapping => (TimelineKind::Flapping, "resolving and reopening".to_owned()),
            Change::Resolved => (
                TimelineKind::Resolved,
                "quiet for the rule's resolve period".to_owned(),
            ),
        };
        if kind == TimelineKind::Fired && detected.is_none() {
            detected = Some(change.at);
        }
        timeline.push(TimelineEntry {
            at: change.at,
            kind,
            detail,
            excerpt: None,
        });
    }
    // Incidents stored before histories were kept still get both ends.
    if detected.is_none() {
        timeline.push(TimelineEntry {
            at: incident.first_seen,
            kind: TimelineKind::Fired,
            detail: format!("{} opened", incident.key),
            excerpt: None,
        });
    }
    if let Some(resolved) = incident.resolved_at
        && !timeline
            .iter()
            .any(|entry| entry.kind == TimelineKind::Resolved)
    {
        timeline.push(TimelineEntry {
            at: resolved,
            kind: TimelineKind::Resolved,
            detail: "quiet for the rule's resolve period".to_owned(),
            excerpt: None,
        });
    }
    for delivery in deliveries {
        timeline.push(TimelineEntry {
            at: delivery.at,
            kind: TimelineKind::Notification,
            detail: format!(
                "{} ({}, attempt {}): {}",
                delivery.receiver, delivery.reason, delivery.attempt, delivery.outcome
            ),
            excerpt: None,
        });
    }
    timeline.sort_by_key(|entry| entry.at);

    let detected = detected.unwrap_or(incident.first_seen);
    let started = explanation
        .ranked
        .first()
        .map_or(incident.first_seen, |lead| {
            lead.onset.min(incident.first_seen)
        });
    let end = incident.resolved_at.unwrap_or(incident.last_seen);
    let duration_seconds = end.duration_since(started).as_secs().max(0);
    let (affected_services, affected_hosts) = affected(reader, incident)?;
    let lead = explanation.ranked.first().map(|lead| {
        format!(
            " The earliest lead is {} at {}.",
            place(&lead.example),
            short_time(lead.onset)
        )
    });
    let summary = format!(
        "{} ({}, rule {}) was detected at {} after {} matching events from {} to {}; {}.{}",
        incident.title,
        incident.severity,
        incident.rule,
        short_time(detected),
        incident.count,
        short_time(incident.first_seen),
        short_time(incident.last_seen),
        match incident.resolved_at {
            Some(at) => format!("it resolved at {}", short_time(at)),
            None => "it is still open".to_owned(),
        },
        lead.unwrap_or_default()
    );
    Ok(Report {
        incident: incident.id,
        title: incident.title.clone(),
        key: incident.key.clone(),
        rule: incident.rule.clone(),
        description: incident.description.clone(),
        summary,
        severity: incident.severity,
        state: incident.state,
        started,
        detected,
        resolved: incident.resolved_at,
        duration_seconds,
        affected_services,
        affected_hosts,
        timeline,
        hints: explanation.ranked,
        impact: String::new(),
        action_items: Vec::new(),
        lessons_learned: String::new(),
    })
}

/// Services and hosts of the incident's group and of the events tagged with it.
fn affected(
    reader: &IndexReader,
    incident: &Incident,
) -> Result<(Vec<String>, Vec<String>), PostmortemError> {
    let tagged = SearchRequest {
        filters: vec![("incident".to_owned(), incident.id.to_string())],
        limit: 0,
        ..SearchRequest::default()
    };
    let mut lists = Vec::new();
    for field in ["service", "host"] {
        let mut values: Vec<String> = reader
            .count_by(&tagged, field, usize::MAX)?
            .values
            .into_iter()
            .map(|(value, _)| value)
            .collect();
        if let Some(value) = incident.group.get(field).filter(|value| *value != "-") {
            values.push(value.clone());
        }
        values.sort();
        values.dedup();
        lists.push(values);
    }
    let hosts = lists.pop().unwrap_or_default();
    let services = lists.pop().unwrap_or_default();
    Ok((services, hosts))
}

/// `kernel on db-01`, from what an event knows.
fn place(example: &Example) -> String {
    let service = example.service.as_deref().unwrap_or(&example.source);
    match &example.host {
        Some(host) => format!("{service} on {host}"),
        None => service.to_owned(),
    }
}

/// Text safe inside a Markdown table cell.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace(['\n', '\r'], " ")
}

/// A log line as the excerpts show it, safe inside a code block.
fn excerpt_line(example: &Example) -> String {
    example.to_string().replace("```", "'''")
}

fn human_duration(seconds: i64) -> String {
    let (hours, minutes, seconds) = (seconds / 3600, seconds % 3600 / 60, seconds % 60);
    match (hours, minutes) {
        (0, 0) => format!("{seconds}s"),
        (0, _) => format!("{minutes}m {seconds}s"),
        _ => format!("{hours}h {minutes}m {seconds}s"),
    }
}

impl Report {
    /// The draft in Markdown: headings, a facts table, a timeline table,
    /// fenced log excerpts, the hints, and the sections left to write.
    pub fn to_markdown(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = self.write_markdown(&mut out);
        out
    }

    fn write_markdown(&self, out: &mut String) -> std::fmt::Result {
        writeln!(out, "# Postmortem: {}\n", self.title)?;
        writeln!(out, "| | |\n|---|---|")?;
        writeln!(
            out,
            "| Incident | `{}` (`{}`) |",
            self.incident,
            cell(&self.key)
        )?;
        writeln!(out, "| Rule | `{}` |", cell(&self.rule))?;
        writeln!(out, "| Severity | {} |", self.severity)?;
        writeln!(out, "| State | {} |", self.state)?;
        writeln!(out, "| Started | {} |", short_time(self.started))?;
        writeln!(out, "| Detected | {} |", short_time(self.detected))?;
        let resolved = self
            .resolved
            .map_or_else(|| "not yet".to_owned(), short_time);
        writeln!(out, "| Resolved | {resolved} |")?;
        let ongoing = if self.resolved.is_none() {
            " (ongoing)"
        } else {
            ""
        };
        writeln!(
            out,
            "| Duration | {}{ongoing} |",
            human_duration(self.duration_seconds)
        )?;
        writeln!(
            out,
            "| Affected services | {} |",
            cell(&self.affected_services.join(", "))
        )?;
        writeln!(
            out,
            "| Affected hosts | {} |\n",
            cell(&self.affected_hosts.join(", "))
        )?;

        writeln!(out, "## Summary\n\n{}\n", self.summary)?;
        if let Some(description) = &self.description {
            writeln!(out, "Rule description: {description}\n")?;
        }

        writeln!(out, "## Timeline\n")?;
        writeln!(out, "| Time (UTC) | Event | Detail |\n|---|---|---|")?;
        for entry in &self.timeline {
            writeln!(
                out,
                "| {} | {} | {} |",
                short_time(entry.at),
                entry.kind.label(),
                cell(&entry.detail)
            )?;
        }
        writeln!(out)?;
        let excerpts: Vec<&TimelineEntry> = self
            .timeline
            .iter()
            .filter(|entry| entry.excerpt.is_some())
            .collect();
        if !excerpts.is_empty() {
            writeln!(out, "### Log excerpts\n")?;
        }
        for entry in excerpts {
            if let Some(example) = &entry.excerpt {
                writeln!(
                    out,
                    "{} (event `{}`):\n\n```text\n{}\n```\n",
                    entry.kind.label(),
                    example.event_id,
                    excerpt_line(example)
                )?;
            }
        }

        writeln!(out, "## Root-cause hints\n")?;
        if self.hints.is_empty() {
            writeln!(out, "Nothing stood out in the logs before the incident.\n")?;
        }
        for hint in &self.hints {
            writeln!(
                out,
                "{}. **{}** {}{}: `{}`",
                hint.rank,
                short_time(hint.onset),
                place(&hint.example),
                if hint.strong { "" } else { " (weak)" },
                hint.example.event_id
            )?;
            writeln!(
                out,
                "\n   ```text\n   {}\n   ```\n",
                excerpt_line(&hint.example)
            )?;
            for evidence in &hint.evidence {
                writeln!(out, "   - {}: {}", evidence.subject, evidence.evidence())?;
            }
            writeln!(out)?;
        }
        writeln!(
            out,
            "Hints compare the logs before the incident with a baseline before that \
             (`firewatch incidents explain {}` shows every section).\n",
            self.incident
        )?;
        writeln!(
            out,
            "## Impact\n\n_To be written: who was affected, how, and for how long._\n"
        )?;
        writeln!(
            out,
            "## Action items\n\n| Action | Owner | Due |\n|---|---|---|\n| | | |\n"
        )?;
        writeln!(out, "## Lessons learned\n\n_To be written._")?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_cells_and_durations_read_well_in_markdown() {
        assert_eq!(cell("a | b\nc"), "a \\| b c");
        assert_eq!(human_duration(42), "42s");
        assert_eq!(human_duration(448), "7m 28s");
        assert_eq!(human_duration(3 * 3600 + 61), "3h 1m 1s");
    }

    #[test]
    fn excerpts_cannot_close_their_fence() {
        let example = Example {
            event_id: firewatch_event::EventId(1),
            time: "2026-11-20T09:40:12Z".parse().unwrap(),
            source: "app".into(),
            host: None,
            service: None,
            level: firewatch_event::Level::Error,
            message: "a ``` b".into(),
            template: None,
        };
        assert_eq!(
            excerpt_line(&example),
            "2026-11-20 09:40:12.000Z  -  app  error  a ''' b"
        );
        assert_eq!(place(&example), "app");
    }
}
