//! The parity suite: every scenario of the table runs on the Redis store
//! (a private redis-server) and on the memory store, and both must observe
//! the same thing; each row also checks what BullMQ would do, so that both
//! stores being wrong the same way still fails.
//!
//! A new store feature joins the table as a row: a scenario that returns
//! what it observed, and the expectations that hold on any store.
//! `PARITY_ONLY=<row>[,<row>…]` runs only the named rows.

mod common;
#[path = "parity/inspection.rs"]
mod inspection;
#[path = "parity/limits.rs"]
mod limits;
#[path = "parity/manual.rs"]
mod manual;
#[path = "parity/moves.rs"]
mod moves;
#[path = "parity/processing.rs"]
mod processing;
#[path = "parity/queue_ops.rs"]
mod queue_ops;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bullrush::engine::store::BoxFuture;
use common::{Backend, Observed, Queue};

struct Row {
    name: &'static str,
    run: fn(Queue) -> BoxFuture<'static, Observed>,
    /// What BullMQ does, checked on each store's observations.
    expect: fn(&Observed),
}

macro_rules! row {
    ($name:literal, $run:path, $expect:path) => {
        Row {
            name: $name,
            run: |q| Box::pin($run(q)),
            expect: $expect,
        }
    };
}

const TABLE: &[Row] = &[
    row!("add", queue_ops::add, queue_ops::expect_add),
    row!(
        "fetch-and-finish",
        processing::fetch_and_finish,
        processing::expect_fetch_and_finish
    ),
    row!("retries", manual::retries, manual::expect_retries),
    row!(
        "retries-in-loop",
        processing::retries_in_loop,
        processing::expect_retries_in_loop
    ),
    row!("delays", processing::delays, processing::expect_delays),
    row!(
        "priorities",
        processing::priorities,
        processing::expect_priorities
    ),
    row!("lifo", processing::lifo, processing::expect_lifo),
    row!("limiter", limits::limiter, limits::expect_limiter),
    row!(
        "global-rate-limit",
        limits::global_rate_limit,
        limits::expect_global_rate_limit
    ),
    row!(
        "rate-limit-key",
        limits::rate_limit_key,
        limits::expect_rate_limit_key
    ),
    row!(
        "global-concurrency",
        limits::global_concurrency,
        limits::expect_global_concurrency
    ),
    row!("stalled", manual::stalled, manual::expect_stalled),
    // parity gap: `trim_events(n)` on a short stream: Redis trims about n
    // (XTRIM MAXLEN ~, as BullMQ does) and so keeps all of 42 events for
    // n = 5, returning 0; the memory store keeps exactly 5, returning 37.
    // The same holds for the events cap (meta's opts.maxLenEvents).
    row!("clean", queue_ops::clean, queue_ops::expect_clean),
    row!("drain", queue_ops::drain, queue_ops::expect_drain),
    row!(
        "obliterate",
        queue_ops::obliterate,
        queue_ops::expect_obliterate
    ),
    row!(
        "pause-resume",
        processing::pause_resume,
        processing::expect_pause_resume
    ),
    row!(
        "remove-on-finish",
        processing::remove_on_finish,
        processing::expect_remove_on_finish
    ),
    row!(
        "remove-locked",
        manual::remove_locked,
        manual::expect_remove_locked
    ),
    row!("reprocess", manual::reprocess, manual::expect_reprocess),
    row!("moves", moves::moves, moves::expect_moves),
    row!("locks", moves::locks, moves::expect_locks),
    row!("bulk-moves", moves::bulk_moves, moves::expect_bulk_moves),
    row!("ranges", inspection::ranges, inspection::expect_ranges),
    row!(
        "logs-and-progress",
        inspection::logs_and_progress,
        inspection::expect_logs_and_progress
    ),
    row!("metrics", inspection::metrics, inspection::expect_metrics),
    row!("workers", inspection::workers, inspection::expect_workers),
    row!("far-future", manual::far_future, manual::expect_far_future),
];

