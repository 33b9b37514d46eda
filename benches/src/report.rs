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
    let [timing] = medians_in_turn(runs, [&mut once])?;
    Ok(timing)
}

/// Runs each contender once per round, in turn, for `runs` rounds (at least
/// one), and gives each one's median. Taking turns spreads a drift in the
/// machine's load over all contenders alike, instead of charging it to
/// whichever ran last.
pub fn medians_in_turn<const N: usize>(
    runs: usize,
    mut contenders: [&mut dyn FnMut() -> anyhow::Result<Duration>; N],
) -> anyhow::Result<[Timing; N]> {
    let runs = runs.max(1);
    let mut seconds: [Vec<f64>; N] = std::array::from_fn(|_| Vec::with_capacity(runs));
    for _ in 0..runs {
        for (contender, figures) in contenders.iter_mut().zip(&mut seconds) {
            figures.push(contender()?.as_secs_f64());
        }
    }
    Ok(seconds.map(|mut figures| {
        figures.sort_by(f64::total_cmp);
        Timing {
            seconds: median(&figures),
            runs,
        }
    }))
}

/// The median of sorted, non-empty figures.
fn median(sorted: &[f64]) -> f64 {
    let middle = sorted.len() / 2;
    if sorted.len() % 2 == 1 {
        sorted[middle]
    } else {
        (sorted[middle - 1] + sorted[middle]) / 2.0
    }
}

