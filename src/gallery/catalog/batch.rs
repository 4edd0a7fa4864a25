//! The batch journal's table (`batch_lines`): one row per line of a batch file, keyed by the file
//! and the line's content, saying where that line stands (sent, saved, failed, outcome unknown).
//! A line is marked sent with `synchronous = FULL`, before its request goes out, so that neither a
//! kill nor a power cut can make a re-run send it again unasked.

use rusqlite::{OptionalExtension, params};

use super::Catalog;
use crate::types::JobId;

/// Where a batch line stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LineState {
    /// Its request went out (or was about to); no outcome recorded yet.
    Sent,
    /// Its result is saved.
    Saved,
    /// It failed without being billed: a re-run sends it again.
    Failed,
    /// It was sent and no answer is known (it may have been billed): a re-run skips it unless told.
    Unknown,
}

impl LineState {
    pub fn as_str(self) -> &'static str {
        match self {
            LineState::Sent => "sent",
            LineState::Saved => "saved",
            LineState::Failed => "failed",
            LineState::Unknown => "unknown",
        }
    }

    fn parse(s: &str) -> Option<LineState> {
        [
            LineState::Sent,
            LineState::Saved,
            LineState::Failed,
            LineState::Unknown,
        ]
        .into_iter()
        .find(|l| l.as_str() == s)
    }
}

/// What a claim of a line found.
#[derive(Debug, Clone, PartialEq)]
pub enum Claim {
    /// The line is this job's to send (marked sent, durably).
    Claimed,
    /// Not claimed: this mark is in the way; `alive` when it is being sent by a process still
    /// running.
    Taken { mark: LineMark, alive: bool },
}

/// A line's state as written and read.
#[derive(Debug, Clone, PartialEq)]
pub struct LineMark {
    /// The batch file (its absolute path).
    pub batch: String,
    /// The line's content key.
    pub key: String,
    pub line_no: usize,
    pub state: LineState,
    /// The job that ran it (to find its result after a crash).
    pub job_id: Option<JobId>,
    /// The saved image's path.
    pub result: Option<String>,
    /// Why it failed, or what is unknown.
    pub detail: Option<String>,
}

impl Catalog {
    /// Writes a line's state (replacing the one before). A `Sent` mark reaches the disk before
    /// this returns.
    pub fn batch_mark(&self, m: &LineMark, updated_ms: u64) -> rusqlite::Result<()> {
        let durable = m.state == LineState::Sent;
        if durable {
            self.conn.pragma_update(None, "synchronous", "FULL")?;
        }
        let r = self
            .conn
            .prepare_cached(
                "INSERT INTO batch_lines (batch, line_key, line_no, state, result, detail, updated_ms, job_id)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                 ON CONFLICT (batch, line_key) DO UPDATE SET line_no = ?3, state = ?4, result = ?5,
                   detail = ?6, updated_ms = ?7, job_id = COALESCE(?8, job_id)
                 WHERE batch_lines.state <> 'saved' OR excluded.state = 'saved'",
            )
            .and_then(|mut st| {
                st.execute(params![
                    m.batch,
                    m.key,
                    m.line_no as i64,
                    m.state.as_str(),
                    m.result,
                    m.detail,
                    updated_ms as i64,
                    m.job_id.map(|j| j as i64)
                ])
            });
        if durable {
            self.conn.pragma_update(None, "synchronous", "NORMAL")?;
        }
        r.map(|_| ())
    }

    /// Every line recorded for `batch`.
    pub fn batch_lines(&self, batch: &str) -> rusqlite::Result<Vec<LineMark>> {
        let mut st = self.conn.prepare_cached(
            "SELECT line_key, line_no, state, job_id, result, detail FROM batch_lines WHERE batch = ?1",
        )?;
        let rows = st.query_map([batch], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, Option<i64>>(3)?,
                r.get::<_, Option<String>>(4)?,
                r.get::<_, Option<String>>(5)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (key, line_no, state, job_id, result, detail) = row?;
            // A row this build cannot read (a crafted state) counts as unknown: never re-sent.
            let state = LineState::parse(&state).unwrap_or(LineState::Unknown);
            out.push(LineMark {
                batch: batch.to_owned(),
                key,
                line_no: line_no.max(0) as usize,
                state,
                job_id: job_id.map(|j| j as JobId),
                result,
                detail,
            });
        }
        Ok(out)
    }

