//! The stand-in's "generated" images: cheap procedural pictures that show, at a glance, which
//! control type made them (a distinct background per type and its name in big letters), the seed,
//! and the first words of the prompt; and the demo mode's photo-like input image.

use std::io::Cursor;

use image::codecs::png::{CompressionType, FilterType, PngEncoder};
use image::codecs::webp::WebPEncoder;
use image::{ExtendedColorType, ImageEncoder, Rgb, RgbImage};

use crate::api::media::text;
use crate::api::params::{CnType, ImageFormat};

/// What one output image shows and how it is encoded.
#[derive(Debug, Clone, PartialEq)]
pub struct RenderSpec {
    pub width: u32,
    pub height: u32,
    pub cn_type: CnType,
    pub seed: i64,
    pub prompt: String,
    pub format: ImageFormat,
    pub quality: u32,
}

/// A small deterministic hash (splitmix64) to derive colours and positions from the seed.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn lerp(a: u8, b: u8, t: u32, n: u32) -> u8 {
    let n = n.max(1);
    let v = (u32::from(a) * (n - t.min(n)) + u32::from(b) * t.min(n)) / n;
    v.min(255) as u8
}

/// Fills each row of the image with one colour given by `row_color`, copying equal rows.
fn fill_rows(img: &mut RgbImage, row_color: impl Fn(u32) -> Rgb<u8>) {
    let stride = img.width() as usize * 3;
    let h = img.height();
    let buf: &mut [u8] = img.as_mut();
    for y in 0..h {
        let start = y as usize * stride;
        fill_pixels(&mut buf[start..start + stride], row_color(y));
    }
}

/// Fills the image from two row patterns chosen per row (cheap checkerboards and grids).
fn fill_pattern(img: &mut RgbImage, row_a: &[u8], row_b: &[u8], use_b: impl Fn(u32) -> bool) {
    let stride = img.width() as usize * 3;
    let h = img.height();
    let buf: &mut [u8] = img.as_mut();
    for y in 0..h {
        let start = y as usize * stride;
        let src = if use_b(y) { row_b } else { row_a };
        if src.len() == stride {
            buf[start..start + stride].copy_from_slice(src);
        }
    }
}

/// A row alternating between two colours in runs of `run` pixels.
fn striped_row(width: u32, run: u32, a: Rgb<u8>, b: Rgb<u8>, offset: u32) -> Vec<u8> {
    let mut row = vec![0u8; width as usize * 3];
    let run = run.max(1);
    let mut x = 0u32;
    while x < width {
        let end = (x + run).min(width);
        let color = if ((x / run) + offset).is_multiple_of(2) {
            a
        } else {
            b
        };
        fill_pixels(&mut row[x as usize * 3..end as usize * 3], color);
        x = end;
    }
    row
}

/// A thick line from `a` to `b` drawn as squares along it (cost grows with length, not area).
fn thick_line(img: &mut RgbImage, a: (i64, i64), b: (i64, i64), t: i64, color: Rgb<u8>) {
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let steps = dx.abs().max(dy.abs()).max(1);
    let stride = (t / 4).max(1);
    let mut i = 0;
    while i <= steps {
        let x = a.0 + dx * i / steps;
        let y = a.1 + dy * i / steps;
        fill_rect(img, x - t / 2, y - t / 2, t, t, color);
        i += stride;
    }
}

/// A filled disc, one span per row.
fn disc(img: &mut RgbImage, cx: i64, cy: i64, r: i64, color: Rgb<u8>) {
    for dy in -r..=r {
        let half = (((r * r - dy * dy) as f64).sqrt()) as i64;
        fill_rect(img, cx - half, cy + dy, 2 * half + 1, 1, color);
    }
}

