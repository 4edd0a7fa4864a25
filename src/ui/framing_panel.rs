//! Framing the input in the window (issue 26): turn, flip, crop with handles on the preview (free
//! or held to an aspect preset), pad to an aspect with a fill, and a line that states exactly what
//! will be sent (its pixels after the size cap) and the output size that gives. The preview is the
//! input's small preview texture drawn with its corners mapped (turn and flip cost nothing, and a
//! 24 MP input never reaches the UI thread); the crop is kept in the whole picture's pixels, as the
//! job applies it.

use egui::{Color32, Pos2, Rect, Sense, Stroke, Ui, pos2, vec2};

use crate::api::framing::{
    ASPECTS, Aspect, AspectFit, Crop, Fill, Fit, Framing, Turn, centred_crop,
};

/// How near (points) a press must be to a crop edge to take it.
const GRAB: f32 = 10.0;

/// The framing controls' state for one input (a new input starts unframed).
#[derive(Debug, Clone, Default)]
pub(crate) struct FramingUi {
    /// What the job will do.
    pub framing: Framing,
    /// The crop's aspect preset (`None`: free).
    pub aspect: Option<Aspect>,
    /// Pad to `aspect` instead of cropping to it.
    pub pad: bool,
    pub fill: Option<Fill>,
    /// The crop edge being dragged.
    drag: Option<Grip>,
}

/// What a drag on the preview holds.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Grip {
    left: bool,
    right: bool,
    top: bool,
    bottom: bool,
    /// The crop at the press, in picture pixels.
    start: Crop,
}

impl Grip {
    fn moves_all(&self) -> bool {
        self.left && self.right && self.top && self.bottom
    }
}

/// The size of a `w`×`h` picture (upright) once turned.
pub(crate) fn turned_size(f: &Framing, w: u32, h: u32) -> (u32, u32) {
    if f.turn.swaps() { (h, w) } else { (w, h) }
}

/// Where a point of the turned and flipped picture (`p`, 0 to 1 across) is in the upright
/// picture's texture: the flips undone, then the turn.
pub(crate) fn source_uv(f: &Framing, p: Pos2) -> Pos2 {
    let (mut u, mut v) = (p.x, p.y);
    if f.flip_h {
        u = 1.0 - u;
    }
    if f.flip_v {
        v = 1.0 - v;
    }
    match f.turn {
        Turn::None => pos2(u, v),
        Turn::Quarter => pos2(v, 1.0 - u),
        Turn::Half => pos2(1.0 - u, 1.0 - v),
        Turn::ThreeQuarters => pos2(1.0 - v, u),
    }
}

impl FramingUi {
    /// The controls of a job's framing (an edited waiting job).
    pub(crate) fn of(f: Framing) -> FramingUi {
        let (aspect, pad, fill) = match f.aspect {
            Some(AspectFit {
                aspect,
                fit: Fit::Pad(fill),
            }) => (Some(aspect), true, Some(fill)),
            Some(AspectFit {
                aspect,
                fit: Fit::Crop,
            }) => (Some(aspect), false, None),
            None => (None, false, None),
        };
        FramingUi {
            framing: f,
            aspect,
            pad,
            fill,
            drag: None,
        }
    }

    /// The framing the job gets, from the controls.
    fn sync(&mut self, w: u32, h: u32) {
        let (tw, th) = turned_size(&self.framing, w, h);
        self.framing.aspect = match (self.aspect, self.pad) {
            (Some(aspect), true) => Some(AspectFit {
                aspect,
                fit: Fit::Pad(self.fill.unwrap_or(Fill::Edge)),
            }),
            _ => None,
        };
        // A crop that no longer fits (the picture turned) starts again.
        if let Some(c) = self.framing.crop
            && (c.x + c.w > tw || c.y + c.h > th)
        {
            self.framing.crop = None;
        }
        if let (Some(a), false, None) = (self.aspect, self.pad, self.framing.crop) {
            self.framing.crop = Some(centred_crop(tw, th, a));
        }
    }

