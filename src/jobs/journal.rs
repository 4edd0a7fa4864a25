//! The job journal: an append-only JSON-lines file, fsynced per record, that lets a job in flight
//! survive a crash. A job is written before it is sent; a v2 job's `request_id` the moment the submit
//! answers (before the first poll); the job is marked finished only after its result is saved. At
//! start-up the unfinished jobs are read back: v2 ones are finished by polling (never by submitting
//! again), v1 ones are reported as "interrupted: may have been billed".
//!
//! A record that cannot be read (a torn last record after a power cut, a damaged line) is skipped,
//! and reported: logged as an error (shown at the default log level) and kept in
//! [`Journal::unreadable`] for the runtime to show as a notice, since a job it described may have
//! been in flight. The file is then rewritten without it (and a torn tail never has a new record
//! glued onto it), so each one is reported once.
//!
//! Several processes may run at once (the app and a `fluxcn generate` in a terminal). Each holds an
//! advisory lock on the file it appends to: the first takes `journal.jsonl`, the others a file of
//! their own beside it (`journal-<pid>-<n>.jsonl`). At opening, a process adopts the unfinished jobs
//! of every journal file whose lock it can take (its writer is gone: a crash, a kill), copying them
//! into its own file before deleting the other; a file still locked belongs to a live process and
//! is left alone. Nothing is fsynced at opening unless jobs were adopted: a clean exit empties the
//! file (`journal.jsonl` is truncated, another is deleted), and a file that grew past 256 KB with
//! jobs still open is rewritten with only those.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use super::types::{ApiVersion, GroupTag, InputSource, JobId};
use crate::api::GenParams;

/// What the journal keeps of a job: enough to show it and to re-run it on the user's request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JournalJob {
    pub id: JobId,
    /// The input as the user picked it; `None` for a pasted image (its bytes are not journaled).
    pub input: Option<InputSource>,
    pub input_label: String,
    pub params: GenParams,
    pub api: ApiVersion,
    pub group: Option<GroupTag>,
    /// When the job was written, in ms since the epoch.
    pub started_ms: u64,
    /// v2: the server's id, once the submit answered.
    pub request_id: Option<String>,
    /// v2: when the submit answered, in ms since the epoch.
    pub submitted_ms: Option<u64>,
    /// The API base the job was sent to: a resume polls the same service (a job submitted to a
    /// proxy or the stand-in is unknown to any other).
    #[serde(default)]
    pub api_base: Option<String>,
    /// The `{a|b}` template the prompt came from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_template: Option<String>,
    /// The batch line the job runs (a resumed job still marks its line saved).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch: Option<super::types::BatchLineRef>,
    /// What was done to the input before it was sent (a settle prepares the kept input again).
    #[serde(
        default,
        skip_serializing_if = "crate::api::framing::Framing::is_identity"
    )]
    pub framing: crate::api::framing::Framing,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
enum Record {
    Start {
        job: Box<JournalJob>,
    },
    Submitted {
        id: JobId,
        request_id: String,
        at_ms: u64,
    },
    /// Finished: saved, failed, cancelled or abandoned; `how` says which.
    End {
        id: JobId,
        how: String,
    },
}

