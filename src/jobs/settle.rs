//! Settling "maybe billed" from the account's own records (issue 25). A job whose outcome is
//! unknown (a v1 answer cut off or lost, a kill after sending, a v2 submit never confirmed, a batch
//! line marked unknown) is looked up in Segmind's request history: a v2 job by its request id, any
//! other by its settings (every field but the image) within its time window, leaving out requests
//! the ledger already knows. `COMPLETED` brings its images home as a normal result (saved, charged
//! at the account's figure); `FAILED` says it was not billed; `PENDING` is left open. No match, or
//! more than one, is said and left to the user: never guessed, never re-sent.

use std::collections::HashSet;
use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use super::journal::now_ms;
use tracing::Instrument as _;

use super::runtime::{
    JobEnd, Outcome, Shared, finish, progress_sink, save, still_on_server, unfinished_v2, with_note,
};
use super::types::{
    ApiVersion, FailureKind, InputSource, JobFailure, JobId, JobSpec, RuntimeConfig, SavedImage,
    Stage,
};
use crate::api::client::history::{
    HistoryQuery, HistoryRow, RowStatus, WINDOW_DAYS_MAX, body_matches, outputs_of, utc_day,
};
use crate::api::{Accounting, ApiError, Client, GenParams, Generation, Progress};

/// How far before its start, and after its end, a job's request may have been stamped (clocks
/// differ; the service stamps when it starts).
const BEFORE_MS: u64 = 2 * 60 * 1000;
const AFTER_MS: u64 = 15 * 60 * 1000;
/// The most history pages read for one question (100 rows each).
const MAX_PAGES: u32 = 20;

/// What the account says of one job.
#[derive(Debug)]
pub enum Verdict {
    /// Billed and done: its images, downloaded.
    Completed {
        request_id: String,
        generation: Generation,
    },
    /// Billed and done, but the history names no output to download.
    BilledWithoutImage { request_id: String, cost: f64 },
    /// The request failed at Segmind: nothing was billed.
    Failed {
        request_id: String,
        error: Option<String>,
    },
    /// Still running at Segmind: ask again later.
    Pending { request_id: String },
    /// Nothing in the history is this job.
    NoMatch,
    /// More than one request could be this job: listed, not chosen.
    Ambiguous(Vec<String>),
}

/// A job to look up.
#[derive(Debug, Clone)]
pub struct Question<'a> {
    pub params: &'a GenParams,
    /// Known for a v2 job whose submit was confirmed.
    pub request_id: Option<&'a str>,
    /// When the job was started and when its outcome became unknown (ms since the epoch).
    pub from_ms: u64,
    pub to_ms: u64,
    /// Request ids already recorded (the ledger's): never this job.
    pub known: &'a HashSet<String>,
}

/// Asks the account's history about one job.
pub async fn ask(
    client: &Client,
    q: &Question<'_>,
    cancel: &CancellationToken,
) -> Result<Verdict, ApiError> {
    let (request_id, rows) = match q.request_id {
        Some(id) => (id.to_owned(), client.history_request(id, cancel).await?),
        None => {
            let rows = window_rows(client, q, cancel).await?;
            match pick(&rows, q) {
                Pick::One(id) => {
                    let rows = rows.into_iter().filter(|r| r.request_id == id).collect();
                    (id, rows)
                }
                Pick::None => return Ok(Verdict::NoMatch),
                Pick::Many(ids) => return Ok(Verdict::Ambiguous(ids)),
            }
        }
    };
    let Some(first) = rows.first() else {
        return Ok(Verdict::NoMatch);
    };
    match &first.status {
        RowStatus::Completed => {
            let cost = first.credits_deduction.unwrap_or_default();
            let urls = outputs_of(&rows, &request_id);
            if urls.is_empty() {
                return Ok(Verdict::BilledWithoutImage { request_id, cost });
            }
            let mut images = Vec::new();
            for u in urls.iter().take(q.params.samples.max(1) as usize) {
                images.push(client.download_output(u, cancel).await?);
            }
            let seed = first
                .request_body
                .as_ref()
                .and_then(|b| b.get("seed"))
                .and_then(serde_json::Value::as_i64)
                .filter(|s| *s != crate::api::params::RANDOM_SEED);
            let generation = Generation {
                images,
                accounting: Accounting {
                    cost: first.credits_deduction,
                    request_id: Some(request_id.clone()),
                    seed,
                    generation_time: first.latency_ms.map(|ms| ms / 1000.0),
                    ..Default::default()
                },
            };
            Ok(Verdict::Completed {
                request_id,
                generation,
            })
        }
        RowStatus::Failed => Ok(Verdict::Failed {
            request_id,
            error: first.error.clone(),
        }),
        RowStatus::Pending | RowStatus::Other(_) => Ok(Verdict::Pending { request_id }),
    }
}

