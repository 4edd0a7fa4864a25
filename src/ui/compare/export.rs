//! Exporting the comparison as one labelled PNG, and the export's status ("Exporting…", "Exported
//! to …" with "Open folder", or the error). These are the comparison's only one-off requests
//! (export, reveal): they are [`Services`] calls whose replies are polled here, so nothing else in
//! the view knows how they travel.

use std::path::PathBuf;
use std::sync::Arc;

use egui::Ui;

use super::state::{CellState, GridRun};
use crate::jobs::export::GridCell;
use crate::jobs::services::{self, Pending, Poll};
use crate::jobs::{ServiceError, Services};

/// The export's state: where grids go, the request in flight and the last answer.
#[derive(Default)]
pub(super) struct Export {
    /// The folder the Save dialog opens in (and grids go to without a dialog).
    pub dir: Option<PathBuf>,
    /// The "Save as" dialog; without one (tests) the grid goes straight to `dir`.
    pub dialog: Option<Arc<dyn crate::ui::picker::SaveDialog>>,
    /// The dialog's answer, until it comes, with the run it is for.
    choosing: Option<(Pending<Option<PathBuf>>, Box<GridRun>)>,
    services: Option<Services>,
    exporting: Option<Pending<Result<PathBuf, ServiceError>>>,
    revealing: Option<Pending<Result<(), ServiceError>>>,
    /// The last export's answer: where the grid went, or why it did not.
    result: Option<Result<PathBuf, String>>,
    /// Why the folder could not be opened.
    reveal_error: Option<String>,
}

/// A name that says what the grid is: `grid-20261130-1402-cn_type-by-cn_strength.png`.
pub(super) fn readable_name(run: &GridRun) -> String {
    let stamp = crate::types::rfc3339_seconds(std::time::SystemTime::now());
    let stamp: String = stamp
        .chars()
        .filter(|c| c.is_ascii_digit() || *c == 'T')
        .take(13)
        .map(|c| if c == 'T' { '-' } else { c })
        .collect();
    let x = run.plan.x.kind.wire();
    match &run.plan.y {
        Some(y) => format!("grid-{stamp}-{x}-by-{}.png", y.kind.wire()),
        None => format!("grid-{stamp}-{x}.png"),
    }
}

/// The cells of `run` as the export wants them: where each is and the saved image, if any.
pub(super) fn grid_cells(run: &GridRun) -> Vec<GridCell> {
    let cols = run.plan.cols.max(1);
    run.cells
        .iter()
        .zip(&run.plan.cells)
        .enumerate()
        .map(|(i, (c, spec))| {
            let (row, col) = spec
                .group
                .as_ref()
                .map_or((i / cols, i % cols), |g| (g.row, g.col));
            GridCell {
                row,
                col,
                image: match &c.state {
                    CellState::Done { path, .. } => Some(path.clone()),
                    _ => None,
                },
            }
        })
        .collect()
}

impl Export {
    /// Where the requests go; without services nothing can be exported.
    pub fn set_services(&mut self, services: Services) {
        self.services = Some(services);
    }

    /// Forgets the last export (a new comparison was sent). An export in flight still finishes;
    /// its answer is no longer shown.
    pub fn reset(&mut self) {
        self.exporting = None;
        self.result = None;
        self.reveal_error = None;
    }

    /// Takes in the answers that arrived; `true` when one did.
    pub fn poll(&mut self) -> bool {
        let mut changed = self.poll_dialog();
        if let Some(answer) = services::take(&mut self.exporting) {
            self.result = Some(match answer {
                Some(r) => r.map_err(|e| e.to_string()),
                None => Err("the export was cut short".into()),
            });
            changed = true;
        }
        if let Some(answer) = services::take(&mut self.revealing) {
            self.reveal_error = match answer {
                Some(Ok(())) => None,
                Some(Err(e)) => Some(e.to_string()),
                None => Some("the request was cut short".into()),
            };
            changed = true;
        }
        changed
    }

    /// The "Export grid" button (enabled once a cell has a result).
    pub fn button(&mut self, ui: &mut Ui, run: &GridRun, any_done: bool) {
        let can = any_done
            && self.dir.is_some()
            && self.services.is_some()
            && self.exporting.is_none()
            && self.choosing.is_none();
        if ui
            .add_enabled(can, egui::Button::new("Export grid…"))
            .on_hover_text("Write the comparison as one labelled PNG (you choose where)")
            .clicked()
        {
            self.start(ui.ctx(), run);
        }
    }

