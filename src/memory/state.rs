//! One in-process queue's data, laid out as the Redis backend lays it out
//! (lists, sorted sets, job hashes, meta, events), so that both backends
//! order, count and report jobs the same way.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};

use super::events::EventLog;
use super::zset::ZSet;
use crate::engine::options::MAX_DUE_AT_MS;

/// Delayed scores carry the due time shifted by 12 bits, as in Redis.
pub const DELAY_UNIT: i64 = 0x1000;
/// Prioritized scores: priority in the high bits, arrival in the low 32.
pub const PRIORITY_UNIT: i64 = 0x1_0000_0000;
/// What `rateLimit` writes to the limiter, as BullMQ does.
pub const RATE_LIMITED: i64 = 9_007_199_254_740_991;
const DEFAULT_EVENTS_CAP: usize = 10_000;

fn push_json_str(out: &mut String, s: &str) {
    if s.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
        out.push('"');
        out.push_str(s);
        out.push('"');
    } else {
        out.push_str(&serde_json::to_string(s).unwrap_or_default());
    }
}

pub struct Lock {
    pub token: String,
    pub expires_at: i64,
}

/// A job hash (same fields as in Redis), its log and its lock.
#[derive(Default)]
pub struct Job {
    pub fields: Vec<(&'static str, String)>,
    pub logs: VecDeque<String>,
    pub lock: Option<Lock>,
}

impl Job {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn int(&self, name: &str) -> i64 {
        self.get(name)
            .and_then(|v| v.parse::<f64>().ok())
            .map(|f| f as i64)
            .unwrap_or(0)
    }

    pub fn set(&mut self, name: &'static str, value: impl Into<String>) {
        let value = value.into();
        match self.fields.iter_mut().find(|(k, _)| *k == name) {
            Some(field) => field.1 = value,
            None => self.fields.push((name, value)),
        }
    }

    pub fn del(&mut self, name: &str) {
        self.fields.retain(|(k, _)| *k != name);
    }

    pub fn incr(&mut self, name: &'static str) -> i64 {
        let n = self.int(name) + 1;
        self.set(name, n.to_string());
        n
    }

    /// The token holding the lock, if the lock has not expired.
    pub fn lock_holder(&self, now: i64) -> Option<&str> {
        self.lock
            .as_ref()
            .filter(|l| l.expires_at > now)
            .map(|l| l.token.as_str())
    }
}

/// A finished state's running count and per-minute data points.
#[derive(Default)]
pub struct Metric {
    pub count: i64,
    pub prev_ts: Option<i64>,
    pub prev_count: i64,
    pub data: VecDeque<i64>,
}

#[derive(Default)]
pub struct Limiter {
    pub count: i64,
    pub expires_at: i64,
}

#[derive(Default)]
pub struct State {
    pub jobs: HashMap<String, Job>,
    /// Index 0 is the list's head (LPUSH side); workers take from the back.
    pub wait: VecDeque<String>,
    pub active: VecDeque<String>,
    pub prioritized: ZSet,
    pub delayed: ZSet,
    pub completed: ZSet,
    pub failed: ZSet,
    pub stalled: HashSet<String>,
    pub stalled_check_until: i64,
    pub id_seq: i64,
    pub priority_seq: i64,
    pub meta: BTreeMap<String, String>,
    pub limiter: Option<Limiter>,
    pub metrics: HashMap<String, Metric>,
    pub events: EventLog,
    /// Set when a job may have become ready: sleeping workers look again.
    pub ready_changed: bool,
}

impl State {
    /// The events cap (meta's `opts.maxLenEvents`, written on first use as
    /// the Redis backend does).
    pub fn events_cap(&mut self) -> usize {
        const FIELD: &str = "opts.maxLenEvents";
        match self.meta.get(FIELD) {
            Some(cap) => cap.parse().unwrap_or(DEFAULT_EVENTS_CAP),
            None => {
                self.meta
                    .insert(FIELD.into(), DEFAULT_EVENTS_CAP.to_string());
                DEFAULT_EVENTS_CAP
            }
        }
    }

    /// Appends an event: `name` then field/value pairs.
    pub fn emit(&mut self, now: i64, name: &str, pairs: &[(&str, &str)]) {
        let cap = self.events_cap();
        let mut json = String::with_capacity(
            32 + pairs
                .iter()
                .map(|(k, v)| k.len() + v.len() + 6)
                .sum::<usize>(),
        );
        json.push_str("[\"event\",");
        push_json_str(&mut json, name);
        for (k, v) in pairs {
            json.push(',');
            push_json_str(&mut json, k);
            json.push(',');
            push_json_str(&mut json, v);
        }
        json.push(']');
        self.events.append(now, json, cap);
    }

    pub fn meta_int(&self, field: &str) -> Option<i64> {
        self.meta.get(field).and_then(|v| v.parse().ok())
    }

    pub fn is_paused(&self) -> bool {
        self.meta.contains_key("paused")
    }

