//! The bad-input catalogue: every kind of bad file and bad answer from the server that a user can
//! meet, sent through the real `fluxcn generate` binary, exactly as a user would run it.
//!
//! For each kind the test checks:
//! - an error ends the run with exit code 1 and one `error:` line that says what is wrong, with no
//!   panic and no backtrace;
//! - a file that is merely unusual (wrong extension, animated, CMYK, 16-bit, EXIF-rotated, …) is
//!   handled, and its result is saved;
//! - nothing is lost: the input file is byte-identical afterwards, an image saved earlier in the
//!   same folder is untouched, and a failure leaves no file behind (no partial, no temp);
//! - the distinctive API key is in no output stream and no file the run wrote.
//!
//! Files go to the contract-enforcing stand-in; bad answers come from a raw TCP server that writes
//! exactly the bytes of each case. `cargo test --test bad_inputs -- --nocapture` prints the table
//! that `docs/bad-inputs.md` holds.
// Test code: a failed unwrap is a failed test; a test reads top to bottom as one story.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use assert_cmd::Command;
use base64::Engine as _;
use common::{gradient, png_bomb, png_of, with_exif_orientation};
use fluxcn::sim::{self, SimConfig};
use image::{DynamicImage, Rgb, RgbImage, Rgba, RgbaImage};

const KEY: &str = "SG_0badc0de0badf00d";

// ---- what the files and answers are made of ---------------------------------------------------

fn animated_gif() -> Vec<u8> {
    let mut gif = Vec::new();
    {
        let mut enc = image::codecs::gif::GifEncoder::new(&mut gif);
        let frames = [Rgba([255, 0, 0, 255]), Rgba([0, 0, 255, 255])]
            .into_iter()
            .map(|c| image::Frame::new(RgbaImage::from_pixel(96, 64, c)));
        enc.encode_frames(frames).expect("encode gif");
    }
    gif
}

fn cmyk_jpeg() -> Vec<u8> {
    let (w, h) = (96u16, 64u16);
    let data: Vec<u8> = (0..usize::from(w) * usize::from(h))
        .flat_map(|_| [0u8, 255, 255, 0])
        .collect();
    let mut out = Vec::new();
    jpeg_encoder::Encoder::new(&mut out, 95)
        .encode(&data, w, h, jpeg_encoder::ColorType::Cmyk)
        .expect("encode cmyk");
    out
}

fn png16() -> Vec<u8> {
    let img = image::ImageBuffer::<Rgb<u16>, _>::from_fn(96, 64, |x, y| {
        Rgb([(x * 600) as u16, (y * 900) as u16, 30_000])
    });
    png_of(&DynamicImage::ImageRgb16(img))
}

fn gray_alpha_png() -> Vec<u8> {
    let img = image::GrayAlphaImage::from_fn(96, 64, |x, _| image::LumaA([(x * 2) as u8, 100]));
    png_of(&DynamicImage::ImageLumaA8(img))
}

fn photo() -> Vec<u8> {
    jpeg(&gradient(160, 96))
}

fn jpeg(img: &RgbImage) -> Vec<u8> {
    common::jpeg(img, 90)
}

// ---- a server that answers exactly the given bytes ---------------------------------------------

/// What the raw server does once it has read a whole request.
#[derive(Clone)]
enum Answer {
    /// Writes these bytes, then closes the connection.
    Bytes(Vec<u8>),
    /// Closes the connection without a byte.
    Close,
}

fn http(status: &str, content_type: &str, body: &[u8]) -> Answer {
    let mut out = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(body);
    Answer::Bytes(out)
}

fn with_head(head: &str, body: &[u8]) -> Answer {
    let mut out = head.replace('\n', "\r\n").into_bytes();
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
    Answer::Bytes(out)
}

/// Reads one HTTP/1.1 request (head and `Content-Length` body); false when the peer went away.
fn read_request(s: &mut TcpStream) -> bool {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 64 * 1024];
    let head_end = loop {
        match s.read(&mut chunk) {
            Ok(0) | Err(_) => return false,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
    let len: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    while buf.len() < head_end + len {
        match s.read(&mut chunk) {
            Ok(0) | Err(_) => return false,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    true
}

/// Starts the raw server on loopback; returns its base URL and the count of requests it read.
fn raw_server(answer: Answer) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let count = Arc::new(AtomicUsize::new(0));
    let seen = count.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut s) = conn else { continue };
            let _ = s.set_read_timeout(Some(Duration::from_secs(20)));
            if !read_request(&mut s) {
                continue;
            }
            seen.fetch_add(1, Ordering::SeqCst);
            if let Answer::Bytes(b) = &answer {
                let _ = s.write_all(b);
                let _ = s.flush();
            }
            let _ = s.shutdown(std::net::Shutdown::Both);
        }
    });
    (format!("http://{addr}/v1"), count)
}

