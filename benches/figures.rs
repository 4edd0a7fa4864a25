//! The product's figures, measured side by side in one run and printed as a table:
//! 1. whole-process `fluxcn generate` vs a plain Python `requests` script sending the same request
//!    (the way Segmind's docs show it), against the stand-in with no delay: median wall time, ratio;
//! 2. `fluxcn compare` of 4 control types with a 2 s server delay: wall time ÷ one request's latency
//!    (1.0 is the limit; a sequential loop is 4.0).
//!
//! Run: `cargo bench --bench figures` (builds in release). Machines are shared and noisy: read the
//! ratios, not the absolute times.
// A benchmark harness: a failed unwrap is a failed run, reported at once.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use fluxcn::sim::{self, SimConfig};

const KEY: &str = "SG_be4c4be4c4be4c4b";
const PY: &str = r#"
import base64, sys, requests
base, image, out = sys.argv[1], sys.argv[2], sys.argv[3]
with open(image, "rb") as f:
    img = base64.b64encode(f.read()).decode("utf-8")
data = {"image": img, "prompt": "a knight", "sampler": "euler", "scheduler": "simple", "seed": 652889,
        "cn_type": "pose", "steps": 20, "guidance": 3.5, "cn_strength": 0.45, "cn_stop": 0.5}
r = requests.post(base + "/flux-controlnet", json=data, headers={"x-api-key": sys.argv[4]})
r.raise_for_status()
with open(out, "wb") as f:
    f.write(r.content)
"#;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn time(mut cmd: Command) -> Duration {
    let t = Instant::now();
    let out = cmd.output().expect("run");
    let d = t.elapsed();
    assert!(
        out.status.success(),
        "{:?} failed: {}",
        cmd,
        String::from_utf8_lossy(&out.stderr)
    );
    d
}

fn fluxcn(base: &str, data: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_fluxcn"));
    c.env("SEGMIND_API_KEY", KEY)
        .env("FLUXCN_DATA_DIR", data)
        .args(["--quiet", "--api-base", base]);
    c
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("tempdir");
    let input = dir.path().join("input.png");
    std::fs::write(&input, sim::demo_input_png()).expect("write input");
    let script = dir.path().join("segmind.py");
    std::fs::write(&script, PY).expect("write script");
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
    let has_requests = Command::new(&python)
        .args(["-c", "import requests"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);

    println!("| figure | fluxcn | reference | ratio | target |");
    println!("|---|---|---|---|---|");

    // 1. Whole process, no server delay.
    let fast = rt
        .block_on(sim::start(SimConfig {
            delay: Duration::ZERO,
            ..Default::default()
        }))
        .expect("sim");
    let base = fast.base_url();
    let runs = 15;
    let mut ours = Vec::new();
    let mut theirs = Vec::new();
    for i in 0..runs + 2 {
        let mut c = fluxcn(&base, &dir.path().join("data"));
        c.args(["generate", "--image"])
            .arg(&input)
            .args(["--prompt", "a knight", "--out"])
            .arg(dir.path().join("out"));
        let a = time(c);
        let b = if has_requests {
            let mut p = Command::new(&python);
            p.arg(&script)
                .arg(&base)
                .arg(&input)
                .arg(dir.path().join("py.jpg"))
                .arg(KEY);
            Some(time(p))
        } else {
            None
        };
        if i >= 2 {
            // The first two runs warm the caches of both.
            ours.push(a);
            if let Some(b) = b {
                theirs.push(b);
            }
        }
    }
    // The floor: the same request with curl (a minimal C client), i.e. the stand-in's own time.
    let body = dir.path().join("body.json");
    {
        use base64::Engine as _;
        let img = base64::engine::general_purpose::STANDARD.encode(sim::demo_input_png());
        let json = format!(
            "{{\"image\":\"{img}\",\"prompt\":\"a knight\",\"sampler\":\"euler\",\"scheduler\":\"simple\",\"seed\":652889,\"cn_type\":\"pose\",\"steps\":20,\"guidance\":3.5,\"cn_strength\":0.45,\"cn_stop\":0.5}}"
        );
        std::fs::write(&body, json).expect("write body");
    }
    let has_curl = Command::new("curl")
        .arg("--version")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    let m_curl = has_curl.then(|| {
        let mut v = Vec::new();
        for _ in 0..runs {
            let mut c = Command::new("curl");
            c.args(["-sf", "-o"])
                .arg(dir.path().join("curl.jpg"))
                .args(["-H", &format!("x-api-key: {KEY}")])
                .args(["-H", "content-type: application/json", "--data-binary"])
                .arg(format!("@{}", body.display()))
                .arg(format!("{base}/flux-controlnet"));
            v.push(time(c));
        }
        median(v)
    });
    let (m_ours, m_py) = (
        median(ours),
        if theirs.is_empty() {
            None
        } else {
            Some(median(theirs))
        },
    );
    match m_py {
        Some(p) => println!(
            "| 1. generate, whole process (median of {runs}) | {:.0} ms | python requests {:.0} ms | {:.3}× | ≤ 0.15× |",
            m_ours.as_secs_f64() * 1e3,
            p.as_secs_f64() * 1e3,
            m_ours.as_secs_f64() / p.as_secs_f64()
        ),
        None => println!(
            "| 1. generate, whole process | {:.0} ms | python requests not installed | – | ≤ 0.15× |",
            m_ours.as_secs_f64() * 1e3
        ),
    }

    if let Some(c) = m_curl {
        println!(
            "| 1a. the same request with curl (the stand-in's own time + a minimal client) | {:.0} ms | – | fluxcn − curl = {:.0} ms of client work | – |",
            c.as_secs_f64() * 1e3,
            (m_ours.as_secs_f64() - c.as_secs_f64()) * 1e3
        );
    }

    // 2. Compare of four types with a 2 s delay.
    let slow = rt
        .block_on(sim::start(SimConfig {
            delay: Duration::from_secs(2),
            ..Default::default()
        }))
        .expect("sim");
    let base = slow.base_url();
    let mut one = fluxcn(&base, &dir.path().join("data"));
    one.args(["generate", "--image"])
        .arg(&input)
        .args(["--prompt", "a knight", "--out"])
        .arg(dir.path().join("out"));
    let single = time(one);
    let mut four = fluxcn(&base, &dir.path().join("data"));
    four.args(["compare", "--image"])
        .arg(&input)
        .args(["--prompt", "a knight", "--out"])
        .arg(dir.path().join("out"));
    let all = time(four);
    println!(
        "| 2. compare 4 types, 2 s server delay | {:.2} s | one request {:.2} s | {:.2} | ≤ 1.15 |",
        all.as_secs_f64(),
        single.as_secs_f64(),
        all.as_secs_f64() / single.as_secs_f64()
    );
}
