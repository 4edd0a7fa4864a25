//! The generation parameters of the Flux ControlNet contract (`shared/CONTRACT.md`): every field with
//! its documented default, range and enum, and the validation that runs before anything is sent.
//!
//! Ranges and lists are data in one place ([`STEPS`], [`SAMPLERS`], …) so that the UI sliders, the CLI,
//! the stand-in server and the validation all read the same numbers; which field uses which, and how
//! each is named, shown and written, is the table in [`super::fields`].
//!
//! Validation happens once, at one boundary: [`GenParams::validate_into`] gives a [`ValidParams`],
//! the only thing a request body ([`WireBody`]) is built from.

use std::fmt;
use std::ops::Deref;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

pub use super::fields::GenParams;
use super::fields::{self, Field};

/// An inclusive numeric range with the contract's default.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bounds<T> {
    pub min: T,
    pub max: T,
    pub default: T,
}

impl<T: PartialOrd + Copy> Bounds<T> {
    /// Whether `v` lies inside the range (NaN never does).
    pub fn contains(&self, v: T) -> bool {
        v >= self.min && v <= self.max
    }
    /// `v` clamped into the range (NaN becomes the default).
    pub fn clamp(&self, v: T) -> T {
        if v < self.min {
            self.min
        } else if v > self.max {
            self.max
        } else if v >= self.min {
            v
        } else {
            // Only reachable for NaN-like values that compare false both ways.
            self.default
        }
    }
}

pub const STEPS: Bounds<u32> = Bounds {
    min: 15,
    max: 75,
    default: 20,
};
pub const GUIDANCE: Bounds<f64> = Bounds {
    min: 1.0,
    max: 15.0,
    default: 3.5,
};
pub const CN_STRENGTH: Bounds<f64> = Bounds {
    min: 0.0,
    max: 2.0,
    default: 0.45,
};
pub const CN_STOP: Bounds<f64> = Bounds {
    min: 0.0,
    max: 1.0,
    default: 0.5,
};
pub const SIZE: Bounds<u32> = Bounds {
    min: 64,
    max: 4096,
    default: 1024,
};
pub const QUALITY: Bounds<u32> = Bounds {
    min: 10,
    max: 100,
    default: 95,
};
pub const SAMPLES: Bounds<u32> = Bounds {
    min: 1,
    max: 4,
    default: 1,
};
/// The seed of the contract's own example request.
pub const DEFAULT_SEED: i64 = 652_889;
/// `-1` asks the server for a random seed; the seed used comes back in `x-seed-value`.
pub const RANDOM_SEED: i64 = -1;
/// The largest seed we send (JavaScript-safe integers; the gateway is a JSON service).
pub const MAX_SEED: i64 = (1 << 53) - 1;

/// The largest seed fluxcn picks at random: ten digits at most, which every tool and every person
/// copies without trouble (the contract allows up to [`MAX_SEED`]).
pub const MAX_RANDOM_SEED: i64 = u32::MAX as i64;

/// A seed picked at random (0 to [`MAX_RANDOM_SEED`]): the one place fluxcn chooses one.
pub fn random_seed() -> i64 {
    fastrand::i64(0..=MAX_RANDOM_SEED)
}

/// The 26 sampler names, in ComfyUI's `KSAMPLER_NAMES` order (see the contract: an inference from the
/// page's count and order, kept here as data so it can change in one place).
pub const SAMPLERS: [&str; 26] = [
    "euler",
    "euler_cfg_pp",
    "euler_ancestral",
    "euler_ancestral_cfg_pp",
    "heun",
    "heunpp2",
    "dpm_2",
    "dpm_2_ancestral",
    "lms",
    "dpm_fast",
    "dpm_adaptive",
    "dpmpp_2s_ancestral",
    "dpmpp_2s_ancestral_cfg_pp",
    "dpmpp_sde",
    "dpmpp_sde_gpu",
    "dpmpp_2m",
    "dpmpp_2m_cfg_pp",
    "dpmpp_2m_sde",
    "dpmpp_2m_sde_gpu",
    "dpmpp_3m_sde",
    "dpmpp_3m_sde_gpu",
    "ddpm",
    "lcm",
    "ipndm",
    "ipndm_v",
    "deis",
];
pub const DEFAULT_SAMPLER: &str = "euler";

