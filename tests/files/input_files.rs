//! Input preparation against real files made here: every bad-file kind gets its own error naming
//! the file; EXIF rotation, downscaling, flattening and format conversions do what the notes say;
//! small JPEGs go out byte-identical; URLs pass through or are refused.

use crate::common;

use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use base64::Engine as _;
use common::{gradient, jpeg, png_bomb, png_of, with_exif_orientation};
use fluxcn::api::input::{
    InputError, PrepareOptions, PreparedInput, prepare, prepare_bytes, prepare_file, prepare_url,
    preview,
};
use fluxcn::jobs::InputSource;
use image::{DynamicImage, ImageEncoder, Rgb, RgbImage, Rgba, RgbaImage};

fn opts() -> PrepareOptions {
    PrepareOptions::default()
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

fn decode_payload(p: &PreparedInput) -> DynamicImage {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(&p.payload)
        .unwrap();
    image::load_from_memory(&bytes).unwrap()
}

fn payload_bytes(p: &PreparedInput) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode(&p.payload)
        .unwrap()
}

fn assert_names(err: &InputError, name: &str) {
    let msg = err.to_string();
    assert!(msg.contains(name), "message {msg:?} does not name {name}");
}

// ---- bad files -------------------------------------------------------------------------------

#[test]
fn missing_file_is_not_found() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("nope.jpg");
    let e = prepare_file(&p, &opts()).unwrap_err();
    assert!(matches!(e, InputError::NotFound { .. }), "{e:?}");
    assert_names(&e, "nope.jpg");
}

#[test]
fn directory_is_not_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let sub = dir.path().join("photos.jpg");
    std::fs::create_dir(&sub).unwrap();
    let e = prepare_file(&sub, &opts()).unwrap_err();
    assert!(matches!(e, InputError::NotAFile { .. }), "{e:?}");
    assert_names(&e, "photos.jpg");
}

#[test]
fn unreadable_file_is_unreadable() {
    // As root a mode-000 file is still readable; /proc/self/mem then stands in (reading it from
    // offset 0 fails with an I/O error).
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "locked.jpg", &jpeg(&gradient(8, 8), 90));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o000)).unwrap();
    }
    let target = if std::fs::read(&p).is_err() {
        p.clone()
    } else if cfg!(target_os = "linux") {
        PathBuf::from("/proc/self/mem")
    } else {
        return; // no way to make an unreadable file here
    };
    let e = prepare_file(&target, &opts()).unwrap_err();
    assert!(matches!(e, InputError::Unreadable { .. }), "{e:?}");
    assert_names(&e, &target.file_name().unwrap().to_string_lossy());
}

#[test]
fn empty_file_is_empty() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "blank.png", b"");
    let e = prepare_file(&p, &opts()).unwrap_err();
    assert!(matches!(e, InputError::Empty { .. }), "{e:?}");
    assert_names(&e, "blank.png");
}

#[test]
fn text_html_and_pdf_are_not_images() {
    let dir = tempfile::tempdir().unwrap();
    for (name, body, says) in [
        (
            "notes.jpg",
            &b"just some words\nand more\n"[..],
            "plain text",
        ),
        (
            "page.png",
            &b"<!DOCTYPE html>\n<html><body>hi</body></html>"[..],
            "HTML",
        ),
        (
            "doc.jpg",
            &b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj"[..],
            "PDF",
        ),
    ] {
        let p = write(dir.path(), name, body);
        let e = prepare_file(&p, &opts()).unwrap_err();
        assert!(matches!(e, InputError::NotAnImage { .. }), "{name}: {e:?}");
        assert_names(&e, name);
        assert!(e.to_string().contains(says), "{name}: {e}");
    }
}

#[test]
fn unsupported_formats_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let heic = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic";
    let p = write(dir.path(), "IMG_0001.HEIC", heic);
    let e = prepare_file(&p, &opts()).unwrap_err();
    assert!(matches!(e, InputError::UnsupportedFormat { .. }), "{e:?}");
    assert_names(&e, "IMG_0001.HEIC");
    assert!(e.to_string().contains("HEIC"));

    let svg = b"<?xml version=\"1.0\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\"></svg>";
    let e = prepare_bytes("logo.svg", svg, &opts()).unwrap_err();
    assert!(matches!(e, InputError::UnsupportedFormat { .. }), "{e:?}");
    assert_names(&e, "logo.svg");
}

