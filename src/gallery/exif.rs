//! The EXIF block of JPEG and WebP files, where AUTOMATIC1111 (and Forge, and image sites) keep the
//! "parameters" text: the Exif IFD's `UserComment`, character code `UNICODE\0` then the text in
//! UTF-16, big-endian, as A1111 writes it (piexif's `UserComment.dump(text, encoding="unicode")`
//! in a big-endian TIFF). Our WebP files also carry our request JSON in `MakerNote`, prefixed
//! `fluxcn:` (JPEG files keep it in a comment segment).
//!
//! Parsing and building the TIFF structure is the `kamadak-exif` crate's; this file only puts our
//! two fields in and takes them out, and encodes the comment's text.

use std::io::Cursor;

use exif::experimental::Writer;
use exif::{Field, In, Reader, Tag, Value};

/// The character code of a UTF-16 `UserComment` (EXIF 2.3, table 9).
const UNICODE: &[u8; 8] = b"UNICODE\0";
const ASCII: &[u8; 8] = b"ASCII\0\0\0";
const UNDEFINED: &[u8; 8] = &[0; 8];
const JIS: &[u8; 8] = b"JIS\0\0\0\0\0";

/// A `UserComment` whose text cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommentError {
    /// UTF-16 text of an odd number of bytes.
    #[error("its UTF-16 text has an odd number of bytes ({bytes})")]
    OddLength { bytes: usize },
    /// UTF-16 with an unpaired surrogate.
    #[error("it is not valid UTF-16 (an unpaired surrogate at byte {at})")]
    BadUtf16 { at: usize },
    /// Text in the JIS character code, which this app does not read.
    #[error("its text is in the JIS character code, which this app does not read")]
    Jis,
}

/// What an EXIF block holds for us.
#[derive(Debug, Default, PartialEq)]
pub struct ExifTexts {
    /// The `UserComment` as text (trailing NULs removed), or why it cannot be read.
    pub user_comment: Option<Result<String, CommentError>>,
    /// The `MakerNote` bytes.
    pub maker_note: Option<Vec<u8>>,
}

/// Reads an EXIF block (TIFF data, with or without the `Exif\0\0` of a JPEG segment). A block that
/// is not EXIF gives nothing; a damaged field elsewhere in it does not hide ours.
pub fn read(block: &[u8]) -> ExifTexts {
    let tiff = block.strip_prefix(b"Exif\0\0").unwrap_or(block);
    let parsed = match Reader::new()
        .continue_on_error(true)
        .read_raw(tiff.to_vec())
    {
        Ok(e) => e,
        Err(exif::Error::PartialResult(partial)) => partial.into_inner().0,
        Err(_) => return ExifTexts::default(),
    };
    let bytes = |tag: Tag| match parsed.get_field(tag, In::PRIMARY).map(|f| &f.value) {
        Some(Value::Undefined(b, _)) | Some(Value::Byte(b)) => Some(b.clone()),
        Some(Value::Ascii(parts)) => Some(parts.concat()),
        _ => None,
    };
    ExifTexts {
        user_comment: bytes(Tag::UserComment)
            .map(|raw| decode_user_comment(&raw, parsed.little_endian()))
            .filter(|r| !matches!(r, Ok(t) if t.trim().is_empty())),
        maker_note: bytes(Tag::MakerNote),
    }
}

/// The `UserComment` bytes for `text`: `UNICODE\0` and UTF-16 big-endian, as A1111 writes it.
pub fn encode_user_comment(text: &str) -> Vec<u8> {
    let mut out = UNICODE.to_vec();
    out.extend(text.encode_utf16().flat_map(u16::to_be_bytes));
    out
}

/// The text of a `UserComment` value. UTF-16 is read big-endian, as A1111 (piexif) writes it,
/// unless the text's zero bytes say it is little-endian (tools that follow a little-endian TIFF's
/// byte order); ASCII and undefined codes are read as UTF-8.
pub fn decode_user_comment(raw: &[u8], tiff_little_endian: bool) -> Result<String, CommentError> {
    let (code, body) = match raw.split_first_chunk::<8>() {
        Some((code, body)) => (Some(code), body),
        None => (None, raw),
    };
    let text = match code {
        Some(c) if c == UNICODE => utf16(body, tiff_little_endian)?,
        Some(c) if c == JIS => return Err(CommentError::Jis),
        Some(c) if c == ASCII || c == UNDEFINED => String::from_utf8_lossy(body).into_owned(),
        _ => String::from_utf8_lossy(raw).into_owned(),
    };
    Ok(text.trim_end_matches('\0').to_owned())
}

fn utf16(body: &[u8], tiff_little_endian: bool) -> Result<String, CommentError> {
    if !body.len().is_multiple_of(2) {
        return Err(CommentError::OddLength { bytes: body.len() });
    }
    let little = match body {
        [0, x, ..] if *x != 0 => false,
        [x, 0, ..] if *x != 0 => true,
        _ => tiff_little_endian,
    };
    let units: Vec<u16> = body
        .chunks_exact(2)
        .map(|c| {
            if little {
                u16::from_le_bytes([c[0], c[1]])
            } else {
                u16::from_be_bytes([c[0], c[1]])
            }
        })
        .collect();
    let mut out = String::with_capacity(units.len());
    for (i, c) in char::decode_utf16(units.iter().copied()).enumerate() {
        match c {
            Ok(c) => out.push(c),
            Err(_) => return Err(CommentError::BadUtf16 { at: 8 + 2 * i }),
        }
    }
    Ok(out)
}

