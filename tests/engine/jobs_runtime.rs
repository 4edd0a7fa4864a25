//! The job runtime end to end against the in-process stand-in: v1 and v2 generations saved before
//! they are reported, retries only where allowed, cancellation, and crash recovery from the journal
//! (a v2 job is finished by polling with exactly one submit; a v1 job in flight is reported, never
//! re-sent).

use crate::common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use fluxcn::api::{ClientConfig, GenParams};
use fluxcn::gallery::Store;
use fluxcn::jobs::journal::Journal;
use fluxcn::jobs::{
    self, ApiVersion, Command, Event, InputSource, JobSpec, JobsHandle, RuntimeConfig, RuntimeDeps,
    Stage,
};
use fluxcn::keystore::KeyStore;
use fluxcn::sim::{self, Fault, SimConfig, SimServer};

const KEY: &str = "SG_feedfacefeedface";

struct Rig {
    rt: tokio::runtime::Runtime,
    sim: SimServer,
    dir: tempfile::TempDir,
}

fn rig(cfg: SimConfig) -> Rig {
    let rt = crate::common::rt();
    let sim = rt.block_on(sim::start(cfg)).unwrap();
    Rig {
        rt,
        sim,
        dir: tempfile::tempdir().unwrap(),
    }
}

impl Rig {
    fn wait_for_the_crashed_runtime(&self) {
        common::wait_for_the_crashed_runtime(&self.dir.path().join("journal.jsonl"));
    }

    fn start(&self) -> (JobsHandle, Vec<jobs::journal::JournalJob>) {
        self.start_with(None)
    }

    fn start_with(
        &self,
        ledger: Option<Arc<jobs::ledger::Ledger>>,
    ) -> (JobsHandle, Vec<jobs::journal::JournalJob>) {
        let (journal, pending) = Journal::open(self.dir.path().join("journal.jsonl")).unwrap();
        let deps = RuntimeDeps {
            store: Store::open(self.dir.path().join("gallery")).unwrap(),
            keys: KeyStore::in_memory(),
            journal: Some(Arc::new(journal)),
            recovered: pending.clone(),
            client_template: ClientConfig {
                backoff_base: Duration::from_millis(10),
                backoff_max: Duration::from_millis(50),
                poll_interval: Duration::from_millis(50),
                ..Default::default()
            },
            ledger,
            waiting: None,
        };
        let cfg = RuntimeConfig {
            api_base: self.sim.base_url(),
            key: fluxcn::api::ApiKey::new(KEY),
            concurrency: 4,
            rate_per_minute: None,
            max_input_side: 2048,
            daily_budget: None,
            ..Default::default()
        };
        (
            jobs::start(self.rt.handle(), deps, cfg, Arc::new(|| {})),
            pending,
        )
    }
}

fn spec(api: ApiVersion) -> JobSpec {
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
        api,
        group: None,
        prompt_template: None,
        batch: None,
        framing: Default::default(),
    }
}

/// Collects events until `until` says stop or the timeout passes.
fn collect(h: &JobsHandle, timeout: Duration, mut until: impl FnMut(&Event) -> bool) -> Vec<Event> {
    let end = Instant::now() + timeout;
    let mut out = Vec::new();
    while Instant::now() < end {
        if let Some(e) = h.recv_timeout(Duration::from_millis(50)) {
            let stop = until(&e);
            out.push(e);
            if stop {
                break;
            }
        }
    }
    out
}

fn ended(e: &Event) -> bool {
    matches!(
        e,
        Event::Done { .. } | Event::Failed { .. } | Event::Cancelled { .. }
    )
}

