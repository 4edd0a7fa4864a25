//! Resuming jobs found unfinished in the journal at start-up: a result saved before the
//! interruption is found in the gallery and reported done; a v1 job (or a v2 job never confirmed)
//! is reported as interrupted and never re-sent; a v2 job is polled and fetched, with a permit and
//! a pacer slot like new work, but only from the service configured now (the key never goes to a
//! base named in a file).

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use super::journal::{JournalJob, now_ms};
use super::runtime::{
    JobEnd, Outcome, Shared, decode_preview, finish, progress_sink, save, still_on_server,
    unfinished_v2,
};
use super::types::{
    ApiVersion, Event, FailureKind, InputSource, JobFailure, JobId, JobSpec, RuntimeConfig,
    SavedImage, Stage,
};
use crate::api::ApiError;
use crate::api::client::WaitJob;

/// How long the server keeps a v2 record.
const V2_RECORD_LIFETIME: Duration = Duration::from_secs(3600);

/// Finishes or reports a job found unfinished in the journal. A result saved before the
/// interruption (a crash between the save and the journal's end record) is found in the gallery
/// and reported as done: a v1 job is not called "maybe billed", a v2 result is not fetched again.
pub(super) async fn resume_job(
    sh: Arc<Shared>,
    job: JournalJob,
    cfg: RuntimeConfig,
    permits: Arc<Semaphore>,
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
        prompt_template: job.prompt_template.clone(),
        batch: job.batch.clone(),
        framing: job.framing,
    };
    sh.emit(Event::Recovered {
        id,
        spec: Box::new(spec.clone()),
        request_id: job.request_id.clone(),
    });
    let (found, found_accounting) = saved_already(&sh, &job).await;
    // Every image the job asked for is saved (a v1 job of N samples saves one per request).
    let all_found = !found.is_empty() && found.len() >= job.params.samples.max(1) as usize;
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
    let submitted_ms = job.submitted_ms.unwrap_or(job.started_ms);
    // The account asked is the configured service's: only for a job sent to it.
    let same_service = job
        .api_base
        .as_deref()
        .is_none_or(|b| same_base(b, &cfg.api_base));
    let age = Duration::from_millis(now_ms().saturating_sub(submitted_ms));
    let outcome: Outcome = match (job.api, &job.request_id) {
        _ if all_found => closed(&sh, id, &spec, found, found_accounting),
        // A job of several v1 requests, some saved: reported as before (its parts are not
        // told apart in the history).
        (ApiVersion::V1, _) if !found.is_empty() => fail(
            interrupted_v1(found.len(), job.params.samples),
            FailureKind::Interrupted,
            true,
        ),
        // Sent, with no answer recorded: the account's history says what became of it.
        (ApiVersion::V1, _) | (ApiVersion::V2, None) if same_service => {
            let said = unconfirmed(job.api, job.params.samples);
            settled(&sh, id, &spec, &cfg, None, job.started_ms, said, &cancel).await
        }
        (ApiVersion::V1, _) | (ApiVersion::V2, None) => fail(
            unconfirmed(job.api, job.params.samples),
            FailureKind::Interrupted,
            true,
        ),
        // Past the v2 record's lifetime the job is gone from the v2 endpoints, but the account's
        // history keeps every request: asked there (only for the service configured now).
        (ApiVersion::V2, Some(request_id)) if age > V2_RECORD_LIFETIME && same_service => {
            let said = expired(request_id, age);
            settled(
                &sh,
                id,
                &spec,
                &cfg,
                Some(request_id),
                submitted_ms,
                said,
                &cancel,
            )
            .await
        }
        (ApiVersion::V2, Some(request_id)) if age > V2_RECORD_LIFETIME => {
            fail(expired(request_id, age), FailureKind::Expired, true)
        }
        // The key goes only to the service configured now, never to a base named in a file.
        (ApiVersion::V2, Some(request_id)) if !same_service => other_service(
            request_id,
            job.api_base.as_deref().unwrap_or_default(),
            &cfg,
        ),
        (ApiVersion::V2, Some(request_id)) => {
            let submitted = UNIX_EPOCH + Duration::from_millis(submitted_ms);
            return resume_v2(
                &sh, id, &spec, request_id, &cfg, permits, &cancel, found, submitted,
            )
            .await;
        }
    };
    finish(&sh, id, spec.batch.as_ref(), outcome);
}

