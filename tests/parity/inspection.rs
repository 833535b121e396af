//! Scenarios of what a queue reports about itself and its jobs: ranges of
//! ids, logs, progress and data, metrics, and the workers attached.

use std::time::Duration;

use serde_json::{json, Value};

use bullrush::engine::store::{JobRange, LogRange, Refusal};

use crate::common::{
    close, complete, fail, failure, fetch_one, finish_one, outcome, process, Observed, Queue,
    PATIENCE,
};

fn none() -> Value {
    json!({})
}

async fn range(q: &Queue, states: &[&str], start: i64, end: i64, asc: bool) -> Vec<String> {
    let states: Vec<String> = states.iter().map(|s| s.to_string()).collect();
    let request = JobRange {
        states: &states,
        start,
        end,
        asc,
    };
    q.store.ranges(&request).await.expect("ranges")
}

pub async fn ranges(q: Queue) -> Observed {
    let mut o = Observed::default();
    let w = q.worker(json!({}));
    q.add_all(&[
        ("a", none(), none()),
        ("b", none(), none()),
        ("c", none(), none()),
    ])
    .await;
    for result in ["done", "done", "failed"] {
        let job = fetch_one(&w, "t").await.expect("a job");
        let outcome = match result {
            "done" => bullrush::engine::worker::Outcome::Completed {
                returnvalue: "null".into(),
            },
            _ => failure("no", &[], false),
        };
        finish_one(&w, &job, outcome).await;
    }
    q.add_all(&[
        ("w1", none(), none()),
        ("w2", none(), none()),
        ("w3", none(), none()),
        ("p5", none(), json!({"priority": 5})),
        ("p1", none(), json!({"priority": 1})),
        ("d60", none(), json!({"delay": 60_000})),
        ("d30", none(), json!({"delay": 30_000})),
    ])
    .await;
    fetch_one(&w, "running").await.expect("a job");
    for state in [
        "waiting",
        "active",
        "delayed",
        "prioritized",
        "completed",
        "failed",
    ] {
        let windows = [
            range(&q, &[state], 0, -1, true).await,
            range(&q, &[state], 0, -1, false).await,
            range(&q, &[state], 1, 1, true).await,
            range(&q, &[state], -1, -1, false).await,
            range(&q, &[state], 5, 10, true).await,
        ];
        o.note(state, windows);
    }
    let several = range(&q, &["completed", "failed", "waiting"], 0, -1, false).await;
    o.note("several states", several);
    let listed = q
        .store
        .jobs_json(&["1".into(), "no-such-job".into(), "3".into()])
        .await
        .expect("jobs_json");
    let listed: Value = serde_json::from_str(&listed).expect("a JSON array");
    let listed: Vec<&Value> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|j| &j["id"])
        .collect();
    o.note("jobs listed, missing ones skipped", listed);
    let per_priority = q.store.counts_per_priority(&[0, 1, 5, 9]).await;
    o.note(
        "counts per priority",
        per_priority.expect("counts_per_priority"),
    );
    o
}

pub fn expect_ranges(o: &Observed) {
    // [all asc, all desc, second asc, last desc, past the end]
    assert_eq!(
        o["waiting"],
        json!([["5", "6"], ["6", "5"], ["6"], ["5"], []])
    );
    assert_eq!(o["active"], json!([["4"], ["4"], [], ["4"], []]));
    assert_eq!(
        o["delayed"],
        json!([["10", "9"], ["9", "10"], ["9"], ["10"], []])
    );
    assert_eq!(
        o["prioritized"],
        json!([["8", "7"], ["7", "8"], ["7"], ["8"], []])
    );
    assert_eq!(
        o["completed"],
        json!([["1", "2"], ["2", "1"], ["2"], ["1"], []])
    );
    assert_eq!(o["failed"], json!([["3"], ["3"], [], ["3"], []]));
    assert_eq!(o["several states"], json!(["2", "1", "3", "6", "5"]));
    assert_eq!(o["jobs listed, missing ones skipped"], json!(["1", "3"]));
    assert_eq!(o["counts per priority"], json!([2, 1, 1, 0]));
}

