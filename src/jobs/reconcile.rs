//! `fluxcn reconcile` and the Spend window's "Reconcile with Segmind" (issue 25): the ledger set
//! beside the account's own request history for this model. Estimates (and figures an answer got
//! wrong) are replaced by the account's `credits_deduction`; charges the ledger does not know (made
//! in the playground, on another machine, or lost) are listed with their cost and recorded, so that
//! today's figure and the daily budget are the account's; with `import`, their images come into the
//! gallery with the settings of their `request_body`. A charge that could be one of our own jobs
//! still "maybe billed" is listed beside it and left to the user, never guessed; one younger than a
//! few minutes may still be recorded by the process that sent it, and is left for the next run.

use std::path::PathBuf;

use tokio_util::sync::CancellationToken;

use super::journal::now_ms;
use super::ledger::{Charge, Ledger, foreign_job_id};
use crate::api::client::history::{
    HistoryQuery, HistoryRow, RowStatus, WINDOW_DAYS_MAX, dedupe, outputs_of, params_of, utc_day,
};
use crate::api::{Accounting, ApiError, Client};
use crate::gallery::{NewResult, Store};
use crate::types::ApiVersion;

/// The most days one reconcile reads.
pub const MAX_DAYS: u32 = 366;
/// A charge younger than this may still be recorded by the process that sent it.
const SETTLING_MS: u64 = 5 * 60 * 1000;
/// How close (before and after) a maybe-billed row of ours must be to a foreign charge to be
/// possibly the same request.
const NEAR_MS: u64 = 20 * 60 * 1000;
/// The most history pages read per 31-day window.
const MAX_PAGES: u32 = 200;

/// A failure of a reconcile.
#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    #[error("Segmind's request history could not be read: {0}")]
    History(#[from] ApiError),
    #[error("the spend ledger: {0}")]
    Ledger(#[from] super::ledger::LedgerError),
    #[error("--days must be from 1 to {MAX_DAYS}, got {0}")]
    Days(u32),
}

/// A charge in the account's history that the ledger did not know.
#[derive(Debug, Clone, PartialEq)]
pub struct Foreign {
    pub request_id: String,
    pub cost: f64,
    pub created_ms: Option<u64>,
    pub cn_type: Option<String>,
    pub prompt: Option<String>,
    /// Recorded in the ledger now (else: `maybe_ours` names why not).
    pub recorded: bool,
    /// Recorded by an earlier reconcile (listed again to import its images).
    pub recorded_before: bool,
    /// A job of ours still "maybe billed" near its time: it may be that job (left to the user).
    pub maybe_ours: Option<u64>,
    /// The images imported into the gallery (with `import`).
    pub imported: Vec<PathBuf>,
    /// Why its images were not imported, when asked to.
    pub not_imported: Option<String>,
}

/// What a reconcile found and did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Reconciled {
    pub days: u32,
    /// Requests in the account's history for the model (one per request), completed and billed.
    pub billed_requests: usize,
    /// What the account charged for them (USD).
    pub account_total: f64,
    /// Failed requests (not billed).
    pub failed: usize,
    /// Rows the history answered that could not be read.
    pub unreadable: usize,
    /// Ledger rows whose cost was replaced: request id, old and new figure.
    pub corrected: Vec<(String, f64, f64)>,
    /// Charges the ledger did not know.
    pub foreign: Vec<Foreign>,
    /// Charges too recent to tell (left for the next run).
    pub too_recent: usize,
}

