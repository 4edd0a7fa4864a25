//! Hardening of the HTTP client against a hostile server (a loopback axum server scripted in each
//! test): a redirect never makes a paid `POST` go out twice, a key the server echoes never shows in
//! part, a result never keeps more outputs than were asked for nor more bytes than the caps, and
//! polling never waits past the job's deadline, whatever `Retry-After` says.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::http::{Response, StatusCode};
use axum::routing::{MethodRouter, any, get, post};
use base64::Engine as _;
use fluxcn::api::client::no_progress;
use fluxcn::api::{
    ApiError, ApiKey, Client, ClientConfig, DecodeError, GenParams, HttpClass, Progress,
};
use futures_util::StreamExt as _;
use tokio_util::sync::CancellationToken;

const KEY: &str = "SG_5ca1ab1e5ca1ab1e";

fn png() -> Vec<u8> {
    let img = image::RgbImage::from_pixel(8, 8, image::Rgb([20, 200, 20]));
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

fn answer(status: u16, headers: &[(&str, String)], body: impl Into<Body>) -> Response<Body> {
    let mut b = Response::builder().status(StatusCode::from_u16(status).unwrap());
    for (k, v) in headers {
        b = b.header(*k, v);
    }
    b.body(body.into()).unwrap()
}

fn json(status: u16, v: serde_json::Value) -> Response<Body> {
    answer(
        status,
        &[("content-type", "application/json".into())],
        v.to_string(),
    )
}

async fn serve(app: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

fn client(addr: SocketAddr, tweak: impl FnOnce(&mut ClientConfig)) -> Client {
    let mut cfg = ClientConfig {
        api_base: format!("http://{addr}/v1"),
        backoff_base: Duration::from_millis(5),
        backoff_max: Duration::from_millis(20),
        poll_interval: Duration::from_millis(20),
        ..Default::default()
    };
    tweak(&mut cfg);
    Client::new(cfg, ApiKey::new(KEY).unwrap()).unwrap()
}

fn params(samples: u32) -> GenParams {
    GenParams {
        prompt: "a green square".into(),
        samples,
        ..Default::default()
    }
}

async fn generate(c: &Client, samples: u32) -> Result<fluxcn::api::Generation, ApiError> {
    let cancel = CancellationToken::new();
    c.generate(
        "https://example.com/in.png",
        &params(samples).validate_into().unwrap(),
        &cancel,
        &no_progress,
    )
    .await
}

/// Submits a v2 job and waits for it.
async fn v2(c: &Client, samples: u32) -> Result<fluxcn::api::Generation, ApiError> {
    let cancel = CancellationToken::new();
    let sub = c
        .submit(
            "https://example.com/in.png",
            &params(samples).validate_into().unwrap(),
            &cancel,
            &no_progress,
        )
        .await?;
    c.wait_for(&sub.request_id, &cancel, &no_progress).await
}

/// A status route saying the job is done.
fn completed() -> MethodRouter {
    get(|| async { json(200, serde_json::json!({"status": "COMPLETED"})) })
}

/// A v2 service: submit accepts `job-1`, `status` answers the polls, the result is `result`, plus
/// whatever `extra` routes.
fn v2_service(status: MethodRouter, result: serde_json::Value, extra: Router) -> Router {
    Router::new()
        .route(
            "/v2/flux-controlnet",
            post(|| async {
                json(
                    200,
                    serde_json::json!({"request_id": "job-1", "status": "QUEUED"}),
                )
            }),
        )
        .route("/v2/requests/{id}/status", status)
        .route(
            "/v2/requests/{id}",
            get(move || {
                let r = result.clone();
                async move { json(200, r) }
            }),
        )
        .merge(extra)
}

/// A route answering every request with `status` and `Location: location`, counting them.
fn redirecting(status: u16, location: &'static str, n: Arc<AtomicUsize>) -> Router {
    Router::new().fallback(any(move || {
        let n = n.clone();
        async move {
            n.fetch_add(1, Ordering::SeqCst);
            answer(status, &[("location", location.to_owned())], "")
        }
    }))
}

#[tokio::test]
async fn a_redirect_on_a_paid_post_is_never_followed() {
    for status in [301u16, 302, 303, 307, 308] {
        // A same-origin loop: every request is sent back to where it came from.
        let n = Arc::new(AtomicUsize::new(0));
        let addr = serve(redirecting(status, "/v1/flux-controlnet", n.clone())).await;
        let e = generate(&client(addr, |_| {}), 1).await.unwrap_err();
        assert_eq!(
            n.load(Ordering::SeqCst),
            1,
            "{status}: one click, one request"
        );
        assert_eq!(e.class(), Some(HttpClass::Redirect), "{status}: {e:?}");
        let msg = e.to_string();
        assert!(
            msg.contains(&format!("redirected the request ({status})")),
            "{msg}"
        );
        assert!(msg.contains("not followed"), "{msg}");

        let n = Arc::new(AtomicUsize::new(0));
        let addr = serve(redirecting(status, "/v2/flux-controlnet", n.clone())).await;
        let e = v2(&client(addr, |_| {}), 1).await.unwrap_err();
        assert_eq!(n.load(Ordering::SeqCst), 1, "{status}: one submit");
        assert_eq!(e.class(), Some(HttpClass::Redirect), "{status}: {e:?}");
    }
}

#[tokio::test]
async fn a_same_origin_redirect_of_a_get_is_still_followed() {
    let n = Arc::new(AtomicUsize::new(0));
    let n2 = n.clone();
    let app = Router::new()
        .route(
            "/v1/get-user-credits",
            get(move || {
                let n = n2.clone();
                async move {
                    n.fetch_add(1, Ordering::SeqCst);
                    answer(308, &[("location", "/v1/credits-moved".into())], "")
                }
            }),
        )
        .route(
            "/v1/credits-moved",
            get(|| async { json(200, serde_json::json!({"credits": 3.5})) }),
        );
    let addr = serve(app).await;
    let c = client(addr, |_| {});
    let credits = c.credits(&CancellationToken::new()).await.unwrap();
    assert_eq!(credits.credits, Some(3.5));
    assert_eq!(n.load(Ordering::SeqCst), 1);
}

/// `pad` characters, then the key, then more text: the key straddles any cut at `pad + 1 ..`.
fn echo(pad: usize) -> String {
    format!("{}{KEY}{}", "x".repeat(pad), "y".repeat(400))
}

/// Asserts that no part of the key that identifies it shows in `e` (its text or its debug form).
fn assert_no_part_of_the_key(what: &str, e: &ApiError) {
    let shown = format!("{e} {e:?}");
    assert!(
        !shown.contains(&KEY[..6]),
        "{what}: part of the key shows in {shown}"
    );
}

#[tokio::test]
async fn a_key_echoed_across_the_cut_is_scrubbed_before_the_message_is_shortened() {
    // The body of an error status: JSON, plain text and HTML, the key across the 300-character cut.
    for body in [
        serde_json::json!({"error": echo(290)}).to_string(),
        echo(290),
        format!("<html><head><title>{}</title></head></html>", echo(290)),
    ] {
        let addr = serve(Router::new().fallback(any(move || {
            let body = body.clone();
            async move { answer(400, &[], body) }
        })))
        .await;
        let e = generate(&client(addr, |_| {}), 1).await.unwrap_err();
        assert_no_part_of_the_key("error body", &e);
    }
    // A redirect to another host whose URL carries the key across the 120-character cut.
    let location = format!("http://127.0.0.2:9/{}", echo(86));
    let addr = serve(Router::new().fallback(any(move || {
        let l = location.clone();
        async move { answer(307, &[("location", l)], "") }
    })))
    .await;
    let e = generate(&client(addr, |_| {}), 1).await.unwrap_err();
    assert_no_part_of_the_key("redirect", &e);
    // A 200 that is not an image (40 characters shown) and a 200 with an error (300).
    for (ct, body) in [
        ("image/png", echo(30)),
        (
            "application/json",
            serde_json::json!({"error": echo(290)}).to_string(),
        ),
        (echo(90).as_str(), "not an image".to_owned()),
    ] {
        let ct = ct.to_owned();
        let addr = serve(Router::new().fallback(any(move || {
            let (ct, body) = (ct.clone(), body.clone());
            async move { answer(200, &[("content-type", ct)], body) }
        })))
        .await;
        let e = generate(&client(addr, |_| {}), 1).await.unwrap_err();
        assert!(matches!(e, ApiError::Decode(_)), "{e:?}");
        assert_no_part_of_the_key("200 body", &e);
    }
    // A submit answer without a usable id (120 characters shown), and an id that is not plain.
    for answer_body in [
        serde_json::json!({"junk": echo(100)}),
        serde_json::json!({"request_id": format!("a/{}", echo(50))}),
    ] {
        let addr = serve(Router::new().fallback(any(move || {
            let b = answer_body.clone();
            async move { json(200, b) }
        })))
        .await;
        let e = v2(&client(addr, |_| {}), 1).await.unwrap_err();
        assert_no_part_of_the_key("submit answer", &e);
    }
    // A failed inference's message, and a credits answer without a balance.
    let failed = serde_json::json!({"status": "FAILED", "error": echo(290)});
    let status = get(move || {
        let f = failed.clone();
        async move { json(200, f) }
    });
    let addr = serve(v2_service(status, serde_json::json!({}), Router::new())).await;
    let e = v2(&client(addr, |_| {}), 1).await.unwrap_err();
    assert_eq!(e.status(), Some(422), "{e:?}");
    assert_no_part_of_the_key("failed inference", &e);
    let addr = serve(Router::new().fallback(any(|| async {
        json(200, serde_json::json!({"nothing": echo(100)}))
    })))
    .await;
    let e = client(addr, |_| {})
        .credits(&CancellationToken::new())
        .await
        .unwrap_err();
    assert_no_part_of_the_key("credits answer", &e);
}

/// Serves `/files/{name}` with a small PNG, counting the downloads.
fn files(n: Arc<AtomicUsize>) -> Router {
    Router::new().route(
        "/files/{name}",
        get(move || {
            let n = n.clone();
            async move {
                n.fetch_add(1, Ordering::SeqCst);
                answer(200, &[("content-type", "image/png".into())], png())
            }
        }),
    )
}

#[tokio::test]
async fn a_result_keeps_only_the_outputs_that_were_asked_for() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let urls: Vec<String> = (0..40)
        .map(|i| format!("http://{addr}/files/{i}.png"))
        .collect();
    let downloads = Arc::new(AtomicUsize::new(0));
    let result = serde_json::json!({"status": "COMPLETED", "output": urls});
    let app = v2_service(completed(), result, files(downloads.clone()));
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let c = client(addr, |_| {});
    let g = v2(&c, 1).await.unwrap();
    assert_eq!(g.images.len(), 1, "samples = 1: one image");
    assert_eq!(
        downloads.load(Ordering::SeqCst),
        1,
        "the other 39 are never downloaded"
    );
    let g = v2(&c, 3).await.unwrap();
    assert_eq!(g.images.len(), 3);
    assert_eq!(downloads.load(Ordering::SeqCst), 4);

    // 3 000 inline images for one sample.
    let b64 = base64::engine::general_purpose::STANDARD.encode(png());
    let inline = vec![b64.clone(); 3000];
    let result = serde_json::json!({"status": "COMPLETED", "output": inline});
    let addr = serve(v2_service(completed(), result, Router::new())).await;
    let g = v2(&client(addr, |_| {}), 1).await.unwrap();
    assert_eq!(g.images.len(), 1);

    // v1 with base64 JSON: as many images as asked for.
    let many = serde_json::json!({"images": vec![b64; 50]}).to_string();
    let addr = serve(Router::new().fallback(any(move || {
        let b = many.clone();
        async move { answer(200, &[("content-type", "application/json".into())], b) }
    })))
    .await;
    let c = client(addr, |_| {});
    assert_eq!(generate(&c, 1).await.unwrap().images.len(), 1);
    assert_eq!(generate(&c, 2).await.unwrap().images.len(), 2);
}

/// A route `/files/big.png` answering an endless PNG-looking body (with a `Content-Length` of
/// `declared` bytes, or chunked), counting the bytes it managed to hand over.
fn endless(declared: Option<u64>, sent: Arc<AtomicUsize>) -> Router {
    Router::new().route(
        "/files/big.png",
        get(move || {
            let sent = sent.clone();
            async move {
                let mut head = png();
                head.truncate(33);
                let chunks = futures_util::stream::iter(0..).map(move |i: u64| {
                    let chunk = if i == 0 {
                        head.clone()
                    } else {
                        vec![0u8; 64 * 1024]
                    };
                    sent.fetch_add(chunk.len(), Ordering::SeqCst);
                    Ok::<_, std::io::Error>(bytes::Bytes::from(chunk))
                });
                let mut r = Response::new(Body::from_stream(chunks));
                r.headers_mut()
                    .insert("content-type", "image/png".parse().unwrap());
                if let Some(n) = declared {
                    r.headers_mut().insert("content-length", n.into());
                }
                r
            }
        }),
    )
}

#[tokio::test]
async fn an_output_over_the_cap_is_refused_early() {
    for declared in [Some(3u64 << 30), None] {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let sent = Arc::new(AtomicUsize::new(0));
        let result = serde_json::json!({"status": "COMPLETED", "output": format!("http://{addr}/files/big.png")});
        let app = v2_service(completed(), result, endless(declared, sent.clone()));
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        let c = client(addr, |c| c.max_body_bytes = 1024 * 1024);
        let started = Instant::now();
        let e = v2(&c, 1).await.unwrap_err();
        assert!(
            matches!(e, ApiError::Decode(DecodeError::TooLarge { .. })),
            "{declared:?}: {e:?}"
        );
        assert!(started.elapsed() < Duration::from_secs(10));
        // Refused from the header before reading, or once the cap (1 MB) was passed: the server
        // could hand over little more than the cap and the socket buffers.
        let n = sent.load(Ordering::SeqCst);
        assert!(n < 16 << 20, "{declared:?}: {n} bytes were sent");
    }
}

/// Records the waits that progress announces.
fn waits() -> (Arc<Mutex<Vec<Duration>>>, impl Fn(Progress) + Send + Sync) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s2 = seen.clone();
    (seen, move |p| {
        if let Progress::Retrying { delay, .. } = p {
            s2.lock().unwrap().push(delay);
        }
    })
}