#[test]
fn v1_and_v2_results_are_on_disk_when_reported() {
    let r = rig(SimConfig {
        delay: Duration::from_millis(300),
        ..Default::default()
    });
    let (h, _) = r.start();
    for api in [ApiVersion::V1, ApiVersion::V2] {
        let id = jobs::next_job_id();
        h.send(Command::Submit {
            id,
            spec: spec(api),
        });
        let evs = collect(&h, Duration::from_secs(20), ended);
        let Some(Event::Done {
            images, accounting, ..
        }) = evs.last()
        else {
            panic!("{api:?}: {evs:?}")
        };
        assert_eq!(images.len(), 1);
        assert!(images[0].path.exists() && images[0].sidecar.exists());
        assert!(images[0].preview.is_some());
        assert!(accounting.remaining_credits.is_some());
        let stages: Vec<&Stage> = evs
            .iter()
            .filter_map(|e| {
                if let Event::Stage { stage, .. } = e {
                    Some(stage)
                } else {
                    None
                }
            })
            .collect();
        assert!(stages.contains(&&Stage::Queued));
        if api == ApiVersion::V2 {
            assert!(
                stages.iter().any(|s| matches!(s, Stage::Submitted { .. })),
                "{stages:?}"
            );
        }
    }
    let s = r.sim.stats();
    assert_eq!((s.v1_requests, s.v2_submits), (1, 1));
}

/// N samples on v1 (the window, a cell, a batch line, the CLI: every caller's job) are N requests
/// of one image each, seeds 11, 12, 13: every paid image arrives, is saved and is in the ledger,
/// one row a request. (Sent as one request of 3, v1 billed 3 and answered 1.)
#[test]
fn samples_on_v1_are_a_request_each_and_every_paid_image_is_saved() {
    let r = rig(SimConfig {
        delay: Duration::from_millis(50),
        ..Default::default()
    });
    let ledger = Arc::new(jobs::ledger::Ledger::open(r.dir.path().join("ledger.sqlite")).unwrap());
    let (h, _) = r.start_with(Some(ledger.clone()));
    let id = jobs::next_job_id();
    let mut three = spec(ApiVersion::V1);
    three.params.samples = 3;
    h.send(Command::Submit { id, spec: three });
    let evs = collect(&h, Duration::from_secs(20), ended);
    let Some(Event::Done { images, .. }) = evs.last() else {
        panic!("{evs:?}")
    };
    assert_eq!(images.len(), 3, "{images:?}");
    assert!(images.iter().all(|i| i.path.exists() && i.sidecar.exists()));
    let seeds: Vec<i64> = images.iter().map(|i| i.seed).collect();
    assert_eq!(seeds, [11, 12, 13]);
    let s = r.sim.stats();
    assert_eq!((s.v1_requests, s.generations_billed), (3, 3));
    let paid = ledger.charge_of(id).unwrap().unwrap();
    assert!(
        (paid - 3.0 * fluxcn::api::DEFAULT_COST_PER_IMAGE).abs() < 1e-6,
        "{paid}"
    );
    let spend = ledger.spend(chrono::Local::now(), 1).unwrap();
    assert_eq!((spend.jobs, spend.images, spend.lost_images), (1, 3, 0));
}

#[test]
fn a_429_is_waited_out_and_a_reset_is_not_resent() {
    let r = rig(SimConfig {
        delay: Duration::from_millis(50),
        ..Default::default()
    });
    let (h, _) = r.start();
    r.sim.push_faults([Fault::Status429]);
    h.send(Command::Submit {
        id: 1,
        spec: spec(ApiVersion::V1),
    });
    let evs = collect(&h, Duration::from_secs(20), ended);
    assert!(
        evs.iter().any(|e| matches!(
            e,
            Event::Stage {
                stage: Stage::Retrying { .. },
                ..
            }
        )),
        "{evs:?}"
    );
    assert!(matches!(evs.last(), Some(Event::Done { .. })), "{evs:?}");
    assert_eq!(r.sim.stats().v1_requests, 2);

    r.sim.push_faults([Fault::Reset]);
    h.send(Command::Submit {
        id: 2,
        spec: spec(ApiVersion::V1),
    });
    let evs = collect(&h, Duration::from_secs(20), ended);
    let Some(Event::Failed { failure, .. }) = evs.last() else {
        panic!("{evs:?}")
    };
    assert!(failure.maybe_billed, "{failure:?}");
    assert!(failure.message.contains("may have been billed"));
    assert_eq!(
        r.sim.stats().v1_requests,
        3,
        "the reset request was not re-sent"
    );
}

