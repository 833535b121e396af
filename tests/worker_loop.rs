//! The engine's one worker loop, driven against the memory store on tokio's
//! paused time: timers, lock expiry and backoff run in virtual time, so
//! these tests wait for nothing real and their timing is exact.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::{json, Value};

use bullrush::engine::clock::TokioClock;
use bullrush::engine::error::{EngineError, EngineResult};
use bullrush::engine::job::NewJob;
use bullrush::engine::keys::QueueKeys;
use bullrush::engine::now_ms;
use bullrush::engine::options::parse_job_options;
use bullrush::engine::store::{
    BoxFuture, Pacing, QueueStore, Renewal, StalledCheck, Store, Turn, TurnRequest, WorkerStore,
};
use bullrush::engine::worker::{Finish, Outcome, Worker, WorkerSettings};
use bullrush::memory::MemoryQueue;

fn queue(name: &str) -> MemoryQueue {
    MemoryQueue::open(QueueKeys::new("loop-test", name).unwrap())
}

async fn add(q: &MemoryQueue, count: usize, opts: Value) -> Vec<String> {
    let jobs: Vec<NewJob> = (0..count)
        .map(|i| NewJob {
            name: format!("job{i}"),
            data: "{}".into(),
            opts: parse_job_options(&opts, now_ms()).unwrap(),
        })
        .collect();
    q.add(&jobs).await.unwrap()
}

fn worker_on(store: Arc<dyn WorkerStore>, settings: Value) -> Worker {
    let settings = WorkerSettings::from_json(&settings.to_string()).unwrap();
    Worker::new(store, settings, TokioClock::starting_at(now_ms()))
}

fn worker(q: &MemoryQueue, settings: Value) -> Worker {
    worker_on(q.worker_store(""), settings)
}

/// Everything the worker delivers within `within` of virtual time, merged:
/// job records, result outcomes, errors and stalled ids.
#[derive(Default, Debug)]
struct Seen {
    jobs: Vec<Value>,
    done: Vec<(String, Value)>,
    errors: Vec<String>,
    stalled: Vec<String>,
}

async fn collect(w: &Worker, within: Duration, stop: impl Fn(&Seen) -> bool) -> Seen {
    let mut seen = Seen::default();
    let deadline = tokio::time::Instant::now() + within;
    while !stop(&seen) {
        let Ok(Some(text)) = tokio::time::timeout_at(deadline, w.next()).await else {
            break;
        };
        let batch: Value = serde_json::from_str(&text).unwrap();
        seen.jobs
            .extend(batch["jobs"].as_array().unwrap().iter().cloned());
        for d in batch["done"].as_array().unwrap() {
            seen.done
                .push((d[0].as_str().unwrap().into(), d[1].clone()));
        }
        for e in batch["errors"].as_array().unwrap() {
            seen.errors.push(e.as_str().unwrap().into());
        }
        for s in batch["stalled"].as_array().unwrap() {
            seen.stalled.push(s.as_str().unwrap().into());
        }
    }
    seen
}

fn result(job: &Value, outcome: Outcome) -> Finish {
    Finish {
        id: job["id"].as_str().unwrap().into(),
        token: job["token"].as_str().unwrap().into(),
        outcome,
    }
}

fn completed() -> Outcome {
    Outcome::Completed {
        returnvalue: "\"ok\"".into(),
    }
}

fn failed(reason: &str) -> Outcome {
    Outcome::Failed {
        reason: reason.into(),
        stacktrace: "[]".into(),
        unrecoverable: false,
        custom_delay: None,
    }
}

#[tokio::test(start_paused = true)]
async fn processes_every_job_and_never_holds_more_than_its_concurrency() {
    let q = queue("concurrency");
    add(&q, 20, json!({})).await;
    let w = worker(&q, json!({ "concurrency": 3 }));
    w.start();
    let (mut held, mut most, mut done) = (0usize, 0usize, 0usize);
    while done < 20 {
        let seen = collect(&w, Duration::from_secs(5), |s| {
            !s.jobs.is_empty() || !s.done.is_empty()
        })
        .await;
        assert!(
            !seen.jobs.is_empty() || !seen.done.is_empty(),
            "the worker stopped after {done} jobs"
        );
        held += seen.jobs.len();
        held -= seen.done.len();
        done += seen.done.len();
        most = most.max(held);
        let results = seen.jobs.iter().map(|j| result(j, completed())).collect();
        w.core().finish(results);
    }
    assert!(most <= 3, "held {most} jobs at once with concurrency 3");
    assert_eq!(q.counts(&["completed".into()]).await.unwrap(), vec![20]);
    w.core().close(false).await;
}

