//! Exporting the comparison as one labelled PNG, and the export's status ("Exporting…", "Exported
//! to …" with "Open folder", or the error). These are the comparison's only one-off requests
//! (export, reveal): they are [`Services`] calls whose replies are polled here, so nothing else in
//! the view knows how they travel.

use std::path::PathBuf;

use egui::Ui;

use super::state::{CellState, GridRun};
use crate::jobs::export::GridCell;
use crate::jobs::services::{self, Pending};
use crate::jobs::{ServiceError, Services};

/// The export's state: where grids go, the request in flight and the last answer.
#[derive(Default)]
pub(super) struct Export {
    /// The folder exported grids go to (`<folder>/grid-<group>.png`).
    pub dir: Option<PathBuf>,
    services: Option<Services>,
    exporting: Option<Pending<Result<PathBuf, ServiceError>>>,
    revealing: Option<Pending<Result<(), ServiceError>>>,
    /// The last export's answer: where the grid went, or why it did not.
    result: Option<Result<PathBuf, String>>,
    /// Why the folder could not be opened.
    reveal_error: Option<String>,
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
        let mut changed = false;
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
        let can =
            any_done && self.dir.is_some() && self.services.is_some() && self.exporting.is_none();
        if ui
            .add_enabled(can, egui::Button::new("Export grid"))
            .on_hover_text("Write the comparison as one labelled PNG")
            .clicked()
        {
            self.start(run);
        }
    }

    fn start(&mut self, run: &GridRun) {
        let (Some(services), Some(dir)) = (&self.services, &self.dir) else {
            return;
        };
        let out = dir.join(format!("grid-{}.png", run.group));
        self.exporting = Some(services.export_grid(run.plan.clone(), grid_cells(run), out));
        self.result = None;
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
        e.start(&run());
        assert!(e.exporting.is_none(), "no services, no request");
        let (services, inbox) = Services::manual();
        e.set_services(services);
        e.start(&run());
        assert!(!e.poll(), "not answered yet");
        let Ok(Request::ExportGrid {
            cells, out, reply, ..
        }) = inbox.try_recv()
        else {
            panic!("an export request");
        };
        assert_eq!(
            (cells.len(), &out),
            (2, &PathBuf::from("/tmp/exports/grid-7.png"))
        );
        let _ = reply.send(Ok(out.clone()));
        assert!(e.poll());
        assert_eq!(e.result, Some(Ok(out)));
        assert!(!e.poll());
        e.reset();
        assert_eq!(e.result, None);
        // A request the services dropped is an error, not a wait forever.
        e.start(&run());
        drop(inbox.try_recv());
        assert!(e.poll());
        assert!(matches!(&e.result, Some(Err(m)) if m.contains("cut short")));
    }
}
