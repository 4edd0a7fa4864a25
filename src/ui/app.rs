//! The app: its state, the message loop (commands out, events in, once per frame) and the layout of
//! the panels. The app holds the shared state and one part per panel (`parts.rs`); each panel's
//! drawing lives in its own module as an `impl FluxApp` block that reads its part, and the frame's
//! commands (`commands.rs`) are run in one place, [`FluxApp::run_command`].

use std::time::Duration;

use crate::api::Credits;
use crate::jobs::{
    self, Command, InputPreview, InputSource, JobSpec, JobsHandle, KeyState, Pending, PendingSet,
    ServiceError,
};

use super::LaunchOptions;
use super::commands::UiCommand;
use super::picker::{FilePicker, NativePicker};
use super::session::{JobEntry, Session};
use super::state::{STORAGE_KEY, State};

/// The width of the queue's strip while nothing is queued.
pub(crate) const QUEUE_STRIP: f32 = 64.0;

/// The prompt demo mode starts with when none was saved.
const DEMO_PROMPT: &str = "a dancer on a sunlit stage, dramatic rim light, film photo";

/// The input image as the window shows it.
pub(crate) struct InputView {
    pub source: InputSource,
    pub texture: Option<egui::TextureHandle>,
    pub preview: Option<InputPreview>,
    /// Why the input cannot be used (shown in red).
    pub error: Option<String>,
    /// The preview asked of the services, until it answers.
    pub pending: Option<Pending<Result<InputPreview, ServiceError>>>,
    /// The name to show instead of the source (a kept copy restored from the gallery shows the
    /// original file's name, not `.inputs/<hash>`).
    pub shown_as: Option<String>,
    /// How it is framed before it is sent (a new input starts unframed).
    pub framing: super::framing_panel::FramingUi,
}

/// The credit balance as last heard.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum CreditsView {
    /// The paid credits, and the free credits when the service said them (both as Segmind
    /// reports them from `/v1/get-user-credits`).
    Known {
        credits: f64,
        free: Option<f64>,
    },
    Unavailable(String),
}

/// The desktop app: what the panels share (the saved state, the session's jobs and results, the
/// notices) and each part's own state, routed in one place (`ui()` and [`FluxApp::run_command`]).
pub struct FluxApp {
    pub(crate) state: State,
    pub(crate) session: Session,
    pub(crate) notices: Vec<String>,
    /// The runtime and the services.
    pub(crate) backend: super::parts::Backend,
    /// What the launcher decided (demo, a session key, a base URL that wins).
    pub(crate) launch: super::parts::Launch,
    /// The input panel: the image, its URL field, the pickers and drops.
    pub(crate) inputs: super::parts::InputPart,
    /// The controls panel: undo, the prompt history, what Generate waits for.
    pub(crate) knobs: super::parts::KnobsPart,
    /// The Result tab: the large image's zoom, the comparison, the recent results.
    pub(crate) results: super::parts::ResultPart,
    /// The settings window and the key's state.
    pub(crate) settings_ui: super::parts::SettingsPart,
    /// The credit balance and the spend.
    pub(crate) account: super::parts::Account,
    /// The central panel's tabs and the views that own their state.
    pub(crate) tabs: super::parts::Tabs,
    /// The frame's commands, the palette and the shortcuts sheet.
    pub(crate) ui_commands: super::parts::Commands,
}

/// The views of the central panel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Tab {
    #[default]
    Result,
    Compare,
    Gallery,
    Batch,
}

impl FluxApp {
    /// The app as eframe creates it: the saved state restored from eframe's storage.
    pub fn new(cc: &eframe::CreationContext<'_>, opts: LaunchOptions, jobs: JobsHandle) -> FluxApp {
        let state = cc
            .storage
            .and_then(|s| eframe::get_value::<State>(s, STORAGE_KEY))
            .unwrap_or_default();
        let mut app = FluxApp::with_state(state, opts, jobs);
        app.tabs
            .compare
            .set_save_dialog(std::sync::Arc::new(super::picker::NativePicker));
        app
    }