#[tokio::test(start_paused = true)]
async fn a_failed_attempt_waits_its_backoff_then_runs_again() {
    let q = queue("backoff");
    let opts = json!({ "attempts": 2, "backoff": { "type": "fixed", "delay": 10_000 } });
    let id = add(&q, 1, opts).await.remove(0);
    let w = worker(&q, json!({}));
    w.start();
    let first = collect(&w, Duration::from_secs(1), |s| !s.jobs.is_empty()).await;
    w.core()
        .finish(vec![result(&first.jobs[0], failed("boom"))]);
    let early = collect(&w, Duration::from_secs(9), |s| !s.jobs.is_empty()).await;
    assert!(
        early.jobs.is_empty(),
        "retried before its backoff: {early:?}"
    );
    assert_eq!(q.state(&id).await.unwrap(), "delayed");
    let again = collect(&w, Duration::from_secs(3), |s| !s.jobs.is_empty()).await;
    assert_eq!(again.jobs.len(), 1, "not retried after its backoff");
    assert_eq!(again.jobs[0]["attemptsMade"], 1);
    assert_eq!(again.jobs[0]["failedReason"], "boom");
    w.core().finish(vec![result(&again.jobs[0], completed())]);
    w.core().close(false).await;
    assert_eq!(q.state(&id).await.unwrap(), "completed");
}

#[tokio::test(start_paused = true)]
async fn a_job_whose_lock_expires_is_recovered_by_another_workers_stalled_check() {
    let q = queue("stalled");
    let id = add(&q, 1, json!({})).await.remove(0);
    let holder = worker(
        &q,
        json!({ "lockDuration": 1000, "skipLockRenewal": true, "skipStalledCheck": true }),
    );
    holder.start();
    let taken = collect(&holder, Duration::from_secs(1), |s| !s.jobs.is_empty()).await;
    assert_eq!(taken.jobs[0]["id"], id.as_str());
    let rescuer = worker(&q, json!({ "stalledInterval": 500 }));
    rescuer.start();
    let seen = collect(&rescuer, Duration::from_secs(5), |s| !s.jobs.is_empty()).await;
    assert_eq!(seen.stalled, vec![id.clone()]);
    assert_eq!(seen.jobs[0]["id"], id.as_str());
    holder.core().close(true).await;
    rescuer.core().close(true).await;
}

