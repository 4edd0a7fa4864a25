//! The gallery as a viewer, hosted headless in egui_kittest with `Services::manual()`'s inbox
//! answered by the tests: a click opens an image large (Esc returns, the arrow keys step, the zoom
//! and "Fit"), Ctrl+click selects two to see what changed between them, and several are opened in
//! the Compare view: by the panel alone (the action it emits) and in the whole app (the Compare
//! tab with one cell per image).

use crate::common;

use std::path::PathBuf;
use std::sync::Arc;

use egui::Modifiers;
use egui::accesskit::Role;
use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT, Queryable};

use common::app::{FakeRuntime, preview, start};
use common::entries::{entry, row_of, three};
use fluxcn::api::{CnType, GenParams};

use fluxcn::gallery::Entry;
use fluxcn::jobs::services::{Found, Request, Restored};
use fluxcn::jobs::{InputSource, Services};
use fluxcn::ui::FluxApp;
use fluxcn::ui::gallery_panel::{GalleryPanel, PanelAction};

fn thumb(e: &Entry) -> String {
    format!("thumbnail: {}", e.meta.params.prompt)
}

fn large(e: &Entry) -> String {
    format!("large image: {}", e.meta.params.prompt)
}

/// Answers the oldest unanswered request that `pick` accepts, through `answer`.
fn answer_where(
    asked: &mut Vec<Request>,
    what: &str,
    pick: impl Fn(&Request) -> bool,
    answer: impl FnOnce(Request),
) {
    let i = asked
        .iter()
        .position(pick)
        .unwrap_or_else(|| panic!("no {what} request in {asked:?}"));
    answer(asked.remove(i));
}

fn answer_list(asked: &mut Vec<Request>, list: &[Entry]) {
    answer_where(
        asked,
        "GalleryList",
        |r| matches!(r, Request::GalleryList { .. }),
        |r| {
            let Request::GalleryList { reply, .. } = r else {
                unreachable!()
            };
            let found = Found {
                rows: list.iter().map(row_of).collect(),
                total: list.len(),
            };
            assert!(reply.send(Ok(Arc::new(found))).is_ok(), "reply dropped");
        },
    );
}

/// Answers every request for `e`'s settings asked so far.
fn answer_gets(asked: &mut Vec<Request>, e: &Entry) {
    let is_it = |r: &Request| matches!(r, Request::GalleryGet { id, .. } if *id == e.id);
    assert!(
        asked.iter().any(is_it),
        "no GalleryGet of {} in {asked:?}",
        e.id
    );
    while asked.iter().any(is_it) {
        answer_where(asked, "GalleryGet", is_it, |r| {
            let Request::GalleryGet { reply, .. } = r else {
                unreachable!()
            };
            assert!(reply.send(Ok(e.clone())).is_ok(), "reply dropped");
        });
    }
}

fn opens(asked: &[Request]) -> Vec<String> {
    asked
        .iter()
        .filter_map(|r| match r {
            Request::OpenImage { id, .. } => Some(id.clone()),
            _ => None,
        })
        .collect()
}

/// Answers the request to open `e` large with a `w`×`h` image.
fn answer_open(asked: &mut Vec<Request>, e: &Entry, w: u32, h: u32) {
    answer_where(
        asked,
        "OpenImage",
        |r| matches!(r, Request::OpenImage { id, .. } if *id == e.id),
        |r| {
            let Request::OpenImage { reply, .. } = r else {
                unreachable!()
            };
            let img = image::RgbaImage::from_pixel(w, h, image::Rgba([200, 10, 10, 255]));
            assert!(reply.send(Ok(Arc::new(img))).is_ok(), "reply dropped");
        },
    );
}

struct G {
    panel: GalleryPanel,
    services: Services,
    requests: std::sync::mpsc::Receiver<Request>,
    /// Every request the panel made that the test has not answered yet.
    asked: Vec<Request>,
    actions: Vec<PanelAction>,
}

