//! The Result tab's comparison with an earlier result: the result on screen (B) against the one
//! before it, or against a pinned result (A), side by side, as an A/B swipe, blinking between the
//! two, or as their difference; all with the one shared zoom and pan. The key C cycles the modes;
//! a line says what changed between the two (fields, and the prompt word by word).

use std::sync::Arc;

use egui::{Color32, Rect, Role, Sense, TextureHandle, Ui, WidgetInfo, vec2};

use super::app::FluxApp;
use super::compare::swipe::Swipe;
use super::session::ResultEntry;
use super::widgets;
use super::zoom::{Frame, ZoomPan, fit_scale};

/// How the two results are shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CompareMode {
    /// The result alone.
    #[default]
    Off,
    SideBySide,
    Swipe,
    /// A and B in turn, [`BLINK_SECONDS`] each.
    Blink,
    /// Where they differ: the per-pixel difference, brightened.
    Difference,
}

impl CompareMode {
    pub const ALL: [CompareMode; 5] = [
        CompareMode::Off,
        CompareMode::SideBySide,
        CompareMode::Swipe,
        CompareMode::Blink,
        CompareMode::Difference,
    ];

    pub fn label(self) -> &'static str {
        match self {
            CompareMode::Off => "Single",
            CompareMode::SideBySide => "Side by side",
            CompareMode::Swipe => "Swipe",
            CompareMode::Blink => "Blink",
            CompareMode::Difference => "Difference",
        }
    }

    /// The next mode (the C key).
    pub fn next(self) -> CompareMode {
        let i = CompareMode::ALL
            .iter()
            .position(|m| *m == self)
            .unwrap_or(0);
        CompareMode::ALL[(i + 1) % CompareMode::ALL.len()]
    }
}

/// How long each image shows when blinking, in seconds.
pub const BLINK_SECONDS: f64 = 0.6;
/// How much the difference is brightened (small differences must be visible).
pub const DIFFERENCE_GAIN: u16 = 4;

/// Where a difference made off the UI thread arrives.
type DifferenceReply = crate::jobs::Pending<egui::ColorImage>;

/// The comparison's state (runtime only).
#[derive(Default)]
pub struct ResultCompare {
    pub mode: CompareMode,
    /// The result everything is compared with, instead of the one before it.
    pub pinned: Option<usize>,
    swipe: Swipe,
    /// The difference image of (A, B), once made off the UI thread.
    difference: Option<((usize, usize), TextureHandle)>,
    making: Option<((usize, usize), DifferenceReply)>,
}

/// The per-pixel absolute difference of `a` and `b` (B scaled to A's size first), brightened.
pub fn difference_image(a: &image::RgbaImage, b: &image::RgbaImage) -> egui::ColorImage {
    let b = if a.dimensions() == b.dimensions() {
        std::borrow::Cow::Borrowed(b)
    } else {
        std::borrow::Cow::Owned(image::imageops::resize(
            b,
            a.width(),
            a.height(),
            image::imageops::FilterType::Triangle,
        ))
    };
    let pixels = a
        .pixels()
        .zip(b.pixels())
        .map(|(p, q)| {
            let d = |i: usize| {
                let v = u16::from(p.0[i].abs_diff(q.0[i])) * DIFFERENCE_GAIN;
                v.min(255) as u8
            };
            Color32::from_rgb(d(0), d(1), d(2))
        })
        .collect();
    egui::ColorImage::new([a.width() as usize, a.height() as usize], pixels)
}

impl FluxApp {
    /// The result compared with (A) for the one on screen (`idx`): the pinned one, else the one
    /// before it.
    pub(crate) fn compared_with(&self, idx: usize) -> Option<usize> {
        match self.results.result_compare.pinned {
            Some(p) if p != idx && p < self.session.results.len() => Some(p),
            _ => idx.checked_sub(1),
        }
    }

