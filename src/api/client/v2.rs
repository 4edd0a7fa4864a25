//! v2, the asynchronous endpoint: submit a job (its id is known at once, so it can be written down
//! and finished after a crash), poll its status, fetch its output, and download output files (without
//! the key). Submit is retried under [`RequestKind::Submit`], polling under [`RequestKind::Poll`]
//! and downloads under [`RequestKind::Download`].

use bytes::Bytes;
use tokio_util::sync::CancellationToken;
use url::Url;

use super::retry::{RequestKind, RetryPolicy};
use super::transport::{content_type, encode_body, user_agent};
use super::url_policy::safe_id;
use super::{Client, Progress, ProgressFn, no_progress};
use crate::api::error::{ApiError, DecodeError, HttpClass, StatusError, shorten};
use crate::api::params::GenParams;
use crate::api::response::{self, Accounting, Generation, JobState, OutputRef, Submitted};

impl Client {
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
            RetryPolicy::for_request(&self.cfg, RequestKind::Submit)
                .run(cancel, progress, |attempt| {
                    let body = body.clone();
                    let url = &url;
                    async move {
                        progress(Progress::Sending { attempt });
                        let rb = self
                            .http
                            .post(url.clone())
                            .header(reqwest::header::CONTENT_TYPE, "application/json")
                            .body(body);
                        let (_, answer, _) = self.json_call(rb, url, cancel).await?;
                        decode_submitted(&answer)
                    }
                })
                .await
        }
        .await;
        result.map_err(|e| e.redacted(&self.key))
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
                return Err(self.inference_failed(msg));
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

    /// v2 steps 2–3: polls a submitted job until it finishes, then fetches its output. Transient
    /// failures while polling are retried (polling is always safe); a job past `v2_deadline`, an
    /// expired record (404) or a failed inference (422) ends it.
    pub async fn wait_for(
        &self,
        request_id: &str,
        cancel: &CancellationToken,
        progress: ProgressFn<'_>,
    ) -> Result<Generation, ApiError> {
        let result = self.poll_until_done(request_id, cancel, progress).await;
        result.map_err(|e| e.redacted(&self.key))
    }

    async fn poll_until_done(
        &self,
        request_id: &str,
        cancel: &CancellationToken,
        progress: ProgressFn<'_>,
    ) -> Result<Generation, ApiError> {
        let started = tokio::time::Instant::now();
        let policy = RetryPolicy::for_request(&self.cfg, RequestKind::Poll);
        let mut last_state = String::new();
        loop {
            // Each poll gets the policy's run of attempts; a poll that answers resets the count.
            let polled = policy
                .run(cancel, progress, |_| {
                    self.poll_once(request_id, started, cancel)
                })
                .await;
            match polled {
                Ok(JobState::Completed) => {
                    return self.fetch_result(request_id, cancel, progress).await;
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
                Err(e) => return Err(e),
            }
            tokio::select! {
                _ = cancel.cancelled() => return Err(ApiError::Cancelled { after_send: true }),
                _ = tokio::time::sleep(self.cfg.poll_interval) => {}
            }
        }
    }

    /// One status request, unless the job is past `v2_deadline` (then a `Job` error, not retried).
    async fn poll_once(
        &self,
        request_id: &str,
        started: tokio::time::Instant,
        cancel: &CancellationToken,
    ) -> Result<JobState, ApiError> {
        if started.elapsed() > self.cfg.v2_deadline {
            return Err(ApiError::Job(format!(
                "job {request_id} did not finish within {} minutes",
                self.cfg.v2_deadline.as_secs() / 60
            )));
        }
        let (state, _) = self.status(request_id, cancel).await?;
        Ok(state)
    }

    /// A `422` for a v2 inference that ran and failed, with the server's message (key scrubbed).
    fn inference_failed(&self, msg: &str) -> ApiError {
        ApiError::Status(StatusError {
            status: 422,
            class: HttpClass::Unprocessable,
            message: self.key.redact(&shorten(msg, 300)),
            retry_after: None,
        })
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

    /// Downloads an output file. The key is never sent here: outputs live on a storage host. A
    /// failure before any answer is retried (a GET of a stored file); an error status is final,
    /// and so is a body cut off after the answer began.
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
                        Ok(r) => Err(self.status_error(r, cancel).await),
                        Err(e) => Err(self.transport_error(u, e, timeout)),
                    }
                }
            })
            .await?;
        let ct = content_type(&resp);
        let body = self.read_body(resp, cancel).await?;
        Ok(response::check_image(body, &ct)?)
    }
}

/// Reads a submit answer: a [`Submitted`] whose id is a plain identifier.
fn decode_submitted(body: &[u8]) -> Result<Submitted, ApiError> {
    let s = serde_json::from_slice::<Submitted>(body).map_err(|e| {
        ApiError::Decode(DecodeError::Unexpected(format!(
            "the submit answer has no request id ({e}): {}",
            shorten(&String::from_utf8_lossy(body), 120)
        )))
    })?;
    safe_id(&s.request_id)?;
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
    ApiError::Job(format!(
        "the server no longer has job {request_id}: records expire one hour after submission{}",
        if s.message.is_empty() {
            String::new()
        } else {
            format!(" ({})", s.message)
        }
    ))
}
