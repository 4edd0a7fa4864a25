//! Batches: a file of requests run through the job runtime like any other jobs, resumable after
//! Ctrl+C, `kill -9` or a power cut. Each job of a batch carries its line ([`BatchLineRef`]); the
//! runtime marks the line sent in the gallery's catalog before the request goes out, saved when
//! its images are, and failed or "outcome unknown" when it ends otherwise (`mark_*` here). A
//! re-run plans from those marks ([`plan`]): saved lines are skipped, lines whose outcome is
//! unknown are listed and skipped unless the user asks to send them again, the rest run.
//! [`Tracker`] follows a run's events for the CLI's progress bar and the window's Batch view.

mod parse;
mod track;

use std::path::Path;
use std::sync::Arc;

pub use parse::{
    BatchError, BatchFormat, BatchLine, LineError, MAX_LINES, parse_batch, read_batch,
};
pub use track::{LineStatus, Tracker};

use super::runtime::{JobEnd, Shared};
use super::types::{BatchLineRef, FailureKind, JobId, JobSpec};
use crate::gallery::Store;
use crate::gallery::catalog::{Claim, LineMark, LineState};
use crate::types::ApiVersion;

/// The batch's name in the journal: the file's absolute path.
pub fn batch_name(path: &Path) -> String {
    let abs = std::fs::canonicalize(path)
        .or_else(|_| std::path::absolute(path))
        .unwrap_or_else(|_| path.to_path_buf());
    abs.display().to_string()
}

/// The job of a line (`resend_unknown`: the run may send again a line whose earlier outcome is
/// unknown).
pub fn spec_of(batch: &str, line: &BatchLine, api: ApiVersion, resend_unknown: bool) -> JobSpec {
    JobSpec {
        input: line.input.clone(),
        params: line.params.clone(),
        api,
        group: None,
        prompt_template: None,
        batch: Some(BatchLineRef {
            batch: batch.to_owned(),
            key: line.key.clone(),
            line_no: line.line_no,
            resend_unknown,
        }),
        framing: Default::default(),
    }
}

/// The questions to the account for a plan's lines with an unknown outcome (issue 25): one
/// [`Command::Settle`](super::types::Command::Settle) per line, under the job id that sent it (so
/// a recovered charge replaces its "maybe billed" row), asked from the time that job's process
/// started (a job id carries it: see [`super::types::next_job_id`]).
pub fn settle_commands(
    store: &Store,
    batch: &str,
    lines: &[BatchLine],
    plan: &Plan,
    api: ApiVersion,
) -> Vec<(usize, super::types::Command)> {
    let month_ago = super::journal::now_ms().saturating_sub(30 * 86_400_000);
    plan.unknown
        .iter()
        .filter_map(|(i, _)| {
            let line = lines.get(*i)?;
            let job = store
                .line_marks(&line.key)
                .ok()?
                .iter()
                .filter(|(m, _)| matches!(m.state, LineState::Unknown | LineState::Sent))
                .filter_map(|(m, _)| m.job_id)
                .max();
            let from_ms = job.map_or(month_ago, |j| (j >> 20).max(month_ago));
            let id = job.unwrap_or_else(super::types::next_job_id);
            let spec = spec_of(batch, line, api, false);
            Some((
                *i,
                super::types::Command::Settle {
                    id,
                    spec,
                    request_id: None,
                    from_ms,
                },
            ))
        })
        .collect()
}

/// What a run of a batch will do, from the journal's marks.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Plan {
    /// Indexes (into the lines) to send.
    pub todo: Vec<usize>,
    /// Lines saved before: index and the image's path.
    pub saved: Vec<(usize, String)>,
    /// Lines sent with no answer known (maybe billed): index and what is known. Skipped unless
    /// `resend_unknown`, then in `todo` too.
    pub unknown: Vec<(usize, Option<String>)>,
    /// Lines another fluxcn process is sending now (from the file it names): skipped, whatever
    /// `resend_unknown` says.
    pub elsewhere: Vec<(usize, String)>,
    /// Lines that failed before (unbilled) and will be sent again.
    pub retried: usize,
}

