//! The account's own records: Segmind's request history (`GET {history}/inference-request/
//! request-history` with `page`, `per_page`, `from_date`, `to_date`, `model_name`, `status`, and
//! `…/request-history/{request_id}`), as Segmind's SDK reads them. A page's envelope is not
//! documented: its rows are read from `data`, `items`, `rows`, `results` or a bare list, and an
//! answer with none of these is an error that says so. A request with several outputs appears once
//! per output, each row carrying the whole cost: [`dedupe`] before summing. Asked under
//! [`RequestKind::Credits`]'s policy: one try (a read that runs nothing; the caller asks again
//! later).

use chrono::NaiveDate;
use serde_json::Value;
use tokio_util::sync::CancellationToken;
use url::Url;

use super::retry::{RequestKind, RetryPolicy};
use super::url_policy::safe_id;
use super::{Client, no_progress};
use crate::api::error::{ApiError, DecodeError, excerpt};

/// The most rows a page may ask for (the SDK's bound).
pub const PER_PAGE_MAX: u32 = 100;
/// The widest window one query may span, in days (the SDK's bound).
pub const WINDOW_DAYS_MAX: i64 = 31;
/// The envelope keys a page's rows are read from, in the order they are tried.
pub const ENVELOPES: [&str; 4] = ["data", "items", "rows", "results"];

/// The state of a request in the account's history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RowStatus {
    Completed,
    Failed,
    Pending,
    /// A state this client does not know (treated as still open: never guessed).
    Other(String),
}

impl RowStatus {
    fn parse(s: &str) -> RowStatus {
        match s.trim().to_ascii_uppercase().as_str() {
            "COMPLETED" | "SUCCESS" | "SUCCEEDED" => RowStatus::Completed,
            "FAILED" | "ERROR" => RowStatus::Failed,
            "PENDING" | "QUEUED" | "PROCESSING" => RowStatus::Pending,
            other => RowStatus::Other(other.to_owned()),
        }
    }

    /// The name Segmind's filter takes.
    pub fn as_str(&self) -> &str {
        match self {
            RowStatus::Completed => "COMPLETED",
            RowStatus::Failed => "FAILED",
            RowStatus::Pending => "PENDING",
            RowStatus::Other(s) => s,
        }
    }
}

/// One row of the request history.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryRow {
    pub request_id: String,
    pub model_name: Option<String>,
    pub status: RowStatus,
    /// What the request cost (USD), as the account was charged.
    pub credits_deduction: Option<f64>,
    /// The inputs as sent (the image may be stored differently from how it was sent).
    pub request_body: Option<Value>,
    /// Where the output lives (fetched without the key).
    pub generation_url: Option<String>,
    pub latency_ms: Option<f64>,
    /// When the request was made, in milliseconds since the epoch, when a timestamp was readable.
    pub created_ms: Option<u64>,
    /// The server's message for a failed request.
    pub error: Option<String>,
}

/// A history query: one page of a window of at most [`WINDOW_DAYS_MAX`] days.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryQuery {
    pub page: u32,
    pub per_page: u32,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub model_name: Option<String>,
    pub status: Option<RowStatus>,
}

impl HistoryQuery {
    /// Page 1, [`PER_PAGE_MAX`] rows, this model, any status.
    pub fn model(from: NaiveDate, to: NaiveDate) -> HistoryQuery {
        HistoryQuery {
            page: 1,
            per_page: PER_PAGE_MAX,
            from,
            to,
            model_name: Some(crate::api::MODEL.to_owned()),
            status: None,
        }
    }
}

/// One page of the history, and whether another may follow.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryPage {
    pub rows: Vec<HistoryRow>,
    /// Rows that could not be read (no request id), counted rather than guessed.
    pub unreadable: usize,
    /// A full page: the next one may hold more.
    pub more: bool,
}

