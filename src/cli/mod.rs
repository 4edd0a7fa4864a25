//! The command line: `fluxcn` opens the window; `fluxcn generate|compare|batch|resume|spend|credits|key|gallery|diff|sim` run
//! the same engine without one. Saved paths go to stdout one per line; progress and errors to stderr.

mod app;
mod args;
mod batch;
mod commands;
mod diff;
mod engine;
mod gallery;
mod knobs;
mod like;
mod reconcile;
mod spend;
mod variations;

pub use args::{Cli, Cmd, GenArgs};
pub use commands::{CliError, run};
pub use knobs::{Knobs, flag_name};
