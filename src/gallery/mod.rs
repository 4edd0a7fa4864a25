//! The gallery: every paid result on disk, never lost. Each `200` is written before it is shown,
//! atomically, with its parameters inside the file where A1111 puts them (PNG text chunks, the EXIF
//! UserComment of JPEG and WebP; see [`meta`]) and always in a JSON sidecar. Settings are read back
//! from any image, ours or another tool's ([`foreign`]). The API key never reaches any of it.
//!
//! Layout of a gallery folder: `YYYYMMDD-HHMMSS-<cn_type>-<seed>[-<n>].<ext>` images (UTC), a
//! `<same stem>.json` sidecar each, `.catalog.sqlite` (the catalog, see [`catalog`]), `.thumbs/`
//! and `.trash/`.

mod a1111;
mod atomic;
mod batch_journal;
pub mod catalog;
mod error;
mod exif;
pub mod foreign;
mod inputs;
pub mod meta;
pub mod owner;
mod repair;
mod store;
mod thumbs;
mod trash;
mod uploads;
pub use trash::Trashed;

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::api::{Accounting, GenParams, ImageFormat, ReceivedImage};
use crate::types::{ApiVersion, GroupTag, JobId};

pub use a1111::{format_a1111, parse_a1111};
pub use atomic::{TMP_GRACE, sync_dir, write_atomic, write_fallback};
pub use error::GalleryError;
pub use foreign::{ImportError, Imported, Tool, read_any};
pub use meta::read_settings;
pub use store::{Store, THUMBS_DIR, TRASH_DIR};

/// The sidecar layout's version.
pub const SIDECAR_VERSION: u32 = 1;

/// The data folder: `$FLUXCN_DATA_DIR` if set, else the platform's data folder for `fluxcn`.
pub fn default_data_dir() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("FLUXCN_DATA_DIR").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(d));
    }
    directories::ProjectDirs::from("", "", "fluxcn").map(|p| p.data_dir().to_path_buf())
}

/// A result to save, as it came back from the service.
pub struct NewResult<'a> {
    /// The bytes exactly as received, with their format and size.
    pub image: &'a ReceivedImage,
    /// What was sent: the prompt, every knob, the seed sent.
    pub params: &'a GenParams,
    /// The input image's description (a path or URL; never base64 data).
    pub input: &'a str,
    pub api: ApiVersion,
    /// Cost, remaining credits, seed used, request id, timings.
    pub accounting: &'a Accounting,
    pub group: Option<&'a GroupTag>,
    /// Which image of a multi-image answer.
    pub index: usize,
    /// The job that paid for it: a resume after a crash finds the result by it instead of
    /// reporting the job as lost (or fetching it again).
    pub job_id: Option<JobId>,
    /// The control image exactly as it was sent (after orientation, downscaling and
    /// re-encoding), kept once per distinct content beside the results; `None` for a URL input
    /// (the URL itself is kept in `input`).
    pub input_image: Option<&'a [u8]>,
    /// The `{a|b}` template the prompt was expanded from, if it was.
    pub prompt_template: Option<&'a str>,
    /// The content key of the batch line this result answers, if any.
    pub batch_line: Option<&'a str>,
    /// What was done to the input before it was sent (`None`: nothing).
    pub framing: Option<crate::api::framing::Framing>,
}

