//! A Worker's Redis side: one script call per turn (finish.lua stores a
//! batch of results and starts the next jobs; fetch.lua only starts jobs),
//! the marker wait on a connection of its own, and lock renewal and the
//! stalled check as one script call each.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use redis::aio::MultiplexedConnection;
use redis::Value;
use tokio::sync::Mutex as AsyncMutex;

use super::queue::RedisQueue;
use super::reply;
use super::scripts::scripts;
use crate::engine::error::{EngineError, EngineResult};
use crate::engine::job::pair_fields;
use crate::engine::options::KeepJobs;
use crate::engine::store::{
    BoxFuture, Fetch, Finishing, Pacing, Refusal, Renewal, StalledCheck, Tokens, Turn, TurnRequest,
    WorkerStore,
};
use crate::engine::worker::{Action, StartedJob, WorkerCore};

pub struct RedisWorkerStore {
    queue: RedisQueue,
    /// What CLIENT SETNAME gives the blocking connection, so that
    /// `getWorkers` (ours and BullMQ's) finds the worker.
    client_name: String,
    blocking: Arc<AsyncMutex<Option<MultiplexedConnection>>>,
}

impl RedisWorkerStore {
    pub fn new(queue: RedisQueue, worker_name: &str) -> Self {
        // BullMQ adds the worker's name only when it has one.
        let mut client_name = queue.keys.client_name();
        if !worker_name.is_empty() {
            client_name = format!("{client_name}:w:{worker_name}");
        }
        RedisWorkerStore {
            queue,
            client_name,
            blocking: Arc::new(AsyncMutex::new(None)),
        }
    }

    /// fetch.lua's and finish.lua's first arguments.
    fn worker_args<'a>(&'a self, core: &'a WorkerCore, fetch: &Fetch<'a>) -> Vec<Cow<'a, str>> {
        let s = &core.settings;
        let (token_base, seq) = match fetch.tokens {
            Tokens::Sequence { base, first } => (base, Cow::Owned(first.to_string())),
            // -1: the script uses the token as it is.
            Tokens::Fixed(token) => (token, Cow::Borrowed("-1")),
        };
        let (max, duration) = s.limiter.unwrap_or((0, 0));
        vec![
            Cow::Borrowed(self.queue.keys.base.as_str()),
            Cow::Owned(fetch.now.to_string()),
            Cow::Owned(fetch.count.to_string()),
            Cow::Borrowed(token_base),
            seq,
            Cow::Owned(s.lock_duration_ms.to_string()),
            Cow::Borrowed(s.name.as_str()),
            Cow::Owned(max.to_string()),
            Cow::Owned(duration.to_string()),
        ]
    }

    /// The jobs a fetch started, with the fields of any that did not come
    /// back splittable read again. One that cannot be read now stays locked
    /// until the stalled check returns it to wait.
    async fn started_jobs<'a>(&self, jobs: &'a Value) -> Vec<StartedJob<'a>> {
        let (mut started, reread) = reply::started_jobs(jobs);
        for mut job in reread {
            let key = self.queue.keys.key(&job.id);
            if let Ok(flat) = self
                .queue
                .query::<Vec<String>>(redis::cmd("HGETALL").arg(key))
                .await
            {
                job.fields = pair_fields(flat)
                    .into_iter()
                    .map(|(k, v)| (Cow::Owned(k), Cow::Owned(v)))
                    .collect();
                started.push(job);
            }
        }
        started
    }

    /// Reads a fetch's reply: started jobs (recorded in `core`), the rate
    /// limit's wait and the next delayed job's due time.
    async fn read_fetch(&self, core: &WorkerCore, jobs: &Value, wait: &Value, due: &Value) -> Turn {
        let started = self.started_jobs(jobs).await;
        Turn {
            done: Vec::new(),
            started: core.record_started(&started),
            limit_wait_ms: reply::as_i64(wait),
            next_due_ms: reply::as_i64(due),
        }
    }
}

/// finish.lua's arguments for one result. Text the job already holds is
/// borrowed; numbers that are almost always the same are constants.
fn finish_args<'f>(r: &'f Finishing<'f>, args: &mut Vec<Cow<'f, str>>) {
    let none = KeepJobs::ALL;
    let empty = || Cow::Borrowed("");
    let text = |s: &'f String| Cow::Borrowed(s.as_str());
    let (action, value, stack, keep, attempts, extra) = match &r.action {
        Action::Wait => ("wait", empty(), empty(), none, 1, empty()),
        Action::Completed { returnvalue, keep } => {
            ("completed", text(returnvalue), empty(), *keep, 1, empty())
        }
        Action::Failed {
            reason,
            stacktrace,
            keep,
            attempts,
        } => (
            "failed",
            text(reason),
            text(stacktrace),
            *keep,
            *attempts,
            empty(),
        ),
        Action::Retry {
            reason,
            stacktrace,
            lifo,
        } => (
            "retry",
            text(reason),
            text(stacktrace),
            none,
            1,
            Cow::Borrowed(if *lifo { "1" } else { "0" }),
        ),
        Action::Delay {
            reason,
            stacktrace,
            delay_ms,
        } => (
            "delay",
            text(reason),
            text(stacktrace),
            none,
            1,
            Cow::Owned(delay_ms.to_string()),
        ),
    };
    // What the worker knows spares the script a call each ("": unknown).
    let (made, dedup) = match r.facts {
        Some((made, dedup)) => (Cow::Owned(made.to_string()), if dedup { "1" } else { "0" }),
        None => (empty(), ""),
    };
    args.extend([
        Cow::Borrowed(r.finish.id.as_str()),
        Cow::Borrowed(r.finish.token.as_str()),
        Cow::Borrowed(action),
        value,
        stack,
        small_int(keep.count_arg()),
        small_int(keep.age_arg()),
        small_int(attempts),
        extra,
        made,
        Cow::Borrowed(dedup),
    ]);
}

