//! `firewatch search QUERY`: matching events, or how they spread over the
//! values of a field (`--count-by`) or over time (`--histogram`).

use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use firewatch_event::TemplateId;
use firewatch_index::{IndexReader, Order, SearchRequest, ValueCounts};
use jiff::{SignedDuration, Timestamp};
use serde_json::json;

use crate::DataDirArg;
use crate::output::{
    EventTableStyle, colour_stdout, short_time, stored_event_json, template_texts, terminal_width,
    write_event_rows, write_json_line,
};
use crate::timearg::parse_time;

/// Events shown when `--limit` is not given.
const DEFAULT_EVENTS: usize = 100;
/// Values shown by `--count-by` when `--limit` is not given.
const DEFAULT_VALUES: usize = 20;

/// Arguments of `firewatch search`.
#[derive(Debug, Args)]
pub struct SearchArgs {
    /// A tantivy query: words and "phrases" match the message; `host:web-03`,
    /// `level:error`, `fields.status:503`, AND / OR / NOT, `*` for everything.
    #[arg(value_name = "QUERY", default_value = "*")]
    query: String,

    /// Only events at or after this time: a duration back from now (`2h`),
    /// RFC 3339, or `2026-11-26 10:00` (UTC).
    #[arg(long, value_name = "TIME")]
    since: Option<String>,

    /// Only events before this time (same forms as --since).
    #[arg(long, value_name = "TIME")]
    until: Option<String>,

    /// Only events of this host (exact name).
    #[arg(long, value_name = "HOST")]
    host: Option<String>,

    /// Only events of this service (exact name).
    #[arg(long, value_name = "SERVICE")]
    service: Option<String>,

    /// Only events at this level or worse: `--level warn` keeps warn,
    /// error, critical and fatal.
    #[arg(long, value_name = "LEVEL")]
    level: Option<String>,

    /// At most this many events [default: 100], or values with --count-by [default: 20].
    #[arg(long, short = 'n')]
    limit: Option<usize>,

    /// Newest first (events and histogram buckets).
    #[arg(long)]
    reverse: bool,

    /// Instead of events: the most frequent values of FIELD among the
    /// matches (`host`, `service`, `level`, `source`, `fields.NAME`).
    #[arg(long, value_name = "FIELD", conflicts_with = "histogram")]
    count_by: Option<String>,

    /// Instead of events: matches per time bucket (`1m`, `10s`, `1h`),
    /// every bucket from the first match to the last (or over --since/--until).
    #[arg(long, value_name = "BUCKET")]
    histogram: Option<String>,

    /// JSON lines: one per event, value or bucket.
    #[arg(long)]
    json: bool,

    #[command(flatten)]
    data_dir: DataDirArg,
}