/// A stick figure in the manner of an OpenPose skeleton, fitted to the box `x, y, w, h`.
fn figure(img: &mut RgbImage, x: i64, y: i64, w: i64, h: i64, palette: &[Rgb<u8>; 6], t: i64) {
    let p = |fx: i64, fy: i64| (x + w * fx / 100, y + h * fy / 100);
    let bones = [
        (p(50, 18), p(50, 55)), // spine
        (p(50, 25), p(25, 42)), // left arm
        (p(25, 42), p(18, 60)),
        (p(50, 25), p(75, 40)), // right arm
        (p(75, 40), p(88, 22)),
        (p(50, 55), p(35, 78)), // left leg
        (p(35, 78), p(32, 100)),
        (p(50, 55), p(65, 78)), // right leg
        (p(65, 78), p(70, 100)),
    ];
    for (i, (a, b)) in bones.iter().enumerate() {
        thick_line(img, *a, *b, t, palette[i % palette.len()]);
    }
    let (hx, hy) = p(50, 9);
    disc(img, hx, hy, (w.min(h) / 9).max(2), palette[5]);
}

/// The background and motif that tell a control type apart.
fn paint_type(img: &mut RgbImage, cn: CnType, seed_bits: u64) {
    let (w, h) = (img.width(), img.height());
    let unit = (w.min(h) / 8).max(8);
    match cn {
        // Depth: a dark-to-pale blue gradient (near is bright), with a bright disc "close by".
        CnType::Depth => {
            fill_rows(img, |y| {
                Rgb([lerp(8, 150, y, h), lerp(20, 190, y, h), lerp(60, 255, y, h)])
            });
        }
        // Canny: black with thin white edges (a grid), like an edge map.
        CnType::Canny => {
            let line = (unit / 16).max(1);
            let a = striped_row(w, unit, Rgb([0, 0, 0]), Rgb([0, 0, 0]), 0);
            let mut b = a.clone();
            fill_pixels(&mut b, Rgb([235, 235, 235]));
            fill_pattern(img, &a, &b, |y| y % unit < line);
            let mut x = 0;
            while x < w {
                fill_rect(
                    img,
                    i64::from(x),
                    0,
                    i64::from(line),
                    i64::from(h),
                    Rgb([235, 235, 235]),
                );
                x += unit;
            }
        }
        // Pose: a dark violet field with a coloured skeleton.
        CnType::Pose => {
            fill_rows(img, |_| Rgb([34, 18, 52]));
        }
        // Tile: a warm checkerboard.
        CnType::Tile => {
            let a = striped_row(w, unit, Rgb([222, 150, 70]), Rgb([170, 90, 40]), 0);
            let b = striped_row(w, unit, Rgb([222, 150, 70]), Rgb([170, 90, 40]), 1);
            fill_pattern(img, &a, &b, |y| (y / unit) % 2 == 1);
        }
    }
    // The seed's mark: a disc whose colour and place depend on the seed, so two seeds differ.
    let color = Rgb([
        (seed_bits & 0xFF) as u8 | 0x40,
        ((seed_bits >> 8) & 0xFF) as u8 | 0x40,
        ((seed_bits >> 16) & 0xFF) as u8 | 0x40,
    ]);
    let cx = i64::from(w) * (20 + (seed_bits >> 24) as i64 % 60) / 100;
    let cy = i64::from(h) * (45 + (seed_bits >> 32) as i64 % 40) / 100;
    disc(img, cx, cy, i64::from(w.min(h) / 10), color);
    let palette = [
        Rgb([255, 60, 60]),
        Rgb([255, 170, 0]),
        Rgb([240, 240, 0]),
        Rgb([60, 220, 60]),
        Rgb([0, 170, 255]),
        Rgb([230, 80, 230]),
    ];
    if cn == CnType::Pose {
        let (fw, fh) = (i64::from(w) / 3, i64::from(h) * 11 / 20);
        let t = (i64::from(w.min(h)) / 40).max(2);
        figure(
            img,
            i64::from(w) / 2 - fw / 2,
            i64::from(h) * 2 / 5,
            fw,
            fh,
            &palette,
            t,
        );
    }
}

