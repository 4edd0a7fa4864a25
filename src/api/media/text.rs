//! Text for exported images, drawn with egui's own bundled font (Ubuntu Light) through `ab_glyph`,
//! so an exported grid's labels read like the window's, with lower case, accents and any glyph the
//! font has (a missing glyph draws the font's "notdef" box rather than a wrong letter).

use std::sync::OnceLock;

use ab_glyph::{Font as _, FontRef, PxScale, ScaleFont as _};
use image::{Rgb, RgbImage};

/// The font, parsed once. `None` only if the bundled bytes fail to parse (then text is skipped,
/// never a panic: an export without labels beats no export).
fn font() -> Option<&'static FontRef<'static>> {
    static FONT: OnceLock<Option<FontRef<'static>>> = OnceLock::new();
    FONT.get_or_init(|| FontRef::try_from_slice(epaint_default_fonts::UBUNTU_LIGHT).ok())
        .as_ref()
}

/// The width in pixels of `text` set at `px` pixels high.
pub fn text_width(text: &str, px: f32) -> f32 {
    let Some(font) = font() else { return 0.0 };
    let f = font.as_scaled(PxScale::from(px));
    let mut w = 0.0;
    let mut prev = None;
    for c in text.chars() {
        let id = f.glyph_id(c);
        if let Some(p) = prev {
            w += f.kern(p, id);
        }
        w += f.h_advance(id);
        prev = Some(id);
    }
    w
}

/// The longest start of `text` that fits in `width` pixels at `px`, with "…" when cut.
pub fn fit(text: &str, width: f32, px: f32) -> String {
    if text_width(text, px) <= width {
        return text.to_owned();
    }
    let chars: Vec<char> = text.chars().collect();
    // Binary search on the number of characters kept.
    let (mut lo, mut hi) = (0usize, chars.len());
    while lo < hi {
        let mid = (lo + hi).div_ceil(2);
        let candidate: String = chars[..mid].iter().collect::<String>() + "…";
        if text_width(&candidate, px) <= width {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    chars[..lo].iter().collect::<String>().trim_end().to_owned() + "…"
}

/// Draws one line of `text` with its top-left corner at `x, y`, `px` pixels high, blending `color`
/// over what is there. Anything outside the image is clipped.
pub fn draw_text(img: &mut RgbImage, x: f32, y: f32, px: f32, color: Rgb<u8>, text: &str) {
    let Some(font) = font() else { return };
    let f = font.as_scaled(PxScale::from(px));
    let baseline = y + f.ascent();
    let mut caret = x;
    let mut prev = None;
    let (w, h) = (img.width() as i64, img.height() as i64);
    for c in text.chars() {
        let id = f.glyph_id(c);
        if let Some(p) = prev {
            caret += f.kern(p, id);
        }
        let glyph = id.with_scale_and_position(PxScale::from(px), ab_glyph::point(caret, baseline));
        caret += f.h_advance(id);
        prev = Some(id);
        let Some(outline) = font.outline_glyph(glyph) else {
            continue;
        };
        let bounds = outline.px_bounds();
        outline.draw(|gx, gy, coverage| {
            let px_x = bounds.min.x as i64 + i64::from(gx);
            let px_y = bounds.min.y as i64 + i64::from(gy);
            if px_x < 0 || px_y < 0 || px_x >= w || px_y >= h {
                return;
            }
            let a = coverage.clamp(0.0, 1.0);
            let p = img.get_pixel_mut(px_x as u32, px_y as u32);
            for k in 0..3 {
                let blended = f32::from(p.0[k]) * (1.0 - a) + f32::from(color.0[k]) * a;
                p.0[k] = blended.round().clamp(0.0, 255.0) as u8;
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_drawn_in_lower_case_and_clipped_at_the_edges() {
        let mut img = RgbImage::from_pixel(200, 40, Rgb([0, 0, 0]));
        draw_text(
            &mut img,
            4.0,
            4.0,
            20.0,
            Rgb([255, 255, 255]),
            "euler · seed 42",
        );
        let lit = img.pixels().filter(|p| p.0[0] > 128).count();
        assert!(lit > 100, "only {lit} pixels drawn");
        // Off the image: nothing drawn, no panic.
        let mut small = RgbImage::from_pixel(10, 10, Rgb([0, 0, 0]));
        draw_text(
            &mut small,
            -50.0,
            30.0,
            20.0,
            Rgb([255, 255, 255]),
            "hidden",
        );
        assert!(small.pixels().all(|p| p.0 == [0, 0, 0]));
    }

    #[test]
    fn fit_keeps_short_text_and_cuts_long_text_with_an_ellipsis() {
        assert_eq!(fit("depth", 200.0, 16.0), "depth");
        let long = "a knight in shining armour on a white horse at dawn, highly detailed";
        let cut = fit(long, 120.0, 16.0);
        assert!(cut.ends_with('…'), "{cut}");
        assert!(text_width(&cut, 16.0) <= 120.0);
        assert!(cut.len() < long.len());
        // Wider text is longer than narrower text (the width is measured, not guessed).
        assert!(text_width("WWWW", 16.0) > text_width("iiii", 16.0));
    }

    fn lit(img: &RgbImage) -> usize {
        img.pixels().filter(|p| p.0 != [0, 0, 0]).count()
    }

    /// (From the stand-in's former bitmap font, whose place this text took.)
    #[test]
    fn text_lights_pixels_inside_its_box_only_and_more_when_larger() {
        let mut img = RgbImage::new(200, 60);
        draw_text(&mut img, 2.0, 3.0, 20.0, Rgb([255, 255, 255]), "AB1");
        let n = lit(&img);
        assert!(n > 0);
        let right = 2.0 + text_width("AB1", 20.0) + 2.0;
        for (x, y, p) in img.enumerate_pixels() {
            if p.0 != [0, 0, 0] {
                assert!((x as f32) < right && (3..3 + 26).contains(&y), "{x},{y}");
            }
        }
        let mut big = RgbImage::new(200, 60);
        draw_text(&mut big, 2.0, 3.0, 40.0, Rgb([255, 255, 255]), "AB1");
        assert!(lit(&big) > 2 * n, "twice the size lights more");
    }

    #[test]
    fn different_letters_differ_and_a_space_draws_nothing() {
        let render = |t: &str| {
            let mut img = RgbImage::new(40, 30);
            draw_text(&mut img, 0.0, 0.0, 20.0, Rgb([200, 200, 200]), t);
            img
        };
        assert_ne!(render("A"), render("B"));
        assert_ne!(render("a"), render("A"), "lower case is its own");
        assert_eq!(lit(&render(" ")), 0);
        // A character the font lacks is drawn as the font's "notdef" box, never a panic.
        assert!(lit(&render("\u{E000}")) > 0);
    }

    #[test]
    fn clipping_and_odd_sizes_never_panic() {
        let mut img = RgbImage::new(10, 10);
        let c = Rgb([1, 2, 3]);
        draw_text(&mut img, -30.0, -5.0, 30.0, c, "HELLO");
        draw_text(&mut img, f32::MAX, f32::MAX, 1.0e6, c, "X");
        draw_text(&mut img, f32::MIN, f32::MIN, 1.0, c, "X");
        draw_text(&mut img, 0.0, 0.0, 0.0, c, "X");
        draw_text(&mut img, f32::NAN, 0.0, f32::NAN, c, "X");
        assert_eq!(text_width("", 20.0), 0.0);
    }
}
