//! The job runtime itself: one dispatcher task that owns the settings and hands each submitted job
//! to its own task (named by job id in the logs). A job takes a concurrency permit, prepares its input
//! off the async threads, waits for the pacer, runs the v1 or v2 flow of the client, saves every image
//! to the gallery before reporting it, and keeps the journal in step so that a crash loses nothing.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::{Semaphore, mpsc};
use tokio_util::sync::CancellationToken;

use super::budget::Gate;
use super::clients::Clients;
use super::journal::{Journal, JournalJob, now_ms};
use super::ledger::Ledger;
use super::pacer::Pacer;
use super::services::Services;
use super::types::{
    ApiVersion, Command, Event, FailureKind, InputSource, JobFailure, JobId, JobSpec, JobsHandle,
    RuntimeConfig, SavedImage, Stage,
};
use crate::api::input::{self, PrepareOptions};
use crate::api::{ApiError, Client, ClientConfig, Progress};
use crate::gallery::Store;
use crate::keystore::KeyStore;
use tracing::Instrument as _;

pub use super::types::Notify;

pub(super) use super::save::{charge_of, save};
pub(crate) use crate::api::media::decode_preview;

/// What the runtime works with besides its settings.
pub struct RuntimeDeps {
    pub store: Store,
    pub keys: KeyStore,
    pub journal: Option<Arc<Journal>>,
    /// Unfinished jobs read from the journal at start-up, to finish or report.
    pub recovered: Vec<JournalJob>,
    /// Client settings other than the base URL (timeouts, retries); tests shorten them.
    pub client_template: ClientConfig,
    /// The spend ledger every billed job is recorded in (and the daily budget is checked
    /// against); `None` records nothing (and counts today's spend as this process's alone).
    pub ledger: Option<Arc<Ledger>>,
    /// The window's list of jobs not sent yet, kept across a restart (`None` keeps none).
    pub waiting: Option<Arc<super::waiting::WaitingStore>>,
}

impl RuntimeDeps {
    /// A store and the system key store, no journal.
    pub fn new(store: Store, keys: KeyStore) -> RuntimeDeps {
        RuntimeDeps {
            store,
            keys,
            journal: None,
            recovered: Vec::new(),
            client_template: ClientConfig::default(),
            ledger: None,
            waiting: None,
        }
    }
}

pub(super) struct Shared {
    pub(super) events: std::sync::mpsc::Sender<Event>,
    pub(super) notify: Notify,
    pub(super) store: Store,
    pub(super) journal: Option<Arc<Journal>>,
    pub(super) pacer: Pacer,
    /// The daily budget's gate (today's spend from the ledger, plus jobs in flight).
    pub(super) gate: Gate,
    pub(super) clients: Arc<Clients>,
    pub(super) cancels: Mutex<HashMap<JobId, CancellationToken>>,
    /// Set when the UI or CLI went away: jobs stop, and their journal entries stay open so that the
    /// next start finishes (v2) or reports (v1) them.
    pub(super) shutting_down: std::sync::atomic::AtomicBool,
    /// One lock per input content hash being uploaded: jobs with the same input upload it once.
    pub(super) uploads: super::uploads::UploadLocks,
    /// Request ids this process's jobs own (submitted, or found by a settle): another job's
    /// settle never takes them.
    pub(super) claimed: Mutex<std::collections::HashSet<String>>,
    /// The jobs waiting to be sent, in the order they go.
    pub(super) lineup: super::lineup::Lineup,
    /// The window's waiting list on disk (`None`: the CLI, whose unsent jobs end with it).
    pub(super) waiting: Option<Arc<super::waiting::WaitingStore>>,
}

impl Shared {
    pub(super) fn emit(&self, e: Event) {
        // The receiver is gone only when the UI or CLI has exited; nothing is left to tell.
        let _ = self.events.send(e);
        (self.notify)();
    }

    /// Marks a request id as owned by a job of this process.
    pub(super) fn claim_request(&self, request_id: &str) {
        self.claimed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(request_id.to_owned());
    }

    /// The request ids this process's jobs own.
    pub(super) fn claimed_requests(&self) -> Vec<String> {
        self.claimed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .cloned()
            .collect()
    }

