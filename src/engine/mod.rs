//! Backend-neutral queue semantics: options, backoff, keys, job records,
//! the one worker loop, and the store traits each backend implements.
//! Nothing here knows about napi or about a particular store.

pub mod backoff;
pub mod clock;
pub mod error;
pub mod job;
pub mod keys;
pub mod meta;
pub mod options;
pub mod store;
pub mod worker;

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