fn gallery() -> Harness<'static, G> {
    let (services, requests) = Services::manual();
    Harness::builder()
        .with_size(egui::vec2(900.0, 700.0))
        .build_ui_state(
            |ui, s: &mut G| {
                if let Some(a) = s.panel.ui(ui, &s.services) {
                    s.actions.push(a);
                }
                s.asked.extend(s.requests.try_iter());
            },
            G {
                panel: GalleryPanel::default(),
                services,
                requests,
                asked: Vec::new(),
                actions: Vec::new(),
            },
        )
}

/// A gallery panel listing `list`.
fn listed(list: &[Entry]) -> Harness<'static, G> {
    let mut h = gallery();
    h.run();
    answer_list(&mut h.state_mut().asked, list);
    h.run();
    h
}

fn ctrl_click(h: &mut Harness<'_, G>, label: &str) {
    h.get_by_label(label).click_modifiers(Modifiers::COMMAND);
    h.run();
}

fn disabled(h: &Harness<'_, G>, label: &str) -> bool {
    h.get_by_label(label).accesskit_node().is_disabled()
}

#[test]
fn a_click_opens_the_image_large_esc_returns_and_the_arrows_step() {
    let list = three();
    let mut h = listed(&list);
    assert_eq!(h.state().panel.viewing(), None);
    h.get_by_label(&thumb(&list[1])).click();
    h.run();
    assert_eq!(h.state().panel.viewing(), Some(list[1].id.as_str()));
    assert_eq!(h.state().panel.selected(), Some(list[1].id.as_str()));
    // The grid gave its place to the large view; the image is asked for off the UI thread.
    assert!(h.query_by_label(&thumb(&list[0])).is_none());
    assert!(h.query_by_label(&large(&list[1])).is_some());
    assert_eq!(opens(&h.state().asked), [list[1].id.clone()]);
    assert!(h.query_by_label("Opening the image…").is_some());
    answer_open(&mut h.state_mut().asked, &list[1], 64, 48);
    h.run();
    assert!(h.query_by_label("Opening the image…").is_none());
    // The details stay beside it.
    answer_gets(&mut h.state_mut().asked, &list[1]);
    h.run();
    assert!(h.query_by_label("1001").is_some());
    assert!(h.query_by_label("2 of 3").is_some());

    // The scroll wheel zooms; "Fit" shows it whole again.
    assert!(disabled(&h, "Fit"));
    let centre = h.get_by_label(&large(&list[1])).rect().center();
    h.event(egui::Event::PointerMoved(centre));
    h.event(egui::Event::MouseWheel {
        unit: egui::MouseWheelUnit::Point,
        delta: egui::vec2(0.0, 200.0),
        phase: egui::TouchPhase::Move,
        modifiers: Modifiers::NONE,
        source: egui::MouseWheelSource::Wheel,
    });
    h.run();
    assert!(!disabled(&h, "Fit"), "zoomed in");
    h.get_by_label("Fit").click();
    h.run();
    assert!(disabled(&h, "Fit"));

    // Right steps to the next image of the listing, which is opened in its turn.
    h.key_press(egui::Key::ArrowRight);
    h.run();
    assert_eq!(h.state().panel.viewing(), Some(list[2].id.as_str()));
    assert!(h.query_by_label(&large(&list[2])).is_some());
    assert!(h.query_by_label(&large(&list[1])).is_none());
    assert!(opens(&h.state().asked).contains(&list[2].id));
    assert!(h.query_by_label("3 of 3").is_some());
    // ... and stops at the end.
    h.key_press(egui::Key::ArrowRight);
    h.run();
    assert_eq!(h.state().panel.viewing(), Some(list[2].id.as_str()));
    h.key_press(egui::Key::ArrowLeft);
    h.run();
    h.key_press(egui::Key::ArrowLeft);
    h.run();
    assert_eq!(h.state().panel.viewing(), Some(list[0].id.as_str()));
    assert!(h.query_by_label(&large(&list[0])).is_some());
    // The buttons step too.
    h.get_by_label("Next >").click();
    h.run();
    assert_eq!(h.state().panel.viewing(), Some(list[1].id.as_str()));

    // Esc returns to the grid, the image still selected.
    h.key_press(egui::Key::Escape);
    h.run();
    assert_eq!(h.state().panel.viewing(), None);
    assert_eq!(h.state().panel.selected(), Some(list[1].id.as_str()));
    assert!(h.query_by_label(&thumb(&list[0])).is_some());
    assert!(h.query_by_label(&large(&list[1])).is_none());
    // Enter opens the selected image again.
    h.key_press(egui::Key::Enter);
    h.run();
    assert_eq!(h.state().panel.viewing(), Some(list[1].id.as_str()));
    h.get_by_label("Back to grid").click();
    h.run();
    assert_eq!(h.state().panel.viewing(), None);
}

