//! The parity suite's harness: a private redis-server, one runtime for every
//! test, queues on either store, a driver for the engine's Worker, and
//! `Observed`, what a scenario saw, compared between the stores.

#![allow(dead_code)] // every test crate that includes this uses a part of it

use std::future::Future;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::{json, Value};

use bullrush::engine::clock;
use bullrush::engine::job::NewJob;
use bullrush::engine::keys::QueueKeys;
use bullrush::engine::now_ms;
use bullrush::engine::options::parse_job_options;
use bullrush::engine::store::{refusal_name, Done, JobRange, Store};
use bullrush::engine::worker::{Finish, Outcome, Worker, WorkerSettings};
use bullrush::memory::MemoryQueue;
use bullrush::redis::connection::Endpoint;
use bullrush::redis::queue::RedisQueue;

/// How long a scenario waits for something that takes milliseconds: only
/// reached when a store is broken, so it can be generous.
pub const PATIENCE: Duration = Duration::from_secs(8);

// ---- the private Redis -------------------------------------------------

struct RedisServer {
    url: String,
    _watchdog: Child,
    /// Closing it (however this process ends) makes the watchdog stop the server.
    _lifeline: ChildStdin,
}

/// The shell between us and redis-server: it stops the server, and removes
/// its log once the server is gone (the server reopens it for every line),
/// when its stdin reaches end of file. Statics are never dropped,
/// but the kernel closes our end of the pipe when this process exits, even
/// when it is killed, so no server outlives the tests. It also exits when
/// the server does, which tells a failed start from a slow one.
const WATCHDOG: &str = r#"exec 3<&0 </dev/null
log=$1; server=$2; shift 2
"$server" --logfile "$log" "$@" & pid=$!
{ read -r _ <&3; kill "$pid"; while kill -0 "$pid"; do sleep 0.05; done; rm -f "$log"; } 2>/dev/null &
wait "$pid""#;

fn find_redis_server() -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join("redis-server"))
        .find(|candidate| candidate.is_file())
        .unwrap_or_else(|| {
            panic!(
                "redis-server is not on PATH: the parity suite runs every scenario against a \
                 private Redis as well as in memory (install it, e.g. apt-get install redis-server)"
            )
        })
}

fn pings(addr: SocketAddr) -> bool {
    let Ok(mut conn) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) else {
        return false;
    };
    let _ = conn.set_read_timeout(Some(Duration::from_millis(500)));
    let mut reply = [0u8; 16];
    conn.write_all(b"PING\r\n").is_ok()
        && matches!(conn.read(&mut reply), Ok(n) if reply[..n].starts_with(b"+PONG"))
}

fn start_redis(binary: &Path) -> Result<RedisServer, String> {
    // Bound and released at once: another process could take the port in
    // between, which the caller survives by trying again.
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| format!("no free port: {e}"))?
        .port();
    let dir = std::env::temp_dir();
    let log = dir.join(format!("bullrush-parity-redis-{port}.log"));
    let mut watchdog = Command::new("sh")
        .arg("-c")
        .arg(WATCHDOG)
        .arg("parity-redis")
        .arg(&log)
        .arg(binary)
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no"])
        .arg("--dir")
        .arg(&dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot run sh to start {}: {e}", binary.display()))?;
    let lifeline = watchdog.stdin.take().expect("stdin is piped");
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if pings(addr) {
            return Ok(RedisServer {
                url: format!("redis://127.0.0.1:{port}/"),
                _watchdog: watchdog,
                _lifeline: lifeline,
            });
        }
        if let Ok(Some(_)) = watchdog.try_wait() {
            break;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    // Read before the lifeline goes: closing it removes the log.
    let tail = std::fs::read_to_string(&log).unwrap_or_default();
    drop(lifeline);
    let _ = watchdog.wait();
    let tail: Vec<&str> = tail.lines().rev().take(5).collect();
    Err(format!(
        "redis-server on port {port} never answered PING; its log ends with: {:?}",
        tail
    ))
}

/// The URL of this process's own redis-server, started on first use.
/// Never the Redis on 6379: scenarios must not see anyone else's keys.
pub fn redis_url() -> &'static str {
    static SERVER: OnceLock<RedisServer> = OnceLock::new();
    &SERVER
        .get_or_init(|| {
            let binary = find_redis_server();
            let mut errors = Vec::new();
            for _ in 0..3 {
                match start_redis(&binary) {
                    Ok(server) => return server,
                    Err(e) => errors.push(e),
                }
            }
            panic!("could not start {}: {errors:#?}", binary.display())
        })
        .url
}

