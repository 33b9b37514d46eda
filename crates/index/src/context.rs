//! The lines around one event: what its source wrote on its host just
//! before and just after, in order, as `tail` of the original file would
//! have shown them.
//!
//! Neighbours share the event's source and host (an event without a host
//! has neighbours without one) and are ordered by `(time, line, id)`, the
//! order of search results, so ties in time (second-precision logs) come in
//! stream order. The index can only sort and cut by time, so each side is
//! two searches: the events at exactly the event's time (the ties, few),
//! split by their place relative to the event, and the nearest `n` events
//! strictly before or after it. Days do not matter: searches cross them.

use firewatch_event::{Event, EventId};
use jiff::SignedDuration;
use tantivy::query::{BooleanQuery, ExistsQuery, Occur, Query};

use crate::order::EventSortKey;
use crate::time::index_instant;
use crate::{EventHit, IndexError, IndexReader, Order, SearchRequest};

/// One event and its neighbours from the same source and host.
#[derive(Clone, Debug, PartialEq)]
pub struct EventContext {
    /// Up to `before` events just before it, oldest first.
    pub before: Vec<EventHit>,
    /// The event itself.
    pub event: EventHit,
    /// Up to `after` events just after it, oldest first.
    pub after: Vec<EventHit>,
}

/// The index's order key of an event: its time at the index's microsecond
/// precision, then line and id.
fn sort_key(event: &Event) -> EventSortKey {
    let micros = index_instant(event.time()).as_microsecond();
    (micros, event.line, event.id.0)
}

impl IndexReader {
    /// The event with this id and exactly `before` and `after` neighbours
    /// (fewer at the ends of its stream); `None` when no day holds it.
    pub fn context(
        &self,
        id: EventId,
        before: usize,
        after: usize,
    ) -> Result<Option<EventContext>, IndexError> {
        let Some(event) = self.event(id)? else {
            return Ok(None);
        };
        let target = sort_key(&event.event);
        let at = jiff::Timestamp::from_microsecond(target.0).map_err(|error| {
            IndexError::bad_document(self.data_dir(), format!("event time: {error}"))
        })?;
        let next = at.checked_add(SignedDuration::from_micros(1)).unwrap_or(at);

        // Count the ties first: the top-k collector sizes its buffer by its limit.
        let tie_count = self
            .neighbours(&event.event, Some(at), Some(next), 0, Order::Ascending)?
            .1;
        let ties = self
            .neighbours(
                &event.event,
                Some(at),
                Some(next),
                tie_count,
                Order::Ascending,
            )?
            .0;
        let (mut earlier, mut later): (Vec<_>, Vec<_>) = ties
            .into_iter()
            .filter(|hit| sort_key(&hit.event) != target)
            .partition(|hit| sort_key(&hit.event) < target);

        if earlier.len() < before {
            let wanted = before - earlier.len();
            let (mut strictly, _) =
                self.neighbours(&event.event, None, Some(at), wanted, Order::Descending)?;
            strictly.reverse();
            strictly.append(&mut earlier);
            earlier = strictly;
        }
        let skip = earlier.len().saturating_sub(before);
        earlier.drain(..skip);

        if later.len() < after {
            let wanted = after - later.len();
            let (strictly, _) =
                self.neighbours(&event.event, Some(next), None, wanted, Order::Ascending)?;
            later.extend(strictly);
        }
        later.truncate(after);

        Ok(Some(EventContext {
            before: earlier,
            event,
            after: later,
        }))
    }

    /// Up to `limit` events of the same source and host as `event` in
    /// `[since, until)`, and how many there are in all.
    fn neighbours(
        &self,
        event: &Event,
        since: Option<jiff::Timestamp>,
        until: Option<jiff::Timestamp>,
        limit: usize,
        order: Order,
    ) -> Result<(Vec<EventHit>, usize), IndexError> {
        let mut filters = vec![("source".to_owned(), event.source.to_string())];
        if let Some(host) = &event.host {
            filters.push(("host".to_owned(), host.clone()));
        }
        let request = SearchRequest {
            query: String::new(),
            filters,
            since,
            until,
            limit,
            order,
        };
        let mut query = self.build_query(&request)?;
        if event.host.is_none() {
            let no_host: Box<dyn Query> = Box::new(ExistsQuery::new("host".to_owned(), false));
            query = Box::new(BooleanQuery::new(vec![
                (Occur::Must, query),
                (Occur::MustNot, no_host),
            ]));
        }
        let results = self.search_query(&*query, &request)?;
        let total = usize::try_from(results.total_matches).unwrap_or(usize::MAX);
        Ok((results.hits, total))
    }
}
