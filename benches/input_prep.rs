//! Input preparation benchmark: a camera-sized JPEG → the request's `image` payload.
//! Run with `cargo bench --bench input_prep`; prints a table (time is the best of 5 runs, so
//! other load on the machine distorts it as little as possible).
//! Target: 24 MP (6000×4000) in ≤ 400 ms and ≤ 3 MB.
//!
//! Measured 2026-11-25 (release, 2-core CI machine, load ≈ 1.5): 24 MP 308–314 ms → 0.60 MB
//! payload; 12 MP 235 ms → 0.67 MB; 2 MP 27 ms (sent as-is). Before the reduced-size decode and
//! 4:2:0 encode, 24 MP took 501 ms (see docs/benchmarks.md for the profile).
// A benchmark harness: a failed unwrap is a failed run, reported at once.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

use std::time::{Duration, Instant};

use fluxcn::api::input::{PrepareOptions, prepare_bytes};

/// A photo-like JPEG: smooth gradients, edges and fine noise (so it compresses like a photo,
/// about 1–1.5 bits a pixel at quality 92).
fn photo_jpeg(w: u32, h: u32) -> Vec<u8> {
    let mut rng = fastrand::Rng::with_seed(42);
    let mut buf = Vec::with_capacity(w as usize * h as usize * 3);
    for y in 0..h {
        for x in 0..w {
            let n = rng.u8(0..24);
            let band = if (x / 97 + y / 89) % 3 == 0 { 60 } else { 0 };
            buf.push(((x * 200 / w) as u8).wrapping_add(n).wrapping_add(band));
            buf.push(((y * 200 / h) as u8).wrapping_add(n / 2));
            buf.push((((x ^ y) / 13) % 200) as u8 + n / 3);
        }
    }
    let mut out = Vec::new();
    jpeg_encoder::Encoder::new(&mut out, 92)
        .encode(&buf, w as u16, h as u16, jpeg_encoder::ColorType::Rgb)
        .expect("encode the test photo");
    out
}

fn main() {
    let opts = PrepareOptions::default();
    println!(
        "{:<22} {:>10} {:>10} {:>12} {:>12}  notes",
        "input", "file", "time", "payload", "sent"
    );
    for (label, w, h) in [
        ("24 MP (6000×4000)", 6000, 4000),
        ("12 MP (4000×3000)", 4000, 3000),
        ("2 MP (1728×1152)", 1728, 1152),
    ] {
        let src = photo_jpeg(w, h);
        let mut best = Duration::MAX;
        let mut last = None;
        for _ in 0..5 {
            let t = Instant::now();
            let p = prepare_bytes(label, &src, &opts).expect("prepare");
            best = best.min(t.elapsed());
            last = Some(p);
        }
        let p = last.expect("ran at least once");
        println!(
            "{:<22} {:>8.2}MB {:>8.0}ms {:>10.2}MB {:>12}  {}",
            label,
            src.len() as f64 / 1e6,
            best.as_secs_f64() * 1e3,
            p.payload.len() as f64 / 1e6,
            format!("{}×{}", p.width, p.height),
            if p.reencoded {
                p.notes.join("; ")
            } else {
                "sent as-is".to_owned()
            }
        );
    }
}
