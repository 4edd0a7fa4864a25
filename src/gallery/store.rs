//! The gallery store: saves every paid result (image + sidecar, atomically, then its catalog row),
//! lists and searches through the catalog, favourites and rates, deletes into `.trash/` and
//! restores from it, and repairs itself on open.
//!
//! On open: a complete `*.tmp` file a crash left before its rename is finished, and the stale rest
//! removed (`repair.rs`); the catalog is opened (or set aside and rebuilt from the sidecars, see
//! [`super::catalog`]); then the folder's file names (not their contents) are compared with it, so
//! an image saved just before a crash, by another copy of the app, or put there by hand is picked
//! up (from its sidecar, or from the settings inside it when the sidecar never got written), and an
//! image removed by hand is dropped; last, no empty sidecar is left (rewritten from the catalog, or
//! removed when it is a stale name reservation with no image).
//!
//! The catalog is shared with other processes (the CLI while the app runs): every call asks it,
//! so what another process saved is listed at once. When it cannot be written any more (a full
//! disk, a folder made read-only), the store carries on with a catalog in memory built from the
//! files, and says so once in its notes.
//!
//! Every id that arrives from outside (a caller, the catalog) must be a plain file name before it
//! becomes a path (`catalog::valid_id`).

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::api::{GenParams, MODEL};
use crate::types::JobId;

use super::atomic::{clean_tmp, sync_dir, write_atomic, write_atomic_unsynced_dir};
use super::catalog::{CATALOG_FILE, Catalog, Query, Row, Stored, valid_id};
use super::error::io;
use super::meta::{embed, read_sidecar, request_json};
use super::parent_of;
use super::repair::{self, sidecar_from_image};
use super::{Entry, GalleryError, NewResult, SIDECAR_VERSION, Sidecar, format_a1111};

/// The trash folder inside the gallery.
pub const TRASH_DIR: &str = ".trash";
/// The thumbnail cache inside the gallery.
pub const THUMBS_DIR: &str = ".thumbs";
/// The kept input images inside the gallery, one file per distinct content
/// (`<sha256>.<ext>`); inside the trash, the inputs no result uses any more.
pub const INPUTS_DIR: &str = ".inputs";
/// The image extensions the gallery lists.
pub(super) const IMAGE_EXTS: [&str; 4] = ["png", "jpg", "jpeg", "webp"];

/// The gallery on disk. Cheap to clone; safe to share between threads.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    dir: PathBuf,
    state: Mutex<State>,
}

pub(super) struct State {
    pub(super) cat: Catalog,
    /// What the user should be told about the catalog (set aside, rebuilt, in memory).
    notes: Vec<String>,
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

/// Now, in ms since the Unix epoch.
pub(super) fn now_ms() -> u64 {
    now_parts().1
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
    let s = crate::types::rfc3339_seconds(t); // 2026-11-25T06:58:00Z
    s.chars()
        .filter(|c| c.is_ascii_digit() || *c == 'T')
        .map(|c| if c == 'T' { '-' } else { c })
        .collect()
}

fn catalog_error(path: &Path) -> impl FnOnce(rusqlite::Error) -> GalleryError + '_ {
    move |e| GalleryError::Catalog {
        path: path.to_path_buf(),
        reason: e.to_string(),
    }
}

