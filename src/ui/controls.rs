//! The controls panel: the prompt and every knob of the contract, each clamped to its documented
//! range, the seed (lock / random / reuse), the cost estimate and the Generate button.

use egui::Ui;

use crate::api::fields::{self, Allowed, Field, Needs, Section, Value, Widget};
use crate::api::params::{MAX_SEED, RANDOM_SEED, SIZE};
use crate::api::{GenParams, ImageFormat};

use super::app::FluxApp;
use super::commands::UiCommand;
use super::state::SeedMode;
use super::widgets;

impl FluxApp {
    /// The left panel's lower half: prompt, knobs, seed, Generate.
    pub(crate) fn controls_panel(&mut self, ui: &mut Ui) {
        ui.spacing_mut().slider_width = (ui.available_width() - 150.0).clamp(120.0, 260.0);
        let label = ui
            .horizontal(|ui| {
                let label =
                    widgets::heading(ui, "Prompt").on_hover_text("What the image should show");
                self.prompt_history_menu(ui);
                label
            })
            .inner;
        // Up/Down in a one-line prompt browse the prompts sent before (newest first).
        let one_line = !self.state.params.prompt.contains('\n');
        let prompt_id = egui::Id::unique("prompt-box");
        let focused = ui.ctx().memory(|m| m.has_focus(prompt_id));
        if focused && one_line {
            let (up, down) = ui.input_mut(|i| {
                (
                    i.consume_key(egui::Modifiers::NONE, egui::Key::ArrowUp),
                    i.consume_key(egui::Modifiers::NONE, egui::Key::ArrowDown),
                )
            });
            if up || down {
                self.knobs.browse.step(
                    &self.state.prompt_history,
                    &mut self.state.params.prompt,
                    up,
                );
            }
        }
        let r = ui
            .add(
                egui::TextEdit::multiline(&mut self.state.params.prompt)
                    .id(prompt_id)
                    .hint_text(widgets::keys(
                        "Describe the image… (Ctrl+Enter generates, Up: earlier prompts)",
                    ))
                    .desired_rows(4)
                    .desired_width(f32::INFINITY),
            )
            .labelled_by(label.id);
        if r.changed() {
            self.knobs.browse.reset();
        }
        for section in [Section::ControlNet, Section::Sampling] {
            widgets::heading(ui, section.title());
            for f in in_section(section) {
                knob(ui, &mut self.state.params, f, None);
            }
        }
        self.output_knobs(ui);
        self.seed_controls(ui);

        ui.add_space(6.0);
        ui.horizontal(|ui| {
            for (c, can) in [
                (UiCommand::Undo, self.knobs.undo.can_undo()),
                (UiCommand::Redo, self.knobs.undo.can_redo()),
            ] {
                if ui
                    .add_enabled(can, egui::Button::new(c.label()))
                    .on_hover_text(c.hover(ui.ctx()))
                    .clicked()
                {
                    self.ui_commands.commands.push(c);
                }
            }
        });
        if ui
            .button("Reset to defaults")
            .on_hover_text("Every knob back to the service's defaults (the prompt stays)")
            .clicked()
        {
            let prompt = std::mem::take(&mut self.state.params.prompt);
            self.state.params = GenParams {
                prompt,
                ..GenParams::default()
            };
            self.state.settings.seed_mode = SeedMode::Locked;
            self.state.fine_size_steps = false;
        }
    }

    /// Output: size (or the input's), format, quality, samples; the size's snapping (64 px, or 8
    /// with fine steps) and the result's size in words follow the size knobs.
    fn output_knobs(&mut self, ui: &mut Ui) {
        widgets::heading(ui, Section::Output.title());
        let step = if self.state.fine_size_steps { 8 } else { 64 };
        let mut knobs = in_section(Section::Output).peekable();
        while let Some(f) = knobs.next() {
            let needs = needs_of(f);
            let p = &mut self.state.params;
            let usable = match needs {
                Needs::Nothing => true,
                Needs::OwnSize => !p.use_input_img_dimension,
                Needs::LossyFormat => p.image_format != ImageFormat::Png,
            };
            let own_size = needs == Needs::OwnSize;
            ui.add_enabled_ui(usable, |ui| {
                knob(ui, p, f, own_size.then_some(f64::from(step)));
            });
            if own_size && knobs.peek().is_none_or(|n| needs_of(*n) != Needs::OwnSize) {
                ui.add_enabled_ui(usable, |ui| {
                    ui.checkbox(&mut self.state.fine_size_steps, "Fine steps (8 px)")
                        .on_hover_text("Snap width and height to multiples of 8 instead of 64");
                });
                let size = self.result_size_line();
                widgets::hint_line(ui, &size);
            }
        }
        let p = &mut self.state.params;
        p.custom_width = widgets::snap(p.custom_width, step, SIZE.min, SIZE.max);
        p.custom_height = widgets::snap(p.custom_height, step, SIZE.min, SIZE.max);
    }

