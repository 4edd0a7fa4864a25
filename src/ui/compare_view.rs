//! The comparison view: compare control types (one cell per ticked type, one seed) or an X/Y grid
//! of any two knobs; shows the cost before anything is sent, then fills the cells as results
//! arrive (status, image, or the error with a "Retry" that re-sends that one cell alone). All cells
//! share one zoom/pan ("look closely"); two cells can be compared with an A/B swipe; the grid can
//! be exported as one labelled PNG.
//!
//! The view does no I/O: it sends [`Command`]s and is fed [`Event`]s by the app.

use std::path::PathBuf;

use egui::{Align2, Color32, FontId, Role, Sense, Stroke, TextureHandle, WidgetInfo, vec2};

use super::gallery_panel::{PanelAction, fit_in, texture_from_rgba};
use super::zoom::{ZoomPan, split_rect, split_uv};
use crate::api::{CnType, GenParams};
use crate::gallery::export::GridCell;
use crate::jobs::grid::{self, Axis, AxisKind, GridPlan};
use crate::jobs::{ApiVersion, Command, Event, InputSource, JobId, next_job_id};

/// Which comparison is being set up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CompareMode {
    /// One cell per control type.
    #[default]
    Types,
    /// Any two knobs, rows × columns.
    Grid,
}

/// "4 requests ≈ $0.19": what `requests` requests making `images` images in all cost at
/// `per_image` each ("4 requests, 8 images ≈ $0.38" when a request asks for several samples).
pub fn cost_label(requests: usize, images: usize, per_image: f64) -> String {
    let s = |n: usize| if n == 1 { "" } else { "s" };
    let what = if images == requests {
        format!("{requests} request{}", s(requests))
    } else {
        format!(
            "{requests} request{}, {images} image{}",
            s(requests),
            s(images)
        )
    };
    format!("{what} ≈ ${:.2}", images as f64 * per_image)
}

/// Where one cell is.
#[derive(Clone)]
enum CellState {
    /// Sent; the status line from the last `Stage` event.
    Waiting(String),
    Done {
        texture: Option<TextureHandle>,
        path: PathBuf,
        seed: i64,
    },
    Failed {
        message: String,
        maybe_billed: bool,
    },
    Cancelled {
        maybe_billed: bool,
    },
}

struct Cell {
    job: JobId,
    state: CellState,
}

/// A comparison that was sent: its plan and one cell per planned job (row-major).
struct GridRun {
    group: u64,
    plan: GridPlan,
    cells: Vec<Cell>,
}

#[derive(Clone, PartialEq)]
struct PlanKey {
    mode: CompareMode,
    types: [bool; 4],
    x_kind: AxisKind,
    x_text: String,
    y_kind: Option<AxisKind>,
    y_text: String,
    base: GenParams,
    input: Option<InputSource>,
    api: ApiVersion,
}

#[derive(Default)]
struct Swipe {
    a: Option<usize>,
    b: Option<usize>,
    on: bool,
    /// Where the divider is, as a fraction of the image's width.
    split: f32,
    dragging_divider: bool,
}

/// The comparison view's state. Create once with [`CompareView::default`]; each frame feed it the
/// events ([`CompareView::handle_event`]) and draw it ([`CompareView::ui`]).
pub struct CompareView {
    mode: CompareMode,
    /// Ticked control types, in [`CnType::ALL`]'s order.
    types: [bool; 4],
    x_kind: AxisKind,
    x_text: String,
    y_kind: Option<AxisKind>,
    y_text: String,
    cost_per_image: f64,
    export_dir: Option<PathBuf>,
    cache: Option<(PlanKey, Result<GridPlan, String>)>,
    run: Option<GridRun>,
    zoom: ZoomPan,
    swipe: Swipe,
    exporting: bool,
    export_result: Option<Result<PathBuf, String>>,
}

impl Default for CompareView {
    fn default() -> Self {
        CompareView {
            mode: CompareMode::Types,
            types: [false; 4],
            x_kind: AxisKind::CnType,
            x_text: String::new(),
            y_kind: Some(AxisKind::CnStrength),
            y_text: String::new(),
            cost_per_image: crate::api::DEFAULT_COST_PER_IMAGE,
            export_dir: None,
            cache: None,
            run: None,
            zoom: ZoomPan::default(),
            swipe: Swipe {
                split: 0.5,
                ..Default::default()
            },
            exporting: false,
            export_result: None,
        }
    }
}

