//! Counts, histograms, context, day statistics and retention, on real
//! tantivy indexes in temporary directories.

use std::path::Path;

use firewatch_event::{Checkpoint, Event, EventId, Level, Timestamp};
use jiff::SignedDuration;
use jiff::civil::Date;
use tempfile::TempDir;

use crate::retention::remove_days_older_than;
use crate::{IndexConfig, IndexError, IndexReader, IndexWriter, SearchRequest};

fn at(text: &str) -> Timestamp {
    text.parse().unwrap()
}

fn date(text: &str) -> Date {
    text.parse().unwrap()
}

/// An event of `source` on `host` at `time`, line `line` of its stream.
fn event(id: u64, source: &str, host: Option<&str>, line: u64, time: &str) -> Event {
    let mut event = Event::new(EventId(id), source.into(), at(time));
    event.timestamp = Some(at(time));
    event.line = line;
    event.host = host.map(str::to_owned);
    event.service = Some("api".into());
    event.level = Level::Info;
    event.message = format!("line {line} of {source}");
    event
}

/// Writes `events` in one commit round.
fn write_all(dir: &Path, events: &[Event]) {
    let mut writer = IndexWriter::open(dir, IndexConfig::default()).unwrap();
    for event in events {
        writer.add_event(event, &[], false).unwrap();
    }
    writer.commit(&Checkpoint::default()).unwrap();
}

fn request(query: &str) -> SearchRequest {
    SearchRequest {
        query: query.into(),
        ..SearchRequest::default()
    }
}

/// A deterministic pseudo-random source (xorshift): `next(n)` is below `n`.
fn scatter(seed: u64) -> impl FnMut(u64) -> u64 {
    let mut state = seed;
    move |below| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state % below
    }
}

#[test]
fn count_by_gives_exact_top_values_across_days_and_types() {
    let dir = TempDir::new().unwrap();
    let mut events = Vec::new();
    for (id, host, time) in [
        (1, Some("web-01"), "2026-11-25T23:59:59Z"),
        (2, Some("web-01"), "2026-11-26T00:00:01Z"),
        (3, Some("web-01"), "2026-11-26T00:00:02Z"),
        (4, Some("web-02"), "2026-11-26T00:00:03Z"),
        (5, Some("web-02"), "2026-11-25T12:00:00Z"),
        (6, None, "2026-11-26T00:00:04Z"),
    ] {
        events.push(event(id, "app", host, id, time));
    }
    let status = |event: &mut Event, value: serde_json::Value| {
        event.fields.insert("status".into(), value);
    };
    status(&mut events[0], serde_json::json!(503));
    status(&mut events[1], serde_json::json!(503));
    status(&mut events[2], serde_json::json!("503"));
    status(&mut events[3], serde_json::json!(200));
    events[4].level = Level::Error;
    write_all(dir.path(), &events);
    let reader = IndexReader::open(dir.path()).unwrap();

    let hosts = reader.count_by(&request("*"), "host", 10).unwrap();
    assert_eq!(
        hosts.values,
        [("web-01".to_owned(), 3), ("web-02".to_owned(), 2)]
    );
    assert_eq!((hosts.distinct, hosts.matches, hosts.missing), (2, 6, 1));

    let top = reader.count_by(&request("*"), "host", 1).unwrap();
    assert_eq!(top.values, [("web-01".to_owned(), 3)]);
    assert_eq!(top.distinct, 2, "distinct counts values past the limit");

    // A number and a string that read the same are one value.
    let statuses = reader.count_by(&request("*"), "fields.status", 10).unwrap();
    assert_eq!(
        statuses.values,
        [("503".to_owned(), 3), ("200".to_owned(), 1)]
    );
    assert_eq!(statuses.missing, 2);

    let since = SearchRequest {
        since: Some(at("2026-11-26T00:00:00Z")),
        ..request("level:info")
    };
    let levels = reader.count_by(&since, "host", 10).unwrap();
    assert_eq!(
        levels.values,
        [("web-01".to_owned(), 2), ("web-02".to_owned(), 1)]
    );
    let levels = reader.count_by(&request("*"), "level", 10).unwrap();
    assert_eq!(
        levels.values,
        [("info".to_owned(), 5), ("error".to_owned(), 1)]
    );

    // `min_level` keeps that level and above.
    let warn = SearchRequest {
        filters: vec![("min_level".into(), "WARNING".into())],
        ..request("*")
    };
    let hosts = reader.count_by(&warn, "host", 10).unwrap();
    assert_eq!(hosts.values, [("web-02".to_owned(), 1)]);
    let bad = SearchRequest {
        filters: vec![("min_level".into(), "loud".into())],
        ..request("*")
    };
    assert!(matches!(
        reader.count_by(&bad, "host", 10),
        Err(IndexError::InvalidFilter { .. })
    ));

    for field in ["message", "fields.", "timestamp"] {
        assert!(matches!(
            reader.count_by(&request("*"), field, 10),
            Err(IndexError::InvalidAggregation(_))
        ));
    }
}

