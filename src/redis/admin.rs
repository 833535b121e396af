//! Queue-wide settings and inspection: meta fields (global concurrency and
//! rate limit), the rate limiter key, event trimming, the workers (from the
//! client list), metrics.

use async_trait::async_trait;

use super::queue::RedisQueue;
use crate::engine::error::EngineResult;
use crate::engine::job::pair_fields;
use crate::engine::store::{AdminStore, Metrics, WorkerInfo};

/// What BullMQ writes to the limiter to hold every worker for a while.
const RATE_LIMITED: i64 = 9_007_199_254_740_991;

#[async_trait]
impl AdminStore for RedisQueue {
    /// Sets meta fields; a `None` value removes the field.
    async fn set_meta(&self, fields: &[(String, Option<String>)]) -> EngineResult<i64> {
        let key = self.keys.key("meta");
        let mut pipe = redis::pipe();
        for (field, value) in fields {
            match value {
                Some(v) => pipe.cmd("HSET").arg(&key).arg(field).arg(v),
                None => pipe.cmd("HDEL").arg(&key).arg(field),
            };
        }
        let changed: Vec<i64> = self.pipeline(&pipe).await?;
        Ok(changed.iter().sum())
    }

    async fn meta(&self) -> EngineResult<Vec<(String, String)>> {
        let flat = self
            .query(redis::cmd("HGETALL").arg(self.keys.key("meta")))
            .await?;
        Ok(pair_fields(flat))
    }

    async fn trim_events(&self, max_len: i64) -> EngineResult<i64> {
        self.query(
            redis::cmd("XTRIM")
                .arg(self.keys.key("events"))
                .arg("MAXLEN")
                .arg("~")
                .arg(max_len.max(0)),
        )
        .await
    }

    /// Milliseconds until the limiter lets jobs start again for `max` jobs per
    /// window (0: the meta's global max, or any ttl when none is set).
    async fn rate_limit_ttl(&self, max: i64) -> EngineResult<i64> {
        let script = redis::Script::new(
            r#"local max = tonumber(ARGV[1])
if max == 0 then max = tonumber(redis.call("HGET", KEYS[2], "max")) end
if not max then return redis.call("PTTL", KEYS[1]) end
if tonumber(redis.call("GET", KEYS[1]) or 0) < max then return 0 end
local ttl = redis.call("PTTL", KEYS[1])
if ttl > 0 then return ttl end
return 0"#,
        );
        let mut conn = self.conn().await?;
        let mut call = script.prepare_invoke();
        call.key(self.keys.key("limiter"))
            .key(self.keys.key("meta"))
            .arg(max);
        match call.invoke_async(&mut conn).await {
            Ok(ttl) => Ok(ttl),
            Err(e) => Err(self.endpoint.fail(e).await),
        }
    }

    /// Holds every worker of the queue for `ms` (BullMQ's `rateLimit`).
    async fn rate_limit(&self, ms: i64) -> EngineResult<()> {
        let _: () = self
            .query(
                redis::cmd("SET")
                    .arg(self.keys.key("limiter"))
                    .arg(RATE_LIMITED)
                    .arg("PX")
                    .arg(ms.max(1)),
            )
            .await?;
        Ok(())
    }

    async fn remove_rate_limit_key(&self) -> EngineResult<i64> {
        self.query(redis::cmd("DEL").arg(self.keys.key("limiter")))
            .await
    }

    /// The clients named as BullMQ names a queue's workers: the queue's
    /// client name, or that name and `:w:<worker name>`.
    async fn workers(&self) -> EngineResult<Vec<WorkerInfo>> {
        let list: String = self.query(redis::cmd("CLIENT").arg("LIST")).await?;
        let base = self.keys.client_name();
        let named = format!("{base}:w:");
        Ok(list
            .lines()
            .map(client_fields)
            .filter(|fields| {
                fields
                    .iter()
                    .any(|(k, v)| k == "name" && (*v == base || v.starts_with(&named)))
            })
            .collect())
    }

    /// XADD of `[event, <name>, field, value, …]`, trimmed to about `max_events`.
    async fn publish_event(&self, fields: &[String], max_events: i64) -> EngineResult<String> {
        let mut cmd = redis::cmd("XADD");
        cmd.arg(self.keys.key("events"))
            .arg("MAXLEN")
            .arg("~")
            .arg(max_events.max(1))
            .arg("*");
        for field in fields {
            cmd.arg(field);
        }
        self.query(&cmd).await
    }

    /// A finished state's metrics: the data points in `start..=end`.
    async fn metrics(&self, state: &str, start: i64, end: i64) -> EngineResult<Metrics> {
        let key = self.keys.key(&format!("metrics:{state}"));
        let data = format!("{key}:data");
        let mut pipe = redis::pipe();
        pipe.cmd("HMGET")
            .arg(&key)
            .arg("count")
            .arg("prevTS")
            .arg("prevCount");
        pipe.cmd("LRANGE").arg(&data).arg(start).arg(end);
        pipe.cmd("LLEN").arg(&data);
        let (meta, points, total): (Vec<Option<i64>>, Vec<i64>, i64) = self.pipeline(&pipe).await?;
        let field = |i: usize| meta.get(i).copied().flatten().unwrap_or(0);
        Ok(Metrics {
            count: field(0),
            prev_ts: field(1),
            prev_count: field(2),
            data: points,
            total,
        })
    }
}

/// One CLIENT LIST line as its `field=value` pairs.
fn client_fields(line: &str) -> WorkerInfo {
    line.split(' ')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}
