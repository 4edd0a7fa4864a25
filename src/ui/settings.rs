//! The settings window: the API key (masked; it goes to the key store through the runtime and never
//! into the saved state), the service's base URL and API version, concurrency, pacing, and where
//! results are saved. Every change sends `Configure`.

use egui::{RichText, Ui};

use crate::api::ApiKey;
use crate::jobs::{ApiVersion, KeyState};

use super::app::FluxApp;
use super::state::{CONCURRENCY_RANGE, MAX_INPUT_SIDE_RANGE, RATE_RANGE};
use super::widgets;

impl FluxApp {
    /// The settings window, when open.
    pub(crate) fn settings_window(&mut self, ctx: &egui::Context) {
        let mut open = self.show_settings;
        egui::Window::new("Settings")
            .open(&mut open)
            .resizable(false)
            .collapsible(false)
            .default_width(440.0)
            .show(ctx, |ui| {
                self.key_section(ui);
                ui.separator();
                self.service_section(ui);
            });
        self.show_settings = open;
    }

    fn key_section(&mut self, ui: &mut Ui) {
        widgets::heading(ui, "API key");
        match &self.key_state {
            None if self.session_key.is_some() => {
                ui.label("Using the session's key (demo)");
            }
            None => {
                ui.label(RichText::new("checking…").weak());
            }
            Some(KeyState::Stored { masked }) => {
                ui.colored_label(
                    widgets::OK,
                    format!("Key {masked} stored in the OS keyring"),
                );
            }
            Some(KeyState::FromEnv { masked }) => {
                ui.colored_label(
                    widgets::OK,
                    format!("Key {masked} from SEGMIND_API_KEY (it overrides the keyring)"),
                );
            }
            Some(KeyState::Missing) => {
                widgets::warn_line(
                    ui,
                    "No key yet: paste your Segmind key below and Save (or set SEGMIND_API_KEY).",
                );
            }
            Some(KeyState::Unavailable(why)) => {
                widgets::error_line(
                    ui,
                    &format!(
                        "The OS keyring cannot be used here ({why}). Set SEGMIND_API_KEY in the \
                         environment before starting the app instead."
                    ),
                );
            }
        }
        ui.horizontal(|ui| {
            let label = ui.label("New key");
            let field = ui
                .add(
                    egui::TextEdit::singleline(&mut self.key_entry)
                        .password(true)
                        .hint_text("SG_…")
                        .desired_width(220.0),
                )
                .labelled_by(label.id)
                .on_hover_text("Your Segmind API key; stored in the OS keyring, never in a file");
            let entered = field.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
            let can_save = !self.key_entry.trim().is_empty();
            if ui
                .add_enabled(can_save, egui::Button::new("Save"))
                .clicked()
                || (entered && can_save)
            {
                if let Some(k) = ApiKey::new(&self.key_entry) {
                    self.key_warning = k.shape_warning();
                    self.pending_key = Some(self.jobs.services().save_key(Some(k)));
                }
                self.key_entry.clear();
            }
            if ui
                .button("Clear")
                .on_hover_text("Remove the key from the OS keyring")
                .clicked()
            {
                self.key_entry.clear();
                self.key_warning = None;
                self.pending_key = Some(self.jobs.services().save_key(None));
            }
        });
        if let Some(w) = &self.key_warning {
            widgets::warn_line(ui, w);
        }
    }

    fn service_section(&mut self, ui: &mut Ui) {
        widgets::heading(ui, "Service");
        let before = self.state.settings.clone();
        let s = &mut self.state.settings;
        if let Some(base) = &self.base_override {
            widgets::hint_line(
                ui,
                &format!(
                    "This session uses {base} (set by the launcher); the field below is kept for next time."
                ),
            );
        }
        ui.horizontal(|ui| {
            let label = ui.label("Base URL");
            let entry = self.base_entry.get_or_insert_with(|| s.api_base.clone());
            let field = ui
                .add(egui::TextEdit::singleline(entry).desired_width(280.0))
                .labelled_by(label.id)
                .on_hover_text(
                    "The service's …/v1 address (a proxy or staging gateway may go here)",
                );
            if field.lost_focus() {
                match check_base(entry) {
                    Ok(b) => {
                        s.api_base = b;
                        self.base_error = None;
                    }
                    Err(e) => self.base_error = Some(e),
                }
            }
        });
        if let Some(e) = &self.base_error {
            widgets::error_line(ui, e);
        }
        ui.horizontal(|ui| {
            ui.label("API version");
            ui.radio_value(&mut s.api_version, ApiVersion::V1, "v1 (synchronous)")
                .on_hover_text("One request holds the connection for the whole generation");
            ui.radio_value(&mut s.api_version, ApiVersion::V2, "v2 (async, resumable)")
                .on_hover_text("Submit, then poll: a job survives a crash or restart");
        });
        let mut conc = s.concurrency;
        ui.add(egui::Slider::new(&mut conc, CONCURRENCY_RANGE).text("Concurrency"))
            .on_hover_text("How many generations run at once");
        s.concurrency = conc;
        let mut pace = s.rate_per_minute.is_some();
        ui.checkbox(&mut pace, "Pace requests")
            .on_hover_text("Keep under the plan's rate limit (free: about 5 a minute)");
        if pace {
            let mut r = s.rate_per_minute.unwrap_or(5.0);
            ui.add(
                egui::Slider::new(&mut r, RATE_RANGE)
                    .logarithmic(true)
                    .max_decimals(1)
                    .text("Requests / min"),
            )
            .on_hover_text("The most requests a minute; lowered automatically on a 429");
            s.rate_per_minute = Some(r);
        } else {
            s.rate_per_minute = None;
        }
        ui.add(
            egui::Slider::new(&mut s.max_input_side, MAX_INPUT_SIDE_RANGE)
                .text("Max input side (px)"),
        )
        .on_hover_text("A larger local input image is downscaled to this before upload");

        widgets::heading(ui, "Output");
        let folder = self
            .session
            .output_folder()
            .or_else(|| default_output_folder(self.demo));
        match folder {
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

        if self.state.settings != before {
            self.send_configure();
        }
    }
}

/// The base URL as typed, checked: an `http(s)` URL without trailing slashes.
pub(crate) fn check_base(text: &str) -> Result<String, String> {
    let t = text.trim().trim_end_matches('/');
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
    }
}