/// Runs `future` on the runtime every test shares: a Redis endpoint's
/// connection lives on the runtime that opened it, and endpoints are
/// shared process-wide.
pub fn run<F: Future>(future: F) -> F::Output {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("a tokio runtime")
        })
        .block_on(future)
}

// ---- queues on either store ---------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Redis,
    Memory,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Redis => "redis",
            Backend::Memory => "memory",
        }
    }

    /// A queue no other scenario uses: memory queues live as long as the
    /// process, Redis keys as long as the server.
    pub fn open(self, scenario: &str) -> Queue {
        static SEQ: AtomicU64 = AtomicU64::new(0);
        let n = SEQ.fetch_add(1, Ordering::Relaxed);
        let name = format!("{scenario}-{}-{n}", std::process::id());
        let keys = QueueKeys::new("parity", &name).expect("a valid queue name");
        let store: Arc<dyn Store> = match self {
            Backend::Redis => {
                let endpoint = Endpoint::get(redis_url(), Duration::from_secs(5))
                    .expect("the private Redis's URL is valid");
                Arc::new(RedisQueue::new(endpoint, keys.clone()))
            }
            Backend::Memory => Arc::new(MemoryQueue::open(keys.clone())),
        };
        Queue {
            backend: self,
            keys,
            store,
        }
    }
}

/// The state names every count reports, so that a job left anywhere shows.
pub const STATES: [&str; 6] = [
    "waiting",
    "active",
    "delayed",
    "prioritized",
    "completed",
    "failed",
];

/// The event the harness publishes to know it has read every earlier one.
const END_OF_EVENTS: &str = "parity-end";

pub struct Queue {
    pub backend: Backend,
    /// Its name differs by store: compare what is derived from it only
    /// once it is taken out.
    pub keys: QueueKeys,
    pub store: Arc<dyn Store>,
}

impl Queue {
    pub async fn add(&self, name: &str, opts: Value) -> String {
        self.add_all(&[(name, json!({}), opts)]).await.remove(0)
    }

    /// Adds jobs in one call, as `Queue#addBulk` does: (name, data, opts).
    pub async fn add_all(&self, jobs: &[(&str, Value, Value)]) -> Vec<String> {
        let jobs: Vec<NewJob> = jobs
            .iter()
            .map(|(name, data, opts)| NewJob {
                name: name.to_string(),
                data: data.to_string(),
                opts: parse_job_options(opts, now_ms()).expect("valid job options"),
            })
            .collect();
        self.store.add(&jobs).await.expect("add")
    }

    pub async fn job(&self, id: &str) -> Option<Value> {
        let text = self.store.job_json(id).await.expect("job_json")?;
        Some(serde_json::from_str(&text).expect("a job record is JSON"))
    }

    pub async fn state(&self, id: &str) -> String {
        self.store.state(id).await.expect("state")
    }

    /// What a scenario compares of a job: its state and the fields BullMQ's
    /// Job shows, times reduced to whether they are set (they differ by run).
    pub async fn view(&self, id: &str) -> Value {
        let state = self.state(id).await;
        let Some(job) = self.job(id).await else {
            return json!({ "id": id, "state": state, "exists": false });
        };
        let int = |field: &str| job.get(field).and_then(Value::as_i64).unwrap_or(0);
        let field = |name: &str| job.get(name).cloned().unwrap_or(Value::Null);
        json!({
            "id": id,
            "state": state,
            "exists": true,
            "name": field("name"),
            "data": field("data"),
            "attemptsMade": int("attemptsMade"),
            "attemptsStarted": int("attemptsStarted"),
            "stalledCounter": int("stalledCounter"),
            "delay": int("delay"),
            "priority": int("priority"),
            "failedReason": field("failedReason"),
            "returnvalue": field("returnvalue"),
            "stacktrace": job.get("stacktrace").and_then(Value::as_array).map_or(0, Vec::len),
            "deferredFailure": field("deferredFailure"),
            "processedBy": field("processedBy"),
            "processedOn": job.get("processedOn").is_some(),
            "finishedOn": job.get("finishedOn").is_some(),
        })
    }

    /// How many jobs each state holds, as `{"waiting": n, …}`.
    pub async fn counts(&self) -> Value {
        let states: Vec<String> = STATES.iter().map(|s| s.to_string()).collect();
        let counts = self.store.counts(&states).await.expect("counts");
        STATES
            .iter()
            .zip(counts)
            .map(|(state, n)| (state.to_string(), Value::from(n)))
            .collect::<serde_json::Map<_, _>>()
            .into()
    }

    /// The ids of one state, in the order `Queue#getJobs(state, 0, -1, true)` lists them.
    pub async fn ids(&self, state: &str) -> Vec<String> {
        let states = [state.to_string()];
        let range = JobRange {
            states: &states,
            start: 0,
            end: -1,
            asc: true,
        };
        self.store.ranges(&range).await.expect("ranges")
    }

