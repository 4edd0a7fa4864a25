//! Tests of batch-file parsing: both formats, every error names its line and field.

use super::*;

fn dir_with_image() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("in.png"), b"not read at parse time").unwrap();
    d
}

#[test]
fn jsonl_lines_become_requests_with_defaults_for_what_is_not_given() {
    let d = dir_with_image();
    let text = "{\"prompt\": \"a knight\", \"image\": \"in.png\", \"steps\": 30, \"cn_type\": \"depth\"}\n\n{\"prompt\": \"a castle\", \"image\": \"https://example.com/x.jpg\", \"guidance\": 4.5, \"seed\": null}\n";
    let lines = parse_batch(text, BatchFormat::Jsonl, d.path()).unwrap();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0].line_no, 1);
    assert_eq!(lines[1].line_no, 3, "blank lines keep the numbering");
    assert_eq!(lines[0].params.steps, 30);
    assert_eq!(lines[0].params.cn_type.as_str(), "depth");
    assert_eq!(lines[0].input, InputSource::File(d.path().join("in.png")));
    assert_eq!(
        lines[1].input,
        InputSource::Url("https://example.com/x.jpg".into())
    );
    assert_eq!(lines[1].params.guidance, 4.5);
    assert_eq!(lines[1].params.seed, GenParams::default().seed);
    assert_ne!(lines[0].key, lines[1].key);
}

#[test]
fn csv_rows_with_quoted_commas_become_requests() {
    let d = dir_with_image();
    let text = "prompt,image,steps,cn_strength\n\"a knight, red cape\",in.png,25,0.6\n\"say \"\"hi\"\"\",in.png,,\n";
    let lines = parse_batch(text, BatchFormat::Csv, d.path()).unwrap();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0].params.prompt, "a knight, red cape");
    assert_eq!(lines[0].line_no, 2);
    assert_eq!(lines[0].params.cn_strength, 0.6);
    assert_eq!(lines[1].params.prompt, "say \"hi\"");
    assert_eq!(
        lines[1].params.steps,
        GenParams::default().steps,
        "an empty cell is the default"
    );
}

#[test]
fn every_problem_names_its_line_and_field() {
    let d = dir_with_image();
    let text = concat!(
        "{\"prompt\": \"ok\", \"image\": \"in.png\"}\n",
        "{\"prompt\": \"x\", \"image\": \"in.png\", \"colour\": \"red\"}\n",
        "{\"prompt\": \"x\", \"image\": \"in.png\", \"steps\": 5000}\n",
        "{\"prompt\": \"x\", \"image\": \"missing.png\"}\n",
        "{\"image\": \"in.png\"}\n",
        "{\"prompt\": \"x\"}\n",
        "not json\n",
        "{\"prompt\": \"x\", \"image\": \"ftp://h/x.png\", \"cn_type\": \"sketch\"}\n",
    );
    let errors = parse_batch(text, BatchFormat::Jsonl, d.path()).unwrap_err();
    let text: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
    let has = |needle: &str| text.iter().any(|t| t.contains(needle));
    assert!(
        has("line 2, field `colour`: unknown field; the fields are: image, prompt"),
        "{text:?}"
    );
    assert!(
        has("line 3, field `steps`: `5000` is not allowed"),
        "{text:?}"
    );
    assert!(has("line 4, field `image`: no image at"), "{text:?}");
    assert!(has("line 5, field `prompt`: missing"), "{text:?}");
    assert!(has("line 6, field `image`: missing"), "{text:?}");
    assert!(has("line 7: not a JSON object"), "{text:?}");
    assert!(
        has("line 8, field `image`: `ftp://` addresses cannot be used"),
        "{text:?}"
    );
    assert!(
        has("line 8, field `cn_type`: `sketch` is not allowed"),
        "{text:?}"
    );
    assert!(!text.iter().any(|t| t.starts_with("line 1")), "{text:?}");
}

