//! The gallery store's files on disk, end to end in a temporary folder: names and sidecars that
//! round-trip, nothing paid for lost to a crash mid-write, the catalog only a copy (rebuilt when
//! corrupt, missing or unwritable), trash and undo, favourites, thumbnails, 10 000 entries opened
//! fast, and several handles and threads sharing one folder.

use crate::common;

use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

use common::crc32;
use common::gallery::{
    accounting, catalog_path, encoded, forget_in_catalog, names, params, remove_catalog, save,
};
use fluxcn::api::ImageFormat;
use fluxcn::gallery::{GalleryError, Sidecar, Store};
use fluxcn::jobs::ApiVersion;

fn make_old(path: &Path) {
    let f = std::fs::File::options().write(true).open(path).unwrap();
    f.set_modified(SystemTime::now() - Duration::from_secs(3600))
        .unwrap();
}

#[test]
fn save_reopen_list_round_trip() {
    let d = tempfile::tempdir().unwrap();
    let store = Store::open(d.path().join("g")).unwrap();
    let png = encoded(40, 30, image::ImageFormat::Png);
    let jpg = encoded(32, 24, image::ImageFormat::Jpeg);
    let p = params();
    let a = save(&store, &png, &p, 4242);
    let b = save(&store, &jpg, &p, 4242);

    // Names: YYYYMMDD-HHMMSS-<cn_type>-<seed>[-n].<ext>, unique, the sidecar beside.
    let parts: Vec<&str> = a.id.split('-').collect();
    assert_eq!(parts[0].len(), 8, "{}", a.id);
    assert_eq!(parts[1].len(), 6, "{}", a.id);
    assert!(
        parts[0]
            .chars()
            .chain(parts[1].chars())
            .all(|c| c.is_ascii_digit())
    );
    assert_eq!(&parts[2..4], ["depth", "4242"]);
    assert_ne!(a.id, b.id);
    assert_eq!(
        a.image_path.file_name().unwrap().to_str().unwrap(),
        format!("{}.png", a.id)
    );
    assert_eq!(b.image_path.extension().unwrap(), "jpg");
    assert_eq!(a.sidecar_path, a.image_path.with_extension("json"));

    // The sidecar holds everything, exactly.
    assert_eq!(a.meta.params, p);
    assert_eq!(a.meta.seed_used, 4242);
    assert_eq!(a.meta.accounting, accounting(4242));
    assert_eq!(a.meta.input, "/home/artist/photos/knight.jpg");
    assert_eq!(a.meta.api, ApiVersion::V2);
    assert_eq!(
        (a.meta.width, a.meta.height, a.meta.format),
        (40, 30, ImageFormat::Png)
    );
    assert_eq!(a.meta.bytes, png.bytes.len() as u64);
    assert_eq!(a.meta.group.as_ref().unwrap().label, "cn_type: depth");
    assert_eq!(a.meta.app, "fluxcn 0.1.0");
    assert_eq!(a.meta.model, "flux-controlnet");
    assert!(
        chrono::DateTime::parse_from_rfc3339(&a.meta.created).is_ok(),
        "{}",
        a.meta.created
    );
    let on_disk: Sidecar =
        serde_json::from_slice(&std::fs::read(&a.sidecar_path).unwrap()).unwrap();
    assert_eq!(on_disk, a.meta);

    // Newest first, and the same after reopening (from the catalog).
    let listed = store.list();
    assert_eq!(listed.len(), 2);
    assert!(listed[0].meta.created_unix_ms >= listed[1].meta.created_unix_ms);
    let reopened = Store::open(d.path().join("g")).unwrap();
    assert_eq!(reopened.list(), listed);
    assert_eq!(reopened.get(&a.id), Some(a.clone()));
    assert_eq!(reopened.get("nope"), None);
}

#[test]
fn a_crash_mid_write_leaves_no_half_file_in_the_list() {
    let d = tempfile::tempdir().unwrap();
    let store = Store::open(d.path()).unwrap();
    let img = encoded(20, 20, image::ImageFormat::Png);
    let kept = save(&store, &img, &params(), 1);
    drop(store);

    // kill -9 mid-write: half an image in a temp file.
    let half = d
        .path()
        .join(format!(".{}-x.png.999.1234abcd.tmp", kept.id));
    std::fs::write(&half, &img.bytes[..img.bytes.len() / 2]).unwrap();
    make_old(&half);
    // A temp file being written right now by another process is left alone but never listed.
    let busy = d.path().join(".other.png.1000.0000beef.tmp");
    std::fs::write(&busy, b"in progress").unwrap();

    let store = Store::open(d.path()).unwrap();
    assert!(!half.exists(), "the leftover temp file is removed");
    assert!(busy.exists());
    assert_eq!(store.list(), vec![kept.clone()]);
    assert!(
        names(d.path())
            .iter()
            .all(|n| n != &half.file_name().unwrap().to_string_lossy())
    );
}

