//! The store's side of uploaded inputs (`catalog/uploads.rs`): the persistent URL an input got
//! from Segmind's storage, kept beside the kept inputs, by content hash and storage service.

use super::GalleryError;
use super::store::Store;

impl Store {
    /// The URL the input of this content hash got from `storage`, if it was uploaded there.
    pub fn upload_url(&self, hash: &str, storage: &str) -> Option<String> {
        self.lock().cat.upload_url(hash, storage).ok().flatten()
    }

    /// Keeps the URL an upload of this input got.
    pub fn remember_upload(
        &self,
        hash: &str,
        storage: &str,
        url: &str,
    ) -> Result<(), GalleryError> {
        self.lock()
            .cat
            .remember_upload(hash, storage, url, super::store::now_ms())
            .map_err(|e| GalleryError::Catalog {
                path: self.dir().join(super::catalog::CATALOG_FILE),
                reason: e.to_string(),
            })
    }
}
