//! Queue operations against Redis: adding jobs, reading them, managing the queue.

use std::borrow::Cow;
use std::sync::Arc;

use redis::aio::MultiplexedConnection;
use redis::{FromRedisValue, Value};

use async_trait::async_trait;

use super::connection::{source_in, source_of, Endpoint};
use super::scripts::{scripts, Lua};
use crate::engine::error::{EngineError, EngineResult};
use crate::engine::job::{pair_fields, NewJob, RawJob};
use crate::engine::keys::{state_key, QueueKeys};
use crate::engine::store::{
    logs_to_keep, Done, JobRange, LogRange, Logged, Logs, QueueStore, Refusal, Reprocess,
};

/// The KEYS every queue script receives, in the order prelude.lua expects.
const SCRIPT_KEYS: [&str; 14] = [
    "wait",
    "active",
    "prioritized",
    "events",
    "stalled",
    "limiter",
    "delayed",
    "paused",
    "meta",
    "pc",
    "marker",
    "completed",
    "failed",
    "id",
];

#[derive(Clone)]
pub struct RedisQueue {
    pub endpoint: Arc<Endpoint>,
    pub keys: QueueKeys,
    script_keys: Vec<String>,
}

fn is_list(suffix: &str) -> bool {
    matches!(suffix, "wait" | "active" | "paused")
}

impl RedisQueue {
    pub fn new(endpoint: Arc<Endpoint>, keys: QueueKeys) -> Self {
        let script_keys = SCRIPT_KEYS.iter().map(|s| keys.key(s)).collect();
        RedisQueue {
            endpoint,
            keys,
            script_keys,
        }
    }

    pub async fn conn(&self) -> EngineResult<MultiplexedConnection> {
        self.endpoint.shared().await
    }

    /// Runs one of our scripts with the queue's keys. The command is built
    /// straight into one buffer (redis-rs's `Script` copies every argument
    /// twice); a server that does not know the script yet gets it loaded.
    pub async fn eval<T: FromRedisValue>(
        &self,
        script: &Lua,
        args: &[impl redis::ToRedisArgs],
    ) -> EngineResult<T> {
        let mut conn = self.conn().await?;
        let mut cmd = redis::cmd("EVALSHA");
        cmd.arg(&script.hash)
            .arg(self.script_keys.len())
            .arg(&self.script_keys)
            .arg(args);
        let mut result = cmd.query_async::<Value>(&mut conn).await;
        if let Err(e) = &result {
            if e.kind() == redis::ErrorKind::Server(redis::ServerErrorKind::NoScript) {
                tracing::debug!(hash = %script.hash, "NOSCRIPT: loading the script");
                let loaded: redis::RedisResult<String> = redis::cmd("SCRIPT")
                    .arg("LOAD")
                    .arg(script.code)
                    .query_async(&mut conn)
                    .await;
                result = match loaded {
                    Ok(_) => cmd.query_async(&mut conn).await,
                    Err(e) => Err(e),
                };
            }
        }
        match result {
            Ok(v) => self.endpoint.decode(v, || source_of(&cmd)),
            Err(e) => Err(self.endpoint.fail(e).await),
        }
    }

    // Replies are read as `Value` and decoded apart, so that data that does
    // not decode is not taken for a broken connection.
    pub async fn query<T: FromRedisValue>(&self, cmd: &redis::Cmd) -> EngineResult<T> {
        let mut conn = self.conn().await?;
        match cmd.query_async::<Value>(&mut conn).await {
            Ok(v) => self.endpoint.decode(v, || source_of(cmd)),
            Err(e) => Err(self.endpoint.fail(e).await),
        }
    }

    pub async fn pipeline<T: FromRedisValue>(&self, pipe: &redis::Pipeline) -> EngineResult<T> {
        let mut conn = self.conn().await?;
        match pipe.query_async::<Value>(&mut conn).await {
            Ok(v) => {
                let source = source_in(pipe, &v);
                self.endpoint.decode(v, source)
            }
            Err(e) => Err(self.endpoint.fail(e).await),
        }
    }

    pub(crate) fn base_and(&self, rest: &[&str]) -> Vec<String> {
        std::iter::once(self.keys.base.as_str())
            .chain(rest.iter().copied())
            .map(str::to_string)
            .collect()
    }
}

