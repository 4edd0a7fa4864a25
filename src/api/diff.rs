//! What changed between two sets of settings: the parameter diff of the Result tab, the gallery's
//! two-selection view, the history strip's tooltips and `fluxcn diff`.
//!
//! - [`diff`] (and [`diff_seeds`], which compares the seeds the service used): the changed fields
//!   only, each with its old and new value as the rest of the app shows it
//!   ([`fields::display`], [`Field::show`]), in the details panes' order; the prompt apart, word by
//!   word.
//! - [`ParamDiff::with_input`]: the control image, which the settings do not hold (a sidecar does).
//! - [`prompt_words`]: a word-level diff (longest common subsequence). Words are what
//!   `split_whitespace` gives, punctuation attached: `car,` and `car` are different words, and an
//!   A1111 weight `(red:1.2)` → `(red:1.4)` is one word replaced, which is what the artist edited.
//!   Only spacing is lost (a prompt that differs in spacing alone has no added or removed word;
//!   [`PromptDiff::spacing_only`] says so).
//!
//! The work is bounded: the common first and last words are matched in linear time, and the LCS
//! table is built over what is left only when each side has at most [`MAX_WORDS`] words (a table of
//! at most 2001 × 2001 `u16`, 8 MB); beyond that the middle is reported as removed then added
//! ([`PromptDiff::exact`] is false: "the prompt changed").

use super::fields::{self, Field, Value};
use super::params::GenParams;

/// The most words in the changed middle of either prompt that are compared word by word.
pub const MAX_WORDS: usize = 2000;

/// One word of a prompt diff.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WordChange {
    /// In both prompts.
    Same(String),
    /// Only in the new prompt.
    Added(String),
    /// Only in the old prompt.
    Removed(String),
}

impl WordChange {
    /// The word itself.
    pub fn word(&self) -> &str {
        match self {
            WordChange::Same(w) | WordChange::Added(w) | WordChange::Removed(w) => w,
        }
    }
}

/// The prompt, word by word.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PromptDiff {
    /// Every word of both prompts in order: the old prompt is the `Same` and `Removed` words, the
    /// new one the `Same` and `Added` words. A replaced run is its removed words, then its added.
    pub words: Vec<WordChange>,
    /// Whether the words are a minimal diff; false when the changed part was longer than
    /// [`MAX_WORDS`] and is given as all removed, then all added.
    pub exact: bool,
}

impl PromptDiff {
    /// The runs of consecutive removed words, each joined by single spaces.
    pub fn removed(&self) -> Vec<String> {
        runs(&self.words, |w| matches!(w, WordChange::Removed(_)))
    }

    /// The runs of consecutive added words, each joined by single spaces.
    pub fn added(&self) -> Vec<String> {
        runs(&self.words, |w| matches!(w, WordChange::Added(_)))
    }

    /// Whether the prompts have the same words and differ in spacing only.
    pub fn spacing_only(&self) -> bool {
        self.words.iter().all(|w| matches!(w, WordChange::Same(_)))
    }

    /// How many words the old and the new prompt have.
    pub fn word_counts(&self) -> (usize, usize) {
        let old = self
            .words
            .iter()
            .filter(|w| !matches!(w, WordChange::Added(_)))
            .count();
        let new = self
            .words
            .iter()
            .filter(|w| !matches!(w, WordChange::Removed(_)))
            .count();
        (old, new)
    }

    /// The prompt's lines of a text diff: `prompt removed: red … at night`, `prompt added: blue`
    /// (runs apart joined by ` … `), or one `prompt: …` line when spacing alone changed or the
    /// prompts were too long to compare word by word.
    pub fn lines(&self) -> Vec<String> {
        if !self.exact {
            let (old, new) = self.word_counts();
            return vec![format!(
                "prompt: changed ({old} → {new} words, too long to compare word by word)"
            )];
        }
        if self.spacing_only() {
            return vec!["prompt: only the spacing changed".to_owned()];
        }
        let mut out = Vec::new();
        for (what, runs) in [("removed", self.removed()), ("added", self.added())] {
            if !runs.is_empty() {
                out.push(format!("prompt {what}: {}", runs.join(" … ")));
            }
        }
        out
    }
}

