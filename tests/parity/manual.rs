//! Scenarios that take jobs by hand (`Worker::fetch_one`/`finish_one`, as
//! `Worker#getNextJob` does) so that a job's state can be read between two
//! steps without a running loop moving it on.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use bullrush::engine::now_ms;
use bullrush::engine::store::{Reprocess, StalledCheck};
use bullrush::engine::worker::Outcome;

use crate::common::{failure, fetch_one, finish_one, outcome, Observed, Queue};

/// Fails every attempt of a job with `opts`, the only job in the queue;
/// what each attempt's result did to it.
async fn fail_every_attempt(q: &Queue, opts: Value, unrecoverable: bool) -> Vec<Value> {
    let id = q.add("retried", opts).await;
    let w = q.worker(json!({"lockDuration": 10_000}));
    let mut attempts = Vec::new();
    let mut failed_at: Option<(Instant, i64)> = None;
    for attempt in 1..=5 {
        let job = fetch_one(&w, "manual").await.expect("the job comes back");
        assert_eq!(job["id"], id.as_str(), "the queue holds only this job");
        // Promotion is due at failure + delay: never earlier.
        let waited_out =
            failed_at.is_none_or(|(at, delay)| at.elapsed().as_millis() as i64 + 2 >= delay);
        let reason = format!("attempt {attempt} failed");
        // Before the call: the store reads its clock for the due time in it.
        let failing = Instant::now();
        let done = finish_one(&w, &job, failure(&reason, &["at retried"], unrecoverable)).await;
        let after = q.view(&id).await;
        attempts.push(json!({
            "attemptsMade handed over": job.get("attemptsMade"),
            "waited out the backoff": waited_out,
            "done": done,
            "after": after,
        }));
        if after["state"] == "failed" {
            return attempts;
        }
        failed_at = Some((failing, after["delay"].as_i64().unwrap_or(0)));
    }
    panic!("still retried after 5 attempts: {attempts:#?}")
}

pub async fn retries(q: Queue) -> Observed {
    let mut o = Observed::default();
    // One job at a time: each is alone in the queue while it is retried.
    let fixed = json!({"attempts": 3, "backoff": {"type": "fixed", "delay": 50}});
    o.note("fixed backoff", fail_every_attempt(&q, fixed, false).await);
    let exponential = json!({"attempts": 3, "backoff": {"type": "exponential", "delay": 50}});
    o.note(
        "exponential backoff",
        fail_every_attempt(&q, exponential, false).await,
    );
    o.note(
        "no backoff",
        fail_every_attempt(&q, json!({"attempts": 2}), false).await,
    );
    o.note(
        "unrecoverable",
        fail_every_attempt(&q, json!({"attempts": 3}), true).await,
    );
    o.note("counts", q.counts().await);
    o.note("events", q.events().await);
    o
}

fn after(o: &Observed, key: &str, field: &str) -> Vec<Value> {
    o[key]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["after"][field].clone())
        .collect()
}

pub fn expect_retries(o: &Observed) {
    let fixed = "fixed backoff";
    assert_eq!(after(o, fixed, "state"), ["delayed", "delayed", "failed"]);
    // The last attempt ran once promoted, which resets the delay.
    assert_eq!(after(o, fixed, "delay"), [50, 50, 0]);
    assert_eq!(after(o, fixed, "attemptsMade"), [1, 2, 3]);
    assert_eq!(
        after(o, fixed, "failedReason"),
        ["attempt 1 failed", "attempt 2 failed", "attempt 3 failed"]
    );
    assert_eq!(after(o, fixed, "finishedOn"), [false, false, true]);
    assert_eq!(after(o, fixed, "stacktrace"), [1, 1, 1]);
    for key in [fixed, "exponential backoff"] {
        for attempt in o[key].as_array().unwrap() {
            assert_eq!(attempt["waited out the backoff"], true, "{key}: {attempt}");
            assert_eq!(attempt["done"], Value::Null);
        }
    }
    let exponential = "exponential backoff";
    assert_eq!(
        after(o, exponential, "state"),
        ["delayed", "delayed", "failed"]
    );
    assert_eq!(after(o, exponential, "delay"), [50, 100, 0]);
    assert_eq!(after(o, "no backoff", "state"), ["waiting", "failed"]);
    assert_eq!(after(o, "unrecoverable", "state"), ["failed"]);
    assert_eq!(after(o, "unrecoverable", "attemptsMade"), [1]);
    assert_eq!(o["counts"]["failed"], 4);
    let events = o["events"].as_array().unwrap();
    // Attempts were left for the unrecoverable job: its retries are not exhausted.
    assert!(
        !events.contains(&json!("retries-exhausted 4")),
        "{events:?}"
    );
    assert!(events.contains(&json!("retries-exhausted 1")));
}

