//! The one table of the request's fields (`shared/CONTRACT.md`, "Request"). The fields themselves
//! are one line each in `fields/list.rs` (the struct [`GenParams`], the enum [`Field`], [`get`] and
//! [`set`] are made from those lines); everything else about a field is its row of [`TABLE`]: its
//! wire name, whether the contract requires it, what is allowed and its default (the [`Bounds`]
//! and lists of [`super::params`]), how its value is shown, its words (title and tip), its flag,
//! whether a grid can vary it, how the controls draw it, its place in the details, and how it is
//! written to and read from A1111 "parameters" text ([`A1111`]).
//!
//! Everything that names, checks, shows or parses a field reads the table: validation
//! ([`GenParams::problems`], [`GenParams::clamped`]), the stand-in's validator, the details panes
//! ([`details`]) and the diff, the A1111 writer and parser, the CLI's flags and `--like`'s
//! overrides (`cli/knobs.rs`), batch lines, X/Y grid axes (`jobs/grid.rs`), the controls panel's
//! knobs (`ui/controls.rs`), and a 400's field name ([`field_named_in`]).
//!
//! A new field is a line in `list.rs` and a row here. The compiler asks for the row (the table
//! has [`Field::COUNT`] rows, in order) and for its words and widget (checked when the table is
//! built); `tests/engine/field_table.rs` and a test in `tests/ui` then walk every field through
//! every consumer.

use std::fmt;

use super::params::{
    Bounds, CN_STOP, CN_STRENGTH, CnType, DEFAULT_SAMPLER, DEFAULT_SEED, GUIDANCE, ImageFormat,
    MAX_SEED, ParamError, QUALITY, RANDOM_SEED, SAMPLERS, SAMPLES, SIZE, STEPS, Scheduler,
};

/// The wire name of the input image: a request field that is not a knob (it is given per request,
/// not kept in [`GenParams`]).
pub const IMAGE: &str = "image";

/// What a field allows, with its default.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Allowed {
    /// Any text that is not blank (no default: required).
    Text,
    /// One of these names, exactly as on the wire.
    OneOf {
        names: &'static [&'static str],
        default: &'static str,
    },
    /// A whole number in the range.
    Int(Bounds<u32>),
    /// A number in the range.
    Num(Bounds<f64>),
    /// A seed: `0` to [`MAX_SEED`], or [`RANDOM_SEED`] for a random one.
    Seed { default: i64 },
    /// `true` or `false`.
    Bool { default: bool },
}

/// How a value is shown to the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shown {
    /// As on the wire (whole numbers whole, names as they are).
    Plain,
    /// A number with at least this many decimals, and more when the value has them (a grid's
    /// `3.25` is never shown rounded).
    Decimals(usize),
}

/// One row of the table.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FieldInfo {
    pub field: Field,
    /// The contract's name for the field.
    pub wire: &'static str,
    /// The name the user sees in details, grid axes and errors: the wire name. (The controls panel
    /// still names its sliders in words of its own: "Strength", "Stop at".)
    pub label: &'static str,
    /// Whether the contract requires it in every request.
    pub required: bool,
    pub allowed: Allowed,
    pub shown: Shown,
    pub a1111: A1111,
    /// Whether the details panes (the Result tab, the gallery) list it. Those that do not are the
    /// prompt (the panes' heading), and what a saved image's own size and file already say.
    pub in_details: bool,
    /// Where the details panes list it, and the controls and the CLI's help too: lower first (a
    /// new field's [`LAST`] puts it at the end).
    pub rank: u8,
    /// The field in the user's words: the controls' label, the start of the flag's help.
    pub title: &'static str,
    /// What it does: the controls' tooltip, the flag's help.
    pub tip: &'static str,
    /// The command line's flag for it.
    pub flag: Flag,
    /// Whether an X/Y grid can vary it, with the example values its box shows.
    pub axis: Option<&'static str>,
    /// How the controls panel draws it.
    pub widget: Widget,
}

/// A field's flag on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flag {
    /// `--` and the wire name with `-` for `_` (`--cn-strength`).
    Wire,
    /// A name of its own (`--width` for `custom_width`).
    Named(&'static str),
    /// None: the field is not the user's to set (`base64`).
    Without,
}

