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
use super::types::{Event, FailureKind, JobFailure, JobId, JobSpec};

/// The line and its waiters.
#[derive(Default)]
pub(super) struct Lineup {
    inner: Mutex<Inner>,
    changed: Notify,
    /// Held while a change is read, written down and reported: two jobs leaving the line at once
    /// report in the order they read it, so the last word is the line as it is.
    reporting: Mutex<()>,
}

#[derive(Default)]
struct Inner {
    paused: bool,
    waiting: Vec<JobId>,
    /// What each waiting job will send (kept on disk by the window, see [`super::waiting`]).
    specs: std::collections::HashMap<JobId, JobSpec>,
}

impl Lineup {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Joins the line with what it will send: at `at` (clamped), or at the back.
    pub(super) fn join(&self, id: JobId, at: Option<usize>, spec: JobSpec) {
        {
            let mut l = self.lock();
            l.specs.insert(id, spec);
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
            l.specs.remove(&id);
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

    /// The waiting jobs with what they will send, first first.
    pub(super) fn waiting_specs(&self) -> Vec<(JobId, JobSpec)> {
        let l = self.lock();
        l.waiting
            .iter()
            .filter_map(|id| l.specs.get(id).map(|s| (*id, s.clone())))
            .collect()
    }

    /// May `id` go now: first in line (or not in it) and not paused.
    fn may_go(&self, id: JobId) -> bool {
        let l = self.lock();
        !l.paused && (l.waiting.first() == Some(&id) || !l.waiting.contains(&id))
    }
}

impl Shared {
    /// Tells the UI (or CLI) how the line stands now, and keeps the window's waiting list on
    /// disk in step (not while shutting down: the jobs stopped then are the ones to restore).
    pub(super) fn lineup_changed(&self) {
        let _order = self
            .lineup
            .reporting
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let (paused, waiting) = self.lineup.snapshot();
        if let Some(store) = &self.waiting
            && !self.shutting_down.load(std::sync::atomic::Ordering::SeqCst)
        {
            // A pasted picture's bytes are written beside the list (once per content).
            let jobs: Vec<_> = self
                .lineup
                .waiting_specs()
                .into_iter()
                .map(|(id, s)| {
                    let mut job = super::runtime::journal_job(id, &s, None);
                    if let crate::types::InputSource::Bytes { name, data } = &s.input
                        && let Some(kept) = store.keep_bytes(name, data)
                    {
                        job.input = Some(crate::types::InputSource::File(kept));
                    }
                    job
                })
                .collect();
            if let Err(e) = store.save(&jobs) {
                tracing::warn!(error = %e, "the waiting list could not be written");
                self.emit(Event::Notice(format!(
                    "The list of waiting jobs ({}) could not be written ({e}): if the app stops now, the jobs not sent yet are not restored next time",
                    store.path().display()
                )));
            }
        }
        self.emit(Event::Lineup { paused, waiting });
    }

    /// The jobs the window left waiting last time come back, paused, in their order: the window
    /// shows them and asks Resume or Discard. A pasted picture's job could not be kept (its
    /// bytes are not written to disk) and is said so.
    pub(super) fn restore_waiting(
        self: &Arc<Self>,
        cfg: &super::types::RuntimeConfig,
        permits: &Arc<tokio::sync::Semaphore>,
    ) {
        let Some(store) = self.waiting.clone() else {
            return;
        };
        for note in store.notes() {
            self.emit(Event::Notice(note.clone()));
        }
        let jobs: Vec<(JobId, JobSpec)> = store
            .take_left()
            .into_iter()
            .filter_map(|j| {
                // A pasted picture kept beside the list comes back as pasted, under its name.
                let input = match j.input? {
                    crate::types::InputSource::File(p) if store.is_kept_input(&p) => {
                        crate::types::InputSource::Bytes {
                            name: j.input_label.clone(),
                            data: Arc::new(std::fs::read(&p).ok()?),
                        }
                    }
                    other => other,
                };
                Some((
                    j.id,
                    JobSpec {
                        input,
                        params: j.params,
                        api: j.api,
                        group: j.group,
                        prompt_template: j.prompt_template,
                        batch: j.batch,
                        framing: j.framing,
                    },
                ))
            })
            .collect();
        if jobs.is_empty() {
            return;
        }
        self.lineup.set_paused(true);
        self.emit(Event::Restored { jobs: jobs.clone() });
        for (id, spec) in jobs {
            super::runtime::submit(self, cfg, permits, id, spec, None);
        }
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
        let spec = || JobSpec {
            input: crate::types::InputSource::Url("https://example.com/a.png".into()),
            params: Default::default(),
            api: Default::default(),
            group: None,
            prompt_template: None,
            batch: None,
            framing: Default::default(),
        };
        for id in [1, 2, 3, 4] {
            l.join(id, None, spec());
        }
        l.join(9, Some(0), spec());
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
        l.join(5, Some(99), spec());
        assert_eq!(l.snapshot().1, [1, 9, 2, 4, 5]);
        let kept: Vec<JobId> = l.waiting_specs().iter().map(|(id, _)| *id).collect();
        assert_eq!(kept, [1, 9, 2, 4, 5], "what is kept on disk is the line");
    }
}
