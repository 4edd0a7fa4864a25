//! The account's own records in the stand-in, as Segmind's SDK reads them: the request history
//! (`GET /inference-request/request-history` with `page`, `per_page`, `from_date`, `to_date`,
//! `model_name`, `status`; `GET …/request-history/{id}`), one row per output of every request it
//! answered or billed (truncated answers and failures included, each row carrying the request's
//! whole cost), in the envelope [`SimConfig::history_envelope`](super::SimConfig) names; and the
//! storage service (`POST /upload-asset` → `file_urls`, the assets served back by URL).

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{Value, json};

use super::answers::{error, json_answer};
use super::handlers::check_key;
use super::state::Shared;

/// How a history page wraps its rows (the real envelope is not documented; the client reads all).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Envelope {
    /// `{"data": [...], "page": …}`
    #[default]
    Data,
    /// `{"items": [...]}`
    Items,
    /// `{"rows": [...], "total": …}`
    Rows,
    /// `{"results": [...]}`
    Results,
    /// `[...]`
    Bare,
}

impl Envelope {
    pub const ALL: [Envelope; 5] = [
        Envelope::Data,
        Envelope::Items,
        Envelope::Rows,
        Envelope::Results,
        Envelope::Bare,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Envelope::Data => "data",
            Envelope::Items => "items",
            Envelope::Rows => "rows",
            Envelope::Results => "results",
            Envelope::Bare => "bare",
        }
    }

    pub fn parse(s: &str) -> Result<Envelope, String> {
        Envelope::ALL
            .into_iter()
            .find(|e| e.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| {
                format!("no history envelope {s:?}: one of data, items, rows, results, bare")
            })
    }

    fn wrap(self, rows: Vec<Value>, total: usize, page: usize) -> Value {
        match self {
            Envelope::Data => json!({ "data": rows, "page": page, "total": total }),
            Envelope::Items => json!({ "items": rows, "count": total }),
            Envelope::Rows => json!({ "rows": rows, "total": total }),
            Envelope::Results => json!({ "results": rows, "next": Value::Null }),
            Envelope::Bare => Value::Array(rows),
        }
    }
}

/// One request in the account's history.
#[derive(Debug, Clone)]
pub(super) struct Record {
    pub(super) request_id: String,
    /// `COMPLETED`, `FAILED` or `PENDING`.
    pub(super) status: &'static str,
    /// What the request cost (USD); 0 for a failure.
    pub(super) cost: f64,
    /// The body as sent, its inline image replaced by a stored asset's URL.
    pub(super) body: Value,
    /// The output URLs (one history row each).
    pub(super) outputs: Vec<String>,
    pub(super) created: DateTime<Utc>,
    pub(super) started: Instant,
    pub(super) latency_ms: Option<u64>,
    pub(super) error: Option<String>,
}

impl Record {
    pub(super) fn new(request_id: String, body: Value) -> Record {
        Record {
            request_id,
            status: "PENDING",
            cost: 0.0,
            body,
            outputs: Vec::new(),
            created: Utc::now(),
            started: Instant::now(),
            latency_ms: None,
            error: None,
        }
    }

    pub(super) fn complete(&mut self, cost: f64, outputs: Vec<String>) {
        self.status = "COMPLETED";
        self.cost = cost;
        self.outputs = outputs;
        self.latency_ms = Some(self.started.elapsed().as_millis() as u64);
    }

    pub(super) fn fail(&mut self, message: &str) {
        self.status = "FAILED";
        self.cost = 0.0;
        self.error = Some(message.to_owned());
        self.latency_ms = Some(self.started.elapsed().as_millis() as u64);
    }

    /// The rows of this request: one per output (each with the whole cost), one if it has none.
    fn rows(&self) -> Vec<Value> {
        let row = |url: Option<&String>| {
            json!({
                "request_id": self.request_id,
                "model_name": crate::api::MODEL,
                "model_status": self.status,
                "credits_deduction": self.cost,
                "request_body": self.body,
                "generation_url": url,
                "latency_ms": self.latency_ms,
                "created_at": self.created.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                "updated_at": self.created.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                "error": self.error,
            })
        };
        if self.outputs.is_empty() {
            vec![row(None)]
        } else {
            self.outputs.iter().map(|u| row(Some(u))).collect()
        }
    }
}

