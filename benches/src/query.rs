//! `query`: what a user waits for when searching a week of logs. The release
//! binary indexes a corpus of 10 million JSON events over 7 days once (day
//! indexes, as `firewatch run` writes them, kept in the scratch directory and
//! reused while they hold every line), then each command of [`QUERIES`] runs
//! [`Bench::query_repeat`] times as a user would run it, process start
//! included; its row gives the median and the 99th percentile beside its
//! target. `firewatch --version` is a row of its own: the cost of starting
//! the process, which every other row includes.
//!
//! The runs of a row differ (another day, hour, word or event id each time,
//! chosen from the run's number), so that no run answers from a cache a
//! previous one filled, other than the page cache; one untimed run per row
//! comes first. tantivy-cli indexes the same documents in the same run, for
//! the index size per raw GiB.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use jiff::{SignedDuration, Timestamp};
use serde_json::Value;

use crate::Bench;
use crate::corpus::{Corpus, first_day};
use crate::external::External;
use crate::report::{IndexSize, Latency, StageRows};
use crate::run::{TANTIVY_THREADS, firewatch_binary, index_with_firewatch, indexed_events};
use crate::scratch::directory_bytes;
use crate::tantivy_cli;

const STAGE: &str = "query";

/// Keyword rules of the indexing pipeline: the first phrases of the shared
/// list, enough to open incidents as a real pipeline would.
const RULES: usize = 10;

/// Words of the term query, taken in turn.
const TERMS: [&str; 7] = [
    "timeout",
    "refused",
    "deadlock",
    "failed",
    "denied",
    "checkpoint",
    "error",
];

/// Phrases of the phrase query, taken in turn.
const PHRASES: [&str; 6] = [
    "connection refused",
    "timed out",
    "no space left",
    "handshake failed",
    "deadlock detected",
    "out of memory",
];

/// One latency row: its name, the most its p99 should be, what varies
/// between its runs, and firewatch's arguments for run `run` (from 0).
struct Query {
    name: &'static str,
    target: Option<Duration>,
    varies: &'static str,
    args: fn(&Plan, usize) -> Vec<String>,
}

/// The rows, in order. Another command is one more line here.
const QUERIES: [Query; 7] = [
    Query {
        name: "process start: firewatch --version",
        target: None,
        varies: "nothing",
        args: |_, _| vec!["--version".into()],
    },
    Query {
        name: "term, 1 h window",
        target: Some(Duration::from_millis(100)),
        varies: "day, hour and word",
        args: Plan::term_in_hour,
    },
    Query {
        name: "phrase, all days",
        target: Some(Duration::from_millis(100)),
        varies: "phrase",
        args: Plan::phrase,
    },
    Query {
        name: "--count-by service, 1 day",
        target: Some(Duration::from_millis(300)),
        varies: "day",
        args: Plan::count_by_service,
    },
    Query {
        name: "--histogram 1m, 1 day",
        target: Some(Duration::from_millis(300)),
        varies: "day",
        args: Plan::histogram,
    },
    Query {
        name: "context, 50 before and after",
        target: None,
        varies: "error event of each day",
        args: Plan::context,
    },
    Query {
        name: "incidents explain",
        target: Some(Duration::from_secs(2)),
        varies: "incident",
        args: Plan::explain,
    },
];

/// Indexes the query corpus with firewatch (unless done) and tantivy-cli,
/// then times every query.
pub fn bench(bench: &Bench) -> anyhow::Result<StageRows> {
    let corpus = bench.query_corpus()?;
    let firewatch = firewatch_binary(bench)?;
    let mut rows = StageRows::default();

    let (tantivy_row, tantivy_bytes) =
        tantivy_cli::measure(bench, STAGE, &corpus, TANTIVY_THREADS, 1)?;
    let data_dir = bench.work_dir.join(data_dir_name(&corpus)?);
    if data_dir.is_dir() && indexed_events(&firewatch, &data_dir)? == corpus.lines {
        eprintln!(
            "reusing the firewatch index in {} ({} events)",
            data_dir.display(),
            corpus.lines
        );
        rows.throughput.push(tantivy_row.clone());
    } else {
        let firewatch_row =
            index_with_firewatch(bench, &firewatch, STAGE, &corpus, RULES, &data_dir, 1)?
                .compared_to(&tantivy_row);
        rows.throughput.extend([tantivy_row.clone(), firewatch_row]);
    }
    let tantivy_size = IndexSize::new(STAGE, "tantivy-cli", &corpus, tantivy_bytes);
    let firewatch_size = IndexSize::new(
        STAGE,
        "firewatch data directory",
        &corpus,
        directory_bytes(&data_dir)?,
    )
    .compared_to(&tantivy_size);
    rows.index_sizes.extend([tantivy_size, firewatch_size]);

    let runs = bench.query_repeat();
    let plan = Plan::discover(&firewatch, &data_dir, &bench.work_dir, runs)?;
    for query in &QUERIES {
        rows.latency
            .push(time_query(bench, &firewatch, &plan, &corpus, query, runs)?);
    }
    Ok(rows)
}

