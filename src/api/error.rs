//! One error enum for everything that can go wrong between "Generate" and an image on disk: our own
//! validation, each HTTP class of the contract (with the server's message kept word for word), the
//! network, and answers we could not decode. Each variant says in plain words what the user needs to
//! hear, and whether it may have been billed.

use std::time::Duration;

use super::fields;
use super::key::ApiKey;
use super::params::ParamError;

/// The classes of HTTP answer in the contract's error table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HttpClass {
    BadRequest,
    Unauthorized,
    Forbidden,
    NotFound,
    MethodNotAllowed,
    NotAcceptable,
    Gone,
    Unprocessable,
    RateLimited,
    ServerError,
    Unavailable,
    GatewayTimeout,
    /// A redirect we did not follow (it pointed to another host, or there were too many).
    Redirect,
    Other,
}

impl HttpClass {
    pub fn from_status(status: u16) -> HttpClass {
        match status {
            300..=399 => HttpClass::Redirect,
            400 => HttpClass::BadRequest,
            401 => HttpClass::Unauthorized,
            403 => HttpClass::Forbidden,
            404 => HttpClass::NotFound,
            405 => HttpClass::MethodNotAllowed,
            406 => HttpClass::NotAcceptable,
            410 => HttpClass::Gone,
            422 => HttpClass::Unprocessable,
            429 => HttpClass::RateLimited,
            500 => HttpClass::ServerError,
            502 | 503 => HttpClass::Unavailable,
            504 => HttpClass::GatewayTimeout,
            _ => HttpClass::Other,
        }
    }

    /// A short name for tallies and logs.
    pub fn name(self) -> &'static str {
        match self {
            HttpClass::BadRequest => "bad request",
            HttpClass::Unauthorized => "unauthorized",
            HttpClass::Forbidden => "forbidden",
            HttpClass::NotFound => "not found",
            HttpClass::MethodNotAllowed => "method not allowed",
            HttpClass::NotAcceptable => "not acceptable",
            HttpClass::Gone => "gone",
            HttpClass::Unprocessable => "inference failed",
            HttpClass::RateLimited => "rate limited",
            HttpClass::ServerError => "server error",
            HttpClass::Unavailable => "unavailable",
            HttpClass::GatewayTimeout => "gateway timeout",
            HttpClass::Redirect => "redirect",
            HttpClass::Other => "unexpected status",
        }
    }
}

/// A non-200 answer from the service.
#[derive(Debug, Clone, PartialEq)]
pub struct StatusError {
    pub status: u16,
    pub class: HttpClass,
    /// The server's own message (trimmed, HTML stripped, the key scrubbed), or empty.
    pub message: String,
    /// When the server said how long to wait (`Retry-After` or `x-rate-limit-reset-at-utc`).
    pub retry_after: Option<Duration>,
}

