//! The bad-input catalogue, bad files: every kind of bad input file (and URL) a user can meet, sent
//! through the real `fluxcn generate` binary to the contract-enforcing stand-in, exactly as a user
//! would run it. Each is refused with one clear error that names it, or, when merely unusual,
//! handled and saved; a file that would hang or that the service cannot use is refused with nothing
//! sent; and nothing is lost (the checks: `common::bad_inputs`).
//! `cargo test --test files bad_inputs_files -- --nocapture` prints the table that `docs/bad-inputs.md`
//! holds.

use crate::common;

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use common::bad_inputs::{Bench, Expect, jpeg, photo};
use common::{gradient, png_bomb, png_of, with_exif_orientation};
use fluxcn::sim::{self, SimConfig};
use image::{DynamicImage, Rgb, Rgba, RgbaImage};

// ---- what the files are made of -----------------------------------------------------------------

fn animated_gif() -> Vec<u8> {
    let mut gif = Vec::new();
    {
        let mut enc = image::codecs::gif::GifEncoder::new(&mut gif);
        let frames = [Rgba([255, 0, 0, 255]), Rgba([0, 0, 255, 255])]
            .into_iter()
            .map(|c| image::Frame::new(RgbaImage::from_pixel(96, 64, c)));
        enc.encode_frames(frames).expect("encode gif");
    }
    gif
}

fn cmyk_jpeg() -> Vec<u8> {
    let (w, h) = (96u16, 64u16);
    let data: Vec<u8> = (0..usize::from(w) * usize::from(h))
        .flat_map(|_| [0u8, 255, 255, 0])
        .collect();
    let mut out = Vec::new();
    jpeg_encoder::Encoder::new(&mut out, 95)
        .encode(&data, w, h, jpeg_encoder::ColorType::Cmyk)
        .expect("encode cmyk");
    out
}

fn png16() -> Vec<u8> {
    let img = image::ImageBuffer::<Rgb<u16>, _>::from_fn(96, 64, |x, y| {
        Rgb([(x * 600) as u16, (y * 900) as u16, 30_000])
    });
    png_of(&DynamicImage::ImageRgb16(img))
}

fn gray_alpha_png() -> Vec<u8> {
    let img = image::GrayAlphaImage::from_fn(96, 64, |x, _| image::LumaA([(x * 2) as u8, 100]));
    png_of(&DynamicImage::ImageLumaA8(img))
}

