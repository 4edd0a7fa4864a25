//! The desktop app: an eframe/egui window over the job runtime.
//!
//! The window never does network or disk I/O and never decodes images on its thread: it sends
//! [`crate::jobs::Command`]s through a [`JobsHandle`] and drains [`crate::jobs::Event`]s every frame.
//! Layout: a top bar (title, credits, demo banner, settings), the controls on the left, the queue on
//! the right, the result in the middle.

mod actions;
mod app;
mod batch_view;
pub mod clock;
pub mod commands;
mod controls;
mod framing_panel;
mod history;
mod input_panel;
mod notices;
mod palette;
mod parts;
mod picker;
mod queue;
mod queue_groups;
mod refine;
mod replies;
mod result_compare;
mod result_view;
mod sending;
pub mod session;
mod settings;
mod spend;
pub mod state;
mod text;
mod top_bar;
pub mod tweak;
pub mod widgets;

pub use app::FluxApp;
pub use picker::{FilePicker, NativePicker, SaveDialog};
pub use queue::RERUN_ARM;
pub use state::{SeedMode, Settings, State};

use crate::jobs::{InputSource, JobsHandle, RuntimeConfig};

pub type Notify = crate::jobs::Notify;

/// The app id: the window class (the `.desktop` file's `StartupWMClass`) and eframe's storage
/// folder (where the settings file lives).
pub(crate) const APP_ID: &str = "fluxcn";

/// The app's icon (256 × 256 PNG), the same as `assets/fluxcn.png`.
pub const ICON_PNG: &[u8] = include_bytes!("../../assets/fluxcn.png");

/// The window's title.
pub const TITLE: &str = "Flux ControlNet Studio";

/// How the window is opened.
pub struct LaunchOptions {
    /// Wired to the loopback stand-in: shows the demo banner, and the base URL is the stand-in's.
    pub demo: bool,
    /// Submit one generation with [`LaunchOptions::demo_input`] at start (`FLUXCN_AUTOGENERATE=1`).
    pub autogenerate: bool,
    /// The configuration the launcher started the runtime with (its key, if any, is used for this
    /// session only and never stored).
    pub initial: RuntimeConfig,
    /// The demo's input image.
    pub demo_input: Option<InputSource>,
}

/// Opens the window and runs until it is closed. `start_jobs` is called once, with a hook that
/// repaints the window, and returns the runtime's handle.
pub fn run(
    opts: LaunchOptions,
    start_jobs: Box<dyn FnOnce(Notify) -> JobsHandle>,
) -> Result<(), eframe::Error> {
    let mut viewport = egui::ViewportBuilder::default();
    // The window and taskbar icon (also installed with the .desktop file: see the README).
    match eframe::icon_data::from_png_bytes(ICON_PNG) {
        Ok(icon) => viewport = viewport.with_icon(std::sync::Arc::new(icon)),
        Err(e) => tracing::warn!(error = %e, "the window icon could not be read"),
    }
    let native = eframe::NativeOptions {
        viewport: viewport
            .with_title(TITLE)
            .with_inner_size([1280.0, 820.0])
            .with_min_inner_size([900.0, 560.0])
            .with_app_id(APP_ID)
            .with_drag_and_drop(true),
        persist_window: true,
        ..Default::default()
    };
    eframe::run_native(
        APP_ID,
        native,
        Box::new(move |cc| {
            let ctx = cc.egui_ctx.clone();
            let notify: Notify = std::sync::Arc::new(move || ctx.request_repaint());
            let jobs = start_jobs(notify);
            Ok(Box::new(FluxApp::new(cc, opts, jobs)))
        }),
    )
}

pub mod compare;
pub use compare as compare_view;
pub mod gallery_panel;
pub mod zoom;
