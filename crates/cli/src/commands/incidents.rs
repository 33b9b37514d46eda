//! `firewatch incidents list|show`

use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand};
use firewatch_event::{Event, Incident, IncidentId};
use firewatch_index::{EventHit, IndexReader, Order, SearchRequest};
use firewatch_postmortem::ExplainOptions;

use crate::DataDirArg;
use crate::output::{
    event_json, short_time, template_texts, write_delivery_table, write_event_table,
    write_explanation, write_incident_detail, write_incident_table_silenced, write_json_line,
};

/// `firewatch incidents ...`
#[derive(Debug, Subcommand)]
pub enum IncidentsCommand {
    /// List incidents, newest first.
    List(ListArgs),
    /// Show one incident, its matching events, the logs around it and the
    /// notifications sent about it.
    Show(ShowArgs),
    /// Rank what stood out in the logs before an incident (root-cause hints).
    Explain(ExplainArgs),
    /// Write a postmortem draft of an incident (Markdown or JSON).
    Report(ReportArgs),
}

/// Arguments of `incidents explain`.
#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// The incident id (16 hex digits, as `incidents list` prints it).
    #[arg(value_name = "ID")]
    id: String,

    #[command(flatten)]
    windows: WindowArgs,

    /// One JSON object: windows, ranked hints and every section.
    #[arg(long)]
    json: bool,

    #[command(flatten)]
    data_dir: DataDirArg,
}

/// The windows `explain` compares.
#[derive(Debug, Args)]
pub struct WindowArgs {
    /// How far before the incident's first event to look.
    #[arg(long, value_name = "DURATION", default_value = "15m")]
    lookback: String,

    /// How long a stretch before that to compare with.
    #[arg(long, value_name = "DURATION", default_value = "2h")]
    baseline: String,
}

impl WindowArgs {
    fn options(&self, reader: &IndexReader) -> anyhow::Result<ExplainOptions> {
        Ok(ExplainOptions {
            lookback: firewatch_event::parse_duration(&self.lookback)
                .with_context(|| format!("--lookback {}", self.lookback))?,
            baseline: firewatch_event::parse_duration(&self.baseline)
                .with_context(|| format!("--baseline {}", self.baseline))?,
            template_texts: template_texts(reader)?,
            ..ExplainOptions::default()
        })
    }
}

/// Arguments of `incidents report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The incident id (16 hex digits, as `incidents list` prints it).
    #[arg(value_name = "ID")]
    id: String,

    /// Markdown for a wiki, or JSON for scripts.
    #[arg(long, value_parser = ["md", "json"], default_value = "md")]
    format: String,

    /// Write the report here instead of standard output.
    #[arg(long, short, value_name = "FILE")]
    output: Option<PathBuf>,

    #[command(flatten)]
    windows: WindowArgs,

    #[command(flatten)]
    data_dir: DataDirArg,
}

/// Arguments of `incidents list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only incidents in this state.
    #[arg(long, value_parser = ["open", "resolved"])]
    state: Option<String>,

    /// One JSON object per incident.
    #[arg(long)]
    json: bool,

    #[command(flatten)]
    data_dir: DataDirArg,
}

/// Arguments of `incidents show`.
#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The incident id (16 hex digits, as `incidents list` prints it).
    #[arg(value_name = "ID")]
    id: String,

    /// How far before the first and after the last match to show logs of
    /// the same host and service.
    #[arg(long, value_name = "DURATION", default_value = "5m")]
    context: String,

    /// At most this many context lines.
    #[arg(long, default_value_t = 50)]
    limit: usize,

    /// One JSON object: the incident, its events, the context and the
    /// delivery attempts.
    #[arg(long)]
    json: bool,

    #[command(flatten)]
    data_dir: DataDirArg,
}

pub fn run(command: IncidentsCommand) -> anyhow::Result<ExitCode> {
    match command {
        IncidentsCommand::List(args) => list(args),
        IncidentsCommand::Show(args) => show(args),
        IncidentsCommand::Explain(args) => explain(args),
        IncidentsCommand::Report(args) => report(args),
    }
}

