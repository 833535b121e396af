//! Scenarios that move single jobs between states (`Job#changeDelay`,
//! `#promote`, `#changePriority`, `#moveToDelayed`, `#extendLock`) and
//! whole states at once (`Queue#retryJobs`, `#promoteJobs`).

use std::time::Duration;

use serde_json::{json, Value};

use bullrush::engine::now_ms;
use bullrush::engine::store::BulkMove;

use crate::common::{
    close, complete, failure, fetch_one, finish_one, outcome, process, Observed, Queue, PATIENCE,
};

fn none() -> Value {
    json!({})
}

pub async fn moves(q: Queue) -> Observed {
    let mut o = Observed::default();
    let delayed = q.add("delayed", json!({"delay": 60_000})).await;
    let waiting = q.add("waiting", none()).await;
    let delayed_too = q.add("delayed-too", json!({"delay": 60_000})).await;
    let s = &q.store;
    let missing = "no-such-job";
    o.note(
        "change delay",
        outcome(s.change_delay(&delayed, 120_000).await.unwrap()),
    );
    o.note("delayed job after the change", q.view(&delayed).await);
    o.note(
        "change delay of a waiting job",
        outcome(s.change_delay(&waiting, 100).await.unwrap()),
    );
    o.note(
        "change delay of a missing job",
        outcome(s.change_delay(missing, 100).await.unwrap()),
    );
    o.note("promote", outcome(s.promote(&delayed).await.unwrap()));
    o.note("promoted job", q.view(&delayed).await);
    o.note("promote again", outcome(s.promote(&delayed).await.unwrap()));
    o.note(
        "promote a missing job",
        outcome(s.promote(missing).await.unwrap()),
    );
    o.note(
        "change priority",
        outcome(s.change_priority(&waiting, 5, false).await.unwrap()),
    );
    o.note("reprioritized job", q.view(&waiting).await);
    o.note(
        "change priority of a delayed job",
        outcome(s.change_priority(&delayed_too, 7, false).await.unwrap()),
    );
    o.note("delayed job with a priority", q.view(&delayed_too).await);
    o.note(
        "change priority of a missing job",
        outcome(s.change_priority(missing, 1, false).await.unwrap()),
    );
    o.note(
        "promote the delayed job with a priority",
        outcome(s.promote(&delayed_too).await.unwrap()),
    );
    o.note("counts", q.counts().await);
    o.note("prioritized ids", q.ids("prioritized").await);
    let w = q.worker(json!({"concurrency": 1}));
    let p = process(&w, 3, PATIENCE, |_| complete(Value::Null)).await;
    close(&w).await;
    o.note("order", &p.order);
    o.note("events", q.events().await);
    o
}

pub fn expect_moves(o: &Observed) {
    assert_eq!(o["change delay"], Value::Null);
    assert_eq!(o["delayed job after the change"]["state"], "delayed");
    assert_eq!(o["delayed job after the change"]["delay"], 120_000);
    assert_eq!(o["change delay of a waiting job"], "not-in-state");
    assert_eq!(o["change delay of a missing job"], "missing-job");
    assert_eq!(o["promote"], Value::Null);
    assert_eq!(o["promoted job"]["state"], "waiting");
    assert_eq!(o["promoted job"]["delay"], 0);
    assert_eq!(o["promote again"], "not-in-state");
    assert_eq!(o["promote a missing job"], "missing-job");
    assert_eq!(o["change priority"], Value::Null);
    assert_eq!(o["reprioritized job"]["state"], "prioritized");
    assert_eq!(o["reprioritized job"]["priority"], 5);
    assert_eq!(o["change priority of a delayed job"], Value::Null);
    assert_eq!(o["delayed job with a priority"]["state"], "delayed");
    assert_eq!(o["delayed job with a priority"]["priority"], 7);
    assert_eq!(o["change priority of a missing job"], "missing-job");
    assert_eq!(o["promote the delayed job with a priority"], Value::Null);
    assert_eq!(o["prioritized ids"], json!(["2", "3"]));
    assert_eq!(o["order"], json!(["1", "2", "3"]));
}

