//! The worker's timers, the same for every store: lock renewal and the
//! stalled-job check. They hold the worker weakly and end with its loop.

use std::sync::Weak;
use std::time::Duration;

use super::{Delivery, Loop};
use crate::engine::error::EngineError;
use crate::engine::store::{Renewal, StalledCheck};

/// Runs the stalled-job check at start and every `stalled_interval_ms`; the
/// store makes one worker per interval do it for the whole queue.
pub(super) async fn check_stalled(worker: Weak<Loop>) {
    loop {
        let Some(w) = worker.upgrade() else { return };
        if !w.is_running() {
            return;
        }
        let check = StalledCheck {
            max_stalled: w.settings.max_stalled_count,
            interval_ms: w.settings.stalled_interval_ms,
            now: w.now(),
        };
        let result = w.store.check_stalled(&check).await;
        match result {
            Ok(ids) if !ids.is_empty() => {
                tracing::info!(target: "bullrush::worker", count = ids.len(), "stalled jobs moved back to wait");
                let _ = w.out.send(Delivery::Stalled(ids));
                // Recovered jobs are waiting: look for them now.
                w.wake.notify_one();
            }
            Ok(_) => {}
            Err(e) => {
                let _ = w
                    .out
                    .send(Delivery::Error(e.context("stalled-job check failed")));
            }
        }
        let period = Duration::from_millis(w.settings.stalled_interval_ms.max(1));
        drop(w);
        tokio::time::sleep(period).await;
    }
}

/// Renews the locks of every active job in one call per period.
pub(super) async fn renew_locks(worker: Weak<Loop>) {
    let mut told_silent = false;
    loop {
        let period = match worker.upgrade() {
            Some(w) => Duration::from_millis(w.settings.lock_renew_ms.max(1)),
            None => return,
        };
        tokio::time::sleep(period).await;
        let Some(w) = worker.upgrade() else { return };
        if !w.is_running() {
            return;
        }
        let held = w.held_locks();
        if held.is_empty() {
            told_silent = false;
            continue;
        }
        if let Some(silent) = w.js_silent_for() {
            // Left to expire: the stalled checker of any worker recovers them.
            if !told_silent {
                told_silent = true;
                let message = format!(
                    "the JS thread has shown no sign of life for {silent} ms (eventLoopBlockLimit is {} ms): the locks of {} active jobs are no longer renewed, so that the stalled checker can recover them",
                    w.settings.event_loop_block_limit_ms,
                    held.len()
                );
                tracing::warn!(target: "bullrush::worker", "{message}");
                let _ = w.out.send(Delivery::Error(EngineError::Other(message)));
            }
            continue;
        }
        told_silent = false;
        let renewal = Renewal {
            held: &held,
            lock_ms: w.settings.lock_duration_ms,
            now: w.now(),
        };
        match w.store.extend_locks(&renewal).await {
            Ok(lost) => w.report_renewal(held, lost),
            Err(e) => {
                let _ = w
                    .out
                    .send(Delivery::Error(e.context("could not renew job locks")));
            }
        }
    }
}
