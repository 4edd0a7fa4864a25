//! The settings window: the API key (masked; it goes to the key store through the runtime and never
//! into the saved state), the service's base URL and API version, concurrency, pacing, and where
//! results are saved. Every change sends `Configure`.
//!
//! The key section says only what happened ([`key_status`]): a key is "stored in the OS keyring"
//! only when the keyring said so; demo mode keeps a key in memory for the session; with no usable
//! keyring it says why in one sentence and offers SEGMIND_API_KEY or a key for this session only
//! (kept in memory, sent with the configuration, never stored).

use egui::{RichText, Ui};

use crate::api::ApiKey;
use crate::jobs::pacer::PLAN_RATES;
use crate::jobs::{ApiVersion, KeyState};

use super::app::FluxApp;
use super::state::{CONCURRENCY_RANGE, MAX_INPUT_SIDE_RANGE, RATE_RANGE};
use super::widgets;

impl FluxApp {
    /// The settings window, when open.
    pub(crate) fn settings_window(&mut self, ctx: &egui::Context) {
        let mut open = self.settings_ui.show_settings;
        egui::Window::new("Settings")
            .open(&mut open)
            .resizable(false)
            .collapsible(false)
            .default_width(440.0)
            .show(ctx, |ui| {
                self.key_section(ui);
                ui.separator();
                self.service_section(ui);
                ui.separator();
                self.budget_settings(ui);
            });
        self.settings_ui.show_settings = open;
    }

    fn key_section(&mut self, ui: &mut Ui) {
        widgets::heading(ui, "API key");
        let offer_session = offers_session_key(
            self.settings_ui.key_state.as_ref(),
            self.launch.demo,
            self.launch.session_key.as_ref(),
        );
        ui.horizontal(|ui| {
            let label = ui.label("New key");
            let hover = if self.launch.demo {
                "Your Segmind API key; in demo mode it is kept in memory only, never stored"
            } else {
                "Your Segmind API key; Save stores it in the OS keyring, never in a file"
            };
            let field = ui
                .add(
                    egui::TextEdit::singleline(&mut self.settings_ui.key_entry)
                        .password(true)
                        .hint_text("SG_…")
                        .desired_width(220.0),
                )
                .labelled_by(label.id)
                .on_hover_text(hover);
            let entered = field.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
            let can_save = !self.settings_ui.key_entry.trim().is_empty();
            let save_hover = if self.launch.demo {
                "Keep the key for this demo session only (demo mode never uses the OS keyring)"
            } else {
                "Store the key in the OS keyring"
            };
            let save = ui
                .add_enabled(can_save, egui::Button::new("Save"))
                .on_hover_text(save_hover)
                .clicked();
            let session = offer_session
                && ui
                    .add_enabled(can_save, egui::Button::new("Use for this session only"))
                    .on_hover_text(
                        "Use the key until fluxcn closes: it is kept in memory, never stored",
                    )
                    .clicked();
            if can_save && (session || (entered && offer_session)) {
                self.use_session_key();
            } else if can_save && (save || entered) {
                self.save_key_entry();
            }
            let clear_hover = if self.launch.demo {
                "Forget the key kept for this demo session"
            } else {
                "Remove the key from the OS keyring (and forget this session's key)"
            };
            if ui.button("Clear").on_hover_text(clear_hover).clicked() {
                self.clear_key();
            }
        });
        if let Some(w) = &self.settings_ui.key_warning {
            widgets::warn_line(ui, w);
        }
        // Where the key stands, under the row the cursor is on: a Save that changes it moves
        // nothing above.
        let lines = key_status(
            self.settings_ui.key_state.as_ref(),
            self.launch.demo,
            self.launch.session_key.as_ref(),
        );
        for (tone, text) in &lines {
            let color = match tone {
                Tone::Good => widgets::OK,
                Tone::Warn => widgets::WARN,
                Tone::Error => widgets::ERROR,
                Tone::Hint => ui.visuals().weak_text_color(),
            };
            ui.add(egui::Label::new(RichText::new(text).color(color)).wrap());
        }
    }

    /// Save: the typed key goes to the key store (the OS keyring; in demo mode, memory). Outside
    /// demo mode a session key is dropped, so that the saved key is the one used.
    fn save_key_entry(&mut self) {
        if let Some(k) = ApiKey::new(&self.settings_ui.key_entry) {
            self.settings_ui.key_warning = k.shape_warning();
            if !self.launch.demo && self.launch.session_key.take().is_some() {
                self.send_configure();
            }
            self.settings_ui.pending_key = Some(self.backend.jobs.services().save_key(Some(k)));
        }
        self.settings_ui.key_entry.clear();
    }

