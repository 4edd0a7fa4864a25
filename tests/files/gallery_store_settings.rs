//! The gallery store keeps the settings with the picture, end to end in a temporary folder: PNG
//! chunks (A1111 text and our own record), JPEG EXIF and comments, and the WebP EXIF chunk, all
//! leaving the pixels untouched; A1111 text and PNGs from other tools read back, any slider value
//! restored bit for bit, and never the API key in any file. (Readers independent of ours check the
//! same files in `metadata_roundtrip.rs`.)

use crate::common;

use common::gallery::{accounting, encoded, names, params, pixels, save};
use fluxcn::api::{Accounting, CnType, GenParams, ImageFormat, Scheduler};
use fluxcn::gallery::{GalleryError, NewResult, Store, format_a1111, parse_a1111, read_settings};
use fluxcn::jobs::ApiVersion;

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
    assert!(parameters.text.starts_with("a knight in armour, dramatic light, élan\nSteps: 28, Sampler: dpmpp_2m, Schedule type: karras, CFG scale: 4.5, Seed: 99, Size: 96x80, Model: flux-controlnet, ControlNet 0: \"Module: depth_midas, Model: flux-controlnet-depth, Weight: 0.7, Guidance Start: 0, Guidance End: 0.6\""));
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
    assert_eq!(
        request.as_object().unwrap().len(),
        fluxcn::api::fields::Field::COUNT + 1,
        "the image and every field"
    );

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
    // The only change is the inserted EXIF segment and comments.
    let exif_len = 2 + u16::from_be_bytes([file[22], file[23]]) as usize;
    assert_eq!(
        &file[20..22],
        [0xFF, 0xE1],
        "EXIF right after the JFIF header"
    );
    assert_eq!(
        file.len(),
        img.bytes.len() + exif_len + comments.iter().map(|c| c.len() + 4).sum::<usize>()
    );
}

#[test]
fn webp_carries_its_settings_inside_and_its_pixels_are_untouched() {
    let d = tempfile::tempdir().unwrap();
    let store = Store::open(d.path()).unwrap();
    let img = encoded(16, 16, image::ImageFormat::WebP);
    let e = save(&store, &img, &params(), 5);
    let file = std::fs::read(&e.image_path).unwrap();
    assert_eq!(
        &file[12..16],
        b"VP8X",
        "the extended format, for its EXIF chunk"
    );
    let before = image::load_from_memory(&img.bytes).unwrap().to_rgba8();
    let after = image::load_from_memory(&file).unwrap().to_rgba8();
    assert_eq!(before, after);
    assert_eq!(read_settings(&e.image_path).unwrap(), params());
    std::fs::remove_file(&e.sidecar_path).unwrap();
    assert_eq!(read_settings(&e.image_path).unwrap(), params());
    // A WebP with nothing inside and no sidecar says where it looked.
    let bare = d.path().join("bare.webp");
    std::fs::write(&bare, &img.bytes).unwrap();
    let err = read_settings(&bare).unwrap_err();
    assert!(matches!(err, GalleryError::NoSettings { .. }));
    assert!(err.to_string().contains("bare.webp"), "{err}");
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
                input_image: None,
                prompt_template: None,
                batch_line: None,
                framing: None,
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
    store.rebuild_catalog().unwrap();
    for e in &saved {
        assert_eq!(store.get(&e.id).as_ref(), Some(e), "from the sidecar");
    }
}
