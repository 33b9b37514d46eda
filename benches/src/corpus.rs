//! The synthetic corpora: generated once by the shared generator into the
//! scratch directory, reused afterwards, and loaded as records or events so
//! that stages time only their own work.

use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::str::FromStr;
use std::sync::Arc;

use anyhow::{Context, bail};
use firewatch_event::{Event, EventId, RawRecord, Timestamp};
use firewatch_parse::{Format, Parser, ParserConfig};

/// The generator's seed, so that every run measures the same bytes.
const SEED: &str = "42";

/// A corpus size with binary units (`64M` = 64 MiB), as the generator reads it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Size(pub u64);

const UNITS: [(&str, u64); 3] = [("G", 1 << 30), ("M", 1 << 20), ("K", 1 << 10)];

impl FromStr for Size {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let upper = text.trim().to_ascii_uppercase();
        let digits = upper.trim_end_matches("IB").trim_end_matches('B');
        with_unit(digits, &UNITS)
            .map(Size)
            .map_err(|problem| format!("invalid size {text:?}: {problem}, e.g. 256M"))
    }
}

/// A count of events with decimal units (`200k` = 200,000; `10M`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Count(pub u64);

const DECIMAL_UNITS: [(&str, u64); 3] = [("G", 1_000_000_000), ("M", 1_000_000), ("K", 1_000)];

impl FromStr for Count {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let upper = text.trim().to_ascii_uppercase();
        with_unit(&upper, &DECIMAL_UNITS)
            .map(Count)
            .map_err(|problem| format!("invalid count {text:?}: {problem}, e.g. 200k"))
    }
}

/// A positive whole number with an optional unit suffix from `units`
/// (upper case), multiplied out.
fn with_unit(text: &str, units: &[(&str, u64)]) -> Result<u64, String> {
    let (number, multiplier) = units
        .iter()
        .find_map(|&(unit, multiplier)| Some((text.strip_suffix(unit)?, multiplier)))
        .unwrap_or((text, 1));
    let suffixes: Vec<&str> = units.iter().map(|&(unit, _)| unit).collect();
    match number.trim().parse::<u64>() {
        Ok(count) if count > 0 => count
            .checked_mul(multiplier)
            .ok_or_else(|| "too large".to_owned()),
        _ => Err(format!(
            "expected a positive whole number with an optional {} suffix",
            suffixes.join(", ")
        )),
    }
}

impl fmt::Display for Size {
    /// The largest unit that divides the size exactly: `256M`, `1G`, `1000`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match UNITS
            .iter()
            .find(|&&(_, multiplier)| self.0.is_multiple_of(multiplier))
        {
            Some(&(unit, multiplier)) => write!(f, "{}{unit}", self.0 / multiplier),
            None => write!(f, "{}", self.0),
        }
    }
}

/// How much a corpus holds: a size, a line count (`--lines` of the
/// generator) for stages that compare formats on the same events, or a line
/// count spread over consecutive days for the stage that queries by time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Extent {
    /// At least this many bytes, ending at the first line past them.
    Bytes(Size),
    /// Exactly this many lines.
    Lines(u64),
    /// Exactly `events` lines from `days` runs of the generator, one per
    /// day from [`FIRST_DAY`] on, each with a seed of its own (the base
    /// seed plus the day's number), concatenated.
    /// The generator spaces lines about 18 ms apart, so each day's lines
    /// start at its midnight and cover the hours that their count fills.
    Days {
        /// Lines in all.
        events: u64,
        /// Consecutive days; the first ones take one line more when the
        /// lines do not divide evenly.
        days: u32,
    },
}

/// Midnight (UTC) of the first day of an [`Extent::Days`] corpus: the
/// generator's default start.
pub const FIRST_DAY: &str = "2024-10-11T00:00:00Z";

