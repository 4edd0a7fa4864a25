//! The workbench's figures (issue 26), measured side by side in one run: the whole app
//! (`FluxApp`) driven headless by egui_kittest with a stand-in runtime (`JobsHandle` channels)
//! and stand-in services.
//!
//! 1. The queue with 200 jobs waiting: the frame cost while it stands, and of the frame that
//!    takes a reordered line (the runtime's `Lineup` with the order reversed), against the same
//!    app with an empty queue.
//! 2. Framing a 24 MP input: the frame cost while its preview is turned, held to an aspect and
//!    its crop dragged, against the same preview unframed; and, off the UI thread, the time to
//!    make the preview and to prepare the framed input for sending.
//!
//! Each figure prints p50, p99 and max of a full frame (the app's UI code plus egui's layout and
//! tessellation). Run: `cargo bench --bench workbench`. Target: no frame over 16 ms.
// A benchmark harness: a failed unwrap is a failed run, reported at once.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use fluxcn::api::GenParams;
use fluxcn::jobs::services::Request;
use fluxcn::jobs::{
    ApiVersion, Command, Event, InputSource, JobSpec, JobsHandle, RuntimeConfig, Services,
};
use fluxcn::types::InputPreview;
use fluxcn::ui::{FluxApp, LaunchOptions, State};

struct Rig {
    h: Harness<'static, FluxApp>,
    ev: std::sync::mpsc::Sender<Event>,
    cmds: tokio::sync::mpsc::UnboundedReceiver<Command>,
    inbox: std::sync::mpsc::Receiver<Request>,
    held: Vec<Request>,
}

fn rig(state: State) -> Rig {
    let (cmd_tx, cmds) = tokio::sync::mpsc::unbounded_channel::<Command>();
    let (ev, ev_rx) = std::sync::mpsc::channel::<Event>();
    let (services, inbox) = Services::manual();
    let jobs = JobsHandle::from_channels(cmd_tx, ev_rx, services);
    let opts = LaunchOptions {
        demo: true,
        autogenerate: false,
        initial: RuntimeConfig::default(),
        demo_input: None,
    };
    let h = Harness::builder()
        .with_size(egui::vec2(1400.0, 900.0))
        .build_eframe(move |_| FluxApp::with_state(state, opts, jobs));
    Rig {
        h,
        ev,
        cmds,
        inbox,
        held: Vec::new(),
    }
}

impl Rig {
    /// One frame, timed; the runtime's commands drained, the services' requests held.
    fn frame(&mut self) -> Duration {
        while self.cmds.try_recv().is_ok() {}
        self.held.extend(self.inbox.try_iter());
        let t = Instant::now();
        self.h.step();
        t.elapsed()
    }

