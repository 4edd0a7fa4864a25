//! "Use as input" and "Refine ×2 (tile)" (issue 26), from the Result tab and the gallery: a
//! picture becomes the input, or one job refines it (the picture as the input, `tile`, twice its
//! size capped at 4096, its prompt and seed), sent only once the artist has seen its cost.

use egui::Ui;

use super::app::FluxApp;
use super::gallery_panel::PanelAction;
use super::session::ResultEntry;
use crate::jobs::{InputSource, JobSpec};

impl FluxApp {
    /// "Use as input": the picture at `path` becomes the input image; the settings stay.
    pub(crate) fn use_as_input(&mut self, path: std::path::PathBuf) {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        self.set_input(InputSource::File(path));
        self.push_notice(format!(
            "{name} is the input image now (the settings are as they were)."
        ));
    }

    /// "Refine ×2 (tile)": the job is built and waits for the artist's go (its cost shown).
    pub(crate) fn ask_refine(
        &mut self,
        picture: std::path::PathBuf,
        params: crate::api::GenParams,
    ) {
        self.knobs.confirm_refine = Some(JobSpec {
            input: InputSource::File(picture),
            params,
            api: self.state.settings.api_version,
            group: None,
            prompt_template: None,
            batch: None,
            framing: Default::default(),
        });
    }

    /// The refine's confirmation: what it sends and what it costs; Refine sends it (unless the
    /// daily budget refuses it), Cancel or Esc drops it.
    pub(crate) fn refine_window(&mut self, ctx: &egui::Context) {
        let Some(spec) = self.knobs.confirm_refine.clone() else {
            return;
        };
        let mut decided = ctx
            .input_mut(|i| i.consume_key(egui::Modifiers::NONE, egui::Key::Escape))
            .then_some(false);
        let cost = self.cost_per_image_now();
        let blocker = self.budget_blocker_short(1);
        egui::Window::new("Refine ×2 (tile)")
            .collapsible(false)
            .resizable(false)
            .anchor(egui::Align2::CENTER_CENTER, egui::vec2(0.0, 0.0))
            .show(ctx, |ui| {
                let p = &spec.params;
                let name = match &spec.input {
                    InputSource::File(f) => f
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default(),
                    other => other.describe(),
                };
                ui.label(format!(
                    "One job: {name} as the input, control type tile, output {} × {}, with its \
                     prompt and seed {}.",
                    p.custom_width, p.custom_height, p.seed
                ));
                ui.label(egui::RichText::new(format!("1 image ≈ ${cost:.2}")).strong());
                if let Some(why) = &blocker {
                    super::widgets::warn_line(ui, why);
                }
                ui.horizontal(|ui| {
                    if ui
                        .add_enabled(blocker.is_none(), egui::Button::new("Refine"))
                        .on_hover_text("Send it (billed)")
                        .clicked()
                    {
                        decided = Some(true);
                    }
                    if ui.button("Cancel").clicked() {
                        decided = Some(false);
                    }
                });
            });
        if decided.is_some() {
            self.knobs.confirm_refine = None;
        }
        if decided == Some(true) {
            self.submit(spec);
        }
    }
}

/// The Result tab's "Use as input" and "Refine ×2 (tile)" for the result on screen.
pub(crate) fn result_actions(ui: &mut Ui, r: &ResultEntry) -> Option<PanelAction> {
    let mut action = None;
    ui.horizontal(|ui| {
        if ui
            .small_button("Use as input")
            .on_hover_text("Make this picture the input image (the settings stay as they are)")
            .clicked()
        {
            action = Some(PanelAction::UseAsInput(r.saved.path.clone()));
        }
        let params = crate::api::refine::refine_params(
            &r.params,
            r.saved.seed,
            r.saved.width,
            r.saved.height,
            crate::api::refine::DEFAULT_SCALE,
        );
        if ui
            .small_button("Refine ×2 (tile)")
            .on_hover_text(format!(
                "One job: this picture as the input, tile, {} × {}, its prompt and seed (the cost is shown before it is sent)",
                params.custom_width, params.custom_height
            ))
            .clicked()
        {
            action = Some(PanelAction::Refine {
                picture: r.saved.path.clone(),
                params,
            });
        }
    });
    action
}
