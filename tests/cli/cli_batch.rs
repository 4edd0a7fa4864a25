//! `fluxcn batch`, `fluxcn spend` and the daily budget, end to end against the stand-in: a file
//! of requests runs and resumes (a re-run sends nothing saved; a kill -9 mid-batch and a re-run
//! send no line twice), bad lines are refused before anything is sent, the ledger sums to what the
//! stand-in billed, and work over the budget is refused unsent.

use crate::common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::rt;
use fluxcn::jobs::ledger::Ledger;
use fluxcn::sim::{self, SimConfig, SimServer};

const KEY: &str = "SG_0badc0de0badc0de";

struct Bench {
    _rt: tokio::runtime::Runtime,
    server: SimServer,
    tmp: tempfile::TempDir,
}

impl Bench {
    fn new(delay: Duration) -> Bench {
        let rt = rt();
        let server = rt
            .block_on(sim::start(SimConfig {
                delay,
                ..Default::default()
            }))
            .unwrap();
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("in.png"), sim::demo_input_png()).unwrap();
        Bench {
            _rt: rt,
            server,
            tmp,
        }
    }

    fn data(&self) -> PathBuf {
        self.tmp.path().join("data")
    }

    fn out(&self) -> PathBuf {
        self.tmp.path().join("out")
    }

    /// A batch file of `n` small requests with distinct prompts (`prompt 1`…).
    fn jsonl(&self, name: &str, n: usize) -> PathBuf {
        let lines: Vec<String> = (1..=n)
            .map(|i| {
                format!(
                    r#"{{"prompt": "prompt {i}", "image": "in.png", "seed": {i}, "use_input_img_dimension": false, "custom_width": 256, "custom_height": 256}}"#
                )
            })
            .collect();
        let p = self.tmp.path().join(name);
        std::fs::write(&p, lines.join("\n") + "\n").unwrap();
        p
    }

    fn cmd(&self, args: &[&str]) -> std::process::Command {
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_fluxcn"));
        c.env("SEGMIND_API_KEY", KEY)
            .env("FLUXCN_DATA_DIR", self.data())
            .env_remove("FLUXCN_API_BASE")
            .env_remove("FLUXCN_DAILY_BUDGET")
            // These runs count v1 requests (v2 is asked for by flag where a test needs it).
            .env("FLUXCN_API", "v1")
            .args(["--api-base", &self.server.base_url()])
            .args(args);
        c
    }

    fn batch(&self, file: &Path, extra: &[&str]) -> std::process::Output {
        let mut c = self.cmd(&["batch"]);
        c.arg(file).arg("--out").arg(self.out()).args(extra);
        c.output().unwrap()
    }

    /// How many times each prompt reached the stand-in.
    fn sent(&self) -> std::collections::BTreeMap<String, usize> {
        let mut m = std::collections::BTreeMap::new();
        for (prompt, _) in self.server.stats().v1_log {
            *m.entry(prompt).or_insert(0) += 1;
        }
        m
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn images_in(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .filter(|e| {
                    let n = e.file_name().to_string_lossy().into_owned();
                    !n.starts_with('.') && (n.ends_with(".jpg") || n.ends_with(".png"))
                })
                .count()
        })
        .unwrap_or(0)
}