/// The nearest-rank percentile of sorted, non-empty figures: the smallest
/// one with at least `percent` % of them at or below it. Below 100 figures,
/// the 99th percentile is the largest.
fn percentile(sorted: &[f64], percent: f64) -> f64 {
    let rank = (percent / 100.0 * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
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

    /// Adds a short remark (match counts, index size...) after any
    /// remark made before.
    pub fn with_note(mut self, note: impl Into<String>) -> Self {
        let note = note.into();
        self.note = Some(match self.note.take() {
            Some(before) => format!("{before}; {note}"),
            None => note,
        });
        self
    }

    /// What ran.
    pub fn subject(&self) -> &str {
        &self.subject
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

    fn table_row(&self) -> Vec<String> {
        vec![
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

/// What a user waits for: a command's wall-clock times over repeated runs,
/// as their median and 99th percentile, beside the target for the latter.
#[derive(Clone, Debug)]
pub struct Latency {
    stage: &'static str,
    subject: String,
    input: String,
    runs: usize,
    median_seconds: f64,
    p99_seconds: f64,
    target: Option<Duration>,
    peak_rss_bytes: Option<u64>,
    note: Option<String>,
    command: String,
}

impl Latency {
    /// A row for `subject` from the times of its runs over `corpus`;
    /// `command` is one of the command lines, as an example. Fails without
    /// a run.
    pub fn new(
        stage: &'static str,
        subject: impl Into<String>,
        corpus: &Corpus,
        times: &[Duration],
        command: impl Into<String>,
    ) -> anyhow::Result<Self> {
        let subject = subject.into();
        if times.is_empty() {
            anyhow::bail!("no timed run of {subject}");
        }
        let mut seconds: Vec<f64> = times.iter().map(Duration::as_secs_f64).collect();
        seconds.sort_by(f64::total_cmp);
        Ok(Latency {
            stage,
            subject,
            input: corpus.describe(),
            runs: times.len(),
            median_seconds: median(&seconds),
            p99_seconds: percentile(&seconds, 99.0),
            target: None,
            peak_rss_bytes: None,
            note: None,
            command: command.into(),
        })
    }

    /// Sets the most the 99th percentile should be.
    pub fn with_target(mut self, target: Option<Duration>) -> Self {
        self.target = target;
        self
    }

    /// Records the largest peak memory of the runs.
    pub fn with_peak_rss(mut self, peak_rss_bytes: Option<u64>) -> Self {
        self.peak_rss_bytes = peak_rss_bytes;
        self
    }

    /// Adds a short remark (matches, what varied between runs...).
    pub fn with_note(mut self, note: impl Into<String>) -> Self {
        self.note = Some(note.into());
        self
    }

    /// `met`, `missed by N ms (Rx)`, or `-` without a target.
    pub fn verdict(&self) -> String {
        let Some(target) = self.target else {
            return "-".into();
        };
        let target = target.as_secs_f64();
        if self.p99_seconds < target {
            "met".into()
        } else {
            format!(
                "missed by {:.0} ms ({:.1}x)",
                (self.p99_seconds - target) * 1e3,
                self.p99_seconds / target
            )
        }
    }

    fn to_json(&self) -> Value {
        json!({
            "stage": self.stage,
            "subject": self.subject,
            "input": self.input,
            "runs": self.runs,
            "median_seconds": self.median_seconds,
            "p99_seconds": self.p99_seconds,
            "target_p99_seconds": self.target.map(|target| target.as_secs_f64()),
            "verdict": self.verdict(),
            "peak_rss_bytes": self.peak_rss_bytes,
            "note": self.note,
            "command": self.command,
        })
    }

    fn table_row(&self) -> Vec<String> {
        vec![
            self.stage.to_owned(),
            self.subject.clone(),
            self.input.clone(),
            self.runs.to_string(),
            format!("{:.1}", self.median_seconds * 1e3),
            format!("{:.1}", self.p99_seconds * 1e3),
            self.target
                .map_or("-".into(), |target| format!("< {} ms", target.as_millis())),
            self.verdict(),
            self.peak_rss_bytes
                .map_or("-".into(), |bytes| format!("{} MiB", bytes >> 20)),
            self.note.clone().unwrap_or_default(),
        ]
    }
}

const LATENCY_HEADER: [&str; 10] = [
    "stage",
    "what",
    "input",
    "runs",
    "median ms",
    "p99 ms",
    "target p99",
    "verdict",
    "peak RSS",
    "note",
];

const LATENCY_LEFT_ALIGNED: [usize; 6] = [0, 1, 2, 6, 7, 9];

/// An index's size on disk against the raw bytes it holds.
#[derive(Clone, Debug)]
pub struct IndexSize {
    stage: &'static str,
    subject: String,
    input: String,
    raw_bytes: u64,
    index_bytes: u64,
    baseline: Option<(String, f64)>,
}

impl IndexSize {
    /// `subject`'s index of all of `corpus`, `index_bytes` on disk.
    pub fn new(
        stage: &'static str,
        subject: impl Into<String>,
        corpus: &Corpus,
        index_bytes: u64,
    ) -> Self {
        IndexSize {
            stage,
            subject: subject.into(),
            input: corpus.describe(),
            raw_bytes: corpus.bytes,
            index_bytes,
            baseline: None,
        }
    }

    /// Decimal megabytes on disk per GiB (2^30 bytes) of raw input.
    pub fn mb_per_raw_gib(&self) -> f64 {
        self.index_bytes as f64 / 1e6 / (self.raw_bytes as f64 / f64::from(1u32 << 30))
    }

    /// Sets the ratio of this index's size per raw GiB to `baseline`'s
    /// (above 1: larger).
    pub fn compared_to(mut self, baseline: &IndexSize) -> Self {
        let ratio = self.mb_per_raw_gib() / baseline.mb_per_raw_gib();
        self.baseline = Some((baseline.subject.clone(), ratio));
        self
    }

    fn to_json(&self) -> Value {
        json!({
            "stage": self.stage,
            "subject": self.subject,
            "input": self.input,
            "raw_bytes": self.raw_bytes,
            "index_bytes": self.index_bytes,
            "mb_per_raw_gib": self.mb_per_raw_gib(),
            "baseline": self.baseline.as_ref().map(|(subject, _)| subject),
            "ratio": self.baseline.as_ref().map(|(_, ratio)| ratio),
        })
    }

    fn table_row(&self) -> Vec<String> {
        vec![
            self.stage.to_owned(),
            self.subject.clone(),
            self.input.clone(),
            self.raw_bytes.to_string(),
            self.index_bytes.to_string(),
            format!("{:.0}", self.mb_per_raw_gib()),
            self.baseline
                .as_ref()
                .map_or("-".into(), |(subject, _)| subject.clone()),
            self.baseline
                .as_ref()
                .map_or("-".into(), |(_, ratio)| format!("{ratio:.2}x")),
        ]
    }
}

const INDEX_SIZE_HEADER: [&str; 8] = [
    "stage",
    "what",
    "input",
    "raw bytes",
    "index bytes",
    "MB per raw GiB",
    "baseline",
    "ratio",
];

const INDEX_SIZE_LEFT_ALIGNED: [usize; 4] = [0, 1, 2, 6];

/// Everything one stage measured: throughput rows, latency rows and index
/// sizes (a stage fills the kinds it measures).
#[derive(Clone, Debug, Default)]
pub struct StageRows {
    /// Work per second.
    pub throughput: Vec<Measurement>,
    /// Time per command.
    pub latency: Vec<Latency>,
    /// Bytes on disk per raw byte.
    pub index_sizes: Vec<IndexSize>,
}

impl From<Vec<Measurement>> for StageRows {
    fn from(throughput: Vec<Measurement>) -> Self {
        StageRows {
            throughput,
            ..StageRows::default()
        }
    }
}

const THROUGHPUT_HEADER: [&str; 12] = [
    "stage", "what", "input", "bytes", "events", "seconds", "MB/s", "events/s", "baseline",
    "ratio", "peak RSS", "note",
];

/// Columns aligned to the left; the others (figures) to the right.
const THROUGHPUT_LEFT_ALIGNED: [usize; 5] = [0, 1, 2, 8, 11];

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

    /// Prints one stage's tables (throughput, latency, index size; the
    /// empty ones left out), then the commands behind its external rows.
    pub fn stage(&self, title: &str, rows: &StageRows) {
        if self.json {
            let lines = (rows.throughput.iter().map(Measurement::to_json))
                .chain(rows.latency.iter().map(Latency::to_json))
                .chain(rows.index_sizes.iter().map(IndexSize::to_json));
            for line in lines {
                println!("{line}");
            }
            return;
        }
        println!(
            "\n== {title} == (load average {} at its end)",
            load_average()
        );
        let tables = [
            (
                THROUGHPUT_HEADER.as_slice(),
                THROUGHPUT_LEFT_ALIGNED.as_slice(),
                rows.throughput.iter().map(Measurement::table_row).collect(),
            ),
            (
                LATENCY_HEADER.as_slice(),
                LATENCY_LEFT_ALIGNED.as_slice(),
                rows.latency.iter().map(Latency::table_row).collect(),
            ),
            (
                INDEX_SIZE_HEADER.as_slice(),
                INDEX_SIZE_LEFT_ALIGNED.as_slice(),
                rows.index_sizes.iter().map(IndexSize::table_row).collect(),
            ),
        ];
        let mut first = true;
        for (header, left_aligned, cells) in tables {
            let cells: Vec<Vec<String>> = cells;
            if cells.is_empty() {
                continue;
            }
            if !first {
                println!();
            }
            first = false;
            print_table(header, left_aligned, &cells);
        }
        let commands: Vec<(&str, &str)> = (rows.throughput.iter())
            .filter_map(|row| Some((row.subject.as_str(), row.command.as_deref()?)))
            .chain(
                rows.latency
                    .iter()
                    .map(|row| (row.subject.as_str(), row.command.as_str())),
            )
            .collect();
        if !commands.is_empty() {
            println!("commands:");
            for (subject, command) in commands {
                println!("  {subject}: {command}");
            }
        }
    }
}

/// Prints a header and rows, each column as wide as its widest cell.
fn print_table(header: &[&str], left_aligned: &[usize], cells: &[Vec<String>]) {
    let widths: Vec<usize> = (0..header.len())
        .map(|column| {
            cells
                .iter()
                .map(|row| row[column].len())
                .chain([header[column].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let header: Vec<String> = header.iter().map(|&cell| cell.to_owned()).collect();
    for row in std::iter::once(&header).chain(cells) {
        let line: Vec<String> = row
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(column, (cell, &width))| {
                if left_aligned.contains(&column) {
                    format!("{cell:<width$}")
                } else {
                    format!("{cell:>width$}")
                }
            })
            .collect();
        println!("{}", line.join("  ").trim_end());
    }
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

    #[test]
    fn p99_is_the_nearest_rank_and_the_largest_below_100_runs() {
        let sorted: Vec<f64> = (1..=200).map(f64::from).collect();
        assert_eq!(percentile(&sorted, 99.0), 198.0);
        assert_eq!(percentile(&sorted[..42], 99.0), 42.0);
        assert_eq!(percentile(&[5.0], 99.0), 5.0);
    }

    fn corpus(bytes: u64) -> Corpus {
        Corpus {
            path: "corpus.log".into(),
            format: crate::corpus::CorpusFormat::Json,
            extent: crate::corpus::Extent::Lines(10),
            bytes,
            lines: 10,
        }
    }

    #[test]
    fn latency_rows_judge_the_p99_against_the_target() {
        let times: Vec<Duration> = [30, 10, 20, 150].map(Duration::from_millis).to_vec();
        let row = Latency::new("query", "term", &corpus(1), &times, "firewatch search x").unwrap();
        assert!(Latency::new("query", "term", &corpus(1), &[], "firewatch").is_err());
        assert_eq!(row.median_seconds, 0.025);
        assert_eq!(row.p99_seconds, 0.150);
        assert_eq!(row.verdict(), "-");
        let row = row.with_target(Some(Duration::from_millis(100)));
        assert_eq!(row.verdict(), "missed by 50 ms (1.5x)");
        let row = row.with_target(Some(Duration::from_millis(200)));
        assert_eq!(row.verdict(), "met");
    }

    #[test]
    fn index_sizes_are_per_raw_gib_and_compared_as_such() {
        let corpus = corpus(2 << 30);
        let baseline = IndexSize::new("query", "tantivy-cli", &corpus, 1_000_000_000);
        assert_eq!(baseline.mb_per_raw_gib(), 500.0);
        let row =
            IndexSize::new("query", "firewatch", &corpus, 1_500_000_000).compared_to(&baseline);
        assert_eq!(row.baseline.unwrap().1, 1.5);
    }
}
