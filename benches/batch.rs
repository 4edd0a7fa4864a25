//! Batch figures (issue 16), measured in one run and printed as a table:
//! 1. a batch against the stand-in with no delay and the pacer at 50 requests a minute: the
//!    throughput it reaches, as a ratio of the pacer's limit (target: within 5 %);
//! 2. the same batch with the pacer off and 8 at once: CPU time per job and the peak RSS of the
//!    `fluxcn batch` process;
//! 3. recovery from 429s (issue 20): 8 lines of one second each, with a quarter of the answers
//!    `429` (`Retry-After: 1`), beside the same batch with none (target: at most 15 s).
//!
//! Run: `cargo bench --bench batch`. `FLUXCN_BENCH_LINES` sets the number of lines (500 by
//! default: the paced run then takes about ten minutes, as the pacer allows);
//! `FLUXCN_BENCH_ONLY=429` runs the third figure alone.
// A benchmark harness: a failed unwrap is a failed run, reported at once.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use fluxcn::sim::{self, SimConfig};

const KEY: &str = "SG_be4c4be4c4be4c4b";

/// CPU seconds (user + system) and peak RSS (KiB) of the children waited for so far.
#[cfg(unix)]
fn children_usage() -> (f64, i64) {
    // SAFETY: getrusage writes into the zeroed struct we own; RUSAGE_CHILDREN is a valid target.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut u) };
    assert_eq!(rc, 0, "getrusage");
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    (secs(u.ru_utime) + secs(u.ru_stime), u.ru_maxrss)
}

/// `getrusage` is Unix's: elsewhere the bench still runs, with no CPU or memory figure (the
/// figures in docs/benchmarks.md are made on Linux).
#[cfg(not(unix))]
fn children_usage() -> (f64, i64) {
    (f64::NAN, 0)
}

fn write_batch(dir: &Path, name: &str, n: usize) -> std::path::PathBuf {
    let p = dir.join(name);
    let text: String = (1..=n)
        .map(|i| {
            format!(
                "{{\"prompt\": \"bench line {i}\", \"image\": \"in.png\", \"seed\": {i}, \"use_input_img_dimension\": false, \"custom_width\": 256, \"custom_height\": 256}}\n"
            )
        })
        .collect();
    std::fs::write(&p, text).unwrap();
    p
}

fn run_batch(base: &str, data: &Path, file: &Path, out: &Path, extra: &[&str]) -> Duration {
    let t = Instant::now();
    let o = Command::new(env!("CARGO_BIN_EXE_fluxcn"))
        .env("SEGMIND_API_KEY", KEY)
        .env("FLUXCN_DATA_DIR", data)
        .env_remove("FLUXCN_DAILY_BUDGET")
        .args(["--quiet", "--api-base", base, "batch"])
        .arg(file)
        .arg("--out")
        .arg(out)
        .args(extra)
        .output()
        .unwrap();
    let d = t.elapsed();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    d
}

/// Figure 3: the same 8 one-second lines against a stand-in without faults and one answering a
/// quarter of them 429 with `Retry-After: 1` (the same seeded draws every run).
fn rate_limited_recovery(rt: &tokio::runtime::Runtime, dir: &Path) {
    let run = |faults: &str, name: &str| {
        let server = rt
            .block_on(sim::start(SimConfig {
                delay: Duration::from_secs(1),
                faults: faults.parse().unwrap(),
                seed: 7,
                ..Default::default()
            }))
            .unwrap();
        let file = write_batch(dir, &format!("{name}.jsonl"), 8);
        let wall = run_batch(
            &server.base_url(),
            &dir.join(format!("data-{name}")),
            &file,
            &dir.join(format!("out-{name}")),
            &[],
        );
        let stats = server.stats();
        (wall, stats.v1_requests)
    };
    let (clean, clean_requests) = run("", "clean");
    let (limited, limited_requests) = run("429:0.25", "limited");
    println!("| 429 recovery (8 lines of 1 s, concurrency 4) | measured | target |");
    println!("|---|---|---|");
    println!(
        "| no 429 | {:.1} s ({clean_requests} requests) | – |",
        clean.as_secs_f64()
    );
    println!(
        "| a quarter answered 429 (Retry-After: 1) | {:.1} s ({limited_requests} requests; {:.2}× the time without) | ≤ 15 s |",
        limited.as_secs_f64(),
        limited.as_secs_f64() / clean.as_secs_f64()
    );
    println!();
}

fn main() {
    let only_429 = std::env::var("FLUXCN_BENCH_ONLY").is_ok_and(|v| v == "429");
    let n: usize = std::env::var("FLUXCN_BENCH_LINES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(500);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let server = rt
        .block_on(sim::start(SimConfig {
            delay: Duration::ZERO,
            ..Default::default()
        }))
        .unwrap();
    let base = server.base_url();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("in.png"), sim::demo_input_png()).unwrap();

    rate_limited_recovery(&rt, dir.path());
    if only_429 {
        return;
    }

    println!("| figure ({n} lines, stand-in without delay) | measured | target |");
    println!("|---|---|---|");

    // Pacer off, 8 at once: CPU per job and peak RSS of the batch process (run first, so that
    // the peak RSS of the children is this run's).
    let file = write_batch(dir.path(), "free.jsonl", n);
    let before = children_usage();
    let wall = run_batch(
        &base,
        &dir.path().join("data-free"),
        &file,
        &dir.path().join("out-free"),
        &["--concurrency", "8"],
    );
    let after = children_usage();
    let cpu_per_job = (after.0 - before.0) / n as f64;
    println!(
        "| pacer off, concurrency 8: wall time | {:.1} s ({:.1} jobs/s) | – |",
        wall.as_secs_f64(),
        n as f64 / wall.as_secs_f64()
    );
    println!(
        "| pacer off, concurrency 8: CPU time per job | {:.1} ms | – |",
        cpu_per_job * 1000.0
    );
    println!(
        "| pacer off, concurrency 8: peak RSS | {:.0} MB | – |",
        after.1 as f64 / 1024.0
    );

    // Pacer at 50 a minute.
    let file = write_batch(dir.path(), "paced.jsonl", n);
    let wall = run_batch(
        &base,
        &dir.path().join("data-paced"),
        &file,
        &dir.path().join("out-paced"),
        &["--rate-per-minute", "50", "--concurrency", "4"],
    );
    // n requests at 50 a minute need (n - 1) intervals of 1.2 s after the first.
    let per_minute = (n as f64 - 1.0) / wall.as_secs_f64() * 60.0;
    println!(
        "| pacer 50/min: throughput | {per_minute:.2}/min ({:.3} of the limit; {:.0} s) | within 5 % |",
        per_minute / 50.0,
        wall.as_secs_f64()
    );
    let stats = server.stats();
    println!(
        "\nThe stand-in answered {} requests and billed {} (${:.2}).",
        stats.v1_requests, stats.generations_billed, stats.billed_usd
    );
}
