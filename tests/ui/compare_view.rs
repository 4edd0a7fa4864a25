//! The comparison view, hosted headless in egui_kittest with a fake command sink: what the user
//! sees and clicks (types to compare, the X/Y grid and its cost, results, retry, export, zoom and
//! the A/B swipe), and exactly which commands and requests go to the job runtime.

use crate::common;

use std::collections::HashSet;
use std::path::PathBuf;

use common::events::done_event;
use egui::accesskit::Role;
use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT, Queryable};

use fluxcn::api::{Accounting, CnType, GenParams};
use fluxcn::jobs::{
    ApiVersion, Command, Event, InputSource, JobFailure, JobId, JobSpec, SavedImage, Stage,
};
use fluxcn::ui::compare_view::{CompareMode, CompareView};
use fluxcn::ui::gallery_panel::PanelAction;
// The view's one-off requests (the grid export).
use fluxcn::jobs::Services;
use fluxcn::jobs::services::Request;

fn feed<S>(h: &mut Harness<'_, S>, inbox: impl Fn(&mut S) -> &mut Vec<Event>, ev: Event) {
    inbox(h.state_mut()).push(ev);
    h.run();
}

struct C {
    view: CompareView,
    base: GenParams,
    input: Option<InputSource>,
    inbox: Vec<Event>,
    sent: Vec<Command>,
    actions: Vec<PanelAction>,
}

fn compare(input: Option<InputSource>) -> Harness<'static, C> {
    let state = C {
        view: CompareView::default(),
        base: GenParams {
            prompt: "a dancer".into(),
            seed: -1,
            ..Default::default()
        },
        input,
        inbox: Vec::new(),
        sent: Vec::new(),
        actions: Vec::new(),
    };
    Harness::builder()
        .with_size(egui::vec2(1100.0, 800.0))
        .build_ui_state(
            |ui, s: &mut C| {
                for ev in std::mem::take(&mut s.inbox) {
                    s.view.handle_event(&ev, ui.ctx());
                }
                let sent = &mut s.sent;
                if let Some(a) =
                    s.view
                        .ui(ui, &s.base, s.input.as_ref(), ApiVersion::V1, &mut |c| {
                            sent.push(c)
                        })
                {
                    s.actions.push(a);
                }
            },
            state,
        )
}

fn input() -> Option<InputSource> {
    Some(InputSource::Url("https://example.com/dancer.jpg".into()))
}

fn feed_c(h: &mut Harness<'_, C>, ev: Event) {
    feed(h, |s| &mut s.inbox, ev);
}

fn submits(sent: &[Command]) -> Vec<(JobId, JobSpec)> {
    sent.iter()
        .filter_map(|c| match c {
            Command::Submit { id, spec } => Some((*id, spec.clone())),
            _ => None,
        })
        .collect()
}

/// Ticks all four types and clicks Compare; returns the submits.
fn compare_four(h: &mut Harness<'_, C>) -> Vec<(JobId, JobSpec)> {
    h.run();
    assert!(
        h.query_by_label("Tick the control types to compare.")
            .is_some()
    );
    for t in ["pose", "depth", "canny", "tile"] {
        h.get_by_label(t).click();
        h.run();
    }
    // The cost is on screen before anything is sent.
    assert!(h.query_by_label("4 requests ≈ $0.19").is_some());
    assert!(submits(&h.state().sent).is_empty());
    h.get_by_label("Compare").click();
    h.run();
    submits(&h.state().sent)
}

#[test]
fn comparing_four_types_sends_four_submits_with_one_seed() {
    let mut h = compare(input());
    let subs = compare_four(&mut h);
    assert_eq!(subs.len(), 4);
    let types: HashSet<CnType> = subs.iter().map(|(_, s)| s.params.cn_type).collect();
    assert_eq!(types, CnType::ALL.iter().copied().collect());
    let seed = subs[0].1.params.seed;
    assert!(seed >= 0, "a random seed is made concrete: {seed}");
    assert!(subs.iter().all(|(_, s)| s.params.seed == seed));
    assert!(subs.iter().all(|(_, s)| s.params.prompt == "a dancer"));
    let ids: HashSet<JobId> = subs.iter().map(|(id, _)| *id).collect();
    assert_eq!(ids.len(), 4);
    assert_eq!(
        h.state().view.job_ids(),
        subs.iter().map(|(id, _)| *id).collect::<Vec<_>>()
    );
    // The cells are labelled and waiting.
    assert_eq!(h.query_all_by_label_contains("queued").count(), 4);
    // Column header and cell caption.
    assert_eq!(h.query_all_by_label("cn_type: tile").count(), 2);
}

