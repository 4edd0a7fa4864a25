//! How the fields appear in AUTOMATIC1111 "parameters" text: each field's key (the table's
//! [`FieldInfo::a1111`](super::FieldInfo)), the settings line's layout, and the lookup of a key read
//! back. The text format itself (quoting, units, other tools' names) is `gallery::a1111`'s.

use super::{Field, get};
use crate::api::MODEL;
use crate::api::params::GenParams;

/// How a field appears in A1111 "parameters" text (see `gallery::a1111` for the line's format).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum A1111 {
    /// Not written (only our JSON record has it); reading gives the default.
    None,
    /// The text before the settings line.
    Prompt,
    /// `Key: value` in the settings line.
    Key(A1111Key),
    /// One side of `Size: WIDTHxHEIGHT` (the image's actual size is written; read clamped).
    SizeWidth,
    /// The other side of `Size: WIDTHxHEIGHT`.
    SizeHeight,
    /// Not written; reading a `Size` sets it to `false` (the size read is the size wanted).
    SetBySize,
}

/// A field's key in A1111 text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct A1111Key {
    /// The key written, A1111's own name for the setting (`Steps`, `CFG scale`, …).
    pub key: &'static str,
    /// Other keys read as this field (lowercase): other tools' names.
    pub also: &'static [&'static str],
    /// Keys (lowercase) whose value wins over `key` and `also` wherever it appears in the line
    /// (Forge's `Distilled CFG Scale` is Flux's guidance; its `CFG scale` is then 1).
    pub preferred: &'static [&'static str],
}

/// A1111's key for the image's size (`Size: 1024x768`).
pub const A1111_SIZE_KEY: &str = "Size";
/// A1111's key for the model (written, never read).
pub const A1111_MODEL_KEY: &str = "Model";

/// One item of the A1111 settings line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum A1111Item {
    /// A field written under its [`A1111Key`].
    Key(Field),
    /// `Size: WIDTHxHEIGHT`.
    Size,
    /// `Model: flux-controlnet`.
    Model,
}

/// The settings line's items in the order written: `Steps: 20, Sampler: euler, Schedule type:
/// simple, CFG scale: 3.5, Seed: 652889, Size: 1024x1024, Model: flux-controlnet, ControlNet: pose,
/// ControlNet strength: 0.45, ControlNet stop: 0.5`.
pub const A1111_LINE: [A1111Item; 10] = [
    A1111Item::Key(Field::Steps),
    A1111Item::Key(Field::Sampler),
    A1111Item::Key(Field::Scheduler),
    A1111Item::Key(Field::Guidance),
    A1111Item::Key(Field::Seed),
    A1111Item::Size,
    A1111Item::Model,
    A1111Item::Key(Field::CnType),
    A1111Item::Key(Field::CnStrength),
    A1111Item::Key(Field::CnStop),
];

/// The settings line's `(key, value)` pairs for `p`, values unquoted, in [`A1111_LINE`]'s order;
/// `size` is the image's actual size.
pub fn a1111_pairs(p: &GenParams, size: (u32, u32)) -> Vec<(&'static str, String)> {
    A1111_LINE
        .iter()
        .filter_map(|item| match *item {
            A1111Item::Key(f) => match f.info().a1111 {
                A1111::Key(k) => Some((k.key, get(p, f).to_string())),
                _ => None,
            },
            A1111Item::Size => Some((A1111_SIZE_KEY, format!("{}x{}", size.0, size.1))),
            A1111Item::Model => Some((A1111_MODEL_KEY, MODEL.to_owned())),
        })
        .collect()
}

/// The field an A1111 key (any case) is read as, and whether it is one of the field's preferred
/// keys. `Size` is not here (it sets two fields; see [`A1111_SIZE_KEY`]).
pub fn a1111_field(key: &str) -> Option<(Field, bool)> {
    let k = key.trim().to_ascii_lowercase();
    Field::ALL.into_iter().find_map(|f| match f.info().a1111 {
        A1111::Key(a) if a.preferred.contains(&k.as_str()) => Some((f, true)),
        A1111::Key(a) if a.key.eq_ignore_ascii_case(&k) || a.also.contains(&k.as_str()) => {
            Some((f, false))
        }
        _ => None,
    })
}
