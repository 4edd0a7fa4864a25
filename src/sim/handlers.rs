//! The stand-in's routes: the gateway's checks (key, content type, body size, fields, balance),
//! v1 generation, the v2 submit/status/result endpoints, output downloads, credits, and the
//! middleware that records every request in the statistics.

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use serde_json::json;

use super::SimConfig;
use super::account::{self, Record};
use super::answers::{
    Refusal, early_fault_answer, error, garbage_bytes, html_page, json_answer, late_fault_answer,
    money, reset, secs, truncated,
};
use super::faults::Fault;
use super::render::{RenderSpec, render};
use super::state::{
    ConnKill, InFlight, Job, JobView, MAX_USER_AGENTS, QUEUED_SHARE, Shared, files_for,
    output_files, spec_for,
};
use super::validate::{GenRequest, InputImage, parse_request};

/// The largest request body accepted (`413` beyond).
pub const MAX_BODY: usize = 64 * 1024 * 1024;

/// Checks `x-api-key`; `Err` is the `401` to send.
pub(super) fn check_key(cfg: &SimConfig, headers: &HeaderMap) -> Result<(), Refusal> {
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
async fn admit(
    shared: &Shared,
    headers: &HeaderMap,
    body: Body,
) -> Result<(GenRequest, serde_json::Value), Refusal> {
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
    let mut req = parse_request(&bytes).map_err(|m| Box::new(error(StatusCode::BAD_REQUEST, m)))?;
    {
        let image = super::validate::inline_image(&bytes);
        let mut st = shared.lock();
        st.stats.received.push(super::Received {
            params: req.params.clone(),
            input: req.input.clone(),
            image_sha256: super::validate::inline_image_sha256(&bytes),
        });
        st.stats.last_image = image;
    }
    // An uploaded asset of ours is an image of a known size.
    let by_url = matches!(req.input, InputImage::Url(_));
    if let InputImage::Url(u) = &req.input
        && let Some((width, height)) = account::asset_size(shared, u)
    {
        req.input = InputImage::Inline { width, height };
    }
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
    {
        let mut inner = shared.lock();
        inner.stats.request_bytes += bytes.len() as u64;
        if by_url {
            inner.stats.images_by_url += 1;
        } else {
            inner.stats.images_inline += 1;
        }
    }
    let recorded = account::recorded_body(shared, &bytes);
    Ok((req, recorded))
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

async fn v1_generate(
    State(shared): State<Arc<Shared>>,
    kill: Option<axum::Extension<ConnKill>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    shared.lock().stats.v1_requests += 1;
    let (req, recorded) = match admit(&shared, &headers, body).await {
        Ok(r) => r,
        Err(answer) => return *answer,
    };
    let fault = draw_fault(&shared, false);
    shared
        .lock()
        .stats
        .v1_log
        .push((req.params.prompt.clone(), fault.map(Fault::name)));
    if let Some(a) = fault.and_then(|f| early_fault_answer(&shared.cfg, f)) {
        return a;
    }
    let _flight = InFlight::new(shared.clone());
    let started = Instant::now();
    let wait = match fault {
        Some(Fault::Slow) => shared.cfg.delay.saturating_add(shared.cfg.slow_extra),
        _ => shared.cfg.delay,
    };
    // The picture is drawn while the generation "runs": the answer comes after the longer of the two.
    let seed = resolve_seed(&shared, req.params.seed);
    let id = {
        let mut inner = shared.lock();
        let id = shared.new_id(&mut inner);
        inner.history.push(Record::new(id.clone(), recorded));
        id
    };
    let cost = shared.cost(&req);
    let (tx, rx) = tokio::sync::oneshot::channel();
    tokio::spawn(generation(
        shared.clone(),
        Generation {
            req: req.clone(),
            id: id.clone(),
            seed,
            wait,
            fault,
            cost,
        },
        tx,
    ));
    let (images, remaining) = match rx.await {
        Ok(Ok(done)) => done,
        Ok(Err(answer)) => return answer,
        Err(_) => return error(StatusCode::INTERNAL_SERVER_ERROR, "the generation stopped"),
    };
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
    let mime = req.params.image_format.mime();
    // Honest to the real service: a v1 answer is one image, whatever `samples` asked for, while the
    // bill below is for every sample (what a client asking v1 for N in one request loses).
    let first = images.into_iter().next().unwrap_or_default();
    let (content_type, body): (&'static str, Vec<u8>) = if req.params.base64 {
        let one = base64::engine::general_purpose::STANDARD.encode(&first);
        (
            "application/json",
            json!({ "image": one }).to_string().into_bytes(),
        )
    } else {
        (mime, first)
    };
    if fault == Some(Fault::Truncate) {
        return truncated(content_type, body);
    }
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

/// One v1 generation as the service runs it.
struct Generation {
    req: GenRequest,
    id: String,
    seed: i64,
    wait: std::time::Duration,
    fault: Option<Fault>,
    cost: f64,
}

/// What a generation's task hands its handler: the images and the balance after billing, or the
/// answer of a fault that came after the work.
type Ran = Result<(Result<Vec<Vec<u8>>, String>, f64), Response>;

/// Runs one v1 generation on its own task, as on the real service: a client that goes away (a kill,
/// a timeout) does not stop it, and it is billed and in the history all the same.
async fn generation(shared: Arc<Shared>, g: Generation, tx: tokio::sync::oneshot::Sender<Ran>) {
    let Generation {
        req,
        id,
        seed,
        wait,
        fault,
        cost,
    } = g;
    let specs: Vec<RenderSpec> = (0..req.params.samples)
        .map(|i| spec_for(&req, seed, i))
        .collect();
    let (images, ()) = tokio::join!(render_all(&shared, specs), tokio::time::sleep(wait));
    if let Some(a) = fault.and_then(late_fault_answer) {
        // The inference failed (not billed); a captive portal's page never reached the service.
        if fault != Some(Fault::Html) {
            if let Some(r) = shared.lock().record(&id) {
                r.fail("Internal server error (simulated)");
            }
        } else {
            shared.lock().history.retain(|r| r.request_id != id);
        }
        let _ = tx.send(Err(a));
        return;
    }
    // From here the generation ran: billed and in the history, whatever the answer.
    let remaining = {
        let mut inner = shared.lock();
        inner.credits -= cost;
        let mut urls = Vec::new();
        for (name, spec) in files_for(&id, &req, seed) {
            urls.push(format!("{}/outputs/{name}", shared.origin));
            inner.outputs.insert(name, spec);
        }
        if let Some(r) = inner.record(&id) {
            r.complete(cost, urls);
        }
        let lost = tx.is_closed()
            || matches!(fault, Some(Fault::Reset | Fault::Garbage | Fault::Truncate));
        if lost {
            inner.stats.billed_without_answer += 1;
            inner.stats.billed_without_answer_usd += cost;
        } else {
            inner.stats.billed_usd += cost;
            inner.stats.generations_billed += 1;
        }
        inner.credits
    };
    let _ = tx.send(Ok((images, remaining)));
}

async fn v2_submit(
    State(shared): State<Arc<Shared>>,
    kill: Option<axum::Extension<ConnKill>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    shared.lock().stats.v2_submits += 1;
    let (req, recorded) = match admit(&shared, &headers, body).await {
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
    let seed = resolve_seed(&shared, req.params.seed);
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
        inner.history.push(Record::new(id.clone(), recorded));
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
            let output = match urls.as_slice() {
                [one] => json!(one),
                _ => json!(urls),
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

pub(super) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/v1/flux-controlnet", post(v1_generate))
        .route("/v2/flux-controlnet", post(v2_submit))
        .route("/v2/requests/{id}/status", get(v2_status))
        .route("/v2/requests/{id}", get(v2_result))
        .route("/v1/get-user-credits", get(credits))
        .route("/outputs/{name}", get(output_file))
        .route("/inference-request/request-history", get(account::history))
        .route(
            "/inference-request/request-history/{id}",
            get(account::history_one),
        )
        .route(
            "/upload-asset",
            post(account::upload_asset).layer(axum::extract::DefaultBodyLimit::max(MAX_BODY)),
        )
        .route("/assets/{name}", get(account::asset))
        .fallback(unknown_path)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(shared.clone(), observe))
        .with_state(shared)
}
