//! Hardening of the command line's inputs and costs, through the real `fluxcn` binary against the
//! loopback stand-in: a FIFO as `--image` ends at once with one clear line; an image the service
//! cannot use and `--max-input-side 0` are refused with nothing sent; `compare` sends a repeated
//! type or axis value once, and its estimate counts every sample of every request.

use crate::common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use assert_cmd::Command;
use common::rt;
use common::{gradient, png_of};
use fluxcn::sim::{self, SimConfig, SimServer};
use image::DynamicImage;

const KEY: &str = "SG_4a4a4a4a5b5b5b5b";

fn sim(rt: &tokio::runtime::Runtime) -> SimServer {
    rt.block_on(sim::start(SimConfig {
        delay: Duration::from_millis(20),
        ..Default::default()
    }))
    .unwrap()
}

fn fluxcn(base: &str, data: &Path) -> Command {
    common::binary::fluxcn_cmd(KEY, base, data, Duration::from_secs(30))
}

fn photo(dir: &Path) -> PathBuf {
    common::photo_file(dir, "photo.png", 320, 240)
}

/// The one `error:` line of a failed run (exit 1, no panic, nothing on stdout).
fn one_error_line(o: &std::process::Output) -> String {
    let stderr = String::from_utf8_lossy(&o.stderr).to_string();
    assert_eq!(o.status.code(), Some(1), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(errors.len(), 1, "exactly one error line: {stderr}");
    assert!(o.stdout.is_empty(), "nothing saved");
    errors[0].to_owned()
}

#[cfg(unix)]
#[test]
fn a_fifo_as_the_image_ends_at_once_with_one_line() {
    let rt = rt();
    let server = sim(&rt);
    let tmp = tempfile::tempdir().unwrap();
    let fifo = tmp.path().join("webcam.jpg");
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let o = fluxcn(&server.base_url(), &tmp.path().join("data"))
        .args(["generate", "--image"])
        .arg(&fifo)
        .args(["--prompt", "x"])
        .output()
        .expect("fluxcn ended (a hang is killed after 30 s)");
    let line = one_error_line(&o);
    assert!(
        line.contains("webcam.jpg") && line.contains("named pipe"),
        "{line}"
    );
    assert_eq!(server.stats().v1_requests, 0);
}

#[test]
fn unusable_sizes_and_a_tiny_max_input_side_send_nothing() {
    let rt = rt();
    let server = sim(&rt);
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    for (w, h, says) in [(1, 1, "1×1"), (100_000, 1, "100000×1")] {
        let p = tmp.path().join(format!("{w}x{h}.png"));
        std::fs::write(&p, png_of(&DynamicImage::ImageRgb8(gradient(w, h)))).unwrap();
        let o = fluxcn(&server.base_url(), &data)
            .args(["generate", "--image"])
            .arg(&p)
            .args(["--prompt", "x"])
            .output()
            .unwrap();
        let line = one_error_line(&o);
        assert!(line.contains(says), "{line}");
    }
    let input = photo(tmp.path());
    for cmd in ["generate", "compare"] {
        let o = fluxcn(&server.base_url(), &data)
            .args([cmd, "--image"])
            .arg(&input)
            .args(["--prompt", "x", "--max-input-side", "0"])
            .output()
            .unwrap();
        let line = one_error_line(&o);
        assert!(
            line.contains("--max-input-side") && line.contains("64"),
            "{line}"
        );
    }
    assert_eq!(server.stats().v1_requests, 0, "nothing was sent");
}

#[test]
fn compare_sends_a_repeated_type_or_axis_value_once() {
    let rt = rt();
    let server = sim(&rt);
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let input = photo(tmp.path());
    let o = fluxcn(&server.base_url(), &data)
        .args(["compare", "--api", "v1", "--image"])
        .arg(&input)
        .args(["--prompt", "x", "--types", "pose,depth,pose"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{stderr}");
    assert_eq!(server.stats().v1_requests, 2, "{stderr}");
    assert_eq!(String::from_utf8_lossy(&o.stdout).lines().count(), 2);
    assert!(
        stderr.contains("pose") && stderr.contains("once"),
        "the repeat is told: {stderr}"
    );

    let o = fluxcn(&server.base_url(), &data)
        .args(["compare", "--api", "v1", "--image"])
        .arg(&input)
        .args(["--prompt", "x", "--x", "cn_type=canny,tile,canny"])
        .args(["--y", "cn_strength=0.5,0.7,0.5"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{stderr}");
    assert_eq!(server.stats().v1_requests, 2 + 4, "a 2×2 grid: {stderr}");
}

#[test]
fn the_compare_estimate_counts_every_sample() {
    let rt = rt();
    let server = sim(&rt);
    let tmp = tempfile::tempdir().unwrap();
    let input = photo(tmp.path());
    let o = fluxcn(&server.base_url(), &tmp.path().join("data"))
        .args(["compare", "--api", "v1", "--image"])
        .arg(&input)
        .args(["--prompt", "x", "--types", "pose,depth", "--samples", "4"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    let per_image = fluxcn::api::DEFAULT_COST_PER_IMAGE;
    let want = format!("${:.2}", 2.0 * 4.0 * per_image);
    let estimate = stderr
        .lines()
        .find(|l| l.contains("requests"))
        .unwrap_or_default();
    assert!(
        estimate.contains(&want) && estimate.contains("8 images"),
        "2 requests of 4 samples cost {want}: {stderr}"
    );
}
