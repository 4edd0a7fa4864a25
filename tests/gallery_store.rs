//! The gallery store end to end, on real files in a temporary folder: nothing paid for is lost,
//! settings travel inside the images and the sidecars, and the index is only a cache.
// Test code: a failed unwrap is a failed test; a test reads top to bottom as one story.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

use fluxcn::api::response::check_image;
use fluxcn::api::{Accounting, CnType, GenParams, ImageFormat, ReceivedImage, Scheduler};
use fluxcn::gallery::{
    Entry, GalleryError, NewResult, Sidecar, Store, format_a1111, parse_a1111, read_settings,
};
use fluxcn::jobs::{ApiVersion, GroupTag};

fn pixels(w: u32, h: u32) -> image::RgbImage {
    image::RgbImage::from_fn(w, h, |x, y| {
        image::Rgb([
            (x * 7 % 256) as u8,
            (y * 13 % 256) as u8,
            ((x ^ y) % 256) as u8,
        ])
    })
}

fn encoded(w: u32, h: u32, fmt: image::ImageFormat) -> ReceivedImage {
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

fn params() -> GenParams {
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

fn accounting(seed: i64) -> Accounting {
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

fn save(store: &Store, img: &ReceivedImage, p: &GenParams, seed: i64) -> Entry {
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
        })
        .unwrap()
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

fn make_old(path: &Path) {
    let f = std::fs::File::options().write(true).open(path).unwrap();
    f.set_modified(SystemTime::now() - Duration::from_secs(3600))
        .unwrap();
}

#[test]
fn save_reopen_list_round_trip() {
    let d = tempfile::tempdir().unwrap();
    let store = Store::open(d.path().join("g")).unwrap();
    let png = encoded(40, 30, image::ImageFormat::Png);
    let jpg = encoded(32, 24, image::ImageFormat::Jpeg);
    let p = params();
    let a = save(&store, &png, &p, 4242);
    let b = save(&store, &jpg, &p, 4242);

    // Names: YYYYMMDD-HHMMSS-<cn_type>-<seed>[-n].<ext>, unique, the sidecar beside.
    let parts: Vec<&str> = a.id.split('-').collect();
    assert_eq!(parts[0].len(), 8, "{}", a.id);
    assert_eq!(parts[1].len(), 6, "{}", a.id);
    assert!(
        parts[0]
            .chars()
            .chain(parts[1].chars())
            .all(|c| c.is_ascii_digit())
    );
    assert_eq!(&parts[2..4], ["depth", "4242"]);
    assert_ne!(a.id, b.id);
    assert_eq!(
        a.image_path.file_name().unwrap().to_str().unwrap(),
        format!("{}.png", a.id)
    );
    assert_eq!(b.image_path.extension().unwrap(), "jpg");
    assert_eq!(a.sidecar_path, a.image_path.with_extension("json"));

    // The sidecar holds everything, exactly.
    assert_eq!(a.meta.params, p);
    assert_eq!(a.meta.seed_used, 4242);
    assert_eq!(a.meta.accounting, accounting(4242));
    assert_eq!(a.meta.input, "/home/artist/photos/knight.jpg");
    assert_eq!(a.meta.api, ApiVersion::V2);
    assert_eq!(
        (a.meta.width, a.meta.height, a.meta.format),
        (40, 30, ImageFormat::Png)
    );
    assert_eq!(a.meta.bytes, png.bytes.len() as u64);
    assert_eq!(a.meta.group.as_ref().unwrap().label, "cn_type: depth");
    assert_eq!(a.meta.app, "fluxcn 0.1.0");
    assert_eq!(a.meta.model, "flux-controlnet");
    assert!(
        humantime::parse_rfc3339(&a.meta.created).is_ok(),
        "{}",
        a.meta.created
    );
    let on_disk: Sidecar =
        serde_json::from_slice(&std::fs::read(&a.sidecar_path).unwrap()).unwrap();
    assert_eq!(on_disk, a.meta);

    // Newest first, and the same after reopening (from the index).
    let listed = store.list();
    assert_eq!(listed.len(), 2);
    assert!(listed[0].meta.created_unix_ms >= listed[1].meta.created_unix_ms);
    let reopened = Store::open(d.path().join("g")).unwrap();
    assert_eq!(reopened.list(), listed);
    assert_eq!(reopened.get(&a.id), Some(a.clone()));
    assert_eq!(reopened.get("nope"), None);
}

#[test]
fn png_carries_a1111_and_fluxcn_chunks_and_pixels_are_untouched() {
    let d = tempfile::tempdir().unwrap();
    let store = Store::open(d.path()).unwrap();
    let img = encoded(96, 80, image::ImageFormat::Png);
    let p = params();
    let e = save(&store, &img, &p, 99);
    let file = std::fs::read(&e.image_path).unwrap();

    // The png crate reads both chunks.
    let reader = png::Decoder::new(std::io::Cursor::new(&file))
        .read_info()
        .unwrap();
    let info = reader.info();
    let parameters = info
        .uncompressed_latin1_text
        .iter()
        .find(|t| t.keyword == "parameters")
        .expect("a parameters tEXt chunk");
    assert_eq!(parameters.text, format_a1111(&p, 99, 96, 80));
    assert!(parameters.text.starts_with("a knight in armour, dramatic light, élan\nSteps: 28, Sampler: dpmpp_2m, Schedule type: karras, CFG scale: 4.5, Seed: 99, Size: 96x80, Model: flux-controlnet, ControlNet: depth, ControlNet strength: 0.7, ControlNet stop: 0.6"));
    let ours = info
        .utf8_text
        .iter()
        .find(|t| t.keyword == "fluxcn")
        .expect("a fluxcn iTXt chunk")
        .get_text()
        .unwrap();
    let request: serde_json::Value = serde_json::from_str(&ours).unwrap();
    assert_eq!(request["image"], "/home/artist/photos/knight.jpg");
    assert_eq!(request["seed"], -1, "the seed as sent");
    assert_eq!(request["cn_type"], "depth");
    assert_eq!(request.as_object().unwrap().len(), 17);

    // The A1111 text parses back into the same settings (with the seed used and the size).
    let back = parse_a1111(&parameters.text).unwrap();
    let expect = GenParams {
        seed: 99,
        custom_width: 96,
        custom_height: 80,
        use_input_img_dimension: false,
        image_format: back.image_format,
        quality: back.quality,
        ..p.clone()
    };
    assert_eq!(back, expect);

    // read_settings prefers our exact record, and needs no sidecar for it.
    std::fs::remove_file(&e.sidecar_path).unwrap();
    assert_eq!(read_settings(&e.image_path).unwrap(), p);

    // Every image chunk is byte-identical; the decoded pixels are the received ones.
    let chunks = |b: &[u8]| {
        let mut v = Vec::new();
        let mut at = 8;
        while at + 8 <= b.len() {
            let len = u32::from_be_bytes(b[at..at + 4].try_into().unwrap()) as usize;
            let kind = b[at + 4..at + 8].to_vec();
            if kind != b"tEXt" && kind != b"iTXt" {
                v.push(b[at..at + 12 + len].to_vec());
            }
            at += 12 + len;
        }
        v
    };
    assert_eq!(chunks(&file), chunks(&img.bytes));
    let got = image::load_from_memory(&file).unwrap().to_rgb8();
    assert_eq!(got, pixels(96, 80));
}

/// The COM segments of a JPEG, read independently of the crate's own reader.
fn com_segments(b: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    let mut at = 2;
    while at + 4 <= b.len() && b[at] == 0xFF {
        let marker = b[at + 1];
        if marker == 0xDA {
            break;
        }
        let len = u16::from_be_bytes([b[at + 2], b[at + 3]]) as usize;
        if marker == 0xFE {
            out.push(String::from_utf8(b[at + 4..at + 2 + len].to_vec()).unwrap());
        }
        at += 2 + len;
    }
    out
}

#[test]
fn jpeg_comment_is_written_and_read_back_and_pixels_are_untouched() {
    let d = tempfile::tempdir().unwrap();
    let store = Store::open(d.path()).unwrap();
    let img = encoded(48, 40, image::ImageFormat::Jpeg);
    let p = GenParams {
        image_format: ImageFormat::Jpeg,
        ..params()
    };
    let e = save(&store, &img, &p, 7);
    let file = std::fs::read(&e.image_path).unwrap();
    let comments = com_segments(&file);
    assert_eq!(comments[0], format_a1111(&p, 7, 48, 40));
    assert!(comments[1].starts_with("fluxcn:{"), "{}", comments[1]);

    std::fs::remove_file(&e.sidecar_path).unwrap();
    assert_eq!(read_settings(&e.image_path).unwrap(), p);

    let before = image::load_from_memory(&img.bytes).unwrap().to_rgb8();
    let after = image::load_from_memory(&file).unwrap().to_rgb8();
    assert_eq!(before, after);
    // The only change is the inserted comments.
    assert_eq!(
        file.len(),
        img.bytes.len() + comments.iter().map(|c| c.len() + 4).sum::<usize>()
    );
}

#[test]
fn webp_is_stored_byte_exact_with_a_sidecar_only() {
    let d = tempfile::tempdir().unwrap();
    let store = Store::open(d.path()).unwrap();
    let img = encoded(16, 16, image::ImageFormat::WebP);
    let e = save(&store, &img, &params(), 5);
    assert_eq!(std::fs::read(&e.image_path).unwrap(), img.bytes);
    assert_eq!(read_settings(&e.image_path).unwrap(), params());
    std::fs::remove_file(&e.sidecar_path).unwrap();
    let err = read_settings(&e.image_path).unwrap_err();
    assert!(matches!(err, GalleryError::NoSettings { .. }));
    assert!(err.to_string().contains(&e.id), "{err}");
}

#[test]
fn a_crash_mid_write_leaves_no_half_file_in_the_list() {
    let d = tempfile::tempdir().unwrap();
    let store = Store::open(d.path()).unwrap();
    let img = encoded(20, 20, image::ImageFormat::Png);
    let kept = save(&store, &img, &params(), 1);
    drop(store);

    // kill -9 mid-write: half an image in a temp file.
    let half = d
        .path()
        .join(format!(".{}-x.png.999.1234abcd.tmp", kept.id));
    std::fs::write(&half, &img.bytes[..img.bytes.len() / 2]).unwrap();
    make_old(&half);
    // A temp file being written right now by another process is left alone but never listed.
    let busy = d.path().join(".other.png.1000.0000beef.tmp");
    std::fs::write(&busy, b"in progress").unwrap();

    let store = Store::open(d.path()).unwrap();
    assert!(!half.exists(), "the leftover temp file is removed");
    assert!(busy.exists());
    assert_eq!(store.list(), vec![kept.clone()]);
    assert!(
        names(d.path())
            .iter()
            .all(|n| n != &half.file_name().unwrap().to_string_lossy())
    );
}

#[test]
fn an_image_saved_just_before_a_crash_is_picked_up() {
    let d = tempfile::tempdir().unwrap();
    let store = Store::open(d.path()).unwrap();
    let img = encoded(20, 20, image::ImageFormat::Png);
    let p = params();
    let a = save(&store, &img, &p, 11);
    let b = save(&store, &img, &p, 12);
    drop(store);
    // The crash came after the image was written: the sidecar is still the empty name
    // reservation, and the index does not know the picture.
    std::fs::write(&b.sidecar_path, b"").unwrap();
    // And a sidecar damaged by hand: kept aside, rebuilt from the image.
    std::fs::write(&a.sidecar_path, b"{\"version\": 1, \"app\": ").unwrap();
    let index = d.path().join(".index.jsonl");
    let text = std::fs::read_to_string(&index).unwrap();
    let without_b: String = text
        .lines()
        .filter(|l| !l.contains(&b.id))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&index, without_b).unwrap();

    let store = Store::open(d.path()).unwrap();
    let got = store.get(&b.id).expect("the paid image is listed again");
    assert_eq!(
        got.meta.params, p,
        "settings recovered from inside the image"
    );
    assert_eq!(got.meta.input, "/home/artist/photos/knight.jpg");
    let side: Sidecar = serde_json::from_slice(&std::fs::read(&b.sidecar_path).unwrap()).unwrap();
    assert_eq!(side, got.meta, "its sidecar is rewritten");
    assert_eq!(store.list().len(), 2);
    // The index still had `a`; the damaged sidecar is noticed on a rebuild.
    assert_eq!(store.get(&a.id), Some(a.clone()));
    assert_eq!(store.rebuild_index().unwrap(), 2);
    let a2 = store.get(&a.id).unwrap();
    assert_eq!(a2.meta.params, p);
    assert_eq!(p.seed, -1);
    assert_eq!(a2.meta.seed_used, 11, "the seed used, from the A1111 text");
    let damaged = d.path().join(format!("{}.json.damaged", a.id));
    assert!(damaged.exists());
    assert!(!d.path().join(format!("{}.json.damaged", b.id)).exists());
}

#[test]
fn corrupt_or_missing_index_is_rebuilt_from_the_sidecars() {
    let d = tempfile::tempdir().unwrap();
    let store = Store::open(d.path()).unwrap();
    let img = encoded(20, 20, image::ImageFormat::Png);
    for seed in 0..3 {
        save(&store, &img, &params(), seed);
    }
    store.set_favourite(&store.list()[1].id, true).unwrap();
    let want = store.list();
    drop(store);
    let index = d.path().join(".index.jsonl");

    std::fs::write(&index, b"\x00\x01 garbage {{{\n").unwrap();
    let store = Store::open(d.path()).unwrap();
    assert_eq!(store.list(), want);
    drop(store);

    std::fs::remove_file(&index).unwrap();
    let store = Store::open(d.path()).unwrap();
    assert_eq!(store.list(), want);
    assert!(index.exists());

    // A torn last record (a crash mid-append) is skipped, and later appends still work.
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&index)
        .unwrap();
    std::io::Write::write_all(&mut f, b"{\"op\":\"del\",\"id\":\"").unwrap();
    drop((f, store));
    let store = Store::open(d.path()).unwrap();
    assert_eq!(store.list(), want);
    save(&store, &img, &params(), 9);
    assert_eq!(Store::open(d.path()).unwrap().list().len(), 4);

    assert_eq!(store.rebuild_index().unwrap(), 4);
}

