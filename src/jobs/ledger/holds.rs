//! Reservations: what every process has queued or sent and not yet recorded, kept in the ledger's
//! own database so that the daily budget is one truth across processes (the window and any number
//! of CLI runs). A job's share is checked against the budget and taken in one write transaction
//! (`BEGIN IMMEDIATE`): two processes cannot both fit into the same last dollar.
//!
//! Each process is a *holder*: `<pid>-<start ms>-<random>`, alive while it holds the lock on its
//! file `<data>/holders/<holder>.lock` (the OS drops the lock when the process dies, whatever
//! kills it; a new pid with the same number is another holder). When a ledger opens, the rows of
//! holders that are gone are settled, never dropped: a job that was sent becomes a "maybe billed"
//! charge at its estimate (a resume that learns the real cost replaces it), one never sent is
//! released. Both are said in [`Ledger::notes`].

use std::fs::File;
use std::path::{Path, PathBuf};

use rusqlite::{TransactionBehavior, params};

use super::{Ledger, LedgerError, day_of};
use crate::jobs::budget::{OverBudget, check};
use crate::jobs::journal::now_ms;
use crate::types::JobId;

/// This process as a holder of reservations.
pub(super) struct Holder {
    id: String,
    /// The folder of the holders' lock files (`None`: a ledger in memory, never shared).
    dir: Option<PathBuf>,
    /// Held (locked) for the process's life.
    _lock: Option<File>,
}

impl Holder {
    /// Takes this process's holder lock beside the ledger at `ledger`. When the lock cannot be
    /// taken (a read-only folder, no locks on this file system), the holder still works: its rows
    /// are then settled only once its file can be locked by another process.
    pub(super) fn take(ledger: &Path) -> Holder {
        let id = format!(
            "{}-{}-{}",
            std::process::id(),
            now_ms(),
            std::iter::repeat_with(fastrand::lowercase)
                .take(6)
                .collect::<String>()
        );
        let dir = ledger
            .parent()
            .map_or_else(|| PathBuf::from("holders"), |p| p.join("holders"));
        let lock = std::fs::create_dir_all(&dir)
            .and_then(|()| File::create(dir.join(format!("{id}.lock"))))
            .and_then(|f| f.try_lock().map(|()| f).map_err(std::io::Error::from));
        match lock {
            Ok(f) => Holder {
                id,
                dir: Some(dir),
                _lock: Some(f),
            },
            Err(e) => {
                tracing::warn!(error = %e, "the ledger's holder lock could not be taken; reservations left by a crash of this process are settled only by hand");
                // A name no other process can take for gone (see `gone`): without a lock, nothing
                // tells whether this process still runs.
                Holder {
                    id: format!("nolock_{id}"),
                    dir: Some(dir),
                    _lock: None,
                }
            }
        }
    }

    pub(super) fn in_memory() -> Holder {
        Holder {
            id: format!("memory-{}", std::process::id()),
            dir: None,
            _lock: None,
        }
    }

    /// Whether the process that was `holder` is certainly gone: its lock file is missing, or it
    /// can be locked now. A holder of another shape (not written by us) is never called gone.
    fn gone(&self, holder: &str) -> bool {
        let Some(dir) = &self.dir else {
            return false;
        };
        if holder == self.id
            || holder.is_empty()
            || !holder
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return false;
        }
        let path = dir.join(format!("{holder}.lock"));
        let Ok(f) = File::open(&path) else {
            return !path.exists();
        };
        match f.try_lock() {
            Ok(()) => {
                drop(f);
                let _ = std::fs::remove_file(&path);
                true
            }
            Err(_) => false,
        }
    }
}

impl Drop for Holder {
    fn drop(&mut self) {
        if let (Some(dir), Some(_)) = (&self.dir, &self._lock) {
            let _ = std::fs::remove_file(dir.join(format!("{}.lock", self.id)));
        }
    }
}