#[test]
fn truncated_jpeg_is_damaged() {
    let full = jpeg(&gradient(96, 64), 90);
    let cut = &full[..full.len() * 2 / 3];
    let e = prepare_bytes("cut.jpg", cut, &opts()).unwrap_err();
    assert!(matches!(e, InputError::Damaged { .. }), "{e:?}");
    assert_names(&e, "cut.jpg");
    assert!(e.to_string().contains("cut off"), "{e}");
}

#[test]
fn truncated_png_is_damaged() {
    let full = png_of(&DynamicImage::ImageRgb8(gradient(96, 64)));
    let cut = &full[..full.len() / 2];
    let e = prepare_bytes("cut.png", cut, &opts()).unwrap_err();
    assert!(matches!(e, InputError::Damaged { .. }), "{e:?}");
    assert_names(&e, "cut.png");
}

#[test]
fn garbage_after_a_jpeg_header_is_damaged() {
    let mut bytes = jpeg(&gradient(16, 16), 90)[..40].to_vec();
    bytes.extend(std::iter::repeat_n(0x55u8, 100));
    let e = prepare_bytes("mangled.jpg", &bytes, &opts()).unwrap_err();
    assert!(matches!(e, InputError::Damaged { .. }), "{e:?}");
    assert_names(&e, "mangled.jpg");
}

#[test]
fn decompression_bomb_is_refused_before_decoding() {
    let bomb = png_bomb(100_000, 100_000);
    assert!(bomb.len() < 100);
    let t = std::time::Instant::now();
    let e = prepare_bytes("bomb.png", &bomb, &opts()).unwrap_err();
    assert!(matches!(e, InputError::TooLarge { .. }), "{e:?}");
    assert_names(&e, "bomb.png");
    assert!(e.to_string().contains("100000×100000"), "{e}");
    assert!(t.elapsed().as_secs() < 2, "took {:?}", t.elapsed());
    // The preview path refuses it too.
    let src = InputSource::Bytes {
        name: "bomb.png".into(),
        data: Arc::new(bomb),
    };
    assert!(matches!(
        preview(&src, 512),
        Err(InputError::TooLarge { .. })
    ));
}

#[test]
fn oversized_file_is_refused_before_reading() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "big.jpg", &jpeg(&gradient(64, 64), 95));
    let small = PrepareOptions {
        max_file_bytes: 100,
        ..opts()
    };
    let e = prepare_file(&p, &small).unwrap_err();
    assert!(matches!(e, InputError::TooLarge { .. }), "{e:?}");
    assert_names(&e, "big.jpg");
}

// ---- conversions -----------------------------------------------------------------------------

#[test]
fn small_jpeg_is_sent_byte_identical() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = jpeg(&gradient(640, 480), 90);
    let p = write(dir.path(), "small.jpg", &bytes);
    let out = prepare_file(&p, &opts()).unwrap();
    assert!(!out.reencoded);
    assert_eq!(payload_bytes(&out), bytes);
    assert!(!out.payload.starts_with("data:"));
    assert_eq!((out.width, out.height), (640, 480));
    assert_eq!(out.original_bytes, bytes.len() as u64);
    assert!(out.notes.is_empty(), "{:?}", out.notes);
}

#[test]
fn wrong_extension_still_works() {
    let dir = tempfile::tempdir().unwrap();
    let png = png_of(&DynamicImage::ImageRgb8(gradient(100, 64)));
    let p = write(dir.path(), "actually_png.jpg", &png);
    let out = prepare_file(&p, &opts()).unwrap();
    assert_eq!(payload_bytes(&out), png);
    assert_eq!((out.width, out.height), (100, 64));
}

#[test]
fn exif_orientation_6_is_applied() {
    // Left half red, right half blue; orientation 6 = rotate 90° clockwise for display, so the
    // left column becomes the top row: red on top, blue below.
    let img = RgbImage::from_fn(128, 64, |x, _| {
        if x < 64 {
            Rgb([255, 0, 0])
        } else {
            Rgb([0, 0, 255])
        }
    });
    let bytes = with_exif_orientation(&jpeg(&img, 95), 6);
    let out = prepare_bytes("sideways.jpg", &bytes, &opts()).unwrap();
    assert_eq!((out.width, out.height), (64, 128));
    assert_eq!((out.original_width, out.original_height), (64, 128));
    assert!(out.reencoded);
    assert!(
        out.notes.iter().any(|n| n == "rotated per EXIF"),
        "{:?}",
        out.notes
    );
    let sent = decode_payload(&out).to_rgb8();
    assert_eq!(sent.dimensions(), (64, 128));
    let top = sent.get_pixel(32, 16).0;
    let bottom = sent.get_pixel(32, 112).0;
    assert!(top[0] > 200 && top[2] < 60, "top {top:?}");
    assert!(bottom[2] > 200 && bottom[0] < 60, "bottom {bottom:?}");

    // The preview is oriented the same way.
    let src = InputSource::Bytes {
        name: "sideways.jpg".into(),
        data: Arc::new(bytes),
    };
    let pv = preview(&src, 512).unwrap();
    assert_eq!((pv.width, pv.height), (64, 128));
    assert_eq!(pv.image.dimensions(), (64, 128));
}

