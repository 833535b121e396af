//! Job options: validation, and the encoding BullMQ stores in the `opts` field.
//!
//! JS hands over the options as JSON (defaults already merged, as BullMQ
//! merges them); everything here happens before a single byte reaches the
//! backend, so bad input leaves nothing behind.

use serde_json::{Map, Value};

use super::error::{EngineError, EngineResult};

/// Highest priority BullMQ accepts: priorities live in the top bits of a
/// sorted-set score next to a 32-bit counter.
pub const MAX_PRIORITY: i64 = 2_097_151;

/// Longest delay accepted as input (ms; about 31,700 years). BullMQ has no
/// limit, but far enough out a due time no longer fits a delayed score (see
/// `MAX_DUE_AT_MS`), and the embedded store wrapped such times around to now.
pub const MAX_DELAY_MS: i64 = 1_000_000_000_000_000;

/// A manual rate limit (`rateLimit(ms)`): a positive number of ms, at most
/// `MAX_DELAY_MS`, as whole ms.
pub fn rate_limit_ms(ms: f64) -> EngineResult<i64> {
    if !(ms.is_finite() && ms > 0.0 && ms <= MAX_DELAY_MS as f64) {
        return Err(EngineError::InvalidInput(format!(
            "rateLimit needs a positive number of ms, at most 1e15, got {ms}"
        )));
    }
    Ok(ms.ceil() as i64)
}

/// The limit as error messages name it.
pub const MAX_DELAY_TEXT: &str = "1e15 ms (about 31,700 years)";

/// Latest due time (ms) a delayed score can hold: scores are the due time
/// times 0x1000 plus an arrival counter (prelude.lua), and the embedded
/// store keeps them as i64. Computed due times are clamped to
/// `0..=MAX_DUE_AT_MS` in both stores; now + `MAX_DELAY_MS` stays below it
/// until the year 40,000.
pub const MAX_DUE_AT_MS: i64 = (1 << 51) - 1;

/// `from + delay` as a due time both stores can schedule: saturating, never
/// wrapped around to the past.
pub fn due_at(from: i64, delay: i64) -> i64 {
    from.saturating_add(delay).clamp(0, MAX_DUE_AT_MS)
}

/// Long option names and the short names BullMQ stores them under.
const SHORT_NAMES: &[(&str, &str)] = &[
    ("deduplication", "de"),
    ("failParentOnFailure", "fpof"),
    ("continueParentOnFailure", "cpof"),
    ("ignoreDependencyOnFailure", "idof"),
    ("removeDependencyOnFailure", "rdof"),
    ("keepLogs", "kl"),
];

#[derive(Debug, Clone, PartialEq)]
pub enum Backoff {
    Fixed {
        delay: i64,
        jitter: f64,
    },
    Exponential {
        delay: i64,
        jitter: f64,
    },
    /// A strategy the Worker's `settings.backoffStrategy` computes in JS
    /// (JS knows its name); `delay` serves when JS gives none.
    Custom {
        delay: i64,
    },
}

/// How many finished jobs to keep: BullMQ's `removeOnComplete`/`removeOnFail`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KeepJobs {
    /// `None` keeps any number.
    pub count: Option<i64>,
    /// Seconds; `None` keeps them forever.
    pub age: Option<i64>,
}

impl KeepJobs {
    pub const ALL: KeepJobs = KeepJobs {
        count: None,
        age: None,
    };

    pub fn parse(value: Option<&Value>, what: &str) -> EngineResult<Option<KeepJobs>> {
        let Some(value) = value else { return Ok(None) };
        let invalid = || {
            EngineError::InvalidInput(format!(
                "{what} must be a boolean, a non-negative integer or {{ age, count }}, got {value}"
            ))
        };
        let keep = match value {
            Value::Null => return Ok(None),
            Value::Bool(true) => KeepJobs {
                count: Some(0),
                age: None,
            },
            Value::Bool(false) => KeepJobs::ALL,
            Value::Number(n) => {
                let count = n.as_i64().filter(|c| *c >= 0).ok_or_else(invalid)?;
                KeepJobs {
                    count: Some(count),
                    age: None,
                }
            }
            Value::Object(o) => {
                let field = |name: &str| -> EngineResult<Option<i64>> {
                    match o.get(name) {
                        None | Some(Value::Null) => Ok(None),
                        Some(v) => v.as_i64().filter(|c| *c >= 0).map(Some).ok_or_else(invalid),
                    }
                };
                KeepJobs {
                    count: field("count")?,
                    age: field("age")?,
                }
            }
            _ => return Err(invalid()),
        };
        Ok(Some(keep))
    }

    /// The count as a script argument: -1 keeps everything.
    pub fn count_arg(&self) -> i64 {
        self.count.unwrap_or(-1)
    }

