//! Drives the real desktop app (`FluxApp`) headless with egui_kittest: the test stands in for the
//! job runtime, reading the commands the window sends and feeding events back, and for the services,
//! taking the one-off requests from `Services::manual()`'s inbox and answering them.

use std::path::PathBuf;
use std::sync::Arc;

use egui::accesskit::Role;
use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT, Queryable};
use fluxcn::api::input::InputError;
use fluxcn::api::{Accounting, ApiError, ApiKey, CnType, Credits, GenParams};
use fluxcn::jobs::services::Request;
use fluxcn::jobs::{
    Command, Event, InputSource, JobFailure, KeyState, SavedImage, ServiceError, Stage,
};
use fluxcn::ui::{FluxApp, State};

use crate::common;
use common::app::*;

#[test]
fn start_sends_configure_and_check_key_and_credits_with_a_session_key() {
    let mut o = opts();
    o.initial.key = ApiKey::new(KEY);
    o.initial.api_base = "http://127.0.0.1:9/v1".into();
    o.demo = true;
    let (h, mut rt) = start_with(State::default(), o);
    let sent = rt.sent();
    match &sent[0] {
        Command::Configure(cfg) => {
            assert_eq!(cfg.api_base, "http://127.0.0.1:9/v1");
            assert_eq!(cfg.key.as_ref().map(|k| k.expose()), Some(KEY));
        }
        other => panic!("first command: {other:?}"),
    }
    // The key's state is the first thing asked of the services; the balance is asked with the
    // session's key and base URL.
    let asked = rt.asked();
    assert!(matches!(asked[0], Request::KeyState { .. }), "{asked:?}");
    assert!(
        asked
            .iter()
            .any(|r| matches!(r, Request::Credits { cfg, .. }
            if cfg.api_base == "http://127.0.0.1:9/v1"
                && cfg.key.as_ref().map(|k| k.expose()) == Some(KEY))),
        "{asked:?}"
    );
    h.get_by_label_contains("Demo mode");
    // The demo's base is not stored as the user's own.
    assert_eq!(
        h.state().state().settings.api_base,
        fluxcn::api::DEFAULT_API_BASE
    );
}

#[test]
fn prompt_is_typed_and_empty_prompt_disables_generate() {
    let (mut h, mut rt) = start();
    load_url_input(&mut h, &mut rt);
    assert!(!generate_enabled(&h));
    h.get_by_label("Write a prompt first.");
    type_prompt(&mut h, "a knight in the rain");
    assert_eq!(h.state().state().params.prompt, "a knight in the rain");
    assert_eq!(
        h.get_by_role_and_label(Role::MultilineTextInput, "Prompt")
            .value()
            .as_deref(),
        Some("a knight in the rain")
    );
    assert!(generate_enabled(&h));
    assert!(h.query_by_label("Write a prompt first.").is_none());
}

#[test]
fn no_input_image_disables_generate_with_a_reason() {
    let (mut h, _rt) = start();
    type_prompt(&mut h, "x");
    assert!(!generate_enabled(&h));
    h.get_by_label_contains("Choose an input image first");
}

/// Sets a slider's number box by typing, like a user would.

#[test]
fn typed_numbers_are_clamped_to_the_contract() {
    let (mut h, _rt) = start();
    type_into_number(&mut h, "Steps", "75");
    assert_eq!(h.state().state().params.steps, 75);
    type_into_number(&mut h, "Steps", "500");
    assert_eq!(h.state().state().params.steps, 75);
    type_into_number(&mut h, "Steps", "3");
    assert_eq!(h.state().state().params.steps, 15);
    type_into_number(&mut h, "Guidance", "99");
    assert_eq!(h.state().state().params.guidance, 15.0);
    type_into_number(&mut h, "Strength", "-4");
    assert_eq!(h.state().state().params.cn_strength, 0.0);
}

