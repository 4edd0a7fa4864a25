//! The bench of the bad-input catalogue (`bad_inputs_files` and `bad_inputs_answers`): runs the
//! real `fluxcn generate` binary on one case, exactly as a user would, checks it, and prints the
//! table that `docs/bad-inputs.md` holds.
//!
//! For each kind the bench checks:
//! - an error ends the run with exit code 1 and one `error:` line that says what is wrong, with no
//!   panic and no backtrace;
//! - a file that is merely unusual (wrong extension, animated, CMYK, 16-bit, EXIF-rotated, …) is
//!   handled, and its result is saved;
//! - nothing is lost: the input file is byte-identical afterwards, an image saved earlier in the
//!   same folder is untouched, and a failure leaves no file behind (no partial, no temp);
//! - the distinctive API key is in no output stream and no file the run wrote.
#![allow(dead_code)] // each test crate uses its own subset

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use assert_cmd::Command;
use image::RgbImage;

use super::gradient;

pub const KEY: &str = "SG_0badc0de0badf00d";

pub fn photo() -> Vec<u8> {
    jpeg(&gradient(160, 96))
}

pub fn jpeg(img: &RgbImage) -> Vec<u8> {
    super::jpeg(img, 90)
}

pub enum Expect {
    /// Exit 1 with one `error:` line holding each of these (case-insensitive).
    Error(&'static [&'static str]),
    /// Exit 0, one image saved; `dims` checks the saved picture's size when given.
    Saved { dims: Option<(u32, u32)> },
}

struct Outcome {
    line: String,
    requests: Option<usize>,
}

pub struct Bench {
    pub tmp: tempfile::TempDir,
    pub rows: Vec<(String, &'static str, String)>,
    streams: Vec<Vec<u8>>,
    /// Every failed check, so that one run reports every case.
    problems: Vec<String>,
}

impl Bench {
    pub fn new() -> Bench {
        Bench {
            tmp: tempfile::tempdir().expect("tempdir"),
            rows: Vec::new(),
            streams: Vec::new(),
            problems: Vec::new(),
        }
    }

    pub fn data(&self) -> PathBuf {
        self.tmp.path().join("data")
    }

    /// Runs `fluxcn generate` on `image` against `base`, checks `expect` and that nothing was lost.
    #[allow(clippy::too_many_arguments)]
    pub fn run(
        &mut self,
        group: &'static str,
        kind: &str,
        base: &str,
        image: &str,
        input_file: Option<&Path>,
        extra: &[&str],
        expect: Expect,
        requests: Option<Arc<AtomicUsize>>,
    ) {
        let out_dir = self.tmp.path().join(format!("out-{}", self.rows.len()));
        std::fs::create_dir_all(&out_dir).expect("out dir");
        let earlier = out_dir.join("earlier.jpg");
        let earlier_bytes = photo();
        std::fs::write(&earlier, &earlier_bytes).expect("earlier");
        let input_before = input_file.and_then(|p| std::fs::read(p).ok());

        let mut cmd = Command::cargo_bin("fluxcn").expect("binary");
        cmd.env("SEGMIND_API_KEY", KEY)
            .env("FLUXCN_DATA_DIR", self.data())
            .env("FLUXCN_LOG", "debug")
            // The hostile answers are v1's (a test asks for v2 by flag, which wins).
            .env("FLUXCN_API", "v1")
            .env_remove("FLUXCN_API_BASE")
            .env_remove("RUST_BACKTRACE")
            .args(["--api-base", base, "generate", "--image", image])
            .args(["--prompt", "a lighthouse at dusk", "--seed", "7"])
            .arg("--out")
            .arg(&out_dir)
            .args(extra)
            .timeout(Duration::from_secs(120));
        let out = cmd.output().expect("run fluxcn");
        let stdout = String::from_utf8_lossy(&out.stdout).to_string();
        let stderr = String::from_utf8_lossy(&out.stderr).to_string();
        let ctx = format!("[{kind}] stdout: {stdout}\nstderr: {stderr}");
        let mut bad = |ok: bool, what: String| {
            if !ok {
                self.problems.push(format!("{what}\n  {ctx}"));
            }
        };
        bad(!stderr.contains("panicked"), "panicked".into());
        bad(!stderr.contains("RUST_BACKTRACE"), "backtrace hint".into());

        // Nothing lost.
        bad(
            std::fs::read(&earlier).ok().as_deref() == Some(earlier_bytes.as_slice()),
            "an earlier image was touched".into(),
        );
        if let Some(p) = input_file {
            bad(
                std::fs::read(p).ok() == input_before,
                "the input file changed".into(),
            );
        }
        let new_files: Vec<PathBuf> = std::fs::read_dir(&out_dir)
            .expect("read out dir")
            .flatten()
            .map(|e| e.path())
            .filter(|p| p != &earlier)
            // The gallery's own catalog (rebuilt from the files when missing) is expected there.
            .filter(|p| {
                !p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with(".catalog.sqlite"))
            })
            .collect();

