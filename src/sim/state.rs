//! The stand-in's shared state: the statistics, the balance, the v2 jobs and their lifecycle
//! (QUEUED → PROCESSING → COMPLETED, billed once when they complete), and the in-flight gauge.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use tokio_util::sync::CancellationToken;

use super::SimConfig;
use super::account::Record;
use super::faults::{Fault, FaultPlan};
use super::render::RenderSpec;
use super::validate::GenRequest;

/// The share of `delay` a v2 job spends `QUEUED` before `PROCESSING`.
pub(super) const QUEUED_SHARE: f64 = 0.2;
/// At most this many distinct `User-Agent` values are kept in the stats.
pub(super) const MAX_USER_AGENTS: usize = 64;

/// What the stand-in has seen so far (a snapshot: see
/// [`SimServer::stats`](super::SimServer::stats)).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SimStats {
    /// `POST /v1/flux-controlnet` requests received (valid or not).
    pub v1_requests: u64,
    /// `POST /v2/flux-controlnet` requests received (valid or not).
    pub v2_submits: u64,
    /// `GET /v2/requests/{id}/status` requests.
    pub status_polls: u64,
    /// `GET /v2/requests/{id}` requests.
    pub result_fetches: u64,
    /// `GET /v1/get-user-credits` requests.
    pub credits_calls: u64,
    /// Every answer sent, by status (a dropped connection sends none).
    pub by_status: BTreeMap<u16, u64>,
    /// Generations billed: v1 answers sent complete with `200`, and v2 jobs that completed (a v2
    /// job is billed when it completes, fetched or not: compare with `v2_results_delivered`).
    pub generations_billed: u64,
    /// What those generations cost, in total (USD): what a ledger of this account must sum to.
    pub billed_usd: f64,
    /// Completed v2 results answered to a `GET /v2/requests/{id}` (the same job may count twice
    /// when fetched twice).
    pub v2_results_delivered: u64,
    /// `GET /outputs/…` downloads answered with an image.
    pub outputs_served: u64,
    /// The most v1 generations running at the same time.
    pub max_in_flight: usize,
    /// Start and end of each v1 generation (from validation to the answer), to prove concurrency.
    pub spans: Vec<(Instant, Instant)>,
    /// The distinct `User-Agent` values seen (`""` for a request without one), first seen first.
    pub user_agents: Vec<String>,
    /// Faults injected, by name (`"429"`, `"reset"`, …).
    pub faults_injected: BTreeMap<String, u64>,
    /// Every admitted v1 request in arrival order: its prompt and the fault it drew (`None` for a
    /// normal answer). Lets a test prove what was re-sent after what.
    pub v1_log: Vec<(String, Option<&'static str>)>,
    /// Generations that ran and were billed though their answer was lost (a dropped connection,
    /// a cut body, garbage): not in `generations_billed`, but in the balance and the history.
    pub billed_without_answer: u64,
    /// What those cost (USD).
    pub billed_without_answer_usd: f64,
    /// `GET /inference-request/request-history[/{id}]` requests.
    pub history_calls: u64,
    /// Images stored by `POST /upload-asset`, and the bytes of those requests' bodies.
    pub uploads: u64,
    pub upload_bytes: u64,
    /// Admitted generation requests whose `image` was a URL, and those with inline base64.
    pub images_by_url: u64,
    pub images_inline: u64,
    /// The bytes of every admitted generation request body.
    pub request_bytes: u64,
    /// Every admitted generation request (v1 and v2), in arrival order: what it asked for and
    /// the image it carried (issue 26's framing and refine are checked against these).
    pub received: Vec<Received>,
    /// The inline image of the last admitted request, as decoded from its base64 (the bytes a
    /// test compares with what it framed).
    pub last_image: Option<Vec<u8>>,
}

