//! Where things live on this machine: the data folder, the gallery, the ledger, the journal, the
//! window's settings file and the keyring that holds the key. Every path comes from `directories`
//! (through [`crate::gallery::default_data_dir`]) and the keyring's name from the store compiled in
//! for this platform, never from a hard-coded `~/.local`. The Settings window and `fluxcn paths`
//! show the same [`Places`].

use std::path::PathBuf;

/// The places of one user's files on this machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Places {
    /// `$FLUXCN_DATA_DIR`, or the platform's data folder for `fluxcn`:
    /// `~/.local/share/fluxcn` (Linux, or `$XDG_DATA_HOME`), `~/Library/Application Support/fluxcn`
    /// (macOS), `%APPDATA%\fluxcn\data` (Windows). `None` when the system names no home.
    pub data: Option<PathBuf>,
    /// Where results are saved unless `--out` or Settings says otherwise: `<data>/gallery`.
    pub gallery: Option<PathBuf>,
    /// What was spent: `<data>/ledger.sqlite`, one per user whatever the gallery folder.
    pub ledger: Option<PathBuf>,
    /// Jobs in flight (resumed after a crash): `<data>/journal.jsonl`.
    pub journal: Option<PathBuf>,
    /// The window's settings (eframe's storage, written on a clean exit): `app.ron` in the
    /// platform's data folder for `fluxcn`, which `FLUXCN_DATA_DIR` does not move.
    pub settings: Option<PathBuf>,
    /// The OS keyring the key is stored in, in words.
    pub keyring: &'static str,
}

impl Places {
    /// This machine's places, for this user and environment.
    pub fn here() -> Places {
        Places::of(crate::gallery::default_data_dir())
    }

    /// The places of the data folder `data` (the demo mode keeps one of its own).
    pub fn of(data: Option<PathBuf>) -> Places {
        Places {
            gallery: data.as_ref().map(|d| d.join("gallery")),
            ledger: data.as_ref().map(|d| super::ledger::Ledger::path_in(d)),
            journal: data.as_ref().map(|d| d.join(JOURNAL_FILE)),
            settings: settings_file(),
            keyring: crate::keystore::BACKEND,
            data,
        }
    }

    /// The places as `name: path` lines (what `fluxcn paths` prints, and Settings shows).
    pub fn lines(&self) -> Vec<(&'static str, String)> {
        let show = |p: &Option<PathBuf>| match p {
            Some(p) => p.display().to_string(),
            None => "(unknown on this system: set FLUXCN_DATA_DIR)".to_owned(),
        };
        vec![
            ("gallery", show(&self.gallery)),
            ("data", show(&self.data)),
            ("ledger", show(&self.ledger)),
            ("journal", show(&self.journal)),
            ("settings", show(&self.settings)),
            ("key", self.keyring.to_owned()),
        ]
    }
}

/// The job journal's file name in the data folder.
pub const JOURNAL_FILE: &str = "journal.jsonl";

/// The window's settings file: eframe keeps `app.ron` in the platform's data folder for the app
/// id `fluxcn` (the same folder `directories` names; a UI test holds the two together).
fn settings_file() -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", "fluxcn").map(|p| p.data_dir().join("app.ron"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_place_is_under_the_data_folder_and_named() {
        let p = Places::here();
        if let Some(data) = &p.data {
            for place in [&p.gallery, &p.ledger, &p.journal] {
                assert!(
                    place.as_ref().is_some_and(|f| f.starts_with(data)),
                    "{place:?}"
                );
            }
        }
        let lines = p.lines();
        assert_eq!(lines.len(), 6);
        assert!(lines.iter().all(|(_, v)| !v.is_empty()));
        assert!(!p.keyring.is_empty());
    }
}
