//! AUTOMATIC1111's "parameters" text: written into every PNG/JPEG we save (so other tools show the
//! settings), and read back, best effort, from images made by A1111, Forge, ComfyUI exports or us.
//!
//! The format: the prompt (any number of lines), optionally a `Negative prompt:` line, then one line
//! of `Key: value` pairs separated by commas, values optionally double-quoted (A1111 quotes values
//! that contain commas, e.g. its ControlNet units).

use crate::api::fields::{self, A1111_SIZE_KEY, Allowed, Field};
use crate::api::params::{SAMPLERS, is_known_sampler};
use crate::api::{CnType, GenParams, Scheduler};

use super::GalleryError;

/// The A1111 text for one image: prompt, then the settings line the field table lays out
/// ([`fields::A1111_LINE`]), e.g.
/// `Steps: 20, Sampler: euler, Schedule type: simple, CFG scale: 3.5, Seed: 652889, Size: 1024x1024,
/// Model: flux-controlnet, ControlNet: pose, ControlNet strength: 0.45, ControlNet stop: 0.5`.
pub fn format_a1111(params: &GenParams, seed_used: i64, width: u32, height: u32) -> String {
    let used = GenParams {
        seed: seed_used,
        ..params.clone()
    };
    let line: Vec<String> = fields::a1111_pairs(&used, (width, height))
        .into_iter()
        .map(|(k, v)| format!("{k}: {}", quote(&v)))
        .collect();
    format!("{}\n{}", params.prompt.trim_end(), line.join(", "))
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
    // Fields set from a preferred key (Forge's `Distilled CFG Scale`), which other keys then leave.
    let mut preferred_seen: Vec<Field> = Vec::new();
    let mut unit_seen = false;
    for (key, value) in &pairs {
        let k = key.to_ascii_lowercase();
        if k == A1111_SIZE_KEY.to_ascii_lowercase() {
            let (w, h) = size(key, value)?;
            p.custom_width = w;
            p.custom_height = h;
            p.use_input_img_dimension = false;
        } else if let Some((field, preferred)) = fields::a1111_field(&k) {
            if field == Field::CnType && value.contains(':') {
                // `ControlNet: "Module: openpose, …"`: a unit, not a type name.
                if !unit_seen {
                    apply_unit(&mut p, value)?;
                    unit_seen = true;
                }
            } else if preferred {
                read_field(&mut p, field, key, value)?;
                preferred_seen.push(field);
            } else if !preferred_seen.contains(&field) {
                read_field(&mut p, field, key, value)?;
            }
        } else if is_unit_key(&k) && !unit_seen {
            apply_unit(&mut p, value)?;
            unit_seen = true;
        }
    }
    Ok(p)
}

/// Sets `field` from an A1111 value: names mapped from A1111's (an unknown one leaves the value),
/// numbers read by the field table and clamped into range.
fn read_field(p: &mut GenParams, field: Field, key: &str, value: &str) -> Result<(), GalleryError> {
    match field {
        Field::Sampler => apply_sampler(p, value),
        Field::Scheduler => {
            if let Some(s) = map_scheduler(value) {
                p.scheduler = s;
            }
        }
        Field::CnType => {
            if let Some(t) = map_cn(value) {
                p.cn_type = t;
            }
        }
        _ => set_number(p, field, key, value)?,
    }
    Ok(())
}

