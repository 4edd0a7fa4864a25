//! Hardening of the gallery on disk: a kill -9 in the middle of a save leaves nothing that is lost
//! or stuck (a complete temp file is finished, an empty sidecar never stays), and a crafted catalog
//! can never make the store read, write or move a file outside its folder.

use std::path::Path;
use std::time::{Duration, SystemTime};

use fluxcn::api::response::check_image;
use fluxcn::api::{Accounting, GenParams, ImageFormat, ReceivedImage};
use fluxcn::gallery::{Entry, NewResult, Sidecar, Store};
use fluxcn::jobs::ApiVersion;

/// A PNG big enough to take a while to write, with noisy pixels (no compression shortcut).
fn png(w: u32, h: u32) -> ReceivedImage {
    let img = image::RgbImage::from_fn(w, h, |x, y| {
        let v = x
            .wrapping_mul(2_654_435_761)
            .wrapping_add(y.wrapping_mul(40_503));
        image::Rgb([v as u8, (v >> 8) as u8, (v >> 16) as u8])
    });
    let mut bytes = Vec::new();
    image::DynamicImage::ImageRgb8(img)
        .write_to(
            &mut std::io::Cursor::new(&mut bytes),
            image::ImageFormat::Png,
        )
        .unwrap();
    check_image(bytes, "test").unwrap()
}

fn save(store: &Store, img: &ReceivedImage, seed: i64, job: u64) -> Entry {
    let params = GenParams {
        prompt: "a lighthouse at dusk".into(),
        seed,
        image_format: ImageFormat::Png,
        ..GenParams::default()
    };
    let acc = Accounting {
        request_id: Some(format!("req-{job}")),
        cost: Some(0.048),
        ..Default::default()
    };
    store
        .save(&NewResult {
            image: img,
            params: &params,
            input: "/photos/coast.jpg",
            api: ApiVersion::V2,
            accounting: &acc,
            group: None,
            index: 0,
            job_id: Some(job),
            input_image: None,
            prompt_template: None,
            batch_line: None,
            framing: None,
        })
        .unwrap()
}

fn make_old(path: &Path) {
    let f = std::fs::File::options().write(true).open(path).unwrap();
    f.set_modified(SystemTime::now() - Duration::from_secs(3600))
        .unwrap();
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// The gallery's catalog, opened as another program would.
fn catalog(dir: &Path) -> rusqlite::Connection {
    let c = rusqlite::Connection::open(dir.join(".catalog.sqlite")).unwrap();
    c.busy_timeout(Duration::from_secs(10)).unwrap();
    c
}

/// Forgets `id` in the catalog (the crash came before its row was written).
fn forget_in_catalog(dir: &Path, id: &str) {
    catalog(dir)
        .execute("DELETE FROM results WHERE id = ?", [id])
        .unwrap();
}

/// Removes the catalog and its WAL files.
fn remove_catalog(dir: &Path) {
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(dir.join(format!(".catalog.sqlite{suffix}")));
    }
}

/// A pid that belongs to no process (the writer was killed).
const DEAD_PID: u32 = 999_999_999;

#[test]
fn a_complete_image_left_in_a_temp_file_by_a_kill_is_finished_not_deleted() {
    let d = tempfile::tempdir().unwrap();
    let store = Store::open(d.path()).unwrap();
    let kept = save(&store, &png(64, 64), 1, 1);
    let e = save(&store, &png(900, 700), 2, 2);
    drop(store);
    let bytes = std::fs::read(&e.image_path).unwrap();
    // kill -9 after the image's temp file was written and synced, before its rename: the sidecar is
    // still the empty name reservation and the catalog does not know the picture.
    let name = e.image_path.file_name().unwrap().to_string_lossy();
    let tmp = d.path().join(format!(".{name}.{DEAD_PID}.0badcafe.tmp"));
    std::fs::rename(&e.image_path, &tmp).unwrap();
    std::fs::write(&e.sidecar_path, b"").unwrap();
    forget_in_catalog(d.path(), &e.id);
    make_old(&tmp);

    let store = Store::open(d.path()).unwrap();
    assert_eq!(std::fs::read(&e.image_path).unwrap(), bytes, "finished");
    assert!(!tmp.exists());
    let got = store.get(&e.id).expect("listed again");
    assert_eq!(
        got.meta.params, e.meta.params,
        "settings from inside the image"
    );
    let side: Sidecar = serde_json::from_slice(&std::fs::read(&e.sidecar_path).unwrap()).unwrap();
    assert_eq!(side.params, e.meta.params);
    assert_eq!(store.list().len(), 2);
    assert!(store.get(&kept.id).is_some());
    assert!(names(d.path()).iter().all(|n| !n.ends_with(".tmp")));
}