/// How the controls panel draws a field.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Widget {
    /// Not yet said (the compile-time check below refuses a row left so).
    Unset,
    /// Drawn by a part of the panel of its own (the prompt box, the seed row).
    Own,
    /// Not shown: a detail of the wire, not a knob.
    Hidden,
    /// A knob of a section: a slider for a number (moving by `step`), a dropdown for a list, a tick
    /// box for true or false, shown when `needs` holds.
    Knob {
        section: Section,
        step: f64,
        needs: Needs,
    },
}

/// The controls panel's sections of knobs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    ControlNet,
    Sampling,
    Output,
}

impl Section {
    /// The section's heading.
    pub fn title(self) -> &'static str {
        match self {
            Section::ControlNet => "ControlNet",
            Section::Sampling => "Sampling",
            Section::Output => "Output",
        }
    }
}

/// When a knob can be used (otherwise it is shown greyed out).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Needs {
    Nothing,
    /// The output size is set here, not taken from the input (`use_input_img_dimension` false).
    OwnSize,
    /// A lossy output format (quality means nothing for PNG).
    LossyFormat,
}

/// The rank of a field with none given: listed after the others.
pub const LAST: u8 = u8::MAX;

/// The table: each field described once, in the contract's order (a row's place is its field's
/// number, which a compile-time check below holds).
pub const TABLE: [FieldInfo; Field::COUNT] = [
    row(
        Field::Prompt,
        "prompt",
        REQUIRED,
        Allowed::Text,
        A1111::Prompt,
    )
    .rank(0)
    .words("Prompt", "What to generate")
    .axis("a red car | a blue car")
    .widget(Widget::Own)
    .not_in_details(),
    row(
        Field::Sampler,
        "sampler",
        REQUIRED,
        one_of(&SAMPLERS, DEFAULT_SAMPLER),
        key("Sampler", &[]),
    )
    .rank(7)
    .words("Sampler", "The sampling algorithm (ComfyUI's names)")
    .axis("euler,dpmpp_2m,heun")
    .knob(Section::Sampling, 1.0),
    row(
        Field::Scheduler,
        "scheduler",
        REQUIRED,
        one_of(Scheduler::NAMES, Scheduler::DEFAULT_NAME),
        key("Schedule type", &["scheduler"]),
    )
    .rank(8)
    .words("Scheduler", "How the noise level falls from step to step")
    .axis("simple,karras,beta")
    .knob(Section::Sampling, 1.0),
    row(
        Field::Seed,
        "seed",
        REQUIRED,
        Allowed::Seed {
            default: DEFAULT_SEED,
        },
        key("Seed", &[]),
    )
    .rank(2)
    .words("Seed", "The starting noise: the same seed and settings make the same picture; -1 lets the server pick one (the seed used is recorded)")
    .axis("1,2,3")
    .widget(Widget::Own),
    row(
        Field::Base64,
        "base64",
        OPTIONAL,
        Allowed::Bool { default: false },
        A1111::None,
    )
    .rank(15)
    .words("Base64 answer", "Whether the service answers with base64 text instead of image bytes (fluxcn always takes the bytes)")
    .no_flag()
    .widget(Widget::Hidden)
    .not_in_details(),
    row(
        Field::CnStop,
        "cn_stop",
        OPTIONAL,
        Allowed::Num(CN_STOP),
        unit("Guidance End", &["controlnet stop", "controlnet end"]),
    )
    .rank(6)
    .words("Stop at", "The fraction of the steps after which the control stops acting")
    .axis("0.3,0.5,0.8")
    .knob(Section::ControlNet, 0.01)
    .decimals(1),
    row(
        Field::CnStrength,
        "cn_strength",
        OPTIONAL,
        Allowed::Num(CN_STRENGTH),
        unit("Weight", &["controlnet strength", "controlnet weight"]),
    )
    .rank(5)
    .words("Strength", "How strongly the control image steers the result (0 = ignored, 2 = strict)")
    .axis("0.2:1.0:0.2  or  0.3,0.6,0.9")
    .knob(Section::ControlNet, 0.01)
    .decimals(1),
    row(
        Field::CnType,
        "cn_type",
        OPTIONAL,
        one_of(CnType::NAMES, CnType::DEFAULT_NAME),
        unit("Module", &["controlnet", "controlnet type"]),
    )
    .rank(1)
    .words("Control type", "Which structure of the input guides the image: pose skeleton, depth map, canny edges or tile")
    .axis("pose,depth,canny,tile")
    .knob(Section::ControlNet, 1.0),
    row(
        Field::CustomHeight,
        "custom_height",
        OPTIONAL,
        Allowed::Int(SIZE),
        A1111::SizeHeight,
    )
    .rank(11)
    .words("Height", "Output height in pixels (used when the output does not take the input's size)")
    .flag("height")
    .knob_if(Section::Output, 64.0, Needs::OwnSize)
    .not_in_details(),
    row(
        Field::CustomWidth,
        "custom_width",
        OPTIONAL,
        Allowed::Int(SIZE),
        A1111::SizeWidth,
    )
    .rank(10)
    .words("Width", "Output width in pixels (used when the output does not take the input's size)")
    .flag("width")
    .knob_if(Section::Output, 64.0, Needs::OwnSize)
    .not_in_details(),
    row(
        Field::Guidance,
        "guidance",
        OPTIONAL,
        Allowed::Num(GUIDANCE),
        A1111::Key(A1111Key {
            key: "CFG scale",
            also: &["guidance"],
            preferred: &["distilled cfg scale"],
        }),
    )
    .rank(4)
    .words("Guidance", "How closely the image follows the prompt")
    .axis("2:8:2")
    .knob(Section::Sampling, 0.1)
    .decimals(1),
    row(
        Field::ImageFormat,
        "image_format",
        OPTIONAL,
        one_of(ImageFormat::NAMES, ImageFormat::DEFAULT_NAME),
        A1111::None,
    )
    .rank(12)
    .words("Format", "The file type the service returns")
    .flag("format")
    .knob(Section::Output, 1.0),
    row(
        Field::Quality,
        "quality",
        OPTIONAL,
        Allowed::Int(QUALITY),
        A1111::None,
    )
    .rank(13)
    .words("Quality", "Compression quality for JPEG and WebP (PNG is lossless)")
    .knob_if(Section::Output, 1.0, Needs::LossyFormat),
    row(
        Field::Samples,
        "samples",
        OPTIONAL,
        Allowed::Int(SAMPLES),
        A1111::None,
    )
    .rank(14)
    .words("Samples", "Images for these settings (each one is billed)")
    .knob(Section::Output, 1.0)
    .not_in_details(),
    row(
        Field::Steps,
        "steps",
        OPTIONAL,
        Allowed::Int(STEPS),
        key("Steps", &[]),
    )
    .rank(3)
    .words("Steps", "Denoising steps: more is slower and often finer")
    .axis("20,30,40")
    .knob(Section::Sampling, 1.0),
    row(
        Field::UseInputImgDimension,
        "use_input_img_dimension",
        OPTIONAL,
        Allowed::Bool { default: true },
        A1111::SetBySize,
    )
    .rank(9)
    .words("Use input image size", "The result takes the input image's size; width and height are ignored")
    .flag("use-input-size")
    .knob(Section::Output, 1.0)
    .not_in_details(),
];

