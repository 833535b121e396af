//! A Worker's options: their defaults and their validation, in one place.
//! Messages are BullMQ's where BullMQ has one, since apps and tools match
//! on them.

use serde_json::Value;

use crate::engine::error::{EngineError, EngineResult};
use crate::engine::options::KeepJobs;

/// BullMQ never blocks longer than this on the marker, whatever drainDelay
/// says; a longer wait would only delay noticing a lost connection.
const MAX_BLOCK_S: f64 = 10.0;

/// Five minutes: long CPU-bound jobs keep their locks, a wedged thread
/// releases its jobs within minutes.
const DEFAULT_EVENT_LOOP_BLOCK_LIMIT_MS: u64 = 300_000;

#[derive(Debug, Clone)]
pub struct WorkerSettings {
    pub name: String,
    pub concurrency: usize,
    pub lock_duration_ms: u64,
    pub lock_renew_ms: u64,
    /// How long one marker wait may block, in seconds (BullMQ's drainDelay).
    pub drain_delay_s: f64,
    pub limiter: Option<(i64, i64)>,
    pub remove_on_complete: Option<KeepJobs>,
    pub remove_on_fail: Option<KeepJobs>,
    pub skip_lock_renewal: bool,
    pub stalled_interval_ms: u64,
    pub max_stalled_count: i64,
    pub skip_stalled_check: bool,
    /// Minutes of metrics kept per finished state (0: no metrics).
    pub metrics_max_points: i64,
    /// Locks are renewed in Rust whatever the JS thread does, so that a
    /// CPU-bound job keeps its lock; but a thread blocked for good would
    /// keep its jobs forever. Past this long without a heartbeat from JS,
    /// locks are no longer renewed and the stalled checker of any worker
    /// recovers the jobs (0: renew for as long as the process lives).
    pub event_loop_block_limit_ms: u64,
}

impl Default for WorkerSettings {
    fn default() -> Self {
        WorkerSettings {
            name: String::new(),
            concurrency: 1,
            lock_duration_ms: 30_000,
            lock_renew_ms: 15_000,
            drain_delay_s: 5.0,
            limiter: None,
            remove_on_complete: None,
            remove_on_fail: None,
            skip_lock_renewal: false,
            stalled_interval_ms: 30_000,
            max_stalled_count: 1,
            skip_stalled_check: false,
            metrics_max_points: 0,
            event_loop_block_limit_ms: DEFAULT_EVENT_LOOP_BLOCK_LIMIT_MS,
        }
    }
}

fn invalid(message: &str) -> EngineError {
    EngineError::InvalidInput(message.to_string())
}

/// A number option that must be finite and at least `min` (above 0 when
/// `min` is 0) when given.
fn at_least(v: &Value, name: &str, min: f64, message: &str) -> EngineResult<Option<f64>> {
    match v.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(n) => match n.as_f64() {
            Some(f) if f.is_finite() && f >= min && f > 0.0 => Ok(Some(f)),
            _ => Err(invalid(message)),
        },
    }
}

fn positive(v: &Value, name: &str, message: &str) -> EngineResult<Option<f64>> {
    at_least(v, name, 0.0, message)
}

fn flag(v: &Value, name: &str) -> bool {
    v.get(name).and_then(Value::as_bool).unwrap_or(false)
}