impl Client {
    /// The history service's base (`…/` ending): configured, the inference origin when that is
    /// loopback (the stand-in serves all three), else Segmind's.
    pub fn history_root(&self) -> &Url {
        &self.hosts.history
    }

    /// The storage service's base.
    pub fn storage_root(&self) -> &Url {
        &self.hosts.storage
    }

    /// One page of the account's request history.
    pub async fn history_page(
        &self,
        q: &HistoryQuery,
        cancel: &CancellationToken,
    ) -> Result<HistoryPage, ApiError> {
        let result: Result<HistoryPage, ApiError> = async {
            let span = (q.to - q.from).num_days();
            if !(0..WINDOW_DAYS_MAX).contains(&span) {
                return Err(ApiError::BadBaseUrl(format!(
                    "a history query spans {} to {}: at most {WINDOW_DAYS_MAX} days, from before to",
                    q.from, q.to
                )));
            }
            let mut url = self
                .hosts
                .history
                .join("inference-request/request-history")
                .map_err(|e| ApiError::BadBaseUrl(e.to_string()))?;
            {
                let mut pairs = url.query_pairs_mut();
                pairs
                    .append_pair("page", &q.page.max(1).to_string())
                    .append_pair("per_page", &q.per_page.clamp(1, PER_PAGE_MAX).to_string())
                    .append_pair("from_date", &q.from.format("%Y-%m-%d").to_string())
                    .append_pair("to_date", &q.to.format("%Y-%m-%d").to_string());
                if let Some(m) = &q.model_name {
                    pairs.append_pair("model_name", m);
                }
                if let Some(s) = &q.status {
                    pairs.append_pair("status", s.as_str());
                }
            }
            let body = self.history_get(&url, cancel).await?;
            let (rows, unreadable) = decode_page(&body)?;
            let more = rows.len() + unreadable >= q.per_page.clamp(1, PER_PAGE_MAX) as usize;
            Ok(HistoryPage {
                rows,
                unreadable,
                more,
            })
        }
        .await;
        result.map_err(|e| e.redacted(&self.key))
    }

    /// One request of any age, by its id: every row the history holds for it (one per output).
    pub async fn history_request(
        &self,
        request_id: &str,
        cancel: &CancellationToken,
    ) -> Result<Vec<HistoryRow>, ApiError> {
        let result: Result<Vec<HistoryRow>, ApiError> = async {
            let url = self
                .hosts
                .history
                .join(&format!(
                    "inference-request/request-history/{}",
                    safe_id(request_id)?
                ))
                .map_err(|e| ApiError::BadBaseUrl(e.to_string()))?;
            let body = self.history_get(&url, cancel).await?;
            decode_one(&body)
        }
        .await;
        result.map_err(|e| e.redacted(&self.key))
    }

    /// A keyed `GET` of the history service, tried once like the credits (a read that runs
    /// nothing: whoever asks says "check again later" rather than waiting out a poll's patience).
    async fn history_get(
        &self,
        url: &Url,
        cancel: &CancellationToken,
    ) -> Result<Vec<u8>, ApiError> {
        let http = self.getter()?;
        let (_, body, _) = RetryPolicy::for_request(&self.cfg, RequestKind::Credits)
            .run(cancel, &no_progress, |_| {
                self.json_call(http.get(url.clone()), url, cancel)
            })
            .await?;
        Ok(body)
    }

    /// Downloads a history row's output (without the key, like every output).
    pub async fn download_output(
        &self,
        url: &str,
        cancel: &CancellationToken,
    ) -> Result<crate::api::ReceivedImage, ApiError> {
        let limit = self.cfg.max_image_bytes.min(self.cfg.max_body_bytes);
        self.download(url, limit, cancel)
            .await
            .map_err(|e| e.redacted(&self.key))
    }
}

