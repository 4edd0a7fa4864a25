//! The gallery's grid: a virtualised grid of thumbnail slots (only the rows on screen exist),
//! thumbnails asked for as they come into view, a few per frame, and textures evicted least
//! recently seen first. A click (or Enter on a slot) opens the image large; Ctrl+click or
//! Shift+click adds it to (or removes it from) a selection of several.

use egui::{
    Align2, Color32, FontId, Rect, Role, Sense, Stroke, StrokeKind, Vec2, WidgetInfo, pos2, vec2,
};

use super::{
    GalleryPanel, MAX_THUMB_REQUESTS_PER_FRAME, MAX_THUMB_TEXTURES, MAX_THUMBS_IN_FLIGHT,
    THUMB_PIXELS, THUMB_SIZE, Thumb, ThumbSlot,
};
use crate::gallery::catalog::Row;
use crate::jobs::Services;

impl GalleryPanel {
    pub(super) fn grid(&mut self, ui: &mut egui::Ui, services: &Services) {
        if self.found.total == 0 {
            if self.listing_applied == 0 {
                ui.weak("Reading the gallery…");
            } else {
                ui.weak("No images yet. Results appear here as soon as they are saved.");
            }
            return;
        }
        let found = self.found.clone();
        let shown: Vec<&Row> = found
            .rows
            .iter()
            .filter(|r| !self.hidden.contains(&r.id))
            .collect();
        if shown.is_empty() {
            if self.found.total > 0 {
                ui.weak("No image matches the search.");
            }
            return;
        }
        let spacing = ui.spacing().item_spacing.x;
        let cols =
            (((ui.available_width() + spacing) / (THUMB_SIZE + spacing)).floor() as usize).max(1);
        let rows = shown.len().div_ceil(cols);
        let mut seen: Vec<&Row> = Vec::new();
        let mut clicked: Option<(String, egui::Modifiers)> = None;
        egui::ScrollArea::vertical()
            .auto_shrink([false, false])
            .show_rows(ui, THUMB_SIZE, rows, |ui, range| {
                for r in range {
                    ui.horizontal(|ui| {
                        for c in 0..cols {
                            let Some(row) = shown.get(r * cols + c) else {
                                break;
                            };
                            seen.push(row);
                            if self.thumb_slot(ui, row).clicked() {
                                clicked = Some((row.id.clone(), click_modifiers(ui)));
                            }
                        }
                    });
                }
            });
        match clicked {
            Some((id, m)) if m.command || m.ctrl || m.mac_cmd || m.shift => self.toggle_pick(id),
            Some((id, _)) => {
                self.select(Some(id));
                self.open_viewer(services);
            }
            None => {}
        }
        let ids: Vec<String> = seen.iter().map(|r| r.id.clone()).collect();
        self.request_thumbs(&ids, services);
        self.evict();
    }

    fn thumb_slot(&self, ui: &mut egui::Ui, row: &Row) -> egui::Response {
        let (rect, resp) = ui.allocate_exact_size(Vec2::splat(THUMB_SIZE), Sense::click());
        let selected =
            self.selected.as_deref() == Some(row.id.as_str()) || self.picked.contains(&row.id);
        let label = format!("thumbnail: {}", crate::api::error::shorten(&row.prompt, 60));
        resp.widget_info(|| WidgetInfo::selected(Role::Button, true, selected, &label));
        if ui.is_rect_visible(rect) {
            self.paint_slot(ui, rect, row, &resp, selected);
        }
        let tip = match self.thumbs.get(&row.id).map(|s| &s.thumb) {
            Some(Thumb::Failed(err)) => format!("{}\n\nThumbnail: {err}", row.prompt),
            _ => row.prompt.clone(),
        };
        resp.on_hover_text(tip)
    }

