//! `fluxcn` with no subcommand: the desktop app, wired to the user's data (or, with `--demo`, to
//! an in-process stand-in and a data folder of its own).

use std::sync::Arc;
use std::time::Duration;

use super::args::Cli;
use super::commands::CliError;
use super::engine::{client_template, data_dir, runtime};
use crate::api::ApiKey;
use crate::gallery::Store;
use crate::jobs::ledger::Ledger;
use crate::jobs::{InputSource, RuntimeConfig, RuntimeDeps, journal::Journal};
use crate::keystore::KeyStore;

/// The spend ledger of `data`; one in memory (said in the log) when the file cannot be used, so
/// the window still opens.
fn app_ledger(data: &std::path::Path) -> Option<Arc<Ledger>> {
    Ledger::open(Ledger::path_in(data))
        .or_else(|e| {
            tracing::error!(error = %e, "the spend ledger could not be opened; spend is counted for this session only");
            Ledger::in_memory()
        })
        .map(Arc::new)
        .ok()
}

/// Opens the desktop app (with `--demo`, wired to an in-process stand-in).
pub(super) fn open_app(cli: &Cli) -> Result<(), CliError> {
    let rt = runtime()?;
    let data = data_dir()?;
    let autogenerate = std::env::var("FLUXCN_AUTOGENERATE").is_ok_and(|v| v == "1");
    let (data, sim, keys) = if cli.demo {
        let cfg = crate::sim::SimConfig {
            delay: Duration::from_millis(1500),
            ..Default::default()
        };
        let sim = rt
            .block_on(crate::sim::start(cfg))
            .map_err(|e| CliError::Other(format!("could not start the demo server: {e}")))?;
        (data.join("demo"), Some(sim), KeyStore::in_memory())
    } else {
        (data, None, KeyStore::system())
    };
    let store = Store::open(data.join("gallery"))?;
    let (journal, recovered) = Journal::open(data.join(crate::jobs::places::JOURNAL_FILE))?;
    let initial = RuntimeConfig {
        api_base: sim
            .as_ref()
            .map(|s| s.base_url())
            .unwrap_or_else(|| cli.api_base.clone()),
        key: if sim.is_some() {
            ApiKey::new("SG_d3m0d3m0d3m0d3m0")
        } else {
            None
        },
        ..RuntimeConfig::default()
    };
    let demo_input = sim.as_ref().map(|_| InputSource::Bytes {
        name: "demo-figure.png".into(),
        data: Arc::new(crate::sim::demo_input_png()),
    });
    let deps = RuntimeDeps {
        store,
        keys,
        journal: Some(Arc::new(journal)),
        recovered,
        client_template: client_template(cli),
        ledger: app_ledger(&data),
        waiting: open_waiting(&data),
    };
    #[cfg(feature = "app")]
    {
        let opts = crate::ui::LaunchOptions {
            demo: cli.demo,
            autogenerate,
            initial: initial.clone(),
            demo_input,
        };
        let handle = rt.handle().clone();
        let result = crate::ui::run(
            opts,
            Box::new(move |notify| crate::jobs::start(&handle, deps, initial, notify)),
        );
        // The demo server lives until the window is closed.
        let _ = &sim;
        result.map_err(|e| CliError::Other(format!("the window could not be opened: {e}")))
    }
    #[cfg(not(feature = "app"))]
    {
        let _ = (sim, demo_input, deps, autogenerate, rt, initial);
        Err(CliError::Other(
            "this fluxcn was built without the window (the `app` feature): use its commands, \
             e.g. `fluxcn generate --help`"
                .into(),
        ))
    }
}

/// The window's list of jobs not sent yet (kept across a restart). A list that cannot be opened
/// costs only that: the window runs without it, and says so in the log.
fn open_waiting(data: &std::path::Path) -> Option<Arc<crate::jobs::waiting::WaitingStore>> {
    let path = data.join(crate::jobs::waiting::WAITING_FILE);
    match crate::jobs::waiting::WaitingStore::open(&path) {
        Ok(s) => Some(Arc::new(s)),
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "the waiting list could not be opened; jobs not sent are not kept across a restart");
            None
        }
    }
}