/// An EXIF block (big-endian TIFF, without the `Exif\0\0` prefix) holding `comment` as the
/// `UserComment` and `maker_note` as the `MakerNote`, at most `max` bytes: a comment too long for
/// that is cut at a character (our own record keeps the whole text). `None` when even an empty
/// comment does not fit or the block cannot be built.
pub fn build(comment: &str, maker_note: Option<&[u8]>, max: usize) -> Option<Vec<u8>> {
    let whole = encode(comment, maker_note)?;
    if whole.len() <= max {
        return Some(whole);
    }
    let over = whole.len() - max;
    let budget = (comment.encode_utf16().count() * 2).checked_sub(over)?;
    let mut used = 0;
    let cut: String = comment
        .chars()
        .take_while(|c| {
            used += c.len_utf16() * 2;
            used <= budget
        })
        .collect();
    tracing::warn!(
        chars = comment.chars().count(),
        kept = cut.chars().count(),
        "the A1111 text is too long for the EXIF UserComment: cut (the file's own record keeps it whole)"
    );
    encode(&cut, maker_note).filter(|b| b.len() <= max)
}

fn encode(comment: &str, maker_note: Option<&[u8]>) -> Option<Vec<u8>> {
    let user_comment = Field {
        tag: Tag::UserComment,
        ifd_num: In::PRIMARY,
        value: Value::Undefined(encode_user_comment(comment), 0),
    };
    let note = maker_note.map(|m| Field {
        tag: Tag::MakerNote,
        ifd_num: In::PRIMARY,
        value: Value::Undefined(m.to_vec(), 0),
    });
    let mut w = Writer::new();
    w.push_field(&user_comment);
    if let Some(n) = &note {
        w.push_field(n);
    }
    let mut out = Cursor::new(Vec::new());
    match w.write(&mut out, false) {
        Ok(()) => Some(out.into_inner()),
        Err(e) => {
            tracing::warn!(error = %e, "could not build the EXIF block");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_built_block_reads_back_and_is_big_endian_as_piexif_writes() {
        let text = "a cat ☃ 🐈\nSteps: 20, Seed: 1";
        let b = build(text, Some(b"fluxcn:{}"), 65_000).unwrap();
        assert_eq!(&b[..4], b"MM\0\x2a");
        let t = read(&b);
        assert_eq!(t.user_comment, Some(Ok(text.to_owned())));
        assert_eq!(t.maker_note.as_deref(), Some(&b"fluxcn:{}"[..]));
        let mut jpeg_style = b"Exif\0\0".to_vec();
        jpeg_style.extend(&b);
        assert_eq!(read(&jpeg_style).user_comment, Some(Ok(text.to_owned())));
    }

    #[test]
    fn a_long_comment_is_cut_to_fit_at_a_character() {
        let text = "🐈".repeat(20_000);
        let b = build(&text, None, 65_527).unwrap();
        assert!(b.len() <= 65_527);
        let back = read(&b).user_comment.unwrap().unwrap();
        assert!(back.len() > 40_000 && text.starts_with(&back));
        assert_eq!(build("x", None, 10), None);
    }

    #[test]
    fn comments_in_every_code_and_byte_order_and_bad_ones() {
        let le: Vec<u8> = UNICODE
            .iter()
            .copied()
            .chain("ab".encode_utf16().flat_map(u16::to_le_bytes))
            .collect();
        assert_eq!(decode_user_comment(&le, false).unwrap(), "ab");
        assert_eq!(
            decode_user_comment(b"ASCII\0\0\0hi\0\0", false).unwrap(),
            "hi"
        );
        assert_eq!(decode_user_comment(b"plain", false).unwrap(), "plain");
        assert_eq!(
            decode_user_comment(b"UNICODE\0\0a\0", false),
            Err(CommentError::OddLength { bytes: 3 })
        );
        assert_eq!(
            decode_user_comment(b"UNICODE\0\xd8\x01\0a", false),
            Err(CommentError::BadUtf16 { at: 8 })
        );
        assert_eq!(
            decode_user_comment(b"JIS\0\0\0\0\0xx", false),
            Err(CommentError::Jis)
        );
    }

    #[test]
    fn malformed_blocks_give_nothing_without_panicking() {
        let good = build("x\nSteps: 1", Some(b"m"), 1000).unwrap();
        for cut in 0..good.len() {
            let _ = read(&good[..cut]);
        }
        let mut rng = fastrand::Rng::with_seed(3);
        for _ in 0..2000 {
            let mut b = good.clone();
            for _ in 0..4 {
                let i = rng.usize(..b.len());
                b[i] = rng.u8(..);
            }
            let _ = read(&b);
        }
        assert_eq!(read(b""), ExifTexts::default());
    }
}
