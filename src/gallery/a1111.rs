//! AUTOMATIC1111's "parameters" text: written into every PNG/JPEG we save (so other tools show the
//! settings), and read back, best effort, from images made by A1111, Forge, ComfyUI exports or us.
//!
//! The format: the prompt (any number of lines), optionally a `Negative prompt:` line, then one line
//! of `Key: value` pairs separated by commas, values optionally double-quoted (A1111 quotes values
//! that contain commas, e.g. its ControlNet units).

use crate::api::GenParams;
use crate::api::fields::{
    self, A1111_MODEL_KEY, A1111_SIZE_KEY, Allowed, Field, UNIT_GUIDANCE_START,
};

use super::GalleryError;
use super::foreign::Reading;

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

/// Reads A1111 "parameters" text into settings, best effort: values out of range are clamped
/// (e.g. `Steps: 150` → 75), A1111's sampler and ControlNet names are mapped to this API's, other
/// keys are left. Errors name the key and value that could not be used. [`read_a1111`] also says
/// what was clamped or left.
pub fn parse_a1111(text: &str) -> Result<GenParams, GalleryError> {
    read_a1111(text).map(|r| r.p)
}

/// Like [`parse_a1111`], with the notes on what was clamped or has no counterpart here (a negative
/// prompt, a sampler, a model, keys this service has no use for).
pub(crate) fn read_a1111(text: &str) -> Result<Reading, GalleryError> {
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
    let negative_at = lines[..steps_at]
        .iter()
        .position(|l| l.trim_start().starts_with("Negative prompt:"));
    let mut r = Reading::new();
    r.p.prompt = lines[..negative_at.unwrap_or(steps_at)]
        .join("\n")
        .trim()
        .to_owned();
    if let Some(at) = negative_at {
        let negative = lines[at..steps_at].join("\n");
        r.negative(negative.trim_start().trim_start_matches("Negative prompt:"));
    }
    let pairs = split_pairs(&lines[steps_at..].join(", "));
    read_pairs(&mut r, &pairs)?;
    Ok(r)
}

/// Applies the settings line's pairs. A field given by a preferred key anywhere in the line
/// (Forge's `Distilled CFG Scale`) is read from it alone.
fn read_pairs(r: &mut Reading, pairs: &[(String, String)]) -> Result<(), GalleryError> {
    let preferred: Vec<Field> = pairs
        .iter()
        .filter_map(|(k, _)| fields::a1111_field(k).filter(|(_, pref)| *pref))
        .map(|(f, _)| f)
        .collect();
    let mut unit_seen = false;
    let mut left: Vec<&str> = Vec::new();
    for (key, value) in pairs {
        let k = key.to_ascii_lowercase();
        if k == A1111_SIZE_KEY.to_ascii_lowercase() {
            let (w, h) = size(key, value)?;
            r.size(A1111_SIZE_KEY, w, h);
        } else if let Some((field, pref)) = fields::a1111_field(&k) {
            if field == Field::CnType && value.contains(':') {
                // `ControlNet: "Module: openpose, …"`: a unit, not a type name.
                read_unit(r, key, value, &mut unit_seen)?;
            } else if pref || !preferred.contains(&field) {
                read_field(r, field, key, value)?;
            }
        } else if is_unit_key(&k) {
            read_unit(r, key, value, &mut unit_seen)?;
        } else if k == A1111_MODEL_KEY.to_ascii_lowercase() {
            r.model("model", value);
        } else if !IGNORED.contains(&k.as_str()) {
            left.push(key);
        }
    }
    if !left.is_empty() {
        r.note(format!(
            "not used, no counterpart here: {}",
            left.join(", ")
        ));
    }
    Ok(())
}

/// Keys that say nothing about the picture (lowercase): left without a note.
const IGNORED: [&str; 3] = ["version", "model hash", "vae hash"];

/// Sets `field` from an A1111 value: names mapped from A1111's (an unknown one is noted), numbers
/// read by the field table and clamped into range.
fn read_field(r: &mut Reading, field: Field, key: &str, value: &str) -> Result<(), GalleryError> {
    match field {
        Field::Sampler => r.sampler(key, value),
        Field::Scheduler => r.scheduler(key, value),
        Field::CnType => {
            if !r.cn_type_from(value) {
                r.unknown_control(&[value]);
            }
        }
        // Any other field is read by the table (numbers, text, true/false).
        _ => set_value(r, field, key, value)?,
    }
    Ok(())
}

/// Reads a value for `field` as the table reads it (whole numbers may be written `20.0`),
/// clamped into its range.
fn set_value(r: &mut Reading, field: Field, key: &str, value: &str) -> Result<(), GalleryError> {
    let v = field.parse(value).map_err(|_| GalleryError::A1111Value {
        key: key.to_owned(),
        value: value.to_owned(),
        expected: match field.info().allowed {
            Allowed::Num(_) => "a number",
            Allowed::Int(_) | Allowed::Seed { .. } => "a whole number",
            Allowed::Bool { .. } => "true or false",
            Allowed::Text => "text",
            Allowed::OneOf { .. } => "one of the names this service knows",
        },
    })?;
    r.set(field, key, v);
    Ok(())
}

/// `ControlNet 0`, `ControlNet 1`, …: A1111's ControlNet units.
fn is_unit_key(k: &str) -> bool {
    k.strip_prefix("controlnet ")
        .is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()))
}

