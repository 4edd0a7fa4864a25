//! Reading a batch file: JSONL (one object of request fields a line) or CSV (a header row of field
//! names, then one request a row; quoted fields may hold commas). Every field is read through the
//! field table ([`crate::api::fields`]), so its name, range and allowed values are those of the
//! contract; `image` is a path (relative to the batch file's folder) or an http(s) URL. Every
//! problem of every line is collected, each naming its line and field: a file with any problem
//! sends nothing.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::api::GenParams;
use crate::api::fields::{self, Field, Flag, IMAGE, Value};
use crate::api::params::ParamError;
use crate::types::InputSource;

/// The largest batch file read (bytes).
pub const MAX_FILE_BYTES: u64 = 32 * 1024 * 1024;
/// The most lines a batch may hold.
pub const MAX_LINES: usize = 100_000;
/// At most this many problems are listed (the count of the rest is said).
const MAX_LISTED: usize = 20;

/// The two formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchFormat {
    Jsonl,
    Csv,
}

impl BatchFormat {
    /// By the file's extension (`.csv`; `.jsonl`, `.ndjson`, `.json`), else by its first
    /// character (`{` is JSONL).
    pub fn of(path: &Path, text: &str) -> BatchFormat {
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        match ext.as_deref() {
            Some("csv") => BatchFormat::Csv,
            Some("jsonl" | "ndjson" | "json") => BatchFormat::Jsonl,
            _ if text.trim_start().starts_with('{') => BatchFormat::Jsonl,
            _ => BatchFormat::Csv,
        }
    }
}

/// One request of a batch, ready to run.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchLine {
    /// Its line in the file (1-based; for CSV, the line the record starts on).
    pub line_no: usize,
    /// Its content key: the same request (and the same count of equal requests before it) has the
    /// same key wherever it moves in the file, and wherever the file (with its images) moves.
    pub key: String,
    /// The key an earlier version gave it (its image's path and every field): marks written before
    /// the content key are still found by it.
    pub legacy_key: String,
    pub input: InputSource,
    pub params: GenParams,
}

impl BatchLine {
    /// Images this line asks for (what it is priced by).
    pub fn images(&self) -> usize {
        self.params.samples.max(1) as usize
    }
}

/// A problem of one line.
#[derive(Debug, Clone, PartialEq)]
pub struct LineError {
    pub line_no: usize,
    /// The field at fault, if one is.
    pub field: Option<String>,
    pub message: String,
}

impl std::fmt::Display for LineError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.field {
            Some(field) => write!(
                f,
                "line {}, field `{field}`: {}",
                self.line_no, self.message
            ),
            None => write!(f, "line {}: {}", self.line_no, self.message),
        }
    }
}

/// Why a batch file cannot run.
#[derive(Debug, thiserror::Error)]
pub enum BatchError {
    #[error("cannot read the batch file {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{} is not a batch file: {what}", path.display())]
    NotABatch { path: PathBuf, what: String },
    #[error("{} has {} problem{}, nothing was sent:\n  {}", path.display(), errors.len(), if errors.len() == 1 { "" } else { "s" }, listed(errors))]
    Lines {
        path: PathBuf,
        errors: Vec<LineError>,
    },
}

fn listed(errors: &[LineError]) -> String {
    let mut parts: Vec<String> = errors
        .iter()
        .take(MAX_LISTED)
        .map(|e| e.to_string())
        .collect();
    if errors.len() > MAX_LISTED {
        parts.push(format!("… and {} more", errors.len() - MAX_LISTED));
    }
    parts.join("\n  ")
}