    /// Paused, or at the global concurrency limit: no job may start.
    pub fn is_blocked(&self) -> bool {
        self.is_paused()
            || self
                .meta_int("concurrency")
                .is_some_and(|c| self.active.len() as i64 >= c)
    }

    /// Puts a job where workers take it from.
    pub fn enqueue(&mut self, id: &str, priority: i64, lifo: bool) {
        if priority > 0 {
            self.priority_seq += 1;
            let score = priority * PRIORITY_UNIT + self.priority_seq % PRIORITY_UNIT;
            self.prioritized.insert(id, score);
        } else if lifo {
            self.wait.push_back(id.to_string());
        } else {
            self.wait.push_front(id.to_string());
        }
        self.ready_changed = true;
    }

    /// The delayed score for `due_at`: jobs due in the same millisecond keep
    /// their arrival order.
    fn delayed_score(&self, due_at: i64) -> i64 {
        let low = due_at * DELAY_UNIT;
        let high = (due_at + 1) * DELAY_UNIT - 1;
        match self.delayed.last_in(low, high) {
            None => low,
            Some(last) if last >= high => high,
            Some(last) => last + 1,
        }
    }

    pub fn schedule_delayed(&mut self, now: i64, id: &str, due_at: i64) {
        // Beyond these bounds the score overflows and wraps around: a job
        // due in 71,000 years would run at once (Redis clamps the same).
        let due_at = due_at.clamp(0, MAX_DUE_AT_MS);
        let score = self.delayed_score(due_at);
        self.delayed.insert(id, score);
        self.emit(
            now,
            "delayed",
            &[("jobId", id), ("delay", &due_at.to_string())],
        );
        self.ready_changed = true;
    }

    /// When the next delayed job is due (ms), if any.
    pub fn next_due_at(&self) -> Option<i64> {
        self.delayed.first().map(|(score, _)| score / DELAY_UNIT)
    }

    /// Moves delayed jobs that are due to wait/prioritized.
    pub fn promote_due(&mut self, now: i64) {
        for id in self.delayed.up_to((now + 1) * DELAY_UNIT - 1, 1000) {
            self.delayed.remove(&id);
            let priority = self.jobs.get(&id).map(|j| j.int("priority")).unwrap_or(0);
            self.enqueue(&id, priority, false);
            self.emit(now, "waiting", &[("jobId", &id), ("prev", "delayed")]);
            if let Some(job) = self.jobs.get_mut(&id) {
                job.set("delay", "0");
            }
        }
    }

    /// Milliseconds until the rate limiter lets another job start (0: now).
    pub fn limiter_wait(&mut self, max: Option<i64>, now: i64) -> i64 {
        let Some(max) = max else { return 0 };
        match &self.limiter {
            Some(l) if l.expires_at <= now => {
                self.limiter = None;
                0
            }
            Some(l) if l.count >= max => l.expires_at - now,
            _ => 0,
        }
    }

    /// Counts one started job against the limiter's window.
    pub fn limiter_count(&mut self, window_ms: i64, now: i64) {
        match &mut self.limiter {
            Some(l) if l.expires_at > now => l.count += 1,
            _ => {
                self.limiter = Some(Limiter {
                    count: 1,
                    expires_at: now + window_ms.abs().max(1),
                })
            }
        }
    }

    pub fn take_next_id(&mut self) -> Option<String> {
        if let Some(id) = self.wait.pop_back() {
            self.active.push_front(id.clone());
            return Some(id);
        }
        if let Some((_, id)) = self.prioritized.pop_min() {
            self.active.push_front(id.clone());
            return Some(id);
        }
        self.priority_seq = 0;
        None
    }

    /// Removes `id` from the active list, searching from the oldest end
    /// (LREM -1); false if it was not there.
    pub fn leave_active(&mut self, id: &str) -> bool {
        match self.active.iter().rposition(|a| a == id) {
            Some(i) => {
                self.active.remove(i);
                true
            }
            None => false,
        }
    }

    /// Releases a job's lock if `token` holds it: 0, or -2 no lock, -6
    /// another worker's lock. Token "0" means an unlocked job.
    fn release_lock(&mut self, id: &str, token: &str, now: i64) -> i64 {
        if token == "0" {
            return 0;
        }
        let Some(job) = self.jobs.get_mut(id) else {
            return -1;
        };
        match job.lock_holder(now) {
            Some(held) if held == token => {
                job.lock = None;
                self.stalled.remove(id);
                0
            }
            Some(_) => -6,
            None => -2,
        }
    }

    /// Takes an active job from the worker holding it: 0, or -1 no such
    /// job, -2/-6 lock, -3 not active (the Redis scripts' codes).
    pub fn release_active(&mut self, id: &str, token: &str, now: i64) -> i64 {
        if !self.jobs.contains_key(id) {
            return -1;
        }
        let code = self.release_lock(id, token, now);
        if code < 0 {
            return code;
        }
        if !self.leave_active(id) {
            return -3;
        }
        0
    }

    pub fn finished_set(&mut self, failed: bool) -> &mut ZSet {
        if failed {
            &mut self.failed
        } else {
            &mut self.completed
        }
    }