/// One admitted generation request, as the stand-in received it.
#[derive(Debug, Clone, PartialEq)]
pub struct Received {
    /// Every knob as sent.
    pub params: crate::api::GenParams,
    /// The image: a URL, or inline with its own size.
    pub input: super::InputImage,
    /// The SHA-256 (hex) of the inline image's bytes as decoded from the base64 (`None` for a
    /// URL).
    pub image_sha256: Option<String>,
}

/// A v2 job.
#[derive(Debug, Clone)]
pub(super) struct Job {
    pub(super) req: GenRequest,
    pub(super) seed: i64,
    pub(super) submitted: Instant,
    pub(super) fault: Option<Fault>,
    /// The balance right after this job was billed (`None`: not billed yet).
    pub(super) billed: Option<f64>,
}

/// What a client sees of a v2 job now.
pub(super) enum JobView {
    Missing,
    Waiting(&'static str),
    Failed,
    Completed { billed_balance: f64 },
}

#[derive(Debug)]
pub(super) struct Inner {
    pub(super) stats: SimStats,
    pub(super) credits: f64,
    pub(super) seed_rng: fastrand::Rng,
    pub(super) next_id: u64,
    pub(super) jobs: HashMap<String, Job>,
    /// Output files by name (`{id}.{ext}` or `{id}-{n}.{ext}`), rendered on each download.
    pub(super) outputs: HashMap<String, RenderSpec>,
    /// The account's history, oldest first (see `account.rs`).
    pub(super) history: Vec<Record>,
    /// Stored assets by name: uploads, and the inline inputs the history names.
    pub(super) assets: HashMap<String, Vec<u8>>,
    pub(super) next_asset: u64,
}

impl Inner {
    /// The history record of a request.
    pub(super) fn record(&mut self, id: &str) -> Option<&mut Record> {
        self.history.iter_mut().rev().find(|r| r.request_id == id)
    }
}

pub(super) struct Shared {
    pub(super) cfg: SimConfig,
    pub(super) origin: String,
    pub(super) inner: Mutex<Inner>,
    pub(super) faults: Mutex<FaultPlan>,
    pub(super) in_flight: AtomicUsize,
    /// Bounds the renders running at once (one per core).
    pub(super) renders: tokio::sync::Semaphore,
}

impl Shared {
    pub(super) fn lock(&self) -> MutexGuard<'_, Inner> {
        // A poisoned lock only means another handler panicked mid-update; the counters stay usable.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(super) fn plan(&self) -> MutexGuard<'_, FaultPlan> {
        self.faults.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(super) fn new_id(&self, inner: &mut Inner) -> String {
        inner.next_id += 1;
        format!("sim-{:06}-{:08x}", inner.next_id, inner.seed_rng.u32(..))
    }

    pub(super) fn record_fault(&self, f: Fault) {
        *self
            .lock()
            .stats
            .faults_injected
            .entry(f.name().to_owned())
            .or_default() += 1;
    }

    pub(super) fn cost(&self, req: &GenRequest) -> f64 {
        self.cfg.cost_per_image * f64::from(req.params.samples)
    }

