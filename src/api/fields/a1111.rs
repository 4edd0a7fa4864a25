//! How the fields appear in AUTOMATIC1111 "parameters" text: each field's key (the table's
//! [`FieldInfo::a1111`](super::FieldInfo)), the settings line's layout, the ControlNet unit the way
//! sd-webui-controlnet records one, and the lookup of a key read back. The text format itself
//! (quoting, other tools' names) is `gallery::a1111`'s.

use super::{Field, get};
use crate::api::MODEL;
use crate::api::params::{CnType, GenParams};

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
    /// A setting of the ControlNet unit, `ControlNet 0: "Module: …, Weight: …, Guidance End: …"`,
    /// as sd-webui-controlnet writes and reads it (see [`A1111_UNIT`]).
    Unit(UnitKey),
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

/// A field's key inside the ControlNet unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnitKey {
    /// The key inside the unit, sd-webui-controlnet's (`Module`, `Weight`, `Guidance End`).
    pub key: &'static str,
    /// Keys of the settings line itself read as this field (lowercase): those fluxcn wrote before
    /// it wrote units (`ControlNet strength: 0.45`), and other tools' names.
    pub line_keys: &'static [&'static str],
}

/// A1111's key for the image's size (`Size: 1024x768`).
pub const A1111_SIZE_KEY: &str = "Size";
/// A1111's key for the model (written, never read).
pub const A1111_MODEL_KEY: &str = "Model";
/// The key of the one ControlNet unit written (sd-webui-controlnet numbers its units from 0).
pub const A1111_UNIT_KEY: &str = "ControlNet 0";
/// The unit's start of guidance: this service's control always acts from the first step.
pub const UNIT_GUIDANCE_START: &str = "Guidance Start";

/// One item of the A1111 settings line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum A1111Item {
    /// A field written under its [`A1111Key`].
    Key(Field),
    /// `Size: WIDTHxHEIGHT`.
    Size,
    /// `Model: flux-controlnet`.
    Model,
    /// `ControlNet 0: "…"`, the fields whose key is an [`A1111::Unit`] (see [`A1111_UNIT`]).
    Unit,
}

/// The settings line's items in the order written: `Steps: 20, Sampler: euler, Schedule type:
/// simple, CFG scale: 3.5, Seed: 652889, Size: 1024x1024, Model: flux-controlnet, ControlNet 0:
/// "Module: openpose, Model: flux-controlnet-pose, Weight: 0.45, Guidance Start: 0, Guidance End:
/// 0.5"`.
pub const A1111_LINE: [A1111Item; 8] = [
    A1111Item::Key(Field::Steps),
    A1111Item::Key(Field::Sampler),
    A1111Item::Key(Field::Scheduler),
    A1111Item::Key(Field::Guidance),
    A1111Item::Key(Field::Seed),
    A1111Item::Size,
    A1111Item::Model,
    A1111Item::Unit,
];

/// One item of the ControlNet unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnitItem {
    /// A field written under its [`UnitKey`].
    Key(Field),
    /// `Model: flux-controlnet-pose`: the service's model and the control type.
    Model,
    /// `Guidance Start: 0`.
    GuidanceStart,
}

/// The unit's items in sd-webui-controlnet's order (its `ControlNetUnit` fields: module, model,
/// weight, …, guidance_start, guidance_end).
pub const A1111_UNIT: [UnitItem; 5] = [
    UnitItem::Key(Field::CnType),
    UnitItem::Model,
    UnitItem::Key(Field::CnStrength),
    UnitItem::GuidanceStart,
    UnitItem::Key(Field::CnStop),
];

/// sd-webui-controlnet's preprocessor ("module") for a control type: the one A1111 users pick for
/// it, and what the parser maps back.
pub const fn unit_module(t: CnType) -> &'static str {
    match t {
        CnType::Depth => "depth_midas",
        CnType::Canny => "canny",
        CnType::Pose => "openpose",
        CnType::Tile => "tile_resample",
    }
}

/// The unit's text for `p`, unquoted: `Module: openpose, Model: flux-controlnet-pose, Weight: 0.45,
/// Guidance Start: 0, Guidance End: 0.5` (values hold no `,` or `:`, as sd-webui-controlnet's
/// own parser needs).
pub fn a1111_unit(p: &GenParams) -> String {
    let items: Vec<String> = A1111_UNIT
        .iter()
        .filter_map(|item| match *item {
            UnitItem::Key(Field::CnType) => {
                let key = unit_key(Field::CnType)?;
                Some(format!("{key}: {}", unit_module(p.cn_type)))
            }
            UnitItem::Key(f) => Some(format!("{}: {}", unit_key(f)?, get(p, f))),
            UnitItem::Model => Some(format!("{A1111_MODEL_KEY}: {MODEL}-{}", p.cn_type)),
            UnitItem::GuidanceStart => Some(format!("{UNIT_GUIDANCE_START}: 0")),
        })
        .collect();
    items.join(", ")
}

fn unit_key(f: Field) -> Option<&'static str> {
    match f.info().a1111 {
        A1111::Unit(u) => Some(u.key),
        _ => None,
    }
}

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
            A1111Item::Unit => Some((A1111_UNIT_KEY, a1111_unit(p))),
        })
        .collect()
}

/// The field an A1111 key of the settings line (any case) is read as, and whether it is one of the
/// field's preferred keys. `Size` is not here (it sets two fields; see [`A1111_SIZE_KEY`]), nor
/// are the unit's keys (see [`a1111_unit_field`]).
pub fn a1111_field(key: &str) -> Option<(Field, bool)> {
    let k = key.trim().to_ascii_lowercase();
    Field::ALL.into_iter().find_map(|f| match f.info().a1111 {
        A1111::Key(a) if a.preferred.contains(&k.as_str()) => Some((f, true)),
        A1111::Key(a) if a.key.eq_ignore_ascii_case(&k) || a.also.contains(&k.as_str()) => {
            Some((f, false))
        }
        A1111::Unit(u) if u.line_keys.contains(&k.as_str()) => Some((f, false)),
        _ => None,
    })
}

/// The field a key inside a ControlNet unit (any case) is read as: `Weight` → `cn_strength`.
pub fn a1111_unit_field(key: &str) -> Option<Field> {
    let k = key.trim();
    Field::ALL.into_iter().find(|f| match f.info().a1111 {
        A1111::Unit(u) => u.key.eq_ignore_ascii_case(k),
        _ => false,
    })
}
