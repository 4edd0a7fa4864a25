//! Hardening of the client's v2 flow as the job runtime sees it, against a hostile loopback
//! service: a finished job whose output file answers 404 stays in the journal (and a later resume
//! saves it once the file is there), and a status poll told to wait a day stops at the job's
//! deadline with the job still in the journal and a message that says how to resume it.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::http::{Response, StatusCode};
use axum::routing::{MethodRouter, get, post};
use fluxcn::api::{ClientConfig, GenParams};
use fluxcn::gallery::Store;
use fluxcn::jobs::journal::{Journal, JournalJob};
use fluxcn::jobs::{
    self, ApiVersion, Command, Event, InputSource, JobFailure, JobSpec, JobsHandle, RuntimeConfig,
    RuntimeDeps,
};
use fluxcn::keystore::KeyStore;

const KEY: &str = "SG_0ddba11c0ddba11c";

/// A PNG of `w`×`h` (the input must be at least 64 px on each side).
fn png_of(w: u32, h: u32) -> Vec<u8> {
    let img = image::RgbImage::from_pixel(w, h, image::Rgb([200, 100, 0]));
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

fn json(status: u16, v: serde_json::Value) -> Response<Body> {
    Response::builder()
        .status(StatusCode::from_u16(status).unwrap())
        .header("content-type", "application/json")
        .body(Body::from(v.to_string()))
        .unwrap()
}

/// What the hostile service saw, and the switch that makes the output file appear.
#[derive(Default)]
struct Seen {
    submits: AtomicUsize,
    downloads: AtomicUsize,
    file_ready: AtomicBool,
}

/// A v2 service on its own runtime (it outlives the job runtimes): submit accepts `job-5`,
/// `status` answers the polls, the result points to `/files/job-5.png`, which answers 404 until
/// `file_ready`.
fn service(rt: &tokio::runtime::Runtime, status: MethodRouter) -> (SocketAddr, Arc<Seen>) {
    let seen = Arc::new(Seen::default());
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let (s1, s2) = (seen.clone(), seen.clone());
    let app = Router::new()
        .route(
            "/v2/flux-controlnet",
            post(move || {
                s1.submits.fetch_add(1, Ordering::SeqCst);
                async { json(200, serde_json::json!({"request_id": "job-5"})) }
            }),
        )
        .route("/v2/requests/{id}/status", status)
        .route(
            "/v2/requests/{id}",
            get(move || async move {
                let output = format!("http://{addr}/files/job-5.png");
                json(
                    200,
                    serde_json::json!({"status": "COMPLETED", "output": output}),
                )
            }),
        )
        .route(
            "/files/{name}",
            get(move || async move {
                s2.downloads.fetch_add(1, Ordering::SeqCst);
                if s2.file_ready.load(Ordering::SeqCst) {
                    Response::builder()
                        .header("content-type", "image/png")
                        .body(Body::from(png_of(24, 16)))
                        .unwrap()
                } else {
                    json(404, serde_json::json!({"error": "NoSuchKey"}))
                }
            }),
        );
    rt.spawn(async move { axum::serve(listener, app).await.unwrap() });
    (addr, seen)
}

/// Starts a job runtime on `rt` with the journal and gallery under `dir`; returns the handle and
/// the jobs it recovered.
fn start(
    rt: &tokio::runtime::Runtime,
    dir: &Path,
    addr: SocketAddr,
    v2_deadline: Duration,
) -> (JobsHandle, Vec<JournalJob>) {
    start_with(rt, dir, addr, v2_deadline, None)
}

fn start_with(
    rt: &tokio::runtime::Runtime,
    dir: &Path,
    addr: SocketAddr,
    v2_deadline: Duration,
    ledger: Option<Arc<fluxcn::jobs::ledger::Ledger>>,
) -> (JobsHandle, Vec<JournalJob>) {
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
            v2_deadline,
            ..Default::default()
        },
        ledger,
        waiting: None,
    };
    let cfg = RuntimeConfig {
        api_base: format!("http://{addr}/v1"),
        key: fluxcn::api::ApiKey::new(KEY),
        concurrency: 2,
        rate_per_minute: None,
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
            name: "in.png".into(),
            data: Arc::new(png_of(96, 80)),
        },
        params: GenParams {
            prompt: "a lantern".into(),
            seed: 3,
            ..Default::default()
        },
        api: ApiVersion::V2,
        group: None,
        prompt_template: None,
        batch: None,
        framing: Default::default(),
    }
}

/// The first event that ends job `id`, within `timeout`.
fn end_of(h: &JobsHandle, id: u64, timeout: Duration) -> Option<Event> {
    let end = Instant::now() + timeout;
    while Instant::now() < end {
        match h.recv_timeout(Duration::from_millis(50)) {
            Some(e @ (Event::Done { .. } | Event::Failed { .. } | Event::Cancelled { .. }))
                if event_id(&e) == id =>
            {
                return Some(e);
            }
            _ => {}
        }
    }
    None
}

fn event_id(e: &Event) -> u64 {
    match e {
        Event::Done { id, .. } | Event::Failed { id, .. } | Event::Cancelled { id, .. } => *id,
        _ => u64::MAX,
    }
}

fn failure(e: Option<Event>) -> JobFailure {
    match e {
        Some(Event::Failed { failure, .. }) => failure,
        other => panic!("expected a failure, got {other:?}"),
    }
}

/// The jobs left in the journal once the runtime is gone.
fn pending_after(h: JobsHandle, rt: tokio::runtime::Runtime, dir: &Path) -> Vec<JournalJob> {
    drop(h);
    drop(rt);
    let (_, pending) = Journal::open(dir.join("journal.jsonl")).unwrap();
    pending
}

