//! `firewatch parse FILE|-`

use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Args;
use firewatch_parse::{Format, Parser, ParserConfig};

use crate::input::InputArgs;
use crate::output::{event_json, write_json_line};

/// Arguments of `firewatch parse`.
#[derive(Debug, Args)]
pub struct ParseArgs {
    #[command(flatten)]
    input: InputArgs,

    /// How to parse the lines.
    #[arg(long, default_value = "auto", value_parser = ["auto", "json", "syslog", "logfmt", "plain"])]
    format: String,
}

pub fn run(args: ParseArgs) -> anyhow::Result<ExitCode> {
    let format: Format = args.format.parse().map_err(anyhow::Error::msg)?;
    let parser = Parser::new(ParserConfig {
        format,
        ..ParserConfig::default()
    });
    let source: Arc<str> = args.input.source_name().into();
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    args.input.for_each_batch(|batch| {
        for record in &batch.records {
            let event = parser.parse(record, &source, batch.received);
            write_json_line(&mut out, &event_json(&event, &[]))?;
        }
        Ok(())
    })?;
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}
