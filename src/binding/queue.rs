use std::sync::Arc;
use std::time::Duration;

use napi_derive::napi;

use super::js_error;
use crate::engine::error::EngineError;
use crate::engine::keys::QueueKeys;
use crate::engine::now_ms;
use crate::engine::options::parse_job_options;
use crate::memory::MemoryQueue;
use crate::redis::connection::Endpoint;
use crate::redis::queue::{NewJob, RedisQueue};

/// Where a queue lives: Redis, or this process (`memory://`).
#[derive(Clone)]
pub(crate) enum Backend {
    Redis(Arc<RedisQueue>),
    Memory(MemoryQueue),
}

/// Runs the same call on whichever backend holds the queue; both backends
/// have the same method names, arguments and results.
macro_rules! on_backend {
    ($backend:expr, $q:ident => $call:expr) => {
        match $backend {
            $crate::binding::queue::Backend::Redis($q) => $call,
            $crate::binding::queue::Backend::Memory($q) => $call,
        }
    };
}
pub(crate) use on_backend;

/// Validates jobs sent as one text: four lines per job, the name as a JSON
/// string, data and options as JSON text, and the timestamp (0: now). JSON
/// text never holds a raw newline, so lines cannot be confused; one string
/// crosses from JS far cheaper than four arrays of them.
fn new_jobs(packed: &str) -> napi::Result<Vec<NewJob>> {
    let invalid = |what: String| js_error(EngineError::InvalidInput(what));
    let lines: Vec<&str> = packed.split('\n').collect();
    if !lines.len().is_multiple_of(4) {
        return Err(invalid(format!(
            "jobs to add must come as four lines each, got {} lines",
            lines.len()
        )));
    }
    let now = now_ms();
    let mut jobs = Vec::with_capacity(lines.len() / 4);
    for job in lines.chunks_exact(4) {
        let name: String = serde_json::from_str(job[0])
            .map_err(|e| invalid(format!("job name is not a JSON string: {e}")))?;
        let opts: serde_json::Value = serde_json::from_str(job[2])
            .map_err(|e| invalid(format!("job options are not valid JSON: {e}")))?;
        let timestamp = match job[3].parse::<f64>() {
            Ok(ts) if ts.is_finite() && ts > 0.0 => ts as i64,
            _ => now,
        };
        let opts = parse_job_options(&opts, timestamp).map_err(js_error)?;
        jobs.push(NewJob {
            name,
            data: job[1].to_string(),
            opts,
        });
    }
    Ok(jobs)
}

#[napi]
pub struct NativeQueue {
    pub(crate) inner: Backend,
}

pub(crate) const MEMORY_URL: &str = "memory://";

pub(crate) fn open_queue(
    url: &str,
    prefix: &str,
    name: &str,
    timeout_ms: u32,
) -> napi::Result<Backend> {
    let keys = QueueKeys::new(prefix, name).map_err(js_error)?;
    if url == MEMORY_URL {
        return Ok(Backend::Memory(MemoryQueue::open(keys)));
    }
    let endpoint =
        Endpoint::get(url, Duration::from_millis(timeout_ms.max(1) as u64)).map_err(js_error)?;
    Ok(Backend::Redis(Arc::new(RedisQueue::new(endpoint, keys))))
}

#[napi]
impl NativeQueue {
    #[napi(constructor)]
    pub fn new(
        url: String,
        prefix: String,
        name: String,
        command_timeout_ms: u32,
    ) -> napi::Result<Self> {
        Ok(NativeQueue {
            inner: open_queue(&url, &prefix, &name, command_timeout_ms)?,
        })
    }

    /// Adds jobs sent as `new_jobs` reads them. Every job is validated
    /// before anything is sent.
    #[napi]
    pub async fn add(&self, packed: String) -> napi::Result<Vec<String>> {
        let jobs = new_jobs(&packed)?;
        on_backend!(&self.inner, q => q.add(&jobs).await).map_err(js_error)
    }

    /// `add` without leaving the JS thread, for the embedded engine: a job
    /// is stored in microseconds, less than a hop to the runtime and back.
    #[napi]
    pub fn add_now(&self, packed: String) -> napi::Result<Vec<String>> {
        let jobs = new_jobs(&packed)?;
        match &self.inner {
            Backend::Memory(q) => Ok(q.add_now(&jobs)),
            Backend::Redis(_) => Err(js_error(EngineError::Other(
                "addNow is for the embedded engine only".into(),
            ))),
        }
    }

    #[napi]
    pub async fn counts(&self, states: Vec<String>) -> napi::Result<Vec<i64>> {
        on_backend!(&self.inner, q => q.counts(&states).await).map_err(js_error)
    }

    /// Jobs in the given states as a JSON array.
    #[napi]
    pub async fn get_jobs(
        &self,
        states: Vec<String>,
        start: i64,
        end: i64,
        asc: bool,
    ) -> napi::Result<String> {
        let ids = on_backend!(&self.inner, q => q.ranges(&states, start, end, asc).await)
            .map_err(js_error)?;
        on_backend!(&self.inner, q => q.jobs_json(&ids).await).map_err(js_error)
    }