// Each row sits at its field's number, so `Field::info` finds it; each says, in words, what its
// field is and how the controls draw it (a new row does not compile until it does).
const _: () = {
    let mut i = 0;
    while i < TABLE.len() {
        assert!(
            TABLE[i].field as usize == i,
            "TABLE is out of the fields' order"
        );
        assert!(
            !TABLE[i].title.is_empty() && !TABLE[i].tip.is_empty(),
            "a row of TABLE has no words (.words(title, tip))"
        );
        assert!(
            !matches!(TABLE[i].widget, Widget::Unset),
            "a row of TABLE does not say how the controls draw it (.knob(…), .own(), .hidden())"
        );
        i += 1;
    }
};

/// The contract's "required" column.
const REQUIRED: bool = true;
const OPTIONAL: bool = false;

/// A row: the label is the wire name, the value shown as on the wire, listed in the details.
const fn row(
    field: Field,
    wire: &'static str,
    required: bool,
    allowed: Allowed,
    a1111: A1111,
) -> FieldInfo {
    FieldInfo {
        field,
        wire,
        label: wire,
        required,
        allowed,
        shown: Shown::Plain,
        a1111,
        in_details: true,
        rank: LAST,
        title: "",
        tip: "",
        flag: Flag::Wire,
        axis: None,
        widget: Widget::Unset,
    }
}