#[test]
fn delete_moves_to_trash_and_undo_restores() {
    let d = tempfile::tempdir().unwrap();
    let store = Store::open(d.path()).unwrap();
    let img = encoded(20, 20, image::ImageFormat::Jpeg);
    let a = save(&store, &img, &params(), 1);
    let b = save(&store, &img, &params(), 2);
    store.delete(&a.id).unwrap();
    assert_eq!(store.list(), vec![b.clone()]);
    assert!(!a.image_path.exists());
    let trash = d.path().join(".trash");
    assert!(trash.join(a.image_path.file_name().unwrap()).exists());
    assert!(trash.join(a.sidecar_path.file_name().unwrap()).exists());
    // Still deleted after a reopen, and never re-added by the repair on open.
    assert_eq!(Store::open(d.path()).unwrap().list(), vec![b.clone()]);

    let back = store.undo_delete(&a.id).unwrap();
    assert_eq!(back, a);
    assert_eq!(store.list().len(), 2);
    assert_eq!(Store::open(d.path()).unwrap().get(&a.id), Some(a.clone()));
    assert_eq!(
        store.undo_delete(&a.id).unwrap(),
        a,
        "undoing twice is harmless"
    );

    // Emptying the trash deletes for good, thumbnails included, and nothing else.
    store.thumbnail(&b, 10).unwrap();
    store.thumbnail(&a, 10).unwrap();
    store.delete(&b.id).unwrap();
    assert_eq!(store.empty_trash().unwrap(), 1);
    assert_eq!(names(&trash), Vec::<String>::new());
    assert_eq!(
        names(&d.path().join(".thumbs")),
        vec![format!("{}-10.jpg", a.id)]
    );
    assert!(store.undo_delete(&b.id).is_err());
    assert_eq!(store.list(), vec![a.clone()]);
    assert_eq!(store.empty_trash().unwrap(), 0);

    let e = store.undo_delete("20000101-000000-pose-1").unwrap_err();
    assert!(matches!(e, GalleryError::NotInTrash { .. }), "{e}");
    assert!(e.to_string().contains("20000101-000000-pose-1"));
    let e = store.delete("missing").unwrap_err();
    assert!(e.to_string().contains("missing"), "{e}");
    assert!(store.undo_delete("../../etc/passwd").is_err());
}

