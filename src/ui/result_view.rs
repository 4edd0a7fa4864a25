//! The result view: the selected result large (fit, 1:1, zoom with the wheel or buttons, pan by
//! dragging), its parameters and accounting, and a strip of this session's results.

use egui::{Rect, RichText, Sense, Ui, Vec2, vec2};

use super::app::FluxApp;
use super::session::ResultEntry;
use super::widgets;

/// Zoom limits (1.0 = one image pixel per screen point).
const MIN_ZOOM: f32 = 0.05;
const MAX_ZOOM: f32 = 16.0;

/// How the large image is shown.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ViewState {
    /// `None`: fit to the panel; else the scale.
    pub zoom: Option<f32>,
    /// Offset of the image's centre from the panel's centre, in points.
    pub pan: Vec2,
}

impl ViewState {
    /// Back to "fit".
    pub fn reset(&mut self) {
        *self = ViewState::default();
    }

    /// The scale to draw with, given the image size and the room.
    pub fn scale(&self, image: Vec2, room: Vec2) -> f32 {
        match self.zoom {
            Some(z) => z,
            None => fit_scale(image, room),
        }
    }

    /// Multiplies the current scale by `factor`, within limits.
    pub fn zoom_by(&mut self, factor: f32, image: Vec2, room: Vec2) {
        let z = (self.scale(image, room) * factor).clamp(MIN_ZOOM, MAX_ZOOM);
        self.pan *= z / self.scale(image, room).max(MIN_ZOOM);
        self.zoom = Some(z);
    }
}

/// The scale at which `image` fits in `room` (never above 1:1... unless it is tiny: up to 4×).
pub fn fit_scale(image: Vec2, room: Vec2) -> f32 {
    if image.x <= 0.0 || image.y <= 0.0 || room.x <= 0.0 || room.y <= 0.0 {
        return 1.0;
    }
    (room.x / image.x)
        .min(room.y / image.y)
        .clamp(MIN_ZOOM, 4.0)
}

impl FluxApp {
    /// The central panel.
    pub(crate) fn result_view(&mut self, ui: &mut Ui) {
        let Some(idx) = self
            .session
            .selected
            .filter(|i| *i < self.session.results.len())
        else {
            ui.centered_and_justified(|ui| {
                widgets::hint_line(
                    ui,
                    "Results appear here. Choose an input image, write a prompt, and Generate.",
                );
            });
            return;
        };
        let strip_h = if self.session.results.len() > 1 {
            84.0
        } else {
            0.0
        };
        egui::Panel::bottom("result_details")
            .resizable(false)
            .show(ui, |ui| {
                if let Some(r) = self.session.results.get(idx) {
                    details(ui, r);
                }
                if strip_h > 0.0 {
                    ui.separator();
                    self.strip(ui, strip_h);
                }
            });
        // The room the image gets below this toolbar row (the row itself is one widget high): the
        // zoom label and the zoom buttons work from the same scale the image is drawn with.
        let image_room = ui.available_size()
            - vec2(
                0.0,
                ui.spacing().interact_size.y + ui.spacing().item_spacing.y,
            );
        ui.horizontal(|ui| {
            let r = self.session.results.get(idx);
            let image = r
                .and_then(|r| r.texture.as_ref())
                .map(|t| vec2(t.size()[0] as f32, t.size()[1] as f32));
            if ui
                .button("Fit")
                .on_hover_text("Fit the image to the panel")
                .clicked()
            {
                self.view.reset();
            }
            if ui
                .button("1:1")
                .on_hover_text("One image pixel per screen pixel")
                .clicked()
            {
                self.view = ViewState {
                    zoom: Some(1.0 / ui.ctx().pixels_per_point()),
                    pan: Vec2::ZERO,
                };
            }
            let room = image_room;
            if let Some(image) = image {
                if ui.button("Zoom −").on_hover_text("Zoom out").clicked() {
                    self.view.zoom_by(1.0 / 1.25, image, room);
                }
                if ui.button("Zoom +").on_hover_text("Zoom in").clicked() {
                    self.view.zoom_by(1.25, image, room);
                }
                let pct = self.view.scale(image, room) * ui.ctx().pixels_per_point() * 100.0;
                ui.label(RichText::new(format!("{pct:.0} %")).weak());
            }
            if let Some(r) = r {
                ui.label(RichText::new(format!("{} × {}", r.saved.width, r.saved.height)).weak());
            }
        });
        let Some(r) = self.session.results.get(idx) else {
            return;
        };
        let Some(tex) = r.texture.clone() else {
            if let Some(why) = &r.preview_problem {
                widgets::warn_line(ui, why);
            }
            return;
        };
        let room = ui.available_rect_before_wrap();
        let resp = ui.allocate_rect(room, Sense::click_and_drag());
        let image = vec2(tex.size()[0] as f32, tex.size()[1] as f32);
        if resp.hovered() {
            let scroll = ui.input(|i| i.smooth_scroll_delta.y);
            if scroll != 0.0 {
                self.view
                    .zoom_by((scroll / 200.0).exp(), image, room.size());
            }
        }
        if resp.dragged() {
            self.view.pan += resp.drag_delta();
            if self.view.zoom.is_none() {
                self.view.zoom = Some(fit_scale(image, room.size()));
            }
        }
        if resp.double_clicked() {
            self.view.reset();
        }
        let scale = self.view.scale(image, room.size());
        let rect = Rect::from_center_size(room.center() + self.view.pan, image * scale);
        let painter = ui.painter_at(room);
        painter.image(
            tex.id(),
            rect,
            Rect::from_min_max(egui::pos2(0.0, 0.0), egui::pos2(1.0, 1.0)),
            egui::Color32::WHITE,
        );
        resp.on_hover_text("Scroll to zoom, drag to pan, double-click to fit");
    }