    /// The bar under the zoom row: the modes, pin, and what changed between A and B.
    pub(crate) fn compare_bar(&mut self, ui: &mut Ui, idx: usize) {
        let a = self.compared_with(idx);
        let cmp = &mut self.results.result_compare;
        ui.horizontal_wrapped(|ui| {
            ui.add_enabled_ui(a.is_some(), |ui| {
                for m in CompareMode::ALL {
                    ui.selectable_value(&mut cmp.mode, m, m.label())
                        .on_hover_text("Compare with the previous (or pinned) result (key C)");
                }
            });
            let pinned_here = cmp.pinned == Some(idx);
            let text = if pinned_here { "Unpin" } else { "Pin" };
            if ui
                .button(text)
                .on_hover_text("Compare every later result with this one")
                .clicked()
            {
                cmp.pinned = if pinned_here { None } else { Some(idx) };
            }
        });
        if let (Some(a), Some(rb)) = (a, self.session.results.get(idx))
            && let Some(ra) = self.session.results.get(a)
        {
            let d = crate::api::diff::diff(&ra.params, &rb.params);
            let what = if d.is_empty() {
                "same settings".to_owned()
            } else {
                // The default fonts have no arrow: the diff's "→" is shown as "->".
                d.lines().join("; ").replace('→', "->")
            };
            let line = format!("#{} -> #{}: {what}", a + 1, idx + 1);
            ui.add(egui::Label::new(egui::RichText::new(&line).weak()).truncate())
                .on_hover_text(line);
        }
    }

    /// Draws A and B in the current mode over the room left; `false` when there is nothing to
    /// compare (the caller then draws the result alone).
    pub(crate) fn draw_comparison(&mut self, ui: &mut Ui, idx: usize) -> bool {
        let mode = self.results.result_compare.mode;
        let Some(a) = self.compared_with(idx).filter(|_| mode != CompareMode::Off) else {
            return false;
        };
        let (Some(ra), Some(rb)) = (self.session.results.get(a), self.session.results.get(idx))
        else {
            return false;
        };
        let (Some(ta), Some(tb)) = (ra.texture.clone(), rb.texture.clone()) else {
            return false;
        };
        let (la, lb) = (caption(a, ra), caption(idx, rb));
        let previews = (ra.saved.preview.clone(), rb.saved.preview.clone());
        match mode {
            CompareMode::Off => return false,
            CompareMode::SideBySide => {
                side_by_side(ui, (&ta, &tb), (&la, &lb), &mut self.results.view)
            }
            CompareMode::Swipe => {
                self.results.result_compare.swipe.ui(
                    ui,
                    (&ta, &tb),
                    (&la, &lb),
                    &mut self.results.view,
                );
            }
            CompareMode::Blink => {
                let now = ui.input(|i| i.time);
                let show_b = (now / BLINK_SECONDS) as i64 % 2 == 1;
                let (tex, label) = if show_b { (&tb, &lb) } else { (&ta, &la) };
                ui.label(format!("Showing {label}"));
                one_image(ui, tex, label, &mut self.results.view);
                let left = BLINK_SECONDS - now % BLINK_SECONDS;
                ui.ctx()
                    .request_repaint_after(std::time::Duration::from_secs_f64(left));
            }
            CompareMode::Difference => self.difference(ui, (a, idx), previews),
        }
        true
    }

    fn difference(
        &mut self,
        ui: &mut Ui,
        (a, b): (usize, usize),
        (pa, pb): (Option<Arc<image::RgbaImage>>, Option<Arc<image::RgbaImage>>),
    ) {
        let key = (a, b);
        let services = self.backend.jobs.services().clone();
        let cmp = &mut self.results.result_compare;
        if let Some((k, pending)) = &mut cmp.making
            && let Some(img) = ready_or_lost(pending)
        {
            if let Some(img) = img {
                let tex = ui.ctx().load_texture(
                    format!("difference-{}-{}", k.0, k.1),
                    img,
                    egui::TextureOptions::LINEAR,
                );
                cmp.difference = Some((*k, tex));
            }
            cmp.making = None;
        }
        let ready = cmp
            .difference
            .as_ref()
            .filter(|(k, _)| *k == key)
            .map(|(_, t)| t.clone());
        let Some(tex) = ready else {
            if cmp.making.as_ref().is_none_or(|(k, _)| *k != key) {
                match (pa, pb) {
                    (Some(pa), Some(pb)) => {
                        let making = services.compute(move || difference_image(&pa, &pb));
                        cmp.making = Some((key, making));
                    }
                    _ => {
                        widgets::warn_line(ui, "No preview of one of the two results to compare.");
                    }
                }
            }
            ui.weak("Working out the difference…");
            return;
        };
        ui.label(format!(
            "Where #{} and #{} differ (black: the same; brighter: more different, ×{DIFFERENCE_GAIN})",
            a + 1,
            b + 1
        ));
        one_image(ui, &tex, "difference", &mut self.results.view);
    }
}

