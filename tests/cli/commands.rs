//! The `fluxcn` binary end to end (assert_cmd) against the in-process stand-in on loopback:
//! generate, compare (concurrently), and each error a new user meets gives one clear line.

use crate::common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use assert_cmd::Command;
use common::rt;
use fluxcn::sim::{self, SimConfig, SimServer};

const KEY: &str = "SG_c1c1c1c1deadbeef";

fn sim_with(rt: &tokio::runtime::Runtime, cfg: SimConfig) -> SimServer {
    rt.block_on(sim::start(cfg)).unwrap()
}

fn photo(dir: &Path) -> PathBuf {
    common::photo_file(dir, "photo.jpg", 320, 240)
}

fn fluxcn(base: &str, data: &Path) -> Command {
    common::binary::fluxcn_cmd(KEY, base, data, Duration::from_secs(60))
}

/// Every file under `dir`, recursively.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}

fn assert_no_key(dir: &Path, streams: &[&[u8]]) {
    for f in files(dir) {
        let bytes = std::fs::read(&f).unwrap();
        assert!(
            !bytes.windows(KEY.len()).any(|w| w == KEY.as_bytes()),
            "the key is in {}",
            f.display()
        );
    }
    for s in streams {
        assert!(
            !String::from_utf8_lossy(s).contains(KEY),
            "the key is in an output stream"
        );
    }
}

#[test]
fn generate_saves_a_decodable_image_and_its_sidecar() {
    let rt = rt();
    let server = sim_with(
        &rt,
        SimConfig {
            delay: Duration::from_millis(100),
            ..Default::default()
        },
    );
    let tmp = tempfile::tempdir().unwrap();
    let input = photo(tmp.path());
    let out = tmp.path().join("out");
    let o = fluxcn(&server.base_url(), &tmp.path().join("data"))
        .args(["generate", "--image"])
        .arg(&input)
        .args([
            "--prompt",
            "a knight",
            "--cn-type",
            "depth",
            "--seed",
            "4242",
            "--format",
            "png",
        ])
        .args([
            "--use-input-size",
            "false",
            "--width",
            "512",
            "--height",
            "384",
            "--out",
        ])
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let stdout = String::from_utf8(o.stdout.clone()).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 1, "one path per saved image: {stdout}");
    let path = PathBuf::from(lines[0]);
    let img = image::open(&path).unwrap();
    assert_eq!((img.width(), img.height()), (512, 384));
    let sidecar = path.with_extension("json");
    let meta: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&sidecar).unwrap()).unwrap();
    assert_eq!(meta["params"]["prompt"], "a knight");
    assert_eq!(meta["params"]["cn_type"], "depth");
    assert_eq!(meta["params"]["seed"], 4242);
    assert_eq!(meta["seed_used"], 4242);
    assert!(
        meta["accounting"]["remaining_credits"].is_number(),
        "{meta}"
    );
    assert_no_key(tmp.path(), &[&o.stdout, &o.stderr]);
}

#[test]
fn compare_sends_the_four_types_concurrently_with_one_seed() {
    let rt = rt();
    let server = sim_with(
        &rt,
        SimConfig {
            delay: Duration::from_millis(1500),
            ..Default::default()
        },
    );
    let tmp = tempfile::tempdir().unwrap();
    let input = photo(tmp.path());
    let started = std::time::Instant::now();
    let o = fluxcn(&server.base_url(), &tmp.path().join("data"))
        .args(["compare", "--api", "v1", "--image"])
        .arg(&input)
        .args(["--prompt", "a dancer", "--seed", "-1"])
        .output()
        .unwrap();
    let took = started.elapsed();
    assert!(
        o.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let stdout = String::from_utf8(o.stdout.clone()).unwrap();
    let paths: Vec<PathBuf> = stdout.lines().map(PathBuf::from).collect();
    assert_eq!(paths.len(), 4, "{stdout}");
    let mut types = Vec::new();
    let mut seeds = std::collections::HashSet::new();
    for p in &paths {
        let meta: serde_json::Value =
            serde_json::from_slice(&std::fs::read(p.with_extension("json")).unwrap()).unwrap();
        types.push(meta["params"]["cn_type"].as_str().unwrap().to_owned());
        seeds.insert(meta["params"]["seed"].as_i64().unwrap());
    }
    types.sort();
    assert_eq!(types, ["canny", "depth", "pose", "tile"]);
    assert_eq!(seeds.len(), 1, "one seed for every type");
    assert!(!seeds.contains(&-1));
    let stats = server.stats();
    assert_eq!(stats.v1_requests, 4);
    assert!(
        stats.max_in_flight >= 4,
        "the four requests overlapped on the server: {}",
        stats.max_in_flight
    );
    assert!(
        took < Duration::from_millis(1500 * 3),
        "sequential would take 6 s; took {took:?}"
    );
}

fn one_error_line(o: &std::process::Output) -> String {
    assert!(!o.status.success());
    let stderr = String::from_utf8_lossy(&o.stderr).to_string();
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(!stderr.contains("RUST_BACKTRACE"), "{stderr}");
    let errors: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("error: "))
        .collect();
    assert_eq!(errors.len(), 1, "exactly one error line: {stderr}");
    assert!(o.stdout.is_empty(), "nothing saved, nothing on stdout");
    errors[0].to_owned()
}