#[test]
fn width_snaps_to_64_and_is_disabled_when_using_the_input_size() {
    let (mut h, _rt) = start();
    assert!(
        h.get_by_role_and_label(Role::SpinButton, "Width")
            .accesskit_node()
            .is_disabled()
    );
    h.get_by_label("Use input image size").click();
    h.run_steps(4);
    assert!(!h.state().state().params.use_input_img_dimension);
    type_into_number(&mut h, "Width", "1000");
    assert_eq!(h.state().state().params.custom_width, 1024);
    type_into_number(&mut h, "Width", "9000");
    assert_eq!(h.state().state().params.custom_width, 4096);
}

#[test]
fn generate_sends_exactly_the_chosen_params_then_done_shows_the_result() {
    let (mut h, mut rt) = start();
    let src = load_url_input(&mut h, &mut rt);
    type_prompt(&mut h, "a dancer");
    // Pick cn_type from the combo.
    h.get_by_label("Control type").click();
    h.run_steps(4);
    h.get_by_label("depth").click();
    h.run_steps(4);
    assert_eq!(h.state().state().params.cn_type, CnType::Depth);
    type_into_number(&mut h, "Steps", "30");
    rt.sent();

    h.get_by_role_and_label(Role::Button, "Generate").click();
    h.run_steps(4);
    let subs = submitted(&rt.sent());
    assert_eq!(subs.len(), 1, "exactly one submit");
    let (id, spec) = subs[0].clone();
    let expected = GenParams {
        prompt: "a dancer".into(),
        cn_type: CnType::Depth,
        steps: 30,
        ..GenParams::default()
    };
    assert_eq!(spec.params, expected);
    assert_eq!(spec.input, src);
    h.get_by_label("queued");

    rt.feed(Event::Stage {
        id,
        stage: Stage::Waiting,
    });
    h.run_steps(4);
    h.get_by_label("waiting for the server");

    rt.feed(Event::Done {
        id,
        images: vec![SavedImage {
            path: PathBuf::from("/out/gallery/2025-dancer-4242.jpg"),
            sidecar: PathBuf::from("/out/gallery/2025-dancer-4242.json"),
            width: 1024,
            height: 768,
            seed: 4242,
            preview: Some(Arc::new(image::RgbaImage::from_pixel(
                8,
                6,
                image::Rgba([200, 10, 10, 255]),
            ))),
        }],
        accounting: Accounting {
            cost: Some(0.048),
            remaining_credits: Some(9.5),
            ..Default::default()
        },
    });
    h.run_steps(4);
    h.get_by_label("done");
    h.get_by_label("saved 2025-dancer-4242.jpg");
    // The result view shows its parameters.
    h.get_by_label("4242");
    h.get_by_label("cn_type");
    // The queue entry and the result's parameters.
    assert_eq!(h.get_all_by_label("depth").count(), 2);
    h.get_by_label("/out/gallery/2025-dancer-4242.jpg");
    h.get_by_label("Credits: 9.50");
    // No Cancel for a finished job.
    assert!(h.query_by_role_and_label(Role::Button, "Cancel").is_none());

    // Reuse the seed the server used.
    h.get_by_label("Reuse seed from result").scroll_to_me();
    h.run_steps(4);
    h.get_by_label("Reuse seed from result").click();
    h.run_steps(4);
    assert_eq!(h.state().state().params.seed, 4242);
}

#[test]
fn ctrl_enter_generates() {
    let (mut h, mut rt) = start();
    load_url_input(&mut h, &mut rt);
    type_prompt(&mut h, "a fox");
    rt.sent();
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::Enter);
    h.run_steps(4);
    let subs = submitted(&rt.sent());
    assert_eq!(subs.len(), 1);
    assert_eq!(subs[0].1.params.prompt, "a fox", "no newline added");
}