#[test]
fn a_batch_runs_resumes_and_its_spend_equals_what_the_stand_in_billed() {
    let b = Bench::new(Duration::ZERO);
    let file = b.jsonl("batch.jsonl", 6);
    let o = b.batch(&file, &[]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let paths: Vec<String> = text(&o.stdout).lines().map(str::to_owned).collect();
    assert_eq!(paths.len(), 6, "one saved path a line: {paths:?}");
    assert!(paths.iter().all(|p| Path::new(p).is_file()));
    assert!(
        text(&o.stderr).contains("6 lines: 6 saved"),
        "{}",
        text(&o.stderr)
    );
    assert_eq!(b.server.stats().v1_requests, 6);

    // The ledger holds exactly what the stand-in billed.
    let billed = b.server.stats().billed_usd;
    assert!(billed > 0.0);
    let ledger = Ledger::open(Ledger::path_in(&b.data())).unwrap();
    let spend = ledger.spend(chrono::Local::now(), 7).unwrap();
    assert!(
        (spend.all - billed).abs() < 1e-9,
        "{} vs {billed}",
        spend.all
    );
    assert!((spend.today - billed).abs() < 1e-9);
    assert_eq!(spend.jobs, 6);
    drop(ledger);
    let o = b.cmd(&["spend"]).output().unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
    let out = text(&o.stdout);
    assert!(out.contains(&format!("today:      ${billed:.2}")), "{out}");
    assert!(
        out.contains(&format!("all time:   ${billed:.2} (6 jobs, 6 images)")),
        "{out}"
    );
    assert!(
        out.contains("depth") || out.contains("pose") || out.contains("canny"),
        "{out}"
    );

    // The same command again: every line is saved, nothing is sent, nothing more is billed.
    let o = b.batch(&file, &[]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).contains("6 lines saved by an earlier run"),
        "{}",
        text(&o.stderr)
    );
    assert_eq!(b.server.stats().v1_requests, 6);
    assert_eq!(text(&o.stdout).lines().count(), 0);

    // Lines moved around and one added: only the new one is sent.
    let mut lines: Vec<String> = std::fs::read_to_string(&file)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    lines.reverse();
    lines.push(r#"{"prompt": "prompt 7", "image": "in.png", "seed": 7, "use_input_img_dimension": false, "custom_width": 256, "custom_height": 256}"#.into());
    std::fs::write(&file, lines.join("\n")).unwrap();
    let o = b.batch(&file, &[]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(b.server.stats().v1_requests, 7);
    assert_eq!(b.sent().get("prompt 7"), Some(&1));
}

#[test]
fn bad_lines_are_refused_by_line_and_field_and_nothing_is_sent() {
    let b = Bench::new(Duration::ZERO);
    let file = b.tmp.path().join("bad.jsonl");
    std::fs::write(
        &file,
        concat!(
            "{\"prompt\": \"ok\", \"image\": \"in.png\"}\n",
            "{\"prompt\": \"x\", \"image\": \"in.png\", \"steps\": 9000}\n",
            "{\"prompt\": \"x\", \"image\": \"in.png\", \"colour\": \"red\"}\n",
        ),
    )
    .unwrap();
    let o = b.batch(&file, &[]);
    assert!(!o.status.success());
    let err = text(&o.stderr);
    assert!(err.contains("2 problems, nothing was sent"), "{err}");
    assert!(
        err.contains("line 2, field `steps`: `9000` is not allowed"),
        "{err}"
    );
    assert!(
        err.contains("line 3, field `colour`: unknown field"),
        "{err}"
    );
    assert_eq!(b.server.stats().v1_requests, 0);

    // CSV: a quoted prompt with commas runs; a dry run prices it and sends nothing.
    let csv = b.tmp.path().join("b.csv");
    std::fs::write(
        &csv,
        "prompt,image,cn_type,use_input_img_dimension,custom_width,custom_height\n\"a knight, red cape\",in.png,depth,false,256,256\n\"a fox, at dusk\",in.png,canny,false,256,256\n",
    )
    .unwrap();
    let o = b.batch(&csv, &["--dry-run"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(
        text(&o.stdout).contains("2 requests, 2 images, estimated $0.10"),
        "{}",
        text(&o.stdout)
    );
    assert_eq!(b.server.stats().v1_requests, 0, "a dry run sends nothing");
    let o = b.batch(&csv, &[]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(b.sent().get("a knight, red cape"), Some(&1));
    assert_eq!(b.sent().get("a fox, at dusk"), Some(&1));
}

#[test]
fn a_batch_killed_mid_run_and_run_again_sends_no_line_twice() {
    let b = Bench::new(Duration::from_millis(400));
    let file = b.jsonl("long.jsonl", 12);
    let mut child = b
        .cmd(&["batch"])
        .arg(&file)
        .arg("--out")
        .arg(b.out())
        .args(["--concurrency", "3"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while images_in(&b.out()) < 4 && start.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let saved_at_kill = images_in(&b.out());
    assert!(
        (4..12).contains(&saved_at_kill),
        "{saved_at_kill} saved when killed"
    );

    let o = b.batch(&file, &[]);
    let err = text(&o.stderr);
    // No prompt reached the stand-in twice.
    let sent = b.sent();
    assert!(sent.values().all(|&n| n == 1), "{sent:?}\n{err}");
    eprintln!("after the kill, the re-run said:\n{err}");
    // Every line is saved, or listed as sent with no answer known (those in flight at the kill:
    // the run then fails, saying so).
    if !o.status.success() {
        assert!(err.contains("with no answer known"), "{err}");
        assert!(err.contains("lines with an unknown outcome"), "{err}");
        // Told to, it sends those again; then all twelve are saved.
        let o = b.batch(&file, &["--resend-unknown"]);
        assert!(o.status.success(), "{}", text(&o.stderr));
    }
    // Every line is saved now: the same command again sends nothing. (A line killed while its
    // image was being written may have left that image behind as well: at least 12 on disk.)
    let before = b.server.stats().v1_requests;
    let o = b.batch(&file, &[]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).contains("12 lines saved by an earlier run"),
        "{}",
        text(&o.stderr)
    );
    assert_eq!(b.server.stats().v1_requests, before);
    assert!(images_in(&b.out()) >= 12, "{err}");
    // A line already saved was never sent again, even with --resend-unknown.
    let sent = b.sent();
    let twice: Vec<_> = sent
        .iter()
        .filter(|(_, n)| **n > 1)
        .map(|(p, _)| p.clone())
        .collect();
    // Only lines the re-run listed as "sent, no answer known" (line N asks for "prompt N").
    let listed: Vec<String> = err
        .lines()
        .filter_map(|l| l.strip_prefix("  line "))
        // "  line 5" or "  line 5: what the account said of it".
        .map(|n| format!("prompt {}", n.split(':').next().unwrap_or(n).trim()))
        .collect();
    for p in &twice {
        assert!(
            listed.contains(p),
            "{p} sent twice but was not listed as unknown:\n{err}"
        );
    }
}

#[test]
fn work_over_the_daily_budget_is_refused_before_anything_is_sent() {
    let b = Bench::new(Duration::ZERO);
    let file = b.jsonl("five.jsonl", 5);
    // $0.048 an image: two fit under $0.12, the third would cross it.
    let o = b.batch(&file, &["--budget", "0.12", "--concurrency", "4"]);
    assert!(!o.status.success());
    let err = text(&o.stderr);
    assert!(err.contains("the batch stopped before line 3"), "{err}");
    assert!(err.contains("over the daily budget of $0.12"), "{err}");
    assert!(err.contains("3 not sent (daily budget)"), "{err}");
    assert_eq!(b.server.stats().v1_requests, 2, "{err}");
    assert_eq!(b.server.stats().generations_billed, 2);

    // Generate: refused whole, naming the budget, today's spend and the estimate.
    let mut c = b.cmd(&["generate", "--prompt", "one more", "--image"]);
    c.arg(b.tmp.path().join("in.png"))
        .env("FLUXCN_DAILY_BUDGET", "0.12");
    let o = c.output().unwrap();
    assert!(!o.status.success());
    let err = text(&o.stderr);
    assert!(
        err.contains(
            "refused, nothing was sent: over the daily budget of $0.12: $0.10 is spent today"
        ),
        "{err}"
    );
    assert!(
        err.contains("this would cost about $0.05 (1 image at $0.048)"),
        "{err}"
    );
    assert_eq!(b.server.stats().v1_requests, 2, "nothing sent");

    // Compare: four images over the budget are refused whole, not half sent.
    let mut c = b.cmd(&["compare", "--prompt", "four", "--budget", "0.20", "--image"]);
    c.arg(b.tmp.path().join("in.png"));
    let o = c.output().unwrap();
    assert!(!o.status.success());
    assert!(
        text(&o.stderr).contains("refused, nothing was sent"),
        "{}",
        text(&o.stderr)
    );
    assert_eq!(b.server.stats().v1_requests, 2);

    // Under the budget, work runs: the re-run sends the three remaining lines.
    let o = b.batch(&file, &["--budget", "1"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(b.server.stats().v1_requests, 5);
}

#[test]
fn a_v2_batch_killed_mid_run_is_finished_by_resume_and_each_job_is_billed_and_counted_once() {
    let b = Bench::new(Duration::from_millis(600));
    let file = b.jsonl("v2.jsonl", 8);
    let mut child = b
        .cmd(&["batch"])
        .arg(&file)
        .arg("--out")
        .arg(b.out())
        .args(["--api", "v2", "--concurrency", "3"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while images_in(&b.out()) < 2 && start.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let submitted_at_kill = b.server.stats().v2_submits;

    // `fluxcn resume` fetches the jobs that were under way (by polling, never submitting again).
    let mut c = b.cmd(&["resume", "--out"]);
    c.arg(b.out());
    let o = c.output().unwrap();
    let resumed = text(&o.stderr);
    assert_eq!(b.server.stats().v2_submits, submitted_at_kill, "{resumed}");

    // The batch again: the lines resume saved are saved for it too; the rest are sent once.
    let o = b.batch(&file, &["--api", "v2"]);
    let err = text(&o.stderr);
    let stats = b.server.stats();
    assert!(
        stats.v2_submits <= 8,
        "no line submitted twice: {} submits\n{resumed}\n{err}",
        stats.v2_submits
    );
    if o.status.success() {
        // Every line saved (a job killed while its image was written may have left that image
        // behind too, and resume fetched it again: at least 8 on disk).
        assert!(images_in(&b.out()) >= 8, "{err}");
        assert_eq!(stats.v2_submits, 8, "{err}");
        // Every job billed is in the ledger once, resumed ones included.
        let ledger = Ledger::open(Ledger::path_in(&b.data())).unwrap();
        let all = ledger.spend(chrono::Local::now(), 1).unwrap().all;
        assert!(
            (all - stats.billed_usd).abs() < 1e-9,
            "{all} vs {}",
            stats.billed_usd
        );
        assert_eq!(ledger.spend(chrono::Local::now(), 1).unwrap().jobs, 8);
    } else {
        // A job killed between its submit and the journal's record of its id cannot be polled:
        // its line is listed as unknown, never sent again on its own.
        assert!(err.contains("with no answer known"), "{err}");
    }
}

#[test]
fn a_failed_line_is_said_on_stderr_without_a_terminal_and_sent_again_by_a_rerun() {
    let b = Bench::new(Duration::ZERO);
    let file = b.jsonl("two.jsonl", 2);
    // The first request is refused (403: not retried, not billed); the second goes through.
    b.server.push_faults([sim::Fault::Status403]);
    let o = b.batch(&file, &["--concurrency", "1"]);
    let err = text(&o.stderr);
    assert!(!o.status.success());
    assert!(err.contains("fluxcn: line 1: failed:"), "{err}");
    assert!(err.contains("2 lines: 1 saved, 1 failed"), "{err}");
    // Not billed: a re-run sends it again (and only it).
    let o = b.batch(&file, &[]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).contains("1 line that failed unbilled before: sent again"),
        "{}",
        text(&o.stderr)
    );
    assert_eq!(b.sent().get("prompt 1"), Some(&2));
    assert_eq!(b.sent().get("prompt 2"), Some(&1));
}

/// Two processes at once, one daily budget: two `generate --budget 0.05` started together pay for
/// one image between them (each job's share is reserved in the shared ledger, in one transaction
/// with the check), and a job whose outcome is unknown counts until it is settled.
#[test]
fn two_processes_at_once_keep_one_daily_budget() {
    let b = Bench::new(Duration::from_millis(800));
    let spawn = |prompt: &str| {
        let mut c = b.cmd(&[
            "generate", "--prompt", prompt, "--budget", "0.05", "--image",
        ]);
        c.arg(b.tmp.path().join("in.png"))
            .arg("--out")
            .arg(b.out())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        c.spawn().unwrap()
    };
    let (x, y) = (spawn("first"), spawn("second"));
    let outs = [x.wait_with_output().unwrap(), y.wait_with_output().unwrap()];
    let ok = outs.iter().filter(|o| o.status.success()).count();
    let said: Vec<String> = outs.iter().map(|o| text(&o.stderr)).collect();
    assert_eq!(ok, 1, "{said:?}");
    assert!(
        said.iter()
            .any(|e| e.contains("over the daily budget of $0.05")),
        "{said:?}"
    );
    assert_eq!(b.server.stats().generations_billed, 1, "{said:?}");
    let l = fluxcn::jobs::ledger::Ledger::open(b.data().join("ledger.sqlite")).unwrap();
    assert!((l.spent_today().unwrap() - 0.048).abs() < 1e-6);
    assert!(
        l.held().unwrap().abs() < 1e-9,
        "a reservation was left behind"
    );
}

/// One batch file run by two processes at once (or the window's Batch tab beside the CLI): each
/// line is claimed in the catalog before it is sent, so each is sent once between them, and the
/// run that found a line taken says so.
#[test]
fn two_runs_of_one_batch_at_once_send_each_line_once() {
    let b = Bench::new(Duration::from_millis(400));
    let file = b.jsonl("three.jsonl", 3);
    let spawn = || {
        let mut c = b.cmd(&["batch"]);
        c.arg(&file)
            .arg("--out")
            .arg(b.out())
            .args(["--concurrency", "3"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        c.spawn().unwrap()
    };
    let (x, y) = (spawn(), spawn());
    let outs = [x.wait_with_output().unwrap(), y.wait_with_output().unwrap()];
    let said: Vec<String> = outs.iter().map(|o| text(&o.stderr)).collect();
    assert!(
        b.sent().values().all(|&n| n == 1),
        "{:?} {said:?}",
        b.sent()
    );
    assert_eq!(b.sent().len(), 3, "{said:?}");
    assert_eq!(b.server.stats().generations_billed, 3, "{said:?}");
    assert_eq!(images_in(&b.out()), 3);
    // Unless one run finished before the other planned, the later one was told.
    if outs.iter().all(|o| o.status.success()) {
        assert!(
            said.iter().any(|e| e.contains("saved by an earlier run")),
            "{said:?}"
        );
    } else {
        assert!(
            said.iter().any(|e| e.contains("another fluxcn process")),
            "{said:?}"
        );
    }
    // A third run sends nothing.
    let o = b.batch(&file, &[]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(b.server.stats().generations_billed, 3);
}

/// A line whose outcome is unknown (the connection dropped after it was sent) is never sent again
/// unasked, even after the batch file is renamed and moved with its image: lines are keyed by
/// their content, not by where the file lives.
#[test]
fn a_moved_batch_never_resends_a_line_whose_outcome_is_unknown() {
    let b = Bench::new(Duration::from_millis(20));
    let file = b.jsonl("a.jsonl", 2);
    b.server.push_faults([sim::Fault::Reset]);
    // The account's history cannot be reached in these runs: the line stays "outcome unknown"
    // (a reachable history settles it: `tests/engine/account.rs`).
    let no_history = ["--history-base", "http://127.0.0.1:9/"];
    let o = b.batch(&file, &["--concurrency", "1", no_history[0], no_history[1]]);
    assert!(!o.status.success());
    let first = b.sent();
    assert_eq!(first.values().sum::<usize>(), 2, "{first:?}");
    let moved = b.tmp.path().join("elsewhere");
    std::fs::create_dir(&moved).unwrap();
    std::fs::rename(&file, moved.join("renamed.jsonl")).unwrap();
    std::fs::copy(b.tmp.path().join("in.png"), moved.join("in.png")).unwrap();
    let o = b.batch(&moved.join("renamed.jsonl"), &no_history);
    let err = text(&o.stderr);
    assert!(err.contains("no answer known"), "{err}");
    assert!(err.contains("saved by an earlier run"), "{err}");
    assert_eq!(b.sent(), first, "a line was sent again: {err}");
    // Asked to, it is sent again, once.
    let o = b.batch(&moved.join("renamed.jsonl"), &["--resend-unknown"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(b.sent().values().sum::<usize>(), 3);
}
