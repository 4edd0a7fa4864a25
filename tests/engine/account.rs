//! The account's own records settle "maybe billed" (issue 25): a v1 answer cut off, and a CLI
//! killed after sending, are each recovered from Segmind's request history (in every envelope the
//! history may use) with the image saved, its sidecar and kept input beside it, the charge in the
//! ledger at the account's figure, and no second POST.

use std::path::Path;
use std::time::{Duration, Instant};

use fluxcn::jobs::ledger::Ledger;
use fluxcn::sim::{self, Envelope, Fault, SimConfig};

use crate::common::binary::fluxcn_cmd;

const KEY: &str = "SG_0badc0de0badc0de";

fn generate_v1(base: &str, data: &Path, input: &Path) -> std::process::Output {
    fluxcn_cmd(KEY, base, data, Duration::from_secs(60))
        .args([
            "generate",
            "--api",
            "v1",
            "--prompt",
            "a lighthouse",
            "--seed",
            "42",
            "--image",
        ])
        .arg(input)
        .output()
        .unwrap()
}

/// The one saved image, with its sidecar and a kept input beside it.
fn assert_saved_with_sidecar(stdout: &[u8]) -> std::path::PathBuf {
    let stdout = String::from_utf8_lossy(stdout);
    let paths: Vec<&str> = stdout.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(paths.len(), 1, "{stdout}");
    let path = std::path::PathBuf::from(paths[0]);
    assert!(
        image::open(&path).is_ok(),
        "a real image at {}",
        path.display()
    );
    let sidecar = std::fs::read_to_string(path.with_extension("json")).unwrap();
    assert!(sidecar.contains("a lighthouse"), "{sidecar}");
    assert!(
        sidecar.contains("sim-"),
        "the request id is in the sidecar: {sidecar}"
    );
    path
}

#[test]
fn a_truncated_v1_answer_is_recovered_from_history_in_every_envelope_with_one_post() {
    let rt = crate::common::rt();
    let tmp = tempfile::tempdir().unwrap();
    let input = crate::common::demo_photo(tmp.path());
    for envelope in Envelope::ALL {
        let server = rt
            .block_on(sim::start(SimConfig {
                delay: Duration::from_millis(50),
                history_envelope: envelope,
                ..Default::default()
            }))
            .unwrap();
        server.push_faults([Fault::Truncate]);
        let data = tmp.path().join(envelope.as_str());
        let o = generate_v1(&server.base_url(), &data, &input);
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert!(o.status.success(), "{envelope:?}: {stderr}");
        assert!(stderr.contains("not paid for again"), "{stderr}");
        assert_saved_with_sidecar(&o.stdout);
        let st = server.stats();
        assert_eq!(st.v1_requests, 1, "{envelope:?}: never sent twice");
        assert_eq!(st.billed_without_answer, 1);
        assert!(st.history_calls >= 1);
        assert_eq!(
            st.outputs_served, 1,
            "the image came from its generation_url"
        );
        // The ledger holds the account's figure, once, not an estimate and not "maybe".
        let ledger = Ledger::open(Ledger::path_in(&data)).unwrap();
        let spent = ledger.spent_today().unwrap();
        assert!(
            (spent - st.billed_without_answer_usd).abs() < 1e-9,
            "{envelope:?}: ledger {spent}, billed {}",
            st.billed_without_answer_usd
        );
    }
}

#[test]
fn a_v1_request_that_failed_at_segmind_is_said_not_billed() {
    let rt = crate::common::rt();
    let server = rt
        .block_on(sim::start(SimConfig {
            delay: Duration::from_millis(50),
            ..Default::default()
        }))
        .unwrap();
    // A 500 after the work: the history shows FAILED, and nothing is counted.
    server.push_faults([Fault::Status500; 3]);
    let tmp = tempfile::tempdir().unwrap();
    let input = crate::common::demo_photo(tmp.path());
    let data = tmp.path().join("data");
    let o = generate_v1(&server.base_url(), &data, &input);
    assert!(!o.status.success());
    let ledger = Ledger::open(Ledger::path_in(&data)).unwrap();
    assert_eq!(ledger.spent_today().unwrap(), 0.0);
    assert_eq!(server.stats().billed_usd, 0.0);
}