impl Extent {
    /// The generator runs that make this corpus, in order: the arguments
    /// that say how much each writes, from when, with which seed.
    fn generator_runs(self) -> anyhow::Result<Vec<Vec<String>>> {
        let seed: u64 = SEED.parse()?;
        let seed_args = |seed: u64| ["--seed".to_owned(), seed.to_string()];
        Ok(match self {
            Extent::Bytes(size) => vec![
                ["--bytes".to_owned(), size.0.to_string()]
                    .into_iter()
                    .chain(seed_args(seed))
                    .collect(),
            ],
            Extent::Lines(lines) => vec![
                ["--lines".to_owned(), lines.to_string()]
                    .into_iter()
                    .chain(seed_args(seed))
                    .collect(),
            ],
            Extent::Days { days, .. } => {
                let mut runs = Vec::new();
                for day in 0..days {
                    let start = first_day()?
                        .checked_add(jiff::SignedDuration::from_hours(24 * i64::from(day)))?;
                    runs.push(
                        [
                            "--lines".to_owned(),
                            self.lines_of_day(day).to_string(),
                            "--start".to_owned(),
                            start.strftime("%Y-%m-%dT%H:%M:%S").to_string(),
                        ]
                        .into_iter()
                        .chain(seed_args(seed + u64::from(day)))
                        .collect(),
                    );
                }
                runs
            }
        })
    }

    /// Lines of day `day` (from 0) of an [`Extent::Days`] corpus (0 for the
    /// other extents, which have no days).
    fn lines_of_day(self, day: u32) -> u64 {
        match self {
            Extent::Days { events, days } => {
                let days = u64::from(days.max(1));
                events / days + u64::from(u64::from(day) < events % days)
            }
            Extent::Bytes(_) | Extent::Lines(_) => 0,
        }
    }
}

/// Midnight of the first day of an [`Extent::Days`] corpus.
pub fn first_day() -> anyhow::Result<jiff::Timestamp> {
    Ok(FIRST_DAY.parse()?)
}

impl fmt::Display for Extent {
    /// `256M`, `1000000 lines`, or `10000000 events over 7 days`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Extent::Bytes(size) => size.fmt(f),
            Extent::Lines(lines) => write!(f, "{lines} lines"),
            Extent::Days { events, days } => write!(f, "{events} events over {days} days"),
        }
    }
}

/// The corpus formats the stages read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CorpusFormat {
    /// One JSON object per line: `ts`, `level`, `service`, `host`, `msg`, ...
    Json,
    /// RFC 3164 syslog with a priority.
    Syslog,
}

impl CorpusFormat {
    fn name(self) -> &'static str {
        match self {
            CorpusFormat::Json => "json",
            CorpusFormat::Syslog => "syslog",
        }
    }

    /// The parser format for this corpus.
    pub fn parse_format(self) -> Format {
        match self {
            CorpusFormat::Json => Format::Json,
            CorpusFormat::Syslog => Format::Syslog,
        }
    }
}

/// A generated corpus file.
#[derive(Clone, Debug)]
pub struct Corpus {
    /// Where it is.
    pub path: PathBuf,
    /// What is in it.
    pub format: CorpusFormat,
    /// The size or line count it was asked for.
    pub extent: Extent,
    /// Its exact size.
    pub bytes: u64,
    /// Its line count (one event per line).
    pub lines: u64,
}

impl Corpus {
    /// Finds the corpus of this format and extent in `work_dir`, generating
    /// it with `gen-corpus.py` from `shared_dir` when it is missing or has
    /// the wrong size.
    pub fn ensure(
        work_dir: &Path,
        shared_dir: &Path,
        format: CorpusFormat,
        extent: Extent,
    ) -> anyhow::Result<Corpus> {
        let name = match extent {
            Extent::Bytes(size) => format!("corpus-{}-{size}.log", format.name()),
            Extent::Lines(lines) => format!("corpus-{}-{lines}-lines.log", format.name()),
            Extent::Days { events, days } => {
                format!("corpus-{}-{events}-events-{days}-days.log", format.name())
            }
        };
        let path = work_dir.join(name);
        let complete = match extent {
            Extent::Bytes(size) => has_generated_size(&path, size),
            Extent::Lines(lines) | Extent::Days { events: lines, .. } => {
                path.is_file() && count_lines(&path)? == lines
            }
        };
        if !complete {
            generate(shared_dir, format, extent, &path)?;
        }
        let bytes = std::fs::metadata(&path)
            .with_context(|| format!("cannot read the size of {}", path.display()))?
            .len();
        let lines = count_lines(&path)?;
        Ok(Corpus {
            path,
            format,
            extent,
            bytes,
            lines,
        })
    }

