//! One error enum for everything that can go wrong between "Generate" and an image on disk: our own
//! validation, each HTTP class of the contract (with the server's message kept word for word), the
//! network, and answers we could not decode. Each variant says in plain words what the user needs to
//! hear, and whether it may have been billed.
//!
//! Text that comes from a server is scrubbed of the key *before* it is shortened (a key cut in half
//! can no longer be found): errors keep an [`excerpt`] of the server's text, [`ApiError::redacted`]
//! scrubs it and then cuts it to its display length, and `Display` never shows more than that.

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

/// Which server gave an error answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Answerer {
    /// The service's own endpoints (generate, submit, status, result, credits).
    #[default]
    Service,
    /// The host of a finished v2 job's output file (a storage host, reached without the key): the
    /// job is done and paid for, only its file could not be fetched yet.
    OutputHost,
}

/// A non-200 answer from the service (or from the host of an output file).
#[derive(Debug, Clone, PartialEq)]
pub struct StatusError {
    pub status: u16,
    pub class: HttpClass,
    /// The server's own message (trimmed, HTML stripped, the key scrubbed), or empty.
    pub message: String,
    /// When the server said how long to wait (`Retry-After` or `x-rate-limit-reset-at-utc`).
    pub retry_after: Option<Duration>,
    /// Who answered.
    pub from: Answerer,
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
        if self.from == Answerer::OutputHost {
            return format!(
                "the job is finished, but its output file could not be downloaded ({s} from the \
                 file host){said}"
            );
        }
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
                    crate::types::wait_words(d)
                ),
                _ => format!("rate limited ({s}){said}. Try again in a minute"),
            },
            HttpClass::ServerError => format!("the service failed ({s}){said}"),
            HttpClass::Unavailable => format!("the service is unavailable for now ({s}){said}"),
            HttpClass::GatewayTimeout => {
                format!("the gateway timed out ({s}){said}. It was not billed")
            }
            HttpClass::Redirect => format!(
                "the server redirected the request ({s}){said}; not followed (a request that \
                 starts a paid job is never sent again, and the API key never goes to another \
                 host). Check the API base URL"
            ),
            HttpClass::Other => format!("unexpected answer from the server ({s}){said}"),
        }
    }
}

/// A response we received but could not make sense of. The texts are excerpts of what the server
/// sent: shown clipped (see [`DecodeError::redacted`]).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DecodeError {
    #[error("the server answered 200 with an empty body")]
    Empty,
    #[error(
        "the answer is not an image (it starts with {:?}; sent as {})",
        shorten(.start, START_CHARS),
        shorten(.content_type, TYPE_CHARS)
    )]
    NotAnImage { start: String, content_type: String },
    #[error("the image is damaged: {}", shorten(.0, TEXT_CHARS))]
    DamagedImage(String),
    #[error(
        "the JSON answer has no image data (fields received: {})",
        shorten(.fields, FIELDS_CHARS)
    )]
    NoImageInJson { fields: String },
    /// A `200` whose JSON carries an error message and no image.
    #[error(
        "the server answered 200 with an error and no image: {}",
        shorten(.0, TEXT_CHARS)
    )]
    ErrorIn200(String),
    #[error("the answer is not valid JSON: {}", shorten(.0, TEXT_CHARS))]
    BadJson(String),
    #[error("the base64 image data is not valid base64: {}", shorten(.0, TEXT_CHARS))]
    BadBase64(String),
    #[error("the answer is larger than the {limit_mb} MB limit")]
    TooLarge { limit_mb: u64 },
    #[error("unexpected answer: {}", shorten(.0, TEXT_CHARS))]
    Unexpected(String),
}

/// How much of an answer's start [`DecodeError::NotAnImage`] shows.
const START_CHARS: usize = 40;
/// How much of a `Content-Type` an error shows.
const TYPE_CHARS: usize = 100;
/// How much of a list of JSON field names an error shows.
const FIELDS_CHARS: usize = 200;
/// How much of a server's message an error shows.
const TEXT_CHARS: usize = 300;
/// How much server text an error can show at most, once scrubbed: far more than any display
/// length.
const EXCERPT_CHARS: usize = 4096;
/// What an excerpt keeps beyond [`EXCERPT_CHARS`], so that a key across that cut is still whole
/// when it is scrubbed (keys are 19 characters; any longer one is handled by [`clip`] too).
const EXCERPT_SLACK: usize = 256;

