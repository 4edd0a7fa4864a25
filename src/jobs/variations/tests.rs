//! Tests of prompt variations: the expansion, its escapes and refusals, the cap, and the jobs
//! planned from a template.

use super::*;
use crate::api::GenParams;
use crate::types::{ApiVersion, InputSource};

#[test]
fn one_group_gives_one_prompt_per_choice() {
    assert_eq!(
        expand("{red|blue|green} car").unwrap(),
        ["red car", "blue car", "green car"]
    );
    assert_eq!(count("{red|blue|green} car").unwrap(), 3);
    assert!(has_groups("{red|blue} car"));
}

#[test]
fn several_groups_give_the_cartesian_product_first_group_slowest() {
    let v = expand_choices("a {red|blue} car {at dawn|at night}").unwrap();
    let prompts: Vec<&str> = v.iter().map(|v| v.prompt.as_str()).collect();
    assert_eq!(
        prompts,
        [
            "a red car at dawn",
            "a red car at night",
            "a blue car at dawn",
            "a blue car at night"
        ]
    );
    assert_eq!(v[3].choices, ["blue", "at night"]);
    assert_eq!(v[3].label(), "blue · at night");
}

#[test]
fn an_empty_choice_is_allowed_and_nothing_is_trimmed() {
    let v = expand_choices("{|very }fast").unwrap();
    assert_eq!(v[0].prompt, "fast");
    assert_eq!(v[1].prompt, "very fast");
    assert_eq!(v[0].label(), "(none)");
}

#[test]
fn a_prompt_without_groups_is_itself() {
    assert_eq!(expand("a plain car").unwrap(), ["a plain car"]);
    assert_eq!(count("a plain car").unwrap(), 1);
    assert!(!has_groups("a plain car"));
    // A bar outside a group and other backslashes are ordinary characters.
    assert_eq!(expand(r"a | b \(c\)").unwrap(), [r"a | b \(c\)"]);
}

#[test]
fn escapes_give_literal_braces_and_bars() {
    assert_eq!(expand(r"\{x\} {a\|b|c}").unwrap(), ["{x} a|b", "{x} c"]);
    assert!(!has_groups(r"\{x\}"));
}

#[test]
fn malformed_templates_are_refused_with_the_position() {
    assert_eq!(
        expand("a {b|{c|d}}").unwrap_err(),
        VariationError::Nested { at: 6 }
    );
    assert_eq!(
        expand("a {b|c").unwrap_err(),
        VariationError::Unclosed { at: 3 }
    );
    assert_eq!(
        expand("a b} c").unwrap_err(),
        VariationError::StrayClose { at: 4 }
    );
    let e = expand("a {b|{c|d}}").unwrap_err().to_string();
    assert!(
        e.contains("character 6") && e.contains(r"\{"),
        "a clear message: {e}"
    );
    assert!(!has_groups("{{best quality}}"));
}

#[test]
fn too_many_prompts_are_refused_naming_the_count() {
    let template = "{a|b|c|d} {e|f|g|h} {i|j|k|l} {m|n}"; // 128
    let e = expand(template).unwrap_err();
    assert_eq!(
        e,
        VariationError::TooMany {
            count: 128,
            max: MAX_VARIATIONS
        }
    );
    assert!(e.to_string().contains("128 prompts, more than 64"), "{e}");
    assert_eq!(expand("{a|b}{c|d}{e|f}{g|h}{i|j}{k|l}").unwrap().len(), 64);
    // Counted without expanding: 2^80 saturates.
    let huge = "{a|b}".repeat(80);
    assert_eq!(count(&huge).unwrap(), u64::MAX);
    assert!(expand(&huge).unwrap_err().to_string().contains("more than"));
}

#[test]
fn blank_and_repeated_prompts_are_refused() {
    assert!(matches!(
        expand("{|a}").unwrap_err(),
        VariationError::Blank { .. }
    ));
    assert!(matches!(
        expand("  ").unwrap_err(),
        VariationError::Blank { .. }
    ));
    assert_eq!(
        expand("{red|red} car").unwrap_err(),
        VariationError::Duplicate {
            prompt: "red car".into()
        }
    );
    // Prompts that differ only in whitespace make one picture: one paid job, not two.
    for t in [
        "{cat|cat }",
        "{a  cat|a cat}",
        "{ cat|cat}",
        "a {cat|cat\t}",
    ] {
        assert!(
            matches!(expand(t), Err(VariationError::Duplicate { .. })),
            "{t}: {:?}",
            expand(t)
        );
    }
}

fn spec(seed: i64) -> JobSpec {
    JobSpec {
        input: InputSource::Url("https://example.com/a.png".into()),
        params: GenParams {
            prompt: "{red|blue} car".into(),
            seed,
            ..GenParams::default()
        },
        api: ApiVersion::V1,
        group: None,
        prompt_template: None,
        batch: None,
        framing: Default::default(),
    }
}

#[test]
fn specs_tag_each_prompt_and_sample_and_share_one_seed() {
    let base = [spec(-1), spec(-1)];
    let s = specs("{red|blue} car", &base, 9).unwrap();
    assert_eq!(s.len(), 4);
    let seed = s[0].params.seed;
    assert_ne!(seed, -1);
    assert!(s.iter().all(|j| j.params.seed == seed));
    // The template travels with every job (and so into each result's sidecar).
    assert!(
        s.iter()
            .all(|j| j.prompt_template.as_deref() == Some("{red|blue} car"))
    );
    let tags: Vec<(usize, usize, &str, &str)> = s
        .iter()
        .map(|j| {
            let g = j.group.as_ref().unwrap();
            assert_eq!(g.group, 9);
            (g.col, g.row, g.label.as_str(), j.params.prompt.as_str())
        })
        .collect();
    assert_eq!(
        tags,
        [
            (0, 0, "red", "red car"),
            (0, 1, "red", "red car"),
            (1, 0, "blue", "blue car"),
            (1, 1, "blue", "blue car"),
        ]
    );
    // Seeds already set (the samples' consecutive seeds) are kept.
    let s = specs("{red|blue} car", &[spec(5), spec(6)], 1).unwrap();
    let seeds: Vec<i64> = s.iter().map(|j| j.params.seed).collect();
    assert_eq!(seeds, [5, 6, 5, 6]);
    assert!(specs("{a|a}", &base, 1).is_err());
}