/// A parameter that the API would refuse, found before anything was sent.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{field} = {value} is not allowed: {allowed}")]
pub struct ParamError {
    /// The wire name of the field, e.g. `steps`.
    pub field: &'static str,
    /// The offending value as the user gave it.
    pub value: String,
    /// What is allowed, e.g. `15 to 75`.
    pub allowed: String,
}

impl ParamError {
    pub fn new(field: &'static str, value: impl fmt::Display, allowed: impl Into<String>) -> Self {
        Self {
            field,
            value: value.to_string(),
            allowed: allowed.into(),
        }
    }

    /// The field named, when it is one of the table's (not for `request` and the like).
    pub fn field_id(&self) -> Option<Field> {
        Field::from_wire(self.field)
    }
}

macro_rules! wire_enum {
    ($(#[$m:meta])* $name:ident, $field:expr, default $def:ident, { $($var:ident => $s:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub enum $name {
            $(#[serde(rename = $s)] $var),+
        }

        impl $name {
            /// Every value, in the contract's order.
            pub const ALL: &'static [$name] = &[$($name::$var),+];
            /// Every wire name, in the contract's order.
            pub const NAMES: &'static [&'static str] = &[$($s),+];
            /// The default's wire name.
            pub const DEFAULT_NAME: &'static str = $name::$def.as_str();
            /// The wire name.
            pub const fn as_str(self) -> &'static str {
                match self { $($name::$var => $s),+ }
            }
        }

        impl Default for $name {
            fn default() -> Self { $name::$def }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result { f.write_str(self.as_str()) }
        }

        impl FromStr for $name {
            type Err = ParamError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                let t = s.trim();
                $name::ALL
                    .iter()
                    .copied()
                    .find(|v| v.as_str().eq_ignore_ascii_case(t))
                    .ok_or_else(|| ParamError::new($field.wire(), format!("{s:?}"), $field.allowed_text()))
            }
        }
    };
}

wire_enum!(
    /// Which preprocessor and ControlNet the server applies to the input image.
    CnType, Field::CnType, default Pose, {
        Depth => "depth",
        Canny => "canny",
        Pose => "pose",
        Tile => "tile",
    }
);

wire_enum!(
    /// The noise schedule.
    Scheduler, Field::Scheduler, default Simple, {
        Normal => "normal",
        Karras => "karras",
        Exponential => "exponential",
        SgmUniform => "sgm_uniform",
        Simple => "simple",
        DdimUniform => "ddim_uniform",
        Beta => "beta",
    }
);

wire_enum!(
    /// The encoding of the generated image.
    ImageFormat, Field::ImageFormat, default Jpeg, {
        Jpeg => "jpeg",
        Png => "png",
        Webp => "webp",
    }
);

impl ImageFormat {
    /// The usual file extension.
    pub fn extension(self) -> &'static str {
        match self {
            ImageFormat::Jpeg => "jpg",
            ImageFormat::Png => "png",
            ImageFormat::Webp => "webp",
        }
    }
    /// The MIME type.
    pub fn mime(self) -> &'static str {
        match self {
            ImageFormat::Jpeg => "image/jpeg",
            ImageFormat::Png => "image/png",
            ImageFormat::Webp => "image/webp",
        }
    }
    /// Recognises an answer's image by its first bytes (`image`'s magic numbers, as every sniff
    /// here), never by a header's say-so: one of the three formats the contract returns.
    pub fn sniff(bytes: &[u8]) -> Option<ImageFormat> {
        match image::guess_format(bytes).ok()? {
            image::ImageFormat::Jpeg => Some(ImageFormat::Jpeg),
            image::ImageFormat::Png => Some(ImageFormat::Png),
            image::ImageFormat::WebP => Some(ImageFormat::Webp),
            _ => None,
        }
    }
}

