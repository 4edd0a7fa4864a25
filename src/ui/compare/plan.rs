//! The comparison's plan, as plain data: what the user set up (the control types, or the two
//! axes of an X/Y grid and their values), what is still missing, and the plan made of it with the
//! app's settings (what would be sent, one job per cell, and its cost label). A plan is kept until
//! something it depends on changes, so a random seed stays put until the plan is sent.

use crate::api::{CnType, GenParams};
use crate::jobs::grid::{self, Axis, AxisKind, GridPlan};
use crate::jobs::{ApiVersion, InputSource, next_job_id};

/// Which comparison is being set up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CompareMode {
    /// One cell per control type.
    #[default]
    Types,
    /// Any two knobs, rows × columns.
    Grid,
}

pub use crate::jobs::grid::cost_label;

/// What the user set up: the control types to compare, or the two axes of a grid.
#[derive(Debug, Clone, PartialEq)]
pub struct Setup {
    pub mode: CompareMode,
    /// Ticked control types, in [`CnType::ALL`]'s order.
    pub types: [bool; 4],
    pub x_kind: AxisKind,
    /// The column values as typed.
    pub x_text: String,
    /// The row axis; `None` for a single row.
    pub y_kind: Option<AxisKind>,
    /// The row values as typed.
    pub y_text: String,
}

impl Default for Setup {
    fn default() -> Self {
        Setup {
            mode: CompareMode::Types,
            types: [false; 4],
            x_kind: AxisKind::CnType,
            x_text: String::new(),
            y_kind: Some(AxisKind::CnStrength),
            y_text: String::new(),
        }
    }
}

impl Setup {
    /// What is still to be filled in before a plan can be made (not an error yet).
    pub fn missing_values(&self) -> Option<&'static str> {
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

    /// The plan of this setup: `base` with each cell's values applied, under `group`.
    fn make_plan(
        &self,
        base: &GenParams,
        input: &InputSource,
        api: ApiVersion,
        group: u64,
    ) -> Result<GridPlan, String> {
        match self.mode {
            CompareMode::Types => {
                let types: Vec<CnType> = CnType::ALL
                    .iter()
                    .zip(self.types)
                    .filter(|(_, on)| *on)
                    .map(|(t, _)| *t)
                    .collect();
                grid::compare_types(base, input, api, group, &types).map_err(|e| e.to_string())
            }
            CompareMode::Grid => (|| {
                let x = Axis::parse(self.x_kind, &self.x_text)?;
                let y = match self.y_kind {
                    Some(k) => Some(Axis::parse(k, &self.y_text)?),
                    None => None,
                };
                grid::plan(base, input, api, group, x, y)
            })()
            .map_err(|e| e.to_string()),
        }
    }
}

/// Everything a plan depends on: it is made again only when one of these changes, so a random
/// seed stays put until the plan is sent.
#[derive(Clone, PartialEq)]
struct PlanKey {
    setup: Setup,
    base: GenParams,
    input: Option<InputSource>,
    api: ApiVersion,
}