pub async fn stalled(q: Queue) -> Observed {
    let mut o = Observed::default();
    let short = q.add("short-lock", json!({})).await;
    let long = q.add("long-lock", json!({})).await;
    let w_short = q.worker(json!({"lockDuration": 200}));
    let w_long = q.worker(json!({"lockDuration": 30_000}));
    let taken_short = fetch_one(&w_short, "short").await.expect("a job");
    let taken_long = fetch_one(&w_long, "long").await.expect("a job");
    o.note("taken", [&taken_short["id"], &taken_long["id"]]);
    let checker = q.store.worker_store("");
    let (max_stalled, interval_ms) = (1, 250);
    let check = || async {
        let request = StalledCheck {
            max_stalled,
            interval_ms,
            now: now_ms(),
        };
        checker.check_stalled(&request).await
    };
    // The first pass only marks the active jobs; the second, past the short
    // lock and the interval, recovers the job whose lock expired.
    o.note("first pass", check().await.expect("check_stalled"));
    tokio::time::sleep(Duration::from_millis(400)).await;
    o.note("second pass", check().await.expect("check_stalled"));
    o.note(
        "pass within the interval",
        check().await.expect("check_stalled"),
    );
    o.note("recovered job", q.view(&short).await);
    o.note("locked job", q.view(&long).await);
    // Stalled again: past maxStalledCount it is marked to fail when next taken.
    let again = fetch_one(&w_short, "short-again")
        .await
        .expect("the recovered job");
    o.note("taken again", &again["id"]);
    tokio::time::sleep(Duration::from_millis(300)).await;
    o.note("third pass", check().await.expect("check_stalled"));
    tokio::time::sleep(Duration::from_millis(300)).await;
    o.note("fourth pass", check().await.expect("check_stalled"));
    o.note("job stalled twice", q.view(&short).await);
    let stale = finish_one(
        &w_short,
        &again,
        Outcome::Completed {
            returnvalue: "1".into(),
        },
    )
    .await;
    o.note("result with a lost lock", stale);
    let kept = finish_one(
        &w_long,
        &taken_long,
        Outcome::Completed {
            returnvalue: "2".into(),
        },
    );
    o.note("result with a held lock", kept.await);
    o.note("counts", q.counts().await);
    o.note("events", q.events().await);
    o
}

pub fn expect_stalled(o: &Observed) {
    assert_eq!(o["taken"], json!(["1", "2"]));
    assert_eq!(o["first pass"], json!([]));
    assert_eq!(o["second pass"], json!(["1"]));
    assert_eq!(o["pass within the interval"], json!([]));
    assert_eq!(o["recovered job"]["state"], "waiting");
    assert_eq!(o["recovered job"]["stalledCounter"], 1);
    assert_eq!(o["recovered job"]["deferredFailure"], Value::Null);
    assert_eq!(o["locked job"]["state"], "active");
    assert_eq!(o["taken again"], "1");
    assert_eq!(o["third pass"], json!([]));
    assert_eq!(o["fourth pass"], json!(["1"]));
    assert_eq!(o["job stalled twice"]["stalledCounter"], 2);
    assert_eq!(o["job stalled twice"]["attemptsStarted"], 2);
    assert_eq!(
        o["job stalled twice"]["deferredFailure"],
        "job stalled more than allowable limit"
    );
    assert_eq!(o["result with a lost lock"], "missing-lock");
    assert_eq!(o["result with a held lock"], Value::Null);
    let events = o["events"].as_array().unwrap();
    assert_eq!(events.iter().filter(|e| *e == "stalled 1").count(), 2);
    assert!(!events.contains(&json!("stalled 2")));
}