/// The JSON file next to every image: everything needed to show, reproduce and account for it.
/// There is deliberately no field for the API key.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Sidecar {
    pub version: u32,
    /// `fluxcn 0.1.0`.
    pub app: String,
    /// RFC 3339, UTC.
    pub created: String,
    pub created_unix_ms: u64,
    pub params: GenParams,
    /// The seed the server used (`x-seed-value`), else the seed sent.
    pub seed_used: i64,
    pub input: String,
    pub api: ApiVersion,
    pub accounting: Accounting,
    pub format: ImageFormat,
    pub width: u32,
    pub height: u32,
    /// The size of the image as received.
    pub bytes: u64,
    pub group: Option<GroupTag>,
    pub favourite: bool,
    /// The artist's rating, 0 (none) to 5; absent from older sidecars.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub rating: u8,
    /// `flux-controlnet`.
    pub model: String,
    /// The job that made it (see [`NewResult::job_id`]); absent from older sidecars.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_id: Option<JobId>,
    /// The control image as it was sent, kept in the gallery: a path relative to the folder
    /// holding this sidecar (`.inputs/<sha256>.jpg`), or absolute.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_file: Option<String>,
    /// The SHA-256 of the kept input's bytes (hex), its content address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_hash: Option<String>,
    /// The `{a|b}` template the prompt was expanded from (variations); the prompt sent is in
    /// `params.prompt`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_template: Option<String>,
    /// The content key of the batch line this result answers: a re-run of the batch finds it here
    /// even when the catalog's batch table was lost.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch_line: Option<String>,
    /// The picture this one was made from (refined, or used as the input): its path, absolute,
    /// when the input was one of our pictures. The gallery links the two ways.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    /// What was done to the input before it was sent (turn, flip, crop, pad); the kept input is
    /// the framed picture as sent. Absent when nothing was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub framing: Option<crate::api::framing::Framing>,
}

/// The picture a result made from `input` descends from: `input` itself, as an absolute path,
/// when it is a picture with our settings beside it (a gallery picture used as input or
/// refined); `None` for any other input (a photo, a URL, a pasted image).
pub fn parent_of(input: &str) -> Option<String> {
    let p = std::path::Path::new(input);
    if !p.is_file() {
        return None;
    }
    meta::read_sidecar(&meta::sidecar_of(p)).ok()?;
    // Absolute without resolving links (no `\\?\` form on Windows): the gallery compares it
    // with its own pictures' paths made the same way.
    let abs = std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    Some(abs.display().to_string())
}

/// The kept input of a saved result, from the sidecar beside `image` (`None` when there is no
/// sidecar, it names no kept input, or that file is gone).
pub fn kept_input_of(image: &std::path::Path) -> Option<PathBuf> {
    let sidecar = meta::sidecar_of(image);
    let meta = meta::read_sidecar(&sidecar).ok()?;
    let entry = Entry {
        id: String::new(),
        image_path: image.to_path_buf(),
        sidecar_path: sidecar,
        meta,
    };
    entry.input_path().filter(|p| p.is_file())
}

impl Entry {
    /// The kept input image of this result, as a path (`None` when none was kept, e.g. a URL
    /// input or a result older than kept inputs).
    pub fn input_path(&self) -> Option<PathBuf> {
        let f = self.meta.input_file.as_deref()?;
        let p = std::path::Path::new(f);
        if p.is_absolute() {
            return Some(p.to_path_buf());
        }
        // Written with `/` on every platform; a `\` (a sidecar edited on Windows) separates too, so
        // the same sidecar reads back on Windows, macOS and Linux.
        let rel: PathBuf = portable_rel(f)
            .split('/')
            .filter(|c| !c.is_empty())
            .collect();
        Some(self.sidecar_path.parent()?.join(rel))
    }
}

/// A relative path of a sidecar field in its portable form: `/` between its parts, whatever
/// platform wrote it.
pub(crate) fn portable_rel(f: &str) -> std::borrow::Cow<'_, str> {
    if f.contains('\\') {
        std::borrow::Cow::Owned(f.replace('\\', "/"))
    } else {
        std::borrow::Cow::Borrowed(f)
    }
}

fn is_zero(n: &u8) -> bool {
    *n == 0
}

/// One picture in the gallery; `id` is the file stem.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    pub id: String,
    pub image_path: PathBuf,
    pub sidecar_path: PathBuf,
    pub meta: Sidecar,
}

impl Store {
    /// The thumbnail of `entry`, cached in `<dir>/.thumbs/`; call it off the UI thread.
    pub fn thumbnail(
        &self,
        entry: &Entry,
        max_side: u32,
    ) -> Result<image::RgbaImage, GalleryError> {
        thumbs::thumbnail(self.dir(), entry, max_side)
    }
}
