//! Variations from one prompt: `{red|blue|green} car` is three prompts, one job each.
//!
//! The syntax (the combinatorial syntax of A1111's Dynamic Prompts, without its extensions):
//! - `{a|b|c}` is a group: one prompt per choice; several groups give every combination, the
//!   first group varying slowest (`{a|b} {x|y}`: `a x`, `a y`, `b x`, `b y`).
//! - A choice may be empty: `{|very }fast` gives `fast` and `very fast`. Nothing is trimmed: the
//!   prompt is the template with each group replaced by its choice, exactly.
//! - `\{`, `\}` and `\|` are a literal brace and bar. Any other backslash is kept as it is (A1111's
//!   `\(` stays `\(`); a `|` outside a group is an ordinary character.
//! - Refused, with the position: a group inside a group, a `{` never closed, a `}` never opened.
//! - Refused before anything is planned: more than [`MAX_VARIATIONS`] prompts (the error names the
//!   count, computed without expanding), a prompt that comes out blank, or the same prompt twice
//!   (two identical jobs would pay twice for one picture).
//!
//! [`specs`] turns the prompts into jobs: one per prompt for every job of the base (the samples),
//! each tagged as a cell of one group (column: the prompt, row: the sample; label: the choices) and
//! all sharing one seed, so the prompt is the only difference.

use std::collections::HashSet;

use crate::api::params;
use crate::types::GroupTag;

use super::JobSpec;

/// The most prompts one template may give.
pub const MAX_VARIATIONS: usize = 64;

/// A template that cannot be expanded. Positions count characters from 1.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VariationError {
    #[error(
        "the prompt opens a group inside a group at character {at}: choices cannot hold groups (write \\{{ for a literal brace)"
    )]
    Nested { at: usize },
    #[error(
        "the prompt's group opened at character {at} is never closed with }} (write \\{{ for a literal brace)"
    )]
    Unclosed { at: usize },
    #[error(
        "the prompt closes a group at character {at} that was never opened (write \\}} for a literal brace)"
    )]
    StrayClose { at: usize },
    #[error(
        "the prompt's choices give {} prompts, more than {max} at once: split it into smaller runs",
        count_text(*.count)
    )]
    TooMany { count: u64, max: usize },
    #[error("the choices {choices} give an empty prompt")]
    Blank { choices: String },
    #[error("the choices give the prompt {prompt:?} twice: remove the repeated choice")]
    Duplicate { prompt: String },
}

/// A count that may have overflowed (saturated at `u64::MAX`).
fn count_text(count: u64) -> String {
    if count == u64::MAX {
        "more than 18 quintillion".to_owned()
    } else {
        count.to_string()
    }
}

/// One expanded prompt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Variation {
    /// The prompt to send.
    pub prompt: String,
    /// The choice taken in each group, in the template's order.
    pub choices: Vec<String>,
}

impl Variation {
    /// The choices as a short label for the queue and the sidecar's group: `blue · fast`, an empty
    /// choice as `(none)`.
    pub fn label(&self) -> String {
        let shown: Vec<&str> = self
            .choices
            .iter()
            .map(|c| match c.trim() {
                "" => "(none)",
                t => t,
            })
            .collect();
        shown.join(" · ")
    }
}

/// A piece of a parsed template.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Group(Vec<String>),
}

/// Splits a template into text and groups, escapes resolved.
fn parse(template: &str) -> Result<Vec<Part>, VariationError> {
    let mut parts = Vec::new();
    let mut text = String::new();
    // The open group: where it opened, its finished choices, the choice being read.
    let mut group: Option<(usize, Vec<String>, String)> = None;
    let mut chars = template.chars().enumerate().peekable();
    while let Some((i, c)) = chars.next() {
        let at = i + 1;
        let escaped = c == '\\'
            && chars
                .peek()
                .is_some_and(|(_, n)| matches!(n, '{' | '}' | '|'));
        let (c, literal) = match (escaped, chars.next_if(|_| escaped)) {
            (true, Some((_, n))) => (n, true),
            _ => (c, false),
        };
        match (c, &mut group) {
            (c, group) if literal => push(group, &mut text, c),
            ('{', Some(_)) => return Err(VariationError::Nested { at }),
            ('{', None) => {
                parts.push(Part::Text(std::mem::take(&mut text)));
                group = Some((at, Vec::new(), String::new()));
            }
            ('}', None) => return Err(VariationError::StrayClose { at }),
            ('|', Some((_, done, current))) => done.push(std::mem::take(current)),
            ('}', Some((_, done, current))) => {
                done.push(std::mem::take(current));
                parts.push(Part::Group(std::mem::take(done)));
                group = None;
            }
            (c, group) => push(group, &mut text, c),
        }
    }
    if let Some((at, _, _)) = group {
        return Err(VariationError::Unclosed { at });
    }
    parts.push(Part::Text(text));
    parts.retain(|p| !matches!(p, Part::Text(t) if t.is_empty()));
    Ok(parts)
}

