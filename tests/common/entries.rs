//! Gallery entries and catalog rows made by hand for the panel tests (the gallery panel and the
//! viewer): three pictures of different prompts, types and steps, newest first.
#![allow(dead_code)] // each test crate uses its own subset

use std::path::PathBuf;

use fluxcn::api::{Accounting, CnType, GenParams, ImageFormat};
use fluxcn::gallery::catalog::Row;
use fluxcn::gallery::{Entry, Sidecar};
use fluxcn::jobs::ApiVersion;

pub fn entry(i: usize, prompt: &str, cn: CnType) -> Entry {
    let id = format!("{}-{cn}-{i}", 1_700_000_000_000u64 - i as u64);
    Entry {
        image_path: PathBuf::from(format!("/gallery/{id}.jpg")),
        sidecar_path: PathBuf::from(format!("/gallery/{id}.json")),
        id,
        meta: Sidecar {
            version: 1,
            job_id: None,
            input_file: None,
            input_hash: None,
            app: "fluxcn test".into(),
            created: format!("2026-11-25T07:{:02}:00.000Z", 59 - i % 60),
            created_unix_ms: 1_700_000_000_000 - i as u64,
            params: GenParams {
                prompt: prompt.into(),
                cn_type: cn,
                seed: -1,
                steps: 20 + i as u32 % 10,
                cn_strength: 0.6,
                ..Default::default()
            },
            seed_used: 1000 + i as i64,
            input: "photo.jpg".into(),
            api: ApiVersion::V1,
            accounting: Accounting::default(),
            format: ImageFormat::Jpeg,
            width: 1024,
            height: 768,
            bytes: 1234,
            group: None,
            favourite: false,
            rating: 0,
            model: "flux-controlnet".into(),
            prompt_template: None,
            batch_line: None,
            parent: None,
            framing: None,
        },
    }
}

/// The row a search lists for `e`.
pub fn row_of(e: &Entry) -> Row {
    Row {
        id: e.id.clone(),
        file: e
            .image_path
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned(),
        created_unix_ms: e.meta.created_unix_ms,
        cn_type: e.meta.params.cn_type.as_str().to_owned(),
        seed_used: e.meta.seed_used,
        favourite: e.meta.favourite,
        rating: e.meta.rating,
        prompt: e.meta.params.prompt.clone(),
    }
}

/// Newest first, as the gallery lists them.
pub fn three() -> Vec<Entry> {
    vec![
        entry(0, "a red fox in the snow", CnType::Pose),
        entry(1, "a blue car at night", CnType::Depth),
        entry(2, "a FOX made of paper", CnType::Canny),
    ]
}
