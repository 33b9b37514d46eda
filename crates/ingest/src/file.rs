//! The file source: files named by globs, read once or followed as they grow.
//!
//! # Design
//!
//! Each matched file is a *stream*, keyed by its identity (see
//! `identity.rs`), not its path. A stream is read in 256 KiB chunks into one
//! buffer reused for every file, on tokio's blocking pool; the chunk is cut
//! into lines and records (see `records.rs`) and sent in batches that each end
//! at a position in that one file.
//!
//! Invariants:
//! - A batch's position is the offset just after its last record, or where
//!   a record the multiline joiner still holds starts: never past a byte
//!   that has not been sent. A restart from any committed position neither
//!   skips nor repeats a record.
//! - In follow mode, an unfinished last line (no newline yet) is not a
//!   record. It is sent when its newline arrives. At shutdown it is left
//!   unsent, and so are lines the joiner holds: the position stays at their
//!   start, and the next run reads them whole. Emitting them instead would
//!   split a line that is still being written into two records.
//! - Without follow, the end of a file ends its last line and its last
//!   record: the file is taken as complete.
//!
//! Resume: a file whose key is in the checkpoint starts at the committed
//! offset and line; if the file is now shorter than that offset it was
//! truncated and is read from the start (with a warning). Other files start
//! as `start_at` says; for [`StartAt::End`] the file is read once to count
//! its lines (line numbers stay true), and reading starts after its last
//! newline, so that a line being written at startup is read whole.
//!
//! Order: without follow, files are read one after another, each to its
//! end, in the order of the patterns and, within a pattern, in the sorted
//! order the glob yields; a file matched by two patterns is read once.
//! In follow mode every file gets a turn of at most 2 MiB in that order, so
//! that one busy file cannot starve the others.
//!
//! Follow mode polls: every `poll_interval` it globs again, reads what each
//! file gained, opens new matches from their beginning, and notices
//! rotation and truncation.
//!
//! # Rotation and truncation
//!
//! Rename-and-create (`app.log` becomes `app.log.1`, a new `app.log`
//! appears): the renamed file keeps its stream, because streams are keyed
//! by identity, not path. If it still matches the globs it is simply
//! followed under its new path (and never read again as a new file). If it
//! no longer matches (or was deleted), it is *rotated*: it is still read
//! through its open handle, since its writer may append until it reopens
//! its log, and closed once it has been quiet for [`ROTATED_QUIET`]; its
//! last line then counts even without a newline. The new file at the path
//! is a new stream, read from its beginning.
//!
//! Copy-truncate (the file is copied, then cut to zero in place): each poll
//! compares the file's size with what was read and its first bytes with the
//! stream's fingerprint. If it shrank or its first bytes changed, it was
//! truncated (or rewritten); it is read again from the start under a new
//! key, and an unfinished line of the old content is dropped (it was cut
//! by the truncation; its whole is in the copy). Checking the fingerprint
//! catches a file that grew past the old offset again between two polls.
//!
//! After a restart, a committed stream whose file the globs no longer match
//! is looked for in the directory of its last path (where rotation puts
//! it), by device and inode and fingerprint; if it holds more than was
//! committed, the rest is read as a rotated stream. A committed stream
//! whose file is still there with other first bytes was truncated while
//! nothing read it: it is read from the start.
//!
//! What polling inherently cannot see, and loses:
//! - copy-truncate: whatever was not read before the truncation (lines
//!   written between the last read and the truncation, including those
//!   written between the copy and the truncation) is only in the copy, which
//!   is not read unless the globs match it; and globs that match the copies
//!   read them as new files, so with copy-truncate they must not.
//! - a file rotated out of the globs and deleted, or rotated twice (so that
//!   a file came and went), between two polls, or while firewatch was down
//!   and moved to another directory: its unread part is gone or unknown.
//! - truncation followed by new content with the same first 256 bytes as
//!   before and past the old offset between two polls looks like growth.
//!
//! [`SourceCounters`](crate::SourceCounters) count rotations and
//! truncations, so that these cases are visible.

use std::collections::{HashMap, HashSet};
use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime};

use firewatch_event::{Batch, Checkpoint, Position, Timestamp};
use serde::{Deserialize, Serialize};
use tokio::time::Instant;
use tracing::{debug, info, warn};

use crate::IngestError;
use crate::identity::{FINGERPRINT_BYTES, FileId, StreamKey};
use crate::records::{ReadyBatch, RecordAssembler, RecordSettings, StreamPoint};
use crate::source::{Source, SourceContext, SourceFuture};

/// Default for [`FileSourceConfig::max_line_bytes`]: 1 MiB.
pub const DEFAULT_MAX_LINE_BYTES: usize = 1024 * 1024;
/// Default for [`FileSourceConfig::batch_lines`].
pub const DEFAULT_BATCH_LINES: usize = 1024;
/// Default for [`FileSourceConfig::poll_interval`].
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_millis(250);

/// Bytes read from a file at a time.
pub(crate) const CHUNK_BYTES: usize = 256 * 1024;
/// How long a followed stream must be quiet before the multiline joiner's
/// record is taken as complete.
pub(crate) const QUIET_PERIOD: Duration = Duration::from_secs(1);
/// How much of one file is read before the other followed files get a turn.
const TURN_BYTES: u64 = 8 * CHUNK_BYTES as u64;
/// How long a rotated file (one that left the globs) must give no new bytes
/// before it is closed: its writer may append until it reopens its log.
pub(crate) const ROTATED_QUIET: Duration = Duration::from_secs(5);

/// Where to start reading a file that has no committed position.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StartAt {
    /// Read the whole file.
    #[default]
    Beginning,
    /// Skip what the file holds at startup; read only what is appended.
    /// Files that appear later are read from their beginning.
    End,
}

/// Settings of a [`FileSource`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileSourceConfig {
    /// The source's name, which is also the `source` of its events.
    pub name: String,
    /// Glob patterns of the files to read, e.g. `fixtures/quickstart/*.log`;
    /// a plain path is a pattern that matches itself. Only regular files are
    /// read; directories and special files that match are skipped.
    pub paths: Vec<String>,
    /// Keep reading: pick up what files gain and new files that match,
    /// until shutdown. Without it, the source returns once every matched
    /// file is read to its end.
    pub follow: bool,
    /// Where to start in a file with no committed position.
    pub start_at: StartAt,
    /// Longest record in bytes: longer lines are cut to this length and
    /// marked truncated, and the rest of the line is skipped.
    pub max_line_bytes: usize,
    /// Join continuation lines (stack traces) to the line they continue.
    pub multiline: bool,
    /// Most records in one batch.
    pub batch_lines: usize,
    /// In follow mode, how often to look for new data and new files.
    pub poll_interval: Duration,
}

impl Default for FileSourceConfig {
    fn default() -> Self {
        Self {
            name: String::new(),
            paths: Vec::new(),
            follow: false,
            start_at: StartAt::Beginning,
            max_line_bytes: DEFAULT_MAX_LINE_BYTES,
            multiline: false,
            batch_lines: DEFAULT_BATCH_LINES,
            poll_interval: DEFAULT_POLL_INTERVAL,
        }
    }
}

/// Reads files matched by globs, once or following them.
#[derive(Debug)]
pub struct FileSource {
    config: FileSourceConfig,
}

