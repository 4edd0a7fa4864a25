//! Thumbnails for the gallery grid: decoded with bounded memory, scaled down with a fast filter and
//! cached as `<dir>/.thumbs/<id>-<max_side>.jpg`, reused while newer than the image. Called off
//! the UI thread; two threads making the same thumbnail at once is harmless (atomic writes).

use std::io::Cursor;
use std::path::Path;

use image::{DynamicImage, ImageReader, Limits, RgbaImage};

use super::atomic::{own_subdir, write_atomic};
use super::error::io;
use super::{Entry, GalleryError};

/// The largest image side we decode (the API makes at most 4096).
const MAX_SIDE: u32 = 16_384;
/// The most memory one decode may take.
const MAX_ALLOC: u64 = 1 << 30;
/// JPEG quality of the cached thumbnails.
const THUMB_QUALITY: u8 = 85;

fn limits() -> Limits {
    let mut l = Limits::default();
    l.max_image_width = Some(MAX_SIDE);
    l.max_image_height = Some(MAX_SIDE);
    l.max_alloc = Some(MAX_ALLOC);
    l
}

/// Decodes image bytes with bounded memory.
fn decode(path: &Path, bytes: &[u8]) -> Result<DynamicImage, GalleryError> {
    let damaged = |reason: String| GalleryError::DamagedImage {
        path: path.to_path_buf(),
        reason,
    };
    let mut r = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| damaged(e.to_string()))?;
    r.limits(limits());
    r.decode().map_err(|e| damaged(e.to_string()))
}

/// The thumbnail of `entry`, at most `max_side` pixels on its longer side (never enlarged).
pub fn thumbnail(dir: &Path, entry: &Entry, max_side: u32) -> Result<RgbaImage, GalleryError> {
    if max_side == 0 {
        return Err(GalleryError::BadThumbSize { max_side });
    }
    if !super::catalog::valid_id(&entry.id) || entry.image_path.parent() != Some(dir) {
        // Only ids the store made name a cache file (never a path outside `.thumbs/`), and only
        // pictures of this gallery are read.
        return Err(GalleryError::NotFound {
            id: entry.id.clone(),
            dir: dir.to_path_buf(),
        });
    }
    let cache = dir
        .join(super::store::THUMBS_DIR)
        .join(format!("{}-{max_side}.jpg", entry.id));
    let image_time = std::fs::metadata(&entry.image_path)
        .and_then(|m| m.modified())
        .map_err(io("read", &entry.image_path))?;
    // A `.thumbs` that is a link (planted in a shared folder) is neither read nor written.
    let ours =
        std::fs::symlink_metadata(dir.join(super::store::THUMBS_DIR)).is_ok_and(|m| m.is_dir());
    let fresh = ours
        && std::fs::metadata(&cache)
            .and_then(|m| m.modified())
            .is_ok_and(|t| t >= image_time);
    if fresh {
        match std::fs::read(&cache)
            .map_err(io("read", &cache))
            .and_then(|b| decode(&cache, &b))
        {
            Ok(img) => return Ok(img.to_rgba8()),
            Err(e) => tracing::warn!(error = %e, "remaking a damaged thumbnail"),
        }
    }
    let bytes = std::fs::read(&entry.image_path).map_err(io("read", &entry.image_path))?;
    let full = decode(&entry.image_path, &bytes)?;
    let small = if full.width().max(full.height()) > max_side {
        full.thumbnail(max_side, max_side)
    } else {
        full
    };
    let mut jpeg = Vec::new();
    let encoded = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, THUMB_QUALITY)
        .encode_image(&DynamicImage::ImageRgb8(small.to_rgb8()));
    match encoded {
        Ok(()) => {
            // Never written through a `.thumbs` link planted in a shared gallery folder.
            let stored =
                own_subdir(dir, super::store::THUMBS_DIR).and_then(|_| write_atomic(&cache, &jpeg));
            if let Err(e) = stored {
                tracing::warn!(error = %e, "could not cache a thumbnail; it will be made again next time");
            }
        }
        Err(e) => tracing::warn!(error = %e, "could not encode a thumbnail for the cache"),
    }
    Ok(small.to_rgba8())
}
