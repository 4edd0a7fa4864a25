//! Pacing: a token bucket shared by all jobs so that a batch stays inside the account's rate limit
//! (about 5 requests a minute on the free tier, 50 on Pro). The user may set a rate; a 429 halves
//! the current rate (from the rate actually observed when none was set), and each success raises it
//! again up to the user's rate (additive increase, multiplicative decrease): by one request a
//! minute, or by 1 % of the user's rate when that is more, so that coming back from a halving takes
//! about fifty successes whatever the rate.
//! The UI shows "pacing" rather than a failure while a job waits for its slot.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// The slowest rate a 429 can push us to.
const MIN_RATE_PER_MINUTE: f64 = 1.0;
/// Above this an automatically paced (no user rate) bucket goes back to unpaced.
const UNPACED_AGAIN_AT: f64 = 600.0;

#[derive(Debug)]
struct Bucket {
    /// The user's ceiling (requests a minute); `None`: no ceiling.
    ceiling: Option<f64>,
    /// The current rate; `None`: unpaced.
    rate: Option<f64>,
    /// When the next request may go.
    next_free: Instant,
    /// When the requests of the last minute went out.
    recent: VecDeque<Instant>,
}

/// A token bucket with a burst of one: requests are spaced `60 / rate` seconds apart.
#[derive(Debug)]
pub struct Pacer {
    bucket: Mutex<Bucket>,
}

impl Pacer {
    pub fn new(rate_per_minute: Option<f64>) -> Pacer {
        let r = sanitize(rate_per_minute);
        Pacer {
            bucket: Mutex::new(Bucket {
                ceiling: r,
                rate: r,
                next_free: Instant::now(),
                recent: VecDeque::new(),
            }),
        }
    }

    /// The current rate (requests a minute), `None` when unpaced.
    pub fn rate(&self) -> Option<f64> {
        self.lock().rate
    }

    /// The user's new rate (also the new ceiling).
    pub fn set_rate(&self, rate_per_minute: Option<f64>) {
        let mut b = self.lock();
        b.ceiling = sanitize(rate_per_minute);
        b.rate = b.ceiling;
    }

    /// Halves the rate after a 429: the current rate, or the rate observed over the last minute.
    pub fn on_rate_limited(&self) {
        let mut b = self.lock();
        let now = Instant::now();
        prune(&mut b.recent, now);
        let observed = b.recent.len() as f64;
        let base = b.rate.unwrap_or(observed.max(2.0));
        b.rate = Some((base / 2.0).max(MIN_RATE_PER_MINUTE));
    }

    /// A request went through: raise the rate by one a minute (or 1 % of the ceiling when that
    /// is more), up to the ceiling.
    pub fn on_success(&self) {
        let mut b = self.lock();
        let Some(r) = b.rate else { return };
        let step = b.ceiling.map_or(1.0, |c| (c / 100.0).max(1.0));
        let raised = r + step;
        b.rate = match b.ceiling {
            Some(c) => Some(raised.min(c)),
            None if raised >= UNPACED_AGAIN_AT => None,
            None => Some(raised),
        };
    }

    /// Takes the next slot: returns how long the caller must wait before sending (zero when free).
    pub fn reserve(&self) -> Duration {
        let mut b = self.lock();
        let now = Instant::now();
        prune(&mut b.recent, now);
        let Some(rate) = b.rate else {
            b.recent.push_back(now);
            return Duration::ZERO;
        };
        let slot = b.next_free.max(now);
        b.next_free = slot + Duration::from_secs_f64(60.0 / rate);
        b.recent.push_back(slot);
        slot - now
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Bucket> {
        // A poisoned lock only means another thread panicked while holding it; the bucket's fields
        // are always consistent, so keep going with them.
        self.bucket.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn prune(recent: &mut VecDeque<Instant>, now: Instant) {
    while recent
        .front()
        .is_some_and(|t| now.saturating_duration_since(*t) > Duration::from_secs(60))
    {
        recent.pop_front();
    }
    while recent.len() > 10_000 {
        recent.pop_front();
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
    async fn spaces_requests_halves_on_429_and_recovers() {
        let p = Pacer::new(Some(60.0));
        assert_eq!(p.reserve(), Duration::ZERO);
        assert_eq!(p.reserve(), Duration::from_secs(1));
        assert_eq!(p.reserve(), Duration::from_secs(2));
        p.on_rate_limited();
        assert_eq!(p.rate(), Some(30.0));
        p.on_success();
        assert_eq!(p.rate(), Some(31.0));
        for _ in 0..100 {
            p.on_success();
        }
        assert_eq!(p.rate(), Some(60.0), "never above the user's rate");
        // A high ceiling comes back in steps of 1 % of it.
        let p = Pacer::new(Some(1000.0));
        p.on_rate_limited();
        assert_eq!(p.rate(), Some(500.0));
        p.on_success();
        assert_eq!(p.rate(), Some(510.0));
        assert_eq!(Pacer::new(Some(f64::NAN)).rate(), None);
    }

    #[tokio::test(start_paused = true)]
    async fn unpaced_starts_pacing_from_the_observed_rate() {
        let p = Pacer::new(None);
        for _ in 0..40 {
            assert_eq!(p.reserve(), Duration::ZERO);
        }
        p.on_rate_limited();
        assert_eq!(
            p.rate(),
            Some(20.0),
            "half of the 40 sent in the last minute"
        );
        for _ in 0..20 {
            p.on_rate_limited();
        }
        assert_eq!(p.rate(), Some(1.0));
        for _ in 0..700 {
            p.on_success();
        }
        assert_eq!(p.rate(), None, "back to unpaced");
    }
}