    /// Applies removeOnComplete/removeOnFail: keep at most `count` (-1: any
    /// number) and none older than `age` seconds (-1: any age).
    pub fn trim_finished(&mut self, failed: bool, count: i64, age: i64, now: i64) {
        let mut drop = Vec::new();
        let set = self.finished_set(failed);
        if age >= 0 {
            drop = set.up_to(now - age * 1000, 1000);
            for id in &drop {
                set.remove(id);
            }
        }
        if count > 0 && set.len() as i64 > count {
            let extra = set.len() - count as usize;
            let oldest = set.by_rank(0, extra as i64 - 1, true);
            for id in &oldest {
                set.remove(id);
            }
            drop.extend(oldest);
        }
        for id in drop {
            self.jobs.remove(&id);
        }
    }

    pub fn emit_drained_if_empty(&mut self, now: i64) {
        if self.wait.is_empty() && self.active.is_empty() && self.prioritized.is_empty() {
            self.emit(now, "drained", &[]);
        }
    }

    /// Removes a job from every list and set; returns the state it was in.
    pub fn unlink(&mut self, id: &str) -> &'static str {
        let mut prev = "unknown";
        if let Some(i) = self.wait.iter().position(|w| w == id) {
            self.wait.remove(i);
            prev = "waiting";
        }
        if self.leave_active(id) {
            prev = "active";
        }
        for (set, name) in [
            (&mut self.delayed, "delayed"),
            (&mut self.prioritized, "prioritized"),
            (&mut self.completed, "completed"),
            (&mut self.failed, "failed"),
        ] {
            if set.remove(id) {
                prev = name;
            }
        }
        prev
    }

    /// BullMQ's per-minute metrics for a finished state.
    pub fn record_metric(&mut self, state: &str, now: i64, max_points: i64) {
        let m = self.metrics.entry(state.to_string()).or_default();
        let count = m.count;
        m.count += 1;
        let Some(prev_ts) = m.prev_ts else {
            m.prev_ts = Some(now);
            m.prev_count = 0;
            return;
        };
        let minutes = (now / 60_000 - prev_ts / 60_000).min(max_points);
        if minutes <= 0 {
            return;
        }
        m.data.push_front(count - m.prev_count);
        for _ in 1..minutes {
            m.data.push_front(0);
        }
        m.data.truncate(max_points.max(0) as usize);
        m.prev_count = count;
        m.prev_ts = Some(now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_keep_one_point_per_elapsed_minute() {
        let mut s = State::default();
        let t0 = 10 * 60_000;
        for _ in 0..5 {
            s.record_metric("completed", t0, 10);
        }
        assert!(s.metrics["completed"].data.is_empty());
        s.record_metric("completed", t0 + 3 * 60_000, 10);
        let m = &s.metrics["completed"];
        assert_eq!(m.count, 6);
        assert_eq!(Vec::from(m.data.clone()), [0, 0, 5]);
    }

    #[test]
    fn delayed_jobs_due_in_one_millisecond_keep_their_order() {
        let mut s = State::default();
        s.schedule_delayed(0, "b", 100);
        s.schedule_delayed(0, "a", 100);
        s.schedule_delayed(0, "c", 99);
        assert_eq!(s.delayed.by_rank(0, -1, true), ["c", "b", "a"]);
        assert_eq!(s.next_due_at(), Some(99));
        s.promote_due(100);
        assert!(s.delayed.is_empty());
    }

    #[test]
    fn far_due_times_stay_in_the_future_and_past_ones_are_due() {
        let mut s = State::default();
        s.schedule_delayed(0, "far", i64::MAX);
        s.schedule_delayed(0, "past", i64::MIN);
        assert_eq!(s.delayed.by_rank(0, -1, true), ["past", "far"]);
        let (far, _) = s.delayed.members().last().unwrap();
        assert_eq!(far / DELAY_UNIT, MAX_DUE_AT_MS);
        s.promote_due(1_700_000_000_000);
        assert_eq!(s.delayed.by_rank(0, -1, true), ["far"]);
    }

    #[test]
    fn priorities_order_before_arrival_and_fifo_lifo_use_the_list_ends() {
        let mut s = State::default();
        s.enqueue("low", 5, false);
        s.enqueue("high", 1, false);
        s.enqueue("first", 0, false);
        s.enqueue("second", 0, false);
        s.enqueue("jumper", 0, true);
        let order: Vec<_> = std::iter::from_fn(|| s.take_next_id()).collect();
        assert_eq!(order, ["jumper", "first", "second", "high", "low"]);
    }

    #[test]
    fn keep_count_trims_the_oldest_finished_jobs() {
        let mut s = State::default();
        for (i, id) in ["a", "b", "c"].iter().enumerate() {
            s.jobs.insert(id.to_string(), Job::default());
            s.completed.insert(id, i as i64);
        }
        s.trim_finished(false, 2, -1, 10);
        assert_eq!(s.completed.by_rank(0, -1, true), ["b", "c"]);
        assert!(!s.jobs.contains_key("a"));
    }
}