#[test]
fn downscale_keeps_aspect() {
    let png = png_of(&DynamicImage::ImageRgb8(gradient(3000, 1000)));
    let out = prepare_bytes("wide.png", &png, &opts()).unwrap();
    assert!(out.reencoded);
    assert_eq!((out.width, out.height), (2048, 683));
    assert_eq!((out.original_width, out.original_height), (3000, 1000));
    assert!(
        out.notes
            .iter()
            .any(|n| n == "downscaled from 3000×1000 to 2048×683"),
        "{:?}",
        out.notes
    );
    let sent = decode_payload(&out);
    assert_eq!((sent.width(), sent.height()), (2048, 683));
    assert!(
        payload_bytes(&out).starts_with(&[0xFF, 0xD8]),
        "sent as JPEG"
    );

    let tall = jpeg(&gradient(600, 900), 90);
    let small = PrepareOptions {
        max_side: 300,
        ..opts()
    };
    let out = prepare_bytes("tall.jpg", &tall, &small).unwrap();
    assert_eq!((out.width, out.height), (200, 300));
}

#[test]
fn jpeg_over_the_send_limit_is_reencoded() {
    let bytes = jpeg(&gradient(800, 600), 100);
    let tight = PrepareOptions {
        max_send_bytes: bytes.len() / 2,
        ..opts()
    };
    let out = prepare_bytes("heavy.jpg", &bytes, &tight).unwrap();
    assert!(out.reencoded);
    assert_eq!((out.width, out.height), (800, 600));
    assert!(payload_bytes(&out).len() < bytes.len());
}

#[test]
fn transparency_is_flattened_onto_white() {
    let img = RgbaImage::from_fn(64, 64, |x, _| {
        if x < 32 {
            Rgba([0, 0, 0, 0])
        } else {
            Rgba([200, 10, 10, 255])
        }
    });
    let png = png_of(&DynamicImage::ImageRgba8(img));
    let out = prepare_bytes("cutout.png", &png, &opts()).unwrap();
    assert!(out.reencoded);
    assert!(out.notes.iter().any(|n| n.contains("transparency")));
    let sent = decode_payload(&out).to_rgb8();
    let clear = sent.get_pixel(8, 32).0;
    assert!(clear.iter().all(|&c| c > 240), "transparent area {clear:?}");
    let solid = sent.get_pixel(56, 32).0;
    assert!(solid[0] > 170 && solid[1] < 50, "opaque area {solid:?}");

    // An alpha channel that is fully opaque changes nothing: sent as-is.
    let opaque = png_of(&DynamicImage::ImageRgba8(RgbaImage::from_pixel(
        64,
        64,
        Rgba([1, 2, 3, 255]),
    )));
    let out = prepare_bytes("opaque.png", &opaque, &opts()).unwrap();
    assert!(!out.reencoded);
}

#[test]
fn sixteen_bit_png_is_converted() {
    let img = image::ImageBuffer::<Rgb<u16>, _>::from_fn(80, 64, |x, y| {
        Rgb([(x * 800) as u16, (y * 1000) as u16, 40000])
    });
    let png = png_of(&DynamicImage::ImageRgb16(img));
    let out = prepare_bytes("deep.png", &png, &opts()).unwrap();
    assert!(out.reencoded);
    assert!(out.notes.iter().any(|n| n == "16-bit converted to 8-bit"));
    let sent = decode_payload(&out);
    assert_eq!(sent.color(), image::ColorType::Rgb8);
    assert_eq!((sent.width(), sent.height()), (80, 64));
}

