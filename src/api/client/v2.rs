//! v2, the asynchronous endpoints: submit a job, poll its state, fetch its output, and download
//! output files (without the key). Submit is retried under [`RequestKind::Submit`] (and never sent
//! again because of a redirect), polling under [`RequestKind::Poll`] and downloads under
//! [`RequestKind::Download`].
//!
//! Every wait of a job has a ceiling: each retry's (the policy's), and the job's own deadline
//! (`ClientConfig::v2_deadline` after its submission: the record lives an hour), past which polling
//! stops with [`JobError::Deadline`] (the job may still be fetched later). A result keeps at most
//! the job's `samples` outputs, and each output file is read with a cap (`max_image_bytes`,
//! refused from `Content-Length` or as soon as the body grows past it), so a result never holds
//! more than `samples` × that cap in memory. A download that fails is told apart from the
//! service's own answers ([`Answerer::OutputHost`]): the job is finished and paid for.

use std::time::{Duration, SystemTime};

use bytes::Bytes;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use url::Url;

use super::retry::{MAX_SERVER_WAIT, RequestKind, RetryPolicy};
use super::transport::{content_type, encode_body, user_agent};
use super::url_policy::safe_id;
use super::{Client, Progress, ProgressFn, no_progress};
use crate::api::error::{
    Answerer, ApiError, DecodeError, HttpClass, JobError, StatusError, excerpt, shorten,
};
use crate::api::key::ApiKey;
use crate::api::params::{SAMPLES, ValidParams};
use crate::api::response::{
    self, Accounting, Generation, JobState, OutputRef, ReceivedImage, Submitted,
};

/// The longest a deadline may lie ahead (a guard against an absurd `v2_deadline`).
const MAX_DEADLINE: Duration = Duration::from_secs(7 * 86_400);

/// What a caller knows of a submitted v2 job, to wait for it ([`Client::wait_for_job`]).
#[derive(Debug, Clone, Copy)]
pub struct WaitJob<'a> {
    pub request_id: &'a str,
    /// The `samples` the job asked for: its result keeps at most that many outputs.
    pub samples: u32,
    /// When it was submitted: polling stops `v2_deadline` after that.
    pub submitted: SystemTime,
}

impl Client {
    /// v2 step 1: submits the job. Retried only on answers that prove it was not accepted (429,
    /// 502, 503, no connection), never on a redirect; the caller must write the returned id down
    /// before polling.
    pub async fn submit(
        &self,
        image: &str,
        params: &ValidParams,
        cancel: &CancellationToken,
        progress: ProgressFn<'_>,
    ) -> Result<Submitted, ApiError> {
        let result: Result<Submitted, ApiError> = async {
            let body = Bytes::from(encode_body(image, params)?);
            let url = self.v2_submit_url();
            RetryPolicy::for_request(&self.cfg, RequestKind::Submit)
                .run(cancel, progress, |attempt| {
                    let body = body.clone();
                    let url = &url;
                    async move {
                        progress(Progress::Sending { attempt });
                        let rb = self
                            .post
                            .post(url.clone())
                            .header(reqwest::header::CONTENT_TYPE, "application/json")
                            .body(body);
                        let (_, answer, _) = self.json_call(rb, url, cancel).await?;
                        decode_submitted(&answer, &self.key)
                    }
                })
                .await
        }
        .await;
        if let Ok(s) = &result {
            self.expected_lock()
                .insert(s.request_id.clone(), params.samples);
        }
        result.map_err(|e| e.redacted(&self.key))
    }

    /// The outputs a job's result may keep: its `samples` when it was submitted through this
    /// client, else the most the contract allows.
    fn expected_samples(&self, request_id: &str) -> u32 {
        self.expected_lock()
            .get(request_id)
            .copied()
            .unwrap_or(SAMPLES.max)
    }

