//! The gallery panel, hosted headless in egui_kittest with `Services::manual()`'s inbox answered by
//! the tests: what the user sees and clicks (the grid, the filter, the details, dropped files), and
//! exactly which requests go to the services.

use crate::common;

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;

use common::entries::{entry, row_of, three};
use common::events::done_event;
use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT, Queryable};

use fluxcn::api::{CnType, GenParams};
use fluxcn::gallery::Entry;
use fluxcn::gallery::catalog::{Query, Sort};
use fluxcn::jobs::Event;
use fluxcn::ui::gallery_panel::{
    GalleryPanel, MAX_THUMB_REQUESTS_PER_FRAME, MAX_THUMB_TEXTURES, MAX_THUMB_UPLOADS_PER_FRAME,
    PanelAction, THUMB_PIXELS,
};
// The gallery's one-off requests.
use fluxcn::gallery::GalleryError;
use fluxcn::jobs::services::{Found, Request};
use fluxcn::jobs::{ServiceError, Services};

struct G {
    panel: GalleryPanel,
    /// Job events for the panel, handed over at the start of the next frame.
    inbox: Vec<Event>,
    services: Services,
    /// `services`' inbox: what the panel asked for.
    requests: std::sync::mpsc::Receiver<Request>,
    /// Every request the panel made, in order, that the test has not answered yet (each still
    /// holds its reply, so the panel sees it as waiting, not lost).
    asked: Vec<Request>,
    actions: Vec<PanelAction>,
}

impl G {
    /// Moves what arrived in the services' inbox to `asked`.
    fn collect(&mut self) {
        self.asked.extend(self.requests.try_iter());
    }

    /// Takes the first unanswered request that `pick` accepts (the test then answers it).
    fn take(&mut self, what: &str, pick: impl Fn(&Request) -> bool) -> Request {
        self.collect();
        let i = self
            .asked
            .iter()
            .position(pick)
            .unwrap_or_else(|| panic!("no {what} request in {:?}", self.asked));
        self.asked.remove(i)
    }
}

fn gallery() -> Harness<'static, G> {
    gallery_sized(egui::vec2(900.0, 700.0))
}

/// The panel alone at `size` (what the central area gives it).
fn gallery_sized(size: egui::Vec2) -> Harness<'static, G> {
    let (services, requests) = Services::manual();
    Harness::builder().with_size(size).build_ui_state(
        |ui, s: &mut G| {
            for ev in std::mem::take(&mut s.inbox) {
                s.panel.handle_event(&ev, ui.ctx());
            }
            if let Some(a) = s.panel.ui(ui, &s.services) {
                s.actions.push(a);
            }
            s.collect();
        },
        G {
            panel: GalleryPanel::default(),
            inbox: Vec::new(),
            services,
            requests,
            asked: Vec::new(),
            actions: Vec::new(),
        },
    )
}

/// Answers the panel's (oldest unanswered) listing request with `list` found in a gallery of
/// `total`, without running a frame; returns the search it asked for.
fn answer_found(h: &mut Harness<'_, G>, list: &[Entry], total: usize) -> Query {
    match h
        .state_mut()
        .take("GalleryList", |r| matches!(r, Request::GalleryList { .. }))
    {
        Request::GalleryList { query, reply } => {
            let found = Found {
                rows: list.iter().map(row_of).collect(),
                total,
            };
            assert!(reply.send(Ok(Arc::new(found))).is_ok(), "reply dropped");
            query
        }
        _ => unreachable!(),
    }
}

/// Answers the listing request with all of `list` (the whole gallery).
fn answer_list(h: &mut Harness<'_, G>, list: Vec<Entry>) {
    let n = list.len();
    answer_found(h, &list, n);
}

/// Answers the request for one picture's settings.
fn answer_get(h: &mut Harness<'_, G>, e: &Entry) {
    match h.state_mut().take(
        "GalleryGet",
        |r| matches!(r, Request::GalleryGet { id, .. } if *id == e.id),
    ) {
        Request::GalleryGet { reply, .. } => {
            assert!(reply.send(Ok(e.clone())).is_ok(), "reply dropped")
        }
        _ => unreachable!(),
    }
}

/// Answers the listing request with `list`, then runs the frames that show it.
fn list_g(h: &mut Harness<'_, G>, list: Vec<Entry>) {
    answer_list(h, list);
    h.run();
}

