//! The catalog's record of inputs uploaded to Segmind's storage: a content hash and the storage
//! service it went to, and the persistent URL it got (issue 25).

use rusqlite::OptionalExtension as _;

use super::Catalog;

impl Catalog {
    /// The URL an input of this content hash got from this storage service, if it was uploaded.
    pub fn upload_url(&self, hash: &str, storage: &str) -> rusqlite::Result<Option<String>> {
        self.conn
            .query_row(
                "SELECT url FROM uploads WHERE hash = ?1 AND storage = ?2",
                [hash, storage],
                |r| r.get(0),
            )
            .optional()
    }

    /// Keeps the URL an upload got.
    pub fn remember_upload(
        &self,
        hash: &str,
        storage: &str,
        url: &str,
        at_ms: u64,
    ) -> rusqlite::Result<()> {
        self.conn.execute(
            "INSERT OR REPLACE INTO uploads (hash, storage, url, at_ms) VALUES (?1, ?2, ?3, ?4)",
            rusqlite::params![hash, storage, url, at_ms as i64],
        )?;
        Ok(())
    }
}
