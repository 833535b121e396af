//! Queue-wide settings and inspection: meta fields (global concurrency and
//! rate limit), the rate limiter key, event trimming, the client list.

use super::queue::RedisQueue;
use crate::engine::error::EngineResult;

/// What BullMQ writes to the limiter to hold every worker for a while.
const RATE_LIMITED: i64 = 9_007_199_254_740_991;

impl RedisQueue {
    /// Sets meta fields; a `None` value removes the field.
    pub async fn set_meta(&self, fields: &[(String, Option<String>)]) -> EngineResult<i64> {
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

    pub async fn meta(&self) -> EngineResult<Vec<String>> {
        self.query(redis::cmd("HGETALL").arg(self.keys.key("meta")))
            .await
    }

    pub async fn trim_events(&self, max_len: i64) -> EngineResult<i64> {
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
    pub async fn rate_limit_ttl(&self, max: i64) -> EngineResult<i64> {
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
    pub async fn rate_limit(&self, ms: i64) -> EngineResult<()> {
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

    pub async fn remove_rate_limit_key(&self) -> EngineResult<i64> {
        self.query(redis::cmd("DEL").arg(self.keys.key("limiter")))
            .await
    }

    /// CLIENT LIST as Redis writes it.
    pub async fn client_list(&self) -> EngineResult<String> {
        self.query(redis::cmd("CLIENT").arg("LIST")).await
    }

    /// XADD of `[event, <name>, field, value, …]`, trimmed to about `max_events`.
    pub async fn publish_event(&self, fields: &[String], max_events: i64) -> EngineResult<String> {
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

    /// A finished state's metrics: `[count, prevTS, prevCount]` (empty
    /// strings when absent), the data points in `start..=end`, and how many
    /// data points there are.
    pub async fn metrics(
        &self,
        state: &str,
        start: i64,
        end: i64,
    ) -> EngineResult<(Vec<String>, Vec<String>, i64)> {
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
        let (meta, points, len): (Vec<Option<String>>, Vec<String>, i64) =
            self.pipeline(&pipe).await?;
        Ok((
            meta.into_iter().map(Option::unwrap_or_default).collect(),
            points,
            len,
        ))
    }
}
