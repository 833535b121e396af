//! Key names of one queue, as BullMQ lays them out: `<prefix>:<queue>:<suffix>`.

use super::error::{EngineError, EngineResult};

#[derive(Debug, Clone)]
pub struct QueueKeys {
    pub prefix: String,
    pub name: String,
    /// `<prefix>:<queue>:`; a job's hash is `<base><jobId>`.
    pub base: String,
}

impl QueueKeys {
    pub fn new(prefix: &str, name: &str) -> EngineResult<Self> {
        validate_queue_name(name)?;
        if prefix.is_empty() {
            return Err(EngineError::InvalidInput(
                "prefix must be a non-empty string".into(),
            ));
        }
        Ok(QueueKeys {
            prefix: prefix.to_string(),
            name: name.to_string(),
            base: format!("{prefix}:{name}:"),
        })
    }

    pub fn key(&self, suffix: &str) -> String {
        format!("{}{}", self.base, suffix)
    }

    pub fn job(&self, id: &str) -> String {
        format!("{}{}", self.base, id)
    }

    /// What BullMQ names the connections of this queue's clients, so that
    /// `getWorkers` (ours and BullMQ's) can find them in CLIENT LIST.
    pub fn client_name(&self) -> String {
        format!("{}:{}", self.prefix, base64(self.name.as_bytes()))
    }
}

/// Maps BullMQ's public state names to key suffixes.
pub fn state_key(state: &str) -> EngineResult<&'static str> {
    Ok(match state {
        "waiting" | "wait" => "wait",
        "paused" => "paused",
        "active" => "active",
        "delayed" => "delayed",
        "prioritized" => "prioritized",
        "completed" => "completed",
        "failed" => "failed",
        "waiting-children" => "waiting-children",
        other => {
            return Err(EngineError::InvalidInput(format!(
                "unknown job state '{other}' (expected waiting, active, delayed, prioritized, completed, failed, paused or waiting-children)"
            )))
        }
    })
}

pub fn validate_queue_name(name: &str) -> EngineResult<()> {
    if name.is_empty() {
        return Err(EngineError::InvalidInput(
            "Queue name must be a non-empty string".into(),
        ));
    }
    if name.contains(':') {
        return Err(EngineError::InvalidInput(format!(
            "Queue name cannot contain ':' (got '{name}'): BullMQ uses ':' to separate key parts"
        )));
    }
    Ok(())
}

fn base64(bytes: &[u8]) -> String {
    const TABLE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = (chunk[0] as u32) << 16
            | (*chunk.get(1).unwrap_or(&0) as u32) << 8
            | *chunk.get(2).unwrap_or(&0) as u32;
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(TABLE[(n >> (18 - 6 * i)) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_node_buffer_encoding() {
        assert_eq!(base64(b"emails"), "ZW1haWxz");
        assert_eq!(base64(b"ab"), "YWI=");
        assert_eq!(base64(b"a"), "YQ==");
    }

    #[test]
    fn rejects_bad_names() {
        assert!(QueueKeys::new("bull", "").is_err());
        assert!(QueueKeys::new("bull", "a:b").is_err());
        let k = QueueKeys::new("bull", "q").unwrap();
        assert_eq!(k.key("wait"), "bull:q:wait");
        assert_eq!(k.job("7"), "bull:q:7");
    }
}