/// The start of a server's text (4096 + 256 characters), kept in an error until [`clip`] scrubs it
/// of the key and cuts it for display. Never shown as it is.
pub fn excerpt(s: &str) -> String {
    match s.char_indices().nth(EXCERPT_CHARS + EXCERPT_SLACK) {
        Some((i, _)) => s[..i].to_owned(),
        None => s.to_owned(),
    }
}

/// The one way a server's text is made fit to show, whatever path it came by: the key scrubbed
/// out of the text as kept, **then** cut to [`EXCERPT_CHARS`], then any tail that is the start of
/// the key dropped (what a cut through a key leaves), and only then white space collapsed and the
/// text shortened to `max` characters. No order of cuts can leave a part of the key to be shown.
pub fn clip(text: &str, key: &ApiKey, max: usize) -> String {
    let scrubbed = key.redact(text);
    let kept = match scrubbed.char_indices().nth(EXCERPT_CHARS) {
        Some((i, _)) => &scrubbed[..i],
        None => scrubbed.as_str(),
    };
    shorten(without_key_start(kept, key.expose()), max)
}

/// `text` without a tail that is the start of `key` (a key cut in two by an earlier cut).
fn without_key_start<'a>(text: &'a str, key: &str) -> &'a str {
    if key.is_empty() {
        return text;
    }
    let from = text.len().saturating_sub(key.len());
    text.char_indices()
        .map(|(i, _)| i)
        .filter(|&i| i >= from)
        .find(|&i| key.starts_with(&text[i..]))
        .map_or(text, |i| &text[..i])
}

/// What is wrong with a v2 job, besides an HTTP answer.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum JobError {
    /// The server no longer has the job's record (a `404` while polling).
    #[error(
        "the server no longer has job {request_id}: records expire one hour after submission{}",
        if .detail.is_empty() { String::new() } else { format!(" ({})", .detail) }
    )]
    Expired { request_id: String, detail: String },
    /// We stopped waiting at the job's deadline (its record lives an hour after submission). The
    /// job may still finish and be billed on the server.
    #[error(
        "stopped waiting for job {request_id}: it did not finish within {} of its submission",
        crate::types::wait_words(*.after)
    )]
    Deadline { request_id: String, after: Duration },
    /// The server asked us to wait longer than the job's deadline allows: polling stopped at once,
    /// the job stays journaled for a later `fluxcn resume`.
    #[error(
        "the server asks to wait {} before job {request_id} is asked about again, past the time fluxcn waits for a job: polling stopped",
        crate::types::wait_words(*.wait)
    )]
    ServerWait { request_id: String, wait: Duration },
}

impl JobError {
    fn redacted(self, key: &ApiKey) -> JobError {
        match self {
            JobError::Expired { request_id, detail } => JobError::Expired {
                request_id: key.redact(&request_id),
                detail: clip(&detail, key, TEXT_CHARS),
            },
            JobError::Deadline { request_id, after } => JobError::Deadline {
                request_id: key.redact(&request_id),
                after,
            },
            JobError::ServerWait { request_id, wait } => JobError::ServerWait {
                request_id: key.redact(&request_id),
                wait,
            },
        }
    }
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

    /// A v2 job's record is gone, or we stopped waiting for it.
    #[error("{0}")]
    Job(JobError),
}