/// The first words of `prompt` that fit in `max_chars`, ending in "..." when cut.
fn first_words(prompt: &str, max_chars: usize) -> String {
    let words: Vec<&str> = prompt.split_whitespace().collect();
    let whole = words.join(" ");
    if whole.chars().count() <= max_chars {
        return whole;
    }
    let room = max_chars.saturating_sub(3);
    let mut out = String::new();
    for word in words {
        let extra = usize::from(!out.is_empty()) + word.chars().count();
        if out.chars().count() + extra > room {
            break;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    if out.is_empty() {
        out = whole.chars().take(room).collect();
    }
    out.push_str("...");
    out
}

/// Draws the picture (no encoding).
pub fn draw(spec: &RenderSpec) -> RgbImage {
    let (w, h) = (spec.width.max(1), spec.height.max(1));
    let mut img = RgbImage::new(w, h);
    let seed_bits = mix(spec.seed as u64 ^ 0x5EED);
    paint_type(&mut img, spec.cn_type, seed_bits);

    // The type's name, big, on a dark band at the top: 70 % of the width, at most an eighth of the
    // height (egui's own font, as the exported grids' labels).
    let name = spec.cn_type.as_str().to_ascii_uppercase();
    let (wf, hf) = (w as f32, h as f32);
    let at_100 = text::text_width(&name, 100.0).max(1.0);
    let big = (0.7 * wf / at_100 * 100.0).min(hf / 8.0).max(4.0);
    let band = (big * 1.3).ceil();
    fill_rect(&mut img, 0, 0, i64::from(w), band as i64, Rgb([12, 12, 12]));
    let x = (wf - text::text_width(&name, big)) / 2.0;
    text::draw_text(&mut img, x, big * 0.1, big, Rgb([255, 255, 255]), &name);

    // The seed and the prompt's first words on a band at the bottom.
    let small = (big / 3.0).max(4.0);
    let cols = (wf / text::text_width("m", small).max(1.0)).max(4.0) as usize;
    let bottom = (small * 2.6).ceil();
    fill_rect(
        &mut img,
        0,
        i64::from(h) - bottom as i64,
        i64::from(w),
        bottom as i64,
        Rgb([12, 12, 12]),
    );
    let colour = Rgb([255, 230, 120]);
    let top = hf - bottom + small * 0.2;
    let seed = format!("SEED {}", spec.seed);
    text::draw_text(&mut img, small, top, small, colour, &seed);
    let words = first_words(&spec.prompt, cols.saturating_sub(2));
    text::draw_text(&mut img, small, top + small * 1.2, small, colour, &words);
    img
}

/// Encodes an RGB image in `format` (`quality` applies to JPEG; PNG uses fast compression with the
/// `Sub` filter, which turns flat runs into zeros; WebP is lossless, the only WebP encoder of the
/// `image` crate).
pub fn encode(img: &RgbImage, format: ImageFormat, quality: u32) -> Result<Vec<u8>, String> {
    let mut out = Cursor::new(Vec::new());
    let (w, h) = img.dimensions();
    let res = match format {
        // jpeg-encoder (SIMD) is several times faster than `image`'s encoder: the stand-in's
        // render is part of every test's and benchmark's time.
        ImageFormat::Jpeg => {
            let (Ok(w16), Ok(h16)) = (u16::try_from(w), u16::try_from(h)) else {
                return Err(format!("{w}×{h} is too large for a JPEG"));
            };
            let mut v = Vec::new();
            jpeg_encoder::Encoder::new(&mut v, quality.clamp(1, 100) as u8)
                .encode(img.as_raw(), w16, h16, jpeg_encoder::ColorType::Rgb)
                .map_err(|e| format!("could not encode the {format} image: {e}"))?;
            return Ok(v);
        }
        ImageFormat::Png => {
            PngEncoder::new_with_quality(&mut out, CompressionType::Fast, FilterType::Sub)
                .write_image(img.as_raw(), w, h, ExtendedColorType::Rgb8)
        }
        ImageFormat::Webp => WebPEncoder::new_lossless(&mut out).write_image(
            img.as_raw(),
            w,
            h,
            ExtendedColorType::Rgb8,
        ),
    };
    res.map_err(|e| format!("could not encode the {format} image: {e}"))?;
    Ok(out.into_inner())
}

/// Draws and encodes one output image.
pub fn render(spec: &RenderSpec) -> Result<Vec<u8>, String> {
    encode(&draw(spec), spec.format, spec.quality)
}

/// A procedurally drawn photo-like input (a figure on a landscape, 768×1024 PNG) for demo mode.
pub fn demo_input_png() -> Vec<u8> {
    let (w, h) = (768u32, 1024u32);
    let mut img = RgbImage::new(w, h);
    let horizon = h * 62 / 100;
    fill_rows(&mut img, |y| {
        if y < horizon {
            Rgb([
                lerp(90, 200, y, horizon),
                lerp(140, 220, y, horizon),
                lerp(210, 240, y, horizon),
            ])
        } else {
            let t = y - horizon;
            let n = h - horizon;
            Rgb([
                lerp(110, 60, t, n),
                lerp(150, 100, t, n),
                lerp(70, 40, t, n),
            ])
        }
    });
    disc(&mut img, 610, 150, 70, Rgb([255, 236, 170]));
    // Distant hills.
    for i in 0..6i64 {
        disc(
            &mut img,
            i * 160,
            i64::from(horizon) + 40,
            150,
            Rgb([80, 120, 70]),
        );
    }
    fill_rect(
        &mut img,
        0,
        i64::from(horizon) + 40,
        i64::from(w),
        i64::from(h),
        Rgb([104, 140, 66]),
    );
    let skin = Rgb([224, 180, 150]);
    let shirt = Rgb([200, 50, 60]);
    let trousers = Rgb([40, 50, 90]);
    // A person standing, arms out: head, torso, arms, legs.
    disc(&mut img, 384, 300, 58, skin);
    fill_rect(&mut img, 334, 360, 100, 220, shirt);
    thick_line(&mut img, (340, 380), (220, 500), 36, shirt);
    thick_line(&mut img, (220, 500), (190, 600), 30, skin);
    thick_line(&mut img, (428, 380), (540, 460), 36, shirt);
    thick_line(&mut img, (540, 460), (600, 360), 30, skin);
    thick_line(&mut img, (360, 580), (320, 760), 44, trousers);
    thick_line(&mut img, (320, 760), (310, 900), 40, trousers);
    thick_line(&mut img, (408, 580), (450, 760), 44, trousers);
    thick_line(&mut img, (450, 760), (470, 900), 40, trousers);
    fill_rect(&mut img, 280, 895, 60, 22, Rgb([30, 30, 30]));
    fill_rect(&mut img, 450, 895, 60, 22, Rgb([30, 30, 30]));
    // A PNG of a plain RGB buffer of a valid size cannot fail to encode; an empty Vec would only
    // make the demo show its "no input" state.
    encode(&img, ImageFormat::Png, 100).unwrap_or_default()
}

/// Fills the rectangle `x, y, w, h` (clipped to the image) with `color`.
pub fn fill_rect(img: &mut RgbImage, x: i64, y: i64, w: i64, h: i64, color: Rgb<u8>) {
    let (iw, ih) = (i64::from(img.width()), i64::from(img.height()));
    let (x0, y0) = (x.clamp(0, iw), y.clamp(0, ih));
    let (x1, y1) = (
        x.saturating_add(w).clamp(0, iw),
        y.saturating_add(h).clamp(0, ih),
    );
    if x0 >= x1 || y0 >= y1 {
        return;
    }
    let stride = iw as usize * 3;
    let buf: &mut [u8] = img.as_mut();
    for row in y0..y1 {
        let start = row as usize * stride + x0 as usize * 3;
        let end = row as usize * stride + x1 as usize * 3;
        fill_pixels(&mut buf[start..end], color);
    }
}

/// Fills a run of RGB pixels with one colour by doubling copies (cheap even unoptimised).
pub fn fill_pixels(run: &mut [u8], color: Rgb<u8>) {
    if run.len() < 3 {
        return;
    }
    run[..3].copy_from_slice(&color.0);
    let mut filled = 3;
    while filled < run.len() {
        let n = filled.min(run.len() - filled);
        run.copy_within(0..n, filled);
        filled += n;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(cn: CnType, seed: i64) -> RenderSpec {
        RenderSpec {
            width: 320,
            height: 240,
            cn_type: cn,
            seed,
            prompt: "a knight in shining armour riding through the forest at dawn".into(),
            format: ImageFormat::Png,
            quality: 90,
        }
    }

    #[test]
    fn types_and_seeds_give_different_pictures() {
        let pics: Vec<RgbImage> = CnType::ALL.iter().map(|&c| draw(&spec(c, 1))).collect();
        for i in 0..pics.len() {
            for j in i + 1..pics.len() {
                assert_ne!(
                    pics[i],
                    pics[j],
                    "{:?} vs {:?}",
                    CnType::ALL[i],
                    CnType::ALL[j]
                );
            }
        }
        assert_ne!(draw(&spec(CnType::Depth, 1)), draw(&spec(CnType::Depth, 2)));
        assert_eq!(draw(&spec(CnType::Tile, 9)), draw(&spec(CnType::Tile, 9)));
    }

    #[test]
    fn every_format_decodes_at_the_requested_size() {
        for fmt in ImageFormat::ALL {
            let s = RenderSpec {
                format: *fmt,
                width: 97,
                height: 64,
                ..spec(CnType::Canny, 5)
            };
            let bytes = render(&s).unwrap();
            assert_eq!(ImageFormat::sniff(&bytes), Some(*fmt));
            let img = image::load_from_memory(&bytes).unwrap();
            assert_eq!((img.width(), img.height()), (97, 64));
        }
    }

    #[test]
    fn rectangles_are_clipped_to_the_image() {
        let mut img = RgbImage::new(10, 10);
        fill_rect(&mut img, -5, -1, i64::MAX, 3, Rgb([4, 4, 4]));
        assert_eq!(img.get_pixel(9, 0).0, [4, 4, 4]);
        assert_eq!(img.get_pixel(0, 3).0, [0, 0, 0]);
        fill_rect(&mut img, i64::MIN, i64::MIN, 5, 5, Rgb([9, 9, 9]));
        fill_rect(&mut img, 20, 20, 5, 5, Rgb([9, 9, 9]));
        assert!(img.pixels().all(|p| p.0 != [9, 9, 9]));
    }

    #[test]
    fn prompt_is_cut_at_a_word() {
        assert_eq!(first_words("a knight in armour", 11), "a knight...");
        assert_eq!(first_words("a  knight\tin", 40), "a knight in");
        assert_eq!(first_words("short", 40), "short");
        assert_eq!(first_words("supercalifragilistic", 8), "super...");
        assert_eq!(first_words("", 8), "");
    }

    #[test]
    fn demo_input_is_a_portrait_png() {
        let bytes = demo_input_png();
        assert_eq!(ImageFormat::sniff(&bytes), Some(ImageFormat::Png));
        let img = image::load_from_memory(&bytes).unwrap();
        assert_eq!((img.width(), img.height()), (768, 1024));
    }
}

#[cfg(test)]
mod timing {
    use super::*;

    #[test]
    #[ignore = "prints timings and writes sim-*.png into the temp dir for a look"]
    fn timings() {
        for (w, h, f) in [
            (1024, 1024, ImageFormat::Jpeg),
            (1024, 1024, ImageFormat::Png),
            (1024, 1024, ImageFormat::Webp),
            (4096, 4096, ImageFormat::Jpeg),
        ] {
            for cn in CnType::ALL {
                let s = RenderSpec {
                    width: w,
                    height: h,
                    cn_type: *cn,
                    seed: 652889,
                    prompt: "a knight in shining armour riding through the forest at dawn".into(),
                    format: f,
                    quality: 95,
                };
                let t = std::time::Instant::now();
                let img = draw(&s);
                let d = t.elapsed();
                let bytes = encode(&img, f, 95).unwrap();
                println!(
                    "{w}x{h} {f} {cn}: draw {d:?} total {:?} {} KB",
                    t.elapsed(),
                    bytes.len() / 1024
                );
                if w == 1024 && f == ImageFormat::Png {
                    std::fs::write(std::env::temp_dir().join(format!("sim-{cn}.png")), &bytes)
                        .unwrap();
                }
            }
        }
        std::fs::write(std::env::temp_dir().join("sim-demo.png"), demo_input_png()).unwrap();
    }
}
