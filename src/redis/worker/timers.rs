//! The worker's timers: lock renewal and the stalled-job check.

use std::time::Duration;

use super::Shared;
use crate::engine::now_ms;
use crate::engine::worker::Delivery;
use crate::redis::scripts::scripts;

/// Runs the stalled-job check at start and every `stalled_interval_ms`; the
/// `stalled-check` key makes one worker per interval do it for the queue.
pub(super) async fn check_stalled(shared: std::sync::Weak<Shared>) {
    loop {
        let Some(s) = shared.upgrade() else { return };
        if !s.flags.lock().unwrap().running {
            return;
        }
        let args = vec![
            s.queue.keys.base.clone(),
            now_ms().to_string(),
            s.settings.max_stalled_count.to_string(),
            s.settings.stalled_interval_ms.to_string(),
        ];
        match s.queue.eval::<Vec<String>>(&scripts().stalled, &args).await {
            Ok(ids) if !ids.is_empty() => {
                let _ = s.out.send(Delivery::Stalled(ids));
                // Recovered jobs are waiting: look for them now.
                s.wake.notify_one();
            }
            Ok(_) => {}
            Err(e) => {
                let _ = s
                    .out
                    .send(Delivery::Error(format!("stalled-job check failed: {e}")));
            }
        }
        let period = Duration::from_millis(s.settings.stalled_interval_ms.max(1));
        drop(s);
        tokio::time::sleep(period).await;
    }
}

/// Renews the locks of every active job in one call per period.
pub(super) async fn renew_locks(shared: std::sync::Weak<Shared>) {
    loop {
        let period = match shared.upgrade() {
            Some(s) => Duration::from_millis(s.settings.lock_renew_ms.max(1)),
            None => return,
        };
        tokio::time::sleep(period).await;
        let Some(s) = shared.upgrade() else { return };
        if !s.flags.lock().unwrap().running {
            return;
        }
        let held = s.held_locks();
        if held.is_empty() {
            continue;
        }
        let mut args = vec![
            s.queue.keys.base.clone(),
            s.settings.lock_duration_ms.to_string(),
        ];
        for (id, token) in &held {
            args.push(id.clone());
            args.push(token.clone());
        }
        match s
            .queue
            .eval::<Vec<String>>(&scripts().extend_locks, &args)
            .await
        {
            Ok(lost) => s.report_renewal(held, lost),
            Err(e) => {
                let _ = s
                    .out
                    .send(Delivery::Error(format!("could not renew job locks: {e}")));
            }
        }
    }
}