/// Typed fast: the last letters and Ctrl+Enter arrive in one frame. The job is built from the
/// prompt as it stands after that frame's typing, never from the text before it.
#[test]
fn ctrl_enter_right_after_typing_sends_the_last_letters() {
    let (mut h, mut rt) = start();
    load_url_input(&mut h, &mut rt);
    type_prompt(&mut h, "a knight in a red clo");
    rt.sent();
    // As the system delivers them: the letters as text, then the shortcut, in one frame (kittest's
    // own helpers give each event a frame of its own).
    let events = [
        egui::Event::Text("ak".into()),
        egui::Event::ModifiersChanged(egui::Modifiers::COMMAND),
        egui::Event::Key {
            key: egui::Key::Enter,
            physical_key: None,
            pressed: true,
            repeat: false,
            modifiers: egui::Modifiers::COMMAND,
        },
        egui::Event::ModifiersChanged(egui::Modifiers::NONE),
    ];
    h.input_mut().events.extend(events);
    h.step();
    h.run_steps(3);
    let subs = submitted(&rt.sent());
    assert_eq!(subs.len(), 1);
    assert_eq!(subs[0].1.params.prompt, "a knight in a red cloak");
}

/// Ctrl+K opens the palette: a few letters find a command, Enter runs it, the palette closes.
#[test]
fn the_command_palette_finds_and_runs_a_command() {
    let (mut h, _rt) = start();
    h.run_steps(2);
    assert!(h.query_by_label("Command palette").is_none());
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::K);
    h.run_steps(2);
    h.get_by_label("Command palette");
    h.get_by_role_and_label(Role::TextInput, "Search commands")
        .type_text("galler");
    h.run_steps(2);
    h.get_by_label_contains("Show the Gallery");
    assert!(
        h.query_by_label_contains("Show the Batch tab").is_none(),
        "only what matches is listed"
    );
    h.key_press(egui::Key::Enter);
    h.run_steps(3);
    assert!(h.query_by_label("Command palette").is_none(), "closed");
    h.get_by_role_and_label(Role::TextInput, "Search the gallery");
    // Esc closes it without running anything.
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::K);
    h.run_steps(2);
    h.get_by_label("Command palette");
    h.key_press(egui::Key::Escape);
    h.run_steps(2);
    assert!(h.query_by_label("Command palette").is_none());
}

/// F1 shows every shortcut, from the commands' one description, and the keys of parts of the
/// window; Esc closes the sheet.
#[test]
fn f1_shows_the_shortcuts_sheet() {
    let (mut h, _rt) = start();
    h.run_steps(2);
    assert!(h.query_by_label_contains("Gallery: rate").is_none());
    h.key_press(egui::Key::F1);
    h.run_steps(2);
    for c in fluxcn::ui::commands::UiCommand::ALL {
        if !c.shortcuts().is_empty() {
            assert!(
                h.query_all_by_label(c.label()).next().is_some(),
                "{c:?} is on the sheet"
            );
            let keys = fluxcn::ui::commands::keys_text(&h.ctx, &c.shortcuts()[0]);
            assert!(
                h.query_all_by_label_contains(&keys).next().is_some(),
                "{keys} is on the sheet"
            );
        }
    }
    h.get_by_label_contains("Gallery: rate the selected pictures");
    h.key_press(egui::Key::Escape);
    h.run_steps(2);
    assert!(
        h.query_by_label_contains("Gallery: rate").is_none(),
        "closed"
    );
}

#[test]
fn credits_event_shows_the_balance() {
    let (mut h, mut rt) = start();
    h.get_by_label("Credits: —");
    // No key yet: nothing asked the balance; the top bar's Refresh does.
    assert!(
        !rt.asked()
            .iter()
            .any(|r| matches!(r, Request::Credits { .. }))
    );
    h.get_by_role_and_label(Role::Button, "Refresh").click();
    h.run_steps(4);
    rt.answer_credits(Ok(Credits {
        credits: Some(12.0),
        free_credits: Some(0.5),
    }));
    h.run_steps(4);
    // Both as Segmind reports them: the credits and the free credits.
    h.get_by_label("Credits: 12.00 · free 0.50");
    h.get_by_role_and_label(Role::Button, "Refresh").click();
    h.run_steps(4);
    rt.answer_credits(Err(ServiceError::Api(ApiError::BadKey)));
    h.run_steps(4);
    h.get_by_label("Credits: unknown");
}

