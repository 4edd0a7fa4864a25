//! The window holds its shape at 900×600 (issue 13): the whole app (`FluxApp`) driven headless with
//! egui_kittest, the test standing in for the job runtime. The queue panel keeps its width whatever
//! its jobs say (a long retry line, a long failure), its cards keep one height so the buttons stay
//! under the pointer when a job ends, each card tells its job apart (type, strength, seed, grid
//! cell), pacing counts down live and says why, and the Result tab's details show every row with
//! the seed whole, copied with a click.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use egui::accesskit::Role;
use egui::{Rect, pos2, vec2};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use fluxcn::api::{Accounting, CnType, GenParams};
use fluxcn::jobs::{
    Command, Event, FailureKind, GroupTag, InputSource, JobFailure, JobId, JobSpec, JobsHandle,
    RuntimeConfig, SavedImage, Services, Stage,
};
use fluxcn::ui::{FluxApp, LaunchOptions, State};

use crate::common::app::{advance_clock, freeze_clock};
use tokio::sync::mpsc::UnboundedReceiver;

const WIDTH: f32 = 900.0;
const HEIGHT: f32 = 600.0;
/// The largest seed the service takes (2^53 − 1): 16 digits.
const LONG_SEED: i64 = 9_007_199_254_740_991;

/// The test's end of the runtime's channels. The services' inbox is kept (unanswered requests
/// read as waiting, not as a stopped worker).
struct FakeRuntime {
    commands: UnboundedReceiver<Command>,
    events: std::sync::mpsc::Sender<Event>,
    _requests: std::sync::mpsc::Receiver<fluxcn::jobs::services::Request>,
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
}

/// The app at 900×600 with an input and a prompt ready, so Generate is enabled at once.
fn start(rate_per_minute: Option<f64>) -> (Harness<'static, FluxApp>, FakeRuntime) {
    let mut state = State::default();
    state.params.prompt = "a knight in shining armour standing in a misty forest at dawn".into();
    state.input = Some(InputSource::Url("https://example.com/pose.jpg".into()));
    state.settings.rate_per_minute = rate_per_minute;
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
        .with_size(vec2(WIDTH, HEIGHT))
        .build_eframe(move |_cc| app);
    h.run_steps(4);
    (
        h,
        FakeRuntime {
            commands: cmd_rx,
            events: ev_tx,
            _requests: requests,
        },
    )
}

fn window() -> Rect {
    Rect::from_min_max(pos2(0.0, 0.0), pos2(WIDTH, HEIGHT))
}

/// Clicks Generate and returns the job it submitted.
fn generate(h: &mut Harness<'static, FluxApp>, rt: &mut FakeRuntime) -> JobId {
    h.get_by_role_and_label(Role::Button, "Generate").click();
    h.run_steps(4);
    let subs = rt.submitted();
    assert_eq!(subs.len(), 1, "one click, one job");
    subs[0].0
}

/// The Cancel buttons of the queue, top to bottom (newest job first).
fn cancel_buttons(h: &Harness<'static, FluxApp>) -> Vec<Rect> {
    let mut rects: Vec<Rect> = h
        .get_all_by_role_and_label(Role::Button, "Cancel")
        .map(|n| n.rect())
        .collect();
    rects.sort_by(|a, b| a.min.y.total_cmp(&b.min.y));
    rects
}

/// The left edge of the queue panel's content (its heading).
fn queue_left(h: &Harness<'static, FluxApp>) -> f32 {
    h.get_by_label("Queue").rect().min.x
}

fn assert_inside(what: &str, r: Rect, bounds: Rect) {
    assert!(
        bounds.expand(0.5).contains_rect(r),
        "{what} at {r:?} is not inside {bounds:?}"
    );
}

