//! The field table reaches every view of a field: each field of `Field::ALL`, set to a value other
//! than its default, comes back out of every consumer that can carry it (the CLI's flags and
//! `--like`'s overrides, a batch line, A1111 text, the sidecar's JSON, an X/Y grid axis, the details
//! and diff), and a field the table keeps from the user (no flag) is refused or ignored the same
//! way everywhere. Nothing here names a field: a new field is walked the day it is added, and a
//! consumer that misses it fails here. (The window's knobs are walked in `tests/ui`.)

use std::path::Path;

use clap::Parser;
use fluxcn::api::GenParams;
use fluxcn::api::fields::{self, A1111, Allowed, Field, Flag, Value};
use fluxcn::cli::{Cli, Cmd};
use fluxcn::gallery::{format_a1111, parse_a1111};
use fluxcn::jobs::batch::{BatchFormat, parse_batch};
use fluxcn::jobs::grid::{self, Axis};
use fluxcn::jobs::{ApiVersion, InputSource};

/// A valid value of `f` other than its default, from the table alone.
fn other_value(f: Field) -> Value {
    let v = match f.info().allowed {
        Allowed::Text => Value::Text("a walk through the table".into()),
        Allowed::OneOf { names, .. } => f.parse(names[names.len() - 1]).unwrap(),
        Allowed::Int(b) => Value::Int(i64::from(b.max)),
        Allowed::Num(b) => Value::Num(b.max),
        Allowed::Seed { .. } => Value::Int(4242),
        Allowed::Bool { default } => Value::Bool(!default),
    };
    assert_ne!(v, f.default_value(), "{f}: pick another value");
    f.check(&v).unwrap();
    v
}

/// Parameters with a prompt (required) and `f` set to `v`.
fn with(f: Field, v: &Value) -> GenParams {
    let mut p = GenParams {
        prompt: "a knight".into(),
        ..Default::default()
    };
    fields::set(&mut p, f, v.clone()).unwrap();
    p
}

/// `fluxcn generate` with an image, the flags `extra` and a prompt unless `extra` gives one.
fn generate_args(extra: &[String]) -> fluxcn::cli::GenArgs {
    let mut argv: Vec<String> = ["fluxcn", "generate", "--image", "a.png"]
        .map(String::from)
        .to_vec();
    if !extra.iter().any(|a| a == "--prompt") {
        argv.extend(["--prompt".to_owned(), "a knight".to_owned()]);
    }
    argv.extend_from_slice(extra);
    match Cli::try_parse_from(argv).unwrap().cmd {
        Some(Cmd::Generate(g)) => g,
        _ => panic!("not generate"),
    }
}

/// `fluxcn generate --like x.png` and the flags `extra` (the file is not read here).
fn like_args(extra: &[String]) -> fluxcn::cli::GenArgs {
    let mut argv: Vec<String> = ["fluxcn", "generate", "--like", "x.png"]
        .map(String::from)
        .to_vec();
    argv.extend_from_slice(extra);
    match Cli::try_parse_from(argv).unwrap().cmd {
        Some(Cmd::Generate(g)) => g,
        _ => panic!("not generate"),
    }
}

#[test]
fn every_field_has_a_default_that_is_allowed_and_a_value_that_is_not_it() {
    for f in Field::ALL {
        let d = f.default_value();
        assert!(f.holds(&d), "{f}: the default is of its type");
        if f.info().required && matches!(f.info().allowed, Allowed::Text) {
            assert!(f.check(&d).is_err(), "{f}: required text has no default");
        } else {
            f.check(&d).unwrap();
        }
        assert_eq!(fields::get(&GenParams::default(), f), d, "{f}");
        other_value(f);
    }
}