/// The rows of a page answer, from whichever envelope holds them (or a bare list); rows without a
/// request id are counted, not kept.
pub fn decode_page(body: &[u8]) -> Result<(Vec<HistoryRow>, usize), ApiError> {
    let v: Value = serde_json::from_slice(body).map_err(|e| DecodeError::BadJson(e.to_string()))?;
    let list = rows_of(&v).ok_or_else(|| {
        DecodeError::Unexpected(format!(
            "the request history answer has none of {}, nor is it a list: {}",
            ENVELOPES.join(", "),
            excerpt(&String::from_utf8_lossy(body))
        ))
    })?;
    Ok(read_rows(list))
}

/// The rows of a single-request answer: a row, a list of rows, or an envelope of them.
fn decode_one(body: &[u8]) -> Result<Vec<HistoryRow>, ApiError> {
    let v: Value = serde_json::from_slice(body).map_err(|e| DecodeError::BadJson(e.to_string()))?;
    let rows = match rows_of(&v) {
        Some(list) => read_rows(list).0,
        None => match v.get("data").filter(|d| d.is_object()).unwrap_or(&v) {
            one @ Value::Object(_) => row_of(one).into_iter().collect(),
            _ => Vec::new(),
        },
    };
    if rows.is_empty() {
        return Err(DecodeError::Unexpected(format!(
            "the request history has no readable row for this request: {}",
            excerpt(&String::from_utf8_lossy(body))
        ))
        .into());
    }
    Ok(rows)
}

/// The list of rows: a bare list, or under one of [`ENVELOPES`] (also one level down, as in
/// `{"data": {"items": […]}}`).
fn rows_of(v: &Value) -> Option<&Vec<Value>> {
    if let Value::Array(a) = v {
        return Some(a);
    }
    for key in ENVELOPES {
        match v.get(key) {
            Some(Value::Array(a)) => return Some(a),
            Some(inner @ Value::Object(_)) => {
                if let Some(a) = ENVELOPES
                    .iter()
                    .find_map(|k| inner.get(*k).and_then(Value::as_array))
                {
                    return Some(a);
                }
            }
            _ => {}
        }
    }
    None
}

fn read_rows(list: &[Value]) -> (Vec<HistoryRow>, usize) {
    let mut rows = Vec::with_capacity(list.len());
    let mut unreadable = 0;
    for v in list {
        match row_of(v) {
            Some(r) => rows.push(r),
            None => unreadable += 1,
        }
    }
    (rows, unreadable)
}

/// One row; `None` without a usable request id.
fn row_of(v: &Value) -> Option<HistoryRow> {
    let text = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
    let num = |k: &str| {
        v.get(k).and_then(|x| {
            x.as_f64()
                .or_else(|| x.as_str().and_then(|s| s.trim().parse().ok()))
                .filter(|f: &f64| f.is_finite())
        })
    };
    let request_id = text("request_id").or_else(|| text("id"))?;
    safe_id(&request_id).ok()?;
    let status = text("model_status")
        .or_else(|| text("status"))
        .map_or(RowStatus::Other(String::new()), |s| RowStatus::parse(&s));
    // The body may come as an object or as a JSON string of one.
    let request_body = match v.get("request_body") {
        Some(Value::String(s)) => serde_json::from_str(s).ok(),
        Some(b @ Value::Object(_)) => Some(b.clone()),
        _ => None,
    };
    let created_ms = ["created_at", "createdAt", "timestamp", "updated_at"]
        .iter()
        .find_map(|k| v.get(*k).and_then(time_ms));
    Some(HistoryRow {
        request_id,
        model_name: text("model_name"),
        status,
        credits_deduction: num("credits_deduction"),
        request_body,
        generation_url: text("generation_url").filter(|u| !u.trim().is_empty()),
        latency_ms: num("latency_ms"),
        created_ms,
        error: text("error").filter(|e| !e.is_empty()),
    })
}

