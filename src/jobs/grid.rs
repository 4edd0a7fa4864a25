//! X/Y grids and control-type comparisons as plans of jobs: pick a row axis and a column axis
//! (cn_type, cn_strength, cn_stop, guidance, steps, sampler, scheduler, seed, prompt), give each a
//! list of values (`a,b,c`) or a numeric range (`from:to:step`), and get one validated job per cell,
//! all sharing one concrete seed unless seed is an axis. A value given twice (or two that send the
//! same request, like steps 20 and 20.2) is planned once, in first-seen order, and the plan says so.
//! The cost (requests, and images: requests × samples) is known before anything is sent.

use std::fmt;

use super::types::{ApiVersion, GroupTag, InputSource, JobSpec};
use crate::api::fields::{self, Allowed, Field, Value as FieldValue};
use crate::api::params::{self, CnType, GenParams, ParamError};

/// The most cells a grid may have (a 4×3 grid on a free key already needs pacing).
pub const MAX_CELLS: usize = 64;

/// A knob a grid can vary: a request field whose row of the table gives an axis example
/// ([`crate::api::fields::FieldInfo::axis`]); its name, label and allowed values are the table's.
pub type AxisKind = Field;

/// Every field a grid can vary, in the table's order of importance.
pub fn axes() -> impl Iterator<Item = Field> {
    let mut all = Field::ALL;
    all.sort_by_key(|f| (f.info().rank, *f as usize));
    all.into_iter().filter(|f| f.info().axis.is_some())
}

/// The axis named `s` (its wire name; `-` for `_` and any case are accepted).
pub fn axis_named(s: &str) -> Result<AxisKind, GridError> {
    let t = s.trim().to_ascii_lowercase().replace('-', "_");
    axes().find(|k| k.wire() == t).ok_or_else(|| {
        GridError::UnknownAxis(format!(
            "{s:?} is not an axis: one of {}",
            axes().map(|k| k.wire()).collect::<Vec<_>>().join(", ")
        ))
    })
}

/// One value along an axis: a number as given (so that steps `20` and `20.2`, which send the same
/// request, are told apart and planned once), or a value of the field.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(untagged)]
pub enum AxisValue {
    Number(f64),
    Value(FieldValue),
}

impl AxisValue {
    /// Free text along an axis (a prompt, a label).
    pub fn text(s: impl Into<String>) -> AxisValue {
        AxisValue::Value(FieldValue::Text(s.into()))
    }

    /// The value `kind` is set to: a number rounded for a whole-number field.
    fn for_field(&self, kind: AxisKind) -> FieldValue {
        match (self, kind.info().allowed) {
            (AxisValue::Number(n), Allowed::Int(_) | Allowed::Seed { .. }) => {
                FieldValue::Int(n.round().clamp(i64::MIN as f64, i64::MAX as f64) as i64)
            }
            (AxisValue::Number(n), Allowed::Num(_)) => FieldValue::Num(*n),
            (
                AxisValue::Number(n),
                Allowed::Text | Allowed::OneOf { .. } | Allowed::Bool { .. },
            ) => FieldValue::Num(*n),
            (AxisValue::Value(v), _) => v.clone(),
        }
    }
}

impl fmt::Display for AxisValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AxisValue::Number(n) => write!(f, "{}", trim_number(*n)),
            AxisValue::Value(v) => write!(f, "{v}"),
        }
    }
}

fn trim_number(n: f64) -> String {
    let s = format!("{n:.4}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s.is_empty() || s == "-" {
        "0".into()
    } else {
        s.to_owned()
    }
}

/// An axis: a knob and its values, in order.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Axis {
    pub kind: AxisKind,
    pub values: Vec<AxisValue>,
}

/// Why a grid cannot be planned.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum GridError {
    #[error("{0}")]
    UnknownAxis(String),
    #[error("axis {axis}: {detail}")]
    BadValues { axis: AxisKind, detail: String },
    #[error(
        "the grid has {cells} cells; at most {MAX_CELLS} are allowed (each cell is a paid request)"
    )]
    TooLarge { cells: usize },
    #[error("the row and column axes are both {0}: pick two different knobs")]
    SameAxis(AxisKind),
    #[error("cell {row},{col}: {source}")]
    Invalid {
        row: usize,
        col: usize,
        source: ParamError,
    },
}

