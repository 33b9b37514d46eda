//! The index writer: day indexes opened on demand, the incidents index, and
//! commit rounds that carry the sources' checkpoint.
//!
//! The commit protocol and what happens after a crash are described in
//! [`crate::commit`]. This module keeps the writers: the incidents writer is
//! open for the writer's whole life, and its lock doubles as the lock of the
//! data directory (a second `firewatch run` fails on it); day writers open
//! when an event of their day arrives and close after a round that did not
//! touch them.

use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

use firewatch_event::{Checkpoint, Event, Incident, IncidentId};
use jiff::civil::Date;
use tantivy::directory::MmapDirectory;
use tantivy::indexer::IndexWriterOptions;
use tantivy::tokenizer::TokenizerManager;
use tantivy::{Index, TantivyDocument, TantivyError};

use crate::IndexError;
use crate::commit::{CommitPayload, IncidentsPayload, Recovery, ResumePlan, reaches};
use crate::day::{day_name, day_of, list_days};
use crate::event_document::LogsSchema;
use crate::format;
use crate::id_set::EventIdSet;
use crate::incident_document::IncidentsSchema;
use crate::time::index_instant;
use crate::tokenizer::tokenizer_manager;

/// tantivy refuses an indexing arena below this many bytes per thread.
const MIN_BYTES_PER_THREAD: usize = 15_000_000;
/// tantivy refuses an indexing arena at or above this many bytes per thread.
const MAX_BYTES_PER_THREAD: usize = u32::MAX as usize - 1_000_000;
/// Upserts held back per day before they are applied as one deletion and
/// their additions (see [`Upserts`]).
pub(crate) const UPSERT_BATCH: usize = 10_000;

/// Names of the directories under the data directory.
pub(crate) const LOGS_DIR: &str = "logs";
pub(crate) const INCIDENTS_DIR: &str = "incidents";

/// How much memory and how many threads the writers may use.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IndexConfig {
    /// Memory budget of all writers together (bytes); default 256 MiB. The
    /// incidents writer takes tantivy's minimum (15 MB); the rest is split
    /// evenly across `max_open_days` day writers and their threads, each
    /// thread getting at least tantivy's minimum, or opening fails.
    pub memory_budget_bytes: usize,
    /// Indexing threads per day writer; default 1 (a pipeline picks its
    /// own from the cores it has).
    pub writer_threads: usize,
    /// Day indexes kept open for writing at once; default 3. Days untouched
    /// in the last commit round are closed after the commit. When events
    /// arrive for more days than this between two commits, the extra days
    /// open with tantivy's minimum budget until the next commit closes them.
    pub max_open_days: usize,
}

impl Default for IndexConfig {
    fn default() -> Self {
        IndexConfig {
            memory_budget_bytes: 256 << 20,
            writer_threads: 1,
            max_open_days: 3,
        }
    }
}

impl IndexConfig {
    /// The most indexing threads per day writer the budget gives tantivy's
    /// minimum each (0 when not even one fits).
    pub fn most_writer_threads(&self) -> usize {
        let per_day = self
            .memory_budget_bytes
            .saturating_sub(MIN_BYTES_PER_THREAD)
            / self.max_open_days.max(1);
        per_day / MIN_BYTES_PER_THREAD
    }

    /// The writer options of a day index within the budget.
    fn day_writer_options(&self) -> Result<IndexWriterOptions, IndexError> {
        if self.writer_threads == 0 || self.max_open_days == 0 {
            return Err(IndexError::InvalidConfig(format!(
                "writer_threads ({}) and max_open_days ({}) must be at least 1",
                self.writer_threads, self.max_open_days
            )));
        }
        let day_threads = self.max_open_days.saturating_mul(self.writer_threads);
        let per_thread = self
            .memory_budget_bytes
            .saturating_sub(MIN_BYTES_PER_THREAD)
            / day_threads;
        if per_thread < MIN_BYTES_PER_THREAD {
            let needed = MIN_BYTES_PER_THREAD.saturating_mul(day_threads.saturating_add(1));
            return Err(IndexError::InvalidConfig(format!(
                "memory budget of {} MiB is too small for {} open days × {} writer threads: \
                 tantivy needs 15 MB per thread plus 15 MB for incidents, {} MiB in all; \
                 raise the budget or lower writer_threads or max_open_days",
                self.memory_budget_bytes >> 20,
                self.max_open_days,
                self.writer_threads,
                needed.div_ceil(1 << 20),
            )));
        }
        Ok(writer_options(
            per_thread.min(MAX_BYTES_PER_THREAD),
            self.writer_threads,
        ))
    }
}

