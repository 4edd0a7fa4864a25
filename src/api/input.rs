//! Input images: turns what the user picked (a file, pasted bytes, a URL) into the request's `image`
//! field, and decodes a preview for the screen.
//!
//! The format is sniffed from the bytes, never the file name. Decoding runs under
//! [`image::Limits`] and an explicit pixel-count check made from the header, so a decompression bomb
//! is refused before any large allocation. EXIF orientation is applied. A file is sent unchanged
//! when that already works (JPEG/PNG/WebP, upright, small enough, not animated/CMYK/16-bit/
//! transparent); otherwise it is downscaled if needed and re-encoded as a JPEG, and
//! [`PreparedInput::notes`] says what was done. Only regular files are read (a FIFO or a device
//! is refused by its type before it is opened), and only images the service can use are prepared:
//! at least [`MIN_SIDE`] pixels a side after any downscale, at most [`MAX_RATIO`] to 1.

mod framed;
pub(crate) mod pixels;
mod usable;

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use base64::Engine as _;
use image::metadata::Orientation;
use image::{ColorType, DynamicImage, ImageDecoder as _, ImageError, ImageFormat};

use super::media::sniff::{self, Sniffed};
use crate::types::{InputPreview, InputSource};
pub use usable::{MAX_RATIO, MIN_SIDE, check_max_side};

/// JPEG quality for re-encoded inputs; lowered step by step only if the result is still too big.
const JPEG_QUALITIES: [u8; 3] = [90, 80, 70];

/// How local images are prepared.
#[derive(Debug, Clone, PartialEq)]
pub struct PrepareOptions {
    /// The longest side sent; larger images are downscaled to it.
    pub max_side: u32,
    /// Files larger than this are refused before they are read.
    pub max_file_bytes: u64,
    /// Images declaring more pixels than this are refused before they are decoded.
    pub max_pixels: u64,
    /// The original file is sent as-is only below this size (bytes, before base64).
    pub max_send_bytes: usize,
    /// What the job does to the picture before it is sent (turn, flip, crop, pad); the default
    /// does nothing.
    pub framing: crate::api::framing::Framing,
}

impl Default for PrepareOptions {
    fn default() -> Self {
        Self {
            max_side: 2048,
            max_file_bytes: 200 * 1024 * 1024,
            max_pixels: 100_000_000,
            max_send_bytes: 3 * 1024 * 1024,
            framing: Default::default(),
        }
    }
}

/// The `image` field, ready to send, and what was done to get it.
#[derive(Debug, Clone, PartialEq)]
pub struct PreparedInput {
    /// An `http(s)` URL, or the image file's bytes as plain base64 (no `data:` prefix).
    pub payload: String,
    /// The size as sent (0 for a URL).
    pub width: u32,
    pub height: u32,
    /// The original size, after EXIF orientation (0 for a URL).
    pub original_width: u32,
    pub original_height: u32,
    /// The original file's size in bytes (0 for a URL).
    pub original_bytes: u64,
    /// The payload is a new JPEG rather than the original bytes.
    pub reencoded: bool,
    /// What was done, in plain words ("rotated per EXIF", "downscaled from 6000×4000 to …").
    pub notes: Vec<String>,
}

/// Why an input cannot be used. Every message names the file (or URL) and says what to do.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error("{} does not exist: check the path, or pick the file again", path.display())]
    NotFound { path: PathBuf },
    #[error("{} is a folder, not an image file: pick a file inside it", path.display())]
    NotAFile { path: PathBuf },
    #[error("{} is {kind}, not an image file: pick a regular image file", path.display())]
    NotRegular { path: PathBuf, kind: &'static str },
    #[error("{} cannot be read ({detail}): check that the file is readable by you", path.display())]
    Unreadable { path: PathBuf, detail: String },
    #[error("{name} is empty (0 bytes): pick the image again, or export it anew")]
    Empty { name: String },
    #[error("{name} is not an image: it looks like {detail}. Pick a JPEG, PNG or WebP file")]
    NotAnImage { name: String, detail: String },
    #[error("{name} cannot be read here: its format is {format}. Convert it to JPEG or PNG")]
    UnsupportedFormat { name: String, format: String },
    #[error(
        "{name} is damaged or incomplete ({detail}): open it in an image viewer, or export it again"
    )]
    Damaged { name: String, detail: String },
    #[error("{name} is too large: {detail}")]
    TooLarge { name: String, detail: String },
    #[error("{name} cannot be used: {detail}")]
    Unusable { name: String, detail: String },
    #[error(
        "the longest input side is set to {max_side} pixels, and the service needs at least \
         {MIN_SIDE} on each side: set it to {MIN_SIDE} or more"
    )]
    MaxSideTooSmall { max_side: u32 },
    #[error("the URL {url:?} cannot be used: {detail}")]
    BadUrl { url: String, detail: String },
    #[error("{name} could not be converted for sending ({detail}): try saving it as a JPEG first")]
    Encode { name: String, detail: String },
    #[error("no preview for {url}: the service downloads the image itself")]
    NoPreview { url: String },
}

