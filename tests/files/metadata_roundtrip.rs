//! Our JPEG, WebP and PNG results carry their settings where AUTOMATIC1111 puts them (PNG
//! `parameters` text, the EXIF UserComment of JPEG and WebP, `UNICODE` and UTF-16 as A1111 writes
//! it) and our own request JSON beside it; both read back through our reader and through readers
//! written here from the formats' public descriptions (PNG chunks with their CRCs, JPEG segments, a
//! RIFF WebP's chunks and VP8X flags, a TIFF IFD walk to the UserComment), not from our writer's
//! code. The pixels are untouched.

use crate::common;

use std::path::Path;

use common::gallery::{encoded, params, save};
use fluxcn::api::{GenParams, ImageFormat};
use fluxcn::gallery::{Store, Tool, format_a1111, parse_a1111, read_any, read_settings};

/// CRC-32 (ISO 3309, as the PNG specification gives it), bit by bit.
fn crc32(bytes: &[u8]) -> u32 {
    let mut c = 0xFFFF_FFFFu32;
    for &b in bytes {
        c ^= u32::from(b);
        for _ in 0..8 {
            c = if c & 1 != 0 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
        }
    }
    !c
}

/// A PNG chunk's type and data.
type Chunk = (Vec<u8>, Vec<u8>);

/// PNG text chunks (keyword, text), from the PNG specification: after the 8-byte signature, chunks
/// of length (4, big-endian), type (4), data, CRC of type and data (checked here). `tEXt` is
/// `keyword NUL text` in Latin-1; `iTXt` is `keyword NUL flag method language NUL translated NUL
/// text` in UTF-8 (uncompressed only). Also returns the non-text chunks, to compare image data.
fn png_texts(b: &[u8]) -> (Vec<(String, String)>, Vec<Chunk>) {
    assert_eq!(&b[..8], b"\x89PNG\r\n\x1a\n");
    let (mut texts, mut others) = (Vec::new(), Vec::new());
    let mut at = 8;
    let mut seen_idat = false;
    while at < b.len() {
        let len = u32::from_be_bytes(b[at..at + 4].try_into().unwrap()) as usize;
        let kind = &b[at + 4..at + 8];
        let data = &b[at + 8..at + 8 + len];
        let crc = u32::from_be_bytes(b[at + 8 + len..at + 12 + len].try_into().unwrap());
        assert_eq!(crc, crc32(&b[at + 4..at + 8 + len]), "CRC of {kind:?}");
        match kind {
            b"tEXt" | b"iTXt" => assert!(!seen_idat, "text chunks come before the image data"),
            b"IDAT" => seen_idat = true,
            _ => {}
        }
        match kind {
            b"tEXt" => {
                let nul = data.iter().position(|&c| c == 0).unwrap();
                let latin1 = |s: &[u8]| s.iter().map(|&c| c as char).collect::<String>();
                texts.push((latin1(&data[..nul]), latin1(&data[nul + 1..])));
            }
            b"iTXt" => {
                let nul = data.iter().position(|&c| c == 0).unwrap();
                let key = String::from_utf8(data[..nul].to_vec()).unwrap();
                assert_eq!(data[nul + 1], 0, "uncompressed");
                let rest = &data[nul + 3..];
                let lang_end = rest.iter().position(|&c| c == 0).unwrap();
                let rest = &rest[lang_end + 1..];
                let tr_end = rest.iter().position(|&c| c == 0).unwrap();
                let text = String::from_utf8(rest[tr_end + 1..].to_vec()).unwrap();
                texts.push((key, text));
            }
            _ => others.push((kind.to_vec(), data.to_vec())),
        }
        at += 12 + len;
    }
    (texts, others)
}

