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
        self.url_row(ui);

        if let Some(err) = &self.inputs.url_error {
            widgets::error_line(ui, err);
        }

        let max_side = self.state.settings.sanitized().max_input_side;
        let params = self.state.params.clone();
        let Some(view) = self.inputs.input.as_mut() else {
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
                if let (Some(tex), Some(pre)) = (&view.texture, &view.preview) {
                    // The preview as it will be sent: turned and flipped, the crop over it (or,
                    // padded, the canvas with its bands).
                    let (w, h) = view.framing.shown_size(pre.width, pre.height);
                    let scale = (width / w).min(PREVIEW_BOX / h);
                    let (rect, _) = ui.allocate_exact_size(
                        egui::vec2(w * scale, h * scale),
                        egui::Sense::hover(),
                    );
                    view.framing.preview(ui, tex, rect, (pre.width, pre.height));
                }
            },
        );
        size_and_framing(ui, view, max_side, &params);
    }

    /// The URL field and its Use button.
    fn url_row(&mut self, ui: &mut Ui) {
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

/// The input's size, the line saying what will be sent, and the framing controls.
fn size_and_framing(
    ui: &mut Ui,
    view: &mut super::app::InputView,
    max_side: u32,
    params: &crate::api::GenParams,
) {
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
    // The lines are there before the preview comes: nothing below moves when it does.
    let Some(pre) = &view.preview else {
        widgets::hint_line(ui, " ");
        egui::CollapsingHeader::new("Frame: turn, flip, crop, pad")
            .id_salt("framing")
            .show(ui, |ui| {
                widgets::hint_line(
                    ui,
                    "Framing needs the picture (a web address is sent as it is).",
                )
            });
        return;
    };
    {
        let size = (pre.width, pre.height);
        match super::framing_panel::overlay_line(&view.framing.framing, size, max_side, params) {
            Ok(line) => {
                widgets::hint_line(ui, &line);
            }
            Err(e) => {
                widgets::error_line(ui, &e);
            }
        }
        egui::CollapsingHeader::new("Frame: turn, flip, crop, pad")
            .id_salt("framing")
            .show(ui, |ui| view.framing.controls(ui, size));
    }
}
