//! Reading nested script replies (`redis::Value`) into plain Rust values.

use redis::Value;

pub fn as_string(v: &Value) -> String {
    match v {
        Value::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
        Value::SimpleString(s) => s.clone(),
        Value::Int(i) => i.to_string(),
        Value::Double(d) => d.to_string(),
        Value::Okay => "OK".into(),
        _ => String::new(),
    }
}

pub fn as_i64(v: &Value) -> i64 {
    match v {
        Value::Int(i) => *i,
        other => as_string(other)
            .parse::<f64>()
            .map(|f| f as i64)
            .unwrap_or(0),
    }
}

pub fn as_f64(v: &Value) -> f64 {
    match v {
        Value::Int(i) => *i as f64,
        Value::Double(d) => *d,
        other => as_string(other).parse::<f64>().unwrap_or(0.0),
    }
}

pub fn items(v: &Value) -> &[Value] {
    match v {
        Value::Array(items) => items,
        _ => &[],
    }
}

pub fn strings(v: &Value) -> Vec<String> {
    items(v).iter().map(as_string).collect()
}

/// A job started by a fetch: id, lock token, and its hash as field pairs.
pub use crate::engine::worker::StartedJob;

pub fn started_jobs(v: &Value) -> Vec<StartedJob> {
    items(v)
        .iter()
        .map(|job| {
            let parts = items(job);
            StartedJob {
                id: parts.first().map(as_string).unwrap_or_default(),
                token: parts.get(1).map(as_string).unwrap_or_default(),
                fields: crate::engine::job::pair_fields(
                    parts.get(2).map(strings).unwrap_or_default(),
                ),
            }
        })
        .collect()
}
