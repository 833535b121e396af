//! The napi surface. Classes here translate arguments and errors and hold
//! no queue logic; that lives in `engine` and the backends.

mod events;
mod jobs;
mod queue;
mod worker;

pub use events::NativeEvents;
pub use queue::NativeQueue;
pub use worker::NativeWorker;

use crate::engine::error::EngineError;

/// Errors cross as `[bullrush:KIND] message`; lib/native.js turns the kind
/// into the matching JS class (TypeError, RedisUnavailableError, …).
pub(crate) fn js_error(err: EngineError) -> napi::Error {
    napi::Error::from_reason(err.to_js_message())
}

/// The tokio runtime behind every async napi call. One worker thread by
/// default: the Redis connection's task and the calls waiting on it then
/// share a thread, which halves the CPU per awaited call compared with
/// napi's default pool (measured with `npm run bench`), and leaves the other
/// cores to the JS thread and Redis. `BULLRUSH_THREADS` overrides it.
#[napi_derive::module_init]
fn init() {
    let threads = std::env::var("BULLRUSH_THREADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .thread_name("bullrush")
        .enable_all()
        .build()
        .expect("bullrush: cannot start its tokio runtime");
    napi::bindgen_prelude::create_custom_tokio_runtime(runtime);
}