/// The data directory's name: the corpus's, so that another `--events`
/// gets an index of its own.
fn data_dir_name(corpus: &Corpus) -> anyhow::Result<String> {
    let stem = corpus
        .path
        .file_stem()
        .with_context(|| format!("{} has no file name", corpus.path.display()))?;
    Ok(format!("query-data-{}", stem.to_string_lossy()))
}

/// Runs `query` once untimed, then `runs` times timed.
fn time_query(
    bench: &Bench,
    firewatch: &Path,
    plan: &Plan,
    corpus: &Corpus,
    query: &Query,
    runs: usize,
) -> anyhow::Result<Latency> {
    let command = |run: usize| {
        External::new(firewatch)
            .args((query.args)(plan, run))
            .capture_stdout()
    };
    command(0).run(&bench.work_dir)?;
    let mut times = Vec::with_capacity(runs);
    let mut peak_rss = None;
    let mut matches = Vec::new();
    for run in 0..runs {
        let finished = command(run).run(&bench.work_dir)?;
        times.push(finished.elapsed);
        peak_rss = peak_rss.max(finished.peak_rss_bytes);
        matches.extend(matching_events(&finished.stdout));
    }
    let mut note = format!("varies: {}", query.varies);
    if !matches.is_empty() {
        matches.sort_unstable();
        note.push_str(&format!(
            "; matching events: median {}, {} to {}",
            matches[matches.len() / 2],
            matches[0],
            matches[matches.len() - 1]
        ));
    }
    Ok(
        Latency::new(STAGE, query.name, corpus, &times, command(0).command_line())?
            .with_target(query.target)
            .with_peak_rss(peak_rss)
            .with_note(note),
    )
}

/// The total of `firewatch search`'s last line, `-- 100 shown of 2345
/// matching events`; `None` for other output.
fn matching_events(stdout: &[u8]) -> Option<u64> {
    let text = String::from_utf8_lossy(stdout);
    let last = text.lines().last()?;
    let total = last
        .strip_prefix("-- ")?
        .strip_suffix(" matching events")?
        .rsplit(' ')
        .next()?;
    total.parse().ok()
}

/// What the queries are about, found in the index before the clock starts:
/// the days, how many hours of each hold events, and events to show the
/// context of.
#[derive(Debug)]
struct Plan {
    data_dir: PathBuf,
    /// Midnight (UTC) of each day of the corpus.
    days: Vec<Timestamp>,
    /// Whole hours from each day's midnight to its last event (at least 1).
    hours: Vec<u32>,
    /// Ids of error events of each day, from halfway to its last event on.
    event_ids: Vec<Vec<String>>,
    /// Ids of the incidents the indexing run opened.
    incident_ids: Vec<String>,
}

