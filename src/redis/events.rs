//! The events stream, read once per process and fanned out.
//!
//! Every QueueEvents (and every SSE stream built on one) that reads the same
//! stream from the same place shares one reader: one connection and one
//! XREAD loop, whatever the number of listeners. Entries reach each
//! subscriber as JSON batches; the reader resumes from the last id it saw
//! after a lost connection, so nothing still in the stream is missed.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::Duration;

use async_trait::async_trait;
use redis::aio::MultiplexedConnection;
use redis::Value;
use tokio::sync::{mpsc, watch};

use super::queue::RedisQueue;
use super::reply;
use crate::engine::error::EngineError;
use crate::engine::store::EventSubscription;

enum Message {
    /// Entries as JSON array items: `["<id>",["field","value",…]],…`.
    Entries(Arc<str>),
    /// `[bullrush:KIND] message`, for lib/native.js's `translate`.
    Error(String),
}

/// Endpoint id, stream key, start. The endpoint's id and not its URL: two
/// users of one server must not share a reader, which reads with the
/// credentials of whoever started it.
type ReaderKey = (u64, String, String);

struct Reader {
    key: ReaderKey,
    subscribers: Mutex<HashMap<u64, mpsc::UnboundedSender<Message>>>,
    /// Set when the last subscriber leaves; a state, so it cannot be missed.
    stop: watch::Sender<bool>,
    /// Set once the reader knows where it reads from: events written after
    /// that are delivered to every subscriber.
    positioned: watch::Sender<bool>,
}

fn readers() -> &'static Mutex<HashMap<ReaderKey, Weak<Reader>>> {
    static READERS: OnceLock<Mutex<HashMap<ReaderKey, Weak<Reader>>>> = OnceLock::new();
    READERS.get_or_init(|| Mutex::new(HashMap::new()))
}

/// One listener's view of the stream.
pub struct Subscription {
    reader: Arc<Reader>,
    id: u64,
    inbox: tokio::sync::Mutex<mpsc::UnboundedReceiver<Message>>,
}

impl Subscription {
    /// Joins (or starts) the reader of `queue`'s stream from `start`: "$" for
    /// new entries only, or an entry id to replay what came after it.
    /// Must run inside the runtime.
    pub fn open(queue: Arc<RedisQueue>, start: &str, block_ms: u64) -> Subscription {
        static NEXT_ID: AtomicU64 = AtomicU64::new(0);
        let key = (
            queue.endpoint.id(),
            queue.keys.key("events"),
            start.to_string(),
        );
        let (tx, rx) = mpsc::unbounded_channel();
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        let mut map = readers().lock().unwrap();
        let reader = match map.get(&key).and_then(Weak::upgrade) {
            Some(reader) => reader,
            None => {
                let reader = Arc::new(Reader {
                    key: key.clone(),
                    subscribers: Mutex::new(HashMap::new()),
                    stop: watch::Sender::new(false),
                    positioned: watch::Sender::new(false),
                });
                map.insert(key, Arc::downgrade(&reader));
                tokio::spawn(read_loop(reader.clone(), queue, block_ms.max(1)));
                reader
            }
        };
        reader.subscribers.lock().unwrap().insert(id, tx);
        Subscription {
            reader,
            id,
            inbox: tokio::sync::Mutex::new(rx),
        }
    }
}

#[async_trait]
impl EventSubscription for Subscription {
    /// Waits (at most `limit`) until the reader is positioned, so that any
    /// event written after this returns is delivered.
    async fn ready(&self, limit: Duration) {
        let mut positioned = self.reader.positioned.subscribe();
        let mut stopped = self.reader.stop.subscribe();
        let either = async {
            tokio::select! {
                _ = positioned.wait_for(|p| *p) => {}
                _ = stopped.wait_for(|s| *s) => {}
            }
        };
        let _ = tokio::time::timeout(limit, either).await;
    }

    /// `{"entries":[…],"errors":[…]}` with everything that arrived since the
    /// last call; `None` once closed.
    async fn next(&self) -> Option<String> {
        let mut inbox = self.inbox.lock().await;
        let first = inbox.recv().await?;
        let mut batch = vec![first];
        while let Ok(more) = inbox.try_recv() {
            batch.push(more);
        }
        let (mut entries, mut errors) = (Vec::new(), Vec::new());
        for message in batch {
            match message {
                Message::Entries(e) => entries.push(e),
                Message::Error(e) => errors.push(serde_json::to_string(&e).unwrap_or_default()),
            }
        }
        let entries: Vec<&str> = entries.iter().map(|e| &**e).collect();
        Some(format!(
            "{{\"entries\":[{}],\"errors\":[{}]}}",
            entries.join(","),
            errors.join(",")
        ))
    }

    /// Leaves the reader; a pending `next` resolves to `None`. The reader
    /// stops with its last subscriber.
    fn close(&self) {
        // Registry first, then subscribers: the order `open` takes them in.
        let mut map = readers().lock().unwrap();
        let mut subscribers = self.reader.subscribers.lock().unwrap();
        if subscribers.remove(&self.id).is_none() || !subscribers.is_empty() {
            return;
        }
        let ours = map
            .get(&self.reader.key)
            .is_some_and(|w| Weak::ptr_eq(w, &Arc::downgrade(&self.reader)));
        if ours {
            map.remove(&self.reader.key);
        }
        self.reader.stop.send_replace(true);
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.close();
    }
}

