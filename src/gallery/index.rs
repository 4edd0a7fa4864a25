//! The gallery index: `<dir>/.index.jsonl`, a cache of every sidecar so that opening a gallery of
//! 10 000 pictures reads one file instead of 10 000.
//!
//! One JSON record a line: a header, then `put` (a whole sidecar), `fav` and `del` records appended
//! as things happen (fsynced). It is rewritten atomically, compacted to a header and one `put` per
//! picture, when it is opened with much dead weight, after a repair, and by a rebuild. The sidecars
//! are the truth: a missing, corrupt or foreign-version index is rebuilt from them.
//!
//! Two processes (the app and the CLI) may share a gallery: each re-reads what the other appended
//! (records are idempotent, so reading one's own again is harmless) and reloads after a rewrite.
//!
//! An id becomes a path (`<dir>/<id>.json`, `.trash/<id>.*`, `.thumbs/<id>-<side>.jpg`) and a
//! record's `file` is joined to the folder, so a record whose id is not a plain file name or whose
//! file is not `<id>.<image extension>` (a crafted or damaged index: `../../x`, `/abs/path`) is
//! dropped with a warning, and never written back.

use std::collections::HashMap;
use std::fs::OpenOptions;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::atomic::write_atomic;
use super::error::io;
use super::store::IMAGE_EXTS;
use super::{GalleryError, Sidecar};

/// The index's file name inside the gallery folder.
pub const INDEX_FILE: &str = ".index.jsonl";
/// The record layout's version; another version is rebuilt from the sidecars.
pub const INDEX_VERSION: u32 = 1;

/// One line of the index.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Op {
    Header {
        version: u32,
    },
    Put {
        id: String,
        file: String,
        meta: Box<Sidecar>,
    },
    Fav {
        id: String,
        fav: bool,
    },
    Del {
        id: String,
    },
}

/// What the index knows of one picture: the image's file name in the folder and its sidecar.
#[derive(Debug, Clone, PartialEq)]
pub struct Indexed {
    pub file: String,
    pub meta: Sidecar,
}

/// The pictures by id.
pub type Map = HashMap<String, Indexed>;

/// Whether `id` can only name a file directly inside the gallery: not empty, not hidden (which
/// also rules out `.` and `..`), no separator, no drive or stream colon, no NUL.
pub(crate) fn valid_id(id: &str) -> bool {
    !id.is_empty() && !id.starts_with('.') && !id.contains(['/', '\\', ':', '\0'])
}

/// Whether `file` is the image file of `id`: `<id>.<one of the image extensions>`.
pub(crate) fn valid_file(id: &str, file: &str) -> bool {
    valid_id(id)
        && file.rsplit_once('.').is_some_and(|(stem, ext)| {
            stem == id && IMAGE_EXTS.iter().any(|e| e.eq_ignore_ascii_case(ext))
        })
}

/// Applies one record; returns `false` (and changes nothing) for a record naming a path that is
/// not a plain file of the gallery (see the module doc).
pub fn apply(map: &mut Map, op: Op) -> bool {
    match op {
        Op::Header { .. } => {}
        Op::Put { id, file, .. } if !valid_file(&id, &file) => {
            tracing::warn!(id = %id.escape_debug(), file = %file.escape_debug(), "ignoring a gallery index record that names a path outside the gallery");
            return false;
        }
        Op::Put { id, file, meta } => {
            map.insert(id, Indexed { file, meta: *meta });
        }
        Op::Fav { id, .. } | Op::Del { id } if !valid_id(&id) => {
            tracing::warn!(id = %id.escape_debug(), "ignoring a gallery index record with an id that is not a file name");
            return false;
        }
        Op::Fav { id, fav } => {
            if let Some(e) = map.get_mut(&id) {
                e.meta.favourite = fav;
            }
        }
        Op::Del { id } => {
            map.remove(&id);
        }
    }
    true
}

/// An index read from disk.
#[derive(Debug)]
pub struct Loaded {
    pub map: Map,
    /// How many records were read (to decide on compaction).
    pub records: usize,
    /// The last record was cut short (a crash mid-append): the file must be rewritten before
    /// anything is appended to it.
    pub torn: bool,
    /// The bytes read, all of them complete lines.
    pub len: u64,
    /// Records dropped because they name a path outside the gallery: the file must be rewritten
    /// so that they are not kept.
    pub rejected: usize,
}

/// Why an index cannot be used (then it is rebuilt).
#[derive(Debug, PartialEq)]
pub enum Unusable {
    Missing,
    Corrupt(String),
}

/// An index that is a link (planted in a shared folder) or not a file is never read through: it is
/// rebuilt, which replaces it.
fn plain_file(path: &Path) -> Result<(), Unusable> {
    match std::fs::symlink_metadata(path) {
        Ok(m) if !m.is_file() => Err(Unusable::Corrupt("it is a link or not a file".into())),
        _ => Ok(()),
    }
}

