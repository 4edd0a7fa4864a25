//! The one table of the request's fields (`shared/CONTRACT.md`, "Request"): for every field of
//! [`GenParams`], described once in [`TABLE`], its wire name, the label the user sees, whether the
//! contract requires it, what is allowed and its default (the [`Bounds`] and lists of
//! [`super::params`]), how its value is shown, and how it is written to and read from A1111
//! "parameters" text ([`A1111`]).
//!
//! Everything that names, checks, shows or parses a field goes through here: validation
//! ([`GenParams::problems`], [`GenParams::clamped`]), the stand-in's validator, the details of the
//! Result tab and of the gallery ([`details`]), the A1111 writer and parser ([`a1111_pairs`],
//! [`a1111_field`]), the CLI's flags and a 400's field name ([`field_named_in`]). An X/Y grid axis
//! is a field too: [`Field::from_wire`] for its name, [`Field::numeric`] for `from:to:step`,
//! [`Field::parse`] for a value, [`set`] to apply it, [`Field::label`] and [`Field::show`] for its
//! caption.
//!
//! A new field of `GenParams` does not compile until [`display`] shows it, and a new [`Field`] not
//! until [`get`] and [`set`] handle it; the tests then ask for its row in [`TABLE`] (whose order is
//! checked at compile time).

use std::fmt;

use super::params::{
    self, Bounds, CN_STOP, CN_STRENGTH, CnType, DEFAULT_SAMPLER, DEFAULT_SEED, GUIDANCE, GenParams,
    ImageFormat, MAX_SEED, ParamError, QUALITY, RANDOM_SEED, SAMPLERS, SAMPLES, SIZE, STEPS,
    Scheduler,
};

/// The wire name of the input image: a request field that is not a knob (it is given per request,
/// not kept in [`GenParams`]).
pub const IMAGE: &str = "image";

/// One field of the request body besides the input image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Field {
    Prompt,
    Sampler,
    Scheduler,
    Seed,
    Base64,
    CnStop,
    CnStrength,
    CnType,
    CustomHeight,
    CustomWidth,
    Guidance,
    ImageFormat,
    Quality,
    Samples,
    Steps,
    UseInputImgDimension,
}

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
}

/// The table: each field described once, in the contract's order (a row's place is its field's
/// number, which a compile-time check below holds).
pub const TABLE: [FieldInfo; 16] = [
    row(
        Field::Prompt,
        "prompt",
        REQUIRED,
        Allowed::Text,
        A1111::Prompt,
    )
    .not_in_details(),
    row(
        Field::Sampler,
        "sampler",
        REQUIRED,
        one_of(&SAMPLERS, DEFAULT_SAMPLER),
        key("Sampler", &[]),
    ),
    row(
        Field::Scheduler,
        "scheduler",
        REQUIRED,
        one_of(Scheduler::NAMES, Scheduler::DEFAULT_NAME),
        key("Schedule type", &["scheduler"]),
    ),
    row(
        Field::Seed,
        "seed",
        REQUIRED,
        Allowed::Seed {
            default: DEFAULT_SEED,
        },
        key("Seed", &[]),
    ),
    row(
        Field::Base64,
        "base64",
        OPTIONAL,
        Allowed::Bool { default: false },
        A1111::None,
    )
    .not_in_details(),
    row(
        Field::CnStop,
        "cn_stop",
        OPTIONAL,
        Allowed::Num(CN_STOP),
        unit("Guidance End", &["controlnet stop", "controlnet end"]),
    )
    .decimals(1),
    row(
        Field::CnStrength,
        "cn_strength",
        OPTIONAL,
        Allowed::Num(CN_STRENGTH),
        unit("Weight", &["controlnet strength", "controlnet weight"]),
    )
    .decimals(1),
    row(
        Field::CnType,
        "cn_type",
        OPTIONAL,
        one_of(CnType::NAMES, CnType::DEFAULT_NAME),
        unit("Module", &["controlnet", "controlnet type"]),
    ),
    row(
        Field::CustomHeight,
        "custom_height",
        OPTIONAL,
        Allowed::Int(SIZE),
        A1111::SizeHeight,
    )
    .not_in_details(),
    row(
        Field::CustomWidth,
        "custom_width",
        OPTIONAL,
        Allowed::Int(SIZE),
        A1111::SizeWidth,
    )
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
    .decimals(1),
    row(
        Field::ImageFormat,
        "image_format",
        OPTIONAL,
        one_of(ImageFormat::NAMES, ImageFormat::DEFAULT_NAME),
        A1111::None,
    ),
    row(
        Field::Quality,
        "quality",
        OPTIONAL,
        Allowed::Int(QUALITY),
        A1111::None,
    ),
    row(
        Field::Samples,
        "samples",
        OPTIONAL,
        Allowed::Int(SAMPLES),
        A1111::None,
    )
    .not_in_details(),
    row(
        Field::Steps,
        "steps",
        OPTIONAL,
        Allowed::Int(STEPS),
        key("Steps", &[]),
    ),
    row(
        Field::UseInputImgDimension,
        "use_input_img_dimension",
        OPTIONAL,
        Allowed::Bool { default: true },
        A1111::SetBySize,
    )
    .not_in_details(),
];

