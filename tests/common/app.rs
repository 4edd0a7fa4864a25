//! The whole app (`FluxApp`) hosted headless in egui_kittest, for the `ui_app*` test files: the test
//! stands in for the job runtime (reading the commands the window sends, feeding events back) and
//! for the services (taking `Services::manual()`'s requests and answering them).
#![allow(dead_code)] // each test crate uses its own subset

use std::path::PathBuf;
use std::sync::Arc;

use egui::accesskit::Role;
use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT, Queryable};
use fluxcn::api::Credits;
use fluxcn::jobs::services::Request;
use fluxcn::jobs::{
    Command, Event, InputPreview, InputSource, JobsHandle, KeyState, RuntimeConfig, ServiceError,
    Services,
};
use fluxcn::ui::{FilePicker, FluxApp, LaunchOptions, State};
use tokio::sync::mpsc::UnboundedReceiver;

pub const KEY: &str = "SG_0123456789abcdef";

/// The test's end of the channels: what the window sent, and a way to answer.
pub struct FakeRuntime {
    pub commands: UnboundedReceiver<Command>,
    pub events: std::sync::mpsc::Sender<Event>,
    /// The services' inbox: the window's one-off requests.
    pub requests: std::sync::mpsc::Receiver<Request>,
    /// The requests that arrived and are not answered yet, oldest first. Each keeps its reply
    /// alive, so the window sees it as waiting (a dropped reply would read as a stopped worker).
    pub asked: Vec<Request>,
}

impl FakeRuntime {
    pub fn sent(&mut self) -> Vec<Command> {
        let mut out = Vec::new();
        while let Ok(c) = self.commands.try_recv() {
            out.push(c);
        }
        out
    }
    pub fn feed(&self, e: Event) {
        self.events.send(e).unwrap();
    }
    /// Every request not answered yet (including those that arrived since the last look).
    pub fn asked(&mut self) -> &[Request] {
        self.asked.extend(self.requests.try_iter());
        &self.asked
    }
    /// Takes the oldest unanswered request that `pick` accepts, to answer it.
    pub fn take(&mut self, what: &str, pick: impl Fn(&Request) -> bool) -> Request {
        self.asked.extend(self.requests.try_iter());
        let i = self
            .asked
            .iter()
            .position(pick)
            .unwrap_or_else(|| panic!("no {what} request in {:?}", self.asked));
        self.asked.remove(i)
    }
    /// Answers the request for the preview of `source`.
    pub fn answer_input(
        &mut self,
        source: &InputSource,
        result: Result<InputPreview, ServiceError>,
    ) {
        match self.take(
            "LoadInput",
            |r| matches!(r, Request::LoadInput { source: s, .. } if s == source),
        ) {
            Request::LoadInput { reply, .. } => {
                assert!(reply.send(result).is_ok(), "reply dropped")
            }
            _ => unreachable!(),
        }
    }
    /// Answers the oldest request for the credit balance.
    pub fn answer_credits(&mut self, result: Result<Credits, ServiceError>) {
        match self.take("Credits", |r| matches!(r, Request::Credits { .. })) {
            Request::Credits { reply, .. } => assert!(reply.send(result).is_ok(), "reply dropped"),
            _ => unreachable!(),
        }
    }
    /// Answers the oldest request whose answer is the key's state (`KeyState` or `SaveKey`).
    pub fn answer_key(&mut self, state: KeyState) {
        match self.take("KeyState or SaveKey", |r| {
            matches!(r, Request::KeyState { .. } | Request::SaveKey { .. })
        }) {
            Request::KeyState { reply } | Request::SaveKey { reply, .. } => {
                assert!(reply.send(state).is_ok(), "reply dropped")
            }
            _ => unreachable!(),
        }
    }
}

/// A picker that "chooses" a fixed file without opening anything.
pub struct FakePicker(pub PathBuf);
impl FilePicker for FakePicker {
    fn pick_image(&self, wake: Box<dyn Fn() + Send>) -> fluxcn::jobs::Pending<Option<PathBuf>> {
        wake();
        fluxcn::jobs::Pending::ready(Some(self.0.clone()))
    }
}

pub fn opts() -> LaunchOptions {
    LaunchOptions {
        demo: false,
        autogenerate: false,
        initial: RuntimeConfig::default(),
        demo_input: None,
    }
}

pub fn start_with(state: State, opts: LaunchOptions) -> (Harness<'static, FluxApp>, FakeRuntime) {
    let (ctx_tx, ctx_rx) = tokio::sync::mpsc::unbounded_channel();
    let (ev_tx, ev_rx) = std::sync::mpsc::channel();
    let (services, requests) = Services::manual();
    let handle = JobsHandle::from_channels(ctx_tx, ev_rx, services);
    let app = FluxApp::with_state(state, opts, handle)
        .with_picker(Box::new(FakePicker(PathBuf::from("/pics/pose.png"))));
    let mut h = Harness::builder()
        .with_size(egui::vec2(1280.0, 900.0))
        .build_eframe(move |_cc| app);
    h.run_steps(4);
    (
        h,
        FakeRuntime {
            commands: ctx_rx,
            events: ev_tx,
            requests,
            asked: Vec::new(),
        },
    )
}

