//! The whole app driven headless (egui_kittest) with the real job runtime and the in-process
//! stand-in: a comparison of four control types arrives as four labelled cells, and a v2 job left
//! unfinished by a crash shows in the queue as recovered and is finished by polling.

use crate::common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use fluxcn::api::{ClientConfig, GenParams};
use fluxcn::gallery::Store;
use fluxcn::jobs::journal::Journal;
use fluxcn::jobs::waiting::WaitingStore;
use fluxcn::jobs::{
    self, ApiVersion, Command, Event, InputSource, JobSpec, RuntimeConfig, RuntimeDeps, Stage,
};
use fluxcn::keystore::KeyStore;
use fluxcn::sim::{self, SimConfig, SimServer};
use fluxcn::ui::{FluxApp, LaunchOptions, State};

const KEY: &str = "SG_a11a11a11a11a11a";

struct Rig {
    rt: tokio::runtime::Runtime,
    sim: SimServer,
    dir: tempfile::TempDir,
    /// Rung by the runtime and the services each time they have news for the window.
    bell: Arc<Bell>,
}

/// What the window's `notify` rings: a count of rings, and a way to wait for the next one.
#[derive(Default)]
struct Bell {
    rings: std::sync::Mutex<u64>,
    rung: std::sync::Condvar,
}

impl Bell {
    fn ring(&self) {
        *self.rings.lock().unwrap() += 1;
        self.rung.notify_all();
    }

    /// Waits until the bell has rung more than `seen` times (or `limit` passes); the new count.
    fn wait_past(&self, seen: u64, limit: Duration) -> u64 {
        let rings = self.rings.lock().unwrap();
        let (rings, _) = self
            .rung
            .wait_timeout_while(rings, limit, |n| *n <= seen)
            .unwrap();
        *rings
    }
}

fn rig(delay_ms: u64) -> Rig {
    let rt = crate::common::rt();
    let sim = rt
        .block_on(sim::start(SimConfig {
            delay: Duration::from_millis(delay_ms),
            ..Default::default()
        }))
        .unwrap();
    Rig {
        rt,
        sim,
        dir: tempfile::tempdir().unwrap(),
        bell: Arc::default(),
    }
}

impl Rig {
    fn config(&self) -> RuntimeConfig {
        RuntimeConfig {
            api_base: self.sim.base_url(),
            key: fluxcn::api::ApiKey::new(KEY),
            concurrency: 4,
            rate_per_minute: None,
            max_input_side: 2048,
            daily_budget: None,
            ..Default::default()
        }
    }

    fn deps(&self) -> RuntimeDeps {
        let (journal, pending) = Journal::open(self.dir.path().join("journal.jsonl")).unwrap();
        RuntimeDeps {
            store: Store::open(self.dir.path().join("gallery")).unwrap(),
            keys: KeyStore::in_memory(),
            journal: Some(Arc::new(journal)),
            recovered: pending,
            client_template: ClientConfig {
                poll_interval: Duration::from_millis(50),
                ..Default::default()
            },
            ledger: None,
            waiting: None,
        }
    }

    fn input(&self) -> InputSource {
        let p = self.dir.path().join("figure.png");
        std::fs::write(&p, sim::demo_input_png()).unwrap();
        InputSource::File(p)
    }

    /// The real app wired to the real runtime, as `fluxcn` starts it.
    fn app(&self, state: State) -> Harness<'static, FluxApp> {
        self.app_with(state, self.deps())
    }

    /// [`Rig::app`] keeping its jobs not sent yet in the data folder, as the window does.
    fn app_keeping_waiting(&self, state: State) -> Harness<'static, FluxApp> {
        let mut deps = self.deps();
        let store = WaitingStore::open(self.waiting_file()).unwrap();
        deps.waiting = Some(Arc::new(store));
        self.app_with(state, deps)
    }

    fn waiting_file(&self) -> std::path::PathBuf {
        self.dir.path().join(fluxcn::jobs::waiting::WAITING_FILE)
    }

    fn app_with(&self, state: State, deps: RuntimeDeps) -> Harness<'static, FluxApp> {
        let opts = LaunchOptions {
            demo: true,
            autogenerate: false,
            initial: self.config(),
            demo_input: None,
        };
        let handle = self.rt.handle().clone();
        let cfg = self.config();
        let bell = self.bell.clone();
        Harness::builder()
            .with_size(egui::vec2(1400.0, 900.0))
            .build_eframe(move |cc| {
                let ctx = cc.egui_ctx.clone();
                let notify = Arc::new(move || {
                    bell.ring();
                    ctx.request_repaint();
                });
                let jobs = jobs::start(&handle, deps, cfg, notify);
                FluxApp::with_state(state, opts, jobs)
            })
    }
}

