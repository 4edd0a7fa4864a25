//! What a panel asks of the rest of the window, done in one place: the gallery's and the Result
//! tab's actions ("Use these settings", "Use as input", "Refine ×2", "Open in Compare"), and the
//! one-time suggestion to upload an input sent several times.

use super::app::{FluxApp, Tab, shorten};
use crate::jobs::{Command, InputSource};

impl FluxApp {
    /// Restores every control and the seed from a saved result.
    pub(crate) fn use_settings(&mut self, params: crate::api::GenParams, notice: &str) {
        self.state.params = params.clamped();
        self.state.settings.seed_mode = super::state::SeedMode::Locked;
        self.push_notice(notice.to_owned());
    }

    /// A first compare or batch that sends one input several times suggests uploading it once
    /// (once ever: the setting stays the user's).
    pub(crate) fn suggest_upload_once(&mut self, out: &[Command]) {
        let s = &self.state.settings;
        if s.upload_inputs || s.upload_suggested {
            return;
        }
        let local: Vec<&crate::jobs::InputSource> = out
            .iter()
            .filter_map(|c| match c {
                Command::Submit { spec, .. } => Some(&spec.input),
                _ => None,
            })
            .filter(|i| !matches!(i, crate::jobs::InputSource::Url(_)))
            .collect();
        let repeated =
            local.len() >= 2 && local.iter().all(|i| i.describe() == local[0].describe());
        if repeated {
            self.state.settings.upload_suggested = true;
            self.push_notice(format!(
                "These {} requests send the same input {} times. Settings, \"Upload each input once\", sends it once and its web address after that (the picture then stays at that address at Segmind).",
                local.len(),
                local.len()
            ));
        }
    }

    /// Does what the gallery asked (its "Use these settings", "Open in Compare"): the one place a
    /// panel's action reaches the rest of the window.
    pub fn apply(&mut self, action: super::gallery_panel::PanelAction) {
        match action {
            super::gallery_panel::PanelAction::UseAsInput(path) => self.use_as_input(path),
            super::gallery_panel::PanelAction::Refine { picture, params } => {
                self.ask_refine(picture, params)
            }
            super::gallery_panel::PanelAction::UseSettings(p) => {
                self.use_settings(p, "Settings restored from the gallery");
            }
            super::gallery_panel::PanelAction::UseResult {
                params,
                input,
                input_was,
            } => match input.filter(|p| p.is_file()) {
                Some(path) => {
                    // Named as the artist knew it (the sidecar's input), not by its kept copy.
                    let name = std::path::Path::new(&input_was)
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_else(|| input_was.clone());
                    self.set_input_named(InputSource::File(path), Some(name));
                    self.use_settings(params, "Settings and input image restored from the gallery");
                }
                None => self.use_settings(
                    params,
                    &format!(
                        "Settings restored from the gallery. Its input image was not kept with it \
                         (it was {}), so the current input stays.",
                        shorten(&input_was, 80)
                    ),
                ),
            },
            super::gallery_panel::PanelAction::OpenInCompare(paths) => {
                self.tabs.tab = Tab::Compare;
                self.tabs
                    .compare
                    .show_saved(paths, self.backend.jobs.services());
            }
        }
    }
}
