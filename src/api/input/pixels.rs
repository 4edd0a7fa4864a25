//! Pixel work for input preparation: flattening transparency onto white, a SIMD downscale
//! (`fast_image_resize`, bilinear convolution) and a SIMD JPEG encode (`jpeg-encoder`).

use fast_image_resize::images::{Image, ImageRef};
use fast_image_resize::{FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer};
use image::{DynamicImage, RgbImage, RgbaImage};

/// The size that fits `(w, h)` within `max_side` on its long side, keeping the aspect ratio.
/// Returns the size unchanged when it already fits.
pub fn fit_within(w: u32, h: u32, max_side: u32) -> (u32, u32) {
    let max_side = max_side.max(1);
    let long = w.max(h);
    if long <= max_side || long == 0 {
        return (w, h);
    }
    let scale = |s: u32| -> u32 {
        let v = (u64::from(s) * u64::from(max_side) + u64::from(long) / 2) / u64::from(long);
        u32::try_from(v).unwrap_or(max_side).clamp(1, max_side)
    };
    (scale(w), scale(h))
}

/// Whether any pixel is less than fully opaque.
pub fn has_transparency(img: &DynamicImage) -> bool {
    match img {
        DynamicImage::ImageLumaA8(b) => b.pixels().any(|p| p.0[1] < u8::MAX),
        DynamicImage::ImageRgba8(b) => b.pixels().any(|p| p.0[3] < u8::MAX),
        DynamicImage::ImageLumaA16(b) => b.pixels().any(|p| p.0[1] < u16::MAX),
        DynamicImage::ImageRgba16(b) => b.pixels().any(|p| p.0[3] < u16::MAX),
        DynamicImage::ImageRgba32F(b) => b.pixels().any(|p| p.0[3] < 1.0),
        _ => false,
    }
}

/// The image as 8-bit RGB; transparent pixels are composited onto white.
pub fn to_rgb_on_white(img: DynamicImage, transparent: bool) -> RgbImage {
    if !transparent {
        // `into_rgb8` moves the buffer when it already is 8-bit RGB (the common JPEG case).
        return img.into_rgb8();
    }
    let rgba = img.into_rgba8();
    let (w, h) = rgba.dimensions();
    let mut out = Vec::with_capacity(w as usize * h as usize * 3);
    for p in rgba.pixels() {
        let [r, g, b, a] = p.0;
        let a = u32::from(a);
        for c in [r, g, b] {
            // c·a + 255·(1−a), rounded; the result is at most 255.
            let v = (u32::from(c) * a + 255 * (255 - a) + 127) / 255;
            out.push(v.min(255) as u8);
        }
    }
    // The buffer has exactly w·h·3 bytes, so this cannot fail; fall back to an empty image anyway.
    RgbImage::from_raw(w, h, out).unwrap_or_else(|| RgbImage::new(0, 0))
}

/// Downscales 8-bit RGB to `(w, h)` with a bilinear convolution (antialiased).
pub fn resize_rgb(src: &RgbImage, w: u32, h: u32) -> Result<RgbImage, String> {
    let raw = resize_raw(
        src.width(),
        src.height(),
        src.as_raw(),
        w,
        h,
        PixelType::U8x3,
    )?;
    RgbImage::from_raw(w, h, raw).ok_or_else(|| "the resized buffer has the wrong size".into())
}

/// Downscales 8-bit RGBA to `(w, h)` (alpha-aware).
pub fn resize_rgba(src: &RgbaImage, w: u32, h: u32) -> Result<RgbaImage, String> {
    let raw = resize_raw(
        src.width(),
        src.height(),
        src.as_raw(),
        w,
        h,
        PixelType::U8x4,
    )?;
    RgbaImage::from_raw(w, h, raw).ok_or_else(|| "the resized buffer has the wrong size".into())
}

