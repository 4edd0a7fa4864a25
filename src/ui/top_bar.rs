//! The top bar: the title, the demo banner, the credit balance, today's spend and the settings
//! button.

use super::TITLE;
use super::app::{CreditsView, FluxApp};
use super::widgets;

impl FluxApp {
    /// The top bar: title, credits, demo banner, settings.
    pub(crate) fn top_bar(&mut self, ui: &mut egui::Ui) {
        egui::Panel::top("top_bar").show(ui, |ui| {
            ui.add_space(4.0);
            ui.horizontal(|ui| {
                ui.label(egui::RichText::new(TITLE).strong().size(17.0));
                if self.launch.demo {
                    ui.separator();
                    ui.label(
                        egui::RichText::new("Demo mode — stand-in server, no key, no network")
                            .color(egui::Color32::BLACK)
                            .background_color(widgets::WARN),
                    );
                }
                ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                    if ui
                        .button("Settings")
                        .on_hover_text("API key, service, pacing")
                        .clicked()
                    {
                        self.settings_ui.show_settings = !self.settings_ui.show_settings;
                    }
                    ui.separator();
                    self.spend_label(ui);
                    ui.separator();
                    match &self.account.credits {
                        Some(CreditsView::Known { credits, free }) => {
                            let text = match free {
                                Some(f) => format!("Credits: {credits:.2} · free {f:.2}"),
                                None => format!("Credits: {credits:.2}"),
                            };
                            ui.label(text).on_hover_text(
                                "The balance the service last reported: your credits, and the \
                                 free credits beside them, as Segmind reports them",
                            );
                        }
                        Some(CreditsView::Unavailable(why)) => {
                            ui.label(egui::RichText::new("Credits: unknown").color(widgets::WARN))
                                .on_hover_text(why.as_str());
                        }
                        None => {
                            ui.label(egui::RichText::new("Credits: —").weak());
                        }
                    }
                    if ui
                        .small_button("Refresh")
                        .on_hover_text("Ask the service for the balance (free)")
                        .clicked()
                    {
                        self.refresh_credits();
                    }
                });
            });
            ui.add_space(4.0);
        });
    }
}