/// An integer as script text, without an allocation for the usual -1, 0, 1.
fn small_int<'a>(n: i64) -> Cow<'a, str> {
    match n {
        -1 => Cow::Borrowed("-1"),
        0 => Cow::Borrowed("0"),
        1 => Cow::Borrowed("1"),
        n => Cow::Owned(n.to_string()),
    }
}

#[async_trait]
impl WorkerStore for RedisWorkerStore {
    async fn turn(&self, request: TurnRequest<'_>) -> EngineResult<Turn> {
        let (core, results, fetch) = (request.core, request.results, &request.fetch);
        let mut args = self.worker_args(core, fetch);
        if results.is_empty() {
            let reply: Value = self.queue.eval(&scripts().fetch, &args).await?;
            let part = |i| reply::items(&reply).get(i).unwrap_or(&Value::Nil);
            return Ok(self.read_fetch(core, part(0), part(1), part(2)).await);
        }
        args.push(Cow::Owned(core.settings.metrics_max_points.to_string()));
        args.push(Cow::Owned(results.len().to_string()));
        for r in results {
            finish_args(r, &mut args);
        }
        tracing::trace!(target: "bullrush::worker", results = results.len(), fetch = fetch.count, "finish script");
        let reply: Value = self.queue.eval(&scripts().finish, &args).await?;
        let part = |i| reply::items(&reply).get(i).unwrap_or(&Value::Nil);
        let mut turn = self.read_fetch(core, part(1), part(2), part(3)).await;
        turn.done = reply::items(part(0))
            .iter()
            .map(|code| Refusal::from_code(reply::as_i64(code)))
            .collect();
        Ok(turn)
    }

    /// BZPOPMIN on the marker: it holds a member whenever a job may start.
    fn wait_for_work(&self, timeout: Duration) -> BoxFuture<'static, EngineResult<()>> {
        let slot = self.blocking.clone();
        let queue = self.queue.clone();
        let name = self.client_name.clone();
        Box::pin(async move {
            let mut conn = connect_blocking(&slot, &queue, &name).await?;
            let result: redis::RedisResult<Value> = redis::cmd("BZPOPMIN")
                .arg(queue.keys.key("marker"))
                .arg(timeout.as_secs_f64())
                .query_async(&mut conn)
                .await;
            if let Err(e) = result {
                slot.lock().await.take();
                return Err(EngineError::Unavailable(format!(
                    "Redis at {} is unreachable: {e}",
                    queue.endpoint.display()
                )));
            }
            Ok(())
        })
    }

    async fn extend_locks(&self, renewal: &Renewal<'_>) -> EngineResult<Vec<String>> {
        let base = self.queue.keys.base.clone();
        let mut args = vec![base, renewal.lock_ms.to_string()];
        for (id, token) in renewal.held {
            args.push(id.clone());
            args.push(token.clone());
        }
        self.queue.eval(&scripts().extend_locks, &args).await
    }

    async fn check_stalled(&self, check: &StalledCheck) -> EngineResult<Vec<String>> {
        let args = [
            self.queue.keys.base.clone(),
            check.now.to_string(),
            check.max_stalled.to_string(),
            check.interval_ms.to_string(),
        ];
        self.queue.eval(&scripts().stalled, &args).await
    }

    /// Connects the blocking connection at once: it is what names the
    /// worker in CLIENT LIST, so a worker that starts while jobs wait is
    /// listed before it first waits.
    fn attach(&self) {
        let slot = self.blocking.clone();
        let queue = self.queue.clone();
        let name = self.client_name.clone();
        tokio::spawn(async move {
            let _ = connect_blocking(&slot, &queue, &name).await;
        });
    }

    fn detach(&self) {
        let slot = self.blocking.clone();
        tokio::spawn(async move {
            slot.lock().await.take();
        });
    }

    fn pacing(&self) -> Pacing {
        // Two turns at once let client and Redis overlap; more would only
        // shrink the batches.
        Pacing {
            calls_in_flight: 2,
            split_from: 2,
        }
    }
}

async fn connect_blocking(
    slot: &AsyncMutex<Option<MultiplexedConnection>>,
    queue: &RedisQueue,
    name: &str,
) -> EngineResult<MultiplexedConnection> {
    let mut slot = slot.lock().await;
    if let Some(conn) = slot.as_ref() {
        return Ok(conn.clone());
    }
    let conn = queue.endpoint.dedicated(Some(name)).await?;
    *slot = Some(conn.clone());
    Ok(conn)
}