/// Steps the harness until `done` holds: the runtime and the stand-in work in the background, and
/// between frames the test waits for their ring (news for the window), never a fixed sleep.
fn step_until(
    h: &mut Harness<'_, FluxApp>,
    bell: &Bell,
    timeout: Duration,
    what: &str,
    mut done: impl FnMut(&Harness<'_, FluxApp>) -> bool,
) {
    let end = Instant::now() + timeout;
    let mut seen = 0;
    loop {
        h.run_steps(1);
        if done(h) {
            return;
        }
        let now = Instant::now();
        assert!(now < end, "timed out waiting for {what}");
        // A frame may itself ask for work whose answer rings later; a short bound keeps a ring
        // that came between the check and the wait from costing more than a moment.
        seen = bell.wait_past(seen, (end - now).min(Duration::from_millis(250)));
    }
}

#[test]
fn comparing_four_control_types_against_the_stand_in_shows_four_labelled_cells() {
    let r = rig(400);
    let state = State {
        params: GenParams {
            prompt: "a dancer".into(),
            seed: 5150,
            ..Default::default()
        },
        input: Some(r.input()),
        // v1, one setting away from the v2 default: the stand-in's in-flight gauge (the proof
        // that the cells go concurrently) is v1's.
        settings: fluxcn::ui::Settings {
            api_version: fluxcn::jobs::ApiVersion::V1,
            ..Default::default()
        },
        ..Default::default()
    };
    let mut h = r.app(state);
    step_until(
        &mut h,
        &r.bell,
        Duration::from_secs(20),
        "the input preview",
        |h| h.query_all_by_label_contains("768 × 1024").next().is_some(),
    );
    h.get_by_label("Compare").click();
    h.run_steps(2);
    for t in ["pose", "depth", "canny", "tile"] {
        h.get_by_label(t).click();
        h.run_steps(1);
    }
    assert!(
        h.query_by_label("4 requests ≈ $0.19").is_some(),
        "the cost is shown before sending"
    );
    // The tab and the button share the name: the button is the last one.
    let compare_buttons: Vec<_> = h.query_all_by_label("Compare").collect();
    compare_buttons.last().unwrap().click();
    step_until(
        &mut h,
        &r.bell,
        Duration::from_secs(30),
        "four results",
        |h| h.query_by_label("4 of 4 done").is_some(),
    );
    for t in ["pose", "depth", "canny", "tile"] {
        assert!(
            h.query_all_by_label(&format!("cn_type: {t}")).count() >= 1,
            "no cell labelled {t}"
        );
    }
    // The queue shows the four jobs under one heading with their progress and cost; folding it
    // hides their cards.
    let heading = h
        .query_all_by_label_contains("Comparison · 4/4 done · $")
        .count();
    assert_eq!(heading, 1, "one heading for the comparison");
    let cards = h.query_all_by_label("done").count();
    assert!(cards >= 4, "{cards}");
    h.get_by_label_contains("Comparison · 4/4 done").click();
    h.run_steps(3);
    assert_eq!(
        h.query_all_by_label("done").count(),
        cards - 4,
        "folded: the group's cards are hidden"
    );
    let stats = r.sim.stats();
    assert_eq!(stats.v1_requests, 4);
    assert!(
        stats.max_in_flight >= 2,
        "the cells were sent concurrently: {}",
        stats.max_in_flight
    );
    // Every result is on disk with its sidecar.
    let saved = std::fs::read_dir(r.dir.path().join("gallery"))
        .unwrap()
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "jpg"))
        .count();
    assert_eq!(saved, 4);
}

