//! Tests of the field table: complete, unique, consistent with the validation and the A1111 format.

use std::collections::HashSet;

use super::*;
use crate::api::MODEL;

#[test]
fn every_field_appears_exactly_once() {
    let all: HashSet<Field> = Field::ALL.into_iter().collect();
    assert_eq!(all.len(), Field::ALL.len());
    let shown: Vec<Field> = display(&GenParams::default())
        .into_iter()
        .map(|(f, _)| f)
        .collect();
    assert_eq!(shown.len(), Field::ALL.len());
    assert_eq!(shown.iter().copied().collect::<HashSet<_>>(), all);
    for f in Field::ALL {
        assert_eq!(Field::from_wire(f.wire()), Some(f));
    }
    assert_eq!(Field::from_wire(IMAGE), None);
    // The wire body has exactly these fields and the image.
    let body = serde_json::to_value(GenParams::default()).unwrap();
    let keys: HashSet<&str> = body
        .as_object()
        .unwrap()
        .keys()
        .map(|k| k.as_str())
        .collect();
    assert_eq!(keys, Field::ALL.iter().map(|f| f.wire()).collect());
}

#[test]
fn labels_and_wire_names_are_unique() {
    let labels: HashSet<&str> = Field::ALL.iter().map(|f| f.label()).collect();
    assert_eq!(labels.len(), Field::ALL.len());
    let wires: HashSet<&str> = Field::ALL.iter().map(|f| f.wire()).chain([IMAGE]).collect();
    assert_eq!(wires.len(), Field::ALL.len() + 1);
    for f in Field::ALL {
        assert_eq!(f.label(), f.wire(), "the wire name is the label");
        assert_eq!(f.to_string(), f.label());
    }
    assert_eq!(Field::CnStrength.label(), "cn_strength");
}

#[test]
fn display_of_a_default_lists_every_field() {
    let rows = display(&GenParams::default());
    let get_row = |f: Field| {
        rows.iter()
            .find(|(g, _)| *g == f)
            .map(|(_, v)| v.as_str())
            .unwrap()
    };
    assert_eq!(rows.len(), Field::COUNT);
    assert_eq!(rows[0].0, Field::Prompt);
    assert_eq!(get_row(Field::CnType), "pose");
    assert_eq!(get_row(Field::Seed), "652889");
    assert_eq!(get_row(Field::Steps), "20");
    assert_eq!(get_row(Field::Guidance), "3.5");
    assert_eq!(get_row(Field::CnStrength), "0.45");
    assert_eq!(get_row(Field::CnStop), "0.5");
    assert_eq!(get_row(Field::Sampler), "euler");
    assert_eq!(get_row(Field::Scheduler), "simple");
    assert_eq!(get_row(Field::ImageFormat), "jpeg");
    assert_eq!(get_row(Field::Quality), "95");
    assert_eq!(get_row(Field::CustomWidth), "1024");
    assert_eq!(get_row(Field::UseInputImgDimension), "true");
    assert_eq!(get_row(Field::Base64), "false");
    // The shown value is the table's rendering of the field's value.
    let p = GenParams {
        prompt: "x".into(),
        guidance: 4.0,
        seed: -1,
        ..Default::default()
    };
    for (f, shown) in display(&p) {
        assert_eq!(shown, f.show(&get(&p, f)), "{f}");
    }
    // The details panes list the knobs in the same order, without the heading and the size.
    // (A field added later, at the table's default rank, is listed after these.)
    let d: Vec<&str> = details(&p).iter().map(|(f, _)| f.label()).collect();
    assert_eq!(
        d[..10],
        [
            "cn_type",
            "seed",
            "steps",
            "guidance",
            "cn_strength",
            "cn_stop",
            "sampler",
            "scheduler",
            "image_format",
            "quality"
        ]
    );
}

#[test]
fn numbers_are_shown_with_their_decimals() {
    let g = Field::Guidance;
    assert_eq!(g.show(&Value::Num(4.0)), "4.0");
    assert_eq!(g.show(&Value::Num(3.25)), "3.25");
    assert_eq!(g.show(&Value::Num(f64::NAN)), "NaN");
    assert_eq!(Field::Seed.show(&Value::Int(652_889)), "652889");
    assert_eq!(Field::CnStop.show(&Value::Num(0.0)), "0.0");
}

#[test]
// Every field of today is set by hand; the update keeps the literal compiling when one is added.
#[allow(clippy::needless_update)]
fn get_and_set_round_trip_and_refuse_other_types() {
    let p = GenParams {
        prompt: "a cat".into(),
        sampler: "heun".into(),
        scheduler: Scheduler::Beta,
        seed: 7,
        base64: true,
        cn_stop: 0.25,
        cn_strength: 1.5,
        cn_type: CnType::Tile,
        custom_height: 640,
        custom_width: 480,
        guidance: 9.0,
        image_format: ImageFormat::Webp,
        quality: 50,
        samples: 3,
        steps: 40,
        use_input_img_dimension: false,
        // A field added later is walked by tests/engine/field_table.rs.
        ..Default::default()
    };
    let mut q = GenParams::default();
    for (f, v) in values(&p) {
        set(&mut q, f, v).unwrap();
    }
    assert_eq!(q, p);
    assert!(set(&mut q, Field::Steps, Value::Num(3.0)).is_err());
    assert!(set(&mut q, Field::Steps, Value::Int(-1)).is_err());
    assert!(set(&mut q, Field::CnType, Value::Scheduler(Scheduler::Beta)).is_err());
    for f in Field::ALL {
        assert_eq!(f.default_value(), get(&GenParams::default(), f));
    }
}

