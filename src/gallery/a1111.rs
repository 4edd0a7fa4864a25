//! AUTOMATIC1111's "parameters" text: written into every PNG/JPEG we save (so other tools show the
//! settings), and read back, best effort, from images made by A1111, Forge, ComfyUI exports or us.
//!
//! The format: the prompt (any number of lines), optionally a `Negative prompt:` line, then one line
//! of `Key: value` pairs separated by commas, values optionally double-quoted (A1111 quotes values
//! that contain commas, e.g. its ControlNet units).

use crate::api::params::{
    CN_STOP, CN_STRENGTH, GUIDANCE, MAX_SEED, RANDOM_SEED, SAMPLERS, SIZE, STEPS, is_known_sampler,
};
use crate::api::{CnType, GenParams, MODEL, Scheduler};

use super::GalleryError;

/// The A1111 text for one image: prompt, then
/// `Steps: 20, Sampler: euler, Schedule type: simple, CFG scale: 3.5, Seed: 652889, Size: 1024x1024,
/// Model: flux-controlnet, ControlNet: pose, ControlNet strength: 0.45, ControlNet stop: 0.5`.
pub fn format_a1111(params: &GenParams, seed_used: i64, width: u32, height: u32) -> String {
    format!(
        "{}\nSteps: {}, Sampler: {}, Schedule type: {}, CFG scale: {}, Seed: {}, Size: {}x{}, Model: {}, ControlNet: {}, ControlNet strength: {}, ControlNet stop: {}",
        params.prompt.trim_end(),
        params.steps,
        quote(&params.sampler),
        params.scheduler,
        params.guidance,
        seed_used,
        width,
        height,
        MODEL,
        params.cn_type,
        params.cn_strength,
        params.cn_stop,
    )
}

/// Quotes a value the way A1111 does when it holds a separator.
fn quote(v: &str) -> String {
    if v.contains([',', ':', '"', '\n']) {
        format!("\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\""))
    } else {
        v.to_owned()
    }
}

/// Reads A1111 "parameters" text into settings, best effort: unknown keys are ignored, values out
/// of range are clamped (e.g. `Steps: 150` → 75), A1111's sampler and ControlNet names are mapped
/// to this API's. Errors name the key and value that could not be used.
pub fn parse_a1111(text: &str) -> Result<GenParams, GalleryError> {
    let text = text.trim_start_matches('\u{feff}');
    if text.trim().is_empty() {
        return Err(GalleryError::NotA1111 {
            reason: "the text is empty".into(),
        });
    }
    let lines: Vec<&str> = text.lines().collect();
    let Some(steps_at) = lines
        .iter()
        .rposition(|l| l.trim_start().starts_with("Steps:"))
    else {
        return Err(GalleryError::NotA1111 {
            reason: "there is no line starting with \"Steps:\"".into(),
        });
    };
    let prompt: Vec<&str> = lines[..steps_at]
        .iter()
        .take_while(|l| !l.trim_start().starts_with("Negative prompt:"))
        .copied()
        .collect();
    let mut p = GenParams {
        prompt: prompt.join("\n").trim().to_owned(),
        ..GenParams::default()
    };
    let settings = lines[steps_at..].join(", ");
    let pairs = split_pairs(&settings);
    let mut distilled_cfg = false;
    let mut unit_seen = false;
    for (key, value) in &pairs {
        let k = key.to_ascii_lowercase();
        match k.as_str() {
            "steps" => p.steps = int(key, value)?.clamp(STEPS.min as i64, STEPS.max as i64) as u32,
            "sampler" => apply_sampler(&mut p, value),
            "schedule type" | "scheduler" => {
                if let Some(s) = map_scheduler(value) {
                    p.scheduler = s;
                }
            }
            "distilled cfg scale" => {
                p.guidance = GUIDANCE.clamp(float(key, value)?);
                distilled_cfg = true;
            }
            "cfg scale" | "guidance" if !distilled_cfg => {
                p.guidance = GUIDANCE.clamp(float(key, value)?)
            }
            "seed" => p.seed = int(key, value)?.clamp(RANDOM_SEED, MAX_SEED),
            "size" => {
                let (w, h) = size(key, value)?;
                p.custom_width = w;
                p.custom_height = h;
                p.use_input_img_dimension = false;
            }
            "controlnet" | "controlnet type" => {
                if value.contains(':') {
                    if !unit_seen {
                        apply_unit(&mut p, value)?;
                        unit_seen = true;
                    }
                } else if let Some(t) = map_cn(value) {
                    p.cn_type = t;
                }
            }
            "controlnet strength" | "controlnet weight" => {
                p.cn_strength = CN_STRENGTH.clamp(float(key, value)?)
            }
            "controlnet stop" | "controlnet end" => p.cn_stop = CN_STOP.clamp(float(key, value)?),
            _ if is_unit_key(&k) && !unit_seen => {
                apply_unit(&mut p, value)?;
                unit_seen = true;
            }
            _ => {}
        }
    }
    Ok(p)
}

