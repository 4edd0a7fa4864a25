//! Serving the one-off requests for real: each runs on the tokio runtime (file and CPU work on its
//! blocking pool), answers its own reply, then calls `notify` so that the window repaints and polls.

use std::sync::Arc;

use super::request::{Found, Listing, Reply, Request, Restored};
use super::{ServiceError, reveal};
use crate::api::input;
use crate::api::media::{PREVIEW_SIDE, decode_preview};
use crate::gallery::catalog::Query;
use crate::gallery::{Entry, Store};
use crate::jobs::clients::Clients;
use crate::jobs::export::write_grid_png;
use crate::jobs::types::Notify;
use crate::keystore::KeyStore;
use crate::types::{InputSource, KeyState};

/// What serving needs.
pub(super) struct Server {
    pub rt: tokio::runtime::Handle,
    pub store: Store,
    pub keys: KeyStore,
    pub clients: Arc<Clients>,
    pub ledger: Option<Arc<crate::jobs::ledger::Ledger>>,
    pub notify: Notify,
}

/// The ledger set beside the account's history (`days`, and whether to import).
fn reconcile(
    s: &Server,
    cfg: crate::jobs::RuntimeConfig,
    (days, import): (u32, bool),
    reply: Reply<Result<crate::jobs::reconcile::Reconciled, ServiceError>>,
) {
    let (clients, store, ledger) = (s.clients.clone(), s.store.clone(), s.ledger.clone());
    spawn(s, reply, async move {
        let ledger = ledger.ok_or(ServiceError::NoLedger)?;
        let client = clients.client(&cfg).await?;
        let cancel = tokio_util::sync::CancellationToken::new();
        Ok(
            crate::jobs::reconcile::reconcile(&client, &ledger, &store, days, import, &cancel)
                .await?,
        )
    });
}

/// What was spent, from the ledger.
fn spend(
    s: Arc<Server>,
    days: u32,
    reply: Reply<Result<crate::jobs::ledger::Spend, ServiceError>>,
) {
    blocking(s, reply, move |s| {
        let ledger = s.ledger.as_ref().ok_or(ServiceError::NoLedger)?;
        Ok(ledger.spend(chrono::Local::now(), days)?)
    });
}

/// A batch file read and planned against the gallery's batch journal.
fn read_batch(
    s: Arc<Server>,
    path: std::path::PathBuf,
    resend_unknown: bool,
    reply: Reply<Result<Arc<super::BatchPreview>, ServiceError>>,
) {
    blocking(s, reply, move |s| {
        let lines = crate::jobs::batch::read_batch(&path)?;
        let name = crate::jobs::batch::batch_name(&path);
        let plan =
            crate::jobs::batch::plan(&s.store, &name, &lines, resend_unknown, s.ledger.as_deref())?;
        Ok(Arc::new(super::BatchPreview { name, lines, plan }))
    });
}

