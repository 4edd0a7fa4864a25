//! The queue panel: every job of the session, newest first, each on a card of one fixed height
//! whatever its state, so nothing moves under the pointer when a job ends. A card names what
//! differs between jobs (control type, strength, seed, the grid cell), the stage with a live
//! countdown and why it waits, and what can be done with it (Cancel while it runs; Re-run, an
//! explicit user action, after a failure or a cancel), both at the same place. Every line is cut to
//! the panel's width (the whole text on hover; a long detail gets two lines of a smaller font first,
//! and the seed is placed first so it is never the one cut): no message can widen the panel.

use std::time::Duration;

use super::clock::UiTime;

use egui::{Align, Layout, Rect, RichText, Sense, StrokeKind, Ui, UiBuilder, vec2};

use super::commands::UiCommand;
use super::queue_groups::{self, Row};
use crate::jobs::{Command, JobId, JobSpec, Stage};

use super::app::FluxApp;
use super::session::{JobEntry, JobStatus, pacing_reason};
use super::widgets;

/// Lines on a card: what the job is, its knobs, its stage, and one line of detail with its button.
const CARD_LINES: usize = 4;
/// How long after a job ends its Re-run button waits before it takes clicks.
pub const RERUN_ARM: std::time::Duration = std::time::Duration::from_millis(800);

/// The width of the Cancel and Re-run buttons (the same, so each lands where the other was).
const BUTTON_WIDTH: f32 = 64.0;
/// The padding inside a card.
const CARD_MARGIN: f32 = 6.0;
/// For how long after the service's "too many requests" pacing is put down to it.
const RATE_LIMIT_MEMORY: Duration = Duration::from_secs(600);

/// What the user asked for in the queue this frame.
enum QueueAction {
    Cancel(JobId),
    Rerun(Box<JobSpec>),
    /// Ask the account's history what became of a job that may have been billed.
    Check(JobId),
    /// Send this waiting job before the others.
    Next(JobId),
    /// A waiting job dragged onto another: it takes that one's place in line.
    Move {
        dragged: JobId,
        onto: JobId,
    },
    /// Load a waiting job's settings into the controls; Generate then replaces it in place.
    Edit(JobId),
    /// The jobs restored from last time: send them (the line resumes).
    ResumeRestored,
    /// The jobs restored from last time: drop them (nothing was sent for them).
    Discard(Vec<JobId>),
    ClearFinished,
    Command(UiCommand),
}

/// What a card shows besides its own job.
struct CardContext {
    now: UiTime,
    /// Why a pacing job waits.
    pacing_why: String,
    /// The jobs waiting to be sent, first to go first.
    waiting: Vec<JobId>,
    /// The line is paused: its jobs are held, not working.
    paused: bool,
    /// The waiting job whose settings are in the controls ("Edit").
    editing: Option<JobId>,
}

