//! Other programs (the baselines, and the firewatch binary end to end),
//! timed from spawn to exit. Their peak resident memory comes from GNU
//! `time -f %M`, which reports it per command; `getrusage(RUSAGE_CHILDREN)`
//! would give the largest of all children so far, the corpus generator
//! included.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::report::{Timing, median_of};

/// Where GNU time is expected; without it, peak memory goes unreported.
pub const GNU_TIME: &str = "/usr/bin/time";

/// One command line to run, with its input and what to do with its output.
#[derive(Clone, Debug)]
pub struct External {
    program: OsString,
    args: Vec<OsString>,
    stdin: Option<PathBuf>,
    capture_stdout: bool,
}

/// How a run of an [`External`] went.
#[derive(Clone, Debug)]
pub struct Finished {
    /// Wall-clock time from spawn to exit.
    pub elapsed: Duration,
    /// Peak resident set size, when GNU time is available.
    pub peak_rss_bytes: Option<u64>,
    /// Standard output, when captured (else empty).
    pub stdout: Vec<u8>,
}

impl External {
    /// A command whose standard output is discarded (`> /dev/null`).
    pub fn new(program: impl Into<OsString>) -> Self {
        External {
            program: program.into(),
            args: Vec::new(),
            stdin: None,
            capture_stdout: false,
        }
    }

    /// Adds arguments.
    pub fn args<I, A>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = A>,
        A: Into<OsString>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Feeds a file on standard input.
    pub fn stdin(mut self, path: &Path) -> Self {
        self.stdin = Some(path.to_owned());
        self
    }

    /// Keeps standard output in [`Finished::stdout`].
    pub fn capture_stdout(mut self) -> Self {
        self.capture_stdout = true;
        self
    }

    /// The command as one would type it in a shell.
    pub fn command_line(&self) -> String {
        let mut words: Vec<String> = std::iter::once(&self.program)
            .chain(&self.args)
            .map(|word| shell_word(&word.to_string_lossy()))
            .collect();
        if let Some(stdin) = &self.stdin {
            words.push(format!("< {}", shell_word(&stdin.to_string_lossy())));
        }
        if !self.capture_stdout {
            words.push("> /dev/null".into());
        }
        words.join(" ")
    }

    /// Runs the command `runs` times, calling `prepare` (untimed) before
    /// each; returns the median time and the last run.
    pub fn time_runs(
        &self,
        runs: usize,
        scratch_dir: &Path,
        mut prepare: impl FnMut() -> anyhow::Result<()>,
    ) -> anyhow::Result<(Timing, Finished)> {
        let mut timed = self.timed_runs(scratch_dir);
        let timing = median_of(runs, || {
            prepare()?;
            timed.once()
        })?;
        Ok((timing, timed.last()?))
    }

    /// Runs of this command one at a time, for taking turns with others
    /// (see [`crate::report::medians_in_turn`]).
    pub fn timed_runs<'a>(&'a self, scratch_dir: &'a Path) -> TimedRuns<'a> {
        TimedRuns {
            command: self,
            scratch_dir,
            last: None,
        }
    }

    /// Runs the command to its end; fails when it cannot start or exits
    /// unsuccessfully (with the end of its standard error).
    pub fn run(&self, scratch_dir: &Path) -> anyhow::Result<Finished> {
        let time_output = scratch_dir.join("peak-rss.txt");
        let with_time = Path::new(GNU_TIME).is_file();
        let mut command = if with_time {
            let mut command = Command::new(GNU_TIME);
            command
                .args(["-f", "%M", "-o"])
                .arg(&time_output)
                .arg(&self.program);
            command
        } else {
            Command::new(&self.program)
        };
        command.args(&self.args).stderr(Stdio::piped());
        command.stdout(if self.capture_stdout {
            Stdio::piped()
        } else {
            Stdio::null()
        });
        command.stdin(match &self.stdin {
            Some(path) => Stdio::from(
                std::fs::File::open(path)
                    .with_context(|| format!("cannot open {}", path.display()))?,
            ),
            None => Stdio::null(),
        });

        let started = Instant::now();
        let child = command
            .spawn()
            .with_context(|| format!("cannot start {}", self.program.to_string_lossy()))?;
        let output = child
            .wait_with_output()
            .with_context(|| format!("cannot wait for {}", self.program.to_string_lossy()))?;
        let elapsed = started.elapsed();

        if !output.status.success() {
            let stderr = String::from_utf8_lossy(&output.stderr);
            let tail: Vec<&str> = stderr.lines().rev().take(10).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            bail!(
                "`{}` failed ({}):\n{}",
                self.command_line(),
                output.status,
                tail.join("\n")
            );
        }
        let peak_rss_bytes = if with_time {
            let text = std::fs::read_to_string(&time_output)
                .with_context(|| format!("cannot read {}", time_output.display()))?;
            parse_peak_rss(&text)
        } else {
            None
        };
        Ok(Finished {
            elapsed,
            peak_rss_bytes,
            stdout: output.stdout,
        })
    }
}

/// Runs of one [`External`], keeping the last one's output.
#[derive(Debug)]
pub struct TimedRuns<'a> {
    command: &'a External,
    scratch_dir: &'a Path,
    last: Option<Finished>,
}

impl TimedRuns<'_> {
    /// Runs the command once and returns how long it took.
    pub fn once(&mut self) -> anyhow::Result<Duration> {
        let finished = self.command.run(self.scratch_dir)?;
        let elapsed = finished.elapsed;
        self.last = Some(finished);
        Ok(elapsed)
    }

    /// The last run, once there has been one.
    pub fn last(self) -> anyhow::Result<Finished> {
        self.last.context("no run was made")
    }
}

/// GNU time's `%M` is in KiB and comes last (after a note on a failed exit).
pub fn parse_peak_rss(text: &str) -> Option<u64> {
    let kib: u64 = text.lines().last()?.trim().parse().ok()?;
    Some(kib << 10)
}

/// Quotes a word for a POSIX shell when it needs it.
fn shell_word(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || b"-_./=:,+@%".contains(&byte));
    if plain {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_lines_quote_what_a_shell_would_split() {
        let command = External::new("rg")
            .args(["-c", "-f", "/tmp/my patterns.txt", "it's"])
            .stdin(Path::new("/tmp/in.log"));
        assert_eq!(
            command.command_line(),
            r"rg -c -f '/tmp/my patterns.txt' 'it'\''s' < /tmp/in.log > /dev/null"
        );
    }

    #[test]
    fn peak_rss_is_read_in_kib_after_any_note() {
        assert_eq!(parse_peak_rss("2048\n"), Some(2 << 20));
        assert_eq!(
            parse_peak_rss("Command exited with non-zero status 1\n4\n"),
            Some(4096)
        );
        assert_eq!(parse_peak_rss(""), None);
    }

    #[test]
    fn runs_capture_output_and_report_failures() {
        let scratch = tempfile::TempDir::new().unwrap();
        let finished = External::new("sh")
            .args(["-c", "echo hello"])
            .capture_stdout()
            .run(scratch.path())
            .unwrap();
        assert_eq!(finished.stdout, b"hello\n");
        if Path::new(GNU_TIME).is_file() {
            assert!(finished.peak_rss_bytes.unwrap() > 0);
        }

        let error = External::new("sh")
            .args(["-c", "echo broken >&2; exit 3"])
            .run(scratch.path())
            .unwrap_err()
            .to_string();
        assert!(error.contains("broken"), "{error}");
    }
}
