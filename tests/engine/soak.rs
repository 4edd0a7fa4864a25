//! Soak: many jobs through the real job runtime against the stand-in with about 20 % injected faults
//! (429 with Retry-After, 500, 502, 504, 403, reset, truncated body, slow past the timeout). Checks: no
//! panic, every job ends, every complete `200` is saved exactly once, nothing is re-sent after a
//! non-retryable status or an ambiguous failure (proved from the stand-in's own request log), and
//! every failure carries the class of the answer that ended it. Prints the tally.
//!
//! Short by default (CI); `FLUXCN_SOAK_JOBS=2000 cargo test --release --test engine soak:: -- --nocapture` for
//! the long run.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use fluxcn::api::{ClientConfig, GenParams};
use fluxcn::gallery::Store;
use fluxcn::jobs::{
    self, ApiVersion, Command, Event, InputSource, JobSpec, RuntimeConfig, RuntimeDeps,
};
use fluxcn::keystore::KeyStore;
use fluxcn::sim::{self, SimConfig};

#[test]
fn soak_with_twenty_percent_faults() {
    let n: usize = std::env::var("FLUXCN_SOAK_JOBS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300);
    let rt = crate::common::rt();
    let faults = "429:0.03,500:0.03,502:0.03,504:0.03,403:0.02,reset:0.02,truncate:0.02,slow:0.02"
        .parse()
        .unwrap();
    let server = rt
        .block_on(sim::start(SimConfig {
            delay: Duration::from_millis(5),
            faults,
            seed: 2026,
            slow_extra: Duration::from_millis(1500),
            credits: 1.0e9,
            ..Default::default()
        }))
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("gallery")).unwrap();
    let deps = RuntimeDeps {
        store: store.clone(),
        keys: KeyStore::in_memory(),
        journal: None,
        recovered: Vec::new(),
        client_template: ClientConfig {
            generation_timeout: Duration::from_millis(800),
            backoff_base: Duration::from_millis(5),
            backoff_max: Duration::from_millis(40),
            max_rate_limit_wait: Duration::from_secs(5),
            ..Default::default()
        },
        ledger: None,
        waiting: None,
    };
    let cfg = RuntimeConfig {
        api_base: server.base_url(),
        key: fluxcn::api::ApiKey::new("SG_50a450a450a450a4"),
        concurrency: 8,
        rate_per_minute: Some(100_000.0),
        max_input_side: 2048,
        daily_budget: None,
        ..Default::default()
    };
    let h = jobs::start(rt.handle(), deps, cfg, Arc::new(|| {}));
    let input = InputSource::Bytes {
        name: "in.png".into(),
        data: Arc::new(sim::demo_input_png()),
    };
    let started = Instant::now();
    for i in 0..n {
        let spec = JobSpec {
            input: input.clone(),
            params: GenParams {
                prompt: format!("soak {i}"),
                seed: i as i64,
                use_input_img_dimension: false,
                custom_width: 64,
                custom_height: 64,
                ..Default::default()
            },
            api: ApiVersion::V1,
            group: None,
            prompt_template: None,
            batch: None,
            framing: Default::default(),
        };
        assert!(h.send(Command::Submit {
            id: i as u64 + 1,
            spec
        }));
    }
    let mut ended = 0;
    let mut tally: BTreeMap<String, usize> = BTreeMap::new();
    let mut saved = 0u64;
    let mut recovered = 0u64;
    let mut outcome: BTreeMap<u64, String> = BTreeMap::new();
    let deadline = Instant::now() + Duration::from_secs(30 + n as u64 / 5);
    while ended < n {
        assert!(
            Instant::now() < deadline,
            "jobs hung: {ended} of {n} ended; tally {tally:?}"
        );
        let Some(ev) = h.recv_timeout(Duration::from_millis(200)) else {
            continue;
        };
        match ev {
            Event::Done { id, images, .. } => {
                ended += 1;
                outcome.insert(id, "saved".into());
                saved += images.len() as u64;
                *tally.entry("saved".into()).or_default() += 1;
            }
            Event::Failed { id, failure } => {
                ended += 1;
                assert!(!failure.message.is_empty());
                outcome.insert(id, failure.kind.to_string());
                *tally
                    .entry(format!("failed: {}", failure.kind))
                    .or_default() += 1;
            }
            Event::Cancelled { .. } => panic!("nothing was cancelled"),
            // A request whose answer was lost (cut, dropped) but which Segmind completed and
            // billed, recovered from the account's history instead of being sent again.
            Event::Notice(n) if n.contains("not paid for again") => recovered += 1,
            _ => {}
        }
    }
    let stats = server.stats();
    println!("soak: {n} jobs in {:.1} s", started.elapsed().as_secs_f64());
    for (k, v) in &tally {
        println!("  {k:<24} {v}");
    }
    println!(
        "  server: {} requests, by status {:?}, faults {:?}, billed {}",
        stats.v1_requests, stats.by_status, stats.faults_injected, stats.generations_billed
    );
    assert_eq!(
        saved,
        stats.generations_billed + recovered,
        "every complete 200 saved exactly once, and every recovered request once"
    );
    assert!(
        recovered <= stats.billed_without_answer,
        "recovered {recovered}, billed without an answer {}",
        stats.billed_without_answer
    );
    let files = std::fs::read_dir(store.dir())
        .unwrap()
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "jpg"))
        .count();
    assert_eq!(files as u64, saved, "one file per saved image");
    // Only the contract's classes appear, and the ambiguous ones were not re-sent.
    for k in tally.keys() {
        assert!(
            [
                "saved",
                "failed: 429",
                "failed: 500",
                "failed: 502",
                "failed: 504",
                "failed: 403",
                "failed: no answer",
                "failed: decode"
            ]
            .contains(&k.as_str()),
            "unexpected outcome {k}"
        );
    }
    // Every ambiguous fault (connection reset, body cut off, no answer in time) ends its job either
    // recovered from the account's history (saved, not sent again) or with a "no answer" failure,
    // and is never re-sent: the counts match one for one.
    let f = |k: &str| stats.faults_injected.get(k).copied().unwrap_or(0);
    let ambiguous = f("reset") + f("truncate") + f("slow");
    let no_answer = tally.get("failed: no answer").copied().unwrap_or(0) as u64
        + tally.get("failed: decode").copied().unwrap_or(0) as u64;
    assert_eq!(
        no_answer + recovered,
        ambiguous,
        "ambiguous failures: {tally:?} vs faults {:?}",
        stats.faults_injected
    );

    // From the stand-in's own log: per job, every request but the last drew a retryable status
    // (429, 500, 502, 503, 504), so nothing was re-sent after a 403 or an ambiguous failure; and the
    // job's reported class is the class of its last answer.
    let mut per_job: BTreeMap<String, Vec<Option<&str>>> = BTreeMap::new();
    for (prompt, fault) in &stats.v1_log {
        per_job.entry(prompt.clone()).or_default().push(*fault);
    }
    assert_eq!(per_job.len(), n, "every job reached the server");
    let mut resent = 0;
    for (prompt, seq) in &per_job {
        let (last, before) = seq.split_last().expect("at least one request per job");
        for f in before {
            assert!(
                matches!(f, Some("429" | "500" | "502" | "503" | "504")),
                "{prompt}: re-sent after {f:?} (sequence {seq:?})"
            );
        }
        resent += before.len();
        assert!(
            before.iter().filter(|f| **f == Some("500")).count() <= 1,
            "{prompt}: a 500 is retried once only ({seq:?})"
        );
        let i: u64 = prompt
            .strip_prefix("soak ")
            .and_then(|s| s.parse().ok())
            .expect("soak prompt");
        let got = outcome.get(&(i + 1)).map(String::as_str);
        let want: &[&str] = match last {
            None => &["saved"],
            // Recovered from the account's history (saved without a second POST), or not.
            Some("reset" | "slow") => &["no answer", "saved"],
            Some("truncate") => &["no answer", "decode", "saved"],
            Some(status) => &[status],
        };
        assert!(
            got.is_some_and(|g| want.contains(&g)),
            "{prompt}: ended as {got:?} after {seq:?}, expected one of {want:?}"
        );
    }
    println!("  retried (retryable statuses only): {resent}");
}
