//! The tweak loop in the whole app (headless, egui_kittest): the prompts sent come back with Up in
//! the prompt box and from the History menu, parameter edits undo and redo one step per edit
//! (Ctrl+Z, Ctrl+Shift+Z and the buttons), and a job identical to one that finished asks before
//! paying for the same picture again.

use crate::common;

use std::path::PathBuf;

use common::app::*;
use egui::accesskit::Role;
use egui_kittest::kittest::{NodeT, Queryable};
use fluxcn::jobs::Command;
use fluxcn::ui::State;

/// Generates with the current settings and answers the job as done.
fn generate_and_finish(
    h: &mut egui_kittest::Harness<'static, fluxcn::ui::FluxApp>,
    rt: &mut FakeRuntime,
) -> u64 {
    finish_with(h, rt, 5, None)
}

/// Generates and answers the job as done with this seed and preview.
fn finish_with(
    h: &mut egui_kittest::Harness<'static, fluxcn::ui::FluxApp>,
    rt: &mut FakeRuntime,
    seed: i64,
    preview: Option<std::sync::Arc<image::RgbaImage>>,
) -> u64 {
    common::app::generate_and_finish_at(
        h,
        rt,
        |id| PathBuf::from(format!("/g/{id}.jpg")),
        seed,
        preview,
    )
}

#[test]
fn up_in_the_prompt_box_brings_back_earlier_prompts_and_they_persist() {
    let (mut h, mut rt) = start();
    load_url_input(&mut h, &mut rt);
    for p in ["a red fox", "a blue hare"] {
        h.get_by_role_and_label(Role::MultilineTextInput, "Prompt")
            .focus();
        h.run_steps(1);
        h.state_mut().state_mut().params.prompt = p.into();
        h.run_steps(2);
        h.key_press(egui::Key::Escape);
        h.run_steps(2);
        generate_and_finish(&mut h, &mut rt);
    }
    h.state_mut().state_mut().params.prompt = "my draft".into();
    h.get_by_role_and_label(Role::MultilineTextInput, "Prompt")
        .focus();
    h.run_steps(2);
    h.key_press(egui::Key::ArrowUp);
    h.run_steps(2);
    assert_eq!(h.state().state().params.prompt, "a blue hare");
    h.key_press(egui::Key::ArrowUp);
    h.run_steps(2);
    assert_eq!(h.state().state().params.prompt, "a red fox");
    h.key_press(egui::Key::ArrowDown);
    h.key_press(egui::Key::ArrowDown);
    h.run_steps(2);
    assert_eq!(h.state().state().params.prompt, "my draft");
    // The history is part of what the window persists.
    let saved = serde_json::to_string(h.state().state()).unwrap();
    let back: State = serde_json::from_str(&saved).unwrap();
    assert_eq!(back.prompt_history.entries[0].text, "a blue hare");
    assert!(h.query_by_label("History (2)").is_some());
}

#[test]
fn edits_undo_and_redo_one_step_each() {
    let (mut h, _rt) = start();
    let before = h.state().state().params.clone();
    type_into_number(&mut h, "Steps", "33");
    h.key_press(egui::Key::Escape);
    h.run_steps(2);
    type_into_number(&mut h, "Guidance", "7");
    h.key_press(egui::Key::Escape);
    h.run_steps(2);
    assert_eq!(h.state().state().params.steps, 33);
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::Z);
    h.run_steps(2);
    assert_eq!(
        h.state().state().params.steps,
        33,
        "one step: the guidance only"
    );
    assert_eq!(h.state().state().params.guidance, before.guidance);
    h.get_by_role_and_label(Role::Button, "Undo").click();
    h.run_steps(2);
    assert_eq!(h.state().state().params, before);
    h.key_press_modifiers(
        egui::Modifiers::COMMAND | egui::Modifiers::SHIFT,
        egui::Key::Z,
    );
    h.run_steps(2);
    assert_eq!(h.state().state().params.steps, 33);
    h.get_by_role_and_label(Role::Button, "Redo").click();
    h.run_steps(2);
    assert_eq!(h.state().state().params.guidance, 7.0);
}

