//! The Batch tab: open a batch file (JSONL or CSV, read and checked off the UI thread), see its
//! lines in a table with what a run will do with each (saved before, outcome unknown, to send) and
//! what it will cost, run it through the job runtime, and follow each line's status. The same
//! journal as `fluxcn batch`: a run started here or there resumes in either. The daily budget
//! stops the run at the line that would cross it.

use std::path::PathBuf;
use std::sync::Arc;

use egui::{RichText, Ui};

use super::app::FluxApp;
use super::spend::{capitalized, count};
use super::widgets;
use crate::jobs::batch::{self, LineStatus, Tracker};
use crate::jobs::services::BatchPreview;
use crate::jobs::{self, Command, Event, Pending, ServiceError, Services, services};

/// The tab's state.
#[derive(Default)]
pub struct BatchView {
    /// The path typed or chosen.
    pub path: String,
    pending: Option<Pending<Result<Arc<BatchPreview>, ServiceError>>>,
    preview: Option<Arc<BatchPreview>>,
    pub error: Option<String>,
    /// Send again the lines an earlier run never heard back from.
    pub resend_unknown: bool,
    tracker: Option<Tracker>,
    /// The queue not yet sent was cancelled (a stop or the budget).
    stopped: bool,
    /// The file dialog's answer, until it arrives.
    picking: Option<Pending<Option<PathBuf>>>,
}

impl BatchView {
    /// Reads (and plans) the file named in the path field.
    pub fn load(&mut self, services: &Services) {
        let path = PathBuf::from(self.path.trim());
        if self.path.trim().is_empty() {
            self.error = Some("Give the batch file's path, or choose it with Open…".into());
            return;
        }
        self.error = None;
        self.pending = Some(services.read_batch(path, self.resend_unknown));
    }

    /// Whether a run is under way.
    pub fn running(&self) -> bool {
        self.tracker.as_ref().is_some_and(|t| !t.is_done())
    }

    /// Follows the runtime's events (every panel sees every event).
    pub fn handle_event(&mut self, ev: &Event) {
        if let Some(t) = self.tracker.as_mut() {
            t.on_event(ev);
        }
    }

    fn poll(&mut self, services: &Services) {
        if let Some(Some(Some(p))) = services::take(&mut self.picking) {
            self.path = p.display().to_string();
            self.load(services);
        }
        if let Some(answer) = services::take(&mut self.pending) {
            match answer {
                Some(Ok(p)) => {
                    self.tracker = Some(Tracker::idle(p.lines.clone(), &p.plan));
                    self.preview = Some(p);
                    self.stopped = false;
                }
                Some(Err(e)) => {
                    self.error = Some(e.to_string());
                    self.preview = None;
                    self.tracker = None;
                }
                None => self.error = Some(services::WORKER_STOPPED.into()),
            }
        }
    }

    /// The lines a Run sends: those waiting, stopped or refused before, failed unbilled, and
    /// (when asked) those with an unknown outcome.
    fn to_send(&self) -> Vec<usize> {
        let Some(t) = &self.tracker else {
            return Vec::new();
        };
        t.status
            .iter()
            .enumerate()
            .filter(|(_, s)| match s {
                LineStatus::Waiting | LineStatus::Stopped | LineStatus::OverBudget(_) => true,
                LineStatus::Failed { billed, .. } => !billed,
                LineStatus::Unknown(_) => self.resend_unknown,
                _ => false,
            })
            .map(|(i, _)| i)
            .collect()
    }

    /// Starts a run of the lines to send.
    fn start(&mut self) {
        let lines = self.to_send();
        if let Some(t) = self.tracker.as_mut() {
            t.budget_stop = None;
            t.queue(lines);
            self.stopped = false;
        }
    }

    /// The next lines of a run for the runtime (file order, `window` at a time).
    fn feed(&mut self, api: crate::types::ApiVersion, window: usize) -> Vec<Command> {
        let (Some(p), Some(t)) = (self.preview.clone(), self.tracker.as_mut()) else {
            return Vec::new();
        };
        if self.stopped {
            return Vec::new();
        }
        t.take_next(window)
            .into_iter()
            .map(|i| {
                let id = jobs::next_job_id();
                t.submitted(id, i);
                Command::Submit {
                    id,
                    spec: batch::spec_of(&p.name, &t.lines[i], api, self.resend_unknown),
                }
            })
            .collect()
    }