#[test]
fn histogram_buckets_are_aligned_and_include_empty_ones() {
    let dir = TempDir::new().unwrap();
    let events: Vec<Event> = [
        "2026-11-26T10:00:05Z",
        "2026-11-26T10:00:59.999999Z",
        "2026-11-26T10:01:00Z",
        "2026-11-26T10:03:30Z",
    ]
    .iter()
    .enumerate()
    .map(|(index, time)| event(index as u64 + 1, "app", Some("web-01"), index as u64, time))
    .collect();
    write_all(dir.path(), &events);
    let reader = IndexReader::open(dir.path()).unwrap();
    let minute = SignedDuration::from_mins(1);
    let shown = |buckets: Vec<(Timestamp, u64)>| -> Vec<(String, u64)> {
        buckets
            .into_iter()
            .map(|(start, count)| (start.to_string(), count))
            .collect()
    };

    assert_eq!(
        shown(reader.histogram(&request("*"), minute).unwrap()),
        [
            ("2026-11-26T10:00:00Z".to_owned(), 2),
            ("2026-11-26T10:01:00Z".to_owned(), 1),
            ("2026-11-26T10:02:00Z".to_owned(), 0),
            ("2026-11-26T10:03:00Z".to_owned(), 1),
        ]
    );

    // The range decides the buckets; `until` is exclusive.
    let ranged = SearchRequest {
        since: Some(at("2026-11-26T09:58:30Z")),
        until: Some(at("2026-11-26T10:01:00Z")),
        ..request("*")
    };
    assert_eq!(
        shown(reader.histogram(&ranged, minute).unwrap()),
        [
            ("2026-11-26T09:58:00Z".to_owned(), 0),
            ("2026-11-26T09:59:00Z".to_owned(), 0),
            ("2026-11-26T10:00:00Z".to_owned(), 2),
        ]
    );

    assert!(
        reader
            .histogram(&request("nothing"), minute)
            .unwrap()
            .is_empty()
    );
    assert!(matches!(
        reader.histogram(&request("*"), SignedDuration::ZERO),
        Err(IndexError::InvalidAggregation(_))
    ));
    let year = SearchRequest {
        since: Some(at("2026-01-01T00:00:00Z")),
        until: Some(at("2027-01-01T00:00:00Z")),
        ..request("*")
    };
    assert!(matches!(
        reader.histogram(&year, SignedDuration::from_secs(1)),
        Err(IndexError::InvalidAggregation(_))
    ));
}

