//! The napi surface. Classes here translate arguments and errors and hold
//! no queue logic; that lives in `engine` and the backends.

mod queue;
mod worker;

pub use queue::NativeQueue;
pub use worker::NativeWorker;

use crate::engine::error::EngineError;

/// Errors cross as `[bullrush:KIND] message`; index.js turns the kind into
/// the matching JS class (TypeError, RedisUnavailableError, …).
pub(crate) fn js_error(err: EngineError) -> napi::Error {
    napi::Error::from_reason(format!("[bullrush:{}] {}", err.kind(), err.message()))
}
