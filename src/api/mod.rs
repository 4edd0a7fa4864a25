//! The Segmind Flux ControlNet contract: request types, validation, response decoding, the HTTP
//! client and its errors.

pub mod client;
pub mod diff;
pub mod error;
pub mod fields;
pub mod framing;
pub mod input;
pub mod key;
pub mod media;
pub mod params;
pub mod refine;
pub mod response;

pub use client::{Client, ClientConfig, Credits, Progress};
pub use error::{ApiError, DecodeError, HttpClass, StatusError};
pub use key::ApiKey;
pub use params::{CnType, GenParams, ImageFormat, ParamError, Scheduler, ValidParams};
pub use response::{Accounting, Generation, ReceivedImage};

/// The production endpoint's base URL.
pub const DEFAULT_API_BASE: &str = "https://api.segmind.com/v1";
/// The model's path under the base.
pub const MODEL: &str = "flux-controlnet";
/// What one image costs, about, when the service has not told us yet (USD).
pub const DEFAULT_COST_PER_IMAGE: f64 = 0.048;
/// The most one image can plausibly cost (USD): twenty times the usual price. A reported cost above
/// it, below zero or not a number is not believed (see [`plausible_cost`]).
pub const MAX_PLAUSIBLE_COST_PER_IMAGE: f64 = 1.0;

/// The cost a server reported for `images` images, when it is believable: finite, not negative, and
/// at most [`MAX_PLAUSIBLE_COST_PER_IMAGE`] an image. `None` otherwise: the caller then records the
/// estimate, marked as one (a hostile `x-cost: -1000` must not make a paid job free).
pub fn plausible_cost(cost: f64, images: u32) -> Option<f64> {
    let most = f64::from(images.max(1)) * MAX_PLAUSIBLE_COST_PER_IMAGE;
    (cost.is_finite() && (0.0..=most).contains(&cost)).then_some(cost)
}

/// The estimate of `images` images at the usual price.
pub fn estimated_cost(images: u32) -> f64 {
    f64::from(images.max(1)) * DEFAULT_COST_PER_IMAGE
}
