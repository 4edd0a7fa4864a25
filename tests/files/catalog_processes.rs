//! The gallery catalog shared by processes: two `fluxcn` processes saving into one folder at once
//! lose no row, and a process killed (SIGKILL) at random moments while it saves leaves a catalog
//! that opens as it is, listing every image on disk.

use crate::common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::rt;
use fluxcn::gallery::Store;
use fluxcn::sim::{self, SimConfig};

const KEY: &str = "SG_0badc0de0badc0de";

/// `fluxcn compare` of a 4 × 5 grid (20 images) into `out`, as a child process.
fn grid_into(
    base: &str,
    data: &Path,
    input: &Path,
    out: &Path,
    prompt: &str,
) -> std::process::Child {
    std::process::Command::new(env!("CARGO_BIN_EXE_fluxcn"))
        .env("SEGMIND_API_KEY", KEY)
        .env("FLUXCN_DATA_DIR", data)
        .env_remove("FLUXCN_API_BASE")
        .args(["--api-base", base, "compare", "--image"])
        .arg(input)
        .args(["--prompt", prompt, "--seed", "3"])
        .args([
            "--x",
            "cn_type=pose,depth,canny,tile",
            "--y",
            "cn_strength=0.1:0.9:0.2",
        ])
        .args([
            "--use-input-size",
            "false",
            "--width",
            "256",
            "--height",
            "256",
        ])
        .arg("--out")
        .arg(out)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

/// The image files in `dir`.
fn images(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with('.') && (n.ends_with(".jpg") || n.ends_with(".png")))
        .collect();
    v.sort();
    v
}

/// The catalog's rows (id, file) read straight from the file, as another program would, without
/// the store's repairs on open.
fn catalog_files(dir: &Path) -> Vec<String> {
    let c = rusqlite::Connection::open_with_flags(
        dir.join(".catalog.sqlite"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    let mut st = c.prepare("SELECT file FROM results ORDER BY file").unwrap();
    st.query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

#[test]
fn two_processes_saving_into_one_gallery_at_once_lose_nothing() {
    let rt = rt();
    let server = rt
        .block_on(sim::start(SimConfig {
            delay: Duration::ZERO,
            ..Default::default()
        }))
        .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let input = crate::common::demo_photo(tmp.path());
    let out = tmp.path().join("shared");
    let data = tmp.path().join("data");
    let a = grid_into(&server.base_url(), &data, &input, &out, "a fox");
    let b = grid_into(&server.base_url(), &data, &input, &out, "a hare");
    let mut said = String::new();
    for child in [a, b] {
        let o = child.wait_with_output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        assert_eq!(String::from_utf8_lossy(&o.stdout).lines().count(), 20);
        said.push_str(&String::from_utf8_lossy(&o.stderr));
    }
    let on_disk = images(&out);
    assert_eq!(on_disk.len(), 40, "each process saved its 20 images");
    // Every save reached the catalog itself: no row was lost to the other writer (the store's
    // repair on open would hide a loss, so the file is read directly).
    assert_eq!(
        catalog_files(&out),
        on_disk,
        "what the processes said: {said}"
    );
    let store = Store::open(&out).unwrap();
    assert!(store.notes().is_empty(), "{:?}", store.notes());
    let q = |t: &str| {
        store
            .query(&fluxcn::gallery::catalog::Query::parse(t).unwrap())
            .unwrap()
    };
    assert_eq!(q("fox").len(), 20);
    assert_eq!(q("hare cn_type:tile").len(), 5);

    // The same search from the command line: one path a line, a count on stderr.
    let search = |terms: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_fluxcn"))
            .env("FLUXCN_DATA_DIR", &data)
            .args(["gallery", "search", "--out"])
            .arg(&out)
            .args(terms)
            .output()
            .unwrap()
    };
    let o = search(&["fox", "cn_type:depth", "cn_strength>=0.5"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let paths: Vec<PathBuf> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(PathBuf::from)
        .collect();
    assert_eq!(paths.len(), 3, "{paths:?}");
    for p in &paths {
        let params = fluxcn::gallery::read_settings(p).unwrap();
        assert!(
            params.prompt == "a fox" && params.cn_strength >= 0.5,
            "{params:?}"
        );
    }
    assert!(String::from_utf8_lossy(&o.stderr).contains("3 of 40 images match"));
    let o = search(&["colour:red"]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("no field \"colour\""), "{err}");
    // And a rebuild from the files gives the same catalog.
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_fluxcn"))
        .env("FLUXCN_DATA_DIR", &data)
        .args(["gallery", "rebuild", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("40 images"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(catalog_files(&out), on_disk);
}

#[test]
fn a_process_killed_while_saving_leaves_a_catalog_that_opens() {
    let rt = rt();
    let server = rt
        .block_on(sim::start(SimConfig {
            delay: Duration::from_millis(100),
            ..Default::default()
        }))
        .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let input = crate::common::demo_photo(tmp.path());
    let data = tmp.path().join("data");
    let out = tmp.path().join("g");
    let mut killed_mid_run = 0;
    for round in 0..6u32 {
        let before = if out.exists() { images(&out).len() } else { 0 };
        let mut child = grid_into(&server.base_url(), &data, &input, &out, "a wolf");
        // Killed once this round's n-th image is on disk: in the middle of the saves whatever
        // the machine's speed (a timer misses them on a loaded machine).
        let n = before + 1 + 3 * round as usize;
        let t = std::time::Instant::now();
        let saved_now = || if out.exists() { images(&out).len() } else { 0 };
        while saved_now() < n
            && t.elapsed() < Duration::from_secs(60)
            && child.try_wait().unwrap().is_none()
        {
            std::thread::sleep(Duration::from_millis(2));
        }
        child.kill().unwrap();
        child.wait().unwrap();
        let on_disk = images(&out);
        let saved = on_disk.len() - before;
        eprintln!("round {round}: {saved} of 20 images saved before the kill");
        if saved > 0 && saved < 20 {
            killed_mid_run += 1;
        }
        if on_disk.is_empty() {
            continue;
        }
        // The catalog opens as it is (not set aside as damaged), and after the store's repair
        // lists exactly the images on disk (the repair may have finished a complete image the
        // kill left in a temp file: the folder is read again after it).
        let store = Store::open(&out).unwrap();
        let on_disk = images(&out);
        assert!(
            store.notes().is_empty(),
            "round {round}: {:?}",
            store.notes()
        );
        let listed: Vec<String> = store
            .list()
            .iter()
            .map(|e| {
                e.image_path
                    .file_name()
                    .unwrap()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        assert_eq!(listed, on_disk, "round {round}");
        drop(store);
        assert_eq!(
            catalog_files(&out),
            on_disk,
            "round {round}: repaired for good"
        );
    }
    assert!(
        killed_mid_run >= 2,
        "the kills did not land in the middle of the saves"
    );
}
