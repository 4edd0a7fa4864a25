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

/// `t` as RFC 3339 in UTC to the second: `2026-11-25T06:58:00Z` (file names, sidecars, headers).
pub fn rfc3339_seconds(t: std::time::SystemTime) -> String {
    chrono::DateTime::<chrono::Utc>::from(t).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// `t` as RFC 3339 in UTC to the millisecond: `2026-11-25T06:58:00.123Z`.
pub fn rfc3339_millis(t: std::time::SystemTime) -> String {
    chrono::DateTime::<chrono::Utc>::from(t).to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// A wait in words a person reads at a glance: `45 s`, `1 min 16 s`, `2 h 5 min`, `1 day`.
pub fn wait_words(d: std::time::Duration) -> String {
    let s = d.as_secs();
    let (days, hours, mins, secs) = (s / 86_400, s / 3_600 % 24, s / 60 % 60, s % 60);
    let part = |n: u64, unit: &str| (n > 0).then(|| format!("{n} {unit}"));
    let parts: Vec<String> = if days > 0 {
        let unit = if days == 1 { "day" } else { "days" };
        [part(days, unit), part(hours, "h")]
            .into_iter()
            .flatten()
            .collect()
    } else if hours > 0 {
        [part(hours, "h"), part(mins, "min")]
            .into_iter()
            .flatten()
            .collect()
    } else if mins > 0 {
        [part(mins, "min"), part(secs, "s")]
            .into_iter()
            .flatten()
            .collect()
    } else {
        vec![format!("{secs} s")]
    };
    parts.join(" ")
}

#[cfg(test)]
mod time_tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn times_and_waits_in_words() {
        let t = UNIX_EPOCH + Duration::from_millis(1_795_000_000_123);
        assert_eq!(rfc3339_seconds(t), "2026-11-18T11:06:40Z");
        assert_eq!(rfc3339_millis(t), "2026-11-18T11:06:40.123Z");
        assert_eq!(wait_words(Duration::from_secs(45)), "45 s");
        assert_eq!(wait_words(Duration::from_secs(76)), "1 min 16 s");
        assert_eq!(wait_words(Duration::from_secs(120)), "2 min");
        assert_eq!(wait_words(Duration::from_secs(7_500)), "2 h 5 min");
        assert_eq!(wait_words(Duration::from_secs(86_400)), "1 day");
        assert_eq!(
            wait_words(Duration::from_secs(3 * 86_400 + 3_600)),
            "3 days 1 h"
        );
        assert_eq!(wait_words(Duration::ZERO), "0 s");
    }
}