/// Answers the thumbnail request for `id` (without running a frame).
fn answer_thumb(
    h: &mut Harness<'_, G>,
    id: &str,
    image: Result<Arc<image::RgbaImage>, ServiceError>,
) {
    match h.state_mut().take(
        "Thumbnail",
        |r| matches!(r, Request::Thumbnail { id: i, .. } if i == id),
    ) {
        Request::Thumbnail { reply, .. } => assert!(reply.send(image).is_ok(), "reply dropped"),
        _ => unreachable!(),
    }
}

/// Answers the request to read the settings in `path` (without running a frame).
fn answer_settings(
    h: &mut Harness<'_, G>,
    path: &PathBuf,
    result: Result<GenParams, ServiceError>,
) {
    match h.state_mut().take(
        "ReadSettings",
        |r| matches!(r, Request::ReadSettings { path: p, .. } if p == path),
    ) {
        Request::ReadSettings { reply, .. } => {
            assert!(reply.send(result).is_ok(), "reply dropped")
        }
        _ => unreachable!(),
    }
}

fn thumb_requests(asked: &[Request]) -> Vec<String> {
    asked
        .iter()
        .filter_map(|r| match r {
            Request::Thumbnail { id, max_side, .. } => {
                assert_eq!(*max_side, THUMB_PIXELS);
                Some(id.clone())
            }
            _ => None,
        })
        .collect()
}

fn count_lists(asked: &[Request]) -> usize {
    asked
        .iter()
        .filter(|r| matches!(r, Request::GalleryList { .. }))
        .count()
}

#[test]
fn gallery_lists_on_first_show_then_shows_every_entry_and_asks_for_their_thumbnails() {
    let mut h = gallery();
    h.run();
    assert_eq!(count_lists(&h.state().asked), 1, "{:?}", h.state().asked);
    assert!(h.query_by_label_contains("Reading the gallery").is_some());
    answer_list(&mut h, Vec::new());
    h.run();
    assert!(h.query_by_label_contains("No images yet").is_some());
    h.get_by_label("Refresh").click();
    h.run();

    let list = three();
    list_g(&mut h, list.clone());
    for e in &list {
        let label = format!("thumbnail: {}", e.meta.params.prompt);
        assert!(h.query_by_label(&label).is_some(), "no slot for {label}");
    }
    assert!(h.query_by_label("3 of 3 images").is_some());
    let asked: HashSet<String> = thumb_requests(&h.state().asked).into_iter().collect();
    let ids: HashSet<String> = list.iter().map(|e| e.id.clone()).collect();
    assert_eq!(asked, ids);
    // Nothing is asked twice however many frames run.
    h.run_steps(5);
    assert_eq!(thumb_requests(&h.state().asked).len(), 3);

    // A thumbnail that arrives becomes a texture; an error stays an error.
    answer_thumb(
        &mut h,
        &list[0].id,
        Ok(Arc::new(image::RgbaImage::new(16, 12))),
    );
    h.run();
    answer_thumb(
        &mut h,
        &list[1].id,
        Err(ServiceError::NotInGallery {
            id: list[1].id.clone(),
        }),
    );
    h.run();
    assert_eq!(h.state().panel.texture_count(), 1);
}

#[test]
fn gallery_search_type_favourites_and_order_ask_the_catalog() {
    let mut h = gallery();
    h.run();
    let all = three();
    list_g(&mut h, all.clone());

    h.get_by_label("Search the gallery").focus();
    h.run();
    h.get_by_label("Search the gallery")
        .type_text("fox rating>=3");
    h.run();
    // Each keystroke asks again; the newest search's answer is what counts.
    let mut last = None;
    while h
        .state()
        .asked
        .iter()
        .any(|r| matches!(r, Request::GalleryList { .. }))
    {
        last = Some(answer_found(&mut h, &[all[0].clone(), all[2].clone()], 3));
    }
    let q = last.unwrap();
    assert_eq!(q.words, ["fox"]);
    assert_eq!(q.rating, Some((fluxcn::gallery::catalog::Cmp::Ge, 3)));
    h.run();
    assert!(h.query_by_label("2 of 3 images").is_some());
    assert!(
        h.query_by_label("thumbnail: a red fox in the snow")
            .is_some()
    );
    assert!(h.query_by_label("thumbnail: a blue car at night").is_none());

    // Favourites only, highest rated first: sent to the catalog, which finds none.
    h.get_by_label("Favourites only").click();
    h.run();
    let q = answer_found(&mut h, &[], 3);
    assert!(q.favourites_only && q.words == ["fox"]);
    h.get_by_label("Order").click();
    h.run();
    h.get_by_label("Highest rated").click();
    h.run();
    let q = answer_found(&mut h, &[], 3);
    assert_eq!(q.sort, Sort::Rating);
    h.run();
    assert!(h.query_by_label("0 of 3 images").is_some());
    assert!(h.query_by_label("No image matches the search.").is_some());

    // A search that cannot be read says why and asks nothing.
    h.get_by_label("Search the gallery").focus();
    h.run();
    h.get_by_label("Search the gallery")
        .type_text(" colour:red");
    h.run();
    assert!(h.query_by_label_contains("no field \"colour\"").is_some());
    assert_eq!(count_lists(&h.state().asked), 0, "{:?}", h.state().asked);
}

