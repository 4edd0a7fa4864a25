//! Preparing a framed input (issue 26): the picture upright (its EXIF orientation applied), then
//! framed as the job says ([`crate::api::framing`]), then downscaled to the longest side allowed
//! and encoded as a JPEG. The framed size is checked before any pixel is made (too large, too
//! thin, too small for the service), so a framing can never allocate a huge canvas.

use base64::Engine as _;
use image::DynamicImage;

use super::{Decoded, InputError, PrepareOptions, PreparedInput, encode_within, pixels, usable};

/// Prepares the decoded picture `decoded` (from `bytes_len` bytes, named `name`) framed by
/// `opts.framing`.
pub(super) fn prepare_framed(
    name: &str,
    bytes_len: usize,
    decoded: Decoded,
    opts: &PrepareOptions,
) -> Result<PreparedInput, InputError> {
    let unusable = |detail: String| InputError::Unusable {
        name: name.to_owned(),
        detail,
    };
    let (ow, oh) = decoded.oriented_size();
    let framing = &opts.framing;
    let (fw, fh) = framing
        .framed_size(ow, oh)
        .map_err(|e| unusable(e.to_string()))?;
    if u64::from(fw) * u64::from(fh) > opts.max_pixels {
        return Err(unusable(format!(
            "framed it would be {fw}×{fh} pixels, more than the {} allowed: pad to an aspect \
             closer to the picture's own",
            opts.max_pixels
        )));
    }
    usable::check_size(name, fw, fh)?;
    let fitted = pixels::fit_within(fw, fh, opts.max_side);
    usable::check_downscaled(name, (fw, fh), fitted, opts.max_side)?;
    let mut notes = decoded.notes.clone();
    let transparent = pixels::has_transparency(&decoded.image);
    if transparent {
        notes.push("transparency flattened onto white".into());
    }
    let Decoded {
        image, orientation, ..
    } = decoded;
    let mut upright = image;
    upright.apply_orientation(orientation);
    let rgb = pixels::to_rgb_on_white(upright, transparent);
    let mut rgb = framing.apply(rgb).map_err(|e| unusable(e.to_string()))?;
    notes.push(framing.describe());
    if fitted != (fw, fh) {
        rgb =
            pixels::resize_rgb(&rgb, fitted.0, fitted.1).map_err(|detail| InputError::Encode {
                name: name.to_owned(),
                detail,
            })?;
        notes.push(format!(
            "downscaled from {fw}×{fh} to {}×{}",
            fitted.0, fitted.1
        ));
    }
    let out = DynamicImage::ImageRgb8(rgb).into_rgb8();
    let jpeg = encode_within(name, &out, opts.max_send_bytes, &mut notes)?;
    Ok(PreparedInput {
        payload: base64::engine::general_purpose::STANDARD.encode(&jpeg),
        width: out.width(),
        height: out.height(),
        original_width: ow,
        original_height: oh,
        original_bytes: bytes_len as u64,
        reencoded: true,
        notes,
    })
}