    /// Every event of the queue so far, oldest first, as "name jobId" (or
    /// "name field=value …" for events about no job): stream ids and times
    /// differ by store and run.
    pub async fn events(&self) -> Vec<String> {
        let marker = ["event".to_string(), END_OF_EVENTS.to_string()];
        self.store
            .publish_event(&marker, 100_000)
            .await
            .expect("publish_event");
        let subscription = self.store.subscribe("0", 100);
        let deadline = tokio::time::Instant::now() + PATIENCE;
        let mut events = Vec::new();
        loop {
            let text = tokio::time::timeout_at(deadline, subscription.next())
                .await
                .expect("the events reader delivers the end marker")
                .expect("the events reader stays open");
            let batch: Value = serde_json::from_str(&text).expect("events are JSON");
            assert_eq!(batch["errors"], json!([]), "the events reader failed");
            for entry in batch["entries"].as_array().expect("entries") {
                let fields: Vec<&str> = entry[1]
                    .as_array()
                    .expect("fields")
                    .iter()
                    .map(|f| f.as_str().expect("fields are text"))
                    .collect();
                let pairs: Vec<(&str, &str)> = fields.chunks(2).map(|p| (p[0], p[1])).collect();
                let get = |name: &str| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| *v);
                let name = get("event").unwrap_or("?");
                if name == END_OF_EVENTS {
                    subscription.close();
                    return events;
                }
                events.push(match get("jobId") {
                    Some(id) => format!("{name} {id}"),
                    None => pairs
                        .iter()
                        .filter(|(k, _)| *k != "event")
                        .fold(name.to_string(), |s, (k, v)| format!("{s} {k}={v}")),
                });
            }
        }
    }

    /// A Worker on this queue, not started.
    pub fn worker(&self, settings: Value) -> Arc<Worker> {
        let settings =
            WorkerSettings::from_json(&settings.to_string()).expect("valid worker settings");
        let store = self.store.worker_store(&settings.name);
        Arc::new(Worker::new(store, settings, clock::system()))
    }
}

/// A refusal as JS sees it: null when done, else its name.
pub fn outcome(done: Done) -> Value {
    refusal_name(done).map_or(Value::Null, Value::from)
}

// ---- driving a worker ---------------------------------------------------

/// What the processor does with one job: report `outcome` after `after`.
pub struct Step {
    pub after: Duration,
    pub outcome: Outcome,
}

impl Step {
    pub fn after(self, after: Duration) -> Step {
        Step { after, ..self }
    }
}

pub fn complete(returnvalue: Value) -> Step {
    Step {
        after: Duration::ZERO,
        outcome: Outcome::Completed {
            returnvalue: returnvalue.to_string(),
        },
    }
}

pub fn fail(reason: &str, stacktrace: &[&str]) -> Step {
    Step {
        after: Duration::ZERO,
        outcome: failure(reason, stacktrace, false),
    }
}

pub fn failure(reason: &str, stacktrace: &[&str], unrecoverable: bool) -> Outcome {
    Outcome::Failed {
        reason: reason.to_string(),
        stacktrace: json!(stacktrace).to_string(),
        unrecoverable,
        custom_delay: None,
    }
}

/// What a worker delivered while `process` drove it.
#[derive(Default, Debug)]
pub struct Processed {
    /// Job ids in the order they were handed to the processor.
    pub order: Vec<String>,
    /// The records handed over, as JS receives them.
    pub records: Vec<Value>,
    /// (id, refusal or null) for every result the store took or refused.
    pub done: Vec<(String, Value)>,
    /// The most jobs the worker held at once: handed over, result not stored.
    pub max_in_flight: usize,
    pub errors: Vec<String>,
}

