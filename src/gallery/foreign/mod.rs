//! Settings from any image: ours (the request JSON inside the file, or the sidecar next to it), an
//! AUTOMATIC1111 "parameters" text (A1111, Forge and the tools that write its format: a PNG text
//! chunk, or the EXIF UserComment of a JPEG or WebP), a ComfyUI graph (`prompt` PNG text) or
//! InvokeAI's metadata (`invokeai_metadata` PNG text).
//!
//! Another tool's values are mapped to this API's fields, clamped into its ranges, and every value
//! that was clamped or has no counterpart here (a negative prompt, a sampler, a model) is said in
//! [`Imported::notes`]: nothing is guessed silently. Hostile metadata (huge, deeply nested, links
//! in a loop, bad UTF-16) gives an error that says so, never a panic or a hang.

mod comfy;
mod invoke;
mod reading;

use std::fmt;
use std::path::Path;

use serde::Deserialize;

use crate::api::GenParams;

use super::GalleryError;
use super::a1111::read_a1111;
use super::exif::CommentError;
use super::meta;

pub(crate) use reading::Reading;

/// The largest JSON metadata read (a big ComfyUI workflow is a few hundred kB).
pub(crate) const MAX_JSON: usize = 16 * 1024 * 1024;

/// The tool whose metadata the settings were read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Tool {
    /// Our own record: the request as sent (inside the image, or its sidecar).
    Fluxcn,
    /// AUTOMATIC1111's "parameters" text (A1111, Forge, or any tool writing its format).
    A1111,
    /// ComfyUI's API graph.
    ComfyUI,
    /// InvokeAI's metadata.
    InvokeAI,
}

impl fmt::Display for Tool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Tool::Fluxcn => "fluxcn",
            Tool::A1111 => "AUTOMATIC1111",
            Tool::ComfyUI => "ComfyUI",
            Tool::InvokeAI => "InvokeAI",
        })
    }
}

/// Settings read from an image.
#[derive(Debug, Clone, PartialEq)]
pub struct Imported {
    /// The settings, every value within this service's ranges (for our own record: as sent).
    pub params: GenParams,
    /// Which tool's metadata they come from.
    pub source: Tool,
    /// What was clamped or has no counterpart here, one sentence each (empty for our own record).
    pub notes: Vec<String>,
    /// The seed the picture was made with, when the file says (our record keeps the seed sent,
    /// which may be `-1`; the seed used is in its A1111 text or sidecar).
    pub seed_used: Option<i64>,
    /// The input image's description (a path or URL), when our record says.
    pub input: Option<String>,
}

impl Imported {
    /// One line for a notice: `Settings read from ComfyUI metadata; 2 notes: …; …`.
    pub fn summary(&self) -> String {
        let mut s = format!("Settings read from {} metadata", self.source);
        if !self.notes.is_empty() {
            s.push_str(&format!(
                "; {} note{}: {}",
                self.notes.len(),
                if self.notes.len() == 1 { "" } else { "s" },
                self.notes.join("; ")
            ));
        }
        s
    }
}

/// Metadata that cannot be read, said in words (shown as [`GalleryError::BadEmbedded`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImportError {
    /// Metadata larger than any real tool writes.
    #[error("its {what} metadata is {bytes} bytes, more than the {max} this app reads")]
    TooLarge {
        what: &'static str,
        bytes: usize,
        max: usize,
    },
    /// Not JSON (or nested deeper than the JSON reader allows).
    #[error("its {what} metadata is not valid JSON: {reason}")]
    Json { what: &'static str, reason: String },
    /// JSON, but not laid out as that tool writes it.
    #[error("its {what} metadata is not laid out as {what} writes it: {reason}")]
    Shape { what: &'static str, reason: String },
    /// A ComfyUI graph with nothing that samples.
    #[error(
        "its ComfyUI graph has no sampler node (KSampler, KSamplerAdvanced, SamplerCustom or SamplerCustomAdvanced)"
    )]
    NoSampler,
    /// ComfyUI links that come back to a node already followed.
    #[error("its ComfyUI graph links in a loop (node {node:?} is reached again)")]
    Cycle { node: String },
    /// A chain of ComfyUI links longer than any real graph's.
    #[error("its ComfyUI graph links through more than {max} nodes in a row")]
    TooDeep { max: usize },
    /// An EXIF UserComment that is not text.
    #[error("its EXIF UserComment cannot be read: {0}")]
    UserComment(#[from] CommentError),
}