/// Starts serving `request`; returns at once.
pub(super) fn serve(server: &Arc<Server>, request: Request) {
    let s = server.clone();
    match request {
        Request::Spend { days, reply } => spend(s, days, reply),
        Request::ReadBatch {
            path,
            resend_unknown,
            reply,
        } => read_batch(s, path, resend_unknown, reply),
        Request::Reconcile {
            cfg,
            days,
            import,
            reply,
        } => reconcile(&s, cfg, (days, import), reply),
        Request::Credits { cfg, reply } => credits(&s, cfg, reply),
        Request::LoadInput { source, reply } => blocking(s, reply, move |_| {
            Ok(input::preview(&source, PREVIEW_SIDE)?)
        }),
        Request::KeyState { reply } => key_task(s, reply, false, |keys| keys.state()),
        Request::SaveKey { key, reply } => key_task(s, reply, true, move |keys| {
            let r = match &key {
                Some(k) => keys.set(k),
                None => keys.clear(),
            };
            match r {
                Ok(()) => keys.state(),
                Err(e) => KeyState::Unavailable(e.to_string()),
            }
        }),
        Request::GalleryList { query, reply } => blocking(s, reply, move |s| listing(s, &query)),
        Request::Recent { limit, reply } => recent(s, limit, reply),
        Request::GalleryGet { id, reply } => blocking(s, reply, move |s| entry(&s.store, &id)),
        Request::Lineage { entry, reply } => {
            blocking(s, reply, move |s| Ok(lineage(&s.store, &entry)))
        }
        Request::FindSame {
            params,
            input,
            framing,
            max_input_side,
            reply,
        } => find_same(s, params, (input, framing), max_input_side, reply),
        Request::Thumbnail {
            id,
            max_side,
            reply,
        } => blocking(s, reply, move |s| {
            let e = entry(&s.store, &id)?;
            Ok(Arc::new(s.store.thumbnail(&e, max_side)?))
        }),
        Request::OpenImage { id, reply } => blocking(s, reply, move |s| open_image(s, &id)),
        Request::SetFavourite {
            id,
            favourite,
            query,
            reply,
        } => blocking(s, reply, move |s| {
            s.store.set_favourite(&id, favourite)?;
            listing(s, &query)
        }),
        Request::SetRating {
            id,
            rating,
            query,
            reply,
        } => blocking(s, reply, move |s| {
            s.store.set_rating(&id, rating)?;
            listing(s, &query)
        }),
        Request::Delete { id, query, reply } => blocking(s, reply, move |s| {
            s.store.delete(&id)?;
            listing(s, &query)
        }),
        Request::UndoDelete { id, query, reply } => blocking(s, reply, move |s| {
            s.store.undo_delete(&id)?;
            listing(s, &query)
        }),
        Request::Trash { reply } => blocking(s, reply, |s| Ok(s.store.trashed()?)),
        Request::EmptyTrash { reply } => blocking(s, reply, |s| Ok(s.store.empty_trash()?)),
        Request::ReadResult { path, reply } => blocking(s, reply, move |_| read_result(&path)),
        Request::ReadSettings { path, reply } => {
            blocking(s, reply, move |_| Ok(crate::gallery::read_settings(&path)?))
        }
        Request::ExportGrid {
            plan,
            cells,
            out,
            reply,
        } => export_grid(s, plan, cells, out, reply),
        Request::Reveal { path, reply } => blocking(s, reply, move |_| {
            reveal(&path).map_err(|source| ServiceError::Reveal { path, source })
        }),
    }
}

/// The settings in an image file (ours or another tool's), the seed it was made with, and its
/// input image when one can be found: the kept input beside its sidecar or, for a copy of our
/// result found elsewhere, the input its own record names when that file is there.
fn read_result(path: &std::path::Path) -> Result<Restored, ServiceError> {
    let imported = crate::gallery::read_any(path)?;
    let mut params = imported.params.clone();
    // The seed the picture was made with, when the file says (a `-1` sent is useless).
    if let Some(seed) = imported.seed_used.filter(|s| *s >= 0) {
        params.seed = seed;
    }
    let input = crate::gallery::kept_input_of(path).or_else(|| {
        imported
            .input
            .as_deref()
            .map(std::path::PathBuf::from)
            .filter(|p| p.is_absolute() && p.is_file())
    });
    Ok(Restored {
        params,
        input,
        summary: imported.summary(),
    })
}

/// The gallery's newest `limit` pictures, with its size.
fn recent(s: Arc<Server>, limit: usize, reply: Reply<Result<Listing, ServiceError>>) {
    blocking(s, reply, move |s| {
        let rows = s.store.newest(limit)?;
        Ok(Arc::new(Found {
            total: s.store.count(),
            rows,
        }))
    });
}

/// The newest gallery picture a job of `params` from `input` would make again.
fn find_same(
    s: Arc<Server>,
    params: crate::api::GenParams,
    (input, framing): (InputSource, crate::api::framing::Framing),
    max_input_side: u32,
    reply: Reply<Result<Option<Entry>, ServiceError>>,
) {
    blocking(s, reply, move |s| {
        // Pasted bytes are named by nothing that tells them apart, and a framed input is not the
        // file it names: by content only.
        let by_describe = !matches!(input, InputSource::Bytes { .. }) && framing.is_identity();
        Ok(s.store
            .find_identical(&params, &input.describe(), by_describe, || {
                sent_hash(&input, max_input_side, framing)
            })?)
    });
}

