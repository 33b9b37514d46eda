//! Searching the indexes: events by query and time range, events by id,
//! incidents.
//!
//! A reader takes no lock and can run beside a writer: each call sees the
//! last commit. Day indexes are opened per call, only those a time range
//! overlaps, so a reader never holds days that retention may delete.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use firewatch_event::{Event, EventId, Incident, IncidentId, Timestamp};
use jiff::civil::Date;
use tantivy::collector::{Count, DocSetCollector, TopDocs};
use tantivy::query::{AllQuery, Query, TermQuery};
use tantivy::schema::{IndexRecordOption, Schema};
use tantivy::{DocAddress, Index, ReloadPolicy, Searcher, TantivyDocument};

use crate::IndexError;
use crate::commit::CommitPayload;
use crate::day::{day_name, days_overlapping, list_days};
use crate::event_document::LogsSchema;
use crate::format;
use crate::id_set::one_event_id;
use crate::incident_document::IncidentsSchema;
use crate::order::{EventTimeOrder, Order};
use crate::query::QueryBuilder;
use crate::writer::{INCIDENTS_DIR, LOGS_DIR};

/// What to search for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SearchRequest {
    /// tantivy query syntax over the fields (`message` by default); empty or
    /// `*` = everything. Words without an operator must all match.
    pub query: String,
    /// Exact-value filters, ANDed: `("host", "web-03")`, `("service", "api")`,
    /// `("level", "error")`, `("source", ..)`, `("incident", "<16 hex>")`,
    /// `("event_id", "<16 hex>")`, `("problem", "unparsed")`, `("template", "<16 hex>")`, `("word",
    /// "nvme")` for one word of the message (see [`crate::message_words`]), and
    /// `("min_level", "warn")` for that level and above (any spelling
    /// [`Level::parse`](firewatch_event::Level::parse) reads).
    pub filters: Vec<(String, String)>,
    /// Earliest event time, inclusive.
    pub since: Option<Timestamp>,
    /// Latest event time, exclusive.
    pub until: Option<Timestamp>,
    /// Most hits to return; default 100.
    pub limit: usize,
    /// Event-time order of the hits; default oldest first.
    pub order: Order,
}

impl Default for SearchRequest {
    fn default() -> Self {
        SearchRequest {
            query: String::new(),
            filters: Vec::new(),
            since: None,
            until: None,
            limit: 100,
            order: Order::Ascending,
        }
    }
}

/// The hits of a search, and how many events matched in all.
#[derive(Clone, Debug, PartialEq)]
pub struct SearchResults {
    /// At most `limit` events, in the requested order.
    pub hits: Vec<EventHit>,
    /// Matches across all searched days, including those past `limit`.
    pub total_matches: u64,
}

/// One event found, with the incidents it counted towards.
#[derive(Clone, Debug, PartialEq)]
pub struct EventHit {
    /// The event, as it was added.
    pub event: Event,
    /// Ids of the incidents the event contributed to.
    pub incidents: Vec<IncidentId>,
}

/// Size of one day index.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DayStats {
    /// The UTC day.
    pub day: Date,
    /// Events in it.
    pub documents: u64,
    /// Bytes its files take on disk.
    pub bytes: u64,
    /// Segments in its last commit: many small ones slow searches down
    /// until the writer's merges catch up.
    pub segments: usize,
}

/// One day index opened for a search.
pub(crate) struct DaySearcher {
    pub(crate) path: PathBuf,
    pub(crate) searcher: Searcher,
}

/// Reads a data directory written by [`crate::IndexWriter`].
pub struct IndexReader {
    data_dir: PathBuf,
    logs_dir: PathBuf,
    logs: LogsSchema,
    queries: QueryBuilder,
    incidents_schema: IncidentsSchema,
    incidents_path: PathBuf,
    incidents: tantivy::IndexReader,
    /// Day indexes opened so far, with the `meta.json` they were opened
    /// at: a command that asks several questions (`incidents explain` asks
    /// dozens) opens each day once, and a commit since opens it again.
    opened_days: Mutex<HashMap<Date, (MetaStamp, Searcher)>>,
}

impl IndexReader {
    /// Opens the data dir for searching (no lock; works while a writer
    /// runs, and sees its last commit).
    pub fn open(data_dir: &Path) -> Result<Self, IndexError> {
        let incidents_path = data_dir.join(INCIDENTS_DIR);
        if !incidents_path.join("meta.json").is_file() {
            return Err(IndexError::NoData {
                path: data_dir.to_owned(),
            });
        }
        format::check(data_dir)?;
        let incidents_schema = IncidentsSchema::new();
        let incidents = open_for_search(data_dir, &incidents_path, &incidents_schema.schema)?;
        let logs = LogsSchema::new();
        Ok(IndexReader {
            data_dir: data_dir.to_owned(),
            logs_dir: data_dir.join(LOGS_DIR),
            queries: QueryBuilder::new(logs.clone()),
            logs,
            incidents_schema,
            incidents_path,
            incidents,
            opened_days: Mutex::new(HashMap::new()),
        })
    }