#[test]
fn every_bad_file_gets_a_clear_error_and_loses_nothing() {
    let rt = crate::common::rt();
    let server = rt
        .block_on(sim::start(SimConfig {
            delay: Duration::from_millis(20),
            ..Default::default()
        }))
        .expect("stand-in");
    let base = server.base_url();
    let mut b = Bench::new();
    let files = b.tmp.path().join("files");
    std::fs::create_dir_all(&files).expect("files dir");
    let put = |name: &str, bytes: &[u8]| -> PathBuf {
        let p = files.join(name);
        std::fs::write(&p, bytes).expect("write case file");
        p
    };

    // ---- files --------------------------------------------------------------------------------
    let good = jpeg(&gradient(160, 96));
    let cut_png = png_of(&DynamicImage::ImageRgb8(gradient(160, 96)));
    let mut mangled = good[..40].to_vec();
    mangled.extend(std::iter::repeat_n(0x55u8, 200));
    let huge = files.join("huge.jpg");
    {
        let f = std::fs::File::create(&huge).expect("huge");
        (&f).write_all(&good[..4]).expect("huge head");
        f.set_len(300 * 1024 * 1024).expect("sparse 300 MB");
    }
    let file_cases: Vec<(&str, PathBuf, Expect)> = vec![
        (
            "missing file",
            files.join("nope.jpg"),
            Expect::Error(&["nope.jpg"]),
        ),
        (
            "a folder, not a file",
            {
                let d = files.join("album.jpg");
                std::fs::create_dir_all(&d).expect("dir");
                d
            },
            Expect::Error(&["album.jpg", "folder"]),
        ),
        (
            "empty file",
            put("empty.png", b""),
            Expect::Error(&["empty.png", "empty"]),
        ),
        (
            "plain text named .jpg",
            put("notes.jpg", b"shopping list\nmilk\n"),
            Expect::Error(&["notes.jpg", "text"]),
        ),
        (
            "HTML page named .png",
            put("page.png", b"<!DOCTYPE html><html><body>404</body></html>"),
            Expect::Error(&["page.png", "html"]),
        ),
        (
            "PDF named .jpg",
            put("scan.jpg", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n"),
            Expect::Error(&["scan.jpg", "pdf"]),
        ),
        (
            "HEIC photo",
            put(
                "IMG_0001.HEIC",
                b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic",
            ),
            Expect::Error(&["IMG_0001.HEIC", "heic"]),
        ),
        (
            "SVG drawing",
            put(
                "logo.svg",
                b"<?xml version=\"1.0\"?><svg xmlns=\"http://www.w3.org/2000/svg\"></svg>",
            ),
            Expect::Error(&["logo.svg", "svg"]),
        ),
        (
            "truncated JPEG",
            put("cut.jpg", &good[..good.len() / 2]),
            Expect::Error(&["cut.jpg"]),
        ),
        (
            "truncated PNG",
            put("cut.png", &cut_png[..cut_png.len() / 2]),
            Expect::Error(&["cut.png"]),
        ),
        (
            "JPEG header then garbage",
            put("mangled.jpg", &mangled),
            Expect::Error(&["mangled.jpg"]),
        ),
        (
            "header claims 100000×100000 (decompression bomb)",
            put("bomb.png", &png_bomb(100_000, 100_000)),
            Expect::Error(&["bomb.png", "100000×100000"]),
        ),
        (
            "header claims 0×64",
            put("zero.png", &png_bomb(0, 64)),
            Expect::Error(&["zero.png"]),
        ),
        (
            "file of 300 MB",
            huge.clone(),
            Expect::Error(&["huge.jpg", "MB"]),
        ),
        (
            "PNG named .jpg (wrong extension)",
            put("really-a-png.jpg", &cut_png),
            Expect::Saved {
                dims: Some((160, 96)),
            },
        ),
        (
            "animated GIF",
            put("loop.gif", &animated_gif()),
            Expect::Saved {
                dims: Some((96, 64)),
            },
        ),
        (
            "CMYK JPEG",
            put("print.jpg", &cmyk_jpeg()),
            Expect::Saved {
                dims: Some((96, 64)),
            },
        ),
        (
            "16-bit PNG",
            put("deep.png", &png16()),
            Expect::Saved {
                dims: Some((96, 64)),
            },
        ),
        (
            "grayscale PNG with alpha",
            put("mask.png", &gray_alpha_png()),
            Expect::Saved {
                dims: Some((96, 64)),
            },
        ),
        (
            "EXIF-rotated JPEG (orientation 6)",
            put("portrait.jpg", &with_exif_orientation(&good, 6)),
            // Stored 160×96 sideways; upright it is 96×160, and so is the output.
            Expect::Saved {
                dims: Some((96, 160)),
            },
        ),
    ];
    for (kind, path, expect) in file_cases {
        let shown = path.to_string_lossy().to_string();
        let input = path.is_file().then_some(path.as_path());
        b.run("file", kind, &base, &shown, input, &[], expect, None);
    }
    for (kind, url, needles) in [
        (
            "URL with an unsupported scheme",
            "ftp://example.com/pose.png",
            &["ftp"][..],
        ),
        ("URL with no host", "https://", &["url"][..]),
    ] {
        b.run(
            "file",
            kind,
            &base,
            url,
            None,
            &[],
            Expect::Error(needles),
            None,
        );
    }

    // ---- files that would hang, or that the service cannot use: refused, nothing sent ----------
    // The input of `--max-input-side 0`: a good photo.
    let input = put("photo.jpg", &photo());
    let sent_before = server.stats().v1_requests;
    let fifo = files.join("webcam.jpg");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status();
    assert!(made.is_ok_and(|s| s.success()), "mkfifo");
    let tiny = |w, h| png_of(&DynamicImage::ImageRgb8(gradient(w, h)));
    let unusable: [(&str, PathBuf, &[&str], &'static [&'static str]); 4] = [
        (
            "a FIFO (named pipe)",
            fifo.clone(),
            &[],
            &["webcam.jpg", "named pipe"],
        ),
        (
            "1×1 PNG",
            put("dot.png", &tiny(1, 1)),
            &[],
            &["dot.png", "1×1", "64"],
        ),
        (
            "100000×1 PNG",
            put("line.png", &tiny(100_000, 1)),
            &[],
            &["100000×1", "16"],
        ),
        (
            "--max-input-side 0",
            input.clone(),
            &["--max-input-side", "0"],
            &["64"],
        ),
    ];
    for (kind, path, extra, needles) in unusable {
        let shown = path.to_string_lossy().to_string();
        let file = path.is_file().then_some(path.as_path());
        b.run(
            "file",
            kind,
            &base,
            &shown,
            file,
            extra,
            Expect::Error(needles),
            None,
        );
    }
    // The key search below reads every file: a FIFO would block it.
    std::fs::remove_file(&fifo).expect("remove the FIFO");
    assert_eq!(server.stats().v1_requests, sent_before, "nothing was sent");
    assert!(b.rows.len() >= 26, "{} kinds", b.rows.len());
    b.finish();
}
