//! `firewatch run PIPELINE.toml`

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use firewatch_event::Incident;
use firewatch_pipeline::{IncidentChange, PipelineConfig, Progress, RunObserver, RunSummary};
use tokio_util::sync::CancellationToken;

use crate::DataDirArg;
use crate::output::{short_time, write_json_line};

/// Arguments of `firewatch run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The pipeline file (TOML): sources, rules, data directory.
    #[arg(value_name = "PIPELINE.toml")]
    pipeline: PathBuf,

    #[command(flatten)]
    data_dir: DataDirArg,

    /// JSON lines on stdout: one per incident change, then the summary.
    #[arg(long)]
    json: bool,
}

pub fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    let config = PipelineConfig::load(&args.pipeline)?;
    let plan = config.plan(&args.pipeline, args.data_dir.data_dir.clone())?;
    let data_dir = plan.data_dir.clone();
    let observer: Box<dyn RunObserver> = if args.json {
        Box::new(JsonObserver)
    } else {
        Box::new(HumanObserver {
            progress: std::io::stderr().is_terminal(),
            shown_progress: false,
        })
    };

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("firewatch-io")
        .build()
        .context("cannot start the I/O runtime")?;
    let summary = runtime.block_on(async {
        let shutdown = CancellationToken::new();
        tokio::spawn(stop_on_signal(shutdown.clone()));
        firewatch_pipeline::run(plan, observer, shutdown).await
    })?;

    let mut out = std::io::stdout().lock();
    if args.json {
        write_json_line(&mut out, &serde_json::json!({ "summary": summary }))?;
    } else {
        write_summary(&mut out, &summary, &data_dir)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// SIGINT or SIGTERM: stop intake, drain, commit, exit 0. A second signal
/// exits at once.
async fn stop_on_signal(shutdown: CancellationToken) {
    let mut terminate =
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(signal) => signal,
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM");
                return;
            }
        };
    for round in 0..2 {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = terminate.recv() => {}
        }
        if round == 0 {
            eprintln!("stopping: draining and committing (signal again to exit at once)");
            shutdown.cancel();
        } else {
            std::process::exit(130);
        }
    }
}

struct JsonObserver;

impl RunObserver for JsonObserver {
    fn incident(&mut self, change: IncidentChange, incident: &Incident) {
        if change == IncidentChange::Updated {
            return;
        }
        let change = match change {
            IncidentChange::Opened => "opened",
            IncidentChange::Resolved => "resolved",
            IncidentChange::Updated => "updated",
        };
        let line = serde_json::json!({ "change": change, "incident": incident });
        // A closed stdout must not stop the pipeline; the summary reports it.
        let _ = write_json_line(&mut std::io::stdout().lock(), &line);
    }

    fn rules_reloaded(&mut self, rules: usize) {
        let line = serde_json::json!({ "reloaded": { "rules": rules } });
        let _ = write_json_line(&mut std::io::stdout().lock(), &line);
    }
}

struct HumanObserver {
    progress: bool,
    shown_progress: bool,
}

impl HumanObserver {
    fn clear_progress(&mut self) {
        if self.shown_progress {
            eprint!("\r\x1b[2K");
            self.shown_progress = false;
        }
    }
}

impl RunObserver for HumanObserver {
    fn incident(&mut self, change: IncidentChange, incident: &Incident) {
        let (label, time) = match change {
            IncidentChange::Opened => ("OPENED  ", incident.first_seen),
            IncidentChange::Resolved => (
                "RESOLVED",
                incident.resolved_at.unwrap_or(incident.last_seen),
            ),
            IncidentChange::Updated => return,
        };
        self.clear_progress();
        let _ = writeln!(
            std::io::stdout().lock(),
            "{label}  {}  {:8}  {}  {}  ({})",
            short_time(time),
            incident.severity,
            incident.id,
            incident.title,
            incident.key,
        );
    }

    fn rules_reloaded(&mut self, rules: usize) {
        self.clear_progress();
        let _ = writeln!(std::io::stdout().lock(), "RELOADED  {rules} rules");
    }

    fn progress(&mut self, progress: &Progress) {
        if !self.progress {
            return;
        }
        let seconds = progress.elapsed.as_secs_f64().max(0.001);
        eprint!(
            "\r\x1b[2K{} events  {:.1} MB  {:.0} events/s  {} open incidents",
            progress.events,
            progress.bytes as f64 / 1e6,
            progress.events as f64 / seconds,
            progress.open_incidents,
        );
        self.shown_progress = true;
    }
}

impl Drop for HumanObserver {
    fn drop(&mut self) {
        self.clear_progress();
    }
}

fn write_summary(
    out: &mut impl Write,
    summary: &RunSummary,
    data_dir: &std::path::Path,
) -> anyhow::Result<()> {
    writeln!(out)?;
    writeln!(
        out,
        "{} events read in {:.1}s, {} parse errors, {} incidents opened, {} resolved; indexed in {}",
        summary.events,
        summary.elapsed_seconds,
        summary.parse_errors,
        summary.incidents_opened,
        summary.incidents_resolved,
        data_dir.display(),
    )?;
    let reloads = &summary.rule_reloads;
    if reloads.applied + reloads.failed > 0 {
        writeln!(
            out,
            "rules reloaded {} times, {} invalid changes rejected",
            reloads.applied, reloads.failed
        )?;
    }
    match summary.sigma_rules_skipped {
        0 => {}
        1 => writeln!(
            out,
            "1 sigma rule skipped for unsupported parts (see the warnings)"
        )?,
        skipped => writeln!(
            out,
            "{skipped} sigma rules skipped for unsupported parts (see the warnings)"
        )?,
    }
    writeln!(
        out,
        "\n{:16}  {:>9}  {:>12}  {:>5}  {:>9}  {:>12}  {:>9}  {:>9}",
        "SOURCE", "LINES", "BYTES", "FILES", "EVENTS", "PARSE ERRORS", "TRUNCATED", "DROPPED"
    )?;
    for source in &summary.sources {
        writeln!(
            out,
            "{:16}  {:>9}  {:>12}  {:>5}  {:>9}  {:>12}  {:>9}  {:>9}",
            source.name,
            source.lines,
            source.bytes,
            source.files,
            source.parsed.events,
            source.parsed.parse_errors,
            source.parsed.truncated,
            source.dropped,
        )?;
    }
    if !summary.incidents.is_empty() {
        writeln!(out)?;
        crate::output::write_incident_table(out, &summary.incidents)?;
    }
    Ok(())
}