// ---- one run ------------------------------------------------------------------------------------

enum Expect {
    /// Exit 1 with one `error:` line holding each of these (case-insensitive).
    Error(&'static [&'static str]),
    /// Exit 0, one image saved; `dims` checks the saved picture's size when given.
    Saved { dims: Option<(u32, u32)> },
}

struct Outcome {
    line: String,
    requests: Option<usize>,
}

struct Bench {
    tmp: tempfile::TempDir,
    rows: Vec<(String, &'static str, String)>,
    streams: Vec<Vec<u8>>,
    /// Every failed check, so that one run reports every case.
    problems: Vec<String>,
}

impl Bench {
    fn new() -> Bench {
        Bench {
            tmp: tempfile::tempdir().expect("tempdir"),
            rows: Vec::new(),
            streams: Vec::new(),
            problems: Vec::new(),
        }
    }

    fn data(&self) -> PathBuf {
        self.tmp.path().join("data")
    }

    /// Runs `fluxcn generate` on `image` against `base`, checks `expect` and that nothing was lost.
    #[allow(clippy::too_many_arguments)]
    fn run(
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
            // The gallery's own index (a cache, rebuilt when missing) is expected in its folder.
            .filter(|p| !p.ends_with(".index.jsonl"))
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

    fn finish(mut self) {
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

#[test]
fn every_bad_file_and_bad_answer_gets_a_clear_error_and_loses_nothing() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let server = rt
        .block_on(sim::start(SimConfig {
            delay: Duration::from_millis(20),
            ..Default::default()
        }))
        .expect("stand-in");
    let base = server.base_url();
    let mut b = Bench::new();
    let files = b.tmp.path().join("files");
    std::fs::create_dir_all(&files).expect("files dir");
    let put = |name: &str, bytes: &[u8]| -> PathBuf {
        let p = files.join(name);
        std::fs::write(&p, bytes).expect("write case file");
        p
    };

    // ---- files --------------------------------------------------------------------------------
    let good = jpeg(&gradient(160, 96));
    let cut_png = png_of(&DynamicImage::ImageRgb8(gradient(160, 96)));
    let mut mangled = good[..40].to_vec();
    mangled.extend(std::iter::repeat_n(0x55u8, 200));
    let huge = files.join("huge.jpg");
    {
        let f = std::fs::File::create(&huge).expect("huge");
        (&f).write_all(&good[..4]).expect("huge head");
        f.set_len(300 * 1024 * 1024).expect("sparse 300 MB");
    }
    let file_cases: Vec<(&str, PathBuf, Expect)> = vec![
        (
            "missing file",
            files.join("nope.jpg"),
            Expect::Error(&["nope.jpg"]),
        ),
        (
            "a folder, not a file",
            {
                let d = files.join("album.jpg");
                std::fs::create_dir_all(&d).expect("dir");
                d
            },
            Expect::Error(&["album.jpg", "folder"]),
        ),
        (
            "empty file",
            put("empty.png", b""),
            Expect::Error(&["empty.png", "empty"]),
        ),
        (
            "plain text named .jpg",
            put("notes.jpg", b"shopping list\nmilk\n"),
            Expect::Error(&["notes.jpg", "text"]),
        ),
        (
            "HTML page named .png",
            put("page.png", b"<!DOCTYPE html><html><body>404</body></html>"),
            Expect::Error(&["page.png", "html"]),
        ),
        (
            "PDF named .jpg",
            put("scan.jpg", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n"),
            Expect::Error(&["scan.jpg", "pdf"]),
        ),
        (
            "HEIC photo",
            put(
                "IMG_0001.HEIC",
                b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic",
            ),
            Expect::Error(&["IMG_0001.HEIC", "heic"]),
        ),
        (
            "SVG drawing",
            put(
                "logo.svg",
                b"<?xml version=\"1.0\"?><svg xmlns=\"http://www.w3.org/2000/svg\"></svg>",
            ),
            Expect::Error(&["logo.svg", "svg"]),
        ),
        (
            "truncated JPEG",
            put("cut.jpg", &good[..good.len() / 2]),
            Expect::Error(&["cut.jpg"]),
        ),
        (
            "truncated PNG",
            put("cut.png", &cut_png[..cut_png.len() / 2]),
            Expect::Error(&["cut.png"]),
        ),
        (
            "JPEG header then garbage",
            put("mangled.jpg", &mangled),
            Expect::Error(&["mangled.jpg"]),
        ),
        (
            "header claims 100000×100000 (decompression bomb)",
            put("bomb.png", &png_bomb(100_000, 100_000)),
            Expect::Error(&["bomb.png", "100000×100000"]),
        ),
        (
            "header claims 0×64",
            put("zero.png", &png_bomb(0, 64)),
            Expect::Error(&["zero.png"]),
        ),
        (
            "file of 300 MB",
            huge.clone(),
            Expect::Error(&["huge.jpg", "MB"]),
        ),
        (
            "PNG named .jpg (wrong extension)",
            put("really-a-png.jpg", &cut_png),
            Expect::Saved {
                dims: Some((160, 96)),
            },
        ),
        (
            "animated GIF",
            put("loop.gif", &animated_gif()),
            Expect::Saved {
                dims: Some((96, 64)),
            },
        ),
        (
            "CMYK JPEG",
            put("print.jpg", &cmyk_jpeg()),
            Expect::Saved {
                dims: Some((96, 64)),
            },
        ),
        (
            "16-bit PNG",
            put("deep.png", &png16()),
            Expect::Saved {
                dims: Some((96, 64)),
            },
        ),
        (
            "grayscale PNG with alpha",
            put("mask.png", &gray_alpha_png()),
            Expect::Saved {
                dims: Some((96, 64)),
            },
        ),
        (
            "EXIF-rotated JPEG (orientation 6)",
            put("portrait.jpg", &with_exif_orientation(&good, 6)),
            // Stored 160×96 sideways; upright it is 96×160, and so is the output.
            Expect::Saved {
                dims: Some((96, 160)),
            },
        ),
    ];
    for (kind, path, expect) in file_cases {
        let shown = path.to_string_lossy().to_string();
        let input = path.is_file().then_some(path.as_path());
        b.run("file", kind, &base, &shown, input, &[], expect, None);
    }
    for (kind, url, needles) in [
        (
            "URL with an unsupported scheme",
            "ftp://example.com/pose.png",
            &["ftp"][..],
        ),
        ("URL with no host", "https://", &["url"][..]),
    ] {
        b.run(
            "file",
            kind,
            &base,
            url,
            None,
            &[],
            Expect::Error(needles),
            None,
        );
    }

    // ---- answers ------------------------------------------------------------------------------
    let input = put("photo.jpg", &photo());
    let input_s = input.to_string_lossy().to_string();
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
    let good_out = jpeg(&gradient(160, 96));
    let html = b"<!DOCTYPE html><html><head><title>Sign in to Hotel WiFi</title></head><body>Please accept</body></html>";
    let answer_cases: Vec<(&str, Answer, &[&str], &[&str])> = vec![
        (
            "200 text/html (captive portal)",
            http("200 OK", "text/html", html),
            &["html"],
            &[],
        ),
        (
            "200 JSON that does not parse",
            http("200 OK", "application/json", b"{\"image\": \"iVBOR"),
            &["json"],
            &[],
        ),
        (
            "200 JSON with bad base64",
            http(
                "200 OK",
                "application/json",
                b"{\"image\": \"@@@ not base64 @@@\"}",
            ),
            &["base64"],
            &[],
        ),
        (
            "200 JSON, base64 of a text",
            http(
                "200 OK",
                "application/json",
                format!("{{\"image\": \"{}\"}}", b64(b"hello, this is not an image")).as_bytes(),
            ),
            &["not an image"],
            &[],
        ),
        (
            "200 JSON without an image",
            http("200 OK", "application/json", b"{\"status\": \"ok\"}"),
            &["no image"],
            &[],
        ),
        (
            "200 text/plain \"OK\" (wrong content type)",
            http("200 OK", "text/plain", b"OK"),
            &["text/plain"],
            &[],
        ),
        (
            "200 image/png whose body is a JSON error",
            http(
                "200 OK",
                "image/png",
                b"{\"error\": \"Model is warming up\"}",
            ),
            &["warming up"],
            &[],
        ),
        (
            "200 text/plain echoing the request's key",
            http(
                "200 OK",
                "text/plain",
                format!("{KEY} is not allowed here").as_bytes(),
            ),
            &["[redacted key]"],
            &[],
        ),
        (
            "empty 200",
            http("200 OK", "image/jpeg", b""),
            &["empty"],
            &[],
        ),
        (
            "200 announcing 300 MB (oversized body)",
            with_head(
                "HTTP/1.1 200 OK\nContent-Type: image/jpeg\nContent-Length: 314572800\n",
                &good_out,
            ),
            &["MB"],
            &[],
        ),
        (
            "200 body cut off before its Content-Length",
            with_head(
                &format!(
                    "HTTP/1.1 200 OK\nContent-Type: image/jpeg\nContent-Length: {}\n",
                    good_out.len()
                ),
                &good_out[..good_out.len() / 2],
            ),
            &["may have been billed"],
            &[],
        ),
        (
            "200 image/jpeg of random bytes",
            http("200 OK", "image/jpeg", &[0x5Au8; 3000]),
            &["not an image"],
            &[],
        ),
        (
            "200 image/jpeg, a JPEG cut in half",
            http("200 OK", "image/jpeg", &good_out[..good_out.len() / 2]),
            &["cut off"],
            &[],
        ),
        (
            "connection closed without an answer",
            Answer::Close,
            &["may have been billed"],
            &[],
        ),
        (
            "not HTTP at all",
            Answer::Bytes(b"SSH-2.0-OpenSSH_9.2\r\n".to_vec()),
            &["may have been billed"],
            &[],
        ),
        (
            "401 bad key",
            http(
                "401 Unauthorized",
                "application/json",
                b"{\"error\": \"Invalid API key\"}",
            ),
            &["401", "Invalid API key"],
            &[],
        ),
        (
            "406 out of credits",
            http(
                "406 Not Acceptable",
                "application/json",
                b"{\"error\": \"Insufficient credits\"}",
            ),
            &["406", "credits"],
            &[],
        ),
        (
            "400 with an HTML body",
            http("400 Bad Request", "text/html", html),
            &["400"],
            &[],
        ),
        (
            "404 (wrong base URL)",
            http(
                "404 Not Found",
                "text/html",
                b"<html><body>Not Found</body></html>",
            ),
            &["404"],
            &[],
        ),
        (
            "500 whose message echoes the key",
            http(
                "500 Internal Server Error",
                "application/json",
                format!("{{\"error\": \"bad header x-api-key: {KEY}\"}}").as_bytes(),
            ),
            &["500", "[redacted key]"],
            &[],
        ),
        (
            "302 to another host",
            with_head(
                "HTTP/1.1 302 Found\nLocation: http://127.0.0.2:9/steal\nContent-Length: 0\n",
                b"",
            ),
            &["302", "127.0.0.2"],
            &[],
        ),
        (
            "429 asking to wait an hour",
            with_head(
                "HTTP/1.1 429 Too Many Requests\nRetry-After: 3600\nContent-Type: application/json\nContent-Length: 31\n",
                b"{\"error\": \"Rate limit reached\"}",
            ),
            &["429"],
            &[],
        ),
        (
            "503 maintenance page, every time",
            http(
                "503 Service Unavailable",
                "text/html",
                b"<html>Down for maintenance</html>",
            ),
            &["503"],
            &["--retries", "1"],
        ),
    ];
    for (kind, answer, needles, extra) in answer_cases {
        let (raw_base, count) = raw_server(answer);
        b.run(
            "answer",
            kind,
            &raw_base,
            &input_s,
            Some(&input),
            extra,
            Expect::Error(needles),
            Some(count),
        );
    }

    // ---- files that would hang, or that the service cannot use: refused, nothing sent ----------
    let sent_before = server.stats().v1_requests;
    let fifo = files.join("webcam.jpg");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status();
    assert!(made.is_ok_and(|s| s.success()), "mkfifo");
    let tiny = |w, h| png_of(&DynamicImage::ImageRgb8(gradient(w, h)));
    let unusable: [(&str, PathBuf, &[&str], &'static [&'static str]); 4] = [
        (
            "a FIFO (named pipe)",
            fifo.clone(),
            &[],
            &["webcam.jpg", "named pipe"],
        ),
        (
            "1×1 PNG",
            put("dot.png", &tiny(1, 1)),
            &[],
            &["dot.png", "1×1", "64"],
        ),
        (
            "100000×1 PNG",
            put("line.png", &tiny(100_000, 1)),
            &[],
            &["100000×1", "16"],
        ),
        (
            "--max-input-side 0",
            input.clone(),
            &["--max-input-side", "0"],
            &["64"],
        ),
    ];
    for (kind, path, extra, needles) in unusable {
        let shown = path.to_string_lossy().to_string();
        let file = path.is_file().then_some(path.as_path());
        b.run(
            "file",
            kind,
            &base,
            &shown,
            file,
            extra,
            Expect::Error(needles),
            None,
        );
    }
    // The key search below reads every file: a FIFO would block it.
    std::fs::remove_file(&fifo).expect("remove the FIFO");
    assert_eq!(server.stats().v1_requests, sent_before, "nothing was sent");
    assert!(b.rows.len() >= 30, "{} kinds", b.rows.len());
    b.finish();
}