    fn paint_slot(
        &self,
        ui: &egui::Ui,
        rect: Rect,
        row: &Row,
        resp: &egui::Response,
        selected: bool,
    ) {
        let painter = ui.painter();
        let visuals = ui.visuals();
        painter.rect_filled(rect, 4.0, visuals.extreme_bg_color);
        match self.thumbs.get(&row.id).map(|s| &s.thumb) {
            Some(Thumb::Ready(tex)) => {
                let r = super::fit_in(rect.shrink(2.0), tex.size_vec2());
                painter.image(
                    tex.id(),
                    r,
                    Rect::from_min_max(pos2(0.0, 0.0), pos2(1.0, 1.0)),
                    Color32::WHITE,
                );
            }
            Some(Thumb::Failed(_)) => {
                painter.text(
                    rect.center(),
                    Align2::CENTER_CENTER,
                    "no preview",
                    FontId::proportional(12.0),
                    visuals.error_fg_color,
                );
            }
            _ => {
                painter.text(
                    rect.center(),
                    Align2::CENTER_CENTER,
                    row.cn_type.as_str(),
                    FontId::proportional(12.0),
                    visuals.weak_text_color(),
                );
            }
        }
        if self.favourite(&row.id, row.favourite) {
            // A drawn badge: the default fonts have no star glyph.
            painter.circle(
                rect.right_top() + vec2(-10.0, 10.0),
                6.0,
                Color32::GOLD,
                Stroke::new(1.0, Color32::BLACK),
            );
        }
        // The rating as that many small dots along the bottom edge.
        for n in 0..self.rating(&row.id, row.rating) {
            painter.circle(
                rect.left_bottom() + vec2(9.0 + 9.0 * f32::from(n), -9.0),
                3.0,
                Color32::GOLD,
                Stroke::new(1.0, Color32::BLACK),
            );
        }
        let stroke = if selected {
            Stroke::new(2.0, visuals.selection.stroke.color)
        } else if resp.hovered() {
            visuals.widgets.hovered.bg_stroke
        } else {
            Stroke::NONE
        };
        painter.rect_stroke(rect, 4.0, stroke, StrokeKind::Inside);
    }

    /// Marks the thumbnails on screen as seen and asks for those not requested yet, a bounded
    /// number per frame.
    fn request_thumbs(&mut self, seen: &[String], services: &Services) {
        let mut sent = 0;
        for id in seen {
            if let Some(slot) = self.thumbs.get_mut(id) {
                slot.last_seen = self.frame;
                continue;
            }
            if sent >= MAX_THUMB_REQUESTS_PER_FRAME || self.in_flight >= MAX_THUMBS_IN_FLIGHT {
                continue;
            }
            let pending = services.thumbnail(id.clone(), THUMB_PIXELS);
            sent += 1;
            self.in_flight += 1;
            self.thumbs.insert(
                id.clone(),
                ThumbSlot {
                    thumb: Thumb::Requested(pending),
                    last_seen: self.frame,
                },
            );
        }
    }

    /// Drops the textures seen longest ago once more than [`MAX_THUMB_TEXTURES`] are held. Thumbs
    /// on screen this frame and requests still waiting for an answer are kept.
    fn evict(&mut self) {
        if self.thumbs.len() <= MAX_THUMB_TEXTURES {
            return;
        }
        let mut old: Vec<(u64, String)> = self
            .thumbs
            .iter()
            .filter(|(_, s)| s.last_seen < self.frame && !matches!(s.thumb, Thumb::Requested(_)))
            .map(|(id, s)| (s.last_seen, id.clone()))
            .collect();
        old.sort_unstable();
        let excess = self.thumbs.len() - MAX_THUMB_TEXTURES;
        for (_, id) in old.into_iter().take(excess) {
            self.thumbs.remove(&id);
        }
    }
}

/// The modifiers held for this frame's click: those of the primary button's release (the keys may
/// be up again by the end of the frame), else those held now (Enter on a focused slot).
fn click_modifiers(ui: &egui::Ui) -> egui::Modifiers {
    ui.input(|i| {
        i.events
            .iter()
            .rev()
            .find_map(|e| match e {
                egui::Event::PointerButton {
                    button: egui::PointerButton::Primary,
                    pressed: false,
                    modifiers,
                    ..
                } => Some(*modifiers),
                _ => None,
            })
            .unwrap_or(i.modifiers)
    })
}
