//! The bottom vocabulary: small shared types that several layers name (the API layer, the gallery,
//! the key store, the job runtime, the UI and the CLI). This module depends on nothing of ours, so
//! any layer may import it without reaching upwards.

use std::path::PathBuf;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// A job's number, unique within one process (and in the journal).
pub type JobId = u64;

/// Which API a job uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ApiVersion {
    /// Synchronous: one request holds the connection for the whole generation.
    #[default]
    V1,
    /// Asynchronous: submit, poll, fetch; resumable after a crash.
    V2,
}

/// `v1` or `v2`, as in the sidecar.
impl std::fmt::Display for ApiVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ApiVersion::V1 => "v1",
            ApiVersion::V2 => "v2",
        })
    }
}

/// Where the input image comes from.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub enum InputSource {
    /// A local file, read and prepared in the background.
    File(PathBuf),
    /// An `http(s)` URL, passed through to the service.
    Url(String),
    /// Image bytes already in memory (pasted from the clipboard): encoded PNG/JPEG/WebP.
    #[serde(skip)]
    Bytes { name: String, data: Arc<Vec<u8>> },
}

impl std::fmt::Debug for InputSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            InputSource::File(p) => write!(f, "File({})", p.display()),
            InputSource::Url(u) => write!(f, "Url({u})"),
            InputSource::Bytes { name, data } => write!(f, "Bytes({name}, {} bytes)", data.len()),
        }
    }
}

impl InputSource {
    /// A short description for the queue, the sidecar and the gallery.
    pub fn describe(&self) -> String {
        match self {
            InputSource::File(p) => p.display().to_string(),
            InputSource::Url(u) => u.clone(),
            InputSource::Bytes { name, .. } => name.clone(),
        }
    }
}

/// Where a job sits in a comparison or an X/Y grid.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupTag {
    /// The comparison or grid this job belongs to.
    pub group: u64,
    pub row: usize,
    pub col: usize,
    /// The cell's label, e.g. `cn_type: depth`.
    pub label: String,
}

/// Where the API key comes from, as the settings panel shows it (never the key itself).
#[derive(Debug, Clone, PartialEq)]
pub enum KeyState {
    /// `SEGMIND_API_KEY` is set; it overrides the keyring.
    FromEnv {
        masked: String,
    },
    /// Stored in the OS keyring.
    Stored {
        masked: String,
    },
    Missing,
    /// The keyring cannot be used here (e.g. no secret service); the message says what to do.
    Unavailable(String),
}

/// A decoded input image, ready for a texture.
#[derive(Clone)]
pub struct InputPreview {
    pub source: InputSource,
    /// The image as it will be sent (EXIF orientation applied), downscaled for the screen.
    pub image: Arc<image::RgbaImage>,
    /// The size of the original image (after orientation).
    pub width: u32,
    pub height: u32,
    /// File size in bytes (0 for a URL).
    pub bytes: u64,
}

impl std::fmt::Debug for InputPreview {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "InputPreview({:?}, {}x{})",
            self.source, self.width, self.height
        )
    }
}
