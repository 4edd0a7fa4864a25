//! The HTTP client for the Segmind gateway: v1 (synchronous) generation, v2 submit/poll/fetch, and
//! the credit balance. One connection pool, bounded retries with exponential backoff and jitter only
//! where the contract allows them, cancellation, and progress callbacks.
//!
//! The key goes only into the `x-api-key` header, only over HTTPS or plain HTTP to loopback, and
//! never follows a redirect to another origin.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt as _;
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;
use url::Url;

use super::error::{ApiError, DecodeError, HttpClass, StatusError, message_from_body};
use super::key::ApiKey;
use super::params::{GenParams, WireRequest};
use super::response::{self, Accounting, Generation, JobState, OutputRef, Submitted};

/// What the client is doing, reported as it happens.
#[derive(Debug, Clone, PartialEq)]
pub enum Progress {
    /// A request is going out (attempt 1, 2, …).
    Sending { attempt: u32 },
    /// The request is out; the server is working (v1 blocks here for the whole generation).
    Waiting,
    /// Waiting before another attempt, and why.
    Retrying {
        attempt: u32,
        delay: Duration,
        reason: String,
        rate_limited: bool,
    },
    /// v2: the job was accepted under this id (write it down before polling).
    Submitted { request_id: String },
    /// v2: the job's state on the server.
    Remote { state: String },
    /// Downloading the output.
    Downloading,
}

/// Receives [`Progress`] reports.
pub type ProgressFn<'a> = &'a (dyn Fn(Progress) + Send + Sync);

/// A no-op progress sink.
pub fn no_progress(_: Progress) {}

/// How the client talks to the service.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// The v1 base URL, e.g. `https://api.segmind.com/v1`.
    pub api_base: String,
    /// How long one v1 generation may take before we give up on an answer (the call blocks for the
    /// whole generation: about 49 s, allow several minutes).
    pub generation_timeout: Duration,
    /// The timeout of the small calls (v2 submit, status, credits).
    pub short_timeout: Duration,
    pub connect_timeout: Duration,
    /// Retries after the first attempt, for the classes the contract allows.
    pub max_retries: u32,
    pub backoff_base: Duration,
    pub backoff_max: Duration,
    /// The longest wait a rate limit may impose before we give up instead.
    pub max_rate_limit_wait: Duration,
    /// The largest answer we accept.
    pub max_body_bytes: u64,
    /// How often a v2 job is polled.
    pub poll_interval: Duration,
    /// How long a v2 job may take in all before polling gives up (the record expires after an hour).
    pub v2_deadline: Duration,
}

impl Default for ClientConfig {
    fn default() -> Self {
        Self {
            api_base: super::DEFAULT_API_BASE.to_owned(),
            generation_timeout: Duration::from_secs(600),
            short_timeout: Duration::from_secs(60),
            connect_timeout: Duration::from_secs(15),
            max_retries: 4,
            backoff_base: Duration::from_secs(2),
            backoff_max: Duration::from_secs(60),
            max_rate_limit_wait: Duration::from_secs(300),
            max_body_bytes: 128 * 1024 * 1024,
            poll_interval: Duration::from_secs(1),
            v2_deadline: Duration::from_secs(3600),
        }
    }
}

/// The credit balance of the account behind the key.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Credits {
    pub credits: Option<f64>,
    pub free_credits: Option<f64>,
}

impl Credits {
    /// Paid plus free credits, when either is known.
    pub fn total(&self) -> Option<f64> {
        match (self.credits, self.free_credits) {
            (None, None) => None,
            (a, b) => Some(a.unwrap_or(0.0) + b.unwrap_or(0.0)),
        }
    }
}

/// The `User-Agent` we send: the app and its version.
pub fn user_agent() -> String {
    format!(
        "fluxcn/{} (Flux ControlNet Studio)",
        env!("CARGO_PKG_VERSION")
    )
}

/// Whether `host` is a loopback address (or `localhost`).
pub fn is_loopback_host(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}

/// Parses and checks a base URL: `http(s)`, a host, and plain HTTP only to loopback (the key must
/// never cross a network in clear text). The result ends with `/` so that joins append.
pub fn parse_base(base: &str) -> Result<Url, ApiError> {
    let t = base.trim();
    let mut url = Url::parse(t).map_err(|e| {
        ApiError::BadBaseUrl(format!("the API base URL {t:?} is not a valid URL: {e}"))
    })?;
    match url.scheme() {
        "https" => {}
        "http" if is_loopback_host(&url) => {}
        "http" => {
            return Err(ApiError::BadBaseUrl(format!(
                "refusing to send the API key over plain HTTP to {}: use an https:// base URL",
                url.host_str().unwrap_or("?")
            )));
        }
        other => {
            return Err(ApiError::BadBaseUrl(format!(
                "the API base URL must start with https:// (got {other}://)"
            )));
        }
    }
    if url.host().is_none() {
        return Err(ApiError::BadBaseUrl(format!(
            "the API base URL {t:?} has no host"
        )));
    }
    if !url.path().ends_with('/') {
        let p = format!("{}/", url.path());
        url.set_path(&p);
    }
    url.set_query(None);
    url.set_fragment(None);
    Ok(url)
}

