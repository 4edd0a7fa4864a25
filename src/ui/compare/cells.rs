//! The comparison's cell grid: column and row labels, and per cell its image (drawn with the zoom
//! every cell shares) or its status or error, with a line of buttons under it (A/B picks for the
//! swipe, "Use" these settings, "Retry" a failed or cancelled cell). Drawing only: what the user
//! clicked is returned as a [`CellEvent`] for the view to act on.

use egui::{Color32, Role, Sense, TextureHandle, Ui, Vec2, WidgetInfo, vec2};

use super::state::{CellState, GridRun};
use super::swipe::Swipe;
use crate::ui::gallery_panel::fit_in;
use crate::ui::zoom::{Frame, ZoomPan};

/// What the user clicked in a cell (by its row-major index).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum CellEvent {
    Retry(usize),
    /// Picked (or unpicked) as the swipe's A (`true`) or B.
    Pick(usize, bool),
    /// "Use these settings, with this seed".
    Use(usize),
}

/// The gap between the A, B and Use buttons under a result (tighter than the style's, so the line
/// fits narrow columns).
const BUTTON_GAP: f32 = 3.0;
/// The padding either side of those buttons' text (tighter than the style's, for the same reason).
const BUTTON_PAD: f32 = 4.0;
/// The room kept either side of a header's or a row label's text.
const LABEL_PAD: f32 = 4.0;
/// The widest a column grows to show its header whole (longer headers are cut, whole on hover).
const MAX_HEADER_W: f32 = 160.0;
/// The bounds of the row labels' column.
const ROW_LABEL_W: (f32, f32) = (28.0, 140.0);
/// The narrowest a cell's image is drawn.
const MIN_CELL: f32 = 48.0;

/// The sizes of the grid, from the room there is, the images' aspect and the texts to show whole.
struct Layout {
    /// One width for a column's header, its cells and their lines of buttons.
    cell_w: f32,
    img_h: f32,
    row_label_w: f32,
    header_h: f32,
    line_h: f32,
}

impl Layout {
    fn new(ui: &Ui, run: &GridRun, aspect: f32) -> Layout {
        let (rows, cols) = (run.plan.rows.max(1), run.plan.cols.max(1));
        let spacing = ui.spacing().item_spacing;
        let pad = 2.0 * LABEL_PAD;
        let row_label_w = match &run.plan.y {
            Some(y) => (0..rows)
                .map(|r| text_width(ui, &axis_value(y, r)) + pad)
                .fold(ROW_LABEL_W.0, f32::max)
                .min(ROW_LABEL_W.1),
            None => 0.0,
        };
        let header_w = (0..cols)
            .map(|c| text_width(ui, &axis_value(&run.plan.x, c)) + pad)
            .fold(0.0, f32::max)
            .min(MAX_HEADER_W);
        let min_w = buttons_width(ui).max(header_w).max(MIN_CELL);
        let header_h = ui.spacing().interact_size.y;
        let line_h = ui.spacing().interact_size.y;
        let avail = ui.available_size();
        let above = 2.0 * (header_h + spacing.y);
        let max_img_h = ((avail.y - above) / rows as f32 - line_h - 2.0 * spacing.y).max(MIN_CELL);
        let mut cell_w = (avail.x - row_label_w - spacing.x * cols as f32) / cols as f32;
        if cell_w * aspect > max_img_h {
            cell_w = max_img_h / aspect.max(0.01);
        }
        let cell_w = cell_w.max(min_w);
        Layout {
            cell_w,
            img_h: (cell_w * aspect).clamp(MIN_CELL.min(max_img_h), max_img_h),
            row_label_w,
            header_h,
            line_h,
        }
    }
}

/// The width of `text` in the body font, drawn on one line.
fn text_width(ui: &Ui, text: &str) -> f32 {
    let font = egui::TextStyle::Body.resolve(ui.style());
    ui.fonts_mut(|f| f.layout_no_wrap(text.to_owned(), font, Color32::WHITE))
        .size()
        .x
}

