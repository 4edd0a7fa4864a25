//! Pacing: one gate shared by all jobs. Two things hold a request back:
//! - **the user's rate** (Settings, `--rate-per-minute`; presets for Segmind's plans: 5 a minute
//!   free, 50 Pro): requests are spaced `60 / rate` seconds apart, a token bucket with a burst of
//!   one;
//! - **the service's "too many requests"** (429): every new request waits until the service's own
//!   wait is over (`Retry-After`, or its rate-limit reset time, capped by the retry policy; a brief
//!   backoff when it names none), so the request it refused goes first. The wait ends there: a 429
//!   does not lower the rate, and nothing is slowed for minutes after one.
//!
//! The UI shows "rate-limited, next try in N s" or "pacing" rather than a failure while a job waits.

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// The slowest rate a user may set.
const MIN_RATE_PER_MINUTE: f64 = 1.0;

/// Segmind's documented limits, offered as presets: (name, requests a minute).
pub const PLAN_RATES: [(&str, f64); 2] = [("Free plan", 5.0), ("Pro plan", 50.0)];

#[derive(Debug)]
struct Bucket {
    /// The user's rate (requests a minute); `None`: not paced.
    rate: Option<f64>,
    /// When the next request may go by the user's rate.
    next_free: Instant,
    /// No new request before this: the service asked to wait.
    held_until: Instant,
}

/// The gate every request passes before it is sent.
#[derive(Debug)]
pub struct Pacer {
    bucket: Mutex<Bucket>,
}

/// Why a request waits at the gate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Held {
    /// The user's rate.
    Rate,
    /// The service said too many requests.
    RateLimited,
}

impl Pacer {
    pub fn new(rate_per_minute: Option<f64>) -> Pacer {
        let now = Instant::now();
        Pacer {
            bucket: Mutex::new(Bucket {
                rate: sanitize(rate_per_minute),
                next_free: now,
                held_until: now,
            }),
        }
    }

    /// The user's rate (requests a minute), `None` when unpaced.
    pub fn rate(&self) -> Option<f64> {
        self.lock().rate
    }

    /// The user's new rate.
    pub fn set_rate(&self, rate_per_minute: Option<f64>) {
        self.lock().rate = sanitize(rate_per_minute);
    }

    /// After a 429: no new request goes before `wait` (the service's wait, as the retry policy
    /// capped it) has passed. The rate is not changed.
    pub fn on_rate_limited(&self, wait: Duration) {
        let mut b = self.lock();
        let until = Instant::now() + wait;
        b.held_until = b.held_until.max(until);
    }

    /// Takes the next slot: how long the caller must wait before sending (zero when free), and
    /// why.
    pub fn reserve(&self) -> (Duration, Held) {
        let mut b = self.lock();
        let now = Instant::now();
        let by_rate = b.next_free.max(now);
        let slot = by_rate.max(b.held_until);
        if let Some(rate) = b.rate {
            b.next_free = slot + Duration::from_secs_f64(60.0 / rate);
        }
        let why = if b.held_until > by_rate {
            Held::RateLimited
        } else {
            Held::Rate
        };
        (slot - now, why)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Bucket> {
        // A poisoned lock only means another thread panicked while holding it; the bucket's fields
        // are always consistent, so keep going with them.
        self.bucket.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn sanitize(r: Option<f64>) -> Option<f64> {
    r.filter(|r| r.is_finite() && *r > 0.0)
        .map(|r| r.max(MIN_RATE_PER_MINUTE))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn the_users_rate_spaces_requests() {
        let p = Pacer::new(Some(60.0));
        assert_eq!(p.reserve(), (Duration::ZERO, Held::Rate));
        assert_eq!(p.reserve(), (Duration::from_secs(1), Held::Rate));
        assert_eq!(p.reserve(), (Duration::from_secs(2), Held::Rate));
        assert_eq!(Pacer::new(Some(f64::NAN)).rate(), None);
        assert_eq!(Pacer::new(Some(0.1)).rate(), Some(1.0));
        let free = Pacer::new(None);
        for _ in 0..40 {
            assert_eq!(free.reserve().0, Duration::ZERO);
        }
    }

    /// A 429 holds every new request for the service's wait, then lets them go at the user's rate
    /// (or at once): the rate itself is never lowered.
    #[tokio::test(start_paused = true)]
    async fn a_429_holds_new_requests_for_its_wait_only() {
        let p = Pacer::new(None);
        assert_eq!(p.reserve().0, Duration::ZERO);
        p.on_rate_limited(Duration::from_secs(3));
        assert_eq!(p.reserve(), (Duration::from_secs(3), Held::RateLimited));
        assert_eq!(p.reserve(), (Duration::from_secs(3), Held::RateLimited));
        // A shorter wait asked later does not cut a longer one short.
        p.on_rate_limited(Duration::from_secs(1));
        assert_eq!(p.reserve().0, Duration::from_secs(3));
        tokio::time::advance(Duration::from_secs(3)).await;
        assert_eq!(
            p.reserve(),
            (Duration::ZERO, Held::Rate),
            "over: nothing slowed"
        );
        assert_eq!(p.rate(), None);

        let paced = Pacer::new(Some(30.0));
        assert_eq!(paced.reserve().0, Duration::ZERO);
        paced.on_rate_limited(Duration::from_secs(5));
        assert_eq!(paced.reserve(), (Duration::from_secs(5), Held::RateLimited));
        // The next one is spaced from the held slot by the user's rate, no more.
        assert_eq!(paced.reserve(), (Duration::from_secs(7), Held::Rate));
        assert_eq!(paced.rate(), Some(30.0));
    }
}
