//! The vocabulary between the UI/CLI and the job runtime: commands in, events out.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::api::{Accounting, GenParams};
pub use crate::types::{ApiVersion, GroupTag, InputPreview, InputSource, JobId, KeyState};

/// Called after every event and every service answer (the UI passes `ctx.request_repaint()`).
pub type Notify = Arc<dyn Fn() + Send + Sync>;

/// One generation to run.
#[derive(Debug, Clone, PartialEq)]
pub struct JobSpec {
    pub input: InputSource,
    pub params: GenParams,
    pub api: ApiVersion,
    pub group: Option<GroupTag>,
    /// The `{a|b}` template the prompt was expanded from (kept with each result).
    pub prompt_template: Option<String>,
    /// The batch line this job runs (its state is kept in the gallery's catalog).
    pub batch: Option<BatchLineRef>,
    /// What is done to a local input before it is sent (turn, flip, crop, pad); the kept input
    /// is the framed picture as sent.
    pub framing: crate::api::framing::Framing,
}

/// A line of a batch file, as the runtime keeps its state: the batch (the file's absolute path),
/// the line's content key and its number in the file (for messages).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct BatchLineRef {
    pub batch: String,
    pub key: String,
    pub line_no: usize,
    /// The run was asked to send again a line sent before with no answer known
    /// (`--resend-unknown`); without it such a line is never claimed again.
    #[serde(default)]
    pub resend_unknown: bool,
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
    /// The daily budget (USD): a job that would take today's spend over it is not sent.
    pub daily_budget: Option<f64>,
    /// The request-history service (`None`: Segmind's, or the API base's origin when loopback).
    pub history_base: Option<String>,
    /// The asset store (`None`: Segmind's, or the API base's origin when loopback).
    pub storage_base: Option<String>,
    /// Upload each input once to Segmind's storage and send its URL (off unless the user asks:
    /// the input then lives at a persistent URL).
    pub upload_inputs: bool,
}

impl std::fmt::Debug for RuntimeConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RuntimeConfig")
            .field("api_base", &self.api_base)
            .field("key", &self.key)
            .field("concurrency", &self.concurrency)
            .field("rate_per_minute", &self.rate_per_minute)
            .field("max_input_side", &self.max_input_side)
            .field("daily_budget", &self.daily_budget)
            .field("history_base", &self.history_base)
            .field("storage_base", &self.storage_base)
            .field("upload_inputs", &self.upload_inputs)
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
            daily_budget: None,
            history_base: None,
            storage_base: None,
            upload_inputs: false,
        }
    }
}

/// Job control: what the UI or CLI asks of the runtime (one-off requests are
/// [`super::services::Services`] calls instead).
// A command is moved once through a channel, a few a second at most: boxing the spec would cost an
// allocation each for nothing. (Its size differs by platform: a path is larger on Windows.)
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum Command {
    /// Queue a generation under `id` (the caller picks ids with [`super::next_job_id`]).
    Submit { id: JobId, spec: JobSpec },
    /// Stop a job: dropped from the queue, or its request abandoned.
    Cancel(JobId),
    /// New settings for jobs queued from now on.
    Configure(RuntimeConfig),
    /// Queue a generation at the front of the line ("Generate next").
    SubmitNext { id: JobId, spec: JobSpec },
    /// Send nothing new (jobs in flight finish); the line waits.
    Pause,
    /// Send the line again, in its order.
    Resume,
    /// The waiting jobs named go first, in this order (the queue's order on screen); the others
    /// keep theirs after them.
    Reorder(Vec<JobId>),
    /// Replace waiting job `old` by job `id` with `spec`, at its place in line (an edited job).
    Replace {
        old: JobId,
        id: JobId,
        spec: JobSpec,
    },
    /// Cancel every job still waiting in line (those in flight go on).
    CancelWaiting,
    /// Ask the account's history what became of job `id`, sent with `spec` (from `from_ms`, ms
    /// since the epoch; by `request_id` when the submit was confirmed) and whose outcome is
    /// unknown: a completed request's images are fetched and saved (`Done`), a failed one is
    /// reported not billed, anything else stays "maybe billed" (`Failed` saying why). Nothing is
    /// sent to the generation endpoints.
    Settle {
        id: JobId,
        spec: JobSpec,
        request_id: Option<String>,
        from_ms: u64,
    },
}