#[test]
fn favourites_persist_in_index_and_sidecar() {
    let d = tempfile::tempdir().unwrap();
    let store = Store::open(d.path()).unwrap();
    let img = encoded(20, 20, image::ImageFormat::Png);
    let a = save(&store, &img, &params(), 1);
    assert!(!a.meta.favourite);
    store.set_favourite(&a.id, true).unwrap();
    assert!(store.get(&a.id).unwrap().meta.favourite);
    assert!(
        Store::open(d.path())
            .unwrap()
            .get(&a.id)
            .unwrap()
            .meta
            .favourite
    );
    let side: Sidecar = serde_json::from_slice(&std::fs::read(&a.sidecar_path).unwrap()).unwrap();
    assert!(side.favourite);
    // The sidecar is the truth: it survives an index rebuild.
    std::fs::remove_file(d.path().join(".index.jsonl")).unwrap();
    assert!(
        Store::open(d.path())
            .unwrap()
            .get(&a.id)
            .unwrap()
            .meta
            .favourite
    );
    store.set_favourite(&a.id, false).unwrap();
    assert!(
        !Store::open(d.path())
            .unwrap()
            .get(&a.id)
            .unwrap()
            .meta
            .favourite
    );
    assert!(store.set_favourite("nope", true).is_err());
}