#[test]
fn cancel_while_waiting_for_the_server() {
    let r = rig(SimConfig {
        delay: Duration::from_secs(20),
        ..Default::default()
    });
    let (h, _) = r.start();
    h.send(Command::Submit {
        id: 5,
        spec: spec(ApiVersion::V1),
    });
    collect(&h, Duration::from_secs(10), |e| {
        matches!(
            e,
            Event::Stage {
                stage: Stage::Waiting,
                ..
            }
        )
    });
    let t = Instant::now();
    h.send(Command::Cancel(5));
    let evs = collect(&h, Duration::from_secs(10), ended);
    assert!(
        matches!(
            evs.last(),
            Some(Event::Cancelled {
                id: 5,
                maybe_billed: true
            })
        ),
        "{evs:?}"
    );
    assert!(t.elapsed() < Duration::from_secs(3));
}

#[test]
fn a_crash_mid_poll_is_finished_by_polling_with_one_submit() {
    let r = rig(SimConfig {
        delay: Duration::from_millis(1500),
        ..Default::default()
    });
    {
        let (h, _) = r.start();
        h.send(Command::Submit {
            id: 77,
            spec: spec(ApiVersion::V2),
        });
        collect(&h, Duration::from_secs(10), |e| {
            matches!(
                e,
                Event::Stage {
                    stage: Stage::Submitted { .. },
                    ..
                }
            )
        });
        // The "crash": the handle and its runtime tasks go away with nothing written at exit.
    }
    // Let the first runtime's tasks see the dropped channel; they must not have finished the job.
    r.wait_for_the_crashed_runtime();
    let (h2, pending) = r.start();
    assert_eq!(pending.len(), 1, "the journal kept the job in flight");
    assert_eq!(pending[0].id, 77);
    assert!(pending[0].request_id.is_some());
    let evs = collect(&h2, Duration::from_secs(20), |e| {
        matches!(e, Event::Done { id: 77, .. } | Event::Failed { id: 77, .. })
    });
    assert!(
        evs.iter()
            .any(|e| matches!(e, Event::Recovered { id: 77, .. }))
    );
    assert!(
        matches!(evs.last(), Some(Event::Done { id: 77, .. })),
        "{evs:?}"
    );
    assert_eq!(r.sim.stats().v2_submits, 1, "never submitted twice");
}

#[test]
fn a_v1_job_in_flight_at_a_crash_is_reported_not_resent() {
    let r = rig(SimConfig {
        delay: Duration::from_secs(30),
        ..Default::default()
    });
    {
        let (h, _) = r.start();
        h.send(Command::Submit {
            id: 9,
            spec: spec(ApiVersion::V1),
        });
        collect(&h, Duration::from_secs(10), |e| {
            matches!(
                e,
                Event::Stage {
                    stage: Stage::Waiting,
                    ..
                }
            )
        });
    }
    r.wait_for_the_crashed_runtime();
    let (h2, pending) = r.start();
    assert_eq!(pending.len(), 1);
    let evs = collect(&h2, Duration::from_secs(10), |e| {
        matches!(e, Event::Failed { id: 9, .. })
    });
    let Some(Event::Failed { failure, .. }) = evs.last() else {
        panic!("{evs:?}")
    };
    assert!(failure.maybe_billed);
    assert!(
        failure.message.starts_with("interrupted"),
        "{}",
        failure.message
    );
    // The account's history says the generation is still running at Segmind: left open, to be
    // asked again at the next start (not re-sent, not forgotten).
    assert!(
        failure.message.contains("still running"),
        "{}",
        failure.message
    );
    assert_eq!(r.sim.stats().v1_requests, 1, "not re-sent");
    drop(h2);
    std::thread::sleep(Duration::from_millis(200));
    let (_, pending) = r.start();
    assert_eq!(pending.len(), 1, "kept for the next start");
    assert_eq!(r.sim.stats().v1_requests, 1, "not re-sent");
}