    /// Seed: the number, its mode, and "reuse from result".
    fn seed_controls(&mut self, ui: &mut Ui) {
        widgets::heading(ui, "Seed");
        let mode = &mut self.state.settings.seed_mode;
        egui::ComboBox::from_label("Seed mode")
            .selected_text(mode.label())
            .show_ui(ui, |ui| {
                for m in SeedMode::ALL {
                    ui.selectable_value(mode, m, m.label())
                        .on_hover_text(m.explained());
                }
            })
            .response
            .on_hover_text(mode.explained());
        // The mode in words, always in view (the two random modes differ in when the seed is known).
        widgets::hint_line(ui, mode.explained());
        let locked = *mode == SeedMode::Locked;
        let p = &mut self.state.params;
        if p.seed < 0 {
            p.seed = 0;
        }
        ui.horizontal(|ui| {
            ui.add_enabled(
                locked,
                egui::DragValue::new(&mut p.seed)
                    .range(0..=MAX_SEED)
                    .speed(1.0),
            )
            .on_hover_text(
                "The seed sent when the mode is locked; the same seed and knobs repeat an image",
            );
            ui.label("Seed");
            if ui
                .button("Random")
                .on_hover_text("Pick a new random seed now (and lock it)")
                .clicked()
            {
                p.seed = crate::api::params::random_seed();
                self.state.settings.seed_mode = SeedMode::Locked;
            }
        });
        let last = self.session.last_seed;
        let reuse = ui
            .add_enabled(last.is_some(), egui::Button::new("Reuse seed from result"))
            .on_hover_text("Lock the seed the last finished image was made with")
            .on_disabled_hover_text("No result yet in this session");
        if reuse.clicked()
            && let Some(seed) = last
        {
            self.state.params.seed = seed.clamp(0, MAX_SEED);
            self.state.settings.seed_mode = SeedMode::Locked;
        }
    }

    /// The prompt history: a menu of the prompts sent before (search, pin, click to use).
    fn prompt_history_menu(&mut self, ui: &mut Ui) {
        let n = self.state.prompt_history.entries.len();
        ui.add_enabled_ui(n > 0, |ui| {
            ui.menu_button(format!("History ({n})"), |ui| {
                ui.set_max_width(360.0);
                let search_id = egui::Id::unique("prompt-history-search");
                let mut query: String = ui.data_mut(|d| d.get_temp(search_id).unwrap_or_default());
                ui.add(egui::TextEdit::singleline(&mut query).hint_text("Search prompts"))
                    .accessible_name("Search prompts");
                let mut chosen = None;
                let mut pin = None;
                egui::ScrollArea::vertical()
                    .max_height(300.0)
                    .show(ui, |ui| {
                        for e in self
                            .state
                            .prompt_history
                            .search(&query)
                            .into_iter()
                            .take(100)
                        {
                            ui.horizontal(|ui| {
                                let pin_text = if e.pinned { "Unpin" } else { "Pin" };
                                if ui.small_button(pin_text).clicked() {
                                    pin = Some(e.text.clone());
                                }
                                if ui
                                    .add(
                                        egui::Button::new(super::app::shorten(&e.text, 60))
                                            .frame(false),
                                    )
                                    .on_hover_text(e.text.as_str())
                                    .clicked()
                                {
                                    chosen = Some(e.text.clone());
                                }
                            });
                        }
                    });
                ui.data_mut(|d| d.insert_temp(search_id, query));
                if let Some(t) = pin {
                    self.state.prompt_history.toggle_pin(&t);
                }
                if let Some(t) = chosen {
                    self.state.params.prompt = t;
                    self.knobs.browse.reset();
                    ui.close();
                }
            });
        });
    }

