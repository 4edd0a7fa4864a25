//! Following a batch run: each line's status from the runtime's events, the counts, the money
//! the answers said was spent, and the summary line. Shared by `fluxcn batch` (progress bar and
//! summary) and the window's Batch view (its table).

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;

use super::{BatchLine, Plan};
use crate::jobs::types::{Event, FailureKind, JobId};

/// Where one line stands in this run.
#[derive(Debug, Clone, PartialEq)]
pub enum LineStatus {
    /// To be sent in this run.
    Waiting,
    /// Queued or under way (the stage's text).
    Running(String),
    /// Saved in this run.
    Saved(Vec<PathBuf>),
    /// Saved by an earlier run (the image's path).
    SavedBefore(String),
    /// Sent by an earlier run with no answer known: skipped (what is known).
    Unknown(Option<String>),
    /// Failed in this run; `billed`: it may have been billed (then it is not re-sent on its own).
    Failed { message: String, billed: bool },
    /// Not sent: the daily budget would have been crossed.
    OverBudget(String),
    /// Not sent: the run was stopped.
    Stopped,
}

impl LineStatus {
    /// The short text a table shows.
    pub fn label(&self) -> String {
        match self {
            LineStatus::Waiting => "waiting".into(),
            LineStatus::Running(s) => s.clone(),
            LineStatus::Saved(_) => "saved".into(),
            LineStatus::SavedBefore(_) => "saved before".into(),
            LineStatus::Unknown(_) => "outcome unknown (skipped)".into(),
            LineStatus::Failed { billed: true, .. } => "failed (may be billed)".into(),
            LineStatus::Failed { .. } => "failed".into(),
            LineStatus::OverBudget(_) => "not sent: budget".into(),
            LineStatus::Stopped => "not sent: stopped".into(),
        }
    }

    /// Whether the line has nothing more to happen in this run.
    pub fn settled(&self) -> bool {
        !matches!(self, LineStatus::Waiting | LineStatus::Running(_))
    }
}

/// The counts of a run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub saved: usize,
    pub saved_before: usize,
    pub unknown: usize,
    pub failed: usize,
    pub over_budget: usize,
    pub stopped: usize,
    pub waiting: usize,
}

/// A run's state.
pub struct Tracker {
    pub lines: Vec<BatchLine>,
    pub status: Vec<LineStatus>,
    jobs: HashMap<JobId, usize>,
    /// Lines to send, in file order, not yet handed to the runtime.
    pending: VecDeque<usize>,
    /// What the answers of this run said they cost (USD).
    pub spent: f64,
    /// The budget refusal that stopped the run, if one did.
    pub budget_stop: Option<String>,
    started: bool,
}

impl Tracker {
    /// Statuses from the plan: saved and unknown lines settled, the lines to send waiting.
    pub fn new(lines: Vec<BatchLine>, plan: &Plan) -> Tracker {
        let mut status = vec![LineStatus::Stopped; lines.len()];
        for (i, path) in &plan.saved {
            status[*i] = LineStatus::SavedBefore(path.clone());
        }
        for (i, detail) in &plan.unknown {
            status[*i] = LineStatus::Unknown(detail.clone());
        }
        for (i, file) in &plan.elsewhere {
            status[*i] = LineStatus::Unknown(Some(format!(
                "another fluxcn process is sending it now (from {file}): not sent here"
            )));
        }
        for &i in &plan.todo {
            status[i] = LineStatus::Waiting;
        }
        Tracker {
            lines,
            status,
            jobs: HashMap::new(),
            pending: plan.todo.iter().copied().collect(),
            spent: 0.0,
            budget_stop: None,
            started: false,
        }
    }

    /// Queues more lines to send (file order), e.g. when the window's Run is clicked again.
    pub fn queue(&mut self, lines: impl IntoIterator<Item = usize>) {
        for i in lines {
            if !self.pending.contains(&i) && !self.jobs.values().any(|&j| j == i) {
                self.status[i] = LineStatus::Waiting;
                self.pending.push_back(i);
            }
        }
    }

    /// The next lines to hand to the runtime, in file order, so that at most `window` are in it
    /// at once (the lines run in order, and a stop or the budget leaves the rest unsent). None
    /// once the budget refused a line.
    pub fn take_next(&mut self, window: usize) -> Vec<usize> {
        let mut out = Vec::new();
        while self.budget_stop.is_none() && self.jobs.len() + out.len() < window.max(1) {
            match self.pending.pop_front() {
                Some(i) => out.push(i),
                None => break,
            }
        }
        out
    }