/// A timestamp: RFC 3339 (with or without a zone, taken as UTC), or seconds or milliseconds since
/// the epoch.
fn time_ms(v: &Value) -> Option<u64> {
    if let Some(n) = v.as_f64() {
        // Seconds before 2100 are below 5e9; anything above is milliseconds.
        let ms = if n < 5e9 { n * 1000.0 } else { n };
        return (ms.is_finite() && ms >= 0.0).then_some(ms as u64);
    }
    let s = v.as_str()?.trim();
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return u64::try_from(t.timestamp_millis()).ok();
    }
    let t = s.trim_end_matches('Z').replacen(' ', "T", 1);
    chrono::NaiveDateTime::parse_from_str(&t, "%Y-%m-%dT%H:%M:%S%.f")
        .ok()
        .and_then(|t| u64::try_from(t.and_utc().timestamp_millis()).ok())
}

/// One row per request: a request with several outputs appears once per output, each row with the
/// whole cost. The first row of each id is kept, in order.
pub fn dedupe(rows: Vec<HistoryRow>) -> Vec<HistoryRow> {
    let mut seen = std::collections::HashSet::new();
    rows.into_iter()
        .filter(|r| seen.insert(r.request_id.clone()))
        .collect()
}

/// Every output URL a request's rows name, in order, once each.
pub fn outputs_of(rows: &[HistoryRow], request_id: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for r in rows.iter().filter(|r| r.request_id == request_id) {
        if let Some(u) = &r.generation_url
            && !out.contains(u)
        {
            out.push(u.clone());
        }
    }
    out
}

/// The UTC day of a time in milliseconds since the epoch (the history's `from_date`/`to_date` are
/// days).
pub fn utc_day(ms: u64) -> NaiveDate {
    chrono::DateTime::<chrono::Utc>::from_timestamp_millis(i64::try_from(ms).unwrap_or(i64::MAX))
        .unwrap_or_default()
        .date_naive()
}

/// Whether a row's `request_body` is a request of these settings: every field the row names equals
/// ours (numbers to a thousandth; a seed of `-1` sent matches any seed), the image aside (it may be
/// stored differently from how it was sent). A field the row leaves out is not held against it.
pub fn body_matches(body: &Value, params: &crate::api::GenParams) -> bool {
    let Ok(ours) = serde_json::to_value(params) else {
        return false;
    };
    let (Some(theirs), Some(ours)) = (body.as_object(), ours.as_object()) else {
        return false;
    };
    if theirs.get("prompt").is_none() {
        // A body without even its prompt says nothing.
        return false;
    }
    ours.iter().all(|(k, mine)| match theirs.get(k) {
        None | Some(Value::Null) => true,
        Some(t) if k == "seed" && mine.as_i64() == Some(crate::api::params::RANDOM_SEED) => {
            t.is_number()
        }
        Some(t) => match (t.as_f64(), mine.as_f64()) {
            (Some(a), Some(b)) => (a - b).abs() < 1e-3,
            _ => t == mine,
        },
    })
}

