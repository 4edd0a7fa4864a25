//! Settings inside the image files, without re-encoding a pixel, where AUTOMATIC1111 puts them
//! (so that its PNG Info, image sites and metadata readers show them) and our own record beside.
//!
//! - PNG: two text chunks are inserted before the first `IDAT`: `parameters` (AUTOMATIC1111's text,
//!   `tEXt` when it is Latin-1, else `iTXt`, as A1111 itself does) and `fluxcn` (`iTXt`, UTF-8: the
//!   exact request JSON, the `image` field replaced by the input's description). The image chunks
//!   are copied byte for byte.
//! - JPEG: an EXIF `APP1` segment whose `UserComment` holds the A1111 text (`UNICODE`, UTF-16, as
//!   A1111 writes it), after the JFIF `APP0` when there is one; then, after the leading `APP`
//!   segments, a `COM` segment with the A1111 text and a second one starting `fluxcn:` with the
//!   request JSON (as before EXIF was written). The scan data is copied unchanged.
//! - WebP: an `EXIF` chunk with the same `UserComment`, and the request JSON in its `MakerNote`
//!   (`fluxcn:` first); the container becomes the extended one (`VP8X`) that metadata needs. The
//!   image data is copied unchanged.
//!
//! The containers are rewritten by the `img-parts` crate, the EXIF block built and read by
//! `kamadak-exif` (`super::exif`). Reading (`found`) gathers every kind of metadata a file may hold
//! (ours, A1111's, ComfyUI's, InvokeAI's); [`super::foreign`] turns it into settings.

use std::path::{Path, PathBuf};

use img_parts::jpeg::{Jpeg, JpegSegment, markers};
use img_parts::png::Png;
use img_parts::vp8::VP8Kind;
use img_parts::webp::WebP;
use img_parts::{Bytes, ImageEXIF};
use png::text_metadata::{EncodableTextChunk, ITXtChunk, TEXtChunk};

use crate::api::{GenParams, ImageFormat};

use super::error::io;
use super::exif;
use super::foreign::{self, ImportError, Tool};
use super::{GalleryError, Sidecar};

/// The PNG keyword and JPEG comment prefix of our machine-readable record.
pub const FLUXCN_KEY: &str = "fluxcn";
/// A1111's PNG keyword.
pub const A1111_KEY: &str = "parameters";
/// ComfyUI's PNG keyword for the API graph that was run.
pub const COMFYUI_KEY: &str = "prompt";
/// InvokeAI's PNG keyword for its metadata.
pub const INVOKEAI_KEY: &str = "invokeai_metadata";
/// The longest payload of one JPEG segment.
const JPEG_SEGMENT_MAX: usize = 65_533;
/// The longest EXIF block in a JPEG's `APP1` segment (its payload less `Exif\0\0`).
const JPEG_EXIF_MAX: usize = JPEG_SEGMENT_MAX - 6;
/// The longest EXIF block written into a WebP (the text of any real prompt fits).
const WEBP_EXIF_MAX: usize = 16 * 1024 * 1024;
const PNG_SIGNATURE: &[u8; 8] = b"\x89PNG\r\n\x1a\n";

/// The record of a request as sent: the wire body's shape (the params flat), with `image`
/// replaced by the input's description (never the image data).
#[derive(serde::Serialize)]
struct SentRequest<'a> {
    image: &'a str,
    #[serde(flatten)]
    params: &'a GenParams,
}

/// The request as sent, as JSON: the params flat, `image` replaced by the input's description.
pub fn request_json(params: &GenParams, input: &str) -> String {
    serde_json::to_string(&SentRequest {
        image: input,
        params,
    })
    // A struct of strings, numbers and enums always serialises; the fallback is never used.
    .unwrap_or_default()
}

