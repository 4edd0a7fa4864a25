//! The tweak loop's memory in the window: the prompts sent (remembered across restarts, newest
//! first, deduplicated, capped, searchable, pinnable; browsed with Up/Down in the prompt box), and
//! undo/redo of parameter edits, one step per edit (a slider drag, a typing session), not per
//! frame.

use serde::{Deserialize, Serialize};

use crate::api::GenParams;

/// How many unpinned prompts are remembered (pinned ones are always kept).
pub const PROMPT_HISTORY_CAP: usize = 200;
/// How many undo steps are kept.
pub const UNDO_DEPTH: usize = 100;

/// One remembered prompt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PromptEntry {
    pub text: String,
    #[serde(default)]
    pub pinned: bool,
}

/// Every prompt sent, newest first.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct PromptHistory {
    pub entries: Vec<PromptEntry>,
}

impl PromptHistory {
    /// Remembers a sent prompt: moved to the front if it was there (keeping its pin), the
    /// oldest unpinned ones dropped past the cap.
    pub fn remember(&mut self, text: &str) {
        let text = text.trim();
        if text.is_empty() {
            return;
        }
        let pinned = self
            .entries
            .iter()
            .find(|e| e.text == text)
            .is_some_and(|e| e.pinned);
        self.entries.retain(|e| e.text != text);
        self.entries.insert(
            0,
            PromptEntry {
                text: text.to_owned(),
                pinned,
            },
        );
        let mut unpinned = 0;
        self.entries.retain(|e| {
            unpinned += usize::from(!e.pinned);
            e.pinned || unpinned <= PROMPT_HISTORY_CAP
        });
    }

    /// Pins or unpins a prompt.
    pub fn toggle_pin(&mut self, text: &str) {
        if let Some(e) = self.entries.iter_mut().find(|e| e.text == text) {
            e.pinned = !e.pinned;
        }
    }

    /// The prompts containing `query` (case-insensitive), pinned first, then newest first.
    pub fn search(&self, query: &str) -> Vec<&PromptEntry> {
        let q = query.trim().to_lowercase();
        let mut hits: Vec<&PromptEntry> = self
            .entries
            .iter()
            .filter(|e| q.is_empty() || e.text.to_lowercase().contains(&q))
            .collect();
        // A stable sort keeps newest first within pinned and unpinned.
        hits.sort_by_key(|e| !e.pinned);
        hits
    }

    /// A copy with the cap applied and blank entries dropped (a hand-edited storage file).
    pub fn sanitized(&self) -> PromptHistory {
        let mut h = PromptHistory::default();
        for e in self.entries.iter().rev() {
            h.remember(&e.text);
            if e.pinned {
                h.toggle_pin(e.text.trim());
            }
        }
        h
    }
}

/// Where Up/Down browsing of the prompt history stands (runtime only).
#[derive(Debug, Clone, Default)]
pub struct Browse {
    /// The index shown, into the history (newest first); `None`: the artist's own text.
    at: Option<usize>,
    /// The artist's own text, kept while browsing.
    draft: String,
}

impl Browse {
    /// Up (`older`) or Down: replaces `prompt` with the next older or newer remembered prompt,
    /// and Down past the newest brings the artist's own text back. Returns whether it changed.
    pub fn step(&mut self, history: &PromptHistory, prompt: &mut String, older: bool) -> bool {
        let n = history.entries.len();
        let next = match (self.at, older) {
            (None, true) if n > 0 => Some(0),
            (None, _) => return false,
            (Some(i), true) => Some((i + 1).min(n.saturating_sub(1))),
            (Some(0), false) => None,
            (Some(i), false) => Some(i - 1),
        };
        if self.at.is_none() {
            self.draft = prompt.clone();
        }
        self.at = next;
        *prompt = match next.and_then(|i| history.entries.get(i)) {
            Some(e) => e.text.clone(),
            None => std::mem::take(&mut self.draft),
        };
        true
    }

    /// Leaves browsing (the artist typed, or the prompt was sent).
    pub fn reset(&mut self) {
        self.at = None;
        self.draft.clear();
    }
}

/// Undo and redo of parameter edits.
#[derive(Debug, Clone, Default)]
pub struct Undo {
    past: Vec<GenParams>,
    future: Vec<GenParams>,
    /// The parameters as of the last step.
    committed: Option<GenParams>,
}