impl CompareView {
    /// The folder exported grids go to (`<folder>/grid-<group>.png`); the app sets it.
    pub fn set_export_dir(&mut self, dir: Option<PathBuf>) {
        self.export_dir = dir;
    }

    /// Switches between comparing control types and an X/Y grid.
    pub fn set_mode(&mut self, mode: CompareMode) {
        self.mode = mode;
    }

    pub fn mode(&self) -> CompareMode {
        self.mode
    }

    /// What one image is assumed to cost: the last cost the service reported, else the default.
    pub fn cost_per_image(&self) -> f64 {
        self.cost_per_image
    }

    /// The zoom/pan every cell is drawn with.
    pub fn zoom(&self) -> ZoomPan {
        self.zoom
    }

    /// Where the A/B swipe's divider is, as a fraction of the image's width (A left of it).
    pub fn swipe_split(&self) -> f32 {
        self.swipe.split
    }

    /// The job ids of the comparison on screen, row-major.
    pub fn job_ids(&self) -> Vec<JobId> {
        self.run
            .as_ref()
            .map(|r| r.cells.iter().map(|c| c.job).collect())
            .unwrap_or_default()
    }

    /// Takes in an event; `true` when it concerned this view (a job of the comparison on screen,
    /// or the export it asked for). Job events should still be offered to the other panels (the
    /// queue lists every job).
    pub fn handle_event(&mut self, ev: &Event, ctx: &egui::Context) -> bool {
        // The cost the service reports is the request's; a request may make several images.
        if let Event::Done {
            accounting, images, ..
        } = ev
            && let Some(c) = accounting.cost.filter(|c| c.is_finite() && *c > 0.0)
        {
            self.cost_per_image = c / images.len().max(1) as f64;
        }
        if let Event::Exported(result) = ev {
            if !self.exporting {
                return false;
            }
            self.exporting = false;
            self.export_result = Some(result.clone());
            ctx.request_repaint();
            return true;
        }
        let id = match ev {
            Event::Stage { id, .. }
            | Event::Done { id, .. }
            | Event::Failed { id, .. }
            | Event::Cancelled { id, .. } => *id,
            _ => return false,
        };
        let Some(cell) = self
            .run
            .as_mut()
            .and_then(|r| r.cells.iter_mut().find(|c| c.job == id))
        else {
            return false;
        };
        match ev {
            Event::Stage { stage, .. } => {
                if matches!(cell.state, CellState::Waiting(_)) {
                    cell.state = CellState::Waiting(stage.label());
                }
            }
            Event::Done { images, .. } => {
                cell.state = match images.first() {
                    Some(img) => CellState::Done {
                        texture: img
                            .preview
                            .as_ref()
                            .and_then(|p| texture_from_rgba(ctx, format!("cell-{id}"), p)),
                        path: img.path.clone(),
                        seed: img.seed,
                    },
                    None => CellState::Failed {
                        message: "the job finished without an image".into(),
                        maybe_billed: true,
                    },
                };
            }
            Event::Failed { failure, .. } => {
                cell.state = CellState::Failed {
                    message: failure.message.clone(),
                    maybe_billed: failure.maybe_billed,
                };
            }
            Event::Cancelled { maybe_billed, .. } => {
                cell.state = CellState::Cancelled {
                    maybe_billed: *maybe_billed,
                };
            }
            _ => {}
        }
        ctx.request_repaint();
        true
    }

    /// Draws the view. `base`, `input` and `api` are the app's current settings; every cell is
    /// `base` with the cell's values applied. Returns what the user asked for, if anything.
    pub fn ui(
        &mut self,
        ui: &mut egui::Ui,
        base: &GenParams,
        input: Option<&InputSource>,
        api: ApiVersion,
        send: &mut dyn FnMut(Command),
    ) -> Option<PanelAction> {
        ui.horizontal(|ui| {
            ui.selectable_value(&mut self.mode, CompareMode::Types, "Compare control types");
            ui.selectable_value(&mut self.mode, CompareMode::Grid, "X/Y grid");
        });
        match self.mode {
            CompareMode::Types => self.types_setup(ui),
            CompareMode::Grid => self.grid_setup(ui),
        }
        self.plan_and_send(ui, base, input, api, send);
        ui.separator();
        self.results(ui, send)
    }

