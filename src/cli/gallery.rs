//! `fluxcn gallery search|rebuild`: the gallery's catalog from the command line.

use std::io::Write;
use std::path::PathBuf;

use super::args::{GalleryAction, SortArg};
use super::commands::CliError;
use crate::gallery::Store;
use crate::gallery::catalog::{Query, Sort};

/// Runs a `gallery` subcommand; `data` is the data folder (its `gallery/` is the default).
pub fn run(action: &GalleryAction, data: PathBuf) -> Result<(), CliError> {
    let (out, default) = match action {
        GalleryAction::Search { out, .. } | GalleryAction::Rebuild { out } => {
            (out.clone(), data.join("gallery"))
        }
    };
    let dir = out.unwrap_or(default);
    if !dir.is_dir() {
        return Err(CliError::Other(format!(
            "there is no gallery at {}: nothing has been saved there yet",
            dir.display()
        )));
    }
    let store = Store::open(&dir)?;
    for n in store.notes() {
        eprintln!("fluxcn: Gallery: {n}");
    }
    match action {
        GalleryAction::Search {
            terms, sort, limit, ..
        } => {
            let mut q =
                Query::parse(&terms.join(" ")).map_err(crate::gallery::GalleryError::from)?;
            q.sort = match sort {
                SortArg::Newest => Sort::Newest,
                SortArg::Oldest => Sort::Oldest,
                SortArg::Rating => Sort::Rating,
            };
            let rows = store.query(&q)?;
            let shown = limit.unwrap_or(usize::MAX).min(rows.len());
            let mut stdout = std::io::stdout().lock();
            for r in &rows[..shown] {
                // A closed pipe (`| head`) ends the listing quietly.
                if writeln!(stdout, "{}", store.dir().join(&r.file).display()).is_err() {
                    return Ok(());
                }
            }
            eprintln!("fluxcn: {} of {} images match", rows.len(), store.count());
        }
        GalleryAction::Rebuild { .. } => {
            let n = store.rebuild_catalog()?;
            eprintln!(
                "fluxcn: the catalog of {} was rebuilt from the files: {n} images",
                store.dir().display()
            );
        }
    }
    Ok(())
}