    /// The size the result will be asked for, and why.
    pub(crate) fn result_size_line(&self) -> String {
        let p = &self.state.params;
        if !p.use_input_img_dimension {
            return format!(
                "Result: {} × {} px, as set",
                p.custom_width, p.custom_height
            );
        }
        let max = self.state.settings.max_input_side;
        match self.inputs.input.as_ref().map(|v| (&v.source, &v.preview)) {
            None => "Result: the input image's size (choose an input)".to_owned(),
            Some((crate::jobs::InputSource::Url(_), _)) => {
                "Result: the URL image's own size (the service downloads it; its size is not \
                 known here)"
                    .to_owned()
            }
            Some((_, None)) => "Result: the input image's size".to_owned(),
            Some((_, Some(pre))) => {
                // The input as framed (turned, cropped, padded) is what is sent.
                let framing = self.framing_now();
                let (fw, fh) = framing
                    .framed_size(pre.width, pre.height)
                    .unwrap_or((pre.width, pre.height));
                let what = if framing.is_identity() {
                    "the input's"
                } else {
                    "the framed input's"
                };
                let (w, h) = crate::api::input::sent_size(fw, fh, max);
                if (w, h) == (fw, fh) {
                    format!("Result: {w} × {h} px, {what} size")
                } else {
                    format!(
                        "Result: {w} × {h} px: {what} {fw} × {fh} downscaled to {max} px on its \
                         long side before sending (Settings)"
                    )
                }
            }
        }
    }

    /// The median time of the jobs that finished in this session, in whole seconds (at least 1).
    pub(crate) fn typical_job_seconds(&self) -> Option<u64> {
        let mut took: Vec<u64> = self
            .session
            .jobs
            .iter()
            .filter(|j| matches!(j.status, super::session::JobStatus::Done { .. }))
            .map(|j| j.run_time(self.session.now).as_secs().max(1))
            .collect();
        took.sort_unstable();
        took.get(took.len() / 2).copied()
    }

    /// The cost estimate, the Generate button and why it is disabled.
    pub(crate) fn generate_row(&mut self, ui: &mut Ui) {
        let n = self.state.params.samples.max(1);
        let each = self
            .session
            .last_cost_per_image
            .unwrap_or(crate::api::DEFAULT_COST_PER_IMAGE);
        let images = if n == 1 { "image" } else { "images" };
        if let Some(s) = self.typical_job_seconds() {
            self.state.learned_job_seconds = Some(s);
        }
        let took = match self.state.learned_job_seconds {
            Some(s) => format!("about {} each (as seen here)", widgets::seconds(s)),
            None => "about 49 s each (the service's typical time)".to_owned(),
        };
        let cost = if crate::jobs::variations::has_groups(&self.state.params.prompt) {
            // The prompt's {a|b} groups: one job per prompt, each with the samples.
            let (jobs, images) = (self.variation_count(), self.images_per_click());
            super::sending::variations_summary(jobs, images, each)
        } else {
            format!("{n} {images} ≈ ${:.2}", each * f64::from(n))
        };
        // The seed the click will send, beside the cost: in view however far the knobs scroll.
        let seed = match self.state.settings.seed_mode {
            SeedMode::Locked => format!("seed {}", self.state.params.seed.max(0)),
            SeedMode::ServerRandom => "seed: the server picks".to_owned(),
            SeedMode::FreshRandom => "seed: a new one each run".to_owned(),
        };
        widgets::hint_line(ui, &format!("{cost} · {took} · {seed}"));
        let blocker = self.generate_blocker();
        let checking = self.knobs.sending.checking();
        let editing = self.editing();
        if editing.is_some() {
            ui.horizontal(|ui| {
                widgets::warn_line(ui, "Editing a waiting job");
                if ui
                    .small_button("Stop editing")
                    .on_hover_text("Leave the waiting job as it was; Generate queues a new one")
                    .clicked()
                {
                    self.knobs.sending.editing = None;
                }
            });
        }
        let (label, hover) = if editing.is_some() {
            (
                "Replace waiting job",
                "Put the job back in its place in the queue with these settings (Ctrl+Enter); billed when it is sent",
            )
        } else {
            (
                "Generate",
                "Send this generation (Ctrl+Enter); it is billed",
            )
        };
        let button = egui::Button::new(egui::RichText::new(label).strong().size(16.0))
            .min_size(egui::vec2(ui.available_width(), 32.0));
        let r = ui
            .add_enabled(blocker.is_none() && !checking, button)
            .on_hover_text(widgets::keys(hover));
        if r.clicked() {
            self.generate();
        }
        if checking {
            ui.horizontal(|ui| {
                ui.spinner();
                widgets::hint_line(ui, "Checking the gallery for the same picture…");
            });
        } else if let Some(why) = blocker {
            widgets::warn_line(ui, &why);
        }
    }
}