impl FieldInfo {
    const fn decimals(self, d: usize) -> FieldInfo {
        FieldInfo {
            shown: Shown::Decimals(d),
            ..self
        }
    }
    const fn rank(self, rank: u8) -> FieldInfo {
        FieldInfo { rank, ..self }
    }
    /// The field in words: its title and what it does.
    const fn words(self, title: &'static str, tip: &'static str) -> FieldInfo {
        FieldInfo { title, tip, ..self }
    }
    const fn flag(self, name: &'static str) -> FieldInfo {
        FieldInfo {
            flag: Flag::Named(name),
            ..self
        }
    }
    const fn no_flag(self) -> FieldInfo {
        FieldInfo {
            flag: Flag::Without,
            ..self
        }
    }
    /// A grid axis, with example values.
    const fn axis(self, example: &'static str) -> FieldInfo {
        FieldInfo {
            axis: Some(example),
            ..self
        }
    }
    const fn widget(self, widget: Widget) -> FieldInfo {
        FieldInfo { widget, ..self }
    }
    /// A knob of `section`, moving by `step`, always usable.
    const fn knob(self, section: Section, step: f64) -> FieldInfo {
        self.widget(Widget::Knob {
            section,
            step,
            needs: Needs::Nothing,
        })
    }
    /// A knob usable only when `needs` holds.
    const fn knob_if(self, section: Section, step: f64, needs: Needs) -> FieldInfo {
        self.widget(Widget::Knob {
            section,
            step,
            needs,
        })
    }
    const fn not_in_details(self) -> FieldInfo {
        FieldInfo {
            in_details: false,
            ..self
        }
    }
}

const fn one_of(names: &'static [&'static str], default: &'static str) -> Allowed {
    Allowed::OneOf { names, default }
}

const fn key(key: &'static str, also: &'static [&'static str]) -> A1111 {
    A1111::Key(A1111Key {
        key,
        also,
        preferred: &[],
    })
}

const fn unit(key: &'static str, line_keys: &'static [&'static str]) -> A1111 {
    A1111::Unit(UnitKey { key, line_keys })
}

/// A field's value, typed.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Value {
    Text(String),
    Int(i64),
    Num(f64),
    Bool(bool),
    CnType(CnType),
    Scheduler(Scheduler),
    ImageFormat(ImageFormat),
}

/// The wire form: names as sent, numbers in Rust's shortest exact form (`3.5`, `4`, `0.45`).
impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Text(s) => f.write_str(s),
            Value::Int(i) => write!(f, "{i}"),
            Value::Num(n) => write!(f, "{n}"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::CnType(t) => f.write_str(t.as_str()),
            Value::Scheduler(s) => f.write_str(s.as_str()),
            Value::ImageFormat(x) => f.write_str(x.as_str()),
        }
    }
}

impl Field {
    /// Every field, in the contract's order: the order of the wire body, of validation, and of the
    /// stand-in's checks.
    pub const ALL: [Field; Field::COUNT] = {
        let mut all = [Field::Prompt; Field::COUNT];
        let mut i = 0;
        while i < TABLE.len() {
            all[i] = TABLE[i].field;
            i += 1;
        }
        all
    };

    /// The field's row of [`TABLE`].
    pub const fn info(self) -> FieldInfo {
        TABLE[self as usize]
    }

