//! The command palette (Ctrl+K: type a few letters of any command, Enter runs it) and the shortcuts
//! sheet (F1 or `?`: every shortcut of the window), both drawn from [`UiCommand`]'s one
//! description. Each returns the command chosen; the app runs it with the others of the frame.

use egui::{Key, RichText};

use super::commands::{IN_CONTEXT, UiCommand, matching};
use super::widgets;

/// The palette's state (runtime only).
#[derive(Default)]
pub struct Palette {
    pub open: bool,
    query: String,
    /// The highlighted row of the matches.
    selected: usize,
    /// The shortcuts sheet is shown.
    pub sheet: bool,
}

impl Palette {
    /// Opens the palette empty, its search box focused.
    pub fn show(&mut self) {
        self.open = true;
        self.query.clear();
        self.selected = 0;
    }

    /// The palette, when open: a search box and the commands it matches. Up/Down move the
    /// highlight, Enter or a click runs one, Esc closes.
    pub fn ui(&mut self, ctx: &egui::Context) -> Option<UiCommand> {
        if !self.open {
            return None;
        }
        let found = matching(&self.query);
        let (up, down, enter, esc) = ctx.input_mut(|i| {
            (
                i.consume_key(egui::Modifiers::NONE, Key::ArrowUp),
                i.consume_key(egui::Modifiers::NONE, Key::ArrowDown),
                i.consume_key(egui::Modifiers::NONE, Key::Enter),
                i.consume_key(egui::Modifiers::NONE, Key::Escape),
            )
        });
        if down {
            self.selected = (self.selected + 1).min(found.len().saturating_sub(1));
        }
        if up {
            self.selected = self.selected.saturating_sub(1);
        }
        let mut chosen = enter.then(|| found.get(self.selected).copied()).flatten();
        let modal = egui::Modal::new(egui::Id::unique("command-palette")).show(ctx, |ui| {
            ui.set_width(420.0);
            ui.label(RichText::new("Command palette").strong());
            let search = ui
                .add(
                    egui::TextEdit::singleline(&mut self.query)
                        .hint_text("Type a command…")
                        .desired_width(f32::INFINITY),
                )
                .accessible_name("Search commands");
            search.request_focus();
            if search.changed() {
                self.selected = 0;
            }
            ui.add_space(4.0);
            if found.is_empty() {
                widgets::hint_line(ui, "No command has these words.");
            }
            egui::ScrollArea::vertical()
                .max_height(320.0)
                .show(ui, |ui| {
                    for (i, c) in found.iter().enumerate() {
                        let keys = c.shortcut_text(ui.ctx()).unwrap_or_default();
                        let row = ui
                            .selectable_label(
                                i == self.selected,
                                format!("{}    {keys}", c.label()),
                            )
                            .on_hover_text(c.tooltip());
                        if i == self.selected {
                            row.scroll_to_me(None);
                        }
                        if row.clicked() {
                            chosen = Some(*c);
                        }
                    }
                });
        });
        if esc || chosen.is_some() || modal.should_close() {
            self.open = false;
        }
        chosen
    }

    /// The shortcuts sheet, when shown: every command's shortcut, then the keys of parts of the
    /// window. Esc or the close button closes it.
    pub fn sheet_ui(&mut self, ctx: &egui::Context) {
        if !self.sheet {
            return;
        }
        if ctx.input_mut(|i| i.consume_key(egui::Modifiers::NONE, Key::Escape)) {
            self.sheet = false;
            return;
        }
        let mut open = self.sheet;
        egui::Window::new("Keyboard shortcuts")
            .open(&mut open)
            .collapsible(false)
            .resizable(false)
            .show(ctx, |ui| {
                egui::Grid::new("shortcuts-sheet")
                    .num_columns(2)
                    .striped(true)
                    .show(ui, |ui| {
                        for c in UiCommand::ALL {
                            let keys: Vec<String> = c
                                .shortcuts()
                                .iter()
                                .map(|s| super::commands::keys_text(ui.ctx(), s))
                                .collect();
                            if keys.is_empty() {
                                continue;
                            }
                            ui.label(RichText::new(keys.join(" or ")).monospace());
                            ui.label(c.label()).on_hover_text(c.tooltip());
                            ui.end_row();
                        }
                        for (keys, what) in IN_CONTEXT {
                            ui.label(RichText::new(widgets::keys(keys)).monospace());
                            ui.label(what);
                            ui.end_row();
                        }
                    });
            });
        self.sheet = open;
    }
}
