//! v1, the synchronous endpoint: one `POST` that holds the connection open for the whole
//! generation and answers with the image's bytes (or base64 JSON) and the accounting in headers.
//! Retried under [`RequestKind::Generate`]: never after the request may have run, and never because
//! of a redirect (the `POST` client follows none: a redirect is an error that names it).

use std::time::Duration;

use bytes::Bytes;
use tokio_util::sync::CancellationToken;
use url::Url;

use super::retry::{RequestKind, RetryPolicy};
use super::transport::{content_type, encode_body};
use super::{Client, Progress, ProgressFn};
use crate::api::error::{Answerer, ApiError};
use crate::api::params::ValidParams;
use crate::api::response::{self, Accounting, Generation};

/// How long a v1 request is out before progress says "waiting" (the server is generating).
const SAY_WAITING_AFTER: Duration = Duration::from_millis(400);

impl Client {
    /// Generates with the v1 (synchronous) endpoint. `image` is an `http(s)` URL or plain base64.
    ///
    /// Retries 429 (honouring the server's wait), 502/503/504 and connection failures, and a 500
    /// once; never a request that may have been run (no answer after sending), and never a
    /// redirect. Keeps at most `params.samples` images.
    pub async fn generate(
        &self,
        image: &str,
        params: &ValidParams,
        cancel: &CancellationToken,
        progress: ProgressFn<'_>,
    ) -> Result<Generation, ApiError> {
        let result: Result<Generation, ApiError> = async {
            let body = Bytes::from(encode_body(image, params)?);
            let url = self.v1_url();
            // A JSON answer listing more images than were asked for is cut to `samples`.
            let samples = params.samples.max(1) as usize;
            RetryPolicy::for_request(&self.cfg, RequestKind::Generate)
                .run(cancel, progress, |attempt| {
                    self.v1_once(&url, (body.clone(), samples), cancel, progress, attempt)
                })
                .await
        }
        .await;
        result.map_err(|e| e.redacted(&self.key))
    }

    /// One v1 attempt: `body` and the most images to keep.
    async fn v1_once(
        &self,
        url: &Url,
        (body, samples): (Bytes, usize),
        cancel: &CancellationToken,
        progress: ProgressFn<'_>,
        attempt: u32,
    ) -> Result<Generation, ApiError> {
        progress(Progress::Sending { attempt });
        let timeout = self.cfg.generation_timeout;
        let req = self
            .keyed(self.post.post(url.clone()))
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .timeout(timeout)
            .body(body);
        let send = req.send();
        tokio::pin!(send);
        // "Waiting" once the request has been out for a moment: v1 holds the connection open for the
        // whole generation.
        let waiting = tokio::time::sleep(SAY_WAITING_AFTER);
        tokio::pin!(waiting);
        let mut said_waiting = false;
        let resp = loop {
            tokio::select! {
                _ = cancel.cancelled() => return Err(ApiError::Cancelled { after_send: true }),
                r = &mut send => break r,
                _ = &mut waiting, if !said_waiting => { said_waiting = true; progress(Progress::Waiting); }
            }
        };
        let resp = resp.map_err(|e| self.transport_error(url, e, timeout))?;
        if resp.status() != reqwest::StatusCode::OK {
            // A redirect too: a POST is never sent again because of one (it would be billed again).
            return Err(self.status_error(resp, Answerer::Service, cancel).await);
        }
        let mut accounting = Accounting::from_headers(resp.headers());
        // The request id is written to the sidecar: never the key, whatever the server echoes.
        accounting.request_id = accounting.request_id.map(|r| self.key.redact(&r));
        let content_type = content_type(&resp);
        let body = self
            .read_body(resp, self.cfg.max_body_bytes, cancel)
            .await?;
        let images = response::decode_v1_body_at_most(body, &content_type, samples)?;
        Ok(Generation { images, accounting })
    }
}