#[test]
fn a_v2_job_left_by_a_crash_shows_as_recovered_and_finishes() {
    let r = rig(1500);
    {
        // A first run submits a v2 job and "crashes" while it polls.
        let h = jobs::start(r.rt.handle(), r.deps(), r.config(), Arc::new(|| {}));
        let spec = JobSpec {
            input: r.input(),
            params: GenParams {
                prompt: "a lighthouse at dusk".into(),
                ..Default::default()
            },
            api: ApiVersion::V2,
            group: None,
            prompt_template: None,
            batch: None,
            framing: Default::default(),
        };
        h.send(Command::Submit { id: 4242, spec });
        let end = Instant::now() + Duration::from_secs(10);
        loop {
            assert!(Instant::now() < end, "never submitted");
            if let Some(Event::Stage {
                stage: Stage::Submitted { .. },
                ..
            }) = h.recv_timeout(Duration::from_millis(50))
            {
                break;
            }
        }
    }
    common::wait_for_the_crashed_runtime(&r.dir.path().join("journal.jsonl"));
    let mut h = r.app(State::default());
    step_until(
        &mut h,
        &r.bell,
        Duration::from_secs(10),
        "the recovered job in the queue",
        |h| {
            h.query_by_label("recovered from the last session")
                .is_some()
        },
    );
    step_until(
        &mut h,
        &r.bell,
        Duration::from_secs(20),
        "the recovered job to finish",
        |h| h.query_by_label_contains("saved ").is_some(),
    );
    assert_eq!(
        r.sim.stats().v2_submits,
        1,
        "finished by polling, never submitted again"
    );
}

/// The queue you steer (issue 26), in the window with the real runtime and the stand-in: paused,
/// three jobs wait and nothing is sent; "Next" on the last one puts it first; resumed, they go in
/// the order the queue shows.
#[test]
fn a_paused_queue_sends_nothing_and_then_goes_in_the_order_shown() {
    let r = rig(50);
    let state = State {
        params: GenParams {
            prompt: "one".into(),
            seed: 77,
            ..Default::default()
        },
        input: Some(r.input()),
        settings: fluxcn::ui::Settings {
            api_version: fluxcn::jobs::ApiVersion::V1,
            concurrency: 1,
            ..Default::default()
        },
        ..Default::default()
    };
    let mut h = r.app(state);
    step_until(&mut h, &r.bell, Duration::from_secs(10), "the input", |h| {
        h.query_by_label_contains("figure.png").is_some()
    });
    // The empty queue is folded: the palette pauses it (Ctrl+K, "pause", Enter).
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::K);
    h.run_steps(2);
    h.get_by_role_and_label(egui::accesskit::Role::TextInput, "Search commands")
        .type_text("pause");
    h.run_steps(2);
    h.key_press(egui::Key::Enter);
    step_until(&mut h, &r.bell, Duration::from_secs(5), "paused", |h| {
        h.query_by_label("paused").is_some()
    });
    for (i, prompt) in ["one", "two", "three"].into_iter().enumerate() {
        if i > 0 {
            common::app::type_prompt(&mut h, &format!(" {prompt}"));
        }
        h.get_by_role_and_label(egui::accesskit::Role::Button, "Generate")
            .click();
        step_until(
            &mut h,
            &r.bell,
            Duration::from_secs(10),
            "a queued job",
            |h| h.query_all_by_label("queued").count() == i + 1,
        );
        h.get_by_label_contains("Paused: nothing new is sent");
    }
    assert_eq!(r.sim.stats().v1_requests, 0, "nothing is sent while paused");
    // The last one goes first (once the runtime's line has reached the window).
    step_until(&mut h, &r.bell, Duration::from_secs(5), "the line", |h| {
        h.query_all_by_role_and_label(egui::accesskit::Role::Button, "Next")
            .count()
            >= 2
    });
    let next: Vec<_> = h
        .query_all_by_role_and_label(egui::accesskit::Role::Button, "Next")
        .collect();
    assert_eq!(next.len(), 2, "the first in line has no Next");
    next.last().unwrap().click();
    h.run_steps(2);
    h.get_by_role_and_label(egui::accesskit::Role::Button, "Resume")
        .click();
    step_until(
        &mut h,
        &r.bell,
        Duration::from_secs(30),
        "three results",
        |h| h.query_all_by_label_contains("saved ").count() == 3,
    );
    let sent: Vec<String> = r.sim.stats().v1_log.into_iter().map(|(p, _)| p).collect();
    assert_eq!(sent, ["one two three", "one", "one two"], "the order shown");
}

