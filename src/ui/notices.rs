//! What the window says outside the panels: the notices bar, the first-run banner when there is no
//! key, the question before paying twice for the same picture (a result of this session, or one in
//! the gallery: see `sending.rs`), the overlay while a file is dragged over the window, and keeping
//! the keyboard focus in view.

use super::app::FluxApp;
use super::widgets;
use crate::jobs::{JobSpec, KeyState};

impl FluxApp {
    /// Whether a job with exactly these settings, seed and input finished in this session (the
    /// same picture, billed again). A server-picked seed never repeats a picture. The gallery's
    /// results are asked for off the UI thread (`sending.rs`).
    pub(crate) fn made_already(&self, spec: &JobSpec) -> bool {
        spec.params.seed != crate::api::params::RANDOM_SEED
            && self.session.jobs.iter().any(|j| {
                matches!(j.status, super::session::JobStatus::Done { .. })
                    && j.spec.input == spec.input
                    && j.spec.framing == spec.framing
                    && j.spec.api == spec.api
                    && j.spec.params.same_picture(&spec.params)
            })
    }

    /// Asks before paying twice for the same picture.
    pub(crate) fn duplicate_window(&mut self, ctx: &egui::Context) {
        let Some(spec) = self.knobs.confirm_duplicate.clone() else {
            return;
        };
        // Esc answers "Cancel", as in any dialog.
        let mut decided = ctx
            .input_mut(|i| i.consume_key(egui::Modifiers::NONE, egui::Key::Escape))
            .then_some(false);
        egui::Window::new("Make the same picture again?")
            .collapsible(false)
            .resizable(false)
            .anchor(egui::Align2::CENTER_CENTER, egui::vec2(0.0, 0.0))
            .show(ctx, |ui| {
                let cost = self.cost_per_image_now() * f64::from(spec.params.samples.max(1));
                let seed = spec.params.seed;
                ui.label(match &self.knobs.sending.duplicate_of {
                    None => format!(
                        "A job with exactly these settings, seed {seed} and input finished in \
                         this session: the result would be the same picture, billed again \
                         (about ${cost:.2})."
                    ),
                    Some(made) => format!(
                        "The gallery has a picture made with exactly these settings, seed \
                         {seed} and input ({}, {}): the result would be the same picture, \
                         billed again (about ${cost:.2}).",
                        made.id,
                        made.meta
                            .created
                            .chars()
                            .take(16)
                            .collect::<String>()
                            .replace('T', " ")
                    ),
                });
                ui.label("Change the seed (or any setting) for a new picture.");
                ui.horizontal(|ui| {
                    if ui.button("Generate again").clicked() {
                        decided = Some(true);
                    }
                    if ui.button("Cancel").clicked() {
                        decided = Some(false);
                    }
                });
            });
        if decided.is_some() {
            self.knobs.confirm_duplicate = None;
            self.knobs.sending.duplicate_of = None;
        }
        if decided == Some(true) {
            self.submit(spec);
        }
    }

    /// A first-run banner while there is no key: generating needs one, and the button opens the
    /// settings where it is set (nothing is queued without a key: see `generate_blocker`).
    pub(crate) fn key_banner(&mut self, ui: &mut egui::Ui) {
        if self.launch.session_key.is_some() {
            return;
        }
        // In an artist's words: what to do. The technical reason waits behind "Details".
        let (text, details) = match &self.settings_ui.key_state {
            Some(KeyState::Missing) => (
                "To generate, add your Segmind API key (from segmind.com, under API keys)."
                    .to_owned(),
                None,
            ),
            Some(KeyState::Unavailable(why)) => (
                "To generate, add your Segmind API key. This computer has no password store \
                 fluxcn can use, so the key is kept until you close the app."
                    .to_owned(),
                Some(why.clone()),
            ),
            _ => return,
        };
        egui::Panel::top("key_banner").show(ui, |ui| {
            ui.horizontal(|ui| {
                ui.label(
                    egui::RichText::new(text)
                        .color(egui::Color32::BLACK)
                        .background_color(widgets::WARN),
                );
                if ui
                    .button("Set key")
                    .on_hover_text("Open the settings to enter your API key")
                    .clicked()
                {
                    self.settings_ui.show_settings = true;
                }
                if details.is_some() {
                    ui.toggle_value(&mut self.settings_ui.key_details, "Details")
                        .on_hover_text("Why the key cannot be kept between sessions");
                }
            });
            if let (true, Some(why)) = (self.settings_ui.key_details, &details) {
                widgets::hint_line(
                    ui,
                    &format!("{why} (SEGMIND_API_KEY in the environment also works.)"),
                );
            }
        });
    }

    /// Notices that belong to no job, each dismissable.
    pub(crate) fn notices_bar(&mut self, ui: &mut egui::Ui) {
        if self.notices.is_empty() {
            return;
        }
        // Over the workspace's lower right, never beside it: a notice that comes or goes moves
        // nothing, and the controls' column (Generate) stays uncovered.
        let ctx = ui.ctx().clone();
        let screen = ctx.content_rect();
        let width = (screen.width() - LEFT_KEPT_CLEAR).clamp(200.0, 480.0);
        egui::Area::new(egui::Id::unique("notices"))
            .order(egui::Order::Foreground)
            .anchor(egui::Align2::RIGHT_BOTTOM, egui::vec2(-8.0, -8.0))
            .show(&ctx, |ui| {
                egui::Frame::popup(ui.style()).show(ui, |ui| {
                    ui.set_max_width(width);
                    let mut dismiss = None;
                    for (i, n) in self.notices.iter().enumerate() {
                        ui.horizontal(|ui| {
                            if ui
                                .small_button("Dismiss")
                                .on_hover_text("Dismiss")
                                .clicked()
                            {
                                dismiss = Some(i);
                            }
                            widgets::warn_line(ui, n);
                        });
                    }
                    if let Some(i) = dismiss {
                        self.notices.remove(i);
                    }
                });
            });
    }
}

/// The window's left part the notices never cover (the controls' column and its Generate button).
const LEFT_KEPT_CLEAR: f32 = 380.0;

/// Scrolls the controls to the widget Tab moved the focus to, when it is one of theirs and out of
/// view (egui does not follow the keyboard focus on its own).
pub(crate) fn follow_keyboard_focus(ui: &mut egui::Ui) {
    if !ui.input(|i| i.key_pressed(egui::Key::Tab)) {
        return;
    }
    let Some(r) = ui
        .ctx()
        .memory(|m| m.focused())
        .and_then(|id| ui.ctx().read_response(id))
    else {
        return;
    };
    let content = ui.min_rect();
    if content.contains(r.rect.center()) && !ui.clip_rect().contains_rect(r.rect) {
        ui.scroll_to_rect(r.rect, Some(egui::Align::Center));
    }
}

pub(crate) fn drop_overlay(ctx: &egui::Context) {
    let screen = ctx.content_rect();
    let painter = ctx.layer_painter(egui::LayerId::new(
        egui::Order::Foreground,
        egui::Id::unique("drop_overlay"),
    ));
    painter.rect_filled(screen, 0.0, egui::Color32::from_black_alpha(160));
    painter.text(
        screen.center(),
        egui::Align2::CENTER_CENTER,
        "Drop a saved result to restore its settings and input, or any image to use it as input",
        egui::FontId::proportional(22.0),
        egui::Color32::WHITE,
    );
}
