//! Crash-safe file writes: a `*.tmp` file in the same folder, `sync_all`, rename over the target,
//! then sync the folder, so a crash (kill -9, power cut) leaves either the old file or the new one,
//! plus at most a `*.tmp` file. On the next open a complete one may be finished (see
//! `repair.rs`); [`clean_tmp`] removes the rest once they are stale.
//!
//! The temp file is named `.<target>.<pid>.<random>.tmp` and created with `create_new` (it never
//! follows or reuses a planted file or link); the rename replaces a link at the target rather than
//! writing through it, so the gallery may live in a folder other users can write to.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::GalleryError;
use super::error::io;

/// A `*.tmp` file younger than this may belong to another process writing right now (the CLI and
/// the app share the gallery), so [`clean_tmp`] leaves it for a later open.
pub const TMP_GRACE: Duration = Duration::from_secs(60);

/// A `*.tmp` file whose writer is gone (its pid names no process) and that has not changed for this
/// long is stale at once, without waiting for [`TMP_GRACE`].
const GONE_GRACE: Duration = Duration::from_secs(2);

/// Writes `bytes` to `path` atomically (see the module doc).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), GalleryError> {
    write_atomic_unsynced_dir(path, bytes)?;
    sync_dir(path.parent().unwrap_or(Path::new(".")));
    Ok(())
}

/// Like [`write_atomic`] without the folder sync: for a write followed by another in the same
/// folder whose [`write_atomic`] makes both renames durable at once (one folder sync, not two).
pub fn write_atomic_unsynced_dir(path: &Path, bytes: &[u8]) -> Result<(), GalleryError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(
        ".{name}.{}.{:08x}.tmp",
        std::process::id(),
        fastrand::u32(..)
    ));
    let written = (|| {
        let mut f = OpenOptions::new().write(true).create_new(true).open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, path)
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(io("write", path)(e));
    }
    Ok(())
}