    fn frames(&mut self, n: usize, mut before: impl FnMut(&mut Rig, usize)) -> Vec<Duration> {
        let mut out = Vec::with_capacity(n);
        for i in 0..n {
            before(self, i);
            out.push(self.frame());
        }
        out.sort();
        out
    }
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn row(what: &str, f: &[Duration], base: &[Duration]) {
    println!(
        "| {what} | {:.2} ms | {:.2} ms | {:.2} ms | {:.2}× |",
        ms(pct(f, 0.5)),
        ms(pct(f, 0.99)),
        ms(f[f.len() - 1]),
        pct(f, 0.5).as_secs_f64() / pct(base, 0.5).as_secs_f64().max(1e-9)
    );
}

fn queue_figures() {
    let mut r = rig(State::default());
    r.h.run_steps(3);
    let empty = r.frames(120, |_, _| {});
    let spec = JobSpec {
        input: InputSource::Url("https://example.com/a.png".into()),
        params: GenParams {
            prompt: "a castle on a hill at dawn, wide shot".into(),
            ..Default::default()
        },
        api: ApiVersion::V2,
        group: None,
        prompt_template: None,
        batch: None,
        framing: Default::default(),
    };
    let ids: Vec<u64> = (1..=200).collect();
    r.ev.send(Event::Restored {
        jobs: ids.iter().map(|id| (*id, spec.clone())).collect(),
    })
    .unwrap();
    r.ev.send(Event::Lineup {
        paused: true,
        waiting: ids.clone(),
    })
    .unwrap();
    r.h.run_steps(3);
    let standing = r.frames(120, |_, _| {});
    let reordering = r.frames(120, |r, i| {
        let mut order = ids.clone();
        if i % 2 == 0 {
            order.reverse();
        } else {
            order.rotate_left(i % 200);
        }
        r.ev.send(Event::Lineup {
            paused: true,
            waiting: order,
        })
        .unwrap();
    });
    println!("\n200 jobs waiting (1400×900):\n");
    println!("| frame | p50 | p99 | max | p50 vs empty queue |");
    println!("| --- | --- | --- | --- | --- |");
    row("empty queue", &empty, &empty);
    row("200 waiting, standing", &standing, &empty);
    row("200 waiting, each frame a new order", &reordering, &empty);
}

fn framing_figures() {
    // A 24 MP photo (6000 × 4000), as a JPEG file.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("photo-24mp.jpg");
    let img = image::RgbImage::from_fn(6000, 4000, |x, y| {
        image::Rgb([(x / 24) as u8, (y / 16) as u8, ((x + y) / 40) as u8])
    });
    img.save(&path).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    let t = Instant::now();
    let preview = fluxcn::jobs::decode_preview(&bytes).expect("a preview");
    let preview_time = t.elapsed();
    let source = InputSource::File(path.clone());
    let state = State {
        input: Some(source.clone()),
        params: GenParams {
            prompt: "a fox".into(),
            ..Default::default()
        },
        ..Default::default()
    };
    let mut r = rig(state);
    r.h.run_steps(2);
    // The services answer the preview request as the real one would.
    r.held.extend(r.inbox.try_iter());
    let mut answered = false;
    for q in std::mem::take(&mut r.held) {
        match q {
            Request::LoadInput { reply, .. } => {
                answered = true;
                drop(reply.send(Ok(InputPreview {
                    source: source.clone(),
                    image: Arc::new(preview.clone()),
                    width: 6000,
                    height: 4000,
                    bytes: bytes.len() as u64,
                })));
            }
            other => r.held.push(other),
        }
    }
    assert!(answered, "the app asked for the preview");
    r.h.run_steps(3);
    let unframed = r.frames(120, |_, _| {});
    r.h.get_by_label("Frame: turn, flip, crop, pad").click();
    r.h.run_steps(2);
    r.h.get_by_label("Turn 90°").click();
    r.h.run_steps(2);
    r.h.get_by_label("Aspect").click();
    r.h.run_steps(2);
    r.h.get_by_label("3:4").click();
    r.h.run_steps(2);
    let framed = r.frames(120, |_, _| {});
    // A crop corner dragged back and forth.
    let p = r.h.get_by_label("Input preview: drag to crop").rect();
    let corner = egui::pos2(p.right() - 3.0, p.bottom() - 3.0);
    r.h.hover_at(corner);
    r.h.run_steps(1);
    r.h.drag_at(corner);
    r.h.run_steps(1);
    let dragging = r.frames(120, |r, i| {
        let k = (i % 40) as f32;
        let d = if k < 20.0 { k } else { 40.0 - k };
        r.h.hover_at(corner - egui::vec2(d * 3.0, d * 2.0));
    });
    r.h.drop_at(corner);
    // Off the UI thread: the framed input prepared for sending, against the same file unframed.
    let time_prep = |framing| {
        let opts = fluxcn::api::input::PrepareOptions {
            framing,
            ..Default::default()
        };
        let t = Instant::now();
        let p = fluxcn::api::input::prepare(&source, &opts).unwrap();
        (t.elapsed(), p.width, p.height)
    };
    let (plain, pw, ph) = time_prep(Default::default());
    let framing = r.h.state().input_framing().expect("the input's framing");
    let (framed_prep, fw, fh) = time_prep(framing);
    println!("\nA 24 MP input (6000 × 4000 JPEG), framed in the window (1400×900):\n");
    println!("| frame | p50 | p99 | max | p50 vs unframed |");
    println!("| --- | --- | --- | --- | --- |");
    row("preview unframed", &unframed, &unframed);
    row("turned, held to 3:4", &framed, &unframed);
    row("crop corner dragged", &dragging, &unframed);
    println!(
        "\nOff the UI thread: the preview made in {:.0} ms; prepared for sending unframed ({pw} × {ph}) in {:.0} ms, framed ({fw} × {fh}) in {:.0} ms ({:.2}×).",
        ms(preview_time),
        ms(plain),
        ms(framed_prep),
        framed_prep.as_secs_f64() / plain.as_secs_f64().max(1e-9)
    );
}

fn main() {
    // `cargo bench` passes `--bench`; any other argument is ignored.
    queue_figures();
    framing_figures();
}
