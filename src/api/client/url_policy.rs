//! Where requests (and the key) may go: which base URLs are accepted (HTTPS, or plain HTTP only to
//! a loopback address, reached directly and never through a proxy), how the gateway root and the
//! v2 URLs are derived from the base, which ids may go into a URL, and the redirect policy of the
//! keyed `GET`s (followed only within the same origin, so the key never reaches another host; the
//! `POST`s that start a billed job follow no redirect at all).

use std::net::IpAddr;

use url::Url;

use crate::api::error::{ApiError, DecodeError, excerpt};

/// How many redirects (within the same origin) are followed before giving up.
const MAX_REDIRECTS: usize = 5;

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

/// Whether two URLs share scheme, host and port.
pub fn same_origin(a: &Url, b: &Url) -> bool {
    a.scheme() == b.scheme()
        && a.host_str() == b.host_str()
        && a.port_or_known_default() == b.port_or_known_default()
}

/// The redirect policy of the keyed `GET` client: a redirect is followed only to the origin of the
/// first request (the key goes with it), and at most [`MAX_REDIRECTS`] times; any other redirect is
/// returned as is and becomes a `Redirect` error. (The `POST` client follows none: a 307/308 would
/// send the paid request again.)
pub(super) fn redirect_policy() -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(|attempt| {
        let same = attempt
            .previous()
            .first()
            .is_some_and(|first| same_origin(first, attempt.url()));
        if attempt.previous().len() > MAX_REDIRECTS || !same {
            attempt.stop()
        } else {
            attempt.follow()
        }
    })
}

/// A v2 request id as a safe path segment (the id comes from the server and goes into our URLs).
pub(super) fn safe_id(id: &str) -> Result<&str, ApiError> {
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
            excerpt(id)
        ))))
    }
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
}
