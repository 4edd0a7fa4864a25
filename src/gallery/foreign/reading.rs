//! Settings being read from another tool's metadata: every value goes through the field table
//! ([`crate::api::fields`]) and is clamped into this service's range, and every value that was
//! clamped or has no counterpart here becomes a note, one sentence each, so that nothing is
//! guessed silently. Also the maps from other tools' names (samplers, schedulers, ControlNet
//! preprocessors and models) to this API's.

use crate::api::fields::{self, Field, Value};
use crate::api::params::{SAMPLERS, is_known_sampler};
use crate::api::{CnType, GenParams, MODEL, Scheduler};

/// The longest part of another tool's text quoted in a note.
const QUOTE_MAX: usize = 60;

/// Settings read so far, and the notes on them.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct Reading {
    pub p: GenParams,
    pub notes: Vec<String>,
    /// Whether anything about a ControlNet was read (else [`Reading::finish`] says the control
    /// settings are this app's defaults).
    pub control: bool,
}

impl Reading {
    pub fn new() -> Reading {
        Reading::default()
    }

    /// Adds a note (what was clamped or not used, and why).
    pub fn note(&mut self, note: impl Into<String>) {
        let n = note.into();
        if !self.notes.contains(&n) {
            self.notes.push(n);
        }
    }

    /// Sets `field` to `v`, clamped into its range; a clamped value is noted under `from` (the
    /// tool's own name for the setting).
    pub fn set(&mut self, field: Field, from: &str, v: Value) {
        if matches!(field, Field::CnType | Field::CnStrength | Field::CnStop) {
            self.control = true;
        }
        let clamped = field.clamp(v.clone());
        if clamped != v {
            self.note(format!(
                "{from} {} is outside what the service allows ({}): {} is used",
                shown(&v),
                field.allowed_text(),
                shown(&clamped)
            ));
        }
        if fields::set(&mut self.p, field, clamped).is_err() {
            self.note(format!("{from} {} cannot be used", shown(&v)));
        }
    }

    /// Sets a numeric field from a number (whole-number fields rounded); NaN and infinities are
    /// noted and not used.
    pub fn number(&mut self, field: Field, from: &str, n: f64) {
        if !n.is_finite() {
            self.note(format!("{from} {n} is not a usable number: not used"));
            return;
        }
        let v = match field.info().allowed {
            fields::Allowed::Num(_) => Value::Num(n),
            // `as` saturates: a huge number becomes i64::MAX and is then clamped (and noted).
            _ => Value::Int(n.round() as i64),
        };
        self.set(field, from, v);
    }

    /// Sets a numeric field from a JSON value: a number (integers exactly, even past `i64`, which
    /// are clamped), or a string holding one. Anything else is noted and not used.
    pub fn json_number(&mut self, field: Field, from: &str, v: &serde_json::Value) {
        let int_field = !matches!(field.info().allowed, fields::Allowed::Num(_));
        if let (true, Some(i)) = (int_field, v.as_i64()) {
            self.set(field, from, Value::Int(i));
        } else if let (true, Some(u)) = (int_field, v.as_u64()) {
            // Past i64 (ComfyUI seeds go to 2^64 - 1): said as it was, then clamped.
            let clamped = field.clamp(Value::Int(i64::MAX));
            self.note(format!(
                "{from} {u} is outside what the service allows ({}): {} is used",
                field.allowed_text(),
                shown(&clamped)
            ));
            if matches!(field, Field::CnType | Field::CnStrength | Field::CnStop) {
                self.control = true;
            }
            let _ = fields::set(&mut self.p, field, clamped);
        } else if let Some(n) = v.as_f64() {
            self.number(field, from, n);
        } else if let Some(n) = v.as_str().and_then(|s| s.trim().parse::<f64>().ok()) {
            self.number(field, from, n);
        } else {
            self.note(format!(
                "{from} {} is not a number: not used",
                quote(&v.to_string())
            ));
        }
    }

    /// Sets the sampler from another tool's name (A1111's labels, ComfyUI's and InvokeAI's
    /// names); names such as `DPM++ 2M Karras` or `dpmpp_2m_k` set the scheduler too. A name
    /// with no counterpart is noted and the sampler is left as it is.
    pub fn sampler(&mut self, from: &str, name: &str) {
        match map_sampler(name) {
            Some((s, sched)) => {
                self.p.sampler = s.to_owned();
                if let Some(sched) = sched {
                    self.p.scheduler = sched;
                }
            }
            None => {
                let kept = self.p.sampler.clone();
                self.note(format!(
                    "{from} {} has no counterpart among this service's samplers: {kept} is used",
                    quote(name)
                ));
            }
        }
    }