    fn types_setup(&mut self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            for (i, t) in CnType::ALL.iter().enumerate() {
                if let Some(on) = self.types.get_mut(i) {
                    ui.checkbox(on, t.as_str());
                }
            }
        });
    }

    fn grid_setup(&mut self, ui: &mut egui::Ui) {
        egui::Grid::new("compare-axes")
            .num_columns(3)
            .show(ui, |ui| {
                let label = ui.label("Columns");
                egui::ComboBox::from_id_salt("compare-x-axis")
                    .selected_text(self.x_kind.name())
                    .show_ui(ui, |ui| {
                        for k in AxisKind::ALL {
                            ui.selectable_value(&mut self.x_kind, k, k.name());
                        }
                    })
                    .response
                    .labelled_by(label.id);
                ui.add(
                    egui::TextEdit::singleline(&mut self.x_text)
                        .hint_text(hint(self.x_kind))
                        .desired_width(260.0),
                )
                .accessible_name("Column values");
                ui.end_row();

                let label = ui.label("Rows");
                egui::ComboBox::from_id_salt("compare-y-axis")
                    .selected_text(self.y_kind.map_or("(none)", |k| k.name()))
                    .show_ui(ui, |ui| {
                        ui.selectable_value(&mut self.y_kind, None, "(none)");
                        for k in AxisKind::ALL {
                            ui.selectable_value(&mut self.y_kind, Some(k), k.name());
                        }
                    })
                    .response
                    .labelled_by(label.id);
                if let Some(k) = self.y_kind {
                    ui.add(
                        egui::TextEdit::singleline(&mut self.y_text)
                            .hint_text(hint(k))
                            .desired_width(260.0),
                    )
                    .accessible_name("Row values");
                }
                ui.end_row();
            });
    }

    /// What is still to be filled in before a plan can be made (not an error yet).
    fn missing_values(&self) -> Option<&'static str> {
        match self.mode {
            CompareMode::Types if !self.types.contains(&true) => {
                Some("Tick the control types to compare.")
            }
            CompareMode::Grid if self.x_text.trim().is_empty() => {
                Some("Enter the values for the columns.")
            }
            // Column values that do not parse are reported first.
            CompareMode::Grid
                if self.y_kind.is_some()
                    && self.y_text.trim().is_empty()
                    && Axis::parse(self.x_kind, &self.x_text).is_ok() =>
            {
                Some("Enter the values for the rows, or pick (none).")
            }
            _ => None,
        }
    }

    fn plan_key(&self, base: &GenParams, input: Option<&InputSource>, api: ApiVersion) -> PlanKey {
        PlanKey {
            mode: self.mode,
            types: self.types,
            x_kind: self.x_kind,
            x_text: self.x_text.clone(),
            y_kind: self.y_kind,
            y_text: self.y_text.clone(),
            base: base.clone(),
            input: input.cloned(),
            api,
        }
    }

    /// Plans the comparison (again only when a setting changed, so a random seed stays put until
    /// the plan is sent).
    fn plan(&mut self, base: &GenParams, input: Option<&InputSource>, api: ApiVersion) {
        let key = self.plan_key(base, input, api);
        if self.cache.as_ref().is_some_and(|(k, _)| *k == key) {
            return;
        }
        // Without an input image the plan is still made, for the cost and the errors; it cannot
        // be sent.
        let placeholder = InputSource::Url(String::new());
        let inp = input.unwrap_or(&placeholder);
        let group = next_job_id();
        let result = match self.mode {
            CompareMode::Types => {
                let types: Vec<CnType> = CnType::ALL
                    .iter()
                    .zip(self.types)
                    .filter(|(_, on)| *on)
                    .map(|(t, _)| *t)
                    .collect();
                grid::compare_types(base, inp, api, group, &types).map_err(|e| e.to_string())
            }
            CompareMode::Grid => (|| {
                let x = Axis::parse(self.x_kind, &self.x_text)?;
                let y = match self.y_kind {
                    Some(k) => Some(Axis::parse(k, &self.y_text)?),
                    None => None,
                };
                grid::plan(base, inp, api, group, x, y)
            })()
            .map_err(|e| e.to_string()),
        };
        self.cache = Some((key, result));
    }

    fn plan_and_send(
        &mut self,
        ui: &mut egui::Ui,
        base: &GenParams,
        input: Option<&InputSource>,
        api: ApiVersion,
        send: &mut dyn FnMut(Command),
    ) {
        if let Some(missing) = self.missing_values() {
            ui.weak(missing);
            return;
        }
        self.plan(base, input, api);
        let Some((_, result)) = &self.cache else {
            return;
        };
        let plan = match result {
            Ok(p) => p,
            Err(e) => {
                ui.colored_label(ui.visuals().error_fg_color, e);
                return;
            }
        };
        let n = plan.cost_requests();
        let mut go = false;
        ui.horizontal(|ui| {
            let images = plan
                .cells
                .iter()
                .map(|c| c.params.samples.max(1) as usize)
                .sum();
            ui.label(cost_label(n, images, self.cost_per_image))
                .on_hover_text("Each cell is one paid request; results are saved to the gallery.");
            let text = match self.mode {
                CompareMode::Types => "Compare".to_owned(),
                CompareMode::Grid => format!("Send {n} request{}", if n == 1 { "" } else { "s" }),
            };
            go = ui
                .add_enabled(input.is_some(), egui::Button::new(text))
                .clicked();
            if input.is_none() {
                ui.weak("Choose an input image first.");
            } else if base.seed == crate::api::params::RANDOM_SEED {
                ui.weak(format!("random seed: every cell uses {}", plan.seed));
            }
        });
        let running = self.run.as_ref().is_some_and(|r| {
            r.cells
                .iter()
                .any(|c| matches!(c.state, CellState::Waiting(_)))
        });
        if running {
            ui.weak(
                "The comparison below is still running: a new one takes its place here, \
                 and its results are still saved to the gallery.",
            );
        }
        if go && input.is_some() {
            let plan = plan.clone();
            self.start(plan, send);
        }
    }

    /// Sends one `Submit` per cell of a plan made elsewhere (e.g. "run this grid again" from a
    /// saved grid) and shows the comparison in place of the current one.
    pub fn send_plan(&mut self, plan: GridPlan, send: &mut dyn FnMut(Command)) {
        self.start(plan, send);
    }

    /// Sends one `Submit` per cell and shows the new comparison.
    fn start(&mut self, plan: GridPlan, send: &mut dyn FnMut(Command)) {
        let group = plan
            .cells
            .first()
            .and_then(|c| c.group.as_ref())
            .map_or(0, |g| g.group);
        let cells = plan
            .cells
            .iter()
            .map(|spec| {
                let id = next_job_id();
                send(Command::Submit {
                    id,
                    spec: spec.clone(),
                });
                Cell {
                    job: id,
                    state: CellState::Waiting("queued".into()),
                }
            })
            .collect();
        self.run = Some(GridRun { group, plan, cells });
        // A new plan (a new group, and a new seed if the seed is random) for the next comparison.
        self.cache = None;
        self.swipe = Swipe {
            split: 0.5,
            ..Default::default()
        };
        self.export_result = None;
        self.exporting = false;
    }

    fn results(&mut self, ui: &mut egui::Ui, send: &mut dyn FnMut(Command)) -> Option<PanelAction> {
        let run = self.run.as_ref()?;
        let done = run
            .cells
            .iter()
            .filter(|c| matches!(c.state, CellState::Done { .. }))
            .count();
        let failed = run
            .cells
            .iter()
            .filter(|c| {
                matches!(
                    c.state,
                    CellState::Failed { .. } | CellState::Cancelled { .. }
                )
            })
            .count();
        let waiting: Vec<JobId> = run
            .cells
            .iter()
            .filter(|c| matches!(c.state, CellState::Waiting(_)))
            .map(|c| c.job)
            .collect();
        let total = run.cells.len();
        let swipe_ready = self.swipe_pair().is_some();
        ui.horizontal_wrapped(|ui| {
            ui.label(format!(
                "{done} of {total} done{}",
                if failed > 0 {
                    format!(", {failed} failed")
                } else {
                    String::new()
                }
            ));
            if !waiting.is_empty()
                && ui
                    .button("Cancel remaining")
                    .on_hover_text("Stop the cells not finished yet (a request already out may still be billed)")
                    .clicked()
            {
                for id in &waiting {
                    send(Command::Cancel(*id));
                }
            }
            if ui
                .add_enabled(!self.zoom.is_fit(), egui::Button::new("Fit"))
                .on_hover_text("Show whole images (scroll over a cell to zoom, drag to pan)")
                .clicked()
            {
                self.zoom.fit();
            }
            ui.weak(format!("{:.0}%", self.zoom.zoom() * 100.0));
            ui.add_enabled_ui(swipe_ready, |ui| {
                ui.toggle_value(&mut self.swipe.on, "A/B swipe")
                    .on_hover_text("Pick A and B under two results, then drag the divider");
            });
            let can_export = done > 0 && self.export_dir.is_some() && !self.exporting;
            if ui
                .add_enabled(can_export, egui::Button::new("Export grid"))
                .on_hover_text("Write the comparison as one labelled PNG")
                .clicked()
            {
                self.export(send);
            }
        });
        self.export_status(ui, send);
        if self.swipe.on && swipe_ready {
            self.swipe_view(ui);
            None
        } else {
            self.cells(ui, send)
        }
    }

    fn export(&mut self, send: &mut dyn FnMut(Command)) {
        let (Some(run), Some(dir)) = (&self.run, &self.export_dir) else {
            return;
        };
        let cells = run
            .cells
            .iter()
            .zip(&run.plan.cells)
            .enumerate()
            .map(|(i, (c, spec))| {
                let (row, col) = spec
                    .group
                    .as_ref()
                    .map_or((i / run.plan.cols.max(1), i % run.plan.cols.max(1)), |g| {
                        (g.row, g.col)
                    });
                GridCell {
                    row,
                    col,
                    image: match &c.state {
                        CellState::Done { path, .. } => Some(path.clone()),
                        _ => None,
                    },
                }
            })
            .collect();
        send(Command::ExportGrid {
            plan: Box::new(run.plan.clone()),
            cells,
            out: dir.join(format!("grid-{}.png", run.group)),
        });
        self.exporting = true;
        self.export_result = None;
    }

    fn export_status(&mut self, ui: &mut egui::Ui, send: &mut dyn FnMut(Command)) {
        if self.exporting {
            ui.weak("Exporting the grid…");
        }
        match &self.export_result {
            Some(Ok(path)) => {
                ui.horizontal(|ui| {
                    ui.label(format!("Exported to {}", path.display()));
                    if ui.small_button("Open folder").clicked() {
                        send(Command::Reveal(path.clone()));
                    }
                });
            }
            Some(Err(e)) => {
                ui.colored_label(
                    ui.visuals().error_fg_color,
                    format!("Could not export the grid: {e}"),
                );
            }
            None => {}
        }
    }

    fn swipe_pair(&self) -> Option<(&TextureHandle, &TextureHandle)> {
        let run = self.run.as_ref()?;
        let tex = |i: Option<usize>| match i.and_then(|i| run.cells.get(i)).map(|c| &c.state) {
            Some(CellState::Done {
                texture: Some(t), ..
            }) => Some(t),
            _ => None,
        };
        Some((tex(self.swipe.a)?, tex(self.swipe.b)?))
    }

    fn cell_label(&self, i: usize) -> String {
        self.run
            .as_ref()
            .and_then(|r| r.plan.cells.get(i))
            .and_then(|s| s.group.as_ref())
            .map(|g| g.label.clone())
            .unwrap_or_default()
    }

    /// The aspect (height / width) of the cells: the first result's, else the requested size's.
    fn aspect(&self) -> f32 {
        let Some(run) = &self.run else { return 1.0 };
        let from_result = run.cells.iter().find_map(|c| match &c.state {
            CellState::Done {
                texture: Some(t), ..
            } => {
                let s = t.size_vec2();
                (s.x > 0.0).then(|| s.y / s.x)
            }
            _ => None,
        });
        from_result.unwrap_or_else(|| {
            let p = run.plan.cells.first().map(|c| &c.params);
            match p {
                Some(p) if !p.use_input_img_dimension && p.custom_width > 0 => {
                    p.custom_height as f32 / p.custom_width as f32
                }
                _ => 1.0,
            }
        })
    }

    fn swipe_view(&mut self, ui: &mut egui::Ui) {
        let Some((a, b)) = self.swipe_pair() else {
            return;
        };
        let (a_id, b_id, a_size) = (a.id(), b.id(), a.size_vec2());
        let label_a = self.swipe.a.map(|i| self.cell_label(i)).unwrap_or_default();
        let label_b = self.swipe.b.map(|i| self.cell_label(i)).unwrap_or_default();
        let avail = ui.available_size().max(vec2(64.0, 64.0));
        let (area, resp) = ui.allocate_exact_size(avail, Sense::click_and_drag());
        let rect = fit_in(area, a_size);
        resp.widget_info(|| {
            WidgetInfo::labeled(
                Role::Image,
                true,
                format!("A/B swipe: A {label_a}, B {label_b}"),
            )
        });
        // Where the press began decides what the drag moves: the divider, or the view.
        if resp.drag_started()
            && let Some(p) = ui
                .input(|i| i.pointer.press_origin())
                .or(resp.interact_pointer_pos())
        {
            let x = rect.min.x + rect.width() * self.swipe.split;
            self.swipe.dragging_divider = (p.x - x).abs() <= 12.0;
        }
        if resp.dragged() && self.swipe.dragging_divider {
            if let Some(p) = resp.interact_pointer_pos()
                && rect.width() > 0.0
            {
                self.swipe.split = ((p.x - rect.min.x) / rect.width()).clamp(0.0, 1.0);
            }
        } else {
            self.zoom.interact(ui, &resp, rect, true);
        }
        if resp.drag_stopped() {
            self.swipe.dragging_divider = false;
        }
        let (ra, rb) = split_rect(rect, self.swipe.split);
        let (ua, ub) = split_uv(self.zoom.uv_rect(), self.swipe.split);
        let painter = ui.painter_at(area);
        painter.image(a_id, ra, ua, Color32::WHITE);
        painter.image(b_id, rb, ub, Color32::WHITE);
        let x = ra.max.x;
        let stroke = Stroke::new(2.0, Color32::WHITE);
        painter.line_segment(
            [egui::pos2(x, rect.min.y), egui::pos2(x, rect.max.y)],
            stroke,
        );
        painter.circle_filled(egui::pos2(x, rect.center().y), 7.0, Color32::WHITE);
        let font = FontId::proportional(13.0);
        painter.text(
            rect.left_top() + vec2(6.0, 6.0),
            Align2::LEFT_TOP,
            format!("A: {label_a}"),
            font.clone(),
            Color32::WHITE,
        );
        painter.text(
            rect.right_top() + vec2(-6.0, 6.0),
            Align2::RIGHT_TOP,
            format!("B: {label_b}"),
            font,
            Color32::WHITE,
        );
        if resp.hovered() {
            let near = ui
                .input(|i| i.pointer.hover_pos())
                .is_some_and(|p| (p.x - x).abs() <= 12.0);
            if near || self.swipe.dragging_divider {
                ui.ctx().set_cursor_icon(egui::CursorIcon::ResizeHorizontal);
            }
        }
    }

    fn cells(&mut self, ui: &mut egui::Ui, send: &mut dyn FnMut(Command)) -> Option<PanelAction> {
        let aspect = self.aspect();
        let run = self.run.as_ref()?;
        let (rows, cols) = (run.plan.rows.max(1), run.plan.cols.max(1));
        let has_rows = run.plan.y.is_some();
        let spacing = ui.spacing().item_spacing;
        let row_label_w = if has_rows { 110.0 } else { 0.0 };
        let header_h = 18.0;
        let line_h = ui.spacing().interact_size.y;
        let avail = ui.available_size();
        let mut cell_w =
            ((avail.x - row_label_w - spacing.x * cols as f32) / cols as f32).max(48.0);
        let max_img_h =
            ((avail.y - header_h - spacing.y) / rows as f32 - line_h - 2.0 * spacing.y).max(48.0);
        let mut img_h = cell_w * aspect;
        if img_h > max_img_h {
            img_h = max_img_h;
            cell_w = (img_h / aspect.max(0.01)).max(48.0);
        }
        let col_labels: Vec<String> = (0..cols).map(|c| run.plan.col_label(c)).collect();
        let row_labels: Vec<String> = (0..rows).map(|r| run.plan.row_label(r)).collect();

        let mut action = None;
        let mut retry: Option<usize> = None;
        let mut pick: Option<(usize, bool)> = None;
        let mut zoom = self.zoom;
        // Many cells may not fit: scroll with the bars only, the wheel zooms the images.
        egui::ScrollArea::both()
            .auto_shrink([false, false])
            .scroll_source(egui::containers::scroll_area::ScrollSource {
                scroll_bar: true,
                drag: egui::containers::scroll_area::DragScroll::Never,
                mouse_wheel: false,
            })
            .show(ui, |ui| {
                ui.horizontal(|ui| {
                    if has_rows {
                        ui.add_space(row_label_w + spacing.x);
                    }
                    for l in &col_labels {
                        ui.add_sized(
                            [cell_w, header_h],
                            egui::Label::new(egui::RichText::new(l).strong()).truncate(),
                        );
                    }
                });
                for (r, row_label) in row_labels.iter().enumerate() {
                    ui.horizontal_top(|ui| {
                        if has_rows {
                            ui.add_sized(
                                [row_label_w, img_h],
                                egui::Label::new(egui::RichText::new(row_label).strong()).wrap(),
                            );
                        }
                        for c in 0..cols {
                            let i = r * cols + c;
                            let Some(cell) = run.cells.get(i) else {
                                continue;
                            };
                            let label = run
                                .plan
                                .cells
                                .get(i)
                                .and_then(|s| s.group.as_ref())
                                .map(|g| g.label.clone())
                                .unwrap_or_default();
                            let size = vec2(cell_w, img_h + line_h + spacing.y);
                            ui.push_id(("compare-cell", i), |ui| {
                                ui.allocate_ui_with_layout(
                                    size,
                                    egui::Layout::top_down(egui::Align::Min),
                                    |ui| {
                                        ui.set_min_size(size);
                                        ui.set_max_width(cell_w);
                                        let ev = cell_ui(
                                            ui,
                                            cell,
                                            &label,
                                            vec2(cell_w, img_h),
                                            &mut zoom,
                                            (self.swipe.a == Some(i), self.swipe.b == Some(i)),
                                        );
                                        match ev {
                                            Some(CellEvent::Retry) => retry = Some(i),
                                            Some(CellEvent::PickA) => pick = Some((i, true)),
                                            Some(CellEvent::PickB) => pick = Some((i, false)),
                                            Some(CellEvent::Use) => {
                                                if let (Some(spec), CellState::Done { seed, .. }) =
                                                    (run.plan.cells.get(i), &cell.state)
                                                {
                                                    action =
                                                        Some(PanelAction::UseSettings(GenParams {
                                                            seed: *seed,
                                                            ..spec.params.clone()
                                                        }));
                                                }
                                            }
                                            None => {}
                                        }
                                    },
                                );
                            });
                        }
                    });
                }
            });
        self.zoom = zoom;
        if let Some((i, is_a)) = pick {
            let slot = if is_a {
                &mut self.swipe.a
            } else {
                &mut self.swipe.b
            };
            *slot = if *slot == Some(i) { None } else { Some(i) };
        }
        if let Some(i) = retry {
            self.retry(i, send);
        }
        action
    }

    /// Re-sends one cell alone, under a new id.
    fn retry(&mut self, i: usize, send: &mut dyn FnMut(Command)) {
        let Some(run) = self.run.as_mut() else {
            return;
        };
        let (Some(cell), Some(spec)) = (run.cells.get_mut(i), run.plan.cells.get(i)) else {
            return;
        };
        let id = next_job_id();
        send(Command::Submit {
            id,
            spec: spec.clone(),
        });
        cell.job = id;
        cell.state = CellState::Waiting("queued".into());
    }
}