#[test]
fn grayscale_and_palette_pngs_work() {
    let gray = png_of(&DynamicImage::ImageLuma8(image::GrayImage::from_fn(
        96,
        64,
        |x, _| image::Luma([(x * 2) as u8]),
    )));
    let out = prepare_bytes("gray.png", &gray, &opts()).unwrap();
    assert_eq!((out.width, out.height), (96, 64));
    assert!(!out.reencoded);

    // Palette PNG, written by hand with the png crate.
    let mut pal = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut pal, 64, 64);
        enc.set_color(png::ColorType::Indexed);
        enc.set_depth(png::BitDepth::Eight);
        enc.set_palette(vec![255, 0, 0, 0, 255, 0]);
        let mut w = enc.write_header().unwrap();
        let checker: Vec<u8> = (0..64 * 64).map(|i| ((i + i / 64) % 2) as u8).collect();
        w.write_image_data(&checker).unwrap();
    }
    let out = prepare_bytes("palette.png", &pal, &opts()).unwrap();
    assert_eq!((out.width, out.height), (64, 64));
    // A grayscale JPEG too.
    let mut gjpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut gjpeg, 90)
        .encode_image(&image::GrayImage::from_pixel(64, 64, image::Luma([90])))
        .unwrap();
    let out = prepare_bytes("gray.jpg", &gjpeg, &opts()).unwrap();
    assert_eq!(payload_bytes(&out), gjpeg);
}

#[test]
fn cmyk_jpeg_is_converted_to_rgb() {
    // A flat CMYK colour: C=0 M=255 Y=255 K=0 is red. jpeg-encoder writes CMYK JPEGs.
    let (w, h) = (128u16, 64u16);
    let data: Vec<u8> = (0..w as usize * h as usize)
        .flat_map(|_| [0u8, 255, 255, 0])
        .collect();
    let mut cmyk = Vec::new();
    jpeg_encoder::Encoder::new(&mut cmyk, 95)
        .encode(&data, w, h, jpeg_encoder::ColorType::Cmyk)
        .unwrap();
    let out = prepare_bytes("print.jpg", &cmyk, &opts()).unwrap();
    assert!(out.reencoded, "a CMYK JPEG is never sent as-is");
    assert!(
        out.notes.iter().any(|n| n == "CMYK converted to RGB"),
        "{:?}",
        out.notes
    );
    let sent = decode_payload(&out).to_rgb8();
    assert_eq!(sent.dimensions(), (128, 64));
    let px = sent.get_pixel(64, 32).0;
    // Whatever the CMYK convention, the result is a saturated colour, not gray or black.
    let spread = *px.iter().max().unwrap() as i32 - *px.iter().min().unwrap() as i32;
    assert!(spread > 100, "pixel {px:?}");
}

#[test]
fn animated_gif_uses_the_first_frame() {
    let mut gif = Vec::new();
    {
        let mut enc = image::codecs::gif::GifEncoder::new(&mut gif);
        let frames = [Rgba([255, 0, 0, 255]), Rgba([0, 0, 255, 255])]
            .into_iter()
            .map(|c| image::Frame::new(RgbaImage::from_pixel(128, 64, c)));
        enc.encode_frames(frames).unwrap();
    }
    let out = prepare_bytes("loop.gif", &gif, &opts()).unwrap();
    assert!(out.reencoded);
    assert!(
        out.notes.iter().any(|n| n == "first frame of an animation"),
        "{:?}",
        out.notes
    );
    let sent = decode_payload(&out).to_rgb8();
    assert_eq!(sent.dimensions(), (128, 64));
    let px = sent.get_pixel(64, 32).0;
    assert!(
        px[0] > 200 && px[2] < 60,
        "first (red) frame expected, got {px:?}"
    );

    // A single-frame GIF is not called an animation (but is converted: GIF is not sent as-is).
    let mut still = Vec::new();
    image::codecs::gif::GifEncoder::new(&mut still)
        .encode_frame(image::Frame::new(RgbaImage::from_pixel(
            64,
            64,
            Rgba([0, 255, 0, 255]),
        )))
        .unwrap();
    let out = prepare_bytes("still.gif", &still, &opts()).unwrap();
    assert!(out.reencoded);
    assert!(!out.notes.iter().any(|n| n.contains("animation")));
}