    /// The app with a given state (tests, or a launcher with its own storage). Sends `Configure`
    /// and `CheckKey` (and `RefreshCredits` when the launcher gave a key).
    pub fn with_state(state: State, opts: LaunchOptions, jobs: JobsHandle) -> FluxApp {
        let state = state.sanitized();
        let default_base = crate::api::DEFAULT_API_BASE;
        let base_override = (opts.demo || opts.initial.api_base.trim() != default_base)
            .then(|| opts.initial.api_base.clone());
        let url_entry = match &state.input {
            Some(InputSource::Url(u)) => u.clone(),
            _ => String::new(),
        };
        let mut app = FluxApp {
            state,
            session: Session::default(),
            notices: Vec::new(),
            backend: super::parts::Backend {
                jobs,
                runtime_gone: false,
            },
            launch: super::parts::Launch {
                demo: opts.demo,
                session_key: opts.initial.key.clone(),
                base_override,
                pending_autogenerate: false,
                fresh_start: true,
            },
            inputs: super::parts::InputPart {
                input: None,
                url_entry,
                url_error: None,
                picker: Box::new(NativePicker),
                picking: PendingSet::default(),
                pasting: PendingSet::default(),
                pending_drops: Vec::new(),
            },
            knobs: Default::default(),
            results: Default::default(),
            settings_ui: Default::default(),
            account: Default::default(),
            tabs: Default::default(),
            ui_commands: Default::default(),
        };
        app.send_configure();
        app.settings_ui.stored_settings = app.state.settings.clone();
        app.tabs
            .compare
            .set_services(app.backend.jobs.services().clone());
        app.settings_ui.pending_key = Some(app.backend.jobs.services().key_state());
        app.account.spend.refresh(app.backend.jobs.services());
        if app.launch.session_key.is_some() {
            app.refresh_credits();
        }
        if let Some(input) = app.state.input.clone() {
            app.set_input(input);
        }
        // Demo mode starts ready to go: the sample input and a prompt, so the first click on
        // Generate shows a result (the artist's own input and prompt, once chosen, are kept).
        if let (true, Some(demo_input)) = (opts.demo, opts.demo_input) {
            if app.state.params.prompt.trim().is_empty() {
                app.state.params.prompt = DEMO_PROMPT.to_owned();
            }
            if app.inputs.input.is_none() || opts.autogenerate {
                app.set_input(demo_input);
            }
            app.launch.pending_autogenerate = opts.autogenerate;
        }
        app
    }

    /// Replaces the "Open…" dialog (tests use one that never opens a window).
    pub fn with_picker(mut self, picker: Box<dyn FilePicker>) -> FluxApp {
        self.inputs.picker = picker;
        self
    }

    /// What would be persisted now.
    pub fn state(&self) -> &State {
        &self.state
    }

    /// The state, for tests and launchers that change it from outside.
    pub fn state_mut(&mut self) -> &mut State {
        &mut self.state
    }

    /// Sends a command; a stopped runtime is reported once, in the window.
    pub(crate) fn send(&mut self, c: Command) {
        if !self.backend.jobs.send(c) && !self.backend.runtime_gone {
            self.backend.runtime_gone = true;
            self.notices
                .push(crate::jobs::services::WORKER_STOPPED_RESTART.into());
        }
    }

    /// Asks the services for the credit balance (free); the answer lands in the top bar.
    pub(crate) fn refresh_credits(&mut self) {
        let cfg = self.state.runtime_config(
            self.launch.base_override.as_deref(),
            self.launch.session_key.clone(),
        );
        self.account.pending_credits = Some(self.backend.jobs.services().credits(&cfg));
    }

    /// Sends the runtime the configuration the settings ask for.
    pub(crate) fn send_configure(&mut self) {
        let cfg = self.state.runtime_config(
            self.launch.base_override.as_deref(),
            self.launch.session_key.clone(),
        );
        self.send(Command::Configure(cfg));
    }

    /// Makes `source` the input image and asks the runtime for its preview.
    pub(crate) fn set_input(&mut self, source: InputSource) {
        self.set_input_named(source, None);
    }

