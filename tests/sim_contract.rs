//! The loopback stand-in enforces the Segmind contract (`shared/CONTRACT.md`) and injects faults
//! deterministically: raw reqwest calls against `sim::start` on 127.0.0.1, port 0.
// Test code: a failed unwrap is a failed test; a test reads top to bottom as one story.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

use std::io::Cursor;
use std::time::{Duration, Instant};

use base64::Engine as _;
use fluxcn::api::params::{CnType, ImageFormat, MAX_SEED, SAMPLERS, Scheduler};
use fluxcn::sim::{self, Fault, SimConfig, SimServer};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const KEY: &str = "SG_0123456789abcdef";

fn png_b64(w: u32, h: u32) -> String {
    let img = image::RgbImage::from_fn(w, h, |x, y| image::Rgb([x as u8, y as u8, 7]));
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    base64::engine::general_purpose::STANDARD.encode(out.into_inner())
}

/// A valid request whose output is small (the input's own size, 64×64).
fn body() -> Value {
    json!({
        "image": png_b64(64, 64),
        "prompt": "a dancer on a rooftop at night",
        "sampler": "euler",
        "scheduler": "simple",
        "seed": 652889
    })
}

fn fast() -> SimConfig {
    SimConfig {
        delay: Duration::from_millis(5),
        slow_extra: Duration::from_millis(5),
        ..Default::default()
    }
}

async fn sim(cfg: SimConfig) -> SimServer {
    sim::start(cfg).await.unwrap()
}

fn root(s: &SimServer) -> String {
    format!("http://{}", s.addr())
}

async fn post(s: &SimServer, path: &str, v: &Value) -> reqwest::Result<reqwest::Response> {
    reqwest::Client::new()
        .post(format!("{}{path}", root(s)))
        .header("x-api-key", KEY)
        .header("content-type", "application/json")
        .body(v.to_string())
        .send()
        .await
}

async fn v1(s: &SimServer, v: &Value) -> reqwest::Response {
    post(s, "/v1/flux-controlnet", v).await.unwrap()
}

/// Status and the `error` message of an answer.
async fn status_and_error(r: reqwest::Response) -> (u16, String) {
    let status = r.status().as_u16();
    let v: Value = r.json().await.unwrap();
    (status, v["error"].as_str().unwrap_or_default().to_owned())
}