fn logged(count: Result<i64, Refusal>) -> Value {
    match count {
        Ok(n) => n.into(),
        Err(refusal) => refusal.name().into(),
    }
}

async fn logs(q: &Queue, id: &str, start: i64, end: i64, asc: bool) -> Value {
    let range = LogRange {
        id,
        start,
        end,
        asc,
    };
    let logs = q.store.logs(&range).await.expect("logs");
    json!({"logs": logs.logs, "count": logs.count})
}

pub async fn logs_and_progress(q: Queue) -> Observed {
    let mut o = Observed::default();
    let id = q.add("logged", json!({"keepLogs": 3})).await;
    let s = &q.store;
    let mut counts = Vec::new();
    for row in 1..=5 {
        counts.push(logged(
            s.add_log(&id, &format!("row {row}"), None).await.unwrap(),
        ));
    }
    o.note("log counts", counts);
    o.note(
        "log count when keeping 3",
        logged(s.add_log(&id, "row 6", Some(3)).await.unwrap()),
    );
    // keepLogs 0 keeps every row, as in BullMQ.
    o.note(
        "log count when keeping 0",
        logged(s.add_log(&id, "row 7", Some(0)).await.unwrap()),
    );
    o.note("logs", logs(&q, &id, 0, -1, true).await);
    o.note("newest log", logs(&q, &id, 0, 0, false).await);
    o.note("logs from the second", logs(&q, &id, 1, 5, true).await);
    s.clear_logs(&id, Some(1)).await.expect("clear_logs");
    o.note("logs after keeping 1", logs(&q, &id, 0, -1, true).await);
    s.clear_logs(&id, None).await.expect("clear_logs");
    o.note("logs after clearing", logs(&q, &id, 0, -1, true).await);
    let missing = "no-such-job";
    o.note(
        "log a missing job",
        logged(s.add_log(missing, "row", None).await.unwrap()),
    );
    o.note(
        "logs of a missing job",
        logs(&q, missing, 0, -1, true).await,
    );
    o.note(
        "progress",
        outcome(s.update_progress(&id, "42").await.unwrap()),
    );
    o.note(
        "progress as a number",
        &q.job(&id).await.unwrap()["progress"],
    );
    let object = r#"{"done":3,"of":4}"#;
    o.note(
        "progress again",
        outcome(s.update_progress(&id, object).await.unwrap()),
    );
    o.note(
        "progress as an object",
        &q.job(&id).await.unwrap()["progress"],
    );
    o.note(
        "progress of a missing job",
        outcome(s.update_progress(missing, "1").await.unwrap()),
    );
    o.note(
        "update data",
        outcome(s.update_data(&id, r#"{"new":true}"#).await.unwrap()),
    );
    o.note("data", &q.job(&id).await.unwrap()["data"]);
    o.note(
        "update data of a missing job",
        outcome(s.update_data(missing, "{}").await.unwrap()),
    );
    o.note("events", q.events().await);
    o
}

pub fn expect_logs_and_progress(o: &Observed) {
    assert_eq!(o["log counts"], json!([1, 2, 3, 4, 5]));
    assert_eq!(o["log count when keeping 3"], 3);
    assert_eq!(o["log count when keeping 0"], 4);
    assert_eq!(
        o["logs"],
        json!({"logs": ["row 4", "row 5", "row 6", "row 7"], "count": 4})
    );
    assert_eq!(o["newest log"], json!({"logs": ["row 7"], "count": 4}));
    assert_eq!(
        o["logs from the second"],
        json!({"logs": ["row 5", "row 6", "row 7"], "count": 4})
    );
    assert_eq!(
        o["logs after keeping 1"],
        json!({"logs": ["row 7"], "count": 1})
    );
    assert_eq!(o["logs after clearing"], json!({"logs": [], "count": 0}));
    assert_eq!(o["log a missing job"], "missing-job");
    assert_eq!(o["logs of a missing job"], json!({"logs": [], "count": 0}));
    assert_eq!(o["progress"], Value::Null);
    assert_eq!(o["progress as a number"], 42);
    assert_eq!(o["progress as an object"], json!({"done": 3, "of": 4}));
    assert_eq!(o["progress of a missing job"], "missing-job");
    assert_eq!(o["update data"], Value::Null);
    assert_eq!(o["data"], json!({"new": true}));
    assert_eq!(o["update data of a missing job"], "missing-job");
    assert_eq!(
        o["events"],
        json!(["added 1", "waiting 1", "progress 1", "progress 1"])
    );
}

pub async fn metrics(q: Queue) -> Observed {
    let mut o = Observed::default();
    let jobs: Vec<(&str, Value, Value)> = ["ok", "ok", "ok", "broken"]
        .iter()
        .map(|name| (*name, none(), none()))
        .collect();
    q.add_all(&jobs).await;
    let w = q.worker(json!({"concurrency": 1, "metrics": {"maxDataPoints": 10}}));
    let handler = |job: &Value| match job["name"].as_str() {
        Some("broken") => fail("no", &[]),
        _ => complete(Value::Null),
    };
    process(&w, 4, PATIENCE, handler).await;
    close(&w).await;
    // Data points are per minute: a run may cross one, so only counts compare.
    let count = |state: &'static str| {
        let store = q.store.clone();
        async move {
            let m = store.metrics(state, 0, -1).await.expect("metrics");
            json!({"count": m.count, "since": m.prev_ts > 0, "points": m.total == m.data.len() as i64})
        }
    };
    o.note("completed", count("completed").await);
    o.note("failed", count("failed").await);
    // A worker without the metrics option counts nothing.
    q.add("uncounted", none()).await;
    let w = q.worker(json!({}));
    process(&w, 1, PATIENCE, |_| complete(Value::Null)).await;
    close(&w).await;
    o.note(
        "completed after a worker without metrics",
        count("completed").await,
    );
    o
}

pub fn expect_metrics(o: &Observed) {
    assert_eq!(
        o["completed"],
        json!({"count": 3, "since": true, "points": true})
    );
    assert_eq!(
        o["failed"],
        json!({"count": 1, "since": true, "points": true})
    );
    assert_eq!(
        o["completed after a worker without metrics"],
        o["completed"]
    );
}

/// The attached workers' names, the queue's own part taken out.
async fn worker_names(q: &Queue) -> Vec<String> {
    let base = q.keys.client_name();
    let workers = q.store.workers().await.expect("workers");
    let mut names: Vec<String> = workers
        .iter()
        .filter_map(|fields| fields.iter().find(|(k, _)| k == "name"))
        .map(|(_, name)| name.replacen(&base, "<queue>", 1))
        .collect();
    names.sort();
    names
}

/// The names once there are `count` (Redis lists a worker once its own
/// connection is up, and forgets it once that is closed).
async fn workers_when(q: &Queue, count: usize) -> Vec<String> {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let names = worker_names(q).await;
        if names.len() == count || tokio::time::Instant::now() > deadline {
            return names;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub async fn workers(q: Queue) -> Observed {
    let mut o = Observed::default();
    o.note("before", worker_names(&q).await);
    let named = q.worker(json!({"name": "alpha"}));
    let anonymous = q.worker(json!({}));
    named.start();
    anonymous.start();
    o.note("while running", workers_when(&q, 2).await);
    close(&named).await;
    o.note("once one closed", workers_when(&q, 1).await);
    close(&anonymous).await;
    o.note("once both closed", workers_when(&q, 0).await);
    o
}

pub fn expect_workers(o: &Observed) {
    assert_eq!(o["before"], json!([]));
    assert_eq!(o["while running"], json!(["<queue>", "<queue>:w:alpha"]));
    assert_eq!(o["once one closed"], json!(["<queue>"]));
    assert_eq!(o["once both closed"], json!([]));
}