impl Axis {
    /// Parses `values` for `kind`: a comma-separated list, or `from:to:step` for numeric knobs.
    /// Free text (prompts) is separated by `|` (a prompt may contain commas).
    pub fn parse(kind: AxisKind, values: &str) -> Result<Axis, GridError> {
        let bad = |detail: String| GridError::BadValues { axis: kind, detail };
        if kind.info().axis.is_none() {
            return Err(bad("a grid cannot vary it".into()));
        }
        let values = values.trim();
        if values.is_empty() {
            return Err(bad("no values given".into()));
        }
        // Named values: the field table parses and checks them (the same words as the CLI's
        // flags and the stand-in's errors).
        let named = |v: &str| {
            let value = kind.parse(v).map_err(|e| bad(e.to_string()))?;
            kind.check(&value).map_err(|e| bad(e.to_string()))?;
            Ok(AxisValue::Value(value))
        };
        let out: Vec<AxisValue> = match kind.info().allowed {
            Allowed::Text => values
                .split('|')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(AxisValue::text)
                .collect(),
            Allowed::OneOf { .. } | Allowed::Bool { .. } => {
                values.split(',').map(named).collect::<Result<_, _>>()?
            }
            Allowed::Int(_) | Allowed::Num(_) | Allowed::Seed { .. } if values.contains(':') => {
                range(values)
                    .map_err(bad)?
                    .into_iter()
                    .map(AxisValue::Number)
                    .collect()
            }
            Allowed::Int(_) | Allowed::Num(_) | Allowed::Seed { .. } => values
                .split(',')
                .map(|v| {
                    v.trim()
                        .parse::<f64>()
                        .ok()
                        .filter(|n| n.is_finite())
                        .map(AxisValue::Number)
                        .ok_or_else(|| bad(format!("{v:?} is not a number")))
                })
                .collect::<Result<_, _>>()?,
        };
        if out.is_empty() {
            return Err(bad("no values given".into()));
        }
        if out.len() > MAX_CELLS {
            return Err(GridError::TooLarge { cells: out.len() });
        }
        Ok(Axis { kind, values: out })
    }

    /// Parses `kind=values`, e.g. `cn_strength=0.2:1.0:0.4`.
    pub fn parse_assignment(s: &str) -> Result<Axis, GridError> {
        let (k, v) = s.split_once('=').ok_or_else(|| {
            GridError::UnknownAxis(format!(
                "{s:?}: expected AXIS=VALUES, e.g. cn_strength=0.2:1.0:0.4"
            ))
        })?;
        Axis::parse(axis_named(k)?, v)
    }

    /// Drops every value that would send the same request as an earlier one (`pose,depth,pose`;
    /// steps `20,20.2`), keeping the first-seen order; returns what was dropped, in words.
    pub fn dedup(&mut self, base: &GenParams) -> Vec<String> {
        let mut kept: Vec<(usize, GenParams)> = Vec::with_capacity(self.values.len());
        let mut dropped = Vec::new();
        for i in 0..self.values.len() {
            let mut p = base.clone();
            self.apply(i, &mut p);
            match kept.iter().find(|(_, q)| *q == p) {
                Some((first, _)) => dropped.push((i, *first)),
                None => kept.push((i, p)),
            }
        }
        let mut told: Vec<String> = Vec::new();
        for &(i, first) in &dropped {
            let (again, orig) = (self.label(i), self.label(first));
            let text = if again == orig {
                format!("{orig} is given more than once: sent once")
            } else {
                format!("{again} sends the same request as {orig}: sent once")
            };
            if !told.contains(&text) {
                told.push(text);
            }
        }
        let keep: Vec<usize> = kept.into_iter().map(|(i, _)| i).collect();
        self.values = std::mem::take(&mut self.values)
            .into_iter()
            .enumerate()
            .filter(|(i, _)| keep.contains(i))
            .map(|(_, v)| v)
            .collect();
        told
    }