    /// "Use for this session only": the typed key is sent with the configuration and kept in
    /// memory until the app closes; nothing is stored.
    fn use_session_key(&mut self) {
        if let Some(k) = ApiKey::new(&self.settings_ui.key_entry) {
            self.settings_ui.key_warning = k.shape_warning();
            self.launch.session_key = Some(k);
            self.send_configure();
            self.refresh_credits();
        }
        self.settings_ui.key_entry.clear();
    }

    /// Clear: removes the stored key and forgets a session key (not demo mode's own key).
    fn clear_key(&mut self) {
        self.settings_ui.key_entry.clear();
        self.settings_ui.key_warning = None;
        if !self.launch.demo && self.launch.session_key.take().is_some() {
            self.send_configure();
        }
        self.settings_ui.pending_key = Some(self.backend.jobs.services().save_key(None));
    }

    fn service_section(&mut self, ui: &mut Ui) {
        widgets::heading(ui, "Service");
        let before = self.state.settings.clone();
        let s = &mut self.state.settings;
        if let Some(base) = &self.launch.base_override {
            widgets::hint_line(
                ui,
                &format!(
                    "This session uses {base} (set by the launcher); the field below is kept for next time."
                ),
            );
        }
        ui.horizontal(|ui| {
            let label = ui.label("Base URL");
            let entry = self
                .settings_ui
                .base_entry
                .get_or_insert_with(|| s.api_base.clone());
            let field = ui
                .add(egui::TextEdit::singleline(entry).desired_width(280.0))
                .labelled_by(label.id)
                .on_hover_text(
                    "The service's …/v1 address (a proxy or staging gateway may go here)",
                );
            if field.lost_focus() {
                match check_base(entry) {
                    Ok(b) => {
                        self.settings_ui.base_error = missing_version(&b).then(|| {
                            format!(
                                "{b} has no /v1 at its end: Segmind's API is at {} (a proxy \
                                 usually keeps the /v1)",
                                crate::api::DEFAULT_API_BASE
                            )
                        });
                        if b != entry.trim().trim_end_matches('/') {
                            self.settings_ui.base_error =
                                Some(format!("Added /v1: Segmind's API lives at {b}."));
                            *entry = b.clone();
                        }
                        s.api_base = b;
                    }
                    Err(e) => self.settings_ui.base_error = Some(e),
                }
            }
        });
        if let Some(e) = &self.settings_ui.base_error {
            widgets::warn_line(ui, e);
        }
        ui.horizontal(|ui| {
            ui.label("API version");
            ui.radio_value(&mut s.api_version, ApiVersion::V2, "v2 (async, resumable)")
                .on_hover_text("Submit, then poll: a job survives a crash or restart");
            ui.radio_value(&mut s.api_version, ApiVersion::V1, "v1 (synchronous)")
                .on_hover_text("One request holds the connection for the whole generation");
        });
        widgets::hint_line(ui, API_VERSION_WHY);
        ui.checkbox(&mut s.upload_inputs, "Upload each input once")
            .on_hover_text(UPLOAD_PRIVACY);
        if s.upload_inputs {
            widgets::hint_line(ui, UPLOAD_PRIVACY);
        }
        let mut conc = s.concurrency;
        ui.add(egui::Slider::new(&mut conc, CONCURRENCY_RANGE).text("Concurrency"))
            .on_hover_text("How many generations run at once");
        s.concurrency = conc;
        pacing_knobs(ui, s);
        ui.add(
            egui::Slider::new(&mut s.max_input_side, MAX_INPUT_SIDE_RANGE)
                .text("Max input side (px)"),
        )
        .on_hover_text("A larger local input image is downscaled to this before upload");

        widgets::heading(ui, "Output");
        let folder = self
            .session
            .output_folder()
            .or_else(|| default_output_folder(self.launch.demo));
        match &folder {
            Some(f) => {
                ui.horizontal(|ui| {
                    ui.label("Results are saved in");
                    ui.add(
                        egui::Label::new(RichText::new(f.display().to_string()).monospace())
                            .truncate(),
                    );
                });
            }
            None => {
                widgets::warn_line(
                    ui,
                    "No data folder is known on this system: set FLUXCN_DATA_DIR.",
                );
            }
        }

        where_things_live(ui, self.launch.demo, folder.as_deref());

        if self.state.settings != before {
            self.send_configure();
        }
    }
}

