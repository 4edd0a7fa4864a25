//! What was spent, in the window: today's spend in the top bar (against the daily budget when one
//! is set), a Spend window with this month, all time, spend by control type and a chart of spend
//! per day (`egui_plot`), and the daily budget's setting. The figures come from the user's spend
//! ledger through the services (read off the UI thread), refreshed at start and after each result.

use egui::{RichText, Ui};

use super::app::FluxApp;
use super::widgets;
use crate::jobs::budget::{self, MAX_BUDGET};
use crate::jobs::ledger::Spend;
use crate::jobs::reconcile::Reconciled;
use crate::jobs::{Pending, ServiceError, Services, services};

/// Days the chart shows.
pub const CHART_DAYS: u32 = 30;

/// The spend as last read, and the read under way.
#[derive(Default)]
pub struct SpendView {
    pub spend: Option<Spend>,
    pub error: Option<String>,
    pending: Option<Pending<Result<Spend, ServiceError>>>,
    /// Another read was asked for while one was under way.
    again: bool,
    pub show: bool,
    /// "Reconcile with Segmind": the answer under way, and the last report (or why it failed).
    reconciling: Option<Pending<Result<Reconciled, ServiceError>>>,
    pub reconciled: Option<Result<String, String>>,
    /// Bring the images of charges made elsewhere into the gallery.
    pub import: bool,
}

impl SpendView {
    /// Reads the ledger again (once more after the read under way, if one is).
    pub fn refresh(&mut self, services: &Services) {
        if self.pending.is_some() {
            self.again = true;
        } else {
            self.pending = Some(services.spend(CHART_DAYS));
        }
    }

    /// Takes the answer, if it came.
    pub fn poll(&mut self, services: &Services) {
        if let Some(answer) = services::take(&mut self.pending) {
            match answer {
                Some(Ok(s)) => {
                    self.spend = Some(s);
                    self.error = None;
                }
                Some(Err(e)) => self.error = Some(e.to_string()),
                None => self.error = Some(crate::jobs::services::WORKER_STOPPED.into()),
            }
            if std::mem::take(&mut self.again) {
                self.refresh(services);
            }
        }
    }

    /// Today's spend as known (0 before the first answer).
    pub fn today(&self) -> f64 {
        self.spend.as_ref().map_or(0.0, |s| s.today)
    }
}

impl FluxApp {
    /// The daily budget in force: the setting, else `FLUXCN_DAILY_BUDGET`.
    pub(crate) fn daily_budget(&self) -> Option<f64> {
        self.state
            .settings
            .sanitized()
            .daily_budget
            .or_else(|| budget::from_env().ok().flatten())
    }

    /// Why work of `images` images may not be sent today (the budget's refusal, in full with
    /// what to do), if it may not.
    pub(crate) fn budget_blocker(&self, images: usize) -> Option<String> {
        self.over_budget(images)
            .map(|e| format!("{}; {}.", capitalized(&e.to_string()), budget::APP_ADVICE))
    }

    /// The same in one short sentence (under Generate, where the panel is narrow).
    pub(crate) fn budget_blocker_short(&self, images: usize) -> Option<String> {
        self.over_budget(images).map(|e| e.short())
    }

    fn over_budget(&self, images: usize) -> Option<budget::OverBudget> {
        budget::check(
            self.daily_budget(),
            self.account.spend.today(),
            self.session.unfinished_images() as f64 * crate::api::DEFAULT_COST_PER_IMAGE,
            budget::estimate(images, self.cost_per_image()),
        )
        .err()
    }

    fn cost_per_image(&self) -> f64 {
        self.session
            .last_cost_per_image
            .filter(|c| c.is_finite() && *c > 0.0)
            .unwrap_or(crate::api::DEFAULT_COST_PER_IMAGE)
    }

    /// Today's spend in the top bar; a click opens the Spend window.
    pub(crate) fn spend_label(&mut self, ui: &mut Ui) {
        let today = self.account.spend.today();
        let budget = self.daily_budget();
        let text = match budget {
            Some(b) => format!("Today ${today:.2} / ${b:.2}"),
            None => format!("Today ${today:.2}"),
        };
        let over = budget.is_some_and(|b| today >= b - 1e-9);
        let rich = if over {
            RichText::new(text).color(widgets::WARN)
        } else {
            RichText::new(text)
        };
        let hover = match (&self.account.spend.error, budget) {
            (Some(e), _) => format!("The spend ledger could not be read: {e}"),
            (None, Some(b)) => format!(
                "Spent today (local time), of a ${b:.2} daily budget. Click for the spend by day and by control type."
            ),
            (None, None) => "Spent today (local time). Click for the spend by day and by control type; a daily budget can be set in Settings.".into(),
        };
        if ui
            .add(egui::Button::new(rich).frame(false))
            .on_hover_text(hover)
            .clicked()
        {
            self.account.spend.show = !self.account.spend.show;
            if self.account.spend.show {
                self.account.spend.refresh(self.backend.jobs.services());
            }
        }
    }

