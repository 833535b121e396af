use std::sync::Arc;

use napi_derive::napi;

use super::{js_error, open_store};
use crate::engine::error::EngineError;
use crate::engine::job::NewJob;
use crate::engine::meta::meta_view;
use crate::engine::now_ms;
use crate::engine::options::{parse_job_options, rate_limit_ms};
use crate::engine::store::{refusal_name, Done, JobRange, LogRange, Reprocess, Store};

/// Validates jobs sent as one text: four lines per job, the name as a JSON
/// string, data and options as JSON text, and the timestamp (0: now). JSON
/// text never holds a raw newline, so lines cannot be confused; one string
/// crosses from JS far cheaper than four arrays of them.
pub(crate) fn new_jobs(packed: &str) -> napi::Result<Vec<NewJob>> {
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
    pub(crate) store: Arc<dyn Store>,
}

/// What JS receives for an operation on one job: null when done, else the
/// refusal's name (see `Refusal`).
pub(crate) fn outcome(done: napi::Result<Done>) -> napi::Result<Option<String>> {
    done.map(|d| refusal_name(d).map(str::to_string))
}

fn json<T: serde::Serialize>(value: &T) -> napi::Result<String> {
    serde_json::to_string(value)
        .map_err(|e| js_error(EngineError::Other(format!("cannot write a reply: {e}"))))
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
            store: open_store(&url, &prefix, &name, command_timeout_ms)?,
        })
    }

    /// Adds jobs sent as `new_jobs` reads them. Every job is validated
    /// before anything is sent.
    #[napi]
    pub async fn add(&self, packed: String) -> napi::Result<Vec<String>> {
        let jobs = new_jobs(&packed)?;
        self.store.add(&jobs).await.map_err(js_error)
    }

    /// `add` on the JS thread, where the store can (the embedded one
    /// stores a job in less time than a hop to the runtime and back takes).
    #[napi]
    pub fn add_now(&self, packed: String) -> napi::Result<Vec<String>> {
        let jobs = new_jobs(&packed)?;
        self.store.add_now(&jobs).ok_or_else(|| {
            js_error(EngineError::Other(
                "addNow is for the embedded store only".into(),
            ))
        })
    }

    #[napi]
    pub async fn counts(&self, states: Vec<String>) -> napi::Result<Vec<i64>> {
        self.store.counts(&states).await.map_err(js_error)
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
        let ids = self.get_ranges(states, start, end, asc).await?;
        self.store.jobs_json(&ids).await.map_err(js_error)
    }

    #[napi]
    pub async fn get_ranges(
        &self,
        states: Vec<String>,
        start: i64,
        end: i64,
        asc: bool,
    ) -> napi::Result<Vec<String>> {
        let range = JobRange {
            states: &states,
            start,
            end,
            asc,
        };
        self.store.ranges(&range).await.map_err(js_error)
    }

    #[napi]
    pub async fn get_job(&self, id: String) -> napi::Result<Option<String>> {
        self.store.job_json(&id).await.map_err(js_error)
    }

    #[napi]
    pub async fn get_state(&self, id: String) -> napi::Result<String> {
        self.store.state(&id).await.map_err(js_error)
    }

    #[napi]
    pub async fn set_paused(&self, paused: bool) -> napi::Result<()> {
        self.store.set_paused(paused).await.map_err(js_error)
    }

    #[napi]
    pub async fn is_paused(&self) -> napi::Result<bool> {
        self.store.is_paused().await.map_err(js_error)
    }

    #[napi]
    pub async fn drain(&self, delayed: bool) -> napi::Result<()> {
        self.store.drain(delayed).await.map_err(js_error)
    }

    #[napi]
    pub async fn obliterate(&self, force: bool, count: i64) -> napi::Result<()> {
        self.store.obliterate(force, count).await.map_err(js_error)
    }

    #[napi]
    pub async fn remove(&self, id: String) -> napi::Result<Option<String>> {
        outcome(self.store.remove(&id).await.map_err(js_error))
    }

    #[napi]
    pub async fn reprocess(
        &self,
        id: String,
        state: String,
        lifo: bool,
        reset_attempts_made: bool,
        reset_attempts_started: bool,
    ) -> napi::Result<Option<String>> {
        let request = Reprocess {
            id: &id,
            state: &state,
            lifo,
            reset_attempts_made,
            reset_attempts_started,
        };
        outcome(self.store.reprocess(&request).await.map_err(js_error))
    }

    #[napi]
    pub async fn update_progress(
        &self,
        id: String,
        progress: String,
    ) -> napi::Result<Option<String>> {
        outcome(
            self.store
                .update_progress(&id, &progress)
                .await
                .map_err(js_error),
        )
    }

    /// The log's length after the row, or -1 when there is no such job.
    #[napi]
    pub async fn add_log(&self, id: String, row: String, keep: Option<i64>) -> napi::Result<i64> {
        let count = self
            .store
            .add_log(&id, &row, keep)
            .await
            .map_err(js_error)?;
        Ok(count.unwrap_or(-1))
    }

    /// `{"logs":[…],"count":n}` of a job's log.
    #[napi]
    pub async fn get_logs(
        &self,
        id: String,
        start: i64,
        end: i64,
        asc: bool,
    ) -> napi::Result<String> {
        let range = LogRange {
            id: &id,
            start,
            end,
            asc,
        };
        json(&self.store.logs(&range).await.map_err(js_error)?)
    }

    #[napi]
    pub async fn ping(&self) -> napi::Result<()> {
        self.store.ping().await.map_err(js_error)
    }

    /// `fields` and `values` pair up; a null value removes the field.
    #[napi]
    pub async fn set_meta(
        &self,
        fields: Vec<String>,
        values: Vec<Option<String>>,
    ) -> napi::Result<i64> {
        let pairs: Vec<_> = fields.into_iter().zip(values).collect();
        self.store.set_meta(&pairs).await.map_err(js_error)
    }

    /// The meta hash as `Queue#getMeta` reports it, as JSON.
    #[napi]
    pub async fn get_meta(&self) -> napi::Result<String> {
        let pairs = self.store.meta().await.map_err(js_error)?;
        json(&meta_view(pairs))
    }

    #[napi]
    pub async fn trim_events(&self, max_len: i64) -> napi::Result<i64> {
        self.store.trim_events(max_len).await.map_err(js_error)
    }

    #[napi]
    pub async fn rate_limit_ttl(&self, max: i64) -> napi::Result<i64> {
        self.store.rate_limit_ttl(max).await.map_err(js_error)
    }

    #[napi]
    pub async fn rate_limit(&self, ms: f64) -> napi::Result<()> {
        let ms = rate_limit_ms(ms).map_err(js_error)?;
        self.store.rate_limit(ms).await.map_err(js_error)
    }

    #[napi]
    pub async fn remove_rate_limit_key(&self) -> napi::Result<i64> {
        self.store.remove_rate_limit_key().await.map_err(js_error)
    }

    /// The workers attached to the queue, as a JSON array of objects with
    /// the fields of each one's client.
    #[napi]
    pub async fn get_workers(&self) -> napi::Result<String> {
        let workers = self.store.workers().await.map_err(js_error)?;
        let objects: Vec<serde_json::Map<String, serde_json::Value>> = workers
            .into_iter()
            .map(|fields| fields.into_iter().map(|(k, v)| (k, v.into())).collect())
            .collect();
        json(&objects)
    }

    /// Appends a custom event (QueueEventsProducer); returns its stream id.
    #[napi]
    pub async fn publish_event(
        &self,
        fields: Vec<String>,
        max_events: i64,
    ) -> napi::Result<String> {
        self.store
            .publish_event(&fields, max_events)
            .await
            .map_err(js_error)
    }

    /// `{"count","prevTS","prevCount","data":[…],"total"}` of a finished state.
    #[napi]
    pub async fn get_metrics(&self, state: String, start: i64, end: i64) -> napi::Result<String> {
        json(
            &self
                .store
                .metrics(&state, start, end)
                .await
                .map_err(js_error)?,
        )
    }
}
