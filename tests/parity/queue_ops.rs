//! Scenarios of queue-wide operations and moves of single jobs: adding,
//! cleaning, draining, obliterating, and changing a job's delay or priority.

use std::time::Duration;

use serde_json::{json, Value};

use bullrush::engine::now_ms;
use bullrush::engine::store::Clean;
use bullrush::engine::worker::Outcome;

use crate::common::{
    close, complete, failure, fetch_one, finish_one, process, Observed, Queue, PATIENCE,
};

fn none() -> Value {
    json!({})
}

pub async fn add(q: Queue) -> Observed {
    let mut o = Observed::default();
    let batch = q
        .add_all(&[
            ("a", none(), none()),
            ("b", none(), json!({"timestamp": 1_700_000_000_000i64})),
            (
                "c",
                none(),
                json!({"attempts": 3, "backoff": 1000, "keepLogs": 5}),
            ),
        ])
        .await;
    o.note("batch ids", &batch);
    o.note("custom id", q.add("d", json!({"jobId": "custom-a"})).await);
    o.note(
        "duplicate custom id",
        q.add("d-again", json!({"jobId": "custom-a"})).await,
    );
    // Custom ids use up automatic ones too, as BullMQ's counter does.
    o.note("next automatic id", q.add("e", none()).await);
    let delayed = q.add("f", json!({"delay": 60_000})).await;
    let prioritized = q.add("g", json!({"priority": 4})).await;
    let data = json!({"n": 1, "text": "a \"quote\", a \\ and ü", "list": [1, null]});
    let lifo = q
        .add_all(&[("h", data, json!({"lifo": true}))])
        .await
        .remove(0);
    o.note("counts", q.counts().await);
    o.note("waiting ids", q.ids("waiting").await);
    for id in batch
        .iter()
        .chain([&"custom-a".to_string(), &delayed, &prioritized, &lifo])
    {
        o.note(&format!("job {id}"), q.view(id).await);
    }
    let b = q.job(&batch[1]).await.expect("job b");
    o.note("timestamp given", &b["timestamp"]);
    let c = q.job(&batch[2]).await.expect("job c");
    o.note("options as read back", &c["opts"]);
    o.note(
        "options of a job given none",
        &q.job(&batch[0]).await.expect("job a")["opts"],
    );
    let mut meta = q.store.meta().await.expect("meta");
    meta.sort();
    o.note("meta", meta);
    o.note("state of a missing job", q.state("no-such-job").await);
    o.note("missing job", q.job("no-such-job").await);
    o.note("events", q.events().await);
    o
}

pub fn expect_add(o: &Observed) {
    assert_eq!(o["batch ids"], json!(["1", "2", "3"]));
    assert_eq!(o["custom id"], "custom-a");
    assert_eq!(o["duplicate custom id"], "custom-a");
    assert_eq!(o["next automatic id"], "6");
    assert_eq!(o["counts"]["waiting"], 6);
    assert_eq!(
        (
            o["counts"]["delayed"].clone(),
            o["counts"]["prioritized"].clone()
        ),
        (json!(1), json!(1))
    );
    assert_eq!(
        o["waiting ids"],
        json!(["9", "1", "2", "3", "custom-a", "6"])
    );
    assert_eq!(
        o["job custom-a"]["name"], "d",
        "a duplicate leaves the first job as it was"
    );
    assert_eq!(o["job 7"]["state"], "delayed");
    assert_eq!(o["job 7"]["delay"], 60_000);
    assert_eq!(o["job 8"]["state"], "prioritized");
    assert_eq!(o["job 8"]["priority"], 4);
    assert_eq!(o["job 9"]["data"]["text"], "a \"quote\", a \\ and ü");
    assert_eq!(o["job 1"]["processedOn"], false);
    assert_eq!(o["timestamp given"], 1_700_000_000_000i64);
    let opts = &o["options as read back"];
    assert_eq!(opts["attempts"], 3);
    assert_eq!(opts["keepLogs"], 5);
    assert_eq!(opts["backoff"], json!({"type": "fixed", "delay": 1000}));
    assert_eq!(o["options of a job given none"], json!({"attempts": 0}));
    assert_eq!(o["state of a missing job"], "unknown");
    assert_eq!(o["missing job"], Value::Null);
    let events = o["events"].as_array().unwrap();
    assert!(events.contains(&json!("duplicated custom-a")));
    assert!(events.contains(&json!("delayed 7")));
    assert_eq!(
        events
            .iter()
            .filter(|e| e.as_str().unwrap().starts_with("added"))
            .count(),
        8
    );
}

