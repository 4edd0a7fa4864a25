//! The HTTP client for the Segmind gateway: the [`Client`] type, its configuration and constructor,
//! its URLs, and the progress it reports. The work is split by concern:
//!
//! - [`url_policy`]: which base URLs are accepted and where the key may go (HTTPS, or plain HTTP
//!   only to loopback and then never through a proxy; a `GET` follows redirects only within the
//!   same origin, a `POST` never follows one).
//! - [`retry`]: the one retry policy of every request (bounded attempts, bounded waits, never a
//!   re-send after an ambiguous failure).
//! - `transport`: sending, reading bodies with a size cap, and errors in plain words.
//! - `v1`, `v2`, `credits`: the endpoints.
//! - [`history`] and `storage`: the account's request history and the asset store, on hosts of
//!   their own ([`Hosts`]: each configurable; a loopback base serves all three).

mod credits;
pub mod history;
pub mod retry;
mod storage;
mod transport;
pub mod url_policy;
mod v1;
mod v2;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use url::Url;

use super::error::ApiError;
use super::key::ApiKey;

pub use credits::Credits;
pub use retry::{LongWait, MAX_SERVER_WAIT, RequestKind, RetryPolicy, WAIT_CEILING};
pub use transport::{retry_after, user_agent};
pub use url_policy::{is_loopback_host, parse_base, root_of};
pub use v2::WaitJob;

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
    /// The largest output file we download; a v2 result holds at most `samples` of them in memory.
    pub max_image_bytes: u64,
    /// How often a v2 job is polled.
    pub poll_interval: Duration,
    /// How long a v2 job may take in all before polling gives up (the record expires after an hour).
    pub v2_deadline: Duration,
    /// The request-history service (`None`: Segmind's, or the inference origin when that is
    /// loopback).
    pub history_base: Option<String>,
    /// The asset store (`None`: Segmind's, or the inference origin when that is loopback).
    pub storage_base: Option<String>,
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
            // A 4096² RGB image is 48 MB uncompressed: no encoding of it comes near 64 MB.
            max_image_bytes: 64 * 1024 * 1024,
            poll_interval: Duration::from_secs(1),
            v2_deadline: Duration::from_secs(3600),
            history_base: None,
            storage_base: None,
        }
    }
}

