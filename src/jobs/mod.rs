//! The background job runtime: a queue of generations run on a tokio runtime, with bounded
//! concurrency, pacing, retries (in the client), cancellation, a crash journal, and events back to
//! whoever submitted them (the UI or the CLI).
//!
//! Commands go in over [`JobsHandle::send`]; [`Event`]s come out over a channel that the UI drains
//! each frame (the runtime calls the `notify` hook, e.g. `ctx.request_repaint()`, after each event).

pub mod batch;
pub mod budget;
pub mod clients;
pub mod export;
pub mod grid;
pub mod journal;
pub mod ledger;
mod lineup;
mod locked_files;
pub mod pacer;
pub mod places;
pub mod reconcile;
mod resume;
pub mod runtime;
mod samples;
mod save;
pub mod services;
pub mod settle;
pub mod types;
mod uploads;
pub mod variations;
pub mod waiting;

pub use crate::api::media::decode_preview;
pub use places::Places;
pub use runtime::{Notify, RuntimeDeps, start};
pub use services::{Pending, PendingSet, Poll, ServiceError, Services, WORKER_STOPPED};
pub use types::*;