    /// The rows of controls under the preview; `size` is the upright picture's size.
    pub(crate) fn controls(&mut self, ui: &mut Ui, (w, h): (u32, u32)) {
        ui.horizontal_wrapped(|ui| {
            let (tw, th) = turned_size(&self.framing, w, h);
            if ui
                .button("Turn 90°")
                .on_hover_text("Turn the picture a quarter clockwise")
                .clicked()
            {
                self.framing.turn = self.framing.turn.next();
                // A free crop turns with the picture (it keeps what it held); one held to an
                // aspect, or under a flip, starts again centred.
                self.framing.crop = self
                    .framing
                    .crop
                    .filter(|_| {
                        self.aspect.is_none() && !self.framing.flip_h && !self.framing.flip_v
                    })
                    .map(|c| Crop {
                        x: th - (c.y + c.h),
                        y: c.x,
                        w: c.h,
                        h: c.w,
                    });
            }
            // A flip mirrors the crop too: it keeps what it held.
            if ui
                .toggle_value(&mut self.framing.flip_h, "Flip left-right")
                .on_hover_text("Mirror left to right")
                .changed()
                && let Some(c) = self.framing.crop.as_mut()
            {
                c.x = tw - (c.x + c.w);
            }
            if ui
                .toggle_value(&mut self.framing.flip_v, "Flip up-down")
                .on_hover_text("Mirror top to bottom")
                .changed()
                && let Some(c) = self.framing.crop.as_mut()
            {
                c.y = th - (c.y + c.h);
            }
            if ui
                .add_enabled(
                    !self.framing.is_identity() || self.aspect.is_some(),
                    egui::Button::new("Reset"),
                )
                .on_hover_text("Send the picture as it is")
                .clicked()
            {
                *self = FramingUi::default();
            }
        });
        self.aspect_row(ui);
        let hint = if self.aspect.is_some() && self.pad {
            "The preview is the canvas as it is sent."
        } else {
            "Drag a corner or an edge of the preview to crop, the inside to move it."
        };
        crate::ui::widgets::hint_line(ui, hint);
        self.sync(w, h);
    }

    /// The padding around the crop, if the framing pads: the crop (the whole turned picture when
    /// none) and the canvas size, in picture pixels.
    fn padded(&self, w: u32, h: u32) -> Option<(Crop, (u32, u32), Fill)> {
        let AspectFit {
            aspect,
            fit: Fit::Pad(fill),
        } = self.framing.aspect?
        else {
            return None;
        };
        let (tw, th) = turned_size(&self.framing, w, h);
        let c = self.framing.crop.unwrap_or(Crop {
            x: 0,
            y: 0,
            w: tw,
            h: th,
        });
        Some((c, crate::api::framing::pad_size(c.w, c.h, aspect), fill))
    }

    /// The aspect, how it is reached (crop or pad) and the fill.
    fn aspect_row(&mut self, ui: &mut Ui) {
        ui.horizontal_wrapped(|ui| {
            let label = ui.label("Aspect");
            let shown = self
                .aspect
                .and_then(|a| ASPECTS.iter().find(|(_, p)| *p == a).map(|(n, _)| *n))
                .unwrap_or("free");
            let before = (self.aspect, self.pad, self.fill);
            egui::ComboBox::from_id_salt("framing-aspect")
                .selected_text(shown)
                .show_ui(ui, |ui| {
                    ui.selectable_value(&mut self.aspect, None, "free");
                    for (name, a) in ASPECTS {
                        ui.selectable_value(&mut self.aspect, Some(a), name);
                    }
                })
                .response
                .labelled_by(label.id)
                .on_hover_text("Crop to (or pad to) this shape; free crops by the handles alone");
            if self.aspect.is_some() {
                egui::ComboBox::from_id_salt("framing-fit")
                    .selected_text(if self.pad { "pad" } else { "crop" })
                    .show_ui(ui, |ui| {
                        ui.selectable_value(&mut self.pad, false, "crop");
                        ui.selectable_value(&mut self.pad, true, "pad");
                    })
                    .response
                    .on_hover_text("Crop to the shape, or pad the picture out to it");
            }
            if self.aspect.is_some() && self.pad {
                ui.label("fill");
                let fill = self.fill.unwrap_or(Fill::Edge);
                let name = |f: Fill| match f {
                    Fill::Edge => "edge",
                    Fill::Colour([0, 0, 0]) => "black",
                    Fill::Colour([255, 255, 255]) => "white",
                    Fill::Colour(_) => "grey",
                };
                egui::ComboBox::from_id_salt("framing-fill")
                    .selected_text(name(fill))
                    .show_ui(ui, |ui| {
                        for f in [
                            Fill::Edge,
                            Fill::Colour([0, 0, 0]),
                            Fill::Colour([255, 255, 255]),
                            Fill::Colour([128, 128, 128]),
                        ] {
                            ui.selectable_value(&mut self.fill, Some(f), name(f));
                        }
                    })
                    .response
                    .on_hover_text("What fills the room around the picture");
            }
            if (self.aspect, self.pad, self.fill) != before {
                // A new shape: its crop starts centred.
                self.framing.crop = None;
            }
        });
    }