    /// Events matching the request, in event-time order, across the days
    /// the time range overlaps.
    pub fn search(&self, request: &SearchRequest) -> Result<SearchResults, IndexError> {
        let query = self.queries.build(request)?;
        self.search_query(&*query, request)
    }

    /// [`IndexReader::search`] with the query already built from `request`
    /// (and possibly narrowed further); `request` gives the days, order and limit.
    pub(crate) fn search_query(
        &self,
        query: &dyn Query,
        request: &SearchRequest,
    ) -> Result<SearchResults, IndexError> {
        let mut days = days_overlapping(&list_days(&self.logs_dir)?, request.since, request.until);
        if request.order == Order::Descending {
            days.reverse();
        }
        let order = EventTimeOrder {
            order: request.order,
        };
        let mut results = SearchResults {
            hits: Vec::new(),
            total_matches: 0,
        };
        // Days hold disjoint stretches of time, visited in the requested
        // order: the first `limit` hits overall are the first ones found.
        for day in days {
            let Some(day) = self.open_day(day)? else {
                continue;
            };
            let wanted = request
                .limit
                .saturating_sub(results.hits.len())
                .min(usize::try_from(day.searcher.num_docs()).unwrap_or(usize::MAX));
            if wanted == 0 {
                results.total_matches += day.search(query, &Count)? as u64;
                continue;
            }
            let collector = (Count, TopDocs::with_limit(wanted).order_by(order));
            let (count, top) = day.search(query, &collector)?;
            results.total_matches += count as u64;
            for (_, address) in top {
                results.hits.push(self.event_at(&day, address)?);
            }
        }
        Ok(results)
    }

    /// The event with this id, if any day holds it.
    pub fn event(&self, id: EventId) -> Result<Option<EventHit>, IndexError> {
        let query = one_event_id(self.logs.event_id, id.0);
        for day in list_days(&self.logs_dir)?.into_iter().rev() {
            let Some(day) = self.open_day(day)? else {
                continue;
            };
            if let Some(address) = day.search(&*query, &DocSetCollector)?.into_iter().next() {
                return Ok(Some(self.event_at(&day, address)?));
            }
        }
        Ok(None)
    }

    /// Every incident, newest `first_seen` first (ties by id).
    pub fn incidents(&self) -> Result<Vec<Incident>, IndexError> {
        let searcher = self.incidents_searcher()?;
        let addresses = searcher
            .search(&AllQuery, &DocSetCollector)
            .map_err(|error| self.incidents_error(error))?;
        let mut incidents = addresses
            .into_iter()
            .map(|address| self.incident_at(&searcher, address))
            .collect::<Result<Vec<_>, _>>()?;
        incidents.sort_by(|left, right| {
            right
                .first_seen
                .cmp(&left.first_seen)
                .then(left.id.cmp(&right.id))
        });
        Ok(incidents)
    }

    /// The detector's state stored with the last commit, as given to
    /// [`crate::IndexWriter::commit_with_rule_state`] (opaque JSON to this
    /// crate); `None` when the last commit stored none.
    pub fn rule_state(&self) -> Result<Option<serde_json::Value>, IndexError> {
        let index = Index::open_in_dir(&self.incidents_path)
            .map_err(|error| self.incidents_error(error))?;
        let payload = CommitPayload::read(&index, &self.incidents_path, &self.data_dir)?;
        Ok(payload.and_then(|payload| payload.rule_state))
    }

    /// The latest state of one incident.
    pub fn incident(&self, id: IncidentId) -> Result<Option<Incident>, IndexError> {
        let searcher = self.incidents_searcher()?;
        let query = TermQuery::new(self.incidents_schema.id_term(id), IndexRecordOption::Basic);
        let addresses = searcher
            .search(&query, &DocSetCollector)
            .map_err(|error| self.incidents_error(error))?;
        addresses
            .into_iter()
            .next()
            .map(|address| self.incident_at(&searcher, address))
            .transpose()
    }

    /// Days present, oldest first, with their document counts and sizes.
    pub fn days(&self) -> Result<Vec<DayStats>, IndexError> {
        let mut stats = Vec::new();
        for date in list_days(&self.logs_dir)? {
            let Some(day) = self.open_day(date)? else {
                continue;
            };
            stats.push(DayStats {
                day: date,
                documents: day.searcher.num_docs(),
                bytes: directory_bytes(&day.path)?,
                segments: day.searcher.segment_readers().len(),
            });
        }
        Ok(stats)
    }

    /// The data directory read.
    pub(crate) fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The field queries search by default.
    pub(crate) fn message_field(&self) -> tantivy::schema::Field {
        self.logs.message
    }

