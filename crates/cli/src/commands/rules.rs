//! `firewatch rules lint`

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};

/// `firewatch rules ...`
#[derive(Debug, Subcommand)]
pub enum RulesCommand {
    /// Check rule files: syntax, unknown keys, types, regexes, duplicate ids.
    /// Problems are printed as FILE:LINE:COLUMN: MESSAGE; exits 1 if any.
    Lint(LintArgs),
}

/// Arguments of `rules lint`.
#[derive(Debug, Args)]
pub struct LintArgs {
    /// Rule files or directories of them.
    #[arg(value_name = "PATH", required = true)]
    paths: Vec<PathBuf>,
}

pub fn run(command: RulesCommand) -> anyhow::Result<ExitCode> {
    match command {
        RulesCommand::Lint(args) => lint(args),
    }
}

fn lint(args: LintArgs) -> anyhow::Result<ExitCode> {
    let diagnostics = firewatch_rules::lint(&args.paths);
    let mut out = std::io::stdout().lock();
    for diagnostic in &diagnostics {
        writeln!(out, "{diagnostic}")?;
    }
    if diagnostics.is_empty() {
        let rules = firewatch_rules::RuleSet::load(&args.paths)?;
        writeln!(out, "ok: {} rules", rules.len())?;
        Ok(ExitCode::SUCCESS)
    } else {
        let count = diagnostics.len();
        writeln!(out, "{count} problem{}", if count == 1 { "" } else { "s" })?;
        Ok(ExitCode::FAILURE)
    }
}
