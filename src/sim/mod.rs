//! The loopback stand-in for the Segmind Flux ControlNet API, used by every test, the benchmarks
//! and the app's demo mode. It enforces the contract of `shared/CONTRACT.md` (auth, content type,
//! every field's type, range and enum, the balance), answers v1 with real images that show their
//! control type, seed and prompt, runs v2 jobs through `QUEUED → PROCESSING → COMPLETED`, and
//! injects faults deterministically (scripted, or random from a seed).
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use fluxcn::sim::{self, Fault, SimConfig};
//! let server = sim::start(SimConfig::default()).await?;
//! server.push_faults([Fault::Status429]);
//! let base = server.base_url(); // "http://127.0.0.1:PORT/v1"
//! # Ok(()) }
//! ```

mod account;
mod answers;
mod faults;
mod handlers;
mod render;
mod server;
mod state;
mod validate;

use std::time::Duration;

pub use account::Envelope;
pub use faults::{Fault, FaultPlan, FaultSpec, FaultSpecError};
pub use handlers::MAX_BODY;
pub use render::{RenderSpec, demo_input_png, render};
pub use server::{SimServer, serve, start_on};
pub use state::{Received, SimStats};
pub use validate::{GenRequest, InputImage, parse_request};

/// How the stand-in behaves. `Debug` shows how many keys are accepted, never the keys.
#[derive(Clone)]
pub struct SimConfig {
    /// Time one generation takes (v1 blocks this long; a v2 job goes QUEUED → PROCESSING →
    /// COMPLETED over it, QUEUED for the first 20 %).
    pub delay: Duration,
    /// Random faults by probability, drawn from `seed`.
    pub faults: FaultSpec,
    /// Seeds the fault draws, the random seeds answered for `seed: -1`, and request ids.
    pub seed: u64,
    /// `None`: any non-empty `x-api-key` is accepted; `Some`: only these.
    pub accepted_keys: Option<Vec<String>>,
    /// Starting balance; each billed generation deducts `cost_per_image` × `samples`.
    pub credits: f64,
    /// What one image costs (default 0.048).
    pub cost_per_image: f64,
    /// After this long, `/v2/requests/{id}*` answer `404 Request {id} not found` (default 1 h).
    pub v2_expiry: Duration,
    /// The extra delay of the `slow` fault (to push a request past a client timeout).
    pub slow_extra: Duration,
    /// Send `Retry-After: 1` on a 429 (else `x-rate-limit-reset-at-utc`, a second ahead).
    pub retry_after_on_429: bool,
    /// How a request-history page wraps its rows.
    pub history_envelope: Envelope,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            delay: Duration::from_millis(1000),
            faults: FaultSpec::default(),
            seed: 0,
            accepted_keys: None,
            credits: 100.0,
            cost_per_image: crate::api::DEFAULT_COST_PER_IMAGE,
            v2_expiry: Duration::from_secs(3600),
            slow_extra: Duration::from_secs(30),
            retry_after_on_429: true,
            history_envelope: Envelope::Data,
        }
    }
}

impl std::fmt::Debug for SimConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let keys = match &self.accepted_keys {
            None => "any non-empty key".to_owned(),
            Some(k) => format!("{} key(s), redacted", k.len()),
        };
        f.debug_struct("SimConfig")
            .field("delay", &self.delay)
            .field("faults", &self.faults.to_string())
            .field("seed", &self.seed)
            .field("accepted_keys", &keys)
            .field("credits", &self.credits)
            .field("cost_per_image", &self.cost_per_image)
            .field("v2_expiry", &self.v2_expiry)
            .field("slow_extra", &self.slow_extra)
            .field("retry_after_on_429", &self.retry_after_on_429)
            .field("history_envelope", &self.history_envelope)
            .finish()
    }
}

/// Starts the stand-in on `127.0.0.1` on a free port. Must be called inside a tokio runtime.
pub async fn start(cfg: SimConfig) -> std::io::Result<SimServer> {
    start_on(cfg, 0).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_accepted_keys() {
        let cfg = SimConfig {
            accepted_keys: Some(vec!["SG_5ecret5ecret5ec".into()]),
            ..Default::default()
        };
        let text = format!("{cfg:?}");
        assert!(!text.contains("5ecret"), "{text}");
        assert!(text.contains("1 key(s), redacted"), "{text}");
    }
}