/// The Segmind client. Cheap to clone: the pools and the configuration are shared.
#[derive(Clone)]
pub struct Client {
    /// For the `POST`s that start a billed job (v1 generate, v2 submit): never follows a redirect,
    /// so a redirect can never make one click send (and bill) a request twice.
    post: reqwest::Client,
    /// For the keyed `GET`s (status, result, credits): redirects followed within the same origin.
    /// Made on first use.
    get: Arc<OnceLock<reqwest::Client>>,
    /// For output downloads: no key, redirects followed (outputs live on a CDN).
    download: Arc<OnceLock<reqwest::Client>>,
    /// The `samples` of each v2 job submitted through this client and not yet fetched: a result
    /// is cut to that many outputs.
    expected: Arc<Mutex<HashMap<String, u32>>>,
    cfg: Arc<ClientConfig>,
    base: Url,
    root: Url,
    /// The history and storage services: the only other hosts the key goes to.
    hosts: Hosts,
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
        let hosts = Hosts::resolve(&base, &cfg)?;
        // Marked sensitive so no debug print or trace of the request can show it.
        // A key is visible ASCII; anything else is a bad paste that would only earn a 401.
        if !key.expose().bytes().all(|b| b.is_ascii_graphic()) {
            return Err(ApiError::BadKey);
        }
        let mut key_header =
            reqwest::header::HeaderValue::from_str(key.expose()).map_err(|_| ApiError::BadKey)?;
        key_header.set_sensitive(true);
        let post = build(
            http_builder(&base, cfg.connect_timeout).redirect(reqwest::redirect::Policy::none()),
        )?;
        Ok(Client {
            post,
            get: Arc::new(OnceLock::new()),
            download: Arc::new(OnceLock::new()),
            expected: Arc::new(Mutex::new(HashMap::new())),
            cfg: Arc::new(cfg),
            base,
            root,
            hosts,
            key,
            key_header,
        })
    }

    pub fn config(&self) -> &ClientConfig {
        &self.cfg
    }

    /// The client of the keyed `GET`s, made on first use.
    fn getter(&self) -> Result<reqwest::Client, ApiError> {
        if let Some(c) = self.get.get() {
            return Ok(c.clone());
        }
        let c = build(
            http_builder(&self.base, self.cfg.connect_timeout)
                .redirect(url_policy::redirect_policy()),
        )?;
        // Another task may have set it first; either client is as good.
        Ok(self.get.get_or_init(|| c).clone())
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

/// Segmind's request-history service.
pub const DEFAULT_HISTORY_BASE: &str = "https://api.spotprod.segmind.com/";
/// Segmind's asset store.
pub const DEFAULT_STORAGE_BASE: &str = "https://workflows-api.segmind.com/";

/// The hosts besides inference that the key goes to, and nowhere else.
#[derive(Debug, Clone, PartialEq)]
pub struct Hosts {
    pub history: Url,
    pub storage: Url,
}

impl Hosts {
    /// Each host: as configured, else the inference root when it is loopback (the stand-in serves
    /// all three from one origin), else Segmind's own. Each passes the base URL rules (HTTPS, or
    /// plain HTTP to loopback), and shares the inference base's scheme (one client speaks to all).
    pub fn resolve(base: &Url, cfg: &ClientConfig) -> Result<Hosts, ApiError> {
        let pick = |configured: &Option<String>, default: &str, what: &str| {
            let url = match configured
                .as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
            {
                Some(b) => parse_base(b)?,
                None if base.scheme() == "http" => root_of(base),
                None => parse_base(default)?,
            };
            if url.scheme() != base.scheme() {
                return Err(ApiError::BadBaseUrl(format!(
                    "the {what} base {url} and the API base {base} must both be https (or both loopback http)"
                )));
            }
            Ok(url)
        };
        Ok(Hosts {
            history: pick(&cfg.history_base, DEFAULT_HISTORY_BASE, "request-history")?,
            storage: pick(&cfg.storage_base, DEFAULT_STORAGE_BASE, "storage")?,
        })
    }

    /// Whether `url` is on one of these hosts or the inference origin (where the key may go).
    pub fn keyed(&self, inference: &Url, url: &Url) -> bool {
        [inference, &self.history, &self.storage]
            .iter()
            .any(|h| url_policy::same_origin(h, url))
    }
}

/// A builder with what every client of ours shares: the `User-Agent`, the connect timeout and, for
/// a plain-HTTP (loopback) base, no proxy at all.
fn http_builder(base: &Url, connect_timeout: Duration) -> reqwest::ClientBuilder {
    let builder = reqwest::Client::builder()
        .user_agent(user_agent())
        .connect_timeout(connect_timeout);
    if base.scheme() == "http" {
        // A plain-HTTP request through a proxy (`HTTP_PROXY`, `ALL_PROXY`) hands the proxy the
        // whole request, the key included, in clear: a loopback base is always reached directly.
        // (Over HTTPS a proxy only relays the TLS tunnel.) Such a client never speaks TLS either:
        // skip loading the system's certificate store (about 10 ms at every start).
        builder.no_proxy().tls_certs_only(std::iter::empty())
    } else {
        builder
    }
}

fn build(builder: reqwest::ClientBuilder) -> Result<reqwest::Client, ApiError> {
    builder
        .build()
        .map_err(|e| ApiError::BadBaseUrl(format!("could not set up the HTTP client: {e}")))
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
        assert_eq!(
            c.history_root().as_str(),
            "https://api.spotprod.segmind.com/"
        );
        assert_eq!(
            c.storage_root().as_str(),
            "https://workflows-api.segmind.com/"
        );
    }

    #[test]
    fn hosts_of_a_loopback_base_and_configured_ones() {
        let key = || ApiKey::new("SG_0123456789abcdef").unwrap();
        let c = Client::new(
            ClientConfig {
                api_base: "http://127.0.0.1:9/v1".into(),
                ..Default::default()
            },
            key(),
        )
        .unwrap();
        assert_eq!(c.history_root().as_str(), "http://127.0.0.1:9/");
        assert_eq!(c.storage_root().as_str(), "http://127.0.0.1:9/");
        let cfg = |h: &str| ClientConfig {
            api_base: "https://api.segmind.com/v1".into(),
            history_base: Some(h.into()),
            ..Default::default()
        };
        let c = Client::new(cfg("https://history.example/"), key()).unwrap();
        assert_eq!(c.history_root().as_str(), "https://history.example/");
        assert!(Client::new(cfg("http://history.example/"), key()).is_err());
        assert!(
            Client::new(cfg("http://127.0.0.1:9/"), key()).is_err(),
            "mixed schemes"
        );
    }
}