    /// How the input is named in reports, e.g. `json 256M`.
    pub fn describe(&self) -> String {
        format!("{} {}", self.format.name(), self.extent)
    }

    /// The corpus split into records, one per line, as a source would hand them over.
    pub fn records(&self) -> anyhow::Result<Vec<RawRecord>> {
        let text = std::fs::read(&self.path)
            .with_context(|| format!("cannot read {}", self.path.display()))?;
        Ok(text
            .split(|&byte| byte == b'\n')
            .filter(|line| !line.is_empty())
            .zip(1..)
            .map(|(line, number)| RawRecord::new(EventId(number), number, line.to_vec()))
            .collect())
    }

    /// The corpus parsed into events, in its own format, on one thread.
    pub fn events(&self) -> anyhow::Result<Vec<Event>> {
        let parser = self.parser();
        let source = source_name();
        let received = Timestamp::now();
        Ok(self
            .records()?
            .iter()
            .map(|record| parser.parse(record, &source, received))
            .collect())
    }

    /// A firewatch parser for this corpus's format.
    pub fn parser(&self) -> Parser {
        Parser::new(ParserConfig {
            format: self.format.parse_format(),
            ..ParserConfig::default()
        })
    }
}

/// The source name given to benchmark events.
pub fn source_name() -> Arc<str> {
    Arc::from("bench")
}

/// The generator stops after the first line that reaches the asked size,
/// so a complete file is at least that big and less than one line bigger.
fn has_generated_size(path: &Path, size: Size) -> bool {
    const LONGEST_LINE: u64 = 64 << 10;
    std::fs::metadata(path)
        .is_ok_and(|metadata| (size.0..size.0 + LONGEST_LINE).contains(&metadata.len()))
}

/// Generates into a temporary name and renames, so that an interrupted
/// generation is never mistaken for a corpus. Several generator runs (one
/// per day) append to the same file.
fn generate(
    shared_dir: &Path,
    format: CorpusFormat,
    extent: Extent,
    path: &Path,
) -> anyhow::Result<()> {
    let generator = shared_dir.join("bench/gen-corpus.py");
    let partial = path.with_extension("partial");
    eprintln!(
        "generating {} ({extent} of {}; about 2 minutes per GiB)",
        path.display(),
        format.name()
    );
    let output = std::fs::File::create(&partial)
        .with_context(|| format!("cannot create {}", partial.display()))?;
    for run_args in extent.generator_runs()? {
        let stdout = output
            .try_clone()
            .with_context(|| format!("cannot write {}", partial.display()))?;
        let status = Command::new("python3")
            .arg(&generator)
            .args(&run_args)
            .args(["--format", format.name(), "--out", "-"])
            .stdout(stdout)
            .status()
            .with_context(|| format!("cannot run python3 {}", generator.display()))?;
        if !status.success() {
            bail!(
                "{} {} failed ({status})",
                generator.display(),
                run_args.join(" ")
            );
        }
    }
    std::fs::rename(&partial, path)
        .with_context(|| format!("cannot rename {} to {}", partial.display(), path.display()))
}

