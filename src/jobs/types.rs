//! The vocabulary between the UI/CLI and the job runtime: commands in, events out.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::api::{Accounting, Credits, GenParams};

/// A job's number, unique within one process (and in the journal).
pub type JobId = u64;

/// Which API a job uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ApiVersion {
    /// Synchronous: one request holds the connection for the whole generation.
    #[default]
    V1,
    /// Asynchronous: submit, poll, fetch; resumable after a crash.
    V2,
}

/// Where the input image comes from.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub enum InputSource {
    /// A local file, read and prepared in the background.
    File(PathBuf),
    /// An `http(s)` URL, passed through to the service.
    Url(String),
    /// Image bytes already in memory (pasted from the clipboard): encoded PNG/JPEG/WebP.
    #[serde(skip)]
    Bytes { name: String, data: Arc<Vec<u8>> },
}

impl std::fmt::Debug for InputSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            InputSource::File(p) => write!(f, "File({})", p.display()),
            InputSource::Url(u) => write!(f, "Url({u})"),
            InputSource::Bytes { name, data } => write!(f, "Bytes({name}, {} bytes)", data.len()),
        }
    }
}

impl InputSource {
    /// A short description for the queue, the sidecar and the gallery.
    pub fn describe(&self) -> String {
        match self {
            InputSource::File(p) => p.display().to_string(),
            InputSource::Url(u) => u.clone(),
            InputSource::Bytes { name, .. } => name.clone(),
        }
    }
}

/// Where a job sits in a comparison or an X/Y grid.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupTag {
    /// The comparison or grid this job belongs to.
    pub group: u64,
    pub row: usize,
    pub col: usize,
    /// The cell's label, e.g. `cn_type: depth`.
    pub label: String,
}

/// One generation to run.
#[derive(Debug, Clone, PartialEq)]
pub struct JobSpec {
    pub input: InputSource,
    pub params: GenParams,
    pub api: ApiVersion,
    pub group: Option<GroupTag>,
}

/// What the runtime needs to talk to the service; sent again whenever a setting changes.
#[derive(Clone, PartialEq)]
pub struct RuntimeConfig {
    pub api_base: String,
    pub key: Option<crate::api::ApiKey>,
    /// How many generations run at once.
    pub concurrency: usize,
    /// Requests a minute the pacer allows (lowered on a 429); `None`: no pacing.
    pub rate_per_minute: Option<f64>,
    /// The longest side of a local input image before it is downscaled.
    pub max_input_side: u32,
}

impl std::fmt::Debug for RuntimeConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RuntimeConfig")
            .field("api_base", &self.api_base)
            .field("key", &self.key)
            .field("concurrency", &self.concurrency)
            .field("rate_per_minute", &self.rate_per_minute)
            .field("max_input_side", &self.max_input_side)
            .finish()
    }
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        Self {
            api_base: crate::api::DEFAULT_API_BASE.to_owned(),
            key: None,
            concurrency: 4,
            rate_per_minute: None,
            max_input_side: 2048,
        }
    }
}

/// What the UI or CLI asks of the runtime.
#[derive(Debug, Clone)]
pub enum Command {
    /// Queue a generation under `id` (the caller picks ids with [`super::next_job_id`]).
    Submit {
        id: JobId,
        spec: JobSpec,
    },
    /// Stop a job: dropped from the queue, or its request abandoned.
    Cancel(JobId),
    /// New settings for jobs queued from now on.
    Configure(RuntimeConfig),
    /// Ask for the credit balance (answered by [`Event::Credits`]).
    RefreshCredits,
    /// Read and decode an input image for the preview (answered by [`Event::InputLoaded`]).
    LoadInput(InputSource),
    /// Store a new key in the OS keyring (`None` clears it); answered by [`Event::Key`].
    SaveKey(Option<crate::api::ApiKey>),
    /// Report where the key comes from (answered by [`Event::Key`]).
    CheckKey,
    /// List the gallery, newest first (answered by [`Event::Gallery`]).
    GalleryList,
    /// A thumbnail of a saved image, made and cached off the UI thread ([`Event::Thumb`]).
    GalleryThumb {
        id: String,
        max_side: u32,
    },
    /// A saved image, decoded for the large view ([`Event::GalleryImage`]).
    GalleryOpen {
        id: String,
    },
    GalleryFavourite {
        id: String,
        favourite: bool,
    },
    /// Moves an image to the gallery's trash ([`Event::Gallery`] follows; undo with
    /// [`Command::GalleryUndoDelete`]).
    GalleryDelete {
        id: String,
    },
    GalleryUndoDelete {
        id: String,
    },
    /// Reads the settings stored in an image file (ours, or an A1111-style PNG) for "use these
    /// settings" ([`Event::SettingsRead`]).
    ReadSettings(PathBuf),
    /// Writes a comparison or grid as one labelled PNG ([`Event::Exported`]).
    ExportGrid {
        plan: Box<super::grid::GridPlan>,
        cells: Vec<crate::gallery::export::GridCell>,
        out: PathBuf,
    },
    /// Opens a folder (or the folder of a file) in the system's file manager.
    Reveal(PathBuf),
}

