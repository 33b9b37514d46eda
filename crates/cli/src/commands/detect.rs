//! `firewatch detect FILE|- --rules PATH`

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Args;
use firewatch_event::IncidentState;
use firewatch_parse::{Format, ParserConfig};
use firewatch_pipeline::{Processor, ProcessorSource};
use firewatch_rules::RuleSet;
use serde_json::json;

use crate::input::InputArgs;
use crate::output::{short_time, write_incident_table, write_json_line};

/// Arguments of `firewatch detect`.
#[derive(Debug, Args)]
pub struct DetectArgs {
    #[command(flatten)]
    input: InputArgs,

    /// Rule files or directories of them.
    #[arg(long, short, value_name = "PATH", required = true)]
    rules: Vec<PathBuf>,

    /// How to parse the lines.
    #[arg(long, default_value = "auto", value_parser = ["auto", "json", "syslog", "logfmt", "plain"])]
    format: String,

    /// One JSON object per match (`line`, `rule`, `severity`,
    /// `incident_key`), then one per incident.
    #[arg(long)]
    json: bool,

    /// Also list pending incidents (waiting for their rule's `for`), which
    /// have not fired and are not reported by `firewatch run`.
    #[arg(long)]
    all: bool,
}

pub fn run(args: DetectArgs) -> anyhow::Result<ExitCode> {
    let format: Format = args.format.parse().map_err(anyhow::Error::msg)?;
    let rules = Arc::new(RuleSet::load(&args.rules)?);
    let source: Arc<str> = args.input.source_name().into();
    let parser = ParserConfig {
        format,
        ..ParserConfig::default()
    };
    let mut processor = Processor::new(
        [ProcessorSource {
            name: &source,
            parser: &parser,
            follows: false,
        }],
        rules,
    );
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut matches = 0u64;
    let json = args.json;
    args.input.for_each_batch(|batch| {
        let mut failed = Ok(());
        processor.process(batch, |event, found| {
            matches += 1;
            if failed.is_err() {
                return;
            }
            failed = if json {
                write_json_line(
                    &mut out,
                    &json!({
                        "line": event.line,
                        "rule": &*found.rule,
                        "severity": found.severity,
                        "incident_key": found.incident_key,
                        "incident": found.incident,
                        "time": event.time().to_string(),
                        "message": event.message,
                    }),
                )
            } else {
                writeln!(
                    out,
                    "line {:<7} {}  {:8}  {:32}  {}",
                    event.line,
                    short_time(event.time()),
                    found.severity,
                    found.incident_key,
                    event.message,
                )
                .map_err(Into::into)
            };
        });
        failed
    })?;
    // The end of the input: quiet periods that have passed resolve.
    processor.finish_source(&source);
    let (incidents, pending): (Vec<_>, Vec<_>) = processor
        .incidents()
        .into_iter()
        .partition(|incident| args.all || incident.state != IncidentState::Pending);
    if json {
        for incident in &incidents {
            write_json_line(&mut out, &json!({ "incident": incident }))?;
        }
    } else {
        write!(out, "\n{matches} matches, {} incidents", incidents.len())?;
        if pending.is_empty() {
            writeln!(out)?;
        } else {
            writeln!(out, " ({} pending not shown: --all)", pending.len())?;
        }
        write_incident_table(&mut out, &incidents)?;
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}
