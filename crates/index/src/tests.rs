//! Behaviour of the writer and the reader together, on real tantivy indexes
//! in temporary directories.

use std::collections::BTreeMap;
use std::path::Path;

use firewatch_event::{
    Checkpoint, Event, EventId, FieldMap, Incident, IncidentId, IncidentState, Level, ParseProblem,
    Position, Sample, Severity, Timestamp,
};
use tantivy::Index;
use tempfile::TempDir;

use crate::commit::CommitPayload;
use crate::event_document::LogsSchema;
use crate::tokenizer::tokenizer_manager;
use crate::{IndexConfig, IndexError, IndexReader, IndexWriter, Order, SearchRequest};

fn at(text: &str) -> Timestamp {
    text.parse().unwrap()
}

fn fields(value: serde_json::Value) -> FieldMap {
    value.as_object().unwrap().clone()
}

/// A plain event at `time` with a message, on web-03/api.
fn event(id: u64, time: &str, message: &str) -> Event {
    let mut event = Event::new(EventId(id), "app".into(), at(time));
    event.timestamp = Some(at(time));
    event.line = id;
    event.host = Some("web-03".into());
    event.service = Some("api".into());
    event.level = Level::Info;
    event.message = message.into();
    event
}

fn checkpoint(offset: u64) -> Checkpoint {
    let mut checkpoint = Checkpoint::default();
    checkpoint.advance(
        "app",
        Position {
            stream: "dev1-ino2-abcd".into(),
            path: Some("/var/log/app.log".into()),
            offset,
            line: offset / 100,
        },
    );
    checkpoint
}

fn open_writer(dir: &Path) -> IndexWriter {
    IndexWriter::open(dir, IndexConfig::default()).unwrap()
}

/// Writes `events` in one round.
fn write_all(dir: &Path, events: &[Event]) {
    let mut writer = open_writer(dir);
    for event in events {
        writer.add_event(event, &[], false).unwrap();
    }
    writer.commit(&checkpoint(1)).unwrap();
}

fn search(reader: &IndexReader, query: &str) -> Vec<u64> {
    let request = SearchRequest {
        query: query.into(),
        ..SearchRequest::default()
    };
    ids_of(reader, &request)
}

fn ids_of(reader: &IndexReader, request: &SearchRequest) -> Vec<u64> {
    reader
        .search(request)
        .unwrap()
        .hits
        .into_iter()
        .map(|hit| hit.event.id.0)
        .collect()
}

fn incident(id: u64, state: IncidentState, first_seen: &str, trigger: &[u64]) -> Incident {
    Incident {
        id: IncidentId(id),
        rule: "db-down".into(),
        title: "database down on web-03".into(),
        severity: Severity::High,
        description: None,
        key: "db-down/api/web-03".into(),
        group: BTreeMap::from([("host".into(), "web-03".into())]),
        state,
        flapping: false,
        history: Vec::new(),
        first_seen: at(first_seen),
        last_seen: at(first_seen),
        resolved_at: (state == IncidentState::Resolved).then(|| at(first_seen)),
        count: 3,
        samples: vec![Sample {
            event_id: EventId(1),
            time: at(first_seen),
            message: "Connection refused".into(),
        }],
        trigger_events: trigger.iter().map(|id| EventId(*id)).collect(),
    }
}

