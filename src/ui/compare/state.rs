//! The comparison that was sent, as plain data: one cell per job (row-major) and how the
//! runtime's job events move each cell from waiting to done, failed or cancelled, and back to
//! waiting on a retry. The commands to send are returned, never sent from here, so all of it is
//! tested without a window; the textures of the results belong to the drawing side.

use std::path::PathBuf;

use super::plan::Planner;
pub use super::plan::{CompareMode, Planned, Setup, cost_label, plan_images};
use crate::api::GenParams;
use crate::jobs::grid::GridPlan;
use crate::jobs::{Command, Event, JobId, next_job_id};

/// Where one cell is.
#[derive(Debug, Clone, PartialEq)]
pub enum CellState {
    /// Sent; the status line from the last `Stage` event.
    Waiting(String),
    /// Saved at `path`, made with `seed`.
    Done {
        path: PathBuf,
        seed: i64,
    },
    Failed {
        message: String,
        maybe_billed: bool,
    },
    Cancelled {
        maybe_billed: bool,
    },
}

/// One cell of a comparison: its current job and where that job is.
#[derive(Debug, Clone, PartialEq)]
pub struct Cell {
    pub job: JobId,
    pub state: CellState,
}

/// A comparison that was sent: its plan and one cell per planned job (row-major). Or saved
/// results shown side by side (`saved`, see `saved.rs`): nothing was sent for them, and nothing
/// ever is (no retry, nothing to cancel).
#[derive(Debug, Clone, PartialEq)]
pub struct GridRun {
    pub group: u64,
    pub plan: GridPlan,
    pub cells: Vec<Cell>,
    pub saved: bool,
}

/// How far a comparison is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    pub done: usize,
    /// Failed or cancelled.
    pub failed: usize,
    pub total: usize,
}

impl GridRun {
    /// The caption of cell `i`, e.g. `cn_type: depth`.
    pub fn label(&self, i: usize) -> String {
        self.plan
            .cells
            .get(i)
            .and_then(|s| s.group.as_ref())
            .map(|g| g.label.clone())
            .unwrap_or_default()
    }

    pub fn progress(&self) -> Progress {
        let count = |f: fn(&CellState) -> bool| self.cells.iter().filter(|c| f(&c.state)).count();
        Progress {
            done: count(|s| matches!(s, CellState::Done { .. })),
            failed: count(|s| matches!(s, CellState::Failed { .. } | CellState::Cancelled { .. })),
            total: self.cells.len(),
        }
    }

    /// The jobs of the cells still waiting (none for saved results: nothing was sent).
    pub fn waiting(&self) -> Vec<JobId> {
        if self.saved {
            return Vec::new();
        }
        self.cells
            .iter()
            .filter(|c| matches!(c.state, CellState::Waiting(_)))
            .map(|c| c.job)
            .collect()
    }

    /// The settings that made cell `i`'s result, with the seed it was made with.
    pub fn settings_of(&self, i: usize) -> Option<GenParams> {
        match (self.plan.cells.get(i), self.cells.get(i).map(|c| &c.state)) {
            (Some(spec), Some(CellState::Done { seed, .. })) => Some(GenParams {
                seed: *seed,
                ..spec.params.clone()
            }),
            _ => None,
        }
    }
}

/// What a job event did to the comparison on screen (the drawing side updates its textures).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum CellChange<'e> {
    /// The cell's status line may have changed; its image did not.
    Status(usize),
    /// The cell finished, failed or was cancelled: it now shows `preview` (none unless it finished
    /// with decoded pixels).
    Image {
        cell: usize,
        preview: Option<&'e image::RgbaImage>,
    },
}

/// The comparison's state: the setup and its plan, and the comparison that was sent.
pub struct CompareState {
    pub planner: Planner,
    cost_per_image: f64,
    run: Option<GridRun>,
}

impl Default for CompareState {
    fn default() -> Self {
        CompareState {
            planner: Planner::default(),
            cost_per_image: crate::api::DEFAULT_COST_PER_IMAGE,
            run: None,
        }
    }
}

impl CompareState {
    /// What one image is assumed to cost: the last cost the service reported, else the default.
    pub fn cost_per_image(&self) -> f64 {
        self.cost_per_image
    }

    /// Forgets the comparison on screen (it was refused before anything was sent).
    pub fn drop_run(&mut self) {
        self.run = None;
    }

    /// The comparison that was sent, if any.
    pub fn run(&self) -> Option<&GridRun> {
        self.run.as_ref()
    }