#[test]
fn results_fill_the_cells_and_retry_resends_only_the_failed_cell() {
    let mut h = compare(input());
    let subs = compare_four(&mut h);
    feed_c(
        &mut h,
        Event::Stage {
            id: subs[3].0,
            stage: Stage::Waiting,
        },
    );
    assert!(h.query_by_label("waiting for the server").is_some());
    feed_c(&mut h, done_event(subs[0].0, "/g/a.jpg"));
    feed_c(&mut h, done_event(subs[1].0, "/g/b.jpg"));
    feed_c(
        &mut h,
        Event::Failed {
            id: subs[2].0,
            failure: JobFailure {
                message: "The service failed (500): cn_type rejected".into(),
                kind: fluxcn::jobs::FailureKind::Http(500),
                maybe_billed: false,
            },
        },
    );
    assert_eq!(h.query_all_by_role(Role::Image).count(), 2);
    assert_eq!(h.query_all_by_label_contains("result: cn_type").count(), 2);
    assert!(
        h.query_by_label("The service failed (500): cn_type rejected")
            .is_some()
    );
    assert_eq!(h.query_all_by_label("Retry").count(), 1);
    assert!(h.query_by_label("2 of 4 done, 1 failed").is_some());

    let before = h.state().sent.len();
    h.get_by_label("Retry").click();
    h.run();
    let new = submits(&h.state().sent[before..]);
    assert_eq!(new.len(), 1, "{:?}", &h.state().sent[before..]);
    let (new_id, spec) = &new[0];
    assert_eq!(*spec, subs[2].1, "the failed cell's own job, unchanged");
    assert!(subs.iter().all(|(id, _)| id != new_id));
    assert!(h.query_by_label("Retry").is_none());
    // The old id no longer belongs to the view; the new one does.
    assert!(!h.state().view.job_ids().contains(&subs[2].0));
    assert!(h.state().view.job_ids().contains(new_id));

    // A cancelled cell offers a retry too.
    feed_c(
        &mut h,
        Event::Cancelled {
            id: subs[3].0,
            maybe_billed: true,
        },
    );
    assert!(h.query_by_label("Cancelled").is_some());
    assert_eq!(h.query_all_by_label("Retry").count(), 1);

    // "Use" on a result gives its settings with the seed it was made with.
    h.get_all_by_label("Use").next().unwrap().click();
    h.run();
    assert_eq!(
        h.state().actions,
        vec![PanelAction::UseSettings(GenParams {
            seed: 5,
            ..subs[0].1.params.clone()
        })]
    );
}

#[test]
fn a_two_by_three_grid_shows_its_cost_and_sends_six_submits() {
    let mut h = compare(input());
    h.run();
    h.get_by_label("X/Y grid").click();
    h.run();
    assert_eq!(h.state().view.mode(), CompareMode::Grid);
    assert!(
        h.query_by_label("Enter the values for the columns.")
            .is_some()
    );
    h.get_by_label("Column values").focus();
    h.run();
    h.get_by_label("Column values")
        .type_text("pose,depth,canny");
    h.run();
    assert!(
        h.query_by_label("Enter the values for the rows, or pick (none).")
            .is_some()
    );
    h.get_by_label("Row values").focus();
    h.run();
    h.get_by_label("Row values").type_text("0.3,0.6");
    h.run();
    assert!(h.query_by_label("6 requests ≈ $0.29").is_some());
    assert!(submits(&h.state().sent).is_empty());
    h.get_by_label("Send 6 requests").click();
    h.run();
    let subs = submits(&h.state().sent);
    assert_eq!(subs.len(), 6);
    let cells: HashSet<(String, String)> = subs
        .iter()
        .map(|(_, s)| {
            (
                s.params.cn_type.to_string(),
                s.params.cn_strength.to_string(),
            )
        })
        .collect();
    assert_eq!(cells.len(), 6);
    // Row and column labels are shown.
    assert!(h.query_by_label("cn_strength: 0.6").is_some());
    assert!(h.query_by_label("cn_type: canny").is_some());
}