#[test]
fn gallery_details_favourite_delete_undo_and_use_these_settings() {
    let mut h = gallery();
    h.run();
    let list = three();
    list_g(&mut h, list.clone());
    let before = h.get_by_label("thumbnail: a red fox in the snow").rect();
    h.get_by_label("thumbnail: a blue car at night").click();
    h.run();
    assert_eq!(h.state().panel.selected(), Some(list[1].id.as_str()));
    // A click opens the image large; Esc returns to the grid, the image still selected.
    h.key_press(egui::Key::Escape);
    h.run();
    answer_get(&mut h, &list[1]);
    h.run();
    // The details have their own place: selecting moves no thumbnail.
    assert_eq!(
        h.get_by_label("thumbnail: a red fox in the snow").rect(),
        before
    );
    // The details name the settings and the seed actually used.
    assert!(h.query_by_label("1001").is_some());
    assert!(h.query_by_label("1024 × 768").is_some());
    assert!(
        h.query_by_label(&list[1].image_path.display().to_string())
            .is_some()
    );

    h.get_by_label("Add to favourites").click();
    h.run();
    assert!(h.state().asked.iter().any(|r| matches!(r,
        Request::SetFavourite { id, favourite: true, .. } if *id == list[1].id)));
    assert!(h.query_by_label("Remove from favourites").is_some());

    h.get_by_label("Use these settings").click();
    h.run();
    let want = GenParams {
        seed: 1001,
        ..list[1].meta.params.clone()
    };
    assert_eq!(
        h.state().actions,
        vec![PanelAction::UseResult {
            params: want,
            input: None,
            input_was: "photo.jpg".into(),
        }]
    );

    h.get_by_label("Open folder").click();
    h.run();
    assert!(h.state().asked.iter().any(|r| matches!(r,
        Request::Reveal { path, .. } if *path == list[1].image_path)));

    h.get_by_label("Delete").click();
    h.run();
    assert!(h.state().asked.iter().any(|r| matches!(r,
        Request::Delete { id, .. } if *id == list[1].id)));
    assert!(h.query_by_label("thumbnail: a blue car at night").is_none());
    h.get_by_label("Undo").click();
    h.run();
    assert!(h.state().asked.iter().any(|r| matches!(r,
        Request::UndoDelete { id, .. } if *id == list[1].id)));
    assert!(h.query_by_label("thumbnail: a blue car at night").is_some());
    assert!(h.query_by_label("Undo").is_none());
}

