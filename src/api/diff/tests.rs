//! Tests of the parameter diff: changed fields only, shown as the details panes show them, the seed
//! used, and the word-level prompt diff with its bound.

use super::*;
use crate::api::params::{CnType, DEFAULT_SEED, RANDOM_SEED};

fn base() -> GenParams {
    GenParams {
        prompt: "a knight in red armour, castle at dawn".into(),
        ..GenParams::default()
    }
}

fn words(changes: &[WordChange]) -> Vec<String> {
    changes
        .iter()
        .map(|w| match w {
            WordChange::Same(w) => w.clone(),
            WordChange::Added(w) => format!("+{w}"),
            WordChange::Removed(w) => format!("-{w}"),
        })
        .collect()
}

#[test]
fn identical_settings_have_no_difference() {
    let d = diff(&base(), &base());
    assert!(d.is_empty());
    assert!(d.lines().is_empty());
}

#[test]
fn changed_fields_only_in_the_details_order_and_format() {
    let a = base();
    let b = GenParams {
        steps: 30,
        cn_strength: 0.6,
        cn_type: CnType::Depth,
        guidance: 4.0,
        ..base()
    };
    let d = diff(&a, &b);
    assert!(d.prompt.is_none());
    let lines = d.lines();
    // cn_type, steps, guidance, cn_strength: the order of `fields::display`; one decimal at least.
    assert_eq!(
        lines,
        [
            "cn_type: pose → depth",
            "steps: 20 → 30",
            "guidance: 3.5 → 4.0",
            "cn_strength: 0.45 → 0.6",
        ]
    );
    assert_eq!(d.field(Field::Steps).unwrap().new, "30");
    assert!(d.field(Field::Seed).is_none());
    // The labels and the values are the table's, as the details panes show them.
    for c in &d.fields {
        let shown = fields::display(&b);
        assert!(shown.contains(&(c.field, c.new.clone())), "{c:?}");
    }
}

#[test]
fn seeds_compare_as_used_when_given() {
    let a = GenParams {
        seed: RANDOM_SEED,
        ..base()
    };
    assert!(diff(&a, &a).is_empty(), "as sent, both are -1");
    let d = diff_seeds(&a, Some(11), &a, Some(12));
    assert_eq!(d.lines(), ["seed: 11 → 12"]);
    assert!(diff_seeds(&a, Some(7), &a, Some(7)).is_empty());
    // One side known: it is compared with the other's seed as sent.
    let b = base();
    let d = diff_seeds(&a, Some(DEFAULT_SEED), &b, None);
    assert!(d.is_empty(), "{d:?}");
}

#[test]
fn prompt_words_mark_added_and_removed() {
    let w = prompt_words(
        "a knight in red armour, castle at dawn",
        "a knight in shiny blue armour, castle at night",
    );
    assert_eq!(
        words(&w),
        [
            "a", "knight", "in", "-red", "+shiny", "+blue", "armour", ",", "castle", "at", "-dawn",
            "+night"
        ]
    );
    let d = diff(
        &base(),
        &GenParams {
            prompt: "a knight in shiny blue armour, castle at night".into(),
            ..base()
        },
    );
    assert_eq!(
        d.lines(),
        [
            "prompt removed: red … dawn",
            "prompt added: shiny blue … night"
        ]
    );
}

#[test]
fn a_weight_stays_with_its_word_and_a_trailing_comma_is_its_own() {
    // A weight change is one word replaced; `castle,` is `castle` and `,`.
    assert_eq!(
        words(&prompt_words("(red:1.2) castle,", "(red:1.4) castle")),
        ["-(red:1.2)", "+(red:1.4)", "castle", "-,"]
    );
}

#[test]
fn lcs_is_minimal_and_rebuilds_both_prompts() {
    let a = "x a b c y d e";
    let b = "a c b y e f";
    let w = prompt_words(a, b);
    let old: Vec<&str> = w
        .iter()
        .filter(|c| !matches!(c, WordChange::Added(_)))
        .map(WordChange::word)
        .collect();
    let new: Vec<&str> = w
        .iter()
        .filter(|c| !matches!(c, WordChange::Removed(_)))
        .map(WordChange::word)
        .collect();
    assert_eq!(old.join(" "), a);
    assert_eq!(new.join(" "), b);
    let same = w
        .iter()
        .filter(|c| matches!(c, WordChange::Same(_)))
        .count();
    assert_eq!(same, 4, "a, b (or c), y, e: {:?}", words(&w));
}

#[test]
fn empty_and_one_sided_prompts() {
    assert!(prompt_words("", "").is_empty());
    assert_eq!(words(&prompt_words("", "a b")), ["+a", "+b"]);
    assert_eq!(words(&prompt_words("a b", "")), ["-a", "-b"]);
    let d = prompt_diff("a  b", "a b");
    assert!(d.exact && d.spacing_only());
    assert_eq!(d.lines(), ["prompt: only the spacing changed"]);
}

#[test]
fn long_prompts_are_bounded_and_fall_back_to_changed() {
    let n = MAX_WORDS + 5;
    let a: Vec<String> = (0..n).map(|i| format!("w{i}")).collect();
    let b: Vec<String> = (0..n).map(|i| format!("v{i}")).collect();
    let d = prompt_diff(&a.join(" "), &b.join(" "));
    assert!(!d.exact);
    assert_eq!(d.word_counts(), (n, n));
    assert_eq!(
        d.lines(),
        [format!(
            "prompt: changed ({n} → {n} words, too long to compare word by word)"
        )]
    );

    // A long prompt with one word changed is still exact: the shared ends are matched first.
    let mut c = a.clone();
    c[n / 2] = "changed".into();
    let d = prompt_diff(&a.join(" "), &c.join(" "));
    assert!(d.exact);
    assert_eq!(d.removed(), [format!("w{}", n / 2)]);
    assert_eq!(d.added(), ["changed"]);
}

#[test]
fn runs_join_neighbours_and_split_at_shared_words() {
    let d = prompt_diff("a b c d e", "a x c y z e");
    assert_eq!(d.removed(), ["b", "d"]);
    assert_eq!(d.added(), ["x", "y z"]);
}

#[test]
fn the_control_image_changes_by_content_when_hashes_are_known() {
    let p = base();
    let at = |describe, hash| InputRef { describe, hash };
    let same = diff(&p, &p).with_input(at("a.png", Some("AB12")), at("b.png", Some("ab12")));
    assert!(same.is_empty(), "the same bytes under another name");
    let d = diff(&p, &p).with_input(
        at("a.png", Some("0123456789abcdef")),
        at("a.png", Some("fedcba9876543210")),
    );
    assert_eq!(d.lines(), ["image: a.png (01234567) → a.png (fedcba98)"]);
    let d = diff(
        &p,
        &GenParams {
            steps: 30,
            ..p.clone()
        },
    )
    .with_input(at("a.png", None), at("https://x/b.png", Some("ff")));
    assert_eq!(
        d.lines(),
        ["image: a.png → https://x/b.png", "steps: 20 → 30"]
    );
    assert!(
        diff(&p, &p)
            .with_input(at("a.png", None), at("a.png", None))
            .is_empty()
    );
}