/// The knobs of `section`, in the table's order.
fn in_section(section: Section) -> impl Iterator<Item = Field> {
    let mut all = Field::ALL;
    all.sort_by_key(|f| (f.info().rank, *f as usize));
    all.into_iter()
        .filter(move |f| matches!(f.info().widget, Widget::Knob { section: s, .. } if s == section))
}

/// When `f`'s knob can be used.
fn needs_of(f: Field) -> Needs {
    match f.info().widget {
        Widget::Knob { needs, .. } => needs,
        Widget::Unset | Widget::Own | Widget::Hidden => Needs::Nothing,
    }
}

/// `f`'s knob, from its row of the table: a slider for a number (moving by the row's step, or
/// `step`), a dropdown for a list, a tick box for true or false; labelled with the row's title,
/// its tooltip the row's tip.
fn knob(ui: &mut Ui, p: &mut GenParams, f: Field, step: Option<f64>) {
    let info = f.info();
    let step = step.unwrap_or(match info.widget {
        Widget::Knob { step, .. } => step,
        Widget::Unset | Widget::Own | Widget::Hidden => 1.0,
    });
    let new = match (info.allowed, fields::get(p, f)) {
        (Allowed::Int(b), Value::Int(i)) => {
            let mut v = u32::try_from(i).unwrap_or(b.default);
            let step = step.clamp(1.0, f64::from(u32::MAX)) as u32;
            widgets::slider_u32(ui, info.title, &mut v, b.min, b.max, step, info.tip);
            Value::Int(i64::from(v))
        }
        (Allowed::Num(b), Value::Num(mut n)) => {
            widgets::slider_f64(ui, info.title, &mut n, b.min, b.max, step, info.tip);
            Value::Num(n)
        }
        (Allowed::Bool { .. }, Value::Bool(mut b)) => {
            ui.checkbox(&mut b, info.title).on_hover_text(info.tip);
            Value::Bool(b)
        }
        (Allowed::OneOf { names, .. }, v) => {
            let mut chosen = v.to_string();
            let mut combo = egui::ComboBox::from_label(info.title).selected_text(chosen.clone());
            if names.len() > 12 {
                combo = combo.height(320.0);
            }
            combo
                .show_ui(ui, |ui| {
                    for name in names {
                        ui.selectable_value(&mut chosen, (*name).to_owned(), *name);
                    }
                })
                .response
                .on_hover_text(info.tip);
            f.parse(&chosen).unwrap_or(v)
        }
        (Allowed::Text, Value::Text(mut t)) => {
            ui.horizontal(|ui| {
                ui.label(info.title);
                ui.text_edit_singleline(&mut t).on_hover_text(info.tip);
            });
            Value::Text(t)
        }
        (Allowed::Seed { .. }, Value::Int(mut i)) => {
            ui.horizontal(|ui| {
                ui.label(info.title);
                ui.add(egui::DragValue::new(&mut i).range(RANDOM_SEED..=MAX_SEED))
                    .on_hover_text(info.tip);
            });
            Value::Int(i)
        }
        // The table tests hold every field's kind and type together; nothing to draw otherwise.
        (
            Allowed::Int(_)
            | Allowed::Num(_)
            | Allowed::Bool { .. }
            | Allowed::Text
            | Allowed::Seed { .. },
            _,
        ) => {
            return;
        }
    };
    if new != fields::get(p, f) {
        // A value the knob made from the field's own kind: `set` takes it.
        let _ = fields::set(p, f, new);
    }
}