    /// The preview's shape for an upright `w`×`h` picture: turned, or the padded canvas.
    pub(crate) fn shown_size(&self, w: u32, h: u32) -> (f32, f32) {
        let (sw, sh) = match self.padded(w, h) {
            Some((_, canvas, _)) => canvas,
            None => turned_size(&self.framing, w, h),
        };
        (sw.max(1) as f32, sh.max(1) as f32)
    }

    /// The padded preview: the crop centred on the canvas, the bands filled with the colour or
    /// the picture's edge stretched (a 3×3 grid of quads whose outer texture coordinates are held
    /// at the crop's edge).
    fn padded_preview(
        &self,
        ui: &Ui,
        tex: &egui::TextureHandle,
        rect: Rect,
        (w, h): (u32, u32),
        (c, (pw, ph), fill): (Crop, (u32, u32), Fill),
    ) {
        let f = self.framing;
        let (tw, th) = turned_size(&f, w, h);
        let s = rect.width() / pw.max(1) as f32;
        let inner = Rect::from_min_size(
            rect.min + vec2((pw - c.w) as f32 / 2.0, (ph - c.h) as f32 / 2.0) * s,
            vec2(c.w as f32, c.h as f32) * s,
        );
        let xs = [rect.min.x, inner.min.x, inner.max.x, rect.max.x];
        let ys = [rect.min.y, inner.min.y, inner.max.y, rect.max.y];
        let mut mesh = egui::Mesh::with_texture(tex.id());
        for &y in &ys {
            for &x in &xs {
                // Where this point falls in the crop, held inside it.
                let px = ((x - inner.min.x) / inner.width().max(1e-3)).clamp(0.0, 1.0);
                let py = ((y - inner.min.y) / inner.height().max(1e-3)).clamp(0.0, 1.0);
                let q = pos2(
                    (c.x as f32 + px * c.w as f32) / tw.max(1) as f32,
                    (c.y as f32 + py * c.h as f32) / th.max(1) as f32,
                );
                mesh.vertices.push(egui::epaint::Vertex {
                    pos: pos2(x, y),
                    uv: source_uv(&f, q),
                    color: Color32::WHITE,
                });
            }
        }
        for row in 0..3u32 {
            for col in 0..3u32 {
                let i = row * 4 + col;
                mesh.add_triangle(i, i + 1, i + 5);
                mesh.add_triangle(i, i + 5, i + 4);
            }
        }
        ui.painter().add(egui::Shape::mesh(mesh));
        if let Fill::Colour([r, g, b]) = fill {
            let colour = Color32::from_rgb(r, g, b);
            let p = ui.painter_at(rect);
            for band in around(rect, inner) {
                p.rect_filled(band, 0.0, colour);
            }
        }
        ui.painter_at(rect).rect_stroke(
            inner,
            0.0,
            Stroke::new(1.0, Color32::from_white_alpha(120)),
            egui::StrokeKind::Outside,
        );
    }