    /// Shows `run` (saved results, see `saved.rs`) in place of the comparison on screen.
    pub(super) fn show(&mut self, run: GridRun) {
        self.run = Some(run);
    }

    /// The comparison on screen, to update (saved results as their files are read).
    pub(super) fn run_mut(&mut self) -> Option<&mut GridRun> {
        self.run.as_mut()
    }

    /// The job ids of the comparison that was sent, row-major.
    pub fn job_ids(&self) -> Vec<JobId> {
        self.run
            .as_ref()
            .map(|r| r.cells.iter().map(|c| c.job).collect())
            .unwrap_or_default()
    }

    /// Whether a cell of the comparison that was sent is still waiting.
    pub fn is_running(&self) -> bool {
        self.run.as_ref().is_some_and(|r| !r.waiting().is_empty())
    }

    /// Makes `plan` the comparison on screen; returns one `Submit` per cell, to send.
    pub fn start(&mut self, plan: GridPlan) -> Vec<Command> {
        let group = plan
            .cells
            .first()
            .and_then(|c| c.group.as_ref())
            .map_or(0, |g| g.group);
        let mut commands = Vec::with_capacity(plan.cells.len());
        let cells = plan
            .cells
            .iter()
            .map(|spec| {
                let id = next_job_id();
                commands.push(Command::Submit {
                    id,
                    spec: spec.clone(),
                });
                Cell {
                    job: id,
                    state: CellState::Waiting("queued".into()),
                }
            })
            .collect();
        self.run = Some(GridRun {
            group,
            plan,
            cells,
            saved: false,
        });
        // A new plan (a new group, and a new seed if the seed is random) for the next comparison.
        self.planner.forget();
        commands
    }