/// The settings a row's `request_body` names (the contract's defaults for what it leaves out);
/// `None` when they do not pass validation (a hostile or foreign body).
pub fn params_of(body: &Value) -> Option<crate::api::GenParams> {
    let mut b = body.as_object()?.clone();
    b.remove("image");
    let p: crate::api::GenParams = serde_json::from_value(Value::Object(b)).ok()?;
    p.clone().validate_into().ok().map(|_| p)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: &str) -> Value {
        serde_json::json!({
            "request_id": id, "model_name": "flux-controlnet", "model_status": "COMPLETED",
            "credits_deduction": 0.048, "request_body": {"prompt": "a cat", "seed": 7},
            "generation_url": format!("https://cdn.example/{id}.jpg"), "latency_ms": 4900,
            "created_at": "2026-12-05T10:00:00Z"
        })
    }

    #[test]
    fn every_envelope_is_read() {
        let rows = serde_json::json!([row("a"), row("b")]);
        for body in [
            serde_json::json!({"data": rows}),
            serde_json::json!({"items": rows}),
            serde_json::json!({"rows": rows, "total": 2}),
            serde_json::json!({"results": rows}),
            serde_json::json!({"data": {"items": rows}}),
            rows.clone(),
        ] {
            let (got, bad) = decode_page(body.to_string().as_bytes()).unwrap();
            assert_eq!((got.len(), bad), (2, 0), "{body}");
            assert_eq!(got[0].request_id, "a");
            assert_eq!(got[0].status, RowStatus::Completed);
            assert_eq!(got[0].credits_deduction, Some(0.048));
            assert_eq!(got[0].created_ms, Some(1_796_464_800_000));
            assert_eq!(got[0].request_body.as_ref().unwrap()["seed"], 7);
        }
        let e = decode_page(br#"{"records": []}"#).unwrap_err().to_string();
        assert!(e.contains("none of data, items, rows, results"), "{e}");
        assert!(decode_page(b"<html>").is_err());
    }

    #[test]
    fn odd_rows_are_counted_not_guessed() {
        let body = serde_json::json!({"data": [
            row("ok"),
            {"model_status": "COMPLETED"},
            {"request_id": "../etc", "model_status": "FAILED"},
            {"request_id": "s", "status": "failed", "request_body": "{\"prompt\":\"x\"}",
             "error": "out of memory", "created_at": 1796464800},
        ]});
        let (rows, bad) = decode_page(body.to_string().as_bytes()).unwrap();
        assert_eq!(bad, 2);
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[1].status, RowStatus::Failed);
        assert_eq!(rows[1].request_body.as_ref().unwrap()["prompt"], "x");
        assert_eq!(rows[1].created_ms, Some(1_796_464_800_000));
        assert_eq!(rows[1].error.as_deref(), Some("out of memory"));
    }

    #[test]
    fn bodies_match_on_every_field_but_the_image() {
        let p = crate::api::GenParams {
            prompt: "a cat".into(),
            seed: 7,
            ..Default::default()
        };
        let mut body = serde_json::to_value(&p).unwrap();
        body["image"] = "https://assets.example/x.png".into();
        assert!(body_matches(&body, &p));
        assert_eq!(params_of(&body), Some(p.clone()));
        let mut other = body.clone();
        other["seed"] = 8.into();
        assert!(!body_matches(&other, &p), "another seed is another request");
        let mut other = body.clone();
        other["prompt"] = "a dog".into();
        assert!(!body_matches(&other, &p));
        let random = crate::api::GenParams {
            seed: crate::api::params::RANDOM_SEED,
            ..p.clone()
        };
        assert!(body_matches(&body, &random), "a random seed matches any");
        assert!(!body_matches(&serde_json::json!({"seed": 7}), &p));
        let mut hostile = body.clone();
        hostile["steps"] = 10_000.into();
        assert_eq!(params_of(&hostile), None);
    }

    #[test]
    fn one_request_and_dedupe() {
        let one = decode_one(row("a").to_string().as_bytes()).unwrap();
        assert_eq!(one.len(), 1);
        let wrapped = serde_json::json!({"data": row("a")});
        assert_eq!(decode_one(wrapped.to_string().as_bytes()).unwrap(), one);
        let mut second = row("a");
        second["generation_url"] = "https://cdn.example/a-2.jpg".into();
        let two = serde_json::json!({"data": [row("a"), second, row("b")]});
        let rows = decode_one(two.to_string().as_bytes()).unwrap();
        assert_eq!(outputs_of(&rows, "a").len(), 2);
        let d = dedupe(rows);
        assert_eq!(d.len(), 2, "one row per request before summing");
        let sum: f64 = d.iter().filter_map(|r| r.credits_deduction).sum();
        assert!((sum - 0.096).abs() < 1e-9);
        assert!(decode_one(b"{}").is_err());
    }
}
