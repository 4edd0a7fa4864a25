//! The gallery's large view: the selected image in place of the grid, with zoom and pan (the
//! scroll wheel zooms about the pointer, a drag pans, a double-click or "Fit" shows it whole),
//! "Back to grid" (Esc), and previous/next through the current listing (the arrow keys). The
//! details stay beside it.
//!
//! The image is decoded off the UI thread ([`Services::open_image`]); until it arrives, the
//! thumbnail (when there is one) stands in for it. Only the image on screen is held.

use std::sync::Arc;

use egui::{Color32, Rect, Role, Sense, TextureHandle, WidgetInfo, pos2, vec2};

use super::{GalleryPanel, Thumb, fit_in, texture_from_rgba};
use crate::jobs::services::{Pending, Poll};
use crate::jobs::{ServiceError, Services};
use crate::ui::zoom::{Frame, ZoomPan, fit_scale};

/// The image of the large view.
enum Large {
    Opening(Pending<Result<Arc<image::RgbaImage>, ServiceError>>),
    Ready(TextureHandle),
    Failed(String),
}

/// The large view of one image.
pub(super) struct Viewer {
    /// The image shown (the panel's selection: the view follows it).
    id: String,
    image: Large,
    zoom: ZoomPan,
}

impl GalleryPanel {
    /// The image shown large, if the large view is open.
    pub fn viewing(&self) -> Option<&str> {
        self.viewer.as_ref().map(|v| v.id.as_str())
    }

    /// Opens the selected image large (nothing happens without a selection).
    pub(super) fn open_viewer(&mut self, services: &Services) {
        if let Some(id) = self.selected.clone()
            && self.viewer.as_ref().is_none_or(|v| v.id != id)
        {
            self.viewer = Some(Viewer {
                image: Large::Opening(services.open_image(id.clone())),
                id,
                zoom: ZoomPan::default(),
            });
        }
    }

    /// Keeps the large view on the selected image: another one is opened when the selection
    /// moved (the arrow keys), and the view closes when nothing (shown) is selected.
    pub(super) fn sync_viewer(&mut self, services: &Services) {
        let Some(v) = &self.viewer else {
            return;
        };
        let shown = self
            .selected
            .as_ref()
            .filter(|id| self.by_id.contains_key(*id) && !self.hidden.contains(*id));
        match shown {
            None => self.viewer = None,
            Some(id) if *id != v.id => self.open_viewer(services),
            Some(_) => {}
        }
    }

    pub(super) fn poll_viewer(&mut self, ctx: &egui::Context) {
        let Some(v) = &mut self.viewer else {
            return;
        };
        let Large::Opening(p) = &mut v.image else {
            return;
        };
        let answer = match p.poll() {
            Poll::Waiting => return,
            Poll::Ready(r) => r.map_err(|e| e.to_string()),
            Poll::Lost => Err(crate::jobs::services::WORKER_STOPPED.into()),
        };
        v.image = match answer {
            Ok(img) => match texture_from_rgba(ctx, format!("large-{}", v.id), &img) {
                Some(t) => Large::Ready(t),
                None => Large::Failed("the image is empty".into()),
            },
            Err(e) => Large::Failed(e),
        };
    }

    /// Draws the large view over the room the grid would have.
    pub(super) fn viewer_ui(&mut self, ui: &mut egui::Ui) {
        let Some(id) = self.viewer.as_ref().map(|v| v.id.clone()) else {
            return;
        };
        let visible = self.visible_ids();
        let at = visible.iter().position(|v| *v == id);
        let count = visible.len();
        let prompt = self
            .by_id
            .get(&id)
            .and_then(|i| self.found.rows.get(*i))
            .map(|r| r.prompt.clone())
            .unwrap_or_default();
        let mut step = 0;
        let mut back = false;
        ui.horizontal_wrapped(|ui| {
            back = ui
                .button("Back to grid")
                .on_hover_text("Return to the thumbnails (Esc)")
                .clicked();
            let first = at.is_none_or(|a| a == 0);
            let last = at.is_none_or(|a| a + 1 >= count);
            if ui
                .add_enabled(!first, egui::Button::new("< Previous"))
                .on_hover_text("The previous image of the listing (Left arrow)")
                .clicked()
            {
                step = -1;
            }
            if ui
                .add_enabled(!last, egui::Button::new("Next >"))
                .on_hover_text("The next image of the listing (Right arrow)")
                .clicked()
            {
                step = 1;
            }
            if let Some(a) = at {
                ui.label(format!("{} of {count}", a + 1));
            }
            if let Some(v) = &mut self.viewer {
                if ui
                    .add_enabled(!v.zoom.is_fit(), egui::Button::new("Fit"))
                    .on_hover_text(
                        "Show the whole image (or double-click it); scroll to zoom, drag to pan",
                    )
                    .clicked()
                {
                    v.zoom.fit();
                }
                ui.weak(format!("{:.0}%", v.zoom.zoom() * 100.0));
            }
        });
        if back {
            self.viewer = None;
            return;
        }
        if step != 0 {
            // The view follows the selection on the next frame.
            self.step(&id, step);
            ui.ctx().request_repaint();
        }
        let label = format!("large image: {}", crate::api::error::shorten(&prompt, 60));
        let thumb = match self.thumbs.get(&id).map(|s| &s.thumb) {
            Some(Thumb::Ready(t)) => Some(t.clone()),
            _ => None,
        };
        if let Some(v) = &mut self.viewer {
            large_image(ui, v, &label, thumb.as_ref());
        }
    }
}

/// The image over the room left, with its zoom; the thumbnail or a status while it opens.
fn large_image(ui: &mut egui::Ui, v: &mut Viewer, label: &str, thumb: Option<&TextureHandle>) {
    let room = ui.available_rect_before_wrap();
    let resp = ui.allocate_rect(room, Sense::click_and_drag());
    resp.widget_info(|| WidgetInfo::labeled(Role::Image, true, label));
    let painter = ui.painter_at(room);
    painter.rect_filled(room, 0.0, ui.visuals().extreme_bg_color);
    let full = Rect::from_min_max(pos2(0.0, 0.0), pos2(1.0, 1.0));
    let status = match &v.image {
        Large::Ready(tex) => {
            let image = tex.size_vec2();
            let frame = Frame::centred(room, image * fit_scale(image, room.size()));
            if resp.double_clicked() {
                v.zoom.fit();
            } else {
                v.zoom.interact(ui, &resp, &frame, true);
            }
            let (rect, uv) = v.zoom.placement(&frame);
            painter.image(tex.id(), rect, uv, Color32::WHITE);
            if resp.dragged() {
                ui.ctx().set_cursor_icon(egui::CursorIcon::Grabbing);
            }
            None
        }
        Large::Opening(_) => {
            if let Some(t) = thumb {
                painter.image(t.id(), fit_in(room, t.size_vec2()), full, Color32::WHITE);
            }
            let text = egui::RichText::new("Opening the image…").strong();
            Some(text.background_color(ui.visuals().extreme_bg_color))
        }
        Large::Failed(e) => {
            let text = format!(
                "Could not open the image: {}",
                crate::api::error::shorten(e, 120)
            );
            Some(egui::RichText::new(text).color(ui.visuals().error_fg_color))
        }
    };
    if let Some(text) = status {
        let line = Rect::from_center_size(room.center(), vec2(room.width(), 24.0));
        ui.put(line, egui::Label::new(text).truncate());
    }
}