/// The content hash of `input` as a job would send it (what the gallery keeps and names it by);
/// `None` for a URL (sent as its text), or an input that cannot be prepared (the job would fail).
fn sent_hash(
    input: &InputSource,
    max_side: u32,
    framing: crate::api::framing::Framing,
) -> Option<String> {
    use base64::Engine as _;
    if matches!(input, InputSource::Url(_)) {
        return None;
    }
    let opts = input::PrepareOptions {
        max_side,
        framing,
        ..input::PrepareOptions::default()
    };
    let prepared = input::prepare(input, &opts).ok()?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(prepared.payload.as_bytes())
        .ok()?;
    Some(Store::content_hash(&bytes))
}

/// Writes a grid's results as one labelled PNG.
fn export_grid(
    s: Arc<Server>,
    plan: Box<crate::jobs::grid::GridPlan>,
    cells: Vec<crate::jobs::export::GridCell>,
    out: std::path::PathBuf,
    reply: Reply<Result<std::path::PathBuf, ServiceError>>,
) {
    blocking(s, reply, move |_| {
        write_grid_png(&plan, &cells, &out)?;
        Ok(out)
    });
}

/// A saved picture decoded for the screen.
fn open_image(s: &Server, id: &str) -> Result<Arc<image::RgbaImage>, ServiceError> {
    let e = entry(&s.store, id)?;
    let bytes = std::fs::read(&e.image_path).map_err(|source| ServiceError::Read {
        path: e.image_path.clone(),
        source,
    })?;
    decode_preview(&bytes)
        .map(Arc::new)
        .ok_or(ServiceError::NotAnImage { path: e.image_path })
}

/// The pictures `query` finds, with the gallery's size.
fn listing(s: &Server, query: &Query) -> Result<Listing, ServiceError> {
    let rows = s.store.query(query)?;
    Ok(Arc::new(Found {
        total: s.store.count(),
        rows,
    }))
}

/// The account's balance, asked of the service.
fn credits(
    s: &Arc<Server>,
    cfg: crate::jobs::types::RuntimeConfig,
    reply: Reply<Result<crate::api::Credits, ServiceError>>,
) {
    let clients = s.clients.clone();
    spawn(s, reply, async move {
        let client = clients.client(&cfg).await?;
        Ok(client
            .credits(&tokio_util::sync::CancellationToken::new())
            .await?)
    });
}

fn lineage(store: &Store, entry: &Entry) -> super::request::Lineage {
    let parent = entry.meta.parent.as_ref().map(|p| {
        store
            .entry_at(std::path::Path::new(p))
            .ok_or_else(|| p.clone())
    });
    super::request::Lineage {
        parent,
        children: store.made_from(&entry.image_path),
    }
}

fn entry(store: &Store, id: &str) -> Result<Entry, ServiceError> {
    store
        .get(id)
        .ok_or_else(|| ServiceError::NotInGallery { id: id.to_owned() })
}

/// Runs blocking work (files, decoding) on the blocking pool and answers with its result.
fn blocking<T: Send + 'static>(
    s: Arc<Server>,
    reply: Reply<Result<T, ServiceError>>,
    f: impl FnOnce(&Server) -> Result<T, ServiceError> + Send + 'static,
) {
    let rt = s.rt.clone();
    rt.spawn(async move {
        let s2 = s.clone();
        let r = tokio::task::spawn_blocking(move || f(&s2))
            .await
            .unwrap_or_else(|e| Err(ServiceError::Task(e.to_string())));
        // The caller may have stopped waiting; then nobody needs the answer.
        let _ = reply.send(r);
        (s.notify)();
    });
}