#[test]
fn every_v2_failure_maps_to_its_message() {
    let r = rig(SimConfig {
        delay: Duration::from_millis(200),
        ..Default::default()
    });
    let (h, _) = r.start();
    let cases = [
        (Fault::Fail, "the generation ran and failed (422)", false),
        (Fault::Expire, "no longer has job", false),
        (Fault::Status503, "", true),
    ];
    for (i, (fault, needle, succeeds)) in cases.into_iter().enumerate() {
        r.sim.push_faults([fault]);
        let id = 100 + i as u64;
        h.send(Command::Submit {
            id,
            spec: spec(ApiVersion::V2),
        });
        let evs = collect(&h, Duration::from_secs(20), ended);
        match evs.last() {
            Some(Event::Done { .. }) if succeeds => {}
            Some(Event::Failed { failure, .. }) if !succeeds => {
                assert!(
                    failure.message.contains(needle),
                    "{fault:?}: {}",
                    failure.message
                );
            }
            other => panic!("{fault:?}: {other:?}"),
        }
    }
    // The 503 on submit proves the job was not accepted: it was submitted again, once.
    assert_eq!(r.sim.stats().v2_submits, 4);
}

#[test]
fn a_v2_job_whose_polling_loses_the_server_stays_in_the_journal() {
    let r = rig(SimConfig {
        delay: Duration::from_secs(30),
        ..Default::default()
    });
    let (h, _) = r.start();
    h.send(Command::Submit {
        id: 31,
        spec: spec(ApiVersion::V2),
    });
    collect(&h, Duration::from_secs(10), |e| {
        matches!(
            e,
            Event::Stage {
                stage: Stage::Submitted { .. },
                ..
            }
        )
    });
    // The service goes away while the job runs on it.
    let Rig { rt, sim, dir } = r;
    sim.shutdown();
    let evs = collect(&h, Duration::from_secs(30), ended);
    let Some(Event::Failed { failure, .. }) = evs.last() else {
        panic!("{evs:?}")
    };
    assert!(failure.maybe_billed);
    assert!(
        failure.message.contains("fluxcn resume"),
        "{}",
        failure.message
    );
    drop(h);
    drop(rt);
    let (_, pending) = Journal::open(dir.path().join("journal.jsonl")).unwrap();
    assert_eq!(pending.len(), 1, "the paid job can still be fetched later");
    assert!(pending[0].request_id.is_some());
    assert!(
        pending[0]
            .api_base
            .as_deref()
            .is_some_and(|b| b.starts_with("http://127.0.0.1:"))
    );
}

#[test]
fn previews_fit_2048_on_the_long_side_whatever_the_format() {
    use fluxcn::jobs::decode_preview;
    // A large JPEG (decoded at a reduced scale, then resized exactly), a large PNG, a small one.
    let big = common::gradient(4096, 2048);
    let p = decode_preview(&common::jpeg(&big, 90)).unwrap();
    assert_eq!((p.width(), p.height()), (2048, 1024));
    // The picture survives the reduction: the gradient still runs left to right.
    assert!(p.get_pixel(2000, 500)[0] > p.get_pixel(40, 500)[0] + 200);
    let p = decode_preview(&common::png_of(&image::DynamicImage::ImageRgb8(
        common::gradient(3000, 1000),
    )))
    .unwrap();
    assert_eq!((p.width(), p.height()), (2048, 683));
    let p = decode_preview(&common::jpeg(&common::gradient(640, 480), 90)).unwrap();
    assert_eq!((p.width(), p.height()), (640, 480));
    assert!(decode_preview(b"\xFF\xD8 not a jpeg").is_none());
}