    pub(super) fn stage(&self, id: JobId, stage: Stage) {
        self.emit(Event::Stage { id, stage });
    }

    pub(super) fn journal<T>(
        &self,
        f: impl FnOnce(&Journal) -> Result<T, super::journal::JournalError>,
    ) {
        if let Some(j) = &self.journal
            && let Err(e) = f(j)
        {
            tracing::error!(error = %e, "journal write failed");
            self.emit(Event::Notice(format!(
                "{e}: a crash now could lose track of a job in flight"
            )));
        }
    }

    pub(super) async fn client(&self, cfg: &RuntimeConfig) -> Result<Client, ApiError> {
        self.clients.client(cfg).await
    }
}

/// Starts the runtime on `rt` and returns the UI's (or CLI's) end of it.
pub fn start(
    rt: &tokio::runtime::Handle,
    deps: RuntimeDeps,
    cfg: RuntimeConfig,
    notify: Notify,
) -> JobsHandle {
    let (cmd_tx, cmd_rx) = mpsc::unbounded_channel();
    let (ev_tx, ev_rx) = std::sync::mpsc::channel();
    let clients = Clients::new(deps.keys.clone(), deps.client_template);
    let services = Services::new(
        rt.clone(),
        deps.store.clone(),
        deps.keys,
        clients.clone(),
        deps.ledger.clone(),
        notify.clone(),
    );
    let shared = Arc::new(Shared {
        events: ev_tx,
        notify,
        store: deps.store.clone(),
        journal: deps.journal,
        pacer: Pacer::new(cfg.rate_per_minute),
        gate: Gate::new(deps.ledger),
        clients: clients.clone(),
        cancels: Mutex::new(HashMap::new()),
        shutting_down: std::sync::atomic::AtomicBool::new(false),
        uploads: Default::default(),
        claimed: Mutex::default(),
        lineup: Default::default(),
        waiting: deps.waiting,
    });
    let recovered = deps.recovered;
    rt.spawn(dispatcher(shared, cfg, cmd_rx, recovered));
    JobsHandle::from_channels(cmd_tx, ev_rx, services)
}

async fn dispatcher(
    sh: Arc<Shared>,
    mut cfg: RuntimeConfig,
    mut rx: mpsc::UnboundedReceiver<Command>,
    recovered: Vec<JournalJob>,
) {
    let mut permits = Arc::new(Semaphore::new(cfg.concurrency.clamp(1, 64)));
    super::resume::start_up(&sh, &cfg, &permits, recovered);
    // The window's jobs left waiting come back with its first configuration (its key, its base
    // URL, its concurrency), never with the launch defaults.
    let mut restore = sh.waiting.is_some();
    while let Some(cmd) = rx.recv().await {
        match cmd {
            Command::Submit { id, spec } => submit(&sh, &cfg, &permits, id, spec, None),
            Command::SubmitNext { id, spec } => submit(&sh, &cfg, &permits, id, spec, Some(0)),
            Command::Replace { old, id, spec } => {
                let at = sh.lineup.position(old);
                if let Some(t) = sh
                    .cancels
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .get(&old)
                    .filter(|_| at.is_some())
                {
                    t.cancel();
                }
                submit(&sh, &cfg, &permits, id, spec, at);
            }
            Command::Pause => {
                sh.lineup.set_paused(true);
                sh.lineup_changed();
            }
            Command::Resume => {
                sh.lineup.set_paused(false);
                sh.lineup_changed();
            }
            Command::Reorder(order) => {
                sh.lineup.reorder(&order);
                sh.lineup_changed();
            }
            Command::CancelWaiting => {
                let (_, waiting) = sh.lineup.snapshot();
                for id in &waiting {
                    sh.lineup.leave(*id);
                }
                // Out of line (and off the kept list) before the next command is read.
                sh.lineup_changed();
                let cancels = sh.cancels.lock().unwrap_or_else(|p| p.into_inner());
                for id in waiting {
                    if let Some(t) = cancels.get(&id) {
                        t.cancel();
                    }
                }
            }
            Command::Settle {
                id,
                spec,
                request_id,
                from_ms,
            } => super::settle::settle_command(&sh, &cfg, id, spec, request_id, from_ms),
            Command::Cancel(id) => {
                if sh.lineup.position(id).is_some() {
                    // A waiting job is out of line (and off the kept list) at once.
                    sh.lineup.leave(id);
                    sh.lineup_changed();
                }
                if let Some(t) = sh
                    .cancels
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .get(&id)
                {
                    t.cancel();
                }
            }
            Command::Configure(new) => {
                if new.concurrency != cfg.concurrency {
                    // Jobs already waiting keep the old pool; new ones use the new size.
                    permits = Arc::new(Semaphore::new(new.concurrency.clamp(1, 64)));
                }
                if new.rate_per_minute != cfg.rate_per_minute {
                    sh.pacer.set_rate(new.rate_per_minute);
                }
                cfg = new;
                if std::mem::take(&mut restore) {
                    sh.restore_waiting(&cfg, &permits);
                }
            }
        }
    }
    // The other end is gone (the window closed, the CLI finished): stop every job, leaving its
    // journal entry open.
    sh.shutting_down
        .store(true, std::sync::atomic::Ordering::SeqCst);
    for t in sh
        .cancels
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .values()
    {
        t.cancel();
    }
}