fn header<'a>(r: &'a reqwest::Response, name: &str) -> &'a str {
    r.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_else(|| panic!("missing header {name}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_required_field_missing_is_a_400_naming_it() {
    let s = sim(fast()).await;
    for field in ["image", "prompt", "sampler", "scheduler", "seed"] {
        for path in ["/v1/flux-controlnet", "/v2/flux-controlnet"] {
            let mut b = body();
            b.as_object_mut().unwrap().remove(field);
            let (status, msg) = status_and_error(post(&s, path, &b).await.unwrap()).await;
            assert_eq!(status, 400, "{path} without {field}");
            assert!(msg.starts_with(field), "{path} without {field}: {msg}");
        }
    }
    let mut b = body();
    b["prompt"] = json!("   ");
    let (status, msg) = status_and_error(v1(&s, &b).await).await;
    assert_eq!((status, msg.starts_with("prompt")), (400, true), "{msg}");
    assert_eq!(s.stats().generations_billed, 0);
    assert_eq!(s.stats().by_status.get(&400), Some(&11));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_numeric_field_is_accepted_at_its_bounds_and_refused_one_past() {
    let s = sim(fast()).await;
    let cases: [(&str, Value, Value, Value, Value); 9] = [
        ("steps", json!(15), json!(75), json!(14), json!(76)),
        ("guidance", json!(1), json!(15), json!(0.99), json!(15.01)),
        ("cn_strength", json!(0), json!(2), json!(-0.01), json!(2.01)),
        ("cn_stop", json!(0.0), json!(1.0), json!(-0.01), json!(1.01)),
        (
            "custom_width",
            json!(64),
            json!(4096),
            json!(63),
            json!(4097),
        ),
        (
            "custom_height",
            json!(64),
            json!(4096),
            json!(63),
            json!(4097),
        ),
        ("quality", json!(10), json!(100), json!(9), json!(101)),
        ("samples", json!(1), json!(4), json!(0), json!(5)),
        (
            "seed",
            json!(0),
            json!(MAX_SEED),
            json!(-2),
            json!(MAX_SEED + 1),
        ),
    ];
    for (field, lo, hi, below, above) in cases {
        for ok in [lo, hi] {
            let mut b = body();
            b[field] = ok.clone();
            let r = v1(&s, &b).await;
            assert_eq!(r.status(), 200, "{field} = {ok}");
        }
        for bad in [below, above] {
            let mut b = body();
            b[field] = bad.clone();
            let (status, msg) = status_and_error(v1(&s, &b).await).await;
            assert_eq!(status, 400, "{field} = {bad}");
            assert!(
                msg.contains(field) && msg.contains(&bad.to_string()),
                "{field} = {bad}: {msg}"
            );
        }
    }
    // -1 is the random seed, and a string where a number belongs is refused.
    let mut b = body();
    b["seed"] = json!(-1);
    assert_eq!(v1(&s, &b).await.status(), 200);
    for (field, v) in [
        ("steps", json!("20")),
        ("seed", json!("1")),
        ("base64", json!("yes")),
    ] {
        let mut b = body();
        b[field] = v;
        let (status, msg) = status_and_error(v1(&s, &b).await).await;
        assert_eq!(status, 400, "{field}");
        assert!(msg.starts_with(field) && msg.contains("a string"), "{msg}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_enum_accepts_its_values_and_refuses_others() {
    let s = sim(fast()).await;
    let schedulers: Vec<&str> = Scheduler::ALL.iter().map(|v| v.as_str()).collect();
    let types: Vec<&str> = CnType::ALL.iter().map(|v| v.as_str()).collect();
    let formats: Vec<&str> = ImageFormat::ALL.iter().map(|v| v.as_str()).collect();
    let enums: [(&str, Vec<&str>, &str); 4] = [
        ("sampler", SAMPLERS.to_vec(), "euler_ancestra"),
        ("scheduler", schedulers, "linear"),
        ("cn_type", types, "openpose"),
        ("image_format", formats, "gif"),
    ];
    for (field, good, bad) in enums {
        for g in &good {
            let mut b = body();
            b[field] = json!(g);
            assert_eq!(v1(&s, &b).await.status(), 200, "{field} = {g}");
        }
        let mut b = body();
        b[field] = json!(bad);
        let (status, msg) = status_and_error(v1(&s, &b).await).await;
        assert_eq!(status, 400, "{field} = {bad}");
        assert!(
            msg.contains(field) && msg.contains(bad) && msg.contains(good[good.len() - 1]),
            "names the field, the value and what is allowed: {msg}"
        );
    }
    // Unknown fields are ignored.
    let mut b = body();
    b["lora_scale"] = json!(0.7);
    assert_eq!(v1(&s, &b).await.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_image_must_be_a_url_or_base64_of_an_image() {
    let s = sim(fast()).await;
    for bad in [
        json!(""),
        json!("ftp://example.com/a.png"),
        json!("data:image/png;base64,AAAA"),
        json!("aGVsbG8gd29ybGQ="),
        json!(42),
    ] {
        let mut b = body();
        b["image"] = bad.clone();
        let (status, msg) = status_and_error(v1(&s, &b).await).await;
        assert_eq!(
            (status, msg.starts_with("image")),
            (400, true),
            "{bad}: {msg}"
        );
    }
    let mut b = body();
    b["image"] = json!("https://example.com/photo.jpg");
    let r = v1(&s, &b).await;
    assert_eq!(r.status(), 200);
    let img = image::load_from_memory(&r.bytes().await.unwrap()).unwrap();
    assert_eq!(
        (img.width(), img.height()),
        (1024, 1024),
        "URL input: 1024²"
    );
    let mut b = body();
    b["image"] = json!(png_b64(200, 150));
    let img = image::load_from_memory(&v1(&s, &b).await.bytes().await.unwrap()).unwrap();
    assert_eq!(
        (img.width(), img.height()),
        (200, 150),
        "the input's own size"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_and_content_type_are_checked_first() {
    let s = sim(SimConfig {
        accepted_keys: Some(vec![KEY.into()]),
        ..fast()
    })
    .await;
    let url = format!("{}/v1/flux-controlnet", root(&s));
    let c = reqwest::Client::new();
    let r = c
        .post(&url)
        .header("content-type", "application/json")
        .body(body().to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v, json!({"error": "Missing API key in x-api-key header"}));
    let r = c
        .post(&url)
        .header("x-api-key", "SG_ffffffffffffffff")
        .header("content-type", "application/json")
        .body(body().to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let v: Value = r.json().await.unwrap();
    assert_eq!(
        v,
        json!({"error":"invalid_token","error_description":"API key is invalid or may have expired","status_code":401})
    );
    // No content type, or another one: 406 even with a good body.
    for ct in [None, Some("text/plain")] {
        let mut rb = c
            .post(&url)
            .header("x-api-key", KEY)
            .body(body().to_string());
        if let Some(ct) = ct {
            rb = rb.header("content-type", ct);
        }
        let r = rb.send().await.unwrap();
        assert_eq!(r.status(), 406, "{ct:?}");
        assert_eq!(
            r.json::<Value>().await.unwrap(),
            json!({"error": "Invalid content type"})
        );
    }
    // Not JSON at all.
    let r = c
        .post(&url)
        .header("x-api-key", KEY)
        .header("content-type", "application/json; charset=utf-8")
        .body("{\"image\": ")
        .send()
        .await
        .unwrap();
    let (status, msg) = status_and_error(r).await;
    assert_eq!(status, 400);
    assert!(msg.contains("not valid JSON"), "{msg}");
    // The credits endpoint checks the key too.
    let r = c
        .get(format!("{}/v1/get-user-credits", root(&s)))
        .header("x-api-key", "SG_bad")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(s.stats().generations_billed, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_v1_answer_is_an_image_of_the_requested_size_and_format_with_accounting() {
    let s = sim(SimConfig {
        delay: Duration::from_millis(100),
        ..Default::default()
    })
    .await;
    let mut seen = Vec::new();
    for (fmt, mime) in [
        ("png", "image/png"),
        ("jpeg", "image/jpeg"),
        ("webp", "image/webp"),
    ] {
        let mut b = body();
        b["image_format"] = json!(fmt);
        b["use_input_img_dimension"] = json!(false);
        b["custom_width"] = json!(512);
        b["custom_height"] = json!(384);
        b["seed"] = json!(4242);
        b["quality"] = json!(80);
        let started = Instant::now();
        let r = v1(&s, &b).await;
        assert!(started.elapsed() >= Duration::from_millis(100), "v1 blocks");
        assert_eq!(r.status(), 200);
        assert_eq!(header(&r, "content-type"), mime);
        assert_eq!(header(&r, "x-seed-value"), "4242");
        assert_eq!(header(&r, "x-cost").parse::<f64>().unwrap(), 0.048);
        let remaining: f64 = header(&r, "x-remaining-credits").parse().unwrap();
        seen.push(remaining);
        assert!(header(&r, "x-generation-time").parse::<f64>().unwrap() >= 0.1);
        assert!(!header(&r, "x-request-id").is_empty());
        let bytes = r.bytes().await.unwrap();
        assert_eq!(
            ImageFormat::sniff(&bytes).map(|f| f.as_str()),
            Some(fmt),
            "{fmt}"
        );
        let img = image::load_from_memory(&bytes).unwrap();
        assert_eq!((img.width(), img.height()), (512, 384), "{fmt}");
    }
    assert!((seen[0] - (100.0 - 0.048)).abs() < 1e-9, "{seen:?}");
    assert!((seen[2] - (100.0 - 3.0 * 0.048)).abs() < 1e-9, "{seen:?}");
    let stats = s.stats();
    assert_eq!((stats.v1_requests, stats.generations_billed), (3, 3));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pictures_tell_control_types_and_seeds_apart() {
    let s = sim(fast()).await;
    let mut pics = Vec::new();
    for (cn, seed) in [
        ("depth", 1),
        ("canny", 1),
        ("pose", 1),
        ("tile", 1),
        ("tile", 2),
    ] {
        let mut b = body();
        b["cn_type"] = json!(cn);
        b["seed"] = json!(seed);
        b["image_format"] = json!("png");
        let bytes = v1(&s, &b).await.bytes().await.unwrap();
        pics.push(image::load_from_memory(&bytes).unwrap().to_rgb8());
    }
    for i in 0..pics.len() {
        for j in i + 1..pics.len() {
            assert_ne!(pics[i], pics[j], "pictures {i} and {j} look the same");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn base64_mode_and_random_seeds() {
    let s = sim(fast()).await;
    let mut b = body();
    b["base64"] = json!(true);
    b["seed"] = json!(-1);
    let r = v1(&s, &b).await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "content-type"), "application/json");
    let seed: i64 = header(&r, "x-seed-value").parse().unwrap();
    assert!(seed >= 0, "a real seed for -1: {seed}");
    let v: Value = r.json().await.unwrap();
    let data = base64::engine::general_purpose::STANDARD
        .decode(v["image"].as_str().unwrap())
        .unwrap();
    let img = image::load_from_memory(&data).unwrap();
    assert_eq!((img.width(), img.height()), (64, 64));

    b["samples"] = json!(3);
    let v: Value = v1(&s, &b).await.json().await.unwrap();
    let images = v["images"].as_array().unwrap();
    assert_eq!(images.len(), 3);
    let decoded: Vec<Vec<u8>> = images
        .iter()
        .map(|i| {
            base64::engine::general_purpose::STANDARD
                .decode(i.as_str().unwrap())
                .unwrap()
        })
        .collect();
    assert!(decoded.iter().all(|d| image::load_from_memory(d).is_ok()));
    assert_ne!(decoded[0], decoded[1], "each sample its own seed");
}

/// Polls a v2 job until it is no longer QUEUED/PROCESSING; returns every status seen, in order.
async fn poll(s: &SimServer, id: &str) -> (Vec<String>, u16) {
    let c = reqwest::Client::new();
    let mut seen: Vec<String> = Vec::new();
    for _ in 0..400 {
        let r = c
            .get(format!("{}/v2/requests/{id}/status", root(s)))
            .header("x-api-key", KEY)
            .send()
            .await
            .unwrap();
        let code = r.status().as_u16();
        if code != 200 {
            return (seen, code);
        }
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["request_id"], id);
        let st = v["status"].as_str().unwrap().to_owned();
        if seen.last() != Some(&st) {
            seen.push(st.clone());
        }
        if st == "COMPLETED" || st == "FAILED" {
            return (seen, code);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the job never finished: {seen:?}");
}

async fn get(s: &SimServer, url: &str, key: bool) -> reqwest::Response {
    let mut rb = reqwest::Client::new().get(url);
    if key {
        rb = rb.header("x-api-key", KEY);
    }
    let _ = s;
    rb.send().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v2_goes_queued_processing_completed_and_the_output_downloads() {
    let s = sim(SimConfig {
        delay: Duration::from_millis(1500),
        ..Default::default()
    })
    .await;
    let mut b = body();
    b["image_format"] = json!("png");
    b["seed"] = json!(77);
    let r = post(&s, "/v2/flux-controlnet", &b).await.unwrap();
    assert_eq!(r.status(), 200);
    let sub: Value = r.json().await.unwrap();
    assert_eq!(sub["status"], "QUEUED");
    let id = sub["request_id"].as_str().unwrap().to_owned();
    assert_eq!(
        sub["status_url"],
        format!("{}/v2/requests/{id}/status", root(&s))
    );
    assert_eq!(
        sub["response_url"],
        format!("{}/v2/requests/{id}", root(&s))
    );
    assert!(sub["poll_url"].as_str().unwrap().starts_with(&root(&s)));

    // QUEUED for the first 20 % of the delay.
    let first: Value = get(&s, sub["status_url"].as_str().unwrap(), true)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(first["status"], "QUEUED", "{first}");
    // Before completion the result is only a status, and nothing is billed yet.
    let early: Value = get(&s, sub["response_url"].as_str().unwrap(), true)
        .await
        .json()
        .await
        .unwrap();
    assert!(early.get("output").is_none(), "{early}");
    assert_eq!(s.stats().generations_billed, 0);

    let (mut seen, code) = poll(&s, &id).await;
    assert_eq!(code, 200);
    if seen.first().map(String::as_str) != Some("QUEUED") {
        seen.insert(0, "QUEUED".into());
    }
    assert_eq!(seen, ["QUEUED", "PROCESSING", "COMPLETED"]);

    let r = get(&s, sub["response_url"].as_str().unwrap(), true).await;
    assert_eq!(r.status(), 200);
    let done: Value = r.json().await.unwrap();
    assert_eq!(done["status"], "COMPLETED");
    assert_eq!(done["seed"], 77);
    assert_eq!(done["metrics"]["cost"], 0.048);
    for k in [
        "remaining_credits",
        "inference_time",
        "queue_time",
        "total_time",
    ] {
        assert!(done["metrics"][k].is_number(), "{k}: {done}");
    }
    let out = done["output"].as_str().unwrap();
    assert_eq!(out, format!("{}/outputs/{id}.png", root(&s)));
    // The output file needs no key.
    let r = get(&s, out, false).await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "content-type"), "image/png");
    let img = image::load_from_memory(&r.bytes().await.unwrap()).unwrap();
    assert_eq!((img.width(), img.height()), (64, 64));

    // Billed exactly once, however often it is read.
    get(&s, sub["response_url"].as_str().unwrap(), true).await;
    let credits: Value = get(&s, &format!("{}/v1/get-user-credits", root(&s)), true)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(credits["credits"], 99.952);
    let st = s.stats();
    assert_eq!(st.generations_billed, 1);
    assert_eq!(st.v2_results_delivered, 2);
    assert_eq!(st.v2_submits, 1);
    assert!(st.status_polls >= 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v2_records_expire_and_failed_jobs_answer_422_unbilled() {
    let s = sim(SimConfig {
        delay: Duration::from_millis(100),
        v2_expiry: Duration::from_millis(400),
        ..Default::default()
    })
    .await;
    // Expiry after v2_expiry.
    let sub: Value = post(&s, "/v2/flux-controlnet", &body())
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = sub["request_id"].as_str().unwrap().to_owned();
    tokio::time::sleep(Duration::from_millis(500)).await;
    for url in [&sub["status_url"], &sub["response_url"]] {
        let (status, msg) = status_and_error(get(&s, url.as_str().unwrap(), true).await).await;
        assert_eq!(status, 404);
        assert_eq!(msg, format!("Request {id} not found"));
    }
    let billed_after_expiry = s.stats().generations_billed;
    assert_eq!(
        billed_after_expiry, 1,
        "the job ran and was billed, though never fetched"
    );

    // A failed inference: FAILED, then 422, and not billed.
    s.push_faults([Fault::Fail]);
    let before = s.credits();
    let sub: Value = post(&s, "/v2/flux-controlnet", &body())
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = sub["request_id"].as_str().unwrap().to_owned();
    let (seen, _) = poll(&s, &id).await;
    assert_eq!(seen.last().map(String::as_str), Some("FAILED"));
    let r = get(&s, sub["response_url"].as_str().unwrap(), true).await;
    assert_eq!(r.status(), 422);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["status"], "FAILED");
    assert!(!v["error"].as_str().unwrap().is_empty());
    assert_eq!(s.credits(), before);
    assert_eq!(s.stats().generations_billed, billed_after_expiry);

    // The expire fault: the record disappears when the job would complete.
    s.push_faults([Fault::Expire]);
    let sub: Value = post(&s, "/v2/flux-controlnet", &body())
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let (seen, code) = poll(&s, sub["request_id"].as_str().unwrap()).await;
    assert_eq!(code, 404, "{seen:?}");
    assert_eq!(s.stats().faults_injected.get("expire"), Some(&1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credits_are_reported_and_spent_and_their_lack_refused() {
    let s = sim(SimConfig {
        credits: 0.1,
        ..fast()
    })
    .await;
    let url = format!("{}/v1/get-user-credits", root(&s));
    let v: Value = get(&s, &url, true).await.json().await.unwrap();
    assert_eq!(v["credits"], 0.1);
    assert!(v["free-credits"].is_number());
    assert_eq!(v1(&s, &body()).await.status(), 200);
    assert_eq!(v1(&s, &body()).await.status(), 200);
    let (status, msg) = status_and_error(v1(&s, &body()).await).await;
    assert_eq!(status, 406);
    assert_eq!(msg, "Insufficient credits: balance 0.0040, cost 0.0480");
    let v: Value = get(&s, &url, true).await.json().await.unwrap();
    assert_eq!(v["credits"], 0.004);
    let st = s.stats();
    assert_eq!((st.credits_calls, st.generations_billed), (2, 2));
}

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
    let at = humantime::parse_rfc3339(header(&r, "x-rate-limit-reset-at-utc")).unwrap();
    let ahead = at
        .duration_since(std::time::SystemTime::now())
        .unwrap_or_default();
    assert!(ahead <= Duration::from_secs(2), "{ahead:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_v1_requests_overlap() {
    let s = sim(SimConfig {
        delay: Duration::from_millis(600),
        ..Default::default()
    })
    .await;
    let started = Instant::now();
    let b = body();
    let answers = futures_util::future::join_all((0..4).map(|_| v1(&s, &b))).await;
    let took = started.elapsed();
    assert!(answers.iter().all(|r| r.status() == 200));
    let st = s.stats();
    assert_eq!(st.spans.len(), 4);
    assert!(st.max_in_flight >= 4, "{}", st.max_in_flight);
    for a in &st.spans {
        for b in &st.spans {
            assert!(a.0 < b.1 && b.0 < a.1, "every span overlaps every other");
        }
    }
    assert!(took < Duration::from_millis(4 * 600), "{took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_methods_unknown_paths_big_bodies_and_user_agents() {
    let s = sim(fast()).await;
    let c = reqwest::Client::builder()
        .user_agent("fluxcn-test/9.9")
        .build()
        .unwrap();
    let r = c
        .get(format!("{}/v1/flux-controlnet", root(&s)))
        .header("x-api-key", KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 405);
    assert!(header(&r, "content-type").starts_with("text/html"));
    assert!(r.text().await.unwrap().contains("405 Method Not Allowed"));
    let r = c
        .get(format!("{}/v1/no-such-model", root(&s)))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert!(r.json::<Value>().await.unwrap()["error"].is_string());
    let r = c
        .get(format!("{}/outputs/nothing.png", root(&s)))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);

    // A body over the limit is refused by its declared length, before it is read.
    let mut sock = tokio::net::TcpStream::connect(s.addr()).await.unwrap();
    let head = format!(
        "POST /v1/flux-controlnet HTTP/1.1\r\nHost: x\r\nx-api-key: {KEY}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
        sim::MAX_BODY + 1
    );
    sock.write_all(head.as_bytes()).await.unwrap();
    let mut buf = vec![0u8; 512];
    let n = tokio::time::timeout(Duration::from_secs(10), sock.read(&mut buf))
        .await
        .unwrap()
        .unwrap();
    let text = String::from_utf8_lossy(&buf[..n]);
    assert!(text.starts_with("HTTP/1.1 413"), "{text}");

    assert!(s.stats().user_agents.iter().any(|u| u == "fluxcn-test/9.9"));
}

/// The project's own client talks to the stand-in end to end: v1, v2 and credits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_projects_client_works_against_the_stand_in() {
    use fluxcn::api::{ApiKey, Client, ClientConfig, GenParams, client::no_progress};
    use tokio_util::sync::CancellationToken;

    let s = sim(SimConfig {
        delay: Duration::from_millis(200),
        ..Default::default()
    })
    .await;
    let client = Client::new(
        ClientConfig {
            api_base: s.base_url(),
            poll_interval: Duration::from_millis(50),
            ..Default::default()
        },
        ApiKey::new(KEY).unwrap(),
    )
    .unwrap();
    let cancel = CancellationToken::new();
    let params = GenParams {
        prompt: "a dancer".into(),
        seed: -1,
        image_format: ImageFormat::Png,
        ..Default::default()
    };
    let image = png_b64(96, 80);
    let valid = params.clone().validate_into().unwrap();
    let g = client
        .generate(&image, &valid, &cancel, &no_progress)
        .await
        .unwrap();
    assert_eq!(g.images.len(), 1);
    assert_eq!((g.images[0].width, g.images[0].height), (96, 80));
    assert!(g.accounting.seed.is_some_and(|s| s >= 0));
    assert_eq!(g.accounting.cost, Some(0.048));

    let sub = client
        .submit(&image, &valid, &cancel, &no_progress)
        .await
        .unwrap();
    let g = client
        .wait_for(&sub.request_id, &cancel, &no_progress)
        .await
        .unwrap();
    assert_eq!(g.images.len(), 1);
    assert_eq!(g.images[0].format, ImageFormat::Png);
    assert!(g.accounting.remaining_credits.is_some());

    let c = client.credits(&cancel).await.unwrap();
    assert!(
        (c.credits.unwrap() - (100.0 - 2.0 * 0.048)).abs() < 1e-9,
        "{c:?}"
    );
    let st = s.stats();
    assert_eq!(st.generations_billed, 2);
    assert!(
        st.user_agents.iter().any(|u| u.starts_with("fluxcn")),
        "{:?}",
        st.user_agents
    );
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