/// Reads a number for `field` (whole numbers may be written `20.0`), clamped into its range.
fn set_number(p: &mut GenParams, field: Field, key: &str, value: &str) -> Result<(), GalleryError> {
    let bad = || GalleryError::A1111Value {
        key: key.to_owned(),
        value: value.to_owned(),
        expected: match field.info().allowed {
            Allowed::Num(_) => "a number",
            _ => "a whole number",
        },
    };
    let v = field.parse(value).map_err(|_| bad())?;
    fields::set(p, field, field.clamp(v)).map_err(|_| bad())
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
        set_number(p, Field::CnStrength, "Weight", w)?;
    }
    if let Some(end) = get("Guidance End") {
        set_number(p, Field::CnStop, "Guidance End", end)?;
    } else if let Some(se) = get("starting/ending") {
        // Older A1111 ControlNet: `starting/ending: (0, 1)`.
        let end = se
            .trim_matches(|c| c == '(' || c == ')' || c == ' ')
            .split(',')
            .nth(1)
            .unwrap_or("");
        set_number(p, Field::CnStop, "starting/ending", end)?;
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

fn size(key: &str, v: &str) -> Result<(u32, u32), GalleryError> {
    let bad = || GalleryError::A1111Value {
        key: key.to_owned(),
        value: v.to_owned(),
        expected: "WIDTHxHEIGHT, e.g. 1024x1024",
    };
    let (w, h) = v.trim().split_once(['x', 'X', '×']).ok_or_else(bad)?;
    let side = |s: &str, field: Field| {
        let n = s.trim().parse::<u64>().ok()?;
        let clamped = field.clamp(fields::Value::Int(i64::try_from(n).unwrap_or(i64::MAX)));
        match clamped {
            fields::Value::Int(i) => u32::try_from(i).ok(),
            _ => None,
        }
    };
    Ok((
        side(w, Field::CustomWidth).ok_or_else(bad)?,
        side(h, Field::CustomHeight).ok_or_else(bad)?,
    ))
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
    fn every_written_field_round_trips_at_its_bounds() {
        use crate::api::fields::A1111;
        use crate::api::params::{CN_STOP, CN_STRENGTH, GUIDANCE, MAX_SEED, SIZE, STEPS};
        let base = GenParams {
            prompt: "x".into(),
            use_input_img_dimension: false,
            ..Default::default()
        };
        let mut cases: Vec<GenParams> = Vec::new();
        for (steps, guidance, cn_strength, cn_stop, seed, side) in [
            (
                STEPS.min,
                GUIDANCE.min,
                CN_STRENGTH.min,
                CN_STOP.min,
                -1,
                SIZE.min,
            ),
            (
                STEPS.max,
                GUIDANCE.max,
                CN_STRENGTH.max,
                CN_STOP.max,
                0,
                SIZE.max,
            ),
            (
                STEPS.default,
                1.0 + 2.0 / 3.0,
                0.1 + 0.2,
                1.0 / 3.0,
                MAX_SEED,
                777,
            ),
        ] {
            cases.push(GenParams {
                steps,
                guidance,
                cn_strength,
                cn_stop,
                seed,
                custom_width: side,
                custom_height: SIZE.max + SIZE.min - side,
                ..base.clone()
            });
        }
        for (i, t) in CnType::ALL.iter().enumerate() {
            let scheduler = Scheduler::ALL[i % Scheduler::ALL.len()];
            cases.push(GenParams {
                cn_type: *t,
                scheduler,
                sampler: SAMPLERS[SAMPLERS.len() - 1 - i].to_owned(),
                ..base.clone()
            });
        }
        for p in cases {
            let text = format_a1111(&p, p.seed, p.custom_width, p.custom_height);
            let back = parse_a1111(&text).unwrap();
            for f in Field::ALL {
                let want = match f.info().a1111 {
                    A1111::None => f.default_value(),
                    _ => fields::get(&p, f),
                };
                assert_eq!(fields::get(&back, f), want, "{f} in {text}");
            }
        }
    }

    #[test]
    fn forge_distilled_cfg_wins_over_cfg_scale() {
        let p = parse_a1111("x\nSteps: 20, Distilled CFG Scale: 3, CFG scale: 1").unwrap();
        assert_eq!(p.guidance, 3.0);
        let p = parse_a1111("x\nSteps: 20, CFG scale: 1, Distilled CFG Scale: 4").unwrap();
        assert_eq!(p.guidance, 4.0);
    }
}
