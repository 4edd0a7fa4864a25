//! [`Store::find_identical`]: the result a job would make again, found by its settings, seed and
//! control image.

use super::*;

fn png(w: u32, h: u32) -> crate::api::ReceivedImage {
    let mut bytes = Vec::new();
    image::DynamicImage::ImageRgb8(image::RgbImage::from_pixel(w, h, image::Rgb([9, 80, 200])))
        .write_to(
            &mut std::io::Cursor::new(&mut bytes),
            image::ImageFormat::Png,
        )
        .unwrap();
    crate::api::ReceivedImage {
        bytes,
        format: crate::api::ImageFormat::Png,
        width: w,
        height: h,
    }
}

/// Saves a result of `params` made with `seed`, from `input` (a file kept, when `kept`).
fn save(store: &Store, params: &GenParams, seed: i64, input: &str, kept: Option<&[u8]>) -> Entry {
    let image = png(8, 8);
    let accounting = crate::api::Accounting {
        seed: Some(seed),
        ..Default::default()
    };
    store
        .save(&NewResult {
            image: &image,
            params,
            input,
            api: Default::default(),
            accounting: &accounting,
            group: None,
            index: 0,
            job_id: None,
            input_image: kept,
            prompt_template: None,
            batch_line: None,
            framing: None,
        })
        .unwrap()
}

#[test]
fn an_identical_result_is_found_by_its_settings_seed_and_input() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let p = GenParams {
        prompt: "a knight".into(),
        seed: 42,
        ..Default::default()
    };
    let photo = png(16, 16).bytes;
    let kept = save(&store, &p, 42, "/photos/knight.png", Some(&photo));
    // The hash a kept input is named by is the content hash.
    assert_eq!(
        kept.meta.input_hash.as_deref(),
        Some(Store::content_hash(&photo).as_str())
    );
    let same = |params: &GenParams, hash: Option<String>| {
        store
            .find_identical(params, "/photos/knight.png", true, || hash)
            .unwrap()
            .map(|e| e.id)
    };
    assert_eq!(
        same(&p, Some(Store::content_hash(&photo))),
        Some(kept.id.clone())
    );
    // Another content under the same name, another seed, another setting: not the same.
    assert_eq!(same(&p, Some(Store::content_hash(b"edited"))), None);
    assert_eq!(same(&p, None), None);
    let other_seed = GenParams {
        seed: 43,
        ..p.clone()
    };
    assert_eq!(same(&other_seed, Some(Store::content_hash(&photo))), None);
    let other_steps = GenParams {
        steps: p.steps + 2,
        ..p.clone()
    };
    assert_eq!(same(&other_steps, Some(Store::content_hash(&photo))), None);
    // A random seed never repeats a picture, and the hash is not even asked for.
    let random = GenParams {
        seed: -1,
        ..p.clone()
    };
    let asked = std::cell::Cell::new(false);
    let found = store
        .find_identical(&random, "/photos/knight.png", true, || {
            asked.set(true);
            Some(Store::content_hash(&photo))
        })
        .unwrap();
    assert!(found.is_none() && !asked.get());

    // A URL input is kept as its text: it matches by it.
    let url = "https://example.com/pose.jpg";
    let q = GenParams {
        prompt: "a dancer".into(),
        seed: 7,
        ..Default::default()
    };
    let by_url = save(&store, &q, 7, url, None);
    let find = |describe: &str, by_describe: bool| {
        store
            .find_identical(&q, describe, by_describe, || None)
            .unwrap()
            .map(|e| e.id)
    };
    assert_eq!(find(url, true), Some(by_url.id.clone()));
    assert_eq!(find("https://example.com/other.jpg", true), None);
    assert_eq!(find(url, false), None, "pasted bytes never match by name");
    // A picture whose image is gone is nothing to warn about.
    std::fs::remove_file(&by_url.image_path).unwrap();
    assert_eq!(find(url, true), None);
}
