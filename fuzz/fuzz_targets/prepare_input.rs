//! Fuzzes input preparation: any bytes given as a picked file (any name) must give a payload or a
//! typed error, never a panic, under the decoder limits the app uses. The preview path too.
#![no_main]

use std::sync::Arc;

use fluxcn::api::input::{PrepareOptions, prepare_bytes, preview};
use fluxcn::jobs::InputSource;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Small limits keep each run fast; the code paths are the same as with the defaults.
    let opts = PrepareOptions {
        max_side: 256,
        max_pixels: 4_000_000,
        ..PrepareOptions::default()
    };
    if let Ok(p) = prepare_bytes("fuzz.jpg", data, &opts) {
        assert!(p.width.max(p.height) <= 256 || !p.reencoded);
    }
    let src = InputSource::Bytes {
        name: "fuzz.png".into(),
        data: Arc::new(data.to_vec()),
    };
    let _ = preview(&src, 64);
});
