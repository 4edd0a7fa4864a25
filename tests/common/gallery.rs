//! Gallery results made by hand for the `gallery_store_*` test files: test pictures encoded as the
//! service would send them, one set of generation settings and accounting, a save with all of them,
//! and a folder's file names.
#![allow(dead_code)] // each test crate uses its own subset

use std::path::Path;

use fluxcn::api::response::check_image;
use fluxcn::api::{Accounting, CnType, GenParams, ImageFormat, ReceivedImage, Scheduler};
use fluxcn::gallery::{Entry, NewResult, Store};
use fluxcn::jobs::{ApiVersion, GroupTag};

/// A test picture whose pixels can be told apart (a pattern, not a flat colour).
pub fn pixels(w: u32, h: u32) -> image::RgbImage {
    image::RgbImage::from_fn(w, h, |x, y| {
        image::Rgb([
            (x * 7 % 256) as u8,
            (y * 13 % 256) as u8,
            ((x ^ y) % 256) as u8,
        ])
    })
}

/// [`pixels`] encoded in `fmt` (WebP as RGBA) and checked as a received image.
pub fn encoded(w: u32, h: u32, fmt: image::ImageFormat) -> ReceivedImage {
    let mut bytes = Vec::new();
    let img = image::DynamicImage::ImageRgb8(pixels(w, h));
    let img = if fmt == image::ImageFormat::WebP {
        image::DynamicImage::ImageRgba8(img.to_rgba8())
    } else {
        img
    };
    img.write_to(&mut std::io::Cursor::new(&mut bytes), fmt)
        .unwrap();
    check_image(bytes, "test").unwrap()
}

/// The generation settings the tests save (set by hand, with a non-ASCII prompt).
pub fn params() -> GenParams {
    GenParams {
        prompt: "a knight in armour, dramatic light, élan".into(),
        sampler: "dpmpp_2m".into(),
        scheduler: Scheduler::Karras,
        seed: -1,
        cn_type: CnType::Depth,
        cn_strength: 0.7,
        cn_stop: 0.6,
        guidance: 4.5,
        steps: 28,
        image_format: ImageFormat::Png,
        quality: 90,
        ..GenParams::default()
    }
}

/// The accounting of a paid result made with `seed`.
pub fn accounting(seed: i64) -> Accounting {
    Accounting {
        cost: Some(0.048),
        remaining_credits: Some(9.952),
        generation_time: Some(48.7),
        seed: Some(seed),
        request_id: Some("req-123".into()),
        queue_time: None,
        total_time: Some(49.1),
    }
}

/// Saves `img` with `p` as result 0 of job 17, a v2 result in a comparison group.
pub fn save(store: &Store, img: &ReceivedImage, p: &GenParams, seed: i64) -> Entry {
    let acc = accounting(seed);
    let group = GroupTag {
        group: 7,
        row: 0,
        col: 1,
        label: "cn_type: depth".into(),
    };
    store
        .save(&NewResult {
            image: img,
            params: p,
            input: "/home/artist/photos/knight.jpg",
            api: ApiVersion::V2,
            accounting: &acc,
            group: Some(&group),
            index: 0,
            job_id: Some(17),
            input_image: None,
            prompt_template: None,
            batch_line: None,
            framing: None,
        })
        .unwrap()
}

/// The names in `dir`, sorted.
pub fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// The gallery catalog's file in `dir`.
pub fn catalog_path(dir: &Path) -> std::path::PathBuf {
    dir.join(".catalog.sqlite")
}

/// Forgets a picture in the gallery's catalog, as if a crash came before its row was written.
pub fn forget_in_catalog(dir: &Path, id: &str) {
    let c = rusqlite::Connection::open(catalog_path(dir)).unwrap();
    c.busy_timeout(std::time::Duration::from_secs(10)).unwrap();
    assert_eq!(
        c.execute("DELETE FROM results WHERE id = ?", [id]).unwrap(),
        1,
        "{id} was in the catalog"
    );
}

/// Removes the catalog and its WAL files.
pub fn remove_catalog(dir: &Path) {
    for suffix in ["", "-wal", "-shm"] {
        let mut p = catalog_path(dir).into_os_string();
        p.push(suffix);
        let _ = std::fs::remove_file(p);
    }
}