/// Pauses the queue from the palette (Ctrl+K, "pause", Enter): the empty queue is folded.
fn pause_from_palette(h: &mut Harness<'static, FluxApp>, bell: &Bell) {
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::K);
    h.run_steps(2);
    h.get_by_role_and_label(egui::accesskit::Role::TextInput, "Search commands")
        .type_text("pause");
    h.run_steps(2);
    h.key_press(egui::Key::Enter);
    step_until(h, bell, Duration::from_secs(5), "paused", |h| {
        // The folded strip says "paused"; the open queue says why.
        h.query_by_label("paused").is_some()
            || h.query_by_label_contains("Paused: nothing new").is_some()
    });
}

/// Queues one job per prompt while the queue is paused: the prompt field gets each text added.
fn queue_paused(h: &mut Harness<'static, FluxApp>, bell: &Bell, additions: &[&str]) {
    for add in additions {
        let before = h.query_all_by_label("queued").count();
        if !add.is_empty() {
            common::app::type_prompt(h, add);
        }
        h.get_by_role_and_label(egui::accesskit::Role::Button, "Generate")
            .click();
        // Queued, and in the runtime's line as the window knows it (a waiting card has Edit).
        step_until(h, bell, Duration::from_secs(10), "a queued job", |h| {
            h.query_all_by_label("queued").count() == before + 1
                && h.query_all_by_role_and_label(egui::accesskit::Role::Button, "Edit")
                    .count()
                    == before + 1
        });
    }
}

/// Once the input is read: the queue paused and three jobs waiting ("one", "one two",
/// "one two three").
fn three_waiting(h: &mut Harness<'static, FluxApp>, bell: &Bell) {
    step_until(h, bell, Duration::from_secs(10), "the input", |h| {
        h.query_by_label_contains("figure.png").is_some()
    });
    pause_from_palette(h, bell);
    queue_paused(h, bell, &["", " two", " three"]);
}

fn paused_state(r: &Rig) -> State {
    State {
        params: GenParams {
            prompt: "one".into(),
            seed: 77,
            ..Default::default()
        },
        input: Some(r.input()),
        settings: fluxcn::ui::Settings {
            api_version: fluxcn::jobs::ApiVersion::V1,
            concurrency: 1,
            ..Default::default()
        },
        ..Default::default()
    }
}

/// A point inside the `i`-th waiting card from the top, on no widget (its margin, right of its
/// Cancel button).
fn card_point(h: &Harness<'static, FluxApp>, i: usize) -> egui::Pos2 {
    let cancels: Vec<egui::Rect> = h
        .query_all_by_role_and_label(egui::accesskit::Role::Button, "Cancel")
        .map(|n| n.rect())
        .collect();
    let r = cancels[i];
    egui::pos2(r.right() + 3.0, r.center().y)
}

