//! Large results on screen (issue 14): four 4096×4096 results, in the Result tab's side by side and
//! in the Compare view. Prints, in one run:
//! - the work off the UI thread per result: decoding the 4096² JPEG and downscaling it to the
//!   preview (`jobs::decode_preview`, what the runtime does before reporting a result);
//! - a result's arrival → drawn: from the `Done` event to the end of the first frame that shows it
//!   (the texture made from the preview);
//! - UI frame time (p50 / p99 / max) with the four results on screen while panning and zooming;
//! - peak RSS of the process.
//!
//! Run: `cargo bench --bench big_results`. Targets: frame p99 ≤ 4 ms, peak RSS ≤ 600 MB, arrival →
//! drawn ≤ 150 ms.
// A benchmark harness: a failed unwrap is a failed run, reported at once.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::peak_rss_mb;

use egui::accesskit::Role;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use fluxcn::api::{Accounting, GenParams};
use fluxcn::jobs::{
    ApiVersion, Command, Event, InputSource, JobSpec, JobsHandle, RuntimeConfig, SavedImage,
    Services, decode_preview,
};
use fluxcn::ui::{FluxApp, LaunchOptions, State};

const SIDE: u32 = 4096;

fn pct(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// A 4096² JPEG that compresses like a photo (a gradient with a pattern), different per `k`.
fn big_jpeg(k: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(SIDE, SIDE, |x, y| {
        image::Rgb([
            ((x + k * 40) % 256) as u8,
            ((y / 2 + k * 90) % 256) as u8,
            (((x ^ y) >> 4) % 256) as u8,
        ])
    });
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 90)
        .encode_image(&img)
        .unwrap();
    out
}

fn spec(prompt: &str) -> JobSpec {
    JobSpec {
        input: InputSource::Url("https://example.com/a.png".into()),
        params: GenParams {
            prompt: prompt.into(),
            ..Default::default()
        },
        api: ApiVersion::V1,
        group: None,
        prompt_template: None,
        batch: None,
        framing: Default::default(),
    }
}

fn done(id: u64, preview: &Arc<image::RgbaImage>) -> Event {
    Event::Done {
        id,
        images: vec![SavedImage {
            path: format!("/tmp/big-{id}.jpg").into(),
            sidecar: format!("/tmp/big-{id}.json").into(),
            width: SIDE,
            height: SIDE,
            seed: id as i64,
            preview: Some(preview.clone()),
        }],
        accounting: Accounting::default(),
    }
}

/// Frames while panning and zooming over what is on screen.
fn frames(h: &mut Harness<'static, FluxApp>, n: usize) -> Vec<Duration> {
    let mut out = Vec::with_capacity(n);
    h.event(egui::Event::PointerMoved(egui::pos2(700.0, 450.0)));
    for f in 0..n {
        let e = if f % 2 == 0 {
            egui::Event::MouseWheel {
                unit: egui::MouseWheelUnit::Point,
                delta: egui::vec2(0.0, if f % 40 < 20 { 30.0 } else { -30.0 }),
                phase: egui::TouchPhase::Move,
                source: egui::MouseWheelSource::Wheel,
                modifiers: egui::Modifiers::COMMAND,
            }
        } else {
            egui::Event::PointerMoved(egui::pos2(700.0 + (f % 50) as f32, 450.0))
        };
        h.event(e);
        let t = Instant::now();
        h.step();
        out.push(t.elapsed());
    }
    out.sort();
    out
}

fn row(what: &str, f: &[Duration]) {
    println!(
        "| {what}: frame p50 / p99 / max | {:.2} / **{:.2}** / {:.2} ms | p99 ≤ 4 ms |",
        ms(pct(f, 0.5)),
        ms(pct(f, 0.99)),
        ms(f[f.len() - 1])
    );
}