/// Why v2 is the default, in the Settings window (and the README).
pub(crate) const API_VERSION_WHY: &str = "v2 is the default: every job is written down before it is sent and fetched again after a crash or restart, and Segmind keeps v1 in maintenance mode. v1 answers in one request and cannot be picked up again if the app stops.";

/// What uploading inputs means for the user's picture, in plain words.
pub(crate) const UPLOAD_PRIVACY: &str = "Each input is sent to Segmind's storage once and its web address is sent instead of the image after that: a compare or a batch sends far less. The picture then stays at that address at Segmind, reachable by anyone who has it, until you delete it in your Segmind account.";

/// The places of this user's files on this platform (`fluxcn paths` prints the same), so a user
/// moving machines or backing up knows what to take: this session's (the demo keeps a data folder
/// of its own; `gallery` is where results go now).
fn where_things_live(ui: &mut Ui, demo: bool, gallery: Option<&std::path::Path>) {
    egui::CollapsingHeader::new("Where things live")
        .id_salt("settings-places")
        .show(ui, |ui| {
            let data =
                crate::gallery::default_data_dir().map(|d| if demo { d.join("demo") } else { d });
            let mut places = crate::jobs::Places::of(data);
            places.gallery = gallery.map(std::path::Path::to_path_buf).or(places.gallery);
            // The window's own word on where it keeps its settings.
            places.settings = eframe::storage_dir(super::APP_ID).map(|d| d.join("app.ron"));
            for (name, place) in places.lines() {
                ui.horizontal(|ui| {
                    ui.label(format!("{name}:"));
                    ui.add(egui::Label::new(RichText::new(place).monospace()).truncate());
                });
            }
        });
}

/// How a status line of the key section reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tone {
    Good,
    Warn,
    Error,
    Hint,
}

/// What the key section says about the key: where it is, and what to do when there is none. It
/// claims nothing that did not happen: in demo mode a key is only kept in memory, and a session
/// key is never called stored.
pub(crate) fn key_status(
    state: Option<&KeyState>,
    demo: bool,
    session: Option<&ApiKey>,
) -> Vec<(Tone, String)> {
    if demo {
        return demo_key_status(state);
    }
    let mut lines = Vec::new();
    if let Some(k) = session {
        lines.push((
            Tone::Good,
            format!(
                "Key {} is used for this session only: it is not stored, and is forgotten when \
                 fluxcn closes.",
                k.masked()
            ),
        ));
        if let Some(KeyState::Unavailable(why)) = state {
            lines.push((Tone::Hint, sentence(why)));
        }
        return lines;
    }
    match state {
        None => lines.push((Tone::Hint, "Checking the key…".into())),
        Some(KeyState::Stored { masked }) => lines.push((
            Tone::Good,
            format!("Key {masked} stored in the OS keyring."),
        )),
        Some(KeyState::FromEnv { masked }) => lines.push((
            Tone::Good,
            format!("Key {masked} from SEGMIND_API_KEY (it overrides the keyring)."),
        )),
        Some(KeyState::Missing) => lines.push((
            Tone::Warn,
            "No key yet: paste your Segmind key below and Save (or set SEGMIND_API_KEY).".into(),
        )),
        Some(KeyState::Unavailable(why)) => {
            lines.push((Tone::Error, sentence(why)));
            lines.push((
                Tone::Hint,
                "Or paste the key below and choose \"Use for this session only\": it is kept in \
                 memory until fluxcn closes, never stored."
                    .into(),
            ));
        }
    }
    lines
}

/// Demo mode's key store is memory: a key saved there is kept for the session, never stored.
fn demo_key_status(state: Option<&KeyState>) -> Vec<(Tone, String)> {
    let kept = match state {
        Some(KeyState::Stored { masked }) => Some(format!(
            "Key {masked} kept for this demo session only: it is not stored (demo mode never uses \
             the OS keyring), and is forgotten when the window closes."
        )),
        _ => None,
    };
    let mut lines = vec![(
        Tone::Hint,
        "Demo mode: the built-in stand-in needs no key, and no key is stored.".to_owned(),
    )];
    if let Some(k) = kept {
        lines.push((Tone::Good, k));
    }
    if let Some(KeyState::Unavailable(why)) = state {
        lines.push((Tone::Error, sentence(why)));
    }
    lines
}