    /// Sets the scheduler from another tool's name; an unknown one is noted and not used.
    pub fn scheduler(&mut self, from: &str, name: &str) {
        match map_scheduler(name) {
            Some(s) => self.p.scheduler = s,
            None => {
                let kept = self.p.scheduler;
                self.note(format!(
                    "{from} {} has no counterpart among this service's schedulers ({}): {kept} is used",
                    quote(name),
                    Scheduler::NAMES.join(", ")
                ));
            }
        }
    }

    /// Sets the control type from a preprocessor or ControlNet model name; `false` (and nothing
    /// noted) when the name says nothing about it.
    pub fn cn_type_from(&mut self, name: &str) -> bool {
        match map_cn(name) {
            Some(t) => {
                self.p.cn_type = t;
                self.control = true;
                true
            }
            None => false,
        }
    }

    /// Notes that none of `names` (what the tool said about its ControlNet) maps to a control type.
    pub fn unknown_control(&mut self, names: &[&str]) {
        self.control = true;
        let shown: Vec<String> = names.iter().map(|n| quote(n)).collect();
        let kept = self.p.cn_type;
        self.note(format!(
            "ControlNet {} matches none of this service's control types ({}): {kept} is used",
            shown.join(" / "),
            CnType::NAMES.join(", ")
        ));
    }

    /// Sets the output size wanted (so not the input's size), clamped.
    pub fn size(&mut self, from: &str, width: i64, height: i64) {
        self.set(
            Field::CustomWidth,
            &format!("{from} width"),
            Value::Int(width),
        );
        self.set(
            Field::CustomHeight,
            &format!("{from} height"),
            Value::Int(height),
        );
        self.p.use_input_img_dimension = false;
    }

    /// Notes a negative prompt, which this service does not take.
    pub fn negative(&mut self, text: &str) {
        if !text.trim().is_empty() {
            self.note(format!(
                "the negative prompt {} is not used: Flux ControlNet takes none",
                quote(text.trim())
            ));
        }
    }

    /// Notes a model that is not this service's.
    pub fn model(&mut self, what: &str, name: &str) {
        let n = name.trim();
        if !n.is_empty() && !n.eq_ignore_ascii_case(MODEL) {
            self.note(format!(
                "the {what} {} is not used: this service always runs {MODEL}",
                quote(n)
            ));
        }
    }

    /// The settings and notes read; when nothing was said about a ControlNet, a note says that the
    /// control settings are this app's defaults.
    pub fn finish(mut self) -> (GenParams, Vec<String>) {
        if !self.control {
            let p = &self.p;
            self.notes.push(format!(
                "it names no ControlNet: the control settings are this app's defaults (cn_type {}, cn_strength {}, cn_stop {})",
                p.cn_type, p.cn_strength, p.cn_stop
            ));
        }
        (self.p, self.notes)
    }

    /// Notes a setting that has no counterpart here.
    pub fn unused(&mut self, what: &str, value: &str) {
        self.note(format!(
            "{what} {} has no counterpart here: not used",
            quote(value)
        ));
    }
}

/// A value as a note shows it.
fn shown(v: &Value) -> String {
    match v {
        Value::Text(t) => quote(t),
        other => other.to_string(),
    }
}

/// Another tool's text in a note: quoted, on one line, cut to [`QUOTE_MAX`] characters.
pub(crate) fn quote(text: &str) -> String {
    let one_line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut cut: String = one_line.chars().take(QUOTE_MAX).collect();
    if cut.len() < one_line.len() {
        cut.push('…');
    }
    format!("\"{cut}\"")
}

/// Maps a preprocessor or model name (ours, A1111's, ComfyUI's or InvokeAI's) to a control type.
pub(crate) fn map_cn(v: &str) -> Option<CnType> {
    let l = v.trim().to_ascii_lowercase();
    if let Ok(t) = l.parse::<CnType>() {
        return Some(t);
    }
    if l.contains("openpose") || l.contains("pose") || l.contains("dwpose") {
        Some(CnType::Pose)
    } else if l.contains("depth") || l.contains("midas") || l.contains("zoe") {
        Some(CnType::Depth)
    } else if l.contains("canny") {
        Some(CnType::Canny)
    } else if l.contains("tile") {
        Some(CnType::Tile)
    } else {
        None
    }
}

/// Maps a scheduler name (ours, A1111's "Schedule type" label, ComfyUI's) to ours.
pub(crate) fn map_scheduler(v: &str) -> Option<Scheduler> {
    let l = v.trim().to_ascii_lowercase().replace([' ', '-'], "_");
    if let Ok(s) = l.parse::<Scheduler>() {
        return Some(s);
    }
    match l.as_str() {
        "ddim" => Some(Scheduler::DdimUniform),
        "sgm" => Some(Scheduler::SgmUniform),
        _ => None,
    }
}