/// The bytes to write for `format`: the received bytes with our metadata inserted, or the received
/// bytes unchanged when the file's structure is not what we expect (then the sidecar alone records
/// the settings; an image is never lost over its metadata).
pub fn embed(format: ImageFormat, bytes: &[u8], a1111: &str, request: &str) -> Vec<u8> {
    let out = match format {
        ImageFormat::Png => embed_png(bytes, a1111, request),
        ImageFormat::Jpeg => embed_jpeg(bytes, a1111, request),
        ImageFormat::Webp => embed_webp(bytes, a1111, request),
    };
    match out {
        Some(v) => v,
        None => {
            tracing::warn!(%format, "unexpected file structure: saved without embedded settings (the sidecar has them)");
            bytes.to_vec()
        }
    }
}

/// A PNG's chunks as img-parts reads them; `None` when it cannot.
fn png_of(bytes: &[u8]) -> Option<Png> {
    Png::from_bytes(Bytes::copy_from_slice(bytes)).ok()
}

/// Our text chunks (the `png` crate encodes them) go just before the image data, where readers that
/// stop at the pixels still see them.
fn embed_png(b: &[u8], a1111: &str, request: &str) -> Option<Vec<u8>> {
    let png = png_of(b)?;
    let chunks = png.chunks();
    if chunks.first().map(|c| c.kind()) != Some(*b"IHDR") {
        return None;
    }
    let first_idat = chunks.iter().position(|c| c.kind() == *b"IDAT")?;
    // The signature, then every chunk before the first IDAT, whole.
    let idat = PNG_SIGNATURE.len() + chunks[..first_idat].iter().map(|c| c.len()).sum::<usize>();
    if b.get(idat + 4..idat + 8) != Some(b"IDAT".as_slice()) {
        return None;
    }
    let mut text = Vec::new();
    let latin1 = a1111.chars().all(|c| (c as u32) < 256);
    let wrote = if latin1 {
        TEXtChunk::new(A1111_KEY, a1111).encode(&mut text)
    } else {
        ITXtChunk::new(A1111_KEY, a1111).encode(&mut text)
    };
    wrote.ok()?;
    ITXtChunk::new(FLUXCN_KEY, request).encode(&mut text).ok()?;
    let mut out = Vec::with_capacity(b.len() + text.len());
    out.extend_from_slice(&b[..idat]);
    out.extend_from_slice(&text);
    out.extend_from_slice(&b[idat..]);
    Some(out)
}

/// A JPEG segment (marker + length + payload).
#[cfg(test)]
fn jpeg_segment(marker: u8, payload: &[u8]) -> Vec<u8> {
    let mut s = Vec::with_capacity(payload.len() + 4);
    s.extend_from_slice(&[0xFF, marker]);
    s.extend_from_slice(&((payload.len() + 2) as u16).to_be_bytes());
    s.extend_from_slice(payload);
    s
}