/// The body as the history keeps it: an inline image is stored as an asset and named by its URL.
pub(super) fn recorded_body(shared: &Shared, raw: &[u8]) -> Value {
    let Ok(mut v) = serde_json::from_slice::<Value>(raw) else {
        return Value::Null;
    };
    let inline = v
        .get("image")
        .and_then(Value::as_str)
        .filter(|s| !s.starts_with("http://") && !s.starts_with("https://"))
        .and_then(|s| {
            let compact: String = s.chars().filter(|c| !c.is_ascii_whitespace()).collect();
            base64::engine::general_purpose::STANDARD
                .decode(compact)
                .ok()
        });
    if let Some(bytes) = inline {
        let url = store_asset(shared, bytes);
        v["image"] = Value::String(url);
    }
    v
}

/// Keeps `bytes` as an asset; returns its URL.
fn store_asset(shared: &Shared, bytes: Vec<u8>) -> String {
    let ext = crate::api::params::ImageFormat::sniff(&bytes).map_or("bin", |f| f.extension());
    let mut inner = shared.lock();
    inner.next_asset += 1;
    let name = format!("asset-{:05}.{ext}", inner.next_asset);
    inner.assets.insert(name.clone(), bytes);
    format!("{}/assets/{name}", shared.origin)
}

/// The size of an asset this stand-in stores, when `url` names one.
pub(super) fn asset_size(shared: &Shared, url: &str) -> Option<(u32, u32)> {
    let name = url.strip_prefix(&format!("{}/assets/", shared.origin))?;
    let inner = shared.lock();
    let bytes = inner.assets.get(name)?;
    image::ImageReader::new(std::io::Cursor::new(bytes))
        .with_guessed_format()
        .ok()?
        .into_dimensions()
        .ok()
}

#[derive(Debug, serde::Deserialize)]
pub(super) struct HistoryParams {
    page: Option<String>,
    per_page: Option<String>,
    from_date: Option<String>,
    to_date: Option<String>,
    model_name: Option<String>,
    status: Option<String>,
}

fn bad(msg: impl Into<String>) -> Response {
    error(StatusCode::BAD_REQUEST, msg)
}

/// The page, page size and date window a history query asks for; `Err` is the `400`'s message.
fn read_query(
    q: &HistoryParams,
) -> Result<(usize, usize, Option<NaiveDate>, Option<NaiveDate>), String> {
    let int = |v: &Option<String>, name: &str, default: usize| -> Result<usize, String> {
        match v {
            None => Ok(default),
            Some(s) => s
                .trim()
                .parse::<usize>()
                .map_err(|_| format!("{name} must be a whole number, got {s:?}")),
        }
    };
    let page = int(&q.page, "page", 1)?;
    if page < 1 {
        return Err("page starts at 1".into());
    }
    let per_page = int(&q.per_page, "per_page", 10)?;
    if !(1..=100).contains(&per_page) {
        return Err(format!("per_page must be from 1 to 100, got {per_page}"));
    }
    let date = |v: &Option<String>, name: &str| -> Result<Option<NaiveDate>, String> {
        v.as_deref()
            .map(|s| {
                NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
                    .map_err(|_| format!("{name} must be YYYY-MM-DD, got {s:?}"))
            })
            .transpose()
    };
    let (from, to) = (
        date(&q.from_date, "from_date")?,
        date(&q.to_date, "to_date")?,
    );
    if let (Some(f), Some(t)) = (from, to)
        && !(0..=31).contains(&(t - f).num_days())
    {
        return Err(
            "from_date to to_date must be a window of at most 31 days, from before to".into(),
        );
    }
    Ok((page, per_page, from, to))
}