/// `ControlNet 0`, `ControlNet 1`, …: A1111's ControlNet units.
fn is_unit_key(k: &str) -> bool {
    k.strip_prefix("controlnet ")
        .is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()))
}

/// One A1111 ControlNet unit: `Module: openpose, Model: …, Weight: 1, …, Guidance End: 1, …`.
fn apply_unit(p: &mut GenParams, unit: &str) -> Result<(), GalleryError> {
    let pairs = split_pairs(unit);
    let get = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    };
    let from_module = get("Module")
        .or_else(|| get("preprocessor"))
        .and_then(map_cn);
    let from_model = get("Model").and_then(map_cn);
    if let Some(t) = from_module.or(from_model) {
        p.cn_type = t;
    }
    if let Some(w) = get("Weight") {
        p.cn_strength = CN_STRENGTH.clamp(float("Weight", w)?);
    }
    if let Some(end) = get("Guidance End") {
        p.cn_stop = CN_STOP.clamp(float("Guidance End", end)?);
    } else if let Some(se) = get("starting/ending") {
        // Older A1111 ControlNet: `starting/ending: (0, 1)`.
        let end = se
            .trim_matches(|c| c == '(' || c == ')' || c == ' ')
            .split(',')
            .nth(1)
            .unwrap_or("");
        p.cn_stop = CN_STOP.clamp(float("starting/ending", end)?);
    }
    Ok(())
}

/// Maps a preprocessor or model name (ours or A1111's) to a control type.
fn map_cn(v: &str) -> Option<CnType> {
    let l = v.trim().to_ascii_lowercase();
    if let Ok(t) = l.parse::<CnType>() {
        return Some(t);
    }
    if l.contains("openpose") || l.contains("pose") {
        Some(CnType::Pose)
    } else if l.contains("depth") {
        Some(CnType::Depth)
    } else if l.contains("canny") {
        Some(CnType::Canny)
    } else if l.contains("tile") {
        Some(CnType::Tile)
    } else {
        None
    }
}