fn writer_options(bytes_per_thread: usize, threads: usize) -> IndexWriterOptions {
    IndexWriterOptions::builder()
        .memory_budget_per_thread(bytes_per_thread)
        .num_worker_threads(threads)
        // Merges run beside indexing; one merge thread per index keeps
        // several open day indexes from crowding out the pipeline.
        .num_merge_threads(1)
        .build()
}

/// Opens the index at `path`, creating it (and its directory) if needed.
fn open_or_create_index(
    path: &Path,
    schema: &tantivy::schema::Schema,
    tokenizers: &TokenizerManager,
    data_dir: &Path,
) -> Result<Index, IndexError> {
    std::fs::create_dir_all(path).map_err(|error| IndexError::io(path, error))?;
    let directory = MmapDirectory::open(path)
        .map_err(|error| IndexError::tantivy(data_dir, path, TantivyError::from(error)))?;
    Index::builder()
        .schema(schema.clone())
        .tokenizers(tokenizers.clone())
        .open_or_create(directory)
        .map_err(|error| match error {
            TantivyError::SchemaError(_) => IndexError::IncompatibleIndex {
                path: path.to_owned(),
            },
            error => IndexError::tantivy(data_dir, path, error),
        })
}

/// Commits `writer` with `payload`.
fn commit_with_payload(writer: &mut tantivy::IndexWriter, payload: &str) -> tantivy::Result<()> {
    let mut prepared = writer.prepare_commit()?;
    prepared.set_payload(payload);
    prepared.commit()?;
    Ok(())
}

/// A commit payload as JSON text.
fn payload_text(payload: &impl serde::Serialize, path: &Path) -> Result<String, IndexError> {
    serde_json::to_string(payload).map_err(|error| IndexError::BadPayload {
        path: path.to_owned(),
        reason: error.to_string(),
    })
}

/// An open day index.
struct DayWriter {
    path: PathBuf,
    writer: tantivy::IndexWriter,
    /// Additions and deletions since the last round: a day with any is
    /// committed in the next round.
    pending_operations: u64,
    /// Upserts not yet handed to tantivy.
    upserts: Upserts,
}

/// Upserts held back to be applied together. tantivy applies a deletion
/// to the documents added before it, so a batch's deletion (of every id it
/// replaces, in one pass over the ids: see [`crate::id_set`]) goes first
/// and its new documents after.
#[derive(Default)]
struct Upserts {
    /// Ids whose earlier documents go.
    ids: HashSet<u64>,
    /// The new documents; `None` where a later deletion took one back.
    documents: Vec<Option<TantivyDocument>>,
    /// Where each id's new document is in `documents`.
    positions: HashMap<u64, usize>,
}

impl DayWriter {
    /// Adds a document that replaces nothing.
    fn add(&mut self, document: TantivyDocument) -> Result<(), IndexError> {
        self.apply_upserts()?;
        self.pending_operations += 1;
        self.add_now(document)
    }

    /// Adds a document in place of any earlier one with its id.
    fn replace(&mut self, id: u64, document: TantivyDocument) -> Result<(), IndexError> {
        let upserts = &mut self.upserts;
        upserts.ids.insert(id);
        match upserts.positions.get(&id) {
            Some(&position) => upserts.documents[position] = Some(document),
            None => {
                upserts.positions.insert(id, upserts.documents.len());
                upserts.documents.push(Some(document));
            }
        }
        self.pending_operations += 1;
        self.apply_upserts_if_full()
    }

    /// Deletes any document with this id, the ones held back included.
    fn delete(&mut self, id: u64) -> Result<(), IndexError> {
        let upserts = &mut self.upserts;
        upserts.ids.insert(id);
        if let Some(position) = upserts.positions.remove(&id) {
            upserts.documents[position] = None;
        }
        self.pending_operations += 1;
        self.apply_upserts_if_full()
    }

    fn apply_upserts_if_full(&mut self) -> Result<(), IndexError> {
        if self.upserts.ids.len() >= UPSERT_BATCH {
            self.apply_upserts()?;
        }
        Ok(())
    }

    /// Hands the held-back upserts to tantivy: the deletion, then the documents.
    fn apply_upserts(&mut self) -> Result<(), IndexError> {
        if self.upserts.ids.is_empty() {
            return Ok(());
        }
        let Upserts { ids, documents, .. } = std::mem::take(&mut self.upserts);
        self.writer
            .delete_query(Box::new(EventIdSet::query(ids)))
            .map_err(|source| IndexError::Tantivy {
                path: self.path.clone(),
                source,
            })?;
        for document in documents.into_iter().flatten() {
            self.add_now(document)?;
        }
        Ok(())
    }

