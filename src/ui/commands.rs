//! The window's commands, each described once (as rerun's `UICommand`): its name, what it does, its
//! shortcuts (Cmd on macOS, Ctrl elsewhere, through egui's `Modifiers::COMMAND`) and where the
//! shortcut works. Shortcuts are read in one place ([`take_shortcuts`]); the buttons, the command
//! palette (Ctrl+K) and the shortcuts sheet (F1 or `?`) all name a command the same way. The app runs
//! the commands of a frame after its panels have drawn, so a job is built from the text as it stands
//! after this frame's typing (a Ctrl+Enter typed right after the last letter sends that letter).
//!
//! A new command: a variant, its row in the matches below (the compiler asks for each), and its arm
//! in `FluxApp::run_command`.

use egui::{Key, KeyboardShortcut, Modifiers};

/// Something the user can ask the window to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum UiCommand {
    Generate,
    GenerateNext,
    Undo,
    Redo,
    OpenImage,
    CycleCompareMode,
    ShowResult,
    ShowCompare,
    ShowGallery,
    ShowBatch,
    ToggleSettings,
    ShowSpend,
    ClearFinished,
    PauseQueue,
    CancelWaiting,
    CommandPalette,
    ShortcutsSheet,
}

/// Where a command's shortcut works.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// Anywhere, even while typing.
    Anywhere,
    /// When no text field has the keyboard (a text field keeps its own keys: its undo, its letters).
    NotTyping,
    /// On the Result tab, when no text field has the keyboard.
    ResultTab,
}

const fn cmd(key: Key) -> KeyboardShortcut {
    KeyboardShortcut::new(Modifiers::COMMAND, key)
}

const fn cmd_shift(key: Key) -> KeyboardShortcut {
    KeyboardShortcut::new(
        Modifiers {
            alt: false,
            ctrl: false,
            shift: true,
            mac_cmd: false,
            command: true,
        },
        key,
    )
}

const fn plain(key: Key) -> KeyboardShortcut {
    KeyboardShortcut::new(Modifiers::NONE, key)
}

impl UiCommand {
    /// Every command, in the order the palette and the sheet list them.
    pub const ALL: [UiCommand; 17] = [
        UiCommand::Generate,
        UiCommand::GenerateNext,
        UiCommand::PauseQueue,
        UiCommand::CancelWaiting,
        UiCommand::Undo,
        UiCommand::Redo,
        UiCommand::OpenImage,
        UiCommand::CycleCompareMode,
        UiCommand::ShowResult,
        UiCommand::ShowCompare,
        UiCommand::ShowGallery,
        UiCommand::ShowBatch,
        UiCommand::ToggleSettings,
        UiCommand::ShowSpend,
        UiCommand::ClearFinished,
        UiCommand::CommandPalette,
        UiCommand::ShortcutsSheet,
    ];

