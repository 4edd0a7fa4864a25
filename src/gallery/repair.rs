//! Repairs on open after a crash (kill -9, power cut) in the middle of a save, so that nothing paid
//! for is lost and nothing stays stuck:
//!
//! - a temp file (`.<target>.<pid>.<random>.tmp`, see `atomic.rs`) that a crash left between its
//!   `sync_all` and its rename is **finished** when it is complete and stale: an image whose target
//!   does not exist yet (a complete PNG, JPEG or WebP, judged by its structure), or a sidecar whose
//!   target is still the empty name reservation and that parses. The rest are left to `clean_tmp`;
//! - an **empty sidecar** never stays: one of a listed picture is rewritten from the catalog, and a
//!   stale name reservation with no image (the save never got its image written) is removed;
//! - a picture whose sidecar is missing, empty or damaged is described from the image itself
//!   ([`sidecar_from_image`]).

use std::collections::HashSet;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::api::{GenParams, ImageFormat, MODEL};
use crate::types::ApiVersion;

use super::atomic::{TMP_GRACE, is_stale, sync_dir, tmp_target, write_atomic};
use super::catalog::valid_id;
use super::error::io;
use super::meta::{embedded_record, read_sidecar};
use super::store::{IMAGE_EXTS, app_name, image_stem, sidecar_json};
use super::{GalleryError, SIDECAR_VERSION, Sidecar};

/// A stale temp file found in the gallery folder.
struct Leftover {
    path: std::path::PathBuf,
    /// The file it was going to become.
    target: String,
}

/// The stale temp files of `dir` (not followed through links), with their targets.
fn leftovers(dir: &Path) -> Vec<Leftover> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    rd.flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let (target, pid) = tmp_target(&name)?;
            let meta = e.metadata().ok().filter(|m| m.is_file())?;
            is_stale(&meta, pid).then(|| Leftover {
                path: e.path(),
                target: target.to_owned(),
            })
        })
        .collect()
}

/// Finishes the complete temp files a crash left (see the module doc); returns how many.
pub(super) fn finish_tmp_files(dir: &Path) -> usize {
    let found = leftovers(dir);
    let mut finished = 0;
    // Images first: a sidecar is finished only next to its image.
    for t in found.iter().filter(|t| image_stem(&t.target).is_some()) {
        let target = dir.join(&t.target);
        if !target.exists() && complete_image(&t.path) && move_no_clobber(&t.path, &target) {
            tracing::warn!(file = %target.display(), "finished saving a picture that a crash interrupted just before its last step");
            finished += 1;
        }
    }
    for t in &found {
        let Some(stem) = t.target.strip_suffix(".json").filter(|s| valid_id(s)) else {
            continue;
        };
        let target = dir.join(&t.target);
        let reserved = std::fs::metadata(&target).map_or(true, |m| m.len() == 0);
        let has_image = IMAGE_EXTS
            .iter()
            .any(|e| dir.join(format!("{stem}.{e}")).is_file());
        if reserved && has_image && read_sidecar(&t.path).is_ok() {
            match std::fs::rename(&t.path, &target) {
                Ok(()) => {
                    tracing::warn!(file = %target.display(), "finished writing a settings file that a crash interrupted");
                    finished += 1;
                }
                Err(e) => {
                    tracing::warn!(file = %target.display(), error = %e, "could not finish a settings file a crash interrupted")
                }
            }
        }
    }
    if finished > 0 {
        sync_dir(dir);
    }
    finished
}