#[test]
fn checks_say_what_validation_always_said() {
    let e = Field::Steps.check(&Value::Int(80)).unwrap_err();
    assert_eq!(e.to_string(), "steps = 80 is not allowed: 15 to 75");
    let e = Field::Prompt.check(&Value::Text("  ".into())).unwrap_err();
    assert_eq!(
        e.to_string(),
        "prompt = \"\" is not allowed: a non-empty text"
    );
    let e = Field::Seed.check(&Value::Int(-2)).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!("seed = -2 is not allowed: 0 to {MAX_SEED}, or -1 for a random seed")
    );
    let e = Field::Sampler.check(&Value::Text("x".into())).unwrap_err();
    assert!(
        e.to_string()
            .starts_with("sampler = \"x\" is not allowed: one of euler, ")
    );
    assert!(Field::Guidance.check(&Value::Num(f64::NAN)).is_err());
    assert!(Field::CustomWidth.check(&Value::Int(i64::MAX)).is_err());
    assert!(Field::CnType.check(&Value::Text("pose".into())).is_err());
    for f in Field::ALL {
        let d = f.default_value();
        assert_eq!(f.check(&d).is_ok(), f != Field::Prompt, "{f} default");
    }
}

#[test]
fn parse_reads_what_users_type() {
    assert_eq!(Field::Steps.parse(" 20 ").unwrap(), Value::Int(20));
    assert_eq!(Field::Steps.parse("25.5").unwrap(), Value::Int(26));
    assert_eq!(Field::Seed.parse("-1").unwrap(), Value::Int(-1));
    assert_eq!(Field::Guidance.parse("4.25").unwrap(), Value::Num(4.25));
    assert_eq!(
        Field::CnType.parse("DEPTH").unwrap(),
        Value::CnType(CnType::Depth)
    );
    assert_eq!(
        Field::Scheduler.parse("sgm_uniform").unwrap(),
        Value::Scheduler(Scheduler::SgmUniform)
    );
    assert_eq!(
        Field::Sampler.parse(" dpmpp_2m").unwrap(),
        Value::Text("dpmpp_2m".into())
    );
    assert_eq!(
        Field::UseInputImgDimension.parse("False").unwrap(),
        Value::Bool(false)
    );
    let e = Field::Steps.parse("many").unwrap_err();
    assert_eq!(
        e.to_string(),
        "steps = \"many\" is not allowed: a whole number, 15 to 75"
    );
    let e = Field::CnType.parse("posee").unwrap_err();
    assert_eq!(e.field, "cn_type");
    assert!(e.allowed.contains("depth, canny, pose, tile"));
    assert_eq!(Field::Sampler.parse("Euler").unwrap_err().field, "sampler");
    assert!(Field::Guidance.parse("x").is_err());
    assert!(Field::Base64.parse("yes").is_err());
    let numeric: Vec<&str> = Field::ALL
        .iter()
        .filter(|f| f.numeric())
        .map(|f| f.wire())
        .collect();
    assert!(numeric.contains(&"cn_strength") && numeric.contains(&"seed"));
    assert!(!Field::Sampler.numeric());
}

#[test]
fn clamp_brings_values_into_range() {
    assert_eq!(Field::Steps.clamp(Value::Int(1000)), Value::Int(75));
    assert_eq!(Field::Quality.clamp(Value::Int(-5)), Value::Int(10));
    assert_eq!(Field::Guidance.clamp(Value::Num(f64::NAN)), Value::Num(3.5));
    assert_eq!(Field::Seed.clamp(Value::Int(-7)), Value::Int(-1));
    assert_eq!(
        Field::Sampler.clamp(Value::Text("nope".into())),
        Value::Text("euler".into())
    );
    assert_eq!(
        Field::Prompt.clamp(Value::Text(String::new())),
        Value::Text(String::new())
    );
}

#[test]
fn a_400_names_the_longest_field_it_mentions() {
    assert_eq!(
        field_named_in("cn_strength must be <= 2"),
        Some("cn_strength")
    );
    assert_eq!(
        field_named_in("Invalid IMAGE_FORMAT gif"),
        Some("image_format")
    );
    assert_eq!(field_named_in("image could not be fetched"), Some("image"));
    assert_eq!(
        field_named_in("use_input_img_dimension must be a boolean"),
        Some("use_input_img_dimension")
    );
    assert_eq!(field_named_in("samples must be at most 4"), Some("samples"));
    assert_eq!(field_named_in("Insufficient credits"), None);
}

