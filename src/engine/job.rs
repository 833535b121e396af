//! Jobs as the engine hands them to JS: one JSON object per job, with the
//! stored JSON fields (data, opts, returnvalue, …) embedded as JSON, so that
//! a whole batch crosses the boundary as one string and one `JSON.parse`.

use serde_json::value::RawValue;
use serde_json::Value;

use super::options::decode_options;

/// Appends `text` as embedded JSON when it is valid JSON, or as a JSON string
/// otherwise (a foreign writer may have stored plain text).
fn push_json(out: &mut String, text: &str) {
    if serde_json::from_str::<&RawValue>(text).is_ok() {
        out.push_str(text);
    } else {
        push_str(out, text);
    }
}

fn push_str(out: &mut String, text: &str) {
    // serde_json's string escaping is the JSON-correct one; writing into a
    // String cannot fail.
    out.push_str(&serde_json::to_string(text).unwrap_or_else(|_| "\"\"".into()));
}

/// Appends `,"field":n` unless the value is absent or zero: JS fills in
/// the defaults (see `Job.fromRecord`), and a shorter record parses faster.
fn push_int_field(out: &mut String, field: &str, text: Option<&str>) {
    let n = text
        .and_then(|t| t.parse::<f64>().ok())
        .map(|f| f as i64)
        .unwrap_or(0);
    if n != 0 {
        out.push_str(",\"");
        out.push_str(field);
        out.push_str("\":");
        out.push_str(&n.to_string());
    }
}

/// A job to add: validated options, data as JSON text.
pub struct NewJob {
    pub name: String,
    pub data: String,
    pub opts: super::options::JobOptions,
}

/// One job hash read from a backend, in whatever order its fields came.
/// Names and values are owned `String`s, text borrowed from a Redis reply,
/// or (names) the `&'static str`s of the memory backend's fixed set.
pub struct RawJob<'a, K = String, V = String> {
    pub id: &'a str,
    pub fields: &'a [(K, V)],
}

impl<K: AsRef<str>, V: AsRef<str>> RawJob<'_, K, V> {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k.as_ref() == name)
            .map(|(_, v)| v.as_ref())
    }

    /// The job's options, expanded to BullMQ's long names (empty if unreadable).
    pub fn opts(&self) -> Value {
        self.get("opts")
            .and_then(|o| serde_json::from_str::<Value>(o).ok())
            .map(decode_options)
            .unwrap_or_else(|| Value::Object(Default::default()))
    }

    /// Writes the job as a JSON object; `token` is set for jobs handed to a Worker.
    pub fn write_json(&self, out: &mut String, token: Option<&str>) {
        self.write_json_with(out, token, &self.opts().to_string());
    }

    /// As `write_json`, with the options already read (and written as JSON)
    /// by the caller.
    pub fn write_json_with(&self, out: &mut String, token: Option<&str>, opts_json: &str) {
        out.push_str("{\"id\":");
        push_str(out, self.id);
        out.push_str(",\"name\":");
        push_str(out, self.get("name").unwrap_or(""));
        out.push_str(",\"data\":");
        push_json(out, self.get("data").unwrap_or("{}"));
        out.push_str(",\"opts\":");
        out.push_str(opts_json);
        // Fields at their default (0, null, []) are left out; JS fills them in.
        if let Some(progress) = self.get("progress").filter(|p| *p != "0") {
            out.push_str(",\"progress\":");
            push_json(out, progress);
        }
        for (field, key) in [
            ("timestamp", "timestamp"),
            ("delay", "delay"),
            ("priority", "priority"),
            ("attemptsMade", "atm"),
            ("attemptsStarted", "ats"),
            ("stalledCounter", "stc"),
            ("processedOn", "processedOn"),
            ("finishedOn", "finishedOn"),
        ] {
            push_int_field(out, field, self.get(key));
        }
        if let Some(v) = self.get("returnvalue") {
            out.push_str(",\"returnvalue\":");
            push_json(out, v);
        }
        match self.get("stacktrace") {
            Some(v) if v != "[]" && serde_json::from_str::<Vec<Value>>(v).is_ok() => {
                out.push_str(",\"stacktrace\":");
                out.push_str(v);
            }
            _ => {}
        }
        for (field, key) in [
            ("failedReason", "failedReason"),
            ("parentKey", "parentKey"),
            ("repeatJobKey", "rjk"),
            ("deduplicationId", "deid"),
            ("processedBy", "pb"),
            ("deferredFailure", "defa"),
        ] {
            if let Some(v) = self.get(key) {
                out.push_str(",\"");
                out.push_str(field);
                out.push_str("\":");
                push_str(out, v);
            }
        }
        if let Some(parent) = self.get("parent") {
            out.push_str(",\"parent\":");
            push_json(out, parent);
        }
        if let Some(token) = token {
            out.push_str(",\"token\":");
            push_str(out, token);
        }
        out.push('}');
    }

    pub fn to_json(&self) -> String {
        let mut out = String::with_capacity(256);
        self.write_json(&mut out, None);
        out
    }
}

/// Pairs a flat `[field, value, field, value, …]` reply.
pub fn pair_fields(flat: Vec<String>) -> Vec<(String, String)> {
    let mut it = flat.into_iter();
    let mut out = Vec::new();
    while let (Some(k), Some(v)) = (it.next(), it.next()) {
        out.push((k, v));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_a_parseable_record() {
        let fields = pair_fields(
            [
                "name",
                "email",
                "data",
                "{\"to\":\"a\\\"b\"}",
                "opts",
                "{\"kl\":5,\"attempts\":2}",
                "timestamp",
                "1700000000000",
                "atm",
                "1",
                "returnvalue",
                "not json",
                "stacktrace",
                "[\"e\"]",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect(),
        );
        let json = RawJob {
            id: "7",
            fields: &fields,
        }
        .to_json();
        let v: Value = serde_json::from_str(&json).unwrap();
        assert_eq!(v["id"], "7");
        assert_eq!(v["data"]["to"], "a\"b");
        assert_eq!(v["opts"]["keepLogs"], 5);
        assert_eq!(v["attemptsMade"], 1);
        assert_eq!(v["timestamp"], 1_700_000_000_000i64);
        assert_eq!(v["returnvalue"], "not json");
        assert!(v.get("processedOn").is_none(), "absent fields are left out");
        assert!(v.get("progress").is_none() && v.get("delay").is_none());
        assert_eq!(v["stacktrace"][0], "e");
    }
}