#[test]
fn ten_thousand_entries_open_fast() {
    let d = tempfile::tempdir().unwrap();
    let store = Store::open(d.path()).unwrap();
    let img = encoded(8, 8, image::ImageFormat::Png);
    let first = save(&store, &img, &params(), 1);
    let image_bytes = std::fs::read(&first.image_path).unwrap();
    let side: Sidecar =
        serde_json::from_slice(&std::fs::read(&first.sidecar_path).unwrap()).unwrap();
    // A synthetic gallery: 10 000 images with sidecars (distinct times), then one index build.
    for n in 1..10_000u64 {
        let id = format!("20260101-000000-pose-{n}");
        std::fs::write(d.path().join(format!("{id}.png")), &image_bytes).unwrap();
        let mut s = side.clone();
        s.created_unix_ms = n;
        s.seed_used = n as i64;
        std::fs::write(
            d.path().join(format!("{id}.json")),
            serde_json::to_vec(&s).unwrap(),
        )
        .unwrap();
    }
    assert_eq!(store.rebuild_index().unwrap(), 10_000);
    drop(store);
    // Open must not read 10 000 sidecars: move them away and everything is still listed, exactly.
    let aside = tempfile::tempdir().unwrap();
    for n in 1..10_000u64 {
        let name = format!("20260101-000000-pose-{n}.json");
        std::fs::rename(d.path().join(&name), aside.path().join(&name)).unwrap();
    }

    let t = Instant::now();
    let store = Store::open(d.path()).unwrap();
    let list = store.list();
    let took = t.elapsed();
    eprintln!("open + list of 10 000 entries: {took:?}");
    assert_eq!(list.len(), 10_000);
    assert_eq!(list[0].id, first.id, "newest first");
    assert_eq!(list[1].meta.seed_used, 9_999);
    assert_eq!(list[1].meta.params, side.params);
    assert_eq!(list[9_999].meta.created_unix_ms, 1);
    // Release builds: well under a second. Debug builds run serde's code unoptimised (about ten
    // times slower; ~1 s measured on a busy 2-core machine), so they get a looser bound.
    let bound = if cfg!(debug_assertions) {
        Duration::from_secs(5)
    } else {
        Duration::from_millis(500)
    };
    assert!(took < bound, "open + list took {took:?}");
}