#[test]
fn failure_is_shown_with_billing_warning_and_rerun_resubmits() {
    let (mut h, mut rt) = start();
    load_url_input(&mut h, &mut rt);
    type_prompt(&mut h, "a cat");
    h.get_by_role_and_label(Role::Button, "Generate").click();
    h.run_steps(4);
    let (id, spec) = submitted(&rt.sent()).remove(0);
    let msg = "The service refused the API key (401): API key is invalid or may have expired. \
               Set a new key in Settings.";
    // The window's clock stands still: the click below lands at the moment the job fails.
    freeze_clock(&mut h);
    rt.feed(Event::Failed {
        id,
        failure: JobFailure {
            message: msg.into(),
            kind: fluxcn::jobs::FailureKind::Http(401),
            maybe_billed: true,
        },
    });
    h.run_steps(4);
    h.get_by_label(msg);
    h.get_by_label("failed (401)");
    h.get_by_label("may have been billed");
    // A click that lands as the job ends (meant for Cancel, which was there) sends nothing.
    h.get_by_label("Re-run").click();
    h.run_steps(4);
    assert!(
        submitted(&rt.sent()).is_empty(),
        "Re-run waits a moment first"
    );
    advance_clock(&mut h, fluxcn::ui::RERUN_ARM);
    h.run_steps(2);
    h.get_by_label("Re-run").click();
    h.run_steps(4);
    let again = submitted(&rt.sent());
    assert_eq!(again.len(), 1);
    assert_ne!(again[0].0, id, "a fresh id");
    assert_eq!(again[0].1, spec);
}

#[test]
fn cancel_on_a_queued_job_sends_cancel() {
    let (mut h, mut rt) = start();
    load_url_input(&mut h, &mut rt);
    type_prompt(&mut h, "a cat");
    h.get_by_role_and_label(Role::Button, "Generate").click();
    h.run_steps(4);
    let (id, _) = submitted(&rt.sent()).remove(0);
    h.get_by_role_and_label(Role::Button, "Cancel").click();
    h.run_steps(4);
    let sent = rt.sent();
    assert!(
        sent.iter()
            .any(|c| matches!(c, Command::Cancel(x) if *x == id)),
        "{sent:?}"
    );
    rt.feed(Event::Cancelled {
        id,
        maybe_billed: false,
    });
    h.run_steps(4);
    h.get_by_label("cancelled");
    assert!(h.query_by_label("may have been billed").is_none());
}

