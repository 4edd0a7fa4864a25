//! The one zoom/pan of every image view (the Result tab, the comparison's cells with their shared
//! zoom, the A/B swipe): a magnification over "fit" and the image point at the view's centre.
//! Because both are relative to the image, one [`ZoomPan`] can be shared by views of any size and
//! every one shows the same part of its image. Pure geometry, testable without a window; the only
//! egui input it reads is in [`ZoomPan::interact`].

use egui::{Pos2, Rect, Response, Ui, Vec2, pos2, vec2};

/// The farthest zoom out, as a fraction of "fit" (far enough for "1:1" of a small image on a
/// high-density screen).
pub const MIN_ZOOM: f32 = 1.0 / 16.0;
/// The closest zoom, as a multiple of "fit": one texel of a 1024-px image spread over many
/// screen points is plenty.
pub const MAX_ZOOM: f32 = 32.0;
/// What one press of a "Zoom +" button multiplies the zoom by ("Zoom −" divides by it).
pub const ZOOM_STEP: f32 = 1.25;
/// How strongly one point of scroll-wheel movement zooms (a wheel notch is about one step).
const SCROLL_ZOOM_SPEED: f32 = 0.005;
/// The largest scale "fit" blows a small image up to in [`fit_scale`].
const MAX_FIT_SCALE: f32 = 4.0;
/// The smallest scale [`fit_scale`] shrinks a huge image down to.
const MIN_FIT_SCALE: f32 = 0.05;

/// Where an image is drawn: `fit`, the rectangle the whole image fills at zoom 1, centred in
/// `view`, the rectangle a zoomed image may spread over (it is clipped to it).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Frame {
    pub fit: Rect,
    pub view: Rect,
}

impl Frame {
    /// An image whose zoomed view stays inside its own fitted rectangle (the comparison's cells
    /// and the swipe): the part of the image shown is [`ZoomPan::uv_rect`].
    pub fn fixed(fit: Rect) -> Frame {
        Frame { fit, view: fit }
    }

    /// An image of `fit_size` points (at zoom 1) centred in `view`; zoomed in, it spreads over
    /// all of `view`.
    pub fn centred(view: Rect, fit_size: Vec2) -> Frame {
        Frame {
            fit: Rect::from_center_size(view.center(), fit_size),
            view,
        }
    }

    /// The image's size on screen at `zoom`.
    fn shown(&self, zoom: f32) -> Vec2 {
        self.fit.size() * zoom
    }
}

/// The scale (screen points per image pixel) at which `image` fits in `room`: never more than
/// 4× for a tiny image, never less than 0.05 for a huge one.
pub fn fit_scale(image: Vec2, room: Vec2) -> f32 {
    if image.x <= 0.0 || image.y <= 0.0 || room.x <= 0.0 || room.y <= 0.0 {
        return 1.0;
    }
    (room.x / image.x)
        .min(room.y / image.y)
        .clamp(MIN_FIT_SCALE, MAX_FIT_SCALE)
}