/// Maps a sampler name to ours, with the scheduler the name implies: A1111's labels (`Euler a`,
/// `DPM++ 2M Karras`), ComfyUI's names (ours are its), InvokeAI's (`euler_a`, `dpmpp_2m_k`).
pub(crate) fn map_sampler(v: &str) -> Option<(&'static str, Option<Scheduler>)> {
    let raw = v.trim();
    if let Some(s) = SAMPLERS.iter().copied().find(|s| *s == raw) {
        return Some((s, None));
    }
    let mut l = raw.to_ascii_lowercase();
    let mut sched = None;
    for (suffix, s) in [
        (" karras", Scheduler::Karras),
        (" exponential", Scheduler::Exponential),
        ("_k", Scheduler::Karras),
    ] {
        if let Some(stripped) = l.strip_suffix(suffix) {
            sched = Some(s);
            l = stripped.to_owned();
            break;
        }
    }
    let mapped = match l.as_str() {
        "euler a" | "euler_a" => "euler_ancestral",
        "dpm2" | "kdpm_2" => "dpm_2",
        "dpm2 a" | "kdpm_2_a" => "dpm_2_ancestral",
        "dpm fast" => "dpm_fast",
        "dpm adaptive" => "dpm_adaptive",
        "dpm++ 2s a" => "dpmpp_2s_ancestral",
        "dpm++ sde" => "dpmpp_sde",
        "dpm++ 2m" => "dpmpp_2m",
        "dpm++ 2m sde" => "dpmpp_2m_sde",
        "dpm++ 3m sde" => "dpmpp_3m_sde",
        other => {
            let snake = other.replace([' ', '-'], "_");
            return SAMPLERS
                .iter()
                .copied()
                .find(|s| *s == snake)
                .map(|s| (s, sched));
        }
    };
    is_known_sampler(mapped).then_some((mapped, sched))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sampler_names_of_every_tool_map() {
        let cases = [
            ("Euler a", ("euler_ancestral", None)),
            ("DPM++ 2M Karras", ("dpmpp_2m", Some(Scheduler::Karras))),
            ("DPM++ 2M SDE", ("dpmpp_2m_sde", None)),
            (
                "DPM++ 2M SDE Exponential",
                ("dpmpp_2m_sde", Some(Scheduler::Exponential)),
            ),
            (
                "DPM2 a Karras",
                ("dpm_2_ancestral", Some(Scheduler::Karras)),
            ),
            ("euler_a", ("euler_ancestral", None)),
            ("dpmpp_2m_k", ("dpmpp_2m", Some(Scheduler::Karras))),
            ("kdpm_2_a", ("dpm_2_ancestral", None)),
            ("dpmpp_2m_sde_gpu", ("dpmpp_2m_sde_gpu", None)),
            ("LCM", ("lcm", None)),
        ];
        for (name, want) in cases {
            assert_eq!(map_sampler(name), Some(want), "{name}");
        }
        for unknown in ["UniPC", "unipc_k", "DDIM", "res_multistep", "", "Restart"] {
            assert_eq!(map_sampler(unknown), None, "{unknown}");
        }
    }

    #[test]
    fn clamps_and_unknown_names_are_noted() {
        let mut r = Reading::new();
        r.number(Field::Steps, "Steps", 150.0);
        r.json_number(Field::Seed, "seed", &serde_json::json!(u64::MAX));
        r.json_number(Field::Guidance, "cfg", &serde_json::json!("4.5"));
        r.json_number(Field::Steps, "steps", &serde_json::json!([1]));
        r.sampler("sampler", "UniPC");
        r.scheduler("scheduler", "kl_optimal");
        r.negative("  ");
        r.negative("blurry");
        r.model("checkpoint", MODEL);
        r.model("checkpoint", "sd_xl_base_1.0.safetensors");
        assert_eq!((r.p.steps, r.p.guidance), (75, 4.5));
        assert_eq!(r.p.seed, crate::api::params::MAX_SEED);
        let all = r.notes.join("\n");
        assert_eq!(r.notes.len(), 7, "{all}");
        assert!(
            all.contains("Steps 150 is outside what the service allows (15 to 75): 75 is used")
        );
        assert!(all.contains("\"UniPC\" has no counterpart"), "{all}");
        assert!(all.contains("\"kl_optimal\""), "{all}");
        assert!(all.contains("negative prompt \"blurry\""), "{all}");
        assert!(all.contains("sd_xl_base_1.0"), "{all}");
        assert!(all.contains("steps \"[1]\" is not a number"), "{all}");
        assert!(
            all.contains(&format!("seed {} is outside", u64::MAX)),
            "{all}"
        );
    }

    #[test]
    fn quotes_are_short_and_on_one_line() {
        assert_eq!(quote("a\n b"), "\"a b\"");
        let long = "é".repeat(100);
        assert_eq!(quote(&long).chars().count(), QUOTE_MAX + 3);
    }
}