async fn remove(q: &Queue, id: &str) -> Value {
    outcome(q.store.remove(id).await.expect("remove"))
}

pub async fn remove_locked(q: Queue) -> Observed {
    let mut o = Observed::default();
    let running = q.add("running", json!({})).await;
    let waiting = q.add("waiting", json!({})).await;
    let w = q.worker(json!({}));
    let job = fetch_one(&w, "holder").await.expect("a job");
    o.note("taken", &job["id"]);
    o.note("remove while locked", remove(&q, &running).await);
    o.note("state after the refusal", q.state(&running).await);
    o.note("remove a waiting job", remove(&q, &waiting).await);
    o.note("waiting job exists", q.job(&waiting).await.is_some());
    o.note("remove a missing job", remove(&q, "no-such-job").await);
    let done = finish_one(
        &w,
        &job,
        Outcome::Completed {
            returnvalue: "null".into(),
        },
    )
    .await;
    o.note("finish", done);
    o.note("remove once finished", remove(&q, &running).await);
    o.note("counts", q.counts().await);
    o.note("events", q.events().await);
    o
}

pub fn expect_remove_locked(o: &Observed) {
    assert_eq!(o["taken"], "1");
    assert_eq!(o["remove while locked"], "locked");
    assert_eq!(o["state after the refusal"], "active");
    assert_eq!(o["remove a waiting job"], Value::Null);
    assert_eq!(o["waiting job exists"], false);
    assert_eq!(o["remove a missing job"], "missing-job");
    assert_eq!(o["finish"], Value::Null);
    assert_eq!(o["remove once finished"], Value::Null);
    assert_eq!(o["counts"]["completed"], 0);
    let events = o["events"].as_array().unwrap();
    assert!(events.contains(&json!("removed 2")) && events.contains(&json!("removed 1")));
}

/// `Job#retry` of a job finished as `state`.
async fn retry(q: &Queue, id: &str, state: &str, reset: bool) -> Value {
    let request = Reprocess {
        id,
        state,
        lifo: false,
        reset_attempts_made: reset,
        reset_attempts_started: reset,
    };
    outcome(q.store.reprocess(&request).await.expect("reprocess"))
}

pub async fn reprocess(q: Queue) -> Observed {
    let mut o = Observed::default();
    let id = q.add("again", json!({})).await;
    let w = q.worker(json!({}));
    let job = fetch_one(&w, "first").await.expect("a job");
    o.note(
        "fail",
        finish_one(&w, &job, failure("first try", &["at again"], false)).await,
    );
    o.note(
        "retry the failed job",
        retry(&q, &id, "failed", false).await,
    );
    o.note("after retry", q.view(&id).await);
    o.note(
        "retry it again while waiting",
        retry(&q, &id, "failed", false).await,
    );
    o.note(
        "retry a missing job",
        retry(&q, "no-such-job", "failed", false).await,
    );
    let job = fetch_one(&w, "second").await.expect("the retried job");
    o.note("attemptsMade handed over", job.get("attemptsMade"));
    o.note(
        "complete",
        finish_one(
            &w,
            &job,
            Outcome::Completed {
                returnvalue: "7".into(),
            },
        )
        .await,
    );
    o.note(
        "retry as failed once completed",
        retry(&q, &id, "failed", false).await,
    );
    o.note(
        "retry the completed job, resetting",
        retry(&q, &id, "completed", true).await,
    );
    o.note("after the resetting retry", q.view(&id).await);
    o.note("counts", q.counts().await);
    o.note("events", q.events().await);
    o
}

