//! The queue panel: every job of the session with its stage, clock, and what can be done with it
//! (Cancel while it runs; Re-run, an explicit user action, after a failure or a cancel).

use egui::{RichText, Ui};

use crate::jobs::{Command, JobId, JobSpec};

use super::app::FluxApp;
use super::session::JobStatus;
use super::widgets;

/// What the user asked for in the queue this frame.
enum QueueAction {
    Cancel(JobId),
    Rerun(JobSpec),
    ClearFinished,
}

impl FluxApp {
    /// The right panel.
    pub(crate) fn queue_panel(&mut self, ui: &mut Ui) {
        let mut action = None;
        ui.horizontal(|ui| {
            widgets::heading(ui, "Queue");
            ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                let finished = self.session.jobs.iter().any(|j| !j.status.is_active());
                if ui
                    .add_enabled(finished, egui::Button::new("Clear finished").small())
                    .on_hover_text("Remove finished, failed and cancelled jobs from this list")
                    .clicked()
                {
                    action = Some(QueueAction::ClearFinished);
                }
            });
        });
        if self.session.jobs.is_empty() {
            widgets::hint_line(ui, "Nothing queued. Generate to start a job.");
        }
        egui::ScrollArea::vertical().show(ui, |ui| {
            for job in &self.session.jobs {
                egui::Frame::group(ui.style()).show(ui, |ui| {
                    ui.set_width(ui.available_width());
                    ui.horizontal(|ui| {
                        let p = &job.spec.params;
                        ui.label(RichText::new(p.cn_type.as_str()).strong());
                        ui.label(RichText::new(super::app::shorten(&p.prompt, 28)).weak())
                            .on_hover_text(p.prompt.as_str());
                    });
                    ui.horizontal(|ui| {
                        let colour = match &job.status {
                            JobStatus::Done { .. } => widgets::OK,
                            JobStatus::Failed(_) => widgets::ERROR,
                            JobStatus::Cancelled { .. } => widgets::WARN,
                            JobStatus::Active(_) => ui.visuals().text_color(),
                        };
                        if job.status.is_active() {
                            ui.spinner();
                        }
                        ui.label(RichText::new(job.status.label()).color(colour));
                        ui.label(RichText::new(widgets::seconds(job.elapsed().as_secs())).weak());
                    });
                    if job.recovered {
                        widgets::hint_line(ui, "recovered from the last session");
                    }
                    if let Some(rid) = &job.request_id {
                        widgets::hint_line(ui, &format!("request {rid}"));
                    }
                    match &job.status {
                        JobStatus::Active(_) => {
                            if ui
                                .button("Cancel")
                                .on_hover_text(
                                    "Stop this job (a request already sent may still be billed)",
                                )
                                .clicked()
                            {
                                action = Some(QueueAction::Cancel(job.id));
                            }
                        }
                        JobStatus::Done { files } => {
                            for f in files {
                                ui.label(format!("saved {f}"));
                            }
                        }
                        JobStatus::Failed(f) => {
                            widgets::error_line(ui, &f.message);
                            if f.maybe_billed {
                                widgets::warn_line(ui, "may have been billed");
                            }
                            if rerun_button(ui) {
                                action = Some(QueueAction::Rerun(job.spec.clone()));
                            }
                        }
                        JobStatus::Cancelled { maybe_billed } => {
                            if *maybe_billed {
                                widgets::warn_line(ui, "may have been billed");
                            }
                            if rerun_button(ui) {
                                action = Some(QueueAction::Rerun(job.spec.clone()));
                            }
                        }
                    }
                });
            }
        });
        match action {
            Some(QueueAction::Cancel(id)) => self.send(Command::Cancel(id)),
            Some(QueueAction::Rerun(spec)) => self.submit(spec),
            Some(QueueAction::ClearFinished) => self.session.clear_finished(),
            None => {}
        }
    }
}

fn rerun_button(ui: &mut Ui) -> bool {
    ui.button("Re-run")
        .on_hover_text("Send this job again with the same settings (billed again)")
        .clicked()
}
