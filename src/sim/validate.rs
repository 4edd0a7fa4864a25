//! Request validation of the stand-in, as the real gateway does it: the JSON body of a generation
//! request checked field by field against the contract (required fields, types, ranges, enums),
//! each refusal a message naming the field, the value and what is allowed. The ranges and lists are
//! read from [`crate::api::params`], the one place they are kept.

use std::io::Cursor;

use base64::Engine as _;
use serde_json::{Map, Value};

use crate::api::GenParams;

use crate::api::params::{
    Bounds, CN_STOP, CN_STRENGTH, CnType, GUIDANCE, ImageFormat, MAX_SEED, QUALITY, RANDOM_SEED,
    SAMPLERS, SAMPLES, SIZE, STEPS, Scheduler,
};

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

fn int_in(obj: &Map<String, Value>, field: &str, b: &Bounds<u32>) -> Result<u32, String> {
    let Some(v) = get(obj, field) else {
        return Ok(b.default);
    };
    let allowed = format!("an integer from {} to {}", b.min, b.max);
    let i = as_int(v).ok_or_else(|| wrong_type(field, v, &allowed))?;
    u32::try_from(i)
        .ok()
        .filter(|u| b.contains(*u))
        .ok_or_else(|| out_of_range(field, v, &allowed))
}

fn num_in(obj: &Map<String, Value>, field: &str, b: &Bounds<f64>) -> Result<f64, String> {
    let Some(v) = get(obj, field) else {
        return Ok(b.default);
    };
    let allowed = format!("a number from {} to {}", b.min, b.max);
    let f = v.as_f64().ok_or_else(|| wrong_type(field, v, &allowed))?;
    if b.contains(f) {
        Ok(f)
    } else {
        Err(out_of_range(field, v, &allowed))
    }
}

fn boolean(obj: &Map<String, Value>, field: &str, default: bool) -> Result<bool, String> {
    match get(obj, field) {
        None => Ok(default),
        Some(v) => v
            .as_bool()
            .ok_or_else(|| wrong_type(field, v, "true or false")),
    }
}

/// One of a list of wire names (exact match).
fn one_of<T: Copy>(
    obj: &Map<String, Value>,
    field: &str,
    all: &[T],
    name: impl Fn(T) -> &'static str,
    default: Option<T>,
) -> Result<T, String> {
    let names: Vec<&str> = all.iter().map(|t| name(*t)).collect();
    let allowed = format!("one of {}", names.join(", "));
    let v = match (get(obj, field), default) {
        (Some(v), _) => v,
        (None, Some(d)) => return Ok(d),
        (None, None) => return Err(format!("{field} is required: {allowed}")),
    };
    let s = v
        .as_str()
        .ok_or_else(|| wrong_type(field, v, &format!("a string, {allowed}")))?;
    all.iter()
        .copied()
        .find(|t| name(*t) == s)
        .ok_or_else(|| out_of_range(field, v, &allowed))
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

    let pv = required(&obj, "prompt", "a non-empty text")?;
    let prompt = pv
        .as_str()
        .ok_or_else(|| wrong_type("prompt", pv, "a non-empty text"))?;
    if prompt.trim().is_empty() {
        return Err("prompt must not be empty".to_owned());
    }

    let samplers = format!("one of {}", SAMPLERS.join(", "));
    let sv = required(&obj, "sampler", &samplers)?;
    let sampler = sv
        .as_str()
        .ok_or_else(|| wrong_type("sampler", sv, &samplers))?;
    if !SAMPLERS.contains(&sampler) {
        return Err(out_of_range("sampler", sv, &samplers));
    }

    let scheduler = one_of(&obj, "scheduler", Scheduler::ALL, Scheduler::as_str, None)?;

    let seed_allowed = format!("an integer from 0 to {MAX_SEED}, or -1 for a random seed");
    let seed_v = required(&obj, "seed", &seed_allowed)?;
    let seed = as_int(seed_v).ok_or_else(|| wrong_type("seed", seed_v, &seed_allowed))?;
    if !(seed == RANDOM_SEED || (0..=MAX_SEED).contains(&seed)) {
        return Err(out_of_range("seed", seed_v, &seed_allowed));
    }

    Ok(GenRequest {
        input,
        params: GenParams {
            prompt: prompt.to_owned(),
            sampler: sampler.to_owned(),
            scheduler,
            seed,
            base64: boolean(&obj, "base64", false)?,
            cn_stop: num_in(&obj, "cn_stop", &CN_STOP)?,
            cn_strength: num_in(&obj, "cn_strength", &CN_STRENGTH)?,
            cn_type: one_of(
                &obj,
                "cn_type",
                CnType::ALL,
                CnType::as_str,
                Some(CnType::default()),
            )?,
            custom_height: int_in(&obj, "custom_height", &SIZE)?,
            custom_width: int_in(&obj, "custom_width", &SIZE)?,
            guidance: num_in(&obj, "guidance", &GUIDANCE)?,
            image_format: one_of(
                &obj,
                "image_format",
                ImageFormat::ALL,
                ImageFormat::as_str,
                Some(ImageFormat::default()),
            )?,
            quality: int_in(&obj, "quality", &QUALITY)?,
            samples: int_in(&obj, "samples", &SAMPLES)?,
            steps: int_in(&obj, "steps", &STEPS)?,
            use_input_img_dimension: boolean(&obj, "use_input_img_dimension", true)?,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
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
