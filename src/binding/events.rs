use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;

use napi_derive::napi;

use super::queue::{open_queue, Backend};
use crate::memory::events::MemorySubscription;
use crate::redis::events::Subscription;

enum AnySubscription {
    Redis(Subscription),
    Memory(MemorySubscription),
}

/// One QueueEvents' subscription to its queue's shared events reader.
#[napi]
pub struct NativeEvents {
    queue: Backend,
    subscription: OnceLock<AnySubscription>,
    /// Closing may come before `start` has run (a client that left at once):
    /// `start` then closes what it opened.
    closed: AtomicBool,
}

impl AnySubscription {
    fn close(&self) {
        match self {
            AnySubscription::Redis(s) => s.close(),
            AnySubscription::Memory(s) => s.close(),
        }
    }
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
            queue: open_queue(&url, &prefix, &name, command_timeout_ms)?,
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
        let subscription = self.subscription.get_or_init(|| match &self.queue {
            Backend::Redis(q) => AnySubscription::Redis(Subscription::open(
                q.clone(),
                &last_event_id,
                blocking_timeout_ms as u64,
            )),
            Backend::Memory(q) => {
                AnySubscription::Memory(MemorySubscription::open(q.clone(), &last_event_id))
            }
        });
        if self.closed.load(Ordering::SeqCst) {
            subscription.close();
            return;
        }
        if let (AnySubscription::Redis(s), Backend::Redis(q)) = (subscription, &self.queue) {
            s.ready(q.endpoint.command_timeout()).await;
        }
    }

    /// `{"entries":[[id,[field,value,…]],…],"errors":[…]}`; null once closed.
    #[napi]
    pub async fn next(&self) -> Option<String> {
        match self.subscription.get()? {
            AnySubscription::Redis(s) => s.next().await,
            AnySubscription::Memory(s) => s.next().await,
        }
    }

    #[napi]
    pub fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
        if let Some(subscription) = self.subscription.get() {
            subscription.close();
        }
    }
}
