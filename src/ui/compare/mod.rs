//! The comparison view: compare control types (one cell per ticked type, one seed) or an X/Y grid
//! of any two knobs; shows the cost before anything is sent, then fills the cells as results
//! arrive (status, image, or the error with a "Retry" that re-sends that one cell alone). All cells
//! share one zoom/pan ("look closely"); two cells can be compared with an A/B swipe; the grid can
//! be exported as one labelled PNG. Saved results (e.g. picked in the gallery) can be shown the
//! same way, labelled with what differs between them ([`CompareView::show_saved`], `saved.rs`).
//!
//! The view does no I/O: it sends job [`Command`]s and is fed job [`Event`]s by the app; its
//! one-off requests (export, reveal) are [`Services`] calls, all kept in `export.rs`.
//! [`plan`] and [`state`] hold the plain data and its rules; `setup.rs`, `cells.rs`, `swipe.rs` and
//! `export.rs` draw.

mod cells;
mod export;
pub mod plan;
pub mod saved;
mod setup;
pub mod state;
pub(crate) mod swipe;

use std::path::PathBuf;

use egui::TextureHandle;

use super::gallery_panel::{PanelAction, texture_from_rgba};
use super::zoom::ZoomPan;
use crate::api::GenParams;
use crate::jobs::grid::GridPlan;
use crate::jobs::{ApiVersion, Command, Event, InputSource, JobId, Services};
use cells::CellEvent;
use state::{CellChange, CompareState};
pub use state::{CompareMode, cost_label};
use swipe::Swipe;

/// The comparison view's state. Create once with [`CompareView::default`]; each frame feed it the
/// events ([`CompareView::handle_event`]) and draw it ([`CompareView::ui`]).
#[derive(Default)]
pub struct CompareView {
    state: CompareState,
    /// One texture per cell of the comparison on screen (row-major): its result's, once in.
    textures: Vec<Option<TextureHandle>>,
    zoom: ZoomPan,
    swipe: Swipe,
    export: export::Export,
    /// Ctrl+Enter on this tab: send the planned comparison on the next frame, as its button would.
    send_requested: bool,
    /// The saved results on screen (`show_saved`): their files' replies, and their settings.
    saved: Option<saved::Loading>,
    /// How many saved results were asked for beyond [`saved::MAX_SAVED`] (not shown).
    saved_left_out: usize,
    /// Why the last click sent nothing (the whole comparison refused, e.g. by the daily budget):
    /// said once, in place of the cells.
    refusal: Option<String>,
}

impl CompareView {
    /// The folder exported grids go to (`<folder>/grid-<group>.png`); the app sets it.
    pub fn set_export_dir(&mut self, dir: Option<PathBuf>) {
        self.export.dir = dir;
    }

    /// Where the view's one-off requests (export, reveal) go; the app sets it once. Without it
    /// the grid cannot be exported.
    pub fn set_services(&mut self, services: Services) {
        self.export.set_services(services);
    }

    /// The "Save as" dialog the grid export asks where to write (without one, grids go straight
    /// to the export folder under a readable name).
    pub fn set_save_dialog(&mut self, dialog: std::sync::Arc<dyn crate::ui::picker::SaveDialog>) {
        self.export.dialog = Some(dialog);
    }

    /// Sends the comparison as planned on the next frame, as a click on its button would (the
    /// app's Ctrl+Enter while this tab shows). Nothing is sent when the plan is not ready.
    pub fn request_send(&mut self) {
        self.send_requested = true;
    }

    /// Shows saved results (image files, e.g. picked in the gallery) side by side in place of the
    /// comparison on screen: one column each, in this order (at most [`saved::MAX_SAVED`]),
    /// labelled with the settings that differ between them. Their settings and pixels are read
    /// through `services`, off the UI thread; nothing is sent to the service.
    pub fn show_saved(&mut self, mut paths: Vec<std::path::PathBuf>, services: &Services) {
        self.saved_left_out = paths.len().saturating_sub(saved::MAX_SAVED);
        paths.truncate(saved::MAX_SAVED);
        self.state.show(saved::saved_run(&paths));
        self.textures = vec![None; paths.len()];
        self.swipe = Swipe::default();
        self.zoom.fit();
        self.export.reset();
        self.saved = Some(saved::Loading::start(paths, services));
    }

    /// Takes in what arrived for the saved results on screen: settings (labels) and pixels.
    fn poll_saved(&mut self, ctx: &egui::Context) {
        let (Some(loading), Some(run)) = (&mut self.saved, self.state.run_mut()) else {
            return;
        };
        for (i, image) in loading.poll(run) {
            if let Some(slot) = self.textures.get_mut(i) {
                *slot = image.and_then(|p| texture_from_rgba(ctx, format!("saved-{i}"), &p));
            }
            ctx.request_repaint();
        }
    }

    /// Switches between comparing control types and an X/Y grid.
    pub fn set_mode(&mut self, mode: CompareMode) {
        self.state.planner.setup.mode = mode;
    }

    pub fn mode(&self) -> CompareMode {
        self.state.planner.setup.mode
    }

    /// What one image is assumed to cost: the last cost the service reported, else the default.
    pub fn cost_per_image(&self) -> f64 {
        self.state.cost_per_image()
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
        self.state.job_ids()
    }

