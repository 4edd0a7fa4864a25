//! The loopback stand-in refuses what the Segmind contract (`shared/CONTRACT.md`) refuses, and says
//! why: missing fields, values out of range, unknown enum values, bad images, keys and content
//! types, wrong methods, unknown paths and bodies over the limit. Raw reqwest calls against
//! `sim::start` on 127.0.0.1, port 0.

use crate::common;

use std::time::Duration;

use common::sim_http::{KEY, body, fast, header, png_b64, post, root, sim, status_and_error, v1};
use fluxcn::api::params::{CnType, ImageFormat, MAX_SEED, SAMPLERS, Scheduler};
use fluxcn::sim::{self, SimConfig};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

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