/// `Command::Submit` (and `SubmitNext`, `Replace`): the daily budget checked in the order jobs are
/// submitted (a batch stops at the line that crosses it) and held until the job is recorded or has
/// failed; then the job joins the line (at `at`, or at the back) and runs when its turn comes.
pub(super) fn submit(
    sh: &Arc<Shared>,
    cfg: &RuntimeConfig,
    permits: &Arc<Semaphore>,
    id: JobId,
    spec: JobSpec,
    at: Option<usize>,
) {
    let reserved = match reserve_budget(sh, id, &spec, cfg) {
        Ok(r) => r,
        Err(failure) => {
            finish(
                sh,
                id,
                spec.batch.as_ref(),
                Err((JobEnd::Failed(failure), false)),
            );
            return;
        }
    };
    let token = CancellationToken::new();
    sh.cancels
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(id, token.clone());
    sh.stage(id, Stage::Queued);
    sh.lineup.join(id, at, spec.clone());
    sh.lineup_changed();
    // Every log line of the job (the client's retries included) carries its id.
    let job = run_job(sh.clone(), id, spec, cfg.clone(), permits.clone(), token);
    tokio::spawn(
        async move {
            let maybe_billed = job.await;
            reserved.end(maybe_billed);
        }
        .instrument(tracing::info_span!("job", id)),
    );
}

/// Whether a v2 job that failed this way is still on the server (and paid for), so that its journal
/// entry must stay open for a later resume: the network or the service failed us, not the job. A
/// finished job whose output file could not be downloaded (whatever the file host answered, a 404
/// included) stays, and so does one we stopped waiting for at its deadline; a 404 of the service
/// itself (the record expired), a failed inference and a retired model end it.
pub(super) fn still_on_server(e: &ApiError) -> bool {
    use crate::api::HttpClass;
    use crate::api::error::{Answerer, JobError};
    match e {
        ApiError::Connect { .. } | ApiError::NoAnswer { .. } | ApiError::Decode(_) => true,
        ApiError::Status(s) if s.from == Answerer::OutputHost => true,
        ApiError::Status(s) => !matches!(
            s.class,
            HttpClass::Unprocessable | HttpClass::NotFound | HttpClass::Gone
        ),
        ApiError::Job(JobError::Deadline { .. } | JobError::ServerWait { .. }) => true,
        _ => false,
    }
}