impl StatusError {
    /// The field a 400 names, when its message names one of the request's fields (the longest name
    /// found: see [`fields::field_named_in`]).
    pub fn field(&self) -> Option<&'static str> {
        if self.class != HttpClass::BadRequest {
            return None;
        }
        fields::field_named_in(&self.message)
    }

    fn server_says(&self) -> String {
        if self.message.is_empty() {
            String::new()
        } else {
            format!(": {}", self.message)
        }
    }

    /// The sentence the user sees.
    pub fn user_message(&self) -> String {
        let s = self.status;
        let said = self.server_says();
        let lower = self.message.to_ascii_lowercase();
        match self.class {
            HttpClass::BadRequest => match self.field() {
                Some(f) => format!("the server refused the request ({s}) because of `{f}`{said}"),
                None => format!("the server refused the request ({s}){said}"),
            },
            HttpClass::Unauthorized if lower.contains("missing") => format!(
                "the API key was not sent ({s}){said}. This is a bug in fluxcn: please report it"
            ),
            HttpClass::Unauthorized => format!(
                "the API key was refused ({s}){said}. Set a new key: `fluxcn key set`, the app's \
                 Settings panel, or the SEGMIND_API_KEY environment variable"
            ),
            HttpClass::Forbidden => {
                format!("this key or team may not use the flux-controlnet model ({s}){said}")
            }
            HttpClass::NotFound => format!("not found ({s}){said}. Check the API base URL"),
            HttpClass::MethodNotAllowed => format!(
                "the server does not accept this method ({s}): a bug in fluxcn, please report it{said}"
            ),
            HttpClass::NotAcceptable if lower.contains("content type") => format!(
                "the server refused the content type ({s}): a bug in fluxcn, please report it{said}"
            ),
            HttpClass::NotAcceptable if lower.contains("credit") => {
                format!("not enough credits ({s}){said}. Top up your Segmind account")
            }
            HttpClass::NotAcceptable => {
                format!("the server did not accept the request ({s}){said}")
            }
            HttpClass::Gone => format!("the flux-controlnet model has been retired ({s}){said}"),
            HttpClass::Unprocessable => {
                format!(
                    "the generation ran and failed ({s}){said}. It was not billed; you may re-run it"
                )
            }
            // Shown when we gave up: retries were spent, or the wait asked for was too long.
            HttpClass::RateLimited => match self.retry_after {
                Some(d) if d >= Duration::from_secs(60) => format!(
                    "rate limited ({s}){said}. The server asks to wait {}; try again then",
                    humantime::format_duration(Duration::from_secs(d.as_secs()))
                ),
                _ => format!("rate limited ({s}){said}. Try again in a minute"),
            },
            HttpClass::ServerError => format!("the service failed ({s}){said}"),
            HttpClass::Unavailable => format!("the service is unavailable for now ({s}){said}"),
            HttpClass::GatewayTimeout => {
                format!("the gateway timed out ({s}){said}. It was not billed")
            }
            HttpClass::Redirect => format!(
                "the server redirected the request ({s}){said}; not followed, to keep the API key \
                 from another host. Check the API base URL"
            ),
            HttpClass::Other => format!("unexpected answer from the server ({s}){said}"),
        }
    }
}

/// A response we received but could not make sense of.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DecodeError {
    #[error("the server answered 200 with an empty body")]
    Empty,
    #[error("the answer is not an image (it starts with {start:?}; sent as {content_type})")]
    NotAnImage { start: String, content_type: String },
    #[error("the image is damaged: {0}")]
    DamagedImage(String),
    #[error("the JSON answer has no image data (fields received: {fields})")]
    NoImageInJson { fields: String },
    /// A `200` whose JSON carries an error message and no image.
    #[error("the server answered 200 with an error and no image: {0}")]
    ErrorIn200(String),
    #[error("the answer is not valid JSON: {0}")]
    BadJson(String),
    #[error("the base64 image data is not valid base64: {0}")]
    BadBase64(String),
    #[error("the answer is larger than the {limit_mb} MB limit")]
    TooLarge { limit_mb: u64 },
    #[error("unexpected answer: {0}")]
    Unexpected(String),
}

/// Everything the client can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Our own validation refused a parameter; nothing was sent.
    #[error("invalid parameter: {0}")]
    InvalidParams(#[from] ParamError),

    /// The service answered with a non-200 status.
    #[error("{}", .0.user_message())]
    Status(StatusError),

    /// Could not connect; the request never left this machine, so it was not billed.
    #[error("could not reach the server at {url}: {detail}")]
    Connect { url: String, detail: String },

    /// The request went out and no (complete) answer came back. The server may have run it and
    /// billed it: never re-sent on our own.
    #[error(
        "no answer from the server after the request was sent ({detail}). It may have been billed; not re-sent automatically"
    )]
    NoAnswer { detail: String },

    /// The answer arrived but could not be decoded.
    #[error("could not read the server's answer: {0}")]
    Decode(#[from] DecodeError),

    /// The user cancelled. `after_send` tells whether the request had already gone out.
    #[error("{}", if *after_send { "cancelled after the request was sent: the server may still bill it" } else { "cancelled before anything was sent" })]
    Cancelled { after_send: bool },

    /// No key is configured.
    #[error(
        "no API key: set one with `fluxcn key set`, in the app's Settings, or in SEGMIND_API_KEY"
    )]
    MissingKey,

    /// The key holds characters an HTTP header cannot carry (a stray control character or a
    /// non-ASCII letter from a bad paste). The message never shows the key.
    #[error(
        "the API key holds characters a key cannot have (spaces, control characters or letters \
         outside ASCII): paste it again"
    )]
    BadKey,

    /// The base URL is unusable or would send the key in clear text.
    #[error("{0}")]
    BadBaseUrl(String),

    /// A v2 job failed or its record is gone.
    #[error("{0}")]
    Job(String),
}

