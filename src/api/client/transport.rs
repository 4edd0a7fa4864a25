//! Sending one request and reading its answer: the key header, the JSON body of a generation, a
//! short JSON call, bodies read with a size cap (refused from `Content-Length` before reading, and
//! while reading) and cancellation, and every reqwest or HTTP failure turned into an [`ApiError`]
//! in plain words with the key scrubbed out before anything is shortened (`Connect` before
//! sending, `NoAnswer` after it, `Status` for a non-200 answer with the server's own message).

use std::time::Duration;

use futures_util::StreamExt as _;
use tokio_util::sync::CancellationToken;
use url::Url;

use super::Client;
use crate::api::error::{
    Answerer, ApiError, DecodeError, HttpClass, StatusError, message_from_body_with, shorten,
};
use crate::api::params::{ParamError, ValidParams, WireBody};

/// The most of an error answer's body read for its message.
const ERROR_BODY_BYTES: u64 = 1024 * 1024;

/// The most memory set aside for a body before its bytes arrive.
const PREALLOCATE_BYTES: u64 = 8 * 1024 * 1024;

/// The `User-Agent` we send: the app and its version.
pub fn user_agent() -> String {
    format!(
        "fluxcn/{} (Flux ControlNet Studio)",
        env!("CARGO_PKG_VERSION")
    )
}

/// The JSON body of a generation (v1 and v2 submit send the same one).
pub(super) fn encode_body(image: &str, params: &ValidParams) -> Result<Vec<u8>, ApiError> {
    WireBody::new(image, params).to_json().map_err(|e| {
        ApiError::InvalidParams(ParamError::new("request", e, "values JSON can carry"))
    })
}

impl Client {
    /// `rb` with the key header (marked sensitive: no debug print or trace shows it).
    pub(super) fn keyed(&self, rb: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        rb.header("x-api-key", self.key_header.clone())
    }

    /// Maps a transport error: `Connect` when the request never left this machine, else `NoAnswer`
    /// (it may have reached the server).
    pub(super) fn transport_error(
        &self,
        url: &Url,
        e: reqwest::Error,
        timeout: Duration,
    ) -> ApiError {
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

    /// Reads a whole body of at most `limit` bytes, with cancellation: a larger `Content-Length`
    /// is refused before reading, a body that grows past the limit as soon as it does. Errors here
    /// come after the server answered, so they are `NoAnswer` (possibly billed), never retried.
    pub(super) async fn read_body(
        &self,
        resp: reqwest::Response,
        limit: u64,
        cancel: &CancellationToken,
    ) -> Result<Vec<u8>, ApiError> {
        let too_large = || -> ApiError {
            DecodeError::TooLarge {
                limit_mb: limit.div_ceil(1024 * 1024),
            }
            .into()
        };
        if resp.content_length().is_some_and(|n| n > limit) {
            return Err(too_large());
        }
        let expected = resp.content_length();
        let mut stream = resp.bytes_stream();
        // A declared length is trusted for the first few megabytes only (it may be a lie).
        let mut out: Vec<u8> = Vec::with_capacity(
            expected
                .unwrap_or(64 * 1024)
                .min(limit)
                .min(PREALLOCATE_BYTES) as usize,
        );
        loop {
            let next = tokio::select! {
                _ = cancel.cancelled() => return Err(ApiError::Cancelled { after_send: true }),
                n = stream.next() => n,
            };
            match next {
                None => break,
                Some(Ok(chunk)) => {
                    if out.len() as u64 + chunk.len() as u64 > limit {
                        return Err(too_large());
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

    /// A non-200 answer as a [`StatusError`] from `from`, with the server's message kept and the
    /// key scrubbed (before the message is shortened).
    pub(super) async fn status_error(
        &self,
        resp: reqwest::Response,
        from: Answerer,
        cancel: &CancellationToken,
    ) -> ApiError {
        let status = resp.status().as_u16();
        let retry_after = retry_after(resp.headers());
        let location = resp
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        // The body of an error is only for its message: a failure to read it leaves the message empty.
        let body = self
            .read_body(resp, ERROR_BODY_BYTES, cancel)
            .await
            .unwrap_or_default();
        let scrub = |t: &str| self.key.redact(t);
        let mut message = message_from_body_with(&body, &scrub);
        if let Some(loc) = location
            && (300..400).contains(&status)
        {
            message = format!("to {}", shorten(&scrub(&loc), 120));
        }
        ApiError::Status(StatusError {
            status,
            class: HttpClass::from_status(status),
            message,
            retry_after,
            from,
        })
    }

    /// A small keyed JSON call (v2 submit, status, result, credits), sent once: returns the status
    /// (200, or 422 for a v2 inference that failed), the body and the headers.
    pub(super) async fn json_call(
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
            return Err(self.status_error(resp, Answerer::Service, cancel).await);
        }
        let headers = resp.headers().clone();
        let body = self
            .read_body(resp, self.cfg.max_body_bytes, cancel)
            .await?;
        Ok((status, body, headers))
    }
}

/// The `Content-Type` of an answer, or empty.
pub(super) fn content_type(resp: &reqwest::Response) -> String {
    resp.headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned()
}

/// `scheme://host[:port]` of a URL: what an error may show of where it was going.
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
/// (a timestamp); at most a day (the retry policy caps it further).
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
    // RFC 3339 in UTC, with or without the `Z` (or with a space for the `T`).
    let t = reset.trim().trim_end_matches('Z').replacen(' ', "T", 1);
    let at = chrono::NaiveDateTime::parse_from_str(&t, "%Y-%m-%dT%H:%M:%S%.f")
        .ok()?
        .and_utc();
    let left = (at - chrono::Utc::now()).to_std().unwrap_or(Duration::ZERO);
    Some(left.min(Duration::from_secs(86_400)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_headers() {
        let mut h = reqwest::header::HeaderMap::new();
        h.insert("retry-after", "3".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_secs(3)));
        let mut h = reqwest::header::HeaderMap::new();
        let soon = std::time::SystemTime::now() + Duration::from_secs(30);
        h.insert(
            "x-rate-limit-reset-at-utc",
            crate::types::rfc3339_seconds(soon).parse().unwrap(),
        );
        let d = retry_after(&h).unwrap();
        assert!(
            d > Duration::from_secs(25) && d <= Duration::from_secs(30),
            "{d:?}"
        );
        assert_eq!(retry_after(&reqwest::header::HeaderMap::new()), None);
    }
}