#[test]
fn counts_and_histogram_agree_with_a_naive_count_of_the_events() {
    let dir = TempDir::new().unwrap();
    // A deterministic scatter over two days, written in two commits (two
    // segments per day), some events without host or status.
    let mut next = scatter(0x2545_f491_4f6c_dd1d);
    let start = at("2026-11-25T22:00:00Z");
    let mut events = Vec::new();
    for id in 1..=600 {
        let time = start
            .checked_add(SignedDuration::from_millis(next(4 * 3600 * 1000) as i64))
            .unwrap();
        let host = ["web-01", "web-02", "web-03"]
            .get(next(4) as usize)
            .copied();
        let mut event = event(id, "app", host, id, &time.to_string());
        // Hundreds of long values: a dictionary of several blocks.
        event.fields.insert(
            "trace".into(),
            serde_json::json!(format!("trace-{:040}", id % 450)),
        );
        if next(3) > 0 {
            event.fields.insert(
                "status".into(),
                serde_json::json!([200, 404, 503][next(3) as usize]),
            );
        }
        events.push(event);
    }
    write_all(dir.path(), &events[..300]);
    write_all(dir.path(), &events[300..]);
    let reader = IndexReader::open(dir.path()).unwrap();

    let naive = |value: &dyn Fn(&Event) -> Option<String>| {
        let mut counts = std::collections::BTreeMap::<String, u64>::new();
        for event in &events {
            if let Some(value) = value(event) {
                *counts.entry(value).or_insert(0) += 1;
            }
        }
        counts
    };
    let counted = |field: &str| -> std::collections::BTreeMap<String, u64> {
        let counts = reader.count_by(&request("*"), field, 100).unwrap();
        assert_eq!(counts.matches, 600);
        counts.values.into_iter().collect()
    };
    assert_eq!(counted("host"), naive(&|event| event.host.clone()));
    let counts = reader
        .count_by(&request("*"), "fields.trace", 1000)
        .unwrap();
    assert_eq!(counts.distinct, 450);
    assert_eq!(
        counts
            .values
            .into_iter()
            .collect::<std::collections::BTreeMap<_, _>>(),
        naive(&|event| event.fields["trace"].as_str().map(str::to_owned))
    );
    assert_eq!(
        counted("fields.status"),
        naive(&|event| event.fields.get("status").map(|status| status.to_string()))
    );

    let bucket = SignedDuration::from_mins(7);
    let width = bucket.as_nanos() as i64;
    let histogram = reader.histogram(&request("*"), bucket).unwrap();
    let naive_buckets = naive(&|event| {
        let nanos = event.time().as_nanosecond() as i64;
        Some(format!("{:012}", nanos.div_euclid(width)))
    });
    let first = histogram[0].0.as_nanosecond() as i64 / width;
    for (index, (start, count)) in histogram.iter().enumerate() {
        let key = format!("{:012}", first + index as i64);
        assert_eq!(start.as_nanosecond() as i64 % width, 0, "aligned");
        assert_eq!(
            *count,
            naive_buckets.get(&key).copied().unwrap_or(0),
            "{start}"
        );
    }
    assert_eq!(histogram.iter().map(|(_, count)| count).sum::<u64>(), 600);
}

#[test]
fn a_timeline_agrees_with_histograms_and_searches_on_either_side_of_the_split() {
    let dir = TempDir::new().unwrap();
    // Whole minutes over two hours across midnight, so that events share
    // a time and the first of a bucket is decided by line, then id.
    let mut next = scatter(0x9e37_79b9_7f4a_7c15);
    let start = at("2026-11-25T23:00:00Z");
    let events: Vec<Event> = (1..=500)
        .map(|id| {
            let time = start
                .checked_add(SignedDuration::from_mins(next(120) as i64))
                .unwrap();
            let mut event = event(
                1000 - id,
                "app",
                Some("web-01"),
                next(50),
                &time.to_string(),
            );
            if next(2) == 0 {
                event.message = format!("disk failure {id}");
            }
            event
        })
        .collect();
    write_all(dir.path(), &events[..250]);
    write_all(dir.path(), &events[250..]);
    let reader = IndexReader::open(dir.path()).unwrap();

    let bucket = SignedDuration::from_mins(10);
    let (since, split, until) = (
        at("2026-11-25T23:07:30Z"),
        at("2026-11-25T23:52:30Z"),
        at("2026-11-26T00:41:00Z"),
    );
    let ranged = |since, until| SearchRequest {
        since: Some(since),
        until: Some(until),
        ..request("disk")
    };
    // Two questions over one window: each gets its own timeline.
    let mut timelines = reader
        .timelines(
            since..until,
            split,
            bucket,
            &[request("*"), request("disk")],
        )
        .unwrap();
    let timeline = timelines.pop().unwrap();
    let everything = timelines.pop().unwrap();
    let total = |timeline: &crate::Timeline| {
        timeline.before.iter().map(|(_, count)| count).sum::<u64>()
            + timeline
                .after
                .iter()
                .map(|bucket| bucket.count)
                .sum::<u64>()
    };
    let in_window = |query: &str| {
        reader
            .search(&SearchRequest {
                limit: 0,
                since: Some(since),
                until: Some(until),
                ..request(query)
            })
            .unwrap()
            .total_matches
    };
    assert_eq!(total(&everything), in_window("*"));
    assert_eq!(total(&timeline), in_window("disk"));
    assert!(total(&timeline) < total(&everything));

    let non_empty = |buckets: Vec<(Timestamp, u64)>| -> Vec<(Timestamp, u64)> {
        buckets
            .into_iter()
            .filter(|(_, count)| *count > 0)
            .collect()
    };
    assert_eq!(
        timeline.before,
        non_empty(reader.histogram(&ranged(since, split), bucket).unwrap())
    );
    let after: Vec<(Timestamp, u64)> = timeline
        .after
        .iter()
        .map(|bucket| (bucket.start, bucket.count))
        .collect();
    assert_eq!(
        after,
        non_empty(reader.histogram(&ranged(split, until), bucket).unwrap())
    );
    assert!(timeline.after.len() > 3, "buckets on both days");

    for found in &timeline.after {
        let end = found.start.checked_add(bucket).unwrap().min(until);
        let first = reader
            .search(&SearchRequest {
                limit: 1,
                ..ranged(found.start.max(split), end)
            })
            .unwrap()
            .hits
            .remove(0);
        assert_eq!(reader.first_in(&timeline, found).unwrap(), first);
    }
}

