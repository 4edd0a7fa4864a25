//! The files each process keeps for itself beside a shared one (the job journal, the window's
//! waiting list): a process takes the main file's advisory lock, or a file of its own beside it
//! (`<stem>-<pid>-<n>.<ext>`) when a live process holds it; a file of the family whose lock can be
//! taken belongs to a process that is gone, and is adopted by whoever opens next.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

/// Takes the advisory lock on `f` without waiting. A file system without locks counts as taken
/// (the single-process behaviour of before).
pub(super) fn take_lock(f: &File) -> bool {
    match f.try_lock() {
        Ok(()) => true,
        Err(std::fs::TryLockError::WouldBlock) => false,
        Err(std::fs::TryLockError::Error(e)) => {
            tracing::debug!(error = %e, "file locks unsupported here; going on without");
            true
        }
    }
}

/// The folder and stem of `main`'s family (`data/journal.jsonl`: `data`, `journal`, `jsonl`).
fn family(main: &Path) -> (PathBuf, String, String) {
    let dir = main
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    let part = |s: Option<&std::ffi::OsStr>| s.map(|s| s.to_string_lossy().into_owned());
    let stem = part(main.file_stem()).unwrap_or_else(|| "file".into());
    let ext = part(main.extension()).unwrap_or_default();
    (dir, stem, ext)
}

/// This process's own file of `main`'s family, opened by `open` and locked: `main` when its lock
/// is free (`true`), else a new `<stem>-<pid>-<n>.<ext>` beside it. An error names its file.
pub(super) fn own_file(
    main: &Path,
    open: impl Fn(&Path) -> std::io::Result<File>,
) -> Result<(PathBuf, File, bool), (PathBuf, std::io::Error)> {
    let f = open(main).map_err(|e| (main.to_path_buf(), e))?;
    if take_lock(&f) {
        return Ok((main.to_path_buf(), f, true));
    }
    let (dir, stem, ext) = family(main);
    let mut n = 0u32;
    loop {
        let p = dir.join(format!("{stem}-{}-{n}.{ext}", std::process::id()));
        let f = open(&p).map_err(|e| (p.clone(), e))?;
        if take_lock(&f) {
            return Ok((p, f, false));
        }
        n = n.wrapping_add(1);
    }
}

/// The files of `main`'s family other than `own` whose writers are gone (their locks taken now),
/// open for reading and writing.
pub(super) fn orphans(main: &Path, own: &Path) -> Vec<(PathBuf, File)> {
    let (dir, stem, ext) = family(main);
    let mut out = Vec::new();
    for e in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
        let p = e.path();
        let name = e.file_name().to_string_lossy().into_owned();
        let ours = name == format!("{stem}.{ext}")
            || (name.starts_with(&format!("{stem}-")) && name.ends_with(&format!(".{ext}")));
        if !ours || p == own {
            continue;
        }
        let Ok(f) = OpenOptions::new().read(true).write(true).open(&p) else {
            continue;
        };
        if take_lock(&f) {
            out.push((p, f));
        }
    }
    out
}