/// Where the setup stands.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Planned<'a> {
    /// Something is still to be filled in (a hint, not an error).
    Missing(&'static str),
    /// The values cannot be planned: why.
    Invalid(&'a str),
    /// What would be sent.
    Ready(&'a GridPlan),
}

/// How many images a plan makes (a request may ask for several samples): what it is priced by.
pub fn plan_images(plan: &GridPlan) -> usize {
    plan.cost_images()
}

/// The setup and the plan last made of it.
#[derive(Default)]
pub struct Planner {
    pub setup: Setup,
    cache: Option<(PlanKey, Result<GridPlan, String>)>,
}

impl Planner {
    /// The plan of the current setup with the app's settings (made again only when something it
    /// depends on changed). Without an input image the plan is still made, for the cost and the
    /// errors; it cannot be sent.
    pub fn plan(
        &mut self,
        base: &GenParams,
        input: Option<&InputSource>,
        api: ApiVersion,
    ) -> Planned<'_> {
        if let Some(missing) = self.setup.missing_values() {
            return Planned::Missing(missing);
        }
        let key = PlanKey {
            setup: self.setup.clone(),
            base: base.clone(),
            input: input.cloned(),
            api,
        };
        if !self.cache.as_ref().is_some_and(|(k, _)| *k == key) {
            let placeholder = InputSource::Url(String::new());
            let inp = input.unwrap_or(&placeholder);
            let result = self.setup.make_plan(base, inp, api, next_job_id());
            self.cache = Some((key, result));
        }
        match &self.cache {
            Some((_, Ok(plan))) => Planned::Ready(plan),
            Some((_, Err(e))) => Planned::Invalid(e),
            None => Planned::Missing(""),
        }
    }

    /// Plans anew next time (a new group, and a new seed if the seed is random): the plan was sent.
    pub fn forget(&mut self) {
        self.cache = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> InputSource {
        InputSource::Url("https://example.com/dancer.jpg".into())
    }

    /// What `p` plans with a random seed: `Ok(plan)`, or the hint or error as text.
    fn plan(p: &mut Planner, input: Option<&InputSource>) -> Result<GridPlan, String> {
        let base = GenParams {
            prompt: "a dancer".into(),
            seed: -1,
            ..Default::default()
        };
        match p.plan(&base, input, ApiVersion::V1) {
            Planned::Ready(p) => Ok(p.clone()),
            Planned::Missing(m) => Err(format!("missing: {m}")),
            Planned::Invalid(e) => Err(format!("invalid: {e}")),
        }
    }

    #[test]
    fn the_cost_label_counts_requests_and_rounds_dollars() {
        assert_eq!(cost_label(4, 4, 0.048), "4 requests ≈ $0.19");
        assert_eq!(cost_label(1, 1, 0.05), "1 request ≈ $0.05");
        assert_eq!(cost_label(6, 6, 0.048), "6 requests ≈ $0.29");
        assert_eq!(cost_label(4, 8, 0.048), "4 requests, 8 images ≈ $0.38");
    }

    #[test]
    fn planning_four_types_gives_four_cells_with_one_concrete_seed() {
        let mut s = Planner::default();
        s.setup.types = [true; 4];
        let p = plan(&mut s, Some(&input())).unwrap();
        assert_eq!((p.cells.len(), plan_images(&p)), (4, 4));
        assert!(p.seed >= 0, "a random seed is made concrete");
        assert!(p.cells.iter().all(|c| c.params.seed == p.seed));
        assert!(p.cells.iter().all(|c| c.params.prompt == "a dancer"));
        let types: Vec<CnType> = p.cells.iter().map(|c| c.params.cn_type).collect();
        assert_eq!(types, CnType::ALL.to_vec());
        // Asked again with the same settings, the plan (and its random seed) stays put.
        assert_eq!(plan(&mut s, Some(&input())), Ok(p.clone()));
        // Any change plans again; without an input the plan is still made, for its cost.
        s.setup.types[0] = false;
        assert_eq!(plan(&mut s, Some(&input())).unwrap().cells.len(), 3);
        assert_eq!(plan(&mut s, None).unwrap().cells.len(), 3);
        // Once sent, the next plan is a new one.
        s.setup.types[0] = true;
        s.forget();
        assert_ne!(
            plan(&mut s, Some(&input())).unwrap().cells[0].group,
            p.cells[0].group
        );
    }

    #[test]
    fn missing_and_invalid_values_are_told_apart() {
        let mut s = Planner::default();
        let cells = |s: &mut Planner| plan(s, Some(&input())).map(|p| p.cells.len());
        let missing = |m: &str| Err(format!("missing: {m}"));
        assert_eq!(cells(&mut s), missing("Tick the control types to compare."));
        s.setup.mode = CompareMode::Grid;
        assert_eq!(cells(&mut s), missing("Enter the values for the columns."));
        s.setup.x_text = "pose,nope".into();
        let e = cells(&mut s).unwrap_err();
        assert!(e.starts_with("invalid: ") && e.contains("\"nope\""), "{e}");
        s.setup.x_text = "pose,depth,canny".into();
        let rows = missing("Enter the values for the rows, or pick (none).");
        assert_eq!(cells(&mut s), rows);
        s.setup.y_text = "0.3,0.6".into();
        assert_eq!(cells(&mut s), Ok(6));
        s.setup.y_kind = None;
        assert_eq!(cells(&mut s), Ok(3));
    }
}
