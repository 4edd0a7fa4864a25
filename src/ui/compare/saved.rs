//! Saved results shown side by side (e.g. images picked in the gallery): one column each, in the
//! order given, each labelled with the settings that differ between them (`steps: 30 · seed: 7`,
//! and the words of its prompt the others do not all have). They become a [`GridRun`] marked
//! `saved`, so they get the comparison's one zoom, its A/B swipe, "Use" and the export; nothing is
//! sent for them, and nothing ever is (no retry, nothing to cancel).
//!
//! Each file's settings ([`Services::read_result`]) and pixels ([`Services::load_input`]: decoded,
//! oriented and downscaled for the screen) are read off the UI thread; [`Loading`] keeps the replies
//! and moves each cell from "reading" to done as they arrive.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;

use super::state::{Cell, CellState, GridRun};
use crate::api::GenParams;
use crate::api::fields::{self, Field};
use crate::jobs::grid::{Axis, AxisKind, AxisValue, GridPlan};
use crate::jobs::services::{Pending, Poll, Restored};
use crate::jobs::{ApiVersion, GroupTag, InputPreview, InputSource, JobSpec, ServiceError};
use crate::jobs::{Services, next_job_id};

/// The most saved results shown at once (one row; each holds a screen-sized texture).
pub const MAX_SAVED: usize = 12;
/// The longest a label's prompt words run.
const PROMPT_CHARS: usize = 40;

/// One label per result: the fields whose values are not the same in every known result (as the
/// details show them, in their order), then, when the prompts differ, the words of this prompt
/// that not every other has (or the whole prompt when it has none of its own). A result whose
/// settings are unknown, or that differs in nothing, is labelled with its name.
pub fn labels(settings: &[Option<&GenParams>], names: &[String]) -> Vec<String> {
    let rows: Vec<Option<Vec<(Field, String)>>> =
        settings.iter().map(|p| p.map(fields::display)).collect();
    let known: Vec<&Vec<(Field, String)>> = rows.iter().flatten().collect();
    let differing: Vec<Field> = known
        .first()
        .map(|first| {
            first
                .iter()
                .enumerate()
                .filter(|(j, (f, v))| {
                    *f != Field::Prompt
                        && known
                            .iter()
                            .any(|other| other.get(*j).map(|(_, w)| w) != Some(v))
                })
                .map(|(_, (f, _))| *f)
                .collect()
        })
        .unwrap_or_default();
    let prompts: Vec<&str> = settings
        .iter()
        .flatten()
        .map(|p| p.prompt.as_str())
        .collect();
    let prompts_differ = prompts.windows(2).any(|w| w[0] != w[1]);
    let common = common_words(&prompts);
    settings
        .iter()
        .zip(&rows)
        .enumerate()
        .map(|(i, (p, r))| {
            let name = names
                .get(i)
                .cloned()
                .unwrap_or_else(|| format!("#{}", i + 1));
            let (Some(p), Some(r)) = (p, r) else {
                return name;
            };
            let mut parts: Vec<String> = r
                .iter()
                .filter(|(f, _)| differing.contains(f))
                .map(|(f, v)| format!("{}: {v}", f.label()))
                .collect();
            if prompts_differ {
                parts.push(prompt_part(&p.prompt, &common));
            }
            if parts.is_empty() {
                name
            } else {
                parts.join(" · ")
            }
        })
        .collect()
}

/// The words every prompt has.
fn common_words<'a>(prompts: &[&'a str]) -> HashSet<&'a str> {
    let mut sets = prompts
        .iter()
        .map(|p| p.split_whitespace().collect::<HashSet<&str>>());
    let first = sets.next().unwrap_or_default();
    sets.fold(first, |acc, s| acc.intersection(&s).copied().collect())
}

/// `prompt: at night`: the prompt's words not in `common`, or the whole prompt when all are.
fn prompt_part(prompt: &str, common: &HashSet<&str>) -> String {
    let own: Vec<&str> = prompt
        .split_whitespace()
        .filter(|w| !common.contains(w))
        .collect();
    let text = if own.is_empty() {
        prompt.to_owned()
    } else {
        own.join(" ")
    };
    format!(
        "prompt: {}",
        crate::api::error::shorten(&text, PROMPT_CHARS)
    )
}

