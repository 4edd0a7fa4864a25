//! The gallery's details area: the selected image's settings (the field table's rows, with the
//! seed it was made with), its rating and favourite, and what can be done with it. The area keeps
//! its place whether or not an image is selected: beside the grid when the panel is wide, under it
//! when not.

use egui::RichText;

use super::{DETAILS_BESIDE_FROM, GalleryPanel, PanelAction};
use crate::api::GenParams;
use crate::gallery::Entry;
use crate::jobs::Services;
use crate::ui::widgets;

/// The details area's size across the panel: its width beside the grid, its height under it.
const BESIDE_WIDTH: f32 = 280.0;
const UNDER_HEIGHT: f32 = 190.0;

impl GalleryPanel {
    /// Draws the details area (beside or under the grid) and returns what was asked in it.
    pub(super) fn details_area(
        &mut self,
        ui: &mut egui::Ui,
        services: &Services,
    ) -> Option<PanelAction> {
        let beside = ui.available_width() >= DETAILS_BESIDE_FROM;
        let panel = if beside {
            egui::Panel::right("gallery-details")
                .resizable(false)
                .exact_size(BESIDE_WIDTH)
        } else {
            egui::Panel::bottom("gallery-details")
                .resizable(false)
                .exact_size(UNDER_HEIGHT)
        };
        panel
            .show(ui, |ui| {
                egui::ScrollArea::vertical()
                    .auto_shrink([false, false])
                    .show(ui, |ui| self.details(ui, services))
                    .inner
            })
            .inner
    }

    fn details(&mut self, ui: &mut egui::Ui, services: &Services) -> Option<PanelAction> {
        if self.picked.len() >= 2 {
            return self.picks_details(ui);
        }
        let Some(id) = self.selected.clone().filter(|id| !self.hidden.contains(id)) else {
            ui.weak(widgets::keys(
                "Click an image to view it large, with its settings here (Esc returns to the \
                 grid, the arrow keys step). Ctrl+click selects several, to see what changed or \
                 compare them. Keys: 1 to 5 rate, 0 clears.",
            ));
            return None;
        };
        let Some(entry) = self.details.clone().filter(|d| d.id == id) else {
            // No spinner: the read takes milliseconds, and a spinner would repaint forever.
            ui.weak("Reading its settings…");
            return None;
        };
        ui.add(egui::Label::new(RichText::new(&entry.meta.params.prompt).strong()).wrap());
        settings_grid(ui, &entry);
        ui.horizontal(|ui| {
            ui.weak("file");
            ui.add(egui::Label::new(entry.image_path.display().to_string()).truncate())
                .on_hover_text(entry.image_path.display().to_string());
        });
        self.rating_row(ui, &entry, services);
        self.lineage_rows(ui, &entry, services);
        self.buttons(ui, &entry, services)
    }

    fn rating_row(&mut self, ui: &mut egui::Ui, entry: &Entry, services: &Services) {
        let rating = self.rating(&entry.id, entry.meta.rating);
        ui.horizontal(|ui| {
            ui.weak("rating");
            for n in 1..=5u8 {
                let r = ui
                    .selectable_label(rating >= n, n.to_string())
                    .on_hover_text(format!("Rate {n} of 5 (key {n})"));
                if r.clicked() {
                    // Clicking the current rating again clears it.
                    let new = if rating == n { 0 } else { n };
                    self.set_rating(&entry.id, new, services);
                }
            }
            if rating > 0
                && ui
                    .small_button("Clear")
                    .on_hover_text("No rating (key 0)")
                    .clicked()
            {
                self.set_rating(&entry.id, 0, services);
            }
        });
    }

    fn buttons(
        &mut self,
        ui: &mut egui::Ui,
        entry: &Entry,
        services: &Services,
    ) -> Option<PanelAction> {
        let id = &entry.id;
        let m = &entry.meta;
        let favourite = self.favourite(id, m.favourite);
        let mut action = None;
        ui.horizontal_wrapped(|ui| {
            let star = if favourite {
                "Remove from favourites"
            } else {
                "Add to favourites"
            };
            if ui
                .selectable_label(favourite, star)
                .on_hover_text("Mark or unmark as a favourite")
                .clicked()
            {
                let q = self.query_or_all();
                self.ask_listing(services.set_favourite(id.clone(), !favourite, q));
                self.favourite_override.insert(id.clone(), !favourite);
            }
            if ui
                .button("Delete")
                .on_hover_text("Move to the gallery's trash (can be undone)")
                .clicked()
            {
                let q = self.query_or_all();
                self.ask_listing(services.delete(id.clone(), q));
                self.hidden.insert(id.clone());
                self.select(None);
                self.undo = Some(id.clone());
            }
            if ui.button("Open folder").clicked() {
                self.reveals.push(services.reveal(entry.image_path.clone()));
            }
            if ui.button("Copy prompt").clicked() {
                ui.ctx().copy_text(m.params.prompt.clone());
            }
            if ui
                .button("Use these settings")
                .on_hover_text(
                    "Load these settings, with the seed this image was made with, and its input \
                     image when it was kept",
                )
                .clicked()
            {
                action = Some(PanelAction::UseResult {
                    params: GenParams {
                        seed: m.seed_used,
                        ..m.params.clone()
                    },
                    input: entry.input_path(),
                    input_was: m.input.clone(),
                });
            }
            if ui
                .button("Use as input")
                .on_hover_text("Make this picture the input image (the settings stay as they are)")
                .clicked()
            {
                action = Some(PanelAction::UseAsInput(entry.image_path.clone()));
            }
            let params = refine_of(entry);
            if ui
                .button("Refine ×2 (tile)")
                .on_hover_text(format!(
                    "One job: this picture as the input, tile, {} × {}, its prompt and seed (the cost is shown before it is sent)",
                    params.custom_width, params.custom_height
                ))
                .clicked()
            {
                action = Some(PanelAction::Refine {
                    picture: entry.image_path.clone(),
                    params,
                });
            }
        });
        action
    }
}

/// The settings of "Refine ×2 (tile)" of a saved picture.
pub(crate) fn refine_of(entry: &Entry) -> GenParams {
    let m = &entry.meta;
    crate::api::refine::refine_params(
        &m.params,
        m.seed_used,
        m.width,
        m.height,
        crate::api::refine::DEFAULT_SCALE,
    )
}

/// The knobs as the field table shows them (the Result tab shows the same rows), with the seed
/// this image was made with; then this image's own size and date. One label and value a row, so
/// the area can be narrow.
fn settings_grid(ui: &mut egui::Ui, entry: &Entry) {
    let m = &entry.meta;
    let used = GenParams {
        seed: m.seed_used,
        ..m.params.clone()
    };
    let mut rows: Vec<(&str, String)> = crate::api::fields::details(&used)
        .into_iter()
        .map(|(f, v)| (f.label(), v))
        .collect();
    rows.push(("size", format!("{} × {}", m.width, m.height)));
    rows.push(("created", m.created.clone()));
    if let Some(t) = &m.prompt_template {
        // The variations' template the prompt was expanded from.
        rows.push(("template", t.clone()));
    }
    egui::Grid::new("gallery-details")
        .num_columns(2)
        .spacing([12.0, 2.0])
        .show(ui, |ui| {
            for (k, v) in rows {
                ui.weak(k);
                ui.label(v);
                ui.end_row();
            }
        });
}
