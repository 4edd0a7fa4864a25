//! The zoom/pan state shared by every cell of a comparison ("look closely"): one UV rectangle that
//! every cell draws its texture with, so all cells show the same part of their images; plus the
//! split of that rectangle for the A/B swipe view. Pure geometry, testable without a window.

use egui::{Pos2, Rect, Response, Ui, Vec2, pos2, vec2};

/// The closest zoom: one texel of a 1024-px image spread over many screen points is plenty.
pub const MAX_ZOOM: f32 = 32.0;
/// How strongly one point of scroll-wheel movement zooms.
const SCROLL_ZOOM_SPEED: f32 = 0.0025;

/// Which part of the images is on screen, in texture (UV) coordinates, shared by all cells.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ZoomPan {
    /// 1 shows the whole image; 2 shows half of it in each direction; at most [`MAX_ZOOM`].
    zoom: f32,
    /// The UV point at the centre of every cell.
    center: Pos2,
}

impl Default for ZoomPan {
    fn default() -> Self {
        ZoomPan {
            zoom: 1.0,
            center: pos2(0.5, 0.5),
        }
    }
}

impl ZoomPan {
    /// The current magnification (1 = the whole image fits the cell).
    pub fn zoom(&self) -> f32 {
        self.zoom
    }

    /// Shows whole images again.
    pub fn fit(&mut self) {
        *self = ZoomPan::default();
    }

    /// Whether whole images are shown.
    pub fn is_fit(&self) -> bool {
        *self == ZoomPan::default()
    }

    /// The UV rectangle every cell draws its texture with: always inside `[0, 1]²`.
    pub fn uv_rect(&self) -> Rect {
        Rect::from_center_size(self.center, Vec2::splat(1.0 / self.zoom))
    }

    /// The UV point under `pos` in a cell drawn at `rect`.
    pub fn uv_at(&self, rect: Rect, pos: Pos2) -> Pos2 {
        let uv = self.uv_rect();
        let fx = if rect.width() > 0.0 {
            (pos.x - rect.min.x) / rect.width()
        } else {
            0.5
        };
        let fy = if rect.height() > 0.0 {
            (pos.y - rect.min.y) / rect.height()
        } else {
            0.5
        };
        pos2(
            uv.min.x + fx.clamp(0.0, 1.0) * uv.width(),
            uv.min.y + fy.clamp(0.0, 1.0) * uv.height(),
        )
    }

    /// Multiplies the zoom by `factor`, keeping the UV point `anchor` where it is on screen.
    pub fn zoom_by(&mut self, factor: f32, anchor: Pos2) {
        if !factor.is_finite() || factor <= 0.0 {
            return;
        }
        let old = self.zoom;
        let new = (old * factor).clamp(1.0, MAX_ZOOM);
        let keep = old / new;
        self.center = anchor + (self.center - anchor) * keep;
        self.zoom = new;
        self.clamp_center();
    }

    /// Moves the view as a drag of `delta` points over a cell of `cell_size` points does: the
    /// image follows the pointer.
    pub fn pan_by(&mut self, delta: Vec2, cell_size: Vec2) {
        if cell_size.x <= 0.0 || cell_size.y <= 0.0 || !delta.is_finite() {
            return;
        }
        self.center -= vec2(delta.x / cell_size.x, delta.y / cell_size.y) / self.zoom;
        self.clamp_center();
    }

    fn clamp_center(&mut self) {
        let half = 0.5 / self.zoom;
        self.center = pos2(
            self.center.x.clamp(half, 1.0 - half),
            self.center.y.clamp(half, 1.0 - half),
        );
    }

    /// Applies the scroll wheel (zoom about the pointer) and a pinch over a cell's `response`, and,
    /// when `pan` is set, a primary drag (the image follows the pointer). `image` is where the
    /// texture is drawn inside the cell. Returns whether the view changed.
    pub fn interact(&mut self, ui: &Ui, response: &Response, image: Rect, pan: bool) -> bool {
        let before = *self;
        if response.hovered() {
            let (scroll, pinch, pointer) = ui.input(|i| {
                (
                    i.smooth_scroll_delta().y,
                    i.zoom_delta(),
                    i.pointer.hover_pos(),
                )
            });
            let factor = (scroll * SCROLL_ZOOM_SPEED).exp() * pinch;
            if (factor - 1.0).abs() > f32::EPSILON {
                let anchor = pointer.map_or(self.center, |p| self.uv_at(image, p));
                self.zoom_by(factor, anchor);
            }
        }
        if pan && response.dragged_by(egui::PointerButton::Primary) {
            self.pan_by(response.drag_delta(), image.size());
        }
        *self != before
    }
}