fn main() {
    // Off the UI thread: decode and downscale each result once (the runtime's job).
    let jpegs: Vec<Vec<u8>> = (0..4).map(big_jpeg).collect();
    let mut decode = Vec::new();
    let mut previews = Vec::new();
    for j in &jpegs {
        let t = Instant::now();
        let p = decode_preview(j).unwrap();
        decode.push(t.elapsed());
        previews.push(Arc::new(p));
    }
    drop(jpegs);
    decode.sort();

    let (cmd_tx, mut cmd_rx) = tokio::sync::mpsc::unbounded_channel::<Command>();
    let (ev_tx, ev_rx) = std::sync::mpsc::channel::<Event>();
    let (services, _inbox) = Services::manual();
    let jobs = JobsHandle::from_channels(cmd_tx, ev_rx, services);
    let opts = LaunchOptions {
        demo: true,
        autogenerate: false,
        initial: RuntimeConfig::default(),
        demo_input: None,
    };
    let mut h = Harness::builder()
        .with_size(egui::vec2(1400.0, 900.0))
        .build_eframe(move |_| {
            // A prompt and an input, so that the Compare view can send its cells.
            let mut state = State::default();
            state.params.prompt = "a knight".into();
            state.input = Some(InputSource::Url("https://example.com/a.png".into()));
            FluxApp::with_state(state, opts, jobs)
        });
    h.run_steps(2);

    // The Result tab: four results arrive one by one; each is measured from its event to the end
    // of the frame that draws it.
    let mut arrival = Vec::new();
    for (i, p) in previews.iter().enumerate() {
        let id = i as u64 + 1;
        ev_tx
            .send(Event::Recovered {
                id,
                spec: Box::new(spec(&format!("result {id}"))),
                request_id: None,
            })
            .unwrap();
        h.step();
        let t = Instant::now();
        ev_tx.send(done(id, p)).unwrap();
        h.step();
        arrival.push(t.elapsed());
    }
    arrival.sort();
    // Side by side with the previous result (the C key).
    h.key_press(egui::Key::C);
    h.step();
    let result_frames = frames(&mut h, 300);

    // The Compare view: four control types of one setting, each cell one of the big results.
    h.get_by_label("Compare").click();
    h.run_steps(2);
    for t in ["pose", "depth", "canny", "tile"] {
        h.get_by_role_and_label(Role::CheckBox, t).click();
        h.run_steps(1);
    }
    while cmd_rx.try_recv().is_ok() {}
    h.key_press(egui::Key::Escape);
    h.step();
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::Enter);
    h.run_steps(2);
    let mut ids = Vec::new();
    while let Ok(c) = cmd_rx.try_recv() {
        if let Command::Submit { id, .. } = c {
            ids.push(id);
        }
    }
    assert_eq!(ids.len(), 4, "the comparison's four cells were sent");
    let mut cell_arrival = Vec::new();
    for (id, p) in ids.iter().zip(&previews) {
        let t = Instant::now();
        ev_tx.send(done(*id, p)).unwrap();
        h.step();
        cell_arrival.push(t.elapsed());
    }
    cell_arrival.sort();
    let compare_frames = frames(&mut h, 300);

    println!("| figure (four {SIDE}×{SIDE} results) | measured | target |");
    println!("|---|---|---|");
    println!(
        "| off the UI thread: decode + downscale to the preview, per result (median) | {:.0} ms | – |",
        ms(pct(&decode, 0.5))
    );
    println!(
        "| Result tab: arrival → drawn (worst of 4) | **{:.1} ms** (+ the decode above, off the UI thread) | ≤ 150 ms |",
        ms(arrival[arrival.len() - 1])
    );
    row("Result tab, side by side", &result_frames);
    println!(
        "| Compare view: arrival → drawn (worst of 4) | **{:.1} ms** | ≤ 150 ms |",
        ms(cell_arrival[cell_arrival.len() - 1])
    );
    row("Compare view, 4 cells", &compare_frames);
    println!(
        "| peak RSS of the process (4 decoded previews, 8 textures, the app) | **{:.0} MB** | ≤ 600 MB |",
        peak_rss_mb()
    );
}
