//! Crash recovery and rotation through the real binary.
//!
//! A writer thread appends numbered lines (`seq=N ...`) to a file while
//! `firewatch run` follows it; firewatch is killed with SIGKILL at three
//! points and started again each time; once the writer is done, firewatch
//! catches up and is stopped with SIGTERM. The index must then hold every
//! number exactly once. The same runs with rename-and-create rotation, and
//! with copy-truncate rotation, where the loss that copy-truncate allows is
//! counted and explained.
//!
//! The suite runs `FIREWATCH_CRASH_LINES` lines per scenario (default
//! 60,000) so that it stays quick on a debug build; set it to 500000 to
//! run the full version (rotating every 50,000 lines).

#![allow(clippy::unwrap_used)]

mod common;

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use common::{firewatch, indexed_events};

/// How the writer rotates its file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Rotation {
    None,
    /// `app.log` is renamed to `app.log.K`; the writer appends a few more
    /// lines through its old handle (as an application does until it
    /// reopens its log), then creates a new `app.log`.
    RenameAndCreate,
    /// `app.log` is copied to `app.log.K`, a few more lines are appended,
    /// then it is truncated in place (logrotate's `copytruncate`).
    CopyTruncate,
}

/// Lines appended to the old file after it was renamed or copied, before
/// the writer moves on: the window in which rotation races the writer.
const LINES_IN_ROTATION_WINDOW: u64 = 20;
/// Lines the writer appends before it lets the others have the disk.
const LINES_PER_BURST: u64 = 100;
/// Pause between bursts: about 6,000 lines a second, which a debug build
/// of firewatch keeps up with, so that the kills land while the writer
/// writes and copy-truncate's loss stays what the race allows.
const PAUSE_BETWEEN_BURSTS: Duration = Duration::from_millis(15);

/// Lines between two rotations: a tenth of the lines (50,000 in the full
/// version), but at least about two seconds of writing, so that a restart never
/// spans two rotations (a file that came and went while nothing read it is
/// lost, see the file source's notes).
fn rotate_every(lines: u64) -> u64 {
    (lines / 10).max(12_000)
}

fn total_lines() -> u64 {
    std::env::var("FIREWATCH_CRASH_LINES")
        .ok()
        .and_then(|lines| lines.parse().ok())
        .unwrap_or(60_000)
}

/// One line, padded like a real log line.
fn numbered_line(number: u64) -> String {
    format!(
        "seq={number} level=info msg=\"numbered line for the crash test\" pad=0123456789abcdef\n"
    )
}

/// What the writer did, for the oracle.
#[derive(Debug, Default)]
struct Written {
    /// `(first, last)` numbers of each generation of `app.log` that was
    /// truncated away (copy-truncate only).
    truncated_generations: Vec<(u64, u64)>,
    rotations: u64,
}

/// Appends `lines` numbered lines to `dir/app.log`, rotating every
/// `lines / 10` lines.
fn spawn_writer(dir: PathBuf, lines: u64, rotation: Rotation) -> JoinHandle<Written> {
    std::thread::spawn(move || {
        let path = dir.join("app.log");
        let open = |path: &Path| {
            OpenOptions::new()
                .append(true)
                .create(true)
                .open(path)
                .unwrap()
        };
        let mut file = open(&path);
        let rotate_every = rotate_every(lines);
        let mut written = Written::default();
        let mut generation_start = 1;
        let mut number = 1;
        while number <= lines {
            let burst_end = (number + LINES_PER_BURST - 1).min(lines);
            let mut burst = String::new();
            while number <= burst_end {
                burst.push_str(&numbered_line(number));
                if number % rotate_every == 0 && number < lines && rotation != Rotation::None {
                    file.write_all(burst.as_bytes()).unwrap();
                    burst.clear();
                    written.rotations += 1;
                    let rotated = dir.join(format!("app.log.{}", written.rotations));
                    match rotation {
                        Rotation::RenameAndCreate => fs::rename(&path, &rotated).unwrap(),
                        Rotation::CopyTruncate => {
                            fs::copy(&path, &rotated).unwrap();
                        }
                        Rotation::None => unreachable!(),
                    }
                    let window_end = (number + LINES_IN_ROTATION_WINDOW).min(lines);
                    for late in number + 1..=window_end {
                        file.write_all(numbered_line(late).as_bytes()).unwrap();
                    }
                    number = window_end;
                    match rotation {
                        Rotation::RenameAndCreate => file = open(&path),
                        Rotation::CopyTruncate => {
                            file.set_len(0).unwrap();
                            written
                                .truncated_generations
                                .push((generation_start, number));
                        }
                        Rotation::None => unreachable!(),
                    }
                    generation_start = number + 1;
                }
                number += 1;
            }
            file.write_all(burst.as_bytes()).unwrap();
            std::thread::sleep(PAUSE_BETWEEN_BURSTS);
        }
        file.sync_all().unwrap();
        written
    })
}