#[test]
fn a_complete_sidecar_left_in_a_temp_file_by_a_kill_is_finished() {
    let d = tempfile::tempdir().unwrap();
    let store = Store::open(d.path()).unwrap();
    let e = save(&store, &png(32, 32), 3, 42);
    drop(store);
    let full = std::fs::read(&e.sidecar_path).unwrap();
    // kill -9 after the sidecar's temp file was synced, before its rename.
    let name = e.sidecar_path.file_name().unwrap().to_string_lossy();
    let tmp = d.path().join(format!(".{name}.{DEAD_PID}.12345678.tmp"));
    std::fs::write(&tmp, &full).unwrap();
    std::fs::write(&e.sidecar_path, b"").unwrap();
    forget_in_catalog(d.path(), &e.id);
    make_old(&tmp);

    let store = Store::open(d.path()).unwrap();
    assert_eq!(
        std::fs::read(&e.sidecar_path).unwrap(),
        full,
        "the real sidecar"
    );
    assert_eq!(store.get(&e.id).unwrap().meta, e.meta);
    assert!(!tmp.exists());
}

#[test]
fn an_empty_sidecar_is_never_left_behind() {
    let d = tempfile::tempdir().unwrap();
    let store = Store::open(d.path()).unwrap();
    let a = save(&store, &png(32, 32), 4, 4);
    let b = save(&store, &png(300, 200), 5, 5);
    drop(store);
    // b: kill -9 in the middle of writing the image: half a temp file and the empty reservation.
    let bytes = std::fs::read(&b.image_path).unwrap();
    let name = b.image_path.file_name().unwrap().to_string_lossy();
    let half = d.path().join(format!(".{name}.{DEAD_PID}.00000001.tmp"));
    std::fs::write(&half, &bytes[..bytes.len() / 2]).unwrap();
    std::fs::remove_file(&b.image_path).unwrap();
    std::fs::write(&b.sidecar_path, b"").unwrap();
    forget_in_catalog(d.path(), &b.id);
    make_old(&half);
    make_old(&b.sidecar_path);
    // a: its sidecar was emptied (a torn write by another tool); the catalog still has it.
    std::fs::write(&a.sidecar_path, b"").unwrap();

    let store = Store::open(d.path()).unwrap();
    assert_eq!(store.list(), vec![a.clone()]);
    assert!(!half.exists());
    assert!(
        !b.sidecar_path.exists(),
        "the stale empty reservation is gone: {:?}",
        names(d.path())
    );
    let side: Sidecar = serde_json::from_slice(&std::fs::read(&a.sidecar_path).unwrap()).unwrap();
    assert_eq!(side, a.meta, "rewritten from the catalog");
    // A fresh reservation (a save in progress in another process) is left alone.
    let busy = d.path().join("20990101-000000-pose-1.json");
    std::fs::write(&busy, b"").unwrap();
    drop(store);
    let _store = Store::open(d.path()).unwrap();
    assert!(busy.exists());
}

