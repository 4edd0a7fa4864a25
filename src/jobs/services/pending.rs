//! A reply that will arrive later: the one-shot answer to a service call. A panel keeps the
//! [`Pending`] and polls it each frame (like egui's `Promise`); nothing is broadcast, so no other
//! panel has to recognise and skip it.

use tokio::sync::oneshot;

/// The answer to one service call, once it is there.
#[derive(Debug)]
pub struct Pending<T> {
    rx: oneshot::Receiver<T>,
}

/// What polling a [`Pending`] found.
#[derive(Debug, PartialEq)]
pub enum Poll<T> {
    /// Not answered yet.
    Waiting,
    Ready(T),
    /// The service stopped without answering (the runtime is shutting down).
    Lost,
}

impl<T> Pending<T> {
    /// A pending reply and the sender that answers it.
    pub fn channel() -> (oneshot::Sender<T>, Pending<T>) {
        let (tx, rx) = oneshot::channel();
        (tx, Pending { rx })
    }

    /// A reply that is already there (for callers that answer at once).
    pub fn ready(value: T) -> Pending<T> {
        let (tx, p) = Pending::channel();
        // The receiver is alive (it is in `p`), so the send cannot fail.
        let _ = tx.send(value);
        p
    }

    /// Takes the reply if it has arrived. Never blocks.
    pub fn poll(&mut self) -> Poll<T> {
        match self.rx.try_recv() {
            Ok(v) => Poll::Ready(v),
            Err(oneshot::error::TryRecvError::Empty) => Poll::Waiting,
            Err(oneshot::error::TryRecvError::Closed) => Poll::Lost,
        }
    }

    /// Waits for the reply (CLI and tests; never on the UI thread). `None` if it was lost.
    pub fn wait(self) -> Option<T> {
        self.rx.blocking_recv().ok()
    }
}

/// Polls the pending reply in `slot`; once it is answered (or lost) the slot is emptied and the
/// answer returned (`None` inside for a lost reply).
pub fn take<T>(slot: &mut Option<Pending<T>>) -> Option<Option<T>> {
    let p = slot.as_mut()?;
    match p.poll() {
        Poll::Waiting => None,
        Poll::Ready(v) => {
            *slot = None;
            Some(Some(v))
        }
        Poll::Lost => {
            *slot = None;
            Some(None)
        }
    }
}

/// What a reply that will never come is called, wherever the window says so: the background
/// worker (the runtime, or the thread a dialog ran on) stopped before answering.
pub const WORKER_STOPPED: &str = "the background worker has stopped";

/// What the window says when its background worker has stopped and nothing more can be sent.
pub const WORKER_STOPPED_RESTART: &str = "The background worker has stopped: nothing more can be \
     generated. Restart the app (results already saved are in the output folder).";

impl<T: Send + 'static> Pending<T> {
    /// Runs `f` on a thread of its own named `name` (work that blocks a thread, such as a native
    /// file dialog), answers with its result, then calls `wake` (the window repaints). A thread
    /// that cannot start, or that panics, leaves the reply [`Poll::Lost`].
    pub fn spawn(
        name: &str,
        wake: Box<dyn Fn() + Send>,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Pending<T> {
        let (tx, pending) = Pending::channel();
        let spawned = std::thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || {
                // The caller may have stopped waiting; then nobody needs the answer.
                let _ = tx.send(f());
                wake();
            });
        if let Err(e) = spawned {
            tracing::error!(error = %e, thread = name, "could not start a background thread");
        }
        pending
    }
}

/// Pending replies, each with what it answers (a path, an id): one poll takes every answer that
/// has arrived, in the order they were asked, so a panel keeps one set instead of a loop of its own.
#[derive(Debug)]
pub struct PendingSet<K, T> {
    items: Vec<(K, Pending<T>)>,
}

impl<K, T> Default for PendingSet<K, T> {
    fn default() -> Self {
        PendingSet { items: Vec::new() }
    }
}

impl<K, T> PendingSet<K, T> {
    /// Waits for `pending`, the answer about `key`.
    pub fn push(&mut self, key: K, pending: Pending<T>) {
        self.items.push((key, pending));
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether an answer about `key` is awaited.
    pub fn contains(&self, key: &K) -> bool
    where
        K: PartialEq,
    {
        self.items.iter().any(|(k, _)| k == key)
    }

    /// The answers that have arrived (at most `max`; the rest wait for the next poll), each with
    /// its key: `Ok` the answer, `Err` [`WORKER_STOPPED`] when it will never come.
    pub fn ready(&mut self, max: usize) -> Vec<(K, Result<T, &'static str>)> {
        let mut out = Vec::new();
        let mut i = 0;
        while i < self.items.len() && out.len() < max {
            match self.items[i].1.poll() {
                Poll::Waiting => i += 1,
                Poll::Ready(v) => out.push((self.items.remove(i).0, Ok(v))),
                Poll::Lost => out.push((self.items.remove(i).0, Err(WORKER_STOPPED))),
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pending_reply_is_waiting_then_ready_then_gone_from_its_slot() {
        let (tx, p) = Pending::channel();
        let mut slot = Some(p);
        assert_eq!(take(&mut slot), None);
        assert!(slot.is_some());
        tx.send(7).unwrap();
        assert_eq!(take(&mut slot), Some(Some(7)));
        assert!(slot.is_none());
        assert_eq!(take(&mut slot), None);
    }

    #[test]
    fn a_dropped_sender_is_reported_as_lost() {
        let (tx, p) = Pending::<u8>::channel();
        drop(tx);
        let mut slot = Some(p);
        assert_eq!(take(&mut slot), Some(None));
        assert_eq!(Pending::ready(3).wait(), Some(3));
    }

    #[test]
    fn a_set_gives_what_arrived_in_the_order_asked_and_names_what_was_lost() {
        let mut set = PendingSet::default();
        let (a, pa) = Pending::channel();
        let (b, pb) = Pending::<u8>::channel();
        let (c, pc) = Pending::channel();
        set.push("a", pa);
        set.push("b", pb);
        set.push("c", pc);
        assert!(set.ready(10).is_empty());
        c.send(3).unwrap();
        a.send(1).unwrap();
        drop(b);
        assert_eq!(set.ready(1), [("a", Ok(1))]);
        assert_eq!(set.ready(10), [("b", Err(WORKER_STOPPED)), ("c", Ok(3))]);
        assert!(set.is_empty() && !set.contains(&"a"));
    }

    #[test]
    fn a_spawned_reply_arrives_and_wakes() {
        let (woken, rings) = std::sync::mpsc::channel();
        let p = Pending::spawn(
            "fluxcn-test",
            Box::new(move || woken.send(()).unwrap()),
            || 40 + 2,
        );
        assert_eq!(p.wait(), Some(42));
        rings
            .recv_timeout(std::time::Duration::from_secs(10))
            .expect("woken after the answer");
    }
}