    pub fn age_arg(&self) -> i64 {
        self.age.unwrap_or(-1)
    }
}

/// The options of one job that the engine acts on.
#[derive(Debug, Clone, PartialEq)]
pub struct JobOptions {
    pub job_id: Option<String>,
    pub timestamp: i64,
    pub delay: i64,
    pub priority: i64,
    pub lifo: bool,
    pub attempts: i64,
    pub backoff: Option<Backoff>,
    pub remove_on_complete: Option<KeepJobs>,
    pub remove_on_fail: Option<KeepJobs>,
    /// The `opts` JSON as stored in the job hash (short names).
    pub encoded: String,
}

fn as_object(opts: &Value) -> EngineResult<&Map<String, Value>> {
    match opts {
        Value::Object(map) => Ok(map),
        other => Err(EngineError::InvalidInput(format!(
            "job options must be an object, got {other}"
        ))),
    }
}

fn int_field(map: &Map<String, Value>, name: &str) -> EngineResult<Option<i64>> {
    match map.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => {
            if let Some(i) = n.as_i64() {
                return Ok(Some(i));
            }
            match n.as_f64() {
                Some(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Ok(Some(f as i64)),
                _ => Err(EngineError::InvalidInput(format!(
                    "{name} must be an integer, got {n}"
                ))),
            }
        }
        Some(other) => Err(EngineError::InvalidInput(format!(
            "{name} must be a number, got {other}"
        ))),
    }
}

pub fn parse_backoff(value: Option<&Value>) -> EngineResult<Option<Backoff>> {
    let invalid = |why: &str| EngineError::InvalidInput(format!("backoff {why}"));
    let Some(value) = value else { return Ok(None) };
    match value {
        Value::Null => Ok(None),
        Value::Number(n) => {
            let delay = n
                .as_f64()
                .filter(|d| *d >= 0.0)
                .ok_or_else(|| invalid("delay must be >= 0"))?;
            Ok(Some(Backoff::Fixed {
                delay: delay as i64,
                jitter: 0.0,
            }))
        }
        Value::Object(o) => {
            let kind = o.get("type").and_then(Value::as_str).ok_or_else(|| {
                invalid("needs a string 'type' (fixed, exponential or a custom name)")
            })?;
            let delay = match o.get("delay") {
                None | Some(Value::Null) => 0,
                Some(v) => v
                    .as_f64()
                    .filter(|d| *d >= 0.0)
                    .ok_or_else(|| invalid("delay must be a number >= 0"))?
                    as i64,
            };
            let jitter = match o.get("jitter") {
                None | Some(Value::Null) => 0.0,
                Some(v) => v
                    .as_f64()
                    .filter(|j| (0.0..=1.0).contains(j))
                    .ok_or_else(|| {
                        EngineError::InvalidInput("Jitter should be between 0 and 1".into())
                    })?,
            };
            Ok(Some(match kind {
                "fixed" => Backoff::Fixed { delay, jitter },
                "exponential" => Backoff::Exponential { delay, jitter },
                _ => Backoff::Custom { delay },
            }))
        }
        other => Err(invalid(&format!(
            "must be a number or an object, got {other}"
        ))),
    }
}

/// Refuses a delay (ms) given as input beyond `MAX_DELAY_MS`; `value` is
/// the JSON number, so that the message shows what was given.
fn check_delay_limit(name: &str, value: Option<&Value>) -> EngineResult<()> {
    match value {
        Some(Value::Number(n)) if n.as_f64().is_some_and(|d| d > MAX_DELAY_MS as f64) => Err(
            EngineError::InvalidInput(format!("{name} must be at most {MAX_DELAY_TEXT}, got {n}")),
        ),
        _ => Ok(()),
    }
}

/// BullMQ's id rules: an id that reads back as the same integer would collide
/// with automatic ids; '0' and '0:' are reserved for markers; ':' only in
/// repeatable ids of exactly three parts.
fn validate_job_id(value: &Value) -> EngineResult<Option<String>> {
    let id = match value {
        Value::Null => return Ok(None),
        Value::String(s) => s.clone(),
        Value::Number(_) => {
            return Err(EngineError::InvalidInput(format!(
                "Custom Id cannot be integers (jobId {value}): it would collide with automatic ids"
            )))
        }
        other => {
            return Err(EngineError::InvalidInput(format!(
                "jobId must be a string, got {other}"
            )))
        }
    };
    if id.is_empty() {
        return Err(EngineError::InvalidInput("jobId must not be empty".into()));
    }
    if id
        .parse::<i64>()
        .map(|n| n.to_string() == id)
        .unwrap_or(false)
    {
        return Err(EngineError::InvalidInput(format!(
            "Custom Id cannot be integers (jobId '{id}'): it would collide with automatic ids"
        )));
    }
    if id == "0" || id.starts_with("0:") {
        return Err(EngineError::InvalidInput(format!(
            "JobId cannot be '0' or start with '0:' (got '{id}')"
        )));
    }
    if id.contains(':') && id.split(':').count() != 3 {
        return Err(EngineError::InvalidInput(format!(
            "Custom Id cannot contain : (jobId '{id}')"
        )));
    }
    Ok(Some(id))
}