#[test]
fn events_come_back_whole_and_are_found_by_term_phrase_field_range_and_filter() {
    let dir = TempDir::new().unwrap();
    let incident_id = IncidentId(0xdead_beef_0000_0001);

    let mut refused = event(
        1,
        "2026-11-26T10:00:00.123456789Z",
        "upstream: Connection refused: connect to 10.0.0.1 port 5432 (ECONNREFUSED) trace_id=ab12",
    );
    refused.level = Level::Error;
    refused.received = at("2026-11-26T10:00:01Z");
    refused.fields = fields(serde_json::json!({
        "status": 503,
        "user": "alice",
        "http": {"method": "GET", "path": "/api/v1/orders"},
        "a.b": "dotted key",
        "at": "2026-11-26T10:00:00+02:00",
        "ratio": 0.5,
        "big": u64::MAX,
        "negative": -3,
        "none": null,
        "list": [1, "two", {"three": 3.0}, [true]],
        "empty": {},
        "": "empty key",
        "nul\u{0}key": 1,
        "k8s.io/name": "web",
    }));

    let mut unparsed = event(2, "2026-11-26T11:00:00Z", "<<garbage \u{fffd} line>>");
    unparsed.timestamp = None;
    unparsed.host = None;
    unparsed.service = None;
    unparsed.level = Level::Unknown;
    unparsed.problem = ParseProblem {
        unparsed: true,
        truncated: true,
        invalid_utf8: true,
        reason: Some("invalid json: expected value at column 3".into()),
    };

    // A line that claims a year tantivy cannot hold: clamped for the index,
    // exact in the rebuilt event.
    let mut far_future = event(3, "9999-06-01T00:00:00Z", "time traveller");
    far_future.received = at("2026-11-26T12:00:00Z");
    far_future.host = Some("batch-01".into());
    far_future.service = Some("nightly".into());

    let mut writer = open_writer(dir.path());
    writer.add_event(&refused, &[incident_id], false).unwrap();
    writer.add_event(&unparsed, &[], false).unwrap();
    writer.add_event(&far_future, &[], false).unwrap();
    assert_eq!(writer.pending_documents(), 3);
    writer.commit(&checkpoint(100)).unwrap();
    assert_eq!(writer.pending_documents(), 0);

    let reader = IndexReader::open(dir.path()).unwrap();
    let all = reader.search(&SearchRequest::default()).unwrap();
    assert_eq!(all.total_matches, 3);
    let originals = [&refused, &unparsed, &far_future];
    for hit in &all.hits {
        let original = originals
            .iter()
            .find(|event| event.id == hit.event.id)
            .unwrap();
        assert_eq!(&&hit.event, original);
    }
    assert_eq!(all.hits[0].incidents, [incident_id]);
    assert!(all.hits[1].incidents.is_empty());

    for query in [
        "econnrefused",
        "ECONNREFUSED",
        "trace_id",
        "5432",
        "\"connection refused\"",
        "refused connection",
        "\"10.0.0.1\"",
        "host:web-03",
        "service:api",
        "level:error",
        "level:ERROR",
        "level_rank:>=6",
        "fields.status:503",
        "fields.user:alice",
        "fields.http.method:get",
        "fields.http.path:orders",
        "fields.a.b:dotted",
        "fields.negative:-3",
        "fields.status:>=500",
        "fields.ratio:[0.1 TO 0.9]",
        "incident:deadbeef00000001",
        "level:error AND \"timed out\" OR econnrefused",
    ] {
        assert_eq!(search(&reader, query), [1], "{query}");
    }
    for query in [
        "\"refused connection\"",
        "\"10.0.0.2\"",
        "host:WEB-03",
        "level:warn",
        "fields.status:504",
        "connection AND NOT refused",
    ] {
        assert!(search(&reader, query).is_empty(), "{query}");
    }
    assert_eq!(search(&reader, "problem:unparsed"), [2]);
    assert_eq!(search(&reader, "time_is_received:true"), [2]);
    assert_eq!(search(&reader, "garbage"), [2]);
    assert_eq!(search(&reader, "level:unknown"), [2]);
    assert_eq!(search(&reader, "*"), [1, 2, 3]);

    let filtered = |filters: &[(&str, &str)]| {
        ids_of(
            &reader,
            &SearchRequest {
                filters: filters
                    .iter()
                    .map(|(field, value)| ((*field).to_owned(), (*value).to_owned()))
                    .collect(),
                ..SearchRequest::default()
            },
        )
    };
    assert_eq!(filtered(&[("host", "web-03"), ("service", "api")]), [1]);
    assert_eq!(filtered(&[("host", "batch-01")]), [3]);
    assert_eq!(filtered(&[("level", "ERROR")]), [1]);
    assert_eq!(filtered(&[("source", "app")]), [1, 2, 3]);
    assert_eq!(filtered(&[("incident", &incident_id.to_string())]), [1]);
    assert_eq!(filtered(&[("event_id", &EventId(2).to_string())]), [2]);
    assert_eq!(filtered(&[("problem", "truncated")]), [2]);
    assert!(filtered(&[("host", "web-03"), ("level", "info")]).is_empty());

    let ranged = |since: Option<&str>, until: Option<&str>| {
        ids_of(
            &reader,
            &SearchRequest {
                since: since.map(at),
                until: until.map(at),
                ..SearchRequest::default()
            },
        )
    };
    assert_eq!(
        ranged(
            Some("2026-11-26T10:00:00.123456Z"),
            Some("2026-11-26T11:00:00Z")
        ),
        [1],
        "since inclusive (at microsecond precision), until exclusive"
    );
    assert_eq!(ranged(Some("2026-11-26T10:00:00.123457Z"), None), [2, 3]);
    assert_eq!(ranged(None, Some("2026-11-26T11:00:00.000001Z")), [1, 2]);
    assert_eq!(ranged(Some("2200-01-01T00:00:00Z"), None), [3]);
}