#[test]
fn animated_png_uses_the_first_frame() {
    let mut apng = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut apng, 64, 64);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        enc.set_animated(2, 0).unwrap();
        let mut w = enc.write_header().unwrap();
        w.write_image_data(&[250u8, 0, 0].repeat(64 * 64)).unwrap();
        w.write_image_data(&[0u8, 0, 250].repeat(64 * 64)).unwrap();
        w.finish().unwrap();
    }
    let out = prepare_bytes("anim.png", &apng, &opts()).unwrap();
    assert!(out.reencoded);
    assert!(
        out.notes.iter().any(|n| n == "first frame of an animation"),
        "{:?}",
        out.notes
    );
    let px = decode_payload(&out).to_rgb8().get_pixel(32, 32).0;
    assert!(px[0] > 200 && px[2] < 60, "{px:?}");
}

#[test]
fn bmp_and_tiff_are_converted() {
    let img = DynamicImage::ImageRgb8(gradient(128, 64));
    for (fmt, name) in [
        (image::ImageFormat::Bmp, "scan.bmp"),
        (image::ImageFormat::Tiff, "scan.tif"),
    ] {
        let mut bytes = Vec::new();
        img.write_to(&mut Cursor::new(&mut bytes), fmt).unwrap();
        let out = prepare_bytes(name, &bytes, &opts()).unwrap();
        assert!(out.reencoded, "{name}");
        assert_eq!((out.width, out.height), (128, 64));
        assert!(payload_bytes(&out).starts_with(&[0xFF, 0xD8]));
    }
}

#[test]
fn preview_is_downscaled_and_reports_the_original_size() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "photo.jpg", &jpeg(&gradient(1200, 800), 85));
    let pv = preview(&InputSource::File(p.clone()), 300).unwrap();
    assert_eq!((pv.width, pv.height), (1200, 800));
    assert_eq!(pv.image.dimensions(), (300, 200));
    assert_eq!(pv.bytes, std::fs::metadata(&p).unwrap().len());
    let e = preview(&InputSource::Url("https://example.com/a.jpg".into()), 300).unwrap_err();
    assert!(matches!(e, InputError::NoPreview { .. }));
}

#[test]
fn prepare_dispatches_on_the_source() {
    let bytes = jpeg(&gradient(64, 64), 90);
    let out = prepare(
        &InputSource::Bytes {
            name: "pasted".into(),
            data: Arc::new(bytes.clone()),
        },
        &opts(),
    )
    .unwrap();
    assert_eq!(payload_bytes(&out), bytes);
    let out = prepare(
        &InputSource::Url("https://example.com/x.png".into()),
        &opts(),
    )
    .unwrap();
    assert_eq!(out.payload, "https://example.com/x.png");
}

// ---- URLs ------------------------------------------------------------------------------------

#[test]
fn urls_pass_through() {
    for u in [
        "https://example.com/pose.jpg",
        "http://127.0.0.1:8080/a.png?x=1",
        "  https://cdn.example.org/p/q.webp\n",
    ] {
        let out = prepare_url(u).unwrap();
        assert_eq!(out.payload, u.trim());
        assert_eq!((out.width, out.height, out.original_bytes), (0, 0, 0));
        assert!(!out.reencoded);
    }
}

#[test]
fn bad_urls_are_refused() {
    for (u, says) in [
        ("", "empty"),
        ("example.com/a.jpg", "https://"),
        ("ftp://example.com/a.jpg", "ftp"),
        ("file:///home/me/a.jpg", "file"),
        ("data:image/png;base64,AAAA", "data:"),
        ("https://", "valid"),
    ] {
        let e = prepare_url(u).unwrap_err();
        assert!(matches!(e, InputError::BadUrl { .. }), "{u}: {e:?}");
        assert!(e.to_string().contains(says), "{u}: {e}");
    }
}

#[test]
fn never_panics_on_prefixes_of_valid_files() {
    // Every prefix of a few real files: an error or a success, never a panic.
    let files = [
        jpeg(&gradient(24, 16), 90),
        png_of(&DynamicImage::ImageRgb8(gradient(24, 16))),
        with_exif_orientation(&jpeg(&gradient(24, 16), 90), 8),
    ];
    for f in &files {
        for n in (0..f.len()).step_by(7) {
            let _ = prepare_bytes("prefix", &f[..n], &opts());
        }
    }
}

/// A lossless single-frame WebP's `VP8L` chunk (header, size, data, padding).
fn vp8l_chunk(color: Rgba<u8>, w: u32, h: u32) -> Vec<u8> {
    let mut webp = Vec::new();
    image::codecs::webp::WebPEncoder::new_lossless(&mut webp)
        .write_image(
            RgbaImage::from_pixel(w, h, color).as_raw(),
            w,
            h,
            image::ExtendedColorType::Rgba8,
        )
        .unwrap();
    assert_eq!(
        &webp[12..16],
        b"VP8L",
        "the encoder wrote a simple lossless file"
    );
    webp[12..].to_vec()
}

