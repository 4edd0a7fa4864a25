//! The one-off requests, each carrying its own reply: what a [`super::Services`] call sends and
//! what `serve.rs` (or a panel test holding the inbox) answers.

use std::path::PathBuf;
use std::sync::Arc;

use tokio::sync::oneshot;

use super::ServiceError;
use crate::api::{ApiKey, Credits, GenParams};
use crate::gallery::Entry;
use crate::jobs::export::GridCell;
use crate::jobs::grid::GridPlan;
use crate::jobs::types::RuntimeConfig;
use crate::types::{InputPreview, InputSource, KeyState};

/// The gallery listing, newest first, shared without copying.
pub type Listing = Arc<Vec<Entry>>;

/// Where a request's answer goes (dropping it unanswered makes the caller see `Poll::Lost`).
pub type Reply<T> = oneshot::Sender<T>;

/// One one-off request and the reply it carries.
#[derive(Debug)]
pub enum Request {
    Credits {
        cfg: RuntimeConfig,
        reply: Reply<Result<Credits, ServiceError>>,
    },
    LoadInput {
        source: InputSource,
        reply: Reply<Result<InputPreview, ServiceError>>,
    },
    KeyState {
        reply: Reply<KeyState>,
    },
    SaveKey {
        key: Option<ApiKey>,
        reply: Reply<KeyState>,
    },
    GalleryList {
        reply: Reply<Result<Listing, ServiceError>>,
    },
    Thumbnail {
        id: String,
        max_side: u32,
        reply: Reply<Result<Arc<image::RgbaImage>, ServiceError>>,
    },
    OpenImage {
        id: String,
        reply: Reply<Result<Arc<image::RgbaImage>, ServiceError>>,
    },
    SetFavourite {
        id: String,
        favourite: bool,
        reply: Reply<Result<Listing, ServiceError>>,
    },
    Delete {
        id: String,
        reply: Reply<Result<Listing, ServiceError>>,
    },
    UndoDelete {
        id: String,
        reply: Reply<Result<Listing, ServiceError>>,
    },
    ReadSettings {
        path: PathBuf,
        reply: Reply<Result<GenParams, ServiceError>>,
    },
    ExportGrid {
        plan: Box<GridPlan>,
        cells: Vec<GridCell>,
        out: PathBuf,
        reply: Reply<Result<PathBuf, ServiceError>>,
    },
    Reveal {
        path: PathBuf,
        reply: Reply<Result<(), ServiceError>>,
    },
}