    fn add_now(&mut self, document: TantivyDocument) -> Result<(), IndexError> {
        self.writer
            .add_document(document)
            .map(drop)
            .map_err(|source| IndexError::Tantivy {
                path: self.path.clone(),
                source,
            })
    }
}

/// What opening a day index needs, apart from the open days themselves.
struct DayOpener {
    data_dir: PathBuf,
    logs_dir: PathBuf,
    schema: LogsSchema,
    tokenizers: TokenizerManager,
    options: IndexWriterOptions,
}

impl DayOpener {
    /// Opens (or creates) the index of `day`; `overflow` gives it tantivy's
    /// minimum budget, for days beyond `max_open_days`.
    fn open(&self, day: Date, overflow: bool) -> Result<DayWriter, IndexError> {
        let path = self.logs_dir.join(day_name(day));
        let index =
            open_or_create_index(&path, &self.schema.schema, &self.tokenizers, &self.data_dir)?;
        let options = if overflow {
            tracing::warn!(
                day = %day,
                "events for more days than max_open_days arrived between two commits: \
                 opening the extra day with the minimum indexing budget"
            );
            writer_options(MIN_BYTES_PER_THREAD, 1)
        } else {
            self.options.clone()
        };
        let writer = index
            .writer_with_options(options)
            .map_err(|error| IndexError::tantivy(&self.data_dir, &path, error))?;
        Ok(DayWriter {
            path,
            writer,
            pending_operations: 0,
            upserts: Upserts::default(),
        })
    }
}

/// Writes events and incidents under a data directory. Used from one thread.
///
/// # Commits and recovery
///
/// A commit round commits every day index that received documents since the
/// last round, then the incidents index, each with the same payload:
/// `{"generation": N, "checkpoint": {...}, "touched": ["2026.11.26", ...]}`.
/// Since the incidents index goes last, its generation names the last round
/// that completed, and every index holds every event up to that round's
/// checkpoint: that is where [`IndexWriter::resume_checkpoint`] points.
///
/// If a crash interrupted a round after some of its days committed, those
/// days hold events the sources will deliver again. The writer then runs in
/// recovery ([`IndexWriter::in_recovery`]): every added event first deletes
/// any document with its id, until a round's checkpoint reaches the
/// interrupted round's checkpoint in every stream (the target travels in
/// each round's payload until then, so a restart goes on with it). The full argument
/// (invariants and crash cases) heads the crate's `commit` module.
pub struct IndexWriter {
    opener: DayOpener,
    max_open_days: usize,
    days: BTreeMap<Date, DayWriter>,
    incidents_schema: IncidentsSchema,
    incidents_path: PathBuf,
    incidents: tantivy::IndexWriter,
    /// The last round committed (or found on disk).
    generation: u64,
    resume: Checkpoint,
    /// The detector's state stored with `resume`.
    resume_rule_state: Option<serde_json::Value>,
    /// While set, every added event replaces any document with its id.
    recovery: Option<Recovery>,
    pending_documents: u64,
    /// A round failed: nothing more may be written.
    failed: bool,
}

