//! The whole window holds its shape (issue 13): the app (`FluxApp`) driven headless with
//! egui_kittest at 900×600 and at 1920×1080, the test standing in for the job runtime and the
//! services. In three situations (one generation done, a 12-cell X/Y grid running, a job retrying
//! with a 300-character reason) the tabs, Generate, the queue's heading and every detail of the
//! result (each field row, size, cost, time, the 16-digit seed) are on screen, inside the window,
//! inside their own panel, and drawn whole (no label cut to an ellipsis), and the central area keeps
//! a fair share of the width.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use egui::accesskit::Role;
use egui::{FontId, Rect, Vec2, pos2, vec2};
use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT, Queryable};
use fluxcn::api::{Accounting, GenParams};
use fluxcn::jobs::services::Request;
use fluxcn::jobs::{
    Command, Event, InputPreview, InputSource, JobId, JobSpec, JobsHandle, KeyState, RuntimeConfig,
    SavedImage, Services, Stage,
};
use fluxcn::ui::{FluxApp, LaunchOptions, State};
use tokio::sync::mpsc::UnboundedReceiver;

/// The smallest window the issue asks to hold its shape, and a large desktop one.
const SMALL: Vec2 = vec2(900.0, 600.0);
const LARGE: Vec2 = vec2(1920.0, 1080.0);
/// The largest seed the service takes (2^53 − 1): 16 digits.
const LONG_SEED: i64 = 9_007_199_254_740_991;
const PROMPT: &str = "a knight in shining armour standing in a misty forest at dawn, film photo";
const INPUT_URL: &str = "https://example.com/pose.jpg";
/// A panel's inner margin: content this far from a panel's edge is still inside it.
const PANEL_MARGIN: f32 = 8.0;

/// The test's end of the runtime's channels and of the services' inbox.
struct FakeRuntime {
    commands: UnboundedReceiver<Command>,
    events: std::sync::mpsc::Sender<Event>,
    requests: std::sync::mpsc::Receiver<Request>,
    /// Requests not answered: kept, so the window sees them as waiting (not as a stopped worker).
    unanswered: Vec<Request>,
}

impl FakeRuntime {
    fn submitted(&mut self) -> Vec<(JobId, JobSpec)> {
        let mut out = Vec::new();
        while let Ok(c) = self.commands.try_recv() {
            if let Command::Submit { id, spec } = c {
                out.push((id, spec));
            }
        }
        out
    }

    fn feed(&self, e: Event) {
        self.events.send(e).unwrap();
    }

    /// Answers the key's state and the input's preview as the runtime would; keeps the rest.
    fn answer_start(&mut self) {
        for r in self.requests.try_iter() {
            match r {
                Request::KeyState { reply } => {
                    let _ = reply.send(KeyState::Stored {
                        masked: "SG_…cdef".into(),
                    });
                }
                Request::LoadInput { source, reply } => {
                    let _ = reply.send(Ok(InputPreview {
                        source,
                        image: Arc::new(image::RgbaImage::from_pixel(
                            160,
                            120,
                            image::Rgba([90, 90, 90, 255]),
                        )),
                        width: 1600,
                        height: 1200,
                        bytes: 812_345,
                    }));
                }
                other => self.unanswered.push(other),
            }
        }
    }
}

/// The app at `size`, with an input and a prompt ready (Generate is enabled at once).
fn start(size: Vec2) -> (Harness<'static, FluxApp>, FakeRuntime) {
    let mut state = State::default();
    state.params.prompt = PROMPT.into();
    state.input = Some(InputSource::Url(INPUT_URL.into()));
    let opts = LaunchOptions {
        demo: false,
        autogenerate: false,
        initial: RuntimeConfig::default(),
        demo_input: None,
    };
    let (cmd_tx, cmd_rx) = tokio::sync::mpsc::unbounded_channel();
    let (ev_tx, ev_rx) = std::sync::mpsc::channel();
    let (services, requests) = Services::manual();
    let app = FluxApp::with_state(
        state,
        opts,
        JobsHandle::from_channels(cmd_tx, ev_rx, services),
    );
    let mut h = Harness::builder()
        .with_size(size)
        .build_eframe(move |_cc| app);
    h.run_steps(2);
    let mut rt = FakeRuntime {
        commands: cmd_rx,
        events: ev_tx,
        requests,
        unanswered: Vec::new(),
    };
    rt.answer_start();
    h.run_steps(4);
    (h, rt)
}

