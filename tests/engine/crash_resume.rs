//! Kill the CLI (SIGKILL) while a v2 job is polling; `fluxcn resume` then saves the image with
//! exactly one submit on the server's side. And `fluxcn credits` shows the balance, or says the key
//! is wrong.

use std::time::{Duration, Instant};

use assert_cmd::Command;
use fluxcn::sim::{self, SimConfig};

const KEY: &str = "SG_0badc0de0badc0de";

#[test]
fn a_killed_v2_generation_is_finished_by_resume_with_one_submit() {
    let rt = crate::common::rt();
    let server = rt
        .block_on(sim::start(SimConfig {
            delay: Duration::from_secs(4),
            ..Default::default()
        }))
        .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let input = crate::common::demo_photo(tmp.path());
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_fluxcn"))
        .env("SEGMIND_API_KEY", KEY)
        .env("FLUXCN_DATA_DIR", &data)
        .args([
            "--api-base",
            &server.base_url(),
            "generate",
            "--api",
            "v2",
            "--prompt",
            "a lighthouse",
            "--image",
        ])
        .arg(&input)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Wait until the request id is in the journal (the job is polling), then kill -9.
    let journal = data.join("journal.jsonl");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        assert!(Instant::now() < deadline, "the job was never submitted");
        if std::fs::read_to_string(&journal).is_ok_and(|s| s.contains("\"op\":\"submitted\"")) {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(server.stats().v2_submits, 1);
    assert!(
        !data.join("gallery").exists()
            || std::fs::read_dir(data.join("gallery"))
                .unwrap()
                .flatten()
                .all(|e| e.path().extension().is_none_or(|x| x != "jpg")),
        "nothing saved before the kill"
    );

    let polls_after_the_kill = server.stats().status_polls;
    // No --api-base: the key goes only to the service configured now, never to the base the
    // journal names; the job stays in the journal and the message says how to fetch it.
    let o = Command::cargo_bin("fluxcn")
        .unwrap()
        .env("SEGMIND_API_KEY", KEY)
        .env("FLUXCN_DATA_DIR", &data)
        .env_remove("FLUXCN_API_BASE")
        .args(["resume"])
        .timeout(Duration::from_secs(30))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert!(
        stderr.contains(&format!("fluxcn --api-base {} resume", server.base_url())),
        "{stderr}"
    );
    assert_eq!(
        server.stats().status_polls,
        polls_after_the_kill,
        "nothing sent on that run"
    );

    let o = Command::cargo_bin("fluxcn")
        .unwrap()
        .env("SEGMIND_API_KEY", KEY)
        .env("FLUXCN_DATA_DIR", &data)
        .args(["--api-base", &server.base_url(), "resume"])
        .timeout(Duration::from_secs(30))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let stdout = String::from_utf8(o.stdout).unwrap();
    let paths: Vec<&str> = stdout.lines().collect();
    assert_eq!(paths.len(), 1, "{stdout}");
    assert!(image::open(paths[0]).is_ok());
    assert_eq!(
        server.stats().v2_submits,
        1,
        "resumed by polling, never submitted again"
    );
    // Nothing left to resume.
    let o = Command::cargo_bin("fluxcn")
        .unwrap()
        .env("SEGMIND_API_KEY", KEY)
        .env("FLUXCN_DATA_DIR", &data)
        .args(["--api-base", &server.base_url(), "resume"])
        .output()
        .unwrap();
    assert!(o.status.success());
    assert!(o.stdout.is_empty());
}

#[test]
fn credits_shows_the_balance_and_a_wrong_key_says_so() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let server = rt
        .block_on(sim::start(SimConfig {
            credits: 12.5,
            accepted_keys: Some(vec![KEY.into()]),
            ..Default::default()
        }))
        .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let o = Command::cargo_bin("fluxcn")
        .unwrap()
        .env("SEGMIND_API_KEY", KEY)
        .env("FLUXCN_DATA_DIR", tmp.path())
        .args(["--api-base", &server.base_url(), "credits"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stdout).contains("credits: 12.50"));
    let o = Command::cargo_bin("fluxcn")
        .unwrap()
        .env("SEGMIND_API_KEY", "SG_1111111111111111")
        .env("FLUXCN_DATA_DIR", tmp.path())
        .args(["--api-base", &server.base_url(), "credits"])
        .output()
        .unwrap();
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("API key was refused"), "{err}");
}