/// A job's share, as reserved: what it may cost and what its charge row would say.
#[derive(Debug, Clone, PartialEq)]
pub struct Hold {
    pub job_id: JobId,
    /// The estimate (USD).
    pub amount: f64,
    pub images: u32,
    pub cn_type: String,
    pub api: String,
    /// What one request of it costs, about: the whole estimate on v2 (one request brings every
    /// image), an image's on v1 (one request an image).
    pub per_request: f64,
}

/// What the reservations of every process hold beyond what their jobs have recorded already.
const HELD_SQL: &str = "SELECT COALESCE(SUM(MAX(r.amount - COALESCE(
        (SELECT SUM(c.cost) FROM charges c WHERE c.job_id = r.job_id), 0), 0)), 0)
     FROM reservations r";

impl Ledger {
    /// This process as a holder (what a batch line's claim names), when its lock is held.
    pub fn holder_id(&self) -> Option<&str> {
        self.holder._lock.as_ref().map(|_| self.holder.id.as_str())
    }

    /// Whether the process that was `holder` has certainly stopped.
    pub fn holder_gone(&self, holder: &str) -> bool {
        self.holder.gone(holder)
    }

    /// Takes `hold`'s share when it fits `budget` (none: always), in one transaction with the
    /// check: today's charges (maybe billed ones included) and every process's reservations.
    /// `Ok(Err(_))`: over the budget, nothing taken.
    pub fn reserve(
        &self,
        hold: &Hold,
        budget: Option<f64>,
        what: String,
    ) -> Result<Result<(), OverBudget>, LedgerError> {
        // A process that stopped since this ledger opened (a killed CLI beside a long-lived
        // window) leaves nothing held in its name (what it did is logged).
        if let Err(e) = self.settle_orphans() {
            tracing::warn!(error = %e, "could not settle the reservations of a stopped process");
        }
        let mut conn = self.lock();
        let run = || -> rusqlite::Result<Result<(), OverBudget>> {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            if budget.is_some() {
                let today = chrono::Local::now().date_naive().to_string();
                let spent: f64 = tx.query_row(
                    "SELECT COALESCE(SUM(cost), 0) FROM charges WHERE day = ?1",
                    [today],
                    |r| r.get(0),
                )?;
                let held: f64 = tx.query_row(HELD_SQL, [], |r| r.get(0))?;
                if let Err(over) = check(budget, spent, held, (hold.amount, what)) {
                    return Ok(Err(over));
                }
            }
            tx.execute(
                "INSERT OR REPLACE INTO reservations (job_id, holder, amount, images, cn_type, api, per_request, sent, at_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 0, ?8)",
                params![
                    hold.job_id as i64,
                    self.holder.id,
                    hold.amount,
                    hold.images,
                    hold.cn_type,
                    hold.api,
                    hold.per_request,
                    now_ms() as i64
                ],
            )?;
            tx.commit()?;
            Ok(Ok(()))
        };
        run().map_err(|e| self.sql(e))
    }

    /// What every process holds now beyond what is recorded (USD).
    pub fn held(&self) -> Result<f64, LedgerError> {
        self.lock()
            .query_row(HELD_SQL, [], |r| r.get(0))
            .map_err(|e| self.sql(e))
    }

    /// One more of the job's requests is about to go: from now on its outcome may be a charge.
    pub fn mark_sent(&self, job_id: JobId) -> Result<(), LedgerError> {
        self.lock()
            .execute(
                "UPDATE reservations SET sent = sent + 1, at_ms = ?2 WHERE job_id = ?1",
                params![job_id as i64, now_ms() as i64],
            )
            .map(|_| ())
            .map_err(|e| self.sql(e))
    }

    /// The job ended and everything it cost is recorded (or it was never sent, or not billed).
    pub fn release(&self, job_id: JobId) -> Result<(), LedgerError> {
        self.lock()
            .execute(
                "DELETE FROM reservations WHERE job_id = ?1",
                [job_id as i64],
            )
            .map(|_| ())
            .map_err(|e| self.sql(e))
    }