pub async fn clean(q: Queue) -> Observed {
    let mut o = Observed::default();
    let old = q
        .add_all(&[
            ("old", none(), none()),
            ("old", none(), none()),
            ("old", none(), none()),
        ])
        .await;
    // One at a time: the order of concurrent results is the stores' pacing.
    let w = q.worker(json!({"concurrency": 1}));
    process(&w, 3, PATIENCE, |_| complete(Value::Null)).await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    let cutoff = now_ms();
    tokio::time::sleep(Duration::from_millis(20)).await;
    let recent = q.add("recent", none()).await;
    process(&w, 1, PATIENCE, |_| complete(Value::Null)).await;
    close(&w).await;
    let clean = |state, cutoff_ms, limit| {
        let store = q.store.clone();
        async move {
            let request = Clean {
                state,
                cutoff_ms,
                limit,
            };
            let mut removed = store.clean(&request).await.expect("clean");
            removed.sort();
            removed
        }
    };
    o.note("old ids", &old);
    o.note("cleaned completed", clean("completed", cutoff, 0).await);
    o.note("completed ids", q.ids("completed").await);
    o.note("recent job", q.view(&recent).await);
    // Waiting jobs are aged by the time they were added.
    let long_ago = now_ms() - 60_000;
    let stale = json!({"timestamp": long_ago});
    q.add_all(&[
        ("stale", none(), stale.clone()),
        ("stale", none(), stale),
        ("fresh", none(), none()),
    ])
    .await;
    let wait_cutoff = now_ms() - 30_000;
    o.note(
        "cleaned waiting, at most 1",
        clean("wait", wait_cutoff, 1).await,
    );
    o.note(
        "cleaned waiting, the rest",
        clean("wait", wait_cutoff, 0).await,
    );
    o.note("waiting ids", q.ids("waiting").await);
    // A running job is kept however old.
    let holder = q.worker(json!({}));
    let running = fetch_one(&holder, "holder").await.expect("a job");
    o.note(
        "cleaned active",
        clean("active", now_ms() + 60_000, 0).await,
    );
    o.note("running job", q.view(running["id"].as_str().unwrap()).await);
    o.note("counts", q.counts().await);
    o.note("events", q.events().await);
    o
}

pub fn expect_clean(o: &Observed) {
    assert_eq!(o["cleaned completed"], o["old ids"]);
    assert_eq!(o["completed ids"], json!(["4"]));
    assert_eq!(o["recent job"]["state"], "completed");
    assert_eq!(o["cleaned waiting, at most 1"].as_array().unwrap().len(), 1);
    assert_eq!(o["cleaned waiting, the rest"].as_array().unwrap().len(), 1);
    assert_eq!(o["waiting ids"], json!(["7"]));
    assert_eq!(o["cleaned active"], json!([]));
    assert_eq!(o["running job"]["state"], "active");
    let events = o["events"].as_array().unwrap();
    assert!(events.contains(&json!("cleaned count=3")), "{events:?}");
    assert!(events.contains(&json!("cleaned count=0")));
}

