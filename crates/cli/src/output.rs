//! How results are shown: aligned text for people, JSON lines for scripts.

use std::io::{self, Write};

use firewatch_event::{Event, Incident, IncidentId, Timestamp};
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
    object
}

/// Writes one JSON value as a line.
pub fn write_json_line(out: &mut impl Write, value: &impl serde::Serialize) -> anyhow::Result<()> {
    serde_json::to_writer(&mut *out, value)?;
    out.write_all(b"\n")?;
    Ok(())
}

/// Time as people read it in a table: UTC, to the millisecond.
pub fn short_time(time: Timestamp) -> String {
    time.strftime("%Y-%m-%d %H:%M:%S%.3fZ").to_string()
}

/// Events as aligned columns: time, host, service, level, message.
pub fn write_event_table(out: &mut impl Write, events: &[&Event]) -> anyhow::Result<()> {
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
        writeln!(
            out,
            "{}  {:host_width$}  {:service_width$}  {:7}  {}",
            short_time(event.time()),
            event.host.as_deref().unwrap_or("-"),
            event.service.as_deref().unwrap_or("-"),
            event.level.as_str(),
            event.message.replace('\n', "\n    "),
        )?;
    }
    Ok(())
}

/// Incidents as aligned columns.
pub fn write_incident_table(out: &mut impl Write, incidents: &[Incident]) -> anyhow::Result<()> {
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
    writeln!(
        out,
        "{:16}  {:8}  {:8}  {:key_width$}  {:>6}  {:24}  TITLE",
        "ID", "SEVERITY", "STATE", "KEY", "COUNT", "FIRST SEEN"
    )?;
    for incident in incidents {
        writeln!(
            out,
            "{:16}  {:8}  {:8}  {:key_width$}  {:>6}  {:24}  {}",
            incident.id.to_string(),
            incident.severity,
            incident.state,
            incident.key,
            incident.count,
            short_time(incident.first_seen),
            incident.title,
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
    for (name, value) in &incident.group {
        writeln!(out, "  {:12} {value}", format!("{name}:"))?;
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
