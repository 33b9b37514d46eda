//! Figures and how they are shown: one [`Measurement`] per row, the median
//! of repeated runs, an aligned table per stage for people and the same rows
//! as JSON lines for scripts.

use std::time::Duration;

use serde_json::{Value, json};

use crate::corpus::Corpus;
use crate::external::{External, Finished};

/// How long something took: the median of `runs` timed runs.
#[derive(Clone, Copy, Debug)]
pub struct Timing {
    /// Median wall-clock seconds.
    pub seconds: f64,
    /// How many runs the median is taken over.
    pub runs: usize,
}

/// Runs `once` `runs` times (at least once); each call times its own
/// critical section, so that set-up and clean-up stay out of the figure.
pub fn median_of(
    runs: usize,
    mut once: impl FnMut() -> anyhow::Result<Duration>,
) -> anyhow::Result<Timing> {
    let runs = runs.max(1);
    let mut seconds = Vec::with_capacity(runs);
    for _ in 0..runs {
        seconds.push(once()?.as_secs_f64());
    }
    seconds.sort_by(f64::total_cmp);
    let middle = runs / 2;
    let median = if runs % 2 == 1 {
        seconds[middle]
    } else {
        (seconds[middle - 1] + seconds[middle]) / 2.0
    };
    Ok(Timing {
        seconds: median,
        runs,
    })
}

/// One row of a report: what ran, over which input, how fast, and against
/// which baseline.
#[derive(Clone, Debug)]
pub struct Measurement {
    stage: &'static str,
    subject: String,
    input: String,
    bytes: u64,
    events: u64,
    timing: Timing,
    baseline: Option<(String, f64)>,
    peak_rss_bytes: Option<u64>,
    note: Option<String>,
    command: Option<String>,
}

impl Measurement {
    /// A row for `subject` having processed all of `corpus`, one event per line.
    pub fn new(
        stage: &'static str,
        subject: impl Into<String>,
        corpus: &Corpus,
        timing: Timing,
    ) -> Self {
        Measurement {
            stage,
            subject: subject.into(),
            input: corpus.describe(),
            bytes: corpus.bytes,
            events: corpus.lines,
            timing,
            baseline: None,
            peak_rss_bytes: None,
            note: None,
            command: None,
        }
    }

    /// Counts `events` instead of the corpus's lines.
    pub fn with_events(mut self, events: u64) -> Self {
        self.events = events;
        self
    }

    /// Adds a short remark (match counts, index size...).
    pub fn with_note(mut self, note: impl Into<String>) -> Self {
        self.note = Some(note.into());
        self
    }

    /// Records the command line behind this row and the peak memory of its
    /// last run.
    pub fn with_command(mut self, command: &External, last_run: &Finished) -> Self {
        self.command = Some(command.command_line());
        self.peak_rss_bytes = last_run.peak_rss_bytes;
        self
    }

    /// Sets the ratio of this row's MB/s to `baseline`'s (above 1: faster).
    pub fn compared_to(mut self, baseline: &Measurement) -> Self {
        let ratio = self.mb_per_second() / baseline.mb_per_second();
        self.baseline = Some((baseline.subject.clone(), ratio));
        self
    }

    /// Decimal megabytes (10^6 bytes) of input per second.
    pub fn mb_per_second(&self) -> f64 {
        self.bytes as f64 / 1e6 / self.timing.seconds
    }

    /// Events per second.
    pub fn events_per_second(&self) -> f64 {
        self.events as f64 / self.timing.seconds
    }

    fn to_json(&self) -> Value {
        json!({
            "stage": self.stage,
            "subject": self.subject,
            "input": self.input,
            "bytes": self.bytes,
            "events": self.events,
            "seconds": self.timing.seconds,
            "runs": self.timing.runs,
            "mb_per_s": self.mb_per_second(),
            "events_per_s": self.events_per_second(),
            "baseline": self.baseline.as_ref().map(|(subject, _)| subject),
            "ratio": self.baseline.as_ref().map(|(_, ratio)| ratio),
            "peak_rss_bytes": self.peak_rss_bytes,
            "note": self.note,
            "command": self.command,
        })
    }

    fn table_row(&self) -> [String; 12] {
        [
            self.stage.to_owned(),
            self.subject.clone(),
            self.input.clone(),
            self.bytes.to_string(),
            self.events.to_string(),
            format!("{:.3}", self.timing.seconds),
            format!("{:.1}", self.mb_per_second()),
            format!("{:.0}", self.events_per_second()),
            self.baseline
                .as_ref()
                .map_or("-".into(), |(subject, _)| subject.clone()),
            self.baseline
                .as_ref()
                .map_or("-".into(), |(_, ratio)| format!("{ratio:.2}x")),
            self.peak_rss_bytes
                .map_or("-".into(), |bytes| format!("{} MiB", bytes >> 20)),
            self.note.clone().unwrap_or_default(),
        ]
    }
}

