//! The job journal: an append-only JSON-lines file, fsynced per record, that lets a job in flight
//! survive a crash. A job is written before it is sent; a v2 job's `request_id` the moment the submit
//! answers (before the first poll); the job is marked finished only after its result is saved. At
//! start-up the unfinished jobs are read back: v2 ones are finished by polling (never by submitting
//! again), v1 ones are reported as "interrupted: may have been billed".
//!
//! A torn last record (power cut mid-append) is skipped on reading. The file is compacted (rewritten
//! atomically with only the unfinished jobs) when it is opened.

use std::collections::BTreeMap;
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

/// The journal file.
#[derive(Debug)]
pub struct Journal {
    path: PathBuf,
    file: Mutex<File>,
}

pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

impl Journal {
    /// Opens (or creates) the journal at `path` and returns the jobs that had not finished.
    pub fn open(path: impl Into<PathBuf>) -> Result<(Journal, Vec<JournalJob>), JournalError> {
        let path = path.into();
        let err = |source| JournalError::Io {
            path: path.clone(),
            source,
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(err)?;
        }
        let pending = read_pending(&path);
        // Compact: rewrite with only the unfinished jobs, atomically.
        let tmp = path.with_extension("jsonl.tmp");
        {
            let mut f = File::create(&tmp).map_err(err)?;
            for job in &pending {
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
                for r in recs {
                    let line = serde_json::to_string(&r).unwrap_or_default();
                    writeln!(f, "{line}").map_err(err)?;
                }
            }
            f.sync_all().map_err(err)?;
        }
        std::fs::rename(&tmp, &path).map_err(err)?;
        sync_dir(&path);
        let file = OpenOptions::new().append(true).open(&path).map_err(err)?;
        Ok((
            Journal {
                path,
                file: Mutex::new(file),
            },
            pending,
        ))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn append(&self, r: &Record) -> Result<(), JournalError> {
        let err = |source| JournalError::Io {
            path: self.path.clone(),
            source,
        };
        let mut line = serde_json::to_string(r).map_err(|e| err(std::io::Error::other(e)))?;
        line.push('\n');
        // A poisoned lock means a writer panicked mid-append; the file handle itself is still fine.
        let mut f = self.file.lock().unwrap_or_else(|p| p.into_inner());
        f.write_all(line.as_bytes()).map_err(err)?;
        f.sync_data().map_err(err)
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

/// Reads the unfinished jobs; unreadable lines (a torn tail) are skipped.
fn read_pending(path: &Path) -> Vec<JournalJob> {
    let Ok(f) = File::open(path) else {
        return Vec::new();
    };
    let mut jobs: BTreeMap<JobId, JournalJob> = BTreeMap::new();
    for line in BufReader::new(f).split(b'\n') {
        let Ok(line) = line else { break };
        let Ok(rec) = serde_json::from_slice::<Record>(&line) else {
            if !line.iter().all(u8::is_ascii_whitespace) {
                tracing::warn!(path = %path.display(), "skipping an unreadable journal record (torn write?)");
            }
            continue;
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
    jobs.into_values().collect()
}

fn sync_dir(path: &Path) {
    #[cfg(unix)]
    if let Some(dir) = path.parent()
        && let Ok(d) = File::open(dir)
    {
        let _ = d.sync_all();
    }
    #[cfg(not(unix))]
    let _ = path;
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
}
