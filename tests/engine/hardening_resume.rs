//! Hardening of the resume path: a process killed (kill -9) after its result was saved but before the
//! journal recorded the end is finished from the gallery (no "may have been billed", no second
//! fetch); resumed jobs obey the concurrency limit and the pacer like new ones; an unreadable
//! journal record is reported at the default log level and as a notice.

use crate::common;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use assert_cmd::Command;
use fluxcn::api::{ClientConfig, GenParams};
use fluxcn::gallery::{Sidecar, Store};
use fluxcn::jobs::journal::Journal;
use fluxcn::jobs::{
    self, ApiVersion, Event, InputSource, JobSpec, JobsHandle, RuntimeConfig, RuntimeDeps, Stage,
};
use fluxcn::keystore::KeyStore;
use fluxcn::sim::{self, SimConfig, SimServer};

const KEY: &str = "SG_0badc0de0badc0de";

/// The saved sidecars in `gallery` (complete ones only).
fn sidecars(gallery: &Path) -> Vec<(PathBuf, Sidecar)> {
    let Ok(rd) = std::fs::read_dir(gallery) else {
        return Vec::new();
    };
    rd.flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
        .filter_map(|e| {
            let s = serde_json::from_slice(&std::fs::read(e.path()).ok()?).ok()?;
            Some((e.path(), s))
        })
        .collect()
}

fn images(gallery: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(gallery)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "jpg" || x == "png"))
        .collect()
}

/// Runs `fluxcn generate` with the test hook that stops the job right after its save, waits for
/// the saved sidecar and kills the process with SIGKILL: the journal never records the end.
fn generate_and_kill_after_the_save(server: &SimServer, data: &Path, api: &str) -> PathBuf {
    let input = data.with_file_name("in.png");
    std::fs::write(&input, sim::demo_input_png()).unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_fluxcn"))
        .env("SEGMIND_API_KEY", KEY)
        .env("FLUXCN_DATA_DIR", data)
        .env("FLUXCN_TEST_HOLD_AFTER_SAVE", "1")
        .env_remove("FLUXCN_LOG")
        .args(["--api-base", &server.base_url(), "generate", "--api", api])
        .args(["--prompt", "a lighthouse", "--seed", "5", "--image"])
        .arg(&input)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let gallery = data.join("gallery");
    let deadline = Instant::now() + Duration::from_secs(30);
    while sidecars(&gallery).is_empty() {
        assert!(Instant::now() < deadline, "nothing was ever saved");
        assert!(child.try_wait().unwrap().is_none(), "the process ended");
        std::thread::sleep(Duration::from_millis(20));
    }
    // Let the save finish its index record; the journal's end is never written (the hook holds).
    std::thread::sleep(Duration::from_millis(300));
    child.kill().unwrap();
    child.wait().unwrap();
    let journal = std::fs::read_to_string(data.join("journal.jsonl")).unwrap();
    assert!(!journal.contains("\"op\":\"end\""), "{journal}");
    let saved = sidecars(&gallery);
    assert_eq!(saved.len(), 1);
    saved[0].0.with_extension("jpg")
}

fn resume(server: &SimServer, data: &Path) -> std::process::Output {
    Command::cargo_bin("fluxcn")
        .unwrap()
        .env("SEGMIND_API_KEY", KEY)
        .env("FLUXCN_DATA_DIR", data)
        .env_remove("FLUXCN_LOG")
        .args(["--api-base", &server.base_url(), "resume"])
        .timeout(Duration::from_secs(30))
        .output()
        .unwrap()
}

fn assert_found_not_resent(server: &SimServer, data: &Path, saved: &Path) {
    let o = resume(server, data);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{stderr}");
    assert!(!stderr.contains("billed"), "{stderr}");
    let stdout = String::from_utf8(o.stdout).unwrap();
    assert_eq!(
        stdout.lines().map(PathBuf::from).collect::<Vec<_>>(),
        vec![saved.to_path_buf()],
        "the saved result is the job's result; stderr: {stderr}"
    );
    assert_eq!(images(&data.join("gallery")).len(), 1, "no second copy");
    // The journal entry is closed: nothing left to resume.
    let o = resume(server, data);
    assert!(o.status.success());
    assert!(o.stdout.is_empty());
}

#[test]
fn a_v1_result_saved_before_a_kill_is_found_not_reported_as_maybe_billed() {
    let rt = crate::common::rt();
    let server = rt
        .block_on(sim::start(SimConfig {
            delay: Duration::from_millis(200),
            ..Default::default()
        }))
        .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let saved = generate_and_kill_after_the_save(&server, &data, "v1");
    let side: serde_json::Value =
        serde_json::from_slice(&std::fs::read(saved.with_extension("json")).unwrap()).unwrap();
    assert!(side["job_id"].is_u64(), "the sidecar names its job: {side}");
    assert_found_not_resent(&server, &data, &saved);
    assert_eq!(server.stats().v1_requests, 1);
}

#[test]
fn a_v2_result_saved_before_a_kill_is_not_fetched_again() {
    let rt = crate::common::rt();
    let server = rt
        .block_on(sim::start(SimConfig {
            delay: Duration::from_millis(200),
            ..Default::default()
        }))
        .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let saved = generate_and_kill_after_the_save(&server, &data, "v2");
    let before = server.stats();
    assert_found_not_resent(&server, &data, &saved);
    let after = server.stats();
    assert_eq!(after.v2_submits, 1);
    assert_eq!(
        after.result_fetches, before.result_fetches,
        "not fetched again"
    );
    assert_eq!(
        after.outputs_served, before.outputs_served,
        "not downloaded again"
    );
}

