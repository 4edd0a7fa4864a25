//! Request validation of the stand-in, as the real gateway does it: the JSON body of a generation
//! request checked field by field against the contract (required fields, types, ranges, enums),
//! each refusal a message naming the field, the value and what is allowed. Which fields there are,
//! which are required, their ranges, lists and defaults are read from the field table
//! ([`crate::api::fields`]), the one place they are kept.

use std::io::Cursor;

use base64::Engine as _;
use serde_json::{Map, Value};

use crate::api::GenParams;
use crate::api::fields::{self, Allowed, Field, Value as FieldValue};
use crate::api::params::SIZE;

/// The output size when the input is a URL and `use_input_img_dimension` is true (the stand-in
/// does not download anything).
pub const URL_INPUT_SIZE: (u32, u32) = (1024, 1024);

/// The input image as the request gave it.
#[derive(Debug, Clone, PartialEq)]
pub enum InputImage {
    /// An `http(s)://` URL (not fetched).
    Url(String),
    /// Plain base64 of an image file, with the image's own size.
    Inline { width: u32, height: u32 },
}

/// A generation request that passed validation, with every default filled in: the input and the
/// knobs in the project's own parameter type (the stand-in checks the raw JSON itself; what passes is
/// the same value the client sends).
#[derive(Debug, Clone, PartialEq)]
pub struct GenRequest {
    pub input: InputImage,
    /// As sent; `seed` `-1` asks for a random seed.
    pub params: GenParams,
}

impl GenRequest {
    /// The size of the output images: the input's own size (clamped into the allowed range) when
    /// `use_input_img_dimension` is true, else `custom_width`×`custom_height`.
    pub fn output_size(&self) -> (u32, u32) {
        if !self.params.use_input_img_dimension {
            return (self.params.custom_width, self.params.custom_height);
        }
        match self.input {
            InputImage::Url(_) => URL_INPUT_SIZE,
            InputImage::Inline { width, height } => (
                width.clamp(SIZE.min, SIZE.max),
                height.clamp(SIZE.min, SIZE.max),
            ),
        }
    }
}

/// A short, printable rendering of a JSON value for a message.
fn show(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 60 {
        let cut: String = s.chars().take(57).collect();
        format!("{cut}...")
    } else {
        s
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn wrong_type(field: &str, v: &Value, want: &str) -> String {
    format!("{field} must be {want}, got {} ({})", show(v), kind(v))
}

fn out_of_range(field: &str, v: &Value, allowed: &str) -> String {
    format!("{field} = {} is not allowed: {allowed}", show(v))
}

/// A field's value; JSON `null` counts as absent.
fn get<'a>(obj: &'a Map<String, Value>, field: &str) -> Option<&'a Value> {
    obj.get(field).filter(|v| !v.is_null())
}

fn required<'a>(obj: &'a Map<String, Value>, field: &str, what: &str) -> Result<&'a Value, String> {
    get(obj, field).ok_or_else(|| format!("{field} is required: {what}"))
}

/// An integer: a JSON integer, or a number with no fraction (`20.0`).
fn as_int(v: &Value) -> Option<i64> {
    if let Some(i) = v.as_i64() {
        return Some(i);
    }
    let f = v.as_f64()?;
    (f.fract() == 0.0 && f.abs() < 9.0e15).then_some(f as i64)
}

