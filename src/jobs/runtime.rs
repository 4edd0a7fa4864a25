//! The job runtime itself: one dispatcher task that owns the settings and hands each submitted job
//! to its own task (named by job id in the logs). A job takes a concurrency permit, prepares its input
//! off the async threads, waits for the pacer, runs the v1 or v2 flow of the client, saves every image
//! to the gallery before reporting it, and keeps the journal in step so that a crash loses nothing.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{Semaphore, mpsc};
use tokio_util::sync::CancellationToken;

use super::clients::Clients;
use super::journal::{Journal, JournalJob, now_ms};
use super::pacer::Pacer;
use super::services::Services;
use super::types::{
    ApiVersion, Command, Event, FailureKind, InputSource, JobFailure, JobId, JobSpec, JobsHandle,
    RuntimeConfig, SavedImage, Stage,
};
use crate::api::input::{self, PrepareOptions};
use crate::api::{ApiError, Client, ClientConfig, Generation, Progress};
use crate::gallery::{NewResult, Store};
use crate::keystore::KeyStore;
use tracing::Instrument as _;

/// Called after every event (the UI passes `ctx.request_repaint()`).
pub type Notify = Arc<dyn Fn() + Send + Sync>;

/// How long the server keeps a v2 record.
const V2_RECORD_LIFETIME: Duration = Duration::from_secs(3600);
/// The long side of the previews sent with results and inputs.
pub(crate) const PREVIEW_SIDE: u32 = 2048;

/// What the runtime works with besides its settings.
pub struct RuntimeDeps {
    pub store: Store,
    pub keys: KeyStore,
    pub journal: Option<Arc<Journal>>,
    /// Unfinished jobs read from the journal at start-up, to finish or report.
    pub recovered: Vec<JournalJob>,
    /// Client settings other than the base URL (timeouts, retries); tests shorten them.
    pub client_template: ClientConfig,
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
        }
    }
}

struct Shared {
    events: std::sync::mpsc::Sender<Event>,
    notify: Notify,
    store: Store,
    journal: Option<Arc<Journal>>,
    pacer: Pacer,
    clients: Arc<Clients>,
    cancels: Mutex<HashMap<JobId, CancellationToken>>,
    /// Set when the UI or CLI went away: jobs stop, and their journal entries stay open so that the
    /// next start finishes (v2) or reports (v1) them.
    shutting_down: std::sync::atomic::AtomicBool,
}

impl Shared {
    fn emit(&self, e: Event) {
        // The receiver is gone only when the UI or CLI has exited; nothing is left to tell.
        let _ = self.events.send(e);
        (self.notify)();
    }

    fn stage(&self, id: JobId, stage: Stage) {
        self.emit(Event::Stage { id, stage });
    }

    fn journal<T>(&self, f: impl FnOnce(&Journal) -> Result<T, super::journal::JournalError>) {
        if let Some(j) = &self.journal
            && let Err(e) = f(j)
        {
            tracing::error!(error = %e, "journal write failed");
            self.emit(Event::Notice(format!(
                "{e}: a crash now could lose track of a job in flight"
            )));
        }
    }