    /// Sends no new line; cancels those still waiting for a slot.
    fn stop(&mut self) -> Vec<Command> {
        self.stopped = true;
        let Some(t) = self.tracker.as_mut() else {
            return Vec::new();
        };
        t.stop_pending();
        t.queued_jobs().into_iter().map(Command::Cancel).collect()
    }
}

impl FluxApp {
    /// The Batch tab.
    pub(crate) fn batch_tab(&mut self, ui: &mut Ui, out: &mut Vec<Command>) {
        let services = self.backend.jobs.services().clone();
        self.tabs.batch.poll(&services);
        // The budget refused a line: the rest of the queue is not sent.
        if self
            .tabs
            .batch
            .tracker
            .as_ref()
            .is_some_and(|t| t.budget_stop.is_some())
            && !self.tabs.batch.stopped
        {
            out.extend(self.tabs.batch.stop());
        }
        let window = self.state.settings.sanitized().concurrency;
        out.extend(
            self.tabs
                .batch
                .feed(self.state.settings.api_version, window),
        );
        ui.horizontal(|ui| {
            let label = ui.label("Batch file");
            let field = ui
                .add(
                    egui::TextEdit::singleline(&mut self.tabs.batch.path)
                        .hint_text("/path/to/batch.jsonl or .csv")
                        .desired_width((ui.available_width() - 130.0).max(120.0)),
                )
                .labelled_by(label.id);
            let enter = field.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
            if ui.button("Load").clicked() || enter {
                self.tabs.batch.load(&services);
            }
            if ui.button("Open…").clicked() {
                let ctx = ui.ctx().clone();
                self.tabs.batch.picking = Some(
                    self.inputs
                        .picker
                        .pick_batch(Box::new(move || ctx.request_repaint())),
                );
            }
        });
        if let Some(e) = &self.tabs.batch.error {
            ui.add(egui::Label::new(RichText::new(e.as_str()).color(widgets::ERROR)).wrap());
        }
        if self.tabs.batch.pending.is_some() {
            ui.label("Reading the batch file…");
        }
        let Some(preview) = self.tabs.batch.preview.clone() else {
            widgets::hint_line(
                ui,
                "A batch file holds one request a line: JSONL ({\"prompt\": …, \"image\": \"in.png\", \"steps\": 30}) or CSV with a header row of field names. Every line is checked before anything is sent.",
            );
            return;
        };
        self.batch_summary(ui, &preview, out);
        ui.separator();
        self.batch_table(ui);
    }

    fn batch_summary(&mut self, ui: &mut Ui, p: &BatchPreview, out: &mut Vec<Command>) {
        let running = self.tabs.batch.running();
        let to_send = if running {
            Vec::new()
        } else {
            self.tabs.batch.to_send()
        };
        let Some(t) = &self.tabs.batch.tracker else {
            return;
        };
        let images: usize = to_send.iter().map(|&i| t.lines[i].images()).sum();
        let cost = images as f64 * crate::api::DEFAULT_COST_PER_IMAGE;
        if t.started() {
            // During and after a run: what happened to every line.
            ui.label(capitalized(&t.summary()));
        } else {
            let mut parts = vec![count(p.lines.len() as u64, "line")];
            if !p.plan.saved.is_empty() {
                parts.push(format!("{} saved before", p.plan.saved.len()));
            }
            if !p.plan.unknown.is_empty() {
                parts.push(format!("{} with an unknown outcome", p.plan.unknown.len()));
            }
            ui.label(parts.join(", "));
        }
        if !p.plan.unknown.is_empty() && !running {
            ui.checkbox(
                &mut self.tabs.batch.resend_unknown,
                "Send again the lines sent with no answer (they may have been billed)",
            );
        }
        if running {
            if ui
                .button("Stop")
                .on_hover_text("Send no new line; the lines under way finish")
                .clicked()
            {
                out.extend(self.tabs.batch.stop());
            }
            return;
        }
        if to_send.is_empty() {
            widgets::hint_line(ui, "Nothing to send: every line is settled.");
            return;
        }
        // Run is refused only when not even the first line fits; a batch that does not fit
        // whole stops at the line that would cross the budget (said below).
        let first_fits = self.budget_blocker(t.lines[to_send[0]].images()).is_none();
        let blocker = if first_fits {
            self.generate_blocker_for_batch()
        } else {
            self.budget_blocker(images)
        };
        let label = format!(
            "Run batch ({}, {} ≈ ${cost:.2})",
            count(to_send.len() as u64, "line"),
            count(images as u64, "image")
        );
        if ui
            .add_enabled(blocker.is_none(), egui::Button::new(label))
            .clicked()
        {
            self.tabs.batch.start();
            let window = self.state.settings.sanitized().concurrency;
            out.extend(
                self.tabs
                    .batch
                    .feed(self.state.settings.api_version, window),
            );
        }
        match (blocker, self.budget_blocker(images)) {
            (Some(b), _) => {
                widgets::warn_line(ui, &b);
            }
            (None, Some(b)) => {
                widgets::warn_line(
                    ui,
                    &format!(
                        "Not all of it fits today's budget: the run stops before the line that would go over. {b}"
                    ),
                );
            }
            (None, None) => {}
        }
    }

