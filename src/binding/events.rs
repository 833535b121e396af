use std::sync::{Arc, OnceLock};

use napi_derive::napi;

use super::queue::open_queue;
use crate::redis::events::Subscription;
use crate::redis::queue::RedisQueue;

/// One QueueEvents' subscription to its queue's shared events reader.
#[napi]
pub struct NativeEvents {
    queue: Arc<RedisQueue>,
    subscription: OnceLock<Subscription>,
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
            queue: Arc::new(open_queue(&url, &prefix, &name, command_timeout_ms)?),
            subscription: OnceLock::new(),
        })
    }

    /// Starts reading from `last_event_id` ("$": new events only).
    /// Async only so that it runs on the runtime's threads.
    #[napi]
    pub async fn start(&self, last_event_id: String, blocking_timeout_ms: u32) {
        self.subscription.get_or_init(|| {
            Subscription::open(
                self.queue.clone(),
                &last_event_id,
                blocking_timeout_ms as u64,
            )
        });
    }

    /// `{"entries":[[id,[field,value,…]],…],"errors":[…]}`; null once closed.
    #[napi]
    pub async fn next(&self) -> Option<String> {
        self.subscription.get()?.next().await
    }

    #[napi]
    pub fn close(&self) {
        if let Some(subscription) = self.subscription.get() {
            subscription.close();
        }
    }
}