/// Reads and checks the batch file at `path`.
pub fn read_batch(path: &Path) -> Result<Vec<BatchLine>, BatchError> {
    let read = |source| BatchError::Read {
        path: path.to_path_buf(),
        source,
    };
    let meta = std::fs::metadata(path).map_err(read)?;
    if !meta.is_file() {
        return Err(BatchError::NotABatch {
            path: path.to_path_buf(),
            what: "it is not a regular file".into(),
        });
    }
    if meta.len() > MAX_FILE_BYTES {
        return Err(BatchError::NotABatch {
            path: path.to_path_buf(),
            what: format!(
                "it is {} MB; a batch file is at most {} MB",
                meta.len() / 1_048_576,
                MAX_FILE_BYTES / 1_048_576
            ),
        });
    }
    let bytes = std::fs::read(path).map_err(read)?;
    let text = String::from_utf8(bytes).map_err(|e| BatchError::NotABatch {
        path: path.to_path_buf(),
        what: format!(
            "it is not UTF-8 text (byte {})",
            e.utf8_error().valid_up_to()
        ),
    })?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let base = path
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    let base = std::path::absolute(&base).unwrap_or(base);
    let format = BatchFormat::of(path, text);
    let lines = parse_batch(text, format, &base).map_err(|errors| BatchError::Lines {
        path: path.to_path_buf(),
        errors,
    })?;
    if lines.is_empty() {
        return Err(BatchError::NotABatch {
            path: path.to_path_buf(),
            what: "it holds no requests".into(),
        });
    }
    Ok(lines)
}

/// Parses batch text; `base` is the folder relative image paths start from.
pub fn parse_batch(
    text: &str,
    format: BatchFormat,
    base: &Path,
) -> Result<Vec<BatchLine>, Vec<LineError>> {
    // A line that cannot be read as a record is one problem; the others are still checked.
    let (records, mut errors) = match format {
        BatchFormat::Jsonl => jsonl_records(text),
        BatchFormat::Csv => csv_records(text),
    };
    let mut lines = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut images: HashMap<PathBuf, String> = HashMap::new();
    for (line_no, pairs) in records {
        if lines.len() + errors.len() >= MAX_LINES {
            errors.push(LineError {
                line_no,
                field: None,
                message: format!("a batch holds at most {MAX_LINES} requests; split the file"),
            });
            break;
        }
        match request_of(line_no, &pairs, base) {
            Ok((input, params)) => {
                let content = content_key(&image_identity(&input, &mut images), &params);
                let n = seen.entry(content.clone()).or_insert(0);
                *n += 1;
                let nth = |k: String| if *n == 1 { k } else { format!("{k}#{n}") };
                lines.push(BatchLine {
                    line_no,
                    key: nth(content),
                    legacy_key: nth(legacy_key(&input, &params)),
                    input,
                    params,
                });
            }
            Err(mut e) => errors.append(&mut e),
        }
    }
    if errors.is_empty() {
        Ok(lines)
    } else {
        errors.sort_by_key(|e| e.line_no);
        Err(errors)
    }
}

type Record = (usize, Vec<(String, String)>);

fn jsonl_records(text: &str) -> (Vec<Record>, Vec<LineError>) {
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line_no = i + 1;
        if line.trim().is_empty() {
            continue;
        }
        let err = |message: String| LineError {
            line_no,
            field: None,
            message,
        };
        let value: serde_json::Value = match serde_json::from_str(line) {
            Ok(v) => v,
            Err(e) => {
                errors.push(err(format!("not a JSON object ({e})")));
                continue;
            }
        };
        let serde_json::Value::Object(map) = value else {
            errors.push(err("not a JSON object of request fields".into()));
            continue;
        };
        let mut pairs = Vec::new();
        for (k, v) in map {
            let text = match v {
                serde_json::Value::Null => continue,
                serde_json::Value::String(s) => s,
                serde_json::Value::Bool(b) => b.to_string(),
                serde_json::Value::Number(n) => n.to_string(),
                _ => {
                    errors.push(LineError {
                        line_no,
                        field: Some(k.clone()),
                        message: "must be a text, a number or true/false".into(),
                    });
                    continue;
                }
            };
            pairs.push((k, text));
        }
        out.push((line_no, pairs));
    }
    (out, errors)
}