#[test]
fn an_image_saved_just_before_a_crash_is_picked_up() {
    let d = tempfile::tempdir().unwrap();
    let store = Store::open(d.path()).unwrap();
    let img = encoded(20, 20, image::ImageFormat::Png);
    let p = params();
    let a = save(&store, &img, &p, 11);
    let b = save(&store, &img, &p, 12);
    drop(store);
    // The crash came after the image was written: the sidecar is still the empty name
    // reservation, and the catalog does not know the picture.
    std::fs::write(&b.sidecar_path, b"").unwrap();
    // And a sidecar damaged by hand: kept aside, rebuilt from the image.
    std::fs::write(&a.sidecar_path, b"{\"version\": 1, \"app\": ").unwrap();
    forget_in_catalog(d.path(), &b.id);

    let store = Store::open(d.path()).unwrap();
    let got = store.get(&b.id).expect("the paid image is listed again");
    assert_eq!(
        got.meta.params, p,
        "settings recovered from inside the image"
    );
    assert_eq!(got.meta.input, "/home/artist/photos/knight.jpg");
    let side: Sidecar = serde_json::from_slice(&std::fs::read(&b.sidecar_path).unwrap()).unwrap();
    assert_eq!(side, got.meta, "its sidecar is rewritten");
    assert_eq!(store.list().len(), 2);
    // The catalog still had `a`; the damaged sidecar is noticed on a rebuild.
    assert_eq!(store.get(&a.id), Some(a.clone()));
    assert_eq!(store.rebuild_catalog().unwrap(), 2);
    let a2 = store.get(&a.id).unwrap();
    assert_eq!(a2.meta.params, p);
    assert_eq!(p.seed, -1);
    assert_eq!(a2.meta.seed_used, 11, "the seed used, from the A1111 text");
    let damaged = d.path().join(format!("{}.json.damaged", a.id));
    assert!(damaged.exists());
    assert!(!d.path().join(format!("{}.json.damaged", b.id)).exists());
}

#[test]
fn corrupt_or_missing_catalog_is_rebuilt_from_the_sidecars() {
    let d = tempfile::tempdir().unwrap();
    let store = Store::open(d.path()).unwrap();
    let img = encoded(20, 20, image::ImageFormat::Png);
    for seed in 0..3 {
        save(&store, &img, &params(), seed);
    }
    store.set_favourite(&store.list()[1].id, true).unwrap();
    store.set_rating(&store.list()[2].id, 4).unwrap();
    let want = store.list();
    assert_eq!(want[2].meta.rating, 4);
    drop(store);
    let catalog = catalog_path(d.path());

    remove_catalog(d.path());
    std::fs::write(&catalog, b"\x00\x01 garbage {{{\n".repeat(400)).unwrap();
    let store = Store::open(d.path()).unwrap();
    assert_eq!(store.list(), want);
    let notes = store.notes();
    assert!(
        notes.len() == 1 && notes[0].contains("damaged") && notes[0].contains("rebuilt"),
        "{notes:?}"
    );
    drop(store);
    assert!(
        Store::open(d.path()).unwrap().notes().is_empty(),
        "rebuilt for good"
    );

    remove_catalog(d.path());
    let store = Store::open(d.path()).unwrap();
    assert_eq!(store.list(), want);
    assert!(catalog.exists());
    assert!(store.notes().is_empty(), "a first open has nothing to tell");

    // A catalog cut short (a disk that lost its tail) opens, or is set aside and rebuilt.
    drop(store);
    let bytes = std::fs::read(&catalog).unwrap();
    std::fs::write(&catalog, &bytes[..bytes.len() / 2]).unwrap();
    let store = Store::open(d.path()).unwrap();
    assert_eq!(store.list(), want);
    save(&store, &img, &params(), 9);
    assert_eq!(Store::open(d.path()).unwrap().list().len(), 4);

    assert_eq!(store.rebuild_catalog().unwrap(), 4);
}

