//! The stand-in's HTTP server: routes, auth and content-type checks, v1 generation, the v2 job
//! lifecycle, the credits endpoint, fault injection and the statistics tests read.
//!
//! Connections are served by hyper directly (not `axum::serve`) so that a handler can drop its own
//! connection without answering (the `reset` fault): each connection carries a [`ConnKill`] token.

use std::collections::{BTreeMap, HashMap};
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::SimConfig;
use super::faults::{Fault, FaultPlan};
use super::render::{RenderSpec, render};
use super::validate::{GenRequest, parse_request};

/// The largest request body accepted (`413` beyond).
pub const MAX_BODY: usize = 64 * 1024 * 1024;
/// The share of `delay` a v2 job spends `QUEUED` before `PROCESSING`.
const QUEUED_SHARE: f64 = 0.2;
/// At most this many distinct `User-Agent` values are kept in the stats.
const MAX_USER_AGENTS: usize = 64;

/// What the stand-in has seen so far (a snapshot: see [`SimServer::stats`]).
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
}

/// A v2 job.
#[derive(Debug, Clone)]
struct Job {
    req: GenRequest,
    seed: i64,
    submitted: Instant,
    fault: Option<Fault>,
    /// The balance right after this job was billed (`None`: not billed yet).
    billed: Option<f64>,
}

enum JobView {
    Missing,
    Waiting(&'static str),
    Failed,
    Completed { billed_balance: f64 },
}

#[derive(Debug)]
struct Inner {
    stats: SimStats,
    credits: f64,
    seed_rng: fastrand::Rng,
    next_id: u64,
    jobs: HashMap<String, Job>,
    /// Output files by name (`{id}.{ext}` or `{id}-{n}.{ext}`), rendered on each download.
    outputs: HashMap<String, RenderSpec>,
}

pub(crate) struct Shared {
    cfg: SimConfig,
    origin: String,
    inner: Mutex<Inner>,
    faults: Mutex<FaultPlan>,
    in_flight: AtomicUsize,
    /// Bounds the renders running at once (one per core).
    renders: tokio::sync::Semaphore,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A poisoned lock only means another handler panicked mid-update; the counters stay usable.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn plan(&self) -> MutexGuard<'_, FaultPlan> {
        self.faults.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn new_id(&self, inner: &mut Inner) -> String {
        inner.next_id += 1;
        format!("sim-{:06}-{:08x}", inner.next_id, inner.seed_rng.u32(..))
    }

    fn record_fault(&self, f: Fault) {
        *self
            .lock()
            .stats
            .faults_injected
            .entry(f.name().to_owned())
            .or_default() += 1;
    }

    fn cost(&self, req: &GenRequest) -> f64 {
        self.cfg.cost_per_image * f64::from(req.samples)
    }

