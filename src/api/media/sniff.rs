//! Format sniffing from the bytes themselves (never the file name), plus the few container facts
//! the decoders do not report: whether a GIF/PNG/WebP is animated, whether a JPEG is CMYK, and
//! whether a JPEG was cut off before its end marker.

use image::ImageFormat;

/// What the first bytes say the data is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sniffed {
    /// An image format this build can decode.
    Image(ImageFormat),
    /// An image format we recognise but cannot decode (e.g. HEIC, AVIF, SVG).
    Unsupported(String),
    /// Not an image at all; the text says what it looks like.
    NotImage(String),
}

/// Identifies the data from its leading bytes.
pub fn sniff(bytes: &[u8]) -> Sniffed {
    if let Some(brand) = iso_bmff_brand(bytes) {
        return match brand {
            "avif" | "avis" => Sniffed::Unsupported("AVIF".into()),
            "heic" | "heix" | "hevc" | "hevx" | "heim" | "heis" | "mif1" | "msf1" => {
                Sniffed::Unsupported("HEIC/HEIF (an iPhone photo format)".into())
            }
            _ => Sniffed::NotImage("a video or other media file".into()),
        };
    }
    if let Ok(format) = image::guess_format(bytes) {
        return if format.reading_enabled() {
            Sniffed::Image(format)
        } else {
            Sniffed::Unsupported(format_name(format))
        };
    }
    if is_svg(bytes) {
        return Sniffed::Unsupported("SVG (a vector drawing)".into());
    }
    Sniffed::NotImage(describe_non_image(bytes))
}

fn is_svg(bytes: &[u8]) -> bool {
    let head = String::from_utf8_lossy(&bytes[..bytes.len().min(1024)]).to_ascii_lowercase();
    let t = head.trim_start_matches('\u{feff}').trim_start();
    t.starts_with("<svg") || (t.starts_with("<?xml") && t.contains("<svg"))
}

/// A short human name for a format ("JPEG", "PNG", …).
pub fn format_name(format: ImageFormat) -> String {
    match format {
        ImageFormat::Jpeg => "JPEG".into(),
        ImageFormat::Png => "PNG".into(),
        ImageFormat::WebP => "WebP".into(),
        ImageFormat::Gif => "GIF".into(),
        ImageFormat::Bmp => "BMP".into(),
        ImageFormat::Tiff => "TIFF".into(),
        ImageFormat::Avif => "AVIF".into(),
        ImageFormat::OpenExr => "OpenEXR".into(),
        ImageFormat::Hdr => "Radiance HDR".into(),
        ImageFormat::Ico => "ICO (an icon)".into(),
        ImageFormat::Qoi => "QOI".into(),
        ImageFormat::Pnm => "PNM".into(),
        ImageFormat::Dds => "DDS (a texture)".into(),
        ImageFormat::Farbfeld => "farbfeld".into(),
        ImageFormat::Tga => "TGA".into(),
        other => format!("{other:?}"),
    }
}

/// The major brand of an ISO base media file (`....ftypBRND`), used by HEIC, AVIF and MP4.
fn iso_bmff_brand(bytes: &[u8]) -> Option<&str> {
    if bytes.len() >= 12 && &bytes[4..8] == b"ftyp" {
        std::str::from_utf8(&bytes[8..12]).ok()
    } else {
        None
    }
}

/// Says in plain words what non-image data looks like.
fn describe_non_image(bytes: &[u8]) -> String {
    let head = &bytes[..bytes.len().min(512)];
    let text = String::from_utf8_lossy(head);
    let trimmed = text.trim_start_matches('\u{feff}').trim_start();
    let lower = trimmed.to_ascii_lowercase();
    if head.starts_with(b"%PDF") {
        "a PDF document".into()
    } else if lower.starts_with("<!doctype html") || lower.starts_with("<html") {
        "a web page (HTML), perhaps saved instead of the image itself".into()
    } else if head.starts_with(b"PK\x03\x04") {
        "a ZIP archive (or a document packed as one)".into()
    } else if head.starts_with(b"\x1f\x8b") {
        "a gzip archive".into()
    } else if looks_like_text(head) {
        "plain text".into()
    } else {
        "data of an unknown kind".into()
    }
}

fn looks_like_text(head: &[u8]) -> bool {
    match std::str::from_utf8(head) {
        Ok(s) => s
            .chars()
            .all(|c| !c.is_control() || c == '\n' || c == '\r' || c == '\t'),
        // The 512-byte cut may split a character: accept an error only in the last 3 bytes.
        Err(e) => e.error_len().is_none() && looks_like_text(&head[..e.valid_up_to()]),
    }
}

/// What a JPEG's marker segments say before the entropy-coded data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JpegFacts {
    /// Colour components in the frame header (4: CMYK or YCCK).
    pub components: u8,
    /// The file ends before its end-of-image marker: it was cut off.
    pub truncated: bool,
}