    fn expected_lock(&self) -> std::sync::MutexGuard<'_, std::collections::HashMap<String, u32>> {
        // A poisoned map only lost an insert: the contract's maximum is used for that job.
        self.expected.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// v2 step 2: the job's state, asked once. Safe to retry: polling never re-runs anything.
    pub async fn status(
        &self,
        request_id: &str,
        cancel: &CancellationToken,
    ) -> Result<(JobState, Accounting), ApiError> {
        let result: Result<(JobState, Accounting), ApiError> = async {
            let url = self.v2_status_url(request_id)?;
            let (_, body, _) = self
                .json_call(self.getter()?.get(url.clone()), &url, cancel)
                .await?;
            let (state, metrics) = response::decode_status(&body)?;
            let mut acc = Accounting::default();
            acc.merge_metrics(&metrics);
            Ok((state, acc))
        }
        .await;
        result.map_err(|e| e.redacted(&self.key))
    }

    /// v2 step 3: the finished job's output, downloaded (without the key) where it is a URL; at
    /// most as many outputs as the job asked for (see [`Client::wait_for_job`]).
    pub async fn fetch_result(
        &self,
        request_id: &str,
        cancel: &CancellationToken,
        progress: ProgressFn<'_>,
    ) -> Result<Generation, ApiError> {
        let samples = self.expected_samples(request_id);
        let policy = RetryPolicy::for_request(&self.cfg, RequestKind::Poll);
        let result = self
            .fetch_outputs(request_id, samples, &policy, cancel, progress)
            .await;
        result.map_err(|e| e.redacted(&self.key))
    }

