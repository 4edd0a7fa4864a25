//! The comparison's setup widgets: the choice between comparing control types and an X/Y grid,
//! the type check boxes or the two axes with their values, and the line under them with the
//! plan's cost (shown before anything is sent), the send button and what is still missing.

use egui::Ui;

use super::state::{CompareMode, CompareState, Planned, Setup, cost_label, plan_images};
use crate::api::{CnType, GenParams};
use crate::jobs::grid::{self, AxisKind, GridPlan};
use crate::jobs::{ApiVersion, InputSource};
use crate::ui::widgets;

/// Draws the setup; returns the plan to send when the user asked for it (its button, or
/// `requested`: the app's Ctrl+Enter), never without an input.
pub(super) fn ui(
    ui: &mut Ui,
    state: &mut CompareState,
    base: &GenParams,
    input: Option<&InputSource>,
    api: ApiVersion,
    requested: bool,
) -> Option<GridPlan> {
    let setup = &mut state.planner.setup;
    ui.horizontal(|ui| {
        ui.selectable_value(&mut setup.mode, CompareMode::Types, "Compare control types");
        ui.selectable_value(&mut setup.mode, CompareMode::Grid, "X/Y grid");
    });
    match setup.mode {
        CompareMode::Types => types_setup(ui, setup),
        CompareMode::Grid => grid_setup(ui, setup),
    }
    plan_and_send(ui, state, base, input, api, requested)
}

fn types_setup(ui: &mut Ui, setup: &mut Setup) {
    ui.horizontal(|ui| {
        for (i, t) in CnType::ALL.iter().enumerate() {
            if let Some(on) = setup.types.get_mut(i) {
                ui.checkbox(on, t.as_str());
            }
        }
    });
}

fn grid_setup(ui: &mut Ui, setup: &mut Setup) {
    egui::Grid::new("compare-axes")
        .num_columns(3)
        .show(ui, |ui| {
            let label = ui.label("Columns");
            egui::ComboBox::from_id_salt("compare-x-axis")
                .selected_text(setup.x_kind.wire())
                .show_ui(ui, |ui| {
                    for k in grid::axes() {
                        ui.selectable_value(&mut setup.x_kind, k, k.wire());
                    }
                })
                .response
                .labelled_by(label.id);
            ui.add(
                egui::TextEdit::singleline(&mut setup.x_text)
                    .hint_text(hint(setup.x_kind))
                    .desired_width(260.0),
            )
            .accessible_name("Column values");
            ui.end_row();

            let label = ui.label("Rows");
            egui::ComboBox::from_id_salt("compare-y-axis")
                .selected_text(setup.y_kind.map_or("(none)", |k| k.wire()))
                .show_ui(ui, |ui| {
                    ui.selectable_value(&mut setup.y_kind, None, "(none)");
                    for k in grid::axes() {
                        ui.selectable_value(&mut setup.y_kind, Some(k), k.wire());
                    }
                })
                .response
                .labelled_by(label.id);
            if let Some(k) = setup.y_kind {
                ui.add(
                    egui::TextEdit::singleline(&mut setup.y_text)
                        .hint_text(hint(k))
                        .desired_width(260.0),
                )
                .accessible_name("Row values");
            }
            ui.end_row();
        });
}

/// The line with the plan's cost and the send button (or what is missing, or why the values
/// cannot be planned); returns the plan when the button was clicked with an input image.
fn plan_and_send(
    ui: &mut Ui,
    state: &mut CompareState,
    base: &GenParams,
    input: Option<&InputSource>,
    api: ApiVersion,
    requested: bool,
) -> Option<GridPlan> {
    let running = state.is_running();
    let mode = state.planner.setup.mode;
    let per_image = state.cost_per_image();
    let plan = match state.planner.plan(base, input, api) {
        Planned::Missing(missing) => {
            ui.weak(missing);
            return None;
        }
        Planned::Invalid(e) => {
            ui.colored_label(ui.visuals().error_fg_color, e);
            return None;
        }
        Planned::Ready(plan) => plan,
    };
    let n = plan.cost_requests();
    let mut go = requested;
    ui.horizontal(|ui| {
        ui.label(cost_label(n, plan_images(plan), per_image))
            .on_hover_text("Each cell is one paid request; results are saved to the gallery.");
        let text = match mode {
            CompareMode::Types => "Compare".to_owned(),
            CompareMode::Grid => format!("Send {n} request{}", if n == 1 { "" } else { "s" }),
        };
        go |= ui
            .add_enabled(input.is_some(), egui::Button::new(text))
            .on_hover_text(widgets::keys(
                "Send every cell (Ctrl+Enter on this tab); each is billed",
            ))
            .clicked();
        if input.is_none() {
            ui.weak("Choose an input image first.");
        } else if base.seed == crate::api::params::RANDOM_SEED {
            ui.weak(format!("random seed: every cell uses {}", plan.seed));
        }
    });
    // Its room is kept when nothing runs, so the toolbar below never jumps when a run ends.
    ui.add_visible(
        running,
        egui::Label::new(
            egui::RichText::new(
                "The comparison below is still running: a new one takes its place here, \
                 and its results are still saved to the gallery.",
            )
            .weak(),
        ),
    );
    (go && input.is_some()).then(|| plan.clone())
}

/// The example shown in an empty values field.
fn hint(kind: AxisKind) -> &'static str {
    kind.info().axis.unwrap_or_default()
}
