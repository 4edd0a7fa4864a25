//! The `fluxcn` binary as a user runs it: commands, batches, `diff`, and input errors on the command line.
//!
//! One test binary per concern (each binary links the whole crate once); a module per former
//! test file. Shared rigs live in `tests/common`.
// Test code: a failed unwrap is a failed test; a test reads top to bottom as one story.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

#[path = "../common/mod.rs"]
mod common;

mod cli_batch;
mod cli_diff;
mod commands;
mod framing;
mod hardening_input_cli;
mod refine;