/// One field of the body, checked against the table: `None` when it is absent and not required
/// (the default applies), else its value. The message of a refusal names the field, the value and
/// what is allowed.
fn field_value(obj: &Map<String, Value>, field: Field) -> Result<Option<FieldValue>, String> {
    let name = field.wire();
    let allowed = field.allowed_text();
    let want = match field.info().allowed {
        Allowed::Int(_) | Allowed::Seed { .. } => format!("an integer from {allowed}"),
        Allowed::Num(_) => format!("a number from {allowed}"),
        Allowed::Text | Allowed::Bool { .. } => allowed,
        Allowed::OneOf { .. } => format!("a string, {allowed}"),
    };
    let Some(v) = get(obj, name) else {
        return if field.info().required {
            let what = match field.info().allowed {
                Allowed::OneOf { .. } => field.allowed_text(),
                _ => want,
            };
            Err(format!("{name} is required: {what}"))
        } else {
            Ok(None)
        };
    };
    let typed = match field.info().allowed {
        Allowed::Text => v.as_str().map(|t| FieldValue::Text(t.to_owned())),
        Allowed::OneOf { names, .. } => match v.as_str() {
            // Exact names only (the table's parse is lenient about case; the gateway is not).
            Some(t) if names.contains(&t) => field.parse(t).ok(),
            Some(_) => return Err(out_of_range(name, v, &field.allowed_text())),
            None => None,
        },
        Allowed::Int(_) | Allowed::Seed { .. } => as_int(v).map(FieldValue::Int),
        Allowed::Num(_) => v.as_f64().map(FieldValue::Num),
        Allowed::Bool { .. } => v.as_bool().map(FieldValue::Bool),
    };
    let typed = typed.ok_or_else(|| wrong_type(name, v, &want))?;
    match field.check(&typed) {
        Ok(()) => Ok(Some(typed)),
        Err(_) if field == Field::Prompt => Err("prompt must not be empty".to_owned()),
        Err(_) => Err(out_of_range(name, v, &want)),
    }
}

/// Checks the `image` field: an `http(s)://` URL, or plain base64 of an image file.
fn input_image(obj: &Map<String, Value>) -> Result<InputImage, String> {
    let what = "an http(s):// URL or the image file's bytes as plain base64";
    let v = required(obj, "image", what)?;
    let s = v
        .as_str()
        .ok_or_else(|| wrong_type("image", v, what))?
        .trim();
    if s.is_empty() {
        return Err(format!("image is empty: send {what}"));
    }
    let lower = s.get(..8).unwrap_or(s).to_ascii_lowercase();
    if lower.starts_with("http://") || lower.starts_with("https://") {
        return match url::Url::parse(s) {
            Ok(u) if u.host_str().is_some_and(|h| !h.is_empty()) => {
                Ok(InputImage::Url(s.to_owned()))
            }
            _ => Err(format!("image is not a valid URL: {}", show(v))),
        };
    }
    if lower.starts_with("data:") {
        return Err(
            "image starts with \"data:\": send plain base64 without a data: prefix".to_owned(),
        );
    }
    let compact: String = s.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(&compact)
        .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(&compact))
        .map_err(|_| {
            format!(
                "image is neither an http(s):// URL nor valid base64 (starts {})",
                show(&Value::String(s.chars().take(24).collect()))
            )
        })?;
    let dims = image::ImageReader::new(Cursor::new(&bytes))
        .with_guessed_format()
        .ok()
        .and_then(|r| r.into_dimensions().ok());
    match dims {
        Some((width, height)) if width > 0 && height > 0 => {
            Ok(InputImage::Inline { width, height })
        }
        _ => Err(format!(
            "image: the base64 decodes to {} bytes that are not an image (send a JPEG, PNG or WebP file's bytes)",
            bytes.len()
        )),
    }
}

/// The SHA-256 (hex) of the image a request body carries inline (`None` for a URL, or a body
/// that holds no decodable base64 image).
pub fn inline_image_sha256(body: &[u8]) -> Option<String> {
    use sha2::Digest as _;
    let bytes = inline_image(body)?;
    Some(
        sha2::Sha256::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect(),
    )
}

/// The image a request body carries inline, decoded from its base64 (`None` for a URL).
pub fn inline_image(body: &[u8]) -> Option<Vec<u8>> {
    let v: Value = serde_json::from_slice(body).ok()?;
    let s = v.get("image")?.as_str()?;
    if s.starts_with("http://") || s.starts_with("https://") {
        return None;
    }
    let compact: String = s.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    base64::engine::general_purpose::STANDARD
        .decode(&compact)
        .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(&compact))
        .ok()
}