#[test]
fn key_is_masked_and_save_sends_save_key() {
    let (mut h, mut rt) = start();
    h.get_by_label("Settings").click();
    h.run_steps(4);
    rt.sent();
    // The answer to the key state the app asked for at start.
    rt.answer_key(KeyState::Missing);
    h.run_steps(4);
    h.get_by_label_contains("No key yet");
    h.get_by_role_and_label(Role::PasswordInput, "New key")
        .focus();
    h.get_by_role_and_label(Role::PasswordInput, "New key")
        .type_text(KEY);
    h.run_steps(4);
    // Nothing on screen carries the key.
    for node in h.query_all_by(|_| true) {
        let text = format!(
            "{:?} {:?}",
            node.accesskit_node().label(),
            node.accesskit_node().value()
        );
        assert!(!text.contains("0123456789abcdef"), "key visible in {text}");
    }
    let save_at = h.get_by_role_and_label(Role::Button, "Save").rect();
    h.get_by_role_and_label(Role::Button, "Save").click();
    h.run_steps(4);
    let saved: Vec<_> = rt
        .asked()
        .iter()
        .filter_map(|r| match r {
            Request::SaveKey { key, .. } => Some(key.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(saved.len(), 1);
    assert_eq!(saved[0].as_ref().map(|k| k.expose()), Some(KEY));
    // The key never enters the persisted state.
    let ron = serde_json::to_string(h.state().state()).unwrap();
    assert!(!ron.contains("0123456789abcdef"));
    // A stored key asks for the balance and shows only the masked form.
    assert!(
        !rt.asked()
            .iter()
            .any(|r| matches!(r, Request::Credits { .. }))
    );
    // The answer to Save: the key's state after.
    rt.answer_key(KeyState::Stored {
        masked: "SG_…ef".into(),
    });
    h.run_steps(4);
    assert!(
        rt.asked()
            .iter()
            .any(|r| matches!(r, Request::Credits { .. }))
    );
    h.get_by_label_contains("SG_…ef stored");
    // The key's new state moved nothing under the cursor: Save is where it was clicked.
    assert_eq!(
        h.get_by_role_and_label(Role::Button, "Save").rect(),
        save_at,
        "saving the key moved the form"
    );
    h.get_by_role_and_label(Role::Button, "Clear").click();
    h.run_steps(4);
    assert!(
        rt.asked()
            .iter()
            .any(|r| matches!(r, Request::SaveKey { key: None, .. }))
    );
}

#[test]
fn changing_a_setting_sends_configure() {
    let (mut h, mut rt) = start();
    h.get_by_label("Settings").click();
    h.run_steps(4);
    rt.sent();
    type_into_number(&mut h, "Concurrency", "20");
    assert_eq!(h.state().state().settings.concurrency, 8);
    let sent = rt.sent();
    let last = sent
        .iter()
        .rev()
        .find_map(|c| match c {
            Command::Configure(cfg) => Some(cfg.clone()),
            _ => None,
        })
        .expect("Configure sent");
    assert_eq!(last.concurrency, 8);
}

#[test]
fn input_errors_are_shown_and_open_uses_the_picker() {
    let (mut h, mut rt) = start();
    h.get_by_label("Open…").click();
    h.run_steps(4);
    let src = InputSource::File(PathBuf::from("/pics/pose.png"));
    assert!(
        rt.asked()
            .iter()
            .any(|r| matches!(r, Request::LoadInput { source, .. } if *source == src))
    );
    let err = ServiceError::Input(InputError::NotAnImage {
        name: "/pics/pose.png".into(),
        detail: "a text file".into(),
    });
    let msg = err.to_string();
    rt.answer_input(&src, Err(err));
    h.run_steps(4);
    h.get_by_label(&msg);
    type_prompt(&mut h, "x");
    assert!(!generate_enabled(&h));
    // A bad URL is refused in words, and nothing is sent.
    h.get_by_role_and_label(Role::TextInput, "URL").focus();
    h.get_by_role_and_label(Role::TextInput, "URL")
        .type_text("ftp://nope");
    h.run_steps(4);
    h.get_by_label("Use").click();
    h.run_steps(4);
    h.get_by_label_contains("is not an http(s) URL");
    assert!(
        !rt.asked()
            .iter()
            .any(|r| matches!(r, Request::LoadInput { .. }))
    );
}

#[test]
fn autogenerate_submits_the_demo_input_once() {
    let demo = InputSource::Bytes {
        name: "demo-figure.png".into(),
        data: Arc::new(vec![0x89, b'P', b'N', b'G']),
    };
    let mut o = opts();
    o.demo = true;
    o.autogenerate = true;
    o.demo_input = Some(demo.clone());
    let (mut h, mut rt) = start_with(State::default(), o);
    h.run_steps(4);
    let subs = submitted(&rt.sent());
    assert_eq!(subs.len(), 1);
    assert_eq!(subs[0].1.input, demo);
    assert!(!subs[0].1.params.prompt.is_empty());
}

#[test]
fn ctrl_enter_on_the_compare_tab_sends_the_comparison_not_one_job() {
    let (mut h, mut rt) = start();
    load_url_input(&mut h, &mut rt);
    type_prompt(&mut h, "a fox");
    h.get_by_label("Compare").click();
    h.run_steps(4);
    for t in ["pose", "depth", "canny", "tile"] {
        h.get_by_role_and_label(Role::CheckBox, t).click();
        h.run_steps(2);
    }
    rt.sent();
    // Out of the prompt box, as an artist would be after clicking the tab.
    h.key_press(egui::Key::Escape);
    h.run_steps(2);
    for n in h.query_all_by_label_contains("").filter(|n| {
        n.accesskit_node().role() == Role::Button || n.accesskit_node().role() == Role::Label
    }) {
        eprintln!("{:?}", n.accesskit_node().label());
    }
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::Enter);
    h.run_steps(4);
    let subs = submitted(&rt.sent());
    let types: Vec<CnType> = subs.iter().map(|(_, s)| s.params.cn_type).collect();
    assert_eq!(types.len(), 4, "one job per control type: {types:?}");
    assert!(
        subs.iter().all(|(_, s)| s.group.is_some()),
        "the comparison's cells"
    );
}

#[test]
fn without_a_key_a_banner_offers_set_key_and_nothing_is_queued() {
    let (mut h, mut rt) = start();
    rt.answer_key(KeyState::Missing);
    h.run_steps(4);
    load_url_input(&mut h, &mut rt);
    type_prompt(&mut h, "a fox");
    assert!(
        h.query_by_label_contains("To generate, add your Segmind API key")
            .is_some()
    );
    assert!(!generate_enabled(&h), "nothing queued without a key");
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::Enter);
    h.run_steps(4);
    assert!(submitted(&rt.sent()).is_empty());
    let settings_windows = |h: &Harness<'static, FluxApp>| {
        h.query_all_by_role(Role::Window)
            .filter(|n| n.accesskit_node().label().as_deref() == Some("Settings"))
            .count()
    };
    assert_eq!(settings_windows(&h), 0);
    h.get_by_label("Set key").click();
    h.run_steps(4);
    assert_eq!(settings_windows(&h), 1, "Set key opens the settings");
}

