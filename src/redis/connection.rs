//! Connections to one Redis endpoint.
//!
//! Every Queue, Worker and QueueEvents in the process that points at the same
//! endpoint shares one multiplexed command connection: redis-rs pipelines
//! concurrent requests on it, so many in-flight `add`s cost one socket.
//! Blocking commands get connections of their own (`dedicated`).
//!
//! Errors are sorted here by what the caller can do about them (see
//! `EngineError`): whether the command was sent at all matters most, since a
//! command that was sent may have been applied even though no answer came.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, Client, ConnectionAddr, FromRedisValue, RedisError, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::Mutex as AsyncMutex;

use crate::engine::error::EngineError;

pub struct Endpoint {
    /// Unique per endpoint, hence per set of credentials: what may share a
    /// connection is keyed by it, never by `display`, which hides them.
    id: u64,
    client: Client,
    display: String,
    /// Host and port of a `rediss://` endpoint, to ask in plain text whether
    /// the server speaks TLS at all when the handshake does not complete.
    tls: Option<(String, u16)>,
    command_timeout: Duration,
    shared: AsyncMutex<Shared>,
}

#[derive(Default)]
struct Shared {
    conn: Option<MultiplexedConnection>,
    /// Set when a connection broke, so that the next one is logged as a recovery.
    lost: bool,
    /// Failed attempts since the last connection that worked.
    failures: u32,
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

/// Why a connection could not be made. Whatever it is, nothing was sent.
enum ConnectFailure {
    Redis(RedisError),
    /// The server answered a plain-text PING: it does not speak TLS.
    PlainText,
    TimedOut,
}

impl Endpoint {
    /// The process-wide endpoint for `url`, created on first use.
    pub fn get(url: &str, command_timeout: Duration) -> Result<Arc<Endpoint>, EngineError> {
        install_crypto_provider();
        let key = format!("{url}|{}", command_timeout.as_millis());
        // Nothing panics while the lock is held; a poisoned map is still whole.
        let mut map = registry().lock().unwrap_or_else(|e| e.into_inner());
        if let Some(found) = map.get(&key) {
            return Ok(found.clone());
        }
        let client = Client::open(url).map_err(|e| {
            EngineError::InvalidInput(format!("invalid Redis connection '{}': {e}", redact(url)))
        })?;
        let tls = match client.get_connection_info().addr() {
            ConnectionAddr::TcpTls { host, port, .. } => Some((host.clone(), *port)),
            _ => None,
        };
        static NEXT_ID: AtomicU64 = AtomicU64::new(0);
        let endpoint = Arc::new(Endpoint {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            client,
            display: redact(url),
            tls,
            command_timeout,
            shared: AsyncMutex::new(Shared::default()),
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

    /// The shared command connection, connecting (bounded by the command
    /// timeout) when there is none or the last one broke.
    pub async fn shared(&self) -> Result<MultiplexedConnection, EngineError> {
        let mut slot = self.shared.lock().await;
        if let Some(conn) = slot.conn.as_ref() {
            return Ok(conn.clone());
        }
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(self.command_timeout))
            .set_response_timeout(Some(self.command_timeout));
        match self.connect(config).await {
            Ok(conn) => {
                if slot.lost || slot.failures > 0 {
                    tracing::info!(
                        failed_attempts = slot.failures,
                        "reconnected to {}",
                        self.display
                    );
                } else {
                    tracing::info!("connected to {}", self.display);
                }
                *slot = Shared {
                    conn: Some(conn.clone()),
                    lost: false,
                    failures: 0,
                };
                Ok(conn)
            }
            Err(e) => {
                slot.failures += 1;
                tracing::warn!(attempt = slot.failures, "{}", e.message());
                Err(e)
            }
        }
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
        tracing::debug!(
            name = name.unwrap_or_default(),
            "opened a dedicated connection to {}",
            self.display
        );
        Ok(conn)
    }

    async fn connect(
        &self,
        config: AsyncConnectionConfig,
    ) -> Result<MultiplexedConnection, EngineError> {
        let attempt = async {
            let attempt = self
                .client
                .get_multiplexed_async_connection_with_config(&config);
            match &self.tls {
                None => attempt.await.map_err(ConnectFailure::Redis),
                Some((host, port)) => {
                    detect_plain_text(attempt, host, *port, self.command_timeout).await
                }
            }
        };
        let failure = match tokio::time::timeout(self.command_timeout, attempt).await {
            Ok(Ok(conn)) => return Ok(conn),
            // redis-rs's own bound on the handshake: the same as ours.
            Ok(Err(ConnectFailure::Redis(e))) if e.is_timeout() => ConnectFailure::TimedOut,
            Ok(Err(failure)) => failure,
            Err(_) => ConnectFailure::TimedOut,
        };
        let not_sent = "the command was not sent";
        Err(match failure {
            ConnectFailure::Redis(e) => match self.classify(&e) {
                auth @ EngineError::Auth(_) => auth,
                _ => EngineError::Unavailable(format!(
                    "Redis at {} is unreachable: {e}; {not_sent}",
                    self.display
                )),
            },
            ConnectFailure::PlainText => EngineError::Unavailable(format!(
                "Redis at {} does not speak TLS: the TLS handshake did not complete, and the \
                 server answers plain-text commands (use redis:// for it, or enable TLS on the \
                 server); {not_sent}",
                self.display
            )),
            ConnectFailure::TimedOut => EngineError::Unavailable(format!(
                "Redis at {} is unreachable: no connection within {} ms; {not_sent}",
                self.display,
                self.command_timeout.as_millis()
            )),
        })
    }

    /// Maps a command error; a broken connection is dropped so that the next
    /// call reconnects instead of failing forever.
    pub async fn fail(&self, err: RedisError) -> EngineError {
        let error = self.classify(&err);
        if needs_new_connection(&err) {
            let mut slot = self.shared.lock().await;
            // Logged once per connection, however many calls shared it.
            if slot.conn.take().is_some() {
                slot.lost = true;
                match &error {
                    EngineError::Auth(_) => tracing::warn!("dropped the connection: {error}"),
                    _ => tracing::warn!("connection lost: {error}"),
                }
            }
        } else if matches!(error, EngineError::Script(_) | EngineError::Auth(_)) {
            tracing::warn!("{error}");
        }
        error
    }

    /// What a command error means for the caller (no side effects: the
    /// events reader uses it for its own connection).
    pub fn classify(&self, err: &RedisError) -> EngineError {
        let at = &self.display;
        if err.kind() == redis::ErrorKind::AuthenticationFailed {
            return EngineError::Auth(format!(
                "Redis at {at} rejected the credentials (wrong username or password)"
            ));
        }
        if let Some((code, detail)) = server_reply(err) {
            let reply = format!("{code} {detail}").trim_end().to_string();
            return match code.as_str() {
                _ if unauthenticated(&code, &detail) => EngineError::Auth(format!(
                    "Redis at {at} requires a password and none was given ({reply})"
                )),
                "WRONGPASS" => EngineError::Auth(format!(
                    "Redis at {at} rejected the credentials ({reply})"
                )),
                "NOPERM" => EngineError::Auth(format!(
                    "Redis at {at} does not let this user run the command ({reply})"
                )),
                // Refused before running: nothing was applied, and it passes.
                "LOADING" | "BUSY" | "MASTERDOWN" | "TRYAGAIN" | "CLUSTERDOWN" | "READONLY" => {
                    EngineError::Unavailable(format!(
                        "Redis at {at} cannot take commands now: {reply}; the command was not applied"
                    ))
                }
                _ => EngineError::Script(format!("Redis at {at} replied with an error: {reply}")),
            };
        }
        if err.is_timeout() {
            return EngineError::OutcomeUnknown(format!(
                "Redis at {at} did not answer within {} ms: the command was sent, so it may or \
                 may not have been applied",
                self.command_timeout.as_millis()
            ));
        }
        if is_connection_error(err) {
            return EngineError::Unavailable(format!(
                "Redis at {at} is unreachable: the connection was lost ({err})"
            ));
        }
        EngineError::Other(format!("Redis error: {err}"))
    }

    /// Reads a reply that arrived whole into `T`. A reply that does not fit
    /// is the data's fault, not the connection's: redis-rs gives it the same
    /// kind as a corrupt stream, which `fail` would take for an outage.
    /// `source` names what was read, for the message; called on failure only.
    pub fn decode<T: FromRedisValue>(
        &self,
        value: Value,
        source: impl FnOnce() -> String,
    ) -> Result<T, EngineError> {
        T::from_redis_value(value).map_err(|e| {
            let detail = e.to_string();
            let what = if detail.contains("UTF-8") {
                "data that is not valid UTF-8"
            } else {
                "data bullrush cannot read"
            };
            EngineError::BadData(format!(
                "{} holds {what} (Redis at {}: {detail})",
                source(),
                self.display
            ))
        })
    }
}

/// What a reply came from, for `decode`: "the hash bull:q:1" for HGETALL.
/// Only the command and its first argument, a key for every data command:
/// later ones may be data, and AUTH's and HELLO's are credentials.
pub fn source_of(cmd: &redis::Cmd) -> String {
    let mut args = cmd.args_iter().filter_map(|arg| match arg {
        redis::Arg::Simple(bytes) => Some(String::from_utf8_lossy(bytes).into_owned()),
        _ => None,
    });
    let name = args.next().unwrap_or_default().to_ascii_uppercase();
    let noun = match name.as_str() {
        "AUTH" | "HELLO" => return format!("the reply to {name}"),
        "EVALSHA" | "EVAL" => return "a script's reply".into(),
        "HGETALL" | "HGET" | "HMGET" | "HKEYS" | "HVALS" => "the hash",
        "LRANGE" | "LINDEX" => "the list",
        "ZRANGE" | "ZREVRANGE" | "ZRANGEBYSCORE" => "the sorted set",
        "XRANGE" | "XREVRANGE" => "the stream",
        "GET" => "the key",
        _ => return format!("the reply to {name}"),
    };
    match args.next() {
        Some(key) => format!("{noun} {key}"),
        None => format!("the reply to {name}"),
    }
}

/// Finds what a pipeline's reply that does not decode came from: the first
/// command whose reply holds text that is not UTF-8 (the usual reason).
/// Looked for before decoding, which consumes the reply; a pass over bytes
/// that decoding reads again anyway.
pub fn source_in<'p>(pipe: &'p redis::Pipeline, replies: &Value) -> impl FnOnce() -> String + 'p {
    fn has_bad_text(v: &Value) -> bool {
        match v {
            Value::BulkString(b) => std::str::from_utf8(b).is_err(),
            Value::Array(items) | Value::Set(items) => items.iter().any(has_bad_text),
            Value::Map(pairs) => pairs
                .iter()
                .any(|(k, v)| has_bad_text(k) || has_bad_text(v)),
            _ => false,
        }
    }
    let culprit = match replies {
        Value::Array(items) => items.iter().position(has_bad_text),
        _ => None,
    };
    move || match culprit.and_then(|i| pipe.cmd_iter().nth(i)) {
        Some(cmd) => source_of(cmd),
        None => "a pipeline's reply".into(),
    }
}

/// A connection to a `rediss://` endpoint, or `PlainText` once the server
/// shows it speaks plain RESP. A plain-text server stays silent at a TLS
/// ClientHello until it happens to hold a newline, so the handshake would
/// wait the whole timeout; a PING on a second socket, sent only after the
/// handshake took a while, tells the two apart. A TLS server answers that
/// PING with an alert or by closing, never with RESP.
async fn detect_plain_text(
    attempt: impl std::future::Future<Output = redis::RedisResult<MultiplexedConnection>>,
    host: &str,
    port: u16,
    timeout: Duration,
) -> Result<MultiplexedConnection, ConnectFailure> {
    let patience = (timeout / 4).min(Duration::from_secs(1));
    tokio::pin!(attempt);
    let probe = async {
        tokio::time::sleep(patience).await;
        answers_plain_text(host, port).await
    };
    let failed = tokio::select! {
        result = &mut attempt => match result {
            Ok(conn) => return Ok(conn),
            Err(e) => e,
        },
        true = probe => return Err(ConnectFailure::PlainText),
    };
    // A handshake that failed fast (the server answered the ClientHello with
    // an error, as it does when the hello holds a newline) is asked too.
    if !failed.is_connection_refusal() && answers_plain_text(host, port).await {
        return Err(ConnectFailure::PlainText);
    }
    Err(ConnectFailure::Redis(failed))
}

async fn answers_plain_text(host: &str, port: u16) -> bool {
    let ask = async {
        let mut sock = tokio::net::TcpStream::connect((host, port)).await.ok()?;
        sock.write_all(b"PING\r\n").await.ok()?;
        let mut first = [0u8; 1];
        sock.read_exact(&mut first).await.ok()?;
        // '+PONG', or '-NOAUTH …' from a server with a password.
        Some(first[0] == b'+' || first[0] == b'-')
    };
    matches!(
        tokio::time::timeout(Duration::from_secs(1), ask).await,
        Ok(Some(true))
    )
}

/// The first error Redis itself replied with, as (code, detail), e.g.
/// ("WRONGTYPE", "Operation against a key …"); the one of a pipeline's
/// failing command too.
fn server_reply(err: &RedisError) -> Option<(String, String)> {
    if let Some(errors) = err.clone().into_server_errors() {
        if let Some((_, first)) = errors.first() {
            let detail = first.details().unwrap_or_default();
            return Some((first.code().to_string(), detail.to_string()));
        }
    }
    let code = err.code()?;
    Some((
        code.to_string(),
        err.detail().unwrap_or_default().to_string(),
    ))
}

/// NOAUTH, or what Redis says instead to an unauthenticated client's command
/// with many arguments (before it drops the connection).
fn unauthenticated(code: &str, detail: &str) -> bool {
    code == "NOAUTH" || (code == "ERR" && detail.starts_with("Protocol error: unauthenticated"))
}

/// Whether the shared connection is to be replaced after `err`: it broke,
/// timed out (a frozen server would pile commands up on it), or lacks the
/// credentials the server wants (which a reconnect re-reads from the URL).
fn needs_new_connection(err: &RedisError) -> bool {
    match server_reply(err) {
        Some((code, detail)) => unauthenticated(&code, &detail),
        None => is_connection_error(err),
    }
}

pub fn is_connection_error(err: &RedisError) -> bool {
    err.is_io_error()
        || err.is_connection_dropped()
        || err.is_connection_refusal()
        || err.is_timeout()
        || err.is_unrecoverable_error()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint() -> Arc<Endpoint> {
        Endpoint::get(
            "redis://user:s3cret@127.0.0.1:1/0",
            Duration::from_millis(500),
        )
        .unwrap()
    }

    fn reply_error(wire: &[u8]) -> RedisError {
        redis::parse_redis_value(wire)
            .unwrap()
            .extract_error()
            .unwrap_err()
    }

    #[test]
    fn server_errors_are_sorted_by_what_the_caller_can_do() {
        let e = endpoint();
        let cases: [(&[u8], &str); 8] = [
            (b"-NOAUTH Authentication required.\r\n", "REDIS_AUTH"),
            (
                b"-ERR Protocol error: unauthenticated multibulk length\r\n",
                "REDIS_AUTH",
            ),
            (
                b"-WRONGPASS invalid username-password pair\r\n",
                "REDIS_AUTH",
            ),
            (b"-NOPERM this user has no permissions\r\n", "REDIS_AUTH"),
            (
                b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
                "REDIS_SCRIPT_ERROR",
            ),
            (b"-ERR user_script:1: oops\r\n", "REDIS_SCRIPT_ERROR"),
            (
                b"-LOADING Redis is loading the dataset in memory\r\n",
                "REDIS_UNAVAILABLE",
            ),
            (
                b"-BUSY Redis is busy running a script\r\n",
                "REDIS_UNAVAILABLE",
            ),
        ];
        for (wire, kind) in cases {
            let err = e.classify(&reply_error(wire));
            assert_eq!(err.kind(), kind, "{}", String::from_utf8_lossy(wire));
        }
    }

    #[test]
    fn script_errors_read_as_redis_writes_them() {
        let err = endpoint().classify(&reply_error(
            b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
        ));
        assert_eq!(
            err.message(),
            "Redis at redis://127.0.0.1:1/0 replied with an error: WRONGTYPE Operation against a key holding the wrong kind of value"
        );
    }

    #[test]
    fn timeouts_and_lost_connections_differ() {
        let e = endpoint();
        let timeout = RedisError::from(std::io::Error::from(std::io::ErrorKind::TimedOut));
        assert_eq!(e.classify(&timeout).kind(), "REDIS_OUTCOME_UNKNOWN");
        let dropped = RedisError::from(std::io::Error::from(std::io::ErrorKind::BrokenPipe));
        assert_eq!(e.classify(&dropped).kind(), "REDIS_UNAVAILABLE");
    }

    #[test]
    fn messages_never_hold_the_password() {
        let e = endpoint();
        let errors = [
            reply_error(b"-WRONGPASS invalid username-password pair\r\n"),
            RedisError::from(std::io::Error::from(std::io::ErrorKind::TimedOut)),
        ];
        for err in errors {
            assert!(!e.classify(&err).message().contains("s3cret"));
        }
    }

    #[test]
    fn text_that_is_not_utf8_is_bad_data_naming_its_key() {
        let e = endpoint();
        let mut cmd = redis::cmd("HGETALL");
        cmd.arg("bull:q:1");
        let reply = Value::Array(vec![
            Value::BulkString(b"name".to_vec()),
            Value::BulkString(vec![0xff, 0xfe]),
        ]);
        let err = e
            .decode::<Vec<String>>(reply.clone(), || source_of(&cmd))
            .unwrap_err();
        assert_eq!(err.kind(), "REDIS_BAD_DATA");
        assert!(
            err.message()
                .starts_with("the hash bull:q:1 holds data that is not valid UTF-8 (Redis at redis://127.0.0.1:1/0: "),
            "{}",
            err.message()
        );

        let mut pipe = redis::pipe();
        pipe.cmd("HGETALL").arg("bull:q:0");
        pipe.cmd("HGETALL").arg("bull:q:1");
        let replies = Value::Array(vec![Value::Array(vec![]), reply]);
        assert_eq!(source_in(&pipe, &replies)(), "the hash bull:q:1");
    }

    #[test]
    fn credentials_are_never_a_source() {
        let mut cmd = redis::cmd("AUTH");
        cmd.arg("user").arg("s3cret");
        assert_eq!(source_of(&cmd), "the reply to AUTH");
    }
}