/// Two jobs of the very same settings at once, both submits' answers lost: a job asking once the
/// other has taken its request finds its own (a request another job of the process owns is never
/// taken); two asking at the same moment both see two candidates and list them, unguessed. Never
/// is one request saved for both, and nothing is submitted again.
#[test]
fn two_identical_jobs_whose_submits_were_lost_each_find_their_own_request() {
    let r = rig(SimConfig {
        delay: Duration::from_millis(600),
        ..Default::default()
    });
    r.sim.push_faults([Fault::Reset, Fault::Reset]);
    let ledger = Arc::new(jobs::ledger::Ledger::in_memory().unwrap());
    let (h, _) = r.start_with(Some(ledger.clone()));
    for id in [501, 502] {
        h.send(Command::Submit {
            id,
            spec: spec(ApiVersion::V2),
        });
    }
    let mut done = std::collections::BTreeMap::new();
    let mut failed = Vec::new();
    let end = Instant::now() + Duration::from_secs(30);
    while done.len() + failed.len() < 2 && Instant::now() < end {
        match h.recv_timeout(Duration::from_millis(50)) {
            Some(Event::Done { id, accounting, .. }) => {
                done.insert(id, accounting.request_id.clone().unwrap());
            }
            Some(Event::Failed { id, failure }) => failed.push((id, failure.message)),
            _ => {}
        }
    }
    assert_eq!(r.sim.stats().v2_submits, 2, "never submitted again");
    // Each saved job has its own request; one asked while both could be it is listed, not
    // guessed (then it stays "maybe billed").
    let ids: std::collections::BTreeSet<&String> = done.values().collect();
    assert_eq!(ids.len(), done.len(), "one request saved twice: {done:?}");
    for (_, m) in &failed {
        assert!(m.contains("2 requests of these settings"), "{m}");
    }
    assert_eq!(done.len() + failed.len(), 2, "both ended");
    let known = ledger.known_requests(0).unwrap();
    assert_eq!(known.len(), done.len(), "{known:?}");
}

fn prompt_spec(prompt: &str) -> JobSpec {
    let mut s = spec(ApiVersion::V1);
    s.params.prompt = prompt.into();
    s
}

/// The queue you steer (issue 26), through the channel seam: while paused nothing is sent; the
/// line goes in the order asked (a reorder, "Generate next", a replaced job in its place), one at
/// a time with one slot; "Cancel waiting" sends nothing of what waited.
#[test]
fn the_send_order_follows_the_line_as_paused_reordered_and_replaced() {
    let r = rig(SimConfig {
        delay: Duration::from_millis(30),
        ..Default::default()
    });
    let (h, _) = r.start();
    h.send(Command::Configure(RuntimeConfig {
        api_base: r.sim.base_url(),
        key: fluxcn::api::ApiKey::new(KEY),
        concurrency: 1,
        max_input_side: 2048,
        ..Default::default()
    }));
    h.send(Command::Pause);
    for (id, p) in [
        (601, "p1"),
        (602, "p2"),
        (603, "p3"),
        (604, "p4"),
        (605, "p5"),
    ] {
        h.send(Command::Submit {
            id,
            spec: prompt_spec(p),
        });
    }
    h.send(Command::SubmitNext {
        id: 606,
        spec: prompt_spec("urgent"),
    });
    h.send(Command::Replace {
        old: 603,
        id: 607,
        spec: prompt_spec("p3 edited"),
    });
    h.send(Command::Reorder(vec![604, 602]));
    // Wait for the runtime to say how the line stands, and check nothing went out while paused.
    let (mut lined_up, mut replaced) = (false, false);
    let evs = collect(&h, Duration::from_secs(5), |e| {
        lined_up |=
            matches!(e, Event::Lineup { waiting, .. } if waiting.len() == 6 && waiting[0] == 604);
        replaced |= matches!(e, Event::Cancelled { id: 603, .. });
        lined_up && replaced
    });
    let Some(Event::Lineup { paused, waiting }) =
        evs.iter().rev().find(|e| matches!(e, Event::Lineup { .. }))
    else {
        panic!("{evs:?}")
    };
    assert!(paused);
    assert_eq!(waiting, &[604, 602, 606, 601, 607, 605]);
    assert!(
        evs.iter().any(|e| matches!(
            e,
            Event::Cancelled {
                id: 603,
                maybe_billed: false
            }
        )),
        "the replaced job ends, unsent"
    );
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(r.sim.stats().v1_requests, 0, "nothing is sent while paused");
    h.send(Command::Resume);
    let mut done = 0;
    let end = Instant::now() + Duration::from_secs(30);
    while done < 6 && Instant::now() < end {
        if let Some(Event::Done { .. }) = h.recv_timeout(Duration::from_millis(50)) {
            done += 1;
        }
    }
    assert_eq!(done, 6);
    let sent: Vec<String> = r.sim.stats().v1_log.into_iter().map(|(p, _)| p).collect();
    assert_eq!(
        sent,
        ["p4", "p2", "urgent", "p1", "p3 edited", "p5"],
        "the order of the line"
    );

    // Cancel waiting: what waited is cancelled unsent.
    h.send(Command::Pause);
    for id in [611, 612] {
        h.send(Command::Submit {
            id,
            spec: prompt_spec("never"),
        });
    }
    h.send(Command::CancelWaiting);
    let mut cancelled = Vec::new();
    let evs = collect(&h, Duration::from_secs(5), |e| {
        if let Event::Cancelled { id, maybe_billed } = e {
            assert!(!maybe_billed, "never sent");
            cancelled.push(*id);
        }
        cancelled.len() == 2
    });
    cancelled.sort_unstable();
    assert_eq!(cancelled, [611, 612], "{evs:?}");
    h.send(Command::Resume);
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(
        r.sim.stats().v1_requests,
        6,
        "nothing of the cancelled line went"
    );
}