/// Parses and checks a generation request body. The error is the message of a `400`.
pub fn parse_request(body: &[u8]) -> Result<GenRequest, String> {
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        format!(
            "The request body is not valid JSON (line {}, column {})",
            e.line(),
            e.column()
        )
    })?;
    let Value::Object(obj) = value else {
        return Err(format!(
            "The request body must be a JSON object, got {}",
            kind(&value)
        ));
    };
    let input = input_image(&obj)?;
    let mut params = GenParams::default();
    for field in Field::ALL {
        if let Some(v) = field_value(&obj, field)? {
            fields::set(&mut params, field, v).map_err(|e| e.to_string())?;
        }
    }
    Ok(GenRequest { input, params })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::CnType;
    use serde_json::json;

    fn png_b64(w: u32, h: u32) -> String {
        let img = image::RgbImage::new(w, h);
        let mut out = Cursor::new(Vec::new());
        img.write_to(&mut out, image::ImageFormat::Png).unwrap();
        base64::engine::general_purpose::STANDARD.encode(out.into_inner())
    }

    fn ok_body() -> Value {
        json!({"image": png_b64(30, 20), "prompt": "a cat", "sampler": "euler", "scheduler": "simple", "seed": 1})
    }

    fn err(v: &Value) -> String {
        parse_request(v.to_string().as_bytes()).unwrap_err()
    }

    #[test]
    fn defaults_fill_in_and_the_input_size_is_read() {
        let r = parse_request(ok_body().to_string().as_bytes()).unwrap();
        assert_eq!(
            r.input,
            InputImage::Inline {
                width: 30,
                height: 20
            }
        );
        assert_eq!(
            (r.params.steps, r.params.quality, r.params.samples),
            (20, 95, 1)
        );
        assert_eq!(r.params.cn_type, CnType::Pose);
        // Use the input's size, clamped into 64..=4096.
        assert_eq!(r.output_size(), (64, 64));
        let mut b = ok_body();
        b["use_input_img_dimension"] = json!(false);
        b["custom_width"] = json!(640.0);
        let r = parse_request(b.to_string().as_bytes()).unwrap();
        assert_eq!(r.output_size(), (640, 1024));
        b["image"] = json!("https://example.com/a.png");
        b["use_input_img_dimension"] = json!(true);
        let r = parse_request(b.to_string().as_bytes()).unwrap();
        assert_eq!(r.output_size(), URL_INPUT_SIZE);
    }

    #[test]
    fn messages_name_the_field_the_value_and_what_is_allowed() {
        let mut b = ok_body();
        b["steps"] = json!("20");
        let e = err(&b);
        assert!(
            e.contains("steps") && e.contains("\"20\"") && e.contains("15 to 75"),
            "{e}"
        );
        let mut b = ok_body();
        b["guidance"] = json!(15.5);
        let e = err(&b);
        assert!(
            e.contains("guidance = 15.5") && e.contains("1 to 15"),
            "{e}"
        );
        let mut b = ok_body();
        b["sampler"] = json!("euler_ancestra");
        assert!(err(&b).contains("dpmpp_2m"));
        let mut b = ok_body();
        b["image"] = json!("data:image/png;base64,AAAA");
        assert!(err(&b).contains("data:"));
        b["image"] = json!("aGVsbG8gd29ybGQ=");
        let e = err(&b);
        assert!(e.starts_with("image") && e.contains("11 bytes"), "{e}");
        b["image"] = json!("%%%");
        assert!(err(&b).starts_with("image"));
        assert!(
            parse_request(b"{nope")
                .unwrap_err()
                .contains("not valid JSON")
        );
        assert!(parse_request(b"[1]").unwrap_err().contains("an array"));
    }

    #[test]
    fn null_is_absent_and_unknown_fields_are_ignored() {
        let mut b = ok_body();
        b["steps"] = Value::Null;
        b["lora"] = json!("whatever");
        assert_eq!(
            parse_request(b.to_string().as_bytes())
                .unwrap()
                .params
                .steps,
            20
        );
        b["seed"] = Value::Null;
        assert!(err(&b).starts_with("seed is required"));
    }
}