impl DecodeError {
    /// The same error with every occurrence of `key` scrubbed from its texts (an answer may echo
    /// the request's headers back).
    pub fn redacted(self, key: &ApiKey) -> DecodeError {
        use DecodeError::*;
        let r = |t: String| key.redact(&t);
        match self {
            Empty => Empty,
            NotAnImage {
                start,
                content_type,
            } => NotAnImage {
                start: r(start),
                content_type: r(content_type),
            },
            DamagedImage(t) => DamagedImage(r(t)),
            NoImageInJson { fields } => NoImageInJson { fields: r(fields) },
            ErrorIn200(t) => ErrorIn200(r(t)),
            BadJson(t) => BadJson(r(t)),
            BadBase64(t) => BadBase64(r(t)),
            TooLarge { limit_mb } => TooLarge { limit_mb },
            Unexpected(t) => Unexpected(r(t)),
        }
    }
}

impl ApiError {
    /// The same error with every occurrence of `key` scrubbed from its texts: the last line of
    /// defence, applied to everything the client returns.
    pub fn redacted(self, key: &ApiKey) -> ApiError {
        let r = |t: String| key.redact(&t);
        match self {
            ApiError::Status(mut s) => {
                s.message = r(s.message);
                ApiError::Status(s)
            }
            ApiError::Connect { url, detail } => ApiError::Connect {
                url: r(url),
                detail: r(detail),
            },
            ApiError::NoAnswer { detail } => ApiError::NoAnswer { detail: r(detail) },
            ApiError::Decode(d) => ApiError::Decode(d.redacted(key)),
            ApiError::BadBaseUrl(t) => ApiError::BadBaseUrl(r(t)),
            ApiError::Job(t) => ApiError::Job(r(t)),
            other @ (ApiError::InvalidParams(_)
            | ApiError::Cancelled { .. }
            | ApiError::MissingKey
            | ApiError::BadKey) => other,
        }
    }

    /// The HTTP status, when the server answered with one.
    pub fn status(&self) -> Option<u16> {
        match self {
            ApiError::Status(s) => Some(s.status),
            _ => None,
        }
    }

    /// The contract class, when the server answered with a status.
    pub fn class(&self) -> Option<HttpClass> {
        match self {
            ApiError::Status(s) => Some(s.class),
            _ => None,
        }
    }

    /// Whether the server may have run and billed this request although we got no image.
    pub fn maybe_billed(&self) -> bool {
        matches!(
            self,
            ApiError::NoAnswer { .. } | ApiError::Cancelled { after_send: true }
        )
    }

    /// A short label of the kind of failure, for queues and tallies: `429`, `network`, `decode`, …
    pub fn kind(&self) -> String {
        match self {
            ApiError::InvalidParams(_) => "invalid".into(),
            ApiError::Status(s) => s.status.to_string(),
            ApiError::Connect { .. } => "connect".into(),
            ApiError::NoAnswer { .. } => "no answer".into(),
            ApiError::Decode(_) => "decode".into(),
            ApiError::Cancelled { .. } => "cancelled".into(),
            ApiError::MissingKey | ApiError::BadKey => "no key".into(),
            ApiError::BadBaseUrl(_) => "base url".into(),
            ApiError::Job(_) => "job".into(),
        }
    }
}

