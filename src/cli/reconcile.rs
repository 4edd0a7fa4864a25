//! `fluxcn reconcile [--days N] [--import]`: the ledger set beside Segmind's request history for
//! this model (see `jobs/reconcile.rs`): estimates replaced by what the account charged, charges
//! the ledger did not know listed with their cost and recorded, and with `--import` their images
//! brought into the gallery with their settings.

use tokio_util::sync::CancellationToken;

use super::args::Cli;
use super::commands::CliError;
use super::engine::{client_template, data_dir, open_ledger, resolve_key, runtime};
use crate::api::Client;
use crate::jobs::reconcile::reconcile;

pub(super) fn run(cli: &Cli, days: u32, import: bool) -> Result<(), CliError> {
    let key = resolve_key()?;
    let client = Client::new(client_template(cli), key)?;
    let data = data_dir()?;
    let ledger = open_ledger(&data)?;
    let store = crate::gallery::Store::open(data.join("gallery"))?;
    let before = ledger
        .spent_today()
        .map_err(|e| CliError::Other(e.to_string()))?;
    let r = runtime()?
        .block_on(reconcile(
            &client,
            &ledger,
            &store,
            days,
            import,
            &CancellationToken::new(),
        ))
        .map_err(|e| CliError::Other(e.to_string()))?;
    let after = ledger
        .spent_today()
        .map_err(|e| CliError::Other(e.to_string()))?;
    print!("{}", r.report());
    println!("today: ${before:.2} before, ${after:.2} now");
    Ok(())
}
