//! Framing an input (issue 26): what the artist does to the picture before it is sent — a quarter
//! turn, a flip, a crop, padding to an aspect — in that order, in the pixels of the picture as it
//! stands upright (after its EXIF orientation). The geometry is here, with no pixels, so that the
//! window's overlay and the CLI say the same sizes the preparation makes; [`Framing::apply`] does
//! it to the pixels. A framing belongs to the job: it is sent with the job, kept in the sidecar,
//! and restored by "Use these settings".

use image::{Rgb, RgbImage};
use serde::{Deserialize, Serialize};

/// A turn clockwise, by quarters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Turn {
    #[default]
    None,
    Quarter,
    Half,
    ThreeQuarters,
}

impl Turn {
    /// The next quarter turn clockwise.
    pub fn next(self) -> Turn {
        match self {
            Turn::None => Turn::Quarter,
            Turn::Quarter => Turn::Half,
            Turn::Half => Turn::ThreeQuarters,
            Turn::ThreeQuarters => Turn::None,
        }
    }

    /// The degrees clockwise.
    pub fn degrees(self) -> u32 {
        match self {
            Turn::None => 0,
            Turn::Quarter => 90,
            Turn::Half => 180,
            Turn::ThreeQuarters => 270,
        }
    }

    /// Whether it swaps width and height.
    pub fn swaps(self) -> bool {
        matches!(self, Turn::Quarter | Turn::ThreeQuarters)
    }
}

/// A rectangle of pixels: its top-left corner and size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Crop {
    pub x: u32,
    pub y: u32,
    pub w: u32,
    pub h: u32,
}

/// An aspect ratio, width to height (`16:9`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Aspect {
    pub w: u32,
    pub h: u32,
}

/// The presets the window offers (free is no aspect).
pub const ASPECTS: [(&str, Aspect); 6] = [
    ("1:1", Aspect { w: 1, h: 1 }),
    ("3:4", Aspect { w: 3, h: 4 }),
    ("4:3", Aspect { w: 4, h: 3 }),
    ("2:3", Aspect { w: 2, h: 3 }),
    ("16:9", Aspect { w: 16, h: 9 }),
    ("9:16", Aspect { w: 9, h: 16 }),
];

/// What padding fills the new room with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Fill {
    /// One colour (RGB).
    Colour([u8; 3]),
    /// The picture's edge pixels, stretched outwards.
    Edge,
}

/// How a picture is brought to an aspect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Fit {
    /// The largest centred rectangle of the aspect is kept.
    Crop,
    /// The picture is centred on a canvas of the aspect, the room around it filled.
    Pad(Fill),
}

/// An aspect and how the picture is brought to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AspectFit {
    pub aspect: Aspect,
    pub fit: Fit,
}

/// The framing of an input: turn, flips, crop, pad, done in that order. The default does nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Framing {
    pub turn: Turn,
    /// Mirrored left to right (after the turn).
    pub flip_h: bool,
    /// Mirrored top to bottom (after the turn).
    pub flip_v: bool,
    /// Cut to this rectangle of the turned picture.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub crop: Option<Crop>,
    /// Then brought to this aspect (cropped or padded).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aspect: Option<AspectFit>,
}

/// Why a framing cannot be done to a picture, or a framing's text cannot be read.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FramingError {
    #[error(
        "the crop {}×{} at {},{} does not fit in the picture ({w}×{h} as it stands after turning): \
         choose a rectangle inside it",
        crop.w, crop.h, crop.x, crop.y
    )]
    CropOutside { crop: Crop, w: u32, h: u32 },
    #[error("the crop is empty ({w}×{h}): give it a width and a height")]
    EmptyCrop { w: u32, h: u32 },
    #[error("{0}")]
    Parse(String),
}

impl Framing {
    /// Whether it leaves the picture as it is.
    pub fn is_identity(&self) -> bool {
        *self == Framing::default()
    }

    /// The size a `w`×`h` picture (upright) has once framed.
    pub fn framed_size(&self, w: u32, h: u32) -> Result<(u32, u32), FramingError> {
        let (mut w, mut h) = if self.turn.swaps() { (h, w) } else { (w, h) };
        if let Some(c) = self.crop {
            check_crop(c, w, h)?;
            (w, h) = (c.w, c.h);
        }
        match self.aspect {
            Some(AspectFit {
                aspect,
                fit: Fit::Crop,
            }) => {
                let c = centred_crop(w, h, aspect);
                (w, h) = (c.w, c.h);
            }
            Some(AspectFit {
                aspect,
                fit: Fit::Pad(_),
            }) => (w, h) = pad_size(w, h, aspect),
            None => {}
        }
        Ok((w, h))
    }

