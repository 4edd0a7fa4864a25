//! The account's records in the window (issue 25), driven through egui_kittest with the test
//! standing in for the runtime and the services: a queue card that may have been billed offers
//! "Check" (with Segmind) (a `Command::Settle` for that job, never a resend), and the answer lands on
//! the same card; Spend → "Reconcile with Segmind" asks the services and shows the report; Settings
//! say why v2 is the default and, plainly, what uploading inputs means.

use crate::common;

use common::app::{load_url_input, opts, start, start_with, submitted, type_prompt};
use egui::accesskit::Role;
use egui_kittest::kittest::Queryable;
use fluxcn::jobs::ledger::Spend;
use fluxcn::jobs::reconcile::{Foreign, Reconciled};
use fluxcn::jobs::services::Request;
use fluxcn::jobs::{Command, Event, FailureKind, JobFailure};
use fluxcn::ui::State;

#[test]
fn a_card_that_may_have_been_billed_checks_with_segmind_and_shows_the_answer() {
    let (mut h, mut rt) = start();
    load_url_input(&mut h, &mut rt);
    type_prompt(&mut h, "a cat");
    h.get_by_role_and_label(Role::Button, "Generate").click();
    h.run_steps(4);
    let (id, spec) = submitted(&rt.sent()).remove(0);
    rt.feed(Event::Failed {
        id,
        failure: JobFailure {
            message: "the connection was reset after the request was sent".into(),
            kind: FailureKind::NoAnswer,
            maybe_billed: true,
        },
    });
    h.run_steps(4);
    h.get_by_label("may have been billed");
    h.get_by_role_and_label(Role::Button, "Check").click();
    h.run_steps(4);
    let sent = rt.sent();
    let settle: Vec<_> = sent
        .iter()
        .filter_map(|c| match c {
            Command::Settle {
                id: sid,
                spec: s,
                request_id,
                from_ms,
            } => Some((*sid, s.clone(), request_id.clone(), *from_ms)),
            _ => None,
        })
        .collect();
    assert_eq!(settle.len(), 1, "{sent:?}");
    assert_eq!(
        settle[0].0, id,
        "the same job, so its answer lands on its card"
    );
    assert_eq!(settle[0].1, spec);
    assert!(settle[0].3 > 1_700_000_000_000, "from the job's time");
    assert!(
        submitted(&sent).is_empty(),
        "checking sends nothing to generate"
    );
    h.get_by_label_contains("asking Segmind");
    assert!(h.query_by_role_and_label(Role::Button, "Check").is_none());
    // The account says it failed: not billed, and said on the card.
    rt.feed(Event::Failed {
        id,
        failure: JobFailure {
            message: "Segmind's history shows request r-1 failed: it was not billed. Re-run sends it again".into(),
            kind: FailureKind::Interrupted,
            maybe_billed: false,
        },
    });
    h.run_steps(4);
    h.get_by_label_contains("it was not billed");
    assert!(h.query_by_label("may have been billed").is_none());
    assert!(h.query_by_role_and_label(Role::Button, "Check").is_none());
}

#[test]
fn the_spend_window_reconciles_with_segmind_and_shows_the_report() {
    let (mut h, mut rt) = start_with(State::default(), opts());
    let answer_spend = |rt: &mut common::app::FakeRuntime| match rt
        .take("Spend", |r| matches!(r, Request::Spend { .. }))
    {
        Request::Spend { reply, .. } => {
            assert!(reply.send(Ok(Spend::default())).is_ok());
        }
        _ => unreachable!(),
    };
    answer_spend(&mut rt);
    h.run_steps(4);
    h.get_by_label("Today $0.00").click();
    h.run_steps(4);
    answer_spend(&mut rt);
    h.run_steps(4);
    h.get_by_label("Import their images").click();
    h.get_by_role_and_label(Role::Button, "Reconcile with Segmind")
        .click();
    h.run_steps(4);
    let Request::Reconcile {
        days,
        import,
        reply,
        ..
    } = rt.take("Reconcile", |r| matches!(r, Request::Reconcile { .. }))
    else {
        unreachable!()
    };
    assert_eq!((days, import), (7, true));
    let report = Reconciled {
        days: 7,
        billed_requests: 3,
        account_total: 0.144,
        foreign: vec![Foreign {
            request_id: "r-elsewhere".into(),
            cost: 0.048,
            created_ms: None,
            cn_type: Some("canny".into()),
            prompt: Some("made in the playground".into()),
            recorded: true,
            recorded_before: false,
            maybe_ours: None,
            imported: vec!["/g/2026-made.jpg".into()],
            not_imported: None,
        }],
        ..Default::default()
    };
    assert!(reply.send(Ok(report)).is_ok());
    h.run_steps(4);
    h.get_by_label_contains("3 billed requests for $0.144");
    h.get_by_label_contains("r-elsewhere");
    h.get_by_label_contains("imported: /g/2026-made.jpg");
    // The figures are read again after it.
    answer_spend(&mut rt);
}

#[test]
fn settings_say_why_v2_and_what_uploading_means() {
    let (mut h, mut rt) = start();
    h.get_by_label("Settings").click();
    h.run_steps(4);
    h.get_by_label_contains("v2 is the default");
    assert!(h.query_by_label_contains("stays at that address").is_none());
    h.get_by_label("Upload each input once").click();
    h.run_steps(4);
    h.get_by_label_contains("stays at that address at Segmind");
    let sent = rt.sent();
    let configured = sent.iter().rev().find_map(|c| match c {
        Command::Configure(cfg) => Some(cfg.clone()),
        _ => None,
    });
    assert!(
        configured.is_some_and(|c| c.upload_inputs),
        "the runtime is told at once: {sent:?}"
    );
}