/// The gateway root of a base URL: the base without its trailing `/v1` (as Segmind's SDK does).
pub fn root_of(base: &Url) -> Url {
    let mut root = base.clone();
    let path = base.path().trim_end_matches('/');
    let stripped = path.strip_suffix("/v1").unwrap_or(path);
    root.set_path(&format!("{stripped}/"));
    root
}

fn same_origin(a: &Url, b: &Url) -> bool {
    a.scheme() == b.scheme()
        && a.host_str() == b.host_str()
        && a.port_or_known_default() == b.port_or_known_default()
}

/// A v2 request id as a safe path segment (the id comes from the server and goes into our URLs).
fn safe_id(id: &str) -> Result<&str, ApiError> {
    if !id.is_empty()
        && id.len() <= 200
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
        && id != "."
        && id != ".."
    {
        Ok(id)
    } else {
        Err(ApiError::Decode(DecodeError::Unexpected(format!(
            "the server returned a request id that is not a plain identifier: {:?}",
            super::error::shorten(id, 60)
        ))))
    }
}

/// The Segmind client. Cheap to clone: the pool and the configuration are shared.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    /// For output downloads: no key, redirects followed (outputs live on a CDN).
    download: Arc<std::sync::OnceLock<reqwest::Client>>,
    cfg: Arc<ClientConfig>,
    base: Url,
    root: Url,
    key: ApiKey,
    key_header: reqwest::header::HeaderValue,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("base", &self.base.as_str())
            .field("key", &self.key)
            .finish()
    }
}

/// How a single attempt ended when it did not succeed, for the retry policy.
enum Attempt<T> {
    Done(T),
    Failed(ApiError),
}

impl Client {
    /// A client for `cfg.api_base` with `key`. Fails on an unusable base URL.
    pub fn new(cfg: ClientConfig, key: ApiKey) -> Result<Client, ApiError> {
        let base = parse_base(&cfg.api_base)?;
        let root = root_of(&base);
        // Marked sensitive so no debug print or trace of the request can show it.
        // A key is visible ASCII; anything else is a bad paste that would only earn a 401.
        if !key.expose().bytes().all(|b| b.is_ascii_graphic()) {
            return Err(ApiError::BadKey);
        }
        let mut key_header =
            reqwest::header::HeaderValue::from_str(key.expose()).map_err(|_| ApiError::BadKey)?;
        key_header.set_sensitive(true);
        let policy = reqwest::redirect::Policy::custom(|attempt| {
            let same = attempt
                .previous()
                .first()
                .is_some_and(|first| same_origin(first, attempt.url()));
            if attempt.previous().len() > 5 || !same {
                attempt.stop()
            } else {
                attempt.follow()
            }
        });
        let mut builder = reqwest::Client::builder()
            .user_agent(user_agent())
            .connect_timeout(cfg.connect_timeout)
            .redirect(policy);
        if base.scheme() == "http" {
            // Plain HTTP is allowed only to loopback and redirects stay on the same origin, so
            // this client never speaks TLS: skip loading the system's certificate store (about
            // 10 ms at every start).
            builder = builder.tls_certs_only(std::iter::empty());
        }
        let http = builder
            .build()
            .map_err(|e| ApiError::BadBaseUrl(format!("could not set up the HTTP client: {e}")))?;
        Ok(Client {
            http,
            download: Arc::new(std::sync::OnceLock::new()),
            cfg: Arc::new(cfg),
            base,
            root,
            key,
            key_header,
        })
    }

    pub fn config(&self) -> &ClientConfig {
        &self.cfg
    }

    /// The v1 endpoint of the model.
    pub fn v1_url(&self) -> Url {
        // Joining a fixed relative path onto a base that ends in `/` cannot fail.
        self.base
            .join(super::MODEL)
            .unwrap_or_else(|_| self.base.clone())
    }

    fn root_join(&self, path: &str) -> Url {
        self.root.join(path).unwrap_or_else(|_| self.root.clone())
    }

    /// The v2 submit endpoint.
    pub fn v2_submit_url(&self) -> Url {
        self.root_join(&format!("v2/{}", super::MODEL))
    }

