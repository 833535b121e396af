//! Scenarios that move single jobs between states (`Job#changeDelay`,
//! `#promote`, `#changePriority`).

use serde_json::{json, Value};

use crate::common::{close, complete, outcome, process, Observed, Queue, PATIENCE};

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