    /// [`FluxApp::set_input`], shown under `shown_as` (the original name of a kept copy).
    pub(crate) fn set_input_named(&mut self, source: InputSource, shown_as: Option<String>) {
        self.state.input = match &source {
            InputSource::File(_) | InputSource::Url(_) => Some(source.clone()),
            InputSource::Bytes { .. } => None,
        };
        // The URL field shows this input's URL, or nothing: never an earlier one.
        self.inputs.url_entry = match &source {
            InputSource::Url(u) => u.clone(),
            InputSource::File(_) | InputSource::Bytes { .. } => String::new(),
        };
        self.inputs.url_error = None;
        self.inputs.input = Some(InputView {
            source: source.clone(),
            texture: None,
            preview: None,
            error: None,
            pending: Some(self.backend.jobs.services().load_input(source)),
            shown_as: shown_as.filter(|s| !s.trim().is_empty()),
            framing: Default::default(),
        });
    }

    /// Why Generate cannot run now, in plain words; `None` when it can.
    pub(crate) fn generate_blocker(&self) -> Option<String> {
        if self.state.params.prompt.trim().is_empty() {
            return Some("Write a prompt first.".into());
        }
        let Some(input) = &self.inputs.input else {
            return Some(
                "Choose an input image first: Open…, drop a file, paste, or give a URL.".into(),
            );
        };
        if let (Some(err), false) = (&input.error, matches!(input.source, InputSource::Url(_))) {
            return Some(format!("The input image cannot be used: {err}"));
        }
        if let Some(why) = self.framing_problem() {
            return Some(why);
        }
        if matches!(
            self.settings_ui.key_state,
            Some(KeyState::Missing | KeyState::Unavailable(_))
        ) && self.launch.session_key.is_none()
        {
            return Some("No API key: add one in Settings (or set SEGMIND_API_KEY).".into());
        }
        if self.backend.runtime_gone {
            return Some(crate::jobs::services::WORKER_STOPPED_RESTART.into());
        }
        if let Some(p) = self.state.params.problems().into_iter().next() {
            return Some(format!("The service would refuse this: {p}."));
        }
        if let Some(why) = self.template_problem() {
            return Some(why);
        }
        self.budget_blocker_short(self.images_per_click())
    }

    /// Submits one generation with the current parameters and input, if nothing blocks it.
    pub(crate) fn generate(&mut self) {
        if self.generate_blocker().is_some() {
            return;
        }
        let Some(input) = self.inputs.input.as_ref().map(|i| i.source.clone()) else {
            return;
        };
        let mut params = self.state.params.clamped();
        params.seed = self.state.settings.seed_mode.seed_for_run(params.seed);
        let spec = JobSpec {
            input,
            params,
            api: self.state.settings.api_version,
            group: None,
            prompt_template: None,
            batch: None,
            framing: self.framing_now(),
        };
        self.knobs.browse.reset();
        self.check_then_submit(spec);
    }

    /// Queues `spec` under a fresh id (Generate, or an explicit Re-run). Its prompt (the template,
    /// for variations) joins the history now that it is sent, not when a question was asked.
    pub(crate) fn submit(&mut self, spec: JobSpec) {
        let prompt = spec
            .prompt_template
            .clone()
            .unwrap_or_else(|| spec.params.prompt.clone());
        self.state.prompt_history.remember(&prompt);
        let id = jobs::next_job_id();
        let mut spec = spec;
        if self.replace_edited(id, &mut spec) {
            return;
        }
        self.session
            .add_job(JobEntry::new(id, spec.clone(), self.session.now));
        if std::mem::take(&mut self.knobs.sending.front) {
            self.send(Command::SubmitNext { id, spec });
        } else {
            self.send(Command::Submit { id, spec });
        }
    }

    /// "Check with Segmind" on a card that may have been billed: the runtime asks the account's
    /// history (never sends it again); the card follows the answer like a running job.
    pub(crate) fn check_with_segmind(&mut self, id: crate::types::JobId) {
        let now = self.session.now;
        let Some(job) = self.session.jobs.iter_mut().find(|j| j.id == id) else {
            return;
        };
        let (spec, request_id) = (job.spec.clone(), job.request_id.clone());
        job.status = super::session::JobStatus::Active(crate::jobs::Stage::Remote {
            state: "asking Segmind".into(),
        });
        job.finished = None;
        job.stage_at = now;
        // A job id carries the time its process started (see `next_job_id`): the job was sent
        // after it.
        let from_ms = id >> 20;
        self.send(Command::Settle {
            id,
            spec,
            request_id,
            from_ms,
        });
    }