#[tokio::test]
async fn a_poll_never_waits_past_the_jobs_deadline() {
    // A rate limit that asks for a day, and a status request that never answers.
    let day = || async {
        let mut r = json(429, serde_json::json!({"error": "slow down"}));
        r.headers_mut()
            .insert("retry-after", "86400".parse().unwrap());
        r
    };
    let hang = || async {
        tokio::time::sleep(Duration::from_secs(3600)).await;
        json(200, serde_json::json!({"status": "PROCESSING"}))
    };
    // The day-long wait with an hour's deadline (the default): it cannot fit, so polling stops at
    // once, not every two minutes for the hour; the silent status with a 2 s deadline.
    for (status, deadline) in [(any(day), 3600), (any(hang), 2)] {
        let addr = serve(v2_service(status, serde_json::json!({}), Router::new())).await;
        let c = client(addr, |c| c.v2_deadline = Duration::from_secs(deadline));
        let (seen, progress) = waits();
        let cancel = CancellationToken::new();
        let started = Instant::now();
        let run = async {
            let sub = c
                .submit(
                    "https://example.com/in.png",
                    &params(1).validate_into().unwrap(),
                    &cancel,
                    &no_progress,
                )
                .await?;
            c.wait_for(&sub.request_id, &cancel, &progress).await
        };
        let e = tokio::time::timeout(Duration::from_secs(30), run)
            .await
            .expect("polling went on past the job's deadline")
            .unwrap_err();
        assert!(
            started.elapsed() < Duration::from_secs(6),
            "{:?}",
            started.elapsed()
        );
        assert!(matches!(e, ApiError::Job(_)), "{e:?}");
        if deadline == 2 {
            assert!(e.to_string().contains("did not finish within"), "{e}");
        } else {
            let said = e.to_string();
            assert!(
                said.contains("asks to wait 1 day") && said.contains("polling stopped"),
                "{said}"
            );
            assert!(!said.contains("try again then"), "{said}");
            assert!(
                seen.lock().unwrap().is_empty(),
                "waited for a part of a day: {seen:?}"
            );
        }
        for d in seen.lock().unwrap().iter() {
            assert!(*d <= Duration::from_secs(2), "announced a wait of {d:?}");
        }
    }
}

