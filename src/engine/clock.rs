//! Where a worker reads the time. Workers take it from a `Clock` so that
//! `cargo test` can run the worker loop on tokio's paused time, where
//! sleeps and the clock move together and nothing waits for real.

use std::sync::Arc;

pub trait Clock: Send + Sync {
    fn now_ms(&self) -> i64;
}

/// The wall clock: Redis holds times that every process compares.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        super::now_ms()
    }
}

pub fn system() -> Arc<dyn Clock> {
    Arc::new(SystemClock)
}

/// A clock that follows tokio's time, which tests pause and advance.
pub struct TokioClock {
    start_ms: i64,
    start: tokio::time::Instant,
}

impl TokioClock {
    pub fn starting_at(start_ms: i64) -> Arc<dyn Clock> {
        Arc::new(TokioClock {
            start_ms,
            start: tokio::time::Instant::now(),
        })
    }
}

impl Clock for TokioClock {
    fn now_ms(&self) -> i64 {
        self.start_ms + self.start.elapsed().as_millis() as i64
    }
}
