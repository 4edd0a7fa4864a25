//! The gallery panel and the comparison view, hosted headless in egui_kittest with a fake command
//! sink (and, for the gallery, `Services::manual()`'s inbox, answered by the tests): what the user
//! sees and clicks, and exactly which commands and requests go to the job runtime.
// Test code: a failed unwrap is a failed test; a test reads top to bottom as one story.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;

use egui::accesskit::Role;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;

use fluxcn::api::{Accounting, CnType, GenParams, ImageFormat};
use fluxcn::gallery::{Entry, Sidecar};
use fluxcn::jobs::{
    ApiVersion, Command, Event, InputSource, JobFailure, JobId, JobSpec, SavedImage, Stage,
};
use fluxcn::ui::compare_view::{CompareMode, CompareView};
use fluxcn::ui::gallery_panel::{
    GalleryPanel, MAX_THUMB_REQUESTS_PER_FRAME, MAX_THUMB_TEXTURES, PanelAction, THUMB_PIXELS,
};
// The gallery's one-off requests.
use fluxcn::gallery::GalleryError;
use fluxcn::jobs::services::Request;
use fluxcn::jobs::{ServiceError, Services};

// ---------------------------------------------------------------- gallery

fn entry(i: usize, prompt: &str, cn: CnType) -> Entry {
    let id = format!("{}-{cn}-{i}", 1_700_000_000_000u64 - i as u64);
    Entry {
        image_path: PathBuf::from(format!("/gallery/{id}.jpg")),
        sidecar_path: PathBuf::from(format!("/gallery/{id}.json")),
        id,
        meta: Sidecar {
            version: 1,
            job_id: None,
            app: "fluxcn test".into(),
            created: "2026-11-25T07:00:00.000Z".into(),
            created_unix_ms: 1_700_000_000_000 - i as u64,
            params: GenParams {
                prompt: prompt.into(),
                cn_type: cn,
                seed: -1,
                steps: 20 + i as u32 % 10,
                cn_strength: 0.6,
                ..Default::default()
            },
            seed_used: 1000 + i as i64,
            input: "photo.jpg".into(),
            api: ApiVersion::V1,
            accounting: Accounting::default(),
            format: ImageFormat::Jpeg,
            width: 1024,
            height: 768,
            bytes: 1234,
            group: None,
            favourite: false,
            model: "flux-controlnet".into(),
        },
    }
}

fn three() -> Vec<Entry> {
    vec![
        entry(0, "a red fox in the snow", CnType::Pose),
        entry(1, "a blue car at night", CnType::Depth),
        entry(2, "a FOX made of paper", CnType::Canny),
    ]
}

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
    let (services, requests) = Services::manual();
    Harness::builder()
        .with_size(egui::vec2(900.0, 700.0))
        .build_ui_state(
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

fn feed<S>(h: &mut Harness<'_, S>, inbox: impl Fn(&mut S) -> &mut Vec<Event>, ev: Event) {
    inbox(h.state_mut()).push(ev);
    h.run();
}

/// Answers the panel's (oldest unanswered) listing request with `list`, without running a frame.
fn answer_list(h: &mut Harness<'_, G>, list: Vec<Entry>) {
    match h
        .state_mut()
        .take("GalleryList", |r| matches!(r, Request::GalleryList { .. }))
    {
        Request::GalleryList { reply } => {
            assert!(reply.send(Ok(Arc::new(list))).is_ok(), "reply dropped")
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
    assert!(h.query_by_label_contains("No images yet").is_some());

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
fn gallery_filter_text_type_and_favourites_narrow_the_grid() {
    let mut h = gallery();
    h.run();
    list_g(&mut h, three());

    h.get_by_label("Filter by prompt").focus();
    h.run();
    h.get_by_label("Filter by prompt").type_text("fox");
    h.run();
    assert!(h.query_by_label("1 of 3 images").is_none());
    assert!(h.query_by_label("2 of 3 images").is_some());
    assert!(
        h.query_by_label("thumbnail: a red fox in the snow")
            .is_some()
    );
    // Case-insensitive.
    assert!(h.query_by_label("thumbnail: a FOX made of paper").is_some());
    assert!(h.query_by_label("thumbnail: a blue car at night").is_none());

    // Favourites only: none yet, then the one marked.
    h.get_by_label("Favourites only").click();
    h.run();
    assert!(h.query_by_label("0 of 3 images").is_some());
    assert!(h.query_by_label("No image matches the filter.").is_some());
}

#[test]
fn gallery_details_favourite_delete_undo_and_use_these_settings() {
    let mut h = gallery();
    h.run();
    let list = three();
    list_g(&mut h, list.clone());
    h.get_by_label("thumbnail: a blue car at night").click();
    h.run();
    assert_eq!(h.state().panel.selected(), Some(list[1].id.as_str()));
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
    assert_eq!(h.state().actions, vec![PanelAction::UseSettings(want)]);

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

// ---------------------------------------------------------------- compare

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

fn done_event(id: JobId, path: &str) -> Event {
    Event::Done {
        id,
        images: vec![SavedImage {
            path: PathBuf::from(path),
            sidecar: PathBuf::from(path).with_extension("json"),
            width: 16,
            height: 16,
            seed: 5,
            preview: Some(Arc::new(image::RgbaImage::new(16, 16))),
        }],
        accounting: Accounting::default(),
    }
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
    h.get_by_label("Export grid").click();
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
    assert_eq!(out, PathBuf::from(format!("/tmp/exports/grid-{group}.png")));
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
    assert!(h.query_by_label("100%").is_some());
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
    assert!(h.query_by_label("100%").is_none());

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
    assert!(h.query_by_label("100%").is_some());
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
fn copy_prompt_puts_the_prompt_on_the_clipboard() {
    let mut h = gallery();
    h.run();
    list_g(&mut h, three());
    h.get_by_label("thumbnail: a red fox in the snow").click();
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
