//! UI frame cost with a large gallery: the whole app (`FluxApp`) driven headless by egui_kittest
//! with a stand-in runtime and stand-in services (`Services::manual()`) that answer the gallery
//! listing and thumbnail requests at once, 4 jobs in flight, and the Gallery tab scrolling. Prints, per gallery size: per-frame CPU time (p50, p99, max) of a full
//! frame (the app's UI code plus egui's layout and tessellation; an upper bound for the app's own
//! code), time to the first frame with the gallery shown, and peak RSS of the process.
//!
//! Each size runs in a fresh child process so that peak RSS belongs to that size alone.
//! Run: `cargo bench --bench ui_frames`. Targets: p99 ≤ 4 ms, first frame ≤ 1.5× the empty one,
//! RSS ≤ 300 MB at 1 000 images.
// A benchmark harness: a failed unwrap is a failed run, reported at once.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::peak_rss_mb;

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use fluxcn::api::{CnType, GenParams};
use fluxcn::gallery::catalog::Row;
use fluxcn::jobs::services::{Found, Listing, Request};
use fluxcn::jobs::{
    ApiVersion, Command, Event, InputSource, JobSpec, JobsHandle, RuntimeConfig, Services, Stage,
};
use fluxcn::ui::{FluxApp, LaunchOptions, State};

/// One row of the listing the catalog answers with.
fn row(i: usize) -> Row {
    Row {
        id: format!("{}-pose-{i}", 1_700_000_000_000u64 - i as u64),
        file: format!("{}-pose-{i}.jpg", 1_700_000_000_000u64 - i as u64),
        created_unix_ms: 1_700_000_000_000 - i as u64,
        cn_type: CnType::ALL[i % 4].as_str().to_owned(),
        seed_used: i as i64,
        favourite: false,
        rating: 0,
        prompt: format!("prompt number {i}, a castle on a hill"),
    }
}

/// Answers the gallery's requests waiting in `inbox` at once, as a warm cache would: the listing with
/// `entries`, every thumbnail with `thumb`. Other requests are kept unanswered in `held` (the app
/// sees them as waiting, as with the old stand-in runtime that ignored them).
fn answer(
    inbox: &std::sync::mpsc::Receiver<Request>,
    entries: &Listing,
    thumb: &Arc<image::RgbaImage>,
    held: &mut Vec<Request>,
) {
    for r in inbox.try_iter() {
        match r {
            Request::GalleryList { reply, .. } => drop(reply.send(Ok(entries.clone()))),
            Request::Thumbnail { reply, .. } => drop(reply.send(Ok(thumb.clone()))),
            other => held.push(other),
        }
    }
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// One size, in this process: prints a table row.
fn run(n: usize) {
    let (cmd_tx, mut cmd_rx) = tokio::sync::mpsc::unbounded_channel::<Command>();
    let (ev_tx, ev_rx) = std::sync::mpsc::channel::<Event>();
    let (services, inbox) = Services::manual();
    let jobs = JobsHandle::from_channels(cmd_tx, ev_rx, services);
    let opts = LaunchOptions {
        demo: true,
        autogenerate: false,
        initial: RuntimeConfig::default(),
        demo_input: None,
    };
    // The listing as the services would answer it (made before the clock starts: it is the store's
    // work), and the thumbnail every request gets.
    let entries: Listing = Arc::new(Found {
        rows: (0..n).map(row).collect(),
        total: n,
    });
    let thumb = Arc::new(image::RgbaImage::from_pixel(
        256,
        256,
        image::Rgba([90, 120, 200, 255]),
    ));
    let mut held = Vec::new();
    let started = Instant::now();
    let mut h = Harness::builder()
        .with_size(egui::vec2(1400.0, 900.0))
        .build_eframe(move |_| FluxApp::with_state(State::default(), opts, jobs));
    h.run_steps(1);
    h.get_by_label("Gallery").click();
    // The frame with the click asks for the listing; it is answered at once, and the next frame
    // shows the gallery.
    h.run_steps(1);
    answer(&inbox, &entries, &thumb, &mut held);
    h.run_steps(1);
    let first = started.elapsed();
    // Four jobs in flight.
    let spec = JobSpec {
        input: InputSource::Url("https://example.com/a.png".into()),
        params: GenParams {
            prompt: "x".into(),
            ..Default::default()
        },
        api: ApiVersion::V1,
        group: None,
        prompt_template: None,
        batch: None,
        framing: Default::default(),
    };
    for id in 1..=4u64 {
        ev_tx
            .send(Event::Recovered {
                id,
                spec: Box::new(spec.clone()),
                request_id: None,
            })
            .ok();
        ev_tx
            .send(Event::Stage {
                id,
                stage: Stage::Waiting,
            })
            .ok();
    }
    let mut frames = Vec::new();
    for f in 0..300 {
        // Answer every thumbnail request at once, as a warm cache would (job commands are
        // drained and ignored, as before).
        while cmd_rx.try_recv().is_ok() {}
        answer(&inbox, &entries, &thumb, &mut held);
        if f % 3 == 0 {
            // Scroll down through the grid.
            h.event(egui::Event::MouseWheel {
                unit: egui::MouseWheelUnit::Point,
                delta: egui::vec2(0.0, -120.0),
                phase: egui::TouchPhase::Move,
                source: egui::MouseWheelSource::Wheel,
                modifiers: Default::default(),
            });
        }
        let t = Instant::now();
        h.step();
        frames.push(t.elapsed());
    }
    frames.sort();
    println!(
        "| {n} | {:.2} ms | {:.2} ms | {:.2} ms | {:.0} ms | {:.0} MB |",
        pct(&frames, 0.5).as_secs_f64() * 1e3,
        pct(&frames, 0.99).as_secs_f64() * 1e3,
        frames[frames.len() - 1].as_secs_f64() * 1e3,
        first.as_secs_f64() * 1e3,
        peak_rss_mb()
    );
}

fn main() {
    if let Some(n) = std::env::args()
        .nth(1)
        .and_then(|a| a.parse::<usize>().ok())
    {
        run(n);
        return;
    }
    println!("| gallery images | frame p50 | frame p99 | frame max | first frame | peak RSS |");
    println!("|---|---|---|---|---|---|");
    let exe = std::env::current_exe().expect("own path");
    for n in [0usize, 1_000, 10_000] {
        let out = std::process::Command::new(&exe)
            .arg(n.to_string())
            .output()
            .expect("run one size");
        print!("{}", String::from_utf8_lossy(&out.stdout));
        if !out.status.success() {
            eprintln!("{}", String::from_utf8_lossy(&out.stderr));
        }
    }
}