    /// The Spend window.
    pub(crate) fn spend_window(&mut self, ctx: &egui::Context) {
        let mut open = self.account.spend.show;
        let budget = self.daily_budget();
        // Opens under the figure that opened it (the top bar's right side).
        let right_top = ctx.content_rect().right_top() + egui::vec2(-480.0, 40.0);
        egui::Window::new("Spend")
            .open(&mut open)
            .default_pos(right_top.max(egui::pos2(8.0, 40.0)))
            .collapsible(false)
            .default_width(460.0)
            .show(ctx, |ui| {
                let Some(s) = self.account.spend.spend.clone() else {
                    match &self.account.spend.error {
                        Some(e) => widgets::error_line(ui, e),
                        None => ui.label("Reading the ledger…"),
                    };
                    return;
                };
                spend_figures(ui, &s, budget);
                ui.separator();
                spend_chart(ui, &s, budget);
                ui.separator();
                self.reconcile_section(ui);
            });
        self.account.spend.show = open;
    }

    /// The ledger beside the account's own records: a button, and the last report.
    fn reconcile_section(&mut self, ui: &mut Ui) {
        let view = &mut self.account.spend;
        if let Some(answer) = services::take(&mut view.reconciling) {
            view.reconciled = Some(match answer {
                Some(Ok(r)) => Ok(r.report()),
                Some(Err(e)) => Err(e.to_string()),
                None => Err(crate::jobs::services::WORKER_STOPPED.into()),
            });
            view.refresh(self.backend.jobs.services());
        }
        let busy = self.account.spend.reconciling.is_some();
        ui.horizontal(|ui| {
            let button = ui
                .add_enabled(!busy, egui::Button::new("Reconcile with Segmind"))
                .on_hover_text(
                    "Set the ledger beside your account's request history for the last 7 days: \
                     estimates become what Segmind charged, and charges made elsewhere (the \
                     playground, another machine) are listed and counted",
                );
            ui.checkbox(&mut self.account.spend.import, "Import their images")
                .on_hover_text(
                    "Bring the pictures of charges made elsewhere into the gallery, with their settings",
                );
            if busy {
                ui.spinner();
            }
            if button.clicked() {
                let cfg = self.state.runtime_config(
                    self.launch.base_override.as_deref(),
                    self.launch.session_key.clone(),
                );
                let import = self.account.spend.import;
                self.account.spend.reconciling =
                    Some(self.backend.jobs.services().reconcile(&cfg, 7, import));
            }
        });
        match &self.account.spend.reconciled {
            Some(Ok(report)) => {
                egui::ScrollArea::vertical()
                    .max_height(160.0)
                    .id_salt("reconcile report")
                    .show(ui, |ui| {
                        ui.label(RichText::new(report.trim_end()).small());
                    });
            }
            Some(Err(e)) => {
                widgets::error_line(ui, e);
            }
            None => {}
        }
    }