#[test]
fn events_of_each_utc_day_go_to_their_own_index_and_ranges_open_only_their_days() {
    let dir = TempDir::new().unwrap();
    write_all(
        dir.path(),
        &[
            event(1, "2026-11-25T23:59:59.999Z", "late"),
            event(2, "2026-11-26T00:00:00Z", "midnight"),
            event(3, "2026-11-26T12:00:00Z", "noon"),
            event(4, "2026-11-27T01:00:00+02:00", "still the 26th in UTC"),
            event(5, "2026-11-27T08:00:00Z", "morning"),
        ],
    );
    let mut names: Vec<String> = std::fs::read_dir(dir.path().join("logs"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["2026.11.25", "2026.11.26", "2026.11.27"]);

    let reader = IndexReader::open(dir.path()).unwrap();
    let days: Vec<(String, u64)> = reader
        .days()
        .unwrap()
        .into_iter()
        .map(|stats| {
            assert!(stats.bytes > 0);
            (stats.day.to_string(), stats.documents)
        })
        .collect();
    assert_eq!(
        days,
        [
            ("2026-11-25".to_owned(), 1),
            ("2026-11-26".to_owned(), 3),
            ("2026-11-27".to_owned(), 1)
        ]
    );

    // Break the first day: a search that opened it would fail.
    std::fs::write(dir.path().join("logs/2026.11.25/meta.json"), b"not json").unwrap();
    let request = SearchRequest {
        since: Some(at("2026-11-26T00:00:00Z")),
        until: Some(at("2026-11-27T00:00:00Z")),
        ..SearchRequest::default()
    };
    assert_eq!(ids_of(&reader, &request), [2, 3, 4]);
    assert!(reader.search(&SearchRequest::default()).is_err());
}

#[test]
fn hits_come_in_event_time_order_then_line_then_id_across_days_and_segments() {
    let dir = TempDir::new().unwrap();
    let mut writer = open_writer(dir.path());
    // Three rounds make several segments per day.
    let rounds: [&[(u64, &str, u64)]; 3] = [
        &[
            (10, "2026-11-26T10:00:00Z", 5),
            (11, "2026-11-25T09:00:00Z", 1),
        ],
        &[
            (12, "2026-11-26T10:00:00Z", 3),
            (13, "2026-11-26T09:59:59Z", 9),
        ],
        &[
            (14, "2026-11-26T10:00:00Z", 3),
            (15, "2026-11-27T00:00:00Z", 1),
            (16, "2026-11-25T23:00:00Z", 2),
        ],
    ];
    for (round, events) in rounds.iter().enumerate() {
        for (id, time, line) in events.iter() {
            let mut event = event(*id, time, "tick");
            event.line = *line;
            writer.add_event(&event, &[], false).unwrap();
        }
        writer.commit(&checkpoint(round as u64)).unwrap();
    }
    let reader = IndexReader::open(dir.path()).unwrap();
    let expected = [11, 16, 13, 12, 14, 10, 15];
    let request = |limit: usize, order: Order| SearchRequest {
        query: "tick".into(),
        limit,
        order,
        ..SearchRequest::default()
    };
    assert_eq!(ids_of(&reader, &request(100, Order::Ascending)), expected);
    let mut reversed = expected;
    reversed.reverse();
    assert_eq!(ids_of(&reader, &request(100, Order::Descending)), reversed);
    for limit in 0..=expected.len() {
        let results = reader.search(&request(limit, Order::Ascending)).unwrap();
        let ids: Vec<u64> = results.hits.iter().map(|hit| hit.event.id.0).collect();
        assert_eq!(ids, expected[..limit], "limit {limit}");
        assert_eq!(results.total_matches, 7, "limit {limit}");
        let ids = ids_of(&reader, &request(limit, Order::Descending));
        assert_eq!(ids, reversed[..limit], "limit {limit}, descending");
    }
}

#[test]
fn upsert_leaves_one_document_per_event_id() {
    let dir = TempDir::new().unwrap();
    let mut writer = open_writer(dir.path());
    let first = event(7, "2026-11-26T10:00:00Z", "first delivery");
    let second = event(7, "2026-11-26T10:00:00Z", "second delivery");
    writer.add_event(&first, &[], true).unwrap();
    writer.commit(&checkpoint(1)).unwrap();
    writer.add_event(&second, &[], true).unwrap();
    writer.add_event(&second, &[], true).unwrap();
    // Without upsert the same id is simply added again.
    writer
        .add_event(&event(8, "2026-11-26T10:00:00Z", "plain"), &[], false)
        .unwrap();
    writer
        .add_event(&event(8, "2026-11-26T10:00:00Z", "plain"), &[], false)
        .unwrap();
    writer.commit(&checkpoint(2)).unwrap();

    let reader = IndexReader::open(dir.path()).unwrap();
    assert_eq!(search(&reader, "delivery"), [7]);
    assert_eq!(search(&reader, "second"), [7]);
    assert!(search(&reader, "first").is_empty());
    assert_eq!(search(&reader, "plain"), [8, 8]);
}

#[test]
fn upserts_beyond_one_batch_and_between_plain_adds_replace_every_earlier_copy() {
    let dir = TempDir::new().unwrap();
    let mut writer = open_writer(dir.path());
    let count = 2 * crate::writer::UPSERT_BATCH as u64 + 5;
    for id in 1..=count {
        writer
            .add_event(&event(id, "2026-11-26T10:00:00Z", "old copy"), &[], false)
            .unwrap();
    }
    writer.commit(&checkpoint(1)).unwrap();
    for id in 1..=count {
        writer
            .add_event(&event(id, "2026-11-26T10:00:00Z", "new copy"), &[], true)
            .unwrap();
        if id % 1000 == 0 {
            // A plain add applies the upserts held back before it.
            let plain = event(count + id, "2026-11-26T10:00:00Z", "plain line");
            writer.add_event(&plain, &[], false).unwrap();
        }
    }
    // The same id twice in one batch: the later copy wins.
    writer
        .add_event(&event(3, "2026-11-26T10:00:00Z", "newest copy"), &[], true)
        .unwrap();
    writer.commit(&checkpoint(2)).unwrap();

    let reader = IndexReader::open(dir.path()).unwrap();
    let total = |query: &str| {
        reader
            .search(&SearchRequest {
                query: query.into(),
                limit: 0,
                ..SearchRequest::default()
            })
            .unwrap()
            .total_matches
    };
    assert_eq!(total("old"), 0);
    assert_eq!(total("copy"), count);
    assert_eq!(search(&reader, "newest"), [3]);
    assert_eq!(total("plain"), count / 1000);
    let third = reader.event(EventId(3)).unwrap().unwrap();
    assert_eq!(third.event.message, "newest copy");
}

#[test]
fn incidents_keep_their_latest_state_and_link_to_their_events() {
    let dir = TempDir::new().unwrap();
    let mut writer = open_writer(dir.path());
    let older = incident(1, IncidentState::Open, "2026-11-26T09:00:00Z", &[]);
    let mut newer = incident(2, IncidentState::Open, "2026-11-26T10:00:00Z", &[21, 22]);
    writer.upsert_incident(&older).unwrap();
    writer.upsert_incident(&newer).unwrap();
    writer
        .add_event(&event(21, "2026-11-26T09:59:00Z", "refused"), &[], false)
        .unwrap();
    writer
        .add_event(&event(22, "2026-11-26T09:59:30Z", "refused"), &[], false)
        .unwrap();
    writer
        .add_event(
            &event(23, "2026-11-26T10:00:00Z", "refused"),
            &[newer.id],
            false,
        )
        .unwrap();
    writer
        .add_event(
            &event(24, "2026-11-26T10:01:00Z", "refused"),
            &[newer.id, older.id],
            false,
        )
        .unwrap();
    writer.commit(&checkpoint(1)).unwrap();
    newer.state = IncidentState::Resolved;
    newer.count = 4;
    newer.resolved_at = Some(at("2026-11-26T10:05:00Z"));
    writer.upsert_incident(&newer).unwrap();
    writer.commit(&checkpoint(2)).unwrap();

    let reader = IndexReader::open(dir.path()).unwrap();
    assert_eq!(reader.incidents().unwrap(), [newer.clone(), older.clone()]);
    assert_eq!(reader.incident(newer.id).unwrap(), Some(newer.clone()));
    assert_eq!(reader.incident(IncidentId(99)).unwrap(), None);

    let tagged = ids_of(
        &reader,
        &SearchRequest {
            filters: vec![("incident".into(), newer.id.to_string())],
            ..SearchRequest::default()
        },
    );
    assert_eq!(tagged, [23, 24]);
    let hit = reader.event(EventId(24)).unwrap().unwrap();
    assert_eq!(hit.incidents, [newer.id, older.id]);
    for trigger in &newer.trigger_events {
        assert_eq!(reader.event(*trigger).unwrap().unwrap().event.id, *trigger);
    }
    assert_eq!(reader.event(EventId(99)).unwrap(), None);
}

#[test]
fn the_reader_sees_the_last_commit_while_the_writer_runs() {
    let dir = TempDir::new().unwrap();
    let mut writer = open_writer(dir.path());
    writer
        .add_event(&event(1, "2026-11-26T10:00:00Z", "committed"), &[], false)
        .unwrap();
    writer
        .upsert_incident(&incident(
            1,
            IncidentState::Open,
            "2026-11-26T10:00:00Z",
            &[],
        ))
        .unwrap();
    writer.commit(&checkpoint(1)).unwrap();
    let reader = IndexReader::open(dir.path()).unwrap();
    writer
        .add_event(&event(2, "2026-11-26T10:00:01Z", "pending"), &[], false)
        .unwrap();
    writer
        .upsert_incident(&incident(
            2,
            IncidentState::Open,
            "2026-11-26T10:00:00Z",
            &[],
        ))
        .unwrap();
    assert_eq!(search(&reader, "*"), [1]);
    assert_eq!(reader.incidents().unwrap().len(), 1);
    writer.commit(&checkpoint(2)).unwrap();
    assert_eq!(search(&reader, "*"), [1, 2]);
    assert_eq!(reader.incidents().unwrap().len(), 2);
}

#[test]
fn a_reopened_writer_resumes_from_the_last_committed_checkpoint() {
    let temporary = TempDir::new().unwrap();
    // The data directory does not exist yet: the writer creates it.
    let data_dir = temporary.path().join("firewatch-data");
    let dir = data_dir.as_path();
    {
        let writer = open_writer(dir);
        assert_eq!(writer.resume_checkpoint(), &Checkpoint::default());
        assert!(!writer.in_recovery());
    }
    {
        let mut writer = open_writer(dir);
        writer
            .add_event(&event(1, "2026-11-26T10:00:00Z", "one"), &[], false)
            .unwrap();
        writer.commit(&checkpoint(100)).unwrap();
        // A round with nothing new still moves the checkpoint on.
        writer.commit(&checkpoint(250)).unwrap();
        // Added but never committed: lost on purpose, read again after restart.
        writer
            .add_event(&event(2, "2026-11-26T10:00:01Z", "two"), &[], false)
            .unwrap();
    }
    let writer = open_writer(dir);
    assert_eq!(writer.resume_checkpoint(), &checkpoint(250));
    assert!(!writer.in_recovery());
    let reader = IndexReader::open(dir).unwrap();
    assert_eq!(search(&reader, "*"), [1]);
}

#[test]
fn the_rule_state_comes_back_with_the_checkpoint_it_was_committed_with() {
    let dir = TempDir::new().unwrap();
    let state = serde_json::json!({"version": 1, "rules": [{"id": "burst", "groups": []}]});
    {
        let mut writer = open_writer(dir.path());
        assert_eq!(writer.resume_rule_state(), None);
        writer
            .add_event(&event(1, "2026-11-26T10:00:00Z", "one"), &[], false)
            .unwrap();
        writer
            .commit_with_rule_state(&checkpoint(100), &state)
            .unwrap();
    }
    {
        let mut writer = open_writer(dir.path());
        assert_eq!(writer.resume_checkpoint(), &checkpoint(100));
        assert_eq!(writer.resume_rule_state(), Some(&state));
        // A round without a state stores none: nothing stale comes back.
        writer.commit(&checkpoint(200)).unwrap();
    }
    assert_eq!(open_writer(dir.path()).resume_rule_state(), None);
    // The day index's payload stays small: no state in it.
    let metas = open_day_index(dir.path(), "2026.11.26")
        .load_metas()
        .unwrap();
    assert!(!metas.payload.unwrap().contains("rule_state"));
}

/// A day index opened directly, as the writer would open it.
fn open_day_index(dir: &Path, day: &str) -> Index {
    let mut index = Index::open_in_dir(dir.join("logs").join(day)).unwrap();
    index.set_tokenizers(tokenizer_manager());
    index
}

/// Commits a document straight into a day index with the payload of a
/// round the writer never finished.
fn commit_behind_the_writers_back(dir: &Path, day: &str, event: &Event, payload: &CommitPayload) {
    let index = open_day_index(dir, day);
    let mut writer: tantivy::IndexWriter = index.writer_with_num_threads(1, 15_000_000).unwrap();
    writer
        .add_document(LogsSchema::new().document(event, &[]))
        .unwrap();
    let mut prepared = writer.prepare_commit().unwrap();
    prepared.set_payload(&serde_json::to_string(payload).unwrap());
    prepared.commit().unwrap();
}

#[test]
fn an_interrupted_round_resumes_from_the_round_before_and_replays_without_duplicates() {
    let dir = TempDir::new().unwrap();
    let early = event(1, "2026-11-25T10:00:00Z", "early");
    let before = event(2, "2026-11-26T10:00:00Z", "before");
    let replayed_25 = event(3, "2026-11-25T11:00:00Z", "replayed");
    let replayed_26 = event(4, "2026-11-26T11:00:00Z", "replayed");
    let after = event(5, "2026-11-26T12:00:00Z", "after");
    {
        let mut writer = open_writer(dir.path());
        writer.add_event(&early, &[], false).unwrap();
        writer.commit(&checkpoint(100)).unwrap();
        writer.add_event(&before, &[], false).unwrap();
        writer
            .commit_with_rule_state(&checkpoint(200), &serde_json::json!({"after": 200}))
            .unwrap();
    }
    // Round 3 was to commit both days; only 2026.11.26 made it before the crash.
    commit_behind_the_writers_back(
        dir.path(),
        "2026.11.26",
        &replayed_26,
        &CommitPayload {
            generation: 3,
            checkpoint: checkpoint(400),
            touched: vec!["2026.11.25".into(), "2026.11.26".into()],
            recovery: None,
            rule_state: Some(serde_json::json!({"after": 400})),
        },
    );

    let mut writer = open_writer(dir.path());
    assert_eq!(writer.resume_checkpoint(), &checkpoint(200));
    assert_eq!(
        writer.resume_rule_state(),
        Some(&serde_json::json!({"after": 200})),
        "the state of the round resumed from, not of the interrupted one"
    );
    assert!(writer.in_recovery());
    // The source re-reads from offset 200: both events again, without upsert.
    writer.add_event(&replayed_25, &[], false).unwrap();
    writer.add_event(&replayed_26, &[], false).unwrap();
    writer.commit(&checkpoint(300)).unwrap();
    assert!(
        writer.in_recovery(),
        "300 has not reached the interrupted round's 400"
    );
    // A crash now must not forget that the recovery is unfinished.
    drop(writer);
    let mut writer = open_writer(dir.path());
    assert_eq!(writer.resume_checkpoint(), &checkpoint(300));
    assert!(writer.in_recovery());
    writer.add_event(&replayed_26, &[], false).unwrap();
    writer.commit(&checkpoint(400)).unwrap();
    assert!(!writer.in_recovery());
    writer.add_event(&after, &[], false).unwrap();
    writer.commit(&checkpoint(500)).unwrap();
    drop(writer);

    let reader = IndexReader::open(dir.path()).unwrap();
    assert_eq!(search(&reader, "*"), [1, 3, 2, 4, 5]);
    let writer = open_writer(dir.path());
    assert_eq!(writer.resume_checkpoint(), &checkpoint(500));
    assert!(!writer.in_recovery());
}

#[test]
fn recovery_replaces_an_untimed_event_that_lands_on_another_day_when_read_again() {
    let dir = TempDir::new().unwrap();
    write_all(dir.path(), &[event(1, "2026-11-26T10:00:00Z", "one")]);
    // The line carries no time: its event time is when it was received.
    let mut untimed = event(2, "2026-11-26T23:59:59Z", "no time in this line");
    untimed.timestamp = None;
    commit_behind_the_writers_back(
        dir.path(),
        "2026.11.26",
        &untimed,
        &CommitPayload {
            generation: 2,
            checkpoint: checkpoint(50),
            touched: vec!["2026.11.26".into()],
            recovery: None,
            rule_state: None,
        },
    );
    let mut writer = open_writer(dir.path());
    assert!(writer.in_recovery());
    let mut read_again = untimed.clone();
    read_again.received = at("2026-11-27T00:00:05Z");
    writer.add_event(&read_again, &[], false).unwrap();
    writer.commit(&checkpoint(50)).unwrap();
    let reader = IndexReader::open(dir.path()).unwrap();
    let results = reader
        .search(&SearchRequest {
            query: "line".into(),
            ..SearchRequest::default()
        })
        .unwrap();
    assert_eq!(results.total_matches, 1);
    assert_eq!(results.hits[0].event, read_again);
}

#[test]
fn after_recovery_events_are_added_plainly_again() {
    let dir = TempDir::new().unwrap();
    write_all(dir.path(), &[event(1, "2026-11-26T10:00:00Z", "one")]);
    commit_behind_the_writers_back(
        dir.path(),
        "2026.11.26",
        &event(2, "2026-11-26T10:00:01Z", "two"),
        &CommitPayload {
            generation: 2,
            checkpoint: checkpoint(50),
            touched: vec!["2026.11.26".into()],
            recovery: None,
            rule_state: None,
        },
    );
    let mut writer = open_writer(dir.path());
    assert!(writer.in_recovery());
    writer.commit(&checkpoint(50)).unwrap();
    assert!(!writer.in_recovery());
    // Recovery is over: without upsert, a second copy is a second document.
    writer
        .add_event(&event(2, "2026-11-26T10:00:01Z", "two"), &[], false)
        .unwrap();
    writer.commit(&checkpoint(60)).unwrap();
    let reader = IndexReader::open(dir.path()).unwrap();
    assert_eq!(search(&reader, "two"), [2, 2]);
}

#[test]
fn a_second_writer_on_the_same_data_dir_is_refused() {
    let dir = TempDir::new().unwrap();
    let _first = open_writer(dir.path());
    let error = IndexWriter::open(dir.path(), IndexConfig::default())
        .err()
        .unwrap();
    assert!(matches!(error, IndexError::InUse { .. }), "{error:?}");
    assert_eq!(
        error.to_string(),
        format!(
            "data dir {} is in use by another firewatch process",
            dir.path().display()
        )
    );
}

#[test]
fn a_reader_on_a_missing_data_dir_says_what_to_do() {
    let dir = TempDir::new().unwrap();
    let missing = dir.path().join("nowhere");
    let error = IndexReader::open(&missing).err().unwrap();
    assert_eq!(
        error.to_string(),
        format!(
            "no firewatch data at {}: run `firewatch run` first or pass --data-dir",
            missing.display()
        )
    );
}

#[test]
fn indexes_of_an_earlier_format_are_refused_by_writer_and_reader() {
    let dir = TempDir::new().unwrap();
    write_all(dir.path(), &[event(1, "2026-11-26T10:00:00Z", "hello")]);
    assert_eq!(
        search(&IndexReader::open(dir.path()).unwrap(), "hello"),
        [1]
    );

    // What a version before format marks left behind.
    std::fs::remove_file(dir.path().join("format")).unwrap();
    let expected = format!(
        "the data directory {} holds indexes in index format 1, and this version reads \
         format 2: move it away or use another --data-dir",
        dir.path().display()
    );
    let refused = IndexWriter::open(dir.path(), IndexConfig::default())
        .err()
        .unwrap();
    assert_eq!(refused.to_string(), expected);
    let refused = IndexReader::open(dir.path()).err().unwrap();
    assert_eq!(refused.to_string(), expected);
}

#[test]
fn bad_queries_and_filters_are_named_in_the_error() {
    let dir = TempDir::new().unwrap();
    write_all(dir.path(), &[event(1, "2026-11-26T10:00:00Z", "one")]);
    let reader = IndexReader::open(dir.path()).unwrap();
    let error_of = |request: SearchRequest| reader.search(&request).err().unwrap().to_string();
    let query = |text: &str| SearchRequest {
        query: text.into(),
        ..SearchRequest::default()
    };
    let filter = |field: &str, value: &str| SearchRequest {
        filters: vec![(field.into(), value.into())],
        ..SearchRequest::default()
    };
    let syntax = error_of(query("foo:("));
    assert!(syntax.starts_with("invalid query `foo:(`: "), "{syntax}");
    let unknown = error_of(query("colour:red"));
    assert!(
        unknown.starts_with("invalid query `colour:red`: unknown field `colour`"),
        "{unknown}"
    );
    let bad_id = error_of(filter("incident", "xyz"));
    assert!(
        bad_id.starts_with("invalid filter incident=\"xyz\": "),
        "{bad_id}"
    );
    let bad_field = error_of(filter("colour", "red"));
    assert!(bad_field.contains("unknown filter field"), "{bad_field}");
}

#[test]
fn the_most_writer_threads_of_a_budget_are_exactly_those_it_can_open() {
    for megabytes in [32, 64, 101, 200, 256, 1024] {
        let config = |writer_threads| IndexConfig {
            memory_budget_bytes: megabytes << 20,
            writer_threads,
            max_open_days: 3,
        };
        let most = config(1).most_writer_threads();
        let opens = |threads| {
            let dir = TempDir::new().unwrap();
            IndexWriter::open(dir.path(), config(threads)).is_ok()
        };
        assert!(most == 0 || opens(most), "{megabytes} MiB, {most} threads");
        assert!(!opens(most + 1), "{megabytes} MiB, {} threads", most + 1);
    }
}

#[test]
fn a_budget_too_small_for_the_writers_is_refused() {
    let dir = TempDir::new().unwrap();
    let config = IndexConfig {
        memory_budget_bytes: 40 << 20,
        writer_threads: 2,
        max_open_days: 3,
    };
    let error = IndexWriter::open(dir.path(), config).err().unwrap();
    assert!(matches!(error, IndexError::InvalidConfig(_)), "{error:?}");
    assert!(
        error.to_string().contains("3 open days × 2 writer threads"),
        "{error}"
    );
}

#[test]
fn days_beyond_max_open_days_still_index_and_close_after_the_commit() {
    let dir = TempDir::new().unwrap();
    let config = IndexConfig {
        max_open_days: 2,
        ..IndexConfig::default()
    };
    let mut writer = IndexWriter::open(dir.path(), config).unwrap();
    for (id, day) in (1..).zip(["2026-11-24", "2026-11-25", "2026-11-26", "2026-11-27"]) {
        let time = format!("{day}T10:00:00Z");
        writer
            .add_event(&event(id, &time, "spread"), &[], false)
            .unwrap();
    }
    writer.commit(&checkpoint(1)).unwrap();
    writer
        .add_event(&event(5, "2026-11-27T11:00:00Z", "spread"), &[], false)
        .unwrap();
    writer.commit(&checkpoint(2)).unwrap();
    // An open day holds its index lock; a closed one has released it.
    let lock_is_free = |day: &str| {
        let index = open_day_index(dir.path(), day);
        index.writer::<tantivy::TantivyDocument>(15_000_000).is_ok()
    };
    assert!(
        !lock_is_free("2026.11.27"),
        "touched in the last round: still open"
    );
    for day in ["2026.11.24", "2026.11.25", "2026.11.26"] {
        assert!(
            lock_is_free(day),
            "{day} untouched in the last round: closed"
        );
    }
    let reader = IndexReader::open(dir.path()).unwrap();
    assert_eq!(search(&reader, "spread"), [1, 2, 3, 4, 5]);
}