const HEADER: [&str; 12] = [
    "stage", "what", "input", "bytes", "events", "seconds", "MB/s", "events/s", "baseline",
    "ratio", "peak RSS", "note",
];

/// Columns aligned to the left; the others (figures) to the right.
const LEFT_ALIGNED: [usize; 5] = [0, 1, 2, 8, 11];

/// Where reports go: aligned tables or JSON lines, on stdout.
#[derive(Clone, Copy, Debug)]
pub struct Report {
    /// JSON lines instead of tables.
    pub json: bool,
}

impl Report {
    /// Describes the machine the figures come from.
    pub fn machine(&self, machine: &Machine) {
        if self.json {
            println!("{}", json!({ "machine": machine.to_json() }));
        } else {
            println!(
                "machine: {} cores, {}, {} GiB memory, load average {} at start; \
                 MB = 10^6 bytes, seconds = median of runs",
                machine.cores,
                machine.cpu,
                machine.memory_bytes >> 30,
                machine.load_average,
            );
        }
    }

    /// Prints one stage's rows, then the commands behind its external rows.
    pub fn stage(&self, title: &str, rows: &[Measurement]) {
        if self.json {
            for row in rows {
                println!("{}", row.to_json());
            }
            return;
        }
        println!(
            "\n== {title} == (load average {} at its end)",
            load_average()
        );
        let cells: Vec<[String; 12]> = rows.iter().map(Measurement::table_row).collect();
        let widths: Vec<usize> = (0..HEADER.len())
            .map(|column| {
                cells
                    .iter()
                    .map(|row| row[column].len())
                    .chain([HEADER[column].len()])
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        print_row(HEADER.map(str::to_owned).as_slice(), &widths);
        for row in &cells {
            print_row(row, &widths);
        }
        let commands: Vec<&Measurement> = rows.iter().filter(|row| row.command.is_some()).collect();
        if !commands.is_empty() {
            println!("commands:");
            for row in commands {
                println!(
                    "  {}: {}",
                    row.subject,
                    row.command.as_deref().unwrap_or_default()
                );
            }
        }
    }
}

fn print_row(cells: &[String], widths: &[usize]) {
    let line: Vec<String> = cells
        .iter()
        .zip(widths)
        .enumerate()
        .map(|(column, (cell, &width))| {
            if LEFT_ALIGNED.contains(&column) {
                format!("{cell:<width$}")
            } else {
                format!("{cell:>width$}")
            }
        })
        .collect();
    println!("{}", line.join("  ").trim_end());
}

/// What the figures were measured on.
#[derive(Clone, Debug)]
pub struct Machine {
    /// Cores this process may use.
    pub cores: usize,
    /// CPU model name, as the kernel reports it.
    pub cpu: String,
    /// Installed memory.
    pub memory_bytes: u64,
    /// One-minute load average when the harness started: other work on a
    /// shared machine skews every figure.
    pub load_average: String,
}

impl Machine {
    /// Reads the machine's description from the standard library and `/proc`.
    pub fn detect() -> Self {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        Machine {
            cores: std::thread::available_parallelism().map_or(1, |cores| cores.get()),
            cpu: proc_value(&cpuinfo, "model name")
                .unwrap_or("unknown cpu")
                .to_owned(),
            memory_bytes: proc_value(&meminfo, "MemTotal")
                .and_then(|text| text.trim_end_matches("kB").trim().parse::<u64>().ok())
                .map_or(0, |kib| kib << 10),
            load_average: load_average(),
        }
    }

    fn to_json(&self) -> Value {
        json!({
            "cores": self.cores,
            "cpu": self.cpu,
            "memory_bytes": self.memory_bytes,
            "load_average": self.load_average,
        })
    }
}

/// The one-minute load average, as the kernel reports it.
fn load_average() -> String {
    let loadavg = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    loadavg
        .split_whitespace()
        .next()
        .unwrap_or("unknown")
        .to_owned()
}

/// The value of the first `key: value` line of a `/proc` file.
fn proc_value<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    text.lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        (name.trim() == key).then(|| value.trim())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_takes_the_middle_run() {
        let mut durations = [3, 1, 2].into_iter().map(Duration::from_secs);
        let timing = median_of(3, || Ok(durations.next().unwrap())).unwrap();
        assert_eq!(timing.seconds, 2.0);
        assert_eq!(timing.runs, 3);

        let mut durations = [4, 1].into_iter().map(Duration::from_secs);
        assert_eq!(
            median_of(2, || Ok(durations.next().unwrap()))
                .unwrap()
                .seconds,
            2.5
        );
    }

    #[test]
    fn proc_values_are_found_by_key() {
        let text = "processor\t: 0\nmodel name\t: Example CPU @ 2.0GHz\n";
        assert_eq!(proc_value(text, "model name"), Some("Example CPU @ 2.0GHz"));
        assert_eq!(proc_value(text, "MemTotal"), None);
    }
}
