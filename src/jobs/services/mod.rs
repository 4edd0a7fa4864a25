//! One-off requests from the UI (and the CLI): each call runs off the UI thread and answers its
//! caller alone through the [`Pending`] it returns. Job control (submit, cancel, configure) is not
//! here: it stays a command stream answered by events (see [`super::JobsHandle`]).
//!
//! Each call becomes a [`Request`] that carries its own reply. In the app, the CLI and most tests
//! the requests are served at once by [`serve`] on the tokio runtime; a panel test can instead take
//! them from [`Services::manual`]'s inbox and answer them itself.
//!
//! To add a service: a variant in [`Request`], a method on [`Services`] that sends it, and its arm in
//! `serve.rs`.

mod pending;
mod request;
mod serve;

use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use pending::{Pending, PendingSet, Poll, WORKER_STOPPED, WORKER_STOPPED_RESTART, take};
pub use request::{BatchPreview, Found, Lineage, Listing, Reply, Request, Restored};

use super::clients::Clients;
use super::export::{ExportError, GridCell};
use super::grid::GridPlan;
use super::types::Notify;
use super::types::RuntimeConfig;
use crate::api::input::InputError;
use crate::api::{ApiError, ApiKey, Credits, GenParams};
use crate::gallery::catalog::Query;
use crate::gallery::{Entry, GalleryError, Store};
use crate::keystore::KeyStore;
use crate::types::{InputPreview, InputSource, KeyState};