/// Where a line stands, from every mark of it.
enum Standing {
    Saved(String),
    Elsewhere(String),
    Unknown(Option<String>),
    Failed,
    New,
}

/// Plans a run of `lines` given what the journal says of them. A line is found by its content key
/// in the marks of any batch file (a file moved or renamed keeps its lines' state), then by the key
/// an earlier version gave it in this file's marks, then by a result naming it. `ledger` tells which
/// processes that sent a line are still running (without it, a line sent and unanswered is
/// "outcome unknown").
pub fn plan(
    store: &Store,
    batch: &str,
    lines: &[BatchLine],
    resend_unknown: bool,
    ledger: Option<&crate::jobs::ledger::Ledger>,
) -> Result<Plan, crate::gallery::GalleryError> {
    let legacy: std::collections::HashMap<String, LineMark> = store
        .batch_lines(batch)?
        .into_iter()
        .map(|m| (m.key.clone(), m))
        .collect();
    let mut plan = Plan::default();
    for (i, line) in lines.iter().enumerate() {
        let mut standing = standing(store, &store.line_marks(&line.key)?, ledger);
        if matches!(standing, Standing::New) {
            standing = match legacy.get(&line.legacy_key) {
                Some(m) => match m.state {
                    LineState::Saved => Standing::Saved(m.result.clone().unwrap_or_default()),
                    LineState::Failed => Standing::Failed,
                    LineState::Sent | LineState::Unknown => Standing::Unknown(m.detail.clone()),
                },
                // No mark: saved anyway when a result names the line (the batch rows were lost
                // with a rebuilt catalog).
                None => match store
                    .batch_result(&line.key)
                    .or_else(|| store.batch_result(&line.legacy_key))
                {
                    Some(p) => Standing::Saved(p.display().to_string()),
                    None => Standing::New,
                },
            };
        }
        match standing {
            Standing::Saved(p) => plan.saved.push((i, p)),
            Standing::Elsewhere(file) => plan.elsewhere.push((i, file)),
            Standing::Unknown(detail) => {
                plan.unknown.push((i, detail));
                if resend_unknown {
                    plan.todo.push(i);
                }
            }
            Standing::Failed => {
                plan.retried += 1;
                plan.todo.push(i);
            }
            Standing::New => plan.todo.push(i),
        }
    }
    Ok(plan)
}

/// Where a line stands from its marks (any file): saved wins; then sent by a process still
/// running; then sent with no answer known (a line sent whose job's result is in the gallery is
/// saved: a crash came between the save and the mark); then failed.
fn standing(
    store: &Store,
    marks: &[(LineMark, Option<String>)],
    ledger: Option<&crate::jobs::ledger::Ledger>,
) -> Standing {
    let mut best = Standing::New;
    let rank = |s: &Standing| match s {
        Standing::Saved(_) => 4,
        Standing::Elsewhere(_) => 3,
        Standing::Unknown(_) => 2,
        Standing::Failed => 1,
        Standing::New => 0,
    };
    for (m, holder) in marks {
        let s = match m.state {
            LineState::Saved => Standing::Saved(m.result.clone().unwrap_or_default()),
            LineState::Failed => Standing::Failed,
            LineState::Unknown => Standing::Unknown(m.detail.clone()),
            LineState::Sent => {
                let found = m
                    .job_id
                    .and_then(|j| store.find_job(j, None).into_iter().next());
                match (found, holder, ledger) {
                    (Some(e), _, _) => Standing::Saved(e.image_path.display().to_string()),
                    (None, Some(h), Some(l)) if !l.holder_gone(h) => {
                        Standing::Elsewhere(m.batch.clone())
                    }
                    _ => Standing::Unknown(m.detail.clone()),
                }
            }
        };
        if rank(&s) > rank(&best) {
            best = s;
        }
    }
    best
}