    /// Sends no more lines: those not handed to the runtime are left unsent.
    pub fn stop_pending(&mut self) {
        for i in std::mem::take(&mut self.pending) {
            self.status[i] = match &self.budget_stop {
                Some(m) => LineStatus::OverBudget(m.clone()),
                None => LineStatus::Stopped,
            };
        }
    }

    /// Whether this run handed any line to the runtime yet.
    pub fn started(&self) -> bool {
        self.started
    }

    /// The first line the daily budget refused in this run (its number in the file).
    pub fn budget_line(&self) -> Option<usize> {
        self.status
            .iter()
            .zip(&self.lines)
            .find(|(s, _)| matches!(s, LineStatus::OverBudget(_)))
            .map(|(_, l)| l.line_no)
    }

    /// Nothing under way and nothing left to send.
    pub fn is_done(&self) -> bool {
        self.jobs.is_empty() && self.pending.is_empty()
    }

    /// Like [`Tracker::new`] with nothing queued yet: the window shows the lines, and
    /// [`Tracker::queue`] starts them when Run is clicked.
    pub fn idle(lines: Vec<BatchLine>, plan: &Plan) -> Tracker {
        let mut t = Tracker::new(lines, plan);
        t.pending.clear();
        t
    }

    /// Line `index` was submitted as job `id`.
    pub fn submitted(&mut self, id: JobId, index: usize) {
        self.started = true;
        self.pending.retain(|&p| p != index);
        self.jobs.insert(id, index);
        self.status[index] = LineStatus::Running("queued".into());
    }

    /// The line of a job of this run.
    pub fn line_of(&self, id: JobId) -> Option<usize> {
        self.jobs.get(&id).copied()
    }

    /// The job sending line `index`, while one is.
    pub fn job_of(&self, index: usize) -> Option<JobId> {
        self.jobs
            .iter()
            .find_map(|(id, &i)| (i == index).then_some(*id))
    }

    /// Jobs of this run not yet ended.
    pub fn in_flight(&self) -> usize {
        self.jobs.len()
    }

    /// Takes an event; returns the line it changed, if it was one of this run's.
    pub fn on_event(&mut self, ev: &Event) -> Option<usize> {
        match ev {
            Event::Stage { id, stage } => {
                let i = *self.jobs.get(id)?;
                self.status[i] = LineStatus::Running(stage.label());
                Some(i)
            }
            Event::Done {
                id,
                images,
                accounting,
            } => {
                let i = self.jobs.remove(id)?;
                self.spent += accounting
                    .cost
                    .filter(|c| c.is_finite() && *c > 0.0)
                    .unwrap_or(0.0);
                self.status[i] = LineStatus::Saved(images.iter().map(|m| m.path.clone()).collect());
                Some(i)
            }
            Event::Failed { id, failure } => {
                let i = self.jobs.remove(id)?;
                self.status[i] = if failure.kind == FailureKind::Budget {
                    self.budget_stop
                        .get_or_insert_with(|| failure.message.clone());
                    self.stop_pending();
                    LineStatus::OverBudget(failure.message.clone())
                } else {
                    LineStatus::Failed {
                        message: failure.message.clone(),
                        billed: failure.maybe_billed,
                    }
                };
                Some(i)
            }
            Event::Cancelled { id, maybe_billed } => {
                let i = self.jobs.remove(id)?;
                self.status[i] = if *maybe_billed {
                    LineStatus::Unknown(Some(
                        "stopped after it was sent: it may have been billed".into(),
                    ))
                } else if self.budget_stop.is_some() {
                    LineStatus::OverBudget("the daily budget stopped the batch".into())
                } else {
                    LineStatus::Stopped
                };
                Some(i)
            }
            Event::Recovered { .. }
            | Event::Notice(_)
            | Event::Lineup { .. }
            | Event::Restored { .. } => None,
        }
    }

    /// Jobs still waiting for a turn to run (no concurrency slot yet, so surely not past the
    /// budget's check nor sent): the ones to cancel when the run stops. A job that has its slot
    /// goes on to the budget's check itself; cancelling it could abandon a request under way.
    pub fn queued_jobs(&self) -> Vec<JobId> {
        let queued = crate::jobs::types::Stage::Queued.label();
        let mut ids: Vec<JobId> = self
            .jobs
            .iter()
            .filter(|(_, i)| matches!(&self.status[**i], LineStatus::Running(s) if *s == queued))
            .map(|(id, _)| *id)
            .collect();
        ids.sort_unstable();
        ids
    }