/// The failure of a v2 job that is still on the server: says how to fetch it later.
pub(super) fn unfinished_v2(e: ApiError, request_id: &str) -> JobEnd {
    use crate::api::error::{Answerer, JobError};
    let later = match &e {
        ApiError::Status(s) if s.from == Answerer::OutputHost => format!(
            "Job {request_id} is finished on the server (and billed); it stays in the journal until its image is saved or its record expires, one hour after submission: `fluxcn resume` or the next start of the app fetches it"
        ),
        ApiError::Job(JobError::Deadline { .. }) => format!(
            "Job {request_id} stays in the journal (it may still finish, and be billed): `fluxcn resume` or the next start of the app checks on it again"
        ),
        ApiError::Job(JobError::ServerWait { wait, .. }) => {
            // Checked: a hostile wait can be any number of seconds.
            let when = chrono::Duration::from_std(*wait)
                .ok()
                .and_then(|d| chrono::Local::now().checked_add_signed(d))
                .map_or_else(
                    || "the server's wait".to_owned(),
                    |at| at.format("%Y-%m-%d %H:%M").to_string(),
                );
            format!(
                "Job {request_id} stays in the journal (it may still finish, and be billed): the server asks not to be asked before {when}, and keeps the job's record one hour from its submission, so `fluxcn resume` (or the next start of the app) fetches it only if it is asked within that hour"
            )
        }
        _ => format!(
            "Job {request_id} is still on the server (and billed): `fluxcn resume` or the next start of the app fetches it, within an hour of its submission"
        ),
    };
    JobEnd::Failed(JobFailure {
        message: format!("{e}. {later}"),
        kind: FailureKind::of(&e),
        maybe_billed: true,
    })
}

/// A failure with what the account said added to its message.
pub(super) fn with_note(end: JobEnd, note: &str) -> JobEnd {
    match end {
        JobEnd::Failed(mut f) => {
            f.message = format!("{}. {note}", f.message.trim_end_matches('.'));
            JobEnd::Failed(f)
        }
        other => other,
    }
}

/// How a job ended without images.
pub(super) enum JobEnd {
    Failed(JobFailure),
    Cancelled { maybe_billed: bool },
}

impl From<ApiError> for JobEnd {
    fn from(e: ApiError) -> JobEnd {
        match e {
            ApiError::Cancelled { after_send } => JobEnd::Cancelled {
                maybe_billed: after_send,
            },
            e => JobEnd::Failed(JobFailure {
                message: e.to_string(),
                kind: FailureKind::of(&e),
                maybe_billed: e.maybe_billed(),
            }),
        }
    }
}

pub(super) fn journal_job(id: JobId, spec: &JobSpec, api_base: Option<&str>) -> JournalJob {
    JournalJob {
        id,
        input: match &spec.input {
            InputSource::Bytes { .. } => None,
            other => Some(other.clone()),
        },
        input_label: spec.input.describe(),
        params: spec.params.clone(),
        api: spec.api,
        group: spec.group.clone(),
        started_ms: now_ms(),
        request_id: None,
        submitted_ms: None,
        api_base: api_base.map(str::to_owned),
        prompt_template: spec.prompt_template.clone(),
        batch: spec.batch.clone(),
        framing: spec.framing,
    }
}

async fn run_job(
    sh: Arc<Shared>,
    id: JobId,
    spec: JobSpec,
    cfg: RuntimeConfig,
    permits: Arc<Semaphore>,
    cancel: CancellationToken,
) -> bool {
    let outcome = job_body(&sh, id, &spec, &cfg, permits, &cancel).await;
    finish(&sh, id, spec.batch.as_ref(), outcome)
}

/// Reports how a job ended (journal, batch line, event). Returns whether its outcome is unknown
/// (it may have been billed, and nothing recorded says so): its reservation then counts as a
/// maybe-billed charge.
pub(super) fn finish(
    sh: &Arc<Shared>,
    id: JobId,
    batch: Option<&super::types::BatchLineRef>,
    outcome: Result<(Vec<SavedImage>, crate::api::Accounting), (JobEnd, bool)>,
) -> bool {
    sh.cancels
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .remove(&id);
    match outcome {
        Ok((images, accounting)) => {
            sh.journal(|j| j.end(id, "saved"));
            sh.emit(Event::Done {
                id,
                images,
                accounting,
            });
            false
        }
        Err((end, journaled)) => {
            let shutting_down = sh.shutting_down.load(std::sync::atomic::Ordering::SeqCst);
            if journaled && !shutting_down {
                sh.journal(|j| j.end(id, "ended"));
            }
            if let Some(line) = batch {
                super::batch::mark_end(sh, id, line, &end, journaled);
            }
            match end {
                JobEnd::Failed(f) => {
                    tracing::warn!(id, kind = %f.kind, "job failed: {}", f.message);
                    let maybe = f.maybe_billed;
                    sh.emit(Event::Failed { id, failure: f });
                    maybe
                }
                JobEnd::Cancelled { maybe_billed } => {
                    sh.emit(Event::Cancelled { id, maybe_billed });
                    maybe_billed
                }
            }
        }
    }
}