enum CellEvent {
    Retry,
    PickA,
    PickB,
    Use,
}

/// One cell: the image (or its status or error) and a line of buttons under it.
fn cell_ui(
    ui: &mut egui::Ui,
    cell: &Cell,
    label: &str,
    img: egui::Vec2,
    zoom: &mut ZoomPan,
    (is_a, is_b): (bool, bool),
) -> Option<CellEvent> {
    let mut ev = None;
    let visuals = ui.visuals().clone();
    match &cell.state {
        CellState::Done {
            texture: Some(tex),
            seed,
            ..
        } => {
            let (rect, resp) = ui.allocate_exact_size(img, Sense::click_and_drag());
            let image_rect = fit_in(rect, tex.size_vec2());
            resp.widget_info(|| WidgetInfo::labeled(Role::Image, true, format!("result: {label}")));
            zoom.interact(ui, &resp, image_rect, true);
            let painter = ui.painter_at(rect);
            painter.rect_filled(rect, 0.0, visuals.extreme_bg_color);
            painter.image(tex.id(), image_rect, zoom.uv_rect(), Color32::WHITE);
            let resp = resp.on_hover_text(format!("{label}\nseed {seed}"));
            if resp.dragged() {
                ui.ctx().set_cursor_icon(egui::CursorIcon::Grabbing);
            }
            ui.horizontal(|ui| {
                if ui
                    .selectable_label(is_a, "A")
                    .on_hover_text("Swipe: left image")
                    .clicked()
                {
                    ev = Some(CellEvent::PickA);
                }
                if ui
                    .selectable_label(is_b, "B")
                    .on_hover_text("Swipe: right image")
                    .clicked()
                {
                    ev = Some(CellEvent::PickB);
                }
                if ui
                    .small_button("Use")
                    .on_hover_text("Use these settings, with this seed")
                    .clicked()
                {
                    ev = Some(CellEvent::Use);
                }
            });
        }
        CellState::Done {
            texture: None,
            path,
            ..
        } => {
            status_box(ui, img, visuals.faint_bg_color, |ui| {
                ui.label("Saved (no preview)");
                ui.add(egui::Label::new(path.display().to_string()).truncate());
            });
        }
        CellState::Waiting(status) => {
            status_box(ui, img, visuals.faint_bg_color, |ui| {
                ui.weak(label);
                ui.label(status.as_str());
            });
        }
        CellState::Failed {
            message,
            maybe_billed,
        } => {
            status_box(ui, img, visuals.faint_bg_color, |ui| {
                ui.weak(label);
                ui.add(
                    egui::Label::new(
                        egui::RichText::new(crate::api::error::shorten(message, 240))
                            .color(visuals.error_fg_color),
                    )
                    .wrap(),
                )
                .on_hover_text(message);
                if *maybe_billed {
                    ui.weak("The request may have been billed; retry sends it again.");
                }
                if ui.button("Retry").clicked() {
                    ev = Some(CellEvent::Retry);
                }
            });
        }
        CellState::Cancelled { maybe_billed } => {
            status_box(ui, img, visuals.faint_bg_color, |ui| {
                ui.weak(label);
                ui.label("Cancelled");
                if *maybe_billed {
                    ui.weak("The request was already out and may have been billed.");
                }
                if ui.button("Retry").clicked() {
                    ev = Some(CellEvent::Retry);
                }
            });
        }
    }
    ev
}