#[test]
fn delete_moves_to_trash_and_undo_restores() {
    let d = tempfile::tempdir().unwrap();
    let store = Store::open(d.path()).unwrap();
    let img = encoded(20, 20, image::ImageFormat::Jpeg);
    let a = save(&store, &img, &params(), 1);
    let b = save(&store, &img, &params(), 2);
    store.delete(&a.id).unwrap();
    assert_eq!(store.list(), vec![b.clone()]);
    assert!(!a.image_path.exists());
    let trash = d.path().join(".trash");
    assert!(trash.join(a.image_path.file_name().unwrap()).exists());
    assert!(trash.join(a.sidecar_path.file_name().unwrap()).exists());
    // Still deleted after a reopen, and never re-added by the repair on open.
    assert_eq!(Store::open(d.path()).unwrap().list(), vec![b.clone()]);

    let back = store.undo_delete(&a.id).unwrap();
    assert_eq!(back, a);
    assert_eq!(store.list().len(), 2);
    assert_eq!(Store::open(d.path()).unwrap().get(&a.id), Some(a.clone()));
    assert_eq!(
        store.undo_delete(&a.id).unwrap(),
        a,
        "undoing twice is harmless"
    );

    // Emptying the trash deletes for good, thumbnails included, and nothing else.
    store.thumbnail(&b, 10).unwrap();
    store.thumbnail(&a, 10).unwrap();
    store.delete(&b.id).unwrap();
    assert_eq!(store.empty_trash().unwrap(), 1);
    assert_eq!(names(&trash), Vec::<String>::new());
    assert_eq!(
        names(&d.path().join(".thumbs")),
        vec![format!("{}-10.jpg", a.id)]
    );
    assert!(store.undo_delete(&b.id).is_err());
    assert_eq!(store.list(), vec![a.clone()]);
    assert_eq!(store.empty_trash().unwrap(), 0);

    let e = store.undo_delete("20000101-000000-pose-1").unwrap_err();
    assert!(matches!(e, GalleryError::NotInTrash { .. }), "{e}");
    assert!(e.to_string().contains("20000101-000000-pose-1"));
    let e = store.delete("missing").unwrap_err();
    assert!(e.to_string().contains("missing"), "{e}");
    assert!(store.undo_delete("../../etc/passwd").is_err());
}

#[test]
fn favourites_persist_in_catalog_and_sidecar() {
    let d = tempfile::tempdir().unwrap();
    let store = Store::open(d.path()).unwrap();
    let img = encoded(20, 20, image::ImageFormat::Png);
    let a = save(&store, &img, &params(), 1);
    assert!(!a.meta.favourite);
    store.set_favourite(&a.id, true).unwrap();
    assert!(store.get(&a.id).unwrap().meta.favourite);
    assert!(
        Store::open(d.path())
            .unwrap()
            .get(&a.id)
            .unwrap()
            .meta
            .favourite
    );
    let side: Sidecar = serde_json::from_slice(&std::fs::read(&a.sidecar_path).unwrap()).unwrap();
    assert!(side.favourite);
    // The sidecar is the truth: it survives a catalog rebuild.
    remove_catalog(d.path());
    assert!(
        Store::open(d.path())
            .unwrap()
            .get(&a.id)
            .unwrap()
            .meta
            .favourite
    );
    store.set_favourite(&a.id, false).unwrap();
    assert!(
        !Store::open(d.path())
            .unwrap()
            .get(&a.id)
            .unwrap()
            .meta
            .favourite
    );
    assert!(store.set_favourite("nope", true).is_err());
}