/// The width of a result's line of buttons (A, B, Use with their padding and gaps).
fn buttons_width(ui: &Ui) -> f32 {
    let pad = 2.0 * BUTTON_PAD;
    ["A", "B", "Use"]
        .iter()
        .map(|t| text_width(ui, t) + pad)
        .sum::<f32>()
        + 2.0 * BUTTON_GAP
        + 2.0
}

/// What a header (or row label) shows: the axis's value alone (the axis is named once above).
fn axis_value(axis: &crate::jobs::grid::Axis, i: usize) -> String {
    match axis.values.get(i) {
        Some(_) if matches!(axis.kind.info().allowed, crate::api::fields::Allowed::Text) => {
            axis.label(i)
        }
        Some(v) => v.to_string(),
        None => String::new(),
    }
}

/// The aspect (height / width) of the cells: the first result's, else the requested size's.
fn aspect(run: &GridRun, textures: &[Option<TextureHandle>]) -> f32 {
    let from_result = textures.iter().flatten().find_map(|t| {
        let s = t.size_vec2();
        (s.x > 0.0).then(|| s.y / s.x)
    });
    from_result.unwrap_or_else(|| match run.plan.cells.first().map(|c| &c.params) {
        Some(p) if !p.use_input_img_dimension && p.custom_width > 0 => {
            p.custom_height as f32 / p.custom_width as f32
        }
        _ => 1.0,
    })
}

/// Draws the grid of `run`'s cells (`textures` is parallel to its cells), in a scroll area with
/// visible bars when it does not fit.
pub(super) fn grid(
    ui: &mut Ui,
    run: &GridRun,
    textures: &[Option<TextureHandle>],
    zoom: &mut ZoomPan,
    swipe: &Swipe,
) -> Option<CellEvent> {
    let layout = Layout::new(ui, run, aspect(run, textures));
    let (rows, cols) = (run.plan.rows.max(1), run.plan.cols.max(1));
    let mut event = None;
    // The bars stay visible (not the floating ones that show only on hover): a grid wider than
    // the view must say so.
    let scroll_style = std::mem::replace(
        &mut ui.spacing_mut().scroll,
        egui::style::ScrollStyle::solid(),
    );
    // Many cells may not fit: scroll with the bars only, the wheel zooms the images.
    egui::ScrollArea::both()
        .auto_shrink([false, false])
        .scroll_source(egui::containers::scroll_area::ScrollSource {
            scroll_bar: true,
            drag: egui::containers::scroll_area::DragScroll::Never,
            mouse_wheel: false,
        })
        .show(ui, |ui| {
            axis_title(ui, run);
            column_labels(ui, run, &layout, cols);
            for r in 0..rows {
                ui.horizontal_top(|ui| {
                    if let Some(y) = &run.plan.y {
                        let size = vec2(layout.row_label_w, layout.img_h);
                        value_label(ui, size, &axis_value(y, r), &run.plan.row_label(r));
                    }
                    for c in 0..cols {
                        let i = r * cols + c;
                        let Some(cell) = run.cells.get(i) else {
                            continue;
                        };
                        let texture = textures.get(i).and_then(Option::as_ref);
                        let picked = (swipe.a == Some(i), swipe.b == Some(i));
                        let label = run.label(i);
                        let ev = framed_cell(ui, i, &layout, |ui, img| {
                            cell_ui(ui, &cell.state, texture, &label, img, zoom, picked)
                        });
                        event = event.or(ev);
                    }
                });
            }
        });
    ui.spacing_mut().scroll = scroll_style;
    event
}

/// The axes' names, once above the grid: "columns: cn_type · rows: cn_strength".
fn axis_title(ui: &mut Ui, run: &GridRun) {
    let text = match &run.plan.y {
        _ if run.saved => "saved results, each labelled with the settings that differ".to_owned(),
        Some(y) => format!("columns: {} · rows: {}", run.plan.x.kind, y.kind),
        None => format!("columns: {}", run.plan.x.kind),
    };
    ui.add(egui::Label::new(egui::RichText::new(text).weak()).truncate());
}