fn riff_chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut c = kind.to_vec();
    c.extend_from_slice(&(data.len() as u32).to_le_bytes());
    c.extend_from_slice(data);
    if data.len() % 2 == 1 {
        c.push(0);
    }
    c
}

fn u24(v: u32) -> [u8; 3] {
    let b = v.to_le_bytes();
    [b[0], b[1], b[2]]
}

#[test]
fn animated_webp_uses_the_first_frame() {
    let (w, h) = (128u32, 64u32);
    let mut vp8x = vec![0x02 | 0x10, 0, 0, 0]; // animation + alpha flags
    vp8x.extend_from_slice(&u24(w - 1));
    vp8x.extend_from_slice(&u24(h - 1));
    let mut body = b"WEBP".to_vec();
    body.extend(riff_chunk(b"VP8X", &vp8x));
    body.extend(riff_chunk(b"ANIM", &[255, 255, 255, 255, 0, 0]));
    for color in [Rgba([250, 0, 0, 255]), Rgba([0, 0, 250, 255])] {
        let mut anmf = Vec::new();
        anmf.extend_from_slice(&u24(0));
        anmf.extend_from_slice(&u24(0));
        anmf.extend_from_slice(&u24(w - 1));
        anmf.extend_from_slice(&u24(h - 1));
        anmf.extend_from_slice(&u24(100));
        anmf.push(0);
        anmf.extend(vp8l_chunk(color, w, h));
        body.extend(riff_chunk(b"ANMF", &anmf));
    }
    let webp = riff_chunk(b"RIFF", &body);
    let out = prepare_bytes("sticker.webp", &webp, &opts()).unwrap();
    assert!(out.reencoded);
    assert!(
        out.notes.iter().any(|n| n == "first frame of an animation"),
        "{:?}",
        out.notes
    );
    let px = decode_payload(&out).to_rgb8().get_pixel(64, 32).0;
    assert!(
        px[0] > 200 && px[2] < 60,
        "first (red) frame expected, got {px:?}"
    );

    // A still WebP within the limits goes out as-is.
    let mut still = Vec::new();
    image::codecs::webp::WebPEncoder::new_lossless(&mut still)
        .write_image(
            gradient(128, 64).as_raw(),
            128,
            64,
            image::ExtendedColorType::Rgb8,
        )
        .unwrap();
    let out = prepare_bytes("still.webp", &still, &opts()).unwrap();
    assert!(!out.reencoded);
    assert_eq!(payload_bytes(&out), still);
}

#[test]
fn a_big_jpeg_is_decoded_at_reduced_size_and_matches_the_picture() {
    // 4400×3000 → 2048 on the long side: decoded at 1/2 in the IDCT, then resized. The result must
    // be the same picture: the right size, and the gradient's values where they belong.
    let src = gradient(4400, 3000);
    let bytes = jpeg(&src, 92);
    let out = prepare_bytes("big.jpg", &bytes, &opts()).unwrap();
    assert!(out.reencoded);
    assert_eq!((out.width, out.height), (2048, 1396));
    assert_eq!((out.original_width, out.original_height), (4400, 3000));
    let sent = decode_payload(&out).to_rgb8();
    assert_eq!(sent.dimensions(), (2048, 1396));
    for (fx, fy) in [(0.1, 0.1), (0.5, 0.5), (0.9, 0.8), (0.25, 0.75)] {
        let (sx, sy) = ((fx * 4400.0) as u32, (fy * 3000.0) as u32);
        let (dx, dy) = ((fx * 2048.0) as u32, (fy * 1396.0) as u32);
        let want = src.get_pixel(sx, sy).0;
        let got = sent.get_pixel(dx, dy).0;
        for c in 0..3 {
            assert!(
                (i32::from(want[c]) - i32::from(got[c])).abs() <= 6,
                "at {fx},{fy}: sent {got:?}, picture {want:?}"
            );
        }
    }
    // The preview (512 px) takes the same path at 1/8 and reports the original size.
    let p = preview(
        &InputSource::Bytes {
            name: "big.jpg".into(),
            data: Arc::new(bytes),
        },
        512,
    )
    .unwrap();
    assert_eq!((p.width, p.height), (4400, 3000));
    assert_eq!(p.image.dimensions(), (512, 349));
}