    /// The query of a request, for the collectors of sibling modules.
    pub(crate) fn build_query(
        &self,
        request: &SearchRequest,
    ) -> Result<Box<dyn Query>, IndexError> {
        self.queries.build(request)
    }

    /// The day indexes that overlap `[since, until)`, oldest first, opened.
    pub(crate) fn open_days(
        &self,
        since: Option<Timestamp>,
        until: Option<Timestamp>,
    ) -> Result<Vec<DaySearcher>, IndexError> {
        let mut opened = Vec::new();
        for day in days_overlapping(&list_days(&self.logs_dir)?, since, until) {
            opened.extend(self.open_day(day)?);
        }
        Ok(opened)
    }

    /// Opens the index of `day` for searching; `None` while a writer is
    /// still creating it.
    fn open_day(&self, day: Date) -> Result<Option<DaySearcher>, IndexError> {
        let path = self.logs_dir.join(day_name(day));
        if !path.join("meta.json").is_file() {
            return Ok(None);
        }
        let stamp = MetaStamp::of(&path);
        let mut opened = self
            .opened_days
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let searcher = match opened.get(&day) {
            Some((seen, searcher)) if stamp.is_some() && *seen == stamp => searcher.clone(),
            _ => {
                let searcher =
                    open_for_search(&self.data_dir, &path, &self.logs.schema)?.searcher();
                opened.insert(day, (stamp, searcher.clone()));
                searcher
            }
        };
        Ok(Some(DaySearcher { searcher, path }))
    }

    pub(crate) fn event_at(
        &self,
        day: &DaySearcher,
        address: DocAddress,
    ) -> Result<EventHit, IndexError> {
        let document: TantivyDocument =
            day.searcher
                .doc(address)
                .map_err(|source| IndexError::Tantivy {
                    path: day.path.clone(),
                    source,
                })?;
        self.logs.event_hit(&document, &day.path)
    }

    fn incidents_searcher(&self) -> Result<Searcher, IndexError> {
        // The reader does not follow commits by itself: catch up on each call.
        self.incidents
            .reload()
            .map_err(|error| self.incidents_error(error))?;
        Ok(self.incidents.searcher())
    }

    fn incident_at(
        &self,
        searcher: &Searcher,
        address: DocAddress,
    ) -> Result<Incident, IndexError> {
        let document: TantivyDocument = searcher
            .doc(address)
            .map_err(|error| self.incidents_error(error))?;
        self.incidents_schema
            .incident(&document, &self.incidents_path)
    }

    fn incidents_error(&self, source: tantivy::TantivyError) -> IndexError {
        IndexError::Tantivy {
            path: self.incidents_path.clone(),
            source,
        }
    }
}

impl DaySearcher {
    pub(crate) fn search<C: tantivy::collector::Collector>(
        &self,
        query: &dyn Query,
        collector: &C,
    ) -> Result<C::Fruit, IndexError> {
        self.searcher
            .search(query, collector)
            .map_err(|source| IndexError::Tantivy {
                path: self.path.clone(),
                source,
            })
    }
}

/// A reader of the index at `path`, which must have `schema`.
/// What tells one commit of an index from the next: its `meta.json`'s
/// modification time and length (`None` when it cannot be read).
#[derive(Clone, Copy, PartialEq, Eq)]
struct MetaStamp(Option<(std::time::SystemTime, u64)>);

impl MetaStamp {
    fn of(index: &Path) -> Self {
        let meta = std::fs::metadata(index.join("meta.json")).ok();
        MetaStamp(meta.and_then(|meta| Some((meta.modified().ok()?, meta.len()))))
    }

    fn is_some(&self) -> bool {
        self.0.is_some()
    }
}

fn open_for_search(
    data_dir: &Path,
    path: &Path,
    schema: &Schema,
) -> Result<tantivy::IndexReader, IndexError> {
    let index =
        Index::open_in_dir(path).map_err(|error| IndexError::tantivy(data_dir, path, error))?;
    if index.schema() != *schema {
        return Err(IndexError::IncompatibleIndex {
            path: path.to_owned(),
        });
    }
    index
        .reader_builder()
        .reload_policy(ReloadPolicy::Manual)
        .try_into()
        .map_err(|error| IndexError::tantivy(data_dir, path, error))
}

/// Bytes of the files directly in `path` (tantivy index directories are flat).
fn directory_bytes(path: &Path) -> Result<u64, IndexError> {
    let mut bytes = 0;
    for entry in std::fs::read_dir(path).map_err(|error| IndexError::io(path, error))? {
        match entry.and_then(|entry| entry.metadata()) {
            Ok(metadata) if metadata.is_file() => bytes += metadata.len(),
            Ok(_) => {}
            // A writer's merge may delete a segment file while we count.
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => return Err(IndexError::io(path, error)),
        }
    }
    Ok(bytes)
}