#[test]
fn ten_thousand_entries_open_fast() {
    let d = tempfile::tempdir().unwrap();
    let store = Store::open(d.path()).unwrap();
    let img = encoded(8, 8, image::ImageFormat::Png);
    let first = save(&store, &img, &params(), 1);
    let image_bytes = std::fs::read(&first.image_path).unwrap();
    let side: Sidecar =
        serde_json::from_slice(&std::fs::read(&first.sidecar_path).unwrap()).unwrap();
    // A synthetic gallery: 10 000 images with sidecars (distinct times), then one catalog build.
    for n in 1..10_000u64 {
        let id = format!("20260101-000000-pose-{n}");
        std::fs::write(d.path().join(format!("{id}.png")), &image_bytes).unwrap();
        let mut s = side.clone();
        s.created_unix_ms = n;
        s.seed_used = n as i64;
        std::fs::write(
            d.path().join(format!("{id}.json")),
            serde_json::to_vec(&s).unwrap(),
        )
        .unwrap();
    }
    assert_eq!(store.rebuild_catalog().unwrap(), 10_000);
    drop(store);
    // Open must not read 10 000 sidecars: move them away and everything is still listed, exactly.
    let aside = tempfile::tempdir().unwrap();
    for n in 1..10_000u64 {
        let name = format!("20260101-000000-pose-{n}.json");
        std::fs::rename(d.path().join(&name), aside.path().join(&name)).unwrap();
    }

    let t = Instant::now();
    let store = Store::open(d.path()).unwrap();
    let list = store.list();
    let took = t.elapsed();
    eprintln!("open + list of 10 000 entries: {took:?}");
    assert_eq!(list.len(), 10_000);
    assert_eq!(list[0].id, first.id, "newest first");
    assert_eq!(list[1].meta.seed_used, 9_999);
    assert_eq!(list[1].meta.params, side.params);
    assert_eq!(list[9_999].meta.created_unix_ms, 1);
    // Release builds: well under a second. Debug builds run serde's code unoptimised (about ten
    // times slower; ~1 s measured on a busy 2-core machine), so they get a looser bound.
    let bound = if cfg!(debug_assertions) {
        Duration::from_secs(5)
    } else {
        Duration::from_millis(500)
    };
    assert!(took < bound, "open + list took {took:?}");
}

#[test]
fn thumbnails_are_cached_and_reused() {
    let d = tempfile::tempdir().unwrap();
    let store = Store::open(d.path()).unwrap();
    let e = save(
        &store,
        &encoded(300, 150, image::ImageFormat::Png),
        &params(),
        1,
    );
    let t = store.thumbnail(&e, 100).unwrap();
    assert_eq!((t.width(), t.height()), (100, 50));
    let cache = d.path().join(".thumbs").join(format!("{}-100.jpg", e.id));
    let made = std::fs::metadata(&cache).unwrap().modified().unwrap();
    std::thread::sleep(Duration::from_millis(20));
    let again = store.thumbnail(&e, 100).unwrap();
    assert_eq!((again.width(), again.height()), (100, 50));
    assert_eq!(
        std::fs::metadata(&cache).unwrap().modified().unwrap(),
        made,
        "reused"
    );
    // Never enlarged; a zero size is refused with a message.
    let big = store.thumbnail(&e, 1000).unwrap();
    assert_eq!((big.width(), big.height()), (300, 150));
    assert!(matches!(
        store.thumbnail(&e, 0),
        Err(GalleryError::BadThumbSize { .. })
    ));
    let mut sneaky = e.clone();
    sneaky.id = "../../escape".into();
    assert!(store.thumbnail(&sneaky, 10).is_err());
    assert!(!d.path().join("escape-10.jpg").exists());
    // A damaged image gives an error naming it, not a panic.
    std::fs::write(&e.image_path, b"\x89PNG\r\n\x1a\nbroken").unwrap();
    let err = store.thumbnail(&e, 50).unwrap_err();
    assert!(err.to_string().contains(&e.id), "{err}");
}