/// JPEG segments before the scan (marker, payload), from ITU T.81: SOI, then `FF xx` markers each
/// with a big-endian length that counts itself, up to SOS.
fn jpeg_segments(b: &[u8]) -> Vec<(u8, Vec<u8>)> {
    assert_eq!(&b[..2], [0xFF, 0xD8]);
    let mut out = Vec::new();
    let mut at = 2;
    loop {
        assert_eq!(b[at], 0xFF, "a marker at {at}");
        let marker = b[at + 1];
        let len = u16::from_be_bytes([b[at + 2], b[at + 3]]) as usize;
        out.push((marker, b[at + 4..at + 2 + len].to_vec()));
        if marker == 0xDA {
            return out;
        }
        at += 2 + len;
    }
}

/// The EXIF fields we look for, from the TIFF 6.0 and EXIF 2.3 descriptions: byte order (`II` or
/// `MM`), 42, the offset of IFD0; IFD entries of 12 bytes (tag, type, count, value or offset);
/// IFD0's tag 0x8769 points to the Exif IFD, which holds UserComment (0x9286) and MakerNote
/// (0x927C), both of type UNDEFINED.
fn exif_fields(tiff: &[u8]) -> (Option<Vec<u8>>, Option<Vec<u8>>) {
    let be = match &tiff[..4] {
        b"MM\0\x2a" => true,
        b"II\x2a\0" => false,
        other => panic!("not TIFF: {other:?}"),
    };
    let u16_at = |at: usize| {
        let a = [tiff[at], tiff[at + 1]];
        if be {
            u16::from_be_bytes(a)
        } else {
            u16::from_le_bytes(a)
        }
    };
    let u32_at = |at: usize| {
        let a = tiff[at..at + 4].try_into().unwrap();
        if be {
            u32::from_be_bytes(a)
        } else {
            u32::from_le_bytes(a)
        }
    };
    let entry = |ifd: usize, tag: u16| {
        (0..u16_at(ifd) as usize)
            .map(|i| ifd + 2 + 12 * i)
            .find(|e| u16_at(*e) == tag)
    };
    let ifd0 = u32_at(4) as usize;
    let exif_ptr = entry(ifd0, 0x8769).expect("an Exif IFD pointer in IFD0");
    assert_eq!(u16_at(exif_ptr + 2), 4, "the pointer is a LONG");
    let exif_ifd = u32_at(exif_ptr + 8) as usize;
    let undefined = |tag: u16| {
        entry(exif_ifd, tag).map(|e| {
            assert_eq!(u16_at(e + 2), 7, "UNDEFINED");
            let count = u32_at(e + 4) as usize;
            let at = if count <= 4 {
                e + 8
            } else {
                u32_at(e + 8) as usize
            };
            tiff[at..at + count].to_vec()
        })
    };
    (undefined(0x9286), undefined(0x927C))
}

/// A UserComment as A1111 writes it: the character code `UNICODE\0`, then UTF-16 big-endian.
fn a1111_comment(raw: &[u8]) -> String {
    assert_eq!(&raw[..8], b"UNICODE\0");
    let units: Vec<u16> = raw[8..]
        .chunks_exact(2)
        .map(|c| u16::from_be_bytes([c[0], c[1]]))
        .collect();
    String::from_utf16(&units).unwrap()
}

/// A WebP's chunks (fourCC, data) from the RIFF container description: `RIFF`, the size of what
/// follows (little-endian, checked), `WEBP`, then chunks padded to an even size.
fn webp_chunks(b: &[u8]) -> Vec<([u8; 4], Vec<u8>)> {
    assert_eq!((&b[..4], &b[8..12]), (&b"RIFF"[..], &b"WEBP"[..]));
    assert_eq!(
        u32::from_le_bytes(b[4..8].try_into().unwrap()) as usize,
        b.len() - 8
    );
    let mut out = Vec::new();
    let mut at = 12;
    while at < b.len() {
        let id: [u8; 4] = b[at..at + 4].try_into().unwrap();
        let size = u32::from_le_bytes(b[at + 4..at + 8].try_into().unwrap()) as usize;
        out.push((id, b[at + 8..at + 8 + size].to_vec()));
        at += 8 + size + (size & 1);
    }
    out
}

/// The request JSON of our record, as the settings it holds.
fn record(json: &str) -> GenParams {
    serde_json::from_str(json).unwrap()
}

