//! The tweak loop in the whole app (headless, egui_kittest), the test standing in for the runtime
//! and the services: the Result tab's strip of recent results comes from the gallery (so it
//! survives a restart), each thumbnail saying what changed from the one before it; Generate asks
//! the gallery for an identical result before paying twice; and a prompt with `{a|b}` groups
//! shows its variations' count and cost and asks before sending one job each.

use crate::common;

use std::path::PathBuf;
use std::sync::Arc;

use common::app::*;
use common::entries::{entry, row_of};
use egui::accesskit::Role;
use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT, Queryable};
use fluxcn::api::{Accounting, CnType};
use fluxcn::gallery::Entry;
use fluxcn::jobs::services::{Found, Request};
use fluxcn::jobs::{Event, InputSource, JobsHandle, SavedImage, Services};
use fluxcn::ui::{FluxApp, SeedMode, State};

type App = Harness<'static, FluxApp>;

/// Three gallery pictures, newest first: a red fox (pose, 20 steps), a blue car (depth, 21), a
/// paper fox (canny, 22).
fn gallery() -> Vec<Entry> {
    vec![
        entry(0, "a red fox in the snow", CnType::Pose),
        entry(1, "a blue car at night", CnType::Depth),
        entry(2, "a FOX made of paper", CnType::Canny),
    ]
}

fn is_listing(r: &Request) -> bool {
    matches!(r, Request::Recent { .. })
}

/// Answers the oldest request for the gallery's newest pictures (the strip's) with `entries`
/// (newest first).
fn answer_listing(rt: &mut FakeRuntime, entries: &[Entry]) {
    match rt.take("Recent", is_listing) {
        Request::Recent { reply, limit } => reply
            .send(Ok(Arc::new(Found {
                rows: entries.iter().take(limit).map(row_of).collect(),
                total: entries.len(),
            })))
            .unwrap(),
        _ => unreachable!(),
    }
}

/// Answers every settings and thumbnail request about `entries` asked so far.
fn answer_pictures(rt: &mut FakeRuntime, entries: &[Entry]) {
    rt.asked();
    let mut keep = Vec::new();
    for r in std::mem::take(&mut rt.asked) {
        match r {
            Request::GalleryGet { id, reply } => {
                let e = entries.iter().find(|e| e.id == id).unwrap().clone();
                reply.send(Ok(e)).unwrap();
            }
            Request::Thumbnail { reply, .. } | Request::OpenImage { reply, .. } => {
                let img = image::RgbaImage::from_pixel(48, 36, image::Rgba([200, 90, 40, 255]));
                reply.send(Ok(Arc::new(img))).unwrap();
            }
            other => keep.push(other),
        }
    }
    rt.asked = keep;
}

/// Whether a label (not the prompt box's text) reads `text`.
fn shows(h: &App, text: &str) -> bool {
    h.query_all_by_label(text)
        .any(|n| n.accesskit_node().role() == Role::Label)
}

/// The strip's thumbnails, left (newest) to right: each one's accessible name (its prompt, seed
/// and type) and description (what changed from the one before), as `name | description`.
fn strip(h: &App) -> Vec<String> {
    let mut nodes: Vec<(f32, String)> = h
        .query_all_by_label_contains("history: ")
        .map(|n| {
            let node = n.accesskit_node();
            let name = node.label().unwrap_or_default();
            let description = node.description().unwrap_or_default();
            (n.rect().min.x, format!("{name} | {description}"))
        })
        .collect();
    nodes.sort_by(|a, b| a.0.total_cmp(&b.0));
    nodes.into_iter().map(|(_, l)| l).collect()
}

/// The app on the Result tab with the gallery's three pictures listed and read.
fn start_with_gallery() -> (App, FakeRuntime) {
    let (mut h, mut rt) = start();
    let g = gallery();
    answer_listing(&mut rt, &g);
    h.run_steps(3);
    answer_pictures(&mut rt, &g);
    h.run_steps(3);
    (h, rt)
}

