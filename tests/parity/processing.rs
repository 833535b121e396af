//! Scenarios that run the engine's worker loop (`Worker::start`) on a store:
//! what is processed, in which order, under which limits.

use std::time::Duration;

use serde_json::{json, Value};

use crate::common::{close, complete, fail, process, Observed, Processed, Queue, PATIENCE};

fn none() -> Value {
    json!({})
}

/// A field of every record a worker was handed, in order.
fn delivered(p: &Processed, field: &str) -> Vec<Value> {
    p.records
        .iter()
        .map(|r| r.get(field).cloned().unwrap_or(Value::Null))
        .collect()
}

pub async fn fetch_and_finish(q: Queue) -> Observed {
    let mut o = Observed::default();
    let ids = q
        .add_all(&[
            ("ok", json!({"n": 1}), none()),
            ("ok", json!({"n": 2}), none()),
            ("broken", none(), none()),
        ])
        .await;
    let w = q.worker(json!({"name": "parity-worker", "concurrency": 1}));
    let p = process(&w, 3, PATIENCE, |job| {
        if job["name"] == "broken" {
            fail("it broke", &["at one", "at two"])
        } else {
            complete(json!({"echo": job["data"]}))
        }
    })
    .await;
    close(&w).await;
    o.note("ids", &ids);
    o.note("order", &p.order);
    o.note("done", &p.done);
    o.note("worker errors", &p.errors);
    o.note(
        "tokens handed over",
        p.records.iter().all(|r| r["token"].is_string()),
    );
    o.note("attemptsMade handed over", delivered(&p, "attemptsMade"));
    o.note("counts", q.counts().await);
    for id in &ids {
        o.note(&format!("job {id}"), q.view(id).await);
    }
    o.note("completed ids", q.ids("completed").await);
    o.note("events", q.events().await);
    o
}

pub fn expect_fetch_and_finish(o: &Observed) {
    assert_eq!(o["order"], o["ids"], "processed in the order added");
    assert_eq!(o["done"].as_array().unwrap().len(), 3);
    assert!(o["done"].as_array().unwrap().iter().all(|d| d[1].is_null()));
    assert_eq!(o["tokens handed over"], true);
    assert_eq!(o["counts"]["completed"], 2);
    assert_eq!(o["counts"]["failed"], 1);
    let ok = &o["job 1"];
    assert_eq!(ok["state"], "completed");
    assert_eq!(ok["returnvalue"], json!({"echo": {"n": 1}}));
    assert_eq!(
        (ok["finishedOn"].clone(), ok["processedOn"].clone()),
        (json!(true), json!(true))
    );
    assert_eq!(
        (ok["attemptsMade"].clone(), ok["attemptsStarted"].clone()),
        (json!(1), json!(1))
    );
    assert_eq!(ok["processedBy"], "parity-worker");
    let broken = &o["job 3"];
    assert_eq!(broken["state"], "failed");
    assert_eq!(broken["failedReason"], "it broke");
    assert_eq!(broken["stacktrace"], 2);
    assert_eq!(broken["finishedOn"], true);
    let events = o["events"].as_array().unwrap();
    assert!(events.contains(&json!("completed 2")) && events.contains(&json!("failed 3")));
}

pub async fn retries_in_loop(q: Queue) -> Observed {
    let mut o = Observed::default();
    let opts = json!({"attempts": 3, "backoff": {"type": "fixed", "delay": 50}});
    let id = q.add("flaky", opts).await;
    let w = q.worker(json!({"drainDelay": 10}));
    let p = process(&w, 3, PATIENCE, |job| {
        let attempt = job.get("attemptsMade").and_then(Value::as_i64).unwrap_or(0) + 1;
        fail(&format!("attempt {attempt} failed"), &["at flaky"])
    })
    .await;
    close(&w).await;
    o.note("order", &p.order);
    o.note("attemptsMade handed over", delivered(&p, "attemptsMade"));
    o.note("failedReason handed over", delivered(&p, "failedReason"));
    o.note("worker errors", &p.errors);
    o.note("job", q.view(&id).await);
    o.note("counts", q.counts().await);
    o.note("events", q.events().await);
    o
}