    /// Sets this axis's value number `i` on `p` (a value the field cannot hold, which parsing
    /// never makes, leaves `p` as it is; validation then judges the cell).
    fn apply(&self, i: usize, p: &mut GenParams) {
        if let Some(v) = self.values.get(i) {
            let _ = fields::set(p, self.kind, v.for_field(self.kind));
        }
    }

    /// The label of value `i`, e.g. `cn_strength: 0.6` (prompts shortened).
    pub fn label(&self, i: usize) -> String {
        match self.values.get(i) {
            Some(AxisValue::Value(FieldValue::Text(s)))
                if matches!(self.kind.info().allowed, Allowed::Text) =>
            {
                crate::api::error::shorten(s, 40)
            }
            Some(v) => format!("{}: {v}", self.kind),
            None => String::new(),
        }
    }
}

/// `from:to:step` (step optional: 5 values).
fn range(s: &str) -> Result<Vec<f64>, String> {
    let parts: Vec<&str> = s.split(':').map(str::trim).collect();
    let num = |t: &str| {
        t.parse::<f64>()
            .ok()
            .filter(|v| v.is_finite())
            .ok_or_else(|| format!("{t:?} is not a number"))
    };
    let (from, to) = match parts.as_slice() {
        [a, b] | [a, b, _] => (num(a)?, num(b)?),
        _ => return Err(format!("{s:?}: expected from:to:step")),
    };
    let step = match parts.get(2) {
        Some(t) => num(t)?,
        None => (to - from) / 4.0,
    };
    if step == 0.0 {
        return Ok(vec![from]);
    }
    if (to - from) * step < 0.0 {
        return Err(format!("{s:?}: the step goes away from the end"));
    }
    let n = ((to - from) / step + 1e-9).floor() as i64 + 1;
    if n > MAX_CELLS as i64 {
        return Err(format!("{s:?} gives {n} values; at most {MAX_CELLS}"));
    }
    Ok((0..n)
        .map(|i| from + step * i as f64)
        .map(|v| (v * 1e6).round() / 1e6)
        .collect())
}

/// A planned grid: one job per cell, row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct GridPlan {
    /// The column axis.
    pub x: Axis,
    /// The row axis, if any (a single row otherwise).
    pub y: Option<Axis>,
    pub rows: usize,
    pub cols: usize,
    /// The seed every cell shares (unless seed is an axis).
    pub seed: i64,
    pub cells: Vec<JobSpec>,
    /// The values given more than once (or sending the same request as another), each planned
    /// once: what to tell the user, in words.
    pub duplicates: Vec<String>,
}

impl GridPlan {
    /// How many requests the grid sends (each is billed).
    pub fn cost_requests(&self) -> usize {
        self.cells.len()
    }

    /// How many images the grid asks for (each is billed): every request's samples.
    pub fn cost_images(&self) -> usize {
        self.cells
            .iter()
            .map(|c| c.params.samples.max(1) as usize)
            .sum()
    }

    /// "4 requests ≈ $0.19", or "2 requests, 8 images ≈ $0.38" when a request asks for several
    /// samples: the price is images × `per_image`.
    pub fn cost_text(&self, per_image: f64) -> String {
        cost_label(self.cost_requests(), self.cost_images(), per_image)
    }

    pub fn row_label(&self, row: usize) -> String {
        self.y.as_ref().map(|y| y.label(row)).unwrap_or_default()
    }

    pub fn col_label(&self, col: usize) -> String {
        self.x.label(col)
    }
}

