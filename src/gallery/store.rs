//! The gallery store: saves every paid result (image + sidecar, atomically, then the index), lists,
//! favourites, deletes into `.trash/` and restores from it, and repairs itself on open.
//!
//! On open: a complete `*.tmp` file a crash left before its rename is finished, and the stale rest
//! removed (`repair.rs`); the index is loaded (or rebuilt from the sidecars when missing or
//! corrupt, with a warning); then the folder's file names (not their contents) are compared with
//! it, so an image saved just before a crash but not yet indexed is picked up (from its sidecar, or
//! from the settings inside it when the sidecar never got written), and an image removed by hand is
//! dropped; last, no empty sidecar is left (rewritten from the index, or removed when it is a
//! stale name reservation with no image).
//!
//! Every id that arrives from outside (a caller, the index) must be a plain file name before it
//! becomes a path (`index::valid_id`).

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::api::MODEL;
use crate::types::{ApiVersion, JobId};

use super::atomic::{clean_tmp, own_subdir, sync_dir, write_atomic, write_atomic_unsynced_dir};
use super::error::io;
use super::index::{self, INDEX_FILE, Indexed, Map, Op, Unusable, valid_id};
use super::meta::{embed, read_sidecar, request_json};
use super::repair::{self, sidecar_from_image};
use super::{Entry, GalleryError, NewResult, SIDECAR_VERSION, Sidecar, format_a1111};

/// The trash folder inside the gallery.
pub const TRASH_DIR: &str = ".trash";
/// The thumbnail cache inside the gallery.
pub const THUMBS_DIR: &str = ".thumbs";
/// The image extensions the gallery lists.
pub(super) const IMAGE_EXTS: [&str; 4] = ["png", "jpg", "jpeg", "webp"];

/// The gallery on disk. Cheap to clone; safe to share between threads.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    dir: PathBuf,
    index_path: PathBuf,
    state: Mutex<State>,
}

struct State {
    map: Map,
    /// How much of the index file is reflected in `map`.
    loaded_len: u64,
    /// False after the index could not be written (e.g. a read-only folder): the gallery then
    /// works from memory without retrying (and logging) on every call, until a rebuild.
    index_ok: bool,
}

/// `app` in every sidecar.
pub fn app_name() -> String {
    format!("fluxcn {}", env!("CARGO_PKG_VERSION"))
}

/// Whether a file name is an image the gallery lists (hidden and temporary files are not).
pub(super) fn image_stem(name: &str) -> Option<&str> {
    if name.starts_with('.') || name.ends_with(".tmp") {
        return None;
    }
    let (stem, ext) = name.rsplit_once('.')?;
    (!stem.is_empty() && IMAGE_EXTS.iter().any(|e| e.eq_ignore_ascii_case(ext))).then_some(stem)
}

/// The image files in `dir`, as (stem, file name), sorted by name.
fn scan_images(dir: &Path) -> Result<Vec<(String, String)>, GalleryError> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).map_err(io("list", dir))?.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if let Some(stem) = image_stem(&name)
            && e.file_type().is_ok_and(|t| t.is_file())
        {
            out.push((stem.to_owned(), name));
        }
    }
    out.sort();
    Ok(out)
}

fn now_parts() -> (SystemTime, u64) {
    let now = SystemTime::now();
    let ms = now
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    (now, ms)
}

/// `YYYYMMDD-HHMMSS` in UTC.
fn stamp(t: SystemTime) -> String {
    let s = humantime::format_rfc3339_seconds(t).to_string(); // 2026-11-25T06:58:00Z
    s.chars()
        .filter(|c| c.is_ascii_digit() || *c == 'T')
        .map(|c| if c == 'T' { '-' } else { c })
        .collect()
}

