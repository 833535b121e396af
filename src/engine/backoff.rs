//! Retry delays for BullMQ's built-in backoff strategies.

use std::sync::atomic::{AtomicU64, Ordering};

use super::options::{Backoff, MAX_DELAY_MS};

/// What to do with a job whose attempt just failed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Retry {
    /// Retry after this many milliseconds (0: straight back to wait).
    After(i64),
    /// No attempts left, or the error said not to retry.
    Fail,
}

/// `attempts_made` counts the attempt that just failed.
/// `custom_delay` is what the Worker's `backoffStrategy` returned in JS for
/// a custom backoff type (-1 or less means "do not retry").
pub fn decide(
    attempts: i64,
    attempts_made: i64,
    backoff: Option<&Backoff>,
    unrecoverable: bool,
    custom_delay: Option<i64>,
) -> Retry {
    if unrecoverable || attempts_made >= attempts {
        return Retry::Fail;
    }
    let delay = match (backoff, custom_delay) {
        (_, Some(d)) if d < 0 => return Retry::Fail,
        (_, Some(d)) => d,
        (Some(b), None) => delay_for(b, attempts_made, random_unit()),
        (None, None) => 0,
    };
    // Exponential growth, a custom strategy or a job that another client
    // added can ask for more than a delay may be; it waits the longest.
    Retry::After(delay.min(MAX_DELAY_MS))
}

/// The delay before retry number `attempts_made`, with `random` in [0, 1)
/// spreading jittered delays over `[delay * (1 - jitter), delay]`.
pub fn delay_for(backoff: &Backoff, attempts_made: i64, random: f64) -> i64 {
    let (base, jitter) = match backoff {
        Backoff::Fixed { delay, jitter } => (*delay as f64, *jitter),
        Backoff::Exponential { delay, jitter } => {
            let exponent = (attempts_made - 1).clamp(0, 52) as i32;
            (((*delay as f64) * 2f64.powi(exponent)).round(), *jitter)
        }
        Backoff::Custom { delay, .. } => (*delay as f64, 0.0),
    };
    if jitter > 0.0 {
        let min = base * (1.0 - jitter);
        (random * base * jitter + min).floor() as i64
    } else {
        base as i64
    }
}

/// A cheap, thread-safe source of jitter; not for anything that needs real randomness.
fn random_unit() -> f64 {
    static STATE: AtomicU64 = AtomicU64::new(0);
    let mut x = STATE.load(Ordering::Relaxed);
    if x == 0 {
        x = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0x9E37_79B9_7F4A_7C15)
            | 1;
    }
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    STATE.store(x, Ordering::Relaxed);
    (x >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exponential_doubles() {
        let b = Backoff::Exponential {
            delay: 100,
            jitter: 0.0,
        };
        let delays: Vec<i64> = (1..=4).map(|n| delay_for(&b, n, 0.5)).collect();
        assert_eq!(delays, vec![100, 200, 400, 800]);
    }

    #[test]
    fn jitter_stays_in_range() {
        let b = Backoff::Fixed {
            delay: 1000,
            jitter: 0.5,
        };
        assert_eq!(delay_for(&b, 1, 0.0), 500);
        assert_eq!(delay_for(&b, 1, 0.999), 999);
    }

    #[test]
    fn huge_delays_are_clamped_not_wrapped() {
        let fixed = Backoff::Fixed {
            delay: i64::MAX,
            jitter: 0.0,
        };
        assert_eq!(
            decide(3, 1, Some(&fixed), false, None),
            Retry::After(MAX_DELAY_MS)
        );
        let exponential = Backoff::Exponential {
            delay: MAX_DELAY_MS,
            jitter: 0.5,
        };
        assert_eq!(
            decide(100, 60, Some(&exponential), false, None),
            Retry::After(MAX_DELAY_MS)
        );
        assert_eq!(
            decide(3, 1, None, false, Some(i64::MAX)),
            Retry::After(MAX_DELAY_MS)
        );
    }

    #[test]
    fn decide_respects_attempts_and_unrecoverable() {
        let b = Backoff::Fixed {
            delay: 10,
            jitter: 0.0,
        };
        assert_eq!(decide(3, 1, Some(&b), false, None), Retry::After(10));
        assert_eq!(decide(3, 3, Some(&b), false, None), Retry::Fail);
        assert_eq!(decide(3, 1, Some(&b), true, None), Retry::Fail);
        assert_eq!(decide(3, 1, None, false, Some(-1)), Retry::Fail);
        assert_eq!(decide(3, 1, None, false, None), Retry::After(0));
    }
}
