//! Indexing throughput: writes synthetic web and application log events
//! into a fresh data directory and reports documents and megabytes per
//! second.
//!
//! ```text
//! cargo run --release -p firewatch-index --example index_throughput -- [EVENTS] [WRITER_THREADS]
//! ```
//!
//! Events are generated before the clock starts; the figure covers
//! `add_event` for every event plus a commit every 100,000 events and a
//! final one, as the pipeline would do.

use std::time::Instant;

use firewatch_event::{Checkpoint, Event, EventId, FieldMap, Level, Position, Timestamp};
use firewatch_index::{IndexConfig, IndexReader, IndexWriter, SearchRequest};

const COMMIT_EVERY: usize = 100_000;

/// A small deterministic generator, so that runs compare.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, bound: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % bound
    }
}

const PATHS: [&str; 6] = [
    "/api/v1/orders",
    "/api/v1/orders/42/items",
    "/api/v1/users/me",
    "/static/app.js",
    "/health",
    "/api/v2/search?q=firewatch",
];
const HOSTS: [&str; 4] = ["web-01", "web-02", "web-03", "worker-01"];
const APP_MESSAGES: [&str; 5] = [
    "upstream connect error: Connection refused (ECONNREFUSED) while connecting to 10.0.3.17:5432",
    "request completed in 23ms user_id=8812 trace_id=4bf92f3577b34da6a3ce929d0e0e4736",
    "cache miss for key session:7d1f0c2e, falling back to database",
    "retrying payment capture attempt=2 order_id=ord_93jd83 reason=timeout",
    "worker heartbeat ok queue=emails depth=17 lag_ms=340",
];

fn synthetic_event(number: u64, random: &mut Lcg, start: Timestamp) -> (Event, usize) {
    let time = start
        .checked_add(jiff::SignedDuration::from_millis((number * 130) as i64))
        .unwrap_or(start);
    let host = HOSTS[random.below(HOSTS.len() as u64) as usize];
    let mut event = Event::new(
        EventId(number.wrapping_mul(0x9e37_79b9_7f4a_7c15)),
        "bench".into(),
        time,
    );
    event.timestamp = Some(time);
    event.line = number + 1;
    event.host = Some(host.to_owned());
    let mut fields = FieldMap::new();
    if number.is_multiple_of(3) {
        let level =
            [Level::Info, Level::Warn, Level::Error, Level::Debug][random.below(4) as usize];
        event.service = Some("orders".into());
        event.level = level;
        event.message = APP_MESSAGES[random.below(APP_MESSAGES.len() as u64) as usize].to_owned();
        fields.insert(
            "thread".into(),
            format!("worker-{}", random.below(16)).into(),
        );
        fields.insert("duration_ms".into(), random.below(2_000).into());
    } else {
        let status = [200, 200, 200, 201, 304, 404, 500, 502, 503][random.below(9) as usize];
        event.service = Some("nginx".into());
        event.level = if status >= 500 {
            Level::Error
        } else {
            Level::Info
        };
        let path = PATHS[random.below(PATHS.len() as u64) as usize];
        event.message = format!(
            "10.0.{}.{} - - \"GET {path} HTTP/1.1\" {status} {} \"-\" \"Mozilla/5.0 (X11; Linux x86_64)\"",
            random.below(255),
            random.below(255),
            random.below(90_000),
        );
        fields.insert("status".into(), status.into());
        fields.insert("method".into(), "GET".into());
        fields.insert("path".into(), path.into());
    }
    event.fields = fields;
    // What the raw line would weigh: the message plus its structured parts.
    let bytes = event.message.len() + host.len() + 40;
    (event, bytes)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut arguments = std::env::args().skip(1);
    let events: u64 = arguments
        .next()
        .map_or(Ok(1_000_000), |text| text.parse())?;
    let writer_threads: usize = arguments.next().map_or(Ok(1), |text| text.parse())?;

    let start: Timestamp = "2026-11-26T00:00:00Z".parse()?;
    let mut random = Lcg(7);
    let generated: Vec<(Event, usize)> = (0..events)
        .map(|number| synthetic_event(number, &mut random, start))
        .collect();
    let total_bytes: usize = generated.iter().map(|(_, bytes)| bytes).sum();

    let data_dir = tempfile::TempDir::new()?;
    let config = IndexConfig {
        writer_threads,
        ..IndexConfig::default()
    };
    let mut writer = IndexWriter::open(data_dir.path(), config)?;
    let mut checkpoint = Checkpoint::default();
    let clock = Instant::now();
    for (number, (event, _)) in generated.iter().enumerate() {
        writer.add_event(event, &[], false)?;
        if (number + 1).is_multiple_of(COMMIT_EVERY) {
            checkpoint.advance(
                "bench",
                Position {
                    stream: "synthetic".into(),
                    path: None,
                    offset: number as u64,
                    line: number as u64,
                },
            );
            writer.commit(&checkpoint)?;
        }
    }
    writer.commit(&checkpoint)?;
    let elapsed = clock.elapsed().as_secs_f64();
    drop(writer);

    let reader = IndexReader::open(data_dir.path())?;
    let indexed = reader.search(&SearchRequest {
        limit: 1,
        ..SearchRequest::default()
    })?;
    let disk: u64 = reader.days()?.iter().map(|day| day.bytes).sum();
    println!(
        "{events} events ({:.1} MB, {} days), writer_threads {writer_threads}: {:.2} s, {:.0} docs/s, {:.1} MB/s; {} indexed, {:.1} MB on disk",
        total_bytes as f64 / 1e6,
        reader.days()?.len(),
        elapsed,
        events as f64 / elapsed,
        total_bytes as f64 / 1e6 / elapsed,
        indexed.total_matches,
        disk as f64 / 1e6,
    );
    Ok(())
}
