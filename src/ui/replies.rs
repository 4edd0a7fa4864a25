//! The window's message loop, run once per frame: job events from the runtime (stages, results,
//! failures, recovered jobs, notices) and the replies to the app's own service calls (the input
//! preview, settings read from a dropped file, the credit balance, the key's state). Panels poll
//! their own replies; nothing here routes another panel's answer.

use super::app::{CreditsView, FluxApp, credits_total, texture};
use super::session::JobEntry;
use crate::jobs::{Event, InputSource, KeyState, Poll, services};

impl FluxApp {
    /// Drains every waiting job event, the file dialog's answer and pasted images.
    pub(crate) fn drain_events(&mut self, ctx: &egui::Context) {
        while let Some(ev) = self.backend.jobs.try_recv() {
            self.apply_event(ctx, ev);
        }
        for (_, picked) in self.inputs.picking.ready(usize::MAX) {
            match picked {
                Ok(Some(path)) => self.set_input(InputSource::File(path)),
                // Cancelled: nothing changes.
                Ok(None) => {}
                Err(stopped) => self.push_notice(format!("The file dialog closed: {stopped}.")),
            }
        }
        for (_, pasted) in self.inputs.pasting.ready(usize::MAX) {
            match pasted {
                Ok(Ok((name, png))) => self.set_input(InputSource::Bytes {
                    name,
                    data: std::sync::Arc::new(png),
                }),
                Ok(Err(problem)) => self.push_notice(problem),
                Err(stopped) => self.push_notice(format!("The pasted image was lost: {stopped}.")),
            }
        }
    }

    /// A notice that belongs to no job (the last five are kept; the same text twice is shown once,
    /// as the newest).
    pub(crate) fn push_notice(&mut self, msg: String) {
        self.notices.retain(|n| *n != msg);
        self.notices.push(msg);
        if self.notices.len() > 5 {
            self.notices.remove(0);
        }
    }

    /// Applies one job event to the window's state. The comparison and the gallery see every job
    /// event too (their cells are jobs; a new result refreshes the gallery); the queue lists all.
    pub(crate) fn apply_event(&mut self, ctx: &egui::Context, ev: Event) {
        self.tabs.compare.handle_event(&ev, ctx);
        self.tabs.gallery.handle_event(&ev, ctx);
        self.tabs.batch.handle_event(&ev);
        match ev {
            Event::Stage { id, stage } => self.session.on_stage(id, stage),
            Event::Done {
                id,
                images,
                accounting,
            } => {
                if let Some(c) = accounting.remaining_credits.filter(|c| c.is_finite()) {
                    // The answer's remaining credits; the free credits stay as last read.
                    let free = match &self.account.credits {
                        Some(CreditsView::Known { free, .. }) => *free,
                        _ => None,
                    };
                    self.account.credits = Some(CreditsView::Known { credits: c, free });
                }
                // Recorded in the ledger before the event was sent.
                self.account.spend.refresh(self.backend.jobs.services());
                let new = self.session.on_done(id, images, accounting);
                for i in new {
                    if let Some(r) = self.session.results.get_mut(i) {
                        match r.saved.preview.clone() {
                            Some(img) => {
                                r.texture = Some(texture(ctx, &format!("result-{id}-{i}"), &img))
                            }
                            None => {
                                r.preview_problem = Some(format!(
                                    "No preview could be made; the image is saved at {}",
                                    r.saved.path.display()
                                ))
                            }
                        }
                    }
                }
                self.results.view.reset();
            }
            Event::Failed { id, failure } => {
                // A 404 for every job: the base URL most likely lacks its /v1.
                let base = self
                    .launch
                    .base_override
                    .clone()
                    .unwrap_or_else(|| self.state.settings.api_base.clone());
                if failure.kind == crate::jobs::FailureKind::Http(404)
                    && super::settings::missing_version(&base)
                {
                    self.push_notice(format!(
                        "The service answered 404 (not found): the base URL {base} has no /v1 at \
                         its end. Add /v1 in Settings (Segmind's API is at {}).",
                        crate::api::DEFAULT_API_BASE
                    ));
                }
                self.session.on_failed(id, failure);
            }
            Event::Cancelled { id, maybe_billed } => self.session.on_cancelled(id, maybe_billed),
            Event::Recovered {
                id,
                spec,
                request_id,
            } => {
                let mut entry = JobEntry::new(id, *spec, self.session.now);
                entry.recovered = true;
                entry.request_id = request_id;
                self.session.add_job(entry);
            }
            Event::Notice(msg) => self.push_notice(msg),
            Event::Lineup { paused, waiting } => self.session.on_lineup(paused, waiting),
            Event::Restored { jobs } => {
                for (id, spec) in jobs.into_iter().rev() {
                    self.session.restored.push(id);
                    self.session
                        .add_job(JobEntry::new(id, spec, self.session.now));
                }
            }
        }
    }

