//! The client's retry, timeout, cancellation and key-safety policy, against scripted loopback servers
//! (independent of the stand-in, so every answer and every request is exactly known).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderMap, Response, StatusCode};
use axum::routing::any;
use fluxcn::api::client::no_progress;
use fluxcn::api::{ApiError, ApiKey, Client, ClientConfig, GenParams, HttpClass};
use tokio::io::AsyncReadExt;
use tokio_util::sync::CancellationToken;

const KEY: &str = "SG_7e57c0ffee15bad1";

#[derive(Clone)]
struct Scripted {
    status: u16,
    body: Vec<u8>,
    headers: Vec<(&'static str, String)>,
    delay: Duration,
}

fn reply(status: u16, body: &str) -> Scripted {
    Scripted {
        status,
        body: body.as_bytes().to_vec(),
        headers: vec![],
        delay: Duration::ZERO,
    }
}

fn png() -> Vec<u8> {
    let img = image::RgbImage::from_pixel(16, 8, image::Rgb([200, 10, 10]));
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

fn ok_image() -> Scripted {
    Scripted {
        status: 200,
        body: png(),
        headers: vec![
            ("content-type", "image/png".into()),
            ("x-remaining-credits", "9.5".into()),
            ("x-seed-value", "77".into()),
        ],
        delay: Duration::ZERO,
    }
}

#[derive(Default)]
struct Log {
    requests: Vec<HeaderMap>,
}

/// A server answering each request with the next scripted reply (the last one repeats).
async fn scripted(script: Vec<Scripted>) -> (SocketAddr, Arc<Mutex<Log>>) {
    scripted_on("127.0.0.1:0", script).await
}

async fn scripted_on(bind: &str, script: Vec<Scripted>) -> (SocketAddr, Arc<Mutex<Log>>) {
    let log = Arc::new(Mutex::new(Log::default()));
    let script = Arc::new(Mutex::new(script));
    let l2 = log.clone();
    let app = axum::Router::new().fallback(any(move |headers: HeaderMap| {
        let log = l2.clone();
        let script = script.clone();
        async move {
            let r = {
                let mut s = script.lock().unwrap();
                let r = s[0].clone();
                if s.len() > 1 {
                    s.remove(0);
                }
                r
            };
            log.lock().unwrap().requests.push(headers);
            tokio::time::sleep(r.delay).await;
            let mut b = Response::builder().status(StatusCode::from_u16(r.status).unwrap());
            for (k, v) in &r.headers {
                b = b.header(*k, v);
            }
            b.body(Body::from(r.body)).unwrap()
        }
    }));
    let listener = tokio::net::TcpListener::bind(bind).await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (addr, log)
}

fn client(addr: SocketAddr, tweak: impl FnOnce(&mut ClientConfig)) -> Client {
    let mut cfg = ClientConfig {
        api_base: format!("http://{addr}/v1"),
        backoff_base: Duration::from_millis(5),
        backoff_max: Duration::from_millis(20),
        max_retries: 4,
        ..Default::default()
    };
    tweak(&mut cfg);
    Client::new(cfg, ApiKey::new(KEY).unwrap()).unwrap()
}

fn params() -> GenParams {
    GenParams {
        prompt: "a red square".into(),
        ..Default::default()
    }
}

async fn generate(c: &Client) -> Result<fluxcn::api::Generation, ApiError> {
    c.generate(
        "https://example.com/in.png",
        &params().validate_into().unwrap(),
        &CancellationToken::new(),
        &no_progress,
    )
    .await
}

fn count(log: &Arc<Mutex<Log>>) -> usize {
    log.lock().unwrap().requests.len()
}

#[tokio::test]
async fn success_carries_the_image_and_accounting_and_sends_the_right_headers() {
    let (addr, log) = scripted(vec![ok_image()]).await;
    let g = generate(&client(addr, |_| {})).await.unwrap();
    assert_eq!(g.images.len(), 1);
    assert_eq!((g.images[0].width, g.images[0].height), (16, 8));
    assert_eq!(g.images[0].bytes, png());
    assert_eq!(g.accounting.remaining_credits, Some(9.5));
    assert_eq!(g.accounting.seed, Some(77));
    let log = log.lock().unwrap();
    let h = &log.requests[0];
    assert_eq!(h["x-api-key"], KEY);
    assert_eq!(h["content-type"], "application/json");
    assert!(h["user-agent"].to_str().unwrap().starts_with("fluxcn/"));
    assert!(
        h.get("authorization").is_none(),
        "the key is never sent as a bearer token"
    );
}

#[tokio::test]
async fn retryable_statuses_are_retried_then_succeed() {
    for status in [429u16, 502, 503, 504] {
        let mut s = vec![reply(status, "{\"error\":\"busy\"}"); 3];
        if status == 429 {
            s[0].headers.push(("retry-after", "0".into()));
        }
        s.push(ok_image());
        let (addr, log) = scripted(s).await;
        let g = generate(&client(addr, |_| {})).await;
        assert!(g.is_ok(), "{status}: {g:?}");
        assert_eq!(count(&log), 4, "{status}: three failures then the success");
    }
}

#[tokio::test]
async fn retries_are_bounded() {
    let (addr, log) = scripted(vec![reply(
        503,
        "<html><title>503 Service Unavailable</title></html>",
    )])
    .await;
    let e = generate(&client(addr, |c| c.max_retries = 2))
        .await
        .unwrap_err();
    assert_eq!(count(&log), 3);
    assert_eq!(e.class(), Some(HttpClass::Unavailable));
    assert!(e.to_string().contains("503 Service Unavailable"), "{e}");
}

#[tokio::test]
async fn non_retryable_statuses_are_sent_once_with_the_servers_message() {
    let cases = [
        (
            400,
            r#"{"error":"Invalid cn_type: posee"}"#,
            HttpClass::BadRequest,
            "`cn_type`",
        ),
        (
            401,
            r#"{"error":"invalid_token","error_description":"API key is invalid or may have expired","status_code":401}"#,
            HttpClass::Unauthorized,
            "fluxcn key set",
        ),
        (
            403,
            r#"{"error":"Forbidden"}"#,
            HttpClass::Forbidden,
            "may not use",
        ),
        (
            404,
            r#"{"error":"Model not found"}"#,
            HttpClass::NotFound,
            "base URL",
        ),
        (
            405,
            "<html><head><title>405 Not Allowed</title></head></html>",
            HttpClass::MethodNotAllowed,
            "405 Not Allowed",
        ),
        (
            406,
            r#"{"error":"Insufficient credits. Balance 0.01, cost 0.048"}"#,
            HttpClass::NotAcceptable,
            "Top up",
        ),
        (
            410,
            r#"{"error":"Model retired"}"#,
            HttpClass::Gone,
            "retired",
        ),
    ];
    for (status, body, class, needle) in cases {
        let (addr, log) = scripted(vec![reply(status, body)]).await;
        let e = generate(&client(addr, |_| {})).await.unwrap_err();
        assert_eq!(count(&log), 1, "{status} must not be retried");
        assert_eq!(e.class(), Some(class));
        assert!(e.to_string().contains(needle), "{status}: {e}");
        assert!(!e.maybe_billed());
    }
}

#[tokio::test]
async fn a_500_is_retried_once_at_most() {
    let (addr, log) = scripted(vec![reply(500, r#"{"error":"CUDA out of memory"}"#)]).await;
    let e = generate(&client(addr, |_| {})).await.unwrap_err();
    assert_eq!(count(&log), 2);
    assert!(e.to_string().contains("CUDA out of memory"), "{e}");
    let (addr, log) = scripted(vec![reply(500, "{}"), ok_image()]).await;
    assert!(generate(&client(addr, |_| {})).await.is_ok());
    assert_eq!(count(&log), 2);
}

#[tokio::test]
async fn a_dead_server_is_a_connect_error_after_bounded_retries() {
    // Bind then drop, so nothing listens on the port.
    let addr = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap();
    let e = generate(&client(addr, |c| c.max_retries = 2))
        .await
        .unwrap_err();
    assert!(matches!(e, ApiError::Connect { .. }), "{e:?}");
    assert!(e.to_string().contains("could not reach the server"), "{e}");
    assert!(!e.maybe_billed());
}

/// A server that reads the request and closes the connection without an answer.
async fn resetting() -> (SocketAddr, Arc<Mutex<usize>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let n = Arc::new(Mutex::new(0));
    let n2 = n.clone();
    tokio::spawn(async move {
        loop {
            let (mut s, _) = listener.accept().await.unwrap();
            *n2.lock().unwrap() += 1;
            let mut buf = vec![0u8; 65536];
            let _ = s.read(&mut buf).await;
            drop(s);
        }
    });
    (addr, n)
}

#[tokio::test]
async fn a_connection_lost_after_sending_is_not_resent() {
    let (addr, n) = resetting().await;
    let e = generate(&client(addr, |_| {})).await.unwrap_err();
    assert!(matches!(e, ApiError::NoAnswer { .. }), "{e:?}");
    assert!(e.maybe_billed());
    assert!(e.to_string().contains("may have been billed"), "{e}");
    assert_eq!(
        *n.lock().unwrap(),
        1,
        "an ambiguous failure is never re-sent"
    );
}

#[tokio::test]
async fn no_answer_within_the_timeout_is_not_resent() {
    let mut slow = ok_image();
    slow.delay = Duration::from_secs(5);
    let (addr, log) = scripted(vec![slow]).await;
    let e = generate(&client(addr, |c| {
        c.generation_timeout = Duration::from_millis(300)
    }))
    .await
    .unwrap_err();
    assert!(matches!(e, ApiError::NoAnswer { .. }), "{e:?}");
    assert_eq!(count(&log), 1);
}

#[tokio::test]
async fn cancel_mid_request_returns_at_once() {
    let mut slow = ok_image();
    slow.delay = Duration::from_secs(30);
    let (addr, _) = scripted(vec![slow]).await;
    let c = client(addr, |_| {});
    let token = CancellationToken::new();
    let t2 = token.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(200)).await;
        t2.cancel();
    });
    let started = std::time::Instant::now();
    let e = c
        .generate(
            "https://example.com/x.png",
            &params().validate_into().unwrap(),
            &token,
            &no_progress,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(e, ApiError::Cancelled { after_send: true }),
        "{e:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn garbage_and_truncated_bodies_are_decode_errors() {
    let mut garbage = reply(200, "<html>not an image</html>");
    garbage.headers.push(("content-type", "image/jpeg".into()));
    let (addr, log) = scripted(vec![garbage]).await;
    let e = generate(&client(addr, |_| {})).await.unwrap_err();
    assert!(matches!(e, ApiError::Decode(_)), "{e:?}");
    assert_eq!(count(&log), 1, "a 200 is billed: never re-sent");
    let mut cut = ok_image();
    cut.body.truncate(cut.body.len() / 2);
    let (addr, _) = scripted(vec![cut]).await;
    let e = generate(&client(addr, |_| {})).await.unwrap_err();
    assert!(
        e.to_string().contains("cut off") || e.to_string().contains("damaged"),
        "{e}"
    );
}

#[tokio::test]
async fn base64_json_answers_are_decoded() {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode(png());
    let mut r = reply(
        200,
        &format!(r#"{{"image":"data:image/png;base64,{b64}"}}"#),
    );
    r.headers.push(("content-type", "application/json".into()));
    let (addr, _) = scripted(vec![r]).await;
    let g = generate(&client(addr, |_| {})).await.unwrap();
    assert_eq!(g.images[0].bytes, png());
}

#[tokio::test]
async fn invalid_params_are_refused_before_sending() {
    // The client takes only `ValidParams`, which only validation builds (a compile-time rule,
    // checked by the doctest on `WireBody`): invalid settings cannot reach the wire.
    let (addr, log) = scripted(vec![ok_image()]).await;
    let c = client(addr, |_| {});
    let p = GenParams {
        steps: 76,
        ..params()
    };
    let e = p.validate_into().unwrap_err();
    assert!(e.to_string().contains("steps = 76"), "{e}");
    // What validation passes is sent unchanged.
    let ok = params().validate_into().unwrap();
    c.generate(
        "https://x/y.png",
        &ok,
        &CancellationToken::new(),
        &no_progress,
    )
    .await
    .unwrap();
    assert_eq!(count(&log), 1);
}

#[tokio::test]
async fn a_redirect_to_another_host_is_not_followed_and_the_key_never_reaches_it() {
    // The other host: 127.0.0.2 is loopback too, but another origin.
    let (other, other_log) = scripted_on("127.0.0.2:0", vec![ok_image()]).await;
    let mut redirect = reply(307, "");
    redirect
        .headers
        .push(("location", format!("http://{other}/v1/flux-controlnet")));
    let (addr, log) = scripted(vec![redirect]).await;
    let e = generate(&client(addr, |_| {})).await.unwrap_err();
    assert_eq!(e.class(), Some(HttpClass::Redirect), "{e:?}");
    assert!(e.to_string().contains("not followed"), "{e}");
    assert_eq!(count(&log), 1);
    assert_eq!(
        count(&other_log),
        0,
        "the other host never saw a request, let alone the key"
    );
}

#[tokio::test]
async fn a_same_origin_redirect_is_followed_with_the_key_by_a_get_never_by_a_post() {
    let mut redirect = reply(307, "");
    redirect.headers.push(("location", "/v1/moved".into()));
    let (addr, log) = scripted(vec![redirect.clone(), reply(200, r#"{"credits": 2}"#)]).await;
    let c = client(addr, |_| {});
    assert!(c.credits(&CancellationToken::new()).await.is_ok());
    {
        let log = log.lock().unwrap();
        assert_eq!(log.requests.len(), 2);
        assert_eq!(log.requests[1]["x-api-key"], KEY);
    }
    // A paid POST is never sent again because of a redirect, even to the same origin.
    let (addr, log) = scripted(vec![redirect, ok_image()]).await;
    let e = generate(&client(addr, |_| {})).await.unwrap_err();
    assert_eq!(e.class(), Some(HttpClass::Redirect), "{e:?}");
    assert!(e.to_string().contains("to /v1/moved"), "{e}");
    assert_eq!(count(&log), 1);
}

#[tokio::test]
async fn the_key_is_scrubbed_from_server_messages_and_never_in_debug() {
    let (addr, _) = scripted(vec![reply(
        400,
        &format!(r#"{{"error":"bad key {KEY} in request"}}"#),
    )])
    .await;
    let c = client(addr, |_| {});
    let e = generate(&c).await.unwrap_err();
    let shown = format!("{e} {e:?} {c:?}");
    assert!(!shown.contains(KEY), "{shown}");
    assert!(shown.contains("[redacted key]"));
}

#[test]
fn the_key_never_goes_over_plain_http_to_another_host() {
    let e = Client::new(
        ClientConfig {
            api_base: "http://api.segmind.com/v1".into(),
            ..Default::default()
        },
        ApiKey::new(KEY).unwrap(),
    )
    .unwrap_err();
    assert!(e.to_string().contains("plain HTTP"), "{e}");
    assert!(!e.to_string().contains(KEY));
}

#[test]
fn a_key_that_cannot_be_a_header_is_refused_without_showing_it() {
    for raw in ["SG_0123456789ab\u{7}cdef", "SG_0123456789abcdé"] {
        let key = ApiKey::new(raw).unwrap();
        let e = Client::new(ClientConfig::default(), key).unwrap_err();
        assert!(matches!(e, ApiError::BadKey), "{e:?}");
        let msg = e.to_string();
        assert!(msg.contains("paste it again"), "{msg}");
        assert!(!msg.contains("0123456789"), "the key is in {msg}");
    }
}