#[test]
fn the_same_picture_twice_asks_first() {
    let (mut h, mut rt) = start();
    load_url_input(&mut h, &mut rt);
    type_prompt(&mut h, "a fox");
    h.key_press(egui::Key::Escape);
    h.run_steps(2);
    generate_and_finish(&mut h, &mut rt);
    // Same settings, seed and input: nothing is sent until the artist says so.
    h.get_by_role_and_label(Role::Button, "Generate").click();
    h.run_steps(4);
    assert!(submitted(&rt.sent()).is_empty());
    assert!(h.query_by_label_contains("billed again").is_some());
    h.get_by_label("Cancel").click();
    h.run_steps(4);
    assert!(submitted(&rt.sent()).is_empty());
    h.get_by_role_and_label(Role::Button, "Generate").click();
    h.run_steps(4);
    h.get_by_label("Generate again").click();
    h.run_steps(4);
    assert_eq!(submitted(&rt.sent()).len(), 1);
    // Another seed is another picture: no question.
    h.state_mut().state_mut().params.seed += 1;
    h.run_steps(2);
    h.get_by_role_and_label(Role::Button, "Generate").click();
    h.run_steps(4);
    let cmds = rt.sent();
    assert_eq!(submitted(&cmds).len(), 1);
    assert!(cmds.iter().all(|c| !matches!(c, Command::Cancel(_))));
}

#[test]
fn the_result_tab_compares_with_the_previous_or_pinned_result() {
    let (mut h, mut rt) = start();
    load_url_input(&mut h, &mut rt);
    type_prompt(&mut h, "a red fox");
    h.key_press(egui::Key::Escape);
    h.run_steps(2);
    let img = |v: u8| {
        std::sync::Arc::new(image::RgbaImage::from_pixel(
            32,
            24,
            image::Rgba([v, v, v, 255]),
        ))
    };
    finish_with(&mut h, &mut rt, 1, Some(img(10)));
    h.state_mut().state_mut().params.cn_strength = 0.8;
    h.state_mut().state_mut().params.prompt = "a blue fox".into();
    h.run_steps(2);
    finish_with(&mut h, &mut rt, 2, Some(img(60)));
    // What changed, field by field and word by word.
    assert!(
        h.query_by_label_contains("#1 -> #2:").is_some(),
        "the change line"
    );
    assert!(
        h.query_by_label_contains("cn_strength: 0.5 -> 0.8")
            .is_some()
            || h.query_by_label_contains("-> 0.8").is_some()
    );
    assert!(h.query_all_by_label_contains("#1 -> #2:").any(|n| {
        let t = format!("{n:?}");
        t.contains("blue") && t.contains("red")
    }));

    h.get_by_label("Side by side").click();
    h.run_steps(3);
    assert!(h.query_by_label_contains("compared: #1").is_some());
    assert!(h.query_by_label_contains("compared: #2").is_some());
    // C cycles: swipe, blink, difference.
    h.key_press(egui::Key::C);
    h.run_steps(3);
    assert!(h.query_by_label_contains("A/B swipe: A #1").is_some());
    h.key_press(egui::Key::C);
    h.run_steps(3);
    assert!(h.query_by_label_contains("Showing #").is_some());
    h.key_press(egui::Key::C);
    // The difference is made through the services (at once under the test's manual ones).
    h.run_steps(3);
    h.get_by_label("compared: difference");
    // Pinned: a later result is compared with the pinned one, not the one before it.
    h.get_by_label("Pin").click();
    h.run_steps(2);
    h.state_mut().state_mut().params.steps = 31;
    h.run_steps(2);
    finish_with(&mut h, &mut rt, 3, Some(img(90)));
    assert!(h.query_by_label_contains("#2 -> #3:").is_some());
    assert!(
        h.query_all_by_label_contains("#2 -> #3:")
            .any(|n| format!("{n:?}").contains("31"))
    );
    h.get_by_label("Single").click();
    h.run_steps(2);
    assert!(h.query_by_label_contains("compared:").is_none());
}

/// A file dropped on the window (by path, as on a desktop).
#[derive(Debug)]
struct Dropped(PathBuf);
impl egui::DroppedFile for Dropped {
    fn path(&self) -> &std::path::Path {
        &self.0
    }
    fn bytes(&self) -> Result<Vec<u8>, String> {
        Err("not read in tests".into())
    }
}