/// Whether `name` is one of [`SAMPLERS`].
pub fn is_known_sampler(name: &str) -> bool {
    SAMPLERS.contains(&name)
}

/// A prompt as the model reads it: runs of whitespace (and whitespace at either end) do not change
/// the picture, so two prompts with the same key are the same prompt for counting variations and
/// for the same-picture check. What is sent is never changed.
pub fn prompt_key(prompt: &str) -> String {
    prompt.split_whitespace().collect::<Vec<_>>().join(" ")
}

impl GenParams {
    /// Whether `self` and `other` make the same picture: every field equal, the prompts compared by
    /// [`prompt_key`].
    pub fn same_picture(&self, other: &GenParams) -> bool {
        prompt_key(&self.prompt) == prompt_key(&other.prompt)
            && GenParams {
                prompt: String::new(),
                ..self.clone()
            } == GenParams {
                prompt: String::new(),
                ..other.clone()
            }
    }

    /// Every problem the API would refuse, in wire order; empty when the parameters can be sent.
    pub fn problems(&self) -> Vec<ParamError> {
        fields::values(self)
            .into_iter()
            .filter_map(|(f, v)| f.check(&v).err())
            .collect()
    }

    /// `Ok` when the API would accept these parameters, else the first problem.
    pub fn validate(&self) -> Result<(), ParamError> {
        match self.problems().into_iter().next() {
            None => Ok(()),
            Some(e) => Err(e),
        }
    }

    /// The one boundary of validation: these parameters as a [`ValidParams`], or the first problem.
    pub fn validate_into(self) -> Result<ValidParams, ParamError> {
        self.validate()?;
        Ok(ValidParams(self))
    }

    /// A copy with every number clamped into its range and an unknown sampler replaced by the
    /// default: what a slider UI shows for any loaded state.
    pub fn clamped(&self) -> GenParams {
        let mut p = self.clone();
        for (f, v) in fields::values(self) {
            // A clamped value keeps its field's type and fits a `u32` field: `set` cannot refuse it.
            let _ = fields::set(&mut p, f, f.clamp(v));
        }
        p
    }
}

/// Parameters that passed validation: only [`GenParams::validate_into`] (or deserialising, which
/// validates too) makes one, and a request body is built only from one ([`WireBody::new`]).
/// Read the fields through `Deref`; to change one, take the [`GenParams`] back
/// ([`ValidParams::into_inner`]) and validate again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(into = "GenParams", try_from = "GenParams")]
pub struct ValidParams(GenParams);

impl ValidParams {
    /// The parameters, to edit (and validate again).
    pub fn into_inner(self) -> GenParams {
        self.0
    }

    /// The parameters.
    pub fn params(&self) -> &GenParams {
        &self.0
    }
}

impl Deref for ValidParams {
    type Target = GenParams;
    fn deref(&self) -> &GenParams {
        &self.0
    }
}

impl TryFrom<GenParams> for ValidParams {
    type Error = ParamError;
    fn try_from(p: GenParams) -> Result<Self, ParamError> {
        p.validate_into()
    }
}

impl From<ValidParams> for GenParams {
    fn from(v: ValidParams) -> GenParams {
        v.0
    }
}

/// The JSON body of a generation request: the input image (URL or plain base64) and validated
/// knobs, flat. Its fields are private: the only way to build one is [`WireBody::new`], from a
/// [`ValidParams`].
///
/// ```compile_fail
/// use fluxcn::api::params::{GenParams, WireBody};
/// let p = GenParams::default();
/// let body = WireBody::new("https://x/y.png", &p); // a GenParams is not a ValidParams
/// ```
#[derive(Debug, Serialize)]
pub struct WireBody<'a> {
    image: &'a str,
    #[serde(flatten)]
    params: &'a GenParams,
}