/// Moves `from` to `to` unless `to` exists (a hard link then an unlink, so that a file appearing
/// meanwhile is never replaced; a plain rename where the file system has no hard links).
fn move_no_clobber(from: &Path, to: &Path) -> bool {
    match std::fs::hard_link(from, to) {
        Ok(()) => {
            let _ = std::fs::remove_file(from);
            true
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => false,
        Err(_) => !to.exists() && std::fs::rename(from, to).is_ok(),
    }
}

/// Whether the image file at `path` is whole, judged by its structure: a PNG ends with its `IEND`
/// chunk, a JPEG with its end-of-image marker, a WebP is as long as its RIFF header says.
fn complete_image(path: &Path) -> bool {
    const IEND: [u8; 12] = [0, 0, 0, 0, b'I', b'E', b'N', b'D', 0xAE, 0x42, 0x60, 0x82];
    let Ok(mut f) = std::fs::File::open(path) else {
        return false;
    };
    let len = f.metadata().map_or(0, |m| m.len());
    let mut head = [0u8; 12];
    let mut tail = [0u8; 12];
    let read = f.read_exact(&mut head).is_ok()
        && f.seek(SeekFrom::End(-12)).is_ok()
        && f.read_exact(&mut tail).is_ok();
    if !read {
        return false;
    }
    match ImageFormat::sniff(&head) {
        Some(ImageFormat::Png) => tail == IEND,
        Some(ImageFormat::Jpeg) => {
            let end = tail.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
            end >= 2 && tail[end - 2..end] == [0xFF, 0xD9]
        }
        Some(ImageFormat::Webp) => {
            let riff = u64::from(u32::from_le_bytes([head[4], head[5], head[6], head[7]]));
            len == riff + 8 || len == riff + 9
        }
        None => false,
    }
}

/// Leaves no empty sidecar in `dir`: one of a picture the catalog knows (`known`) is rewritten
/// from it; a stale one with no image and no temp file pending (a save killed before its image was
/// written) is removed.
pub(super) fn repair_sidecars(dir: &Path, known: &dyn Fn(&str) -> Option<Sidecar>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut empty = Vec::new();
    let mut pending = HashSet::new();
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if let Some((target, _)) = tmp_target(&name) {
            pending.insert(
                target
                    .rsplit_once('.')
                    .map_or(target, |(s, _)| s)
                    .to_owned(),
            );
        } else if let Some(stem) = name.strip_suffix(".json").filter(|s| valid_id(s))
            && let Ok(m) = e.metadata()
            && m.is_file()
            && m.len() == 0
        {
            empty.push((stem.to_owned(), m));
        }
    }
    for (stem, m) in empty {
        let path = dir.join(format!("{stem}.json"));
        if let Some(meta) = known(&stem) {
            match write_atomic(&path, &sidecar_json(&meta)) {
                Ok(()) => {
                    tracing::warn!(file = %path.display(), "an empty settings file was rewritten from the gallery catalog")
                }
                Err(err) => {
                    tracing::warn!(error = %err, "could not rewrite an empty settings file")
                }
            }
            continue;
        }
        let stale = m
            .modified()
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age >= TMP_GRACE);
        let has_image = IMAGE_EXTS
            .iter()
            .any(|x| dir.join(format!("{stem}.{x}")).exists());
        if stale && !has_image && !pending.contains(&stem) {
            match std::fs::remove_file(&path) {
                Ok(()) => {
                    tracing::warn!(file = %path.display(), "removed an empty settings file left by a save that a crash interrupted before its image was written")
                }
                Err(err) => {
                    tracing::warn!(file = %path.display(), error = %err, "could not remove an empty settings file")
                }
            }
        }
    }
}

/// A sidecar made from an image alone: its settings from inside it when there are any (else the
/// defaults, with an empty prompt), its date from the file's time; and whether the settings were
/// inside it (a picture that we made).
pub(super) fn sidecar_from_image(path: &Path) -> Result<(Sidecar, bool), GalleryError> {
    let bytes = std::fs::read(path).map_err(io("read", path))?;
    let format = ImageFormat::sniff(&bytes).ok_or_else(|| GalleryError::NotAnImage {
        path: path.to_path_buf(),
    })?;
    let (width, height) = image::ImageReader::new(std::io::Cursor::new(&bytes))
        .with_guessed_format()
        .ok()
        .and_then(|r| r.into_dimensions().ok())
        .unwrap_or((0, 0));
    let (params, input, seed_used, ours) = match embedded_record(path, &bytes) {
        Ok(Some(e)) => {
            let seed = e.seed_used.unwrap_or(e.params.seed);
            (e.params, e.input.unwrap_or_default(), seed, e.ours)
        }
        Ok(None) => {
            tracing::info!(file = %path.display(), "no settings inside this image; listing it with default settings and an empty prompt");
            let p = GenParams::default();
            let seed = p.seed;
            (p, String::new(), seed, false)
        }
        Err(e) => {
            tracing::warn!(error = %e, "listing the image with default settings");
            let p = GenParams::default();
            let seed = p.seed;
            (p, String::new(), seed, false)
        }
    };
    let modified = std::fs::metadata(path)
        .and_then(|m| m.modified())
        .unwrap_or_else(|_| SystemTime::now());
    let ms = modified
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    let sidecar = Sidecar {
        version: SIDECAR_VERSION,
        app: format!("{} (rebuilt from the image)", app_name()),
        created: crate::types::rfc3339_millis(modified),
        created_unix_ms: ms,
        seed_used,
        params,
        input,
        api: ApiVersion::default(),
        accounting: Default::default(),
        format,
        width,
        height,
        bytes: bytes.len() as u64,
        group: None,
        favourite: false,
        rating: 0,
        model: MODEL.to_owned(),
        job_id: None,
        input_file: None,
        input_hash: None,
        prompt_template: None,
        batch_line: None,
        parent: None,
        framing: None,
    };
    Ok((sidecar, ours))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn complete_images_are_told_from_cut_ones() {
        let d = tempfile::tempdir().unwrap();
        let img = image::DynamicImage::ImageRgb8(image::RgbImage::from_fn(40, 30, |x, y| {
            image::Rgb([x as u8, y as u8, 7])
        }));
        for fmt in [
            image::ImageFormat::Png,
            image::ImageFormat::Jpeg,
            image::ImageFormat::WebP,
        ] {
            let mut bytes = Vec::new();
            img.write_to(&mut std::io::Cursor::new(&mut bytes), fmt)
                .unwrap();
            let whole = d.path().join("whole");
            let cut = d.path().join("cut");
            std::fs::write(&whole, &bytes).unwrap();
            std::fs::write(&cut, &bytes[..bytes.len() - 20]).unwrap();
            assert!(complete_image(&whole), "{fmt:?}");
            assert!(!complete_image(&cut), "{fmt:?}");
        }
        std::fs::write(d.path().join("tiny"), b"\x89PNG").unwrap();
        assert!(!complete_image(&d.path().join("tiny")));
    }
}
