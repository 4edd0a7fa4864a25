//! The input image section: Open… (a dialog off the UI thread), drop, paste, or a URL; the preview
//! and its size, or why it cannot be used.

use egui::Ui;

use super::app::FluxApp;
use super::commands::UiCommand;
use super::widgets;

/// The height of the input preview's box (kept before the preview arrives).
const PREVIEW_BOX: f32 = 220.0;

impl FluxApp {
    /// Asks the file picker for an input image; its answer arrives with the frame's replies.
    pub(crate) fn open_image_picker(&mut self, ctx: &egui::Context) {
        let ctx = ctx.clone();
        let picking = self
            .inputs
            .picker
            .pick_image(Box::new(move || ctx.request_repaint()));
        self.inputs.picking.push((), picking);
    }

    /// The left panel's upper half.
    pub(crate) fn input_panel(&mut self, ui: &mut Ui) {
        widgets::heading(ui, "Input image");
        ui.horizontal(|ui| {
            let open = UiCommand::OpenImage;
            if ui
                .button("Open…")
                .on_hover_text(format!(
                    "{} (or drop one on the window, or {})",
                    open.hover(ui.ctx()),
                    widgets::keys("Ctrl+V")
                ))
                .clicked()
            {
                self.ui_commands.commands.push(open);
            }
            widgets::hint_line(ui, &widgets::keys("or drop a file, or paste (Ctrl+V)"));
        });
        ui.horizontal(|ui| {
            let label = ui.label("URL");
            let field = ui
                .add(
                    egui::TextEdit::singleline(&mut self.inputs.url_entry)
                        .hint_text("https://…/photo.jpg")
                        .desired_width(ui.available_width() - 48.0),
                )
                .labelled_by(label.id)
                .on_hover_text("An http(s) image URL; the service fetches it itself");
            let entered = field.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
            if ui.button("Use").clicked() || entered {
                self.use_url();
            }
        });

        if let Some(err) = &self.inputs.url_error {
            widgets::error_line(ui, err);
        }

        let Some(view) = &self.inputs.input else {
            widgets::hint_line(ui, "No input image yet.");
            return;
        };
        // A kept copy restored from the gallery is named as the artist knew it.
        let shown = view
            .shown_as
            .clone()
            .unwrap_or_else(|| view.source.describe());
        let hover = match &view.shown_as {
            Some(name) => format!(
                "{name}\n(the copy kept with the result: {})",
                view.source.describe()
            ),
            None => view.source.describe(),
        };
        ui.add(egui::Label::new(super::app::shorten(&shown, 60)).truncate())
            .on_hover_text(hover);
        // The preview's box has its size before the preview comes: nothing below it moves when
        // a large image's preview arrives (or fails).
        let width = ui.available_width().min(320.0);
        ui.allocate_ui_with_layout(
            egui::vec2(width, PREVIEW_BOX),
            egui::Layout::top_down(egui::Align::Min),
            |ui| {
                ui.set_min_size(egui::vec2(width, PREVIEW_BOX));
                if view.pending.is_some() {
                    ui.horizontal(|ui| {
                        ui.spinner();
                        ui.label("loading preview…");
                    });
                }
                match (&view.error, &view.source) {
                    // Not an error: the service reads a URL itself; there is nothing to show.
                    (Some(_), crate::jobs::InputSource::Url(_)) => {
                        widgets::hint_line(
                            ui,
                            "No preview for a URL: the service downloads the image itself.",
                        );
                    }
                    (Some(err), _) => {
                        widgets::error_line(ui, err);
                    }
                    (None, _) => {}
                }
                if let Some(tex) = &view.texture {
                    let [w, h] = tex.size().map(|v| v.max(1) as f32);
                    let scale = (width / w).min(PREVIEW_BOX / h);
                    ui.add(
                        egui::Image::from_texture((tex.id(), egui::vec2(w * scale, h * scale)))
                            .corner_radius(4.0),
                    );
                }
            },
        );
        let info = match &view.preview {
            Some(pre) if pre.bytes > 0 => format!(
                "{} × {} px · {}",
                pre.width,
                pre.height,
                widgets::bytes(pre.bytes)
            ),
            Some(pre) => format!("{} × {} px", pre.width, pre.height),
            // Its line is kept too.
            None => " ".to_owned(),
        };
        widgets::hint_line(ui, &info);
    }

    /// Uses the URL field as the input, or says why it cannot.
    fn use_url(&mut self) {
        let text = self.inputs.url_entry.trim().to_owned();
        self.inputs.url_error = None;
        if text.is_empty() {
            self.inputs.url_error =
                Some("Paste or type an image's web address (https://…) first.".into());
            return;
        }
        match super::app::input_from_text(&text) {
            Some(src) => self.set_input(src),
            None => {
                self.inputs.url_error = Some(format!(
                    "\"{}\" is not an http(s) URL: it must start with https:// (or http://)",
                    super::app::shorten(&text, 60)
                ));
            }
        }
    }
}
