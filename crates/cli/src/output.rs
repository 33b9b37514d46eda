//! How results are shown: aligned text for people, JSON lines for scripts.

use std::collections::HashMap;
use std::io::{self, IsTerminal, Write};

use firewatch_event::{Event, EventId, Incident, IncidentId, TemplateId};
use firewatch_index::{Highlighter, IndexReader};
use serde_json::{Value, json};

/// True when the error is a closed stdout (`firewatch search ... | head`):
/// not a failure worth reporting.
pub fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause
            .downcast_ref::<io::Error>()
            .is_some_and(|error| error.kind() == io::ErrorKind::BrokenPipe)
    })
}

/// An event as the JSON object `parse`, `search --json` and `detect` print.
pub fn event_json(event: &Event, incidents: &[IncidentId]) -> Value {
    let mut object = json!({
        "id": event.id,
        "line": event.line,
        "timestamp": event.timestamp.map(|time| time.to_string()),
        "received": event.received.to_string(),
        "source": &*event.source,
        "host": event.host,
        "service": event.service,
        "level": event.level.as_str(),
        "message": event.message,
        "fields": event.fields,
        "parse_error": event.problem.unparsed,
    });
    if !event.problem.is_clean() || event.problem.reason.is_some() {
        object["problem"] = json!(event.problem);
    }
    if !incidents.is_empty() {
        object["incidents"] = json!(incidents);
    }
    if let Some(template) = event.template {
        object["template_id"] = json!(template);
    }
    object
}

/// The text of each template the index's last commit knows, by id. Ids of
/// templates the miner has since forgotten (it keeps the most recently used)
/// have no text.
pub fn template_texts(reader: &IndexReader) -> anyhow::Result<HashMap<TemplateId, String>> {
    let state = reader.rule_state()?;
    let Some(miner) = state
        .as_ref()
        .and_then(firewatch_pipeline::stored_templates)
    else {
        return Ok(HashMap::new());
    };
    Ok(miner
        .templates()
        .map(|template| (template.id, template.text.to_owned()))
        .collect())
}

/// [`event_json`] with the text of the event's template, when known.
pub fn stored_event_json(
    event: &Event,
    incidents: &[IncidentId],
    texts: &HashMap<TemplateId, String>,
) -> Value {
    let mut object = event_json(event, incidents);
    if let Some(text) = event.template.and_then(|id| texts.get(&id)) {
        object["template"] = json!(text);
    }
    object
}

/// Writes one JSON value as a line.
pub fn write_json_line(out: &mut impl Write, value: &impl serde::Serialize) -> anyhow::Result<()> {
    serde_json::to_writer(&mut *out, value)?;
    out.write_all(b"\n")?;
    Ok(())
}

pub use firewatch_event::short_time;

/// Events as aligned columns: time, host, service, level, message.
pub fn write_event_table(out: &mut impl Write, events: &[&Event]) -> anyhow::Result<()> {
    write_event_rows(out, events, EventTableStyle::default())
}

/// What an event table shows beyond its columns.
#[derive(Default)]
pub struct EventTableStyle<'a> {
    /// Each row starts with the event id, to pass to `firewatch context`.
    pub ids: bool,
    /// This event is marked with `>` in the margin (every row gets a margin).
    pub marked: Option<EventId>,
    /// Matched words of the message are shown bold and red.
    pub highlighter: Option<&'a mut Highlighter>,
}

/// True when stdout is a terminal that may be coloured: not piped, and
/// `NO_COLOR` (<https://no-color.org>) unset or empty.
pub fn colour_stdout() -> bool {
    io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|value| value.is_empty())
}

/// Width of the terminal: `COLUMNS` when the shell exports it, else 80.
pub fn terminal_width() -> usize {
    std::env::var("COLUMNS")
        .ok()
        .and_then(|columns| columns.trim().parse().ok())
        .filter(|columns| *columns >= 40)
        .unwrap_or(80)
}

/// `text` with the byte `ranges` (in order, within bounds) in bold red.
fn highlighted(text: &str, ranges: &[std::ops::Range<usize>]) -> String {
    let mut shown = String::with_capacity(text.len() + ranges.len() * 11);
    let mut done = 0;
    for range in ranges {
        if range.start < done || text.get(range.clone()).is_none() {
            continue;
        }
        shown.push_str(&text[done..range.start]);
        shown.push_str("\x1b[1;31m");
        shown.push_str(&text[range.clone()]);
        shown.push_str("\x1b[0m");
        done = range.end;
    }
    shown.push_str(&text[done..]);
    shown
}