    /// The framed picture.
    pub fn apply(&self, img: RgbImage) -> Result<RgbImage, FramingError> {
        let mut img = match self.turn {
            Turn::None => img,
            Turn::Quarter => image::imageops::rotate90(&img),
            Turn::Half => image::imageops::rotate180(&img),
            Turn::ThreeQuarters => image::imageops::rotate270(&img),
        };
        if self.flip_h {
            image::imageops::flip_horizontal_in_place(&mut img);
        }
        if self.flip_v {
            image::imageops::flip_vertical_in_place(&mut img);
        }
        if let Some(c) = self.crop {
            check_crop(c, img.width(), img.height())?;
            img = image::imageops::crop_imm(&img, c.x, c.y, c.w, c.h).to_image();
        }
        match self.aspect {
            Some(AspectFit {
                aspect,
                fit: Fit::Crop,
            }) => {
                let c = centred_crop(img.width(), img.height(), aspect);
                img = image::imageops::crop_imm(&img, c.x, c.y, c.w, c.h).to_image();
            }
            Some(AspectFit {
                aspect,
                fit: Fit::Pad(fill),
            }) => img = pad(&img, aspect, fill),
            None => {}
        }
        Ok(img)
    }

    /// What it does, in plain words (for the job's notes and the overlay); empty when nothing.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if self.turn != Turn::None {
            parts.push(format!("turned {}°", self.turn.degrees()));
        }
        if self.flip_h {
            parts.push("flipped left to right".to_owned());
        }
        if self.flip_v {
            parts.push("flipped top to bottom".to_owned());
        }
        if let Some(c) = self.crop {
            parts.push(format!("cropped to {}×{} at {},{}", c.w, c.h, c.x, c.y));
        }
        match self.aspect {
            Some(AspectFit {
                aspect: a,
                fit: Fit::Crop,
            }) => parts.push(format!("cropped to {}:{}", a.w, a.h)),
            Some(AspectFit {
                aspect: a,
                fit: Fit::Pad(fill),
            }) => {
                let fill = match fill {
                    Fill::Edge => "its edges".to_owned(),
                    Fill::Colour([r, g, b]) => format!("#{r:02x}{g:02x}{b:02x}"),
                };
                parts.push(format!("padded to {}:{} with {fill}", a.w, a.h));
            }
            None => {}
        }
        parts.join(", ")
    }
}

fn check_crop(c: Crop, w: u32, h: u32) -> Result<(), FramingError> {
    if c.w == 0 || c.h == 0 {
        return Err(FramingError::EmptyCrop { w: c.w, h: c.h });
    }
    let fits = c.x.checked_add(c.w).is_some_and(|r| r <= w)
        && c.y.checked_add(c.h).is_some_and(|b| b <= h);
    if fits {
        Ok(())
    } else {
        Err(FramingError::CropOutside { crop: c, w, h })
    }
}

/// The largest rectangle of aspect `a` in a `w`×`h` picture, centred: what "crop to 16:9" cuts.
pub fn centred_crop(w: u32, h: u32, a: Aspect) -> Crop {
    let (aw, ah) = (u64::from(a.w.max(1)), u64::from(a.h.max(1)));
    let (w64, h64) = (u64::from(w), u64::from(h));
    // Too wide for the aspect: full height, narrower; else full width, shorter.
    let (cw, ch) = if w64 * ah > h64 * aw {
        ((h64 * aw / ah).max(1), h64)
    } else {
        (w64, (w64 * ah / aw).max(1))
    };
    let (cw, ch) = (cw.min(w64) as u32, ch.min(h64) as u32);
    Crop {
        x: (w - cw) / 2,
        y: (h - ch) / 2,
        w: cw,
        h: ch,
    }
}

