//! `fluxcn generate --crop/--turn/--flip/--aspect/--fit/--pad-fill` (issue 26) against the
//! stand-in: the picture it receives is the original framed exactly so (its size, and its pixels
//! within JPEG's error), the sidecar records the framing, and the kept input is the framed
//! picture as sent.

use crate::common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use fluxcn::sim::{self, InputImage, SimConfig, SimServer};
use image::RgbImage;

const KEY: &str = "SG_c1c1c1c1deadbeef";

fn generate(server: &SimServer, data: &Path, input: &Path, extra: &[&str]) -> PathBuf {
    let o = common::binary::fluxcn_cmd(KEY, &server.base_url(), data, Duration::from_secs(60))
        .args(["generate", "--api", "v1", "--prompt", "a fox", "--image"])
        .arg(input)
        .args(extra)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "{extra:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let out = String::from_utf8(o.stdout).unwrap();
    PathBuf::from(out.lines().next().expect("a saved path"))
}

/// The picture the stand-in received last, decoded.
fn received(server: &SimServer) -> RgbImage {
    let bytes = server.stats().last_image.expect("an inline image");
    image::load_from_memory(&bytes).unwrap().into_rgb8()
}

/// The mean difference per channel between two pictures of one size.
fn mean_diff(a: &RgbImage, b: &RgbImage) -> f64 {
    assert_eq!(a.dimensions(), b.dimensions());
    let sum: u64 = a
        .as_raw()
        .iter()
        .zip(b.as_raw())
        .map(|(x, y)| u64::from(x.abs_diff(*y)))
        .sum();
    sum as f64 / a.as_raw().len() as f64
}

#[test]
fn the_stand_in_receives_the_picture_framed_exactly_as_asked() {
    let rt = common::rt();
    let server = rt
        .block_on(sim::start(SimConfig {
            delay: Duration::from_millis(20),
            ..Default::default()
        }))
        .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let input = common::photo_file(tmp.path(), "photo.png", 320, 240);
    let original = image::open(&input).unwrap().into_rgb8();

    // A crop: exactly that rectangle, and the output takes its size.
    let saved = generate(&server, &data, &input, &["--crop", "10,20,200,100"]);
    let last = server.stats().received.last().unwrap().clone();
    assert_eq!(
        last.input,
        InputImage::Inline {
            width: 200,
            height: 100
        }
    );
    let want = image::imageops::crop_imm(&original, 10, 20, 200, 100).to_image();
    let got = received(&server);
    assert!(mean_diff(&got, &want) < 3.0, "{}", mean_diff(&got, &want));
    assert_eq!(image::image_dimensions(&saved).unwrap(), (200, 100));
    let side: serde_json::Value =
        serde_json::from_slice(&std::fs::read(saved.with_extension("json")).unwrap()).unwrap();
    assert_eq!(side["framing"]["crop"]["w"], 200, "{side}");
    let kept = saved
        .parent()
        .unwrap()
        .join(side["input_file"].as_str().expect("the kept input"));
    assert_eq!(
        image::image_dimensions(&kept).unwrap(),
        (200, 100),
        "the kept input is the framed picture as sent"
    );

    // Turned, flipped and padded to 1:1 with a colour: 240×320 upright, 320×320 padded, the
    // 40-pixel bands red.
    generate(
        &server,
        &data,
        &input,
        &[
            "--turn",
            "90",
            "--flip",
            "h",
            "--aspect",
            "1:1",
            "--fit",
            "pad",
            "--pad-fill",
            "#ff0000",
        ],
    );
    let got = received(&server);
    assert_eq!(got.dimensions(), (320, 320));
    let turned = image::imageops::rotate90(&original);
    let flipped = image::imageops::flip_horizontal(&turned);
    let middle = image::imageops::crop_imm(&got, 40, 0, 240, 320).to_image();
    assert!(
        mean_diff(&middle, &flipped) < 3.0,
        "{}",
        mean_diff(&middle, &flipped)
    );
    let red = got.get_pixel(10, 160);
    assert!(red[0] > 240 && red[1] < 15 && red[2] < 15, "{red:?}");

    // Cropped to 16:9 (the centred part).
    generate(&server, &data, &input, &["--aspect", "16:9"]);
    let got = received(&server);
    assert_eq!(got.dimensions(), (320, 180));
    let want = image::imageops::crop_imm(&original, 0, 30, 320, 180).to_image();
    assert!(mean_diff(&got, &want) < 3.0);

    // A crop outside the picture is refused before anything is sent, and says why.
    let sent = server.stats().received.len();
    let o = common::binary::fluxcn_cmd(KEY, &server.base_url(), &data, Duration::from_secs(30))
        .args([
            "generate",
            "--api",
            "v1",
            "--prompt",
            "x",
            "--crop",
            "300,0,100,100",
            "--image",
        ])
        .arg(&input)
        .output()
        .unwrap();
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("does not fit in the picture (320×240"),
        "{err}"
    );
    assert_eq!(server.stats().received.len(), sent, "nothing sent");
}