/// Prepares any input source for sending.
pub fn prepare(source: &InputSource, opts: &PrepareOptions) -> Result<PreparedInput, InputError> {
    match source {
        InputSource::File(p) => prepare_file(p, opts),
        InputSource::Url(u) if !opts.framing.is_identity() => Err(InputError::Unusable {
            name: u.clone(),
            detail: "a web address is sent as it is and cannot be framed (turned, flipped, \
                     cropped or padded): download the picture and frame the file"
                .into(),
        }),
        InputSource::Url(u) => prepare_url(u),
        InputSource::Bytes { name, data } => prepare_bytes(name, data, opts),
    }
}

/// Reads and prepares a local file.
pub fn prepare_file(path: &Path, opts: &PrepareOptions) -> Result<PreparedInput, InputError> {
    check_max_side(opts.max_side)?;
    let bytes = read_file(path, opts.max_file_bytes)?;
    prepare_bytes(&path.display().to_string(), &bytes, opts)
}

/// The size an image of `w` × `h` (after EXIF orientation) is sent at, with `max_side` the
/// longest side sent: what "use the input image's size" gives.
pub fn sent_size(w: u32, h: u32, max_side: u32) -> (u32, u32) {
    pixels::fit_within(w, h, max_side)
}

/// Prepares image bytes already in memory; `name` is what messages call them.
pub fn prepare_bytes(
    name: &str,
    bytes: &[u8],
    opts: &PrepareOptions,
) -> Result<PreparedInput, InputError> {
    check_max_side(opts.max_side)?;
    let decoded = decode(name, bytes, opts)?;
    if !opts.framing.is_identity() {
        return framed::prepare_framed(name, bytes.len(), decoded, opts);
    }
    let (ow, oh) = decoded.oriented_size();
    let fitted = pixels::fit_within(ow, oh, opts.max_side);
    usable::check_downscaled(name, (ow, oh), fitted, opts.max_side)?;
    let mut notes = decoded.notes.clone();
    let fits = ow.max(oh) <= opts.max_side;
    let transparent = pixels::has_transparency(&decoded.image);
    let web_format = matches!(
        decoded.format,
        ImageFormat::Jpeg | ImageFormat::Png | ImageFormat::WebP
    );
    let as_is = web_format
        && fits
        && decoded.orientation == Orientation::NoTransforms
        && bytes.len() < opts.max_send_bytes
        && !decoded.altered
        && !transparent;
    if as_is {
        return Ok(PreparedInput {
            payload: base64::engine::general_purpose::STANDARD.encode(bytes),
            width: ow,
            height: oh,
            original_width: ow,
            original_height: oh,
            original_bytes: bytes.len() as u64,
            reencoded: false,
            notes,
        });
    }
    if transparent {
        notes.push("transparency flattened onto white".into());
    }
    let Decoded {
        image,
        orientation,
        width,
        height,
        ..
    } = decoded;
    let (dw, dh) = (image.width(), image.height());
    let mut rgb = pixels::to_rgb_on_white(image, transparent);
    let (tw, th) = pixels::fit_within(width, height, opts.max_side);
    if (tw, th) != (dw, dh) {
        rgb = pixels::resize_rgb(&rgb, tw, th).map_err(|detail| InputError::Encode {
            name: name.to_owned(),
            detail,
        })?;
        let (sw, sh) = oriented(orientation, tw, th);
        notes.push(format!("downscaled from {ow}×{oh} to {sw}×{sh}"));
    }
    let mut out = DynamicImage::ImageRgb8(rgb);
    out.apply_orientation(orientation);
    let rgb = out.into_rgb8();
    let jpeg = encode_within(name, &rgb, opts.max_send_bytes, &mut notes)?;
    Ok(PreparedInput {
        payload: base64::engine::general_purpose::STANDARD.encode(&jpeg),
        width: rgb.width(),
        height: rgb.height(),
        original_width: ow,
        original_height: oh,
        original_bytes: bytes.len() as u64,
        reencoded: true,
        notes,
    })
}

