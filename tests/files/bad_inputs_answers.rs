//! The bad-input catalogue, bad answers: every kind of bad answer from the server that a user can
//! meet, written byte for byte by a raw TCP server to the real `fluxcn generate` binary, exactly as
//! a user would run it. Each ends with one clear error (and "requests sent" shows what was
//! retried), the API key never shows, and nothing is lost (the checks: `common::bad_inputs`).
//! `cargo test --test files bad_inputs_answers -- --nocapture` prints the table that
//! `docs/bad-inputs.md` holds.

use crate::common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use base64::Engine as _;
use common::bad_inputs::{Bench, Expect, KEY, jpeg, photo};
use common::gradient;

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

#[test]
fn every_bad_answer_gets_a_clear_error_and_loses_nothing() {
    let mut b = Bench::new();
    let files = b.tmp.path().join("files");
    std::fs::create_dir_all(&files).expect("files dir");
    let put = |name: &str, bytes: &[u8]| -> PathBuf {
        let p = files.join(name);
        std::fs::write(&p, bytes).expect("write case file");
        p
    };

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
    assert!(b.rows.len() >= 23, "{} kinds", b.rows.len());
    b.finish();
}
