//! What Generate does between its click and the queue: a prompt with `{a|b}` groups becomes its
//! variations, shown with their count and cost and sent (one job per prompt, like a comparison's
//! cells) only when the artist confirms; a single job identical to one that finished (the same
//! settings, seed and control image) asks before paying for the same picture again, whether it
//! finished in this session or is anywhere in the gallery.
//!
//! The gallery is asked off the UI thread ([`crate::jobs::Services::find_same`]); until it
//! answers, Generate waits (the button says so, the window stays responsive) and nothing is sent.
//! A seed picked at random (by the server, or fresh for the run) never repeats a picture, so it is
//! not looked up.

use super::app::FluxApp;
use super::state::SeedMode;
use super::widgets;
use crate::api::params::RANDOM_SEED;
use crate::gallery::Entry;
use crate::jobs::variations::{self, VariationError};
use crate::jobs::{self, JobId, JobSpec, ServiceError, services};

/// The gallery's answer to "was this made already?".
type SameReply = services::Pending<Result<Option<Entry>, ServiceError>>;

/// The most variations' prompts the confirmation lists (the rest are counted).
const LISTED_PROMPTS: usize = 12;

/// Generate's work that waits for the gallery or the artist.
#[derive(Default)]
pub struct Sending {
    /// A job waiting for the gallery's answer: was it made already?
    checking: Option<(JobSpec, SameReply)>,
    /// The gallery's picture the job waiting in the same-picture question would make again
    /// (`None`: one of this session's jobs made it).
    pub duplicate_of: Option<Entry>,
    /// Variations waiting for the artist's go.
    variations: Option<Vec<JobSpec>>,
    /// The job being asked for goes before every waiting job ("Generate next").
    pub front: bool,
    /// The waiting job whose settings are in the controls ("Edit" on its card): Generate
    /// replaces it in its place.
    pub editing: Option<JobId>,
}

impl Sending {
    /// Whether Generate is waiting for the gallery's answer.
    pub fn checking(&self) -> bool {
        self.checking.is_some()
    }

    /// Answers "Cancel" to the question about sending variations, if one is asked.
    pub fn cancel_variations(&mut self) {
        self.variations = None;
    }
}

/// A variation error as the window says it.
fn template_error(e: &VariationError) -> String {
    format!("Variations: {e}.")
}

impl FluxApp {
    /// "Edit" on a waiting job's card: its input and settings go into the controls; Generate then
    /// replaces it in its place in line ("Stop editing" leaves it as it was).
    pub(crate) fn edit_waiting(&mut self, id: JobId) {
        let Some(spec) = self.session.job(id).map(|j| j.spec.clone()) else {
            return;
        };
        let same_input = self
            .inputs
            .input
            .as_ref()
            .is_some_and(|i| i.source == spec.input);
        if !same_input {
            self.set_input(spec.input.clone());
        }
        if let Some(v) = self.inputs.input.as_mut() {
            v.framing = super::framing_panel::FramingUi::of(spec.framing);
        }
        self.state.params = spec.params.clamped();
        self.state.settings.seed_mode = SeedMode::Locked;
        // The line above Generate says so ("Editing a waiting job", Stop editing).
        self.knobs.sending.editing = Some(id);
    }

    /// How the input on screen is framed now (what Generate sends).
    pub(crate) fn framing_now(&self) -> crate::api::framing::Framing {
        self.inputs
            .input
            .as_ref()
            .map(|v| v.framing.framing)
            .unwrap_or_default()
    }

    /// The waiting job being edited, while it still waits.
    pub(crate) fn editing(&self) -> Option<JobId> {
        self.knobs
            .sending
            .editing
            .filter(|id| self.session.waiting.contains(id))
    }

