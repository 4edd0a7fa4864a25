//! The window, driven with egui_kittest: panels, layout, the tweak loop, compare, gallery, batch and spend, and the whole app end to end.
//!
//! One test binary per concern (each binary links the whole crate once); a module per former
//! test file. Shared rigs live in `tests/common`.
// Test code: a failed unwrap is a failed test; a test reads top to bottom as one story.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

#[path = "../common/mod.rs"]
mod common;

mod account;
mod app;
mod app_e2e;
mod app_tweaks;
mod batch_spend;
mod compare_view;
mod gallery_panel;
mod gallery_viewer;
mod layout_app;
mod layout_queue;
mod tweak_loop;
