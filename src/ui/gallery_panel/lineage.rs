//! The gallery details' lineage rows (issue 26): "refined from" names the picture the selected one
//! was made from, "refinements" the pictures made from it; each is a link that selects it. The
//! lineage is asked for once per selected picture, off the UI thread.

use super::GalleryPanel;
use crate::gallery::Entry;
use crate::jobs::services::{Lineage, Poll};
use crate::jobs::{ServiceError, Services};
use crate::ui::widgets;

/// The most refinements listed by name (the rest are counted).
const LISTED: usize = 6;

/// The lineage of one picture: asked for, or here.
pub(super) enum LineageSlot {
    Asked(
        String,
        crate::jobs::services::Pending<Result<Lineage, ServiceError>>,
    ),
    Ready(String, Box<Lineage>),
}

impl GalleryPanel {
    /// Takes the lineage's answer when it came.
    pub(super) fn poll_lineage(&mut self) {
        let Some(LineageSlot::Asked(id, p)) = &mut self.lineage else {
            return;
        };
        match p.poll() {
            Poll::Waiting => {}
            Poll::Ready(Ok(l)) => self.lineage = Some(LineageSlot::Ready(id.clone(), Box::new(l))),
            // A lineage that cannot be read shows nothing: the picture's details still do.
            Poll::Ready(Err(_)) | Poll::Lost => {
                self.lineage = Some(LineageSlot::Ready(id.clone(), Box::default()))
            }
        }
    }

    /// The "refined from" and "refinements" rows of `entry`.
    pub(super) fn lineage_rows(&mut self, ui: &mut egui::Ui, entry: &Entry, services: &Services) {
        let here = match &self.lineage {
            Some(LineageSlot::Ready(id, l)) if *id == entry.id => Some((**l).clone()),
            Some(LineageSlot::Asked(id, _)) if *id == entry.id => None,
            _ => {
                let asked = services.gallery_lineage(entry.clone());
                self.lineage = Some(LineageSlot::Asked(entry.id.clone(), asked));
                None
            }
        };
        let Some(l) = here else {
            return;
        };
        let mut go = None;
        if let Some(parent) = &l.parent {
            ui.horizontal_wrapped(|ui| {
                ui.weak("refined from");
                match parent {
                    Ok(p) => {
                        if ui
                            .link(&p.id)
                            .on_hover_text(format!("Select it ({})", p.meta.params.prompt))
                            .clicked()
                        {
                            go = Some(p.id.clone());
                        }
                    }
                    Err(path) => {
                        let name = std::path::Path::new(path)
                            .file_name()
                            .map(|n| n.to_string_lossy().into_owned())
                            .unwrap_or_else(|| path.clone());
                        ui.label(name)
                            .on_hover_text(format!("{path} (not in this gallery's folder)"));
                    }
                }
            });
        }
        if !l.children.is_empty() {
            ui.horizontal_wrapped(|ui| {
                ui.weak("refinements");
                for c in l.children.iter().take(LISTED) {
                    if ui
                        .link(&c.id)
                        .on_hover_text(format!("Select it ({})", c.meta.params.prompt))
                        .clicked()
                    {
                        go = Some(c.id.clone());
                    }
                }
                if l.children.len() > LISTED {
                    widgets::hint_line(ui, &format!("and {} more", l.children.len() - LISTED));
                }
            });
        }
        if let Some(id) = go {
            self.select(Some(id));
        }
    }
}
