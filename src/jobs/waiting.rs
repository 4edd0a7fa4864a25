//! The jobs the window had queued and not sent yet, kept on disk so that they survive a closed
//! window or a crash (issue 26). Nothing here was paid for: a job leaves this list when it is sent,
//! and from then on the journal keeps it. The runtime rewrites the list each time the line
//! changes (`Shared::lineup_changed`); the next start of the window gets them back, paused, and
//! the user says Resume or Discard.
//!
//! Several windows may run at once. Like the journal, each holds an advisory lock on the file it
//! writes: the first takes `waiting.json`, the others a file of their own beside it
//! (`waiting-<pid>-<n>.json`). At opening a window adopts the jobs of every such file whose lock it
//! can take (its writer is gone), writes them into its own file, then removes the other: a list is
//! never restored by two windows, so no job is sent twice.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use super::journal::JournalJob;

/// The waiting list's file name in the data folder.
pub const WAITING_FILE: &str = "waiting.json";
/// Beside it, the pasted pictures its jobs use.
const INPUTS_DIR: &str = "waiting-inputs";

/// What the file holds.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Saved {
    version: u32,
    jobs: Vec<JournalJob>,
}

/// This window's waiting list on disk (its file locked for the window's lifetime).
#[derive(Debug)]
pub struct WaitingStore {
    path: PathBuf,
    file: Mutex<File>,
    /// The jobs found at opening (this file's and those of windows that are gone), until the
    /// runtime takes them.
    left: Mutex<Vec<JournalJob>>,
    /// What could not be read at opening, one sentence each.
    notes: Vec<String>,
}

impl WaitingStore {
    /// Opens the list whose main file is `path` (`<data>/waiting.json`): takes it, or a file of
    /// its own beside it when another live window holds it, and adopts the jobs of lists whose
    /// writers are gone.
    pub fn open(path: impl Into<PathBuf>) -> std::io::Result<WaitingStore> {
        let main = path.into();
        let dir = main
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        std::fs::create_dir_all(&dir)?;
        let (path, file, _) = super::locked_files::own_file(&main, open_rw).map_err(|(_, e)| e)?;
        let mut notes = Vec::new();
        let mut left = read(&file, &path, &mut notes);
        let mut adopted = Vec::new();
        for (p, f) in super::locked_files::orphans(&main, &path) {
            let jobs = read(&f, &p, &mut notes);
            left.extend(jobs);
            adopted.push((p, f));
        }
        let store = WaitingStore {
            path,
            file: Mutex::new(file),
            left: Mutex::new(Vec::new()),
            notes,
        };
        if !adopted.is_empty() {
            // Ours first (durably), then the others go: a crash in between restores them twice
            // at worst into one list (the same ids), never into two windows.
            store.save(&left)?;
            for (p, f) in adopted {
                if p == main || std::fs::remove_file(&p).is_err() {
                    let _ = f.set_len(0);
                }
            }
        }
        // In line order (a file's own order, the main file's first); an id once.
        let mut seen = std::collections::HashSet::new();
        left.retain(|j| seen.insert(j.id));
        forget_old_inputs(&dir, &left);
        *store.left.lock().unwrap_or_else(|p| p.into_inner()) = left;
        Ok(store)
    }

    /// Where this window's list is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// What could not be read at opening, one sentence each for the user.
    pub fn notes(&self) -> &[String] {
        &self.notes
    }