    /// The job ended with its outcome unknown (no answer, cut off, interrupted): each request it
    /// sent that recorded no charge becomes a "maybe billed" charge at its estimate, counted until
    /// a resume records the real cost (which replaces it); one never sent counts nothing. Returns
    /// the amount counted.
    pub fn settle_maybe(&self, job_id: JobId) -> Result<f64, LedgerError> {
        let mut conn = self.lock();
        let mut run = || -> rusqlite::Result<f64> {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let n = settle_row(&tx, job_id)?;
            tx.execute(
                "DELETE FROM reservations WHERE job_id = ?1",
                [job_id as i64],
            )?;
            tx.commit()?;
            Ok(n)
        };
        run().map_err(|e| self.sql(e))
    }

    /// Settles what holders that are gone left: sent jobs become maybe-billed charges, unsent ones
    /// are released. Returns what to tell the user.
    pub(super) fn settle_orphans(&self) -> Result<Vec<String>, LedgerError> {
        let holders: Vec<String> = {
            let conn = self.lock();
            let mut st = conn
                .prepare("SELECT DISTINCT holder FROM reservations")
                .map_err(|e| self.sql(e))?;
            st.query_map([], |r| r.get(0))
                .and_then(|rows| rows.collect::<rusqlite::Result<_>>())
                .map_err(|e| self.sql(e))?
        };
        let mut notes = Vec::new();
        for h in holders.iter().filter(|h| self.holder.gone(h)) {
            let mut conn = self.lock();
            let mut run = || -> rusqlite::Result<(usize, f64, usize)> {
                let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
                let sent: Vec<i64> = {
                    let mut st = tx.prepare(
                        "SELECT job_id FROM reservations WHERE holder = ?1 AND sent > 0",
                    )?;
                    st.query_map([h], |r| r.get(0))?
                        .collect::<rusqlite::Result<_>>()?
                };
                let (mut counted, mut unknown) = (0.0, 0);
                for id in &sent {
                    let left = settle_row(&tx, *id as JobId)?;
                    if left > 0.0 {
                        counted += left;
                        unknown += 1;
                    }
                }
                let released =
                    tx.execute("DELETE FROM reservations WHERE holder = ?1", [h])? - sent.len();
                tx.commit()?;
                Ok((unknown, counted, released))
            };
            let (unknown, counted, released) = run().map_err(|e| self.sql(e))?;
            tracing::info!(holder = %h, unknown, released, "settled the reservations of a process that stopped");
            // A job whose charge was recorded before the stop needs no word.
            if unknown > 0 {
                let note = format!(
                    "a fluxcn process that stopped without finishing left {unknown} job(s) sent with no outcome known: counted as maybe billed (${counted:.2}, an estimate) until `fluxcn resume` or the Segmind dashboard settles them{}",
                    if released > 0 {
                        format!("; {released} job(s) it had not sent were released")
                    } else {
                        String::new()
                    }
                );
                tracing::warn!("{note}");
                notes.push(note);
            }
        }
        Ok(notes)
    }
}