/// Runs async work and answers with its result.
fn spawn<T: Send + 'static>(
    s: &Server,
    reply: Reply<Result<T, ServiceError>>,
    fut: impl Future<Output = Result<T, ServiceError>> + Send + 'static,
) {
    let notify = s.notify.clone();
    s.rt.spawn(async move {
        let _ = reply.send(fut.await);
        notify();
    });
}

/// Runs a key-store call (the OS keyring may block on D-Bus) and answers with the key's state.
fn key_task(
    s: Arc<Server>,
    reply: Reply<KeyState>,
    key_changed: bool,
    f: impl FnOnce(&KeyStore) -> KeyState + Send + 'static,
) {
    let rt = s.rt.clone();
    rt.spawn(async move {
        let keys = s.keys.clone();
        let state = tokio::task::spawn_blocking(move || f(&keys))
            .await
            .unwrap_or_else(|e| KeyState::Unavailable(format!("the key store task failed: {e}")));
        // A changed key invalidates the cached client (a plain query keeps its connections).
        if key_changed {
            s.clients.forget();
        }
        let _ = reply.send(state);
        (s.notify)();
    });
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;

    use super::*;
    use crate::api::GenParams;
    use crate::gallery::NewResult;

    /// A result of `params` from `input`, its control image kept as `sent` (the bytes a job sent).
    fn save(store: &Store, params: &GenParams, input: &str, sent: Option<&[u8]>) -> Entry {
        let mut png = Vec::new();
        image::DynamicImage::ImageRgb8(image::RgbImage::new(8, 8))
            .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
            .unwrap();
        let image = crate::api::ReceivedImage {
            bytes: png,
            format: crate::api::ImageFormat::Png,
            width: 8,
            height: 8,
        };
        store
            .save(&NewResult {
                image: &image,
                params,
                input,
                api: Default::default(),
                accounting: &Default::default(),
                group: None,
                index: 0,
                job_id: None,
                input_image: sent,
                prompt_template: None,
                batch_line: None,
                framing: None,
            })
            .unwrap()
    }

    #[test]
    fn the_same_picture_is_found_by_the_input_a_job_would_send() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().join("gallery")).unwrap();
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let keys = KeyStore::in_memory();
        let clients = Clients::new(keys.clone(), Default::default());
        let services = super::super::Services::new(
            rt.handle().clone(),
            store.clone(),
            keys,
            clients,
            None,
            Arc::new(|| {}),
        );
        // A photo larger than the longest side sent: a job downscales and re-encodes it.
        let photo = dir.path().join("photo.png");
        image::RgbImage::from_fn(600, 400, |x, y| image::Rgb([x as u8, y as u8, 90]))
            .save(&photo)
            .unwrap();
        let source = InputSource::File(photo.clone());
        let opts = input::PrepareOptions {
            max_side: 512,
            ..Default::default()
        };
        let payload = input::prepare(&source, &opts).unwrap().payload;
        let sent = base64::engine::general_purpose::STANDARD
            .decode(payload)
            .unwrap();
        let params = GenParams {
            prompt: "a knight".into(),
            seed: 42,
            ..Default::default()
        };
        let made = save(&store, &params, &source.describe(), Some(&sent));
        let find = |params: &GenParams, source: InputSource, side: u32| {
            services
                .find_same(params.clone(), source, Default::default(), side)
                .wait()
                .unwrap()
                .unwrap()
                .map(|e| e.id)
        };
        assert_eq!(find(&params, source.clone(), 512), Some(made.id));
        // Another longest side sends other bytes: another control image.
        assert_eq!(find(&params, source.clone(), 256), None);
        let random = GenParams {
            seed: -1,
            ..params.clone()
        };
        assert_eq!(find(&random, source, 512), None);
        // A URL is compared as its text.
        let url = "https://example.com/pose.jpg";
        let by_url = save(&store, &params, url, None);
        assert_eq!(
            find(&params, InputSource::Url(url.into()), 512),
            Some(by_url.id)
        );
        // Pasted bytes are compared by content only, never by their name.
        let pasted = InputSource::Bytes {
            name: url.into(),
            data: Arc::new(b"not an image".to_vec()),
        };
        assert_eq!(find(&params, pasted, 512), None);
    }
}
