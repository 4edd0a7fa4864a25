//! Reading the EXIF `UserComment`, where AUTOMATIC1111 (and Forge) keep the "parameters" text of
//! their JPEG and WebP files. Read only: we write a JPEG `COM` segment ourselves (see `meta`).
//!
//! Just enough TIFF to get there: the byte order, IFD0, the pointer to the Exif IFD (tag 0x8769)
//! and in it tag 0x9286. Every offset is bounds-checked; a malformed block gives `None`.

/// The Exif IFD pointer in IFD0.
const EXIF_IFD: u16 = 0x8769;
/// `UserComment` in the Exif IFD.
const USER_COMMENT: u16 = 0x9286;
/// The most IFD entries we look at (a real IFD has a few dozen).
const MAX_ENTRIES: usize = 512;

struct Tiff<'a> {
    b: &'a [u8],
    big_endian: bool,
}

impl Tiff<'_> {
    fn u16(&self, at: usize) -> Option<u16> {
        let s = self.b.get(at..at.checked_add(2)?)?;
        Some(if self.big_endian {
            u16::from_be_bytes([s[0], s[1]])
        } else {
            u16::from_le_bytes([s[0], s[1]])
        })
    }
    fn u32(&self, at: usize) -> Option<u32> {
        let s = self.b.get(at..at.checked_add(4)?)?;
        let a = [s[0], s[1], s[2], s[3]];
        Some(if self.big_endian {
            u32::from_be_bytes(a)
        } else {
            u32::from_le_bytes(a)
        })
    }
    /// The value bytes of `tag` in the IFD at `ifd` (types BYTE, ASCII and UNDEFINED only).
    fn find(&self, ifd: usize, tag: u16) -> Option<&[u8]> {
        let n = (self.u16(ifd)? as usize).min(MAX_ENTRIES);
        (0..n).find_map(|i| {
            let e = ifd.saturating_add(2 + i * 12);
            if self.u16(e)? != tag {
                return None;
            }
            let count = self.u32(e.saturating_add(4))? as usize;
            let inline = e.saturating_add(8);
            if count <= 4 {
                self.b.get(inline..inline.saturating_add(count))
            } else {
                let off = self.u32(inline)? as usize;
                self.b.get(off..off.checked_add(count)?)
            }
        })
    }
    fn find_u32(&self, ifd: usize, tag: u16) -> Option<u32> {
        let n = (self.u16(ifd)? as usize).min(MAX_ENTRIES);
        (0..n).find_map(|i| {
            let e = ifd.saturating_add(2 + i * 12);
            (self.u16(e)? == tag)
                .then(|| self.u32(e.saturating_add(8)))
                .flatten()
        })
    }
}

/// The `UserComment` of an EXIF block (with or without its `Exif\0\0` prefix), as text.
pub fn user_comment(exif: &[u8]) -> Option<String> {
    let b = exif.strip_prefix(b"Exif\0\0").unwrap_or(exif);
    let big_endian = match b.get(0..4)? {
        [b'M', b'M', 0, 42] => true,
        [b'I', b'I', 42, 0] => false,
        _ => return None,
    };
    let t = Tiff { b, big_endian };
    let ifd0 = t.u32(4)? as usize;
    let exif_ifd = t.find_u32(ifd0, EXIF_IFD)? as usize;
    let raw = t.find(exif_ifd, USER_COMMENT)?;
    let (code, text) = (raw.get(..8)?, raw.get(8..)?);
    let s = match code {
        b"UNICODE\0" => {
            // piexif (which A1111 uses) writes UTF-16 big-endian; some tools follow the TIFF's
            // byte order instead. Guess from where the zero bytes of ASCII text fall.
            let be = match text {
                [0, x, ..] if *x != 0 => true,
                [x, 0, ..] if *x != 0 => false,
                _ => big_endian,
            };
            let units: Vec<u16> = text
                .chunks_exact(2)
                .map(|c| {
                    if be {
                        u16::from_be_bytes([c[0], c[1]])
                    } else {
                        u16::from_le_bytes([c[0], c[1]])
                    }
                })
                .collect();
            String::from_utf16_lossy(&units)
        }
        _ => String::from_utf8_lossy(text).into_owned(),
    };
    let s = s.trim_end_matches('\0').to_owned();
    (!s.trim().is_empty()).then_some(s)
}

