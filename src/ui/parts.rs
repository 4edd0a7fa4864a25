//! The window's state in parts: each part is what one panel (or one concern) of [`FluxApp`]
//! keeps, so the app holds a dozen parts instead of forty loose fields. The panels' code reads its
//! own part and the shared state (`state`, `session`, `notices`).
//!
//! [`FluxApp`]: super::FluxApp

use crate::api::{ApiKey, Credits};
use crate::jobs::{JobSpec, JobsHandle, KeyState, Pending, PendingSet, ServiceError};

use super::app::{CreditsView, InputView, Tab};
use super::commands::UiCommand;
use super::picker::FilePicker;

/// The runtime (commands out, events in) and the services behind it.
pub(crate) struct Backend {
    pub jobs: JobsHandle,
    /// The runtime stopped answering (its channel closed).
    pub runtime_gone: bool,
}

/// What the launcher decided.
pub(crate) struct Launch {
    pub demo: bool,
    /// The launcher's key (demo mode): used for this session, never stored.
    pub session_key: Option<ApiKey>,
    /// The launcher's base URL when it must win over the stored one (demo, `--api-base`).
    pub base_override: Option<String>,
    /// Submit the demo input on the first frame (`autogenerate`).
    pub pending_autogenerate: bool,
    /// The first frame: the controls start scrolled to the top (egui would restore the last
    /// session's scroll, leaving "Open…" half hidden).
    pub fresh_start: bool,
}

/// The input panel's state.
pub(crate) struct InputPart {
    pub input: Option<InputView>,
    pub url_entry: String,
    /// Why the typed URL cannot be used.
    pub url_error: Option<String>,
    pub picker: Box<dyn FilePicker>,
    /// The file dialog's answer, and pasted images being encoded, until they arrive.
    pub picking: PendingSet<(), Option<std::path::PathBuf>>,
    pub pasting: PendingSet<(), Result<(String, Vec<u8>), String>>,
    /// Files dropped on the window whose settings are being read: with settings inside they
    /// restore them, without they become the input image.
    pub pending_drops: Vec<(
        std::path::PathBuf,
        Pending<Result<crate::jobs::services::Restored, ServiceError>>,
    )>,
}

/// The controls panel's state.
#[derive(Default)]
pub(crate) struct KnobsPart {
    /// Undo/redo of parameter edits, and Up/Down through the prompt history.
    pub undo: super::tweak::Undo,
    pub browse: super::tweak::Browse,
    /// Generate's gallery lookup and variations, waiting for an answer (`sending.rs`).
    pub sending: super::sending::Sending,
    /// A job identical to one that finished (same settings, seed and input), waiting for the
    /// artist to confirm paying for the same picture again.
    pub confirm_duplicate: Option<JobSpec>,
    /// A refine waiting for the artist's go, its cost shown (`refine.rs`).
    pub confirm_refine: Option<JobSpec>,
}

/// The Result tab's state.
#[derive(Default)]
pub(crate) struct ResultPart {
    /// The zoom/pan of the large image.
    pub view: super::zoom::ZoomPan,
    /// The comparison with an earlier result.
    pub result_compare: super::result_compare::ResultCompare,
    /// The strip of recent results, from the gallery.
    pub history: super::history::History,
}

/// The settings window's state, and the key's.
#[derive(Default)]
pub(crate) struct SettingsPart {
    pub show_settings: bool,
    /// The key being typed (cleared once sent).
    pub key_entry: String,
    pub key_warning: Option<String>,
    /// The base URL being edited (applied when the field loses focus and it is valid).
    pub base_entry: Option<String>,
    pub base_error: Option<String>,
    pub key_state: Option<KeyState>,
    /// The banner's "Details" (the technical reason there is no password store) is open.
    pub key_details: bool,
    /// The key's state asked for (at start, or after Save/Clear) and not answered yet.
    pub pending_key: Option<Pending<KeyState>>,
    /// The settings as last written to storage (a change is written at once, not at the next
    /// autosave: a lowered budget must survive a crash).
    pub stored_settings: super::state::Settings,
}

/// The account: the credit balance and what was spent.
#[derive(Default)]
pub(crate) struct Account {
    pub credits: Option<CreditsView>,
    /// The credit balance asked for and not answered yet.
    pub pending_credits: Option<Pending<Result<Credits, ServiceError>>>,
    /// What the ledger says was spent (the top bar, the Spend window, the budget's checks).
    pub spend: super::spend::SpendView,
}

/// The central panel: which tab is shown, and the tabs that own their state.
#[derive(Default)]
pub(crate) struct Tabs {
    pub tab: Tab,
    pub gallery: super::gallery_panel::GalleryPanel,
    pub compare: super::compare_view::CompareView,
    pub batch: super::batch_view::BatchView,
}

/// The frame's commands and the palette.
#[derive(Default)]
pub(crate) struct Commands {
    /// Asked this frame (shortcuts, buttons, the palette), run after the panels.
    pub commands: Vec<UiCommand>,
    pub palette: super::palette::Palette,
}