/// The images (and accounting) a recovered job saved before the interruption (`Store::find_job`).
async fn saved_already(
    sh: &Arc<Shared>,
    job: &JournalJob,
) -> (Vec<SavedImage>, crate::api::Accounting) {
    let (store, id, request_id) = (sh.store.clone(), job.id, job.request_id.clone());
    tokio::task::spawn_blocking(move || {
        let entries = store.find_job(id, request_id.as_deref());
        let accounting = entries.first().map(|e| e.meta.accounting.clone());
        let images = entries.into_iter().map(|e| SavedImage {
            preview: std::fs::read(&e.image_path)
                .ok()
                .and_then(|b| decode_preview(&b))
                .map(Arc::new),
            path: e.image_path,
            sidecar: e.sidecar_path,
            width: e.meta.width,
            height: e.meta.height,
            seed: e.meta.seed_used,
        });
        (images.collect(), accounting.unwrap_or_default())
    })
    .await
    .unwrap_or_default()
}

/// Finishes a resumed v2 job: a concurrency permit (held until its end is reported) and a pacer
/// slot first, like a new job; then it polls, and saves what is not in `found` (saved in order).
/// Cancelled, it stays in the journal for a later start.
#[allow(clippy::too_many_arguments)] // the resumed job's parts; a struct would only rename them
async fn resume_v2(
    sh: &Arc<Shared>,
    id: JobId,
    spec: &JobSpec,
    request_id: &str,
    cfg: &RuntimeConfig,
    permits: Arc<Semaphore>,
    cancel: &CancellationToken,
    found: Vec<SavedImage>,
    submitted: SystemTime,
) {
    let cancelled = || Err((JobEnd::Cancelled { maybe_billed: true }, false));
    sh.stage(id, Stage::Queued);
    let _permit = tokio::select! {
        _ = cancel.cancelled() => { finish(sh, id, spec.batch.as_ref(), cancelled()); return; }
        p = permits.acquire_owned() => p,
    };
    let (wait, why) = sh.pacer.reserve();
    if !wait.is_zero() {
        sh.stage(id, super::runtime::held_stage(wait, why));
        tokio::select! {
            _ = cancel.cancelled() => { finish(sh, id, spec.batch.as_ref(), cancelled()); return; }
            _ = tokio::time::sleep(wait) => {}
        }
    }
    let outcome = match sh.client(cfg).await {
        Err(e) => Err((e.into(), false)),
        Ok(client) => {
            let checking = Stage::Remote {
                state: "checking".into(),
            };
            sh.stage(id, checking);
            // The deadline counts from the submission (the record lives an hour from then), and
            // the result keeps at most the job's own `samples`.
            let job = WaitJob {
                request_id,
                samples: spec.params.samples,
                submitted,
            };
            match client
                .wait_for_job(&job, cancel, &progress_sink(sh, id))
                .await
            {
                Ok(mut g) => {
                    g.images.drain(..found.len().min(g.images.len()));
                    match save(sh, id, spec, g, None, 0).await {
                        Ok((saved, acc)) => Ok((found.into_iter().chain(saved).collect(), acc)),
                        Err(e) => Err((e, true)),
                    }
                }
                Err(ApiError::Cancelled { .. }) => cancelled(),
                Err(e) if still_on_server(&e) => Err((unfinished_v2(e, request_id), false)),
                Err(e) => Err((e.into(), true)),
            }
        }
    };
    finish(sh, id, spec.batch.as_ref(), outcome);
}

/// The outcome of a recovered job the account's history was asked about; `said` is what is reported
/// when the history does not settle it.
#[allow(clippy::too_many_arguments)] // the recovered job's parts
async fn settled(
    sh: &Arc<Shared>,
    id: JobId,
    spec: &JobSpec,
    cfg: &RuntimeConfig,
    request_id: Option<&str>,
    from_ms: u64,
    said: String,
    cancel: &CancellationToken,
) -> Outcome {
    use super::settle::{Settled, failure, settle_job};
    match settle_job(sh, id, spec, cfg, request_id, from_ms, cancel).await {
        Settled::Saved(done) => Ok(done),
        Settled::NotBilled(m) => Err((failure(m, false), true)),
        // Still running at Segmind: the journal keeps it for the next start.
        Settled::StillRunning { message, .. } => {
            Err((failure(format!("{said}. {message}"), true), false))
        }
        Settled::Unsettled(m) => Err((failure(format!("{said}. {m}"), true), true)),
    }
}

