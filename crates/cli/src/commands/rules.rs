//! `firewatch rules lint` and `firewatch rules test`

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use firewatch_pipeline::{RuleTestFile, find_rule_test_files};
use serde_json::json;

use crate::output::write_json_line;

/// `firewatch rules ...`
#[derive(Debug, Subcommand)]
pub enum RulesCommand {
    /// Check rule files: syntax, unknown keys, types, regexes, duplicate ids.
    /// Problems are printed as FILE:LINE:COLUMN: MESSAGE; exits 1 if any.
    /// A Sigma rule that uses a part firewatch does not support is skipped
    /// with a warning (warning: FILE:LINE:COLUMN: MESSAGE), which alone
    /// exits 0.
    Lint(LintArgs),
    /// Run rule tests: sample lines in, expected incidents at given times
    /// out (`*.test.yml`; see docs/rules.md). Prints ok or FAILED with a diff
    /// per test; exits 0 when all pass, 1 when any fails, 2 when a test file
    /// is invalid (FILE:LINE:COLUMN: MESSAGE).
    Test(TestArgs),
}

/// Arguments of `rules lint`.
#[derive(Debug, Args)]
pub struct LintArgs {
    /// Rule files or directories of them.
    #[arg(value_name = "PATH", required = true)]
    paths: Vec<PathBuf>,
}

/// Arguments of `rules test`.
#[derive(Debug, Args)]
pub struct TestArgs {
    /// Test files, or directories searched for `*.test.yml` files.
    #[arg(value_name = "PATH", required = true)]
    paths: Vec<PathBuf>,

    /// One JSON object per test (`file`, `test`, `passed`, `failures`),
    /// and one per invalid test file (`error`).
    #[arg(long)]
    json: bool,
}

pub fn run(command: RulesCommand) -> anyhow::Result<ExitCode> {
    match command {
        RulesCommand::Lint(args) => lint(args),
        RulesCommand::Test(args) => test(args),
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
        for warning in rules.warnings() {
            writeln!(out, "warning: {warning}")?;
        }
        match rules.skipped_rules() {
            0 => writeln!(out, "ok: {} rules", rules.len())?,
            skipped => writeln!(
                out,
                "ok: {} rules, {skipped} sigma rule{} skipped",
                rules.len(),
                if skipped == 1 { "" } else { "s" }
            )?,
        }
        Ok(ExitCode::SUCCESS)
    } else {
        let count = diagnostics.len();
        writeln!(out, "{count} problem{}", if count == 1 { "" } else { "s" })?;
        Ok(ExitCode::FAILURE)
    }
}

/// Exit code of `rules test` when a test file is invalid.
const INVALID_TEST_FILE: u8 = 2;

fn test(args: TestArgs) -> anyhow::Result<ExitCode> {
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut invalid = 0usize;
    let (mut passed, mut failed) = (0usize, 0usize);
    let files = match find_rule_test_files(&args.paths) {
        Ok(files) => files,
        Err(error) => {
            write_test_error(&mut out, args.json, &error)?;
            out.flush()?;
            return Ok(ExitCode::from(INVALID_TEST_FILE));
        }
    };
    if files.is_empty() {
        let paths: Vec<_> = args
            .paths
            .iter()
            .map(|path| path.display().to_string())
            .collect();
        let error = anyhow::anyhow!("no rule tests (*.test.yml) under {}", paths.join(", "));
        write_test_error(&mut out, args.json, &error)?;
        out.flush()?;
        return Ok(ExitCode::from(INVALID_TEST_FILE));
    }
    for path in &files {
        let outcomes = RuleTestFile::load(path).and_then(|file| file.run());
        let outcomes = match outcomes {
            Ok(outcomes) => outcomes,
            Err(error) => {
                invalid += 1;
                write_test_error(&mut out, args.json, &error)?;
                continue;
            }
        };
        for outcome in &outcomes {
            if outcome.passed() {
                passed += 1;
            } else {
                failed += 1;
            }
            if args.json {
                write_json_line(
                    &mut out,
                    &json!({
                        "file": outcome.file,
                        "test": outcome.name,
                        "passed": outcome.passed(),
                        "failures": outcome.failures,
                    }),
                )?;
                continue;
            }
            let verdict = if outcome.passed() { "ok" } else { "FAILED" };
            writeln!(
                out,
                "{verdict:<6}  {}: {}",
                outcome.file.display(),
                outcome.name
            )?;
            for failure in &outcome.failures {
                write!(out, "{failure}")?;
            }
        }
    }
    if !args.json {
        let (tests, files) = (passed + failed, files.len());
        write!(
            out,
            "\n{tests} test{} in {files} file{}: {passed} passed, {failed} failed",
            if tests == 1 { "" } else { "s" },
            if files == 1 { "" } else { "s" },
        )?;
        match invalid {
            0 => writeln!(out)?,
            1 => writeln!(out, ", 1 invalid file")?,
            _ => writeln!(out, ", {invalid} invalid files")?,
        }
    }
    out.flush()?;
    Ok(if invalid > 0 {
        ExitCode::from(INVALID_TEST_FILE)
    } else if failed > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

fn write_test_error(
    out: &mut impl Write,
    json: bool,
    error: &dyn std::fmt::Display,
) -> anyhow::Result<()> {
    if json {
        write_json_line(out, &json!({ "error": error.to_string() }))
    } else {
        writeln!(out, "{error}").map_err(Into::into)
    }
}
