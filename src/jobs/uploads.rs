//! Inputs uploaded once (issue 25): with the setting on, a job's prepared input goes to Segmind's
//! storage the first time its content is seen there, and its persistent URL (kept in the catalog
//! beside the kept inputs, by content hash and storage service) is sent as `image` from then on,
//! by every job with that input: the four requests of a compare, a grid's cells, batch lines,
//! variations, re-runs. Jobs with the same input wait on one lock per hash, so it is uploaded
//! once. A failed upload is said, and the job sends base64 as before.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use tokio_util::sync::CancellationToken;

use super::runtime::Shared;
use super::types::{Event, InputSource, JobId, JobSpec, RuntimeConfig, Stage};
use crate::api::Client;
use crate::gallery::Store;

/// One async lock per content hash under upload.
pub(super) type UploadLocks = Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>;

/// The URL to send for this base64 input: the one its content got before from the configured
/// storage, else a new upload's. `None`: send the base64 (said in a notice).
pub(super) async fn input_url(
    sh: &Arc<Shared>,
    id: JobId,
    client: &Client,
    payload: &str,
    cancel: &CancellationToken,
) -> Option<String> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(payload.as_bytes())
        .ok()?;
    let hash = Store::content_hash(&bytes);
    let storage = client.storage_root().as_str().to_owned();
    let lock = sh
        .uploads
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .entry(hash.clone())
        .or_default()
        .clone();
    let _held = lock.lock().await;
    let known = {
        let (store, hash, storage) = (sh.store.clone(), hash.clone(), storage.clone());
        tokio::task::spawn_blocking(move || store.upload_url(&hash, &storage))
            .await
            .ok()
            .flatten()
    };
    if let Some(url) = known {
        return Some(url);
    }
    sh.stage(
        id,
        Stage::Remote {
            state: "uploading the input".into(),
        },
    );
    match client.upload_asset(&bytes, cancel).await {
        Ok(url) => {
            let (store, u) = (sh.store.clone(), url.clone());
            let kept =
                tokio::task::spawn_blocking(move || store.remember_upload(&hash, &storage, &u))
                    .await;
            if let Ok(Err(e)) = kept {
                tracing::warn!(error = %e, "the upload's URL could not be kept in the catalog");
            }
            tracing::info!(id, "input uploaded to Segmind's storage");
            Some(url)
        }
        Err(e) => {
            tracing::warn!(id, error = %e, "upload failed; sending base64");
            sh.emit(Event::Notice(format!(
                "job {id}: the input could not be uploaded to Segmind's storage ({e}); it was sent as base64 instead"
            )));
            None
        }
    }
}

/// The input to send: the upload's URL when uploads are on (once per content), else the payload.
pub(super) async fn wire_payload(
    sh: &Arc<Shared>,
    id: JobId,
    spec: &JobSpec,
    cfg: &RuntimeConfig,
    client: &Client,
    payload: &str,
    cancel: &CancellationToken,
) -> String {
    if cfg.upload_inputs
        && !matches!(spec.input, InputSource::Url(_))
        && let Some(url) = input_url(sh, id, client, payload, cancel).await
    {
        return url;
    }
    payload.to_owned()
}
