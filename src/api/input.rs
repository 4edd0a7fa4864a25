//! Input images: turns what the user picked (a file, pasted bytes, a URL) into the request's `image`
//! field. (Stub with the agreed API; the full implementation lands from the `input` branch.)

use std::path::Path;

use crate::jobs::{InputPreview, InputSource};

/// How local images are prepared.
#[derive(Debug, Clone, PartialEq)]
pub struct PrepareOptions {
    pub max_side: u32,
    pub max_file_bytes: u64,
    pub max_pixels: u64,
    pub max_send_bytes: usize,
}

impl Default for PrepareOptions {
    fn default() -> Self {
        Self {
            max_side: 2048,
            max_file_bytes: 200 * 1024 * 1024,
            max_pixels: 100_000_000,
            max_send_bytes: 3 * 1024 * 1024,
        }
    }
}

/// The `image` field, ready to send, and what was done to get it.
#[derive(Debug, Clone, PartialEq)]
pub struct PreparedInput {
    pub payload: String,
    pub width: u32,
    pub height: u32,
    pub original_width: u32,
    pub original_height: u32,
    pub original_bytes: u64,
    pub reencoded: bool,
    pub notes: Vec<String>,
}

/// Why an input cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error("{0}")]
    Other(String),
}

pub fn prepare(source: &InputSource, opts: &PrepareOptions) -> Result<PreparedInput, InputError> {
    match source {
        InputSource::File(p) => prepare_file(p, opts),
        InputSource::Url(u) => prepare_url(u),
        InputSource::Bytes { name, data } => prepare_bytes(name, data, opts),
    }
}

pub fn prepare_file(path: &Path, opts: &PrepareOptions) -> Result<PreparedInput, InputError> {
    let bytes =
        std::fs::read(path).map_err(|e| InputError::Other(format!("{}: {e}", path.display())))?;
    prepare_bytes(&path.display().to_string(), &bytes, opts)
}

pub fn prepare_bytes(
    _name: &str,
    bytes: &[u8],
    _opts: &PrepareOptions,
) -> Result<PreparedInput, InputError> {
    use base64::Engine as _;
    Ok(PreparedInput {
        payload: base64::engine::general_purpose::STANDARD.encode(bytes),
        width: 0,
        height: 0,
        original_width: 0,
        original_height: 0,
        original_bytes: bytes.len() as u64,
        reencoded: false,
        notes: vec![],
    })
}

pub fn prepare_url(url: &str) -> Result<PreparedInput, InputError> {
    Ok(PreparedInput {
        payload: url.to_owned(),
        width: 0,
        height: 0,
        original_width: 0,
        original_height: 0,
        original_bytes: 0,
        reencoded: false,
        notes: vec![],
    })
}

pub fn preview(source: &InputSource, _max_side: u32) -> Result<InputPreview, InputError> {
    Err(InputError::Other(format!(
        "preview of {} is not implemented yet",
        source.describe()
    )))
}