/// The model's rows of the days around the job's window.
async fn window_rows(
    client: &Client,
    q: &Question<'_>,
    cancel: &CancellationToken,
) -> Result<Vec<HistoryRow>, ApiError> {
    let day = utc_day;
    let to = day(q.to_ms.saturating_add(AFTER_MS));
    let from = day(q.from_ms.saturating_sub(BEFORE_MS))
        .max(to - chrono::Duration::days(WINDOW_DAYS_MAX - 1));
    let mut query = HistoryQuery::model(from, to);
    let mut rows = Vec::new();
    for page in 1..=MAX_PAGES {
        query.page = page;
        let got = client.history_page(&query, cancel).await?;
        // Newest first: once a page is older than the window, the rest are too.
        let older = got
            .rows
            .iter()
            .all(|r| r.created_ms.is_some_and(|t| t + BEFORE_MS < q.from_ms));
        rows.extend(got.rows);
        if !got.more || older {
            break;
        }
    }
    Ok(rows)
}

enum Pick {
    One(String),
    None,
    Many(Vec<String>),
}

/// The one request that is this job: in its window, of its settings, not one the ledger knows. A
/// request that completed wins over failed tries of the same settings (a retry after a failure
/// sends the same body again); two that completed are ambiguous.
fn pick(rows: &[HistoryRow], q: &Question<'_>) -> Pick {
    let lo = q.from_ms.saturating_sub(BEFORE_MS);
    let hi = q.to_ms.saturating_add(AFTER_MS);
    let candidates: Vec<&HistoryRow> = rows
        .iter()
        .filter(|r| !q.known.contains(&r.request_id))
        .filter(|r| r.created_ms.is_none_or(|t| (lo..=hi).contains(&t)))
        .filter(|r| {
            r.request_body
                .as_ref()
                .is_some_and(|b| body_matches(b, q.params))
        })
        .collect();
    let ids_of = |want: &dyn Fn(&RowStatus) -> bool| {
        let mut ids: Vec<String> = Vec::new();
        for r in candidates.iter().filter(|r| want(&r.status)) {
            if !ids.contains(&r.request_id) {
                ids.push(r.request_id.clone());
            }
        }
        ids
    };
    for ids in [
        ids_of(&|s| *s == RowStatus::Completed),
        ids_of(&|s| matches!(s, RowStatus::Pending | RowStatus::Other(_))),
        ids_of(&|s| *s == RowStatus::Failed),
    ] {
        match ids.len() {
            0 => continue,
            1 => return Pick::One(ids.into_iter().next().unwrap_or_default()),
            _ => return Pick::Many(ids),
        }
    }
    Pick::None
}

/// How settling a job ended, for the runtime.
pub(super) enum Settled {
    /// Its images are saved and its charge recorded: the job is done.
    Saved((Vec<SavedImage>, Accounting)),
    /// Not billed (the account says the request failed): the user may send it again.
    NotBilled(String),
    /// Still running at Segmind, as request `request_id`: left open (a v2 job is polled for).
    StillRunning { message: String, request_id: String },
    /// Not settled: why (no match, several, the history unreachable). Still "maybe billed".
    Unsettled(String),
}