/// A pasted picture's job left waiting comes back after a restart: its bytes were kept beside the
/// waiting list, and the restored job sends exactly them once resumed.
#[test]
fn a_pasted_input_s_waiting_job_survives_a_restart_and_sends_the_same_bytes() {
    let r = rig(SimConfig {
        delay: Duration::from_millis(20),
        ..Default::default()
    });
    let list = r.dir.path().join(jobs::waiting::WAITING_FILE);
    let start = |r: &Rig| {
        let (journal, pending) = Journal::open(r.dir.path().join("journal.jsonl")).unwrap();
        let mut deps = RuntimeDeps::new(
            Store::open(r.dir.path().join("gallery")).unwrap(),
            KeyStore::in_memory(),
        );
        deps.journal = Some(Arc::new(journal));
        deps.recovered = pending;
        deps.waiting = Some(Arc::new(jobs::waiting::WaitingStore::open(&list).unwrap()));
        let cfg = RuntimeConfig {
            api_base: r.sim.base_url(),
            key: fluxcn::api::ApiKey::new(KEY),
            concurrency: 1,
            max_input_side: 2048,
            ..Default::default()
        };
        let h = jobs::start(r.rt.handle(), deps, cfg.clone(), Arc::new(|| {}));
        h.send(Command::Configure(cfg));
        h
    };
    let h = start(&r);
    h.send(Command::Pause);
    h.send(Command::Submit {
        id: 901,
        spec: spec(ApiVersion::V1),
    });
    collect(
        &h,
        Duration::from_secs(5),
        |e| matches!(e, Event::Lineup { waiting, .. } if waiting == &[901]),
    );
    drop(h);
    common::wait_unlocked(&list);
    let h = start(&r);
    let events = collect(&h, Duration::from_secs(5), |e| {
        matches!(e, Event::Restored { .. })
    });
    let restored = events
        .iter()
        .find_map(|e| match e {
            Event::Restored { jobs } => Some(jobs.clone()),
            _ => None,
        })
        .expect("the waiting job came back");
    assert_eq!(restored.len(), 1);
    let (id, back) = &restored[0];
    assert_eq!(*id, 901);
    let InputSource::Bytes { name, data } = &back.input else {
        panic!("back as pasted: {:?}", back.input);
    };
    assert_eq!(name, "figure.png", "under its own name");
    assert_eq!(data.as_slice(), sim::demo_input_png().as_slice());
    assert_eq!(r.sim.stats().v1_requests, 0, "restored paused");
    h.send(Command::Resume);
    collect(&h, Duration::from_secs(10), |e| {
        matches!(e, Event::Done { id: 901, .. })
    });
    use sha2::Digest as _;
    let want: String = sha2::Sha256::digest(sim::demo_input_png())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(
        r.sim.stats().received[0].image_sha256.as_deref(),
        Some(want.as_str())
    );
}