#[test]
fn the_strip_lists_the_gallery_newest_first_and_says_what_changed() {
    let (mut h, mut rt) = start_with_gallery();
    let names = strip(&h);
    assert_eq!(names.len(), 3, "{names:?}");
    assert!(names[0].contains("a red fox in the snow"), "{names:?}");
    assert!(names[2].contains("a FOX made of paper"), "{names:?}");
    // What changed from the older neighbour: the fields, and the prompt word by word.
    let newest = &names[0];
    for want in [
        "Changed from the one before:",
        "cn_type: depth -> pose",
        "steps: 21 -> 20",
        "seed: 1001 -> 1000",
        "prompt removed: blue car at night",
        "prompt added: red fox in the snow",
    ] {
        assert!(newest.contains(want), "no {want:?} in {newest}");
    }
    assert!(names[1].contains("cn_type: canny -> depth"), "{names:?}");
    assert!(names[2].contains("oldest"), "{names:?}");
    // The tooltip says the same, one change a line.
    h.query_all_by_label_contains("history: ")
        .find(|n| {
            n.accesskit_node()
                .label()
                .is_some_and(|l| l.contains("a red fox"))
        })
        .unwrap()
        .hover();
    h.run_steps(60);
    assert!(
        h.query_all_by_label_contains("Changed from the one before:\n")
            .any(|n| n.accesskit_node().role() == Role::Label
                && format!("{n:?}").contains("steps: 21 -> 20")),
        "no tooltip"
    );
    // A click shows that result large, with its settings (read from its sidecar).
    h.query_all_by_label_contains("history: ")
        .find(|n| {
            n.accesskit_node()
                .label()
                .is_some_and(|l| l.contains("a blue car"))
        })
        .unwrap()
        .click();
    h.run_steps(3);
    let g = gallery();
    assert!(
        rt.asked()
            .iter()
            .any(|r| matches!(r, Request::OpenImage { id, .. } if *id == g[1].id)),
        "the image is decoded by the services"
    );
    answer_pictures(&mut rt, &g);
    h.run_steps(3);
    assert!(shows(&h, "a blue car at night"));
    assert!(shows(&h, "1001"), "its seed");
    assert!(
        h.query_by_label_contains(&g[1].image_path.display().to_string())
            .is_some(),
        "its file"
    );
}

/// Generates with what the controls hold and answers the job as done, saved at `file`.
fn generate_done(h: &mut App, rt: &mut FakeRuntime, file: &str, seed: i64) -> u64 {
    let preview = Arc::new(image::RgbaImage::from_pixel(
        64,
        48,
        image::Rgba([10, 200, 10, 255]),
    ));
    common::app::generate_and_finish_at(
        h,
        rt,
        |_| PathBuf::from(format!("/gallery/{file}")),
        seed,
        Some(preview),
    )
}

#[test]
fn a_finished_job_joins_the_strip_at_once_and_the_gallery_is_listed_again() {
    let (mut h, mut rt) = start_with_gallery();
    load_url_input(&mut h, &mut rt);
    type_prompt(&mut h, "a green fox in the snow");
    h.key_press(egui::Key::Escape);
    h.run_steps(2);
    assert!(!rt.asked().iter().any(is_listing));
    generate_done(&mut h, &mut rt, "new-result.jpg", 5);
    // Listed again after the job; until the answer, the result stands in front of the strip.
    assert!(rt.asked().iter().any(is_listing), "no new listing");
    let names = strip(&h);
    assert_eq!(names.len(), 4, "{names:?}");
    assert!(names[0].contains("a green fox in the snow"), "{names:?}");
    // This session's result carries its number, the one the change line names ("#1 -> #2").
    assert!(names[0].starts_with("history: #1 · "), "{names:?}");
    assert!(
        !names[1].contains(" #"),
        "a gallery picture has no session number: {names:?}"
    );
    assert!(
        names[0].contains("prompt removed: red") && names[0].contains("prompt added: green"),
        "{names:?}"
    );
    // It is shown large, as before.
    assert!(shows(&h, "a green fox in the snow"));
    // The new listing holds it: one thumbnail, not two.
    let mut g = gallery();
    let mut new = entry(9, "a green fox in the snow", CnType::Depth);
    new.id = "new-result".into();
    new.image_path = PathBuf::from("/gallery/new-result.jpg");
    new.meta.created_unix_ms = 1_800_000_000_000;
    g.insert(0, new);
    answer_listing(&mut rt, &g);
    h.run_steps(3);
    answer_pictures(&mut rt, &g);
    h.run_steps(3);
    let names = strip(&h);
    assert_eq!(names.len(), 4, "{names:?}");
    assert!(names[0].contains("a green fox in the snow"), "{names:?}");
    assert!(
        !rt.asked()
            .iter()
            .any(|r| matches!(r, Request::Thumbnail { id, .. } if id == "new-result")),
        "the session's own preview is its thumbnail"
    );
    // A gallery picture shown, then this session's result again: its comparison bar is back.
    let click = |h: &mut App, what: &str| {
        h.query_all_by_label_contains("history: ")
            .find(|n| n.accesskit_node().label().is_some_and(|l| l.contains(what)))
            .unwrap()
            .click();
        h.run_steps(3);
    };
    click(&mut h, "a FOX made of paper");
    answer_pictures(&mut rt, &g);
    h.run_steps(3);
    assert!(shows(&h, "a FOX made of paper"));
    click(&mut h, "a green fox");
    assert!(shows(&h, "a green fox in the snow"));
}