#[test]
fn crafted_catalog_rows_are_never_listed_or_followed() {
    let d = tempfile::tempdir().unwrap();
    let gallery = d.path().join("a").join("b").join("g");
    let store = Store::open(&gallery).unwrap();
    let e = save(&store, &png(16, 16), 6, 6);
    drop(store);
    let victim = d.path().join("victim.png");
    std::fs::write(&victim, b"precious").unwrap();
    let meta = serde_json::to_string(&e.meta).unwrap();
    let file = e
        .image_path
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    // Rows written into the catalog by someone else (a crafted file in a shared folder).
    let plant = |rows: &[(&str, &str)]| {
        let c = catalog(&gallery);
        for (id, file) in rows {
            c.execute(
                "INSERT INTO results (id, file, created_ms, cn_type, seed_used, prompt, api, meta)
                 VALUES (?1, ?2, 1, 'pose', 1, 'x', 'v1', ?3)",
                [id, file, &meta.as_str()],
            )
            .unwrap();
        }
    };
    plant(&[
        ("../../x", &file),
        ("/tmp/fluxcn-abs", &file),
        ("..", &file),
    ]);

    let store = Store::open(&gallery).unwrap();
    assert_eq!(store.list(), vec![e.clone()]);
    for bad in ["../../x", "/tmp/fluxcn-abs", ".."] {
        assert!(store.get(bad).is_none(), "{bad}");
        assert!(store.set_favourite(bad, true).is_err(), "{bad}");
        assert!(store.delete(bad).is_err(), "{bad}");
        assert!(store.undo_delete(bad).is_err(), "{bad}");
    }
    assert!(!d.path().join("a").join("x.json").exists());

    // Rows written by "another process" while we run are checked too: a good-looking id whose
    // file is a path outside the folder never gets listed, moved or deleted.
    let victim_name = victim.to_string_lossy().into_owned();
    plant(&[
        ("20260101-000000-pose-9", &victim_name),
        ("20260101-000000-pose-8", "../../../victim.png"),
    ]);
    assert_eq!(store.list(), vec![e.clone()]);
    assert!(store.delete("20260101-000000-pose-9").is_err());
    assert!(store.delete("20260101-000000-pose-8").is_err());
    assert_eq!(std::fs::read(&victim).unwrap(), b"precious");
    assert!(store.get(&e.id).is_some());
    let found = store.query(&Default::default()).unwrap();
    assert_eq!(found.len(), 1, "{found:?}");
}

#[test]
fn an_old_sidecar_without_a_job_id_still_reads_and_is_found_by_request_id() {
    let d = tempfile::tempdir().unwrap();
    let store = Store::open(d.path()).unwrap();
    let e = save(&store, &png(16, 16), 7, 7);
    assert_eq!(store.find_job(7, None), vec![e.clone()]);
    drop(store);
    // A sidecar written before job ids existed.
    let mut v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&e.sidecar_path).unwrap()).unwrap();
    assert_eq!(v["job_id"], 7);
    v.as_object_mut().unwrap().remove("job_id");
    std::fs::write(&e.sidecar_path, serde_json::to_vec_pretty(&v).unwrap()).unwrap();
    remove_catalog(d.path());

    let store = Store::open(d.path()).unwrap();
    let got = store.get(&e.id).unwrap();
    assert_eq!(got.meta.job_id, None);
    assert_eq!(got.meta.params, e.meta.params);
    assert!(store.find_job(7, None).is_empty());
    assert_eq!(
        store.find_job(99, Some("req-7")),
        vec![got],
        "by its v2 request id"
    );
    assert!(store.find_job(99, Some("req-8")).is_empty());
}

#[cfg(unix)]
#[test]
fn links_planted_in_a_shared_gallery_folder_are_never_followed() {
    let d = tempfile::tempdir().unwrap();
    let gallery = d.path().join("g");
    let store = Store::open(&gallery).unwrap();
    let e = save(&store, &png(16, 16), 8, 8);
    drop(store);
    // Another user of a shared `--out` folder plants links at the names the store uses.
    let elsewhere = d.path().join("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    let victim = d.path().join("victim.txt");
    std::fs::write(&victim, b"precious").unwrap();
    std::fs::remove_dir_all(gallery.join(".trash")).ok();
    std::fs::remove_dir_all(gallery.join(".thumbs")).ok();
    std::os::unix::fs::symlink(&elsewhere, gallery.join(".trash")).unwrap();
    std::os::unix::fs::symlink(&elsewhere, gallery.join(".thumbs")).unwrap();

    let store = Store::open(&gallery).unwrap();
    drop(store);
    remove_catalog(&gallery);
    std::os::unix::fs::symlink(&victim, gallery.join(".catalog.sqlite")).unwrap();
    std::os::unix::fs::symlink(&victim, gallery.join(".catalog.sqlite-wal")).unwrap();
    let store = Store::open(&gallery).unwrap();
    let err = store.delete(&e.id).unwrap_err();
    assert!(err.to_string().contains(".trash"), "{err}");
    assert!(e.image_path.exists(), "not moved through the link");
    assert!(store.empty_trash().is_err());
    store.thumbnail(&e, 8).unwrap();
    store.set_favourite(&e.id, true).unwrap();
    save(&store, &png(16, 16), 9, 9);
    assert_eq!(names(&elsewhere), Vec::<String>::new());
    assert!(std::fs::read(&victim).unwrap() == b"precious");
    assert!(
        std::fs::symlink_metadata(gallery.join(".catalog.sqlite"))
            .unwrap()
            .is_file(),
        "the catalog link was replaced by the catalog"
    );
}