/// Whether "Use for this session only" is offered: outside demo mode, when the keyring cannot be
/// used, or a session key is in use already (to replace it).
pub(crate) fn offers_session_key(
    state: Option<&KeyState>,
    demo: bool,
    session: Option<&ApiKey>,
) -> bool {
    !demo && (session.is_some() || matches!(state, Some(KeyState::Unavailable(_))))
}

/// A message as a sentence: a capital first letter and a full stop.
fn sentence(text: &str) -> String {
    let t = text.trim();
    let mut chars = t.chars();
    let mut out: String = match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => return String::new(),
    };
    if !out.ends_with(['.', '!', '?']) {
        out.push('.');
    }
    out
}

/// The base URL as typed, checked: an `http(s)` URL without trailing slashes. Segmind's own host
/// typed without its path is mended to `…/v1` (every request would answer 404 otherwise).
pub(crate) fn check_base(text: &str) -> Result<String, String> {
    let t = text.trim().trim_end_matches('/');
    if let Ok(u) = url::Url::parse(t)
        && u.host_str()
            .is_some_and(|h| h.eq_ignore_ascii_case(SEGMIND_HOST))
        && matches!(u.path(), "" | "/")
    {
        return Ok(format!("{t}/v1"));
    }
    let lower = t.to_ascii_lowercase();
    if !(lower.starts_with("https://") || lower.starts_with("http://")) {
        return Err(format!(
            "\"{t}\" is not a web address: it must start with https:// (e.g. {})",
            crate::api::DEFAULT_API_BASE
        ));
    }
    match url::Url::parse(t) {
        Ok(u) if u.host_str().is_some() => Ok(t.to_owned()),
        Ok(_) => Err(format!("\"{t}\" has no host name")),
        Err(e) => Err(format!("\"{t}\" is not a valid address: {e}")),
    }
}

/// Pacing: on or off, Segmind's plans as presets, the rate.
fn pacing_knobs(ui: &mut Ui, s: &mut super::state::Settings) {
    let mut pace = s.rate_per_minute.is_some();
    ui.checkbox(&mut pace, "Pace requests")
        .on_hover_text("Keep under your Segmind plan's rate limit (free: 5 a minute, Pro: 50)");
    if pace {
        let mut r = s.rate_per_minute.unwrap_or(PLAN_RATES[0].1);
        ui.horizontal(|ui| {
            // Segmind's documented limits, one click each.
            for (plan, rate) in PLAN_RATES {
                let label = format!("{plan} ({rate:.0}/min)");
                if ui.selectable_label(r == rate, label).clicked() {
                    r = rate;
                }
            }
        });
        ui.add(
            egui::Slider::new(&mut r, RATE_RANGE)
                .logarithmic(true)
                .max_decimals(1)
                .text("Requests / min"),
        )
        .on_hover_text(
            "The most requests a minute. A 429 from the service also holds new requests for \
             the time it asks, without lowering this",
        );
        s.rate_per_minute = Some(r);
    } else {
        s.rate_per_minute = None;
    }
}

/// Segmind's API host.
const SEGMIND_HOST: &str = "api.segmind.com";

/// Whether a base URL lacks the API version at its end (`…/v1`): every job would answer 404.
pub(crate) fn missing_version(base: &str) -> bool {
    let path = url::Url::parse(base.trim())
        .map(|u| u.path().trim_end_matches('/').to_owned())
        .unwrap_or_default();
    !(path.ends_with("/v1") || path.ends_with("/v2"))
}