/// The app with every request handed to the test, the gallery's same-picture lookup included.
fn start_answering_lookups() -> (App, FakeRuntime) {
    let (cmd_tx, cmd_rx) = tokio::sync::mpsc::unbounded_channel();
    let (ev_tx, ev_rx) = std::sync::mpsc::channel();
    let (services, requests) = Services::manual_all();
    let app = FluxApp::with_state(
        State::default(),
        opts(),
        JobsHandle::from_channels(cmd_tx, ev_rx, services),
    );
    let mut h = Harness::builder()
        .with_size(egui::vec2(1280.0, 900.0))
        .build_eframe(move |_cc| app);
    h.run_steps(4);
    let rt = FakeRuntime {
        commands: cmd_rx,
        events: ev_tx,
        requests,
        asked: Vec::new(),
    };
    (h, rt)
}

fn is_lookup(r: &Request) -> bool {
    matches!(r, Request::FindSame { .. })
}

/// Answers the oldest same-picture lookup with `found`; returns what it asked about.
fn answer_lookup(
    rt: &mut FakeRuntime,
    found: Option<Entry>,
) -> (fluxcn::api::GenParams, InputSource) {
    match rt.take("FindSame", is_lookup) {
        Request::FindSame {
            params,
            input,
            reply,
            ..
        } => {
            reply.send(Ok(found)).unwrap();
            (params, input)
        }
        _ => unreachable!(),
    }
}

#[test]
fn generate_asks_the_gallery_for_the_same_picture_and_waits_for_its_answer() {
    let (mut h, mut rt) = start_answering_lookups();
    let src = load_url_input(&mut h, &mut rt);
    type_prompt(&mut h, "a red fox in the snow");
    h.key_press(egui::Key::Escape);
    h.run_steps(2);
    rt.sent();
    h.get_by_role_and_label(Role::Button, "Generate").click();
    h.run_steps(4);
    // Nothing is sent while the gallery is asked; Generate says so and waits.
    assert!(submitted(&rt.sent()).is_empty());
    assert!(
        h.query_by_label_contains("Checking the gallery for the same picture")
            .is_some()
    );
    assert!(!generate_enabled(&h));
    h.run_steps(10);
    assert!(submitted(&rt.sent()).is_empty());
    // The gallery has it: the question, naming the picture; nothing is sent until the answer.
    let made = gallery().remove(0);
    let (params, input) = answer_lookup(&mut rt, Some(made.clone()));
    assert_eq!(params, h.state().state().params.clamped());
    assert_eq!(input, src);
    h.run_steps(4);
    assert!(
        h.query_by_label_contains("The gallery has a picture")
            .is_some()
    );
    assert!(h.query_by_label_contains(&made.id).is_some());
    assert!(submitted(&rt.sent()).is_empty());
    h.get_by_label("Cancel").click();
    h.run_steps(4);
    assert!(submitted(&rt.sent()).is_empty());
    assert!(h.query_by_label_contains("billed again").is_none());
    assert!(generate_enabled(&h));
    // Asked again, answered the same: "Generate again" pays for it knowingly.
    h.get_by_role_and_label(Role::Button, "Generate").click();
    h.run_steps(4);
    answer_lookup(&mut rt, Some(made));
    h.run_steps(4);
    h.get_by_label("Generate again").click();
    h.run_steps(4);
    let subs = submitted(&rt.sent());
    assert_eq!(subs.len(), 1);
    assert_eq!(subs[0].1.params.prompt, "a red fox in the snow");
    // Another seed: the gallery has none, the job goes at once after the answer.
    h.state_mut().state_mut().params.seed += 1;
    h.run_steps(2);
    h.get_by_role_and_label(Role::Button, "Generate").click();
    h.run_steps(4);
    assert!(submitted(&rt.sent()).is_empty());
    answer_lookup(&mut rt, None);
    h.run_steps(4);
    assert_eq!(submitted(&rt.sent()).len(), 1);
    assert!(h.query_by_label_contains("billed again").is_none());
    // A seed the server picks never repeats a picture: nothing to look up.
    h.state_mut().state_mut().settings.seed_mode = SeedMode::ServerRandom;
    h.run_steps(2);
    h.get_by_role_and_label(Role::Button, "Generate").click();
    h.run_steps(4);
    assert_eq!(submitted(&rt.sent()).len(), 1);
    assert!(!rt.asked().iter().any(is_lookup));
}