/// Plans the grid: `base` with each cell's values applied, every cell validated before anything is
/// sent. A random seed (`-1`) is replaced by one concrete seed shared by all cells. Repeated values
/// are planned once ([`Axis::dedup`]; [`GridPlan::duplicates`] says which).
pub fn plan(
    base: &GenParams,
    input: &InputSource,
    api: ApiVersion,
    group: u64,
    mut x: Axis,
    mut y: Option<Axis>,
) -> Result<GridPlan, GridError> {
    if y.as_ref().is_some_and(|y| y.kind == x.kind) {
        return Err(GridError::SameAxis(x.kind));
    }
    let mut duplicates = x.dedup(base);
    if let Some(y) = &mut y {
        duplicates.extend(y.dedup(base));
    }
    let rows = y.as_ref().map_or(1, |y| y.values.len());
    let cols = x.values.len();
    if rows * cols > MAX_CELLS {
        return Err(GridError::TooLarge { cells: rows * cols });
    }
    let seed = if base.seed == params::RANDOM_SEED {
        params::random_seed()
    } else {
        base.seed
    };
    let mut cells = Vec::with_capacity(rows * cols);
    for row in 0..rows {
        for col in 0..cols {
            let mut p = GenParams {
                seed,
                ..base.clone()
            };
            if let Some(y) = &y {
                y.apply(row, &mut p);
            }
            x.apply(col, &mut p);
            p.validate()
                .map_err(|source| GridError::Invalid { row, col, source })?;
            let label = match &y {
                Some(y) => format!("{} · {}", y.label(row), x.label(col)),
                None => x.label(col),
            };
            cells.push(JobSpec {
                input: input.clone(),
                params: p,
                api,
                group: Some(GroupTag {
                    group,
                    row,
                    col,
                    label,
                }),
                prompt_template: None,
                batch: None,
                framing: Default::default(),
            });
        }
    }
    Ok(GridPlan {
        x,
        y,
        rows,
        cols,
        seed,
        cells,
        duplicates,
    })
}

/// The comparison of control types: one row, one cell per type (a repeated type once), one seed.
pub fn compare_types(
    base: &GenParams,
    input: &InputSource,
    api: ApiVersion,
    group: u64,
    types: &[CnType],
) -> Result<GridPlan, GridError> {
    let x = Axis {
        kind: AxisKind::CnType,
        values: types
            .iter()
            .map(|t| AxisValue::Value(FieldValue::CnType(*t)))
            .collect(),
    };
    if x.values.is_empty() {
        return Err(GridError::BadValues {
            axis: AxisKind::CnType,
            detail: "no control type chosen".into(),
        });
    }
    plan(base, input, api, group, x, None)
}

