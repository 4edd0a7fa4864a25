//! `fluxcn batch FILE`: every line checked first (nothing is sent when one is wrong), a dry run
//! that prices the file, then the lines through the job runtime (concurrency, pacing, retries and
//! the daily budget as for every job) with a progress bar on a terminal, the saved paths on
//! stdout and a summary. Run again, it resumes from the batch journal in the catalog: saved lines
//! are skipped, and lines sent without an answer are listed and never sent again unasked.
//! Ctrl+C stops sending new lines and waits for those under way; a second Ctrl+C leaves at once
//! (the lines under way are then "outcome unknown" to the next run).

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::args::{BatchArgs, Cli};
use super::commands::{CliError, print_paths};
use super::engine::{EngineOpts, data_dir, engine, open_ledger, runtime};
use crate::api::DEFAULT_COST_PER_IMAGE;
use crate::jobs::batch::{self, BatchLine, LineStatus, Plan, Tracker};
use crate::jobs::{self, Command, Event};

pub(super) fn run(cli: &Cli, b: &BatchArgs) -> Result<(), CliError> {
    crate::api::input::check_max_side(b.max_input_side)
        .map_err(|e| CliError::Other(format!("--max-input-side: {e}")))?;
    let lines = batch::read_batch(&b.file).map_err(|e| CliError::Other(e.to_string()))?;
    let name = batch::batch_name(&b.file);
    if b.dry_run {
        return dry_run(b, &lines, &name);
    }
    let rt = runtime()?;
    let eng = engine(
        &rt,
        cli,
        EngineOpts {
            out: b.out.clone(),
            concurrency: b.concurrency as usize,
            resume: false,
            max_input_side: b.max_input_side,
            budget: b.budget,
            rate_per_minute: b.rate_per_minute,
            upload_inputs: b.upload_input,
        },
    )?;
    let mut plan = batch::plan(
        &eng.store,
        &name,
        &lines,
        b.resend_unknown,
        Some(&eng.ledger),
    )?;
    // Lines sent before with no answer known: the account's history settles them first (a
    // completed one is fetched and saved, a failed one is sent again), never by a second POST.
    if !b.resend_unknown && !plan.unknown.is_empty() {
        let asked = batch::settle_commands(&eng.store, &name, &lines, &plan, b.api.into());
        if settle_unknown(&eng.handle, asked, &lines, cli.quiet) {
            plan = batch::plan(&eng.store, &name, &lines, false, Some(&eng.ledger))?;
        }
    }
    if !cli.quiet {
        tell_plan(&plan, &lines, b.resend_unknown);
    }
    let stops = Arc::new(AtomicU32::new(0));
    {
        let stops = stops.clone();
        rt.spawn(async move {
            while tokio::signal::ctrl_c().await.is_ok() {
                stops.fetch_add(1, Ordering::SeqCst);
            }
        });
    }
    let mut run = Run {
        handle: &eng.handle,
        tracker: Tracker::new(lines, &plan),
        name,
        api: b.api.into(),
        // As many as run at once: each line handed over starts at once, so lines go in file order.
        window: b.concurrency as usize,
        resend_unknown: b.resend_unknown,
    };
    let bar = progress_bar(plan.todo.len(), cli.quiet);
    let stopped = run.follow(&bar, &stops, cli.quiet)?;
    bar.finish_and_clear();
    finish(&run.tracker, stopped, cli.quiet)
}

/// Asks the account about each line with an unknown outcome and says what it answered; `true`
/// when any line's standing changed (the plan is then made again).
fn settle_unknown(
    handle: &jobs::JobsHandle,
    asked: Vec<(usize, Command)>,
    lines: &[BatchLine],
    quiet: bool,
) -> bool {
    let mut waiting = std::collections::HashMap::new();
    for (i, cmd) in asked {
        if let Command::Settle { id, .. } = &cmd {
            waiting.insert(*id, i);
        }
        if !handle.send(cmd) {
            return false;
        }
    }
    if !quiet && !waiting.is_empty() {
        eprintln!(
            "fluxcn: asking Segmind's request history about {} line(s) sent before with no answer known",
            waiting.len()
        );
    }
    let mut changed = false;
    let deadline = std::time::Instant::now() + Duration::from_secs(300);
    while !waiting.is_empty() && std::time::Instant::now() < deadline {
        let Some(ev) = handle.recv_timeout(Duration::from_millis(200)) else {
            continue;
        };
        let (id, said) = match &ev {
            Event::Done { id, images, .. } => {
                print_paths(&std::io::stdout(), images);
                changed = true;
                (
                    *id,
                    "recovered from Segmind's history: saved, not paid for again".to_owned(),
                )
            }
            Event::Failed { id, failure } => {
                changed |= !failure.maybe_billed;
                (*id, failure.message.clone())
            }
            Event::Notice(n) => {
                if !quiet {
                    eprintln!("fluxcn: {n}");
                }
                continue;
            }
            _ => continue,
        };
        if let Some(i) = waiting.remove(&id)
            && !quiet
        {
            eprintln!("fluxcn: line {}: {said}", lines[i].line_no);
        }
    }
    changed
}

