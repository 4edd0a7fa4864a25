//! The gallery's trash, in a window: what was deleted (its prompt and rating, the newest picture
//! first), each with Restore, and "Empty trash" behind a question. Deleting is never final until
//! the trash is emptied here (or with `fluxcn gallery empty-trash`).

use egui::RichText;

use crate::gallery::Trashed;
use crate::jobs::services::{self, Pending};
use crate::jobs::{ServiceError, Services};
use crate::ui::widgets;

/// The Trash window's state.
#[derive(Default)]
pub struct TrashView {
    pub open: bool,
    /// What the trash held when last asked.
    items: Option<Vec<Trashed>>,
    asked: Option<Pending<Result<Vec<Trashed>, ServiceError>>>,
    emptying: Option<Pending<Result<usize, ServiceError>>>,
    /// "Empty trash" was clicked once: the question is on screen.
    confirm_empty: bool,
    said: Option<String>,
}

/// What the window asks of the gallery panel.
pub enum TrashAction {
    /// Restore this picture (the panel asks, and applies the listing that answers).
    Restore(String),
}

impl TrashView {
    /// Opens the window and reads the trash.
    pub fn show(&mut self, services: &Services) {
        self.open = true;
        self.confirm_empty = false;
        self.said = None;
        self.refresh(services);
    }

    /// Reads the trash again (after a delete or a restore).
    pub fn refresh(&mut self, services: &Services) {
        if self.open {
            self.asked = Some(services.trash());
        }
    }

    fn poll(&mut self, services: &Services) {
        match services::take(&mut self.asked) {
            Some(Some(Ok(items))) => self.items = Some(items),
            Some(Some(Err(e))) => self.said = Some(e.to_string()),
            Some(None) => self.said = Some(services::WORKER_STOPPED.into()),
            None => {}
        }
        match services::take(&mut self.emptying) {
            Some(Some(Ok(n))) => {
                self.said = Some(format!(
                    "The trash was emptied: {n} picture{} deleted for good.",
                    if n == 1 { "" } else { "s" }
                ));
                self.refresh(services);
            }
            Some(Some(Err(e))) => self.said = Some(e.to_string()),
            Some(None) => self.said = Some(services::WORKER_STOPPED.into()),
            None => {}
        }
    }

    /// The window, when open; a Restore asked is returned for the panel to do.
    pub fn ui(&mut self, ctx: &egui::Context, services: &Services) -> Option<TrashAction> {
        if !self.open {
            return None;
        }
        self.poll(services);
        let mut action = None;
        let mut open = self.open;
        egui::Window::new("Trash")
            .open(&mut open)
            .collapsible(false)
            .default_width(420.0)
            .show(ctx, |ui| {
                if let Some(s) = &self.said {
                    widgets::hint_line(ui, s);
                }
                let Some(items) = &self.items else {
                    ui.weak("Reading the trash…");
                    return;
                };
                if items.is_empty() {
                    ui.label("The trash is empty.");
                    return;
                }
                ui.label(format!(
                    "{} picture{} in the trash (deleted pictures stay here until the trash is \
                     emptied)",
                    items.len(),
                    if items.len() == 1 { "" } else { "s" }
                ));
                egui::ScrollArea::vertical()
                    .max_height(360.0)
                    .show(ui, |ui| {
                        for t in items {
                            ui.horizontal(|ui| {
                                if ui
                                    .button("Restore")
                                    .on_hover_text("Put it back in the gallery")
                                    .clicked()
                                {
                                    action = Some(TrashAction::Restore(t.id.clone()));
                                }
                                let prompt = if t.prompt.is_empty() {
                                    t.file.as_str()
                                } else {
                                    t.prompt.as_str()
                                };
                                let rated = match t.rating {
                                    0 => String::new(),
                                    r => format!(" (rated {r}/5)"),
                                };
                                ui.add(egui::Label::new(format!("{prompt}{rated}")).truncate())
                                    .on_hover_text(t.file.as_str());
                            });
                        }
                    });
                ui.separator();
                if self.confirm_empty {
                    ui.label(
                        RichText::new(format!(
                            "Delete these {} pictures for good? This cannot be undone.",
                            items.len()
                        ))
                        .color(widgets::WARN),
                    );
                    ui.horizontal(|ui| {
                        if ui.button("Delete for good").clicked() {
                            self.emptying = Some(services.empty_trash());
                            self.confirm_empty = false;
                        }
                        if ui.button("Keep them").clicked() {
                            self.confirm_empty = false;
                        }
                    });
                } else if ui
                    .button("Empty trash…")
                    .on_hover_text("Delete everything in the trash for good (asks first)")
                    .clicked()
                {
                    self.confirm_empty = true;
                }
            });
        self.open = open;
        action
    }
}