/// Errors of the journal; the job runtime reports them as notices and goes on (the journal protects
/// against crashes; its own failure must not stop generations).
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("the job journal {path} could not be written: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// The journal file this process appends to (locked for its lifetime).
#[derive(Debug)]
pub struct Journal {
    path: PathBuf,
    /// Whether `path` is the main `journal.jsonl` (truncated when done) or a file of this process
    /// alone (deleted when done).
    main: bool,
    inner: Mutex<Inner>,
    /// What was dropped at opening as unreadable, one sentence each for the user.
    unreadable: Vec<String>,
}

#[derive(Debug)]
struct Inner {
    file: File,
    /// The jobs started and not yet ended: when none are left at the end, the file is emptied.
    open: BTreeSet<JobId>,
}

/// A file past this size is rewritten at opening with only its unfinished jobs.
const COMPACT_ABOVE: u64 = 256 * 1024;

pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

impl Journal {
    /// Opens the journal whose main file is `path` (e.g. `data/journal.jsonl`): takes the main
    /// file, or a file of its own beside it when another live process holds the main one. Returns
    /// the jobs that had not finished, from its own file and from every file whose writer is gone.
    pub fn open(path: impl Into<PathBuf>) -> Result<(Journal, Vec<JournalJob>), JournalError> {
        let main_path = path.into();
        let err = |p: &Path| {
            let p = p.to_path_buf();
            move |source| JournalError::Io { path: p, source }
        };
        let dir = main_path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        std::fs::create_dir_all(&dir).map_err(err(&dir))?;
        // Our own file: the main one if free, else `<stem>-<pid>-<n>.jsonl`.
        let (path, mut file, main) = super::locked_files::own_file(&main_path, open_append)
            .map_err(|(p, source)| JournalError::Io { path: p, source })?;
        let own = read_pending(&path);
        let mut pending = own.jobs;
        let mut unreadable = own.unreadable;
        let size = file.metadata().map(|m| m.len()).unwrap_or(0);
        if pending.is_empty() && size > 0 {
            // Only finished jobs: forget them. Not fsynced: if this is lost, they are read again
            // next time and are still finished.
            file.set_len(0).map_err(err(&path))?;
        } else if size > COMPACT_ABOVE || !unreadable.is_empty() || !own.clean_end {
            // Also drops what could not be read (reported once) and a torn tail that the next
            // record would otherwise be glued to.
            file = rewrite(&path, &pending).map_err(err(&path))?;
            if !super::locked_files::take_lock(&file) {
                tracing::warn!(path = %path.display(), "the rewritten journal could not be locked");
            }
        }

        // Adopt the jobs of journals whose writers are gone.
        let mut adopted = Vec::new();
        let mut adopted_files = Vec::new();
        for (p, f) in super::locked_files::orphans(&main_path, &path) {
            let read = read_pending(&p);
            unreadable.extend(read.unreadable);
            let jobs = read.jobs;
            adopted.extend(
                jobs.iter()
                    .filter(|j| !pending.iter().any(|k| k.id == j.id))
                    .cloned(),
            );
            adopted_files.push((p, f));
        }
        if !adopted.is_empty() {
            file.write_all(lines_of(&adopted).as_bytes())
                .map_err(err(&path))?;
            file.sync_data().map_err(err(&path))?;
            if size == 0 {
                sync_dir(&path);
            }
            pending.extend(adopted);
        }
        // Their jobs are now in our file (durably): the others can go. The main file, if adopted,
        // is emptied rather than deleted (it is where the next process starts).
        for (p, f) in adopted_files {
            if p == main_path || std::fs::remove_file(&p).is_err() {
                let _ = f.set_len(0);
            }
        }
        pending.sort_by_key(|j| j.id);
        let open = pending.iter().map(|j| j.id).collect();
        Ok((
            Journal {
                path,
                main,
                inner: Mutex::new(Inner { file, open }),
                unreadable,
            },
            pending,
        ))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The records dropped at opening because they could not be read, one sentence each (already
    /// logged as errors); the runtime shows them as notices.
    pub fn unreadable(&self) -> &[String] {
        &self.unreadable
    }

    fn append(&self, r: &Record) -> Result<(), JournalError> {
        let err = |source| JournalError::Io {
            path: self.path.clone(),
            source,
        };
        let mut line = serde_json::to_string(r).map_err(|e| err(std::io::Error::other(e)))?;
        line.push('\n');
        // A poisoned lock means a writer panicked mid-append; the file handle itself is still fine.
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        inner.file.write_all(line.as_bytes()).map_err(err)?;
        inner.file.sync_data().map_err(err)?;
        match r {
            Record::Start { job } => {
                inner.open.insert(job.id);
            }
            Record::End { id, .. } => {
                inner.open.remove(id);
            }
            Record::Submitted { .. } => {}
        }
        Ok(())
    }

    /// Writes a job down before anything is sent.
    pub fn start(&self, job: &JournalJob) -> Result<(), JournalError> {
        self.append(&Record::Start {
            job: Box::new(job.clone()),
        })
    }

    /// Writes a v2 request id down, before the first poll.
    pub fn submitted(&self, id: JobId, request_id: &str) -> Result<(), JournalError> {
        self.append(&Record::Submitted {
            id,
            request_id: request_id.to_owned(),
            at_ms: now_ms(),
        })
    }

    /// Marks a job finished (after its result is saved, or it failed or was cancelled).
    pub fn end(&self, id: JobId, how: &str) -> Result<(), JournalError> {
        self.append(&Record::End {
            id,
            how: how.to_owned(),
        })
    }
}

impl Drop for Journal {
    /// With no job left open, the file is emptied: the next start reads nothing and syncs nothing.
    /// Jobs left open (a v2 job still on the server, a shutdown mid-request) keep the file.
    fn drop(&mut self) {
        let inner = self.inner.get_mut().unwrap_or_else(|p| p.into_inner());
        if inner.open.is_empty() && (self.main || std::fs::remove_file(&self.path).is_err()) {
            let _ = inner.file.set_len(0);
        }
    }
}

fn open_append(path: &Path) -> std::io::Result<File> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .read(true)
        .open(path)
}

/// The records that re-create an unfinished job.
fn records_of(job: &JournalJob) -> Vec<Record> {
    let mut recs = vec![Record::Start {
        job: Box::new(JournalJob {
            request_id: None,
            submitted_ms: None,
            ..job.clone()
        }),
    }];
    if let (Some(r), Some(at)) = (&job.request_id, job.submitted_ms) {
        recs.push(Record::Submitted {
            id: job.id,
            request_id: r.clone(),
            at_ms: at,
        });
    }
    recs
}

/// The journal lines that re-create `jobs`.
fn lines_of(jobs: &[JournalJob]) -> String {
    let mut buf = String::new();
    for r in jobs.iter().flat_map(records_of) {
        // Plain data: serialising cannot fail.
        buf.push_str(&serde_json::to_string(&r).unwrap_or_default());
        buf.push('\n');
    }
    buf
}

/// Rewrites `path` atomically with only `pending`, and returns it open for appending. The temp
/// file is created new under an unguessable name (never through a planted file or link).
fn rewrite(path: &Path, pending: &[JournalJob]) -> std::io::Result<File> {
    let random: String = std::iter::repeat_with(|| fastrand::alphanumeric().to_ascii_lowercase())
        .take(12)
        .collect();
    let tmp = path.with_extension(format!("jsonl.{random}.tmp"));
    let written = (|| {
        let mut f = OpenOptions::new().write(true).create_new(true).open(&tmp)?;
        f.write_all(lines_of(pending).as_bytes())?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    sync_dir(path);
    open_append(path)
}

/// What [`read_pending`] found in one journal file.
struct Pending {
    /// The unfinished jobs.
    jobs: Vec<JournalJob>,
    /// The records that could not be read, one sentence each for the user.
    unreadable: Vec<String>,
    /// Whether the file is empty or ends with a complete line.
    clean_end: bool,
}

/// Reads the unfinished jobs; an unreadable line (a torn tail, damage) is skipped and reported.
fn read_pending(path: &Path) -> Pending {
    let mut out = Pending {
        jobs: Vec::new(),
        unreadable: Vec::new(),
        clean_end: true,
    };
    let Ok(f) = File::open(path) else {
        return out;
    };
    let mut jobs: BTreeMap<JobId, JournalJob> = BTreeMap::new();
    let mut reader = BufReader::new(f);
    let mut line = Vec::new();
    for n in 1.. {
        line.clear();
        match reader.read_until(b'\n', &mut line) {
            Ok(0) => break,
            Ok(_) => out.clean_end = line.ends_with(b"\n"),
            Err(e) => {
                out.unreadable.push(unreadable(path, n, &e.to_string()));
                break;
            }
        }
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let text = line.strip_suffix(b"\n").unwrap_or(&line);
        let rec = match serde_json::from_slice::<Record>(text) {
            Ok(rec) => rec,
            Err(e) => {
                out.unreadable.push(unreadable(path, n, &e.to_string()));
                continue;
            }
        };
        match rec {
            Record::Start { job } => {
                jobs.insert(job.id, *job);
            }
            Record::Submitted {
                id,
                request_id,
                at_ms,
            } => {
                if let Some(j) = jobs.get_mut(&id) {
                    j.request_id = Some(request_id);
                    j.submitted_ms = Some(at_ms);
                }
            }
            Record::End { id, .. } => {
                jobs.remove(&id);
            }
        }
    }
    out.jobs = jobs.into_values().collect();
    out
}

/// Reports an unreadable record: logged as an error (the default log level shows it) and returned
/// as the sentence the user sees.
fn unreadable(path: &Path, line: usize, why: &str) -> String {
    let said = format!(
        "record {line} of the job journal {} could not be read ({why}) and was dropped: a job it described (perhaps a paid one in flight when the app stopped) can no longer be resumed. Check the gallery and your Segmind dashboard before re-running anything",
        path.display()
    );
    tracing::error!("{said}");
    said
}

/// Makes a rename of `path` durable (its folder synced; see [`crate::gallery::sync_dir`]).
fn sync_dir(path: &Path) {
    if let Some(dir) = path.parent() {
        crate::gallery::sync_dir(dir);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(id: JobId, api: ApiVersion) -> JournalJob {
        JournalJob {
            id,
            input: Some(InputSource::Url("https://example.com/a.png".into())),
            input_label: "a.png".into(),
            params: GenParams {
                prompt: "p".into(),
                ..Default::default()
            },
            api,
            group: None,
            started_ms: now_ms(),
            request_id: None,
            submitted_ms: None,
            api_base: None,
            prompt_template: None,
            batch: None,
            framing: Default::default(),
        }
    }

    #[test]
    fn unfinished_jobs_survive_reopen_and_a_torn_tail() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.jsonl");
        {
            let (j, pending) = Journal::open(&path).unwrap();
            assert!(pending.is_empty());
            j.start(&job(1, ApiVersion::V2)).unwrap();
            j.submitted(1, "req-1").unwrap();
            j.start(&job(2, ApiVersion::V1)).unwrap();
            j.start(&job(3, ApiVersion::V1)).unwrap();
            j.end(3, "saved").unwrap();
        }
        // A power cut in the middle of an append.
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(br#"{"op":"end","id":1,"ho"#).unwrap();
        drop(f);
        let (j, pending) = Journal::open(&path).unwrap();
        assert_eq!(pending.iter().map(|p| p.id).collect::<Vec<_>>(), vec![1, 2]);
        assert_eq!(pending[0].request_id.as_deref(), Some("req-1"));
        assert!(pending[0].submitted_ms.is_some());
        assert_eq!(pending[1].request_id, None);
        j.end(1, "saved").unwrap();
        j.end(2, "abandoned").unwrap();
        drop(j);
        let (_, pending) = Journal::open(&path).unwrap();
        assert!(pending.is_empty());
        // Compacted: the finished jobs are gone from the file.
        assert!(std::fs::read_to_string(&path).unwrap().trim().is_empty());
    }

    #[test]
    fn a_torn_tail_is_reported_once_and_never_glued_to_the_next_record() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.jsonl");
        {
            let (j, _) = Journal::open(&path).unwrap();
            j.start(&job(1, ApiVersion::V2)).unwrap();
            j.submitted(1, "req-1").unwrap();
        }
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(br#"{"op":"end","id":1,"ho"#).unwrap();
        drop(f);
        let (j, pending) = Journal::open(&path).unwrap();
        assert_eq!(pending.iter().map(|p| p.id).collect::<Vec<_>>(), vec![1]);
        assert_eq!(j.unreadable().len(), 1, "{:?}", j.unreadable());
        assert!(
            j.unreadable()[0].contains("record 3"),
            "{:?}",
            j.unreadable()
        );
        // A job started now must survive a crash: not glued to the torn record.
        j.start(&job(2, ApiVersion::V1)).unwrap();
        drop(j);
        let (j, pending) = Journal::open(&path).unwrap();
        assert_eq!(pending.iter().map(|p| p.id).collect::<Vec<_>>(), vec![1, 2]);
        assert!(
            j.unreadable().is_empty(),
            "reported once: {:?}",
            j.unreadable()
        );
        assert!(
            files(dir.path()).iter().all(|f| !f.ends_with(".tmp")),
            "{:?}",
            files(dir.path())
        );
    }

    fn files(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn a_second_process_never_takes_the_jobs_of_a_live_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.jsonl");
        // The app is running with job 1 in flight.
        let (app, pending) = Journal::open(&path).unwrap();
        assert!(pending.is_empty());
        app.start(&job(1, ApiVersion::V2)).unwrap();
        app.submitted(1, "req-1").unwrap();
        // A CLI run starts meanwhile: it must not see job 1 as unfinished, and writes elsewhere.
        let (cli, pending) = Journal::open(&path).unwrap();
        assert!(pending.is_empty(), "{pending:?}");
        assert_ne!(cli.path(), app.path());
        cli.start(&job(2, ApiVersion::V1)).unwrap();
        cli.end(2, "saved").unwrap();
        drop(cli);
        assert_eq!(
            files(dir.path()),
            ["journal.jsonl"],
            "the CLI's file is gone"
        );
        // The app's record is intact.
        assert!(std::fs::read_to_string(&path).unwrap().contains("req-1"));
        app.end(1, "saved").unwrap();
        drop(app);
        assert_eq!(
            std::fs::metadata(&path).unwrap().len(),
            0,
            "emptied at a clean exit"
        );
        let (_, pending) = Journal::open(&path).unwrap();
        assert!(pending.is_empty());
    }

    #[test]
    fn jobs_of_a_dead_writer_are_adopted_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.jsonl");
        let (app, _) = Journal::open(&path).unwrap();
        app.start(&job(1, ApiVersion::V2)).unwrap();
        // A CLI run dies with job 2 submitted (its file stays, unlocked once it is gone).
        let (cli, _) = Journal::open(&path).unwrap();
        cli.start(&job(2, ApiVersion::V2)).unwrap();
        cli.submitted(2, "req-2").unwrap();
        let cli_file = cli.path().to_path_buf();
        drop(cli);
        assert!(cli_file.exists(), "a job still open keeps its file");
        // The next CLI run adopts job 2 (not the live app's job 1) and takes over its file.
        let (next, pending) = Journal::open(&path).unwrap();
        assert_eq!(pending.iter().map(|p| p.id).collect::<Vec<_>>(), vec![2]);
        assert_eq!(pending[0].request_id.as_deref(), Some("req-2"));
        assert!(!cli_file.exists() || next.path() == cli_file);
        // A third opener finds nothing left to adopt.
        let (third, pending) = Journal::open(&path).unwrap();
        assert!(pending.is_empty(), "{pending:?}");
        drop(third);
        next.end(2, "saved").unwrap();
        drop(next);
        drop(app);
        // The app's job 1 was never ended: it is what the next start finds.
        let (_, pending) = Journal::open(&path).unwrap();
        assert_eq!(pending.iter().map(|p| p.id).collect::<Vec<_>>(), vec![1]);
    }

    #[test]
    fn a_big_journal_is_compacted_at_opening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.jsonl");
        {
            let (j, _) = Journal::open(&path).unwrap();
            j.start(&job(0, ApiVersion::V2)).unwrap();
            for id in 1..700 {
                j.start(&job(id, ApiVersion::V1)).unwrap();
                j.end(id, "saved").unwrap();
            }
        }
        assert!(std::fs::metadata(&path).unwrap().len() > COMPACT_ABOVE);
        let (_, pending) = Journal::open(&path).unwrap();
        assert_eq!(pending.len(), 1);
        assert!(std::fs::metadata(&path).unwrap().len() < 4096);
    }
}
