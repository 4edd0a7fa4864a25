//! The gallery: every paid result on disk, never lost. Each `200` is written before it is shown,
//! atomically, with its parameters inside the file where the format allows (PNG text chunks, JPEG
//! comments; WebP takes none) and always in a JSON sidecar. The API key never reaches any of it.
//!
//! Layout of a gallery folder: `YYYYMMDD-HHMMSS-<cn_type>-<seed>[-<n>].<ext>` images (UTC), a
//! `<same stem>.json` sidecar each, `.catalog.sqlite` (the catalog, see [`catalog`]), `.thumbs/`
//! and `.trash/`.

mod a1111;
mod atomic;
pub mod catalog;
mod error;
mod exif;
pub mod meta;
mod repair;
mod store;
mod thumbs;

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::api::{Accounting, GenParams, ImageFormat, ReceivedImage};
use crate::types::{ApiVersion, GroupTag, JobId};

pub use a1111::{format_a1111, parse_a1111};
pub use atomic::{TMP_GRACE, write_fallback};
pub use error::GalleryError;
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
