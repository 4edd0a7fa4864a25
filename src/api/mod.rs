//! The Segmind Flux ControlNet contract: request types, validation, response decoding, the HTTP
//! client and its errors.

pub mod client;
pub mod diff;
pub mod error;
pub mod fields;
pub mod input;
pub mod key;
pub mod params;
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