/// How an image is shown: its magnification over "fit" and which point of it is at the centre.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ZoomPan {
    /// 1 fits the whole image; 2 shows half of it in each direction; within
    /// [`MIN_ZOOM`]..=[`MAX_ZOOM`].
    zoom: f32,
    /// The image point (UV, `[0, 1]²`) at the centre of the view.
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
    /// The current magnification (1 = the whole image fits).
    pub fn zoom(&self) -> f32 {
        self.zoom
    }

    /// The scale (screen points per image pixel) when "fit" is `fit_scale`: what a zoom label
    /// shows as a percentage of the image's own size.
    pub fn scale(&self, fit_scale: f32) -> f32 {
        fit_scale * self.zoom
    }

    /// Shows the whole image again (a new result, the "Fit" button, a double-click).
    pub fn fit(&mut self) {
        *self = ZoomPan::default();
    }

    /// The same as [`ZoomPan::fit`]: back to the whole image (a new result is shown).
    pub fn reset(&mut self) {
        self.fit();
    }

    /// Whether the whole image is shown.
    pub fn is_fit(&self) -> bool {
        *self == ZoomPan::default()
    }

    /// Sets the magnification (clamped to its bounds), keeping the centre of the view where it is.
    pub fn set_zoom(&mut self, zoom: f32, frame: &Frame) {
        if zoom.is_finite() && zoom > 0.0 {
            self.zoom_by(zoom / self.zoom, self.center, frame);
        }
    }

    /// Multiplies the zoom by `factor` (clamped to its bounds), keeping the image point `anchor`
    /// (UV) where it is on screen.
    pub fn zoom_by(&mut self, factor: f32, anchor: Pos2, frame: &Frame) {
        if !factor.is_finite() || factor <= 0.0 || !anchor.is_finite() {
            return;
        }
        self.clamp_center(frame);
        let old = self.zoom;
        let new = (old * factor).clamp(MIN_ZOOM, MAX_ZOOM);
        self.center = anchor + (self.center - anchor) * (old / new);
        self.zoom = new;
        self.clamp_center(frame);
    }

    /// Zooms by `factor` about the centre of the view (the zoom buttons).
    pub fn zoom_centred(&mut self, factor: f32, frame: &Frame) {
        self.clamp_center(frame);
        self.zoom_by(factor, self.center, frame);
    }

    /// Moves the view as a drag of `delta` points does: the image follows the pointer, as far as
    /// it can without leaving a gap at an edge of the view.
    pub fn pan_by(&mut self, delta: Vec2, frame: &Frame) {
        let shown = frame.shown(self.zoom);
        if shown.x <= 0.0 || shown.y <= 0.0 || !delta.is_finite() {
            return;
        }
        self.center -= vec2(delta.x / shown.x, delta.y / shown.y);
        self.clamp_center(frame);
    }

    /// Keeps the view covered by the image along each axis where the image is larger than the
    /// view, and the image centred along an axis where it is smaller.
    fn clamp_center(&mut self, frame: &Frame) {
        let shown = frame.shown(self.zoom);
        let axis = |c: f32, view: f32, shown: f32| {
            let half = if shown > 0.0 { view / shown / 2.0 } else { 0.5 };
            if half >= 0.5 || !c.is_finite() {
                0.5
            } else {
                c.clamp(half, 1.0 - half)
            }
        };
        self.center = pos2(
            axis(self.center.x, frame.view.width(), shown.x),
            axis(self.center.y, frame.view.height(), shown.y),
        );
    }

    /// Where the whole image is on screen (it may reach far outside the view).
    pub fn image_rect(&self, frame: &Frame) -> Rect {
        let mut z = *self;
        z.clamp_center(frame);
        let shown = frame.shown(z.zoom);
        let min = frame.view.center() - vec2(z.center.x * shown.x, z.center.y * shown.y);
        Rect::from_min_size(min, shown)
    }

    /// What to paint: the part of the view the image covers, and the part of the image (UV) that
    /// goes there.
    pub fn placement(&self, frame: &Frame) -> (Rect, Rect) {
        let image = self.image_rect(frame);
        let screen = image.intersect(frame.view);
        if image.width() <= 0.0 || image.height() <= 0.0 || !screen.is_positive() {
            return (screen, Rect::from_min_max(pos2(0.0, 0.0), pos2(0.0, 0.0)));
        }
        let uv = |p: Pos2| {
            pos2(
                (p.x - image.min.x) / image.width(),
                (p.y - image.min.y) / image.height(),
            )
        };
        (screen, Rect::from_min_max(uv(screen.min), uv(screen.max)))
    }

    /// The part of the image (UV) shown in a [`Frame::fixed`]: always inside `[0, 1]²`.
    pub fn uv_rect(&self) -> Rect {
        let half = 0.5 / self.zoom.max(1.0);
        let c = |v: f32| v.clamp(half, 1.0 - half);
        Rect::from_center_size(
            pos2(c(self.center.x), c(self.center.y)),
            Vec2::splat(2.0 * half),
        )
    }

    /// The image point (UV) under the screen point `pos`, clamped to the image.
    pub fn uv_at(&self, frame: &Frame, pos: Pos2) -> Pos2 {
        let image = self.image_rect(frame);
        let f = |p: f32, min: f32, len: f32| {
            if len > 0.0 {
                ((p - min) / len).clamp(0.0, 1.0)
            } else {
                0.5
            }
        };
        pos2(
            f(pos.x, image.min.x, image.width()),
            f(pos.y, image.min.y, image.height()),
        )
    }

    /// Applies the scroll wheel (zoom about the pointer) and a pinch over `response`, and, when
    /// `pan` is set, a primary drag (the image follows the pointer). Returns whether the view
    /// changed.
    pub fn interact(&mut self, ui: &Ui, response: &Response, frame: &Frame, pan: bool) -> bool {
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
                let anchor = pointer.map_or(self.center, |p| self.uv_at(frame, p));
                self.zoom_by(factor, anchor, frame);
            }
        }
        if pan && response.dragged_by(egui::PointerButton::Primary) {
            self.pan_by(response.drag_delta(), frame);
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
        (a - b).length() < 1e-3
    }

    fn cell() -> Frame {
        Frame::fixed(Rect::from_min_size(pos2(100.0, 100.0), vec2(200.0, 200.0)))
    }

    /// A 2:1 image fitted in a square view: letterboxed above and below.
    fn wide() -> Frame {
        Frame::centred(
            Rect::from_min_size(pos2(0.0, 0.0), vec2(400.0, 400.0)),
            vec2(400.0, 200.0),
        )
    }

    #[test]
    fn fit_shows_the_whole_image() {
        let z = ZoomPan::default();
        assert!(z.is_fit());
        assert_eq!(
            z.uv_rect(),
            Rect::from_min_max(pos2(0.0, 0.0), pos2(1.0, 1.0))
        );
        assert_eq!(z.image_rect(&cell()), cell().fit);
        let (screen, uv) = z.placement(&wide());
        assert_eq!(screen, wide().fit);
        assert_eq!(uv, Rect::from_min_max(pos2(0.0, 0.0), pos2(1.0, 1.0)));
        assert_eq!(fit_scale(vec2(1000.0, 500.0), vec2(500.0, 500.0)), 0.5);
        assert_eq!(fit_scale(vec2(10.0, 10.0), vec2(500.0, 500.0)), 4.0);
        assert_eq!(fit_scale(vec2(0.0, 1.0), vec2(500.0, 500.0)), 1.0);
    }

    /// The Result tab's view (moved here from `result_view.rs`): a 1000×500 image in a 500×500
    /// room fits at half size; zooming is relative to that.
    #[test]
    fn fit_and_zoom() {
        let img = vec2(1000.0, 500.0);
        let room = vec2(500.0, 500.0);
        let fit = fit_scale(img, room);
        assert_eq!(fit, 0.5);
        let frame = Frame::centred(Rect::from_min_size(Pos2::ZERO, room), img * fit);
        let mut v = ZoomPan::default();
        assert_eq!(v.scale(fit), 0.5);
        v.zoom_centred(2.0, &frame);
        assert_eq!(v.scale(fit), 1.0);
        v.zoom_centred(1000.0, &frame);
        assert_eq!(v.zoom(), MAX_ZOOM);
        v.fit();
        assert!(v.is_fit());
    }

    #[test]
    fn zoom_clamps_at_its_bounds() {
        let mut z = ZoomPan::default();
        z.zoom_by(1e6, pos2(0.0, 0.0), &cell());
        assert_eq!(z.zoom(), MAX_ZOOM);
        assert!(z.uv_rect().min.x >= 0.0 && z.uv_rect().min.y >= 0.0);
        z.zoom_by(f32::NAN, pos2(0.5, 0.5), &cell());
        z.zoom_by(0.0, pos2(0.5, 0.5), &cell());
        z.zoom_by(-2.0, pos2(0.5, 0.5), &cell());
        assert_eq!(z.zoom(), MAX_ZOOM);
        z.zoom_by(1e-9, pos2(0.3, 0.3), &cell());
        assert_eq!(z.zoom(), MIN_ZOOM);
        // Smaller than its view, the image is centred, whatever the anchor.
        assert_eq!(z.image_rect(&cell()).center(), cell().view.center());
        z.set_zoom(1.0, &cell());
        assert!(z.is_fit(), "{z:?}");
        z.set_zoom(f32::INFINITY, &cell());
        assert!(z.is_fit());
        assert_eq!(z.scale(0.5), 0.5);
    }

    #[test]
    fn zooming_about_a_point_keeps_that_point_under_the_pointer() {
        // (In the wide frame at 2× the image is exactly as tall as the view: only sideways is
        // there room to keep the point in place.)
        for (frame, pointer) in [(cell(), pos2(150.0, 250.0)), (wide(), pos2(150.0, 200.0))] {
            let mut z = ZoomPan::default();
            let anchor = z.uv_at(&frame, pointer);
            z.zoom_by(2.0, anchor, &frame);
            assert_eq!(z.zoom(), 2.0);
            assert!(close(z.uv_at(&frame, pointer), anchor), "{frame:?} {z:?}");
            z.zoom_by(1.7, anchor, &frame);
            assert!(close(z.uv_at(&frame, pointer), anchor), "{frame:?} {z:?}");
        }
        // The zoom buttons zoom about the view's centre.
        let mut z = ZoomPan::default();
        let frame = wide();
        let centre = z.uv_at(&frame, frame.view.center());
        z.zoom_centred(ZOOM_STEP, &frame);
        assert!(close(z.uv_at(&frame, frame.view.center()), centre));
        z.zoom_centred(1.0 / ZOOM_STEP, &frame);
        assert!(z.is_fit(), "{z:?}");
    }

    #[test]
    fn dragging_moves_the_image_with_the_pointer_and_stops_at_the_edges() {
        let mut z = ZoomPan::default();
        z.zoom_by(4.0, pos2(0.5, 0.5), &cell());
        let before = z.uv_rect();
        // Drag right by a quarter cell: the image follows, so we see more of its left.
        z.pan_by(vec2(50.0, 0.0), &cell());
        let after = z.uv_rect();
        assert!((before.min.x - after.min.x - 0.25 / 4.0).abs() < 1e-5);
        z.pan_by(vec2(1e6, 1e6), &cell());
        assert_eq!(z.uv_rect().min, pos2(0.0, 0.0));
        assert_eq!(z.image_rect(&cell()).min, cell().view.min);
        z.pan_by(vec2(f32::NAN, 1.0), &cell());
        assert_eq!(z.uv_rect().min, pos2(0.0, 0.0));
        // At fit nothing moves.
        let mut z = ZoomPan::default();
        z.pan_by(vec2(30.0, -30.0), &wide());
        assert!(z.is_fit());
    }

    #[test]
    fn a_zoomed_image_spreads_over_its_view_and_never_leaves_a_gap() {
        let frame = wide();
        let mut z = ZoomPan::default();
        // At 1.5× the 400×200 image is 600×300: wider than the view, still shorter.
        z.zoom_by(1.5, pos2(0.5, 0.5), &frame);
        z.pan_by(vec2(0.0, 500.0), &frame);
        let image = z.image_rect(&frame);
        assert_eq!(
            image.center().y,
            frame.view.center().y,
            "stays centred vertically"
        );
        z.pan_by(vec2(-1000.0, 0.0), &frame);
        let image = z.image_rect(&frame);
        assert!((image.max.x - frame.view.max.x).abs() < 1e-3, "{image:?}");
        let (screen, uv) = z.placement(&frame);
        assert_eq!(screen.x_range(), frame.view.x_range());
        assert!((uv.max.x - 1.0).abs() < 1e-5 && (uv.min.x - 1.0 / 3.0).abs() < 1e-5);
        assert_eq!((uv.min.y, uv.max.y), (0.0, 1.0));
        // At 3× it is taller than the view too, and can be moved up and down.
        z.zoom_centred(2.0, &frame);
        z.pan_by(vec2(0.0, 1000.0), &frame);
        assert_eq!(z.image_rect(&frame).min.y, frame.view.min.y);
        // A smaller view later (the window shrank) is covered without a stored change.
        let small = Frame::centred(frame.view.shrink(100.0), frame.fit.size() / 2.0);
        let (screen, _) = z.placement(&small);
        assert_eq!(screen, small.view);
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