#[test]
fn long_lines_never_widen_the_queue_and_buttons_stay_put_when_a_job_ends() {
    let (mut h, mut rt) = start(None);
    let first = generate(&mut h, &mut rt);
    let second = generate(&mut h, &mut rt);
    let left_before = queue_left(&h);
    assert!(
        left_before > WIDTH - 320.0,
        "the queue starts at its default width: {left_before}"
    );
    // Newest first: the second job's card is on top, the first job's (card 2) below it.
    let cancels = cancel_buttons(&h);
    assert_eq!(cancels.len(), 2);
    let card2_cancel = cancels[1];
    let card1_cancel = cancels[0];

    // The top job retries with a very long reason, then fails with a long message.
    let reason = format!(
        "service unavailable (503): {}",
        "upstream gateway said the GPU pool is saturated; ".repeat(6)
    );
    rt.feed(Event::Stage {
        id: second,
        stage: Stage::Retrying {
            attempt: 2,
            delay: Duration::from_secs(30),
            reason: reason.clone(),
        },
    });
    h.run_steps(4);
    assert_eq!(
        queue_left(&h),
        left_before,
        "a retry line widened the queue"
    );
    let reason_rect = h.get_by_label(&reason).rect();
    assert_inside("the retry reason", reason_rect, window());
    assert!(reason_rect.min.x >= left_before - 1.0, "{reason_rect:?}");
    h.get_by_label("retrying in 30 s (attempt 2)");
    assert_eq!(
        cancel_buttons(&h),
        cancels,
        "the buttons moved while retrying"
    );

    let message = format!(
        "The service kept answering 503 after 4 attempts: {}",
        "https://api.segmind.com/v1/flux-controlnet?trace=".repeat(5)
    );
    rt.feed(Event::Failed {
        id: second,
        failure: JobFailure {
            message: message.clone(),
            kind: FailureKind::Http(503),
            maybe_billed: false,
        },
    });
    h.run_steps(4);
    assert_eq!(queue_left(&h), left_before, "a failure widened the queue");
    let msg_rect = h.get_by_label(&message).rect();
    assert_inside("the failure message", msg_rect, window());
    assert!(msg_rect.height() < 30.0, "one line, cut: {msg_rect:?}");
    h.get_by_label("failed (503)");
    // Card 2's Cancel is exactly where it was; card 1's Re-run is where its Cancel was.
    let now = cancel_buttons(&h);
    assert_eq!(now, vec![card2_cancel], "card 2's Cancel moved");
    let rerun = h.get_by_role_and_label(Role::Button, "Re-run").rect();
    assert_eq!(rerun, card1_cancel, "Re-run is not where Cancel was");

    // Card 2 ends too: nothing below or above moves, and nothing grows after "Clear finished".
    rt.feed(Event::Done {
        id: first,
        images: vec![saved(LONG_SEED)],
        accounting: Accounting::default(),
    });
    h.run_steps(4);
    assert_eq!(
        h.get_by_role_and_label(Role::Button, "Re-run").rect(),
        card1_cancel
    );
    h.get_by_label(&format!("seed {LONG_SEED}"));
    h.get_by_label("Clear finished").click();
    h.run_steps(4);
    assert!(h.query_by_label(&message).is_none());
    // Cleared, the queue is empty: it folds to a slim strip and gives its room to the picture.
    assert!(
        queue_left(&h) > left_before && queue_left(&h) >= WIDTH - 80.0,
        "the empty queue is a strip: {} (was {left_before})",
        queue_left(&h)
    );
    h.get_by_label("empty");
    // A new job opens it again at the width it had.
    generate(&mut h, &mut rt);
    assert_eq!(queue_left(&h), left_before);
}

fn saved(seed: i64) -> SavedImage {
    SavedImage {
        path: PathBuf::from("/out/gallery/2026-knight-9007199254740991.jpg"),
        sidecar: PathBuf::from("/out/gallery/2026-knight-9007199254740991.json"),
        width: 1024,
        height: 768,
        seed,
        preview: Some(Arc::new(image::RgbaImage::from_pixel(
            64,
            48,
            image::Rgba([30, 90, 160, 255]),
        ))),
    }
}