impl Undo {
    /// Takes in the parameters after a frame: a change becomes one step once the edit has
    /// `settled` (no drag in progress, no text being typed).
    pub fn observe(&mut self, current: &GenParams, settled: bool) {
        let Some(committed) = &self.committed else {
            self.committed = Some(current.clone());
            return;
        };
        if committed != current && settled {
            self.past.push(committed.clone());
            if self.past.len() > UNDO_DEPTH {
                self.past.remove(0);
            }
            self.future.clear();
            self.committed = Some(current.clone());
        }
    }

    /// Goes one step back; `false` when there is nothing to undo.
    pub fn undo(&mut self, current: &mut GenParams) -> bool {
        self.observe(current, true);
        let Some(prev) = self.past.pop() else {
            return false;
        };
        self.future.push(std::mem::replace(current, prev.clone()));
        self.committed = Some(prev);
        true
    }

    /// Goes one step forward again; `false` when there is nothing to redo.
    pub fn redo(&mut self, current: &mut GenParams) -> bool {
        let Some(next) = self.future.pop() else {
            return false;
        };
        self.past.push(std::mem::replace(current, next.clone()));
        self.committed = Some(next);
        true
    }

    pub fn can_undo(&self) -> bool {
        !self.past.is_empty()
    }

    pub fn can_redo(&self) -> bool {
        !self.future.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_dedups_keeps_pins_past_the_cap_and_searches() {
        let mut h = PromptHistory::default();
        h.remember("a fox");
        h.remember("  ");
        h.remember("a hare");
        h.remember("a fox ");
        assert_eq!(
            h.entries
                .iter()
                .map(|e| e.text.as_str())
                .collect::<Vec<_>>(),
            ["a fox", "a hare"]
        );
        h.toggle_pin("a hare");
        for i in 0..PROMPT_HISTORY_CAP + 10 {
            h.remember(&format!("prompt {i}"));
        }
        assert_eq!(
            h.entries.len(),
            PROMPT_HISTORY_CAP + 1,
            "the cap, plus the pinned one"
        );
        assert!(h.entries.iter().any(|e| e.text == "a hare" && e.pinned));
        assert!(
            !h.entries.iter().any(|e| e.text == "a fox"),
            "the oldest unpinned went"
        );
        let found = h.search("PROMPT 20");
        assert_eq!(found[0].text, "prompt 209");
        assert_eq!(h.search("")[0].text, "a hare", "pinned first");
        assert_eq!(h.sanitized(), h);
    }

    #[test]
    fn up_and_down_browse_and_bring_the_draft_back() {
        let mut h = PromptHistory::default();
        for p in ["one", "two", "three"] {
            h.remember(p);
        }
        let mut b = Browse::default();
        let mut prompt = "my draft".to_owned();
        assert!(b.step(&h, &mut prompt, true));
        assert_eq!(prompt, "three");
        b.step(&h, &mut prompt, true);
        b.step(&h, &mut prompt, true);
        b.step(&h, &mut prompt, true);
        assert_eq!(prompt, "one", "stops at the oldest");
        b.step(&h, &mut prompt, false);
        b.step(&h, &mut prompt, false);
        b.step(&h, &mut prompt, false);
        assert_eq!(prompt, "my draft");
        assert!(!b.step(&h, &mut prompt, false));
    }

    #[test]
    fn undo_steps_per_settled_edit_not_per_frame() {
        let mut u = Undo::default();
        let mut p = GenParams::default();
        u.observe(&p, true);
        // A drag over many frames: one step.
        for s in [5, 10, 15, 25] {
            p.steps = s;
            u.observe(&p, false);
        }
        u.observe(&p, true);
        p.guidance = 7.0;
        u.observe(&p, true);
        assert!(u.undo(&mut p));
        assert_eq!((p.steps, p.guidance), (25, GenParams::default().guidance));
        assert!(u.undo(&mut p));
        assert_eq!(p, GenParams::default());
        assert!(!u.undo(&mut p));
        assert!(u.redo(&mut p) && u.redo(&mut p));
        assert_eq!((p.steps, p.guidance), (25, 7.0));
        assert!(!u.redo(&mut p));
        // A new edit after an undo drops the redo branch.
        u.undo(&mut p);
        p.cn_strength = 0.9;
        u.observe(&p, true);
        assert!(!u.can_redo() && u.can_undo());
    }
}