impl FluxApp {
    /// The right panel.
    pub(crate) fn queue_panel(&mut self, ui: &mut Ui) {
        let mut action = None;
        ui.horizontal(|ui| {
            widgets::heading(ui, "Queue");
            ui.with_layout(Layout::right_to_left(Align::Center), |ui| {
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
        let restored = self.session.restored_waiting();
        if restored.is_empty() {
            if let Some(a) = line_controls(ui, &self.session) {
                action = Some(a);
            }
        } else if let Some(a) = restored_notice(ui, restored) {
            action = Some(a);
        }
        if self.session.jobs.is_empty() {
            widgets::hint_line(ui, "Nothing queued. Generate to start a job.");
        }
        let now = self.session.now;
        let rate_limited = self
            .session
            .rate_limited_at
            .is_some_and(|t| now.since(t) < RATE_LIMIT_MEMORY);
        let cx = CardContext {
            now,
            pacing_why: pacing_reason(self.state.settings.rate_per_minute, rate_limited),
            waiting: self.session.waiting.clone(),
            paused: self.session.paused,
            editing: self.editing(),
        };
        let rows = queue_groups::rows(&self.session.jobs);
        let session = &self.session;
        let mut one_card = |ui: &mut Ui, job: &JobEntry| {
            // A card scrolled out of view only takes its room (a queue of hundreds draws the
            // few on screen).
            let room = vec2(ui.available_width(), card_height(ui));
            if !ui.is_rect_visible(Rect::from_min_size(ui.cursor().min, room)) {
                ui.allocate_space(room);
                return;
            }
            if let Some(a) = card(ui, job, session.seed_used(job.id), &cx) {
                action = Some(a);
            }
        };
        egui::ScrollArea::vertical().show(ui, |ui| {
            for row in rows {
                match row {
                    Row::Job(i) => one_card(ui, &session.jobs[i]),
                    Row::Group { key, jobs } => {
                        let members: Vec<&JobEntry> =
                            jobs.iter().filter_map(|&i| session.jobs.get(i)).collect();
                        let head = queue_groups::heading(&key, &members, &session.results);
                        egui::CollapsingHeader::new(head)
                            .id_salt(("queue_group", &key))
                            .default_open(true)
                            .show(ui, |ui| {
                                for job in members {
                                    one_card(ui, job);
                                }
                            });
                    }
                }
            }
        });
        if let Some(next) = next_tick(&self.session.jobs, now) {
            // A countdown shows whole seconds: repaint when the next one starts.
            ui.ctx().request_repaint_after(next);
        }
        match action {
            Some(QueueAction::Cancel(id)) => self.send(Command::Cancel(id)),
            Some(QueueAction::Rerun(spec)) => self.submit(*spec),
            Some(QueueAction::Check(id)) => self.check_with_segmind(id),
            Some(QueueAction::Next(id)) => self.send(Command::Reorder(vec![id])),
            Some(QueueAction::Move { dragged, onto }) => {
                let order = moved(&self.session.waiting, dragged, onto);
                self.send(Command::Reorder(order));
            }
            Some(QueueAction::Edit(id)) => self.edit_waiting(id),
            Some(QueueAction::ResumeRestored) => {
                self.session.restored.clear();
                self.send(Command::Resume);
            }
            Some(QueueAction::Discard(ids)) => {
                self.session.forget(&ids);
                for id in ids {
                    self.send(Command::Cancel(id));
                }
                // The pause was the restore's, not the user's: the queue works again.
                self.send(Command::Resume);
            }
            Some(QueueAction::Command(c)) => self.ui_commands.commands.push(c),
            Some(QueueAction::ClearFinished) => self.session.clear_finished(),
            None => {}
        }
    }
}

/// Pause (or Resume) and Cancel waiting, and the paused line under them.
fn line_controls(ui: &mut Ui, session: &super::session::Session) -> Option<QueueAction> {
    let mut action = None;
    let waiting = !session.waiting.is_empty();
    ui.horizontal(|ui| {
        let (label, hover) = if session.paused {
            ("Resume", "Send the waiting jobs again, in their order")
        } else {
            ("Pause", UiCommand::PauseQueue.tooltip())
        };
        if ui.small_button(label).on_hover_text(hover).clicked() {
            action = Some(QueueAction::Command(UiCommand::PauseQueue));
        }
        if ui
            .add_enabled(waiting, egui::Button::new("Cancel waiting").small())
            .on_hover_text(UiCommand::CancelWaiting.tooltip())
            .clicked()
        {
            action = Some(QueueAction::Command(UiCommand::CancelWaiting));
        }
    });
    if session.paused {
        widgets::warn_line(ui, "Paused: nothing new is sent; jobs in flight finish.");
    }
    action
}

/// The one notice for the jobs left waiting last time (back, paused): Resume or Discard. It
/// stands in for the line's controls until answered.
fn restored_notice(ui: &mut Ui, restored: Vec<JobId>) -> Option<QueueAction> {
    let mut action = None;
    let n = restored.len();
    let jobs = if n == 1 { "job" } else { "jobs" };
    widgets::warn_line(
        ui,
        &format!("{n} {jobs} waiting from last time (not sent yet):"),
    );
    ui.horizontal(|ui| {
        if ui
            .button("Resume")
            .on_hover_text("Send them now, in their order (each is billed)")
            .clicked()
        {
            action = Some(QueueAction::ResumeRestored);
        }
        if ui
            .button("Discard")
            .on_hover_text("Remove them from the queue: nothing was sent or paid for them")
            .clicked()
        {
            action = Some(QueueAction::Discard(restored));
        }
    });
    action
}

/// The line after `dragged` was dropped onto `onto`: it takes `onto`'s place (dragged down, it
/// goes after it; up, before it).
pub(crate) fn moved(waiting: &[JobId], dragged: JobId, onto: JobId) -> Vec<JobId> {
    let Some(to) = waiting.iter().position(|w| *w == onto) else {
        return waiting.to_vec();
    };
    let mut order: Vec<JobId> = waiting.iter().copied().filter(|w| *w != dragged).collect();
    if order.len() == waiting.len() {
        return waiting.to_vec(); // not in line (sent meanwhile)
    }
    order.insert(to.min(order.len()), dragged);
    order
}

/// How long until the soonest countdown shown changes its number, if any is running.
fn next_tick(jobs: &[JobEntry], now: UiTime) -> Option<Duration> {
    jobs.iter()
        .filter_map(|j| j.time_left(now))
        .filter(|left| !left.is_zero())
        .map(|left| match left.subsec_nanos() {
            0 => Duration::from_secs(1),
            n => Duration::from_nanos(u64::from(n)),
        })
        .min()
}

/// The height of every card (it depends on the style only, never on the job).
fn card_height(ui: &Ui) -> f32 {
    let row = ui.spacing().interact_size.y;
    let gap = ui.spacing().item_spacing.y;
    CARD_LINES as f32 * row + (CARD_LINES - 1) as f32 * gap + 2.0 * CARD_MARGIN
}

/// One job's card, `seed` the seed its result was made with (when it has one). Each line is laid
/// out in its own fixed rectangle, so the lines and the button keep their places whatever the
/// texts.
fn card(ui: &mut Ui, job: &JobEntry, seed: Option<i64>, cx: &CardContext) -> Option<QueueAction> {
    // Waiting: in the runtime's line and not started (a stage past Queued means it was sent).
    let place = cx
        .waiting
        .iter()
        .position(|w| *w == job.id)
        .filter(|_| job.status == JobStatus::Active(Stage::Queued));
    // A waiting job's card can be dragged onto another waiting job's place.
    let sense = if place.is_some() {
        Sense::drag()
    } else {
        Sense::hover()
    };
    let (rect, resp) = ui.allocate_exact_size(vec2(ui.available_width(), card_height(ui)), sense);
    let look = &ui.visuals().widgets.noninteractive;
    ui.painter()
        .rect_stroke(rect, look.corner_radius, look.bg_stroke, StrokeKind::Inside);
    if cx.editing == Some(job.id) {
        // The job whose settings are in the controls.
        let stroke = egui::Stroke::new(2.0, widgets::WARN);
        ui.painter()
            .rect_stroke(rect, 2.0, stroke, StrokeKind::Inside);
    }
    let mut dropped = None;
    if place.is_some() {
        resp.dnd_set_drag_payload(job.id);
        let resp = resp.on_hover_cursor(egui::CursorIcon::Grab);
        if resp
            .dnd_hover_payload::<JobId>()
            .is_some_and(|p| *p != job.id)
        {
            let stroke = egui::Stroke::new(2.0, ui.visuals().selection.bg_fill);
            ui.painter()
                .rect_stroke(rect, 2.0, stroke, StrokeKind::Inside);
        }
        if let Some(p) = resp.dnd_release_payload::<JobId>()
            && *p != job.id
        {
            dropped = Some(QueueAction::Move {
                dragged: *p,
                onto: job.id,
            });
        }
    }
    let inner = rect.shrink(CARD_MARGIN);
    let row_h = ui.spacing().interact_size.y;
    let gap = ui.spacing().item_spacing.y;
    let mut line = |i: usize, layout: Layout| {
        let top = inner.min + vec2(0.0, i as f32 * (row_h + gap));
        let max_rect = Rect::from_min_size(top, vec2(inner.width(), row_h));
        let mut child = ui.new_child(
            UiBuilder::new()
                .id_salt(("queue_card", job.id, i))
                .max_rect(max_rect)
                .layout(layout),
        );
        child.shrink_clip_rect(rect);
        if place.is_some() {
            // A press on a waiting card's text drags the card (it does not select the text).
            child.style_mut().interaction.selectable_labels = false;
        }
        child
    };
    let row = Layout::left_to_right(Align::Center);
    identity_line(&mut line(0, row), job);
    knobs_line(&mut line(1, row), job, seed);
    // Held in a paused line: no spinner (nothing is working on it).
    let held = cx.paused && place.is_some();
    stage_line(
        &mut line(2, Layout::right_to_left(Align::Center)),
        job,
        cx.now,
        held,
    );
    let mut button_line = line(3, Layout::right_to_left(Align::Center));
    let action = card_button(&mut button_line, job, cx.now, place).or(dropped);
    // The detail takes the room left of the button, down to the card's edge: two lines of a
    // smaller font when one line of the body font cannot hold it.
    let room = button_line.available_rect_before_wrap();
    let area = Rect::from_min_max(room.min, egui::pos2(room.max.x, rect.max.y - 1.0));
    let mut detail_ui = ui.new_child(
        UiBuilder::new()
            .id_salt(("queue_card", job.id, "detail"))
            .max_rect(area)
            .layout(Layout::top_down(Align::Min)),
    );
    detail_ui.shrink_clip_rect(rect);
    if place.is_some() {
        detail_ui.style_mut().interaction.selectable_labels = false;
    }
    let text = detail(&detail_ui, job, cx);
    detail_text(&mut detail_ui, text, row_h);
    action
}

/// The card's detail in `ui`: on one line (centred on a card line of `row_h`) when it fits there
/// whole, else wrapped to two lines of a font small enough for both to fit, cut after that (the
/// whole text on hover).
fn detail_text(ui: &mut Ui, text: RichText, row_h: f32) {
    let body = egui::TextStyle::Body.resolve(ui.style());
    let width = ui.available_width();
    let one_line = ui
        .fonts_mut(|f| f.layout_no_wrap(text.text().to_owned(), body.clone(), egui::Color32::WHITE))
        .size()
        .x;
    if one_line <= width {
        let rect = Rect::from_min_size(ui.cursor().min, vec2(width, row_h));
        ui.scope_builder(
            UiBuilder::new()
                .max_rect(rect)
                .layout(Layout::left_to_right(Align::Center)),
            |ui| cut(ui, text),
        );
        return;
    }
    let room = ui.available_height();
    let body_row = ui.fonts_mut(|f| f.row_height(&body));
    let size = (body.size * room / (2.0 * body_row)).clamp(8.0, body.size);
    let mut job = egui::text::LayoutJob::default();
    text.size(size).append_to(
        &mut job,
        ui.style(),
        egui::FontSelection::Default,
        Align::Min,
    );
    job.wrap.max_rows = 2;
    job.wrap.overflow_character = Some('…');
    ui.add(egui::Label::new(job).wrap());
}

/// A label cut to the room left on its line, the whole text on hover.
fn cut(ui: &mut Ui, text: impl Into<egui::WidgetText>) -> egui::Response {
    ui.add(egui::Label::new(text).truncate())
}

/// The control type, then the grid cell (or the prompt for a single job).
fn identity_line(ui: &mut Ui, job: &JobEntry) {
    let p = &job.spec.params;
    cut(ui, RichText::new(p.cn_type.as_str()).strong());
    match &job.spec.group {
        Some(g) => {
            ui.add(
                egui::Label::new(RichText::new(&g.label).weak())
                    .truncate()
                    .show_tooltip_when_elided(false),
            )
            .on_hover_text(format!(
                "Cell {} · row {}, column {}\n{}",
                g.label,
                g.row + 1,
                g.col + 1,
                p.prompt
            ));
        }
        None => {
            // Cut in the middle: prompts that differ at their end still look different.
            let width = ui.available_width();
            let shown = widgets::middle_cut(ui, &p.prompt, width);
            ui.add(egui::Label::new(RichText::new(shown).weak()).truncate())
                .on_hover_text(p.prompt.as_str());
        }
    }
}

/// What else tells jobs apart: the seed (the one the result used) first and whole, as it is what
/// gets copied; then the strength, and steps and guidance when there is room for them whole. The
/// whole line shows on hover.
fn knobs_line(ui: &mut Ui, job: &JobEntry, seed: Option<i64>) {
    let p = &job.spec.params;
    let seed = match seed {
        Some(s) => s.to_string(),
        None if p.seed < 0 => "random".to_owned(),
        None => p.seed.to_string(),
    };
    let strength = format!("cn_strength {}", p.cn_strength);
    let steps = format!("steps {} · guidance {}", p.steps, p.guidance);
    let all = format!("seed {seed} · {strength} · {steps}");
    cut(ui, format!("seed {seed}")).on_hover_text(&all);
    if fits(ui, &strength) || ui.available_width() >= 48.0 {
        cut(ui, strength).on_hover_text(&all);
    }
    if fits(ui, &steps) {
        cut(ui, RichText::new(steps).weak());
    }
}

/// Whether `text` fits whole in the room left on `ui`'s line.
fn fits(ui: &Ui, text: &str) -> bool {
    let body = egui::TextStyle::Body.resolve(ui.style());
    let w = ui
        .fonts_mut(|f| f.layout_no_wrap(text.to_owned(), body, egui::Color32::WHITE))
        .size()
        .x;
    w <= ui.available_width()
}

/// The stage (a live countdown while it waits), whether it may have been billed, and the clock at
/// the right.
fn stage_line(ui: &mut Ui, job: &JobEntry, now: UiTime, held: bool) {
    ui.label(RichText::new(widgets::seconds(job.elapsed(now).as_secs())).weak());
    ui.with_layout(Layout::left_to_right(Align::Center), |ui| {
        let colour = match &job.status {
            JobStatus::Done { .. } => widgets::OK,
            JobStatus::Failed(_) => widgets::ERROR,
            JobStatus::Cancelled { .. } => widgets::WARN,
            JobStatus::Active(_) => ui.visuals().text_color(),
        };
        if job.status.is_active() && !held {
            ui.spinner();
        }
        cut(ui, RichText::new(job.status_text(now)).color(colour));
        let billed = match &job.status {
            JobStatus::Failed(f) => f.maybe_billed,
            JobStatus::Cancelled { maybe_billed } => *maybe_billed,
            _ => false,
        };
        if billed {
            cut(
                ui,
                RichText::new("may have been billed").color(widgets::WARN),
            );
        }
    });
}

/// The button at the right (Cancel while the job runs, Re-run after a failure or a cancel, at the
/// same place); the detail (why it waits, the error, what was saved) goes left of it.
fn card_button(
    ui: &mut Ui,
    job: &JobEntry,
    now: UiTime,
    place: Option<usize>,
) -> Option<QueueAction> {
    let size = vec2(BUTTON_WIDTH, ui.spacing().interact_size.y);
    let mut action = None;
    match &job.status {
        JobStatus::Active(_) => {
            let cancel = egui::Button::new("Cancel").min_size(size);
            if ui
                .add(cancel)
                .on_hover_text("Stop this job (a request already sent may still be billed)")
                .clicked()
            {
                action = Some(QueueAction::Cancel(job.id));
            }
            // A job waiting behind others can go first.
            if place.is_some_and(|p| p > 0)
                && ui
                    .add(egui::Button::new("Next").small())
                    .on_hover_text("Send this job before the others waiting (it goes as soon as a slot is free)")
                    .clicked()
            {
                action = Some(QueueAction::Next(job.id));
            }
            // A batch line is the file's: it is edited there.
            if place.is_some()
                && job.spec.batch.is_none()
                && ui
                    .add(egui::Button::new("Edit").small())
                    .on_hover_text("Load its settings into the controls; Generate then puts the changed job back in its place (drag a waiting card to move it)")
                    .clicked()
            {
                action = Some(QueueAction::Edit(job.id));
            }
        }
        JobStatus::Failed(_) | JobStatus::Cancelled { .. } => {
            // Re-run appears where Cancel was: it waits a moment before it takes clicks, so a
            // Cancel click that lands just as the job fails never re-sends a paid job.
            let since = job.finished.map_or(RERUN_ARM, |t| now.since(t));
            let armed = since >= RERUN_ARM;
            if !armed {
                ui.ctx().request_repaint_after(RERUN_ARM - since);
            }
            let rerun = egui::Button::new("Re-run").min_size(size);
            if ui
                .add_enabled(armed, rerun)
                .on_hover_text("Send this job again with the same settings (billed again)")
                .clicked()
            {
                action = Some(QueueAction::Rerun(Box::new(job.spec.clone())));
            }
            let billed = match &job.status {
                JobStatus::Failed(f) => f.maybe_billed,
                JobStatus::Cancelled { maybe_billed } => *maybe_billed,
                _ => false,
            };
            if billed
                && ui
                    .add(egui::Button::new("Check").small())
                    .on_hover_text(
                        "Check with Segmind: ask your account's request history what became of \
                         it. A completed request's image is fetched and saved (not paid for \
                         again), a failed one is said not billed. Nothing is sent again",
                    )
                    .clicked()
            {
                action = Some(QueueAction::Check(job.id));
            }
        }
        JobStatus::Done { .. } => {}
    }
    action
}

/// The card's line of detail.
fn detail(ui: &Ui, job: &JobEntry, cx: &CardContext) -> RichText {
    let weak = |s: String| RichText::new(s).weak();
    match &job.status {
        JobStatus::Active(Stage::Pacing { .. }) => {
            RichText::new(cx.pacing_why.as_str()).color(widgets::WARN)
        }
        JobStatus::Active(Stage::RateLimited { .. }) => {
            RichText::new("the service said too many requests (429): waiting the time it asked for")
                .color(widgets::WARN)
        }
        JobStatus::Active(Stage::Retrying { reason, .. }) => {
            RichText::new(reason.as_str()).color(widgets::WARN)
        }
        JobStatus::Active(_) if job.recovered => weak("recovered from the last session".into()),
        JobStatus::Active(_) => match &job.request_id {
            Some(rid) => weak(format!("request {rid}")),
            None => weak(format!("input {}", job.spec.input.describe())),
        },
        JobStatus::Done { files } => {
            RichText::new(format!("saved {}", files.join(", "))).color(ui.visuals().text_color())
        }
        JobStatus::Failed(f) => RichText::new(f.message.as_str()).color(widgets::ERROR),
        JobStatus::Cancelled { .. } => weak(format!("input {}", job.spec.input.describe())),
    }
}

#[cfg(test)]
mod tests {
    use super::moved;

    #[test]
    fn a_dropped_card_takes_the_place_it_was_dropped_on() {
        let line = [1, 2, 3, 4];
        assert_eq!(moved(&line, 4, 2), [1, 4, 2, 3], "up: before it");
        assert_eq!(moved(&line, 1, 3), [2, 3, 1, 4], "down: after it");
        assert_eq!(
            moved(&line, 9, 2),
            line,
            "a job sent meanwhile moves nothing"
        );
        assert_eq!(moved(&line, 2, 9), line);
    }
}
