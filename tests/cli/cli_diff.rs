//! The tweak loop from the command line, the real binary against the in-process stand-in:
//! `fluxcn diff A B` over pictures it saved, an A1111 PNG and a file with no settings, and
//! `fluxcn generate --variations` (its count and cost first, its refusals sending nothing).

use crate::common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use assert_cmd::Command;
use common::rt;
use fluxcn::sim::{self, SimConfig, SimServer};

const KEY: &str = "SG_d1ffd1ffd1ffd1ff";

fn sim(rt: &tokio::runtime::Runtime) -> SimServer {
    rt.block_on(sim::start(SimConfig {
        delay: Duration::from_millis(50),
        ..Default::default()
    }))
    .unwrap()
}

fn photo(dir: &Path) -> PathBuf {
    common::photo_file(dir, "photo.png", 160, 120)
}

fn fluxcn(base: &str, data: &Path) -> Command {
    common::binary::fluxcn_cmd(KEY, base, data, Duration::from_secs(60))
}

/// `fluxcn diff` needs no key, no service and no data folder; it gets none.
fn diff_cmd(a: &Path, b: &Path) -> std::process::Output {
    Command::cargo_bin("fluxcn")
        .unwrap()
        .env_remove("SEGMIND_API_KEY")
        .env("FLUXCN_DATA_DIR", a.parent().unwrap().join("no-data"))
        .timeout(Duration::from_secs(30))
        .arg("diff")
        .arg(a)
        .arg(b)
        .output()
        .unwrap()
}

fn stdout_lines(o: &std::process::Output) -> Vec<String> {
    assert!(
        o.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout.clone())
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Runs `fluxcn generate` with `args` (PNG output into `out`) and returns the saved paths.
fn generate(base: &str, tmp: &Path, out: &Path, args: &[&str]) -> Vec<PathBuf> {
    generate_from(base, tmp, &photo(tmp), out, args)
}

/// [`generate`] from the control image `input`.
fn generate_from(base: &str, tmp: &Path, input: &Path, out: &Path, args: &[&str]) -> Vec<PathBuf> {
    let o = fluxcn(base, &tmp.join("data"))
        .args(["generate", "--format", "png", "--image"])
        .arg(input)
        .arg("--out")
        .arg(out)
        .args(args)
        .output()
        .unwrap();
    stdout_lines(&o).into_iter().map(PathBuf::from).collect()
}

/// A PNG as A1111 (PIL) writes it: a `parameters` tEXt chunk, no sidecar.
fn a1111_png(path: &Path, text: &str) {
    let f = std::fs::File::create(path).unwrap();
    let mut enc = png::Encoder::new(std::io::BufWriter::new(f), 4, 4);
    enc.set_color(png::ColorType::Rgb);
    enc.add_text_chunk("parameters".into(), text.into())
        .unwrap();
    let mut w = enc.write_header().unwrap();
    w.write_image_data(&[0u8; 48]).unwrap();
    w.finish().unwrap();
}

fn sidecar(image: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(image.with_extension("json")).unwrap()).unwrap()
}

