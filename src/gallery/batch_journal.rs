//! The store's side of the batch journal: a batch line's state written to and read from the
//! gallery's catalog (`catalog/batch.rs`). Unlike the rest of the catalog, these rows are not
//! rebuilt from the sidecars, so a write that fails is an error to the caller (a line that cannot
//! be marked sent is not sent), and a catalog working from memory refuses them.

use super::GalleryError;
use super::catalog::{Claim, LineMark, LineState};
use super::store::Store;

impl Store {
    fn batch_error(&self, reason: String) -> GalleryError {
        GalleryError::Catalog {
            path: self.dir().join(super::catalog::CATALOG_FILE),
            reason,
        }
    }

    /// Refuses a catalog working from memory: a batch's progress there could not survive a crash.
    fn on_disk(&self, st: &super::store::State) -> Result<(), GalleryError> {
        match st.cat.path() {
            Some(_) => Ok(()),
            None => Err(self.batch_error(
                "the catalog is working from memory, so a batch's progress could not survive a crash"
                    .into(),
            )),
        }
    }

    /// Writes a batch line's state; a `Sent` mark is on disk when this returns `Ok`.
    pub fn batch_mark(&self, m: &LineMark) -> Result<(), GalleryError> {
        let st = self.lock();
        self.on_disk(&st)?;
        let now = super::store::now_ms();
        st.cat
            .batch_mark(m, now)
            .map_err(|e| self.batch_error(e.to_string()))
    }

    /// Claims a batch line for a job, atomically across processes (see
    /// [`super::catalog::Catalog::batch_claim`]); `Claimed` means it is marked sent, on disk.
    pub fn batch_claim(
        &self,
        m: &LineMark,
        holder: Option<&str>,
        resend_unknown: bool,
        gone: &dyn Fn(&str) -> bool,
    ) -> Result<Claim, GalleryError> {
        let st = self.lock();
        self.on_disk(&st)?;
        let now = super::store::now_ms();
        st.cat
            .batch_claim(m, holder, resend_unknown, gone, now)
            .map_err(|e| self.batch_error(e.to_string()))
    }

    /// Every mark of the line `key` (whatever file wrote it), with the holder that sent it.
    pub fn line_marks(&self, key: &str) -> Result<Vec<(LineMark, Option<String>)>, GalleryError> {
        let st = self.lock();
        st.cat
            .line_marks(key)
            .map_err(|e| self.batch_error(e.to_string()))
    }

    /// Every line recorded for `batch`, with each `Sent` line settled: a line whose job's result
    /// is in the gallery is `Saved` (a crash came between the save and the mark), any other is
    /// `Unknown` (sent, no answer known).
    pub fn batch_lines(&self, batch: &str) -> Result<Vec<LineMark>, GalleryError> {
        let lines = {
            let st = self.lock();
            st.cat
                .batch_lines(batch)
                .map_err(|e| self.batch_error(e.to_string()))?
        };
        let mut out = Vec::with_capacity(lines.len());
        for mut l in lines {
            if matches!(l.state, LineState::Sent | LineState::Unknown) {
                let found = l
                    .job_id
                    .map(|j| self.find_job(j, None))
                    .and_then(|v| v.into_iter().next())
                    .map(|e| e.image_path)
                    .or_else(|| self.batch_result(&l.key));
                if let Some(path) = found {
                    l.state = LineState::Saved;
                    l.result = Some(path.display().to_string());
                } else {
                    l.state = LineState::Unknown;
                }
            }
            out.push(l);
        }
        Ok(out)
    }

    /// The image saved for the batch line `key`, found by its sidecar (when the batch's own rows
    /// were lost with a rebuilt catalog).
    pub fn batch_result(&self, key: &str) -> Option<std::path::PathBuf> {
        let st = self.lock();
        let file = self.read(&st, None, |c| c.batch_result(key));
        drop(st);
        file.map(|f| self.dir().join(f)).filter(|p| p.is_file())
    }
}
