//! Scenarios of what holds jobs back: a worker's limiter and the
//! queue-wide concurrency (a meta field).

use std::time::Duration;

use serde_json::{json, Value};

use crate::common::{close, complete, process, ActiveSampler, Observed, Queue, PATIENCE};

fn none() -> Value {
    json!({})
}

fn set_meta(field: &str, value: &str) -> (String, Option<String>) {
    (field.to_string(), Some(value.to_string()))
}

/// When each of `ids` started, in ms.
async fn starts(q: &Queue, ids: &[String]) -> Vec<i64> {
    let mut starts = Vec::new();
    for id in ids {
        let job = q.job(id).await.expect("a started job");
        starts.push(job["processedOn"].as_i64().expect("processedOn"));
    }
    starts
}

/// Groups of start times: starts closer than half a window belong together.
fn start_groups(mut starts: Vec<i64>, window_ms: i64) -> Vec<usize> {
    starts.sort();
    let mut groups: Vec<usize> = Vec::new();
    let mut last = None;
    for at in starts {
        match last {
            Some(prev) if at - prev < window_ms / 2 => *groups.last_mut().unwrap() += 1,
            _ => groups.push(1),
        }
        last = Some(at);
    }
    groups
}

pub async fn limiter(q: Queue) -> Observed {
    let mut o = Observed::default();
    let jobs: Vec<(&str, Value, Value)> = (0..5).map(|_| ("limited", none(), none())).collect();
    let ids = q.add_all(&jobs).await;
    // Concurrency 5: the limiter, not the worker's slots, holds jobs back.
    let w = q.worker(json!({"concurrency": 5, "limiter": {"max": 2, "duration": 500}}));
    let p = process(&w, 5, PATIENCE, |_| complete(Value::Null)).await;
    close(&w).await;
    let starts = starts(&q, &ids).await;
    let first = *starts.iter().min().unwrap();
    let last = *starts.iter().max().unwrap();
    o.note("started in each window", start_groups(starts, 500));
    // Three windows of 500 ms: the last start is at least two windows in.
    o.note("spread over three windows", last - first >= 900);
    o.note("done", p.done.len());
    o.note("worker errors", &p.errors);
    o.note("counts", q.counts().await);
    o
}

pub fn expect_limiter(o: &Observed) {
    let groups = o["started in each window"].as_array().unwrap();
    assert!(
        groups.iter().all(|g| g.as_u64().unwrap() <= 2),
        "{groups:?}"
    );
    assert_eq!(o["started in each window"], json!([2, 2, 1]));
    assert_eq!(o["spread over three windows"], true);
    assert_eq!(o["counts"]["completed"], 5);
}

pub async fn global_concurrency(q: Queue) -> Observed {
    let mut o = Observed::default();
    let set = q
        .store
        .set_meta(&[set_meta("concurrency", "1")])
        .await
        .expect("set_meta");
    o.note("meta fields set", set);
    let jobs: Vec<(&str, Value, Value)> =
        (0..4).map(|_| ("one-at-a-time", none(), none())).collect();
    let ids = q.add_all(&jobs).await;
    let sampler = ActiveSampler::start(q.store.clone());
    let w = q.worker(json!({"concurrency": 5}));
    let p = process(&w, 4, PATIENCE, |_| {
        complete(Value::Null).after(Duration::from_millis(60))
    })
    .await;
    close(&w).await;
    o.note("most active seen by the store", sampler.stop().await);
    o.note("most held by the worker", p.max_in_flight);
    let mut spans = Vec::new();
    for id in &ids {
        let job = q.job(id).await.expect("a job");
        spans.push((job["processedOn"].as_i64(), job["finishedOn"].as_i64()));
    }
    spans.sort();
    let disjoint = spans.windows(2).all(|w| w[1].0 >= w[0].1);
    o.note("runs never overlap", disjoint);
    o.note("order", &p.order);
    o.note("counts", q.counts().await);
    o.note("events", q.events().await);
    o
}

pub fn expect_global_concurrency(o: &Observed) {
    assert_eq!(o["most active seen by the store"], 1);
    assert_eq!(o["most held by the worker"], 1);
    assert_eq!(o["runs never overlap"], true);
    assert_eq!(o["order"], json!(["1", "2", "3", "4"]));
    assert_eq!(o["counts"]["completed"], 4);
}