    /// The status URL of a v2 job, always derived from our own root (never a URL the server sent,
    /// so the key cannot be steered to another host).
    pub fn v2_status_url(&self, request_id: &str) -> Result<Url, ApiError> {
        Ok(self.root_join(&format!("v2/requests/{}/status", safe_id(request_id)?)))
    }

    /// The result URL of a v2 job.
    pub fn v2_result_url(&self, request_id: &str) -> Result<Url, ApiError> {
        Ok(self.root_join(&format!("v2/requests/{}", safe_id(request_id)?)))
    }

    /// The delay before retry number `attempt` (1-based): exponential with jitter, capped.
    fn backoff(&self, attempt: u32) -> Duration {
        let exp = self
            .cfg
            .backoff_base
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(16));
        let capped = exp.min(self.cfg.backoff_max);
        // "Equal jitter": between half and the whole of the capped delay.
        let half = capped / 2;
        half + half.mul_f64(fastrand::f64())
    }

    /// Whether a failed attempt may be retried and after how long. `submit` is true for requests
    /// that start a billed job (v1 generate, v2 submit): those are re-sent only on answers that
    /// prove the job was not run.
    fn retry_delay(
        &self,
        e: &ApiError,
        attempt: u32,
        server_errors: &mut u32,
        v1: bool,
    ) -> Option<(Duration, String, bool)> {
        if attempt > self.cfg.max_retries {
            return None;
        }
        match e {
            ApiError::Connect { detail, .. } => Some((
                self.backoff(attempt),
                format!("could not connect: {detail}"),
                false,
            )),
            ApiError::Status(s) => match s.class {
                HttpClass::RateLimited => {
                    let d = s.retry_after.unwrap_or_else(|| self.backoff(attempt));
                    if d > self.cfg.max_rate_limit_wait {
                        None
                    } else {
                        Some((d, "rate limited (429)".to_owned(), true))
                    }
                }
                HttpClass::Unavailable => Some((
                    self.backoff(attempt),
                    format!("service unavailable ({})", s.status),
                    false,
                )),
                // A gateway timeout on v1 was not billed (the contract); on a v2 submit it is
                // ambiguous whether the job was queued, so it is not retried there.
                HttpClass::GatewayTimeout if v1 => Some((
                    self.backoff(attempt),
                    "gateway timeout (504)".to_owned(),
                    false,
                )),
                HttpClass::ServerError if v1 && *server_errors == 0 => {
                    *server_errors += 1;
                    Some((
                        self.backoff(attempt),
                        "server error (500), trying once more".to_owned(),
                        false,
                    ))
                }
                _ => None,
            },
            _ => None,
        }
    }

    /// Runs `once` with the retry policy. `v1` selects the v1 rules (504 and one 500 retried).
    async fn with_retries<T, F, Fut>(
        &self,
        cancel: &CancellationToken,
        progress: ProgressFn<'_>,
        v1: bool,
        mut once: F,
    ) -> Result<T, ApiError>
    where
        F: FnMut(u32) -> Fut,
        Fut: std::future::Future<Output = Attempt<T>>,
    {
        let mut attempt = 0u32;
        let mut server_errors = 0u32;
        loop {
            attempt += 1;
            if cancel.is_cancelled() {
                return Err(ApiError::Cancelled { after_send: false });
            }
            match once(attempt).await {
                Attempt::Done(v) => return Ok(v),
                Attempt::Failed(e) => {
                    let Some((delay, reason, rate_limited)) =
                        self.retry_delay(&e, attempt, &mut server_errors, v1)
                    else {
                        return Err(e);
                    };
                    tracing::info!(attempt, ?delay, %reason, "retrying");
                    progress(Progress::Retrying {
                        attempt: attempt + 1,
                        delay,
                        reason,
                        rate_limited,
                    });
                    tokio::select! {
                        _ = cancel.cancelled() => return Err(ApiError::Cancelled { after_send: false }),
                        _ = tokio::time::sleep(delay) => {}
                    }
                }
            }
        }
    }

    /// Maps a transport error. `sent` is whether the request may have reached the server.
    fn transport_error(&self, url: &Url, e: reqwest::Error, timeout: Duration) -> ApiError {
        let detail = self.key.redact(&error_chain(&e));
        if e.is_connect() {
            ApiError::Connect {
                url: origin_text(url),
                detail: self.key.redact(&connect_detail(&e)),
            }
        } else if e.is_timeout() {
            ApiError::NoAnswer {
                detail: format!("no answer within {} s", timeout.as_secs()),
            }
        } else {
            ApiError::NoAnswer {
                detail: no_answer_detail(&e).unwrap_or(detail),
            }
        }
    }

    /// Reads a whole body with the size cap and cancellation. Errors here come after the server
    /// answered, so they are `NoAnswer` (possibly billed), never retried.
    async fn read_body(
        &self,
        resp: reqwest::Response,
        cancel: &CancellationToken,
    ) -> Result<Vec<u8>, ApiError> {
        let limit = self.cfg.max_body_bytes;
        if resp.content_length().is_some_and(|n| n > limit) {
            return Err(DecodeError::TooLarge {
                limit_mb: limit / (1024 * 1024),
            }
            .into());
        }
        let expected = resp.content_length();
        let mut stream = resp.bytes_stream();
        let mut out: Vec<u8> =
            Vec::with_capacity(expected.unwrap_or(64 * 1024).min(limit) as usize);
        loop {
            let next = tokio::select! {
                _ = cancel.cancelled() => return Err(ApiError::Cancelled { after_send: true }),
                n = stream.next() => n,
            };
            match next {
                None => break,
                Some(Ok(chunk)) => {
                    if out.len() as u64 + chunk.len() as u64 > limit {
                        return Err(DecodeError::TooLarge {
                            limit_mb: limit / (1024 * 1024),
                        }
                        .into());
                    }
                    out.extend_from_slice(&chunk);
                }
                Some(Err(e)) => {
                    return Err(ApiError::NoAnswer {
                        detail: format!(
                            "the answer was cut off after {} bytes{}",
                            out.len(),
                            no_answer_detail(&e).map_or_else(
                                || format!(": {}", self.key.redact(&error_chain(&e))),
                                |d| format!(": {d}")
                            )
                        ),
                    });
                }
            }
        }
        Ok(out)
    }

    /// A non-200 answer as a [`StatusError`], with the server's message kept and the key scrubbed.
    async fn status_error(&self, resp: reqwest::Response, cancel: &CancellationToken) -> ApiError {
        let status = resp.status().as_u16();
        let retry_after = retry_after(resp.headers());
        let location = resp
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        // The body of an error is only for its message: a failure to read it leaves the message empty.
        let body = self.read_body(resp, cancel).await.unwrap_or_default();
        let mut message = self.key.redact(&message_from_body(&body));
        if let Some(loc) = location
            && (300..400).contains(&status)
        {
            message = format!("to {}", super::error::shorten(&loc, 120));
        }
        ApiError::Status(StatusError {
            status,
            class: HttpClass::from_status(status),
            message,
            retry_after,
        })
    }

    fn keyed(&self, rb: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        rb.header("x-api-key", self.key_header.clone())
    }

    /// One v1 attempt.
    async fn v1_once(
        &self,
        url: &Url,
        body: Bytes,
        cancel: &CancellationToken,
        progress: ProgressFn<'_>,
        attempt: u32,
    ) -> Attempt<Generation> {
        progress(Progress::Sending { attempt });
        let timeout = self.cfg.generation_timeout;
        let req = self
            .keyed(self.http.post(url.clone()))
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .timeout(timeout)
            .body(body);
        let send = req.send();
        tokio::pin!(send);
        // "Waiting" once the request has been out for a moment: v1 holds the connection open for the
        // whole generation.
        let waiting = tokio::time::sleep(Duration::from_millis(400));
        tokio::pin!(waiting);
        let mut said_waiting = false;
        let resp = loop {
            tokio::select! {
                _ = cancel.cancelled() => return Attempt::Failed(ApiError::Cancelled { after_send: true }),
                r = &mut send => break r,
                _ = &mut waiting, if !said_waiting => { said_waiting = true; progress(Progress::Waiting); }
            }
        };
        let resp = match resp {
            Ok(r) => r,
            Err(e) => return Attempt::Failed(self.transport_error(url, e, timeout)),
        };
        if resp.status() != reqwest::StatusCode::OK {
            return Attempt::Failed(self.status_error(resp, cancel).await);
        }
        let accounting = Accounting::from_headers(resp.headers());
        let content_type = resp
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let body = match self.read_body(resp, cancel).await {
            Ok(b) => b,
            Err(e) => return Attempt::Failed(e),
        };
        match response::decode_v1_body(body, &content_type) {
            Ok(images) => Attempt::Done(Generation { images, accounting }),
            Err(e) => Attempt::Failed(e.into()),
        }
    }

    /// Generates with the v1 (synchronous) endpoint. `image` is an `http(s)` URL or plain base64.
    ///
    /// Retries 429 (honouring the server's wait), 502/503/504 and connection failures, and a 500
    /// once; never a request that may have been run (no answer after sending).
    pub async fn generate(
        &self,
        image: &str,
        params: &GenParams,
        cancel: &CancellationToken,
        progress: ProgressFn<'_>,
    ) -> Result<Generation, ApiError> {
        let result: Result<Generation, ApiError> = async {
            params.validate()?;
            let body = Bytes::from(encode_body(image, params)?);
            let url = self.v1_url();
            self.with_retries(cancel, progress, true, |attempt| {
                self.v1_once(&url, body.clone(), cancel, progress, attempt)
            })
            .await
        }
        .await;
        result.map_err(|e| e.redacted(&self.key))
    }

    /// A small JSON call (v2 submit, status, result, credits): returns the status and body.
    async fn json_call(
        &self,
        rb: reqwest::RequestBuilder,
        url: &Url,
        cancel: &CancellationToken,
    ) -> Result<(u16, Vec<u8>, reqwest::header::HeaderMap), ApiError> {
        let timeout = self.cfg.short_timeout;
        let send = self.keyed(rb).timeout(timeout).send();
        let resp = tokio::select! {
            _ = cancel.cancelled() => return Err(ApiError::Cancelled { after_send: true }),
            r = send => r,
        };
        let resp = resp.map_err(|e| self.transport_error(url, e, timeout))?;
        let status = resp.status().as_u16();
        if status != 200 && status != 422 {
            return Err(self.status_error(resp, cancel).await);
        }
        let headers = resp.headers().clone();
        let body = self.read_body(resp, cancel).await?;
        Ok((status, body, headers))
    }

    /// v2 step 1: submits the job. Retried only on answers that prove it was not accepted (429,
    /// 502, 503, no connection); the caller must write the returned id down before polling.
    pub async fn submit(
        &self,
        image: &str,
        params: &GenParams,
        cancel: &CancellationToken,
        progress: ProgressFn<'_>,
    ) -> Result<Submitted, ApiError> {
        let result: Result<Submitted, ApiError> = async {
            params.validate()?;
            let body = Bytes::from(encode_body(image, params)?);
            let url = self.v2_submit_url();
            self.with_retries(cancel, progress, false, |attempt| {
                let body = body.clone();
                let url = &url;
                async move {
                    progress(Progress::Sending { attempt });
                    let rb = self
                        .http
                        .post(url.clone())
                        .header(reqwest::header::CONTENT_TYPE, "application/json")
                        .body(body);
                    match self.json_call(rb, url, cancel).await {
                        Ok((_, body, _)) => match serde_json::from_slice::<Submitted>(&body) {
                            Ok(s) => match safe_id(&s.request_id) {
                                Ok(_) => Attempt::Done(s),
                                Err(e) => Attempt::Failed(e),
                            },
                            Err(e) => {
                                Attempt::Failed(ApiError::Decode(DecodeError::Unexpected(format!(
                                    "the submit answer has no request id ({e}): {}",
                                    super::error::shorten(&String::from_utf8_lossy(&body), 120)
                                ))))
                            }
                        },
                        Err(e) => Attempt::Failed(e),
                    }
                }
            })
            .await
        }
        .await;
        result.map_err(|e| e.redacted(&self.key))
    }

    /// v2 step 2: the job's state. Safe to retry: polling never re-runs anything.
    pub async fn status(
        &self,
        request_id: &str,
        cancel: &CancellationToken,
    ) -> Result<(JobState, Accounting), ApiError> {
        let result: Result<(JobState, Accounting), ApiError> = async {
            let url = self.v2_status_url(request_id)?;
            let (_, body, _) = self
                .json_call(self.http.get(url.clone()), &url, cancel)
                .await?;
            let (state, metrics) = response::decode_status(&body)?;
            let mut acc = Accounting::default();
            acc.merge_metrics(&metrics);
            Ok((state, acc))
        }
        .await;
        result.map_err(|e| e.redacted(&self.key))
    }

    /// v2 step 3: the finished job's output, downloaded (without the key) where it is a URL.
    pub async fn fetch_result(
        &self,
        request_id: &str,
        cancel: &CancellationToken,
        progress: ProgressFn<'_>,
    ) -> Result<Generation, ApiError> {
        let result: Result<Generation, ApiError> = async {
            let url = self.v2_result_url(request_id)?;
            let (status, body, _) = self
                .json_call(self.http.get(url.clone()), &url, cancel)
                .await?;
            let v: serde_json::Value =
                serde_json::from_slice(&body).map_err(|e| DecodeError::BadJson(e.to_string()))?;
            let mut accounting = Accounting {
                request_id: Some(request_id.to_owned()),
                ..Default::default()
            };
            if let Some(m) = v.get("metrics") {
                accounting.merge_metrics(m);
            }
            if status == 422
                || v.get("status")
                    .and_then(|s| s.as_str())
                    .is_some_and(|s| s.eq_ignore_ascii_case("FAILED"))
            {
                let msg = v
                    .get("error")
                    .and_then(|e| e.as_str())
                    .unwrap_or("the generation failed");
                return Err(ApiError::Status(StatusError {
                    status: 422,
                    class: HttpClass::Unprocessable,
                    message: self.key.redact(&super::error::shorten(msg, 300)),
                    retry_after: None,
                }));
            }
            if let Some(seed) = v.get("seed").and_then(|s| s.as_i64()) {
                accounting.seed = Some(seed);
            }
            let mut images = Vec::new();
            for r in response::image_refs(&v)? {
                match r {
                    OutputRef::Inline(s) => images.push(response::decode_base64_image(&s)?),
                    OutputRef::Url(u) => {
                        progress(Progress::Downloading);
                        images.push(self.download(&u, cancel).await?);
                    }
                }
            }
            Ok(Generation { images, accounting })
        }
        .await;
        result.map_err(|e| e.redacted(&self.key))
    }

    /// The client for output downloads, made on first use (only v2 results given as URLs need it).
    fn download_client(&self) -> Result<reqwest::Client, ApiError> {
        if let Some(c) = self.download.get() {
            return Ok(c.clone());
        }
        let c = reqwest::Client::builder()
            .user_agent(user_agent())
            .connect_timeout(self.cfg.connect_timeout)
            .build()
            .map_err(|e| ApiError::BadBaseUrl(format!("could not set up the HTTP client: {e}")))?;
        // Another task may have set it first; either client is as good.
        Ok(self.download.get_or_init(|| c).clone())
    }

    /// Downloads an output file. The key is never sent here: outputs live on a storage host.
    async fn download(
        &self,
        url: &str,
        cancel: &CancellationToken,
    ) -> Result<response::ReceivedImage, ApiError> {
        let u = Url::parse(url).map_err(|e| {
            DecodeError::Unexpected(format!("an output URL that does not parse ({e})"))
        })?;
        let timeout = self.cfg.generation_timeout;
        let download = self.download_client()?;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let send = download.get(u.clone()).timeout(timeout).send();
            let resp = tokio::select! {
                _ = cancel.cancelled() => return Err(ApiError::Cancelled { after_send: true }),
                r = send => r,
            };
            let resp = match resp {
                Ok(r) if r.status().is_success() => r,
                Ok(r) => return Err(self.status_error(r, cancel).await),
                // A download is a GET of a stored file: safe to try again.
                Err(e) if attempt <= self.cfg.max_retries => {
                    tracing::info!(attempt, error = %error_chain(&e), "output download failed, retrying");
                    tokio::time::sleep(self.backoff(attempt)).await;
                    continue;
                }
                Err(e) => return Err(self.transport_error(&u, e, timeout)),
            };
            let ct = resp
                .headers()
                .get(reqwest::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned();
            let body = self.read_body(resp, cancel).await?;
            return Ok(response::check_image(body, &ct)?);
        }
    }

    /// v2 steps 2–3: polls a submitted job until it finishes, then fetches its output. Transient
    /// failures while polling are retried (polling is always safe); a job past `v2_deadline`, an
    /// expired record (404) or a failed inference (422) ends it.
    pub async fn wait_for(
        &self,
        request_id: &str,
        cancel: &CancellationToken,
        progress: ProgressFn<'_>,
    ) -> Result<Generation, ApiError> {
        let result: Result<Generation, ApiError> = async {

            let started = tokio::time::Instant::now();
            let mut failures = 0u32;
            let mut last_state = String::new();
            loop {
                if started.elapsed() > self.cfg.v2_deadline {
                    return Err(ApiError::Job(format!(
                        "job {request_id} did not finish within {} minutes",
                        self.cfg.v2_deadline.as_secs() / 60
                    )));
                }
                match self.status(request_id, cancel).await {
                    Ok((JobState::Completed, _)) => {
                        return self.fetch_result(request_id, cancel, progress).await;
                    }
                    Ok((JobState::Failed(msg), _)) => {
                        return Err(ApiError::Status(StatusError {
                            status: 422,
                            class: HttpClass::Unprocessable,
                            message: self.key.redact(&super::error::shorten(&msg, 300)),
                            retry_after: None,
                        }));
                    }
                    Ok((state, _)) => {
                        failures = 0;
                        let name = match &state {
                            JobState::Queued => "queued".to_owned(),
                            JobState::Processing => "processing".to_owned(),
                            JobState::Other(s) => s.to_ascii_lowercase(),
                            _ => String::new(),
                        };
                        if name != last_state {
                            progress(Progress::Remote {
                                state: name.clone(),
                            });
                            last_state = name;
                        }
                    }
                    Err(ApiError::Status(s)) if s.status == 404 => {
                        return Err(ApiError::Job(format!(
                            "the server no longer has job {request_id}: records expire one hour after submission{}",
                            if s.message.is_empty() {
                                String::new()
                            } else {
                                format!(" ({})", s.message)
                            }
                        )));
                    }
                    Err(e @ ApiError::Cancelled { .. }) => return Err(e),
                    Err(
                        e
                        @ (ApiError::Connect { .. } | ApiError::NoAnswer { .. } | ApiError::Decode(_)),
                    )
                    | Err(e @ ApiError::Status(_)) => {
                        let transient = match &e {
                            ApiError::Status(s) => matches!(
                                s.class,
                                HttpClass::RateLimited
                                    | HttpClass::Unavailable
                                    | HttpClass::GatewayTimeout
                                    | HttpClass::ServerError
                            ),
                            _ => true,
                        };
                        failures += 1;
                        if !transient || failures > self.cfg.max_retries.max(3) * 2 {
                            return Err(e);
                        }
                        let delay = match &e {
                            ApiError::Status(s) => s
                                .retry_after
                                .unwrap_or_else(|| self.backoff(failures.min(3))),
                            _ => self.backoff(failures.min(3)),
                        };
                        progress(Progress::Retrying {
                            attempt: failures + 1,
                            delay,
                            reason: format!("polling: {e}"),
                            rate_limited: e.class() == Some(HttpClass::RateLimited),
                        });
                        tokio::select! {
                            _ = cancel.cancelled() => return Err(ApiError::Cancelled { after_send: true }),
                            _ = tokio::time::sleep(delay) => {}
                        }
                        continue;
                    }
                    Err(e) => return Err(e),
                }
                tokio::select! {
                    _ = cancel.cancelled() => return Err(ApiError::Cancelled { after_send: true }),
                    _ = tokio::time::sleep(self.cfg.poll_interval) => {}
                }
            }

        }
        .await;
        result.map_err(|e| e.redacted(&self.key))
    }

    /// The account's credit balance: free, and a way to check a key before spending anything.
    pub async fn credits(&self, cancel: &CancellationToken) -> Result<Credits, ApiError> {
        let result: Result<Credits, ApiError> = async {
            let url = self.root_join("v1/get-user-credits");
            let (_, body, _) = self
                .json_call(self.http.get(url.clone()), &url, cancel)
                .await?;
            let v: serde_json::Value =
                serde_json::from_slice(&body).map_err(|e| DecodeError::BadJson(e.to_string()))?;
            let num = |k: &str| {
                v.get(k).and_then(|x| {
                    x.as_f64()
                        .or_else(|| x.as_str().and_then(|s| s.parse().ok()))
                })
            };
            let c = Credits {
                credits: num("credits"),
                free_credits: num("free-credits").or_else(|| num("free_credits")),
            };
            if c.credits.is_none() && c.free_credits.is_none() {
                return Err(DecodeError::Unexpected(format!(
                    "the credits answer has no balance: {}",
                    super::error::shorten(&String::from_utf8_lossy(&body), 120)
                ))
                .into());
            }
            Ok(c)
        }
        .await;
        result.map_err(|e| e.redacted(&self.key))
    }
}