#[tokio::test(start_paused = true)]
async fn locks_are_renewed_while_js_beats_and_released_when_it_stops() {
    let q = queue("wedged");
    let id = add(&q, 1, json!({})).await.remove(0);
    let settings = json!({
        "lockDuration": 1000, "lockRenewTime": 200, "eventLoopBlockLimit": 3000,
        "skipStalledCheck": true,
    });
    let holder = worker(&q, settings);
    holder.start();
    let taken = collect(&holder, Duration::from_secs(1), |s| !s.jobs.is_empty()).await;
    assert_eq!(taken.jobs.len(), 1);
    let rescuer = worker(&q, json!({ "stalledInterval": 500 }));
    rescuer.start();
    // A busy but living thread: it beats, the job stays where it is.
    for _ in 0..10 {
        holder.core().alive();
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let meanwhile = collect(&rescuer, Duration::from_millis(10), |_| false).await;
    assert!(
        meanwhile.jobs.is_empty(),
        "taken from a worker that beats: {meanwhile:?}"
    );
    // A wedged thread: no beat for longer than the limit.
    let seen = collect(&rescuer, Duration::from_secs(10), |s| !s.jobs.is_empty()).await;
    assert_eq!(seen.jobs.len(), 1, "never recovered from a silent worker");
    assert_eq!(seen.jobs[0]["id"], id.as_str());
    let told = collect(&holder, Duration::from_millis(10), |_| false).await;
    assert!(
        told.errors.iter().any(|e| e.contains("no sign of life")),
        "the silent worker did not say why: {told:?}"
    );
    holder.core().close(true).await;
    rescuer.core().close(true).await;
}

#[tokio::test(start_paused = true)]
async fn close_waits_for_results_in_flight_then_ends() {
    let q = queue("close");
    let id = add(&q, 1, json!({})).await.remove(0);
    let w = Arc::new(worker(&q, json!({})));
    w.start();
    let taken = collect(&w, Duration::from_secs(1), |s| !s.jobs.is_empty()).await;
    let closing = tokio::spawn({
        let w = w.clone();
        async move { w.core().close(false).await }
    });
    tokio::time::sleep(Duration::from_secs(30)).await;
    assert!(
        !closing.is_finished(),
        "close() returned with a job still active"
    );
    w.core().finish(vec![result(&taken.jobs[0], completed())]);
    tokio::time::timeout(Duration::from_secs(5), closing)
        .await
        .expect("close() did not return once the result was stored")
        .unwrap();
    assert_eq!(q.state(&id).await.unwrap(), "completed");
}

/// The timers (lock renewal, stalled check) end with the loop: sleeping out
/// their period after close, they kept every closed worker's tasks and
/// memory for up to 30 s, hundreds of MB in a process that churns workers.
#[tokio::test(start_paused = true)]
async fn a_closed_worker_leaves_no_task_behind() {
    let q = queue("no-task-left");
    let metrics = tokio::runtime::Handle::current().metrics();
    let before = metrics.num_alive_tasks();
    let w = worker(&q, json!({}));
    w.start();
    assert!(
        metrics.num_alive_tasks() >= before + 3,
        "the loop and its two timers run"
    );
    w.core().close(false).await;
    drop(w);
    // No sleep: paused time would jump to the timers' next turn.
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
    assert_eq!(
        metrics.num_alive_tasks(),
        before,
        "tasks still alive after close"
    );
}

/// A store that can be made unreachable: it refuses every turn with the
/// error a Redis outage gives.
struct Unreachable {
    inner: Arc<dyn WorkerStore>,
    down: AtomicBool,
}

#[async_trait]
impl WorkerStore for Unreachable {
    async fn turn(&self, request: TurnRequest<'_>) -> EngineResult<Turn> {
        if self.down.load(Ordering::SeqCst) {
            return Err(EngineError::Unavailable("Redis is unreachable".into()));
        }
        self.inner.turn(request).await
    }
    fn wait_for_work(&self, timeout: Duration) -> BoxFuture<'static, EngineResult<()>> {
        self.inner.wait_for_work(timeout)
    }
    async fn extend_locks(&self, renewal: &Renewal<'_>) -> EngineResult<Vec<String>> {
        self.inner.extend_locks(renewal).await
    }
    async fn check_stalled(&self, check: &StalledCheck) -> EngineResult<Vec<String>> {
        self.inner.check_stalled(check).await
    }
    fn pacing(&self) -> Pacing {
        self.inner.pacing()
    }
}

#[tokio::test(start_paused = true)]
async fn close_ends_in_bounded_time_when_results_cannot_be_stored() {
    let q = queue("close-unreachable");
    let id = add(&q, 1, json!({})).await.remove(0);
    let store = Arc::new(Unreachable {
        inner: q.worker_store(""),
        down: AtomicBool::new(false),
    });
    let w = Arc::new(worker_on(store.clone(), json!({})));
    w.start();
    let taken = collect(&w, Duration::from_secs(1), |s| !s.jobs.is_empty()).await;
    store.down.store(true, Ordering::SeqCst);
    w.core().finish(vec![result(&taken.jobs[0], completed())]);
    tokio::time::timeout(Duration::from_secs(30), w.core().close(false))
        .await
        .expect("close() did not return while the store was unreachable");
    let told = collect(&w, Duration::from_secs(1), |s| !s.errors.is_empty()).await;
    assert!(
        told.errors
            .iter()
            .any(|e| e.contains("results were not stored")),
        "close did not say what it left behind: {told:?}"
    );
    // The job was not stored as completed: it is still active, for the
    // stalled checker to recover once its lock expires.
    assert_eq!(q.state(&id).await.unwrap(), "active");
}