/// Adds a literal character to the open group's choice, else to the text.
fn push(group: &mut Option<(usize, Vec<String>, String)>, text: &mut String, c: char) {
    match group {
        Some((_, _, current)) => current.push(c),
        None => text.push(c),
    }
}

/// How many prompts the template gives (1 when it has no group), without expanding it; saturates
/// at `u64::MAX`.
pub fn count(template: &str) -> Result<u64, VariationError> {
    Ok(count_parts(&parse(template)?))
}

fn count_parts(parts: &[Part]) -> u64 {
    parts.iter().fold(1u64, |n, p| match p {
        Part::Group(choices) => n.saturating_mul(choices.len() as u64),
        Part::Text(_) => n,
    })
}

/// Whether the template holds at least one group (a `{` that is not escaped, well formed).
pub fn has_groups(template: &str) -> bool {
    parse(template).is_ok_and(|parts| parts.iter().any(|p| matches!(p, Part::Group(_))))
}

/// One prompt per combination of choices, in order (see the module's documentation).
pub fn expand(template: &str) -> Result<Vec<String>, VariationError> {
    Ok(expand_choices(template)?
        .into_iter()
        .map(|v| v.prompt)
        .collect())
}

/// Like [`expand`], with the choices each prompt took.
pub fn expand_choices(template: &str) -> Result<Vec<Variation>, VariationError> {
    let parts = parse(template)?;
    let count = count_parts(&parts);
    if count > MAX_VARIATIONS as u64 {
        return Err(VariationError::TooMany {
            count,
            max: MAX_VARIATIONS,
        });
    }
    let mut out = vec![Variation {
        prompt: String::new(),
        choices: Vec::new(),
    }];
    for part in &parts {
        out = match part {
            Part::Text(t) => out
                .into_iter()
                .map(|mut v| {
                    v.prompt.push_str(t);
                    v
                })
                .collect(),
            Part::Group(choices) => out
                .iter()
                .flat_map(|v| {
                    choices.iter().map(move |c| {
                        let mut next = v.clone();
                        next.prompt.push_str(c);
                        next.choices.push(c.clone());
                        next
                    })
                })
                .collect(),
        };
    }
    let mut seen = HashSet::new();
    for v in &out {
        if v.prompt.trim().is_empty() {
            let label = v.label();
            return Err(VariationError::Blank {
                choices: if label.is_empty() {
                    "(none)".into()
                } else {
                    label
                },
            });
        }
        if !seen.insert(crate::api::params::prompt_key(&v.prompt)) {
            return Err(VariationError::Duplicate {
                prompt: v.prompt.clone(),
            });
        }
    }
    Ok(out)
}

/// The jobs for a template: for each prompt (a column), every job of `base` (a row each: the
/// samples) with that prompt, tagged as a cell of `group` labelled by its choices. A random seed
/// (`-1`) is replaced by one concrete seed shared by all, so the prompt is the only difference.
/// `base` empty gives no jobs.
pub fn specs(template: &str, base: &[JobSpec], group: u64) -> Result<Vec<JobSpec>, VariationError> {
    let variations = expand_choices(template)?;
    let shared_seed = crate::api::params::random_seed();
    let mut out = Vec::with_capacity(variations.len() * base.len());
    for (col, v) in variations.iter().enumerate() {
        for (row, b) in base.iter().enumerate() {
            let mut spec = b.clone();
            spec.params.prompt.clone_from(&v.prompt);
            // Kept with each result beside the prompt sent.
            spec.prompt_template = Some(template.to_owned());
            if spec.params.seed == params::RANDOM_SEED {
                spec.params.seed = shared_seed;
            }
            spec.group = Some(GroupTag {
                group,
                row,
                col,
                label: v.label(),
            });
            out.push(spec);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