/// What sd-webui-controlnet's own parser needs of a unit: `Key: value` items split on `, `, each
/// with one `: `, no value holding either.
fn unit_items(text: &str) -> Vec<(String, String)> {
    let at = text.find("ControlNet 0: \"").expect("a ControlNet unit") + 15;
    let end = at + text[at..].find('"').unwrap();
    text[at..end]
        .split(", ")
        .map(|i| {
            let parts: Vec<&str> = i.split(": ").collect();
            assert_eq!(parts.len(), 2, "{i}");
            (parts[0].to_owned(), parts[1].to_owned())
        })
        .collect()
}

fn same_pixels(a: &[u8], b: &[u8]) {
    let a = image::load_from_memory(a).unwrap().to_rgba8();
    let b = image::load_from_memory(b).unwrap().to_rgba8();
    assert_eq!(a, b);
}

/// The checks every format shares: our reader gives the request back, the A1111 text is the one
/// written and reads into the same knobs, and its ControlNet unit is sd-webui-controlnet's.
fn check_read_back(path: &Path, p: &GenParams, a1111: &str, ours: &str, size: (u32, u32)) {
    assert_eq!(a1111, format_a1111(p, 99, size.0, size.1));
    assert_eq!(record(ours), *p, "our record is the request as sent");
    let units = unit_items(a1111);
    let keys: Vec<&str> = units.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        keys,
        [
            "Module",
            "Model",
            "Weight",
            "Guidance Start",
            "Guidance End"
        ]
    );
    assert_eq!(units[0].1, "depth_midas");
    assert_eq!(units[2].1, p.cn_strength.to_string());
    assert_eq!(units[3].1, "0");
    assert_eq!(units[4].1, p.cn_stop.to_string());
    let from_text = parse_a1111(a1111).unwrap();
    assert_eq!(
        (
            &from_text.prompt,
            from_text.steps,
            from_text.seed,
            from_text.cn_type
        ),
        (&p.prompt, p.steps, 99, p.cn_type)
    );
    assert_eq!(
        (from_text.cn_strength, from_text.cn_stop, from_text.guidance),
        (p.cn_strength, p.cn_stop, p.guidance)
    );
    // Our own reader, without the sidecar: the exact request, and the seed used.
    std::fs::remove_file(path.with_extension("json")).unwrap();
    let i = read_any(path).unwrap();
    assert_eq!((i.source, &i.params), (Tool::Fluxcn, p));
    assert_eq!(i.notes, Vec::<String>::new());
    assert_eq!(i.seed_used, Some(99));
    assert_eq!(read_settings(path).unwrap(), *p);
}

#[test]
fn png_parameters_and_our_record_read_back_both_ways() {
    let d = tempfile::tempdir().unwrap();
    let store = Store::open(d.path()).unwrap();
    let img = encoded(40, 24, image::ImageFormat::Png);
    let p = params();
    let e = save(&store, &img, &p, 99);
    let file = std::fs::read(&e.image_path).unwrap();
    let (texts, chunks) = png_texts(&file);
    let get = |k: &str| {
        texts
            .iter()
            .find(|(kw, _)| kw == k)
            .map(|(_, t)| t.clone())
            .unwrap()
    };
    assert_eq!(
        png_texts(&img.bytes).1,
        chunks,
        "image chunks byte for byte"
    );
    same_pixels(&file, &img.bytes);
    check_read_back(
        &e.image_path,
        &p,
        &get("parameters"),
        &get("fluxcn"),
        (40, 24),
    );
}