#[test]
fn grid_cells_are_told_apart_on_cards_of_one_height() {
    let (mut h, rt) = start(None);
    let mut ids = Vec::new();
    for (i, (cn, strength)) in [
        (CnType::Depth, 0.4),
        (CnType::Depth, 0.8),
        (CnType::Canny, 0.4),
        (CnType::Canny, 0.8),
    ]
    .into_iter()
    .enumerate()
    {
        let id = 9000 + i as JobId;
        ids.push(id);
        rt.feed(Event::Recovered {
            id,
            spec: Box::new(JobSpec {
                input: InputSource::Url("https://example.com/pose.jpg".into()),
                params: GenParams {
                    prompt: "a knight in shining armour standing in a misty forest".into(),
                    cn_type: cn,
                    cn_strength: strength,
                    seed: 1234 + i as i64,
                    ..GenParams::default()
                },
                api: fluxcn::jobs::ApiVersion::V2,
                group: Some(GroupTag {
                    group: 77,
                    row: i / 2,
                    col: i % 2,
                    label: format!("cn_type: {}, cn_strength: {strength}", cn.as_str()),
                }),
                prompt_template: None,
                batch: None,
                framing: Default::default(),
            }),
            request_id: None,
        });
    }
    h.run_steps(4);
    // Every cell says which it is: its label, its strength and its seed.
    for (i, (cn, strength)) in [
        ("depth", 0.4),
        ("depth", 0.8),
        ("canny", 0.4),
        ("canny", 0.8),
    ]
    .into_iter()
    .enumerate()
    {
        h.get_by_label(&format!("cn_type: {cn}, cn_strength: {strength}"));
        h.get_by_label(&format!("seed {}", 1234 + i));
    }
    assert_eq!(h.get_all_by_label("cn_strength 0.4").count(), 2);
    // The cards are evenly spaced (one height), and every Cancel is at the same x.
    let cancels = cancel_buttons(&h);
    assert_eq!(cancels.len(), 4);
    let step = cancels[1].min.y - cancels[0].min.y;
    assert!(step > 40.0, "{cancels:?}");
    for pair in cancels.windows(2) {
        assert!(
            (pair[1].min.y - pair[0].min.y - step).abs() < 0.5,
            "{cancels:?}"
        );
        assert_eq!(pair[1].min.x, pair[0].min.x);
    }
    // A done card keeps the height of a running one.
    rt.feed(Event::Done {
        id: ids[3],
        images: vec![saved(4321)],
        accounting: Accounting::default(),
    });
    h.run_steps(4);
    let after = cancel_buttons(&h);
    assert_eq!(
        after,
        cancels[1..].to_vec(),
        "cards below a finished one moved"
    );
}

#[test]
fn pacing_counts_down_live_and_says_why() {
    // Pacing off: only the service's "too many requests" holds a job back, and the card says so
    // in one line, counting down the wait the service asked for.
    let (mut h, mut rt) = start(None);
    let id = generate(&mut h, &mut rt);
    rt.feed(Event::Stage {
        id,
        stage: Stage::RateLimited {
            wait: Duration::from_secs(45),
        },
    });
    h.run_steps(2);
    h.get_by_label("rate-limited, next try in 45 s");
    h.get_by_label_contains("the service said too many requests");
    assert!(h.query_by_label_contains("pacing is off").is_none());
    freeze_clock(&mut h);
    advance_clock(&mut h, Duration::from_millis(1_100));
    h.run_steps(2);
    h.get_by_label("rate-limited, next try in 44 s");
    assert!(h.query_by_label("rate-limited, next try in 45 s").is_none());
    // The request the service refused says the same, with its attempt.
    rt.feed(Event::Stage {
        id,
        stage: Stage::Retrying {
            attempt: 2,
            delay: Duration::from_secs(3),
            reason: "rate limited (429)".into(),
        },
    });
    h.run_steps(2);
    h.get_by_label("rate-limited, next try in 3 s (attempt 2)");

    // Pacing on and no 429 seen: the plan's limit set in the settings.
    let (mut h, mut rt) = start(Some(5.0));
    let id = generate(&mut h, &mut rt);
    rt.feed(Event::Stage {
        id,
        stage: Stage::Pacing {
            wait: Duration::from_secs(12),
        },
    });
    h.run_steps(2);
    h.get_by_label_contains("your plan's limit: 5 requests a minute");
    assert!(
        h.query_by_label_contains("too many requests").is_none(),
        "no 429 was seen"
    );
    // After a 429 retry, the same wait is put down to the service.
    rt.feed(Event::Stage {
        id,
        stage: Stage::Retrying {
            attempt: 2,
            delay: Duration::from_secs(3),
            reason: "rate limited (429)".into(),
        },
    });
    rt.feed(Event::Stage {
        id,
        stage: Stage::Pacing {
            wait: Duration::from_secs(24),
        },
    });
    h.run_steps(2);
    h.get_by_label_contains("the service said too many requests (429)");
}