#[test]
fn gallery_with_ten_thousand_entries_requests_a_bounded_number_of_thumbnails() {
    let mut h = gallery();
    h.run();
    let list: Vec<Entry> = (0..10_000)
        .map(|i| entry(i, &format!("prompt number {i}"), CnType::Tile))
        .collect();
    answer_list(&mut h, list.clone());
    let mut per_frame = Vec::new();
    for _ in 0..10 {
        let before = thumb_requests(&h.state().asked).len();
        h.step();
        per_frame.push(thumb_requests(&h.state().asked).len() - before);
    }
    assert!(
        per_frame.iter().all(|n| *n <= MAX_THUMB_REQUESTS_PER_FRAME),
        "{per_frame:?}"
    );
    let asked = thumb_requests(&h.state().asked);
    // Only the rows on screen (the newest images) are asked for: a window's worth, not 10 000.
    assert!(!asked.is_empty() && asked.len() <= 120, "{}", asked.len());
    let newest: HashSet<&str> = list[..asked.len() + 16]
        .iter()
        .map(|e| e.id.as_str())
        .collect();
    assert!(asked.iter().all(|id| newest.contains(id.as_str())));
    // Only the visible slots exist in the UI tree.
    let slots = h
        .query_all_by_label_contains("thumbnail: prompt number")
        .count();
    assert!(slots > 0 && slots < 200, "{slots}");

    // Answer every request while scrolling far down: textures stay bounded.
    for _ in 0..40 {
        let answered: Vec<String> = thumb_requests(&h.state().asked);
        for id in answered {
            answer_thumb(&mut h, &id, Ok(Arc::new(image::RgbaImage::new(4, 4))));
        }
        assert!(thumb_requests(&h.state().asked).is_empty());
        h.event(egui::Event::PointerMoved(egui::pos2(400.0, 500.0)));
        h.event(egui::Event::MouseWheel {
            unit: egui::MouseWheelUnit::Point,
            delta: egui::vec2(0.0, -900.0),
            phase: egui::TouchPhase::Move,
            modifiers: egui::Modifiers::NONE,
            source: egui::MouseWheelSource::Wheel,
        });
        h.run_steps(3);
    }
    let t = h.state().panel.texture_count();
    assert!(t > MAX_THUMB_TEXTURES / 2 && t <= MAX_THUMB_TEXTURES, "{t}");
    // We really scrolled: old slots left the tree.
    assert!(h.query_by_label("thumbnail: prompt number 0").is_none());
}

#[test]
fn a_page_of_thumbnails_arriving_at_once_becomes_textures_over_several_frames() {
    let mut h = gallery();
    h.run();
    let list: Vec<Entry> = (0..200)
        .map(|i| entry(i, &format!("prompt number {i}"), CnType::Tile))
        .collect();
    answer_list(&mut h, list);
    h.run_steps(3);
    let asked = thumb_requests(&h.state().asked);
    assert!(
        asked.len() > 2 * MAX_THUMB_UPLOADS_PER_FRAME,
        "{}",
        asked.len()
    );
    for id in &asked {
        answer_thumb(&mut h, id, Ok(Arc::new(image::RgbaImage::new(96, 96))));
    }
    // One frame uploads a bounded number; the following frames take the rest.
    let mut per_frame = Vec::new();
    let mut before = h.state().panel.texture_count();
    for _ in 0..asked.len() {
        h.step();
        let now = h.state().panel.texture_count();
        per_frame.push(now - before);
        before = now;
        if now >= asked.len() {
            break;
        }
    }
    assert!(
        per_frame.iter().all(|n| *n <= MAX_THUMB_UPLOADS_PER_FRAME),
        "{per_frame:?}"
    );
    assert_eq!(
        h.state().panel.texture_count(),
        asked.len(),
        "{per_frame:?}"
    );
}

#[test]
fn gallery_reads_settings_from_dropped_files_and_refreshes_after_a_result() {
    let mut h = gallery();
    h.run();
    let bad = PathBuf::from("/tmp/holiday.png");
    let good = PathBuf::from("/tmp/ours.png");
    {
        let s = h.state_mut();
        s.panel
            .files_dropped([bad.clone(), good.clone()], &s.services);
        s.collect();
    }
    let reads: Vec<&PathBuf> = h
        .state()
        .asked
        .iter()
        .filter_map(|r| match r {
            Request::ReadSettings { path, .. } => Some(path),
            _ => None,
        })
        .collect();
    assert_eq!(reads, vec![&bad, &good]);

    answer_settings(
        &mut h,
        &bad,
        Err(GalleryError::NoSettings {
            path: bad.clone(),
            sidecar: bad.with_extension("json"),
        }
        .into()),
    );
    h.run();
    assert!(
        h.query_by_label_contains("holiday.png holds no generation settings")
            .is_some()
    );
    assert!(h.state().actions.is_empty());
    let params = GenParams {
        prompt: "from a file".into(),
        seed: 77,
        ..Default::default()
    };
    answer_settings(&mut h, &good, Ok(params.clone()));
    h.run();
    assert_eq!(h.state().actions, vec![PanelAction::UseSettings(params)]);

    // A burst of results (a grid finishing) is covered by one new listing.
    h.run_steps(8);
    let lists = count_lists(&h.state().asked);
    h.state_mut().inbox.push(done_event(42, "/gallery/new.jpg"));
    h.step();
    assert_eq!(count_lists(&h.state().asked), lists + 1);
    for id in 43..46 {
        h.state_mut()
            .inbox
            .push(done_event(id, "/gallery/more.jpg"));
        h.step();
    }
    assert_eq!(count_lists(&h.state().asked), lists + 1);
    h.run_steps(8);
    assert_eq!(count_lists(&h.state().asked), lists + 2);
    h.run_steps(8);
    assert_eq!(count_lists(&h.state().asked), lists + 2);
}