#[test]
fn grid_errors_show_inline_and_nothing_is_sent_without_an_input() {
    let mut h = compare(None);
    h.run();
    h.get_by_label("X/Y grid").click();
    h.run();
    h.get_by_label("Column values").focus();
    h.run();
    h.get_by_label("Column values").type_text("pose,nope");
    h.run();
    assert!(h.query_by_label_contains("\"nope\"").is_some());
    assert!(h.query_by_label_contains("Send").is_none());

    // Fix the values: the cost shows, but without an input image nothing can be sent.
    h.get_by_label("Column values").focus();
    h.run();
    for _ in 0..5 {
        h.key_press(egui::Key::Backspace);
    }
    h.run();
    h.get_by_label("Row values").focus();
    h.run();
    h.get_by_label("Row values").type_text("0.2:1.0:0.4");
    h.run();
    assert!(h.query_by_label("3 requests ≈ $0.14").is_some());
    assert!(h.query_by_label("Choose an input image first.").is_some());
    h.get_by_label("Send 3 requests").click();
    h.run();
    assert!(submits(&h.state().sent).is_empty());
}

#[test]
fn export_sends_the_plan_with_saved_paths_and_shows_the_result() {
    let mut h = compare(input());
    let (services, requests) = Services::manual();
    h.state_mut().view.set_services(services);
    h.state_mut()
        .view
        .set_export_dir(Some(PathBuf::from("/tmp/exports")));
    let subs = compare_four(&mut h);
    feed_c(&mut h, done_event(subs[1].0, "/g/depth.jpg"));
    h.get_by_label("Export grid…").click();
    h.run();
    let asked: Vec<Request> = requests.try_iter().collect();
    let (plan, cells, out, reply) = asked
        .into_iter()
        .find_map(|r| match r {
            Request::ExportGrid {
                plan,
                cells,
                out,
                reply,
            } => Some((plan, cells, out, reply)),
            _ => None,
        })
        .expect("an ExportGrid request");
    let group = subs[0].1.group.as_ref().unwrap().group;
    // No dialog here (tests): straight to the folder, under a name that says what the grid is.
    let _ = group;
    assert_eq!(out.parent(), Some(std::path::Path::new("/tmp/exports")));
    let name = out.file_name().unwrap().to_string_lossy().into_owned();
    assert!(
        name.starts_with("grid-20") && name.ends_with("-cn_type.png") && name.len() == 30,
        "{name}"
    );
    assert_eq!(plan.cells.len(), 4);
    assert_eq!(cells.len(), 4);
    let with_image: Vec<_> = cells.iter().filter(|c| c.image.is_some()).collect();
    assert_eq!(with_image.len(), 1);
    assert_eq!(
        (
            with_image[0].row,
            with_image[0].col,
            with_image[0].image.clone()
        ),
        (0, 1, Some(PathBuf::from("/g/depth.jpg")))
    );
    assert!(h.query_by_label("Exporting the grid…").is_some());
    reply.send(Ok(out.clone())).unwrap();
    h.run();
    assert!(
        h.query_by_label(&format!("Exported to {}", out.display()))
            .is_some()
    );
    h.get_by_label("Open folder").click();
    h.run();
    assert!(
        requests
            .try_iter()
            .any(|r| matches!(r, Request::Reveal { path, .. } if path == out)),
        "Open folder asks to reveal the exported file"
    );
}

#[test]
fn a_b_swipe_shows_the_two_picked_results() {
    let mut h = compare(input());
    let subs = compare_four(&mut h);
    feed_c(&mut h, done_event(subs[0].0, "/g/a.jpg"));
    feed_c(&mut h, done_event(subs[2].0, "/g/c.jpg"));
    let a_buttons: Vec<_> = h.get_all_by_label("A").collect();
    assert_eq!(a_buttons.len(), 2);
    a_buttons[0].click();
    h.run();
    h.get_all_by_label("B").nth(1).unwrap().click();
    h.run();
    h.get_by_label("A/B swipe").click();
    h.run();
    let label = format!(
        "A/B swipe: A {}, B {}",
        subs[0].1.group.as_ref().unwrap().label,
        subs[2].1.group.as_ref().unwrap().label
    );
    assert!(h.query_by_label(&label).is_some(), "{label}");
    assert!(h.query_by_label_contains("result:").is_none());
}