/// A runtime on `dir` (journal and gallery) against `server`.
fn start(
    rt: &tokio::runtime::Runtime,
    server: &SimServer,
    dir: &Path,
    concurrency: usize,
    rate: Option<f64>,
) -> (JobsHandle, Vec<jobs::journal::JournalJob>) {
    let (journal, pending) = Journal::open(dir.join("journal.jsonl")).unwrap();
    let deps = RuntimeDeps {
        store: Store::open(dir.join("gallery")).unwrap(),
        keys: KeyStore::in_memory(),
        journal: Some(Arc::new(journal)),
        recovered: pending.clone(),
        client_template: ClientConfig {
            backoff_base: Duration::from_millis(10),
            backoff_max: Duration::from_millis(50),
            poll_interval: Duration::from_millis(50),
            ..Default::default()
        },
        ledger: None,
        waiting: None,
    };
    let cfg = RuntimeConfig {
        api_base: server.base_url(),
        key: fluxcn::api::ApiKey::new(KEY),
        concurrency,
        rate_per_minute: rate,
        max_input_side: 2048,
        daily_budget: None,
        ..Default::default()
    };
    (
        jobs::start(rt.handle(), deps, cfg, Arc::new(|| {})),
        pending,
    )
}

fn spec() -> JobSpec {
    JobSpec {
        input: InputSource::Bytes {
            name: "figure.png".into(),
            data: Arc::new(sim::demo_input_png()),
        },
        params: GenParams {
            prompt: "a robot".into(),
            seed: 11,
            ..Default::default()
        },
        api: ApiVersion::V2,
        group: None,
        prompt_template: None,
        batch: None,
        framing: Default::default(),
    }
}

#[test]
fn resumed_jobs_take_a_concurrency_permit_and_a_pacer_slot() {
    const JOBS: usize = 8;
    let rt = crate::common::rt();
    let server = rt
        .block_on(sim::start(SimConfig {
            delay: Duration::from_millis(1500),
            ..Default::default()
        }))
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    {
        // Submit them all, then "crash" while they run on the server.
        let (h, _) = start(&rt, &server, dir.path(), JOBS, None);
        for id in 1..=JOBS as u64 {
            h.send(jobs::Command::Submit { id, spec: spec() });
        }
        let mut submitted = HashSet::new();
        let end = Instant::now() + Duration::from_secs(20);
        while submitted.len() < JOBS && Instant::now() < end {
            if let Some(Event::Stage {
                id,
                stage: Stage::Submitted { .. },
            }) = h.recv_timeout(Duration::from_millis(50))
            {
                submitted.insert(id);
            }
        }
        assert_eq!(submitted.len(), JOBS);
    }
    common::wait_for_the_crashed_runtime(&dir.path().join("journal.jsonl"));

    // Two at a time, one every 250 ms.
    let (h, pending) = start(&rt, &server, dir.path(), 2, Some(240.0));
    assert_eq!(pending.len(), JOBS);
    let t0 = Instant::now();
    let mut running = HashSet::new();
    let (mut most, mut starts, mut done) = (0, Vec::new(), 0);
    let end = Instant::now() + Duration::from_secs(60);
    while done < JOBS && Instant::now() < end {
        let Some(e) = h.recv_timeout(Duration::from_millis(50)) else {
            continue;
        };
        match e {
            Event::Stage {
                id,
                stage: Stage::Remote { state },
            } if state == "checking" => {
                running.insert(id);
                starts.push(t0.elapsed());
                most = most.max(running.len());
            }
            Event::Done { id, .. } => {
                running.remove(&id);
                done += 1;
            }
            Event::Failed { id, failure } => panic!("job {id}: {}", failure.message),
            _ => {}
        }
    }
    assert_eq!(done, JOBS);
    assert!(most <= 2, "at most 2 resumed jobs at once, saw {most}");
    let spread = starts[JOBS - 1] - starts[0];
    assert!(
        spread >= Duration::from_millis(1500),
        "paced at 240/min: 8 starts span ≥ 1.75 s, saw {spread:?}"
    );
    assert_eq!(
        server.stats().v2_submits,
        JOBS as u64,
        "never submitted again"
    );
}

#[test]
fn an_unreadable_journal_record_is_reported_by_default_and_as_a_notice() {
    let rt = crate::common::rt();
    let server = rt.block_on(sim::start(SimConfig::default())).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let journal = data.join("journal.jsonl");
    let garbage = "{\"op\":\"start\",\"job\":{\"id\":12,\"inp\n";
    std::fs::write(&journal, garbage).unwrap();
    // The CLI, with its default log filter.
    let o = resume(&server, &data);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.contains("journal"), "{stderr}");
    assert!(stderr.contains("could not be read"), "{stderr}");

    // The window's runtime says so as a notice.
    std::fs::write(&journal, garbage).unwrap();
    let (h, _) = start(&rt, &server, &data, 2, None);
    let end = Instant::now() + Duration::from_secs(5);
    let mut notices = Vec::new();
    while Instant::now() < end && notices.is_empty() {
        if let Some(Event::Notice(n)) = h.recv_timeout(Duration::from_millis(50)) {
            notices.push(n);
        }
    }
    assert!(
        notices.iter().any(|n| n.contains("could not be read")),
        "{notices:?}"
    );
}