#[test]
fn a1111_text_from_automatic1111_itself() {
    // As AUTOMATIC1111 1.10 writes it, with a ControlNet unit, a negative prompt and values
    // outside this API's ranges.
    let text = "masterpiece, best quality, 1girl dancing in the rain,\n(cinematic lighting:1.2), <lora:add_detail:0.5>\nNegative prompt: lowres, bad anatomy, worst quality\nSteps: 150, Sampler: DPM++ 2M Karras, CFG scale: 7, Seed: 3141592653, Size: 512x768, Model hash: 6ce0161689, Model: v1-5-pruned-emaonly, Denoising strength: 0.7, Clip skip: 2, ControlNet 0: \"Module: openpose_full, Model: control_v11p_sd15_openpose [cab727d4], Weight: 1.15, Resize Mode: Crop and Resize, Processor Res: 512, Threshold A: 0.5, Threshold B: 0.5, Guidance Start: 0, Guidance End: 0.8, Pixel Perfect: True, Control Mode: Balanced\", Lora hashes: \"add_detail: 7c6bad76eb54\", Version: v1.10.1";
    let p = parse_a1111(text).unwrap();
    assert_eq!(
        p.prompt,
        "masterpiece, best quality, 1girl dancing in the rain,\n(cinematic lighting:1.2), <lora:add_detail:0.5>"
    );
    assert_eq!(p.steps, 75, "150 clamped");
    assert_eq!(p.sampler, "dpmpp_2m");
    assert_eq!(p.scheduler, Scheduler::Karras);
    assert_eq!(p.guidance, 7.0);
    assert_eq!(p.seed, 3_141_592_653);
    assert_eq!(
        (p.custom_width, p.custom_height, p.use_input_img_dimension),
        (512, 768, false)
    );
    assert_eq!(p.cn_type, CnType::Pose);
    assert_eq!(p.cn_strength, 1.15);
    assert_eq!(p.cn_stop, 0.8);
    assert!(p.clamped() == p, "everything already in range");

    // Newer A1111 with a separate schedule type, a depth unit and a tile model.
    let p = parse_a1111("a castle\nSteps: 10, Sampler: Euler a, Schedule type: SGM Uniform, CFG scale: 30, Seed: 5, Size: 8192x32, ControlNet 0: \"Module: depth_midas, Model: x, Weight: 5, Guidance End: 1\"").unwrap();
    assert_eq!((p.steps, p.guidance), (15, 15.0));
    assert_eq!(
        (p.sampler.as_str(), p.scheduler),
        ("euler_ancestral", Scheduler::SgmUniform)
    );
    assert_eq!((p.custom_width, p.custom_height), (4096, 64));
    assert_eq!(
        (p.cn_type, p.cn_strength, p.cn_stop),
        (CnType::Depth, 2.0, 1.0)
    );
    let p = parse_a1111("x\nSteps: 20, ControlNet 0: \"Module: none, Model: control_v11f1e_sd15_tile [a371b31b], Weight: 0.5\"").unwrap();
    assert_eq!((p.cn_type, p.cn_strength), (CnType::Tile, 0.5));
}

