//! The window's Batch tab, today's spend in the top bar and the daily budget, driven through
//! egui_kittest with the test standing in for the runtime and the services.

use crate::common;

use std::sync::Arc;

use common::app::{
    FakeRuntime, advance_clock, freeze_clock, generate_enabled, load_url_input, opts, start_with,
    submitted, type_prompt,
};
use egui::accesskit::Role;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use fluxcn::jobs::batch::{self, BatchFormat, Plan};
use fluxcn::jobs::ledger::Spend;
use fluxcn::jobs::services::{BatchPreview, Request};
use fluxcn::jobs::{Command, Event, FailureKind, JobFailure, SavedImage};
use fluxcn::ui::{FluxApp, State};

fn answer_spend(rt: &mut FakeRuntime, today: f64) {
    match rt.take("Spend", |r| matches!(r, Request::Spend { .. })) {
        Request::Spend { reply, .. } => {
            let s = Spend {
                today,
                month: today,
                all: today,
                ..Default::default()
            };
            assert!(reply.send(Ok(s)).is_ok());
        }
        _ => unreachable!(),
    }
}

fn with_budget(budget: f64) -> State {
    let mut s = State::default();
    s.settings.daily_budget = Some(budget);
    s
}

#[test]
fn the_top_bar_shows_todays_spend_and_the_budget_blocks_generate() {
    let (mut h, mut rt) = start_with(with_budget(1.0), opts());
    answer_spend(&mut rt, 0.98);
    h.run_steps(4);
    h.get_by_label("Today $0.98 / $1.00");
    load_url_input(&mut h, &mut rt);
    type_prompt(&mut h, "a knight");
    // $0.98 spent, one image ≈ $0.05: over the $1.00 budget.
    assert!(!generate_enabled(&h));
    h.get_by_label_contains("Over the daily budget of $1.00: $0.98 spent today");
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::Enter);
    h.run_steps(4);
    assert!(
        submitted(&rt.sent()).is_empty(),
        "nothing is sent over the budget"
    );

    // A result arrives (paid elsewhere, e.g. the CLI): the spend is read again.
    rt.feed(Event::Done {
        id: 1,
        images: Vec::new(),
        accounting: Default::default(),
    });
    h.run_steps(4);
    answer_spend(&mut rt, 0.20);
    h.run_steps(4);
    h.get_by_label("Today $0.20 / $1.00");
    assert!(generate_enabled(&h));

    // The Spend window: a click on the figure.
    h.get_by_label("Today $0.20 / $1.00").click();
    h.run_steps(4);
    answer_spend(&mut rt, 0.20);
    h.run_steps(4);
    h.get_by_label("This month");
    h.get_by_label_contains("Spend per day, the last");
}

fn preview(dir: &std::path::Path, n: usize) -> Arc<BatchPreview> {
    std::fs::write(dir.join("in.png"), b"x").unwrap();
    let text: String = (1..=n)
        .map(|i| {
            format!("{{\"prompt\": \"line prompt {i}\", \"image\": \"in.png\", \"seed\": {i}}}\n")
        })
        .collect();
    let lines = batch::parse_batch(&text, BatchFormat::Jsonl, dir).unwrap();
    let plan = Plan {
        todo: (0..n).collect(),
        ..Default::default()
    };
    Arc::new(BatchPreview {
        name: dir.join("b.jsonl").display().to_string(),
        lines,
        plan,
    })
}

fn open_batch(h: &mut Harness<'static, FluxApp>, rt: &mut FakeRuntime, p: Arc<BatchPreview>) {
    h.get_by_label("Batch").click();
    h.run_steps(4);
    h.get_by_role_and_label(Role::TextInput, "Batch file")
        .focus();
    h.get_by_role_and_label(Role::TextInput, "Batch file")
        .type_text("/tmp/b.jsonl");
    h.run_steps(2);
    h.get_by_label("Load").click();
    h.run_steps(4);
    match rt.take("ReadBatch", |r| matches!(r, Request::ReadBatch { .. })) {
        Request::ReadBatch { path, reply, .. } => {
            assert_eq!(path, std::path::PathBuf::from("/tmp/b.jsonl"));
            assert!(reply.send(Ok(p)).is_ok());
        }
        _ => unreachable!(),
    }
    h.run_steps(4);
}