impl IndexWriter {
    /// Opens the data directory for writing, creating it if needed, and
    /// decides where the sources resume (see [`IndexWriter`]).
    ///
    /// Fails with [`IndexError::InUse`] when another writer holds it, and
    /// with [`IndexError::InvalidConfig`] when the memory budget cannot give
    /// every writer thread tantivy's minimum.
    pub fn open(data_dir: &Path, config: IndexConfig) -> Result<Self, IndexError> {
        let day_options = config.day_writer_options()?;
        format::mark_or_check(data_dir)?;
        let logs_dir = data_dir.join(LOGS_DIR);
        std::fs::create_dir_all(&logs_dir).map_err(|error| IndexError::io(&logs_dir, error))?;
        let tokenizers = tokenizer_manager();

        let incidents_schema = IncidentsSchema::new();
        let incidents_path = data_dir.join(INCIDENTS_DIR);
        let incidents_index = open_or_create_index(
            &incidents_path,
            &incidents_schema.schema,
            &tokenizers,
            data_dir,
        )?;
        // Taken before reading any payload: from here on nobody else writes.
        let incidents = incidents_index
            .writer_with_options(writer_options(MIN_BYTES_PER_THREAD, 1))
            .map_err(|error| IndexError::tantivy(data_dir, &incidents_path, error))?;
        let incidents_payload = CommitPayload::read(&incidents_index, &incidents_path, data_dir)?;

        let mut day_payloads = Vec::new();
        for day in list_days(&logs_dir)? {
            let path = logs_dir.join(day_name(day));
            if !path.join("meta.json").is_file() {
                // Created by a writer that stopped before initialising it.
                continue;
            }
            let index = Index::open_in_dir(&path)
                .map_err(|error| IndexError::tantivy(data_dir, &path, error))?;
            day_payloads.push((day, CommitPayload::read(&index, &path, data_dir)?));
        }
        let plan = ResumePlan::decide(incidents_payload, &day_payloads);
        if let Some(recovery) = &plan.recovery {
            tracing::warn!(
                generation = plan.generation,
                days = ?recovery.days,
                lagging_days = ?recovery.lagging_days,
                "the last commit round was interrupted: resuming from the round before, \
                 replacing re-read events until the interrupted round's checkpoint is passed"
            );
        }

        Ok(IndexWriter {
            opener: DayOpener {
                data_dir: data_dir.to_owned(),
                logs_dir,
                schema: LogsSchema::new(),
                tokenizers,
                options: day_options,
            },
            max_open_days: config.max_open_days,
            days: BTreeMap::new(),
            incidents_schema,
            incidents_path,
            incidents,
            generation: plan.generation,
            resume: plan.checkpoint,
            resume_rule_state: plan.rule_state,
            recovery: plan.recovery,
            pending_documents: 0,
            failed: false,
        })
    }

    /// The checkpoint to resume from (see [`IndexWriter`]); the default
    /// checkpoint when the data directory is new.
    pub fn resume_checkpoint(&self) -> &Checkpoint {
        &self.resume
    }

    /// The detector's state committed with
    /// [`IndexWriter::resume_checkpoint`] (by
    /// [`IndexWriter::commit_with_rule_state`]): it describes the detector
    /// after exactly the events up to that checkpoint. `None` when the
    /// round resumed from stored none.
    pub fn resume_rule_state(&self) -> Option<&serde_json::Value> {
        self.resume_rule_state.as_ref()
    }

    /// Whether the writer is replaying after an interrupted commit round:
    /// until a commit passes that round's checkpoint, every added event
    /// replaces any earlier document with its id.
    pub fn in_recovery(&self) -> bool {
        self.recovery.is_some()
    }

    /// Adds one event with the ids of the incidents it contributed to.
    /// `upsert`: delete any earlier document with the same event id first
    /// (for sources that may redeliver). During recovery the writer upserts
    /// by itself.
    ///
    /// An upsert looks for the earlier copy in the day of the event's time.
    /// An event whose line carried no time has its receive time as event
    /// time, so a redelivery on a later UTC day is not matched outside
    /// recovery.
    pub fn add_event(
        &mut self,
        event: &Event,
        incidents: &[IncidentId],
        upsert: bool,
    ) -> Result<(), IndexError> {
        self.ensure_usable()?;
        let day = day_of(index_instant(event.time()));
        let document = self.opener.schema.document(event, incidents);
        let replace = upsert || self.recovery.is_some();

        let mut added = Ok(());
        if event.timestamp.is_none() {
            let elsewhere: Vec<Date> = self
                .recovery
                .iter()
                .flat_map(|recovery| recovery.days.iter().copied())
                .filter(|committed| *committed != day)
                .collect();
            for other_day in elsewhere {
                added = added.and_then(|()| self.day_writer(other_day)?.delete(event.id.0));
            }
        }
        added = added.and_then(|()| {
            let day_writer = self.day_writer(day)?;
            if replace {
                day_writer.replace(event.id.0, document)
            } else {
                day_writer.add(document)
            }
        });
        if added.is_err() {
            self.failed = true;
        }
        added?;
        self.pending_documents += 1;
        Ok(())
    }

    /// Writes the latest state of an incident, replacing the previous one
    /// with the same id.
    pub fn upsert_incident(&mut self, incident: &Incident) -> Result<(), IndexError> {
        self.ensure_usable()?;
        let document = self
            .incidents_schema
            .document(incident, &self.incidents_path)?;
        self.incidents
            .delete_term(self.incidents_schema.id_term(incident.id));
        if let Err(source) = self.incidents.add_document(document) {
            self.failed = true;
            return Err(IndexError::Tantivy {
                path: self.incidents_path.clone(),
                source,
            });
        }
        self.pending_documents += 1;
        Ok(())
    }

    /// Documents (events and incident states) added since the last commit,
    /// for size-based commit policies.
    pub fn pending_documents(&self) -> u64 {
        self.pending_documents
    }