/// Where the API key comes from, as the settings panel shows it (never the key itself).
#[derive(Debug, Clone, PartialEq)]
pub enum KeyState {
    /// `SEGMIND_API_KEY` is set; it overrides the keyring.
    FromEnv {
        masked: String,
    },
    /// Stored in the OS keyring.
    Stored {
        masked: String,
    },
    Missing,
    /// The keyring cannot be used here (e.g. no secret service); the message says what to do.
    Unavailable(String),
}

/// A decoded input image, ready for a texture.
#[derive(Clone)]
pub struct InputPreview {
    pub source: InputSource,
    /// The image as it will be sent (EXIF orientation applied), downscaled for the screen.
    pub image: Arc<image::RgbaImage>,
    /// The size of the original image (after orientation).
    pub width: u32,
    pub height: u32,
    /// File size in bytes (0 for a URL).
    pub bytes: u64,
}

impl std::fmt::Debug for InputPreview {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "InputPreview({:?}, {}x{})",
            self.source, self.width, self.height
        )
    }
}

/// Where a job is.
#[derive(Debug, Clone, PartialEq)]
pub enum Stage {
    Queued,
    /// Reading, orienting and scaling the input image.
    Preparing,
    /// Waiting for the rate limiter.
    Pacing {
        wait: Duration,
    },
    Sending {
        attempt: u32,
    },
    /// The request is out; the server is generating.
    Waiting,
    Retrying {
        attempt: u32,
        delay: Duration,
        reason: String,
    },
    /// v2: accepted under this id.
    Submitted {
        request_id: String,
    },
    /// v2: the server's state (`queued`, `processing`).
    Remote {
        state: String,
    },
    Downloading,
    Saving,
}

impl Stage {
    /// The short text the queue shows.
    pub fn label(&self) -> String {
        match self {
            Stage::Queued => "queued".into(),
            Stage::Preparing => "preparing input".into(),
            Stage::Pacing { wait } => {
                format!("pacing: next slot in {:.0} s", wait.as_secs_f64().ceil())
            }
            Stage::Sending { attempt: 1 } => "sending".into(),
            Stage::Sending { attempt } => format!("sending (attempt {attempt})"),
            Stage::Waiting => "waiting for the server".into(),
            Stage::Retrying { delay, reason, .. } => {
                format!("retrying in {:.0} s: {reason}", delay.as_secs_f64().ceil())
            }
            Stage::Submitted { .. } => "submitted".into(),
            Stage::Remote { state } => format!("server: {state}"),
            Stage::Downloading => "downloading".into(),
            Stage::Saving => "saving".into(),
        }
    }
}

/// A result written to the gallery, with a preview ready for the screen.
#[derive(Clone)]
pub struct SavedImage {
    pub path: PathBuf,
    pub sidecar: PathBuf,
    pub width: u32,
    pub height: u32,
    /// The seed the server used (the answer to a random seed), else the seed sent.
    pub seed: i64,
    /// The image decoded off the UI thread, downscaled to at most 2048 px on its long side.
    pub preview: Option<Arc<image::RgbaImage>>,
}