/// The settings of any image (or a fluxcn `.json` sidecar), from the first of: our own record
/// inside it, the sidecar next to it, an A1111 text, a ComfyUI graph, InvokeAI's metadata. The
/// error of unreadable metadata is given only when nothing else had settings.
pub fn read_any(path: &Path) -> Result<Imported, GalleryError> {
    if path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"))
    {
        return meta::read_sidecar(path).map(from_sidecar);
    }
    let bytes = meta::read_regular(path)?;
    let embedded = match import_bytes(path, &bytes) {
        Ok(Some(i)) if i.source == Tool::Fluxcn => return Ok(i),
        other => other,
    };
    // Our sidecar is exact where the picture's own text may have been cut (a JPEG comment holds
    // 64 kB); another tool's settings come next, and a damaged sidecar only when there are none.
    let sidecar = meta::sidecar_of(path);
    let beside = sidecar.exists().then(|| meta::read_sidecar(&sidecar));
    match (embedded, beside) {
        (_, Some(Ok(s))) => Ok(from_sidecar(s)),
        (Ok(Some(i)), _) => Ok(i),
        (_, Some(Err(e))) | (Err(e), None) => Err(e),
        (Ok(None), None) => Err(GalleryError::NoSettings {
            path: path.to_path_buf(),
            sidecar,
        }),
    }
}

fn from_sidecar(s: super::Sidecar) -> Imported {
    Imported {
        params: s.params,
        source: Tool::Fluxcn,
        notes: Vec::new(),
        seed_used: Some(s.seed_used),
        input: Some(s.input),
    }
}

/// The settings inside an image's bytes, without the sidecar: `Ok(None)` when it holds none.
pub fn import_bytes(path: &Path, bytes: &[u8]) -> Result<Option<Imported>, GalleryError> {
    let found = meta::found(path, bytes)?;
    let bad = |e: &dyn fmt::Display| GalleryError::BadEmbedded {
        path: path.to_path_buf(),
        reason: e.to_string(),
    };
    let a1111 = found.a1111.as_deref().map(|t| {
        if t.len() > MAX_JSON {
            return Err(bad(&ImportError::TooLarge {
                what: "AUTOMATIC1111",
                bytes: t.len(),
                max: MAX_JSON,
            }));
        }
        read_a1111(t)
    });
    let seed_in_text = match &a1111 {
        Some(Ok(r)) => Some(r.p.seed),
        _ => None,
    };
    if let Some(json) = &found.ours {
        match ours(json) {
            Ok((params, input)) => {
                return Ok(Some(Imported {
                    params,
                    source: Tool::Fluxcn,
                    notes: Vec::new(),
                    seed_used: seed_in_text,
                    input,
                }));
            }
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "unreadable fluxcn record; trying the other metadata")
            }
        }
    }
    let mut first_error: Option<GalleryError> = found.problem.as_ref().map(|e| bad(e));
    let tries: [(Tool, Option<Result<Reading, GalleryError>>); 3] = [
        (Tool::A1111, a1111),
        (
            Tool::ComfyUI,
            found
                .comfy
                .as_deref()
                .map(|t| comfy::read(t).map_err(|e| bad(&e))),
        ),
        (
            Tool::InvokeAI,
            found
                .invoke
                .as_deref()
                .map(|t| invoke::read(t).map_err(|e| bad(&e))),
        ),
    ];
    for (source, tried) in tries {
        match tried {
            Some(Ok(r)) => {
                let (params, notes) = r.finish();
                return Ok(Some(Imported {
                    seed_used: Some(params.seed),
                    params,
                    source,
                    notes,
                    input: None,
                }));
            }
            Some(Err(e)) => {
                first_error.get_or_insert(e);
            }
            None => {}
        }
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(None),
    }
}

/// Our record: the request JSON (the params flat, `image` the input's description).
fn ours(json: &str) -> Result<(GenParams, Option<String>), ImportError> {
    let what = "fluxcn";
    if json.len() > MAX_JSON {
        return Err(ImportError::TooLarge {
            what,
            bytes: json.len(),
            max: MAX_JSON,
        });
    }
    let bad = |e: serde_json::Error| ImportError::Json {
        what,
        reason: e.to_string(),
    };
    let v: serde_json::Value = serde_json::from_str(json).map_err(bad)?;
    let params = GenParams::deserialize(&v).map_err(bad)?;
    let input = v.get("image").and_then(|i| i.as_str()).map(str::to_owned);
    Ok((params, input))
}
