//! A quick single-threaded throughput figure per format. Ignored by default:
//! run it in release mode,
//! `cargo test --release -p firewatch-parse throughput -- --ignored --nocapture`.

use std::sync::Arc;
use std::time::Instant;

use firewatch_event::{EventId, RawRecord, Timestamp};

use crate::{Format, Parser, ParserConfig};

/// Megabytes of input parsed per format.
const MEGABYTES: usize = 64;

/// Makes the line with a given index of a synthetic log.
type LineMaker = fn(usize) -> String;

fn json_line(index: usize) -> String {
    format!(
        r#"{{"ts":"2026-11-26T10:{:02}:{:02}.{:03}Z","level":"{}","msg":"request finished in {} ms","service":"checkout","host":"web-{}","http":{{"method":"GET","path":"/api/orders/{}","status":{}}},"trace_id":"4bf92f3577b34da6a3ce929d0e0e{:04x}"}}"#,
        index / 60 % 60,
        index % 60,
        index % 1000,
        ["info", "warn", "error", "debug"][index % 4],
        index % 997,
        index % 16,
        index,
        [200, 404, 503][index % 3],
        index % 65536,
    )
}

fn syslog_line(index: usize) -> String {
    match index % 3 {
        0 => format!(
            "Dec 10 06:55:{:02} LabSZ sshd[{}]: Failed password for invalid user admin from 173.234.31.{} port {} ssh2",
            index % 60,
            24000 + index % 1000,
            index % 256,
            30000 + index % 30000,
        ),
        1 => format!(
            "<38>Jun 14 15:16:{:02} combo sshd(pam_unix)[{}]: authentication failure; logname= uid=0 euid=0 tty=NODEVssh ruser= rhost=218.188.2.{}",
            index % 60,
            19000 + index % 1000,
            index % 256,
        ),
        _ => format!(
            r#"<165>1 2026-11-26T10:00:{:02}.{:03}Z web-{}.example.com checkout {} ID47 [meta sequence="{}"] payment accepted for order {}"#,
            index % 60,
            index % 1000,
            index % 16,
            8000 + index % 1000,
            index,
            index,
        ),
    }
}

fn logfmt_line(index: usize) -> String {
    format!(
        r#"ts=2026-11-26T10:00:{:02}Z level={} msg="request finished" method=GET path=/api/orders/{} status={} duration={}ms host=web-{}"#,
        index % 60,
        ["info", "warn", "error"][index % 3],
        index,
        [200, 404, 503][index % 3],
        index % 997,
        index % 16,
    )
}

fn plain_line(index: usize) -> String {
    match index % 3 {
        0 => format!(
            "2015-10-18 18:01:47,{:03} INFO [main] org.apache.hadoop.mapreduce.v2.app.MRAppMaster: Created MRAppMaster for application appattempt_1445144423722_{:04}_000001",
            index % 1000,
            index % 10000,
        ),
        1 => format!(
            "081109 2036{:02} {} INFO dfs.DataNode$PacketResponder: PacketResponder 1 for block blk_{} terminating",
            index % 60,
            index % 1000,
            index,
        ),
        _ => format!(
            "[Sun Dec 04 04:47:{:02} 2005] [error] mod_jk child workerEnv in error state {}",
            index % 60,
            index % 10,
        ),
    }
}

#[test]
#[ignore = "a measurement, not a check: run in release mode"]
fn throughput() {
    let received: Timestamp = "2026-11-26T12:00:00Z".parse().expect("valid time");
    let source: Arc<str> = Arc::from("bench");
    let generators: [(Format, LineMaker); 4] = [
        (Format::Json, json_line),
        (Format::Syslog, syslog_line),
        (Format::Logfmt, logfmt_line),
        (Format::Plain, plain_line),
    ];
    for (format, line) in generators {
        let mut records = Vec::new();
        let mut bytes = 0;
        while bytes < MEGABYTES << 20 {
            let text = line(records.len());
            bytes += text.len() + 1;
            records.push(RawRecord::new(EventId(0), 1, text.into_bytes()));
        }
        for chosen in [format, Format::Auto] {
            let parser = Parser::new(ParserConfig {
                format: chosen,
                ..ParserConfig::default()
            });
            let started = Instant::now();
            let mut unparsed = 0;
            for record in &records {
                let event = parser.parse(record, &source, received);
                unparsed += usize::from(event.problem.unparsed);
            }
            let seconds = started.elapsed().as_secs_f64();
            assert_eq!(unparsed, 0, "{format} lines read as {chosen}");
            eprintln!(
                "{format:<7} lines as {chosen:<7}: {:>6.0} MB/s, {:>5.2} M lines/s ({} bytes per line)",
                bytes as f64 / seconds / 1e6,
                records.len() as f64 / seconds / 1e6,
                bytes / records.len(),
            );
        }
    }
}