impl Reconciled {
    /// The report: what the account shows, what was corrected, each charge made elsewhere.
    pub fn report(&self) -> String {
        let r = self;
        let mut t = String::new();
        let s = |n: usize| if n == 1 { "" } else { "s" };
        t.push_str(&format!(
            "Segmind's history, last {} day{}: {} billed request{} for ${:.3}",
            r.days,
            s(r.days as usize),
            r.billed_requests,
            s(r.billed_requests),
            r.account_total
        ));
        if r.failed > 0 {
            t.push_str(&format!(" ({} failed, not billed)", r.failed));
        }
        t.push('\n');
        if r.unreadable > 0 {
            t.push_str(&format!(
                "{} row{} of the history could not be read (no request id): not counted\n",
                r.unreadable,
                s(r.unreadable)
            ));
        }
        if r.corrected.is_empty() {
            t.push_str("the ledger's figures for its own jobs match the account's\n");
        } else {
            t.push_str(&format!(
                "{} ledger figure{} replaced by the account's:\n",
                r.corrected.len(),
                s(r.corrected.len())
            ));
            for (id, old, new) in &r.corrected {
                t.push_str(&format!("  {id}  ${old:.3} became ${new:.3}\n"));
            }
        }
        if r.foreign.is_empty() {
            t.push_str("no charge made elsewhere: the ledger knows every one\n");
        } else {
            let total: f64 = r.foreign.iter().map(|f| f.cost).sum();
            t.push_str(&format!(
            "{} charge{} made elsewhere (${total:.3}; in the playground, on another machine, or lost):\n",
            r.foreign.len(),
            s(r.foreign.len())
        ));
            for f in &r.foreign {
                let when = f
                    .created_ms
                    .and_then(|ms| chrono::DateTime::from_timestamp_millis(ms as i64))
                    .map(|t| {
                        t.with_timezone(&chrono::Local)
                            .format("%Y-%m-%d %H:%M")
                            .to_string()
                    })
                    .unwrap_or_else(|| "(no time)".into());
                let prompt: String = f.prompt.as_deref().unwrap_or("").chars().take(40).collect();
                t.push_str(&format!(
                    "  {when}  {}  ${:.3}  {}  {prompt:?}",
                    f.request_id,
                    f.cost,
                    f.cn_type.as_deref().unwrap_or("?")
                ));
                if f.recorded {
                    t.push_str("  recorded");
                } else if f.recorded_before {
                    t.push_str("  recorded before");
                }
                if let Some(job) = f.maybe_ours {
                    t.push_str(&format!(
                    "  not recorded: it may be job {job}, still maybe billed (`fluxcn resume` or the queue card's \"Check\" settles it)"
                ));
                }
                for p in &f.imported {
                    t.push_str(&format!("\n    imported: {}", p.display()));
                }
                if let Some(why) = &f.not_imported {
                    t.push_str(&format!("\n    not imported: {why}"));
                }
                t.push('\n');
            }
            if !r.foreign.iter().any(|f| !f.imported.is_empty()) && !r.foreign.is_empty() {
                t.push_str("(--import brings their images into the gallery with their settings)\n");
            }
        }
        if r.too_recent > 0 {
            t.push_str(&format!(
            "{} charge{} from the last minutes left for the next run (the process that sent {} may still record {})\n",
            r.too_recent,
            s(r.too_recent),
            if r.too_recent == 1 { "it" } else { "them" },
            if r.too_recent == 1 { "it" } else { "them" }
        ));
        }
        t
    }
}

/// Sets the ledger beside the account's history of the last `days` days.
pub async fn reconcile(
    client: &Client,
    ledger: &Ledger,
    store: &Store,
    days: u32,
    import: bool,
    cancel: &CancellationToken,
) -> Result<Reconciled, ReconcileError> {
    if !(1..=MAX_DAYS).contains(&days) {
        return Err(ReconcileError::Days(days));
    }
    let now = now_ms();
    let since = now.saturating_sub(u64::from(days) * 86_400_000);
    let mut out = Reconciled {
        days,
        ..Default::default()
    };
    let rows = read_history(client, since, now, &mut out, cancel).await?;
    let known = ledger.known_requests(since.saturating_sub(86_400_000))?;
    let maybes = ledger.maybe_rows(since.saturating_sub(86_400_000))?;
    // A job in flight in any process sharing the ledger may still record a charge just made.
    let in_flight = ledger.live_sends()? > 0;
    for row in dedupe(rows.clone()) {
        match row.status {
            RowStatus::Completed => {}
            RowStatus::Failed => {
                out.failed += 1;
                continue;
            }
            _ => continue,
        }
        let cost = row.credits_deduction.unwrap_or_default();
        if cost <= 0.0 || !cost.is_finite() {
            continue;
        }
        out.billed_requests += 1;
        out.account_total += cost;
        let params = row.request_body.as_ref().and_then(params_of);
        let samples = params.as_ref().map_or(1, |p| p.samples.max(1));
        let foreign_id = foreign_job_id(&row.request_id);
        if let Some(k) = known.get(&row.request_id) {
            if ((k.cost - cost).abs() > 1e-6 || k.estimated || k.maybe)
                && ledger.set_real_cost(&row.request_id, cost, samples)?
            {
                out.corrected.push((row.request_id.clone(), k.cost, cost));
            }
            // A charge made elsewhere, recorded by an earlier reconcile: its images may come now.
            let earlier = k.job_id == foreign_id;
            if !(import && earlier && store.find_job(foreign_id, Some(&row.request_id)).is_empty())
            {
                continue;
            }
        } else if in_flight
            && row
                .created_ms
                .is_none_or(|t| now.saturating_sub(t) < SETTLING_MS)
        {
            out.too_recent += 1;
            continue;
        }
        let recorded_before = known.contains_key(&row.request_id);
        let outputs = outputs_of(&rows, &row.request_id);
        let mut f = foreign(&row, params.as_ref(), &maybes, recorded_before, now);
        if f.maybe_ours.is_none() && !recorded_before {
            ledger.record(&Charge {
                job_id: foreign_id,
                at_ms: row.created_ms.unwrap_or(now),
                cost,
                estimated: false,
                request_id: Some(row.request_id.clone()),
                cn_type: f.cn_type.clone().unwrap_or_else(|| "unknown".into()),
                images: outputs.len() as u32,
                asked: samples,
                part: 0,
                api: "account".into(),
            })?;
            f.recorded = true;
        }
        if import && f.maybe_ours.is_some() {
            f.not_imported = Some("it may be that job: settle the job first".into());
        } else if import {
            match &params {
                None => {
                    f.not_imported = Some("its request_body does not name valid settings".into());
                }
                Some(p) => {
                    import_outputs(client, store, &row, p, &outputs, &mut f, cancel).await;
                }
            }
        }
        out.foreign.push(f);
    }
    Ok(out)
}

