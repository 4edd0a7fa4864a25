//! Bytes sent for a 4-type compare of a 2048 px input, with and without `--upload-input` (issue
//! 25), measured side by side against the stand-in in one run and printed as a table: what the
//! generation requests carried, what the upload carried, and the total as a ratio of the base64
//! run. Bytes do not depend on the build's optimisation, so this also runs unoptimised:
//! `cargo bench --bench upload_bytes --profile dev`.
// A benchmark harness: a failed unwrap is a failed run, reported at once.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use fluxcn::sim::{self, SimConfig};

const KEY: &str = "SG_be4c4be4c4be4c4b";

/// A 2048×2048 photo-like JPEG (a gradient with fine noise, so it compresses like a photo).
fn photo(dir: &Path) -> std::path::PathBuf {
    let mut rng = fastrand::Rng::with_seed(25);
    let img = image::RgbImage::from_fn(2048, 2048, |x, y| {
        let n = rng.u8(..40);
        image::Rgb([
            ((x / 8) as u8).wrapping_add(n),
            ((y / 8) as u8).wrapping_add(n / 2),
            (((x + y) / 16) as u8).wrapping_add(n),
        ])
    });
    let p = dir.join("photo-2048.jpg");
    let mut out = std::fs::File::create(&p).unwrap();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 90)
        .encode_image(&img)
        .unwrap();
    p
}

/// Bytes as MB, or kB below a tenth of one.
fn size(b: u64) -> String {
    if b < 100_000 {
        format!("{:.1} kB", b as f64 / 1e3)
    } else {
        format!("{:.2} MB", b as f64 / 1e6)
    }
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let input = photo(tmp.path());
    let file_bytes = std::fs::metadata(&input).unwrap().len();
    let mut rows = Vec::new();
    // The third run is a later compare of the same input: its URL is in the catalog.
    let server = rt
        .block_on(sim::start(SimConfig {
            delay: Duration::from_millis(20),
            ..Default::default()
        }))
        .unwrap();
    for (upload, data) in [(false, "base64"), (true, "upload"), (true, "upload")] {
        let before = server.stats();
        let mut c = Command::new(env!("CARGO_BIN_EXE_fluxcn"));
        c.env("SEGMIND_API_KEY", KEY)
            .env("FLUXCN_DATA_DIR", tmp.path().join(data))
            .env_remove("FLUXCN_API_BASE")
            .args(["--quiet", "--api-base", &server.base_url(), "compare"])
            .args(["--prompt", "a lighthouse", "--seed", "7", "--image"])
            .arg(&input);
        if upload {
            c.arg("--upload-input");
        }
        let out = c.output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let st = server.stats();
        assert_eq!(st.v2_submits - before.v2_submits, 4);
        rows.push((
            upload,
            st.uploads - before.uploads,
            st.request_bytes - before.request_bytes,
            st.upload_bytes - before.upload_bytes,
        ));
    }
    let base = rows[0].2 + rows[0].3;
    println!(
        "4-type compare of a 2048×2048 input ({:.1} MB JPEG), bytes the service received:",
        file_bytes as f64 / 1e6
    );
    println!("| input sent as | uploads | generation requests | upload | total | ÷ base64 run |");
    println!("|---|---|---|---|---|---|");
    for (i, (upload, uploads, req, up)) in rows.into_iter().enumerate() {
        println!(
            "| {} | {uploads} | {} | {} | {} | {:.2} |",
            match (upload, i) {
                (false, _) => "base64 (default)",
                (true, 1) => "URL (--upload-input), first compare",
                _ => "URL, a later compare of the same input",
            },
            size(req),
            size(up),
            size(req + up),
            (req + up) as f64 / base as f64
        );
    }
}