pub fn expect_retries_in_loop(o: &Observed) {
    assert_eq!(o["order"], json!(["1", "1", "1"]));
    assert_eq!(o["attemptsMade handed over"], json!([null, 1, 2]));
    assert_eq!(
        o["failedReason handed over"],
        json!([null, "attempt 1 failed", "attempt 2 failed"])
    );
    assert_eq!(o["job"]["state"], "failed");
    assert_eq!(o["job"]["attemptsMade"], 3);
    assert_eq!(o["job"]["failedReason"], "attempt 3 failed");
    let events = o["events"].as_array().unwrap();
    let delayed = events.iter().filter(|e| *e == "delayed 1").count();
    assert_eq!(delayed, 2, "delayed between attempts: {events:?}");
    assert_eq!(events.iter().filter(|e| *e == "failed 1").count(), 1);
    assert!(events.contains(&json!("retries-exhausted 1")));
}

pub async fn delays(q: Queue) -> Observed {
    let mut o = Observed::default();
    let later = q.add("later", json!({"delay": 300})).await;
    let now = q.add("now", none()).await;
    o.note("state of the delayed job before", q.state(&later).await);
    o.note("counts before", q.counts().await);
    // A long drainDelay: the worker must wake for the due job by itself.
    let w = q.worker(json!({"drainDelay": 10}));
    let p = process(&w, 2, PATIENCE, |_| complete(Value::Null)).await;
    close(&w).await;
    o.note("order", &p.order);
    let job = q.job(&later).await.expect("the delayed job");
    let waited = job["processedOn"].as_i64().unwrap() - job["timestamp"].as_i64().unwrap();
    o.note("delayed job started after its delay", waited >= 300);
    o.note("delayed job", q.view(&later).await);
    o.note("other job", q.view(&now).await);
    o.note("events", q.events().await);
    o
}

pub fn expect_delays(o: &Observed) {
    assert_eq!(o["state of the delayed job before"], "delayed");
    assert_eq!(o["counts before"]["delayed"], 1);
    assert_eq!(o["order"], json!(["2", "1"]));
    assert_eq!(o["delayed job started after its delay"], true);
    assert_eq!(o["delayed job"]["state"], "completed");
    assert_eq!(
        o["delayed job"]["delay"], 0,
        "a promoted job's delay is reset"
    );
    assert!(o["events"]
        .as_array()
        .unwrap()
        .contains(&json!("delayed 1")));
}

pub async fn priorities(q: Queue) -> Observed {
    let mut o = Observed::default();
    let mut ids = Vec::new();
    for (name, priority) in [("p3", 3), ("p1", 1), ("p2", 2), ("p0", 0), ("p1-later", 1)] {
        ids.push(q.add(name, json!({"priority": priority})).await);
    }
    o.note("counts before", q.counts().await);
    o.note("prioritized ids", q.ids("prioritized").await);
    let w = q.worker(json!({"concurrency": 1}));
    let p = process(&w, ids.len(), PATIENCE, |_| complete(Value::Null)).await;
    close(&w).await;
    let names: Vec<Value> = delivered(&p, "name");
    o.note("order", names);
    o.note("priorities handed over", delivered(&p, "priority"));
    o.note("counts", q.counts().await);
    o.note("events", q.events().await);
    o
}

pub fn expect_priorities(o: &Observed) {
    assert_eq!(o["counts before"]["waiting"], 1);
    assert_eq!(o["counts before"]["prioritized"], 4);
    assert_eq!(o["order"], json!(["p0", "p1", "p1-later", "p2", "p3"]));
    assert_eq!(o["counts"]["completed"], 5);
}

