//! The napi surface. Classes here translate arguments and errors and hold
//! no queue logic; that lives in `engine` and the stores, which the classes
//! reach through `Arc<dyn Store>` without asking which store it is.

mod events;
mod jobs;
mod queue;
mod worker;

use std::sync::Arc;
use std::time::Duration;

pub use events::NativeEvents;
pub use queue::NativeQueue;
pub use worker::NativeWorker;

use crate::engine::error::EngineError;
use crate::engine::keys::QueueKeys;
use crate::engine::store::Store;
use crate::memory::MemoryQueue;
use crate::redis::connection::Endpoint;
use crate::redis::queue::RedisQueue;

/// What JS passes to say "the embedded store" instead of a Redis URL.
const MEMORY_URL: &str = "memory://";

/// The store of queue `name` at `url`: Redis, or this process.
pub(crate) fn open_store(
    url: &str,
    prefix: &str,
    name: &str,
    timeout_ms: u32,
) -> napi::Result<Arc<dyn Store>> {
    let keys = QueueKeys::new(prefix, name).map_err(js_error)?;
    if url == MEMORY_URL {
        return Ok(Arc::new(MemoryQueue::open(keys)));
    }
    let timeout = Duration::from_millis(timeout_ms.max(1) as u64);
    let endpoint = Endpoint::get(url, timeout).map_err(js_error)?;
    Ok(Arc::new(RedisQueue::new(endpoint, keys)))
}

/// Errors cross as `[bullrush:KIND] message`; lib/native.js turns the kind
/// into the matching JS class (TypeError, RedisUnavailableError, …).
pub(crate) fn js_error(err: EngineError) -> napi::Error {
    napi::Error::from_reason(err.tagged())
}

/// The tokio runtime behind every async napi call. One worker thread by
/// default: the Redis connection's task and the calls waiting on it then
/// share a thread, which halves the CPU per awaited call compared with
/// napi's default pool (measured with `npm run bench`), and leaves the other
/// cores to the JS thread and Redis. `BULLRUSH_THREADS` overrides it.
#[napi_derive::module_init]
fn init() {
    install_log_subscriber();
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

/// Diagnostics on stderr when `BULLRUSH_LOG` asks for them (`debug`,
/// `bullrush=debug`, `bullrush::redis=trace,info`: tracing's EnvFilter
/// syntax). Unset, no subscriber is installed, and every `tracing` macro
/// in the crate costs one relaxed load of the global level.
fn install_log_subscriber() {
    let Some(spec) = std::env::var_os("BULLRUSH_LOG") else {
        return;
    };
    let spec = spec.to_string_lossy();
    if spec.trim().is_empty() {
        return;
    }
    match tracing_subscriber::EnvFilter::try_new(spec.as_ref()) {
        Ok(filter) => {
            // Fails only when the process already has a global subscriber
            // (another addon's): that one then gets our events.
            let _ = tracing_subscriber::fmt()
                .with_env_filter(filter)
                .with_writer(std::io::stderr)
                .try_init();
        }
        Err(e) => eprintln!(
            "bullrush: BULLRUSH_LOG={spec:?} is not a valid filter ({e}); logging stays off"
        ),
    }
}
