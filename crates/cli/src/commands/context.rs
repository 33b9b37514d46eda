//! `firewatch context EVENT_ID`: the lines around one event, from the same
//! source and host, in order.

use std::io::Write;
use std::process::ExitCode;

use anyhow::bail;
use clap::Args;
use firewatch_event::EventId;
use firewatch_index::IndexReader;

use crate::DataDirArg;
use crate::output::{
    EventTableStyle, stored_event_json, template_texts, write_event_rows, write_json_line,
};

/// Arguments of `firewatch context`.
#[derive(Debug, Args)]
pub struct ContextArgs {
    /// The event, by the id `search` shows.
    #[arg(value_name = "EVENT_ID")]
    id: EventId,

    /// Events before it.
    #[arg(long, short = 'B', default_value_t = 50)]
    before: usize,

    /// Events after it.
    #[arg(long, short = 'A', default_value_t = 50)]
    after: usize,

    /// One JSON object per event, with `position`: negative before the
    /// event, 0 for it, positive after.
    #[arg(long)]
    json: bool,

    #[command(flatten)]
    data_dir: DataDirArg,
}

pub fn run(args: ContextArgs) -> anyhow::Result<ExitCode> {
    let reader = IndexReader::open(&args.data_dir.resolve())?;
    let Some(context) = reader.context(args.id, args.before, args.after)? else {
        bail!("no event {} in the index", args.id);
    };
    let hits: Vec<_> = context
        .before
        .iter()
        .chain([&context.event])
        .chain(&context.after)
        .collect();
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    if args.json {
        let texts = template_texts(&reader)?;
        let first = -(context.before.len() as i64);
        for (position, hit) in (first..).zip(&hits) {
            let mut object = stored_event_json(&hit.event, &hit.incidents, &texts);
            object["position"] = position.into();
            write_json_line(&mut out, &object)?;
        }
    } else {
        let events: Vec<_> = hits.iter().map(|hit| &hit.event).collect();
        let style = EventTableStyle {
            ids: true,
            marked: Some(args.id),
            highlighter: None,
        };
        write_event_rows(&mut out, &events, style)?;
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}
