//! What the window knows about this session's jobs and results: a queue entry per submitted job,
//! moved on by the runtime's events, and the results it produced. Nothing here is persisted (every
//! paid result is already on disk when `Done` arrives).

use std::path::PathBuf;
use std::time::Duration;

use super::clock::UiTime;

use crate::api::{Accounting, GenParams};
use crate::jobs::{JobFailure, JobId, JobSpec, SavedImage, Stage};

/// Where a queued job is, as the queue panel shows it.
#[derive(Debug, Clone, PartialEq)]
pub enum JobStatus {
    /// Still running (or waiting) at this stage.
    Active(Stage),
    /// Finished; the file names of what was saved.
    Done {
        files: Vec<String>,
    },
    Failed(JobFailure),
    Cancelled {
        maybe_billed: bool,
    },
}

impl JobStatus {
    /// Whether the job may still change (and can be cancelled).
    pub fn is_active(&self) -> bool {
        matches!(self, JobStatus::Active(_))
    }

    /// The short status text.
    pub fn label(&self) -> String {
        match self {
            JobStatus::Active(stage) => stage.label(),
            JobStatus::Done { .. } => "done".into(),
            JobStatus::Failed(f) => format!("failed ({})", f.kind),
            JobStatus::Cancelled { .. } => "cancelled".into(),
        }
    }
}

/// One job in the queue panel.
#[derive(Debug, Clone)]
pub struct JobEntry {
    pub id: JobId,
    pub spec: JobSpec,
    pub status: JobStatus,
    pub started: UiTime,
    pub finished: Option<UiTime>,
    /// v2: the server's id for the job, once known.
    pub request_id: Option<String>,
    /// Found in the journal at start-up rather than submitted in this session.
    pub recovered: bool,
    /// When the current stage was reported: a stage with a wait (pacing, a retry) counts down
    /// from here.
    pub stage_at: UiTime,
    /// When it left the line of waiting jobs (its first stage after `Queued`): its run time
    /// counts from here, not from a paused queue's wait.
    pub left_line: Option<UiTime>,
}

impl JobEntry {
    /// A job submitted (or recovered) at `now` on the window's clock.
    pub fn new(id: JobId, spec: JobSpec, now: UiTime) -> JobEntry {
        JobEntry {
            id,
            spec,
            status: JobStatus::Active(Stage::Queued),
            started: now,
            finished: None,
            request_id: None,
            recovered: false,
            stage_at: now,
            left_line: None,
        }
    }

    /// When the current stage's wait ends (pacing, or a retry's backoff), if it has one.
    pub fn deadline(&self) -> Option<UiTime> {
        match &self.status {
            JobStatus::Active(
                Stage::Pacing { wait }
                | Stage::RateLimited { wait }
                | Stage::Retrying { delay: wait, .. },
            ) => Some(self.stage_at.after(*wait)),
            _ => None,
        }
    }

    /// How long the current stage's wait still runs at `now` (zero once it is over), if it has one.
    pub fn time_left(&self, now: UiTime) -> Option<Duration> {
        self.deadline().map(|d| d.since(now))
    }

    /// The short status text at `now`: a wait is a live countdown from when its stage arrived
    /// (the runtime reports a wait once, when it starts).
    pub fn status_text(&self, now: UiTime) -> String {
        let left = self.time_left(now).map(whole_seconds);
        match (&self.status, left) {
            (JobStatus::Active(Stage::Pacing { .. }), Some(0)) => "pacing: sending now".into(),
            (JobStatus::Active(Stage::RateLimited { .. }), Some(0)) => {
                "rate-limited, trying now".into()
            }
            (JobStatus::Active(Stage::RateLimited { .. }), Some(s)) => {
                format!("rate-limited, next try in {}", super::widgets::seconds(s))
            }
            (
                JobStatus::Active(Stage::Retrying {
                    attempt, reason, ..
                }),
                Some(0),
            ) if is_rate_limited(reason) => {
                format!("rate-limited, trying now (attempt {attempt})")
            }
            (
                JobStatus::Active(Stage::Retrying {
                    attempt, reason, ..
                }),
                Some(s),
            ) if is_rate_limited(reason) => {
                format!(
                    "rate-limited, next try in {} (attempt {attempt})",
                    super::widgets::seconds(s)
                )
            }
            (JobStatus::Active(Stage::Pacing { .. }), Some(s)) => {
                format!("pacing: next slot in {}", super::widgets::seconds(s))
            }
            (JobStatus::Active(Stage::Retrying { attempt, .. }), Some(0)) => {
                format!("retrying now (attempt {attempt})")
            }
            (JobStatus::Active(Stage::Retrying { attempt, .. }), Some(s)) => format!(
                "retrying in {} (attempt {attempt})",
                super::widgets::seconds(s)
            ),
            (status, _) => status.label(),
        }
    }