impl WorkerSettings {
    /// Reads the options JS hands over as JSON (BullMQ's WorkerOptions).
    pub fn from_json(json: &str) -> EngineResult<WorkerSettings> {
        let v: Value = serde_json::from_str(json).map_err(|e| {
            EngineError::InvalidInput(format!("worker options are not valid JSON: {e}"))
        })?;
        let d = WorkerSettings::default();
        // BullMQ's message says "greater than 0" and its check is "at least 1".
        let concurrency = at_least(
            &v,
            "concurrency",
            1.0,
            "concurrency must be a finite number greater than 0",
        )?;
        let lock_duration = positive(
            &v,
            "lockDuration",
            "lockDuration must be a finite number greater than 0",
        )?
        .map_or(d.lock_duration_ms, |f| f.ceil() as u64);
        let lock_renew = positive(
            &v,
            "lockRenewTime",
            "lockRenewTime must be a finite number greater than 0",
        )?
        .map_or(lock_duration / 2, |f| f.ceil() as u64);
        let drain_delay = positive(&v, "drainDelay", "drainDelay must be greater than 0")?;
        let stalled_interval = positive(
            &v,
            "stalledInterval",
            "stalledInterval must be greater than 0",
        )?;
        let max_stalled = match v.get("maxStalledCount") {
            None | Some(Value::Null) => d.max_stalled_count,
            Some(n) => match n.as_f64() {
                Some(f) if f.is_finite() && f >= 0.0 => f as i64,
                _ => return Err(invalid("maxStalledCount must be greater or equal than 0")),
            },
        };
        Ok(WorkerSettings {
            name: v
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
            concurrency: concurrency.map_or(d.concurrency, |f| (f as usize).max(1)),
            lock_duration_ms: lock_duration.max(1),
            lock_renew_ms: lock_renew.max(1),
            drain_delay_s: drain_delay.map_or(d.drain_delay_s, |f| f.min(MAX_BLOCK_S)),
            limiter: limiter(v.get("limiter"))?,
            remove_on_complete: KeepJobs::parse(v.get("removeOnComplete"), "removeOnComplete")?,
            remove_on_fail: KeepJobs::parse(v.get("removeOnFail"), "removeOnFail")?,
            skip_lock_renewal: flag(&v, "skipLockRenewal"),
            stalled_interval_ms: stalled_interval
                .map_or(d.stalled_interval_ms, |f| f.ceil() as u64),
            max_stalled_count: max_stalled,
            skip_stalled_check: flag(&v, "skipStalledCheck"),
            event_loop_block_limit_ms: match v.get("eventLoopBlockLimit") {
                None | Some(Value::Null) => d.event_loop_block_limit_ms,
                Some(n) => match n.as_f64() {
                    Some(f) if f.is_finite() && f >= 0.0 => f.ceil() as u64,
                    _ => {
                        return Err(invalid(
                            "eventLoopBlockLimit must be a number of milliseconds, 0 or more",
                        ))
                    }
                },
            },
            metrics_max_points: v
                .pointer("/metrics/maxDataPoints")
                .and_then(Value::as_i64)
                .unwrap_or(0)
                .max(0),
        })
    }
}

fn limiter(value: Option<&Value>) -> EngineResult<Option<(i64, i64)>> {
    let l = match value {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Object(l)) => l,
        Some(_) => return Err(invalid("limiter must be { max, duration }")),
    };
    let max = l.get("max").and_then(Value::as_f64).unwrap_or(0.0);
    let duration = l.get("duration").and_then(Value::as_f64).unwrap_or(0.0);
    let whole = max.fract() == 0.0 && max >= 1.0 && max.is_finite();
    if !(whole && duration.is_finite() && duration > 0.0) {
        return Err(invalid(
            "limiter must be { max: a positive integer, duration: milliseconds greater than 0 }",
        ));
    }
    Ok(Some((max as i64, duration.ceil() as i64)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error_of(json: &str) -> String {
        WorkerSettings::from_json(json).unwrap_err().to_string()
    }

    #[test]
    fn defaults_are_bullmqs() {
        let s = WorkerSettings::from_json("{}").unwrap();
        assert_eq!(
            (s.concurrency, s.lock_duration_ms, s.lock_renew_ms),
            (1, 30_000, 15_000)
        );
        assert_eq!(
            (s.drain_delay_s, s.stalled_interval_ms, s.max_stalled_count),
            (5.0, 30_000, 1)
        );
        let s = WorkerSettings::from_json(r#"{"lockDuration":1000}"#).unwrap();
        assert_eq!(s.lock_renew_ms, 500);
    }

    #[test]
    fn bad_options_get_bullmqs_messages() {
        for bad in ["0", "0.5", "-1", "\"x\"", "\"NaN\"", "\"Infinity\""] {
            let json = format!(r#"{{"concurrency":{bad}}}"#);
            assert_eq!(
                error_of(&json),
                "concurrency must be a finite number greater than 0"
            );
        }
        assert_eq!(
            error_of(r#"{"drainDelay":0}"#),
            "drainDelay must be greater than 0"
        );
        assert_eq!(
            error_of(r#"{"stalledInterval":-5}"#),
            "stalledInterval must be greater than 0"
        );
        assert_eq!(
            error_of(r#"{"maxStalledCount":-1}"#),
            "maxStalledCount must be greater or equal than 0"
        );
        assert!(error_of(r#"{"limiter":{"max":1.5,"duration":10}}"#).starts_with("limiter"));
    }

    #[test]
    fn a_huge_drain_delay_blocks_no_longer_than_bullmq_would() {
        let s = WorkerSettings::from_json(r#"{"drainDelay":1e300}"#).unwrap();
        assert_eq!(s.drain_delay_s, MAX_BLOCK_S);
    }
}