    /// Keyboard shortcuts, dropped files and pasted text/images.
    fn handle_input(&mut self, ctx: &egui::Context) {
        // Every shortcut of the window, read here once; run after the panels have drawn.
        let typing = ctx.memory(|m| m.focused().is_some());
        let asked = super::commands::take_shortcuts(ctx, typing, self.tabs.tab == Tab::Result);
        self.ui_commands.commands.extend(asked);
        let dropped = ctx.input(|i| i.raw.dropped_files.clone());
        let paths: Vec<std::path::PathBuf> =
            dropped.iter().map(|f| f.path().to_path_buf()).collect();
        if self.tabs.tab == Tab::Gallery && !paths.is_empty() {
            self.tabs
                .gallery
                .files_dropped(paths, self.backend.jobs.services());
        } else if let Some(p) = paths.into_iter().next() {
            // A saved image restores its settings; any other image becomes the input.
            let reading = self.backend.jobs.services().read_result(p.clone());
            self.inputs.pending_drops.push((p, reading));
        }
        // A paste into a text field is that field's; otherwise it is an input image.
        let typing = ctx.memory(|m| m.focused().is_some());
        if typing {
            return;
        }
        let events = ctx.input(|i| i.events.clone());
        for e in events {
            match e {
                egui::Event::Paste(text) => {
                    if let Some(InputSource::File(p)) = input_from_text(&text) {
                        // A pasted path is read as a dropped file is: a saved image restores
                        // its settings (and input), any other image becomes the input.
                        let reading = self.backend.jobs.services().read_result(p.clone());
                        self.inputs.pending_drops.push((p, reading));
                    } else if let Some(src) = input_from_text(&text) {
                        self.set_input(src);
                    } else {
                        self.notices.push(format!(
                            "The pasted text is neither an http(s) URL nor an image file path: {}",
                            shorten(&text, 80)
                        ));
                    }
                }
                egui::Event::PasteImage(img) => {
                    let encoding = self
                        .backend
                        .jobs
                        .services()
                        .compute(move || super::picker::pasted_png(&img));
                    self.inputs.pasting.push((), encoding);
                }
                _ => {}
            }
        }
    }
}

impl FluxApp {
    /// Does what `c` asks: the one place a command (a shortcut, a button, the palette) is run.
    pub(crate) fn run_command(&mut self, ctx: &egui::Context, c: UiCommand) {
        match c {
            // The shortcut sends what the tab on screen would: the comparison on the Compare tab.
            UiCommand::Generate if self.tabs.tab == Tab::Compare => {
                self.tabs.compare.request_send()
            }
            UiCommand::Generate => self.generate(),
            UiCommand::GenerateNext => {
                self.knobs.sending.front = true;
                self.generate();
            }
            UiCommand::PauseQueue => {
                let paused = self.session.paused;
                self.send(if paused {
                    Command::Resume
                } else {
                    Command::Pause
                });
            }
            UiCommand::CancelWaiting => self.send(Command::CancelWaiting),
            // In the Gallery, Ctrl+Z undoes the gallery's last action, never a knob's edit.
            UiCommand::Undo if self.tabs.tab == Tab::Gallery => {
                let services = self.backend.jobs.services().clone();
                self.tabs.gallery.undo_last(&services);
            }
            UiCommand::Undo => {
                self.knobs.undo.undo(&mut self.state.params);
            }
            UiCommand::Redo => {
                self.knobs.undo.redo(&mut self.state.params);
            }
            UiCommand::OpenImage => self.open_image_picker(ctx),
            UiCommand::CycleCompareMode => {
                self.results.result_compare.mode = self.results.result_compare.mode.next();
            }
            UiCommand::ShowResult => self.switch_tab(Tab::Result),
            UiCommand::ShowCompare => self.switch_tab(Tab::Compare),
            UiCommand::ShowGallery => self.switch_tab(Tab::Gallery),
            UiCommand::ShowBatch => self.switch_tab(Tab::Batch),
            UiCommand::ToggleSettings => {
                self.settings_ui.show_settings = !self.settings_ui.show_settings
            }
            UiCommand::ShowSpend => self.account.spend.show = true,
            UiCommand::ClearFinished => self.session.clear_finished(),
            UiCommand::CommandPalette => self.ui_commands.palette.show(),
            UiCommand::ShortcutsSheet => {
                self.ui_commands.palette.sheet = !self.ui_commands.palette.sheet
            }
        }
    }
}

