//! A queue's events as a capped log with stream-style ids (`<ms>-<seq>`), so
//! that `lastEventId` and SSE's `Last-Event-ID` work as they do on Redis.

use std::collections::VecDeque;

use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::watch;

use super::MemoryQueue;
use crate::engine::store::EventSubscription;

pub type EventId = (i64, u64);

pub struct Entry {
    pub id: EventId,
    /// The fields as a JSON array of strings, written once when appended.
    pub fields_json: String,
}

#[derive(Default)]
pub struct EventLog {
    pub entries: VecDeque<Entry>,
    pub last: EventId,
    /// Set when entries were appended: subscribers are woken after the lock.
    pub changed: bool,
}

pub fn format_id(id: EventId) -> String {
    format!("{}-{}", id.0, id.1)
}

/// Parses `<ms>-<seq>` or `<ms>`; `None` for anything else.
pub fn parse_id(text: &str) -> Option<EventId> {
    let (ms, seq) = text.split_once('-').unwrap_or((text, "0"));
    Some((ms.parse().ok()?, seq.parse().ok()?))
}

impl EventLog {
    pub fn append(&mut self, now: i64, fields_json: String, cap: usize) -> EventId {
        let id = if now > self.last.0 {
            (now, 0)
        } else {
            (self.last.0, self.last.1 + 1)
        };
        self.last = id;
        self.entries.push_back(Entry { id, fields_json });
        self.trim(cap);
        self.changed = true;
        id
    }

    pub fn trim(&mut self, cap: usize) -> usize {
        let extra = self.entries.len().saturating_sub(cap);
        self.entries.drain(..extra);
        extra
    }

    /// Entries after `after`, as JSON array items `["id",["f","v",…]]`.
    fn write_after(&self, after: EventId, out: &mut String) -> EventId {
        let start = self.entries.partition_point(|e| e.id <= after);
        let mut last = after;
        for entry in self.entries.range(start..) {
            if out.len() > 1 {
                out.push(',');
            }
            out.push_str("[\"");
            out.push_str(&format_id(entry.id));
            out.push_str("\",");
            out.push_str(&entry.fields_json);
            out.push(']');
            last = entry.id;
        }
        last
    }
}

/// One listener's position in its queue's events.
pub struct MemorySubscription {
    queue: MemoryQueue,
    /// The queue's events signal and the last id delivered; one `next` at a time.
    reader: tokio::sync::Mutex<(watch::Receiver<u64>, EventId)>,
    closed: watch::Sender<bool>,
}

impl MemorySubscription {
    /// Starts after `start`: "$" for new events only, or an entry id.
    pub fn open(queue: MemoryQueue, start: &str) -> MemorySubscription {
        let cursor = match start {
            "$" => queue.with(|s| s.events.last),
            other => parse_id(other).unwrap_or((0, 0)),
        };
        MemorySubscription {
            reader: tokio::sync::Mutex::new((queue.shared.events.subscribe(), cursor)),
            queue,
            closed: watch::channel(false).0,
        }
    }
}

#[async_trait]
impl EventSubscription for MemorySubscription {
    /// Events are appended under the queue's lock: a subscription is
    /// positioned from the moment it opened.
    async fn ready(&self, _limit: Duration) {}

    /// `{"entries":[…],"errors":[]}` with what arrived since the last call;
    /// `None` once closed.
    async fn next(&self) -> Option<String> {
        let mut reader = self.reader.lock().await;
        let (wake, cursor) = &mut *reader;
        let mut closed = self.closed.subscribe();
        loop {
            if *closed.borrow_and_update() {
                return None;
            }
            wake.borrow_and_update();
            let mut entries = String::from("[");
            let last = self
                .queue
                .with(|s| s.events.write_after(*cursor, &mut entries));
            if last != *cursor {
                *cursor = last;
                entries.push(']');
                return Some(format!("{{\"entries\":{entries},\"errors\":[]}}"));
            }
            tokio::select! {
                changed = wake.changed() => if changed.is_err() { return None },
                _ = closed.changed() => {}
            }
        }
    }

    fn close(&self) {
        self.closed.send_replace(true);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_increase_within_a_millisecond_and_the_log_is_capped() {
        let mut log = EventLog::default();
        let a = log.append(5, "[]".into(), 2);
        let b = log.append(5, "[]".into(), 2);
        let c = log.append(4, "[]".into(), 2);
        assert_eq!((a, b, c), ((5, 0), (5, 1), (5, 2)));
        assert_eq!(log.entries.len(), 2);
        let mut out = String::from("[");
        assert_eq!(log.write_after((5, 1), &mut out), (5, 2));
        assert_eq!(out, "[[\"5-2\",[]]");
        assert_eq!(parse_id("17-3"), Some((17, 3)));
        assert_eq!(parse_id("17"), Some((17, 0)));
        assert_eq!(parse_id("x"), None);
    }
}
