//! What every command that generates needs: the async runtime, the data folder, the key, the
//! spend ledger, the daily budget's up-front check, and the job runtime started with them.

use std::path::PathBuf;
use std::sync::Arc;

use super::args::Cli;
use super::commands::CliError;
use crate::api::{ApiError, ApiKey, ClientConfig};
use crate::gallery::{self, Store};
use crate::jobs::budget::{self, OverBudget};
use crate::jobs::ledger::Ledger;
use crate::jobs::{self, JobId, JobsHandle, RuntimeConfig, RuntimeDeps, journal::Journal};
use crate::keystore::KeyStore;

pub(super) fn runtime() -> Result<tokio::runtime::Runtime, CliError> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("fluxcn-worker")
        .enable_all()
        .build()
        .map_err(|e| CliError::Other(format!("could not start the async runtime: {e}")))
}

/// The data folder, or a clear error when the platform has none.
pub(super) fn data_dir() -> Result<PathBuf, CliError> {
    gallery::default_data_dir().ok_or_else(|| {
        CliError::Other(
            "no data folder could be determined for this user: set FLUXCN_DATA_DIR".into(),
        )
    })
}

/// The key from `SEGMIND_API_KEY` or the keyring, or the error that says how to set one.
pub(super) fn resolve_key() -> Result<ApiKey, CliError> {
    let store = KeyStore::system();
    match store.resolve() {
        Ok(Some(k)) => {
            if let Some(w) = k.shape_warning() {
                eprintln!("warning: {w}");
            }
            Ok(k)
        }
        Ok(None) => Err(ApiError::MissingKey.into()),
        Err(e) => Err(CliError::Other(format!("no API key: {e}"))),
    }
}

pub(super) fn client_template(cli: &Cli) -> ClientConfig {
    ClientConfig {
        api_base: cli.api_base.clone(),
        history_base: cli.history_base.clone(),
        storage_base: cli.storage_base.clone(),
        max_retries: cli.retries,
        ..ClientConfig::default()
    }
}

/// The user's spend ledger (`<data>/ledger.sqlite`).
pub(super) fn open_ledger(data: &std::path::Path) -> Result<Arc<Ledger>, CliError> {
    let ledger = Ledger::open(Ledger::path_in(data)).map_err(|e| CliError::Other(e.to_string()))?;
    for note in ledger.notes() {
        eprintln!("fluxcn: {note}");
    }
    Ok(Arc::new(ledger))
}

/// Refuses, before anything is sent, work of `images` images that would take today's spend over
/// `budget` (the error names the budget, today's spend and the estimate).
pub(super) fn check_budget(budget: Option<f64>, images: usize) -> Result<(), CliError> {
    let Some(b) = budget else {
        return Ok(());
    };
    let ledger = open_ledger(&data_dir()?)?;
    let spent = ledger
        .spent_today()
        .map_err(|e| CliError::Other(e.to_string()))?;
    // What other processes (the window, another run) hold right now counts too.
    let held = ledger.held().map_err(|e| CliError::Other(e.to_string()))?;
    budget::check(
        Some(b),
        spent,
        held,
        budget::estimate(images, crate::api::DEFAULT_COST_PER_IMAGE),
    )
    .map_err(|e: OverBudget| {
        CliError::Budget(format!(
            "refused, nothing was sent: {e}; {}",
            budget::CLI_ADVICE
        ))
    })
}

/// How to start the job runtime for a command.
pub(super) struct EngineOpts {
    /// Where results go (default: the gallery in the data folder).
    pub out: Option<PathBuf>,
    pub concurrency: usize,
    /// Take over the journal's unfinished jobs (only `resume` does).
    pub resume: bool,
    pub max_input_side: u32,
    pub budget: Option<f64>,
    pub rate_per_minute: Option<f64>,
    /// Upload inputs once and send their URLs (`--upload-input`).
    pub upload_inputs: bool,
}

/// The started runtime, with what the command may need of it.
pub(super) struct Engine {
    pub handle: JobsHandle,
    /// The unfinished jobs taken over (with `resume`).
    pub pending: Vec<JobId>,
    pub store: Store,
    /// The user's spend ledger (also which processes are running, for batch claims).
    pub ledger: Arc<Ledger>,
}

/// Starts the job runtime for a CLI command.
pub(super) fn engine(
    rt: &tokio::runtime::Runtime,
    cli: &Cli,
    o: EngineOpts,
) -> Result<Engine, CliError> {
    let data = data_dir()?;
    let store = Store::open(o.out.unwrap_or_else(|| data.join("gallery")))?;
    let (journal, pending) = Journal::open(data.join(crate::jobs::places::JOURNAL_FILE))?;
    // Only `resume` picks up unfinished jobs: another command must not finish (or report) them as a
    // side effect.
    let (recovered, pending_ids) = if o.resume {
        let ids = pending.iter().map(|j| j.id).collect();
        (pending, ids)
    } else {
        (Vec::new(), Vec::new())
    };
    crate::api::client::parse_base(&cli.api_base)?;
    let key = resolve_key()?;
    // Without a ledger nothing paid would be recorded, and a budget could not be kept: an error.
    let ledger = open_ledger(&data)?;
    let deps = RuntimeDeps {
        store: store.clone(),
        keys: KeyStore::in_memory(),
        journal: Some(Arc::new(journal)),
        recovered,
        client_template: client_template(cli),
        ledger: Some(ledger.clone()),
        waiting: None,
    };
    let cfg = RuntimeConfig {
        api_base: cli.api_base.clone(),
        key: Some(key),
        concurrency: o.concurrency,
        rate_per_minute: o.rate_per_minute,
        max_input_side: o.max_input_side,
        daily_budget: o.budget,
        history_base: cli.history_base.clone(),
        storage_base: cli.storage_base.clone(),
        upload_inputs: o.upload_inputs,
    };
    Ok(Engine {
        handle: jobs::start(rt.handle(), deps, cfg, Arc::new(|| {})),
        pending: pending_ids,
        store,
        ledger,
    })
}