/// Where a job is.
#[derive(Debug, Clone, PartialEq)]
pub enum Stage {
    Queued,
    /// Reading, orienting and scaling the input image.
    Preparing,
    /// Waiting for its slot at the user's rate.
    Pacing {
        wait: Duration,
    },
    /// Held back because the service said too many requests (429): nothing new goes before the
    /// wait it asked for is over.
    RateLimited {
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
            Stage::RateLimited { wait } => {
                format!(
                    "rate-limited, next try in {:.0} s",
                    wait.as_secs_f64().ceil()
                )
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

/// The kind of a failed job: the UI and CLI decide on it (colour, "Set key", retry offers) without
/// reading message text. `Display` gives the short tally label (`429`, `no answer`, `decode`, …).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FailureKind {
    /// The settings were refused before sending.
    Invalid,
    /// The service answered with this HTTP status.
    Http(u16),
    /// No connection could be made (nothing was sent).
    Connect,
    /// The request went out and no complete answer came back (it may have been billed).
    NoAnswer,
    /// The answer could not be read as an image or a known JSON shape.
    Decode,
    /// No API key, or the service refused it.
    NoKey,
    /// The configured API base URL is not allowed.
    BaseUrl,
    /// A v2 job the service reports as failed or expired.
    Job,
    /// A journaled v2 job whose record the server no longer keeps (over an hour old).
    Expired,
    /// The input image could not be used.
    Input,
    /// The result could not be written to disk.
    Save,
    /// The app stopped while the request was in flight (found in the journal).
    Interrupted,
    /// A journaled job for another API base than the configured one (left alone: the key goes
    /// only to the configured service).
    OtherService,
    /// The job runtime itself failed (shutting down, a task panicked).
    Runtime,
    /// Cancelled by the user.
    Cancelled,
    /// Not sent: it would have taken today's spend over the daily budget.
    Budget,
    /// Not sent: the batch line is another process's (being sent, or saved, by it) or its earlier
    /// outcome is unknown.
    Elsewhere,
}

impl FailureKind {
    /// The kind of an API failure.
    pub fn of(e: &crate::api::ApiError) -> FailureKind {
        use crate::api::ApiError as E;
        match e {
            E::InvalidParams(_) => FailureKind::Invalid,
            E::Status(s) => FailureKind::Http(s.status),
            E::Connect { .. } => FailureKind::Connect,
            E::NoAnswer { .. } => FailureKind::NoAnswer,
            E::Decode(_) => FailureKind::Decode,
            E::Cancelled { .. } => FailureKind::Cancelled,
            E::MissingKey | E::BadKey => FailureKind::NoKey,
            E::BadBaseUrl(_) => FailureKind::BaseUrl,
            E::Job(_) => FailureKind::Job,
        }
    }
}

impl std::fmt::Display for FailureKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = match self {
            FailureKind::Http(code) => return write!(f, "{code}"),
            FailureKind::Invalid => "invalid",
            FailureKind::Connect => "connect",
            FailureKind::NoAnswer => "no answer",
            FailureKind::Decode => "decode",
            FailureKind::NoKey => "no key",
            FailureKind::BaseUrl => "base url",
            FailureKind::Job => "job",
            FailureKind::Expired => "expired",
            FailureKind::Input => "input",
            FailureKind::Save => "save",
            FailureKind::Interrupted => "interrupted",
            FailureKind::OtherService => "other service",
            FailureKind::Runtime => "runtime",
            FailureKind::Cancelled => "cancelled",
            FailureKind::Budget => "budget",
            FailureKind::Elsewhere => "not sent: taken",
        };
        f.write_str(s)
    }
}

/// A failure as the user sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct JobFailure {
    /// The plain-words message.
    pub message: String,
    /// What kind of failure it was (shown short in queues and tallies: `429`, `no answer`, …).
    pub kind: FailureKind,
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
    /// A job found in the journal at start-up (v2: being finished by polling; v1: interrupted).
    Recovered {
        id: JobId,
        /// Boxed: the other events stay small.
        spec: Box<JobSpec>,
        request_id: Option<String>,
    },
    /// Something the user should know that belongs to no job (e.g. the gallery folder is not writable).
    Notice(String),
    /// The jobs the window left waiting last time, back in line (paused, in their order): the
    /// window lists them and asks Resume or Discard. Sent before their first stage.
    Restored {
        jobs: Vec<(JobId, JobSpec)>,
    },
    /// The line of jobs waiting to be sent changed: whether it is paused, and who waits, first first.
    Lineup {
        paused: bool,
        waiting: Vec<JobId>,
    },
}

/// The UI's (or CLI's) end of the runtime: send commands, drain events.
pub struct JobsHandle {
    tx: tokio::sync::mpsc::UnboundedSender<Command>,
    rx: std::sync::mpsc::Receiver<Event>,
    services: super::services::Services,
}

impl JobsHandle {
    /// Wraps the two channel ends (the runtime makes them; tests may stand in for the runtime).
    pub fn from_channels(
        tx: tokio::sync::mpsc::UnboundedSender<Command>,
        rx: std::sync::mpsc::Receiver<Event>,
        services: super::services::Services,
    ) -> JobsHandle {
        JobsHandle { tx, rx, services }
    }

    /// The one-off requests (gallery, key, input preview, export, …), each answering its caller.
    pub fn services(&self) -> &super::services::Services {
        &self.services
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