#[test]
fn csv_problems_name_the_column_and_the_row() {
    let d = dir_with_image();
    let text = "prompt,image,sampler\nok,in.png,euler\nx,in.png,nonsense\n\"a, b\",in.png\n";
    let errors = parse_batch(text, BatchFormat::Csv, d.path()).unwrap_err();
    let text: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
    assert!(
        text.iter()
            .any(|t| t.starts_with("line 3, field `sampler`")),
        "{text:?}"
    );
    assert!(
        text.iter()
            .any(|t| t.starts_with("line 4: 2 values, but the header row names 3")),
        "{text:?}"
    );
}

#[test]
fn keys_follow_content_not_position_and_repeats_get_their_own() {
    let d = dir_with_image();
    let a = "{\"prompt\": \"a\", \"image\": \"in.png\", \"seed\": 1}";
    let b = "{\"prompt\": \"b\", \"image\": \"in.png\", \"seed\": 1}";
    let one = parse_batch(&format!("{a}\n{b}\n{a}\n"), BatchFormat::Jsonl, d.path()).unwrap();
    let two = parse_batch(&format!("{b}\n{a}\n"), BatchFormat::Jsonl, d.path()).unwrap();
    assert_eq!(one[0].key, two[1].key, "line a keeps its key when moved");
    assert_eq!(one[1].key, two[0].key);
    assert_ne!(
        one[0].key, one[2].key,
        "a repeated line is a second request"
    );
    assert!(one[2].key.ends_with("#2"));
}

#[test]
fn the_format_comes_from_the_extension_or_the_first_character() {
    assert_eq!(BatchFormat::of(Path::new("x.csv"), "{"), BatchFormat::Csv);
    assert_eq!(
        BatchFormat::of(Path::new("x.JSONL"), "p"),
        BatchFormat::Jsonl
    );
    assert_eq!(
        BatchFormat::of(Path::new("x.txt"), "  {\"a\":1}"),
        BatchFormat::Jsonl
    );
    assert_eq!(
        BatchFormat::of(Path::new("x"), "prompt,image"),
        BatchFormat::Csv
    );
}

/// A key is the line's content: the same image (by its bytes) and the same fields give the same
/// key wherever the batch file and its images live; another picture under the same name does not;
/// a field at its default is the same as leaving it out, so a field added in a later version (at
/// its default) changes no key.
#[test]
fn a_key_is_the_content_not_where_the_file_lives() {
    let (a, b) = (dir_with_image(), dir_with_image());
    let line = "{\"prompt\": \"a knight\", \"image\": \"in.png\", \"steps\": 30}\n";
    let ka = &parse_batch(line, BatchFormat::Jsonl, a.path()).unwrap()[0];
    let kb = &parse_batch(line, BatchFormat::Jsonl, b.path()).unwrap()[0];
    assert_eq!(ka.key, kb.key, "moved: the same key");
    assert!(ka.key.starts_with("c2-"), "{}", ka.key);
    assert_ne!(ka.legacy_key, kb.legacy_key, "the old key named the path");
    // Pinned: a change here re-sends every saved line of every user's batches.
    assert_eq!(ka.key, "c2-da39df71e1f2e255efc0617e5f74491f");
    // The old key is pinned too (it finds the marks of batches run before content keys).
    let url = InputSource::Url("https://example.com/in.png".into());
    let p = GenParams {
        prompt: "a knight".into(),
        steps: 30,
        ..Default::default()
    };
    assert_eq!(
        super::legacy_key(&url, &p),
        "45f830097e7cacf7c188f1f745b83826"
    );

    let defaults = GenParams::default();
    let explicit = format!(
        "{{\"prompt\": \"a knight\", \"image\": \"in.png\", \"steps\": 30, \"guidance\": {}, \"cn_type\": \"{}\"}}\n",
        defaults.guidance,
        defaults.cn_type.as_str()
    );
    let ke = &parse_batch(&explicit, BatchFormat::Jsonl, a.path()).unwrap()[0];
    assert_eq!(
        ke.key, ka.key,
        "a field at its default is the same as no field"
    );

    std::fs::write(b.path().join("in.png"), b"another picture").unwrap();
    let kc = &parse_batch(line, BatchFormat::Jsonl, b.path()).unwrap()[0];
    assert_ne!(kc.key, ka.key, "another picture under the same name");
}