#[test]
fn two_handles_and_many_threads_share_one_gallery() {
    let d = tempfile::tempdir().unwrap();
    let app = Store::open(d.path()).unwrap();
    let cli = Store::open(d.path()).unwrap(); // as if another process
    let img = encoded(8, 8, image::ImageFormat::Png);
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let s = app.clone();
            let img = img.clone();
            std::thread::spawn(move || {
                (0..3)
                    .map(|_| save(&s, &img, &params(), 77).id)
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut ids: Vec<String> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 12, "same second, same seed: still unique names");
    let c = save(&cli, &img, &params(), 78);
    assert_eq!(cli.list().len(), 13);
    assert_eq!(app.list().len(), 13, "the app sees what the CLI saved");
    app.delete(&c.id).unwrap();
    assert_eq!(cli.get(&c.id), None, "and the CLI sees the app's delete");
    assert_eq!(Store::open(d.path()).unwrap().list().len(), 12);
}

#[test]
fn open_fails_with_a_named_error_when_the_folder_cannot_be_made() {
    let d = tempfile::tempdir().unwrap();
    let file = d.path().join("a-file");
    std::fs::write(&file, b"x").unwrap();
    let err = Store::open(file.join("gallery")).err().unwrap();
    assert!(err.to_string().contains("a-file"), "{err}");
}

#[test]
fn an_unwritable_catalog_never_stops_the_gallery() {
    let d = tempfile::tempdir().unwrap();
    let store = Store::open(d.path()).unwrap();
    let img = encoded(8, 8, image::ImageFormat::Png);
    let a = save(&store, &img, &params(), 1);
    drop(store);
    // The catalog's path becomes something that can be neither read nor replaced.
    let index = catalog_path(d.path());
    remove_catalog(d.path());
    std::fs::create_dir(&index).unwrap();
    std::fs::write(index.join("x"), b"x").unwrap();

    let store = Store::open(d.path()).unwrap();
    assert_eq!(store.list(), vec![a.clone()]);
    let b = save(&store, &img, &params(), 2);
    store.set_favourite(&b.id, true).unwrap();
    assert_eq!(store.list().len(), 2);
    assert!(store.get(&b.id).unwrap().meta.favourite);
    assert!(b.image_path.exists() && b.sidecar_path.exists());
    assert!(
        store.notes()[0].contains("cannot be used"),
        "{:?}",
        store.notes()
    );
    // An explicit rebuild says what is wrong, naming the catalog.
    let e = store.rebuild_catalog().unwrap_err();
    assert!(e.to_string().contains(".catalog.sqlite"), "{e}");
}

#[test]
fn the_store_is_shareable_and_survives_its_folder_vanishing() {
    fn send_sync<T: Send + Sync + Clone + 'static>() {}
    send_sync::<Store>();
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("gallery");
    let store = Store::open(&dir).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    let e = save(
        &store,
        &encoded(8, 8, image::ImageFormat::Png),
        &params(),
        3,
    );
    assert!(e.image_path.exists() && e.sidecar_path.exists());
    assert_eq!(Store::open(&dir).unwrap().list(), vec![e]);
}

#[test]
fn a_thumbnail_of_a_huge_claimed_size_is_refused_not_allocated() {
    let d = tempfile::tempdir().unwrap();
    let store = Store::open(d.path()).unwrap();
    let e = save(
        &store,
        &encoded(8, 8, image::ImageFormat::Png),
        &params(),
        3,
    );
    // Rewrite the header to claim 60 000 x 60 000 pixels (with a correct CRC).
    let mut b = std::fs::read(&e.image_path).unwrap();
    b[16..20].copy_from_slice(&60_000u32.to_be_bytes());
    b[20..24].copy_from_slice(&60_000u32.to_be_bytes());
    let crc = crc32(&b[12..29]);
    b[29..33].copy_from_slice(&crc.to_be_bytes());
    std::fs::write(&e.image_path, &b).unwrap();
    let err = store.thumbnail(&e, 64).unwrap_err();
    assert!(matches!(err, GalleryError::DamagedImage { .. }), "{err}");
}

/// Saves `img` made from `p` with `seed`, keeping `input` as its control image (a Windows path
/// names where it came from).
fn save_with_input(
    store: &Store,
    img: &fluxcn::api::ReceivedImage,
    p: &fluxcn::api::GenParams,
    seed: i64,
    input: &[u8],
) -> fluxcn::gallery::Entry {
    store
        .save(&fluxcn::gallery::NewResult {
            image: img,
            params: p,
            input: "C:\\Users\\artist\\photos\\knight.png",
            api: ApiVersion::V1,
            accounting: &accounting(seed),
            group: None,
            index: 0,
            job_id: Some(1),
            input_image: Some(input),
            prompt_template: None,
            batch_line: None,
            framing: None,
        })
        .unwrap()
}

/// Whether Windows can hold `name`: none of `<>:"/\|?*` or a control character, no trailing dot or
/// space, and not a reserved device name (`CON`, `NUL`, `COM1`…), with or without an extension.
fn windows_name(name: &str) -> Result<(), String> {
    if name.is_empty()
        || name
            .chars()
            .any(|c| c.is_control() || r#"<>:"/\|?*"#.contains(c))
    {
        return Err(format!("{name:?} holds a character Windows refuses"));
    }
    if name.ends_with('.') || name.ends_with(' ') {
        return Err(format!("{name:?} ends with a dot or a space"));
    }
    let device = name.split('.').next().unwrap_or("").to_ascii_uppercase();
    let reserved = ["CON", "PRN", "AUX", "NUL"].contains(&device.as_str())
        || ((device.starts_with("COM") || device.starts_with("LPT"))
            && device.len() == 4
            && device.as_bytes()[3].is_ascii_digit());
    if reserved {
        return Err(format!("{name:?} is a reserved device name on Windows"));
    }
    Ok(())
}

#[test]
fn the_windows_name_check_refuses_what_windows_refuses() {
    for bad in [
        "a:b.png", "CON", "nul.json", "Com1.png", "lpt9", "x.", "x ", "a|b", "a\u{1}",
    ] {
        assert!(windows_name(bad).is_err(), "{bad}");
    }
    for good in [
        "20261118-110640-depth-42.png",
        ".catalog.sqlite",
        "console.png",
        "com10",
    ] {
        assert!(windows_name(good).is_ok(), "{good}");
    }
}

/// Every name the store writes (results, sidecars, kept inputs, thumbnails, the trash, the
/// catalog, a fallback copy) is one Windows can hold, and no two in a folder differ only in case
/// (a case-insensitive file system, as Windows' and macOS's are by default, would merge them).
#[test]
fn every_name_written_is_a_windows_name_and_unique_without_case() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("g");
    let store = Store::open(&dir).unwrap();
    let mut p = params();
    let input = encoded(24, 24, image::ImageFormat::Png).bytes;
    let mut saved = Vec::new();
    for (i, cn) in fluxcn::api::CnType::ALL.iter().enumerate() {
        p.cn_type = *cn;
        for (seed, fmt) in [
            (-1, image::ImageFormat::Png),
            (i as i64, image::ImageFormat::Jpeg),
            (i as i64, image::ImageFormat::WebP),
        ] {
            let img = encoded(16, 16, fmt);
            let e = save_with_input(&store, &img, &p, seed, &input);
            store.thumbnail(&e, 64).unwrap();
            saved.push(e);
        }
    }
    store.delete(&saved[0].id).unwrap();
    let fallback = fluxcn::gallery::write_fallback(&saved[1].id, "png", b"x").unwrap();
    windows_name(fallback.file_name().unwrap().to_str().unwrap()).unwrap();
    windows_name(
        fallback
            .parent()
            .unwrap()
            .file_name()
            .unwrap()
            .to_str()
            .unwrap(),
    )
    .unwrap();
    std::fs::remove_dir_all(fallback.parent().unwrap()).unwrap();

    // The kept input is named with `/`, whatever the platform.
    let kept = saved[1].meta.input_file.clone().unwrap();
    assert!(
        kept.starts_with(".inputs/") && !kept.contains('\\'),
        "{kept}"
    );

    let mut folders = vec![dir.clone()];
    let mut seen = 0;
    while let Some(f) = folders.pop() {
        let mut lower = std::collections::HashSet::new();
        for e in std::fs::read_dir(&f).unwrap() {
            let e = e.unwrap();
            let name = e.file_name().into_string().unwrap();
            windows_name(&name).unwrap();
            assert!(
                lower.insert(name.to_lowercase()),
                "{name} differs from another name in {} only in case",
                f.display()
            );
            seen += 1;
            if e.file_type().unwrap().is_dir() {
                folders.push(e.path());
            }
        }
    }
    // 12 images and their sidecars, the inputs, trash and thumbnail folders, the catalog.
    assert!(seen >= 24 + 4, "only {seen} names were written");
}

/// A sidecar's relative `input_file` reads back with `/` (as written) and with `\` (as a sidecar
/// edited on Windows may hold it), on every platform.
#[test]
fn a_kept_input_path_reads_back_with_either_separator() {
    let d = tempfile::tempdir().unwrap();
    let store = Store::open(d.path().join("g")).unwrap();
    let img = encoded(16, 16, image::ImageFormat::Png);
    let input = encoded(24, 24, image::ImageFormat::Png).bytes;
    let e = save_with_input(&store, &img, &params(), 3, &input);
    let want = e.input_path().unwrap();
    assert!(want.is_file(), "{}", want.display());
    assert_eq!(
        fluxcn::gallery::kept_input_of(&e.image_path),
        Some(want.clone())
    );

    let mut meta = e.meta.clone();
    meta.input_file = Some(meta.input_file.unwrap().replace('/', "\\"));
    std::fs::write(&e.sidecar_path, serde_json::to_vec_pretty(&meta).unwrap()).unwrap();
    let read = fluxcn::gallery::kept_input_of(&e.image_path).unwrap();
    assert_eq!(std::fs::read(&read).unwrap(), std::fs::read(&want).unwrap());
}