pub fn run(args: SearchArgs) -> anyhow::Result<ExitCode> {
    let now = Timestamp::now();
    let since = args
        .since
        .as_deref()
        .map(|text| parse_time(text, now))
        .transpose()?;
    let until = args
        .until
        .as_deref()
        .map(|text| parse_time(text, now))
        .transpose()?;
    let mut filters = Vec::new();
    for (field, value) in [
        ("host", &args.host),
        ("service", &args.service),
        ("min_level", &args.level),
    ] {
        if let Some(value) = value {
            filters.push((field.to_owned(), value.clone()));
        }
    }
    let reader = IndexReader::open(&args.data_dir.resolve())?;
    let order = if args.reverse {
        Order::Descending
    } else {
        Order::Ascending
    };
    let request = SearchRequest {
        query: args.query.clone(),
        filters,
        since,
        until,
        limit: args.limit.unwrap_or(DEFAULT_EVENTS),
        order,
    };
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    if let Some(field) = &args.count_by {
        let counts = reader.count_by(&request, field, args.limit.unwrap_or(DEFAULT_VALUES))?;
        // Template ids mean little on their own: show each one's text.
        let texts = if field == "template" {
            template_texts(&reader)?
        } else {
            HashMap::new()
        };
        write_counts(&mut out, field, &counts, &texts, args.json)?;
    } else if let Some(bucket) = &args.histogram {
        let width = firewatch_event::parse_duration(bucket)
            .with_context(|| format!("--histogram {bucket:?}: expected e.g. 1m, 10s, 1h"))?;
        let mut buckets = reader.histogram(&request, width)?;
        if args.reverse {
            buckets.reverse();
        }
        write_histogram(&mut out, &buckets, width, args.json)?;
    } else {
        let results = reader.search(&request)?;
        if args.json {
            let texts = template_texts(&reader)?;
            for hit in &results.hits {
                let object = stored_event_json(&hit.event, &hit.incidents, &texts);
                write_json_line(&mut out, &object)?;
            }
        } else {
            let mut highlighter = if colour_stdout() {
                Some(reader.highlighter(&args.query)?)
            } else {
                None
            };
            let events: Vec<_> = results.hits.iter().map(|hit| &hit.event).collect();
            let style = EventTableStyle {
                ids: true,
                highlighter: highlighter.as_mut(),
                ..EventTableStyle::default()
            };
            write_event_rows(&mut out, &events, style)?;
            writeln!(
                out,
                "-- {} shown of {} matching events",
                results.hits.len(),
                results.total_matches
            )?;
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// Share of `count` in `total`, in percent.
fn percent(count: u64, total: u64) -> f64 {
    if total == 0 {
        0.0
    } else {
        count as f64 * 100.0 / total as f64
    }
}

/// The text of a counted template id, when `texts` knows it.
fn template_text<'a>(texts: &'a HashMap<TemplateId, String>, value: &str) -> Option<&'a str> {
    let id: TemplateId = value.parse().ok()?;
    texts.get(&id).map(String::as_str)
}

/// The `--count-by` table: value, count, share of the matching events, and
/// for template ids the template's text (`texts`).
fn write_counts(
    out: &mut impl Write,
    field: &str,
    counts: &ValueCounts,
    texts: &HashMap<TemplateId, String>,
    json: bool,
) -> anyhow::Result<()> {
    if json {
        for (value, count) in &counts.values {
            let share = percent(*count, counts.matches);
            let mut object = json!({"value": value, "count": count, "share": share});
            if let Some(text) = template_text(texts, value) {
                object["template"] = json!(text);
            }
            write_json_line(out, &object)?;
        }
        return Ok(());
    }
    let value_width = counts
        .values
        .iter()
        .map(|(value, _)| value.chars().count())
        .chain([field.len()])
        .max()
        .unwrap_or(5)
        .min(60);
    write!(
        out,
        "{:value_width$}  {:>8}  {:>6}",
        field.to_uppercase(),
        "COUNT",
        "SHARE"
    )?;
    if texts.is_empty() {
        writeln!(out)?;
    } else {
        writeln!(out, "  TEXT")?;
    }
    for (value, count) in &counts.values {
        write!(
            out,
            "{value:value_width$}  {count:>8}  {:>5.1}%",
            percent(*count, counts.matches)
        )?;
        match template_text(texts, value) {
            Some(text) => writeln!(out, "  {text}")?,
            None => writeln!(out)?,
        }
    }
    writeln!(
        out,
        "-- {} of {} values; {} matching events, {} without {field}",
        counts.values.len(),
        counts.distinct,
        counts.matches,
        counts.missing
    )?;
    Ok(())
}

/// The `--histogram` lines: bucket start and count, with a bar on a terminal.
fn write_histogram(
    out: &mut impl Write,
    buckets: &[(Timestamp, u64)],
    width: SignedDuration,
    json: bool,
) -> anyhow::Result<()> {
    if json {
        for (start, count) in buckets {
            write_json_line(out, &json!({"start": start.to_string(), "count": count}))?;
        }
        return Ok(());
    }
    let bars = std::io::stdout().is_terminal();
    let most = buckets.iter().map(|(_, count)| *count).max().unwrap_or(0);
    let count_width = most.to_string().len();
    // time (24) + two gaps + the count column.
    let room = terminal_width()
        .saturating_sub(24 + 4 + count_width)
        .max(10) as u64;
    for (start, count) in buckets {
        write!(out, "{}  {count:>count_width$}", short_time(*start))?;
        if bars && *count > 0 {
            let length = (count * room).div_ceil(most.max(1));
            write!(
                out,
                "  {}",
                "█".repeat(usize::try_from(length).unwrap_or(0))
            )?;
        }
        writeln!(out)?;
    }
    let total: u64 = buckets.iter().map(|(_, count)| *count).sum();
    writeln!(
        out,
        "-- {} buckets of {width:#}, {total} matching events",
        buckets.len()
    )?;
    Ok(())
}
