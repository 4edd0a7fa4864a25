//! Decoding what the service sends back: raw image bytes (recognised by magic number), base64 JSON in
//! each shape the contract lists, the v2 job documents, and the accounting headers. One result type,
//! [`Generation`], serves the UI, the gallery and the CLI whichever API produced it. An answer that
//! lists more images than were asked for is cut ([`at_most`]); the server's text in an error is kept
//! as an [`excerpt`], scrubbed of the key before it is shortened.

use base64::Engine as _;
use serde::{Deserialize, Serialize};

use super::error::{DecodeError, excerpt};
use super::params::ImageFormat;

/// One generated image exactly as received.
#[derive(Clone, PartialEq)]
pub struct ReceivedImage {
    pub bytes: Vec<u8>,
    pub format: ImageFormat,
    pub width: u32,
    pub height: u32,
}

impl std::fmt::Debug for ReceivedImage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "ReceivedImage({} {}x{}, {} bytes)",
            self.format,
            self.width,
            self.height,
            self.bytes.len()
        )
    }
}

/// The accounting the service reports with a result; any field may be missing.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Accounting {
    /// What this generation cost, in the account's currency (credits).
    pub cost: Option<f64>,
    pub remaining_credits: Option<f64>,
    /// Seconds of inference.
    pub generation_time: Option<f64>,
    /// The seed actually used (the answer to `seed: -1`).
    pub seed: Option<i64>,
    /// The join key to the provider's own logs.
    pub request_id: Option<String>,
    pub queue_time: Option<f64>,
    pub total_time: Option<f64>,
}

impl Accounting {
    /// Reads `x-cost`, `x-remaining-credits`, `x-generation-time`, `x-seed-value`, `x-request-id`.
    pub fn from_headers(h: &reqwest::header::HeaderMap) -> Accounting {
        let text = |k: &str| {
            h.get(k)
                .and_then(|v| v.to_str().ok())
                .map(|s| s.trim().to_owned())
        };
        let num = |k: &str| {
            text(k)
                .and_then(|s| s.trim_start_matches('$').parse::<f64>().ok())
                .filter(|v| v.is_finite())
        };
        Accounting {
            cost: num("x-cost"),
            remaining_credits: num("x-remaining-credits"),
            generation_time: num("x-generation-time").or_else(|| {
                text("x-generation-time").and_then(|s| s.trim_end_matches('s').trim().parse().ok())
            }),
            seed: text("x-seed-value").and_then(|s| s.parse::<i64>().ok()),
            request_id: text("x-request-id").filter(|s| !s.is_empty()),
            queue_time: None,
            total_time: None,
        }
    }

    /// Reads a v2 `metrics` object (`cost`, `remaining_credits`, `inference_time`, `queue_time`,
    /// `total_time`), keeping what is already known where the object is silent.
    pub fn merge_metrics(&mut self, m: &serde_json::Value) {
        let num = |k: &str| {
            m.get(k).and_then(|v| {
                v.as_f64().or_else(|| {
                    v.as_str()
                        .and_then(|s| s.trim_start_matches('$').parse().ok())
                })
            })
        };
        self.cost = num("cost").or(self.cost);
        self.remaining_credits = num("remaining_credits").or(self.remaining_credits);
        self.generation_time = num("inference_time").or(self.generation_time);
        self.queue_time = num("queue_time").or(self.queue_time);
        self.total_time = num("total_time").or(self.total_time);
    }
}

/// A finished generation: its images and the accounting.
#[derive(Debug, Clone, PartialEq)]
pub struct Generation {
    pub images: Vec<ReceivedImage>,
    pub accounting: Accounting,
}

/// Checks that `bytes` are an image we can show: known magic number and a readable header.
pub fn check_image(bytes: Vec<u8>, content_type: &str) -> Result<ReceivedImage, DecodeError> {
    if bytes.is_empty() {
        return Err(DecodeError::Empty);
    }
    let Some(format) = ImageFormat::sniff(&bytes) else {
        // An excerpt, not the 40 characters shown: the key is scrubbed before the cut.
        let start: String = String::from_utf8_lossy(&bytes[..bytes.len().min(4096)])
            .chars()
            .map(|c| if c.is_control() { '.' } else { c })
            .collect();
        return Err(DecodeError::NotAnImage {
            start: excerpt(&start),
            content_type: if content_type.trim().is_empty() {
                "no content type".to_owned()
            } else {
                excerpt(content_type)
            },
        });
    };
    let (width, height) = image::ImageReader::with_format(
        std::io::Cursor::new(&bytes),
        match format {
            ImageFormat::Jpeg => image::ImageFormat::Jpeg,
            ImageFormat::Png => image::ImageFormat::Png,
            ImageFormat::Webp => image::ImageFormat::WebP,
        },
    )
    .into_dimensions()
    .map_err(|e| DecodeError::DamagedImage(e.to_string()))?;
    if width == 0 || height == 0 {
        return Err(DecodeError::DamagedImage("zero-sized image".into()));
    }
    if !complete_tail(format, &bytes) {
        return Err(DecodeError::DamagedImage(format!(
            "the {format} data is cut off ({} bytes received)",
            bytes.len()
        )));
    }
    Ok(ReceivedImage {
        bytes,
        format,
        width,
        height,
    })
}