/// With no password store, the banner says what to do in an artist's words; the technical reason
/// (D-Bus, the Secret Service) is only behind "Details".
#[test]
fn no_keyring_is_said_in_plain_words_with_the_detail_behind_details() {
    let (mut h, mut rt) = start();
    rt.answer_key(KeyState::Unavailable(
        "org.freedesktop.DBus.Error.ServiceUnknown: no Secret Service".into(),
    ));
    h.run_steps(4);
    h.get_by_label_contains("This computer has no password store");
    assert!(
        h.query_by_label_contains("DBus").is_none(),
        "not on the banner"
    );
    assert!(h.query_by_label_contains("keyring").is_none());
    h.get_by_label("Details").click();
    h.run_steps(3);
    assert!(
        h.query_by_label_contains("DBus").is_some(),
        "behind Details"
    );
}

/// The seed the click will send is beside Generate, in every mode, however far the knobs scroll.
#[test]
fn the_seed_is_shown_beside_generate() {
    let (mut h, _rt) = start();
    h.run_steps(2);
    let seed = h.state().state().params.seed;
    h.get_by_label_contains(&format!("seed {seed}"));
    h.state_mut().state_mut().settings.seed_mode = fluxcn::ui::SeedMode::ServerRandom;
    h.run_steps(2);
    h.get_by_label_contains("seed: the server picks");
}