fn lines(hits: &[crate::EventHit]) -> Vec<u64> {
    hits.iter().map(|hit| hit.event.line).collect()
}

#[test]
fn context_gives_exact_neighbours_of_the_same_source_and_host() {
    let dir = TempDir::new().unwrap();
    let mut events = Vec::new();
    // Lines 1-3 on the day before, 4-6 at one second (ties), 7-9 after.
    let times = [
        "2026-11-25T23:59:58Z",
        "2026-11-25T23:59:59Z",
        "2026-11-25T23:59:59.5Z",
        "2026-11-26T00:00:01Z",
        "2026-11-26T00:00:01Z",
        "2026-11-26T00:00:01Z",
        "2026-11-26T00:00:02Z",
        "2026-11-26T00:00:03Z",
        "2026-11-26T00:00:04Z",
    ];
    // Written out of order: ids do not follow lines either.
    for (index, time) in times.iter().enumerate().rev() {
        let line = index as u64 + 1;
        events.push(event(100 - line, "app", Some("web-01"), line, time));
    }
    // Same time, other host or other source, or no host: never neighbours.
    events.push(event(1, "app", Some("web-02"), 5, "2026-11-26T00:00:01Z"));
    events.push(event(2, "other", Some("web-01"), 5, "2026-11-26T00:00:01Z"));
    events.push(event(3, "app", None, 1, "2026-11-26T00:00:00Z"));
    events.push(event(4, "app", None, 2, "2026-11-26T00:00:05Z"));
    write_all(dir.path(), &events);
    let reader = IndexReader::open(dir.path()).unwrap();

    let middle = reader.context(EventId(95), 2, 2).unwrap().unwrap();
    assert_eq!(middle.event.event.line, 5);
    assert_eq!(lines(&middle.before), [3, 4]);
    assert_eq!(lines(&middle.after), [6, 7]);

    let across = reader.context(EventId(96), 3, 1).unwrap().unwrap();
    assert_eq!(lines(&across.before), [1, 2, 3], "across the day boundary");
    assert_eq!(lines(&across.after), [5]);

    let wide = reader.context(EventId(95), 50, 50).unwrap().unwrap();
    assert_eq!(lines(&wide.before), [1, 2, 3, 4]);
    assert_eq!(lines(&wide.after), [6, 7, 8, 9]);

    let none = reader.context(EventId(94), 0, 0).unwrap().unwrap();
    assert!(none.before.is_empty() && none.after.is_empty());

    let hostless = reader.context(EventId(3), 5, 5).unwrap().unwrap();
    assert!(hostless.before.is_empty());
    assert_eq!(
        hostless
            .after
            .iter()
            .map(|hit| hit.event.id.0)
            .collect::<Vec<_>>(),
        [4]
    );

    assert!(reader.context(EventId(12345), 1, 1).unwrap().is_none());
}