impl Plan {
    /// Asks the index (with `firewatch search --json`) for each day's last
    /// event and for error events of each day, enough for `runs` runs.
    fn discover(
        firewatch: &Path,
        data_dir: &Path,
        work_dir: &Path,
        runs: usize,
    ) -> anyhow::Result<Plan> {
        let mut plan = Plan {
            data_dir: data_dir.to_owned(),
            days: Vec::new(),
            hours: Vec::new(),
            event_ids: Vec::new(),
            incident_ids: Vec::new(),
        };
        let first = first_day()?;
        let day_count = crate::QUERY_DAYS;
        let ids_per_day = runs.div_ceil(day_count as usize).to_string();
        for day in 0..day_count {
            let midnight = first.checked_add(SignedDuration::from_hours(24 * i64::from(day)))?;
            let end = midnight.checked_add(SignedDuration::from_hours(24))?;
            let range = |since: Timestamp| {
                ["--since".into(), since.to_string()]
                    .into_iter()
                    .chain(["--until".into(), end.to_string()])
            };
            let last = search_json(
                firewatch,
                work_dir,
                plan.search(
                    "*",
                    range(midnight).chain(["--reverse", "--limit", "1"].map(String::from)),
                ),
            )?;
            let last = last
                .first()
                .and_then(|event| event["timestamp"].as_str())
                .with_context(|| format!("no event on {midnight} in {}", data_dir.display()))?;
            let last: Timestamp = last
                .parse()
                .with_context(|| format!("unreadable event time {last:?}"))?;
            let hours = (last.duration_since(midnight).as_hours()).clamp(1, 24) as u32;

            let middle = midnight.checked_add(last.duration_since(midnight) / 2)?;
            let errors = search_json(
                firewatch,
                work_dir,
                plan.search(
                    "level:error",
                    range(middle).chain(["--limit".to_owned(), ids_per_day.clone()]),
                ),
            )?;
            let ids: Vec<String> = errors
                .iter()
                .filter_map(|event| match &event["id"] {
                    Value::String(id) => Some(id.clone()),
                    Value::Number(id) => Some(id.to_string()),
                    _ => None,
                })
                .collect();
            if ids.is_empty() {
                bail!("no error event after {middle} to show the context of");
            }
            plan.days.push(midnight);
            plan.hours.push(hours);
            plan.event_ids.push(ids);
        }
        let incidents = search_json(
            firewatch,
            work_dir,
            ["incidents".to_owned(), "list".to_owned()]
                .into_iter()
                .chain(plan.data_dir_args())
                .collect(),
        )?;
        plan.incident_ids = incidents
            .iter()
            .filter_map(|incident| incident["id"].as_str().map(str::to_owned))
            .collect();
        if plan.incident_ids.is_empty() {
            bail!("no incident in {} to explain", data_dir.display());
        }
        Ok(plan)
    }

    /// `search QUERY ARGS... --data-dir DIR`.
    fn search(&self, query: &str, args: impl IntoIterator<Item = String>) -> Vec<String> {
        ["search".to_owned(), query.to_owned()]
            .into_iter()
            .chain(args)
            .chain(self.data_dir_args())
            .collect()
    }

    fn data_dir_args(&self) -> [String; 2] {
        [
            "--data-dir".to_owned(),
            self.data_dir.to_string_lossy().into_owned(),
        ]
    }

    /// The day of run `run`: each in turn.
    fn day(&self, run: usize) -> usize {
        run % self.days.len()
    }

    /// `--since T --until T+length`.
    fn window(since: Timestamp, length: SignedDuration) -> Vec<String> {
        let until = since.checked_add(length).unwrap_or(since);
        vec![
            "--since".into(),
            since.to_string(),
            "--until".into(),
            until.to_string(),
        ]
    }

    /// A word in one hour: each day in turn, then the next hour of every
    /// day, the word moving on with both.
    fn term_in_hour(&self, run: usize) -> Vec<String> {
        let day = self.day(run);
        let round = run / self.days.len();
        let hour = (round % self.hours[day] as usize) as i64;
        let term = TERMS[(run + round) % TERMS.len()];
        let since = self.days[day]
            .checked_add(SignedDuration::from_hours(hour))
            .unwrap_or(self.days[day]);
        self.search(term, Self::window(since, SignedDuration::from_hours(1)))
    }

    /// A quoted phrase over every day.
    fn phrase(&self, run: usize) -> Vec<String> {
        self.search(&format!("\"{}\"", PHRASES[run % PHRASES.len()]), [])
    }

    /// Every event of one day, counted by service.
    fn count_by_service(&self, run: usize) -> Vec<String> {
        let window = Self::window(self.days[self.day(run)], SignedDuration::from_hours(24));
        self.search(
            "*",
            ["--count-by", "service"]
                .map(String::from)
                .into_iter()
                .chain(window),
        )
    }

