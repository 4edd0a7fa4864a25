//! Fuzzes response decoding: any body, as raw v1 bytes (with a content type), as base64 JSON, and
//! as v2 status and result documents, must give an image or a typed error, never a panic.
#![no_main]

use fluxcn::api::response;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (ct, body) = match data.split_first() {
        Some((b, rest)) if b % 3 == 0 => ("application/json", rest),
        Some((b, rest)) if b % 3 == 1 => ("image/jpeg", rest),
        Some((_, rest)) => ("text/html", rest),
        None => ("", data),
    };
    let _ = response::decode_v1_body(body.to_vec(), ct);
    let _ = response::decode_json_images(body);
    let _ = response::decode_status(body);
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) {
        let _ = response::image_refs(&v);
    }
    if let Ok(s) = std::str::from_utf8(body) {
        let _ = response::decode_base64_image(s);
    }
    let _ = fluxcn::api::error::message_from_body(body);
});