/// The file name of `path`, as a result's label until its settings are known.
fn name_of(path: &std::path::Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

/// The comparison of `paths` (at most [`MAX_SAVED`]) before anything is read: one row, each
/// cell reading its file, labelled with its name.
pub(super) fn saved_run(paths: &[PathBuf]) -> GridRun {
    let names: Vec<String> = paths.iter().map(|p| name_of(p)).collect();
    let cells = names
        .iter()
        .enumerate()
        .map(|(col, label)| JobSpec {
            input: InputSource::Url(String::new()),
            params: GenParams::default(),
            api: ApiVersion::V1,
            group: Some(GroupTag {
                group: 0,
                row: 0,
                col,
                label: label.clone(),
            }),
            prompt_template: None,
            batch: None,
            framing: Default::default(),
        })
        .collect();
    let plan = GridPlan {
        x: Axis {
            kind: AxisKind::Prompt,
            values: names.iter().cloned().map(AxisValue::text).collect(),
        },
        y: None,
        rows: 1,
        cols: paths.len(),
        seed: 0,
        cells,
        duplicates: Vec::new(),
    };
    GridRun {
        group: 0,
        plan,
        cells: paths
            .iter()
            .map(|_| Cell {
                job: next_job_id(),
                state: CellState::Waiting("reading the file".into()),
            })
            .collect(),
        saved: true,
    }
}

/// The replies awaited for saved results, and their settings once known.
pub(super) struct Loading {
    paths: Vec<PathBuf>,
    /// Each result's settings (the seed it was made with as its seed), once read.
    settings: Vec<Option<GenParams>>,
    reading: Vec<Option<Pending<Result<Restored, ServiceError>>>>,
    decoding: Vec<Option<Pending<Result<InputPreview, ServiceError>>>>,
}

impl Loading {
    /// Asks for each file's settings and pixels.
    pub(super) fn start(paths: Vec<PathBuf>, services: &Services) -> Loading {
        let reading = paths
            .iter()
            .map(|p| Some(services.read_result(p.clone())))
            .collect();
        let decoding = paths
            .iter()
            .map(|p| Some(services.load_input(InputSource::File(p.clone()))))
            .collect();
        Loading {
            settings: vec![None; paths.len()],
            paths,
            reading,
            decoding,
        }
    }

    /// Whether result `i`'s settings are known (its "Use" has something to use).
    pub(super) fn has_settings(&self, i: usize) -> bool {
        self.settings.get(i).is_some_and(Option::is_some)
    }

    /// Takes the replies that arrived into `run` (settings: its labels and cells; pixels: the
    /// cell is done); returns the pixels that arrived (`None`: none could be read), by cell.
    pub(super) fn poll(
        &mut self,
        run: &mut GridRun,
    ) -> Vec<(usize, Option<Arc<image::RgbaImage>>)> {
        let mut relabel = false;
        for (i, slot) in self.reading.iter_mut().enumerate() {
            let Some(answer) = take(slot) else {
                continue;
            };
            relabel = true;
            match answer {
                Ok(r) => self.settings[i] = Some(r.params),
                Err(e) => {
                    tracing::warn!(path = %self.paths[i].display(), error = %e, "no settings")
                }
            }
        }
        if relabel {
            self.relabel(run);
        }
        let mut pixels = Vec::new();
        for (i, slot) in self.decoding.iter_mut().enumerate() {
            let Some(answer) = take(slot) else {
                continue;
            };
            let image = match answer {
                Ok(p) => Some(p.image),
                Err(e) => {
                    tracing::warn!(path = %self.paths[i].display(), error = %e, "no preview");
                    None
                }
            };
            if let Some(cell) = run.cells.get_mut(i) {
                cell.state = CellState::Done {
                    path: self.paths[i].clone(),
                    seed: self.settings[i].as_ref().map_or(0, |p| p.seed),
                };
            }
            pixels.push((i, image));
        }
        pixels
    }

    /// Writes the known settings into `run`: each cell's settings and seed, and every label.
    fn relabel(&self, run: &mut GridRun) {
        let names: Vec<String> = self.paths.iter().map(|p| name_of(p)).collect();
        let known: Vec<Option<&GenParams>> = self.settings.iter().map(Option::as_ref).collect();
        let labels = labels(&known, &names);
        for (i, label) in labels.into_iter().enumerate() {
            if let Some(spec) = run.plan.cells.get_mut(i) {
                if let Some(p) = &self.settings[i] {
                    spec.params = p.clone();
                }
                if let Some(g) = &mut spec.group {
                    g.label = label.clone();
                }
            }
            if let (Some(p), Some(cell)) = (&self.settings[i], run.cells.get_mut(i))
                && let CellState::Done { seed, .. } = &mut cell.state
            {
                *seed = p.seed;
            }
            if let Some(v) = run.plan.x.values.get_mut(i) {
                *v = AxisValue::text(label);
            }
        }
    }
}

/// The answer in `slot`, once it came (a stopped worker counts as an error); the slot is emptied.
fn take<T>(slot: &mut Option<Pending<Result<T, ServiceError>>>) -> Option<Result<T, String>> {
    let answer = match slot.as_mut()?.poll() {
        Poll::Waiting => return None,
        Poll::Ready(r) => r.map_err(|e| e.to_string()),
        Poll::Lost => Err(crate::jobs::services::WORKER_STOPPED.into()),
    };
    *slot = None;
    Some(answer)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::CnType;

    fn params(prompt: &str, steps: u32, seed: i64) -> GenParams {
        GenParams {
            prompt: prompt.into(),
            steps,
            seed,
            ..Default::default()
        }
    }

    fn names(n: usize) -> Vec<String> {
        (1..=n).map(|i| format!("{i}.png")).collect()
    }

    #[test]
    fn labels_name_only_what_differs() {
        let a = params("a red fox", 20, 7);
        let b = params("a red fox", 30, 7);
        let c = GenParams {
            cn_type: CnType::Depth,
            ..params("a red fox", 20, 7)
        };
        let got = labels(&[Some(&a), Some(&b), Some(&c)], &names(3));
        assert_eq!(
            got,
            [
                "cn_type: pose · steps: 20",
                "cn_type: pose · steps: 30",
                "cn_type: depth · steps: 20"
            ]
        );
    }

    #[test]
    fn prompts_are_labelled_by_their_own_words() {
        let a = params("a red fox", 20, 1);
        let b = params("a red fox at night", 20, 2);
        let got = labels(&[Some(&a), Some(&b)], &names(2));
        assert_eq!(
            got,
            ["seed: 1 · prompt: a red fox", "seed: 2 · prompt: at night"]
        );
    }

    #[test]
    fn the_same_settings_or_unknown_ones_are_labelled_by_name() {
        let a = params("a red fox", 20, 1);
        let got = labels(&[Some(&a), Some(&a), None], &names(3));
        assert_eq!(got, ["1.png", "2.png", "3.png"]);
        assert!(labels(&[], &[]).is_empty());
    }

    #[test]
    fn a_saved_run_is_one_row_that_sends_nothing() {
        let paths: Vec<PathBuf> = ["/g/a.png", "/g/b.png", "/g/c.png"]
            .iter()
            .map(PathBuf::from)
            .collect();
        let run = saved_run(&paths);
        assert!(run.saved);
        assert_eq!((run.plan.rows, run.plan.cols, run.cells.len()), (1, 3, 3));
        assert_eq!(run.label(1), "b.png");
        assert!(run.waiting().is_empty(), "nothing to cancel");
        let mut s = super::super::state::CompareState::default();
        s.show(run);
        s.run_mut().unwrap().cells[0].state = CellState::Failed {
            message: "unreadable".into(),
            maybe_billed: false,
        };
        assert!(s.retry(0).is_none(), "nothing to re-send");
        assert!(s.cancel_remaining().is_empty());
    }
}