/// Checks an `http(s)` URL and passes it through; the service downloads the image itself.
pub fn prepare_url(url: &str) -> Result<PreparedInput, InputError> {
    let trimmed = url.trim();
    let bad = |detail: &str| InputError::BadUrl {
        url: trimmed.to_owned(),
        detail: detail.to_owned(),
    };
    if trimmed.is_empty() {
        return Err(bad("it is empty: paste the image's address"));
    }
    let parsed = url::Url::parse(trimmed).map_err(|e| {
        bad(&format!(
            "it is not a valid address ({e}): it must start with https:// or http://"
        ))
    })?;
    match parsed.scheme() {
        "http" | "https" => {}
        "file" => return Err(bad("a file:// address is local: pick the file instead")),
        "data" => {
            return Err(bad(
                "a data: address is not accepted: paste or pick the image",
            ));
        }
        other => {
            return Err(bad(&format!(
                "the service fetches only http:// and https:// addresses, not {other}:"
            )));
        }
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(bad("it names no host"));
    }
    Ok(PreparedInput {
        payload: parsed.to_string(),
        width: 0,
        height: 0,
        original_width: 0,
        original_height: 0,
        original_bytes: 0,
        reencoded: false,
        notes: vec![],
    })
}

/// Decodes an input for the screen: oriented, downscaled to `max_side` on its long side. Slow for
/// big files: call it off the UI thread.
pub fn preview(source: &InputSource, max_side: u32) -> Result<InputPreview, InputError> {
    let opts = PrepareOptions::default();
    let (name, bytes): (String, Arc<Vec<u8>>) = match source {
        InputSource::File(p) => (
            p.display().to_string(),
            Arc::new(read_file(p, opts.max_file_bytes)?),
        ),
        InputSource::Bytes { name, data } => (name.clone(), data.clone()),
        InputSource::Url(u) => return Err(InputError::NoPreview { url: u.clone() }),
    };
    let opts = PrepareOptions { max_side, ..opts };
    let decoded = decode(&name, &bytes, &opts)?;
    let (ow, oh) = decoded.oriented_size();
    let orientation = decoded.orientation;
    let (tw, th) = pixels::fit_within(decoded.width, decoded.height, max_side);
    let rgba = decoded.image.into_rgba8();
    let rgba = if (tw, th) != rgba.dimensions() {
        pixels::resize_rgba(&rgba, tw, th).map_err(|detail| InputError::Encode {
            name: name.clone(),
            detail,
        })?
    } else {
        rgba
    };
    let mut img = DynamicImage::ImageRgba8(rgba);
    img.apply_orientation(orientation);
    Ok(InputPreview {
        source: source.clone(),
        image: Arc::new(img.into_rgba8()),
        width: ow,
        height: oh,
        bytes: bytes.len() as u64,
    })
}

/// A decoded image, before orientation is applied.
struct Decoded {
    format: ImageFormat,
    /// The pixels: the whole image, or (a big JPEG) a reduced-size decode of it that is still at
    /// least as large as what was asked for.
    image: DynamicImage,
    /// The size the file declares, before orientation.
    width: u32,
    height: u32,
    orientation: Orientation,
    /// Sending the original bytes would not be faithful (animated, CMYK, 16-bit, …).
    altered: bool,
    notes: Vec<String>,
}

impl Decoded {
    fn oriented_size(&self) -> (u32, u32) {
        oriented(self.orientation, self.width, self.height)
    }
}

/// The size after `orientation` is applied to a `w`×`h` image.
fn oriented(orientation: Orientation, w: u32, h: u32) -> (u32, u32) {
    match orientation {
        Orientation::Rotate90
        | Orientation::Rotate270
        | Orientation::Rotate90FlipH
        | Orientation::Rotate270FlipH => (h, w),
        _ => (w, h),
    }
}

/// Reads a file, refusing missing files, anything but a regular file (a folder, a FIFO that would
/// block forever, a device that never ends) and files over `max_bytes` before opening them.
fn read_file(path: &Path, max_bytes: u64) -> Result<Vec<u8>, InputError> {
    let meta = std::fs::metadata(path).map_err(|e| io_error(path, &e))?;
    usable::check_regular(path, &meta.file_type())?;
    if meta.len() > max_bytes {
        return Err(InputError::TooLarge {
            name: path.display().to_string(),
            detail: format!(
                "the file has {} and the limit is {}: export a smaller version",
                human_bytes(meta.len()),
                human_bytes(max_bytes)
            ),
        });
    }
    let file = std::fs::File::open(path).map_err(|e| io_error(path, &e))?;
    // The path may have been swapped for something else between the two looks: look again at
    // what was opened.
    let opened = file.metadata().map_err(|e| io_error(path, &e))?;
    usable::check_regular(path, &opened.file_type())?;
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    // The cap also bounds files whose size is not known up front (in /proc, say).
    file.take(max_bytes.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| io_error(path, &e))?;
    if bytes.len() as u64 > max_bytes {
        return Err(InputError::TooLarge {
            name: path.display().to_string(),
            detail: format!("it holds more than {}", human_bytes(max_bytes)),
        });
    }
    Ok(bytes)
}