/// Maps a scheduler name (ours or A1111's "Schedule type" label) to ours.
fn map_scheduler(v: &str) -> Option<Scheduler> {
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

/// Sets the sampler (and, for old A1111 names like `DPM++ 2M Karras`, the scheduler). A name with
/// no clear counterpart leaves the default and says so in the log.
fn apply_sampler(p: &mut GenParams, v: &str) {
    let raw = v.trim();
    if is_known_sampler(raw) {
        p.sampler = raw.to_owned();
        return;
    }
    let mut l = raw.to_ascii_lowercase();
    for (suffix, sched) in [
        (" karras", Scheduler::Karras),
        (" exponential", Scheduler::Exponential),
    ] {
        if let Some(stripped) = l.strip_suffix(suffix) {
            p.scheduler = sched;
            l = stripped.to_owned();
        }
    }
    let mapped = match l.as_str() {
        "euler" => Some("euler"),
        "euler a" => Some("euler_ancestral"),
        "heun" => Some("heun"),
        "lms" => Some("lms"),
        "dpm2" => Some("dpm_2"),
        "dpm2 a" => Some("dpm_2_ancestral"),
        "dpm fast" => Some("dpm_fast"),
        "dpm adaptive" => Some("dpm_adaptive"),
        "dpm++ 2s a" => Some("dpmpp_2s_ancestral"),
        "dpm++ sde" => Some("dpmpp_sde"),
        "dpm++ 2m" => Some("dpmpp_2m"),
        "dpm++ 2m sde" => Some("dpmpp_2m_sde"),
        "dpm++ 3m sde" => Some("dpmpp_3m_sde"),
        "ddpm" => Some("ddpm"),
        "lcm" => Some("lcm"),
        "deis" => Some("deis"),
        "ipndm" => Some("ipndm"),
        "ipndm_v" => Some("ipndm_v"),
        other => {
            let snake = other.replace([' ', '-'], "_");
            SAMPLERS.iter().copied().find(|s| *s == snake)
        }
    };
    match mapped {
        Some(s) => p.sampler = s.to_owned(),
        None => tracing::warn!(sampler = raw, "no matching sampler; keeping the default"),
    }
}

fn int(key: &str, v: &str) -> Result<i64, GalleryError> {
    let t = v.trim();
    t.parse::<i64>()
        .ok()
        .or_else(|| {
            t.parse::<f64>()
                .ok()
                .filter(|f| f.is_finite())
                .map(|f| f.round() as i64)
        })
        .ok_or_else(|| GalleryError::A1111Value {
            key: key.to_owned(),
            value: v.to_owned(),
            expected: "a whole number",
        })
}

fn float(key: &str, v: &str) -> Result<f64, GalleryError> {
    v.trim()
        .parse::<f64>()
        .map_err(|_| GalleryError::A1111Value {
            key: key.to_owned(),
            value: v.to_owned(),
            expected: "a number",
        })
}

fn size(key: &str, v: &str) -> Result<(u32, u32), GalleryError> {
    let bad = || GalleryError::A1111Value {
        key: key.to_owned(),
        value: v.to_owned(),
        expected: "WIDTHxHEIGHT, e.g. 1024x1024",
    };
    let (w, h) = v.trim().split_once(['x', 'X', '×']).ok_or_else(bad)?;
    let side = |s: &str| {
        s.trim()
            .parse::<u64>()
            .ok()
            .map(|n| n.clamp(SIZE.min as u64, SIZE.max as u64) as u32)
    };
    Ok((side(w).ok_or_else(bad)?, side(h).ok_or_else(bad)?))
}

/// Splits `Key: value, Key: "quoted, value", …` into pairs. Segments without a colon are skipped.
fn split_pairs(s: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    loop {
        // Key: up to ':' (or a ',' that ends a segment with no colon).
        let mut key = String::new();
        let mut ended = true;
        for c in chars.by_ref() {
            match c {
                ':' => {
                    ended = false;
                    break;
                }
                ',' => {
                    key.clear();
                    continue;
                }
                _ => key.push(c),
            }
        }
        if ended {
            break;
        }
        while chars.peek().is_some_and(|c| *c == ' ') {
            chars.next();
        }
        let mut value = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => {
                        if let Some(n) = chars.next() {
                            value.push(n);
                        }
                    }
                    '"' => break,
                    _ => value.push(c),
                }
            }
            // Skip to the next separator.
            for c in chars.by_ref() {
                if c == ',' {
                    break;
                }
            }
        } else {
            for c in chars.by_ref() {
                if c == ',' {
                    break;
                }
                value.push(c);
            }
        }
        let key = key.trim();
        if !key.is_empty() {
            out.push((key.to_owned(), value.trim().to_owned()));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ours_round_trips() {
        let p = GenParams {
            prompt: "a knight, in armour\nsecond line".into(),
            sampler: "dpmpp_2m".into(),
            scheduler: Scheduler::Karras,
            steps: 33,
            guidance: 4.25,
            cn_type: CnType::Depth,
            cn_strength: 0.8,
            cn_stop: 0.65,
            seed: 1234,
            custom_width: 768,
            custom_height: 1152,
            use_input_img_dimension: false,
            ..Default::default()
        };
        let text = format_a1111(&p, 1234, 768, 1152);
        assert!(text.starts_with("a knight, in armour\nsecond line\nSteps: 33, Sampler: dpmpp_2m, Schedule type: karras, CFG scale: 4.25, Seed: 1234, Size: 768x1152, Model: flux-controlnet, ControlNet: depth, ControlNet strength: 0.8, ControlNet stop: 0.65"), "{text}");
        assert_eq!(parse_a1111(&text).unwrap(), p);
    }

    #[test]
    fn the_briefs_example_line() {
        let p = parse_a1111("a dancer\nSteps: 20, Sampler: euler, Schedule type: simple, CFG scale: 3.5, Seed: 652889, Size: 1024x1024, Model: flux-controlnet, ControlNet: pose, ControlNet strength: 0.45, ControlNet stop: 0.5").unwrap();
        assert_eq!(p.prompt, "a dancer");
        assert_eq!((p.steps, p.seed, p.guidance), (20, 652889, 3.5));
        assert_eq!((p.custom_width, p.custom_height), (1024, 1024));
        assert!(!p.use_input_img_dimension);
    }

    #[test]
    fn split_pairs_handles_quotes_and_junk() {
        let v = split_pairs(r#"A: 1, B: "x, y: \"z\"", junk, C:3"#);
        assert_eq!(
            v,
            vec![
                ("A".into(), "1".into()),
                ("B".into(), r#"x, y: "z""#.into()),
                ("C".into(), "3".into())
            ]
        );
        assert!(split_pairs("").is_empty());
        assert!(split_pairs("no colon at all").is_empty());
        // Unterminated quote: no panic, value runs to the end.
        assert_eq!(split_pairs("K: \"abc").len(), 1);
    }

    #[test]
    fn samplers_map_and_old_names_set_the_scheduler() {
        let mut p = GenParams::default();
        apply_sampler(&mut p, "DPM++ 2M Karras");
        assert_eq!(
            (p.sampler.as_str(), p.scheduler),
            ("dpmpp_2m", Scheduler::Karras)
        );
        apply_sampler(&mut p, "Euler a");
        assert_eq!(p.sampler, "euler_ancestral");
        apply_sampler(&mut p, "DPM++ 2M SDE");
        assert_eq!(p.sampler, "dpmpp_2m_sde");
        apply_sampler(&mut p, "UniPC");
        assert_eq!(p.sampler, "dpmpp_2m_sde", "unknown sampler keeps the value");
    }

    #[test]
    fn bad_values_are_named() {
        let e = parse_a1111("x\nSteps: many, Seed: 1").unwrap_err();
        assert!(e.to_string().contains("Steps: many"), "{e}");
        let e = parse_a1111("x\nSteps: 20, Size: big").unwrap_err();
        assert!(e.to_string().contains("Size: big"), "{e}");
        let e = parse_a1111("just a prompt").unwrap_err();
        assert!(e.to_string().contains("Steps:"), "{e}");
        assert!(parse_a1111("").is_err());
    }

    #[test]
    fn forge_distilled_cfg_wins_over_cfg_scale() {
        let p = parse_a1111("x\nSteps: 20, Distilled CFG Scale: 3, CFG scale: 1").unwrap();
        assert_eq!(p.guidance, 3.0);
        let p = parse_a1111("x\nSteps: 20, CFG scale: 1, Distilled CFG Scale: 4").unwrap();
        assert_eq!(p.guidance, 4.0);
    }
}