    /// How long the job has run at `now` (until it finished).
    pub fn elapsed(&self, now: UiTime) -> Duration {
        self.finished.unwrap_or(now).since(self.started)
    }

    /// How long the job took once it left the line (what a generation takes, without the time
    /// it waited its turn).
    pub fn run_time(&self, now: UiTime) -> Duration {
        self.finished
            .unwrap_or(now)
            .since(self.left_line.unwrap_or(self.started))
    }
}

/// A wait in whole seconds, rounded up (a countdown shows 1 s until it is over).
fn whole_seconds(d: Duration) -> u64 {
    let s = d.as_secs();
    if d.subsec_nanos() > 0 { s + 1 } else { s }
}

/// Why a job waits for a pacing slot, in plain words. The runtime's event does not say, so it is
/// read from what the window knows: `user_rate` is the pacing set in the settings (requests a
/// minute, `None` when off), `rate_limited` whether the service has answered "too many requests"
/// (429) in this session. With pacing off, only a 429 makes the runtime pace.
pub fn pacing_reason(user_rate: Option<f64>, rate_limited: bool) -> String {
    match (user_rate, rate_limited) {
        (_, true) => "the service said too many requests (429): waiting the time it asked for, \
                      then going on"
            .into(),
        (Some(r), false) => format!("your plan's limit: {r:.0} requests a minute (Settings)"),
        (None, false) => "waiting its turn".into(),
    }
}

/// Whether a retry's reason is the service's "too many requests".
fn is_rate_limited(reason: &str) -> bool {
    let r = reason.to_ascii_lowercase();
    r.contains("429") || r.contains("rate limit") || r.contains("too many requests")
}

/// One saved image of a finished job.
#[derive(Clone)]
pub struct ResultEntry {
    pub job: JobId,
    pub saved: SavedImage,
    /// The parameters as sent (the seed replaced by the one the server used).
    pub params: GenParams,
    pub input: String,
    pub accounting: Accounting,
    /// When the preview was turned into a texture (made lazily on the UI thread).
    pub texture: Option<egui::TextureHandle>,
    /// Why there is no preview to show, if there is none.
    pub preview_problem: Option<String>,
    /// The `{a|b}` template the prompt was expanded from, if it was (variations).
    pub prompt_template: Option<String>,
    /// What was done to the input before it was sent (`None`: nothing).
    pub framing: Option<crate::api::framing::Framing>,
}

impl std::fmt::Debug for ResultEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResultEntry")
            .field("job", &self.job)
            .field("saved", &self.saved)
            .field("has_texture", &self.texture.is_some())
            .finish()
    }
}

/// The queue and the results of this session.
#[derive(Debug, Default)]
pub struct Session {
    pub jobs: Vec<JobEntry>,
    pub results: Vec<ResultEntry>,
    /// Index into `results` of the one shown large.
    pub selected: Option<usize>,
    /// The seed of the last finished job (for "reuse seed").
    pub last_seed: Option<i64>,
    /// The last known cost of one image, from the service's accounting.
    pub last_cost_per_image: Option<f64>,
    /// When the service last answered "too many requests" (429) to a job of this session.
    pub rate_limited_at: Option<UiTime>,
    /// The window's clock at the frame being drawn: events and new jobs are stamped with it.
    pub now: UiTime,
    /// The runtime holds the jobs waiting to be sent (issue 26).
    pub paused: bool,
    /// The jobs waiting to be sent, first to go first, as the runtime last said.
    pub waiting: Vec<JobId>,
    /// The jobs left waiting when the window last closed, back and paused until the user says
    /// Resume or Discard.
    pub restored: Vec<JobId>,
}

impl Session {
    pub fn job_mut(&mut self, id: JobId) -> Option<&mut JobEntry> {
        self.jobs.iter_mut().find(|j| j.id == id)
    }