pub async fn locks(q: Queue) -> Observed {
    let mut o = Observed::default();
    let held = q.add("held", none()).await;
    let lapsed = q.add("lapsed", none()).await;
    let w = q.worker(json!({"lockDuration": 300}));
    fetch_one(&w, "held-token").await.expect("a job");
    fetch_one(&w, "lapsed-token").await.expect("a job");
    let s = &q.store;
    let extend = |id, token| s.extend_lock(id, token, 1500);
    o.note(
        "extend with the holder's token",
        extend(&held, "held-token").await.unwrap(),
    );
    o.note(
        "extend with another token",
        extend(&held, "other").await.unwrap(),
    );
    o.note(
        "extend a missing job",
        extend("no-such-job", "held-token").await.unwrap(),
    );
    // Past the first lock, within the extended one.
    tokio::time::sleep(Duration::from_millis(500)).await;
    o.note(
        "remove once the first lock ran out",
        outcome(s.remove(&held).await.unwrap()),
    );
    o.note(
        "extend a lapsed lock",
        extend(&lapsed, "lapsed-token").await.unwrap(),
    );
    let due = now_ms() + 60_000;
    let to_delayed = |id, token, due| s.move_to_delayed(id, token, due);
    o.note(
        "move to delayed with another token",
        outcome(to_delayed(&held, "other", due).await.unwrap()),
    );
    o.note(
        "move to delayed",
        outcome(to_delayed(&held, "held-token", due).await.unwrap()),
    );
    let moved = q.view(&held).await;
    let delay = moved["delay"].as_i64().unwrap();
    o.note("delay is the time left", (59_000..=60_000).contains(&delay));
    o.note("state once moved", &moved["state"]);
    o.note(
        "attempts once moved",
        [&moved["attemptsMade"], &moved["attemptsStarted"]],
    );
    o.note(
        "move it again",
        outcome(to_delayed(&held, "held-token", due).await.unwrap()),
    );
    o.note(
        "move a job whose lock lapsed",
        outcome(to_delayed(&lapsed, "lapsed-token", due).await.unwrap()),
    );
    o.note(
        "move a missing job",
        outcome(to_delayed("no-such-job", "x", due).await.unwrap()),
    );
    // Due in the past: due now, so the next fetch takes it.
    let late = q.add("late", none()).await;
    fetch_one(&w, "late-token").await.expect("a job");
    let past = now_ms() - 1000;
    o.note(
        "move to a past time",
        outcome(to_delayed(&late, "late-token", past).await.unwrap()),
    );
    o.note("job moved to a past time", q.view(&late).await);
    o.note(
        "taken next",
        &fetch_one(&w, "again").await.expect("the late job")["id"],
    );
    o.note("counts", q.counts().await);
    o.note("events", q.events().await);
    o
}

pub fn expect_locks(o: &Observed) {
    assert_eq!(o["extend with the holder's token"], true);
    assert_eq!(o["extend with another token"], false);
    assert_eq!(o["extend a missing job"], false);
    assert_eq!(o["remove once the first lock ran out"], "locked");
    assert_eq!(o["extend a lapsed lock"], false);
    assert_eq!(o["move to delayed with another token"], "lock-mismatch");
    assert_eq!(o["move to delayed"], Value::Null);
    assert_eq!(o["delay is the time left"], true);
    assert_eq!(o["state once moved"], "delayed");
    assert_eq!(
        o["attempts once moved"],
        json!([0, 1]),
        "no attempt counted"
    );
    assert_eq!(o["move it again"], "missing-lock");
    assert_eq!(o["move a job whose lock lapsed"], "missing-lock");
    assert_eq!(o["move a missing job"], "missing-job");
    assert_eq!(o["move to a past time"], Value::Null);
    assert_eq!(o["job moved to a past time"]["delay"], 0);
    assert_eq!(o["taken next"], "3");
    assert!(o["events"]
        .as_array()
        .unwrap()
        .contains(&json!("delayed 1")));
}

pub async fn bulk_moves(q: Queue) -> Observed {
    let mut o = Observed::default();
    let w = q.worker(json!({}));
    for _ in 0..3 {
        q.add("fails", none()).await;
        let job = fetch_one(&w, "t").await.expect("a job");
        finish_one(&w, &job, failure("no", &["at fails"], false)).await;
    }
    let later = json!({"delay": 60_000});
    q.add_all(&[("later", none(), later.clone()), ("later", none(), later)])
        .await;
    let bulk = |state, batch, max_score| {
        let store = q.store.clone();
        async move {
            let request = BulkMove {
                state,
                batch,
                max_score,
            };
            store
                .move_jobs_to_wait(&request)
                .await
                .expect("move_jobs_to_wait")
        }
    };
    // Failed jobs are scored by when they failed: none that early.
    bulk("failed", 2, "0").await;
    o.note("counts after moving none", q.counts().await);
    // Two per call: the Redis store needs several calls.
    bulk("failed", 2, "+inf").await;
    o.note("counts after retrying the failed", q.counts().await);
    o.note("a retried job", q.view("1").await);
    bulk("delayed", 1000, "+inf").await;
    o.note("counts after promoting the delayed", q.counts().await);
    o.note("waiting ids", q.ids("waiting").await);
    let w = q.worker(json!({"concurrency": 1}));
    let p = process(&w, 5, PATIENCE, |_| complete(Value::Null)).await;
    close(&w).await;
    o.note("order", &p.order);
    o.note("events", q.events().await);
    o
}

pub fn expect_bulk_moves(o: &Observed) {
    assert_eq!(o["counts after moving none"]["failed"], 3);
    assert_eq!(o["counts after retrying the failed"]["failed"], 0);
    assert_eq!(o["counts after retrying the failed"]["waiting"], 3);
    let retried = &o["a retried job"];
    assert_eq!(retried["failedReason"], Value::Null);
    assert_eq!(
        (
            retried["finishedOn"].clone(),
            retried["processedOn"].clone()
        ),
        (json!(false), json!(false))
    );
    assert_eq!(retried["attemptsMade"], 1);
    assert_eq!(o["counts after promoting the delayed"]["delayed"], 0);
    assert_eq!(o["waiting ids"], json!(["1", "2", "3", "4", "5"]));
    assert_eq!(o["order"], o["waiting ids"]);
}