fn encode_body(image: &str, params: &GenParams) -> Result<Vec<u8>, ApiError> {
    serde_json::to_vec(&WireRequest { image, params }).map_err(|e| {
        ApiError::InvalidParams(super::params::ParamError::new(
            "request",
            e,
            "values JSON can carry",
        ))
    })
}

fn origin_text(u: &Url) -> String {
    match (u.host_str(), u.port()) {
        (Some(h), Some(p)) => format!("{}://{h}:{p}", u.scheme()),
        (Some(h), None) => format!("{}://{h}", u.scheme()),
        _ => u.scheme().to_owned(),
    }
}

/// The root cause of a connection failure in plain words (the full chain repeats the URL and the
/// library's layers), with a hint where the cause is a known confusion.
fn connect_detail(e: &(dyn std::error::Error + 'static)) -> String {
    let mut root = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        root = c.to_string();
        cur = c.source();
    }
    let lower = root.to_ascii_lowercase();
    if lower.contains("invalidcontenttype")
        || lower.contains("corrupt message")
        || lower.contains("wrong version number")
    {
        format!("{root} (the server does not speak TLS here: is it plain http://?)")
    } else if lower.contains("dns")
        || lower.contains("failed to lookup")
        || lower.contains("name or service not known")
    {
        format!(
            "{root} (the host name could not be resolved: check the API base URL and the network)"
        )
    } else {
        root
    }
}

