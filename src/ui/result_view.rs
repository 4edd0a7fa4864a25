//! The result view: the selected result large (fit, 1:1, zoom with the wheel or buttons, pan by
//! dragging), its parameters and accounting, and a strip of this session's results.

use egui::{RichText, Sense, Ui, vec2};

use super::app::FluxApp;
use super::session::ResultEntry;
use super::widgets;
use super::zoom::{Frame, ZOOM_STEP, fit_scale};

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
        self.zoom_bar(ui, idx, image_room);
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
        let image = tex.size_vec2();
        let frame = Frame::centred(room, image * fit_scale(image, room.size()));
        self.view.interact(ui, &resp, &frame, true);
        if resp.double_clicked() {
            self.view.fit();
        }
        let (rect, uv) = self.view.placement(&frame);
        ui.painter_at(room)
            .image(tex.id(), rect, uv, egui::Color32::WHITE);
        resp.on_hover_text("Scroll to zoom, drag to pan, double-click to fit");
    }

    /// The row above the large image: Fit, 1:1, zoom out/in, the zoom as a percentage of the
    /// image's own size, and the image's size. `image_room` is the room the image will get.
    fn zoom_bar(&mut self, ui: &mut Ui, idx: usize, image_room: egui::Vec2) {
        let r = self.session.results.get(idx);
        let image = r.and_then(|r| r.texture.as_ref()).map(|t| t.size_vec2());
        let ppp = ui.ctx().pixels_per_point();
        ui.horizontal(|ui| {
            if ui
                .button("Fit")
                .on_hover_text("Fit the image to the panel")
                .clicked()
            {
                self.view.fit();
            }
            let fitted = image.map(|image| {
                let fit = fit_scale(image, image_room);
                let room = egui::Rect::from_min_size(egui::Pos2::ZERO, image_room);
                (image, fit, Frame::centred(room, image * fit))
            });
            if ui
                .button("1:1")
                .on_hover_text("One image pixel per screen pixel")
                .clicked()
                && let Some((_, fit, frame)) = &fitted
            {
                self.view.fit();
                self.view.set_zoom(1.0 / (ppp * fit), frame);
            }
            if let Some((_, fit, frame)) = &fitted {
                if ui.button("Zoom −").on_hover_text("Zoom out").clicked() {
                    self.view.zoom_centred(1.0 / ZOOM_STEP, frame);
                }
                if ui.button("Zoom +").on_hover_text("Zoom in").clicked() {
                    self.view.zoom_centred(ZOOM_STEP, frame);
                }
                let pct = self.view.scale(*fit) * ppp * 100.0;
                ui.label(RichText::new(format!("{pct:.0} %")).weak());
            }
            if let Some(r) = r {
                ui.label(RichText::new(format!("{} × {}", r.saved.width, r.saved.height)).weak());
            }
        });
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
            self.view.fit();
        }
    }
}

/// The parameters and accounting of one result, in a two-column grid.
fn details(ui: &mut Ui, r: &ResultEntry) {
    let p = &r.params;
    ui.add_space(4.0);
    ui.add(egui::Label::new(RichText::new(&p.prompt).strong()).wrap());
    // The knobs as the field table shows them (the gallery's details show the same rows), then
    // what belongs to this result.
    let mut rows: Vec<(&str, String)> = crate::api::fields::details(p)
        .into_iter()
        .map(|(f, v)| (f.label(), v))
        .collect();
    rows.push((
        "size",
        if p.use_input_img_dimension {
            format!("input size ({} × {})", r.saved.width, r.saved.height)
        } else {
            format!("{} × {}", p.custom_width, p.custom_height)
        },
    ));
    rows.push(("input", r.input.clone()));
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
