//! Reading nested script replies (`redis::Value`) into plain Rust values.

use std::borrow::Cow;

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

/// Text of a reply value, borrowed when it is valid UTF-8.
fn text(v: &Value) -> Cow<'_, str> {
    match v {
        Value::BulkString(b) => String::from_utf8_lossy(b),
        other => Cow::Owned(as_string(other)),
    }
}

/// Jobs a fetch started, and those whose fields did not split into the
/// count the script gave (a value held a NUL byte): their hash is to be
/// read again. Fields borrow the reply's text.
pub fn started_jobs(v: &Value) -> (Vec<StartedJob<'_>>, Vec<StartedJob<'_>>) {
    let mut readable = Vec::new();
    let mut reread = Vec::new();
    for job in items(v) {
        let parts = items(job);
        let mut started = StartedJob {
            id: parts.first().map(text).unwrap_or_default(),
            token: parts.get(1).map(text).unwrap_or_default(),
            fields: Vec::new(),
        };
        let count = parts.get(3).map(as_i64).unwrap_or(0) as usize;
        match (parts.get(2), count) {
            (_, 0) => readable.push(started),
            (Some(Value::BulkString(packed)), _) => {
                let mut values = packed.split(|b| *b == 0).map(String::from_utf8_lossy);
                if packed.iter().filter(|b| **b == 0).count() + 1 == count {
                    while let (Some(name), Some(value)) = (values.next(), values.next()) {
                        started.fields.push((name, value));
                    }
                    readable.push(started);
                } else {
                    reread.push(started);
                }
            }
            _ => reread.push(started),
        }
    }
    (readable, reread)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bulk(s: &str) -> Value {
        Value::BulkString(s.as_bytes().to_vec())
    }

    fn job(id: &str, packed: &str, count: i64) -> Value {
        Value::Array(vec![bulk(id), bulk("tok"), bulk(packed), Value::Int(count)])
    }

    #[test]
    fn started_jobs_split_packed_fields_and_set_aside_ambiguous_ones() {
        let reply = Value::Array(vec![
            job("7", "name\0a\0data\0{\"x\":1}", 4),
            job("8", "name\0a\0b", 2),
            job("9", "", 0),
        ]);
        let (readable, reread) = started_jobs(&reply);
        assert_eq!(readable.len(), 2);
        assert_eq!(readable[0].id, "7");
        assert_eq!(readable[0].token, "tok");
        let fields: Vec<(&str, &str)> = readable[0]
            .fields
            .iter()
            .map(|(k, v)| (k.as_ref(), v.as_ref()))
            .collect();
        assert_eq!(fields, vec![("name", "a"), ("data", "{\"x\":1}")]);
        assert_eq!(readable[1].id, "9");
        assert!(readable[1].fields.is_empty());
        assert_eq!(reread.len(), 1);
        assert_eq!(reread[0].id, "8");
    }
}