/// Validates `opts` (JSON) and produces the stored encoding.
pub fn parse_job_options(opts: &Value, now_ms: i64) -> EngineResult<JobOptions> {
    let map = as_object(opts)?;
    let job_id = map.get("jobId").map(validate_job_id).transpose()?.flatten();
    let priority = int_field(map, "priority")?.unwrap_or(0);
    if !(0..=MAX_PRIORITY).contains(&priority) {
        return Err(EngineError::InvalidInput(format!(
            "Priority should be between 0 and {MAX_PRIORITY} (got {priority})"
        )));
    }
    let attempts = match map.get("attempts") {
        None | Some(Value::Null) => 1,
        Some(v) => match v.as_i64() {
            Some(a) if a >= 1 => a,
            _ => {
                return Err(EngineError::InvalidInput(format!(
                    "attempts must be a positive integer, got {v}"
                )))
            }
        },
    };
    check_delay_limit("delay", map.get("delay"))?;
    match map.get("backoff") {
        Some(Value::Object(b)) => check_delay_limit("backoff.delay", b.get("delay"))?,
        other => check_delay_limit("backoff", other)?,
    }
    let delay = match map.get("delay") {
        None | Some(Value::Null) => 0,
        Some(Value::Number(n)) => n.as_f64().map(|d| d.max(0.0) as i64).unwrap_or(0),
        Some(other) => {
            return Err(EngineError::InvalidInput(format!(
                "delay must be a number of milliseconds, got {other}"
            )))
        }
    };
    let timestamp = int_field(map, "timestamp")?.unwrap_or(now_ms);
    let lifo = matches!(map.get("lifo"), Some(Value::Bool(true)));
    let backoff = parse_backoff(map.get("backoff"))?;
    let remove_on_complete = KeepJobs::parse(map.get("removeOnComplete"), "removeOnComplete")?;
    let remove_on_fail = KeepJobs::parse(map.get("removeOnFail"), "removeOnFail")?;
    Ok(JobOptions {
        job_id,
        timestamp,
        delay,
        priority,
        lifo,
        attempts,
        backoff,
        remove_on_complete,
        remove_on_fail,
        encoded: encode_options(map).to_string(),
    })
}

/// Renames long option keys to the short ones BullMQ stores.
pub fn encode_options(map: &Map<String, Value>) -> Value {
    let mut out = Map::with_capacity(map.len() + 1);
    // BullMQ's Job always stores attempts (0 when not given).
    out.insert("attempts".into(), Value::from(0));
    for (key, value) in map {
        if key == "backoff" && value.is_number() {
            out.insert(
                key.clone(),
                serde_json::json!({"type": "fixed", "delay": value}),
            );
            continue;
        }
        if key == "telemetry" {
            if let Value::Object(t) = value {
                if let Some(m) = t.get("metadata") {
                    out.insert("tm".into(), m.clone());
                }
                if let Some(o) = t.get("omitContext") {
                    out.insert("omc".into(), o.clone());
                }
            }
            continue;
        }
        let short = SHORT_NAMES
            .iter()
            .find(|(long, _)| long == key)
            .map(|(_, s)| *s);
        out.insert(short.unwrap_or(key).to_string(), value.clone());
    }
    Value::Object(out)
}

