//! The key never goes to a proxy in clear: with `HTTP_PROXY`, `http_proxy`, `ALL_PROXY` or
//! `all_proxy` set, the real `fluxcn` binary reaches a plain-HTTP (loopback) service directly, and
//! the proxy (a listener on loopback that records whatever reaches it) receives nothing. Over HTTPS
//! a proxy may be used, and then only sees a `CONNECT` (the key stays inside TLS).

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use assert_cmd::Command;
use fluxcn::sim::{self, SimConfig, SimServer};

const KEY: &str = "SG_b0a710adb0a710ad";
const PROXY_VARS: [&str; 6] = [
    "HTTP_PROXY",
    "http_proxy",
    "ALL_PROXY",
    "all_proxy",
    "HTTPS_PROXY",
    "https_proxy",
];

/// A fake proxy on loopback: records every byte it receives (one record per connection) and
/// answers `502` to each request.
struct Proxy {
    url: String,
    seen: Arc<Mutex<Vec<Vec<u8>>>>,
}

impl Proxy {
    fn start() -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s2 = seen.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
                let mut got = Vec::new();
                let mut buf = [0u8; 4096];
                while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => got.extend_from_slice(&buf[..n]),
                    }
                }
                s2.lock().unwrap().push(got);
                let _ = stream.write_all(b"HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\n\r\n");
            }
        });
        Proxy { url, seen }
    }

    fn requests(&self) -> Vec<String> {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .map(|r| String::from_utf8_lossy(r).into_owned())
            .collect()
    }
}

fn fluxcn(base: &str, data: &Path, proxy_var: &str, proxy: &Proxy) -> Command {
    let mut c = Command::cargo_bin("fluxcn").unwrap();
    for v in PROXY_VARS.iter().chain(&["NO_PROXY", "no_proxy"]) {
        c.env_remove(v);
    }
    c.env("SEGMIND_API_KEY", KEY)
        .env("FLUXCN_DATA_DIR", data)
        .env(proxy_var, &proxy.url)
        .env_remove("FLUXCN_API_BASE")
        .env_remove("FLUXCN_LOG")
        .arg("--api-base")
        .arg(base)
        .timeout(Duration::from_secs(60));
    c
}

fn stand_in(rt: &tokio::runtime::Runtime) -> SimServer {
    rt.block_on(sim::start(SimConfig {
        delay: Duration::from_millis(100),
        ..Default::default()
    }))
    .unwrap()
}

#[test]
fn a_plain_http_service_is_reached_directly_whatever_proxy_is_set() {
    let rt = crate::common::rt();
    let server = stand_in(&rt);
    let proxy = Proxy::start();
    let dir = tempfile::tempdir().unwrap();
    for (i, var) in ["HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"]
        .into_iter()
        .enumerate()
    {
        let out = fluxcn(&server.base_url(), dir.path(), var, &proxy)
            .arg("credits")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{var}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            proxy.requests(),
            Vec::<String>::new(),
            "{var}: the proxy got a request"
        );
        assert_eq!(server.stats().credits_calls, i as u64 + 1, "{var}");
    }
    // A whole v2 generation: the submit, the polls, the result and the output download.
    let input = dir.path().join("in.png");
    std::fs::write(&input, sim::demo_input_png()).unwrap();
    let out = fluxcn(&server.base_url(), dir.path(), "HTTP_PROXY", &proxy)
        .env("ALL_PROXY", &proxy.url)
        .args(["generate", "--api", "v2", "--prompt", "a kite", "--image"])
        .arg(&input)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(proxy.requests(), Vec::<String>::new());
    let st = server.stats();
    assert_eq!((st.v2_submits, st.outputs_served), (1, 1));
}

#[test]
fn over_https_a_proxy_only_sees_a_connect() {
    let proxy = Proxy::start();
    let dir = tempfile::tempdir().unwrap();
    // Nothing listens behind the proxy: the proxy refuses the tunnel and the command fails.
    let out = fluxcn(
        "https://api.segmind.invalid/v1",
        dir.path(),
        "HTTPS_PROXY",
        &proxy,
    )
    .arg("credits")
    .output()
    .unwrap();
    assert!(!out.status.success());
    let seen = proxy.requests();
    assert!(!seen.is_empty(), "the proxy was not used over HTTPS");
    for r in &seen {
        assert!(r.starts_with("CONNECT api.segmind.invalid:443 "), "{r}");
        assert!(
            !r.contains(KEY) && !r.to_ascii_lowercase().contains("x-api-key"),
            "{r}"
        );
    }
    let shown = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!shown.contains(KEY), "{shown}");
}