/// Turns job `job_id`'s reservation into a maybe-billed charge for the requests it sent that
/// recorded nothing (as the next part of the job); returns that amount.
fn settle_row(tx: &rusqlite::Transaction<'_>, job_id: JobId) -> rusqlite::Result<f64> {
    use rusqlite::OptionalExtension as _;
    type Row = (i64, f64, i64, u32, String, String, i64);
    let row: Option<Row> = tx
        .query_row(
            "SELECT r.sent, r.per_request,
                    (SELECT COUNT(*) FROM charges c WHERE c.job_id = r.job_id AND c.maybe = 0),
                    r.images, r.cn_type, r.api, r.at_ms
             FROM reservations r WHERE r.job_id = ?1",
            [job_id as i64],
            |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                ))
            },
        )
        .optional()?;
    let Some((sent, per_request, recorded, images, cn_type, api, at_ms)) = row else {
        return Ok(0.0);
    };
    let unknown = (sent - recorded).max(0);
    if unknown == 0 {
        return Ok(0.0);
    }
    let amount = unknown as f64 * per_request;
    let part: i64 = tx.query_row(
        "SELECT COALESCE(MAX(part) + 1, 0) FROM charges WHERE job_id = ?1",
        [job_id as i64],
        |r| r.get(0),
    )?;
    let at = at_ms.max(0) as u64;
    tx.execute(
        "INSERT OR IGNORE INTO charges (job_id, part, at_ms, day, cost, estimated, request_id, cn_type, images, asked, api, maybe)
         VALUES (?1, ?2, ?3, ?4, ?5, 1, NULL, ?6, 0, ?7, ?8, 1)",
        params![
            job_id as i64,
            part,
            at as i64,
            day_of(at).to_string(),
            amount,
            cn_type,
            images,
            api
        ],
    )?;
    Ok(amount)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hold(job_id: JobId) -> Hold {
        Hold {
            job_id,
            amount: 0.048,
            images: 1,
            cn_type: "depth".into(),
            api: "v1".into(),
            per_request: 0.048,
        }
    }

    #[test]
    fn reservations_are_one_truth_across_processes() {
        let dir = tempfile::tempdir().unwrap();
        let p = Ledger::path_in(dir.path());
        let a = Ledger::open(&p).unwrap();
        let b = Ledger::open(&p).unwrap();
        assert!(
            a.reserve(&hold(1), Some(0.05), "1 image".into())
                .unwrap()
                .is_ok()
        );
        // The other process sees it: the same last dollar cannot be taken twice.
        let over = b
            .reserve(&hold(2), Some(0.05), "1 image".into())
            .unwrap()
            .unwrap_err();
        assert!((over.in_flight - 0.048).abs() < 1e-9, "{over:?}");
        assert!((b.held().unwrap() - 0.048).abs() < 1e-9);
        a.release(1).unwrap();
        assert!(
            b.reserve(&hold(2), Some(0.05), "1 image".into())
                .unwrap()
                .is_ok()
        );
        // A maybe-billed end counts in today's spend, and the real charge replaces it.
        b.mark_sent(2).unwrap();
        assert!((b.settle_maybe(2).unwrap() - 0.048).abs() < 1e-9);
        assert!((a.spent_today().unwrap() - 0.048).abs() < 1e-9);
        assert_eq!(a.spend(chrono::Local::now(), 1).unwrap().maybe_jobs, 1);
        let real = super::super::Charge {
            job_id: 2,
            at_ms: now_ms(),
            cost: 0.05,
            estimated: false,
            request_id: Some("r2".into()),
            cn_type: "depth".into(),
            images: 1,
            asked: 1,
            part: 0,
            api: "v2".into(),
        };
        assert!(a.record(&real).unwrap());
        assert!(!a.record(&real).unwrap(), "recorded twice");
        assert!((a.spent_today().unwrap() - 0.05).abs() < 1e-9);
        assert_eq!(a.spend(chrono::Local::now(), 1).unwrap().maybe_jobs, 0);
    }

    #[test]
    fn what_a_stopped_process_held_is_settled_at_the_next_open_never_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let p = Ledger::path_in(dir.path());
        let a = Ledger::open(&p).unwrap();
        a.reserve(&hold(1), None, String::new()).unwrap().unwrap();
        a.mark_sent(1).unwrap();
        a.reserve(&hold(2), None, String::new()).unwrap().unwrap();
        // A live holder's rows are left alone by another open.
        let b = Ledger::open(&p).unwrap();
        assert!(b.notes().is_empty(), "{:?}", b.notes());
        assert!((b.held().unwrap() - 0.096).abs() < 1e-9);
        drop(b);
        // The process stops without ending its jobs (its lock goes with it).
        drop(a);
        let c = Ledger::open(&p).unwrap();
        assert_eq!(c.notes().len(), 1, "{:?}", c.notes());
        assert!(
            c.notes()[0].contains("left 1 job(s) sent")
                && c.notes()[0].contains("1 job(s) it had not sent"),
            "{:?}",
            c.notes()
        );
        assert!((c.spent_today().unwrap() - 0.048).abs() < 1e-9);
        assert!(c.held().unwrap().abs() < 1e-9);
    }
}