#[async_trait]
impl QueueStore for RedisQueue {
    async fn add(&self, jobs: &[NewJob]) -> EngineResult<Vec<String>> {
        // Borrowed where the job holds the text: a batch's data is copied
        // once, into the command.
        let mut args: Vec<Cow<str>> = Vec::with_capacity(4 + jobs.len() * 8);
        args.push(Cow::Borrowed(&self.keys.base));
        args.push(Cow::Owned(crate::engine::now_ms().to_string()));
        args.push(Cow::Owned(jobs.len().to_string()));
        args.push(Cow::Borrowed(concat!(
            "bullrush:",
            env!("CARGO_PKG_VERSION")
        )));
        for job in jobs {
            let o = &job.opts;
            args.push(Cow::Borrowed(o.job_id.as_deref().unwrap_or_default()));
            args.push(Cow::Borrowed(&job.name));
            args.push(Cow::Owned(o.timestamp.to_string()));
            args.push(Cow::Borrowed(&job.data));
            args.push(Cow::Borrowed(&o.encoded));
            args.push(Cow::Owned(o.delay.to_string()));
            args.push(Cow::Owned(o.priority.to_string()));
            args.push(Cow::Borrowed(if o.lifo { "1" } else { "0" }));
        }
        self.eval(&scripts().add, &args).await
    }

    async fn counts(&self, states: &[String]) -> EngineResult<Vec<i64>> {
        let mut pipe = redis::pipe();
        for state in states {
            let suffix = state_key(state)?;
            let key = self.keys.key(suffix);
            if suffix == "wait" {
                // A queue paused by BullMQ 5 keeps its waiting jobs in `paused`.
                pipe.cmd("EVAL")
                    .arg("return redis.call('LLEN', KEYS[1]) + redis.call('LLEN', KEYS[2])")
                    .arg(2)
                    .arg(key)
                    .arg(self.keys.key("paused"));
            } else if is_list(suffix) {
                pipe.cmd("LLEN").arg(key);
            } else {
                pipe.cmd("ZCARD").arg(key);
            }
        }
        if states.is_empty() {
            return Ok(vec![]);
        }
        self.pipeline(&pipe).await
    }

    /// Job ids in the given states, each state ranged on its own as BullMQ does.
    async fn ranges(&self, range: &JobRange<'_>) -> EngineResult<Vec<String>> {
        let (states, start, end, asc) = (range.states, range.start, range.end, range.asc);
        let mut pipe = redis::pipe();
        let mut lists = Vec::new();
        for state in states {
            let suffix = state_key(state)?;
            let key = self.keys.key(suffix);
            let list = is_list(suffix);
            lists.push(list);
            match (list, asc) {
                (true, false) => pipe.cmd("LRANGE").arg(key).arg(start).arg(end),
                (true, true) => pipe
                    .cmd("LRANGE")
                    .arg(key)
                    .arg(-(end + 1))
                    .arg(-(start + 1)),
                (false, true) => pipe.cmd("ZRANGE").arg(key).arg(start).arg(end),
                (false, false) => pipe.cmd("ZREVRANGE").arg(key).arg(start).arg(end),
            };
        }
        if states.is_empty() {
            return Ok(vec![]);
        }
        let replies: Vec<Vec<String>> = self.pipeline(&pipe).await?;
        let mut ids = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for (mut batch, list) in replies.into_iter().zip(lists) {
            if list && asc {
                batch.reverse();
            }
            for id in batch {
                if seen.insert(id.clone()) {
                    ids.push(id);
                }
            }
        }
        Ok(ids)
    }

    /// Jobs as a JSON array, read in one round trip; vanished ids are skipped.
    async fn jobs_json(&self, ids: &[String]) -> EngineResult<String> {
        let mut out = String::from("[");
        if ids.is_empty() {
            out.push(']');
            return Ok(out);
        }
        let mut pipe = redis::pipe();
        for id in ids {
            pipe.cmd("HGETALL").arg(self.keys.job(id));
        }
        let hashes: Vec<Vec<String>> = self.pipeline(&pipe).await?;
        let mut first = true;
        for (id, flat) in ids.iter().zip(hashes) {
            if flat.is_empty() {
                continue;
            }
            if !first {
                out.push(',');
            }
            first = false;
            let fields = pair_fields(flat);
            RawJob {
                id,
                fields: &fields,
            }
            .write_json(&mut out, None);
        }
        out.push(']');
        Ok(out)
    }

