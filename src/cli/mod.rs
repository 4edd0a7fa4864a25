//! The command line: `fluxcn` opens the window; `fluxcn generate|compare|resume|credits|key|gallery|diff|sim` run
//! the same engine without one. Saved paths go to stdout one per line; progress and errors to stderr.

mod args;
mod commands;
mod diff;
mod gallery;
mod like;
mod variations;

pub use args::{Cli, Cmd, GenArgs};
pub use commands::{CliError, run};