    pub fn counts(&self) -> Counts {
        let mut c = Counts::default();
        for s in &self.status {
            match s {
                LineStatus::Waiting | LineStatus::Running(_) => c.waiting += 1,
                LineStatus::Saved(_) => c.saved += 1,
                LineStatus::SavedBefore(_) => c.saved_before += 1,
                LineStatus::Unknown(_) | LineStatus::Failed { billed: true, .. } => c.unknown += 1,
                LineStatus::Failed { .. } => c.failed += 1,
                LineStatus::OverBudget(_) => c.over_budget += 1,
                LineStatus::Stopped => c.stopped += 1,
            }
        }
        c
    }

    /// One line: what happened to every line of the file.
    pub fn summary(&self) -> String {
        let c = self.counts();
        let mut parts = vec![format!("{} saved", c.saved)];
        let mut add = |n: usize, what: &str| {
            if n > 0 {
                parts.push(format!("{n} {what}"));
            }
        };
        add(c.saved_before, "saved before (skipped)");
        add(c.unknown, "with an unknown outcome (not re-sent)");
        add(c.failed, "failed");
        add(c.over_budget, "not sent (daily budget)");
        add(c.stopped, "not sent (stopped)");
        add(c.waiting, "unfinished");
        format!(
            "{} line{}: {}; this run cost ${:.2}",
            self.lines.len(),
            if self.lines.len() == 1 { "" } else { "s" },
            parts.join(", "),
            self.spent
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jobs::types::{JobFailure, SavedImage, Stage};

    fn lines(n: usize) -> Vec<BatchLine> {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("i.png"), b"x").unwrap();
        let text: String = (1..=n)
            .map(|i| format!("{{\"prompt\": \"p{i}\", \"image\": \"i.png\"}}\n"))
            .collect();
        super::super::parse_batch(&text, super::super::BatchFormat::Jsonl, d.path()).unwrap()
    }

    fn failed(id: JobId, kind: FailureKind, maybe_billed: bool) -> Event {
        Event::Failed {
            id,
            failure: JobFailure {
                message: format!("{kind}"),
                kind,
                maybe_billed,
            },
        }
    }

    #[test]
    fn statuses_follow_the_events_and_the_summary_counts_every_line() {
        let plan = Plan {
            todo: vec![1, 2, 3, 4],
            saved: vec![(0, "/g/a.png".into())],
            unknown: vec![(5, Some("no answer".into()))],
            elsewhere: Vec::new(),
            retried: 0,
        };
        let mut t = Tracker::new(lines(6), &plan);
        for (id, i) in [(11, 1), (12, 2), (13, 3), (14, 4)] {
            t.submitted(id, i);
        }
        assert_eq!(t.in_flight(), 4);
        t.on_event(&Event::Stage {
            id: 11,
            stage: Stage::Waiting,
        });
        assert_eq!(
            t.status[1],
            LineStatus::Running("waiting for the server".into())
        );
        t.on_event(&Event::Done {
            id: 11,
            images: vec![SavedImage {
                path: "/g/b.png".into(),
                sidecar: "/g/b.json".into(),
                width: 1,
                height: 1,
                seed: 1,
                preview: None,
            }],
            accounting: crate::api::Accounting {
                cost: Some(0.05),
                ..Default::default()
            },
        });
        t.on_event(&failed(12, FailureKind::NoAnswer, true));
        t.on_event(&failed(13, FailureKind::Budget, false));
        // Events of other jobs change nothing.
        assert_eq!(t.on_event(&failed(99, FailureKind::Http(500), false)), None);
        assert!(t.budget_stop.is_some());
        assert_eq!(
            t.queued_jobs(),
            vec![14],
            "the queued line is the one to cancel"
        );
        t.on_event(&Event::Cancelled {
            id: 14,
            maybe_billed: false,
        });
        assert_eq!(t.in_flight(), 0);
        let c = t.counts();
        assert_eq!(
            (c.saved, c.saved_before, c.unknown, c.failed, c.over_budget),
            (1, 1, 2, 0, 2)
        );
        let s = t.summary();
        assert!(s.starts_with("6 lines: 1 saved, 1 saved before (skipped), 2 with an unknown outcome (not re-sent), 2 not sent (daily budget)"), "{s}");
        assert!(s.ends_with("this run cost $0.05"), "{s}");
    }
}
