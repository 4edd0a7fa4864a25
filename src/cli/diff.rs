//! `fluxcn diff A B`: what changed from one picture's settings to another's, one change a line on
//! stdout (`steps: 20 → 30`, then `prompt removed: …` and `prompt added: …`), or `no difference`.
//!
//! Each side is read by [`gallery::read_settings`] (our images and sidecars, the settings other
//! tools such as A1111 write into theirs); a file without settings is the command's one `error:` line. Where a
//! picture has our sidecar, it also tells the control image (`image: a.png → b.png`, compared by
//! content when both sidecars hold its hash) and, for a picture sent with a random seed (`-1`), the
//! seed the service used, which is compared instead (else the seed of the A1111 text inside it).

use std::io::Write;
use std::path::Path;

use super::commands::CliError;
use crate::api::diff::{self, InputRef};
use crate::api::{GenParams, params};
use crate::gallery::{self, Sidecar, meta};

/// Prints what changed from `a` to `b`.
pub fn run(a: &Path, b: &Path) -> Result<(), CliError> {
    let (pa, pb) = (gallery::read_settings(a)?, gallery::read_settings(b)?);
    let (sa, sb) = (sidecar(a), sidecar(b));
    let mut d = diff::diff_seeds(
        &pa,
        seed_used(a, &pa, sa.as_ref()),
        &pb,
        seed_used(b, &pb, sb.as_ref()),
    );
    if let (Some(sa), Some(sb)) = (&sa, &sb) {
        d = d.with_input(input_of(sa), input_of(sb));
    }
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

/// The control image a sidecar names.
fn input_of(s: &Sidecar) -> InputRef<'_> {
    InputRef {
        describe: &s.input,
        hash: s.input_hash.as_deref(),
    }
}

/// Our sidecar for `path`: the file itself when it is a `.json`, else the one beside it.
fn sidecar(path: &Path) -> Option<Sidecar> {
    let is_json = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"));
    let at = if is_json {
        path.to_path_buf()
    } else {
        meta::sidecar_of(path)
    };
    meta::read_sidecar(&at).ok()
}

/// The seed the service used for a picture sent with `-1`: its sidecar's `seed_used`, else the seed
/// of the A1111 text inside it. `None` when the seed sent is a real one, or nothing says.
fn seed_used(path: &Path, p: &GenParams, sidecar: Option<&Sidecar>) -> Option<i64> {
    if p.seed != params::RANDOM_SEED {
        return None;
    }
    if let Some(s) = sidecar {
        return Some(s.seed_used);
    }
    // `read_settings` has just read it as a regular file of a sane size.
    let bytes = std::fs::read(path).ok()?;
    meta::embedded_record(path, &bytes)
        .ok()
        .flatten()
        .and_then(|e| e.seed_used)
        .filter(|s| *s != params::RANDOM_SEED)
}
