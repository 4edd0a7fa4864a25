//! `fluxcn generate --variations`: a prompt with `{a|b|c}` choices becomes one job per prompt
//! ([`crate::jobs::variations`]), all with one seed, the count and cost printed before anything is
//! sent.
//!
//! For a paid API, nothing is expanded behind the user's back: without `--variations` a prompt that
//! reads as choices is refused (unsent) with the count it would give, rather than sent with its
//! braces (a wasted request) or multiplied silently; and more than [`CONFIRM_ABOVE`] images also
//! need `--yes`, so a template that multiplies out further than meant is caught before it is paid
//! for (the template itself is capped at [`variations::MAX_VARIATIONS`] prompts).

use super::args::GenArgs;
use super::commands::CliError;
use crate::jobs::{self, JobSpec, variations};

/// The most images `--variations` sends without `--yes`.
pub const CONFIRM_ABOVE: usize = 4;

/// The jobs of `generate`: `specs` (the samples of the flags' settings) as they are, or, with
/// `--variations`, once for each prompt of the template. Refuses (sending nothing) a prompt with
/// choices but no `--variations`, a template that cannot be expanded, and more than
/// [`CONFIRM_ABOVE`] images without `--yes`.
pub fn apply(g: &GenArgs, specs: Vec<JobSpec>, quiet: bool) -> Result<Vec<JobSpec>, CliError> {
    if !g.variations {
        return match variations::count(&g.params().prompt) {
            Ok(n) if n > 1 => Err(CliError::Other(format!(
                "the prompt holds {{…|…}} choices that make {n} prompts: add --variations to \
                 send one job per prompt (to send the braces as written, add --variations and \
                 write \\{{ \\| \\}})"
            ))),
            _ => Ok(specs),
        };
    }
    let group = jobs::next_job_id();
    let planned = variations::specs(&g.params().prompt, &specs, group)
        .map_err(|e| CliError::Other(format!("--variations: {e}")))?;
    let prompts = planned.len() / specs.len().max(1);
    let images: usize = planned
        .iter()
        .map(|s| s.params.samples.max(1) as usize)
        .sum();
    let plural = |n: usize, what: &str| format!("{n} {what}{}", if n == 1 { "" } else { "s" });
    let what = format!(
        "{} → {} ≈ ${:.2}",
        plural(prompts, "prompt"),
        plural(images, "image"),
        images as f64 * crate::api::DEFAULT_COST_PER_IMAGE
    );
    if images > CONFIRM_ABOVE && !g.yes {
        return Err(CliError::Other(format!(
            "--variations: {what}: more than {CONFIRM_ABOVE} images; add --yes to send them"
        )));
    }
    if !quiet {
        let seed = planned.first().map(|s| s.params.seed).unwrap_or_default();
        eprintln!("fluxcn: variations: {what}, seed {seed}");
        for s in planned
            .iter()
            .filter(|s| s.group.as_ref().is_some_and(|t| t.row == 0))
        {
            eprintln!("fluxcn:   {}", s.params.prompt);
        }
    }
    Ok(planned)
}

/// `compare` takes no `--variations`: its grid has a prompt axis (`--x 'prompt=a|b'`).
pub fn refuse_in_compare(g: &GenArgs) -> Result<(), CliError> {
    if g.variations {
        return Err(CliError::Other(
            "--variations is for `fluxcn generate`; to compare prompts use a grid axis, e.g. \
             --x 'prompt=a red car|a blue car'"
                .into(),
        ));
    }
    Ok(())
}