/// Clicks Generate; returns the job it submitted.
fn generate(h: &mut Harness<'static, FluxApp>, rt: &mut FakeRuntime) -> (JobId, JobSpec) {
    h.get_by_role_and_label(Role::Button, "Generate").click();
    h.run_steps(4);
    let mut subs = rt.submitted();
    assert_eq!(subs.len(), 1, "one click, one job");
    subs.remove(0)
}

/// A saved result with `seed`, 1024×768, its preview decoded.
fn saved(seed: i64) -> SavedImage {
    SavedImage {
        path: PathBuf::from("/home/artist/Pictures/fluxcn/2026-knight-9007199254740991.jpg"),
        sidecar: PathBuf::from("/home/artist/Pictures/fluxcn/2026-knight-9007199254740991.json"),
        width: 1024,
        height: 768,
        seed,
        preview: Some(Arc::new(image::RgbaImage::from_pixel(
            256,
            192,
            image::Rgba([30, 90, 160, 255]),
        ))),
    }
}

fn accounting() -> Accounting {
    Accounting {
        cost: Some(0.048),
        generation_time: Some(2.4),
        request_id: Some("7f3c2a9e-51d4-4b7e-9a0c-2f6d8e1b3c55".into()),
        ..Default::default()
    }
}

/// One generation, done with the 16-digit seed; returns the parameters the result shows.
fn one_done(h: &mut Harness<'static, FluxApp>, rt: &mut FakeRuntime) -> GenParams {
    let (id, spec) = generate(h, rt);
    rt.feed(Event::Done {
        id,
        images: vec![saved(LONG_SEED)],
        accounting: accounting(),
    });
    h.run_steps(4);
    GenParams {
        seed: LONG_SEED,
        ..spec.params
    }
}

/// Where things must lie: the window, and the three columns of the layout as they stand now
/// (the left panel up to the central area, the central area up to the queue, the queue).
struct Regions {
    window: Rect,
    left: Rect,
    central: Rect,
    queue: Rect,
}

fn regions(h: &Harness<'static, FluxApp>, size: Vec2) -> Regions {
    let window = Rect::from_min_size(pos2(0.0, 0.0), size);
    // The tabs start the central area's content, the queue's heading the queue's.
    let central_left = h.get_by_label("Result").rect().min.x - PANEL_MARGIN;
    let queue_left = h.get_by_label("Queue").rect().min.x - PANEL_MARGIN;
    Regions {
        window,
        left: Rect::from_min_max(window.min, pos2(central_left, size.y)),
        central: Rect::from_min_max(pos2(central_left, 0.0), pos2(queue_left, size.y)),
        queue: Rect::from_min_max(pos2(queue_left, 0.0), window.max),
    }
}

/// The width `text` takes when drawn whole in `font`.
fn natural_width(h: &Harness<'static, FluxApp>, text: &str, font: FontId) -> f32 {
    h.ctx
        .fonts_mut(|f| f.layout_no_wrap(text.to_owned(), font, egui::Color32::WHITE))
        .size()
        .x
}

/// The font of plain labels and of buttons, as the window's style has them.
fn body(h: &Harness<'static, FluxApp>) -> FontId {
    egui::TextStyle::Body.resolve(&h.ctx.global_style())
}

