//! The job runtime itself: one dispatcher task that owns the settings and hands each submitted job
//! to its own task (named by job id in the logs). A job takes a concurrency permit, prepares its input
//! off the async threads, waits for the pacer, runs the v1 or v2 flow of the client, saves every image
//! to the gallery before reporting it, and keeps the journal in step so that a crash loses nothing.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{Semaphore, mpsc};
use tokio_util::sync::CancellationToken;

use super::journal::{Journal, JournalJob, now_ms};
use super::pacer::Pacer;
use super::types::*;
use crate::api::input::{self, PrepareOptions};
use crate::api::{ApiError, ApiKey, Client, ClientConfig, Generation, Progress};
use crate::gallery::{NewResult, Store};
use crate::keystore::KeyStore;

/// Called after every event (the UI passes `ctx.request_repaint()`).
pub type Notify = Arc<dyn Fn() + Send + Sync>;

/// How long the server keeps a v2 record.
const V2_RECORD_LIFETIME: Duration = Duration::from_secs(3600);
/// The long side of the previews sent with results and inputs.
const PREVIEW_SIDE: u32 = 2048;

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
    keys: KeyStore,
    journal: Option<Arc<Journal>>,
    pacer: Pacer,
    template: ClientConfig,
    /// The client for the current base URL and key, built on first use.
    client: Mutex<Option<(String, ApiKey, Client)>>,
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

    /// The key: the one in the settings, else the key store (env or keyring).
    async fn key(self: &Arc<Self>, cfg: &RuntimeConfig) -> Option<ApiKey> {
        if let Some(k) = &cfg.key {
            return Some(k.clone());
        }
        let keys = self.keys.clone();
        tokio::task::spawn_blocking(move || keys.resolve().ok().flatten())
            .await
            .ok()
            .flatten()
    }

    async fn client(self: &Arc<Self>, cfg: &RuntimeConfig) -> Result<Client, ApiError> {
        let key = self.key(cfg).await.ok_or(ApiError::MissingKey)?;
        let mut slot = self.client.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((base, k, c)) = slot.as_ref()
            && *base == cfg.api_base
            && *k == key
        {
            return Ok(c.clone());
        }
        let client = Client::new(
            ClientConfig {
                api_base: cfg.api_base.clone(),
                ..self.template.clone()
            },
            key.clone(),
        )?;
        *slot = Some((cfg.api_base.clone(), key, client.clone()));
        Ok(client)
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
    let shared = Arc::new(Shared {
        events: ev_tx,
        notify,
        store: deps.store,
        keys: deps.keys,
        journal: deps.journal,
        pacer: Pacer::new(cfg.rate_per_minute),
        template: deps.client_template,
        client: Mutex::new(None),
        cancels: Mutex::new(HashMap::new()),
        shutting_down: std::sync::atomic::AtomicBool::new(false),
    });
    let recovered = deps.recovered;
    rt.spawn(dispatcher(shared, cfg, cmd_rx, recovered));
    JobsHandle::from_channels(cmd_tx, ev_rx)
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
        tokio::spawn(resume_job(sh.clone(), job, cfg.clone(), token));
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
                tokio::spawn(run_job(
                    sh.clone(),
                    id,
                    spec,
                    cfg.clone(),
                    permits.clone(),
                    token,
                ));
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
            Command::RefreshCredits => {
                let sh = sh.clone();
                let cfg = cfg.clone();
                tokio::spawn(async move {
                    let r = match sh.client(&cfg).await {
                        Ok(c) => c
                            .credits(&CancellationToken::new())
                            .await
                            .map_err(|e| e.to_string()),
                        Err(e) => Err(e.to_string()),
                    };
                    sh.emit(Event::Credits(r));
                });
            }
            Command::LoadInput(source) => {
                let sh = sh.clone();
                tokio::spawn(async move {
                    let s2 = source.clone();
                    let r = tokio::task::spawn_blocking(move || input::preview(&s2, PREVIEW_SIDE))
                        .await
                        .map_err(|e| format!("the preview task failed: {e}"))
                        .and_then(|r| r.map_err(|e| e.to_string()));
                    sh.emit(Event::InputLoaded { source, result: r });
                });
            }
            Command::SaveKey(key) => {
                let sh = sh.clone();
                tokio::spawn(async move {
                    let keys = sh.keys.clone();
                    let r = tokio::task::spawn_blocking(move || {
                        let r = match &key {
                            Some(k) => keys.set(k),
                            None => keys.clear(),
                        };
                        (r, keys.state())
                    })
                    .await;
                    match r {
                        Ok((Ok(()), state)) => sh.emit(Event::Key(state)),
                        Ok((Err(e), _)) => {
                            sh.emit(Event::Key(KeyState::Unavailable(e.to_string())))
                        }
                        Err(e) => sh.emit(Event::Notice(format!("the key store task failed: {e}"))),
                    }
                    // A new key invalidates the cached client.
                    *sh.client.lock().unwrap_or_else(|p| p.into_inner()) = None;
                });
            }
            Command::GalleryList => blocking(&sh, |sh| Event::Gallery(Arc::new(sh.store.list()))),
            Command::GalleryThumb { id, max_side } => blocking(&sh, move |sh| {
                let image = match sh.store.get(&id) {
                    Some(e) => sh
                        .store
                        .thumbnail(&e, max_side)
                        .map(Arc::new)
                        .map_err(|e| e.to_string()),
                    None => Err(format!("{id} is no longer in the gallery")),
                };
                Event::Thumb { id, image }
            }),
            Command::GalleryOpen { id } => blocking(&sh, move |sh| {
                let image = match sh.store.get(&id) {
                    Some(e) => std::fs::read(&e.image_path)
                        .map_err(|err| format!("could not read {}: {err}", e.image_path.display()))
                        .and_then(|b| {
                            decode_preview(&b).map(Arc::new).ok_or_else(|| {
                                format!("{} is not a readable image", e.image_path.display())
                            })
                        }),
                    None => Err(format!("{id} is no longer in the gallery")),
                };
                Event::GalleryImage { id, image }
            }),
            Command::GalleryFavourite { id, favourite } => blocking(&sh, move |sh| {
                match sh.store.set_favourite(&id, favourite) {
                    Ok(()) => Event::Gallery(Arc::new(sh.store.list())),
                    Err(e) => Event::Notice(e.to_string()),
                }
            }),
            Command::GalleryDelete { id } => blocking(&sh, move |sh| match sh.store.delete(&id) {
                Ok(()) => Event::Gallery(Arc::new(sh.store.list())),
                Err(e) => Event::Notice(e.to_string()),
            }),
            Command::GalleryUndoDelete { id } => {
                blocking(&sh, move |sh| match sh.store.undo_delete(&id) {
                    Ok(_) => Event::Gallery(Arc::new(sh.store.list())),
                    Err(e) => Event::Notice(e.to_string()),
                })
            }
            Command::ReadSettings(path) => blocking(&sh, move |_| {
                let result = crate::gallery::read_settings(&path).map_err(|e| e.to_string());
                Event::SettingsRead { path, result }
            }),
            Command::ExportGrid { plan, cells, out } => blocking(&sh, move |_| {
                Event::Exported(
                    crate::gallery::export::write_grid_png(&plan, &cells, &out)
                        .map(|()| out)
                        .map_err(|e| e.to_string()),
                )
            }),
            Command::Reveal(path) => blocking(&sh, move |_| match reveal(&path) {
                Ok(()) => Event::Notice(String::new()),
                Err(e) => Event::Notice(format!("could not open {}: {e}", path.display())),
            }),
            Command::CheckKey => {
                let sh = sh.clone();
                tokio::spawn(async move {
                    let keys = sh.keys.clone();
                    match tokio::task::spawn_blocking(move || keys.state()).await {
                        Ok(state) => sh.emit(Event::Key(state)),
                        Err(e) => sh.emit(Event::Notice(format!("the key store task failed: {e}"))),
                    }
                });
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

/// Runs `f` off the async threads and emits its event.
fn blocking(sh: &Arc<Shared>, f: impl FnOnce(&Shared) -> Event + Send + 'static) {
    let sh = sh.clone();
    tokio::spawn(async move {
        let s2 = sh.clone();
        match tokio::task::spawn_blocking(move || f(&s2)).await {
            Ok(Event::Notice(n)) if n.is_empty() => {}
            Ok(ev) => sh.emit(ev),
            Err(e) => sh.emit(Event::Notice(format!("a background task failed: {e}"))),
        }
    });
}

/// Opens `path` (a folder, or the folder of a file) in the system's file manager.
fn reveal(path: &std::path::Path) -> std::io::Result<()> {
    let dir = if path.is_dir() {
        path
    } else {
        path.parent().unwrap_or(path)
    };
    let program = if cfg!(target_os = "macos") {
        "open"
    } else if cfg!(windows) {
        "explorer"
    } else {
        "xdg-open"
    };
    std::process::Command::new(program)
        .arg(dir)
        .spawn()
        .map(|_| ())
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
        kind: e.kind(),
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
                kind: e.kind(),
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
    let _span = tracing::info_span!("job", id).entered();
    drop(_span);
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
            Err(_) => return not_sent(JobEnd::Failed(JobFailure { message: "the job runtime is shutting down".into(), kind: "runtime".into(), maybe_billed: false })),
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
                kind: "input".into(),
                maybe_billed: false,
            }));
        }
        Err(e) => {
            return not_sent(JobEnd::Failed(JobFailure {
                message: format!("preparing the input failed: {e}"),
                kind: "input".into(),
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
        Ok(saved)
    })
    .await;
    match r {
        Ok(Ok(saved)) => Ok((saved, accounting)),
        Ok(Err(msg)) => Err(JobEnd::Failed(JobFailure {
            message: msg,
            kind: "save".into(),
            maybe_billed: true,
        })),
        Err(e) => Err(JobEnd::Failed(JobFailure {
            message: format!("the save task failed: {e}"),
            kind: "save".into(),
            maybe_billed: true,
        })),
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
    let fail = |message: String, kind: &str, maybe_billed: bool| {
        Err((
            JobEnd::Failed(JobFailure {
                message,
                kind: kind.into(),
                maybe_billed,
            }),
            true,
        ))
    };
    let outcome: Outcome = match (job.api, &job.request_id) {
        (ApiVersion::V1, _) => fail(
            "interrupted: the app stopped while this v1 request was in flight, so it may have been billed. It was not re-sent; use Re-run to send it again".into(),
            "interrupted",
            true,
        ),
        (ApiVersion::V2, None) => fail(
            "interrupted before the server confirmed the submit: it may have been billed. It was not re-sent; use Re-run to send it again".into(),
            "interrupted",
            true,
        ),
        (ApiVersion::V2, Some(request_id)) => {
            let age = Duration::from_millis(now_ms().saturating_sub(job.submitted_ms.unwrap_or(job.started_ms)));
            if age > V2_RECORD_LIFETIME {
                fail(format!("job {request_id} expired: the server keeps a record for one hour after submission, and it was submitted {} minutes ago", age.as_secs() / 60), "expired", true)
            } else {
                let cfg = RuntimeConfig {
                    api_base: job.api_base.clone().unwrap_or_else(|| cfg.api_base.clone()),
                    ..cfg.clone()
                };
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