/// A filled box of `size` with text content, for a cell without an image.
fn status_box(ui: &mut egui::Ui, size: egui::Vec2, fill: Color32, add: impl FnOnce(&mut egui::Ui)) {
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

/// The example shown in an empty values field.
fn hint(kind: AxisKind) -> &'static str {
    match kind {
        AxisKind::CnType => "pose,depth,canny,tile",
        AxisKind::CnStrength => "0.2:1.0:0.2  or  0.3,0.6,0.9",
        AxisKind::CnStop => "0.3,0.5,0.8",
        AxisKind::Guidance => "2:8:2",
        AxisKind::Steps => "20,30,40",
        AxisKind::Sampler => "euler,dpmpp_2m,heun",
        AxisKind::Scheduler => "simple,karras,beta",
        AxisKind::Seed => "1,2,3",
        AxisKind::Prompt => "a red car | a blue car",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cost_label_counts_requests_and_rounds_dollars() {
        assert_eq!(cost_label(4, 4, 0.048), "4 requests ≈ $0.19");
        assert_eq!(cost_label(1, 1, 0.05), "1 request ≈ $0.05");
        assert_eq!(cost_label(6, 6, 0.048), "6 requests ≈ $0.29");
        assert_eq!(cost_label(4, 8, 0.048), "4 requests, 8 images ≈ $0.38");
    }
}
