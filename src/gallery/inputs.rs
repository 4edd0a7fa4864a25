//! The control images kept with their results: each stored once under its content address
//! (`<gallery>/.inputs/<sha256>.<ext>`), named by every sidecar that uses it, moved to the trash
//! with the last result that used it and brought back by an undo.

use super::atomic::{own_subdir, write_atomic};
use super::catalog::valid_id;
use super::error::io;
use super::store::{INPUTS_DIR, State, Store, TRASH_DIR};
use super::{GalleryError, Sidecar};

impl Store {
    /// Keeps an input image in `.inputs/` under its content address (once per distinct content);
    /// returns its hash and its path relative to the gallery folder.
    pub(super) fn keep_input(&self, bytes: &[u8]) -> Result<(String, String), GalleryError> {
        use sha2::Digest;
        let hash: String = sha2::Sha256::digest(bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let ext = match image::guess_format(bytes) {
            Ok(image::ImageFormat::Png) => "png",
            Ok(image::ImageFormat::Jpeg) => "jpg",
            Ok(image::ImageFormat::WebP) => "webp",
            Ok(image::ImageFormat::Gif) => "gif",
            Ok(image::ImageFormat::Bmp) => "bmp",
            Ok(image::ImageFormat::Tiff) => "tiff",
            _ => "bin",
        };
        let dir = own_subdir(self.dir(), INPUTS_DIR)?;
        let name = format!("{hash}.{ext}");
        let path = dir.join(&name);
        // The same content is there already (its name is its hash): nothing to write. A file of
        // another size under that name is damaged, and is replaced.
        let there = std::fs::symlink_metadata(&path)
            .is_ok_and(|m| m.is_file() && m.len() == bytes.len() as u64);
        if !there {
            let trashed = self.dir().join(TRASH_DIR).join(INPUTS_DIR).join(&name);
            if std::fs::rename(&trashed, &path).is_err() {
                write_atomic(&path, bytes)?;
            }
        }
        Ok((hash, format!("{INPUTS_DIR}/{name}")))
    }

    /// Moves a kept input that no listed result uses any more into the trash (where
    /// [`Store::empty_trash`] deletes it and [`Store::undo_delete`] finds it again).
    pub(super) fn retire_input(&self, st: &State, meta: &Sidecar) {
        let (Some(hash), Some(file)) = (&meta.input_hash, &meta.input_file) else {
            return;
        };
        if self.read(st, 1, |c| c.input_users(hash)) > 0 {
            return;
        }
        let file = super::portable_rel(file);
        let Some(name) = file
            .strip_prefix(&format!("{INPUTS_DIR}/"))
            .filter(|n| valid_id(n))
        else {
            return;
        };
        let from = self.dir().join(INPUTS_DIR).join(name);
        let moved = own_subdir(self.dir(), TRASH_DIR)
            .and_then(|t| own_subdir(&t, INPUTS_DIR))
            .and_then(|to| {
                std::fs::rename(&from, to.join(name)).map_err(io("move to the trash", &from))
            });
        if let Err(e) = moved {
            tracing::warn!(error = %e, "an input no result uses could not be moved to the trash");
        }
    }

    /// Brings a result's kept input back from the trash if it went there with the result.
    pub(super) fn restore_input(&self, meta: &Sidecar) {
        let name = meta.input_file.as_deref().map(super::portable_rel);
        let Some(name) = name
            .as_deref()
            .and_then(|f| f.strip_prefix(&format!("{INPUTS_DIR}/")))
            .filter(|n| valid_id(n))
        else {
            return;
        };
        let to = self.dir().join(INPUTS_DIR).join(name);
        let from = self.dir().join(TRASH_DIR).join(INPUTS_DIR).join(name);
        if !to.exists() && from.is_file() {
            let back = own_subdir(self.dir(), INPUTS_DIR)
                .and_then(|_| std::fs::rename(&from, &to).map_err(io("restore", &to)));
            if let Err(e) = back {
                tracing::warn!(error = %e, "a result's input could not be restored from the trash");
            }
        }
    }
}