    /// The preview in `rect`, turned and flipped, the crop's handles over it (dragged to move
    /// them), or, padded, the canvas as it will be sent; `size` is the upright picture's size.
    pub(crate) fn preview(
        &mut self,
        ui: &mut Ui,
        tex: &egui::TextureHandle,
        rect: Rect,
        (w, h): (u32, u32),
    ) {
        if let Some(pad) = self.padded(w, h) {
            self.padded_preview(ui, tex, rect, (w, h), pad);
            return;
        }
        let f = self.framing;
        let mut mesh = egui::Mesh::with_texture(tex.id());
        let corners = [
            (rect.left_top(), pos2(0.0, 0.0)),
            (rect.right_top(), pos2(1.0, 0.0)),
            (rect.right_bottom(), pos2(1.0, 1.0)),
            (rect.left_bottom(), pos2(0.0, 1.0)),
        ];
        for (at, p) in corners {
            mesh.vertices.push(egui::epaint::Vertex {
                pos: at,
                uv: source_uv(&f, p),
                color: Color32::WHITE,
            });
        }
        mesh.add_triangle(0, 1, 2);
        mesh.add_triangle(0, 2, 3);
        ui.painter().add(egui::Shape::mesh(mesh));
        let (tw, th) = turned_size(&f, w, h);
        let scale = rect.width() / tw.max(1) as f32;
        let resp = ui.interact(rect, ui.scope_id().with("framing-crop"), Sense::drag());
        resp.widget_info(|| {
            egui::WidgetInfo::labeled(egui::Role::Image, true, "Input preview: drag to crop")
        });
        let crop = f.crop.unwrap_or(Crop {
            x: 0,
            y: 0,
            w: tw,
            h: th,
        });
        let shown = Rect::from_min_size(
            rect.min + vec2(crop.x as f32, crop.y as f32) * scale,
            vec2(crop.w as f32, crop.h as f32) * scale,
        );
        self.drag_crop(&resp, shown, crop, scale, (tw, th));
        let dim = Color32::from_black_alpha(140);
        let p = ui.painter_at(rect);
        for r in around(rect, shown) {
            p.rect_filled(r, 0.0, dim);
        }
        p.rect_stroke(
            shown,
            0.0,
            Stroke::new(1.5, Color32::WHITE),
            egui::StrokeKind::Inside,
        );
        for c in [
            shown.left_top(),
            shown.right_top(),
            shown.left_bottom(),
            shown.right_bottom(),
        ] {
            p.rect_filled(
                Rect::from_center_size(c, vec2(8.0, 8.0)),
                1.0,
                Color32::WHITE,
            );
        }
        if resp.hovered() || self.drag.is_some() {
            ui.ctx().set_cursor_icon(egui::CursorIcon::Crosshair);
        }
    }

    /// A drag on the preview moves the edge (or corner, or the whole crop) it started on.
    fn drag_crop(
        &mut self,
        resp: &egui::Response,
        shown: Rect,
        crop: Crop,
        scale: f32,
        (tw, th): (u32, u32),
    ) {
        if resp.drag_started()
            && let Some(at) = resp.interact_pointer_pos()
        {
            let near = |a: f32, b: f32| (a - b).abs() <= GRAB;
            let inside = shown.expand(GRAB).contains(at);
            let (left, right) = (near(at.x, shown.min.x), near(at.x, shown.max.x));
            let (top, bottom) = (near(at.y, shown.min.y), near(at.y, shown.max.y));
            let edge = left || right || top || bottom;
            self.drag = inside.then_some(Grip {
                left: left || !edge,
                right: (right && !left) || !edge,
                top: top || !edge,
                bottom: (bottom && !top) || !edge,
                start: crop,
            });
        }
        if resp.drag_stopped() {
            self.drag = None;
        }
        let (Some(g), Some(origin), Some(now)) = (
            self.drag,
            resp.ctx.input(|i| i.pointer.press_origin()),
            resp.interact_pointer_pos(),
        ) else {
            return;
        };
        let d = (now - origin) / scale.max(1e-3);
        let c = dragged(g, d, (tw, th), self.aspect.filter(|_| !self.pad));
        self.framing.crop = Some(c);
    }
}