#[test]
fn diff_of_two_saved_pictures_an_a1111_png_and_a_file_without_settings() {
    let rt = rt();
    let server = sim(&rt);
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let base = server.base_url();
    let a = generate(
        &base,
        tmp.path(),
        &out,
        &[
            "--prompt",
            "a knight in red armour",
            "--seed",
            "1",
            "--cn-type",
            "depth",
        ],
    );
    let b = generate(
        &base,
        tmp.path(),
        &out,
        &[
            "--prompt",
            "a knight in blue armour at night",
            "--seed",
            "2",
            "--cn-type",
            "canny",
            "--steps",
            "30",
            "--cn-strength",
            "0.6",
        ],
    );
    let (a, b) = (&a[0], &b[0]);

    // One changed field a line, as `field: old → new`, then the prompt's words.
    let want = [
        "cn_type: depth → canny",
        "seed: 1 → 2",
        "steps: 20 → 30",
        "cn_strength: 0.45 → 0.6",
        "prompt removed: red",
        "prompt added: blue … at night",
    ];
    assert_eq!(stdout_lines(&diff_cmd(a, b)), want);
    // The sidecar reads the same as its image; the other way round swaps old and new.
    assert_eq!(stdout_lines(&diff_cmd(&a.with_extension("json"), b)), want);
    let back = stdout_lines(&diff_cmd(b, a));
    assert_eq!(back[0], "cn_type: canny → depth");
    assert_eq!(back[4], "prompt removed: blue … at night");
    assert_eq!(stdout_lines(&diff_cmd(a, a)), ["no difference"]);

    // The same settings from another control image: the sidecars tell the image apart.
    let other = tmp.path().join("other.png");
    image::RgbImage::from_pixel(160, 120, image::Rgb([200, 10, 10]))
        .save(&other)
        .unwrap();
    let c = generate_from(
        &base,
        tmp.path(),
        &other,
        &out,
        &[
            "--prompt",
            "a knight in red armour",
            "--seed",
            "1",
            "--cn-type",
            "depth",
        ],
    );
    let lines = stdout_lines(&diff_cmd(a, &c[0]));
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].starts_with("image: ") && lines[0].ends_with("other.png"),
        "{lines:?}"
    );

    // Another tool's picture: its A1111 text, names mapped, the size it states.
    let foreign = tmp.path().join("00001-1.png");
    a1111_png(
        &foreign,
        "a knight in red armour\nNegative prompt: blurry\nSteps: 20, Sampler: Euler a, CFG scale: 7, \
         Seed: 1, Size: 512x512, Model: sd15",
    );
    let lines = stdout_lines(&diff_cmd(a, &foreign));
    for want in [
        "cn_type: depth → pose",
        "guidance: 3.5 → 7.0",
        "sampler: euler → euler_ancestral",
        "use_input_img_dimension: true → false",
        "custom_width: 1024 → 512",
        "custom_height: 1024 → 512",
    ] {
        assert!(lines.iter().any(|l| l == want), "{want:?} in {lines:?}");
    }
    assert!(
        !lines
            .iter()
            .any(|l| l.starts_with("seed:") || l.starts_with("prompt")),
        "same seed and prompt: {lines:?}"
    );

    // A file with no settings: one clear error line, a non-zero exit, nothing on stdout.
    let plain = tmp.path().join("plain.png");
    image::RgbImage::new(4, 4).save(&plain).unwrap();
    for (x, y) in [(&plain, a), (a, &plain)] {
        let o = diff_cmd(x, y);
        assert!(!o.status.success());
        assert!(o.stdout.is_empty());
        let err = String::from_utf8(o.stderr).unwrap();
        let lines: Vec<&str> = err.lines().collect();
        assert_eq!(lines.len(), 1, "one line: {err}");
        assert!(
            lines[0].starts_with("error: ")
                && lines[0].contains("plain.png")
                && lines[0].contains("no generation settings"),
            "{err}"
        );
    }
    let o = diff_cmd(&tmp.path().join("missing.png"), a);
    assert!(!o.status.success());
    let err = String::from_utf8(o.stderr).unwrap();
    assert!(
        err.starts_with("error: ") && err.contains("missing.png"),
        "{err}"
    );
}

#[test]
fn random_seeds_are_compared_as_the_seeds_used() {
    let rt = rt();
    let server = sim(&rt);
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let args = ["--prompt", "a red car", "--seed", "-1"];
    let a = generate(&server.base_url(), tmp.path(), &out, &args);
    let b = generate(&server.base_url(), tmp.path(), &out, &args);
    let (sa, sb) = (sidecar(&a[0]), sidecar(&b[0]));
    assert_eq!(sa["params"]["seed"], -1);
    let (ua, ub) = (
        sa["seed_used"].as_i64().unwrap(),
        sb["seed_used"].as_i64().unwrap(),
    );
    assert_ne!(ua, ub, "the stand-in draws a new seed each time");
    assert_eq!(
        stdout_lines(&diff_cmd(&a[0], &b[0])),
        [format!("seed: {ua} → {ub}")]
    );
}