#[tokio::test]
async fn a_failed_result_read_after_completed_is_asked_again_not_lost() {
    // The job is done and paid for; the result endpoint answers 502 once (a proxy hiccup). Reading
    // a result re-runs nothing, so the one retry policy asks again and the image arrives.
    let reads = Arc::new(AtomicUsize::new(0));
    let b64 = base64::engine::general_purpose::STANDARD.encode(png());
    let counted = reads.clone();
    let app = Router::new()
        .route(
            "/v2/flux-controlnet",
            post(|| async {
                json(
                    200,
                    serde_json::json!({"request_id": "job-1", "status": "QUEUED"}),
                )
            }),
        )
        .route("/v2/requests/{id}/status", completed())
        .route(
            "/v2/requests/{id}",
            get(move || {
                let n = counted.fetch_add(1, Ordering::SeqCst);
                let b64 = b64.clone();
                async move {
                    if n == 0 {
                        answer(502, &[], "<html>Bad Gateway</html>")
                    } else {
                        json(
                            200,
                            serde_json::json!({"status": "COMPLETED", "output": [b64]}),
                        )
                    }
                }
            }),
        );
    let addr = serve(app).await;
    let g = v2(&client(addr, |_| {}), 1).await.unwrap();
    assert_eq!(g.images.len(), 1);
    assert_eq!(
        reads.load(Ordering::SeqCst),
        2,
        "one failed read, one retried"
    );
}
