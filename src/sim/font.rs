//! A tiny built-in 5×7 bitmap font (printable ASCII; lower case is drawn as upper case) and
//! [`draw_text`], used to label the stand-in's images and, later, labelled grid exports.

use image::{Rgb, RgbImage};

/// Glyph rows, top to bottom; bit 4 is the leftmost pixel of a 5-pixel row.
type Glyph = [u8; 7];

const UNKNOWN: Glyph = [
    0b01110, 0b10001, 0b00001, 0b00010, 0b00100, 0b00000, 0b00100,
];

/// The glyph of `c` (lower case maps to upper case; anything else unknown to `?`).
// A lookup table written as a match, one arm per character: its length is the font's, not logic.
#[allow(clippy::too_many_lines)]
fn glyph(c: char) -> Glyph {
    let c = c.to_ascii_uppercase();
    match c {
        ' ' => [0; 7],
        '!' => [
            0b00100, 0b00100, 0b00100, 0b00100, 0b00100, 0b00000, 0b00100,
        ],
        '"' => [
            0b01010, 0b01010, 0b01010, 0b00000, 0b00000, 0b00000, 0b00000,
        ],
        '#' => [
            0b01010, 0b01010, 0b11111, 0b01010, 0b11111, 0b01010, 0b01010,
        ],
        '$' => [
            0b00100, 0b01111, 0b10100, 0b01110, 0b00101, 0b11110, 0b00100,
        ],
        '%' => [
            0b11000, 0b11001, 0b00010, 0b00100, 0b01000, 0b10011, 0b00011,
        ],
        '&' => [
            0b01100, 0b10010, 0b10100, 0b01000, 0b10101, 0b10010, 0b01101,
        ],
        '\'' => [
            0b00100, 0b00100, 0b01000, 0b00000, 0b00000, 0b00000, 0b00000,
        ],
        '(' => [
            0b00010, 0b00100, 0b01000, 0b01000, 0b01000, 0b00100, 0b00010,
        ],
        ')' => [
            0b01000, 0b00100, 0b00010, 0b00010, 0b00010, 0b00100, 0b01000,
        ],
        '*' => [
            0b00000, 0b00100, 0b10101, 0b01110, 0b10101, 0b00100, 0b00000,
        ],
        '+' => [
            0b00000, 0b00100, 0b00100, 0b11111, 0b00100, 0b00100, 0b00000,
        ],
        ',' => [
            0b00000, 0b00000, 0b00000, 0b00000, 0b00110, 0b00100, 0b01000,
        ],
        '-' => [
            0b00000, 0b00000, 0b00000, 0b11111, 0b00000, 0b00000, 0b00000,
        ],
        '.' => [
            0b00000, 0b00000, 0b00000, 0b00000, 0b00000, 0b01100, 0b01100,
        ],
        '/' => [
            0b00000, 0b00001, 0b00010, 0b00100, 0b01000, 0b10000, 0b00000,
        ],
        '0' => [
            0b01110, 0b10001, 0b10011, 0b10101, 0b11001, 0b10001, 0b01110,
        ],
        '1' => [
            0b00100, 0b01100, 0b00100, 0b00100, 0b00100, 0b00100, 0b01110,
        ],
        '2' => [
            0b01110, 0b10001, 0b00001, 0b00010, 0b00100, 0b01000, 0b11111,
        ],
        '3' => [
            0b11111, 0b00010, 0b00100, 0b00010, 0b00001, 0b10001, 0b01110,
        ],
        '4' => [
            0b00010, 0b00110, 0b01010, 0b10010, 0b11111, 0b00010, 0b00010,
        ],
        '5' => [
            0b11111, 0b10000, 0b11110, 0b00001, 0b00001, 0b10001, 0b01110,
        ],
        '6' => [
            0b00110, 0b01000, 0b10000, 0b11110, 0b10001, 0b10001, 0b01110,
        ],
        '7' => [
            0b11111, 0b00001, 0b00010, 0b00100, 0b01000, 0b01000, 0b01000,
        ],
        '8' => [
            0b01110, 0b10001, 0b10001, 0b01110, 0b10001, 0b10001, 0b01110,
        ],
        '9' => [
            0b01110, 0b10001, 0b10001, 0b01111, 0b00001, 0b00010, 0b01100,
        ],
        ':' => [
            0b00000, 0b01100, 0b01100, 0b00000, 0b01100, 0b01100, 0b00000,
        ],
        ';' => [
            0b00000, 0b01100, 0b01100, 0b00000, 0b01100, 0b00100, 0b01000,
        ],
        '<' => [
            0b00010, 0b00100, 0b01000, 0b10000, 0b01000, 0b00100, 0b00010,
        ],
        '=' => [
            0b00000, 0b00000, 0b11111, 0b00000, 0b11111, 0b00000, 0b00000,
        ],
        '>' => [
            0b01000, 0b00100, 0b00010, 0b00001, 0b00010, 0b00100, 0b01000,
        ],
        '?' => UNKNOWN,
        '@' => [
            0b01110, 0b10001, 0b00001, 0b01101, 0b10101, 0b10101, 0b01110,
        ],
        'A' => [
            0b01110, 0b10001, 0b10001, 0b11111, 0b10001, 0b10001, 0b10001,
        ],
        'B' => [
            0b11110, 0b10001, 0b10001, 0b11110, 0b10001, 0b10001, 0b11110,
        ],
        'C' => [
            0b01110, 0b10001, 0b10000, 0b10000, 0b10000, 0b10001, 0b01110,
        ],
        'D' => [
            0b11100, 0b10010, 0b10001, 0b10001, 0b10001, 0b10010, 0b11100,
        ],
        'E' => [
            0b11111, 0b10000, 0b10000, 0b11110, 0b10000, 0b10000, 0b11111,
        ],
        'F' => [
            0b11111, 0b10000, 0b10000, 0b11110, 0b10000, 0b10000, 0b10000,
        ],
        'G' => [
            0b01110, 0b10001, 0b10000, 0b10111, 0b10001, 0b10001, 0b01111,
        ],
        'H' => [
            0b10001, 0b10001, 0b10001, 0b11111, 0b10001, 0b10001, 0b10001,
        ],
        'I' => [
            0b01110, 0b00100, 0b00100, 0b00100, 0b00100, 0b00100, 0b01110,
        ],
        'J' => [
            0b00111, 0b00010, 0b00010, 0b00010, 0b00010, 0b10010, 0b01100,
        ],
        'K' => [
            0b10001, 0b10010, 0b10100, 0b11000, 0b10100, 0b10010, 0b10001,
        ],
        'L' => [
            0b10000, 0b10000, 0b10000, 0b10000, 0b10000, 0b10000, 0b11111,
        ],
        'M' => [
            0b10001, 0b11011, 0b10101, 0b10101, 0b10001, 0b10001, 0b10001,
        ],
        'N' => [
            0b10001, 0b10001, 0b11001, 0b10101, 0b10011, 0b10001, 0b10001,
        ],
        'O' => [
            0b01110, 0b10001, 0b10001, 0b10001, 0b10001, 0b10001, 0b01110,
        ],
        'P' => [
            0b11110, 0b10001, 0b10001, 0b11110, 0b10000, 0b10000, 0b10000,
        ],
        'Q' => [
            0b01110, 0b10001, 0b10001, 0b10001, 0b10101, 0b10010, 0b01101,
        ],
        'R' => [
            0b11110, 0b10001, 0b10001, 0b11110, 0b10100, 0b10010, 0b10001,
        ],
        'S' => [
            0b01111, 0b10000, 0b10000, 0b01110, 0b00001, 0b00001, 0b11110,
        ],
        'T' => [
            0b11111, 0b00100, 0b00100, 0b00100, 0b00100, 0b00100, 0b00100,
        ],
        'U' => [
            0b10001, 0b10001, 0b10001, 0b10001, 0b10001, 0b10001, 0b01110,
        ],
        'V' => [
            0b10001, 0b10001, 0b10001, 0b10001, 0b10001, 0b01010, 0b00100,
        ],
        'W' => [
            0b10001, 0b10001, 0b10001, 0b10101, 0b10101, 0b10101, 0b01010,
        ],
        'X' => [
            0b10001, 0b10001, 0b01010, 0b00100, 0b01010, 0b10001, 0b10001,
        ],
        'Y' => [
            0b10001, 0b10001, 0b10001, 0b01010, 0b00100, 0b00100, 0b00100,
        ],
        'Z' => [
            0b11111, 0b00001, 0b00010, 0b00100, 0b01000, 0b10000, 0b11111,
        ],
        '[' => [
            0b01110, 0b01000, 0b01000, 0b01000, 0b01000, 0b01000, 0b01110,
        ],
        '\\' => [
            0b00000, 0b10000, 0b01000, 0b00100, 0b00010, 0b00001, 0b00000,
        ],
        ']' => [
            0b01110, 0b00010, 0b00010, 0b00010, 0b00010, 0b00010, 0b01110,
        ],
        '^' => [
            0b00100, 0b01010, 0b10001, 0b00000, 0b00000, 0b00000, 0b00000,
        ],
        '_' => [
            0b00000, 0b00000, 0b00000, 0b00000, 0b00000, 0b00000, 0b11111,
        ],
        '`' => [
            0b01000, 0b00100, 0b00010, 0b00000, 0b00000, 0b00000, 0b00000,
        ],
        '{' => [
            0b00010, 0b00100, 0b00100, 0b01000, 0b00100, 0b00100, 0b00010,
        ],
        '|' => [
            0b00100, 0b00100, 0b00100, 0b00100, 0b00100, 0b00100, 0b00100,
        ],
        '}' => [
            0b01000, 0b00100, 0b00100, 0b00010, 0b00100, 0b00100, 0b01000,
        ],
        '~' => [
            0b00000, 0b00000, 0b01000, 0b10101, 0b00010, 0b00000, 0b00000,
        ],
        _ => UNKNOWN,
    }
}

