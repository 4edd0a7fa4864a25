//! Raw HTTP against the loopback stand-in (`sim::start` on 127.0.0.1, port 0) for the
//! `sim_contract_*` test files: the key, a valid request body, a fast stand-in, and plain reqwest
//! calls that return the answer as it came.
#![allow(dead_code)] // each test crate uses its own subset

use std::io::Cursor;
use std::time::Duration;

use base64::Engine as _;
use fluxcn::sim::{self, SimConfig, SimServer};
use serde_json::{Value, json};

pub const KEY: &str = "SG_0123456789abcdef";

pub fn png_b64(w: u32, h: u32) -> String {
    let img = image::RgbImage::from_fn(w, h, |x, y| image::Rgb([x as u8, y as u8, 7]));
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    base64::engine::general_purpose::STANDARD.encode(out.into_inner())
}

/// A valid request whose output is small (the input's own size, 64×64).
pub fn body() -> Value {
    json!({
        "image": png_b64(64, 64),
        "prompt": "a dancer on a rooftop at night",
        "sampler": "euler",
        "scheduler": "simple",
        "seed": 652889
    })
}

pub fn fast() -> SimConfig {
    SimConfig {
        delay: Duration::from_millis(5),
        slow_extra: Duration::from_millis(5),
        ..Default::default()
    }
}

pub async fn sim(cfg: SimConfig) -> SimServer {
    sim::start(cfg).await.unwrap()
}

pub fn root(s: &SimServer) -> String {
    format!("http://{}", s.addr())
}

pub async fn post(s: &SimServer, path: &str, v: &Value) -> reqwest::Result<reqwest::Response> {
    reqwest::Client::new()
        .post(format!("{}{path}", root(s)))
        .header("x-api-key", KEY)
        .header("content-type", "application/json")
        .body(v.to_string())
        .send()
        .await
}

pub async fn v1(s: &SimServer, v: &Value) -> reqwest::Response {
    post(s, "/v1/flux-controlnet", v).await.unwrap()
}

/// Status and the `error` message of an answer.
pub async fn status_and_error(r: reqwest::Response) -> (u16, String) {
    let status = r.status().as_u16();
    let v: Value = r.json().await.unwrap();
    (status, v["error"].as_str().unwrap_or_default().to_owned())
}

pub fn header<'a>(r: &'a reqwest::Response, name: &str) -> &'a str {
    r.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_else(|| panic!("missing header {name}"))
}