/// The widget labelled exactly `label` (of `role`, when given) lies inside `bounds` and the window,
/// and is drawn whole: its rectangle is as wide as its text in `font` (a label cut to an ellipsis
/// is narrower). Returns its rectangle.
fn assert_whole(
    h: &Harness<'static, FluxApp>,
    r: &Regions,
    role: Option<Role>,
    label: &str,
    font: FontId,
    bounds: Rect,
    what: &str,
) -> Rect {
    let rect = match role {
        Some(role) => h.get_by_role_and_label(role, label).rect(),
        None => h.get_by_label(label).rect(),
    };
    assert!(
        r.window.expand(0.5).contains_rect(rect),
        "{what}: {label:?} at {rect:?} is outside the window {:?}",
        r.window
    );
    assert!(
        bounds.expand(0.5).contains_rect(rect),
        "{what}: {label:?} at {rect:?} is outside its panel {bounds:?}"
    );
    let need = natural_width(h, label, font);
    assert!(
        rect.width() + 0.5 >= need,
        "{what}: {label:?} is cut: {:.1} px wide, needs {need:.1}",
        rect.width()
    );
    rect
}

/// What every situation must show: the three tabs, Generate, Settings, the queue's heading, and a
/// central area of a fair share of the width.
fn assert_frame(h: &Harness<'static, FluxApp>, size: Vec2) -> Regions {
    let r = regions(h, size);
    for tab in ["Result", "Compare", "Gallery"] {
        assert_whole(h, &r, None, tab, body(h), r.central, "tab");
    }
    assert_whole(
        h,
        &r,
        Some(Role::Button),
        "Generate",
        body(h),
        r.left,
        "the Generate button",
    );
    assert_whole(
        h,
        &r,
        Some(Role::Button),
        "Settings",
        body(h),
        r.window,
        "the Settings button",
    );
    assert_whole(
        h,
        &r,
        None,
        "Queue",
        FontId::proportional(15.0),
        r.queue,
        "the queue's heading",
    );
    let share = r.central.width() / size.x;
    assert!(
        share >= 0.4,
        "the central area is {:.0} px of {} ({:.0}%): {:?}",
        r.central.width(),
        size.x,
        share * 100.0,
        r.central
    );
    assert!(
        r.left.width() >= 200.0 && r.queue.width() >= 150.0,
        "the side panels keep a usable width: left {:.0}, queue {:.0}",
        r.left.width(),
        r.queue.width()
    );
    r
}