pub async fn lifo(q: Queue) -> Observed {
    let mut o = Observed::default();
    for (name, lifo) in [("a", false), ("b", false), ("c", true), ("d", true)] {
        q.add(name, json!({"lifo": lifo})).await;
    }
    o.note("waiting ids", q.ids("waiting").await);
    let w = q.worker(json!({"concurrency": 1}));
    let p = process(&w, 4, PATIENCE, |_| complete(Value::Null)).await;
    close(&w).await;
    o.note("order", delivered(&p, "name"));
    o.note("events", q.events().await);
    o
}

pub fn expect_lifo(o: &Observed) {
    assert_eq!(o["order"], json!(["d", "c", "a", "b"]));
    assert_eq!(o["waiting ids"], json!(["4", "3", "1", "2"]));
}

pub async fn pause_resume(q: Queue) -> Observed {
    let mut o = Observed::default();
    q.store.set_paused(true).await.expect("pause");
    o.note("paused", q.store.is_paused().await.expect("is_paused"));
    q.add_all(&[("a", none(), none()), ("b", none(), none())])
        .await;
    // A long drainDelay: resuming must wake the sleeping worker.
    let w = q.worker(json!({"concurrency": 1, "drainDelay": 10}));
    let idle = process(&w, 1, Duration::from_millis(700), |_| complete(Value::Null)).await;
    o.note("started while paused", &idle.order);
    o.note("counts while paused", q.counts().await);
    q.store.set_paused(false).await.expect("resume");
    o.note(
        "paused after resume",
        q.store.is_paused().await.expect("is_paused"),
    );
    let p = process(&w, 2, PATIENCE, |_| complete(Value::Null)).await;
    close(&w).await;
    o.note("started after resume", &p.order);
    o.note("counts", q.counts().await);
    o.note("events", q.events().await);
    o
}

pub fn expect_pause_resume(o: &Observed) {
    assert_eq!(o["paused"], true);
    assert_eq!(o["started while paused"], json!([]));
    assert_eq!(o["counts while paused"]["waiting"], 2);
    assert_eq!(o["paused after resume"], false);
    assert_eq!(o["started after resume"], json!(["1", "2"]));
    assert_eq!(o["counts"]["completed"], 2);
    let events = o["events"].as_array().unwrap();
    assert_eq!(events.first(), Some(&json!("paused")));
    assert!(events.contains(&json!("resumed")));
}

pub async fn remove_on_finish(q: Queue) -> Observed {
    let mut o = Observed::default();
    let keep_one = json!({"removeOnComplete": 1});
    let ids = q
        .add_all(&[
            ("keep-newest", none(), keep_one.clone()),
            ("keep-newest", none(), keep_one.clone()),
            ("keep-newest", none(), keep_one),
            ("remove", none(), json!({"removeOnComplete": true})),
            ("worker-default", none(), none()),
            ("fails", none(), json!({"removeOnFail": true})),
        ])
        .await;
    let w = q.worker(json!({"concurrency": 1, "removeOnComplete": {"count": 2}}));
    let p = process(&w, ids.len(), PATIENCE, |job| {
        if job["name"] == "fails" {
            fail("no", &[])
        } else {
            complete(json!(job["name"]))
        }
    })
    .await;
    close(&w).await;
    o.note("order", &p.order);
    o.note("completed ids", q.ids("completed").await);
    let mut kept = Vec::new();
    for id in &ids {
        kept.push(q.job(id).await.is_some());
    }
    o.note("jobs kept", kept);
    o.note("counts", q.counts().await);
    o.note("events", q.events().await);
    o
}

pub fn expect_remove_on_finish(o: &Observed) {
    assert_eq!(o["order"], json!(["1", "2", "3", "4", "5", "6"]));
    assert_eq!(o["completed ids"], json!(["3", "5"]));
    assert_eq!(
        o["jobs kept"],
        json!([false, false, true, false, true, false])
    );
    assert_eq!(o["counts"]["failed"], 0);
    let events = o["events"].as_array().unwrap();
    assert!(events.contains(&json!("completed 4")) && events.contains(&json!("failed 6")));
}