#[test]
fn a_new_users_mistakes_each_give_one_clear_line() {
    let rt = rt();
    let server = sim_with(
        &rt,
        SimConfig {
            delay: Duration::from_millis(50),
            accepted_keys: Some(vec!["SG_0000000000000000".into()]),
            ..Default::default()
        },
    );
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let input = photo(tmp.path());
    let base = server.base_url();

    // A wrong key.
    let o = fluxcn(&base, &data)
        .args(["generate", "--image"])
        .arg(&input)
        .args(["--prompt", "x"])
        .output()
        .unwrap();
    let line = one_error_line(&o);
    assert!(
        line.contains("API key was refused") && line.contains("401"),
        "{line}"
    );
    assert_no_key(tmp.path(), &[&o.stdout, &o.stderr]);

    // A missing file.
    let o = fluxcn(&base, &data)
        .args([
            "generate",
            "--image",
            "/nonexistent/photo.jpg",
            "--prompt",
            "x",
        ])
        .output()
        .unwrap();
    let line = one_error_line(&o);
    assert!(line.contains("/nonexistent/photo.jpg"), "{line}");

    // A corrupt image.
    let bad = tmp.path().join("corrupt.jpg");
    std::fs::write(&bad, b"\xFF\xD8\xFF\xE0 this is not really a jpeg").unwrap();
    let o = fluxcn(&base, &data)
        .args(["generate", "--image"])
        .arg(&bad)
        .args(["--prompt", "x"])
        .output()
        .unwrap();
    let line = one_error_line(&o);
    assert!(line.contains("corrupt.jpg"), "{line}");

    // An out-of-range value.
    let o = fluxcn(&base, &data)
        .args(["generate", "--image"])
        .arg(&input)
        .args(["--prompt", "x", "--steps", "80"])
        .output()
        .unwrap();
    let line = one_error_line(&o);
    assert!(
        line.contains("steps = 80") && line.contains("15 to 75"),
        "{line}"
    );

    // A bad enum value is refused by the argument parser with the allowed values.
    let o = fluxcn(&base, &data)
        .args(["generate", "--image"])
        .arg(&input)
        .args(["--prompt", "x", "--cn-type", "posee"])
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("depth, canny, pose, tile"));

    // A dead server.
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let o = fluxcn(&format!("http://{dead}/v1"), &data)
        .args(["--retries", "0", "generate", "--image"])
        .arg(&input)
        .args(["--prompt", "x"])
        .output()
        .unwrap();
    let line = one_error_line(&o);
    assert!(line.contains("could not reach the server"), "{line}");

    // No key at all.
    let o = fluxcn(&base, &data)
        .env_remove("SEGMIND_API_KEY")
        .env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent")
        .args(["generate", "--image"])
        .arg(&input)
        .args(["--prompt", "x"])
        .output()
        .unwrap();
    let line = one_error_line(&o);
    assert!(
        line.contains("API key") || line.contains("keyring"),
        "{line}"
    );
}