    /// The contract's name, e.g. `cn_strength`.
    pub const fn wire(self) -> &'static str {
        self.info().wire
    }

    /// The name the user sees (the wire name).
    pub const fn label(self) -> &'static str {
        self.info().label
    }

    /// The field with this wire name (exact; a grid axis or a flag may be lowercased and have
    /// `-` for `_` first).
    pub fn from_wire(name: &str) -> Option<Field> {
        Field::ALL.into_iter().find(|f| f.wire() == name)
    }

    /// Whether values are numbers (a grid may give them as `from:to:step`).
    pub fn numeric(self) -> bool {
        matches!(
            self.info().allowed,
            Allowed::Int(_) | Allowed::Num(_) | Allowed::Seed { .. }
        )
    }

    /// What is allowed, as the errors say it: `15 to 75`, `one of depth, canny, pose, tile`, …
    pub fn allowed_text(self) -> String {
        match self.info().allowed {
            Allowed::Text => "a non-empty text".to_owned(),
            Allowed::OneOf { names, .. } => format!("one of {}", names.join(", ")),
            Allowed::Int(b) => format!("{} to {}", b.min, b.max),
            Allowed::Num(b) => format!("{} to {}", b.min, b.max),
            Allowed::Seed { .. } => format!("0 to {MAX_SEED}, or {RANDOM_SEED} for a random seed"),
            Allowed::Bool { .. } => "true or false".to_owned(),
        }
    }

    /// The contract's default, from the table (for the prompt, which has none, the empty text).
    pub fn default_value(self) -> Value {
        match self.info().allowed {
            Allowed::Text => Value::Text(String::new()),
            // The table's default names are the list's own (a table test holds this).
            Allowed::OneOf { default, .. } => self
                .read(default)
                .unwrap_or_else(|_| Value::Text(default.to_owned())),
            Allowed::Int(b) => Value::Int(i64::from(b.default)),
            Allowed::Num(b) => Value::Num(b.default),
            Allowed::Seed { default } => Value::Int(default),
            Allowed::Bool { default } => Value::Bool(default),
        }
    }

    /// Reads a value as a user types it (a flag, a grid axis, A1111 text): names are matched
    /// without regard to case (a sampler exactly), whole numbers may be written `20.0` (rounded).
    /// Only the type and the names are checked here; ranges are [`Field::check`]'s.
    pub fn parse(self, s: &str) -> Result<Value, ParamError> {
        let v = self.read(s)?;
        // A whole number a `u32` field cannot hold (`-5` steps) is refused here, by its range.
        if self.holds(&v) {
            Ok(v)
        } else {
            Err(ParamError::new(self.wire(), &v, self.allowed_text()))
        }
    }

    /// `Ok` when the API accepts `v` for this field; else the error naming the field, the value and
    /// what is allowed. A value of another field's type is refused too.
    pub fn check(self, v: &Value) -> Result<(), ParamError> {
        let refuse = |shown: String| Err(ParamError::new(self.wire(), shown, self.allowed_text()));
        if !self.holds(v) {
            return refuse(v.to_string());
        }
        let ok = match (self.info().allowed, v) {
            // Blank text is refused where the contract requires the field.
            (Allowed::Text, Value::Text(t)) => !(self.info().required && t.trim().is_empty()),
            // A typed name (a wire enum) is one of the list by construction.
            (Allowed::OneOf { names, .. }, Value::Text(t)) => names.contains(&t.as_str()),
            (Allowed::Int(b), Value::Int(i)) => u32::try_from(*i).is_ok_and(|u| b.contains(u)),
            (Allowed::Num(b), Value::Num(n)) => b.contains(*n),
            (Allowed::Seed { .. }, Value::Int(s)) => {
                *s == RANDOM_SEED || (0..=MAX_SEED).contains(s)
            }
            (
                Allowed::OneOf { .. },
                Value::CnType(_) | Value::Scheduler(_) | Value::ImageFormat(_),
            )
            | (Allowed::Bool { .. }, Value::Bool(_)) => true,
            // The type check above holds the table's kind and the field's type together (a
            // table test walks every field), so no other pair reaches here.
            (
                Allowed::Text
                | Allowed::OneOf { .. }
                | Allowed::Int(_)
                | Allowed::Num(_)
                | Allowed::Seed { .. }
                | Allowed::Bool { .. },
                _,
            ) => false,
        };
        if ok {
            Ok(())
        } else {
            match v {
                Value::Text(t) if t.trim().is_empty() => refuse("\"\"".to_owned()),
                Value::Text(t) => refuse(format!("{t:?}")),
                other => refuse(other.to_string()),
            }
        }
    }

    /// `v` brought into range: numbers clamped (NaN becomes the default), an unknown sampler
    /// replaced by the default; other values as they are.
    pub fn clamp(self, v: Value) -> Value {
        match self.info().allowed {
            Allowed::Int(b) => match v {
                Value::Int(i) => Value::Int(i.clamp(i64::from(b.min), i64::from(b.max))),
                v => v,
            },
            Allowed::Num(b) => match v {
                Value::Num(n) => Value::Num(b.clamp(n)),
                v => v,
            },
            Allowed::Seed { .. } => match v {
                Value::Int(s) => Value::Int(s.clamp(RANDOM_SEED, MAX_SEED)),
                v => v,
            },
            Allowed::OneOf { names, default } => match v {
                Value::Text(t) if !names.contains(&t.as_str()) => Value::Text(default.to_owned()),
                v => v,
            },
            Allowed::Text | Allowed::Bool { .. } => v,
        }
    }

    /// How `v` is shown to the user (details panes, captions).
    pub fn show(self, v: &Value) -> String {
        match (self.info().shown, v) {
            (Shown::Decimals(d), Value::Num(n)) => {
                let plain = n.to_string();
                let have = plain.split_once('.').map_or(0, |(_, f)| f.len());
                if n.is_finite() && have < d {
                    format!("{n:.d$}")
                } else {
                    plain
                }
            }
            (Shown::Plain | Shown::Decimals(_), v) => v.to_string(),
        }
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// A whole number: an integer, or a finite number rounded (`20.0`, `25.5` → 26).
fn whole(t: &str) -> Option<i64> {
    t.parse::<i64>().ok().or_else(|| {
        t.parse::<f64>()
            .ok()
            .filter(|f| f.is_finite())
            .map(|f| f.round() as i64)
    })
}

/// Every field's value, in the contract's order.
pub fn values(p: &GenParams) -> Vec<(Field, Value)> {
    Field::ALL.into_iter().map(|f| (f, get(p, f))).collect()
}

/// Every field of `p` as the user sees it, label and shown value, in the order the details panes
/// use (what matters most first: the table's `rank`, then the contract's order).
pub fn display(p: &GenParams) -> Vec<(Field, String)> {
    let mut fields = Field::ALL;
    fields.sort_by_key(|f| (f.info().rank, *f as usize));
    fields
        .into_iter()
        .map(|f| (f, f.show(&get(p, f))))
        .collect()
}

/// The rows of the details panes (the Result tab and the gallery): [`display`]'s, without the
/// fields the table marks as not shown there. Each pane adds its own rows after these (the image's
/// size, the file, the cost, …).
pub fn details(p: &GenParams) -> Vec<(Field, String)> {
    display(p)
        .into_iter()
        .filter(|(f, _)| f.info().in_details)
        .collect()
}

/// The request field a server message names (the input image included), if any: the longest name
/// found in it, so that `image_format` is not read as `image`.
pub fn field_named_in(message: &str) -> Option<&'static str> {
    let m = message.to_ascii_lowercase();
    Field::ALL
        .iter()
        .map(|f| f.wire())
        .chain([IMAGE])
        .filter(|name| m.contains(name))
        .max_by_key(|name| name.len())
}

mod list;
pub use list::{Field, FieldType, GenParams, get, set};

mod a1111;
pub use a1111::{
    A1111, A1111_LINE, A1111_MODEL_KEY, A1111_SIZE_KEY, A1111_UNIT, A1111_UNIT_KEY, A1111Item,
    A1111Key, UNIT_GUIDANCE_START, UnitItem, UnitKey, a1111_field, a1111_pairs, a1111_unit,
    a1111_unit_field, unit_module,
};

#[cfg(test)]
mod tests;