#[test]
fn a1111_png_from_another_tool_is_read() {
    // A PNG as A1111 (PIL) writes it: a `parameters` tEXt chunk, no sidecar.
    let d = tempfile::tempdir().unwrap();
    let path = d.path().join("00001-12345.png");
    let f = std::fs::File::create(&path).unwrap();
    let mut enc = png::Encoder::new(std::io::BufWriter::new(f), 4, 4);
    enc.set_color(png::ColorType::Rgb);
    enc.add_text_chunk("parameters".into(), "a canny cat\nNegative prompt: dog\nSteps: 30, Sampler: Euler, CFG scale: 5, Seed: 12345, Size: 512x512, ControlNet 0: \"Module: canny, Weight: 0.9\"".into()).unwrap();
    let mut w = enc.write_header().unwrap();
    w.write_image_data(&[0u8; 48]).unwrap();
    w.finish().unwrap();
    let p = read_settings(&path).unwrap();
    assert_eq!(p.prompt, "a canny cat");
    assert_eq!((p.steps, p.guidance, p.seed), (30, 5.0, 12345));
    assert_eq!((p.cn_type, p.cn_strength), (CnType::Canny, 0.9));

    // A gallery folder holding that foreign image lists it, and writes nothing beside it.
    let store = Store::open(d.path()).unwrap();
    let e = store.get("00001-12345").unwrap();
    assert_eq!(e.meta.params, p);
    assert_eq!((e.meta.width, e.meta.height), (4, 4));
    assert!(
        !d.path().join("00001-12345.json").exists(),
        "no sidecar beside another tool's picture"
    );

    let junk = d.path().join("notes.txt");
    std::fs::write(&junk, "hello").unwrap();
    let err = read_settings(&junk).unwrap_err();
    assert!(err.to_string().contains("notes.txt"), "{err}");
}

