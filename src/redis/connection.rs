//! Connections to one Redis endpoint.
//!
//! Every Queue, Worker and QueueEvents in the process that points at the same
//! endpoint shares one multiplexed command connection: redis-rs pipelines
//! concurrent requests on it, so many in-flight `add`s cost one socket.
//! Blocking commands get connections of their own (`dedicated`).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, Client, RedisError};
use tokio::sync::Mutex as AsyncMutex;

use crate::engine::error::EngineError;

pub struct Endpoint {
    /// Unique per endpoint, hence per set of credentials: what may share a
    /// connection is keyed by it, never by `display`, which hides them.
    id: u64,
    client: Client,
    display: String,
    command_timeout: Duration,
    shared: AsyncMutex<Option<MultiplexedConnection>>,
}

fn registry() -> &'static Mutex<HashMap<String, Arc<Endpoint>>> {
    static REGISTRY: OnceLock<Mutex<HashMap<String, Arc<Endpoint>>>> = OnceLock::new();
    REGISTRY.get_or_init(|| Mutex::new(HashMap::new()))
}

fn install_crypto_provider() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        // Ignore the error: another library in the process may have installed one.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// Strips credentials so that error messages never leak a password.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            format!("{}{}", &url[..scheme_end + 3], &url[at + 1..])
        }
        _ => url.to_string(),
    }
}

impl Endpoint {
    /// The process-wide endpoint for `url`, created on first use.
    pub fn get(url: &str, command_timeout: Duration) -> Result<Arc<Endpoint>, EngineError> {
        install_crypto_provider();
        let key = format!("{url}|{}", command_timeout.as_millis());
        let mut map = registry().lock().unwrap();
        if let Some(found) = map.get(&key) {
            return Ok(found.clone());
        }
        let client = Client::open(url).map_err(|e| {
            EngineError::InvalidInput(format!("invalid Redis connection '{}': {e}", redact(url)))
        })?;
        static NEXT_ID: AtomicU64 = AtomicU64::new(0);
        let endpoint = Arc::new(Endpoint {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            client,
            display: redact(url),
            command_timeout,
            shared: AsyncMutex::new(None),
        });
        map.insert(key, endpoint.clone());
        Ok(endpoint)
    }

    pub fn id(&self) -> u64 {
        self.id
    }

    pub fn display(&self) -> &str {
        &self.display
    }

    pub fn command_timeout(&self) -> Duration {
        self.command_timeout
    }

    fn unavailable(&self, err: &dyn std::fmt::Display) -> EngineError {
        EngineError::Unavailable(format!("Redis at {} is unreachable: {err}", self.display))
    }

    /// The shared command connection, connecting (bounded by the command
    /// timeout) when there is none or the last one broke.
    pub async fn shared(&self) -> Result<MultiplexedConnection, EngineError> {
        let mut slot = self.shared.lock().await;
        if let Some(conn) = slot.as_ref() {
            return Ok(conn.clone());
        }
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(self.command_timeout))
            .set_response_timeout(Some(self.command_timeout));
        let conn = self.connect(config).await?;
        *slot = Some(conn.clone());
        Ok(conn)
    }

    /// A connection for one blocking reader (marker wait, XREAD BLOCK): no
    /// response timeout, since the server holds the reply on purpose.
    pub async fn dedicated(
        &self,
        name: Option<&str>,
    ) -> Result<MultiplexedConnection, EngineError> {
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(self.command_timeout))
            .set_response_timeout(None);
        let mut conn = self.connect(config).await?;
        if let Some(name) = name {
            let _: Result<(), _> = redis::cmd("CLIENT")
                .arg("SETNAME")
                .arg(name)
                .query_async(&mut conn)
                .await;
        }
        Ok(conn)
    }

    async fn connect(
        &self,
        config: AsyncConnectionConfig,
    ) -> Result<MultiplexedConnection, EngineError> {
        let attempt = self
            .client
            .get_multiplexed_async_connection_with_config(&config);
        match tokio::time::timeout(self.command_timeout, attempt).await {
            Ok(Ok(conn)) => Ok(conn),
            Ok(Err(e)) => Err(self.unavailable(&e)),
            Err(_) => Err(self.unavailable(&format!(
                "no connection within {} ms",
                self.command_timeout.as_millis()
            ))),
        }
    }

    /// Maps a command error; a broken connection is dropped so that the next
    /// call reconnects instead of failing forever.
    pub async fn fail(&self, err: RedisError) -> EngineError {
        if is_connection_error(&err) {
            self.shared.lock().await.take();
            return self.unavailable(&err);
        }
        EngineError::from_redis(err)
    }
}

pub fn is_connection_error(err: &RedisError) -> bool {
    err.is_io_error()
        || err.is_connection_dropped()
        || err.is_connection_refusal()
        || err.is_timeout()
        || err.is_unrecoverable_error()
}