#[test]
fn scrolling_over_a_result_zooms_every_cell_and_fit_resets_it() {
    let mut h = compare(input());
    let subs = compare_four(&mut h);
    feed_c(&mut h, done_event(subs[0].0, "/g/a.jpg"));
    feed_c(&mut h, done_event(subs[1].0, "/g/b.jpg"));
    assert!(h.state().view.zoom().is_fit());
    assert!(h.query_by_label("fitted").is_some());
    assert!(
        h.query_by_label("100%").is_none(),
        "fitted is not said as 100%"
    );
    let cell = h
        .get_all_by_label_contains("result:")
        .next()
        .unwrap()
        .rect();
    h.hover_at(cell.center());
    h.event(egui::Event::MouseWheel {
        unit: egui::MouseWheelUnit::Point,
        delta: egui::vec2(0.0, 200.0),
        phase: egui::TouchPhase::Move,
        modifiers: egui::Modifiers::NONE,
        source: egui::MouseWheelSource::Wheel,
    });
    // The hover tooltip and the smoothed scroll take a few frames.
    h.run_steps(12);
    let z = h.state().view.zoom();
    assert!(z.zoom() > 1.2, "{z:?}");
    let uv = z.uv_rect();
    assert!(uv.width() < 1.0 && uv.min.x >= 0.0 && uv.max.x <= 1.0);
    assert!(h.query_by_label("fitted").is_none());
    assert!(h.query_by_label_contains("of fitted").is_some());

    // Dragging a cell pans the shared view.
    h.drag_at(cell.center());
    h.step();
    for dx in [10.0, 20.0, 30.0] {
        h.hover_at(cell.center() + egui::vec2(dx, 0.0));
        h.step();
    }
    h.drop_at(cell.center() + egui::vec2(30.0, 0.0));
    h.run();
    let panned = h.state().view.zoom().uv_rect();
    assert!(panned.min.x < uv.min.x, "{panned:?} vs {uv:?}");

    h.get_by_label("Fit").click();
    h.run();
    assert!(h.state().view.zoom().is_fit());
    assert!(h.query_by_label("fitted").is_some());

    // Zoomed again, then a new comparison: it starts fitted, not at the last one's zoom.
    h.hover_at(cell.center());
    h.event(egui::Event::MouseWheel {
        unit: egui::MouseWheelUnit::Point,
        delta: egui::vec2(0.0, 200.0),
        phase: egui::TouchPhase::Move,
        modifiers: egui::Modifiers::NONE,
        source: egui::MouseWheelSource::Wheel,
    });
    h.run_steps(12);
    assert!(!h.state().view.zoom().is_fit());
    h.get_by_label("Compare").click();
    h.run();
    assert_eq!(
        submits(&h.state().sent).len(),
        8,
        "a second comparison was sent"
    );
    assert!(h.state().view.zoom().is_fit(), "a new grid starts fitted");
}

#[test]
fn dragging_the_swipe_divider_moves_it() {
    let mut h = compare(input());
    let subs = compare_four(&mut h);
    feed_c(&mut h, done_event(subs[0].0, "/g/a.jpg"));
    feed_c(&mut h, done_event(subs[1].0, "/g/b.jpg"));
    h.get_all_by_label("A").next().unwrap().click();
    h.run();
    h.get_all_by_label("B").nth(1).unwrap().click();
    h.run();
    h.get_by_label("A/B swipe").click();
    h.run();
    let view = h.get_by_label_contains("A/B swipe: A").rect();
    // The images are square, centred in the view; the divider starts in the middle.
    let side = view.width().min(view.height());
    let start = view.center();
    assert_eq!(h.state().view.swipe_split(), 0.5);
    h.hover_at(start);
    h.step();
    h.drag_at(start);
    h.step();
    let target = start - egui::vec2(side / 4.0, 0.0);
    for f in [0.25, 0.5, 1.0] {
        h.hover_at(start + (target - start) * f);
        h.step();
    }
    h.drop_at(target);
    h.run();
    let split = h.state().view.swipe_split();
    assert!((split - 0.25).abs() < 0.03, "{split}");
    // The zoom did not move: the drag went to the divider.
    assert!(h.state().view.zoom().is_fit());
}