/// [`write_event_table`] in the given style.
pub fn write_event_rows(
    out: &mut impl Write,
    events: &[&Event],
    mut style: EventTableStyle<'_>,
) -> anyhow::Result<()> {
    let width = |pick: fn(&Event) -> Option<&str>| {
        events
            .iter()
            .map(|event| pick(event).map_or(1, str::len))
            .max()
            .unwrap_or(1)
            .min(24)
    };
    let host_width = width(|event| event.host.as_deref());
    let service_width = width(|event| event.service.as_deref());
    for event in events {
        if let Some(marked) = style.marked {
            write!(out, "{} ", if event.id == marked { '>' } else { ' ' })?;
        }
        if style.ids {
            write!(out, "{}  ", event.id)?;
        }
        let message = match style.highlighter.as_deref_mut() {
            Some(highlighter) => highlighted(&event.message, &highlighter.ranges(&event.message)),
            None => event.message.clone(),
        };
        writeln!(
            out,
            "{}  {:host_width$}  {:service_width$}  {:7}  {}",
            short_time(event.time()),
            event.host.as_deref().unwrap_or("-"),
            event.service.as_deref().unwrap_or("-"),
            event.level.as_str(),
            message.replace('\n', "\n    "),
        )?;
    }
    Ok(())
}

/// Incidents as aligned columns.
pub fn write_incident_table(out: &mut impl Write, incidents: &[Incident]) -> anyhow::Result<()> {
    write_incident_table_silenced(out, incidents, &HashMap::new())
}

/// [`write_incident_table`] with the silence that covers each incident in
/// `silenced` (by incident id) in a column before the title, shown only
/// when there is one.
pub fn write_incident_table_silenced(
    out: &mut impl Write,
    incidents: &[Incident],
    silenced: &HashMap<IncidentId, String>,
) -> anyhow::Result<()> {
    if incidents.is_empty() {
        writeln!(out, "no incidents")?;
        return Ok(());
    }
    let key_width = incidents
        .iter()
        .map(|incident| incident.key.len())
        .max()
        .unwrap_or(3)
        .clamp(3, 60);
    let silence_column = |text: &str| {
        if silenced.is_empty() {
            String::new()
        } else {
            format!("{text:16}  ")
        }
    };
    writeln!(
        out,
        "{:16}  {:8}  {:8}  {:key_width$}  {:>6}  {:24}  {}TITLE",
        "ID",
        "SEVERITY",
        "STATE",
        "KEY",
        "COUNT",
        "FIRST SEEN",
        silence_column("SILENCED BY"),
    )?;
    for incident in incidents {
        writeln!(
            out,
            "{:16}  {:8}  {:8}  {:key_width$}  {:>6}  {:24}  {}{}",
            incident.id.to_string(),
            incident.severity,
            incident.state,
            incident.key,
            incident.count,
            short_time(incident.first_seen),
            silence_column(silenced.get(&incident.id).map_or("-", String::as_str)),
            incident.title,
        )?;
    }
    Ok(())
}

/// Delivery attempts as aligned columns: when, receiver, why, attempt, how
/// it ended.
pub fn write_delivery_table(
    out: &mut impl Write,
    deliveries: &[firewatch_event::Delivery],
) -> anyhow::Result<()> {
    let receiver_width = deliveries
        .iter()
        .map(|delivery| delivery.receiver.len())
        .max()
        .unwrap_or(8)
        .clamp(8, 24);
    for delivery in deliveries {
        writeln!(
            out,
            "{}  {:receiver_width$}  {:9}  #{:<2}  {}",
            short_time(delivery.at),
            delivery.receiver,
            delivery.reason,
            delivery.attempt,
            delivery.outcome,
        )?;
    }
    Ok(())
}

/// One incident in full, for `incidents show`.
pub fn write_incident_detail(out: &mut impl Write, incident: &Incident) -> anyhow::Result<()> {
    writeln!(out, "{}  {}", incident.id, incident.title)?;
    writeln!(out, "  rule:        {}", incident.rule)?;
    writeln!(out, "  key:         {}", incident.key)?;
    writeln!(out, "  severity:    {}", incident.severity)?;
    writeln!(out, "  state:       {}", incident.state)?;
    writeln!(out, "  first seen:  {}", short_time(incident.first_seen))?;
    writeln!(out, "  last seen:   {}", short_time(incident.last_seen))?;
    if let Some(resolved) = incident.resolved_at {
        writeln!(out, "  resolved at: {}", short_time(resolved))?;
    }
    writeln!(out, "  matches:     {}", incident.count)?;
    if incident.flapping {
        writeln!(out, "  flapping:    yes")?;
    }
    for (name, value) in &incident.group {
        writeln!(out, "  {:12} {value}", format!("{name}:"))?;
    }
    if let Some(description) = &incident.description {
        writeln!(out, "  description: {description}")?;
    }
    if !incident.history.is_empty() {
        writeln!(out, "  history:")?;
        for entry in &incident.history {
            writeln!(out, "    {}  {}", short_time(entry.at), entry.change)?;
        }
    }
    if !incident.samples.is_empty() {
        writeln!(out, "  samples:")?;
        for sample in &incident.samples {
            writeln!(
                out,
                "    {}  {}  {}",
                short_time(sample.time),
                sample.event_id,
                sample.message
            )?;
        }
    }
    Ok(())
}