    /// The jobs left from last time (once: later calls get none).
    pub fn take_left(&self) -> Vec<JournalJob> {
        std::mem::take(&mut *self.left.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// Writes a pasted picture's bytes beside the list (`waiting-inputs/<sha256>.<ext>`, once per
    /// content) so that its job can come back; `None` when it cannot be written (its job then
    /// cannot be restored, and the list says so when read).
    pub fn keep_bytes(&self, name: &str, data: &[u8]) -> Option<PathBuf> {
        use sha2::Digest as _;
        let dir = self.path.parent()?.join(INPUTS_DIR);
        let hash: String = sha2::Sha256::digest(data)
            .iter()
            .take(16)
            .map(|b| format!("{b:02x}"))
            .collect();
        let ext = std::path::Path::new(name)
            .extension()
            .and_then(|e| e.to_str())
            .filter(|e| e.len() <= 5 && e.chars().all(|c| c.is_ascii_alphanumeric()))
            .unwrap_or("img");
        let path = dir.join(format!("{hash}.{ext}"));
        if path.is_file() {
            return Some(path);
        }
        let written = std::fs::create_dir_all(&dir)
            .map_err(|e| e.to_string())
            .and_then(|()| crate::gallery::write_atomic(&path, data).map_err(|e| e.to_string()));
        match written {
            Ok(()) => Some(path),
            Err(e) => {
                tracing::warn!(error = %e, "a pasted input could not be kept with the waiting list");
                None
            }
        }
    }

    /// Whether `path` is a pasted picture kept beside the list.
    pub fn is_kept_input(&self, path: &Path) -> bool {
        self.path
            .parent()
            .is_some_and(|d| path.parent() == Some(d.join(INPUTS_DIR).as_path()))
    }

    /// Replaces the list on disk with `jobs`, in their order (synced: a crash right after keeps
    /// it).
    pub fn save(&self, jobs: &[JournalJob]) -> std::io::Result<()> {
        let body = serde_json::to_vec_pretty(&Saved {
            version: 1,
            jobs: jobs.to_vec(),
        })
        .map_err(std::io::Error::other)?;
        let mut f = self.file.lock().unwrap_or_else(|p| p.into_inner());
        f.set_len(0)?;
        f.rewind()?;
        f.write_all(&body)?;
        f.sync_data()
    }
}

/// Removes the kept pasted pictures no restored job uses and older than a week (a live window's
/// list may use a newer one).
fn forget_old_inputs(dir: &Path, left: &[JournalJob]) {
    let week = std::time::Duration::from_secs(7 * 24 * 3600);
    let used: Vec<PathBuf> = left
        .iter()
        .filter_map(|j| match &j.input {
            Some(crate::types::InputSource::File(p)) => Some(p.clone()),
            _ => None,
        })
        .collect();
    for e in std::fs::read_dir(dir.join(INPUTS_DIR))
        .into_iter()
        .flatten()
        .flatten()
    {
        let p = e.path();
        let old = e
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > week);
        if old && !used.contains(&p) {
            let _ = std::fs::remove_file(&p);
        }
    }
}

fn open_rw(path: &Path) -> std::io::Result<File> {
    OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(path)
}

/// The jobs in `f` (the file at `path`); an empty file holds none, a damaged one is reported in
/// `notes` and counts as none.
fn read(mut f: &File, path: &Path, notes: &mut Vec<String>) -> Vec<JournalJob> {
    let mut body = Vec::new();
    if let Err(e) = f.rewind().and_then(|()| f.read_to_end(&mut body)) {
        notes.push(unreadable(path, &e.to_string()));
        return Vec::new();
    }
    if body.iter().all(u8::is_ascii_whitespace) {
        return Vec::new();
    }
    match serde_json::from_slice::<Saved>(&body) {
        Ok(s) => s.jobs,
        Err(e) => {
            notes.push(unreadable(path, &e.to_string()));
            Vec::new()
        }
    }
}

fn unreadable(path: &Path, why: &str) -> String {
    let said = format!(
        "the list of jobs waiting from last time ({}) could not be read ({why}): those jobs were never sent (nothing was paid for them); queue them again if you want them",
        path.display()
    );
    tracing::warn!("{said}");
    said
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::GenParams;
    use crate::types::{ApiVersion, InputSource};

    fn job(id: u64) -> JournalJob {
        JournalJob {
            id,
            input: Some(InputSource::File("in.png".into())),
            input_label: "in.png".into(),
            params: GenParams {
                prompt: format!("job {id}"),
                ..Default::default()
            },
            api: ApiVersion::V2,
            group: None,
            started_ms: 0,
            request_id: None,
            submitted_ms: None,
            api_base: None,
            prompt_template: None,
            batch: None,
            framing: Default::default(),
        }
    }

    #[test]
    fn a_list_comes_back_once_and_never_to_two_windows() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(WAITING_FILE);
        {
            let first = WaitingStore::open(&path).unwrap();
            assert!(first.take_left().is_empty());
            first.save(&[job(3), job(1), job(2)]).unwrap();
            // A second window while the first lives gets a file of its own and nothing of the
            // first's.
            let second = WaitingStore::open(&path).unwrap();
            assert_ne!(second.path(), first.path());
            assert!(second.take_left().is_empty());
            second.save(&[job(7)]).unwrap();
            // Both "crash" here (dropped with their files as they are).
        }
        let next = WaitingStore::open(&path).unwrap();
        let left: Vec<u64> = next.take_left().iter().map(|j| j.id).collect();
        assert_eq!(left, [3, 1, 2, 7], "both lists, once, each in its order");
        assert!(next.take_left().is_empty(), "taken once");
        let files = std::fs::read_dir(dir.path()).unwrap().count();
        assert_eq!(files, 1, "the other window's file is gone");
        drop(next);
        let again = WaitingStore::open(&path).unwrap();
        assert_eq!(
            again.take_left().len(),
            4,
            "not taken by the runtime yet: still on disk"
        );
    }

    #[test]
    fn a_damaged_list_is_said_and_not_fatal() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(WAITING_FILE);
        std::fs::write(&path, b"{\"version\":1,\"jobs\":[{\"id\":").unwrap();
        let store = WaitingStore::open(&path).unwrap();
        assert!(store.take_left().is_empty());
        assert_eq!(store.notes().len(), 1);
        assert!(store.notes()[0].contains("nothing was paid"));
        store.save(&[job(1)]).unwrap();
        drop(store);
        let store = WaitingStore::open(&path).unwrap();
        assert_eq!(store.take_left().len(), 1);
    }
}
