//! Pacing: a token bucket shared by all jobs so that a batch stays inside the account's rate limit
//! (about 5 requests a minute on the free tier). The rate can be set by the user and is halved on
//! every 429; the UI shows "pacing" rather than a failure while a job waits for its slot.

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// The slowest rate a 429 can push us to.
const MIN_RATE_PER_MINUTE: f64 = 1.0;
/// The rate assumed after a 429 when the user set none (the free tier's documented limit).
const FALLBACK_RATE_PER_MINUTE: f64 = 5.0;

#[derive(Debug)]
struct Bucket {
    /// Requests a minute; `None`: unpaced.
    rate: Option<f64>,
    /// When the next request may go.
    next_free: Instant,
}

/// A token bucket with a burst of one: requests are spaced `60 / rate` seconds apart.
#[derive(Debug)]
pub struct Pacer {
    bucket: Mutex<Bucket>,
}

impl Pacer {
    pub fn new(rate_per_minute: Option<f64>) -> Pacer {
        Pacer {
            bucket: Mutex::new(Bucket {
                rate: sanitize(rate_per_minute),
                next_free: Instant::now(),
            }),
        }
    }

    /// The current rate (requests a minute), `None` when unpaced.
    pub fn rate(&self) -> Option<f64> {
        self.lock().rate
    }

    pub fn set_rate(&self, rate_per_minute: Option<f64>) {
        self.lock().rate = sanitize(rate_per_minute);
    }

    /// Halves the rate after a 429 (or starts pacing at the free tier's rate).
    pub fn on_rate_limited(&self) {
        let mut b = self.lock();
        b.rate = Some(match b.rate {
            Some(r) => (r / 2.0).max(MIN_RATE_PER_MINUTE),
            None => FALLBACK_RATE_PER_MINUTE,
        });
    }

    /// Takes the next slot: returns how long the caller must wait before sending (zero when free).
    pub fn reserve(&self) -> Duration {
        let mut b = self.lock();
        let now = Instant::now();
        let Some(rate) = b.rate else {
            return Duration::ZERO;
        };
        let slot = b.next_free.max(now);
        b.next_free = slot + Duration::from_secs_f64(60.0 / rate);
        slot - now
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Bucket> {
        // A poisoned lock only means another thread panicked while holding it; the bucket's two
        // fields are always consistent, so keep going with them.
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
    async fn spaces_requests_and_slows_down_on_429() {
        let p = Pacer::new(Some(60.0));
        assert_eq!(p.reserve(), Duration::ZERO);
        assert_eq!(p.reserve(), Duration::from_secs(1));
        assert_eq!(p.reserve(), Duration::from_secs(2));
        p.on_rate_limited();
        assert_eq!(p.rate(), Some(30.0));
        let unpaced = Pacer::new(None);
        assert_eq!(unpaced.reserve(), Duration::ZERO);
        assert_eq!(unpaced.reserve(), Duration::ZERO);
        unpaced.on_rate_limited();
        assert_eq!(unpaced.rate(), Some(5.0));
        for _ in 0..20 {
            unpaced.on_rate_limited();
        }
        assert_eq!(unpaced.rate(), Some(1.0));
        assert_eq!(Pacer::new(Some(f64::NAN)).rate(), None);
    }
}
