//! The loopback stand-in answers as the Segmind contract (`shared/CONTRACT.md`) says: v1 images of
//! the requested size and format with accounting headers, base64 mode and random seeds, the v2
//! flow (queued, processing, completed, expired, failed) billed once, credits, concurrent
//! requests, and the project's own client end to end. Raw reqwest calls against `sim::start` on
//! 127.0.0.1, port 0.

use crate::common;

use std::time::{Duration, Instant};

use base64::Engine as _;
use common::sim_http::{KEY, body, fast, header, png_b64, post, root, sim, status_and_error, v1};
use fluxcn::api::params::ImageFormat;
use fluxcn::sim::{Fault, SimConfig, SimServer};
use serde_json::{Value, json};

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

    // samples > 1 on v1: billed for every sample, one image in the answer (base64 and raw alike).
    b["samples"] = json!(3);
    let billed_before = s.stats().generations_billed;
    let r = v1(&s, &b).await;
    let cost: f64 = header(&r, "x-cost").parse().unwrap();
    let v: Value = r.json().await.unwrap();
    assert!(v.get("images").is_none(), "{v}");
    let one = base64::engine::general_purpose::STANDARD
        .decode(v["image"].as_str().unwrap())
        .unwrap();
    assert!(image::load_from_memory(&one).is_ok());
    b["base64"] = json!(false);
    let r = v1(&s, &b).await;
    let raw_cost: f64 = header(&r, "x-cost").parse().unwrap();
    let raw = r.bytes().await.unwrap();
    assert!(image::load_from_memory(&raw).is_ok());
    assert!((cost - raw_cost).abs() < 1e-9);
    assert!(
        (cost - 3.0 * fluxcn::api::DEFAULT_COST_PER_IMAGE).abs() < 1e-6,
        "billed {cost}"
    );
    assert_eq!(s.stats().generations_billed - billed_before, 2);
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
