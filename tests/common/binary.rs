//! Running the real `fluxcn` binary against a stand-in: the command with a key, a data folder and
//! the base URL set (and nothing from the environment that would change where it goes).
#![allow(dead_code)] // each test crate uses its own subset

use std::path::Path;
use std::time::Duration;

use assert_cmd::Command;

/// `fluxcn --api-base <base>` with `key`, its data in `data`, killed after `timeout`.
pub fn fluxcn_cmd(key: &str, base: &str, data: &Path, timeout: Duration) -> Command {
    let mut c = Command::cargo_bin("fluxcn").unwrap();
    c.env("SEGMIND_API_KEY", key)
        .env("FLUXCN_DATA_DIR", data)
        .env_remove("FLUXCN_API_BASE")
        .env_remove("FLUXCN_DAILY_BUDGET")
        .env_remove("FLUXCN_HISTORY_BASE")
        .env_remove("FLUXCN_STORAGE_BASE")
        .env_remove("RUST_BACKTRACE")
        .arg("--api-base")
        .arg(base)
        .timeout(timeout);
    c
}