#[test]
fn the_key_is_never_written() {
    let d = tempfile::tempdir().unwrap();
    let store = Store::open(d.path()).unwrap();
    for fmt in [image::ImageFormat::Png, image::ImageFormat::Jpeg] {
        let e = save(&store, &encoded(16, 16, fmt), &params(), 3);
        store.thumbnail(&e, 8).unwrap();
    }
    // The sidecar schema has no field for a key, at any depth.
    let e = &store.list()[0];
    fn keys(v: &serde_json::Value, out: &mut Vec<String>) {
        match v {
            serde_json::Value::Object(m) => {
                for (k, v) in m {
                    out.push(k.to_ascii_lowercase());
                    keys(v, out);
                }
            }
            serde_json::Value::Array(a) => a.iter().for_each(|v| keys(v, out)),
            _ => {}
        }
    }
    let mut all = Vec::new();
    keys(&serde_json::to_value(&e.meta).unwrap(), &mut all);
    assert!(all.contains(&"prompt".to_string()));
    for k in &all {
        assert!(
            !k.contains("key") && !k.contains("token") && !k.contains("secret"),
            "field {k}"
        );
    }
    // No file we wrote mentions a key header or a key-shaped value.
    let mut files = vec![];
    for sub in ["", ".thumbs"] {
        for n in names(&d.path().join(sub)) {
            let p = d.path().join(sub).join(n);
            if p.is_file() {
                files.push(p);
            }
        }
    }
    assert!(files.len() >= 6, "{files:?}");
    for f in files {
        let text = String::from_utf8_lossy(&std::fs::read(&f).unwrap()).to_ascii_lowercase();
        for needle in ["x-api-key", "api_key", "apikey", "sg_"] {
            assert!(!text.contains(needle), "{needle} in {}", f.display());
        }
    }
}

#[test]
fn thumbnails_are_cached_and_reused() {
    let d = tempfile::tempdir().unwrap();
    let store = Store::open(d.path()).unwrap();
    let e = save(
        &store,
        &encoded(300, 150, image::ImageFormat::Png),
        &params(),
        1,
    );
    let t = store.thumbnail(&e, 100).unwrap();
    assert_eq!((t.width(), t.height()), (100, 50));
    let cache = d.path().join(".thumbs").join(format!("{}-100.jpg", e.id));
    let made = std::fs::metadata(&cache).unwrap().modified().unwrap();
    std::thread::sleep(Duration::from_millis(20));
    let again = store.thumbnail(&e, 100).unwrap();
    assert_eq!((again.width(), again.height()), (100, 50));
    assert_eq!(
        std::fs::metadata(&cache).unwrap().modified().unwrap(),
        made,
        "reused"
    );
    // Never enlarged; a zero size is refused with a message.
    let big = store.thumbnail(&e, 1000).unwrap();
    assert_eq!((big.width(), big.height()), (300, 150));
    assert!(matches!(
        store.thumbnail(&e, 0),
        Err(GalleryError::BadThumbSize { .. })
    ));
    let mut sneaky = e.clone();
    sneaky.id = "../../escape".into();
    assert!(store.thumbnail(&sneaky, 10).is_err());
    assert!(!d.path().join("escape-10.jpg").exists());
    // A damaged image gives an error naming it, not a panic.
    std::fs::write(&e.image_path, b"\x89PNG\r\n\x1a\nbroken").unwrap();
    let err = store.thumbnail(&e, 50).unwrap_err();
    assert!(err.to_string().contains(&e.id), "{err}");
}

