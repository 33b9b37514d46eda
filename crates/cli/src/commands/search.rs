//! `firewatch search QUERY`

use std::io::Write;
use std::process::ExitCode;

use clap::Args;
use firewatch_index::{IndexReader, Order, SearchRequest};
use jiff::Timestamp;

use crate::DataDirArg;
use crate::output::{event_json, write_event_table, write_json_line};
use crate::timearg::parse_time;

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

    /// At most this many events.
    #[arg(long, short = 'n', default_value_t = 100)]
    limit: usize,

    /// Newest first.
    #[arg(long)]
    reverse: bool,

    /// One JSON object per event.
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
    let reader = IndexReader::open(&args.data_dir.resolve())?;
    let results = reader.search(&SearchRequest {
        query: args.query,
        filters: Vec::new(),
        since,
        until,
        limit: args.limit,
        order: if args.reverse {
            Order::Descending
        } else {
            Order::Ascending
        },
    })?;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    if args.json {
        for hit in &results.hits {
            write_json_line(&mut out, &event_json(&hit.event, &hit.incidents))?;
        }
    } else {
        let events: Vec<_> = results.hits.iter().map(|hit| &hit.event).collect();
        write_event_table(&mut out, &events)?;
        writeln!(
            out,
            "-- {} shown of {} matching events",
            results.hits.len(),
            results.total_matches
        )?;
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}