#[test]
fn demo_mode_starts_with_the_sample_input_and_a_prompt() {
    let demo = InputSource::Bytes {
        name: "demo-figure.png".into(),
        data: Arc::new(vec![0x89, b'P', b'N', b'G']),
    };
    let mut o = opts();
    o.demo = true;
    o.demo_input = Some(demo.clone());
    o.initial.key = ApiKey::new(KEY);
    let (mut h, mut rt) = start_with(State::default(), o);
    rt.answer_input(&demo, Ok(preview(demo.clone())));
    h.run_steps(4);
    assert!(submitted(&rt.sent()).is_empty(), "nothing sent on its own");
    assert!(generate_enabled(&h), "the first click generates");
    h.get_by_role_and_label(Role::Button, "Generate").click();
    h.run_steps(4);
    let subs = submitted(&rt.sent());
    assert_eq!(subs.len(), 1);
    assert_eq!(subs[0].1.input, demo);
    assert!(subs[0].1.params.prompt.contains("dancer"));
}

#[test]
fn the_result_size_is_shown_with_its_reason() {
    let (mut h, mut rt) = start();
    assert!(
        h.query_by_label_contains("Result: the input image's size (choose an input)")
            .is_some()
    );
    load_url_input(&mut h, &mut rt);
    assert!(
        h.query_by_label_contains("Result: the URL image's own size")
            .is_some()
    );
    // A local 6000 × 4000 file is sent downscaled to the longest side in Settings (2048).
    let file = InputSource::File(PathBuf::from("/pics/pose.png"));
    h.get_by_label("Open…").click();
    h.run_steps(4);
    let mut big = preview(file.clone());
    big.width = 6000;
    big.height = 4000;
    rt.answer_input(&file, Ok(big));
    h.run_steps(4);
    assert!(
        h.query_by_label_contains("Result: 2048 × 1365 px: the input's 6000 × 4000 downscaled")
            .is_some()
    );
    h.get_by_label("Use input image size").click();
    h.run_steps(4);
    assert!(h.query_by_label("Result: 1024 × 1024 px, as set").is_some());
}