/// Every detail of the result under the image: each field's label and value, the size, the cost
/// and the time whole inside the central area; the seed whole and copyable; the long lines inside.
fn assert_details(h: &Harness<'static, FluxApp>, r: &Regions, params: &GenParams) {
    let mut pairs: Vec<(String, String)> = fluxcn::api::fields::details(params)
        .into_iter()
        .map(|(f, v)| (f.label().to_owned(), v))
        .collect();
    let size = if params.use_input_img_dimension {
        "input size (1024 × 768)".to_owned()
    } else {
        format!("{} × {}", params.custom_width, params.custom_height)
    };
    pairs.push(("size".into(), size));
    pairs.push(("cost".into(), "0.0480".into()));
    pairs.push(("time".into(), "2.4 s".into()));
    for must in ["seed", "guidance", "scheduler", "cost"] {
        assert!(pairs.iter().any(|(l, _)| l == must), "no {must} row");
    }
    for (label, value) in &pairs {
        // A label and its value side by side, on one line.
        let l = assert_whole(h, r, None, label, body(h), r.central, "a detail's label");
        let v = h
            .query_all_by_label(value)
            .map(|n| n.rect())
            .filter(|v| (v.center().y - l.center().y).abs() < 4.0 && v.min.x >= l.max.x)
            .min_by(|a, b| a.min.x.total_cmp(&b.min.x))
            .unwrap_or_else(|| panic!("no value {value:?} beside the label {label:?} at {l:?}"));
        assert!(
            r.central.expand(0.5).contains_rect(v),
            "{label}'s value {value:?} at {v:?} is outside the central area {:?}",
            r.central
        );
        let need = natural_width(h, value, body(h));
        assert!(
            v.width() + 0.5 >= need,
            "{label}'s value {value:?} is cut: {:.1} px wide, needs {need:.1}",
            v.width()
        );
    }
    // The seed: whole, and a click target.
    let seed_text = params.seed.to_string();
    let seed = h.get_by_label(&seed_text);
    assert!(
        seed.accesskit_node()
            .data()
            .supports_action(egui::accesskit::Action::Click),
        "the seed copies with a click"
    );
    // The long lines: cut to the width if they must be, but inside the central area.
    for (label, value) in [
        ("input", INPUT_URL),
        ("request", "7f3c2a9e-51d4-4b7e-9a0c-2f6d8e1b3c55"),
        (
            "file",
            "/home/artist/Pictures/fluxcn/2026-knight-9007199254740991.jpg",
        ),
    ] {
        let l = assert_whole(h, r, None, label, body(h), r.central, "a long line's label");
        let v = h
            .query_all_by_label_contains(value)
            .map(|n| n.rect())
            .find(|v| (v.center().y - l.center().y).abs() < 4.0 && v.min.x >= l.max.x)
            .unwrap_or_else(|| panic!("no value {value:?} beside the label {label:?} at {l:?}"));
        assert!(
            r.central.expand(0.5).contains_rect(v),
            "{label}'s value {value:?} at {v:?} is outside the central area {:?}",
            r.central
        );
    }
    // The zoom bar above the image keeps its buttons.
    for b in ["Fit", "1:1", "Zoom −", "Zoom +"] {
        assert_whole(
            h,
            r,
            Some(Role::Button),
            b,
            body(h),
            r.central,
            "a zoom button",
        );
    }
    // The image itself gets room (at least a third of the window's height).
    let image_top = h.get_by_role_and_label(Role::Button, "Zoom +").rect().max.y;
    let details_top = h.get_by_label("cn_type").rect().min.y;
    assert!(
        details_top - image_top >= r.window.height() / 3.0,
        "the image gets {:.0} px of height",
        details_top - image_top
    );
}

fn done_at(size: Vec2) {
    let (mut h, mut rt) = start(size);
    let params = one_done(&mut h, &mut rt);
    let r = assert_frame(&h, size);
    assert_details(&h, &r, &params);
    // The queue's card is inside the queue.
    let card = h.get_by_label(&format!("seed {LONG_SEED}")).rect();
    assert!(
        r.queue.expand(0.5).contains_rect(card),
        "{card:?} {:?}",
        r.queue
    );
}

#[test]
fn after_one_generation_everything_shows_at_900_by_600() {
    done_at(SMALL);
}

#[test]
fn after_one_generation_everything_shows_at_1920_by_1080() {
    done_at(LARGE);
}

/// Types into a text field found by its label.
fn type_into(h: &mut Harness<'static, FluxApp>, label: &str, text: &str) {
    h.get_by_label(label).focus();
    h.run_steps(2);
    h.get_by_label(label).type_text(text);
    h.run_steps(3);
}

/// The app, its runtime, the first result's parameters and the grid's jobs (row-major).
type RunningGrid = (
    Harness<'static, FluxApp>,
    FakeRuntime,
    GenParams,
    Vec<(JobId, JobSpec)>,
);