/// The answer if it is there (`Some(None)`: the work was lost), `None` while it is made.
fn ready_or_lost<T>(p: &mut crate::jobs::Pending<T>) -> Option<Option<T>> {
    match p.poll() {
        crate::jobs::Poll::Waiting => None,
        crate::jobs::Poll::Ready(v) => Some(Some(v)),
        crate::jobs::Poll::Lost => Some(None),
    }
}

/// `#3 · depth · seed 42`.
fn caption(i: usize, r: &ResultEntry) -> String {
    format!("#{} · {} · seed {}", i + 1, r.params.cn_type, r.params.seed)
}

/// One image over the room left, with the shared zoom.
fn one_image(ui: &mut Ui, tex: &TextureHandle, label: &str, zoom: &mut ZoomPan) {
    let room = ui.available_rect_before_wrap();
    let resp = ui.allocate_rect(room, Sense::click_and_drag());
    resp.widget_info(|| WidgetInfo::labeled(Role::Image, true, format!("compared: {label}")));
    let image = tex.size_vec2();
    let frame = Frame::centred(room, image * fit_scale(image, room.size()));
    zoom.interact(ui, &resp, &frame, true);
    let (rect, uv) = zoom.placement(&frame);
    ui.painter_at(room)
        .image(tex.id(), rect, uv, Color32::WHITE);
}

/// A left, B right, each in half the room, zoomed and panned together.
fn side_by_side(
    ui: &mut Ui,
    (ta, tb): (&TextureHandle, &TextureHandle),
    (la, lb): (&str, &str),
    zoom: &mut ZoomPan,
) {
    let room = ui.available_rect_before_wrap();
    let gap = 6.0;
    let half = vec2((room.width() - gap) / 2.0, room.height());
    let caption_h = ui.spacing().interact_size.y;
    for (i, (tex, label)) in [(ta, la), (tb, lb)].into_iter().enumerate() {
        let min = room.min + vec2(i as f32 * (half.x + gap), 0.0);
        let cap = Rect::from_min_size(min, vec2(half.x, caption_h));
        ui.put(
            cap,
            egui::Label::new(format!("{} {label}", ["A", "B"][i])).truncate(),
        );
        let area = Rect::from_min_size(min + vec2(0.0, caption_h), half - vec2(0.0, caption_h));
        let resp = ui.interact(
            area,
            ui.scope_id().with(("side", i)),
            Sense::click_and_drag(),
        );
        resp.widget_info(|| WidgetInfo::labeled(Role::Image, true, format!("compared: {label}")));
        let image = tex.size_vec2();
        let frame = Frame::centred(area, image * fit_scale(image, area.size()));
        zoom.interact(ui, &resp, &frame, true);
        let (rect, uv) = zoom.placement(&frame);
        ui.painter_at(area)
            .image(tex.id(), rect, uv, Color32::WHITE);
    }
    ui.allocate_rect(room, Sense::hover());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_difference_is_black_where_equal_and_bright_where_not() {
        let a = image::RgbaImage::from_pixel(4, 2, image::Rgba([100, 100, 100, 255]));
        let mut b = a.clone();
        b.put_pixel(1, 1, image::Rgba([110, 100, 40, 255]));
        let d = difference_image(&a, &b);
        assert_eq!(d.size, [4, 2]);
        assert_eq!(d.pixels[0], Color32::from_rgb(0, 0, 0));
        assert_eq!(d.pixels[5], Color32::from_rgb(40, 0, 240));
        // Another size is scaled to A's first.
        let big = image::RgbaImage::from_pixel(8, 4, image::Rgba([100, 100, 100, 255]));
        assert!(
            difference_image(&a, &big)
                .pixels
                .iter()
                .all(|p| *p == Color32::BLACK)
        );
        assert_eq!(CompareMode::Difference.next(), CompareMode::Off);
    }
}