fn io_error(path: &Path, e: &std::io::Error) -> InputError {
    match e.kind() {
        std::io::ErrorKind::NotFound => InputError::NotFound {
            path: path.to_owned(),
        },
        std::io::ErrorKind::IsADirectory => InputError::NotAFile {
            path: path.to_owned(),
        },
        std::io::ErrorKind::PermissionDenied => InputError::Unreadable {
            path: path.to_owned(),
            detail: "permission denied".into(),
        },
        _ => InputError::Unreadable {
            path: path.to_owned(),
            detail: e.to_string(),
        },
    }
}

/// Checks the size and sniffs the format of an input's bytes.
fn checked_format(
    name: &str,
    bytes: &[u8],
    opts: &PrepareOptions,
) -> Result<ImageFormat, InputError> {
    if bytes.is_empty() {
        return Err(InputError::Empty {
            name: name.to_owned(),
        });
    }
    if bytes.len() as u64 > opts.max_file_bytes {
        return Err(InputError::TooLarge {
            name: name.to_owned(),
            detail: format!(
                "it has {} and the limit is {}: export a smaller version",
                human_bytes(bytes.len() as u64),
                human_bytes(opts.max_file_bytes)
            ),
        });
    }
    match sniff::sniff(bytes) {
        Sniffed::Image(f) => Ok(f),
        Sniffed::Unsupported(format) => Err(InputError::UnsupportedFormat {
            name: name.to_owned(),
            format,
        }),
        Sniffed::NotImage(detail) => Err(InputError::NotAnImage {
            name: name.to_owned(),
            detail,
        }),
    }
}

/// Sniffs, checks and decodes, recording what the decode changed.
fn decode(name: &str, bytes: &[u8], opts: &PrepareOptions) -> Result<Decoded, InputError> {
    let format = checked_format(name, bytes, opts)?;
    let damaged = |detail: String| InputError::Damaged {
        name: name.to_owned(),
        detail,
    };
    let mut notes = Vec::new();
    let mut altered = false;
    let jpeg = (format == ImageFormat::Jpeg)
        .then(|| sniff::jpeg_facts(bytes))
        .flatten();
    if let Some(facts) = jpeg {
        if facts.truncated {
            return Err(damaged(
                "the file ends before the image does; it was probably cut off while \
                 copying or downloading"
                    .into(),
            ));
        }
        if facts.components == 4 {
            notes.push("CMYK converted to RGB".into());
            altered = true;
        }
    }
    if sniff::is_animated(format, bytes) {
        notes.push("first frame of an animation".into());
        altered = true;
    }

    let mut reader = image::ImageReader::with_format(std::io::Cursor::new(bytes), format);
    let mut limits = image::Limits::default();
    // Enough for the largest accepted image at 16 bits × 4 channels, plus decoder scratch.
    limits.max_alloc = Some(
        opts.max_pixels
            .saturating_mul(8)
            .saturating_add(64 * 1024 * 1024),
    );
    reader.limits(limits);
    let mut decoder = reader
        .into_decoder()
        .map_err(|e| image_error(name, format, e))?;
    let (w, h) = decoder.dimensions();
    check_declared(name, w, h, opts)?;
    // A damaged EXIF block is no reason to refuse the picture: treat it as upright.
    let orientation = decoder.orientation().unwrap_or(Orientation::NoTransforms);
    let (ow, oh) = oriented(orientation, w, h);
    usable::check_size(name, ow, oh)?;
    if orientation != Orientation::NoTransforms {
        notes.push("rotated per EXIF".into());
    }
    let color = decoder.color_type();
    match color {
        ColorType::L16 | ColorType::La16 | ColorType::Rgb16 | ColorType::Rgba16 => {
            notes.push("16-bit converted to 8-bit".into());
            altered = true;
        }
        ColorType::Rgb32F | ColorType::Rgba32F => {
            notes.push("floating-point converted to 8-bit".into());
            altered = true;
        }
        _ => {}
    }
    // A JPEG much larger than needed is decoded at 1/2, 1/4 or 1/8 of its size (the IDCT does the
    // reduction): far less pixel work. Any failure falls back to the full decode below, which
    // names what is wrong with the file.
    // (Not when the job frames it: its crop is in the whole picture's pixels.)
    if format == image::ImageFormat::Jpeg
        && matches!(color, ColorType::Rgb8 | ColorType::L8)
        && w.max(h) > opts.max_side
        && opts.framing.is_identity()
    {
        let (tw, th) = pixels::fit_within(w, h, opts.max_side);
        if let Some(image) = pixels::decode_jpeg_reduced(bytes, tw, th) {
            return Ok(Decoded {
                format,
                image,
                width: w,
                height: h,
                orientation,
                altered,
                notes,
            });
        }
    }
    let image = DynamicImage::from_decoder(decoder).map_err(|e| image_error(name, format, e))?;
    Ok(Decoded {
        format,
        width: w,
        height: h,
        image,
        orientation,
        altered,
        notes,
    })
}

