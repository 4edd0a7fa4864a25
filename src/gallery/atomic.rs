//! Crash-safe file writes: a `*.tmp` file in the same folder, `sync_all`, rename over the target,
//! then sync the folder, so a crash (kill -9, power cut) leaves either the old file or the new one,
//! plus at most a `*.tmp` file that [`clean_tmp`] removes on the next open.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::Path;
use std::time::Duration;

use super::GalleryError;
use super::error::io;

/// A `*.tmp` file younger than this may belong to another process writing right now (the CLI and
/// the app share the gallery), so [`clean_tmp`] leaves it for a later open.
pub const TMP_GRACE: Duration = Duration::from_secs(60);

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

/// Makes a rename or a new file in `dir` durable. Best effort: not every platform lets a folder be
/// opened and synced (Windows does not need it).
pub fn sync_dir(dir: &Path) {
    #[cfg(unix)]
    if let Err(e) = std::fs::File::open(dir).and_then(|d| d.sync_all()) {
        tracing::debug!(dir = %dir.display(), error = %e, "could not sync the folder");
    }
    #[cfg(not(unix))]
    let _ = dir;
}

/// Removes the `*.tmp` files a crash left in `dir` (older than [`TMP_GRACE`]); returns how many.
pub fn clean_tmp(dir: &Path) -> usize {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return 0;
    };
    let mut removed = 0;
    for e in rd.flatten() {
        let name = e.file_name();
        if !name.to_string_lossy().ends_with(".tmp") {
            continue;
        }
        let old = e
            .metadata()
            .ok()
            .filter(|m| m.is_file())
            .and_then(|m| m.modified().ok())
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age >= TMP_GRACE);
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
