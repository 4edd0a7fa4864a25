//! The result view: the selected result large (fit, 1:1, zoom with the wheel or buttons, pan by
//! dragging), its parameters and accounting, and the strip of recent results from the gallery
//! (`history.rs`).

use egui::{RichText, Sense, Ui, vec2};

use super::app::FluxApp;
use super::history::STRIP_HEIGHT;
use super::session::ResultEntry;
use super::widgets;
use super::zoom::{Frame, ZOOM_STEP, fit_scale};

impl FluxApp {
    /// The central panel.
    pub(crate) fn result_view(&mut self, ui: &mut Ui) {
        self.poll_history(ui.ctx());
        let items = self.history_items();
        let shown = self.shown_result();
        let Some((idx, r)) = shown else {
            if !items.is_empty() {
                egui::Panel::bottom("result_details")
                    .resizable(false)
                    .show(ui, |ui| self.history_strip(ui, &items, STRIP_HEIGHT));
            }
            ui.vertical_centered(|ui| {
                ui.add_space(ui.available_height() / 3.0);
                let hint = if let Some(why) = self.results.history.shown_problem() {
                    why
                } else if self.results.history.shown.is_some() {
                    "Reading its settings…"
                } else if items.is_empty() {
                    "Results appear here. Choose an input image, write a prompt, and Generate."
                } else {
                    "Results appear here; click one below to see it large."
                };
                widgets::hint_line(ui, hint);
            });
            return;
        };
        // The strip shows when it holds more than the result on screen.
        let strip = items.len() > 1;
        let mut action = None;
        egui::Panel::bottom("result_details")
            .resizable(false)
            .show(ui, |ui| {
                details(ui, &r);
                action = super::refine::result_actions(ui, &r);
                if let Some(e) = &self.results.history.error {
                    widgets::warn_line(ui, e);
                }
                if strip {
                    ui.separator();
                    self.history_strip(ui, &items, STRIP_HEIGHT);
                }
            });
        if let Some(a) = action {
            self.apply(a);
        }
        // The room the image gets below this toolbar row (the row itself is one widget high): the
        // zoom label and the zoom buttons work from the same scale the image is drawn with.
        let image_room = ui.available_size()
            - vec2(
                0.0,
                ui.spacing().interact_size.y + ui.spacing().item_spacing.y,
            );
        self.zoom_bar(ui, &r, image_room);
        if let Some(idx) = idx {
            if self.session.results.len() > 1 {
                self.compare_bar(ui, idx);
            }
            if self.draw_comparison(ui, idx) {
                return;
            }
        }
        let Some(tex) = r.texture.clone() else {
            match &r.preview_problem {
                Some(why) => widgets::warn_line(ui, why),
                None => widgets::hint_line(ui, "Opening the image…"),
            };
            return;
        };
        let room = ui.available_rect_before_wrap();
        let resp = ui.allocate_rect(room, Sense::click_and_drag());
        let image = tex.size_vec2();
        let frame = Frame::centred(room, image * fit_scale(image, room.size()));
        self.results.view.interact(ui, &resp, &frame, true);
        if resp.double_clicked() {
            self.results.view.fit();
        }
        let (rect, uv) = self.results.view.placement(&frame);
        ui.painter_at(room)
            .image(tex.id(), rect, uv, egui::Color32::WHITE);
        // No tooltip over the image (it covered the details); the zoom bar's Fit says how.
        drop(resp);
    }

    /// The row above the large image: Fit, 1:1, zoom out/in, the zoom as a percentage of the
    /// image's own size, and the image's size. `image_room` is the room the image will get.
    fn zoom_bar(&mut self, ui: &mut Ui, r: &ResultEntry, image_room: egui::Vec2) {
        let image = r.texture.as_ref().map(|t| t.size_vec2());
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
                self.results.view.fit();
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
                self.results.view.fit();
                self.results.view.set_zoom(1.0 / (ppp * fit), frame);
            }
            if let Some((_, fit, frame)) = &fitted {
                if ui.button("Zoom −").on_hover_text("Zoom out").clicked() {
                    self.results.view.zoom_centred(1.0 / ZOOM_STEP, frame);
                }
                if ui.button("Zoom +").on_hover_text("Zoom in").clicked() {
                    self.results.view.zoom_centred(ZOOM_STEP, frame);
                }
                let pct = self.results.view.scale(*fit) * ppp * 100.0;
                ui.add(egui::Label::new(RichText::new(format!("{pct:.0} %")).weak()).truncate());
            }
            let size = format!("{} × {}", r.saved.width, r.saved.height);
            ui.add(egui::Label::new(RichText::new(size).weak()).truncate());
        });
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
    if let Some(f) = &r.framing {
        lines.push(row("framing", f.describe()));
    }
    if let Some(t) = &r.prompt_template {
        lines.push(row("template", t.clone()));
    }
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