/// The runs of consecutive words that `pick` takes.
fn runs(words: &[WordChange], pick: impl Fn(&WordChange) -> bool) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut open = false;
    for w in words {
        if pick(w) {
            match (open, out.last_mut()) {
                (true, Some(run)) => {
                    run.push(' ');
                    run.push_str(w.word());
                }
                _ => out.push(w.word().to_owned()),
            }
            open = true;
        } else if matches!(w, WordChange::Same(_)) {
            // A run ends at a word both have; an added word between removed ones does not end it.
            open = false;
        }
    }
    out
}

/// One changed field, its values as the app shows them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldChange {
    pub field: Field,
    pub old: String,
    pub new: String,
}

impl FieldChange {
    /// `steps: 20 → 30`.
    pub fn line(&self) -> String {
        format!("{}: {} → {}", self.field.label(), self.old, self.new)
    }
}

/// The control image of one side: how it is described (a path or URL) and, when known, the
/// SHA-256 of its bytes as sent (a sidecar's `input_hash`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InputRef<'a> {
    pub describe: &'a str,
    pub hash: Option<&'a str>,
}

/// A changed control image, each side as its description (with the start of its hash when the
/// description alone does not tell them apart).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputChange {
    pub old: String,
    pub new: String,
}

impl InputChange {
    /// `image: photo.png → other.png` (the request field's name, as the other lines use).
    pub fn line(&self) -> String {
        format!("{}: {} → {}", fields::IMAGE, self.old, self.new)
    }
}

/// What changed between two sets of settings.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ParamDiff {
    /// The changed fields other than the prompt, in the details panes' order
    /// ([`fields::display`]).
    pub fields: Vec<FieldChange>,
    /// The prompt word by word, when it changed at all.
    pub prompt: Option<PromptDiff>,
    /// The control image, when both sides name theirs ([`ParamDiff::with_input`]) and it changed.
    pub input: Option<InputChange>,
}

impl ParamDiff {
    /// Whether nothing changed.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty() && self.prompt.is_none() && self.input.is_none()
    }

    /// Adds the control image's change, if any (the settings alone do not hold it): by content when
    /// both hashes are known (the same picture under another name is no change, a file edited in
    /// place is one), else by description.
    pub fn with_input(mut self, a: InputRef<'_>, b: InputRef<'_>) -> ParamDiff {
        let changed = match (a.hash, b.hash) {
            (Some(x), Some(y)) => !x.eq_ignore_ascii_case(y),
            _ => a.describe != b.describe,
        };
        self.input = changed.then(|| {
            let shown = |i: InputRef<'_>| match i.hash {
                Some(h) if a.describe == b.describe => {
                    format!("{} ({})", i.describe, h.get(..8).unwrap_or(h))
                }
                _ => i.describe.to_owned(),
            };
            InputChange {
                old: shown(a),
                new: shown(b),
            }
        });
        self
    }

    /// The change of `field`, if it changed.
    pub fn field(&self, field: Field) -> Option<&FieldChange> {
        self.fields.iter().find(|c| c.field == field)
    }

    /// As text, one change a line: the control image, the fields (`field: old → new`), then the
    /// prompt ([`PromptDiff::lines`]); no line when nothing changed.
    pub fn lines(&self) -> Vec<String> {
        let mut out: Vec<String> = self.input.iter().map(InputChange::line).collect();
        out.extend(self.fields.iter().map(FieldChange::line));
        if let Some(p) = &self.prompt {
            out.extend(p.lines());
        }
        out
    }
}

/// What changed from `a` to `b`, the seeds compared as sent.
pub fn diff(a: &GenParams, b: &GenParams) -> ParamDiff {
    diff_seeds(a, None, b, None)
}

/// What changed from `a` to `b`, each seed taken as the one the service used when it is given (a
/// sidecar's `seed_used`: two pictures sent with `-1` differ in the seed they were made with).
pub fn diff_seeds(
    a: &GenParams,
    a_seed_used: Option<i64>,
    b: &GenParams,
    b_seed_used: Option<i64>,
) -> ParamDiff {
    let shown = |p: &GenParams, used: Option<i64>| {
        let mut rows = fields::display(p);
        if let Some(seed) = used {
            for (f, v) in &mut rows {
                if *f == Field::Seed {
                    *v = f.show(&Value::Int(seed));
                }
            }
        }
        rows
    };
    let fields = shown(a, a_seed_used)
        .into_iter()
        .zip(shown(b, b_seed_used))
        .filter(|((fa, va), (fb, vb))| fa == fb && *fa != Field::Prompt && va != vb)
        .map(|((field, old), (_, new))| FieldChange { field, old, new })
        .collect();
    let prompt = (a.prompt != b.prompt).then(|| prompt_diff(&a.prompt, &b.prompt));
    ParamDiff {
        fields,
        prompt,
        input: None,
    }
}