/// Pulls a readable message out of any error body: JSON `{"error": …}` (with
/// `error_description`), `{"message": …}`, `{"detail": …}`, an HTML page's title or text, or plain
/// text; trimmed to a sentence-sized length.
pub fn message_from_body(body: &[u8]) -> String {
    const MAX: usize = 300;
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        return String::new();
    }
    if let Ok(v) = serde_json::from_str::<serde_json::Value>(text) {
        let pick = |k: &str| {
            v.get(k).and_then(|x| match x {
                serde_json::Value::String(s) => Some(s.trim().to_owned()),
                serde_json::Value::Null => None,
                other => Some(other.to_string()),
            })
        };
        let msg = match (pick("error"), pick("error_description")) {
            (Some(e), Some(d)) if !d.is_empty() => format!("{d} ({e})"),
            (Some(e), _) => e,
            (None, Some(d)) => d,
            (None, None) => pick("message")
                .or_else(|| pick("detail"))
                .unwrap_or_else(|| text.to_owned()),
        };
        return shorten(&msg, MAX);
    }
    if text.starts_with('<') {
        let lower = text.to_ascii_lowercase();
        if let (Some(a), Some(b)) = (lower.find("<title>"), lower.find("</title>"))
            && b > a + 7
        {
            // Byte offsets from the lowercased copy are valid in `text`: ASCII lowercasing keeps
            // every byte's position, and `<title>` is ASCII so the slice starts on a boundary.
            if let Some(t) = text.get(a + 7..b) {
                let t = t.trim();
                if !t.is_empty() {
                    return shorten(t, MAX);
                }
            }
        }
        return shorten(&strip_tags(text), MAX);
    }
    shorten(text, MAX)
}

fn strip_tags(html: &str) -> String {
    let mut out = String::with_capacity(html.len().min(4096));
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' => {
                in_tag = false;
                out.push(' ');
            }
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `s` cut to at most `max` characters on a character boundary, with `…` when cut.
pub fn shorten(s: &str, max: usize) -> String {
    let s = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if s.chars().count() <= max {
        s
    } else {
        let mut t: String = s.chars().take(max).collect();
        t.push('…');
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_from_every_body_shape() {
        assert_eq!(
            message_from_body(br#"{"error":"Invalid sampler"}"#),
            "Invalid sampler"
        );
        assert_eq!(
            message_from_body(
                br#"{"error":"invalid_token","error_description":"API key is invalid or may have expired","status_code":401}"#
            ),
            "API key is invalid or may have expired (invalid_token)"
        );
        assert_eq!(
            message_from_body(
                b"<html><head><title>405 Not Allowed</title></head><body>x</body></html>"
            ),
            "405 Not Allowed"
        );
        assert_eq!(
            message_from_body(b"<html><body><h1>Bad\n gateway</h1></body></html>"),
            "Bad gateway"
        );
        assert_eq!(message_from_body(b"  plain text  "), "plain text");
        assert_eq!(message_from_body(b""), "");
        assert_eq!(
            message_from_body(&[0xff, 0xfe, b'a']).chars().last(),
            Some('a')
        );
        let long = "x".repeat(1000);
        assert_eq!(message_from_body(long.as_bytes()).chars().count(), 301);
    }

    #[test]
    fn classes_and_fields() {
        let e = StatusError {
            status: 400,
            class: HttpClass::from_status(400),
            message: "cn_strength must be <= 2".into(),
            retry_after: None,
        };
        assert_eq!(e.field(), Some("cn_strength"));
        assert!(e.user_message().contains("`cn_strength`"));
        assert_eq!(HttpClass::from_status(503), HttpClass::Unavailable);
        assert_eq!(HttpClass::from_status(307), HttpClass::Redirect);
        let e401 = StatusError {
            status: 401,
            class: HttpClass::Unauthorized,
            message: "API key is invalid or may have expired".into(),
            retry_after: None,
        };
        assert!(e401.user_message().contains("fluxcn key set"));
    }
}