#[test]
fn the_batch_tab_shows_the_lines_runs_them_and_follows_each() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut h, mut rt) = start_with(State::default(), opts());
    answer_spend(&mut rt, 0.0);
    open_batch(&mut h, &mut rt, preview(tmp.path(), 3));
    h.get_by_label("3 lines");
    h.get_by_label("line prompt 2");
    h.get_by_label("Run batch (3 lines, 3 images ≈ $0.14)")
        .click();
    h.run_steps(4);
    let jobs = submitted(&rt.sent());
    assert_eq!(jobs.len(), 3);
    for (i, (_, spec)) in jobs.iter().enumerate() {
        let line = spec.batch.as_ref().expect("each job carries its line");
        assert_eq!(line.line_no, i + 1);
        assert_eq!(spec.params.prompt, format!("line prompt {}", i + 1));
    }
    // The queue lists them like any job.
    h.get_by_role_and_label(Role::Button, "Stop");

    let path = tmp.path().join("r.png");
    rt.feed(Event::Done {
        id: jobs[0].0,
        images: vec![SavedImage {
            path: path.clone(),
            sidecar: path.with_extension("json"),
            width: 8,
            height: 8,
            seed: 1,
            preview: None,
        }],
        accounting: Default::default(),
    });
    // The budget refuses the second: the third, still queued, is cancelled, not sent.
    rt.feed(Event::Failed {
        id: jobs[1].0,
        failure: JobFailure {
            message: "over the daily budget of $0.05".into(),
            kind: FailureKind::Budget,
            maybe_billed: false,
        },
    });
    h.run_steps(6);
    h.get_by_label("saved");
    h.get_by_label("not sent: budget");
    let cancels: Vec<_> = rt
        .sent()
        .into_iter()
        .filter_map(|c| match c {
            Command::Cancel(id) => Some(id),
            _ => None,
        })
        .collect();
    assert_eq!(cancels, vec![jobs[2].0]);
}

#[test]
fn a_comparison_over_the_budget_is_refused_whole() {
    let (mut h, mut rt) = start_with(with_budget(0.10), opts());
    answer_spend(&mut rt, 0.0);
    load_url_input(&mut h, &mut rt);
    type_prompt(&mut h, "a knight");
    h.get_by_label("Compare").click();
    h.run_steps(4);
    for t in ["pose", "depth", "canny", "tile"] {
        h.get_by_role_and_label(Role::CheckBox, t).click();
        h.run_steps(2);
    }
    h.key_press(egui::Key::Escape);
    h.run_steps(2);
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::Enter);
    h.run_steps(6);
    assert!(submitted(&rt.sent()).is_empty(), "no cell was sent");
    // One refusal of the whole click: said (the notice, and where the cells would be), no card
    // per cell in the queue and no red cell repeating it.
    let said = h
        .query_all_by_label_contains("Nothing was sent. Over the daily budget of $0.10")
        .count();
    assert_eq!(said, 2, "the notice, and once where the cells would be");
    assert!(
        h.query_by_label("not sent: budget").is_none(),
        "no queue card"
    );
    assert!(
        h.query_by_label_contains("failed").is_none(),
        "no failed cell"
    );
}

#[test]
fn a_budget_set_in_settings_reaches_the_runtime_at_once() {
    let (mut h, mut rt) = start_with(State::default(), opts());
    answer_spend(&mut rt, 0.0);
    rt.sent();
    h.get_by_label("Settings").click();
    h.run_steps(4);
    h.get_by_label("Refuse work over a daily budget").click();
    h.run_steps(4);
    let budgets: Vec<Option<f64>> = rt
        .sent()
        .into_iter()
        .filter_map(|c| match c {
            Command::Configure(cfg) => Some(cfg.daily_budget),
            _ => None,
        })
        .collect();
    assert_eq!(budgets.last(), Some(&Some(5.0)), "{budgets:?}");
    assert_eq!(h.state().state().settings.daily_budget, Some(5.0));
    h.get_by_label_contains("Today $0.00 / $5.00");
}

/// The Batch tab's status of a line being sent is its job's live status: a wait counts down there
/// as in the Queue (it used to keep the text of the moment the stage arrived).
#[test]
fn the_batch_status_counts_down_with_the_queue() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut h, mut rt) = start_with(State::default(), opts());
    answer_spend(&mut rt, 0.0);
    open_batch(&mut h, &mut rt, preview(tmp.path(), 2));
    h.get_by_label("Run batch (2 lines, 2 images ≈ $0.10)")
        .click();
    h.run_steps(4);
    let jobs = submitted(&rt.sent());
    freeze_clock(&mut h);
    rt.feed(Event::Stage {
        id: jobs[0].0,
        stage: fluxcn::jobs::Stage::RateLimited {
            wait: std::time::Duration::from_secs(53),
        },
    });
    h.run_steps(2);
    // The Queue card and the Batch table say the same.
    assert_eq!(
        h.query_all_by_label("rate-limited, next try in 53 s")
            .count(),
        2
    );
    advance_clock(&mut h, std::time::Duration::from_secs(20));
    h.run_steps(2);
    assert_eq!(
        h.query_all_by_label("rate-limited, next try in 33 s")
            .count(),
        2,
        "both count down"
    );
    assert!(h.query_by_label("rate-limited, next try in 53 s").is_none());
}
