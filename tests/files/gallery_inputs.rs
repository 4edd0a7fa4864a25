//! The control image kept with its results: stored once per distinct content under its SHA-256 in
//! `<gallery>/.inputs/`, named by each sidecar as `input_file`, exactly the bytes that were sent;
//! deleting the last result that uses an input moves it to the trash with it (undo brings both
//! back, emptying the trash removes both); and end to end through the real binary.

use crate::common;

use std::path::Path;
use std::time::Duration;

use common::binary::fluxcn_cmd;
use common::gallery::{accounting, encoded, params};
use common::rt;
use fluxcn::api::input::{PrepareOptions, prepare_file};
use fluxcn::gallery::{Entry, NewResult, Sidecar, Store};
use fluxcn::jobs::ApiVersion;

const KEY: &str = "SG_0123456789abcdef";

fn save_with_input(store: &Store, input: &[u8], seed: i64) -> Entry {
    let img = encoded(24, 16, image::ImageFormat::Png);
    store
        .save(&NewResult {
            image: &img,
            params: &params(),
            input: "/home/artist/pose.png",
            api: ApiVersion::V1,
            accounting: &accounting(seed),
            group: None,
            index: 0,
            job_id: Some(seed as u64),
            input_image: Some(input),
            prompt_template: None,
            batch_line: None,
            framing: None,
        })
        .unwrap()
}

fn png_bytes(w: u32, h: u32, shade: u8) -> Vec<u8> {
    let img = image::RgbImage::from_fn(w, h, |x, y| image::Rgb([x as u8, y as u8, shade]));
    let mut out = Vec::new();
    image::DynamicImage::ImageRgb8(img)
        .write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)
        .unwrap();
    out
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn kept(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir.join(".inputs"))
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

#[test]
fn one_copy_per_content_named_by_each_sidecar_and_freed_with_its_last_result() {
    let d = tempfile::tempdir().unwrap();
    let store = Store::open(d.path()).unwrap();
    let pose = png_bytes(96, 64, 10);
    let depth = png_bytes(64, 96, 200);
    let a = save_with_input(&store, &pose, 1);
    let b = save_with_input(&store, &pose, 2);
    let c = save_with_input(&store, &depth, 3);
    let want = vec![
        format!("{}.png", sha256_hex(&pose)),
        format!("{}.png", sha256_hex(&depth)),
    ];
    let mut want_sorted = want.clone();
    want_sorted.sort();
    assert_eq!(
        kept(d.path()),
        want_sorted,
        "stored once per distinct content"
    );
    // Each sidecar names its input relative to its folder, with its hash; the bytes are the sent ones.
    for (e, bytes, name) in [
        (&a, &pose, &want[0]),
        (&b, &pose, &want[0]),
        (&c, &depth, &want[1]),
    ] {
        let side: Sidecar =
            serde_json::from_slice(&std::fs::read(&e.sidecar_path).unwrap()).unwrap();
        assert_eq!(
            side.input_file.as_deref(),
            Some(format!(".inputs/{name}").as_str())
        );
        assert_eq!(side.input_hash.as_deref(), Some(sha256_hex(bytes).as_str()));
        assert_eq!(std::fs::read(e.input_path().unwrap()).unwrap(), *bytes);
    }
    // A catalog rebuilt from the sidecars knows them too.
    store.rebuild_catalog().unwrap();
    assert_eq!(store.get(&a.id).unwrap().meta.input_hash, a.meta.input_hash);

    // Deleting one of two users keeps the input; deleting the last moves it to the trash.
    store.delete(&a.id).unwrap();
    assert_eq!(kept(d.path()).len(), 2);
    store.delete(&b.id).unwrap();
    assert_eq!(kept(d.path()), vec![want[1].clone()]);
    assert!(d.path().join(".trash/.inputs").join(&want[0]).is_file());
    // Undo brings it back with the result, and the restored result reads its input again.
    let back = store.undo_delete(&b.id).unwrap();
    assert_eq!(std::fs::read(back.input_path().unwrap()).unwrap(), pose);
    assert_eq!(kept(d.path()).len(), 2);
    // Deleted again, and the trash emptied: both go for good; the other input stays.
    store.delete(&b.id).unwrap();
    store.empty_trash().unwrap();
    assert!(!d.path().join(".trash/.inputs").join(&want[0]).exists());
    assert_eq!(kept(d.path()), vec![want[1].clone()]);
    assert_eq!(std::fs::read(c.input_path().unwrap()).unwrap(), depth);
    // Saving the same content again after it was emptied keeps it again.
    let e = save_with_input(&store, &pose, 4);
    assert_eq!(std::fs::read(e.input_path().unwrap()).unwrap(), pose);
}

#[test]
fn the_binary_keeps_the_input_exactly_as_it_was_sent() {
    let rt = rt();
    let server = rt
        .block_on(fluxcn::sim::start(fluxcn::sim::SimConfig {
            delay: Duration::ZERO,
            ..Default::default()
        }))
        .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    // Larger than the longest side sent: the input is downscaled and re-encoded before sending.
    let photo = tmp.path().join("big.png");
    image::RgbImage::from_fn(3000, 2000, |x, y| {
        image::Rgb([(x / 12) as u8, (y / 8) as u8, 77])
    })
    .save(&photo)
    .unwrap();
    let out = tmp.path().join("g");
    let o = fluxcn_cmd(
        KEY,
        &server.base_url(),
        &tmp.path().join("data"),
        Duration::from_secs(60),
    )
    .args(["generate", "--image"])
    .arg(&photo)
    .args(["--prompt", "a dancer", "--seed", "5", "--out"])
    .arg(&out)
    .output()
    .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let store = Store::open(&out).unwrap();
    let e = store.list().remove(0);
    let kept = std::fs::read(e.input_path().expect("the input was kept")).unwrap();
    // What was sent is what `prepare` makes of the file (the CLI's default longest side).
    let sent = prepare_file(&photo, &PrepareOptions::default()).unwrap();
    use base64::Engine;
    let sent = base64::engine::general_purpose::STANDARD
        .decode(sent.payload)
        .unwrap();
    assert_eq!(
        kept, sent,
        "the kept input is the request's image, byte for byte"
    );
    let img = image::load_from_memory(&kept).unwrap();
    assert_eq!((img.width(), img.height()), (2048, 1365));
}