/// The app at `size` with one result, then on the Compare tab a 4×3 X/Y grid (cn_type ×
/// cn_strength) sent and running: three cells done, one retrying, two waiting, six queued.
/// Returns the first result's parameters and the grid's jobs, row-major.
fn running_grid(size: Vec2) -> RunningGrid {
    let (mut h, mut rt) = start(size);
    // A result first, so the Result tab has details to come back to.
    let params = one_done(&mut h, &mut rt);
    h.get_by_label("Compare").click();
    h.run_steps(3);
    h.get_by_label("X/Y grid").click();
    h.run_steps(3);
    type_into(&mut h, "Column values", "pose,depth,canny,tile");
    type_into(&mut h, "Row values", "0.3,0.6,0.9");
    h.key_press(egui::Key::Escape);
    h.run_steps(2);
    let r = assert_frame(&h, size);
    let send = assert_whole(
        &h,
        &r,
        Some(Role::Button),
        "Send 12 requests",
        body(&h),
        r.central,
        "the grid's send button",
    );
    assert!(send.min.y > 0.0);
    h.get_by_role_and_label(Role::Button, "Send 12 requests")
        .click();
    h.run_steps(4);
    let subs = rt.submitted();
    assert_eq!(subs.len(), 12, "one job a cell");
    // The grid runs: three cells done, one retrying, the rest queued or running.
    for (n, (id, _)) in subs.iter().enumerate() {
        let ev = match n {
            0..=2 => Event::Done {
                id: *id,
                images: vec![saved(4321 + n as i64)],
                accounting: accounting(),
            },
            3 => Event::Stage {
                id: *id,
                stage: Stage::Retrying {
                    attempt: 2,
                    delay: Duration::from_secs(20),
                    reason: "service unavailable (503)".into(),
                },
            },
            4..=5 => Event::Stage {
                id: *id,
                stage: Stage::Waiting,
            },
            _ => continue,
        };
        rt.feed(ev);
    }
    h.run_steps(4);
    (h, rt, params, subs)
}

fn grid_at(size: Vec2) {
    let (mut h, _rt, _params, subs) = running_grid(size);
    let r = assert_frame(&h, size);
    for label in ["Compare control types", "X/Y grid"] {
        assert_whole(&h, &r, None, label, body(&h), r.central, "a compare mode");
    }
    for b in ["Cancel remaining", "Fit"] {
        assert_whole(
            &h,
            &r,
            Some(Role::Button),
            b,
            body(&h),
            r.central,
            "the grid's toolbar",
        );
    }
    assert_whole(
        &h,
        &r,
        None,
        "3 of 12 done",
        body(&h),
        r.central,
        "progress",
    );
    // Every cell has its caption somewhere in the view (the grid scrolls when it must).
    for t in ["pose", "depth", "canny", "tile"] {
        assert!(
            h.query_all_by_label_contains(&format!("cn_type: {t}"))
                .next()
                .is_some(),
            "no cell for {t}"
        );
    }
    // Back on the Result tab (it shows the newest result, the third cell, above a strip of all
    // four), the details are whole with the queue full of grid cells.
    h.get_by_label("Result").click();
    h.run_steps(3);
    let r = assert_frame(&h, size);
    let newest = GenParams {
        seed: 4323,
        ..subs[2].1.params.clone()
    };
    assert_details(&h, &r, &newest);
}

#[test]
fn a_twelve_cell_grid_running_keeps_the_layout_at_900_by_600() {
    grid_at(SMALL);
}

#[test]
fn a_twelve_cell_grid_running_keeps_the_layout_at_1920_by_1080() {
    grid_at(LARGE);
}

