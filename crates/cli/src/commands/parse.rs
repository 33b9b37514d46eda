//! `firewatch parse FILE|-`

use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Args;
use firewatch_parse::{Format, Parser, ParserConfig};
use firewatch_template::{MinerConfig, TemplateMiner};

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

    /// Mine log templates: add `template_id` and `template` to each event.
    /// A template's id is the hash of the first form it took in this input,
    /// so the same input always gives the same ids.
    #[arg(long)]
    templates: bool,
}

pub fn run(args: ParseArgs) -> anyhow::Result<ExitCode> {
    let format: Format = args.format.parse().map_err(anyhow::Error::msg)?;
    let parser = Parser::new(ParserConfig {
        format,
        ..ParserConfig::default()
    });
    let source: Arc<str> = args.input.source_name().into();
    let mut miner = args
        .templates
        .then(|| TemplateMiner::new(MinerConfig::default()));
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    args.input.for_each_batch(|batch| {
        for record in &batch.records {
            let mut event = parser.parse(record, &source, batch.received);
            let template = miner.as_mut().map(|miner| {
                let found = miner.add(&event.message);
                event.template = Some(found.id);
                found.template
            });
            let mut json = event_json(&event, &[]);
            if let Some(template) = template {
                json["template"] = template.into();
            }
            write_json_line(&mut out, &json)?;
        }
        Ok(())
    })?;
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}
