//! How deliveries cross to JS: many merged into one JSON string per `next`.

use super::Delivery;

fn push_json_str(out: &mut String, s: &str) {
    out.push_str(&serde_json::to_string(s).unwrap_or_default());
}

/// `{"jobs":[…],"done":[[id,refusal,action,at,delay]…],"drained":true,"errors":[…],"lost":[…]}`
/// (errors as `EngineError::tagged` writes them)
/// where a refusal is `null` for a stored result, else its name;
/// `None` when the batch says nothing.
pub(crate) fn batch_json(batch: Vec<Delivery>) -> Option<String> {
    let (mut jobs, mut done, mut errors) = (Vec::new(), Vec::new(), Vec::new());
    let (mut lost, mut stalled, mut renewed) = (Vec::new(), Vec::new(), Vec::new());
    let mut drained = false;
    for d in batch {
        match d {
            Delivery::Jobs(j) => jobs.extend(j),
            Delivery::Done(d) => done.extend(d),
            Delivery::Drained => drained = true,
            Delivery::Error(e) => errors.push(e.tagged()),
            Delivery::LocksLost(l) => lost.extend(l),
            Delivery::Stalled(ids) => stalled.extend(ids),
            Delivery::LocksRenewed(ids) => renewed.extend(ids),
        }
    }
    let quiet = jobs.is_empty() && done.is_empty() && errors.is_empty();
    let notices = lost.is_empty() && stalled.is_empty() && renewed.is_empty();
    if quiet && notices && !drained {
        return None;
    }
    let mut out = String::with_capacity(64 + jobs.iter().map(String::len).sum::<usize>());
    out.push_str("{\"jobs\":[");
    out.push_str(&jobs.join(","));
    out.push_str("],\"done\":[");
    for (i, settled) in done.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&settled.to_json());
    }
    out.push(']');
    push_str_list(&mut out, "errors", &errors);
    push_str_list(&mut out, "lost", &lost);
    push_str_list(&mut out, "stalled", &stalled);
    push_str_list(&mut out, "renewed", &renewed);
    out.push_str(&format!(",\"drained\":{drained}}}"));
    Some(out)
}

/// Appends `,"<key>":["…",…]`.
fn push_str_list(out: &mut String, key: &str, items: &[String]) {
    out.push_str(",\"");
    out.push_str(key);
    out.push_str("\":[");
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_json_str(out, item);
    }
    out.push(']');
}