/// Whether the image data ends the way a complete file of its format does (a cheap check that
/// catches a truncated body without decoding every pixel).
fn complete_tail(format: ImageFormat, b: &[u8]) -> bool {
    match format {
        // JPEG ends with EOI; tolerate trailing padding some encoders add.
        ImageFormat::Jpeg => {
            let tail = &b[b.len().saturating_sub(64)..];
            tail.windows(2).any(|w| w == [0xFF, 0xD9])
        }
        // PNG ends with the IEND chunk and its CRC.
        ImageFormat::Png => b.len() >= 12 && &b[b.len() - 12..b.len() - 4] == b"\0\0\0\0IEND",
        // WebP: the RIFF size says how long the file is.
        ImageFormat::Webp => {
            b.len() >= 12 && {
                let size = u32::from_le_bytes([b[4], b[5], b[6], b[7]]) as usize;
                b.len() >= size.saturating_add(8)
            }
        }
    }
}

/// Decodes base64 image data, with or without a `data:image/…;base64,` prefix.
pub fn decode_base64_image(s: &str) -> Result<ReceivedImage, DecodeError> {
    let s = s.trim();
    let payload = match s.strip_prefix("data:") {
        Some(rest) => match rest.split_once(',') {
            Some((_, data)) => data,
            None => return Err(DecodeError::BadBase64("a data: URL without a comma".into())),
        },
        None => s,
    };
    let cleaned: String = payload
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(cleaned.as_bytes())
        .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(cleaned.as_bytes()))
        .or_else(|_| base64::engine::general_purpose::URL_SAFE.decode(cleaned.as_bytes()))
        .map_err(|e| DecodeError::BadBase64(e.to_string()))?;
    check_image(bytes, "base64 data in JSON")
}

/// Where an output is: inline data or a URL to download.
#[derive(Debug, Clone, PartialEq)]
pub enum OutputRef {
    Inline(String),
    Url(String),
}

fn classify(s: &str) -> OutputRef {
    let t = s.trim();
    if t.starts_with("http://") || t.starts_with("https://") {
        OutputRef::Url(t.to_owned())
    } else {
        OutputRef::Inline(t.to_owned())
    }
}

fn field_names(v: &serde_json::Value) -> String {
    match v.as_object() {
        Some(o) if o.is_empty() => "none".into(),
        Some(o) => o.keys().map(String::as_str).collect::<Vec<_>>().join(", "),
        None => format!("a JSON {}", json_kind(v)),
    }
}

fn json_kind(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "boolean",
        serde_json::Value::Number(_) => "number",
        serde_json::Value::String(_) => "string",
        serde_json::Value::Array(_) => "array",
        serde_json::Value::Object(_) => "object",
    }
}

/// Finds the image references in a JSON answer: `image`, `images`, `output` (string or list) or
/// `data`; each a URL or base64.
pub fn image_refs(v: &serde_json::Value) -> Result<Vec<OutputRef>, DecodeError> {
    for key in ["image", "images", "output", "data"] {
        if let Some(x) = v.get(key) {
            let refs: Vec<OutputRef> = match x {
                serde_json::Value::String(s) if !s.trim().is_empty() => vec![classify(s)],
                serde_json::Value::Array(items) => items
                    .iter()
                    .filter_map(|i| match i {
                        serde_json::Value::String(s) => Some(classify(s)),
                        serde_json::Value::Object(_) => i
                            .get("url")
                            .or_else(|| i.get("image"))
                            .and_then(|u| u.as_str())
                            .map(classify),
                        _ => None,
                    })
                    .collect(),
                serde_json::Value::Object(_) => image_refs(x).unwrap_or_default(),
                _ => vec![],
            };
            if !refs.is_empty() {
                return Ok(refs);
            }
        }
    }
    for key in ["error", "message", "detail"] {
        if let Some(text) = v.get(key).and_then(|m| m.as_str())
            && !text.trim().is_empty()
        {
            return Err(DecodeError::ErrorIn200(excerpt(text.trim())));
        }
    }
    Err(DecodeError::NoImageInJson {
        fields: excerpt(&field_names(v)),
    })
}