/// A plain sentence for the transport failures a user meets after sending (the raw chain of
/// hyper's errors names internals); `None` for the rest, which keep their chain.
fn no_answer_detail(e: &(dyn std::error::Error + 'static)) -> Option<String> {
    let chain = error_chain(e).to_ascii_lowercase();
    let says = |s: &str| chain.contains(s);
    if says("connection closed before message completed") || says("connection reset") {
        Some("the connection was closed before an answer came".into())
    } else if says("end of file before message length reached") || says("incomplete") {
        Some("the connection closed before the whole answer arrived".into())
    } else if says("invalid http") && says("parsed") {
        Some("the answer was not HTTP: check the API base URL (host and port)".into())
    } else {
        None
    }
}

/// The error and its causes in one line (reqwest's `Display` alone hides the cause).
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![e.to_string()];
    let mut cur = e.source();
    while let Some(c) = cur {
        let s = c.to_string();
        if !parts.iter().any(|p| p.contains(&s)) {
            parts.push(s);
        }
        cur = c.source();
    }
    parts.join(": ")
}

/// How long the server asked us to wait: `Retry-After` (seconds), or `x-rate-limit-reset-at-utc`
/// (a timestamp).
pub fn retry_after(h: &reqwest::header::HeaderMap) -> Option<Duration> {
    if let Some(v) = h
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        && let Ok(secs) = v.trim().parse::<f64>()
        && secs.is_finite()
        && secs >= 0.0
    {
        return Some(Duration::from_secs_f64(secs.min(86_400.0)));
    }
    let reset = h
        .get("x-rate-limit-reset-at-utc")
        .and_then(|v| v.to_str().ok())?;
    let at = humantime::parse_rfc3339_weak(reset.trim().trim_end_matches('Z')).ok()?;
    let now = std::time::SystemTime::now();
    Some(
        at.duration_since(now)
            .unwrap_or(Duration::ZERO)
            .min(Duration::from_secs(86_400)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls() {
        assert!(parse_base("https://api.segmind.com/v1").is_ok());
        assert!(parse_base("http://127.0.0.1:8080/v1").is_ok());
        assert!(parse_base("http://localhost:8080/v1").is_ok());
        assert!(parse_base("http://[::1]:8080/v1").is_ok());
        let e = parse_base("http://api.segmind.com/v1")
            .unwrap_err()
            .to_string();
        assert!(e.contains("plain HTTP"), "{e}");
        assert!(parse_base("ftp://x/v1").is_err());
        assert!(parse_base("not a url").is_err());
        let b = parse_base("https://api.segmind.com/v1").unwrap();
        assert_eq!(root_of(&b).as_str(), "https://api.segmind.com/");
        let b = parse_base("http://127.0.0.1:9/proxy/v1/").unwrap();
        assert_eq!(root_of(&b).as_str(), "http://127.0.0.1:9/proxy/");
    }

    #[test]
    fn urls_of_a_client() {
        let c = Client::new(
            ClientConfig {
                api_base: "https://api.segmind.com/v1".into(),
                ..Default::default()
            },
            ApiKey::new("SG_0123456789abcdef").unwrap(),
        )
        .unwrap();
        assert_eq!(
            c.v1_url().as_str(),
            "https://api.segmind.com/v1/flux-controlnet"
        );
        assert_eq!(
            c.v2_submit_url().as_str(),
            "https://api.segmind.com/v2/flux-controlnet"
        );
        assert_eq!(
            c.v2_status_url("ab-1").unwrap().as_str(),
            "https://api.segmind.com/v2/requests/ab-1/status"
        );
        assert!(c.v2_status_url("../x").is_err());
        assert!(c.v2_status_url("a/b").is_err());
        assert!(!format!("{c:?}").contains("0123456789abcdef"));
    }

    #[test]
    fn retry_after_headers() {
        let mut h = reqwest::header::HeaderMap::new();
        h.insert("retry-after", "3".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_secs(3)));
        let mut h = reqwest::header::HeaderMap::new();
        let soon = std::time::SystemTime::now() + Duration::from_secs(30);
        h.insert(
            "x-rate-limit-reset-at-utc",
            humantime::format_rfc3339(soon).to_string().parse().unwrap(),
        );
        let d = retry_after(&h).unwrap();
        assert!(
            d > Duration::from_secs(25) && d <= Duration::from_secs(30),
            "{d:?}"
        );
        assert_eq!(retry_after(&reqwest::header::HeaderMap::new()), None);
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let c = Client::new(
            ClientConfig {
                backoff_base: Duration::from_millis(100),
                backoff_max: Duration::from_millis(1000),
                ..Default::default()
            },
            ApiKey::new("k_long_enough").unwrap(),
        )
        .unwrap();
        for _ in 0..50 {
            let d1 = c.backoff(1);
            assert!(d1 >= Duration::from_millis(50) && d1 <= Duration::from_millis(100));
            let d10 = c.backoff(10);
            assert!(d10 >= Duration::from_millis(500) && d10 <= Duration::from_millis(1000));
        }
    }
}