impl FileSource {
    /// A file source; patterns are checked when it runs.
    pub fn new(config: FileSourceConfig) -> Self {
        Self { config }
    }
}

impl Source for FileSource {
    fn name(&self) -> &str {
        &self.config.name
    }

    fn run(self: Box<Self>, context: SourceContext) -> SourceFuture {
        Box::pin(async move {
            let mut tailer = Tailer::new(self.config, &context)?;
            let outcome = if tailer.follow {
                tailer.follow(&context).await
            } else {
                tailer.read_once(&context).await
            };
            context.settle(outcome)
        })
    }
}

/// A file a glob matched, as the last look saw it.
#[derive(Debug)]
struct FoundFile {
    path: PathBuf,
    file_id: FileId,
    len: u64,
}

/// What one look at the globs found.
#[derive(Debug, Default)]
struct Discovery {
    files: Vec<FoundFile>,
    unmatched_patterns: Vec<String>,
}

/// The running state of a file source.
struct Tailer {
    source: Arc<str>,
    patterns: Arc<[String]>,
    follow: bool,
    start_at: StartAt,
    poll_interval: Duration,
    settings: RecordSettings,
    streams: Vec<FileStream>,
    buffer: Vec<u8>,
}

impl Tailer {
    fn new(config: FileSourceConfig, context: &SourceContext) -> Result<Self, IngestError> {
        for pattern in &config.paths {
            glob::Pattern::new(pattern).map_err(|error| IngestError::InvalidGlob {
                source_name: config.name.clone(),
                pattern: pattern.clone(),
                reason: error.msg.to_owned(),
            })?;
        }
        debug!(source = %config.name, resumable_streams = context.resume.streams(&config.name).count(), "file source starting");
        Ok(Self {
            source: config.name.into(),
            patterns: config.paths.into(),
            follow: config.follow,
            start_at: config.start_at,
            poll_interval: config.poll_interval,
            settings: RecordSettings {
                max_line_bytes: config.max_line_bytes,
                multiline: config.multiline,
                batch_lines: config.batch_lines,
            },
            streams: Vec::new(),
            buffer: vec![0; CHUNK_BYTES],
        })
    }

    /// Reads every matched file to its end, one after another.
    async fn read_once(&mut self, context: &SourceContext) -> Result<(), IngestError> {
        let discovery = self.discover().await?;
        for pattern in &discovery.unmatched_patterns {
            warn!(source = %self.source, pattern, "no file matches the pattern");
        }
        // Files rotated away since the last commit hold older lines.
        // (all they hold was written since: they are read from their
        // committed position or, unknown to any commit, from the start).
        let moved = self.find_moved(&discovery, context).await;
        let starts = moved
            .iter()
            .map(|found| (found, StartAt::Beginning))
            .chain(discovery.files.iter().map(|found| (found, self.start_at)));
        for (found, start_at) in starts {
            let Some(mut stream) = self.open_stream(found, start_at, context).await? else {
                continue;
            };
            if !stream
                .read_available(&mut self.buffer, None, context)
                .await?
            {
                // Shutdown: send what is complete; the rest is read again
                // from the last position on the next run.
                return stream.send_ready(context).await;
            }
            stream.records.end_of_input();
            stream.send_ready(context).await?;
        }
        Ok(())
    }

    /// Reads, then polls for growth and new files, until shutdown.
    async fn follow(&mut self, context: &SourceContext) -> Result<(), IngestError> {
        let mut start_at = self.start_at;
        let mut first_look = true;
        loop {
            let discovery = self.discover().await?;
            if first_look {
                for pattern in &discovery.unmatched_patterns {
                    info!(source = %self.source, pattern, "no file matches the pattern yet");
                }
                for found in self.find_moved(&discovery, context).await {
                    let opened = self
                        .open_stream(&found, StartAt::Beginning, context)
                        .await?;
                    if let Some(mut stream) = opened {
                        info!(source = %self.source, path = %found.path.display(), "reading the rest of a file rotated away since the last commit");
                        stream.rotated = true;
                        self.streams.push(stream);
                    }
                }
                first_look = false;
            }
            self.reconcile(discovery.files, start_at, context).await?;
            // Files that appear after startup are read from their beginning:
            // all they hold was written since.
            start_at = StartAt::Beginning;

            let mut caught_up = true;
            for stream in &mut self.streams {
                let turn = Some(TURN_BYTES);
                caught_up &= stream
                    .read_available(&mut self.buffer, turn, context)
                    .await?;
                if stream.records.holds_record() && stream.last_data.elapsed() >= QUIET_PERIOD {
                    stream.records.flush_joiner();
                }
                stream.send_ready(context).await?;
            }
            if context.shutdown.is_cancelled() {
                return Ok(());
            }
            if caught_up {
                tokio::select! {
                    () = context.shutdown.cancelled() => return Ok(()),
                    () = tokio::time::sleep(self.poll_interval) => {}
                }
            } else {
                tokio::task::yield_now().await;
            }
        }
    }

    async fn discover(&self) -> Result<Discovery, IngestError> {
        let patterns = Arc::clone(&self.patterns);
        off_runtime(move || discover(&patterns)).await
    }

    /// Committed streams that `discovery` did not find, still unfinished,
    /// in the directory of their committed path, and the generations
    /// rotated after them that no commit knows of (see [`find_moved`]).
    async fn find_moved(&self, discovery: &Discovery, context: &SourceContext) -> Vec<FoundFile> {
        let mut known: HashSet<FileId> = discovery.files.iter().map(|file| file.file_id).collect();
        let committed: Vec<Position> = context
            .resume
            .streams(&self.source)
            .filter(|position| {
                FileId::of_key(&position.stream).is_some_and(|file_id| !known.contains(&file_id))
            })
            .cloned()
            .collect();
        if committed.is_empty() {
            return Vec::new();
        }
        known.extend(
            context
                .resume
                .streams(&self.source)
                .filter_map(|position| FileId::of_key(&position.stream)),
        );
        // The names generations rotate from: what the globs match now, and
        // what commits knew.
        let file_name = |path: &Path| path.file_name().map(OsStr::to_owned);
        let matched: HashSet<OsString> = discovery
            .files
            .iter()
            .filter_map(|file| file_name(&file.path))
            .collect();
        let mut names = matched.clone();
        names.extend(
            context
                .resume
                .streams(&self.source)
                .filter_map(|position| position.path.as_deref())
                .filter_map(|path| file_name(Path::new(path))),
        );
        off_runtime(move || find_moved(&committed, &known, &matched, &names)).await
    }