/// One A1111 ControlNet unit, as sd-webui-controlnet writes it: `Module: openpose, Model: …,
/// Weight: 1, …, Guidance Start: 0, Guidance End: 1, …`. Only the first is used (this service
/// applies one); another is noted.
fn read_unit(r: &mut Reading, key: &str, unit: &str, seen: &mut bool) -> Result<(), GalleryError> {
    if std::mem::replace(seen, true) {
        r.note(format!(
            "{key} is not used: this service applies one ControlNet (the first unit's)"
        ));
        return Ok(());
    }
    let pairs = split_pairs(unit);
    let get = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    };
    // The preprocessor first ("none" says nothing), then the ControlNet model's name.
    let names: Vec<&str> = [get("Module"), get("preprocessor"), get(A1111_MODEL_KEY)]
        .into_iter()
        .flatten()
        .filter(|n| !n.trim().eq_ignore_ascii_case("none"))
        .collect();
    if !names.iter().any(|n| r.cn_type_from(n)) {
        r.unknown_control(&names);
    }
    for (k, v) in &pairs {
        if let Some(field) = fields::a1111_unit_field(k).filter(|f| *f != Field::CnType) {
            set_value(r, field, k, v)?;
        } else if k.eq_ignore_ascii_case(UNIT_GUIDANCE_START)
            && v.trim().parse::<f64>().is_ok_and(|s| s > 0.0)
        {
            r.note(format!(
                "ControlNet {UNIT_GUIDANCE_START} {v} is not used: the service's control acts from the first step"
            ));
        }
    }
    if get("Guidance End").is_none()
        && let Some(se) = get("starting/ending")
    {
        // Older sd-webui-controlnet: `starting/ending: (0, 1)`.
        let end = se
            .trim_matches(|c| c == '(' || c == ')' || c == ' ')
            .split(',')
            .nth(1)
            .unwrap_or("");
        set_value(r, Field::CnStop, "starting/ending", end)?;
    }

    Ok(())
}

fn size(key: &str, v: &str) -> Result<(i64, i64), GalleryError> {
    let bad = || GalleryError::A1111Value {
        key: key.to_owned(),
        value: v.to_owned(),
        expected: "WIDTHxHEIGHT, e.g. 1024x1024",
    };
    let (w, h) = v.trim().split_once(['x', 'X', '×']).ok_or_else(bad)?;
    let side = |s: &str| -> Result<i64, GalleryError> {
        let n = s.trim().parse::<u64>().map_err(|_| bad())?;
        Ok(i64::try_from(n).unwrap_or(i64::MAX))
    };
    Ok((side(w)?, side(h)?))
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
    use crate::api::params::SAMPLERS;
    use crate::api::{CnType, Scheduler};

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
        assert!(text.starts_with("a knight, in armour\nsecond line\nSteps: 33, Sampler: dpmpp_2m, Schedule type: karras, CFG scale: 4.25, Seed: 1234, Size: 768x1152, Model: flux-controlnet, ControlNet 0: \"Module: depth_midas, Model: flux-controlnet-depth, Weight: 0.8, Guidance Start: 0, Guidance End: 0.65\""), "{text}");
        let (back, notes) = read_a1111(&text).unwrap().finish();
        assert_eq!(back, p);
        assert_eq!(notes, Vec::<String>::new(), "our own text maps whole");
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
        let r = read_a1111("x\nSteps: 20, Sampler: DPM++ 2M Karras").unwrap();
        assert_eq!(
            (r.p.sampler.as_str(), r.p.scheduler),
            ("dpmpp_2m", Scheduler::Karras)
        );
        let (p, notes) =
            read_a1111("x\nSteps: 20, Sampler: UniPC, Schedule type: Align Your Steps")
                .unwrap()
                .finish();
        assert_eq!(p.sampler, "euler", "an unknown sampler keeps the value");
        let notes = notes.join("\n");
        assert!(
            notes.contains("Sampler \"UniPC\" has no counterpart"),
            "{notes}"
        );
        assert!(
            notes.contains("Schedule type \"Align Your Steps\""),
            "{notes}"
        );
        assert!(notes.contains("names no ControlNet"), "{notes}");
    }

    #[test]
    fn what_does_not_map_is_said() {
        let r = read_a1111("a cat\nNegative prompt: dog, blurry\nSteps: 150, Sampler: Euler, CFG scale: 7, Seed: 1, Size: 8192x512, Model: sd_xl_base_1.0, Model hash: 31e35c80fc, Clip skip: 2, Denoising strength: 0.4, ControlNet 0: \"Module: lineart, Model: control_lineart, Weight: 1, Guidance Start: 0.1, Guidance End: 0.9\", ControlNet 1: \"Module: canny, Weight: 1\", Version: v1.10.1").unwrap();
        assert_eq!(r.p.prompt, "a cat");
        assert_eq!((r.p.steps, r.p.custom_width), (75, 4096));
        assert_eq!((r.p.cn_type, r.p.cn_stop), (CnType::Pose, 0.9));
        let notes = r.notes.join("\n");
        for want in [
            "negative prompt \"dog, blurry\"",
            "Steps 150 is outside",
            "Size width 8192 is outside",
            "model \"sd_xl_base_1.0\"",
            "not used, no counterpart here: Clip skip, Denoising strength",
            "ControlNet \"lineart\" / \"control_lineart\" matches none",
            "Guidance Start 0.1 is not used",
            "ControlNet 1 is not used",
        ] {
            assert!(notes.contains(want), "{want} in\n{notes}");
        }
        assert!(
            !notes.contains("Version") && !notes.contains("Model hash"),
            "{notes}"
        );
    }

    #[test]
    fn fluxcn_texts_written_before_units_still_read() {
        let r = read_a1111("a dancer\nSteps: 20, Model: flux-controlnet, ControlNet: depth, ControlNet strength: 0.45, ControlNet stop: 0.5").unwrap();
        assert_eq!(
            (r.p.cn_type, r.p.cn_strength, r.p.cn_stop),
            (CnType::Depth, 0.45, 0.5)
        );
        assert_eq!(r.notes, Vec::<String>::new());
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