impl DecodeError {
    /// The same error with every occurrence of `key` scrubbed from its texts (an answer may echo
    /// the request's headers back), then each text clipped to what is shown of it: scrubbed first,
    /// so that no part of the key survives the cut.
    pub fn redacted(self, key: &ApiKey) -> DecodeError {
        use DecodeError::{
            BadBase64, BadJson, DamagedImage, Empty, ErrorIn200, NoImageInJson, NotAnImage,
            TooLarge, Unexpected,
        };
        let r = |t: String, max: usize| clip(&t, key, max);
        match self {
            Empty => Empty,
            NotAnImage {
                start,
                content_type,
            } => NotAnImage {
                start: r(start, START_CHARS),
                content_type: r(content_type, TYPE_CHARS),
            },
            DamagedImage(t) => DamagedImage(r(t, TEXT_CHARS)),
            NoImageInJson { fields } => NoImageInJson {
                fields: r(fields, FIELDS_CHARS),
            },
            ErrorIn200(t) => ErrorIn200(r(t, TEXT_CHARS)),
            BadJson(t) => BadJson(r(t, TEXT_CHARS)),
            BadBase64(t) => BadBase64(r(t, TEXT_CHARS)),
            TooLarge { limit_mb } => TooLarge { limit_mb },
            Unexpected(t) => Unexpected(r(t, TEXT_CHARS)),
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
            ApiError::Job(j) => ApiError::Job(j.redacted(key)),
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
    message_from_body_with(body, &|t: &str| t.to_owned())
}

/// [`message_from_body`] with `scrub` applied to the message before it is shortened (so that a key
/// the server echoed is removed whole, never cut in two with its first part shown).
pub fn message_from_body_with(body: &[u8], scrub: &dyn Fn(&str) -> String) -> String {
    const MAX: usize = TEXT_CHARS;
    let cut = |t: &str, max: usize| shorten(&scrub(t), max);
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
        return cut(&msg, MAX);
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
                    return cut(t, MAX);
                }
            }
        }
        return cut(&strip_tags(text), MAX);
    }
    cut(text, MAX)
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
    fn a_key_across_any_cut_leaves_no_part_to_show() {
        let key = ApiKey::new("SG_c0ffee1234567890").unwrap();
        let k = key.expose();
        // The key across the excerpt's own cut and across the display cut, at every offset, after
        // padding that white-space collapsing would otherwise pull into view; and many keys before
        // it, whose scrubbing shortens the text.
        for before in [0, 1, 40] {
            let keys = format!("{k} ").repeat(before);
            for at in (EXCERPT_CHARS - 30)..(EXCERPT_CHARS + EXCERPT_SLACK + 30) {
                let pad = at.saturating_sub(keys.chars().count());
                let text = format!("{keys}{}{k} tail", " ".repeat(pad));
                let e = ApiError::Decode(DecodeError::Unexpected(excerpt(&text))).redacted(&key);
                let shown = format!("{e} {e:?}");
                for part in 4..=k.len() {
                    assert!(
                        !shown.contains(&k[..part]),
                        "offset {at}, {before} keys before: {:?} shows {:?}",
                        shown,
                        &k[..part]
                    );
                }
                let c = clip(&excerpt(&text), &key, 120);
                assert!(!c.contains(&k[..4]), "clip at {at}: {c}");
            }
        }
        assert_eq!(without_key_start("abc SG_c0f", k), "abc ");
        assert_eq!(without_key_start("abc SG_c0x", k), "abc SG_c0x");
        assert_eq!(without_key_start("ab", k), "ab");
        assert_eq!(without_key_start("aé", k), "aé");
    }

    #[test]
    fn the_key_is_scrubbed_before_a_message_is_cut() {
        let key = ApiKey::new("SG_0123456789abcdef").unwrap();
        let text = format!("{}{}{}", "x".repeat(290), key.expose(), "y".repeat(50));
        let m = message_from_body_with(text.as_bytes(), &|t| key.redact(t));
        assert!(!m.contains("SG_0123"), "{m}");
        assert_eq!(m.chars().count(), 301);
        let e = ApiError::Decode(DecodeError::ErrorIn200(excerpt(&text))).redacted(&key);
        let shown = format!("{e} {e:?}");
        assert!(!shown.contains("SG_0123"), "{shown}");
        assert!(e.to_string().chars().count() < 400, "{e}");
        // Unscrubbed, the text is still shown clipped.
        let e = DecodeError::NotAnImage {
            start: "z".repeat(5000),
            content_type: "t".repeat(5000),
        };
        assert!(e.to_string().chars().count() < 250, "{e}");
    }

    #[test]
    fn classes_and_fields() {
        let e = StatusError {
            status: 400,
            class: HttpClass::from_status(400),
            message: "cn_strength must be <= 2".into(),
            retry_after: None,
            from: Answerer::Service,
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
            from: Answerer::Service,
        };
        assert!(e401.user_message().contains("fluxcn key set"));
    }
}