/// A progress sink that turns client progress into stage events (and slows the pacer on a 429).
pub(super) fn progress_sink(
    sh: &Arc<Shared>,
    id: JobId,
) -> impl Fn(Progress) + Send + Sync + use<> {
    let sh = sh.clone();
    move |p| {
        let stage = match p {
            Progress::Sending { attempt } => Stage::Sending { attempt },
            Progress::Waiting => Stage::Waiting,
            Progress::Retrying {
                attempt,
                delay,
                reason,
                rate_limited,
            } => {
                if rate_limited {
                    // Every other request waits as long as this one (the service's wait).
                    sh.pacer.on_rate_limited(delay);
                }
                Stage::Retrying {
                    attempt,
                    delay,
                    reason,
                }
            }
            Progress::Submitted { request_id } => {
                sh.claim_request(&request_id);
                Stage::Submitted { request_id }
            }
            Progress::Remote { state } => Stage::Remote { state },
            Progress::Downloading => Stage::Downloading,
        };
        sh.stage(id, stage);
    }
}

pub(super) type Outcome = Result<(Vec<SavedImage>, crate::api::Accounting), (JobEnd, bool)>;

async fn job_body(
    sh: &Arc<Shared>,
    id: JobId,
    spec: &JobSpec,
    cfg: &RuntimeConfig,
    permits: Arc<Semaphore>,
    cancel: &CancellationToken,
) -> Outcome {
    let not_sent = |e: JobEnd| Err((e, false));
    // Its turn in line: first, not paused, and a permit free.
    let _permit = match super::lineup::wait_turn(sh, id, &permits, cancel).await {
        Ok(p) => p,
        Err(e) => return not_sent(e),
    };
    // The one validation of a job's parameters: the client takes only what passed it.
    let params = match spec.params.clone().validate_into() {
        Ok(p) => p,
        Err(e) => return not_sent(ApiError::from(e).into()),
    };
    sh.stage(id, Stage::Preparing);
    let source = spec.input.clone();
    let opts = PrepareOptions {
        max_side: cfg.max_input_side,
        framing: spec.framing,
        ..PrepareOptions::default()
    };
    let prepared = match tokio::task::spawn_blocking(move || input::prepare(&source, &opts)).await {
        Ok(Ok(p)) => p,
        Ok(Err(e)) => {
            return not_sent(JobEnd::Failed(JobFailure {
                message: e.to_string(),
                kind: FailureKind::Input,
                maybe_billed: false,
            }));
        }
        Err(e) => {
            return not_sent(JobEnd::Failed(JobFailure {
                message: format!("preparing the input failed: {e}"),
                kind: FailureKind::Input,
                maybe_billed: false,
            }));
        }
    };
    let client = match sh.client(cfg).await {
        Ok(c) => c,
        Err(e) => return not_sent(e.into()),
    };
    // With uploads on, the input goes to Segmind's storage once and its URL is sent instead.
    let wire =
        super::uploads::wire_payload(sh, id, spec, cfg, &client, &prepared.payload, cancel).await;
    if let Err(e) = clear_to_send(sh, id, spec, cancel).await {
        return not_sent(e);
    }
    // Written down before anything is sent.
    let sent_at = now_ms();
    sh.journal(|j| j.start(&journal_job(id, spec, Some(&cfg.api_base))));
    if spec.api == ApiVersion::V1 && spec.params.samples > 1 {
        return super::samples::v1_samples(sh, id, spec, &client, prepared.payload, wire, cancel)
            .await;
    }
    let progress = progress_sink(sh, id);
    let generation = match spec.api {
        ApiVersion::V1 => client.generate(&wire, &params, cancel, &progress).await,
        ApiVersion::V2 => match client.submit(&wire, &params, cancel, &progress).await {
            Ok(sub) => {
                sh.journal(|j| j.submitted(id, &sub.request_id));
                progress(Progress::Submitted {
                    request_id: sub.request_id.clone(),
                });
                match client.wait_for(&sub.request_id, cancel, &progress).await {
                    Err(e) if still_on_server(&e) => {
                        return Err((unfinished_v2(e, &sub.request_id), false));
                    }
                    other => other,
                }
            }
            Err(e) => Err(e),
        },
    };
    // The input as sent is kept with the results (a URL input was sent as its URL).
    let sent = (!matches!(spec.input, InputSource::Url(_))).then_some(prepared.payload);
    let generation = match generation {
        Ok(g) => g,
        // A request sent and not answered in full (a v1 answer, or a v2 submit whose answer
        // never came) may have run and been billed: the account's history says.
        Err(e) if e.maybe_billed() && !matches!(e, ApiError::Cancelled { .. }) => {
            let ours = (id, spec, cfg);
            return super::settle::settle_lost(sh, ours, &client, e.into(), sent, sent_at, cancel)
                .await;
        }
        Err(e) => return Err((e.into(), true)),
    };
    save(sh, id, spec, generation, sent, 0)
        .await
        .map_err(|e| (e, true))
}