#[test]
fn a_2x3_grid_sends_six_requests_and_exports_one_labelled_png_of_the_right_size() {
    let rt = rt();
    let server = sim_with(
        &rt,
        SimConfig {
            delay: Duration::from_millis(100),
            ..Default::default()
        },
    );
    let tmp = tempfile::tempdir().unwrap();
    let input = photo(tmp.path());
    let grid = tmp.path().join("grid.png");
    let o = fluxcn(&server.base_url(), &tmp.path().join("data"))
        .args(["compare", "--api", "v1", "--image"])
        .arg(&input)
        .args([
            "--prompt",
            "a fox",
            "--x",
            "cn_type=pose,depth,canny",
            "--y",
            "cn_strength=0.3:0.6:0.3",
        ])
        .args([
            "--use-input-size",
            "false",
            "--width",
            "256",
            "--height",
            "128",
            "--grid",
        ])
        .arg(&grid)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&o.stdout).lines().count(), 6);
    assert_eq!(server.stats().v1_requests, 6);
    let img = image::open(&grid).unwrap();
    // Cells keep the results' 2:1 aspect at the export's cell width; a row-label column is added.
    let cell_h = fluxcn::jobs::export::CELL_WIDTH / 2;
    assert_eq!(
        (img.width(), img.height()),
        fluxcn::jobs::export::grid_size(2, 3, true, cell_h)
    );
    // The plan is embedded for people (A1111-style) and for us (JSON).
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&grid).unwrap()));
    let reader = decoder.read_info().unwrap();
    let texts: Vec<(String, String)> = reader
        .info()
        .utf8_text
        .iter()
        .map(|t| (t.keyword.clone(), t.get_text().unwrap()))
        .collect();
    let params = texts
        .iter()
        .find(|(k, _)| k == "parameters")
        .map(|(_, v)| v.clone())
        .unwrap();
    assert!(
        params.starts_with("a fox\n")
            && params.contains("X: cn_type (pose, depth, canny)")
            && params.contains("Y: cn_strength (0.3, 0.6)"),
        "{params}"
    );
    let json = texts
        .iter()
        .find(|(k, _)| k == "fluxcn-grid")
        .map(|(_, v)| v.clone())
        .unwrap();
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["cells"].as_array().unwrap().len(), 6);
    assert!(!json.contains(KEY));
}

#[test]
fn demo_with_a_command_says_how_to_try_commands_instead_of_calling_the_service() {
    let tmp = tempfile::tempdir().unwrap();
    let o = Command::cargo_bin("fluxcn")
        .unwrap()
        .env_remove("SEGMIND_API_KEY")
        .env("FLUXCN_DATA_DIR", tmp.path())
        .args([
            "--demo", "generate", "--image", "x.png", "--prompt", "a knight",
        ])
        .timeout(Duration::from_secs(30))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "{err}");
    assert!(
        lines[0].starts_with("error: --demo opens the window"),
        "{err}"
    );
    assert!(lines[0].contains("fluxcn sim"), "{err}");
}

#[test]
fn every_log_line_of_a_job_names_its_job() {
    // Four jobs at once, retried after 503s, logging at debug: every line the job runtime or the
    // client writes for a job is inside that job's span, so the jobs' lines can be told apart.
    let rt = rt();
    let server = sim_with(
        &rt,
        SimConfig {
            delay: Duration::from_millis(50),
            ..Default::default()
        },
    );
    // The first four generation requests answer 503, so every job is retried once at least
    // (whichever job's request meets which fault), and each retry is logged.
    server.push_faults([sim::Fault::Status503; 4]);
    let tmp = tempfile::tempdir().unwrap();
    let input = photo(tmp.path());
    let o = fluxcn(&server.base_url(), &tmp.path().join("data"))
        .env("FLUXCN_LOG", "fluxcn=debug")
        .args([
            "compare",
            "--api",
            "v1",
            "--types",
            "pose,depth,canny,tile",
            "--image",
        ])
        .arg(&input)
        .args(["--prompt", "a dancer", "--seed", "5"])
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let stderr = String::from_utf8_lossy(&o.stderr);
    // The log lines (tracing's format: a level, then the spans), not the CLI's own progress lines.
    let retries: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("retrying") && (l.contains(" INFO ") || l.contains(" DEBUG ")))
        .collect();
    assert!(
        !retries.is_empty(),
        "the faults made no retry line to check: {stderr}"
    );
    let mut ids = std::collections::HashSet::new();
    for l in &retries {
        let at = l
            .find("job{id=")
            .unwrap_or_else(|| panic!("a job's log line without its job id: {l}"));
        let id: String = l[at + 7..]
            .chars()
            .take_while(|c| c.is_ascii_digit())
            .collect();
        assert!(!id.is_empty(), "{l}");
        ids.insert(id);
    }
    assert_no_key(tmp.path(), &[&o.stdout, &o.stderr]);
    assert_eq!(server.stats().v1_requests, 8, "four faults, four retries");
    assert_eq!(retries.len(), 4, "{retries:?}");
    // Usually one retry per job; a job that started late may meet two faults.
    assert!(
        ids.len() >= 2,
        "each job's retry names its own job: {retries:?}"
    );
}
