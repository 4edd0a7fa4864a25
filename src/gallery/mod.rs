//! The gallery: every paid result on disk, with its parameters. (Minimal stub with the agreed API;
//! the full store lands from the `gallery` branch.)

pub mod export;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::api::{Accounting, GenParams, ImageFormat, ReceivedImage};
use crate::jobs::{ApiVersion, GroupTag};

/// The data folder: `$FLUXCN_DATA_DIR` if set, else the platform's data folder for `fluxcn`.
pub fn default_data_dir() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("FLUXCN_DATA_DIR").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(d));
    }
    directories::ProjectDirs::from("", "", "fluxcn").map(|p| p.data_dir().to_path_buf())
}

#[derive(Debug, thiserror::Error)]
pub enum GalleryError {
    #[error("could not write {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

pub struct NewResult<'a> {
    pub image: &'a ReceivedImage,
    pub params: &'a GenParams,
    pub input: &'a str,
    pub api: ApiVersion,
    pub accounting: &'a Accounting,
    pub group: Option<&'a GroupTag>,
    pub index: usize,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Sidecar {
    pub version: u32,
    pub app: String,
    pub created: String,
    pub created_unix_ms: u64,
    pub params: GenParams,
    pub seed_used: i64,
    pub input: String,
    pub api: ApiVersion,
    pub accounting: Accounting,
    pub format: ImageFormat,
    pub width: u32,
    pub height: u32,
    pub bytes: u64,
    pub group: Option<GroupTag>,
    pub favourite: bool,
    pub model: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    pub id: String,
    pub image_path: PathBuf,
    pub sidecar_path: PathBuf,
    pub meta: Sidecar,
}

#[derive(Clone)]
pub struct Store {
    dir: Arc<PathBuf>,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> GalleryError + '_ {
    move |source| GalleryError::Io {
        path: path.to_path_buf(),
        source,
    }
}

impl Store {
    pub fn open(dir: impl Into<PathBuf>) -> Result<Store, GalleryError> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir).map_err(io(&dir))?;
        Ok(Store { dir: Arc::new(dir) })
    }
    pub fn dir(&self) -> &Path {
        &self.dir
    }
    pub fn save(&self, new: &NewResult<'_>) -> Result<Entry, GalleryError> {
        let now = std::time::SystemTime::now();
        let ms = now
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        let seed = new.accounting.seed.unwrap_or(new.params.seed);
        let id = format!("{ms}-{}-{seed}-{}", new.params.cn_type, new.index);
        let image_path = self
            .dir
            .join(format!("{id}.{}", new.image.format.extension()));
        let sidecar_path = self.dir.join(format!("{id}.json"));
        std::fs::write(&image_path, &new.image.bytes).map_err(io(&image_path))?;
        let meta = Sidecar {
            version: 1,
            app: format!("fluxcn {}", env!("CARGO_PKG_VERSION")),
            created: humantime::format_rfc3339_millis(now).to_string(),
            created_unix_ms: ms,
            params: new.params.clone(),
            seed_used: seed,
            input: new.input.to_owned(),
            api: new.api,
            accounting: new.accounting.clone(),
            format: new.image.format,
            width: new.image.width,
            height: new.image.height,
            bytes: new.image.bytes.len() as u64,
            group: new.group.cloned(),
            favourite: false,
            model: crate::api::MODEL.to_owned(),
        };
        let json = serde_json::to_vec_pretty(&meta).unwrap_or_default();
        std::fs::write(&sidecar_path, json).map_err(io(&sidecar_path))?;
        Ok(Entry {
            id,
            image_path,
            sidecar_path,
            meta,
        })
    }
    pub fn list(&self) -> Vec<Entry> {
        Vec::new()
    }
    pub fn get(&self, _id: &str) -> Option<Entry> {
        None
    }
    pub fn set_favourite(&self, _id: &str, _fav: bool) -> Result<(), GalleryError> {
        Ok(())
    }
    pub fn delete(&self, _id: &str) -> Result<(), GalleryError> {
        Ok(())
    }
    pub fn undo_delete(&self, id: &str) -> Result<Entry, GalleryError> {
        Err(GalleryError::Io {
            path: id.into(),
            source: std::io::Error::other("not implemented"),
        })
    }
    pub fn thumbnail(
        &self,
        entry: &Entry,
        _max_side: u32,
    ) -> Result<image::RgbaImage, GalleryError> {
        Err(GalleryError::Io {
            path: entry.image_path.clone(),
            source: std::io::Error::other("not implemented"),
        })
    }
}

pub fn read_settings(path: &Path) -> Result<GenParams, GalleryError> {
    Err(GalleryError::Io {
        path: path.to_path_buf(),
        source: std::io::Error::other("not implemented"),
    })
}
