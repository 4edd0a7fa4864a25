//! Hardening of input preparation (the library, no binary): a FIFO, a socket or a device given as
//! the input is refused at once, naming the path and what it is, instead of hanging or reading
//! forever; an image the service cannot use (under 64 px a side, before or after the downscale, or
//! longer than 16× its short side) and a maximum side under 64 are refused before anything is sent.

use crate::common;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;

use common::{gradient, jpeg, png_of};
#[cfg(unix)]
use fluxcn::api::input::prepare_file;
use fluxcn::api::input::{InputError, PrepareOptions, prepare_bytes, preview};
use fluxcn::jobs::InputSource;
use image::DynamicImage;

/// Runs `f` on a thread; fails the test when it takes more than 10 s (a hang), naming `what`.
/// A thread stuck in `open` of a FIFO is unblocked by opening the FIFO for writing.
fn within_10s<T: Send + 'static>(
    what: &str,
    unblock: Option<&Path>,
    f: impl FnOnce() -> T + Send + 'static,
) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(Duration::from_secs(10)) {
        Ok(v) => v,
        Err(_) => {
            if let Some(p) = unblock {
                let _ = std::fs::OpenOptions::new().write(true).open(p);
            }
            panic!("{what} hung for 10 s");
        }
    }
}

fn mkfifo(dir: &Path, name: &str) -> PathBuf {
    let p = dir.join(name);
    let ok = std::process::Command::new("mkfifo")
        .arg(&p)
        .status()
        .unwrap()
        .success();
    assert!(ok, "mkfifo {}", p.display());
    p
}

fn png(w: u32, h: u32) -> Vec<u8> {
    png_of(&DynamicImage::ImageRgb8(gradient(w, h)))
}

fn says(e: &InputError, needles: &[&str]) {
    let msg = e.to_string();
    for n in needles {
        assert!(msg.contains(n), "{msg:?} does not say {n:?}");
    }
}

#[cfg(unix)]
#[test]
fn a_fifo_is_refused_at_once_when_prepared_and_previewed() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = mkfifo(dir.path(), "camera.jpg");
    let p = fifo.clone();
    let e = within_10s("preparing a FIFO", Some(&fifo), move || {
        prepare_file(&p, &PrepareOptions::default())
    })
    .unwrap_err();
    says(&e, &["camera.jpg", "named pipe"]);
    assert!(matches!(e, InputError::NotRegular { .. }), "{e:?}");
    let src = InputSource::File(fifo.clone());
    let e = within_10s("previewing a FIFO", Some(&fifo), move || preview(&src, 256)).unwrap_err();
    says(&e, &["camera.jpg", "named pipe"]);
}

#[cfg(unix)]
#[test]
fn a_socket_and_a_device_are_named_for_what_they_are() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("listen.png");
    let _listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    let e = prepare_file(&sock, &PrepareOptions::default()).unwrap_err();
    says(&e, &["listen.png", "socket"]);

    let e = within_10s("preparing /dev/null", None, || {
        prepare_file(Path::new("/dev/null"), &PrepareOptions::default())
    })
    .unwrap_err();
    says(&e, &["/dev/null", "device"]);
    let e = within_10s("previewing /dev/zero", None, || {
        preview(&InputSource::File(PathBuf::from("/dev/zero")), 256)
    })
    .unwrap_err();
    says(&e, &["/dev/zero", "device"]);

    // A symbolic link to a regular file is still a regular file.
    let real = dir.path().join("real.jpg");
    std::fs::write(&real, jpeg(&gradient(320, 240), 90)).unwrap();
    let link = dir.path().join("link.jpg");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    assert!(prepare_file(&link, &PrepareOptions::default()).is_ok());
}