/// Splits `uv` (drawn over a rectangle) at the fraction `split` of its width, for the A/B swipe:
/// the left part shows A, the right part B, and together they draw one seamless image.
pub fn split_uv(uv: Rect, split: f32) -> (Rect, Rect) {
    let s = split.clamp(0.0, 1.0);
    let x = uv.min.x + uv.width() * s;
    (
        Rect::from_min_max(uv.min, pos2(x, uv.max.y)),
        Rect::from_min_max(pos2(x, uv.min.y), uv.max),
    )
}

/// Splits a screen rectangle the same way as [`split_uv`].
pub fn split_rect(rect: Rect, split: f32) -> (Rect, Rect) {
    split_uv(rect, split)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: Pos2, b: Pos2) -> bool {
        (a - b).length() < 1e-4
    }

    #[test]
    fn fit_shows_the_whole_image() {
        let z = ZoomPan::default();
        assert_eq!(
            z.uv_rect(),
            Rect::from_min_max(pos2(0.0, 0.0), pos2(1.0, 1.0))
        );
        assert!(z.is_fit());
    }

    #[test]
    fn zooming_keeps_the_anchor_under_the_pointer_and_stays_inside_the_image() {
        let mut z = ZoomPan::default();
        let cell = Rect::from_min_size(pos2(100.0, 100.0), vec2(200.0, 200.0));
        let pointer = pos2(150.0, 250.0);
        let anchor = z.uv_at(cell, pointer);
        z.zoom_by(2.0, anchor);
        assert_eq!(z.zoom(), 2.0);
        assert!(
            close(z.uv_at(cell, pointer), anchor),
            "{:?}",
            z.uv_at(cell, pointer)
        );
        let uv = z.uv_rect();
        assert!(uv.min.x >= 0.0 && uv.min.y >= 0.0 && uv.max.x <= 1.0 && uv.max.y <= 1.0);
        // Zooming out past 1 and in past the maximum is clamped.
        z.zoom_by(0.01, anchor);
        assert!(z.is_fit());
        z.zoom_by(1e6, pos2(0.0, 0.0));
        assert_eq!(z.zoom(), MAX_ZOOM);
        assert!(z.uv_rect().min.x >= 0.0);
        z.zoom_by(f32::NAN, anchor);
        assert_eq!(z.zoom(), MAX_ZOOM);
    }

    #[test]
    fn dragging_moves_the_image_with_the_pointer_and_stops_at_the_edges() {
        let mut z = ZoomPan::default();
        z.zoom_by(4.0, pos2(0.5, 0.5));
        let before = z.uv_rect();
        // Drag right by a quarter cell: the image follows, so we see more of its left.
        z.pan_by(vec2(50.0, 0.0), vec2(200.0, 200.0));
        let after = z.uv_rect();
        assert!((before.min.x - after.min.x - 0.25 / 4.0).abs() < 1e-5);
        z.pan_by(vec2(1e6, 1e6), vec2(200.0, 200.0));
        assert_eq!(z.uv_rect().min, pos2(0.0, 0.0));
        z.pan_by(vec2(1.0, 1.0), vec2(0.0, 0.0));
        assert_eq!(z.uv_rect().min, pos2(0.0, 0.0));
    }

    #[test]
    fn the_swipe_split_is_seamless() {
        let uv = Rect::from_min_max(pos2(0.2, 0.2), pos2(0.6, 0.6));
        let (a, b) = split_uv(uv, 0.25);
        assert_eq!(a.max.x, b.min.x);
        assert!((a.max.x - 0.3).abs() < 1e-6);
        assert_eq!((a.min, b.max), (uv.min, uv.max));
        let (a, _) = split_uv(uv, 7.0);
        assert_eq!(a, uv);
    }
}