#[test]
fn a_v1_generation_killed_after_sending_is_recovered_by_resume_without_a_second_post() {
    let rt = crate::common::rt();
    let server = rt
        .block_on(sim::start(SimConfig {
            delay: Duration::from_secs(3),
            ..Default::default()
        }))
        .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let input = crate::common::demo_photo(tmp.path());
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_fluxcn"))
        .env("SEGMIND_API_KEY", KEY)
        .env("FLUXCN_DATA_DIR", &data)
        .env_remove("FLUXCN_HISTORY_BASE")
        .args(["--api-base", &server.base_url(), "generate", "--api", "v1"])
        .args(["--prompt", "a lighthouse", "--seed", "42", "--image"])
        .arg(&input)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Wait until the request reached the service, then kill -9 with it in flight.
    let deadline = Instant::now() + Duration::from_secs(20);
    while server.stats().v1_requests == 0 {
        assert!(Instant::now() < deadline, "the request was never sent");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(200));
    child.kill().unwrap();
    child.wait().unwrap();
    // The generation runs on at Segmind and is billed, answer or not.
    let deadline = Instant::now() + Duration::from_secs(20);
    while server.stats().billed_without_answer == 0 {
        assert!(Instant::now() < deadline, "the generation was never billed");
        std::thread::sleep(Duration::from_millis(50));
    }
    let o = fluxcn_cmd(KEY, &server.base_url(), &data, Duration::from_secs(60))
        .arg("resume")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_saved_with_sidecar(&o.stdout);
    let st = server.stats();
    assert_eq!(st.v1_requests, 1, "recovered, not sent again");
    let ledger = Ledger::open(Ledger::path_in(&data)).unwrap();
    let spend = ledger.spend(chrono::Local::now(), 1).unwrap();
    assert!(
        (spend.today - st.billed_without_answer_usd).abs() < 1e-9,
        "{spend:?}"
    );
    assert_eq!(spend.maybe_jobs, 0, "no longer maybe billed: {spend:?}");
}

