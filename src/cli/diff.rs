//! `fluxcn diff A B`: what changed from one picture's settings to another's, one change a line on
//! stdout (`steps: 20 → 30`, then `prompt removed: …` and `prompt added: …`), or `no difference`.
//!
//! Each side is read by [`gallery::read_settings`] (our images and sidecars, another tool's A1111
//! `parameters` text); a file without settings is the command's one `error:` line. When a picture
//! was sent with a random seed (`-1`), the seed the service used is compared instead, found in its
//! sidecar or in the A1111 text inside it.

use std::io::Write;
use std::path::Path;

use super::commands::CliError;
use crate::api::diff;
use crate::api::{GenParams, params};
use crate::gallery::{self, meta};

/// Prints what changed from `a` to `b`.
pub fn run(a: &Path, b: &Path) -> Result<(), CliError> {
    let (pa, pb) = (gallery::read_settings(a)?, gallery::read_settings(b)?);
    let d = diff::diff_seeds(&pa, seed_used(a, &pa), &pb, seed_used(b, &pb));
    let lines = if d.is_empty() {
        vec!["no difference".to_owned()]
    } else {
        d.lines()
    };
    let mut out = std::io::stdout().lock();
    for l in lines {
        // A closed pipe (`| head`) ends the listing quietly.
        if writeln!(out, "{l}").is_err() {
            return Ok(());
        }
    }
    Ok(())
}

/// The seed the service used for a picture sent with `-1`: its sidecar's `seed_used`, else the seed
/// of the A1111 text inside it. `None` when the seed sent is a real one, or nothing says.
fn seed_used(path: &Path, p: &GenParams) -> Option<i64> {
    if p.seed != params::RANDOM_SEED {
        return None;
    }
    let is_json = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"));
    let sidecar = if is_json {
        path.to_path_buf()
    } else {
        meta::sidecar_of(path)
    };
    if let Ok(s) = meta::read_sidecar(&sidecar) {
        return Some(s.seed_used);
    }
    if is_json {
        return None;
    }
    // `read_settings` has just read it as a regular file of a sane size.
    let bytes = std::fs::read(path).ok()?;
    meta::embedded_record(path, &bytes)
        .ok()
        .flatten()
        .and_then(|e| e.seed_used)
        .filter(|s| *s != params::RANDOM_SEED)
}