/// Every cell of the running grid starts under its column's header, within the central area's
/// width (rows may scroll down), and the headers are whole: a header shows its value ("tile"),
/// named "cn_type: tile" for a screen reader and on hover, the axes named once above the grid (a
/// header cut to "cn_type: …" hid the value the column is about). A result's A/B/Use line fits
/// its column.
fn grid_columns_line_up(size: Vec2) {
    let (h, _rt, _params, _subs) = running_grid(size);
    let r = regions(&h, size);
    let cols = ["pose", "depth", "canny", "tile"];
    let rows = ["0.3", "0.6", "0.9"];
    let inside = |what: &str, rect: Rect| {
        assert!(
            r.central.expand(0.5).contains_rect(rect),
            "{what} at {rect:?} is outside the central area {:?}",
            r.central
        );
    };
    inside(
        "the axes' names",
        h.get_by_label("columns: cn_type · rows: cn_strength")
            .rect(),
    );
    for row in rows {
        let label = h.get_by_label(&format!("cn_strength: {row}")).rect();
        inside("a row's label", label);
        let need = natural_width(&h, row, body(&h));
        assert!(label.width() + 0.5 >= need, "row {row} is cut: {label:?}");
    }
    let mut headers = Vec::new();
    for col in cols {
        let header = h.get_by_label(&format!("cn_type: {col}")).rect();
        inside("a column's header", header);
        let need = natural_width(&h, col, body(&h));
        assert!(
            header.width() + 0.5 >= need,
            "the header {col:?} is cut: {:.1} px wide, needs {need:.1}",
            header.width()
        );
        headers.push(header);
        for row in rows {
            let caption = format!("cn_strength: {row} · cn_type: {col}");
            let found: Vec<Rect> = h
                .query_all_by_label(&caption)
                .chain(h.query_all_by_label(&format!("result: {caption}")))
                .map(|n| n.rect())
                .collect();
            assert!(
                found.iter().any(|c| (c.min.x - header.min.x).abs() <= 6.5
                    && c.min.x >= r.central.min.x - 0.5
                    && c.max.x <= r.central.max.x + 0.5),
                "the cell {caption:?} is not under its header at {header:?}, within {:?} across \
                 (the grid scrolls down, not across): {found:?}",
                r.central
            );
        }
    }
    // The three results' lines of buttons lie under their own columns, whole.
    for name in ["A", "B", "Use"] {
        let buttons: Vec<Rect> = h
            .query_all_by_role_and_label(Role::Button, name)
            .map(|n| n.rect())
            .filter(|b| b.min.y > headers[0].max.y)
            .collect();
        assert!(buttons.len() >= 3, "{name}: {buttons:?}");
        for b in buttons {
            assert!(
                headers
                    .iter()
                    .any(|hd| b.min.x >= hd.min.x - 0.5 && b.max.x <= hd.max.x + 0.5),
                "the {name:?} button at {b:?} is outside every column {headers:?}"
            );
        }
    }
}

#[test]
fn the_grid_s_columns_stay_under_their_headers_at_900_by_600() {
    grid_columns_line_up(SMALL);
}

#[test]
fn the_grid_s_columns_stay_under_their_headers_at_1920_by_1080() {
    grid_columns_line_up(LARGE);
}

fn retry_at(size: Vec2) {
    let (mut h, mut rt) = start(size);
    let params = one_done(&mut h, &mut rt);
    let before = regions(&h, size);
    // A second job with another strength (the same settings again would ask first).
    h.state_mut().state_mut().params.cn_strength = 0.6;
    let (id, _) = generate(&mut h, &mut rt);
    let reason: String = format!(
        "service unavailable (503): {}",
        "upstream gateway says the GPU pool is saturated, try later; ".repeat(5)
    )
    .chars()
    .take(300)
    .collect();
    assert_eq!(reason.chars().count(), 300);
    rt.feed(Event::Stage {
        id,
        stage: Stage::Retrying {
            attempt: 3,
            delay: Duration::from_secs(40),
            reason: reason.clone(),
        },
    });
    h.run_steps(4);
    let r = assert_frame(&h, size);
    assert_eq!(
        r.queue.min.x, before.queue.min.x,
        "a retry line moved the queue's edge"
    );
    assert_eq!(r.central, before.central, "the central area changed");
    // The reason is on its card, inside the queue (cut to its width, whole on hover).
    let line = h.get_by_label(&reason).rect();
    assert!(
        r.queue.expand(0.5).contains_rect(line),
        "the retry reason at {line:?} leaves the queue {:?}",
        r.queue
    );
    assert!(line.height() < 30.0, "one line: {line:?}");
    h.get_by_label("retrying in 40 s (attempt 3)");
    // The result's details are untouched.
    assert_details(&h, &r, &params);
}

#[test]
fn a_long_retry_message_keeps_the_layout_at_900_by_600() {
    retry_at(SMALL);
}

#[test]
fn a_long_retry_message_keeps_the_layout_at_1920_by_1080() {
    retry_at(LARGE);
}