/// At most `max` of a result's outputs: a result that lists more than the request's `samples` is
/// cut (the rest are never downloaded or decoded, and a warning says how many were left).
pub fn at_most(mut refs: Vec<OutputRef>, max: usize) -> Vec<OutputRef> {
    if refs.len() > max {
        tracing::warn!(
            received = refs.len(),
            kept = max,
            "the answer lists more images than were asked for; only the first ones are kept"
        );
        refs.truncate(max);
    }
    refs
}

/// Decodes a `base64: true` answer: JSON carrying inline image data.
pub fn decode_json_images(body: &[u8]) -> Result<Vec<ReceivedImage>, DecodeError> {
    decode_json_images_at_most(body, usize::MAX)
}

/// [`decode_json_images`], keeping at most `max` images (see [`at_most`]).
pub fn decode_json_images_at_most(
    body: &[u8],
    max: usize,
) -> Result<Vec<ReceivedImage>, DecodeError> {
    let v: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| DecodeError::BadJson(e.to_string()))?;
    let refs = at_most(image_refs(&v)?, max);
    drop(v);
    let mut out = Vec::new();
    for r in refs {
        match r {
            OutputRef::Inline(s) => out.push(decode_base64_image(&s)?),
            OutputRef::Url(u) => {
                return Err(DecodeError::Unexpected(format!(
                    "a URL ({}) where base64 image data was expected",
                    excerpt(&u)
                )));
            }
        }
    }
    Ok(out)
}

/// Decodes a v1 `200` body: raw image bytes, or JSON when the body is JSON (asked for with
/// `base64: true`, or sent anyway).
pub fn decode_v1_body(
    body: Vec<u8>,
    content_type: &str,
) -> Result<Vec<ReceivedImage>, DecodeError> {
    decode_v1_body_at_most(body, content_type, usize::MAX)
}

/// [`decode_v1_body`], keeping at most `max` images (see [`at_most`]).
pub fn decode_v1_body_at_most(
    body: Vec<u8>,
    content_type: &str,
    max: usize,
) -> Result<Vec<ReceivedImage>, DecodeError> {
    if body.is_empty() {
        return Err(DecodeError::Empty);
    }
    if ImageFormat::sniff(&body).is_some() {
        return Ok(vec![check_image(body, content_type)?]);
    }
    let first = body.iter().find(|b| !b.is_ascii_whitespace()).copied();
    if first == Some(b'{') || content_type.contains("json") {
        return decode_json_images_at_most(&body, max);
    }
    check_image(body, content_type).map(|i| vec![i])
}

/// The answer to a v2 submit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Submitted {
    pub request_id: String,
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub status_url: Option<String>,
    #[serde(default)]
    pub response_url: Option<String>,
}

/// The state of a v2 job.
#[derive(Debug, Clone, PartialEq)]
pub enum JobState {
    Queued,
    Processing,
    Completed,
    Failed(String),
    /// A status this client does not know; shown, and polling goes on.
    Other(String),
}