/// The words of `a` and `b` marked same, added or removed (see [`prompt_diff`]).
pub fn prompt_words(a: &str, b: &str) -> Vec<WordChange> {
    prompt_diff(a, b).words
}

/// A prompt's words, with a word's trailing commas and full stops as tokens of their own:
/// `photo, blue` is `photo` `,` `blue`, so adding ", blue hour" after "photo" changes no word.
/// Brackets and colons stay with their word (`(red:1.2)` is one weighted word, as A1111 reads it).
fn tokens(s: &str) -> Vec<&str> {
    const TRAILING: &[char] = &[',', '.', ';', '!', '?'];
    let mut out = Vec::new();
    for word in s.split_whitespace() {
        let inner = word.trim_end_matches(TRAILING);
        if !inner.is_empty() {
            out.push(inner);
        }
        let trail = &word[inner.len()..];
        out.extend(
            trail
                .char_indices()
                .map(|(i, c)| &trail[i..i + c.len_utf8()]),
        );
    }
    out
}

/// The word-level diff from `a` to `b`: the common first and last words matched directly, the
/// middle by a longest common subsequence when neither side's middle has more than [`MAX_WORDS`]
/// words, else the middle given as removed then added (`exact: false`).
pub fn prompt_diff(a: &str, b: &str) -> PromptDiff {
    let old: Vec<&str> = tokens(a);
    let new: Vec<&str> = tokens(b);
    let head = old.iter().zip(&new).take_while(|(x, y)| x == y).count();
    let tail = old[head..]
        .iter()
        .rev()
        .zip(new[head..].iter().rev())
        .take_while(|(x, y)| x == y)
        .count();
    let (mid_old, mid_new) = (&old[head..old.len() - tail], &new[head..new.len() - tail]);
    let same = |w: &&str| WordChange::Same((*w).to_owned());
    let mut words: Vec<WordChange> = old[..head].iter().map(same).collect();
    let exact = mid_old.len() <= MAX_WORDS && mid_new.len() <= MAX_WORDS;
    if exact {
        words.extend(lcs_words(mid_old, mid_new));
    } else {
        words.extend(mid_old.iter().map(|w| WordChange::Removed((*w).to_owned())));
        words.extend(mid_new.iter().map(|w| WordChange::Added((*w).to_owned())));
    }
    words.extend(old[old.len() - tail..].iter().map(same));
    PromptDiff { words, exact }
}

/// A minimal word diff by the LCS table of the suffixes (`t[i][j]`: the LCS of `a[i..]` and
/// `b[j..]`), walked from the start so the words come out in order, removed before added.
/// The callers keep both sides at most [`MAX_WORDS`] long, so a `u16` holds every length.
fn lcs_words(a: &[&str], b: &[&str]) -> Vec<WordChange> {
    let (n, m) = (a.len(), b.len());
    let width = m + 1;
    let mut t = vec![0u16; (n + 1) * width];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            t[i * width + j] = if a[i] == b[j] {
                t[(i + 1) * width + j + 1].saturating_add(1)
            } else {
                t[(i + 1) * width + j].max(t[i * width + j + 1])
            };
        }
    }
    let mut out = Vec::with_capacity(n + m);
    let (mut i, mut j) = (0, 0);
    while i < n || j < m {
        if i < n && j < m && a[i] == b[j] {
            out.push(WordChange::Same(a[i].to_owned()));
            i += 1;
            j += 1;
        } else if i < n && (j == m || t[(i + 1) * width + j] >= t[i * width + j + 1]) {
            out.push(WordChange::Removed(a[i].to_owned()));
            i += 1;
        } else {
            out.push(WordChange::Added(b[j].to_owned()));
            j += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests;