// Each row sits at its field's number, so `Field::info` finds it.
const _: () = {
    let mut i = 0;
    while i < TABLE.len() {
        assert!(
            TABLE[i].field as usize == i,
            "TABLE is out of the fields' order"
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
    }
}

impl FieldInfo {
    const fn decimals(self, d: usize) -> FieldInfo {
        FieldInfo {
            shown: Shown::Decimals(d),
            ..self
        }
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
#[derive(Debug, Clone, PartialEq)]
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
    pub const ALL: [Field; 16] = {
        let mut all = [Field::Prompt; 16];
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

    /// The contract's default (for the prompt, which has none, the empty text).
    pub fn default_value(self) -> Value {
        get(&GenParams::default(), self)
    }

    /// Reads a value as a user types it (a flag, a grid axis, A1111 text): names are matched
    /// without regard to case (a sampler exactly), whole numbers may be written `20.0` (rounded).
    /// Only the type and the names are checked here; ranges are [`Field::check`]'s.
    pub fn parse(self, s: &str) -> Result<Value, ParamError> {
        let t = s.trim();
        let bad = |what: &str| {
            ParamError::new(
                self.wire(),
                format!("{s:?}"),
                format!("{what}, {}", self.allowed_text()),
            )
        };
        Ok(match self {
            Field::Prompt => Value::Text(s.to_owned()),
            Field::Sampler if params::is_known_sampler(t) => Value::Text(t.to_owned()),
            Field::Sampler => {
                return Err(ParamError::new(
                    self.wire(),
                    format!("{s:?}"),
                    self.allowed_text(),
                ));
            }
            Field::Scheduler => Value::Scheduler(t.parse()?),
            Field::CnType => Value::CnType(t.parse()?),
            Field::ImageFormat => Value::ImageFormat(t.parse()?),
            Field::Base64 | Field::UseInputImgDimension => match t.to_ascii_lowercase().as_str() {
                "true" => Value::Bool(true),
                "false" => Value::Bool(false),
                _ => return Err(bad("a boolean")),
            },
            Field::CnStop | Field::CnStrength | Field::Guidance => {
                Value::Num(t.parse::<f64>().map_err(|_| bad("a number"))?)
            }
            Field::Seed
            | Field::CustomHeight
            | Field::CustomWidth
            | Field::Quality
            | Field::Samples
            | Field::Steps => Value::Int(whole(t).ok_or_else(|| bad("a whole number"))?),
        })
    }

    /// `Ok` when the API accepts `v` for this field; else the error naming the field, the value and
    /// what is allowed. A value of another field's type is refused too.
    pub fn check(self, v: &Value) -> Result<(), ParamError> {
        let refuse = |shown: String| Err(ParamError::new(self.wire(), shown, self.allowed_text()));
        match (self.info().allowed, v) {
            (Allowed::Text, Value::Text(t)) if t.trim().is_empty() => refuse("\"\"".to_owned()),
            (Allowed::Text, Value::Text(_)) => Ok(()),
            (Allowed::OneOf { names, .. }, Value::Text(t)) if !names.contains(&t.as_str()) => {
                refuse(format!("{t:?}"))
            }
            (Allowed::OneOf { .. }, Value::Text(_)) if self == Field::Sampler => Ok(()),
            (Allowed::OneOf { .. }, Value::CnType(_)) if self == Field::CnType => Ok(()),
            (Allowed::OneOf { .. }, Value::Scheduler(_)) if self == Field::Scheduler => Ok(()),
            (Allowed::OneOf { .. }, Value::ImageFormat(_)) if self == Field::ImageFormat => Ok(()),
            (Allowed::Int(b), Value::Int(i)) => match u32::try_from(*i) {
                Ok(u) if b.contains(u) => Ok(()),
                _ => refuse(i.to_string()),
            },
            (Allowed::Num(b), Value::Num(n)) if b.contains(*n) => Ok(()),
            (Allowed::Seed { .. }, Value::Int(s))
                if *s == RANDOM_SEED || (0..=MAX_SEED).contains(s) =>
            {
                Ok(())
            }
            (Allowed::Bool { .. }, Value::Bool(_)) => Ok(()),
            (_, other) => refuse(other.to_string()),
        }
    }

    /// `v` brought into range: numbers clamped (NaN becomes the default), an unknown sampler
    /// replaced by the default; other values as they are.
    pub fn clamp(self, v: Value) -> Value {
        match (self.info().allowed, v) {
            (Allowed::Int(b), Value::Int(i)) => {
                Value::Int(i.clamp(i64::from(b.min), i64::from(b.max)))
            }
            (Allowed::Num(b), Value::Num(n)) => Value::Num(b.clamp(n)),
            (Allowed::Seed { .. }, Value::Int(s)) => Value::Int(s.clamp(RANDOM_SEED, MAX_SEED)),
            (Allowed::OneOf { names, default }, Value::Text(t)) if !names.contains(&t.as_str()) => {
                Value::Text(default.to_owned())
            }
            (_, v) => v,
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
            (_, v) => v.to_string(),
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

/// The value of `field` in `p`.
pub fn get(p: &GenParams, field: Field) -> Value {
    match field {
        Field::Prompt => Value::Text(p.prompt.clone()),
        Field::Sampler => Value::Text(p.sampler.clone()),
        Field::Scheduler => Value::Scheduler(p.scheduler),
        Field::Seed => Value::Int(p.seed),
        Field::Base64 => Value::Bool(p.base64),
        Field::CnStop => Value::Num(p.cn_stop),
        Field::CnStrength => Value::Num(p.cn_strength),
        Field::CnType => Value::CnType(p.cn_type),
        Field::CustomHeight => Value::Int(i64::from(p.custom_height)),
        Field::CustomWidth => Value::Int(i64::from(p.custom_width)),
        Field::Guidance => Value::Num(p.guidance),
        Field::ImageFormat => Value::ImageFormat(p.image_format),
        Field::Quality => Value::Int(i64::from(p.quality)),
        Field::Samples => Value::Int(i64::from(p.samples)),
        Field::Steps => Value::Int(i64::from(p.steps)),
        Field::UseInputImgDimension => Value::Bool(p.use_input_img_dimension),
    }
}

/// Sets `field` of `p` to `v` (not range-checked: see [`Field::check`]). Refuses a value of
/// another type, or a whole number a `u32` field cannot hold.
pub fn set(p: &mut GenParams, field: Field, v: Value) -> Result<(), ParamError> {
    let mismatch = |v: &Value| ParamError::new(field.wire(), v, field.allowed_text());
    let u32_of = |i: i64| u32::try_from(i).map_err(|_| mismatch(&Value::Int(i)));
    match (field, v) {
        (Field::Prompt, Value::Text(s)) => p.prompt = s,
        (Field::Sampler, Value::Text(s)) => p.sampler = s,
        (Field::Scheduler, Value::Scheduler(s)) => p.scheduler = s,
        (Field::Seed, Value::Int(i)) => p.seed = i,
        (Field::Base64, Value::Bool(b)) => p.base64 = b,
        (Field::CnStop, Value::Num(n)) => p.cn_stop = n,
        (Field::CnStrength, Value::Num(n)) => p.cn_strength = n,
        (Field::CnType, Value::CnType(t)) => p.cn_type = t,
        (Field::CustomHeight, Value::Int(i)) => p.custom_height = u32_of(i)?,
        (Field::CustomWidth, Value::Int(i)) => p.custom_width = u32_of(i)?,
        (Field::Guidance, Value::Num(n)) => p.guidance = n,
        (Field::ImageFormat, Value::ImageFormat(x)) => p.image_format = x,
        (Field::Quality, Value::Int(i)) => p.quality = u32_of(i)?,
        (Field::Samples, Value::Int(i)) => p.samples = u32_of(i)?,
        (Field::Steps, Value::Int(i)) => p.steps = u32_of(i)?,
        (Field::UseInputImgDimension, Value::Bool(b)) => p.use_input_img_dimension = b,
        (_, other) => return Err(mismatch(&other)),
    }
    Ok(())
}

/// Every field's value, in the contract's order.
pub fn values(p: &GenParams) -> Vec<(Field, Value)> {
    Field::ALL.into_iter().map(|f| (f, get(p, f))).collect()
}

/// Every field of `p` as the user sees it, label and shown value, in the order the details panes
/// use (what matters most first). Lists every field: a new one must be added here to compile.
pub fn display(p: &GenParams) -> Vec<(Field, String)> {
    let GenParams {
        prompt,
        sampler,
        scheduler,
        seed,
        base64,
        cn_stop,
        cn_strength,
        cn_type,
        custom_height,
        custom_width,
        guidance,
        image_format,
        quality,
        samples,
        steps,
        use_input_img_dimension,
    } = p;
    let rows = [
        (Field::Prompt, Value::Text(prompt.clone())),
        (Field::CnType, Value::CnType(*cn_type)),
        (Field::Seed, Value::Int(*seed)),
        (Field::Steps, Value::Int(i64::from(*steps))),
        (Field::Guidance, Value::Num(*guidance)),
        (Field::CnStrength, Value::Num(*cn_strength)),
        (Field::CnStop, Value::Num(*cn_stop)),
        (Field::Sampler, Value::Text(sampler.clone())),
        (Field::Scheduler, Value::Scheduler(*scheduler)),
        (Field::ImageFormat, Value::ImageFormat(*image_format)),
        (Field::Quality, Value::Int(i64::from(*quality))),
        (
            Field::UseInputImgDimension,
            Value::Bool(*use_input_img_dimension),
        ),
        (Field::CustomWidth, Value::Int(i64::from(*custom_width))),
        (Field::CustomHeight, Value::Int(i64::from(*custom_height))),
        (Field::Samples, Value::Int(i64::from(*samples))),
        (Field::Base64, Value::Bool(*base64)),
    ];
    rows.into_iter().map(|(f, v)| (f, f.show(&v))).collect()
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

mod a1111;
pub use a1111::{
    A1111, A1111_LINE, A1111_MODEL_KEY, A1111_SIZE_KEY, A1111_UNIT, A1111_UNIT_KEY, A1111Item,
    A1111Key, UNIT_GUIDANCE_START, UnitItem, UnitKey, a1111_field, a1111_pairs, a1111_unit,
    a1111_unit_field, unit_module,
};

#[cfg(test)]
mod tests;