    /// Asks where to save (the Save dialog, with a readable name suggested), or saves to the
    /// folder at once when there is no dialog.
    fn start(&mut self, ctx: &egui::Context, run: &GridRun) {
        let Some(dir) = self.dir.clone() else {
            return;
        };
        let name = readable_name(run);
        match &self.dialog {
            Some(dialog) => {
                let ctx = ctx.clone();
                let choosing = dialog.save_png(dir, name, Box::new(move || ctx.request_repaint()));
                self.choosing = Some((choosing, Box::new(run.clone())));
            }
            None => self.export_to(run, dir.join(name)),
        }
    }

    fn export_to(&mut self, run: &GridRun, out: PathBuf) {
        let Some(services) = &self.services else {
            return;
        };
        self.exporting = Some(services.export_grid(run.plan.clone(), grid_cells(run), out));
        self.result = None;
    }

    /// Takes the Save dialog's answer: a path starts the export, a cancel does nothing.
    fn poll_dialog(&mut self) -> bool {
        let Some((pending, _)) = &mut self.choosing else {
            return false;
        };
        let answer = match pending.poll() {
            Poll::Ready(a) => a,
            Poll::Waiting => return false,
            // The dialog's thread ended without an answer: as a cancel.
            Poll::Lost => None,
        };
        if let (Some(mut path), Some((_, run))) = (answer, self.choosing.take()) {
            if path.extension().is_none() {
                path.set_extension("png");
            }
            self.export_to(&run, path);
        }
        self.choosing = None;
        true
    }

    /// The export's status line, if there is one.
    pub fn status(&mut self, ui: &mut Ui) {
        if self.exporting.is_some() {
            ui.weak("Exporting the grid…");
        }
        match &self.result {
            Some(Ok(path)) => {
                let path = path.clone();
                ui.horizontal(|ui| {
                    ui.label(format!("Exported to {}", path.display()));
                    if ui.small_button("Open folder").clicked()
                        && let Some(s) = &self.services
                    {
                        self.reveal_error = None;
                        self.revealing = Some(s.reveal(path));
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
        if let Some(e) = &self.reveal_error {
            ui.colored_label(
                ui.visuals().error_fg_color,
                format!("Could not open the folder: {e}"),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::GenParams;
    use crate::jobs::grid::compare_types;
    use crate::jobs::services::Request;
    use crate::jobs::{ApiVersion, InputSource};
    use crate::ui::compare::state::Cell;

    fn run() -> GridRun {
        let input = InputSource::Url("https://example.com/a.jpg".into());
        let types = [crate::api::CnType::ALL[0], crate::api::CnType::ALL[1]];
        let base = GenParams {
            prompt: "a fox".into(),
            ..Default::default()
        };
        let plan = compare_types(&base, &input, ApiVersion::V1, 7, &types)
            .unwrap_or_else(|e| panic!("{e}"));
        let waiting = CellState::Waiting("queued".into());
        let path = PathBuf::from("/g/b.jpg");
        let done = CellState::Done { path, seed: 3 };
        let cells = vec![
            Cell {
                job: 1,
                state: waiting,
            },
            Cell {
                job: 2,
                state: done,
            },
        ];
        GridRun {
            group: 7,
            plan,
            cells,
            saved: false,
        }
    }

    #[test]
    fn the_cells_carry_their_place_and_saved_image() {
        let cells = grid_cells(&run());
        let at = |col, image: Option<&str>| GridCell {
            row: 0,
            col,
            image: image.map(PathBuf::from),
        };
        assert_eq!(cells, vec![at(0, None), at(1, Some("/g/b.jpg"))]);
    }

    #[test]
    fn an_export_is_asked_once_and_its_answer_kept() {
        let dir = Some(PathBuf::from("/tmp/exports"));
        let mut e = Export {
            dir,
            ..Default::default()
        };
        e.start(&egui::Context::default(), &run());
        assert!(e.exporting.is_none(), "no services, no request");
        let (services, inbox) = Services::manual();
        e.set_services(services);
        e.start(&egui::Context::default(), &run());
        assert!(!e.poll(), "not answered yet");
        let Ok(Request::ExportGrid {
            cells, out, reply, ..
        }) = inbox.try_recv()
        else {
            panic!("an export request");
        };
        assert_eq!(cells.len(), 2);
        assert_eq!(out.parent(), Some(std::path::Path::new("/tmp/exports")));
        let name = out.file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            name.starts_with("grid-") && name.ends_with(".png"),
            "{name}"
        );
        let _ = reply.send(Ok(out.clone()));
        assert!(e.poll());
        assert_eq!(e.result, Some(Ok(out)));
        assert!(!e.poll());
        e.reset();
        assert_eq!(e.result, None);
        // A request the services dropped is an error, not a wait forever.
        e.start(&egui::Context::default(), &run());
        drop(inbox.try_recv());
        assert!(e.poll());
        assert!(matches!(&e.result, Some(Err(m)) if m.contains("cut short")));
    }
}
