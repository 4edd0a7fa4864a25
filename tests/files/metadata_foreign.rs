//! Settings from other tools' images, made here the way each tool writes them: AUTOMATIC1111's
//! `parameters` PNG text and its EXIF UserComment in JPEG and WebP (piexif's layout: a big-endian
//! TIFF, `UNICODE` and UTF-16), ComfyUI's `prompt` API graph (the default workflow and a Flux
//! ControlNet one), InvokeAI's `invokeai_metadata`; each reads into the expected request, with notes
//! on what was clamped or has no counterpart. Hostile metadata gives a clear error, never a panic
//! or a hang. And `fluxcn generate --like FILE` end to end against the stand-in.

use crate::common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use fluxcn::api::{CnType, GenParams, Scheduler};
use fluxcn::gallery::foreign::import_bytes;
use fluxcn::gallery::{Imported, Tool, read_any};
use serde_json::json;

/// A small PNG with these text chunks (`tEXt`, as PIL writes Latin-1 text).
fn png_with(texts: &[(&str, &str)]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut enc = png::Encoder::new(&mut out, 8, 8);
    enc.set_color(png::ColorType::Rgb);
    for (k, v) in texts {
        if v.chars().all(|c| (c as u32) < 256) {
            enc.add_text_chunk((*k).into(), (*v).into()).unwrap();
        } else {
            enc.add_itxt_chunk((*k).into(), (*v).into()).unwrap();
        }
    }
    let mut w = enc.write_header().unwrap();
    w.write_image_data(&[120u8; 8 * 8 * 3]).unwrap();
    w.finish().unwrap();
    out
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

/// The EXIF block piexif makes for `{"Exif": {UserComment: UserComment.dump(text, "unicode")}}`
/// (A1111's `save_image_with_geninfo`): `MM`, IFD0 with only the Exif pointer, the Exif IFD
/// (which piexif writes without a next-IFD offset) with the comment after it.
fn piexif_block(comment: &[u8]) -> Vec<u8> {
    let mut t = b"MM\0\x2a\0\0\0\x08".to_vec();
    t.extend(1u16.to_be_bytes());
    t.extend(0x8769u16.to_be_bytes());
    t.extend(4u16.to_be_bytes());
    t.extend(1u32.to_be_bytes());
    t.extend(26u32.to_be_bytes());
    t.extend(0u32.to_be_bytes());
    t.extend(1u16.to_be_bytes());
    t.extend(0x9286u16.to_be_bytes());
    t.extend(7u16.to_be_bytes());
    t.extend((comment.len() as u32).to_be_bytes());
    t.extend(40u32.to_be_bytes());
    assert_eq!(t.len(), 40);
    t.extend(comment);
    t
}

fn unicode_comment(text: &str) -> Vec<u8> {
    let mut c = b"UNICODE\0".to_vec();
    c.extend(text.encode_utf16().flat_map(u16::to_be_bytes));
    c
}

/// A JPEG as A1111 saves one: PIL's JPEG, then `piexif.insert` (an APP1 after the JFIF APP0).
fn a1111_jpeg(comment: &[u8]) -> Vec<u8> {
    let mut jpg = Vec::new();
    image::DynamicImage::ImageRgb8(image::RgbImage::from_pixel(8, 8, image::Rgb([9, 99, 199])))
        .write_to(
            &mut std::io::Cursor::new(&mut jpg),
            image::ImageFormat::Jpeg,
        )
        .unwrap();
    assert_eq!(&jpg[2..4], [0xFF, 0xE0], "a JFIF APP0 first");
    let app0_end = 4 + u16::from_be_bytes([jpg[4], jpg[5]]) as usize;
    let mut payload = b"Exif\0\0".to_vec();
    payload.extend(piexif_block(comment));
    let mut out = jpg[..app0_end].to_vec();
    out.extend([0xFF, 0xE1]);
    out.extend(((payload.len() + 2) as u16).to_be_bytes());
    out.extend(payload);
    out.extend(&jpg[app0_end..]);
    out
}

/// A WebP as A1111 saves one: PIL's WebP, then `piexif.insert`: a VP8X header with the EXIF flag
/// and an `EXIF` chunk (the TIFF without `Exif\0\0`) after the image.
fn a1111_webp(text: &str) -> Vec<u8> {
    let mut webp = Vec::new();
    image::DynamicImage::ImageRgba8(image::RgbaImage::from_pixel(
        8,
        6,
        image::Rgba([1, 2, 3, 255]),
    ))
    .write_to(
        &mut std::io::Cursor::new(&mut webp),
        image::ImageFormat::WebP,
    )
    .unwrap();
    let image_chunk = &webp[12..];
    let mut vp8x = vec![0x08, 0, 0, 0];
    vp8x.extend(&7u32.to_le_bytes()[..3]);
    vp8x.extend(&5u32.to_le_bytes()[..3]);
    let exif = piexif_block(&unicode_comment(text));
    let mut body = b"WEBP".to_vec();
    for (id, data) in [(&b"VP8X"[..], &vp8x[..]), (b"EXIF", &exif[..])] {
        if id == b"EXIF" {
            body.extend(image_chunk);
        }
        body.extend(id);
        body.extend((data.len() as u32).to_le_bytes());
        body.extend(data);
        if data.len() % 2 == 1 {
            body.push(0);
        }
    }
    let mut out = b"RIFF".to_vec();
    out.extend((body.len() as u32).to_le_bytes());
    out.extend(body);
    out
}

const A1111_TEXT: &str = "photo of a dancer on a rooftop, golden hour, élan\nNegative prompt: lowres, blurry\nSteps: 30, Sampler: DPM++ 2M Karras, CFG scale: 5.5, Seed: 1234567890, Size: 768x1152, Model hash: 6ce0161689, Model: dreamshaper_8, Clip skip: 2, ControlNet 0: \"Module: openpose_full, Model: control_v11p_sd15_openpose [cab727d4], Weight: 0.85, Resize Mode: Crop and Resize, Low Vram: False, Processor Res: 512, Threshold A: 0.5, Threshold B: 0.5, Guidance Start: 0, Guidance End: 0.7, Pixel Perfect: True, Control Mode: Balanced, Hr Option: Both, Save Detected Map: True\", Version: v1.10.1";

fn a1111_expected() -> GenParams {
    GenParams {
        prompt: "photo of a dancer on a rooftop, golden hour, élan".into(),
        sampler: "dpmpp_2m".into(),
        scheduler: Scheduler::Karras,
        seed: 1_234_567_890,
        guidance: 5.5,
        steps: 30,
        custom_width: 768,
        custom_height: 1152,
        use_input_img_dimension: false,
        cn_type: CnType::Pose,
        cn_strength: 0.85,
        cn_stop: 0.7,
        ..GenParams::default()
    }
}

fn assert_notes(i: &Imported, wanted: &[&str]) {
    let all = i.notes.join("\n");
    for w in wanted {
        assert!(all.contains(w), "{w:?} in the notes:\n{all}");
    }
}

#[test]
fn a1111_in_png_jpeg_and_webp_reads_into_the_same_request() {
    let d = tempfile::tempdir().unwrap();
    let files = [
        write(
            d.path(),
            "00001-1234567890.png",
            &png_with(&[("parameters", A1111_TEXT)]),
        ),
        write(
            d.path(),
            "00002-1234567890.jpg",
            &a1111_jpeg(&unicode_comment(A1111_TEXT)),
        ),
        write(d.path(), "00003-1234567890.webp", &a1111_webp(A1111_TEXT)),
    ];
    for f in &files {
        image::open(f).unwrap();
        let i = read_any(f).unwrap();
        assert_eq!(i.source, Tool::A1111, "{}", f.display());
        assert_eq!(i.params, a1111_expected(), "{}", f.display());
        assert_eq!(i.seed_used, Some(1_234_567_890));
        assert_notes(
            &i,
            &[
                "the negative prompt \"lowres, blurry\" is not used",
                "the model \"dreamshaper_8\" is not used",
                "not used, no counterpart here: Clip skip",
            ],
        );
        assert_eq!(i.notes.len(), 3, "{:?}", i.notes);
        assert!(
            i.summary()
                .starts_with("Settings read from AUTOMATIC1111 metadata; 3 notes: ")
        );
        assert_eq!(fluxcn::gallery::read_settings(f).unwrap(), a1111_expected());
    }
}

#[test]
fn a_jpeg_user_comment_in_little_endian_utf16_or_ascii_is_read_too() {
    let d = tempfile::tempdir().unwrap();
    let mut le = b"UNICODE\0".to_vec();
    le.extend(A1111_TEXT.encode_utf16().flat_map(u16::to_le_bytes));
    let ascii_text = "a castle\nSteps: 25, Seed: 5";
    let mut ascii = b"ASCII\0\0\0".to_vec();
    ascii.extend(ascii_text.as_bytes());
    let i = read_any(&write(d.path(), "le.jpg", &a1111_jpeg(&le))).unwrap();
    assert_eq!(i.params, a1111_expected());
    let i = read_any(&write(d.path(), "ascii.jpg", &a1111_jpeg(&ascii))).unwrap();
    assert_eq!((i.params.prompt.as_str(), i.params.steps), ("a castle", 25));
    assert_notes(&i, &["names no ControlNet"]);
}

/// ComfyUI's default workflow in API format, as its SaveImage writes it in the `prompt` chunk.
fn comfy_default() -> serde_json::Value {
    json!({
        "3": {"inputs": {"seed": 156680208700286u64, "steps": 20, "cfg": 8, "sampler_name": "euler",
              "scheduler": "normal", "denoise": 1, "model": ["4", 0], "positive": ["6", 0],
              "negative": ["7", 0], "latent_image": ["5", 0]},
              "class_type": "KSampler", "_meta": {"title": "KSampler"}},
        "4": {"inputs": {"ckpt_name": "v1-5-pruned-emaonly.safetensors"}, "class_type": "CheckpointLoaderSimple"},
        "5": {"inputs": {"width": 512, "height": 512, "batch_size": 1}, "class_type": "EmptyLatentImage"},
        "6": {"inputs": {"text": "beautiful scenery nature glass bottle landscape, purple galaxy bottle,",
              "clip": ["4", 1]}, "class_type": "CLIPTextEncode"},
        "7": {"inputs": {"text": "text, watermark", "clip": ["4", 1]}, "class_type": "CLIPTextEncode"},
        "8": {"inputs": {"samples": ["3", 0], "vae": ["4", 2]}, "class_type": "VAEDecode"},
        "9": {"inputs": {"filename_prefix": "ComfyUI", "images": ["8", 0]}, "class_type": "SaveImage"}
    })
}

/// A Flux ControlNet graph: SamplerCustomAdvanced with its noise, guider, sampler and sigmas nodes,
/// FluxGuidance, a union ControlNet set to depth, and the prompt from a string node.
fn comfy_flux() -> serde_json::Value {
    json!({
        "10": {"inputs": {"unet_name": "flux1-dev.safetensors", "weight_dtype": "default"}, "class_type": "UNETLoader"},
        "11": {"inputs": {"clip_name1": "t5xxl_fp16.safetensors", "clip_name2": "clip_l.safetensors", "type": "flux"}, "class_type": "DualCLIPLoader"},
        "12": {"inputs": {"vae_name": "ae.safetensors"}, "class_type": "VAELoader"},
        "30": {"inputs": {"value": "a knight in armour, dramatic light"}, "class_type": "PrimitiveStringMultiline"},
        "6": {"inputs": {"text": ["30", 0], "clip": ["11", 0]}, "class_type": "CLIPTextEncode"},
        "33": {"inputs": {"text": "", "clip": ["11", 0]}, "class_type": "CLIPTextEncode"},
        "41": {"inputs": {"control_net_name": "FLUX.1/InstantX-FLUX1-Dev-Union/diffusion_pytorch_model.safetensors"}, "class_type": "ControlNetLoader"},
        "43": {"inputs": {"type": "depth", "control_net": ["41", 0]}, "class_type": "SetUnionControlNetType"},
        "40": {"inputs": {"strength": 0.6, "start_percent": 0, "end_percent": 0.4, "positive": ["6", 0],
               "negative": ["33", 0], "control_net": ["43", 0], "image": ["44", 0], "vae": ["12", 0]},
               "class_type": "ControlNetApplyAdvanced"},
        "44": {"inputs": {"image": "pose.png", "upload": "image"}, "class_type": "LoadImage"},
        "26": {"inputs": {"guidance": 4, "conditioning": ["40", 0]}, "class_type": "FluxGuidance"},
        "22": {"inputs": {"model": ["10", 0], "conditioning": ["26", 0]}, "class_type": "BasicGuider"},
        "25": {"inputs": {"noise_seed": 219670278747233u64}, "class_type": "RandomNoise"},
        "16": {"inputs": {"sampler_name": "euler"}, "class_type": "KSamplerSelect"},
        "17": {"inputs": {"scheduler": "beta", "steps": 28, "denoise": 1, "model": ["10", 0]}, "class_type": "BasicScheduler"},
        "27": {"inputs": {"width": 1024, "height": 768, "batch_size": 1}, "class_type": "EmptySD3LatentImage"},
        "13": {"inputs": {"noise": ["25", 0], "guider": ["22", 0], "sampler": ["16", 0], "sigmas": ["17", 0],
               "latent_image": ["27", 0]}, "class_type": "SamplerCustomAdvanced"},
        "8": {"inputs": {"samples": ["13", 0], "vae": ["12", 0]}, "class_type": "VAEDecode"},
        "9": {"inputs": {"filename_prefix": "flux", "images": ["8", 0]}, "class_type": "SaveImage"}
    })
}

fn comfy_png(graph: &serde_json::Value) -> Vec<u8> {
    let text = graph.to_string();
    png_with(&[("prompt", &text), ("workflow", "{\"nodes\": []}")])
}

pub fn comfy_flux_expected() -> GenParams {
    GenParams {
        prompt: "a knight in armour, dramatic light".into(),
        sampler: "euler".into(),
        scheduler: Scheduler::Beta,
        seed: 219_670_278_747_233,
        guidance: 4.0,
        steps: 28,
        cn_type: CnType::Depth,
        cn_strength: 0.6,
        cn_stop: 0.4,
        custom_width: 1024,
        custom_height: 768,
        use_input_img_dimension: false,
        ..GenParams::default()
    }
}

#[test]
fn comfyui_graphs_read_into_the_expected_request() {
    let d = tempfile::tempdir().unwrap();
    let i = read_any(&write(
        d.path(),
        "ComfyUI_00001_.png",
        &comfy_png(&comfy_default()),
    ))
    .unwrap();
    assert_eq!(i.source, Tool::ComfyUI);
    assert_eq!(
        i.params,
        GenParams {
            prompt: "beautiful scenery nature glass bottle landscape, purple galaxy bottle,".into(),
            seed: 156_680_208_700_286,
            steps: 20,
            guidance: 8.0,
            sampler: "euler".into(),
            scheduler: Scheduler::Normal,
            custom_width: 512,
            custom_height: 512,
            use_input_img_dimension: false,
            ..GenParams::default()
        }
    );
    assert_notes(
        &i,
        &[
            "negative prompt \"text, watermark\"",
            "checkpoint \"v1-5-pruned-emaonly.safetensors\"",
            "names no ControlNet",
        ],
    );

    let i = read_any(&write(d.path(), "flux.png", &comfy_png(&comfy_flux()))).unwrap();
    assert_eq!(i.params, comfy_flux_expected());
    assert_notes(&i, &["diffusion model \"flux1-dev.safetensors\""]);
    assert_eq!(
        i.notes.len(),
        1,
        "an empty negative prompt says nothing: {:?}",
        i.notes
    );

    // Values out of range, an unknown sampler and scheduler, a ControlNet of no known type.
    let mut g = comfy_flux();
    g["17"]["inputs"]["steps"] = json!(150);
    g["17"]["inputs"]["scheduler"] = json!("kl_optimal");
    g["16"]["inputs"]["sampler_name"] = json!("res_multistep");
    g["26"]["inputs"]["guidance"] = json!(30.5);
    g["25"]["inputs"]["noise_seed"] = json!(u64::MAX);
    g["40"]["inputs"]["control_net"] = json!(["41", 0]);
    g["40"]["inputs"]["start_percent"] = json!(0.1);
    let i = import_bytes(Path::new("x.png"), &comfy_png(&g))
        .unwrap()
        .unwrap();
    assert_eq!((i.params.steps, i.params.guidance), (75, 15.0));
    assert_eq!(
        (i.params.sampler.as_str(), i.params.scheduler),
        ("euler", Scheduler::Simple)
    );
    assert_eq!(i.params.seed, fluxcn::api::params::MAX_SEED);
    assert_notes(
        &i,
        &[
            "steps 150 is outside what the service allows (15 to 75): 75 is used",
            "FluxGuidance guidance 30.5 is outside",
            "sampler_name \"res_multistep\" has no counterpart",
            "scheduler \"kl_optimal\" has no counterpart",
            &format!("noise_seed {} is outside", u64::MAX),
            "ControlNet \"FLUX.1/InstantX-FLUX1-Dev-Union/diffusion_pytorch_model.safe…\" matches none",
            "start_percent 0.1 is not used",
        ],
    );
}

#[test]
fn invokeai_metadata_reads_into_the_expected_request() {
    let flux = json!({
        "generation_mode": "flux_txt2img", "positive_prompt": "a cozy cabin in the snow",
        "width": 1024, "height": 832, "seed": 1234567, "rand_device": "cpu", "steps": 30,
        "guidance": 4, "scheduler": "euler",
        "model": {"key": "k1", "hash": "h1", "name": "FLUX Dev (Quantized)", "base": "flux", "type": "main"},
        "controlnets": [{"image": {"image_name": "in.png"}, "control_model":
            {"key": "k2", "hash": "h2", "name": "flux-canny-controlnet-v3", "base": "flux", "type": "controlnet"},
            "control_weight": 0.75, "begin_step_percent": 0, "end_step_percent": 0.6,
            "control_mode": null, "resize_mode": "just_resize"}],
        "app_version": "5.6.0"
    });
    let png = png_with(&[
        ("invokeai_metadata", &flux.to_string()),
        ("invokeai_graph", "{}"),
    ]);
    let i = import_bytes(Path::new("invoke.png"), &png)
        .unwrap()
        .unwrap();
    assert_eq!(i.source, Tool::InvokeAI);
    assert_eq!(
        i.params,
        GenParams {
            prompt: "a cozy cabin in the snow".into(),
            seed: 1_234_567,
            steps: 30,
            guidance: 4.0,
            sampler: "euler".into(),
            custom_width: 1024,
            custom_height: 832,
            use_input_img_dimension: false,
            cn_type: CnType::Canny,
            cn_strength: 0.75,
            cn_stop: 0.6,
            ..GenParams::default()
        }
    );
    assert_eq!(
        i.notes,
        [
            "the model \"FLUX Dev (Quantized)\" is not used: this service always runs flux-controlnet"
        ]
    );

    let sd = json!({"positive_prompt": "a fox", "negative_prompt": "blurry", "seed": 7,
                    "steps": 25, "cfg_scale": 7.5, "scheduler": "dpmpp_2m_k",
                    "width": 512, "height": 512});
    let png = png_with(&[("invokeai_metadata", &sd.to_string())]);
    let i = import_bytes(Path::new("sd.png"), &png).unwrap().unwrap();
    assert_eq!(
        (
            i.params.sampler.as_str(),
            i.params.scheduler,
            i.params.guidance
        ),
        ("dpmpp_2m", Scheduler::Karras, 7.5)
    );
    assert_notes(&i, &["negative prompt \"blurry\"", "names no ControlNet"]);
}

fn error_of(png: &[u8]) -> String {
    match import_bytes(Path::new("hostile.png"), png) {
        Err(e) => e.to_string(),
        Ok(other) => panic!("not refused: {other:?}"),
    }
}

#[test]
fn hostile_metadata_gives_a_clear_error() {
    // A loop in the conditioning, and a value linked to its own node.
    let mut g = comfy_default();
    g["3"]["inputs"]["positive"] = json!(["20", 0]);
    g["20"] = json!({"inputs": {"conditioning_1": ["21", 0]}, "class_type": "ConditioningCombine"});
    g["21"] =
        json!({"inputs": {"guidance": 3, "conditioning": ["20", 0]}, "class_type": "FluxGuidance"});
    let e = error_of(&comfy_png(&g));
    assert!(
        e.contains("hostile.png") && e.contains("links in a loop"),
        "{e}"
    );
    let mut g = comfy_default();
    g["3"]["inputs"]["seed"] = json!(["3", 0]);
    assert!(error_of(&comfy_png(&g)).contains("links in a loop"));
    // A link to a node that is not there; a graph that is not one; no sampler.
    let mut g = comfy_default();
    g["3"]["inputs"]["positive"] = json!(["99", 0]);
    assert!(error_of(&comfy_png(&g)).contains("node \"99\", which is not in the graph"));
    assert!(error_of(&comfy_png(&json!([1, 2]))).contains("not a JSON object of nodes"));
    assert!(
        error_of(&comfy_png(
            &json!({"1": {"class_type": "SaveImage", "inputs": {}}})
        ))
        .contains("no sampler node")
    );
    // JSON nested past any real file's depth, and metadata past any real size.
    let deep = "[".repeat(100_000);
    let e = error_of(&png_with(&[("prompt", &deep)]));
    assert!(
        e.contains("ComfyUI metadata is not valid JSON") && e.contains("recursion"),
        "{e}"
    );
    let e = error_of(&png_with(&[("invokeai_metadata", &deep)]));
    assert!(e.contains("InvokeAI metadata is not valid JSON"), "{e}");
    let huge = format!("{{\"x\": \"{}\"}}", "a".repeat(17 * 1024 * 1024));
    let e = error_of(&png_with(&[("prompt", &huge)]));
    assert!(e.contains("more than the 16777216 this app reads"), "{e}");
    // A long chain of links ends, with an error.
    let mut g = comfy_default();
    for n in 100..300 {
        g[n.to_string()] = json!({"inputs": {"conditioning": [(n + 1).to_string(), 0]}, "class_type": "ConditioningZeroOut"});
    }
    g["3"]["inputs"]["positive"] = json!(["100", 0]);
    g["300"] = json!({"inputs": {"text": "deep"}, "class_type": "CLIPTextEncode"});
    assert!(error_of(&comfy_png(&g)).contains("more than 64 nodes in a row"));
    // A UserComment that is not UTF-16.
    let e = match import_bytes(
        Path::new("bad.jpg"),
        &a1111_jpeg(b"UNICODE\0\xd8\x01\0a\0b"),
    ) {
        Err(e) => e.to_string(),
        Ok(other) => panic!("{other:?}"),
    };
    assert!(
        e.contains("EXIF UserComment cannot be read: it is not valid UTF-16"),
        "{e}"
    );
    // A damaged foreign record does not hide a readable one.
    let png = png_with(&[("prompt", "{"), ("parameters", A1111_TEXT)]);
    let i = import_bytes(Path::new("x.png"), &png).unwrap().unwrap();
    assert_eq!(i.source, Tool::A1111);
}

#[test]
fn random_graphs_never_panic_or_hang() {
    let mut rng = fastrand::Rng::with_seed(15);
    let classes = [
        "KSampler",
        "KSamplerAdvanced",
        "SamplerCustom",
        "SamplerCustomAdvanced",
        "CLIPTextEncode",
        "FluxGuidance",
        "ControlNetApplyAdvanced",
        "ControlNetLoader",
        "EmptyLatentImage",
        "BasicGuider",
        "CFGGuider",
        "RandomNoise",
        "KSamplerSelect",
        "BasicScheduler",
        "X",
    ];
    let inputs = [
        "seed",
        "noise_seed",
        "steps",
        "cfg",
        "sampler_name",
        "scheduler",
        "positive",
        "negative",
        "latent_image",
        "conditioning",
        "text",
        "guidance",
        "control_net",
        "strength",
        "end_percent",
        "width",
        "height",
        "noise",
        "guider",
        "sampler",
        "sigmas",
        "value",
    ];
    for _ in 0..1500 {
        let n = rng.usize(1..12);
        let mut g = serde_json::Map::new();
        for id in 0..n {
            let mut ins = serde_json::Map::new();
            for _ in 0..rng.usize(0..8) {
                let v = match rng.u8(0..6) {
                    0 => json!([rng.usize(0..n + 1).to_string(), 0]),
                    1 => json!(rng.i64(..)),
                    2 => json!(rng.f64() * 100.0),
                    3 => json!("euler"),
                    4 => json!(null),
                    _ => json!([rng.usize(0..n).to_string(), rng.u8(..)]),
                };
                ins.insert(inputs[rng.usize(..inputs.len())].to_owned(), v);
            }
            g.insert(
                id.to_string(),
                json!({"class_type": classes[rng.usize(..classes.len())], "inputs": ins}),
            );
        }
        let png = comfy_png(&serde_json::Value::Object(g));
        if let Ok(Some(i)) = import_bytes(Path::new("r.png"), &png) {
            assert_eq!(
                i.params.clamped(),
                i.params,
                "whatever is read is within range"
            );
        }
    }
}

const KEY: &str = "SG_c1c1c1c1deadbeef";

fn run(server: &str, data: &Path, args: &[&std::ffi::OsStr]) -> std::process::Output {
    common::binary::fluxcn_cmd(KEY, server, data, Duration::from_secs(60))
        .args(args)
        .output()
        .unwrap()
}

fn sidecar_of_output(o: &std::process::Output) -> (PathBuf, serde_json::Value) {
    assert!(
        o.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let path = PathBuf::from(String::from_utf8(o.stdout.clone()).unwrap().trim());
    let meta =
        serde_json::from_slice(&std::fs::read(path.with_extension("json")).unwrap()).unwrap();
    (path, meta)
}

#[test]
fn generate_like_a_file_takes_its_settings_and_the_flags_given_win() {
    let rt = common::rt();
    let cfg = fluxcn::sim::SimConfig {
        delay: Duration::from_millis(50),
        ..Default::default()
    };
    let server = rt.block_on(fluxcn::sim::start(cfg)).unwrap();
    let base = server.base_url();
    let d = tempfile::tempdir().unwrap();
    let data = d.path().join("data");
    let out = d.path().join("out");
    let photo = d.path().join("photo.png");
    image::RgbImage::from_pixel(96, 64, image::Rgb([50, 90, 130]))
        .save(&photo)
        .unwrap();
    let comfy = write(d.path(), "flux.png", &comfy_png(&comfy_flux()));
    let os = |s: &str| std::ffi::OsString::from(s);
    let o = run(
        &base,
        &data,
        &[
            &os("generate"),
            &os("--like"),
            comfy.as_os_str(),
            &os("--image"),
            photo.as_os_str(),
            &os("--steps"),
            &os("30"),
            &os("--out"),
            out.as_os_str(),
        ],
    );
    let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
    let (made, meta) = sidecar_of_output(&o);
    let p: GenParams = serde_json::from_value(meta["params"].clone()).unwrap();
    assert_eq!(
        p,
        GenParams {
            steps: 30,
            ..comfy_flux_expected()
        },
        "{stderr}"
    );
    assert!(
        stderr.contains("settings read from its ComfyUI metadata"),
        "{stderr}"
    );
    assert!(
        stderr.contains("diffusion model \"flux1-dev.safetensors\""),
        "{stderr}"
    );

    // Our own result: every setting, the seed it was made with, and its kept input.
    let o = run(
        &base,
        &data,
        &[
            &os("generate"),
            &os("--like"),
            made.as_os_str(),
            &os("--out"),
            out.as_os_str(),
        ],
    );
    let (_, again) = sidecar_of_output(&o);
    assert_eq!(
        again["params"],
        meta["params"],
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(again["seed_used"], meta["seed_used"]);

    // Another tool's picture keeps no input: --image is needed, and nothing is sent.
    let a1111 = write(
        d.path(),
        "a1111.png",
        &png_with(&[("parameters", A1111_TEXT)]),
    );
    let o = run(
        &base,
        &data,
        &[&os("generate"), &os("--like"), a1111.as_os_str()],
    );
    assert!(!o.status.success());
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.contains("--image is required"), "{stderr}");
    assert!(stderr.contains("a1111.png"), "{stderr}");
}