#[test]
fn every_field_with_a_flag_is_set_by_it_and_by_like() {
    for f in Field::ALL {
        let v = other_value(f);
        let Some(flag) = fluxcn::cli::flag_name(f) else {
            assert_eq!(f.info().flag, Flag::Without);
            // Not the user's to set: whatever --like brings, the request has the default.
            let like = like_args(&[]).over(&with(f, &v), None);
            assert_eq!(fields::get(&like.params(), f), f.default_value(), "{f}");
            continue;
        };
        let g = generate_args(&[format!("--{flag}"), v.to_string()]);
        assert_eq!(fields::get(&g.params(), f), v, "--{flag}");
        // What --like FILE says reaches the request when the flag is not given...
        let like = like_args(&[]).over(&with(f, &v), None);
        assert_eq!(fields::get(&like.params(), f), v, "--like, {f}");
        // ...and a flag given wins over it.
        if f != Field::Prompt {
            let mine = like_args(&[format!("--{flag}"), f.default_value().to_string()])
                .over(&with(f, &v), None);
            assert_eq!(
                fields::get(&mine.params(), f),
                f.default_value(),
                "--{flag} over --like"
            );
        }
    }
}

#[test]
fn every_field_with_a_flag_is_read_from_a_batch_line() {
    for f in Field::ALL {
        let v = other_value(f);
        let mut line =
            serde_json::json!({"image": "https://example.com/a.png", "prompt": "a knight"});
        line[f.wire()] = serde_json::Value::String(v.to_string());
        let parsed = parse_batch(&line.to_string(), BatchFormat::Jsonl, Path::new("."));
        match f.info().flag {
            Flag::Without => {
                // A batch line sets what a flag sets: a field without one is refused at any
                // value but its default, and the line names it.
                let e = parsed.expect_err(f.wire());
                assert!(format!("{e:?}").contains(f.wire()), "{e:?}");
            }
            Flag::Wire | Flag::Named(_) => {
                let lines = parsed.unwrap_or_else(|e| panic!("{f}: {e:?}"));
                assert_eq!(fields::get(&lines[0].params, f), v, "{f}");
            }
        }
    }
}

#[test]
fn every_field_survives_the_sidecar_and_is_in_the_details_and_the_diff() {
    for f in Field::ALL {
        let v = other_value(f);
        let p = with(f, &v);
        let back: GenParams = serde_json::from_str(&serde_json::to_string(&p).unwrap()).unwrap();
        assert_eq!(fields::get(&back, f), v, "sidecar, {f}");
        let shown = fields::display(&p);
        assert_eq!(
            shown.iter().filter(|(g, _)| *g == f).count(),
            1,
            "{f} is listed once"
        );
        assert_eq!(
            fields::details(&p).iter().any(|(g, _)| *g == f),
            f.info().in_details,
            "details, {f}"
        );
        if f != Field::Prompt {
            let base = with(Field::Prompt, &Value::Text("a knight".into()));
            let d = fluxcn::api::diff::diff(&base, &p);
            assert_eq!(
                d.fields.iter().map(|c| c.field).collect::<Vec<_>>(),
                [f],
                "the diff names {f}"
            );
        }
    }
}

#[test]
fn every_field_a1111_knows_survives_its_text() {
    for f in Field::ALL {
        let v = other_value(f);
        let mut p = with(f, &v);
        if matches!(f, Field::CustomWidth | Field::CustomHeight) {
            p.use_input_img_dimension = false;
        }
        let text = format_a1111(&p, p.seed, p.custom_width, p.custom_height);
        let back = parse_a1111(&text).unwrap();
        let want = match f.info().a1111 {
            A1111::None | A1111::SetBySize => continue,
            A1111::Prompt
            | A1111::Key(_)
            | A1111::Unit(_)
            | A1111::SizeWidth
            | A1111::SizeHeight => v,
        };
        assert_eq!(fields::get(&back, f), want, "{f} in {text:?}");
    }
}

#[test]
fn every_axis_field_is_varied_by_a_grid() {
    let input = InputSource::Url("https://example.com/a.png".into());
    let axes: Vec<Field> = grid::axes().collect();
    for f in Field::ALL {
        if f.info().axis.is_none() {
            assert!(!axes.contains(&f));
            assert!(
                Axis::parse(f, &f.default_value().to_string()).is_err(),
                "{f}"
            );
            continue;
        }
        let v = other_value(f);
        let x = Axis::parse(f, &v.to_string()).unwrap_or_else(|e| panic!("{f}: {e}"));
        let base = with(Field::Prompt, &Value::Text("a knight".into()));
        let g = grid::plan(&base, &input, ApiVersion::V1, 1, x, None).unwrap();
        assert_eq!(fields::get(&g.cells[0].params, f), v, "grid, {f}");
        assert_eq!(grid::axis_named(f.wire()), Ok(f));
    }
}