    /// The state of a v2 job now. A job that has run its `delay` is completed (billed once, its
    /// output files published) before anything else is decided, so a record that expires unread was
    /// still billed, as on the real service.
    fn view_job(&self, inner: &mut Inner, id: &str, now: Instant) -> JobView {
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
            let balance = inner.credits;
            inner.stats.generations_billed += 1;
            for (name, spec) in output_files(id, &job) {
                inner.outputs.insert(name, spec);
            }
            if let Some(j) = inner.jobs.get_mut(id) {
                j.billed = Some(balance);
            }
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
    fn settle(&self, inner: &mut Inner, now: Instant) {
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
fn output_files(id: &str, job: &Job) -> Vec<(String, RenderSpec)> {
    let ext = job.req.image_format.extension();
    let n = job.req.samples.max(1);
    (0..n)
        .map(|i| {
            let name = if n == 1 {
                format!("{id}.{ext}")
            } else {
                format!("{id}-{}.{ext}", i + 1)
            };
            (name, spec_for(&job.req, job.seed, i))
        })
        .collect()
}

fn spec_for(req: &GenRequest, seed: i64, sample: u32) -> RenderSpec {
    let (width, height) = req.output_size();
    RenderSpec {
        width,
        height,
        cn_type: req.cn_type,
        seed: seed.saturating_add(i64::from(sample)),
        prompt: req.prompt.clone(),
        format: req.image_format,
        quality: req.quality,
    }
}

/// Counts a v1 generation in flight while alive and records its span when dropped (also when the
/// client went away and the handler was cancelled).
struct InFlight {
    shared: Arc<Shared>,
    start: Instant,
}

impl InFlight {
    fn new(shared: Arc<Shared>) -> Self {
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
struct ConnKill(CancellationToken);

// ---------------------------------------------------------------------------------------------
// Answers.

fn json_answer(status: StatusCode, v: Value) -> Response {
    (status, axum::Json(v)).into_response()
}

fn error(status: StatusCode, msg: impl Into<String>) -> Response {
    json_answer(status, json!({ "error": msg.into() }))
}

/// An nginx-style HTML error page, as a proxy in front of the service sends.
fn html_page(status: StatusCode) -> Response {
    let line = format!(
        "{} {}",
        status.as_u16(),
        status.canonical_reason().unwrap_or("Error")
    );
    let body = format!(
        "<html>\r\n<head><title>{line}</title></head>\r\n<body>\r\n<center><h1>{line}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
    );
    (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        body,
    )
        .into_response()
}

fn money(v: f64) -> String {
    format!("{:.4}", v)
}

fn secs(d: Duration) -> f64 {
    (d.as_secs_f64() * 1000.0).round() / 1000.0
}

/// An answer that refuses a request (boxed: a `Response` is large).
type Refusal = Box<Response>;

/// Checks `x-api-key`; `Err` is the `401` to send.
fn check_key(cfg: &SimConfig, headers: &HeaderMap) -> Result<(), Refusal> {
    let key = headers
        .get("x-api-key")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .unwrap_or("");
    if key.is_empty() {
        return Err(Box::new(error(
            StatusCode::UNAUTHORIZED,
            "Missing API key in x-api-key header",
        )));
    }
    if let Some(keys) = &cfg.accepted_keys
        && !keys.iter().any(|k| k == key)
    {
        return Err(Box::new(json_answer(
            StatusCode::UNAUTHORIZED,
            json!({
                "error": "invalid_token",
                "error_description": "API key is invalid or may have expired",
                "status_code": 401
            }),
        )));
    }
    Ok(())
}

/// Key, content type, body size, JSON, every field, then the balance: the checks of the gateway
/// before a generation starts. `Err` is the answer to send.
async fn admit(shared: &Shared, headers: &HeaderMap, body: Body) -> Result<GenRequest, Refusal> {
    check_key(&shared.cfg, headers)?;
    let json_ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"));
    if !json_ct {
        return Err(Box::new(error(
            StatusCode::NOT_ACCEPTABLE,
            "Invalid content type",
        )));
    }
    let too_large = || {
        error(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "Request body too large: the limit is {} MB",
                MAX_BODY / (1024 * 1024)
            ),
        )
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY as u64) {
        return Err(Box::new(too_large()));
    }
    let bytes: Bytes = axum::body::to_bytes(body, MAX_BODY)
        .await
        .map_err(|_| Box::new(too_large()))?;
    let req = parse_request(&bytes).map_err(|m| Box::new(error(StatusCode::BAD_REQUEST, m)))?;
    let cost = shared.cost(&req);
    let balance = {
        let mut inner = shared.lock();
        shared.settle(&mut inner, Instant::now());
        inner.credits
    };
    if balance < cost {
        return Err(Box::new(error(
            StatusCode::NOT_ACCEPTABLE,
            format!(
                "Insufficient credits: balance {}, cost {}",
                money(balance),
                money(cost)
            ),
        )));
    }
    Ok(req)
}

/// The answer of an error fault that stops a generation request before any work.
fn early_fault_answer(cfg: &SimConfig, f: Fault) -> Option<Response> {
    match f {
        Fault::Status429 => {
            let mut r = error(
                StatusCode::TOO_MANY_REQUESTS,
                "Rate limit exceeded: too many requests, try again later",
            );
            let (name, value) = if cfg.retry_after_on_429 {
                ("retry-after", "1".to_owned())
            } else {
                let at = SystemTime::now() + Duration::from_secs(1);
                (
                    "x-rate-limit-reset-at-utc",
                    humantime::format_rfc3339_seconds(at).to_string(),
                )
            };
            if let Ok(v) = HeaderValue::from_str(&value) {
                r.headers_mut().insert(name, v);
            }
            Some(r)
        }
        Fault::Status502 => Some(html_page(StatusCode::BAD_GATEWAY)),
        Fault::Status503 => Some(html_page(StatusCode::SERVICE_UNAVAILABLE)),
        Fault::Status403 => Some(error(
            StatusCode::FORBIDDEN,
            "Forbidden: this API key is not allowed to use flux-controlnet",
        )),
        Fault::Status410 => Some(error(
            StatusCode::GONE,
            "The model flux-controlnet has been retired",
        )),
        _ => None,
    }
}

/// The answer of an error fault that comes after the generation ran (not billed).
fn late_fault_answer(f: Fault) -> Option<Response> {
    match f {
        Fault::Status500 => Some(error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Internal server error",
        )),
        Fault::Status504 => Some(html_page(StatusCode::GATEWAY_TIMEOUT)),
        Fault::Html => Some(
            (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
                "<!DOCTYPE html><html><head><title>Sign in to the network</title></head><body><h1>Please sign in</h1></body></html>",
            )
                .into_response(),
        ),
        _ => None,
    }
}

/// A body that is not an image (and not JSON): what a broken proxy might send.
fn garbage_bytes() -> Vec<u8> {
    b"\x00GARBAGE\x01\x02 this is not an image "
        .iter()
        .copied()
        .cycle()
        .take(4096)
        .collect()
}

/// `200` announcing the full `Content-Length` but sending only the first half, then an error that
/// makes hyper close the connection.
fn truncated(content_type: &'static str, full: Vec<u8>) -> Response {
    let len = full.len();
    let half = Bytes::from(full).slice(..len / 2);
    // The pause lets hyper flush the head and the half body before the error closes the socket.
    let chunks = futures_util::stream::unfold(Some(Some(half)), |state| async move {
        match state {
            Some(Some(half)) => Some((Ok(half), Some(None))),
            Some(None) => {
                tokio::time::sleep(Duration::from_millis(50)).await;
                Some((
                    Err(std::io::Error::other("truncated by the stand-in (fault)")),
                    None,
                ))
            }
            None => None,
        }
    });
    let mut r = Response::new(Body::from_stream(chunks));
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    r.headers_mut()
        .insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    r
}

/// Drops the connection of this request without an answer and never returns.
async fn reset(kill: Option<ConnKill>) -> Response {
    if let Some(k) = kill {
        k.0.cancel();
        std::future::pending::<()>().await;
    }
    // Without a connection token (a router driven in-process) the closest is an empty 502.
    StatusCode::BAD_GATEWAY.into_response()
}

/// Renders the images of a request off the async threads, at most [`Shared::renders`] requests at
/// a time (a 4096² image holds ~50 MB while it is encoded).
async fn render_all(shared: &Shared, specs: Vec<RenderSpec>) -> Result<Vec<Vec<u8>>, String> {
    let _permit = shared
        .renders
        .acquire()
        .await
        .map_err(|_| "the renderer is shut down".to_owned())?;
    tokio::task::spawn_blocking(move || specs.iter().map(render).collect())
        .await
        .map_err(|e| format!("the renderer stopped: {e}"))?
}

fn draw_fault(shared: &Shared, v2: bool) -> Option<Fault> {
    let f = shared.plan().next_fault()?;
    if f.v2_only() && !v2 {
        return None;
    }
    shared.record_fault(f);
    Some(f)
}

fn resolve_seed(shared: &Shared, seed: i64) -> i64 {
    if seed == crate::api::params::RANDOM_SEED {
        i64::from(shared.lock().seed_rng.u32(..))
    } else {
        seed
    }
}

// ---------------------------------------------------------------------------------------------
// Handlers.

async fn v1_generate(
    State(shared): State<Arc<Shared>>,
    kill: Option<axum::Extension<ConnKill>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    shared.lock().stats.v1_requests += 1;
    let req = match admit(&shared, &headers, body).await {
        Ok(r) => r,
        Err(answer) => return *answer,
    };
    let fault = draw_fault(&shared, false);
    if let Some(a) = fault.and_then(|f| early_fault_answer(&shared.cfg, f)) {
        return a;
    }
    let _flight = InFlight::new(shared.clone());
    let started = Instant::now();
    let wait = match fault {
        Some(Fault::Slow) => shared.cfg.delay + shared.cfg.slow_extra,
        _ => shared.cfg.delay,
    };
    // The picture is drawn while the generation "runs": the answer comes after the longer of the two.
    let seed = resolve_seed(&shared, req.seed);
    let specs: Vec<RenderSpec> = (0..req.samples).map(|i| spec_for(&req, seed, i)).collect();
    let (images, ()) = tokio::join!(render_all(&shared, specs), tokio::time::sleep(wait));
    if let Some(a) = fault.and_then(late_fault_answer) {
        return a;
    }
    match fault {
        Some(Fault::Reset) => return reset(kill.map(|k| k.0)).await,
        Some(Fault::Garbage) => {
            return ([(header::CONTENT_TYPE, "image/jpeg")], garbage_bytes()).into_response();
        }
        _ => {}
    }
    let images = match images {
        Ok(i) => i,
        Err(m) => return error(StatusCode::INTERNAL_SERVER_ERROR, m),
    };
    let mime = req.image_format.mime();
    let (content_type, body): (&'static str, Vec<u8>) = if req.base64 {
        let enc: Vec<String> = images
            .iter()
            .map(|b| base64::engine::general_purpose::STANDARD.encode(b))
            .collect();
        let v = if enc.len() == 1 {
            json!({ "image": enc[0] })
        } else {
            json!({ "images": enc })
        };
        ("application/json", v.to_string().into_bytes())
    } else {
        // How several images come back raw is not confirmed: the stand-in sends the first.
        (mime, images.into_iter().next().unwrap_or_default())
    };
    if fault == Some(Fault::Truncate) {
        return truncated(content_type, body);
    }
    let cost = shared.cost(&req);
    let (remaining, id) = {
        let mut inner = shared.lock();
        inner.credits -= cost;
        inner.stats.generations_billed += 1;
        let id = shared.new_id(&mut inner);
        (inner.credits, id)
    };
    let mut r = ([(header::CONTENT_TYPE, content_type)], body).into_response();
    let h = r.headers_mut();
    let pairs = [
        ("x-cost", money(cost)),
        ("x-remaining-credits", money(remaining)),
        (
            "x-generation-time",
            format!("{:.3}", secs(started.elapsed())),
        ),
        ("x-seed-value", seed.to_string()),
        ("x-request-id", id),
    ];
    for (name, value) in pairs {
        if let Ok(v) = HeaderValue::from_str(&value) {
            h.insert(name, v);
        }
    }
    r
}

async fn v2_submit(
    State(shared): State<Arc<Shared>>,
    kill: Option<axum::Extension<ConnKill>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    shared.lock().stats.v2_submits += 1;
    let req = match admit(&shared, &headers, body).await {
        Ok(r) => r,
        Err(answer) => return *answer,
    };
    let fault = draw_fault(&shared, true);
    if let Some(a) =
        fault.and_then(|f| early_fault_answer(&shared.cfg, f).or_else(|| late_fault_answer(f)))
    {
        return a;
    }
    if fault == Some(Fault::Garbage) {
        return (
            [(header::CONTENT_TYPE, "application/json")],
            garbage_bytes(),
        )
            .into_response();
    }
    // From here the job exists and runs (and is billed), whatever happens to this answer.
    let seed = resolve_seed(&shared, req.seed);
    let id = {
        let mut inner = shared.lock();
        let id = shared.new_id(&mut inner);
        inner.jobs.insert(
            id.clone(),
            Job {
                req,
                seed,
                submitted: Instant::now(),
                fault,
                billed: None,
            },
        );
        id
    };
    let status_url = format!("{}/v2/requests/{id}/status", shared.origin);
    let answer = json!({
        "request_id": id,
        "status": "QUEUED",
        "poll_url": status_url,
        "status_url": status_url,
        "response_url": format!("{}/v2/requests/{id}", shared.origin),
    });
    match fault {
        Some(Fault::Reset) => reset(kill.map(|k| k.0)).await,
        Some(Fault::Truncate) => truncated("application/json", answer.to_string().into_bytes()),
        Some(Fault::Slow) => {
            tokio::time::sleep(shared.cfg.slow_extra).await;
            json_answer(StatusCode::OK, answer)
        }
        _ => json_answer(StatusCode::OK, answer),
    }
}

fn not_found(id: &str) -> Response {
    error(StatusCode::NOT_FOUND, format!("Request {id} not found"))
}

async fn v2_status(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    shared.lock().stats.status_polls += 1;
    if let Err(a) = check_key(&shared.cfg, &headers) {
        return *a;
    }
    let now = Instant::now();
    let mut inner = shared.lock();
    let view = shared.view_job(&mut inner, &id, now);
    let queued = inner.jobs.get(&id).map(|j| {
        now.saturating_duration_since(j.submitted)
            .min(shared.cfg.delay.mul_f64(QUEUED_SHARE))
    });
    drop(inner);
    let metrics = match queued {
        Some(q) => json!({ "queue_time": secs(q) }),
        None => json!({}),
    };
    let status = match view {
        JobView::Missing => return not_found(&id),
        JobView::Waiting(s) => s,
        JobView::Failed => "FAILED",
        JobView::Completed { .. } => "COMPLETED",
    };
    json_answer(
        StatusCode::OK,
        json!({ "status": status, "request_id": id, "metrics": metrics }),
    )
}

async fn v2_result(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    shared.lock().stats.result_fetches += 1;
    if let Err(a) = check_key(&shared.cfg, &headers) {
        return *a;
    }
    let mut inner = shared.lock();
    let view = shared.view_job(&mut inner, &id, Instant::now());
    let job = inner.jobs.get(&id).cloned();
    if matches!(view, JobView::Completed { .. }) {
        inner.stats.v2_results_delivered += 1;
    }
    drop(inner);
    let (view, job) = match (view, job) {
        (JobView::Missing, _) | (_, None) => return not_found(&id),
        (v, Some(j)) => (v, j),
    };
    match view {
        JobView::Failed => json_answer(
            StatusCode::UNPROCESSABLE_ENTITY,
            json!({
                "status": "FAILED",
                "error": "The inference failed: the model ran out of memory (simulated)",
                "metrics": {}
            }),
        ),
        JobView::Waiting(s) => {
            json_answer(StatusCode::OK, json!({ "status": s, "request_id": id }))
        }
        JobView::Completed { billed_balance } => {
            let urls: Vec<String> = output_files(&id, &job)
                .into_iter()
                .map(|(name, _)| format!("{}/outputs/{name}", shared.origin))
                .collect();
            let output = if urls.len() == 1 {
                json!(urls[0])
            } else {
                json!(urls)
            };
            let delay = shared.cfg.delay;
            let queue = delay.mul_f64(QUEUED_SHARE);
            json_answer(
                StatusCode::OK,
                json!({
                    "status": "COMPLETED",
                    "request_id": id,
                    "output": output,
                    "seed": job.seed,
                    "metrics": {
                        "cost": shared.cost(&job.req),
                        "remaining_credits": billed_balance,
                        "inference_time": secs(delay.saturating_sub(queue)),
                        "queue_time": secs(queue),
                        "total_time": secs(delay),
                    }
                }),
            )
        }
        JobView::Missing => not_found(&id),
    }
}

async fn output_file(State(shared): State<Arc<Shared>>, Path(name): Path<String>) -> Response {
    let spec = shared.lock().outputs.get(&name).cloned();
    let Some(spec) = spec else {
        return error(StatusCode::NOT_FOUND, format!("Output {name} not found"));
    };
    let mime = spec.format.mime();
    match render_all(&shared, vec![spec]).await {
        Ok(mut imgs) => {
            let bytes = imgs.pop().unwrap_or_default();
            shared.lock().stats.outputs_served += 1;
            ([(header::CONTENT_TYPE, mime)], bytes).into_response()
        }
        Err(m) => error(StatusCode::INTERNAL_SERVER_ERROR, m),
    }
}

async fn credits(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    shared.lock().stats.credits_calls += 1;
    if let Err(a) = check_key(&shared.cfg, &headers) {
        return *a;
    }
    let balance = {
        let mut inner = shared.lock();
        shared.settle(&mut inner, Instant::now());
        inner.credits
    };
    json_answer(
        StatusCode::OK,
        json!({ "credits": (balance * 10_000.0).round() / 10_000.0, "free-credits": 0.0 }),
    )
}

async fn method_not_allowed() -> Response {
    html_page(StatusCode::METHOD_NOT_ALLOWED)
}

async fn unknown_path(uri: axum::http::Uri) -> Response {
    error(
        StatusCode::NOT_FOUND,
        format!("Not found: {} (no such endpoint)", uri.path()),
    )
}

/// Records the `User-Agent` of every request and the status of every answer.
async fn observe(State(shared): State<Arc<Shared>>, req: Request, next: Next) -> Response {
    let ua = req
        .headers()
        .get(header::USER_AGENT)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .unwrap_or_default();
    {
        let mut inner = shared.lock();
        let uas = &mut inner.stats.user_agents;
        if uas.len() < MAX_USER_AGENTS && !uas.contains(&ua) {
            uas.push(ua);
        }
    }
    let r = next.run(req).await;
    *shared
        .lock()
        .stats
        .by_status
        .entry(r.status().as_u16())
        .or_default() += 1;
    r
}

fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/v1/flux-controlnet", post(v1_generate))
        .route("/v2/flux-controlnet", post(v2_submit))
        .route("/v2/requests/{id}/status", get(v2_status))
        .route("/v2/requests/{id}", get(v2_result))
        .route("/v1/get-user-credits", get(credits))
        .route("/outputs/{name}", get(output_file))
        .fallback(unknown_path)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(shared.clone(), observe))
        .with_state(shared)
}

// ---------------------------------------------------------------------------------------------
// The server.

/// A running stand-in on `127.0.0.1`. Stops on [`SimServer::shutdown`] or when dropped.
pub struct SimServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: CancellationToken,
}

impl std::fmt::Debug for SimServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimServer")
            .field("addr", &self.addr)
            .finish()
    }
}

