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
}
