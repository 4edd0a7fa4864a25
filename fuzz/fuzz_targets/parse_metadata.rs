//! Fuzzes metadata parsing: A1111 `parameters` text, PNG text chunks, JPEG comments and the
//! settings embedded in any file must give settings or a typed error, never a panic.
#![no_main]

use fluxcn::gallery::{meta, parse_a1111};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        if let Ok(p) = parse_a1111(s) {
            // What parses must be sendable after clamping.
            assert!(p.clamped().problems().iter().all(|e| e.field == "prompt"));
        }
    }
    let _ = meta::png_texts(data);
    let _ = meta::jpeg_comments(data);
    let _ = meta::embedded_settings(std::path::Path::new("fuzz.png"), data);
});
