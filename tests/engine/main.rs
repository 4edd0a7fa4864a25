//! The engine's tests: the job runtime, crash and resume, the soak, the client's retry policy and its hardening against hostile servers and proxies, the fallback folder, the stand-in's contract (answers, faults, requests), and the key store.
//!
//! One test binary per concern (each binary links the whole crate once); a module per former
//! test file. Shared rigs live in `tests/common`.
// Test code: a failed unwrap is a failed test; a test reads top to bottom as one story.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

#[path = "../common/mod.rs"]
mod common;

mod account;
mod client_policy;
mod crash_resume;
mod field_table;
mod hardening_client;
mod hardening_client_jobs;
mod hardening_client_proxy;
mod hardening_fallback;
mod hardening_resume;
mod jobs_runtime;
mod keystore;
mod sim_contract_account;
mod sim_contract_answers;
mod sim_contract_faults;
mod sim_contract_requests;
mod soak;