/// A temporary directory with a pipeline that follows `app.log` in it.
struct Setup {
    dir: tempfile::TempDir,
    pipeline: PathBuf,
}

impl Setup {
    fn new(max_line_bytes: usize) -> Self {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join("rules")).unwrap();
        let root = dir.path().display().to_string();
        let pattern = format!("{}/app.log", glob_escape(&root));
        let pipeline = dir.path().join("pipeline.toml");
        fs::write(
            &pipeline,
            format!(
                "data_dir = {data:?}\n\
                 [[sources]]\nname = \"app\"\ntype = \"file\"\npaths = [{pattern:?}]\n\
                 format = \"plain\"\nfollow = true\nmax_line_bytes = {max_line_bytes}\n\
                 [rules]\npaths = [{rules:?}]\n\
                 [index]\ncommit_interval = \"200ms\"\nmemory_budget_mb = 64\n",
                data = format!("{root}/data"),
                rules = format!("{root}/rules"),
            ),
        )
        .unwrap();
        Self { dir, pipeline }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// Starts `firewatch run`; its log goes to `run-N.err` beside the data.
    fn start(&self) -> Child {
        let runs = fs::read_dir(self.path())
            .unwrap()
            .filter(|entry| entry.as_ref().unwrap().path().extension() == Some("err".as_ref()))
            .count();
        let log = File::create(self.path().join(format!("run-{runs}.err"))).unwrap();
        firewatch()
            .arg("run")
            .arg("--json")
            .arg(&self.pipeline)
            .env("FIREWATCH_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .unwrap()
    }

    /// The logs of every run so far.
    fn stderr(&self) -> String {
        let mut logs = String::new();
        for run in 0.. {
            let Ok(log) = fs::read_to_string(self.path().join(format!("run-{run}.err"))) else {
                break;
            };
            logs.push_str(&format!("--- run {run}\n{log}"));
        }
        logs
    }

    /// Fails the test, with firewatch's logs, if it has exited.
    fn assert_running(&self, child: &mut Child) {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("firewatch exited early with {status}:\n{}", self.stderr());
        }
    }