/// An explanation for people: the windows, the ranked findings with their
/// evidence (`+` strong, `-` weak), then each section.
pub fn write_explanation(
    out: &mut impl Write,
    explanation: &firewatch_postmortem::Explanation,
) -> anyhow::Result<()> {
    use firewatch_postmortem::{Hint, Window};
    let window = |out: &mut dyn Write, name: &str, window: &Window| -> io::Result<()> {
        writeln!(
            out,
            "{name:<11} {} .. {}  {:>7.1} min  {:>9} events",
            short_time(window.since),
            short_time(window.until),
            window.minutes(),
            window.events
        )
    };
    writeln!(
        out,
        "{}  {}  ({}), first seen {}",
        explanation.incident,
        explanation.title,
        explanation.key,
        short_time(explanation.first_seen)
    )?;
    window(out, "foreground", &explanation.foreground)?;
    window(out, "baseline", &explanation.baseline)?;

    writeln!(
        out,
        "\nranked hints (strong first, earliest onset first; then by score):"
    )?;
    if explanation.ranked.is_empty() {
        writeln!(out, "  nothing stood out")?;
    }
    for finding in &explanation.ranked {
        writeln!(out, "{:>3}. {}", finding.rank, finding.example)?;
        writeln!(out, "     event {}", finding.example.event_id)?;
        for hint in &finding.evidence {
            let mark = if hint.strong { '+' } else { '-' };
            writeln!(out, "     {mark} {}: {}", hint.subject, hint.evidence())?;
        }
    }
    let sections: [(&str, &Vec<Hint>); 5] = [
        ("templates new or surged", &explanation.templates),
        ("words over-represented", &explanation.words),
        ("field values over-represented", &explanation.fields),
        (
            "first error per host and service",
            &explanation.first_errors,
        ),
        ("incidents nearby", &explanation.nearby_incidents),
    ];
    for (title, hints) in sections {
        writeln!(out, "\n{title}:")?;
        if hints.is_empty() {
            writeln!(out, "  none")?;
        }
        for hint in hints {
            let mark = if hint.strong { '+' } else { '-' };
            writeln!(out, "  {mark} {}: {}", hint.subject, hint.evidence())?;
            if let Some(example) = &hint.first_event {
                writeln!(out, "      {}  {example}", example.event_id)?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn highlights_wrap_ranges_and_skip_bad_ones() {
        let text = "Connection refused: connection lost";
        assert_eq!(
            highlighted(text, &[0..10, 11..18, 5..12, 30..99]),
            "\x1b[1;31mConnection\x1b[0m \x1b[1;31mrefused\x1b[0m: connection lost"
        );
        assert_eq!(highlighted(text, &[]), text);
    }

    #[test]
    fn incident_detail_shows_description_flapping_and_history() {
        let incident: Incident = serde_json::from_value(serde_json::json!({
            "id": "00000000000000aa", "rule": "r", "title": "T", "severity": "critical",
            "description": "3 failures", "key": "r", "group": {}, "state": "open",
            "flapping": true, "first_seen": "2026-11-20T09:00:00Z",
            "last_seen": "2026-11-20T09:05:00Z", "resolved_at": null, "count": 3,
            "samples": [], "trigger_events": [],
            "history": [
                { "at": "2026-11-20T09:00:00Z", "change": "fired" },
                { "at": "2026-11-20T09:01:00Z", "change": "escalated", "from": "high", "to": "critical" },
            ],
        }))
        .unwrap();
        let mut out = Vec::new();
        write_incident_detail(&mut out, &incident).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("  flapping:    yes\n"), "{text}");
        assert!(text.contains("  description: 3 failures\n"), "{text}");
        assert!(
            text.contains("  history:\n    2026-11-20 09:00:00.000Z  fired\n    2026-11-20 09:01:00.000Z  escalated high -> critical\n"),
            "{text}"
        );
    }
}
