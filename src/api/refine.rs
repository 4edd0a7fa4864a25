//! A refine (issue 26): a picture sent again as its own input with the `tile` control type, asking
//! for an output larger than the picture (twice its size by default), with the prompt and seed it
//! was made with. What the request then holds is decided here, for the window and the CLI alike.

use super::params::{CnType, GenParams, SIZE};

/// The scales a refine may ask for: larger than the picture, at most four times its size.
pub const SCALE_MIN: f64 = 1.0;
pub const SCALE_MAX: f64 = 4.0;
/// The scale "Refine ×2" and `--refine` use unless told.
pub const DEFAULT_SCALE: f64 = 2.0;

/// Why a scale cannot be used.
pub fn scale_problem(scale: f64) -> Option<String> {
    (!(scale.is_finite() && scale > SCALE_MIN && scale <= SCALE_MAX)).then(|| {
        format!("the scale must be more than {SCALE_MIN} and at most {SCALE_MAX}, not {scale}")
    })
}

/// The output size of a refine by `scale` of a `width`×`height` picture: both sides times
/// `scale`, then the two scaled down together when one would pass the API's largest size (4096),
/// so the picture keeps its shape; never under the smallest size (64).
pub fn refine_size(width: u32, height: u32, scale: f64) -> (u32, u32) {
    let (w, h) = (f64::from(width.max(1)), f64::from(height.max(1)));
    let scale = if scale.is_finite() && scale > 0.0 {
        scale
    } else {
        DEFAULT_SCALE
    };
    let max = f64::from(SIZE.max);
    let fit = (max / (w * scale)).min(max / (h * scale)).min(1.0);
    let side = |s: f64| ((s * scale * fit).round() as u32).clamp(SIZE.min, SIZE.max);
    (side(w), side(h))
}

/// The settings of a refine of a `width`×`height` picture made with `made_with` and seed
/// `seed_used`: the same prompt, knobs and seed, the `tile` control type, one image, the output
/// at [`refine_size`].
pub fn refine_params(
    made_with: &GenParams,
    seed_used: i64,
    width: u32,
    height: u32,
    scale: f64,
) -> GenParams {
    let (custom_width, custom_height) = refine_size(width, height, scale);
    GenParams {
        cn_type: CnType::Tile,
        seed: seed_used,
        samples: 1,
        use_input_img_dimension: false,
        custom_width,
        custom_height,
        ..made_with.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn twice_the_size_capped_at_the_api_s_largest_keeping_the_shape() {
        assert_eq!(refine_size(1024, 768, 2.0), (2048, 1536));
        assert_eq!(
            refine_size(3000, 1500, 2.0),
            (4096, 2048),
            "capped, same shape"
        );
        assert_eq!(refine_size(1500, 3000, 2.0), (2048, 4096));
        assert_eq!(refine_size(4096, 4096, 2.0), (4096, 4096));
        assert_eq!(refine_size(20, 2000, 2.0), (64, 4000), "never under 64");
        assert_eq!(refine_size(512, 512, 3.0), (1536, 1536));
    }

    #[test]
    fn a_refine_keeps_the_prompt_and_seed_and_asks_for_tile_at_its_size() {
        let made = GenParams {
            prompt: "a red fox".into(),
            cn_type: CnType::Depth,
            samples: 3,
            seed: -1,
            ..Default::default()
        };
        let p = refine_params(&made, 4242, 768, 1024, 2.0);
        assert_eq!(p.prompt, "a red fox");
        assert_eq!(p.seed, 4242, "the seed the picture was made with");
        assert_eq!(p.cn_type, CnType::Tile);
        assert_eq!(p.samples, 1);
        assert!(!p.use_input_img_dimension);
        assert_eq!((p.custom_width, p.custom_height), (1536, 2048));
        assert!(p.problems().is_empty(), "{:?}", p.problems());
    }

    #[test]
    fn scales_out_of_range_are_refused() {
        assert!(scale_problem(2.0).is_none());
        assert!(scale_problem(4.0).is_none());
        for bad in [1.0, 0.5, 4.5, f64::NAN, f64::INFINITY] {
            assert!(scale_problem(bad).is_some(), "{bad}");
        }
    }
}