/// Refuses, from the header alone, an image too large to decode and one with no pixels.
fn check_declared(name: &str, w: u32, h: u32, opts: &PrepareOptions) -> Result<(), InputError> {
    let pixels = u64::from(w) * u64::from(h);
    if pixels > opts.max_pixels {
        return Err(InputError::TooLarge {
            name: name.to_owned(),
            detail: format!(
                "it declares {w}×{h} pixels ({:.0} megapixels) and the limit is {:.0} \
                 megapixels: export a smaller version",
                pixels as f64 / 1e6,
                opts.max_pixels as f64 / 1e6
            ),
        });
    }
    if w == 0 || h == 0 {
        return Err(InputError::Damaged {
            name: name.to_owned(),
            detail: format!("it declares a size of {w}×{h} pixels"),
        });
    }
    Ok(())
}

/// Maps a decoder error to plain words.
fn image_error(name: &str, format: ImageFormat, e: ImageError) -> InputError {
    let what = sniff::format_name(format);
    match e {
        ImageError::Limits(_) => InputError::TooLarge {
            name: name.to_owned(),
            detail: "decoding it would need more memory than allowed: export a smaller version"
                .into(),
        },
        ImageError::Unsupported(u) => InputError::UnsupportedFormat {
            name: name.to_owned(),
            format: format!("{what} variant ({})", trim_detail(&u.to_string())),
        },
        ImageError::IoError(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
            InputError::Damaged {
                name: name.to_owned(),
                detail: format!("the {what} data ends early; the file was probably cut off"),
            }
        }
        // zune-jpeg reports a short read as a format error.
        ImageError::Decoding(d) if d.to_string().contains("Not enough bytes") => {
            InputError::Damaged {
                name: name.to_owned(),
                detail: format!("the {what} data ends early; the file was probably cut off"),
            }
        }
        other => InputError::Damaged {
            name: name.to_owned(),
            detail: format!(
                "the {what} data cannot be decoded: {}",
                trim_detail(&other.to_string())
            ),
        },
    }
}

/// A decoder's message, shortened to one line.
fn trim_detail(s: &str) -> String {
    let line = s.lines().next().unwrap_or("").trim();
    let mut out: String = line.chars().take(160).collect();
    if line.chars().count() > 160 {
        out.push('…');
    }
    out
}

/// Encodes as JPEG, lowering the quality only while the result is over `max_bytes`.
fn encode_within(
    name: &str,
    rgb: &image::RgbImage,
    max_bytes: usize,
    notes: &mut Vec<String>,
) -> Result<Vec<u8>, InputError> {
    let mut last = Vec::new();
    for (i, q) in JPEG_QUALITIES.iter().enumerate() {
        last = pixels::encode_jpeg(rgb, *q).map_err(|detail| InputError::Encode {
            name: name.to_owned(),
            detail,
        })?;
        if last.len() <= max_bytes {
            if i > 0 {
                notes.push(format!(
                    "JPEG quality lowered to {q} to stay under the size limit"
                ));
            }
            return Ok(last);
        }
    }
    // Still over: send the smallest we made; the server accepts larger bodies, this is a target.
    notes.push(format!(
        "re-encoded at JPEG quality {} and still {}",
        JPEG_QUALITIES[JPEG_QUALITIES.len() - 1],
        human_bytes(last.len() as u64)
    ));
    Ok(last)
}

/// `12.3 MB`-style sizes for messages.
fn human_bytes(n: u64) -> String {
    if n >= 1024 * 1024 {
        format!("{:.1} MB", n as f64 / (1024.0 * 1024.0))
    } else if n >= 1024 {
        format!("{:.0} KB", n as f64 / 1024.0)
    } else {
        format!("{n} bytes")
    }
}