fn csv_records(text: &str) -> (Vec<Record>, Vec<LineError>) {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .trim(csv::Trim::Headers)
        .from_reader(text.as_bytes());
    let headers = match reader.headers() {
        Ok(h) => h.clone(),
        Err(e) => {
            let e = LineError {
                line_no: 1,
                field: None,
                message: format!("the header row cannot be read ({e})"),
            };
            return (Vec::new(), vec![e]);
        }
    };
    let mut errors = Vec::new();
    let mut out = Vec::new();
    for record in reader.records() {
        match record {
            Ok(r) => {
                let line_no = r.position().map_or(0, |p| p.line() as usize);
                if r.iter().all(|c| c.trim().is_empty()) {
                    continue;
                }
                let pairs = headers
                    .iter()
                    .zip(r.iter())
                    .filter(|(_, v)| !v.trim().is_empty())
                    .map(|(h, v)| (h.to_owned(), v.to_owned()))
                    .collect();
                out.push((line_no, pairs));
            }
            Err(e) => {
                let line_no = e.position().map_or(0, |p| p.line() as usize);
                let message = match e.kind() {
                    csv::ErrorKind::UnequalLengths {
                        expected_len, len, ..
                    } => format!(
                        "{len} values, but the header row names {expected_len} fields (a value with a comma needs \"quotes\")"
                    ),
                    _ => e.to_string(),
                };
                errors.push(LineError {
                    line_no,
                    field: None,
                    message,
                });
            }
        }
    }
    (out, errors)
}

/// The request of one line, or every problem it has.
fn request_of(
    line_no: usize,
    pairs: &[(String, String)],
    base: &Path,
) -> Result<(InputSource, GenParams), Vec<LineError>> {
    let mut errors = Vec::new();
    let mut params = GenParams::default();
    let mut input = None;
    let err = |field: &str, message: String| LineError {
        line_no,
        field: Some(field.to_owned()),
        message,
    };
    let mut given = Vec::new();
    for (name, value) in pairs {
        let name = name.trim();
        if given.contains(&name) {
            errors.push(err(name, "given twice".into()));
            continue;
        }
        given.push(name);
        if name == IMAGE {
            match image_of(value, base) {
                Ok(i) => input = Some(i),
                Err(m) => errors.push(err(name, m)),
            }
            continue;
        }
        let Some(field) = Field::from_wire(name) else {
            errors.push(err(
                name,
                format!("unknown field; the fields are: {}", field_names()),
            ));
            continue;
        };
        let value = if field == Field::Prompt {
            value.as_str()
        } else {
            value.trim()
        };
        // A field the table keeps from the user (no flag: `base64`) may be given at its default
        // only: fluxcn sets it.
        let kept = |v: Value| match field.info().flag {
            Flag::Without if v != field.default_value() => Err(ParamError::new(
                field.wire(),
                &v,
                format!(
                    "fluxcn sets {} itself (to {})",
                    field.wire(),
                    field.default_value()
                ),
            )),
            Flag::Without | Flag::Wire | Flag::Named(_) => Ok(v),
        };
        match field
            .parse(value)
            .and_then(kept)
            .and_then(|v| fields::set(&mut params, field, v))
        {
            Ok(()) => {}
            Err(e) => errors.push(err(
                name,
                format!("`{value}` is not allowed: {}", e.allowed),
            )),
        }
    }
    if input.is_none() && !given.contains(&IMAGE) {
        errors.push(err(
            IMAGE,
            "missing: every line needs its control image (a path or an http(s) URL)".into(),
        ));
    }
    // What the fields allow together, and a missing prompt (after the values that could be read).
    for p in params.problems() {
        if !errors.iter().any(|e| e.field.as_deref() == Some(p.field)) {
            let message = if given.contains(&p.field) {
                format!("`{}` is not allowed: {}", p.value, p.allowed)
            } else {
                format!("missing ({})", p.allowed)
            };
            errors.push(err(p.field, message));
        }
    }
    match (errors.is_empty(), input) {
        (true, Some(input)) => Ok((input, params)),
        _ => Err(errors),
    }
}