    /// Writes the settings to storage as soon as a change settles (no drag held, no field being
    /// typed in), rather than at eframe's next autosave.
    pub(crate) fn store_settings_now(
        &mut self,
        ctx: &egui::Context,
        storage: Option<&mut (dyn eframe::Storage + 'static)>,
    ) {
        let settled = !ctx.input(|i| i.pointer.any_down()) && ctx.memory(|m| m.focused().is_none());
        if !settled || self.state.settings == self.settings_ui.stored_settings {
            return;
        }
        self.settings_ui.stored_settings = self.state.settings.clone();
        if let Some(s) = storage {
            eframe::set_value(s, super::state::STORAGE_KEY, &self.state.sanitized());
            s.flush();
        }
    }

    /// The budget's part of the Settings window.
    pub(crate) fn budget_settings(&mut self, ui: &mut Ui) {
        let before = self.state.settings.daily_budget;
        widgets::heading(ui, "Daily budget");
        let env = budget::from_env();
        let s = &mut self.state.settings;
        let mut on = s.daily_budget.is_some();
        ui.checkbox(&mut on, "Refuse work over a daily budget")
            .on_hover_text("Nothing is sent that would take today's spend (local time) over it");
        if on {
            let mut b = s.daily_budget.unwrap_or(5.0);
            ui.horizontal(|ui| {
                ui.label("USD a day");
                ui.add(
                    egui::DragValue::new(&mut b)
                        .range(0.0..=MAX_BUDGET)
                        .speed(0.05)
                        .max_decimals(2)
                        .prefix("$"),
                );
            });
            s.daily_budget = Some(b);
        } else {
            s.daily_budget = None;
        }
        if self.state.settings.daily_budget != before {
            // The runtime checks every job against it.
            self.send_configure();
        }
        if let Some(note) = env_budget_note(env, on) {
            widgets::warn_line(ui, &note);
        }
    }
}

/// What the budget's setting says of the environment's budget: one set there still applies when
/// the box is unticked (the artist would otherwise believe there is none); a value that cannot be
/// read says why. `None`: nothing to say.
pub(crate) fn env_budget_note(env: Result<Option<f64>, String>, ticked: bool) -> Option<String> {
    match env {
        Ok(Some(b)) if !ticked => Some(format!(
            "Unticked here, but the environment variable {} still sets a budget of ${b:.2} a \
             day: it applies until it is removed from the environment.",
            budget::BUDGET_ENV
        )),
        Err(e) => Some(e),
        Ok(_) => None,
    }
}

/// `s` with its first letter in capitals.
pub(crate) fn capitalized(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// "1 image", "3 images".
pub(crate) fn count(n: impl Into<u64>, what: &str) -> String {
    let n = n.into();
    format!("{n} {what}{}", if n == 1 { "" } else { "s" })
}

fn spend_figures(ui: &mut Ui, s: &Spend, budget: Option<f64>) {
    egui::Grid::new("spend-figures")
        .num_columns(2)
        .show(ui, |ui| {
            ui.label("Today");
            ui.label(match budget {
                Some(b) => format!(
                    "${:.2} of ${b:.2} (${:.2} left)",
                    s.today,
                    (b - s.today).max(0.0)
                ),
                None => format!("${:.2}", s.today),
            });
            ui.end_row();
            ui.label("This month");
            ui.label(format!("${:.2}", s.month));
            ui.end_row();
            ui.label("All time");
            ui.label(format!("${:.2} ({})", s.all, count(s.images, "image")));
            ui.end_row();
            for (t, cost, images) in &s.by_type {
                ui.label(format!("  {t}"));
                ui.label(format!("${cost:.2} ({})", count(*images, "image")));
                ui.end_row();
            }
        });
    if s.estimated_jobs > 0 {
        widgets::hint_line(
            ui,
            &format!(
                "{} job(s) came back without a cost: counted at the usual price.",
                s.estimated_jobs
            ),
        );
    }
    if s.lost_images > 0 {
        widgets::warn_line(
            ui,
            &format!(
                "{} paid for never arrived: the answers held fewer images than they billed.",
                count(s.lost_images, "image")
            ),
        );
    }
}

fn spend_chart(ui: &mut Ui, s: &Spend, budget: Option<f64>) {
    use egui_plot::{Bar, BarChart, Corner, HLine, Legend, Plot, PlotBounds};
    let n = s.per_day.len();
    let bars: Vec<Bar> = s
        .per_day
        .iter()
        .enumerate()
        .map(|(i, (day, cost))| {
            Bar::new(i as f64 - (n as f64 - 1.0), *cost)
                .width(0.8)
                .name(day.to_string())
        })
        .collect();
    ui.label(format!("Spend per day, the last {n} days (USD)"));
    // Never below zero; tall enough for the budget line and a cent's bar.
    let top = s
        .per_day
        .iter()
        .map(|(_, c)| *c)
        .fold(budget.unwrap_or(0.0), f64::max)
        .max(0.10);
    Plot::new("spend-per-day")
        .height(180.0)
        .allow_drag(false)
        .allow_zoom(false)
        .allow_scroll(false)
        .allow_double_click_reset(false)
        .auto_bounds(false)
        .y_axis_min_width(44.0)
        .legend(Legend::default().position(Corner::LeftTop))
        .x_axis_formatter(|mark, _| match mark.value {
            v if v.abs() < 0.5 => "today".into(),
            v => format!("{v:.0} d"),
        })
        .y_axis_formatter(|mark, _| format!("${:.2}", mark.value))
        .show(ui, |p| {
            // Set every frame: the figures (and the budget) change while the window is open.
            p.set_plot_bounds(PlotBounds::from_min_max(
                [-(n as f64) + 0.4, 0.0],
                [1.0, top * 1.3],
            ));
            p.bar_chart(BarChart::new("spend per day", bars).color(widgets::OK));
            if let Some(b) = budget {
                p.hline(HLine::new("daily budget", b).color(widgets::WARN));
            }
        });
}

#[cfg(test)]
mod env_tests {
    use super::*;

    #[test]
    fn an_environment_budget_is_said_when_the_box_is_unticked() {
        let note = env_budget_note(Ok(Some(100.0)), false).unwrap();
        assert!(note.contains("still sets a budget of $100.00"), "{note}");
        assert!(note.contains(budget::BUDGET_ENV), "{note}");
        assert_eq!(env_budget_note(Ok(Some(100.0)), true), None);
        assert_eq!(env_budget_note(Ok(None), false), None);
        assert_eq!(env_budget_note(Err("bad".into()), true), Some("bad".into()));
    }
}
