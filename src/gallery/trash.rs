//! The gallery's trash: delete moves a picture (image and sidecar, and its kept input when no
//! other result uses it) into `<gallery>/.trash/`, undo brings it back, and emptying the trash
//! deletes for good. Nothing outside the gallery's own folders is ever moved or deleted: a planted
//! link where the trash should be is refused.

use std::collections::HashSet;

use super::atomic::{own_subdir, sync_dir};
use super::catalog::valid_id;
use super::error::io;
use super::store::{IMAGE_EXTS, INPUTS_DIR, Store, THUMBS_DIR, TRASH_DIR, image_stem};
use super::{Entry, GalleryError};

/// A picture in the trash, as the Trash view lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct Trashed {
    pub id: String,
    /// The image file's name in the trash.
    pub file: String,
    /// Its prompt and rating, from its sidecar (empty and 0 when that is missing or unreadable).
    pub prompt: String,
    pub rating: u8,
}

impl Store {
    /// The pictures in the trash, the newest picture first. A file that is not one of ours is
    /// left out.
    pub fn trashed(&self) -> Result<Vec<Trashed>, GalleryError> {
        let _st = self.lock();
        let trash = self.dir().join(TRASH_DIR);
        if std::fs::symlink_metadata(&trash).is_ok_and(|m| !m.is_dir()) {
            own_subdir(self.dir(), TRASH_DIR)?;
        }
        let entries = match std::fs::read_dir(&trash) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io("list", &trash)(e)),
        };
        let mut found: Vec<(u64, Trashed)> = Vec::new();
        for e in entries.flatten() {
            let file = e.file_name().to_string_lossy().into_owned();
            let Some(id) = image_stem(&file).filter(|id| valid_id(id)) else {
                continue;
            };
            if !e.file_type().is_ok_and(|t| t.is_file()) {
                continue;
            }
            let sidecar = super::meta::read_sidecar(&trash.join(format!("{id}.json"))).ok();
            let when = sidecar.as_ref().map_or(0, |s| s.created_unix_ms);
            found.push((
                when,
                Trashed {
                    id: id.to_owned(),
                    file: file.clone(),
                    prompt: sidecar
                        .as_ref()
                        .map(|s| s.params.prompt.clone())
                        .unwrap_or_default(),
                    rating: sidecar.as_ref().map_or(0, |s| s.rating),
                },
            ));
        }
        found.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.id.cmp(&b.1.id)));
        Ok(found.into_iter().map(|(_, t)| t).collect())
    }

    /// Moves the image and its sidecar into `<dir>/.trash/` (see [`Store::undo_delete`]).
    pub fn delete(&self, id: &str) -> Result<(), GalleryError> {
        if !valid_id(id) {
            return Err(self.not_found(id));
        }
        let mut st = self.lock();
        let Some((_, file, meta)) = self.read(&st, None, |c| c.get(id)) else {
            return Err(self.not_found(id));
        };
        let dir = self.dir();
        let trash = own_subdir(dir, TRASH_DIR)?;
        let image = dir.join(&file);
        let sidecar = dir.join(format!("{id}.json"));
        if image.exists() {
            std::fs::rename(&image, trash.join(&file)).map_err(io("move to the trash", &image))?;
        }
        if sidecar.exists()
            && let Err(err) = std::fs::rename(&sidecar, trash.join(format!("{id}.json")))
        {
            // Put the image back so that nothing is half deleted.
            let _ = std::fs::rename(trash.join(&file), &image);
            return Err(io("move to the trash", &sidecar)(err));
        }
        sync_dir(dir);
        sync_dir(&trash);
        self.write(&mut st, |c| c.remove_all([id]));
        self.retire_input(&st, &meta);
        Ok(())
    }

    /// Restores a deleted picture from the trash. Restoring one that is already back returns it.
    pub fn undo_delete(&self, id: &str) -> Result<Entry, GalleryError> {
        let dir = self.dir();
        if !valid_id(id) {
            return Err(GalleryError::NotInTrash {
                id: id.to_owned(),
                dir: dir.join(TRASH_DIR),
            });
        }
        let mut st = self.lock();
        if let Some(s) = self.read(&st, None, |c| c.get(id)) {
            return Ok(self.entry(s));
        }
        let trash = own_subdir(dir, TRASH_DIR)?;
        let found = IMAGE_EXTS
            .iter()
            .map(|e| format!("{id}.{e}"))
            .find(|f| trash.join(f).is_file());
        let Some(file) = found else {
            return Err(GalleryError::NotInTrash {
                id: id.to_owned(),
                dir: trash,
            });
        };
        let image = dir.join(&file);
        let sidecar = dir.join(format!("{id}.json"));
        for target in [&image, &sidecar] {
            if target.exists() {
                return Err(GalleryError::RestoreClash {
                    id: id.to_owned(),
                    path: target.clone(),
                });
            }
        }
        std::fs::rename(trash.join(&file), &image).map_err(io("restore", &image))?;
        let trashed_sidecar = trash.join(format!("{id}.json"));
        if trashed_sidecar.exists() {
            std::fs::rename(&trashed_sidecar, &sidecar).map_err(io("restore", &sidecar))?;
        }
        sync_dir(dir);
        sync_dir(&trash);
        let Some(meta) = self.adopt(id, &file) else {
            return Err(GalleryError::NotAnImage { path: image });
        };
        self.restore_input(&meta);
        self.write(&mut st, |c| c.put(id, &file, &meta));
        Ok(self.entry((id.to_owned(), file, meta)))
    }

    /// Deletes for good everything in `.trash/`, and the cached thumbnails of those pictures;
    /// returns how many pictures went. Nothing outside the trash and the thumbnail cache is touched.
    pub fn empty_trash(&self) -> Result<usize, GalleryError> {
        let _st = self.lock();
        let trash = self.dir().join(TRASH_DIR);
        if std::fs::symlink_metadata(&trash).is_ok_and(|m| !m.is_dir()) {
            // A planted link: never delete what it points at.
            own_subdir(self.dir(), TRASH_DIR)?;
        }
        let entries = match std::fs::read_dir(&trash) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(io("list", &trash)(e)),
        };
        let mut stems = HashSet::new();
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let path = e.path();
            if !e.file_type().is_ok_and(|t| t.is_file()) {
                continue;
            }
            std::fs::remove_file(&path).map_err(io("delete", &path))?;
            if let Some(stem) = image_stem(&name) {
                stems.insert(stem.to_owned());
            }
        }
        let thumbs = self.dir().join(THUMBS_DIR);
        if let Ok(rd) = std::fs::read_dir(&thumbs) {
            for e in rd.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                let of_trashed = name
                    .strip_suffix(".jpg")
                    .and_then(|n| n.rsplit_once('-'))
                    .is_some_and(|(stem, side)| {
                        stems.contains(stem) && side.chars().all(|c| c.is_ascii_digit())
                    });
                if of_trashed {
                    let _ = std::fs::remove_file(e.path());
                }
            }
        }
        // The inputs that went to the trash with the last results that used them. A planted link
        // there is never followed: only plain files directly inside are removed.
        let inputs = trash.join(INPUTS_DIR);
        if std::fs::symlink_metadata(&inputs).is_ok_and(|m| m.is_dir())
            && let Ok(rd) = std::fs::read_dir(&inputs)
        {
            for e in rd.flatten() {
                if e.file_type().is_ok_and(|t| t.is_file()) {
                    let path = e.path();
                    std::fs::remove_file(&path).map_err(io("delete", &path))?;
                }
            }
        }
        sync_dir(&trash);
        Ok(stems.len())
    }
}