#[test]
fn jpeg_exif_user_comment_and_comments_read_back_both_ways() {
    let d = tempfile::tempdir().unwrap();
    let store = Store::open(d.path()).unwrap();
    let img = encoded(48, 40, image::ImageFormat::Jpeg);
    let p = GenParams {
        image_format: ImageFormat::Jpeg,
        ..params()
    };
    let e = save(&store, &img, &p, 99);
    let file = std::fs::read(&e.image_path).unwrap();
    let segments = jpeg_segments(&file);
    let markers: Vec<u8> = segments.iter().map(|(m, _)| *m).collect();
    // JFIF first, EXIF right after it, then our two comments, then the image's own segments.
    assert_eq!(&markers[..4], [0xE0, 0xE1, 0xFE, 0xFE], "{markers:x?}");
    assert!(segments[1].1.starts_with(b"Exif\0\0"));
    let (comment, maker_note) = exif_fields(&segments[1].1[6..]);
    assert_eq!(maker_note, None, "a JPEG keeps our record in a comment");
    let a1111 = a1111_comment(&comment.unwrap());
    assert_eq!(String::from_utf8(segments[2].1.clone()).unwrap(), a1111);
    let ours = String::from_utf8(segments[3].1.clone()).unwrap();
    let ours = ours.strip_prefix("fluxcn:").unwrap();
    // The scan and everything after it are the received bytes.
    let tail = |b: &[u8]| {
        let sos = b.windows(2).position(|w| w == [0xFF, 0xDA]).unwrap();
        b[sos..].to_vec()
    };
    assert_eq!(tail(&file), tail(&img.bytes));
    same_pixels(&file, &img.bytes);
    check_read_back(&e.image_path, &p, &a1111, ours, (48, 40));
}

#[test]
fn webp_exif_chunk_reads_back_both_ways() {
    let d = tempfile::tempdir().unwrap();
    let store = Store::open(d.path()).unwrap();
    let img = encoded(16, 12, image::ImageFormat::WebP);
    let p = GenParams {
        image_format: ImageFormat::Webp,
        ..params()
    };
    let e = save(&store, &img, &p, 99);
    let file = std::fs::read(&e.image_path).unwrap();
    let chunks = webp_chunks(&file);
    let ids: Vec<&[u8]> = chunks.iter().map(|(id, _)| &id[..]).collect();
    assert_eq!(
        ids[0], b"VP8X",
        "metadata needs the extended format: {ids:?}"
    );
    let vp8x = &chunks[0].1;
    assert_eq!(vp8x[0] & 0x08, 0x08, "the EXIF flag");
    let w = u32::from_le_bytes([vp8x[4], vp8x[5], vp8x[6], 0]) + 1;
    let h = u32::from_le_bytes([vp8x[7], vp8x[8], vp8x[9], 0]) + 1;
    assert_eq!((w, h), (16, 12), "the canvas size");
    // The image data is the received file's chunk, unchanged.
    let original = webp_chunks(&img.bytes);
    let image_chunk = |c: &[([u8; 4], Vec<u8>)]| {
        c.iter()
            .find(|(id, _)| id == b"VP8L" || id == b"VP8 ")
            .cloned()
            .unwrap()
    };
    assert_eq!(image_chunk(&chunks), image_chunk(&original));
    let exif = &chunks.iter().find(|(id, _)| id == b"EXIF").unwrap().1;
    let (comment, maker_note) = exif_fields(exif);
    let a1111 = a1111_comment(&comment.unwrap());
    let note = String::from_utf8(maker_note.unwrap()).unwrap();
    same_pixels(&file, &img.bytes);
    check_read_back(
        &e.image_path,
        &p,
        &a1111,
        note.strip_prefix("fluxcn:").unwrap(),
        (16, 12),
    );
}

#[test]
fn a_prompt_too_long_for_one_jpeg_segment_still_saves_a_valid_file() {
    let d = tempfile::tempdir().unwrap();
    let store = Store::open(d.path()).unwrap();
    let img = encoded(16, 16, image::ImageFormat::Jpeg);
    let p = GenParams {
        prompt: "a castle on a hill, 城 ".repeat(2000),
        image_format: ImageFormat::Jpeg,
        ..params()
    };
    let e = save(&store, &img, &p, 99);
    let file = std::fs::read(&e.image_path).unwrap();
    let segments = jpeg_segments(&file);
    let (comment, _) = exif_fields(&segments[1].1[6..]);
    let text = a1111_comment(&comment.unwrap());
    assert!(p.prompt.starts_with(&text), "cut at a character");
    assert!(text.chars().count() > 20_000);
    same_pixels(&file, &img.bytes);
    // The whole prompt is in the sidecar.
    assert_eq!(read_settings(&e.image_path).unwrap(), p);
}

