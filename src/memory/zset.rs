//! A sorted set ordered as Redis orders one: by score, then by member.

use std::collections::{BTreeSet, HashMap};

#[derive(Default)]
pub struct ZSet {
    order: BTreeSet<(i64, String)>,
    scores: HashMap<String, i64>,
}

impl ZSet {
    pub fn len(&self) -> usize {
        self.scores.len()
    }

    pub fn is_empty(&self) -> bool {
        self.scores.is_empty()
    }

    pub fn contains(&self, member: &str) -> bool {
        self.scores.contains_key(member)
    }

    pub fn insert(&mut self, member: &str, score: i64) {
        if let Some(old) = self.scores.insert(member.to_string(), score) {
            self.order.remove(&(old, member.to_string()));
        }
        self.order.insert((score, member.to_string()));
    }

    pub fn remove(&mut self, member: &str) -> bool {
        match self.scores.remove(member) {
            Some(score) => {
                self.order.remove(&(score, member.to_string()));
                true
            }
            None => false,
        }
    }

    pub fn pop_min(&mut self) -> Option<(i64, String)> {
        let first = self.order.pop_first()?;
        self.scores.remove(&first.1);
        Some(first)
    }

    pub fn first(&self) -> Option<&(i64, String)> {
        self.order.first()
    }

    /// The highest score among members scored in `low..=high`.
    pub fn last_in(&self, low: i64, high: i64) -> Option<i64> {
        self.order
            .range((low, String::new())..)
            .take_while(|(s, _)| *s <= high)
            .last()
            .map(|(s, _)| *s)
    }

    /// Members scored at most `max`, lowest first, at most `limit` of them.
    pub fn up_to(&self, max: i64, limit: usize) -> Vec<String> {
        self.order
            .iter()
            .take_while(|(s, _)| *s <= max)
            .take(limit)
            .map(|(_, m)| m.clone())
            .collect()
    }

    /// Members by rank, as ZRANGE (`asc`) or ZREVRANGE with Redis's
    /// negative-index rules.
    pub fn by_rank(&self, start: i64, end: i64, asc: bool) -> Vec<String> {
        let Some((from, to)) = rank_window(self.len(), start, end) else {
            return Vec::new();
        };
        let take = to - from + 1;
        if asc {
            self.order
                .iter()
                .skip(from)
                .take(take)
                .map(|(_, m)| m.clone())
                .collect()
        } else {
            self.order
                .iter()
                .rev()
                .skip(from)
                .take(take)
                .map(|(_, m)| m.clone())
                .collect()
        }
    }

    pub fn members(&self) -> impl Iterator<Item = &(i64, String)> {
        self.order.iter()
    }

    pub fn clear(&mut self) {
        self.order.clear();
        self.scores.clear();
    }
}

/// Resolves a Redis `start..=end` index pair (negative from the end) over
/// `len` items; `None` when the window is empty.
pub fn rank_window(len: usize, start: i64, end: i64) -> Option<(usize, usize)> {
    let len = len as i64;
    let start = if start < 0 {
        (len + start).max(0)
    } else {
        start
    };
    let end = if end < 0 { len + end } else { end.min(len - 1) };
    if len == 0 || start > end || start >= len {
        return None;
    }
    Some((start as usize, end as usize))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders_by_score_then_member_and_ranks_like_redis() {
        let mut z = ZSet::default();
        z.insert("b", 2);
        z.insert("a", 2);
        z.insert("c", 1);
        z.insert("c", 3);
        assert_eq!(z.by_rank(0, -1, true), ["a", "b", "c"]);
        assert_eq!(z.by_rank(0, 0, false), ["c"]);
        assert_eq!(z.by_rank(-2, -1, true), ["b", "c"]);
        assert_eq!(z.up_to(2, 10), ["a", "b"]);
        assert_eq!(z.last_in(0, 2), Some(2));
        assert_eq!(z.pop_min(), Some((2, "a".into())));
        assert!(z.remove("c"));
        assert_eq!(z.len(), 1);
    }

    #[test]
    fn rank_windows() {
        assert_eq!(rank_window(5, 0, -1), Some((0, 4)));
        assert_eq!(rank_window(5, 3, 100), Some((3, 4)));
        assert_eq!(rank_window(5, -10, 1), Some((0, 1)));
        assert_eq!(rank_window(0, 0, -1), None);
        assert_eq!(rank_window(5, 4, 2), None);
    }
}