fn count_lines(path: &Path) -> anyhow::Result<u64> {
    let mut file =
        std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut buffer = vec![0; 1 << 20];
    let mut lines = 0;
    loop {
        let read = file
            .read(&mut buffer)
            .with_context(|| format!("cannot read {}", path.display()))?;
        if read == 0 {
            return Ok(lines);
        }
        lines += buffer[..read].iter().filter(|&&byte| byte == b'\n').count() as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_binary_units_and_print_the_largest_exact_one() {
        for (text, bytes, shown) in [
            ("64M", 64 << 20, "64M"),
            ("1G", 1 << 30, "1G"),
            ("1gib", 1 << 30, "1G"),
            ("256MB", 256 << 20, "256M"),
            ("1024K", 1 << 20, "1M"),
            ("1000", 1000, "1000"),
        ] {
            let size: Size = text.parse().unwrap();
            assert_eq!(size, Size(bytes), "{text}");
            assert_eq!(size.to_string(), shown, "{text}");
        }
        for bad in ["", "0", "M", "1.5G", "-3M", "12T"] {
            assert!(bad.parse::<Size>().is_err(), "{bad}");
        }
    }

    #[test]
    fn counts_read_decimal_units() {
        for (text, count) in [("200k", 200_000), ("10M", 10_000_000), ("7", 7)] {
            assert_eq!(text.parse::<Count>(), Ok(Count(count)), "{text}");
        }
        for bad in ["", "0", "k", "1.5M", "-3"] {
            assert!(bad.parse::<Count>().is_err(), "{bad}");
        }
    }

    #[test]
    fn a_corpus_is_reused_only_at_its_generated_size() {
        let dir = tempfile::TempDir::new().unwrap();
        let path = dir.path().join("corpus.log");
        std::fs::write(&path, vec![b'x'; 1100]).unwrap();
        assert!(has_generated_size(&path, Size(1000)));
        assert!(has_generated_size(&path, Size(1100)));
        assert!(!has_generated_size(&path, Size(2000)));
        assert!(!has_generated_size(
            &dir.path().join("missing.log"),
            Size(1000)
        ));
    }

    #[test]
    fn records_are_numbered_lines_without_terminators() {
        let dir = tempfile::TempDir::new().unwrap();
        let path = dir.path().join("corpus.log");
        std::fs::write(&path, "{\"msg\":\"a\"}\n{\"msg\":\"b\"}\n").unwrap();
        let corpus = Corpus {
            path: path.clone(),
            format: CorpusFormat::Json,
            extent: Extent::Bytes(Size(24)),
            bytes: 24,
            lines: count_lines(&path).unwrap(),
        };
        let records = corpus.records().unwrap();
        assert_eq!(corpus.lines, 2);
        assert_eq!(records.len(), 2);
        assert_eq!(records[1].line, 2);
        assert_eq!(records[1].bytes, b"{\"msg\":\"b\"}");
        let events = corpus.events().unwrap();
        assert_eq!(events[0].message, "a");
    }

    #[test]
    fn a_days_corpus_has_one_generator_run_per_day_and_every_line() {
        let extent = Extent::Days {
            events: 10,
            days: 3,
        };
        let runs = extent.generator_runs().unwrap();
        let expected = [
            [
                "--lines",
                "4",
                "--start",
                "2024-10-11T00:00:00",
                "--seed",
                "42",
            ],
            [
                "--lines",
                "3",
                "--start",
                "2024-10-12T00:00:00",
                "--seed",
                "43",
            ],
            [
                "--lines",
                "3",
                "--start",
                "2024-10-13T00:00:00",
                "--seed",
                "44",
            ],
        ];
        assert_eq!(runs, expected);

        let work = tempfile::TempDir::new().unwrap();
        let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared");
        let corpus = Corpus::ensure(work.path(), &shared, CorpusFormat::Json, extent).unwrap();
        assert_eq!(corpus.lines, 10);
        assert!(corpus.path.ends_with("corpus-json-10-events-3-days.log"));
        assert_eq!(corpus.describe(), "json 10 events over 3 days");
        let days: Vec<String> = corpus
            .events()
            .unwrap()
            .iter()
            .map(|event| event.timestamp.unwrap().to_string()[..10].to_owned())
            .collect();
        assert_eq!(
            days,
            [
                ["2024-10-11"; 4].as_slice(),
                &["2024-10-12"; 3],
                &["2024-10-13"; 3]
            ]
            .concat()
        );
    }
}