    /// Queues `spec` as job `id`: in the place of the job being edited when there is one still
    /// waiting (in its group, if it had one), else as a new job. Returns whether it replaced one.
    pub(crate) fn replace_edited(&mut self, id: JobId, spec: &mut JobSpec) -> bool {
        let Some(old) = self.knobs.sending.editing.take() else {
            return false;
        };
        let Some(old_spec) = self
            .session
            .job(old)
            .filter(|_| self.session.waiting.contains(&old))
            .map(|j| j.spec.clone())
        else {
            self.push_notice(
                "The job you were editing was sent (or cancelled) meanwhile: this one is queued as a new job."
                    .to_owned(),
            );
            return false;
        };
        if spec.group.is_none() {
            spec.group = old_spec.group;
        }
        let entry = super::session::JobEntry::new(id, spec.clone(), self.session.now);
        self.session.replace_job(old, entry);
        // It keeps its place: "Generate next" does not move it.
        self.knobs.sending.front = false;
        self.send(crate::jobs::Command::Replace {
            old,
            id,
            spec: spec.clone(),
        });
        true
    }

    /// Why the prompt's `{a|b}` groups cannot be expanded, if they cannot (an unbalanced brace,
    /// too many prompts, a blank or repeated prompt).
    pub(crate) fn template_problem(&self) -> Option<String> {
        let prompt = &self.state.params.prompt;
        if !prompt.contains(['{', '}']) {
            return None;
        }
        variations::expand_choices(prompt)
            .err()
            .map(|e| template_error(&e))
    }

    /// How many prompts one click sends: the prompt's variations (1 without groups).
    pub(crate) fn variation_count(&self) -> usize {
        let prompt = &self.state.params.prompt;
        if !variations::has_groups(prompt) {
            return 1;
        }
        variations::count(prompt).map_or(1, |n| usize::try_from(n).unwrap_or(usize::MAX))
    }

    /// The images one click of Generate asks for: the samples of each variation.
    pub(crate) fn images_per_click(&self) -> usize {
        self.variation_count()
            .saturating_mul(self.state.params.samples.max(1) as usize)
    }

    /// The click's job, once built: its variations go to the confirmation; a single job is
    /// checked against this session's and the gallery's results first, then queued.
    pub(crate) fn check_then_submit(&mut self, spec: JobSpec) {
        if self.knobs.sending.checking.is_some() {
            return;
        }
        let template = spec.params.prompt.clone();
        if variations::has_groups(&template) {
            match variations::specs(&template, &[spec], jobs::next_job_id()) {
                Ok(specs) => self.knobs.sending.variations = Some(specs),
                Err(e) => self.push_notice(template_error(&e)),
            }
            return;
        }
        if self.made_already(&spec) {
            self.knobs.sending.duplicate_of = None;
            self.knobs.confirm_duplicate = Some(spec);
            return;
        }
        let random = spec.params.seed == RANDOM_SEED
            || self.state.settings.seed_mode == SeedMode::FreshRandom;
        if random {
            self.submit(spec);
            return;
        }
        let side = self.state.settings.sanitized().max_input_side;
        let reply = self.backend.jobs.services().find_same(
            spec.params.clone(),
            spec.input.clone(),
            spec.framing,
            side,
        );
        self.knobs.sending.checking = Some((spec, reply));
    }

    /// The gallery's answer, when it came: the same picture asks first, anything else is queued.
    fn poll_same(&mut self) {
        let Some((_, reply)) = self.knobs.sending.checking.as_mut() else {
            return;
        };
        let answer = match reply.poll() {
            services::Poll::Waiting => return,
            services::Poll::Ready(a) => Some(a),
            services::Poll::Lost => None,
        };
        let Some((spec, _)) = self.knobs.sending.checking.take() else {
            return;
        };
        match answer {
            Some(Ok(Some(made))) => {
                self.knobs.sending.duplicate_of = Some(made);
                self.knobs.confirm_duplicate = Some(spec);
            }
            Some(Ok(None)) => self.submit(spec),
            Some(Err(e)) => {
                self.push_notice(format!(
                    "The gallery could not be checked for the same picture ({e}); the job was \
                     sent."
                ));
                self.submit(spec);
            }
            // The worker stopped: sending says so.
            None => self.submit(spec),
        }
    }

    /// Each frame: the gallery's answer, the same-picture question and the variations'
    /// confirmation.
    pub(crate) fn sending_windows(&mut self, ctx: &egui::Context) {
        self.poll_same();
        self.duplicate_window(ctx);
        self.refine_window(ctx);
        self.variations_window(ctx);
    }

