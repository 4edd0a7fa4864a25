//! The loopback stand-in injects faults deterministically: random faults repeat for a seed,
//! scripted faults happen in order (and only a complete 200 bills), a reset drops the connection,
//! a truncate cuts the body, a 429 says when to come back, and v2 submit faults refuse the job or
//! lose the answer of one that still runs. Raw reqwest calls against `sim::start` on 127.0.0.1,
//! port 0.

use crate::common;

use std::time::{Duration, Instant};

use common::sim_http::{KEY, body, fast, header, post, root, sim, v1};
use fluxcn::sim::{self, Fault, SimConfig, SimServer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// What a client sees of one v1 request, as a short word.
async fn outcome(s: &SimServer, timeout: Duration) -> String {
    let r = reqwest::Client::new()
        .post(format!("{}/v1/flux-controlnet", root(s)))
        .header("x-api-key", KEY)
        .header("content-type", "application/json")
        .timeout(timeout)
        .body(body().to_string())
        .send()
        .await;
    let r = match r {
        Ok(r) => r,
        Err(e) if e.is_timeout() => return "timeout".into(),
        Err(_) => return "dropped".into(),
    };
    let status = r.status().as_u16();
    let ct = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    match r.bytes().await {
        Err(_) => format!("{status} cut"),
        Ok(b) if status == 200 && image::load_from_memory(&b).is_ok() => "image".into(),
        Ok(_) => format!("{status} {ct}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_faults_repeat_for_a_seed_and_differ_for_another() {
    let spec: sim::FaultSpec = "429:0.2,500:0.1,502:0.1,reset:0.1,truncate:0.1,garbage:0.1"
        .parse()
        .unwrap();
    let mut runs = Vec::new();
    for seed in [11, 11, 12] {
        let s = sim(SimConfig {
            faults: spec.clone(),
            seed,
            ..fast()
        })
        .await;
        let mut run = Vec::new();
        for _ in 0..24 {
            run.push(outcome(&s, Duration::from_secs(10)).await);
        }
        let injected: u64 = s.stats().faults_injected.values().sum();
        let non_images = run.iter().filter(|o| *o != "image").count() as u64;
        assert_eq!(injected, non_images, "{run:?}");
        runs.push(run);
    }
    assert_eq!(runs[0], runs[1]);
    assert_ne!(runs[0], runs[2]);
    assert!(runs[0].iter().any(|o| o == "image"));
    assert!(runs[0].iter().any(|o| o != "image"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scripted_faults_happen_in_order_and_only_a_complete_200_bills() {
    let s = sim(SimConfig {
        slow_extra: Duration::from_millis(2500),
        ..fast()
    })
    .await;
    s.push_faults([
        Fault::Status429,
        Fault::Status500,
        Fault::Status502,
        Fault::Status503,
        Fault::Status504,
        Fault::Reset,
        Fault::Truncate,
        Fault::Garbage,
        Fault::Html,
        Fault::Slow,
        Fault::Status403,
        Fault::Status410,
        Fault::Fail, // v2 only: used up without effect on v1
    ]);
    let mut got = Vec::new();
    for _ in 0..14 {
        got.push(outcome(&s, Duration::from_millis(1500)).await);
    }
    assert_eq!(
        got,
        [
            "429 application/json",
            "500 application/json",
            "502 text/html; charset=utf-8",
            "503 text/html; charset=utf-8",
            "504 text/html; charset=utf-8",
            "dropped",
            "200 cut",
            "200 image/jpeg",
            "200 text/html; charset=utf-8",
            "timeout",
            "403 application/json",
            "410 application/json",
            "image",
            "image",
        ]
    );
    let st = s.stats();
    for name in [
        "429", "500", "502", "503", "504", "reset", "truncate", "garbage", "html", "slow", "403",
        "410",
    ] {
        assert_eq!(st.faults_injected.get(name), Some(&1), "{name}");
    }
    assert_eq!(st.faults_injected.get("fail"), None);
    // Only the two clean answers bill (the slow one was abandoned by the client).
    assert_eq!(st.generations_billed, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset_drops_the_connection_and_truncate_cuts_the_body() {
    let s = sim(fast()).await;
    s.push_faults([Fault::Reset]);
    let e = v1_err(&s).await;
    assert!(
        e.is_request() && !e.is_timeout() && e.status().is_none(),
        "{e:?}"
    );

    // Truncate: 200 with the full Content-Length, half the bytes, then the connection closes.
    s.push_faults([Fault::Truncate]);
    let r = v1(&s, &body()).await;
    assert_eq!(r.status(), 200);
    let announced = r.content_length().unwrap();
    assert!(announced > 100);
    let e = r.bytes().await.unwrap_err();
    assert!(e.is_body() || e.is_decode() || e.is_request(), "{e:?}");

    // At the socket: the declared length is larger than what arrives before EOF.
    s.push_faults([Fault::Truncate]);
    let raw = raw_exchange(&s, &body().to_string()).await;
    let text = String::from_utf8_lossy(&raw);
    let head_end = text.find("\r\n\r\n").unwrap() + 4;
    let len: usize = text
        .lines()
        .find_map(|l| {
            let l = l.to_ascii_lowercase();
            l.strip_prefix("content-length: ")
                .map(|v| v.trim().to_owned())
        })
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(raw.len() - head_end, len / 2);
    assert_eq!(s.stats().generations_billed, 0);
}

async fn v1_err(s: &SimServer) -> reqwest::Error {
    post(s, "/v1/flux-controlnet", &body()).await.unwrap_err()
}

/// Sends one v1 request on a raw socket and reads until the server closes it.
async fn raw_exchange(s: &SimServer, json: &str) -> Vec<u8> {
    let mut sock = tokio::net::TcpStream::connect(s.addr()).await.unwrap();
    let req = format!(
        "POST /v1/flux-controlnet HTTP/1.1\r\nHost: 127.0.0.1\r\nx-api-key: {KEY}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{json}",
        json.len()
    );
    sock.write_all(req.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), sock.read_to_end(&mut out))
        .await
        .unwrap()
        .unwrap();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limit_answers_say_when_to_come_back() {
    let s = sim(fast()).await;
    s.push_faults([Fault::Status429]);
    let r = v1(&s, &body()).await;
    assert_eq!(r.status(), 429);
    assert_eq!(header(&r, "retry-after"), "1");

    let s = sim(SimConfig {
        retry_after_on_429: false,
        ..fast()
    })
    .await;
    s.push_faults([Fault::Status429]);
    let r = v1(&s, &body()).await;
    assert_eq!(r.status(), 429);
    assert!(r.headers().get("retry-after").is_none());
    let at = chrono::DateTime::parse_from_rfc3339(header(&r, "x-rate-limit-reset-at-utc")).unwrap();
    let ahead = (at.with_timezone(&chrono::Utc) - chrono::Utc::now())
        .to_std()
        .unwrap_or_default();
    assert!(ahead <= Duration::from_secs(2), "{ahead:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v2_submit_faults_refuse_or_lose_the_answer_of_a_job_that_still_runs() {
    let s = sim(SimConfig {
        delay: Duration::from_millis(100),
        slow_extra: Duration::from_millis(300),
        ..Default::default()
    })
    .await;
    s.push_faults([
        Fault::Status503,
        Fault::Status429,
        Fault::Reset,
        Fault::Slow,
    ]);
    let path = "/v2/flux-controlnet";
    // Refused before a job exists.
    assert_eq!(post(&s, path, &body()).await.unwrap().status(), 503);
    assert_eq!(post(&s, path, &body()).await.unwrap().status(), 429);
    // The answer is lost, but the job was accepted: it runs and is billed (the ambiguous case).
    assert!(post(&s, path, &body()).await.is_err());
    // Slow: the answer comes late, the job is there.
    let started = Instant::now();
    let r = post(&s, path, &body()).await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(r.status(), 200);
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert!((s.credits() - (100.0 - 2.0 * 0.048)).abs() < 1e-9);
    let st = s.stats();
    assert_eq!((st.v2_submits, st.generations_billed), (4, 2));
    assert_eq!(st.v2_results_delivered, 0, "billed but never fetched");
    assert_eq!(st.by_status.get(&503), Some(&1));
}