pub fn start() -> (Harness<'static, FluxApp>, FakeRuntime) {
    start_with(State::default(), opts())
}

pub fn preview(source: InputSource) -> InputPreview {
    InputPreview {
        source,
        image: Arc::new(image::RgbaImage::from_pixel(
            16,
            12,
            image::Rgba([9, 9, 9, 255]),
        )),
        width: 1600,
        height: 1200,
        bytes: 812_345,
    }
}

// Spinners repaint forever, so the tests step a fixed number of frames instead of `run()`.

/// Types a URL, uses it, and answers the preview request like the runtime would.
pub fn load_url_input(h: &mut Harness<'static, FluxApp>, rt: &mut FakeRuntime) -> InputSource {
    let url = "https://example.com/pose.jpg";
    h.get_by_role_and_label(Role::TextInput, "URL").focus();
    h.get_by_role_and_label(Role::TextInput, "URL")
        .type_text(url);
    h.run_steps(4);
    h.get_by_label("Use").click();
    h.run_steps(4);
    let src = InputSource::Url(url.into());
    let asked = rt.asked();
    assert!(
        asked
            .iter()
            .any(|r| matches!(r, Request::LoadInput { source, .. } if *source == src)),
        "{asked:?}"
    );
    rt.answer_input(&src, Ok(preview(src.clone())));
    h.run_steps(4);
    src
}

pub fn type_prompt(h: &mut Harness<'static, FluxApp>, text: &str) {
    h.get_by_role_and_label(Role::MultilineTextInput, "Prompt")
        .focus();
    h.get_by_role_and_label(Role::MultilineTextInput, "Prompt")
        .type_text(text);
    h.run_steps(4);
}

pub fn submitted(cmds: &[Command]) -> Vec<(u64, fluxcn::jobs::JobSpec)> {
    cmds.iter()
        .filter_map(|c| match c {
            Command::Submit { id, spec } => Some((*id, spec.clone())),
            _ => None,
        })
        .collect()
}

pub fn generate_enabled(h: &Harness<'static, FluxApp>) -> bool {
    !h.get_by_role_and_label(Role::Button, "Generate")
        .accesskit_node()
        .is_disabled()
}

/// Types `text` into the number field `label` (select all first), then Enter.
pub fn type_into_number(h: &mut Harness<'static, FluxApp>, label: &str, text: &str) {
    let node = h.get_by_role_and_label(Role::SpinButton, label);
    node.focus();
    h.run_steps(4);
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
    h.run_steps(4);
    h.get_by_role_and_label(Role::SpinButton, label)
        .type_text(text);
    h.run_steps(4);
    h.key_press(egui::Key::Enter);
    h.run_steps(4);
}

/// Clicks Generate and answers the job as done: one image saved at `path(id)` with `seed` and
/// `preview` (its size is the preview's, 64×64 without one). Returns the job's id.
pub fn generate_and_finish_at(
    h: &mut Harness<'static, FluxApp>,
    rt: &mut FakeRuntime,
    path: impl FnOnce(u64) -> PathBuf,
    seed: i64,
    preview: Option<Arc<image::RgbaImage>>,
) -> u64 {
    h.get_by_role_and_label(Role::Button, "Generate").click();
    h.run_steps(4);
    let (id, _) = submitted(&rt.sent()).remove(0);
    let path = path(id);
    let (width, height) = preview
        .as_ref()
        .map_or((64, 64), |p| (p.width(), p.height()));
    rt.feed(Event::Done {
        id,
        images: vec![fluxcn::jobs::SavedImage {
            sidecar: path.with_extension("json"),
            path,
            width,
            height,
            seed,
            preview,
        }],
        accounting: fluxcn::api::Accounting::default(),
    });
    h.run_steps(4);
    id
}

/// The window's clock (egui's input time) at the last frame.
pub fn clock<S>(h: &Harness<'_, S>) -> f64 {
    h.ctx.input(|i| i.time)
}

/// Stops the window's clock where it is: later steps draw at this same moment until
/// [`advance_clock`] moves it. (Unfrozen, each step moves it by the harness's step, 1/4 s.)
pub fn freeze_clock<S>(h: &mut Harness<'_, S>) {
    let t = clock(h);
    h.input_mut().time = Some(t);
}

/// Moves the (frozen) window clock on by `d`; the next step draws at the new moment.
pub fn advance_clock<S>(h: &mut Harness<'_, S>, d: std::time::Duration) {
    let t = clock(h) + d.as_secs_f64();
    h.input_mut().time = Some(t);
}
