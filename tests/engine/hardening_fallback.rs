//! Hardening of the save fallback: when the gallery cannot take a paid image, the copy written to
//! the temp folder never follows a link planted there (the old name was predictable: job id and
//! index), is created fresh under an unpredictable name, and is what the user is told about.
#![cfg(unix)]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use fluxcn::sim::{self, SimConfig};

const KEY: &str = "SG_0badc0de0badc0de";

/// The job id the journal wrote for the job in flight.
fn journaled_job_id(journal: &Path) -> u64 {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        assert!(Instant::now() < deadline, "the job was never journaled");
        if let Ok(text) = std::fs::read_to_string(journal) {
            for line in text.lines() {
                if let Ok(v) = serde_json::from_str::<serde_json::Value>(line)
                    && let Some(id) = v["job"]["id"].as_u64()
                {
                    return id;
                }
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn the_fallback_never_writes_through_a_planted_link() {
    let rt = crate::common::rt();
    let server = rt
        .block_on(sim::start(SimConfig {
            delay: Duration::from_millis(1500),
            ..Default::default()
        }))
        .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let shared_tmp = tmp.path().join("shared-tmp");
    std::fs::create_dir_all(&shared_tmp).unwrap();
    let input = tmp.path().join("in.png");
    std::fs::write(&input, sim::demo_input_png()).unwrap();
    let victim = tmp.path().join("victim.txt");
    std::fs::write(&victim, b"precious").unwrap();

    let child = std::process::Command::new(env!("CARGO_BIN_EXE_fluxcn"))
        .env("SEGMIND_API_KEY", KEY)
        .env("FLUXCN_DATA_DIR", &data)
        .env("TMPDIR", &shared_tmp)
        .env_remove("FLUXCN_LOG")
        .args(["--api-base", &server.base_url(), "generate"])
        .args(["--prompt", "a lighthouse", "--image"])
        .arg(&input)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let id = journaled_job_id(&data.join("journal.jsonl"));
    // While the request runs: the gallery folder becomes a file (so the save fails), and an attacker
    // plants links at the names the fallback would use.
    let gallery = data.join("gallery");
    std::fs::remove_dir_all(&gallery).unwrap();
    std::fs::write(&gallery, b"not a folder").unwrap();
    let attacker = shared_tmp.join("attacker");
    std::fs::create_dir_all(&attacker).unwrap();
    let unsaved = shared_tmp.join("fluxcn-unsaved");
    std::fs::create_dir_all(&unsaved).unwrap();
    for ext in ["jpg", "png", "webp"] {
        std::os::unix::fs::symlink(&victim, unsaved.join(format!("{id}-0.{ext}"))).unwrap();
    }

    let o = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        std::fs::read(&victim).unwrap() == b"precious",
        "the planted link was followed: {stderr}"
    );
    assert!(o.status.success(), "the image was kept: {stderr}");
    let stdout = String::from_utf8(o.stdout).unwrap();
    let paths: Vec<PathBuf> = stdout.lines().map(PathBuf::from).collect();
    assert_eq!(paths.len(), 1, "{stdout}");
    let saved = &paths[0];
    let meta = std::fs::symlink_metadata(saved).unwrap();
    assert!(meta.is_file(), "a regular file, not a link");
    assert!(image::open(saved).is_ok());
    let name = saved.file_name().unwrap().to_string_lossy();
    assert_ne!(name, format!("{id}-0.jpg"), "not the predictable name");
    assert!(saved.starts_with(&shared_tmp), "{}", saved.display());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(meta.permissions().mode() & 0o077, 0, "private to the user");
    }
}