    async fn client(&self, cfg: &RuntimeConfig) -> Result<Client, ApiError> {
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
        notify.clone(),
    );
    let shared = Arc::new(Shared {
        events: ev_tx,
        notify,
        store: deps.store.clone(),
        journal: deps.journal,
        pacer: Pacer::new(cfg.rate_per_minute),
        clients: clients.clone(),
        cancels: Mutex::new(HashMap::new()),
        shutting_down: std::sync::atomic::AtomicBool::new(false),
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
    for job in recovered {
        let token = CancellationToken::new();
        sh.cancels
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(job.id, token.clone());
        let span = tracing::info_span!("job", id = job.id);
        tokio::spawn(resume_job(sh.clone(), job, cfg.clone(), token).instrument(span));
    }
    while let Some(cmd) = rx.recv().await {
        match cmd {
            Command::Submit { id, spec } => {
                let token = CancellationToken::new();
                sh.cancels
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(id, token.clone());
                sh.stage(id, Stage::Queued);
                // Every log line of the job (the client's retries included) carries its id.
                tokio::spawn(
                    run_job(sh.clone(), id, spec, cfg.clone(), permits.clone(), token)
                        .instrument(tracing::info_span!("job", id)),
                );
            }
            Command::Cancel(id) => {
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

/// Whether two API base URLs name the same service (a trailing slash aside).
fn same_base(a: &str, b: &str) -> bool {
    a.trim_end_matches('/') == b.trim_end_matches('/')
}

/// Whether a v2 job that failed this way is still on the server (and paid for), so that its journal
/// entry must stay open for a later resume: the network or the service failed us, not the job.
fn still_on_server(e: &ApiError) -> bool {
    use crate::api::HttpClass;
    match e {
        ApiError::Connect { .. } | ApiError::NoAnswer { .. } | ApiError::Decode(_) => true,
        ApiError::Status(s) => !matches!(
            s.class,
            HttpClass::Unprocessable | HttpClass::NotFound | HttpClass::Gone
        ),
        _ => false,
    }
}

/// The failure of a v2 job that is still on the server: says how to fetch it later.
fn unfinished_v2(e: ApiError, request_id: &str) -> JobEnd {
    JobEnd::Failed(JobFailure {
        message: format!(
            "{e}. Job {request_id} is still on the server (and billed): `fluxcn resume` or the next start of the app fetches it, within an hour of its submission"
        ),
        kind: FailureKind::of(&e),
        maybe_billed: true,
    })
}

/// How a job ended without images.
enum JobEnd {
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

fn journal_job(id: JobId, spec: &JobSpec, api_base: &str) -> JournalJob {
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
        api_base: Some(api_base.to_owned()),
    }
}

async fn run_job(
    sh: Arc<Shared>,
    id: JobId,
    spec: JobSpec,
    cfg: RuntimeConfig,
    permits: Arc<Semaphore>,
    cancel: CancellationToken,
) {
    let outcome = job_body(&sh, id, &spec, &cfg, permits, &cancel).await;
    finish(&sh, id, outcome);
}

fn finish(
    sh: &Arc<Shared>,
    id: JobId,
    outcome: Result<(Vec<SavedImage>, crate::api::Accounting), (JobEnd, bool)>,
) {
    sh.cancels
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .remove(&id);
    match outcome {
        Ok((images, accounting)) => {
            sh.pacer.on_success();
            sh.journal(|j| j.end(id, "saved"));
            sh.emit(Event::Done {
                id,
                images,
                accounting,
            });
        }
        Err((end, journaled)) => {
            if journaled && !sh.shutting_down.load(std::sync::atomic::Ordering::SeqCst) {
                sh.journal(|j| j.end(id, "ended"));
            }
            match end {
                JobEnd::Failed(f) => {
                    tracing::warn!(id, kind = %f.kind, "job failed: {}", f.message);
                    sh.emit(Event::Failed { id, failure: f });
                }
                JobEnd::Cancelled { maybe_billed } => {
                    sh.emit(Event::Cancelled { id, maybe_billed })
                }
            }
        }
    }
}

/// A progress sink that turns client progress into stage events (and slows the pacer on a 429).
fn progress_sink(sh: &Arc<Shared>, id: JobId) -> impl Fn(Progress) + Send + Sync + use<> {
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
                    sh.pacer.on_rate_limited();
                }
                Stage::Retrying {
                    attempt,
                    delay,
                    reason,
                }
            }
            Progress::Submitted { request_id } => Stage::Submitted { request_id },
            Progress::Remote { state } => Stage::Remote { state },
            Progress::Downloading => Stage::Downloading,
        };
        sh.stage(id, stage);
    }
}

type Outcome = Result<(Vec<SavedImage>, crate::api::Accounting), (JobEnd, bool)>;

async fn job_body(
    sh: &Arc<Shared>,
    id: JobId,
    spec: &JobSpec,
    cfg: &RuntimeConfig,
    permits: Arc<Semaphore>,
    cancel: &CancellationToken,
) -> Outcome {
    let not_sent = |e: JobEnd| Err((e, false));
    let _permit = tokio::select! {
        _ = cancel.cancelled() => return not_sent(JobEnd::Cancelled { maybe_billed: false }),
        p = permits.acquire_owned() => match p {
            Ok(p) => p,
            Err(_) => return not_sent(JobEnd::Failed(JobFailure { message: "the job runtime is shutting down".into(), kind: FailureKind::Runtime, maybe_billed: false })),
        },
    };
    if let Err(e) = spec.params.validate() {
        return not_sent(ApiError::from(e).into());
    }
    sh.stage(id, Stage::Preparing);
    let source = spec.input.clone();
    let opts = PrepareOptions {
        max_side: cfg.max_input_side,
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
    let wait = sh.pacer.reserve();
    if !wait.is_zero() {
        sh.stage(id, Stage::Pacing { wait });
        tokio::select! {
            _ = cancel.cancelled() => return not_sent(JobEnd::Cancelled { maybe_billed: false }),
            _ = tokio::time::sleep(wait) => {}
        }
    }
    // Written down before anything is sent.
    sh.journal(|j| j.start(&journal_job(id, spec, &cfg.api_base)));
    let progress = progress_sink(sh, id);
    let generation = match spec.api {
        ApiVersion::V1 => {
            client
                .generate(&prepared.payload, &spec.params, cancel, &progress)
                .await
        }
        ApiVersion::V2 => match client
            .submit(&prepared.payload, &spec.params, cancel, &progress)
            .await
        {
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
    let generation = match generation {
        Ok(g) => g,
        Err(e) => return Err((e.into(), true)),
    };
    save(sh, id, spec, generation).await.map_err(|e| (e, true))
}

/// Saves every image (off the async threads) and decodes its preview. An image that cannot be
/// saved in the gallery goes to a fallback folder rather than being lost.
async fn save(
    sh: &Arc<Shared>,
    id: JobId,
    spec: &JobSpec,
    generation: Generation,
) -> Result<(Vec<SavedImage>, crate::api::Accounting), JobEnd> {
    sh.stage(id, Stage::Saving);
    let store = sh.store.clone();
    let spec = spec.clone();
    let accounting = generation.accounting.clone();
    let r = tokio::task::spawn_blocking(move || {
        let mut saved = Vec::new();
        let label = spec.input.describe();
        for (index, image) in generation.images.iter().enumerate() {
            let new = NewResult {
                image,
                params: &spec.params,
                input: &label,
                api: spec.api,
                accounting: &generation.accounting,
                group: spec.group.as_ref(),
                index,
            };
            let (path, sidecar) = match store.save(&new) {
                Ok(entry) => (entry.image_path, entry.sidecar_path),
                Err(e) => {
                    let fallback = std::env::temp_dir().join("fluxcn-unsaved");
                    let name = format!("{id}-{index}.{}", image.format.extension());
                    let path = fallback.join(&name);
                    let wrote = std::fs::create_dir_all(&fallback).and_then(|_| std::fs::write(&path, &image.bytes));
                    match wrote {
                        Ok(()) => {
                            tracing::error!(error = %e, path = %path.display(), "gallery save failed; wrote the image to a fallback folder");
                            (path, std::path::PathBuf::new())
                        }
                        Err(e2) => return Err(format!("the image could not be saved ({e}), not even to {} ({e2})", fallback.display())),
                    }
                }
            };
            saved.push(SavedImage {
                path,
                sidecar,
                width: image.width,
                height: image.height,
                seed: generation.accounting.seed.unwrap_or(spec.params.seed),
                preview: decode_preview(&image.bytes).map(Arc::new),
            });
        }
        hold_after_save_for_tests();
        Ok(saved)
    })
    .await;
    match r {
        Ok(Ok(saved)) => Ok((saved, accounting)),
        Ok(Err(msg)) => Err(JobEnd::Failed(JobFailure {
            message: msg,
            kind: FailureKind::Save,
            maybe_billed: true,
        })),
        Err(e) => Err(JobEnd::Failed(JobFailure {
            message: format!("the save task failed: {e}"),
            kind: FailureKind::Save,
            maybe_billed: true,
        })),
    }
}

/// A test hook, honoured only in debug builds: with `FLUXCN_TEST_HOLD_AFTER_SAVE` set, a job stops
/// for good right after its images are saved and before the journal records its end, so that a
/// test can kill -9 the process at exactly that moment.
fn hold_after_save_for_tests() {
    #[cfg(debug_assertions)]
    if std::env::var_os("FLUXCN_TEST_HOLD_AFTER_SAVE").is_some() {
        tracing::error!("test hook: holding after the save, waiting to be killed");
        loop {
            std::thread::sleep(Duration::from_secs(3600));
        }
    }
}

/// Decodes an image for the screen, downscaled to at most [`PREVIEW_SIDE`] on its long side.
pub fn decode_preview(bytes: &[u8]) -> Option<image::RgbaImage> {
    let mut reader = image::ImageReader::new(std::io::Cursor::new(bytes))
        .with_guessed_format()
        .ok()?;
    let mut limits = image::Limits::default();
    limits.max_alloc = Some(512 * 1024 * 1024);
    reader.limits(limits);
    let img = reader.decode().ok()?;
    let img = if img.width().max(img.height()) > PREVIEW_SIDE {
        img.thumbnail(PREVIEW_SIDE, PREVIEW_SIDE)
    } else {
        img
    };
    Some(img.to_rgba8())
}

/// Finishes or reports a job found unfinished in the journal.
async fn resume_job(
    sh: Arc<Shared>,
    job: JournalJob,
    cfg: RuntimeConfig,
    cancel: CancellationToken,
) {
    let id = job.id;
    let spec = JobSpec {
        input: job.input.clone().unwrap_or(InputSource::Bytes {
            name: job.input_label.clone(),
            data: Arc::new(Vec::new()),
        }),
        params: job.params.clone(),
        api: job.api,
        group: job.group.clone(),
    };
    sh.emit(Event::Recovered {
        id,
        spec: spec.clone(),
        request_id: job.request_id.clone(),
    });
    let fail = |message: String, kind: FailureKind, maybe_billed: bool| {
        Err((
            JobEnd::Failed(JobFailure {
                message,
                kind,
                maybe_billed,
            }),
            true,
        ))
    };
    let outcome: Outcome = match (job.api, &job.request_id) {
        (ApiVersion::V1, _) => fail(
            "interrupted: the app stopped while this v1 request was in flight, so it may have been billed. It was not re-sent; use Re-run to send it again".into(),
            FailureKind::Interrupted,
            true,
        ),
        (ApiVersion::V2, None) => fail(
            "interrupted before the server confirmed the submit: it may have been billed. It was not re-sent; use Re-run to send it again".into(),
            FailureKind::Interrupted,
            true,
        ),
        // The key goes only to the service configured now, never to a base named in a file.
        (ApiVersion::V2, Some(request_id))
            if job.api_base.as_deref().is_some_and(|b| !same_base(b, &cfg.api_base)) =>
        {
            let base = job.api_base.clone().unwrap_or_default();
            Err((
                JobEnd::Failed(JobFailure {
                    message: format!(
                        "job {request_id} was submitted to {base}, not to the service configured now ({}). The key is sent only to the configured service, so the job was left in the journal: to fetch it, run `fluxcn --api-base {base} resume`",
                        cfg.api_base
                    ),
                    kind: FailureKind::OtherService,
                    maybe_billed: true,
                }),
                false,
            ))
        }
        (ApiVersion::V2, Some(request_id)) => {
            let age = Duration::from_millis(now_ms().saturating_sub(job.submitted_ms.unwrap_or(job.started_ms)));
            if age > V2_RECORD_LIFETIME {
                fail(format!("job {request_id} expired: the server keeps a record for one hour after submission, and it was submitted {} minutes ago", age.as_secs() / 60), FailureKind::Expired, true)
            } else {
                match sh.client(&cfg).await {
                    Err(e) => Err((e.into(), false)),
                    Ok(client) => {
                        sh.stage(id, Stage::Remote { state: "checking".into() });
                        let progress = progress_sink(&sh, id);
                        match client.wait_for(request_id, &cancel, &progress).await {
                            Ok(g) => save(&sh, id, &spec, g).await.map_err(|e| (e, true)),
                            // Cancelling a resumed job stops our polling; the journal keeps it so a
                            // later start can still fetch it.
                            Err(ApiError::Cancelled { .. }) => Err((JobEnd::Cancelled { maybe_billed: true }, false)),
                            Err(e) if still_on_server(&e) => Err((unfinished_v2(e, request_id), false)),
                            Err(e) => Err((e.into(), true)),
                        }
                    }
                }
            }
        }
    };
    finish(&sh, id, outcome);
}