#[test]
fn a_finished_job_whose_file_is_not_there_yet_stays_journaled_until_it_is_saved() {
    let server_rt = crate::common::rt();
    let completed = get(|| async { json(200, serde_json::json!({"status": "COMPLETED"})) });
    let (addr, seen) = service(&server_rt, completed);
    let dir = tempfile::tempdir().unwrap();

    let rt = crate::common::rt();
    let (h, _) = start(&rt, dir.path(), addr, Duration::from_secs(3600));
    h.send(Command::Submit {
        id: 51,
        spec: spec(),
    });
    let f = failure(end_of(&h, 51, Duration::from_secs(30)));
    assert!(f.maybe_billed, "{f:?}");
    assert!(f.message.contains("fluxcn resume"), "{}", f.message);
    assert!(f.message.contains("journal"), "{}", f.message);
    assert!(
        !f.message.contains("Check the API base URL"),
        "a 404 of the file host is not a wrong base URL: {}",
        f.message
    );
    let pending = pending_after(h, rt, dir.path());
    assert_eq!(
        pending.len(),
        1,
        "the paid job was dropped from the journal"
    );
    assert_eq!(pending[0].request_id.as_deref(), Some("job-5"));

    // The file appears: a resume saves the job without submitting it again.
    seen.file_ready.store(true, Ordering::SeqCst);
    let rt = crate::common::rt();
    let (h, recovered) = start(&rt, dir.path(), addr, Duration::from_secs(3600));
    assert_eq!(recovered.len(), 1);
    match end_of(&h, 51, Duration::from_secs(30)) {
        Some(Event::Done { images, .. }) => {
            assert_eq!(images.len(), 1);
            assert!(images[0].path.is_file());
        }
        other => panic!("the resume did not save the job: {other:?}"),
    }
    assert!(pending_after(h, rt, dir.path()).is_empty());
    assert_eq!(
        seen.submits.load(Ordering::SeqCst),
        1,
        "never submitted twice"
    );
    assert_eq!(seen.downloads.load(Ordering::SeqCst), 2);
}

#[test]
fn a_poll_told_to_wait_a_day_stops_at_the_deadline_and_the_job_stays_journaled() {
    let server_rt = crate::common::rt();
    let day = get(|| async {
        let mut r = json(429, serde_json::json!({"error": "Too many requests"}));
        r.headers_mut()
            .insert("retry-after", "86400".parse().unwrap());
        r
    });
    let (addr, seen) = service(&server_rt, day);
    let dir = tempfile::tempdir().unwrap();
    let rt = crate::common::rt();
    // The job's usual hour: the day-long wait cannot fit, so polling stops at once (it used to
    // poll every two minutes for the hour, saying "try again then" while it retried).
    let (h, _) = start(&rt, dir.path(), addr, Duration::from_secs(3600));
    let started = Instant::now();
    h.send(Command::Submit {
        id: 61,
        spec: spec(),
    });
    let f = failure(end_of(&h, 61, Duration::from_secs(30)));
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert!(f.maybe_billed, "{f:?}");
    assert!(f.message.contains("asks to wait 1 day"), "{}", f.message);
    assert!(
        f.message.contains("`fluxcn resume`") && f.message.contains("within that hour"),
        "{}",
        f.message
    );
    assert!(!f.message.contains("try again then"), "{}", f.message);
    let pending = pending_after(h, rt, dir.path());
    assert_eq!(pending.len(), 1, "the job left the journal");
    assert_eq!(seen.submits.load(Ordering::SeqCst), 1);
}

/// An answer with fewer images than it billed (three samples asked, one output listed): the one
/// that came is saved, the shortfall is said in a notice, and the ledger keeps what was paid for
/// beside what arrived.
#[test]
fn fewer_images_than_were_paid_for_are_said_and_recorded() {
    let server_rt = crate::common::rt();
    let done = get(|| async { json(200, serde_json::json!({"status": "COMPLETED"})) });
    let (addr, seen) = service(&server_rt, done);
    seen.file_ready.store(true, Ordering::SeqCst);
    let dir = tempfile::tempdir().unwrap();
    let ledger =
        Arc::new(fluxcn::jobs::ledger::Ledger::open(dir.path().join("ledger.sqlite")).unwrap());
    let rt = crate::common::rt();
    let (h, _) = start_with(
        &rt,
        dir.path(),
        addr,
        Duration::from_secs(60),
        Some(ledger.clone()),
    );
    let mut three = spec();
    three.params.samples = 3;
    h.send(Command::Submit {
        id: 71,
        spec: three,
    });
    let end = Instant::now() + Duration::from_secs(20);
    let (mut notice, mut images) = (None, None);
    while Instant::now() < end && images.is_none() {
        match h.recv_timeout(Duration::from_millis(50)) {
            Some(Event::Notice(n)) => notice = Some(n),
            Some(Event::Done {
                id: 71, images: i, ..
            }) => images = Some(i.len()),
            Some(Event::Failed { id: 71, failure }) => panic!("{failure:?}"),
            _ => {}
        }
    }
    assert_eq!(images, Some(1));
    let notice = notice.expect("no notice of the images that did not arrive");
    assert!(
        notice.contains("3 images were paid for and 1 arrived"),
        "{notice}"
    );
    let spend = ledger.spend(chrono::Local::now(), 1).unwrap();
    assert_eq!((spend.images, spend.lost_images), (1, 2));
}