#[test]
fn a_grid_over_the_cell_limit_is_refused_before_anything_is_sent() {
    let mut h = compare(input());
    h.run();
    h.get_by_label("X/Y grid").click();
    h.run();
    h.get_by_label("Column values").focus();
    h.run();
    h.get_by_label("Column values")
        .type_text("pose,depth,canny,tile");
    h.run();
    h.get_by_label("Row values").focus();
    h.run();
    h.get_by_label("Row values").type_text("0.1:1.7:0.1");
    h.run();
    assert!(
        h.query_by_label_contains("the grid has 68 cells; at most 64")
            .is_some()
    );
    assert!(h.query_by_label_contains("Send").is_none());
    // One value fewer fits: 64 cells, all sent, all laid out.
    for _ in 0.."0.1:1.7:0.1".len() {
        h.key_press(egui::Key::Backspace);
    }
    h.get_by_label("Row values").type_text("0.1:1.6:0.1");
    h.run();
    assert!(h.query_by_label("64 requests ≈ $3.07").is_some());
    h.get_by_label("Send 64 requests").click();
    h.run();
    assert_eq!(submits(&h.state().sent).len(), 64);
    assert_eq!(h.query_all_by_label("queued").count(), 64);
}

#[test]
fn the_cost_follows_the_last_reported_cost_and_the_samples() {
    let mut h = compare(input());
    let subs = compare_four(&mut h);
    // The service said one request of two images cost $0.10: $0.05 an image from now on.
    feed_c(
        &mut h,
        Event::Done {
            id: subs[0].0,
            images: vec![
                SavedImage {
                    path: "/g/1.jpg".into(),
                    sidecar: "/g/1.json".into(),
                    width: 8,
                    height: 8,
                    seed: 1,
                    preview: None,
                },
                SavedImage {
                    path: "/g/2.jpg".into(),
                    sidecar: "/g/2.json".into(),
                    width: 8,
                    height: 8,
                    seed: 1,
                    preview: None,
                },
            ],
            accounting: Accounting {
                cost: Some(0.10),
                ..Default::default()
            },
        },
    );
    assert!((h.state().view.cost_per_image() - 0.05).abs() < 1e-9);
    assert!(h.query_by_label("Saved (no preview)").is_some());
    h.state_mut().base.samples = 2;
    h.run();
    assert!(h.query_by_label("4 requests, 8 images ≈ $0.40").is_some());
}

/// A "Save as" dialog that answers at once with a fixed choice.
struct ChosenPath(Option<PathBuf>);
impl fluxcn::ui::SaveDialog for ChosenPath {
    fn save_png(
        &self,
        dir: PathBuf,
        name: String,
        wake: Box<dyn Fn() + Send>,
    ) -> fluxcn::jobs::Pending<Option<PathBuf>> {
        assert_eq!(dir, PathBuf::from("/tmp/exports"));
        assert!(
            name.starts_with("grid-") && name.ends_with(".png"),
            "{name}"
        );
        wake();
        fluxcn::jobs::Pending::ready(self.0.clone())
    }
}

#[test]
fn export_asks_where_to_save_and_a_cancel_writes_nothing() {
    for (choice, want) in [
        (None, None),
        (
            Some(PathBuf::from("/home/artist/knight-grid")),
            Some(PathBuf::from("/home/artist/knight-grid.png")),
        ),
    ] {
        let mut h = compare(input());
        let (services, requests) = Services::manual();
        h.state_mut().view.set_services(services);
        h.state_mut()
            .view
            .set_export_dir(Some(PathBuf::from("/tmp/exports")));
        h.state_mut()
            .view
            .set_save_dialog(std::sync::Arc::new(ChosenPath(choice)));
        let subs = compare_four(&mut h);
        feed_c(&mut h, done_event(subs[1].0, "/g/depth.jpg"));
        h.get_by_label("Export grid…").click();
        h.run();
        let out = requests.try_iter().find_map(|r| match r {
            Request::ExportGrid { out, .. } => Some(out),
            _ => None,
        });
        assert_eq!(out, want, "the path chosen in the dialog, with .png added");
    }
}

/// When the last cell comes in, the toolbar does not jump: "Cancel remaining" stays in its place,
/// greyed out, and every button after it keeps its place.
#[test]
fn the_toolbar_does_not_jump_when_a_run_finishes() {
    let mut h = compare(input());
    let subs = compare_four(&mut h);
    let fit = h.get_by_label("Fit").rect();
    let cancel = h.get_by_label("Cancel remaining").rect();
    for (i, (id, _)) in subs.iter().enumerate() {
        feed_c(&mut h, done_event(*id, &format!("/g/{i}.jpg")));
    }
    assert!(h.query_by_label("4 of 4 done").is_some());
    assert_eq!(h.get_by_label("Fit").rect(), fit, "Fit moved");
    let after = h.get_by_label("Cancel remaining");
    assert_eq!(after.rect(), cancel, "Cancel remaining moved");
    assert!(
        after.accesskit_node().is_disabled(),
        "nothing left to cancel"
    );
}