/// Horizontal advance of one character at scale 1 (5 pixels and a gap).
pub const ADVANCE: u32 = 6;
/// Line height at scale 1 (7 pixels and a gap).
pub const LINE_HEIGHT: u32 = 9;

/// The width in pixels of the widest line of `text` at `scale`.
pub fn text_width(text: &str, scale: u32) -> u32 {
    let widest = text.lines().map(|l| l.chars().count()).max().unwrap_or(0);
    (widest as u32)
        .saturating_mul(ADVANCE)
        .saturating_mul(scale)
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

/// Draws `text` with the built-in 5×7 font, each font pixel a `scale`×`scale` square, the top-left
/// corner at `x, y`. `'\n'` starts a new line. Anything outside the image is clipped; a `scale`
/// of 0 draws nothing.
pub fn draw_text(img: &mut RgbImage, x: i32, y: i32, scale: u32, color: Rgb<u8>, text: &str) {
    if scale == 0 {
        return;
    }
    let s = i64::from(scale);
    let (iw, ih) = (i64::from(img.width()), i64::from(img.height()));
    for (line_no, line) in text.split('\n').enumerate() {
        let top = i64::from(y) + line_no as i64 * i64::from(LINE_HEIGHT) * s;
        if top >= ih {
            break;
        }
        if top + 7 * s <= 0 {
            continue;
        }
        for (i, c) in line.chars().enumerate() {
            let left = i64::from(x) + i as i64 * i64::from(ADVANCE) * s;
            if left >= iw {
                break;
            }
            if left + 5 * s <= 0 {
                continue;
            }
            for (r, bits) in glyph(c).iter().enumerate() {
                for col in 0..5 {
                    if bits & (0b10000 >> col) != 0 {
                        fill_rect(img, left + col * s, top + r as i64 * s, s, s, color);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lit(img: &RgbImage) -> usize {
        img.pixels().filter(|p| p.0 != [0, 0, 0]).count()
    }

    #[test]
    fn text_lights_pixels_inside_its_box_only() {
        let mut img = RgbImage::new(100, 40);
        draw_text(&mut img, 2, 3, 2, Rgb([255, 255, 255]), "AB1");
        let n = lit(&img);
        assert!(n > 0);
        for (x, y, p) in img.enumerate_pixels() {
            if p.0 != [0, 0, 0] {
                assert!((2..2 + 3 * 12).contains(&x) && (3..3 + 14).contains(&y));
            }
        }
        // Scale 2 lights four times the pixels of scale 1.
        let mut one = RgbImage::new(100, 40);
        draw_text(&mut one, 2, 3, 1, Rgb([255, 255, 255]), "AB1");
        assert_eq!(lit(&one) * 4, n);
    }

    #[test]
    fn different_letters_differ_and_lower_case_is_upper() {
        let render = |t: &str| {
            let mut img = RgbImage::new(20, 10);
            draw_text(&mut img, 0, 0, 1, Rgb([9, 9, 9]), t);
            img
        };
        assert_ne!(render("A"), render("B"));
        assert_eq!(render("a"), render("A"));
        assert_eq!(render("\u{e9}"), render("?"));
        assert_eq!(lit(&render(" ")), 0);
    }

    #[test]
    fn clipping_and_odd_positions_never_panic() {
        let mut img = RgbImage::new(10, 10);
        draw_text(&mut img, -30, -5, 3, Rgb([1, 2, 3]), "HELLO\nWORLD");
        draw_text(&mut img, i32::MAX, i32::MAX, u32::MAX, Rgb([1, 2, 3]), "X");
        draw_text(&mut img, i32::MIN, i32::MIN, 1, Rgb([1, 2, 3]), "X");
        draw_text(&mut img, 0, 0, 0, Rgb([1, 2, 3]), "X");
        fill_rect(&mut img, -5, -1, i64::MAX, 3, Rgb([4, 4, 4]));
        assert_eq!(img.get_pixel(9, 0).0, [4, 4, 4]);
        assert_eq!(text_width("AB\nC", 2), 24);
    }
}
