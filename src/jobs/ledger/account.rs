//! The ledger beside the account's own records (issue 25): the request ids it knows, a "maybe
//! billed" row cleared when the account says the request failed, estimates replaced by what the
//! account charged, and charges made elsewhere recorded under a job id derived from their request id.

use std::collections::HashMap;

use rusqlite::params;

use super::{Ledger, LedgerError};
use crate::types::JobId;

/// A charge as the ledger holds it, for setting beside the account's history.
#[derive(Debug, Clone, PartialEq)]
pub struct Known {
    pub job_id: JobId,
    pub part: u32,
    pub at_ms: u64,
    pub cost: f64,
    pub estimated: bool,
    /// A "maybe billed" row: counted at its estimate, outcome unknown.
    pub maybe: bool,
}

/// The job id of a charge made elsewhere (the playground, another machine): derived from its
/// request id, so importing it twice records it once. The top bit keeps it apart from our own ids
/// (milliseconds since the epoch and counters, far below 2^62).
pub fn foreign_job_id(request_id: &str) -> JobId {
    // FNV-1a: stable across builds and platforms (std's hasher is not).
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in request_id.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    (1 << 62) | (h >> 2)
}

impl Ledger {
    /// Every charge that names a request id, recorded since `since_ms`, by request id.
    pub fn known_requests(&self, since_ms: u64) -> Result<HashMap<String, Known>, LedgerError> {
        let conn = self.lock();
        let mut st = conn
            .prepare(
                "SELECT request_id, job_id, part, at_ms, cost, estimated, maybe FROM charges
                 WHERE request_id IS NOT NULL AND at_ms >= ?1",
            )
            .map_err(|e| self.sql(e))?;
        let rows = st
            .query_map([since_ms as i64], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    Known {
                        job_id: r.get::<_, i64>(1)? as JobId,
                        part: r.get(2)?,
                        at_ms: r.get::<_, i64>(3)? as u64,
                        cost: r.get(4)?,
                        estimated: r.get(5)?,
                        maybe: r.get(6)?,
                    },
                ))
            })
            .and_then(|rows| rows.collect::<rusqlite::Result<HashMap<_, _>>>())
            .map_err(|e| self.sql(e))?;
        Ok(rows)
    }

    /// The account says the job's request failed: its "maybe billed" rows go (nothing was paid).
    /// Returns the amount no longer counted.
    pub fn clear_maybe(&self, job_id: JobId) -> Result<f64, LedgerError> {
        let conn = self.lock();
        let amount: f64 = conn
            .query_row(
                "SELECT COALESCE(SUM(cost), 0) FROM charges WHERE job_id = ?1 AND maybe = 1",
                [job_id as i64],
                |r| r.get(0),
            )
            .map_err(|e| self.sql(e))?;
        conn.execute(
            "DELETE FROM charges WHERE job_id = ?1 AND maybe = 1",
            [job_id as i64],
        )
        .map_err(|e| self.sql(e))?;
        Ok(amount)
    }

    /// Replaces the cost recorded for `request_id` by what the account charged (an estimate, or
    /// a figure the answer got wrong). Returns whether a row changed.
    /// A hostile figure (beyond what `images` images can cost) changes nothing.
    pub fn set_real_cost(
        &self,
        request_id: &str,
        cost: f64,
        images: u32,
    ) -> Result<bool, LedgerError> {
        let Some(cost) = crate::api::plausible_cost(cost, images) else {
            return Ok(false);
        };
        let n = self
            .lock()
            .execute(
                "UPDATE charges SET cost = ?2, estimated = 0, maybe = 0
                 WHERE request_id = ?1 AND (estimated = 1 OR maybe = 1 OR abs(cost - ?2) > 1e-6)",
                params![request_id, cost],
            )
            .map_err(|e| self.sql(e))?;
        Ok(n > 0)
    }
}

/// A "maybe billed" row: a job sent whose outcome is unknown.
#[derive(Debug, Clone, PartialEq)]
pub struct Maybe {
    pub job_id: JobId,
    pub at_ms: u64,
    pub cn_type: String,
    pub cost: f64,
}

impl Ledger {
    /// The "maybe billed" rows recorded since `since_ms`.
    pub fn maybe_rows(&self, since_ms: u64) -> Result<Vec<Maybe>, LedgerError> {
        let conn = self.lock();
        let mut st = conn
            .prepare(
                "SELECT job_id, at_ms, cn_type, cost FROM charges WHERE maybe = 1 AND at_ms >= ?1",
            )
            .map_err(|e| self.sql(e))?;
        st.query_map([since_ms as i64], |r| {
            Ok(Maybe {
                job_id: r.get::<_, i64>(0)? as JobId,
                at_ms: r.get::<_, i64>(1)? as u64,
                cn_type: r.get(2)?,
                cost: r.get(3)?,
            })
        })
        .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
        .map_err(|e| self.sql(e))
    }
}

impl Ledger {
    /// How many jobs a running process (this one or another) has sent and not yet recorded: while
    /// there are any, a charge just made may still be recorded by them.
    pub fn live_sends(&self) -> Result<usize, LedgerError> {
        let holders: Vec<String> = {
            let conn = self.lock();
            let mut st = conn
                .prepare(
                    "SELECT r.holder FROM reservations r WHERE r.sent > 0 AND NOT EXISTS
                     (SELECT 1 FROM charges c WHERE c.job_id = r.job_id AND c.maybe = 0)",
                )
                .map_err(|e| self.sql(e))?;
            st.query_map([], |r| r.get(0))
                .and_then(|rows| rows.collect::<rusqlite::Result<_>>())
                .map_err(|e| self.sql(e))?
        };
        Ok(holders.iter().filter(|h| !self.holder_gone(h)).count())
    }
}