impl FluxApp {
    /// Shows `tab`. A question about sending (variations, the same picture again) belongs to the
    /// view it was asked from: leaving it answers "Cancel", nothing is sent.
    pub(crate) fn switch_tab(&mut self, tab: Tab) {
        if tab != self.tabs.tab {
            self.knobs.sending.cancel_variations();
            self.knobs.confirm_duplicate = None;
            self.knobs.sending.duplicate_of = None;
            self.tabs.tab = tab;
        }
    }
}

impl eframe::App for FluxApp {
    fn ui(&mut self, ui: &mut egui::Ui, frame: &mut eframe::Frame) {
        let ctx = ui.ctx().clone();
        // One clock for the frame: events and new jobs are stamped with egui's time.
        self.session.now = super::clock::UiTime::of(&ctx);
        self.drain_events(&ctx);
        self.poll_services(&ctx);
        self.account.spend.poll(self.backend.jobs.services());
        if std::mem::take(&mut self.launch.pending_autogenerate) {
            self.generate();
        }
        self.handle_input(&ctx);
        self.top_bar(ui);
        self.key_banner(ui);
        self.notices_bar(ui);
        // The side panels take a share of the window, so the image keeps most of it at 900 px
        // as at 1920 (each can still be dragged wider, up to a limit).
        let width = ui.available_width();
        egui::Panel::left("controls")
            .resizable(true)
            .default_size((width * 0.3).clamp(250.0, 360.0))
            .min_size(240.0)
            .max_size((width * 0.45).max(260.0))
            .show(ui, |ui| {
                // Generate stays in view at the panel's foot; the knobs scroll above it.
                egui::Panel::bottom("generate_bar").show(ui, |ui| {
                    ui.add_space(6.0);
                    self.generate_row(ui);
                    ui.add_space(4.0);
                });
                let mut controls = egui::ScrollArea::vertical().id_salt("controls-scroll");
                if std::mem::take(&mut self.launch.fresh_start) {
                    controls = controls.vertical_scroll_offset(0.0);
                }
                controls.show(ui, |ui| {
                    self.input_panel(ui);
                    ui.separator();
                    self.controls_panel(ui);
                    super::notices::follow_keyboard_focus(ui);
                });
            });
        if self.session.jobs.is_empty() {
            // Nothing queued: a slim strip, and the room goes to the picture.
            egui::Panel::right("queue-empty")
                .resizable(false)
                .exact_size(QUEUE_STRIP)
                .show(ui, |ui| {
                    super::widgets::heading(ui, "Queue");
                    if self.session.paused {
                        // Paused with nothing in it: said, and undone from here.
                        ui.colored_label(super::widgets::WARN, "paused");
                        if ui
                            .small_button("Resume")
                            .on_hover_text("Send new jobs again as they come")
                            .clicked()
                        {
                            self.send(Command::Resume);
                        }
                    } else {
                        ui.weak("empty")
                            .on_hover_text("Nothing queued. Generate to start a job.");
                    }
                });
        } else {
            egui::Panel::right("queue")
                .resizable(true)
                .default_size((width * 0.22).clamp(180.0, 300.0))
                .min_size(170.0)
                .max_size((width * 0.4).max(200.0))
                .show(ui, |ui| self.queue_panel(ui));
        }
        egui::CentralPanel::default().show(ui, |ui| self.central(ui));
        if let Some(c) = self.ui_commands.palette.ui(&ctx) {
            self.ui_commands.commands.push(c);
        }
        self.ui_commands.palette.sheet_ui(&ctx);
        // The frame's commands, now that every panel has taken this frame's typing.
        for c in std::mem::take(&mut self.ui_commands.commands) {
            self.run_command(&ctx, c);
        }
        self.settings_window(&ctx);
        self.store_settings_now(&ctx, frame.storage_mut());
        self.sending_windows(&ctx);
        self.spend_window(&ctx);
        // An edit becomes one undo step once it settles: no drag held, no text being typed.
        let settled = !ctx.input(|i| i.pointer.any_down()) && ctx.memory(|m| m.focused().is_none());
        self.knobs.undo.observe(&self.state.params, settled);
        if ctx.input(|i| !i.raw.hovered_files.is_empty()) {
            super::notices::drop_overlay(&ctx);
        }
        if self.session.any_active() {
            // The queue's clocks tick.
            ctx.request_repaint_after(Duration::from_secs(1));
        }
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        eframe::set_value(storage, STORAGE_KEY, &self.state.sanitized());
    }
}