/// The EXIF blocks of a JPEG (`APP1` segments starting `Exif\0\0`), given its segments.
pub fn jpeg_exif<'a>(segments: &[(u8, &'a [u8], usize)]) -> Vec<&'a [u8]> {
    segments
        .iter()
        .filter(|(m, p, _)| *m == 0xE1 && p.starts_with(b"Exif\0\0"))
        .map(|(_, p, _)| *p)
        .collect()
}

/// The `EXIF` chunk of a WebP file.
pub fn webp_exif(b: &[u8]) -> Option<&[u8]> {
    if b.len() < 12 || &b[0..4] != b"RIFF" || &b[8..12] != b"WEBP" {
        return None;
    }
    let mut at = 12usize;
    while let Some(head) = b.get(at..at + 8) {
        let size = u32::from_le_bytes([head[4], head[5], head[6], head[7]]) as usize;
        let data = b.get(at + 8..(at + 8).checked_add(size)?)?;
        if &head[0..4] == b"EXIF" {
            return Some(data);
        }
        at = at + 8 + size + (size & 1);
    }
    None
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A minimal EXIF block with a UserComment, as piexif writes it (big-endian TIFF, UTF-16BE).
    pub(crate) fn exif_with_comment(text: &str, big_endian: bool) -> Vec<u8> {
        let w16 = |v: u16| {
            if big_endian {
                v.to_be_bytes()
            } else {
                v.to_le_bytes()
            }
        };
        let w32 = |v: u32| {
            if big_endian {
                v.to_be_bytes()
            } else {
                v.to_le_bytes()
            }
        };
        let mut comment = b"UNICODE\0".to_vec();
        for u in text.encode_utf16() {
            comment.extend(u.to_be_bytes());
        }
        let mut t = Vec::new();
        t.extend(if big_endian {
            *b"MM\0\x2a"
        } else {
            *b"II\x2a\0"
        });
        t.extend(w32(8)); // IFD0 at 8
        // IFD0: one entry, the Exif pointer.
        t.extend(w16(1));
        t.extend(w16(EXIF_IFD));
        t.extend(w16(4)); // LONG
        t.extend(w32(1));
        t.extend(w32(26)); // Exif IFD at 26
        t.extend(w32(0)); // no next IFD
        assert_eq!(t.len(), 26);
        t.extend(w16(1));
        t.extend(w16(USER_COMMENT));
        t.extend(w16(7)); // UNDEFINED
        t.extend(w32(comment.len() as u32));
        t.extend(w32(44));
        t.extend(w32(0));
        assert_eq!(t.len(), 44);
        t.extend(comment);
        let mut out = b"Exif\0\0".to_vec();
        out.extend(t);
        out
    }

    #[test]
    fn reads_piexif_user_comments_in_both_byte_orders() {
        let text = "a cat\nSteps: 20, Seed: 1";
        assert_eq!(
            user_comment(&exif_with_comment(text, true)).as_deref(),
            Some(text)
        );
        assert_eq!(
            user_comment(&exif_with_comment(text, false)).as_deref(),
            Some(text)
        );
    }

    #[test]
    fn malformed_blocks_give_none_without_panicking() {
        let good = exif_with_comment("x\nSteps: 1", true);
        for cut in 0..good.len() {
            let _ = user_comment(&good[..cut]);
        }
        let mut bad = good.clone();
        bad[6 + 4..6 + 8].copy_from_slice(&u32::MAX.to_be_bytes());
        assert_eq!(user_comment(&bad), None);
        assert_eq!(user_comment(b""), None);
        assert_eq!(webp_exif(b"RIFF\0\0\0\0WEBPEXIF\xff\xff\xff\xff"), None);
    }

    #[test]
    fn finds_the_webp_exif_chunk() {
        let exif = exif_with_comment("y\nSteps: 2", false);
        let mut w = b"RIFF\0\0\0\0WEBPVP8L".to_vec();
        w.extend(3u32.to_le_bytes());
        w.extend([1, 2, 3, 0]); // odd size, padded
        w.extend(b"EXIF");
        w.extend((exif.len() as u32).to_le_bytes());
        w.extend(&exif);
        assert_eq!(webp_exif(&w), Some(&exif[..]));
    }
}
