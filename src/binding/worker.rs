use napi_derive::napi;

use super::{js_error, open_store};
use crate::engine::clock;
use crate::engine::error::EngineError;
use crate::engine::worker::{Finish, Outcome, Worker, WorkerSettings};

#[napi]
pub struct NativeWorker {
    worker: Worker,
}

/// Fields per finished job in `finish`: id, token, kind, value, stacktrace,
/// custom backoff delay ("" for none).
const FINISH_STRIDE: usize = 6;

/// Results of finished jobs, `FINISH_STRIDE` strings each; kind is
/// "c" completed, "f" failed, "u" failed without retry (UnrecoverableError),
/// "w" rate limited (back to wait), "x" moved by the processor itself.
fn parse_finishes(flat: Vec<String>) -> napi::Result<Vec<Finish>> {
    if !flat.len().is_multiple_of(FINISH_STRIDE) {
        return Err(js_error(EngineError::InvalidInput(
            "finish: malformed batch".into(),
        )));
    }
    let mut batch = Vec::with_capacity(flat.len() / FINISH_STRIDE);
    let mut it = flat.into_iter();
    while let (Some(id), Some(token), Some(kind), Some(value), Some(stack), Some(delay)) = (
        it.next(),
        it.next(),
        it.next(),
        it.next(),
        it.next(),
        it.next(),
    ) {
        let outcome = match kind.as_str() {
            "c" => Outcome::Completed { returnvalue: value },
            "w" => Outcome::RateLimited,
            "x" => Outcome::Moved,
            _ => Outcome::Failed {
                reason: value,
                stacktrace: stack,
                unrecoverable: kind == "u",
                custom_delay: delay.parse().ok(),
            },
        };
        batch.push(Finish { id, token, outcome });
    }
    Ok(batch)
}

#[napi]
impl NativeWorker {
    #[napi(constructor)]
    pub fn new(
        url: String,
        prefix: String,
        name: String,
        command_timeout_ms: u32,
        settings: String,
    ) -> napi::Result<Self> {
        let settings = WorkerSettings::from_json(&settings).map_err(js_error)?;
        let store = open_store(&url, &prefix, &name, command_timeout_ms)?;
        let worker_store = store.worker_store(&settings.name);
        Ok(NativeWorker {
            worker: Worker::new(worker_store, settings, clock::system()),
        })
    }

    /// Starts fetching. Async only so that it runs on the runtime's threads.
    #[napi]
    pub async fn start(&self) {
        self.worker.start();
    }

    /// The next batch (JSON) of jobs, results, errors and notices; null once closed.
    #[napi]
    pub async fn next(&self) -> Option<String> {
        self.worker.next().await
    }

    /// Results of processed jobs as a JSON array of strings (see
    /// `parse_finishes`), flushed in batches.
    #[napi]
    pub fn finish(&self, flat_json: String) -> napi::Result<()> {
        let flat: Vec<String> = serde_json::from_str(&flat_json).map_err(|e| {
            js_error(EngineError::InvalidInput(format!(
                "finish: malformed batch: {e}"
            )))
        })?;
        self.worker.core().finish(parse_finishes(flat)?);
        Ok(())
    }

    /// Manual processing: one job locked with `token`, or null.
    #[napi]
    pub async fn fetch_one(&self, token: String) -> napi::Result<Option<String>> {
        self.worker.fetch_one(&token).await.map_err(js_error)
    }

    /// Manual processing: finishes one job (`FINISH_STRIDE` strings as in
    /// `finish`); `[id, refusal or null, action, at, delay]` as JSON.
    #[napi]
    pub async fn finish_one(&self, flat: Vec<String>) -> napi::Result<String> {
        let mut batch = parse_finishes(flat)?;
        let Some(finish) = batch.pop().filter(|_| batch.is_empty()) else {
            return Err(js_error(EngineError::InvalidInput(
                "finishOne takes exactly one job".into(),
            )));
        };
        let settled = self.worker.finish_one(finish).await.map_err(js_error)?;
        Ok(settled.to_json())
    }

    /// JS's heartbeat: while it beats, locks are renewed (see
    /// `eventLoopBlockLimit`).
    #[napi]
    pub fn alive(&self) {
        self.worker.core().alive();
    }

    /// Takes no job for `ms` milliseconds.
    #[napi]
    pub fn hold(&self, ms: f64) {
        self.worker.core().hold(ms.max(0.0) as u64);
    }

    #[napi]
    pub fn set_concurrency(&self, n: u32) {
        self.worker.core().set_concurrency(n as usize);
    }

    #[napi]
    pub fn set_paused(&self, paused: bool) {
        self.worker.core().set_paused(paused);
    }

    #[napi]
    pub async fn close(&self, force: bool) {
        self.worker.core().close(force).await;
    }
}