/// Asks the account about job `id` and acts on the answer: saves a completed request's images (the
/// input re-prepared from its file when it has one, to be kept beside them), clears a failed one's
/// "maybe billed" row.
pub(super) async fn settle_job(
    sh: &Arc<Shared>,
    id: JobId,
    spec: &JobSpec,
    cfg: &RuntimeConfig,
    request_id: Option<&str>,
    from_ms: u64,
    cancel: &CancellationToken,
) -> Settled {
    let client = match sh.client(cfg).await {
        Ok(c) => c,
        Err(e) => return Settled::Unsettled(format!("the account could not be asked ({e})")),
    };
    let known = known_for(sh, id, from_ms);
    let q = Question {
        params: &spec.params,
        request_id,
        from_ms,
        to_ms: now_ms(),
        known: &known,
    };
    let verdict = match ask(&client, &q, cancel).await {
        Ok(v) => v,
        Err(e) => {
            return Settled::Unsettled(format!(
                "Segmind's request history could not be read ({e})"
            ));
        }
    };
    tracing::info!(
        id,
        ?request_id,
        verdict = verdict_name(&verdict),
        "asked the account"
    );
    match &verdict {
        Verdict::Completed { request_id, .. }
        | Verdict::BilledWithoutImage { request_id, .. }
        | Verdict::Pending { request_id } => sh.claim_request(request_id),
        _ => {}
    }
    match verdict {
        Verdict::Completed {
            request_id,
            generation,
        } => {
            let kept = kept_input(spec, cfg).await;
            match save(sh, id, spec, generation, kept, 0).await {
                Ok(done) => {
                    sh.emit(super::types::Event::Notice(format!(
                        "job {id}: Segmind's history shows request {request_id} completed; its image was fetched and saved (not paid for again)"
                    )));
                    Settled::Saved(done)
                }
                Err(JobEnd::Failed(f)) => Settled::Unsettled(f.message),
                Err(JobEnd::Cancelled { .. }) => Settled::Unsettled("cancelled".into()),
            }
        }
        Verdict::BilledWithoutImage { request_id, cost } => {
            if let Some(l) = sh.gate.ledger() {
                let acc = Accounting {
                    cost: Some(cost),
                    request_id: Some(request_id.clone()),
                    ..Default::default()
                };
                let charge = super::runtime::charge_of(id, spec, &acc, 0, 0);
                if let Err(e) = l.record(&charge) {
                    tracing::error!(error = %e, "the spend ledger could not record a settled job");
                }
            }
            Settled::Unsettled(format!(
                "Segmind's history shows request {request_id} completed and billed (${cost:.3}), but names no image to download"
            ))
        }
        Verdict::Failed { request_id, error } => {
            if let Some(l) = sh.gate.ledger()
                && let Err(e) = l.clear_maybe(id)
            {
                tracing::error!(error = %e, "the spend ledger could not clear a maybe-billed row");
            }
            Settled::NotBilled(format!(
                "Segmind's history shows request {request_id} failed{}: it was not billed. Re-run sends it again",
                error.map(|e| format!(" ({e})")).unwrap_or_default()
            ))
        }
        Verdict::Pending { request_id } => Settled::StillRunning {
            message: format!(
                "Segmind's history shows request {request_id} still running: check with Segmind again later"
            ),
            request_id,
        },
        Verdict::NoMatch => Settled::Unsettled(
            "Segmind's request history shows no request of these settings in the job's time (it may not be listed yet: check with Segmind again later, or see the dashboard)".into(),
        ),
        Verdict::Ambiguous(ids) => Settled::Unsettled(format!(
            "Segmind's request history shows {} requests of these settings in the job's time ({}): which one is this job is left to you (fluxcn reconcile --import brings in every charge the ledger lacks)",
            ids.len(),
            ids.join(", ")
        )),
    }
}

/// The request ids that are not job `id`'s: the ledger's (but this job's own "maybe billed" row,
/// which is what is being settled), and those other jobs of this process own.
fn known_for(sh: &Shared, id: JobId, from_ms: u64) -> HashSet<String> {
    let mut known: HashSet<String> = sh
        .gate
        .ledger()
        .and_then(|l| l.known_requests(from_ms.saturating_sub(86_400_000)).ok())
        .map(|m| {
            m.into_iter()
                .filter(|(_, k)| !(k.maybe && k.job_id == id))
                .map(|(r, _)| r)
                .collect()
        })
        .unwrap_or_default();
    known.extend(sh.claimed_requests());
    known
}

fn verdict_name(v: &Verdict) -> &'static str {
    match v {
        Verdict::Completed { .. } => "completed",
        Verdict::BilledWithoutImage { .. } => "billed without image",
        Verdict::Failed { .. } => "failed",
        Verdict::Pending { .. } => "pending",
        Verdict::NoMatch => "no match",
        Verdict::Ambiguous(_) => "ambiguous",
    }
}