#[test]
fn a_waiting_job_is_edited_dragged_and_cancelled_in_its_place() {
    let r = rig(50);
    let mut h = r.app(paused_state(&r));
    three_waiting(&mut h, &r.bell);
    // Edit the second in line: its settings come back into the controls.
    let edits: Vec<_> = h
        .query_all_by_role_and_label(egui::accesskit::Role::Button, "Edit")
        .collect();
    assert_eq!(edits.len(), 3, "every waiting job can be edited");
    edits[1].click();
    h.run_steps(3);
    let prompt = h
        .get_by_role_and_label(egui::accesskit::Role::MultilineTextInput, "Prompt")
        .value();
    assert_eq!(prompt.as_deref(), Some("one two"), "its prompt is loaded");
    common::app::type_prompt(&mut h, " edited");
    h.get_by_role_and_label(egui::accesskit::Role::Button, "Replace waiting job")
        .click();
    h.run_steps(3);
    step_until(&mut h, &r.bell, Duration::from_secs(5), "replaced", |h| {
        h.query_all_by_label("queued").count() == 3
            && h.query_all_by_role_and_label(egui::accesskit::Role::Button, "Generate")
                .count()
                == 1
    });
    assert_eq!(
        h.query_all_by_label("cancelled").count(),
        0,
        "the replaced job leaves no card"
    );
    // Drag the last waiting card onto the first: it goes first.
    let (from, to) = (card_point(&h, 2), card_point(&h, 0));
    h.hover_at(from);
    h.run_steps(1);
    h.drag_at(from);
    h.run_steps(1);
    h.hover_at(from + egui::vec2(0.0, -12.0));
    h.run_steps(1);
    h.hover_at(to);
    h.run_steps(2);
    h.drop_at(to);
    h.run_steps(3);
    assert_eq!(r.sim.stats().v1_requests, 0, "nothing is sent while paused");
    h.get_by_role_and_label(egui::accesskit::Role::Button, "Resume")
        .click();
    step_until(
        &mut h,
        &r.bell,
        Duration::from_secs(30),
        "three results",
        |h| h.query_all_by_label_contains("saved ").count() == 3,
    );
    let sent: Vec<String> = r.sim.stats().v1_log.into_iter().map(|(p, _)| p).collect();
    assert_eq!(
        sent,
        ["one two three", "one", "one two edited"],
        "the dragged job first, the edited one in its place"
    );
    // Cancel all waiting: nothing of them is sent.
    h.get_by_role_and_label(egui::accesskit::Role::Button, "Pause")
        .click();
    h.run_steps(2);
    queue_paused(&mut h, &r.bell, &[" four", " five"]);
    h.get_by_role_and_label(egui::accesskit::Role::Button, "Cancel waiting")
        .click();
    step_until(&mut h, &r.bell, Duration::from_secs(5), "cancelled", |h| {
        h.query_all_by_label("cancelled").count() == 2
    });
    h.get_by_role_and_label(egui::accesskit::Role::Button, "Resume")
        .click();
    h.run_steps(5);
    assert_eq!(
        r.sim.stats().v1_requests,
        3,
        "cancelled jobs are never sent"
    );
}

#[test]
fn jobs_not_sent_come_back_paused_after_a_restart_to_resume_or_discard() {
    let r = rig(50);
    {
        let mut h = r.app_keeping_waiting(paused_state(&r));
        three_waiting(&mut h, &r.bell);
        let next: Vec<_> = h
            .query_all_by_role_and_label(egui::accesskit::Role::Button, "Next")
            .collect();
        next.last().unwrap().click();
        h.run_steps(3);
        // The window closes (or crashes) here with three jobs waiting.
    }
    common::wait_unlocked(&r.waiting_file());
    {
        let mut h = r.app_keeping_waiting(paused_state(&r));
        step_until(
            &mut h,
            &r.bell,
            Duration::from_secs(10),
            "the notice",
            |h| {
                h.query_by_label_contains("3 jobs waiting from last time")
                    .is_some()
            },
        );
        assert_eq!(h.query_all_by_label("queued").count(), 3);
        h.run_steps(5);
        assert_eq!(
            r.sim.stats().v1_requests,
            0,
            "restored paused: nothing sent"
        );
        h.get_by_role_and_label(egui::accesskit::Role::Button, "Resume")
            .click();
        step_until(
            &mut h,
            &r.bell,
            Duration::from_secs(30),
            "three results",
            |h| h.query_all_by_label_contains("saved ").count() == 3,
        );
        assert!(
            h.query_by_label_contains("waiting from last time")
                .is_none()
        );
        let sent: Vec<String> = r.sim.stats().v1_log.into_iter().map(|(p, _)| p).collect();
        assert_eq!(sent, ["one two three", "one", "one two"], "in their order");
        // One more left waiting, for the next start to discard.
        pause_from_palette(&mut h, &r.bell);
        queue_paused(&mut h, &r.bell, &[" four"]);
    }
    common::wait_unlocked(&r.waiting_file());
    let mut h = r.app_keeping_waiting(paused_state(&r));
    step_until(
        &mut h,
        &r.bell,
        Duration::from_secs(10),
        "the notice",
        |h| {
            h.query_by_label_contains("1 job waiting from last time")
                .is_some()
        },
    );
    h.get_by_role_and_label(egui::accesskit::Role::Button, "Discard")
        .click();
    step_until(&mut h, &r.bell, Duration::from_secs(5), "discarded", |h| {
        h.query_all_by_label("queued").count() == 0
    });
    assert_eq!(
        h.query_all_by_label("cancelled").count(),
        0,
        "gone, not shown cancelled"
    );
    h.run_steps(5);
    assert_eq!(
        r.sim.stats().v1_requests,
        3,
        "the discarded job was never sent"
    );
    // The queue works again (the restore's pause is over).
    step_until(&mut h, &r.bell, Duration::from_secs(5), "resumed", |h| {
        h.query_by_label("paused").is_none()
            && h.query_by_label_contains("waiting from last time")
                .is_none()
    });
    drop(h);
    common::wait_unlocked(&r.waiting_file());
    let left = WaitingStore::open(r.waiting_file()).unwrap().take_left();
    assert!(left.is_empty(), "nothing left on disk: {left:?}");
}