/// The job's share of today's budget, or the refusal (nothing is sent).
fn reserve_budget(
    sh: &Shared,
    id: JobId,
    spec: &JobSpec,
    cfg: &RuntimeConfig,
) -> Result<super::budget::Reserved, JobFailure> {
    let images = spec.params.samples.max(1) as usize;
    let estimate = super::budget::estimate(images, crate::api::DEFAULT_COST_PER_IMAGE);
    let hold = super::ledger::Hold {
        job_id: id,
        amount: estimate.0,
        images: images as u32,
        cn_type: spec.params.cn_type.as_str().to_owned(),
        api: spec.api.to_string(),
        // v1 sends a request an image (`jobs/samples.rs`); v2 one request for all.
        per_request: match spec.api {
            ApiVersion::V1 => estimate.0 / images.max(1) as f64,
            ApiVersion::V2 => estimate.0,
        },
    };
    sh.gate
        .reserve(&hold, cfg.daily_budget, estimate)
        .map_err(|e| JobFailure {
            message: e.to_string(),
            kind: FailureKind::Budget,
            maybe_billed: false,
        })
}

/// What a job waiting at the pacer shows: its slot at the user's rate, or the service's wait.
pub(super) fn held_stage(wait: std::time::Duration, why: super::pacer::Held) -> Stage {
    match why {
        super::pacer::Held::Rate => Stage::Pacing { wait },
        super::pacer::Held::RateLimited => Stage::RateLimited { wait },
    }
}

/// The last steps before a job is sent: the pacer's slot, and a batch line's durable "sent" mark.
pub(super) async fn clear_to_send(
    sh: &Arc<Shared>,
    id: JobId,
    spec: &JobSpec,
    cancel: &CancellationToken,
) -> Result<(), JobEnd> {
    let (wait, why) = sh.pacer.reserve();
    if !wait.is_zero() {
        sh.stage(id, held_stage(wait, why));
        tokio::select! {
            _ = cancel.cancelled() => return Err(JobEnd::Cancelled { maybe_billed: false }),
            _ = tokio::time::sleep(wait) => {}
        }
    }
    // A batch line is claimed and marked sent (durably) before it goes: a crash from here on
    // leaves it "outcome unknown", never sent again on its own.
    if let Some(line) = &spec.batch {
        super::batch::claim(sh, id, line).await?;
    }
    // From here on the request may be billed: a kill leaves its reservation to be counted.
    if let Err(e) = sh.gate.mark_sent(id) {
        return Err(JobEnd::Failed(JobFailure {
            message: format!("not sent: the spend ledger could not record that it is sent ({e})"),
            kind: FailureKind::Save,
            maybe_billed: false,
        }));
    }
    Ok(())
}
