//! How fast the miner groups messages.
//!
//! `cargo run --release -p firewatch-template --example throughput -- FILE...`
//!
//! Each file is parsed first (auto format, not timed); then one miner with
//! the default configuration sees every message of the file, and the time
//! of those `add` calls alone gives the lines per second. Prints the
//! template count too, a quick check that variables are masked.

use std::sync::Arc;
use std::time::Instant;

use firewatch_event::{EventId, RawRecord, Timestamp};
use firewatch_parse::{Format, Parser, ParserConfig};
use firewatch_template::{MinerConfig, TemplateMiner};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let parser = Parser::new(ParserConfig {
        format: Format::Auto,
        ..ParserConfig::default()
    });
    let source: Arc<str> = Arc::from("bench");
    let received = Timestamp::now();
    println!(
        "{:<40} {:>9} {:>10} {:>12} {:>10}",
        "file", "lines", "templates", "lines/s", "ns/line"
    );
    for path in std::env::args().skip(1) {
        let text = std::fs::read_to_string(&path)?;
        let messages: Vec<String> = text
            .lines()
            .enumerate()
            .map(|(index, line)| {
                let number = index as u64 + 1;
                let record = RawRecord::new(EventId(number), number, line.as_bytes().to_vec());
                parser.parse(&record, &source, received).message
            })
            .collect();
        let mut miner = TemplateMiner::new(MinerConfig::default());
        let started = Instant::now();
        for message in &messages {
            std::hint::black_box(miner.add(message).id);
        }
        let elapsed = started.elapsed();
        let name = std::path::Path::new(&path)
            .file_name()
            .map_or(path.clone(), |name| name.to_string_lossy().into_owned());
        println!(
            "{name:<40} {:>9} {:>10} {:>12.0} {:>10.0}",
            messages.len(),
            miner.len(),
            messages.len() as f64 / elapsed.as_secs_f64(),
            elapsed.as_nanos() as f64 / messages.len().max(1) as f64,
        );
    }
    Ok(())
}
