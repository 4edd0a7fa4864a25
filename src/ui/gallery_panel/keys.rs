//! The gallery's keys, unless a text field has the keyboard: 1 to 5 rate the image selected alone
//! (0 clears), the arrow keys step through the listing (the large view follows), Enter opens the
//! selected image large and Esc returns to the grid.

use egui::Key;

use super::GalleryPanel;
use crate::jobs::Services;

impl GalleryPanel {
    pub(super) fn keys(&mut self, ui: &mut egui::Ui, services: &Services) {
        if ui.ctx().egui_wants_keyboard_input() {
            return;
        }
        if self.viewer.is_some()
            && ui.input_mut(|i| i.consume_key(egui::Modifiers::NONE, Key::Escape))
        {
            // Back to the grid; the image stays selected.
            self.viewer = None;
        }
        let Some(id) = self.selected.clone() else {
            return;
        };
        let digits = [
            Key::Num0,
            Key::Num1,
            Key::Num2,
            Key::Num3,
            Key::Num4,
            Key::Num5,
        ];
        let pressed = ui.input(|i| digits.iter().position(|k| i.key_pressed(*k)));
        // With several selected, the details show no rating: the keys rate nothing.
        if let Some(n) = pressed.filter(|_| self.picked.len() < 2) {
            self.set_rating(&id, n as u8, services);
        }
        if self.viewer.is_none()
            && ui.input_mut(|i| i.consume_key(egui::Modifiers::NONE, Key::Enter))
        {
            self.select(Some(id.clone()));
            self.open_viewer(services);
            return;
        }
        let step = ui.input(|i| {
            if i.key_pressed(Key::ArrowRight) {
                1
            } else if i.key_pressed(Key::ArrowLeft) {
                -1
            } else {
                0
            }
        });
        if step != 0 {
            self.step(&id, step);
        }
    }

    /// The ids of the listing's rows still shown (not deleted), in its order.
    pub(super) fn visible_ids(&self) -> Vec<&str> {
        self.found
            .rows
            .iter()
            .filter(|r| !self.hidden.contains(&r.id))
            .map(|r| r.id.as_str())
            .collect()
    }

    /// Selects the image `step` places from `id` in the listing (stopping at either end); a
    /// selection of several ends.
    pub(super) fn step(&mut self, id: &str, step: isize) {
        let visible = self.visible_ids();
        if let Some(at) = visible.iter().position(|v| *v == id) {
            let next = at
                .saturating_add_signed(step)
                .min(visible.len().saturating_sub(1));
            let next = visible.get(next).map(|s| (*s).to_owned());
            self.select(next);
        }
    }
}
