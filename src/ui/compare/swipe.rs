//! The A/B swipe: two picked results drawn as one image split by a divider (A left of it, B
//! right), with the zoom the cells share. Dragging near the divider moves it; dragging elsewhere
//! pans, and the wheel zooms about the pointer.

use egui::{Color32, Role, Sense, Stroke, TextureHandle, Ui, WidgetInfo, vec2};

use crate::ui::gallery_panel::fit_in;
use crate::ui::zoom::{Frame, ZoomPan, split_rect, split_uv};

/// How close to the divider (in points) a press grabs it.
const GRAB: f32 = 12.0;

/// The swipe's picks and divider.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Swipe {
    /// The cell shown left of the divider.
    pub a: Option<usize>,
    /// The cell shown right of it.
    pub b: Option<usize>,
    /// Shown instead of the cells.
    pub on: bool,
    /// Where the divider is, as a fraction of the image's width.
    pub split: f32,
    dragging_divider: bool,
}

impl Default for Swipe {
    fn default() -> Self {
        Swipe {
            a: None,
            b: None,
            on: false,
            split: 0.5,
            dragging_divider: false,
        }
    }
}

impl Swipe {
    /// Picks cell `i` as A (`is_a`) or B, or unpicks it if it already was.
    pub fn pick(&mut self, i: usize, is_a: bool) {
        let slot = if is_a { &mut self.a } else { &mut self.b };
        *slot = if *slot == Some(i) { None } else { Some(i) };
    }

    /// The textures of A and B, when both have a result shown.
    pub fn pair<'t>(
        &self,
        textures: &'t [Option<TextureHandle>],
    ) -> Option<(&'t TextureHandle, &'t TextureHandle)> {
        let tex = |i: Option<usize>| textures.get(i?)?.as_ref();
        Some((tex(self.a)?, tex(self.b)?))
    }

    /// Draws A and B (captioned `labels`) over the room left, split at the divider.
    pub fn ui(
        &mut self,
        ui: &mut Ui,
        (a, b): (&TextureHandle, &TextureHandle),
        (label_a, label_b): (&str, &str),
        zoom: &mut ZoomPan,
    ) {
        // The captions on a line of their own above the images, so they never cover them.
        ui.horizontal(|ui| {
            ui.add(egui::Label::new(format!("A (left): {label_a}")).truncate());
            ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                ui.add(egui::Label::new(format!("B (right): {label_b}")).truncate());
            });
        });
        let avail = ui.available_size().max(vec2(64.0, 64.0));
        let (area, resp) = ui.allocate_exact_size(avail, Sense::click_and_drag());
        let frame = Frame::fixed(fit_in(area, a.size_vec2()));
        resp.widget_info(|| {
            WidgetInfo::labeled(
                Role::Image,
                true,
                format!("A/B swipe: A {label_a}, B {label_b}"),
            )
        });
        let (shown, _) = zoom.placement(&frame);
        // Where the press began decides what the drag moves: the divider, or the view.
        if resp.drag_started()
            && let Some(p) = ui
                .input(|i| i.pointer.press_origin())
                .or(resp.interact_pointer_pos())
        {
            let x = shown.min.x + shown.width() * self.split;
            self.dragging_divider = (p.x - x).abs() <= GRAB;
        }
        if resp.dragged() && self.dragging_divider {
            if let Some(p) = resp.interact_pointer_pos()
                && shown.width() > 0.0
            {
                self.split = ((p.x - shown.min.x) / shown.width()).clamp(0.0, 1.0);
            }
        } else {
            zoom.interact(ui, &resp, &frame, true);
        }
        if resp.drag_stopped() {
            self.dragging_divider = false;
        }
        let (shown, uv) = zoom.placement(&frame);
        let (ra, rb) = split_rect(shown, self.split);
        let (ua, ub) = split_uv(uv, self.split);
        let painter = ui.painter_at(area);
        painter.image(a.id(), ra, ua, Color32::WHITE);
        painter.image(b.id(), rb, ub, Color32::WHITE);
        let x = ra.max.x;
        paint_divider(&painter, shown, x);
        if resp.hovered() {
            let near = ui
                .input(|i| i.pointer.hover_pos())
                .is_some_and(|p| (p.x - x).abs() <= GRAB);
            if near || self.dragging_divider {
                ui.ctx().set_cursor_icon(egui::CursorIcon::ResizeHorizontal);
            }
        }
    }
}

/// The divider at `x` with its handle.
fn paint_divider(painter: &egui::Painter, rect: egui::Rect, x: f32) {
    let stroke = Stroke::new(2.0, Color32::WHITE);
    painter.line_segment(
        [egui::pos2(x, rect.min.y), egui::pos2(x, rect.max.y)],
        stroke,
    );
    painter.circle_filled(egui::pos2(x, rect.center().y), 7.0, Color32::WHITE);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picking_again_unpicks_and_a_and_b_are_separate() {
        let mut s = Swipe::default();
        assert_eq!(s.split, 0.5);
        s.pick(0, true);
        s.pick(2, false);
        assert_eq!((s.a, s.b), (Some(0), Some(2)));
        s.pick(1, true);
        assert_eq!(s.a, Some(1));
        s.pick(1, true);
        assert_eq!((s.a, s.b), (None, Some(2)));
        assert!(s.pair(&[None, None, None]).is_none());
    }
}
