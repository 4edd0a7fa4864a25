//! The window's one clock: egui's input time (seconds since the app started, monotonic; virtual
//! under egui_kittest, where each step advances it and a test may set it). Every timing the window
//! shows or waits on (a job's running time, a countdown, the Re-run guard, the memory of a 429)
//! reads this, never the wall clock, so tests move time instead of sleeping.

use std::time::Duration;

/// A moment on egui's clock, in seconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, PartialOrd)]
pub struct UiTime(pub f64);

impl UiTime {
    /// The time of the frame `ctx` is drawing.
    pub fn of(ctx: &egui::Context) -> UiTime {
        UiTime(ctx.input(|i| i.time))
    }

    /// How long after `earlier` this is (zero if it is not after it).
    pub fn since(self, earlier: UiTime) -> Duration {
        let secs = self.0 - earlier.0;
        if secs.is_finite() && secs > 0.0 {
            Duration::from_secs_f64(secs.min(1.0e9))
        } else {
            Duration::ZERO
        }
    }

    /// The moment `d` after this one.
    pub fn after(self, d: Duration) -> UiTime {
        UiTime(self.0 + d.as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn differences_never_go_negative_or_overflow() {
        let t = UiTime(10.0);
        assert_eq!(
            t.after(Duration::from_millis(1500)).since(t),
            Duration::from_millis(1500)
        );
        assert_eq!(t.since(t.after(Duration::from_secs(1))), Duration::ZERO);
        assert_eq!(UiTime(f64::NAN).since(t), Duration::ZERO);
        assert!(UiTime(f64::MAX).since(UiTime(0.0)) > Duration::from_secs(1));
    }
}