#[test]
fn a_prompt_with_choices_shows_its_variations_and_cost_and_sends_one_job_each_when_confirmed() {
    let (mut h, mut rt) = start();
    load_url_input(&mut h, &mut rt);
    let template = "a {red|blue|green} car";
    type_prompt(&mut h, template);
    h.key_press(egui::Key::Escape);
    h.run_steps(2);
    rt.sent();
    // The count and the cost before anything is sent.
    assert!(
        h.query_by_label_contains("3 variations ≈ $0.14").is_some(),
        "the estimate"
    );
    h.get_by_role_and_label(Role::Button, "Generate").click();
    h.run_steps(4);
    assert!(submitted(&rt.sent()).is_empty(), "asked first");
    assert!(h.query_by_label("Send the variations?").is_some());
    for p in ["a red car", "a blue car", "a green car"] {
        assert!(
            h.query_by_label(&format!("• {p}")).is_some(),
            "{p} is listed"
        );
    }
    h.get_by_label("Cancel").click();
    h.run_steps(4);
    assert!(submitted(&rt.sent()).is_empty());
    assert!(h.query_by_label("Send the variations?").is_none());
    // Nothing was sent, so nothing joins the prompt history.
    assert!(
        h.state().state().prompt_history.entries.is_empty(),
        "a cancelled question adds no history"
    );
    // Esc cancels too, as in any dialog; and leaving the tab answers "Cancel".
    h.get_by_role_and_label(Role::Button, "Generate").click();
    h.run_steps(4);
    assert!(h.query_by_label("Send the variations?").is_some());
    h.key_press(egui::Key::Escape);
    h.run_steps(4);
    assert!(h.query_by_label("Send the variations?").is_none(), "Esc");
    h.get_by_role_and_label(Role::Button, "Generate").click();
    h.run_steps(4);
    h.get_by_label("Gallery").click();
    h.run_steps(4);
    assert!(
        h.query_by_label("Send the variations?").is_none(),
        "another tab"
    );
    h.get_by_label("Result").click();
    h.run_steps(4);
    assert!(submitted(&rt.sent()).is_empty());
    // Confirmed: one job per choice, each with the template kept, one seed for all.
    h.get_by_role_and_label(Role::Button, "Generate").click();
    h.run_steps(4);
    h.get_by_label("Send 3 jobs").click();
    h.run_steps(4);
    let subs = submitted(&rt.sent());
    let prompts: Vec<&str> = subs.iter().map(|(_, s)| s.params.prompt.as_str()).collect();
    assert_eq!(prompts, ["a red car", "a blue car", "a green car"]);
    assert!(
        subs.iter()
            .all(|(_, s)| s.prompt_template.as_deref() == Some(template))
    );
    assert!(
        subs.iter()
            .all(|(_, s)| s.params.seed == subs[0].1.params.seed)
    );
    let cols: Vec<usize> = subs
        .iter()
        .map(|(_, s)| s.group.as_ref().unwrap().col)
        .collect();
    assert_eq!(cols, [0, 1, 2]);
    assert!(h.query_by_label("Send the variations?").is_none());
    // A result shows the template it came from.
    let (id, _) = subs[1].clone();
    rt.feed(Event::Done {
        id,
        images: vec![SavedImage {
            path: PathBuf::from("/gallery/blue.jpg"),
            sidecar: PathBuf::from("/gallery/blue.json"),
            width: 64,
            height: 48,
            seed: subs[1].1.params.seed,
            preview: None,
        }],
        accounting: Accounting::default(),
    });
    h.run_steps(4);
    assert!(shows(&h, "template"));
    assert!(shows(&h, template));

    // A template that cannot be expanded blocks Generate, saying why.
    for (bad, why) in [
        ("a {red|blue car", "never closed"),
        ("a red} car", "never opened"),
        (
            "{a|b|c|d|e|f|g|h|i} {a|b|c|d|e|f|g|h}",
            "72 prompts, more than 64",
        ),
    ] {
        h.state_mut().state_mut().params.prompt = bad.into();
        h.run_steps(3);
        assert!(!generate_enabled(&h), "{bad}");
        assert!(
            h.query_by_label_contains(why).is_some(),
            "{bad}: no {why:?}"
        );
        h.get_by_role_and_label(Role::Button, "Generate").click();
        h.run_steps(3);
        assert!(submitted(&rt.sent()).is_empty());
    }
}

#[test]
fn the_gallery_details_show_the_template_a_prompt_came_from() {
    let (mut h, mut rt) = start();
    let mut e = entry(0, "a blue car", CnType::Depth);
    e.meta.prompt_template = Some("a {red|blue} car".into());
    h.get_by_label("Gallery").click();
    h.run_steps(3);
    match rt.take("GalleryList", |r| matches!(r, Request::GalleryList { .. })) {
        Request::GalleryList { reply, .. } => reply
            .send(Ok(Arc::new(Found {
                rows: vec![row_of(&e)],
                total: 1,
            })))
            .unwrap(),
        _ => unreachable!(),
    }
    h.run_steps(3);
    h.get_by_label("thumbnail: a blue car").click();
    h.run_steps(3);
    answer_pictures(&mut rt, std::slice::from_ref(&e));
    h.run_steps(3);
    assert!(shows(&h, "template"));
    assert!(shows(&h, "a {red|blue} car"));
}
