//! The gallery catalog (SQLite) against the JSONL index it replaced, side by side in one run, for
//! galleries of 10 000 and 100 000 results:
//! - **open**: what the gallery panel's first frame needs: the store opened (its files compared
//!   with the catalog) and the listing the panel draws from (newest first);
//! - **search**: one prompt word (the old panel filtered its in-memory list; the catalog asks its
//!   FTS5 index), median of 15;
//! - **by rating**: every result sorted by rating, then newest, median of 15;
//! - **peak RSS** of the process that did all three.
//!
//! Each side runs in its own process (this binary, re-run with `--child`), so peak RSS is its own.
//! The old side is the index's reader as it was (commit 47d6772, `src/gallery/index.rs`: the
//! parallel JSONL parse, then the folder compared by file names, then the listing the panel
//! received: every entry cloned and sorted, prompts lower-cased for its filter).
//!
//! Run: `cargo bench --bench catalog` (builds in release; building the 100 000-result folder takes
//! a minute). Read the ratios: the machines are shared and noisy.
// A benchmark harness: a failed unwrap is a failed run, reported at once.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use fluxcn::api::{Accounting, CnType, GenParams};
use fluxcn::gallery::catalog::{Catalog, Query, Sort};
use fluxcn::gallery::{Sidecar, Store};

const WORDS: [&str; 20] = [
    "knight", "castle", "dragon", "forest", "portrait", "city", "river", "dancer", "robot",
    "garden", "ship", "mountain", "wolf", "market", "temple", "desert", "lantern", "violin",
    "glacier", "harbour",
];
const SEARCH: &str = "dragon";

fn sidecar(n: u64) -> Sidecar {
    let w = |k: u64| WORDS[((n / k) % WORDS.len() as u64) as usize];
    let cn = [CnType::Pose, CnType::Depth, CnType::Canny, CnType::Tile][(n % 4) as usize];
    Sidecar {
        version: 1,
        app: "fluxcn 0.1.0".into(),
        created: "2026-11-30T12:00:00.000Z".into(),
        created_unix_ms: 1_790_000_000_000 + n * 1000,
        params: GenParams {
            prompt: format!(
                "a {} by the {} at dusk, {} in the background, cinematic light, highly detailed",
                w(1),
                w(7),
                w(131)
            ),
            cn_type: cn,
            seed: n as i64,
            ..GenParams::default()
        },
        seed_used: n as i64,
        input: "/home/artist/pictures/pose-reference-0042.png".into(),
        api: Default::default(),
        accounting: Accounting {
            cost: Some(0.05),
            remaining_credits: Some(99.0),
            generation_time: Some(48.2),
            seed: Some(n as i64),
            request_id: Some(format!("req-{n:012}")),
            queue_time: None,
            total_time: Some(49.1),
        },
        format: Default::default(),
        width: 1024,
        height: 1024,
        bytes: 180_000,
        group: None,
        favourite: n.is_multiple_of(17),
        rating: (n % 6) as u8,
        model: "flux-controlnet".into(),
        job_id: Some(n),
        input_file: None,
        input_hash: None,
        prompt_template: None,
        batch_line: None,
        parent: None,
        framing: None,
    }
}

fn id_of(n: u64) -> String {
    format!("20261130-120000-pose-{n}")
}

/// A gallery folder of `n` results: an (empty) image file each, the catalog, and the old index.
fn build(dir: &Path, n: u64) {
    std::fs::create_dir_all(dir).unwrap();
    let mut items = Vec::with_capacity(n as usize);
    let mut old = String::from("{\"op\":\"header\",\"version\":1}\n");
    for i in 0..n {
        let id = id_of(i);
        let file = format!("{id}.jpg");
        std::fs::File::create(dir.join(&file)).unwrap();
        let meta = sidecar(i);
        old.push_str(
            &serde_json::to_string(&serde_json::json!({
                "op": "put", "id": id, "file": file, "meta": meta
            }))
            .unwrap(),
        );
        old.push('\n');
        items.push((id, file, meta));
    }
    std::fs::write(dir.join(".index.jsonl"), old).unwrap();
    let mut cat = Catalog::open(dir).catalog;
    cat.put_all(items.iter().map(|(i, f, m)| (i.as_str(), f.as_str(), m)))
        .unwrap();
}

