//! The stand-in's account services against the fields Segmind's SDK documents (`segmind` 1.3.0,
//! `generations.py`, `files.py`): the request history's rows and filters (per_page 1–100, a window
//! of at most 31 days, model and status), one request by id, one row per output each with the whole
//! cost, rows for failures and for answers the client never got; `upload-asset` and the assets by
//! URL; the key required on both services; and each envelope, read back by the client.

use crate::common;

use common::sim_http::{KEY, body, fast, post, root, sim, v1};
use fluxcn::api::client::history::{HistoryQuery, RowStatus, dedupe};
use fluxcn::api::{ApiKey, Client, ClientConfig};
use fluxcn::sim::{Envelope, Fault, SimConfig};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

async fn get(s: &fluxcn::sim::SimServer, path: &str, key: bool) -> reqwest::Response {
    let mut rb = reqwest::Client::new().get(format!("{}{path}", root(s)));
    if key {
        rb = rb.header("x-api-key", KEY);
    }
    rb.send().await.unwrap()
}

fn today() -> String {
    chrono::Utc::now()
        .date_naive()
        .format("%Y-%m-%d")
        .to_string()
}

/// The SDK's documented fields of a history row.
const ROW_FIELDS: [&str; 9] = [
    "request_id",
    "model_name",
    "model_status",
    "credits_deduction",
    "request_body",
    "generation_url",
    "latency_ms",
    "created_at",
    "error",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_rows_carry_the_sdk_fields_for_answered_cut_and_failed_requests() {
    let s = sim(fast()).await;
    // One answered, one cut off (billed), one failed (not billed), and a v1 request of two
    // samples (two outputs: two rows, each with the whole cost).
    assert_eq!(v1(&s, &body()).await.status(), 200);
    s.push_faults([Fault::Truncate]);
    let _ = v1(&s, &body()).await.bytes().await;
    s.push_faults([Fault::Status500]);
    assert_eq!(v1(&s, &body()).await.status(), 500);
    let mut two = body();
    two["samples"] = json!(2);
    assert_eq!(v1(&s, &two).await.status(), 200);
    let d = today();
    let r = get(
        &s,
        &format!("/inference-request/request-history?page=1&per_page=100&from_date={d}&to_date={d}&model_name=flux-controlnet"),
        true,
    )
    .await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    let rows = v["data"].as_array().unwrap();
    assert_eq!(rows.len(), 5, "{v}");
    for row in rows {
        for f in ROW_FIELDS {
            assert!(row.get(f).is_some(), "no {f} in {row}");
        }
        assert_eq!(row["model_name"], "flux-controlnet");
        assert!(row["request_body"]["prompt"].is_string());
        let image = row["request_body"]["image"].as_str().unwrap();
        assert!(
            image.starts_with("http://127.0.0.1"),
            "the image kept as a URL: {image}"
        );
    }
    let status = |s: &str| rows.iter().filter(|r| r["model_status"] == s).count();
    assert_eq!((status("COMPLETED"), status("FAILED")), (4, 1));
    let failed = rows.iter().find(|r| r["model_status"] == "FAILED").unwrap();
    assert_eq!(failed["credits_deduction"], 0.0);
    assert!(failed["error"].as_str().is_some_and(|e| !e.is_empty()));
    // The two-sample request: two rows, one id, the whole cost on each.
    let id = rows[0]["request_id"].as_str().unwrap();
    let same: Vec<&Value> = rows.iter().filter(|r| r["request_id"] == id).collect();
    assert_eq!(same.len(), 2, "newest first, one row per output");
    for r in &same {
        assert!((r["credits_deduction"].as_f64().unwrap() - 0.096).abs() < 1e-9);
    }
    assert_ne!(same[0]["generation_url"], same[1]["generation_url"]);
    // Its output is there, without the key.
    let url = same[0]["generation_url"].as_str().unwrap();
    assert_eq!(reqwest::get(url).await.unwrap().status(), 200);
    // The cut answer was billed: it is in the balance, not in the answered count.
    let st = s.stats();
    assert_eq!((st.generations_billed, st.billed_without_answer), (2, 1));
    assert!((s.credits() - (100.0 - 4.0 * 0.048)).abs() < 1e-9);

    // One request by id.
    let one: Value = get(
        &s,
        &format!("/inference-request/request-history/{id}"),
        true,
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(one["data"].as_array().unwrap().len(), 2);
    assert_eq!(
        get(&s, "/inference-request/request-history/sim-nope", true)
            .await
            .status(),
        404
    );
    // Filters.
    let failed_only: Value = get(&s, "/inference-request/request-history?status=FAILED", true)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(failed_only["data"].as_array().unwrap().len(), 1);
    let paged: Value = get(
        &s,
        "/inference-request/request-history?per_page=2&page=3",
        true,
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(
        paged["data"].as_array().unwrap().len(),
        1,
        "5 rows: 2, 2, 1"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_and_storage_refuse_what_the_sdk_bounds() {
    let s = sim(fast()).await;
    let path = "/inference-request/request-history";
    assert_eq!(
        get(&s, path, false).await.status(),
        401,
        "the key is required"
    );
    for q in [
        "per_page=0",
        "per_page=101",
        "page=0",
        "from_date=2026-13-01",
    ] {
        assert_eq!(
            get(&s, &format!("{path}?{q}"), true).await.status(),
            400,
            "{q}"
        );
    }
    let wide = format!("{path}?from_date=2026-01-01&to_date=2026-03-01");
    assert_eq!(get(&s, &wide, true).await.status(), 400, "over 31 days");
    let ok = format!("{path}?from_date=2026-01-01&to_date=2026-02-01");
    assert_eq!(get(&s, &ok, true).await.status(), 200, "31 days");

    // upload-asset: the SDK's body and answer.
    let png = common::sim_http::png_b64(96, 80);
    let r = post(
        &s,
        "/upload-asset",
        &json!({ "data_urls": [format!("data:image/png;base64,{png}")] }),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert!(v["message"].is_string());
    let url = v["file_urls"][0].as_str().unwrap().to_owned();
    let got = reqwest::get(&url).await.unwrap();
    assert_eq!(got.status(), 200);
    assert_eq!(
        image::load_from_memory(&got.bytes().await.unwrap())
            .unwrap()
            .width(),
        96
    );
    // That URL as `image`: accepted, and the output has the uploaded image's size.
    let mut b = body();
    b["image"] = json!(url);
    let r = v1(&s, &b).await;
    assert_eq!(r.status(), 200);
    let out = image::load_from_memory(&r.bytes().await.unwrap()).unwrap();
    assert_eq!((out.width(), out.height()), (96, 80));
    for bad in [
        json!({}),
        json!({"data_urls": []}),
        json!({"data_urls": ["aGk="]}),
        json!({"data_urls": ["data:image/png;base64,aGk="]}),
    ] {
        assert_eq!(
            post(&s, "/upload-asset", &bad).await.unwrap().status(),
            400,
            "{bad}"
        );
    }
    let r = reqwest::Client::new()
        .post(format!("{}/upload-asset", root(&s)))
        .header("content-type", "application/json")
        .body(json!({"data_urls": []}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(s.stats().uploads, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_reads_every_envelope_and_says_when_there_is_none() {
    for envelope in Envelope::ALL {
        let s = sim(SimConfig {
            history_envelope: envelope,
            ..fast()
        })
        .await;
        assert_eq!(v1(&s, &body()).await.status(), 200);
        assert_eq!(v1(&s, &body()).await.status(), 200);
        let client = Client::new(
            ClientConfig {
                api_base: s.base_url(),
                ..Default::default()
            },
            ApiKey::new(KEY).unwrap(),
        )
        .unwrap();
        let day = chrono::Utc::now().date_naive();
        let mut q = HistoryQuery::model(day, day);
        q.per_page = 1;
        let cancel = CancellationToken::new();
        let page = client.history_page(&q, &cancel).await.unwrap();
        assert_eq!(page.rows.len(), 1, "{envelope:?}");
        assert!(page.more, "{envelope:?}: a full page may have a next");
        assert_eq!(page.rows[0].status, RowStatus::Completed);
        q.per_page = 100;
        let all = client.history_page(&q, &cancel).await.unwrap();
        assert_eq!(dedupe(all.rows).len(), 2, "{envelope:?}");
        assert!(!all.more);
        let id = page.rows[0].request_id.clone();
        let one = client.history_request(&id, &cancel).await.unwrap();
        assert_eq!(one[0].request_id, id, "{envelope:?}");
    }
}
