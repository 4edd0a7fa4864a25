//! Previews: an image decoded for the screen off the UI thread, at most [`PREVIEW_SIDE`] on its
//! long side (a large JPEG decoded at a reduced scale in the IDCT, then resized with SIMD).

/// The long side of the previews sent with results and inputs.
pub const PREVIEW_SIDE: u32 = 2048;

/// Decodes an image for the screen, downscaled to at most [`PREVIEW_SIDE`] on its long side.
pub fn decode_preview(bytes: &[u8]) -> Option<image::RgbaImage> {
    use crate::api::input::pixels;
    // A JPEG larger than the preview is decoded at 1/2, 1/4 or 1/8 scale in the IDCT (the
    // service's 4096² answers: several times less work), then resized exactly.
    if bytes.starts_with(&[0xFF, 0xD8]) {
        let mut d = jpeg_decoder::Decoder::new(std::io::Cursor::new(bytes));
        if d.read_info().is_ok()
            && let Some(info) = d.info()
        {
            let (w, h) = (u32::from(info.width), u32::from(info.height));
            let (tw, th) = pixels::fit_within(w, h, PREVIEW_SIDE);
            // Up to 64 MP: a larger (hostile) header goes through the decoder with memory limits.
            if (tw, th) != (w, h)
                && u64::from(w) * u64::from(h) <= 64_000_000
                && let Some(img) = pixels::decode_jpeg_reduced(bytes, tw, th)
            {
                return shrink(img.to_rgba8(), tw, th);
            }
        }
    }
    let mut reader = image::ImageReader::new(std::io::Cursor::new(bytes))
        .with_guessed_format()
        .ok()?;
    let mut limits = image::Limits::default();
    limits.max_alloc = Some(512 * 1024 * 1024);
    reader.limits(limits);
    let img = reader.decode().ok()?.to_rgba8();
    let (tw, th) = pixels::fit_within(img.width(), img.height(), PREVIEW_SIDE);
    shrink(img, tw, th)
}

/// `img` at exactly `w`×`h` (SIMD bilinear); as it is when it is that size already.
fn shrink(img: image::RgbaImage, w: u32, h: u32) -> Option<image::RgbaImage> {
    if (img.width(), img.height()) == (w, h) {
        return Some(img);
    }
    crate::api::input::pixels::resize_rgba(&img, w, h).ok()
}