/// A charge made elsewhere, as listed: with a job of ours still "maybe billed" near its time when
/// there is one (then it is left to the user, not recorded).
fn foreign(
    row: &HistoryRow,
    params: Option<&crate::api::GenParams>,
    maybes: &[super::ledger::Maybe],
    recorded_before: bool,
    now: u64,
) -> Foreign {
    let created = row.created_ms.unwrap_or(now);
    let cn_type = params.map(|p| p.cn_type.as_str().to_owned());
    let maybe_ours = maybes
        .iter()
        .find(|m| {
            m.at_ms.abs_diff(created) <= NEAR_MS
                && cn_type.as_deref().is_none_or(|t| t == m.cn_type)
        })
        .map(|m| m.job_id);
    Foreign {
        request_id: row.request_id.clone(),
        cost: row.credits_deduction.unwrap_or_default(),
        created_ms: row.created_ms,
        cn_type,
        prompt: params.map(|p| p.prompt.clone()),
        recorded: false,
        recorded_before,
        maybe_ours,
        imported: Vec::new(),
        not_imported: None,
    }
}

/// Every row of the model in `[since, now]`, window by window (31 days at most each).
async fn read_history(
    client: &Client,
    since: u64,
    now: u64,
    out: &mut Reconciled,
    cancel: &CancellationToken,
) -> Result<Vec<HistoryRow>, ApiError> {
    let day = utc_day;
    let (first, last) = (day(since), day(now));
    let mut rows = Vec::new();
    let mut to = last;
    loop {
        let from = (to - chrono::Duration::days(WINDOW_DAYS_MAX - 1)).max(first);
        let mut q = HistoryQuery::model(from, to);
        for page in 1..=MAX_PAGES {
            q.page = page;
            let got = client.history_page(&q, cancel).await?;
            out.unreadable += got.unreadable;
            rows.extend(
                got.rows
                    .into_iter()
                    .filter(|r| r.created_ms.is_none_or(|t| t >= since)),
            );
            if !got.more {
                break;
            }
        }
        if from <= first {
            break;
        }
        to = from - chrono::Duration::days(1);
    }
    Ok(rows)
}

/// Downloads a foreign charge's images and saves them with its settings (once: a request already
/// in the gallery is not imported again).
async fn import_outputs(
    client: &Client,
    store: &Store,
    row: &HistoryRow,
    params: &crate::api::GenParams,
    outputs: &[String],
    f: &mut Foreign,
    cancel: &CancellationToken,
) {
    let job = foreign_job_id(&row.request_id);
    if !store.find_job(job, Some(&row.request_id)).is_empty() {
        f.not_imported = Some("already in the gallery".into());
        return;
    }
    if outputs.is_empty() {
        f.not_imported = Some("the history names no image for it".into());
        return;
    }
    let accounting = Accounting {
        cost: row.credits_deduction,
        request_id: Some(row.request_id.clone()),
        seed: Some(params.seed).filter(|s| *s != crate::api::params::RANDOM_SEED),
        generation_time: row.latency_ms.map(|ms| ms / 1000.0),
        ..Default::default()
    };
    let label = format!("Segmind request history ({})", row.request_id);
    for (index, url) in outputs.iter().enumerate() {
        let image = match client.download_output(url, cancel).await {
            Ok(i) => i,
            Err(e) => {
                f.not_imported = Some(format!("its image could not be downloaded ({e})"));
                return;
            }
        };
        let saved = {
            let (store, params, accounting, label) = (
                store.clone(),
                params.clone(),
                accounting.clone(),
                label.clone(),
            );
            tokio::task::spawn_blocking(move || {
                store.save(&NewResult {
                    image: &image,
                    params: &params,
                    input: &label,
                    api: ApiVersion::V1,
                    accounting: &accounting,
                    group: None,
                    index,
                    job_id: Some(job),
                    input_image: None,
                    prompt_template: None,
                    batch_line: None,
                    framing: None,
                })
            })
            .await
        };
        match saved {
            Ok(Ok(e)) => f.imported.push(e.image_path),
            Ok(Err(e)) => {
                f.not_imported = Some(format!("it could not be saved ({e})"));
                return;
            }
            Err(e) => {
                f.not_imported = Some(format!("the save task failed ({e})"));
                return;
            }
        }
    }
}