pub fn expect_reprocess(o: &Observed) {
    assert_eq!(o["retry the failed job"], Value::Null);
    let after = &o["after retry"];
    assert_eq!(after["state"], "waiting");
    assert_eq!(
        (after["failedReason"].clone(), after["finishedOn"].clone()),
        (Value::Null, json!(false))
    );
    assert_eq!(after["processedOn"], false);
    assert_eq!(after["attemptsMade"], 1, "kept unless asked to reset");
    assert_eq!(o["retry it again while waiting"], "not-in-state");
    assert_eq!(o["retry a missing job"], "missing-job");
    assert_eq!(o["attemptsMade handed over"], 1);
    assert_eq!(o["retry as failed once completed"], "not-in-state");
    assert_eq!(o["retry the completed job, resetting"], Value::Null);
    let reset = &o["after the resetting retry"];
    assert_eq!(reset["state"], "waiting");
    assert_eq!(
        (
            reset["attemptsMade"].clone(),
            reset["attemptsStarted"].clone()
        ),
        (json!(0), json!(0))
    );
    assert_eq!(reset["returnvalue"], Value::Null);
    assert_eq!(o["counts"]["waiting"], 1);
}

/// Due times past what a delayed score holds (the binding casts 1e300 to
/// i64::MAX), and one before 1970: both stores keep the far ones delayed
/// and run the past one; none wraps around to now.
pub async fn far_future(q: Queue) -> Observed {
    let mut o = Observed::default();
    let s = &q.store;
    let far = q
        .add(
            "far",
            json!({"timestamp": 8_000_000_000_000_000i64, "delay": 1000}),
        )
        .await;
    let past = q
        .add(
            "past",
            json!({"timestamp": -1_000_000_000_000_000i64, "delay": 1000}),
        )
        .await;
    let changed = q.add("changed", json!({"delay": 60_000})).await;
    o.note(
        "change delay to i64::MAX",
        outcome(s.change_delay(&changed, i64::MAX).await.unwrap()),
    );
    let w = q.worker(json!({"lockDuration": 10_000}));
    let job = fetch_one(&w, "manual").await.expect("a job is due");
    o.note("the only job due", &job["name"]);
    let completed = Outcome::Completed {
        returnvalue: "null".into(),
    };
    o.note("complete it", finish_one(&w, &job, completed).await);
    let retried = q.add("retried", json!({"attempts": 3})).await;
    let job = fetch_one(&w, "manual").await.expect("the job to retry");
    let mut failed = failure("fails", &["at retried"], false);
    if let Outcome::Failed { custom_delay, .. } = &mut failed {
        *custom_delay = Some(i64::MAX);
    }
    o.note(
        "fail with a custom delay of i64::MAX",
        finish_one(&w, &job, failed).await,
    );
    let moved = q.add("moved", json!({})).await;
    let job = fetch_one(&w, "manual").await.expect("the job to move");
    assert_eq!(job["id"], moved.as_str());
    o.note(
        "move to delayed until i64::MAX",
        outcome(s.move_to_delayed(&moved, "manual", i64::MAX).await.unwrap()),
    );
    o.note(
        "a job due afterwards",
        w.fetch_one("manual").await.unwrap().is_some(),
    );
    for (name, id) in [
        ("far", &far),
        ("past", &past),
        ("changed", &changed),
        ("retried", &retried),
        ("moved", &moved),
    ] {
        o.note(&format!("state of {name}"), q.state(id).await);
    }
    o.note("delay of retried", &q.view(&retried).await["delay"]);
    o.note("counts", q.counts().await);
    o.note("events", q.events().await);
    o
}

pub fn expect_far_future(o: &Observed) {
    assert_eq!(o["change delay to i64::MAX"], Value::Null);
    assert_eq!(o["the only job due"], "past");
    assert_eq!(o["fail with a custom delay of i64::MAX"], Value::Null);
    assert_eq!(o["move to delayed until i64::MAX"], Value::Null);
    assert_eq!(o["a job due afterwards"], false);
    for name in ["far", "changed", "retried", "moved"] {
        assert_eq!(o[&format!("state of {name}")], "delayed", "{name}");
    }
    assert_eq!(o["state of past"], "completed");
    // BullMQ keeps the delay asked for; bullrush waits the longest it accepts.
    assert_eq!(
        o["delay of retried"],
        bullrush::engine::options::MAX_DELAY_MS
    );
    assert_eq!(o["counts"]["delayed"], 4);
}
