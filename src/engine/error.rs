//! Errors the engine reports, by kind, so that JS can raise the matching class
//! (lib/native.js maps each `kind()` to one).
//!
//! The Redis kinds are told apart by what the caller can do next: nothing
//! was sent (`Unavailable`: retry), the command was sent but no answer came
//! (`OutcomeUnknown`: it may have been applied), the credentials are wrong
//! (`Auth`: retrying will not help), Redis refused the command (`Script`),
//! or what came back cannot be read (`BadData`: the data, not the link).

use std::fmt;

#[derive(Debug, Clone, PartialEq)]
pub enum EngineError {
    /// The caller passed something the queue cannot accept; nothing was written.
    InvalidInput(String),
    /// Redis could not be reached, or the connection was lost.
    Unavailable(String),
    /// The command was sent and no answer came in time: it may or may not
    /// have been applied.
    OutcomeUnknown(String),
    /// Redis refused the credentials, needs some and got none, or the ACL
    /// user may not run the command.
    Auth(String),
    /// Redis answered with an error (a script's error, a key of the wrong type, …).
    Script(String),
    /// Redis answered, but with data the engine cannot read (text that is
    /// not UTF-8, say).
    BadData(String),
    /// A job or lock did not match what the caller claimed.
    Job(String),
    Other(String),
}

impl EngineError {
    /// The name JS reads from `[bullrush:KIND] message`; the one definition
    /// of it.
    pub fn kind(&self) -> &'static str {
        match self {
            EngineError::InvalidInput(_) => "INVALID_INPUT",
            EngineError::Unavailable(_) => "REDIS_UNAVAILABLE",
            EngineError::OutcomeUnknown(_) => "REDIS_OUTCOME_UNKNOWN",
            EngineError::Auth(_) => "REDIS_AUTH",
            EngineError::Script(_) => "REDIS_SCRIPT_ERROR",
            EngineError::BadData(_) => "REDIS_BAD_DATA",
            EngineError::Job(_) => "JOB",
            EngineError::Other(_) => "OTHER",
        }
    }

    pub fn message(&self) -> &str {
        match self {
            EngineError::InvalidInput(m)
            | EngineError::Unavailable(m)
            | EngineError::OutcomeUnknown(m)
            | EngineError::Auth(m)
            | EngineError::Script(m)
            | EngineError::BadData(m)
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
            EngineError::OutcomeUnknown(_) => EngineError::OutcomeUnknown(message),
            EngineError::Auth(_) => EngineError::Auth(message),
            EngineError::Script(_) => EngineError::Script(message),
            EngineError::BadData(_) => EngineError::BadData(message),
            EngineError::Job(_) => EngineError::Job(message),
            EngineError::Other(_) => EngineError::Other(message),
        }
    }

    /// `[bullrush:KIND] message`: how an error crosses to JS, which turns
    /// the kind back into its class (lib/native.js).
    pub fn tagged(&self) -> String {
        format!("[bullrush:{}] {}", self.kind(), self.message())
    }

    /// For a Redis error with no endpoint at hand; `Endpoint::classify`
    /// tells the kinds apart.
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

#[cfg(test)]
mod tests {
    use super::*;

    /// One of each variant: a new one added here without a class in
    /// lib/native.js fails the test below.
    fn one_of_each() -> Vec<EngineError> {
        let m = String::new;
        vec![
            EngineError::InvalidInput(m()),
            EngineError::Unavailable(m()),
            EngineError::OutcomeUnknown(m()),
            EngineError::Auth(m()),
            EngineError::Script(m()),
            EngineError::BadData(m()),
            EngineError::Job(m()),
            EngineError::Other(m()),
        ]
    }

    #[test]
    fn every_kind_has_its_class_in_native_js() {
        // Exhaustive on purpose: a new variant stops this compiling, which
        // points here, to list it in one_of_each too.
        for err in one_of_each() {
            match err {
                EngineError::InvalidInput(_)
                | EngineError::Unavailable(_)
                | EngineError::OutcomeUnknown(_)
                | EngineError::Auth(_)
                | EngineError::Script(_)
                | EngineError::BadData(_)
                | EngineError::Job(_)
                | EngineError::Other(_) => {}
            }
        }
        let native_js = include_str!("../../lib/native.js");
        for err in one_of_each() {
            let entry = format!("\n  {}: ", err.kind());
            assert!(
                native_js.contains(&entry),
                "lib/native.js's CLASSES has no entry for {}",
                err.kind()
            );
        }
    }

    #[test]
    fn kinds_are_distinct() {
        let mut kinds: Vec<&str> = one_of_each().iter().map(EngineError::kind).collect();
        kinds.sort();
        kinds.dedup();
        assert_eq!(kinds.len(), one_of_each().len());
    }

    #[test]
    fn context_keeps_the_kind_and_tagged_carries_it() {
        let err = EngineError::OutcomeUnknown("no answer".into());
        assert_eq!(
            err.context("add").tagged(),
            "[bullrush:REDIS_OUTCOME_UNKNOWN] add: no answer"
        );
    }
}