#[test]
fn images_under_64_px_a_side_are_refused_naming_the_size() {
    let opts = PrepareOptions::default();
    for (w, h) in [(1, 1), (63, 200), (200, 63), (8, 8)] {
        let e = prepare_bytes("tiny.png", &png(w, h), &opts).unwrap_err();
        assert!(matches!(e, InputError::Unusable { .. }), "{e:?}");
        says(&e, &["tiny.png", &format!("{w}×{h}"), "64"]);
    }
    // The preview says so too, when the image is picked.
    let src = InputSource::Bytes {
        name: "dot.png".into(),
        data: Arc::new(png(1, 1)),
    };
    says(&preview(&src, 256).unwrap_err(), &["dot.png", "1×1", "64"]);
    // 64 on a side is enough.
    let out = prepare_bytes("ok.png", &png(64, 64), &opts).unwrap();
    assert_eq!((out.width, out.height), (64, 64));
}

#[test]
fn extreme_ratios_are_refused_naming_the_size() {
    let opts = PrepareOptions::default();
    let line = png(100_000, 1);
    let e = prepare_bytes("line.png", &line, &opts).unwrap_err();
    says(&e, &["line.png", "100000×1"]);
    for (w, h) in [(2000, 100), (100, 2000), (1100, 68)] {
        let e = prepare_bytes("strip.png", &png(w, h), &opts).unwrap_err();
        says(&e, &["strip.png", &format!("{w}×{h}"), "16"]);
    }
    // Exactly 16 to 1 is accepted.
    let out = prepare_bytes("banner.png", &png(1024, 64), &opts).unwrap();
    assert_eq!((out.width, out.height), (1024, 64));
}

#[test]
fn an_image_the_downscale_would_shrink_under_64_px_is_refused() {
    // 1600×200 fits 256 px as 256×32: too small to send.
    let opts = PrepareOptions {
        max_side: 256,
        ..PrepareOptions::default()
    };
    let e = prepare_bytes("pano.jpg", &jpeg(&gradient(1600, 200), 90), &opts).unwrap_err();
    says(&e, &["pano.jpg", "1600×200", "256×32", "64"]);
    // 1600×400 fits as 256×64: sent.
    let out = prepare_bytes("pano.jpg", &jpeg(&gradient(1600, 400), 90), &opts).unwrap();
    assert_eq!((out.width, out.height), (256, 64));
}

#[test]
fn a_maximum_side_under_64_is_refused() {
    let photo = jpeg(&gradient(640, 480), 90);
    for max_side in [0, 1, 63] {
        let opts = PrepareOptions {
            max_side,
            ..PrepareOptions::default()
        };
        let e = prepare_bytes("photo.jpg", &photo, &opts).unwrap_err();
        says(&e, &[&max_side.to_string(), "64"]);
    }
    let opts = PrepareOptions {
        max_side: 64,
        ..PrepareOptions::default()
    };
    let out = prepare_bytes("photo.jpg", &jpeg(&gradient(640, 640), 90), &opts).unwrap();
    assert_eq!((out.width, out.height), (64, 64));
}

#[test]
fn a_fifo_dropped_on_the_window_is_refused_when_its_settings_are_read() {
    // Dropping a file asks for its settings (`gallery::read_settings`) before it becomes the
    // input: a FIFO must be refused at once there too, not block a worker (and the drop) forever.
    let dir = tempfile::tempdir().unwrap();
    let fifo = mkfifo(dir.path(), "drop.png");
    let f2 = fifo.clone();
    let r = within_10s("reading settings from a FIFO", Some(&fifo), move || {
        fluxcn::gallery::read_settings(&f2)
    });
    let msg = r.unwrap_err().to_string();
    assert!(msg.contains("not a regular file"), "{msg}");
    assert!(msg.contains("drop.png"), "{msg}");
    let folder = dir.path().join("a-folder.png");
    std::fs::create_dir(&folder).unwrap();
    let msg = fluxcn::gallery::read_settings(&folder)
        .unwrap_err()
        .to_string();
    assert!(msg.contains("folder"), "{msg}");
}