    pub fn job(&self, id: JobId) -> Option<&JobEntry> {
        self.jobs.iter().find(|j| j.id == id)
    }

    /// The line of waiting jobs changed: the queue shows them in the order they will be sent
    /// (first to go at the top of them), where the waiting jobs were.
    pub fn on_lineup(&mut self, paused: bool, waiting: Vec<JobId>) {
        self.paused = paused;
        let place: std::collections::HashMap<JobId, usize> =
            waiting.iter().enumerate().map(|(i, id)| (*id, i)).collect();
        // The slots the waiting jobs hold, refilled in line order (linear in the queue's length).
        let slots: Vec<usize> = (0..self.jobs.len())
            .filter(|&i| place.contains_key(&self.jobs[i].id))
            .collect();
        let mut in_line: Vec<(usize, usize)> = slots
            .iter()
            .map(|&i| {
                (
                    place.get(&self.jobs[i].id).copied().unwrap_or(usize::MAX),
                    i,
                )
            })
            .collect();
        in_line.sort_unstable();
        let mut jobs: Vec<Option<JobEntry>> = std::mem::take(&mut self.jobs)
            .into_iter()
            .map(Some)
            .collect();
        let moved: Vec<JobEntry> = in_line
            .iter()
            .filter_map(|&(_, from)| jobs[from].take())
            .collect();
        for (slot, job) in slots.into_iter().zip(moved) {
            jobs[slot] = Some(job);
        }
        self.jobs = jobs.into_iter().flatten().collect();
        self.waiting = waiting;
    }

    /// The restored jobs still waiting (those sent or cancelled since are no longer asked about).
    pub fn restored_waiting(&self) -> Vec<JobId> {
        self.restored
            .iter()
            .copied()
            .filter(|id| self.waiting.contains(id))
            .collect()
    }

    /// An edited waiting job: `entry` takes job `old`'s card and place in line (the runtime's
    /// next line says the same).
    pub fn replace_job(&mut self, old: JobId, entry: JobEntry) {
        let id = entry.id;
        match self.jobs.iter().position(|j| j.id == old) {
            Some(i) => self.jobs[i] = entry,
            None => self.jobs.insert(0, entry),
        }
        for w in self.waiting.iter_mut().filter(|w| **w == old) {
            *w = id;
        }
    }

    /// Drops the jobs `ids` from the queue (discarded by the user: their ends are not shown).
    pub fn forget(&mut self, ids: &[JobId]) {
        self.jobs.retain(|j| !ids.contains(&j.id));
        self.restored.retain(|id| !ids.contains(id));
    }

    /// A job was submitted (or recovered): it goes in the queue, newest first.
    pub fn add_job(&mut self, entry: JobEntry) {
        if self.job(entry.id).is_none() {
            self.jobs.insert(0, entry);
        }
    }

    /// A stage change. Events for a job the queue does not know (another window's, or one already
    /// cleared) are ignored; a finished job does not go back to active.
    pub fn on_stage(&mut self, id: JobId, stage: Stage) {
        let now = self.now;
        if let Some(j) = self.job_mut(id)
            && j.status.is_active()
        {
            if let Stage::Submitted { request_id } = &stage {
                j.request_id = Some(request_id.clone());
            }
            let limited =
                matches!(&stage, Stage::Retrying { reason, .. } if is_rate_limited(reason));
            if stage != Stage::Queued && j.left_line.is_none() {
                j.left_line = Some(now);
            }
            j.status = JobStatus::Active(stage);
            j.stage_at = now;
            if limited {
                self.rate_limited_at = Some(self.now);
            }
        }
    }

    /// The seed a finished job's first image was made with (the server's answer to a random
    /// seed), if it produced one in this session.
    pub fn seed_used(&self, id: JobId) -> Option<i64> {
        self.results
            .iter()
            .find(|r| r.job == id)
            .map(|r| r.saved.seed)
    }