fn dry_run(b: &BatchArgs, lines: &[BatchLine], name: &str) -> Result<(), CliError> {
    let images: usize = lines.iter().map(BatchLine::images).sum();
    let s = |n: usize| if n == 1 { "" } else { "s" };
    println!(
        "{} request{}, {images} image{}, estimated ${:.2} (at ${DEFAULT_COST_PER_IMAGE:.3} an image); nothing sent",
        lines.len(),
        s(lines.len()),
        s(images),
        images as f64 * DEFAULT_COST_PER_IMAGE
    );
    // What a run would do now, when the results folder exists (a dry run creates nothing).
    let out = match &b.out {
        Some(o) => o.clone(),
        None => data_dir()?.join("gallery"),
    };
    if out.is_dir() {
        let store = crate::gallery::Store::open(&out)?;
        let plan = batch::plan(&store, name, lines, b.resend_unknown, None)?;
        if plan.todo.len() < lines.len() {
            let todo: usize = plan.todo.iter().map(|&i| lines[i].images()).sum();
            println!(
                "a run now: {} saved before (skipped), {} with an unknown outcome{}; it sends {} request{} ({todo} image{}, ${:.2})",
                plan.saved.len(),
                plan.unknown.len(),
                if b.resend_unknown {
                    " (sent again)"
                } else {
                    " (skipped)"
                },
                plan.todo.len(),
                s(plan.todo.len()),
                s(todo),
                todo as f64 * DEFAULT_COST_PER_IMAGE
            );
        }
    }
    if let Some(budget) = b.budget {
        let spent = open_ledger(&data_dir()?)?
            .spent_today()
            .map_err(|e| CliError::Other(e.to_string()))?;
        let room = ((budget - spent).max(0.0) / DEFAULT_COST_PER_IMAGE).floor() as usize;
        println!(
            "daily budget ${budget:.2}, ${spent:.2} spent today: room for about {room} image{} today",
            s(room)
        );
    }
    Ok(())
}

/// Says which lines an earlier run settled.
fn tell_plan(plan: &Plan, lines: &[BatchLine], resend: bool) {
    if !plan.saved.is_empty() {
        eprintln!(
            "fluxcn: {} saved by an earlier run: skipped",
            lines_text(plan.saved.len())
        );
    }
    if !plan.elsewhere.is_empty() {
        eprintln!(
            "fluxcn: {} being sent by another fluxcn process right now: not sent here (run again once it has finished):",
            lines_text(plan.elsewhere.len())
        );
        for (i, file) in &plan.elsewhere {
            eprintln!("  line {} (from {file})", lines[*i].line_no);
        }
    }
    if !plan.unknown.is_empty() {
        eprintln!(
            "fluxcn: {} sent by an earlier run with no answer known (they may have been billed); {}:",
            lines_text(plan.unknown.len()),
            if resend {
                "sending them again (--resend-unknown)"
            } else {
                "not sent again (--resend-unknown sends them)"
            }
        );
        for (i, detail) in &plan.unknown {
            eprintln!(
                "  line {}{}",
                lines[*i].line_no,
                detail
                    .as_ref()
                    .map(|d| format!(": {d}"))
                    .unwrap_or_default()
            );
        }
    }
    if plan.retried > 0 {
        eprintln!(
            "fluxcn: {} that failed unbilled before: sent again",
            lines_text(plan.retried)
        );
    }
}

/// A line on stderr above the progress bar (plainly when there is no bar: not a terminal).
fn say(bar: &ProgressBar, text: &str) {
    if bar.is_hidden() {
        eprintln!("{text}");
    } else {
        bar.println(text);
    }
}

/// "1 line", "3 lines".
fn lines_text(n: usize) -> String {
    format!("{n} line{}", if n == 1 { "" } else { "s" })
}

fn progress_bar(n: usize, quiet: bool) -> ProgressBar {
    let target = if quiet {
        ProgressDrawTarget::hidden()
    } else {
        // Hidden by indicatif itself when stderr is not a terminal.
        ProgressDrawTarget::stderr()
    };
    let bar = ProgressBar::with_draw_target(Some(n as u64), target);
    if let Ok(style) = ProgressStyle::with_template(
        "{bar:30} {pos}/{len} lines  {elapsed_precise} (eta {eta})  {msg}",
    ) {
        bar.set_style(style);
    }
    bar.enable_steady_tick(Duration::from_millis(250));
    bar
}

