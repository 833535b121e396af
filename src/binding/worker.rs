use napi_derive::napi;
use serde_json::Value;

use super::js_error;
use super::queue::open_queue;
use super::queue::Backend;
use crate::engine::error::EngineError;
use crate::engine::options::KeepJobs;
use crate::engine::worker::{Finish, Outcome, WorkerCore, WorkerSettings};
use crate::memory::worker::MemoryWorker;
use crate::redis::worker::RedisWorker;

enum AnyWorker {
    Redis(RedisWorker),
    Memory(MemoryWorker),
}

macro_rules! on_worker {
    ($worker:expr, $w:ident => $call:expr) => {
        match $worker {
            AnyWorker::Redis($w) => $call,
            AnyWorker::Memory($w) => $call,
        }
    };
}

#[napi]
pub struct NativeWorker {
    inner: AnyWorker,
}

/// Fields per finished job in `finish`: id, token, kind, value, stacktrace,
/// custom backoff delay ("" for none).
const FINISH_STRIDE: usize = 6;

fn settings_from(json: &str) -> Result<WorkerSettings, EngineError> {
    let v: Value = serde_json::from_str(json).map_err(|e| {
        EngineError::InvalidInput(format!("worker options are not valid JSON: {e}"))
    })?;
    let int = |name: &str, default: i64| v.get(name).and_then(Value::as_i64).unwrap_or(default);
    let lock_duration = int("lockDuration", 30_000).max(1);
    let limiter = match v.get("limiter") {
        Some(Value::Object(l)) => {
            let max = l.get("max").and_then(Value::as_i64).unwrap_or(0);
            let duration = l.get("duration").and_then(Value::as_i64).unwrap_or(0);
            if max < 1 || duration < 1 {
                return Err(EngineError::InvalidInput(
                    "limiter needs a positive integer max and duration (ms)".into(),
                ));
            }
            Some((max, duration))
        }
        _ => None,
    };
    Ok(WorkerSettings {
        name: v
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string(),
        concurrency: int("concurrency", 1).max(1) as usize,
        lock_duration_ms: lock_duration as u64,
        lock_renew_ms: int("lockRenewTime", lock_duration / 2).max(1) as u64,
        drain_delay_s: v
            .get("drainDelay")
            .and_then(Value::as_f64)
            .unwrap_or(5.0)
            .max(0.01),
        limiter,
        remove_on_complete: KeepJobs::parse(v.get("removeOnComplete"), "removeOnComplete")?,
        remove_on_fail: KeepJobs::parse(v.get("removeOnFail"), "removeOnFail")?,
        skip_lock_renewal: v
            .get("skipLockRenewal")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        stalled_interval_ms: int("stalledInterval", 30_000).max(1) as u64,
        max_stalled_count: int("maxStalledCount", 1).max(0),
        metrics_max_points: v
            .pointer("/metrics/maxDataPoints")
            .and_then(Value::as_i64)
            .unwrap_or(0)
            .max(0),
        skip_stalled_check: v
            .get("skipStalledCheck")
            .and_then(Value::as_bool)
            .unwrap_or(false),
    })
}

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

impl NativeWorker {
    fn core(&self) -> &WorkerCore {
        on_worker!(&self.inner, w => w.core())
    }
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
        let queue = open_queue(&url, &prefix, &name, command_timeout_ms)?;
        let settings = settings_from(&settings).map_err(js_error)?;
        let inner = match queue {
            Backend::Redis(q) => AnyWorker::Redis(RedisWorker::new((*q).clone(), settings)),
            Backend::Memory(q) => AnyWorker::Memory(MemoryWorker::new(q, settings)),
        };
        Ok(NativeWorker { inner })
    }

    /// Starts fetching. Async only so that it runs on the runtime's threads.
    #[napi]
    pub async fn start(&self) {
        on_worker!(&self.inner, w => w.start());
    }

    /// The next batch (JSON) of jobs, results, errors and notices; null once closed.
    #[napi]
    pub async fn next(&self) -> Option<String> {
        on_worker!(&self.inner, w => w.next().await)
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
        self.core().finish(parse_finishes(flat)?);
        Ok(())
    }

    /// Manual processing: one job locked with `token`, or null.
    #[napi]
    pub async fn fetch_one(&self, token: String) -> napi::Result<Option<String>> {
        on_worker!(&self.inner, w => w.fetch_one(&token).await).map_err(js_error)
    }

    /// Manual processing: finishes one job (`FINISH_STRIDE` strings as in
    /// `finish`); resolves with the script's code.
    #[napi]
    pub async fn finish_one(&self, flat: Vec<String>) -> napi::Result<i64> {
        let mut batch = parse_finishes(flat)?;
        let Some(finish) = batch.pop().filter(|_| batch.is_empty()) else {
            return Err(js_error(EngineError::InvalidInput(
                "finishOne takes exactly one job".into(),
            )));
        };
        on_worker!(&self.inner, w => w.finish_one(finish).await).map_err(js_error)
    }

    /// Takes no job for `ms` milliseconds.
    #[napi]
    pub fn hold(&self, ms: f64) {
        self.core().hold(ms.max(0.0) as u64);
    }

    #[napi]
    pub fn set_concurrency(&self, n: u32) {
        self.core().set_concurrency(n as usize);
    }

    #[napi]
    pub fn set_paused(&self, paused: bool) {
        self.core().set_paused(paused);
    }

    #[napi]
    pub fn is_running(&self) -> bool {
        self.core().is_running()
    }

    #[napi]
    pub async fn close(&self, force: bool) {
        self.core().close(force).await;
    }
}
