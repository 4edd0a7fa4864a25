//! The HTTP client for the Segmind gateway: the [`Client`] type, its configuration and constructor,
//! its URLs, and the progress it reports. The work is split by concern:
//!
//! - [`url_policy`]: which base URLs are accepted and where the key may go (HTTPS, or plain HTTP
//!   only to loopback; redirects followed only within the same origin).
//! - [`retry`]: the one retry policy of every request (bounded attempts, bounded waits, never a
//!   re-send after an ambiguous failure).
//! - `transport`: sending, reading bodies with a size cap, and errors in plain words.
//! - `v1`, `v2`, `credits`: the endpoints.

mod credits;
pub mod retry;
mod transport;
pub mod url_policy;
mod v1;
mod v2;

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use url::Url;

use super::error::ApiError;
use super::key::ApiKey;

pub use credits::Credits;
pub use retry::{LongWait, MAX_SERVER_WAIT, RequestKind, RetryPolicy};
pub use transport::{retry_after, user_agent};
pub use url_policy::{is_loopback_host, parse_base, root_of};

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
    /// The longest wait a rate limit may impose before we give up instead (a poll waits at most
    /// this, or [`MAX_SERVER_WAIT`] if lower, and polls again).
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

/// The Segmind client. Cheap to clone: the pool and the configuration are shared.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    /// For output downloads: no key, redirects followed (outputs live on a CDN).
    download: Arc<OnceLock<reqwest::Client>>,
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
        let mut builder = reqwest::Client::builder()
            .user_agent(user_agent())
            .connect_timeout(cfg.connect_timeout)
            .redirect(url_policy::redirect_policy());
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
            download: Arc::new(OnceLock::new()),
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
        Ok(self.root_join(&format!(
            "v2/requests/{}/status",
            url_policy::safe_id(request_id)?
        )))
    }

    /// The result URL of a v2 job.
    pub fn v2_result_url(&self, request_id: &str) -> Result<Url, ApiError> {
        Ok(self.root_join(&format!("v2/requests/{}", url_policy::safe_id(request_id)?)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