#[test]
fn a_result_is_refined_after_its_cost_is_shown_and_used_as_input() {
    let r = rig(50);
    let mut h = r.app(paused_state(&r));
    step_until(&mut h, &r.bell, Duration::from_secs(10), "the input", |h| {
        h.query_by_label_contains("figure.png").is_some()
    });
    h.get_by_role_and_label(egui::accesskit::Role::Button, "Generate")
        .click();
    step_until(&mut h, &r.bell, Duration::from_secs(30), "a result", |h| {
        h.query_all_by_label_contains("saved ").count() == 1
    });
    // The result's panels settle (their sizes are learnt over a frame or two).
    h.run_steps(5);
    h.get_by_role_and_label(egui::accesskit::Role::Button, "Refine ×2 (tile)")
        .click();
    h.run_steps(3);
    assert!(
        h.query_by_label_contains("output 1536 × 2048").is_some(),
        "what it sends is said first"
    );
    assert_eq!(
        h.query_all_by_label_contains("1 image ≈ $").count(),
        2,
        "and its cost (beside Generate's own line)"
    );
    assert_eq!(
        r.sim.stats().received.len(),
        1,
        "nothing sent before the go"
    );
    h.get_by_role_and_label(egui::accesskit::Role::Button, "Refine")
        .click();
    step_until(
        &mut h,
        &r.bell,
        Duration::from_secs(30),
        "the refined result",
        |h| h.query_all_by_label_contains("saved ").count() == 2,
    );
    let stats = r.sim.stats();
    let (first, refine) = (&stats.received[0], &stats.received[1]);
    assert_eq!(refine.params.cn_type, fluxcn::api::CnType::Tile);
    assert_eq!(
        (refine.params.custom_width, refine.params.custom_height),
        (1536, 2048)
    );
    assert!(!refine.params.use_input_img_dimension);
    assert_eq!(refine.params.prompt, first.params.prompt);
    assert_eq!(refine.params.seed, 77, "the seed it was made with");
    let pictures: Vec<std::path::PathBuf> = std::fs::read_dir(r.dir.path().join("gallery"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "jpg"))
        .collect();
    let parent = pictures
        .iter()
        .find(|p| image::image_dimensions(p).unwrap() == (768, 1024))
        .expect("the first result");
    let bytes = std::fs::read(parent).unwrap();
    use sha2::Digest as _;
    let sha: String = sha2::Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(
        refine.image_sha256.as_deref(),
        Some(sha.as_str()),
        "the picture as saved"
    );
    // "Use as input" makes the refined picture the input.
    h.run_steps(5);
    h.get_by_role_and_label(egui::accesskit::Role::Button, "Use as input")
        .click();
    let refined = std::fs::read_dir(r.dir.path().join("gallery"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            p.extension().is_some_and(|x| x == "jpg")
                && image::image_dimensions(p).unwrap() == (1536, 2048)
        })
        .expect("the refined picture");
    let name = refined.file_name().unwrap().to_string_lossy().into_owned();
    step_until(
        &mut h,
        &r.bell,
        Duration::from_secs(10),
        "the new input",
        |h| {
            h.query_by_label_contains("figure.png").is_none()
                && h.query_all_by_label_contains(&name).count() >= 1
        },
    );
    let side: serde_json::Value =
        serde_json::from_slice(&std::fs::read(refined.with_extension("json")).unwrap()).unwrap();
    assert_eq!(
        side["parent"],
        std::path::absolute(parent).unwrap().display().to_string(),
        "the refined picture names its parent"
    );
}