pub async fn drain(q: Queue) -> Observed {
    let mut o = Observed::default();
    let ids = q
        .add_all(&[
            ("waiting", none(), none()),
            ("waiting", none(), none()),
            ("prioritized", none(), json!({"priority": 2})),
            ("delayed", none(), json!({"delay": 60_000})),
        ])
        .await;
    q.store.drain(false).await.expect("drain");
    o.note("counts after drain", q.counts().await);
    let mut left = Vec::new();
    for id in &ids {
        left.push(q.job(id).await.is_some());
    }
    o.note("jobs left after drain", left);
    let more = q.add("waiting", none()).await;
    q.store.drain(true).await.expect("drain with delayed");
    o.note("counts after drain with delayed", q.counts().await);
    o.note(
        "delayed job after drain with delayed",
        q.job(&ids[3]).await.is_some(),
    );
    o.note("job added in between", q.job(&more).await.is_some());
    // A drained queue still works.
    let after = q.add("after", none()).await;
    o.note("job added after", q.view(&after).await);
    o.note("events", q.events().await);
    o
}

pub fn expect_drain(o: &Observed) {
    let counts = &o["counts after drain"];
    assert_eq!(
        (counts["waiting"].clone(), counts["prioritized"].clone()),
        (json!(0), json!(0))
    );
    assert_eq!(counts["delayed"], 1);
    assert_eq!(
        o["jobs left after drain"],
        json!([false, false, false, true])
    );
    let counts = &o["counts after drain with delayed"];
    assert!(
        counts.as_object().unwrap().values().all(|n| *n == 0),
        "{counts}"
    );
    assert_eq!(o["delayed job after drain with delayed"], false);
    assert_eq!(o["job added in between"], false);
    assert_eq!(o["job added after"]["state"], "waiting");
}

pub async fn obliterate(q: Queue) -> Observed {
    let mut o = Observed::default();
    let w = q.worker(json!({}));
    q.add_all(&[("done", none(), none()), ("broken", none(), none())])
        .await;
    let job = fetch_one(&w, "t1").await.expect("a job");
    finish_one(
        &w,
        &job,
        Outcome::Completed {
            returnvalue: "1".into(),
        },
    )
    .await;
    let job = fetch_one(&w, "t2").await.expect("a job");
    finish_one(&w, &job, failure("no", &[], false)).await;
    q.add_all(&[
        ("running", none(), none()),
        ("waiting", none(), none()),
        ("waiting", none(), none()),
        ("delayed", none(), json!({"delay": 60_000})),
        ("prioritized", none(), json!({"priority": 3})),
    ])
    .await;
    let running = fetch_one(&w, "t3").await.expect("a job");
    q.store
        .set_meta(&[("concurrency".to_string(), Some("3".to_string()))])
        .await
        .expect("set_meta");
    q.store.set_paused(true).await.expect("pause");
    o.note("counts before", q.counts().await);
    let refused = q.store.obliterate(false, 1000).await;
    o.note(
        "without force while a job runs",
        refused.err().map(|e| e.kind()),
    );
    o.note("counts after the refusal", q.counts().await);
    // Two jobs per call: the Redis store needs several calls.
    q.store.obliterate(true, 2).await.expect("obliterate");
    o.note("counts after", q.counts().await);
    o.note(
        "running job after",
        q.job(running["id"].as_str().unwrap()).await,
    );
    o.note("meta after", q.store.meta().await.expect("meta"));
    o.note(
        "paused after",
        q.store.is_paused().await.expect("is_paused"),
    );
    o.note("events after", q.events().await);
    // An obliterated queue starts again from scratch.
    o.note("first id after", q.add("new", none()).await);
    o
}

pub fn expect_obliterate(o: &Observed) {
    let before = &o["counts before"];
    assert_eq!(
        (before["active"].clone(), before["completed"].clone()),
        (json!(1), json!(1))
    );
    assert_eq!(o["without force while a job runs"], "JOB");
    assert_eq!(o["counts after the refusal"], o["counts before"]);
    let after = &o["counts after"];
    assert!(
        after.as_object().unwrap().values().all(|n| *n == 0),
        "{after}"
    );
    assert_eq!(o["running job after"], Value::Null);
    assert_eq!(o["meta after"], json!([]));
    assert_eq!(o["paused after"], false);
    assert_eq!(o["events after"], json!([]));
    assert_eq!(o["first id after"], "1");
}