/// Where the gallery is, before any result says so.
pub(crate) fn default_output_folder(demo: bool) -> Option<std::path::PathBuf> {
    let data = crate::gallery::default_data_dir()?;
    Some(if demo {
        data.join("demo").join("gallery")
    } else {
        data.join("gallery")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_settings_file_named_is_the_one_eframe_writes() {
        assert_eq!(
            crate::jobs::Places::here().settings,
            eframe::storage_dir(super::super::APP_ID).map(|d| d.join("app.ron"))
        );
    }

    fn texts(lines: &[(Tone, String)]) -> Vec<&str> {
        lines.iter().map(|(_, t)| t.as_str()).collect()
    }

    #[test]
    fn demo_mode_never_claims_the_keyring() {
        let stored = KeyState::Stored {
            masked: "SG_…ef".into(),
        };
        let lines = key_status(
            Some(&stored),
            true,
            ApiKey::new("SG_d3m0d3m0d3m0d3m0").as_ref(),
        );
        assert_eq!(
            lines.last(),
            Some(&(
                Tone::Good,
                "Key SG_…ef kept for this demo session only: it is not stored (demo mode never \
                 uses the OS keyring), and is forgotten when the window closes."
                    .to_owned()
            ))
        );
        assert!(
            !texts(&lines)
                .iter()
                .any(|t| t.contains("stored in the OS keyring")),
            "{lines:?}"
        );
        // Before a key is saved: no "No key yet" warning (the stand-in needs none).
        let lines = key_status(Some(&KeyState::Missing), true, None);
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert_eq!(lines[0].0, Tone::Hint);
        assert!(!offers_session_key(Some(&KeyState::Missing), true, None));
    }

    #[test]
    fn no_keyring_is_said_once_with_what_to_do() {
        let why = "no OS keyring is available on this system (no D-Bus session is running): set \
                   SEGMIND_API_KEY before starting fluxcn";
        let state = KeyState::Unavailable(why.into());
        let lines = key_status(Some(&state), false, None);
        assert_eq!(
            lines,
            vec![
                (
                    Tone::Error,
                    "No OS keyring is available on this system (no D-Bus session is running): \
                     set SEGMIND_API_KEY before starting fluxcn."
                        .to_owned()
                ),
                (
                    Tone::Hint,
                    "Or paste the key below and choose \"Use for this session only\": it is kept \
                     in memory until fluxcn closes, never stored."
                        .to_owned()
                ),
            ]
        );
        assert!(offers_session_key(Some(&state), false, None));
        // A working keyring: no session-only offer.
        assert!(!offers_session_key(Some(&KeyState::Missing), false, None));
    }

    #[test]
    fn a_session_key_is_never_called_stored() {
        let state = KeyState::Unavailable("no OS keyring is available on this system (x)".into());
        let k = ApiKey::new("SG_0123456789abcdef");
        let lines = key_status(Some(&state), false, k.as_ref());
        assert_eq!(lines[0].0, Tone::Good);
        assert_eq!(
            lines[0].1,
            "Key SG_…ef is used for this session only: it is not stored, and is forgotten when \
             fluxcn closes."
        );
        assert_eq!(
            lines[1],
            (
                Tone::Hint,
                "No OS keyring is available on this system (x).".to_owned()
            )
        );
        assert!(!texts(&lines).iter().any(|t| t.contains("stored in")));
        assert!(offers_session_key(Some(&state), false, k.as_ref()));
    }

    #[test]
    fn the_keyring_states_read_plainly() {
        let stored = KeyState::Stored {
            masked: "SG_…ef".into(),
        };
        assert_eq!(
            key_status(Some(&stored), false, None),
            vec![(
                Tone::Good,
                "Key SG_…ef stored in the OS keyring.".to_owned()
            )]
        );
        let env = KeyState::FromEnv {
            masked: "SG_…01".into(),
        };
        assert_eq!(
            texts(&key_status(Some(&env), false, None)),
            vec!["Key SG_…01 from SEGMIND_API_KEY (it overrides the keyring)."]
        );
        assert_eq!(
            key_status(Some(&KeyState::Missing), false, None)[0].0,
            Tone::Warn
        );
        assert_eq!(key_status(None, false, None)[0].0, Tone::Hint);
        assert_eq!(sentence("  already a sentence. "), "Already a sentence.");
        assert_eq!(sentence(""), "");
    }

    #[test]
    fn base_urls_are_checked() {
        assert_eq!(
            check_base(" https://api.segmind.com/v1/ "),
            Ok("https://api.segmind.com/v1".into())
        );
        assert!(
            check_base("api.segmind.com/v1")
                .unwrap_err()
                .contains("https://")
        );
        assert!(check_base("https://").is_err());
        // Segmind's host without its path: mended (the API lives under /v1).
        assert_eq!(
            check_base("https://api.segmind.com/"),
            Ok("https://api.segmind.com/v1".into())
        );
        assert_eq!(
            check_base("https://API.segmind.com"),
            Ok("https://API.segmind.com/v1".into())
        );
        // Another host is taken as typed (a proxy may have any path).
        assert_eq!(
            check_base("https://proxy.example.com"),
            Ok("https://proxy.example.com".into())
        );
        assert!(missing_version("https://proxy.example.com"));
        assert!(!missing_version("https://proxy.example.com/segmind/v1"));
    }
}