    /// Thumbnails of this session's results; a click shows one large.
    fn strip(&mut self, ui: &mut Ui, height: f32) {
        let mut pick = None;
        egui::ScrollArea::horizontal().show(ui, |ui| {
            ui.horizontal(|ui| {
                for (i, r) in self.session.results.iter().enumerate() {
                    let selected = self.session.selected == Some(i);
                    let resp = match &r.texture {
                        Some(t) => {
                            let [w, h] = t.size().map(|v| v.max(1) as f32);
                            let s = (height - 12.0) / h;
                            ui.add(
                                egui::Button::image(egui::Image::from_texture((
                                    t.id(),
                                    vec2(w * s, h * s),
                                )))
                                .selected(selected),
                            )
                        }
                        None => ui.add(
                            egui::Button::new(format!("#{}", i + 1))
                                .selected(selected)
                                .min_size(vec2(height - 12.0, height - 12.0)),
                        ),
                    };
                    let resp = resp.on_hover_text(format!(
                        "{} · {} · seed {}",
                        r.params.cn_type, r.input, r.params.seed
                    ));
                    if resp.clicked() {
                        pick = Some(i);
                    }
                }
            });
        });
        if let Some(i) = pick {
            self.session.selected = Some(i);
            self.view.reset();
        }
    }
}

/// The parameters and accounting of one result, in a two-column grid.
fn details(ui: &mut Ui, r: &ResultEntry) {
    let p = &r.params;
    ui.add_space(4.0);
    ui.add(egui::Label::new(RichText::new(&p.prompt).strong()).wrap());
    let mut rows: Vec<(&str, String)> = vec![
        ("cn_type", p.cn_type.to_string()),
        ("seed", p.seed.to_string()),
        ("steps", p.steps.to_string()),
        ("guidance", format!("{}", p.guidance)),
        ("cn_strength", format!("{}", p.cn_strength)),
        ("cn_stop", format!("{}", p.cn_stop)),
        ("sampler", p.sampler.clone()),
        ("scheduler", p.scheduler.to_string()),
        (
            "size",
            if p.use_input_img_dimension {
                format!("input size ({} × {})", r.saved.width, r.saved.height)
            } else {
                format!("{} × {}", p.custom_width, p.custom_height)
            },
        ),
        ("format", format!("{} q{}", p.image_format, p.quality)),
        ("input", r.input.clone()),
    ];
    let a = &r.accounting;
    if let Some(c) = a.cost {
        rows.push(("cost", format!("{c:.4}")));
    }
    if let Some(t) = a.generation_time.or(a.total_time) {
        rows.push(("time", format!("{t:.1} s")));
    }
    if let Some(id) = &a.request_id {
        rows.push(("request", id.clone()));
    }
    rows.push(("file", r.saved.path.display().to_string()));
    egui::Grid::new("result_params")
        .num_columns(4)
        .spacing([12.0, 2.0])
        .show(ui, |ui| {
            for (i, (k, v)) in rows.iter().enumerate() {
                ui.label(RichText::new(*k).weak());
                ui.label(v.as_str());
                if i % 2 == 1 {
                    ui.end_row();
                }
            }
        });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fit_and_zoom() {
        let img = vec2(1000.0, 500.0);
        let room = vec2(500.0, 500.0);
        assert_eq!(fit_scale(img, room), 0.5);
        assert_eq!(fit_scale(vec2(0.0, 1.0), room), 1.0);
        let mut v = ViewState::default();
        assert_eq!(v.scale(img, room), 0.5);
        v.zoom_by(2.0, img, room);
        assert_eq!(v.zoom, Some(1.0));
        v.zoom_by(1000.0, img, room);
        assert_eq!(v.zoom, Some(MAX_ZOOM));
        v.reset();
        assert_eq!(v.zoom, None);
    }
}