/// Reads a v2 status document.
pub fn decode_status(body: &[u8]) -> Result<(JobState, serde_json::Value), DecodeError> {
    let v: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| DecodeError::BadJson(e.to_string()))?;
    let Some(status) = v.get("status").and_then(|s| s.as_str()) else {
        return Err(DecodeError::Unexpected(format!(
            "a status answer without `status` (fields: {})",
            excerpt(&field_names(&v))
        )));
    };
    let state = match status.to_ascii_uppercase().as_str() {
        "QUEUED" | "IN_QUEUE" | "PENDING" => JobState::Queued,
        "PROCESSING" | "IN_PROGRESS" | "RUNNING" => JobState::Processing,
        "COMPLETED" | "SUCCEEDED" | "SUCCESS" => JobState::Completed,
        "FAILED" | "ERROR" => JobState::Failed(
            v.get("error")
                .and_then(|e| e.as_str())
                .unwrap_or("the generation failed")
                .to_owned(),
        ),
        other => JobState::Other(other.to_owned()),
    };
    let metrics = v.get("metrics").cloned().unwrap_or(serde_json::Value::Null);
    Ok((state, metrics))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn tiny_png() -> Vec<u8> {
        let img = image::RgbImage::from_pixel(3, 2, image::Rgb([10, 20, 30]));
        let mut out = std::io::Cursor::new(Vec::new());
        img.write_to(&mut out, image::ImageFormat::Png).unwrap();
        out.into_inner()
    }

    fn tiny_jpeg() -> Vec<u8> {
        let img = image::RgbImage::from_pixel(8, 8, image::Rgb([10, 20, 30]));
        let mut out = std::io::Cursor::new(Vec::new());
        img.write_to(&mut out, image::ImageFormat::Jpeg).unwrap();
        out.into_inner()
    }

    #[test]
    fn raw_bytes_by_magic_not_by_header() {
        let png = tiny_png();
        let imgs = decode_v1_body(png.clone(), "image/jpeg").unwrap();
        assert_eq!(imgs[0].format, ImageFormat::Png);
        assert_eq!((imgs[0].width, imgs[0].height), (3, 2));
        assert_eq!(imgs[0].bytes, png);
    }

    #[test]
    fn truncated_and_garbage_bodies_are_errors() {
        let jpg = tiny_jpeg();
        let cut = jpg[..jpg.len() - 20].to_vec();
        assert!(matches!(
            decode_v1_body(cut, "image/jpeg"),
            Err(DecodeError::DamagedImage(_))
        ));
        let png = tiny_png();
        let cut = png[..png.len() - 5].to_vec();
        assert!(matches!(
            decode_v1_body(cut, "image/png"),
            Err(DecodeError::DamagedImage(_))
        ));
        assert!(matches!(
            decode_v1_body(b"<html>oops</html>".to_vec(), "text/html"),
            Err(DecodeError::NotAnImage { .. })
        ));
        assert_eq!(decode_v1_body(vec![], "image/png"), Err(DecodeError::Empty));
        assert!(matches!(
            decode_v1_body(b"{not json".to_vec(), "application/json"),
            Err(DecodeError::BadJson(_))
        ));
    }

    #[test]
    fn every_json_shape() {
        let b64 = base64::engine::general_purpose::STANDARD.encode(tiny_png());
        for body in [
            format!(r#"{{"image":"{b64}"}}"#),
            format!(r#"{{"images":["{b64}","{b64}"]}}"#),
            format!(r#"{{"image":"data:image/png;base64,{b64}"}}"#),
        ] {
            let imgs = decode_json_images(body.as_bytes()).unwrap();
            assert!(!imgs.is_empty());
            assert_eq!(imgs[0].format, ImageFormat::Png);
        }
        let e = decode_json_images(br#"{"status":"ok","foo":1}"#).unwrap_err();
        assert_eq!(
            e.to_string(),
            "the JSON answer has no image data (fields received: foo, status)"
        );
        assert!(matches!(
            decode_json_images(br#"{"image":"!!!notbase64"}"#),
            Err(DecodeError::BadBase64(_))
        ));
    }

    #[test]
    fn v2_documents() {
        let (s, m) =
            decode_status(br#"{"status":"FAILED","error":"NSFW","metrics":{"cost":0}}"#).unwrap();
        assert_eq!(s, JobState::Failed("NSFW".into()));
        let mut a = Accounting::default();
        a.merge_metrics(&m);
        assert_eq!(a.cost, Some(0.0));
        assert!(decode_status(br#"{"nope":1}"#).is_err());
        let refs = image_refs(&serde_json::json!({"output": ["https://cdn/x.png"]})).unwrap();
        assert_eq!(refs, vec![OutputRef::Url("https://cdn/x.png".into())]);
        let refs = image_refs(&serde_json::json!({"output": "https://cdn/x.png"})).unwrap();
        assert_eq!(refs, vec![OutputRef::Url("https://cdn/x.png".into())]);
    }

    #[test]
    fn accounting_headers() {
        let mut h = reqwest::header::HeaderMap::new();
        h.insert("X-Remaining-Credits", "12.5".parse().unwrap());
        h.insert("x-seed-value", "42".parse().unwrap());
        h.insert("x-cost", "0.048".parse().unwrap());
        h.insert("x-request-id", "abc".parse().unwrap());
        let a = Accounting::from_headers(&h);
        assert_eq!(a.remaining_credits, Some(12.5));
        assert_eq!(a.seed, Some(42));
        assert_eq!(a.cost, Some(0.048));
        assert_eq!(a.request_id.as_deref(), Some("abc"));
        assert_eq!(
            Accounting::from_headers(&reqwest::header::HeaderMap::new()),
            Accounting::default()
        );
    }
}