/// Rows run this many at a time: scenarios mostly wait, but timing ones
/// (limiter, stalled) should not compete with the whole table for 2 cores.
const ROWS_AT_ONCE: usize = 4;

fn panic_text(payload: Box<dyn std::any::Any + Send>) -> String {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "a panic without a message".into())
}

/// One row on one store: what it observed, or why it could not finish,
/// and how long it took.
async fn run_on(row: &'static Row, backend: Backend) -> (Result<Observed, String>, Duration) {
    let queue = backend.open(row.name);
    let started = Instant::now();
    let result = tokio::spawn((row.run)(queue))
        .await
        .map_err(|e| match e.try_into_panic() {
            Ok(payload) => format!("panicked: {}", panic_text(payload)),
            Err(e) => format!("did not finish: {e}"),
        });
    (result, started.elapsed())
}

fn check(row: &Row, backend: Backend, observed: &Observed) -> Option<String> {
    catch_unwind(AssertUnwindSafe(|| (row.expect)(observed)))
        .err()
        .map(|p| {
            format!(
                "{}: {} broke an expectation: {}\n{}",
                row.name,
                backend.name(),
                panic_text(p),
                observed.pretty()
            )
        })
}

/// Every failure of one row: a store that could not run it, the stores
/// disagreeing, or a store breaking the row's expectations.
fn judge(
    row: &Row,
    redis: Result<Observed, String>,
    memory: Result<Observed, String>,
) -> Vec<String> {
    let mut failures = Vec::new();
    match (&redis, &memory) {
        (Ok(r), Ok(m)) if r != m => failures.push(format!(
            "{}: the stores differ\n{}\nredis saw:\n{}\nmemory saw:\n{}",
            row.name,
            r.diff(m),
            r.pretty(),
            m.pretty()
        )),
        _ => {}
    }
    for (backend, result) in [(Backend::Redis, &redis), (Backend::Memory, &memory)] {
        match result {
            Ok(observed) => failures.extend(check(row, backend, observed)),
            Err(e) => failures.push(format!("{}: on {} it {e}", row.name, backend.name())),
        }
    }
    failures
}

#[test]
fn every_scenario_observes_the_same_on_redis_and_in_memory() {
    let names: Vec<&str> = TABLE.iter().map(|r| r.name).collect();
    for (i, name) in names.iter().enumerate() {
        assert!(
            !names[..i].contains(name),
            "row '{name}' is in the table twice"
        );
    }
    let only = std::env::var("PARITY_ONLY").ok();
    let wanted = |row: &Row| {
        only.as_deref()
            .is_none_or(|o| o.split(',').any(|n| n.trim() == row.name))
    };
    let rows: Vec<&'static Row> = TABLE.iter().filter(|r| wanted(r)).collect();
    assert!(
        !rows.is_empty(),
        "PARITY_ONLY={only:?} names no row of {names:?}"
    );
    // Fails here, with the reason, when redis-server cannot be started.
    common::redis_url();
    let started = Instant::now();
    let failures = common::run(async move {
        let slots = Arc::new(tokio::sync::Semaphore::new(ROWS_AT_ONCE));
        let mut runs = tokio::task::JoinSet::new();
        for (i, row) in rows.into_iter().enumerate() {
            let slots = slots.clone();
            runs.spawn(async move {
                let _slot = slots
                    .acquire_owned()
                    .await
                    .expect("the semaphore stays open");
                let ((redis, on_redis), (memory, in_memory)) =
                    tokio::join!(run_on(row, Backend::Redis), run_on(row, Backend::Memory));
                eprintln!(
                    "parity: {} took {on_redis:.1?} on redis, {in_memory:.1?} in memory",
                    row.name
                );
                (i, judge(row, redis, memory))
            });
        }
        let mut judged = runs.join_all().await;
        judged.sort_by_key(|(i, _)| *i);
        judged.into_iter().flat_map(|(_, f)| f).collect::<Vec<_>>()
    });
    eprintln!("parity: the table took {:.1?}", started.elapsed());
    assert!(
        failures.is_empty(),
        "{} parity failures:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}