impl SimServer {
    /// The bound address (`127.0.0.1:PORT`).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The v1 base URL to give a client: `http://127.0.0.1:PORT/v1`.
    pub fn base_url(&self) -> String {
        format!("{}/v1", self.shared.origin)
    }

    /// A snapshot of the statistics (after billing every v2 job that is due).
    pub fn stats(&self) -> SimStats {
        let mut inner = self.shared.lock();
        self.shared.settle(&mut inner, Instant::now());
        inner.stats.clone()
    }

    /// The current balance (after billing every v2 job that is due).
    pub fn credits(&self) -> f64 {
        let mut inner = self.shared.lock();
        self.shared.settle(&mut inner, Instant::now());
        inner.credits
    }

    /// Scripted faults: the next generation requests (v1 POST or v2 submit) that pass the key,
    /// content-type, field and balance checks get these, in order, before any random draw. A v2-only fault (`fail`, `expire`) reaching a v1 request is used up
    /// without effect.
    pub fn push_faults(&self, f: impl IntoIterator<Item = Fault>) {
        self.shared.plan().push(f);
    }

    /// Stops accepting and closes every connection.
    pub fn shutdown(self) {
        drop(self);
    }
}

impl Drop for SimServer {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// Starts the stand-in on `127.0.0.1:port` (`0`: any free port). Must be called inside a tokio
/// runtime; the server runs on it until shut down.
pub async fn start_on(cfg: SimConfig, port: u16) -> std::io::Result<SimServer> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, port)).await?;
    let addr = listener.local_addr()?;
    let plan = FaultPlan::new(cfg.faults.clone(), cfg.seed);
    let shared = Arc::new(Shared {
        origin: format!("http://{addr}"),
        inner: Mutex::new(Inner {
            stats: SimStats::default(),
            credits: cfg.credits,
            seed_rng: fastrand::Rng::with_seed(cfg.seed ^ 0x5EED_5EED_5EED_5EED),
            next_id: 0,
            jobs: HashMap::new(),
            outputs: HashMap::new(),
        }),
        faults: Mutex::new(plan),
        in_flight: AtomicUsize::new(0),
        renders: tokio::sync::Semaphore::new(
            std::thread::available_parallelism().map_or(2, |n| n.get().clamp(1, 8)),
        ),
        cfg,
    });
    let stop = CancellationToken::new();
    tokio::spawn(accept_loop(listener, router(shared.clone()), stop.clone()));
    Ok(SimServer { addr, shared, stop })
}