#[test]
fn an_image_that_cannot_be_opened_says_why() {
    let list = three();
    let mut h = listed(&list);
    h.get_by_label(&thumb(&list[0])).click();
    h.run();
    answer_where(
        &mut h.state_mut().asked,
        "OpenImage",
        |r| matches!(r, Request::OpenImage { .. }),
        |r| {
            let Request::OpenImage { reply, id } = r else {
                unreachable!()
            };
            let err = fluxcn::jobs::ServiceError::NotInGallery { id };
            assert!(reply.send(Err(err)).is_ok(), "reply dropped");
        },
    );
    h.run();
    assert!(
        h.query_by_label_contains("Could not open the image")
            .is_some()
    );
}

#[test]
fn ctrl_click_on_a_second_image_shows_what_changed() {
    let list = three();
    let mut h = listed(&list);
    // Ctrl+click selects without opening; a second one makes a pair.
    ctrl_click(&mut h, &thumb(&list[0]));
    assert_eq!(h.state().panel.viewing(), None);
    assert_eq!(h.state().panel.selected(), Some(list[0].id.as_str()));
    ctrl_click(&mut h, &thumb(&list[1]));
    assert_eq!(
        h.state().panel.picked(),
        [list[0].id.clone(), list[1].id.clone()]
    );
    assert!(h.query_by_label("2 images selected").is_some());
    assert!(h.query_by_label("Reading their settings…").is_some());
    answer_gets(&mut h.state_mut().asked, &list[0]);
    answer_gets(&mut h.state_mut().asked, &list[1]);
    h.run();
    assert!(h.query_by_label("What changed").is_some());
    // From the older (the blue car, made first) to the newer: changed fields only.
    for line in [
        "seed: 1001 -> 1000",
        "cn_type: depth -> pose",
        "steps: 21 -> 20",
        "prompt removed: blue car at night",
        "prompt added: red fox in the snow",
    ] {
        assert!(h.query_by_label(line).is_some(), "no line {line:?}");
    }
    assert!(
        h.query_by_label_contains("cn_strength").is_none(),
        "unchanged"
    );
    assert!(h.query_by_label("no differences").is_none());
    assert!(!disabled(&h, "Open in Compare (2)"));

    // A plain click is a single selection again (and opens it).
    h.get_by_label(&thumb(&list[2])).click();
    h.run();
    assert!(h.state().panel.picked().is_empty());
    assert_eq!(h.state().panel.selected(), Some(list[2].id.as_str()));
    assert!(h.query_by_label("What changed").is_none());
}

#[test]
fn two_images_made_the_same_way_have_no_differences() {
    let a = entry(0, "a red fox in the snow", CnType::Pose);
    // Another picture with every setting, the seed used and the input the same.
    let mut b = a.clone();
    b.id = "1699999999990-pose-9".into();
    b.image_path = PathBuf::from("/gallery/1699999999990-pose-9.jpg");
    b.meta.created_unix_ms -= 10;
    let list = vec![a.clone(), b.clone()];
    let mut h = listed(&list);
    // The two slots have the same label: the first is `a`, the second `b`.
    h.query_all_by_label(&thumb(&a))
        .next()
        .unwrap()
        .click_modifiers(Modifiers::COMMAND);
    h.run();
    h.query_all_by_label(&thumb(&b))
        .nth(1)
        .unwrap()
        .click_modifiers(Modifiers::SHIFT);
    h.run();
    assert_eq!(h.state().panel.picked(), [a.id.clone(), b.id.clone()]);
    answer_gets(&mut h.state_mut().asked, &a);
    answer_gets(&mut h.state_mut().asked, &b);
    h.run();
    assert!(h.query_by_label("What changed").is_some());
    assert!(h.query_by_label("no differences").is_some());
}

