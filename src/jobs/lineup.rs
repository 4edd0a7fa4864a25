//! The line of jobs waiting to be sent (issue 26): the order the queue shows is the order they go.
//! A job joins at submission (at the back, or at the front for "Generate next"), waits until it is
//! first in line, nothing is paused and a concurrency permit is free, then leaves the line and is
//! sent. Pausing holds every job still in line (those in flight finish); reordering and replacing
//! act on the line alone. Every change wakes the waiting jobs (each checks its place again) and is
//! reported as [`Event::Lineup`](super::types::Event::Lineup).

use std::sync::{Arc, Mutex};

use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;

use super::runtime::{JobEnd, Shared};
use super::types::{Event, FailureKind, JobFailure, JobId};

/// The line and its waiters.
#[derive(Default)]
pub(super) struct Lineup {
    inner: Mutex<Inner>,
    changed: Notify,
}

#[derive(Default)]
struct Inner {
    paused: bool,
    waiting: Vec<JobId>,
}

impl Lineup {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Joins the line: at `at` (clamped), or at the back.
    pub(super) fn join(&self, id: JobId, at: Option<usize>) {
        {
            let mut l = self.lock();
            l.waiting.retain(|w| *w != id);
            let at = at.unwrap_or(l.waiting.len()).min(l.waiting.len());
            l.waiting.insert(at, id);
        }
        self.changed.notify_waiters();
    }

    /// Leaves the line (sent, or cancelled while waiting).
    pub(super) fn leave(&self, id: JobId) {
        let left = {
            let mut l = self.lock();
            let before = l.waiting.len();
            l.waiting.retain(|w| *w != id);
            l.waiting.len() != before
        };
        if left {
            self.changed.notify_waiters();
        }
    }

    /// Where `id` stands in line.
    pub(super) fn position(&self, id: JobId) -> Option<usize> {
        self.lock().waiting.iter().position(|w| *w == id)
    }

    /// Holds (or lets go) every job still in line.
    pub(super) fn set_paused(&self, paused: bool) {
        self.lock().paused = paused;
        self.changed.notify_waiters();
    }

    /// Puts the waiting jobs named in `order` first, in that order; the others keep theirs, after
    /// them. Ids not in line are ignored.
    pub(super) fn reorder(&self, order: &[JobId]) {
        {
            let mut l = self.lock();
            let mut next: Vec<JobId> = order
                .iter()
                .copied()
                .filter(|id| l.waiting.contains(id))
                .collect();
            next.dedup();
            let rest: Vec<JobId> = l
                .waiting
                .iter()
                .copied()
                .filter(|id| !next.contains(id))
                .collect();
            next.extend(rest);
            l.waiting = next;
        }
        self.changed.notify_waiters();
    }

    /// Whether the line is paused, and who waits, first first.
    pub(super) fn snapshot(&self) -> (bool, Vec<JobId>) {
        let l = self.lock();
        (l.paused, l.waiting.clone())
    }

    /// May `id` go now: first in line (or not in it) and not paused.
    fn may_go(&self, id: JobId) -> bool {
        let l = self.lock();
        !l.paused && (l.waiting.first() == Some(&id) || !l.waiting.contains(&id))
    }
}

impl Shared {
    /// Tells the UI (or CLI) how the line stands now.
    pub(super) fn lineup_changed(&self) {
        let (paused, waiting) = self.lineup.snapshot();
        self.emit(Event::Lineup { paused, waiting });
    }
}

/// Waits for job `id`'s turn: first in line, not paused, and a permit free. Leaves the line when it
/// goes (or is cancelled: then nothing was sent).
pub(super) async fn wait_turn(
    sh: &Arc<Shared>,
    id: JobId,
    permits: &Arc<Semaphore>,
    cancel: &CancellationToken,
) -> Result<OwnedSemaphorePermit, JobEnd> {
    let gone = |sh: &Arc<Shared>| {
        sh.lineup.leave(id);
        sh.lineup_changed();
    };
    loop {
        let changed = sh.lineup.changed.notified();
        tokio::pin!(changed);
        // Registered before the state is read: a change from here on wakes this job.
        changed.as_mut().enable();
        if sh.lineup.may_go(id) {
            tokio::select! {
                _ = cancel.cancelled() => {
                    gone(sh);
                    return Err(JobEnd::Cancelled { maybe_billed: false });
                }
                p = permits.clone().acquire_owned() => {
                    gone(sh);
                    return p.map_err(|_| JobEnd::Failed(JobFailure {
                        message: "the job runtime is shutting down".into(),
                        kind: FailureKind::Runtime,
                        maybe_billed: false,
                    }));
                }
                _ = &mut changed => {}
            }
        } else {
            tokio::select! {
                _ = cancel.cancelled() => {
                    gone(sh);
                    return Err(JobEnd::Cancelled { maybe_billed: false });
                }
                _ = &mut changed => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_keeps_its_order_and_moves_as_asked() {
        let l = Lineup::default();
        for id in [1, 2, 3, 4] {
            l.join(id, None);
        }
        l.join(9, Some(0));
        assert_eq!(l.snapshot().1, [9, 1, 2, 3, 4]);
        assert!(l.may_go(9) && !l.may_go(1));
        l.reorder(&[3, 77, 1]);
        assert_eq!(
            l.snapshot().1,
            [3, 1, 9, 2, 4],
            "named first, the rest after"
        );
        l.leave(3);
        assert!(l.may_go(1));
        l.set_paused(true);
        assert!(!l.may_go(1), "paused: nobody goes");
        assert!(!l.may_go(55), "not even a job not in line");
        l.set_paused(false);
        assert_eq!(l.position(9), Some(1));
        l.join(5, Some(99));
        assert_eq!(l.snapshot().1, [1, 9, 2, 4, 5]);
    }
}
