//! The desktop app. (Stub with the agreed entry points; the window lands from the `ui` branch.)

use crate::jobs::{InputSource, JobsHandle, RuntimeConfig};

pub type Notify = crate::jobs::Notify;

/// How the window is opened.
pub struct LaunchOptions {
    pub demo: bool,
    pub autogenerate: bool,
    pub initial: RuntimeConfig,
    pub demo_input: Option<InputSource>,
}

/// Opens the window and runs until it is closed.
pub fn run(
    _opts: LaunchOptions,
    _start_jobs: Box<dyn FnOnce(Notify) -> JobsHandle>,
) -> Result<(), eframe::Error> {
    Ok(())
}

pub mod compare_view;
pub mod gallery_panel;
pub mod zoom;