    /// The command's name (a palette row, a button's words).
    pub fn label(self) -> &'static str {
        match self {
            UiCommand::Generate => "Generate",
            UiCommand::GenerateNext => "Generate next",
            UiCommand::PauseQueue => "Pause or resume the queue",
            UiCommand::CancelWaiting => "Cancel every waiting job",
            UiCommand::Undo => "Undo",
            UiCommand::Redo => "Redo",
            UiCommand::OpenImage => "Open an input image…",
            UiCommand::CycleCompareMode => "Next comparison mode",
            UiCommand::ShowResult => "Show the Result tab",
            UiCommand::ShowCompare => "Show the Compare tab",
            UiCommand::ShowGallery => "Show the Gallery",
            UiCommand::ShowBatch => "Show the Batch tab",
            UiCommand::ToggleSettings => "Settings",
            UiCommand::ShowSpend => "Spend",
            UiCommand::ClearFinished => "Clear finished jobs",
            UiCommand::CommandPalette => "Command palette",
            UiCommand::ShortcutsSheet => "Keyboard shortcuts",
        }
    }

    /// What it does, in a sentence (a tooltip, the palette's second line).
    pub fn tooltip(self) -> &'static str {
        match self {
            UiCommand::Generate => {
                "Send this job (billed); on the Compare tab, send the comparison"
            }
            UiCommand::GenerateNext => {
                "Send this job before every job waiting in the queue (billed)"
            }
            UiCommand::PauseQueue => {
                "Paused, nothing new is sent and jobs in flight finish; resumed, the queue goes on in its order"
            }
            UiCommand::CancelWaiting => "Cancel the jobs not sent yet (those in flight go on)",
            UiCommand::Undo => {
                "Undo the last change to the settings (in the Gallery: the last delete)"
            }
            UiCommand::Redo => "Redo the change undone last",
            UiCommand::OpenImage => "Choose an image file as the control image",
            UiCommand::CycleCompareMode => {
                "Compare the result with the one before it: side by side, swipe, blink, difference"
            }
            UiCommand::ShowResult => "The result large, with its settings",
            UiCommand::ShowCompare => "Control types side by side, or an X/Y grid",
            UiCommand::ShowGallery => "Every saved picture: search, rate, compare",
            UiCommand::ShowBatch => "Run a batch file of jobs",
            UiCommand::ToggleSettings => "API key, service, pacing, budget",
            UiCommand::ShowSpend => "What was spent today, this month and by control type",
            UiCommand::ClearFinished => "Remove finished, failed and cancelled jobs from the queue",
            UiCommand::CommandPalette => "Find any command by name",
            UiCommand::ShortcutsSheet => "Every keyboard shortcut of the window",
        }
    }

    /// Its shortcuts, the first the one shown.
    pub fn shortcuts(self) -> &'static [KeyboardShortcut] {
        match self {
            UiCommand::Generate => {
                const S: &[KeyboardShortcut] = &[cmd(Key::Enter)];
                S
            }
            UiCommand::Undo => {
                const S: &[KeyboardShortcut] = &[cmd(Key::Z)];
                S
            }
            UiCommand::Redo => {
                const S: &[KeyboardShortcut] = &[cmd_shift(Key::Z), cmd(Key::Y)];
                S
            }
            UiCommand::OpenImage => {
                const S: &[KeyboardShortcut] = &[cmd(Key::O)];
                S
            }
            UiCommand::CycleCompareMode => {
                const S: &[KeyboardShortcut] = &[plain(Key::C)];
                S
            }
            UiCommand::ShowResult => {
                const S: &[KeyboardShortcut] = &[cmd(Key::Num1)];
                S
            }
            UiCommand::ShowCompare => {
                const S: &[KeyboardShortcut] = &[cmd(Key::Num2)];
                S
            }
            UiCommand::ShowGallery => {
                const S: &[KeyboardShortcut] = &[cmd(Key::Num3)];
                S
            }
            UiCommand::ShowBatch => {
                const S: &[KeyboardShortcut] = &[cmd(Key::Num4)];
                S
            }
            UiCommand::ToggleSettings => {
                const S: &[KeyboardShortcut] = &[cmd(Key::Comma)];
                S
            }
            UiCommand::GenerateNext => {
                const S: &[KeyboardShortcut] = &[cmd_shift(Key::Enter)];
                S
            }
            UiCommand::ShowSpend
            | UiCommand::ClearFinished
            | UiCommand::PauseQueue
            | UiCommand::CancelWaiting => &[],
            UiCommand::CommandPalette => {
                const S: &[KeyboardShortcut] = &[cmd(Key::K)];
                S
            }
            UiCommand::ShortcutsSheet => {
                const S: &[KeyboardShortcut] = &[plain(Key::F1), plain(Key::Questionmark)];
                S
            }
        }
    }

    /// Where its shortcut works.
    pub fn scope(self) -> Scope {
        match self {
            UiCommand::Generate
            | UiCommand::GenerateNext
            | UiCommand::PauseQueue
            | UiCommand::CancelWaiting
            | UiCommand::OpenImage
            | UiCommand::ShowResult
            | UiCommand::ShowCompare
            | UiCommand::ShowGallery
            | UiCommand::ShowBatch
            | UiCommand::ToggleSettings
            | UiCommand::ShowSpend
            | UiCommand::ClearFinished
            | UiCommand::CommandPalette => Scope::Anywhere,
            // A text field has its own undo; `?` is a letter there.
            UiCommand::Undo | UiCommand::Redo | UiCommand::ShortcutsSheet => Scope::NotTyping,
            UiCommand::CycleCompareMode => Scope::ResultTab,
        }
    }

    /// The shortcut as this platform writes it (`Ctrl+Enter`, `⌘Return`), if it has one.
    pub fn shortcut_text(self, ctx: &egui::Context) -> Option<String> {
        self.shortcuts().first().map(|s| keys_text(ctx, s))
    }

    /// The tooltip with the shortcut: `Undo the last change to the settings (Ctrl+Z)`.
    pub fn hover(self, ctx: &egui::Context) -> String {
        match self.shortcut_text(ctx) {
            Some(keys) => format!("{} ({keys})", self.tooltip()),
            None => self.tooltip().to_owned(),
        }
    }
}