impl FluxApp {
    /// The central panel: the latest result, the comparison view or the gallery.
    fn central(&mut self, ui: &mut egui::Ui) {
        let mut tab = self.tabs.tab;
        ui.horizontal(|ui| {
            ui.selectable_value(&mut tab, Tab::Result, "Result");
            ui.selectable_value(&mut tab, Tab::Compare, "Compare");
            ui.selectable_value(&mut tab, Tab::Gallery, "Gallery");
            ui.selectable_value(&mut tab, Tab::Batch, "Batch");
        });
        self.switch_tab(tab);
        ui.separator();
        let mut out = Vec::new();
        let action = match self.tabs.tab {
            Tab::Result => {
                self.result_view(ui);
                None
            }
            Tab::Compare => {
                self.tabs.compare.set_export_dir(
                    self.session
                        .output_folder()
                        .or_else(|| super::settings::default_output_folder(self.launch.demo)),
                );
                let input = self
                    .inputs
                    .input
                    .as_ref()
                    // A URL has no preview (its "error" says so) and is sent as it is.
                    .filter(|v| v.error.is_none() || matches!(v.source, InputSource::Url(_)))
                    .map(|v| v.source.clone());
                let api = self.state.settings.api_version;
                self.tabs
                    .compare
                    .ui(ui, &self.state.params, input.as_ref(), api, &mut |c| {
                        out.push(c)
                    })
            }
            Tab::Gallery => self.tabs.gallery.ui(ui, self.backend.jobs.services()),
            Tab::Batch => {
                self.batch_tab(ui, &mut out);
                None
            }
        };
        // A comparison is refused whole when it does not fit today's budget (the runtime would
        // refuse its last cells one by one).
        let images: usize = out
            .iter()
            .map(|c| match c {
                Command::Submit { spec, .. } if spec.batch.is_none() => {
                    spec.params.samples.max(1) as usize
                }
                _ => 0,
            })
            .sum();
        if images > 0
            && let Some(refusal) = self.budget_blocker(images)
        {
            self.refuse_submits(&mut out, &refusal);
        }
        self.suggest_upload_once(&out);
        // Cells of the input on screen are framed as it is.
        let (input, framing) = (
            self.inputs.input.as_ref().map(|v| v.source.clone()),
            self.framing_now(),
        );
        for c in &mut out {
            if let Command::Submit { spec, .. } = c
                && Some(&spec.input) == input.as_ref()
            {
                spec.framing = framing;
            }
        }
        for c in out {
            if let Command::Submit { id, spec } = &c {
                // Comparison cells are jobs like any other: the queue lists them.
                self.session
                    .add_job(JobEntry::new(*id, spec.clone(), self.session.now));
            }
            self.send(c);
        }
        if let Some(action) = action {
            self.apply(action);
        }
    }
}

/// Paid plus free credits.
pub(crate) fn credits_total(c: &Credits) -> Option<f64> {
    c.total().filter(|t| t.is_finite())
}

/// A texture from a decoded preview (already downscaled off the UI thread; a preview larger than
/// the GPU allows is shrunk once more rather than refused).
pub(crate) fn texture(
    ctx: &egui::Context,
    name: &str,
    img: &image::RgbaImage,
) -> egui::TextureHandle {
    let max = u32::try_from(ctx.input(|i| i.max_texture_side)).unwrap_or(u32::MAX);
    let shrunk;
    let img = if img.width() > max || img.height() > max {
        shrunk = image::imageops::thumbnail(img, img.width().min(max), img.height().min(max));
        &shrunk
    } else {
        img
    };
    let size = [img.width() as usize, img.height() as usize];
    let color = egui::ColorImage::from_rgba_unmultiplied(size, img.as_raw());
    ctx.load_texture(name, color, egui::TextureOptions::LINEAR)
}

pub(crate) use super::text::{input_from_text, shorten};
