//! A queue's meta hash as BullMQ's `Queue#getMeta` reports it: numbers for
//! the limits, a boolean for paused, the stream cap under its short name,
//! and any other field as stored.

use serde_json::{Map, Value};

pub fn meta_view(fields: Vec<(String, String)>) -> Value {
    let mut out = Map::new();
    let mut paused = false;
    for (field, value) in fields {
        let number = || value.parse::<f64>().ok().map(Value::from);
        match field.as_str() {
            "paused" => paused = value == "1",
            "concurrency" | "max" | "duration" => {
                if let Some(n) = number() {
                    out.insert(field, n);
                }
            }
            "opts.maxLenEvents" => {
                if let Some(n) = number() {
                    out.insert("maxLenEvents".into(), n);
                }
            }
            _ => {
                out.insert(field, Value::String(value));
            }
        }
    }
    out.insert("paused".into(), Value::Bool(paused));
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_are_numbers_and_paused_a_boolean() {
        let pairs = [
            ("concurrency", "3"),
            ("opts.maxLenEvents", "100"),
            ("paused", "1"),
            ("version", "bullmq:6.7.0"),
        ];
        let view = meta_view(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        );
        assert_eq!(view["concurrency"], 3.0);
        assert_eq!(view["maxLenEvents"], 100.0);
        assert_eq!(view["paused"], true);
        assert_eq!(view["version"], "bullmq:6.7.0");
        assert_eq!(meta_view(Vec::new())["paused"], false);
    }
}
