//! Job events as the job runtime sends them to the UI, made by hand for the UI test files.
#![allow(dead_code)] // each test crate uses its own subset

use std::path::PathBuf;
use std::sync::Arc;

use fluxcn::api::Accounting;
use fluxcn::jobs::{Event, JobId, SavedImage};

/// A job `id` done: one 16×16 image saved at `path` (with its sidecar beside it), with a preview.
pub fn done_event(id: JobId, path: &str) -> Event {
    Event::Done {
        id,
        images: vec![SavedImage {
            path: PathBuf::from(path),
            sidecar: PathBuf::from(path).with_extension("json"),
            width: 16,
            height: 16,
            seed: 5,
            preview: Some(Arc::new(image::RgbaImage::new(16, 16))),
        }],
        accounting: Accounting::default(),
    }
}