/// Walks a JPEG's top-level segments to its first scan. `None` when the structure cannot be read
/// (the decoder then reports the damage itself).
pub fn jpeg_facts(bytes: &[u8]) -> Option<JpegFacts> {
    if !bytes.starts_with(&[0xFF, 0xD8]) {
        return None;
    }
    let mut pos = 2usize;
    let mut components = None;
    loop {
        // Skip fill bytes before a marker.
        while bytes.get(pos) == Some(&0xFF) && bytes.get(pos + 1) == Some(&0xFF) {
            pos += 1;
        }
        if bytes.get(pos) != Some(&0xFF) {
            return None;
        }
        let marker = *bytes.get(pos + 1)?;
        let len = usize::from(u16::from_be_bytes([
            *bytes.get(pos + 2)?,
            *bytes.get(pos + 3)?,
        ]));
        if len < 2 {
            return None;
        }
        let is_sof = matches!(marker, 0xC0..=0xCF) && !matches!(marker, 0xC4 | 0xC8 | 0xCC);
        if is_sof {
            components = bytes.get(pos + 9).copied();
        }
        if marker == 0xDA {
            let scan_start = pos + 2 + len;
            let rest = bytes.get(scan_start..).unwrap_or(&[]);
            // From the end: the EOI marker is normally in the last bytes, so this is quick.
            let truncated = !rest.windows(2).rev().any(|w| w == [0xFF, 0xD9]);
            return Some(JpegFacts {
                components: components?,
                truncated,
            });
        }
        pos += 2 + len;
    }
}

/// Whether a GIF, PNG or WebP holds more than one frame.
pub fn is_animated(format: ImageFormat, bytes: &[u8]) -> bool {
    match format {
        ImageFormat::Png => png_is_animated(bytes),
        ImageFormat::WebP => webp_is_animated(bytes),
        ImageFormat::Gif => gif_frame_count(bytes, 2) > 1,
        _ => false,
    }
}

/// An APNG has an `acTL` chunk before its first `IDAT`, with more than one frame.
fn png_is_animated(bytes: &[u8]) -> bool {
    let mut pos = 8usize;
    while let Some(hdr) = bytes.get(pos..pos + 8) {
        let len = u32::from_be_bytes([hdr[0], hdr[1], hdr[2], hdr[3]]) as usize;
        let kind = &hdr[4..8];
        if kind == b"acTL" {
            return bytes
                .get(pos + 8..pos + 12)
                .map(|n| u32::from_be_bytes([n[0], n[1], n[2], n[3]]) > 1)
                .unwrap_or(false);
        }
        if kind == b"IDAT" || kind == b"IEND" {
            return false;
        }
        pos = pos.saturating_add(12).saturating_add(len);
    }
    false
}

/// An animated WebP is an extended file (`VP8X`) with the animation flag set.
fn webp_is_animated(bytes: &[u8]) -> bool {
    bytes.len() > 20 && &bytes[12..16] == b"VP8X" && bytes[20] & 0x02 != 0
}

/// Counts a GIF's image descriptors, stopping at `stop_at`.
fn gif_frame_count(bytes: &[u8], stop_at: usize) -> usize {
    let Some(&flags) = bytes.get(10) else {
        return 0;
    };
    let mut pos = 13usize;
    if flags & 0x80 != 0 {
        pos += 3 * (1usize << ((flags & 0x07) + 1));
    }
    let mut frames = 0;
    while let Some(&b) = bytes.get(pos) {
        match b {
            0x21 => {
                // Extension: label, then data sub-blocks.
                pos = skip_sub_blocks(bytes, pos + 2);
            }
            0x2C => {
                frames += 1;
                if frames >= stop_at {
                    return frames;
                }
                let Some(&lflags) = bytes.get(pos + 9) else {
                    return frames;
                };
                pos += 10;
                if lflags & 0x80 != 0 {
                    pos += 3 * (1usize << ((lflags & 0x07) + 1));
                }
                // LZW minimum code size, then the data sub-blocks.
                pos = skip_sub_blocks(bytes, pos + 1);
            }
            _ => return frames, // 0x3B trailer, or damage
        }
    }
    frames
}

fn skip_sub_blocks(bytes: &[u8], mut pos: usize) -> usize {
    while let Some(&n) = bytes.get(pos) {
        pos += 1;
        if n == 0 {
            return pos;
        }
        pos += usize::from(n);
    }
    pos
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_non_images() {
        assert_eq!(
            sniff(b"%PDF-1.7\n..."),
            Sniffed::NotImage("a PDF document".into())
        );
        assert!(
            matches!(sniff(b"  <!DOCTYPE html><html>"), Sniffed::NotImage(s) if s.contains("HTML"))
        );
        assert_eq!(
            sniff(b"hello there\n"),
            Sniffed::NotImage("plain text".into())
        );
        assert!(
            matches!(sniff(b"\0\x01\x02\x03\x04\x05"), Sniffed::NotImage(s) if s.contains("unknown"))
        );
        assert!(
            matches!(sniff(b"\0\0\0\x18ftypheic\0\0\0\0"), Sniffed::Unsupported(s) if s.contains("HEIC"))
        );
        assert!(
            matches!(sniff(b"qoif\0\0\0\x01\0\0\0\x01\x03\0"), Sniffed::Unsupported(s) if s == "QOI")
        );
    }

    #[test]
    fn jpeg_walk_survives_garbage() {
        assert_eq!(jpeg_facts(b"\xFF\xD8"), None);
        assert_eq!(jpeg_facts(b"\xFF\xD8\xFF\xE0\x00"), None);
        assert_eq!(jpeg_facts(b"\xFF\xD8\xFF\xE0\x00\x01"), None);
        assert_eq!(gif_frame_count(b"GIF89a", 2), 0);
        assert!(!png_is_animated(b"\x89PNG\r\n\x1a\n\0\0\0\x0dacTL"));
    }
}