    /// The result GET runs under the polling policy (`policy`: reading a result never re-runs
    /// anything, so a 502 or a dropped answer is asked again), then the outputs are fetched.
    async fn fetch_outputs(
        &self,
        request_id: &str,
        samples: u32,
        policy: &RetryPolicy,
        cancel: &CancellationToken,
        progress: ProgressFn<'_>,
    ) -> Result<Generation, ApiError> {
        let url = self.v2_result_url(request_id)?;
        let getter = self.getter()?;
        let (status, body, _) = policy
            .run(cancel, progress, |_| {
                self.json_call(getter.get(url.clone()), &url, cancel)
            })
            .await?;
        let v: serde_json::Value =
            serde_json::from_slice(&body).map_err(|e| DecodeError::BadJson(e.to_string()))?;
        drop(body);
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
            return Err(self.inference_failed(msg));
        }
        if let Some(seed) = v.get("seed").and_then(|s| s.as_i64()) {
            accounting.seed = Some(seed);
        }
        let refs = response::at_most(response::image_refs(&v)?, samples.max(1) as usize);
        drop(v);
        let images = self.outputs(refs, cancel, progress).await?;
        Ok(Generation { images, accounting })
    }

    /// Decodes or downloads each output, each at most `max_image_bytes` (or `max_body_bytes` if
    /// lower) and all of them at most that many times their number.
    async fn outputs(
        &self,
        refs: Vec<OutputRef>,
        cancel: &CancellationToken,
        progress: ProgressFn<'_>,
    ) -> Result<Vec<ReceivedImage>, ApiError> {
        let per_file = self.cfg.max_image_bytes.min(self.cfg.max_body_bytes);
        let mut budget = per_file.saturating_mul(refs.len() as u64);
        let mut images = Vec::with_capacity(refs.len());
        for r in refs {
            let image = match r {
                OutputRef::Inline(s) => response::decode_base64_image(&s)?,
                OutputRef::Url(u) => {
                    progress(Progress::Downloading);
                    self.download(&u, per_file.min(budget), cancel).await?
                }
            };
            budget = budget.saturating_sub(image.bytes.len() as u64);
            images.push(image);
        }
        Ok(images)
    }

    /// v2 steps 2–3: polls a job just submitted through this client until it finishes, then
    /// fetches its output: [`Client::wait_for_job`] with the job's `samples` (the contract's most
    /// when this client did not submit it) and polling stopped `v2_deadline` from now.
    pub async fn wait_for(
        &self,
        request_id: &str,
        cancel: &CancellationToken,
        progress: ProgressFn<'_>,
    ) -> Result<Generation, ApiError> {
        let job = WaitJob {
            request_id,
            samples: self.expected_samples(request_id),
            submitted: SystemTime::now(),
        };
        self.wait_for_job(&job, cancel, progress).await
    }

    /// v2 steps 2–3: polls a submitted job until it finishes, then fetches at most `job.samples`
    /// outputs. Transient failures while polling are retried (polling is always safe); an expired
    /// record (404) or a failed inference (422) ends it, and so does the job's deadline
    /// (`v2_deadline` after `job.submitted`: no wait of any kind goes past it).
    pub async fn wait_for_job(
        &self,
        job: &WaitJob<'_>,
        cancel: &CancellationToken,
        progress: ProgressFn<'_>,
    ) -> Result<Generation, ApiError> {
        let left = job
            .submitted
            .checked_add(self.cfg.v2_deadline)
            .and_then(|end| end.duration_since(SystemTime::now()).ok())
            .unwrap_or(Duration::ZERO)
            .min(MAX_DEADLINE);
        let deadline = Instant::now() + left;
        let result = self.poll_until_done(job, deadline, cancel, progress).await;
        self.expected_lock().remove(job.request_id);
        result.map_err(|e| e.redacted(&self.key))
    }

    async fn poll_until_done(
        &self,
        job: &WaitJob<'_>,
        deadline: Instant,
        cancel: &CancellationToken,
        progress: ProgressFn<'_>,
    ) -> Result<Generation, ApiError> {
        let request_id = job.request_id;
        let policy = RetryPolicy::for_request(&self.cfg, RequestKind::Poll).until(deadline);
        let mut last_state = String::new();
        loop {
            // Each poll gets the policy's run of attempts; a poll that answers resets the count.
            let polled = policy
                .run(cancel, progress, |_| {
                    self.poll_once(request_id, deadline, cancel)
                })
                .await;
            match polled {
                Ok(JobState::Completed) => {
                    let fetched = self
                        .fetch_outputs(request_id, job.samples, &policy, cancel, progress)
                        .await;
                    return match fetched {
                        // The record expired between the status and the result.
                        Err(ApiError::Status(s))
                            if s.status == 404 && s.from == Answerer::Service =>
                        {
                            Err(expired(request_id, &s))
                        }
                        other => other,
                    };
                }
                Ok(JobState::Failed(msg)) => return Err(self.inference_failed(&msg)),
                Ok(state) => {
                    let name = state_name(&state);
                    if name != last_state {
                        progress(Progress::Remote {
                            state: name.clone(),
                        });
                        last_state = name;
                    }
                }
                Err(ApiError::Status(s)) if s.status == 404 => {
                    return Err(expired(request_id, &s));
                }
                // The server asks for a wait the deadline cannot hold: stop now, not poll on.
                Err(ApiError::Status(s))
                    if s.retry_after.is_some_and(|w| {
                        w > deadline.saturating_duration_since(Instant::now())
                    }) =>
                {
                    return Err(ApiError::Job(JobError::ServerWait {
                        request_id: request_id.to_owned(),
                        wait: s.retry_after.unwrap_or_default(),
                    }));
                }
                Err(e) => return Err(e),
            }
            let pause = self
                .cfg
                .poll_interval
                .min(MAX_SERVER_WAIT)
                .min(deadline.saturating_duration_since(Instant::now()));
            tokio::select! {
                _ = cancel.cancelled() => return Err(ApiError::Cancelled { after_send: true }),
                _ = tokio::time::sleep(pause) => {}
            }
        }
    }

    /// One status request, unless the job's deadline has passed (then [`JobError::Deadline`], not
    /// retried); a request still out at the deadline is abandoned.
    async fn poll_once(
        &self,
        request_id: &str,
        deadline: Instant,
        cancel: &CancellationToken,
    ) -> Result<JobState, ApiError> {
        let past = || {
            ApiError::Job(JobError::Deadline {
                request_id: request_id.to_owned(),
                after: self.cfg.v2_deadline,
            })
        };
        if Instant::now() >= deadline {
            return Err(past());
        }
        match tokio::time::timeout_at(deadline, self.status(request_id, cancel)).await {
            Ok(polled) => polled.map(|(state, _)| state),
            Err(_) => Err(past()),
        }
    }

    /// A `422` for a v2 inference that ran and failed, with the server's message (the key scrubbed
    /// before it is shortened).
    fn inference_failed(&self, msg: &str) -> ApiError {
        ApiError::Status(StatusError {
            status: 422,
            class: HttpClass::Unprocessable,
            message: shorten(&self.key.redact(msg), 300),
            retry_after: None,
            from: Answerer::Service,
        })
    }

    /// The client for output downloads, made on first use (only v2 results given as URLs need it).
    /// Like the keyed clients, it reaches a plain-HTTP (loopback) service directly, never through
    /// a proxy.
    fn download_client(&self) -> Result<reqwest::Client, ApiError> {
        if let Some(c) = self.download.get() {
            return Ok(c.clone());
        }
        let mut builder = reqwest::Client::builder()
            .user_agent(user_agent())
            .connect_timeout(self.cfg.connect_timeout);
        if self.base.scheme() == "http" {
            builder = builder.no_proxy();
        }
        let c = builder
            .build()
            .map_err(|e| ApiError::BadBaseUrl(format!("could not set up the HTTP client: {e}")))?;
        // Another task may have set it first; either client is as good.
        Ok(self.download.get_or_init(|| c).clone())
    }

    /// Downloads an output file of at most `limit` bytes. The key is never sent here: outputs live
    /// on a storage host. A failure before any answer is retried (a GET of a stored file); an
    /// error status is final (an [`Answerer::OutputHost`] error: the job itself is done), and so
    /// is a body cut off after the answer began.
    pub(super) async fn download(
        &self,
        url: &str,
        limit: u64,
        cancel: &CancellationToken,
    ) -> Result<ReceivedImage, ApiError> {
        let u = Url::parse(url).map_err(|e| {
            DecodeError::Unexpected(format!("an output URL that does not parse ({e})"))
        })?;
        let timeout = self.cfg.generation_timeout;
        let download = self.download_client()?;
        // Retries are logged, not reported: the job's stage stays "downloading".
        let resp = RetryPolicy::for_request(&self.cfg, RequestKind::Download)
            .run(cancel, &no_progress, |_| {
                let (u, download) = (&u, &download);
                async move {
                    let send = download.get(u.clone()).timeout(timeout).send();
                    let resp = tokio::select! {
                        _ = cancel.cancelled() => return Err(ApiError::Cancelled { after_send: true }),
                        r = send => r,
                    };
                    match resp {
                        Ok(r) if r.status().is_success() => Ok(r),
                        Ok(r) => Err(self.status_error(r, Answerer::OutputHost, cancel).await),
                        Err(e) => Err(self.transport_error(u, e, timeout)),
                    }
                }
            })
            .await?;
        let ct = content_type(&resp);
        let body = self.read_body(resp, limit, cancel).await?;
        Ok(response::check_image(body, &ct)?)
    }
}