    /// Every mark of the line `key`, whatever batch file (or name of it) wrote it.
    pub fn line_marks(&self, key: &str) -> rusqlite::Result<Vec<(LineMark, Option<String>)>> {
        let mut st = self.conn.prepare_cached(
            "SELECT batch, line_no, state, job_id, result, detail, holder FROM batch_lines
             WHERE line_key = ?1 ORDER BY updated_ms DESC",
        )?;
        let rows = st.query_map([key], |r| {
            Ok((
                LineMark {
                    batch: r.get(0)?,
                    key: key.to_owned(),
                    line_no: r.get::<_, i64>(1)?.max(0) as usize,
                    // A state this build cannot read (a crafted one) counts as unknown.
                    state: LineState::parse(&r.get::<_, String>(2)?).unwrap_or(LineState::Unknown),
                    job_id: r.get::<_, Option<i64>>(3)?.map(|j| j as JobId),
                    result: r.get(4)?,
                    detail: r.get(5)?,
                },
                r.get::<_, Option<String>>(6)?,
            ))
        })?;
        rows.collect()
    }

    /// Claims the line `m.key` for `m`'s job, atomically across processes: in one write
    /// transaction, every mark of the line (any batch file) is read, and the line is marked sent by
    /// `holder` (durably) only when none says it is saved, being sent by a process still running
    /// (`gone` says which holders have stopped), or sent with no answer known (unless
    /// `resend_unknown`). Otherwise nothing is written, and the mark in the way is returned.
    pub fn batch_claim(
        &self,
        m: &LineMark,
        holder: Option<&str>,
        resend_unknown: bool,
        gone: &dyn Fn(&str) -> bool,
        now_ms: u64,
    ) -> rusqlite::Result<Claim> {
        self.conn.pragma_update(None, "synchronous", "FULL")?;
        let r = (|| {
            let tx = rusqlite::Transaction::new_unchecked(
                &self.conn,
                rusqlite::TransactionBehavior::Immediate,
            )?;
            for (mark, by) in self.line_marks(&m.key)? {
                let mine = mark.job_id.is_some() && mark.job_id == m.job_id;
                let taken = match mark.state {
                    LineState::Saved => true,
                    LineState::Sent if mine => false,
                    // A claim that named no holder (its process could not lock one) is never
                    // known to be alive: outcome unknown.
                    LineState::Sent => match by.as_deref() {
                        Some(h) if !gone(h) => true,
                        _ => !resend_unknown,
                    },
                    LineState::Unknown => !resend_unknown,
                    LineState::Failed => false,
                };
                if taken {
                    let alive =
                        mark.state == LineState::Sent && by.as_deref().is_some_and(|h| !gone(h));
                    return Ok(Claim::Taken { mark, alive });
                }
            }
            tx.execute(
                "INSERT INTO batch_lines (batch, line_key, line_no, state, result, detail, updated_ms, job_id, holder)
                 VALUES (?1, ?2, ?3, 'sent', NULL, NULL, ?4, ?5, ?6)
                 ON CONFLICT (batch, line_key) DO UPDATE SET line_no = ?3, state = 'sent', result = NULL,
                   detail = NULL, updated_ms = ?4, job_id = ?5, holder = ?6",
                params![
                    m.batch,
                    m.key,
                    m.line_no as i64,
                    now_ms as i64,
                    m.job_id.map(|j| j as i64),
                    holder
                ],
            )?;
            tx.commit()?;
            Ok(Claim::Claimed)
        })();
        self.conn.pragma_update(None, "synchronous", "NORMAL")?;
        r
    }