    /// A whole click refused before anything went out (the daily budget): its submits are
    /// dropped, no queue card is made, and `refusal` is said once (the comparison says it where
    /// its cells would have been).
    pub(crate) fn refuse_submits(&mut self, out: &mut Vec<crate::jobs::Command>, refusal: &str) {
        out.retain(|c| !matches!(c, crate::jobs::Command::Submit { .. }));
        self.tabs.compare.refused(refusal);
        self.push_notice(format!("Nothing was sent. {refusal}"));
    }

    /// Takes the answers to the app's own service calls that have arrived.
    pub(crate) fn poll_services(&mut self, ctx: &egui::Context) {
        self.poll_input(ctx);
        self.poll_drops();
        if let Some(answer) = services::take(&mut self.account.pending_credits) {
            self.account.credits = Some(match answer {
                Some(Ok(c)) => match credits_total(&c) {
                    Some(t) => CreditsView::Known {
                        credits: c.credits.filter(|v| v.is_finite()).unwrap_or(t),
                        free: c.free_credits.filter(|v| v.is_finite()),
                    },
                    None => {
                        CreditsView::Unavailable("the service answered without a balance".into())
                    }
                },
                Some(Err(e)) => CreditsView::Unavailable(e.to_string()),
                None => CreditsView::Unavailable(crate::jobs::services::WORKER_STOPPED.into()),
            });
        }
        if let Some(answer) = services::take(&mut self.settings_ui.pending_key) {
            self.key_changed(answer.unwrap_or_else(|| {
                KeyState::Unavailable(crate::jobs::services::WORKER_STOPPED.into())
            }));
        }
    }

    fn poll_input(&mut self, ctx: &egui::Context) {
        let Some(view) = self.inputs.input.as_mut() else {
            return;
        };
        let Some(answer) = services::take(&mut view.pending) else {
            return;
        };
        match answer {
            Some(Ok(preview)) => {
                view.texture = Some(texture(ctx, "input-preview", &preview.image));
                view.preview = Some(preview);
                view.error = None;
            }
            Some(Err(e)) => {
                view.texture = None;
                view.preview = None;
                view.error = Some(e.to_string());
            }
            None => {
                view.error = Some(crate::jobs::services::WORKER_STOPPED.into());
            }
        }
    }

    /// A dropped file with settings inside restores them; any other file becomes the input.
    fn poll_drops(&mut self) {
        let mut i = 0;
        while i < self.inputs.pending_drops.len() {
            let answer = match self.inputs.pending_drops[i].1.poll() {
                Poll::Waiting => {
                    i += 1;
                    continue;
                }
                Poll::Ready(r) => r.ok(),
                Poll::Lost => None,
            };
            let (path, _) = self.inputs.pending_drops.remove(i);
            let name = path.file_name().map_or_else(
                || path.display().to_string(),
                |n| n.to_string_lossy().into_owned(),
            );
            match answer {
                Some(r) => match r.input {
                    Some(input) => {
                        self.set_input(InputSource::File(input));
                        self.use_settings(
                            r.params,
                            &format!("{name}: {}; its input image restored too", r.summary),
                        );
                    }
                    None => self.use_settings(
                        r.params,
                        &format!(
                            "{name}: {}. It keeps no input image, so the current input stays.",
                            r.summary
                        ),
                    ),
                },
                None => self.set_input(InputSource::File(path)),
            }
        }
    }

    /// The key's state as the key store reports it: a new key refreshes the balance.
    pub(crate) fn key_changed(&mut self, k: KeyState) {
        let had_key = matches!(
            self.settings_ui.key_state,
            Some(KeyState::Stored { .. } | KeyState::FromEnv { .. })
        );
        let has_key = matches!(k, KeyState::Stored { .. } | KeyState::FromEnv { .. });
        if has_key && (!had_key || self.settings_ui.key_state.as_ref() != Some(&k)) {
            self.refresh_credits();
        }
        if !has_key && self.launch.session_key.is_none() {
            self.account.credits = None;
        }
        self.settings_ui.key_state = Some(k);
    }
}