        let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error:")).collect();
        let line = match expect {
            Expect::Error(needles) => {
                bad(
                    out.status.code() == Some(1),
                    format!("exit {:?}", out.status.code()),
                );
                bad(errors.len() == 1, format!("{} error lines", errors.len()));
                let first = errors.first().copied().unwrap_or_default();
                let low = first.to_lowercase();
                for n in needles {
                    bad(
                        low.contains(&n.to_lowercase()),
                        format!("the error does not say {n:?}"),
                    );
                }
                bad(
                    new_files.is_empty(),
                    format!("a failure left files behind: {new_files:?}"),
                );
                first.trim_start_matches("error:").trim().to_owned()
            }
            Expect::Saved { dims } => {
                bad(out.status.success(), "not saved".into());
                let images: Vec<&PathBuf> = new_files
                    .iter()
                    .filter(|p| p.extension().is_some_and(|x| x == "jpg"))
                    .collect();
                bad(
                    images.len() == 1,
                    format!("one image expected: {new_files:?}"),
                );
                match images.first().map(|p| (p, image::open(p))) {
                    Some((p, Ok(img))) => {
                        bad(
                            stdout.contains(&*p.to_string_lossy()),
                            "the saved path is not printed".into(),
                        );
                        if let Some(d) = dims {
                            bad(
                                (img.width(), img.height()) == d,
                                format!("saved {}×{}, expected {d:?}", img.width(), img.height()),
                            );
                        }
                        let notes: Vec<&str> = stderr
                            .lines()
                            .filter(|l| l.contains("note") || l.contains("warning"))
                            .collect();
                        format!(
                            "handled: saved {}×{}{}",
                            img.width(),
                            img.height(),
                            if notes.is_empty() {
                                String::new()
                            } else {
                                format!(" ({})", notes.join("; "))
                            }
                        )
                    }
                    Some((_, Err(e))) => {
                        bad(false, format!("the saved image does not decode: {e}"));
                        String::new()
                    }
                    None => String::new(),
                }
            }
        };
        let outcome = Outcome {
            line,
            requests: requests.map(|c| c.load(Ordering::SeqCst)),
        };
        let shown = match outcome.requests {
            Some(n) => format!("{} — requests sent: {n}", outcome.line),
            None => outcome.line,
        };
        self.rows.push((kind.to_owned(), group, shown));
        self.streams.push(out.stdout);
        self.streams.push(out.stderr);
    }

    pub fn finish(mut self) {
        // The key appears in no stream and no file of any run.
        for (i, s) in self.streams.iter().enumerate() {
            if s.windows(KEY.len()).any(|w| w == KEY.as_bytes()) {
                self.problems.push(format!(
                    "the key is in an output stream of case {}",
                    i / 2 + 1
                ));
            }
        }
        let mut stack = vec![self.tmp.path().to_path_buf()];
        let mut scanned = 0;
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
                let p = e.path();
                if p.is_dir() {
                    stack.push(p);
                } else if let Ok(bytes) = std::fs::read(&p) {
                    scanned += 1;
                    if bytes.windows(KEY.len()).any(|w| w == KEY.as_bytes()) {
                        self.problems.push(format!("the key is in {}", p.display()));
                    }
                }
            }
        }
        println!("| # | kind | input | what the user sees |");
        println!("|---|---|---|---|");
        for (i, (kind, group, line)) in self.rows.iter().enumerate() {
            println!(
                "| {} | {kind} | {group} | {} |",
                i + 1,
                line.replace('|', "\\|")
            );
        }
        println!(
            "\n{} kinds; key searched in {} streams and {scanned} files: 0 hits",
            self.rows.len(),
            self.streams.len()
        );
        assert!(
            self.problems.is_empty(),
            "{} problems:\n{}",
            self.problems.len(),
            self.problems.join("\n\n")
        );
    }
}