    /// Brings the followed streams in line with what the globs match now.
    async fn reconcile(
        &mut self,
        found: Vec<FoundFile>,
        start_at: StartAt,
        context: &SourceContext,
    ) -> Result<(), IngestError> {
        let mut found_by_id: HashMap<FileId, FoundFile> =
            found.into_iter().map(|file| (file.file_id, file)).collect();
        let mut index = 0;
        while index < self.streams.len() {
            let Some(current) = found_by_id.remove(&self.streams[index].file_id) else {
                let stream = &mut self.streams[index];
                if !stream.rotated {
                    info!(source = %self.source, path = %stream.path.display(), "file left the globs (rotated or deleted): reading it until it goes quiet");
                    context.counters.rotations.fetch_add(1, Ordering::Relaxed);
                    stream.rotated = true;
                    // The quiet period starts now, not at the last data.
                    stream.last_data = Instant::now();
                }
                if stream.last_data.elapsed() < ROTATED_QUIET {
                    index += 1;
                    continue;
                }
                let mut stream = self.streams.remove(index);
                info!(source = %self.source, path = %stream.path.display(), "rotated file is quiet: reading what is left and closing it");
                stream
                    .read_available(&mut self.buffer, None, context)
                    .await?;
                stream.records.end_of_input();
                stream.send_ready(context).await?;
                continue;
            };
            let stream = &mut self.streams[index];
            stream.rotated = false;
            if current.path != stream.path {
                debug!(source = %self.source, from = %stream.path.display(), to = %current.path.display(), "file renamed");
                context.counters.rotations.fetch_add(1, Ordering::Relaxed);
                stream.path_text = current.path.display().to_string();
                stream.path = current.path;
            }
            let head = stream.read_head().await?;
            if current.len < stream.records.offset()
                || !StreamKey::names(stream.key.as_str(), stream.file_id, &head)
            {
                warn!(source = %self.source, path = %stream.path.display(), read = stream.records.offset(), len = current.len, "file was truncated or rewritten: reading it again from the start");
                context.counters.truncations.fetch_add(1, Ordering::Relaxed);
                // Complete records stand; an unfinished line was cut by the
                // truncation and is dropped, not sent in pieces.
                stream.records.flush_joiner();
                stream.send_ready(context).await?;
                let key = StreamKey::new(stream.file_id, &head);
                stream
                    .records
                    .restart(key.as_str().to_owned(), StreamPoint::default());
                stream.key = key;
            } else if !stream.key.is_complete() && head.len() >= FINGERPRINT_BYTES {
                stream.key = StreamKey::new(stream.file_id, &head);
                stream
                    .records
                    .set_stream_key(stream.key.as_str().to_owned());
            }
            index += 1;
        }
        let mut new_files: Vec<FoundFile> = found_by_id.into_values().collect();
        new_files.sort_by(|left, right| left.path.cmp(&right.path));
        for found in &new_files {
            if let Some(stream) = self.open_stream(found, start_at, context).await? {
                self.streams.push(stream);
            }
        }
        Ok(())
    }

    /// Opens a file and decides where to start in it. `None`: the file was
    /// removed after it was matched.
    async fn open_stream(
        &self,
        found: &FoundFile,
        start_at: StartAt,
        context: &SourceContext,
    ) -> Result<Option<FileStream>, IngestError> {
        let path = found.path.clone();
        let opened = match off_runtime(move || open_file(&path)).await {
            Ok(opened) => opened,
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(error) => {
                return Err(IngestError::Open {
                    path: found.path.clone(),
                    error,
                });
            }
        };
        let committed = context
            .resume
            .streams(&self.source)
            .filter(|position| StreamKey::names(&position.stream, opened.file_id, &opened.head))
            .max_by_key(|position| position.offset);
        let file = Arc::new(opened.file);
        let (key, start) = match committed {
            Some(position) if position.offset <= opened.len => {
                let key = StreamKey::resumed(opened.file_id, &opened.head, Some(&position.stream));
                let start = StreamPoint {
                    offset: position.offset,
                    line: position.line,
                };
                (key, start)
            }
            Some(position) => {
                warn!(source = %self.source, path = %found.path.display(), committed = position.offset, len = opened.len, "file is shorter than its committed position: it was truncated, reading it from the start");
                context.counters.truncations.fetch_add(1, Ordering::Relaxed);
                let key = StreamKey::new(opened.file_id, &opened.head);
                (key, StreamPoint::default())
            }
            None if rewritten_since_commit(&context.resume, &self.source, opened.file_id) => {
                warn!(source = %self.source, path = %found.path.display(), "file was truncated or rewritten since the last commit: reading it from the start");
                context.counters.truncations.fetch_add(1, Ordering::Relaxed);
                (
                    StreamKey::new(opened.file_id, &opened.head),
                    StreamPoint::default(),
                )
            }
            None => {
                let key = StreamKey::new(opened.file_id, &opened.head);
                let start = match start_at {
                    StartAt::Beginning => StreamPoint::default(),
                    StartAt::End => {
                        let (file, len) = (Arc::clone(&file), opened.len);
                        off_runtime(move || last_line_end(&file, len))
                            .await
                            .map_err(|error| IngestError::Read {
                                path: found.path.clone(),
                                offset: 0,
                                error,
                            })?
                    }
                };
                (key, start)
            }
        };
        context.counters.files.fetch_add(1, Ordering::Relaxed);
        debug!(source = %self.source, path = %found.path.display(), stream = key.as_str(), offset = start.offset, "reading file");
        Ok(Some(FileStream {
            path: found.path.clone(),
            path_text: found.path.display().to_string(),
            file_id: opened.file_id,
            file,
            records: RecordAssembler::new(
                Arc::clone(&self.source),
                key.as_str().to_owned(),
                start,
                self.settings,
                Arc::clone(&context.counters),
            ),
            key,
            last_data: Instant::now(),
            rotated: false,
        }))
    }
}

/// Whether a file with no committed position of its own has one under its
/// device and inode: it had other content when that was committed.
fn rewritten_since_commit(resume: &Checkpoint, source: &str, file_id: FileId) -> bool {
    resume
        .streams(source)
        .any(|position| FileId::of_key(&position.stream) == Some(file_id))
}

/// One open file being read.
struct FileStream {
    path: PathBuf,
    path_text: String,
    file_id: FileId,
    file: Arc<File>,
    key: StreamKey,
    records: RecordAssembler,
    /// When the file last gave new bytes.
    last_data: Instant,
    /// The file left the globs: it is read until quiet, then closed.
    rotated: bool,
}

impl FileStream {
    /// Reads what the file holds now, sending batches as they fill; the
    /// last, partly filled batch is left for the caller to end and send.
    /// Returns whether it reached the end of the file; `false` when the
    /// turn's byte budget ran out or shutdown was requested.
    async fn read_available(
        &mut self,
        buffer: &mut Vec<u8>,
        budget: Option<u64>,
        context: &SourceContext,
    ) -> Result<bool, IngestError> {
        let mut read_in_turn = 0u64;
        let reached_end = loop {
            if context.shutdown.is_cancelled() || budget.is_some_and(|bytes| read_in_turn >= bytes)
            {
                break false;
            }
            let offset = self.records.offset();
            let file = Arc::clone(&self.file);
            let mut chunk = std::mem::take(buffer);
            let (chunk, outcome) = off_runtime(move || {
                let outcome = read_chunk(&file, &mut chunk, offset);
                (chunk, outcome)
            })
            .await;
            *buffer = chunk;
            let read = outcome.map_err(|error| IngestError::Read {
                path: self.path.clone(),
                offset,
                error,
            })?;
            if read == 0 {
                break true;
            }
            context
                .counters
                .bytes
                .fetch_add(read as u64, Ordering::Relaxed);
            read_in_turn += read as u64;
            self.last_data = Instant::now();
            let mut at = 0;
            while at < read {
                at += self.records.push_bytes(&buffer[at..read]);
                while let Some(batch) = self.records.take_full_batch() {
                    self.send(batch, context).await?;
                }
            }
        };
        Ok(reached_end)
    }

