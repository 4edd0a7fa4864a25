//! A selection of several images (Ctrl+click or Shift+click adds one or takes it away; a plain
//! click selects one again): their settings are asked for each, two show "What changed" from the
//! older to the newer (the changed fields only, `field: old -> new`, and the prompt's removed and
//! added words, by [`crate::api::diff`]), and two or more can be opened side by side in the Compare
//! view ([`PanelAction::OpenInCompare`], their paths in the listing's order).

use egui::RichText;

use super::{GalleryPanel, PanelAction};
use crate::api::diff::{InputRef, ParamDiff, diff_seeds};
use crate::gallery::Entry;
use crate::jobs::Services;
use crate::jobs::services::Poll;
use crate::ui::widgets;

impl GalleryPanel {
    /// The images selected together (at least two), in the listing's order; empty when one image
    /// or none is selected.
    pub fn picked(&self) -> Vec<String> {
        let mut ids = self.picked.clone();
        ids.sort_by_key(|id| self.by_id.get(id).copied().unwrap_or(usize::MAX));
        ids
    }

    /// Adds `id` to the selection of several, or takes it away when it was in it (Ctrl+click).
    /// The image selected alone so far starts the selection; one left is a plain selection again.
    pub(super) fn toggle_pick(&mut self, id: String) {
        if self.picked.is_empty()
            && let Some(s) = self.selected.clone()
        {
            self.picked.push(s);
        }
        match self.picked.iter().position(|p| *p == id) {
            Some(i) => {
                self.picked.remove(i);
            }
            None => self.picked.push(id),
        }
        match self.picked.len() {
            0 => self.select(None),
            1 => {
                let only = self.picked.first().cloned();
                self.select(only);
            }
            _ => {
                // The settings of the image selected alone so far (here, or asked for) are its.
                if let Some(d) = self.details.take_if(|d| self.picked.contains(&d.id)) {
                    self.picked_entries.insert(d.id.clone(), d);
                }
                if let Some(asked) = self
                    .details_asked
                    .take_if(|(id, _)| self.picked.contains(id))
                {
                    self.picked_asked.push(asked);
                }
                // (One taken away keeps its settings, and its request: it may come back.)
                let last = self.picked.last().cloned();
                self.focus(last);
            }
        }
    }

    /// The settings of picked image `id`, once they have arrived.
    fn picked_entry(&self, id: &str) -> Option<&Entry> {
        self.picked_entries
            .get(id)
            .or_else(|| self.details.as_ref().filter(|d| d.id == id))
    }

    /// Asks for the settings of every picked image not here yet.
    pub(super) fn ask_picked(&mut self, services: &Services) {
        if self.picked.len() < 2 {
            return;
        }
        let missing: Vec<String> = self
            .picked
            .iter()
            .filter(|id| {
                self.picked_entry(id).is_none()
                    && !self.picked_asked.iter().any(|(a, _)| a == *id)
                    && self.details_asked.as_ref().is_none_or(|(a, _)| a != *id)
            })
            .cloned()
            .collect();
        for id in missing {
            let pending = services.gallery_get(id.clone());
            self.picked_asked.push((id, pending));
        }
    }

    pub(super) fn poll_picked(&mut self) {
        let mut i = 0;
        while i < self.picked_asked.len() {
            match self.picked_asked[i].1.poll() {
                Poll::Waiting => i += 1,
                Poll::Ready(r) => {
                    let (id, _) = self.picked_asked.remove(i);
                    match r {
                        Ok(e) if e.id == id => {
                            self.picked_entries.insert(id, e);
                        }
                        Ok(_) => {}
                        Err(e) => self.error = Some(e.to_string()),
                    }
                }
                Poll::Lost => {
                    self.picked_asked.remove(i);
                }
            }
        }
    }

    /// The details area with several images selected: what changed (two), the list (more), and
    /// "Open in Compare".
    pub(super) fn picks_details(&mut self, ui: &mut egui::Ui) -> Option<PanelAction> {
        let ids = self.picked();
        let n = ids.len();
        ui.strong(format!("{n} images selected"));
        ui.weak(widgets::keys(
            "Ctrl+click adds or removes one; a plain click selects one again.",
        ));
        let entries: Vec<&Entry> = ids.iter().filter_map(|id| self.picked_entry(id)).collect();
        let ready = entries.len() == n;
        ui.separator();
        if n == 2 {
            match entries.as_slice() {
                [a, b] => what_changed(ui, a, b),
                _ => {
                    ui.weak("Reading their settings…");
                }
            }
        } else {
            for id in &ids {
                let prompt = self
                    .by_id
                    .get(id)
                    .and_then(|i| self.found.rows.get(*i))
                    .map_or(id.as_str(), |r| r.prompt.as_str());
                ui.add(egui::Label::new(crate::api::error::shorten(prompt, 60)).truncate())
                    .on_hover_text(prompt);
            }
            if !ready {
                ui.weak("Reading their settings…");
            }
        }
        ui.separator();
        let open = ui
            .add_enabled(ready, egui::Button::new(format!("Open in Compare ({n})")))
            .on_hover_text("Show them side by side in the Compare tab, with one zoom")
            .clicked();
        (open && ready).then(|| {
            PanelAction::OpenInCompare(entries.iter().map(|e| e.image_path.clone()).collect())
        })
    }
}

/// What changed between two saved images, from the older to the newer.
pub fn pair_diff(a: &Entry, b: &Entry) -> ParamDiff {
    let (old, new) = if a.meta.created_unix_ms <= b.meta.created_unix_ms {
        (a, b)
    } else {
        (b, a)
    };
    diff_seeds(
        &old.meta.params,
        Some(old.meta.seed_used),
        &new.meta.params,
        Some(new.meta.seed_used),
    )
    .with_input(input_of(old), input_of(new))
}

/// The control image of a saved image, as the diff compares it.
fn input_of(e: &Entry) -> InputRef<'_> {
    InputRef {
        describe: e.meta.input.as_str(),
        hash: e.meta.input_hash.as_deref(),
    }
}

/// The "What changed" block of two images: one line per change, or "no differences".
fn what_changed(ui: &mut egui::Ui, a: &Entry, b: &Entry) {
    let (old, new) = if a.meta.created_unix_ms <= b.meta.created_unix_ms {
        (a, b)
    } else {
        (b, a)
    };
    ui.label(RichText::new("What changed").strong());
    ui.weak(format!(
        "from the older ({}) to the newer ({})",
        when(old),
        when(new)
    ));
    let d = pair_diff(a, b);
    if d.is_empty() {
        ui.label("no differences");
        return;
    }
    for line in d.lines() {
        // The default fonts have no arrow: the diff's "→" is shown as "->".
        let line = line.replace('→', "->");
        ui.add(egui::Label::new(line).wrap());
    }
}

/// When an image was made, to the second (`2026-11-25 07:00:12`): two made a moment apart
/// read apart.
fn when(e: &Entry) -> String {
    e.meta
        .created
        .chars()
        .take(19)
        .map(|c| if c == 'T' { ' ' } else { c })
        .collect()
}