#[test]
fn copy_prompt_puts_the_prompt_on_the_clipboard() {
    let mut h = gallery();
    h.run();
    list_g(&mut h, three());
    h.get_by_label("thumbnail: a red fox in the snow").click();
    h.run();
    answer_get(&mut h, &three()[0]);
    h.run();
    h.get_by_label("Copy prompt").click();
    h.step();
    assert!(
        h.output()
            .platform_output
            .commands
            .contains(&egui::OutputCommand::CopyText(
                "a red fox in the snow".into()
            )),
        "{:?}",
        h.output().platform_output.commands
    );
}

#[test]
fn keys_rate_the_selected_image_and_step_through_the_grid() {
    let mut h = gallery();
    h.run();
    let list = three();
    list_g(&mut h, list.clone());
    h.get_by_label("thumbnail: a red fox in the snow").click();
    h.run();
    answer_get(&mut h, &list[0]);
    h.run();
    h.key_press(egui::Key::Num4);
    h.run();
    assert!(h.state().asked.iter().any(|r| matches!(r,
        Request::SetRating { id, rating: 4, .. } if *id == list[0].id)));
    // The rating row shows it at once (1 to 4 lit), before the catalog answers.
    let lit = |h: &Harness<'_, G>, n: &str| {
        h.get_by_label(n).accesskit_node().toggled() == Some(egui::accesskit::Toggled::True)
    };
    assert!(lit(&h, "1") && lit(&h, "4") && !lit(&h, "5"));
    // The row's own button clears it again.
    h.get_by_label("4").click();
    h.run();
    assert!(h.state().asked.iter().any(|r| matches!(r,
        Request::SetRating { id, rating: 0, .. } if *id == list[0].id)));

    h.key_press(egui::Key::ArrowRight);
    h.run();
    assert_eq!(h.state().panel.selected(), Some(list[1].id.as_str()));
    h.key_press(egui::Key::ArrowRight);
    h.key_press(egui::Key::ArrowRight);
    h.run();
    assert_eq!(
        h.state().panel.selected(),
        Some(list[2].id.as_str()),
        "stops at the end"
    );
    h.key_press(egui::Key::ArrowLeft);
    h.run();
    assert_eq!(h.state().panel.selected(), Some(list[1].id.as_str()));

    // While typing in the search box, digits are text, not ratings.
    let ratings = |h: &Harness<'_, G>| {
        h.state()
            .asked
            .iter()
            .filter(|r| matches!(r, Request::SetRating { .. }))
            .count()
    };
    let before = ratings(&h);
    h.get_by_label("Search the gallery").focus();
    h.run();
    h.get_by_label("Search the gallery").type_text("3");
    h.run();
    assert_eq!(ratings(&h), before);
}