fn field_names() -> String {
    std::iter::once(IMAGE)
        .chain(Field::ALL.iter().map(|f| f.wire()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A line's image: an http(s) URL, or a file (relative to `base`) that exists.
fn image_of(value: &str, base: &Path) -> Result<InputSource, String> {
    let v = value.trim();
    if v.is_empty() {
        return Err("empty: give a path or an http(s) URL".into());
    }
    if v.starts_with("https://") || v.starts_with("http://") {
        return url::Url::parse(v)
            .map(|_| InputSource::Url(v.to_owned()))
            .map_err(|e| format!("`{v}` is not a URL ({e})"));
    }
    if let Some((scheme, _)) = v.split_once("://") {
        return Err(format!(
            "`{scheme}://` addresses cannot be used: give a path or an http(s) URL"
        ));
    }
    let p = base.join(v);
    match std::fs::metadata(&p) {
        Ok(m) if m.is_file() => Ok(InputSource::File(p)),
        Ok(_) => Err(format!("{} is not a regular file", p.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(format!(
            "no image at {}: there is no such file",
            p.display()
        )),
        Err(e) => Err(format!("the image {} cannot be read ({e})", p.display())),
    }
}

/// What a line's image is, for its key: the SHA-256 of a file's bytes (the same picture wherever
/// the file and its batch move), or a URL as written. Each file is read once per batch.
fn image_identity(input: &InputSource, seen: &mut HashMap<PathBuf, String>) -> String {
    match input {
        InputSource::File(p) => seen
            .entry(p.clone())
            .or_insert_with(|| {
                let hashed = std::fs::File::open(p).and_then(|mut f| {
                    use std::io::Read as _;
                    let mut h = Sha256::new();
                    let mut buf = vec![0u8; 1 << 16];
                    loop {
                        match f.read(&mut buf)? {
                            0 => break,
                            n => h.update(&buf[..n]),
                        }
                    }
                    Ok(hex(&h.finalize()))
                });
                // Unreadable now (it was a file a moment ago): its path stands in.
                hashed.unwrap_or_else(|_| input.describe())
            })
            .clone(),
        other => other.describe(),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The content key of a request (`c2-…`): its image's identity and the fields whose values differ
/// from the contract's defaults, by wire name. A field added in a later version, at its default,
/// leaves every key as it was; so does moving or renaming the batch file.
fn content_key(image: &str, params: &GenParams) -> String {
    let defaults = fields::values(&GenParams::default());
    let mut set: Vec<(&'static str, String)> = fields::values(params)
        .into_iter()
        .zip(defaults)
        .filter(|((_, v), (_, d))| v != d)
        .map(|((f, v), _)| (f.wire(), v.to_string()))
        .collect();
    set.sort();
    let mut h = Sha256::new();
    h.update(b"fluxcn-batch-line/2\0");
    h.update(image.as_bytes());
    for (wire, value) in set {
        h.update([0]);
        h.update(wire.as_bytes());
        h.update([b'=']);
        h.update(value.as_bytes());
    }
    format!("c2-{}", hex(&h.finalize()[..16]))
}

/// The fields the legacy key hashed, frozen as they were when content keys came: a field added
/// later must not change the key that finds an old mark.
const LEGACY_FIELDS: [Field; 16] = [
    Field::Prompt,
    Field::Sampler,
    Field::Scheduler,
    Field::Seed,
    Field::Base64,
    Field::CnStop,
    Field::CnStrength,
    Field::CnType,
    Field::CustomHeight,
    Field::CustomWidth,
    Field::Guidance,
    Field::ImageFormat,
    Field::Quality,
    Field::Samples,
    Field::Steps,
    Field::UseInputImgDimension,
];

/// The key of a request before content keys: SHA-256 of its image's path and every field it had
/// then, in the table's order of then (kept to find the marks written then).
pub(super) fn legacy_key(input: &InputSource, params: &GenParams) -> String {
    let mut h = Sha256::new();
    h.update(input.describe().as_bytes());
    for field in LEGACY_FIELDS {
        let value = fields::get(params, field);
        h.update([0]);
        h.update(field.wire().as_bytes());
        h.update([b'=']);
        h.update(value.to_string().as_bytes());
    }
    h.finalize()
        .iter()
        .take(16)
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests;