#[test]
fn a_dropped_result_restores_its_settings_and_kept_input_and_says_what_it_read() {
    let (mut h, mut rt) = start();
    let dropped = PathBuf::from("/gallery/20261130-knight.png");
    h.input_mut()
        .dropped_files
        .push(std::sync::Arc::new(Dropped(dropped.clone())));
    h.run_steps(2);
    let reply = match rt.take("ReadResult", |r| matches!(r, fluxcn::jobs::services::Request::ReadResult { path, .. } if *path == dropped)) {
        fluxcn::jobs::services::Request::ReadResult { reply, .. } => reply,
        _ => unreachable!(),
    };
    let params = fluxcn::api::GenParams {
        prompt: "a knight".into(),
        seed: 77,
        ..Default::default()
    };
    let kept = PathBuf::from("/gallery/.inputs/ab12.png");
    reply
        .send(Ok(fluxcn::jobs::services::Restored {
            params: params.clone(),
            input: Some(kept.clone()),
            summary: "Settings read from ComfyUI metadata; 1 note: the negative prompt has no counterpart".into(),
        }))
        .unwrap();
    h.run_steps(4);
    assert_eq!(h.state().state().params.prompt, "a knight");
    assert_eq!(h.state().state().params.seed, 77);
    assert!(
        h.query_by_label_contains("ComfyUI metadata; 1 note")
            .is_some()
    );
    assert!(
        h.query_by_label_contains("its input image restored too")
            .is_some()
    );
    // The kept input becomes the input: its preview is asked for.
    assert!(rt.asked().iter().any(|r| matches!(r,
        fluxcn::jobs::services::Request::LoadInput { source: fluxcn::jobs::InputSource::File(p), .. } if *p == kept)));
}

/// Pasting a saved picture's path does what dropping it does: its settings are read (and then
/// restored), not just the file taken as the input.
#[test]
fn a_pasted_path_is_read_like_a_dropped_file() {
    let (mut h, mut rt) = start();
    let pasted = PathBuf::from("/gallery/20261130-knight.png");
    h.event(egui::Event::Paste(pasted.display().to_string()));
    h.run_steps(2);
    let asked = rt.asked();
    assert!(
        asked.iter().any(|r| matches!(r,
            fluxcn::jobs::services::Request::ReadResult { path, .. } if *path == pasted)),
        "{asked:?}"
    );
    assert!(
        !asked.iter().any(|r| matches!(r,
            fluxcn::jobs::services::Request::LoadInput { source: fluxcn::jobs::InputSource::File(p), .. } if *p == pasted)),
        "not taken as the input before its settings are read"
    );
}

#[test]
fn tab_keeps_the_focused_control_in_view_at_900_by_600() {
    let (mut h, _rt) = start();
    h.set_size(egui::vec2(900.0, 600.0));
    h.run_steps(4);
    let mut seen_out_of_view = Vec::new();
    for n in 0..40 {
        h.key_press(egui::Key::Tab);
        h.run_steps(3);
        let focused = h
            .root()
            .children_recursive()
            .find(|n| n.accesskit_node().is_focused())
            .map(|n| n.rect());
        if let Some(r) = focused
            && !egui::Rect::from_min_size(egui::Pos2::ZERO, egui::vec2(900.0, 600.0))
                .contains_rect(r)
        {
            seen_out_of_view.push((n, r));
        }
    }
    assert!(
        seen_out_of_view.is_empty(),
        "focus left the window: {seen_out_of_view:?}"
    );
}

/// In the Gallery, Ctrl+Z is the gallery's undo (its last delete): it never undoes an edit of the
/// knobs made before, out of sight.
#[test]
fn ctrl_z_in_the_gallery_leaves_the_knobs_alone() {
    let (mut h, _rt) = start();
    type_into_number(&mut h, "Steps", "33");
    h.key_press(egui::Key::Escape);
    h.run_steps(2);
    assert_eq!(h.state().state().params.steps, 33);
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::Num3);
    h.run_steps(2);
    h.get_by_role_and_label(Role::TextInput, "Search the gallery");
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::Z);
    h.run_steps(2);
    assert_eq!(h.state().state().params.steps, 33, "the knob's edit stays");
    // Back on the Result tab, Ctrl+Z undoes the knob's edit as before.
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::Num1);
    h.run_steps(2);
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::Z);
    h.run_steps(2);
    assert_ne!(h.state().state().params.steps, 33);
}

/// A result restored from the gallery with its kept input shows that input by its original name,
/// not as `.inputs/<hash>` (the kept copy is named on hover).
#[test]
fn a_restored_input_is_shown_by_its_original_name() {
    let (mut h, mut rt) = start();
    let dir = tempfile::tempdir().unwrap();
    let kept = dir.path().join("b9ca8f51489c0d1e.png");
    std::fs::write(&kept, b"not read here").unwrap();
    h.state_mut()
        .apply(fluxcn::ui::gallery_panel::PanelAction::UseResult {
            params: fluxcn::api::GenParams {
                prompt: "a knight".into(),
                ..Default::default()
            },
            input: Some(kept.clone()),
            input_was: "/home/artist/photos/knight-pose.jpg".into(),
        });
    h.run_steps(3);
    h.get_by_label("knight-pose.jpg");
    assert!(h.query_by_label_contains("b9ca8f51489c").is_none());
    let _ = &mut rt;
}