impl<'a> WireBody<'a> {
    pub fn new(image: &'a str, params: &'a ValidParams) -> Self {
        WireBody {
            image,
            params: &params.0,
        }
    }

    /// The body's JSON bytes.
    pub fn to_json(&self) -> Result<Vec<u8>, serde_json::Error> {
        serde_json::to_vec(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_contracts() {
        let p = GenParams::default();
        assert_eq!(p.sampler, "euler");
        assert_eq!(p.scheduler, Scheduler::Simple);
        assert_eq!(p.cn_type, CnType::Pose);
        assert_eq!(
            (p.steps, p.guidance, p.cn_strength, p.cn_stop),
            (20, 3.5, 0.45, 0.5)
        );
        assert_eq!(
            (p.custom_width, p.custom_height, p.quality, p.samples),
            (1024, 1024, 95, 1)
        );
        assert_eq!(p.image_format, ImageFormat::Jpeg);
        assert!(p.use_input_img_dimension);
        assert!(!p.base64);
    }

    #[test]
    fn every_bound_is_inclusive_and_one_past_is_refused() {
        let ok = GenParams {
            prompt: "x".into(),
            ..Default::default()
        };
        assert!(ok.validate().is_ok());
        type Set = fn(&mut GenParams, bool);
        let cases: [(&str, Set); 8] = [
            ("steps", |p, hi| p.steps = if hi { 76 } else { 14 }),
            ("guidance", |p, hi| {
                p.guidance = if hi { 15.0001 } else { 0.999 }
            }),
            ("cn_strength", |p, hi| {
                p.cn_strength = if hi { 2.001 } else { -0.001 }
            }),
            ("cn_stop", |p, hi| {
                p.cn_stop = if hi { 1.001 } else { -0.001 }
            }),
            ("custom_width", |p, hi| {
                p.custom_width = if hi { 4097 } else { 63 }
            }),
            ("custom_height", |p, hi| {
                p.custom_height = if hi { 4097 } else { 63 }
            }),
            ("quality", |p, hi| p.quality = if hi { 101 } else { 9 }),
            ("samples", |p, hi| p.samples = if hi { 5 } else { 0 }),
        ];
        for (field, set) in cases {
            for hi in [false, true] {
                let mut p = ok.clone();
                set(&mut p, hi);
                let e = p.validate().expect_err(field);
                assert_eq!(e.field, field);
            }
        }
        let edges = GenParams {
            steps: 75,
            guidance: 1.0,
            cn_strength: 2.0,
            cn_stop: 0.0,
            custom_width: 64,
            custom_height: 4096,
            quality: 10,
            samples: 4,
            seed: 0,
            ..ok.clone()
        };
        assert_eq!(edges.problems(), vec![]);
    }

    #[test]
    fn nan_and_bad_seeds_and_samplers_are_refused() {
        let p = GenParams {
            prompt: "x".into(),
            guidance: f64::NAN,
            ..Default::default()
        };
        assert_eq!(p.validate().unwrap_err().field, "guidance");
        let p = GenParams {
            prompt: "x".into(),
            seed: -2,
            ..Default::default()
        };
        assert_eq!(p.validate().unwrap_err().field, "seed");
        let p = GenParams {
            prompt: "x".into(),
            seed: -1,
            ..Default::default()
        };
        assert!(p.validate().is_ok());
        let p = GenParams {
            prompt: "x".into(),
            sampler: "euler_ancestra".into(),
            ..Default::default()
        };
        let e = p.validate().unwrap_err();
        assert_eq!(e.field, "sampler");
        assert!(e.to_string().contains("euler_ancestral"), "{e}");
        let p = GenParams {
            prompt: "  ".into(),
            ..Default::default()
        };
        assert_eq!(p.validate().unwrap_err().field, "prompt");
    }

    #[test]
    fn clamped_fixes_everything() {
        let p = GenParams {
            prompt: "x".into(),
            steps: 1000,
            guidance: f64::NAN,
            cn_strength: -5.0,
            samples: 0,
            sampler: "nope".into(),
            seed: -7,
            ..Default::default()
        };
        let c = p.clamped();
        assert_eq!(c.problems(), vec![]);
        assert_eq!(
            (c.steps, c.guidance, c.cn_strength, c.samples),
            (75, 3.5, 0.0, 1)
        );
    }

    #[test]
    fn enums_parse_and_print_their_wire_names() {
        assert_eq!(
            "SGM_UNIFORM".parse::<Scheduler>().unwrap(),
            Scheduler::SgmUniform
        );
        assert_eq!(Scheduler::DdimUniform.to_string(), "ddim_uniform");
        let e = "posee".parse::<CnType>().unwrap_err();
        assert_eq!(e.field, "cn_type");
        assert!(e.allowed.contains("depth, canny, pose, tile"));
        assert_eq!(SAMPLERS.len(), 26);
    }

    #[test]
    fn wire_json_has_every_field_flat() {
        let p = GenParams {
            prompt: "a cat".into(),
            ..Default::default()
        };
        let valid = p.validate_into().unwrap();
        let body = WireBody::new("https://x/y.png", &valid).to_json().unwrap();
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        let obj = v.as_object().unwrap();
        for k in [
            "image",
            "prompt",
            "sampler",
            "scheduler",
            "seed",
            "base64",
            "cn_stop",
            "cn_strength",
            "cn_type",
            "custom_height",
            "custom_width",
            "guidance",
            "image_format",
            "quality",
            "samples",
            "steps",
            "use_input_img_dimension",
        ] {
            assert!(obj.contains_key(k), "missing {k}");
        }
        // The image and every field of the table, nothing else.
        assert_eq!(obj.len(), Field::COUNT + 1);
        assert_eq!(obj["scheduler"], "simple");
        assert_eq!(obj["cn_type"], "pose");
    }

    #[test]
    fn only_validation_makes_valid_params_and_the_body_is_built_from_them() {
        let bad = GenParams::default();
        assert_eq!(bad.clone().validate_into().unwrap_err().field, "prompt");
        let ok = GenParams {
            prompt: "a cat".into(),
            ..Default::default()
        };
        let v = ok.clone().validate_into().unwrap();
        assert_eq!(v.params(), &ok);
        assert_eq!(v.steps, ok.steps);
        let body = WireBody::new("https://x/y.png", &v).to_json().unwrap();
        let flat: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(flat["image"], "https://x/y.png");
        assert_eq!(flat["prompt"], "a cat");
        // Serialised as the plain parameters; deserialising validates again.
        let json = serde_json::to_string(&v).unwrap();
        assert_eq!(json, serde_json::to_string(&ok).unwrap());
        assert_eq!(serde_json::from_str::<ValidParams>(&json).unwrap(), v);
        let e = serde_json::from_str::<ValidParams>(r#"{"prompt":"x","steps":500}"#).unwrap_err();
        assert!(e.to_string().contains("steps = 500"), "{e}");
        assert_eq!(GenParams::from(v.clone()), ok);
        assert_eq!(v.into_inner(), ok);
    }

    #[test]
    fn sniff_by_magic() {
        assert_eq!(
            ImageFormat::sniff(&[0xFF, 0xD8, 0xFF, 0xE0]),
            Some(ImageFormat::Jpeg)
        );
        assert_eq!(
            ImageFormat::sniff(b"\x89PNG\r\n\x1a\n...."),
            Some(ImageFormat::Png)
        );
        assert_eq!(
            ImageFormat::sniff(b"RIFF\0\0\0\0WEBPVP8 "),
            Some(ImageFormat::Webp)
        );
        assert_eq!(ImageFormat::sniff(b"<html>"), None);
        assert_eq!(ImageFormat::sniff(b""), None);
    }
}