#[test]
fn variations_send_one_job_per_prompt_with_one_seed_after_saying_the_cost() {
    let rt = rt();
    let server = sim(&rt);
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let base = server.base_url();
    let o = fluxcn(&base, &tmp.path().join("data"))
        .args([
            "generate", "--api", "v1", "--format", "png", "--seed", "-1", "--image",
        ])
        .arg(photo(tmp.path()))
        .arg("--out")
        .arg(&out)
        .args(["--variations", "--prompt", "a {red|blue|green} car"])
        .output()
        .unwrap();
    let paths = stdout_lines(&o);
    assert_eq!(paths.len(), 3, "{paths:?}");
    let err = String::from_utf8(o.stderr).unwrap();
    let first = err.lines().next().unwrap();
    assert!(
        first.starts_with("fluxcn: variations: 3 prompts → 3 images ≈ $0.14, seed "),
        "the count and cost come first: {err}"
    );
    let mut prompts: Vec<String> = Vec::new();
    let mut seeds = Vec::new();
    for p in &paths {
        let s = sidecar(Path::new(p));
        prompts.push(s["params"]["prompt"].as_str().unwrap().to_owned());
        seeds.push(s["params"]["seed"].as_i64().unwrap());
        assert_eq!(s["group"]["row"], 0);
    }
    prompts.sort();
    assert_eq!(prompts, ["a blue car", "a green car", "a red car"]);
    assert!(
        seeds.iter().all(|s| *s == seeds[0] && *s != -1),
        "{seeds:?}"
    );
    assert_eq!(server.stats().v1_requests, 3);

    // Two variations differ in their prompt alone.
    let red = paths
        .iter()
        .find(|p| sidecar(Path::new(p))["params"]["prompt"] == "a red car")
        .unwrap();
    let blue = paths
        .iter()
        .find(|p| sidecar(Path::new(p))["params"]["prompt"] == "a blue car")
        .unwrap();
    assert_eq!(
        stdout_lines(&diff_cmd(Path::new(red), Path::new(blue))),
        ["prompt removed: red", "prompt added: blue"]
    );

    // Refused, with nothing sent: choices without --variations, more than 4 images without --yes,
    // a malformed template, --yes alone, --variations on compare.
    let refused = |args: &[&str], want: &str| {
        let o = fluxcn(&base, &tmp.path().join("data"))
            .args(["generate", "--image"])
            .arg(photo(tmp.path()))
            .arg("--out")
            .arg(&out)
            .args(args)
            .output()
            .unwrap();
        assert!(!o.status.success(), "{args:?}");
        let err = String::from_utf8(o.stderr).unwrap();
        assert!(err.contains(want), "{args:?}: {err}");
    };
    refused(
        &["--prompt", "a {red|blue} car"],
        "add --variations to send one job per prompt",
    );
    refused(
        &["--variations", "--prompt", "{a|b|c} {x|y}"],
        "6 prompts → 6 images ≈ $0.29: more than 4 images; add --yes",
    );
    refused(
        &["--variations", "--samples", "3", "--prompt", "{a|b} car"],
        "2 prompts → 6 images",
    );
    refused(
        &["--variations", "--prompt", "a {b|{c|d}}"],
        "--variations: the prompt opens a group inside a group at character 6",
    );
    refused(&["--yes", "--prompt", "a car"], "--variations");
    let o = fluxcn(&base, &tmp.path().join("data"))
        .args(["compare", "--variations", "--prompt", "{a|b}", "--image"])
        .arg(photo(tmp.path()))
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(
        String::from_utf8(o.stderr).unwrap().contains("grid axis"),
        "compare points to its prompt axis"
    );
    assert_eq!(server.stats().v1_requests, 3, "nothing more was sent");

    // --yes sends them; an escaped brace is sent as written.
    let o = fluxcn(&base, &tmp.path().join("data"))
        .args(["--quiet", "generate", "--format", "png", "--image"])
        .arg(photo(tmp.path()))
        .arg("--out")
        .arg(&out)
        .args(["--variations", "--yes", "--prompt", r"\{x\} {a|b|c|d|e}"])
        .output()
        .unwrap();
    let paths = stdout_lines(&o);
    assert_eq!(paths.len(), 5);
    assert!(o.stderr.is_empty(), "--quiet: {:?}", o.stderr);
    let s = sidecar(Path::new(&paths[0]));
    assert!(
        s["params"]["prompt"].as_str().unwrap().starts_with("{x} "),
        "{s}"
    );
}