#[test]
fn two_handles_and_many_threads_share_one_gallery() {
    let d = tempfile::tempdir().unwrap();
    let app = Store::open(d.path()).unwrap();
    let cli = Store::open(d.path()).unwrap(); // as if another process
    let img = encoded(8, 8, image::ImageFormat::Png);
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let s = app.clone();
            let img = img.clone();
            std::thread::spawn(move || {
                (0..3)
                    .map(|_| save(&s, &img, &params(), 77).id)
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut ids: Vec<String> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 12, "same second, same seed: still unique names");
    let c = save(&cli, &img, &params(), 78);
    assert_eq!(cli.list().len(), 13);
    assert_eq!(app.list().len(), 13, "the app sees what the CLI saved");
    app.delete(&c.id).unwrap();
    assert_eq!(cli.get(&c.id), None, "and the CLI sees the app's delete");
    assert_eq!(Store::open(d.path()).unwrap().list().len(), 12);
}

#[test]
fn open_fails_with_a_named_error_when_the_folder_cannot_be_made() {
    let d = tempfile::tempdir().unwrap();
    let file = d.path().join("a-file");
    std::fs::write(&file, b"x").unwrap();
    let err = Store::open(file.join("gallery")).err().unwrap();
    assert!(err.to_string().contains("a-file"), "{err}");
}

#[test]
fn an_unwritable_index_never_stops_the_gallery() {
    let d = tempfile::tempdir().unwrap();
    let store = Store::open(d.path()).unwrap();
    let img = encoded(8, 8, image::ImageFormat::Png);
    let a = save(&store, &img, &params(), 1);
    drop(store);
    // The index path becomes something that can be neither read nor replaced.
    let index = d.path().join(".index.jsonl");
    std::fs::remove_file(&index).unwrap();
    std::fs::create_dir(&index).unwrap();
    std::fs::write(index.join("x"), b"x").unwrap();

    let store = Store::open(d.path()).unwrap();
    assert_eq!(store.list(), vec![a.clone()]);
    let b = save(&store, &img, &params(), 2);
    store.set_favourite(&b.id, true).unwrap();
    assert_eq!(store.list().len(), 2);
    assert!(store.get(&b.id).unwrap().meta.favourite);
    assert!(b.image_path.exists() && b.sidecar_path.exists());
    // An explicit rebuild says what is wrong, naming the index.
    let e = store.rebuild_index().unwrap_err();
    assert!(e.to_string().contains(".index.jsonl"), "{e}");
}

#[test]
fn any_slider_value_survives_a_reopen_bit_for_bit() {
    // Sliders give arbitrary floats; JSON must bring every bit back (serde_json's
    // `float_roundtrip`), or "reuse settings" and the list after a restart drift.
    let d = tempfile::tempdir().unwrap();
    let store = Store::open(d.path()).unwrap();
    let img = encoded(8, 8, image::ImageFormat::Png);
    let mut rng = fastrand::Rng::with_seed(7);
    let mut saved = Vec::new();
    for n in 0..20 {
        let p = GenParams {
            guidance: 1.0 + rng.f64() * 14.0,
            cn_strength: rng.f64() * 2.0,
            cn_stop: rng.f64(),
            ..params()
        };
        let acc = Accounting {
            cost: Some(rng.f64() / 10.0),
            remaining_credits: Some(rng.f64() * 100.0),
            ..accounting(n)
        };
        let e = store
            .save(&NewResult {
                image: &img,
                params: &p,
                input: "in.png",
                api: ApiVersion::V1,
                accounting: &acc,
                group: None,
                index: 0,
                job_id: None,
            })
            .unwrap();
        assert_eq!(read_settings(&e.image_path).unwrap(), p);
        saved.push(e);
    }
    drop(store);
    let store = Store::open(d.path()).unwrap();
    for e in &saved {
        assert_eq!(store.get(&e.id).as_ref(), Some(e));
    }
    store.rebuild_index().unwrap();
    for e in &saved {
        assert_eq!(store.get(&e.id).as_ref(), Some(e), "from the sidecar");
    }
}

#[test]
fn the_store_is_shareable_and_survives_its_folder_vanishing() {
    fn send_sync<T: Send + Sync + Clone + 'static>() {}
    send_sync::<Store>();
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("gallery");
    let store = Store::open(&dir).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    let e = save(
        &store,
        &encoded(8, 8, image::ImageFormat::Png),
        &params(),
        3,
    );
    assert!(e.image_path.exists() && e.sidecar_path.exists());
    assert_eq!(Store::open(&dir).unwrap().list(), vec![e]);
}

#[test]
fn a_thumbnail_of_a_huge_claimed_size_is_refused_not_allocated() {
    let d = tempfile::tempdir().unwrap();
    let store = Store::open(d.path()).unwrap();
    let e = save(
        &store,
        &encoded(8, 8, image::ImageFormat::Png),
        &params(),
        3,
    );
    // Rewrite the header to claim 60 000 x 60 000 pixels (with a correct CRC).
    let mut b = std::fs::read(&e.image_path).unwrap();
    b[16..20].copy_from_slice(&60_000u32.to_be_bytes());
    b[20..24].copy_from_slice(&60_000u32.to_be_bytes());
    let crc = crc32(&b[12..29]);
    b[29..33].copy_from_slice(&crc.to_be_bytes());
    std::fs::write(&e.image_path, &b).unwrap();
    let err = store.thumbnail(&e, 64).unwrap_err();
    assert!(matches!(err, GalleryError::DamagedImage { .. }), "{err}");
}

fn crc32(data: &[u8]) -> u32 {
    let mut c = 0xFFFF_FFFFu32;
    for &b in data {
        c ^= b as u32;
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
