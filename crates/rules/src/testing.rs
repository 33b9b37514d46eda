//! Helpers shared by the tests of several modules.

use firewatch_event::{Event, EventId, Level, Timestamp};

/// A fixed instant the tests count seconds from.
pub fn second(offset: i64) -> Timestamp {
    Timestamp::from_second(1_700_000_000 + offset).unwrap()
}

/// An event at `second(offset)` with this message, level info, host
/// `web-01`, service `api` and id `offset`.
pub fn event_at(offset: i64, message: &str) -> Event {
    let mut event = Event::new(EventId(offset as u64), "app".into(), second(offset));
    event.level = Level::Info;
    event.host = Some("web-01".into());
    event.service = Some("api".into());
    event.message = message.into();
    event
}
