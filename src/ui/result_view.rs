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
            ui.vertical_centered(|ui| {
                ui.add_space(ui.available_height() / 3.0);
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
        if self.session.results.len() > 1 {
            self.compare_bar(ui, idx);
        }
        if self.draw_comparison(ui, idx) {
            return;
        }
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
        // No tooltip over the image (it covered the details); the zoom bar's Fit says how.
        drop(resp);
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
                .on_hover_text(
                    "Fit the image to the panel (or double-click it). Scroll over the image to \
                     zoom, drag to pan.",
                )
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
                ui.add(egui::Label::new(RichText::new(format!("{pct:.0} %")).weak()).truncate());
            }
            if let Some(r) = r {
                let size = format!("{} × {}", r.saved.width, r.saved.height);
                ui.add(egui::Label::new(RichText::new(size).weak()).truncate());
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

/// The room between two label/value pairs on a line of details.
const PAIR_GAP: f32 = 14.0;

/// One row of details: its label, its value, and whether the value is the seed (shown whole, and
/// copied with a click).
struct DetailRow {
    label: &'static str,
    value: String,
    seed: bool,
}

/// The parameters and accounting of one result. The knobs are short label/value pairs that flow
/// into as many lines as the width needs (a pair is never split, the seed is never cut, and a click
/// copies it); the long values (input, request, file) follow one a line, cut to the width with the
/// whole text on hover. Nothing is wider than the panel, so every row shows at any width.
fn details(ui: &mut Ui, r: &ResultEntry) {
    ui.add_space(4.0);
    ui.add(egui::Label::new(RichText::new(&r.params.prompt).strong()).truncate());
    let (pairs, lines) = detail_rows(r);
    for line in flow_lines(ui, &pairs) {
        ui.horizontal(|ui| {
            for (n, row) in line.iter().enumerate() {
                if n > 0 {
                    ui.add_space(PAIR_GAP - ui.spacing().item_spacing.x);
                }
                ui.label(RichText::new(row.label).weak());
                if row.seed {
                    widgets::copyable(ui, &row.value, "seed");
                } else {
                    ui.add(egui::Label::new(row.value.as_str()).truncate());
                }
            }
        });
    }
    for row in &lines {
        ui.horizontal(|ui| {
            ui.label(RichText::new(row.label).weak());
            ui.add(egui::Label::new(row.value.as_str()).truncate());
        });
    }
}

/// The rows of a result's details: the short pairs (the knobs as the field table shows them, as
/// the gallery's details do, then size, cost and time), and the long ones (input, request, file).
fn detail_rows(r: &ResultEntry) -> (Vec<DetailRow>, Vec<DetailRow>) {
    let p = &r.params;
    let row = |label: &'static str, value: String| DetailRow {
        label,
        value,
        seed: false,
    };
    let mut pairs: Vec<DetailRow> = crate::api::fields::details(p)
        .into_iter()
        .map(|(f, value)| DetailRow {
            label: f.label(),
            value,
            seed: f == crate::api::fields::Field::Seed,
        })
        .collect();
    pairs.push(row(
        "size",
        if p.use_input_img_dimension {
            format!("input size ({} × {})", r.saved.width, r.saved.height)
        } else {
            format!("{} × {}", p.custom_width, p.custom_height)
        },
    ));
    let a = &r.accounting;
    if let Some(c) = a.cost {
        pairs.push(row("cost", format!("{c:.4}")));
    }
    if let Some(t) = a.generation_time.or(a.total_time) {
        pairs.push(row("time", format!("{t:.1} s")));
    }
    let mut lines = vec![row("input", r.input.clone())];
    if let Some(id) = &a.request_id {
        lines.push(row("request", id.clone()));
    }
    lines.push(row("file", r.saved.path.display().to_string()));
    (pairs, lines)
}

/// `rows` cut into lines that fit the width available, in order, each pair whole.
fn flow_lines<'a>(ui: &Ui, rows: &'a [DetailRow]) -> Vec<Vec<&'a DetailRow>> {
    let full = ui.available_width();
    let spacing = ui.spacing().item_spacing.x;
    let width = |text: RichText| {
        egui::WidgetText::from(text)
            .into_galley(
                ui,
                Some(egui::TextWrapMode::Extend),
                f32::INFINITY,
                egui::TextStyle::Body,
            )
            .size()
            .x
    };
    let mut lines: Vec<Vec<&DetailRow>> = Vec::new();
    let mut used = 0.0;
    for row in rows {
        let value = RichText::new(row.value.as_str());
        let w = width(RichText::new(row.label).weak()) + spacing + width(value.strong()) + 1.0;
        match lines.last_mut() {
            Some(line) if used + PAIR_GAP + w <= full => {
                line.push(row);
                used += PAIR_GAP + w;
            }
            _ => {
                lines.push(vec![row]);
                used = w;
            }
        }
    }
    lines
}
