//! Flux ControlNet Studio: the engine behind the `fluxcn` desktop app and CLI.
//!
//! Data flows one way: UI → command channel → [`jobs`] → [`api`] → event channel → UI and
//! [`gallery`]. The [`sim`] module is a loopback stand-in for the service, used by the tests, the
//! benchmarks and the demo mode.

pub mod api;
pub mod cli;
pub mod gallery;
pub mod jobs;
pub mod keystore;
pub mod sim;
pub mod types;
#[cfg(feature = "app")]
pub mod ui;