/// Reads a submit answer: a [`Submitted`] whose id is a plain identifier, and not the key (the id
/// is written to the journal and shown).
fn decode_submitted(body: &[u8], key: &ApiKey) -> Result<Submitted, ApiError> {
    let s = serde_json::from_slice::<Submitted>(body).map_err(|e| {
        // Kept whole enough to be scrubbed of the key before it is shortened for display.
        ApiError::Decode(DecodeError::Unexpected(format!(
            "the submit answer has no request id ({e}): {}",
            excerpt(&String::from_utf8_lossy(body))
        )))
    })?;
    safe_id(&s.request_id)?;
    if key.redact(&s.request_id) != s.request_id {
        return Err(ApiError::Decode(DecodeError::Unexpected(
            "the server returned the API key as the request id".to_owned(),
        )));
    }
    Ok(s)
}

/// The name of a job state as progress shows it.
fn state_name(state: &JobState) -> String {
    match state {
        JobState::Queued => "queued".to_owned(),
        JobState::Processing => "processing".to_owned(),
        JobState::Other(s) => s.to_ascii_lowercase(),
        JobState::Completed | JobState::Failed(_) => String::new(),
    }
}

/// The error for a job whose record the server no longer has (a `404` while polling).
fn expired(request_id: &str, s: &StatusError) -> ApiError {
    ApiError::Job(JobError::Expired {
        request_id: request_id.to_owned(),
        detail: s.message.clone(),
    })
}