/// A delete can always be undone: the Undo line stays until dismissed (however long), the grid
/// does not move when it comes or goes, and the Trash window lists what was deleted and restores it.
#[test]
fn a_delete_stays_undoable_nothing_moves_and_the_trash_restores() {
    let mut h = gallery();
    h.run();
    let list = three();
    list_g(&mut h, list.clone());
    let fox = || "thumbnail: a red fox in the snow";
    let before = h.get_by_label(fox()).rect();
    h.get_by_label("thumbnail: a blue car at night").click();
    h.run();
    h.key_press(egui::Key::Escape);
    h.run();
    answer_get(&mut h, &list[1]);
    h.run();
    h.get_by_label("Delete").click();
    h.run();
    // A minute later (virtual time), Undo is still there, and the fox has not moved.
    crate::common::app::freeze_clock(&mut h);
    crate::common::app::advance_clock(&mut h, std::time::Duration::from_secs(60));
    h.run();
    h.get_by_label("Undo");
    assert_eq!(h.get_by_label(fox()).rect(), before, "nothing moved");
    assert!(h.state().panel.can_undo());
    h.get_by_label("Dismiss").click();
    h.run();
    assert!(h.query_by_label("Undo").is_none());
    assert_eq!(h.get_by_label(fox()).rect(), before, "nothing moved");

    // The Trash window: what is there, Restore.
    h.get_by_label("Trash…").click();
    h.run();
    match h
        .state_mut()
        .take("Trash", |r| matches!(r, Request::Trash { .. }))
    {
        Request::Trash { reply } => {
            let t = fluxcn::gallery::Trashed {
                id: list[1].id.clone(),
                file: format!("{}.jpg", list[1].id),
                prompt: "a blue car at night".into(),
                rating: 4,
            };
            assert!(reply.send(Ok(vec![t])).is_ok());
        }
        _ => unreachable!(),
    }
    h.run();
    h.get_by_label_contains("1 picture in the trash");
    h.get_by_label_contains("a blue car at night");
    h.get_by_label("Restore").click();
    h.run();
    assert!(h.state().asked.iter().any(|r| matches!(r,
        Request::UndoDelete { id, .. } if *id == list[1].id)));
    // Emptying asks first; only the second click sends it.
    h.get_by_label("Empty trash…").click();
    h.run();
    assert!(
        !h.state()
            .asked
            .iter()
            .any(|r| matches!(r, Request::EmptyTrash { .. }))
    );
    h.get_by_label("Delete for good").click();
    h.run();
    assert!(
        h.state()
            .asked
            .iter()
            .any(|r| matches!(r, Request::EmptyTrash { .. }))
    );
}

/// Where the central area is narrow (a 1280-wide window with the queue open gives the gallery about
/// 640 px), the details go under the grid, and the grid fills the width: more than two a row.
#[test]
fn a_narrow_gallery_fills_its_width_with_thumbnails() {
    let mut h = gallery_sized(egui::vec2(640.0, 760.0));
    h.run();
    let list: Vec<Entry> = (0..8)
        .map(|i| entry(i, &format!("picture {i}"), CnType::Pose))
        .collect();
    list_g(&mut h, list);
    let first_row_y = h.get_by_label("thumbnail: picture 0").rect().min.y;
    let in_first_row = (0..8)
        .filter(|i| {
            h.get_by_label(&format!("thumbnail: picture {i}"))
                .rect()
                .min
                .y
                == first_row_y
        })
        .count();
    assert!(
        in_first_row >= 4,
        "only {in_first_row} thumbnails a row at 640 px"
    );
}

#[test]
fn details_link_a_picture_to_its_parent_and_refinements_and_offer_refine_and_use_as_input() {
    let mut h = gallery();
    h.run();
    let list = three();
    list_g(&mut h, list.clone());
    h.get_by_label("thumbnail: a blue car at night").click();
    h.run();
    h.key_press(egui::Key::Escape);
    h.run();
    answer_get(&mut h, &list[1]);
    h.run();
    // The lineage is asked for off the UI thread, once.
    match h.state_mut().take(
        "Lineage",
        |r| matches!(r, Request::Lineage { entry, .. } if entry.id == list[1].id),
    ) {
        Request::Lineage { reply, .. } => {
            let l = fluxcn::jobs::services::Lineage {
                parent: Some(Ok(list[0].clone())),
                children: vec![list[2].clone()],
            };
            assert!(reply.send(Ok(l)).is_ok(), "reply dropped");
        }
        _ => unreachable!(),
    }
    h.run();
    assert!(h.query_by_label("refined from").is_some());
    assert!(h.query_by_label("refinements").is_some());
    h.state_mut().collect();
    assert!(
        !h.state()
            .asked
            .iter()
            .any(|r| matches!(r, Request::Lineage { .. })),
        "asked once"
    );

    h.get_by_label("Refine ×2 (tile)").click();
    h.run();
    h.get_by_label("Use as input").click();
    h.run();
    let m = &list[1].meta;
    let want = fluxcn::api::refine::refine_params(&m.params, m.seed_used, m.width, m.height, 2.0);
    assert_eq!((want.custom_width, want.custom_height), (2048, 1536));
    assert_eq!(want.cn_type, CnType::Tile);
    assert_eq!(
        h.state().actions,
        vec![
            PanelAction::Refine {
                picture: list[1].image_path.clone(),
                params: want,
            },
            PanelAction::UseAsInput(list[1].image_path.clone()),
        ]
    );
    // The refinement's link selects it.
    h.get_by_label(&list[2].id).click();
    h.run();
    assert_eq!(h.state().panel.selected(), Some(list[2].id.as_str()));
}
