//! Errors the engine reports, by kind, so that JS can raise the matching class
//! (TypeError for bad input, RedisUnavailableError for an unreachable Redis).

use std::fmt;

#[derive(Debug, Clone, PartialEq)]
pub enum EngineError {
    /// The caller passed something the queue cannot accept; nothing was written.
    InvalidInput(String),
    /// Redis could not be reached or stopped answering.
    Unavailable(String),
    /// A job or lock did not match what the caller claimed.
    Job(String),
    Other(String),
}

impl EngineError {
    pub fn kind(&self) -> &'static str {
        match self {
            EngineError::InvalidInput(_) => "INVALID_INPUT",
            EngineError::Unavailable(_) => "REDIS_UNAVAILABLE",
            EngineError::Job(_) => "JOB",
            EngineError::Other(_) => "OTHER",
        }
    }

    pub fn message(&self) -> &str {
        match self {
            EngineError::InvalidInput(m)
            | EngineError::Unavailable(m)
            | EngineError::Job(m)
            | EngineError::Other(m) => m,
        }
    }

    /// The same error with `context: ` before its message, kind kept.
    pub fn context(self, context: &str) -> Self {
        let message = format!("{context}: {}", self.message());
        match self {
            EngineError::InvalidInput(_) => EngineError::InvalidInput(message),
            EngineError::Unavailable(_) => EngineError::Unavailable(message),
            EngineError::Job(_) => EngineError::Job(message),
            EngineError::Other(_) => EngineError::Other(message),
        }
    }

    /// `[bullrush:KIND] message`: how an error crosses to JS, which turns
    /// the kind back into its class (lib/native.js).
    pub fn tagged(&self) -> String {
        format!("[bullrush:{}] {}", self.kind(), self.message())
    }

    pub fn from_redis(err: redis::RedisError) -> Self {
        EngineError::Other(format!("Redis error: {err}"))
    }
}

impl fmt::Display for EngineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

impl std::error::Error for EngineError {}

pub type EngineResult<T> = Result<T, EngineError>;