    /// Asks before sending a template's variations: their count and cost, their prompts.
    fn variations_window(&mut self, ctx: &egui::Context) {
        let Some(specs) = self.knobs.sending.variations.as_ref() else {
            return;
        };
        let images: usize = specs.iter().map(|s| s.params.samples.max(1) as usize).sum();
        let made = specs.iter().filter(|s| self.made_already(s)).count();
        let summary = variations_summary(specs.len(), images, self.cost_per_image_now());
        let prompts: Vec<String> = specs
            .iter()
            .filter(|s| s.group.as_ref().is_none_or(|g| g.row == 0))
            .map(|s| s.params.prompt.clone())
            .collect();
        let template = specs
            .first()
            .and_then(|s| s.prompt_template.clone())
            .unwrap_or_default();
        let n = specs.len();
        // Esc answers "Cancel", as in any dialog.
        let mut decided = ctx
            .input_mut(|i| i.consume_key(egui::Modifiers::NONE, egui::Key::Escape))
            .then_some(false);
        egui::Window::new("Send the variations?")
            .collapsible(false)
            .resizable(false)
            .anchor(egui::Align2::CENTER_CENTER, egui::vec2(0.0, 0.0))
            .show(ctx, |ui| {
                ui.label(egui::RichText::new(&summary).strong());
                ui.add(egui::Label::new(format!("from {template}")).wrap());
                for p in prompts.iter().take(LISTED_PROMPTS) {
                    ui.add(egui::Label::new(format!("• {p}")).truncate());
                }
                if prompts.len() > LISTED_PROMPTS {
                    ui.weak(format!("… and {} more", prompts.len() - LISTED_PROMPTS));
                }
                if made > 0 {
                    widgets::warn_line(
                        ui,
                        &format!(
                            "{made} of them finished in this session with exactly these \
                             settings and seed: the same pictures, billed again."
                        ),
                    );
                }
                ui.horizontal(|ui| {
                    let send = if n == 1 {
                        "Send 1 job".to_owned()
                    } else {
                        format!("Send {n} jobs")
                    };
                    if ui.button(send).clicked() {
                        decided = Some(true);
                    }
                    if ui.button("Cancel").clicked() {
                        decided = Some(false);
                    }
                });
            });
        match decided {
            Some(true) => self.send_variations(images),
            Some(false) => self.knobs.sending.variations = None,
            None => {}
        }
    }

    /// Queues the confirmed variations, one job each, unless today's budget no longer fits them.
    fn send_variations(&mut self, images: usize) {
        let Some(specs) = self.knobs.sending.variations.take() else {
            return;
        };
        if let Some(refusal) = self.budget_blocker(images) {
            self.push_notice(format!("Nothing was sent. {refusal}"));
            return;
        }
        for spec in specs {
            self.submit(spec);
        }
    }

    /// The cost of one image as last heard from the service (else the typical cost).
    pub(crate) fn cost_per_image_now(&self) -> f64 {
        self.session
            .last_cost_per_image
            .filter(|c| c.is_finite() && *c > 0.0)
            .unwrap_or(crate::api::DEFAULT_COST_PER_IMAGE)
    }
}

/// `3 variations ≈ $0.14`, or with several images each `3 variations × 2 images ≈ $0.29`.
pub fn variations_summary(jobs: usize, images: usize, each: f64) -> String {
    let noun = if jobs == 1 { "variation" } else { "variations" };
    let cost = images as f64 * each;
    if images == jobs {
        format!("{jobs} {noun} ≈ ${cost:.2}")
    } else {
        format!(
            "{jobs} {noun} × {} images ≈ ${cost:.2}",
            images / jobs.max(1)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_gives_the_count_and_the_cost() {
        assert_eq!(variations_summary(3, 3, 0.048), "3 variations ≈ $0.14");
        assert_eq!(variations_summary(1, 1, 0.048), "1 variation ≈ $0.05");
        assert_eq!(
            variations_summary(3, 6, 0.048),
            "3 variations × 2 images ≈ $0.29"
        );
    }
}