#[test]
fn result_details_show_every_row_and_the_whole_seed_copies_with_a_click() {
    let (mut h, mut rt) = start(None);
    let id = generate(&mut h, &mut rt);
    rt.feed(Event::Done {
        id,
        images: vec![saved(LONG_SEED)],
        accounting: Accounting {
            cost: Some(0.048),
            generation_time: Some(2.4),
            request_id: Some("7f3c2a9e-51d4-4b7e-9a0c-2f6d8e1b3c55".into()),
            ..Default::default()
        },
    });
    h.run_steps(4);
    // The central area: right of the Result tab's left edge, left of the queue.
    let central = Rect::from_min_max(
        pos2(h.get_by_label("Result").rect().min.x - 1.0, 0.0),
        pos2(queue_left(&h), HEIGHT),
    );
    assert!(central.width() > 200.0, "{central:?}");
    let seed_text = LONG_SEED.to_string();
    let seed = h.get_by_label(&seed_text);
    assert_inside("the seed", seed.rect(), central);
    let digit_w = seed.rect().width() / seed_text.len() as f32;
    assert!(digit_w > 4.0, "the seed is drawn whole: {:?}", seed.rect());
    for label in [
        "cn_type",
        "seed",
        "steps",
        "guidance",
        "cn_strength",
        "scheduler",
        "size",
        "cost",
        "time",
    ] {
        assert_inside(label, h.get_by_label(label).rect(), central);
    }
    assert_inside("the cost", h.get_by_label("0.0480").rect(), central);
    // Long values are cut to the width, whole on hover.
    let request = h
        .get_by_label("7f3c2a9e-51d4-4b7e-9a0c-2f6d8e1b3c55")
        .rect();
    assert_inside("the request id", request, central);

    // A click copies the seed and says so for a moment.
    assert!(h.query_by_label("copied").is_none());
    h.get_by_label(&seed_text).click();
    h.step();
    let copied: Vec<&String> = h
        .output()
        .platform_output
        .commands
        .iter()
        .filter_map(|c| match c {
            egui::OutputCommand::CopyText(t) => Some(t),
            _ => None,
        })
        .collect();
    assert_eq!(copied, vec![&seed_text]);
    h.run_steps(1);
    h.get_by_label("copied");
    h.run_steps(10);
    assert!(h.query_by_label("copied").is_none(), "the note goes away");
}