/// The values at a field's edges (and its default).
fn boundary_values(f: Field) -> Vec<Value> {
    match f.info().allowed {
        Allowed::Text => vec![
            Value::Text("x".into()),
            Value::Text("a knight, in armour: \"quoted\"\nsecond line".into()),
        ],
        Allowed::OneOf { names, .. } => names.iter().map(|n| f.parse(n).unwrap()).collect(),
        Allowed::Int(b) => [b.min, b.max, b.default]
            .map(|v| Value::Int(i64::from(v)))
            .to_vec(),
        Allowed::Num(b) => [b.min, b.max, b.default, (b.min + b.max) / 3.0]
            .map(Value::Num)
            .to_vec(),
        Allowed::Seed { default } => [RANDOM_SEED, 0, MAX_SEED, default].map(Value::Int).to_vec(),
        Allowed::Bool { default } => vec![Value::Bool(default), Value::Bool(!default)],
    }
}

#[test]
fn each_a1111_key_round_trips_at_its_boundaries() {
    for f in Field::ALL {
        let A1111::Key(k) = f.info().a1111 else {
            continue;
        };
        for v in boundary_values(f) {
            let mut p = GenParams::default();
            set(&mut p, f, v.clone()).unwrap();
            let pairs = a1111_pairs(&p, (64, 4096));
            let written: Vec<&String> = pairs
                .iter()
                .filter(|(key, _)| *key == k.key)
                .map(|(_, v)| v)
                .collect();
            assert_eq!(written.len(), 1, "{f}: written once");
            assert_eq!(a1111_field(k.key), Some((f, false)));
            let read = f.parse(written[0]).unwrap();
            assert_eq!(f.clamp(read.clone()), read, "{f} = {v}: in range");
            assert_eq!(read, v, "{f}: {v} round-trips");
        }
    }
    let pairs = a1111_pairs(&GenParams::default(), (64, 4096));
    assert!(pairs.contains(&(A1111_SIZE_KEY, "64x4096".to_owned())));
    assert!(pairs.contains(&(A1111_MODEL_KEY, MODEL.to_owned())));
    assert_eq!(pairs.len(), A1111_LINE.len());
}

#[test]
fn a1111_keys_are_unique_and_the_line_writes_each_once() {
    let mut keys = HashSet::new();
    for f in Field::ALL {
        let in_line = A1111_LINE
            .iter()
            .filter(|i| **i == A1111Item::Key(f))
            .count();
        match f.info().a1111 {
            A1111::Key(k) => {
                assert_eq!(in_line, 1, "{f}");
                for name in [k.key.to_ascii_lowercase().as_str()]
                    .into_iter()
                    .chain(k.also.iter().copied())
                    .chain(k.preferred.iter().copied())
                {
                    assert!(keys.insert(name.to_owned()), "{name} read as two fields");
                    assert_eq!(a1111_field(name).map(|(g, _)| g), Some(f));
                }
            }
            A1111::Unit(u) => {
                assert_eq!(in_line, 0, "{f}: written inside the unit");
                assert_eq!(a1111_unit_field(u.key), Some(f));
                for name in u.line_keys {
                    assert!(keys.insert((*name).to_owned()), "{name} read as two fields");
                    assert_eq!(a1111_field(name).map(|(g, _)| g), Some(f));
                }
            }
            _ => assert_eq!(in_line, 0, "{f}"),
        }
    }
    assert!(!keys.contains(&A1111_SIZE_KEY.to_ascii_lowercase()));
    assert_eq!(
        a1111_field("Distilled CFG Scale"),
        Some((Field::Guidance, true))
    );
    assert_eq!(a1111_field("Model"), None);
}

#[test]
fn the_controlnet_unit_is_written_as_sd_webui_controlnet_records_it() {
    let p = GenParams {
        cn_type: CnType::Depth,
        cn_strength: 0.7,
        cn_stop: 0.6,
        ..GenParams::default()
    };
    assert_eq!(
        a1111_unit(&p),
        "Module: depth_midas, Model: flux-controlnet-depth, Weight: 0.7, Guidance Start: 0, Guidance End: 0.6"
    );
    let pairs = a1111_pairs(&p, (64, 64));
    assert_eq!(pairs.last(), Some(&(A1111_UNIT_KEY, a1111_unit(&p))));
    // Every unit field is in the unit once; no value holds the unit's separators.
    for f in Field::ALL {
        if let A1111::Unit(u) = f.info().a1111 {
            for v in boundary_values(f) {
                let mut q = GenParams::default();
                set(&mut q, f, v).unwrap();
                let unit = a1111_unit(&q);
                let items: Vec<(&str, &str)> = unit
                    .split(", ")
                    .map(|i| i.split_once(": ").unwrap())
                    .collect();
                assert_eq!(items.len(), A1111_UNIT.len(), "{unit}");
                assert_eq!(items.iter().filter(|(k, _)| *k == u.key).count(), 1);
                assert!(items.iter().all(|(_, v)| !v.contains([',', ':'])), "{unit}");
            }
        }
    }
    for t in CnType::ALL {
        assert!(!unit_module(*t).contains([',', ':', ' ']));
    }
}