fn column_labels(ui: &mut Ui, run: &GridRun, layout: &Layout, cols: usize) {
    let spacing = ui.spacing().item_spacing;
    ui.horizontal(|ui| {
        if run.plan.y.is_some() {
            ui.add_space(layout.row_label_w + spacing.x);
        }
        for c in 0..cols {
            let size = vec2(layout.cell_w, layout.header_h);
            value_label(
                ui,
                size,
                &axis_value(&run.plan.x, c),
                &run.plan.col_label(c),
            );
        }
    });
}

/// A header or row label in a box of `size`: `shown` (the value) drawn centred, cut to the box;
/// its accessible name and hover text are `name` (the axis and the value).
fn value_label(ui: &mut Ui, size: Vec2, shown: &str, name: &str) {
    let (rect, resp) = ui.allocate_exact_size(size, Sense::hover());
    resp.widget_info(|| WidgetInfo::labeled(Role::Label, true, name));
    let text = egui::WidgetText::from(egui::RichText::new(shown).strong());
    let galley = text.into_galley(
        ui,
        Some(egui::TextWrapMode::Truncate),
        size.x,
        egui::TextStyle::Body,
    );
    let pos = rect.center() - galley.size() / 2.0;
    let colour = ui.visuals().strong_text_color();
    ui.painter_at(rect).galley(pos, galley, colour);
    resp.on_hover_text(name);
}

/// Gives cell `i` its fixed room (the image, then a line of buttons) and draws it with `add`.
fn framed_cell(
    ui: &mut Ui,
    i: usize,
    layout: &Layout,
    add: impl FnOnce(&mut Ui, Vec2) -> Option<CellUiEvent>,
) -> Option<CellEvent> {
    let spacing = ui.spacing().item_spacing;
    let size = vec2(layout.cell_w, layout.img_h + layout.line_h + spacing.y);
    ui.push_id(("compare-cell", i), |ui| {
        ui.allocate_ui_with_layout(size, egui::Layout::top_down(egui::Align::Min), |ui| {
            ui.set_min_size(size);
            ui.set_max_width(layout.cell_w);
            add(ui, vec2(layout.cell_w, layout.img_h))
        })
        .inner
    })
    .inner
    .map(|ev| match ev {
        CellUiEvent::Retry => CellEvent::Retry(i),
        CellUiEvent::PickA => CellEvent::Pick(i, true),
        CellUiEvent::PickB => CellEvent::Pick(i, false),
        CellUiEvent::Use => CellEvent::Use(i),
    })
}

enum CellUiEvent {
    Retry,
    PickA,
    PickB,
    Use,
}

/// One cell: the image (or its status or error) and a line of buttons under it.
fn cell_ui(
    ui: &mut Ui,
    state: &CellState,
    texture: Option<&TextureHandle>,
    label: &str,
    img: Vec2,
    zoom: &mut ZoomPan,
    picked: (bool, bool),
) -> Option<CellUiEvent> {
    let fill = ui.visuals().faint_bg_color;
    match state {
        CellState::Done { seed, path } => match texture {
            Some(tex) => image_cell(ui, tex, label, *seed, img, zoom, picked),
            None => {
                status_box(ui, img, fill, |ui| {
                    ui.label("Saved (no preview)");
                    ui.add(egui::Label::new(path.display().to_string()).truncate());
                });
                None
            }
        },
        CellState::Waiting(status) => {
            status_box(ui, img, fill, |ui| {
                caption(ui, label);
                ui.label(status.as_str());
            });
            None
        }
        CellState::Failed {
            message,
            maybe_billed,
        } => failed_cell(ui, label, message, *maybe_billed, img),
        CellState::Cancelled { maybe_billed } => {
            let mut ev = None;
            status_box(ui, img, fill, |ui| {
                caption(ui, label);
                ui.label("Cancelled");
                if *maybe_billed {
                    ui.weak("The request was already out and may have been billed.");
                }
                if ui.button("Retry").clicked() {
                    ev = Some(CellUiEvent::Retry);
                }
            });
            ev
        }
    }
}