    /// What stops any sending (no key, a stopped worker), for the batch's Run button.
    fn generate_blocker_for_batch(&self) -> Option<String> {
        if matches!(
            self.settings_ui.key_state,
            Some(crate::jobs::KeyState::Missing | crate::jobs::KeyState::Unavailable(_))
        ) && self.launch.session_key.is_none()
        {
            return Some("No API key: add one in Settings (or set SEGMIND_API_KEY).".into());
        }
        self.backend
            .runtime_gone
            .then(|| crate::jobs::services::WORKER_STOPPED_RESTART.into())
    }

    fn batch_table(&mut self, ui: &mut Ui) {
        let Some(t) = &self.tabs.batch.tracker else {
            return;
        };
        // A line being sent shows its job's live status, the one the Queue shows (a countdown
        // ticks here as there), not the text of the stage when it arrived.
        let session = &self.session;
        let live = |i: usize| {
            let id = t.job_of(i)?;
            session.job(id).map(|j| j.status_text(session.now))
        };
        use egui_extras::{Column, TableBuilder};
        TableBuilder::new(ui)
            .striped(true)
            .column(Column::exact(36.0))
            .column(Column::initial(150.0).at_least(110.0).clip(true))
            .column(Column::exact(46.0))
            .column(Column::exact(72.0))
            .column(Column::remainder().at_least(60.0).clip(true))
            .header(20.0, |mut h| {
                for title in ["Line", "Status", "Type", "Seed", "Prompt"] {
                    h.col(|ui| {
                        ui.strong(title);
                    });
                }
            })
            .body(|body| {
                body.rows(20.0, t.lines.len(), |mut row| {
                    let i = row.index();
                    let (line, status) = (&t.lines[i], &t.status[i]);
                    row.col(|ui| {
                        ui.label(line.line_no.to_string());
                    });
                    let now = match status {
                        LineStatus::Running(_) => live(i),
                        _ => None,
                    };
                    row.col(|ui| status_cell(ui, status, now));
                    row.col(|ui| {
                        ui.label(line.params.cn_type.as_str());
                    });
                    row.col(|ui| {
                        ui.label(line.params.seed.to_string());
                    });
                    row.col(|ui| {
                        ui.add(egui::Label::new(line.params.prompt.as_str()).truncate());
                    });
                });
            });
    }
}

/// A line's status, coloured, cut with an ellipsis when narrow; the whole (and any message or
/// saved path) on hover.
fn status_cell(ui: &mut Ui, status: &LineStatus, live: Option<String>) {
    let color = match status {
        LineStatus::Saved(_) | LineStatus::SavedBefore(_) => widgets::OK,
        LineStatus::Failed { .. } | LineStatus::OverBudget(_) => widgets::ERROR,
        LineStatus::Unknown(_) => widgets::WARN,
        _ => ui.visuals().text_color(),
    };
    let label = live.unwrap_or_else(|| status.label());
    let r = ui.add(egui::Label::new(RichText::new(label.as_str()).color(color)).truncate());
    let detail = match status {
        LineStatus::Failed { message, .. } | LineStatus::OverBudget(message) => {
            Some(message.clone())
        }
        LineStatus::Unknown(d) => d.clone(),
        LineStatus::Saved(p) => p.first().map(|p| p.display().to_string()),
        LineStatus::SavedBefore(p) => Some(p.clone()),
        _ => None,
    };
    r.on_hover_text(match detail {
        Some(d) => format!("{label}: {d}"),
        None => label,
    });
}