impl Store {
    /// Opens (creating the folder if needed) and loads or rebuilds the index.
    pub fn open(dir: impl Into<PathBuf>) -> Result<Store, GalleryError> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir).map_err(io("create the folder", &dir))?;
        repair::finish_tmp_files(&dir);
        for d in [dir.clone(), dir.join(THUMBS_DIR), dir.join(TRASH_DIR)] {
            clean_tmp(&d);
        }
        let index_path = dir.join(INDEX_FILE);
        let store = Store {
            inner: Arc::new(Inner {
                dir,
                index_path,
                state: Mutex::new(State {
                    map: Map::new(),
                    loaded_len: 0,
                    index_ok: true,
                }),
            }),
        };
        {
            let mut st = store.lock();
            match index::load(&store.inner.index_path) {
                Ok(loaded) => {
                    let mut map = loaded.map;
                    let changed = store.reconcile(&mut map)?;
                    let bloated = loaded.records > 2 * map.len() + 64;
                    st.loaded_len = loaded.len;
                    if changed || loaded.torn || bloated || loaded.rejected > 0 {
                        store.write_index_or_warn(&mut st, &map);
                    }
                    repair::repair_sidecars(store.dir(), &map);
                    st.map = map;
                }
                Err(why) => {
                    match &why {
                        Unusable::Missing => {
                            tracing::info!(dir = %store.dir().display(), "no gallery index yet; building it from the files")
                        }
                        Unusable::Corrupt(r) => {
                            tracing::warn!(index = %store.inner.index_path.display(), reason = %r, "the gallery index is damaged; rebuilding it from the sidecars")
                        }
                    }
                    let map = store.scan_all()?;
                    store.write_index_or_warn(&mut st, &map);
                    repair::repair_sidecars(store.dir(), &map);
                    st.map = map;
                }
            }
        }
        Ok(store)
    }

    /// The gallery folder.
    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic elsewhere while holding the lock leaves consistent data (every change is a
        // single insert/remove), so a poisoned lock is used as is.
        self.inner.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn entry(&self, id: &str, e: &Indexed) -> Entry {
        Entry {
            id: id.to_owned(),
            image_path: self.inner.dir.join(&e.file),
            sidecar_path: self.inner.dir.join(format!("{id}.json")),
            meta: e.meta.clone(),
        }
    }

    /// Catches up with what another process appended to the index (or reloads it after a rewrite).
    fn refresh(&self, st: &mut State) {
        if !st.index_ok {
            return;
        }
        let path = &self.inner.index_path;
        match index::read_from(path, st.loaded_len, &mut st.map) {
            Ok(Some(len)) => st.loaded_len = len,
            Ok(None) => match index::load(path) {
                Ok(l) => {
                    st.map = l.map;
                    st.loaded_len = l.len;
                }
                Err(e) => {
                    tracing::warn!(reason = ?e, "could not reload the gallery index; keeping what is in memory")
                }
            },
            Err(e) => {
                tracing::warn!(reason = ?e, "the gallery index changed under us; rewriting it from memory");
                let map = std::mem::take(&mut st.map);
                self.write_index_or_warn(st, &map);
                st.map = map;
            }
        }
    }

    /// Appends records; when that fails the index is rewritten whole (it is only a cache, so a
    /// failure here is logged, never reported: the picture itself is safe on disk).
    fn record(&self, st: &mut State, ops: &[Op]) {
        if !st.index_ok {
            return;
        }
        if let Err(e) = index::append(&self.inner.index_path, ops) {
            tracing::warn!(error = %e, "could not append to the gallery index; rewriting it");
            let mut map = std::mem::take(&mut st.map);
            for op in ops {
                index::apply(&mut map, op.clone());
            }
            self.write_index_or_warn(st, &map);
            st.map = map;
        }
    }

    /// Saves a paid result: the image (with its settings inside where the format allows) and its
    /// sidecar, each atomically, then the index. When this returns `Ok`, both files are on disk.
    pub fn save(&self, new: &NewResult<'_>) -> Result<Entry, GalleryError> {
        // The folder may have been removed or renamed while the app ran: make it again rather
        // than fail to keep a paid result.
        let dir = &self.inner.dir;
        std::fs::create_dir_all(dir).map_err(io("create the folder", dir))?;
        let (now, ms) = now_parts();
        let seed_used = new.accounting.seed.unwrap_or(new.params.seed);
        let seed_part = if seed_used < 0 {
            "random".to_owned()
        } else {
            seed_used.to_string()
        };
        let base = format!("{}-{}-{}", stamp(now), new.params.cn_type, seed_part);
        // The lock is held only to pick the name: the writes and their fsyncs happen without it,
        // so a UI thread listing the gallery never waits for a disk.
        let id = {
            let mut st = self.lock();
            self.refresh(&mut st);
            self.reserve(&st.map, &base)?
        };
        let meta = Sidecar {
            version: SIDECAR_VERSION,
            app: app_name(),
            created: humantime::format_rfc3339_millis(now).to_string(),
            created_unix_ms: ms,
            params: new.params.clone(),
            seed_used,
            input: new.input.to_owned(),
            api: new.api,
            accounting: new.accounting.clone(),
            format: new.image.format,
            width: new.image.width,
            height: new.image.height,
            bytes: new.image.bytes.len() as u64,
            group: new.group.cloned(),
            favourite: false,
            model: MODEL.to_owned(),
            job_id: new.job_id,
        };
        let file = format!("{id}.{}", new.image.format.extension());
        let image_path = dir.join(&file);
        let sidecar_path = dir.join(format!("{id}.json"));
        let a1111 = format_a1111(new.params, seed_used, new.image.width, new.image.height);
        let request = request_json(new.params, new.input);
        let bytes = embed(new.image.format, &new.image.bytes, &a1111, &request);
        // The image first: once it is on disk the paid result is safe, even if the sidecar is
        // not written (the next open rebuilds it from the settings inside the image). The
        // sidecar's folder sync makes both renames durable; the save is reported only after it.
        if let Err(e) = write_atomic_unsynced_dir(&image_path, &bytes) {
            // Nothing was saved: give the name back.
            let _ = std::fs::remove_file(&sidecar_path);
            return Err(e);
        }
        if let Err(e) = write_atomic(&sidecar_path, &sidecar_json(&meta)) {
            // The image is there: make sure it stays, and report the sidecar's failure.
            sync_dir(dir);
            return Err(e);
        }
        let indexed = Indexed { file, meta };
        let entry = self.entry(&id, &indexed);
        let mut st = self.lock();
        self.record(
            &mut st,
            &[Op::Put {
                id: id.clone(),
                file: indexed.file.clone(),
                meta: Box::new(indexed.meta.clone()),
            }],
        );
        st.map.insert(id, indexed);
        drop(st);
        super::atomic::hold_after_save_for_tests();
        Ok(entry)
    }

    /// Picks a free stem (`base`, `base-2`, `base-3`, …) and reserves it across processes by
    /// creating its sidecar exclusively (`create_new`), so two processes saving the same seed in the
    /// same second can never overwrite each other's image. The empty reservation is replaced by
    /// the real sidecar moments later; left by a crash, it is rebuilt from the image like any
    /// damaged sidecar.
    fn reserve(&self, map: &Map, base: &str) -> Result<String, GalleryError> {
        let dir = &self.inner.dir;
        let trash = dir.join(TRASH_DIR);
        let taken = |stem: &str| {
            map.contains_key(stem)
                || trash.join(format!("{stem}.json")).exists()
                || IMAGE_EXTS.iter().any(|e| {
                    dir.join(format!("{stem}.{e}")).exists()
                        || trash.join(format!("{stem}.{e}")).exists()
                })
        };
        let mut n = 1u32;
        loop {
            let stem = if n == 1 {
                base.to_owned()
            } else {
                format!("{base}-{n}")
            };
            n += 1;
            if taken(&stem) {
                continue;
            }
            let sidecar = dir.join(format!("{stem}.json"));
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&sidecar)
            {
                Ok(_) => return Ok(stem),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(io("create", &sidecar)(e)),
            }
        }
    }

    /// Every picture, newest first.
    pub fn list(&self) -> Vec<Entry> {
        let mut st = self.lock();
        self.refresh(&mut st);
        let mut v: Vec<Entry> = st.map.iter().map(|(id, e)| self.entry(id, e)).collect();
        v.sort_by(|a, b| {
            b.meta
                .created_unix_ms
                .cmp(&a.meta.created_unix_ms)
                .then_with(|| b.id.cmp(&a.id))
        });
        v
    }

    /// One picture by id.
    pub fn get(&self, id: &str) -> Option<Entry> {
        if !valid_id(id) {
            return None;
        }
        let mut st = self.lock();
        self.refresh(&mut st);
        st.map.get(id).map(|e| self.entry(id, e))
    }

    /// The pictures a job saved, in the order it saved them: those whose sidecar names the job, and
    /// (for older sidecars without a job id) the v2 results of its server request id; only those
    /// whose image is on disk. Used by a resume after a crash between the save and the journal's
    /// end record.
    pub fn find_job(&self, job: JobId, request_id: Option<&str>) -> Vec<Entry> {
        let mut st = self.lock();
        self.refresh(&mut st);
        let of_job = |m: &Sidecar| match m.job_id {
            Some(j) => j == job,
            None => {
                m.api == ApiVersion::V2
                    && request_id.is_some_and(|r| m.accounting.request_id.as_deref() == Some(r))
            }
        };
        let mut v: Vec<Entry> = st
            .map
            .iter()
            .filter(|(_, e)| of_job(&e.meta) && self.inner.dir.join(&e.file).is_file())
            .map(|(id, e)| self.entry(id, e))
            .collect();
        v.sort_by(|a, b| (a.meta.created_unix_ms, &a.id).cmp(&(b.meta.created_unix_ms, &b.id)));
        v
    }

    fn not_found(&self, id: &str) -> GalleryError {
        GalleryError::NotFound {
            id: id.to_owned(),
            dir: self.inner.dir.clone(),
        }
    }

    /// Marks or unmarks a favourite; written to the sidecar (the truth) and the index.
    pub fn set_favourite(&self, id: &str, fav: bool) -> Result<(), GalleryError> {
        if !valid_id(id) {
            return Err(self.not_found(id));
        }
        let mut st = self.lock();
        self.refresh(&mut st);
        let Some(e) = st.map.get(id) else {
            return Err(self.not_found(id));
        };
        let mut meta = e.meta.clone();
        meta.favourite = fav;
        write_atomic(
            &self.inner.dir.join(format!("{id}.json")),
            &sidecar_json(&meta),
        )?;
        let op = Op::Fav {
            id: id.to_owned(),
            fav,
        };
        index::apply(&mut st.map, op.clone());
        self.record(&mut st, &[op]);
        Ok(())
    }

    /// Moves the image and its sidecar into `<dir>/.trash/` (see [`Store::undo_delete`]).
    pub fn delete(&self, id: &str) -> Result<(), GalleryError> {
        if !valid_id(id) {
            return Err(self.not_found(id));
        }
        let mut st = self.lock();
        self.refresh(&mut st);
        let Some(e) = st.map.get(id) else {
            return Err(self.not_found(id));
        };
        let dir = &self.inner.dir;
        let trash = own_subdir(dir, TRASH_DIR)?;
        let image = dir.join(&e.file);
        let sidecar = dir.join(format!("{id}.json"));
        if image.exists() {
            std::fs::rename(&image, trash.join(&e.file))
                .map_err(io("move to the trash", &image))?;
        }
        if sidecar.exists()
            && let Err(err) = std::fs::rename(&sidecar, trash.join(format!("{id}.json")))
        {
            // Put the image back so that nothing is half deleted.
            let _ = std::fs::rename(trash.join(&e.file), &image);
            return Err(io("move to the trash", &sidecar)(err));
        }
        sync_dir(dir);
        sync_dir(&trash);
        let op = Op::Del { id: id.to_owned() };
        index::apply(&mut st.map, op.clone());
        self.record(&mut st, &[op]);
        Ok(())
    }

    /// Restores a deleted picture from the trash. Restoring one that is already back returns it.
    pub fn undo_delete(&self, id: &str) -> Result<Entry, GalleryError> {
        let dir = &self.inner.dir;
        if !valid_id(id) {
            return Err(GalleryError::NotInTrash {
                id: id.to_owned(),
                dir: dir.join(TRASH_DIR),
            });
        }
        let mut st = self.lock();
        self.refresh(&mut st);
        if let Some(e) = st.map.get(id) {
            return Ok(self.entry(id, e));
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
        let indexed = Indexed { file, meta };
        self.record(
            &mut st,
            &[Op::Put {
                id: id.to_owned(),
                file: indexed.file.clone(),
                meta: Box::new(indexed.meta.clone()),
            }],
        );
        let entry = self.entry(id, &indexed);
        st.map.insert(id.to_owned(), indexed);
        Ok(entry)
    }

    /// Deletes for good everything in `.trash/`, and the cached thumbnails of those pictures;
    /// returns how many pictures went. Nothing outside the trash and the thumbnail cache is touched.
    pub fn empty_trash(&self) -> Result<usize, GalleryError> {
        let _st = self.lock();
        let trash = self.inner.dir.join(TRASH_DIR);
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
        let thumbs = self.inner.dir.join(THUMBS_DIR);
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
        sync_dir(&trash);
        Ok(stems.len())
    }

    /// Rebuilds the index from the sidecars (and images without one) on disk; returns how many
    /// pictures it holds.
    pub fn rebuild_index(&self) -> Result<usize, GalleryError> {
        let mut st = self.lock();
        self.rebuild_locked(&mut st)
    }

    /// Writes the whole index; on failure (a read-only folder, a full disk) says so in the log and
    /// goes on: the index is a cache, the pictures are listed from memory.
    fn write_index_or_warn(&self, st: &mut State, map: &Map) {
        match index::write_whole(&self.inner.index_path, map) {
            Ok(len) => {
                st.loaded_len = len;
                st.index_ok = true;
            }
            Err(e) => {
                tracing::warn!(error = %e, "could not write the gallery index; the gallery works from memory, but the next start will be slower");
                st.index_ok = false;
            }
        }
    }

    fn rebuild_locked(&self, st: &mut State) -> Result<usize, GalleryError> {
        let map = self.scan_all()?;
        st.loaded_len = index::write_whole(&self.inner.index_path, &map)?;
        st.index_ok = true;
        let n = map.len();
        st.map = map;
        Ok(n)
    }

    /// Every picture in the folder, from the sidecars (or the images themselves).
    fn scan_all(&self) -> Result<Map, GalleryError> {
        let mut map = Map::new();
        for (stem, file) in scan_images(&self.inner.dir)? {
            if map.contains_key(&stem) {
                tracing::warn!(file = %file, "two images share the name {stem}; listing only the first");
                continue;
            }
            if let Some(meta) = self.adopt(&stem, &file) {
                map.insert(stem, Indexed { file, meta });
            }
        }
        Ok(map)
    }

    /// Brings an index in line with the folder's file names; returns whether anything changed.
    fn reconcile(&self, map: &mut Map) -> Result<bool, GalleryError> {
        let on_disk = scan_images(&self.inner.dir)?;
        let names: HashSet<&str> = on_disk.iter().map(|(_, f)| f.as_str()).collect();
        let before = map.len();
        map.retain(|id, e| {
            let keep = names.contains(e.file.as_str());
            if !keep {
                tracing::warn!(id = %id, "a picture in the index is no longer in the folder; dropping it from the list");
            }
            keep
        });
        let mut changed = map.len() != before;
        for (stem, file) in on_disk {
            if map.contains_key(&stem) {
                continue;
            }
            if let Some(meta) = self.adopt(&stem, &file) {
                tracing::warn!(file = %file, "a picture was missing from the index (saved just before a crash?); added it");
                map.insert(stem, Indexed { file, meta });
                changed = true;
            }
        }
        Ok(changed)
    }

    /// The sidecar of an image in the folder: read from disk, or (missing or damaged) made from the
    /// image itself and written. `None` when the file is not an image at all.
    fn adopt(&self, stem: &str, file: &str) -> Option<Sidecar> {
        let dir = &self.inner.dir;
        let sidecar_path = dir.join(format!("{stem}.json"));
        // An empty sidecar is a name reserved by a save that did not finish: nothing to keep.
        let present = std::fs::metadata(&sidecar_path).is_ok_and(|m| m.len() > 0);
        if present {
            match read_sidecar(&sidecar_path) {
                Ok(s) => return Some(s),
                Err(e) => {
                    let aside = dir.join(format!("{stem}.json.damaged"));
                    tracing::warn!(error = %e, kept_as = %aside.display(), "rebuilding a damaged sidecar from its image");
                    let _ = std::fs::rename(&sidecar_path, &aside);
                }
            }
        }
        let image_path = dir.join(file);
        let (meta, ours) = match sidecar_from_image(&image_path) {
            Ok(m) => m,
            Err(e) => {
                tracing::warn!(error = %e, "skipping a file that is not a readable image");
                return None;
            }
        };
        // A picture of ours whose sidecar was lost gets it back. Another program's picture in the
        // folder is only listed: we write nothing next to files we did not make.
        if ours && let Err(e) = write_atomic(&sidecar_path, &sidecar_json(&meta)) {
            tracing::warn!(error = %e, "could not write the rebuilt sidecar; listing the picture anyway");
        }
        Some(meta)
    }
}

/// The sidecar's bytes (pretty JSON, for people reading it).
pub fn sidecar_json(meta: &Sidecar) -> Vec<u8> {
    // Plain data; serialising cannot fail.
    let mut v = serde_json::to_vec_pretty(meta).unwrap_or_default();
    v.push(b'\n');
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_and_stems() {
        let t = UNIX_EPOCH + std::time::Duration::from_secs(1_795_000_000);
        assert_eq!(stamp(t), "20261118-110640");
        assert_eq!(image_stem("a.PNG"), Some("a"));
        assert_eq!(image_stem(".a.png.1.tmp"), None);
        assert_eq!(image_stem("a.json"), None);
        assert_eq!(image_stem(".png"), None);
        assert!(valid_id("20260101-000000-pose-1"));
        assert!(!valid_id("../x") && !valid_id("a/b") && !valid_id(".trash") && !valid_id(""));
    }
}
