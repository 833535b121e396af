use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use napi_derive::napi;

use super::open_store;
use crate::engine::store::{EventSubscription, Store};

/// One QueueEvents' subscription to its queue's events.
#[napi]
pub struct NativeEvents {
    store: Arc<dyn Store>,
    command_timeout: Duration,
    subscription: OnceLock<Box<dyn EventSubscription>>,
    /// Closing may come before `start` has run (a client that left at once):
    /// `start` then closes what it opened.
    closed: AtomicBool,
}

#[napi]
impl NativeEvents {
    #[napi(constructor)]
    pub fn new(
        url: String,
        prefix: String,
        name: String,
        command_timeout_ms: u32,
    ) -> napi::Result<Self> {
        Ok(NativeEvents {
            store: open_store(&url, &prefix, &name, command_timeout_ms)?,
            command_timeout: Duration::from_millis(command_timeout_ms.max(1) as u64),
            subscription: OnceLock::new(),
            closed: AtomicBool::new(false),
        })
    }

    /// Starts reading from `last_event_id` ("$": new events only); resolves
    /// once events written from now on will be delivered (or after the
    /// command timeout, if Redis does not answer: the reader keeps trying).
    #[napi]
    pub async fn start(&self, last_event_id: String, blocking_timeout_ms: u32) {
        if self.closed.load(Ordering::SeqCst) {
            return;
        }
        let subscription = self.subscription.get_or_init(|| {
            self.store
                .subscribe(&last_event_id, blocking_timeout_ms as u64)
        });
        if self.closed.load(Ordering::SeqCst) {
            subscription.close();
            return;
        }
        subscription.ready(self.command_timeout).await;
    }

    /// `{"entries":[[id,[field,value,…]],…],"errors":[…]}`; null once closed.
    #[napi]
    pub async fn next(&self) -> Option<String> {
        self.subscription.get()?.next().await
    }

    #[napi]
    pub fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
        if let Some(subscription) = self.subscription.get() {
            subscription.close();
        }
    }
}