    /// Every event of one day, per minute.
    fn histogram(&self, run: usize) -> Vec<String> {
        let window = Self::window(self.days[self.day(run)], SignedDuration::from_hours(24));
        self.search(
            "*",
            ["--histogram", "1m"]
                .map(String::from)
                .into_iter()
                .chain(window),
        )
    }

    /// The 50 lines before and after an error event of one day.
    fn context(&self, run: usize) -> Vec<String> {
        let ids = &self.event_ids[self.day(run)];
        let id = &ids[(run / self.days.len()) % ids.len()];
        ["context".to_owned(), id.clone()]
            .into_iter()
            .chain(self.data_dir_args())
            .collect()
    }

    /// `incidents explain ID` of one of the incidents, another each run.
    fn explain(&self, run: usize) -> Vec<String> {
        let id = &self.incident_ids[run % self.incident_ids.len()];
        ["incidents".to_owned(), "explain".to_owned(), id.clone()]
            .into_iter()
            .chain(self.data_dir_args())
            .collect()
    }
}

/// The events `firewatch ARGS --json` prints, one JSON object per line.
fn search_json(firewatch: &Path, work_dir: &Path, args: Vec<String>) -> anyhow::Result<Vec<Value>> {
    let command = External::new(firewatch)
        .args(args)
        .args(["--json"])
        .capture_stdout();
    let finished = command.run(work_dir)?;
    String::from_utf8_lossy(&finished.stdout)
        .lines()
        .map(|line| {
            serde_json::from_str(line)
                .with_context(|| format!("`{}` printed {line:?}", command.command_line()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan() -> Plan {
        let first = first_day().unwrap();
        Plan {
            data_dir: "/data".into(),
            days: (0..7)
                .map(|day| {
                    first
                        .checked_add(SignedDuration::from_hours(24 * day))
                        .unwrap()
                })
                .collect(),
            hours: vec![7, 7, 7, 7, 7, 7, 1],
            event_ids: vec![vec!["a".into(), "b".into()]; 7],
            incident_ids: vec!["i1".into(), "i2".into()],
        }
    }

    #[test]
    fn explain_takes_each_incident_in_turn() {
        let plan = plan();
        assert_eq!(
            plan.explain(1),
            ["incidents", "explain", "i2", "--data-dir", "/data"]
        );
        assert_eq!(plan.explain(2)[2], "i1");
    }

    #[test]
    fn term_queries_move_through_days_hours_and_words() {
        let plan = plan();
        assert_eq!(
            plan.term_in_hour(0),
            [
                "search",
                "timeout",
                "--since",
                "2024-10-11T00:00:00Z",
                "--until",
                "2024-10-11T01:00:00Z",
                "--data-dir",
                "/data"
            ]
        );
        let eighth = plan.term_in_hour(8);
        assert_eq!(eighth[1], "deadlock");
        assert_eq!(eighth[3], "2024-10-12T01:00:00Z");
        // The last day has one hour of events: every run stays in it.
        assert_eq!(plan.term_in_hour(13)[3], "2024-10-17T00:00:00Z");
        let windows: std::collections::HashSet<String> = (0..42)
            .map(|run| plan.term_in_hour(run)[3].clone())
            .collect();
        assert_eq!(windows.len(), 6 * 6 + 1);
    }

    #[test]
    fn day_queries_cover_one_day_and_context_takes_each_day_s_events() {
        let plan = plan();
        let histogram = plan.histogram(3);
        assert_eq!(
            histogram[2..8],
            [
                "--histogram",
                "1m",
                "--since",
                "2024-10-14T00:00:00Z",
                "--until",
                "2024-10-15T00:00:00Z"
            ]
        );
        assert_eq!(
            plan.count_by_service(0)[1..4],
            ["*", "--count-by", "service"]
        );
        assert_eq!(plan.phrase(1)[1], "\"timed out\"");
        assert_eq!(plan.context(0), ["context", "a", "--data-dir", "/data"]);
        assert_eq!(plan.context(7)[1], "b");
        assert_eq!(plan.context(14)[1], "a");
    }

    #[test]
    fn search_totals_come_from_the_last_line() {
        assert_eq!(
            matching_events(b"... rows ...\n-- 100 shown of 2345 matching events\n"),
            Some(2345)
        );
        assert_eq!(matching_events(b"SERVICE  COUNT\nnginx 3\n"), None);
        assert_eq!(matching_events(b""), None);
    }
}