/// The four bands of `outer` around `inner` (above, below, left, right).
fn around(outer: Rect, inner: Rect) -> [Rect; 4] {
    [
        Rect::from_min_max(outer.min, pos2(outer.max.x, inner.min.y)),
        Rect::from_min_max(pos2(outer.min.x, inner.max.y), outer.max),
        Rect::from_min_max(
            pos2(outer.min.x, inner.min.y),
            pos2(inner.min.x, inner.max.y),
        ),
        Rect::from_min_max(
            pos2(inner.max.x, inner.min.y),
            pos2(outer.max.x, inner.max.y),
        ),
    ]
}

/// The crop `g.start` with its gripped edges moved by `d` picture pixels, kept inside a `tw`×`th`
/// picture, at least 16 pixels a side, and to `aspect` when one holds.
fn dragged(g: Grip, d: egui::Vec2, (tw, th): (u32, u32), aspect: Option<Aspect>) -> Crop {
    let s = g.start;
    let (mut x0, mut y0) = (s.x as f32, s.y as f32);
    let (mut x1, mut y1) = ((s.x + s.w) as f32, (s.y + s.h) as f32);
    let (fw, fh) = (tw as f32, th as f32);
    if g.moves_all() {
        let dx = d.x.clamp(-x0, fw - x1);
        let dy = d.y.clamp(-y0, fh - y1);
        return Crop {
            x: (x0 + dx).round() as u32,
            y: (y0 + dy).round() as u32,
            w: s.w,
            h: s.h,
        };
    }
    const MIN: f32 = 16.0;
    if g.left {
        x0 = (x0 + d.x).clamp(0.0, x1 - MIN);
    }
    if g.right {
        x1 = (x1 + d.x).clamp(x0 + MIN, fw);
    }
    if g.top {
        y0 = (y0 + d.y).clamp(0.0, y1 - MIN);
    }
    if g.bottom {
        y1 = (y1 + d.y).clamp(y0 + MIN, fh);
    }
    if let Some(a) = aspect {
        // The height follows the width (kept inside the picture, the width then follows back).
        let ratio = a.h as f32 / a.w.max(1) as f32;
        let mut h = (x1 - x0) * ratio;
        let room = if g.top { y1 } else { fh - y0 };
        if h > room {
            h = room;
            let w = h / ratio;
            if g.left {
                x0 = x1 - w;
            } else {
                x1 = x0 + w;
            }
        }
        if g.top {
            y0 = y1 - h;
        } else {
            y1 = y0 + h;
        }
    }
    let x = x0.round().max(0.0) as u32;
    let y = y0.round().max(0.0) as u32;
    Crop {
        x,
        y,
        w: ((x1 - x0).round() as u32).clamp(1, tw - x.min(tw - 1)),
        h: ((y1 - y0).round() as u32).clamp(1, th - y.min(th - 1)),
    }
}

impl super::app::FluxApp {
    /// How the input on screen is framed (`None` with no input): what Generate would send.
    pub fn input_framing(&self) -> Option<Framing> {
        self.inputs.input.as_ref().map(|v| v.framing.framing)
    }

    /// Why the input on screen cannot be framed as asked, if it cannot.
    pub(crate) fn framing_problem(&self) -> Option<String> {
        let v = self.inputs.input.as_ref()?;
        if v.framing.framing.is_identity() {
            return None;
        }
        if matches!(v.source, crate::jobs::InputSource::Url(_)) {
            return Some(
                "A web address is sent as it is and cannot be framed: Reset the framing, or \
                 download the picture and open the file."
                    .into(),
            );
        }
        let pre = v.preview.as_ref()?;
        v.framing
            .framing
            .framed_size(pre.width, pre.height)
            .err()
            .map(|e| format!("The framing cannot be done: {e}."))
    }
}