    /// Makes everything added so far durable, together with `checkpoint`:
    /// one commit round (see [`IndexWriter`]). After an error the writer
    /// refuses further work; reopening recovers from the disk.
    ///
    /// The round stores no detector state: a writer reopened at it has no
    /// [`IndexWriter::resume_rule_state`].
    pub fn commit(&mut self, checkpoint: &Checkpoint) -> Result<(), IndexError> {
        self.commit_round_with(checkpoint, None)
    }

    /// [`IndexWriter::commit`], storing with `checkpoint` the detector's
    /// state after exactly the events up to it (opaque JSON, in the
    /// incidents index's commit payload only), for
    /// [`IndexWriter::resume_rule_state`] after a restart.
    pub fn commit_with_rule_state(
        &mut self,
        checkpoint: &Checkpoint,
        rule_state: &serde_json::Value,
    ) -> Result<(), IndexError> {
        self.commit_round_with(checkpoint, Some(rule_state))
    }

    fn commit_round_with(
        &mut self,
        checkpoint: &Checkpoint,
        rule_state: Option<&serde_json::Value>,
    ) -> Result<(), IndexError> {
        self.ensure_usable()?;
        let generation = self.generation + 1;
        let touched: Vec<Date> = self
            .days
            .iter()
            .filter(|(_, day_writer)| day_writer.pending_operations > 0)
            .map(|(day, _)| *day)
            .collect();
        let recovery_done = self
            .recovery
            .as_ref()
            .is_some_and(|recovery| reaches(checkpoint, &recovery.target));
        let payload = CommitPayload {
            generation,
            checkpoint: checkpoint.clone(),
            touched: touched.iter().copied().map(day_name).collect(),
            recovery: self
                .recovery
                .as_ref()
                .filter(|_| !recovery_done)
                .map(Recovery::to_owed),
            rule_state: None,
        };
        if let Err(error) = self.commit_round(&touched, &payload, rule_state) {
            self.failed = true;
            return Err(error);
        }
        self.generation = generation;
        self.pending_documents = 0;
        self.days.retain(|day, _| touched.contains(day));
        if recovery_done {
            tracing::info!(
                generation,
                "recovery complete: the interrupted round's checkpoint is passed"
            );
            self.recovery = None;
        }
        tracing::debug!(generation, days = touched.len(), "commit round done");
        Ok(())
    }

    fn commit_round(
        &mut self,
        touched: &[Date],
        payload: &CommitPayload,
        rule_state: Option<&serde_json::Value>,
    ) -> Result<(), IndexError> {
        let text = payload_text(payload, &self.incidents_path)?;
        for day in touched {
            if let Some(day_writer) = self.days.get_mut(day) {
                day_writer.apply_upserts()?;
                commit_with_payload(&mut day_writer.writer, &text).map_err(|source| {
                    IndexError::Tantivy {
                        path: day_writer.path.clone(),
                        source,
                    }
                })?;
                day_writer.pending_operations = 0;
            }
        }
        // Only the incidents index, committed last, carries the detector's
        // state: the day indexes never need it.
        let incidents_text = match rule_state {
            Some(rule_state) => payload_text(
                &IncidentsPayload {
                    round: payload,
                    rule_state,
                },
                &self.incidents_path,
            )?,
            None => text,
        };
        commit_with_payload(&mut self.incidents, &incidents_text).map_err(|source| {
            IndexError::Tantivy {
                path: self.incidents_path.clone(),
                source,
            }
        })
    }

    /// The writer of `day`, opened if needed. Beyond `max_open_days`, a
    /// day with nothing pending is closed first, if there is one.
    fn day_writer(&mut self, day: Date) -> Result<&mut DayWriter, IndexError> {
        if !self.days.contains_key(&day) && self.days.len() >= self.max_open_days {
            let idle = self
                .days
                .iter()
                .find(|(_, day_writer)| day_writer.pending_operations == 0)
                .map(|(day, _)| *day);
            if let Some(idle) = idle {
                self.days.remove(&idle);
            }
        }
        let overflow = self.days.len() >= self.max_open_days;
        match self.days.entry(day) {
            Entry::Occupied(entry) => Ok(entry.into_mut()),
            Entry::Vacant(entry) => Ok(entry.insert(self.opener.open(day, overflow)?)),
        }
    }

    fn ensure_usable(&self) -> Result<(), IndexError> {
        if self.failed {
            Err(IndexError::WriterFailed)
        } else {
            Ok(())
        }
    }
}