    /// The state of a v2 job now. A job that has run its `delay` is completed (billed once, its
    /// output files published) before anything else is decided, so a record that expires unread was
    /// still billed, as on the real service.
    pub(super) fn view_job(&self, inner: &mut Inner, id: &str, now: Instant) -> JobView {
        let delay = self.cfg.delay;
        let Some(job) = inner.jobs.get(id) else {
            return JobView::Missing;
        };
        let age = now.saturating_duration_since(job.submitted);
        let completes = age >= delay
            && job.billed.is_none()
            && !matches!(job.fault, Some(Fault::Fail | Fault::Expire));
        if completes {
            let job = job.clone();
            inner.credits -= self.cost(&job.req);
            inner.stats.billed_usd += self.cost(&job.req);
            let balance = inner.credits;
            inner.stats.generations_billed += 1;
            let mut urls = Vec::new();
            for (name, spec) in output_files(id, &job) {
                urls.push(format!("{}/outputs/{name}", self.origin));
                inner.outputs.insert(name, spec);
            }
            let cost = self.cost(&job.req);
            if let Some(r) = inner.record(id) {
                r.complete(cost, urls);
            }
            if let Some(j) = inner.jobs.get_mut(id) {
                j.billed = Some(balance);
            }
        }
        let Some(job) = inner.jobs.get(id) else {
            return JobView::Missing;
        };
        let failed = age >= delay && job.billed.is_none();
        let why = if job.fault == Some(Fault::Expire) {
            "The job's record expired (simulated)"
        } else {
            "The inference failed: the model ran out of memory (simulated)"
        };
        if failed && let Some(r) = inner.record(id).filter(|r| r.status == "PENDING") {
            r.fail(why);
        }
        let Some(job) = inner.jobs.get(id) else {
            return JobView::Missing;
        };
        if age >= self.cfg.v2_expiry || (job.fault == Some(Fault::Expire) && age >= delay) {
            inner.jobs.remove(id);
            return JobView::Missing;
        }
        if age < delay.mul_f64(QUEUED_SHARE) {
            JobView::Waiting("QUEUED")
        } else if age < delay {
            JobView::Waiting("PROCESSING")
        } else if let Some(b) = job.billed {
            JobView::Completed { billed_balance: b }
        } else {
            // Only a failed job reaches here (an expired one was removed above).
            JobView::Failed
        }
    }

    /// Completes (and bills) every v2 job that is due, so the balance is right for any reader.
    pub(super) fn settle(&self, inner: &mut Inner, now: Instant) {
        let due: Vec<String> = inner
            .jobs
            .iter()
            .filter(|(_, j)| {
                let age = now.saturating_duration_since(j.submitted);
                (j.billed.is_none() && age >= self.cfg.delay) || age >= self.cfg.v2_expiry
            })
            .map(|(id, _)| id.clone())
            .collect();
        for id in due {
            self.view_job(inner, &id, now);
        }
    }
}

/// The output files of a job: one per sample.
pub(super) fn output_files(id: &str, job: &Job) -> Vec<(String, RenderSpec)> {
    files_for(id, &job.req, job.seed)
}

/// The output files of request `id`: one per sample.
pub(super) fn files_for(id: &str, req: &GenRequest, seed: i64) -> Vec<(String, RenderSpec)> {
    let ext = req.params.image_format.extension();
    let n = req.params.samples.max(1);
    (0..n)
        .map(|i| {
            let name = if n == 1 {
                format!("{id}.{ext}")
            } else {
                format!("{id}-{}.{ext}", i + 1)
            };
            (name, spec_for(req, seed, i))
        })
        .collect()
}

pub(super) fn spec_for(req: &GenRequest, seed: i64, sample: u32) -> RenderSpec {
    let (width, height) = req.output_size();
    RenderSpec {
        width,
        height,
        cn_type: req.params.cn_type,
        seed: seed.saturating_add(i64::from(sample)),
        prompt: req.params.prompt.clone(),
        format: req.params.image_format,
        quality: req.params.quality,
    }
}

/// Counts a v1 generation in flight while alive and records its span when dropped (also when the
/// client went away and the handler was cancelled).
pub(super) struct InFlight {
    shared: Arc<Shared>,
    start: Instant,
}

impl InFlight {
    pub(super) fn new(shared: Arc<Shared>) -> Self {
        let now = shared.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        {
            let mut inner = shared.lock();
            inner.stats.max_in_flight = inner.stats.max_in_flight.max(now);
        }
        Self {
            shared,
            start: Instant::now(),
        }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.shared.in_flight.fetch_sub(1, Ordering::SeqCst);
        let span = (self.start, Instant::now());
        self.shared.lock().stats.spans.push(span);
    }
}

/// The kill switch of the connection a request came on (the `reset` fault).
#[derive(Clone)]
pub(super) struct ConnKill(pub(super) CancellationToken);