fn mark(line: &BatchLineRef, id: JobId, state: LineState) -> LineMark {
    LineMark {
        batch: line.batch.clone(),
        key: line.key.clone(),
        line_no: line.line_no,
        state,
        job_id: Some(id),
        result: None,
        detail: None,
    }
}

/// Claims a line for job `id` and marks it sent, durably, before its request goes out: atomically
/// across processes, by its content key whatever the file is called now. A line another process
/// is sending, saved, or sent with no answer known (unless the run resends those) is not sent.
pub(super) async fn claim(sh: &Arc<Shared>, id: JobId, line: &BatchLineRef) -> Result<(), JobEnd> {
    let store = sh.store.clone();
    let ledger = sh.gate.ledger().cloned();
    let m = mark(line, id, LineState::Sent);
    let resend = line.resend_unknown;
    let claimed = tokio::task::spawn_blocking(move || {
        let holder = ledger
            .as_ref()
            .and_then(|l| l.holder_id().map(str::to_owned));
        let gone = |h: &str| ledger.as_ref().is_some_and(|l| l.holder_gone(h));
        store.batch_claim(&m, holder.as_deref(), resend, &gone)
    })
    .await;
    let failure = |message: String, kind: FailureKind| {
        Err(JobEnd::Failed(super::types::JobFailure {
            message,
            kind,
            maybe_billed: false,
        }))
    };
    match claimed {
        Ok(Ok(Claim::Claimed)) => Ok(()),
        Ok(Ok(Claim::Taken { mark, alive })) => failure(
            format!(
                "line {} was not sent: {}",
                line.line_no,
                match mark.state {
                    LineState::Saved => format!(
                        "it is saved already{}",
                        mark.result.map(|r| format!(" ({r})")).unwrap_or_default()
                    ),
                    LineState::Sent if alive => format!(
                        "another fluxcn process is sending it (from {})",
                        mark.batch
                    ),
                    _ => "it was sent before with no answer known (it may have been billed): --resend-unknown sends it again".to_owned(),
                }
            ),
            FailureKind::Elsewhere,
        ),
        Ok(Err(e)) => failure(
            format!("not sent: the batch journal could not record line {} ({e})", line.line_no),
            FailureKind::Save,
        ),
        Err(e) => failure(
            format!("not sent: the batch journal could not record line {} ({e})", line.line_no),
            FailureKind::Save,
        ),
    }
}

/// The mark of a saved line.
pub(super) fn saved_mark(id: JobId, line: &BatchLineRef, path: &Path) -> LineMark {
    LineMark {
        result: Some(path.display().to_string()),
        ..mark(line, id, LineState::Saved)
    }
}

/// Marks how a line's job ended without images: maybe billed → unknown (never re-sent on its
/// own); not billed → failed (a re-run sends it); refused by the budget → left as it was.
pub(super) fn mark_end(
    sh: &Arc<Shared>,
    id: JobId,
    line: &BatchLineRef,
    end: &JobEnd,
    _journaled: bool,
) {
    let m = match end {
        // Not sent: the mark in the journal (or the other process's) stays as it was.
        JobEnd::Failed(f) if matches!(f.kind, FailureKind::Budget | FailureKind::Elsewhere) => {
            return;
        }
        JobEnd::Failed(f) => LineMark {
            detail: Some(f.message.clone()),
            ..mark(
                line,
                id,
                if f.maybe_billed {
                    LineState::Unknown
                } else {
                    LineState::Failed
                },
            )
        },
        JobEnd::Cancelled { maybe_billed: true } => LineMark {
            detail: Some("cancelled after it was sent: it may have been billed".into()),
            ..mark(line, id, LineState::Unknown)
        },
        JobEnd::Cancelled {
            maybe_billed: false,
        } => LineMark {
            detail: Some("cancelled before it was sent".into()),
            ..mark(line, id, LineState::Failed)
        },
    };
    if let Err(e) = sh.store.batch_mark(&m) {
        tracing::error!(error = %e, line = line.line_no, "the batch journal could not record how a line ended");
    }
}