/// The size of a `w`×`h` picture padded to aspect `a` (it grows on one axis only).
pub fn pad_size(w: u32, h: u32, a: Aspect) -> (u32, u32) {
    let (aw, ah) = (u64::from(a.w.max(1)), u64::from(a.h.max(1)));
    let (w64, h64) = (u64::from(w), u64::from(h));
    let side = |v: u64| u32::try_from(v).unwrap_or(u32::MAX);
    if w64 * ah > h64 * aw {
        // Wider than the aspect: taller.
        (w, side((w64 * ah).div_ceil(aw)))
    } else {
        (side((h64 * aw).div_ceil(ah)), h)
    }
}

/// `img` centred on a canvas of aspect `aspect`, the room filled as `fill` says.
fn pad(img: &RgbImage, aspect: Aspect, fill: Fill) -> RgbImage {
    let (w, h) = (img.width(), img.height());
    let (pw, ph) = pad_size(w, h, aspect);
    let (ox, oy) = ((pw - w) / 2, (ph - h) / 2);
    RgbImage::from_fn(pw, ph, |x, y| {
        let inside = x >= ox && x < ox + w && y >= oy && y < oy + h;
        if inside {
            return *img.get_pixel(x - ox, y - oy);
        }
        match fill {
            Fill::Colour(c) => Rgb(c),
            Fill::Edge => {
                let sx = x.saturating_sub(ox).min(w - 1);
                let sy = y.saturating_sub(oy).min(h - 1);
                *img.get_pixel(sx, sy)
            }
        }
    })
}

/// `X,Y,W,H` (pixels).
pub fn parse_crop(s: &str) -> Result<Crop, FramingError> {
    let bad = || {
        FramingError::Parse(format!(
            "the crop {s:?} is not X,Y,W,H in pixels (for example 0,0,1024,768)"
        ))
    };
    let n: Vec<u32> = s
        .split(',')
        .map(|p| p.trim().parse::<u32>())
        .collect::<Result<_, _>>()
        .map_err(|_| bad())?;
    let [x, y, w, h] = n[..] else {
        return Err(bad());
    };
    if w == 0 || h == 0 {
        return Err(FramingError::EmptyCrop { w, h });
    }
    Ok(Crop { x, y, w, h })
}

/// `W:H` (`16:9`), each side 1 to 100.
pub fn parse_aspect(s: &str) -> Result<Aspect, FramingError> {
    let bad = || {
        FramingError::Parse(format!(
            "the aspect {s:?} is not W:H with whole numbers from 1 to 100 (for example 16:9)"
        ))
    };
    let (w, h) = s.split_once(':').ok_or_else(bad)?;
    let (w, h) = (
        w.trim().parse::<u32>().map_err(|_| bad())?,
        h.trim().parse::<u32>().map_err(|_| bad())?,
    );
    if !(1..=100).contains(&w) || !(1..=100).contains(&h) {
        return Err(bad());
    }
    Ok(Aspect { w, h })
}