impl Store {
    /// Opens (creating the folder if needed) the gallery and its catalog, and brings the catalog in
    /// line with the files. Problems with the catalog never fail the open: see [`Store::notes`].
    pub fn open(dir: impl Into<PathBuf>) -> Result<Store, GalleryError> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir).map_err(io("create the folder", &dir))?;
        repair::finish_tmp_files(&dir);
        for d in [dir.clone(), dir.join(THUMBS_DIR), dir.join(TRASH_DIR)] {
            clean_tmp(&d);
        }
        let opened = Catalog::open(&dir);
        for n in &opened.notes {
            tracing::warn!("{n}");
        }
        let store = Store {
            inner: Arc::new(Inner {
                dir,
                state: Mutex::new(State {
                    cat: opened.catalog,
                    notes: opened.notes,
                }),
            }),
        };
        {
            let mut st = store.lock();
            if opened.fill {
                tracing::info!(dir = %store.dir().display(), "building the gallery catalog from the files");
                let all = store.scan_all()?;
                store.write(&mut st, |c| c.replace_all(&all));
            } else {
                store.reconcile(&mut st)?;
            }
            let cat = &st.cat;
            repair::repair_sidecars(store.dir(), &|stem| {
                cat.get(stem).ok().flatten().map(|(_, _, m)| m)
            });
        }
        Ok(store)
    }

    /// The gallery folder.
    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    /// What the user should be told about the gallery's catalog since it was opened: set aside
    /// and rebuilt, or not usable (working from memory). Empty when all is well.
    pub fn notes(&self) -> Vec<String> {
        self.lock().notes.clone()
    }

    /// The state, with the catalog opened again if its file was deleted or replaced meanwhile
    /// (and then filled from the files, so nothing changed since is lost).
    pub(super) fn lock(&self) -> MutexGuard<'_, State> {
        // A panic elsewhere while holding the lock leaves the catalog consistent (SQLite rolls
        // back an unfinished transaction), so a poisoned lock is used as is.
        let mut st = self.inner.state.lock().unwrap_or_else(|p| p.into_inner());
        if st.cat.replaced() {
            tracing::info!("the gallery catalog was replaced or removed; opening it again");
            let opened = Catalog::open(self.dir());
            st.notes.extend(opened.notes);
            st.cat = opened.catalog;
            match self.scan_all() {
                Ok(all) => self.write(&mut st, |c| c.replace_all(&all)),
                Err(e) => tracing::warn!(error = %e, "could not list the gallery folder"),
            }
        }
        st
    }

    pub(super) fn entry(&self, (id, file, meta): Stored) -> Entry {
        Entry {
            image_path: self.inner.dir.join(&file),
            sidecar_path: self.inner.dir.join(format!("{id}.json")),
            id,
            meta,
        }
    }

    /// A read from the catalog; a failure is logged and reads as `fallback` (the pictures are
    /// safe on disk; the next open rebuilds what the catalog lost).
    pub(super) fn read<T>(
        &self,
        st: &State,
        fallback: T,
        f: impl FnOnce(&Catalog) -> rusqlite::Result<T>,
    ) -> T {
        match f(&st.cat) {
            Ok(v) => v,
            Err(e) => {
                tracing::warn!(error = %e, "could not read the gallery catalog");
                fallback
            }
        }
    }

    /// A change to the catalog. When it fails, the store moves to a catalog in memory built from
    /// the files (and the change is made there), and says so in its notes: a save is never
    /// reported as failed because of the catalog.
    pub(super) fn write(&self, st: &mut State, f: impl Fn(&mut Catalog) -> rusqlite::Result<()>) {
        let Err(e) = retry_busy(|| f(&mut st.cat)) else {
            return;
        };
        let Some(path) = st.cat.path().map(Path::to_path_buf) else {
            tracing::warn!(error = %e, "could not change the gallery catalog in memory");
            return;
        };
        let note = format!(
            "the gallery catalog {} can no longer be written ({e}); the gallery works from its files for this session",
            path.display()
        );
        tracing::warn!("{note}");
        st.notes.push(note);
        let mut cat = Catalog::in_memory();
        match self.scan_all() {
            Ok(all) => {
                if let Err(e) = cat.replace_all(&all) {
                    tracing::warn!(error = %e, "could not fill the catalog in memory");
                }
            }
            Err(e) => tracing::warn!(error = %e, "could not list the gallery folder"),
        }
        if let Err(e) = f(&mut cat) {
            tracing::warn!(error = %e, "could not change the gallery catalog in memory");
        }
        st.cat = cat;
    }

    /// Saves a paid result: the image (with its settings inside where the format allows) and its
    /// sidecar, each atomically, then its catalog row. When this returns `Ok`, both files are on disk.
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
            let st = self.lock();
            self.reserve(&st.cat, &base)?
        };
        let meta = Sidecar {
            version: SIDECAR_VERSION,
            app: app_name(),
            created: crate::types::rfc3339_millis(now),
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
            rating: 0,
            model: MODEL.to_owned(),
            job_id: new.job_id,
            input_file: None,
            input_hash: None,
            prompt_template: new.prompt_template.map(str::to_owned),
            batch_line: new.batch_line.map(str::to_owned),
            parent: parent_of(new.input),
            framing: new.framing.filter(|f| !f.is_identity()),
        };
        let mut meta = meta;
        if let Some(bytes) = new.input_image {
            // The input is kept before the image: a result never names an input not on disk. A
            // failure costs only the kept copy (the paid image matters more), and is logged.
            match self.keep_input(bytes) {
                Ok((hash, file)) => {
                    meta.input_hash = Some(hash);
                    meta.input_file = Some(file);
                }
                Err(e) => {
                    tracing::warn!(error = %e, "the input image could not be kept with the result")
                }
            }
        }
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
        let mut st = self.lock();
        self.write(&mut st, |c| c.put(&id, &file, &meta));
        drop(st);
        let entry = self.entry((id, file, meta));
        super::atomic::hold_after_save_for_tests();
        Ok(entry)
    }

    /// Picks a free stem (`base`, `base-2`, `base-3`, …) and reserves it across processes by
    /// creating its sidecar exclusively (`create_new`), so two processes saving the same seed in the
    /// same second can never overwrite each other's image. The empty reservation is replaced by
    /// the real sidecar moments later; left by a crash, it is rebuilt from the image like any
    /// damaged sidecar.
    fn reserve(&self, cat: &Catalog, base: &str) -> Result<String, GalleryError> {
        let dir = &self.inner.dir;
        let trash = dir.join(TRASH_DIR);
        let taken = |stem: &str| {
            cat.has(stem).unwrap_or(false)
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

    /// Every picture, newest first (for a gallery of 100 000, prefer [`Store::query`]).
    pub fn list(&self) -> Vec<Entry> {
        let st = self.lock();
        let all = self.read(&st, Vec::new(), Catalog::all);
        drop(st);
        all.into_iter().map(|s| self.entry(s)).collect()
    }

    /// The pictures a search finds, in its order: light rows (see [`Store::get`] for one whole).
    pub fn query(&self, q: &Query) -> Result<Vec<Row>, GalleryError> {
        let st = self.lock();
        let path = st.cat.path().unwrap_or(self.dir()).to_path_buf();
        st.cat.query(q).map_err(catalog_error(&path))
    }

    /// The newest `limit` pictures, newest first (light rows, as [`Store::query`] gives).
    pub fn newest(&self, limit: usize) -> Result<Vec<Row>, GalleryError> {
        let st = self.lock();
        let path = st.cat.path().unwrap_or(self.dir()).to_path_buf();
        st.cat.newest(limit).map_err(catalog_error(&path))
    }

    /// How many pictures the gallery holds.
    pub fn count(&self) -> usize {
        let st = self.lock();
        self.read(&st, 0, Catalog::count)
    }

    /// One picture by id.
    pub fn get(&self, id: &str) -> Option<Entry> {
        if !valid_id(id) {
            return None;
        }
        let st = self.lock();
        let got = self.read(&st, None, |c| c.get(id));
        drop(st);
        got.map(|s| self.entry(s))
    }

    /// The pictures a job saved, in the order it saved them: those whose sidecar names the job, and
    /// (for older sidecars without a job id) the v2 results of its server request id; only those
    /// whose image is on disk. Used by a resume after a crash between the save and the journal's
    /// end record.
    pub fn find_job(&self, job: JobId, request_id: Option<&str>) -> Vec<Entry> {
        let st = self.lock();
        let found = self.read(&st, Vec::new(), |c| c.find_job(job, request_id));
        drop(st);
        found
            .into_iter()
            .map(|s| self.entry(s))
            .filter(|e| e.image_path.is_file())
            .collect()
    }

    /// The newest picture made with exactly `params` (every field, the seed as used: see
    /// [`Catalog::same_settings`]) from the same control image, whose image is still on disk: the
    /// picture a job with these settings would make again, billed again. A random seed (`-1`)
    /// never repeats a picture: `None`.
    ///
    /// The control image: a picture that kept its input matches by content, `hash` giving the
    /// SHA-256 (hex, as [`Store::content_hash`]) of the job's input as it would be sent (called at
    /// most once, and only when such a picture has these settings: preparing an input costs); one
    /// that kept none (a URL input, or older than kept inputs) matches when its sidecar's `input`
    /// is `describe`, if `by_describe` (a URL, a file path; not pasted bytes, whose name says
    /// nothing).
    pub fn find_identical(
        &self,
        params: &GenParams,
        describe: &str,
        by_describe: bool,
        hash: impl FnOnce() -> Option<String>,
    ) -> Result<Option<Entry>, GalleryError> {
        if params.seed < 0 {
            return Ok(None);
        }
        let candidates = {
            let st = self.lock();
            let path = st.cat.path().unwrap_or(self.dir()).to_path_buf();
            st.cat.same_settings(params).map_err(catalog_error(&path))?
        };
        let mut hash = Some(hash);
        let mut computed: Option<Option<String>> = None;
        for found in candidates {
            let same_input = match &found.2.input_hash {
                Some(kept) => computed
                    .get_or_insert_with(|| hash.take().and_then(|f| f()))
                    .as_deref()
                    .is_some_and(|h| h.eq_ignore_ascii_case(kept)),
                None => by_describe && found.2.input == describe,
            };
            let entry = self.entry(found);
            if same_input && entry.image_path.is_file() {
                return Ok(Some(entry));
            }
        }
        Ok(None)
    }

    /// The content address of a kept input: the SHA-256 of its bytes, lowercase hex (what a
    /// sidecar's `input_hash` holds).
    pub fn content_hash(bytes: &[u8]) -> String {
        use sha2::Digest;
        sha2::Sha256::digest(bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    pub(super) fn not_found(&self, id: &str) -> GalleryError {
        GalleryError::NotFound {
            id: id.to_owned(),
            dir: self.inner.dir.clone(),
        }
    }

    /// Marks or unmarks a favourite; written to the sidecar (the truth) and the catalog.
    pub fn set_favourite(&self, id: &str, fav: bool) -> Result<(), GalleryError> {
        self.update(id, |m| m.favourite = fav)
    }

    /// Rates a picture from 0 (no rating) to 5 (a higher number is taken as 5); written to the
    /// sidecar (the truth) and the catalog.
    pub fn set_rating(&self, id: &str, rating: u8) -> Result<(), GalleryError> {
        self.update(id, |m| m.rating = rating.min(5))
    }

    /// Changes a picture's sidecar, then its catalog row.
    fn update(&self, id: &str, change: impl FnOnce(&mut Sidecar)) -> Result<(), GalleryError> {
        if !valid_id(id) {
            return Err(self.not_found(id));
        }
        let mut st = self.lock();
        let Some((_, file, mut meta)) = self.read(&st, None, |c| c.get(id)) else {
            return Err(self.not_found(id));
        };
        change(&mut meta);
        write_atomic(
            &self.inner.dir.join(format!("{id}.json")),
            &sidecar_json(&meta),
        )?;
        self.write(&mut st, |c| c.put(id, &file, &meta));
        Ok(())
    }

    /// Rebuilds the catalog from the sidecars (and images without one) on disk; returns how many
    /// pictures it holds. A store working from memory tries its catalog file again first, and
    /// says why when it still cannot be used.
    pub fn rebuild_catalog(&self) -> Result<usize, GalleryError> {
        let mut st = self.lock();
        let all = self.scan_all()?;
        if st.cat.path().is_none() {
            let opened = Catalog::open(self.dir());
            if opened.catalog.path().is_none() {
                return Err(GalleryError::Catalog {
                    path: self.dir().join(CATALOG_FILE),
                    reason: opened.notes.last().cloned().unwrap_or_default(),
                });
            }
            st.cat = opened.catalog;
            st.notes.clear();
        }
        let path = st.cat.path().unwrap_or(self.dir()).to_path_buf();
        st.cat.replace_all(&all).map_err(catalog_error(&path))?;
        Ok(all.len())
    }

    /// Every picture in the folder, from the sidecars (or the images themselves).
    fn scan_all(&self) -> Result<Vec<Stored>, GalleryError> {
        let mut out: Vec<Stored> = Vec::new();
        let mut seen = HashSet::new();
        for (stem, file) in scan_images(&self.inner.dir)? {
            if !seen.insert(stem.clone()) {
                tracing::warn!(file = %file, "two images share the name {stem}; listing only the first");
                continue;
            }
            if let Some(meta) = self.adopt(&stem, &file) {
                out.push((stem, file, meta));
            }
        }
        Ok(out)
    }

    /// Brings the catalog in line with the folder's file names: pictures gone from the folder are
    /// dropped, pictures new to it (saved before a crash, by another copy of the app, or by hand)
    /// are read from their sidecars and added.
    fn reconcile(&self, st: &mut State) -> Result<(), GalleryError> {
        let on_disk = scan_images(&self.inner.dir)?;
        let known: HashMap<String, String> = self
            .read(st, Vec::new(), Catalog::files)
            .into_iter()
            .collect();
        let names: HashSet<&str> = on_disk.iter().map(|(_, f)| f.as_str()).collect();
        let gone: Vec<&str> = known
            .iter()
            .filter(|(_, file)| !names.contains(file.as_str()))
            .map(|(id, _)| id.as_str())
            .collect();
        for id in &gone {
            tracing::warn!(id = %id, "a picture in the catalog is no longer in the folder; dropping it from the list");
        }
        let mut added: Vec<Stored> = Vec::new();
        for (stem, file) in on_disk {
            if known.get(&stem) == Some(&file) || added.iter().any(|(id, _, _)| *id == stem) {
                continue;
            }
            if let Some(meta) = self.adopt(&stem, &file) {
                tracing::info!(file = %file, "a picture new to the catalog was added from its files");
                added.push((stem, file, meta));
            }
        }
        if !gone.is_empty() {
            self.write(st, |c| c.remove_all(gone.iter().copied()));
        }
        if !added.is_empty() {
            self.write(st, |c| {
                c.put_all(added.iter().map(|(id, f, m)| (id.as_str(), f.as_str(), m)))
            });
        }
        Ok(())
    }

    /// The sidecar of an image in the folder: read from disk, or (missing or damaged) made from the
    /// image itself and written. `None` when the file is not an image at all.
    pub(super) fn adopt(&self, stem: &str, file: &str) -> Option<Sidecar> {
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

/// Runs a catalog change again while another process holds the database (SQLite's "busy" or
/// "locked", which WAL can answer at once, past the busy timeout: while a checkpoint runs, or
/// when a read snapshot went stale). A moment of contention between two processes saving into one
/// gallery must not send one of them to a catalog in memory for the rest of its session.
fn retry_busy(mut f: impl FnMut() -> rusqlite::Result<()>) -> rusqlite::Result<()> {
    const TRIES: u32 = 20;
    let mut tried = 1;
    loop {
        match f() {
            Err(rusqlite::Error::SqliteFailure(e, _))
                if tried < TRIES
                    && matches!(
                        e.code,
                        rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
                    ) =>
            {
                tracing::debug!(tried, "the gallery catalog is busy; trying again");
                std::thread::sleep(std::time::Duration::from_millis(25 * u64::from(tried)));
                tried += 1;
            }
            other => return other,
        }
    }
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

    #[test]
    fn a_busy_catalog_is_tried_again_and_other_errors_are_not() {
        let busy = || {
            rusqlite::Error::SqliteFailure(
                rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_BUSY),
                None,
            )
        };
        let mut calls = 0;
        let r = retry_busy(|| {
            calls += 1;
            if calls < 3 { Err(busy()) } else { Ok(()) }
        });
        assert!(r.is_ok());
        assert_eq!(calls, 3);
        let mut calls = 0;
        let r = retry_busy(|| {
            calls += 1;
            Err(rusqlite::Error::InvalidQuery)
        });
        assert!(r.is_err());
        assert_eq!(calls, 1, "only contention is worth another try");
    }
}

#[cfg(test)]
mod identical_tests;
mod lineage;