/// The incident of `id`, or an error that says where ids are listed.
fn find_incident(reader: &IndexReader, id: &str) -> anyhow::Result<Incident> {
    let id: IncidentId = id.parse()?;
    reader
        .incident(id)?
        .with_context(|| format!("no incident {id}: `firewatch incidents list` shows the ids"))
}

fn explain(args: ExplainArgs) -> anyhow::Result<ExitCode> {
    let reader = IndexReader::open(&args.data_dir.resolve())?;
    let incident = find_incident(&reader, &args.id)?;
    let options = args.windows.options(&reader)?;
    let explanation = firewatch_postmortem::explain(&reader, &incident, &options)
        .with_context(|| format!("explaining incident {}", incident.id))?;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    if args.json {
        write_json_line(&mut out, &explanation)?;
    } else {
        write_explanation(&mut out, &explanation)?;
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

fn report(args: ReportArgs) -> anyhow::Result<ExitCode> {
    let data_dir = args.data_dir.resolve();
    let reader = IndexReader::open(&data_dir)?;
    let incident = find_incident(&reader, &args.id)?;
    let options = args.windows.options(&reader)?;
    let deliveries = firewatch_notify::read_deliveries(&data_dir, Some(incident.id))?;
    let report = firewatch_postmortem::report(&reader, &incident, &deliveries, &options)
        .with_context(|| format!("reporting on incident {}", incident.id))?;
    let text = match args.format.as_str() {
        "json" => serde_json::to_string_pretty(&report)? + "\n",
        _ => report.to_markdown(),
    };
    match &args.output {
        Some(path) => std::fs::write(path, text)
            .with_context(|| format!("writing the report to {}", path.display()))?,
        None => {
            let mut out = std::io::stdout().lock();
            out.write_all(text.as_bytes())?;
            out.flush()?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn list(args: ListArgs) -> anyhow::Result<ExitCode> {
    let data_dir = args.data_dir.resolve();
    let reader = IndexReader::open(&data_dir)?;
    let mut incidents = reader.incidents()?;
    if let Some(state) = &args.state {
        incidents.retain(|incident| incident.state.as_str() == state);
    }
    let silenced: HashMap<IncidentId, String> = silences_of(&data_dir, &incidents)?
        .into_iter()
        .map(|(incident, silence)| (incident, silence.id))
        .collect();
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    if args.json {
        for incident in &incidents {
            let mut line = serde_json::to_value(incident)?;
            if let Some(object) = line.as_object_mut() {
                let silence = silenced.get(&incident.id).map(String::as_str);
                object.insert("silenced_by".into(), silence.into());
            }
            write_json_line(&mut out, &line)?;
        }
    } else {
        write_incident_table_silenced(&mut out, &incidents, &silenced)?;
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

fn show(args: ShowArgs) -> anyhow::Result<ExitCode> {
    let context = firewatch_event::parse_duration(&args.context)?;
    let data_dir = args.data_dir.resolve();
    let reader = IndexReader::open(&data_dir)?;
    let incident = find_incident(&reader, &args.id)?;

    let matching = matching_events(&reader, &incident)?;
    let context_events = surrounding_logs(&reader, &incident, &matching, context, args.limit)?;
    let deliveries = firewatch_notify::read_deliveries(&data_dir, Some(incident.id))?;
    let silence = silences_of(&data_dir, std::slice::from_ref(&incident))?.remove(&incident.id);

    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    if args.json {
        let json = serde_json::json!({
            "incident": incident,
            "events": matching.iter().map(|hit| event_json(&hit.event, &hit.incidents)).collect::<Vec<_>>(),
            "context": context_events.iter().map(|hit| event_json(&hit.event, &hit.incidents)).collect::<Vec<_>>(),
            "deliveries": deliveries,
            "silenced_by": silence.as_ref().map(|silence| &silence.id),
        });
        write_json_line(&mut out, &json)?;
    } else {
        write_incident_detail(&mut out, &incident)?;
        if let Some(silence) = &silence {
            writeln!(
                out,
                "  silenced:    by {} until {}",
                silence.id,
                short_time(silence.ends_at)
            )?;
        }
        writeln!(
            out,
            "\nmatching events ({} shown of {}):",
            matching.len(),
            incident.count
        )?;
        write_event_table(
            &mut out,
            &matching.iter().map(|hit| &hit.event).collect::<Vec<_>>(),
        )?;
        writeln!(
            out,
            "\nlogs of the same host and service from {} before to {} after ({}):",
            args.context,
            args.context,
            context_events.len()
        )?;
        write_event_table(
            &mut out,
            &context_events
                .iter()
                .map(|hit| &hit.event)
                .collect::<Vec<_>>(),
        )?;
        writeln!(out, "\nnotifications ({}):", deliveries.len())?;
        write_delivery_table(&mut out, &deliveries)?;
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// The silence that holds back the incident's notifications now, if any.
/// The active silence covering each of `incidents` that one covers, by
/// incident id.
fn silences_of(
    data_dir: &std::path::Path,
    incidents: &[Incident],
) -> anyhow::Result<HashMap<IncidentId, firewatch_notify::Silence>> {
    let silences = firewatch_notify::SilenceStore::new(data_dir).load()?;
    let now = jiff::Timestamp::now();
    Ok(incidents
        .iter()
        .filter_map(|incident| {
            let labels = firewatch_notify::incident_labels(incident);
            silences
                .iter()
                .find(|silence| silence.silences(&labels, now))
                .map(|silence| (incident.id, silence.clone()))
        })
        .collect())
}

/// The events that made the incident fire, then those tagged with it.
fn matching_events(reader: &IndexReader, incident: &Incident) -> anyhow::Result<Vec<EventHit>> {
    let mut hits = Vec::new();
    for event_id in &incident.trigger_events {
        if let Some(hit) = reader.event(*event_id)? {
            hits.push(hit);
        }
    }
    let tagged = reader.search(&SearchRequest {
        query: "*".into(),
        filters: vec![("incident".into(), incident.id.to_string())],
        since: None,
        until: None,
        limit: 100,
        order: Order::Ascending,
    })?;
    for hit in tagged.hits {
        if !hits.iter().any(|known| known.event.id == hit.event.id) {
            hits.push(hit);
        }
    }
    hits.sort_by_key(|hit| (hit.event.time(), hit.event.line));
    Ok(hits)
}

/// Logs of the incident's host and service (from its group, else from its
/// first matching event) around the time it was active.
fn surrounding_logs(
    reader: &IndexReader,
    incident: &Incident,
    matching: &[EventHit],
    context: jiff::SignedDuration,
    limit: usize,
) -> anyhow::Result<Vec<EventHit>> {
    let first: Option<&Event> = matching.first().map(|hit| &hit.event);
    let mut filters = Vec::new();
    for name in ["host", "service"] {
        let value = incident.group.get(name).cloned().or_else(|| {
            first
                .and_then(|event| event.field_text(name))
                .map(|text| text.into_owned())
        });
        if let Some(value) = value.filter(|value| value != "-") {
            filters.push((name.to_owned(), value));
        }
    }
    // Half the lines lead up to the first match, the rest follow it: the
    // start of an incident is where its cause usually shows.
    let request = |since, until, limit, order| SearchRequest {
        query: "*".into(),
        filters: filters.clone(),
        since,
        until,
        limit,
        order,
    };
    let mut before = reader
        .search(&request(
            incident.first_seen.checked_sub(context).ok(),
            Some(incident.first_seen),
            limit / 2,
            Order::Descending,
        ))?
        .hits;
    before.reverse();
    let after = reader.search(&request(
        Some(incident.first_seen),
        incident.last_seen.checked_add(context).ok(),
        limit - before.len(),
        Order::Ascending,
    ))?;
    before.extend(after.hits);
    Ok(before)
}