/// `text` cut to at most `max` bytes at a character boundary.
fn cut(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

fn embed_jpeg(b: &[u8], a1111: &str, request: &str) -> Option<Vec<u8>> {
    let mut jpeg = Jpeg::from_bytes(Bytes::copy_from_slice(b)).ok()?;
    // EXIF goes after a JFIF APP0 (img-parts places it so), replacing any the service sent.
    jpeg.set_exif(exif::build(a1111, None, JPEG_EXIF_MAX).map(Bytes::from));
    let segments = jpeg.segments_mut();
    let at = segments
        .iter()
        .position(|s| !(markers::APP0..=markers::APP15).contains(&s.marker()))
        .unwrap_or(segments.len());
    let comment =
        |text: &[u8]| JpegSegment::new_with_contents(markers::COM, Bytes::copy_from_slice(text));
    let mut comments = vec![comment(cut(a1111, JPEG_SEGMENT_MAX).as_bytes())];
    let ours = format!("{FLUXCN_KEY}:{request}");
    if ours.len() <= JPEG_SEGMENT_MAX {
        comments.push(comment(ours.as_bytes()));
    }
    segments.splice(at..at, comments);
    let mut out = Vec::with_capacity(b.len() + 2 * a1111.len() + request.len() + 256);
    jpeg.encoder().write_to(&mut out).ok()?;
    Some(out)
}

/// A WebP with an `EXIF` chunk: A1111's text in the `UserComment`, our record in the `MakerNote`.
fn embed_webp(b: &[u8], a1111: &str, request: &str) -> Option<Vec<u8>> {
    let mut webp = WebP::from_bytes(Bytes::copy_from_slice(b)).ok()?;
    let note = format!("{FLUXCN_KEY}:{request}");
    let block = exif::build(a1111, Some(note.as_bytes()), WEBP_EXIF_MAX)?;
    webp.set_exif(Some(Bytes::from(block)));
    // Metadata needs the extended format; a file whose size img-parts cannot tell stays as it is.
    if webp.kind() != VP8Kind::VP8X {
        return None;
    }
    let mut out = Vec::with_capacity(b.len() + 2 * a1111.len() + request.len() + 256);
    webp.encoder().write_to(&mut out).ok()?;
    Some(out)
}

/// The text chunks of a PNG, as (keyword, text): read with the `png` crate (which handles the
/// compressed kinds), plus any uncompressed ones after the image data found by walking the chunks.
pub fn png_texts(bytes: &[u8]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    if let Ok(reader) = decoder.read_info() {
        let info = reader.info();
        for t in &info.uncompressed_latin1_text {
            out.push((t.keyword.clone(), t.text.clone()));
        }
        for t in &info.compressed_latin1_text {
            if let Ok(s) = t.get_text() {
                out.push((t.keyword.clone(), s));
            }
        }
        for t in &info.utf8_text {
            if let Ok(s) = t.get_text() {
                out.push((t.keyword.clone(), s));
            }
        }
    }
    if out.is_empty() {
        let chunks = png_of(bytes)
            .map(|p| p.chunks().clone())
            .unwrap_or_default();
        for c in chunks {
            let data: &[u8] = c.contents();
            if c.kind() == *b"tEXt" {
                if let Some(nul) = data.iter().position(|&x| x == 0) {
                    let latin = |s: &[u8]| s.iter().map(|&x| x as char).collect::<String>();
                    out.push((latin(&data[..nul]), latin(&data[nul + 1..])));
                }
            } else if c.kind() == *b"iTXt" {
                // keyword \0 flag method lang \0 translated \0 text (uncompressed only).
                let mut parts = data.splitn(2, |&x| x == 0);
                let key = parts.next().unwrap_or_default();
                let rest = parts.next().unwrap_or_default();
                if rest.first() == Some(&0) && rest.len() >= 2 {
                    let mut tail = rest[2..].splitn(3, |&x| x == 0);
                    let _lang = tail.next();
                    let _translated = tail.next();
                    if let Some(text) = tail.next() {
                        out.push((
                            String::from_utf8_lossy(key).into_owned(),
                            String::from_utf8_lossy(text).into_owned(),
                        ));
                    }
                }
            }
        }
    }
    out
}

/// The `COM` segments of a JPEG, as text (img-parts reads the container).
pub fn jpeg_comments(bytes: &[u8]) -> Vec<String> {
    jpeg_of(bytes)
        .map(|j| {
            j.segments_by_marker(markers::COM)
                .map(|s| String::from_utf8_lossy(s.contents()).into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// A JPEG's segments as img-parts reads them; `None` when it cannot (then it holds no metadata we
/// can read).
fn jpeg_of(bytes: &[u8]) -> Option<Jpeg> {
    Jpeg::from_bytes(Bytes::copy_from_slice(bytes)).ok()
}

/// The metadata found inside an image, by kind (each the first of its kind; our record and
/// A1111's text in the places listed in the module's documentation).
#[derive(Debug, Default)]
pub(crate) struct Found {
    /// Our request JSON.
    pub ours: Option<String>,
    /// An A1111 "parameters" text.
    pub a1111: Option<String>,
    /// ComfyUI's API graph.
    pub comfy: Option<String>,
    /// InvokeAI's metadata.
    pub invoke: Option<String>,
    /// Metadata of ours or A1111's place that cannot be read (a UserComment that is not text).
    pub problem: Option<ImportError>,
}

/// Whether a text is A1111's (another tool's comment in the same place is not).
fn is_a1111(text: &str) -> bool {
    text.contains("Steps:")
}

/// Gathers the metadata inside an image. Errors only when the file is not a PNG, JPEG or WebP.
pub(crate) fn found(path: &Path, bytes: &[u8]) -> Result<Found, GalleryError> {
    let mut f = Found::default();
    match ImageFormat::sniff(bytes) {
        Some(ImageFormat::Png) => {
            let texts = png_texts(bytes);
            let find = |k: &str| texts.iter().find(|(kw, _)| kw == k).map(|(_, t)| t.clone());
            f.ours = find(FLUXCN_KEY);
            f.a1111 = find(A1111_KEY);
            f.comfy = find(COMFYUI_KEY);
            f.invoke = find(INVOKEAI_KEY);
        }
        Some(ImageFormat::Jpeg) => {
            if let Some(jpeg) = jpeg_of(bytes) {
                // Every `APP1` segment that is an EXIF block (`Exif\0\0`), in order.
                for s in jpeg.segments_by_marker(markers::APP1) {
                    let payload = s.contents();
                    if payload.starts_with(b"Exif\0\0") {
                        take_exif(&mut f, &exif::read(payload));
                    }
                }
            }
            let prefix = format!("{FLUXCN_KEY}:");
            let comments = jpeg_comments(bytes);
            if f.ours.is_none() {
                f.ours = comments
                    .iter()
                    .find_map(|c| c.strip_prefix(&prefix).map(str::to_owned));
            }
            if f.a1111.is_none() {
                f.a1111 = comments
                    .into_iter()
                    .find(|c| !c.starts_with(&prefix) && is_a1111(c));
            }
        }
        Some(ImageFormat::Webp) => {
            if let Some(block) = webp_exif(bytes) {
                take_exif(&mut f, &exif::read(&block));
            }
        }
        None => {
            return Err(GalleryError::NotAnImage {
                path: path.to_path_buf(),
            });
        }
    }
    Ok(f)
}

/// Takes A1111's text and our record from an EXIF block, where not found already.
fn take_exif(f: &mut Found, t: &exif::ExifTexts) {
    match &t.user_comment {
        Some(Ok(text)) if f.a1111.is_none() && is_a1111(text) => f.a1111 = Some(text.clone()),
        Some(Err(e)) if f.problem.is_none() => {
            f.problem = Some(ImportError::UserComment(e.clone()))
        }
        _ => {}
    }
    if f.ours.is_none() {
        f.ours = t
            .maker_note
            .as_deref()
            .and_then(|m| m.strip_prefix(format!("{FLUXCN_KEY}:").as_bytes()))
            .map(|json| String::from_utf8_lossy(json).into_owned());
    }
}

/// The `EXIF` chunk of a WebP file (img-parts reads the container).
pub(crate) fn webp_exif(b: &[u8]) -> Option<Bytes> {
    WebP::from_bytes(Bytes::copy_from_slice(b)).ok()?.exif()
}

/// What an image file says about its settings, without the sidecar: our own record when present,
/// else another tool's (see [`foreign::import_bytes`]). `Ok(None)` when the file holds none.
pub fn embedded_settings(path: &Path, bytes: &[u8]) -> Result<Option<GenParams>, GalleryError> {
    embedded_record(path, bytes).map(|r| r.map(|e| e.params))
}

/// The settings found inside an image.
#[derive(Debug, Clone, PartialEq)]
pub struct Embedded {
    /// As sent (from our record), or as read from another tool's metadata.
    pub params: GenParams,
    /// The input's description, when our own record carries it.
    pub input: Option<String>,
    /// The seed the metadata names as used (for our files: the A1111 text's, where the record
    /// has the seed sent, e.g. `-1`).
    pub seed_used: Option<i64>,
    /// Whether the settings came from our own record (a picture fluxcn made), not another tool's.
    pub ours: bool,
}

/// Like [`embedded_settings`], with the input's description and the seed used when present.
pub fn embedded_record(path: &Path, bytes: &[u8]) -> Result<Option<Embedded>, GalleryError> {
    Ok(foreign::import_bytes(path, bytes)?.map(|i| Embedded {
        ours: i.source == Tool::Fluxcn,
        params: i.params,
        input: i.input,
        seed_used: i.seed_used,
    }))
}

/// The sidecar path of an image: same folder, same stem, `.json`.
pub fn sidecar_of(path: &Path) -> PathBuf {
    path.with_extension("json")
}

/// Reads and parses a sidecar.
pub fn read_sidecar(path: &Path) -> Result<Sidecar, GalleryError> {
    let bytes = read_limited(path, MAX_SETTINGS_FILE)?;
    serde_json::from_slice(&bytes).map_err(|e| GalleryError::BadSidecar {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })
}

/// The largest file read for settings (a 100 MP PNG is smaller).
const MAX_SETTINGS_FILE: u64 = 512 * 1024 * 1024;

/// Reads a file that must be a regular file of a size an image can have (see [`read_limited`]).
pub(crate) fn read_regular(path: &Path) -> Result<Vec<u8>, GalleryError> {
    read_limited(path, MAX_SETTINGS_FILE)
}

/// Reads a file that must be a regular file of at most `max` bytes: a folder, a FIFO, a socket or a
/// device (anything dropped on the window) is refused before it is opened, so no worker blocks on
/// it, and a huge file is refused before it is read.
fn read_limited(path: &Path, max: u64) -> Result<Vec<u8>, GalleryError> {
    use std::io::Read as _;
    let meta = std::fs::metadata(path).map_err(io("read", path))?;
    let refuse = |what: String| GalleryError::NotAFile {
        path: path.to_path_buf(),
        what,
    };
    if !meta.is_file() {
        return Err(refuse(if meta.is_dir() {
            "it is a folder".into()
        } else {
            "it is not a regular file (a pipe, socket or device)".into()
        }));
    }
    if meta.len() > max {
        return Err(refuse(format!(
            "it is {} MB, more than any image this app reads ({} MB)",
            meta.len() / 1_000_000,
            max / 1_000_000
        )));
    }
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(max + 1).read_to_end(&mut bytes))
        .map_err(io("read", path))?;
    if bytes.len() as u64 > max {
        return Err(refuse(
            "it grew past the size limit while being read".into(),
        ));
    }
    Ok(bytes)
}

/// The settings of any saved image (ours or another tool's: A1111, ComfyUI, InvokeAI), else of
/// the sidecar `.json` next to it; a `.json` path is read as a sidecar. What was clamped or has no
/// counterpart here is in [`foreign::read_any`]'s notes.
pub fn read_settings(path: &Path) -> Result<GenParams, GalleryError> {
    foreign::read_any(path).map(|i| i.params)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png_bytes() -> Vec<u8> {
        let img = image::RgbaImage::from_fn(5, 3, |x, y| {
            image::Rgba([x as u8 * 40, y as u8 * 80, 7, 255])
        });
        let mut out = Vec::new();
        image::DynamicImage::ImageRgba8(img)
            .write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)
            .unwrap();
        out
    }

    #[test]
    fn png_embed_keeps_image_chunks_and_reads_back() {
        let b = png_bytes();
        let out = embed(
            ImageFormat::Png,
            &b,
            "a cat ☃\nSteps: 20",
            "{\"prompt\":\"a cat ☃\"}",
        );
        let kept = |bytes: &[u8]| -> Vec<([u8; 4], Vec<u8>)> {
            png_of(bytes)
                .unwrap()
                .chunks()
                .iter()
                .filter(|c| c.kind() != *b"tEXt" && c.kind() != *b"iTXt")
                .map(|c| (c.kind(), c.contents().to_vec()))
                .collect()
        };
        let (before, after) = (kept(&b), kept(&out));
        assert_eq!(before, after);
        let texts = png_texts(&out);
        assert!(texts.contains(&("parameters".into(), "a cat ☃\nSteps: 20".into())));
        assert!(texts.contains(&("fluxcn".into(), "{\"prompt\":\"a cat ☃\"}".into())));
    }

    #[test]
    fn malformed_files_are_saved_unchanged_and_never_panic() {
        for junk in [
            &b""[..],
            b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR",
            b"\xFF\xD8\xFF",
            b"\xFF\xD8\xFF\xE0\xFF\xFF",
            b"RIFF1234WEBP",
        ] {
            let fmt = ImageFormat::sniff(junk).unwrap_or(ImageFormat::Png);
            let out = embed(fmt, junk, "x", "{}");
            if fmt != ImageFormat::Jpeg {
                assert_eq!(out, junk);
            }
            let _ = png_texts(junk);
            let _ = jpeg_comments(junk);
        }
    }

    #[test]
    fn jpeg_comment_cut_at_a_char_boundary() {
        assert_eq!(cut("aé", 2), "a");
        assert_eq!(cut("abc", 5), "abc");
    }

    #[test]
    fn a1111_jpeg_with_exif_user_comment_is_read() {
        let img = image::RgbImage::from_pixel(4, 4, image::Rgb([9, 9, 9]));
        let mut jpg = Vec::new();
        image::DynamicImage::ImageRgb8(img)
            .write_to(
                &mut std::io::Cursor::new(&mut jpg),
                image::ImageFormat::Jpeg,
            )
            .unwrap();
        let mut exif = b"Exif\0\0".to_vec();
        exif.extend(
            super::exif::build(
                "a depth castle\nSteps: 25, Sampler: Euler a, CFG scale: 6, Seed: 77, Size: 512x512, ControlNet 0: \"Module: depth_midas, Weight: 0.6\"",
                None,
                JPEG_EXIF_MAX,
            )
            .unwrap(),
        );
        let mut with = jpg[..2].to_vec();
        with.extend(jpeg_segment(0xE1, &exif));
        with.extend(&jpg[2..]);
        let e = embedded_record(Path::new("a1111.jpg"), &with)
            .unwrap()
            .unwrap();
        assert_eq!(e.params.prompt, "a depth castle");
        assert_eq!(
            (e.params.steps, e.params.seed, e.params.cn_type),
            (25, 77, crate::api::CnType::Depth)
        );
        assert_eq!(e.params.sampler, "euler_ancestral");
        assert_eq!(e.input, None);
    }

    #[test]
    fn random_and_mangled_input_never_panics() {
        let mut rng = fastrand::Rng::with_seed(42);
        let png = png_bytes();
        let prefixes: [&[u8]; 5] = [
            b"",
            PNG_SIGNATURE,
            b"\xFF\xD8\xFF",
            b"RIFF\x10\0\0\0WEBP",
            &png,
        ];
        for round in 0..3000 {
            let mut b = prefixes[round % prefixes.len()].to_vec();
            let n = rng.usize(0..200);
            b.extend((0..n).map(|_| rng.u8(..)));
            // Mangle a copy of a real file too: flip bytes, cut it short.
            let mut m = png.clone();
            for _ in 0..3 {
                let i = rng.usize(..m.len());
                m[i] = rng.u8(..);
            }
            m.truncate(rng.usize(..=m.len()));
            for bytes in [&b, &m] {
                for fmt in ImageFormat::ALL {
                    let _ = embed(*fmt, bytes, "p\nSteps: 1", "{}");
                }
                let _ = png_texts(bytes);
                let _ = jpeg_comments(bytes);
                let _ = embedded_record(Path::new("x"), bytes);
                let _ = super::exif::read(bytes);
                let _ = webp_exif(bytes);
                let _ = found(Path::new("x"), bytes);
            }
        }
        let tokens = [
            "Steps:",
            "Seed:",
            ",",
            "\"",
            "\\",
            ":",
            "\n",
            "Size:",
            "x",
            "ControlNet 0:",
            "Module:",
            "Weight:",
            "1e400",
            "-5",
            "NaN",
            " ",
            "é",
            "Negative prompt:",
            "starting/ending: (0,",
            "CFG scale:",
        ];
        for _ in 0..5000 {
            let text: String = (0..rng.usize(0..30))
                .map(|_| tokens[rng.usize(..tokens.len())])
                .collect();
            if let Ok(p) = super::super::parse_a1111(&text) {
                assert_eq!(
                    p.clamped(),
                    p,
                    "whatever is parsed is within range: {text:?}"
                );
            }
        }
    }
}