#[test]
fn a_lossy_webp_gets_the_extended_header_with_its_size() {
    // A simple-format lossy WebP: a `VP8 ` chunk whose key-frame header (RFC 6386: frame tag, start
    // code 9d 01 2a, 14-bit width and height) says 300x200; the rest is opaque here.
    let mut vp8 = vec![0x50, 0x02, 0x00, 0x9d, 0x01, 0x2a];
    vp8.extend(300u16.to_le_bytes());
    vp8.extend(200u16.to_le_bytes());
    vp8.extend([7u8; 31]);
    let mut body = b"WEBPVP8 ".to_vec();
    body.extend((vp8.len() as u32).to_le_bytes());
    body.extend(&vp8);
    body.push(0);
    let mut webp = b"RIFF".to_vec();
    webp.extend((body.len() as u32).to_le_bytes());
    webp.extend(body);
    let out = fluxcn::gallery::meta::embed(ImageFormat::Webp, &webp, "x\nSteps: 20", "{}");
    let chunks = webp_chunks(&out);
    let ids: Vec<&[u8]> = chunks.iter().map(|(id, _)| &id[..]).collect();
    assert_eq!(ids, [&b"VP8X"[..], b"VP8 ", b"EXIF"]);
    let vp8x = &chunks[0].1;
    assert_eq!(vp8x[0], 0x08, "EXIF only: no alpha, no animation");
    let w = u32::from_le_bytes([vp8x[4], vp8x[5], vp8x[6], 0]) + 1;
    let h = u32::from_le_bytes([vp8x[7], vp8x[8], vp8x[9], 0]) + 1;
    assert_eq!((w, h), (300, 200));
    assert_eq!(chunks[1].1, vp8, "the image data unchanged");
    let (comment, note) = exif_fields(&chunks[2].1);
    assert_eq!(a1111_comment(&comment.unwrap()), "x\nSteps: 20");
    assert_eq!(note.as_deref(), Some(&b"fluxcn:{}"[..]));
    // A WebP whose size cannot be told is saved as received (the sidecar keeps the settings).
    let mut odd = webp.clone();
    odd[23] = 0; // the start code, broken
    assert_eq!(
        fluxcn::gallery::meta::embed(ImageFormat::Webp, &odd, "x\nSteps: 20", "{}"),
        odd
    );
}

#[test]
fn our_sidecar_wins_over_a_cut_text_and_a_damaged_one_over_nothing() {
    let d = tempfile::tempdir().unwrap();
    let store = Store::open(d.path()).unwrap();
    let img = encoded(16, 16, image::ImageFormat::Jpeg);
    // A prompt whose record does not fit a JPEG comment: the EXIF text is cut, the sidecar whole.
    let p = GenParams {
        prompt: "城".repeat(30_000),
        image_format: ImageFormat::Jpeg,
        ..params()
    };
    let e = save(&store, &img, &p, 99);
    let i = read_any(&e.image_path).unwrap();
    assert_eq!((i.source, &i.params), (Tool::Fluxcn, &p));
    assert_eq!(i.seed_used, Some(99));
    // Without the sidecar, the cut A1111 text is what there is, and it is read.
    std::fs::remove_file(&e.sidecar_path).unwrap();
    let i = read_any(&e.image_path).unwrap();
    assert_eq!(i.source, Tool::A1111);
    assert!(p.prompt.starts_with(&i.params.prompt) && i.params.prompt.len() > 60_000);
    // A damaged sidecar next to a picture with another tool's settings does not hide them.
    std::fs::write(&e.sidecar_path, b"{ not json").unwrap();
    assert_eq!(read_any(&e.image_path).unwrap().source, Tool::A1111);
}