/// Writes a paid image that the gallery could not take to a new folder of its own in the temp
/// folder (shared with other users on many systems), as `<stem>-<random>.<ext>`; returns its path.
/// The folder is made fresh under a random name, private to the user, and the file inside it is
/// created new (`create_new`): nothing is ever written through a planted file or link, and the
/// names cannot be guessed ahead.
pub fn write_fallback(stem: &str, ext: &str, bytes: &[u8]) -> std::io::Result<PathBuf> {
    let random = || -> String {
        std::iter::repeat_with(|| fastrand::alphanumeric().to_ascii_lowercase())
            .take(12)
            .collect()
    };
    let base = std::env::temp_dir();
    let mut made = None;
    for _ in 0..8 {
        let dir = base.join(format!("fluxcn-unsaved-{}", random()));
        // Private to the user on Unix (the temp folder is shared there). On Windows the temp folder
        // is already the user's own (`%LOCALAPPDATA%\Temp`) and inherits its access list.
        #[cfg(unix)]
        let builder = {
            let mut b = std::fs::DirBuilder::new();
            std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
            b
        };
        #[cfg(not(unix))]
        let builder = std::fs::DirBuilder::new();
        match builder.create(&dir) {
            Ok(()) => {
                made = Some(dir);
                break;
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    let dir = made.ok_or_else(|| std::io::Error::other("no new folder name was free"))?;
    let path = dir.join(format!("{stem}-{}.{ext}", random()));
    let mut opts = OpenOptions::new();
    opts.write(true).create_new(true);
    // Readable by the user only on Unix; on Windows the file inherits the private folder's access.
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let written = opts
        .open(&path)
        .and_then(|mut f| f.write_all(bytes).and_then(|()| f.sync_all()));
    if let Err(e) = written {
        let _ = std::fs::remove_file(&path);
        let _ = std::fs::remove_dir(&dir);
        return Err(e);
    }
    sync_dir(&dir);
    Ok(path)
}

/// A test hook (debug builds only): with `FLUXCN_TEST_HOLD_AFTER_SAVE` set, a save stops for good
/// once its image, sidecar and catalog row are written, before the job runtime closes the job in
/// its journal, so that a test can kill -9 the process at exactly that moment.
pub fn hold_after_save_for_tests() {
    while cfg!(debug_assertions) && std::env::var_os("FLUXCN_TEST_HOLD_AFTER_SAVE").is_some() {
        std::thread::sleep(Duration::from_secs(3600));
    }
}

/// Makes a rename or a new file in `dir` durable. Best effort. Unix only: there a rename is durable
/// once its folder is synced; Windows cannot open a folder as a file to sync it, and NTFS journals
/// a rename's metadata itself.
pub fn sync_dir(dir: &Path) {
    #[cfg(unix)]
    if let Err(e) = std::fs::File::open(dir).and_then(|d| d.sync_all()) {
        tracing::debug!(dir = %dir.display(), error = %e, "could not sync the folder");
    }
    #[cfg(not(unix))]
    let _ = dir;
}

/// The target file name and the writer's pid of a temp file named by [`write_atomic`]
/// (`.<target>.<pid>.<random>.tmp`); the pid is `None` when the name does not carry one.
pub fn tmp_target(name: &str) -> Option<(&str, Option<u32>)> {
    let inner = name.strip_prefix('.')?.strip_suffix(".tmp")?;
    let (rest, _random) = inner.rsplit_once('.')?;
    match rest.rsplit_once('.') {
        Some((target, pid)) if !target.is_empty() => match pid.parse::<u32>() {
            Ok(pid) => Some((target, Some(pid))),
            Err(_) => Some((rest, None)),
        },
        _ => Some((rest, None)).filter(|(t, _)| !t.is_empty()),
    }
}

/// Whether the process `pid` is certainly gone (Linux: no `/proc/<pid>`; elsewhere never certain).
fn writer_gone(pid: u32) -> bool {
    if pid == std::process::id() {
        return false;
    }
    #[cfg(target_os = "linux")]
    {
        let proc = Path::new("/proc");
        proc.join("self").exists() && !proc.join(pid.to_string()).exists()
    }
    #[cfg(not(target_os = "linux"))]
    false
}

/// Whether a temp file (its metadata, not followed through a link, and its writer's pid) was left by
/// a crash rather than being written right now: older than [`TMP_GRACE`], or its writer is gone and
/// it has not changed for a moment.
pub fn is_stale(meta: &std::fs::Metadata, pid: Option<u32>) -> bool {
    let Some(age) = meta.modified().ok().and_then(|t| t.elapsed().ok()) else {
        return false;
    };
    age >= TMP_GRACE || (age >= GONE_GRACE && pid.is_some_and(writer_gone))
}

/// A folder of the gallery's own (`.trash`, `.thumbs`): made when missing, and refused when it is
/// a link or not a folder, so that nothing is moved or written through a link planted there.
pub fn own_subdir(dir: &Path, name: &str) -> Result<std::path::PathBuf, GalleryError> {
    let sub = dir.join(name);
    match std::fs::create_dir(&sub) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(io("create the folder", &sub)(e)),
    }
    let meta = std::fs::symlink_metadata(&sub).map_err(io("read", &sub))?;
    if meta.is_dir() {
        Ok(sub)
    } else {
        Err(io("use", &sub)(std::io::Error::other(
            "it is a link or a file, not a folder of the gallery's own",
        )))
    }
}

/// Removes the stale `*.tmp` files a crash left in `dir` (see [`is_stale`]); returns how many.
pub fn clean_tmp(dir: &Path) -> usize {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return 0;
    };
    let mut removed = 0;
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if !name.ends_with(".tmp") {
            continue;
        }
        let pid = tmp_target(&name).and_then(|(_, pid)| pid);
        // `DirEntry::metadata` does not follow a link: a planted link is never taken for ours.
        let old = e
            .metadata()
            .ok()
            .filter(|m| m.is_file())
            .is_some_and(|m| is_stale(&m, pid));
        if old {
            match std::fs::remove_file(e.path()) {
                Ok(()) => {
                    tracing::warn!(file = %e.path().display(), "removed a half-written file left by a crash");
                    removed += 1;
                }
                Err(err) => {
                    tracing::warn!(file = %e.path().display(), error = %err, "could not remove a leftover temporary file")
                }
            }
        }
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_replace_and_leave_no_tmp() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("a.json");
        write_atomic(&p, b"one").unwrap();
        write_atomic(&p, b"two").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 1);
    }

    #[test]
    fn failure_names_the_file_and_cleans_up() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("missing-folder").join("a.json");
        let e = write_atomic(&p, b"x").unwrap_err();
        assert!(e.to_string().contains("a.json"), "{e}");
    }

    #[test]
    fn temp_names_give_their_target_and_writer() {
        assert_eq!(
            tmp_target(".a-1.png.42.0badcafe.tmp"),
            Some(("a-1.png", Some(42)))
        );
        assert_eq!(
            tmp_target("..index.jsonl.7.00000001.tmp"),
            Some((".index.jsonl", Some(7)))
        );
        assert_eq!(tmp_target(".x.png.1.tmp"), Some(("x.png", None)));
        assert_eq!(tmp_target("x.png.1.2.tmp"), None);
        assert_eq!(tmp_target("..tmp"), None);
    }

    #[test]
    fn a_dead_writers_temp_file_is_stale_soon_a_live_ones_is_not() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("t");
        std::fs::write(&p, b"x").unwrap();
        let f = std::fs::File::options().write(true).open(&p).unwrap();
        f.set_modified(std::time::SystemTime::now() - Duration::from_secs(5))
            .unwrap();
        let m = std::fs::metadata(&p).unwrap();
        assert!(!is_stale(&m, Some(std::process::id())));
        assert!(!is_stale(&m, None));
        // A gone writer is known only where /proc tells (Linux); elsewhere the age alone decides.
        #[cfg(target_os = "linux")]
        assert!(is_stale(&m, Some(999_999_999)));
    }

    // Planting a folder link needs no privilege on Unix only (Windows asks for developer mode).
    #[cfg(unix)]
    #[test]
    fn a_planted_link_is_not_a_folder_of_ours() {
        let d = tempfile::tempdir().unwrap();
        let elsewhere = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(elsewhere.path(), d.path().join(".trash")).unwrap();
        assert!(own_subdir(d.path(), ".trash").is_err());
        assert!(own_subdir(d.path(), ".thumbs").unwrap().is_dir());
        assert!(own_subdir(d.path(), ".thumbs").is_ok(), "twice is fine");
    }

    #[test]
    fn fallback_files_are_new_private_and_unguessable() {
        let a = write_fallback("7-0", "png", b"one").unwrap();
        let b = write_fallback("7-0", "png", b"two").unwrap();
        assert_ne!(a, b);
        assert_ne!(a.parent(), b.parent(), "a new folder each time");
        assert_eq!(std::fs::read(&a).unwrap(), b"one");
        let name = a.file_name().unwrap().to_string_lossy().into_owned();
        assert!(name.starts_with("7-0-") && name.ends_with(".png") && name.len() > 12);
        // Unix modes; Windows files inherit the private folder's access list.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(&a), 0o600);
            assert_eq!(mode(a.parent().unwrap()), 0o700);
        }
        for p in [a, b] {
            std::fs::remove_dir_all(p.parent().unwrap()).unwrap();
        }
    }

    #[test]
    fn only_old_tmp_files_are_cleaned() {
        let d = tempfile::tempdir().unwrap();
        let old = d.path().join(".x.png.1.tmp");
        let fresh = d.path().join(".y.png.1.tmp");
        std::fs::write(&old, b"half").unwrap();
        std::fs::write(&fresh, b"half").unwrap();
        let f = std::fs::File::options().write(true).open(&old).unwrap();
        f.set_modified(std::time::SystemTime::now() - Duration::from_secs(3600))
            .unwrap();
        assert_eq!(clean_tmp(d.path()), 1);
        assert!(!old.exists());
        assert!(fresh.exists());
    }
}