impl std::fmt::Debug for SavedImage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "SavedImage({}, {}x{}, seed {})",
            self.path.display(),
            self.width,
            self.height,
            self.seed
        )
    }
}

/// A failure as the user sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct JobFailure {
    /// The plain-words message.
    pub message: String,
    /// A short class for queues and tallies: `400`, `429`, `no answer`, `decode`, …
    pub kind: String,
    /// The server may have run and billed it.
    pub maybe_billed: bool,
}

/// What the runtime reports.
#[derive(Debug, Clone)]
pub enum Event {
    /// A job moved on.
    Stage {
        id: JobId,
        stage: Stage,
    },
    /// A job finished; every image is already on disk.
    Done {
        id: JobId,
        images: Vec<SavedImage>,
        accounting: Accounting,
    },
    Failed {
        id: JobId,
        failure: JobFailure,
    },
    Cancelled {
        id: JobId,
        maybe_billed: bool,
    },
    /// The credit balance, or why it could not be read.
    Credits(Result<Credits, String>),
    /// A job found in the journal at start-up (v2: being finished by polling; v1: interrupted).
    Recovered {
        id: JobId,
        spec: JobSpec,
        request_id: Option<String>,
    },
    /// The answer to [`Command::LoadInput`]: a preview, or why the file cannot be used.
    InputLoaded {
        source: InputSource,
        result: Result<InputPreview, String>,
    },
    /// The answer to [`Command::SaveKey`] and [`Command::CheckKey`].
    Key(KeyState),
    /// The gallery, newest first.
    Gallery(Arc<Vec<crate::gallery::Entry>>),
    Thumb {
        id: String,
        image: Result<Arc<image::RgbaImage>, String>,
    },
    GalleryImage {
        id: String,
        image: Result<Arc<image::RgbaImage>, String>,
    },
    SettingsRead {
        path: PathBuf,
        result: Result<GenParams, String>,
    },
    Exported(Result<PathBuf, String>),
    /// Something the user should know that belongs to no job (e.g. the gallery folder is not writable).
    Notice(String),
}

/// The UI's (or CLI's) end of the runtime: send commands, drain events.
pub struct JobsHandle {
    tx: tokio::sync::mpsc::UnboundedSender<Command>,
    rx: std::sync::mpsc::Receiver<Event>,
}

impl JobsHandle {
    /// Wraps the two channel ends (the runtime makes them; tests may stand in for the runtime).
    pub fn from_channels(
        tx: tokio::sync::mpsc::UnboundedSender<Command>,
        rx: std::sync::mpsc::Receiver<Event>,
    ) -> JobsHandle {
        JobsHandle { tx, rx }
    }

    /// Sends a command; `false` when the runtime has stopped.
    pub fn send(&self, c: Command) -> bool {
        self.tx.send(c).is_ok()
    }

    /// The next event, if one is waiting. Never blocks.
    pub fn try_recv(&self) -> Option<Event> {
        self.rx.try_recv().ok()
    }

    /// Waits for the next event (CLI use; never on the UI thread). `None` when the runtime stopped.
    pub fn recv_blocking(&self) -> Option<Event> {
        self.rx.recv().ok()
    }

    /// Waits at most `timeout` for the next event.
    pub fn recv_timeout(&self, timeout: Duration) -> Option<Event> {
        self.rx.recv_timeout(timeout).ok()
    }
}

/// A fresh job id: increasing within a process, and unique across processes (the app and the CLI
/// share one journal). The base is the process's first call in milliseconds (`<< 20`) with 8 bits
/// of its process id (`<< 12`); a counter is added to it. Two processes collide only if they start in
/// the same millisecond with the same low pid bits.
pub fn next_job_id() -> JobId {
    use std::sync::OnceLock;
    use std::sync::atomic::{AtomicU64, Ordering};
    static BASE: OnceLock<u64> = OnceLock::new();
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let base = *BASE.get_or_init(|| {
        let ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        ((ms & ((1 << 43) - 1)) << 20) | ((u64::from(std::process::id()) & 0xFF) << 12)
    });
    base.wrapping_add(NEXT.fetch_add(1, Ordering::Relaxed))
}
