//! Files in and out: input images (good and bad), the gallery store and its catalog across processes, kept inputs, metadata written and read (ours and other tools'), and the bad-input catalogue (docs/bad-inputs.md).
//!
//! One test binary per concern (each binary links the whole crate once); a module per former
//! test file. Shared rigs live in `tests/common`.
// Test code: a failed unwrap is a failed test; a test reads top to bottom as one story.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

#[path = "../common/mod.rs"]
mod common;

mod bad_inputs_answers;
mod bad_inputs_files;
mod catalog_processes;
mod gallery_inputs;
mod gallery_store_files;
mod gallery_store_settings;
mod hardening_gallery;
mod hardening_input;
mod input_files;
mod metadata_foreign;
mod metadata_roundtrip;
