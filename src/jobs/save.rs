//! Saving a billed generation: the charge recorded first (once per job and part), every image
//! saved off the async threads with its sidecar, kept input and catalog row (a gallery that cannot
//! take it sends it to a fallback folder rather than lose it), the batch line marked saved, and the
//! previews decoded.

use std::sync::Arc;

use super::journal::now_ms;
use super::ledger::Charge;
use super::runtime::{JobEnd, Shared, decode_preview};
use super::types::{Event, FailureKind, JobFailure, JobId, JobSpec, SavedImage, Stage};
use crate::api::Generation;
use crate::gallery::{NewResult, write_fallback};

/// Saves every image (off the async threads) and decodes its preview. An image that cannot be
/// saved in the gallery goes to a fallback folder rather than being lost. `sent_input` is the
/// input's payload as sent (base64), kept with the results; `None` keeps none (a URL input, or a
/// job resumed after a crash, whose payload is gone).
pub(super) async fn save(
    sh: &Arc<Shared>,
    id: JobId,
    spec: &JobSpec,
    generation: Generation,
    sent_input: Option<String>,
    part: u32,
) -> Result<(Vec<SavedImage>, crate::api::Accounting), JobEnd> {
    sh.stage(id, Stage::Saving);
    // Fewer images than were paid for: said, and kept in the ledger (`asked` beside `images`).
    let asked = spec.params.samples.max(1) as usize;
    if generation.images.len() < asked {
        let got = generation.images.len();
        tracing::warn!(
            id,
            asked,
            got,
            "the answer held fewer images than it billed"
        );
        sh.emit(Event::Notice(format!(
            "job {id}: {asked} images were paid for and {got} arrived; the answer held no more (the ledger keeps the difference)"
        )));
    }
    let store = sh.store.clone();
    let ledger = sh.gate.ledger().cloned();
    let spec = spec.clone();
    let accounting = generation.accounting.clone();
    let r = tokio::task::spawn_blocking(move || {
        // Billed: recorded first (a crash while saving still counts what was paid), once per
        // job whatever folder the images go to.
        let charge = charge_of(id, &spec, &generation.accounting, generation.images.len(), part);
        let ledger_error = ledger.and_then(|l| l.record(&charge).err());
        let mut saved = Vec::new();
        let label = spec.input.describe();
        let input_bytes = sent_input.and_then(|b64| {
            use base64::Engine;
            base64::engine::general_purpose::STANDARD.decode(b64.as_bytes()).ok()
        });
        for (index, image) in generation.images.iter().enumerate() {
            let new = NewResult {
                image,
                params: &spec.params,
                input: &label,
                api: spec.api,
                accounting: &generation.accounting,
                group: spec.group.as_ref(),
                index,
                job_id: Some(id),
                input_image: input_bytes.as_deref(),
                prompt_template: spec.prompt_template.as_deref(),
                batch_line: spec.batch.as_ref().map(|b| b.key.as_str()),
                framing: Some(spec.framing),
            };
            let (path, sidecar) = match store.save(&new) {
                Ok(entry) => (entry.image_path, entry.sidecar_path),
                Err(e) => match write_fallback(&format!("{id}-{index}"), image.format.extension(), &image.bytes) {
                    Ok(path) => {
                        tracing::error!(error = %e, path = %path.display(), "gallery save failed; wrote the image to a fallback folder");
                        (path, std::path::PathBuf::new())
                    }
                    Err(e2) => return Err(format!("the image could not be saved ({e}), not even to a new folder in {} ({e2})", std::env::temp_dir().display())),
                },
            };
            saved.push(SavedImage {
                path,
                sidecar,
                width: image.width,
                height: image.height,
                seed: generation.accounting.seed.unwrap_or(spec.params.seed),
                preview: decode_preview(&image.bytes).map(Arc::new),
            });
        }
        if let (Some(line), Some(first)) = (&spec.batch, saved.first())
            && let Err(e) = store.batch_mark(&super::batch::saved_mark(id, line, &first.path))
        {
            tracing::error!(error = %e, "the batch journal could not record a saved line");
        }
        Ok((saved, ledger_error))
    })
    .await;
    match r {
        Ok(Ok((saved, ledger_error))) => {
            if let Some(e) = ledger_error {
                tracing::error!(error = %e, "the spend ledger could not record a job");
                sh.emit(Event::Notice(format!(
                    "{e}: this job's cost is not in today's spend"
                )));
            }
            Ok((saved, accounting))
        }
        Ok(Err(msg)) => Err(JobEnd::Failed(JobFailure {
            message: msg,
            kind: FailureKind::Save,
            maybe_billed: true,
        })),
        Err(e) => Err(JobEnd::Failed(JobFailure {
            message: format!("the save task failed: {e}"),
            kind: FailureKind::Save,
            maybe_billed: true,
        })),
    }
}

/// The ledger row of a billed job: the service's cost, else the estimate (marked as one).
pub(super) fn charge_of(
    id: JobId,
    spec: &JobSpec,
    accounting: &crate::api::Accounting,
    images: usize,
    part: u32,
) -> Charge {
    let got = images as u32;
    // The bill is for what was asked: an answer with fewer images costs the same.
    let asked = spec.params.samples.max(1).max(got);
    let images = asked;
    let (cost, estimated) = match accounting
        .cost
        .and_then(|c| crate::api::plausible_cost(c, images))
    {
        Some(c) => (c, false),
        None => {
            if let Some(reported) = accounting.cost {
                tracing::warn!(
                    reported,
                    "the service reported a cost no image can have; the estimate is recorded"
                );
            }
            (crate::api::estimated_cost(images), true)
        }
    };
    Charge {
        job_id: id,
        at_ms: now_ms(),
        cost,
        estimated,
        request_id: accounting.request_id.clone(),
        cn_type: spec.params.cn_type.as_str().to_owned(),
        images: got,
        asked,
        part,
        api: spec.api.to_string(),
    }
}
