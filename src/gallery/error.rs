//! The gallery's error type: every message names the file, field or value and says what to do.

use std::path::PathBuf;

/// Everything that can go wrong in the gallery. None of these carries the API key: the gallery never
/// sees it.
#[derive(Debug, thiserror::Error)]
pub enum GalleryError {
    /// A file-system operation failed.
    #[error("could not {action} {path}: {source}. {}", advice(.action))]
    Io {
        /// What we were doing, e.g. `write`, `read`, `move`.
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    /// No entry with this id in the gallery.
    #[error(
        "there is no picture {id:?} in the gallery {dir}: it may have been deleted already; refresh the gallery"
    )]
    NotFound { id: String, dir: PathBuf },
    /// `undo_delete` found nothing in the trash.
    #[error(
        "the picture {id:?} is not in the gallery's trash ({dir}): it was never deleted, or the trash was emptied"
    )]
    NotInTrash { id: String, dir: PathBuf },
    /// Restoring from the trash would overwrite a picture.
    #[error(
        "cannot restore {id:?}: a file of that name already exists at {path}; move or rename it first"
    )]
    RestoreClash { id: String, path: PathBuf },
    /// A sidecar `.json` that cannot be read as one.
    #[error(
        "the settings file {path} is damaged ({reason}); the image next to it is intact. Run `fluxcn gallery rebuild` to recreate it from the image"
    )]
    BadSidecar { path: PathBuf, reason: String },
    /// `read_settings` found no settings anywhere.
    #[error(
        "{path} holds no generation settings: no fluxcn, AUTOMATIC1111, ComfyUI or InvokeAI metadata inside it and no settings file ({sidecar}) next to it"
    )]
    NoSettings { path: PathBuf, sidecar: PathBuf },
    /// Settings were found in a file but could not be understood.
    #[error("the settings inside {path} cannot be read: {reason}")]
    BadEmbedded { path: PathBuf, reason: String },
    /// A dropped or named file that is not a regular file (a folder, a pipe, a device), or one too
    /// big to be an image: refused before it is read, so nothing waits on it forever.
    #[error("{path} cannot be read for settings: {what}")]
    NotAFile { path: PathBuf, what: String },
    /// Not a PNG, JPEG or WebP file.
    #[error("{path} is not a PNG, JPEG or WebP image (its first bytes say otherwise)")]
    NotAnImage { path: PathBuf },
    /// An image that cannot be decoded (e.g. for a thumbnail).
    #[error("the image {path} cannot be decoded: {reason}")]
    DamagedImage { path: PathBuf, reason: String },
    /// Text that is not in AUTOMATIC1111's "parameters" format.
    #[error("these settings are not in AUTOMATIC1111's format: {reason}")]
    NotA1111 { reason: String },
    /// A known AUTOMATIC1111 key with a value we cannot use.
    #[error("the AUTOMATIC1111 setting \"{key}: {value}\" cannot be read: expected {expected}")]
    A1111Value {
        key: String,
        value: String,
        expected: &'static str,
    },
    /// The gallery's catalog cannot be used for what was asked (a rebuild, a search).
    #[error("the gallery catalog {path} cannot be used: {reason}")]
    Catalog { path: PathBuf, reason: String },
    /// A search whose text cannot be understood.
    #[error("the search cannot be read: {0}")]
    Query(#[from] super::catalog::QueryError),
    /// A thumbnail size of zero.
    #[error("a thumbnail of {max_side} pixels was asked for; ask for at least 1")]
    BadThumbSize { max_side: u32 },
}

/// What to check after an I/O failure, by what was being done.
fn advice(action: &str) -> &'static str {
    match action {
        "read" | "list" => "Check that it exists and that you may read it",
        "use" => "Remove or rename it: the gallery then makes its own folder there",
        _ => "Check that the folder exists and is writable, and that the disk is not full",
    }
}

/// A closure for `map_err` that wraps an I/O error with what we were doing and where.
pub(crate) fn io(
    action: &'static str,
    path: impl Into<PathBuf>,
) -> impl FnOnce(std::io::Error) -> GalleryError {
    let path = path.into();
    move |source| GalleryError::Io {
        action,
        path,
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_messages_name_the_file_and_fit_the_action() {
        let nf = || std::io::Error::from(std::io::ErrorKind::NotFound);
        let r = io("read", "/g/a.png")(nf()).to_string();
        assert!(r.starts_with("could not read /g/a.png: "), "{r}");
        assert!(r.contains("may read it"), "{r}");
        let w = io("write", "/g/a.json")(nf()).to_string();
        assert!(
            w.contains("/g/a.json") && w.contains("disk is not full"),
            "{w}"
        );
    }
}