    /// Takes in a job event; `true` when it concerned a job of the comparison on screen. Job
    /// events should still be offered to the other panels (the queue lists every job).
    pub fn handle_event(&mut self, ev: &Event, ctx: &egui::Context) -> bool {
        let Some(change) = self.state.apply(ev) else {
            return false;
        };
        if let CellChange::Image { cell, preview } = change
            && let Some(slot) = self.textures.get_mut(cell)
        {
            *slot = preview.and_then(|p| texture_from_rgba(ctx, format!("cell-{cell}"), p));
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
        self.export.poll();
        self.poll_saved(ui.ctx());
        let requested = std::mem::take(&mut self.send_requested);
        if let Some(plan) = setup::ui(ui, &mut self.state, base, input, api, requested) {
            self.start(plan, send);
        }
        ui.separator();
        self.results(ui, send)
    }

    /// Sends one `Submit` per cell of a plan made elsewhere (e.g. "run this grid again" from a
    /// saved grid) and shows the comparison in place of the current one.
    pub fn send_plan(&mut self, plan: GridPlan, send: &mut dyn FnMut(Command)) {
        self.start(plan, send);
    }

    /// Sends one `Submit` per cell and shows the new comparison.
    /// The comparison just sent was refused whole before anything went out: its cells are
    /// dropped and `why` is said once, where they would have been.
    pub fn refused(&mut self, why: &str) {
        self.state.drop_run();
        self.textures.clear();
        self.refusal = Some(why.to_owned());
    }

    fn start(&mut self, plan: GridPlan, send: &mut dyn FnMut(Command)) {
        self.refusal = None;
        // New content starts fitted, whatever the last grid was zoomed to.
        self.zoom.fit();
        for c in self.state.start(plan) {
            send(c);
        }
        self.textures = vec![None; self.state.job_ids().len()];
        self.swipe = Swipe::default();
        self.export.reset();
        self.saved = None;
        self.saved_left_out = 0;
    }

    /// The comparison on screen: a toolbar, the export's status, then the cells or the swipe.
    fn results(&mut self, ui: &mut egui::Ui, send: &mut dyn FnMut(Command)) -> Option<PanelAction> {
        if let Some(why) = &self.refusal {
            crate::ui::widgets::error_line(ui, &format!("Nothing was sent. {why}"));
        }
        self.toolbar(ui, send);
        self.export.status(ui);
        let run = self.state.run()?;
        if self.swipe.on
            && let Some(pair) = self.swipe.pair(&self.textures)
        {
            let labels = (
                self.swipe.a.map(|i| run.label(i)).unwrap_or_default(),
                self.swipe.b.map(|i| run.label(i)).unwrap_or_default(),
            );
            self.swipe
                .ui(ui, pair, (&labels.0, &labels.1), &mut self.zoom);
            return None;
        }
        match cells::grid(ui, run, &self.textures, &mut self.zoom, &self.swipe)? {
            CellEvent::Retry(i) => {
                if let Some(c) = self.state.retry(i) {
                    send(c);
                    if let Some(slot) = self.textures.get_mut(i) {
                        *slot = None;
                    }
                }
                None
            }
            CellEvent::Pick(i, is_a) => {
                self.swipe.pick(i, is_a);
                None
            }
            // A saved result whose settings could not be read has nothing to use.
            CellEvent::Use(i) if self.saved.as_ref().is_some_and(|l| !l.has_settings(i)) => None,
            CellEvent::Use(i) => run.settings_of(i).map(PanelAction::UseSettings),
        }
    }

    /// Progress, "Cancel remaining", Fit and the zoom, the swipe toggle and "Export grid".
    fn toolbar(&mut self, ui: &mut egui::Ui, send: &mut dyn FnMut(Command)) {
        let Some(run) = self.state.run() else {
            return;
        };
        let progress = run.progress();
        let swipe_ready = self.swipe.pair(&self.textures).is_some();
        ui.horizontal_wrapped(|ui| {
            let failed = if progress.failed > 0 {
                format!(", {} failed", progress.failed)
            } else {
                String::new()
            };
            if run.saved {
                let more = match self.saved_left_out {
                    0 => String::new(),
                    n => format!(" (the first {}; {n} more not shown)", saved::MAX_SAVED),
                };
                ui.label(format!("{} saved results{more}", progress.total));
            } else {
                ui.label(format!(
                    "{} of {} done{failed}",
                    progress.done, progress.total
                ));
            }
            // Kept in place (greyed out) once every cell is in: the toolbar never jumps.
            if !run.saved
                && ui
                    .add_enabled(!run.waiting().is_empty(), egui::Button::new("Cancel remaining"))
                    .on_hover_text("Stop the cells not finished yet (a request already out may still be billed)")
                    .on_disabled_hover_text("Every cell is in")
                    .clicked()
            {
                for c in self.state.cancel_remaining() {
                    send(c);
                }
            }
            if ui
                .add_enabled(!self.zoom.is_fit(), egui::Button::new("Fit"))
                .on_hover_text("Show whole images (scroll over a cell to zoom, drag to pan)")
                .clicked()
            {
                self.zoom.fit();
            }
            // Fitted is said so (a "100%" there read as pixels, which it is not); zoomed, how far.
            ui.weak(if self.zoom.is_fit() {
                "fitted".to_owned()
            } else {
                format!("×{:.1} of fitted", self.zoom.zoom())
            });
            // A button of the wrapped row itself (a child Ui at a line's end got the width left
            // there, and wrapped the text a letter a line).
            if ui
                .add_enabled(
                    swipe_ready,
                    egui::Button::selectable(self.swipe.on, "A/B swipe"),
                )
                .on_hover_text("Pick A and B under two results, then drag the divider")
                .clicked()
            {
                self.swipe.on = !self.swipe.on;
            }
            self.export.button(ui, run, progress.done > 0);
        });
    }
}