    /// The file of a picture saved for the batch line `key` (its sidecar names the line): how a
    /// saved line is found when the batch table was lost with a rebuilt catalog.
    pub fn batch_result(&self, key: &str) -> rusqlite::Result<Option<String>> {
        self.conn
            .prepare_cached(
                "SELECT file FROM results WHERE json_extract(meta, '$.batch_line') = ?1
                 ORDER BY created_ms ASC LIMIT 1",
            )?
            .query_row([key], |r| r.get(0))
            .optional()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mark(key: &str, state: LineState) -> LineMark {
        LineMark {
            batch: "/b.jsonl".into(),
            key: key.into(),
            line_no: 3,
            state,
            job_id: Some(7),
            result: None,
            detail: None,
        }
    }

    #[test]
    fn a_line_is_claimed_once_whatever_file_names_it() {
        let c = Catalog::in_memory();
        let alive = |_: &str| false;
        let dead = |_: &str| true;
        let mut first = mark("k", LineState::Sent);
        first.job_id = Some(1);
        assert_eq!(
            c.batch_claim(&first, Some("p1"), false, &alive, 1).unwrap(),
            Claim::Claimed
        );
        // Another process, another name of the file: refused while the first is alive.
        let mut second = mark("k", LineState::Sent);
        second.batch = "/moved/b.jsonl".into();
        second.job_id = Some(2);
        match c.batch_claim(&second, Some("p2"), true, &alive, 2).unwrap() {
            Claim::Taken { mark, alive } => {
                assert!(alive && mark.state == LineState::Sent && mark.job_id == Some(1));
            }
            Claim::Claimed => panic!("claimed twice"),
        }
        // The first process is gone with the line sent: outcome unknown, claimed only when asked.
        assert!(matches!(
            c.batch_claim(&second, Some("p2"), false, &dead, 3).unwrap(),
            Claim::Taken { alive: false, .. }
        ));
        assert_eq!(
            c.batch_claim(&second, Some("p2"), true, &dead, 4).unwrap(),
            Claim::Claimed
        );
        // Saved: never claimed again; failed (not billed): claimed again.
        let mut saved = second.clone();
        saved.state = LineState::Saved;
        c.batch_mark(&saved, 5).unwrap();
        let mut third = mark("k", LineState::Sent);
        third.job_id = Some(3);
        assert!(matches!(
            c.batch_claim(&third, None, true, &dead, 6).unwrap(),
            Claim::Taken { .. }
        ));
        let mut failed = mark("f", LineState::Failed);
        failed.job_id = Some(4);
        c.batch_mark(&failed, 7).unwrap();
        assert_eq!(
            c.batch_claim(&third, None, false, &alive, 8).unwrap(),
            Claim::Taken {
                mark: c.line_marks("k").unwrap()[0].0.clone(),
                alive: false
            }
        );
        let mut again = mark("f", LineState::Sent);
        again.job_id = Some(5);
        assert_eq!(
            c.batch_claim(&again, None, false, &alive, 9).unwrap(),
            Claim::Claimed
        );
    }

    #[test]
    fn a_line_keeps_its_last_state_and_its_job() {
        let c = Catalog::in_memory();
        c.batch_mark(&mark("a", LineState::Sent), 1).unwrap();
        let mut saved = mark("a", LineState::Saved);
        saved.job_id = None;
        saved.result = Some("/g/x.png".into());
        c.batch_mark(&saved, 2).unwrap();
        c.batch_mark(&mark("b", LineState::Unknown), 3).unwrap();
        let mut lines = c.batch_lines("/b.jsonl").unwrap();
        lines.sort_by(|a, b| a.key.cmp(&b.key));
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].state, LineState::Saved);
        assert_eq!(lines[0].job_id, Some(7), "the job id is kept");
        assert_eq!(lines[0].result.as_deref(), Some("/g/x.png"));
        assert_eq!(lines[1].state, LineState::Unknown);
        assert!(c.batch_lines("/other.csv").unwrap().is_empty());
    }
}