async fn accept_loop(listener: TcpListener, app: Router, stop: CancellationToken) {
    loop {
        let accepted = tokio::select! {
            _ = stop.cancelled() => return,
            a = listener.accept() => a,
        };
        match accepted {
            Ok((stream, _)) => {
                let _ = stream.set_nodelay(true);
                tokio::spawn(serve_connection(stream, app.clone(), stop.child_token()));
            }
            // Out of file descriptors or a connection reset while queued: wait a moment.
            Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    }
}

async fn serve_connection(stream: tokio::net::TcpStream, app: Router, kill: CancellationToken) {
    use hyper::service::Service as _;
    let svc = hyper_util::service::TowerToHyperService::new(app);
    let token = kill.clone();
    let service =
        hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
            req.extensions_mut().insert(ConnKill(token.clone()));
            svc.call(req)
        });
    let conn = hyper::server::conn::http1::Builder::new()
        .serve_connection(hyper_util::rt::TokioIo::new(stream), service);
    tokio::select! {
        _ = conn => {}
        // Dropping the connection closes the socket without an answer.
        _ = kill.cancelled() => {}
    }
}

/// Runs the stand-in on `port` until Ctrl-C, printing its base URL on stdout.
pub async fn serve(cfg: SimConfig, port: u16) -> std::io::Result<()> {
    let server = start_on(cfg, port).await?;
    println!("{}", server.base_url());
    eprintln!("fluxcn stand-in listening; press Ctrl-C to stop");
    tokio::signal::ctrl_c().await?;
    server.shutdown();
    Ok(())
}