/// At 900 px the queue's cards are narrow (~190 px): the seed still shows whole (it is what gets
/// copied; steps and guidance give way first), and a failure shows its first words on two lines
/// instead of a few letters on one.
#[test]
fn narrow_cards_keep_the_seed_whole_and_give_a_failure_two_lines() {
    let (mut h, mut rt) = start(None);
    let done = generate(&mut h, &mut rt);
    let failed = generate(&mut h, &mut rt);
    rt.feed(Event::Done {
        id: done,
        images: vec![saved(655_321)],
        accounting: Accounting::default(),
    });
    let message = "the service is unavailable (503): the upstream gateway timed out".to_owned();
    rt.feed(Event::Failed {
        id: failed,
        failure: JobFailure {
            message: message.clone(),
            kind: FailureKind::Http(503),
            maybe_billed: false,
        },
    });
    h.run_steps(4);
    let left = queue_left(&h);
    let queue = Rect::from_min_max(pos2(left - 1.0, 0.0), pos2(WIDTH, HEIGHT));
    let body = egui::TextStyle::Body.resolve(&h.ctx.global_style());
    let width = |text: &str| {
        h.ctx
            .fonts_mut(|f| f.layout_no_wrap(text.to_owned(), body.clone(), egui::Color32::WHITE))
            .size()
            .x
    };
    let seed = h.get_by_label("seed 655321").rect();
    assert_inside("the seed", seed, queue);
    assert!(
        seed.width() + 0.5 >= width("seed 655321"),
        "the seed is cut: {seed:?}"
    );
    let msg = h.get_by_label(&message).rect();
    assert_inside("the failure", msg, queue);
    let one_row = h.ctx.fonts_mut(|f| f.row_height(&body));
    assert!(
        msg.height() > one_row && msg.height() < 30.0,
        "the failure takes two lines within its card: {msg:?}"
    );
}

/// Two prompts that differ only at their end look different in the queue at 900×600: the card
/// cuts a long prompt in its middle, so its end stays in view.
#[test]
fn prompts_that_differ_at_the_end_look_different_in_the_queue() {
    let (mut h, mut rt) = start(None);
    let long = "a knight in shining armour standing in a misty forest at dawn, wearing a";
    h.state_mut().state_mut().params.prompt = format!("{long} red cloak");
    h.run_steps(2);
    generate(&mut h, &mut rt);
    h.state_mut().state_mut().params.prompt = format!("{long} blue cloak");
    h.state_mut().state_mut().params.seed = 7;
    h.run_steps(2);
    generate(&mut h, &mut rt);
    let shown: Vec<String> = ["red cloak", "blue cloak"]
        .iter()
        .map(|end| {
            let found: Vec<String> = h
                .query_all_by_label_contains(end)
                .map(|n| format!("{n:?}"))
                .collect();
            found.join(" / ")
        })
        .collect();
    assert!(
        shown[0].contains('…') && shown[1].contains('…'),
        "{shown:?}"
    );
    assert_ne!(shown[0], shown[1]);
    // The start is kept too (a third of the room), not only the end.
    assert!(shown.iter().all(|s| s.contains("\"a kni")), "{shown:?}");
}

/// A notice comes and goes over the workspace: nothing moves (the result area keeps its size,
/// Generate its place), and Generate is never covered.
#[test]
fn a_notice_moves_nothing_and_leaves_generate_uncovered() {
    let (mut h, _rt) = start(None);
    h.run_steps(2);
    let generate = h.get_by_role_and_label(Role::Button, "Generate").rect();
    let tabs = h.get_by_label("Result").rect();
    h.event(egui::Event::Paste("not a path nor a URL".into()));
    h.run_steps(3);
    let notice = h.get_by_label_contains("The pasted text is neither").rect();
    assert_eq!(
        h.get_by_role_and_label(Role::Button, "Generate").rect(),
        generate,
        "Generate moved"
    );
    assert_eq!(h.get_by_label("Result").rect(), tabs, "the tabs moved");
    assert!(
        !notice.intersects(generate),
        "{notice:?} covers Generate {generate:?}"
    );
    h.get_by_label("Dismiss").click();
    h.run_steps(3);
    assert!(
        h.query_by_label_contains("The pasted text is neither")
            .is_none()
    );
    assert_eq!(
        h.get_by_role_and_label(Role::Button, "Generate").rect(),
        generate
    );
}