/// A result: the image with the shared zoom (scroll to zoom, drag to pan), then A, B and Use.
fn image_cell(
    ui: &mut Ui,
    tex: &TextureHandle,
    label: &str,
    seed: i64,
    img: Vec2,
    zoom: &mut ZoomPan,
    (is_a, is_b): (bool, bool),
) -> Option<CellUiEvent> {
    let (rect, resp) = ui.allocate_exact_size(img, Sense::click_and_drag());
    let frame = Frame::fixed(fit_in(rect, tex.size_vec2()));
    resp.widget_info(|| WidgetInfo::labeled(Role::Image, true, format!("result: {label}")));
    zoom.interact(ui, &resp, &frame, true);
    let painter = ui.painter_at(rect);
    painter.rect_filled(rect, 0.0, ui.visuals().extreme_bg_color);
    let (shown, uv) = zoom.placement(&frame);
    painter.image(tex.id(), shown, uv, Color32::WHITE);
    let resp = resp.on_hover_text(format!("{label}\nseed {seed}"));
    if resp.dragged() {
        ui.ctx().set_cursor_icon(egui::CursorIcon::Grabbing);
    }
    let mut ev = None;
    ui.horizontal(|ui| {
        ui.spacing_mut().item_spacing.x = BUTTON_GAP;
        ui.spacing_mut().button_padding.x = BUTTON_PAD;
        if ui
            .selectable_label(is_a, "A")
            .on_hover_text("Swipe: left image")
            .clicked()
        {
            ev = Some(CellUiEvent::PickA);
        }
        if ui
            .selectable_label(is_b, "B")
            .on_hover_text("Swipe: right image")
            .clicked()
        {
            ev = Some(CellUiEvent::PickB);
        }
        if ui
            .small_button("Use")
            .on_hover_text("Use these settings, with this seed")
            .clicked()
        {
            ev = Some(CellUiEvent::Use);
        }
    });
    ev
}

/// A failed cell: the error (shortened; whole on hover), whether it may have been billed, Retry.
fn failed_cell(
    ui: &mut Ui,
    label: &str,
    message: &str,
    maybe_billed: bool,
    img: Vec2,
) -> Option<CellUiEvent> {
    let visuals = ui.visuals().clone();
    let mut ev = None;
    status_box(ui, img, visuals.faint_bg_color, |ui| {
        caption(ui, label);
        ui.add(
            egui::Label::new(
                egui::RichText::new(crate::api::error::shorten(message, 240))
                    .color(visuals.error_fg_color),
            )
            .wrap(),
        )
        .on_hover_text(message);
        if maybe_billed {
            ui.weak("The request may have been billed; retry sends it again.");
        }
        if ui.button("Retry").clicked() {
            ev = Some(CellUiEvent::Retry);
        }
    });
    ev
}

/// A cell's caption on one line, cut to the cell (never broken mid-word), whole on hover.
fn caption(ui: &mut Ui, label: &str) {
    ui.add(egui::Label::new(egui::RichText::new(label).weak()).truncate());
}

/// A filled box of `size` with text content, for a cell without an image.
fn status_box(ui: &mut Ui, size: Vec2, fill: Color32, add: impl FnOnce(&mut Ui)) {
    let margin = 6.0;
    egui::Frame::new()
        .fill(fill)
        .inner_margin(margin)
        .show(ui, |ui| {
            let inner = (size - vec2(2.0 * margin, 2.0 * margin)).max(vec2(1.0, 1.0));
            ui.set_min_size(inner);
            ui.set_max_width(inner.x);
            add(ui);
        });
}