/// What the framed input sends and the output it gives, in one line: the picture `w`×`h`
/// (upright), the longest side allowed `max_side`, and the knobs' size settings.
pub(crate) fn overlay_line(
    f: &Framing,
    (w, h): (u32, u32),
    max_side: u32,
    params: &crate::api::GenParams,
) -> Result<String, String> {
    let (fw, fh) = f.framed_size(w, h).map_err(|e| e.to_string())?;
    let (sw, sh) = crate::api::input::sent_size(fw, fh, max_side);
    let sent = if (sw, sh) == (fw, fh) {
        format!("Sends {sw} × {sh}")
    } else {
        format!("Sends {sw} × {sh} (framed {fw} × {fh}, capped at {max_side})")
    };
    let (ow, oh) = if params.use_input_img_dimension {
        let b = crate::api::params::SIZE;
        (sw.clamp(b.min, b.max), sh.clamp(b.min, b.max))
    } else {
        (params.custom_width, params.custom_height)
    };
    Ok(format!("{sent} · output {ow} × {oh}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_preview_s_corners_come_from_where_the_framing_takes_them() {
        let mut f = Framing {
            turn: Turn::Quarter,
            ..Default::default()
        };
        // Turned a quarter clockwise: the top-left shows the original's bottom-left.
        assert_eq!(source_uv(&f, pos2(0.0, 0.0)), pos2(0.0, 1.0));
        assert_eq!(source_uv(&f, pos2(1.0, 0.0)), pos2(0.0, 0.0));
        f.flip_h = true;
        assert_eq!(source_uv(&f, pos2(0.0, 0.0)), pos2(0.0, 0.0));
        f = Framing {
            turn: Turn::ThreeQuarters,
            ..Default::default()
        };
        assert_eq!(source_uv(&f, pos2(0.0, 0.0)), pos2(1.0, 0.0));
    }

    #[test]
    fn a_dragged_corner_stays_inside_and_keeps_the_aspect() {
        let start = Crop {
            x: 100,
            y: 100,
            w: 400,
            h: 300,
        };
        let g = Grip {
            left: false,
            right: true,
            top: false,
            bottom: true,
            start,
        };
        let free = dragged(g, vec2(50.0, -20.0), (1000, 800), None);
        assert_eq!(
            free,
            Crop {
                x: 100,
                y: 100,
                w: 450,
                h: 280
            }
        );
        let held = dragged(
            g,
            vec2(2000.0, 0.0),
            (1000, 800),
            Some(Aspect { w: 4, h: 3 }),
        );
        assert!(
            held.x + held.w <= 1000 && held.y + held.h <= 800,
            "{held:?}"
        );
        assert_eq!(held.w * 3 / 4, held.h, "{held:?}");
        let moved = dragged(
            Grip {
                left: true,
                right: true,
                top: true,
                bottom: true,
                start,
            },
            vec2(-500.0, 900.0),
            (1000, 800),
            None,
        );
        assert_eq!(
            moved,
            Crop {
                x: 0,
                y: 500,
                w: 400,
                h: 300
            }
        );
    }

    #[test]
    fn the_overlay_states_what_is_sent_and_the_output() {
        let p = crate::api::GenParams::default();
        let f = Framing {
            crop: Some(Crop {
                x: 0,
                y: 0,
                w: 3000,
                h: 2000,
            }),
            ..Default::default()
        };
        assert_eq!(
            overlay_line(&f, (6000, 4000), 2048, &p).unwrap(),
            "Sends 2048 × 1365 (framed 3000 × 2000, capped at 2048) · output 2048 × 1365"
        );
        let p = crate::api::GenParams {
            use_input_img_dimension: false,
            custom_width: 512,
            custom_height: 768,
            ..Default::default()
        };
        assert_eq!(
            overlay_line(&Framing::default(), (800, 600), 2048, &p).unwrap(),
            "Sends 800 × 600 · output 512 × 768"
        );
    }
}