pub(super) async fn history(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Query(q): Query<HistoryParams>,
) -> Response {
    shared.lock().stats.history_calls += 1;
    if let Err(a) = check_key(&shared.cfg, &headers) {
        return *a;
    }
    let (page, per_page, from, to) = match read_query(&q) {
        Ok(v) => v,
        Err(m) => return bad(m),
    };
    let status = q.status.as_deref().map(str::to_ascii_uppercase);
    let rows: Vec<Value> = {
        let mut inner = shared.lock();
        shared.settle(&mut inner, Instant::now());
        let mut records: Vec<&Record> = inner
            .history
            .iter()
            .filter(|r| from.is_none_or(|f| r.created.date_naive() >= f))
            .filter(|r| to.is_none_or(|t| r.created.date_naive() <= t))
            // Every request here is of this one model.
            .filter(|_| {
                q.model_name
                    .as_deref()
                    .is_none_or(|m| m == crate::api::MODEL)
            })
            .filter(|r| status.as_deref().is_none_or(|s| s == r.status))
            .collect();
        // Newest first, as a dashboard lists them.
        records.reverse();
        records.iter().flat_map(|r| r.rows()).collect()
    };
    let total = rows.len();
    let page_rows: Vec<Value> = rows
        .into_iter()
        .skip((page - 1).saturating_mul(per_page))
        .take(per_page)
        .collect();
    json_answer(
        StatusCode::OK,
        shared.cfg.history_envelope.wrap(page_rows, total, page),
    )
}

pub(super) async fn history_one(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    shared.lock().stats.history_calls += 1;
    if let Err(a) = check_key(&shared.cfg, &headers) {
        return *a;
    }
    let rows: Vec<Value> = {
        let mut inner = shared.lock();
        shared.settle(&mut inner, Instant::now());
        inner
            .history
            .iter()
            .filter(|r| r.request_id == id)
            .flat_map(|r| r.rows())
            .collect()
    };
    if rows.is_empty() {
        return error(StatusCode::NOT_FOUND, format!("Request {id} not found"));
    }
    let n = rows.len();
    json_answer(StatusCode::OK, shared.cfg.history_envelope.wrap(rows, n, 1))
}

pub(super) async fn upload_asset(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    if let Err(a) = check_key(&shared.cfg, &headers) {
        return *a;
    }
    let v: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(_) => return bad("The request body is not valid JSON"),
    };
    let Some(list) = v.get("data_urls").and_then(Value::as_array) else {
        return bad("data_urls is required: a list of data:image/...;base64,... URLs");
    };
    if list.is_empty() {
        return bad("data_urls is empty");
    }
    let mut decoded = Vec::new();
    for (i, d) in list.iter().enumerate() {
        let s = d.as_str().unwrap_or("");
        let Some((head, data)) = s.strip_prefix("data:").and_then(|r| r.split_once(",")) else {
            return bad(format!("data_urls[{i}] is not a data: URL"));
        };
        if !head.ends_with(";base64") || !head.starts_with("image/") {
            return bad(format!(
                "data_urls[{i}] must be data:image/<type>;base64,<data>"
            ));
        }
        match base64::engine::general_purpose::STANDARD.decode(data) {
            Ok(b) if crate::api::params::ImageFormat::sniff(&b).is_some() => decoded.push(b),
            _ => return bad(format!("data_urls[{i}]: the base64 is not an image")),
        }
    }
    {
        let mut inner = shared.lock();
        inner.stats.uploads += decoded.len() as u64;
        inner.stats.upload_bytes += body.len() as u64;
    }
    let urls: Vec<String> = decoded
        .into_iter()
        .map(|b| store_asset(&shared, b))
        .collect();
    json_answer(
        StatusCode::OK,
        json!({ "file_urls": urls, "message": "Files uploaded successfully" }),
    )
}

pub(super) async fn asset(State(shared): State<Arc<Shared>>, Path(name): Path<String>) -> Response {
    let bytes = shared.lock().assets.get(&name).cloned();
    match bytes {
        Some(b) => {
            let mime = crate::api::params::ImageFormat::sniff(&b)
                .map_or("application/octet-stream", |f| f.mime());
            ([(header::CONTENT_TYPE, mime)], b).into_response()
        }
        None => error(StatusCode::NOT_FOUND, format!("Asset {name} not found")),
    }
}