impl Reader {
    fn broadcast(&self, make: impl Fn() -> Message) {
        self.subscribers
            .lock()
            .unwrap()
            .retain(|_, tx| tx.send(make()).is_ok());
    }
}

/// `["id",["f","v",…]],…` for the entries of one XREAD reply, and the last id.
fn entries_json(reply: &Value) -> Option<(String, String)> {
    let streams = reply::items(reply);
    let entries = reply::items(reply::items(streams.first()?).get(1)?);
    let mut out = String::new();
    let mut last = String::new();
    for entry in entries {
        let parts = reply::items(entry);
        let id = reply::as_string(parts.first()?);
        let fields = parts.get(1).map(reply::strings).unwrap_or_default();
        if !out.is_empty() {
            out.push(',');
        }
        out.push('[');
        out.push_str(&serde_json::to_string(&id).ok()?);
        out.push(',');
        out.push_str(&serde_json::to_string(&fields).ok()?);
        out.push(']');
        last = id;
    }
    (!last.is_empty()).then_some((out, last))
}

async fn connect(queue: &RedisQueue) -> Result<MultiplexedConnection, EngineError> {
    let name = format!("{}:qe", queue.keys.client_name());
    queue.endpoint.dedicated(Some(&name)).await
}

/// The id of the newest entry ("0-0" for an empty stream): where "$" starts,
/// made concrete so that no entry falls between two reads.
async fn newest_id(conn: &mut MultiplexedConnection, key: &str) -> redis::RedisResult<String> {
    let newest: Value = redis::cmd("XREVRANGE")
        .arg(key)
        .arg("+")
        .arg("-")
        .arg("COUNT")
        .arg(1)
        .query_async(conn)
        .await?;
    Ok(reply::items(&newest)
        .first()
        .and_then(|e| reply::items(e).first().map(reply::as_string))
        .unwrap_or_else(|| "0-0".into()))
}

async fn read_loop(reader: Arc<Reader>, queue: Arc<RedisQueue>, block_ms: u64) {
    let stream = reader.key.1.clone();
    let mut last = (reader.key.2 != "$").then(|| reader.key.2.clone());
    let mut conn: Option<MultiplexedConnection> = None;
    let mut failures = 0u32;
    let mut stop = reader.stop.subscribe();
    loop {
        // Connect first, then look at the stop flag: a reader stopped while
        // it was connecting drops its new connection here.
        if conn.is_none() {
            match connect(&queue).await {
                Ok(c) => conn = Some(c),
                Err(e) => {
                    if back_off(&reader, &stream, e, &mut failures, &mut stop).await {
                        return;
                    }
                    continue;
                }
            }
        }
        if *stop.borrow() {
            return;
        }
        let c = conn.as_mut().expect("connected above");
        let step = async {
            if last.is_none() {
                last = Some(newest_id(c, &stream).await?);
            }
            reader.positioned.send_replace(true);
            redis::cmd("XREAD")
                .arg("BLOCK")
                .arg(block_ms)
                .arg("COUNT")
                .arg(1000)
                .arg("STREAMS")
                .arg(&stream)
                .arg(last.as_deref().unwrap_or("0-0"))
                .query_async::<Value>(c)
                .await
        };
        let result = tokio::select! {
            result = step => result,
            _ = stop.wait_for(|stopped| *stopped) => return,
        };
        match result {
            Ok(reply) => {
                if failures > 0 {
                    tracing::info!(
                        failed_attempts = failures,
                        "events reader for {stream} resumed"
                    );
                }
                failures = 0;
                if let Some((json, id)) = entries_json(&reply) {
                    let json: Arc<str> = json.into();
                    reader.broadcast(|| Message::Entries(json.clone()));
                    last = Some(id);
                }
            }
            Err(e) => {
                conn = None;
                let e = queue.endpoint.classify(&e);
                if back_off(&reader, &stream, e, &mut failures, &mut stop).await {
                    return;
                }
            }
        }
    }
}

/// Tells subscribers about an outage (once per outage) and waits before the
/// next try; true when the reader was stopped meanwhile.
async fn back_off(
    reader: &Reader,
    stream: &str,
    error: EngineError,
    failures: &mut u32,
    stop: &mut watch::Receiver<bool>,
) -> bool {
    if *failures == 0 {
        tracing::warn!("events reader for {stream} stopped: {error}; retrying");
        let message = error
            .context(&format!("events reader for {stream}"))
            .tagged();
        reader.broadcast(|| Message::Error(message.clone()));
    } else {
        tracing::debug!(attempt = *failures, "events reader for {stream}: {error}");
    }
    *failures += 1;
    let pause = Duration::from_millis((50u64 << (*failures).min(5)).min(2000));
    tokio::select! {
        _ = tokio::time::sleep(pause) => false,
        _ = stop.wait_for(|stopped| *stopped) => true,
    }
}