/// Reads the whole index.
pub fn load(path: &Path) -> Result<Loaded, Unusable> {
    plain_file(path)?;
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(Unusable::Missing),
        Err(e) => return Err(Unusable::Corrupt(format!("it cannot be read: {e}"))),
    };
    let mut map = Map::new();
    let read = read_records(&bytes, &mut map, true)?;
    Ok(Loaded {
        map,
        records: read.records,
        torn: read.torn,
        len: read.used as u64,
        rejected: read.rejected,
    })
}

/// What [`read_records`] read.
struct ReadRecords {
    records: usize,
    /// Bytes used: complete lines only.
    used: usize,
    /// Something follows the last complete line.
    torn: bool,
    rejected: usize,
}

/// Applies the complete lines of `bytes`. With `want_header`, the first record must be a header
/// of [`INDEX_VERSION`].
fn read_records(bytes: &[u8], map: &mut Map, want_header: bool) -> Result<ReadRecords, Unusable> {
    // Complete lines only: what follows the last newline is a record cut short by a crash.
    let used = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    let torn = bytes[used..].iter().any(|b| !b.is_ascii_whitespace());
    let ops = parse_parallel(&bytes[..used])?;
    if want_header {
        match ops.first() {
            Some(Op::Header { version }) if *version == INDEX_VERSION => {}
            Some(Op::Header { version }) => {
                return Err(Unusable::Corrupt(format!(
                    "it has version {version}, this app writes {INDEX_VERSION}"
                )));
            }
            Some(_) => return Err(Unusable::Corrupt("it has no header".into())),
            None => {}
        }
    }
    let records = ops.len();
    let mut rejected = 0;
    for op in ops {
        if !apply(map, op) {
            rejected += 1;
        }
    }
    Ok(ReadRecords {
        records,
        used,
        torn,
        rejected,
    })
}

/// Parses complete lines, spread over the available cores when there are many (a gallery of
/// 10 000 pictures is ~8 MB of JSON).
fn parse_parallel(bytes: &[u8]) -> Result<Vec<Op>, Unusable> {
    const PER_THREAD: usize = 512 * 1024;
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(bytes.len() / PER_THREAD + 1)
        .clamp(1, 8);
    // Split at line ends into `threads` pieces of about equal size.
    let mut pieces = Vec::with_capacity(threads);
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
    let parsed: Vec<Result<Vec<Op>, String>> = if pieces.len() == 1 {
        pieces.iter().map(|p| parse_lines(p)).collect()
    } else {
        std::thread::scope(|s| {
            let handles: Vec<_> = pieces
                .iter()
                .map(|p| s.spawn(move || parse_lines(p)))
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|_| Err("the index reader failed".into()))
                })
                .collect()
        })
    };
    let mut out = Vec::new();
    for p in parsed {
        out.extend(p.map_err(Unusable::Corrupt)?);
    }
    Ok(out)
}

fn parse_lines(bytes: &[u8]) -> Result<Vec<Op>, String> {
    bytes
        .split(|&b| b == b'\n')
        .filter(|l| !l.iter().all(u8::is_ascii_whitespace))
        .map(|l| {
            serde_json::from_slice::<Op>(l).map_err(|e| {
                let start = String::from_utf8_lossy(&l[..l.len().min(60)]).into_owned();
                format!("a record cannot be read ({e}): {start}")
            })
        })
        .collect()
}

/// Reads what was appended after `from` (by this or another process). `Ok(None)`: the file was
/// replaced or shortened (reload it whole).
pub fn read_from(path: &Path, from: u64, map: &mut Map) -> Result<Option<u64>, Unusable> {
    plain_file(path)?;
    let mut f = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(Unusable::Missing),
        Err(e) => return Err(Unusable::Corrupt(e.to_string())),
    };
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    if len < from {
        return Ok(None);
    }
    if len == from {
        return Ok(Some(from));
    }
    let mut buf = Vec::new();
    f.seek(SeekFrom::Start(from))
        .and_then(|_| f.read_to_end(&mut buf))
        .map_err(|e| Unusable::Corrupt(e.to_string()))?;
    let read = read_records(&buf, map, from == 0)?;
    Ok(Some(from + read.used as u64))
}

fn line(op: &Op) -> Vec<u8> {
    // Records are plain data; serialising them cannot fail.
    let mut v = serde_json::to_vec(op).unwrap_or_default();
    v.push(b'\n');
    v
}

/// Appends records. Not synced: the index is a cache of the sidecars, and a record lost in a crash
/// only makes the next open pick the picture up from its sidecar. An index that is a link is not
/// appended through (the caller then rewrites it, which replaces the link).
pub fn append(path: &Path, ops: &[Op]) -> Result<(), GalleryError> {
    let mut bytes = Vec::new();
    for op in ops {
        bytes.extend(line(op));
    }
    if std::fs::symlink_metadata(path).is_ok_and(|m| !m.is_file()) {
        return Err(io("append to", path)(std::io::Error::other(
            "it is a link or not a file",
        )));
    }
    let mut f = OpenOptions::new()
        .append(true)
        .open(path)
        .map_err(io("append to", path))?;
    f.write_all(&bytes).map_err(io("append to", path))
}