/// A shortcut as this platform writes it, with the keys people name by their sign (`?`, `,`)
/// written so (egui spells them out).
pub fn keys_text(ctx: &egui::Context, s: &KeyboardShortcut) -> String {
    ctx.format_shortcut(s)
        .replace("Questionmark", "?")
        .replace("Comma", ",")
}

/// Keys that work inside one part of the window (a widget's own): listed on the shortcuts sheet,
/// handled where they apply.
pub const IN_CONTEXT: [(&str, &str); 8] = [
    (
        "Ctrl+V",
        "Paste an image, or an image's path or URL, as the input",
    ),
    ("Up / Down", "In a one-line prompt: the prompts sent before"),
    ("Esc", "Close a dialog, the palette or the picture viewer"),
    ("0–5", "Gallery: rate the selected pictures"),
    ("Enter", "Gallery: open the selected picture"),
    (
        "Left / Right",
        "Picture viewer: the picture before or after",
    ),
    (
        "Ctrl+click / Shift+click",
        "Gallery: select several pictures",
    ),
    ("Tab", "The next control (it scrolls into view)"),
];

/// The commands whose shortcut was pressed this frame, each key taken from egui so no widget sees
/// it too. `typing` is whether a text field has the keyboard; `on_result` whether the Result tab is
/// shown. Shortcuts with more modifiers are tried first (Ctrl+Shift+Z is Redo, not Undo).
pub fn take_shortcuts(ctx: &egui::Context, typing: bool, on_result: bool) -> Vec<UiCommand> {
    let mut all: Vec<(UiCommand, KeyboardShortcut)> = UiCommand::ALL
        .iter()
        .flat_map(|c| c.shortcuts().iter().map(move |s| (*c, *s)))
        .filter(|(c, _)| match c.scope() {
            Scope::Anywhere => true,
            Scope::NotTyping => !typing,
            Scope::ResultTab => !typing && on_result,
        })
        .collect();
    all.sort_by_key(|(_, s)| std::cmp::Reverse(modifier_count(s.modifiers)));
    let mut out = Vec::new();
    ctx.input_mut(|i| {
        for (c, s) in all {
            if i.consume_shortcut(&s) && !out.contains(&c) {
                out.push(c);
            }
        }
    });
    out
}

fn modifier_count(m: Modifiers) -> u8 {
    u8::from(m.alt) + u8::from(m.shift) + u8::from(m.command || m.ctrl || m.mac_cmd)
}

/// The commands whose label holds every word of `query` (any case), in [`UiCommand::ALL`]'s order.
pub fn matching(query: &str) -> Vec<UiCommand> {
    let words: Vec<String> = query.split_whitespace().map(str::to_lowercase).collect();
    let has = |text: &str| {
        let text = text.to_lowercase();
        words.iter().all(|w| text.contains(w.as_str()))
    };
    // Commands named by the words first, then those whose description has them.
    let (named, described): (Vec<UiCommand>, Vec<UiCommand>) = UiCommand::ALL
        .into_iter()
        .filter(|c| has(&format!("{} {}", c.label(), c.tooltip())))
        .partition(|c| has(c.label()));
    named.into_iter().chain(described).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_command_is_listed_once_with_words_and_no_shortcut_is_shared() {
        let mut seen = std::collections::HashSet::new();
        for c in UiCommand::ALL {
            assert!(seen.insert(c), "{c:?} twice");
            assert!(!c.label().is_empty() && !c.tooltip().is_empty());
        }
        let keys: Vec<KeyboardShortcut> = UiCommand::ALL
            .iter()
            .flat_map(|c| c.shortcuts().iter().copied())
            .collect();
        for (i, a) in keys.iter().enumerate() {
            assert!(!keys[i + 1..].contains(a), "{a:?} is two commands'");
        }
    }

    #[test]
    fn the_palette_finds_by_words_in_any_case() {
        assert_eq!(matching("undo"), [UiCommand::Undo, UiCommand::Redo]);
        // A command named by the words comes before one that only mentions them.
        assert_eq!(matching("gallery")[0], UiCommand::ShowGallery);
        assert_eq!(matching("GALLERY show"), [UiCommand::ShowGallery]);
        assert_eq!(matching(""), UiCommand::ALL.to_vec());
        assert!(matching("no such thing").is_empty());
    }
}