#[test]
fn day_statistics_count_documents_and_segments() {
    let dir = TempDir::new().unwrap();
    write_all(
        dir.path(),
        &[
            event(1, "app", Some("web-01"), 1, "2026-11-25T10:00:00Z"),
            event(2, "app", Some("web-01"), 2, "2026-11-26T10:00:00Z"),
            event(3, "app", Some("web-01"), 3, "2026-11-26T11:00:00Z"),
        ],
    );
    write_all(
        dir.path(),
        &[event(4, "app", Some("web-01"), 4, "2026-11-26T12:00:00Z")],
    );
    let days = IndexReader::open(dir.path()).unwrap().days().unwrap();
    let summary: Vec<(Date, u64)> = days.iter().map(|day| (day.day, day.documents)).collect();
    assert_eq!(summary, [(date("2026-11-25"), 1), (date("2026-11-26"), 3)]);
    assert!(days.iter().all(|day| day.bytes > 0));
    assert_eq!(days[0].segments, 1);
    assert!((1..=2).contains(&days[1].segments), "{days:?}");
}

#[test]
fn retention_removes_whole_old_days_but_never_one_in_use() {
    let dir = TempDir::new().unwrap();
    write_all(
        dir.path(),
        &[
            event(1, "app", Some("web-01"), 1, "2026-11-17T10:00:00Z"),
            event(2, "app", Some("web-01"), 2, "2026-11-18T10:00:00Z"),
            event(3, "app", Some("web-01"), 3, "2026-11-19T23:59:59Z"),
            event(4, "app", Some("web-01"), 4, "2026-11-20T00:00:00Z"),
        ],
    );
    let leftover = dir.path().join("logs/.removing-2026.11.01");
    std::fs::create_dir(&leftover).unwrap();
    std::fs::write(leftover.join("x"), b"half deleted").unwrap();

    // A running writer holds 2026-11-17 open with an uncommitted event.
    let mut writer = IndexWriter::open(dir.path(), IndexConfig::default()).unwrap();
    writer
        .add_event(
            &event(5, "app", Some("web-01"), 5, "2026-11-17T11:00:00Z"),
            &[],
            false,
        )
        .unwrap();

    let removed = remove_days_older_than(dir.path(), at("2026-11-20T00:00:00Z")).unwrap();
    assert_eq!(removed, [date("2026-11-18"), date("2026-11-19")]);
    assert!(!leftover.exists());

    writer.commit(&Checkpoint::default()).unwrap();
    drop(writer);
    let reader = IndexReader::open(dir.path()).unwrap();
    let left: Vec<(Date, u64)> = reader
        .days()
        .unwrap()
        .iter()
        .map(|day| (day.day, day.documents))
        .collect();
    assert_eq!(left, [(date("2026-11-17"), 2), (date("2026-11-20"), 1)]);

    // Once the writer is gone, the old day goes too; the day of the cutoff stays.
    let removed = remove_days_older_than(dir.path(), at("2026-11-20T23:59:59Z")).unwrap();
    assert_eq!(removed, [date("2026-11-17")]);
    assert_eq!(reader.days().unwrap().len(), 1);
}

#[test]
fn word_filter_matches_one_word_of_the_message_in_any_case() {
    let dir = TempDir::new().unwrap();
    let mut events: Vec<Event> = (1..=3)
        .map(|id| event(id, "app", Some("db-01"), id, "2026-11-26T10:00:00Z"))
        .collect();
    events[0].message = "nvme nvme0: I/O 412 QID 3 timeout".into();
    events[1].message = "NVMe reset".into();
    write_all(dir.path(), &events);
    let reader = IndexReader::open(dir.path()).unwrap();
    let count = |word: &str| {
        let request = SearchRequest {
            filters: vec![("word".into(), word.into())],
            limit: 0,
            ..SearchRequest::default()
        };
        reader.search(&request).unwrap().total_matches
    };
    assert_eq!(count("nvme"), 2);
    assert_eq!(count("NVME0"), 1);
    assert_eq!(count("nvm"), 0);

    // The same counts at once, narrowed to a host and a time range.
    let base = SearchRequest {
        filters: vec![("host".into(), "db-01".into())],
        since: Some(at("2026-11-26T09:00:00Z")),
        until: Some(at("2026-11-26T11:00:00Z")),
        ..SearchRequest::default()
    };
    let word = |word: &str| vec![("word".to_owned(), word.to_owned())];
    let counts = reader
        .count_each(&base, &[word("nvme"), word("NVME0"), word("nvm"), vec![]])
        .unwrap();
    assert_eq!(counts, [2, 1, 0, 3]);
    let later = SearchRequest {
        since: Some(at("2026-11-26T10:00:01Z")),
        ..base
    };
    assert_eq!(reader.count_each(&later, &[word("nvme")]).unwrap(), [0]);
}
