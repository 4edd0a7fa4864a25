//! The one-off requests, each carrying its own reply: what a [`super::Services`] call sends and
//! what `serve.rs` (or a panel test holding the inbox) answers.

use std::path::PathBuf;
use std::sync::Arc;

use tokio::sync::oneshot;

use super::ServiceError;
use crate::api::{ApiKey, Credits, GenParams};
use crate::gallery::Entry;
use crate::gallery::catalog::{Query, Row};
use crate::jobs::export::GridCell;
use crate::jobs::grid::GridPlan;
use crate::jobs::types::RuntimeConfig;
use crate::types::{InputPreview, InputSource, KeyState};

/// A picture's lineage in the gallery.
#[derive(Debug, Clone, Default)]
pub struct Lineage {
    /// The picture it was made from: its entry when it is in this gallery, else its path.
    pub parent: Option<Result<Entry, String>>,
    /// The pictures made from it (refined, or using it as their input), oldest first.
    pub children: Vec<Entry>,
}

/// A gallery search's answer: the matching pictures in the search's order, and how many the
/// gallery holds in all.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Found {
    pub rows: Vec<Row>,
    pub total: usize,
}

/// What a saved image restores: its settings, and its kept input image when there is one.
#[derive(Debug, Clone, PartialEq)]
pub struct Restored {
    pub params: GenParams,
    pub input: Option<PathBuf>,
    /// Where the settings came from and what did not map, one line (`Settings read from
    /// ComfyUI metadata; 2 notes: …`).
    pub summary: String,
}

/// A batch file read and planned: its lines and what a run would do with each.
#[derive(Debug)]
pub struct BatchPreview {
    /// The batch's name in the journal (the file's absolute path).
    pub name: String,
    pub lines: Vec<crate::jobs::batch::BatchLine>,
    pub plan: crate::jobs::batch::Plan,
}

/// A gallery listing, shared without copying.
pub type Listing = Arc<Found>;

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
    /// The ledger set beside the account's history of the last `days` days (see
    /// [`crate::jobs::reconcile`]).
    Reconcile {
        cfg: RuntimeConfig,
        days: u32,
        import: bool,
        reply: Reply<Result<crate::jobs::reconcile::Reconciled, ServiceError>>,
    },
    /// What the ledger says was spent, with the last `days` days.
    Spend {
        days: u32,
        reply: Reply<Result<crate::jobs::ledger::Spend, ServiceError>>,
    },
    /// Reads a batch file and plans its run against the gallery's batch journal.
    ReadBatch {
        path: PathBuf,
        resend_unknown: bool,
        reply: Reply<Result<Arc<BatchPreview>, ServiceError>>,
    },
    GalleryList {
        query: Query,
        reply: Reply<Result<Listing, ServiceError>>,
    },
    /// The newest `limit` pictures of the gallery, newest first (the Result tab's history).
    Recent {
        limit: usize,
        reply: Reply<Result<Listing, ServiceError>>,
    },
    GalleryGet {
        id: String,
        reply: Reply<Result<Entry, ServiceError>>,
    },
    /// The picture `entry` was made from and the pictures made from it.
    Lineage {
        entry: Box<Entry>,
        reply: Reply<Result<Lineage, ServiceError>>,
    },
    /// The newest gallery picture a job with `params` and `input` would make again (same settings,
    /// seed and control image), if any; `max_input_side` prepares a local input as the runtime
    /// would, to compare its content with the inputs the gallery kept.
    FindSame {
        params: GenParams,
        input: InputSource,
        framing: crate::api::framing::Framing,
        max_input_side: u32,
        reply: Reply<Result<Option<Entry>, ServiceError>>,
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
        query: Query,
        reply: Reply<Result<Listing, ServiceError>>,
    },
    SetRating {
        id: String,
        rating: u8,
        query: Query,
        reply: Reply<Result<Listing, ServiceError>>,
    },
    Delete {
        id: String,
        query: Query,
        reply: Reply<Result<Listing, ServiceError>>,
    },
    UndoDelete {
        id: String,
        query: Query,
        reply: Reply<Result<Listing, ServiceError>>,
    },
    /// What is in the gallery's trash.
    Trash {
        reply: Reply<Result<Vec<crate::gallery::Trashed>, ServiceError>>,
    },
    /// Deletes the trash for good; answers with how many pictures went.
    EmptyTrash {
        reply: Reply<Result<usize, ServiceError>>,
    },
    ReadResult {
        path: PathBuf,
        reply: Reply<Result<Restored, ServiceError>>,
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