/// The reverse of `encode_options`, for jobs read back from the backend.
pub fn decode_options(value: Value) -> Value {
    let Value::Object(map) = value else {
        return value;
    };
    let mut out = Map::with_capacity(map.len());
    let mut telemetry = Map::new();
    for (key, value) in map {
        match key.as_str() {
            "tm" => {
                telemetry.insert("metadata".into(), value);
            }
            "omc" => {
                telemetry.insert("omitContext".into(), value);
            }
            _ => {
                let long = SHORT_NAMES.iter().find(|(_, s)| *s == key).map(|(l, _)| *l);
                out.insert(long.map(str::to_string).unwrap_or(key), value);
            }
        }
    }
    if !telemetry.is_empty() {
        out.insert("telemetry".into(), Value::Object(telemetry));
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(v: Value) -> EngineResult<JobOptions> {
        parse_job_options(&v, 1000)
    }

    #[test]
    fn defaults() {
        let o = parse(json!({})).unwrap();
        assert_eq!(
            (o.attempts, o.delay, o.priority, o.timestamp),
            (1, 0, 0, 1000)
        );
        assert_eq!(o.job_id, None);
    }

    #[test]
    fn negative_delay_means_now() {
        assert_eq!(parse(json!({"delay": -50})).unwrap().delay, 0);
    }

    #[test]
    fn delays_beyond_the_limit_are_refused() {
        assert_eq!(
            parse(json!({ "delay": MAX_DELAY_MS })).unwrap().delay,
            MAX_DELAY_MS
        );
        for bad in [
            json!({"delay": MAX_DELAY_MS + 1}),
            json!({"delay": 9007199254740992u64}),
            json!({"delay": 1e300}),
            json!({"backoff": 1e300}),
            json!({"backoff": {"type": "fixed", "delay": 9223372036854775808u64}}),
        ] {
            let err = parse(bad.clone()).unwrap_err().message().to_string();
            assert!(err.contains(MAX_DELAY_TEXT), "{bad}: {err}");
        }
    }

    #[test]
    fn due_times_saturate_and_clamp() {
        assert_eq!(due_at(1_000, 500), 1_500);
        assert_eq!(due_at(1_000, i64::MAX), MAX_DUE_AT_MS);
        assert_eq!(due_at(-5_000, 1_000), 0);
        assert_eq!(due_at(i64::MIN, -1), 0);
        assert!(MAX_DUE_AT_MS
            .checked_mul(0x1000)
            .is_some_and(|s| s.checked_add(0xfff).is_some()));
    }

    #[test]
    fn priority_bounds() {
        assert!(parse(json!({"priority": 1.5})).is_err());
        assert!(parse(json!({"priority": -1})).is_err());
        assert!(parse(json!({"priority": MAX_PRIORITY + 1})).is_err());
        assert_eq!(parse(json!({"priority": 7})).unwrap().priority, 7);
    }

    #[test]
    fn integer_like_job_ids_are_refused() {
        assert!(parse(json!({"jobId": "12"})).is_err());
        assert!(parse(json!({"jobId": "-3"})).is_err());
        assert!(parse(json!({"jobId": 12})).is_err());
        assert!(parse(json!({"jobId": "0:x"})).is_err());
        assert!(parse(json!({"jobId": "a:b"})).is_err());
        assert_eq!(
            parse(json!({"jobId": "012"})).unwrap().job_id.as_deref(),
            Some("012")
        );
        assert_eq!(
            parse(json!({"jobId": "a12"})).unwrap().job_id.as_deref(),
            Some("a12")
        );
    }

    #[test]
    fn attempts_must_be_positive_integers() {
        for bad in [json!(0), json!(-1), json!(1.5), json!("3")] {
            assert!(parse(json!({"attempts": bad})).is_err());
        }
    }

    #[test]
    fn keep_jobs_forms() {
        let o = parse(json!({"removeOnComplete": true, "removeOnFail": {"age": 60, "count": 5}}))
            .unwrap();
        assert_eq!(
            o.remove_on_complete,
            Some(KeepJobs {
                count: Some(0),
                age: None
            })
        );
        assert_eq!(
            o.remove_on_fail,
            Some(KeepJobs {
                count: Some(5),
                age: Some(60)
            })
        );
        assert_eq!(
            parse(json!({"removeOnComplete": 3}))
                .unwrap()
                .remove_on_complete
                .unwrap()
                .count,
            Some(3)
        );
    }

    #[test]
    fn backoff_forms() {
        assert_eq!(
            parse_backoff(Some(&json!(500))).unwrap(),
            Some(Backoff::Fixed {
                delay: 500,
                jitter: 0.0
            })
        );
        assert_eq!(
            parse_backoff(Some(
                &json!({"type": "exponential", "delay": 100, "jitter": 0.5})
            ))
            .unwrap(),
            Some(Backoff::Exponential {
                delay: 100,
                jitter: 0.5
            })
        );
        assert!(parse_backoff(Some(&json!({"delay": 1}))).is_err());
    }

    #[test]
    fn encoding_round_trips() {
        let original = json!({"attempts": 3, "keepLogs": 10, "deduplication": {"id": "x"},
            "telemetry": {"metadata": "m", "omitContext": true}});
        let encoded = encode_options(original.as_object().unwrap());
        assert_eq!(
            encoded,
            json!({"attempts": 3, "kl": 10, "de": {"id": "x"}, "tm": "m", "omc": true})
        );
        let plain = encode_options(json!({"backoff": 100}).as_object().unwrap());
        assert_eq!(
            plain,
            json!({"attempts": 0, "backoff": {"type": "fixed", "delay": 100}})
        );
        assert_eq!(decode_options(encoded), original);
    }
}