/// A run under way: the lines go to the runtime in file order, a window at a time.
struct Run<'a> {
    handle: &'a jobs::JobsHandle,
    tracker: Tracker,
    name: String,
    api: crate::types::ApiVersion,
    window: usize,
    resend_unknown: bool,
}

impl Run<'_> {
    /// Hands the runtime the next lines, up to the window.
    fn feed(&mut self) -> Result<(), CliError> {
        for i in self.tracker.take_next(self.window) {
            let id = jobs::next_job_id();
            self.tracker.submitted(id, i);
            let spec = batch::spec_of(
                &self.name,
                &self.tracker.lines[i],
                self.api,
                self.resend_unknown,
            );
            if !self.handle.send(Command::Submit { id, spec }) {
                return Err(CliError::Other(
                    "the job runtime stopped unexpectedly".into(),
                ));
            }
        }
        Ok(())
    }

    /// Follows the run until every line settled (or a second Ctrl+C); `true` when the user
    /// stopped it.
    fn follow(
        &mut self,
        bar: &ProgressBar,
        stops: &AtomicU32,
        quiet: bool,
    ) -> Result<bool, CliError> {
        let mut stopping = false;
        loop {
            let presses = stops.load(Ordering::SeqCst);
            if presses >= 2 {
                return Ok(true);
            }
            if presses == 1 && !stopping {
                stopping = true;
                self.tracker.stop_pending();
                for id in self.tracker.queued_jobs() {
                    self.handle.send(Command::Cancel(id));
                }
                if !quiet {
                    say(
                        bar,
                        "fluxcn: stopping: no new line is sent; waiting for those under way (Ctrl+C again leaves now)",
                    );
                }
            }
            if !stopping {
                self.feed()?;
            }
            if self.tracker.is_done() {
                return Ok(stopping);
            }
            if let Some(ev) = self.handle.recv_timeout(Duration::from_millis(200)) {
                self.show(&ev, bar, quiet);
            }
        }
    }

    /// Takes one event: the tracker's status, saved paths on stdout, failures on stderr.
    fn show(&mut self, ev: &Event, bar: &ProgressBar, quiet: bool) {
        let tracker = &mut self.tracker;
        let stdout = std::io::stdout();
        let live = !bar.is_hidden();
        if let Event::Notice(n) = ev {
            say(bar, &format!("fluxcn: {n}"));
        }
        let Some(i) = tracker.on_event(ev) else {
            return;
        };
        let line_no = tracker.lines[i].line_no;
        match (&tracker.status[i], ev) {
            (LineStatus::Saved(_), Event::Done { images, .. }) => {
                bar.suspend(|| print_paths(&stdout, images));
                if !quiet && !live {
                    eprintln!("fluxcn: line {line_no}: saved");
                }
            }
            (LineStatus::Failed { message, .. }, _) if !quiet => {
                say(bar, &format!("fluxcn: line {line_no}: failed: {message}"));
            }
            (LineStatus::OverBudget(message), _) if !quiet => {
                say(bar, &format!("fluxcn: line {line_no}: {message}"));
            }
            (LineStatus::Running(stage), _) => bar.set_message(format!("line {line_no}: {stage}")),
            _ => {}
        }
        if tracker.status[i].settled() {
            bar.inc(1);
        }
    }
}

fn finish(tracker: &Tracker, stopped: bool, quiet: bool) -> Result<(), CliError> {
    let summary = tracker.summary();
    if !quiet {
        eprintln!("fluxcn: batch: {summary}");
        let unknown: Vec<usize> = tracker
            .status
            .iter()
            .zip(&tracker.lines)
            .filter(|(s, _)| {
                matches!(
                    s,
                    LineStatus::Unknown(_) | LineStatus::Failed { billed: true, .. }
                )
            })
            .map(|(_, l)| l.line_no)
            .collect();
        if !unknown.is_empty() {
            eprintln!(
                "fluxcn: lines with an unknown outcome (never sent again unless --resend-unknown): {}",
                unknown
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
    }
    let c = tracker.counts();
    if let Some(budget) = &tracker.budget_stop {
        let line = tracker
            .budget_line()
            .map(|n| format!(" before line {n}"))
            .unwrap_or_default();
        return Err(CliError::Budget(format!(
            "the batch stopped{line} (that line and those after it were not sent): {budget}; {}",
            crate::jobs::budget::CLI_ADVICE
        )));
    }
    if stopped {
        return Err(CliError::Failed(format!(
            "stopped ({summary}); run the same command again to resume"
        )));
    }
    if c.failed + c.unknown + c.stopped + c.waiting > 0 {
        return Err(CliError::Failed(format!(
            "not every line was saved: {summary}"
        )));
    }
    Ok(())
}