/// Starts `worker` (if it is not running) and plays processor until
/// `results` results were stored or refused, or `within` has passed.
pub async fn process(
    worker: &Arc<Worker>,
    results: usize,
    within: Duration,
    handler: impl Fn(&Value) -> Step,
) -> Processed {
    worker.start();
    let deadline = tokio::time::Instant::now() + within;
    let mut seen = Processed::default();
    let mut in_flight = 0usize;
    while seen.done.len() < results {
        let Ok(Some(text)) = tokio::time::timeout_at(deadline, worker.next()).await else {
            break;
        };
        let batch: Value = serde_json::from_str(&text).expect("a worker batch is JSON");
        // A batch's results are of jobs handed over in earlier batches.
        for done in batch["done"].as_array().expect("done") {
            in_flight = in_flight.saturating_sub(1);
            let id = done[0].as_str().expect("a done id").to_string();
            seen.done.push((id, done[1].clone()));
        }
        for error in batch["errors"].as_array().expect("errors") {
            seen.errors
                .push(error.as_str().unwrap_or_default().to_string());
        }
        for job in batch["jobs"].as_array().expect("jobs") {
            in_flight += 1;
            seen.max_in_flight = seen.max_in_flight.max(in_flight);
            let id = job["id"].as_str().expect("a job id").to_string();
            let token = job["token"].as_str().expect("a lock token").to_string();
            seen.order.push(id.clone());
            seen.records.push(job.clone());
            let step = handler(job);
            let finish = Finish {
                id,
                token,
                outcome: step.outcome,
            };
            if step.after.is_zero() {
                worker.core().finish(vec![finish]);
            } else {
                let worker = worker.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(step.after).await;
                    worker.core().finish(vec![finish]);
                });
            }
        }
    }
    seen
}

/// Closes `worker` once its results are stored.
pub async fn close(worker: &Worker) {
    tokio::time::timeout(PATIENCE, worker.core().close(false))
        .await
        .expect("the worker closes once its results are stored");
}

/// Manual processing (`Worker#getNextJob`): the next job locked with
/// `token`, waiting for one to be ready for at most `PATIENCE`.
pub async fn fetch_one(worker: &Worker, token: &str) -> Option<Value> {
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Some(text) = worker.fetch_one(token).await.expect("fetch_one") {
            return Some(serde_json::from_str(&text).expect("a job record is JSON"));
        }
        if Instant::now() > deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Manual processing: stores one result (`moveToCompleted`/`moveToFailed`).
pub async fn finish_one(worker: &Worker, job: &Value, result: Outcome) -> Value {
    let finish = Finish {
        id: job["id"].as_str().expect("a job id").to_string(),
        token: job["token"].as_str().expect("a lock token").to_string(),
        outcome: result,
    };
    let settled = worker.finish_one(finish).await.expect("finish_one");
    outcome(settled.done)
}

/// Samples the queue's active count every few ms until stopped; the most seen.
pub struct ActiveSampler {
    stop: Arc<tokio::sync::Notify>,
    task: tokio::task::JoinHandle<i64>,
}

impl ActiveSampler {
    pub fn start(store: Arc<dyn Store>) -> ActiveSampler {
        let stop = Arc::new(tokio::sync::Notify::new());
        let stopped = stop.clone();
        let task = tokio::spawn(async move {
            let active = ["active".to_string()];
            let mut most = 0;
            loop {
                most = most.max(store.counts(&active).await.expect("counts")[0]);
                tokio::select! {
                    _ = stopped.notified() => return most,
                    _ = tokio::time::sleep(Duration::from_millis(5)) => {}
                }
            }
        });
        ActiveSampler { stop, task }
    }

    pub async fn stop(self) -> i64 {
        // A permit is kept if the sampler is not waiting right now.
        self.stop.notify_one();
        self.task.await.expect("the sampler ends")
    }
}

// ---- what a scenario saw --------------------------------------------------

/// Named observations in the order a scenario made them. Two stores are
/// equal when every observation is.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Observed(Vec<(String, Value)>);

impl Observed {
    pub fn note(&mut self, key: &str, value: impl Serialize) {
        assert!(
            self.0.iter().all(|(k, _)| k != key),
            "observation '{key}' noted twice"
        );
        let value = serde_json::to_value(value).expect("an observation is serializable");
        self.0.push((key.to_string(), value));
    }

    pub fn get(&self, key: &str) -> &Value {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
            .unwrap_or_else(|| panic!("no observation '{key}'"))
    }

    /// The observations that differ, one line each, `self` as Redis.
    pub fn diff(&self, memory: &Observed) -> String {
        let mut keys: Vec<&str> = self.0.iter().map(|(k, _)| k.as_str()).collect();
        for (k, _) in &memory.0 {
            if !keys.contains(&k.as_str()) {
                keys.push(k);
            }
        }
        let find = |o: &Observed, k: &str| {
            o.0.iter()
                .find(|(key, _)| key == k)
                .map_or("(not observed)".to_string(), |(_, v)| v.to_string())
        };
        keys.into_iter()
            .filter_map(|k| {
                let (r, m) = (find(self, k), find(memory, k));
                (r != m).then(|| format!("  {k}:\n    redis:  {r}\n    memory: {m}"))
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    pub fn pretty(&self) -> String {
        self.0
            .iter()
            .map(|(k, v)| format!("  {k}: {v}"))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

impl std::ops::Index<&str> for Observed {
    type Output = Value;
    fn index(&self, key: &str) -> &Value {
        self.get(key)
    }
}