/// The input as it was sent, prepared again from its file (a recovered job's payload is gone); none
/// for a URL input or a file that is no longer there.
async fn kept_input(spec: &JobSpec, cfg: &RuntimeConfig) -> Option<String> {
    if !matches!(spec.input, InputSource::File(_)) {
        return None;
    }
    let source = spec.input.clone();
    let opts = crate::api::input::PrepareOptions {
        max_side: cfg.max_input_side,
        framing: spec.framing,
        ..Default::default()
    };
    tokio::task::spawn_blocking(move || crate::api::input::prepare(&source, &opts).ok())
        .await
        .ok()
        .flatten()
        .map(|p| p.payload)
}

/// A failure that says how the account answered.
pub(super) fn failure(message: String, maybe_billed: bool) -> JobEnd {
    JobEnd::Failed(JobFailure {
        message,
        kind: FailureKind::Interrupted,
        maybe_billed,
    })
}

/// `Command::Settle`: asks the account about job `id` on its own task, reporting how it ended like
/// any job (not journaled: it sends nothing).
pub(super) fn settle_command(
    sh: &Arc<Shared>,
    cfg: &RuntimeConfig,
    id: JobId,
    spec: JobSpec,
    request_id: Option<String>,
    from_ms: u64,
) {
    let (sh, cfg) = (sh.clone(), cfg.clone());
    let token = CancellationToken::new();
    sh.cancels
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(id, token.clone());
    let settle = async move {
        sh.stage(
            id,
            Stage::Remote {
                state: "asking Segmind".into(),
            },
        );
        let said = settle_job(&sh, id, &spec, &cfg, request_id.as_deref(), from_ms, &token);
        let outcome = match said.await {
            Settled::Saved(done) => Ok(done),
            Settled::NotBilled(m) => Err((failure(m, false), false)),
            // Still unknown: said as "no answer", as the job's own end was.
            Settled::StillRunning { message: m, .. } | Settled::Unsettled(m) => Err((
                JobEnd::Failed(JobFailure {
                    message: m,
                    kind: FailureKind::NoAnswer,
                    maybe_billed: true,
                }),
                false,
            )),
        };
        finish(&sh, id, spec.batch.as_ref(), outcome);
    };
    tokio::spawn(settle.instrument(tracing::info_span!("settle", id)));
}

/// A request sent and not answered in full may have run and been billed: the account's history
/// says (never a second POST). `end` is the failure reported when it does not settle it.
#[allow(clippy::too_many_arguments)] // the job's parts; a struct would only rename them
pub(super) async fn settle_lost(
    sh: &Arc<Shared>,
    (id, spec, cfg): (JobId, &JobSpec, &RuntimeConfig),
    client: &Client,
    end: JobEnd,
    sent: Option<String>,
    sent_at: u64,
    cancel: &CancellationToken,
) -> Outcome {
    sh.stage(
        id,
        Stage::Remote {
            state: "asking Segmind".into(),
        },
    );
    match settle_job(sh, id, spec, cfg, None, sent_at, cancel).await {
        Settled::Saved(done) => Ok(done),
        Settled::NotBilled(m) => Err((failure(m, false), true)),
        // A v2 submit whose answer was lost: the history names the job, which is polled for
        // like any other from here.
        Settled::StillRunning { request_id, .. } if spec.api == ApiVersion::V2 => {
            sh.journal(|j| j.submitted(id, &request_id));
            let progress = progress_sink(sh, id);
            progress(Progress::Submitted {
                request_id: request_id.clone(),
            });
            match client.wait_for(&request_id, cancel, &progress).await {
                Ok(g) => save(sh, id, spec, g, sent, 0).await.map_err(|e| (e, true)),
                Err(e) if still_on_server(&e) => Err((unfinished_v2(e, &request_id), false)),
                Err(e) => Err((e.into(), true)),
            }
        }
        // Still running (a v1 request): the journal keeps it for the next start to ask again.
        Settled::StillRunning { message, .. } => Err((with_note(end, &message), false)),
        Settled::Unsettled(m) => Err((with_note(end, &m), true)),
    }
}