    /// Sends SIGTERM and waits for the process; returns its stdout, and
    /// fails the test unless it exits 0.
    fn terminate(&self, mut child: Child) -> String {
        let status = Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status()
            .unwrap();
        assert!(status.success());
        let deadline = Instant::now() + Duration::from_secs(60);
        while child.try_wait().unwrap().is_none() {
            assert!(Instant::now() < deadline, "no exit after SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
        let output = child.wait_with_output().unwrap();
        assert!(
            output.status.success(),
            "exit after SIGTERM: {}\n{}",
            output.status,
            self.stderr()
        );
        String::from_utf8(output.stdout).unwrap()
    }

    fn kill_hard(&self, mut child: Child) {
        self.assert_running(&mut child);
        child.kill().unwrap();
        child.wait().unwrap();
    }

    /// Every event message in the index.
    fn messages(&self) -> Vec<String> {
        indexed_events(&self.data_dir())
            .into_iter()
            .map(|event| event.message)
            .collect()
    }

    /// How many times each number 1..=lines is in the index; numbers
    /// outside that range or lines that are not numbered fail the test.
    fn tally(&self, lines: u64) -> Vec<u32> {
        let mut seen = vec![0u32; lines as usize + 1];
        for message in self.messages() {
            let number: u64 = message
                .strip_prefix("seq=")
                .and_then(|rest| rest.split(' ').next())
                .and_then(|number| number.parse().ok())
                .unwrap_or_else(|| panic!("not a numbered line: {message:?}"));
            assert!((1..=lines).contains(&number), "out of range: {message:?}");
            assert!(
                message.ends_with("pad=0123456789abcdef"),
                "a cut or joined line: {message:?}"
            );
            seen[number as usize] += 1;
        }
        seen
    }

    /// Waits until the index holds `events` events.
    fn wait_for_events(&self, child: &mut Child, events: usize, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            self.assert_running(child);
            let indexed = self.messages().len();
            if indexed >= events {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "only {indexed} of {events} events indexed in time\n{}",
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(300));
        }
    }
}

fn glob_escape(text: &str) -> String {
    text.chars()
        .map(|character| match character {
            '*' | '?' | '[' | ']' => format!("[{character}]"),
            other => other.to_string(),
        })
        .collect()
}

/// The peak resident set of a running process, in KiB.
fn peak_rss_kib(child: &Child) -> u64 {
    let status = fs::read_to_string(format!("/proc/{}/status", child.id())).unwrap();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

/// Bytes a running process has read so far.
fn bytes_read(child: &Child) -> u64 {
    let io = fs::read_to_string(format!("/proc/{}/io", child.id())).unwrap();
    io.lines()
        .find_map(|line| line.strip_prefix("rchar:"))
        .and_then(|value| value.trim().parse().ok())
        .unwrap()
}

/// The outcome of one crash scenario.
#[derive(Debug)]
struct Outcome {
    missing: Vec<u64>,
    duplicated: Vec<u64>,
    written: Written,
    /// firewatch's logs, for a failure message.
    logs: String,
}

impl Outcome {
    /// Fails unless every line is there exactly once.
    fn assert_complete(&self) {
        assert!(
            self.missing.is_empty() && self.duplicated.is_empty(),
            "missing {}; duplicated {}\n{}",
            ranges(&self.missing),
            ranges(&self.duplicated),
            self.logs
        );
    }
}

/// Sorted numbers as `first-last` runs, short enough for a message.
fn ranges(numbers: &[u64]) -> String {
    let mut runs: Vec<(u64, u64)> = Vec::new();
    for &number in numbers {
        match runs.last_mut() {
            Some((_, last)) if *last + 1 == number => *last = number,
            _ => runs.push((number, number)),
        }
    }
    let text: Vec<String> = runs
        .iter()
        .map(|(first, last)| format!("{first}-{last}"))
        .collect();
    format!("{} lines: [{}]", numbers.len(), text.join(", "))
}

/// Runs the writer beside firewatch, kills firewatch three times, lets it
/// catch up, stops it, and tallies the index.
fn crash_scenario(rotation: Rotation) -> Outcome {
    let lines = total_lines();
    let setup = Setup::new(1 << 20);
    let started = Instant::now();
    let writer = spawn_writer(setup.path().to_owned(), lines, rotation);
    let mut child = setup.start();
    // Kill points: early, in the middle and late in the writing; runs of
    // uneven length, so that the kills land in different phases of the
    // commit cycle.
    let writing = PAUSE_BETWEEN_BURSTS.mul_f64(lines as f64 / LINES_PER_BURST as f64);
    for share in [0.13, 0.47, 0.78] {
        if let Some(wait) = writing.mul_f64(share).checked_sub(started.elapsed()) {
            std::thread::sleep(wait);
        }
        setup.kill_hard(child);
        child = setup.start();
    }
    let written = writer.join().unwrap();
    // Wait for every line, or until the index has stopped growing (a loss,
    // which the tally then names).
    let expected = lines as usize;
    let deadline = Instant::now() + Duration::from_secs(240);
    let mut last = (0, Instant::now());
    loop {
        setup.assert_running(&mut child);
        let indexed = setup.messages().len();
        if indexed >= expected {
            break;
        }
        if indexed != last.0 {
            last = (indexed, Instant::now());
        } else if last.1.elapsed() > Duration::from_secs(10) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "only {indexed} of {expected} indexed\n{}",
            setup.stderr()
        );
        std::thread::sleep(Duration::from_millis(300));
    }
    setup.terminate(child);

    let seen = setup.tally(lines);
    let missing = (1..=lines).filter(|&n| seen[n as usize] == 0).collect();
    let duplicated = (1..=lines).filter(|&n| seen[n as usize] > 1).collect();
    Outcome {
        missing,
        duplicated,
        written,
        logs: setup.stderr(),
    }
}

#[test]
fn every_line_is_indexed_once_across_three_kills() {
    crash_scenario(Rotation::None).assert_complete();
}

#[test]
fn rename_and_create_rotation_loses_and_doubles_nothing_across_kills() {
    let outcome = crash_scenario(Rotation::RenameAndCreate);
    assert_eq!(
        outcome.written.rotations,
        (total_lines() - 1) / rotate_every(total_lines())
    );
    outcome.assert_complete();
}

/// Copy-truncate loses, by its nature, what was not yet read of a file
/// when it was truncated: those lines are only in the copy, which the
/// pipeline does not follow. The oracle checks that every missing line is
/// such a tail (the end of a truncated generation) and nothing else, and
/// that nothing is doubled.
#[test]
fn copy_truncate_rotation_loses_only_unread_tails_and_doubles_nothing() {
    let outcome = crash_scenario(Rotation::CopyTruncate);
    assert_eq!(
        outcome.written.rotations,
        (total_lines() - 1) / rotate_every(total_lines())
    );
    assert!(
        outcome.duplicated.is_empty(),
        "duplicated {}\n{}",
        ranges(&outcome.duplicated),
        outcome.logs
    );
    let mut inherent = 0;
    for &(first, last) in &outcome.written.truncated_generations {
        let lost: Vec<u64> = outcome
            .missing
            .iter()
            .copied()
            .filter(|number| (first..=last).contains(number))
            .collect();
        if let Some(&earliest) = lost.first() {
            assert_eq!(
                lost,
                (earliest..=last).collect::<Vec<u64>>(),
                "a loss in generation {first}..={last} that is not its unread tail"
            );
        }
        inherent += lost.len();
    }
    assert_eq!(
        outcome.missing.len(),
        inherent,
        "lines lost outside truncated tails: {}\n{}",
        ranges(&outcome.missing),
        outcome.logs
    );
    eprintln!(
        "copy-truncate: {} of {} lines lost in {} truncations ({} lines written in rotation windows): {}",
        inherent,
        total_lines(),
        outcome.written.rotations,
        outcome.written.rotations * LINES_IN_ROTATION_WINDOW,
        ranges(&outcome.missing),
    );
}

/// Asserts that the index holds each of lines `1..=lines` exactly once.
fn assert_every_line_once(setup: &Setup, lines: u64) {
    let seen = setup.tally(lines);
    let wrong: Vec<u64> = (1..=lines)
        .filter(|&number| seen[number as usize] != 1)
        .collect();
    assert!(wrong.is_empty(), "every line once: {}", ranges(&wrong));
}

/// Appends lines `first..=last` to `path`.
fn append_numbered(path: &Path, first: u64, last: u64) {
    let mut file = OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .unwrap();
    let text: String = (first..=last).map(numbered_line).collect();
    file.write_all(text.as_bytes()).unwrap();
}

/// Commits 1,000 lines, kills firewatch, then rotates `app.log`
/// `rotations` times (100 lines per generation) before restarting it, and
/// checks every line is indexed once.
fn rotate_while_down(rotations: u64) {
    let setup = Setup::new(1 << 20);
    let path = setup.path().join("app.log");
    append_numbered(&path, 1, 1000);
    let mut child = setup.start();
    setup.wait_for_events(&mut child, 1000, Duration::from_secs(60));
    setup.kill_hard(child);

    for generation in 1..=rotations {
        let first = 1000 + (generation - 1) * 100 + 1;
        append_numbered(&path, first, first + 99);
        fs::rename(&path, setup.path().join(format!("app.log.{generation}"))).unwrap();
    }
    let lines = 1000 + (rotations + 1) * 100;
    append_numbered(&path, lines - 99, lines);
    let mut child = setup.start();
    setup.wait_for_events(&mut child, lines as usize, Duration::from_secs(60));
    setup.terminate(child);
    assert_every_line_once(&setup, lines);
}

#[test]
fn a_file_rotated_while_firewatch_is_down_is_read_to_its_end_after_a_restart() {
    rotate_while_down(1);
}

/// Two rotations while firewatch is down: the middle generation was never
/// committed (it did not exist at the last commit), and only its siblings
/// tell where it went.
#[test]
fn generations_rotated_away_unseen_while_firewatch_is_down_are_read_after_a_restart() {
    rotate_while_down(2);
}

#[test]
fn sigterm_commits_what_was_read_and_a_restart_reads_the_rest() {
    let setup = Setup::new(1 << 20);
    let first_part = 30_000;
    append_numbered(&setup.path().join("app.log"), 1, first_part);
    let child = setup.start();
    std::thread::sleep(Duration::from_millis(800));
    let stdout = setup.terminate(child);
    let summary: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    let events = summary["summary"]["events"].as_u64().unwrap();
    let seen = setup.tally(first_part);
    let indexed: u64 = seen.iter().map(|&count| u64::from(count)).sum();
    assert_eq!(indexed, events, "everything processed was committed");
    assert!(
        (1..=events).all(|number| seen[number as usize] == 1),
        "the committed events are the first {events} lines, once each"
    );

    append_numbered(
        &setup.path().join("app.log"),
        first_part + 1,
        first_part + 100,
    );
    let mut child = setup.start();
    setup.wait_for_events(
        &mut child,
        first_part as usize + 100,
        Duration::from_secs(120),
    );
    setup.terminate(child);
    let seen = setup.tally(first_part + 100);
    assert!(
        seen[1..].iter().all(|&count| count == 1),
        "every line once after the restart"
    );
}

#[test]
fn a_100_mb_line_without_newline_keeps_memory_bounded_and_gives_one_cut_event() {
    // The control follows a 2 MiB line, cut the same way: what it holds at
    // its peak is what any cut line costs. Holding the 100 MiB line would
    // put about 98 MiB more on top of that.
    let control_kib = follow_one_long_line(2);
    let peak_kib = follow_one_long_line(100);
    eprintln!(
        "peak RSS while following a 100 MiB line: {peak_kib} KiB; a 2 MiB line: {control_kib} KiB"
    );
    assert!(
        peak_kib < control_kib + 32 * 1024,
        "peak RSS {peak_kib} KiB against {control_kib} KiB: the line was held in memory"
    );
}

/// Follows a file that gets a line of `mebibytes` MiB with no newline, then
/// `after`, with lines cut at 1 MiB; checks the two events that gives and
/// returns the run's peak resident memory in KiB.
fn follow_one_long_line(mebibytes: u64) -> u64 {
    let setup = Setup::new(1 << 20);
    let path = setup.path().join("app.log");
    let mut child = setup.start();
    let mut file = File::create(&path).unwrap();
    let block = vec![b'x'; 1 << 20];
    for _ in 0..mebibytes {
        file.write_all(&block).unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(120);
    while bytes_read(&child) < mebibytes << 20 {
        setup.assert_running(&mut child);
        assert!(Instant::now() < deadline, "the line was not read in time");
        std::thread::sleep(Duration::from_millis(100));
    }
    file.write_all(b"\nafter\n").unwrap();
    setup.wait_for_events(&mut child, 2, Duration::from_secs(30));
    let peak_kib = peak_rss_kib(&child);
    setup.terminate(child);
    let events = indexed_events(&setup.data_dir());
    assert_eq!(events.len(), 2);
    assert!(events[0].problem.truncated);
    assert_eq!(events[0].message.len(), 1 << 20);
    assert_eq!(events[1].message, "after");
    peak_kib
}
