//! `--like FILE` of `generate` and `compare`: every setting found in FILE (a fluxcn picture or its
//! sidecar, or another tool's image: [`gallery::read_any`]), under the flags given; what FILE says
//! that has no counterpart here is printed, never dropped silently.

use super::args::GenArgs;
use super::commands::CliError;
use crate::api::params;
use crate::gallery;

/// `--like FILE`: the flags over FILE's settings, its notes on stderr; without it, the flags.
/// The seed is the one the picture was made with (its record may hold `-1`, a random seed asked
/// for), and a fluxcn picture's kept input is the `--image` when none is given.
pub fn with_like(g: &GenArgs, quiet: bool) -> Result<GenArgs, CliError> {
    if let Some(picture) = &g.refine {
        return with_refine(g, picture, quiet);
    }
    let Some(file) = &g.like else {
        return Ok(g.clone());
    };
    let found = gallery::read_any(file)?;
    let mut base = found.params.clone();
    if let Some(s) = found.seed_used.filter(|s| *s != params::RANDOM_SEED) {
        base.seed = s;
    }
    let kept = (found.source == gallery::Tool::Fluxcn)
        .then(|| gallery::kept_input_of(file))
        .flatten()
        .map(|p| p.display().to_string());
    if !quiet {
        eprintln!(
            "fluxcn: --like {}: settings read from its {} metadata",
            file.display(),
            found.source
        );
        for n in &found.notes {
            eprintln!("fluxcn:   {n}");
        }
        if let (Some(k), None) = (&kept, &g.image) {
            eprintln!("fluxcn:   input image: {k} (kept with it)");
        }
    }
    Ok(g.over(&base, kept))
}

/// `--refine PICTURE [--scale S]`: PICTURE as the input, with its settings and seed, the tile
/// control type and an output S times its size (capped at 4096 a side, same shape); the flags
/// given over that.
fn with_refine(g: &GenArgs, picture: &std::path::Path, quiet: bool) -> Result<GenArgs, CliError> {
    let found = gallery::read_any(picture)?;
    let (width, height) = image::image_dimensions(picture).map_err(|e| {
        CliError::Other(format!(
            "--refine {}: the picture cannot be read ({e})",
            picture.display()
        ))
    })?;
    let seed = found
        .seed_used
        .filter(|s| *s != params::RANDOM_SEED)
        .unwrap_or(found.params.seed);
    let base = crate::api::refine::refine_params(&found.params, seed, width, height, g.scale);
    if !quiet {
        eprintln!(
            "fluxcn: --refine {}: {width} × {height}, settings read from its {} metadata; tile, seed {seed}, output {} × {}",
            picture.display(),
            found.source,
            base.custom_width,
            base.custom_height,
        );
        for n in &found.notes {
            eprintln!("fluxcn:   {n}");
        }
    }
    Ok(g.over(&base, Some(picture.display().to_string())))
}