#[test]
fn an_input_framed_in_the_window_is_sent_as_the_overlay_says() {
    let r = rig(20);
    let mut h = r.app(paused_state(&r));
    step_until(
        &mut h,
        &r.bell,
        Duration::from_secs(10),
        "the preview",
        |h| {
            h.query_by_label_contains("Sends 768 × 1024 · output 768 × 1024")
                .is_some()
        },
    );
    h.get_by_label("Frame: turn, flip, crop, pad").click();
    h.run_steps(2);
    h.get_by_role_and_label(egui::accesskit::Role::Button, "Turn 90°")
        .click();
    h.run_steps(2);
    assert!(
        h.query_by_label_contains("Sends 1024 × 768").is_some(),
        "turned, the overlay says so"
    );
    h.get_by_label("Aspect").click();
    h.run_steps(2);
    h.get_by_label("1:1").click();
    h.run_steps(3);
    assert!(
        h.query_by_label_contains("Sends 768 × 768 · output 768 × 768")
            .is_some(),
        "cropped to a square"
    );
    // Drag the crop's right edge in by about a third of the preview: the crop is narrower and
    // stays square.
    let sends = |h: &Harness<'static, FluxApp>| {
        h.query_all_by_label_contains("Sends ")
            .find_map(|n| n.value())
            .unwrap_or_default()
    };
    let before = sends(&h);
    let preview = h.get_by_label("Input preview: drag to crop").rect();
    // The turned picture is 1024 wide in the preview's width; the square's right edge is at
    // 896 of it. Dragged a quarter of the preview to the left.
    let right = preview.left() + preview.width() * 896.0 / 1024.0;
    let from = egui::pos2(right - 2.0, preview.center().y);
    let to = from - egui::vec2(preview.width() / 4.0, 0.0);
    h.hover_at(from);
    h.run_steps(1);
    h.drag_at(from);
    h.run_steps(1);
    for k in 1..=4 {
        h.hover_at(from + (to - from) * (k as f32 / 4.0));
        h.run_steps(1);
    }
    h.drop_at(to);
    h.run_steps(3);
    let after = sends(&h);
    assert_ne!(after, before, "the crop moved");
    let n: u32 = after
        .trim_start_matches("Sends ")
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!((480..=540).contains(&n), "{after}");
    assert!(
        after.starts_with(&format!("Sends {n} × {n}")),
        "still square: {after}"
    );
    h.get_by_role_and_label(egui::accesskit::Role::Button, "Generate")
        .click();
    step_until(&mut h, &r.bell, Duration::from_secs(30), "a result", |h| {
        h.query_all_by_label_contains("saved ").count() == 1
    });
    // The result's details say how its input was framed.
    h.run_steps(3);
    assert!(
        h.query_by_label_contains("turned 90°, cropped to")
            .is_some(),
        "the framing is in the result's details"
    );
    let stats = r.sim.stats();
    let got = stats.received.last().unwrap();
    assert_eq!(
        got.input,
        fluxcn::sim::InputImage::Inline {
            width: n,
            height: n
        }
    );
    let sent = image::load_from_memory(&stats.last_image.clone().unwrap())
        .unwrap()
        .into_rgb8();
    let original = image::load_from_memory(&sim::demo_input_png())
        .unwrap()
        .into_rgb8();
    let turned = image::imageops::rotate90(&original);
    let want = image::imageops::crop_imm(&turned, 128, 0, n, n).to_image();
    let diff: u64 = sent
        .as_raw()
        .iter()
        .zip(want.as_raw())
        .map(|(a, b)| u64::from(a.abs_diff(*b)))
        .sum();
    let mean = diff as f64 / want.as_raw().len() as f64;
    assert!(
        mean < 3.0,
        "the pixels sent are the turned, centred square: {mean}"
    );
}