    /// Sends every complete record held.
    async fn send_ready(&mut self, context: &SourceContext) -> Result<(), IngestError> {
        while let Some(batch) = self.records.take_batch() {
            self.send(batch, context).await?;
        }
        Ok(())
    }

    async fn send(&self, batch: ReadyBatch, context: &SourceContext) -> Result<(), IngestError> {
        let position = Position {
            stream: self.records.stream_key().to_owned(),
            path: Some(self.path_text.clone()),
            offset: batch.end.offset,
            line: batch.end.line,
        };
        context
            .deliver(Batch {
                source: Arc::clone(self.records.source()),
                received: Timestamp::now(),
                records: batch.records,
                position: Some(position),
                redelivered: false,
            })
            .await
    }

    async fn read_head(&self) -> Result<Vec<u8>, IngestError> {
        let file = Arc::clone(&self.file);
        off_runtime(move || read_head(&file))
            .await
            .map_err(|error| IngestError::Read {
                path: self.path.clone(),
                offset: 0,
                error,
            })
    }
}

/// Runs blocking file system work on tokio's blocking pool.
async fn off_runtime<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> T {
    match tokio::task::spawn_blocking(work).await {
        Ok(value) => value,
        Err(error) if error.is_panic() => std::panic::resume_unwind(error.into_panic()),
        // Blocking work is only cancelled when the runtime shuts down, and
        // then the runtime drops this task at this very await.
        Err(_) => std::future::pending().await,
    }
}

/// Globs every pattern; blocking.
fn discover(patterns: &[String]) -> Result<Discovery, IngestError> {
    let mut discovery = Discovery::default();
    let mut seen = HashSet::new();
    for pattern in patterns {
        let mut matched = false;
        // Patterns were checked when the source was built.
        let Ok(paths) = glob::glob(pattern) else {
            continue;
        };
        for entry in paths {
            let path = match entry {
                Ok(path) => path,
                Err(error) => {
                    warn!(path = %error.path().display(), error = %error.error(), "cannot list directory while matching files");
                    continue;
                }
            };
            let metadata = match std::fs::metadata(&path) {
                Ok(metadata) => metadata,
                // Removed between listing and looking.
                Err(error) if error.kind() == io::ErrorKind::NotFound => continue,
                Err(error) => return Err(IngestError::Open { path, error }),
            };
            if !metadata.is_file() {
                continue;
            }
            matched = true;
            let file_id = FileId::of(&metadata);
            if seen.insert(file_id) {
                discovery.files.push(FoundFile {
                    path,
                    file_id,
                    len: metadata.len(),
                });
            }
        }
        if !matched {
            discovery.unmatched_patterns.push(pattern.clone());
        }
    }
    Ok(discovery)
}

/// The committed files in `committed` (which the globs do not match
/// now) that hold unread lines, found by identity in the directory of
/// their committed path: rotated away since the commit, or, still at their
/// committed path, rotated generations of a file the globs match
/// (`matched` names) that were being read when it was made (a file left
/// out of the globs otherwise is not read). And the generations
/// rotated after them that no commit and no glob knows (`known`): files of
/// that directory named like one of `names` plus a suffix (`app.log.2`,
/// `app.log-20261126`; not compressed) and last written no earlier than
/// the committed file (file times are coarse: a rotation within the same
/// tick has the same time). Such a generation was created and rotated away
/// while firewatch was down or between two commits: nothing else leads to
/// it. Oldest first; blocking.
fn find_moved(
    committed: &[Position],
    known: &HashSet<FileId>,
    matched: &HashSet<OsString>,
    names: &HashSet<OsString>,
) -> Vec<FoundFile> {
    let mut listings: HashMap<PathBuf, Vec<ListedFile>> = HashMap::new();
    let mut moved: Vec<(SystemTime, FoundFile)> = Vec::new();
    let add = |moved: &mut Vec<(SystemTime, FoundFile)>, file: &ListedFile| {
        if !moved.iter().any(|(_, found)| found.file_id == file.file_id) {
            moved.push((
                file.modified,
                FoundFile {
                    path: file.path.clone(),
                    file_id: file.file_id,
                    len: file.len,
                },
            ));
        }
    };
    for position in committed {
        let (Some(file_id), Some(committed_path)) =
            (FileId::of_key(&position.stream), &position.path)
        else {
            continue;
        };
        let committed_path = Path::new(committed_path);
        let Some(directory) = committed_path.parent() else {
            continue;
        };
        let listing = listings
            .entry(directory.to_owned())
            .or_insert_with(|| list_files(directory));
        let Some(file) = listing.iter().find(|file| file.file_id == file_id) else {
            continue;
        };
        if file.path == committed_path
            && !matched
                .iter()
                .any(|name| is_rotation_of(name, committed_path))
        {
            continue;
        }
        let same_content = File::open(&file.path)
            .and_then(|opened| read_head(&opened))
            .is_ok_and(|head| StreamKey::names(&position.stream, file_id, &head));
        if !same_content {
            continue;
        }
        if file.len > position.offset {
            add(&mut moved, file);
        }
        for later in listing.iter().filter(|later| {
            later.modified >= file.modified
                && !known.contains(&later.file_id)
                && names.iter().any(|name| is_rotation_of(name, &later.path))
        }) {
            add(&mut moved, later);
        }
    }
    moved.sort_by_key(|(modified, _)| *modified);
    moved.into_iter().map(|(_, found)| found).collect()
}

/// Whether `path` is named like a rotated generation of a file named
/// `name`: the name, a separator, then anything but a compression suffix.
fn is_rotation_of(name: &OsStr, path: &Path) -> bool {
    const COMPRESSED: [&str; 5] = [".gz", ".bz2", ".xz", ".zst", ".lz4"];
    let (Some(name), Some(candidate)) = (name.to_str(), path.file_name().and_then(OsStr::to_str))
    else {
        return false;
    };
    candidate
        .strip_prefix(name)
        .and_then(|suffix| suffix.strip_prefix(['.', '-', '_']))
        .is_some_and(|suffix| {
            !suffix.is_empty() && !COMPRESSED.iter().any(|ext| suffix.ends_with(ext))
        })
}

/// A regular file of a directory listing.
struct ListedFile {
    file_id: FileId,
    path: PathBuf,
    len: u64,
    modified: SystemTime,
}

/// The regular files of a directory; blocking. A directory that cannot be listed has none.
fn list_files(directory: &Path) -> Vec<ListedFile> {
    let Ok(entries) = std::fs::read_dir(directory) else {
        return Vec::new();
    };
    entries
        .filter_map(|entry| {
            let path = entry.ok()?.path();
            let metadata = std::fs::metadata(&path).ok()?;
            metadata.is_file().then(|| ListedFile {
                file_id: FileId::of(&metadata),
                len: metadata.len(),
                modified: metadata.modified().unwrap_or(SystemTime::UNIX_EPOCH),
                path,
            })
        })
        .collect()
}

/// An open file with what identifies it.
struct OpenedFile {
    file: File,
    file_id: FileId,
    len: u64,
    head: Vec<u8>,
}