    #[napi]
    pub async fn get_ranges(
        &self,
        states: Vec<String>,
        start: i64,
        end: i64,
        asc: bool,
    ) -> napi::Result<Vec<String>> {
        on_backend!(&self.inner, q => q.ranges(&states, start, end, asc).await).map_err(js_error)
    }

    #[napi]
    pub async fn get_job(&self, id: String) -> napi::Result<Option<String>> {
        on_backend!(&self.inner, q => q.job_json(&id).await).map_err(js_error)
    }

    #[napi]
    pub async fn get_state(&self, id: String) -> napi::Result<String> {
        on_backend!(&self.inner, q => q.state(&id).await).map_err(js_error)
    }

    #[napi]
    pub async fn set_paused(&self, paused: bool) -> napi::Result<()> {
        on_backend!(&self.inner, q => q.set_paused(paused).await).map_err(js_error)
    }

    #[napi]
    pub async fn is_paused(&self) -> napi::Result<bool> {
        on_backend!(&self.inner, q => q.is_paused().await).map_err(js_error)
    }

    #[napi]
    pub async fn drain(&self, delayed: bool) -> napi::Result<()> {
        on_backend!(&self.inner, q => q.drain(delayed).await).map_err(js_error)
    }

    #[napi]
    pub async fn obliterate(&self, force: bool, count: i64) -> napi::Result<()> {
        on_backend!(&self.inner, q => q.obliterate(force, count).await).map_err(js_error)
    }

    #[napi]
    pub async fn remove(&self, id: String) -> napi::Result<i64> {
        on_backend!(&self.inner, q => q.remove(&id).await).map_err(js_error)
    }

    #[napi]
    pub async fn reprocess(
        &self,
        id: String,
        state: String,
        lifo: bool,
        reset_made: bool,
        reset_started: bool,
    ) -> napi::Result<i64> {
        on_backend!(&self.inner, q => q.reprocess(&id, &state, lifo, reset_made, reset_started).await)
            .map_err(js_error)
    }

    #[napi]
    pub async fn update_progress(&self, id: String, progress: String) -> napi::Result<i64> {
        on_backend!(&self.inner, q => q.update_progress(&id, &progress).await).map_err(js_error)
    }

    #[napi]
    pub async fn add_log(&self, id: String, row: String, keep: Option<i64>) -> napi::Result<i64> {
        on_backend!(&self.inner, q => q.add_log(&id, &row, keep).await).map_err(js_error)
    }

    /// `[rows, total]` of a job's log.
    #[napi]
    pub async fn get_logs(
        &self,
        id: String,
        start: i64,
        end: i64,
        asc: bool,
    ) -> napi::Result<(Vec<String>, i64)> {
        on_backend!(&self.inner, q => q.logs(&id, start, end, asc).await).map_err(js_error)
    }

    #[napi]
    pub async fn ping(&self) -> napi::Result<()> {
        on_backend!(&self.inner, q => q.ping().await).map_err(js_error)
    }

    /// `fields` and `values` pair up; a null value removes the field.
    #[napi]
    pub async fn set_meta(
        &self,
        fields: Vec<String>,
        values: Vec<Option<String>>,
    ) -> napi::Result<i64> {
        let pairs: Vec<_> = fields.into_iter().zip(values).collect();
        on_backend!(&self.inner, q => q.set_meta(&pairs).await).map_err(js_error)
    }

    /// The meta hash as `[field, value, …]`.
    #[napi]
    pub async fn get_meta(&self) -> napi::Result<Vec<String>> {
        on_backend!(&self.inner, q => q.meta().await).map_err(js_error)
    }

    #[napi]
    pub async fn trim_events(&self, max_len: i64) -> napi::Result<i64> {
        on_backend!(&self.inner, q => q.trim_events(max_len).await).map_err(js_error)
    }

    #[napi]
    pub async fn rate_limit_ttl(&self, max: i64) -> napi::Result<i64> {
        on_backend!(&self.inner, q => q.rate_limit_ttl(max).await).map_err(js_error)
    }

    #[napi]
    pub async fn rate_limit(&self, ms: i64) -> napi::Result<()> {
        on_backend!(&self.inner, q => q.rate_limit(ms).await).map_err(js_error)
    }

    #[napi]
    pub async fn remove_rate_limit_key(&self) -> napi::Result<i64> {
        on_backend!(&self.inner, q => q.remove_rate_limit_key().await).map_err(js_error)
    }

    #[napi]
    pub async fn client_list(&self) -> napi::Result<String> {
        on_backend!(&self.inner, q => q.client_list().await).map_err(js_error)
    }

    /// Appends a custom event (QueueEventsProducer); returns its stream id.
    #[napi]
    pub async fn publish_event(
        &self,
        fields: Vec<String>,
        max_events: i64,
    ) -> napi::Result<String> {
        on_backend!(&self.inner, q => q.publish_event(&fields, max_events).await).map_err(js_error)
    }

    /// `[[count, prevTS, prevCount], data points, total points]` of a finished state.
    #[napi]
    pub async fn get_metrics(
        &self,
        state: String,
        start: i64,
        end: i64,
    ) -> napi::Result<(Vec<String>, Vec<String>, i64)> {
        on_backend!(&self.inner, q => q.metrics(&state, start, end).await).map_err(js_error)
    }
}