#[test]
fn several_picked_are_opened_in_compare_in_the_listing_order() {
    let list = three();
    let mut h = listed(&list);
    // Picked out of order; Ctrl+click on a picked one takes it away, and again adds it back.
    ctrl_click(&mut h, &thumb(&list[2]));
    ctrl_click(&mut h, &thumb(&list[0]));
    ctrl_click(&mut h, &thumb(&list[1]));
    assert!(h.query_by_label("3 images selected").is_some());
    ctrl_click(&mut h, &thumb(&list[0]));
    assert!(h.query_by_label("2 images selected").is_some());
    ctrl_click(&mut h, &thumb(&list[0]));
    assert!(h.query_by_label("3 images selected").is_some());
    // The button waits for their settings.
    assert!(disabled(&h, "Open in Compare (3)"));
    for e in &list {
        answer_gets(&mut h.state_mut().asked, e);
    }
    h.run();
    assert!(!disabled(&h, "Open in Compare (3)"));
    h.get_by_label("Open in Compare (3)").click();
    h.run();
    let paths: Vec<PathBuf> = list.iter().map(|e| e.image_path.clone()).collect();
    assert_eq!(h.state().actions, [PanelAction::OpenInCompare(paths)]);
}

/// The app's Gallery tab listing `list`.
fn app_gallery(list: &[Entry]) -> (Harness<'static, FluxApp>, FakeRuntime) {
    let (mut h, mut rt) = start();
    h.get_by_label("Gallery").click();
    h.run_steps(4);
    rt.asked();
    answer_list(&mut rt.asked, list);
    h.run_steps(4);
    (h, rt)
}

#[test]
fn open_in_compare_switches_the_app_to_compare_with_one_cell_per_image() {
    let list = three();
    let (mut h, mut rt) = app_gallery(&list);
    for e in &list {
        h.get_by_label(&thumb(e))
            .click_modifiers(Modifiers::COMMAND);
        h.run_steps(2);
    }
    rt.asked();
    for e in &list {
        answer_gets(&mut rt.asked, e);
    }
    h.run_steps(4);
    assert!(
        h.query_by_label("What changed").is_none(),
        "three, not a pair"
    );
    h.get_by_label("Open in Compare (3)").click();
    h.run_steps(4);

    // The Compare tab reads each file's settings and pixels through the services.
    assert!(h.query_by_label("3 saved results").is_some());
    rt.asked();
    for e in &list {
        let path = e.image_path.clone();
        answer_where(
            &mut rt.asked,
            "ReadResult",
            |r| matches!(r, Request::ReadResult { path: p, .. } if *p == path),
            |r| {
                let Request::ReadResult { reply, .. } = r else {
                    unreachable!()
                };
                let params = GenParams {
                    seed: e.meta.seed_used,
                    ..e.meta.params.clone()
                };
                let summary = String::new();
                let restored = Restored {
                    params,
                    input: None,
                    summary,
                };
                assert!(reply.send(Ok(restored)).is_ok(), "reply dropped");
            },
        );
        let source = InputSource::File(path);
        rt.answer_input(&source, Ok(preview(source.clone())));
    }
    h.run_steps(4);
    let cells: Vec<String> = h
        .query_all_by_role(Role::Image)
        .filter_map(|n| n.accesskit_node().label())
        .filter(|l| l.starts_with("result: "))
        .collect();
    assert_eq!(cells.len(), 3, "{cells:?}");
    // Each labelled with what differs between them, in the listing's order.
    for (cell, want) in cells.iter().zip([
        "cn_type: pose · seed: 1000 · steps: 20",
        "cn_type: depth · seed: 1001 · steps: 21",
        "cn_type: canny · seed: 1002 · steps: 22",
    ]) {
        assert!(cell.contains(want), "{cell:?} lacks {want:?}");
    }
    assert!(cells[1].contains("prompt: blue car at night"), "{cells:?}");
    // Nothing was sent to the service for them.
    assert!(common::app::submitted(&rt.sent()).is_empty());
}