    async fn job_json(&self, id: &str) -> EngineResult<Option<String>> {
        let flat: Vec<String> = self
            .query(redis::cmd("HGETALL").arg(self.keys.job(id)))
            .await?;
        if flat.is_empty() {
            return Ok(None);
        }
        let fields = pair_fields(flat);
        Ok(Some(
            RawJob {
                id,
                fields: &fields,
            }
            .to_json(),
        ))
    }

    async fn state(&self, id: &str) -> EngineResult<String> {
        self.eval(&scripts().state, &self.base_and(&[id])).await
    }

    async fn set_paused(&self, paused: bool) -> EngineResult<()> {
        let what = if paused { "paused" } else { "resumed" };
        let _: Value = self.eval(&scripts().pause, &[what.to_string()]).await?;
        Ok(())
    }

    async fn is_paused(&self) -> EngineResult<bool> {
        self.query(
            redis::cmd("HEXISTS")
                .arg(self.keys.key("meta"))
                .arg("paused"),
        )
        .await
    }

    async fn drain(&self, delayed: bool) -> EngineResult<()> {
        let flag = if delayed { "1" } else { "0" };
        let _: Value = self.eval(&scripts().drain, &self.base_and(&[flag])).await?;
        Ok(())
    }

    async fn obliterate(&self, force: bool, batch: i64) -> EngineResult<()> {
        let args = self.base_and(&[&batch.max(1).to_string(), if force { "1" } else { "0" }]);
        loop {
            let left: i64 = self.eval(&scripts().obliterate, &args).await?;
            match left {
                0 => return Ok(()),
                -2 => {
                    return Err(EngineError::Job(
                        "Cannot obliterate queue with active jobs (pass { force: true } to remove them too)".into(),
                    ))
                }
                _ => continue,
            }
        }
    }

    async fn remove(&self, id: &str) -> EngineResult<Done> {
        // The script says 1 removed, 0 no such job, -1 locked by a worker.
        let code: i64 = self.eval(&scripts().remove, &self.base_and(&[id])).await?;
        Ok(match code {
            1 => Ok(()),
            0 => Err(Refusal::MissingJob),
            _ => Err(Refusal::Locked),
        })
    }

    async fn reprocess(&self, r: &Reprocess<'_>) -> EngineResult<Done> {
        let flag = |b: bool| if b { "1" } else { "0" };
        let args = self.base_and(&[
            r.id,
            r.state,
            flag(r.lifo),
            flag(r.reset_attempts_made),
            flag(r.reset_attempts_started),
        ]);
        let code = self.eval(&scripts().reprocess, &args).await?;
        Ok(Refusal::from_code(code))
    }

    async fn update_progress(&self, id: &str, progress: &str) -> EngineResult<Done> {
        let args = self.base_and(&[id, progress]);
        let code = self.eval(&scripts().progress, &args).await?;
        Ok(Refusal::from_code(code))
    }

    async fn add_log(&self, id: &str, row: &str, keep: Option<i64>) -> EngineResult<Logged> {
        let keep = logs_to_keep(keep)
            .map(|k| k.to_string())
            .unwrap_or_default();
        let count: i64 = self
            .eval(&scripts().log, &self.base_and(&[id, row, &keep]))
            .await?;
        Ok(Refusal::from_code(count).map(|_| count))
    }

    async fn logs(&self, range: &LogRange<'_>) -> EngineResult<Logs> {
        let (id, start, end, asc) = (range.id, range.start, range.end, range.asc);
        let key = format!("{}:logs", self.keys.job(id));
        let mut pipe = redis::pipe();
        if asc {
            pipe.cmd("LRANGE").arg(&key).arg(start).arg(end);
        } else {
            pipe.cmd("LRANGE")
                .arg(&key)
                .arg(-(end + 1))
                .arg(-(start + 1));
        }
        pipe.cmd("LLEN").arg(&key);
        let (mut logs, count): (Vec<String>, i64) = self.pipeline(&pipe).await?;
        if !asc {
            logs.reverse();
        }
        Ok(Logs { logs, count })
    }

    async fn ping(&self) -> EngineResult<()> {
        let _: String = self.query(&redis::cmd("PING")).await?;
        Ok(())
    }
}
