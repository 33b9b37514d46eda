//! `firewatch silence add|list|expire`

use std::io::Write;
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use firewatch_notify::{MatchOp, Matcher, NewSilence, Silence, SilenceState, SilenceStore};
use jiff::Timestamp;

use crate::DataDirArg;
use crate::output::{short_time, write_json_line};
use crate::timearg::parse_time;

/// `firewatch silence ...`
#[derive(Debug, Subcommand)]
pub enum SilenceCommand {
    /// Silence the notifications of matching incidents for a while.
    Add(AddArgs),
    /// List silences (active and pending; `--all` adds expired ones).
    List(ListArgs),
    /// End a silence now.
    Expire(ExpireArgs),
}

/// Arguments of `silence add`.
#[derive(Debug, Args)]
pub struct AddArgs {
    /// A label matcher: `name=value`, `name!=value`, `name=~regex` or
    /// `name!~regex` (regexes match the whole value). Labels: rule,
    /// severity, key, incident_id and the group values (host, service...).
    /// Repeat for several; all must match.
    #[arg(long = "match", value_name = "MATCHER", required = true)]
    matchers: Vec<String>,

    /// How long it holds from its start (`2h`, `30m`, `1d`).
    #[arg(
        long = "for",
        value_name = "DURATION",
        conflicts_with = "until",
        required_unless_present = "until"
    )]
    duration: Option<String>,

    /// When it ends (RFC 3339, `2026-11-26 18:00` in UTC, ...).
    #[arg(long, value_name = "TIME")]
    until: Option<String>,

    /// When it starts [default: now].
    #[arg(long, value_name = "TIME")]
    start: Option<String>,

    /// Why.
    #[arg(long, default_value = "")]
    comment: String,

    /// Who [default: $USER].
    #[arg(long)]
    author: Option<String>,

    /// Print the silence as JSON rather than its id.
    #[arg(long)]
    json: bool,

    #[command(flatten)]
    data_dir: DataDirArg,
}

/// Arguments of `silence list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Expired silences too.
    #[arg(long)]
    all: bool,

    /// One JSON object per silence.
    #[arg(long)]
    json: bool,

    #[command(flatten)]
    data_dir: DataDirArg,
}

/// Arguments of `silence expire`.
#[derive(Debug, Args)]
pub struct ExpireArgs {
    /// The silence id, as `silence add` and `silence list` print it.
    #[arg(value_name = "ID")]
    id: String,

    #[command(flatten)]
    data_dir: DataDirArg,
}

pub fn run(command: SilenceCommand) -> anyhow::Result<ExitCode> {
    match command {
        SilenceCommand::Add(args) => add(args),
        SilenceCommand::List(args) => list(args),
        SilenceCommand::Expire(args) => expire(args),
    }
}

fn add(args: AddArgs) -> anyhow::Result<ExitCode> {
    let now = Timestamp::now();
    let matchers = args
        .matchers
        .iter()
        .map(|text| text.parse::<Matcher>())
        .collect::<Result<Vec<_>, _>>()?;
    for matcher in &matchers {
        if matcher.op == MatchOp::Equal && matcher.value.contains('*') {
            eprintln!(
                "note: {matcher} matches the value exactly; for a pattern write {}=~'{}'",
                matcher.name,
                matcher.value.replace('*', ".*")
            );
        }
    }
    let starts_at = match &args.start {
        Some(text) => parse_time(text, now)?,
        None => now,
    };
    let ends_at = match (&args.duration, &args.until) {
        (Some(text), None) => {
            let duration = firewatch_event::parse_duration(text)?;
            starts_at
                .checked_add(duration)
                .with_context(|| format!("--for {text} ends too far away"))?
        }
        (None, Some(text)) => parse_time(text, now)?,
        _ => bail!("give --for DURATION or --until TIME"),
    };
    if ends_at <= now {
        bail!("the silence would end at {ends_at}, which is already past");
    }
    let author = args
        .author
        .or_else(|| std::env::var("USER").ok())
        .unwrap_or_default();
    let store = SilenceStore::new(&args.data_dir.resolve());
    let silence = store.add(NewSilence {
        matchers,
        starts_at,
        ends_at,
        created_by: author,
        comment: args.comment,
    })?;
    let mut out = std::io::stdout().lock();
    if args.json {
        write_json_line(&mut out, &silence)?;
    } else {
        writeln!(out, "{}", silence.id)?;
    }
    Ok(ExitCode::SUCCESS)
}

fn list(args: ListArgs) -> anyhow::Result<ExitCode> {
    let now = Timestamp::now();
    let mut silences = SilenceStore::new(&args.data_dir.resolve()).load()?;
    if !args.all {
        silences.retain(|silence| silence.state(now) != SilenceState::Expired);
    }
    silences.sort_by_key(|silence| std::cmp::Reverse(silence.ends_at));
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    if args.json {
        for silence in &silences {
            let mut json = serde_json::to_value(silence)?;
            json["state"] = serde_json::json!(silence.state(now));
            write_json_line(&mut out, &json)?;
        }
    } else {
        write_silence_table(&mut out, &silences, now)?;
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

fn expire(args: ExpireArgs) -> anyhow::Result<ExitCode> {
    let silence = SilenceStore::new(&args.data_dir.resolve()).expire(&args.id, Timestamp::now())?;
    println!("{} expired at {}", silence.id, short_time(silence.ends_at));
    Ok(ExitCode::SUCCESS)
}

fn write_silence_table(
    out: &mut impl Write,
    silences: &[Silence],
    now: Timestamp,
) -> anyhow::Result<()> {
    if silences.is_empty() {
        writeln!(out, "no silences")?;
        return Ok(());
    }
    writeln!(
        out,
        "{:16}  {:8}  {:24}  {:24}  {:12}  MATCHERS  [COMMENT]",
        "ID", "STATE", "STARTS", "ENDS", "CREATED BY"
    )?;
    for silence in silences {
        let matchers: Vec<String> = silence.matchers.iter().map(ToString::to_string).collect();
        write!(
            out,
            "{:16}  {:8}  {:24}  {:24}  {:12}  {}",
            silence.id,
            silence.state(now).as_str(),
            short_time(silence.starts_at),
            short_time(silence.ends_at),
            silence.created_by,
            matchers.join(" "),
        )?;
        if !silence.comment.is_empty() {
            write!(out, "  [{}]", silence.comment)?;
        }
        writeln!(out)?;
    }
    Ok(())
}
