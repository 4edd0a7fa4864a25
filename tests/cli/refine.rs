//! `fluxcn generate --refine PICTURE [--scale S]` (issue 26) against the stand-in: the picture is
//! sent as it is on disk, with tile, its prompt and seed, and an output S times its size (capped
//! at 4096, same shape); flags override as with --like; the result names its parent.

use crate::common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use fluxcn::api::params::CnType;
use fluxcn::sim::{self, InputImage, SimConfig};
use sha2::Digest as _;

const KEY: &str = "SG_c1c1c1c1deadbeef";

fn run(base: &str, data: &Path, args: &[&str]) -> (PathBuf, String) {
    let o = common::binary::fluxcn_cmd(KEY, base, data, Duration::from_secs(60))
        .args(args)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(o.status.success(), "{args:?}: {stderr}");
    let stdout = String::from_utf8(o.stdout).unwrap();
    let first = stdout.lines().next().expect("a saved path");
    (PathBuf::from(first), stderr)
}

fn sha256(path: &Path) -> String {
    sha2::Sha256::digest(std::fs::read(path).unwrap())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[test]
fn a_refine_sends_the_picture_with_tile_twice_its_size_and_names_its_parent() {
    let rt = common::rt();
    let server = rt
        .block_on(sim::start(SimConfig {
            delay: Duration::from_millis(50),
            ..Default::default()
        }))
        .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let input = common::photo_file(tmp.path(), "photo.jpg", 320, 240);
    let input = input.display().to_string();
    let base = server.base_url();
    let (picture, _) = run(
        &base,
        &data,
        &[
            "generate",
            "--api",
            "v1",
            "--image",
            &input,
            "--prompt",
            "a red fox",
            "--cn-type",
            "depth",
            "--seed",
            "4242",
            "--steps",
            "30",
            "--use-input-size",
            "false",
            "--width",
            "640",
            "--height",
            "480",
        ],
    );
    let pic = picture.display().to_string();
    let (refined, said) = run(&base, &data, &["generate", "--api", "v1", "--refine", &pic]);
    assert!(said.contains("output 1280 × 960"), "{said}");
    let stats = server.stats();
    let got = stats.received.last().unwrap();
    assert_eq!(got.params.cn_type, CnType::Tile);
    assert_eq!(got.params.prompt, "a red fox");
    assert_eq!(got.params.seed, 4242, "the seed it was made with");
    assert_eq!(got.params.steps, 30, "its knobs");
    assert!(!got.params.use_input_img_dimension);
    assert_eq!(
        (got.params.custom_width, got.params.custom_height),
        (1280, 960)
    );
    assert_eq!(
        got.input,
        InputImage::Inline {
            width: 640,
            height: 480
        }
    );
    assert_eq!(
        got.image_sha256.as_deref(),
        Some(sha256(&picture).as_str()),
        "the picture's own bytes"
    );
    assert_eq!(image::image_dimensions(&refined).unwrap(), (1280, 960));
    let side: serde_json::Value =
        serde_json::from_slice(&std::fs::read(refined.with_extension("json")).unwrap()).unwrap();
    let parent = std::path::absolute(&picture).unwrap();
    assert_eq!(side["parent"], parent.display().to_string());

    // Flags override, a scale that would pass 4096 is capped with the same shape, and a scale
    // out of range is refused before anything is sent.
    let refined_pic = refined.display().to_string();
    run(
        &base,
        &data,
        &[
            "generate",
            "--api",
            "v1",
            "--refine",
            &refined_pic,
            "--scale",
            "4",
            "--cn-strength",
            "0.9",
        ],
    );
    let got = server.stats().received.last().unwrap().clone();
    assert_eq!(
        (got.params.custom_width, got.params.custom_height),
        (4096, 3072)
    );
    assert_eq!(got.params.cn_strength, 0.9);
    let sent = server.stats().received.len();
    let o = common::binary::fluxcn_cmd(KEY, &base, &data, Duration::from_secs(30))
        .args(["generate", "--refine", &pic, "--scale", "5"])
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("at most 4"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(server.stats().received.len(), sent, "nothing sent");
}