/// Why a service call failed. `Display` is the message the user sees.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error(transparent)]
    Gallery(#[from] GalleryError),
    #[error(transparent)]
    Input(#[from] InputError),
    #[error(transparent)]
    Api(#[from] ApiError),
    #[error(transparent)]
    Export(#[from] ExportError),
    #[error(transparent)]
    Ledger(#[from] super::ledger::LedgerError),
    #[error(transparent)]
    Batch(#[from] super::batch::BatchError),
    #[error(transparent)]
    Reconcile(#[from] super::reconcile::ReconcileError),
    #[error("no spend ledger is open")]
    NoLedger,
    #[error("{id} is no longer in the gallery")]
    NotInGallery { id: String },
    #[error("could not read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not a readable image")]
    NotAnImage { path: PathBuf },
    #[error("could not open {path}: {source}")]
    Reveal {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The work itself panicked or was cut short (a bug or a shutdown); nothing else is known.
    #[error("a background task failed: {0}")]
    Task(String),
}

/// The services' end: cheap to clone; every call returns at once with a [`Pending`] reply.
#[derive(Clone)]
pub struct Services {
    backend: Backend,
}

#[derive(Clone)]
enum Backend {
    /// Served on the runtime by [`serve`].
    Real(Arc<serve::Server>),
    /// Handed to whoever holds the inbox (panel tests); with `lookups` false, the same-picture
    /// lookup is answered "none" at once instead.
    Manual {
        tx: std::sync::mpsc::Sender<Request>,
        lookups: bool,
    },
}

impl Services {
    /// Services on `rt` over this store and key store; `notify` is called after each answer
    /// (the UI passes `ctx.request_repaint()`).
    pub fn new(
        rt: tokio::runtime::Handle,
        store: Store,
        keys: KeyStore,
        clients: Arc<Clients>,
        ledger: Option<Arc<super::ledger::Ledger>>,
        notify: Notify,
    ) -> Services {
        Services {
            backend: Backend::Real(Arc::new(serve::Server {
                rt,
                store,
                keys,
                clients,
                ledger,
                notify,
            })),
        }
    }

    /// Services whose requests go to the returned inbox, unanswered until the holder answers them
    /// (panel tests stand in for the I/O this way). The one exception is the same-picture lookup
    /// ([`Services::find_same`]), answered "none found" at once: Generate waits for it, and a test
    /// about something else need not answer it. [`Services::manual_all`] hands it over too.
    pub fn manual() -> (Services, std::sync::mpsc::Receiver<Request>) {
        Services::manual_with(false)
    }

    /// Like [`Services::manual`], every request to the inbox, the same-picture lookup included.
    pub fn manual_all() -> (Services, std::sync::mpsc::Receiver<Request>) {
        Services::manual_with(true)
    }

    fn manual_with(lookups: bool) -> (Services, std::sync::mpsc::Receiver<Request>) {
        let (tx, rx) = std::sync::mpsc::channel();
        (
            Services {
                backend: Backend::Manual { tx, lookups },
            },
            rx,
        )
    }

    fn ask<T>(&self, make: impl FnOnce(Reply<T>) -> Request) -> Pending<T> {
        let (reply, pending) = Pending::channel();
        let request = make(reply);
        match &self.backend {
            Backend::Real(server) => serve::serve(server, request),
            Backend::Manual { lookups: false, .. }
                if matches!(request, Request::FindSame { .. }) =>
            {
                if let Request::FindSame { reply, .. } = request {
                    let _ = reply.send(Ok(None));
                }
            }
            // A closed inbox drops the request and its reply: the caller sees `Poll::Lost`.
            Backend::Manual { tx, .. } => drop(tx.send(request)),
        }
        pending
    }

    /// Pure work the window should not wait for (an image difference, an encode): run on the
    /// blocking pool, answered through the [`Pending`] it returns, and the window woken. It needs
    /// no I/O to stand in for, so under [`Services::manual`] it runs at once, on the caller's
    /// thread, and the answer is there at the next poll: a panel test never waits on a thread.
    pub fn compute<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> Pending<T> {
        match &self.backend {
            Backend::Real(server) => {
                let (reply, pending) = Pending::channel();
                let notify = server.notify.clone();
                let task = server.rt.spawn_blocking(f);
                server.rt.spawn(async move {
                    // A panic in `f` drops the reply: the caller sees `Poll::Lost`.
                    if let Ok(v) = task.await {
                        let _ = reply.send(v);
                    }
                    notify();
                });
                pending
            }
            Backend::Manual { .. } => Pending::ready(f()),
        }
    }

    /// What was spent: today, this month, all time, by type, and the last `days` days.
    pub fn spend(&self, days: u32) -> Pending<Result<super::ledger::Spend, ServiceError>> {
        self.ask(|reply| Request::Spend { days, reply })
    }

    /// Reads the batch file at `path` and plans its run (which lines are saved already, which
    /// have an unknown outcome).
    pub fn read_batch(
        &self,
        path: PathBuf,
        resend_unknown: bool,
    ) -> Pending<Result<Arc<BatchPreview>, ServiceError>> {
        self.ask(|reply| Request::ReadBatch {
            path,
            resend_unknown,
            reply,
        })
    }

    /// The ledger set beside the account's history of the last `days` days; `import` brings the
    /// images of charges made elsewhere into the gallery.
    pub fn reconcile(
        &self,
        cfg: &RuntimeConfig,
        days: u32,
        import: bool,
    ) -> Pending<Result<super::reconcile::Reconciled, ServiceError>> {
        let cfg = cfg.clone();
        self.ask(|reply| Request::Reconcile {
            cfg,
            days,
            import,
            reply,
        })
    }

    /// The credit balance for the configured base URL and key.
    pub fn credits(&self, cfg: &RuntimeConfig) -> Pending<Result<Credits, ServiceError>> {
        let cfg = cfg.clone();
        self.ask(|reply| Request::Credits { cfg, reply })
    }

    /// Reads and decodes an input image for the preview (downscaled for the screen).
    pub fn load_input(&self, source: InputSource) -> Pending<Result<InputPreview, ServiceError>> {
        self.ask(|reply| Request::LoadInput { source, reply })
    }

    /// Where the key comes from now (never the key itself).
    pub fn key_state(&self) -> Pending<KeyState> {
        self.ask(|reply| Request::KeyState { reply })
    }

    /// Stores a new key in the OS keyring (`None` clears it); answers with the key's state after.
    pub fn save_key(&self, key: Option<ApiKey>) -> Pending<KeyState> {
        self.ask(|reply| Request::SaveKey { key, reply })
    }

    /// The gallery pictures a search finds (see [`crate::gallery::catalog::Query`]), in its
    /// order.
    pub fn gallery_list(&self, query: Query) -> Pending<Result<Listing, ServiceError>> {
        self.ask(|reply| Request::GalleryList { query, reply })
    }

    /// The gallery's newest `limit` pictures, newest first (what the default search lists first),
    /// with the gallery's size.
    pub fn recent(&self, limit: usize) -> Pending<Result<Listing, ServiceError>> {
        self.ask(|reply| Request::Recent { limit, reply })
    }

    /// One picture of the gallery, with all its settings.
    pub fn gallery_get(&self, id: String) -> Pending<Result<Entry, ServiceError>> {
        self.ask(|reply| Request::GalleryGet { id, reply })
    }

    /// The picture `entry` was made from and those made from it (issue 26's "refined from" and
    /// "refinements").
    pub fn gallery_lineage(&self, entry: Entry) -> Pending<Result<Lineage, ServiceError>> {
        self.ask(|reply| Request::Lineage {
            entry: Box::new(entry),
            reply,
        })
    }

    /// The newest gallery picture a job with `params` and `input` would make again: the same
    /// settings, seed (as used) and control image (a local input is prepared as the runtime would,
    /// framed and capped at `max_input_side`, and compared by content with the inputs the gallery
    /// kept). `None`
    /// when there is none, or the seed is random (`-1`).
    pub fn find_same(
        &self,
        params: GenParams,
        input: InputSource,
        framing: crate::api::framing::Framing,
        max_input_side: u32,
    ) -> Pending<Result<Option<Entry>, ServiceError>> {
        self.ask(|reply| Request::FindSame {
            params,
            input,
            framing,
            max_input_side,
            reply,
        })
    }

    /// A thumbnail of a saved image, made (and cached on disk) off the UI thread.
    pub fn thumbnail(
        &self,
        id: String,
        max_side: u32,
    ) -> Pending<Result<Arc<image::RgbaImage>, ServiceError>> {
        self.ask(|reply| Request::Thumbnail {
            id,
            max_side,
            reply,
        })
    }

    /// A saved image, decoded for the large view.
    pub fn open_image(&self, id: String) -> Pending<Result<Arc<image::RgbaImage>, ServiceError>> {
        self.ask(|reply| Request::OpenImage { id, reply })
    }

    /// Marks or unmarks a favourite; answers with `query`'s new listing.
    pub fn set_favourite(
        &self,
        id: String,
        favourite: bool,
        query: Query,
    ) -> Pending<Result<Listing, ServiceError>> {
        self.ask(|reply| Request::SetFavourite {
            id,
            favourite,
            query,
            reply,
        })
    }

    /// Rates a picture 0 (none) to 5; answers with `query`'s new listing.
    pub fn set_rating(
        &self,
        id: String,
        rating: u8,
        query: Query,
    ) -> Pending<Result<Listing, ServiceError>> {
        self.ask(|reply| Request::SetRating {
            id,
            rating,
            query,
            reply,
        })
    }

    /// Moves an image to the gallery's trash (undo with [`Services::undo_delete`]); answers with
    /// `query`'s new listing.
    pub fn delete(&self, id: String, query: Query) -> Pending<Result<Listing, ServiceError>> {
        self.ask(|reply| Request::Delete { id, query, reply })
    }

    /// Brings a deleted image back from the trash; answers with `query`'s new listing.
    pub fn undo_delete(&self, id: String, query: Query) -> Pending<Result<Listing, ServiceError>> {
        self.ask(|reply| Request::UndoDelete { id, query, reply })
    }

    /// What is in the gallery's trash, the newest picture first.
    pub fn trash(&self) -> Pending<Result<Vec<crate::gallery::Trashed>, ServiceError>> {
        self.ask(|reply| Request::Trash { reply })
    }

    /// Deletes everything in the gallery's trash for good; answers with how many pictures went.
    pub fn empty_trash(&self) -> Pending<Result<usize, ServiceError>> {
        self.ask(|reply| Request::EmptyTrash { reply })
    }

    /// The settings stored in an image file, and its kept input image when it is one of ours
    /// that kept it (a dropped result restores both).
    pub fn read_result(&self, path: PathBuf) -> Pending<Result<Restored, ServiceError>> {
        self.ask(|reply| Request::ReadResult { path, reply })
    }

    /// The settings stored in an image file (ours, or an A1111-style PNG).
    pub fn read_settings(&self, path: PathBuf) -> Pending<Result<GenParams, ServiceError>> {
        self.ask(|reply| Request::ReadSettings { path, reply })
    }

    /// Writes a comparison or grid as one labelled PNG at `out`; answers with `out`.
    pub fn export_grid(
        &self,
        plan: GridPlan,
        cells: Vec<GridCell>,
        out: PathBuf,
    ) -> Pending<Result<PathBuf, ServiceError>> {
        self.ask(|reply| Request::ExportGrid {
            plan: Box::new(plan),
            cells,
            out,
            reply,
        })
    }

    /// Opens a folder (or the folder of a file) in the system's file manager.
    pub fn reveal(&self, path: PathBuf) -> Pending<Result<(), ServiceError>> {
        self.ask(|reply| Request::Reveal { path, reply })
    }
}

/// Shows `path` in the system's file manager: a file selected in its folder, a folder opened.
/// Through `opener`, which knows each platform's way (Explorer's `/select`, `open -R`, the
/// freedesktop FileManager1 interface or the portal, then `xdg-open`) and reaps the child it starts,
/// so no zombie is left behind.
pub(super) fn reveal(path: &Path) -> std::io::Result<()> {
    let shown = if path.is_dir() {
        opener::open(path)
    } else {
        opener::reveal(path)
    };
    shown.map_err(|e| match e {
        opener::OpenError::Io(io) | opener::OpenError::Spawn { source: io, .. } => io,
        other => std::io::Error::other(other.to_string()),
    })
}