fn resize_raw(
    sw: u32,
    sh: u32,
    buf: &[u8],
    w: u32,
    h: u32,
    pixel: PixelType,
) -> Result<Vec<u8>, String> {
    let src = ImageRef::new(sw, sh, buf, pixel).map_err(|e| e.to_string())?;
    let mut dst = Image::new(w, h, pixel);
    let opts = ResizeOptions::new().resize_alg(ResizeAlg::Convolution(FilterType::Bilinear));
    Resizer::new()
        .resize(&src, &mut dst, &opts)
        .map_err(|e| e.to_string())?;
    Ok(dst.into_vec())
}

/// Decodes a JPEG at the smallest of 1/8, 1/4 and 1/2 of its size that is still at least `w`×`h`
/// (`jpeg-decoder` scales in the IDCT). `None` when no reduction is possible (the full decode is
/// then faster elsewhere), the pixel format is not 8-bit gray or RGB, or the file does not decode.
pub fn decode_jpeg_reduced(bytes: &[u8], w: u32, h: u32) -> Option<DynamicImage> {
    let mut d = jpeg_decoder::Decoder::new(std::io::Cursor::new(bytes));
    d.read_info().ok()?;
    let info = d.info()?;
    let (req_w, req_h) = (u16::try_from(w).ok()?, u16::try_from(h).ok()?);
    let (sw, sh) = d.scale(req_w, req_h).ok()?;
    if (sw, sh) == (info.width, info.height) {
        return None;
    }
    let pixels = d.decode().ok()?;
    let (sw, sh) = (u32::from(sw), u32::from(sh));
    match info.pixel_format {
        jpeg_decoder::PixelFormat::RGB24 => {
            RgbImage::from_raw(sw, sh, pixels).map(DynamicImage::ImageRgb8)
        }
        jpeg_decoder::PixelFormat::L8 => {
            image::GrayImage::from_raw(sw, sh, pixels).map(DynamicImage::ImageLuma8)
        }
        _ => None,
    }
}

/// Encodes 8-bit RGB as a baseline JPEG at `quality` (1–100), with 4:2:0 chroma: a control image
/// needs no full-resolution colour, and this halves both the time and the size.
pub fn encode_jpeg(img: &RgbImage, quality: u8) -> Result<Vec<u8>, String> {
    let (w, h) = img.dimensions();
    let (Ok(w16), Ok(h16)) = (u16::try_from(w), u16::try_from(h)) else {
        return Err(format!(
            "{w}×{h} is too large for a JPEG (65535 at most a side)"
        ));
    };
    let mut out = Vec::with_capacity(w as usize * h as usize / 4);
    let mut enc = jpeg_encoder::Encoder::new(&mut out, quality);
    enc.set_sampling_factor(jpeg_encoder::SamplingFactor::F_2_2);
    enc.encode(img.as_raw(), w16, h16, jpeg_encoder::ColorType::Rgb)
        .map_err(|e| e.to_string())?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fit_keeps_aspect() {
        assert_eq!(fit_within(6000, 4000, 2048), (2048, 1365));
        assert_eq!(fit_within(4000, 6000, 2048), (1365, 2048));
        assert_eq!(fit_within(100, 50, 2048), (100, 50));
        assert_eq!(fit_within(100_000, 1, 2048), (2048, 1));
        assert_eq!(fit_within(0, 0, 2048), (0, 0));
    }

    #[test]
    fn flattening_goes_onto_white() {
        let mut img = RgbaImage::new(2, 1);
        img.put_pixel(0, 0, image::Rgba([0, 0, 0, 0]));
        img.put_pixel(1, 0, image::Rgba([10, 20, 30, 255]));
        let dynimg = DynamicImage::ImageRgba8(img);
        assert!(has_transparency(&dynimg));
        let rgb = to_rgb_on_white(dynimg, true);
        assert_eq!(rgb.get_pixel(0, 0).0, [255, 255, 255]);
        assert_eq!(rgb.get_pixel(1, 0).0, [10, 20, 30]);
    }
}
