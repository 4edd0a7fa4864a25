//! Helpers shared by the integration tests (each test binary's `main.rs` includes this folder once;
//! its modules say `use crate::common;`). Here: the runtime a test runs the stand-in on, image
//! files made by hand (gradients, JPEG/PNG encodes, a PNG whose header lies about its size, a JPEG
//! with an EXIF orientation) and the wait for a crashed runtime's journal. By topic, in the
//! submodules: the bad-input catalogue's bench, job events for the UI, gallery results, raw HTTP
//! against the stand-in, and running the real binary.
#![allow(dead_code)] // each test crate uses its own subset

#[cfg(feature = "app")]
pub mod app;
pub mod bad_inputs;
pub mod binary;
pub mod entries;
pub mod events;
pub mod gallery;
pub mod sim_http;

use std::io::Cursor;
use std::path::Path;
use std::time::{Duration, Instant};

use image::{DynamicImage, Rgb, RgbImage};

/// A gradient RGB image (compresses like a smooth photo).
/// A two-thread runtime for the stand-in (and the job runtime) a test talks to.
pub fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a two-thread tokio runtime")
}

/// The stand-in's demo input written as `dir/in.png`.
pub fn demo_photo(dir: &Path) -> std::path::PathBuf {
    let p = dir.join("in.png");
    std::fs::write(&p, fluxcn::sim::demo_input_png()).expect("write the demo input");
    p
}

/// A `w`×`h` gradient saved as `dir/name`, in the format its extension names.
pub fn photo_file(dir: &Path, name: &str, w: u32, h: u32) -> std::path::PathBuf {
    let p = dir.join(name);
    gradient(w, h).save(&p).expect("save a gradient photo");
    p
}

pub fn gradient(w: u32, h: u32) -> RgbImage {
    RgbImage::from_fn(w, h, |x, y| {
        Rgb([(x * 255 / w.max(1)) as u8, (y * 255 / h.max(1)) as u8, 128])
    })
}

pub fn jpeg(img: &RgbImage, quality: u8) -> Vec<u8> {
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, quality)
        .encode_image(img)
        .expect("encode a JPEG in memory");
    out
}

pub fn png_of(img: &DynamicImage) -> Vec<u8> {
    let mut out = Vec::new();
    img.write_to(&mut Cursor::new(&mut out), image::ImageFormat::Png)
        .expect("encode a PNG in memory");
    out
}

/// A PNG whose header declares `w`×`h` but carries almost no data.
pub fn png_bomb(w: u32, h: u32) -> Vec<u8> {
    fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let mut c = kind.to_vec();
        c.extend_from_slice(data);
        out.extend_from_slice(&c);
        out.extend_from_slice(&crc32(&c).to_be_bytes());
    }
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&w.to_be_bytes());
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]); // 8-bit RGB
    chunk(&mut out, b"IHDR", &ihdr);
    chunk(
        &mut out,
        b"IDAT",
        &[0x78, 0x9C, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01],
    );
    chunk(&mut out, b"IEND", &[]);
    out
}

pub fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// Inserts an EXIF APP1 segment with the given orientation right after the JPEG's SOI.
pub fn with_exif_orientation(jpeg: &[u8], orientation: u16) -> Vec<u8> {
    let mut tiff = Vec::new();
    tiff.extend_from_slice(b"MM\x00\x2A\x00\x00\x00\x08"); // big-endian, IFD at 8
    tiff.extend_from_slice(&1u16.to_be_bytes()); // one entry
    tiff.extend_from_slice(&0x0112u16.to_be_bytes()); // Orientation
    tiff.extend_from_slice(&3u16.to_be_bytes()); // SHORT
    tiff.extend_from_slice(&1u32.to_be_bytes()); // count
    tiff.extend_from_slice(&orientation.to_be_bytes());
    tiff.extend_from_slice(&[0, 0]); // padding of the value field
    tiff.extend_from_slice(&0u32.to_be_bytes()); // no next IFD
    let mut app1 = b"Exif\x00\x00".to_vec();
    app1.extend_from_slice(&tiff);
    let mut out = jpeg[..2].to_vec();
    out.extend_from_slice(&[0xFF, 0xE1]);
    out.extend_from_slice(&((app1.len() + 2) as u16).to_be_bytes());
    out.extend_from_slice(&app1);
    out.extend_from_slice(&jpeg[2..]);
    out
}

/// After a simulated crash (a runtime's handle dropped, its tasks winding down on the same
/// threads): waits until that runtime lets its journal go, as a real crash would at once. Until
/// then a second opener rightly leaves a live writer's jobs alone.
/// Waits until no process holds `path`'s lock (a closed window's runtime has let its file go).
pub fn wait_unlocked(path: &Path) {
    let end = Instant::now() + Duration::from_secs(10);
    loop {
        let f = std::fs::File::open(path).expect("open the locked file");
        if f.try_lock().is_ok() {
            return;
        }
        assert!(Instant::now() < end, "{} was never let go", path.display());
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub fn wait_for_the_crashed_runtime(journal: &Path) {
    let end = Instant::now() + Duration::from_secs(10);
    loop {
        let (j, pending) = fluxcn::jobs::journal::Journal::open(journal).expect("open the journal");
        drop(j);
        if !pending.is_empty() {
            return;
        }
        assert!(Instant::now() < end, "the journal was never let go");
        std::thread::sleep(Duration::from_millis(50));
    }
}