/// `edge`, or a colour `#rrggbb` (also `black`, `white`, `grey`).
pub fn parse_fill(s: &str) -> Result<Fill, FramingError> {
    let t = s.trim().to_ascii_lowercase();
    match t.as_str() {
        "edge" => return Ok(Fill::Edge),
        "black" => return Ok(Fill::Colour([0, 0, 0])),
        "white" => return Ok(Fill::Colour([255, 255, 255])),
        "grey" | "gray" => return Ok(Fill::Colour([128, 128, 128])),
        _ => {}
    }
    let hex = t.strip_prefix('#').unwrap_or(&t);
    let byte = |i: usize| {
        hex.get(i..i + 2)
            .and_then(|b| u8::from_str_radix(b, 16).ok())
    };
    match (hex.len(), byte(0), byte(2), byte(4)) {
        (6, Some(r), Some(g), Some(b)) => Ok(Fill::Colour([r, g, b])),
        _ => Err(FramingError::Parse(format!(
            "the fill {s:?} is neither `edge` nor a colour like #202020, black or white"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn numbered(w: u32, h: u32) -> RgbImage {
        RgbImage::from_fn(w, h, |x, y| Rgb([x as u8, y as u8, 7]))
    }

    #[test]
    fn turn_flip_crop_and_pad_happen_in_that_order_with_the_sizes_said() {
        let f = Framing {
            turn: Turn::Quarter,
            flip_h: true,
            crop: Some(Crop {
                x: 1,
                y: 2,
                w: 3,
                h: 4,
            }),
            aspect: Some(AspectFit {
                aspect: Aspect { w: 1, h: 1 },
                fit: Fit::Pad(Fill::Colour([9, 9, 9])),
            }),
            ..Default::default()
        };
        let out = f.apply(numbered(10, 6)).unwrap();
        assert_eq!(f.framed_size(10, 6).unwrap(), (4, 4));
        assert_eq!(out.dimensions(), (4, 4));
        // Turned 90° clockwise, a 10×6 becomes 6×10: pixel (x, y) comes from (y, 5 - x). Then
        // flipped: (x, y) comes from the turned (5 - x, y), i.e. the original (y, x).
        // The crop's (0, 0) is the flipped (1, 2): the original (2, 1). Padded 3×4 to 4×4: one
        // column of fill, on the right (the odd pixel goes there).
        assert_eq!(*out.get_pixel(0, 0), Rgb([2, 1, 7]));
        assert_eq!(*out.get_pixel(3, 0), Rgb([9, 9, 9]));
        assert_eq!(*out.get_pixel(2, 3), Rgb([5, 3, 7]));
    }

    #[test]
    fn an_edge_pad_repeats_the_border() {
        let f = Framing {
            aspect: Some(AspectFit {
                aspect: Aspect { w: 2, h: 1 },
                fit: Fit::Pad(Fill::Edge),
            }),
            ..Default::default()
        };
        let out = f.apply(numbered(4, 4)).unwrap();
        assert_eq!(out.dimensions(), (8, 4));
        assert_eq!(*out.get_pixel(0, 1), Rgb([0, 1, 7]), "the left edge");
        assert_eq!(*out.get_pixel(7, 2), Rgb([3, 2, 7]), "the right edge");
        assert_eq!(*out.get_pixel(3, 3), Rgb([1, 3, 7]));
    }

    #[test]
    fn centred_crops_and_pads_keep_the_aspect() {
        let a169 = Aspect { w: 16, h: 9 };
        assert_eq!(
            centred_crop(4000, 3000, a169),
            Crop {
                x: 0,
                y: 375,
                w: 4000,
                h: 2250
            }
        );
        assert_eq!(
            centred_crop(1000, 4000, Aspect { w: 1, h: 1 }),
            Crop {
                x: 0,
                y: 1500,
                w: 1000,
                h: 1000
            }
        );
        assert_eq!(pad_size(1000, 1000, a169), (1778, 1000));
        assert_eq!(pad_size(1600, 400, a169), (1600, 900));
        let f = Framing {
            aspect: Some(AspectFit {
                aspect: a169,
                fit: Fit::Crop,
            }),
            ..Default::default()
        };
        assert_eq!(f.framed_size(4000, 3000).unwrap(), (4000, 2250));
        let out = f.apply(numbered(32, 32)).unwrap();
        assert_eq!(out.dimensions(), (32, 18));
        assert_eq!(
            *out.get_pixel(0, 0),
            Rgb([0, 7, 7]),
            "centred: 7 rows cut above"
        );
    }

    #[test]
    fn a_crop_outside_the_picture_and_bad_texts_say_what_to_give() {
        let f = Framing {
            crop: Some(Crop {
                x: 5,
                y: 0,
                w: 10,
                h: 2,
            }),
            ..Default::default()
        };
        let e = f.framed_size(12, 4).unwrap_err().to_string();
        assert!(e.contains("does not fit"), "{e}");
        assert!(f.apply(numbered(12, 4)).is_err());
        assert_eq!(
            parse_crop("10, 20,300,400").unwrap(),
            Crop {
                x: 10,
                y: 20,
                w: 300,
                h: 400
            }
        );
        for bad in ["1,2,3", "a,b,c,d", "0,0,0,5", "-1,0,5,5"] {
            assert!(parse_crop(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_aspect("16:9").unwrap(), Aspect { w: 16, h: 9 });
        for bad in ["16x9", "0:1", "1:", "101:1"] {
            assert!(parse_aspect(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_fill("#FF8000").unwrap(), Fill::Colour([255, 128, 0]));
        assert_eq!(parse_fill("edge").unwrap(), Fill::Edge);
        assert!(parse_fill("#12345").is_err());
        assert!(Framing::default().is_identity());
        assert_eq!(f.describe(), "cropped to 10×2 at 5,0");
    }
}