/// "4 requests ≈ $0.19": what `requests` requests making `images` images in all cost at
/// `per_image` each ("4 requests, 8 images ≈ $0.38" when a request asks for several samples).
/// Every cost line of a plan (grid, comparison, variations) is this one.
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

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> GenParams {
        GenParams {
            prompt: "a cat".into(),
            seed: -1,
            ..Default::default()
        }
    }

    fn input() -> InputSource {
        InputSource::Url("https://example.com/a.png".into())
    }

    #[test]
    fn a_2x3_grid_plans_six_validated_cells_with_one_seed() {
        let x = Axis::parse_assignment("cn_type=pose,depth,canny").unwrap();
        let y = Axis::parse_assignment("cn_strength=0.3:0.9:0.6").unwrap();
        let g = plan(&base(), &input(), ApiVersion::V1, 7, x, Some(y)).unwrap();
        assert_eq!((g.rows, g.cols, g.cost_requests()), (2, 3, 6));
        assert!(
            g.cells
                .iter()
                .all(|c| c.params.seed == g.seed && g.seed >= 0)
        );
        assert_eq!(g.cells[4].params.cn_type, CnType::Depth);
        assert_eq!(g.cells[4].params.cn_strength, 0.9);
        assert_eq!(
            g.cells[4].group.as_ref().unwrap().label,
            "cn_strength: 0.9 · cn_type: depth"
        );
        assert_eq!(g.row_label(0), "cn_strength: 0.3");
    }

    #[test]
    fn ranges_lists_and_errors() {
        assert_eq!(range("0.2:1.0:0.2").unwrap(), vec![0.2, 0.4, 0.6, 0.8, 1.0]);
        assert_eq!(range("20:30:5").unwrap(), vec![20.0, 25.0, 30.0]);
        assert!(range("1:0:0.5").is_err());
        assert!(range("0:1000:1").is_err());
        let a = Axis::parse(AxisKind::Prompt, "a red car, parked | a blue car").unwrap();
        assert_eq!(a.values.len(), 2);
        assert!(Axis::parse(AxisKind::Sampler, "euler,nope").is_err());
        assert!(axis_named("colour").is_err());
        assert_eq!(axis_named("CN-Strength"), Ok(Field::CnStrength));
        assert!(axis_named("base64").is_err(), "a field that is not an axis");
        assert!(Axis::parse(Field::Base64, "true").is_err());
        // Out-of-range cells are refused before anything is sent, naming the cell.
        let x = Axis::parse(AxisKind::Steps, "10,20").unwrap();
        let e = plan(&base(), &input(), ApiVersion::V1, 1, x, None).unwrap_err();
        assert!(
            e.to_string().contains("cell 0,0") && e.to_string().contains("steps = 10"),
            "{e}"
        );
        let x = Axis::parse(AxisKind::Steps, "20,30").unwrap();
        assert_eq!(
            plan(&base(), &input(), ApiVersion::V1, 1, x.clone(), Some(x)).unwrap_err(),
            GridError::SameAxis(AxisKind::Steps)
        );
    }

    #[test]
    fn repeated_values_are_planned_once_in_first_seen_order() {
        use CnType::{Canny, Depth, Pose};
        let g = compare_types(&base(), &input(), ApiVersion::V1, 1, &[Pose, Depth, Pose]).unwrap();
        let types: Vec<CnType> = g.cells.iter().map(|c| c.params.cn_type).collect();
        assert_eq!(types, [Pose, Depth]);
        assert_eq!(g.cost_requests(), 2);
        assert_eq!(
            g.duplicates,
            ["cn_type: pose is given more than once: sent once"]
        );
        let x = Axis::parse_assignment("cn_type=canny,pose,canny,depth,pose").unwrap();
        // 20 and 20.2 both send steps = 20: one request.
        let y = Axis::parse_assignment("steps=20,30,20.2,20").unwrap();
        let g = plan(&base(), &input(), ApiVersion::V1, 1, x, Some(y)).unwrap();
        assert_eq!((g.rows, g.cols, g.cost_requests()), (2, 3, 6));
        assert_eq!(g.col_label(0), "cn_type: canny");
        assert_eq!(g.col_label(2), "cn_type: depth");
        assert_eq!(g.row_label(1), "steps: 30");
        assert_eq!(
            g.duplicates,
            [
                "cn_type: canny is given more than once: sent once",
                "cn_type: pose is given more than once: sent once",
                "steps: 20.2 sends the same request as steps: 20: sent once",
                "steps: 20 is given more than once: sent once",
            ]
        );
        let x = Axis::parse_assignment("prompt=a cat | a dog | a cat").unwrap();
        let g = plan(&base(), &input(), ApiVersion::V1, 1, x, None).unwrap();
        assert_eq!(g.cost_requests(), 2);
        let x = Axis::parse_assignment("cn_strength=0.5,0.7,0.5").unwrap();
        let g = plan(&base(), &input(), ApiVersion::V1, 1, x, None).unwrap();
        assert_eq!(g.cost_requests(), 2);
        // The images a plan asks for: requests × samples.
        let four = GenParams {
            samples: 4,
            ..base()
        };
        let g = compare_types(&four, &input(), ApiVersion::V1, 1, &[Pose, Canny]).unwrap();
        assert_eq!((g.cost_requests(), g.cost_images()), (2, 8));
        assert_eq!(g.cost_text(0.048), "2 requests, 8 images ≈ $0.38");
        let g = compare_types(&base(), &input(), ApiVersion::V1, 1, &[Pose]).unwrap();
        assert_eq!(g.cost_text(0.048), "1 request ≈ $0.05");
        assert!(g.duplicates.is_empty());
    }

    #[test]
    fn comparing_types_keeps_everything_but_the_type() {
        let g = compare_types(&base(), &input(), ApiVersion::V2, 3, CnType::ALL).unwrap();
        assert_eq!(g.cells.len(), 4);
        let p0 = &g.cells[0].params;
        for c in &g.cells {
            assert_eq!(
                GenParams {
                    cn_type: p0.cn_type,
                    ..c.params.clone()
                },
                *p0
            );
            assert_eq!(c.api, ApiVersion::V2);
        }
    }
}