#[test]
fn state_round_trips_through_serde_without_a_key() {
    let mut o = opts();
    o.initial.key = ApiKey::new(KEY);
    let mut state = State::default();
    state.params.prompt = "kept".into();
    state.params.steps = 42;
    state.settings.concurrency = 2;
    state.input = Some(InputSource::Url("https://x/y.png".into()));
    let (h, _rt) = start_with(state.clone(), o);
    let text = serde_json::to_string(h.state().state()).unwrap();
    assert!(!text.contains("0123456789abcdef"), "{text}");
    let back: State = serde_json::from_str(&text).unwrap();
    assert_eq!(back, state);
    // An older or partial file fills in defaults.
    let partial: State = serde_json::from_str(r#"{"params":{"prompt":"p"}}"#).unwrap();
    assert_eq!(partial.params.steps, 20);
    assert_eq!(partial.settings, fluxcn::ui::Settings::default());
}

/// Every knob the field table gives the controls panel is there under its title (a new field's
/// row puts it in the window without an edit of the panel), and a tick box knob sets its field.
#[test]
fn every_knob_of_the_field_table_is_in_the_controls() {
    use fluxcn::api::fields::{self, Allowed, Field, Value, Widget};
    let (mut h, _rt) = start();
    h.run_steps(2);
    for f in Field::ALL {
        let info = f.info();
        let Widget::Knob { .. } = info.widget else {
            continue;
        };
        assert!(
            h.query_all_by_label(info.title).next().is_some(),
            "no knob titled {:?} for {f}",
            info.title
        );
        if let Allowed::Bool { .. } = info.allowed {
            let before = fields::get(&h.state().state().params, f);
            h.get_by_label(info.title).click();
            h.run_steps(2);
            let after = fields::get(&h.state().state().params, f);
            assert_ne!(after, before, "{f}");
            assert!(matches!(after, Value::Bool(_)));
        }
    }
}

/// The input preview's box has its size before the preview arrives: the prompt box below it does
/// not move when a (large) preview comes in.
#[test]
fn the_prompt_does_not_move_when_the_input_preview_arrives() {
    let mut state = State::default();
    let source = InputSource::File(PathBuf::from("/photos/big.jpg"));
    state.input = Some(source.clone());
    let (mut h, mut rt) = start_with(state, opts());
    h.run_steps(3);
    h.get_by_label("loading preview…");
    let prompt = h
        .get_by_role_and_label(Role::MultilineTextInput, "Prompt")
        .rect();
    let mut big = preview(source.clone());
    big.image = Arc::new(image::RgbaImage::from_pixel(
        300,
        900,
        image::Rgba([200, 9, 9, 255]),
    ));
    rt.answer_input(&source, Ok(big));
    h.run_steps(4);
    assert!(h.query_by_label("loading preview…").is_none());
    assert_eq!(
        h.get_by_role_and_label(Role::MultilineTextInput, "Prompt")
            .rect(),
        prompt,
        "the prompt moved when the preview arrived"
    );
}

/// The URL field: "Use" with nothing in it says what to do, in words; another input loaded after a
/// URL empties the field (it never shows an earlier URL).
#[test]
fn the_url_field_speaks_plainly_and_forgets_an_old_url() {
    let (mut h, mut rt) = start();
    h.get_by_label("Use").click();
    h.run_steps(3);
    h.get_by_label_contains("Paste or type an image's web address");
    assert!(h.query_by_label_contains("is not an http(s) URL").is_none());
    load_url_input(&mut h, &mut rt);
    assert_eq!(
        h.get_by_role_and_label(Role::TextInput, "URL")
            .value()
            .as_deref(),
        Some("https://example.com/pose.jpg")
    );
    h.event(egui::Event::Paste("/photos/knight.png".into()));
    h.run_steps(2);
    // The pasted path is read first (it may hold settings); answered "no settings": the input.
    let reply = match rt.take("ReadResult", |r| matches!(r, Request::ReadResult { .. })) {
        Request::ReadResult { reply, .. } => reply,
        _ => unreachable!(),
    };
    let _ = reply.send(Err(ServiceError::NotAnImage {
        path: PathBuf::from("/photos/knight.png"),
    }));
    h.run_steps(4);
    assert_eq!(
        h.get_by_role_and_label(Role::TextInput, "URL")
            .value()
            .as_deref()
            .unwrap_or_default(),
        "",
        "the old URL is gone"
    );
}

/// Every request's 404 with a base URL lacking its /v1: the window says to add /v1.
#[test]
fn a_404_with_a_base_url_without_v1_says_add_v1() {
    let mut state = State::default();
    state.settings.api_base = "https://proxy.example.com".into();
    let (mut h, mut rt) = start_with(state, opts());
    load_url_input(&mut h, &mut rt);
    type_prompt(&mut h, "a fox");
    h.get_by_role_and_label(Role::Button, "Generate").click();
    h.run_steps(4);
    let (id, _) = submitted(&rt.sent()).remove(0);
    rt.feed(Event::Failed {
        id,
        failure: JobFailure {
            message: "the service answered 404 (not found)".into(),
            kind: fluxcn::jobs::FailureKind::Http(404),
            maybe_billed: false,
        },
    });
    h.run_steps(4);
    h.get_by_label_contains("has no /v1 at its end. Add /v1 in Settings");
}

/// Each seed mode says what it does, in view under the menu.
#[test]
fn each_seed_mode_is_explained() {
    let (mut h, _rt) = start();
    h.run_steps(2);
    h.get_by_label_contains("the same settings make the same picture again");
    h.state_mut().state_mut().settings.seed_mode = fluxcn::ui::SeedMode::ServerRandom;
    h.run_steps(2);
    h.get_by_label_contains("Segmind picks a new seed for each image");
    h.state_mut().state_mut().settings.seed_mode = fluxcn::ui::SeedMode::FreshRandom;
    h.run_steps(2);
    h.get_by_label_contains("fluxcn picks a new seed before each job is sent");
}