#[test]
fn a_batch_line_left_unknown_is_recovered_at_the_re_run_without_a_second_post() {
    let rt = crate::common::rt();
    let server = rt
        .block_on(sim::start(SimConfig {
            delay: Duration::from_secs(3),
            ..Default::default()
        }))
        .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let out = tmp.path().join("out");
    crate::common::demo_photo(tmp.path());
    let file = tmp.path().join("two.jsonl");
    std::fs::write(
        &file,
        "{\"prompt\": \"line one\", \"image\": \"in.png\", \"seed\": 1}\n\
         {\"prompt\": \"line two\", \"image\": \"in.png\", \"seed\": 2}\n",
    )
    .unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_fluxcn"))
        .env("SEGMIND_API_KEY", KEY)
        .env("FLUXCN_DATA_DIR", &data)
        .env_remove("FLUXCN_HISTORY_BASE")
        .args(["--api-base", &server.base_url(), "batch"])
        .arg(&file)
        .arg("--out")
        .arg(&out)
        .args(["--api", "v1", "--concurrency", "1"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while server.stats().v1_requests == 0 {
        assert!(Instant::now() < deadline, "line one was never sent");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(200));
    child.kill().unwrap();
    child.wait().unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while server.stats().billed_without_answer == 0 {
        assert!(Instant::now() < deadline, "line one was never billed");
        std::thread::sleep(Duration::from_millis(50));
    }
    // The re-run asks the account about line one (completed: fetched and saved), then sends only
    // line two.
    let o = fluxcn_cmd(KEY, &server.base_url(), &data, Duration::from_secs(60))
        .arg("batch")
        .arg(&file)
        .arg("--out")
        .arg(&out)
        .args(["--api", "v1"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{stderr}");
    assert!(
        stderr.contains("line 1: recovered from Segmind's history"),
        "{stderr}"
    );
    let st = server.stats();
    let sent: Vec<&str> = st.v1_log.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(
        sent,
        ["line one", "line two"],
        "line one was never sent twice"
    );
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert_eq!(stdout.lines().count(), 2, "{stdout}");
    for p in stdout.lines() {
        assert!(image::open(p).is_ok(), "{p}");
    }
    // A third run has nothing left to do.
    let o = fluxcn_cmd(KEY, &server.base_url(), &data, Duration::from_secs(60))
        .arg("batch")
        .arg(&file)
        .arg("--out")
        .arg(&out)
        .args(["--api", "v1"])
        .output()
        .unwrap();
    assert!(o.status.success());
    assert_eq!(server.stats().v1_requests, 2);
    let ledger = Ledger::open(Ledger::path_in(&data)).unwrap();
    let spend = ledger.spend(chrono::Local::now(), 1).unwrap();
    assert_eq!(spend.maybe_jobs, 0, "{spend:?}");
    assert!((spend.today - 2.0 * 0.048).abs() < 1e-9, "{spend:?}");
}

#[test]
fn a_four_type_compare_with_upload_input_uploads_once_and_sends_four_urls() {
    let rt = crate::common::rt();
    let server = rt
        .block_on(sim::start(SimConfig {
            delay: Duration::from_millis(50),
            ..Default::default()
        }))
        .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let input = crate::common::photo_file(tmp.path(), "big.png", 1536, 1024);
    let compare = |extra: &[&str]| {
        fluxcn_cmd(KEY, &server.base_url(), &data, Duration::from_secs(60))
            .args(extra)
            .args([
                "compare",
                "--upload-input",
                "--prompt",
                "a tower",
                "--seed",
                "9",
            ])
            .arg("--image")
            .arg(&input)
            .output()
            .unwrap()
    };
    let o = compare(&[]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(String::from_utf8_lossy(&o.stdout).lines().count(), 4);
    let st = server.stats();
    assert_eq!(st.uploads, 1, "one upload for the four requests");
    assert_eq!(
        (st.images_by_url, st.images_inline),
        (4, 0),
        "four URLs, no base64"
    );
    // The outputs keep the input's size: the service read the uploaded image.
    let first = String::from_utf8_lossy(&o.stdout)
        .lines()
        .next()
        .unwrap()
        .to_owned();
    assert_eq!(image::image_dimensions(&first).unwrap(), (1536, 1024));
    // The URL is kept in the catalog: a later compare with the same input uploads nothing.
    let o = compare(&[]);
    assert!(o.status.success());
    let st = server.stats();
    assert_eq!((st.uploads, st.images_by_url), (1, 8));
    // A storage service that cannot be reached: said, and base64 is sent instead.
    let o = compare(&["--storage-base", "http://127.0.0.1:9/"]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{stderr}");
    assert!(stderr.contains("sent as base64 instead"), "{stderr}");
    assert_eq!(server.stats().images_inline, 4);
}

#[test]
fn reconcile_lists_records_and_imports_a_charge_made_elsewhere() {
    let rt = crate::common::rt();
    let server = rt
        .block_on(sim::start(SimConfig {
            delay: Duration::from_millis(50),
            ..Default::default()
        }))
        .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let input = crate::common::demo_photo(tmp.path());
    let ours = tmp.path().join("ours");
    let elsewhere = tmp.path().join("another-machine");
    let generate = |data: &Path, prompt: &str| {
        let o = fluxcn_cmd(KEY, &server.base_url(), data, Duration::from_secs(60))
            .args(["generate", "--prompt", prompt, "--seed", "5", "--image"])
            .arg(&input)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    };
    generate(&ours, "made here");
    generate(&elsewhere, "made on another machine");
    let reconcile = |extra: &[&str]| {
        let o = fluxcn_cmd(KEY, &server.base_url(), &ours, Duration::from_secs(60))
            .args(["reconcile", "--days", "1"])
            .args(extra)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8(o.stdout).unwrap()
    };
    let report = reconcile(&[]);
    assert!(report.contains("2 billed requests for $0.096"), "{report}");
    assert!(
        report.contains("1 charge made elsewhere ($0.048"),
        "{report}"
    );
    assert!(
        report.contains("\"made on another machine\"  recorded"),
        "{report}"
    );
    assert!(!report.contains("\"made here\""), "ours is known: {report}");
    assert!(
        report.contains("today: $0.05 before, $0.10 now"),
        "{report}"
    );
    let ledger = Ledger::open(Ledger::path_in(&ours)).unwrap();
    assert!((ledger.spent_today().unwrap() - 0.096).abs() < 1e-9);
    drop(ledger);

    // --import brings its image into our gallery with its settings, once.
    let report = reconcile(&["--import"]);
    let imported = report
        .lines()
        .find_map(|l| l.trim().strip_prefix("imported: "))
        .unwrap_or_else(|| panic!("{report}"))
        .to_owned();
    assert!(image::open(&imported).is_ok());
    let sidecar = std::fs::read_to_string(Path::new(&imported).with_extension("json")).unwrap();
    assert!(sidecar.contains("made on another machine"), "{sidecar}");
    assert!(sidecar.contains("sim-"), "{sidecar}");
    let report = reconcile(&["--import"]);
    assert!(report.contains("no charge made elsewhere"), "{report}");
    let ledger = Ledger::open(Ledger::path_in(&ours)).unwrap();
    assert!(
        (ledger.spent_today().unwrap() - 0.096).abs() < 1e-9,
        "recorded once"
    );
    // Nothing was generated by reconciling.
    assert_eq!(server.stats().v2_submits, 2);
}

#[test]
fn a_v2_submit_whose_answer_was_lost_is_found_in_history_and_fetched_with_one_submit() {
    let rt = crate::common::rt();
    let server = rt
        .block_on(sim::start(SimConfig {
            delay: Duration::from_millis(400),
            ..Default::default()
        }))
        .unwrap();
    // The submit is accepted (the job runs and is billed) but its answer never arrives.
    server.push_faults([Fault::Reset]);
    let tmp = tempfile::tempdir().unwrap();
    let input = crate::common::demo_photo(tmp.path());
    let data = tmp.path().join("data");
    let o = fluxcn_cmd(KEY, &server.base_url(), &data, Duration::from_secs(60))
        .args([
            "generate",
            "--prompt",
            "a lighthouse",
            "--seed",
            "42",
            "--image",
        ])
        .arg(&input)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_saved_with_sidecar(&o.stdout);
    let st = server.stats();
    assert_eq!(st.v2_submits, 1, "never submitted twice");
    assert!(st.history_calls >= 1);
    let ledger = Ledger::open(Ledger::path_in(&data)).unwrap();
    assert!((ledger.spent_today().unwrap() - 0.048).abs() < 1e-9);
}