/// Opens a file and reads its first bytes; blocking.
fn open_file(path: &Path) -> io::Result<OpenedFile> {
    let file = File::open(path)?;
    let metadata = file.metadata()?;
    let head = read_head(&file)?;
    Ok(OpenedFile {
        file_id: FileId::of(&metadata),
        // A file that grew between the two calls has at least this much.
        len: metadata.len().max(head.len() as u64),
        head,
        file,
    })
}

/// The first [`FINGERPRINT_BYTES`] of a file (fewer if it is shorter); blocking.
fn read_head(mut file: &File) -> io::Result<Vec<u8>> {
    let mut head = Vec::with_capacity(FINGERPRINT_BYTES);
    file.seek(SeekFrom::Start(0))?;
    file.take(FINGERPRINT_BYTES as u64).read_to_end(&mut head)?;
    Ok(head)
}

/// Reads from `offset` into `chunk`; 0 at the end of the file; blocking.
fn read_chunk(mut file: &File, chunk: &mut [u8], offset: u64) -> io::Result<usize> {
    file.seek(SeekFrom::Start(offset))?;
    loop {
        match file.read(chunk) {
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            outcome => return outcome,
        }
    }
}

/// The point after the last newline within the first `len` bytes, with the
/// number of lines before it; blocking.
fn last_line_end(file: &File, len: u64) -> io::Result<StreamPoint> {
    let mut chunk = vec![0; CHUNK_BYTES];
    let mut offset = 0;
    let mut end = StreamPoint::default();
    while offset < len {
        let wanted =
            usize::try_from(len - offset).map_or(CHUNK_BYTES, |left| left.min(CHUNK_BYTES));
        let read = read_chunk(file, &mut chunk[..wanted], offset)?;
        if read == 0 {
            break;
        }
        let piece = &chunk[..read];
        let newlines = memchr::memchr_iter(b'\n', piece).count() as u64;
        if let Some(last) = memchr::memrchr(b'\n', piece) {
            end = StreamPoint {
                offset: offset + last as u64 + 1,
                line: end.line + newlines,
            };
        }
        offset += read as u64;
    }
    Ok(end)
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use firewatch_event::{Checkpoint, EventId, RawRecord};
    use tokio::sync::mpsc;
    use tokio::task::JoinHandle;
    use tokio_util::sync::CancellationToken;

    use super::*;
    use crate::SourceCounters;

    #[test]
    fn rotated_generations_are_told_by_name() {
        let name = OsStr::new("app.log");
        for rotated in ["app.log.1", "app.log.12", "app.log-20261126", "app.log_old"] {
            assert!(is_rotation_of(name, Path::new(rotated)), "{rotated}");
        }
        for other in [
            "app.log",
            "app.log.",
            "app.log.2.gz",
            "app.log-20261126.zst",
            "app.logger",
            "other.log.1",
        ] {
            assert!(!is_rotation_of(name, Path::new(other)), "{other}");
        }
    }

    /// A running source and the receiving end of its channel.
    struct Running {
        batches: mpsc::Receiver<Batch>,
        shutdown: CancellationToken,
        counters: Arc<SourceCounters>,
        task: JoinHandle<Result<(), IngestError>>,
    }

    impl Running {
        /// The next batch, failing the test if none comes within a while.
        async fn next(&mut self) -> Batch {
            tokio::time::timeout(Duration::from_secs(10), self.batches.recv())
                .await
                .expect("a batch in time")
                .expect("the source is still running")
        }

        /// Every batch until the source ends, and its outcome.
        async fn finish(mut self) -> (Vec<Batch>, Result<(), IngestError>) {
            let mut batches = Vec::new();
            while let Some(batch) = self.batches.recv().await {
                batches.push(batch);
            }
            (batches, self.task.await.unwrap())
        }

        /// Asks the source to stop, and returns what it still sent.
        async fn stop(self) -> Vec<Batch> {
            self.shutdown.cancel();
            let (batches, outcome) = tokio::time::timeout(Duration::from_secs(5), self.finish())
                .await
                .expect("a prompt stop");
            outcome.unwrap();
            batches
        }
    }

    fn start(config: FileSourceConfig, resume: Checkpoint) -> Running {
        let (output, batches) = mpsc::channel(4);
        let context = SourceContext {
            output,
            resume,
            shutdown: CancellationToken::new(),
            counters: Arc::default(),
            committed: tokio::sync::watch::channel(Checkpoint::default()).1,
        };
        let shutdown = context.shutdown.clone();
        let counters = Arc::clone(&context.counters);
        let task = tokio::spawn(Box::new(FileSource::new(config)).run(context));
        Running {
            batches,
            shutdown,
            counters,
            task,
        }
    }

    fn config(directory: &Path, pattern: &str) -> FileSourceConfig {
        let directory = glob::Pattern::escape(&directory.display().to_string());
        FileSourceConfig {
            name: "app".into(),
            paths: vec![format!("{directory}/{pattern}")],
            poll_interval: Duration::from_millis(10),
            ..FileSourceConfig::default()
        }
    }

    fn following(directory: &Path, pattern: &str) -> FileSourceConfig {
        FileSourceConfig {
            follow: true,
            ..config(directory, pattern)
        }
    }

    async fn read_all(config: FileSourceConfig, resume: Checkpoint) -> Vec<Batch> {
        let (batches, outcome) = start(config, resume).finish().await;
        outcome.unwrap();
        batches
    }

    fn records(batches: &[Batch]) -> Vec<&RawRecord> {
        batches.iter().flat_map(|batch| &batch.records).collect()
    }

    fn texts(batches: &[Batch]) -> Vec<String> {
        records(batches)
            .iter()
            .map(|record| String::from_utf8_lossy(&record.bytes).into_owned())
            .collect()
    }

    fn checkpoint_after(batches: &[Batch]) -> Checkpoint {
        let mut checkpoint = Checkpoint::default();
        for batch in batches {
            checkpoint.advance(&batch.source, batch.position.clone().unwrap());
        }
        checkpoint
    }

    fn append(path: &Path, bytes: &[u8]) {
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(path)
            .unwrap();
        file.write_all(bytes).unwrap();
    }

    #[tokio::test]
    async fn files_matched_by_a_glob_are_read_in_order_and_completely() {
        let dir = tempfile::tempdir().unwrap();
        let first = b"one\r\ntwo\r\n\r\nthree";
        std::fs::write(dir.path().join("a.log"), first).unwrap();
        std::fs::write(dir.path().join("b.log"), b"four\n").unwrap();
        std::fs::write(dir.path().join("c.txt"), b"not matched\n").unwrap();

        let batches = read_all(config(dir.path(), "*.log"), Checkpoint::default()).await;
        assert_eq!(texts(&batches), ["one", "two", "", "three", "four"]);
        let lines: Vec<u64> = records(&batches).iter().map(|record| record.line).collect();
        assert_eq!(lines, [1, 2, 3, 4, 1]);

        assert_eq!(batches.len(), 2, "one batch per file");
        let position = batches[0].position.clone().unwrap();
        assert_eq!((position.offset, position.line), (first.len() as u64, 4));
        assert!(position.path.unwrap().ends_with("a.log"));
        let position = batches[1].position.clone().unwrap();
        assert_eq!((position.offset, position.line), (5, 1));
        assert_ne!(
            batches[0].position.as_ref().unwrap().stream,
            position.stream
        );

        let starts = [0u64, 5, 10, 12];
        for (record, start) in batches[0].records.iter().zip(starts) {
            let key = &batches[0].position.as_ref().unwrap().stream;
            let expected = EventId::from_parts(&[b"app", key.as_bytes(), &start.to_le_bytes()]);
            assert_eq!(record.id, expected);
        }
        let ids: HashSet<EventId> = records(&batches).iter().map(|record| record.id).collect();
        assert_eq!(ids.len(), 5, "ids are distinct per line");
        let again = read_all(config(dir.path(), "*.log"), Checkpoint::default()).await;
        let ids_again: HashSet<EventId> = records(&again).iter().map(|record| record.id).collect();
        assert_eq!(ids, ids_again, "ids are stable across runs");
    }

    #[tokio::test]
    async fn batches_are_bounded_and_each_ends_after_its_last_record() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.log"), b"1\n22\n333\n4444\n55555\n").unwrap();
        let config = FileSourceConfig {
            batch_lines: 2,
            ..config(dir.path(), "a.log")
        };
        let batches = read_all(config, Checkpoint::default()).await;
        let ends: Vec<(usize, u64, u64)> = batches
            .iter()
            .map(|batch| {
                let position = batch.position.as_ref().unwrap();
                (batch.records.len(), position.offset, position.line)
            })
            .collect();
        assert_eq!(ends, [(2, 5, 2), (2, 14, 4), (1, 20, 5)]);
    }

    #[tokio::test]
    async fn a_line_over_the_limit_is_cut_and_marked_and_the_next_is_intact() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.log");
        let mut content = vec![b'x'; 5 * 1024 * 1024];
        content.extend_from_slice(b"\r\nnext line\r\n");
        std::fs::write(&path, &content).unwrap();
        let config = FileSourceConfig {
            max_line_bytes: 64 * 1024,
            ..config(dir.path(), "big.log")
        };
        let running = start(config, Checkpoint::default());
        let counters = Arc::clone(&running.counters);
        let (batches, outcome) = running.finish().await;
        outcome.unwrap();
        let records = records(&batches);
        assert_eq!(records.len(), 2);
        assert_eq!(records[0].bytes.len(), 64 * 1024);
        assert!(records[0].truncated);
        assert_eq!(records[1].bytes, b"next line");
        assert!(!records[1].truncated);
        assert_eq!(records[1].line, 2);
        let counted = counters.snapshot();
        assert_eq!(
            (
                counted.lines,
                counted.truncated,
                counted.bytes,
                counted.files
            ),
            (2, 1, content.len() as u64, 1)
        );
    }

    /// The same holds for a 100 MB line: the splitter keeps at most the
    /// limit of an unfinished line (see `lines.rs`), so memory does not
    /// grow with the line.
    #[tokio::test]
    async fn a_long_line_without_newline_is_cut_at_the_end_of_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("huge.log");
        std::fs::write(&path, vec![b'y'; 20 * 1024 * 1024]).unwrap();
        let config = FileSourceConfig {
            max_line_bytes: 64 * 1024,
            ..config(dir.path(), "huge.log")
        };
        let batches = read_all(config, Checkpoint::default()).await;
        let records = records(&batches);
        assert_eq!(records.len(), 1);
        assert_eq!(records[0].bytes.len(), 64 * 1024);
        assert!(records[0].truncated);
        assert_eq!(
            batches[0].position.as_ref().unwrap().offset,
            20 * 1024 * 1024
        );
    }

    #[tokio::test]
    async fn invalid_utf8_passes_through_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let line = b"caf\xe9 \xff\xfe \xc3(\x80";
        let mut content = line.to_vec();
        content.push(b'\n');
        std::fs::write(dir.path().join("latin1.log"), &content).unwrap();
        let batches = read_all(config(dir.path(), "*.log"), Checkpoint::default()).await;
        assert_eq!(records(&batches)[0].bytes, line);
    }

    #[tokio::test]
    async fn a_resumed_file_goes_on_after_its_committed_position() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("app.log");
        let mut content = String::new();
        for number in 1..=20 {
            content.push_str(&format!(
                "line {number} padded to make the file longer than a fingerprint\n"
            ));
        }
        std::fs::write(&path, &content).unwrap();
        let first = read_all(config(dir.path(), "*.log"), Checkpoint::default()).await;
        assert_eq!(records(&first).len(), 20);

        append(&path, b"line 21\nline 22\n");
        let second = read_all(config(dir.path(), "*.log"), checkpoint_after(&first)).await;
        assert_eq!(texts(&second), ["line 21", "line 22"]);
        let lines: Vec<u64> = records(&second).iter().map(|record| record.line).collect();
        assert_eq!(lines, [21, 22]);
        let first_key = &first[0].position.as_ref().unwrap().stream;
        assert_eq!(&second[0].position.as_ref().unwrap().stream, first_key);

        let third = read_all(config(dir.path(), "*.log"), checkpoint_after(&second)).await;
        assert!(third.is_empty(), "nothing is read twice");
    }

    #[tokio::test]
    async fn a_short_file_is_found_again_after_it_grows_past_the_fingerprint() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("app.log");
        std::fs::write(&path, b"short\n").unwrap();
        let first = read_all(config(dir.path(), "*.log"), Checkpoint::default()).await;
        let short_key = first[0].position.as_ref().unwrap().stream.clone();
        assert!(short_key.ends_with("/6"), "{short_key}");

        append(&path, &[b'z'; 300]);
        append(&path, b"\n");
        let second = read_all(config(dir.path(), "*.log"), checkpoint_after(&first)).await;
        let records = records(&second);
        assert_eq!(records.len(), 1);
        assert_eq!(records[0].line, 2);
        assert_eq!(records[0].bytes.len(), 300);
        let complete_key = &second[0].position.as_ref().unwrap().stream;
        assert!(!complete_key.contains('/'), "{complete_key}");
    }

    #[tokio::test]
    async fn a_file_shorter_than_its_committed_position_is_read_from_the_start() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("app.log");
        std::fs::write(&path, b"old one\nold two\n").unwrap();
        let first = read_all(config(dir.path(), "*.log"), Checkpoint::default()).await;
        let mut checkpoint = checkpoint_after(&first);
        // The same file as committed, but the commit saw more of it.
        let position = checkpoint
            .sources
            .get_mut("app")
            .unwrap()
            .values_mut()
            .next()
            .unwrap();
        position.offset += 100;
        let again = read_all(config(dir.path(), "*.log"), checkpoint).await;
        assert_eq!(texts(&again), ["old one", "old two"]);
        assert_eq!(records(&again)[0].line, 1);
    }

    #[tokio::test]
    async fn patterns_that_match_nothing_give_nothing_and_bad_patterns_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let batches = read_all(config(dir.path(), "*.log"), Checkpoint::default()).await;
        assert!(batches.is_empty());

        let (_, outcome) = start(config(dir.path(), "[unclosed"), Checkpoint::default())
            .finish()
            .await;
        let error = outcome.unwrap_err().to_string();
        assert!(
            error.contains("[unclosed") && error.contains("\"app\""),
            "{error}"
        );
    }

    #[tokio::test]
    async fn followed_files_deliver_appended_lines_and_new_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.log");
        std::fs::write(&path, b"first\n").unwrap();
        let mut running = start(following(dir.path(), "*.log"), Checkpoint::default());
        assert_eq!(texts(&[running.next().await]), ["first"]);

        append(&path, b"second\nthird\n");
        let mut seen = Vec::new();
        while seen.len() < 2 {
            seen.extend(texts(&[running.next().await]));
        }
        assert_eq!(seen, ["second", "third"]);

        std::fs::write(dir.path().join("b.log"), b"from a new file\n").unwrap();
        let batch = running.next().await;
        assert_eq!(texts(std::slice::from_ref(&batch)), ["from a new file"]);
        assert!(batch.position.unwrap().path.unwrap().ends_with("b.log"));

        let counters = running.counters.snapshot();
        assert_eq!((counters.files, counters.lines), (2, 4));
        assert!(running.stop().await.is_empty());
    }

    #[tokio::test]
    async fn an_unfinished_line_waits_for_its_newline_and_survives_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.log");
        std::fs::write(&path, b"done\nhalf a li").unwrap();
        let mut running = start(following(dir.path(), "*.log"), Checkpoint::default());
        let batch = running.next().await;
        assert_eq!(texts(std::slice::from_ref(&batch)), ["done"]);
        assert_eq!(batch.position.as_ref().unwrap().offset, 5);
        assert!(
            running.stop().await.is_empty(),
            "the unfinished line is held"
        );

        append(&path, b"ne\n");
        let mut running = start(following(dir.path(), "*.log"), checkpoint_after(&[batch]));
        let batch = running.next().await;
        assert_eq!(texts(std::slice::from_ref(&batch)), ["half a line"]);
        assert_eq!(batch.records[0].line, 2);
        running.stop().await;
    }

    #[tokio::test]
    async fn start_at_end_skips_existing_content_and_keeps_line_numbers() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.log");
        std::fs::write(&path, b"old\nolder\nbeing writ").unwrap();
        let config = FileSourceConfig {
            start_at: StartAt::End,
            ..following(dir.path(), "*.log")
        };
        let mut running = start(config, Checkpoint::default());
        // Append only once the source has decided where the end is.
        while running.counters.snapshot().files == 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        append(&path, b"ten\nnew\n");
        let mut seen = Vec::new();
        while seen.len() < 2 {
            let batch = running.next().await;
            seen.extend(batch.records.iter().map(|record| {
                (
                    String::from_utf8_lossy(&record.bytes).into_owned(),
                    record.line,
                )
            }));
        }
        assert_eq!(
            seen,
            [("being written".to_owned(), 3), ("new".to_owned(), 4)]
        );
        running.stop().await;
    }

    #[tokio::test]
    async fn a_truncated_followed_file_is_read_again_from_the_start() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.log");
        std::fs::write(&path, b"before truncation, a long enough line\n").unwrap();
        let mut running = start(following(dir.path(), "*.log"), Checkpoint::default());
        running.next().await;
        std::fs::write(&path, b"after\n").unwrap();
        let batch = running.next().await;
        assert_eq!(texts(std::slice::from_ref(&batch)), ["after"]);
        assert_eq!(batch.records[0].line, 1);
        assert_eq!(batch.position.unwrap().offset, 6);
        running.stop().await;
    }

    /// Lines `first..=last`, each long enough that a few of them exceed the
    /// fingerprint.
    fn numbered(first: u64, last: u64) -> String {
        (first..=last)
            .map(|number| {
                format!("line {number} padded to make the file longer than a fingerprint\n")
            })
            .collect()
    }

    /// Collects records from a followed source until `count` have come.
    async fn next_texts(running: &mut Running, count: usize) -> Vec<String> {
        let mut seen = Vec::new();
        while seen.len() < count {
            seen.extend(texts(&[running.next().await]));
        }
        seen
    }

    #[tokio::test]
    async fn a_renamed_file_is_read_to_its_end_and_the_new_file_from_its_start() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.log");
        std::fs::write(&path, numbered(1, 5)).unwrap();
        let mut running = start(following(dir.path(), "*.log"), Checkpoint::default());
        assert_eq!(next_texts(&mut running, 5).await.len(), 5);

        let rotated = dir.path().join("a.log.1");
        std::fs::rename(&path, &rotated).unwrap();
        // The writer appends through its old handle until it reopens.
        append(&rotated, b"written after the rename\n");
        std::fs::write(&path, b"in the new file\n").unwrap();
        let mut seen = next_texts(&mut running, 2).await;
        seen.sort();
        assert_eq!(seen, ["in the new file", "written after the rename"]);
        let counters = running.counters.snapshot();
        assert_eq!((counters.rotations, counters.files), (1, 2));
        assert!(running.stop().await.is_empty(), "nothing is read twice");
    }

    #[tokio::test]
    async fn a_renamed_file_that_still_matches_is_not_read_again() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.log");
        std::fs::write(&path, numbered(1, 5)).unwrap();
        let mut running = start(following(dir.path(), "a.log*"), Checkpoint::default());
        assert_eq!(next_texts(&mut running, 5).await.len(), 5);
        std::fs::rename(&path, dir.path().join("a.log.1")).unwrap();
        std::fs::write(&path, b"in the new file\n").unwrap();
        let batch = running.next().await;
        assert_eq!(texts(std::slice::from_ref(&batch)), ["in the new file"]);
        assert_eq!(running.counters.snapshot().rotations, 1);
        assert!(running.stop().await.is_empty(), "nothing is read twice");
    }

    #[tokio::test(start_paused = true)]
    async fn a_rotated_file_is_closed_once_quiet_and_its_last_line_counts() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.log");
        std::fs::write(&path, b"done\nno newline yet").unwrap();
        let mut running = start(following(dir.path(), "*.log"), Checkpoint::default());
        assert_eq!(texts(&[running.next().await]), ["done"]);
        std::fs::rename(&path, dir.path().join("a.log.1")).unwrap();
        let batch = running.next().await;
        assert_eq!(texts(std::slice::from_ref(&batch)), ["no newline yet"]);
        assert_eq!(batch.position.unwrap().offset, 19);
        running.stop().await;
    }

    #[tokio::test]
    async fn a_file_truncated_and_grown_past_its_offset_is_read_from_the_start() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.log");
        std::fs::write(&path, b"first generation\n").unwrap();
        let mut running = start(following(dir.path(), "*.log"), Checkpoint::default());
        running.next().await;
        // Longer than what was read: only the first bytes tell.
        std::fs::write(&path, b"second generation, longer than the first\n").unwrap();
        let batch = running.next().await;
        assert_eq!(
            texts(std::slice::from_ref(&batch)),
            ["second generation, longer than the first"]
        );
        assert_eq!(batch.records[0].line, 1);
        assert_eq!(running.counters.snapshot().truncations, 1);
        running.stop().await;
    }

    #[tokio::test]
    async fn a_file_rotated_out_of_the_globs_before_a_restart_is_read_to_its_end() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.log");
        std::fs::write(&path, numbered(1, 20)).unwrap();
        let first = read_all(config(dir.path(), "*.log"), Checkpoint::default()).await;
        assert_eq!(records(&first).len(), 20);

        append(&path, numbered(21, 22).as_bytes());
        std::fs::rename(&path, dir.path().join("a.log.1")).unwrap();
        std::fs::write(&path, b"new\n").unwrap();
        let second = read_all(config(dir.path(), "*.log"), checkpoint_after(&first)).await;
        let seen = texts(&second);
        assert_eq!(seen.len(), 3, "{seen:?}");
        assert!(seen[0].starts_with("line 21 ") && seen[1].starts_with("line 22 "));
        assert_eq!(seen[2], "new");
        assert_eq!(records(&second)[0].line, 21);

        let third = read_all(config(dir.path(), "*.log"), checkpoint_after(&second)).await;
        assert!(third.is_empty(), "nothing is read twice");
    }

    #[tokio::test]
    async fn a_file_left_out_of_the_globs_at_its_own_path_is_not_read() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.log"), numbered(1, 5)).unwrap();
        std::fs::write(dir.path().join("b.log"), numbered(1, 5)).unwrap();
        let first = read_all(config(dir.path(), "*.log"), Checkpoint::default()).await;
        assert_eq!(records(&first).len(), 10);
        append(&dir.path().join("b.log"), numbered(6, 6).as_bytes());
        let second = read_all(config(dir.path(), "a.log"), checkpoint_after(&first)).await;
        assert!(second.is_empty(), "{:?}", texts(&second));
    }

    #[tokio::test]
    async fn rotated_generations_are_read_on_from_their_rotated_paths_and_unseen_ones_found() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.log");
        let rotated = |number: u32| dir.path().join(format!("a.log.{number}"));
        std::fs::write(&path, numbered(1, 5)).unwrap();
        let mut checkpoint =
            checkpoint_after(&read_all(config(dir.path(), "a.log"), Checkpoint::default()).await);

        // Rotated while down: the rest of the first generation is read
        // from its new name.
        append(&path, numbered(6, 8).as_bytes());
        std::fs::rename(&path, rotated(1)).unwrap();
        append(&path, numbered(101, 102).as_bytes());
        let second = read_all(config(dir.path(), "a.log"), checkpoint.clone()).await;
        assert_eq!(texts(&second).len(), 5, "{:?}", texts(&second));
        for batch in &second {
            checkpoint.advance(&batch.source, batch.position.clone().unwrap());
        }

        // The old writer kept writing to `a.log.1`, committed under that
        // name; the second generation got a line more and was rotated too;
        // the third was created and rotated with no commit seeing it.
        append(&rotated(1), numbered(9, 10).as_bytes());
        append(&path, numbered(103, 103).as_bytes());
        std::fs::rename(&path, rotated(2)).unwrap();
        append(&path, numbered(201, 202).as_bytes());
        std::fs::rename(&path, rotated(3)).unwrap();
        append(&path, numbered(301, 301).as_bytes());
        let third = texts(&read_all(config(dir.path(), "a.log"), checkpoint).await);
        let mut numbers: Vec<u64> = third
            .iter()
            .map(|text| text.split(' ').nth(1).unwrap().parse().unwrap())
            .collect();
        numbers.sort_unstable();
        assert_eq!(numbers, [9, 10, 103, 201, 202, 301], "{third:?}");
    }

    #[tokio::test]
    async fn a_file_rewritten_while_nothing_read_it_is_read_from_the_start() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.log");
        std::fs::write(&path, numbered(1, 10)).unwrap();
        let first = read_all(config(dir.path(), "*.log"), Checkpoint::default()).await;
        // Truncated in place and written again: same inode, other content,
        // longer than the committed offset.
        let file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        file.set_len(0).unwrap();
        append(&path, numbered(101, 115).as_bytes());
        let config = FileSourceConfig {
            start_at: StartAt::End,
            ..config(dir.path(), "*.log")
        };
        let running = start(config, checkpoint_after(&first));
        let counters = Arc::clone(&running.counters);
        let (second, outcome) = running.finish().await;
        outcome.unwrap();
        assert_eq!(records(&second).len(), 15);
        assert!(texts(&second)[0].starts_with("line 101 "));
        assert_eq!(counters.snapshot().truncations, 1);
    }

    #[tokio::test]
    async fn a_stack_trace_becomes_one_record() {
        let dir = tempfile::tempdir().unwrap();
        let trace = "2024-05-01 ERROR request failed\n\
                     java.lang.IllegalStateException: boom\n\
                     \tat com.example.Api.handle(Api.java:42)\n\
                     \tat com.example.Server.run(Server.java:7)\n\
                     2024-05-01 INFO next request\n";
        std::fs::write(dir.path().join("a.log"), trace).unwrap();
        let config = FileSourceConfig {
            multiline: true,
            ..config(dir.path(), "*.log")
        };
        let batches = read_all(config, Checkpoint::default()).await;
        let records = records(&batches);
        assert_eq!(records.len(), 2);
        assert_eq!(records[0].line, 1);
        assert!(String::from_utf8_lossy(&records[0].bytes).contains("Server.java:7"));
        assert_eq!(records[1].line, 5);
        assert_eq!(batches.last().unwrap().position.as_ref().unwrap().line, 5);
    }

    #[tokio::test(start_paused = true)]
    async fn a_followed_position_never_passes_a_record_the_joiner_holds() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.log");
        let head = "2024-05-01 INFO started\n";
        std::fs::write(
            &path,
            format!("{head}2024-05-01 ERROR failed\n\tat com.example.Api.handle(Api.java:42)\n"),
        )
        .unwrap();
        let config = FileSourceConfig {
            multiline: true,
            ..following(dir.path(), "*.log")
        };
        let mut running = start(config, Checkpoint::default());
        let batch = running.next().await;
        assert_eq!(
            texts(std::slice::from_ref(&batch)),
            ["2024-05-01 INFO started"]
        );
        assert_eq!(batch.position.as_ref().unwrap().offset, head.len() as u64);

        // The trace is complete once the file has been quiet for a while.
        let held = running.next().await;
        assert_eq!(held.records.len(), 1);
        assert_eq!(held.records[0].line, 2);
        assert!(String::from_utf8_lossy(&held.records[0].bytes).contains("Api.java:42"));
        assert_eq!(held.position.as_ref().unwrap().line, 3);
        running.stop().await;
    }

    #[tokio::test]
    async fn a_record_held_at_shutdown_is_read_whole_by_the_next_run() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.log");
        std::fs::write(&path, "2024-05-01 INFO started\n2024-05-01 ERROR failed\n").unwrap();
        let config = FileSourceConfig {
            multiline: true,
            ..following(dir.path(), "*.log")
        };
        let mut running = start(config.clone(), Checkpoint::default());
        let first = running.next().await;
        assert_eq!(first.records.len(), 1);
        assert!(running.stop().await.is_empty());

        append(&path, b"\tat com.example.Api.handle(Api.java:42)\n");
        let config = FileSourceConfig {
            follow: false,
            ..config
        };
        let second = read_all(config, checkpoint_after(&[first])).await;
        let records = records(&second);
        assert_eq!(records.len(), 1);
        assert_eq!(records[0].line, 2);
        assert!(String::from_utf8_lossy(&records[0].bytes).contains("Api.java:42"));
    }
}