    /// A job finished: its entry is marked done and each image becomes a result (the newest is
    /// selected). Returns the indices of the new results.
    pub fn on_done(
        &mut self,
        id: JobId,
        images: Vec<SavedImage>,
        accounting: Accounting,
    ) -> std::ops::Range<usize> {
        let now = self.now;
        let files = images
            .iter()
            .map(|i| {
                i.path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_else(|| i.path.display().to_string())
            })
            .collect();
        let (params, input, template, framing) = match self.job(id) {
            Some(j) => (
                j.spec.params.clone(),
                j.spec.input.describe(),
                j.spec.prompt_template.clone(),
                Some(j.spec.framing).filter(|f| !f.is_identity()),
            ),
            None => (GenParams::default(), String::new(), None, None),
        };
        if let Some(j) = self.job_mut(id) {
            j.status = JobStatus::Done { files };
            j.finished = Some(now);
        }
        if let Some(cost) = accounting.cost
            && crate::api::plausible_cost(cost, images.len() as u32).is_some_and(|c| c > 0.0)
        {
            self.last_cost_per_image = Some(cost / images.len().max(1) as f64);
        }
        let start = self.results.len();
        for saved in images {
            let mut p = params.clone();
            p.seed = saved.seed;
            self.last_seed = Some(saved.seed);
            self.results.push(ResultEntry {
                job: id,
                saved,
                params: p,
                input: input.clone(),
                accounting: accounting.clone(),
                texture: None,
                preview_problem: None,
                prompt_template: template.clone(),
                framing,
            });
        }
        if self.last_seed.is_none() {
            self.last_seed = accounting.seed;
        }
        let end = self.results.len();
        if end > start {
            self.selected = Some(end - 1);
        }
        start..end
    }

    pub fn on_failed(&mut self, id: JobId, failure: JobFailure) {
        let now = self.now;
        if failure.kind == crate::jobs::FailureKind::Http(429) {
            self.rate_limited_at = Some(self.now);
        }
        if let Some(j) = self.job_mut(id) {
            j.status = JobStatus::Failed(failure);
            j.finished = Some(now);
        }
    }

    pub fn on_cancelled(&mut self, id: JobId, maybe_billed: bool) {
        let now = self.now;
        if let Some(j) = self.job_mut(id) {
            j.status = JobStatus::Cancelled { maybe_billed };
            j.finished = Some(now);
        }
    }

    /// Drops finished, failed and cancelled jobs from the queue (their results stay).
    pub fn clear_finished(&mut self) {
        self.jobs.retain(|j| j.status.is_active());
    }

    /// Whether any job is still running (the window then repaints each second for the clocks).
    /// Images asked for by the jobs not ended yet (what may still be billed).
    pub fn unfinished_images(&self) -> usize {
        self.jobs
            .iter()
            .filter(|j| j.status.is_active())
            .map(|j| j.spec.params.samples.max(1) as usize)
            .sum()
    }

    pub fn any_active(&self) -> bool {
        self.jobs.iter().any(|j| j.status.is_active())
    }