/// The old index's reader, as it was: records parsed in parallel, applied to a map.
mod old {
    use super::{HashMap, HashSet, Path, PathBuf};
    use fluxcn::gallery::{Entry, Sidecar};

    #[derive(serde::Deserialize)]
    #[serde(tag = "op", rename_all = "snake_case")]
    enum Op {
        Header {
            #[allow(dead_code)]
            version: u32,
        },
        Put {
            id: String,
            file: String,
            meta: Box<Sidecar>,
        },
    }

    fn parse_lines(bytes: &[u8]) -> Vec<Op> {
        bytes
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .map(|l| serde_json::from_slice(l).unwrap())
            .collect()
    }

    /// `index::load` + `Store::reconcile` + `Store::list` + the panel's lower-cased prompts.
    pub fn open_and_list(dir: &Path) -> (Vec<Entry>, Vec<String>) {
        let bytes = std::fs::read(dir.join(".index.jsonl")).unwrap();
        let threads = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .min(bytes.len() / (512 * 1024) + 1)
            .clamp(1, 8);
        let mut pieces = Vec::new();
        let mut at = 0;
        for i in 1..=threads {
            let target = (bytes.len() * i / threads).max(at);
            let end = if i == threads {
                bytes.len()
            } else {
                bytes[target..]
                    .iter()
                    .position(|&b| b == b'\n')
                    .map_or(bytes.len(), |p| target + p + 1)
            };
            pieces.push(&bytes[at..end]);
            at = end;
        }
        let parsed: Vec<Vec<Op>> = std::thread::scope(|s| {
            let hs: Vec<_> = pieces
                .iter()
                .map(|p| s.spawn(move || parse_lines(p)))
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let mut map: HashMap<String, (String, Sidecar)> = HashMap::new();
        for op in parsed.into_iter().flatten() {
            if let Op::Put { id, file, meta } = op {
                map.insert(id, (file, *meta));
            }
        }
        // reconcile: the folder's image names against the map.
        let names: HashSet<String> = std::fs::read_dir(dir)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| !n.starts_with('.') && n.ends_with(".jpg"))
            .collect();
        map.retain(|_, (f, _)| names.contains(f.as_str()));
        // list: every entry cloned, newest first.
        let mut v: Vec<Entry> = map
            .iter()
            .map(|(id, (file, meta))| Entry {
                id: id.clone(),
                image_path: dir.join(file),
                sidecar_path: PathBuf::from(format!("{}/{id}.json", dir.display())),
                meta: meta.clone(),
            })
            .collect();
        v.sort_by(|a, b| {
            b.meta
                .created_unix_ms
                .cmp(&a.meta.created_unix_ms)
                .then_with(|| b.id.cmp(&a.id))
        });
        drop(map);
        let lower = v
            .iter()
            .map(|e| e.meta.params.prompt.to_lowercase())
            .collect();
        (v, lower)
    }
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn peak_rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// One side, in this process: prints `open_ms search_ms rating_ms rss_mb found`.
fn child(side: &str, dir: &Path) {
    const RUNS: usize = 15;
    let t = Instant::now();
    let (open, search, rating, found) = if side == "old" {
        let (list, lower) = old::open_and_list(dir);
        let open = t.elapsed();
        let mut found = 0;
        let search = median(
            (0..RUNS)
                .map(|_| {
                    let t = Instant::now();
                    let shown: Vec<usize> = (0..list.len())
                        .filter(|&i| lower[i].contains(SEARCH))
                        .collect();
                    found = shown.len();
                    t.elapsed()
                })
                .collect(),
        );
        let rating = median(
            (0..RUNS)
                .map(|_| {
                    let t = Instant::now();
                    let mut order: Vec<usize> = (0..list.len()).collect();
                    order.sort_by(|&a, &b| {
                        let (a, b) = (&list[a].meta, &list[b].meta);
                        b.rating
                            .cmp(&a.rating)
                            .then(b.created_unix_ms.cmp(&a.created_unix_ms))
                    });
                    std::hint::black_box(order);
                    t.elapsed()
                })
                .collect(),
        );
        std::hint::black_box(&list);
        (open, search, rating, found)
    } else {
        let store = Store::open(dir).unwrap();
        let opened = t.elapsed();
        let rows = store.query(&Query::default()).unwrap();
        let open = t.elapsed();
        if std::env::var_os("FLUXCN_BENCH_DETAIL").is_some() {
            eprintln!(
                "open {:.0} ms, listing {:.0} ms",
                opened.as_secs_f64() * 1e3,
                (open - opened).as_secs_f64() * 1e3
            );
        }
        assert!(store.notes().is_empty(), "{:?}", store.notes());
        let mut found = 0;
        let q = Query::parse(SEARCH).unwrap();
        let search = median(
            (0..RUNS)
                .map(|_| {
                    let t = Instant::now();
                    found = store.query(&q).unwrap().len();
                    t.elapsed()
                })
                .collect(),
        );
        let by_rating = Query {
            sort: Sort::Rating,
            ..Query::default()
        };
        let rating = median(
            (0..RUNS)
                .map(|_| {
                    let t = Instant::now();
                    std::hint::black_box(store.query(&by_rating).unwrap());
                    t.elapsed()
                })
                .collect(),
        );
        std::hint::black_box(&rows);
        (open, search, rating, found)
    };
    println!(
        "{} {} {} {:.1} {found}",
        open.as_secs_f64() * 1e3,
        search.as_secs_f64() * 1e3,
        rating.as_secs_f64() * 1e3,
        peak_rss_mb()
    );
}

fn run_side(side: &str, dir: &Path) -> Vec<f64> {
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--child", side])
        .arg(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{side}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .map(|v| v.parse().unwrap())
        .collect()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--child") {
        child(&args[i + 1], Path::new(&args[i + 2]));
        return;
    }
    let sizes: Vec<u64> = std::env::var("FLUXCN_BENCH_SIZES")
        .ok()
        .map(|s| s.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![10_000, 100_000]);
    println!(
        "| results | side | open + listing (ms) | search \"{SEARCH}\" (ms) | sort by rating (ms) | peak RSS (MB) | found |"
    );
    println!("|---:|---|---:|---:|---:|---:|---:|");
    for n in sizes {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("g");
        let t = Instant::now();
        build(&dir, n);
        eprintln!(
            "built a gallery of {n} in {:.1} s",
            t.elapsed().as_secs_f64()
        );
        // Warm the page cache once for both sides alike.
        run_side("new", &dir);
        run_side("old", &dir);
        let mut rows: HashMap<&str, Vec<Vec<f64>>> = HashMap::new();
        for _ in 0..3 {
            for side in ["old", "new"] {
                rows.entry(side).or_default().push(run_side(side, &dir));
            }
        }
        let med = |side: &str, k: usize| {
            let mut v: Vec<f64> = rows[side].iter().map(|r| r[k]).collect();
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        };
        for side in ["old", "new"] {
            println!(
                "| {n} | {} | {:.0} | {:.2} | {:.1} | {:.0} | {:.0} |",
                if side == "old" {
                    "JSONL index (before)"
                } else {
                    "SQLite catalog"
                },
                med(side, 0),
                med(side, 1),
                med(side, 2),
                med(side, 3),
                med(side, 4)
            );
        }
        println!(
            "| {n} | new ÷ old | {:.2} | {:.2} | {:.2} | {:.2} | |",
            med("new", 0) / med("old", 0),
            med("new", 1) / med("old", 1),
            med("new", 2) / med("old", 2),
            med("new", 3) / med("old", 3)
        );
    }
}
