//! Images as bytes and pixels, below every layer that reads or draws them: what the bytes are
//! ([`sniff`]: the format from the first bytes, never a name, and the container facts decoders do
//! not report), a preview decoded for the screen ([`preview`]), and text drawn into an image
//! ([`text`], egui's bundled font through `ab_glyph`: the labels of an exported grid and of the
//! stand-in's pictures). The input checks (`api/input`), the runtime's previews, the gallery's
//! exports and the stand-in all use these, so each exists once.

pub mod preview;
pub mod sniff;
pub mod text;

pub use preview::{PREVIEW_SIDE, decode_preview};