/// Whether two API base URLs name the same service (a trailing slash aside).
fn same_base(a: &str, b: &str) -> bool {
    a.trim_end_matches('/') == b.trim_end_matches('/')
}

/// A job whose every image was saved before the interruption: closed, its charge recorded if the
/// interruption came before it was (once per job).
fn closed(
    sh: &Arc<Shared>,
    id: JobId,
    spec: &JobSpec,
    found: Vec<SavedImage>,
    accounting: crate::api::Accounting,
) -> Outcome {
    tracing::info!(
        id,
        "the result was saved before the interruption; closing the job"
    );
    if let Some(l) = sh.gate.ledger() {
        let charge = super::runtime::charge_of(id, spec, &accounting, found.len(), 0);
        if let Err(e) = l.record(&charge) {
            tracing::error!(error = %e, "the spend ledger could not record a resumed job");
        }
    }
    Ok((found, accounting))
}

/// A v2 job submitted to another service than the one configured now: left in the journal (the
/// key goes only to the configured service), with how to fetch it.
fn other_service(request_id: &str, base: &str, cfg: &RuntimeConfig) -> Outcome {
    let message = format!(
        "job {request_id} was submitted to {base}, not to the service configured now ({}). The \
         key is sent only to the configured service, so the job was left in the journal: to \
         fetch it, run `fluxcn --api-base {base} resume`",
        cfg.api_base
    );
    Err((
        JobEnd::Failed(JobFailure {
            message,
            kind: FailureKind::OtherService,
            maybe_billed: true,
        }),
        false,
    ))
}

/// What is said of a job found sent with no answer (a v1 request, or a v2 submit never confirmed).
fn unconfirmed(api: ApiVersion, samples: u32) -> String {
    match api {
        ApiVersion::V1 => interrupted_v1(0, samples),
        ApiVersion::V2 => "interrupted before the server confirmed the submit: it may have been billed. It was not re-sent; use Re-run to send it again".into(),
    }
}

/// What is said of a v2 job past its record's lifetime.
fn expired(request_id: &str, age: Duration) -> String {
    format!(
        "job {request_id} expired: the server keeps a record for one hour after submission, and \
         it was submitted {} minutes ago",
        age.as_secs() / 60
    )
}

/// What is said of a v1 job found interrupted, `saved` of its `samples` images saved before.
fn interrupted_v1(saved: usize, samples: u32) -> String {
    let before = if saved == 0 {
        String::new()
    } else {
        format!(" ({saved} of its {samples} images were saved before: they are in the gallery)")
    };
    format!(
        "interrupted: the app stopped while this v1 request was in flight, so it may have been billed{before}. It was not re-sent; use Re-run to send it again"
    )
}

/// What the runtime does once at its start: the notes of what was repaired on opening, and the
/// journal's unfinished jobs resumed.
pub(super) fn start_up(
    sh: &Arc<Shared>,
    cfg: &RuntimeConfig,
    permits: &Arc<Semaphore>,
    recovered: Vec<JournalJob>,
) {
    // Journal records that could not be read were dropped: the user hears of each one.
    for lost in sh.journal.iter().flat_map(|j| j.unreadable()) {
        sh.emit(Event::Notice(lost.clone()));
    }
    // What the gallery's catalog had to do on open (set aside and rebuilt, or working from memory).
    for note in sh.store.notes() {
        sh.emit(Event::Notice(format!("Gallery: {note}")));
    }
    // What the spend ledger had to do on open (a stopped process's jobs settled, a file set aside).
    for note in sh.gate.ledger().map(|l| l.notes()).unwrap_or_default() {
        sh.emit(Event::Notice(format!("Spend: {note}")));
    }
    for job in recovered {
        let token = CancellationToken::new();
        sh.cancels
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(job.id, token.clone());
        let span = tracing::info_span!("job", id = job.id);
        // A resumed job takes a permit and a pacer slot like a new one (see `resume_v2`).
        let resume = resume_job(sh.clone(), job, cfg.clone(), permits.clone(), token);
        tokio::spawn(tracing::Instrument::instrument(resume, span));
    }
}