    /// Takes in a job event: `Some` when it was about a cell of the comparison on screen. A
    /// result's reported cost also updates the cost per image, whatever job it was.
    pub fn apply<'e>(&mut self, ev: &'e Event) -> Option<CellChange<'e>> {
        // The cost the service reports is the request's; a request may make several images.
        if let Event::Done {
            accounting, images, ..
        } = ev
            && let Some(c) = accounting.cost.filter(|c| c.is_finite() && *c > 0.0)
        {
            self.cost_per_image = c / images.len().max(1) as f64;
        }
        let id = match ev {
            Event::Stage { id, .. }
            | Event::Done { id, .. }
            | Event::Failed { id, .. }
            | Event::Cancelled { id, .. } => *id,
            _ => return None,
        };
        let run = self.run.as_mut()?;
        let (i, cell) = run
            .cells
            .iter_mut()
            .enumerate()
            .find(|(_, c)| c.job == id)?;
        let (state, preview) = match ev {
            Event::Stage { stage, .. } => {
                if matches!(cell.state, CellState::Waiting(_)) {
                    cell.state = CellState::Waiting(stage.label());
                }
                return Some(CellChange::Status(i));
            }
            Event::Done { images, .. } => match images.first() {
                Some(img) => (
                    CellState::Done {
                        path: img.path.clone(),
                        seed: img.seed,
                    },
                    img.preview.as_deref(),
                ),
                None => (
                    CellState::Failed {
                        message: "the job finished without an image".into(),
                        maybe_billed: true,
                    },
                    None,
                ),
            },
            Event::Failed { failure, .. } => (
                CellState::Failed {
                    message: failure.message.clone(),
                    maybe_billed: failure.maybe_billed,
                },
                None,
            ),
            Event::Cancelled { maybe_billed, .. } => (
                CellState::Cancelled {
                    maybe_billed: *maybe_billed,
                },
                None,
            ),
            _ => return None,
        };
        cell.state = state;
        Some(CellChange::Image { cell: i, preview })
    }

    /// Re-sends cell `i` alone, under a new id, if it failed or was cancelled; returns the
    /// `Submit` to send.
    pub fn retry(&mut self, i: usize) -> Option<Command> {
        let run = self.run.as_mut().filter(|r| !r.saved)?;
        let (cell, spec) = (run.cells.get_mut(i)?, run.plan.cells.get(i)?);
        if !matches!(
            cell.state,
            CellState::Failed { .. } | CellState::Cancelled { .. }
        ) {
            return None;
        }
        let id = next_job_id();
        cell.job = id;
        cell.state = CellState::Waiting("queued".into());
        Some(Command::Submit {
            id,
            spec: spec.clone(),
        })
    }

    /// The `Cancel`s for the cells not finished yet.
    pub fn cancel_remaining(&self) -> Vec<Command> {
        self.run
            .as_ref()
            .map(|r| r.waiting().into_iter().map(Command::Cancel).collect())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::api::Accounting;
    use crate::jobs::{
        ApiVersion, FailureKind, InputSource, JobFailure, JobSpec, SavedImage, Stage,
    };

    /// A plan of the four control types with a random seed, from `planner`.
    fn plan(planner: &mut Planner) -> GridPlan {
        planner.setup.types = [true; 4];
        let base = GenParams {
            prompt: "a dancer".into(),
            seed: -1,
            ..Default::default()
        };
        let input = InputSource::Url("https://example.com/dancer.jpg".into());
        match planner.plan(&base, Some(&input), ApiVersion::V1) {
            Planned::Ready(p) => p.clone(),
            other => panic!("{other:?}"),
        }
    }

    /// A comparison of the four types, sent; returns the submitted jobs.
    fn started() -> (CompareState, Vec<(JobId, JobSpec)>) {
        let mut s = CompareState::default();
        let p = plan(&mut s.planner);
        let subs = s.start(p).into_iter().filter_map(submit).collect();
        (s, subs)
    }

    fn submit(c: Command) -> Option<(JobId, JobSpec)> {
        match c {
            Command::Submit { id, spec } => Some((id, spec)),
            _ => None,
        }
    }

    fn done(id: JobId, cost: Option<f64>, preview: bool) -> Event {
        let image = SavedImage {
            path: PathBuf::from(format!("/g/{id}.jpg")),
            sidecar: PathBuf::from(format!("/g/{id}.json")),
            width: 16,
            height: 16,
            seed: 5,
            preview: preview.then(|| Arc::new(image::RgbaImage::new(16, 16))),
        };
        let accounting = Accounting {
            cost,
            ..Default::default()
        };
        Event::Done {
            id,
            images: vec![image],
            accounting,
        }
    }

    fn failed(id: JobId, maybe_billed: bool) -> Event {
        let message = "The service failed (500)".into();
        let kind = FailureKind::Http(500);
        let failure = JobFailure {
            message,
            kind,
            maybe_billed,
        };
        Event::Failed { id, failure }
    }

    fn stage(id: JobId) -> Event {
        let stage = Stage::Waiting;
        Event::Stage { id, stage }
    }

    fn cancelled(id: JobId, maybe_billed: bool) -> Event {
        Event::Cancelled { id, maybe_billed }
    }

    fn state(s: &CompareState, i: usize) -> CellState {
        s.run().unwrap().cells[i].state.clone()
    }

    #[test]
    fn starting_sends_one_submit_per_cell_and_a_new_plan_follows() {
        let mut s = CompareState::default();
        let p = plan(&mut s.planner);
        assert_eq!(
            plan(&mut s.planner),
            p,
            "the plan stays put until it is sent"
        );
        let subs: Vec<_> = s.start(p.clone()).into_iter().filter_map(submit).collect();
        assert_eq!(subs.len(), 4);
        let ids: Vec<JobId> = subs.iter().map(|(id, _)| *id).collect();
        assert_eq!(s.job_ids(), ids);
        assert!(subs.iter().zip(&p.cells).all(|((_, a), b)| a == b));
        let run = s.run().unwrap();
        assert_eq!(Some(run.group), p.cells[0].group.as_ref().map(|g| g.group));
        let queued = CellState::Waiting("queued".into());
        assert!(run.cells.iter().all(|c| c.state == queued));
        assert_eq!(run.label(3), "cn_type: tile");
        assert!(s.is_running());
        // The next plan is a new one (a new group and seed).
        let next = plan(&mut s.planner);
        assert_ne!(next.cells[0].group, p.cells[0].group);
    }

    #[test]
    fn events_move_cells_through_their_states() {
        let (mut s, subs) = started();
        let id = |i: usize| subs[i].0;
        assert_eq!(s.apply(&stage(id(3))), Some(CellChange::Status(3)));
        let waiting = CellState::Waiting("waiting for the server".into());
        assert_eq!(state(&s, 3), waiting);

        let ev = done(id(0), None, true);
        let Some(CellChange::Image {
            cell: 0,
            preview: Some(p),
        }) = s.apply(&ev)
        else {
            panic!("the result's preview");
        };
        assert_eq!(p.dimensions(), (16, 16));
        let path = PathBuf::from(format!("/g/{}.jpg", id(0)));
        assert_eq!(state(&s, 0), CellState::Done { path, seed: 5 });
        // A late stage does not undo a result.
        assert_eq!(s.apply(&stage(id(0))), Some(CellChange::Status(0)));
        assert!(matches!(state(&s, 0), CellState::Done { .. }));
        let no_preview = |cell| {
            Some(CellChange::Image {
                cell,
                preview: None,
            })
        };
        assert_eq!(s.apply(&done(id(1), None, false)), no_preview(1));

        assert_eq!(s.apply(&failed(id(2), false)), no_preview(2));
        let message = "The service failed (500)".to_owned();
        let maybe_billed = false;
        assert_eq!(
            state(&s, 2),
            CellState::Failed {
                message,
                maybe_billed
            }
        );
        assert_eq!(s.apply(&cancelled(id(3), true)), no_preview(3));
        assert_eq!(state(&s, 3), CellState::Cancelled { maybe_billed: true });

        let run = s.run().unwrap();
        let (done, failed, total) = (2, 2, 4);
        assert_eq!(
            run.progress(),
            Progress {
                done,
                failed,
                total
            }
        );
        assert!(!s.is_running());
        let params = subs[0].1.params.clone();
        assert_eq!(run.settings_of(0), Some(GenParams { seed: 5, ..params }));
        assert_eq!(run.settings_of(2), None);
    }

    #[test]
    fn a_job_without_an_image_fails_its_cell() {
        let (mut s, subs) = started();
        let (id, images, accounting) = (subs[0].0, Vec::new(), Accounting::default());
        let ev = Event::Done {
            id,
            images,
            accounting,
        };
        assert!(s.apply(&ev).is_some());
        let billed = |st| {
            matches!(
                st,
                CellState::Failed {
                    maybe_billed: true,
                    ..
                }
            )
        };
        assert!(billed(state(&s, 0)));
    }

    #[test]
    fn a_failed_or_cancelled_cell_can_be_retried_alone() {
        let (mut s, subs) = started();
        assert!(s.retry(0).is_none(), "a waiting cell is not sent again");
        s.apply(&failed(subs[1].0, true));
        let (id, spec) = s.retry(1).and_then(submit).unwrap();
        assert_eq!(spec, subs[1].1, "the failed cell's own job, unchanged");
        assert!(subs.iter().all(|(old, _)| *old != id));
        assert_eq!(state(&s, 1), CellState::Waiting("queued".into()));
        assert!(s.job_ids().contains(&id));
        assert!(!s.job_ids().contains(&subs[1].0));
        // The old job's late events are no longer the view's.
        assert_eq!(s.apply(&failed(subs[1].0, false)), None);
        s.apply(&cancelled(subs[2].0, false));
        assert!(s.retry(2).is_some());
        s.apply(&done(subs[3].0, None, true));
        assert!(s.retry(3).is_none(), "a result is not sent again");
        assert!(s.retry(99).is_none());
    }

    #[test]
    fn events_for_other_jobs_are_ignored() {
        let mut s = CompareState::default();
        assert_eq!(s.apply(&done(1, None, true)), None, "nothing sent yet");
        let (mut s, subs) = started();
        let foreign = subs.iter().map(|(id, _)| *id).max().unwrap_or(0) + 1000;
        let before = s.run().cloned();
        assert_eq!(s.apply(&done(foreign, None, true)), None);
        assert_eq!(s.apply(&failed(foreign, true)), None);
        assert_eq!(s.apply(&stage(foreign)), None);
        assert_eq!(s.apply(&cancelled(foreign, true)), None);
        assert_eq!(s.apply(&Event::Notice("hello".into())), None);
        assert_eq!(s.run().cloned(), before);
    }

    #[test]
    fn the_reported_cost_is_per_image_and_comes_from_any_job() {
        let (mut s, _) = started();
        assert_eq!(s.cost_per_image(), crate::api::DEFAULT_COST_PER_IMAGE);
        s.apply(&done(123_456_789, Some(0.06), false));
        assert_eq!(s.cost_per_image(), 0.06);
        s.apply(&done(123_456_790, Some(f64::NAN), false));
        assert_eq!(s.cost_per_image(), 0.06);
    }

    #[test]
    fn cancel_remaining_cancels_only_the_waiting_cells() {
        let (mut s, subs) = started();
        s.apply(&done(subs[0].0, None, false));
        s.apply(&failed(subs[1].0, false));
        let cancels: Vec<JobId> = s
            .cancel_remaining()
            .into_iter()
            .filter_map(|c| match c {
                Command::Cancel(id) => Some(id),
                _ => None,
            })
            .collect();
        assert_eq!(cancels, vec![subs[2].0, subs[3].0]);
    }
}