    /// The output folder, as the last saved result shows it.
    pub fn output_folder(&self) -> Option<PathBuf> {
        self.results
            .last()
            .and_then(|r| r.saved.path.parent().map(|p| p.to_path_buf()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jobs::{ApiVersion, InputSource};

    fn spec() -> JobSpec {
        JobSpec {
            input: InputSource::Url("https://x/y.png".into()),
            params: GenParams {
                prompt: "p".into(),
                ..Default::default()
            },
            api: ApiVersion::V1,
            group: None,
            prompt_template: None,
            batch: None,
            framing: Default::default(),
        }
    }

    fn saved(seed: i64) -> SavedImage {
        SavedImage {
            path: PathBuf::from("/tmp/out/a.jpg"),
            sidecar: PathBuf::from("/tmp/out/a.json"),
            width: 8,
            height: 8,
            seed,
            preview: None,
        }
    }

    #[test]
    fn the_waiting_jobs_show_in_line_order_where_they_were() {
        let mut s = Session::default();
        for id in 1..=5 {
            s.add_job(JobEntry::new(id, spec(), UiTime(0.0)));
        }
        // Newest first: 5 4 3 2 1. Jobs 1 and 2 are sent; 3, 4 and 5 wait, 5 first.
        s.on_lineup(true, vec![5, 3, 4]);
        let order: Vec<JobId> = s.jobs.iter().map(|j| j.id).collect();
        assert_eq!(order, [5, 3, 4, 2, 1]);
        assert!(s.paused);
        assert_eq!(s.waiting, [5, 3, 4]);
        s.on_lineup(false, vec![4, 5, 99]);
        let order: Vec<JobId> = s.jobs.iter().map(|j| j.id).collect();
        assert_eq!(
            order,
            [4, 3, 5, 2, 1],
            "3 left the line: it keeps its place"
        );
    }

    #[test]
    fn done_records_results_seed_and_cost() {
        let mut s = Session::default();
        s.add_job(JobEntry::new(7, spec(), UiTime(0.0)));
        s.on_stage(7, Stage::Waiting);
        assert_eq!(s.jobs[0].status.label(), "waiting for the server");
        let acc = Accounting {
            cost: Some(0.1),
            ..Default::default()
        };
        let r = s.on_done(7, vec![saved(11), saved(12)], acc);
        assert_eq!(r, 0..2);
        assert_eq!(s.selected, Some(1));
        assert_eq!(s.last_seed, Some(12));
        assert_eq!(s.last_cost_per_image, Some(0.05));
        assert_eq!(s.results[0].params.seed, 11);
        assert_eq!(
            s.jobs[0].status,
            JobStatus::Done {
                files: vec!["a.jpg".into(), "a.jpg".into()]
            }
        );
        // A late stage event does not resurrect a finished job.
        s.on_stage(7, Stage::Saving);
        assert_eq!(s.jobs[0].status.label(), "done");
        assert_eq!(s.output_folder(), Some(PathBuf::from("/tmp/out")));
        s.clear_finished();
        assert!(s.jobs.is_empty());
        assert_eq!(s.results.len(), 2);
    }

    #[test]
    fn unknown_ids_are_ignored() {
        let mut s = Session::default();
        s.on_stage(1, Stage::Waiting);
        s.on_cancelled(1, true);
        assert!(s.jobs.is_empty());
        s.add_job(JobEntry::new(1, spec(), UiTime(0.0)));
        s.add_job(JobEntry::new(1, spec(), UiTime(0.0)));
        assert_eq!(s.jobs.len(), 1);
        assert!(s.any_active());
        s.on_cancelled(1, true);
        assert!(!s.any_active());
    }

    #[test]
    fn waits_count_down_from_when_their_stage_arrived() {
        let mut s = Session::default();
        s.add_job(JobEntry::new(3, spec(), UiTime(0.0)));
        s.on_stage(
            3,
            Stage::Pacing {
                wait: Duration::from_secs(45),
            },
        );
        let at = s.jobs[0].stage_at;
        assert_eq!(s.jobs[0].status_text(at), "pacing: next slot in 45 s");
        let later = at.after(Duration::from_millis(20_500));
        assert_eq!(s.jobs[0].status_text(later), "pacing: next slot in 25 s");
        assert_eq!(
            s.jobs[0].time_left(later),
            Some(Duration::from_millis(24_500))
        );
        assert_eq!(
            s.jobs[0].status_text(at.after(Duration::from_secs(50))),
            "pacing: sending now"
        );
        assert!(s.rate_limited_at.is_none());
        s.on_stage(
            3,
            Stage::Retrying {
                attempt: 2,
                delay: Duration::from_secs(90),
                reason: "rate limited (429)".into(),
            },
        );
        let at = s.jobs[0].stage_at;
        assert_eq!(
            s.jobs[0].status_text(at.after(Duration::from_secs(10))),
            "rate-limited, next try in 1 min 20 s (attempt 2)"
        );
        assert!(s.rate_limited_at.is_some(), "a 429 retry is remembered");
        s.on_stage(3, Stage::Waiting);
        assert_eq!(s.jobs[0].time_left(at), None);
        assert_eq!(s.jobs[0].status_text(at), "waiting for the server");
    }

    #[test]
    fn pacing_says_why() {
        let held = pacing_reason(None, true);
        assert!(held.contains("too many requests (429)"), "{held}");
        assert!(!held.contains("pacing is off"), "one honest line: {held}");
        assert!(!pacing_reason(None, false).contains("429"));
        let plan = pacing_reason(Some(5.0), false);
        assert!(plan.contains("limit: 5 requests a minute"), "{plan}");
        assert!(!plan.contains("429"), "{plan}");
        assert!(pacing_reason(Some(5.0), true).contains("too many requests (429)"));
        assert!(is_rate_limited(
            "polling: the service answered 429 Too Many Requests"
        ));
        assert!(!is_rate_limited("service unavailable (503)"));
    }
}