/// Rewrites the index atomically: a header and one `put` per picture (in id order, so the file
/// is the same for the same gallery). Returns the new length.
pub fn write_whole(path: &Path, map: &Map) -> Result<u64, GalleryError> {
    let mut ids: Vec<&String> = map.keys().collect();
    ids.sort();
    let mut bytes = line(&Op::Header {
        version: INDEX_VERSION,
    });
    for id in ids {
        let e = &map[id];
        bytes.extend(line(&Op::Put {
            id: id.clone(),
            file: e.file.clone(),
            meta: Box::new(e.meta.clone()),
        }));
    }
    write_atomic(path, &bytes)?;
    Ok(bytes.len() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(n: u64) -> Sidecar {
        Sidecar {
            version: 1,
            app: "fluxcn test".into(),
            created: "2026-01-01T00:00:00.000Z".into(),
            created_unix_ms: n,
            params: Default::default(),
            seed_used: n as i64,
            input: "in.png".into(),
            api: Default::default(),
            accounting: Default::default(),
            format: Default::default(),
            width: 8,
            height: 8,
            bytes: 10,
            group: None,
            favourite: false,
            model: "flux-controlnet".into(),
            job_id: None,
        }
    }

    #[test]
    fn write_append_load_and_torn_tail() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join(INDEX_FILE);
        assert_eq!(load(&p).unwrap_err(), Unusable::Missing);
        let mut m = Map::new();
        for n in 0..3 {
            m.insert(
                format!("id{n}"),
                Indexed {
                    file: format!("id{n}.png"),
                    meta: meta(n),
                },
            );
        }
        let len = write_whole(&p, &m).unwrap();
        append(
            &p,
            &[
                Op::Fav {
                    id: "id1".into(),
                    fav: true,
                },
                Op::Del { id: "id2".into() },
            ],
        )
        .unwrap();
        // Another reader catches up from where it was.
        let mut other = m.clone();
        let new_len = read_from(&p, len, &mut other).unwrap().unwrap();
        assert_eq!(new_len, std::fs::metadata(&p).unwrap().len());
        assert!(other["id1"].meta.favourite);
        assert!(!other.contains_key("id2"));
        // A torn last record is skipped and flagged.
        let mut f = OpenOptions::new().append(true).open(&p).unwrap();
        f.write_all(b"{\"op\":\"del\",\"id\":\"id0").unwrap();
        let l = load(&p).unwrap();
        assert!(l.torn);
        assert_eq!(l.map, other);
        assert_eq!(l.records, 6, "header, 3 puts, fav, del");
    }

    #[test]
    fn records_naming_paths_outside_the_gallery_are_dropped() {
        for id in [
            "../../x", "/etc/x", "a/b", "a\\b", "C:x", ".", "..", ".hidden", "",
        ] {
            assert!(!valid_id(id), "{id:?}");
        }
        assert!(valid_id("20260101-000000-pose-1"));
        assert!(valid_file("a-1", "a-1.png") && valid_file("a-1", "a-1.JPG"));
        assert!(!valid_file("a-1", "b.png") && !valid_file("a-1", "a-1.json"));
        assert!(!valid_file("a-1", "../a-1.png") && !valid_file("a", "/g/a.png"));
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join(INDEX_FILE);
        write_whole(&p, &Map::new()).unwrap();
        let put = |id: &str, file: &str| Op::Put {
            id: id.into(),
            file: file.into(),
            meta: Box::new(meta(1)),
        };
        append(
            &p,
            &[
                put("ok", "ok.png"),
                put("../../x", "ok.png"),
                put("ok2", "/etc/passwd"),
                Op::Fav {
                    id: "/x".into(),
                    fav: true,
                },
            ],
        )
        .unwrap();
        let l = load(&p).unwrap();
        assert_eq!(l.map.keys().collect::<Vec<_>>(), ["ok"]);
        assert_eq!(l.rejected, 3);
    }

    #[test]
    fn garbage_and_other_versions_are_unusable() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join(INDEX_FILE);
        std::fs::write(&p, b"{\"op\":\"header\",\"version\":1}\nnot json\n").unwrap();
        assert!(matches!(load(&p), Err(Unusable::Corrupt(_))));
        std::fs::write(&p, b"{\"op\":\"header\",\"version\":99}\n").unwrap();
        assert!(matches!(load(&p), Err(Unusable::Corrupt(r)) if r.contains("99")));
        std::fs::write(&p, b"{\"op\":\"del\",\"id\":\"x\"}\n").unwrap();
        assert!(matches!(load(&p), Err(Unusable::Corrupt(r)) if r.contains("header")));
    }
}
